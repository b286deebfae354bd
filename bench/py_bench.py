#!/usr/bin/env python3
"""Python benchmarks: one process sends bytes objects to another.

    py_bench.py --list
    py_bench.py --transport NAME [--test pythr|pyrtt] [--size BYTES] [--duration S]
                [--cpus 0,1|none]

Two processes made with os.fork() and pinned to different CPUs.

pythr, throughput of one producer to one consumer: the producer writes
every payload byte of every message (a fresh bytearray: an 8-byte sequence
number, then one byte value derived from it); the consumer reads every
byte back (the header, and the rest compared with the pattern: a memcmp,
so that checking does not bound large messages) and fails the run on a
lost, reordered or corrupt message.

pyrtt, round trips: one process writes a message the same way and sends
it, the other sends back what it received, the first checks every byte of
what came back; rtt_ns is the mean round trip over the measured window.

py-ceiling is not a transport: the same producer and consumer loops
around one that does nothing (a C call of the same shape for each send and
receive), each loop alone on one processor: the interpreter's own bound.

A transport with a batch size (py-dipc-batch) runs the same loops with the
calls grouped: the producer makes BATCH messages exactly as above (each
written byte by byte) and hands them over in one call, the consumer checks
every message of what one call returns exactly as above.  py-ceiling also
measures those loops around a transport that does nothing (batch_per_s):
the bound for batches.

Prints one line "RESULT transport=... test=..." like the C programs; exits
77 when the transport's package is not installed.
"""

import argparse
import ctypes
import mmap
import os
import struct
import sys
import time

SKIP = 77
END = (1 << 63)
HDR = struct.Struct("<Q")


def pat_byte(seq):
    return (seq * 0x9D + 1) & 0xFF


class Transport:
    """Made in the parent before fork; tx() / rx() run in the children."""

    name = "?"
    about = ""
    batch = 0   # > 0: send_many() and recv_many() instead of send() and recv()

    def __init__(self, size, tag=""):
        self.size = size
        # Names of segments, services and sockets: this run's, and the
        # direction's (a round trip uses two transports).
        self.uid = "%d%s" % (os.getpid(), tag)
        self.num = 2 if tag == "b" else 1

    def open_tx(self):
        pass

    def open_rx(self):
        pass

    def ready(self):
        """Called by the sender once the receiving end is open."""

    def send(self, buf):
        raise NotImplementedError

    def recv(self):
        raise NotImplementedError

    def close(self):
        pass


# ---- libdragonipc -----------------------------------------------------------------

def _capacity(size):
    return max(4, min(64, (4 << 20) // size))


class DipcChannel(Transport):
    name = "py-dipc-channel"
    about = "dragonipc.channels Channel, send_bytes / recv_bytes"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        from dragonipc.managed_memory import MemoryPool
        from dragonipc.channels import Channel
        # Blocks of at least 256 bytes, as Dragon (and so dragonipc) asks.
        block = max(256, size) if size <= 65536 else 1024
        cap = _capacity(size)
        need = (cap + 8) * (size + 128) * (2 if size > block else 1) + cap * (block + 64) + (4 << 20)
        self.pool = MemoryPool(need, "pybench-%s" % self.uid, self.num)
        try:
            self.ch = Channel(self.pool, self.num, block_size=block, capacity=cap)
        except Exception:
            self.pool.destroy()
            raise
        self.ser = self.ch.serialize()

    def _attach(self):
        from dragonipc.channels import Channel
        return Channel.attach(self.ser)

    def open_tx(self):
        self.c = self._attach()
        self.h = self.c.sendh()
        self.h.open()

    def open_rx(self):
        self.c = self._attach()
        self.h = self.c.recvh()
        self.h.open()

    def send(self, buf):
        self.h.send_bytes(buf)

    def recv(self):
        return self.h.recv_bytes()

    def close(self):
        self.h.close()

    def teardown(self):
        self.ch.destroy()
        self.pool.destroy()


def batch_for(size):
    """Messages a call for a batch transport: 64, fewer for large messages
    (at most 256 KiB a call), so that a batch stays in the caches as a
    program sizing its batches would keep it."""
    return max(1, min(64, (256 << 10) // size))


class DipcBatch(DipcChannel):
    name = "py-dipc-batch"
    about = ("dragonipc.channels Channel, send_bytes_many / recv_bytes_many, 64 messages "
             "(at most 256 KiB) a call (throughput only)")

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        self.batch = batch_for(size)

    def send_many(self, bufs):
        self.h.send_bytes_many(bufs)

    def recv_many(self):
        return self.h.recv_bytes_many(self.batch)


class DipcInto(DipcChannel):
    name = "py-dipc-into"
    about = ("dragonipc.channels Channel, send_bytes / recv_bytes_into one bytearray of the "
             "message size, the consumer checking it in place")

    def open_rx(self):
        super().open_rx()
        self.buf = bytearray(self.size)

    def recv(self):
        n = self.h.recv_bytes_into(self.buf)
        return self.buf if n == self.size else bytes(self.buf[:n])


class DipcMessage(DipcChannel):
    name = "py-dipc-msg"
    about = ("dragonipc.channels Channel, Message path: the payload copied into a pool "
             "allocation sent by transfer of ownership; the receiver copies it into bytes")

    def open_tx(self):
        super().open_tx()
        from dragonipc.channels import Message, transfer_ownership_on_send
        self.Message = Message
        self.xfer = transfer_ownership_on_send
        self.mpool = self.c.get_pool()

    def send(self, buf):
        m = self.Message.create_alloc(self.mpool, len(buf))
        m.bytes_memview()[:] = buf
        self.h.send(m, ownership=self.xfer)

    def recv(self):
        m = self.h.recv()
        d = m.tobytes()
        m.destroy()
        return d


class DipcSmipc(Transport):
    name = "py-dipc-smipc"
    about = "dragonipc.smipc byte stream, write / read (length-framed)"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        from dragonipc import smipc  # noqa: F401  (skip if missing)
        self.cid = ("pybench-%s" % self.uid).encode()
        self.ring = max(64 << 10, min(4 << 20, 64 * (size + 8)))

    def open_tx(self):
        from dragonipc import smipc
        self.c = smipc.open_channel(self.cid, smipc.CHAN_W, self.ring)
        self.c.__enter__()

    def open_rx(self):
        from dragonipc import smipc
        self.c = smipc.open_channel(self.cid, smipc.CHAN_R, self.ring)
        self.c.__enter__()
        self.hbuf = ctypes.create_string_buffer(8)
        self.buf = ctypes.create_string_buffer(self.size)

    def send(self, buf):
        self.c.write(HDR.pack(len(buf)) + bytes(buf))

    def recv(self):
        self.c.read(self.hbuf, 8, blocking=True)
        n = HDR.unpack(self.hbuf.raw)[0]
        self.c.read(self.buf, n, blocking=True)
        return ctypes.string_at(self.buf, n)

    def close(self):
        self.c.__exit__(None, None, None)


# ---- Python's own ------------------------------------------------------------------

class MpQueue(Transport):
    name = "py-mp-queue"
    about = "multiprocessing.Queue put / get"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        import multiprocessing as mp
        self.q = mp.get_context("fork").Queue(_capacity(size))

    def send(self, buf):
        self.q.put(bytes(buf))

    def recv(self):
        return self.q.get()

    def close(self):
        # Let the feeder thread deliver everything before the process ends.
        self.q.close()
        self.q.join_thread()


class MpPipe(Transport):
    name = "py-mp-pipe"
    about = "multiprocessing.Pipe send_bytes / recv_bytes"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        import multiprocessing as mp
        self.r, self.w = mp.get_context("fork").Pipe(duplex=False)

    def send(self, buf):
        self.w.send_bytes(buf)

    def recv(self):
        return self.r.recv_bytes()


# ---- peers from PyPI ---------------------------------------------------------------

class FasterFifo(Transport):
    name = "py-faster-fifo"
    about = "faster_fifo.Queue put / get"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        import faster_fifo
        # The ring must hold messages in flight (each pickled, plus framing).
        self.q = faster_fifo.Queue(max_size_bytes=max(1 << 20, _capacity(size) * (size + 256)))

    def send(self, buf):
        self.q.put(bytes(buf), timeout=1e9)

    def recv(self):
        return self.q.get(timeout=1e9)


class PyZmq(Transport):
    name = "py-zmq"
    about = "pyzmq PUSH/PULL over ipc://"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        import zmq  # noqa: F401
        self.addr = "ipc://%s/pybench-%s.zmq" % (os.environ.get("TMPDIR", "/tmp"), self.uid)
        self.copy = size < 65536   # pyzmq's advice: zero-copy pays off for large messages

    def open_rx(self):
        import zmq
        self.ctx = zmq.Context()
        self.s = self.ctx.socket(zmq.PULL)
        self.s.bind(self.addr)

    def open_tx(self):
        import zmq
        self.ctx = zmq.Context()
        self.s = self.ctx.socket(zmq.PUSH)
        self.s.connect(self.addr)

    def send(self, buf):
        self.s.send(buf, copy=self.copy)

    def recv(self):
        m = self.s.recv(copy=self.copy)
        return m if self.copy else m.buffer

    def close(self):
        # The sender's last messages must get out before the process ends.
        self.s.close(linger=5000)
        self.ctx.term()

    def teardown(self):
        try:
            os.unlink(self.addr[len("ipc://"):])
        except OSError:
            pass


class DragonChannel(Transport):
    name = "py-dragon-channel"
    about = "Dragon's dragon.channels (dragonhpc), send_bytes / recv_bytes, no launcher"

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        from dragon.managed_memory import MemoryPool
        from dragon.channels import Channel
        # Dragon refuses blocks under 256 bytes.
        block = max(256, size) if size <= 65536 else 1024
        cap = _capacity(size)
        need = (cap + 8) * (size + 128) * (2 if size > block else 1) + cap * (block + 64) + (8 << 20)
        self.pool = MemoryPool(max(need, 1 << 26), "pybench-dragon-%s" % self.uid, self.num)
        try:
            self.ch = Channel(self.pool, self.num, block_size=block, capacity=cap)
        except Exception:
            self.pool.destroy()
            raise
        self.ser = self.ch.serialize()

    def _attach(self):
        from dragon.channels import Channel
        return Channel.attach(self.ser)

    def open_tx(self):
        self.c = self._attach()
        self.h = self.c.sendh()
        self.h.open()

    def open_rx(self):
        self.c = self._attach()
        self.h = self.c.recvh()
        self.h.open()

    def send(self, buf):
        self.h.send_bytes(bytes(buf))

    def recv(self):
        return self.h.recv_bytes()

    def close(self):
        self.h.close()

    def teardown(self):
        self.ch.destroy()
        self.pool.destroy()


class Iceoryx2(Transport):
    name = "py-iceoryx2"
    about = ("iceoryx2 (PyPI iceoryx2) publish/subscribe of u8 slices: a loaned sample filled "
             "with ctypes.memmove, received into bytes with ctypes.string_at")

    def __init__(self, size, tag=""):
        super().__init__(size, tag)
        import iceoryx2
        iceoryx2.set_log_level(iceoryx2.LogLevel.Error)   # not its notes on defaults
        self.cap = _capacity(size)

    def _service(self, suffix, depth, overflow=False):
        import ctypes
        import iceoryx2 as iox2
        self.iox2 = iox2
        if not hasattr(self, "node"):
            self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        return (self.node.service_builder(iox2.ServiceName.new("pybench-%s%s" % (self.uid, suffix)))
                .publish_subscribe(iox2.Slice[ctypes.c_uint8])
                .enable_safe_overflow(overflow)
                .subscriber_max_buffer_size(depth)
                .history_size(0)
                .max_publishers(1)
                .max_subscribers(1)
                .open_or_create())

    def _publisher(self, svc, maxlen, strategy="RetryUntilDelivered"):
        return (svc.publisher_builder().initial_max_slice_len(maxlen)
                .backpressure_strategy(getattr(self.iox2.BackpressureStrategy, strategy))
                .create())

    # Flow control is ours: the receiver reports how many messages it took
    # (a running count, on a second service whose queue overwrites its
    # oldest report: only the last one counts), and the sender keeps at
    # most the queue's depth in flight, so the queue never fills.  Relying on
    # the publisher's RetryUntilDelivered instead lost a stretch of
    # messages (hundreds to thousands) in 12 of 40 short runs of this
    # script with iceoryx2 0.10, when the queue was full; never this way.
    def open_rx(self):
        import ctypes
        self.string_at = ctypes.string_at
        self.memmove = ctypes.memmove
        self.sub = self._service("", self.cap).subscriber_builder().buffer_size(self.cap).create()
        self.acks = self._publisher(self._service("-ack", 4, True), 8, "DiscardData")
        self.taken = self.told = self.idle = 0

    def _tell(self):
        s = self.acks.loan_slice_uninit(8)
        self.memmove(s.payload_ptr, HDR.pack(self.taken), 8)
        s.assume_init().send()
        self.told = self.taken

    def open_tx(self):
        import ctypes
        self.memmove = ctypes.memmove
        self.string_at = ctypes.string_at
        self.char = ctypes.c_char
        self.arr = ctypes.c_char * self.size   # made once: making the type costs microseconds
        self.svc = self._service("", self.cap)
        self.pub = self._publisher(self.svc, self.size)
        self.ack_sub = self._service("-ack", 4, True).subscriber_builder().buffer_size(4).create()
        self.sent = self.acked = 0

    def ready(self):
        # Samples sent before the subscriber exists are not kept for it.
        deadline = time.monotonic() + 30
        while self.svc.dynamic_config.number_of_subscribers < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("iceoryx2: no subscriber connected")
            time.sleep(0.001)
        self.pub.update_connections()

    def send(self, buf):
        while self.sent - self.acked >= self.cap:
            s = self.ack_sub.receive()
            if s is not None:
                self.acked = max(self.acked, HDR.unpack(self.string_at(s.payload_ptr, 8))[0])
                s.delete()
        n = len(buf)
        s = self.pub.loan_slice_uninit(n)
        if isinstance(buf, bytearray):   # ctypes takes bytes, not bytearray, as a pointer
            buf = (self.arr if n == self.size else self.char * n).from_buffer(buf)
        self.memmove(s.payload_ptr, buf, n)
        s.assume_init().send()
        self.sent += 1

    def recv(self):
        sub = self.sub
        while True:
            s = sub.receive()
            if s is not None:
                d = self.string_at(s.payload_ptr, s.header.number_of_elements)
                s.delete()
                self.taken += 1
                if self.taken - self.told >= self.cap // 2:
                    self._tell()
                return d
            # Nothing there: say again how far we are (a report may have
            # gone before the sender listened).
            self.idle += 1
            if self.idle & 1023 == 0:
                self._tell()

    def close(self):
        for k in ("pub", "sub", "acks", "ack_sub"):
            if hasattr(self, k):
                getattr(self, k).delete()


TRANSPORTS = [DipcChannel, DipcBatch, DipcInto, DipcMessage, DipcSmipc, MpQueue, MpPipe, FasterFifo, PyZmq, DragonChannel,
              Iceoryx2]


# ---- the measurement ------------------------------------------------------------------

def pin(cpu):
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass


def producer(t, size, ctl, pats):
    t.open_tx()
    ctl[8] = 1
    # Start once the consumer's end is open (ctl[9]): a publish/subscribe
    # transport drops what is sent before its subscriber is connected.
    deadline = time.monotonic() + 60
    while ctl[9] == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    t.ready()
    seq = 0
    while ctl[0] == 0:
        b = bytearray(pats[pat_byte(seq)])   # writes every byte
        HDR.pack_into(b, 0, seq)
        t.send(b)
        seq += 1
    b = bytearray(pats[0])
    HDR.pack_into(b, 0, END)
    t.send(b)
    # Close only once the consumer has everything: some transports drop
    # or stall what is in flight when the sending end goes away.
    deadline = time.monotonic() + 60
    while ctl[1] == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    t.close()


def consumer(t, size, ctl, duration, warmup, pats):
    tails = [memoryview(p)[8:] for p in pats]
    expect = 0
    count = 0
    start = time.perf_counter()
    t0 = n0 = None
    res = None
    while True:
        d = t.recv()
        if len(d) != size:
            raise SystemExit("received %d bytes, expected %d" % (len(d), size))
        seq = HDR.unpack_from(d, 0)[0]
        if seq == END:
            ctl[1] = 1
            break
        if seq != expect:
            raise SystemExit("got message %d, expected %d" % (seq, expect))
        # Read every other byte: compare the rest with the pattern (a
        # memcmp, so that the check does not bound large messages).
        if not isinstance(d, (bytes, bytearray)):
            d = bytes(d)
        if not d.endswith(tails[pat_byte(seq)]):
            raise SystemExit("message %d is corrupt" % seq)
        expect += 1
        count += 1
        if res is not None or count & 63:
            continue
        now = time.perf_counter()
        if t0 is None and now - start >= warmup:
            t0, n0 = now, count
        elif t0 is not None and now - t0 >= duration:
            res = (count - n0, now - t0)
            ctl[0] = 1
    t.close()
    return res


def producer_batch(t, size, ctl, pats):
    """producer() with the sends grouped t.batch at a time."""
    t.open_tx()
    ctl[8] = 1
    deadline = time.monotonic() + 60
    while ctl[9] == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    t.ready()
    seq = 0
    k = t.batch
    while ctl[0] == 0:
        msgs = []
        for _ in range(k):
            b = bytearray(pats[pat_byte(seq)])   # writes every byte
            HDR.pack_into(b, 0, seq)
            msgs.append(b)
            seq += 1
        t.send_many(msgs)
    b = bytearray(pats[0])
    HDR.pack_into(b, 0, END)
    t.send_many([b])
    deadline = time.monotonic() + 60
    while ctl[1] == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    t.close()


def consumer_batch(t, size, ctl, duration, warmup, pats):
    """consumer() over what each t.recv_many() returns (the clock read
    after a call once 64 more messages have come, as consumer() reads it
    every 64 messages)."""
    tails = [memoryview(p)[8:] for p in pats]
    expect = 0
    start = time.perf_counter()
    t0 = n0 = None
    res = None
    ended = False
    seen = 0
    while not ended:
        for d in t.recv_many():
            if len(d) != size:
                raise SystemExit("received %d bytes, expected %d" % (len(d), size))
            seq = HDR.unpack_from(d, 0)[0]
            if seq == END:
                ended = True
                break
            if seq != expect:
                raise SystemExit("got message %d, expected %d" % (seq, expect))
            if not isinstance(d, (bytes, bytearray)):
                d = bytes(d)
            if not d.endswith(tails[pat_byte(seq)]):
                raise SystemExit("message %d is corrupt" % seq)
            expect += 1
        if res is not None or expect - seen < 64:
            continue
        seen = expect
        now = time.perf_counter()
        if t0 is None and now - start >= warmup:
            t0, n0 = now, expect
        elif t0 is not None and now - t0 >= duration:
            res = (expect - n0, now - t0)
            ctl[0] = 1
    ctl[1] = 1
    t.close()
    return res


def echo(ta, tb):
    """The far end of a round trip: every message straight back."""
    ta.open_rx()
    tb.open_tx()
    tb.ready()
    while True:
        d = ta.recv()
        tb.send(d)
        if len(d) >= 8 and HDR.unpack_from(d, 0)[0] == END:
            break
    tb.close()
    ta.close()


def pinger(ta, tb, size, duration, warmup, pats):
    """Round trips: write a message, send it, wait for it to come back,
    check every byte.  Returns (round trips, seconds) of the window."""
    tails = [memoryview(p)[8:] for p in pats]
    ta.open_tx()
    tb.open_rx()
    ta.ready()
    seq = 0
    start = time.perf_counter()
    t0 = n0 = None
    res = None
    while res is None:
        b = bytearray(pats[pat_byte(seq)])
        HDR.pack_into(b, 0, seq)
        ta.send(b)
        d = tb.recv()
        if len(d) != size or HDR.unpack_from(d, 0)[0] != seq:
            raise SystemExit("round trip %d came back wrong" % seq)
        if not isinstance(d, (bytes, bytearray)):
            d = bytes(d)
        if not d.endswith(tails[pat_byte(seq)]):
            raise SystemExit("round trip %d came back corrupt" % seq)
        seq += 1
        if seq & 15:
            continue
        now = time.perf_counter()
        if t0 is None and now - start >= warmup:
            t0, n0 = now, seq
        elif t0 is not None and now - t0 >= duration:
            res = (seq - n0, now - t0)
    b = bytearray(pats[0])
    HDR.pack_into(b, 0, END)
    ta.send(b)
    tb.recv()
    ta.close()
    tb.close()
    return res


class Null(Transport):
    """No transport: what the benchmark loops cost by themselves.  send()
    and recv() are Python methods calling one C function each, as the
    real transports' are (send_bytes with the buffer, recv_bytes with no
    argument): send hands the buffer to len(), recv takes the next of
    ready-made messages."""

    name = "py-ceiling"
    about = ("this script's own loops around a transport that does nothing (C calls of the "
             "same shape): the bound on every transport")

    def __init__(self, size, msgs):
        super().__init__(size)
        import itertools
        self.sink = len
        self.next = itertools.cycle(msgs).__next__
        self.batch = batch_for(size)
        groups = [msgs[i:i + self.batch] for i in range(0, len(msgs), self.batch)]
        self.batch_next = itertools.cycle(groups).__next__

    def send(self, buf):
        self.sink(buf)

    def recv(self):
        return self.next()

    def send_many(self, bufs):
        self.sink(bufs)

    def recv_many(self):
        return self.batch_next()


def ceiling(size, duration, pats):
    """Messages/s of the producer's loop and of the consumer's loop around
    the Null transport, each run alone on one processor; the slower of the
    two bounds every transport's throughput."""
    msgs = []
    for seq in range(256):
        b = bytearray(pats[pat_byte(seq)])
        HDR.pack_into(b, 0, seq)
        msgs.append(bytes(b))
    t = Null(size, msgs)
    # Producer: producer()'s loop, stopped by the clock.
    t0 = time.perf_counter()
    end = t0 + duration / 2
    seq = 0
    send = t.send
    while True:
        for _ in range(64):
            b = bytearray(pats[pat_byte(seq)])
            HDR.pack_into(b, 0, seq)
            send(b)
            seq += 1
        if time.perf_counter() >= end:
            break
    prod = seq / (time.perf_counter() - t0)
    # Consumer: consumer()'s loop over ready-made messages.
    tails = [memoryview(p)[8:] for p in pats]
    expect, t0 = 0, time.perf_counter()
    end = t0 + duration / 2
    while True:
        for _ in range(64):
            d = t.recv()
            if len(d) != size:
                raise SystemExit("size")
            seq = HDR.unpack_from(d, 0)[0]
            if seq != expect & 255:
                raise SystemExit("seq")
            if not isinstance(d, (bytes, bytearray)):
                d = bytes(d)
            if not d.endswith(tails[pat_byte(seq)]):
                raise SystemExit("corrupt")
            expect += 1
        if time.perf_counter() >= end:
            break
    cons = expect / (time.perf_counter() - t0)
    # The same two loops with the calls grouped (producer_batch(),
    # consumer_batch()): the bound for a batch transport.
    t0 = time.perf_counter()
    end = t0 + duration / 2
    seq = 0
    k = t.batch
    send_many = t.send_many
    while True:
        msgs = []
        for _ in range(k):
            b = bytearray(pats[pat_byte(seq)])
            HDR.pack_into(b, 0, seq)
            msgs.append(b)
            seq += 1
        send_many(msgs)
        if time.perf_counter() >= end:
            break
    bprod = seq / (time.perf_counter() - t0)
    expect, t0 = 0, time.perf_counter()
    end = t0 + duration / 2
    while True:
        for d in t.recv_many():
            if len(d) != size:
                raise SystemExit("size")
            seq = HDR.unpack_from(d, 0)[0]
            if seq != expect & 255:
                raise SystemExit("seq")
            if not isinstance(d, (bytes, bytearray)):
                d = bytes(d)
            if not d.endswith(tails[pat_byte(seq)]):
                raise SystemExit("corrupt")
            expect += 1
        if time.perf_counter() >= end:
            break
    bcons = expect / (time.perf_counter() - t0)
    return min(prod, cons), prod, cons, min(bprod, bcons), bprod, bcons


def pick_cpus(spec):
    if spec == "auto":
        avail = sorted(os.sched_getaffinity(0))
        return avail[:2] if len(avail) >= 2 else [None, None]
    if spec == "none":
        return [None, None]
    return [int(c) for c in spec.split(",")][:2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--transport")
    ap.add_argument("--test", choices=("pythr", "pyrtt"), default="pythr",
                    help="pythr: throughput one way; pyrtt: round trips")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=None)
    ap.add_argument("--cpus", default="auto")
    a = ap.parse_args()
    if a.list:
        for T in TRANSPORTS:
            print("%-18s %s" % (T.name, T.about))
        print("%-18s %s" % (Null.name, Null.about))
        return 0
    if a.size < 8:
        ap.error("size below 8")
    pats = [bytes([v]) * a.size for v in range(256)]
    if a.transport == Null.name:
        if a.test != "pythr":
            ap.error("py-ceiling is a throughput bound")
        mps, prod, cons, bmps, bprod, bcons = ceiling(a.size, a.duration, pats)
        print("RESULT transport=py-ceiling test=pythr wait=default size=%d nprod=1 iters=0 "
              "seconds=%.4f lat_ns=0.0 msgs_per_s=%.1f bytes_per_s=%.1f prod_per_s=%.1f "
              "cons_per_s=%.1f batch_per_s=%.1f batch_prod_per_s=%.1f batch_cons_per_s=%.1f "
              "cpus=free" % (a.size, a.duration, mps, mps * a.size, prod, cons, bmps, bprod, bcons))
        return 0
    T = next((T for T in TRANSPORTS if T.name == a.transport), None)
    if T is None:
        ap.error("unknown transport")
    if T is DipcBatch and a.test != "pythr":
        print("bench: %s: batches are measured for throughput only" % T.name, file=sys.stderr)
        return SKIP
    warmup = a.warmup if a.warmup is not None else min(0.2, a.duration / 5)
    try:
        if a.test == "pythr":
            ts = [T(a.size)]
        else:
            ts = [T(a.size, "a")]
            ts.append(T(a.size, "b"))
    except ImportError as e:
        for t in locals().get("ts", []):
            if hasattr(t, "teardown"):
                t.teardown()
        print("bench: %s: %s" % (T.name, e), file=sys.stderr)
        return SKIP
    cpus = pick_cpus(a.cpus)
    ctl = mmap.mmap(-1, 4096)   # shared with the child after fork
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            pin(cpus[1])
            if a.test == "pythr":
                (producer_batch if ts[0].batch else producer)(ts[0], a.size, ctl, pats)
            else:
                echo(ts[0], ts[1])
        except BaseException as e:  # report, never fall back into the parent's code
            print("bench: %s: %r" % ("producer" if a.test == "pythr" else "echo", e), file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    pin(cpus[0])
    ok = False
    res = None
    try:
        if a.test == "pythr":
            ts[0].open_rx()
            ctl[9] = 1
            res = (consumer_batch if ts[0].batch else consumer)(ts[0], a.size, ctl, a.duration,
                                                               warmup, pats)
        else:
            res = pinger(ts[0], ts[1], a.size, a.duration, warmup, pats)
        ok = True
    finally:
        if not ok:
            os.kill(pid, 9)
        _, st = os.waitpid(pid, 0)
        for t in ts:
            if hasattr(t, "teardown"):
                t.teardown()
    if st != 0 or res is None:
        print("bench: the other process failed", file=sys.stderr)
        return 1
    n, secs = res
    mps = n / secs
    pinned = "pinned" if cpus[0] is not None else "free"
    if a.test == "pythr":
        print("RESULT transport=%s test=pythr wait=default size=%d nprod=1 iters=%d seconds=%.4f "
              "lat_ns=0.0 msgs_per_s=%.1f bytes_per_s=%.1f cpus=%s"
              % (T.name, a.size, n, secs, mps, mps * a.size, pinned))
    else:
        rtt = secs / n * 1e9
        print("RESULT transport=%s test=pyrtt wait=default size=%d nprod=1 iters=%d seconds=%.4f "
              "lat_ns=%.1f rtt_ns=%.1f msgs_per_s=%.1f bytes_per_s=%.1f cpus=%s"
              % (T.name, a.size, n, secs, rtt / 2, rtt, mps, mps * a.size, pinned))
    return 0


if __name__ == "__main__":
    sys.exit(main())

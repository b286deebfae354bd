#!/usr/bin/env python3
"""Python benchmarks: one process sends bytes objects to another.

    py_bench.py --list
    py_bench.py --transport NAME [--size BYTES] [--duration S] [--cpus 0,1|none]

Throughput of one producer to one consumer, two processes made with
os.fork() and pinned to different CPUs.  The producer writes every payload
byte of every message (a fresh bytearray: an 8-byte sequence number, then
one byte value derived from it); the consumer reads every byte back (the
header and a count of the pattern byte over the rest) and fails the run on
a lost, reordered or corrupt message.  Prints one line
"RESULT transport=... test=pythr ..." like the C programs; exits 77 when
the transport's package is not installed.
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

    def __init__(self, size):
        self.size = size

    def open_tx(self):
        pass

    def open_rx(self):
        pass

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

    def __init__(self, size):
        super().__init__(size)
        from dragonipc.managed_memory import MemoryPool
        from dragonipc.channels import Channel
        # Blocks of at least 256 bytes, as Dragon (and so dragonipc) asks.
        block = max(256, size) if size <= 65536 else 1024
        cap = _capacity(size)
        need = (cap + 8) * (size + 128) * (2 if size > block else 1) + cap * (block + 64) + (4 << 20)
        self.pool = MemoryPool(need, "pybench-%d" % os.getpid(), 1)
        try:
            self.ch = Channel(self.pool, 1, block_size=block, capacity=cap)
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


class DipcSmipc(Transport):
    name = "py-dipc-smipc"
    about = "dragonipc.smipc byte stream, write / read (length-framed)"

    def __init__(self, size):
        super().__init__(size)
        from dragonipc import smipc  # noqa: F401  (skip if missing)
        self.cid = ("pybench-%d" % os.getpid()).encode()
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

    def __init__(self, size):
        super().__init__(size)
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

    def __init__(self, size):
        super().__init__(size)
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

    def __init__(self, size):
        super().__init__(size)
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

    def __init__(self, size):
        super().__init__(size)
        import zmq  # noqa: F401
        self.addr = "ipc://%s/pybench-%d.zmq" % (os.environ.get("TMPDIR", "/tmp"), os.getpid())
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

    def __init__(self, size):
        super().__init__(size)
        from dragon.managed_memory import MemoryPool
        from dragon.channels import Channel
        # Dragon refuses blocks under 256 bytes.
        block = max(256, size) if size <= 65536 else 1024
        cap = _capacity(size)
        need = (cap + 8) * (size + 128) * (2 if size > block else 1) + cap * (block + 64) + (8 << 20)
        self.pool = MemoryPool(max(need, 1 << 26), "pybench-dragon-%d" % os.getpid(), 1)
        try:
            self.ch = Channel(self.pool, 1, block_size=block, capacity=cap)
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


TRANSPORTS = [DipcChannel, DipcSmipc, MpQueue, MpPipe, FasterFifo, PyZmq, DragonChannel]


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


def consumer(t, size, ctl, duration, warmup):
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
        # Read every other byte: count the pattern byte over the rest.
        if not isinstance(d, bytes):
            d = bytes(d)
        if d.count(pat_byte(seq), 8) != size - 8:
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


def ceiling(size, duration):
    """Messages/s of this script's own work, with no transport at all: the
    producer's loop with a send that does nothing, and the consumer's loop
    over ready-made messages; the slower of the two bounds every transport."""
    pats = [bytes([v]) * size for v in range(256)]
    sink = []
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < duration / 2:
        for _ in range(256):
            b = bytearray(pats[pat_byte(n)])
            HDR.pack_into(b, 0, n)
            sink.append(b)
            sink.pop()
            n += 1
    prod = n / (time.perf_counter() - t0)
    msgs = []
    for seq in range(256):
        b = bytearray(pats[pat_byte(seq)])
        HDR.pack_into(b, 0, seq)
        msgs.append(bytes(b))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < duration / 2:
        for d in msgs:
            if len(d) != size:
                raise SystemExit("size")
            seq = HDR.unpack_from(d, 0)[0]
            if seq != n & 255:
                raise SystemExit("seq")
            if not isinstance(d, bytes):
                d = bytes(d)
            if d.count(pat_byte(seq), 8) != size - 8:
                raise SystemExit("corrupt")
            n += 1
    cons = n / (time.perf_counter() - t0)
    return min(prod, cons)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--transport")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=None)
    ap.add_argument("--cpus", default="auto")
    a = ap.parse_args()
    if a.list:
        for T in TRANSPORTS:
            print("%-18s %s" % (T.name, T.about))
        print("%-18s %s" % ("py-ceiling", "this script's own loops, no transport: the bound"))
        return 0
    if a.transport == "py-ceiling":
        mps = ceiling(a.size, a.duration)
        print("RESULT transport=py-ceiling test=pythr wait=default size=%d nprod=1 iters=0 "
              "seconds=%.4f lat_ns=0.0 msgs_per_s=%.1f bytes_per_s=%.1f cpus=free"
              % (a.size, a.duration, mps, mps * a.size))
        return 0
    T = next((T for T in TRANSPORTS if T.name == a.transport), None)
    if T is None or a.size < 8:
        ap.error("unknown transport or size below 8")
    warmup = a.warmup if a.warmup is not None else min(0.2, a.duration / 5)
    try:
        t = T(a.size)
    except ImportError as e:
        print("bench: %s: %s" % (T.name, e), file=sys.stderr)
        return SKIP
    cpus = [None, None]
    if a.cpus == "auto":
        avail = sorted(os.sched_getaffinity(0))
        if len(avail) >= 2:
            cpus = avail[:2]
    elif a.cpus != "none":
        cpus = [int(c) for c in a.cpus.split(",")][:2]
    pats = [bytes([v]) * a.size for v in range(256)]
    ctl = mmap.mmap(-1, 4096)   # shared with the child after fork
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            pin(cpus[1])
            producer(t, a.size, ctl, pats)
        except BaseException as e:  # report, never fall back into the parent's code
            print("bench: producer: %r" % (e,), file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    pin(cpus[0])
    ok = False
    try:
        t.open_rx()
        res = consumer(t, a.size, ctl, a.duration, warmup)
        ok = True
    finally:
        if not ok:
            os.kill(pid, 9)
        _, st = os.waitpid(pid, 0)
        if hasattr(t, "teardown"):
            t.teardown()
    if st != 0 or res is None:
        print("bench: producer failed", file=sys.stderr)
        return 1
    n, secs = res
    mps = n / secs
    print("RESULT transport=%s test=pythr wait=default size=%d nprod=1 iters=%d seconds=%.4f "
          "lat_ns=0.0 msgs_per_s=%.1f bytes_per_s=%.1f cpus=%s"
          % (T.name, a.size, n, secs, mps, mps * a.size, "pinned" if cpus[0] is not None else "free"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The batch calls of the channel handles: ChannelSendH.send_bytes_many,
ChannelRecvH.recv_bytes_many and ChannelRecvH.recv_bytes_into.

Checked: order and content (in one process and from another process),
counts, timeouts, what a send_bytes_many that fails part way reports
(`sent`: the messages before it are in the channel, none is sent twice or
skipped), a buffer too small for the next message (it stays in the
channel), and bad input (a clear exception, nothing sent or taken, every
buffer given back).
"""

import array
import gc
import multiprocessing as mp
import os
import signal
import sys
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, skip, unique

from dragonipc import _dragonipc
from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import (Channel, Message, ChannelFull, ChannelEmpty, ChannelSendTimeout,
                                ChannelRecvTimeout, ChannelRecvError, ChannelHandleNotOpenError,
                                ChannelDestroyed)

CAP = 8          # slots of the channels below
BLOCK = 256      # their block size: larger payloads travel in pool allocations


def payload(i):
    """Message i: its number, then a length that varies (some fit a block,
    some do not, one in 50 is empty) filled with a byte derived from i."""
    if i % 50 == 49:
        return b""
    n = (i * 97) % 3000
    return b"%d:" % i + bytes([i * 7 & 0xFF]) * n


# ---- the other process ---------------------------------------------------------

def child_sender(ch, count, ready):
    """Sends payload(0..count-1) in batches of 1 to 50 with send_bytes_many."""
    with ch.sendh(timeout=120) as s:
        ready.set()
        i, k = 0, 1
        while i < count:
            batch = [payload(j) for j in range(i, min(count, i + k))]
            if s.send_bytes_many(batch) != len(batch):
                raise SystemExit("send_bytes_many returned a wrong count")
            i += len(batch)
            k = k % 50 + 7
    ch.detach()


def child_taker(ch, count, results):
    """Takes exactly count messages (recv_bytes_many bounded by what is
    left to take), reports them, and takes nothing more."""
    got = []
    with ch.recvh(timeout=120) as r:
        results.put("ready")
        while len(got) < count:
            got.extend(r.recv_bytes_many(count - len(got)))
    results.put(got)
    ch.detach()


def drain(r):
    out = []
    while True:
        try:
            out.extend(r.recv_bytes_many(1000, timeout=0))
        except ChannelEmpty:
            return out


def main():
    ctx = mp.get_context("spawn")
    pool = MemoryPool(32 << 20, unique("pybatch"), 0)
    try:
        run(ctx, pool)
    finally:
        pool.destroy()
    done_testing()


def run(ctx, pool):
    ch = Channel(pool, 1, capacity=CAP, block_size=BLOCK)
    s = ch.sendh()
    s.open()
    r = ch.recvh()
    r.open()

    # ---- order, content, counts, in one process --------------------------------
    items = [b"one", bytearray(b"two"), memoryview(b"three"), b"", array.array("i", [1, 2]),
             b"x" * 5000, memoryview(b"..sliced..")[2:8]]
    want = [bytes(x) for x in items]
    is_(s.send_bytes_many(items), len(items), "send_bytes_many returns how many it sent")
    is_(ch.num_msgs, len(items), "one message per item")
    is_(r.recv_bytes_many(100), want,
        "recv_bytes_many gives every payload back, in order, as bytes (of every bytes-like "
        "type, empty, larger than a block, a slice)")
    ok(all(type(x) is bytes for x in want), "the payloads are bytes objects")

    is_(s.send_bytes_many(payload(i) for i in range(5)), 5, "a generator is taken")
    is_(s.send_bytes_many([]), 0, "an empty iterable sends nothing")
    is_(r.recv_bytes_many(2), [payload(0), payload(1)], "recv_bytes_many takes at most max_count")
    is_(r.recv_bytes(), payload(2), "the rest stays, in order, for any receive")
    t0 = time.monotonic()
    got = r.recv_bytes_many(10, timeout=60)
    is_(got, [payload(3), payload(4)], "recv_bytes_many takes what is there ...")
    ok(time.monotonic() - t0 < 30, "... and does not wait for more (returned long before its "
       "timeout)")
    is_(ch.num_msgs, 0, "nothing was left behind")
    s.send_bytes_many([b"a", b"b"])
    is_(r.recv_bytes_many(2 ** 62), [b"a", b"b"], "a huge max_count is fine: the list is what "
        "there was")
    s.send_bytes(b"single")
    s.send_bytes_many([b"batch1", b"batch2"])
    s.send_bytes(b"single2")
    is_(drain(r), [b"single", b"batch1", b"batch2", b"single2"],
        "single and batch sends keep one order")

    # ---- timeouts --------------------------------------------------------------
    raises(ChannelEmpty, r.recv_bytes_many, 4, timeout=0,
           name="recv_bytes_many on an empty channel, timeout=0: ChannelEmpty")
    raises(ChannelEmpty, r.recv_bytes_many, 4, blocking=False,
           name="recv_bytes_many, blocking=False: ChannelEmpty")
    e = raises(ChannelRecvTimeout, r.recv_bytes_many, 4, timeout=0.2,
               name="recv_bytes_many, timeout=0.2: ChannelRecvTimeout")
    ok(isinstance(e, TimeoutError), "which is a TimeoutError")
    with ch.recvh(timeout=0.2) as r2:
        raises(ChannelRecvTimeout, r2.recv_bytes_many, 4,
               name="recv_bytes_many takes the handle's default timeout")
        raises(ChannelRecvTimeout, r2.recv_bytes_into, bytearray(8),
               name="recv_bytes_into takes the handle's default timeout")
    raises(ChannelEmpty, r.recv_bytes_into, bytearray(8), timeout=0,
           name="recv_bytes_into on an empty channel, timeout=0: ChannelEmpty")
    raises(ChannelRecvTimeout, r.recv_bytes_into, bytearray(8), timeout=0.2,
           name="recv_bytes_into, timeout=0.2: ChannelRecvTimeout")

    # ---- a send_bytes_many that fails part way -----------------------------------
    twelve = [payload(i) for i in range(12)]
    e = raises(ChannelFull, s.send_bytes_many, twelve, timeout=0,
               name="timeout=0 into a channel of 8 slots: ChannelFull")
    is_(getattr(e, "sent", None), CAP, "its sent is 8: the messages that went in")
    ok(e is not None and "msgs[8]" in str(e), "its text names the item that failed")
    is_(drain(r), twelve[:CAP], "exactly msgs[:sent] are in the channel, in order")
    e = raises(ChannelFull, s.send_bytes_many, twelve, blocking=False,
               name="blocking=False: ChannelFull")
    is_(getattr(e, "sent", None), CAP, "sent is 8 again")
    r.recv_bytes_many(3)
    is_(s.send_bytes_many(twelve[CAP:CAP + 3], timeout=0), 3,
        "the caller resends from msgs[sent] once there is room")
    is_(drain(r), twelve[3:CAP + 3], "nothing sent twice, nothing skipped")
    e = raises(ChannelSendTimeout, s.send_bytes_many, twelve, timeout=0.3,
               name="timeout=0.3 (the whole call's) into a channel of 8 slots: ChannelSendTimeout")
    is_(getattr(e, "sent", None), CAP, "sent is 8")
    ok(isinstance(e, TimeoutError), "a TimeoutError")
    is_(drain(r), twelve[:CAP], "msgs[:sent] and nothing else went in")
    with ch.sendh(timeout=0.2) as s2:
        e = raises(ChannelSendTimeout, s2.send_bytes_many, twelve,
                   name="send_bytes_many takes the handle's default timeout")
        is_(getattr(e, "sent", None), CAP, "sent is 8")
    drain(r)

    # A signal in the wait: the KeyboardInterrupt carries sent too.
    if sys.platform == "win32":
        for label in ("Ctrl-C in a send_bytes_many wait: KeyboardInterrupt with sent == 8",
                      "and msgs[:sent] in the channel"):
            skip(label, "no SIGINT from a thread on Windows")
    else:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            s.send_bytes_many(twelve, timeout=None)
            e = None
        except KeyboardInterrupt as exc:
            e = exc
        timer.join()
        ok(isinstance(e, KeyboardInterrupt) and getattr(e, "sent", None) == CAP,
           "Ctrl-C in a send_bytes_many wait: KeyboardInterrupt with sent == 8")
        is_(drain(r), twelve[:CAP], "and msgs[:sent] in the channel")

    # A close from another thread ends the wait (ChannelHandleNotOpenError,
    # sent 8), and a closed handle sends nothing.
    s3 = ch.sendh()
    s3.open()
    box = []

    def sender():
        try:
            s3.send_bytes_many(twelve, timeout=60)
        except Exception as exc:  # noqa: BLE001  (reported below)
            box.append(exc)

    th = threading.Thread(target=sender)
    th.start()
    deadline = time.monotonic() + 60
    while ch.num_msgs < CAP and time.monotonic() < deadline:
        time.sleep(0.01)
    s3.close()
    th.join(60)
    e = box[0] if box else None
    ok(isinstance(e, ChannelHandleNotOpenError) and e.sent == CAP,
       "a close in another thread ends the wait: ChannelHandleNotOpenError, sent == 8")
    e = raises(ChannelHandleNotOpenError, s3.send_bytes_many, [b"z"],
               name="send_bytes_many on a closed handle: ChannelHandleNotOpenError")
    is_(getattr(e, "sent", None), 0, "with sent == 0")
    is_(drain(r), twelve[:CAP], "msgs[:sent] in the channel")

    # ---- recv_bytes_into -----------------------------------------------------------
    buf = bytearray(b"#" * 6000)
    s.send_bytes_many([b"hello", b"y" * 5000, b"", b"z" * 300])
    is_(r.recv_bytes_into(buf), 5, "recv_bytes_into returns the length")
    is_(bytes(buf[:7]), b"hello##", "the payload is at the start, the rest untouched")
    is_(r.recv_bytes_into(memoryview(buf)[100:]), 5000,
        "into a memoryview slice, a payload larger than a block")
    ok(buf[100:5100] == b"y" * 5000 and buf[99:100] == b"#" and buf[5100:5101] == b"#",
       "it landed at the slice's start, nothing around it touched")
    is_(r.recv_bytes_into(bytearray(0)), 0, "an empty payload into an empty buffer")
    a = array.array("B", bytes(300))
    is_(r.recv_bytes_into(a), 300, "into an array")
    is_(a.tobytes(), b"z" * 300, "with the payload")
    m = Message.create_alloc(pool, 64)
    s.send_bytes(b"into a message")
    v = m.bytes_memview()
    is_(r.recv_bytes_into(v), 14, "into a Message's view")
    is_(bytes(v[:14]), b"into a message", "with the payload")
    v.release()
    m.destroy()

    # Too small: the message stays.
    allocs = pool.num_allocs
    s.send_bytes_many([b"q" * 5000, b"after"])
    e = raises(ChannelRecvError, r.recv_bytes_into, bytearray(4999),
               name="a message longer than the buffer: ChannelRecvError")
    is_(getattr(e, "lib_err", None), _dragonipc.EMSGSIZE, "lib_err DIPC_EMSGSIZE")
    is_(getattr(e, "msg_len", None), 5000, "msg_len is the message's length")
    ok(e is not None and "stays in the channel" in str(e), "the text says so: %s" % e)
    e = raises(ChannelRecvError, r.recv_bytes_into, bytearray(0), timeout=0,
               name="an empty buffer, tried once: ChannelRecvError too")
    is_(ch.num_msgs, 2, "both messages are still in the channel")
    buf = bytearray(5000)
    is_(r.recv_bytes_into(buf), 5000, "a buffer of msg_len takes it")
    ok(buf == b"q" * 5000, "intact")
    is_(r.recv_bytes(), b"after", "and the order is kept")
    gc.collect()
    is_(pool.num_allocs, allocs, "the pool allocations of large payloads were all given back")

    # ---- bad input -------------------------------------------------------------------
    bad_sends = [
        ("a bytes object itself", (b"abc",), TypeError),
        ("a str", ("abc",), TypeError),
        ("an int", (5,), TypeError),
        ("None", (None,), TypeError),
        ("an int item", ([b"a", 5],), TypeError),
        ("a str item", ([b"a", "b"],), TypeError),
        ("a non-contiguous item", ([b"a", memoryview(b"abcd")[::2]],), TypeError),
        ("a negative timeout", ([b"a"], True, -1), ValueError),
        ("a NaN timeout", ([b"a"], True, float("nan")), ValueError),
        ("a str timeout", ([b"a"], True, "soon"), ValueError),
        ("an unknown keyword", ([b"a"],), TypeError, {"msg_len": 1}),
        ("too many arguments", ([b"a"], True, 1, 2), TypeError),
    ]
    for case in bad_sends:
        label, args, exc = case[:3]
        kw = case[3] if len(case) > 3 else {}
        raises(exc, s.send_bytes_many, *args, name="send_bytes_many(%s): %s" % (label, exc.__name__),
               **kw)
    raises(TypeError, s.send_bytes_many, name="send_bytes_many(): TypeError")
    is_(ch.num_msgs, 0, "none of them sent anything")

    def failing():
        yield b"first"
        raise RuntimeError("the generator's own error")
    raises(RuntimeError, s.send_bytes_many, failing(),
           name="a generator that raises: its exception")
    is_(ch.num_msgs, 0, "and nothing was sent")

    held = [bytearray(b"k" * 10) for _ in range(3)]
    before = [sys.getrefcount(x) for x in held]
    for _ in range(100):
        try:
            s.send_bytes_many(held + [5])
        except TypeError:
            pass
    try:
        s.send_bytes_many(held * 4, timeout=0)
    except ChannelFull:
        pass
    drain(r)
    try:
        for x in held:
            x.extend(b"!")   # refused while a buffer is exported
        grown = True
        del x
    except BufferError:
        grown = False
    ok(grown, "every item's buffer was given back, after bad input and after a partial send")
    is_([sys.getrefcount(x) for x in held], before, "no reference kept to the items")

    for label, arg, exc in (("0", 0, ValueError), ("-1", -1, ValueError),
                            ("2**70", 2 ** 70, ValueError), ("-2**70", -2 ** 70, ValueError),
                            ("1.5", 1.5, TypeError), ("None", None, TypeError),
                            ("'3'", "3", TypeError)):
        raises(exc, r.recv_bytes_many, arg,
               name="recv_bytes_many(max_count=%s): %s" % (label, exc.__name__))
    raises(TypeError, r.recv_bytes_many, name="recv_bytes_many(): TypeError")
    raises(ValueError, r.recv_bytes_many, 1, True, -5,
           name="recv_bytes_many with a negative timeout: ValueError")
    s.send_bytes(b"kept")
    for label, arg in (("bytes", b"abcdefgh"), ("a read-only memoryview", memoryview(b"abcdefgh")),
                       ("a non-contiguous memoryview", memoryview(bytearray(16))[::2]),
                       ("an int", 8), ("None", None), ("a str", "abcdefgh")):
        e = raises(TypeError, r.recv_bytes_into, arg,
                   name="recv_bytes_into(%s): TypeError" % label)
    ok(e is not None and "writable" in str(e), "saying what it needs: %s" % e)
    raises(TypeError, r.recv_bytes_into, name="recv_bytes_into(): TypeError")
    raises(ValueError, r.recv_bytes_into, bytearray(8), True, -1,
           name="recv_bytes_into with a negative timeout: ValueError")
    is_(r.recv_bytes(), b"kept", "bad input to the receives took nothing")

    s.close()
    r.close()
    raises(ChannelHandleNotOpenError, r.recv_bytes_many, 4, timeout=0,
           name="recv_bytes_many on a closed handle: ChannelHandleNotOpenError")
    raises(ChannelHandleNotOpenError, r.recv_bytes_into, bytearray(4), timeout=0,
           name="recv_bytes_into on a closed handle: ChannelHandleNotOpenError")
    uninit = _dragonipc.ChannelSendH.__new__(_dragonipc.ChannelSendH)
    raises(ValueError, uninit.send_bytes_many, [b"a"],
           name="send_bytes_many on a handle never initialised: an error, no crash")
    uninit = _dragonipc.ChannelRecvH.__new__(_dragonipc.ChannelRecvH)
    raises(ValueError, uninit.recv_bytes_many, 1,
           name="recv_bytes_many on a handle never initialised: an error, no crash")
    raises(ValueError, uninit.recv_bytes_into, bytearray(1),
           name="recv_bytes_into on a handle never initialised: an error, no crash")

    # ---- another process sends in batches -----------------------------------------------
    count = 600
    ready = ctx.Event()
    p = ctx.Process(target=child_sender, args=(ch, count, ready))
    p.start()
    got, ways = [], [0, 0, 0]
    with ch.recvh(timeout=120) as r:
        ok(ready.wait(120), "the sending child is up")
        buf = bytearray(4096)
        while len(got) < count:
            way = len(got) % 3
            if way == 0:
                got.extend(r.recv_bytes_many(64))
            elif way == 1:
                n = r.recv_bytes_into(buf)
                got.append(bytes(buf[:n]))
            else:
                got.append(r.recv_bytes())
            ways[way] += 1
    p.join(120)
    is_(p.exitcode, 0, "the child sent %d messages with send_bytes_many and exited cleanly" % count)
    is_(len(got), count, "as many arrived as were sent")
    ok(got == [payload(i) for i in range(count)],
       "each arrived once, in order, intact (%d recv_bytes_many, %d recv_bytes_into, "
       "%d recv_bytes calls)" % tuple(ways))
    is_(ch.num_msgs, 0, "nothing more")

    # ---- a partial send with another process receiving -------------------------------------
    # The child takes exactly 20 messages and stops; this process sends 40
    # with a timeout.  However the two are scheduled, what the child took
    # and what is left in the channel must be msgs[:sent], nothing else.
    forty = [payload(100 + i) for i in range(40)]
    results = ctx.Queue()
    p = ctx.Process(target=child_taker, args=(ch, 20, results))
    p.start()
    is_(results.get(timeout=120), "ready", "the receiving child is up")
    with ch.sendh() as s:
        e = raises(ChannelSendTimeout, s.send_bytes_many, forty, timeout=5,
                   name="40 messages, a receiver that takes 20: ChannelSendTimeout")
        sent = getattr(e, "sent", 0)
        upto = sent
        if sent < 20:
            # Only on a machine so loaded that the child took fewer than
            # 12 in 5 s: let it have its 20.
            diag("sent %d in 5 s: sending up to 20 for the child" % sent)
            s.send_bytes_many(forty[sent:20], timeout=120)
            upto = 20
    taken = results.get(timeout=120)
    p.join(120)
    is_(p.exitcode, 0, "the child exited cleanly")
    with ch.recvh() as r:
        left = drain(r)
    ok(sent >= CAP and taken + left == forty[:upto],
       "what the child took and what is left are msgs[:sent], in order (sent %d: %d taken, "
       "%d left)" % (sent, len(taken), len(left)))
    if sent != 20 + CAP:
        diag("the child took its 20 only after the timeout (the machine is loaded)")

    ch.destroy()
    ch2 = Channel(pool, 2, capacity=CAP)
    sh = ch2.sendh()
    sh.open()
    ch2.destroy()
    e = raises(ChannelDestroyed, sh.send_bytes_many, [b"a"], timeout=0,
               name="send_bytes_many into a destroyed channel: ChannelDestroyed")
    is_(getattr(e, "sent", None), 0, "with sent == 0")


if __name__ == "__main__":
    main()

"""Bad input never crashes the interpreter.

The channels, managed_memory and smipc APIs (and the compiled core under
them) get wrong types, None, negative and huge sizes and timeouts, closed,
detached and destroyed objects and bad descriptors (random bytes,
truncated, of the wrong kind).  Each call must raise an exception of the
package's family (DragonIPCError and below) or a TypeError / ValueError.

Each group runs in its own interpreter, so that a crash (a signal) is seen
as a failure of that group instead of ending this test; a group's checks
are reported one by one as they happen, so the last one reported before a
crash points at the culprit.
"""

import os
import subprocess
import sys

from taplib import ok, diag, done_testing

PREFIX = "pybad-%d" % os.getpid()

# Prepended to every group: check(name, fn, *wanted) passes when fn()
# raises one of wanted (default: anything of the package's family, a
# TypeError or a ValueError).
PRELUDE = r'''
import gc, math, os, random, sys
from dragonipc import DragonIPCError, _dragonipc
from dragonipc.managed_memory import (MemoryPool, DragonPoolValueError, DragonPoolCreateFail,
    DragonPoolAttachFail, DragonMemoryError, DragonPoolAllocationNotAvailable)
from dragonipc import managed_memory
from dragonipc.channels import (Channel, Message, ChannelSendH, ChannelRecvH, ChannelError,
    ChannelValueError, ChannelDestroyed, ChannelHandleNotOpenError, EventType)
from dragonipc import smipc
from dragonipc.smipc import (ParameterTypeError, OperationFailedError, SmipcError,
    OppositeEndClosedError, CHAN_R, CHAN_W)

PREFIX = sys.argv[1]
FAMILY = (DragonIPCError, TypeError, ValueError)
_n = [0]

def name(tag):
    _n[0] += 1
    return "%s-%s-%d" % (PREFIX, tag, _n[0])

def report(good, label, detail=""):
    print("%s %s%s" % ("PASS" if good else "FAIL", label, (" -- " + detail) if detail else ""),
          flush=True)

def check(label, fn, *wanted):
    wanted = wanted or FAMILY
    try:
        fn()
    except wanted as e:
        report(True, label, "%s: %s" % (type(e).__name__, e))
    except BaseException as e:
        report(False, label, "raised %s: %s" % (type(e).__name__, e))
    else:
        report(False, label, "nothing raised")

def same(label, fn, want):
    try:
        got = fn()
    except BaseException as e:
        report(False, label, "raised %s: %s" % (type(e).__name__, e))
    else:
        report(got == want, label, "got %r, want %r" % (got, want))

def works(label, fn):
    try:
        fn()
    except BaseException as e:
        report(False, label, "raised %s: %s" % (type(e).__name__, e))
    else:
        report(True, label)

rng = random.Random(1234)
def junk(n):
    return bytes(rng.getrandbits(8) for _ in range(n))
'''

GROUPS = {}

GROUPS["pool arguments"] = r'''
n = name("p")
check("size None", lambda: MemoryPool(None, n, 0), TypeError)
check("size -1", lambda: MemoryPool(-1, n, 0), ValueError)
check("size 2**64", lambda: MemoryPool(2**64, n, 0))
check("size 2**200", lambda: MemoryPool(2**200, n, 0))
check("size 2**50 (past the library's limit)", lambda: MemoryPool(1 << 50, n, 0))
check("size 1.5", lambda: MemoryPool(1.5, n, 0), TypeError)
check("name None", lambda: MemoryPool(1 << 20, None, 0), TypeError)
check("name with NUL", lambda: MemoryPool(1 << 20, "a\0b", 0), ValueError)
check("name '../x'", lambda: MemoryPool(1 << 20, "../x", 0), ValueError)
check("name of 1000 bytes", lambda: MemoryPool(1 << 20, "n" * 1000, 0), ValueError)
check("name with a lone surrogate", lambda: MemoryPool(1 << 20, "a\udc80", 0), ValueError)
check("uid None", lambda: MemoryPool(1 << 20, n, None), TypeError)
check("mode -1", lambda: MemoryPool(1 << 20, n, 0, mode=-1))
check("mode 0o7777", lambda: MemoryPool(1 << 20, n, 0, mode=0o7777))
check("mode 2**40", lambda: MemoryPool(1 << 20, n, 0, mode=2**40))
check("mode 2**70", lambda: MemoryPool(1 << 20, n, 0, mode=2**70))
check("mode 'rw'", lambda: MemoryPool(1 << 20, n, 0, mode="rw"), TypeError)
check("mode 2**32 + 0o600 (not cut to 0o600)", lambda: MemoryPool(1 << 20, n, 0,
      mode=2**32 + 0o600), ValueError)
check("attach None", lambda: MemoryPool.attach(None), TypeError)
check("attach an int", lambda: MemoryPool.attach(12), TypeError)
check("attach a str", lambda: MemoryPool.attach("descriptor"), TypeError)
check("attach b''", lambda: MemoryPool.attach(b""), ValueError)
check("attach_name None", lambda: MemoryPool.attach_name(None), TypeError)
check("attach_name '../x'", lambda: MemoryPool.attach_name("../x"), ValueError)
check("attach_name of a pool that does not exist", lambda: MemoryPool.attach_name(n),
      DragonPoolAttachFail)
check("unlink None", lambda: managed_memory.unlink(None), TypeError)
check("unlink 'a/b'", lambda: managed_memory.unlink("a/b"), ValueError)
check("unlink a pool that does not exist", lambda: managed_memory.unlink(n), DragonPoolAttachFail)
check("set_default_pool of a str", lambda: managed_memory.set_default_pool("x"), TypeError)
'''

GROUPS["pool descriptors"] = r'''
p = MemoryPool(1 << 20, name("p"), 0)
good = p.serialize()
for i in range(300):
    data = junk(rng.randrange(0, 300))
    try:
        q = MemoryPool.attach(data)
    except FAMILY:
        continue
    except BaseException as e:
        report(False, "random descriptor %d" % i, "raised %s" % type(e).__name__)
        break
    report(False, "random descriptor %d" % i, "attached")
    q.detach()
    break
else:
    report(True, "300 random descriptors are refused")
for cut in (1, 8, 24, len(good) - 1):
    check("descriptor cut to %d bytes" % cut, lambda: MemoryPool.attach(good[:cut]),
          DragonPoolAttachFail, ValueError)
# The length given is a minimum: what follows a whole descriptor is not read.
works("a descriptor with 1000 bytes of junk after it still attaches",
      lambda: MemoryPool.attach(good + junk(1000)).detach())
ch = Channel(p, 1)
check("a channel descriptor as a pool's", lambda: MemoryPool.attach(ch.serialize()),
      DragonPoolAttachFail, ValueError)
m = Message.create_alloc(p, 16)
check("_channel_pool_desc of None", lambda: MemoryPool._channel_pool_desc(None), TypeError)
check("_channel_pool_desc of junk", lambda: MemoryPool._channel_pool_desc(junk(7)))
check("_channel_pool_desc of a pool descriptor", lambda: MemoryPool._channel_pool_desc(good))
check("Channel.attach of a pool descriptor", lambda: Channel.attach(good), ChannelError)
check("Channel.attach of None", lambda: Channel.attach(None), TypeError)
check("Channel.attach of b''", lambda: Channel.attach(b""), ChannelError, ValueError)
cd = ch.serialize()
for cut in (0, 4, 31, 40, len(cd) - 1):
    check("channel descriptor cut to %d bytes" % cut, lambda: Channel.attach(cd[:cut]),
          ChannelError, ValueError)
for i in range(300):
    data = junk(rng.randrange(0, 300))
    try:
        c = Channel.attach(data)
    except FAMILY:
        continue
    except BaseException as e:
        report(False, "random channel descriptor %d" % i, "raised %s" % type(e).__name__)
        break
    report(False, "random channel descriptor %d" % i, "attached")
    break
else:
    report(True, "300 random channel descriptors are refused")
bad = bytearray(cd)
bad[16:24] = (2**64 - 64).to_bytes(8, "little")
check("channel descriptor with a wild header offset", lambda: Channel.attach(bytes(bad)),
      ChannelError)
m.destroy()
ch.destroy()
p.destroy()
'''

GROUPS["pool after detach and destroy"] = r'''
p = MemoryPool(1 << 20, name("p"), 0)
desc = p.serialize()
q = MemoryPool.attach(desc)
p.destroy()
works("an attached pool still answers after the creator destroyed it", lambda: q.size)
check("attach of the destroyed pool's descriptor", lambda: MemoryPool.attach(desc),
      DragonPoolAttachFail)
q.detach()
for obj, what in ((p, "destroyed"), (q, "detached"), (MemoryPool.empty_pool(), "never attached")):
    check("size of a %s pool" % what, lambda: obj.size)
    check("free_space of a %s pool" % what, lambda: obj.free_space)
    check("serialize of a %s pool" % what, lambda: obj.serialize())
    check("reclaim of a %s pool" % what, lambda: obj.reclaim())
    check("alloc_message on a %s pool" % what, lambda: obj.alloc_message(16))
    check("Channel in a %s pool" % what, lambda: Channel(obj, 5))
    check("Message.create_alloc in a %s pool" % what, lambda: Message.create_alloc(obj, 8))
    check("destroy of a %s pool" % what, lambda: obj.destroy())
    check("_stats of a %s pool" % what, lambda: obj._stats())
works("detach twice is harmless", lambda: (q.detach(), q.detach()))
r = MemoryPool.__new__(MemoryPool)
check("_attach(None)", lambda: r._attach(None), TypeError)
check("_attach of junk", lambda: r._attach(junk(60)))
check("_attach_name(None)", lambda: r._attach_name(None), TypeError)
check("_create(None, 1, 0)", lambda: r._create(None, 1, 0), TypeError)
check("_create(name, -5)", lambda: r._create(name("x"), -5))
check("_create(name, 2**70)", lambda: r._create(name("x"), 2**70))
s = MemoryPool(1 << 20, name("p"), 0)
check("_create on a pool object already attached", lambda: s._create(name("y"), 1 << 20))
check("_attach on a pool object already attached", lambda: s._attach(desc))
s.destroy()
'''

GROUPS["messages and memory"] = r'''
p = MemoryPool(1 << 20, name("p"), 0)
check("create_alloc size -1", lambda: Message.create_alloc(p, -1))
check("create_alloc size 0", lambda: Message.create_alloc(p, 0))
check("create_alloc size 2**64", lambda: Message.create_alloc(p, 2**64))
check("create_alloc size 2**40", lambda: Message.create_alloc(p, 2**40), DragonMemoryError,
      ChannelError)
check("create_alloc size 'x'", lambda: Message.create_alloc(p, "x"), TypeError)
check("create_alloc pool None, no default", lambda: Message.create_alloc("pool", 8), TypeError)
check("create_alloc timeout -1", lambda: Message.create_alloc(p, 8, timeout=-1), ValueError)
check("create_alloc timeout nan", lambda: Message.create_alloc(p, 8, timeout=float("nan")))
check("create_alloc timeout 'x'", lambda: Message.create_alloc(p, 8, timeout="x"),
      TypeError, ValueError)
check("Message() directly", lambda: Message(), TypeError)
m = Message.create_alloc(p, 64)
view = m.bytes_memview()
view[:3] = b"abc"
m.destroy()
check("bytes_memview of a destroyed message", lambda: m.bytes_memview())
check("tobytes of a destroyed message", lambda: m.tobytes())
check("destroy twice", lambda: m.destroy())
works("size of a destroyed message is an answer", lambda: m.size)
# A view taken before the destroy keeps pointing at mapped memory.
works("a view kept past destroy can still be read", lambda: bytes(view[:3]))
e = Message.create_empty()
check("memview of an empty message", lambda: e.bytes_memview(), ChannelValueError)
e.destroy()
m2 = Message.create_alloc(p, 32)
v2 = m2.bytes_memview()
p.destroy()
works("a view kept past the pool's destroy can still be written", lambda: v2.__setitem__(0, 7))
check("create_alloc in the destroyed pool", lambda: Message.create_alloc(p, 8))
m2.destroy()
del v2, view
gc.collect()
'''

GROUPS["channel arguments"] = r'''
p = MemoryPool(1 << 20, name("p"), 0)
check("Channel(None, 1)", lambda: Channel(None, 1), TypeError)
check("Channel(pool, -1)", lambda: Channel(p, -1), ValueError)
check("Channel(pool, 2**64)", lambda: Channel(p, 2**64), ValueError)
check("Channel(pool, 'x')", lambda: Channel(p, "x"), ValueError, TypeError)
check("capacity 0", lambda: Channel(p, 1, capacity=0), ValueError)
check("capacity -1", lambda: Channel(p, 1, capacity=-1), ValueError)
check("capacity 2**40", lambda: Channel(p, 1, capacity=2**40))
check("capacity 2**70", lambda: Channel(p, 1, capacity=2**70))
check("block_size 2**70", lambda: Channel(p, 1, block_size=2**70))
check("capacity 2**64 + 5 (not cut to 5)", lambda: Channel(p, 1, capacity=2**64 + 5), ValueError)
check("block_size 1.0", lambda: Channel(p, 1, block_size=1.0), ValueError, TypeError)
check("the largest channel in a small pool", lambda: Channel(p, 1, capacity=1 << 24,
      block_size=1 << 24), ChannelError)
ch = Channel(p, 1, capacity=2)
check("a second channel with the same id", lambda: Channel(p, 1), ChannelError)
check("_create on a live channel object", lambda: ch._create(p, 9))
check("_attach(None, pool)", lambda: Channel.__new__(Channel)._attach(None, p), TypeError)
# None is no bad input: the library finds the pool through the descriptor
# (or, for another host's channel, goes through dipc-bridge).
def attach_none():
    c = Channel.__new__(Channel)
    c._attach(ch.serialize(), None)
    try:
        return c.is_local
    finally:
        c.detach()
same("_attach(desc, None) attaches a local channel through its descriptor", attach_none, True)
check("_attach(a short desc, None)", lambda: Channel.__new__(Channel)._attach(b"x" * 7, None))
check("_attach(desc, a str)", lambda: Channel.__new__(Channel)._attach(ch.serialize(), "x"),
      TypeError)
check("poll timeout -1", lambda: ch.poll(timeout=-1), ValueError)
check("poll timeout nan", lambda: ch.poll(timeout=float("nan")), ValueError)
check("poll timeout 'x'", lambda: ch.poll(timeout="x"), TypeError, ValueError)
check("poll event 99", lambda: ch.poll(event_mask=99), ValueError)
check("_poll events 0", lambda: ch._poll(0, 0))
check("_poll events -1", lambda: ch._poll(-1, 0))
check("_poll events 2**70", lambda: ch._poll(2**70, 0))
works("poll with a huge timeout on a writable channel",
      lambda: ch.poll(timeout=1e300, event_mask=EventType.POLLOUT))
works("poll with timeout inf on a writable channel",
      lambda: ch.poll(timeout=float("inf"), event_mask=EventType.POLLOUT))
check("sendh wait_mode 99", lambda: ch.sendh(wait_mode=99))
check("sendh timeout -1", lambda: ch.sendh(timeout=-1), ValueError)
check("recvh timeout 'x'", lambda: ch.recvh(timeout="x"), TypeError, ValueError)
check("ChannelSendH(None)", lambda: ChannelSendH(None), TypeError)
check("ChannelRecvH(a pool)", lambda: ChannelRecvH(p), TypeError)
check("ChannelSendH of an unattached channel", lambda: ChannelSendH(Channel.__new__(Channel)))
s = ch.sendh()
r = ch.recvh()
check("send_bytes before open", lambda: s.send_bytes(b"x"), ChannelHandleNotOpenError)
check("recv_bytes before open", lambda: r.recv_bytes(), ChannelHandleNotOpenError)
s.open()
r.open()
check("send_bytes(None)", lambda: s.send_bytes(None), TypeError)
check("send_bytes(12)", lambda: s.send_bytes(12), TypeError)
check("send_bytes(str)", lambda: s.send_bytes("text"), TypeError)
check("send_bytes msg_len -1", lambda: s.send_bytes(b"abc", msg_len=-1), ValueError)
check("send_bytes msg_len past the buffer", lambda: s.send_bytes(b"abc", msg_len=10**6),
      ValueError)
check("send_bytes msg_len 2**70", lambda: s.send_bytes(b"abc", msg_len=2**70), ValueError)
check("send_bytes msg_len -5", lambda: s.send_bytes(b"abc", msg_len=-5), ValueError)
check("send_bytes timeout -1", lambda: s.send_bytes(b"x", timeout=-1), ValueError)
check("send_bytes timeout nan", lambda: s.send_bytes(b"x", timeout=float("nan")), ValueError)
check("send_bytes timeout 'x'", lambda: s.send_bytes(b"x", timeout="x"), TypeError, ValueError)
check("send(None)", lambda: s.send(None), TypeError)
m = Message.create_alloc(p, 8)
check("send ownership 5", lambda: s.send(m, ownership=5))
check("send dest_msg a str", lambda: s.send(m, dest_msg="x"), TypeError)
check("recv dest_msg a str", lambda: r.recv(dest_msg="x"), TypeError)
check("recv_bytes timeout -2", lambda: r.recv_bytes(timeout=-2), ValueError)
works("send_bytes with a huge timeout", lambda: s.send_bytes(b"x", timeout=1e300))
works("send_bytes of a memoryview slice", lambda: s.send_bytes(memoryview(b"abcdef")[1:4]))
check("a third send into capacity 2, try once", lambda: s.send_bytes(b"y", blocking=False),
      ChannelError)
md = Message.create_alloc(p, 8)
md.destroy()
check("send a destroyed message", lambda: s.send(md))
check("recv into a destroyed message", lambda: r.recv(dest_msg=md))
s.close()
check("send_bytes after close", lambda: s.send_bytes(b"x"), ChannelHandleNotOpenError)
check("close twice", lambda: s.close(), ChannelHandleNotOpenError)
m.destroy()
r.close()
ch.destroy()
p.destroy()
'''

GROUPS["channel after destroy"] = r'''
p = MemoryPool(1 << 20, name("p"), 0)
ch = Channel(p, 3)
other = Channel.attach(ch.serialize())
s = other.sendh()
s.open()
r = other.recvh()
r.open()
ch.destroy()
check("destroy twice", lambda: ch.destroy(), ChannelDestroyed)
for obj, what in ((ch, "destroyed"), (other, "destroyed elsewhere")):
    check("num_msgs of a %s channel" % what, lambda: obj.num_msgs, ChannelError)
    check("poll of a %s channel" % what, lambda: obj.poll(timeout=0), ChannelError)
    check("serialize of a %s channel" % what, lambda: obj.serialize() and
          Channel.attach(obj.serialize()), ChannelError)
check("send_bytes on a destroyed channel", lambda: s.send_bytes(b"x"), ChannelDestroyed)
check("recv_bytes on a destroyed channel", lambda: r.recv_bytes(timeout=0), ChannelDestroyed)
check("sendh of a destroyed channel, opened", lambda: ch.sendh().open())
check("recvh of a channel destroyed elsewhere, opened", lambda: other.recvh().open(),
      ChannelDestroyed)
s.close()
r.close()
del s, r
gc.collect()
other.detach()
check("sendh of a detached channel", lambda: other.sendh())
works("detach twice is harmless", lambda: other.detach())
d = Channel(p, 4)
h = d.sendh()
h.open()
d.detach()
works("a handle outlives its detached channel object", lambda: h.send_bytes(b"k"))
h.close()
del h
gc.collect()
p.destroy()
'''

GROUPS["streams"] = r'''
check("cid None", lambda: smipc.Channel(None, CHAN_R), ParameterTypeError)
check("cid 12", lambda: smipc.Channel(12, CHAN_R), ParameterTypeError)
check("cid 'a/b'", lambda: smipc.Channel("a/b", CHAN_R), ParameterTypeError)
check("cid with NUL", lambda: smipc.Channel(b"a\0b", CHAN_R), ParameterTypeError)
check("cid of 1000 bytes", lambda: smipc.Channel(b"c" * 1000, CHAN_R), ParameterTypeError)
check("cid not ASCII", lambda: smipc.Channel(b"\xff", CHAN_R), ParameterTypeError)
check("mode 7", lambda: smipc.Channel("x", 7), ParameterTypeError)
check("size -1", lambda: smipc.Channel("x", CHAN_R, -1), ParameterTypeError)
check("size 'big'", lambda: smipc.Channel("x", CHAN_R, "big"), ParameterTypeError)
n = name("s")
check("size 2**64 on open", lambda: smipc.Channel(n, CHAN_R, 2**64).open())
check("size 2**41 on open", lambda: smipc.Channel(n, CHAN_R, 2**41).open())
check("init_library('x')", lambda: smipc.init_library("x"), ParameterTypeError)
check("init_library(99)", lambda: smipc.init_library(99))
check("init_library(-1)", lambda: smipc.init_library(-1))
check("unlink None", lambda: smipc.unlink(None), ParameterTypeError)
check("unlink '../x'", lambda: smipc.unlink("../x"), ParameterTypeError)
st = _dragonipc.Stream()
check("_open(None, 0, 8)", lambda: st._open(None, 0, 8), TypeError)
check("_open(name, 5, 8)", lambda: st._open(n, 5, 8))
check("_open(name, 0, -1)", lambda: st._open(n, 0, -1))
check("_open(name, 0, 8, perm=-1)", lambda: st._open(n, 0, 8, -1))
check("_open(name, 0, 8, perm=0o7777)", lambda: st._open(n, 0, 8, 0o7777))
check("_open(name, 0, 2**70)", lambda: st._open(n, 0, 2**70))
check("_open(name, 0, 8, perm=2**32 + 0o666) (not cut to 0o666)",
      lambda: st._open(n, 0, 8, 2**32 + 0o666), ValueError)
check("_open(name, 2**32, 8) (not cut to 0)", lambda: st._open(n, 2**32, 8), ValueError)
check("_open('a\\0b', 0, 8)", lambda: st._open("a\0b", 0, 8))
check("write on a never-opened stream", lambda: st.write(b"x"), SmipcError)
check("read on a never-opened stream", lambda: st.read(bytearray(4), 4), SmipcError)
check("status of a never-opened stream", lambda: st.status(), SmipcError)
check("_listen on a never-opened stream", lambda: st._listen(print), SmipcError)
works("_close of a never-opened stream", lambda: st._close())

rd = smipc.Channel(n, CHAN_R, 64).open()
wr = smipc.Channel(n, CHAN_W, 64).open()
check("write(None)", lambda: wr.write(None), TypeError)
check("write(12)", lambda: wr.write(12), TypeError)
check("write timeout -1", lambda: wr.write(b"x", timeout=-1), ValueError)
check("write timeout nan", lambda: wr.write(b"x", timeout=float("nan")), ValueError)
check("write timeout 'x'", lambda: wr.write(b"x", timeout="x"), TypeError, ValueError)
check("write on the reader", lambda: rd.write(b"x"), SmipcError)
buf = bytearray(8)
check("read into None", lambda: rd.read(None, 4), TypeError)
check("read into bytes (read-only)", lambda: rd.read(b"12345678", 4), TypeError)
check("read into a read-only memoryview", lambda: rd.read(memoryview(b"12345678"), 4), TypeError)
check("read n -1", lambda: rd.read(buf, -1), ValueError)
check("read n past the buffer", lambda: rd.read(buf, 9), ValueError)
check("read n 2**63", lambda: rd.read(buf, 2**63))
check("read n 2**70", lambda: rd.read(buf, 2**70))
check("read n 'x'", lambda: rd.read(buf, "x"), TypeError)
check("read timeout -1", lambda: rd.read(buf, 1, timeout=-1), ValueError)
check("read on the writer", lambda: wr.read(buf, 1), SmipcError)
check("read_async of a str", lambda: rd.read_async("not callable"), ParameterTypeError)
check("read_async on the writer", lambda: wr.read_async(print), SmipcError)
check("_listen(None)", lambda: rd._listen(None), TypeError)
check("open the reader twice", lambda: smipc.Channel(n, CHAN_R, 64).open(), SmipcError)
works("a 1-byte read into a large buffer with the writer there", lambda: (wr.write(b"q"),
      rd.read(buf, 1)))
wr.close()
check("write after close", lambda: wr.write(b"x"), SmipcError)
check("status after close", lambda: wr.status(), SmipcError)
works("close twice", lambda: wr.close())
check("read after the writer closed", lambda: rd.read(buf, 1, blocking=True),
      OppositeEndClosedError)
rd2 = smipc.Channel(name("s"), CHAN_R, 16).open()
smipc.clean_library()
check("read after clean_library", lambda: rd2.read(buf, 1), OperationFailedError)
check("read_async after clean_library", lambda: rd2.read_async(print), OperationFailedError)
works("close after clean_library", lambda: rd2.close())
rd.close()
'''

GROUPS["object protocol"] = r'''
import copy, pickle
p = MemoryPool(1 << 20, name("p"), 0)
ch = Channel(p, 1)
s = ch.sendh()
s.open()
check("a send handle initialised twice", lambda: s.__init__(ch), ChannelValueError)
check("copy of a send handle", lambda: copy.copy(s), TypeError)
check("pickle of a send handle", lambda: pickle.dumps(s), TypeError)
m = Message.create_alloc(p, 8)
check("pickle of a message", lambda: pickle.dumps(m), TypeError)
check("a subclass of Message", lambda: type("M", (Message,), {}), TypeError)
check("Message.__new__", lambda: Message.__new__(Message), TypeError)
check("a bare Pool's serialize", lambda: _dragonipc.Pool().serialize(), DragonPoolValueError)
check("a bare Channel's num_msgs", lambda: _dragonipc.Channel().num_msgs, ChannelValueError)
check("a bare Channel's _destroy", lambda: _dragonipc.Channel()._destroy(), ChannelValueError)
check("a bare send handle's send_bytes",
      lambda: ChannelSendH.__new__(ChannelSendH).send_bytes(b"x"), ChannelValueError)
check("a bare receive handle's recv_bytes",
      lambda: ChannelRecvH.__new__(ChannelRecvH).recv_bytes(), ChannelValueError)
check("a receive handle on a send handle", lambda: ChannelRecvH(s), TypeError)
check("a bare Stream's status", lambda: _dragonipc.Stream().status(), OperationFailedError)
works("a pool pickles and comes back attached",
      lambda: pickle.loads(pickle.dumps(p)).detach())
m.destroy()
s.close()
del s
gc.collect()
ch.destroy()
p.destroy()
'''

GROUPS["module functions"] = r'''
check("strerror('x')", lambda: _dragonipc.strerror("x"), TypeError)
same("strerror(2**70) is an unknown code", lambda: _dragonipc.strerror(2**70), "unknown error")
same("strerror(2**32 - 1) is not strerror(-1)", lambda: _dragonipc.strerror(2**32 - 1),
     "unknown error")
check("strerror(None)", lambda: _dragonipc.strerror(None), TypeError)
check("errname(None)", lambda: _dragonipc.errname(None), TypeError)
works("errname(2**70)", lambda: _dragonipc.errname(2**70))
check("log_set_level(2**32 + 1) (not level 1)", lambda: _dragonipc.log_set_level(2**32 + 1),
      ValueError)
same("and the level did not change", lambda: _dragonipc.log_get_level(), 0)
check("log_set_level(99)", lambda: _dragonipc.log_set_level(99))
check("log_set_level('x')", lambda: _dragonipc.log_set_level("x"), TypeError)
check("log_set_level(2**70)", lambda: _dragonipc.log_set_level(2**70))
check("init(None)", lambda: _dragonipc.init(None), TypeError)
check("stream_unlink(None)", lambda: _dragonipc.stream_unlink(None), TypeError)
check("stream_unlink('a/b')", lambda: _dragonipc.stream_unlink("a/b"))
check("stream_unlink('a\\0b') (not cut to 'a')", lambda: _dragonipc.stream_unlink("a\0b"),
      ValueError)
check("Pool._attach_name('a\\0b')", lambda: MemoryPool.__new__(MemoryPool)._attach_name("a\0b"),
      ValueError)
works("strerror of every small code", lambda: [_dragonipc.strerror(c) for c in range(-40, 5)])
works("DragonIPCError of odd arguments", lambda: str(DragonIPCError(None, None)) +
      str(DragonIPCError(-1000, "x")) + repr(DragonIPCError()))
'''


def run_group(title, body):
    code = PRELUDE + body
    try:
        proc = subprocess.run([sys.executable, "-c", code, PREFIX], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120)
    except subprocess.TimeoutExpired as e:
        out, err, rc = (e.stdout or b""), (e.stderr or b""), "timeout"
    else:
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    lines = out.decode("utf-8", "replace").splitlines()
    for line in lines:
        if line.startswith("PASS "):
            ok(True, "%s: %s" % (title, line[5:]))
        elif line.startswith("FAIL "):
            ok(False, "%s: %s" % (title, line[5:]))
        else:
            diag(line)
    if rc == "timeout":
        ok(False, "%s: the group ended within 120 s" % title)
    elif rc < 0:
        ok(False, "%s: the interpreter survived (killed by signal %d after %d checks)"
           % (title, -rc, len(lines)))
    else:
        ok(rc == 0 and lines, "%s: the interpreter survived and exited 0 (status %s)" % (title, rc))
    if rc != 0 and err:
        diag(err.decode("utf-8", "replace")[-2000:])


for title, body in GROUPS.items():
    run_group(title, body)

if os.path.isdir("/dev/shm"):
    left = [f for f in os.listdir("/dev/shm") if PREFIX in f]
    ok(not left, "no segment left behind by the groups: %s" % (left or "none"))
    for f in left:
        try:
            os.unlink(os.path.join("/dev/shm", f))
        except OSError:
            pass
done_testing()

"""dragonipc.channels in one process: the API, every exception path,
timeouts, ownership, destination messages and views."""

import gc
import pickle
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, unique

from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import (
    Channel, Message, ChannelSendH, ChannelRecvH, EventType, PollResult,
    OwnershipOnSend, copy_on_send, transfer_ownership_on_send,
    SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT,
    ChannelError, ChannelValueError, ChannelHandleNotOpenError, ChannelDestroyed,
    ChannelExistsError, ChannelTimeout, ChannelSendError, ChannelSendTimeout,
    ChannelFull, ChannelRecvError, ChannelRecvTimeout, ChannelEmpty)
from dragonipc import _dragonipc

pool = MemoryPool(8 << 20, unique("pych"), 7)
other = MemoryPool(2 << 20, unique("pych-other"), 8)

# ---- the exception hierarchy, as in Dragon -------------------------------------
for cls, bases in [
        (ChannelValueError, (ChannelError, ValueError)),
        (ChannelHandleNotOpenError, (ChannelError,)),
        (ChannelDestroyed, (ChannelError, EOFError)),
        (ChannelSendError, (ChannelError,)),
        (ChannelRecvError, (ChannelError,)),
        (ChannelFull, (ChannelSendError, TimeoutError)),
        (ChannelEmpty, (ChannelRecvError, TimeoutError)),
        (ChannelTimeout, (ChannelError, TimeoutError)),
        (ChannelSendTimeout, (ChannelSendError, ChannelTimeout, TimeoutError)),
        (ChannelRecvTimeout, (ChannelRecvError, ChannelTimeout, TimeoutError))]:
    ok(all(issubclass(cls, b) for b in bases),
       "%s is a %s" % (cls.__name__, ", ".join(b.__name__ for b in bases)))
e = pickle.loads(pickle.dumps(ChannelFull("could not send", _dragonipc.EFULL)))
ok(type(e) is ChannelFull and e.lib_err == _dragonipc.EFULL, "exceptions survive pickling")
ok("DIPC_EFULL" in str(e) and "full" in str(e), "an exception names its library error: %s" % e)

# ---- creation and attributes --------------------------------------------------
ch = Channel(pool, 1)
is_((ch.cuid, ch.capacity, ch.block_size), (1, 100, 1024), "default capacity and block size")
ok(ch.get_pool() is pool and ch.default_alloc_pool is pool, "the channel knows its pool")
small = Channel(pool, 2, block_size=256, capacity=2)
is_((small.capacity, small.block_size), (2, 256), "capacity and block_size are taken")
c3 = Channel.create(pool, 3, attr={"capacity": 5})
is_(c3.capacity, 5, "Channel.create takes attributes")
c3.destroy()
raises(ChannelExistsError, Channel, pool, 1, name="a taken id raises ChannelExistsError")
raises(ChannelValueError, Channel, pool, -1, name="a negative id raises ChannelValueError")
raises(ChannelValueError, Channel, pool, 9, block_size=0, name="block_size 0 is refused")
raises(ChannelValueError, Channel, pool, 9, capacity=1 << 30, name="a huge capacity is refused")
raises(TypeError, Channel, "pool", 9, name="mem_pool must be a MemoryPool")
tiny = MemoryPool(4096, unique("pych-tiny"), 9)
raises(ChannelError, Channel, tiny, 1, capacity=4000, block_size=1 << 20,
       name="a channel too big for its pool raises ChannelError")
tiny.destroy()
ok(Channel.create.__doc__ and ChannelSendH.send.__doc__ and Message.bytes_memview.__doc__,
   "public names have docstrings")

# ---- handles: open, close, not open --------------------------------------------
s = ch.sendh()
r = ch.recvh()
ok(isinstance(s, ChannelSendH) and isinstance(r, ChannelRecvH), "sendh/recvh make handles")
ok(not s.is_open and not r.is_open, "handles come unopened")
raises(ChannelHandleNotOpenError, s.send_bytes, b"x", name="sending on an unopened handle")
raises(ChannelHandleNotOpenError, r.recv_bytes, name="receiving on an unopened handle")
raises(ChannelHandleNotOpenError, s.close, name="closing an unopened handle")
s.open()
r.open()
s.send_bytes(b"hello")
is_(r.recv_bytes(), b"hello", "bytes go through")
with ch.sendh() as s2, ch.recvh() as r2:
    ok(s2.is_open and r2.is_open, "a handle opens in a with statement")
    s2.send_bytes(b"ctx")
    is_(r2.recv_bytes(), b"ctx", "and works there")
ok(not s2.is_open, "and closes at its end")
raises(ChannelValueError, ch.sendh, wait_mode=7, name="an unknown wait mode is refused")
for mode in (SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT):
    with ch.sendh(wait_mode=mode) as sm, ch.recvh(wait_mode=mode, timeout=0.01) as rm:
        sm.send_bytes(b"m")
        got = rm.recv_bytes()
        raises(ChannelRecvTimeout, rm.recv_bytes, name="%s: an empty wait times out" % mode.name)
    is_((got, sm.wait_mode), (b"m", mode), "%s handles work" % mode.name)

# ---- send_bytes arguments -------------------------------------------------------
s.send_bytes(b"abcdef", 3)
is_(r.recv_bytes(), b"abc", "msg_len sends a prefix")
s.send_bytes(bytearray(b"ba"), 0)
is_(r.recv_bytes(), b"ba", "msg_len 0 sends everything (bytearray)")
s.send_bytes(memoryview(b"xyzw")[1:3])
is_(r.recv_bytes(), b"yz", "a memoryview slice is sent")
s.send_bytes(b"")
is_(r.recv_bytes(), b"", "an empty payload goes through")
raises(ChannelValueError, s.send_bytes, b"ab", 3, name="msg_len past the data is refused")
raises(TypeError, s.send_bytes, "text", name="a str is not bytes")
big = bytes(range(256)) * 400
s.send_bytes(big)
is_(r.recv_bytes(), big, "a payload larger than the block (102400 bytes) goes through")
s.send_bytes(b"q" * 1024)
is_(r.recv_bytes(), b"q" * 1024, "a payload of exactly one block goes through")
roomless = MemoryPool(4096, unique("pych-roomless"), 0)
rc_ = Channel(roomless, 1, capacity=2, block_size=256)
with rc_.sendh() as rs:
    e = raises(ChannelSendError, rs.send_bytes, b"x" * (2 << 20),
               name="a payload the pool has no room for raises ChannelSendError")
    ok(e is not None and e.lib_err == _dragonipc.ENOSPC, "  ... carrying DIPC_ENOSPC")
rc_.destroy()
roomless.destroy()

# ---- full, empty and timeouts ---------------------------------------------------
ss, sr = small.sendh(), small.recvh()
ss.open()
sr.open()
ss.send_bytes(b"1")
ss.send_bytes(b"2")
e = raises(ChannelFull, ss.send_bytes, b"3", blocking=False, name="blocking=False on a full channel")
ok(e is not None and e.lib_err == _dragonipc.EFULL, "ChannelFull carries DIPC_EFULL")
raises(ChannelFull, ss.send_bytes, b"3", timeout=0, name="timeout=0 is the same as blocking=False")
raises(ChannelFull, ss.send_bytes, b"3", blocking=False, timeout=5,
       name="blocking=False tries once whatever the timeout")
t0 = time.monotonic()
raises(ChannelSendTimeout, ss.send_bytes, b"3", timeout=0.1, name="a positive timeout expires")
ok(time.monotonic() - t0 < 5, "a 0.1 s timeout returns in bounded time")
raises(ValueError, ss.send_bytes, b"3", timeout=-1, name="a negative timeout raises ValueError")
raises(ValueError, ss.send_bytes, b"3", blocking=False, timeout=-0.5,
       name="a negative timeout raises even when not blocking")
raises(ValueError, ss.send_bytes, b"3", timeout="soon", name="a timeout that is not a number")
with small.sendh(timeout=0.05) as sd:
    raises(ChannelSendTimeout, sd.send_bytes, b"3", name="a handle's default timeout applies")
    is_(sd.default_timeout, 0.05, "the handle reports its default timeout")
    raises(ChannelFull, sd.send_bytes, b"3", timeout=0, name="an explicit timeout overrides it")
with small.sendh(timeout=0) as sd:
    raises(ChannelFull, sd.send_bytes, b"3", name="a default timeout of 0 tries once")
    raises(ChannelSendTimeout, sd.send_bytes, b"3",
           timeout=0.02,
           name="a positive override waits")
# timeout=None blocks until room appears
threading.Timer(0.2, sr.recv_bytes).start()
with small.sendh(timeout=0) as sd:
    sd.send_bytes(b"3", timeout=None)
ok(True, "timeout=None waited until a receiver made room")
is_([sr.recv_bytes(), sr.recv_bytes()], [b"2", b"3"], "FIFO order is kept")
e = raises(ChannelEmpty, sr.recv_bytes, blocking=False, name="an empty channel, tried once")
raises(ChannelEmpty, sr.recv, timeout=0, name="recv with timeout 0")
raises(ChannelRecvTimeout, sr.recv_bytes, timeout=0.05, name="a receive timeout expires")
raises(ChannelRecvTimeout, sr.recv, timeout=0.05, name="recv's timeout expires")
with small.recvh(timeout=0.05) as rd:
    raises(ChannelRecvTimeout, rd.recv_bytes, name="a receive handle's default timeout")
    raises(ChannelRecvTimeout, rd.recv_bytes, timeout=ChannelRecvH.USE_CHANNEL_RECVH_DEFAULT,
           name="the default sentinel given explicitly")
threading.Timer(0.2, ss.send_bytes, args=(b"late",)).start()
is_(sr.recv_bytes(timeout=None), b"late", "a receive with timeout=None waits for a sender")

# ---- poll --------------------------------------------------------------------
ok(not small.poll(timeout=0), "POLLIN on an empty channel, looked at once: False")
ok(small.poll(timeout=0, event_mask=EventType.POLLEMPTY), "POLLEMPTY holds")
ok(small.poll(timeout=0, event_mask=EventType.POLLOUT), "POLLOUT holds")
ok(not small.poll(timeout=0.05), "POLLIN with a timeout: False when it expires")
ss.send_bytes(b"a")
ss.send_bytes(b"b")
pr = PollResult()
ok(small.poll(timeout=0, event_mask=EventType.POLLFULL, poll_result=pr), "POLLFULL holds")
ok(small.poll(event_mask=EventType.POLLSIZE, poll_result=pr) and pr.value == 2,
   "POLLSIZE reports the count")
is_(small.num_msgs, 2, "num_msgs counts messages")
raises(ValueError, small.poll, event_mask=EventType.POLLNOTHING, name="POLLNOTHING is refused")
raises(ValueError, small.poll, event_mask=99, name="an unknown event is refused")
sr.recv_bytes()
sr.recv_bytes()
threading.Timer(0.2, ss.send_bytes, args=(b"p",)).start()
ok(small.poll(timeout=10), "a blocked poll wakes when a message arrives")
sr.recv_bytes()

# ---- messages: ownership, destinations, views -----------------------------------
base = pool.num_allocs
m = Message.create_alloc(pool, 100)
is_((m.size, m.is_empty), (100, False), "create_alloc makes a message of that size")
v = m.bytes_memview()
v[0:4] = b"data"
s.send(m)
ok(not m.is_empty, "copy_on_send leaves the message the sender's")
got = r.recv()
is_(got.tobytes()[:4], b"data", "recv returns a Message with the payload")
got.destroy()
s.send(m, ownership=transfer_ownership_on_send)
ok(m.is_empty, "transfer_ownership_on_send leaves the message empty")
is_(bytes(v[0:4]), b"data", "a view taken before the transfer still reads its bytes")
got = r.recv()
is_(got.tobytes()[:4], b"data", "the transferred payload arrives")
got.destroy()
del v
m.destroy()
gc.collect()
is_(pool.num_allocs, base, "every allocation went back to the pool")

m = Message.create_alloc(pool, 5000)
m.bytes_memview()[:] = b"z" * 5000
s.send(m, ownership=OwnershipOnSend.transfer_ownership_on_send)
ok(m.is_empty, "a transfer without live views leaves the message empty")
got = r.recv()
is_((got.size, got.tobytes()[-1:]), (5000, b"z"), "a large transferred payload arrives whole")
got.destroy()
raises(ChannelValueError, s.send, m, ownership=transfer_ownership_on_send,
       name="an empty message cannot be transferred")
raises(ChannelValueError, s.send, m, ownership=5, name="an unknown ownership is refused")
m.destroy()

src = Message.create_alloc(pool, 10)
src.bytes_memview()[:] = b"0123456789"
dest = Message.create_alloc(pool, 64)
s.send(src, dest)
ok(dest.is_empty and not src.is_empty, "send(msg, dest) sends dest's allocation, src stays")
into = Message.create_empty()
r.recv(into)
is_(into.tobytes(), b"0123456789", "an empty destination takes the payload (its size too)")
raises(ChannelValueError, s.send, src, src, name="dest_msg must not be the message")
raises(ChannelValueError, s.send, src, dest, name="an empty dest_msg is refused")
small_dest = Message.create_alloc(pool, 4)
raises(ChannelValueError, s.send, src, small_dest, name="a dest_msg too small is refused")
# a destination with a live view: the view keeps the bytes, the send still works
dest = Message.create_alloc(pool, 64)
dv = dest.bytes_memview()
s.send(src, dest)
ok(dest.is_empty, "a dest_msg with a live view is still left empty")
is_(bytes(dv[:10]), b"0123456789", "and its view shows the payload")
del dv
is_(r.recv_bytes(), b"0123456789", "the payload arrives")
# receiving into a message with memory
box = Message.create_alloc(pool, 4)
s.send_bytes(b"0123456789")
raises(ChannelRecvError, r.recv, box, name="a payload larger than dest_msg raises ChannelRecvError")
is_(ch.num_msgs, 1, "and leaves the message in the channel")
s2 = Message.create_alloc(pool, 3)
s2.bytes_memview()[:] = b"abc"
r.recv_bytes()
s.send(s2)
r.recv(box)
is_((box.size, box.tobytes()), (3, b"abc"), "receiving into memory copies and sets the size")
# a message from another pool: sent by copy, semantics kept
far = Message.create_alloc(other, 16)
far.bytes_memview()[:] = b"F" * 16
s.send(far, ownership=transfer_ownership_on_send)
ok(far.is_empty, "transferring a message of another pool leaves it empty too")
is_(r.recv_bytes(), b"F" * 16, "and its payload arrives")
far_dest = Message.create_alloc(other, 16)
s.send(s2, far_dest)
ok(far_dest.is_empty, "a dest_msg of another pool is handled")
is_(r.recv_bytes(), b"abc", "and its payload arrives")
s.send_bytes(b"to-dest", dest_msg=Message.create_alloc(pool, 8))
is_(r.recv_bytes(), b"to-dest", "send_bytes with a dest_msg")
for x in (src, into, small_dest, box, s2, far, far_dest, dest):
    x.destroy()

# views after destroy
gc.collect()
base = pool.num_allocs
m = Message.create_alloc(pool, 32)
v = m.bytes_memview()
sub = v[8:16]
m.destroy()
ok(m.is_destroyed, "destroy() with a live view destroys the message")
sub[:] = b"still ok"
is_(bytes(v[8:16]), b"still ok", "its views stay usable: the memory is kept")
is_(pool.num_allocs, base + 1, "the allocation is kept while views exist")
del v
is_(pool.num_allocs, base + 1, "a slice still holds it")
del sub
is_(pool.num_allocs, base, "releasing the last view frees the allocation")
raises(ChannelValueError, m.bytes_memview, name="bytes_memview on a destroyed message")
raises(ChannelValueError, m.destroy, name="destroying twice")
raises(ChannelValueError, s.send, m, name="sending a destroyed message")
raises(ChannelValueError, Message.create_empty().bytes_memview, name="an empty message has no view")
m = Message.create_alloc(pool, 8)
with m.bytes_memview() as v:
    v[:] = b"released"
is_(m.tobytes(), b"released", "a view released early leaves the message intact")
del m
gc.collect()
is_(pool.num_allocs, base, "a message collected without destroy() frees its allocation")
m = Message.create_alloc(pool, 8)
m.destroy(free_mem=False)
is_(pool.num_allocs, base + 1, "destroy(free_mem=False) leaves the allocation in the pool")
raises(ChannelValueError, Message.create_alloc, pool, 0, name="a zero-byte message is refused")

# ---- attach, pickle, detach, destroy ------------------------------------------
ser = ch.serialize()
ok(isinstance(ser, bytes) and len(ser) > 0, "serialize gives bytes")
ch2 = Channel.attach(ser)
ok(ch2.cuid == 1 and not ch2.is_creator, "attach finds the channel")
with ch2.sendh() as s3:
    s3.send_bytes(b"via attach")
is_(r.recv_bytes(), b"via attach", "an attached copy reaches the same queue")
ch3 = Channel.attach(ser, mem_pool=other)
ok(ch3.default_alloc_pool is other, "attach with another pool uses it for allocations")
ch4 = pickle.loads(pickle.dumps(ch))
with ch4.sendh() as s4:
    s4.send_bytes(b"pickled")
is_(r.recv_bytes(), b"pickled", "a pickled channel works")
raises(ChannelError, Channel.attach, b"garbage" * 10, name="attaching garbage raises ChannelError")
raises(ChannelError, Channel.attach, b"", name="attaching nothing raises ChannelError")
h = ch2.sendh()
ch2.detach(serialize=True)
is_(ch2.serialize(), ser, "detach(serialize=True) keeps the descriptor")
raises(ChannelValueError, ch2.sendh, name="no new handles on a detached channel")
h.open()
h.send_bytes(b"old handle")
is_(r.recv_bytes(), b"old handle", "handles made before detach keep working")
del h
ch2.detach()
ok(True, "detaching twice is harmless")
ch3.detach()
ch4.detach()

with Channel(pool, 40) as cm:
    ser40 = cm.serialize()
ok(cm.is_destroyed, "a channel used as a context manager is destroyed by its creator")
raises(ChannelError, Channel.attach, ser40, name="a destroyed channel cannot be attached")

# destroying with handles open
dch = Channel(pool, 41)
ds, dr = dch.sendh(), dch.recvh()
ds.open()
dr.open()
waiter_error = []


def blocked_receiver():
    try:
        dr.recv_bytes(timeout=10)
    except Exception as exc:
        waiter_error.append(exc)


th = threading.Thread(target=blocked_receiver)
th.start()
time.sleep(0.2)
dch.destroy()
th.join(10)
ok(not th.is_alive() and waiter_error and isinstance(waiter_error[0], ChannelDestroyed),
   "destroy wakes a blocked receiver with ChannelDestroyed")
raises(ChannelDestroyed, ds.send_bytes, b"x", name="sending on a destroyed channel")
raises(EOFError, dr.recv_bytes, name="ChannelDestroyed is an EOFError")
raises(ChannelDestroyed, dch.destroy, name="destroying twice raises ChannelDestroyed")
raises(ChannelDestroyed, ds.open, name="opening a handle of a destroyed channel")

# ---- several threads on one receive handle --------------------------------------
N = 400
results = []
lock = threading.Lock()


def consumer():
    mine = []
    while True:
        data = r.recv_bytes(timeout=10)
        if data == b"stop":
            break
        mine.append(data)
    with lock:
        results.extend(mine)


threads = [threading.Thread(target=consumer) for _ in range(3)]
for t in threads:
    t.start()
for i in range(N):
    s.send_bytes(b"%d" % i + (b"." * (i % 3000)))
for t in threads:
    s.send_bytes(b"stop")
for t in threads:
    t.join(30)
is_(sorted(int(x.rstrip(b".")) for x in results), list(range(N)),
    "three threads sharing a receive handle get every message once")

s.close()
r.close()
ss.close()
sr.close()
small.destroy()
ch.destroy()
pool.destroy()
other.destroy()
done_testing()

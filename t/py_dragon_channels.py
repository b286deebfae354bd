"""Dragon's channels API, name by name, and the behaviour Dragon's own
channel tests assert.

Every public name of Dragon's dragon.channels, dragon.managed_memory and
dragon.dtypes modules (listed here from Dragon's .pyx sources) must import
from dragonipc; names that another part of issue #13 adds and that are not
there yet are skipped with a TODO that says so.  Then the behaviour: the
checks Dragon makes on channel arguments (OverflowError for ids, the
256-byte block minimum), the lifecycle (a detached object revived by
attaching its descriptor), descriptors read without attaching, poll's
arguments and results, wait modes numbered as Dragon's, semaphore
channels, process-local channels, the file adapters and the rest.

Each group runs in its own interpreter, so that a crash is a failure of
that group and not the end of this test; groups that use several
processes fork them (and are skipped where fork() is missing).
"""

import os
import subprocess
import sys

from taplib import ok, diag, done_testing

PREFIX = "pydch-%d" % os.getpid()

PRELUDE = r'''
import gc, os, pickle, sys, time
import multiprocessing as mp
import dragonipc
from dragonipc import _dragonipc
from dragonipc import channels, managed_memory, dtypes
from dragonipc.managed_memory import MemoryPool, MemoryAlloc
from dragonipc.channels import *

PREFIX = sys.argv[1]
_n = [0]

def name(tag):
    _n[0] += 1
    return "%s-%s-%d" % (PREFIX, tag, _n[0])

def report(good, label, detail=""):
    print("%s %s%s" % ("PASS" if good else "FAIL", label, (" -- " + detail) if detail else ""),
          flush=True)

def skip(label, why):
    print("SKIP %s # %s" % (label, why), flush=True)

def check(label, fn, *wanted):
    try:
        fn()
    except wanted as e:
        report(True, label, "%s: %s" % (type(e).__name__, e))
        return e
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
    return None

def works(label, fn):
    try:
        fn()
    except BaseException as e:
        report(False, label, "raised %s: %s" % (type(e).__name__, e))
    else:
        report(True, label)

HAVE_FORK = hasattr(os, "fork")
ctx = mp.get_context("fork") if HAVE_FORK else None

def run_children(target, args_list, timeout=60):
    """Start one forked child per args, wait, return their exit codes."""
    procs = [ctx.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    codes = []
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
            codes.append("hung")
        else:
            codes.append(p.exitcode)
    return codes
'''

GROUPS = {}

# ---- every public name -----------------------------------------------------------

GROUPS["names"] = r'''
# Public names of Dragon's src/dragon/pydragon_channels.pyx.  Module-level
# names include the members of its cpdef enums, which Cython exports too.
CHANNELS = """
ChannelError ChannelTimeout ChannelHandleNotOpenError ChannelSendError ChannelSendTimeout
ChannelValueError ChannelFull ChannelRecvError ChannelRecvTimeout ChannelEmpty
ChannelExistsError ChannelRemoteOperationNotSupported ChannelDestroyed
register_gateways_from_env discard_gateways
Message OwnershipOnSend copy_on_send transfer_ownership_on_send
LockType FIFO LITE GREEDY
EventType POLLNOTHING POLLIN POLLOUT POLLINOUT POLLEMPTY POLLFULL POLLSIZE
POLLBLOCKED_RECEIVERS SEMAPHORE_P SEMAPHORE_V SEMAPHORE_VZ SEMAPHORE_PEEK
FlowControl NO_FLOW_CONTROL RESOURCES_FLOW_CONTROL MEMORY_FLOW_CONTROL MSGS_FLOW_CONTROL
ChannelFlags NO_FLAGS MASQUERADE_AS_REMOTE
ChannelSendH ChannelRecvH PollResult Channel
ChannelAdapterMsgTypes EOT PICKLE_PROT_5 RAW_BYTES
Peer2PeerWritingChannelFile Peer2PeerReadingChannelFile
Many2ManyReadingChannelFile Many2ManyWritingChannelFile GatewayMessage
BUF_READ BUF_WRITE SPIN_WAIT IDLE_WAIT ADAPTIVE_WAIT
ChannelBarrierBroken ChannelBarrierReady ChannelSetError ChannelSetTimeout ChannelSet
POLLRESET POLLBARRIER POLLBARRIER_ABORT POLLBARRIER_RELEASE POLLBARRIER_ISBROKEN
POLLBARRIER_WAITERS
""".split()
# Public names of Dragon's src/dragon/pydragon_managed_memory.pyx.
MANAGED_MEMORY = """
DragonMemoryError DragonPoolError DragonPoolCreateFail DragonPoolAttachFail
DragonPoolDetachFail DragonPoolAllocationNotAvailable MemoryPool
DragonMemoryTypeError PoolType AllocType DRAGON_MEMORY_DEFAULT_TIMEOUT MemoryPoolAttr
MemoryAlloc MemoryAllocations
""".split()
# Public names of Dragon's src/dragon/pydragon_dtypes.pyx.
DTYPES = """
get_rc_string getlasterrstr WaitMode IDLE_WAIT SPIN_WAIT ADAPTIVE_WAIT DEFAULT_WAIT_MODE
ReturnWhen WHEN_IMMEDIATE WHEN_BUFFERED WHEN_DEPOSITED WHEN_RECEIVED
RecvNotifType RECV_SYNC_SIGNAL RECV_SYNC_MANUAL DragonException DragonObjectDestroyed
""".split()

def names(module, want):
    for n in want:
        report(hasattr(module, n), "%s.%s imports" % (module.__name__, n))

names(channels, CHANNELS)
names(managed_memory, MANAGED_MEMORY)
names(dtypes, DTYPES)
# The star-import of a Dragon program must bring the names too.
ns = {}
exec("from dragonipc.channels import *", ns)
report(all(n in ns for n in CHANNELS), "from dragonipc.channels import * brings every name")

# Methods, properties and class attributes of Dragon's classes.
MEMBERS = {
    Channel: """serialize attach detach destroy sendh recvh get_pool poll cuid capacity
        block_size fc_type lock_type num_msgs default_alloc_pool is_local serialized_uid
        serialized_uid_type serialized_pool_uid_fname make_process_local
        destroy_process_local __enter__ __exit__ blocked_receivers broken_barrier
        barrier_count""",
    ChannelSendH: """USE_CHANNEL_SENDH_DEFAULT copy_on_send transfer_ownership_on_send open
        close send send_bytes __enter__ __exit__ __getstate__ __setstate__""",
    ChannelRecvH: """USE_CHANNEL_RECVH_DEFAULT open close recv recv_bytes __enter__ __exit__
        __getstate__ __setstate__""",
    Message: """create_empty create_alloc create_from_mem destroy clear_payload bytes_memview
        tobytes hints clientid""",
    PollResult: "value rc",
    Peer2PeerWritingChannelFile: """open write write_raw_header write_eot flush close
        __enter__ __exit__""",
    Peer2PeerReadingChannelFile: """open set_side_buf check_header advance_raw_header read
        readinto readline close __enter__ __exit__""",
    Many2ManyWritingChannelFile: "open close write set_adapter_timeout __enter__ __exit__",
    Many2ManyReadingChannelFile: """open close read readinto readline set_adapter_timeout
        get_remaining_data __enter__ __exit__""",
    GatewayMessage: "from_message silence_transport_timeouts",
}
probe = PollResult()
for cls, members in MEMBERS.items():
    for m in members.split():
        obj = probe if cls is PollResult else cls
        report(hasattr(obj, m), "%s.%s exists" % (cls.__name__, m))

# Dragon's numbers.
same("EventType numbers", lambda: [int(e) for e in (POLLNOTHING, POLLIN, POLLOUT, POLLINOUT,
     POLLEMPTY, POLLFULL, POLLSIZE, POLLBLOCKED_RECEIVERS, SEMAPHORE_P, SEMAPHORE_V,
     SEMAPHORE_VZ, SEMAPHORE_PEEK)], [0, 1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17])
same("POLLIN | POLLOUT is POLLINOUT", lambda: POLLIN | POLLOUT, POLLINOUT)
same("LockType numbers", lambda: [int(FIFO), int(LITE), int(GREEDY)], [0, 1, 2])
same("FlowControl numbers", lambda: [int(x) for x in FlowControl], [0, 1, 2, 3])
same("ChannelFlags numbers", lambda: [int(NO_FLAGS), int(MASQUERADE_AS_REMOTE)], [0, 1])
same("OwnershipOnSend numbers", lambda: [int(copy_on_send), int(transfer_ownership_on_send)], [0, 1])
same("ChannelAdapterMsgTypes numbers", lambda: [int(EOT), int(PICKLE_PROT_5), int(RAW_BYTES)],
     [0, 1, 2])
same("WaitMode numbers (IDLE, SPIN, ADAPTIVE)", lambda: [dtypes.IDLE_WAIT.value,
     dtypes.SPIN_WAIT.value, dtypes.ADAPTIVE_WAIT.value], [0, 1, 2])
same("DEFAULT_WAIT_MODE is ADAPTIVE_WAIT", lambda: dtypes.DEFAULT_WAIT_MODE, dtypes.ADAPTIVE_WAIT)
same("ReturnWhen numbers", lambda: [int(w) for w in (dtypes.WHEN_IMMEDIATE, dtypes.WHEN_BUFFERED,
     dtypes.WHEN_DEPOSITED, dtypes.WHEN_RECEIVED)], [0, 1, 2, 3])
same("RecvNotifType numbers", lambda: [int(dtypes.RECV_SYNC_SIGNAL), int(dtypes.RECV_SYNC_MANUAL)],
     [0, 1])
same("channels' wait modes are dtypes'", lambda: (SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT),
     (dtypes.SPIN_WAIT, dtypes.IDLE_WAIT, dtypes.ADAPTIVE_WAIT))
same("copy_on_send on the send handle", lambda: (ChannelSendH.copy_on_send,
     ChannelSendH.transfer_ownership_on_send), (copy_on_send, transfer_ownership_on_send))
same("the handle default sentinels", lambda: (ChannelSendH.USE_CHANNEL_SENDH_DEFAULT,
     ChannelRecvH.USE_CHANNEL_RECVH_DEFAULT), ("USE_CHANNEL_SENDH_DEFAULT",
     "USE_CHANNEL_RECVH_DEFAULT"))

# The exception hierarchy Dragon's programs catch.
for sub, base in ((ChannelTimeout, TimeoutError), (ChannelSendTimeout, TimeoutError),
                  (ChannelRecvTimeout, TimeoutError), (ChannelFull, ChannelSendError),
                  (ChannelFull, TimeoutError), (ChannelEmpty, ChannelRecvError),
                  (ChannelEmpty, TimeoutError), (ChannelValueError, ValueError),
                  (ChannelDestroyed, EOFError), (ChannelDestroyed, dtypes.DragonObjectDestroyed),
                  (ChannelError, dtypes.DragonException),
                  (managed_memory.DragonMemoryError, dtypes.DragonException),
                  (ChannelRemoteOperationNotSupported, ChannelError),
                  (ChannelExistsError, ChannelError), (ChannelHandleNotOpenError, ChannelError)):
    report(issubclass(sub, base), "%s is a %s" % (sub.__name__, base.__name__))
e = ChannelError("msg", -6, "lib message", "lib error")
report(e.lib_err == -6, "ChannelError takes Dragon's (msg, lib_err, lib_msg, lib_err_str)")
same("get_rc_string names a code", lambda: dtypes.get_rc_string(_dragonipc.EFULL), "DIPC_EFULL")
same("getlasterrstr is a str", lambda: type(dtypes.getlasterrstr()), str)
'''

# ---- what Channel() checks --------------------------------------------------------

GROUPS["creation checks"] = r'''
p = MemoryPool(1 << 24, name("p"), 1)
for bad in (-1, -2**70, 2**64, 2**70):
    e = check("c_uid %d raises OverflowError" % bad, lambda: Channel(p, bad), OverflowError)
    report(isinstance(e, ChannelError) and isinstance(e, ValueError),
           "  ... which is also a ChannelError and a ValueError")
check("a str c_uid raises TypeError", lambda: Channel(p, "0"), TypeError)
check("a float c_uid raises TypeError", lambda: Channel(p, 1.5), TypeError)
works("c_uid 0", lambda: Channel(p, 0).destroy())
works("c_uid 2**64-1", lambda: Channel(p, 2**64 - 1).destroy())
check("Channel() raises TypeError", lambda: Channel(), TypeError)
check("a non-pool raises TypeError", lambda: Channel("pool", 1), TypeError)
for bs in (1, 10, 255):
    check("block_size %d (below Dragon's 256) raises ChannelError" % bs,
          lambda: Channel(p, 1, block_size=bs), ChannelError)
for bs in (0, -1, 1.5, "256", True):
    check("block_size %r raises ChannelError" % (bs,), lambda: Channel(p, 1, block_size=bs),
          ChannelError)
for cap in (0, -3, 2.0):
    check("capacity %r raises ChannelError" % (cap,), lambda: Channel(p, 1, block_size=256,
          capacity=cap), ChannelError)
same("nothing was left in the pool by the refusals", lambda: p.num_channels, 0)
ch = Channel(p, 1, block_size=256, capacity=10)
same("capacity and block_size as given", lambda: (ch.capacity, ch.block_size), (10, 256))
same("lock_type and fc_type default to Dragon's (LITE, NO_FLOW_CONTROL)",
     lambda: (ch.lock_type, ch.fc_type), (LockType.LITE, FlowControl.NO_FLOW_CONTROL))
check("a c_uid in use raises ChannelError", lambda: Channel(p, 1), ChannelError)
ch.destroy()
ch = Channel(p, 1, fc_type=FlowControl.RESOURCES_FLOW_CONTROL, lock_type=LockType.GREEDY,
             flags=ChannelFlags.MASQUERADE_AS_REMOTE, max_spinners=5, max_event_bcasts=2)
same("lock_type and fc_type are reported back", lambda: (ch.lock_type, ch.fc_type),
     (LockType.GREEDY, FlowControl.RESOURCES_FLOW_CONTROL))
with ch.sendh() as s, ch.recvh() as r:
    s.send_bytes(b"\x01")
    same("a channel with every Dragon option works", lambda: r.recv_bytes(timeout=5), b"\x01")
ch.destroy()
works("flags as a plain int", lambda: Channel(p, 2, flags=1).destroy())
for kw in ({"lock_type": 2}, {"lock_type": "FIFO"}, {"fc_type": 1}, {"flags": "x"},
           {"max_spinners": -1}, {"max_spinners": 1.5}, {"max_event_bcasts": -1},
           {"semaphore": True, "bounded_semaphore": True}):
    check("Channel(pool, 3, **%r) raises ChannelError" % (kw,), lambda: Channel(p, 3, **kw),
          ChannelError)
same("and left nothing behind", lambda: p.num_channels, 0)
d = MemoryPool(1 << 22, name("d"), 7)
ch = Channel(p, 4, def_alloc_pool=d)
report(ch.default_alloc_pool is d and ch.get_pool() is p, "def_alloc_pool sets default_alloc_pool")
check("a def_alloc_pool that is no pool raises TypeError", lambda: Channel(p, 5, def_alloc_pool=3),
      TypeError)
ch.destroy()
d.destroy()
p.destroy()
'''

# ---- lifecycle --------------------------------------------------------------------

GROUPS["lifecycle"] = r'''
p = MemoryPool(1 << 24, name("p"), 1)
ch = Channel(p, 1)
ch.destroy()
check("serialize after destroy raises ChannelError", lambda: ch.serialize(), ChannelError)
check("destroy twice raises ChannelDestroyed", lambda: ch.destroy(), ChannelDestroyed)
for i in range(10):
    ch = Channel(p, 1)
    ch.destroy()
report(p.num_channels == 0, "create and destroy ten times over: nothing left")

# Dragon's test_serialize_after_detach: the discarded attach revives ch.
ch = Channel(p, 1)
ch.detach(serialize=True)
ser = ch.serialize()
report(isinstance(ser, bytes) and len(ser) > 0, "serialize() answers after detach(serialize=True)")
check("a detached object cannot make handles", lambda: ch.sendh(), ChannelError)
ch.attach(ser)
gc.collect()
report(ch.is_attached, "attaching its descriptor again revives the detached object")
with ch.sendh() as s_, ch.recvh() as r_:
    s_.send_bytes(b"r")
    same("the revived object sends and receives", lambda: r_.recv_bytes(timeout=5), b"r")
works("the revived object destroys the channel", lambda: ch.destroy())
check("the channel is gone: attaching its descriptor fails", lambda: Channel.attach(ser),
      ChannelError)
report(p.num_channels == 0, "no channel left in the pool")

# A plain detach() too; several detached objects come back at once.
ch = Channel(p, 2)
ser = ch.serialize()
other = Channel.attach(ser)
ch.detach()
other.detach()
report(not ch.is_attached and not other.is_attached, "both objects detached")
third = Channel.attach(ser)
report(ch.is_attached and other.is_attached, "one attach revives both")
third.detach()
report(ch.is_attached, "detaching the new object leaves the revived ones alone")
other.detach()
ch.destroy()
report(p.num_channels == 0, "destroyed through the revived creator")

# Dragon's test_serialize_lifecycle: the object dies detached, the channel lives.
ch = Channel(p, 3)
ch.detach(serialize=True)
ser = ch.serialize()
del ch
gc.collect()
works("attach after the detached object was deleted, then destroy",
      lambda: Channel.attach(ser).destroy())

# Dragon's test_with_stmt_on_attach: leaving the with of an attached object detaches it.
ch = Channel(p, 4)
ser = ch.serialize()
with ch.sendh() as s:
    s.send_bytes(b"\x01")
with Channel.attach(ser) as ch2:
    with ch2.recvh() as r:
        same("the attached object receives", lambda: r.recv_bytes(timeout=5), b"\x01")
report(not ch2.is_attached and ch.is_attached, "leaving the with detached the attached object only")
works("destroy through a fresh attach", lambda: Channel.attach(ser).destroy())
gc.collect()

# Descriptors read without keeping the channel attached.
ch = Channel(p, 90210)
ser = ch.serialize()
same("serialized_uid", lambda: Channel.serialized_uid(ser), 90210)
same("serialized_uid_type", lambda: Channel.serialized_uid_type(ser), (90210, 1))
got = Channel.serialized_pool_uid_fname(ser)
report(got[0] == 1 and isinstance(got[1], str) and p.name in got[1],
       "serialized_pool_uid_fname gives the pool's uid and its segment name", repr(got))
check("serialized_uid of a descriptor that is not one", lambda: Channel.serialized_uid(b"x" * 40),
      ChannelError)
ch.destroy()
check("serialized_uid of a destroyed channel's descriptor (read by attaching)",
      lambda: Channel.serialized_uid(ser), ChannelError)

# get_pool gives a usable pool.
ch = Channel(p, 5)
pool = ch.get_pool()
report(isinstance(pool, MemoryPool) and pool.is_attached, "get_pool() is an attached MemoryPool")
m = Message.create_alloc(pool, 512)
m.destroy()
ch.destroy()
p.destroy()
'''

# ---- poll --------------------------------------------------------------------------

GROUPS["poll"] = r'''
p = MemoryPool(1 << 24, name("p"), 1)
ch = Channel(p, 1, capacity=2)
t0 = time.monotonic()
same("poll(timeout=0.4) on an empty channel is False", lambda: ch.poll(timeout=0.4), False)
report(time.monotonic() - t0 >= 0.4, "  ... after at least the timeout")
same("POLLIN tried once is False", lambda: ch.poll(timeout=0, event_mask=EventType.POLLIN), False)
same("POLLIN|POLLOUT is True on an empty channel",
     lambda: ch.poll(timeout=0, event_mask=EventType.POLLIN | EventType.POLLOUT), True)
same("POLLEMPTY is True", lambda: ch.poll(timeout=0, event_mask=POLLEMPTY), True)
same("POLLFULL is False", lambda: ch.poll(timeout=0, event_mask=POLLFULL), False)
r = PollResult()
ch.poll(timeout=0, event_mask=POLLIN, poll_result=r)
same("a poll that times out leaves value 0 and rc the timeout code", lambda: (r.value, r.rc),
     (0, _dragonipc.ETIMEDOUT))
s = ch.sendh()
s.open()
s.send_bytes(b"a")
s.send_bytes(b"b")
same("num_msgs", lambda: ch.num_msgs, 2)
r = PollResult()
same("POLLSIZE returns True", lambda: ch.poll(event_mask=POLLSIZE, poll_result=r), True)
same("  ... with the count in value and rc 0", lambda: (r.value, r.rc), (2, 0))
same("POLLFULL is True when full", lambda: ch.poll(timeout=0, event_mask=POLLFULL), True)
same("POLLOUT is False when full", lambda: ch.poll(timeout=0, event_mask=POLLOUT), False)
r = PollResult()
same("POLLIN with a poll_result", lambda: ch.poll(timeout=0, event_mask=POLLIN, poll_result=r), True)
same("  ... rc 0", lambda: r.rc, 0)
same("poll() waits forever by default and a message is there", lambda: ch.poll(), True)
same("str(PollResult)", lambda: str(PollResult(3, 0)), "PollResult(3,0)")
check("POLLNOTHING raises ValueError", lambda: ch.poll(event_mask=POLLNOTHING), ValueError)
check("a negative event_mask raises ValueError", lambda: ch.poll(event_mask=-1), ValueError)
check("an unknown event_mask raises ChannelValueError", lambda: ch.poll(event_mask=99),
      ChannelValueError)
check("a negative timeout raises ValueError", lambda: ch.poll(timeout=-1), ValueError)
check("a str timeout raises ValueError", lambda: ch.poll(timeout="1"), ValueError)
check("an unknown wait_mode raises ValueError", lambda: ch.poll(timeout=0, wait_mode=9), ValueError)
for mode in (SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT):
    same("poll with %s" % mode.name, lambda: ch.poll(timeout=0, wait_mode=mode), True)
if hasattr(Channel, "blocked_receivers"):
    r = PollResult()
    same("POLLBLOCKED_RECEIVERS with none blocked", lambda: (ch.poll(event_mask=POLLBLOCKED_RECEIVERS,
         poll_result=r), r.value), (True, 0))
else:
    check("POLLBLOCKED_RECEIVERS without the count says so", lambda: ch.poll(
          event_mask=POLLBLOCKED_RECEIVERS), ChannelError)
s.close()
ch.destroy()
check("poll of a destroyed channel raises ChannelDestroyed", lambda: ch.poll(timeout=0),
      ChannelDestroyed)
p.destroy()
'''

# ---- handles and dtypes -----------------------------------------------------------------

GROUPS["handles"] = r'''
p = MemoryPool(1 << 24, name("p"), 1)
ch = Channel(p, 1)
for mode in (dtypes.IDLE_WAIT, dtypes.SPIN_WAIT, dtypes.ADAPTIVE_WAIT, 0, 1, 2):
    with ch.sendh(wait_mode=mode) as s, ch.recvh(wait_mode=mode) as r:
        s.send_bytes(b"w")
        same("handles with wait_mode %r send and receive" % (mode,),
             lambda: (r.recv_bytes(timeout=5), s.wait_mode, r.wait_mode), (b"w", mode, mode))
for bad in (3, -1, "IDLE"):
    check("wait_mode %r raises ValueError" % (bad,), lambda: ch.sendh(wait_mode=bad),
          ValueError, TypeError)
for rm in dtypes.ReturnWhen:
    with ch.sendh(return_mode=rm) as s, ch.recvh() as r:
        s.send_bytes(b"x")
        same("return_mode %s: the message is in the channel when send returns" % rm.name,
             lambda: (ch.num_msgs, r.recv_bytes(timeout=0)), (1, b"x"))
for bad in (4, -1, "WHEN_BUFFERED", 1.0):
    check("return_mode %r raises ValueError" % (bad,), lambda: ch.sendh(return_mode=bad), ValueError)
for nt in (dtypes.RECV_SYNC_MANUAL, dtypes.RECV_SYNC_SIGNAL):
    works("notification_type %s" % nt.name, lambda: ch.recvh(notification_type=nt))
check("notification_type 7 raises ValueError", lambda: ch.recvh(notification_type=7), ValueError)
check("a str signal raises ValueError", lambda: ch.recvh(signal="SIGUSR1"), ValueError)
works("an int signal", lambda: ch.recvh(signal=10))
works("ChannelSendH(ch) and ChannelRecvH(ch) directly", lambda: (ChannelSendH(ch), ChannelRecvH(ch)))
s = ch.sendh()
for how, fn in (("pickle", lambda: pickle.dumps(s)), ("__getstate__", lambda: s.__getstate__()),
                ("__setstate__", lambda: s.__setstate__(None))):
    e = check("%s of a send handle raises NotImplementedError" % how, fn, NotImplementedError)
    report(isinstance(e, TypeError), "  ... which is also a TypeError")
check("pickle of a receive handle raises NotImplementedError",
      lambda: pickle.dumps(ch.recvh()), NotImplementedError)
r = ch.recvh()
check("recv on an unopened handle", lambda: r.recv(), ChannelHandleNotOpenError)
check("recv_bytes on an unopened handle", lambda: r.recv_bytes(timeout=1), ChannelHandleNotOpenError)
r.open()
check("recv(timeout=0.2) times out", lambda: r.recv(timeout=0.2), ChannelRecvTimeout)
check("recv(timeout=0) is ChannelEmpty", lambda: r.recv(timeout=0), ChannelEmpty)
check("recv(blocking=False) is ChannelEmpty", lambda: r.recv(blocking=False), ChannelEmpty)
with ch.sendh() as s:
    x = bytearray(1024)
    x[0:11] = b"Hello World"
    s.send_bytes(x[0:5])
    same("send_bytes of a slice sends the slice", lambda: r.recv_bytes(), b"Hello")
    s.send_bytes(x, len(x))
    same("send_bytes with msg_len", lambda: len(r.recv_bytes()), 1024)
r.close()
ch.destroy()
check("recv on a destroyed channel raises ChannelDestroyed (an EOFError)", lambda: r.recv(timeout=0),
      EOFError, ChannelError)
p.destroy()
'''

# ---- semaphore channels -----------------------------------------------------------------

GROUPS["semaphores"] = r'''
p = MemoryPool(1 << 24, name("p"), 1)
sem = Channel(p, 1, semaphore=True, initial_sem_value=2)
r = PollResult()
same("PEEK of a new semaphore", lambda: (sem.poll(event_mask=SEMAPHORE_PEEK, poll_result=r),
     r.value), (True, 2))
same("P twice succeeds", lambda: [sem.poll(event_mask=SEMAPHORE_P, timeout=0) for _ in range(2)],
     [True, True])
t0 = time.monotonic()
same("a third P times out (False)", lambda: sem.poll(event_mask=SEMAPHORE_P, timeout=0.2), False)
report(time.monotonic() - t0 >= 0.2, "  ... after the timeout")
same("VZ is True at zero", lambda: sem.poll(event_mask=SEMAPHORE_VZ, timeout=0), True)
same("V", lambda: sem.poll(event_mask=SEMAPHORE_V), True)
same("VZ is False above zero", lambda: sem.poll(event_mask=SEMAPHORE_VZ, timeout=0), False)
sem.destroy()
b = Channel(p, 2, bounded_semaphore=True, initial_sem_value=1)
check("V above a bounded semaphore's bound raises ChannelValueError",
      lambda: b.poll(event_mask=SEMAPHORE_V), ChannelValueError)
same("P of the bounded one", lambda: b.poll(event_mask=SEMAPHORE_P, timeout=0), True)
same("V back", lambda: b.poll(event_mask=SEMAPHORE_V), True)
b.destroy()
check("a bounded semaphore of 0", lambda: Channel(p, 3, bounded_semaphore=True), ChannelError)

# Across processes: the children take, the parent gives.
if HAVE_FORK:
    sem = Channel(p, 4, semaphore=True, initial_sem_value=0)
    ser = sem.serialize()
    def taker(ser):
        s = Channel.attach(ser)
        os._exit(0 if s.poll(event_mask=SEMAPHORE_P, timeout=30) else 3)
    procs = [ctx.Process(target=taker, args=(ser,)) for _ in range(3)]
    for pr in procs:
        pr.start()
    for _ in range(3):
        sem.poll(event_mask=SEMAPHORE_V)
    for pr in procs:
        pr.join(60)
    same("three processes each take one V of the parent", lambda: [pr.exitcode for pr in procs],
         [0, 0, 0])
    same("and the value is back at zero", lambda: sem.poll(event_mask=SEMAPHORE_VZ, timeout=0), True)
    sem.destroy()
else:
    skip("semaphore across processes", "no fork()")
p.destroy()
'''

# ---- several processes (the shapes of Dragon's tests) -------------------------------------

GROUPS["processes"] = r'''
if not HAVE_FORK:
    skip("every check of this group", "no fork()")
    sys.exit(0)
CAP = 5
p = MemoryPool(1 << 25, name("p"), 1)
ch = Channel(p, 2, capacity=CAP, max_spinners=5)
ser, pool_ser = ch.serialize(), p.serialize()

def fill_poll_empty(ser, pool_ser):
    pool = MemoryPool.attach(pool_ser)
    c = Channel.attach(ser, pool)
    with c.sendh() as s:
        for j in range(3):
            for i in range(CAP):
                m = Message.create_alloc(pool, 512)
                m.bytes_memview()[0:5] = b"Hello"
                s.send(m)
                m.destroy()
            if not c.poll(event_mask=EventType.POLLEMPTY, timeout=30):
                os._exit(1)
    os._exit(0)

def empty_poll_full(ser):
    c = Channel.attach(ser)
    with c.recvh() as r:
        for j in range(3):
            if not c.poll(event_mask=EventType.POLLFULL, timeout=30):
                os._exit(1)
            for i in range(CAP):
                m = r.recv(timeout=30)
                if bytes(m.bytes_memview()[0:5]) != b"Hello":
                    os._exit(2)
                m.destroy()
    os._exit(0)

procs = [ctx.Process(target=fill_poll_empty, args=(ser, pool_ser)),
         ctx.Process(target=empty_poll_full, args=(ser,))]
for pr in procs:
    pr.start()
for pr in procs:
    pr.join(120)
same("one process fills and polls for empty, the other polls for full and empties",
     lambda: [pr.exitcode for pr in procs], [0, 0])

# A child gets the channel pickled with its default pool.
d = MemoryPool(1 << 22, name("d"), 9)
cd = Channel(p, 3, def_alloc_pool=d)
def pickled(c):
    ok_ = c.default_alloc_pool is not None and c.default_alloc_pool.serialize() == d_ser
    with c.sendh() as s:
        s.send_bytes(b"Howdy" if ok_ else b"wrong")
    c.detach()
    os._exit(0)
d_ser = d.serialize()
codes = run_children(pickled, [(cd,)])
with cd.recvh() as r:
    same("a pickled channel keeps its default_alloc_pool in the child",
         lambda: (codes, r.recv_bytes(timeout=5)), ([0], b"Howdy"))

# The revival rule in a child: detach, attach again, use the old object.
def revive(ser):
    c = Channel.attach(ser)
    c.detach(serialize=True)
    Channel.attach(c.serialize())
    with c.sendh() as s:
        s.send_bytes(b"revived")
    os._exit(0)
codes = run_children(revive, [(ser,)])
with ch.recvh() as r:
    same("a child's detached object revived by attaching again sends",
         lambda: (codes, r.recv_bytes(timeout=5)), ([0], b"revived"))

# Process-local channels die with their process.
managed_memory.set_default_pool(p)
rd, wr = os.pipe()
def local(wr):
    c = Channel.make_process_local()
    os.write(wr, c.serialize())
    with c.sendh() as s:
        s.send_bytes(b"alive")
codes = run_children(local, [(wr,)])
local_ser = os.read(rd, 4096)
os.close(rd)
os.close(wr)
same("the child made a process-local channel and exited", lambda: codes, [0])
check("the process-local channel was destroyed when its process exited",
      lambda: Channel.attach(local_ser), ChannelError)
pl = Channel.make_process_local(p, block_size=256, capacity=3)
same("make_process_local takes block_size and capacity", lambda: (pl.capacity, pl.block_size),
     (3, 256))
pl.destroy_process_local()
report(pl.is_destroyed, "destroy_process_local destroys it")
check("make_process_local refuses a negative timeout", lambda: Channel.make_process_local(p,
      timeout=-1), ValueError)
managed_memory.set_default_pool(None)
cd.destroy()
d.destroy()
ch.destroy()
same("nothing left in the pool", lambda: p.num_channels, 0)
p.destroy()
'''

# ---- file adapters and gateways --------------------------------------------------------------

# ---- messages: create_from_mem, clear_payload, hints and clientid ----------------------

GROUPS["messages"] = r'''
p = MemoryPool(1 << 23, name("p"), 1)
ch = Channel(p, 1, block_size=256, capacity=4)
sh = ch.sendh(); sh.open()
rh = ch.recvh(); rh.open()

# Dragon's defaults and keywords (pydragon_channels.pyx): hints=0, clientid=0.
m = Message.create_alloc(p, 16)
same("create_alloc: hints and clientid default to 0", lambda: (m.hints, m.clientid), (0, 0))
same("create_empty: hints and clientid are 0", lambda: (Message.create_empty().hints,
     Message.create_empty().clientid), (0, 0))
m2 = Message.create_alloc(mpool=p, nbytes=16, hints=3, clientid=4, timeout=None)
same("create_alloc takes mpool, nbytes, hints, clientid and timeout by keyword",
     lambda: (m2.hints, m2.clientid, len(m2.bytes_memview())), (3, 4, 16))
m2.destroy()
check("create_alloc with a negative nbytes raises OverflowError",
      lambda: Message.create_alloc(p, -1), OverflowError)
# Dragon's timeout=None (the default) waits for room in the pool.
import threading
full = MemoryPool(1 << 16, name("full"), 3)
hog = Message.create_alloc(full, 40000)
check("a full pool with timeout=0 raises MessageAllocationError",
      lambda: Message.create_alloc(full, 40000, timeout=0), MessageAllocationError)
got = []
waiter = threading.Thread(target=lambda: got.append(Message.create_alloc(full, 40000)))
waiter.start()
time.sleep(0.3)
same("with the default timeout, create_alloc is still waiting for room",
     lambda: (waiter.is_alive(), got), (True, []))
hog.destroy()
waiter.join(30)
if waiter.is_alive():
    full.destroy()      # ends the wait: the guard against a hang
    waiter.join()
same("... and gets the room once it is freed", lambda: len(got) == 1 and got[0].size, 40000)
for x in got:
    x.destroy()
if not full.is_destroyed:
    full.destroy()
for bad in (-1, "1", True, 1.5, None):
    check("create_alloc(hints=%r) raises ChannelError (as Dragon's)" % (bad,),
          lambda: Message.create_alloc(p, 8, hints=bad), ChannelError)
    check("create_alloc(clientid=%r) raises ChannelError" % (bad,),
          lambda: Message.create_alloc(p, 8, clientid=bad), ChannelError)
e = check("hints past 64 bits raise OverflowError",
          lambda: Message.create_alloc(p, 8, hints=2**64), OverflowError)
report(isinstance(e, ChannelError), "... which is also a ChannelError")
same("the largest hints and clientid are kept whole", lambda: (lambda x: (x.hints, x.clientid))(
     Message.create_alloc(p, 8, 2**64 - 1, 2**63)), (2**64 - 1, 2**63))

# The setters.
m.hints = 11
m.clientid = 12
same("the hints and clientid setters", lambda: (m.hints, m.clientid), (11, 12))
for bad in (-5, "x", False, 2.0):
    check("setting hints to %r raises ChannelError" % (bad,),
          lambda: setattr(m, "hints", bad), ChannelError)
check("setting clientid past 64 bits raises OverflowError",
      lambda: setattr(m, "clientid", 2**64), OverflowError)
same("a refused value leaves them", lambda: (m.hints, m.clientid), (11, 12))
check("deleting hints raises AttributeError", lambda: delattr(m, "hints"), AttributeError)

# They travel with the message, whichever way it goes.
m.bytes_memview()[:5] = b"hello"
sh.send(m)
r = rh.recv()
same("copied (in the block): the receiver's message has them",
     lambda: (r.hints, r.clientid, bytes(r.bytes_memview()[:5])), (11, 12, b"hello"))
same("the sender's message keeps them", lambda: (m.hints, m.clientid), (11, 12))
r.destroy()
big = Message.create_alloc(p, 5000, hints=21, clientid=22)
big.bytes_memview()[:3] = b"big"
sh.send(big)
into = Message.create_alloc(p, 6000, hints=1, clientid=1)
rh.recv(into)
same("copied (larger than a block), received into dest_msg: dest_msg gets them",
     lambda: (into.hints, into.clientid, bytes(into.bytes_memview()[:3])), (21, 22, b"big"))
view = big.bytes_memview()
sh.send(big, ownership=transfer_ownership_on_send)
r = rh.recv()
same("by transfer (with a view of it alive): they travel",
     lambda: (r.hints, r.clientid, bytes(r.bytes_memview()[:3])), (21, 22, b"big"))
same("a message emptied by a transfer keeps them", lambda: (big.hints, big.clientid), (21, 22))
view.release()
r.destroy()
d = Message.create_alloc(p, 64, hints=99, clientid=98)
sh.send(m, d)
r = rh.recv()
same("through a dest_msg: the sender's message's travel, not dest_msg's",
     lambda: (r.hints, r.clientid), (11, 12))
r.destroy()
other = MemoryPool(1 << 20, name("o"), 2)
om = Message.create_alloc(other, 32, hints=31, clientid=32)
sh.send(om, ownership=transfer_ownership_on_send)
r = rh.recv()
same("a transfer from another pool (sent as a copy) carries them too",
     lambda: (r.hints, r.clientid), (31, 32))
r.destroy()
sh.send_bytes(b"plain")
rh.recv(into)
same("send_bytes: the receiver's message gets 0 and 0", lambda: (into.hints, into.clientid), (0, 0))
sh.send(m)
same("recv_bytes takes a message that has them", lambda: rh.recv_bytes()[:5], b"hello")
into.hints = 7
check("a receive that finds nothing", lambda: rh.recv(into, timeout=0), ChannelEmpty)
same("... leaves them", lambda: into.hints, 7)
into.destroy()
check("hints of a destroyed message raise ChannelError", lambda: into.hints, ChannelError)
check("setting hints of a destroyed message raises ChannelError",
      lambda: setattr(into, "hints", 1), ChannelError)

if HAVE_FORK:
    def sender(ser, pool_ser):
        pool = MemoryPool.attach(pool_ser)
        c = Channel.attach(ser, pool)
        with c.sendh() as s:
            for i in range(6):
                msg = Message.create_alloc(pool, 100 if i % 2 else 3000, hints=i + 1,
                                           clientid=2**64 - 1 - i)
                own = transfer_ownership_on_send if i % 3 == 2 else copy_on_send
                s.send(msg, ownership=own, timeout=30)
                msg.destroy()
        os._exit(0)
    pr = ctx.Process(target=sender, args=(ch.serialize(), p.serialize()))
    pr.start()
    got = []
    for i in range(6):
        x = rh.recv(timeout=30)
        got.append((x.hints, x.clientid))
        x.destroy()
    pr.join(60)
    same("from another process, every message comes with its hints and clientid", lambda: got,
         [(i + 1, 2**64 - 1 - i) for i in range(6)])
    same("the sending process exited 0", lambda: pr.exitcode, 0)
else:
    skip("hints and clientid across processes", "no fork()")

# create_from_mem(mem, hints=0, clientid=0): the MemoryAlloc's bytes, no copy.
mem = p.alloc(64)
mv = mem.get_memview()
mv[:4] = b"abcd"
fm = Message.create_from_mem(mem)
same("create_from_mem: hints and clientid default to 0", lambda: (fm.hints, fm.clientid), (0, 0))
same("create_from_mem: the message shows the allocation's bytes",
     lambda: (len(fm.bytes_memview()), bytes(fm.bytes_memview()[:4])), (64, b"abcd"))
fm.bytes_memview()[0:1] = b"X"
same("... without a copy (a write through the message shows in the MemoryAlloc)",
     lambda: bytes(mv[:4]), b"Xbcd")
fm2 = Message.create_from_mem(mem=mem.clone(2, 10), hints=5, clientid=6)
same("create_from_mem of a clone: its range, and the hints and clientid given",
     lambda: (bytes(fm2.bytes_memview()[:2]), len(fm2.bytes_memview()), fm2.hints, fm2.clientid),
     (b"cd", 10, 5, 6))
for bad in (None, b"bytes", p, m):
    check("create_from_mem(%s) raises TypeError" % type(bad).__name__,
          lambda: Message.create_from_mem(bad), TypeError)
check("create_from_mem with hints=-1 raises ChannelError",
      lambda: Message.create_from_mem(mem, hints=-1), ChannelError)
gone = p.alloc(32)
gone_id = gone.id
gone2 = MemoryAlloc.attach(gone.serialize())
gone.free()
check("create_from_mem of a freed allocation raises ChannelError",
      lambda: Message.create_from_mem(gone2), ChannelError)
det = p.alloc(32)
det.detach()
check("create_from_mem of a detached MemoryAlloc raises ChannelError",
      lambda: Message.create_from_mem(det), ChannelError)
mem_id = mem.id
del fm2
fm3 = Message.create_from_mem(mem)
del fm3
gc.collect()
same("a message from create_from_mem that is only collected leaves the memory",
     lambda: (p.allocation_exists(mem_id), bytes(mv[:4])), (True, b"Xbcd"))
sh.send(fm)
r = rh.recv()
same("a create_from_mem message sent by copy", lambda: bytes(r.bytes_memview()[:4]), b"Xbcd")
r.destroy()
fm.destroy(free_mem=False)
same("destroy(free_mem=False) leaves the allocation", lambda: p.allocation_exists(mem_id), True)
fm = Message.create_from_mem(mem, 8, 9)
sh.send(fm, ownership=transfer_ownership_on_send)
r = rh.recv()
same("a create_from_mem message sent by transfer: bytes, hints and clientid arrive",
     lambda: (bytes(r.bytes_memview()[:4]), r.hints, r.clientid), (b"Xbcd", 8, 9))
r.destroy()
same("... and the receiver's destroy() freed the allocation",
     lambda: p.allocation_exists(mem_id), False)
mem2 = p.alloc(64)
m2_id = mem2.id
Message.create_from_mem(mem2).destroy()
same("destroy() of a create_from_mem message frees the allocation (free_mem=True, as Dragon)",
     lambda: p.allocation_exists(m2_id), False)
del mv

# clear_payload(start=0, stop=None)
c = Message.create_alloc(p, 10)
cv = c.bytes_memview()
def reset():
    cv[:] = b"0123456789"
reset(); c.clear_payload()
same("clear_payload() clears the whole payload", lambda: bytes(cv), bytes(10))
reset(); c.clear_payload(2, 5)
same("clear_payload(2, 5) clears [2, 5)", lambda: bytes(cv), b"01" + bytes(3) + b"56789")
reset(); c.clear_payload(start=7)
same("clear_payload(start=7) clears to the end", lambda: bytes(cv), b"0123456" + bytes(3))
reset(); c.clear_payload(3, 1000)
same("a stop past the end is the end", lambda: bytes(cv), b"012" + bytes(7))
reset(); c.clear_payload(6, 2)
same("start past stop clears nothing", lambda: bytes(cv), b"0123456789")
reset(); c.clear_payload(50)
same("start past the end clears nothing", lambda: bytes(cv), b"0123456789")
check("a negative start raises OverflowError", lambda: c.clear_payload(-1), OverflowError)
check("a negative stop raises OverflowError", lambda: c.clear_payload(0, -1), OverflowError)
check("a float start raises TypeError", lambda: c.clear_payload(1.0), TypeError)
cv.release()
c.destroy()
check("clear_payload of a destroyed message raises ChannelError", lambda: c.clear_payload(),
      ChannelError)
check("clear_payload of an empty message raises ChannelError",
      lambda: Message.create_empty().clear_payload(), ChannelError)

m.destroy()
d.destroy()
big.destroy()
om.destroy()
sh.close(); rh.close()
ch.destroy()
other.destroy()
p.destroy()
'''

GROUPS["adapters"] = r'''
p = MemoryPool(1 << 25, name("p"), 1)
ch = Channel(p, 1, capacity=4)
big = {"k": list(range(100000)), "b": bytes(range(256)) * 3000}
if HAVE_FORK:
    def writer(ser):
        c = Channel.attach(ser)
        w = Peer2PeerWritingChannelFile(c, timeout=30)
        with w:
            pickle.dump(big, w, protocol=5)
        with w:
            w.write_raw_header(5)
            w.write(b"hello")
        with w:
            w.write_eot()
        os._exit(0)
    pr = ctx.Process(target=writer, args=(ch.serialize(),))
    pr.start()
    rdr = Peer2PeerReadingChannelFile(ch)
    side = bytearray()
    with rdr:
        kind = rdr.check_header()
        same("a pickle's header is PICKLE_PROT_5", lambda: kind, (PICKLE_PROT_5, None))
        same("pickle.load reads back what another process dumped (%d bytes)"
             % len(pickle.dumps(big, protocol=5)), lambda: pickle.load(rdr) == big, True)
    with rdr:
        kind = rdr.check_header()
        same("a raw header gives RAW_BYTES and the length", lambda: kind, (RAW_BYTES, 5))
        rdr.advance_raw_header(5)
        rdr.set_side_buf(side)
        same("read(5) after the header", lambda: bytes(rdr.read(5)), b"hello")
        same("the side buffer got the bytes", lambda: bytes(side), b"hello")
    with rdr:
        same("EOT", lambda: rdr.check_header(), (EOT, None))
    pr.join(60)
    same("the writing process exited 0", lambda: pr.exitcode, 0)
else:
    skip("Peer2Peer across processes", "no fork()")
check("read(0) raises ValueError", lambda: Peer2PeerReadingChannelFile(ch).read(0), ValueError)
check("readline is not provided", lambda: Peer2PeerReadingChannelFile(ch).readline(),
      NotImplementedError)
check("writing before open raises ChannelError",
      lambda: Peer2PeerWritingChannelFile(ch).write(b"x"), ChannelError)
check("options with a large block not above the small one raise ValueError",
      lambda: Peer2PeerWritingChannelFile(ch, options={"large_blk_size": 10}), ValueError)
# A buffer pool that is not attached: Dragon cannot get its descriptor (ChannelError).
check("a Peer2Peer writer with buffer_pool=MemoryPool.empty_pool() raises ChannelError",
      lambda: Peer2PeerWritingChannelFile(ch, options={"buffer_pool": MemoryPool.empty_pool()}),
      ChannelError)
check("a Many2Many writer with buffer_pool=MemoryPool.empty_pool() raises ChannelError",
      lambda: Many2ManyWritingChannelFile(ch, buffer_pool=MemoryPool.empty_pool()), ChannelError)
gone_pool = MemoryPool.attach(p.serialize())
gone_pool.detach()
check("a Peer2Peer writer with a detached buffer pool raises ChannelError",
      lambda: Peer2PeerWritingChannelFile(ch, options={"buffer_pool": gone_pool}), ChannelError)
check("a buffer pool that is not a MemoryPool raises ValueError",
      lambda: Many2ManyWritingChannelFile(ch, buffer_pool="pool"), ValueError)
works("an attached buffer pool is taken",
      lambda: (Peer2PeerWritingChannelFile(ch, options={"buffer_pool": p}),
               Many2ManyWritingChannelFile(ch, buffer_pool=p)))

# Many writers: each open..close is one message, never interleaved.
m2 = Channel(p, 2, capacity=20)
ws = [Many2ManyWritingChannelFile(m2) for _ in range(2)]
ws[0].open()
ws[1].open()
for i in range(3):
    ws[0].write(b"A%d" % i)
    ws[1].write(b"B%d" % i)
ws[1].close()
ws[0].close()
rd = Many2ManyReadingChannelFile(m2)
rd.set_adapter_timeout(timeout=5)
with rd:
    same("the first message is all of one writer", lambda: bytes(rd.read(6)), b"B0B1B2")
with rd:
    buf = bytearray(2)
    rd.readinto(buf)
    same("readinto then get_remaining_data", lambda: (bytes(buf), rd.get_remaining_data()),
         (b"A0", (b"A1A2", 2)))
rd.set_adapter_timeout(blocking=False)
check("reading with no message and blocking=False", lambda: rd.open() or rd.read(1), ChannelEmpty)
w = Many2ManyWritingChannelFile(m2)
check("writing before open", lambda: w.write(b"x"), ChannelError)

works("register_gateways_from_env and discard_gateways do nothing",
      lambda: (register_gateways_from_env(), discard_gateways()))
check("GatewayMessage.from_message raises ChannelError",
      lambda: GatewayMessage.from_message(Message.create_empty()), ChannelError)
works("GatewayMessage.silence_transport_timeouts", GatewayMessage.silence_transport_timeouts)
del ws, rd, w
gc.collect()
m2.destroy()
ch.destroy()
p.destroy()
'''


def run_group(title, body):
    code = PRELUDE + body
    try:
        proc = subprocess.run([sys.executable, "-c", code, PREFIX], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=300)
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
        elif line.startswith("SKIP "):
            label, _, why = line[5:].partition(" # ")
            ok(True, "%s: %s # SKIP %s" % (title, label, why))
        else:
            diag(line)
    if rc == "timeout":
        ok(False, "%s: the group ended within 300 s" % title)
    elif rc < 0:
        ok(False, "%s: the interpreter survived (killed by signal %d)" % (title, -rc))
    else:
        ok(rc == 0 and lines, "%s: the group ran to its end (status %s)" % (title, rc))
    if rc != 0 and err:
        diag(err.decode("utf-8", "replace")[-3000:])


for title, body in GROUPS.items():
    run_group(title, body)

if os.path.isdir("/dev/shm"):
    left = [f for f in os.listdir("/dev/shm") if PREFIX in f]
    ok(not left, "no segment left behind: %s" % (left or "none"))
    for f in left:
        try:
            os.unlink(os.path.join("/dev/shm", f))
        except OSError:
            pass
done_testing()

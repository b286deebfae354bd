"""dragonipc.managed_memory: pools, names, sizes, lifetime, pickling."""

import gc
import os
import pickle

from taplib import ok, is_, raises, done_testing, skip, unique

from dragonipc import _dragonipc
from dragonipc.managed_memory import (
    MemoryPool, default_pool, set_default_pool, unlink, SMALLEST_POOL, POOL_HEADROOM,
    DragonMemoryError, DragonPoolError, DragonPoolValueError, DragonPoolCreateFail,
    DragonPoolAttachFail, DragonPoolAllocationNotAvailable)
from dragonipc.channels import Channel, Message, MessageAllocationError, ChannelError

name = unique("pypool")
p = MemoryPool(3 << 20, name, 42)
is_((p.name, p.muid), (name, 42), "the pool keeps its name and uid")
ok(p.size >= 3 << 20, "size is at least what was asked: %d" % p.size)
ok(0 < p.free_space <= p.size, "free_space is within the size")
ok(0 <= p.utilization < 100, "utilization is a percentage")
ok(p.is_creator and p.is_attached and p.is_local, "the creator is attached")
small = MemoryPool(SMALLEST_POOL, unique("pypool-small"), 0)
is_(small.size, SMALLEST_POOL + POOL_HEADROOM, "a small pool is as large as asked, plus the headroom")
small.destroy()
e = raises(DragonPoolCreateFail, MemoryPool, SMALLEST_POOL - 1, unique("x"), 0,
           name="a pool below SMALLEST_POOL is refused with DragonPoolCreateFail")
ok(isinstance(e, ValueError), "  ... also a ValueError")

# ---- names and arguments ---------------------------------------------------------
for bad, why in [("bad/name", "a slash"), ("", "empty"), ("a\0b", "a NUL"),
                 ("x" * 256, "256 bytes")]:
    e = raises(ValueError, MemoryPool, 1 << 20, bad, 0, name="a name with %s raises ValueError" % why)
    ok(isinstance(e, DragonPoolValueError) and isinstance(e, DragonPoolCreateFail),
       "  ... a DragonPoolValueError and a DragonPoolCreateFail: %s" % e)
for odd, why in [(".hidden", "a leading dot"), ("x" * 64, "64 bytes"), ("sp ace", "a space"),
                 ("é" + unique(""), "non-ASCII")]:
    op = MemoryPool(1 << 20, odd, 0)
    back = MemoryPool.attach_name(odd)
    ok(op.name == odd and back.is_attached, "a name with %s is taken, and found again" % why)
    back.detach()
    op.destroy()
ok("'/'" in str(raises(ValueError, MemoryPool, 1 << 20, "a/b", 0)), "the message names the character")
raises(TypeError, MemoryPool, 1 << 20, b"bytes", 0, name="a bytes name is refused")
raises(TypeError, MemoryPool, 1.5, unique("x"), 0, name="a float size is refused")
raises(TypeError, MemoryPool, 1 << 20, unique("x"), "uid", name="a str uid is refused")
raises(ValueError, MemoryPool, 0, unique("x"), 0, name="size 0 is refused")
raises(DragonPoolValueError, MemoryPool, 1 << 20, unique("x"), 0, pre_alloc_blocks="no",
       name="pre_alloc_blocks must be a list of ints")
q = MemoryPool(1 << 20, unique("pypool-pre"), 0, [4, 8])
ok(q.is_attached, "a list pre_alloc_blocks is accepted")
q.destroy()
e = raises(DragonPoolCreateFail, MemoryPool, 1 << 20, name, 1, name="a taken name: DragonPoolCreateFail")
ok(e is not None and e.lib_err == _dragonipc.EEXIST and isinstance(e, DragonMemoryError),
   "  ... carrying DIPC_EEXIST, in the DragonMemoryError family")

# ---- attach, pickle ---------------------------------------------------------------
ser = p.serialize()
a = MemoryPool.attach(ser)
ok(a.is_attached and not a.is_creator, "attach by descriptor")
m = Message.create_alloc(p, 100000)
ok(a.free_space < a.size - 100000, "an allocation through one handle shows in the other")
m.destroy()
u = pickle.loads(pickle.dumps(p))
is_((u.muid, u.is_creator), (42, False), "unpickling attaches and keeps the uid")
del u, a
gc.collect()
again = MemoryPool.attach(ser)
ok(again.is_attached, "collecting attached copies does not destroy the pool")
again.detach()
raises(DragonPoolAttachFail, MemoryPool.attach, b"\x00" * 90, name="a bad descriptor: DragonPoolAttachFail")
raises(DragonPoolValueError, MemoryPool.attach, b"", name="an empty descriptor is refused")

# the creator collected without destroy(): the pool stays until destroyed
# (on Windows a pool lives only while a process has it mapped: doc/windows.md)
if os.name == "nt":
    for name in ("a creator collected without destroy() only detached",
                 "unlink() removes a left-over pool"):
        skip(name, "on Windows a pool is gone with the last process that had it mapped")
else:
    lost = unique("pypool-lost")
    tmp = MemoryPool(1 << 20, lost, 0)
    del tmp
    gc.collect()
    back = MemoryPool.attach_name(lost)
    ok(back.is_attached, "a creator collected without destroy() only detached")
    back.detach()
    unlink(lost)
    raises(DragonPoolAttachFail, MemoryPool.attach_name, lost, name="unlink() removes a left-over pool")

# ---- detach, destroy, and mappings kept for their users ----------------------------
d = MemoryPool(1 << 20, unique("pypool-d"), 0)
dser = d.serialize()
# On Windows a pool lives only while a process has it mapped: keep it mapped.
keep = MemoryPool.attach(dser) if os.name == "nt" else None
d.detach()
d.detach()
ok(not d.is_attached, "detach twice is harmless")
is_(d.serialize(), dser, "a pool serialized before it was detached still gives its descriptor")
raises(DragonPoolError, lambda: d.free_space, name="nor queried")
raises(DragonPoolError, d.destroy, name="nor destroyed")
d2 = MemoryPool.attach(dser)
if keep is not None:
    keep.detach()
ch = Channel(d2, 5)
msg = Message.create_alloc(d2, 64)
view = msg.bytes_memview()
d2.destroy()
raises(DragonPoolAttachFail, MemoryPool.attach, dser, name="a destroyed pool cannot be attached")
view[0:4] = b"live"
is_(bytes(view[0:4]), b"live", "views of a destroyed pool's message still work")
with ch.sendh() as sh, ch.recvh() as rh:
    sh.send_bytes(b"after destroy")
    is_(rh.recv_bytes(), b"after destroy", "channels keep working in this process")
del view
msg.destroy()
ch.destroy()
ok(d2.is_destroyed and not d2.is_attached, "the destroyed pool object reports it")

with MemoryPool(1 << 20, unique("pypool-ctx"), 0) as cp:
    cser = cp.serialize()
raises(DragonPoolAttachFail, MemoryPool.attach, cser, name="a pool used as a context manager is destroyed")

# ---- allocation failures -----------------------------------------------------------
full = MemoryPool(1 << 20, unique("pypool-full"), 0)
hog = Message.create_alloc(full, full.largest_free)
e = raises(MessageAllocationError, Message.create_alloc, full, 4096, timeout=0,
           name="a full pool: MessageAllocationError")
ok(isinstance(e, DragonPoolAllocationNotAvailable) and isinstance(e, ChannelError),
   "  ... both DragonPoolAllocationNotAvailable and ChannelError")
raises(MessageAllocationError, Message.create_alloc, full, 4096, timeout=0.05,
       name="a full pool with a timeout")
hog.destroy()
m = Message.create_alloc(full, 4096, timeout=1)
ok(m.size == 4096, "room again after the hog is destroyed")
m.destroy()
full.destroy()

# ---- the default pool -----------------------------------------------------------------
set_default_pool(p)
ok(default_pool() is p, "set_default_pool chooses the default")
dm = Message.create_alloc(64)
ok(dm.size == 64, "create_alloc(nbytes) allocates from it")
dm.destroy()
newer = MemoryPool(1 << 20, unique("pypool-newer"), 0)
ok(default_pool() is p, "an explicit default wins over newer pools")
set_default_pool(None)
ok(default_pool() is newer, "without one, the newest attached pool is the default")
newer.destroy()
ok(default_pool() is not newer, "a destroyed pool is never the default")
is_(p.reclaim(), 0, "reclaim frees nothing while every owner lives")
p.destroy()
done_testing()

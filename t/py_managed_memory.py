"""dragonipc.managed_memory as Dragon's programs use it: raw allocations
(MemoryAlloc, ids, MemoryAllocations), pool arguments and their
exceptions, sizes as Dragon sizes pools, descriptors (of other processes
and of another host), the lifecycle of detached pools, blocking
allocations, several processes, and a transfer send with a live view.

Each group runs in an interpreter of its own (a file of its own, started
with spawn as Dragon's tests start their processes), so that a crash is
seen as a failure of that group; its checks are reported one by one as
they happen, so the last one before a crash points at the culprit.
"""

import os
import subprocess
import sys
import tempfile
import textwrap

from taplib import ok, diag, done_testing

PREFIX = "pymm-%d" % os.getpid()

PRELUDE = r'''
import gc, math, os, pickle, queue, random, struct, sys, time
import multiprocessing as mp
from dragonipc import _dragonipc
from dragonipc.managed_memory import (
    MemoryPool, MemoryAlloc, MemoryAllocations, MemoryPoolAttr, AllocType, PoolType,
    DragonMemoryError, DragonPoolError, DragonPoolCreateFail, DragonPoolAttachFail,
    DragonPoolAllocationNotAvailable, DragonMemoryTypeError, DragonPoolAllocTimeout,
    SMALLEST_POOL, POOL_HEADROOM, POOL_MIN_SIZE, DRAGON_MEMORY_DEFAULT_TIMEOUT)
from dragonipc.dtypes import DragonError
from dragonipc.channels import (Channel, Message, ChannelError, transfer_ownership_on_send)

PREFIX = sys.argv[1] if len(sys.argv) > 1 else "pymm"
GUARD = 20.0        # seconds: a hang guard, never a timing
_n = [0]


def name(tag):
    _n[0] += 1
    return "%s-%s-%d" % (PREFIX, tag, _n[0])


def report(good, label, detail=""):
    print("%s %s%s" % ("PASS" if good else "FAIL", label, (" -- " + detail) if detail else ""),
          flush=True)


def check(label, fn, *wanted):
    """fn() must raise one of wanted (all of them, for a tuple of classes
    given as one argument list: the exception must be an instance of each)."""
    try:
        fn()
    except BaseException as e:
        good = all(isinstance(e, w) for w in wanted)
        report(good, label, "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        return e
    report(False, label, "nothing raised")
    return None


def same(label, got, want):
    report(got == want, label, "got %r, want %r" % (got, want))


def works(label, fn):
    try:
        r = fn()
    except BaseException as e:
        report(False, label, "raised %s: %s" % (type(e).__name__, e))
        return None
    report(True, label)
    return r


def remote_pool_ser(ser):
    """What Dragon's tests do to fake another host: flip the first byte of
    the uid (offset 0) and of the host id (offset 8)."""
    b = bytearray(ser)
    b[0] ^= 0x5a
    b[8] ^= 0x5a
    return bytes(b)


def remote_mem_ser(ser):
    """The same for an allocation: its pool's descriptor starts at 8."""
    b = bytearray(ser)
    b[8] ^= 0x5a
    b[16] ^= 0x5a
    return bytes(b)


# ---- children (module level, for spawn) -------------------------------------

def child_alloc_write(q, pool_ser):
    pool = MemoryPool.attach(pool_ser)
    mem = pool.alloc(512)
    mem.get_memview()[0:5] = b"Hello"
    q.put((mem.serialize(), mem.id))
    pool.detach()


def child_write_by_descriptor(mem_ser):
    mem = MemoryAlloc.attach(mem_ser)       # no pool given: attached on the way
    mem.get_memview()[0:1] = b"Y"


def child_by_id(q, pool, alloc_id):
    mem = pool.alloc_from_id(alloc_id)
    q.put(bytes(mem.get_memview()[0:4]))


def child_pickled(q, pool, mem):
    q.put((pool.muid, bytes(mem.get_memview()[0:4])))
    mem.get_memview()[0:4] = b"kid!"


def child_blocking(q, pool_ser, k):
    pool = MemoryPool.attach(pool_ser)
    mem = pool.alloc_blocking(3000 * k + 100, timeout=GUARD)
    mem.get_memview()[0:5] = b"Hello"
    q.put(mem.serialize())
    pool.detach()


def child_blocking_timeout(q, pool_ser, timeout):
    pool = MemoryPool.attach(pool_ser)
    try:
        pool.alloc_blocking(3100, timeout=timeout)
        q.put("allocated")
    except TimeoutError:
        q.put("timeout")
    except DragonPoolError:
        q.put("pool error")


def child_free_later(pool_ser, mem_ser, delay):
    time.sleep(delay)
    MemoryAlloc.attach(mem_ser).free()


def run_child(target, *args):
    p = mp.Process(target=target, args=args)
    p.start()
    p.join(GUARD * 3)
    if p.is_alive():
        p.kill()
        p.join()
    return p.exitcode
'''

GROUPS = {}

GROUPS["pool arguments and exceptions"] = r'''
check("a size that is not an int: TypeError", lambda: MemoryPool("32768", name("p"), 1), TypeError)
check("a float size: TypeError", lambda: MemoryPool(34567.5, name("p"), 1), TypeError)
check("a str uid: TypeError", lambda: MemoryPool(32768, name("p"), "1"), TypeError)
check("a float uid: TypeError", lambda: MemoryPool(32768, name("p"), 1.8), TypeError)
check("an int name: TypeError", lambda: MemoryPool(32768, 12345, 1), TypeError)
check("too few arguments: TypeError", lambda: MemoryPool(32768), TypeError)
check("five positional arguments: TypeError",
      lambda: MemoryPool(32768, name("p"), 1, None, None), TypeError)
check("a negative size: OverflowError (and ValueError, DragonPoolCreateFail)",
      lambda: MemoryPool(-12, name("p"), 1), OverflowError, ValueError, DragonPoolCreateFail)
check("size 2**64: OverflowError", lambda: MemoryPool(2 ** 64, name("p"), 1), OverflowError)
check("uid -1: OverflowError", lambda: MemoryPool(32768, name("p"), -1), OverflowError)
check("uid 2**64: OverflowError", lambda: MemoryPool(32768, name("p"), 2 ** 64), OverflowError)
check("size 0: DragonPoolCreateFail (and ValueError)", lambda: MemoryPool(0, name("p"), 1),
      DragonPoolCreateFail, ValueError)
n100 = name("small")
check("size 100, below the smallest pool: DragonPoolCreateFail",
      lambda: MemoryPool(100, n100, 1), DragonPoolCreateFail)
check("and nothing was left behind", lambda: MemoryPool.attach_name(n100), DragonPoolAttachFail)
check("SMALLEST_POOL - 1: DragonPoolCreateFail",
      lambda: MemoryPool(SMALLEST_POOL - 1, name("p"), 1), DragonPoolCreateFail)
check("an empty name: DragonPoolCreateFail", lambda: MemoryPool(32768, "", 1), DragonPoolCreateFail)
check("a name of 4096 bytes: DragonPoolCreateFail", lambda: MemoryPool(32768, "a" * 4096, 1),
      DragonPoolCreateFail)
check("a name with '/': DragonPoolCreateFail", lambda: MemoryPool(32768, "a/b", 1),
      DragonPoolCreateFail, ValueError)
check("pre_alloc_blocks not a list of ints: RuntimeError",
      lambda: MemoryPool(32768, name("p"), 1, "no"), RuntimeError, DragonPoolCreateFail)
check("max_allocations not an int: RuntimeError",
      lambda: MemoryPool(32768, name("p"), 1, max_allocations="3"), RuntimeError)
check("min_block_size not an int: RuntimeError",
      lambda: MemoryPool(32768, name("p"), 1, min_block_size=1.5), RuntimeError)
check("MemoryPoolAttr of a bad list: RuntimeError", lambda: MemoryPoolAttr([1, "x"]), RuntimeError)
works("MemoryPoolAttr of a list of ints", lambda: MemoryPoolAttr([8, 16]))

n = name("taken")
p = MemoryPool(34567, n, 5)
check("a taken name: DragonPoolCreateFail", lambda: MemoryPool(45678, n, 6), DragonPoolCreateFail)
p.destroy()
check("destroy of a pool object never attached: DragonPoolError",
      lambda: MemoryPool.__new__(MemoryPool).destroy(), DragonPoolError)
e = check("alloc on a destroyed pool: DragonPoolError", lambda: p.alloc(512), DragonPoolError)

# Names Dragon takes that the library cannot hold as they are.
for odd in ("a" * 236, "12345", "pydragon_channel_test_<built-in function getpid>",
            ".hidden", "ünïcode"):
    label = odd if len(odd) < 40 else odd[:20] + "... (%d bytes)" % len(odd)
    q = works("the name %r is taken" % label, lambda: MemoryPool(40000, PREFIX + odd, 7))
    if q is not None:
        back = works("  and found again by name", lambda: MemoryPool.attach_name(PREFIX + odd))
        if back is not None:
            same("  the same pool (uid)", back.muid, 7)
            back.detach()
        q.destroy()
big_uid = MemoryPool(32768, name("uid"), 2 ** 64 - 1)
same("uid 2**64 - 1 is kept", big_uid.muid, 2 ** 64 - 1)
same("and read back by another handle", MemoryPool.attach(big_uid.serialize()).muid, 2 ** 64 - 1)
big_uid.destroy()
same("DragonError.SUCCESS is 0", (DragonError.SUCCESS.name, DragonError.SUCCESS.value),
     ("SUCCESS", 0))
same("DragonError.INVALID_ARGUMENT", DragonError.INVALID_ARGUMENT.name, "INVALID_ARGUMENT")
same("PoolType and AllocType", (PoolType.SHM.value, AllocType.DATA.value, AllocType.CHANNEL.value),
     (0, 0, 1))
same("DRAGON_MEMORY_DEFAULT_TIMEOUT", DRAGON_MEMORY_DEFAULT_TIMEOUT, 300)
'''

GROUPS["sizes as Dragon sizes them"] = r'''
p = MemoryPool(32768, name("s"), 1)
same("a 32768-byte pool holds 32768 bytes plus the headroom", p.size, 32768 + POOL_HEADROOM)
m1 = p.alloc(10000)
m2 = works("two allocations of 10000 fit (each takes 16384, as in Dragon)", lambda: p.alloc(10000))
e = check("a third of 5000 does not: DragonPoolAllocationNotAvailable",
          lambda: p.alloc(5000), DragonPoolAllocationNotAvailable, DragonMemoryError)
report(e is not None and "DRAGON_DYNHEAP_REQUESTED_SIZE_NOT_AVAILABLE" in str(e),
       "its text names Dragon's code", str(e).replace("\n", " | "))
same("the allocation's size is what was asked", m1.size, 10000)
m1.free()
m2.free()
big = works("one allocation of the whole size fits", lambda: p.alloc(32768))
big.free()
allocs = []
try:
    while True:
        allocs.append(p.alloc(1))
except DragonPoolAllocationNotAvailable:
    pass
report(0 < len(allocs) < 1000, "allocations of 1 byte run out (%d of them)" % len(allocs))
for m in allocs:
    m.free()
same("all freed", p.get_allocations().num_allocs, 0)
ch = works("a channel with the default attributes still fits", lambda: Channel(p, 1))
if ch is not None:
    ch.destroy()
p.destroy()

# A large pool: exactly what was asked, allocations of their own size,
# and allocations that add up to it fit in any order, round after round.
size = 3 * 1024 * 1024 + 12345
q = MemoryPool(size, name("s"), 1)
same("a large pool holds what was asked plus the headroom", q.size,
     (size + POOL_HEADROOM + 63) // 64 * 64)
whole = works("one allocation of the whole size fits", lambda: q.alloc(size))
whole.free()
rng = random.Random(5)
failed = None
for rnd in range(200):
    left, got = size, []
    a = 1 << (rng.randint(1, left) - 1).bit_length()
    while left >= a:
        left -= a
        try:
            got.append(q.alloc(a))
        except DragonPoolAllocationNotAvailable as exc:
            failed = "round %d: %d bytes with %d left" % (rnd, a, left + a)
            break
        if left == 0:
            break
        a = 1 << (rng.randint(1, left) - 1).bit_length()
    for m in got:
        m.free()
    if failed:
        break
report(failed is None, "200 rounds of powers of two adding up to the pool all fit", failed or "")
q.destroy()

r = MemoryPool(1 << 20, name("lim"), 1, max_allocations=3)
same("max_allocations is kept", r.max_allocations, 3)
ms = [r.alloc(100) for _ in range(3)]
same("current_allocations counts them", r.current_allocations, 3)
check("a fourth allocation past max_allocations=3: DragonPoolAllocationNotAvailable",
      lambda: r.alloc(100), DragonPoolAllocationNotAvailable)
ms.pop().free()
works("one freed, one fits again", lambda: ms.append(r.alloc(100)))
for m in ms:
    m.free()
r.destroy()
'''

GROUPS["raw allocations and ids"] = r'''
p = MemoryPool(1 << 22, name("a"), 3)
mem = p.alloc(512)
allocs = p.get_allocations()
report(isinstance(allocs, MemoryAllocations) and allocs.num_allocs == 1,
       "get_allocations lists the allocation")
same("the first id of a fresh pool is 1", (allocs.alloc_id(0), mem.id), (1, 1))
same("its type is DATA", allocs.alloc_type(0), AllocType.DATA)
check("alloc_id past the end: RuntimeError", lambda: allocs.alloc_id(1), RuntimeError)
check("alloc_type(-1): RuntimeError", lambda: allocs.alloc_type(-1), RuntimeError)
report(p.allocation_exists(mem.id) and p.allocation_exists(AllocType.DATA, mem.id),
       "allocation_exists, in both of Dragon's forms")
same("but not as another type", p.allocation_exists(AllocType.CHANNEL, mem.id), False)
mem.get_memview()[0:4] = b"abcd"
again = p.alloc_from_id(mem.id)
same("alloc_from_id gives the same bytes", bytes(again.get_memview()[0:4]), b"abcd")
same("and the same allocation", (again == mem, again.is_the_same_as(mem)), (True, True))
same("get_alloc_by_id too", p.get_alloc_by_id(AllocType.DATA, mem.id).size, 512)
stale = mem.id
mem.free()
same("a freed allocation's id is gone", p.allocation_exists(stale), False)
check("alloc_from_id of it: DragonPoolError", lambda: p.alloc_from_id(stale), DragonPoolError)
reuse = p.alloc(512)
report(reuse.id != stale and not p.allocation_exists(stale),
       "a new allocation in the same place has another id; the old one stays gone")
same("get_allocations after free", p.get_allocations().num_allocs, 1)
reuse.free()
check("free twice: DragonMemoryError", lambda: reuse.free(), DragonMemoryError)
check("get_memview after free: DragonMemoryError", lambda: reuse.get_memview(), DragonMemoryError)

check("alloc('512'): TypeError", lambda: p.alloc("512"), TypeError)
check("alloc(512.5): TypeError", lambda: p.alloc(512.5), TypeError)
check("alloc(0): RuntimeError (and DragonPoolError)", lambda: p.alloc(0), RuntimeError,
      DragonPoolError)
check("alloc(-1): RuntimeError", lambda: p.alloc(-1), RuntimeError)
check("alloc(2**70): DragonPoolAllocationNotAvailable", lambda: p.alloc(2 ** 70),
      DragonPoolAllocationNotAvailable)
check("alloc with alloc_type 'x': DragonMemoryError", lambda: p.alloc(8, alloc_type="x"),
      DragonMemoryError)
works("alloc with alloc_type DATA", lambda: p.alloc(8, alloc_type=AllocType.DATA).free())

m = p.alloc(512)
m.get_memview()[100] = 75
c = m.clone(100)
same("clone(100) starts 100 bytes in", (c.get_memview()[0], c.size), (75, 412))
same("and is the same allocation", (c.id == m.id, c.is_the_same_as(m), c == m), (True, True, False))
c2 = m.clone(10, 20)
same("clone(10, 20)", c2.size, 20)
check("clone(-1): RuntimeError", lambda: m.clone(-1), RuntimeError)
check("clone(0, -1): RuntimeError", lambda: m.clone(0, -1), RuntimeError)
check("clone(1.5): TypeError", lambda: m.clone(1.5), TypeError)
check("clone past the end: DragonPoolError", lambda: m.clone(500, 20), DragonPoolError)
m.get_memview()[:] = b"\xff" * 512
m.clear(10, 20)
v = m.get_memview()
same("clear(10, 20) zeroes those bytes only", (v[9], v[10], v[19], v[20]), (255, 0, 0, 255))
m.clear()
same("clear() zeroes the rest", bytes(v), bytes(512))
del v
other = MemoryPool(1 << 20, name("b"), 4)
m.get_memview()[0:3] = b"xyz"
cp = m.copy(other)
same("copy into another pool", (bytes(cp.get_memview()[0:3]), cp.size, cp.pool is other),
     (b"xyz", 512, True))
report(cp != m and not cp.is_the_same_as(m), "the copy is another allocation")
same("equal handles hash alike", hash(MemoryAlloc.attach(m.serialize())) == hash(m), True)
same("pool is the pool", m.pool is p, True)
cp.free()
other.destroy()
blocks = p.free_blocks
report(isinstance(blocks, dict) and sum(blocks.values()) >= 1 and p.num_block_sizes == len(blocks),
       "free_blocks maps block sizes to counts", repr(blocks)[:80])

# free() frees at once, a view alive or not: a program may wait for that room.
t = MemoryPool(32768, name("t"), 1)
held = t.alloc(32000)
view = held.get_memview()
view[0:2] = b"ok"
held.free()
works("free() with a view alive gives the room back at once", lambda: t.alloc(32000))
same("the view still reads pool memory without a fault", len(view[0:2]), 2)
del view
t.destroy()
m.free()
p.destroy()
'''

GROUPS["descriptors, pickles and remote ones"] = r'''
p = MemoryPool(1 << 20, name("d"), 11)
mem = p.alloc(512)
ser = mem.serialize()
m2 = MemoryAlloc.attach(ser)
m3 = MemoryAlloc.attach(m2.serialize())
m2.get_memview()[0:5] = b"Hello"
same("three handles see the same bytes",
     (bytes(mem.get_memview()[0:5]), bytes(m3.get_memview()[0:5])), (b"Hello", b"Hello"))
check("attach(1): TypeError", lambda: MemoryAlloc.attach(1), TypeError)
check("attach('a str'): TypeError", lambda: MemoryAlloc.attach("mpool_test"), TypeError)
check("attach(a pool): TypeError", lambda: MemoryAlloc.attach(p), TypeError)
check("attach(a MemoryAlloc): TypeError", lambda: MemoryAlloc.attach(mem), TypeError)
check("attach(pickle bytes): TypeError (DragonMemoryTypeError)",
      lambda: MemoryAlloc.attach(pickle.dumps(mem)), TypeError, DragonMemoryTypeError)
check("attach(b''): TypeError", lambda: MemoryAlloc.attach(b""), TypeError)
u = pickle.loads(pickle.dumps(mem))
same("a MemoryAlloc pickles", (bytes(u.get_memview()[0:5]), u.size, u == mem), (b"Hello", 512, True))
m2.detach()
check("get_memview after detach: DragonMemoryError", lambda: m2.get_memview(), DragonMemoryError)
same("the allocation lives on", bytes(mem.get_memview()[0:5]), b"Hello")
dead = mem.clone(0).serialize()
c = MemoryAlloc.attach(p.alloc(64).serialize())
cser = c.serialize()
c.free()
check("attach of a freed allocation's descriptor: DragonMemoryTypeError",
      lambda: MemoryAlloc.attach(cser), DragonMemoryTypeError)

uid, fname = MemoryPool.serialized_uid_fname(p.serialize())
same("serialized_uid_fname gives the uid and the segment's name, without attaching",
     (uid, fname), (11, "/dipc.p." + p._segment))
check("serialized_uid_fname of junk: DragonPoolError",
      lambda: MemoryPool.serialized_uid_fname(b"\x01" * 40), DragonPoolError)

# Another host's descriptors, made as Dragon's tests make them.
r = MemoryAlloc.attach(remote_mem_ser(ser))
same("a remote allocation attaches; its size is known", r.size, 512)
same("its descriptor is passed on unchanged", r.serialize(), remote_mem_ser(ser))
r2 = MemoryAlloc.attach(r.serialize())
rc = r2.clone(100)
same("a remote clone", rc.size, 412)
rc2 = MemoryAlloc.attach(rc.serialize())
check("get_memview of remote memory: DragonMemoryError", lambda: rc2.get_memview(),
      DragonMemoryError)
check("free of remote memory: DragonMemoryError", lambda: rc2.free(), DragonMemoryError)
rp_ser = remote_pool_ser(p.serialize())
rp = MemoryPool.attach(rp_ser)
same("a remote pool attaches, not local", rp.is_local, False)
rp.detach()
rp = MemoryPool.attach(rp_ser)
for what, fn in (("destroy", rp.destroy), ("alloc", lambda: rp.alloc(100)),
                 ("alloc_blocking", lambda: rp.alloc_blocking(100)),
                 ("get_allocations", rp.get_allocations),
                 ("allocation_exists", lambda: rp.allocation_exists(AllocType.DATA, 20))):
    check("%s on a remote pool: DragonPoolError" % what, fn, DragonPoolError)
same("a remote pool pickles", pickle.loads(pickle.dumps(rp)).is_local, False)
rp.detach()
same("the local pool is untouched", bytes(mem.get_memview()[0:5]), b"Hello")
mem.free()
p.destroy()
'''

GROUPS["lifecycle of a detached pool"] = r'''
p = MemoryPool(1 << 20, name("l"), 21)
# Windows removes a pool with the last process that has it mapped: there
# a second mapping keeps it while the object under test is detached.
keep = MemoryPool.attach(p.serialize()) if os.name == "nt" else None
p.detach(serialize=True)
ser = works("serialize after detach(serialize=True)", p.serialize)
report(not p.is_attached, "the object is detached")
q = MemoryPool.attach(ser)
report(p.is_attached, "attaching the same pool anew makes the old object usable again")
m = works("  it allocates", lambda: p.alloc(100))
same("  the other object sees it", q.alloc_from_id(m.id).size, 100)
same("  and the uid came from the pool", q.muid, 21)
m.free()
fresh = MemoryPool.attach(ser)
fresh.detach()
check("serialize of a pool never serialized, after detach: DragonPoolError",
      fresh.serialize, DragonPoolError)
x = MemoryPool.empty_pool()
MemoryPool.attach(ser, existing_memory_pool=x)
report(x.is_attached and x.muid == 21, "attach into an existing_memory_pool")
check("existing_memory_pool not a pool: TypeError",
      lambda: MemoryPool.attach(ser, existing_memory_pool=5), TypeError)
check("a zero-length descriptor: ValueError", lambda: MemoryPool.attach(b""), ValueError)
ch = Channel(q, 3)
cp = Channel.attach(ch.serialize()).get_pool()
same("a pool attached through a channel knows its uid", cp.muid, 21)
ch.destroy()
q.destroy()
check("a destroyed pool's descriptor: DragonPoolAttachFail", lambda: MemoryPool.attach(ser),
      DragonPoolAttachFail)
check("serialize of the destroyed pool: DragonPoolError", q.serialize, DragonPoolError)
local = MemoryPool.make_process_local(name("pl"), 1 << 20)
report(local.is_attached and local.is_local, "make_process_local makes a pool")
same("attach_default is this process's default pool", MemoryPool.attach_default() is local, True)
same("register, deregister and _set_debug_flag are accepted",
     (local.register(), local.deregister(timeout=1), MemoryPool._set_debug_flag(1)),
     (None, None, None))
same("rt_uid (no runtime here)", local.rt_uid, 0)
local.destroy()
'''

GROUPS["blocking allocations"] = r'''
p = MemoryPool(32768, name("b"), 1)
ser = p.serialize()
hog = p.alloc(32000)
check("alloc_blocking, timeout 0, no room: DragonPoolAllocationNotAvailable, not TimeoutError",
      lambda: p.alloc_blocking(3100, timeout=0), DragonPoolAllocationNotAvailable)
try:
    p.alloc_blocking(3100, timeout=0)
except TimeoutError:
    report(False, "  ... and it is no TimeoutError")
except DragonPoolError:
    report(True, "  ... and it is no TimeoutError")
t0 = time.monotonic()
check("alloc_blocking, timeout 0.2, no room: TimeoutError (DragonPoolAllocTimeout)",
      lambda: p.alloc_blocking(3100, timeout=0.2), TimeoutError, DragonPoolAllocTimeout)
report(time.monotonic() - t0 < GUARD, "  ... within the hang guard")
check("a negative timeout: ValueError", lambda: p.alloc_blocking(8, timeout=-1), ValueError)
check("a timeout 'soon': ValueError", lambda: p.alloc_blocking(8, timeout="soon"), ValueError)
check("a size that could never fit fails at once, timeout None",
      lambda: p.alloc_blocking(1 << 20), DragonPoolAllocationNotAvailable)
q = mp.Queue()
for timeout, want in ((0.2, "timeout"), (1.2, "timeout"), (0, "pool error")):
    run_child(child_blocking_timeout, q, ser, timeout)
    got = q.get(timeout=GUARD)
    same("another process, timeout %s: %s" % (timeout, want), got, want)
run_child(child_free_later, ser, hog.serialize(), 0.3)
got = works("a blocked allocation gets the room another process frees",
            lambda: p.alloc_blocking(3100, timeout=GUARD))
if got is not None:
    got.free()
# Ten processes wait for room; this one frees each allocation as it gets
# it, a view of it still in scope (Dragon's test of the same).
hog = p.alloc(32000)
kids = [mp.Process(target=child_blocking, args=(q, ser, k)) for k in range(10)]
for k in kids:
    k.start()
time.sleep(0.5)
hog.free()
seen = 0
try:
    for _ in range(10):
        mem = MemoryAlloc.attach(q.get(timeout=GUARD))
        view = mem.get_memview()
        seen += bytes(view[0:5]) == b"Hello"
        mem.free()
except queue.Empty:
    pass
for k in kids:
    k.join(GUARD)
    if k.is_alive():
        k.kill()
same("ten blocked allocations, each freed with its view alive, all got through", seen, 10)
same("every one of them freed", p.get_allocations().num_allocs, 0)
p.destroy()
'''

GROUPS["processes"] = r'''
p = MemoryPool(1 << 20, name("m"), 31)
q = mp.Queue()
run_child(child_alloc_write, q, p.serialize())
mser, mid = q.get(timeout=GUARD)
mem = MemoryAlloc.attach(mser)
same("an allocation made and written in another process, attached by descriptor",
     bytes(mem.get_memview()[0:5]), b"Hello")
same("its id is the same here", mem.id, mid)
same("and alloc_from_id finds it", bytes(p.alloc_from_id(mid).get_memview()[0:5]), b"Hello")
mem.free()
mine = p.alloc(64)
mine.get_memview()[0:5] = b"Hello"
same("a child attaching by descriptor alone writes into ours",
     (run_child(child_write_by_descriptor, mine.serialize()), bytes(mine.get_memview()[0:5])),
     (0, b"Yello"))
mine.get_memview()[0:4] = b"byid"
run_child(child_by_id, q, p, mine.id)
same("a child given the pickled pool finds ours by id", q.get(timeout=GUARD), b"byid")
run_child(child_pickled, q, p, mine)
same("a pickled pool and allocation in a child", q.get(timeout=GUARD), (31, b"byid"))
same("the child's writes are here", bytes(mine.get_memview()[0:4]), b"kid!")
mine.free()
same("nothing left", p.get_allocations().num_allocs, 0)
p.destroy()
'''

GROUPS["transfer with a live view, and messages"] = r'''
# A pool with room for the message once (Dragon's usual sizing): the idiom
# must send the allocation itself, with no copy and no second allocation.
p = MemoryPool(8192, name("x"), 1)
ch = Channel(p, 1, capacity=4, block_size=256)
sh, rh = ch.sendh(), ch.recvh()
sh.open()
rh.open()
data = bytes(range(256)) * 16
msg = Message.create_alloc(p, len(data))
v = msg.bytes_memview()
v[:] = data
before = p.get_allocations(AllocType.DATA).num_allocs
works("send with transfer_ownership_on_send, a view alive, in a pool with room for one",
      lambda: sh.send(msg, ownership=transfer_ownership_on_send))
same("no second allocation was made", p.get_allocations(AllocType.DATA).num_allocs, before)
report(msg.is_empty, "the message is left empty")
got = rh.recv()
rv = got.bytes_memview()
same("the receiver has the payload", bytes(rv), data)
rv[0:4] = b"recv"
same("the sender's old view maps the same bytes, now the receiver's", bytes(v[0:4]), b"recv")
del rv
got.destroy()
same("the old view still reads without a fault after the receiver freed them", len(bytes(v)),
     len(data))
del v
same("nothing is left allocated", p.get_allocations(AllocType.DATA).num_allocs, 0)
dst = Message.create_alloc(p, 64)
dv = dst.bytes_memview()
src = Message.create_alloc(p, 64)
src.bytes_memview()[0:3] = b"abc"
works("send to a dest_msg with a live view", lambda: sh.send(src, dst))
same("the destination's allocation travelled", dst.is_empty, True)
got = rh.recv()
same("  and holds the payload", got.tobytes()[0:3], b"abc")
got.destroy()
src.destroy()
del dv
ch.destroy()

check("create_alloc(-1): OverflowError (and ChannelError)",
      lambda: Message.create_alloc(p, -1), OverflowError, ChannelError)
check("create_alloc(2**64): OverflowError", lambda: Message.create_alloc(p, 2 ** 64), OverflowError)
check("create_alloc(0): ChannelError", lambda: Message.create_alloc(p, 0), ChannelError)
m = Message.create_alloc(p, 512)
mv = m.bytes_memview()
mv[0:5] = b"Hello"
m.destroy()
same("a view that outlives destroy() reads zeros, not the old payload", bytes(mv[0:5]), bytes(5))
check("bytes_memview of a destroyed message: ChannelError", m.bytes_memview, ChannelError)
del mv
p.destroy()
'''


def run_group(title, body, tmp):
    path = os.path.join(tmp, "group%d.py" % len(os.listdir(tmp)))
    with open(path, "w", encoding="utf-8") as f:
        f.write(PRELUDE)
        f.write("\n\ndef _group():\n")
        f.write(textwrap.indent(body, "    "))
        f.write("\n\nif __name__ == '__main__':\n"
                "    mp.set_start_method('spawn', force=True)\n"
                "    _group()\n")
    try:
        proc = subprocess.run([sys.executable, path, PREFIX], stdout=subprocess.PIPE,
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
        else:
            diag(line)
    if rc == "timeout":
        ok(False, "%s: the group ended within 300 s" % title)
    elif rc < 0:
        ok(False, "%s: the interpreter survived (killed by signal %d after %d checks)"
           % (title, -rc, len(lines)))
    else:
        ok(rc == 0 and lines, "%s: the interpreter survived and exited 0 (status %s)" % (title, rc))
    if rc != 0 and err:
        diag(err.decode("utf-8", "replace")[-3000:])


with tempfile.TemporaryDirectory() as tmp:
    for title, body in GROUPS.items():
        run_group(title, body, tmp)

if os.path.isdir("/dev/shm"):
    left = [f for f in os.listdir("/dev/shm") if PREFIX in f]
    ok(not left, "no segment left behind by the groups: %s" % (left or "none"))
    for f in left:
        try:
            os.unlink(os.path.join("/dev/shm", f))
        except OSError:
            pass
done_testing()

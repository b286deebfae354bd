"""ChannelSendH.send_bytes and ChannelRecvH.recv_bytes, path by path.

The payload takes one of three paths, by its size: up to 1 KiB it is
received through a buffer on the stack; up to the channel's block it
travels in the channel's slot and is received straight into its bytes
object; above the block it travels in a pool allocation.  Each path is
run at its edges (0, 1, 1 KiB, 1 KiB + 1, the block, the block + 1,
1 MiB, 16 MiB) for three block sizes, into an empty channel, into a full
one that a receiver empties while the send waits, and into a full pool
that is freed while the send waits;
with timeouts that expire, and with receivers racing for one channel.
Every payload is checked byte for byte, and every allocation must be
back in the pool after each part.

Last, the copies: with a counting memcpy/memmove preloaded (compiled here
from t/copy_count.c; skipped without a C compiler or where the preload
does not take, as under AddressSanitizer), every payload above 1 KiB is
copied exactly once on the way in, whether or not the channel was full,
and exactly once on the way out.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, unique

from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import (Channel, Message, ChannelFull, ChannelSendError,
                                ChannelSendTimeout, ChannelRecvTimeout, ChannelEmpty)
from dragonipc import _dragonipc

KiB, MiB = 1024, 1024 * 1024
HANG = 30.0   # hang guard for waits that must end


def payload(n, seed):
    """n bytes that differ from any other payload of the test."""
    if n == 0:
        return b""
    head = (b"%d:%d:" % (seed, n))[:n]
    body = bytes((seed * 31 + i * 7) & 0xFF for i in range(min(n, 4099)))
    reps = (n - len(head)) // len(body) + 1
    return head + (body * reps)[:n - len(head)]


def edges(block):
    return sorted({0, 1, KiB, KiB + 1, block, block + 1, MiB, 16 * MiB})


pool = MemoryPool(160 * MiB, unique("pybytes"), 1)

# ---- every edge, three block sizes, an empty channel ------------------------------
cuid = 10
for block in (256, KiB, 64 * KiB):
    cuid += 1
    ch = Channel(pool, cuid, block_size=block, capacity=4)
    base = pool.num_allocs
    with ch.sendh() as s, ch.recvh() as r:
        bad = []
        for n in edges(block):
            p = payload(n, n + block)
            s.send_bytes(p)
            got = r.recv_bytes()
            if type(got) is not bytes or got != p:
                bad.append(n)
        is_(bad, [], "block %d: payloads of %s bytes arrive whole, as bytes"
            % (block, ", ".join(map(str, edges(block)))))
        # Several in flight at once, of mixed sizes, come out in order.
        sizes = [n for n in edges(block) if n <= MiB]
        for i, n in enumerate(sizes[:4]):
            s.send_bytes(bytearray(payload(n, 100 + i)))
        got = [r.recv_bytes() for _ in sizes[:4]]
        is_([len(g) for g in got], sizes[:4], "block %d: four in flight keep their order" % block)
        ok(all(g == payload(n, 100 + i) for i, (g, n) in enumerate(zip(got, sizes))),
           "block %d: and their bytes" % block)
        # msg_len and memoryviews take the same paths.
        big = payload(block + 10, 7)
        s.send_bytes(big, block + 1)
        is_(r.recv_bytes(), big[:block + 1], "block %d: msg_len of block + 1" % block)
        s.send_bytes(memoryview(big)[3:3 + block])
        is_(r.recv_bytes(), big[3:3 + block], "block %d: a memoryview slice of one block" % block)
    is_(pool.num_allocs, base, "block %d: every allocation is back in the pool" % block)
    ch.destroy()

# ---- a full channel: the send waits, a receiver makes room -----------------------
ch = Channel(pool, 20, block_size=KiB, capacity=2)
base = pool.num_allocs
with ch.sendh() as s, ch.recvh() as r:
    for n in (1, KiB, KiB + 1, MiB, 16 * MiB):
        fill = [payload(8, 1), payload(KiB + 5, 2)]
        for f in fill:
            s.send_bytes(f)
        raises(ChannelFull, s.send_bytes, payload(n, 3), blocking=False,
               name="%d bytes into a full channel, tried once: ChannelFull" % n)
        is_(ch.num_msgs, 2, "  ... and the channel still holds two messages")
        got = []

        def drain():
            time.sleep(0.05)
            for _ in range(3):
                got.append(r.recv_bytes(timeout=HANG))

        t = threading.Thread(target=drain)
        t.start()
        s.send_bytes(payload(n, 3), timeout=HANG)
        t.join(HANG)
        ok(not t.is_alive() and got == fill + [payload(n, 3)],
           "%d bytes into a full channel: the blocked send completes once there is room, "
           "and all three arrive whole, in order" % n)
    is_(pool.num_allocs, base, "every allocation is back in the pool")

    # Timeouts.
    s.send_bytes(payload(3, 4))
    s.send_bytes(payload(3, 5))
    for n in (1, KiB + 1, MiB):
        t0 = time.monotonic()
        raises(ChannelSendTimeout, s.send_bytes, payload(n, 6), timeout=0.05,
               name="%d bytes into a full channel with a timeout: ChannelSendTimeout" % n)
        ok(time.monotonic() - t0 < HANG, "  ... which returns (hang guard %d s)" % HANG)
    is_([r.recv_bytes(), r.recv_bytes()], [payload(3, 4), payload(3, 5)],
        "the timed-out sends left the channel as it was")
    is_(pool.num_allocs, base, "and took nothing from the pool")
    raises(ChannelRecvTimeout, r.recv_bytes, timeout=0.05,
           name="an empty channel with a timeout: ChannelRecvTimeout")
    raises(ChannelEmpty, r.recv_bytes, blocking=False, name="an empty channel tried once: ChannelEmpty")
ch.destroy()

# ---- a full pool -------------------------------------------------------------------
small = MemoryPool(2 * MiB, unique("pybytes-full"), 2)
ch = Channel(small, 21, block_size=KiB, capacity=4)
hog = Message.create_alloc(small, small.largest_free)
base = small.num_allocs
with ch.sendh() as s, ch.recvh() as r:
    s.send_bytes(payload(KiB, 8))
    is_(r.recv_bytes(), payload(KiB, 8), "a full pool: a payload of one block still goes (in the slot)")
    e = raises(ChannelSendError, s.send_bytes, payload(KiB + 1, 9), blocking=False,
               name="a full pool: block + 1 bytes tried once raises ChannelSendError")
    ok(e is not None and e.lib_err == _dragonipc.ENOSPC, "  ... carrying DIPC_ENOSPC")
    t0 = time.monotonic()
    e = raises(ChannelSendTimeout, s.send_bytes, payload(64 * KiB, 9), timeout=0.1,
               name="a full pool: a send with a timeout waits for room, then ChannelSendTimeout")
    ok(time.monotonic() - t0 < HANG, "  ... which returns (hang guard %d s)" % HANG)
    is_(ch.num_msgs, 0, "  ... sending nothing")

    def free_later():
        time.sleep(0.05)
        hog.destroy()

    t = threading.Thread(target=free_later)
    t.start()
    try:
        s.send_bytes(payload(512 * KiB, 10), timeout=HANG)
        got = r.recv_bytes()
    except ChannelSendError as e:
        got = e
    t.join(HANG)
    if not ok(got == payload(512 * KiB, 10),
              "a full pool: a blocking send waits until room is made, and its payload arrives"):
        diag("  got %s" % (got if isinstance(got, Exception) else "%d bytes" % len(got)))
is_(small.num_allocs, base - 1, "every allocation is back in the pool")
ch.destroy()
small.destroy()

# ---- receivers racing for one channel ---------------------------------------------
# Sizes alternate between the three paths, so that a receiver told the
# length of one payload (and making its bytes object) often finds another
# receiver took it, and the next one is larger or smaller.
ch = Channel(pool, 22, block_size=4 * KiB, capacity=8)
sizes = [5, 3000, 70 * KiB, 900, 9 * KiB, 1500, 300 * KiB, 0]
N = 2000
counts = {}
errors = []
lock = threading.Lock()


def receiver():
    with ch.recvh() as r:
        while True:
            d = r.recv_bytes(timeout=HANG)
            if d == b"end":
                return
            seq = int(d[:8]) if len(d) >= 8 else -1
            n = sizes[seq % len(sizes)] if seq >= 0 else len(d)
            want = b"%08d" % seq + payload(n, seq)[8:] if n >= 8 else payload(n, seq)
            with lock:
                if seq >= 0 and d != want:
                    errors.append(seq)
                counts[seq] = counts.get(seq, 0) + 1


rs = [threading.Thread(target=receiver) for _ in range(3)]
for t in rs:
    t.start()
with ch.sendh() as s:
    for seq in range(N):
        n = sizes[seq % len(sizes)]
        s.send_bytes(b"%08d" % seq + payload(n, seq)[8:] if n >= 8 else payload(n, seq), timeout=HANG)
    for _ in rs:
        s.send_bytes(b"end", timeout=HANG)
for t in rs:
    t.join(HANG)
ok(not any(t.is_alive() for t in rs), "three receivers racing: all finished")
is_(errors, [], "three receivers racing: no payload arrived changed")
short = counts.pop(-1, 0)
is_((len(counts), set(counts.values())), (N - N // len(sizes) * 2, {1}),
    "three receivers racing: every payload of 8 bytes or more arrived exactly once")
is_(short, N // len(sizes) * 2, "  ... and every shorter one arrived too")
ch.destroy()

# ---- the copies -----------------------------------------------------------------
COUNTER = r'''
import ctypes, os, sys
from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import Channel
cc = ctypes.CDLL(sys.argv[1])
cc.copy_count_bytes.restype = ctypes.c_ulonglong
def copied(fn):
    before = cc.copy_count_bytes()
    fn()
    return cc.copy_count_bytes() - before
x = b"x" * 8192
print("probe", copied(lambda: bytearray(x)))
pool = MemoryPool(64 << 20, sys.argv[2], 3)
for block, n in ((1024, 1025), (1024, 1 << 20), (65536, 65536), (1 << 20, 1 << 20)):
    ch = Channel(pool, 30, block_size=block, capacity=2)
    s, r = ch.sendh(), ch.recvh()
    s.open(); r.open()
    src = bytearray(b"c" * n)
    for _ in range(3):   # the first messages make the allocator's caches
        s.send_bytes(src); r.recv_bytes()
    sent = copied(lambda: s.send_bytes(src))
    got = copied(r.recv_bytes)
    # Full: the send has to wait until another thread receives.
    s.send_bytes(src); s.send_bytes(src)
    import threading, time
    def later():
        time.sleep(0.05)
        r.recv_bytes()
    t = threading.Thread(target=later); t.start()
    full = copied(lambda: s.send_bytes(src))
    t.join()
    r.recv_bytes(); r.recv_bytes()
    # Whole payloads: what else a call copies is a few bytes.
    print(block, n, sent // n, got // n, full // n)
    s.close(); r.close(); del s, r
    ch.destroy()
pool.destroy()
'''


def copy_counts():
    src = os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..")),
                       "t", "copy_count.c")
    tmp = tempfile.mkdtemp(prefix="pybytes-")
    so = os.path.join(tmp, "copy_count.so")
    cc = os.environ.get("CC", "cc").split()
    try:
        subprocess.run(cc + ["-O2", "-shared", "-fPIC", "-o", so, src, "-ldl"], check=True,
                       capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "no C compiler to build the counting preload (%s)" % e
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(p for p in (env.get("LD_PRELOAD"), so) if p)
    try:
        p = subprocess.run([sys.executable, "-c", COUNTER, so, unique("pybytes-cc")],
                           env=env, capture_output=True, text=True, timeout=300)
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    if p.returncode != 0:
        return None, "the counting run failed: %s" % (p.stderr.strip().splitlines() or ["?"])[-1]
    lines = p.stdout.split("\n")
    if not lines[0].startswith("probe ") or int(lines[0].split()[1]) != 8192:
        return None, "the counting preload does not see memmove here (another preload first?)"
    return [tuple(int(x) for x in l.split()) for l in lines[1:] if l.strip()], None


rows, why = copy_counts()
if rows is None:
    ok(True, "copies per payload # SKIP not counted: %s" % why)
else:
    for block, n, sent, got, full in rows:
        is_((sent, got, full), (1, 1, 1),
            "block %d, %d bytes: copied once in, once out, once in when the channel was full"
            % (block, n))

pool.destroy()
done_testing()

"""Closing an object while another thread is blocked in a call on it.

A stream closed (close(), clean_library(), a signal handler) while a read
or write of another thread waits on it: the waiting call must raise
SmipcClosedError (an OperationFailedError) instead of using the freed
handle, close() must return, and no segment may be left behind.  A write
that had moved bytes says how many (``written``) and the reader gets them.
The siblings follow the same rule: a pool detached or destroyed while an
allocation waits for room, a channel detached while poll() waits, a
receive handle closed while a receive waits, a message destroyed while a
send of it waits.

Each group runs in its own interpreter, so that a crash (a signal) is seen
as a failure of that group instead of ending this test.  Where the test
must know that a thread really is asleep inside the library (Linux), it
looks at the futex the thread sleeps on (/proc/self/task/TID/syscall
against the address status() prints); elsewhere it gives the thread a
moment and accepts either order.  Timings are never asserted: a bound of
several seconds only guards against a hang.
"""

import os
import subprocess
import sys

from taplib import ok, diag, skip, done_testing

PREFIX = "pyclose-%d" % os.getpid()

PRELUDE = r'''
import faulthandler, gc, os, re, signal, sys, threading, time
from dragonipc import smipc, _errors
from dragonipc.smipc import (Channel as Stream, CHAN_R, CHAN_W, OperationFailedError,
    OppositeEndClosedError, create_string_buffer)
from dragonipc.managed_memory import MemoryPool, DragonPoolValueError
from dragonipc.channels import (Channel, Message, ChannelValueError, ChannelHandleNotOpenError,
    ChannelDestroyed)

# The class is new: looked up softly, so that an older build still runs
# far enough to show what it does.
SmipcClosedError = getattr(_errors, "SmipcClosedError", None)
if SmipcClosedError is None:
    class SmipcClosedError(Exception):
        pass

PREFIX = sys.argv[1]
RUNS = int(sys.argv[2])
GUARD = 10.0            # seconds: a hang guard, not a timing
_n = [0]

def name(tag):
    _n[0] += 1
    return "%s-%s-%d" % (PREFIX, tag, _n[0])

def report(good, label, detail=""):
    print("%s %s%s" % ("PASS" if good else "FAIL", label, (" -- " + detail) if detail else ""),
          flush=True)

def left_behind():
    if not os.path.isdir("/dev/shm"):
        return []
    return [f for f in os.listdir("/dev/shm") if PREFIX + "-" in f]

class Tally:
    """Count the runs where a property failed; report once, with the first
    failure's detail."""
    def __init__(self, label):
        self.label, self.bad, self.first = label, 0, ""
    def check(self, good, detail=""):
        if not good:
            self.bad += 1
            if not self.first:
                self.first = detail
        return good
    def report(self, runs):
        report(self.bad == 0, "%s (%d runs)" % (self.label, runs),
               "%d failed, first: %s" % (self.bad, self.first) if self.bad else "")

def evt_addr(stream, which):
    m = re.search(r"%s=(0x[0-9a-fA-F]+)" % which, stream.status())
    return int(m.group(1), 16) if m else None

PROC_SYSCALL = os.path.exists("/proc/self/task/%d/syscall" % threading.get_native_id())

def asleep_on(tid, addr):
    """True once thread tid sleeps in a system call on addr (a futex); None
    where that cannot be seen (then after a moment); False on the guard."""
    if not PROC_SYSCALL or addr is None:
        time.sleep(0.2)
        return None
    end = time.monotonic() + GUARD
    while time.monotonic() < end:
        try:
            with open("/proc/self/task/%d/syscall" % tid) as f:
                fields = f.read().split()
        except OSError:
            return None
        if len(fields) > 1 and fields[0].isdigit() and int(fields[1], 16) == addr:
            return True
        time.sleep(0.001)
    return False

class Blocked(threading.Thread):
    """Run fn in a daemon thread; keep what it returned or raised."""
    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.exc = fn, None, None
        self.tid = None
        self.started_fn = threading.Event()
    def run(self):
        self.tid = threading.get_native_id()
        self.started_fn.set()
        try:
            self.result = self.fn()
        except BaseException as e:
            self.exc = e

# A close that hangs ends the group with a traceback (a failure).
faulthandler.dump_traceback_later(600, exit=True)
'''

GROUPS = {}

GROUPS["stream: close() under a blocked read()"] = r'''
t_exc = Tally("the blocked read raised SmipcClosedError (an OperationFailedError)")
t_ret = Tally("the blocked read returned (hang guard %g s)" % GUARD)
t_close = Tally("close() returned and the channel reports closed")
t_shm = Tally("nothing left in /dev/shm")
seen = 0
for i in range(RUNS):
    n = name("r")
    c = Stream(n, CHAN_R, 64).open()
    addr = evt_addr(c, "hREvt")
    buf = create_string_buffer(16)
    th = Blocked(lambda: c.read(buf, 16, blocking=True))
    th.start()
    th.started_fn.wait()
    asleep = asleep_on(th.tid, addr)
    seen += asleep is True
    c.close()
    t_close.check(not c.is_open, "is_open after close")
    th.join(GUARD)
    if not t_ret.check(not th.is_alive(), "run %d: still blocked" % i):
        break
    want = SmipcClosedError if asleep is not False else OperationFailedError
    t_exc.check(isinstance(th.exc, want) and isinstance(th.exc, OperationFailedError),
                "run %d: got %r, result %r" % (i, th.exc, th.result))
    t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
for t in (t_exc, t_ret, t_close, t_shm):
    t.report(i + 1)
report(seen > 0 or not PROC_SYSCALL, "the reader was seen asleep in the library (in %d runs)" % seen)
'''

GROUPS["stream: close() under a blocked write() with the ring full"] = r'''
t_exc = Tally("the blocked write raised SmipcClosedError")
t_written = Tally("its `written` is the ring's size (what it moved before the close)")
t_ret = Tally("the blocked write returned (hang guard %g s)" % GUARD)
t_reader = Tally("the reader then gets exactly those bytes, then the writer's close")
t_shm = Tally("nothing left in /dev/shm")
data = bytes(range(256)) * 4
for i in range(RUNS):
    n = name("w")
    r = Stream(n, CHAN_R, 64).open()
    w = Stream(n, CHAN_W, 64).open()
    addr = evt_addr(w, "hWEvt")
    th = Blocked(lambda: w.write(data))
    th.start()
    th.started_fn.wait()
    asleep = asleep_on(th.tid, addr)
    if asleep is None:
        # No /proc: wait until the ring is full (the write has begun).
        end = time.monotonic() + GUARD
        while "state=full" not in r.status() and time.monotonic() < end:
            time.sleep(0.001)
    w.close()
    th.join(GUARD)
    if not t_ret.check(not th.is_alive(), "run %d: still blocked" % i):
        break
    t_exc.check(isinstance(th.exc, SmipcClosedError), "run %d: got %r" % (i, th.exc))
    t_written.check(getattr(th.exc, "written", None) == 64,
                    "run %d: written=%r" % (i, getattr(th.exc, "written", None)))
    buf = create_string_buffer(256)
    got = r.read(buf, 256, blocking=True, timeout=GUARD)
    try:
        r.read(buf, 1, blocking=True, timeout=GUARD)
        end_seen = False
    except OppositeEndClosedError:
        end_seen = True
    t_reader.check(got == 64 and buf.raw[:64] == data[:64] and end_seen,
                   "run %d: read %r, end seen %r" % (i, got, end_seen))
    r.close()
    t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
for t in (t_exc, t_written, t_ret, t_reader, t_shm):
    t.report(i + 1)
'''

GROUPS["stream: clean_library() under a blocked read() and write()"] = r'''
t_exc = Tally("both blocked calls raised SmipcClosedError")
t_ret = Tally("both returned (hang guard %g s)" % GUARD)
t_after = Tally("the channels are closed afterwards; closing them again is harmless")
t_shm = Tally("nothing left in /dev/shm")
runs = max(1, RUNS // 4)
for i in range(runs):
    rn, wn = name("cr"), name("cw")
    rd = Stream(rn, CHAN_R, 64).open()
    peer = Stream(wn, CHAN_R, 64).open()
    wr = Stream(wn, CHAN_W, 64).open()
    buf = create_string_buffer(16)
    a = Blocked(lambda: rd.read(buf, 16, blocking=True))
    b = Blocked(lambda: wr.write(b"y" * 500))
    a.start(); b.start()
    a.started_fn.wait(); b.started_fn.wait()
    sa = asleep_on(a.tid, evt_addr(rd, "hREvt"))
    sb = asleep_on(b.tid, evt_addr(wr, "hWEvt"))
    smipc.clean_library()
    a.join(GUARD); b.join(GUARD)
    if not t_ret.check(not a.is_alive() and not b.is_alive(), "run %d: still blocked" % i):
        break
    want = SmipcClosedError if (sa, sb) == (True, True) else OperationFailedError
    t_exc.check(isinstance(a.exc, want) and isinstance(b.exc, want),
                "run %d: %r / %r" % (i, a.exc, b.exc))
    try:
        rd.close(); wr.close(); peer.close()
        t_after.check(not rd.is_open and not wr.is_open, "run %d: still open" % i)
    except Exception as e:
        t_after.check(False, "run %d: close raised %r" % (i, e))
    t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
for t in (t_exc, t_ret, t_after, t_shm):
    t.report(i + 1)
'''

GROUPS["stream: close() and clean_library() from a signal handler inside read()"] = r'''
if not hasattr(signal, "pthread_kill"):
    print("SKIP no signal.pthread_kill", flush=True)
    sys.exit(0)
runs = max(1, RUNS // 4)
main_ident = threading.main_thread().ident
main_tid = threading.get_native_id()
for how in ("close", "clean_library"):
    t_exc = Tally("%s in the handler: the read raised SmipcClosedError" % how)
    t_closed = Tally("%s in the handler: the channel is closed once the read returned" % how)
    t_shm = Tally("%s in the handler: nothing left in /dev/shm" % how)
    for i in range(runs):
        n = name("s")
        c = Stream(n, CHAN_R, 64).open()
        addr = evt_addr(c, "hREvt")
        def handler(signum, frame, c=c):
            if how == "close":
                c.close()
            else:
                smipc.clean_library()
        signal.signal(signal.SIGUSR1, handler)
        asleep = []
        def poke():
            asleep.append(asleep_on(main_tid, addr))
            signal.pthread_kill(main_ident, signal.SIGUSR1)
        p = threading.Thread(target=poke, daemon=True)
        p.start()
        exc = None
        try:
            c.read(create_string_buffer(16), 16, blocking=True)
        except BaseException as e:
            exc = e
        p.join(GUARD)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        want = SmipcClosedError if asleep == [True] else OperationFailedError
        t_exc.check(isinstance(exc, want) and isinstance(exc, OperationFailedError),
                    "run %d: got %r" % (i, exc))
        t_closed.check(not c.is_open, "run %d: still open" % i)
        c.close()
        t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
    for t in (t_exc, t_closed, t_shm):
        t.report(runs)
'''

GROUPS["stream: dropping the last reference under a blocked read() frees nothing"] = r'''
runs = max(1, RUNS // 10)
t_read = Tally("the read completes with the data written later")
t_shm = Tally("the stream is closed once the call let go of it")
for i in range(runs):
    n = name("d")
    c = Stream(n, CHAN_R, 64).open()
    buf = create_string_buffer(16)
    th = Blocked(lambda c=c: c.read(buf, 16, blocking=True))
    th.start()
    th.started_fn.wait()
    asleep_on(th.tid, evt_addr(c, "hREvt"))
    th.fn = None
    del c
    gc.collect()
    with Stream(n, CHAN_W, 64) as w:
        w.write(b"z" * 16)
    th.join(GUARD)
    t_read.check(th.result == 16 and buf.raw == b"z" * 16, "run %d: %r %r" % (i, th.result, th.exc))
    del th
    gc.collect()
    t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
for t in (t_read, t_shm):
    t.report(runs)
'''

GROUPS["stream: fork() while a thread is blocked in read()"] = r'''
if not hasattr(os, "fork"):
    print("SKIP no fork()", flush=True)
    sys.exit(0)
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
runs = max(1, RUNS // 10)
t_child = Tally("the child's close() and clean_library() return (the blocked thread is not "
                "the child's) and leave the parent's stream open")
t_parent = Tally("the parent's close() then ends its blocked read (SmipcClosedError)")
t_shm = Tally("nothing left in /dev/shm")
for i in range(runs):
    n = name("f")
    c = Stream(n, CHAN_R, 64).open()
    th = Blocked(lambda: c.read(create_string_buffer(16), 16, blocking=True))
    th.start()
    th.started_fn.wait()
    asleep = asleep_on(th.tid, evt_addr(c, "hREvt"))
    pid = os.fork()
    if pid == 0:
        c.close()
        smipc.clean_library()
        os._exit(0)
    end = time.monotonic() + GUARD
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() > end:
            break
        time.sleep(0.01)
    if not done:                # the child hangs: a failure
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        status = "hung"
    t_child.check(status == 0 and c.is_open, "run %d: child status %r, open %r"
                  % (i, status, c.is_open))
    c.close()
    th.join(GUARD)
    want = SmipcClosedError if asleep is not False else OperationFailedError
    t_parent.check(not th.is_alive() and isinstance(th.exc, want), "run %d: %r" % (i, th.exc))
    t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
for t in (t_child, t_parent, t_shm):
    t.report(runs)
'''

GROUPS["pool: detach() and destroy() under an allocation waiting for room"] = r'''
for how in ("detach", "destroy"):
    t_exc = Tally("%s: the waiting create_alloc raised DragonPoolValueError" % how)
    t_ret = Tally("%s: it returned (hang guard %g s)" % (how, GUARD))
    t_shm = Tally("%s: nothing left in /dev/shm" % how)
    for i in range(RUNS):
        pool = MemoryPool(1 << 20, name("p"), 0)
        hog = Message.create_alloc(pool, pool.largest_free)
        th = Blocked(lambda: Message.create_alloc(pool, 4096, timeout=None))
        th.start()
        th.started_fn.wait()
        time.sleep(0.005)   # not a pass/fail timing: either order must hold
        getattr(pool, how)()
        th.join(GUARD)
        if not t_ret.check(not th.is_alive(), "run %d: still waiting" % i):
            break
        t_exc.check(isinstance(th.exc, DragonPoolValueError), "run %d: got %r / %r"
                    % (i, th.exc, th.result))
        hog.destroy()
        if how == "detach" and os.name != "nt":    # on Windows it went with its last mapping
            MemoryPool.attach_name(pool.name).destroy()
        del hog, th, pool
        gc.collect()
        t_shm.check(not left_behind(), "run %d: %s" % (i, left_behind()))
    for t in (t_exc, t_ret, t_shm):
        t.report(i + 1)
'''

GROUPS["channel: detach() under poll(), close() of a handle under recv_bytes()"] = r'''
pool = MemoryPool(1 << 22, name("cp"), 0)
t_poll = Tally("detach under poll(): ChannelValueError")
t_poll_ret = Tally("the poll returned (hang guard %g s)" % GUARD)
t_recv = Tally("close() of the handle under recv_bytes(): ChannelHandleNotOpenError")
t_recv_ret = Tally("the receive returned (hang guard %g s)" % GUARD)
t_dest = Tally("destroy() under recv_bytes() of another handle: ChannelDestroyed")
for i in range(RUNS):
    ch = Channel(pool, 2 * i)
    att = Channel.attach(ch.serialize())
    th = Blocked(lambda: att.poll(timeout=None))
    th.start()
    th.started_fn.wait()
    time.sleep(0.005)       # not a pass/fail timing: either order must hold
    att.detach()
    th.join(GUARD)
    if not t_poll_ret.check(not th.is_alive(), "run %d: still polling" % i):
        break
    t_poll.check(isinstance(th.exc, ChannelValueError), "run %d: got %r / %r"
                 % (i, th.exc, th.result))
    r = ch.recvh()
    r.open()
    th = Blocked(lambda: r.recv_bytes(timeout=None))
    th.start()
    th.started_fn.wait()
    time.sleep(0.005)
    r.close()
    th.join(GUARD)
    if not t_recv_ret.check(not th.is_alive(), "run %d: still receiving" % i):
        break
    t_recv.check(isinstance(th.exc, ChannelHandleNotOpenError), "run %d: got %r" % (i, th.exc))
    r2 = ch.recvh()
    r2.open()
    th = Blocked(lambda: r2.recv_bytes(timeout=None))
    th.start()
    th.started_fn.wait()
    time.sleep(0.005)
    ch.destroy()
    th.join(GUARD)
    t_dest.check(not th.is_alive() and isinstance(th.exc, ChannelDestroyed),
                 "run %d: got %r" % (i, th.exc))
    del r, r2, th, att, ch
for t in (t_poll, t_poll_ret, t_recv, t_recv_ret, t_dest):
    t.report(i + 1)
gc.collect()
pool.destroy()
'''

GROUPS["message: destroy() while a send of it waits"] = r'''
pool = MemoryPool(1 << 22, name("mp"), 0)
ch = Channel(pool, 1, capacity=1)
s, r = ch.sendh(), ch.recvh()
s.open(); r.open()
t_refused = Tally("destroy() of the message being sent raises ChannelValueError")
t_sent = Tally("the send completes with the payload once room is made")
for i in range(RUNS):
    s.send_bytes(b"filler")                     # the channel is full now
    msg = Message.create_alloc(pool, 64)
    msg.bytes_memview()[:5] = b"hello"
    th = Blocked(lambda: s.send(msg))
    th.start()
    th.started_fn.wait()
    end = time.monotonic() + GUARD
    busy = False
    while not busy and time.monotonic() < end:
        try:
            v = msg.bytes_memview()     # refused while the send holds it
            v.release()
            time.sleep(0.001)
        except BufferError:
            busy = True
    try:
        msg.destroy()
        refused = None
    except ChannelValueError as e:
        refused = e
    t_refused.check(busy and refused is not None, "run %d: busy %r, destroy gave %r"
                    % (i, busy, refused))
    first = r.recv_bytes(timeout=GUARD)
    th.join(GUARD)
    got = r.recv_bytes(timeout=GUARD)
    t_sent.check(first == b"filler" and th.exc is None and got[:5] == b"hello",
                 "run %d: %r %r %r" % (i, first, th.exc, got[:5]))
    if not msg.is_destroyed:
        msg.destroy()
for t in (t_refused, t_sent):
    t.report(RUNS)
s.close(); r.close()
del s, r
ch.destroy()
pool.destroy()
'''


def run_group(title, body, prefix, runs):
    code = PRELUDE + body
    try:
        proc = subprocess.run([sys.executable, "-c", code, prefix, str(runs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
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
            skip(title, line[5:])
        else:
            diag(line)
    if rc == "timeout":
        ok(False, "%s: the group ended within 900 s" % title)
    elif rc < 0:
        ok(False, "%s: the interpreter survived (killed by signal %d after %d lines)"
           % (title, -rc, len(lines)))
    else:
        ok(rc == 0 and lines, "%s: the interpreter survived and exited 0 (status %s)"
           % (title, rc))
    if rc != 0 and err:
        diag(err.decode("utf-8", "replace")[-2000:])


RUNS = int(os.environ.get("PY_CLOSE_RACE_RUNS", "100"))
# Each group names its segments apart, so that one a crashed group left
# behind is not blamed on the next.
for n, (title, body) in enumerate(GROUPS.items()):
    run_group(title, body, "%s-%d" % (PREFIX, n), RUNS)

if os.path.isdir("/dev/shm"):
    left = [f for f in os.listdir("/dev/shm") if PREFIX in f]
    ok(not left, "no segment left behind by the groups: %s" % (left or "none"))
    for f in left:
        try:
            os.unlink(os.path.join("/dev/shm", f))
        except OSError:
            pass
done_testing()

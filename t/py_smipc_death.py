"""dragonipc.smipc: a peer process that is killed is seen like one that
closed.  Each peer is a process of its own, killed while the other side
waits on it: SIGKILL on POSIX, TerminateProcess on Windows (Popen.kill),
so nothing of the dead one's cleanup runs.

- the writer dies while the reader blocks: the reader gets every byte
  written before the death (a short count), then OppositeEndClosedError;
- a new writer process then takes the dead one's role, and the same reader
  reads on;
- the reader dies while the writer blocks on a full channel: the write
  raises OppositeEndClosedError;
- the writer dies while an async listener (read_async) waits: the callback
  has every byte, then on_close is called.

A bound of GUARD seconds only guards against a hang; nothing is timed.
"""

import os
import subprocess
import sys
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, unique

from dragonipc.smipc import *   # as smipc's examples do

GUARD = 30          # seconds: a hang guard, not a timing
PREFIX = unique("pydeath")

WRITER = """
import sys, time
from dragonipc.smipc import *
with open_channel(sys.argv[1], CHAN_W, 16) as c:
    c.write(sys.argv[2].encode())
    print("ready", flush=True)
    time.sleep(600)
"""

READER = """
import sys, time
from dragonipc.smipc import *
with open_channel(sys.argv[1], CHAN_R, 16) as c:
    print("ready", flush=True)
    time.sleep(600)
"""


def child(code, *args):
    """Start a peer; return it once it said it is ready."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stdout.readline().strip()
    if line != b"ready":
        proc.kill()
        diag("the peer did not start: %s" % proc.communicate()[1].decode(errors="replace"))
    return proc, line


def kill_later(proc):
    """Kill proc in a moment, from another thread, while this one waits.
    Either order (killed before or after the wait begins) must work."""
    t = threading.Timer(0.3, proc.kill)
    t.start()
    return t


def reap(proc, timer=None):
    if timer is not None:
        timer.join()
    if proc.poll() is None:
        proc.kill()
    try:
        proc.communicate(timeout=GUARD)
    except subprocess.TimeoutExpired:
        diag("a killed peer did not go away")
    return proc.returncode


# ---- the writer dies while the reader blocks ----------------------------------------
cid = "%s-w" % PREFIX
buf = create_string_buffer(64)
with open_channel(cid, CHAN_R, 16) as r:
    w, line = child(WRITER, cid, "before death")
    is_(line, b"ready", "a writer process wrote and waits")
    k = kill_later(w)
    n = r.read(buf, 64, True, timeout=GUARD)
    is_((n, buf.raw[:n]), (12, b"before death"),
        "writer killed: the blocked reader gets every byte it wrote, a short count")
    raises(OppositeEndClosedError, r.read, buf, 4, True, timeout=GUARD,
           name="writer killed: then the reader sees it gone")
    ok(reap(w, k) != 0, "the writer was killed")

    w2, line = child(WRITER, cid, "second writer")
    is_(line, b"ready", "a new writer process takes the dead writer's role")
    n = r.read(buf, 13, True, timeout=GUARD)
    is_(buf.raw[:n], b"second writer", "the same reader reads on: the new writer's bytes")
    k = kill_later(w2)
    raises(OppositeEndClosedError, r.read, buf, 1, True, timeout=GUARD,
           name="that writer killed too: the reader sees it")
    reap(w2, k)

# ---- the reader dies while the writer blocks on a full channel ------------------------
cid = "%s-r" % PREFIX
with open_channel(cid, CHAN_W, 16) as wr:
    rd, line = child(READER, cid)
    is_(line, b"ready", "a reader process opened and waits")
    is_(wr.write(b"0123456789abcdef", timeout=GUARD), 16, "the writer fills the channel")
    k = kill_later(rd)
    e = raises(OppositeEndClosedError, wr.write, b"no room", timeout=GUARD,
               name="reader killed: the writer blocked on the full channel sees it gone")
    is_(getattr(e, "written", 0), 0, "  ... and says it wrote nothing of it")
    raises(OppositeEndClosedError, wr.write, b"x", timeout=GUARD,
           name="reader killed: later writes are refused too")
    ok(reap(rd, k) != 0, "the reader was killed")

# ---- the writer dies while an async listener waits -----------------------------------
cid = "%s-a" % PREFIX
got, closed = [], threading.Event()
with open_channel(cid, CHAN_R, 16) as r:
    w, line = child(WRITER, cid, "to the listener")
    is_(line, b"ready", "a writer process wrote and waits")
    lst = r.read_async(got.append, on_close=closed.set)
    k = kill_later(w)
    ok(closed.wait(GUARD), "writer killed: the listener's on_close is called")
    is_(b"".join(got), b"to the listener", "  ... after the callback got every byte")
    lst.stop()
    reap(w, k)

clean_library()
if os.name != "nt" and os.path.isdir("/dev/shm"):
    left = [f for f in os.listdir("/dev/shm") if PREFIX in f]
    ok(not left, "nothing left in /dev/shm: %s" % (left or "none"))
done_testing()

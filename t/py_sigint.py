"""Ctrl-C: a process blocked in a wait without timeout gets
KeyboardInterrupt promptly (send SIGINT to a child blocked in recv,
send, poll, ...)."""

import os
import signal
import subprocess
import sys
import time

from taplib import ok, is_, diag, done_testing, unique, skip_all

from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import Channel

if not hasattr(signal, "SIGINT") or os.name != "posix":
    skip_all("needs POSIX signals")

CHILD = r"""
import sys
from dragonipc.channels import Channel, SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT
ch = Channel.attach(bytes.fromhex(sys.argv[1]))
what, mode = sys.argv[2], {"spin": SPIN_WAIT, "idle": IDLE_WAIT, "adaptive": ADAPTIVE_WAIT}[sys.argv[3]]
with ch.recvh(wait_mode=mode) as r, ch.sendh(wait_mode=mode) as s:
    if what == "send":
        while True:          # fill the channel, then block
            try:
                s.send_bytes(b"x", blocking=False)
            except Exception:
                break
    print("ready", flush=True)
    try:
        if what == "recv_bytes":
            r.recv_bytes()
        elif what == "recv":
            r.recv(timeout=None)
        elif what == "send":
            s.send_bytes(b"x")
        elif what == "poll":
            ch.poll()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
print("returned", flush=True)
"""

pool = MemoryPool(1 << 20, unique("pysigint"), 0)
cases = [("recv_bytes", "adaptive"), ("recv_bytes", "idle"), ("recv_bytes", "spin"),
         ("recv", "adaptive"), ("send", "adaptive"), ("poll", "idle")]
for n, (what, mode) in enumerate(cases):
    ch = Channel(pool, 100 + n, capacity=4)
    child = subprocess.Popen([sys.executable, "-c", CHILD, ch.serialize().hex(), what, mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = child.stdout.readline().strip()
    is_(line, b"ready", "%s/%s: the child is about to block" % (what, mode))
    time.sleep(0.5)     # let it get into the wait (not a pass/fail timing)
    ok(child.poll() is None, "%s/%s: the child is blocked" % (what, mode))
    t0 = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    took = time.monotonic() - t0
    is_((child.returncode, out.strip()), (3, b"interrupted"),
        "%s/%s: SIGINT raised KeyboardInterrupt in the blocked call" % (what, mode))
    ok(took < 5, "%s/%s: within 5 s (took %.3f s)" % (what, mode, took))
    diag("%s/%s: interrupted %.0f ms after SIGINT" % (what, mode, took * 1000))
    if err:
        diag(err.decode(errors="replace"))
    ch.destroy()
pool.destroy()
done_testing()

"""dragonipc.smipc: smipc's examples as two processes (either first, and
the async receiver), and the module's API and error paths."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, skip, unique

from dragonipc.smipc import *   # as smipc's examples do
from dragonipc import smipc

HERE = tempfile.mkdtemp(prefix="py_smipc.")

# smipc's examples (py/example/*.py), with only the import changed and
# the channel id made unique to this run; the data size is the README's 64.
SENDER = """\
from dragonipc.smipc import *
import random


cid = b'@CID@'
chanSz = 20
dataSz = 64
init_library()
testData = bytes([random.randint(0, 255) for _ in range(dataSz)])
with open_channel(cid, CHAN_W, chanSz) as c:
    c.print_status()
    c.write(testData)
    c.print_status()
print(testData)
clean_library()
"""

RECEIVER = """\
from dragonipc.smipc import *


cid = b'@CID@'
chanSz = 20
dataSz = 64
init_library()
buf = create_string_buffer(dataSz)
with open_channel(cid, CHAN_R, chanSz) as c:
    c.print_status()
    n = c.read(buf, dataSz, True)
    print('read', n)
    c.print_status()
print(bytes(buf))
clean_library()
"""

RECEIVER_ASYNC = """\
from dragonipc.smipc import *
import time


def on_data(data):
    print('read', data)


cid = b'@CID@'
chanSz = 20

init_library(LOG_ALL)
with open_channel(cid, CHAN_R, chanSz) as c:
    t = c.read_async(on_data)
    time.sleep(3)
    t.stop()
    c.print_status()
clean_library()
"""

SENDER_ASYNC = """\
from dragonipc.smipc import *


cid = b'@CID@'
chanSz = 20
init_library(LOG_ALL)
with open_channel(cid, CHAN_W, chanSz) as c:
    c.print_status()
    c.write(b'hi')
    c.print_status()
clean_library()
"""


def script(name, text, cid):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        f.write(text.replace("@CID@", cid))
    return path


def start(path):
    return subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(proc, what):
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    if proc.returncode != 0:
        diag("%s failed:\n%s" % (what, err.decode(errors="replace")))
    return proc.returncode, out.decode(errors="replace").splitlines()


# ---- the blocking examples, in both orders ---------------------------------------
for first in ("sender", "receiver"):
    cid = unique("test-chan")
    s_path = script("sender.py", SENDER, cid)
    r_path = script("receiver.py", RECEIVER, cid)
    if first == "sender":
        sp = start(s_path)
        time.sleep(0.3)
        rp = start(r_path)
    else:
        rp = start(r_path)
        time.sleep(0.3)
        sp = start(s_path)
    s_rc, s_out = finish(sp, "sender")
    r_rc, r_out = finish(rp, "receiver")
    is_((s_rc, r_rc), (0, 0), "%s first: both examples exit cleanly" % first)
    ok(len(r_out) == 4 and r_out[1] == "read 64", "%s first: the receiver read 64 bytes" % first)
    ok(s_out and r_out and s_out[-1] == r_out[-1],
       "%s first: the receiver printed the bytes the sender wrote" % first)
    ok(all(line.startswith("Channel(%s): mode=" % cid) and "bufSz=20" in line
           for line in s_out[:2] + r_out[0:1] + r_out[2:3]),
       "%s first: print_status prints smipc's line" % first)
    diag("receiver: " + " | ".join(r_out[:2]))

# ---- the async examples --------------------------------------------------------
# The receiver listens for 3 s.  So that a slow start of the sender's
# interpreter (a loaded machine, Wine) cannot eat those seconds, the sender
# is started first and held before the example until the receiver has
# opened the channel (its LOG_ALL line says so).
GATE = ("import runpy, sys, dragonipc.smipc\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n")
cid = unique("test-chan")
sp = subprocess.Popen([sys.executable, "-c", GATE, script("sender_async.py", SENDER_ASYNC, cid)],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sp.stdout.readline()
rp = start(script("receiver_async.py", RECEIVER_ASYNC, cid))
for line in rp.stderr:
    if b" as reader" in line:
        break
sp.stdin.write(b"go\n")
sp.stdin.flush()
s_rc, s_out = finish(sp, "async sender")
r_rc, r_out = finish(rp, "async receiver")
is_((s_rc, r_rc), (0, 0), "the async examples exit cleanly")
is_(r_out[:1], ["read b'hi'"], "the async receiver's callback got b'hi'")
ok(len(r_out) == 2 and "listener=disable" in r_out[1], "its listener was stopped by stop()")

# ---- the writer closes before the reader has even opened ------------------------
# On Windows a stream lives only while a process has it open (doc/windows.md):
# there it is gone with such a writer.
if os.name == "nt":
    for name in ("a writer writes and exits",
                 "the reader arriving later gets every byte; the short read is reported",
                 "then the writer's close is seen"):
        skip(name, "on Windows a stream is gone with the last process that had it open")
else:
    cid = unique("early")
    code = ("from dragonipc.smipc import *\n"
            "with open_channel(%r, CHAN_W, 64) as c:\n"
            "    c.write(b'left for later')\n" % cid)
    is_(subprocess.run([sys.executable, "-c", code]).returncode, 0, "a writer writes and exits")
    buf = create_string_buffer(32)
    with open_channel(cid, CHAN_R, 64) as c:
        n = c.read(buf, 32, True)
        is_((n, buf.raw[:n]), (14, b"left for later"),
            "the reader arriving later gets every byte; the short read is reported")
        raises(OppositeEndClosedError, c.read, buf, 4, True, name="then the writer's close is seen")

# ---- API and errors, in one process with threads ----------------------------------
raises(ParameterTypeError, open_channel, 42, CHAN_W, 10, name="a cid that is not bytes or str")
raises(ParameterTypeError, open_channel, b"bad/cid", CHAN_W, 10, name="a cid with a slash")
raises(ParameterTypeError, open_channel, "x", 7, 10, name="an unknown mode")
raises(ParameterTypeError, open_channel, "x", CHAN_W, 0, name="a channel size of 0")
ok(issubclass(ParameterTypeError, TypeError) and issubclass(ParameterTypeError, ValueError)
   and issubclass(OppositeEndClosedError, SmipcError), "the error classes")
raises(ParameterTypeError, init_library, "loud", name="init_library wants a level")
raises(ValueError, init_library, 9, name="an unknown log level")
init_library(LOG_DISABLE)

cid = unique("api")
w = open_channel(cid, CHAN_W, 16)
r = open_channel(cid.encode(), CHAN_R, 999)
raises(OperationFailedError, w.write, b"x", name="writing to an unopened channel")
with w, r:
    ok("bufSz=16" in r.status(), "a later opener's size is ignored")
    raises(OperationFailedError, open_channel(cid, CHAN_W, 16).open, name="a second writer is refused")
    for data, want in [(b"bytes", b"bytes"), (bytearray(b"array"), b"array"),
                       (memoryview(b"..view.")[2:6], b"view"), ("stré", "stré".encode())]:
        is_(w.write(data), len(want), "write(%s) returns the count" % type(data).__name__)
        got = bytearray(len(want))
        r.read(got, len(want), True)
        is_(bytes(got), want, "and the reader gets it")
    raises(ParameterTypeError, w.write, 12, name="write refuses an int")
    raises(ParameterTypeError, r.read, b"immutable", 3, name="read wants a writable buffer")
    raises(ParameterTypeError, r.read, bytearray(2), 3, name="n larger than the buffer")
    is_(r.read(bytearray(4), 4), 0, "a non-blocking read of an empty channel returns 0")
    w.write(b"ab")
    buf = create_string_buffer(8)
    is_(r.read(buf, 8), 2, "a non-blocking read takes what is there")
    t0 = time.monotonic()
    e = raises(SmipcTimeout, r.read, buf, 8, True, timeout=0.1, name="a timed read of nothing")
    ok(isinstance(e, TimeoutError) and time.monotonic() - t0 < 5, "  ... a TimeoutError, in bounded time")
    w.write(b"xyz")
    is_(r.read(buf, 8, True, timeout=0.2), 3, "a timed blocking read returns the short count")
    w.write(b"0123456789abcdef")    # fills the 16-byte ring
    e = raises(SmipcTimeout, w.write, b"more!", timeout=0.1, name="a timed write to a full channel")
    is_(getattr(e, "written", None), 0, "  ... reports what it wrote")
    e = raises(SmipcTimeout, w.write, b"x", timeout=0, name="timeout 0 on a full channel")
    big = bytes(range(256)) * 40
    got = bytearray()

    def drain():
        b = bytearray(4096)
        while len(got) < 16 + len(big):
            n = r.read(b, 4096, True, timeout=10)
            got.extend(b[:n])

    th = threading.Thread(target=drain)
    th.start()
    is_(w.write(big), len(big), "a write larger than the ring goes through in pieces")
    th.join(30)
    is_(bytes(got), b"0123456789abcdef" + big, "and arrives whole, in order")
    raises(ParameterTypeError, w.read, bytearray(1), 1, name="a writer cannot read")
    raises(ParameterTypeError, r.write, b"x", name="a reader cannot write")
    raises(ParameterTypeError, w.read_async, print, name="a writer cannot listen")
ok(not w.is_open and not r.is_open, "the with block closed both ends")
with open_channel(cid, CHAN_W, 16) as w2:
    with open_channel(cid, CHAN_R, 16):
        pass
    raises(OppositeEndClosedError, w2.write, b"x", name="writing after the reader closed")

# ---- read_async ---------------------------------------------------------------
cid = unique("listen")
got, closed = [], threading.Event()
with open_channel(cid, CHAN_R, 8) as r, open_channel(cid, CHAN_W, 8) as w:
    lst = r.read_async(got.append, on_close=closed.set)
    ok(r.is_listening and "listener=enable" in r.status(), "read_async starts a listener")
    raises(OperationFailedError, r.read, bytearray(1), 1, name="read is refused while listening")
    raises(OperationFailedError, r.read_async, print, name="one listener at a time")
    w.write(b"chunk-1 ")
    w.write(b"and a longer chunk that wraps the 8-byte ring")
    w.close()
    ok(lst.wait(10) and closed.wait(10), "the listener sees the writer close (on_close)")
    is_(b"".join(got), b"chunk-1 and a longer chunk that wraps the 8-byte ring",
        "the callback got every byte, in order")
    lst.stop()
    lst.stop()
    ok(not r.is_listening, "stop() ends it (twice is harmless)")

cid = unique("listen2")
calls = []
with open_channel(cid, CHAN_R, 64) as r, open_channel(cid, CHAN_W, 64) as w:
    holder = {}

    def stop_from_inside(data):
        calls.append(data)
        holder["l"].stop()

    holder["l"] = r.read_async(stop_from_inside)
    w.write(b"one")
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    w.write(b"two")
    time.sleep(0.2)
    is_(calls, [b"one"], "stop() from inside the callback: no call after it")
    buf = bytearray(3)
    is_((r.read(buf, 3, True, timeout=5), bytes(buf)), (3, b"two"),
        "after the listener stopped, read works again")

    def boom(data):
        raise RuntimeError("callback failed")

    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: None
    try:
        bad = r.read_async(boom)
        w.write(b"x")
        bad.wait(10)
    finally:
        sys.unraisablehook = old_hook
    ok(isinstance(bad.exception, RuntimeError), "an exception in the callback is kept")
    time.sleep(0.1)
    ok(not r.is_listening or bad.exception, "and the listener stops")
    bad.stop()

# ---- asyncio ------------------------------------------------------------------
cid = unique("aio")


async def consume():
    with open_channel(cid, CHAN_R, 32) as r:
        async with r.async_reader() as reader:
            w = open_channel(cid, CHAN_W, 32).open()
            threading.Timer(0.1, w.write, args=(b"hello async world",)).start()
            first = await asyncio.wait_for(reader.read(5), 10)
            rest = await asyncio.wait_for(reader.readexactly(12), 10)
            threading.Timer(0.1, lambda: (w.write(b"tail"), w.close())).start()
            chunks = [c async for c in reader]
            return first, rest, b"".join(chunks)


is_(asyncio.run(consume()), (b"hello", b" async world", b"tail"),
    "AsyncReader: read, readexactly and async for, until the writer closes")

# ---- clean_library closes what is open --------------------------------------------
cid = unique("clean")
c = open_channel(cid, CHAN_W, 16).open()
rd = open_channel(cid, CHAN_R, 16).open()
lst = rd.read_async(lambda d: None)
clean_library()
raises(OperationFailedError, c.write, b"x", name="a channel closed by clean_library cannot write")
raises(OperationFailedError, rd.read, bytearray(1), 1, name="nor read")
c.close()
rd.close()
ok(True, "closing after clean_library is harmless")
clean_library()
ok(unlink(cid) in (True, False), "unlink answers")

# ---- Ctrl-C in a blocking read and write ------------------------------------------
# Windows has no signal to send to another process: there the child takes
# SIGINT from a thread of its own, as a console's Ctrl-C comes (the system
# runs the handler on a new thread).
CHILD = """
import signal, sys, threading
from dragonipc.smipc import *
cid, what = sys.argv[1], sys.argv[2]
with open_channel(cid, CHAN_R if what == "read" else CHAN_W, 8) as c:
    if what == "write":
        c.write(b"12345678")
    print("ready", flush=True)
    if sys.platform == "win32":
        threading.Timer(0.5, signal.raise_signal, (signal.SIGINT,)).start()
    try:
        if what == "read":
            c.read(create_string_buffer(10), 10, True)
        else:
            c.write(b"blocked")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
"""
for what in ("read", "write"):
    cid = unique("sigint")
    child = subprocess.Popen([sys.executable, "-c", CHILD, cid, what], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    is_(child.stdout.readline().strip(), b"ready", "%s: the child is about to block" % what)
    time.sleep(0.5)
    t0 = time.monotonic()
    if os.name != "nt":
        child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    is_((child.returncode, out.strip()), (3, b"interrupted"),
        "%s: SIGINT raises KeyboardInterrupt in a blocked %s" % (what, what))
    diag("%s interrupted after %.0f ms" % (what, (time.monotonic() - t0) * 1000))
    unlink(cid)

done_testing()

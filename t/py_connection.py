"""dragonipc.infrastructure.connection: Dragon's Connection and Pipe.

Objects and bytes of many sizes (0 B to 8 MiB) both ways through a
spawned child, the byte calls with offsets and sizes, poll, connections
handed to spawned and forked children (pickled, or as descriptors), the
channel file adapters reading what a Connection wrote and the other way
round, the end mark (EOFError), closed connections, a sender killed
between messages and one killed in the middle of a message of several
parts (an error within the timeout, never a hang), Pipe() and its pool
removed at exit, and bad input.  Every receive has a timeout, so a bug
fails a test instead of hanging it.
"""

import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time

from taplib import ok, is_, raises, diag, done_testing, skip, unique

from dragonipc.managed_memory import MemoryPool
from dragonipc import channels as dch
from dragonipc.channels import Channel
import dragonipc.infrastructure.connection as dconn

T = 60      # hang guard for every wait (seconds); never reached when all is well

SIZES = [0, 1, 7, 255, 256, 1000, 1024, 1025, 4096, 65536, 131073, 1 << 20,
         (2 << 20) + 3, 8 << 20]


def payload(n, seed=0):
    """n bytes that differ at every position (a shifted copy would show)."""
    block = bytes((i * 131 + seed) & 0xFF for i in range(251))
    return (block * (n // 251 + 1))[:n]


# ---- children (module level, so that spawn can find them) ---------------------

def echo_child(conn):
    """Receive and send back, objects and bytes, until the end mark."""
    try:
        while True:
            kind = conn.recv(timeout=T)
            if kind == "obj":
                conn.send(conn.recv(timeout=T), timeout=T)
            else:
                conn.send_bytes(conn.recv_bytes(timeout=T), timeout=T)
    except EOFError:
        conn.close()


def descriptor_child(in_ser, out_ser):
    opts = dconn.ConnectionOptions(creation_policy=dconn.ConnectionOptions.CreationPolicy.PRE_CREATED)
    conn = dconn.Connection(inbound_initializer=in_ser, outbound_initializer=out_ser,
                            options=opts)
    conn.send(("pid", os.getpid(), conn.recv(timeout=T)))
    conn.close()


def stream_child(conn, size):
    """Send objects until killed."""
    i = 0
    while True:
        conn.send((i, payload(size, i)), timeout=T)
        i += 1


def torn_child(ch, parts):
    """Write the start of a long message through the adapter, then die."""
    w = dch.Peer2PeerWritingChannelFile(ch)
    w.open()
    w.write_raw_header(parts * (2 << 20))
    w.write(payload((parts - 1) * (2 << 20) + 100))   # sends all but the last part
    os.kill(os.getpid(), KILL)


def pipe_child(q):
    a, b = dconn.Pipe()
    a.send("through a pipe")
    q.put((os.getpid(), b.recv(timeout=T)))


# An abrupt end: SIGKILL, or on Windows TerminateProcess (what os.kill
# does there with any other signal; the number becomes the exit code).
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)
KILLED = -KILL if os.name != "nt" else KILL


def main():
    spawn = mp.get_context("spawn")
    pool = MemoryPool(96 << 20, unique("pyconn"), 31)
    chans = [Channel(pool, 1 + i) for i in range(10)]

    # ---- sizes, both ways, through a spawned child ----------------------------------
    here, there = dconn.Pipe(channels=(chans[0], chans[1]))
    p = spawn.Process(target=echo_child, args=(there,))
    p.start()
    good_obj = good_bytes = True
    for n in SIZES:
        data = payload(n, n)
        here.send("obj")
        here.send({"n": n, "data": data, "list": [n] * 3})
        back = here.recv(timeout=T)
        if back != {"n": n, "data": data, "list": [n] * 3}:
            good_obj = False
            diag("object of %d bytes came back different" % n)
        here.send("bytes")
        here.send_bytes(data)
        back = here.recv_bytes(timeout=T)
        if back != data or not isinstance(back, bytearray):
            good_bytes = False
            diag("%d bytes came back different (%s)" % (n, type(back).__name__))
    ok(good_obj, "objects of 0 B to 8 MiB go to a spawned child and back")
    ok(good_bytes, "bytes of 0 B to 8 MiB go to a spawned child and back (as bytearray)")
    here.close()
    p.join(T)
    is_(p.exitcode, 0, "the child saw the end mark as EOFError and exited")
    is_(here.closed, True, "closed is True after close()")
    raises(ConnectionError, here.send, 1, name="send on a closed connection: ConnectionError")
    raises(ConnectionError, here.recv, name="recv on a closed connection: ConnectionError")
    raises(ConnectionError, here.poll, name="poll on a closed connection: ConnectionError")
    here.close()
    ok(True, "closing twice is harmless")

    # ---- the byte calls --------------------------------------------------------------
    w = dconn.Connection(outbound_initializer=chans[2])
    r = dconn.Connection(inbound_initializer=chans[2])
    is_(r.poll(), False, "poll() without a timeout: False on an empty channel")
    t0 = time.monotonic()
    is_(r.poll(0.2), False, "poll(0.2): False when nothing comes")
    ok(time.monotonic() - t0 < T, "poll(0.2) returned (hang guard)")
    is_(r.poll(-5), False, "poll with a negative timeout looks once")
    w.send_bytes(b"0123456789", 2, 5)
    is_(r.poll(0), True, "poll: True with a message waiting")
    is_(bytes(r.recv_bytes(timeout=T)), b"23456", "send_bytes(buf, offset, size)")
    w.send_bytes(bytearray(b"abcdef"), 4)
    is_(bytes(r.recv_bytes(timeout=T)), b"ef", "send_bytes(buf, offset)")
    import array
    w.send_bytes(array.array("i", [1, 2, 3]), 4, 4)
    is_(bytes(r.recv_bytes(timeout=T)), array.array("i", [2]).tobytes(),
        "send_bytes of an int array: offset and size count bytes")
    w.send_bytes(b"hello")
    buf = bytearray(b"*" * 10)
    is_(r.recv_bytes_into(buf, 3, timeout=T), 5, "recv_bytes_into returns the length")
    is_(bytes(buf), b"***hello**", "recv_bytes_into writes at the offset")
    w.send_bytes(payload(3 << 20))
    big = bytearray(3 << 20)
    is_(r.recv_bytes_into(memoryview(big), timeout=T), 3 << 20, "recv_bytes_into of 3 MiB")
    ok(big == payload(3 << 20), "... with the right content")
    w.send_bytes(b"too long for it")
    e = raises(dconn.BufferTooShort, r.recv_bytes_into, bytearray(4), timeout=T,
               name="a message longer than the buffer: BufferTooShort")
    ok(isinstance(e, mp.BufferTooShort) and isinstance(e, ConnectionError)
       and bytes(e.args[0]) == b"too long for it",
       "... which is multiprocessing's BufferTooShort and a ConnectionError, with the message")
    w.send({"a": 1})
    is_(pickle.loads(r.recv_bytes(timeout=T)), {"a": 1}, "recv_bytes of send(): the pickle")
    w.send_bytes(pickle.dumps([1, 2]))
    is_(r.recv(timeout=T), [1, 2], "recv of send_bytes(pickle)")
    w.send("x")
    raises(ConnectionError, r.recv_bytes_into, bytearray(100), timeout=T,
           name="recv_bytes_into of send(): ConnectionError")
    w.send_bytes(b"after")
    is_(bytes(r.recv_bytes(timeout=T)), b"after", "... and the next message is intact")
    e = raises(dconn.ConnectionTimeout, r.recv, timeout=0.1,
               name="recv(timeout) with nothing coming: ConnectionTimeout")
    ok(isinstance(e, TimeoutError), "... a TimeoutError too")

    # ---- fileno, thread_wait, threads -------------------------------------------------
    fd = r.fileno()
    ok(fd == -2 and fd.conn is r, "fileno(): -2 with the connection attached")
    done, ready = threading.Event(), []
    th = threading.Thread(target=fd.thread_wait, args=(T, done, ready))
    th.start()
    w.send("wake")
    th.join(T)
    ok(ready == [r] and done.is_set(), "thread_wait reports the connection ready")
    r.recv(timeout=T)
    results = []

    def reader():
        results.append([r.recv(timeout=T) for _ in range(200)])
    th = threading.Thread(target=reader)
    th.start()
    for i in range(200):
        w.send((i, payload(i * 97, i)))
    th.join(T)
    ok(results and results[0] == [(i, payload(i * 97, i)) for i in range(200)],
       "a sending and a receiving thread: 200 objects in order")

    # ---- adapters and connections read each other -----------------------------------
    aw = dch.Peer2PeerWritingChannelFile(chans[2])
    aw.open()
    aw.write_raw_header(5 << 20)
    aw.write(payload(5 << 20, 9))
    aw.close()
    ok(r.recv_bytes(timeout=T) == payload(5 << 20, 9),
       "recv_bytes of 5 MiB a writing adapter sent in several messages")
    aw.open()
    pickle.dump(("big", payload(5 << 20, 4)), aw, protocol=5)
    aw.close()
    ok(r.recv(timeout=T) == ("big", payload(5 << 20, 4)),
       "recv of a 5 MiB pickle a writing adapter sent in several messages")
    w.send(("conn", 7))
    ar = dch.Peer2PeerReadingChannelFile(chans[2])
    ar.open()
    is_(ar.check_header()[0], dch.PICKLE_PROT_5, "a reading adapter sees send()'s pickle")
    is_(pickle.load(ar), ("conn", 7), "... and loads it")
    ar.close()
    w.send_bytes(b"raw")
    ar.open()
    kind, n = ar.check_header()
    ar.advance_raw_header(n)
    is_((kind, bytes(ar.read(n))), (dch.RAW_BYTES, b"raw"), "... and reads send_bytes()'s bytes")
    ar.close()

    # ---- the end mark ------------------------------------------------------------------
    w.close()
    raises(EOFError, r.recv_bytes, timeout=T, name="recv_bytes after the peer closed: EOFError")
    is_(r.poll(), True, "poll after the end: True")
    raises(EOFError, r.recv, name="recv after the end: EOFError")
    raises(EOFError, r.recv_bytes_into, bytearray(1), name="recv_bytes_into after the end: EOFError")
    w2 = dconn.Connection(outbound_initializer=chans[2])
    w2.send(1)
    w2.ghost_close()
    r2 = dconn.Connection(inbound_initializer=chans[2])
    is_(r2.recv(timeout=T), 1, "a ghost-closed writer's message arrives")
    raises(dconn.ConnectionTimeout, r2.recv, timeout=0.1,
           name="... and no end mark follows it")
    w3 = dconn.Connection(outbound_initializer=chans[2])
    w3.close()
    is_(chans[2].num_msgs, 0, "closing a connection never used sends no end mark (as Dragon)")
    w4 = dconn.Connection(outbound_initializer=chans[2])
    w4.open()
    w4.close()
    raises(EOFError, r2.recv, timeout=T, name="closing an opened one does")

    # ---- descriptors, spawn and fork ----------------------------------------------------
    opts = dconn.ConnectionOptions(creation_policy=dconn.ConnectionOptions.CreationPolicy.PRE_CREATED)
    mine = dconn.Connection(inbound_initializer=chans[4].serialize(),
                            outbound_initializer=chans[3].serialize(), options=opts)
    p = spawn.Process(target=descriptor_child, args=(chans[3].serialize(), chans[4].serialize()))
    p.start()
    mine.send("hi")
    got = mine.recv(timeout=T)
    ok(got[0] == "pid" and got[1] == p.pid and got[2] == "hi",
       "a spawned child with channel descriptors (PRE_CREATED) answers")
    raises(EOFError, mine.recv, timeout=T, name="... and its close() is our EOFError")
    p.join(T)
    mine.close()
    ok(mine.inbound_channel is not None and not mine.inbound_channel.is_attached,
       "close() detaches the channels it attached from descriptors")

    if hasattr(os, "fork"):
        fork = mp.get_context("fork")
        a, b = dconn.Pipe(channels=(chans[5], chans[6]))
        a.send("early")            # handles made before the fork
        b.recv(timeout=T)
        p = fork.Process(target=echo_child, args=(b,))
        p.start()
        a.send("obj")
        a.send([payload(1 << 20)])
        is_(a.recv(timeout=T), [payload(1 << 20)], "a forked child with an inherited Connection")
        a.close()
        p.join(T)
        is_(p.exitcode, 0, "... sees our end mark and exits")
    else:
        skip("a forked child with an inherited Connection", "no fork() here")
        skip("... sees our end mark and exits", "no fork() here")

    # ---- a sender killed ------------------------------------------------------------------
    for ch in chans[5:7]:
        while ch.num_msgs:
            ch.recvh(timeout=0).__enter__().recv_bytes()
    a, b = dconn.Pipe(channels=(chans[5], chans[6]))
    p = spawn.Process(target=stream_child, args=(b, 300000))
    p.start()
    whole = True
    for i in range(5):
        j, data = a.recv(timeout=T)
        whole = whole and j == i and data == payload(300000, i)
    p.kill()
    p.join(T)
    t0 = time.monotonic()
    count = 5
    try:
        while True:
            i, data = a.recv(timeout=2)
            whole = whole and i == count and data == payload(300000, i)
            count += 1
    except dconn.ConnectionTimeout:
        ok(True, "a sender killed mid-stream: ConnectionTimeout once its messages are read")
    except Exception as e:
        ok(False, "a sender killed mid-stream: ConnectionTimeout (got %r)" % (e,))
    ok(time.monotonic() - t0 < T, "... within the timeout, not a hang")
    ok(whole, "... and each of its %d messages arrived whole and in order" % count)

    r5 = dconn.Connection(inbound_initializer=chans[7])
    p = spawn.Process(target=torn_child, args=(chans[7], 3))
    p.start()
    p.join(T)
    ok(p.exitcode == KILLED, "a writer died in the middle of a 3-part message")
    t0 = time.monotonic()
    e = raises(ConnectionError, r5.recv_bytes, timeout=2,
               name="... the reader gets a ConnectionError within its timeout")
    ok(time.monotonic() - t0 < T, "... not a hang")
    raises(ConnectionError, r5.recv_bytes, timeout=0,
           name="... and the connection stays unusable (ConnectionError)")
    r5.close()

    # ---- Pipe() and its pool ----------------------------------------------------------------
    x, y = dconn.Pipe()
    x.send("to y")
    y.send("to x")
    is_((y.recv(timeout=T), x.recv(timeout=T)), ("to y", "to x"), "Pipe(): duplex ends")
    x.send_bytes(payload(4 << 20))
    ok(y.recv_bytes(timeout=T) == payload(4 << 20), "Pipe(): 4 MiB through its own pool")
    raises(ConnectionError, x.send_bytes, bytes(80 << 20), timeout=T,
           name="Pipe(): more than its pool holds is a ConnectionError")
    x.send("still fine")
    is_(y.recv(timeout=T), "still fine", "... and the pipe still works")
    rd, wr = dconn.Pipe(duplex=False)
    ok(rd.readable and not rd.writable and wr.writable and not wr.readable,
       "Pipe(duplex=False): first reads, second writes")
    x.send(rd)
    rd_copy = y.recv(timeout=T)
    wr.send("to the copy")
    is_(rd_copy.recv(timeout=T), "to the copy", "a Connection sent through a Connection works")
    rd_copy.close()
    raises(OSError, rd.send, 1, name="send on a reading end: OSError")
    raises(OSError, wr.recv, name="recv on a writing end: OSError")
    q = spawn.Queue()
    p = spawn.Process(target=pipe_child, args=(q,))
    p.start()
    pid, text = q.get(timeout=T)
    p.join(T)
    is_(text, "through a pipe", "a child's Pipe() works")
    shm = "/dev/shm"
    if os.path.isdir(shm):
        left = [f for f in os.listdir(shm) if "dipc-pipe-%d-" % pid in f]
        is_(left, [], "the child's pipe pool is gone after it exited")
    else:
        skip("the child's pipe pool is gone after it exited", "no /dev/shm")

    # ---- bad input ----------------------------------------------------------------------------
    raises(ConnectionError, dconn.Connection, name="no initializer: ConnectionError")
    raises(TypeError, dconn.Connection, inbound_initializer=42, name="an int initializer: TypeError")
    raises(dconn.GlobalServicesNotProvided, dconn.Connection, inbound_initializer="name",
           name="a channel name: GlobalServicesNotProvided")
    ok(issubclass(dconn.GlobalServicesNotProvided, ConnectionError)
       and issubclass(dconn.GlobalServicesNotProvided, NotImplementedError),
       "... a ConnectionError and a NotImplementedError")
    raises(ConnectionError, dconn.Connection, inbound_initializer=chans[0].serialize(),
           name="a descriptor without PRE_CREATED: ConnectionError (as Dragon)")
    raises(ConnectionError, dconn.Connection, inbound_initializer=chans[0],
           options=dconn.ConnectionOptions(
               creation_policy=dconn.ConnectionOptions.CreationPolicy.SENDER_CREATES),
           name="a Channel with SENDER_CREATES: ConnectionError (as Dragon)")
    raises(ValueError, dconn.Connection, inbound_initializer=chans[0], policy="fast",
           name="a policy without a wait_mode: ValueError")
    raises(TypeError, dconn.Connection, inbound_initializer=chans[0], options={},
           name="options not a ConnectionOptions: TypeError")
    raises(ValueError, dconn.ConnectionOptions, min_block_size=4096, large_block_size=1024,
           name="block sizes out of order: ValueError")
    raises(TypeError, dconn.ConnectionOptions, creation_policy=1,
           name="a creation policy that is not one: TypeError")
    raises(dconn.GlobalServicesNotProvided, dconn.Pipe,
           options=dconn.PipeOptions(creation_policy=dconn.PipeOptions.CreationPolicy.SENDER_CREATES),
           name="Pipe with SENDER_CREATES: GlobalServicesNotProvided")
    raises(ValueError, dconn.Pipe, channels=(chans[0], chans[0]),
           name="Pipe with one channel twice: ValueError")
    raises(ValueError, dconn.Pipe, channels=(chans[0],), name="Pipe with one of a pair: ValueError")
    raises(dconn.GlobalServicesNotProvided, dconn.Listener, name="Listener: not provided")
    raises(dconn.GlobalServicesNotProvided, dconn.Client, name="Client: not provided")
    c = dconn.Connection(inbound_initializer=chans[8], outbound_initializer=chans[8])
    raises(ValueError, c.send_bytes, b"abc", -1, name="send_bytes negative offset: ValueError")
    raises(ValueError, c.send_bytes, b"abc", 4, name="send_bytes offset past the end: ValueError")
    raises(ValueError, c.send_bytes, b"abc", 1, 3, name="send_bytes size past the end: ValueError")
    raises(ValueError, c.send_bytes, b"abc", 0, -1, name="send_bytes negative size: ValueError")
    raises(TypeError, c.send_bytes, "text", name="send_bytes of a str: TypeError")
    raises(TypeError, c.send_bytes, b"abc", "1", name="send_bytes str offset: TypeError")
    raises(ValueError, c.send, 1, timeout=-1, name="send with a negative timeout: ValueError")
    raises(ConnectionError, c.send, lambda: 0, name="an object that cannot pickle: ConnectionError")
    raises(TypeError, c.recv_bytes_into, b"readonly", name="recv_bytes_into a read-only buffer: TypeError")
    raises(ValueError, c.recv_bytes_into, bytearray(3), 4, name="recv_bytes_into offset too large")
    raises(ValueError, c.recv_bytes_into, bytearray(3), -1, name="recv_bytes_into negative offset")
    raises(ValueError, c.recv_bytes, -1, name="recv_bytes negative maxlength: ValueError")
    raises(ValueError, c.recv, timeout=float("nan"), name="recv with a NaN timeout: ValueError")
    c.send_bytes(b"x" * 100)
    raises(OSError, c.recv_bytes, 10, timeout=T, name="a message over maxlength: OSError")
    is_(c.closed, True, "... and the connection is closed (as Dragon)")
    c2 = dconn.Connection(inbound_initializer=chans[9], outbound_initializer=chans[9])
    c2.send_bytes(b"")
    raises(ConnectionError, c2.recv, timeout=T,
           name="recv of empty bytes: ConnectionError, not EOFError")
    c2.ghost_close()

    for ch in chans:
        ch.destroy()
    pool.destroy()
    done_testing()


if __name__ == "__main__":
    main()

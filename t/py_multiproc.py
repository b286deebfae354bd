"""Channels and pools across processes: pickled (multiprocessing) and
serialized descriptors, ownership transfer between processes, many
producers and consumers."""

import gc
import multiprocessing as mp
import os

from taplib import ok, is_, diag, done_testing, skip, unique

from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import Channel, Message, transfer_ownership_on_send
from dragonipc import smipc


def echo_pickled(ch_in, ch_out, pool):
    """Child: receives its channels and pool pickled by multiprocessing."""
    with ch_in.recvh(timeout=30) as r, ch_out.sendh(timeout=30) as s:
        data = r.recv_bytes()
        msg = Message.create_alloc(pool, len(data) + 6)
        msg.bytes_memview()[:] = b"child:" + data
        s.send(msg, ownership=transfer_ownership_on_send)
        s.send_bytes(b"%d" % pool.muid)


def echo_serialized(ser_in, ser_out, pool_ser):
    """Child: attaches from serialized descriptors itself."""
    pool = MemoryPool.attach(pool_ser)
    ch_in = Channel.attach(ser_in)
    ch_out = Channel.attach(ser_out, mem_pool=pool)
    with ch_in.recvh(timeout=30) as r, ch_out.sendh(timeout=30) as s:
        got = r.recv()
        s.send_bytes(got.tobytes().upper())
        got.destroy()
    ch_in.detach()
    ch_out.detach()
    pool.detach()


def producer(ch, ident, count):
    with ch.sendh(timeout=60) as s:
        for i in range(count):
            # Some payloads fit a block, some travel as pool allocations.
            s.send_bytes(b"%d:%d:" % (ident, i) + b"x" * ((i * 37) % 3000))


def consumer(ch, results):
    seen = []
    with ch.recvh(timeout=60) as r:
        while True:
            data = r.recv_bytes()
            if data == b"end":
                break
            ident, i, pad = data.split(b":", 2)
            if len(pad) != (int(i) * 37) % 3000:
                seen.append((-1, -1))   # a torn payload
            seen.append((int(ident), int(i)))
    results.put(seen)


def queue_child(q_in, q_out):
    ch = q_in.get(timeout=30)
    with ch.sendh() as s:
        s.send_bytes(b"through a Queue")
    q_out.put(os.getpid())


def main():
    ctx = mp.get_context("spawn")
    pool = MemoryPool(16 << 20, unique("pymp"), 77)
    a = Channel(pool, 1)
    b = Channel(pool, 2)

    # ---- pickled by multiprocessing (spawn pickles every argument) ----------
    p = ctx.Process(target=echo_pickled, args=(a, b, pool))
    p.start()
    with a.sendh() as s, b.recvh(timeout=30) as r:
        s.send_bytes(b"ping")
        got = r.recv()
        is_(got.tobytes(), b"child:ping", "a child with pickled channels and pool answers")
        got.destroy()
        is_(r.recv_bytes(), b"77", "the unpickled pool kept its uid")
    p.join(30)
    is_(p.exitcode, 0, "the child exited cleanly")
    again = MemoryPool.attach(pool.serialize())
    ok(again.is_attached, "the child's exit did not destroy the pool it unpickled")
    again.detach()

    # ---- serialized descriptors, attached by the child -----------------------
    p = ctx.Process(target=echo_serialized, args=(a.serialize(), b.serialize(), pool.serialize()))
    p.start()
    with a.sendh() as s, b.recvh(timeout=30) as r:
        msg = Message.create_alloc(pool, 5000)
        msg.bytes_memview()[:] = b"q" * 5000
        s.send(msg, ownership=transfer_ownership_on_send)
        ok(msg.is_empty, "the parent transferred its message")
        is_(r.recv_bytes(), b"Q" * 5000, "the child received the transferred allocation")
    p.join(30)
    is_(p.exitcode, 0, "the child that attached by descriptor exited cleanly")

    # ---- through a multiprocessing.Queue --------------------------------------
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=queue_child, args=(q_in, q_out))
    p.start()
    q_in.put(a)
    with a.recvh(timeout=30) as r:
        is_(r.recv_bytes(), b"through a Queue", "a channel passed through a Queue works")
    is_(q_out.get(timeout=30), p.pid, "the queue child reported back")
    p.join(30)

    # ---- many producers and consumers ------------------------------------------
    work = Channel(pool, 3, capacity=16, block_size=256)
    results = ctx.Queue()
    nprod, ncons, count = 3, 3, 300
    consumers = [ctx.Process(target=consumer, args=(work, results)) for _ in range(ncons)]
    producers = [ctx.Process(target=producer, args=(work, i, count)) for i in range(nprod)]
    for proc in consumers + producers:
        proc.start()
    for proc in producers:
        proc.join(120)
    ok(all(proc.exitcode == 0 for proc in producers), "every producer finished")
    with work.sendh() as s:
        for _ in consumers:
            s.send_bytes(b"end")
    seen, in_order = [], True
    for _ in consumers:
        mine = results.get(timeout=120)
        seen.extend(mine)
        # FIFO: what one consumer gets of one producer comes in send order.
        for ident in range(nprod):
            nums = [i for who, i in mine if who == ident]
            in_order = in_order and nums == sorted(nums)

    for proc in consumers:
        proc.join(60)
    ok(all(proc.exitcode == 0 for proc in consumers), "every consumer finished")
    ok((-1, -1) not in seen, "no payload arrived torn")
    is_(len(seen), nprod * count, "as many messages arrived as were sent")
    is_(sorted(seen), sorted((i, j) for i in range(nprod) for j in range(count)),
        "each message arrived exactly once")
    ok(in_order, "each consumer got each producer's messages in send order")
    diag("%d producers x %d messages through a 16-slot channel to %d consumers"
         % (nprod, count, ncons))
    is_(work.num_msgs, 0, "the channel is drained")

    # ---- fork: inherited objects let go without freeing the parent's ----------
    if not hasattr(os, "fork"):
        for name in ("a child collecting an inherited Message leaves the parent's allocation alone",
                     "a child collecting an inherited stream leaves the parent's writer open"):
            skip(name, "no fork() on this system")
    else:
        gc.collect()
        allocs = pool.num_allocs
        kept = Message.create_alloc(pool, 64)
        kept.bytes_memview()[:4] = b"mine"
        sname = unique("pymp-fork")
        w = smipc.open_channel(sname, smipc.CHAN_W, 64).open()
        pid = os.fork()
        if pid == 0:
            try:
                del kept, w    # collected in the child
                gc.collect()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        is_((kept.tobytes()[:4], pool.num_allocs), (b"mine", allocs + 1),
            "a child collecting an inherited Message leaves the parent's allocation alone")
        with smipc.open_channel(sname, smipc.CHAN_R, 64) as rd:
            w.write(b"still mine")
            buf = bytearray(10)
            is_(rd.read(buf, 10, True, timeout=10), 10, "a child collecting an inherited stream "
                "leaves the parent's writer open")
        w.close()
        kept.destroy()

    work.destroy()
    a.destroy()
    b.destroy()
    pool.destroy()
    done_testing()


if __name__ == "__main__":
    main()

"""Quick figures for the Python bindings (not a test): run with the package importable,
e.g. from a build directory: PYTHONPATH=python/lib LD_LIBRARY_PATH=.libs python3 ../python/bench.py"""
import os, sys, time, multiprocessing as mp
from dragonipc.managed_memory import MemoryPool
from dragonipc.channels import Channel, Message, transfer_ownership_on_send
from dragonipc.smipc import open_channel, CHAN_R, CHAN_W

def rate(n, t):
    return "%.0f/s (%.2f us each)" % (n / t, t / n * 1e6)

pool = MemoryPool(64 << 20, "pybench-%d" % os.getpid(), 0)
ch = Channel(pool, 1, capacity=1024, block_size=1024)
s, r = ch.sendh(), ch.recvh(); s.open(); r.open()
payload = b"x" * 64
N = 200000
t0 = time.perf_counter()
for _ in range(N):
    s.send_bytes(payload)
    r.recv_bytes()
print("same thread send_bytes+recv_bytes, 64 B:", rate(N, time.perf_counter() - t0))
big = b"y" * (1 << 20)
N2 = 300
t0 = time.perf_counter()
for _ in range(N2):
    s.send_bytes(big)
    r.recv_bytes()
dt = time.perf_counter() - t0
print("same thread 1 MiB send_bytes+recv_bytes: %.0f MB/s" % (N2 * len(big) / dt / 1e6))
m = Message.create_alloc(pool, 1 << 20)
t0 = time.perf_counter()
for _ in range(N2 * 10):
    s.send(m, ownership=transfer_ownership_on_send)
    m = r.recv()
dt = time.perf_counter() - t0
print("1 MiB message transfer (zero copy) send+recv:", rate(N2 * 10, dt))

def echo(ser_a, ser_b, n):
    a, b = Channel.attach(ser_a), Channel.attach(ser_b)
    with a.recvh() as rr, b.sendh() as ss:
        for _ in range(n):
            ss.send_bytes(rr.recv_bytes())

a, b = Channel(pool, 2), Channel(pool, 3)
N3 = 50000
p = mp.get_context("fork").Process(target=echo, args=(a.serialize(), b.serialize(), N3))
p.start()
with a.sendh() as ss, b.recvh() as rr:
    ss.send_bytes(payload); rr.recv_bytes()
    t0 = time.perf_counter()
    for _ in range(N3 - 1):
        ss.send_bytes(payload)
        rr.recv_bytes()
    dt = time.perf_counter() - t0
p.join()
print("two processes, 64 B ping-pong round trip:", rate(N3 - 1, dt))

def reader(name, total):
    buf = bytearray(65536)
    got = 0
    with open_channel(name, CHAN_R, 1 << 20) as c:
        while got < total:
            got += c.read(buf, 65536, True)

name = "pybench-s-%d" % os.getpid()
total = 512 << 20
p = mp.get_context("fork").Process(target=reader, args=(name, total))
p.start()
chunk = b"z" * 65536
with open_channel(name, CHAN_W, 1 << 20) as c:
    t0 = time.perf_counter()
    for _ in range(total // len(chunk)):
        c.write(chunk)
    p.join()
    dt = time.perf_counter() - t0
print("smipc stream write/read, 64 KiB chunks, 1 MiB ring: %.0f MB/s" % (total / dt / 1e6))
ch.destroy(); a.destroy(); b.destroy(); pool.destroy()

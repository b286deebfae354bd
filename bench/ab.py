#!/usr/bin/env python3
"""Compare two builds of libdragonipc on the same cases, side by side.

Each build tree must have its benchmark program built (`make bench-build`
in it).  The two programs run alternately, case by case and round by
round, so that whatever the machine is doing falls on both alike; the
report gives each case's median over the rounds for A and B and the
ratio B/A (above 1: B is faster for throughput, slower for latency).

    python3 bench/ab.py --a /path/to/old/_build --b _build \\
        [--rounds 7] [--duration 0.5] [--cases dipc-copy:thr:64,dipc-xfer:thr:64]

A case is TRANSPORT:TEST:SIZE[:WAIT] with TEST thr or lat and WAIT spin,
sleep or default (see bench/README.md).  Nothing here passes or fails on
time: it prints figures.
"""
import argparse
import os
import statistics
import subprocess
import sys

DEFAULT_CASES = ("dipc-copy:thr:64,dipc-xfer:thr:64,"
                 "dipc-copy:lat:64:spin,dipc-xfer:lat:64:spin,"
                 "dipc-copy:lat:64:sleep,dipc-xfer:lat:64:sleep")


def run_one(prog, transport, test, size, wait, duration):
    cmd = [prog, "--transport", transport, "--test", test, "--size", str(size),
           "--duration", str(duration)]
    if wait:
        cmd += ["--wait", wait]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 4 + 120)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            kv = dict(f.split("=", 1) for f in line.split()[1:])
            return float(kv["msgs_per_s"]) if test == "thr" else float(kv["lat_ns"])
    sys.exit("ab: %s failed (exit %d): %s" % (" ".join(cmd), p.returncode,
                                                p.stderr.strip()[-300:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="build tree A (the baseline)")
    ap.add_argument("--b", required=True, help="build tree B")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--duration", type=float, default=0.5)
    ap.add_argument("--cases", default=DEFAULT_CASES)
    args = ap.parse_args()
    progs = {}
    for k in ("a", "b"):
        progs[k] = os.path.join(getattr(args, k), "bench", "dipc-bench")
        if not os.access(progs[k], os.X_OK):
            sys.exit("ab: %s is missing: run `make bench-build` in %s" % (progs[k], getattr(args, k)))
    cases = []
    for c in args.cases.split(","):
        f = c.split(":")
        if len(f) not in (3, 4) or f[1] not in ("thr", "lat"):
            sys.exit("ab: bad case %r (TRANSPORT:thr|lat:SIZE[:WAIT])" % c)
        cases.append((f[0], f[1], int(f[2]), f[3] if len(f) == 4 else None))
    samples = {(c, k): [] for c in cases for k in "ab"}
    for r in range(args.rounds):
        for c in cases:
            # Alternate which build goes first, round by round.
            for k in ("ab" if r % 2 == 0 else "ba"):
                samples[(c, k)].append(run_one(progs[k], *c, args.duration))
        print("ab: round %d of %d done" % (r + 1, args.rounds), file=sys.stderr, flush=True)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print("A = %s\nB = %s\n%d rounds, %.2f s per case, load average at the end %.2f\n"
          % (args.a, args.b, args.rounds, args.duration, load))
    print("| case | A median | B median | B/A | A spread | B spread |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for c in cases:
        a, b = samples[(c, "a")], samples[(c, "b")]
        ma, mb = statistics.median(a), statistics.median(b)
        unit = "msg/s" if c[1] == "thr" else "ns"

        def fmt(v):
            return "%.2f M %s" % (v / 1e6, unit) if c[1] == "thr" else "%.0f %s" % (v, unit)

        def spread(v):
            return "±%.0f%%" % (50.0 * (max(v) - min(v)) / statistics.median(v))
        name = "%s %s %d B%s" % (c[0], c[1], c[2], " " + c[3] if c[3] else "")
        print("| %s | %s | %s | %.2f | %s | %s |" % (name, fmt(ma), fmt(mb), mb / ma,
                                                      spread(a), spread(b)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Run the libdragonipc benchmarks against their peers, side by side.

Called by `make bench` (full run: tables, ratios against the targets,
RESULTS.md and PNG plots) and `make bench-smoke` (a second or so per
benchmark: proves that every installed benchmark runs and prints).  Every
case of the matrix runs once per round and the rounds are interleaved, so
slow drifts of the machine hit every transport alike; the figures are the
medians over the rounds and the spread says how noisy they were.

Exit status: 0 when everything that could run ran (skips are fine), 1 when
a benchmark failed (crashed, hung, or found a corrupt payload).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

KiB, MiB = 1024, 1024 * 1024
SIZES = [8, 64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB]
FANIN_SIZES = [64, 4 * KiB, 64 * KiB, MiB]
SMOKE_SIZES = [64, MiB]
PY_SIZES = [64, 4 * KiB, 64 * KiB, MiB]
PY_SMOKE_SIZES = [64, 64 * KiB]
PROGRAMS = ["dipc-bench", "zmq-bench", "iox-bench"]

# What each section measures: (test, wait, metric, label).
SECTIONS = [
    ("lat", "spin", "lat_ns", "one-way latency, spinning waits"),
    ("lat", "sleep", "lat_ns", "one-way latency, sleeping waits"),
    ("lat", "default", "lat_ns", "one-way latency, libdragonipc's default (adaptive) waits"),
    ("thr", "default", "msgs_per_s", "throughput 1 -> 1, default waits"),
    ("fanin", "default", "msgs_per_s", "fan-in N -> 1, default waits"),
]


def human_size(n):
    for unit, div in (("MiB", MiB), ("KiB", KiB)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2f ms" % (v / 1e6)
    if v >= 1e3:
        return "%.2f us" % (v / 1e3)
    return "%.0f ns" % v


def fmt_rate(v):
    if v is None:
        return "-"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return "%.2f%s" % (v / div, unit)
    return "%.0f" % v


def fmt_bytes(v):
    if v is None:
        return "-"
    for div, unit in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if v >= div:
            return "%.2f %s" % (v / div, unit)
    return "%.0f B/s" % v


def parse_result(line):
    out = {}
    for tok in line.split()[1:]:
        k, _, v = tok.partition("=")
        try:
            out[k] = float(v) if re.match(r"^-?[0-9.]+(e[-+]?[0-9]+)?$", v) else v
        except ValueError:
            out[k] = v
    return out


class Runner:
    """Runs single cases and keeps every sample."""

    def __init__(self, args):
        self.args = args
        self.samples = {}   # key -> list of result dicts
        self.status = {}    # key -> "ok" | "skip: why" | "FAIL: why"
        self.failed = 0

    def record(self, key, res, status):
        if res is not None:
            self.samples.setdefault(key, []).append(res)
        old = self.status.get(key)
        if old is None or old == "ok" or status.startswith("FAIL"):
            self.status[key] = status
        if status.startswith("FAIL"):
            self.failed += 1

    def run(self, key, cmd, env=None, timeout=None):
        if self.status.get(key, "").startswith(("skip", "FAIL")):
            return  # once skipped or failed, not again in later rounds
        if timeout is None:
            timeout = self.args.duration * 2 + 60
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            self.record(key, None, "FAIL: timed out")
            print("  %-40s FAILED (timed out)" % " ".join(map(str, key)), flush=True)
            return
        lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        if p.returncode == 77:
            why = (p.stderr.strip().splitlines() or ["skipped"])[-1]
            self.record(key, None, "skip: " + why.replace("bench: ", ""))
            return
        if p.returncode != 0 or not lines:
            why = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            self.record(key, None, "FAIL: " + why)
            print("  %-40s FAILED: %s" % (" ".join(map(str, key)), why), flush=True)
            return
        for l in lines:
            self.record(key, parse_result(l), "ok")
        if self.args.verbose or self.args.smoke:
            for l in lines:
                print("  " + l, flush=True)

    def median(self, key, metric):
        vals = [s[metric] for s in self.samples.get(key, []) if isinstance(s.get(metric), float)]
        return statistics.median(vals) if vals else None

    def spread(self, key, metric):
        """Median absolute deviation of the rounds over their median, or
        None: robust to one disturbed round, unlike max - min."""
        vals = [s[metric] for s in self.samples.get(key, []) if isinstance(s.get(metric), float)]
        if len(vals) < 2:
            return None
        m = statistics.median(vals)
        return statistics.median(abs(v - m) for v in vals) / m if m else None

    def range(self, key, metric):
        """(max - min) / median over the rounds, or None."""
        vals = [s[metric] for s in self.samples.get(key, []) if isinstance(s.get(metric), float)]
        if len(vals) < 2:
            return None
        m = statistics.median(vals)
        return (max(vals) - min(vals)) / m if m else None


def list_transports(prog):
    try:
        out = subprocess.run([prog, "--list"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return {}
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        caps = set()
        for w in parts[1:]:
            if w in ("lat", "thr", "fanin", "spin", "sleep"):
                caps.add(w)
            else:
                break
        found[parts[0]] = caps
    return found


class Roudi:
    """iceoryx's RouDi daemon, started for the iceoryx cases."""

    def __init__(self, srcdir):
        self.srcdir = srcdir
        self.proc = None

    def start(self):
        exe = shutil.which("iox-roudi")
        if not exe:
            return "iox-roudi not found (Debian package iceoryx)"
        cfg = os.path.join(self.srcdir, "bench", "roudi.toml")
        cmd = [exe] + (["-c", cfg] if os.path.exists(cfg) else [])
        self.log = open(os.devnull, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)
        if self.proc.poll() is not None:
            self.proc = None
            if os.path.exists("/tmp/roudi"):
                print("bench: a RouDi is already running: using it (sizes its mempools "
                      "do not hold are skipped)")
                return None
            return "iox-roudi exited at once"
        return None

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def machine_details(args):
    d = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
    d["kernel"] = platform.release()
    d["arch"] = platform.machine()
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    d["cpu"] = model
    d["cpus"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            d["memory"] = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576)
    except (OSError, ValueError, IndexError):
        d["memory"] = "?"
    virt = []
    try:
        v = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
        if v and v != "none":
            virt.append(v)
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Hypervisor vendor:\s*(\S+)", out)
        if m:
            virt.append("hypervisor " + m.group(1))
    except OSError:
        pass
    virt = ", ".join(virt) or "none seen"
    d["virtualisation"] = virt
    try:
        d["compiler"] = subprocess.run(["cc", "--version"], capture_output=True,
                                       text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        d["compiler"] = "?"
    d["python"] = platform.python_version()
    try:
        d["libdragonipc"] = subprocess.run(
            ["git", "-C", args.srcdir, "describe", "--always", "--dirty"],
            capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        d["libdragonipc"] = "?"
    vers = []
    for pkg in ("libzmq3-dev", "libiceoryx-binding-c-dev", "iceoryx"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                               capture_output=True, text=True).stdout.strip()
        except OSError:
            v = ""
        if v:
            vers.append("%s %s" % (pkg, v))
    d["peers"] = ", ".join(vers) or "none from Debian"
    return d


def load_avg():
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def build_matrix(args, progs):
    """Cases as (key, argv, needs) in a fixed order; key = (transport, test, wait, size)."""
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else SIZES)
    fanin_sizes = [s for s in FANIN_SIZES if s in sizes] or sizes[:1]
    cases = []
    core = progs.get("dipc-bench")
    if core and "memcpy" in args.tests:
        for s in sizes:
            cases.append((("memcpy", "memcpy", "-", s), [core[0], "--test", "memcpy", "--size", str(s)], None))
    for test, wait, _, _ in SECTIONS:
        if test not in args.tests:
            continue
        for prog, tps in progs.values():
            for name, caps in tps.items():
                if args.only and name not in args.only:
                    continue
                if test not in caps:
                    continue
                if wait in ("spin", "sleep") and wait not in caps:
                    continue
                if test == "lat" and wait == "default" and not name.startswith("dipc"):
                    continue  # the peers' default is their sleeping wait
                for s in (fanin_sizes if test == "fanin" else sizes):
                    argv = [prog, "--transport", name, "--test", test, "--wait", wait,
                            "--size", str(s)]
                    if test == "fanin":
                        argv += ["--producers", str(args.producers)]
                    cases.append(((name, test, wait, s), argv,
                                  "roudi" if name.startswith("iox") else None))
    return cases


def run_all(args):
    progs = {}
    for p in PROGRAMS:
        path = os.path.join(args.builddir, "bench", p)
        if os.access(path, os.X_OK):
            tps = list_transports(path)
            if tps:
                progs[p] = (path, tps)
        elif not args.smoke:
            print("bench: %s not built (peer not installed), skipped" % p)
    if "dipc-bench" not in progs:
        sys.exit("bench: %s/bench/dipc-bench is missing: run `make bench-build`" % args.builddir)
    cases = build_matrix(args, progs)
    runner = Runner(args)
    roudi = Roudi(args.srcdir)
    roudi_err = None
    if any(c[2] == "roudi" for c in cases):
        roudi_err = roudi.start()
        if roudi_err:
            print("bench: iceoryx skipped: " + roudi_err)
    details = machine_details(args)
    details["load_before"] = load_avg()
    extra = ["--duration", str(args.duration)]
    if args.cpus:
        extra += ["--cpus", args.cpus]
    t0 = time.time()
    try:
        for r in range(args.rounds):
            print("bench: round %d of %d, %d cases (load %.2f)" % (r + 1, args.rounds, len(cases),
                                                                   load_avg()[0]), flush=True)
            for key, argv, needs in cases:
                if needs == "roudi" and roudi_err:
                    runner.record(key, None, "skip: " + roudi_err)
                    continue
                runner.run(key, argv + extra)
            if args.python:
                run_python(args, runner)
    finally:
        roudi.stop()
    details["load_after"] = load_avg()
    details["elapsed_s"] = round(time.time() - t0)
    details.update(rounds=args.rounds, duration=args.duration, producers=args.producers,
                   cmdline=args.cmdline)
    return runner, details


def run_python(args, runner):
    """The Python benchmarks (bench/py_bench.py), if present."""
    script = os.path.join(HERE, "py_bench.py")
    if not os.path.exists(script):
        return
    env = dict(os.environ)
    # The in-tree build of the package (python/python.am builds it there).
    pydirs = [os.path.join(args.builddir, "python", d) for d in ("lib", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in pydirs + [env.get("PYTHONPATH")] if p)
    libs = os.path.join(args.builddir, ".libs")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libs, env.get("LD_LIBRARY_PATH")) if p)
    py = args.python_exe or sys.executable
    try:
        out = subprocess.run([py, script, "--list"], capture_output=True, text=True,
                             timeout=120, env=env).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    names = [l.split()[0] for l in out.splitlines() if l.strip()]
    sizes = PY_SMOKE_SIZES if args.smoke else PY_SIZES
    for name in names:
        if args.only and name not in args.only:
            continue
        for s in sizes:
            runner.run((name, "pythr", "default", s),
                       [py, script, "--transport", name, "--size", str(s),
                        "--duration", str(args.duration)], env=env)
        # The ceiling and batches are throughput figures only.
        if name not in ("py-ceiling", "py-dipc-batch"):
            runner.run((name, "pyrtt", "default", 64),
                       [py, script, "--transport", name, "--test", "pyrtt", "--size", "64",
                        "--duration", str(args.duration)], env=env)


# ---- reporting ------------------------------------------------------------------

def table(runner, test, wait, metric, fmt, sizes):
    names = []
    for (name, t, w, s) in runner.status:
        if t == test and w == wait and name not in names:
            names.append(name)
    rows = []
    for name in names:
        row = [name]
        for s in sizes:
            key = (name, test, wait, s)
            st = runner.status.get(key)
            if st is None:
                row.append("")
            elif st.startswith("FAIL"):
                row.append("FAIL")
            elif st.startswith("skip"):
                row.append("n/a")
            else:
                v = runner.median(key, metric)
                sp = runner.spread(key, metric)
                cell = fmt(v)
                if sp is not None and sp > 0.05:
                    cell += " ±%d%%" % round(100 * sp)
                row.append(cell)
        rows.append(row)
    return ["transport"] + [human_size(s) for s in sizes], rows


def render_text(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in
                     enumerate(zip(r, widths))) for r in [header] + rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_md(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def report_tables(runner, sizes):
    """[(title, header, rows)] for every section that has data."""
    out = []
    for test, wait, metric, label in SECTIONS:
        ss = [s for s in (FANIN_SIZES if test == "fanin" else sizes) if s in sizes] or sizes
        header, rows = table(runner, test, wait, metric, fmt_ns if metric == "lat_ns" else fmt_rate, ss)
        if not rows:
            continue
        unit = "median one-way latency" if metric == "lat_ns" else "messages/s"
        out.append(("%s (%s)" % (label, unit), header, rows))
        if metric == "msgs_per_s":
            header, rows = table(runner, test, wait, "bytes_per_s", fmt_bytes, ss)
            out.append(("%s (payload bytes/s)" % label, header, rows))
    header, rows = table(runner, "memcpy", "-", "bytes_per_s", fmt_bytes, sizes)
    if rows:
        out.append(("single-core memcpy (bytes copied/s)", header, rows))
    pysizes = sorted({k[3] for k in runner.status if k[1] == "pythr"})
    header, rows = table(runner, "pythr", "default", "msgs_per_s", fmt_rate, pysizes)
    if rows:
        out.append(("Python, one process to another (messages/s)", header, rows))
        header, rows = table(runner, "pythr", "default", "bytes_per_s", fmt_bytes, pysizes)
        out.append(("Python, one process to another (payload bytes/s)", header, rows))
    header, rows = table(runner, "pyrtt", "default", "rtt_ns", fmt_ns,
                         sorted({k[3] for k in runner.status if k[1] == "pyrtt"}))
    if rows:
        out.append(("Python round trip, one process and back (median round trip)", header, rows))
    return out


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def targets(runner, sizes):
    """[(target, figures, ratio text, verdict)] for the issue's targets."""
    m = runner.median
    sp = runner.spread
    res = []

    def add(name, figs, r, ok, note=""):
        if r is None:
            res.append((name, figs, "-", "not measured" + (" (" + note + ")" if note else "")))
        else:
            res.append((name, figs, r, "met" if ok else "NOT met"))

    a = m(("dipc-copy", "lat", "spin", 64), "lat_ns")
    b = m(("floor-line", "lat", "spin", 64), "lat_ns")
    r = ratio(a, b)
    add("64 B latency, spinning: dipc-copy <= 1.5 x cache-line ping-pong",
        "%s vs %s" % (fmt_ns(a), fmt_ns(b)), r and "%.2f x" % r, r is not None and r <= 1.5)

    a = m(("dipc-copy", "thr", "default", 64), "msgs_per_s")
    for peer, want in (("uds", 20), ("zmq", 10)):
        b = m((peer, "thr", "default", 64), "msgs_per_s")
        r = ratio(a, b)
        add("64 B throughput: dipc-copy >= %d x %s" % (want, peer),
            "%s/s vs %s/s" % (fmt_rate(a), fmt_rate(b)), r and "%.1f x" % r,
            r is not None and r >= want)

    a = m(("dipc-copy", "lat", "sleep", 64), "lat_ns")
    b = m(("floor", "lat", "sleep", 64), "lat_ns")
    r = ratio(a, b)
    add("64 B latency, sleeping: dipc-copy <= 1.3 x raw futex ping-pong",
        "%s vs %s" % (fmt_ns(a), fmt_ns(b)), r and "%.2f x" % r, r is not None and r <= 1.3)

    a = m(("dipc-copy", "thr", "default", MiB), "bytes_per_s")
    b = m(("memcpy", "memcpy", "-", MiB), "bytes_per_s")
    r = ratio(a, b)
    add("1 MiB copied throughput >= 0.5 x single-core memcpy",
        "%s vs %s" % (fmt_bytes(a), fmt_bytes(b)), r and "%.2f x" % r, r is not None and r >= 0.5)

    # Against the bare ring.  floor-copy does to the bytes what a copying
    # channel does (in from the sender's buffer, out into the receiver's),
    # so the ratio is what the protocol costs; the in-place floor copies
    # nothing and is shown beside it.
    for size, metric, show in ((MiB, "bytes_per_s", fmt_bytes),
                               (64, "msgs_per_s", lambda v: fmt_rate(v) + "/s")):
        a = m(("dipc-copy", "thr", "default", size), metric)
        b = m(("floor-copy", "thr", "default", size), metric)
        f = m(("floor", "thr", "default", size), metric)
        r, rf = ratio(a, b), ratio(a, f)
        add("%s throughput: dipc-copy >= 0.8 x the bare ring doing the same copies (floor-copy)"
            % human_size(size),
            "%s vs %s (in-place floor, which copies nothing: %s, %s)"
            % (show(a), show(b), show(f), "%.2f x" % rf if rf else "-"),
            r and "%.2f x" % r, r is not None and r >= 0.8)

    # Flatness: what transfer of ownership adds over the floor ring, which
    # moves the same bytes through shared memory with no protocol at all.
    over = {}
    for s in sizes:
        x = m(("dipc-xfer", "lat", "spin", s), "lat_ns")
        f = m(("floor", "lat", "spin", s), "lat_ns")
        if x is not None and f is not None:
            # Noise: three deviations of each side (both medians move).
            over[s] = (x - f, 3 * (f * (sp(("floor", "lat", "spin", s), "lat_ns") or 0)
                                   + x * (sp(("dipc-xfer", "lat", "spin", s), "lat_ns") or 0)))
    if len(over) >= 2:
        small = min(over)
        base = max(over[small][0], 0.0)
        worst = max(over, key=lambda s: over[s][0])
        # Flat: no size adds more than twice what the smallest adds, plus
        # 1 us.  "within noise" when that holds only once the rounds'
        # spread is allowed for.
        strict = all(o <= 2 * base + 1000.0 for o, _ in over.values())
        loose = all(o <= 2 * base + max(noise, 1000.0) for o, noise in over.values())
        figs = ", ".join("%s %s%s" % (human_size(s), "+" if over[s][0] >= 0 else "",
                                      fmt_ns(over[s][0]) if over[s][0] >= 0 else "-" + fmt_ns(-over[s][0]))
                         for s in sorted(over))
        r = "largest +%s at %s; +%s at %s" % (fmt_ns(over[worst][0]), human_size(worst),
                                               fmt_ns(base), human_size(small))
        name = "transfer-of-ownership latency flat in size (added over the floor ring)"
        if strict:
            res.append((name, figs, r, "met"))
        elif loose:
            res.append((name, figs, r, "within noise only"))
        else:
            res.append((name, figs, r, "NOT met"))
    else:
        add("transfer-of-ownership latency flat in size", "-", None, False)

    a = m(("py-dipc-channel", "pythr", "default", 64), "msgs_per_s")
    for peer, want in (("py-mp-queue", 10), ("py-faster-fifo", 3), ("py-dragon-channel", 10)):
        b = m((peer, "pythr", "default", 64), "msgs_per_s")
        r = ratio(a, b)
        add("Python 64 B send_bytes->recv_bytes >= %d x %s" % (want, peer),
            "%s/s vs %s/s" % (fmt_rate(a), fmt_rate(b)), r and "%.1f x" % r,
            r is not None and r >= want, "peer not measured" if a is not None else "")

    # Python, large messages: the bytes path against the best Python peer
    # and against our own Message path (copied in, copied out as bytes).
    a = m(("py-dipc-channel", "pythr", "default", MiB), "bytes_per_s")
    peers = [(p, m((p, "pythr", "default", MiB), "bytes_per_s"))
             for p in ("py-iceoryx2", "py-dragon-channel")]
    peers = [(p, v) for p, v in peers if v is not None]
    name = "Python 1 MiB send_bytes->recv_bytes >= 1.0 x the best Python peer"
    if peers:
        bp, bv = max(peers, key=lambda x: x[1])
        r = ratio(a, bv)
        add(name, "%s vs %s (%s)" % (fmt_bytes(a), fmt_bytes(bv), bp), r and "%.2f x" % r,
            r is not None and r >= 1.0)
    else:
        add(name, "-", None, False, "no Python peer measured")
    b = m(("py-dipc-msg", "pythr", "default", MiB), "bytes_per_s")
    r = ratio(a, b)
    add("Python 1 MiB send_bytes->recv_bytes within 10% of the Message path (py-dipc-msg)",
        "%s vs %s" % (fmt_bytes(a), fmt_bytes(b)), r and "%.2f x" % r, r is not None and r >= 0.9)

    # Python per call: what the extension adds to the interpreter's own
    # loop (py-ceiling: the same loops around a transport that does nothing).
    a = m(("py-dipc-channel", "pythr", "default", 64), "msgs_per_s")
    c = m(("py-ceiling", "pythr", "default", 64), "msgs_per_s")
    name = "Python 64 B per message: the extension's share over the interpreter's ceiling"
    if a and c:
        extra = 1e9 / a - 1e9 / c
        res.append((name, "%s/s vs ceiling %s/s (%.0f vs %.0f ns per message)"
                    % (fmt_rate(a), fmt_rate(c), 1e9 / a, 1e9 / c),
                    "%.2f x the ceiling; the transport's share %+.0f ns, %.0f%%"
                    % (a / c, extra, 100 * extra * a / 1e9), "measured"))
    else:
        add(name, "-", None, False, "not measured")

    # Python batches: send_bytes_many / recv_bytes_many, 64 a call, against
    # the single calls' ceiling (what grouping the calls gains beyond any
    # transport called once a message), and the extension's share over
    # the same loops grouped around a transport that does nothing.
    b = m(("py-dipc-batch", "pythr", "default", 64), "msgs_per_s")
    cb = m(("py-ceiling", "pythr", "default", 64), "batch_per_s")
    name = "Python 64 B in batches of 64: against the single-call ceiling, and the extension's share"
    if b and c and cb:
        extra = 1e9 / b - 1e9 / cb
        res.append((name, "%s/s vs single calls %s/s, ceiling %s/s, batch ceiling %s/s"
                    % (fmt_rate(b), fmt_rate(a) if a else "-", fmt_rate(c), fmt_rate(cb)),
                    "%.2f x the single-call ceiling; over the batch ceiling %+.0f ns per "
                    "message, %.0f%%" % (b / c, extra, 100 * extra * b / 1e9), "measured"))
    else:
        add(name, "-", None, False, "not measured")
    a = m(("py-dipc-channel", "pythr", "default", MiB), "bytes_per_s")
    b = m(("py-dipc-into", "pythr", "default", MiB), "bytes_per_s")
    r = ratio(b, a)
    name = "Python 1 MiB recv_bytes_into (one buffer) against recv_bytes"
    if r:
        res.append((name, "%s vs %s" % (fmt_bytes(b), fmt_bytes(a)), "%.2f x" % r, "measured"))
    else:
        add(name, "-", None, False, "not measured")

    a = m(("py-dipc-channel", "pyrtt", "default", 64), "rtt_ns")
    for peer in ("py-iceoryx2", "py-dragon-channel"):
        b = m((peer, "pyrtt", "default", 64), "rtt_ns")
        r = ratio(a, b)
        add("Python 64 B round trip <= %s's" % peer, "%s vs %s" % (fmt_ns(a), fmt_ns(b)),
            r and "%.2f x" % r, r is not None and r <= 1.0, "peer not measured" if a is not None else "")

    # iceoryx: the better of our two modes against it, size by size.
    losses, compared = [], 0
    for test, wait, metric in (("lat", "spin", "lat_ns"), ("lat", "sleep", "lat_ns"),
                               ("thr", "default", "msgs_per_s")):
        for s in sizes:
            i = m(("iox", test, wait, s), metric)
            if i is None:
                continue
            ours = [v for v in (m(("dipc-copy", test, wait, s), metric),
                                m(("dipc-xfer", test, wait, s), metric)) if v is not None]
            if not ours:
                continue
            compared += 1
            best = min(ours) if metric == "lat_ns" else max(ours)
            worse = best > i * 1.05 if metric == "lat_ns" else best < i * 0.95
            if worse:
                losses.append("%s/%s %s (%s vs %s)" % (test, wait, human_size(s),
                              (fmt_ns if metric == "lat_ns" else fmt_rate)(best),
                              (fmt_ns if metric == "lat_ns" else fmt_rate)(i)))
    if compared:
        add("iceoryx matched (within 5%%) or beaten on every size it takes (%d cases)" % compared,
            "; ".join(losses) if losses else "no case worse", "%d of %d worse" % (len(losses), compared),
            not losses)
    else:
        add("iceoryx matched or beaten on every size it takes", "-", None, False, "iceoryx not run")
    return res


def plots(runner, sizes, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not installed (bench/deps.sh installs it): no plots")
        return []
    made = []
    specs = [("latency-spin.png", "lat", "spin", "lat_ns", 1e-3, "one-way latency (us)",
              "One-way latency, spinning waits"),
             ("latency-sleep.png", "lat", "sleep", "lat_ns", 1e-3, "one-way latency (us)",
              "One-way latency, sleeping waits"),
             ("throughput-msgs.png", "thr", "default", "msgs_per_s", 1, "messages/s",
              "Throughput, one producer to one consumer"),
             ("throughput-bytes.png", "thr", "default", "bytes_per_s", 1e-9, "payload GB/s",
              "Throughput, one producer to one consumer"),
             ("fanin-msgs.png", "fanin", "default", "msgs_per_s", 1, "messages/s",
              "Fan-in, %s producers to one consumer" % runner.args.producers),
             ("python-msgs.png", "pythr", "default", "msgs_per_s", 1, "messages/s",
              "Python, one process to another"),
             ("python-bytes.png", "pythr", "default", "bytes_per_s", 1e-9, "payload GB/s",
              "Python, one process to another")]
    for fname, test, wait, metric, scale, ylabel, title in specs:
        names = []
        for (name, t, w, s) in runner.status:
            if t == test and w == wait and name not in names:
                names.append(name)
        if not names:
            continue
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for name in names:
            xs, ys = [], []
            for s in sizes:
                v = runner.median((name, test, wait, s), metric)
                if v is not None:
                    xs.append(s)
                    ys.append(v * scale)
            if xs:
                style = "--" if name.startswith(("floor", "py-ceiling")) else "-"
                lw = 2.4 if name.startswith(("dipc", "py-dipc")) else 1.3
                ax.plot(xs, ys, style, marker="o", ms=3, lw=lw, label=name)
        if metric == "bytes_per_s":
            xs = [s for s in sizes if runner.median(("memcpy", "memcpy", "-", s), metric)]
            if xs:
                ax.plot(xs, [runner.median(("memcpy", "memcpy", "-", s), metric) * scale for s in xs],
                        ":", color="black", lw=1.5, label="memcpy (1 core)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([human_size(s).replace(" ", "") for s in sizes], rotation=45)
        ax.set_xlabel("message size")
        ax.set_ylabel(ylabel)
        ax.set_title(title + " (median of %d rounds)" % runner.args.rounds)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, fname), dpi=110)
        plt.close(fig)
        made.append(fname)
    return made


def write_results(runner, details, sizes, tabs, tgts, pngs, args):
    cmd = "make bench"
    L = ["# libdragonipc benchmarks: results", ""]
    L += ["Written by `%s` (that is, `bench/run.py %s`) on %s. Every figure is the median of %d rounds; "
             "in each round every case ran once for %.2f s after a warm-up, the cases of one "
             "round interleaved so that slow drifts of the machine hit all transports alike. "
             "A cell marked ±N%% has a median absolute deviation over the rounds of N%% of its "
             "median (unmarked: 5%% or less); see the noise summary below."
             % (cmd, args.cmdline, details["date"], args.rounds, args.duration), ""]
    L += ["## Machine", ""]
    for k in ("cpu", "cpus", "memory", "virtualisation", "kernel", "arch", "compiler", "python",
              "libdragonipc", "peers"):
        L.append("- %s: %s" % (k, details[k]))
    L.append("- load average (1/5/15 min) before: %.2f %.2f %.2f, after: %.2f %.2f %.2f"
             % (tuple(details["load_before"]) + tuple(details["load_after"])))
    L.append("- run time: %d s" % details["elapsed_s"])
    L.append("")
    devs = sorted(runner.spread(k, m) for k in runner.samples
                  for m in (["lat_ns"] if k[1] == "lat" else ["msgs_per_s"])
                  if runner.spread(k, m) is not None)
    rngs = sorted(runner.range(k, m) for k in runner.samples
                  for m in (["lat_ns"] if k[1] == "lat" else ["msgs_per_s"])
                  if runner.range(k, m) is not None)
    if devs:
        L += ["## Noise", "",
              "Over the %d cases measured: median absolute deviation between rounds, relative to "
              "the median, is %.0f%% at the median case and %.0f%% at the 90th percentile; %d%% "
              "of the cases deviate by more than 10%%.  The full range between rounds "
              "(max - min) is %.0f%% of the median at the median case and %.0f%% at the 90th "
              "percentile: single rounds are disturbed by other work on this shared 2-core "
              "machine, which is why the figures are medians."
              % (len(devs), 100 * devs[len(devs) // 2], 100 * devs[int(len(devs) * 0.9)],
                 round(100 * sum(d > 0.10 for d in devs) / len(devs)),
                 100 * rngs[len(rngs) // 2], 100 * rngs[int(len(rngs) * 0.9)]), ""]
    L += ["## How it measures", "",
          "- Two processes (fork), pinned to different CPUs with sched_setaffinity "
          "(process A or the consumer on the first CPU, the other(s) on the second); "
          "in fan-in the %d producers share the second CPU." % args.producers,
          "- Every payload byte is written before each send and read (and checked) after "
          "each receive, for every transport and floor; a lost, reordered, torn or "
          "corrupt message fails the run.",
          "- Latency is half the round trip of a ping-pong; throughput counts the messages "
          "the consumer took in the measured window.",
          "- Spinning waits: libdragonipc DIPC_WAIT_SPIN; the peers retry non-blocking "
          "calls; the floors spin on the shared word.  Sleeping waits: DIPC_WAIT_IDLE; the "
          "peers block in the kernel; the floor sleeps on a futex.  Throughput and fan-in use "
          "each transport's default (libdragonipc DIPC_WAIT_ADAPTIVE, the peers block).",
          "- Every buffer the benchmarks write or read is aligned to a cache line (glibc's memcpy "
          "runs at about 1 GB/s between 4 KiB and 64 KiB buffers misaligned to each other on "
          "this machine, 25-90 GB/s aligned).",
          "- See bench/README.md for each transport's exact setup, and bench/PROFILE.md for where "
          "libdragonipc's time goes where a target is missed.", ""]
    L += ["## Targets", "", "| target | figures | ratio | verdict |", "|---|---|---|---|"]
    for name, figs, r, verdict in tgts:
        L.append("| %s | %s | %s | %s |" % (name, figs, r, verdict))
    L.append("")
    for title, header, rows in tabs:
        L += ["## " + title[0].upper() + title[1:], "", render_md(header, rows), ""]
    if pngs:
        L += ["## Plots", ""] + ["![%s](%s)" % (p, p) for p in pngs] + [""]
    notes = [(k, st) for k, st in runner.status.items() if st != "ok"]
    if notes:
        L += ["## Cases that did not run", ""]
        for k, st in notes:
            L.append("- %s %s/%s %s: %s" % (k[0], k[1], k[2], human_size(k[3]), st))
        L.append("")
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            L += [f.read()]
    with open(os.path.join(args.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(L))


def load_raw(args):
    with open(args.from_raw) as f:
        raw = json.load(f)
    runner = Runner(args)
    for ent in raw["samples"]:
        key = tuple(ent["key"])
        runner.status[key] = ent["status"]
        if ent["samples"]:
            runner.samples[key] = ent["samples"]
    details = raw["details"]
    args.rounds = details.get("rounds", args.rounds)
    args.duration = details.get("duration", args.duration)
    args.producers = details.get("producers", args.producers)
    args.cmdline = details.get("cmdline", args.cmdline)
    return runner, details


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=os.path.dirname(HERE))
    ap.add_argument("--out", default=None, help="where RESULTS.md, the plots and raw.json go")
    ap.add_argument("--smoke", action="store_true", help="short pass: prove everything runs")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds measured per case")
    ap.add_argument("--producers", type=int, default=2, help="producers in fan-in")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--tests", default="memcpy,lat,thr,fanin")
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="comma-separated transports")
    ap.add_argument("--cpus", default=None, help="passed to the programs (auto, none, 0,1)")
    ap.add_argument("--no-python", dest="python", action="store_false")
    ap.add_argument("--python-exe", default=None)
    ap.add_argument("--notes", default=None, help="a Markdown file appended to RESULTS.md")
    ap.add_argument("--from-raw", default=None,
                    help="report from a raw.json of an earlier run instead of running")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.tests = args.tests.split(",")
    if args.rounds is None:
        args.rounds = 1 if args.smoke else 3
    if args.duration is None:
        args.duration = 0.05 if args.smoke else 0.3
    args.out = args.out or os.path.join(args.builddir, "bench")
    args.cmdline = " ".join(shlex.quote(a) for a in sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else SIZES)

    if args.from_raw:
        runner, details = load_raw(args)
    else:
        runner, details = run_all(args)
    tabs = report_tables(runner, sizes)
    for title, header, rows in tabs:
        print("\n== %s ==\n%s" % (title, render_text(header, rows)))
    tgts = targets(runner, sizes)
    print("\n== targets ==")
    print(render_text(["target", "figures", "ratio", "verdict"],
                      [[a, b, c or "-", d] for a, b, c, d in tgts]))
    with open(os.path.join(args.out, "raw.json"), "w") as f:
        json.dump({"details": details,
                   "samples": [{"key": list(k), "status": runner.status[k],
                                "samples": runner.samples.get(k, [])} for k in runner.status]},
                  f, indent=1)
    if not args.smoke:
        pngs = plots(runner, sizes, args.out)
        write_results(runner, details, sizes, tabs, tgts, pngs, args)
        print("\nbench: wrote %s/RESULTS.md%s" % (args.out, " and " + ", ".join(pngs) if pngs else ""))
    fails = [k for k, st in runner.status.items() if st.startswith("FAIL")]
    skips = [k for k, st in runner.status.items() if st.startswith("skip")]
    ran = [k for k, st in runner.status.items() if st == "ok"]
    print("\nbench: %d cases ran, %d skipped, %d failed" % (len(ran), len(skips), len(fails)))
    for k in fails:
        print("bench: FAILED %s: %s" % (" ".join(map(str, k)), runner.status[k]))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

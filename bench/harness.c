/*
 * harness.c - command line, processes, payload checks and timing shared
 * by every benchmark program.  See bench.h.
 *
 *   PROG --list
 *   PROG --transport NAME --test lat|thr|fanin [--wait spin|sleep|default]
 *        [--size BYTES] [--producers N] [--duration S] [--warmup S]
 *        [--cpus LIST|none]
 *   PROG --test memcpy --size BYTES
 *
 * prints one line "RESULT key=value ..." on success, exits BENCH_SKIP when
 * the transport cannot run that case here, 1 on failure.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 17
#define END_SEQ 0x00ffffffffffffffull

/* ---- helpers for transports ------------------------------------------- */

void *bench_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void bench_shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void *bench_alloc(size_t size)
{
	size_t room = (size + 63) / 64 * 64;
	void *p = aligned_alloc(64, room ? room : 64);
	if (p)
		memset(p, 0, room);
	return p;
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- payload -------------------------------------------------------------- */

/*
 * The first 8 bytes carry (producer << 56 | sequence); every other byte is
 * a value derived from both, so a stale, torn or misrouted payload fails
 * the check.  The header is stored last, with release order, so a
 * transport that polls it (the cache-line floor) never sees a half-written
 * message.
 */
static inline unsigned char pat_byte(uint64_t hdr)
{
	return (unsigned char)(hdr * 0x9du + (hdr >> 56) + 1);
}

static void fill(void *buf, size_t len, uint64_t hdr)
{
	unsigned char *p = buf;
	memset(p + 8, pat_byte(hdr), len - 8);
	if (((uintptr_t)p & 7) == 0)
		__atomic_store_n((uint64_t *)(void *)p, hdr, __ATOMIC_RELEASE);
	else {
		atomic_thread_fence(memory_order_release);
		memcpy(p, &hdr, 8);
	}
}

/* Read every byte; returns the header, or fails the run if any is wrong. */
static uint64_t check(const void *buf, size_t len, size_t want)
{
	const unsigned char *p = buf;
	uint64_t hdr;
	if (len != want)
		bench_die("received %zu bytes, expected %zu", len, want);
	memcpy(&hdr, p, 8);
	uint64_t pat;
	memset(&pat, pat_byte(hdr), 8);
	uint64_t diff = 0, w;
	size_t i = 8;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		diff |= w ^ pat;
	}
	for (; i < len; i++)
		diff |= (uint64_t)(p[i] ^ (unsigned char)pat);
	if (diff)
		bench_die("payload of message %llx is corrupt", (unsigned long long)hdr);
	return hdr;
}

/* ---- processes -------------------------------------------------------------- */

struct ctl {
	_Atomic int barrier[4];
	_Atomic int stop;
	_Atomic int failed;
};

static struct ctl *ctl;
static int nprocs;
static int cpu_list[64];
static int ncpus;

static void barrier(int k)
{
	atomic_fetch_add(&ctl->barrier[k], 1);
	while (atomic_load(&ctl->barrier[k]) < nprocs) {
		int f = atomic_load(&ctl->failed);
		if (f)
			exit(f == 2 ? BENCH_SKIP : 1);
		usleep(50);
	}
}

static void pin(int proc)
{
	if (ncpus == 0)
		return;
	/* Process 0 (A, the consumer) gets the first CPU, the others share
	 * the rest. */
	int cpu = proc == 0 || ncpus == 1 ? cpu_list[0] : cpu_list[1 + (proc - 1) % (ncpus - 1)];
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static void parse_cpus(const char *s)
{
	ncpus = 0;
	if (strcmp(s, "none") == 0)
		return;
	if (strcmp(s, "auto") == 0) {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return;
		for (int c = 0; c < CPU_SETSIZE && ncpus < 2; c++)
			if (CPU_ISSET(c, &set))
				cpu_list[ncpus++] = c;
		if (ncpus < 2)
			ncpus = 0;  /* one CPU: pinning helps nothing */
		return;
	}
	char *dup = strdup(s), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t && ncpus < 64; t = strtok_r(NULL, ",", &save))
		cpu_list[ncpus++] = atoi(t);
	free(dup);
}

/* ---- the measurements ------------------------------------------------------- */

struct result {
	uint64_t iters;
	double seconds;
};

static const struct transport *tp;
static struct bench_cfg cfg;
static void *shared;

static void xcheck(int rc, const char *what)
{
	if (rc == BENCH_SKIP) {
		/* Found out only now (a size the peer's setup cannot take). */
		atomic_store(&ctl->failed, 2);
		exit(BENCH_SKIP);
	}
	if (rc != 0) {
		atomic_store(&ctl->failed, 1);
		bench_die("%s %s failed (%d)", tp->name, what, rc);
	}
}

static void tx(struct bench_ep *ep, uint64_t hdr)
{
	void *buf = tp->get_buf(ep, cfg.size);
	if (!buf)
		xcheck(-1, "get_buf");
	fill(buf, cfg.size, hdr);
	xcheck(tp->send(ep, cfg.size), "send");
}

static uint64_t rx(struct bench_ep *ep)
{
	const void *d;
	size_t len;
	xcheck(tp->recv(ep, &d, &len), "recv");
	uint64_t hdr = check(d, len, cfg.size);
	tp->release(ep);
	return hdr;
}

/* Time-check every (mask+1) iterations, about once per millisecond once
 * the warm-up has shown the rate. */
static uint64_t pick_mask(double per_iter)
{
	uint64_t n = per_iter > 0 ? (uint64_t)(1e-3 / per_iter) : 1;
	uint64_t m = 1;
	while (m * 2 <= n && m < 4096)
		m *= 2;
	return m - 1;
}

/* A: send, wait for the echo, for warmup + duration seconds. */
static struct result lat_a(struct bench_ep *out, struct bench_ep *in)
{
	struct result r = { 0, 0 };
	uint64_t seq = 0, n0 = 0, mask = 0;
	double start = bench_now(), t0 = 0;
	bool measuring = false;
	for (;;) {
		tx(out, seq);
		uint64_t h = rx(in);
		if (h != seq)
			bench_die("echo %llu, expected %llu", (unsigned long long)h, (unsigned long long)seq);
		seq++;
		if (seq & mask)
			continue;
		double now = bench_now();
		if (!measuring && now - start >= cfg.warmup) {
			measuring = true;
			t0 = now;
			n0 = seq;
			mask = pick_mask((now - start) / (double)seq);
		} else if (measuring && now - t0 >= cfg.duration) {
			r.iters = seq - n0;
			r.seconds = now - t0;
			break;
		}
	}
	tx(out, END_SEQ);
	return r;
}

/* B: echo every message until the end marker. */
static void lat_b(struct bench_ep *in, struct bench_ep *out)
{
	for (;;) {
		uint64_t h = rx(in);
		if (h == END_SEQ)
			return;
		tx(out, h);
	}
}

static void producer(struct bench_ep *out, int idx)
{
	uint64_t seq = 0, id = (uint64_t)idx << 56;
	while (!atomic_load_explicit(&ctl->stop, memory_order_relaxed))
		tx(out, id | seq++);
	tx(out, id | END_SEQ);
}

static struct result consumer(struct bench_ep *in)
{
	struct result r = { 0, 0 };
	uint64_t next[MAX_PROCS] = { 0 };
	uint64_t count = 0, n0 = 0, mask = 0;
	int ends = 0;
	double start = bench_now(), t0 = 0;
	int phase = 0;  /* 0 warm-up, 1 measuring, 2 draining */
	for (;;) {
		uint64_t h = rx(in);
		unsigned who = (unsigned)(h >> 56);
		uint64_t seq = h & END_SEQ;
		if (who >= (unsigned)cfg.nprod)
			bench_die("message from unknown producer %u", who);
		if (seq == END_SEQ) {
			if (phase != 2)
				bench_die("producer %u ended early", who);
			if (++ends == cfg.nprod)
				break;
			continue;
		}
		if (seq != next[who])
			bench_die("producer %u: got message %llu, expected %llu (lost or reordered)",
				  who, (unsigned long long)seq, (unsigned long long)next[who]);
		next[who]++;
		count++;
		if (phase == 2 || (count & mask))
			continue;
		double now = bench_now();
		if (phase == 0 && now - start >= cfg.warmup) {
			phase = 1;
			t0 = now;
			n0 = count;
			mask = pick_mask((now - start) / (double)count);
		} else if (phase == 1 && now - t0 >= cfg.duration) {
			r.iters = count - n0;
			r.seconds = now - t0;
			phase = 2;
			atomic_store(&ctl->stop, 1);
		}
	}
	return r;
}

static struct result run_memcpy(void)
{
	struct result r = { 0, 0 };
	/* Cache-line aligned, as the transports' buffers are: glibc's memcpy
	 * can be many times slower between buffers misaligned to each other. */
	size_t room = (cfg.size + 63) / 64 * 64;
	unsigned char *src = aligned_alloc(64, room), *dst = aligned_alloc(64, room);
	if (!src || !dst)
		bench_die("out of memory");
	memset(src, 1, cfg.size);
	memset(dst, 2, cfg.size);
	double start = bench_now(), t0 = 0;
	uint64_t n = 0, n0 = 0, mask = 0;
	bool measuring = false;
	for (;;) {
		memcpy(dst, src, cfg.size);
		/* Keep the copy from being optimised away. */
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		src[n % cfg.size]++;
		n++;
		if (n & mask)
			continue;
		double now = bench_now();
		if (!measuring && now - start >= cfg.warmup) {
			measuring = true;
			t0 = now;
			n0 = n;
			mask = pick_mask((now - start) / (double)n);
		} else if (measuring && now - t0 >= cfg.duration) {
			r.iters = n - n0;
			r.seconds = now - t0;
			break;
		}
	}
	free(src);
	free(dst);
	return r;
}

/* What process proc does; process 0 is A or the consumer. */
static struct result run_proc(int proc)
{
	struct result r = { 0, 0 };
	struct bench_ep *in = NULL, *out = NULL;
	pin(proc);
	if (cfg.test == TEST_LAT) {
		/* Receiving ends first: some transports want a listener before
		 * a sender appears. */
		xcheck(tp->open_rx(&cfg, shared, proc == 0 ? 1 : 0, &in), "open_rx");
		barrier(0);
		xcheck(tp->open_tx(&cfg, shared, proc == 0 ? 0 : 1, 0, &out), "open_tx");
		barrier(1);
		if (proc == 0)
			r = lat_a(out, in);
		else
			lat_b(in, out);
	} else {
		if (proc == 0)
			xcheck(tp->open_rx(&cfg, shared, 0, &in), "open_rx");
		barrier(0);
		if (proc != 0)
			xcheck(tp->open_tx(&cfg, shared, 0, proc - 1, &out), "open_tx");
		barrier(1);
		if (proc == 0)
			r = consumer(in);
		else
			producer(out, proc - 1);
	}
	/* Nobody closes before everybody is done: some transports drop
	 * what is in flight when an end goes away. */
	barrier(2);
	if (out)
		tp->close(out);
	if (in)
		tp->close(in);
	return r;
}

/* The parent undoes setup however it leaves, so that no segment, queue
 * or socket file outlives a failed run. */
static pid_t parent_pid;
static bool torn_down;

static void teardown_once(void)
{
	if (getpid() != parent_pid || torn_down || !tp)
		return;
	torn_down = true;
	tp->teardown(&cfg, shared);
}

static const char *test_names[] = { "lat", "thr", "fanin", "memcpy" };
static const char *wait_names[] = { "spin", "sleep", "default" };

static int lookup(const char *s, const char **names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	bench_die("unknown %s '%s'", what, s);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench --list\n"
		"       bench --transport NAME --test lat|thr|fanin [--wait spin|sleep|default]\n"
		"             [--size BYTES] [--producers N] [--duration S] [--warmup S]\n"
		"             [--cpus auto|none|LIST]\n"
		"       bench --test memcpy [--size BYTES] [--duration S]\n");
	exit(2);
}

static void list(void)
{
	for (int i = 0; bench_transports[i]; i++) {
		const struct transport *t = bench_transports[i];
		printf("%-14s %s%s%s%s%s  %s\n", t->name,
		       t->caps & CAP_LAT ? "lat " : "", t->caps & CAP_THR ? "thr " : "",
		       t->caps & CAP_FANIN ? "fanin " : "", t->caps & CAP_SPIN ? "spin " : "",
		       t->caps & CAP_SLEEP ? "sleep " : "", t->about);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "transport", required_argument, NULL, 't' },
		{ "test", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "producers", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "cpus", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tname = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.test = TEST_LAT;
	cfg.wait = WAIT_DEFAULT;
	cfg.size = 64;
	cfg.nprod = 2;
	cfg.duration = 1.0;
	cfg.warmup = -1;
	parse_cpus("auto");
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': list(); return 0;
		case 't': tname = optarg; break;
		case 'T': cfg.test = lookup(optarg, test_names, 4, "test"); break;
		case 'w': cfg.wait = lookup(optarg, wait_names, 3, "wait"); break;
		case 's': cfg.size = strtoull(optarg, NULL, 0); break;
		case 'p': cfg.nprod = atoi(optarg); break;
		case 'd': cfg.duration = atof(optarg); break;
		case 'W': cfg.warmup = atof(optarg); break;
		case 'c': parse_cpus(optarg); break;
		default: usage();
		}
	}
	if (cfg.warmup < 0)
		cfg.warmup = cfg.duration / 5 < 0.2 ? cfg.duration / 5 : 0.2;
	if (cfg.size < 8 || cfg.duration <= 0 || cfg.nprod < 1 || cfg.nprod >= MAX_PROCS)
		usage();
	if (cfg.test != TEST_FANIN)
		cfg.nprod = 1;
	/* Never hang: a stuck run dies and is reported as failed. */
	alarm((unsigned)(cfg.duration + cfg.warmup) + 60);

	struct result r;
	const char *name = "memcpy";
	if (cfg.test == TEST_MEMCPY) {
		if (ncpus)
			ncpus = 1;
		ctl = NULL;
		cpu_set_t set;
		if (ncpus) {
			CPU_ZERO(&set);
			CPU_SET(cpu_list[0], &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		r = run_memcpy();
		goto report;
	}
	if (!tname)
		usage();
	for (int i = 0; bench_transports[i]; i++)
		if (strcmp(bench_transports[i]->name, tname) == 0)
			tp = bench_transports[i];
	if (!tp) {
		fprintf(stderr, "bench: transport '%s' is not in this program\n", tname);
		return BENCH_SKIP;
	}
	name = tp->name;
	unsigned need = cfg.test == TEST_LAT ? CAP_LAT : cfg.test == TEST_THR ? CAP_THR : CAP_FANIN;
	if (cfg.wait == WAIT_SPIN)
		need |= CAP_SPIN;
	if (cfg.wait == WAIT_SLEEP)
		need |= CAP_SLEEP;
	if ((tp->caps & need) != need) {
		fprintf(stderr, "bench: %s does not do %s/%s\n", tp->name,
			test_names[cfg.test], wait_names[cfg.wait]);
		return BENCH_SKIP;
	}
	if (tp->max_size && cfg.size > tp->max_size) {
		fprintf(stderr, "bench: %s takes at most %zu bytes\n", tp->name, tp->max_size);
		return BENCH_SKIP;
	}
	cfg.nlinks = cfg.test == TEST_LAT ? 2 : 1;
	snprintf(cfg.tag, sizeof(cfg.tag), "b%ld", (long)getpid());
	nprocs = cfg.test == TEST_LAT ? 2 : 1 + cfg.nprod;

	ctl = bench_shared_alloc(sizeof(*ctl));
	if (!ctl)
		bench_die("cannot map control page");
	int rc = tp->setup(&cfg, &shared);
	if (rc == BENCH_SKIP)
		return BENCH_SKIP;
	if (rc)
		bench_die("%s setup failed (%d)", tp->name, rc);
	parent_pid = getpid();
	atexit(teardown_once);
	if (tp->max_size && cfg.size > tp->max_size) {
		fprintf(stderr, "bench: %s takes at most %zu bytes here\n", tp->name, tp->max_size);
		return BENCH_SKIP;
	}

	pid_t kids[MAX_PROCS];
	fflush(stdout);
	for (int p = 1; p < nprocs; p++) {
		kids[p] = fork();
		if (kids[p] < 0)
			bench_die("fork: %s", strerror(errno));
		if (kids[p] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			run_proc(p);
			_exit(0);
		}
	}
	r = run_proc(0);
	int bad = 0;
	for (int p = 1; p < nprocs; p++) {
		int st;
		if (waitpid(kids[p], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	}
	teardown_once();
	if (bad)
		bench_die("a child process failed");

report:;
	double per = r.seconds / (double)r.iters;
	double lat_ns = cfg.test == TEST_LAT ? per / 2 * 1e9 : 0;
	double mps = (double)r.iters / r.seconds;
	printf("RESULT transport=%s test=%s wait=%s size=%zu nprod=%d iters=%llu seconds=%.4f "
	       "lat_ns=%.1f msgs_per_s=%.1f bytes_per_s=%.1f cpus=%s\n",
	       name, test_names[cfg.test], cfg.test == TEST_MEMCPY ? "-" : wait_names[cfg.wait],
	       cfg.size, cfg.nprod, (unsigned long long)r.iters, r.seconds, lat_ns, mps,
	       mps * (double)cfg.size, ncpus ? "pinned" : "free");
	return 0;
}

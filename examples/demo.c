/*
 * demo.c - two processes talking through a libdragonipc channel.
 *
 * The parent starts a child, creates a pool and two channels (requests
 * and replies), hands the child the channels' serialized descriptors
 * through a pipe, and then:
 *   1. streams messages of several sizes to it, each carrying a sequence
 *      number and a checksum the child verifies;
 *   2. plays ping-pong with 64-byte messages, in rounds, and reports the
 *      median round trip (and says when the machine was busy);
 *   3. hands large buffers over by transfer of ownership (no copy).
 * The child reports what it received; the parent prints rates.
 *
 * It also behaves as a program sharing memory with a peer should when
 * the peer fails:
 *   - No wait is unbounded.  Every send, receive and allocation waits at
 *     most SLICE; between slices a side checks that it was not asked to
 *     stop and that its peer still lives, and it gives up on a peer that
 *     makes no progress for STALL (one that was stopped, say).
 *   - Whoever outlives the other removes the pool.  The parent made it
 *     and removes it however it ends: done, interrupted (SIGINT, SIGTERM,
 *     SIGHUP; it stops the child first) or having seen the child die.  A
 *     parent killed with SIGKILL can remove nothing, so the child, seeing
 *     it gone, removes the pool by name.  The child is started before the
 *     pool is made, so that the pool never exists without a process that
 *     would remove it.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <dragonipc.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS INT64_C(1000000)
#define SLICE (100 * MS)             /* the longest single wait */
#define STALL (20000 * MS)           /* a peer silent this long is given up on */

static const size_t sizes[] = { 64, 1000, 16384, 262144 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define STREAM_COUNT 20000
#define ROUNDS 10
#define PINGS 10000                  /* per round */
#define TRANSFERS 2000
#define BIG (4u << 20)

/* Message layout: u64 seq, u64 checksum of the rest, payload. */

/* Why a bounded wait ended other than with the call's own result. */
enum { GO_ON = 0, STOPPED = 1, PEER_GONE = 2, STALLED = 3 };

static volatile sig_atomic_t stop_signal;  /* SIGINT, SIGTERM or SIGHUP seen */
static int is_parent;
static pid_t peer;                         /* the other process */
static int child_reaped, child_status;     /* the parent's view of the child */

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* SIGTERM always; SIGINT and SIGHUP unless they were ignored when the
 * program started (nohup, a background job of a shell), so that it keeps
 * running there as such a program is expected to. */
static void catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;      /* no SA_RESTART: poll() returns early */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigs[i] != SIGTERM && sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Die of the signal that stopped us, as if we had not caught it, so that
 * the shell sees what happened. */
static void exit_for_signal(void)
{
	signal((int)stop_signal, SIG_DFL);
	raise((int)stop_signal);
	exit(128 + (int)stop_signal);
}

static int peer_alive(void)
{
	if (!is_parent)
		return getppid() == peer;   /* an orphan is adopted by another */
	if (child_reaped)
		return 0;
	if (waitpid(peer, &child_status, WNOHANG) == peer) {
		child_reaped = 1;
		return 0;
	}
	return 1;
}

/* A wait of one SLICE expired: go on waiting, or why not. */
static int keep_waiting(int64_t *waited)
{
	if (stop_signal)
		return STOPPED;
	if (!peer_alive())
		return PEER_GONE;
	*waited += SLICE;
	return *waited >= STALL ? STALLED : GO_ON;
}

/* rc = CALL, a libdragonipc call given SLICE as its timeout, repeated
 * while it times out and keep_waiting() agrees. */
#define BOUNDED(rc, CALL) do { \
	int64_t waited_ = 0; \
	for (;;) { \
		if (stop_signal) { \
			(rc) = STOPPED; \
			break; \
		} \
		(rc) = (CALL); \
		if ((rc) != DIPC_ETIMEDOUT || ((rc) = keep_waiting(&waited_)) != GO_ON) \
			break; \
	} \
} while (0)

static void say_why(const char *who, const char *what, int rc)
{
	const char *other = is_parent ? "the child" : "the parent";
	if (rc < 0)
		fprintf(stderr, "demo: %s: %s: %s\n", who, what, dipc_strerror(rc));
	else if (rc == PEER_GONE && is_parent && WIFSIGNALED(child_status))
		fprintf(stderr, "demo: %s: %s (pid %d) was killed by signal %d (%s)\n", who,
			other, (int)peer, WTERMSIG(child_status), strsignal(WTERMSIG(child_status)));
	else if (rc == PEER_GONE && is_parent)
		fprintf(stderr, "demo: %s: %s (pid %d) exited early, with status %d\n", who,
			other, (int)peer, WEXITSTATUS(child_status));
	else if (rc == PEER_GONE)
		fprintf(stderr, "demo: %s: %s (pid %d) died\n", who, other, (int)peer);
	else if (rc == STALLED)
		fprintf(stderr, "demo: %s: %s (pid %d) made no progress for %d s; giving up\n",
			who, other, (int)peer, (int)(STALL / (1000 * MS)));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A quick position-dependent checksum, a word at a time. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = n, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h + w) * 0x9e3779b97f4a7c15ull;
	}
	for (; i < n; i++)
		h = (h + p[i]) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void hex(const unsigned char *b, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *b, int cap)
{
	int n = 0;
	unsigned v;
	while (n < cap && sscanf(s + 2 * n, "%2x", &v) == 1)
		b[n++] = (unsigned char)v;
	return n;
}

/* ---- the child ------------------------------------------------------ */

struct child {
	const char *pool_name;
	dipc_channel *req, *rep;
	dipc_recvh *in;
	dipc_sendh *out;
};

/* Release everything; if the parent died, remove its pool too. */
static void child_leave(struct child *c, const char *what, int rc)
{
	if (rc != STOPPED)
		say_why("child", what, rc);
	if (c->in)
		dipc_recvh_destroy(c->in);
	if (c->out)
		dipc_sendh_destroy(c->out);
	if (c->req)
		dipc_channel_detach(c->req);
	if (c->rep)
		dipc_channel_detach(c->rep);
	if (rc == PEER_GONE) {
		dipc_pool *pool;
		int r = dipc_pool_attach_name(c->pool_name, &pool);
		if (r == 0)
			r = dipc_pool_destroy(pool);
		if (r == 0)
			fprintf(stderr, "demo: child: removed pool \"%s\"\n", c->pool_name);
		else if (r != DIPC_ENOENT)
			fprintf(stderr, "demo: child: cannot remove pool \"%s\" (%s); "
				"\"dipc gc\" will\n", c->pool_name, dipc_strerror(r));
	}
	if (rc == STOPPED)
		exit_for_signal();
	exit(1);
}

/* Read the line of descriptors the parent writes once the pool exists. */
static int read_descriptors(int fd, char *line, size_t cap)
{
	size_t got = 0;
	int64_t waited = 0;
	while (got < cap - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)(SLICE / MS));
		if (r < 0 && errno != EINTR)
			return DIPC_ESYS;
		if (r <= 0) {
			if ((r = keep_waiting(&waited)) != GO_ON)
				return r;
			continue;
		}
		ssize_t n = read(fd, line + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		/* The pipe closed before the line: the parent died (or gave
		 * up) after it made the pool, maybe; whatever is there under
		 * the name is left for us to remove. */
		if (n == 0)
			return PEER_GONE;
		if (n < 0)
			return DIPC_ESYS;
		got += (size_t)n;
		line[got] = '\0';
		if (strchr(line, '\n'))
			return GO_ON;
	}
	return DIPC_EINVAL;
}

static int child(const char *pool_name, const char *parent, const char *fd_arg)
{
	struct child c = { .pool_name = pool_name };
	char line[4 * DIPC_SERIAL_MAX + 8];
	unsigned char d[DIPC_SERIAL_MAX];
	int rc;

	peer = (pid_t)atol(parent);
	catch_signals();
	if ((rc = read_descriptors(atoi(fd_arg), line, sizeof(line))) != GO_ON)
		child_leave(&c, "read the descriptors", rc);
	/* "REQUESTS REPLIES\n", each in hex */
	char *req_hex = line, *rep_hex = strchr(line, ' '), *end = strchr(line, '\n');
	if (!rep_hex || end < rep_hex)
		child_leave(&c, "read the descriptors", DIPC_EINVAL);
	*rep_hex++ = '\0';
	*end = '\0';

	/* With a NULL pool, attaching a channel attaches its pool too. */
	int n = unhex(req_hex, d, sizeof(d));
	if ((rc = dipc_channel_attach(d, (size_t)n, NULL, &c.req)))
		child_leave(&c, "attach requests", rc);
	n = unhex(rep_hex, d, sizeof(d));
	if ((rc = dipc_channel_attach(d, (size_t)n, NULL, &c.rep)))
		child_leave(&c, "attach replies", rc);
	if ((rc = dipc_recvh_create(c.req, NULL, &c.in)) || (rc = dipc_recvh_open(c.in)) ||
	    (rc = dipc_sendh_create(c.rep, NULL, &c.out)) || (rc = dipc_sendh_open(c.out)))
		child_leave(&c, "handles", rc);

	unsigned char *buf = malloc(BIG);
	if (!buf)
		child_leave(&c, "buffer", DIPC_ENOMEM);
	size_t len;
	uint64_t bad = 0, bytes = 0;
	for (uint64_t i = 0; i < STREAM_COUNT * NSIZES; i++) {
		BOUNDED(rc, dipc_recvh_recv_bytes(c.in, buf, BIG, &len, SLICE));
		if (rc)
			child_leave(&c, "receive", rc);
		uint64_t seq, sum;
		memcpy(&seq, buf, 8);
		memcpy(&sum, buf + 8, 8);
		if (len < 16 || seq != i || sum != checksum(buf + 16, len - 16))
			bad++;
		bytes += len;
	}
	printf("  child %d: received %d messages, %.1f MiB, %" PRIu64 " out of order or corrupt\n",
	       (int)getpid(), STREAM_COUNT * (int)NSIZES, (double)bytes / (1 << 20), bad);
	fflush(stdout);
	BOUNDED(rc, dipc_sendh_send_bytes(c.out, &bad, sizeof(bad), SLICE));
	if (rc)
		child_leave(&c, "send the report", rc);

	/* Ping-pong: echo each message back. */
	for (int i = 0; i < ROUNDS * PINGS; i++) {
		BOUNDED(rc, dipc_recvh_recv_bytes(c.in, buf, BIG, &len, SLICE));
		if (rc == 0)
			BOUNDED(rc, dipc_sendh_send_bytes(c.out, buf, len, SLICE));
		if (rc)
			child_leave(&c, "ping-pong", rc);
	}

	/* Transfers: receive the allocation itself, check it, free it. */
	uint64_t tbad = 0;
	for (int i = 0; i < TRANSFERS; i++) {
		dipc_msg *m;
		void *p;
		if ((rc = dipc_msg_create_empty(&m)))
			child_leave(&c, "message", rc);
		BOUNDED(rc, dipc_recvh_recv(c.in, m, SLICE));
		if (rc) {
			dipc_msg_destroy(m, 0);
			child_leave(&c, "receive a transfer", rc);
		}
		dipc_msg_get(m, &p, &len);
		uint64_t seq;
		memcpy(&seq, p, 8);
		if (len != BIG || seq != (uint64_t)i)
			tbad++;
		dipc_msg_destroy(m, 1);
	}
	BOUNDED(rc, dipc_sendh_send_bytes(c.out, &tbad, sizeof(tbad), SLICE));
	if (rc)
		child_leave(&c, "send the report", rc);
	free(buf);
	dipc_recvh_destroy(c.in);
	dipc_sendh_destroy(c.out);
	dipc_channel_detach(c.req);
	dipc_channel_detach(c.rep);
	return 0;
}

/* ---- the parent ----------------------------------------------------- */

struct parent {
	char pool_name[64];
	dipc_pool *pool;
	dipc_channel *req, *rep;
	dipc_sendh *out;
	dipc_recvh *in;
};

/* Wait for the child to exit by itself, at most `limit`; 1 if it did. */
static int reap_child(int64_t limit)
{
	for (int64_t waited = 0; !child_reaped && waited < limit; waited += 10 * MS) {
		if (!peer_alive())
			break;
		struct timespec ts = { 0, 10 * MS };
		nanosleep(&ts, NULL);
	}
	return child_reaped;
}

/* Stop the child if it still runs, then remove the channels and the pool. */
static void parent_cleanup(struct parent *p)
{
	if (!child_reaped) {
		kill(peer, SIGTERM);
		if (!reap_child(5000 * MS)) {
			kill(peer, SIGKILL);
			waitpid(peer, &child_status, 0);
			child_reaped = 1;
		}
	}
	if (p->out)
		dipc_sendh_destroy(p->out);
	if (p->in)
		dipc_recvh_destroy(p->in);
	if (p->req)
		dipc_channel_destroy(p->req);
	if (p->rep)
		dipc_channel_destroy(p->rep);
	if (p->pool)
		dipc_pool_destroy(p->pool);
	p->out = NULL;
	p->in = NULL;
	p->req = p->rep = NULL;
	p->pool = NULL;
}

static void parent_leave(struct parent *p, const char *what, int rc)
{
	if (rc == STOPPED)
		fprintf(stderr, "demo: interrupted (%s)\n", strsignal((int)stop_signal));
	else
		say_why("parent", what, rc);
	int had_pool = p->pool != NULL;
	parent_cleanup(p);
	if (had_pool)
		fprintf(stderr, "demo: removed pool \"%s\"\n", p->pool_name);
	if (rc == STOPPED)
		exit_for_signal();
	exit(1);
}

/* How many CPUs this process may run on. */
static int usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The 1-minute load average, or -1 where there is none. */
static double load_average(void)
{
	double load = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

/* How often the demo's two processes were preempted so far (involuntary
 * context switches): it climbs when other work competes for the CPUs. */
static long preempted(void)
{
	struct rusage ru;
	long n = 0, v;
	char path[64], line[128];
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		n += ru.ru_nivcsw;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)peer);
	FILE *f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
				n += v;
		fclose(f);
	}
	return n;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--child") == 0)
		return child(argv[2], argv[3], argv[4]);

	struct parent p = { .pool = NULL };
	double load = load_average();
	int ncpu = usable_cpus();
	int rc, fds[2];

	is_parent = 1;
	catch_signals();
	snprintf(p.pool_name, sizeof(p.pool_name), "demo-%d", (int)getpid());

	/* The child first: from now on someone will remove the pool. */
	char fd_arg[16], ppid_arg[16];
	if (pipe(fds) < 0) {
		perror("demo: pipe");
		return 1;
	}
	snprintf(fd_arg, sizeof(fd_arg), "%d", fds[0]);
	snprintf(ppid_arg, sizeof(ppid_arg), "%d", (int)getpid());
	fflush(stdout);
	peer = fork();
	if (peer < 0) {
		perror("demo: fork");
		return 1;
	}
	if (peer == 0) {
		close(fds[1]);
		execl("/proc/self/exe", argv[0], "--child", p.pool_name, ppid_arg, fd_arg,
		      (char *)NULL);
		perror("demo: exec");
		_exit(127);
	}
	close(fds[0]);

	if ((rc = dipc_pool_create(p.pool_name, 64u << 20, NULL, &p.pool)))
		parent_leave(&p, "create the pool", rc);
	if ((rc = dipc_channel_create(p.pool, 1, NULL, &p.req)) ||
	    (rc = dipc_channel_create(p.pool, 2, NULL, &p.rep)))
		parent_leave(&p, "create the channels", rc);

	/* The descriptors are plain bytes; here they travel as hex on a pipe. */
	unsigned char d[DIPC_SERIAL_MAX];
	char req_hex[2 * DIPC_SERIAL_MAX + 1], rep_hex[2 * DIPC_SERIAL_MAX + 1];
	char line[sizeof(req_hex) + sizeof(rep_hex) + 2];
	int n = dipc_channel_serialize(p.req, d, sizeof(d));
	if (n < 0)
		parent_leave(&p, "serialize", n);
	hex(d, n, req_hex);
	if ((n = dipc_channel_serialize(p.rep, d, sizeof(d))) < 0)
		parent_leave(&p, "serialize", n);
	hex(d, n, rep_hex);
	n = snprintf(line, sizeof(line), "%s %s\n", req_hex, rep_hex);
	signal(SIGPIPE, SIG_IGN);    /* a dead child: write fails with EPIPE */
	if (write(fds[1], line, (size_t)n) != n)
		parent_leave(&p, "hand over the descriptors", peer_alive() ? DIPC_ESYS : PEER_GONE);
	close(fds[1]);

	printf("libdragonipc %s demo: pool \"%s\" (64 MiB), channels 1 and 2 "
	       "(capacity %d, block %d B)\n", dipc_version(), p.pool_name,
	       dipc_channel_capacity(p.req), dipc_channel_block_size(p.req));
	fflush(stdout);

	if ((rc = dipc_sendh_create(p.req, NULL, &p.out)) || (rc = dipc_sendh_open(p.out)) ||
	    (rc = dipc_recvh_create(p.rep, NULL, &p.in)) || (rc = dipc_recvh_open(p.in)))
		parent_leave(&p, "handles", rc);

	unsigned char *buf = malloc(BIG);
	if (!buf)
		parent_leave(&p, "buffer", DIPC_ENOMEM);
	uint64_t seq = 0;
	printf("1. streaming %d messages of each size to process %d, checksummed:\n",
	       STREAM_COUNT, (int)peer);
	for (size_t k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];
		double t0 = now();
		for (int i = 0; i < STREAM_COUNT; i++, seq++) {
			memset(buf + 16, (int)(seq & 0xff), len - 16);
			uint64_t sum = checksum(buf + 16, len - 16);
			memcpy(buf, &seq, 8);
			memcpy(buf + 8, &sum, 8);
			BOUNDED(rc, dipc_sendh_send_bytes(p.out, buf, len, SLICE));
			if (rc)
				parent_leave(&p, "send", rc);
		}
		double el = now() - t0;
		printf("   %7zu B: %9.0f msg/s  %8.1f MiB/s  (%s)\n", len, STREAM_COUNT / el,
		       (double)len * STREAM_COUNT / el / (1 << 20),
		       len <= (size_t)dipc_channel_block_size(p.req) ?
		       "copied through the channel's blocks" : "copied through pool allocations");
		fflush(stdout);
	}
	size_t len;
	uint64_t bad;
	BOUNDED(rc, dipc_recvh_recv_bytes(p.in, &bad, sizeof(bad), &len, SLICE));
	if (rc)
		parent_leave(&p, "receive the report", rc);

	printf("2. ping-pong of 64-byte messages, %d rounds of %d:\n", ROUNDS, PINGS);
	fflush(stdout);
	double round_us[ROUNDS];
	long preempted0 = preempted();
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now();
		for (int i = 0; i < PINGS; i++) {
			memcpy(buf, &i, sizeof(i));
			BOUNDED(rc, dipc_sendh_send_bytes(p.out, buf, 64, SLICE));
			if (rc == 0)
				BOUNDED(rc, dipc_recvh_recv_bytes(p.in, buf, BIG, &len, SLICE));
			if (rc)
				parent_leave(&p, "ping-pong", rc);
			int echo;
			memcpy(&echo, buf, sizeof(echo));
			if (echo != i || len != 64)
				bad++;
		}
		round_us[r] = (now() - t0) / PINGS * 1e6;
	}
	long npreempt = preempted() - preempted0;
	qsort(round_us, ROUNDS, sizeof(round_us[0]), by_value);
	double median = (round_us[(ROUNDS - 1) / 2] + round_us[ROUNDS / 2]) / 2;
	printf("   round trip %.2f us, one way %.2f us (median of the rounds; "
	       "fastest %.2f us, slowest %.2f us)\n",
	       median, median / 2, round_us[0], round_us[ROUNDS - 1]);
	/* Two processes that wait for each other need two CPUs to themselves;
	 * say so when they did not have them, since then a round trip costs
	 * a trip through the scheduler, a hundred times more. */
	if (ncpu < 2)
		printf("   note: one CPU only, so every message waits for the other process "
		       "to be scheduled;\n   with two or more CPUs a round trip takes far less.\n");
	else if (npreempt > 5 * ROUNDS)
		printf("   note: the machine was busy: other work preempted the two processes %ld "
		       "times\n   during the ping-pong (load average %.2f on %d CPUs when the demo "
		       "started);\n   an idle machine gives better figures.\n", npreempt, load, ncpu);
	else if (round_us[ROUNDS - 1] > 3 * median)
		printf("   note: some rounds were much slower than the median: other work ran "
		       "meanwhile.\n");

	printf("3. handing over %d allocations of 4 MiB by transfer of ownership:\n", TRANSFERS);
	fflush(stdout);
	double t0 = now();
	for (int i = 0; i < TRANSFERS; i++) {
		dipc_msg *m;
		dipc_mem *mem;
		void *ptr;
		/* Wait for room: the child frees what it has received. */
		BOUNDED(rc, dipc_pool_alloc_wait(p.pool, BIG, SLICE, &mem));
		if (rc)
			parent_leave(&p, "allocate", rc);
		if ((rc = dipc_msg_create_from_mem(mem, &m))) {
			dipc_mem_free(mem);
			parent_leave(&p, "message", rc);
		}
		dipc_msg_get(m, &ptr, NULL);
		uint64_t s = (uint64_t)i;
		memcpy(ptr, &s, 8);
		BOUNDED(rc, dipc_sendh_send(p.out, m, NULL, DIPC_TRANSFER_ON_SEND, SLICE));
		dipc_msg_destroy(m, rc != 0);
		if (rc)
			parent_leave(&p, "send a transfer", rc);
	}
	uint64_t tbad;
	BOUNDED(rc, dipc_recvh_recv_bytes(p.in, &tbad, sizeof(tbad), &len, SLICE));
	if (rc)
		parent_leave(&p, "receive the report", rc);
	double el = now() - t0;
	printf("   %.0f transfers/s (allocate, send, receive, free; the 4 MiB are never copied)\n",
	       TRANSFERS / el);

	if (!reap_child(STALL))
		parent_leave(&p, "wait for the child", STALLED);
	struct dipc_pool_stats ps;
	dipc_pool_stats(p.pool, &ps);
	parent_cleanup(&p);
	free(buf);
	int okall = bad == 0 && tbad == 0 && WIFEXITED(child_status) &&
		    WEXITSTATUS(child_status) == 0;
	printf("%s: every message arrived intact and in order; pool had %" PRIu64
	       " live allocations at the end (the two channels).\n",
	       okall ? "OK" : "FAILED", ps.nallocs);
	printf("Removed pool \"%s\"; nothing is left in the system.\n", p.pool_name);
	return okall ? 0 : 1;
}

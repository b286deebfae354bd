/*
 * coretest.h - what the tests of pools, channels and messages share.
 *
 * Every pool a test makes goes through tc_pool_new() so that tc_finish()
 * can destroy what a failing test left behind and then check that no
 * segment of this run is left; every child goes through tc_spawn() so
 * that none outlives the test.  A watchdog and a fatal-signal handler do
 * the same clean-up when a test hangs or crashes (POSIX only), so a
 * broken library cannot leave segments in /dev/shm or processes behind.
 */
#ifndef DIPC_T_CORETEST_H
#define DIPC_T_CORETEST_H

#include <dragonipc.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "proc.h"

#ifdef _WIN32
# include <windows.h>
#else
# include <dirent.h>
# include <pthread.h>
# include <signal.h>
# include <sys/mman.h>
# include <time.h>
# include <unistd.h>
#endif

#define TC_MAX_POOLS 64
#define TC_MAX_KIDS  64
#define TC_HEX_MAX   (2 * DIPC_SERIAL_MAX + 1)
#define TC_MS        INT64_C(1000000)
#define TC_SEC       INT64_C(1000000000)

struct tc_state {
	long me;                              /* the test process */
	int npools;
	char names[TC_MAX_POOLS][64];         /* every name this run created */
	char paths[TC_MAX_POOLS][80];         /* their /dev/shm names, for the signal path */
	dipc_pool *live[TC_MAX_POOLS];        /* not yet destroyed */
	t_pid kids[TC_MAX_KIDS];
	int nkids;
};
static struct tc_state tc_;

/* ---- time ------------------------------------------------------------- */

static inline int64_t tc_now_ns(void)
{
#ifdef _WIN32
	LARGE_INTEGER f, c;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (int64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * TC_SEC + ts.tv_nsec;
#endif
}

static inline void tc_sleep_ms(int ms)
{
#ifdef _WIN32
	Sleep((DWORD)ms);
#else
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
#endif
}

static inline long tc_getpid(void)
{
#ifdef _WIN32
	return (long)GetCurrentProcessId();
#else
	return (long)getpid();
#endif
}

/* A bounded wait took at least what was asked and not absurdly more
 * (no tight bound: the machine may be loaded). */
static inline void tc_timed_ok(int64_t elapsed, int64_t asked, const char *what)
{
	int good = elapsed >= asked && elapsed < 10 * asked + 2 * TC_SEC;
	ok(good, "%s: waited %.1f ms for %.1f ms asked", what,
	   (double)elapsed / 1e6, (double)asked / 1e6);
}

/* Poll until *flag >= want, at most seconds.  Returns 1 if it got there. */
static inline int tc_wait_flag(_Atomic uint64_t *flag, uint64_t want, double seconds)
{
	int64_t end = tc_now_ns() + (int64_t)(seconds * 1e9);
	while (atomic_load(flag) < want) {
		if (tc_now_ns() > end)
			return 0;
		tc_sleep_ms(1);
	}
	return 1;
}

/* ---- numbers ---------------------------------------------------------- */

static inline uint64_t tc_rand(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t tc_sum(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Fill buf with bytes that depend on seed and position. */
static inline void tc_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)((seed * 131u + i * 7u + (i >> 8)) ^ (seed >> 8));
}

static inline int tc_check(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != (unsigned char)((seed * 131u + i * 7u + (i >> 8)) ^ (seed >> 8)))
			return 0;
	return 1;
}

/* ---- test messages -------------------------------------------------------
 * A header naming the producer and its sequence number, then bytes that
 * depend on both, with a checksum over them.  Stop messages end a
 * consumer's loop. */
#define TC_MSG_DATA 0x4154414du
#define TC_MSG_STOP 0x504f5453u

struct tc_msghdr {
	uint32_t magic;
	uint32_t producer;
	uint64_t seq;
	uint64_t len;   /* the whole message, header included */
	uint64_t sum;   /* of the bytes after the header */
};

static inline void tc_msg_make(void *buf, uint32_t producer, uint64_t seq, size_t len)
{
	struct tc_msghdr h = { TC_MSG_DATA, producer, seq, len, 0 };
	unsigned char *b = buf;
	size_t n = len - sizeof(h);
	tc_fill(b + sizeof(h), n, ((uint64_t)producer << 40) ^ seq);
	h.sum = tc_sum(b + sizeof(h), n);
	memcpy(b, &h, sizeof(h));
}

static inline void tc_msg_stop(void *buf)
{
	struct tc_msghdr h = { TC_MSG_STOP, 0, 0, sizeof(h), 0 };
	memcpy(buf, &h, sizeof(h));
}

/* 0 for a good data message, 1 for a stop, -1 for anything broken. */
static inline int tc_msg_read(const void *buf, size_t len, uint32_t *producer, uint64_t *seq)
{
	struct tc_msghdr h;
	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	if (h.magic == TC_MSG_STOP && len == sizeof(h))
		return 1;
	if (h.magic != TC_MSG_DATA || h.len != len)
		return -1;
	const unsigned char *b = buf;
	if (tc_sum(b + sizeof(h), len - sizeof(h)) != h.sum ||
	    !tc_check(b + sizeof(h), len - sizeof(h), ((uint64_t)h.producer << 40) ^ h.seq))
		return -1;
	*producer = h.producer;
	*seq = h.seq;
	return 0;
}

/* ---- pools ------------------------------------------------------------ */

static inline const char *tc_pool_new(const char *base, size_t size, dipc_pool **pool)
{
	const char *name = t_name(base);
	*pool = NULL;
	if (tc_.npools >= TC_MAX_POOLS)
		bail_out("too many pools in one test");
	int rc = dipc_pool_create(name, size, NULL, pool);
	if (rc) {
		diag("dipc_pool_create(%s): %s", name, dipc_strerror(rc));
		*pool = NULL;
		return NULL;
	}
	int i = tc_.npools++;
	snprintf(tc_.names[i], sizeof(tc_.names[i]), "%s", name);
	snprintf(tc_.paths[i], sizeof(tc_.paths[i]), "/dipc.p.%s", name);
	tc_.live[i] = *pool;
	return tc_.names[i];
}

/* Record a name made by dipc_pool_create directly, to check it is gone
 * at the end. */
static inline void tc_pool_track(const char *name, dipc_pool *pool)
{
	if (tc_.npools >= TC_MAX_POOLS)
		bail_out("too many pools in one test");
	int i = tc_.npools++;
	snprintf(tc_.names[i], sizeof(tc_.names[i]), "%s", name);
	snprintf(tc_.paths[i], sizeof(tc_.paths[i]), "/dipc.p.%s", name);
	tc_.live[i] = pool;
}

static inline int tc_pool_del(dipc_pool *pool)
{
	for (int i = 0; i < tc_.npools; i++)
		if (tc_.live[i] == pool && pool)
			tc_.live[i] = NULL;
	return dipc_pool_destroy(pool);
}

/* ---- children --------------------------------------------------------- */

static inline t_pid tc_spawn(const char *role, const char *arg)
{
	t_pid p = t_spawn(role, arg);
	if (p && tc_.nkids < TC_MAX_KIDS)
		tc_.kids[tc_.nkids++] = p;
	return p;
}

static inline void tc_forget(t_pid p)
{
	for (int i = 0; i < tc_.nkids; i++)
		if (tc_.kids[i] == p) {
			tc_.kids[i] = tc_.kids[--tc_.nkids];
			return;
		}
}

/* Wait for a child at most seconds; one that does not end in time is
 * killed, and -1 returned. */
static inline int tc_reap(t_pid p, double seconds)
{
	if (!p)
		return -1;
	int rc = t_wait(p, seconds);
	if (rc == -1) {
		diag("child did not end within %.1f s: killing it", seconds);
		t_kill(p);
	}
	tc_forget(p);
	return rc;
}

static inline int tc_kill(t_pid p)
{
	if (!p)
		return -1;
	int rc = t_kill(p);
	tc_forget(p);
	return rc;
}

/* ---- descriptors in arguments ------------------------------------------ */

static inline void tc_hex_pool(const dipc_pool *p, char *out)
{
	unsigned char b[DIPC_SERIAL_MAX];
	int n = dipc_pool_serialize(p, b, sizeof(b));
	if (n < 0)
		bail_out("dipc_pool_serialize failed");
	t_hex(b, (size_t)n, out);
}

static inline void tc_hex_chan(const dipc_channel *ch, char *out)
{
	unsigned char b[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(ch, b, sizeof(b));
	if (n < 0)
		bail_out("dipc_channel_serialize failed");
	t_hex(b, (size_t)n, out);
}

static inline void tc_hex_mem(const dipc_mem *m, char *out)
{
	unsigned char b[DIPC_SERIAL_MAX];
	int n = dipc_mem_serialize(m, b, sizeof(b));
	if (n < 0)
		bail_out("dipc_mem_serialize failed");
	t_hex(b, (size_t)n, out);
}

/* Take the next ':'-separated field of *p into out. */
static inline const char *tc_field(const char **p, char *out, size_t cap)
{
	size_t n = 0;
	const char *s = *p;
	while (*s && *s != ':' && n + 1 < cap)
		out[n++] = *s++;
	out[n] = 0;
	if (*s == ':')
		s++;
	*p = s;
	return out;
}

static inline long long tc_field_num(const char **p)
{
	char b[32];
	return strtoll(tc_field(p, b, sizeof(b)), NULL, 10);
}

static inline int tc_attach_pool_hex(const char *hex, dipc_pool **pool)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_pool_attach(b, n, pool);
}

static inline int tc_attach_chan_hex(const char *hex, dipc_pool *pool, dipc_channel **ch)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_channel_attach(b, n, pool, ch);
}

static inline int tc_attach_mem_hex(dipc_pool *pool, const char *hex, dipc_mem **m)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_mem_attach(pool, b, n, m);
}

/* The pointer behind a memory handle (NULL on error). */
static inline void *tc_ptr(const dipc_mem *m)
{
	void *p = NULL;
	if (dipc_mem_get(m, &p, NULL))
		return NULL;
	return p;
}

/* ---- threads ------------------------------------------------------------ */

#ifdef _WIN32
typedef HANDLE tc_thread;
struct tc_tramp { void *(*fn)(void *); void *arg; };
static DWORD WINAPI tc_tramp_(LPVOID a)
{
	struct tc_tramp t = *(struct tc_tramp *)a;
	free(a);
	t.fn(t.arg);
	return 0;
}
static inline int tc_thread_start(tc_thread *t, void *(*fn)(void *), void *arg)
{
	struct tc_tramp *tr = malloc(sizeof(*tr));
	if (!tr)
		return -1;
	tr->fn = fn;
	tr->arg = arg;
	*t = CreateThread(NULL, 0, tc_tramp_, tr, 0, NULL);
	return *t ? 0 : -1;
}
static inline void tc_thread_join(tc_thread t)
{
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
}
#else
typedef pthread_t tc_thread;
static inline int tc_thread_start(tc_thread *t, void *(*fn)(void *), void *arg)
{
	return pthread_create(t, NULL, fn, arg);
}
static inline void tc_thread_join(tc_thread t)
{
	pthread_join(t, NULL);
}
#endif

/* ---- clean-up ----------------------------------------------------------- */

#ifndef _WIN32
/* Async-signal-safe: unlink this run's segments, kill its children. */
static inline void tc_emergency_(void)
{
	if ((long)getpid() != tc_.me)
		return;
	for (int i = 0; i < tc_.nkids; i++)
		kill(tc_.kids[i], SIGKILL);
	for (int i = 0; i < tc_.npools; i++)
		shm_unlink(tc_.paths[i]);
}

static void tc_on_fatal_(int sig)
{
	tc_emergency_();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tc_on_alarm_(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test ran too long\n";
	(void)sig;
	if ((long)getpid() == tc_.me) {
		ssize_t w = write(1, msg, sizeof(msg) - 1);
		(void)w;
	}
	tc_emergency_();
	_exit(99);
}
#endif

/* Call once in the test process, after T_CHILD_DISPATCH.  watchdog_s
 * bounds the whole run. */
static inline void tc_init(unsigned watchdog_s)
{
	tc_.me = tc_getpid();
#ifndef _WIN32
	signal(SIGSEGV, tc_on_fatal_);
	signal(SIGBUS, tc_on_fatal_);
	signal(SIGABRT, tc_on_fatal_);
	signal(SIGFPE, tc_on_fatal_);
	signal(SIGILL, tc_on_fatal_);
	signal(SIGTERM, tc_on_fatal_);
	signal(SIGINT, tc_on_fatal_);
	signal(SIGALRM, tc_on_alarm_);
	alarm(watchdog_s);
#else
	(void)watchdog_s;
#endif
}

/* End of a test program: kill stray children, destroy what is still
 * live (a failure), check that no segment of this run is left. */
static inline int tc_finish(void)
{
	int stray = tc_.nkids, left = 0;
	while (tc_.nkids)
		tc_kill(tc_.kids[0]);
	for (int i = 0; i < tc_.npools; i++) {
		if (tc_.live[i]) {
			left++;
			dipc_pool_destroy(tc_.live[i]);
			tc_.live[i] = NULL;
		}
	}
	ok(stray == 0, "no child process left running (%d)", stray);
	ok(left == 0, "every pool was destroyed by its test (%d left)", left);
	int gone = 0;
	for (int i = 0; i < tc_.npools; i++) {
		dipc_pool *p = NULL;
		int rc = dipc_pool_attach_name(tc_.names[i], &p);
		if (rc == DIPC_ENOENT) {
			gone++;
		} else {
			diag("pool %s still attachable: %s", tc_.names[i], dipc_strerror(rc));
			if (rc == 0)
				dipc_pool_destroy(p);
		}
	}
	ok(gone == tc_.npools, "every pool name of this run is gone (%d of %d)",
	   gone, tc_.npools);
#ifndef _WIN32
	int found = 0;
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "-%ld", tc_.me);
	size_t sl = strlen(suffix);
	DIR *d = opendir("/dev/shm");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (strncmp(e->d_name, "dipc.p.t-", 9) == 0 && n > sl &&
			    strcmp(e->d_name + n - sl, suffix) == 0) {
				diag("left behind: /dev/shm/%s", e->d_name);
				found++;
			}
		}
		closedir(d);
	}
	ok(found == 0, "no /dev/shm/dipc.p.* of this run left behind");
	alarm(0);
#endif
	return done_testing();
}

#endif

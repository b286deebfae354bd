/*
 * platform.c - the contract of lib/platform.h, on whichever platform the
 * library was built for: named segments, waiting and waking on a shared
 * word across processes, time, process liveness, host identity, threads
 * and locks.  The platform layer is internal, so this program is linked
 * with its sources rather than with the library.
 */
#include "internal.h"
#include "proc.h"
#include "tap.h"

#include <stdio.h>

/* Shared between the test and its children. */
struct ctl {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t pid;
	_Atomic uint32_t timeouts;
	_Atomic uint32_t ping;
	_Atomic uint32_t bell;
	_Atomic uint32_t done;
	_Atomic uint32_t won, lost, other;
	uint64_t host;
	struct dipc_plock lock;
};

#define PINGS 2000
#define SLEEPERS 3
#define RACERS 4
#define RING 4          /* processes passing a token round */
#define LAPS 1000
#define LONG_NS (10 * 1000000000ll)   /* a lost wake-up shows as this */

static char seg_name[96];

static const char *mkname(const char *what)
{
	static char buf[4][96];
	static int i;
	char *b = buf[i++ & 3];
	snprintf(b, 96, "dipc.t.%s", t_name(what));
	return b;
}

/* Wait until *w == want, counting the waits that ran out (each one a
 * wake-up that never came); gives up after `rounds` of them. */
static int wait_for(const struct dipc_os_shm *seg, _Atomic uint32_t *w,
		    uint32_t want, _Atomic uint32_t *timeouts, int rounds)
{
	for (;;) {
		uint32_t v = atomic_load(w);
		if (v == want)
			return 0;
		if (dipc_os_wait(seg, w, v, LONG_NS) == DIPC_ETIMEDOUT &&
		    atomic_load(w) == v) {
			atomic_fetch_add(timeouts, 1);
			if (--rounds <= 0)
				return -1;
		}
	}
}

/* ---- children --------------------------------------------------------- */

int t_child(const char *role, const char *arg)
{
	/* arg: the control segment's name, optionally ":" and a number. */
	char segname[96];
	snprintf(segname, sizeof(segname), "%s", arg);
	char *colon = strchr(segname, ':');
	uint32_t num = 0, which = 0;
	if (colon) {
		*colon = 0;
		num = (uint32_t)atoi(colon + 1);
		char *more = strchr(colon + 1, ':');
		if (more)
			which = (uint32_t)atoi(more + 1);
	}
	struct dipc_os_shm seg;
	if (dipc_os_shm_open(segname, &seg) != 0)
		return 3;
	struct ctl *c = seg.addr;
	int rc = 0;

	if (strcmp(role, "info") == 0) {
		c->host = dipc_os_host_id();
		atomic_store(&c->pid, dipc_os_pid());
		atomic_store(&c->ready, 1);
		dipc_os_wake(&seg, &c->ready);
		rc = wait_for(&seg, &c->go, 1, &c->timeouts, 3) ? 4 : 0;
	} else if (strcmp(role, "pong") == 0) {
		for (uint32_t i = 0; i < PINGS && rc == 0; i++) {
			if (wait_for(&seg, &c->ping, 2 * i + 1, &c->timeouts, 1)) {
				rc = 5;
				break;
			}
			atomic_store(&c->ping, 2 * i + 2);
			dipc_os_wake(&seg, &c->ping);
		}
	} else if (strcmp(role, "sleeper") == 0) {
		atomic_fetch_add(&c->ready, 1);
		dipc_os_wake(&seg, &c->ready);
		rc = wait_for(&seg, &c->bell, 1, &c->timeouts, 1) ? 6 : 0;
		atomic_fetch_add(&c->done, 1);
	} else if (strcmp(role, "locker") == 0) {
		dipc_plock_acquire(&seg, &c->lock, UINT64_MAX, false);
		atomic_store(&c->ready, 1);
		dipc_os_wake(&seg, &c->ready);
		/* Hold the lock until killed. */
		for (;;)
			dipc_os_wait(&seg, &c->go, 0, DIPC_WAIT_FOREVER);
	} else if (strcmp(role, "racer") == 0) {
		char target[128];
		snprintf(target, sizeof(target), "%s.race", segname);
		wait_for(&seg, &c->bell, 1, &c->timeouts, 3);
		struct dipc_os_shm mine;
		int r = dipc_os_shm_create(target, 4096, 0600, &mine);
		atomic_fetch_add(r == 0 ? &c->won : r == DIPC_EEXIST ? &c->lost : &c->other, 1);
		atomic_fetch_add(&c->done, 1);
		dipc_os_wake(&seg, &c->done);
		/* The winner keeps it until all have tried: on Windows a
		 * closed segment would be gone and could be made again. */
		wait_for(&seg, &c->go, 1, &c->timeouts, 3);
		if (r == 0)
			dipc_os_shm_close(&mine);
	} else if (strcmp(role, "ring") == 0) {
		/* Everyone sleeps on the one word; each wake must reach the
		 * one whose turn it is, although the waker goes straight
		 * back to sleep on the same word. */
		_Atomic uint32_t *token = which ? &c->bell : &c->ping;
		for (uint32_t lap = 0; lap < LAPS; lap++) {
			uint32_t turn = lap * RING + num;
			if (wait_for(&seg, token, turn, &c->timeouts, 1)) {
				rc = 7;
				break;
			}
			atomic_store(token, turn + 1);
			dipc_os_wake(&seg, token);
		}
	} else if (strcmp(role, "exit") == 0) {
		atomic_store(&c->pid, dipc_os_pid());
		rc = 0;
	} else {
		rc = 2;
	}
	dipc_os_shm_close(&seg);
	return rc;
}

/* ---- segments --------------------------------------------------------- */

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_segments(void)
{
	const char *name = mkname("seg");
	struct dipc_os_shm a, b, c;

	is_int(dipc_os_shm_create(name, 10000, 0600, &a), 0, "create a segment");
	is_int(a.size, 10000, "it has exactly the size asked for");
	ok(all_zero(a.addr, a.size), "and is zero-filled");
	ok(((uintptr_t)a.addr & 4095) == 0, "and is page-aligned");
	memset(a.addr, 0x5a, a.size);

	is_int(dipc_os_shm_create(name, 10000, 0600, &b), DIPC_EEXIST,
	       "creating it again says it exists");
	is_int(dipc_os_shm_open(name, &b), 0, "open it a second time");
	is_int(b.size, 10000, "the second view knows the size");
	ok(((unsigned char *)b.addr)[9999] == 0x5a, "and sees the first one's bytes");
	((unsigned char *)b.addr)[0] = 0xa5;
	ok(((unsigned char *)a.addr)[0] == 0xa5, "a write through one shows in the other");

	is_int(dipc_os_shm_open(mkname("none"), &c), DIPC_ENOENT,
	       "opening a name nobody made says so");
	is_int(dipc_os_shm_create(mkname("zero"), 0, 0600, &c), DIPC_EINVAL,
	       "a zero-byte segment is refused");

	is_int(dipc_os_shm_unlink(name), 0, "unlink it while it is mapped");
	is_int(dipc_os_shm_open(name, &c), DIPC_ENOENT, "then it cannot be opened");
	((unsigned char *)a.addr)[1] = 0x77;
	ok(((unsigned char *)b.addr)[1] == 0x77, "but the mappings still work");
	is_int(dipc_os_shm_unlink(name), DIPC_ENOENT, "a second unlink finds nothing");

	int rc = dipc_os_shm_create(name, 4096, 0600, &c);
	is_int(rc, 0, "the name can be used again while the old one is mapped");
	if (rc == 0) {
		memset(c.addr, 0x33, c.size);
		ok(((unsigned char *)a.addr)[2] == 0x5a, "the new segment is another one");
		struct dipc_os_shm d;
		rc = dipc_os_shm_open(name, &d);
		ok(rc == 0 && d.size == 4096 && ((unsigned char *)d.addr)[0] == 0x33,
		   "opening the name finds the new one");
		if (rc == 0)
			dipc_os_shm_close(&d);
		dipc_os_shm_close(&c);
		dipc_os_shm_unlink(name);
	} else {
		skip(2, "no second segment");
	}
#ifdef _WIN32
	/* Each name has a bounded number of generations for unlinked
	 * sections that are still mapped. */
	struct dipc_os_shm held[40];
	int nheld = 0;
	while (nheld < 40 && dipc_os_shm_create(name, 4096, 0600, &held[nheld]) == 0) {
		dipc_os_shm_unlink(name);
		nheld++;
	}
	ok(nheld > 2 && nheld < 40, "%d unlinked, mapped generations of a name", nheld);
	is_int(dipc_os_shm_create(name, 4096, 0600, &c), DIPC_EBUSY,
	       "past them, the name is busy");
	while (nheld > 0)
		dipc_os_shm_close(&held[--nheld]);
	rc = dipc_os_shm_create(name, 4096, 0600, &c);
	is_int(rc, 0, "until they are closed");
	if (rc == 0) {
		dipc_os_shm_close(&c);
		dipc_os_shm_unlink(name);
	}
#else
	skip(3, "a POSIX name is free again as soon as it is unlinked");
#endif
	dipc_os_shm_close(&b);
	dipc_os_shm_close(&a);
	dipc_os_shm_close(&a);
	ok(a.addr == NULL, "closing twice is harmless");

	is_int(dipc_os_shm_create(name, 5000, 0600, &c), 0,
	       "after the last close the name is free");
	ok(c.size == 5000 && all_zero(c.addr, c.size), "and the new segment is fresh");
	dipc_os_shm_close(&c);
	rc = dipc_os_shm_open(name, &c);
#ifdef _WIN32
	is_int(rc, DIPC_ENOENT, "a segment vanishes with its last view");
	is_int(dipc_os_shm_unlink(name), DIPC_ENOENT, "so there is nothing to unlink");
#else
	is_int(rc, 0, "a segment outlives its views until unlinked");
	if (rc == 0)
		dipc_os_shm_close(&c);
	is_int(dipc_os_shm_unlink(name), 0, "unlink it");
#endif
}

struct seen {
	const char *want[2];
	int hits[2];
	int others;
};

static void count_seen(const char *name, void *arg)
{
	struct seen *s = arg;
	for (int i = 0; i < 2; i++) {
		if (s->want[i] && strcmp(name, s->want[i]) == 0) {
			s->hits[i]++;
			return;
		}
	}
	s->others++;
}

static void test_list(void)
{
	char prefix[100], n1[112], n2[112];
	snprintf(prefix, sizeof(prefix), "%s.", mkname("list"));
	snprintf(n1, sizeof(n1), "%sone", prefix);
	snprintf(n2, sizeof(n2), "%stwo", prefix);
	const char *other = mkname("unlisted");
	struct dipc_os_shm s1, s2, s3;
	int made = dipc_os_shm_create(n1, 100, 0600, &s1) == 0;
	made += dipc_os_shm_create(n2, 100, 0600, &s2) == 0;
	made += dipc_os_shm_create(other, 100, 0600, &s3) == 0;
	is_int(made, 3, "make three segments to list");

	struct seen s = { { n1, n2 }, { 0, 0 }, 0 };
	int rc = dipc_os_shm_list(prefix, count_seen, &s);
	if (rc == DIPC_ESYS) {
		/* Documented: Wine has no NtQueryDirectoryObject. */
		skip(4, "this system cannot enumerate named sections");
	} else {
		is_int(rc, 0, "list the segments by prefix");
		ok(s.hits[0] == 1 && s.hits[1] == 1, "both are listed once");
		is_int(s.others, 0, "nothing without the prefix is");
		dipc_os_shm_unlink(n1);
		memset(&s, 0, sizeof(s));
		s.want[0] = n1;
		s.want[1] = n2;
		dipc_os_shm_list(prefix, count_seen, &s);
		ok(s.hits[0] == 0 && s.hits[1] == 1, "an unlinked one is not listed");
	}
	dipc_os_shm_close(&s1);
	dipc_os_shm_close(&s2);
	dipc_os_shm_close(&s3);
	dipc_os_shm_unlink(n1);
	dipc_os_shm_unlink(n2);
	dipc_os_shm_unlink(other);
}

/* ---- time, ids -------------------------------------------------------- */

static void test_time_and_ids(void)
{
	uint64_t prev = dipc_os_now_ns(), back = 0;
	for (int i = 0; i < 10000; i++) {
		uint64_t t = dipc_os_now_ns();
		if (t < prev)
			back++;
		prev = t;
	}
	is_int(back, 0, "the clock never runs backwards");
	uint64_t t0 = dipc_os_now_ns();
	dipc_os_sleep_ns(20 * 1000000ull);
	uint64_t slept = dipc_os_now_ns() - t0;
	ok(slept >= 10 * 1000000ull, "a 20 ms sleep lasts (%llu ns)",
	   (unsigned long long)slept);
	dipc_os_sleep_ns(0);
	dipc_os_yield();

	ok(dipc_os_pid() != 0, "a process id is never 0");
	is_int(dipc_os_pid_alive(dipc_os_pid()), 1, "this process is alive");
	is_int(dipc_os_pid_alive(0), 0, "process 0 is never taken for alive");
	uint64_t h = dipc_os_host_id();
	ok(h != 0 && h == dipc_os_host_id(), "the host id is stable and not 0");
}

/* ---- waiting and waking ----------------------------------------------- */

static void test_wait_timeout(struct dipc_os_shm *seg, struct ctl *c)
{
	atomic_store(&c->bell, 7);
	uint64_t t0 = dipc_os_now_ns();
	is_int(dipc_os_wait(seg, &c->bell, 8, LONG_NS), 0,
	       "a wait on a word that already changed returns at once");
	ok(dipc_os_now_ns() - t0 < LONG_NS / 2, "without sleeping out its time");

	int rc;
	do {
		t0 = dipc_os_now_ns();
		rc = dipc_os_wait(seg, &c->bell, 7, 50 * 1000000ll);
	} while (rc == 0);   /* spurious wake-ups are allowed */
	uint64_t el = dipc_os_now_ns() - t0;
	is_int(rc, DIPC_ETIMEDOUT, "an unanswered wait times out");
	ok(el >= 25 * 1000000ull, "not before its time (%llu ns)", (unsigned long long)el);
	is_int(dipc_os_wait(seg, &c->bell, 7, DIPC_TRY_ONCE), DIPC_ETIMEDOUT,
	       "a zero timeout does not sleep");
	atomic_store(&c->bell, 0);
}

struct local_arg {
	_Atomic uint32_t word;
	_Atomic uint32_t timeouts;
	const struct dipc_os_shm *seg;
	_Atomic uint32_t *shared;
	/* Set by the starting thread while the new one polls it: atomic,
	 * or the two race (ThreadSanitizer saw it). */
	dipc_os_thread *_Atomic self;
	_Atomic int was_self;
};

static void *local_waiter(void *p)
{
	struct local_arg *a = p;
	while (!atomic_load(&a->self))
		dipc_os_yield();
	atomic_store(&a->was_self, dipc_os_thread_is_self(a->self));
	wait_for(NULL, &a->word, 1, &a->timeouts, 1);
	wait_for(a->seg, a->shared, 1, &a->timeouts, 1);
	return NULL;
}

static void test_threads(struct dipc_os_shm *seg, struct ctl *c)
{
	struct local_arg a = { .seg = seg, .shared = &c->bell };
	dipc_os_thread *t;
	atomic_store(&c->bell, 0);
	is_int(dipc_os_thread_start(&t, local_waiter, &a), 0, "start a thread");
	a.self = t;
	ok(!dipc_os_thread_is_self(t), "it is not the caller");
	dipc_os_sleep_ns(10 * 1000000ull);
	atomic_store(&a.word, 1);
	dipc_os_wake(NULL, &a.word);
	dipc_os_sleep_ns(10 * 1000000ull);
	atomic_store(&c->bell, 1);
	dipc_os_wake(seg, &c->bell);
	is_int(dipc_os_thread_join(t), 0, "join it");
	ok(atomic_load(&a.was_self), "inside, the thread knew itself");
	is_int(atomic_load(&a.timeouts), 0,
	       "it was woken on a private word and on a shared one");
	atomic_store(&c->bell, 0);
}

struct count_arg {
	dipc_os_mutex *m;
	long n;
};

static void *count_up(void *p)
{
	struct count_arg *a = p;
	for (int i = 0; i < 20000; i++) {
		dipc_os_mutex_lock(a->m);
		long v = a->n;
		if ((i & 255) == 0)
			dipc_os_yield();   /* invite a race the lock must stop */
		a->n = v + 1;
		dipc_os_mutex_unlock(a->m);
	}
	return NULL;
}

static void test_mutex(void)
{
	struct count_arg a = { NULL, 0 };
	is_int(dipc_os_mutex_new(&a.m), 0, "make a mutex");
	dipc_os_thread *t[4];
	int started = 0;
	for (int i = 0; i < 4; i++)
		started += dipc_os_thread_start(&t[i], count_up, &a) == 0;
	for (int i = 0; i < started; i++)
		dipc_os_thread_join(t[i]);
	is_int(started, 4, "four threads");
	is_int(a.n, 80000, "no increment under the mutex was lost");
	dipc_os_mutex_free(a.m);
}

/* ---- across processes ------------------------------------------------- */

static void reset(struct ctl *c)
{
	atomic_store(&c->ready, 0);
	atomic_store(&c->go, 0);
	atomic_store(&c->pid, 0);
	atomic_store(&c->timeouts, 0);
	atomic_store(&c->ping, 0);
	atomic_store(&c->bell, 0);
	atomic_store(&c->done, 0);
	atomic_store(&c->won, 0);
	atomic_store(&c->lost, 0);
	atomic_store(&c->other, 0);
}

static void test_child_info(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	t_pid p = t_spawn("info", seg_name);
	ok(p != 0, "start a child");
	_Atomic uint32_t lost = 0;
	is_int(wait_for(seg, &c->ready, 1, &lost, 3), 0, "it reports in");
	uint32_t pid = atomic_load(&c->pid);
	ok(pid != 0 && pid != dipc_os_pid(), "with its own process id");
	ok(c->host == dipc_os_host_id(), "and the same host id");
	is_int(dipc_os_pid_alive(pid), 1, "it is alive while it waits");
	atomic_store(&c->go, 1);
	dipc_os_wake(seg, &c->go);
	is_int(t_wait(p, 60), 0, "it ends well when told");
	is_int(dipc_os_pid_alive(pid), 0, "and is then dead");

	reset(c);
	p = t_spawn("exit", seg_name);
	/* The test has not reaped it yet: a zombie on POSIX, an object kept
	 * by our handle on Windows.  Neither may pass for a live process. */
	uint64_t until = dipc_os_now_ns() + 30 * 1000000000ull;
	uint32_t epid = 0;
	int alive = 1;
	while (dipc_os_now_ns() < until) {
		epid = atomic_load(&c->pid);
		if (epid && !(alive = dipc_os_pid_alive(epid)))
			break;
		dipc_os_sleep_ns(2000000);
	}
	ok(epid && !alive, "a child that ended is dead before it is reaped");
	is_int(t_wait(p, 60), 0, "reap it");
}

static void test_ping_pong(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	t_pid p = t_spawn("pong", seg_name);
	ok(p != 0, "start a child for %d round trips", PINGS);
	uint32_t i;
	uint64_t t0 = dipc_os_now_ns();
	for (i = 0; i < PINGS; i++) {
		atomic_store(&c->ping, 2 * i + 1);
		dipc_os_wake(seg, &c->ping);
		if (wait_for(seg, &c->ping, 2 * i + 2, &c->timeouts, 1))
			break;
	}
	is_int(i, PINGS, "every round trip completed");
	diag("%u sleeping round trips in %.1f ms", i,
	     (double)(dipc_os_now_ns() - t0) / 1e6);
	is_int(t_wait(p, 60), 0, "the child saw every ping");
	is_int(atomic_load(&c->timeouts), 0, "no wake-up was lost on either side");
}

/*
 * Two rings of RING processes each pass a token round, all of a ring
 * asleep on one word: each wake must reach the one whose turn it is,
 * although the waker goes straight back to sleep on the same word.  Two
 * rings at once on a two-core machine make sure sleepers are preempted
 * between counting themselves and sleeping, where a wake-up handed out
 * per sleeper (rather than per sleeper's generation) could be taken by
 * the wrong one.
 */
static void test_token_ring(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	atomic_store(&c->ping, RING * LAPS + 1);   /* nobody's turn yet */
	atomic_store(&c->bell, RING * LAPS + 1);
	t_pid p[2 * RING];
	int started = 0;
	for (int i = 0; i < 2 * RING; i++) {
		char arg[128];
		snprintf(arg, sizeof(arg), "%s:%d:%d", seg_name, i % RING, i / RING);
		started += (p[i] = t_spawn("ring", arg)) != 0;
	}
	is_int(started, 2 * RING, "start two rings of %d children passing a token", RING);
	atomic_store(&c->ping, 0);
	dipc_os_wake(seg, &c->ping);
	atomic_store(&c->bell, 0);
	dipc_os_wake(seg, &c->bell);
	int good = 0;
	for (int i = 0; i < 2 * RING; i++)
		good += p[i] && t_wait(p[i], 120) == 0;
	is_int(good, 2 * RING, "each took its %d turns", LAPS);
	ok(atomic_load(&c->ping) == RING * LAPS && atomic_load(&c->bell) == RING * LAPS,
	   "both tokens went all the way round");
	is_int(atomic_load(&c->timeouts), 0, "no wake-up went to the wrong sleeper");
}

static void test_wake_all(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	t_pid p[SLEEPERS];
	int started = 0;
	for (int i = 0; i < SLEEPERS; i++)
		started += (p[i] = t_spawn("sleeper", seg_name)) != 0;
	is_int(started, SLEEPERS, "start %d sleeping children", SLEEPERS);
	_Atomic uint32_t lost = 0;
	is_int(wait_for(seg, &c->ready, SLEEPERS, &lost, 3), 0, "they all report in");
	/* Give them time to fall asleep; correct either way. */
	dipc_os_sleep_ns(100 * 1000000ull);
	atomic_store(&c->bell, 1);
	dipc_os_wake(seg, &c->bell);
	int good = 0;
	for (int i = 0; i < SLEEPERS; i++)
		good += p[i] && t_wait(p[i], 60) == 0;
	is_int(good, SLEEPERS, "one wake woke every one of them");
	is_int(atomic_load(&c->timeouts), 0, "none had to time out");
}

static void test_create_race(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	t_pid p[RACERS];
	int started = 0;
	for (int i = 0; i < RACERS; i++)
		started += (p[i] = t_spawn("racer", seg_name)) != 0;
	is_int(started, RACERS, "start %d children that create one name", RACERS);
	atomic_store(&c->bell, 1);
	dipc_os_wake(seg, &c->bell);
	_Atomic uint32_t lost = 0;
	wait_for(seg, &c->done, RACERS, &lost, 3);
	is_int(atomic_load(&c->won), 1, "exactly one of them creates it");
	is_int(atomic_load(&c->lost), RACERS - 1, "the others are told it exists");
	atomic_store(&c->go, 1);
	dipc_os_wake(seg, &c->go);
	int good = 0;
	for (int i = 0; i < RACERS; i++)
		good += p[i] && t_wait(p[i], 60) == 0;
	is_int(good, RACERS, "they all end");
	char target[128];
	snprintf(target, sizeof(target), "%s.race", seg_name);
	dipc_os_shm_unlink(target);
}

static void test_dead_lock_holder(struct dipc_os_shm *seg, struct ctl *c)
{
	reset(c);
	memset(&c->lock, 0, sizeof(c->lock));
	t_pid p = t_spawn("locker", seg_name);
	_Atomic uint32_t lost = 0;
	is_int(wait_for(seg, &c->ready, 1, &lost, 3), 0, "a child takes the lock");
	is_int(t_kill(p), T_KILLED, "it is killed holding it");
	is_int(dipc_plock_acquire(seg, &c->lock, UINT64_MAX, false), 1, "the lock is taken over from the dead");
	dipc_plock_release(seg, &c->lock);
	is_int(dipc_plock_acquire(seg, &c->lock, UINT64_MAX, false), 0, "and then works as before");
	dipc_plock_release(seg, &c->lock);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(79);

	test_segments();
	test_list();
	test_time_and_ids();
	test_mutex();

	snprintf(seg_name, sizeof(seg_name), "%s", mkname("ctl"));
	struct dipc_os_shm seg;
	if (dipc_os_shm_create(seg_name, sizeof(struct ctl), 0600, &seg) != 0)
		bail_out("cannot create the control segment");
	struct ctl *c = seg.addr;

	test_wait_timeout(&seg, c);
	test_threads(&seg, c);
	test_child_info(&seg, c);
	test_ping_pong(&seg, c);
	test_token_ring(&seg, c);
	test_wake_all(&seg, c);
	test_create_race(&seg, c);
	test_dead_lock_holder(&seg, c);

	dipc_os_shm_close(&seg);
	dipc_os_shm_unlink(seg_name);
	return done_testing();
}

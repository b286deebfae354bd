/*
 * dead_sleepers.c - a process killed while it sleeps leaves no cost
 * behind.
 *
 * Whoever sleeps on a shared word says so first (an entry in a waiter
 * set, or a stream's sleep mark), so that the side making progress makes
 * the wake-up system call only when someone sleeps.  A process killed in
 * its sleep never takes its word back; the library must notice the dead
 * and strike it off, after which the fast path (no system call) is back.
 * Counted, not timed: dipc_wake_calls is the library's count of the
 * wake-up calls this process made (lib/waiters.c), which is why this test
 * is linked with the library's sources.
 *
 * Each case makes a real child sleep, checks that it really sleeps (its
 * entry is in the set, or the mark holds its id, and on Linux
 * /proc/<pid>/syscall shows it inside the futex call), kills it (SIGKILL,
 * TerminateProcess) and checks the trace it left, then runs 10,000
 * operations that would each wake it:
 *   1. a receiver asleep on an empty channel; then send + receive pairs;
 *   2. a sender asleep on a full channel; then receive + send pairs;
 *   3. a process asleep in dipc_pool_alloc_wait; then alloc + free pairs;
 *   4. a process asleep on the pool lock; then alloc + free pairs of a
 *      block too large for the block cache (each takes the lock);
 *   5. a stream reader asleep; then 1-byte writes;
 *   7. (below) a consumer asleep, from the point of view of a relay thread
 *      that in turn wakes it and a live producer: the repairs must not
 *      all land on the live one's set.
 * At most DIPC_WAITER_REPAIR_EVERY wake-up calls may be made, not one per
 * operation, and the trace must be gone.  Then:
 *   6. dead entries left in a set by hand (with and without their bit,
 *      and a bit without an entry) beside a live sleeper: the live one,
 *      when its nap ends, strikes them off; repairs never strike off the
 *      live one, which still gets its message (a hang guard only).
 */
#include "coretest.h"
#include "channel.h"
#include "stream.h"

#ifdef __linux__
# include <sys/syscall.h>
#endif

#define OPS 10000
#define MSG 64
#define RING (4 * OPS)
#define BIG ((size_t)PC_MAX_BLOCK + (size_t)1024 * 1024)

static uint32_t pid_of(t_pid p)
{
#ifdef _WIN32
	return (uint32_t)GetProcessId(p);
#else
	return (uint32_t)p;
#endif
}

static uint64_t wakes(void)
{
	return atomic_load(&dipc_wake_calls);
}

/* ---- is it asleep? -------------------------------------------------------- */

/* 1 if the process is inside the futex call (or we cannot tell), 0 if
 * it is not. */
static int in_futex(uint32_t pid)
{
#ifdef __linux__
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%u/syscall", (unsigned)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		if (n > 0) {
			if (strncmp(buf, "running", 7) == 0)
				return 0;
			long nr = strtol(buf, NULL, 10);
# ifdef SYS_futex_time64
			if (nr == SYS_futex_time64)
				return 1;
# endif
			return nr == SYS_futex;
		}
	}
	/* No /proc/<pid>/syscall (a kernel without it, or not allowed):
	 * the wait channel, then the state letter. */
	snprintf(path, sizeof(path), "/proc/%u/wchan", (unsigned)pid);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		if (strstr(buf, "futex"))
			return 1;
	}
	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'S';
#else
	(void)pid;
	return 1;
#endif
}

/* The entry of w that pid took and whose bit is set, or -1. */
static int entry_of(struct dipc_waiters *w, uint32_t pid)
{
	uint64_t mask = atomic_load(&w->mask);
	for (int i = 0; i < DIPC_WAITERS_MAX; i++)
		if ((mask >> i & 1) && atomic_load(&w->pid[i]) == pid)
			return i;
	return -1;
}

/* Where a sleeper leaves its trace: a waiter set, or a stream's mark. */
struct trace {
	struct dipc_waiters *set;
	_Atomic uint32_t *mark;
};

static int trace_of(const struct trace *t, uint32_t pid)
{
	if (t->set)
		return entry_of(t->set, pid) >= 0;
	return atomic_load(t->mark) == pid;
}

static int trace_gone(const struct trace *t)
{
	if (t->set)
		return atomic_load(&t->set->mask) == 0;
	return atomic_load(t->mark) == 0;
}

/* Start role(arg), wait until it sleeps with its trace in t, kill it and
 * check the trace stayed.  A nap that ended between the look and the kill
 * may take the trace with it: start over then.  The dead id, or 0. */
static uint32_t kill_asleep(const char *role, const char *arg, const struct trace *t)
{
	for (int attempt = 1; attempt <= 5; attempt++) {
		t_pid kid = tc_spawn(role, arg);
		if (!kid)
			bail_out("cannot start a child");
		uint32_t pid = pid_of(kid);
		int64_t end = tc_now_ns() + 20 * TC_SEC;
		int asleep = 0;
		for (int i = 1; !asleep && tc_now_ns() < end; i++) {
			/* The trace on both sides of the look at the call. */
			asleep = trace_of(t, pid) && in_futex(pid) && trace_of(t, pid);
			if (asleep)
				break;
			tc_sleep_ms(1);
			int rc = i % 100 ? -1 : t_wait(kid, 0);
			if (rc != -1) {
				tc_forget(kid);
				diag("%s: child %u ended (status %d) instead of sleeping", role,
				     pid, rc);
				return 0;
			}
		}
		if (!asleep) {
			tc_kill(kid);
			diag("%s: child %u never went to sleep", role, pid);
			return 0;
		}
		tc_kill(kid);
		if (trace_of(t, pid)) {
			diag("%s: child %u killed asleep (attempt %d)", role, pid, attempt);
			return pid;
		}
		diag("%s: child %u woke as it was killed; again", role, pid);
	}
	return 0;
}

/* n: the wake-up calls OPS operations made after a sleeper died.  The
 * first sees its trace and pays for it (so the case tests what it means
 * to); by DIPC_WAITER_REPAIR_EVERY calls it is struck off. */
static void check_count(uint64_t n, const struct trace *t, const char *what)
{
	ok(n >= 1 && n <= DIPC_WAITER_REPAIR_EVERY,
	   "%s: %d operations made %llu wake-up calls (1 to %u: until the dead "
	   "sleeper is struck off)", what, OPS, (unsigned long long)n,
	   DIPC_WAITER_REPAIR_EVERY);
	ok(trace_gone(t), "%s: the dead sleeper's trace is gone", what);
}

/* ---- children -------------------------------------------------------------- */

static int attach_chan(const char **a, dipc_pool **p, dipc_channel **ch)
{
	char hex[TC_HEX_MAX];
	if (tc_attach_pool_hex(tc_field(a, hex, sizeof(hex)), p))
		return 10;
	if (tc_attach_chan_hex(tc_field(a, hex, sizeof(hex)), *p, ch))
		return 11;
	return 0;
}

int t_child(const char *role, const char *arg)
{
	const char *a = arg;
	dipc_pool *p;
	dipc_channel *ch;
	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = DIPC_WAIT_IDLE;
	if (strcmp(role, "recv") == 0) {
		/* Sleep for a message; 0 if a good one came. */
		int rc = attach_chan(&a, &p, &ch);
		if (rc)
			return rc;
		dipc_recvh *rh;
		if (dipc_recvh_create(ch, &ha, &rh) || dipc_recvh_open(rh))
			return 12;
		unsigned char buf[MSG];
		size_t len = 0;
		rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_WAIT_FOREVER);
		return rc == 0 && len == MSG && tc_check(buf, MSG, 77) ? 0 : 13;
	}
	if (strcmp(role, "send") == 0) {
		int rc = attach_chan(&a, &p, &ch);
		if (rc)
			return rc;
		dipc_sendh *sh;
		if (dipc_sendh_create(ch, &ha, &sh) || dipc_sendh_open(sh))
			return 12;
		unsigned char buf[MSG] = { 0 };
		return dipc_sendh_send_bytes(sh, buf, MSG, DIPC_WAIT_FOREVER) ? 13 : 0;
	}
	if (strcmp(role, "alloc") == 0) {
		char hex[TC_HEX_MAX];
		if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
			return 10;
		size_t size = (size_t)tc_field_num(&a);
		dipc_mem *m;
		return dipc_pool_alloc_wait(p, size, DIPC_WAIT_FOREVER, &m) ? 13 : 0;
	}
	if (strcmp(role, "sread") == 0) {
		dipc_stream *s;
		if (dipc_stream_open(arg, DIPC_STREAM_READ, RING, 0, &s))
			return 10;
		unsigned char c;
		return dipc_stream_read(s, &c, 1, DIPC_WAIT_FOREVER) == 1 ? 0 : 13;
	}
	if (strcmp(role, "exit") == 0)
		return 0;
	if (strcmp(role, "sleep") == 0) {
		/* Alive and asleep, until killed (ten minutes at most). */
		for (int i = 0; i < 6000; i++)
			tc_sleep_ms(100);
		return 0;
	}
	return 99;
}

/* ---- the cases ---------------------------------------------------------------- */

struct chan_setup {
	dipc_pool *p;
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	char arg[2 * TC_HEX_MAX + 2];
};

static void chan_up(struct chan_setup *c, const char *name, uint64_t capacity)
{
	if (!tc_pool_new(name, DIPC_POOL_MIN_SIZE, &c->p))
		bail_out("cannot create a pool");
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = capacity;
	ca.block_size = MSG;
	if (dipc_channel_create(c->p, 1, &ca, &c->ch) || dipc_sendh_create(c->ch, NULL, &c->sh) ||
	    dipc_sendh_open(c->sh) || dipc_recvh_create(c->ch, NULL, &c->rh) ||
	    dipc_recvh_open(c->rh))
		bail_out("cannot set up a channel");
	char hp[TC_HEX_MAX], hc[TC_HEX_MAX];
	tc_hex_pool(c->p, hp);
	tc_hex_chan(c->ch, hc);
	snprintf(c->arg, sizeof(c->arg), "%s:%s", hp, hc);
}

static void chan_down(struct chan_setup *c)
{
	dipc_sendh_destroy(c->sh);
	dipc_recvh_destroy(c->rh);
	is_int(dipc_channel_destroy(c->ch), 0, "channel destroyed");
	is_int(tc_pool_del(c->p), 0, "pool destroyed");
}

/* Send + receive, or receive + send, n times; the failures. */
static int pairs(struct chan_setup *c, int n, int recv_first)
{
	unsigned char out[MSG], in[MSG];
	int fails = 0;
	tc_fill(out, MSG, 5);
	for (int i = 0; i < n; i++) {
		size_t len;
		if (!recv_first && dipc_sendh_send_bytes(c->sh, out, MSG, DIPC_TRY_ONCE))
			fails++;
		if (dipc_recvh_recv_bytes(c->rh, in, MSG, &len, DIPC_TRY_ONCE) || len != MSG)
			fails++;
		if (recv_first && dipc_sendh_send_bytes(c->sh, out, MSG, DIPC_TRY_ONCE))
			fails++;
	}
	return fails;
}

static void case_receiver(void)
{
	struct chan_setup c;
	chan_up(&c, "ds-recv", 16);
	struct trace t = { .set = &c.ch->hdr->recv_waiters };
	uint32_t dead = kill_asleep("recv", c.arg, &t);
	if (ok(dead, "1. a receiver asleep on an empty channel was killed asleep")) {
		uint64_t w0 = wakes();
		is_int(pairs(&c, OPS, 0), 0, "1. %d send + receive pairs", OPS);
		check_count(wakes() - w0, &t, "1. dead receiver");
	}
	chan_down(&c);
}

static void case_sender(void)
{
	struct chan_setup c;
	chan_up(&c, "ds-send", 4);
	unsigned char out[MSG] = { 0 };
	for (int i = 0; i < 4; i++)
		if (dipc_sendh_send_bytes(c.sh, out, MSG, DIPC_TRY_ONCE))
			bail_out("cannot fill the channel");
	struct trace t = { .set = &c.ch->hdr->send_waiters };
	uint32_t dead = kill_asleep("send", c.arg, &t);
	if (ok(dead, "2. a sender asleep on a full channel was killed asleep")) {
		uint64_t w0 = wakes();
		is_int(pairs(&c, OPS, 1), 0, "2. %d receive + send pairs", OPS);
		check_count(wakes() - w0, &t, "2. dead sender");
	}
	chan_down(&c);
}

/* n allocations of size, each freed at once; the failures. */
static int alloc_free(dipc_pool *p, size_t size, int n)
{
	int fails = 0;
	for (int i = 0; i < n; i++) {
		dipc_mem *m;
		if (dipc_pool_alloc(p, size, &m) || dipc_mem_free(m))
			fails++;
	}
	return fails;
}

static void case_alloc_wait(void)
{
	dipc_pool *p;
	if (!tc_pool_new("ds-alloc", DIPC_POOL_MIN_SIZE, &p))
		bail_out("cannot create a pool");
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	/* Leave less room than the sleeper asks for. */
	dipc_mem *fill;
	if (dipc_pool_alloc(p, (size_t)(st.largest_free - st.total / 4), &fill))
		bail_out("cannot fill the pool");
	char hp[TC_HEX_MAX], arg[TC_HEX_MAX + 32];
	tc_hex_pool(p, hp);
	snprintf(arg, sizeof(arg), "%s:%llu", hp, (unsigned long long)(st.total / 2));
	struct trace t = { .set = &p->hdr->free_waiters };
	uint32_t dead = kill_asleep("alloc", arg, &t);
	if (ok(dead, "3. a process asleep in dipc_pool_alloc_wait was killed asleep")) {
		uint64_t w0 = wakes();
		is_int(alloc_free(p, MSG, OPS), 0, "3. %d alloc + free pairs", OPS);
		check_count(wakes() - w0, &t, "3. dead allocator");
	}
	dipc_mem_free(fill);
	is_int(tc_pool_del(p), 0, "pool destroyed");
}

static void case_lock(void)
{
	dipc_pool *p;
	if (!tc_pool_new("ds-lock", 2 * BIG, &p))
		bail_out("cannot create a pool");
	/* The lock is this process's, by hand: the sleeper waits on a live
	 * holder. */
	_Atomic uint32_t *owner = &p->hdr->lock.owner;
	uint32_t zero = 0;
	if (!atomic_compare_exchange_strong(owner, &zero, (uint32_t)tc_getpid()))
		bail_out("the pool lock is taken");
	char hp[TC_HEX_MAX], arg[TC_HEX_MAX + 32];
	tc_hex_pool(p, hp);
	snprintf(arg, sizeof(arg), "%s:%d", hp, 4096);
	struct trace t = { .set = &p->hdr->lock.waiters };
	uint32_t dead = kill_asleep("alloc", arg, &t);
	uint64_t w0 = wakes();
	pool_unlock(p);
	if (ok(dead, "4. a process asleep on the pool lock was killed asleep")) {
		is_int(alloc_free(p, BIG, OPS), 0, "4. %d alloc + free pairs of %llu bytes",
		       OPS, (unsigned long long)BIG);
		check_count(wakes() - w0, &t, "4. dead lock waiter");
	}
	is_int(tc_pool_del(p), 0, "pool destroyed");
}

static void case_stream(void)
{
	const char *name = t_name("ds-stream");
	dipc_stream *s;
	if (dipc_stream_open(name, DIPC_STREAM_WRITE, RING, 0, &s))
		bail_out("cannot open the stream");
	struct trace t = { .mark = &s->hdr->r_sleeping };
	uint32_t dead = kill_asleep("sread", name, &t);
	if (ok(dead, "5. a stream reader was killed asleep")) {
		uint64_t w0 = wakes();
		int fails = 0;
		for (int i = 0; i < OPS; i++)
			if (dipc_stream_write(s, "x", 1, DIPC_TRY_ONCE) != 1)
				fails++;
		is_int(fails, 0, "5. %d one-byte writes", OPS);
		check_count(wakes() - w0, &t, "5. dead stream reader");
	}
	is_int(dipc_stream_close(s), 0, "stream closed");
	int rc = dipc_stream_unlink(name);
	ok(rc == 0 || rc == DIPC_ENOENT, "stream name gone");
}

static void case_by_hand(void)
{
	struct chan_setup c;
	chan_up(&c, "ds-hand", 16);
	struct dipc_waiters *w = &c.ch->hdr->recv_waiters;
	/* A process that has exited. */
	t_pid gone = tc_spawn("exit", "-");
	uint32_t dead = pid_of(gone);
	is_int(tc_reap(gone, 30), 0, "a child ran and exited");
	uint64_t w0 = wakes();
	t_pid kid = tc_spawn("recv", c.arg);
	uint32_t live = pid_of(kid);
	struct trace t = { .set = w };
	int64_t end = tc_now_ns() + 20 * TC_SEC;
	while (!(trace_of(&t, live) && in_futex(live)) && tc_now_ns() < end)
		tc_sleep_ms(1);
	int l = entry_of(w, live);
	if (!ok(l >= 0, "6. a live receiver sleeps"))
		l = 0;
	/* The dead process's entry with its bit (killed asleep), one without
	 * (killed between taking the entry and setting the bit), and a bit
	 * without an entry (a hostile write).  After the sleeper's own entry,
	 * which it takes again each time it sleeps, so it never lands on
	 * them. */
	int a = (l + 1) % DIPC_WAITERS_MAX, b = (l + 2) % DIPC_WAITERS_MAX,
	    cc = (l + 3) % DIPC_WAITERS_MAX;
	uint64_t bits = (uint64_t)1 << a | (uint64_t)1 << b | (uint64_t)1 << cc;
	atomic_store(&w->pid[a], dead);
	atomic_store(&w->pid[b], dead);
	atomic_fetch_or(&w->mask, (uint64_t)1 << a | (uint64_t)1 << cc);
	/* Its nap ends without a wake-up after DIPC_LIVENESS_NS: it repairs. */
	end = tc_now_ns() + 20 * TC_SEC;
	while ((atomic_load(&w->pid[a]) || atomic_load(&w->pid[b]) ||
		(atomic_load(&w->mask) & bits)) && tc_now_ns() < end)
		tc_sleep_ms(5);
	ok(!atomic_load(&w->pid[a]) && !atomic_load(&w->pid[b]) &&
	   !(atomic_load(&w->mask) & bits),
	   "6. the live sleeper struck the dead entries off on its next nap");
	is_int(wakes() - w0, 0, "6. this process made no wake-up call meanwhile");

	/* Repairs, by us and by the sleeper at each nap, never strike off a
	 * live sleeper. */
	int struck = 0;
	int64_t stop = tc_now_ns() + 500 * TC_MS;
	int rounds = 0;
	while (rounds < 1000 || tc_now_ns() < stop) {
		struck += dipc_waiters_repair(w);
		rounds++;
	}
	is_int(struck, 0, "6. %d repairs struck off nobody while a live process sleeps", rounds);
	end = tc_now_ns() + 5 * TC_SEC;
	while (!trace_of(&t, live) && tc_now_ns() < end)
		tc_sleep_ms(1);
	ok(trace_of(&t, live), "6. the live sleeper is still in the set");
	unsigned char out[MSG];
	tc_fill(out, MSG, 77);
	is_int(dipc_sendh_send_bytes(c.sh, out, MSG, DIPC_TRY_ONCE), 0, "6. message sent");
	is_int(tc_reap(kid, 10), 0, "6. the live sleeper got it (within 10 s: a hang guard)");
	chan_down(&c);
}

/* A relay thread: each round receives from one channel, waking its
 * producer (alive, and asleep whenever we look), and sends to another,
 * whose consumer died asleep. */
struct relay {
	struct chan_setup *in, *out;
	int fails;
};

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	unsigned char buf[MSG];
	tc_fill(buf, MSG, 5);
	for (int i = 0; i < OPS; i++) {
		size_t len;
		/* out first: its wake-up calls are this thread's 1st, 3rd, ... */
		if (dipc_sendh_send_bytes(r->out->sh, buf, MSG, DIPC_TRY_ONCE) ||
		    dipc_recvh_recv_bytes(r->out->rh, buf, MSG, &len, DIPC_TRY_ONCE))
			r->fails++;
		if (dipc_recvh_recv_bytes(r->in->rh, buf, MSG, &len, DIPC_TRY_ONCE) ||
		    dipc_sendh_send_bytes(r->in->sh, buf, MSG, DIPC_TRY_ONCE))
			r->fails++;
	}
	return NULL;
}

static void case_two_sets(void)
{
	struct chan_setup in, out;
	chan_up(&in, "ds-in", 4);
	chan_up(&out, "ds-out", 16);
	unsigned char buf[MSG] = { 0 };
	for (int i = 0; i < 4; i++)
		if (dipc_sendh_send_bytes(in.sh, buf, MSG, DIPC_TRY_ONCE))
			bail_out("cannot fill the channel");
	/* The producer of in: a live process's entry in its send set, made by
	 * hand so that it is there every time we look. */
	t_pid kid = tc_spawn("sleep", "-");
	uint32_t live = pid_of(kid);
	struct dipc_waiters *ws = &in.ch->hdr->send_waiters;
	atomic_store(&ws->pid[7], live);
	atomic_fetch_or(&ws->mask, (uint64_t)1 << 7);
	struct trace t = { .set = &out.ch->hdr->recv_waiters };
	uint32_t dead = kill_asleep("recv", out.arg, &t);
	if (ok(dead, "7. a receiver asleep on the relay's output was killed asleep")) {
		/* A thread of its own: its count of wake-up calls starts at 0. */
		struct relay r = { &in, &out, 0 };
		tc_thread th;
		uint64_t w0 = wakes();
		if (tc_thread_start(&th, relay_main, &r))
			bail_out("cannot start a thread");
		tc_thread_join(th);
		is_int(r.fails, 0, "7. %d relay rounds", OPS);
		/* One call a round for the live producer, as it should be. */
		check_count(wakes() - w0 - OPS, &t, "7. relay, dead consumer");
		ok(entry_of(ws, live) == 7, "7. the live producer's entry stayed");
	}
	atomic_fetch_and(&ws->mask, ~((uint64_t)1 << 7));
	atomic_store(&ws->pid[7], 0);
	tc_kill(kid);
	chan_down(&in);
	chan_down(&out);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(600);
	case_receiver();
	case_sender();
	case_alloc_wait();
	case_lock();
	case_stream();
	case_by_hand();
	case_two_sets();
	return tc_finish();
}

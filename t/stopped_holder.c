/*
 * stopped_holder.c - a live process that keeps the pool lock costs the
 * others their deadline, never more.
 *
 * A process stopped while it holds the pool lock (SIGSTOP, a debugger, a
 * cgroup freezer) is alive, so nobody may take the lock over; and anyone
 * with write access can put a live process's id in the lock word.  Every
 * call must still honour its timeout and return its documented error:
 *
 *   dipc_pool_alloc (try once)            DIPC_EBUSY, promptly
 *   dipc_pool_alloc_wait (100 ms)         DIPC_ETIMEDOUT
 *   dipc_sendh_send_bytes, 8 KiB (100 ms) DIPC_ETIMEDOUT (the payload
 *                                         needs a pool allocation)
 *   dipc_pool_stats, dipc_pool_reclaim,   DIPC_EBUSY (they take no timeout)
 *   dipc_channel_create
 *   dipc_channel_destroy                  DIPC_EBUSY, the handle kept
 *   dipc_mem_free of a large block        0 (the block waits for a sweep)
 *
 * and once the holder lets go (SIGCONT, or the word cleared) the pool's
 * figures are what they were and everything works again.  Two holders:
 * (a) a real one, a child allocating and freeing blocks too large for the
 * block cache (PC_MAX_BLOCK) so that each takes the lock, stopped while
 * the lock word names it (POSIX only); (b) a hostile write of a live,
 * sleeping child's id into the lock word; (c) a write of the caller's own
 * id, which it cannot tell from a lock one of its threads holds.
 *
 * Each call runs on a thread of its own and is given HANG_S seconds: one
 * still blocked then is a failure, and the test goes on (no duration is
 * asserted otherwise; they are printed).  The layout of the lock word is
 * lib/pool.h's.
 *
 * The test also builds against the headers (lib/, include/, config.h)
 * and the shared library of the code before this rule, where the lock
 * word is at the same place: there every call above is still blocked
 * after HANG_S seconds.
 */
#include "coretest.h"
#include "pool.h"

#ifndef _WIN32
# include <errno.h>
#endif

#define HANG_S 10
/* Too large for the block cache: every allocation and free of it takes
 * the pool lock. */
#define BIG ((size_t)PC_MAX_BLOCK + (size_t)1024 * 1024)
#define POOL_SIZE ((size_t)4 * PC_MAX_BLOCK)
#define SEND_LEN 8192

struct book {
	_Atomic uint64_t stop;
	_Atomic uint64_t pid;
	_Atomic uint64_t rounds;
};

static uint32_t pid_of(t_pid p)
{
#ifdef _WIN32
	return (uint32_t)GetProcessId(p);
#else
	return (uint32_t)p;
#endif
}

/* ---- children ------------------------------------------------------------ */

static int child_churn(const char *arg)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	const char *a = arg;
	dipc_pool *p;
	dipc_mem *bm;
	if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
		return 10;
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &bm))
		return 11;
	struct book *bk = tc_ptr(bm);
#ifndef _WIN32
	/* A session of its own: should the test's group be orphaned while
	 * this child is stopped, the kernel would hang it up (SIGHUP). */
	setsid();
#endif
	atomic_store(&bk->pid, (uint64_t)tc_getpid());
	int fails = 0;
	while (!atomic_load(&bk->stop)) {
		dipc_mem *m;
		if (dipc_pool_alloc_wait(p, BIG, 5 * TC_SEC, &m) == 0) {
			if (dipc_mem_free(m))
				fails++;
		} else {
			fails++;
		}
		atomic_fetch_add(&bk->rounds, 1);
	}
	dipc_mem_detach(bm);
	dipc_pool_detach(p);
	return fails ? 20 : 0;
}

int t_child(const char *role, const char *arg)
{
	if (strcmp(role, "churn") == 0)
		return child_churn(arg);
	if (strcmp(role, "sleep") == 0) {
		/* Alive and asleep, until killed (ten minutes at most). */
		for (int i = 0; i < 6000; i++)
			tc_sleep_ms(100);
		return 0;
	}
	return 99;
}

/* ---- calls on a thread, each given HANG_S seconds ------------------------- */

struct env {
	dipc_pool *p;
	dipc_sendh *sh;
	dipc_recvh *rh;
	dipc_channel *victim;   /* to be destroyed while the lock is kept */
	dipc_mem *held;         /* a large block, freed while the lock is kept */
	unsigned char sendbuf[SEND_LEN];
};

enum { OP_ALLOC, OP_ALLOC_WAIT, OP_SEND, OP_STATS, OP_RECLAIM, OP_CREATE, OP_DESTROY,
       OP_FREE, NOPS };

struct call {
	int op;
	struct env *e;
	tc_thread th;
	int joined;
	_Atomic int done;
	int rc;
	int64_t ns;
	dipc_mem *mem;          /* what an allocation that succeeded got */
	dipc_channel *ch;       /* what a create that succeeded made */
	struct dipc_pool_stats st;
};

static const char *op_name[NOPS] = {
	"dipc_pool_alloc (try once)",
	"dipc_pool_alloc_wait (100 ms)",
	"dipc_sendh_send_bytes of 8 KiB (100 ms)",
	"dipc_pool_stats",
	"dipc_pool_reclaim",
	"dipc_channel_create",
	"dipc_channel_destroy",
	"dipc_mem_free of a large block",
};

static const int op_want[NOPS] = {
	DIPC_EBUSY, DIPC_ETIMEDOUT, DIPC_ETIMEDOUT, DIPC_EBUSY, DIPC_EBUSY, DIPC_EBUSY,
	DIPC_EBUSY, 0,
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	struct env *e = c->e;
	int64_t t0 = tc_now_ns();
	switch (c->op) {
	case OP_ALLOC:
		c->rc = dipc_pool_alloc(e->p, BIG, &c->mem);
		break;
	case OP_ALLOC_WAIT:
		c->rc = dipc_pool_alloc_wait(e->p, BIG, 100 * TC_MS, &c->mem);
		break;
	case OP_SEND:
		c->rc = dipc_sendh_send_bytes(e->sh, e->sendbuf, SEND_LEN, 100 * TC_MS);
		break;
	case OP_STATS:
		c->rc = dipc_pool_stats(e->p, &c->st);
		break;
	case OP_RECLAIM:
		c->rc = dipc_pool_reclaim(e->p);
		break;
	case OP_CREATE:
		c->rc = dipc_channel_create(e->p, 2, NULL, &c->ch);
		break;
	case OP_DESTROY:
		c->rc = dipc_channel_destroy(e->victim);
		break;
	case OP_FREE:
		c->rc = dipc_mem_free(e->held);
		break;
	}
	c->ns = tc_now_ns() - t0;
	atomic_store(&c->done, 1);
	return NULL;
}

/* Wait for c at most seconds; 1 if it returned. */
static int call_wait(struct call *c, int seconds)
{
	int64_t end = tc_now_ns() + (int64_t)seconds * TC_SEC;
	while (!atomic_load(&c->done) && tc_now_ns() < end)
		tc_sleep_ms(2);
	if (!atomic_load(&c->done))
		return 0;
	if (!c->joined) {
		tc_thread_join(c->th);
		c->joined = 1;
	}
	return 1;
}

/* Make every call in turn while the lock is kept; a call still blocked
 * after HANG_S seconds is left on its thread (settle() waits for it). */
static void calls_while_kept(struct env *e, struct call *calls, const char *who)
{
	for (int op = 0; op < NOPS; op++) {
		struct call *c = &calls[op];
		memset(c, 0, sizeof(*c));
		c->op = op;
		c->e = e;
		if (tc_thread_start(&c->th, call_main, c) != 0)
			bail_out("cannot start a thread");
		if (!call_wait(c, HANG_S)) {
			ok(0, "%s: %s returns (still blocked after %d s)", who, op_name[op], HANG_S);
			continue;
		}
		if (!ok(c->rc == op_want[op], "%s: %s -> %s", who, op_name[op],
			dipc_strerror(op_want[op])))
			diag("  got %s", dipc_strerror(c->rc));
		diag("  returned after %.1f ms", (double)c->ns / 1e6);
	}
}

/* After the holder let go: the calls left blocked finish; undo what
 * those that should have failed did. */
static void settle(struct env *e, struct call *calls)
{
	for (int op = 0; op < NOPS; op++) {
		struct call *c = &calls[op];
		if (!call_wait(c, HANG_S))
			bail_out("a call is still blocked after its holder let go");
		if (c->mem) {
			dipc_mem_free(c->mem);
			c->mem = NULL;
		}
		if (c->ch) {
			dipc_channel_destroy(c->ch);
			c->ch = NULL;
		}
		if (op == OP_SEND && c->rc == 0) {
			static unsigned char got[SEND_LEN];
			size_t len;
			dipc_recvh_recv_bytes(e->rh, got, sizeof(got), &len, TC_SEC);
		}
		if (op == OP_DESTROY && c->rc == 0)
			e->victim = NULL;
		if (op == OP_FREE && c->rc == 0)
			e->held = NULL;
	}
}

/* ---- the checks around one keeping of the lock ----------------------------- */

/* Before: a channel to destroy and a large block to free while the lock
 * is kept. */
static void prepare(struct env *e)
{
	if (dipc_channel_create(e->p, 3, NULL, &e->victim))
		bail_out("cannot create the channel to destroy");
	if (dipc_pool_alloc(e->p, BIG, &e->held))
		bail_out("cannot allocate the large block");
}

static void check_back(struct env *e, const struct dipc_pool_stats *base, const char *who)
{
	/* The destroy that was refused keeps the handle: retried, it works. */
	if (e->victim) {
		is_int(dipc_channel_destroy(e->victim), 0,
		       "%s: the refused dipc_channel_destroy, retried, succeeds", who);
		e->victim = NULL;
	}
	if (e->held) {
		dipc_mem_free(e->held);
		e->held = NULL;
	}
	struct dipc_pool_stats st;
	is_int(dipc_pool_stats(e->p, &st), 0, "%s: dipc_pool_stats works again", who);
	if (!ok(st.free == base->free && st.nallocs == base->nallocs,
		"%s: all memory is back (the parked free included)", who))
		diag("  free %llu nallocs %llu, want %llu and %llu",
		     (unsigned long long)st.free, (unsigned long long)st.nallocs,
		     (unsigned long long)base->free, (unsigned long long)base->nallocs);

	dipc_mem *m = NULL;
	is_int(dipc_pool_alloc(e->p, BIG, &m), 0, "%s: dipc_pool_alloc works again", who);
	if (m)
		dipc_mem_free(m);
	m = NULL;
	is_int(dipc_pool_alloc_wait(e->p, BIG, 100 * TC_MS, &m), 0,
	       "%s: dipc_pool_alloc_wait works again", who);
	if (m)
		is_int(dipc_mem_free(m), 0, "%s: dipc_mem_free works again", who);
	is_int(dipc_sendh_send_bytes(e->sh, e->sendbuf, SEND_LEN, 100 * TC_MS), 0,
	       "%s: dipc_sendh_send_bytes of 8 KiB works again", who);
	static unsigned char got[SEND_LEN];
	size_t len = 0;
	int rc = dipc_recvh_recv_bytes(e->rh, got, sizeof(got), &len, TC_SEC);
	ok(rc == 0 && len == SEND_LEN && memcmp(got, e->sendbuf, SEND_LEN) == 0,
	   "%s: and the 8 KiB arrive whole", who);
	ok(dipc_pool_reclaim(e->p) >= 0, "%s: dipc_pool_reclaim works again", who);
	dipc_channel *ch = NULL;
	is_int(dipc_channel_create(e->p, 2, NULL, &ch), 0,
	       "%s: dipc_channel_create works again", who);
	if (ch)
		is_int(dipc_channel_destroy(ch), 0, "%s: dipc_channel_destroy works again", who);
	is_int(dipc_pool_stats(e->p, &st), 0, "%s: dipc_pool_stats", who);
	ok(st.free == base->free && st.nallocs == base->nallocs,
	   "%s: the figures are as before", who);
}

#ifndef _WIN32
/* (a) Stop the churning child while the lock word names it. */
static void test_stopped(struct env *e, struct book *bk, const char *arg,
			 const struct dipc_pool_stats *base)
{
	static struct call calls[NOPS];
	_Atomic uint32_t *word = &e->p->hdr->lock.owner;
	atomic_store(&bk->stop, 0);
	atomic_store(&bk->pid, 0);
	atomic_store(&bk->rounds, 0);
	prepare(e);
	t_pid kid = tc_spawn("churn", arg);
	if (!kid)
		bail_out("cannot start the child");
	uint32_t cpid = pid_of(kid);
	if (!tc_wait_flag(&bk->rounds, 10, 30))
		bail_out("the child does not churn");
	int stopped = 0, tries = 0;
	int64_t end = tc_now_ns() + 120 * TC_SEC;
	while (!stopped && tc_now_ns() < end) {
		tries++;
		/* Catch it holding the lock, stop it, make sure it stopped
		 * with the lock; else let it go on and try again. */
		int64_t look = tc_now_ns() + TC_SEC;
		while (atomic_load(word) != cpid && tc_now_ns() < look)
			;
		kill(kid, SIGSTOP);
		int st;
		pid_t r;
		while ((r = waitpid(kid, &st, WUNTRACED)) < 0 && errno == EINTR)
			;
		if (r != kid || !WIFSTOPPED(st))
			bail_out("the child did not stop");
		if (atomic_load(word) == cpid)
			stopped = 1;
		else
			kill(kid, SIGCONT);
	}
	if (!ok(stopped, "stopped the child while it holds the pool lock (%d tries)", tries)) {
		atomic_store(&bk->stop, 1);
		tc_reap(kid, 30);
		return;
	}
	diag("stopped child %u holding the lock after %d tries, %llu rounds", cpid, tries,
	     (unsigned long long)atomic_load(&bk->rounds));

	calls_while_kept(e, calls, "stopped holder");

	kill(kid, SIGCONT);
	atomic_store(&bk->stop, 1);
	settle(e, calls);
	is_int(tc_reap(kid, 30), 0, "the child, let go on, finished its work without a failure");
	check_back(e, base, "after SIGCONT");
}
#endif

/* (b) A live, sleeping process's id written into the lock word; (c) the
 * caller's own id (a thread of its own could be the holder, so the
 * caller cannot tell it from a hostile write: its deadline still holds). */
static void test_hostile(struct env *e, const struct dipc_pool_stats *base, int self)
{
	static struct call calls[NOPS];
	const char *who = self ? "own id in the lock word" : "hostile lock word";
	_Atomic uint32_t *word = &e->p->hdr->lock.owner;
	prepare(e);
	t_pid kid = 0;
	uint32_t holder = (uint32_t)tc_getpid();
	if (!self) {
		kid = tc_spawn("sleep", "-");
		if (!kid)
			bail_out("cannot start the child");
		holder = pid_of(kid);
	}
	uint32_t zero = 0;
	if (!ok(atomic_compare_exchange_strong(word, &zero, holder),
		"wrote live process %u%s into the free lock word", holder,
		self ? " (this one)" : ""))
		return;

	calls_while_kept(e, calls, who);

	uint32_t cur = holder;
	ok(atomic_compare_exchange_strong(word, &cur, 0),
	   "%s: the word still named %u; cleared", who, holder);
	settle(e, calls);
	if (kid)
		tc_kill(kid);
	check_back(e, base, self ? "after clearing our id" : "after clearing the word");
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(600);
	static struct env e;
	tc_fill(e.sendbuf, sizeof(e.sendbuf), 12);
	if (!tc_pool_new("stopped", POOL_SIZE, &e.p))
		bail_out("cannot create the pool");
	dipc_mem *bm;
	if (dipc_pool_alloc(e.p, sizeof(struct book), &bm))
		bail_out("cannot allocate the book");
	struct book *bk = tc_ptr(bm);
	memset(bk, 0, sizeof(*bk));
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 4;
	ca.block_size = 1024;
	dipc_channel *ch;
	if (dipc_channel_create(e.p, 1, &ca, &ch) || dipc_sendh_create(ch, NULL, &e.sh) ||
	    dipc_sendh_open(e.sh) || dipc_recvh_create(ch, NULL, &e.rh) || dipc_recvh_open(e.rh))
		bail_out("cannot set up the channel");
	struct dipc_pool_stats base;
	if (dipc_pool_stats(e.p, &base))
		bail_out("dipc_pool_stats");

#ifndef _WIN32
	char hp[TC_HEX_MAX], hm[TC_HEX_MAX], arg[2 * TC_HEX_MAX + 2];
	tc_hex_pool(e.p, hp);
	tc_hex_mem(bm, hm);
	snprintf(arg, sizeof(arg), "%s:%s", hp, hm);
	test_stopped(&e, bk, arg, &base);
#else
	skip(1, "no SIGSTOP on Windows: the stopped holder is POSIX only");
#endif
	test_hostile(&e, &base, 0);
	test_hostile(&e, &base, 1);

	dipc_sendh_destroy(e.sh);
	dipc_recvh_destroy(e.rh);
	is_int(dipc_channel_destroy(ch), 0, "channel destroyed");
	dipc_mem_free(bm);
	is_int(tc_pool_del(e.p), 0, "pool destroyed");
	return tc_finish();
}

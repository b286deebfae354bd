/*
 * channel_crash.c - processes killed at bad moments.
 *
 *  - killed while blocked in send or in receive, in each wait mode: the
 *    channel keeps exactly what it had and works at full capacity;
 *  - killed inside the library's own copy, at a known point: the child
 *    hands over a buffer whose tail is a no-access page (a producer after
 *    claiming a slot, a consumer before committing, both sides of a
 *    payload that travels as an allocation);
 *  - a block another process allocated and left, sent here by transfer;
 *  - a producer and a consumer killed at random points of a busy loop,
 *    many times over: nothing committed is lost or delivered twice, the
 *    survivor still sends and receives a full capacity, and reclaim
 *    returns the pool to where it was (DIPC_TEST_SEED=n replays a run);
 *  - a process killed while it holds the pool lock (it allocates and
 *    frees in a tight loop): the lock is taken over, and alloc, free and
 *    stats still work and agree.
 *
 * Bookkeeping of the random kills (all in a shared pool allocation):
 * the producer stores the sequence number it is about to send in
 * "attempt" and, once the send returned, in "committed"; the consumer
 * sets "busy" around each receive and stores the last sequence it took
 * in "got".  After both are dead the parent drains the channel.  Then
 * 1..committed must each have arrived exactly once, except that the one
 * message a consumer killed inside a receive may have taken with it
 * (got+1, only when busy) may be missing; the one in flight at the
 * producer's kill (attempt, when it is committed+1) may arrive or not.
 * Nothing may arrive twice, out of order, or beyond attempt.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define BLOCK 128
#define RC_EXIT(rc) (100 + -(rc))
#define MARK (UINT64_C(1) << 40)

struct crash_book {
	_Atomic uint64_t ready;
	_Atomic uint64_t attempt;
	_Atomic uint64_t committed;
	_Atomic uint64_t got;
	_Atomic uint64_t busy;
	_Atomic uint64_t errors;
	_Atomic uint64_t received;
	uint32_t desc_len;
	unsigned char desc[DIPC_SERIAL_MAX];
};

/* Big messages (the "big" trials): the producer's time goes into copying
 * them into a claimed slot, so kills land mid-write.  Header and trailer
 * carry the sequence number; a torn copy shows as a mismatch. */
#define BIG_LEN (96 * 1024)

static void big_make(unsigned char *b, uint64_t seq)
{
	struct tc_msghdr h = { TC_MSG_DATA, 0, seq, BIG_LEN, seq * 0x9e3779b97f4a7c15ull };
	memcpy(b, &h, sizeof(h));
	memcpy(b + BIG_LEN - 8, &seq, 8);
}

static int big_read(const unsigned char *b, size_t len, uint64_t *seq)
{
	struct tc_msghdr h;
	uint64_t t;
	if (len != BIG_LEN)
		return -1;
	memcpy(&h, b, sizeof(h));
	memcpy(&t, b + BIG_LEN - 8, 8);
	if (h.magic != TC_MSG_DATA || h.len != BIG_LEN || h.sum != h.seq * 0x9e3779b97f4a7c15ull ||
	    t != h.seq)
		return -1;
	*seq = h.seq;
	return 0;
}

/* Read a message of either kind. */
static int any_read(const unsigned char *b, size_t len, uint64_t *seq)
{
	uint32_t prod;
	if (len == BIG_LEN)
		return big_read(b, len, seq);
	return tc_msg_read(b, len, &prod, seq);
}

static int attach_all(const char **a, dipc_channel **ch, dipc_pool **p, struct crash_book **bk)
{
	char hex[TC_HEX_MAX];
	dipc_mem *bm;
	if (tc_attach_chan_hex(tc_field(a, hex, sizeof(hex)), NULL, ch))
		return 10;
	dipc_channel_pool(*ch, p);
	if (tc_attach_mem_hex(*p, tc_field(a, hex, sizeof(hex)), &bm))
		return 11;
	*bk = tc_ptr(bm);
	dipc_mem_detach(bm);
	return 0;
}

static int producer(dipc_channel *ch, dipc_pool *p, struct crash_book *bk, int big)
{
	dipc_sendh *sh;
	dipc_msg *m;
	static unsigned char buf[BIG_LEN];
	void *mp;
	uint64_t seed = (uint64_t)tc_getpid();
	if (dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh))
		return 20;
	if (dipc_msg_create_alloc(p, big ? BIG_LEN : BLOCK, &m))  /* ours: reclaim frees it */
		return 21;
	dipc_msg_get(m, &mp, NULL);
	atomic_fetch_or(&bk->ready, 1);
	int64_t end = tc_now_ns() + 30 * TC_SEC;  /* never outlive the test */
	for (uint64_t s = 1; tc_now_ns() < end; s++) {
		size_t len = sizeof(struct tc_msghdr) +
			     (size_t)(tc_rand(&seed) % (BLOCK - sizeof(struct tc_msghdr) + 1));
		atomic_store(&bk->attempt, s);
		int rc;
		if (big) {
			big_make(buf, s);
			rc = dipc_sendh_send_bytes(sh, buf, BIG_LEN, 30 * TC_SEC);
		} else if (s % 4 == 0) {
			tc_msg_make(mp, 0, s, len);
			dipc_mem *mem, *part;
			dipc_msg *pm;
			dipc_msg_mem(m, &mem);
			dipc_mem_clone(mem, 0, len, &part);
			dipc_msg_create_from_mem(part, &pm);
			rc = dipc_sendh_send(sh, pm, NULL, DIPC_COPY_ON_SEND, 30 * TC_SEC);
			dipc_msg_destroy(pm, 0);
		} else {
			tc_msg_make(buf, 0, s, len);
			rc = dipc_sendh_send_bytes(sh, buf, len, 30 * TC_SEC);
		}
		if (rc)
			return RC_EXIT(rc);
		atomic_store(&bk->committed, s);
	}
	return 0;
}

static int consumer(dipc_channel *ch, dipc_pool *p, struct crash_book *bk)
{
	dipc_recvh *rh;
	dipc_msg *dest;
	static unsigned char buf[BIG_LEN];
	if (dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		return 20;
	if (dipc_msg_create_alloc(p, BIG_LEN, &dest))
		return 21;
	atomic_fetch_or(&bk->ready, 2);
	int64_t end = tc_now_ns() + 30 * TC_SEC;
	for (unsigned n = 0; tc_now_ns() < end; n++) {
		void *ptr = buf;
		size_t len = 0;
		dipc_msg *m = NULL;
		int rc;
		atomic_store(&bk->busy, 1);
		switch (n % 3) {
		case 0:
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 30 * TC_SEC);
			break;
		case 1:
			dipc_msg_create_empty(&m);
			rc = dipc_recvh_recv(rh, m, 30 * TC_SEC);
			dipc_msg_get(m, &ptr, &len);
			break;
		default:
			rc = dipc_recvh_recv(rh, dest, 30 * TC_SEC);
			dipc_msg_get(dest, &ptr, &len);
			break;
		}
		uint64_t seq = 0;
		if (rc || any_read(ptr, len, &seq) != 0 ||
		    seq != atomic_load(&bk->got) + 1)
			atomic_fetch_add(&bk->errors, 1);
		if (m)
			dipc_msg_destroy(m, 1);
		if (rc)
			return RC_EXIT(rc);
		atomic_store(&bk->got, seq);
		atomic_fetch_add(&bk->received, 1);
		atomic_store(&bk->busy, 0);
	}
	return 0;
}

/* Two pages, the second inaccessible: a copy through the end of the first
 * faults, which kills the process at a known point inside the library. */
static unsigned char *guarded(size_t *page)
{
#ifdef _WIN32
	SYSTEM_INFO si;
	DWORD old;
	GetSystemInfo(&si);
	size_t pg = si.dwPageSize;
	unsigned char *p = VirtualAlloc(NULL, 2 * pg, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
	if (!p || !VirtualProtect(p + pg, pg, PAGE_NOACCESS, &old))
		return NULL;
#else
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + pg, pg, PROT_NONE) != 0)
		return NULL;
#endif
	*page = pg;
	return p;
}

int t_child(const char *role, const char *arg)
{
	const char *a = arg;
	dipc_channel *ch;
	dipc_pool *p;
	struct crash_book *bk;
	char hex[TC_HEX_MAX];

	if (strcmp(role, "churn") == 0) {
		/* Allocate and free as fast as possible, to be killed at it. */
		dipc_mem *bm, *live[32] = { 0 };
		if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p) ||
		    tc_attach_mem_hex(p, tc_field(&a, hex, sizeof(hex)), &bm))
			return 10;
		bk = tc_ptr(bm);
		uint64_t seed = (uint64_t)tc_getpid();
		atomic_store(&bk->ready, 1);
		int64_t end = tc_now_ns() + 30 * TC_SEC;
		for (unsigned n = 0; (n & 1023) || tc_now_ns() < end; n++) {
			int k = (int)(tc_rand(&seed) % 32);
			if (live[k]) {
				dipc_mem_free(live[k]);
				live[k] = NULL;
			} else if (dipc_pool_alloc(p, 64 + (size_t)(tc_rand(&seed) % 8192),
						   &live[k])) {
				live[k] = NULL;
			}
		}
		return 0;
	}

	int rc = attach_all(&a, &ch, &p, &bk);
	if (rc)
		return rc;
	if (strcmp(role, "prod") == 0)
		return producer(ch, p, bk, (int)tc_field_num(&a));
	if (strcmp(role, "cons") == 0)
		return consumer(ch, p, bk);
	if (strcmp(role, "lend") == 0) {
		/* Allocate, describe it to the parent, leave when told,
		 * without freeing. */
		dipc_mem *m;
		if (dipc_pool_alloc(p, 500, &m))
			return 12;
		tc_fill(tc_ptr(m), 500, 77);
		bk->desc_len = (uint32_t)dipc_mem_serialize(m, bk->desc, sizeof(bk->desc));
		atomic_store(&bk->ready, 1);
		int64_t end = tc_now_ns() + 30 * TC_SEC;
		while (atomic_load(&bk->ready) != 2 && tc_now_ns() < end)
			tc_sleep_ms(1);
		return 0;
	}
	if (strcmp(role, "torn") == 0) {
		/* Send (0) or receive (1) len bytes through a buffer whose 65th
		 * byte faults: the process dies inside the library's copy. */
		int what = (int)tc_field_num(&a);
		size_t len = (size_t)tc_field_num(&a), pg, got;
		unsigned char *g = guarded(&pg);
		dipc_sendh *sh;
		dipc_recvh *rh;
		if (!g)
			return 12;
		unsigned char *buf = g + pg - 64;
		memset(buf, 0x5a, 64);
		if (dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh) ||
		    dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
			return 13;
		atomic_store(&bk->ready, 1);
		if (what == 0)
			rc = dipc_sendh_send_bytes(sh, buf, len, 5 * TC_SEC);
		else
			rc = dipc_recvh_recv_bytes(rh, buf, len, &got, 5 * TC_SEC);
		return RC_EXIT(rc);  /* should have died */
	}
	if (strcmp(role, "block") == 0) {
		/* Block forever in a send (0), a receive of bytes (1), into an
		 * empty message (2) or into a destination message (3). */
		int what = (int)tc_field_num(&a);
		struct dipc_handle_attr ha;
		dipc_handle_attr_init(&ha);
		ha.wait_mode = (int32_t)tc_field_num(&a);
		dipc_sendh *sh;
		dipc_recvh *rh;
		dipc_msg *m = NULL;
		char buf[64];
		size_t len;
		if (dipc_sendh_create(ch, &ha, &sh) || dipc_sendh_open(sh) ||
		    dipc_recvh_create(ch, &ha, &rh) || dipc_recvh_open(rh))
			return 12;
		if (what == 2)
			dipc_msg_create_empty(&m);
		if (what == 3 && dipc_msg_create_alloc(p, 64, &m))
			return 13;
		atomic_store(&bk->ready, 1);
		if (what == 0)
			rc = dipc_sendh_send_bytes(sh, "never", 6, DIPC_WAIT_FOREVER);
		else if (what == 4) {
			static unsigned char big[3 * BLOCK];
			rc = dipc_sendh_send_bytes(sh, big, sizeof(big), DIPC_WAIT_FOREVER);
		} else if (what == 1)
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_WAIT_FOREVER);
		else
			rc = dipc_recvh_recv(rh, m, DIPC_WAIT_FOREVER);
		return RC_EXIT(rc);  /* should not get here */
	}
	return 1;
}

/* ---- helpers --------------------------------------------------------------- */

struct fixture {
	dipc_pool *p;
	dipc_mem *bm;
	struct crash_book *bk;
	char bookhex[TC_HEX_MAX];
	struct dipc_pool_stats base;  /* with only the book allocated */
};

static int fixture_new(struct fixture *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	tc_pool_new(name, 4 << 20, &f->p);
	if (!f->p)
		return -1;
	if (dipc_pool_alloc(f->p, sizeof(struct crash_book), &f->bm)) {
		tc_pool_del(f->p);
		return -1;
	}
	f->bk = tc_ptr(f->bm);
	memset(f->bk, 0, sizeof(*f->bk));
	tc_hex_mem(f->bm, f->bookhex);
	dipc_pool_stats(f->p, &f->base);
	return 0;
}

static void fixture_del(struct fixture *f)
{
	dipc_mem_free(f->bm);
	struct dipc_pool_stats s;
	dipc_pool_stats(f->p, &s);
	ok(s.nallocs == 0 && s.nchannels == 0 && s.free == s.total,
	   "the pool is empty at the end (%llu allocations)", (unsigned long long)s.nallocs);
	E(tc_pool_del(f->p), 0);
}

/* The pool holds the book and nothing else. */
static int pool_at_base(struct fixture *f)
{
	struct dipc_pool_stats s;
	if (dipc_pool_stats(f->p, &s))
		return 0;
	return s.nallocs == f->base.nallocs && s.free == f->base.free &&
	       s.nchannels == f->base.nchannels && s.largest_free == f->base.largest_free;
}

static dipc_channel *mkchan(dipc_pool *p, uint64_t cuid, uint64_t cap, uint64_t block,
			    char *hex)
{
	struct dipc_channel_attr a;
	dipc_channel *ch = NULL;
	dipc_channel_attr_init(&a);
	a.capacity = cap;
	a.block_size = block;
	int rc = dipc_channel_create(p, cuid, &a, &ch);
	if (rc) {
		diag("channel_create: %s", dipc_strerror(rc));
		bail_out("cannot create a channel");
	}
	tc_hex_chan(ch, hex);
	return ch;
}

/* Send cap markers and take them back, in order, with bounded waits.
 * Returns 1 if the channel carried a full capacity. */
static int full_capacity(dipc_channel *ch, dipc_sendh *sh, dipc_recvh *rh, int cap)
{
	unsigned char buf[BLOCK];
	size_t len;
	uint32_t prod;
	uint64_t seq = 0;
	for (int i = 0; i < cap; i++) {
		tc_msg_make(buf, 9, MARK + (uint64_t)i, 40);
		int rc = dipc_sendh_send_bytes(sh, buf, 40, 5 * TC_SEC);
		if (rc) {
			diag("marker %d: send %s", i, dipc_strerror(rc));
			return 0;
		}
	}
	if (dipc_channel_count(ch) != cap ||
	    dipc_channel_poll(ch, DIPC_POLL_FULL, DIPC_TRY_ONCE) != DIPC_POLL_FULL) {
		diag("after %d markers: count %d, not full", cap, dipc_channel_count(ch));
		return 0;
	}
	for (int i = 0; i < cap; i++) {
		int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 5 * TC_SEC);
		if (rc || tc_msg_read(buf, len, &prod, &seq) != 0 || seq != MARK + (uint64_t)i) {
			diag("marker %d: %s, got %llu", i, rc ? dipc_strerror(rc) : "a wrong message",
			     (unsigned long long)seq);
			return 0;
		}
	}
	return dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE) == DIPC_EEMPTY &&
	       dipc_channel_count(ch) == 0;
}

/* ---- killed while blocked ---------------------------------------------- */

static void test_blocked(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	static const char *modes[] = { "adaptive", "spin", "idle" };
	static const char *what_s[] = { "send", "receive of bytes", "receive into an empty message",
					"receive into a destination message",
					"send of a payload larger than a block" };
	if (fixture_new(&f, "blocked"))
		return;
	for (int mode = DIPC_WAIT_ADAPTIVE; mode <= DIPC_WAIT_IDLE; mode++) {
		for (int what = 0; what < 5; what++) {
			int cap = 4;
			dipc_channel *ch = mkchan(f.p, (uint64_t)(mode * 10 + what), (uint64_t)cap,
						  BLOCK, chex);
			dipc_sendh *sh;
			dipc_recvh *rh;
			dipc_sendh_create(ch, NULL, &sh);
			dipc_sendh_open(sh);
			dipc_recvh_create(ch, NULL, &rh);
			dipc_recvh_open(rh);
			unsigned char buf[BLOCK];
			if (what == 0 || what == 4)
				for (int i = 0; i < cap; i++) {
					tc_msg_make(buf, 1, (uint64_t)i, 50);
					dipc_sendh_send_bytes(sh, buf, 50, 0);
				}
			f.bk->ready = 0;
			snprintf(arg, sizeof(arg), "%s:%s:%d:%d", chex, f.bookhex, what, mode);
			t_pid kid = tc_spawn("block", arg);
			int up = tc_wait_flag(&f.bk->ready, 1, 20);
			tc_sleep_ms(30);
			int still = up && t_wait(kid, 0.05) == -1;
			int st = tc_kill(kid);
			ok(still && st == T_KILLED, "%s: a process blocked in %s is killed", modes[mode],
			   what_s[what]);
			int reclaimed = dipc_pool_reclaim(f.p);
			ok(reclaimed == (what >= 3), "  reclaim frees what it held (%d)", reclaimed);
			int intact = 1;
			if (what == 0 || what == 4) {
				/* The dead sender added nothing and took no slot. */
				intact = dipc_channel_count(ch) == cap;
				for (int i = 0; i < cap; i++) {
					size_t len;
					uint32_t prod;
					uint64_t seq;
					if (dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0) ||
					    tc_msg_read(buf, len, &prod, &seq) || seq != (uint64_t)i)
						intact = 0;
				}
			}
			ok(intact, "  the channel holds what it held");
			ok(full_capacity(ch, sh, rh, cap), "  and carries a full capacity again");
			dipc_sendh_destroy(sh);
			dipc_recvh_destroy(rh);
			dipc_channel_destroy(ch);
			ok(pool_at_base(&f), "  the pool is back where it was");
		}
	}
	fixture_del(&f);
}

/* ---- killed inside the library's copy --------------------------------------- */

/* Run a "torn" child and wait for it to die in its copy. */
static int torn(struct fixture *f, const char *chex, int what, size_t len)
{
	char arg[3 * TC_HEX_MAX];
	f->bk->ready = 0;
	snprintf(arg, sizeof(arg), "%s:%s:%d:%zu", chex, f->bookhex, what, len);
	t_pid kid = tc_spawn("torn", arg);
	int st = tc_reap(kid, 30);
#ifdef _WIN32
	int died = st != 0 && st != -1 && (st < 100 || st > 100 - DIPC_ERRNO_LAST);
#else
	int died = st == 128 + SIGSEGV;
#endif
	died = died && atomic_load(&f->bk->ready) == 1;
	if (!died)
		diag("the child ended with %d", st);
	return died;
}

static int recv_seq(dipc_recvh *rh, uint64_t want, int64_t timeout)
{
	unsigned char buf[4 * BLOCK];
	size_t len;
	uint32_t pr;
	uint64_t seq = UINT64_MAX;
	int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, timeout);
	if (rc) {
		diag("receive %llu: %s", (unsigned long long)want, dipc_strerror(rc));
		return 0;
	}
	if (tc_msg_read(buf, len, &pr, &seq) || seq != want) {
		diag("wanted %llu, got %llu", (unsigned long long)want, (unsigned long long)seq);
		return 0;
	}
	return 1;
}

static int send_seq(dipc_sendh *sh, uint64_t seq, size_t len, int64_t timeout)
{
	unsigned char buf[4 * BLOCK];
	tc_msg_make(buf, 1, seq, len);
	int rc = dipc_sendh_send_bytes(sh, buf, len, timeout);
	if (rc)
		diag("send %llu: %s", (unsigned long long)seq, dipc_strerror(rc));
	return rc == 0;
}

static void test_torn(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX];
	if (fixture_new(&f, "torn"))
		return;
	const int cap = 4;
	dipc_sendh *sh;
	dipc_recvh *rh;
	dipc_channel *ch;
#define OPEN_CH(cuid) do { \
	ch = mkchan(f.p, (cuid), (uint64_t)cap, BLOCK, chex); \
	dipc_sendh_create(ch, NULL, &sh); \
	dipc_sendh_open(sh); \
	dipc_recvh_create(ch, NULL, &rh); \
	dipc_recvh_open(rh); \
} while (0)
#define CLOSE_CH() do { \
	dipc_sendh_destroy(sh); \
	dipc_recvh_destroy(rh); \
	dipc_channel_destroy(ch); \
} while (0)

	/* A producer dies after claiming a slot, before committing it,
	 * between messages of a live producer. */
	OPEN_CH(1);
	int good = send_seq(sh, 1, 60, 0) && send_seq(sh, 2, 60, 0);
	ok(torn(&f, chex, 0, BLOCK), "a producer dies inside its copy into a slot");
	good = good && send_seq(sh, 3, 60, 0);
	is_int(dipc_channel_count(ch), 4, "the dead producer's slot is counted");
	good = good && recv_seq(rh, 1, 0) && recv_seq(rh, 2, 0);
	int64_t t0 = tc_now_ns();
	good = good && recv_seq(rh, 3, 10 * TC_SEC);
	ok(good, "receivers pass the dead slot and get 1, 2, 3 in order (%.0f ms)",
	   (double)(tc_now_ns() - t0) / 1e6);
	is_int(dipc_channel_count(ch), 0, "nothing is left");
	ok(full_capacity(ch, sh, rh, cap), "the channel carries a full capacity");
	CLOSE_CH();
	ok(pool_at_base(&f), "the pool is back where it was");

	/* A dead producer's slot at the head must not hide what follows it
	 * from a receiver that polls, or that only tries once at a time. */
	OPEN_CH(5);
	ok(torn(&f, chex, 0, BLOCK), "a producer dies inside its copy into a slot");
	good = send_seq(sh, 7, 60, 0);
	t0 = tc_now_ns();
	is_int(dipc_channel_poll(ch, DIPC_POLL_READABLE, 5 * TC_SEC), DIPC_POLL_READABLE,
	       "poll for readable sees the message behind the dead slot (%.0f ms)",
	       (double)(tc_now_ns() - t0) / 1e6);
	good = good && send_seq(sh, 8, 60, 0);
	int tries = 0, got = 0;
	t0 = tc_now_ns();
	while (got < 2 && tc_now_ns() - t0 < 5 * TC_SEC) {
		unsigned char buf[BLOCK];
		size_t len;
		uint32_t pr;
		uint64_t seq;
		tries++;
		int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE);
		if (rc == DIPC_EEMPTY) {
			tc_sleep_ms(1);
			continue;
		}
		if (rc || tc_msg_read(buf, len, &pr, &seq) || seq != 7 + (uint64_t)got)
			break;
		got++;
	}
	ok(good && got == 2, "try-once receives get both messages behind it (%d tries)", tries);
	CLOSE_CH();
	ok(pool_at_base(&f), "the pool is back where it was");

	/* The same, and the survivor sends before anyone receives. */
	OPEN_CH(2);
	ok(torn(&f, chex, 0, BLOCK), "a producer dies inside its copy into an empty channel");
	good = 1;
	for (int i = 0; i < cap - 1 && good; i++)
		good = send_seq(sh, 10 + (uint64_t)i, 60, DIPC_TRY_ONCE);
	is_int(dipc_channel_poll(ch, DIPC_POLL_WRITABLE | DIPC_POLL_FULL, DIPC_TRY_ONCE),
	       DIPC_POLL_WRITABLE, "with %d sent, poll says writable: the dead slot is no message",
	       cap - 1);
	good = good && send_seq(sh, 10 + (uint64_t)cap - 1, 60, DIPC_TRY_ONCE);
	ok(good, "a survivor sends a full capacity of %d with try-once sends", cap);
	is_int(dipc_channel_poll(ch, DIPC_POLL_WRITABLE | DIPC_POLL_FULL, DIPC_TRY_ONCE),
	       DIPC_POLL_FULL, "then the channel is full");
	good = 1;
	for (int i = 0; i < cap && good; i++)
		good = recv_seq(rh, 10 + (uint64_t)i, DIPC_TRY_ONCE);
	ok(good, "and they arrive in order, with try-once receives");
	is_int(dipc_channel_count(ch), 0, "nothing is left");
	CLOSE_CH();
	ok(pool_at_base(&f), "the pool is back where it was");

	/* A consumer dies copying a message out: it was not taken. */
	OPEN_CH(3);
	good = send_seq(sh, 1, BLOCK, 0) && send_seq(sh, 2, 60, 0);
	ok(torn(&f, chex, 1, BLOCK), "a consumer dies inside its copy out of a slot");
	is_int(dipc_channel_count(ch), 2, "both messages are still there");
	good = good && recv_seq(rh, 1, 0) && recv_seq(rh, 2, 0);
	ok(good, "and arrive whole, in order");
	CLOSE_CH();
	ok(pool_at_base(&f), "the pool is back where it was");

	/* Payloads larger than a block travel in allocations: a process that
	 * dies with one in hand must not leak it past a reclaim. */
	OPEN_CH(4);
	ok(torn(&f, chex, 0, 3 * BLOCK), "a producer dies filling a large payload's allocation");
	is_int(dipc_channel_count(ch), 0, "nothing was sent");
	is_int(dipc_pool_reclaim(f.p), 1, "reclaim frees the allocation it was filling");
	good = send_seq(sh, 1, 3 * BLOCK, 0) && send_seq(sh, 2, 60, 0);
	ok(torn(&f, chex, 1, 3 * BLOCK), "a consumer dies copying a large payload out");
	is_int(dipc_pool_reclaim(f.p), 1, "reclaim frees the allocation it was copying from");
	good = good && recv_seq(rh, 2, 0);
	ok(good, "the next message arrives (the large one went with the consumer)");
	ok(full_capacity(ch, sh, rh, cap), "the channel carries a full capacity");
	CLOSE_CH();
	ok(pool_at_base(&f), "the pool is back where it was");
#undef OPEN_CH
#undef CLOSE_CH
	fixture_del(&f);
}

/* A block allocated by another process, sent here by transfer: once a
 * send of it has begun it is the sender's, and its allocator's death must
 * not let reclaim free it. */
static void test_lent(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	if (fixture_new(&f, "lent"))
		return;
	dipc_channel *ch = mkchan(f.p, 1, 2, BLOCK, chex);
	dipc_sendh *sh;
	dipc_recvh *rh;
	dipc_sendh_create(ch, NULL, &sh);
	dipc_sendh_open(sh);
	dipc_recvh_create(ch, NULL, &rh);
	dipc_recvh_open(rh);
	int good = send_seq(sh, 1, 60, 0) && send_seq(sh, 2, 60, 0);
	snprintf(arg, sizeof(arg), "%s:%s", chex, f.bookhex);
	t_pid kid = tc_spawn("lend", arg);
	ok(good && tc_wait_flag(&f.bk->ready, 1, 20), "another process allocated a block");
	dipc_mem *m = NULL;
	dipc_msg *msg = NULL;
	E(dipc_mem_attach(f.p, f.bk->desc, f.bk->desc_len, &m), 0);
	if (m)
		dipc_msg_create_from_mem(m, &msg);
	if (!msg) {
		tc_kill(kid);
		goto out;
	}
	E(dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE), DIPC_EFULL);
	atomic_store(&f.bk->ready, 2);
	is_int(tc_reap(kid, 20), 0, "its allocator leaves without freeing it");
	is_int(dipc_pool_reclaim(f.p), 0, "reclaim leaves it alone: the sender has it");
	good = recv_seq(rh, 1, 0);
	E(dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE), 0);
	dipc_msg_destroy(msg, 0);
	good = good && recv_seq(rh, 2, 0);
	dipc_msg_create_empty(&msg);
	void *ptr = NULL;
	size_t sz = 0;
	E(dipc_recvh_recv(rh, msg, 0), 0);
	dipc_msg_get(msg, &ptr, &sz);
	ok(good && sz == 500 && tc_check(ptr, 500, 77), "it travels whole");
	dipc_msg_destroy(msg, 1);
out:
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	dipc_channel_destroy(ch);
	ok(pool_at_base(&f), "the pool is back where it was");
	fixture_del(&f);
}

/* ---- random kills ---------------------------------------------------------- */

static void test_random_kills(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	uint64_t seed = (uint64_t)tc_now_ns();
	const char *env = getenv("DIPC_TEST_SEED");
	if (env)
		seed = strtoull(env, NULL, 0);
	diag("random kills: DIPC_TEST_SEED=%llu", (unsigned long long)seed);
	if (fixture_new(&f, "kills"))
		return;
	const int max_trials = 150;
	const int64_t budget = 15 * TC_SEC;
	int64_t start = tc_now_ns();
	int trials = 0, failed = 0, lost_at_consumer = 0, in_flight_arrived = 0;
	int in_flight_absent = 0;
	uint64_t delivered = 0;
	for (; trials < max_trials && tc_now_ns() - start < budget; trials++) {
		struct crash_book *bk = f.bk;
		memset(bk, 0, sizeof(*bk));
		/* Every third trial moves big messages, whose copy into a
		 * claimed slot takes long enough for kills to land in it. */
		int big = trials % 3 == 2;
		int cap = big ? 2 + (int)(tc_rand(&seed) % 3) : 3 + (int)(tc_rand(&seed) % 6);
		dipc_channel *ch = mkchan(f.p, 1000 + (uint64_t)trials, (uint64_t)cap,
					  big ? BIG_LEN : BLOCK, chex);
		snprintf(arg, sizeof(arg), "%s:%s", chex, f.bookhex);
		t_pid cons = tc_spawn("cons", arg);
		snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, big);
		t_pid prod = tc_spawn("prod", arg);
		int fail = 0;
		if (!tc_wait_flag(&bk->ready, 3, 20)) {
			diag("trial %d: the children did not start", trials);
			fail = 1;
		}
		/* Let the loop run, then kill both at independent random times. */
		int d1 = (int)(tc_rand(&seed) % 12), d2 = (int)(tc_rand(&seed) % 12);
		int producer_first = (int)(tc_rand(&seed) & 1);
		tc_sleep_ms(d1);
		int s1 = tc_kill(producer_first ? prod : cons);
		tc_sleep_ms(d2);
		int s2 = tc_kill(producer_first ? cons : prod);
		if (s1 != T_KILLED || s2 != T_KILLED) {
			diag("trial %d: children ended with %d and %d, not by the kill", trials, s1, s2);
			fail = 1;
		}
		int rec = dipc_pool_reclaim(f.p);
		uint64_t A = atomic_load(&bk->attempt), C = atomic_load(&bk->committed);
		uint64_t G = atomic_load(&bk->got), B = atomic_load(&bk->busy);
		if (atomic_load(&bk->errors)) {
			diag("trial %d: the consumer saw a broken or out-of-order message", trials);
			fail = 1;
		}
		if (rec < 0) {
			diag("trial %d: reclaim: %s", trials, dipc_strerror(rec));
			fail = 1;
		}

		dipc_sendh *sh;
		dipc_recvh *rh;
		dipc_sendh_create(ch, NULL, &sh);
		dipc_sendh_open(sh);
		dipc_recvh_create(ch, NULL, &rh);
		dipc_recvh_open(rh);
		/* Drain what is left, as the surviving consumer. */
		uint64_t first = 0, last = 0;
		int n = 0;
		for (;;) {
			static unsigned char buf[BIG_LEN];
			size_t len;
			uint64_t seq;
			int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE);
			if (rc == DIPC_EEMPTY && dipc_channel_count(ch) > 0) {
				/* Only a slot claimed by the dead producer can be
				 * left, and a try-once receive passes it. */
				diag("trial %d: empty, yet %d counted", trials, dipc_channel_count(ch));
				fail = 1;
			}
			if (rc == DIPC_EEMPTY)
				break;
			if (rc || any_read(buf, len, &seq) != 0) {
				diag("trial %d: drain: %s", trials, rc ? dipc_strerror(rc) : "a broken message");
				fail = 1;
				break;
			}
			if (n == 0)
				first = seq;
			else if (seq != last + 1) {
				diag("trial %d: %llu after %llu", trials, (unsigned long long)seq,
				     (unsigned long long)last);
				fail = 1;
			}
			last = seq;
			n++;
		}
		if (dipc_channel_count(ch) != 0) {
			diag("trial %d: %d left after the drain", trials, dipc_channel_count(ch));
			fail = 1;
		}
		/* The books. */
		if (!(A == C || A == C + 1) || G > A) {
			diag("trial %d: inconsistent books: attempt %llu committed %llu got %llu",
			     trials, (unsigned long long)A, (unsigned long long)C, (unsigned long long)G);
			fail = 1;
		}
		uint64_t have = G;  /* everything up to here arrived exactly once */
		if (n) {
			if (first == G + 1) {
				;
			} else if (B && first == G + 2) {
				lost_at_consumer++;  /* taken by the consumer as it died */
			} else {
				diag("trial %d: drain starts at %llu, consumer had %llu (busy %llu)",
				     trials, (unsigned long long)first, (unsigned long long)G,
				     (unsigned long long)B);
				fail = 1;
			}
			have = last;
			if (last > A) {
				diag("trial %d: %llu arrived, never sent (attempt %llu)", trials,
				     (unsigned long long)last, (unsigned long long)A);
				fail = 1;
			}
		} else if (B && C == G + 1) {
			lost_at_consumer++;
			have = C;
		}
		if (have < C) {
			diag("trial %d: committed %llu, only %llu arrived (got %llu, drained %d from %llu, busy %llu)",
			     trials, (unsigned long long)C, (unsigned long long)have,
			     (unsigned long long)G, n, (unsigned long long)first, (unsigned long long)B);
			fail = 1;
		}
		if (A == C + 1 && have == A)
			in_flight_arrived++;
		else if (A == C + 1)
			in_flight_absent++;
		delivered += have;

		/* The survivor sends and receives a full capacity. */
		if (!full_capacity(ch, sh, rh, cap)) {
			diag("trial %d: the channel no longer carries its capacity of %d", trials, cap);
			fail = 1;
		}
		dipc_sendh_destroy(sh);
		dipc_recvh_destroy(rh);
		if (dipc_channel_destroy(ch) != 0)
			fail = 1;
		if (!pool_at_base(&f)) {
			struct dipc_pool_stats s;
			dipc_pool_stats(f.p, &s);
			diag("trial %d: pool not back at its base: %llu allocations, %llu free",
			     trials, (unsigned long long)s.nallocs, (unsigned long long)s.free);
			fail = 1;
		}
		failed += fail;
	}
	diag("%d trials in %.1f s: %llu messages checked, %d taken by a dying consumer, "
	     "of the message in flight at the producer's kill %d arrived, %d did not",
	     trials, (double)(tc_now_ns() - start) / 1e9, (unsigned long long)delivered,
	     lost_at_consumer, in_flight_arrived, in_flight_absent);
	ok(trials >= 10, "ran %d kill trials", trials);
	is_int(failed, 0, "no trial lost, duplicated or reordered a committed message, and "
	       "each left a working channel and a clean pool");
	ok(delivered > 0, "the trials moved messages before the kills");
	fixture_del(&f);
}

/* ---- killed while holding the pool lock ------------------------------------ */

static _Atomic int takeovers;

static void count_takeovers(int level, const char *message, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(message, "took over"))
		atomic_fetch_add(&takeovers, 1);
}

static void test_lock_holder(void)
{
	struct fixture f;
	char phex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	uint64_t seed = 4242;
	if (fixture_new(&f, "lock"))
		return;
	tc_hex_pool(f.p, phex);
	snprintf(arg, sizeof(arg), "%s:%s", phex, f.bookhex);
	dipc_log_set_handler(count_takeovers, NULL);
	dipc_log_set_level(DIPC_LOG_BASIC);
	int64_t start = tc_now_ns();
	int trials = 0, failed = 0, reclaimed = 0;
	while (trials < 300 && tc_now_ns() - start < 10 * TC_SEC) {
		if (trials >= 20 && atomic_load(&takeovers) >= 3)
			break;
		trials++;
		f.bk->ready = 0;
		t_pid kid = tc_spawn("churn", arg);
		if (!tc_wait_flag(&f.bk->ready, 1, 20)) {
			failed++;
			tc_kill(kid);
			continue;
		}
		tc_sleep_ms(1 + (int)(tc_rand(&seed) % 4));
		if (tc_kill(kid) != T_KILLED)
			failed++;
		struct dipc_pool_stats s;
		int rc = dipc_pool_stats(f.p, &s);
		int rec = dipc_pool_reclaim(f.p);
		if (rc || rec < 0) {
			diag("trial %d: stats %d, reclaim %d", trials, rc, rec);
			failed++;
			continue;
		}
		reclaimed += rec;
		if (s.nallocs != f.base.nallocs + (uint64_t)rec) {
			diag("trial %d: %llu allocations before reclaim, %d reclaimed",
			     trials, (unsigned long long)s.nallocs, rec);
			failed++;
		}
		/* Totals agree with the chain: back to the base exactly, and the
		 * largest free block is really there to allocate. */
		dipc_pool_stats(f.p, &s);
		dipc_mem *m;
		if (!pool_at_base(&f) || dipc_pool_alloc(f.p, (size_t)s.largest_free, &m) != 0) {
			diag("trial %d: free %llu of %llu, largest %llu, %llu allocations",
			     trials, (unsigned long long)s.free, (unsigned long long)s.total,
			     (unsigned long long)s.largest_free, (unsigned long long)s.nallocs);
			failed++;
			continue;
		}
		dipc_mem_free(m);
	}
	dipc_log_set_level(DIPC_LOG_DISABLE);
	dipc_log_set_handler(NULL, NULL);
	diag("%d kills in %.1f s, %d allocations reclaimed, the lock taken over from a "
	     "dead holder %d times", trials, (double)(tc_now_ns() - start) / 1e9, reclaimed,
	     atomic_load(&takeovers));
	is_int(failed, 0, "after each kill, stats, reclaim, alloc and free work and agree");
	ok(atomic_load(&takeovers) >= 1, "the child was killed holding the lock at least once "
	   "(%d times in %d kills) and the lock was taken over", atomic_load(&takeovers), trials);
	ok(reclaimed > 0, "reclaim freed the dead children's allocations (%d)", reclaimed);
	fixture_del(&f);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(240);
	test_blocked();
	test_torn();
	test_lent();
	test_random_kills();
	test_lock_holder();
	return tc_finish();
}

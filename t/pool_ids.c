/*
 * pool_ids.c - what a pool keeps of its creator's wishes and how its
 * allocations are named: the attributes (uid, max_allocs, the kept size of
 * DIPC_POOL_KEEP_SIZE) as every process sees them, allocation ids (the
 * first one, their life, stale ones refused after a free and after the
 * block is reused), dipc_pool_blocks, and ids passed between processes.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

/* Make a pool with attributes, tracked for clean-up. */
static dipc_pool *pool_with(const char *base, size_t size, uint32_t flags, uint64_t uid,
			    uint32_t max_allocs)
{
	struct dipc_pool_attr a;
	dipc_pool *p = NULL;
	dipc_pool_attr_init(&a);
	a.flags = flags;
	a.uid = uid;
	a.max_allocs = max_allocs;
	const char *name = t_name(base);
	int rc = dipc_pool_create(name, size, &a, &p);
	if (rc) {
		diag("dipc_pool_create(%s): %s", name, dipc_strerror(rc));
		return NULL;
	}
	tc_pool_track(name, p);
	return p;
}

/* Where a child writes what it found, in the parent's allocation. */
struct id_book {
	_Atomic uint64_t state;
	uint64_t id;            /* the child's allocation, for the parent */
	uint64_t uid;           /* the uid the child read from the pool */
	uint32_t max_allocs;
	uint32_t flags;
	uint64_t parents_seen;  /* what the child read at the parent's id */
};

int t_child(const char *role, const char *arg)
{
	char ph[TC_HEX_MAX], bh[TC_HEX_MAX];
	const char *a = arg;
	dipc_pool *p;
	dipc_mem *bm, *mine, *theirs;
	tc_field(&a, ph, sizeof(ph));
	tc_field(&a, bh, sizeof(bh));
	uint64_t parents = (uint64_t)tc_field_num(&a);
	if (strcmp(role, "peer") != 0)
		return 1;
	if (tc_attach_pool_hex(ph, &p) || tc_attach_mem_hex(p, bh, &bm))
		return 10;
	struct id_book *bk = tc_ptr(bm);
	if (!bk)
		return 10;
	struct dipc_pool_attr at;
	if (dipc_pool_get_attr(p, &at))
		return 11;
	bk->uid = at.uid;
	bk->max_allocs = at.max_allocs;
	bk->flags = at.flags;
	/* The parent's allocation, by its id alone. */
	if (dipc_mem_from_id(p, parents, &theirs))
		return 12;
	uint64_t *seen = tc_ptr(theirs);
	if (!seen)
		return 15;
	bk->parents_seen = *seen;
	dipc_mem_detach(theirs);
	/* One of ours, left for the parent to find by id and free. */
	if (dipc_pool_alloc(p, 3000, &mine))
		return 13;
	tc_fill(tc_ptr(mine), 3000, 9);
	if (dipc_mem_id(mine, &bk->id))
		return 14;
	dipc_mem_detach(mine);
	atomic_store(&bk->state, 1);
	dipc_mem_detach(bm);
	dipc_pool_detach(p);
	return 0;
}

static void test_attr(void)
{
	struct dipc_pool_attr a;
	dipc_pool *p = pool_with("ids-attr", 1 << 20, 0, UINT64_MAX - 6, 17);
	if (!p)
		return;
	E(dipc_pool_get_attr(p, &a), 0);
	ok(a.uid == UINT64_MAX - 6 && a.max_allocs == 17 && a.flags == 0 && a.mode == 0600,
	   "get_attr gives back the uid, the limit, the flags and the mode");
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_pool_serialize(p, d, sizeof(d));
	dipc_pool *q;
	E(dipc_pool_attach(d, (size_t)n, &q), 0);
	if (q) {
		memset(&a, 0, sizeof(a));
		E(dipc_pool_get_attr(q, &a), 0);
		ok(a.uid == UINT64_MAX - 6 && a.max_allocs == 17,
		   "another handle reads the same attributes from the pool");
		dipc_pool_detach(q);
	}
	E(dipc_pool_get_attr(p, NULL), DIPC_EINVAL);
	E(dipc_pool_get_attr(NULL, &a), DIPC_EINVAL);
	E(tc_pool_del(p), 0);

	dipc_pool_attr_init(&a);
	a.flags = 0x8;
	E(dipc_pool_create(t_name("ids-badflag"), 1 << 20, &a, &p), DIPC_EINVAL);
}

/* DIPC_POOL_POW2: blocks of powers of two; handles of the size asked. */
static void test_pow2(void)
{
	dipc_pool *p = pool_with("ids-pow2", 32768 + 128, DIPC_POOL_KEEP_SIZE | DIPC_POOL_POW2, 0, 0);
	dipc_mem *a, *b, *c;
	if (!p)
		return;
	E(dipc_pool_alloc(p, 10000, &a), 0);
	size_t sz = 0;
	dipc_mem_get(a, NULL, &sz);
	is_int(sz, 10000, "the handle has the size asked for");
	E(dipc_pool_alloc(p, 10000, &b), 0);
	E(dipc_pool_alloc(p, 5000, &c), DIPC_ENOSPC);
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	is_int(st.free, 32768 + 128 - 2 * (16384 + 64), "each took a 16384-byte block");
	struct dipc_block_info bi[4];
	dipc_pool_blocks(p, bi, 4);
	is_int(bi[0].size, 10000, "blocks reports the size asked for");
	uint64_t id;
	dipc_mem_id(a, &id);
	E(dipc_mem_from_id(p, id, &c), 0);
	dipc_mem_get(c, NULL, &sz);
	is_int(sz, 10000, "so does from_id");
	dipc_mem_detach(c);
	dipc_mem_free(a);
	/* 20000 takes 32768: room once b is freed, so it waits. */
	E(dipc_pool_alloc_wait(p, 20000, 20 * TC_MS, &c), DIPC_ETIMEDOUT);
	/* 40000 would take 65536, more than the pool: never, so at once. */
	E(dipc_pool_alloc_wait(p, 40000, DIPC_WAIT_FOREVER, &c), DIPC_ENOSPC);
	dipc_mem_free(b);
	dipc_channel *ch;
	E(dipc_channel_create(p, 1, NULL, &ch), 0);
	if (ch)
		dipc_channel_destroy(ch);
	E(tc_pool_del(p), 0);
}

/* max_allocs: the limit counts blocks in use, channels included; freed
 * blocks (cached or not) count again only when reused. */
static void test_limit(void)
{
	dipc_pool *p = pool_with("ids-limit", 1 << 20, 0, 0, 5);
	dipc_mem *m[6];
	if (!p)
		return;
	int i, rc = 0;
	for (i = 0; i < 5 && rc == 0; i++)
		rc = dipc_pool_alloc(p, 100 + 50 * i, &m[i]);
	is_int(rc, 0, "five allocations fit a limit of five");
	E(dipc_pool_alloc(p, 64, &m[5]), DIPC_ENOSPC);
	int64_t t0 = tc_now_ns();
	E(dipc_pool_alloc_wait(p, 64, 50 * TC_MS, &m[5]), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 50 * TC_MS, "a wait at the limit");
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	ok(st.largest_free > 100000, "while the pool has room for bytes");
	E(dipc_mem_free(m[2]), 0);
	E(dipc_pool_alloc(p, 200, &m[2]), 0);
	E(dipc_mem_free(m[3]), 0);
	E(dipc_pool_alloc(p, 5000, &m[3]), 0);
	E(dipc_pool_alloc(p, 64, &m[5]), DIPC_ENOSPC);
	dipc_channel *ch;
	E(dipc_channel_create(p, 1, NULL, &ch), DIPC_ENOSPC);
	E(dipc_mem_free(m[0]), 0);
	E(dipc_channel_create(p, 1, NULL, &ch), 0);
	E(dipc_pool_alloc(p, 64, &m[0]), DIPC_ENOSPC);
	if (ch)
		dipc_channel_destroy(ch);
	for (i = 1; i < 5; i++)
		dipc_mem_free(m[i]);
	dipc_pool_stats(p, &st);
	is_int(st.nallocs, 0, "all freed");
	E(tc_pool_del(p), 0);
}

/* DIPC_POOL_KEEP_SIZE: allocations see the size asked for; the rest of
 * the rounded-up pool waits for a channel. */
static void test_keep(void)
{
	dipc_pool *p = pool_with("ids-keep", 32768, DIPC_POOL_KEEP_SIZE, 0, 0);
	dipc_mem *m, *n2;
	struct dipc_pool_stats st;
	if (!p)
		return;
	dipc_pool_stats(p, &st);
	ok(st.total == 32768 && st.free == 32768 && st.nallocs == 0,
	   "its size and free space are the 32768 bytes asked for, and nothing counts as "
	   "allocated (total %llu)", (unsigned long long)st.total);
	E(dipc_pool_alloc(p, 32768, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc(p, 32768 - 64, &m), 0);
	E(dipc_pool_alloc(p, 64, &n2), DIPC_ENOSPC);
	struct dipc_block_info bi[4];
	int k = dipc_pool_blocks(p, bi, 4);
	is_int(k, 1, "blocks: the one allocation, not the kept block");
	dipc_mem_free(m);
	E(dipc_pool_alloc(p, 20000, &m), 0);
	dipc_channel *ch;
	E(dipc_channel_create(p, 7, NULL, &ch), 0);
	if (ch) {
		dipc_pool_stats(p, &st);
		ok(st.nallocs == 2 && st.free > 700000,
		   "a channel takes the kept room, and what it leaves is for everyone");
		E(dipc_pool_alloc(p, 100000, &n2), 0);
		dipc_mem_free(n2);
		dipc_channel_destroy(ch);
	}
	dipc_mem_free(m);
	dipc_pool_stats(p, &st);
	ok(st.nallocs == 0 && st.free == st.total && st.total == DIPC_POOL_MIN_SIZE,
	   "all of the rounded-up pool is free once the channel went");
	E(tc_pool_del(p), 0);

	/* Without the flag, and for a pool larger than the minimum, nothing
	 * changes. */
	p = pool_with("ids-nokeep", 32768, 0, 0, 0);
	if (p) {
		dipc_pool_stats(p, &st);
		ok(st.free == st.total && st.total == DIPC_POOL_MIN_SIZE, "no flag: the whole 1 MiB");
		E(tc_pool_del(p), 0);
	}
	p = pool_with("ids-keepbig", (3 << 20) + 100, DIPC_POOL_KEEP_SIZE, 0, 0);
	if (p) {
		dipc_pool_stats(p, &st);
		ok(st.free == (3 << 20) + 128 && st.total == st.free,
		   "a larger pool keeps the size asked for too (%llu)", (unsigned long long)st.free);
		E(tc_pool_del(p), 0);
	}
}

static void test_ids(void)
{
	dipc_pool *p = pool_with("ids", 1 << 20, 0, 0, 0);
	dipc_mem *a, *b, *c, *x;
	uint64_t ia, ib, ia2, ic;
	if (!p)
		return;
	E(dipc_pool_alloc(p, 500, &a), 0);
	E(dipc_mem_id(a, &ia), 0);
	is_int(ia, 1, "the first id of a fresh pool is 1");
	E(dipc_mem_id(a, &ia2), 0);
	ok(ia2 == ia, "asking again gives the same id");
	E(dipc_mem_clone(a, 10, 20, &c), 0);
	E(dipc_mem_id(c, &ic), 0);
	ok(ic == ia, "a clone has its allocation's id");
	dipc_mem_detach(c);
	E(dipc_pool_alloc(p, 700, &b), 0);
	E(dipc_mem_id(b, &ib), 0);
	ok(ib != 0 && ib != ia, "another allocation, another id (%llu)", (unsigned long long)ib);
	*(uint64_t *)tc_ptr(b) = 0x1234;
	E(dipc_mem_from_id(p, ib, &x), 0);
	if (x) {
		size_t sz;
		dipc_mem_get(x, NULL, &sz);
		ok(tc_ptr(x) == tc_ptr(b) && sz == 700, "from_id gives the whole allocation");
		dipc_mem_detach(x);
	}
	E(dipc_mem_from_id(p, 0, &x), DIPC_ENOENT);
	E(dipc_mem_from_id(p, ib + 1, &x), DIPC_ENOENT);
	E(dipc_mem_from_id(p, UINT64_MAX, &x), DIPC_ENOENT);
	ok(x == NULL, "a refused lookup leaves the handle NULL");

	/* Freed: the id is gone; reused at the same place: still gone. */
	void *where = tc_ptr(b);
	E(dipc_mem_free(b), 0);
	E(dipc_mem_from_id(p, ib, &x), DIPC_ENOENT);
	E(dipc_pool_alloc(p, 700, &b), 0);
	ok(tc_ptr(b) == where, "the next allocation of that size reuses the block");
	E(dipc_mem_from_id(p, ib, &x), DIPC_ENOENT);
	uint64_t ib2;
	E(dipc_mem_id(b, &ib2), 0);
	ok(ib2 != ib && ib2 != ia, "the new allocation gets an id of its own");
	E(dipc_mem_from_id(p, ib2, &x), 0);
	dipc_mem_detach(x);

	/* blocks: allocations in address order, with ids; free runs. */
	dipc_channel *ch;
	E(dipc_channel_create(p, 3, NULL, &ch), 0);
	int n = dipc_pool_blocks(p, NULL, 0);
	struct dipc_block_info bi[8];
	memset(bi, 0xff, sizeof(bi));
	is_int(dipc_pool_blocks(p, bi, 8), n, "the count does not depend on the room given");
	int data = 0, chans = 0, frees = 0, found_a = 0, found_b = 0;
	for (int i = 0; i < n && i < 8; i++) {
		data += bi[i].kind == DIPC_BLOCK_DATA;
		chans += bi[i].kind == DIPC_BLOCK_CHANNEL;
		frees += bi[i].kind == DIPC_BLOCK_FREE;
		found_a += bi[i].id == ia && bi[i].size == 500;
		found_b += bi[i].id == ib2 && bi[i].size == 700;
		if (bi[i].kind == DIPC_BLOCK_FREE && bi[i].id != 0)
			found_a = -100;
	}
	ok(data == 2 && chans == 1 && frees >= 1, "blocks: 2 allocations, 1 channel, free runs (%d)",
	   frees);
	ok(found_a == 1 && found_b == 1, "with the ids and sizes of the allocations");
	memset(bi, 0x77, sizeof(bi));
	is_int(dipc_pool_blocks(p, bi, 1), n, "a short array gets the first, the count is whole");
	ok(bi[1].kind == 0x77777777u, "and nothing past it is written");
	if (ch)
		dipc_channel_destroy(ch);
	dipc_mem_free(a);
	dipc_mem_free(b);
	is_int(dipc_pool_blocks(p, bi, 8), 1, "an empty pool is one free run");
	ok(bi[0].kind == DIPC_BLOCK_FREE && bi[0].size == (1 << 20) - 64, "of the whole heap");
	E(tc_pool_del(p), 0);
}

/* DIPC_POOL_FIRST_FIT: allocations of sizes that add up to the pool fit
 * it, in every order, round after round (the cache and the roving start
 * of the default placement can cut the free space in pieces). */
static void test_first_fit(void)
{
	const uint64_t size = 3u << 20;
	dipc_pool *p = pool_with("ids-ff", size + 64 * 64, DIPC_POOL_KEEP_SIZE | DIPC_POOL_FIRST_FIT,
				 0, 0);
	if (!p)
		return;
	uint64_t seed = 7;
	int bad = 0, rounds;
	for (rounds = 0; rounds < 300 && !bad; rounds++) {
		dipc_mem *m[64];
		int n = 0;
		uint64_t left = size;
		while (n < 64 && left >= 64) {
			uint64_t want = 64 << (tc_rand(&seed) % 17);
			if (want > left)
				want = 64 << (tc_rand(&seed) % 6);
			if (want > left)
				break;
			if (dipc_pool_alloc(p, want, &m[n])) {
				bad = 1;
				diag("round %d: %llu bytes did not fit with %llu of %llu left", rounds,
				     (unsigned long long)want, (unsigned long long)left,
				     (unsigned long long)size);
				break;
			}
			left -= want;
			n++;
		}
		/* Free in a scrambled order. */
		for (int i = 0; i < n; i++) {
			int j = i + (int)(tc_rand(&seed) % (uint64_t)(n - i));
			dipc_mem *t = m[i];
			m[i] = m[j];
			m[j] = t;
			dipc_mem_free(m[i]);
		}
	}
	ok(!bad, "first fit: %d rounds of allocations adding up to the pool all fit", rounds);
	E(tc_pool_del(p), 0);
}

/* Ids between processes: each finds the other's allocation by id. */
static void test_two_processes(void)
{
	dipc_pool *p = pool_with("ids-mp", 1 << 20, 0, 4242, 100);
	dipc_mem *mine, *bm, *theirs;
	char ph[TC_HEX_MAX], bh[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	uint64_t my_id;
	if (!p)
		return;
	E(dipc_pool_alloc(p, 64, &mine), 0);
	*(uint64_t *)tc_ptr(mine) = 0xfeedface;
	E(dipc_mem_id(mine, &my_id), 0);
	E(dipc_pool_alloc(p, sizeof(struct id_book), &bm), 0);
	memset(tc_ptr(bm), 0, sizeof(struct id_book));
	tc_hex_pool(p, ph);
	tc_hex_mem(bm, bh);
	snprintf(arg, sizeof(arg), "%s:%s:%llu", ph, bh, (unsigned long long)my_id);
	t_pid kid = tc_spawn("peer", arg);
	struct id_book *bk = tc_ptr(bm);
	is_int(tc_reap(kid, 30), 0, "the child ran");
	if (atomic_load(&bk->state) == 1) {
		ok(bk->uid == 4242 && bk->max_allocs == 100 && bk->flags == 0,
		   "the child read the creator's uid and limit");
		ok(bk->parents_seen == 0xfeedface, "the child found the parent's allocation by id");
		E(dipc_mem_from_id(p, bk->id, &theirs), 0);
		if (theirs) {
			size_t sz;
			dipc_mem_get(theirs, NULL, &sz);
			ok(sz == 3000 && tc_check(tc_ptr(theirs), 3000, 9),
			   "and the parent the child's, by the id it left");
			E(dipc_mem_free(theirs), 0);
			E(dipc_mem_from_id(p, bk->id, &theirs), DIPC_ENOENT);
		}
	}
	dipc_mem_free(mine);
	dipc_mem_free(bm);
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	test_attr();
	test_pow2();
	test_first_fit();
	test_limit();
	test_keep();
	test_ids();
	test_two_processes();
	return tc_finish();
}

/*
 * pool_cache.c - the pool's cache of freed blocks: a freed block comes
 * back to the next allocation of its size, the figures and largest_free
 * stay exact, a freed block stays refused; the state a process leaves when
 * it is killed at each step of moving a block into or out of the cache is
 * made by hand (the layout is lib/pool.h's) and reclaim, or the next
 * holder of the pool lock, must get the block back; then processes are
 * killed at random while they allocate and free, and others check that no
 * block is ever handed out twice.
 */
#include "coretest.h"
#include "pool.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

static const size_t sizes[] = { 100, 1000, 4000, 16000, 70000 };
enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };

/* What the children share with the parent, in a pool block. */
struct book {
	_Atomic uint64_t stop;
	_Atomic uint64_t pid;
	_Atomic uint64_t rounds;
};

/* Allocate sizes of the set above, fill, keep a few, check and free:
 * until told to stop (or killed).  Returns the failures. */
static int churn(dipc_pool *p, struct book *bk, uint64_t seed, long iters)
{
	dipc_mem *live[8] = { 0 };
	uint64_t tag[8];
	int fails = 0;
	for (long n = 0; iters < 0 || n < iters; n++) {
		if (bk && atomic_load(&bk->stop))
			break;
		int k = (int)(tc_rand(&seed) % 8);
		if (live[k]) {
			void *ptr;
			size_t sz;
			dipc_mem_get(live[k], &ptr, &sz);
			if (!tc_check(ptr, sz, tag[k]))
				fails++;
			if (dipc_mem_free(live[k]))
				fails++;
			live[k] = NULL;
			continue;
		}
		size_t sz = sizes[tc_rand(&seed) % NSIZES];
		if (dipc_pool_alloc_wait(p, sz, 5 * TC_SEC, &live[k])) {
			fails++;
			live[k] = NULL;
			continue;
		}
		tag[k] = tc_rand(&seed);
		tc_fill(tc_ptr(live[k]), sz, tag[k]);
		if (bk && (n & 255) == 0)
			atomic_fetch_add(&bk->rounds, 1);
	}
	for (int k = 0; k < 8; k++)
		if (live[k] && dipc_mem_free(live[k]))
			fails++;
	return fails;
}

int t_child(const char *role, const char *arg)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	dipc_pool *p;
	dipc_mem *bm;
	const char *a = arg;
	if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
		return 10;
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &bm))
		return 11;
	struct book *bk = tc_ptr(bm);
	if (strcmp(role, "pid") == 0) {
		atomic_store(&bk->pid, (uint64_t)tc_getpid());
		return 0;
	}
	if (strcmp(role, "churn") == 0) {
		uint64_t seed = (uint64_t)tc_field_num(&a);
		int f = churn(p, bk, seed, -1);
		dipc_mem_detach(bm);
		dipc_pool_detach(p);
		return f > 100 ? 100 : f;
	}
	return 1;
}

/* ---- what the tests look at --------------------------------------------- */

struct view {
	dipc_pool *p;
	struct pool_hdr *hdr;
	unsigned char *heap;
};

static uint64_t mem_blk(const dipc_mem *m)
{
	unsigned char b[DIPC_SERIAL_MAX];
	dipc_mem_serialize(m, b, sizeof(b));
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[24 + i] << (8 * i);
	return v;
}

static struct view view_of(dipc_pool *p, dipc_mem *m)
{
	struct view v;
	v.p = p;
	v.heap = (unsigned char *)tc_ptr(m) - BLK_HDR - mem_blk(m);
	v.hdr = (struct pool_hdr *)(void *)(v.heap - POOL_HDR_SIZE);
	return v;
}

static struct blk_hdr *hdr_of(struct view *v, uint64_t blk)
{
	return (struct blk_hdr *)(void *)(v->heap + blk);
}

/* The entry that names blk, or NULL. */
static _Atomic uint64_t *entry_of(struct view *v, uint64_t blk)
{
	for (int c = 0; c < PC_CLASSES; c++)
		for (int i = 0; i < PC_WAYS; i++) {
			uint64_t e = atomic_load(&v->hdr->cache[c][i]);
			if (e && ((e >> 32) - 1) * BLK_HDR == blk)
				return &v->hdr->cache[c][i];
		}
	return NULL;
}

static int whole(dipc_pool *p, const struct dipc_pool_stats *s0, const char *what)
{
	struct dipc_pool_stats s;
	int rc = dipc_pool_stats(p, &s);
	int good = rc == 0 && s.free == s0->free && s.nallocs == s0->nallocs &&
		   s.largest_free == s0->largest_free;
	ok(good, "%s: the pool is whole (free %llu of %llu, %llu allocations, rc %d)", what,
	   (unsigned long long)s.free, (unsigned long long)s0->free,
	   (unsigned long long)s.nallocs, rc);
	return good;
}

/* A process id that is no longer alive. */
static uint32_t dead_pid(dipc_pool *p, dipc_mem *bm)
{
	char arg[2 * TC_HEX_MAX + 4], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	struct book *bk = tc_ptr(bm);
	atomic_store(&bk->pid, 0);
	tc_hex_pool(p, ph);
	tc_hex_mem(bm, mh);
	snprintf(arg, sizeof(arg), "%s:%s", ph, mh);
	t_pid kid = tc_spawn("pid", arg);
	if (tc_reap(kid, 20) != 0 || !atomic_load(&bk->pid))
		bail_out("could not learn a dead process id");
	return (uint32_t)atomic_load(&bk->pid);
}

/* ---- black box ------------------------------------------------------------- */

static void test_reuse(void)
{
	dipc_pool *p;
	struct dipc_pool_stats s0;
	tc_pool_new("reuse", 4 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	dipc_mem *a, *b, *c, *m2;
	E(dipc_pool_alloc(p, 3000, &a), 0);
	E(dipc_pool_alloc(p, 3000, &b), 0);
	void *pb = tc_ptr(b);
	E(dipc_mem_free(b), 0);
	E(dipc_pool_alloc(p, 3000, &c), 0);
	ok(c && tc_ptr(c) == pb, "the block just freed comes back for the same size");
	E(dipc_mem_free(c), 0);
	E(dipc_pool_alloc(p, 2900, &c), 0);
	ok(c && tc_ptr(c) == pb, "and for a size of its class that it holds");
	E(dipc_mem_free(c), 0);

	/* A freed block stays refused while it waits in the cache. */
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_mem_serialize(a, d, sizeof(d));
	E(dipc_mem_attach(p, d, (size_t)n, &m2), 0);
	E(dipc_mem_free(a), 0);
	dipc_mem *x;
	E(dipc_mem_attach(p, d, (size_t)n, &x), DIPC_EINVAL);
	E(dipc_mem_free(m2), DIPC_EINVAL);  /* the second free of one block */

	/* Cached blocks are free space for the figures and for largest_free. */
	whole(p, &s0, "all freed");
	dipc_mem *many[64];
	for (int i = 0; i < 64; i++)
		if (dipc_pool_alloc(p, sizes[i % NSIZES], &many[i]))
			bail_out("allocation failed in an empty pool");
	for (int i = 0; i < 64; i++)
		dipc_mem_free(many[i]);
	whole(p, &s0, "64 blocks of 5 sizes freed");
	E(dipc_pool_alloc(p, (size_t)s0.largest_free, &x), 0);
	if (x)
		dipc_mem_free(x);

	/* A pool filled with cached blocks of one size still serves another. */
	for (int i = 0; i < 64; i++)
		if (dipc_pool_alloc(p, 60000, &many[i]))
			break;
	for (int i = 0; i < 64; i++)
		dipc_mem_free(many[i]);
	E(dipc_pool_alloc(p, (size_t)s0.largest_free, &x), 0);
	if (x)
		dipc_mem_free(x);
	whole(p, &s0, "after the large one");
	E(tc_pool_del(p), 0);
}

/* ---- a process killed at each step ------------------------------------------ */

static void test_killed_steps(void)
{
	dipc_pool *p;
	dipc_mem *bm, *m;
	struct dipc_pool_stats s0, s;
	tc_pool_new("steps", 4 << 20, &p);
	if (!p)
		return;
	E(dipc_pool_alloc(p, sizeof(struct book), &bm), 0);
	struct view v = view_of(p, bm);
	uint32_t dead = dead_pid(p, bm);
	dipc_pool_stats(p, &s0);

	/* Killed freeing it: the word says cached, no entry names it. */
	E(dipc_pool_alloc(p, 1000, &m), 0);
	uint64_t blk = mem_blk(m);
	struct blk_hdr *b = hdr_of(&v, blk);
	dipc_mem_detach(m);
	atomic_store(&b->owner, dead);
	atomic_store(&b->word, atomic_load(&b->word) | BLK_CACHED);
	b->check = BLK_CACHE_MAGIC ^ blk ^ v.hdr->nonce;
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs + 1, "killed while freeing into the cache: counted as held");
	is_int(dipc_pool_reclaim(p), 1, "reclaim gets the block back");
	whole(p, &s0, "after reclaim");
	is_int(dipc_pool_reclaim(p), 0, "a second reclaim finds nothing");

	/* Killed taking it, right after claiming its entry. */
	E(dipc_pool_alloc(p, 1000, &m), 0);
	blk = mem_blk(m);
	void *ptr = tc_ptr(m);
	E(dipc_mem_free(m), 0);
	_Atomic uint64_t *e = entry_of(&v, blk);
	ok(e != NULL, "a freed block rests in an entry");
	if (!e)
		goto out;
	uint64_t rest = atomic_load(e);
	atomic_store(e, rest | dead);
	E(dipc_pool_alloc(p, 1000, &m), 0);
	ok(m && tc_ptr(m) != ptr, "a claimed block is not handed out");
	if (m)
		dipc_mem_free(m);
	is_int(dipc_pool_reclaim(p), 0, "reclaim hands the dead claim back (nothing to free)");
	e = entry_of(&v, blk);
	ok(e && atomic_load(e) == rest, "the block rests in its entry again");
	/* The block freed just above rests beside it: one of the next two
	 * allocations of the size gets it. */
	dipc_mem *m2;
	E(dipc_pool_alloc(p, 1000, &m), 0);
	E(dipc_pool_alloc(p, 1000, &m2), 0);
	ok(m && m2 && (tc_ptr(m) == ptr || tc_ptr(m2) == ptr), "and is handed out again");
	if (m)
		dipc_mem_free(m);
	if (m2)
		dipc_mem_free(m2);
	whole(p, &s0, "after the dead claim");

	/* Killed taking it, after clearing the entry, before the block was
	 * marked used. */
	E(dipc_pool_alloc(p, 1000, &m), 0);
	blk = mem_blk(m);
	b = hdr_of(&v, blk);
	E(dipc_mem_free(m), 0);
	e = entry_of(&v, blk);
	ok(e != NULL, "freed into the cache again");
	if (!e)
		goto out;
	atomic_store(&b->owner, dead);
	atomic_store(e, 0);
	is_int(dipc_pool_reclaim(p), 1, "killed taking it out: reclaim frees it");
	whole(p, &s0, "after that");

	/* The same, found by the next holder of the pool lock after its
	 * holder died: a dead claim and an orphan at once. */
	E(dipc_pool_alloc(p, 4000, &m), 0);
	uint64_t blk2 = mem_blk(m);
	E(dipc_mem_free(m), 0);
	e = entry_of(&v, blk2);
	if (e)
		atomic_store(e, atomic_load(e) | dead);
	E(dipc_pool_alloc(p, 1000, &m), 0);
	blk = mem_blk(m);
	b = hdr_of(&v, blk);
	dipc_mem_detach(m);
	atomic_store(&b->owner, dead);
	atomic_store(&b->word, atomic_load(&b->word) | BLK_CACHED);
	b->check = BLK_CACHE_MAGIC ^ blk ^ v.hdr->nonce;
	atomic_store(&v.hdr->lock.owner, dead);
	whole(p, &s0, "a lock taken over from a dead holder");
	ok(entry_of(&v, blk2) == NULL, "the dead claim was handed back and drained");
out:
	dipc_mem_free(bm);
	E(tc_pool_del(p), 0);
}

/* ---- processes killed at random ------------------------------------------- */

static void test_kill_storm(void)
{
	dipc_pool *p;
	dipc_mem *bm;
	struct dipc_pool_stats s0;
	char arg[3 * TC_HEX_MAX], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	tc_pool_new("storm", 8 << 20, &p);
	if (!p)
		return;
	E(dipc_pool_alloc(p, sizeof(struct book), &bm), 0);
	struct book *bk = tc_ptr(bm);
	dipc_pool_stats(p, &s0);
	tc_hex_pool(p, ph);
	tc_hex_mem(bm, mh);

	/* Alone: after each kill, reclaim must find everything. */
	uint64_t seed = (uint64_t)tc_now_ns();
	int rounds = 12, good = 0, walk = 0;
	for (int r = 0; r < rounds; r++) {
		atomic_store(&bk->rounds, 0);
		snprintf(arg, sizeof(arg), "%s:%s:%d", ph, mh, 100 + r);
		t_pid kid = tc_spawn("churn", arg);
		if (!tc_wait_flag(&bk->rounds, 2, 20)) {
			tc_kill(kid);
			continue;
		}
		tc_sleep_ms(1 + (int)(tc_rand(&seed) % 15));
		tc_kill(kid);
		if (dipc_pool_reclaim(p) >= 0)
			walk++;
		struct dipc_pool_stats s;
		if (dipc_pool_stats(p, &s) == 0 && s.free == s0.free && s.nallocs == s0.nallocs)
			good++;
	}
	is_int(walk, rounds, "a process killed while allocating and freeing: reclaim walks the pool");
	is_int(good, rounds, "and gets back every block it held (%d kills)", rounds);

	/* Two processes share the cache, this one and a steady child, while
	 * a third is started and killed again and again.  Every block is filled and
	 * checked: one handed out twice would fail a check. */
	atomic_store(&bk->stop, 0);
	snprintf(arg, sizeof(arg), "%s:%s:%d", ph, mh, 7);
	t_pid steady = tc_spawn("churn", arg);
	for (int r = 0; r < 8; r++) {
		snprintf(arg, sizeof(arg), "%s:%s:%d", ph, mh, 200 + r);
		t_pid kid = tc_spawn("churn", arg);
		tc_sleep_ms(5 + (int)(tc_rand(&seed) % 20));
		tc_kill(kid);
		dipc_pool_reclaim(p);
	}
	int f0 = churn(p, NULL, 31, 20000);
	atomic_store(&bk->stop, 1);
	is_int(tc_reap(steady, 60), 0, "a process churning beside the kills saw every block intact");
	is_int(f0, 0, "so did this one");
	dipc_pool_reclaim(p);
	whole(p, &s0, "afterwards");
	dipc_mem_free(bm);
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(240);
	test_reuse();
	test_killed_steps();
	test_kill_storm();
	return tc_finish();
}

/*
 * pool_cache.c - a lock-free cache of freed blocks, per size class.
 *
 * A message sent by transfer of ownership costs an allocation and a free,
 * and under the pool lock each is a first-fit walk from the rover: two
 * processes taking turns at one lock, and every message in memory the walk
 * has not touched for a while.  The cache keeps freed blocks whole, in a
 * few entries per size class in the pool header, and hands the most
 * recently freed one back to the next allocation of about its size: no
 * lock, no walk, and memory still warm in the caches.
 *
 * A block in the cache keeps BLK_USED (so the walk neither merges nor
 * takes it) and adds BLK_CACHED; its check field holds BLK_CACHE_MAGIC, so
 * a handle on the freed block is refused as before.  The pool's counters
 * (nallocs, free_bytes) count it as allocated: moving a block into or out
 * of the cache never touches them, and the recount after a lock take-over
 * needs no change.  dipc_pool_stats first returns the resting blocks to
 * the chain, so its figures are as if there were no cache, and so does an
 * allocation that finds no room.
 *
 * Invariants, which hold at every instruction, whoever is killed:
 *
 *  (1) An entry (index + 1) << 32 | claimer names a block whose word is
 *      BLK_USED | BLK_CACHED.  A block leaves that state only after its
 *      entry was cleared, by the process that claimed the entry.
 *  (2) A block is in at most one entry.  A claimed entry (claimer != 0)
 *      is changed only by its claimer, or, once the claimer is dead,
 *      under the pool lock.
 *  (3) A cached block that is in no entry is being moved by the process in
 *      its owner field: a freeing process stores its id there before the
 *      word becomes cached, a taking one before it clears the entry.  An
 *      owner of 0 means nobody: the block is parked, freed by a process
 *      that could not have the pool lock (pool_park), for the next sweep.
 *  (4) A used block becomes cached, or free (under the lock, by a free or
 *      by reclaim), only by a compare-and-swap from its used word: of two
 *      frees of one block at once, or a free racing reclaim, one wins and
 *      the other fails, so a cached block is never also free.
 *
 * So after a kill: a claimed entry whose claimer is dead is handed back
 * as resting (pool_cache_unclaim_dead; by (1) the block is still cached);
 * a cached block in no entry whose owner is dead is freed into the chain
 * (pool_cache_orphan; by (3) no live process will touch it).  Both run
 * under the pool lock, in dipc_pool_reclaim and after a lock take-over,
 * and find every block a dead process left in the cache.  Until then
 * such a block is counted as an allocation, like any block of a dead
 * process before reclaim.
 *
 * Claiming is a compare-and-swap of the entry from resting to claimed by
 * us, so there is no ABA hazard: the entry held that exact value, hence
 * (1) that exact block was cached, at the instant of the swap.  Threads of
 * one process share an id; the swap still lets only one of them win.
 */
#include "pool.h"

static inline uint64_t pc_entry(uint64_t blk, uint32_t claimer)
{
	return ((blk / BLK_HDR + 1) << 32) | claimer;
}

static inline uint64_t pc_blk(uint64_t e)
{
	return ((e >> 32) - 1) * BLK_HDR;
}

static inline uint32_t pc_claimer(uint64_t e)
{
	return (uint32_t)e;
}

/* Size class of a block size (header included): four per power of two. */
static int pc_class(uint64_t size)
{
	if (size <= 2 * BLK_HDR)
		return 0;
	if (size > PC_MAX_BLOCK)
		return -1;
	uint64_t s = size - 1;
	int k = 63 - __builtin_clzll(s);   /* size in (2^k, 2^(k+1)] */
	int c = 1 + (k - 7) * 4 + (int)((s >> (k - 2)) & 3);
	return c < PC_CLASSES ? c : -1;
}

static inline bool pc_cacheable(uint64_t off, uint64_t size)
{
	return off <= PC_MAX_OFF && pc_class(size) >= 0;
}

/* The block an entry names, if it is a sound cached block. */
static bool pc_blk_ok(const dipc_pool *p, uint64_t blk, uint64_t *word)
{
	if (blk >= p->heap_size)
		return false;
	struct blk_hdr *b = blk_at(p, blk);
	uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
	*word = w;
	return (w & (BLK_USED | BLK_CACHED)) == (BLK_USED | BLK_CACHED) && blk_word_ok(p, blk, w) &&
	       b->check == (BLK_CACHE_MAGIC ^ blk ^ p->nonce);
}

int pool_cache_get(dipc_pool *p, uint64_t need, uint64_t user_size, uint32_t owner,
		   uint64_t *out)
{
	int c = pc_class(need);
	if (c < 0)
		return DIPC_ENOSPC;
	_Atomic uint64_t *ways = p->hdr->cache[c];
	uint32_t me = dipc_os_pid();
	/* Frees fill the entries from the first; taking from the last makes
	 * the block freed most recently the one handed out. */
	for (int i = PC_WAYS - 1; i >= 0; i--) {
		uint64_t e = atomic_load_explicit(&ways[i], memory_order_relaxed);
		if (!e || pc_claimer(e))
			continue;
		uint64_t blk = pc_blk(e), w;
		/* A first look, which may be stale: skip what cannot fit. */
		if (blk >= p->heap_size ||
		    blk_size(atomic_load_explicit(&blk_at(p, blk)->word, memory_order_relaxed)) < need)
			continue;
		if (!atomic_compare_exchange_strong_explicit(&ways[i], &e, e | me,
				memory_order_acquire, memory_order_relaxed))
			continue;
		/* Claimed: the block rests in the cache and is ours to take. */
		if (!pc_blk_ok(p, blk, &w)) {
			/* Not a cached block: a damaged entry; drop it. */
			atomic_store_explicit(&ways[i], 0, memory_order_release);
			continue;
		}
		if (blk_size(w) < need) {
			atomic_store_explicit(&ways[i], e, memory_order_release);
			continue;
		}
		struct blk_hdr *b = blk_at(p, blk);
		/* (3): our id in the block before it leaves the entry. */
		atomic_store_explicit(&b->owner, me, memory_order_relaxed);
		atomic_store_explicit(&ways[i], 0, memory_order_release);
		b->check = BLK_MAGIC ^ blk ^ p->nonce;
		b->once_user_size = user_size;
		pool_set_flight(p, blk, 0, 0);
		pool_blk_fresh(p, blk);
		atomic_store_explicit(&b->word, blk_size(w) | BLK_USED, memory_order_release);
		if (owner != me)
			atomic_store_explicit(&b->owner, owner, memory_order_relaxed);
		*out = blk;
		return 0;
	}
	return DIPC_ENOSPC;
}

/* Free a used block (checked by the caller, word w) into the cache.
 * 0: freed (into the cache, or under the lock when the cache filled up
 * meanwhile); 1: not for the cache, free it under the lock; < 0: error. */
int pool_cache_put(dipc_pool *p, uint64_t blk, uint64_t w)
{
	uint64_t sz = blk_size(w);
	if (!pc_cacheable(blk, sz))
		return 1;
	_Atomic uint64_t *ways = p->hdr->cache[pc_class(sz)];
	int i = 0;
	while (i < PC_WAYS && atomic_load_explicit(&ways[i], memory_order_relaxed))
		i++;
	if (i == PC_WAYS)
		return 1;
	struct blk_hdr *b = blk_at(p, blk);
	/* (3): our id first, then the word says cached. */
	atomic_store_explicit(&b->owner, dipc_os_pid(), memory_order_relaxed);
	uint64_t used = sz | BLK_USED;
	if (!atomic_compare_exchange_strong_explicit(&b->word, &used, sz | BLK_USED | BLK_CACHED,
			memory_order_acq_rel, memory_order_relaxed))
		return DIPC_EINVAL;  /* freed twice, at once */
	b->check = BLK_CACHE_MAGIC ^ blk ^ p->nonce;
	uint64_t e = pc_entry(blk, 0);
	for (; i < PC_WAYS; i++) {
		uint64_t zero = 0;
		if (atomic_compare_exchange_strong_explicit(&ways[i], &zero, e,
				memory_order_seq_cst, memory_order_relaxed))
			return 0;
	}
	/* Others filled the class meanwhile: into the chain after all, or,
	 * if the lock is held, parked (owned by nobody) for a sweep. */
	struct pool_hdr *h = p->hdr;
	if (pool_trylock(p) != 0) {
		atomic_store_explicit(&b->owner, 0, memory_order_release);
		return 0;
	}
	b->check = 0;
	atomic_store_explicit(&b->word, sz, memory_order_release);
	h->nallocs--;
	h->free_bytes += sz;
	pool_unlock(p);
	return 0;
}

/* Under the pool lock: a cached block whose entry we hold (or that is in
 * no entry and ours) goes back into the chain. */
static void pc_to_chain(dipc_pool *p, uint64_t blk, uint64_t w)
{
	struct pool_hdr *h = p->hdr;
	struct blk_hdr *b = blk_at(p, blk);
	b->check = 0;
	atomic_store_explicit(&b->word, blk_size(w), memory_order_release);
	h->nallocs--;
	h->free_bytes += blk_size(w);
}

void pool_cache_unclaim_dead(dipc_pool *p)
{
	uint32_t me = dipc_os_pid();
	for (int c = 0; c < PC_CLASSES; c++) {
		for (int i = 0; i < PC_WAYS; i++) {
			_Atomic uint64_t *way = &p->hdr->cache[c][i];
			uint64_t e = atomic_load_explicit(way, memory_order_acquire);
			uint32_t who = pc_claimer(e);
			if (!e || !who || who == me || dipc_os_pid_alive(who))
				continue;
			/* (1): its block is still cached; it rests again. */
			atomic_compare_exchange_strong(way, &e, pc_entry(pc_blk(e), 0));
		}
	}
}

int pool_cache_drain(dipc_pool *p)
{
	uint32_t me = dipc_os_pid();
	int n = 0;
	pool_cache_unclaim_dead(p);
	for (int c = 0; c < PC_CLASSES; c++) {
		for (int i = 0; i < PC_WAYS; i++) {
			_Atomic uint64_t *way = &p->hdr->cache[c][i];
			uint64_t e = atomic_load_explicit(way, memory_order_relaxed);
			if (!e || pc_claimer(e))
				continue;
			if (!atomic_compare_exchange_strong_explicit(way, &e, e | me,
					memory_order_acquire, memory_order_relaxed))
				continue;
			uint64_t blk = pc_blk(e), w;
			if (!pc_blk_ok(p, blk, &w)) {
				atomic_store_explicit(way, 0, memory_order_release);
				continue;
			}
			atomic_store_explicit(&blk_at(p, blk)->owner, me, memory_order_relaxed);
			atomic_store_explicit(way, 0, memory_order_release);
			pc_to_chain(p, blk, w);
			n++;
		}
	}
	return n;
}

static bool pc_in_entry(dipc_pool *p, uint64_t off, uint64_t sz)
{
	if (!pc_cacheable(off, sz))
		return false;
	_Atomic uint64_t *ways = p->hdr->cache[pc_class(sz)];
	for (int i = 0; i < PC_WAYS; i++) {
		uint64_t e = atomic_load_explicit(&ways[i], memory_order_acquire);
		if (e && pc_blk(e) == off)
			return true;
	}
	return false;
}

bool pool_cache_orphan(dipc_pool *p, uint64_t off, uint64_t w)
{
	uint64_t sz = blk_size(w);
	_Atomic uint32_t *owner = &blk_at(p, off)->owner;
	if (pc_in_entry(p, off, sz))
		return false;  /* resting, or being taken */
	/* In no entry: (3) says who is moving it.  A dead mover can no
	 * longer put it into an entry; but a live taker may have cleared
	 * its entry since we looked, after writing its id.  So: a dead
	 * owner, then no entry, then still that owner. */
	uint32_t who = atomic_load_explicit(owner, memory_order_acquire);
	if (dipc_os_pid_alive(who) || pc_in_entry(p, off, sz) ||
	    atomic_load_explicit(owner, memory_order_relaxed) != who)
		return false;
	pc_to_chain(p, off, w);
	return true;
}

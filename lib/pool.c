/*
 * pool.c - memory pools: named segments with a process-shared allocator.
 *
 * The allocator walks the block chain (see pool.h) from a roving start,
 * merging free neighbours as it goes, and takes the first block that fits.
 * It runs under the pool's plock; every update of the chain is one 64-bit
 * store, so a holder killed mid-way leaves a chain that still walks, and
 * the process that takes the lock over only recounts the totals.
 *
 * In front of it sits the block cache (pool_cache.c): freed blocks of
 * recurring sizes go there whole, without the lock, and come back to the
 * next allocation of their size.  A cached block is a used block for the
 * chain and the counters (it is neither merged nor taken by the walk);
 * its own invariants, and how reclaim and a lock take-over find what a
 * dead process left in it, are described there.
 */
#include "pool.h"

#include <limits.h>
#include <stdlib.h>

#define SER_MAGIC 0x50435049u  /* "IPCP" */
/* How often an attach looks again at a pool its creator has not
 * finished (open_by_segname; how long it waits: POOL_READY_NS). */
#define POOL_READY_NAP_NS (1000ull * 1000)

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t new_nonce(void)
{
	static _Atomic uint64_t counter;
	int local;
	uint64_t x = dipc_os_now_ns() ^ ((uint64_t)dipc_os_pid() << 32) ^
		     (uint64_t)(uintptr_t)&local ^
		     atomic_fetch_add(&counter, 0x1000193u);
	x = mix64(x);
	return x ? x : 1;
}

/* After a take-over from a dead holder: the chain is whole, the totals may
 * not be.  Cached blocks count as allocations (the cache changes them
 * without the lock, never between used and free); those a dead process
 * was moving in or out of the cache, and parked ones, are freed. */
static void pool_recount(dipc_pool *p)
{
	struct pool_hdr *h = p->hdr;
	uint64_t off = 0, nallocs = 0, freeb = 0;
	pool_cache_unclaim_dead(p);
	while (off < p->heap_size) {
		uint64_t w = atomic_load_explicit(&blk_at(p, off)->word, memory_order_acquire);
		if (!blk_word_ok(p, off, w))
			break;
		if ((w & BLK_CACHED) && pool_cache_orphan(p, off, w))
			w = blk_size(w);
		if (w & BLK_USED)
			nallocs++;
		else
			freeb += blk_size(w);
		off += blk_size(w);
	}
	h->nallocs = nallocs;
	h->free_bytes = freeb;
	h->once_rover = 0;
}

static int pool_lock_as(dipc_pool *p, uint64_t deadline, bool spin_only)
{
	int rc = dipc_plock_acquire(&p->shm, &p->hdr->lock, deadline, spin_only);
	if (rc == 1)
		pool_recount(p);
	if (rc < 0) {
		DIPC_LOG(DIPC_LOG_ALL, "pool %s: its lock is kept by live process %u; gave up (%s)",
			 p->name, dipc_plock_holder(&p->hdr->lock), dipc_strerror(rc));
		return rc;
	}
	return 0;
}

int pool_lock(dipc_pool *p, uint64_t deadline)
{
	/* Try once: never sleep on the lock; wait while the holder gets on
	 * (a holder preempted on a loaded machine may need a while), but
	 * not for one that is stopped. */
	if (deadline == 0)
		return pool_lock_as(p, dipc_os_now_ns() + DIPC_LOCK_PATIENCE_NS, true);
	return pool_lock_as(p, deadline, false);
}

int pool_trylock(dipc_pool *p)
{
	return pool_lock_as(p, dipc_os_now_ns() + DIPC_TRY_SPIN_NS, true);
}

int pool_lock_patient(dipc_pool *p)
{
	int rc = pool_lock(p, dipc_os_now_ns() + DIPC_LOCK_PATIENCE_NS);
	return rc == DIPC_ETIMEDOUT ? DIPC_EBUSY : rc;
}

void pool_unlock(dipc_pool *p)
{
	dipc_plock_release(&p->shm, &p->hdr->lock);
}

/*
 * After room was made, wake whoever waits for it.  Most frees have no one
 * waiting, and a write to the shared free_seq line on each of them would
 * pull that line to every freeing core: the sequence moves only when
 * someone sleeps.  The fence pairs with the one in dipc_pool_alloc_wait:
 * either the waiter's retry sees our free, or we see it in the waiter set.
 */
static void pool_notify_free(dipc_pool *p)
{
	struct pool_hdr *h = p->hdr;
	atomic_thread_fence(memory_order_seq_cst);
	if (likely(!dipc_waiters_any(&h->free_waiters)))
		return;
	atomic_fetch_add_explicit(&h->free_seq, 1, memory_order_seq_cst);
	dipc_waiters_wake(&h->free_waiters, &p->shm, &h->free_seq);
}

bool pool_park(dipc_pool *p, uint64_t blk, uint64_t w)
{
	struct blk_hdr *b = blk_at(p, blk);
	uint64_t used = blk_size(w) | BLK_USED;
	/* pool_cache.c's invariant (3): a cached block in no entry is moved
	 * by the process its owner names; nobody (0) means parked, for the
	 * next sweep. */
	atomic_store_explicit(&b->owner, 0, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&b->word, &used, used | BLK_CACHED,
			memory_order_acq_rel, memory_order_relaxed))
		return false;
	b->check = BLK_CACHE_MAGIC ^ blk ^ p->nonce;
	return true;
}

int pool_sweep(dipc_pool *p)
{
	int n = pool_cache_drain(p);
	for (uint64_t off = 0; off < p->heap_size;) {
		uint64_t w = atomic_load_explicit(&blk_at(p, off)->word, memory_order_acquire);
		if (!blk_word_ok(p, off, w))
			break;
		/* Parked blocks only: those a dead process left in the cache
		 * are reclaim's, which counts them. */
		if ((w & BLK_CACHED) &&
		    atomic_load_explicit(&blk_at(p, off)->owner, memory_order_acquire) == 0 &&
		    pool_cache_orphan(p, off, w))
			n++;
		off += blk_size(w);
	}
	return n;
}

/* Merge the free blocks that follow the free block at off into it. */
static uint64_t merge_forward(dipc_pool *p, uint64_t off, uint64_t word)
{
	struct pool_hdr *h = p->hdr;
	uint64_t sz = blk_size(word);
	while (off + sz < p->heap_size) {
		uint64_t noff = off + sz;
		uint64_t nw = atomic_load_explicit(&blk_at(p, noff)->word, memory_order_relaxed);
		if ((nw & BLK_USED) || !blk_word_ok(p, noff, nw))
			break;
		sz += blk_size(nw);
		atomic_store_explicit(&blk_at(p, off)->word, sz, memory_order_release);
		if (DIPC_SHARED_READ(h->once_rover) == noff)
			h->once_rover = off;
	}
	return sz;
}

/* Find and take a block of total size need in [from, to). */
static int take_first_fit(dipc_pool *p, uint64_t from, uint64_t to, uint64_t need,
			  uint64_t user_size, uint32_t owner, uint64_t *out)
{
	struct pool_hdr *h = p->hdr;
	uint64_t off = from;
	while (off < to) {
		struct blk_hdr *b = blk_at(p, off);
		uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
		if (!blk_word_ok(p, off, w))
			return DIPC_ECORRUPT;
		if (w & BLK_USED) {
			off += blk_size(w);
			continue;
		}
		uint64_t sz = merge_forward(p, off, w);
		if (sz < need) {
			off += sz;
			continue;
		}
		/* Everything but the word first; the word commits. */
		uint64_t take = sz - need >= 2 * BLK_HDR ? need : sz;
		if (take < sz)
			atomic_store_explicit(&blk_at(p, off + take)->word, sz - take,
					      memory_order_relaxed);
		b->check = BLK_MAGIC ^ off ^ p->nonce;
		b->once_user_size = user_size;
		atomic_store_explicit(&b->owner, owner, memory_order_relaxed);
		pool_set_flight(p, off, 0, 0);
		pool_blk_fresh(p, off);
		atomic_store_explicit(&b->word, take | BLK_USED, memory_order_release);
		h->nallocs++;
		h->free_bytes -= take;
		h->once_rover = off + take < p->heap_size ? off + take : 0;
		*out = off;
		return 0;
	}
	return DIPC_ENOSPC;
}

int pool_alloc_raw(dipc_pool *p, uint64_t size, uint32_t owner, uint64_t deadline,
		   uint64_t *blk)
{
	if (size == 0)
		return DIPC_EINVAL;
	if (size > p->heap_size)
		return DIPC_ENOSPC;
	uint64_t need = DIPC_ALIGN_UP(size, BLK_HDR) + BLK_HDR;
	struct pool_hdr *h = p->hdr;
	bool first_fit = p->flags & DIPC_POOL_FIRST_FIT;
	if (owner && !first_fit && pool_cache_get(p, need, size, owner, blk) == 0)
		return 0;
	int rc = pool_lock(p, deadline);
	if (rc)
		return rc;
	rc = DIPC_ENOSPC;
	if (h->free_bytes >= need && pool_count_ok(p)) {
		uint64_t rover = DIPC_SHARED_READ(h->once_rover);
		/* Shared memory: a rover off the heap or off the 64-byte grid
		 * (where no block header can start) means start over. */
		if (rover >= p->heap_size || rover % BLK_HDR || first_fit)
			rover = 0;
		rc = take_first_fit(p, rover, p->heap_size, need, size, owner, blk);
		if (rc == DIPC_ENOSPC && rover)
			rc = take_first_fit(p, 0, p->heap_size, need, size, owner, blk);
	}
	/* Cached and parked blocks may be what stands in the way. */
	if (rc == DIPC_ENOSPC && pool_sweep(p) && h->free_bytes >= need && pool_count_ok(p))
		rc = take_first_fit(p, 0, p->heap_size, need, size, owner, blk);
	/* The pool's own memory (a channel) may have the block kept for it. */
	bool gave = rc == DIPC_ENOSPC && owner == 0 && pool_give_kept(p);
	if (gave && h->free_bytes >= need && pool_count_ok(p))
		rc = take_first_fit(p, 0, p->heap_size, need, size, owner, blk);
	pool_unlock(p);
	if (gave)
		pool_notify_free(p);
	return rc;
}

int pool_check_blk(const dipc_pool *p, uint64_t blk, uint64_t *user_size)
{
	if (blk % BLK_HDR || blk >= p->heap_size)
		return DIPC_EINVAL;
	struct blk_hdr *b = blk_at(p, blk);
	uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
	if ((w & (BLK_USED | BLK_CACHED)) != BLK_USED || !blk_word_ok(p, blk, w) ||
	    b->check != (BLK_MAGIC ^ blk ^ p->nonce))
		return DIPC_EINVAL;
	/* The user size matters only to callers that ask for it: a free
	 * must not fail (and leak the block) because someone scribbled on
	 * it. */
	if (!user_size)
		return 0;
	uint64_t us = DIPC_SHARED_READ(b->once_user_size);
	if (us > blk_size(w) - BLK_HDR)
		return DIPC_ECORRUPT;
	*user_size = us;
	return 0;
}

int pool_free_raw(dipc_pool *p, uint64_t blk)
{
	struct pool_hdr *h = p->hdr;
	int rc = pool_check_blk(p, blk, NULL);
	if (rc)
		return rc;
	uint64_t w = atomic_load_explicit(&blk_at(p, blk)->word, memory_order_acquire);
	rc = (p->flags & DIPC_POOL_FIRST_FIT) ? 1 : pool_cache_put(p, blk, w);
	if (rc <= 0) {
		if (rc == 0)
			pool_notify_free(p);
		return rc;
	}
	if (pool_trylock(p) != 0) {
		/* The holder keeps the lock (stopped, say): a free never
		 * waits on another process; the block waits for a sweep. */
		if (!pool_park(p, blk, w))
			return DIPC_EINVAL;
		pool_notify_free(p);
		return 0;
	}
	rc = pool_check_blk(p, blk, NULL);
	if (rc == 0) {
		struct blk_hdr *b = blk_at(p, blk);
		w = atomic_load_explicit(&b->word, memory_order_relaxed);
		/* A swap, not a store: a free racing us through the cache
		 * (the same block freed twice at once) may have cached it. */
		if (pool_used_to_free(b, w)) {
			h->nallocs--;
			h->free_bytes += blk_size(w);
		} else {
			rc = DIPC_EINVAL;
		}
	}
	pool_unlock(p);
	if (rc == 0)
		pool_notify_free(p);
	return rc;
}

void pool_set_owner(dipc_pool *p, uint64_t blk, uint32_t owner)
{
	atomic_store_explicit(&blk_at(p, blk)->owner, owner, memory_order_relaxed);
}

bool pool_claim_owner(dipc_pool *p, uint64_t blk)
{
	_Atomic uint32_t *o = &blk_at(p, blk)->owner;
	uint32_t me = dipc_os_pid();
	uint32_t cur = atomic_load_explicit(o, memory_order_relaxed);
	do {
		if (cur == BLK_OWNER_RECLAIM)
			return false;
		if (cur == me)
			return true;
	} while (!atomic_compare_exchange_weak_explicit(o, &cur, me, memory_order_acq_rel,
							memory_order_relaxed));
	return true;
}

int pool_mem_new(dipc_pool *p, uint64_t blk, uint64_t off, uint64_t size, dipc_mem **out)
{
	dipc_mem *m = dipc_handle_new(sizeof(*m));
	if (!m)
		return DIPC_ENOMEM;
	atomic_store_explicit(&m->magic, DIPC_MAGIC_MEM, memory_order_relaxed);
	m->pool = p;
	m->blk = blk;
	m->off = off;
	m->size = size;
	*out = m;
	return 0;
}

/* ---- the segment ------------------------------------------------------ */

int dipc_pool_attr_init(struct dipc_pool_attr *attr)
{
	if (!attr)
		return DIPC_EINVAL;
	memset(attr, 0, sizeof(*attr));
	attr->mode = 0600;
	return 0;
}

/*
 * Read once: the header is shared memory that any process with write
 * access may change at any instant, so every field that decides an
 * address or a bound is read once (DIPC_SHARED_READ) into the private
 * copy, checked there, and only the copy is used from then on.  The
 * heap's size is not even taken from the header: it follows from the
 * mapping's size, which the header must merely agree with.
 */
struct pool_geom {
	uint64_t heap_size;
	uint64_t nonce;
	uint64_t uid;
	uint32_t flags;
	uint32_t max_allocs;
};

static int validate_hdr(const struct dipc_os_shm *shm, struct pool_geom *g)
{
	const struct pool_hdr *h = shm->addr;
	if (shm->size < POOL_HDR_SIZE + 2 * BLK_HDR ||
	    DIPC_SHARED_READ(h->magic) != POOL_MAGIC)
		return DIPC_ECORRUPT;
	if (DIPC_SHARED_READ(h->abi) != POOL_ABI)
		return DIPC_EVERSION;
	uint64_t heap = (uint64_t)shm->size - POOL_HDR_SIZE;
	if (DIPC_SHARED_READ(h->once_hdr_size) != POOL_HDR_SIZE ||
	    DIPC_SHARED_READ(h->once_seg_size) != shm->size ||
	    DIPC_SHARED_READ(h->once_heap_off) != POOL_HDR_SIZE ||
	    DIPC_SHARED_READ(h->once_heap_size) != heap || heap % BLK_HDR)
		return DIPC_ECORRUPT;
	g->heap_size = heap;
	g->nonce = DIPC_SHARED_READ(h->nonce);
	g->uid = DIPC_SHARED_READ(h->uid);
	g->flags = DIPC_SHARED_READ(h->flags);
	g->max_allocs = DIPC_SHARED_READ(h->once_max_allocs);
	return 0;
}

/* name is the one the caller opened or created the segment by, never the
 * copy in the header: that is shared memory anyone attached can scribble
 * on, and dipc_pool_destroy unlinks by this name. */
static int pool_wrap(struct dipc_os_shm *shm, const char *name, const struct pool_geom *g,
		     dipc_pool **out)
{
	dipc_pool *p = dipc_handle_new(sizeof(*p));
	if (!p)
		return DIPC_ENOMEM;
	atomic_store_explicit(&p->magic, DIPC_MAGIC_POOL, memory_order_relaxed);
	p->shm = *shm;
	p->hdr = shm->addr;
	p->heap = (unsigned char *)shm->addr + POOL_HDR_SIZE;
	p->heap_size = g->heap_size;
	p->nonce = g->nonce;
	p->uid = g->uid;
	p->flags = g->flags;
	p->max_allocs = g->max_allocs;
	p->id_bits = pool_id_bits(g->heap_size);
	snprintf(p->name, sizeof(p->name), "%s", name);
	*out = p;
	return 0;
}

int dipc_pool_create(const char *name, size_t size, const struct dipc_pool_attr *attr,
		     dipc_pool **pool)
{
	if (!pool)
		return DIPC_EINVAL;
	*pool = NULL;
	struct dipc_pool_attr def;
	if (!attr) {
		dipc_pool_attr_init(&def);
		attr = &def;
	}
	if ((attr->mode & ~0777u) ||
	    (attr->flags & ~(DIPC_POOL_KEEP_SIZE | DIPC_POOL_POW2 | DIPC_POOL_FIRST_FIT)))
		return DIPC_EINVAL;
	for (size_t i = 0; i < sizeof(attr->reserved) / sizeof(attr->reserved[0]); i++)
		if (attr->reserved[i])
			return DIPC_EINVAL;
	if (size == 0 || size > ((uint64_t)1 << 46))
		return DIPC_EINVAL;
	char segname[96];
	int rc = dipc_name_build(DIPC_SEG_POOL, name, segname, sizeof(segname));
	if (rc)
		return rc;
	uint64_t asked = size;
	if (size < DIPC_POOL_MIN_SIZE)
		size = DIPC_POOL_MIN_SIZE;
	uint64_t heap = DIPC_ALIGN_UP(size, 4096);
	struct dipc_os_shm shm;
	rc = dipc_os_shm_create(segname, POOL_HDR_SIZE + heap, attr->mode ? attr->mode : 0600, &shm);
	if (rc)
		return rc;
	struct pool_hdr *h = shm.addr;
	h->abi = POOL_ABI;
	h->once_hdr_size = POOL_HDR_SIZE;
	h->once_seg_size = shm.size;
	h->once_heap_off = POOL_HDR_SIZE;
	h->once_heap_size = heap;
	h->nonce = new_nonce();
	h->host = dipc_os_host_id();
	h->mode = attr->mode;
	h->creator = dipc_os_pid();
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->free_bytes = heap;
	h->uid = attr->uid;
	h->flags = attr->flags;
	h->once_max_allocs = attr->max_allocs;
	struct blk_hdr *first = (struct blk_hdr *)((unsigned char *)shm.addr + POOL_HDR_SIZE);
	atomic_store_explicit(&first->word, heap, memory_order_relaxed);
	struct pool_geom g = { .heap_size = heap, .nonce = h->nonce, .uid = attr->uid,
			       .flags = attr->flags, .max_allocs = attr->max_allocs };
	rc = pool_wrap(&shm, name, &g, pool);
	if (rc == 0 && (attr->flags & DIPC_POOL_KEEP_SIZE))
		pool_keep_tail(*pool, DIPC_ALIGN_UP(asked, BLK_HDR));
	/* The magic goes last: a concurrent attacher sees a whole header or none. */
	atomic_thread_fence(memory_order_release);
	h->magic = POOL_MAGIC;
	if (rc) {
		dipc_os_shm_close(&shm);
		dipc_os_shm_unlink(segname);
		return rc;
	}
	DIPC_LOG(DIPC_LOG_BASIC, "pool %s created, %llu bytes", name, (unsigned long long)heap);
	return 0;
}

/* Is this segment a pool its creator is still making?  Create gives the
 * object its size (posix_fallocate, which may take a while for a large
 * pool) and writes the magic last, so until then an opener finds a size
 * of 0 (dipc_os_shm_open says DIPC_ECORRUPT) or a header whose magic is
 * still 0.  Anything else that fails the checks is what it says. */
static bool pool_unfinished(int open_rc, const struct dipc_os_shm *shm)
{
	if (open_rc)
		return open_rc == DIPC_ECORRUPT;
	const struct pool_hdr *h = shm->addr;
	return shm->size >= POOL_HDR_SIZE && DIPC_SHARED_READ(h->magic) == 0;
}

static int open_by_segname(const char *segname, const char *name, unsigned flags,
			   uint64_t wait_ns, dipc_pool **pool)
{
	/* A pool being created is waited for, as far as wait_ns: an
	 * attacher that races its creator (a server restarting, a peer
	 * started at the same moment) gets the pool, not an error that
	 * calls it corrupt.  One never finished (its creator died or
	 * stopped half way) is DIPC_ECORRUPT after that. */
	uint64_t give_up = 0;
	for (;;) {
		struct dipc_os_shm shm;
		int rc = dipc_os_shm_open(segname, &shm);
		bool unfinished = pool_unfinished(rc, &shm);
		if (rc == 0 && unfinished)
			dipc_os_shm_close(&shm);
		if (unfinished) {
			uint64_t now = dipc_os_now_ns();
			if (!give_up)
				give_up = now + wait_ns;
			if (now < give_up) {
				uint64_t nap = give_up - now;
				dipc_os_sleep_ns(nap < POOL_READY_NAP_NS ? nap : POOL_READY_NAP_NS);
				continue;
			}
			DIPC_LOG(DIPC_LOG_BASIC, "pool %s was never finished by its creator", name);
			return DIPC_ECORRUPT;
		}
		if (rc)
			return rc;
		struct pool_geom g;
		/* Another user's pool under the name we asked for may be a
		 * squatter waiting for our data: joined only on request. */
		if (shm.other_owner && !(flags & DIPC_SHARED)) {
			DIPC_LOG(DIPC_LOG_BASIC, "pool %s belongs to another user; refused "
				 "(DIPC_SHARED accepts it)", name);
			rc = DIPC_EPERM;
		} else {
			rc = validate_hdr(&shm, &g);
		}
		if (rc == 0)
			rc = pool_wrap(&shm, name, &g, pool);
		if (rc)
			dipc_os_shm_close(&shm);
		return rc;
	}
}

int pool_attach_name_within(const char *name, unsigned flags, uint64_t wait_ns, dipc_pool **pool)
{
	if (!pool)
		return DIPC_EINVAL;
	*pool = NULL;
	if (flags & ~DIPC_SHARED)
		return DIPC_EINVAL;
	char segname[96];
	int rc = dipc_name_build(DIPC_SEG_POOL, name, segname, sizeof(segname));
	if (rc)
		return rc;
	return open_by_segname(segname, name, flags, wait_ns, pool);
}

int dipc_pool_attach_name_flags(const char *name, unsigned flags, dipc_pool **pool)
{
	return pool_attach_name_within(name, flags, POOL_READY_NS, pool);
}

int dipc_pool_attach_name(const char *name, dipc_pool **pool)
{
	return dipc_pool_attach_name_flags(name, 0, pool);
}

int dipc_pool_detach(dipc_pool *pool)
{
	if (!pool_ok(pool))
		return DIPC_EINVAL;
	dipc_os_shm_close(&pool->shm);
	dipc_handle_retire(pool, &pool->magic);
	return 0;
}

int dipc_pool_destroy(dipc_pool *pool)
{
	if (!pool_ok(pool))
		return DIPC_EINVAL;
	/* Only the first destroy removes the name: by the time a second
	 * handle is destroyed, the name may belong to a newer pool. */
	if (atomic_exchange(&pool->hdr->destroyed, 1)) {
		dipc_pool_detach(pool);
		return 0;
	}
	char segname[96];
	int rc = dipc_name_build(DIPC_SEG_POOL, pool->name, segname, sizeof(segname));
	if (rc == 0)
		rc = dipc_os_shm_unlink(segname);
	/* Already gone (destroyed elsewhere) is not this caller's failure. */
	if (rc == DIPC_ENOENT)
		rc = 0;
	dipc_pool_detach(pool);
	DIPC_LOG(DIPC_LOG_BASIC, "pool destroyed");
	return rc;
}

/* Descriptor: magic u32, version u32, host u64, nonce u64, name len u8, name. */
int pool_serialize_into(const dipc_pool *p, unsigned char *b)
{
	size_t n = strlen(p->name);
	memset(b, 0, POOL_SER_LEN);
	dipc_put64(b, (uint64_t)SER_MAGIC | ((uint64_t)POOL_ABI << 32));
	dipc_put64(b + 8, p->hdr->host);
	dipc_put64(b + 16, p->nonce);
	b[24] = (unsigned char)n;
	memcpy(b + 25, p->name, n);
	return POOL_SER_LEN;
}

int dipc_pool_serialize(const dipc_pool *pool, void *buf, size_t len)
{
	if (!pool_ok(pool) || (!buf && len))
		return DIPC_EINVAL;
	if (!buf)
		return POOL_SER_LEN;
	if (len < POOL_SER_LEN)
		return DIPC_EMSGSIZE;
	return pool_serialize_into(pool, buf);
}

int pool_attach_ser(const unsigned char *b, size_t len, dipc_pool **pool)
{
	if (len < POOL_SER_LEN)
		return DIPC_EINVAL;
	uint64_t head = dipc_get64(b);
	if ((uint32_t)head != SER_MAGIC)
		return DIPC_EINVAL;
	if ((uint32_t)(head >> 32) != POOL_ABI)
		return DIPC_EVERSION;
	if (dipc_get64(b + 8) != dipc_os_host_id())
		return DIPC_EFOREIGN;
	uint64_t nonce = dipc_get64(b + 16);
	size_t n = b[24];
	if (n == 0 || n > DIPC_NAME_MAX)
		return DIPC_EINVAL;
	char name[DIPC_NAME_MAX + 1];
	memcpy(name, b + 25, n);
	name[n] = 0;
	if (memchr(name, 0, n))
		return DIPC_EINVAL;
	/* A descriptor is handed over on purpose: sharing is what it is for,
	 * and the nonce below tells the pool it names from a squatter's. */
	int rc = dipc_pool_attach_name_flags(name, DIPC_SHARED, pool);
	if (rc)
		return rc;
	if ((*pool)->nonce != nonce) {
		/* The name now belongs to a newer pool. */
		dipc_pool_detach(*pool);
		*pool = NULL;
		return DIPC_ENOENT;
	}
	return 0;
}

int dipc_pool_attach(const void *ser, size_t len, dipc_pool **pool)
{
	if (!pool)
		return DIPC_EINVAL;
	*pool = NULL;
	if (!ser)
		return DIPC_EINVAL;
	return pool_attach_ser(ser, len, pool);
}

int dipc_pool_stats(dipc_pool *pool, struct dipc_pool_stats *st)
{
	if (!pool_ok(pool) || !st)
		return DIPC_EINVAL;
	memset(st, 0, sizeof(*st));
	int rc = pool_lock_patient(pool);
	if (rc)
		return rc;
	/* Cached and parked blocks are free space: give them back to the
	 * chain so that the figures (and largest_free) say what an
	 * allocation gets. */
	pool_sweep(pool);
	uint64_t off = 0, run = 0, largest = 0;
	while (off < pool->heap_size) {
		uint64_t w = atomic_load_explicit(&blk_at(pool, off)->word, memory_order_acquire);
		if (!blk_word_ok(pool, off, w)) {
			rc = DIPC_ECORRUPT;
			break;
		}
		if (w & BLK_USED) {
			run = 0;
		} else {
			run += blk_size(w);
			if (run > largest)
				largest = run;
		}
		off += blk_size(w);
	}
	st->total = pool->heap_size - pool_kept_bytes(pool);
	st->free = pool->hdr->free_bytes;
	st->largest_free = largest >= 2 * BLK_HDR ? largest - BLK_HDR : 0;
	if ((pool->flags & DIPC_POOL_POW2) && st->largest_free)
		st->largest_free = (uint64_t)1 << (63 - __builtin_clzll(st->largest_free));
	st->nallocs = pool->hdr->nallocs - pool_kept_count(pool);
	st->nchannels = pool->hdr->nchannels;
	pool_unlock(pool);
	return rc;
}

/* ---- allocations ---------------------------------------------------------- */

static int alloc_try(dipc_pool *pool, size_t size, uint64_t deadline, dipc_mem **mem)
{
	uint64_t blk, take = pool_alloc_size(pool, size);
	int rc = pool_alloc_raw(pool, take, dipc_os_pid(), deadline, &blk);
	if (rc)
		return rc;
	if (take != size)
		blk_at(pool, blk)->once_user_size = size;  /* the block is ours */
	rc = pool_mem_new(pool, blk, blk + BLK_HDR, size, mem);
	if (rc)
		pool_free_raw(pool, blk);
	return rc;
}

int dipc_pool_alloc(dipc_pool *pool, size_t size, dipc_mem **mem)
{
	return dipc_pool_alloc_wait(pool, size, DIPC_TRY_ONCE, mem);
}

int dipc_pool_alloc_wait(dipc_pool *pool, size_t size, int64_t timeout_ns, dipc_mem **mem)
{
	if (!mem)
		return DIPC_EINVAL;
	*mem = NULL;
	if (!pool_ok(pool) || size == 0 || !dipc_timeout_valid(timeout_ns))
		return DIPC_EINVAL;
	uint64_t deadline = dipc_deadline(timeout_ns);
	struct pool_hdr *h = pool->hdr;
	int rc = alloc_try(pool, size, deadline, mem);
	/* What could never fit (the block kept for channels is not for
	 * allocations) fails at once. */
	if (rc != DIPC_ENOSPC || deadline == 0 ||
	    pool_alloc_size(pool, size) > pool->heap_size - pool_kept_bytes(pool) - BLK_HDR)
		return rc;
	for (;;) {
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		/* Join the waiters, then try again: a free that did not see
		 * us (pool_notify_free) happened before this try. */
		uint32_t seq = atomic_load_explicit(&h->free_seq, memory_order_acquire);
		int slot = dipc_waiters_join(&h->free_waiters);
		atomic_thread_fence(memory_order_seq_cst);
		rc = alloc_try(pool, size, deadline, mem);
		int w = 0;
		if (rc == DIPC_ENOSPC && slot >= 0)
			w = dipc_os_wait(&pool->shm, &h->free_seq, seq, left);
		else if (rc == DIPC_ENOSPC)
			dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
		dipc_waiters_leave(&h->free_waiters, slot);
		if (w == DIPC_ETIMEDOUT)
			dipc_waiters_repair(&h->free_waiters);
		if (rc != DIPC_ENOSPC)
			return rc;
	}
}

/* pool_alloc_raw that also waits for room until deadline, for the
 * allocations a channel makes on a caller's behalf (a payload larger than
 * the block, a receive into an empty message): the caller's timeout covers
 * the wait for room as it covers dipc_pool_alloc_wait's, by the same
 * loop.  Try once (deadline 0) still reports DIPC_ENOSPC. */
int pool_alloc_wait_raw(dipc_pool *p, uint64_t size, uint32_t owner, uint64_t deadline,
			uint64_t *blk)
{
	struct pool_hdr *h = p->hdr;
	int rc = pool_alloc_raw(p, size, owner, deadline, blk);
	if (rc != DIPC_ENOSPC || deadline == 0 || size > p->heap_size - BLK_HDR)
		return rc;
	for (;;) {
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		uint32_t seq = atomic_load_explicit(&h->free_seq, memory_order_acquire);
		int slot = dipc_waiters_join(&h->free_waiters);
		atomic_thread_fence(memory_order_seq_cst);
		rc = pool_alloc_raw(p, size, owner, deadline, blk);
		int w = 0;
		if (rc == DIPC_ENOSPC && slot >= 0)
			w = dipc_os_wait(&p->shm, &h->free_seq, seq, left);
		else if (rc == DIPC_ENOSPC)
			dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
		dipc_waiters_leave(&h->free_waiters, slot);
		if (w == DIPC_ETIMEDOUT)
			dipc_waiters_repair(&h->free_waiters);
		if (rc != DIPC_ENOSPC)
			return rc;
	}
}

int dipc_pool_reclaim(dipc_pool *pool)
{
	if (!pool_ok(pool))
		return DIPC_EINVAL;
	struct pool_hdr *h = pool->hdr;
	int freed = 0;
	int rc = pool_lock_patient(pool);
	if (rc)
		return rc;
	pool_cache_unclaim_dead(pool);
	uint64_t off = 0;
	while (off < pool->heap_size) {
		struct blk_hdr *b = blk_at(pool, off);
		uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
		if (!blk_word_ok(pool, off, w)) {
			rc = DIPC_ECORRUPT;
			break;
		}
		if (w & BLK_CACHED) {
			/* Freed already, unless its process died moving it
			 * (parked blocks, owned by nobody, are no one's leak). */
			uint32_t who = atomic_load_explicit(&b->owner, memory_order_relaxed);
			if (pool_cache_orphan(pool, off, w) && who)
				freed++;
			off += blk_size(w);
			continue;
		}
		/* A dead owner's block is freed unless a channel holds it (it
		 * was sent, and waits for a receiver).  The owner goes to
		 * BLK_OWNER_RECLAIM by compare-and-swap from the id we judged,
		 * so a live process claiming the block meanwhile wins or loses
		 * cleanly (pool_claim_owner). */
		uint32_t owner = atomic_load_explicit(&b->owner, memory_order_acquire);
		if ((w & BLK_USED) && owner && owner != BLK_OWNER_RECLAIM &&
		    !dipc_os_pid_alive(owner) && !chan_holds_block(pool, off) &&
		    atomic_compare_exchange_strong(&b->owner, &owner, BLK_OWNER_RECLAIM) &&
		    pool_used_to_free(b, w)) {
			h->nallocs--;
			h->free_bytes += blk_size(w);
			freed++;
		}
		off += blk_size(w);
	}
	pool_unlock(pool);
	if (freed) {
		pool_notify_free(pool);
		DIPC_LOG(DIPC_LOG_BASIC, "reclaimed %d allocations of dead processes", freed);
	}
	return rc ? rc : freed;
}

/* ---- memory handles ----------------------------------------------------- */

int dipc_mem_get(const dipc_mem *mem, void **ptr, size_t *size)
{
	if (!mem_ok(mem))
		return DIPC_EINVAL;
	if (ptr)
		*ptr = pool_ptr(mem->pool, mem->off);
	if (size)
		*size = (size_t)mem->size;
	return 0;
}

#define MEM_SER_MAGIC 0x4d435049u  /* "IPCM" */
#define MEM_SER_LEN (8 + 8 + 8 + 8 + 8 + 8)

int dipc_mem_serialize(const dipc_mem *mem, void *buf, size_t len)
{
	if (!mem_ok(mem) || (!buf && len))
		return DIPC_EINVAL;
	if (!buf)
		return MEM_SER_LEN;
	if (len < MEM_SER_LEN)
		return DIPC_EMSGSIZE;
	unsigned char *b = buf;
	dipc_put64(b, (uint64_t)MEM_SER_MAGIC | ((uint64_t)POOL_ABI << 32));
	dipc_put64(b + 8, mem->pool->hdr->host);
	dipc_put64(b + 16, mem->pool->nonce);
	dipc_put64(b + 24, mem->blk);
	dipc_put64(b + 32, mem->off);
	dipc_put64(b + 40, mem->size);
	return MEM_SER_LEN;
}

int dipc_mem_attach(dipc_pool *pool, const void *ser, size_t len, dipc_mem **mem)
{
	if (!mem)
		return DIPC_EINVAL;
	*mem = NULL;
	if (!pool_ok(pool) || !ser || len < MEM_SER_LEN)
		return DIPC_EINVAL;
	const unsigned char *b = ser;
	uint64_t head = dipc_get64(b);
	if ((uint32_t)head != MEM_SER_MAGIC)
		return DIPC_EINVAL;
	if ((uint32_t)(head >> 32) != POOL_ABI)
		return DIPC_EVERSION;
	if (dipc_get64(b + 8) != dipc_os_host_id())
		return DIPC_EFOREIGN;
	if (dipc_get64(b + 16) != pool->nonce)
		return DIPC_EINVAL;
	uint64_t blk = dipc_get64(b + 24), off = dipc_get64(b + 32), size = dipc_get64(b + 40);
	uint64_t us;
	int rc = pool_check_blk(pool, blk, &us);
	if (rc)
		return rc;
	if (off < blk + BLK_HDR || off - (blk + BLK_HDR) > us || size > us - (off - (blk + BLK_HDR)))
		return DIPC_EINVAL;
	return pool_mem_new(pool, blk, off, size, mem);
}

int dipc_mem_clone(const dipc_mem *mem, size_t offset, size_t size, dipc_mem **clone)
{
	if (!clone)
		return DIPC_EINVAL;
	*clone = NULL;
	if (!mem_ok(mem) || offset > mem->size || size > mem->size - offset)
		return DIPC_EINVAL;
	return pool_mem_new(mem->pool, mem->blk, mem->off + offset, size, clone);
}

/* A handle a message holds is the message's to free (dipc_msg_mem(3)):
 * only a handle of its own (DIPC_MAGIC_MEM) is freed or detached here. */
int dipc_mem_free(dipc_mem *mem)
{
	if (!DIPC_LIVE(mem, DIPC_MAGIC_MEM))
		return DIPC_EINVAL;
	/* Its pool detached or destroyed: the memory went with it. */
	int rc = pool_ok(mem->pool) ? pool_free_raw(mem->pool, mem->blk) : DIPC_EDESTROYED;
	dipc_handle_retire(mem, &mem->magic);
	return rc;
}

int dipc_mem_detach(dipc_mem *mem)
{
	if (!DIPC_LIVE(mem, DIPC_MAGIC_MEM))
		return DIPC_EINVAL;
	dipc_handle_retire(mem, &mem->magic);
	return 0;
}

/* ---- ids, attributes, the kept block ("ids") -------------------------------
 *
 * An allocation's id names it in every process without a descriptor: the
 * index of its block (heap offset / 64) in the low id_bits bits, a serial
 * number above them, plus one so that no id is 0.  The serial comes from
 * the pool's counter the first time anyone asks for the block's id, and is
 * kept in the block (id_tag, serial + 1); every allocation starts without
 * one (pool_blk_fresh), so an id outlives neither a free nor a reuse of
 * its block at the same place: it is simply not found again.  Handing the
 * serials out on demand keeps the allocation fast path free of a shared
 * counter.  In a pool of more than 2^(64 - id_bits) ids asked for, serials
 * wrap, and an id that old could name a new allocation at the same place.
 *
 * The kept block: a DIPC_POOL_KEEP_SIZE pool lays its free space out as
 * the size asked for, followed by one block the pool itself holds (checked
 * with BLK_KEPT_MAGIC, so no memory handle can name or free it).  The
 * first allocation of the pool's own (a channel) that finds no room gives
 * it back to the free space, under the lock, after checking it.
 */

bool pool_count_ok(dipc_pool *p)
{
	if (!p->max_allocs)
		return true;
	return p->hdr->nallocs < (uint64_t)p->max_allocs + pool_kept_count(p);
}

uint64_t pool_kept_count(dipc_pool *p)
{
	/* A stray value here costs the owner's pool one in its counts. */
	return DIPC_SHARED_READ(p->hdr->once_kept) != 0 && p->hdr->nallocs > 0;
}

uint64_t pool_alloc_size(const dipc_pool *p, uint64_t size)
{
	if (!(p->flags & DIPC_POOL_POW2) || size <= 1 || size > ((uint64_t)1 << 62))
		return size;
	uint64_t b = 1;
	while (b < size)
		b <<= 1;
	return b;
}

uint64_t pool_kept_bytes(dipc_pool *p)
{
	/* The kept block runs to the end of the heap; a stray offset only
	 * makes the owner's figures wrong, and is bounded by the heap. */
	uint64_t off = DIPC_SHARED_READ(p->hdr->once_kept);
	return off && off < p->heap_size ? p->heap_size - off : 0;
}

void pool_keep_tail(dipc_pool *p, uint64_t keep)
{
	struct pool_hdr *h = p->hdr;
	if (keep < 2 * BLK_HDR || keep >= p->heap_size || p->heap_size - keep < 2 * BLK_HDR)
		return;
	struct blk_hdr *b = blk_at(p, keep);
	b->check = BLK_KEPT_MAGIC ^ keep ^ p->nonce;
	b->once_user_size = p->heap_size - keep - BLK_HDR;
	atomic_store_explicit(&b->owner, 0, memory_order_relaxed);
	pool_set_flight(p, keep, 0, 0);
	pool_blk_fresh(p, keep);
	atomic_store_explicit(&b->word, (p->heap_size - keep) | BLK_USED, memory_order_relaxed);
	atomic_store_explicit(&blk_at(p, 0)->word, keep, memory_order_relaxed);
	h->nallocs = 1;
	h->free_bytes = keep;
	h->once_kept = keep;
}

bool pool_give_kept(dipc_pool *p)
{
	struct pool_hdr *h = p->hdr;
	uint64_t off = DIPC_SHARED_READ(h->once_kept);
	if (!off)
		return false;
	h->once_kept = 0;
	if (off % BLK_HDR || off >= p->heap_size)
		return false;
	struct blk_hdr *b = blk_at(p, off);
	uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
	if ((w & (BLK_USED | BLK_CACHED)) != BLK_USED || !blk_word_ok(p, off, w) ||
	    b->check != (BLK_KEPT_MAGIC ^ off ^ p->nonce) || !pool_used_to_free(b, w))
		return false;
	h->nallocs--;
	h->free_bytes += blk_size(w);
	DIPC_LOG(DIPC_LOG_ALL, "pool %s: the block kept for channels is given up", p->name);
	return true;
}

int dipc_pool_get_attr(dipc_pool *pool, struct dipc_pool_attr *attr)
{
	if (!pool_ok(pool) || !attr)
		return DIPC_EINVAL;
	dipc_pool_attr_init(attr);
	uint32_t mode = DIPC_SHARED_READ(pool->hdr->mode) & 0777u;
	attr->mode = mode ? mode : 0600;
	attr->flags = pool->flags;
	attr->uid = pool->uid;
	attr->max_allocs = pool->max_allocs;
	return 0;
}

/* The block's tag (serial + 1), given one now if it has none. */
static uint64_t blk_id_tag(dipc_pool *p, uint64_t blk)
{
	_Atomic uint64_t *tag = &blk_at(p, blk)->id_tag;
	uint64_t t = atomic_load_explicit(tag, memory_order_acquire);
	if (t)
		return t;
	uint64_t mine = atomic_fetch_add_explicit(&p->hdr->id_next, 1, memory_order_relaxed) + 1;
	if (!mine)
		mine = 1;       /* 2^64 ids later */
	if (atomic_compare_exchange_strong_explicit(tag, &t, mine, memory_order_acq_rel,
						    memory_order_acquire))
		return mine;
	return t;               /* someone else named it first */
}

static uint64_t id_of(const dipc_pool *p, uint64_t blk, uint64_t tag)
{
	return (((tag - 1) << p->id_bits) | (blk / BLK_HDR)) + 1;
}

int dipc_mem_id(const dipc_mem *mem, uint64_t *id)
{
	if (!id)
		return DIPC_EINVAL;
	*id = 0;
	if (!mem_ok(mem))
		return DIPC_EINVAL;
	int rc = pool_check_blk(mem->pool, mem->blk, NULL);
	if (rc)
		return rc;
	uint64_t v = id_of(mem->pool, mem->blk, blk_id_tag(mem->pool, mem->blk));
	if (!v)
		return DIPC_ECORRUPT;   /* a forged block where none can be */
	*id = v;
	return 0;
}

int dipc_mem_from_id(dipc_pool *pool, uint64_t id, dipc_mem **mem)
{
	if (!mem)
		return DIPC_EINVAL;
	*mem = NULL;
	if (!pool_ok(pool))
		return DIPC_EINVAL;
	if (!id)
		return DIPC_ENOENT;
	uint64_t v = id - 1;
	uint64_t blk = (v & (((uint64_t)1 << pool->id_bits) - 1)) * BLK_HDR;
	uint64_t serial = v >> pool->id_bits;
	uint64_t us;
	if (blk >= pool->heap_size)
		return DIPC_ENOENT;
	int rc = pool_check_blk(pool, blk, &us);
	if (rc)
		return rc == DIPC_EINVAL ? DIPC_ENOENT : rc;
	uint64_t t = atomic_load_explicit(&blk_at(pool, blk)->id_tag, memory_order_acquire);
	if (!t || ((t - 1) & (UINT64_MAX >> pool->id_bits)) != serial)
		return DIPC_ENOENT;
	return pool_mem_new(pool, blk, blk + BLK_HDR, us, mem);
}

static void block_put(struct dipc_block_info *out, size_t cap, size_t n, uint32_t kind,
		      uint64_t id, uint64_t size)
{
	if (n >= cap)
		return;
	out[n].id = id;
	out[n].size = size;
	out[n].kind = kind;
	out[n].reserved = 0;
}

int dipc_pool_blocks(dipc_pool *pool, struct dipc_block_info *out, size_t cap)
{
	if (!pool_ok(pool) || (!out && cap))
		return DIPC_EINVAL;
	int rc = pool_lock_patient(pool);
	if (rc)
		return rc;
	/* Cached and parked blocks are free space (as in dipc_pool_stats). */
	pool_sweep(pool);
	size_t n = 0;
	uint64_t off = 0, run = 0;
	while (off < pool->heap_size) {
		struct blk_hdr *b = blk_at(pool, off);
		uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
		if (!blk_word_ok(pool, off, w)) {
			rc = DIPC_ECORRUPT;
			break;
		}
		uint64_t sz = blk_size(w);
		if (!(w & BLK_USED)) {
			run += sz;
			off += sz;
			continue;
		}
		if (run >= 2 * BLK_HDR)
			block_put(out, cap, n++, DIPC_BLOCK_FREE, 0, run - BLK_HDR);
		run = 0;
		/* Allocations only: not the kept block, nor a damaged one. */
		if (!(w & BLK_CACHED) && b->check == (BLK_MAGIC ^ off ^ pool->nonce)) {
			uint64_t us = DIPC_SHARED_READ(b->once_user_size);
			if (us > sz - BLK_HDR)
				us = sz - BLK_HDR;
			uint32_t owner = atomic_load_explicit(&b->owner, memory_order_relaxed);
			block_put(out, cap, n++, owner ? DIPC_BLOCK_DATA : DIPC_BLOCK_CHANNEL,
				  id_of(pool, off, blk_id_tag(pool, off)), us);
		}
		off += sz;
	}
	if (run >= 2 * BLK_HDR)
		block_put(out, cap, n++, DIPC_BLOCK_FREE, 0, run - BLK_HDR);
	pool_unlock(pool);
	if (rc)
		return rc;
	return n > INT_MAX ? DIPC_EMSGSIZE : (int)n;
}

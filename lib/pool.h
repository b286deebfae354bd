/*
 * pool.h - the layout of a pool segment and what channel.c and msg.c
 * need of the allocator.
 *
 * A pool segment is one header page followed by the heap.  The heap is a
 * chain of blocks, each a 64-byte header followed by its payload; a block's
 * header word holds its size and whether it is in use, so every change to
 * the chain is a single 64-bit store: a split writes the remainder's header
 * inside free space first and then commits the block's word; a merge grows
 * one word.  A process killed at any point leaves a chain that walks.
 * A used block may also be cached (BLK_CACHED, see pool_cache.c): freed,
 * but kept whole for reuse; the walk treats it as used.
 */
#ifndef DIPC_POOL_H
#define DIPC_POOL_H

#include "internal.h"

#include <stdlib.h>

#define POOL_MAGIC   0x4c4f4f5043504944ull  /* "DIPCPOOL" */
#define POOL_ABI     4u      /* 2: the block cache (BLK_CACHED, pool_hdr.cache);
				3: waiter sets, parked frees, blocks' flight tags;
				4: allocation ids, uid, max_allocs, the kept size */
#define POOL_HDR_SIZE 4096u
#define BLK_HDR      64u
#define BLK_USED     1ull
#define BLK_CACHED   2ull    /* with BLK_USED: held by the block cache */
#define BLK_MAGIC    0x6b6c62637069645full
#define BLK_CACHE_MAGIC 0x6863616370696463ull
/* The check of the block a DIPC_POOL_KEEP_SIZE pool keeps for channels
 * (pool.c, "ids"): not BLK_MAGIC, so no memory handle can name it. */
#define BLK_KEPT_MAGIC 0x7470656b70696463ull

/*
 * The block cache (pool_cache.c): per size class, PC_WAYS entries that
 * each name a freed block kept whole for the next allocation of about its
 * size.  An entry is 0 (empty) or (block index + 1) << 32 | claimer, the
 * index being the block's heap offset / 64 and the claimer the process
 * that is taking the block out (0 while it rests there).  Classes split
 * each power of two of the block size in four; blocks larger than
 * PC_MAX_BLOCK or beyond PC_MAX_OFF (whose index would not fit) are never
 * cached.
 */
#define PC_WAYS      4
#define PC_CLASSES   73
#define PC_MAX_BLOCK ((uint64_t)1 << 25)
#define PC_MAX_OFF   (((uint64_t)1 << 38) - 2 * BLK_HDR)

struct pool_hdr {
	uint64_t magic;
	uint32_t abi;
	uint32_t once_hdr_size;
	uint64_t once_seg_size;
	uint64_t once_heap_off;
	uint64_t once_heap_size;
	uint64_t nonce;
	uint64_t host;
	uint32_t mode;
	uint32_t creator;
	char name[DIPC_NAME_MAX + 1];
	_Atomic uint32_t destroyed;

	_Alignas(DIPC_CACHELINE) struct dipc_plock lock;

	_Alignas(DIPC_CACHELINE) _Atomic uint32_t free_seq;
	_Alignas(DIPC_CACHELINE) struct dipc_waiters free_waiters;

	/* Guarded by lock; recomputed after a take-over. */
	_Alignas(DIPC_CACHELINE) uint64_t nallocs;
	uint64_t free_bytes;
	uint64_t once_rover;
	uint64_t nchannels;
	/* Directory of channels: heap offset of the first channel header,
	 * each holding the next; changed only under lock by single stores. */
	_Atomic uint64_t chan_head;

	/* The block cache, outside the lock; see pool_cache.c. */
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t cache[PC_CLASSES][PC_WAYS];

	/* ABI 4 (pool.c, "ids").  The attributes the pool was made with: uid
	 * and flags are the creator's to give, max_allocs is a bound and is
	 * read once at attach.  once_kept: heap offset of the block kept for
	 * channels (0: none), read and checked under the lock. */
	_Alignas(DIPC_CACHELINE) uint64_t uid;
	uint32_t flags;
	uint32_t once_max_allocs;
	uint64_t once_kept;
	/* Serial numbers of allocation ids, handed out when an id is first
	 * asked for. */
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t id_next;
};

_Static_assert(sizeof(struct pool_hdr) <= POOL_HDR_SIZE, "the pool header fits its page");

struct blk_hdr {
	_Atomic uint64_t word;  /* size (multiple of 64, header included) | BLK_USED */
	uint64_t check;         /* BLK_MAGIC ^ offset ^ nonce while in use */
	uint64_t once_user_size; /* bytes asked for */
	_Atomic uint32_t owner; /* the process that holds it, or last sent it;
				   0: the pool's, or parked; BLK_OWNER_RECLAIM */
	uint32_t pad;
	/* Where it last travelled (see channel.c, "flight"): the heap offset
	 * of the channel's header (0: never sent) and the ring position. */
	_Atomic uint64_t flight_chan;
	_Atomic uint64_t flight_pos;
	/* The serial of the allocation's id plus one, 0 until an id is asked
	 * for (pool.c, "ids"); cleared whenever the block is handed out. */
	_Atomic uint64_t id_tag;
	uint64_t reserved[1];
};

/* An owner being reclaimed: set by compare-and-swap from the dead owner's
 * id, so that a live process claiming the block at the same moment (a
 * transfer send, a receiver taking it) and reclaim cannot both win. */
#define BLK_OWNER_RECLAIM 0xfffffffeu

struct dipc_pool {
	_Atomic uint32_t magic;         /* DIPC_MAGIC_POOL (handle.c) */
	struct dipc_os_shm shm;
	struct pool_hdr *hdr;
	unsigned char *heap;
	uint64_t heap_size;
	uint64_t nonce;
	char name[DIPC_NAME_MAX + 1];
	/* Private copies, read once at attach (pool.c, "ids"). */
	uint64_t uid;
	uint32_t flags;
	uint32_t max_allocs;    /* 0: no limit */
	unsigned id_bits;       /* bits of an id that hold the block's index */
};

struct dipc_mem {
	_Atomic uint32_t magic;         /* DIPC_MAGIC_MEM, or _MEM_MSG in a message */
	dipc_pool *pool;
	uint64_t blk;   /* heap offset of the block header */
	uint64_t off;   /* heap offset of the first byte of this range */
	uint64_t size;  /* bytes in this range */
};

/* A message: a payload size and, maybe, the pool memory behind it.  The
 * handle of memory a receive put there is kept inside the message (own),
 * saving a malloc and a free per message; dipc_msg_mem documents that the
 * handle stays the message's, so no caller frees it. */
struct dipc_msg {
	_Atomic uint32_t magic;         /* DIPC_MAGIC_MSG */
	dipc_mem *mem;
	uint64_t size;
	dipc_mem own;
	uint64_t attr[2];               /* DIPC_MSG_HINTS, DIPC_MSG_CLIENTID (msg.c) */
};

/* Give msg the handle on [off, off+size) of block blk. */
static inline void msg_set_own(dipc_msg *msg, dipc_pool *p, uint64_t blk, uint64_t off,
			       uint64_t size)
{
	atomic_store_explicit(&msg->own.magic, DIPC_MAGIC_MEM_MSG, memory_order_relaxed);
	msg->own.pool = p;
	msg->own.blk = blk;
	msg->own.off = off;
	msg->own.size = size;
	msg->mem = &msg->own;
}

/* Let go of msg's handle (not of the memory). */
static inline void msg_drop_mem(dipc_msg *msg)
{
	if (msg->mem && msg->mem != &msg->own)
		dipc_handle_retire(msg->mem, &msg->mem->magic);
	else if (msg->mem)
		atomic_store_explicit(&msg->own.magic, DIPC_MAGIC_DEAD, memory_order_relaxed);
	msg->mem = NULL;
}

/* A live pool handle, a live memory handle on a live pool, a live
 * message whose memory (if any) is on a live pool. */
static inline bool pool_ok(const dipc_pool *p)
{
	return DIPC_LIVE(p, DIPC_MAGIC_POOL);
}
static inline bool mem_ok(const dipc_mem *m)
{
	return m != NULL && (atomic_load_explicit(&m->magic, memory_order_relaxed) == DIPC_MAGIC_MEM ||
			     atomic_load_explicit(&m->magic, memory_order_relaxed) == DIPC_MAGIC_MEM_MSG) &&
	       pool_ok(m->pool);
}
static inline bool msg_ok(const dipc_msg *m)
{
	return DIPC_LIVE(m, DIPC_MAGIC_MSG) && (!m->mem || mem_ok(m->mem));
}

static inline struct blk_hdr *blk_at(const dipc_pool *p, uint64_t off)
{
	return (struct blk_hdr *)(p->heap + off);
}

static inline uint64_t blk_size(uint64_t word)
{
	return word & ~(uint64_t)(BLK_HDR - 1);
}

/* A block word read from shared memory is input: check it. */
static inline bool blk_word_ok(const dipc_pool *p, uint64_t off, uint64_t word)
{
	uint64_t sz = blk_size(word);
	uint64_t flags = word & (BLK_HDR - 1);
	return sz >= BLK_HDR && sz <= p->heap_size - off &&
	       (flags & ~(BLK_USED | BLK_CACHED)) == 0 && flags != BLK_CACHED;
}

/* Under the pool lock: make the used block b (word w) free.  A swap, as
 * the cache may turn a used block into a cached one without the lock;
 * false if it did. */
static inline bool pool_used_to_free(struct blk_hdr *b, uint64_t w)
{
	if (!atomic_compare_exchange_strong_explicit(&b->word, &w, blk_size(w),
			memory_order_release, memory_order_relaxed))
		return false;
	b->check = 0;
	return true;
}

/* Allocate with the given owner (0: the pool): from the block cache when
 * it has a block of the size, else under the pool lock, which it waits
 * for until deadline (see dipc_plock_acquire): DIPC_EBUSY or
 * DIPC_ETIMEDOUT when a live holder keeps it. */
int pool_alloc_raw(dipc_pool *p, uint64_t size, uint32_t owner, uint64_t deadline,
		   uint64_t *blk);
/* The same, waiting for room until deadline when the pool has none
 * (pool.c, beside dipc_pool_alloc_wait): DIPC_ETIMEDOUT when it expired,
 * DIPC_ENOSPC at once when trying once or when size can never fit. */
int pool_alloc_wait_raw(dipc_pool *p, uint64_t size, uint32_t owner, uint64_t deadline,
			uint64_t *blk);
/* Free the block whose header is at heap offset blk: into the cache when
 * it has room for it, else into the chain; never waits on another
 * process (a block whose lock is held is parked, see pool_park). */
int pool_free_raw(dipc_pool *p, uint64_t blk);

/* The block cache (pool_cache.c). */
int pool_cache_get(dipc_pool *p, uint64_t need, uint64_t user_size, uint32_t owner,
		   uint64_t *blk);
int pool_cache_put(dipc_pool *p, uint64_t blk, uint64_t word);
/* Under the pool lock: return every resting block to the chain (and free
 * claims of dead processes first); how many were returned. */
int pool_cache_drain(dipc_pool *p);
/* Under the pool lock: hand back the claims of dead processes. */
void pool_cache_unclaim_dead(dipc_pool *p);
/* Under the pool lock: free the cached block at off (word w) if it is in
 * no entry and the process that held it is dead; true if freed. */
bool pool_cache_orphan(dipc_pool *p, uint64_t off, uint64_t w);
/* Check that blk is a block in use and return its user size. */
int pool_check_blk(const dipc_pool *p, uint64_t blk, uint64_t *user_size);
/* Make a handle on [off, off+size) of block blk. */
int pool_mem_new(dipc_pool *p, uint64_t blk, uint64_t off, uint64_t size, dipc_mem **out);
void pool_set_owner(dipc_pool *p, uint64_t blk, uint32_t owner);
/* Make the block at blk this process's, unless reclaim has it: false then. */
bool pool_claim_owner(dipc_pool *p, uint64_t blk);
/* Record that the block at blk travels in the channel whose header is at
 * heap offset chan, at ring position pos (before the slot is committed). */
static inline void pool_set_flight(dipc_pool *p, uint64_t blk, uint64_t chan, uint64_t pos)
{
	struct blk_hdr *b = (struct blk_hdr *)(p->heap + blk);
	atomic_store_explicit(&b->flight_chan, chan, memory_order_relaxed);
	atomic_store_explicit(&b->flight_pos, pos, memory_order_relaxed);
}
/* Under the pool lock, in channel.c: does the channel the block's flight
 * record names hold it now, committed or being taken?  Reclaim never frees
 * such a block, whoever sent it. */
bool chan_holds_block(dipc_pool *p, uint64_t blk);
/* Take the pool lock by deadline (0: try once; UINT64_MAX: none); after a
 * take-over from a dead holder, recount.  0 or DIPC_EBUSY/DIPC_ETIMEDOUT. */
int pool_lock(dipc_pool *p, uint64_t deadline);
/* A few microseconds' spin, never more: DIPC_EBUSY if the lock is kept. */
int pool_trylock(dipc_pool *p);
/* For calls that take no timeout: DIPC_LOCK_PATIENCE_NS, then DIPC_EBUSY. */
int pool_lock_patient(dipc_pool *p);
void pool_unlock(dipc_pool *p);
/* Without the lock: make the used block blk (word w) a parked free - a
 * cached block in no entry, owned by nobody, which the next lock holder
 * that sweeps (pool_sweep) returns to the chain.  false if the block was
 * not in use any more (freed twice at once). */
bool pool_park(dipc_pool *p, uint64_t blk, uint64_t w);
/* Under the lock: return every resting cached block and every parked one
 * to the chain; how many. */
int pool_sweep(dipc_pool *p);
/* pool.c, "ids".  A block is handed out (by the chain or the cache): it has
 * no id yet. */
static inline void pool_blk_fresh(dipc_pool *p, uint64_t blk)
{
	atomic_store_explicit(&((struct blk_hdr *)(p->heap + blk))->id_tag, 0,
			      memory_order_relaxed);
}
/* The bits of an allocation id that hold its block's index (heap offset
 * / 64) in a heap of heap bytes; the bits above hold the serial. */
static inline unsigned pool_id_bits(uint64_t heap)
{
	unsigned b = 1;
	while (b < 48 && ((uint64_t)1 << b) < heap / BLK_HDR)
		b++;
	return b;
}
/* Under the lock: may one more block be taken from the chain? */
bool pool_count_ok(dipc_pool *p);
/* Under the lock, for the pool's own allocations (channels): give the
 * kept block back to the free space; true if there was one. */
bool pool_give_kept(dipc_pool *p);
/* Under the lock, at create: keep [keep, heap) for channels. */
void pool_keep_tail(dipc_pool *p, uint64_t keep);
/* 1 if the pool keeps a block for channels, and its bytes (for
 * dipc_pool_stats, which counts it neither as free nor as allocated). */
uint64_t pool_kept_count(dipc_pool *p);
uint64_t pool_kept_bytes(dipc_pool *p);
/* The block size an allocation of size takes (DIPC_POOL_POW2 rounds it). */
uint64_t pool_alloc_size(const dipc_pool *p, uint64_t size);
/* Serialized pool descriptor length. */
#define POOL_SER_LEN (8 + 8 + 8 + 1 + DIPC_NAME_MAX + 1)
int pool_serialize_into(const dipc_pool *p, unsigned char *buf);
int pool_attach_ser(const unsigned char *buf, size_t len, dipc_pool **out);
/* dipc_pool_attach_name_flags, waiting at most wait_ns (not
 * POOL_READY_NS) for a pool its creator has not finished: for a caller
 * with a deadline of its own. */
#define POOL_READY_NS (2ull * 1000 * 1000 * 1000)
int pool_attach_name_within(const char *name, unsigned flags, uint64_t wait_ns,
			    dipc_pool **pool);

static inline void *pool_ptr(const dipc_pool *p, uint64_t off)
{
	return p->heap + off;
}

#endif

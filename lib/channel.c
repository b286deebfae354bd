/*
 * channel.c - channels in pools: create, attach, destroy, poll, and the
 * lock-free slot protocol described in channel.h.
 */
#include "channel.h"

#include <stdlib.h>

#define SER_MAGIC 0x43435049u  /* "IPCC" */
#define CHAN_SER_LEN (8 + 8 + 8 + 8 + POOL_SER_LEN)

static inline struct slot_hdr *slot_at(const dipc_channel *ch, uint64_t pos)
{
	return (struct slot_hdr *)(ch->hdr->slots + (pos % ch->capacity) * ch->slot_size);
}

static inline unsigned char *slot_data(struct slot_hdr *s)
{
	return (unsigned char *)s + SLOT_HDR;
}

static inline uint32_t lap4_of(const dipc_channel *ch, uint64_t pos)
{
	return (uint32_t)(pos / ch->capacity) * 4u;
}

static inline uint64_t make_word(uint32_t stamp, uint32_t pid)
{
	return ((uint64_t)stamp << 32) | pid;
}

/* The nonce too: a channel made anew with the same cuid may land in the
 * freed block of the old one, and a handle on the old one must not reach
 * it (it would index the new slots with the old geometry). */
static inline bool chan_live(const dipc_channel *ch)
{
	return likely(ch->hdr->live == (CHAN_MAGIC ^ ch->cuid) && ch->hdr->nonce == ch->nonce);
}

/* Move a counter from pos to pos+1 unless someone already has. */
static inline void advance(_Atomic uint64_t *ctr, uint64_t pos)
{
	atomic_compare_exchange_strong_explicit(ctr, &pos, pos + 1,
			memory_order_release, memory_order_relaxed);
}

/*
 * After making progress, wake the other side if any of it sleeps.  This
 * is one half of a Dekker pattern whose other half is in chan_wait (count
 * the sleeper, fence, look at the slot again): the step that made the
 * progress must be ordered before the load of the sleeper count.  When
 * that step was a seq_cst read-modify-write (the consumer's commit), the
 * seq_cst load is enough: both are in the single total order, after the
 * sleeper's fence or before it (on x86 the locked instruction already
 * orders, and no fence is emitted).  After a plain store (the producer's
 * commit) a fence is needed.
 */
static inline void notify_after_rmw(dipc_channel *ch, _Atomic uint32_t *seq,
				    _Atomic uint32_t *sleepers)
{
	if (unlikely(atomic_load_explicit(sleepers, memory_order_seq_cst))) {
		atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
		dipc_os_wake(&ch->pool->shm, seq);
	}
}

static inline void notify(dipc_channel *ch, _Atomic uint32_t *seq, _Atomic uint32_t *sleepers)
{
	atomic_thread_fence(memory_order_seq_cst);
	notify_after_rmw(ch, seq, sleepers);
}

/*
 * A slot ahead of the counter's lap means the counter is behind, and the
 * caller moves it on.  Two laps or more ahead cannot happen while the
 * counter still reads pos: stamping position pos + capacity takes a
 * counter that has reached it, and counters only grow.  Such a stamp is
 * corruption, and chasing it would walk the counter through the whole
 * 32-bit stamp space, one slot at a time.  The counter is read again
 * after the slot, so a caller that merely fell behind is not fooled.
 */
static inline bool stamp_impossible(uint32_t stamp, uint32_t lap4, _Atomic uint64_t *ctr,
				    uint64_t pos)
{
	return (int32_t)(stamp - lap4) >= 8 &&
	       atomic_load_explicit(ctr, memory_order_acquire) == pos;
}

/* ---- producer ------------------------------------------------------------ */

struct send_op {
	const void *src;    /* PAYLOAD_INLINE: bytes to copy */
	uint64_t len;
	int kind;
	uint64_t ref_blk, ref_off;
};

static int try_send(dipc_channel *ch, const struct send_op *op, bool slow)
{
	struct chan_hdr *h = ch->hdr;
	uint32_t me = dipc_os_pid();
	for (;;) {
		if (!chan_live(ch))
			return DIPC_EDESTROYED;
		uint64_t t = atomic_load_explicit(&h->tail, memory_order_acquire);
		struct slot_hdr *s = slot_at(ch, t);
		uint32_t lap4 = lap4_of(ch, t);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		/* A slot skipped in the previous lap (its producer died) holds
		 * nothing: take it as if a consumer had passed it, so a dead
		 * producer costs no capacity while no consumer comes by.
		 * Consumers still at that lap find it a lap ahead and move on. */
		if (stamp == lap4 + SLOT_EMPTY || stamp == lap4 - 4 + SLOT_SKIP) {
			if (!atomic_compare_exchange_weak_explicit(&s->word, &w,
					make_word(lap4 + SLOT_WRITING, me),
					memory_order_acquire, memory_order_relaxed))
				continue;
			advance(&h->tail, t);
			s->once_len = op->len;
			s->kind = (uint64_t)op->kind;
			if (op->kind == PAYLOAD_INLINE) {
				/* An empty message may come from NULL, and memcpy
				 * with a NULL pointer is undefined even for 0 bytes. */
				if (op->len)
					memcpy(slot_data(s), op->src, op->len);
			} else {
				s->once_ref_blk = op->ref_blk;
				s->once_ref_off = op->ref_off;
				/* In flight from here: no process owns it.  Until now
				 * the sender did, so reclaim frees it if it dies. */
				pool_set_owner(ch->pool, op->ref_blk, 0);
			}
			atomic_store_explicit(&s->word, make_word(lap4 + SLOT_FULL, 0),
					      memory_order_release);
			notify(ch, &h->recv_seq, &h->recv_sleepers);
			return 0;
		}
		if ((int32_t)(stamp - lap4) < 0) {
			/* Still the previous lap's: full, unless tail moved on. */
			if (atomic_load_explicit(&h->tail, memory_order_acquire) != t)
				continue;
			if (slow && stamp == lap4 - 4 + SLOT_WRITING &&
			    !dipc_os_pid_alive((uint32_t)w)) {
				/* Its producer died mid-write: let consumers pass it. */
				atomic_compare_exchange_strong(&s->word, &w,
						make_word(lap4 - 4 + SLOT_SKIP, 0));
				continue;
			}
			return DIPC_EFULL;
		}
		if (stamp_impossible(stamp, lap4, &h->tail, t))
			return DIPC_ECORRUPT;
		advance(&h->tail, t);
	}
}

/* ---- consumer ------------------------------------------------------------ */

struct recv_op {
	void *buf;          /* where an inline payload goes */
	uint64_t cap;       /* its room */
	bool take_ref;      /* PAYLOAD_ALLOC: hand the block over, do not copy */
	bool peek;          /* only look (poll): never take a message */
	/* out */
	uint64_t len;
	int kind;
	uint64_t ref_blk, ref_off;
};

static int try_recv(dipc_channel *ch, struct recv_op *op, bool slow)
{
	struct chan_hdr *h = ch->hdr;
	for (;;) {
		if (!chan_live(ch))
			return DIPC_EDESTROYED;
		uint64_t hd = atomic_load_explicit(&h->head, memory_order_acquire);
		struct slot_hdr *s = slot_at(ch, hd);
		uint32_t lap4 = lap4_of(ch, hd);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		if (stamp == lap4 + SLOT_FULL) {
			uint64_t len = DIPC_SHARED_READ(s->once_len);
			int kind = (int)s->kind;
			uint64_t rb = DIPC_SHARED_READ(s->once_ref_blk), ro = DIPC_SHARED_READ(s->once_ref_off);
			bool fits = !op->peek && (kind == PAYLOAD_INLINE ? len <= op->cap && op->buf
									 : op->take_ref || len <= op->cap);
			bool sane = kind == PAYLOAD_ALLOC || (kind == PAYLOAD_INLINE && len <= ch->block_size);
			if (!fits || !sane) {
				/* Only believe what we read if the slot did not move. */
				atomic_thread_fence(memory_order_acquire);
				if (atomic_load_explicit(&s->word, memory_order_relaxed) != w)
					continue;
				op->len = len;
				return sane ? DIPC_EMSGSIZE : DIPC_ECORRUPT;
			}
			/* Not for 0 bytes: the buffer of an empty receive may be NULL. */
			if (kind == PAYLOAD_INLINE && len)
				memcpy(op->buf, slot_data(s), len);
			/* seq_cst: this commit is the Dekker store of the
			 * notify below (see notify_after_rmw). */
			if (!atomic_compare_exchange_strong_explicit(&s->word, &w,
					make_word(lap4 + 4 + SLOT_EMPTY, 0),
					memory_order_seq_cst, memory_order_relaxed))
				continue;
			/* A block taken is ours: record that before anything slow.
			 * The wake-up call below can be a system call, and the
			 * sender it wakes may take our core, so a receiver killed
			 * "just after taking" is most often killed right there;
			 * with the owner recorded first, reclaim frees the block.
			 * Only the gap from the CAS to this store stays unowned
			 * (dipc_pool_reclaim(3)); t/crash_window kills a receiver
			 * at the wake-up call to hold us to it. */
			if (kind == PAYLOAD_ALLOC && pool_check_blk(ch->pool, rb, NULL) == 0)
				pool_set_owner(ch->pool, rb, dipc_os_pid());
			advance(&h->head, hd);
			notify_after_rmw(ch, &h->send_seq, &h->send_sleepers);
			op->len = len;
			op->kind = kind;
			op->ref_blk = rb;
			op->ref_off = ro;
			return 0;
		}
		if (stamp == lap4 + SLOT_SKIP) {
			if (atomic_compare_exchange_strong(&s->word, &w, make_word(lap4 + 4 + SLOT_EMPTY, 0))) {
				advance(&h->head, hd);
				notify_after_rmw(ch, &h->send_seq, &h->send_sleepers);
			}
			continue;
		}
		if (stamp == lap4 + SLOT_WRITING) {
			if (slow && !dipc_os_pid_alive((uint32_t)w)) {
				DIPC_LOG(DIPC_LOG_BASIC, "channel %llu: producer %u died mid-send; slot skipped",
					 (unsigned long long)ch->cuid, (unsigned)(uint32_t)w);
				atomic_compare_exchange_strong(&s->word, &w, make_word(lap4 + SLOT_SKIP, 0));
				continue;
			}
			return DIPC_EEMPTY;
		}
		if ((int32_t)(stamp - lap4) <= 0) {
			if (atomic_load_explicit(&h->head, memory_order_acquire) != hd)
				continue;
			return DIPC_EEMPTY;
		}
		if (stamp_impossible(stamp, lap4, &h->head, hd))
			return DIPC_ECORRUPT;
		advance(&h->head, hd);
	}
}

/* ---- waiting -------------------------------------------------------------- */

typedef int (*try_fn)(dipc_channel *ch, void *op, bool slow);

/* Try, then spin, then sleep on the other side's sequence word. */
static int chan_wait(dipc_channel *ch, bool sending, int mode, int64_t timeout,
		     try_fn fn, void *op)
{
	int busy = sending ? DIPC_EFULL : DIPC_EEMPTY;
	/* A try-once call will not wait long enough to notice a dead peer
	 * the way a sleeper does, so its one attempt checks at once. */
	int rc = fn(ch, op, timeout == DIPC_TRY_ONCE);
	if (rc != busy || timeout == DIPC_TRY_ONCE)
		return rc;
	uint64_t deadline = dipc_deadline(timeout);
	struct chan_hdr *h = ch->hdr;
	_Atomic uint32_t *seq = sending ? &h->send_seq : &h->recv_seq;
	_Atomic uint32_t *sleepers = sending ? &h->send_sleepers : &h->recv_sleepers;
	bool slow = false;
	unsigned spins = 0;
	uint64_t spin_start = 0;
	for (;;) {
		if (mode != DIPC_WAIT_IDLE && (mode == DIPC_WAIT_SPIN || spins < DIPC_SPIN_LIMIT)) {
			spins++;
			if ((spins & 255) == 0) {
				uint64_t now = dipc_os_now_ns();
				if (deadline != UINT64_MAX && now >= deadline)
					return DIPC_ETIMEDOUT;
				/* A spinning wait gives the processor away only
				 * after a long fruitless spin: a message that
				 * arrives during a yield waits for it. */
				if (!spin_start)
					spin_start = now;
				else if (mode == DIPC_WAIT_SPIN && now - spin_start > DIPC_SPIN_YIELD_NS)
					dipc_os_yield();
				/* A spinning waiter must still notice a dead peer. */
				slow = (spins & 0xffff) == 0;
			}
			dipc_cpu_relax();
			rc = fn(ch, op, slow);
			if (rc != busy)
				return rc;
			continue;
		}
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		uint32_t v = atomic_load_explicit(seq, memory_order_acquire);
		atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		rc = fn(ch, op, slow);
		if (rc == busy && dipc_os_wait(&ch->pool->shm, seq, v, left) == DIPC_ETIMEDOUT)
			slow = true;
		atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
		if (rc != busy)
			return rc;
		rc = fn(ch, op, slow);
		if (rc != busy)
			return rc;
	}
}

static int try_send_cb(dipc_channel *ch, void *op, bool slow)
{
	return try_send(ch, op, slow);
}

static int try_recv_cb(dipc_channel *ch, void *op, bool slow)
{
	return try_recv(ch, op, slow);
}

/* ---- lifetime ----------------------------------------------------------- */

int dipc_channel_attr_init(struct dipc_channel_attr *attr)
{
	if (!attr)
		return DIPC_EINVAL;
	memset(attr, 0, sizeof(*attr));
	attr->capacity = DIPC_CHANNEL_DEFAULT_CAPACITY;
	attr->block_size = DIPC_CHANNEL_DEFAULT_BLOCK_SIZE;
	return 0;
}

/* A channel's geometry, read once from its header (see internal.h) and
 * checked; the handle keeps this copy and never reads the header's again. */
struct chan_geom {
	uint64_t cuid, capacity, block_size, slot_size, nonce;
};

static int chan_wrap(dipc_pool *pool, bool own, uint64_t off, const struct chan_geom *g,
		     dipc_channel **out)
{
	dipc_channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return DIPC_ENOMEM;
	ch->pool = pool;
	ch->own_pool = own;
	ch->hdr = pool_ptr(pool, off);
	ch->hdr_off = off;
	ch->cuid = g->cuid;
	ch->capacity = g->capacity;
	ch->block_size = g->block_size;
	ch->slot_size = g->slot_size;
	ch->nonce = g->nonce;
	*out = ch;
	return 0;
}

/* Is heap offset off (from a descriptor or shared memory) the start of a
 * block in use that is large enough for a channel header?  Nothing at off
 * may be read before this holds.  Sets *us to the block's user size. */
static int chan_block_ok(dipc_pool *pool, uint64_t off, uint64_t *us)
{
	if (off < BLK_HDR || off % DIPC_CACHELINE || pool_check_blk(pool, off - BLK_HDR, us))
		return DIPC_ENOENT;
	if (*us < sizeof(struct chan_hdr))
		return DIPC_ECORRUPT;
	return 0;
}

/* Validate a channel header at heap offset off, read from shared memory,
 * into g.  cuid is the id expected; nonce, if not 0, the nonce. */
static int chan_check(dipc_pool *pool, uint64_t off, uint64_t cuid, uint64_t nonce,
		      struct chan_geom *g)
{
	uint64_t us;
	int rc = chan_block_ok(pool, off, &us);
	if (rc)
		return rc;
	struct chan_hdr *h = pool_ptr(pool, off);
	if (DIPC_SHARED_READ(h->live) != (CHAN_MAGIC ^ cuid) || DIPC_SHARED_READ(h->cuid) != cuid)
		return DIPC_ENOENT;
	if (DIPC_SHARED_READ(h->abi) != CHAN_ABI)
		return DIPC_EVERSION;
	g->cuid = cuid;
	g->nonce = DIPC_SHARED_READ(h->nonce);
	g->capacity = DIPC_SHARED_READ(h->once_capacity);
	g->block_size = DIPC_SHARED_READ(h->once_block_size);
	g->slot_size = DIPC_SHARED_READ(h->once_slot_size);
	if (nonce && g->nonce != nonce)
		return DIPC_ENOENT;
	if (g->capacity == 0 || g->capacity > DIPC_CHANNEL_MAX_CAPACITY ||
	    g->block_size == 0 || g->block_size > DIPC_CHANNEL_MAX_BLOCK_SIZE ||
	    g->slot_size != SLOT_HDR + DIPC_ALIGN_UP(g->block_size, DIPC_CACHELINE) ||
	    g->capacity * g->slot_size > us - sizeof(struct chan_hdr))
		return DIPC_ECORRUPT;
	return 0;
}

/* Find a live channel by id in the pool's directory (under the pool lock). */
static uint64_t dir_find(dipc_pool *pool, uint64_t cuid, uint64_t *prev)
{
	uint64_t off = atomic_load(&pool->hdr->chan_head), p = 0;
	/* The walk is bounded by how many channels the heap can hold, not
	 * only by nchannels: that is shared memory too, and with a link
	 * that loops back, a huge count would make the walk endless. */
	uint64_t most = pool->heap_size / (BLK_HDR + sizeof(struct chan_hdr) + SLOT_HDR + DIPC_CACHELINE);
	uint64_t limit = pool->hdr->nchannels < most ? pool->hdr->nchannels + 1 : most;
	for (uint64_t n = 0; off && n <= limit; n++) {
		/* off comes from shared memory: check where it points before
		 * reading the id there (a broken link ends the walk). */
		uint64_t us;
		struct chan_geom g;
		if (chan_block_ok(pool, off, &us))
			break;
		struct chan_hdr *h = pool_ptr(pool, off);
		if (chan_check(pool, off, DIPC_SHARED_READ(h->cuid), 0, &g))
			break;
		if (g.cuid == cuid) {
			if (prev)
				*prev = p;
			return off;
		}
		p = off;
		off = atomic_load(&h->next);
	}
	return 0;
}

int dipc_channel_create(dipc_pool *pool, uint64_t cuid, const struct dipc_channel_attr *attr,
			dipc_channel **ch)
{
	if (!ch)
		return DIPC_EINVAL;
	*ch = NULL;
	if (!pool)
		return DIPC_EINVAL;
	struct dipc_channel_attr def;
	if (!attr) {
		dipc_channel_attr_init(&def);
		attr = &def;
	}
	for (size_t i = 0; i < sizeof(attr->reserved) / sizeof(attr->reserved[0]); i++)
		if (attr->reserved[i])
			return DIPC_EINVAL;
	if (attr->capacity == 0 || attr->capacity > DIPC_CHANNEL_MAX_CAPACITY ||
	    attr->block_size == 0 || attr->block_size > DIPC_CHANNEL_MAX_BLOCK_SIZE)
		return DIPC_EINVAL;
	uint64_t slot_size = SLOT_HDR + DIPC_ALIGN_UP(attr->block_size, DIPC_CACHELINE);
	uint64_t bytes = sizeof(struct chan_hdr) + attr->capacity * slot_size;

	struct pool_hdr *ph = pool->hdr;
	int rc;
	uint64_t blk;
	pool_lock(pool);
	if (dir_find(pool, cuid, NULL)) {
		rc = DIPC_EEXIST;
		goto out;
	}
	pool_unlock(pool);
	/* The allocator takes the lock itself; create under a second pass. */
	rc = pool_alloc_raw(pool, bytes, 0, &blk);
	if (rc)
		return rc;
	uint64_t off = blk + BLK_HDR;
	struct chan_hdr *h = pool_ptr(pool, off);
	memset(h, 0, sizeof(*h));
	h->cuid = cuid;
	h->abi = CHAN_ABI;
	h->once_capacity = attr->capacity;
	h->once_block_size = attr->block_size;
	h->once_slot_size = slot_size;
	uint64_t nonce = pool->nonce ^ (blk * 0x9e3779b97f4a7c15ull) ^ dipc_os_now_ns();
	h->nonce = nonce;
	for (uint64_t i = 0; i < attr->capacity; i++) {
		struct slot_hdr *s = (struct slot_hdr *)(h->slots + i * slot_size);
		atomic_store_explicit(&s->word, make_word(SLOT_EMPTY, 0), memory_order_relaxed);
	}
	pool_lock(pool);
	if (dir_find(pool, cuid, NULL)) {
		pool_unlock(pool);
		pool_free_raw(pool, blk);
		return DIPC_EEXIST;
	}
	h->live = CHAN_MAGIC ^ cuid;
	atomic_store(&h->next, atomic_load(&ph->chan_head));
	atomic_store_explicit(&ph->chan_head, off, memory_order_release);
	ph->nchannels++;
	struct chan_geom g = { .cuid = cuid, .capacity = attr->capacity,
			       .block_size = attr->block_size, .slot_size = slot_size,
			       .nonce = nonce };
	rc = chan_wrap(pool, false, off, &g, ch);
	if (rc) {
		h->live = 0;
		atomic_store(&ph->chan_head, atomic_load(&h->next));
		ph->nchannels--;
		pool_unlock(pool);
		pool_free_raw(pool, blk);
		return rc;
	}
	DIPC_LOG(DIPC_LOG_BASIC, "channel %llu created: capacity %llu, block %llu",
		 (unsigned long long)cuid, (unsigned long long)attr->capacity,
		 (unsigned long long)attr->block_size);
out:
	pool_unlock(pool);
	return rc;
}

int dipc_channel_detach(dipc_channel *ch)
{
	if (!ch)
		return DIPC_EINVAL;
	if (atomic_load(&ch->handles) > 0)
		return DIPC_EBUSY;
	if (ch->own_pool)
		dipc_pool_detach(ch->pool);
	free(ch);
	return 0;
}

/* Free the payloads that travel in allocations and are still waiting in
 * the slots: once the channel is gone nobody can take them.  A consumer
 * already inside try_recv races us for a slot with the same CAS, so each
 * block is freed by exactly one side. */
static void drop_payloads(dipc_channel *ch)
{
	for (uint64_t i = 0; i < ch->capacity; i++) {
		struct slot_hdr *s = (struct slot_hdr *)(ch->hdr->slots + i * ch->slot_size);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		if ((stamp & 3) != SLOT_FULL || s->kind != PAYLOAD_ALLOC)
			continue;
		uint64_t blk = DIPC_SHARED_READ(s->once_ref_blk);
		if (atomic_compare_exchange_strong(&s->word, &w, make_word(stamp + 2, 0)))
			pool_free_raw(ch->pool, blk);
	}
}

int dipc_channel_destroy(dipc_channel *ch)
{
	if (!ch)
		return DIPC_EINVAL;
	if (atomic_load(&ch->handles) > 0)
		return DIPC_EBUSY;
	dipc_pool *pool = ch->pool;
	struct chan_hdr *h = ch->hdr;
	pool_lock(pool);
	uint64_t prev = 0;
	uint64_t off = dir_find(pool, ch->cuid, &prev);
	int rc = 0;
	if (off != ch->hdr_off || h->nonce != ch->nonce) {
		rc = DIPC_EDESTROYED;
	} else {
		h->live = 0;
		uint64_t next = atomic_load(&h->next);
		if (prev)
			atomic_store(&((struct chan_hdr *)pool_ptr(pool, prev))->next, next);
		else
			atomic_store(&pool->hdr->chan_head, next);
		pool->hdr->nchannels--;
	}
	pool_unlock(pool);
	if (rc == 0) {
		/* Waiters wake, see the channel gone and fail. */
		atomic_fetch_add(&h->recv_seq, 1);
		atomic_fetch_add(&h->send_seq, 1);
		dipc_os_wake(&pool->shm, &h->recv_seq);
		dipc_os_wake(&pool->shm, &h->send_seq);
		drop_payloads(ch);
		pool_free_raw(pool, ch->hdr_off - BLK_HDR);
		DIPC_LOG(DIPC_LOG_BASIC, "channel %llu destroyed", (unsigned long long)ch->cuid);
	}
	dipc_channel_detach(ch);
	return rc;
}

/* Descriptor: magic u32 + abi u32, cuid, header offset, nonce, pool descriptor. */
int dipc_channel_serialize(const dipc_channel *ch, void *buf, size_t len)
{
	if (!ch || (!buf && len))
		return DIPC_EINVAL;
	if (!buf)
		return CHAN_SER_LEN;
	if (len < CHAN_SER_LEN)
		return DIPC_EMSGSIZE;
	unsigned char *b = buf;
	dipc_put64(b, (uint64_t)SER_MAGIC | ((uint64_t)CHAN_ABI << 32));
	dipc_put64(b + 8, ch->cuid);
	dipc_put64(b + 16, ch->hdr_off);
	dipc_put64(b + 24, ch->nonce);
	pool_serialize_into(ch->pool, b + 32);
	return CHAN_SER_LEN;
}

int dipc_channel_attach(const void *ser, size_t len, dipc_pool *pool, dipc_channel **ch)
{
	if (!ch)
		return DIPC_EINVAL;
	*ch = NULL;
	if (!ser || len < CHAN_SER_LEN)
		return DIPC_EINVAL;
	const unsigned char *b = ser;
	uint64_t head = dipc_get64(b);
	if ((uint32_t)head != SER_MAGIC)
		return DIPC_EINVAL;
	if ((uint32_t)(head >> 32) != CHAN_ABI)
		return DIPC_EVERSION;
	uint64_t cuid = dipc_get64(b + 8), off = dipc_get64(b + 16), nonce = dipc_get64(b + 24);
	bool own = false;
	int rc;
	if (pool) {
		/* The caller's pool must be the one the descriptor names. */
		unsigned char mine[POOL_SER_LEN];
		pool_serialize_into(pool, mine);
		if (memcmp(mine, b + 32, POOL_SER_LEN) != 0) {
			if (dipc_get64(b + 40) != dipc_os_host_id())
				return DIPC_EFOREIGN;
			return DIPC_EINVAL;
		}
	} else {
		rc = pool_attach_ser(b + 32, len - 32, &pool);
		if (rc)
			return rc;
		own = true;
	}
	struct chan_geom g;
	rc = chan_check(pool, off, cuid, nonce, &g);
	if (rc == 0)
		rc = chan_wrap(pool, own, off, &g, ch);
	if (rc && own)
		dipc_pool_detach(pool);
	return rc;
}

/* ---- queries ---------------------------------------------------------------- */

int dipc_channel_count(const dipc_channel *ch)
{
	if (!ch)
		return DIPC_EINVAL;
	if (!chan_live(ch))
		return DIPC_EDESTROYED;
	uint64_t hd = atomic_load_explicit(&ch->hdr->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&ch->hdr->tail, memory_order_acquire);
	if (t <= hd)
		return 0;
	return (int)(t - hd > ch->capacity ? ch->capacity : t - hd);
}

int dipc_channel_capacity(const dipc_channel *ch)
{
	return ch ? (int)ch->capacity : DIPC_EINVAL;
}

int dipc_channel_block_size(const dipc_channel *ch)
{
	return ch ? (int)ch->block_size : DIPC_EINVAL;
}

int dipc_channel_cuid(const dipc_channel *ch, uint64_t *cuid)
{
	if (!ch || !cuid)
		return DIPC_EINVAL;
	*cuid = ch->cuid;
	return 0;
}

int dipc_channel_pool(const dipc_channel *ch, dipc_pool **pool)
{
	if (!ch || !pool)
		return DIPC_EINVAL;
	*pool = ch->pool;
	return 0;
}

/* Which events hold now: look at the slots, not only the counters. */
static int poll_now(dipc_channel *ch)
{
	struct chan_hdr *h = ch->hdr;
	uint64_t hd = atomic_load_explicit(&h->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&h->tail, memory_order_acquire);
	struct slot_hdr *s = slot_at(ch, hd);
	uint32_t st = (uint32_t)(atomic_load_explicit(&s->word, memory_order_acquire) >> 32);
	bool readable = st == lap4_of(ch, hd) + SLOT_FULL;
	s = slot_at(ch, t);
	st = (uint32_t)(atomic_load_explicit(&s->word, memory_order_acquire) >> 32);
	bool writable = st == lap4_of(ch, t) + SLOT_EMPTY || st == lap4_of(ch, t) - 4 + SLOT_SKIP;
	int ev = 0;
	if (readable)
		ev |= DIPC_POLL_READABLE;
	if (writable)
		ev |= DIPC_POLL_WRITABLE;
	if (t <= hd)
		ev |= DIPC_POLL_EMPTY;
	if (t - hd >= ch->capacity && !writable)
		ev |= DIPC_POLL_FULL;
	return ev;
}

/* poll only looks, so it must pass a dead producer's slot itself, or it
 * would wait behind one for ever: at the head with a receive that never
 * takes, at the tail (a slot left from the previous lap) by marking it
 * for producers to reuse.  Liveness is checked only on a claimed slot. */
static void poll_pass_dead(dipc_channel *ch)
{
	struct recv_op probe = { .peek = true };
	try_recv(ch, &probe, true);
	struct chan_hdr *h = ch->hdr;
	uint64_t t = atomic_load_explicit(&h->tail, memory_order_acquire);
	struct slot_hdr *s = slot_at(ch, t);
	uint32_t lap4 = lap4_of(ch, t);
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
	if ((uint32_t)(w >> 32) == lap4 - 4 + SLOT_WRITING && !dipc_os_pid_alive((uint32_t)w))
		atomic_compare_exchange_strong(&s->word, &w, make_word(lap4 - 4 + SLOT_SKIP, 0));
}

int dipc_channel_poll(dipc_channel *ch, int events, int64_t timeout_ns)
{
	const int all = DIPC_POLL_READABLE | DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY | DIPC_POLL_FULL;
	if (!ch || events == 0 || (events & ~all) || !dipc_timeout_valid(timeout_ns))
		return DIPC_EINVAL;
	uint64_t deadline = dipc_deadline(timeout_ns);
	struct chan_hdr *h = ch->hdr;
	bool on_recv = events & (DIPC_POLL_READABLE | DIPC_POLL_FULL);
	bool on_send = events & (DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY);
	_Atomic uint32_t *seq = on_recv ? &h->recv_seq : &h->send_seq;
	_Atomic uint32_t *sleepers = on_recv ? &h->recv_sleepers : &h->send_sleepers;
	/* Waiting for both kinds of change, sleep in short naps. */
	uint64_t cap = on_recv && on_send ? 1000000 : DIPC_LIVENESS_NS;
	for (;;) {
		if (!chan_live(ch))
			return DIPC_EDESTROYED;
		poll_pass_dead(ch);
		int ev = poll_now(ch) & events;
		if (ev)
			return ev;
		if (deadline == 0)
			return 0;
		int64_t left = dipc_time_left(deadline, cap);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		uint32_t v = atomic_load_explicit(seq, memory_order_acquire);
		atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		if (!(poll_now(ch) & events) && chan_live(ch))
			dipc_os_wait(&ch->pool->shm, seq, v, left);
		atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
	}
}

/* ---- handles -------------------------------------------------------------- */

struct dipc_sendh {
	dipc_channel *ch;
	int mode;
	int64_t def_timeout;
	bool open;
};

struct dipc_recvh {
	dipc_channel *ch;
	int mode;
	int64_t def_timeout;
	bool open;
};

int dipc_handle_attr_init(struct dipc_handle_attr *attr)
{
	if (!attr)
		return DIPC_EINVAL;
	memset(attr, 0, sizeof(*attr));
	attr->wait_mode = DIPC_WAIT_ADAPTIVE;
	attr->default_timeout = DIPC_WAIT_FOREVER;
	return 0;
}

static int handle_attr_check(const struct dipc_handle_attr *a)
{
	if (a->wait_mode < DIPC_WAIT_ADAPTIVE || a->wait_mode > DIPC_WAIT_IDLE ||
	    !dipc_timeout_valid(a->default_timeout) || a->reserved0)
		return DIPC_EINVAL;
	for (size_t i = 0; i < sizeof(a->reserved) / sizeof(a->reserved[0]); i++)
		if (a->reserved[i])
			return DIPC_EINVAL;
	return 0;
}

#define HANDLE_FUNCS(kind) \
int dipc_##kind##_create(dipc_channel *ch, const struct dipc_handle_attr *attr, \
			 dipc_##kind **out) \
{ \
	if (!out) \
		return DIPC_EINVAL; \
	*out = NULL; \
	struct dipc_handle_attr def; \
	if (!attr) { \
		dipc_handle_attr_init(&def); \
		attr = &def; \
	} \
	if (!ch || handle_attr_check(attr)) \
		return DIPC_EINVAL; \
	dipc_##kind *h = calloc(1, sizeof(*h)); \
	if (!h) \
		return DIPC_ENOMEM; \
	h->ch = ch; \
	h->mode = attr->wait_mode; \
	h->def_timeout = attr->default_timeout; \
	atomic_fetch_add(&ch->handles, 1); \
	*out = h; \
	return 0; \
} \
int dipc_##kind##_open(dipc_##kind *h) \
{ \
	if (!h) \
		return DIPC_EINVAL; \
	if (!chan_live(h->ch)) \
		return DIPC_EDESTROYED; \
	h->open = true; \
	return 0; \
} \
int dipc_##kind##_close(dipc_##kind *h) \
{ \
	if (!h) \
		return DIPC_EINVAL; \
	if (!h->open) \
		return DIPC_ENOTOPEN; \
	h->open = false; \
	return 0; \
} \
int dipc_##kind##_destroy(dipc_##kind *h) \
{ \
	if (!h) \
		return DIPC_EINVAL; \
	atomic_fetch_sub(&h->ch->handles, 1); \
	free(h); \
	return 0; \
}

HANDLE_FUNCS(sendh)
HANDLE_FUNCS(recvh)

static inline int64_t pick_timeout(int64_t t, int64_t def)
{
	return t == DIPC_TIMEOUT_DEFAULT ? def : t;
}

/* ---- sending -------------------------------------------------------------- */

int dipc_sendh_send_bytes(dipc_sendh *h, const void *buf, size_t len, int64_t timeout_ns)
{
	if (!h || (!buf && len))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	struct send_op op = { .src = buf, .len = len, .kind = PAYLOAD_INLINE };
	if (len <= ch->block_size)
		return chan_wait(ch, true, h->mode, t, try_send_cb, &op);

	/* Too big for a block: it travels in a pool allocation. */
	uint64_t blk;
	int rc = pool_alloc_raw(ch->pool, len, dipc_os_pid(), &blk);
	if (rc)
		return rc;
	memcpy(pool_ptr(ch->pool, blk + BLK_HDR), buf, len);
	op.kind = PAYLOAD_ALLOC;
	op.ref_blk = blk;
	op.ref_off = blk + BLK_HDR;
	rc = chan_wait(ch, true, h->mode, t, try_send_cb, &op);
	if (rc)
		pool_free_raw(ch->pool, blk);
	return rc;
}


int dipc_sendh_send(dipc_sendh *h, dipc_msg *msg, dipc_msg *dest, int ownership,
		    int64_t timeout_ns)
{
	if (!h || !msg || msg == dest ||
	    (ownership != DIPC_COPY_ON_SEND && ownership != DIPC_TRANSFER_ON_SEND))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	void *src = msg->mem ? pool_ptr(msg->mem->pool, msg->mem->off) : NULL;
	dipc_channel *ch = h->ch;
	dipc_msg *travel = NULL;

	if (dest) {
		if (!dest->mem || dest->mem->pool->nonce != ch->pool->nonce)
			return DIPC_EINVAL;
		if (dest->mem->size < msg->size)
			return DIPC_EMSGSIZE;
		memcpy(pool_ptr(dest->mem->pool, dest->mem->off), src, msg->size);
		dest->size = msg->size;
		travel = dest;
	} else if (ownership == DIPC_TRANSFER_ON_SEND) {
		if (!msg->mem || msg->mem->pool->nonce != ch->pool->nonce)
			return DIPC_EINVAL;
		travel = msg;
	} else {
		return dipc_sendh_send_bytes(h, src, msg->size, t);
	}

	dipc_mem *m = travel->mem;
	/* The block may be another process's (attached by descriptor): it
	 * is ours while we wait, so its owner's death cannot free it under
	 * us; try_send hands it to the pool when it commits. */
	pool_set_owner(ch->pool, m->blk, dipc_os_pid());
	struct send_op op = { .len = travel->size, .kind = PAYLOAD_ALLOC,
			      .ref_blk = m->blk, .ref_off = m->off };
	int rc = chan_wait(ch, true, h->mode, t, try_send_cb, &op);
	if (rc)
		return rc;
	msg_drop_mem(travel);
	travel->size = 0;
	return 0;
}

/* ---- receiving ------------------------------------------------------------ */

/* A payload that came as an allocation: check the reference before use. */
static int check_ref(dipc_channel *ch, const struct recv_op *op)
{
	uint64_t us;
	if (pool_check_blk(ch->pool, op->ref_blk, &us))
		return DIPC_ECORRUPT;
	uint64_t start = op->ref_blk + BLK_HDR;
	if (op->ref_off < start || op->ref_off - start > us || op->len > us - (op->ref_off - start))
		return DIPC_ECORRUPT;
	return 0;
}

int dipc_recvh_recv_bytes(dipc_recvh *h, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
	if (!h || !len || (!buf && cap))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	static unsigned char nothing;
	struct recv_op op = { .buf = buf ? buf : &nothing, .cap = cap };
	int rc = chan_wait(ch, false, h->mode, t, try_recv_cb, &op);
	*len = (size_t)op.len;
	if (rc)
		return rc;
	if (op.kind == PAYLOAD_ALLOC) {
		rc = check_ref(ch, &op);
		if (rc)
			return rc;
		/* Taken: ours until freed, so a death while copying is reclaimed. */
		pool_set_owner(ch->pool, op.ref_blk, dipc_os_pid());
		memcpy(buf, pool_ptr(ch->pool, op.ref_off), op.len);
		pool_free_raw(ch->pool, op.ref_blk);
	}
	return 0;
}

int dipc_recvh_recv(dipc_recvh *h, dipc_msg *msg, int64_t timeout_ns)
{
	if (!h || !msg)
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	int rc;
	if (msg->mem) {
		/* Into the caller's allocation. */
		dipc_mem *m = msg->mem;
		struct recv_op op = { .buf = pool_ptr(m->pool, m->off), .cap = m->size };
		rc = chan_wait(ch, false, h->mode, t, try_recv_cb, &op);
		if (rc)
			return rc;
		if (op.kind == PAYLOAD_ALLOC) {
			rc = check_ref(ch, &op);
			if (rc)
				return rc;
			pool_set_owner(ch->pool, op.ref_blk, dipc_os_pid());
			memcpy(op.buf, pool_ptr(ch->pool, op.ref_off), op.len);
			pool_free_raw(ch->pool, op.ref_blk);
		}
		msg->size = op.len;
		return 0;
	}

	/* An empty message gets an allocation: the travelling one, or a new
	 * one sized to the payload once we know it. */
	uint64_t blk = 0, room = 0;
	struct recv_op op = { .buf = NULL, .cap = 0, .take_ref = true };
	uint64_t deadline = dipc_deadline(t);
	for (;;) {
		rc = chan_wait(ch, false, h->mode, t, try_recv_cb, &op);
		if (rc != DIPC_EMSGSIZE)
			break;
		if (blk)
			pool_free_raw(ch->pool, blk);
		blk = 0;
		room = op.len ? op.len : 1;
		rc = pool_alloc_raw(ch->pool, room, dipc_os_pid(), &blk);
		if (rc)
			return rc;
		op.buf = pool_ptr(ch->pool, blk + BLK_HDR);
		op.cap = room;
		if (deadline != 0 && deadline != UINT64_MAX) {
			t = dipc_time_left(deadline, UINT64_MAX >> 1);
			if (t == 0)
				t = DIPC_TRY_ONCE;
		}
	}
	if (rc == 0 && op.kind == PAYLOAD_ALLOC) {
		if (blk)
			pool_free_raw(ch->pool, blk);
		rc = check_ref(ch, &op);
		if (rc)
			return rc;
		pool_set_owner(ch->pool, op.ref_blk, dipc_os_pid());
		msg_set_own(msg, ch->pool, op.ref_blk, op.ref_off, op.len);
		msg->size = op.len;
		return 0;
	}
	if (rc) {
		if (blk)
			pool_free_raw(ch->pool, blk);
		return rc;
	}
	msg_set_own(msg, ch->pool, blk, blk + BLK_HDR, op.len);
	msg->size = op.len;
	return 0;
}

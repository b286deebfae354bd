/*
 * channel.c - channels in pools: create, attach, destroy, poll, and the
 * lock-free slot protocol described in channel.h.
 *
 * The crash rules, and why the protocol keeps each whoever is killed,
 * stopped or hostile (the same rules bind any new ring):
 *
 * 1. A dead producer never stalls the ring and its half-written message is
 *    never delivered.  A producer owns a slot from its CAS EMPTY(lap) ->
 *    WRITING(lap)|pid until its release store of FULL(lap).  Anyone who
 *    finds WRITING with a dead pid (checked only on the slow path: a
 *    sleeper's nap ended, a try-once call, poll) moves it to SKIP by CAS;
 *    consumers pass SKIP without delivering it and producers reuse it.
 *
 * 2. Exactly once, whoever dies.  A message held in the slot is copied out
 *    first and taken by one CAS FULL(lap) -> EMPTY(lap+1): a consumer
 *    killed before the CAS leaves the message whole to the next one; one
 *    killed after it had taken it (and it was lost with it, which is the
 *    only loss a consumer's death can cause).  Two consumers racing for one
 *    slot: one CAS wins.  A message travelling in a pool allocation is
 *    taken in two steps: CAS FULL(lap) -> TAKING(lap)|pid, then the
 *    consumer checks the reference and makes the block its own
 *    (pool_claim_owner), then CAS TAKING(lap)|pid -> EMPTY(lap+1); a
 *    reference that fails the checks is put back (CAS TAKING -> FULL) and
 *    the receive fails with DIPC_ECORRUPT, losing nothing.  A consumer
 *    found dead in TAKING is undone the same way and the message goes to
 *    the next consumer; it had not returned the message to anyone.
 *
 * 3. No allocation is lost (the "flight" record).  A block sent by
 *    reference keeps its sender as owner; before committing, the sender
 *    records in the block where it travels (channel header offset, ring
 *    position).  dipc_pool_reclaim frees a block of a dead owner only if
 *    that channel does not hold it at that position (FULL or TAKING with
 *    the slot naming the block, chan_holds_block).  So a sender killed
 *    before its commit leaves a block reclaim frees (the slot is skipped);
 *    one killed after leaves it to the receiver; a receiver killed in
 *    TAKING leaves it in the channel; one killed after its final CAS owns
 *    it, and reclaim frees it.  The owner moves by CAS only (claim and
 *    reclaim), so a live claimer and reclaim never both win.
 *
 * 4. No lost wake-up, and no trace of the dead.  A waiter joins the
 *    channel side's waiter set (a seq_cst RMW), issues a fence and looks
 *    at the ring again before it sleeps on the sequence word; a process
 *    that made progress orders it before its load of the set (notify).
 *    Either the waiter sees the progress or the waker sees the waiter and
 *    bumps the sequence, which makes the sleep return.  Sleeps last at
 *    most DIPC_LIVENESS_NS; a waiter killed asleep is struck off the set
 *    by whoever next finds it dead (waiters.c), so the wake-up system
 *    call stops being made.  Channel sets watching the channel are rung
 *    from the same place, by the same pattern, and their dead are struck
 *    off the same way (channelset.c); a channel nobody watches pays one
 *    more load per commit and per take.
 *
 * 5. Read once.  A slot's length, kind, reference and the message's
 *    attributes are read once into locals, checked (the length against
 *    the private block size, the reference against its block while the
 *    slot is ours in TAKING) and only the locals are used; the geometry
 *    of the ring is the handle's private copy.
 *
 * 6. Try once never sleeps.  A try-once send that finds the ring full
 *    while receivers are recorded as waiting keeps trying for a bounded
 *    moment (prespin_send: they were woken and are on their way), giving
 *    its processor away between tries; dead receivers are struck off
 *    then, and stopped or sleeping ones end it.
 */
#include "channel.h"
#include "remote.h"

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

/* The stamp base of position pos: its lap times SLOT_STATES. */
static inline uint32_t lap_of(const dipc_channel *ch, uint64_t pos)
{
	return (uint32_t)(pos / ch->capacity) * SLOT_STATES;
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
 * is one half of a Dekker pattern whose other half is in chan_wait (join
 * the waiters, fence, look at the slot again): the step that made the
 * progress must be ordered before the load of the waiter set.  When that
 * step was a seq_cst read-modify-write (a consumer's commit), the seq_cst
 * load is enough: both are in the single total order, after the waiter's
 * fence or before it (on x86 the locked instruction already orders, and no
 * fence is emitted).  After a plain store (the producer's commit) a fence
 * is needed.
 */
static inline void notify_after_rmw(dipc_channel *ch, _Atomic uint32_t *seq,
				    struct dipc_waiters *w, _Atomic uint32_t *watch, int want)
{
	if (unlikely(dipc_waiters_any(w))) {
		atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
		dipc_waiters_wake(w, &ch->pool->shm, seq);
	}
	/* Channel sets: the same Dekker half, against the watcher's
	 * registration and its look at the ring (channelset.c). */
	uint32_t m = atomic_load_explicit(watch, memory_order_seq_cst);
	if (unlikely(m))
		chset_ring(ch, m, want);
}

/* What a commit and a take can make true, for the watchers. */
#define RING_COMMIT (DIPC_POLL_READABLE | DIPC_POLL_FULL)
#define RING_TAKE   (DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY)

static inline void notify(dipc_channel *ch, _Atomic uint32_t *seq, struct dipc_waiters *w,
			  _Atomic uint32_t *watch, int want)
{
	atomic_thread_fence(memory_order_seq_cst);
	notify_after_rmw(ch, seq, w, watch, want);
}

/*
 * A slot ahead of the counter's lap means the counter is behind, and the
 * caller moves it on.  Two laps or more ahead cannot happen while the
 * counter still reads pos: stamping position pos + capacity takes a
 * counter that has reached it, and counters only grow.  Such a stamp is
 * corruption, and chasing it would walk the counter through the whole
 * 32-bit stamp space, one slot at a time; so is a state no protocol step
 * writes.  The counter is read again after the slot, so a caller that
 * merely fell behind is not fooled.
 */
static inline bool stamp_impossible(uint32_t stamp, uint32_t lap, _Atomic uint64_t *ctr,
				    uint64_t pos)
{
	return ((stamp % SLOT_STATES) > SLOT_TAKING ||
		(int32_t)(stamp - lap) >= (int32_t)(2 * SLOT_STATES)) &&
	       atomic_load_explicit(ctr, memory_order_acquire) == pos;
}

/* ---- producer ------------------------------------------------------------ */

struct send_op {
	const void *src;    /* PAYLOAD_INLINE: bytes to copy */
	uint64_t len;
	int kind;
	uint64_t ref_blk, ref_off;
	uint64_t hints, clientid;   /* the message's attributes (0: none given) */
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
		uint32_t lap = lap_of(ch, t);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		/* A slot skipped in the previous lap (its producer died) holds
		 * nothing: take it as if a consumer had passed it, so a dead
		 * producer costs no capacity while no consumer comes by.
		 * Consumers still at that lap find it a lap ahead and move on. */
		if (stamp == lap + SLOT_EMPTY || stamp == lap - SLOT_STATES + SLOT_SKIP) {
			if (!atomic_compare_exchange_weak_explicit(&s->word, &w,
					make_word(lap + SLOT_WRITING, me),
					memory_order_acquire, memory_order_relaxed))
				continue;
			advance(&h->tail, t);
			s->once_len = op->len;
			s->kind = (uint64_t)op->kind;
			s->once_hints = op->hints;
			s->once_clientid = op->clientid;
			if (op->kind == PAYLOAD_INLINE) {
				/* An empty message may come from NULL, and memcpy
				 * with a NULL pointer is undefined even for 0 bytes. */
				if (op->len)
					memcpy(slot_data(s), op->src, op->len);
			} else {
				s->once_ref_blk = op->ref_blk;
				s->once_ref_off = op->ref_off;
				/* Rule 3: where it travels, before the commit; the
				 * sender stays its owner. */
				pool_set_flight(ch->pool, op->ref_blk, ch->hdr_off, t);
			}
			atomic_store_explicit(&s->word, make_word(lap + SLOT_FULL, 0),
					      memory_order_release);
			notify(ch, &h->recv_seq, &h->recv_waiters, &h->watch_in, RING_COMMIT);
			return 0;
		}
		if ((int32_t)(stamp - lap) < 0) {
			/* Still the previous lap's: full, unless tail moved on. */
			if (atomic_load_explicit(&h->tail, memory_order_acquire) != t)
				continue;
			if (slow && stamp == lap - SLOT_STATES + SLOT_WRITING &&
			    !dipc_os_pid_alive((uint32_t)w)) {
				/* Its producer died mid-write: let consumers pass it. */
				atomic_compare_exchange_strong(&s->word, &w,
						make_word(lap - SLOT_STATES + SLOT_SKIP, 0));
				continue;
			}
			return DIPC_EFULL;
		}
		if (stamp_impossible(stamp, lap, &h->tail, t))
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
	uint64_t ref_blk, ref_off;  /* PAYLOAD_ALLOC: the block, checked and ours */
	uint64_t hints, clientid;   /* the message's attributes */
};

/* Rule 2, second half: the slot is ours in TAKING.  Check the reference
 * (read once, in op) while the message is still in the channel: a bad one
 * puts the message back and fails, so a reference that someone scribbled
 * on for a moment loses nothing, and the block is never lost.  Then make
 * the block ours, then let the slot go. */
static int take_alloc(dipc_channel *ch, struct slot_hdr *s, uint64_t full, uint64_t taking,
		      uint32_t lap, struct recv_op *op)
{
	uint64_t us, start = op->ref_blk + BLK_HDR;
	bool ok = pool_check_blk(ch->pool, op->ref_blk, &us) == 0 && op->ref_off >= start &&
		  op->ref_off - start <= us && op->len <= us - (op->ref_off - start) &&
		  pool_claim_owner(ch->pool, op->ref_blk);
	uint64_t next = ok ? make_word(lap + SLOT_STATES + SLOT_EMPTY, 0) : full;
	/* seq_cst: the Dekker store of the notify in the caller. */
	if (!atomic_compare_exchange_strong_explicit(&s->word, &taking, next,
			memory_order_seq_cst, memory_order_relaxed))
		return DIPC_ECORRUPT;   /* only a hostile write takes it from us */
	return ok ? 0 : DIPC_ECORRUPT;
}

static int try_recv(dipc_channel *ch, struct recv_op *op, bool slow)
{
	struct chan_hdr *h = ch->hdr;
	for (;;) {
		if (!chan_live(ch))
			return DIPC_EDESTROYED;
		uint64_t hd = atomic_load_explicit(&h->head, memory_order_acquire);
		struct slot_hdr *s = slot_at(ch, hd);
		uint32_t lap = lap_of(ch, hd);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		if (stamp == lap + SLOT_FULL) {
			uint64_t len = DIPC_SHARED_READ(s->once_len);
			int kind = (int)DIPC_SHARED_READ(s->kind);
			uint64_t rb = DIPC_SHARED_READ(s->once_ref_blk);
			uint64_t ro = DIPC_SHARED_READ(s->once_ref_off);
			uint64_t hints = DIPC_SHARED_READ(s->once_hints);
			uint64_t clientid = DIPC_SHARED_READ(s->once_clientid);
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
			if (kind == PAYLOAD_INLINE) {
				/* Not for 0 bytes: the buffer of an empty receive
				 * may be NULL. */
				if (len)
					memcpy(op->buf, slot_data(s), len);
				/* seq_cst: the Dekker store of the notify below
				 * (see notify_after_rmw). */
				if (!atomic_compare_exchange_strong_explicit(&s->word, &w,
						make_word(lap + SLOT_STATES + SLOT_EMPTY, 0),
						memory_order_seq_cst, memory_order_relaxed))
					continue;
			} else {
				uint64_t full = w;
				uint64_t taking = make_word(lap + SLOT_TAKING, dipc_os_pid());
				if (!atomic_compare_exchange_strong_explicit(&s->word, &w, taking,
						memory_order_acquire, memory_order_relaxed))
					continue;
				op->ref_blk = rb;
				op->ref_off = ro;
				op->len = len;
				int trc = take_alloc(ch, s, full, taking, lap, op);
				if (trc)
					return trc;
			}
			advance(&h->head, hd);
			notify_after_rmw(ch, &h->send_seq, &h->send_waiters, &h->watch_out, RING_TAKE);
			op->len = len;
			op->kind = kind;
			op->ref_blk = rb;
			op->ref_off = ro;
			op->hints = hints;
			op->clientid = clientid;
			return 0;
		}
		if (stamp == lap + SLOT_SKIP) {
			if (atomic_compare_exchange_strong(&s->word, &w,
					make_word(lap + SLOT_STATES + SLOT_EMPTY, 0))) {
				advance(&h->head, hd);
				notify_after_rmw(ch, &h->send_seq, &h->send_waiters, &h->watch_out, RING_TAKE);
			}
			continue;
		}
		if (stamp == lap + SLOT_WRITING || stamp == lap + SLOT_TAKING) {
			if (slow && !dipc_os_pid_alive((uint32_t)w)) {
				bool writing = stamp == lap + SLOT_WRITING;
				DIPC_LOG(DIPC_LOG_BASIC, "channel %llu: %s %u died %s; %s",
					 (unsigned long long)ch->cuid, writing ? "producer" : "consumer",
					 (unsigned)(uint32_t)w, writing ? "mid-send" : "taking a message",
					 writing ? "slot skipped" : "message put back");
				atomic_compare_exchange_strong(&s->word, &w,
						make_word(lap + (writing ? SLOT_SKIP : SLOT_FULL), 0));
				continue;
			}
			return DIPC_EEMPTY;
		}
		if ((int32_t)(stamp - lap) <= 0) {
			if (atomic_load_explicit(&h->head, memory_order_acquire) != hd)
				continue;
			return DIPC_EEMPTY;
		}
		if (stamp_impossible(stamp, lap, &h->head, hd))
			return DIPC_ECORRUPT;
		advance(&h->head, hd);
	}
}

/* ---- waiting -------------------------------------------------------------- */

typedef int (*try_fn)(dipc_channel *ch, void *op, bool slow);

/*
 * The pre-spin of a try-once send.  A channel found full while receivers
 * wait on it is full only for a moment: the commits that filled it woke
 * them (each commit that finds the waiter set non-empty wakes it), and
 * they are on their way to take.  So before reporting DIPC_EFULL the send
 * keeps trying, giving the processor away between tries (a woken receiver
 * may be waiting for ours), while receivers are still in the set: for
 * CHAN_PRESPIN_NS, and then, if one of them is ready to run (woken and
 * waiting for a processor: a busy machine, or Wine's slower wake-ups), up
 * to CHAN_PRESPIN_MAX_NS in all.  Receivers that are dead are struck off
 * the set then, and stopped or sleeping ones end the spin: neither costs
 * a later try-once send more than the first bound.  Ten receivers blocked
 * on a channel of capacity five take ten try-once sends, as with Dragon.
 * It never sleeps, and with nobody waiting to receive it costs nothing.
 */
static bool receiver_runnable(struct dipc_waiters *w)
{
	uint32_t me = dipc_os_pid();
	uint64_t m = atomic_load_explicit(&w->mask, memory_order_acquire);
	for (unsigned i = 0; i < DIPC_WAITERS_MAX; i++) {
		if (!(m & ((uint64_t)1 << i)))
			continue;
		uint32_t pid = atomic_load_explicit(&w->pid[i], memory_order_relaxed) &
			       ~DIPC_WAITER_FIXING;
		if (pid && (pid == me || dipc_os_pid_state(pid) == DIPC_PID_RUNS))
			return true;
	}
	return false;
}

static int prespin_send(dipc_channel *ch, try_fn fn, void *op)
{
	struct dipc_waiters *rw = &ch->hdr->recv_waiters;
	if (!dipc_waiters_any(rw))
		return DIPC_EFULL;
	uint64_t start = dipc_os_now_ns(), end = start + CHAN_PRESPIN_NS;
	bool longer = false;
	for (;;) {
		dipc_os_yield();
		int rc = fn(ch, op, false);
		if (rc != DIPC_EFULL || !dipc_waiters_any(rw))
			return rc;
		if (dipc_os_now_ns() < end)
			continue;
		if (longer)
			return DIPC_EFULL;
		dipc_waiters_repair(rw);
		if (!receiver_runnable(rw))
			return DIPC_EFULL;
		longer = true;
		end = start + CHAN_PRESPIN_MAX_NS;
	}
}

/* Try, then spin, then sleep on the other side's sequence word. */
static int chan_wait(dipc_channel *ch, bool sending, int mode, int64_t timeout,
		     try_fn fn, void *op)
{
	int busy = sending ? DIPC_EFULL : DIPC_EEMPTY;
	/* A try-once call will not wait long enough to notice a dead peer
	 * the way a sleeper does, so its one attempt checks at once. */
	int rc = fn(ch, op, timeout == DIPC_TRY_ONCE);
	if (rc == DIPC_EFULL && timeout == DIPC_TRY_ONCE)
		return prespin_send(ch, fn, op);
	if (rc != busy || timeout == DIPC_TRY_ONCE)
		return rc;
	uint64_t deadline = dipc_deadline(timeout);
	struct chan_hdr *h = ch->hdr;
	_Atomic uint32_t *seq = sending ? &h->send_seq : &h->recv_seq;
	struct dipc_waiters *ws = sending ? &h->send_waiters : &h->recv_waiters;
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
		int slot = dipc_waiters_join(ws);
		atomic_thread_fence(memory_order_seq_cst);
		rc = fn(ch, op, slow);
		if (rc == busy) {
			int wr;
			if (slot >= 0) {
				wr = dipc_os_wait(&ch->pool->shm, seq, v, left);
			} else {
				/* Every entry taken: nap, never sleep unannounced. */
				dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
				wr = 0;
			}
			if (wr == DIPC_ETIMEDOUT) {
				/* A nap without a wake-up: look for the dead, on
				 * the ring and among the other sleepers. */
				slow = true;
				dipc_waiters_repair(ws);
			}
		}
		dipc_waiters_leave(ws, slot);
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
	dipc_channel *ch = dipc_handle_new(sizeof(*ch));
	if (!ch)
		return DIPC_ENOMEM;
	atomic_store_explicit(&ch->magic, DIPC_MAGIC_CHANNEL, memory_order_relaxed);
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
	uint64_t nch = DIPC_SHARED_READ(pool->hdr->nchannels);
	uint64_t limit = nch < most ? nch + 1 : most;
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

int chan_attach_cuid(dipc_pool *pool, uint64_t cuid, dipc_channel **ch)
{
	int rc = pool_lock_patient(pool);
	if (rc)
		return rc;
	uint64_t off = dir_find(pool, cuid, NULL);
	struct chan_geom g;
	rc = off ? chan_check(pool, off, cuid, 0, &g) : DIPC_ENOENT;
	pool_unlock(pool);
	return rc ? rc : chan_wrap(pool, false, off, &g, ch);
}

int dipc_channel_create(dipc_pool *pool, uint64_t cuid, const struct dipc_channel_attr *attr,
			dipc_channel **ch)
{
	if (!ch)
		return DIPC_EINVAL;
	*ch = NULL;
	if (!pool_ok(pool))
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
	uint64_t deadline = dipc_os_now_ns() + DIPC_LOCK_PATIENCE_NS;
	rc = pool_lock(pool, deadline);
	if (rc)
		return DIPC_EBUSY;
	if (dir_find(pool, cuid, NULL)) {
		rc = DIPC_EEXIST;
		goto out;
	}
	pool_unlock(pool);
	/* The allocator takes the lock itself; create under a second pass. */
	rc = pool_alloc_raw(pool, bytes, 0, deadline, &blk);
	if (rc)
		return rc == DIPC_ETIMEDOUT ? DIPC_EBUSY : rc;
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
	if (pool_lock(pool, deadline)) {
		pool_free_raw(pool, blk);
		return DIPC_EBUSY;
	}
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
	if (!DIPC_LIVE(ch, DIPC_MAGIC_CHANNEL))
		return DIPC_EINVAL;
	if (atomic_load(&ch->handles) > 0)
		return DIPC_EBUSY;
	if (ch->own_pool)
		dipc_pool_detach(ch->pool);
	remote_free(ch->remote);
	dipc_handle_retire(ch, &ch->magic);
	return 0;
}

/* Free the payloads that travel in allocations and are still waiting in
 * the slots: once the channel is gone nobody can take them.  A consumer
 * already inside try_recv races us for a slot with the same CAS, so each
 * block is freed by exactly one side; a consumer found dead in TAKING is
 * undone first, as a receive would. */
static void drop_payloads(dipc_channel *ch)
{
	for (uint64_t i = 0; i < ch->capacity; i++) {
		struct slot_hdr *s = (struct slot_hdr *)(ch->hdr->slots + i * ch->slot_size);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint32_t stamp = (uint32_t)(w >> 32);
		uint32_t lap = stamp - stamp % SLOT_STATES;
		if (stamp % SLOT_STATES == SLOT_TAKING && !dipc_os_pid_alive((uint32_t)w)) {
			uint64_t full = make_word(lap + SLOT_FULL, 0);
			if (!atomic_compare_exchange_strong(&s->word, &w, full))
				continue;
			w = full;
			stamp = lap + SLOT_FULL;
		}
		if (stamp % SLOT_STATES != SLOT_FULL || DIPC_SHARED_READ(s->kind) != PAYLOAD_ALLOC)
			continue;
		uint64_t blk = DIPC_SHARED_READ(s->once_ref_blk);
		if (atomic_compare_exchange_strong(&s->word, &w,
				make_word(lap + SLOT_STATES + SLOT_EMPTY, 0)))
			pool_free_raw(ch->pool, blk);
	}
}

int dipc_channel_destroy(dipc_channel *ch)
{
	if (!chan_ok(ch))
		return DIPC_EINVAL;
	if (atomic_load(&ch->handles) > 0)
		return DIPC_EBUSY;
	if (ch->remote)
		return DIPC_EFOREIGN;   /* destroyed on its own host */
	dipc_pool *pool = ch->pool;
	struct chan_hdr *h = ch->hdr;
	/* A lock that a live process keeps: the handle stays, to retry. */
	int rc = pool_lock_patient(pool);
	if (rc)
		return rc;
	uint64_t prev = 0;
	uint64_t off = dir_find(pool, ch->cuid, &prev);
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
		/* Waiters wake, see the channel gone and fail; so do
		 * barrier waiters, and the sets watching it hear of it. */
		atomic_fetch_add(&h->recv_seq, 1);
		atomic_fetch_add(&h->send_seq, 1);
		atomic_fetch_add(&h->barrier_seq, 1);
		dipc_waiters_wake(&h->recv_waiters, &pool->shm, &h->recv_seq);
		dipc_waiters_wake(&h->send_waiters, &pool->shm, &h->send_seq);
		dipc_waiters_wake(&h->barrier_waiters, &pool->shm, &h->barrier_seq);
		uint32_t watched = atomic_load(&h->watch_in) | atomic_load(&h->watch_out);
		if (watched)
			chset_ring(ch, watched, -1);
		drop_payloads(ch);
		pool_free_raw(pool, ch->hdr_off - BLK_HDR);
		DIPC_LOG(DIPC_LOG_BASIC, "channel %llu destroyed", (unsigned long long)ch->cuid);
	}
	dipc_channel_detach(ch);
	return rc;
}

bool chan_holds_block(dipc_pool *p, uint64_t blk)
{
	struct blk_hdr *b = blk_at(p, blk);
	uint64_t off = atomic_load_explicit(&b->flight_chan, memory_order_relaxed);
	uint64_t pos = atomic_load_explicit(&b->flight_pos, memory_order_relaxed);
	uint64_t us;
	struct chan_geom g;
	/* The record is input like the rest of the segment: it must name a
	 * live channel, checked as an attach checks it. */
	if (off == 0 || chan_block_ok(p, off, &us))
		return false;
	struct chan_hdr *h = pool_ptr(p, off);
	if (chan_check(p, off, DIPC_SHARED_READ(h->cuid), 0, &g))
		return false;
	struct slot_hdr *s = (struct slot_hdr *)(h->slots + (pos % g.capacity) * g.slot_size);
	uint32_t lap = (uint32_t)(pos / g.capacity) * SLOT_STATES;
	uint32_t stamp = (uint32_t)(atomic_load_explicit(&s->word, memory_order_acquire) >> 32);
	return (stamp == lap + SLOT_FULL || stamp == lap + SLOT_TAKING) &&
	       DIPC_SHARED_READ(s->once_ref_blk) == blk;
}

/* Descriptor: magic u32 + abi u32, cuid, header offset, nonce, pool descriptor. */
int dipc_channel_serialize(const dipc_channel *ch, void *buf, size_t len)
{
	if (!chan_ok(ch) || (!buf && len))
		return DIPC_EINVAL;
	if (ch->remote)
		return remote_serialize(ch, buf, len);
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
	if (pool && !pool_ok(pool))
		return DIPC_EINVAL;
	if (pool) {
		/* The caller's pool must be the one the descriptor names. */
		unsigned char mine[POOL_SER_LEN];
		pool_serialize_into(pool, mine);
		if (memcmp(mine, b + 32, POOL_SER_LEN) != 0) {
			if (dipc_get64(b + 40) != dipc_os_host_id())
				return DIPC_EFOREIGN;
			return DIPC_EINVAL;
		}
	} else if (dipc_get64(b + 40) != dipc_os_host_id()) {
		return remote_attach(b, len, ch);   /* through the bridge */
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
	if (!chan_ok(ch))
		return DIPC_EINVAL;
	if (ch->remote)
		return remote_count(ch);
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
	return chan_ok(ch) ? (int)ch->capacity : DIPC_EINVAL;
}

int dipc_channel_block_size(const dipc_channel *ch)
{
	return chan_ok(ch) ? (int)ch->block_size : DIPC_EINVAL;
}

int dipc_channel_cuid(const dipc_channel *ch, uint64_t *cuid)
{
	if (!chan_ok(ch) || !cuid)
		return DIPC_EINVAL;
	*cuid = ch->cuid;
	return 0;
}

int dipc_channel_pool(const dipc_channel *ch, dipc_pool **pool)
{
	if (!chan_ok(ch) || !pool)
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
	bool readable = st == lap_of(ch, hd) + SLOT_FULL;
	s = slot_at(ch, t);
	st = (uint32_t)(atomic_load_explicit(&s->word, memory_order_acquire) >> 32);
	bool writable = st == lap_of(ch, t) + SLOT_EMPTY ||
			st == lap_of(ch, t) - SLOT_STATES + SLOT_SKIP;
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
	uint32_t lap = lap_of(ch, t);
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
	if ((uint32_t)(w >> 32) == lap - SLOT_STATES + SLOT_WRITING && !dipc_os_pid_alive((uint32_t)w))
		atomic_compare_exchange_strong(&s->word, &w,
				make_word(lap - SLOT_STATES + SLOT_SKIP, 0));
}

bool chan_is_live(const dipc_channel *ch)
{
	return chan_live(ch);
}

int chan_events_now(dipc_channel *ch)
{
	if (!chan_live(ch))
		return DIPC_EDESTROYED;
	poll_pass_dead(ch);
	return poll_now(ch);
}

int chan_send_inline(dipc_channel *ch, const void *buf, uint64_t len)
{
	struct send_op op = { .src = buf, .len = len, .kind = PAYLOAD_INLINE };
	return try_send(ch, &op, true);
}

int dipc_channel_blocked_receivers(const dipc_channel *ch)
{
	if (!chan_ok(ch))
		return DIPC_EINVAL;
	if (ch->remote)
		return DIPC_EFOREIGN;
	if (!chan_live(ch))
		return DIPC_EDESTROYED;
	uint64_t m = atomic_load_explicit(&ch->hdr->recv_waiters.mask, memory_order_acquire);
	return __builtin_popcountll(m);
}

int dipc_channel_poll(dipc_channel *ch, int events, int64_t timeout_ns)
{
	const int all = DIPC_POLL_READABLE | DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY | DIPC_POLL_FULL;
	if (!chan_ok(ch) || events == 0 || (events & ~all) || !dipc_timeout_valid(timeout_ns))
		return DIPC_EINVAL;
	if (ch->remote)
		return remote_poll(ch, events, timeout_ns);
	uint64_t deadline = dipc_deadline(timeout_ns);
	struct chan_hdr *h = ch->hdr;
	bool on_recv = events & (DIPC_POLL_READABLE | DIPC_POLL_FULL);
	bool on_send = events & (DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY);
	_Atomic uint32_t *seq = on_recv ? &h->recv_seq : &h->send_seq;
	struct dipc_waiters *ws = on_recv ? &h->recv_waiters : &h->send_waiters;
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
		int slot = dipc_waiters_join(ws);
		atomic_thread_fence(memory_order_seq_cst);
		int wr = 0;
		if (!(poll_now(ch) & events) && chan_live(ch)) {
			if (slot >= 0)
				wr = dipc_os_wait(&ch->pool->shm, seq, v, left);
			else
				dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
		}
		dipc_waiters_leave(ws, slot);
		if (wr == DIPC_ETIMEDOUT && cap == DIPC_LIVENESS_NS)
			dipc_waiters_repair(ws);
	}
}

/* ---- handles -------------------------------------------------------------- */

struct dipc_sendh {
	_Atomic uint32_t magic;     /* DIPC_MAGIC_SENDH */
	dipc_channel *ch;
	int mode;
	int64_t def_timeout;
	bool open;
};

struct dipc_recvh {
	_Atomic uint32_t magic;     /* DIPC_MAGIC_RECVH */
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

/* A live send or receive handle whose channel's pool is still mapped:
 * the channel handle itself outlives its send and receive handles
 * (dipc_channel_detach refuses while they exist), but the pool handle it
 * uses may have been detached under it, and with it the mapping. */
#define XFER_OK(h, MAGIC) (DIPC_LIVE(h, MAGIC) && pool_ok((h)->ch->pool))

#define HANDLE_FUNCS(kind, MAGIC) \
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
	if (!chan_ok(ch) || handle_attr_check(attr)) \
		return DIPC_EINVAL; \
	dipc_##kind *h = dipc_handle_new(sizeof(*h)); \
	if (!h) \
		return DIPC_ENOMEM; \
	atomic_store_explicit(&h->magic, MAGIC, memory_order_relaxed); \
	h->ch = ch; \
	h->mode = attr->wait_mode; \
	h->def_timeout = attr->default_timeout; \
	atomic_fetch_add(&ch->handles, 1); \
	*out = h; \
	return 0; \
} \
int dipc_##kind##_open(dipc_##kind *h) \
{ \
	if (!XFER_OK(h, MAGIC)) \
		return DIPC_EINVAL; \
	if (!h->ch->remote && !chan_live(h->ch)) \
		return DIPC_EDESTROYED; \
	h->open = true; \
	return 0; \
} \
int dipc_##kind##_close(dipc_##kind *h) \
{ \
	if (!DIPC_LIVE(h, MAGIC)) \
		return DIPC_EINVAL; \
	if (!h->open) \
		return DIPC_ENOTOPEN; \
	h->open = false; \
	return 0; \
} \
int dipc_##kind##_destroy(dipc_##kind *h) \
{ \
	if (!DIPC_LIVE(h, MAGIC)) \
		return DIPC_EINVAL; \
	atomic_fetch_sub(&h->ch->handles, 1); \
	dipc_handle_retire(h, &h->magic); \
	return 0; \
}

HANDLE_FUNCS(sendh, DIPC_MAGIC_SENDH)
HANDLE_FUNCS(recvh, DIPC_MAGIC_RECVH)

static inline int64_t pick_timeout(int64_t t, int64_t def)
{
	return t == DIPC_TIMEOUT_DEFAULT ? def : t;
}

/* What is left of a deadline, as a timeout again (try once when past). */
static inline int64_t timeout_left(uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return DIPC_WAIT_FOREVER;
	if (deadline == 0)
		return DIPC_TRY_ONCE;
	int64_t t = dipc_time_left(deadline, UINT64_MAX >> 1);
	return t ? t : DIPC_TRY_ONCE;
}

/* ---- sending -------------------------------------------------------------- */

/* Send a copy of len bytes at buf, with the attributes of attrs (a
 * message) or none. */
static int send_copy(dipc_sendh *h, const void *buf, size_t len, int64_t timeout_ns,
		     const dipc_msg *attrs)
{
	if (!XFER_OK(h, DIPC_MAGIC_SENDH) || (!buf && len))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	if (unlikely(ch->remote))
		return remote_send(ch, buf, len, t);
	struct send_op op = { .src = buf, .len = len, .kind = PAYLOAD_INLINE };
	if (attrs) {
		op.hints = attrs->attr[DIPC_MSG_HINTS];
		op.clientid = attrs->attr[DIPC_MSG_CLIENTID];
	}
	if (len <= ch->block_size)
		return chan_wait(ch, true, h->mode, t, try_send_cb, &op);

	/* Too big for a block: it travels in a pool allocation, which may
	 * wait for the pool lock and for room in the pool: the same deadline
	 * covers those waits and the one for room in the channel. */
	uint64_t blk, deadline = dipc_deadline(t);
	int rc = pool_alloc_wait_raw(ch->pool, len, dipc_os_pid(), deadline, &blk);
	if (rc)
		return rc;
	memcpy(pool_ptr(ch->pool, blk + BLK_HDR), buf, len);
	op.kind = PAYLOAD_ALLOC;
	op.ref_blk = blk;
	op.ref_off = blk + BLK_HDR;
	rc = chan_wait(ch, true, h->mode, timeout_left(deadline), try_send_cb, &op);
	if (rc)
		pool_free_raw(ch->pool, blk);
	return rc;
}

int dipc_sendh_send_bytes(dipc_sendh *h, const void *buf, size_t len, int64_t timeout_ns)
{
	return send_copy(h, buf, len, timeout_ns, NULL);
}

int dipc_sendh_send(dipc_sendh *h, dipc_msg *msg, dipc_msg *dest, int ownership,
		    int64_t timeout_ns)
{
	if (!XFER_OK(h, DIPC_MAGIC_SENDH) || !msg_ok(msg) || msg == dest ||
	    (dest && !msg_ok(dest)) ||
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

	if (unlikely(ch->remote))
		return remote_send_msg(ch, msg, dest, ownership, t);
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
		return send_copy(h, src, msg->size, t, msg);
	}

	dipc_mem *m = travel->mem;
	/* The block may be another process's (attached by descriptor): it
	 * is ours from here, so its owner's death cannot free it under us,
	 * unless reclaim took it first (its owner died before we came). */
	if (pool_check_blk(ch->pool, m->blk, NULL) || !pool_claim_owner(ch->pool, m->blk))
		return DIPC_EINVAL;
	struct send_op op = { .len = travel->size, .kind = PAYLOAD_ALLOC,
			      .ref_blk = m->blk, .ref_off = m->off,
			      .hints = msg->attr[DIPC_MSG_HINTS],
			      .clientid = msg->attr[DIPC_MSG_CLIENTID] };
	int rc = chan_wait(ch, true, h->mode, t, try_send_cb, &op);
	if (rc)
		return rc;
	msg_drop_mem(travel);
	travel->size = 0;
	return 0;
}

/* ---- receiving ------------------------------------------------------------ */

int dipc_recvh_recv_bytes(dipc_recvh *h, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
	if (!XFER_OK(h, DIPC_MAGIC_RECVH) || !len || (!buf && cap))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	if (unlikely(ch->remote))
		return remote_recv(ch, buf, cap, len, NULL, t);
	static unsigned char nothing;
	struct recv_op op = { .buf = buf ? buf : &nothing, .cap = cap };
	int rc = chan_wait(ch, false, h->mode, t, try_recv_cb, &op);
	*len = (size_t)op.len;
	if (rc)
		return rc;
	if (op.kind == PAYLOAD_ALLOC) {
		/* Taken, checked and ours (a death while copying is
		 * reclaimed): copy out, give it back. */
		memcpy(buf, pool_ptr(ch->pool, op.ref_off), op.len);
		pool_free_raw(ch->pool, op.ref_blk);
	}
	return 0;
}

/* A message received gets the attributes it was sent with. */
static inline void msg_take_attrs(dipc_msg *msg, const struct recv_op *op)
{
	msg->attr[DIPC_MSG_HINTS] = op->hints;
	msg->attr[DIPC_MSG_CLIENTID] = op->clientid;
}

int dipc_recvh_recv(dipc_recvh *h, dipc_msg *msg, int64_t timeout_ns)
{
	if (!XFER_OK(h, DIPC_MAGIC_RECVH) || !msg_ok(msg))
		return DIPC_EINVAL;
	if (!h->open)
		return DIPC_ENOTOPEN;
	int64_t t = pick_timeout(timeout_ns, h->def_timeout);
	if (!dipc_timeout_valid(t))
		return DIPC_EINVAL;
	dipc_channel *ch = h->ch;
	int rc;
	if (unlikely(ch->remote))
		return remote_recv_msg(ch, msg, t);
	if (msg->mem) {
		/* Into the caller's allocation. */
		dipc_mem *m = msg->mem;
		struct recv_op op = { .buf = pool_ptr(m->pool, m->off), .cap = m->size };
		rc = chan_wait(ch, false, h->mode, t, try_recv_cb, &op);
		if (rc)
			return rc;
		if (op.kind == PAYLOAD_ALLOC) {
			memcpy(op.buf, pool_ptr(ch->pool, op.ref_off), op.len);
			pool_free_raw(ch->pool, op.ref_blk);
		}
		msg->size = op.len;
		msg_take_attrs(msg, &op);
		return 0;
	}

	/* An empty message gets an allocation: the travelling one, or a new
	 * one sized to the payload once we know it, waiting for room in the
	 * pool within the same deadline (the message stays in the channel
	 * meanwhile). */
	uint64_t blk = 0, room = 0;
	struct recv_op op = { .buf = NULL, .cap = 0, .take_ref = true };
	uint64_t deadline = dipc_deadline(t);
	for (;;) {
		rc = chan_wait(ch, false, h->mode, timeout_left(deadline), try_recv_cb, &op);
		if (rc != DIPC_EMSGSIZE)
			break;
		if (blk)
			pool_free_raw(ch->pool, blk);
		blk = 0;
		room = op.len ? op.len : 1;
		rc = pool_alloc_wait_raw(ch->pool, room, dipc_os_pid(), deadline, &blk);
		if (rc)
			return rc;
		op.buf = pool_ptr(ch->pool, blk + BLK_HDR);
		op.cap = room;
	}
	if (rc == 0 && op.kind == PAYLOAD_ALLOC) {
		if (blk)
			pool_free_raw(ch->pool, blk);
		msg_set_own(msg, ch->pool, op.ref_blk, op.ref_off, op.len);
		msg->size = op.len;
		msg_take_attrs(msg, &op);
		return 0;
	}
	if (rc) {
		if (blk)
			pool_free_raw(ch->pool, blk);
		return rc;
	}
	msg_set_own(msg, ch->pool, blk, blk + BLK_HDR, op.len);
	msg->size = op.len;
	msg_take_attrs(msg, &op);
	return 0;
}

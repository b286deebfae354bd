/*
 * channelset.c - waiting on many channels at once, with one sleep.
 *
 * A set sleeps on one 32-bit word, its bell: the low half of a 64-bit
 * word in a small block of the set's pool, whose upper half is the set's
 * tag (random, never 0).  Each channel of the set keeps the set in its
 * table of watchers (channel.h): the watching process, the events it is
 * rung for, the bell's pool (a descriptor), offset and tag.  A producer
 * that commits, or a consumer that takes, and then finds watchers in the
 * channel's mask rings each bell that wants what it did: it adds one to
 * the bell's low half by compare-and-swap, and makes the wake-up call only
 * if the bell has sleepers.  The rules, and why they hold:
 *
 * 1. No cost while nobody watches.  A commit or a take loads one mask word
 *    of the channel (watch_in, watch_out) after the load of its waiter
 *    set; nothing else happens while it is 0.
 *
 * 2. No lost wake-up.  The same Dekker pattern as chan_wait's, across the
 *    channels: the poller loads the bell word, joins the bell's sleepers
 *    (a seq_cst read-modify-write), issues a fence and then looks at every
 *    channel; its registration in each channel was published, by a
 *    seq_cst read-modify-write of the mask, before any of that.  The
 *    producer stores its commit, issues a fence (notify in channel.c),
 *    loads the mask, compares-and-swaps the bell word (seq_cst) and loads
 *    the sleepers' mask.  If the poller's look missed the commit, its fence
 *    came first in the total order: then the producer sees the watcher and
 *    the sleeper, and its change of the bell word comes after the value
 *    the poller loaded, so the sleep on that value returns at once or is
 *    woken.  A consumer's take is a seq_cst read-modify-write and needs no
 *    fence (as in notify_after_rmw).
 *
 * 3. Every wait is bounded.  The poller sleeps at most the caller's
 *    timeout, in naps of at most DIPC_LIVENESS_NS; each nap that ends
 *    without a wake-up strikes dead sleepers off the bell and checks that
 *    the set's own entries are still in their channels (putting back one
 *    that was scribbled away).  A ring whose bell cannot be reached (see 5)
 *    costs the poller at most one nap.
 *
 * 4. No trace of the dead.  A watcher entry names its process, as a waiter
 *    entry does (waiters.c), and is struck off the same way: compare-and-
 *    swap of the dead id to DIPC_WAITER_FIXING | the repairer's, clear the
 *    bits, free the entry.  Ringers do it once in every CHSET_REPAIR_EVERY
 *    rings of a channel (counted in the channel, so the bound holds
 *    whoever rings), and a set looking for a free entry does it first.  A
 *    set killed while registered therefore costs each of its channels at
 *    most that many rings (and its bell's dead sleeper at most
 *    DIPC_WAITER_REPAIR_EVERY wake-up calls); after that a commit is back
 *    to one load.  The bell block is the set's allocation: reclaim frees it
 *    once its process is dead.
 *
 * 5. Read once, and rings that cannot hurt.  A ringer reads an entry's
 *    fields once into locals (the descriptor into a private copy) and uses
 *    only those.  The bell's pool is the channel's own when the nonces
 *    agree; otherwise the ringer maps it through its descriptor into a small
 *    process-wide cache (BELL_POOLS mappings, least recently used evicted;
 *    a pool that cannot be mapped is not tried again for DIPC_LIVENESS_NS),
 *    so a set may watch channels of several pools.  The offset must lie in
 *    that pool's heap, aligned; the ring is a compare-and-swap that only
 *    succeeds while the word's upper half is the entry's tag, so a stale or
 *    forged entry changes nothing but a word that already is that set's
 *    bell.  A set's destroy first takes its entries away, then clears the
 *    tag, then frees the block: a ringer that read the entry before may
 *    still be between its compare-and-swap and its wake-up call when the
 *    block is freed, and its wake-up bookkeeping (waiters.c) then touches
 *    the freed block; that window is a few instructions, as for a waiter
 *    leaving a channel destroyed under it.
 *
 * 6. Threads and processes.  A set belongs to the process that made it
 *    (its entries name it); threads of that process may poll it at once.
 *    A set counts as a handle on each of its channels, so the channel
 *    handles it was given cannot be detached or destroyed under it; a
 *    channel destroyed through another handle is reported with
 *    DIPC_POLL_DESTROYED.
 */
#include "channel.h"

#include <stdlib.h>

#define DIPC_MAGIC_CHSET 0x74657363u  /* "cset" */
#define CHSET_REPAIR_EVERY 127u       /* rings of a channel between strike-offs */
#define BELL_POOLS 8

struct chset_bell {
	_Atomic uint64_t word;            /* tag << 32 | rings */
	uint64_t pad[7];
	struct dipc_waiters sleepers;     /* pollers asleep on the low half */
};

struct dipc_channelset {
	_Atomic uint32_t magic;           /* DIPC_MAGIC_CHSET */
	uint32_t owner;                   /* the process whose entries these are */
	dipc_pool *pool;                  /* the bell's */
	uint64_t bell_blk;                /* its block */
	struct chset_bell *bell;
	uint32_t tag;
	int events;
	size_t n;
	dipc_channel **ch;
	int *entry;                       /* each channel's watcher entry, -1 none */
	_Atomic size_t next;              /* where the next look starts (fairness) */
	dipc_spinlock fix;                /* one thread puts entries back at a time */
};

/* The half of the bell word that changes, where the platform sleeps. */
static inline _Atomic uint32_t *bell_low(struct chset_bell *b)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (_Atomic uint32_t *)((unsigned char *)&b->word + 4);
#else
	return (_Atomic uint32_t *)&b->word;
#endif
}

/* ---- the cache of bell pools (rule 5) ----------------------------------- */

static struct {
	uint64_t nonce;
	dipc_pool *pool;        /* NULL: could not be mapped */
	unsigned refs;          /* rings using it now */
	uint64_t used;          /* for eviction */
	uint64_t retry_at;      /* when NULL: not before this */
} bells[BELL_POOLS];
static uint64_t bells_clock;
static dipc_spinlock bells_lock = DIPC_SPINLOCK_INIT;

/* The slot for nonce, a free one, or the least recently used idle one. */
static int bells_slot(uint64_t nonce)
{
	int best = -1;
	for (int i = 0; i < BELL_POOLS; i++) {
		if (bells[i].nonce == nonce && (bells[i].pool || bells[i].retry_at))
			return i;
		if (bells[i].refs)
			continue;
		if (!bells[i].pool && !bells[i].retry_at)
			return i;
		if (best < 0 || bells[i].used < bells[best].used)
			best = i;
	}
	return best;
}

/* fork() must not copy the lock held by another thread: the prepare hook
 * takes it, both sides let it go. */
static void bells_lock_take(void)
{
	dipc_spin_lock(&bells_lock);
}

static void bells_lock_give(void)
{
	dipc_spin_unlock(&bells_lock);
}

static dipc_pool *bell_pool_get(const unsigned char *desc, uint64_t nonce)
{
	static _Atomic int hooked;
	if (!atomic_load_explicit(&hooked, memory_order_acquire) && !atomic_exchange(&hooked, 1))
		dipc_os_on_fork(bells_lock_take, bells_lock_give, bells_lock_give);
	uint64_t now = dipc_os_now_ns();
	dipc_spin_lock(&bells_lock);
	int i = bells_slot(nonce);
	if (i >= 0 && bells[i].nonce == nonce && (bells[i].pool || bells[i].retry_at)) {
		dipc_pool *p = bells[i].pool;
		if (p) {
			bells[i].refs++;
			bells[i].used = ++bells_clock;
			dipc_spin_unlock(&bells_lock);
			return p;
		}
		if (now < bells[i].retry_at) {
			dipc_spin_unlock(&bells_lock);
			return NULL;
		}
	}
	dipc_spin_unlock(&bells_lock);

	dipc_pool *p = NULL;
	int rc = pool_attach_ser(desc, POOL_SER_LEN, &p);
	if (rc == 0 && p->nonce != nonce) {
		dipc_pool_detach(p);
		rc = DIPC_ENOENT;
	}
	dipc_pool *old = NULL, *got = NULL;
	dipc_spin_lock(&bells_lock);
	i = bells_slot(nonce);
	if (i >= 0 && bells[i].nonce == nonce && bells[i].pool) {
		/* Another thread mapped it meanwhile. */
		bells[i].refs++;
		bells[i].used = ++bells_clock;
		got = bells[i].pool;
		old = p;
	} else if (i >= 0) {
		/* A free entry, this pool's failed one, or an idle victim. */
		old = bells[i].pool;
		bells[i].nonce = nonce;
		bells[i].pool = rc == 0 ? p : NULL;
		bells[i].refs = rc == 0 ? 1 : 0;
		bells[i].used = ++bells_clock;
		bells[i].retry_at = rc == 0 ? 0 : now + DIPC_LIVENESS_NS;
		got = bells[i].pool;
	} else {
		old = p;        /* every mapping is in use: skip this ring */
	}
	dipc_spin_unlock(&bells_lock);
	if (old)
		dipc_pool_detach(old);
	return got;
}

static void bell_pool_put(dipc_pool *p)
{
	dipc_spin_lock(&bells_lock);
	for (int i = 0; i < BELL_POOLS; i++)
		if (bells[i].pool == p && bells[i].refs) {
			bells[i].refs--;
			break;
		}
	dipc_spin_unlock(&bells_lock);
}

void chset_cleanup(void)
{
	dipc_pool *drop[BELL_POOLS];
	int n = 0;
	dipc_spin_lock(&bells_lock);
	for (int i = 0; i < BELL_POOLS; i++) {
		if (bells[i].refs)
			continue;
		if (bells[i].pool)
			drop[n++] = bells[i].pool;
		memset(&bells[i], 0, sizeof(bells[i]));
	}
	dipc_spin_unlock(&bells_lock);
	for (int i = 0; i < n; i++)
		dipc_pool_detach(drop[i]);
}

/* ---- ringing (rules 1, 2, 4, 5) ----------------------------------------- */

_Atomic uint64_t chset_rings;

static void bell_ring(dipc_pool *p, uint64_t off, uint32_t tag)
{
	if (off % 8 || off < BLK_HDR || p->heap_size < sizeof(struct chset_bell) ||
	    off > p->heap_size - sizeof(struct chset_bell))
		return;
	struct chset_bell *b = pool_ptr(p, off);
	uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
	do {
		if ((uint32_t)(w >> 32) != tag)
			return;
	} while (!atomic_compare_exchange_weak_explicit(&b->word, &w,
			(w & ~(uint64_t)UINT32_MAX) | (uint32_t)(w + 1),
			memory_order_seq_cst, memory_order_relaxed));
	atomic_fetch_add_explicit(&chset_rings, 1, memory_order_relaxed);
	if (dipc_waiters_any(&b->sleepers))
		dipc_waiters_wake(&b->sleepers, &p->shm, bell_low(b));
}

void chset_ring(dipc_channel *ch, uint32_t mask, int want)
{
	struct chan_hdr *h = ch->hdr;
	for (unsigned i = 0; i < CHAN_WATCHERS; i++) {
		if (!(mask & (1u << i)))
			continue;
		struct chan_watcher *w = &h->watchers[i];
		uint32_t pid = atomic_load_explicit(&w->pid, memory_order_acquire);
		if (pid == 0 || (pid & DIPC_WAITER_FIXING) ||
		    !(atomic_load_explicit(&w->events, memory_order_relaxed) & want))
			continue;
		uint32_t tag = DIPC_SHARED_READ(w->tag);
		uint64_t off = DIPC_SHARED_READ(w->once_bell_off);
		unsigned char desc[POOL_SER_LEN];
		memcpy(desc, w->bell_pool, sizeof(desc));
		uint64_t nonce = dipc_get64(desc + 16);
		if (tag == 0)
			continue;
		if (nonce == ch->pool->nonce) {
			bell_ring(ch->pool, off, tag);
			continue;
		}
		dipc_pool *bp = bell_pool_get(desc, nonce);
		if (bp) {
			bell_ring(bp, off, tag);
			bell_pool_put(bp);
		}
	}
	uint32_t n = atomic_fetch_add_explicit(&h->watch_rings, 1, memory_order_relaxed);
	if (n % CHSET_REPAIR_EVERY == CHSET_REPAIR_EVERY - 1)
		chset_repair(h);
}

int chset_repair(struct chan_hdr *h)
{
	uint32_t me = dipc_os_pid();
	int fixed = 0;
	for (unsigned i = 0; i < CHAN_WATCHERS; i++) {
		struct chan_watcher *w = &h->watchers[i];
		uint32_t bit = 1u << i;
		uint32_t p = atomic_load_explicit(&w->pid, memory_order_acquire);
		if (p == 0) {
			/* A bit without an entry: only a hostile write makes one. */
			if (((atomic_load(&h->watch_in) | atomic_load(&h->watch_out)) & bit) &&
			    atomic_load_explicit(&w->pid, memory_order_acquire) == 0) {
				atomic_fetch_and(&h->watch_in, ~bit);
				atomic_fetch_and(&h->watch_out, ~bit);
				fixed++;
			}
			continue;
		}
		uint32_t who = p & ~DIPC_WAITER_FIXING;
		if (who == me || dipc_os_pid_alive(who))
			continue;
		if (!atomic_compare_exchange_strong_explicit(&w->pid, &p, DIPC_WAITER_FIXING | me,
				memory_order_acquire, memory_order_relaxed))
			continue;
		atomic_fetch_and(&h->watch_in, ~bit);
		atomic_fetch_and(&h->watch_out, ~bit);
		atomic_store_explicit(&w->pid, 0, memory_order_release);
		fixed++;
	}
	if (fixed)
		DIPC_LOG(DIPC_LOG_BASIC, "struck %d dead channel-set watcher%s off a channel", fixed,
			 fixed == 1 ? "" : "s");
	return fixed;
}

/* ---- registration ------------------------------------------------------- */

#define RING_COMMIT (DIPC_POLL_READABLE | DIPC_POLL_FULL)
#define RING_TAKE   (DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY)

/* Take an entry in ch's table for set; its index, or DIPC_ELIMIT. */
static int watch_join(dipc_channelset *set, dipc_channel *ch)
{
	struct chan_hdr *h = ch->hdr;
	uint32_t me = dipc_os_pid();
	unsigned char desc[POOL_SER_LEN];
	pool_serialize_into(set->pool, desc);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < CHAN_WATCHERS; i++) {
			struct chan_watcher *w = &h->watchers[i];
			uint32_t zero = 0;
			if (atomic_load_explicit(&w->pid, memory_order_relaxed) != 0 ||
			    !atomic_compare_exchange_strong_explicit(&w->pid, &zero, me,
					memory_order_acquire, memory_order_relaxed))
				continue;
			w->tag = set->tag;
			w->once_bell_off = set->bell_blk + BLK_HDR;
			memcpy(w->bell_pool, desc, sizeof(desc));
			atomic_store_explicit(&w->events, (uint32_t)set->events, memory_order_release);
			/* Published: seq_cst, the watcher's half of rule 2.  Every
			 * set hears of a destroy, whatever it watches. */
			uint32_t bit = 1u << i;
			if (set->events & RING_COMMIT)
				atomic_fetch_or_explicit(&h->watch_in, bit, memory_order_seq_cst);
			if (set->events & RING_TAKE)
				atomic_fetch_or_explicit(&h->watch_out, bit, memory_order_seq_cst);
			return (int)i;
		}
		if (chset_repair(h) == 0)
			break;
	}
	return DIPC_ELIMIT;
}

/* Is entry i of ch still this set's? */
static bool watch_mine(dipc_channelset *set, dipc_channel *ch, int i)
{
	struct chan_watcher *w = &ch->hdr->watchers[i];
	uint32_t bit = 1u << i;
	uint32_t masks = atomic_load(&ch->hdr->watch_in) | atomic_load(&ch->hdr->watch_out);
	return atomic_load_explicit(&w->pid, memory_order_acquire) == set->owner &&
	       DIPC_SHARED_READ(w->tag) == set->tag &&
	       DIPC_SHARED_READ(w->once_bell_off) == set->bell_blk + BLK_HDR &&
	       (masks & bit);
}

static void watch_leave(dipc_channelset *set, dipc_channel *ch, int i)
{
	/* Its pool handle detached under the set (a misuse): nothing of it
	 * may be touched any more. */
	if (i < 0 || !chan_ok(ch) || !chan_is_live(ch))
		return;
	struct chan_hdr *h = ch->hdr;
	struct chan_watcher *w = &h->watchers[i];
	uint32_t cur = set->owner;
	if (DIPC_SHARED_READ(w->tag) != set->tag ||
	    !atomic_compare_exchange_strong_explicit(&w->pid, &cur, DIPC_WAITER_FIXING | cur,
			memory_order_acquire, memory_order_relaxed))
		return;
	atomic_fetch_and(&h->watch_in, ~(1u << i));
	atomic_fetch_and(&h->watch_out, ~(1u << i));
	atomic_store_explicit(&w->pid, 0, memory_order_release);
}

/* After a nap without a wake-up: put back an entry that is gone (struck
 * off by a hostile write, say); a full table leaves that channel to the
 * naps. */
static void watch_check(dipc_channelset *set)
{
	if (dipc_os_pid() != set->owner)
		return;
	dipc_spin_lock(&set->fix);
	for (size_t k = 0; k < set->n; k++) {
		dipc_channel *ch = set->ch[k];
		if (!chan_ok(ch) || !chan_is_live(ch))
			continue;
		if (set->entry[k] >= 0 && watch_mine(set, ch, set->entry[k]))
			continue;
		int i = watch_join(set, ch);
		set->entry[k] = i >= 0 ? i : -1;
	}
	dipc_spin_unlock(&set->fix);
}

/* ---- the set -------------------------------------------------------------- */

static uint32_t new_tag(const void *salt)
{
	static _Atomic uint32_t counter;
	uint64_t x = dipc_os_now_ns() ^ ((uint64_t)dipc_os_pid() << 32) ^
		     (uint64_t)(uintptr_t)salt ^ atomic_fetch_add(&counter, 0x9e3779b9u);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	uint32_t t = (uint32_t)x;
	return t ? t : 1;
}

/* A set inherited through fork() is freed in the child without touching
 * what is shared: the entries and the bell are the parent's. */
static void set_free(dipc_channelset *set)
{
	bool mine = dipc_os_pid() == set->owner;
	for (size_t k = 0; k < set->n; k++) {
		if (mine && set->entry[k] >= 0)
			watch_leave(set, set->ch[k], set->entry[k]);
		atomic_fetch_sub(&set->ch[k]->handles, 1);
	}
	/* The bell's pool detached under the set (a misuse): its block is
	 * left to reclaim once this process is gone. */
	if (mine && set->bell && pool_ok(set->pool)) {
		/* A ringer that read an entry before it went away now fails
		 * its compare-and-swap; then the block goes. */
		atomic_store_explicit(&set->bell->word, 0, memory_order_seq_cst);
		pool_free_raw(set->pool, set->bell_blk);
	}
	free(set->ch);
	free(set->entry);
	dipc_handle_retire(set, &set->magic);
}

int dipc_channelset_create(dipc_pool *pool, dipc_channel *const *channels, size_t n,
			   int events, dipc_channelset **out)
{
	const int all = DIPC_POLL_READABLE | DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY | DIPC_POLL_FULL;
	if (!out)
		return DIPC_EINVAL;
	*out = NULL;
	if (!pool_ok(pool) || !channels || n == 0 || n > DIPC_CHANNELSET_MAX || events == 0 ||
	    (events & ~all))
		return DIPC_EINVAL;
	for (size_t k = 0; k < n; k++)
		if (!chan_ok(channels[k]))
			return DIPC_EINVAL;
	for (size_t k = 0; k < n; k++)
		if (chan_is_remote(channels[k]))
			return DIPC_EFOREIGN;
	for (size_t k = 0; k < n; k++)
		if (!chan_is_live(channels[k]))
			return DIPC_EDESTROYED;
	dipc_channelset *set = dipc_handle_new(sizeof(*set));
	if (!set)
		return DIPC_ENOMEM;
	atomic_store_explicit(&set->magic, DIPC_MAGIC_CHSET, memory_order_relaxed);
	set->ch = calloc(n, sizeof(*set->ch));
	set->entry = malloc(n * sizeof(*set->entry));
	if (!set->ch || !set->entry) {
		free(set->ch);
		free(set->entry);
		dipc_handle_retire(set, &set->magic);
		return DIPC_ENOMEM;
	}
	set->owner = dipc_os_pid();
	set->pool = pool;
	set->events = events;
	set->tag = new_tag(set);
	uint64_t blk;
	int rc = pool_alloc_raw(pool, sizeof(struct chset_bell), set->owner,
				dipc_os_now_ns() + DIPC_LOCK_PATIENCE_NS, &blk);
	if (rc) {
		free(set->ch);
		free(set->entry);
		dipc_handle_retire(set, &set->magic);
		return rc == DIPC_ETIMEDOUT ? DIPC_EBUSY : rc;
	}
	set->bell_blk = blk;
	set->bell = pool_ptr(pool, blk + BLK_HDR);
	memset(set->bell, 0, sizeof(*set->bell));
	atomic_store_explicit(&set->bell->word, (uint64_t)set->tag << 32, memory_order_release);
	for (size_t k = 0; k < n; k++) {
		set->ch[k] = channels[k];
		set->entry[k] = -1;
		atomic_fetch_add(&channels[k]->handles, 1);
		set->n = k + 1;
		rc = watch_join(set, channels[k]);
		if (rc < 0) {
			set_free(set);
			return rc;
		}
		set->entry[k] = rc;
	}
	*out = set;
	DIPC_LOG(DIPC_LOG_ALL, "channel set of %lu channels created", (unsigned long)n);
	return 0;
}

int dipc_channelset_destroy(dipc_channelset *set)
{
	if (!DIPC_LIVE(set, DIPC_MAGIC_CHSET))
		return DIPC_EINVAL;
	set_free(set);
	return 0;
}

/* Look at every channel once, from where the last look left off; fill
 * ev with what holds. */
static int set_scan(dipc_channelset *set, struct dipc_channelset_event *ev, size_t max)
{
	size_t n = set->n, start = atomic_load_explicit(&set->next, memory_order_relaxed) % n;
	size_t got = 0, last = 0;
	for (size_t k = 0; k < n && got < max; k++) {
		size_t i = (start + k) % n;
		/* A channel whose pool handle was detached under the set is gone
		 * for it, as a destroyed one is. */
		int e = chan_ok(set->ch[i]) ? chan_events_now(set->ch[i]) : DIPC_EDESTROYED;
		int rev = e < 0 ? DIPC_POLL_DESTROYED : (e & set->events);
		if (!rev)
			continue;
		ev[got].index = (uint32_t)i;
		ev[got].revents = rev;
		got++;
		last = i;
	}
	if (got)
		atomic_store_explicit(&set->next, (last + 1) % n, memory_order_relaxed);
	return (int)got;
}

int dipc_channelset_poll(dipc_channelset *set, struct dipc_channelset_event *ev, size_t max,
			 int64_t timeout_ns)
{
	if (!DIPC_LIVE(set, DIPC_MAGIC_CHSET) || !pool_ok(set->pool) || !ev || max == 0 ||
	    !dipc_timeout_valid(timeout_ns))
		return DIPC_EINVAL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	uint64_t deadline = dipc_deadline(timeout_ns);
	struct chset_bell *b = set->bell;
	int got = set_scan(set, ev, max);
	if (got || deadline == 0)
		return got;
	for (;;) {
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		uint64_t w = atomic_load_explicit(&b->word, memory_order_seq_cst);
		int slot = dipc_waiters_join(&b->sleepers);
		atomic_thread_fence(memory_order_seq_cst);
		got = set_scan(set, ev, max);
		int wr = 0;
		if (!got) {
			if (slot >= 0)
				wr = dipc_os_wait(&set->pool->shm, bell_low(b), (uint32_t)w, left);
			else
				dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
		}
		dipc_waiters_leave(&b->sleepers, slot);
		if (got)
			return got;
		if (wr == DIPC_ETIMEDOUT) {
			dipc_waiters_repair(&b->sleepers);
			watch_check(set);
		}
	}
}

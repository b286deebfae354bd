/*
 * barrier.c - a channel used as a barrier, with Dragon's semantics.
 *
 * The barrier has as many parties as the channel has slots.  Each party
 * counts itself in with DIPC_BARRIER_WAIT; the one that makes the count
 * reach the capacity is told so (DIPC_BARRIER_LAST) and releases the
 * others with DIPC_BARRIER_RELEASE, which puts one message per counted
 * party into the channel: a 4-byte int in the machine's byte order, 0 to
 * n-1 on a proper release, -1 when the barrier is broken (or released
 * before all parties came).  Every party then receives one message from
 * the channel and learns from it whether the barrier held.
 * DIPC_BARRIER_ABORT breaks the barrier and releases whoever is counted
 * with -1; a broken barrier refuses waits (DIPC_EBROKEN) until
 * DIPC_BARRIER_RESET, which releases whoever is counted and mends it.
 *
 * A party may count itself in only while the channel is empty and the
 * count is below the capacity: a faster party coming back for the next
 * round waits until the last round's messages are all taken and its
 * release is done, so it cannot take a message meant for a slower one.
 *
 * The rules, on the library's terms:
 *
 * 1. The state (count, flags) changes only under the channel's barrier
 *    lock, a plock: a holder that dies is taken over, and the taker
 *    repairs what it left: a release cut short (BARRIER_RELEASING still
 *    set) breaks the barrier, since nobody can tell which parties got
 *    their message.  Nothing waits while holding the lock; putting the
 *    messages in is try-once sends, never a wait.
 *
 * 2. Every wait has the caller's deadline: for the lock (try once spins
 *    and gives up on a stopped holder, as pool_lock does), for the channel
 *    to empty, for a pending release.  A wait that expires returns
 *    DIPC_ETIMEDOUT and leaves the barrier as it was; Dragon's own call
 *    breaks the barrier then, which a caller does here with
 *    DIPC_BARRIER_ABORT (the Python binding does it for Dragon's poll).
 *
 * 3. No lost wake-up: a waiter loads barrier_seq under the lock, a change
 *    of the state bumps it under the lock (and wakes the sleepers of
 *    barrier_waiters), so a sleep on the loaded value returns at once if a
 *    change came in between.  Sleepers record themselves in the waiter
 *    set and are struck off when found dead (waiters.c).
 *
 * 4. What the dead leave: a party counted in and then killed stays
 *    counted, so the barrier cannot fill; the others' waits for their
 *    message expire, and they (or anyone) abort and reset it.
 */
#include "channel.h"

#define BARRIER_MSG_LEN 4

/* Take the lock; *seq0 is barrier_seq as found, so that the unlock can
 * tell whether the state changed. */
static int barrier_lock(dipc_channel *ch, uint64_t deadline, uint32_t *seq0)
{
	struct chan_hdr *h = ch->hdr;
	int rc = deadline == 0
		? dipc_plock_acquire(&ch->pool->shm, &h->barrier_lock,
				     dipc_os_now_ns() + DIPC_LOCK_PATIENCE_NS, true)
		: dipc_plock_acquire(&ch->pool->shm, &h->barrier_lock, deadline, false);
	if (rc < 0)
		return rc;
	*seq0 = atomic_load(&h->barrier_seq);
	if (rc == 1 && (atomic_load(&h->barrier_flags) & BARRIER_RELEASING)) {
		DIPC_LOG(DIPC_LOG_BASIC, "channel %llu: a barrier release was cut short; "
			 "the barrier is broken", (unsigned long long)ch->cuid);
		atomic_store(&h->barrier_flags, BARRIER_BROKEN);
		atomic_store(&h->barrier_count, 0);
		atomic_fetch_add(&h->barrier_seq, 1);
	}
	return 0;
}

/* Let the lock go; wake the barrier's sleepers only if the state changed
 * (waking them for nothing would have two waiters wake each other in
 * turn for as long as they wait). */
static void barrier_unlock(dipc_channel *ch, uint32_t seq0)
{
	struct chan_hdr *h = ch->hdr;
	bool changed = atomic_load(&h->barrier_seq) != seq0;
	dipc_plock_release(&ch->pool->shm, &h->barrier_lock);
	if (changed && dipc_waiters_any(&h->barrier_waiters))
		dipc_waiters_wake(&h->barrier_waiters, &ch->pool->shm, &h->barrier_seq);
}

/* Under the lock: put one message per counted party in, and count none.
 * Values 0..n-1 when all parties came and the barrier holds, else -1. */
static void release_parties(dipc_channel *ch)
{
	struct chan_hdr *h = ch->hdr;
	uint32_t n = atomic_load(&h->barrier_count);
	uint32_t flags = atomic_load(&h->barrier_flags);
	if (n > ch->capacity)
		n = (uint32_t)ch->capacity;     /* only a hostile write makes it more */
	bool proper = !(flags & BARRIER_BROKEN) && n == ch->capacity;
	atomic_store(&h->barrier_flags, flags | BARRIER_RELEASING);
	for (uint32_t k = 0; k < n; k++) {
		int32_t v = proper ? (int32_t)k : -1;
		if (chan_send_inline(ch, &v, BARRIER_MSG_LEN) != 0) {
			/* No room: someone sent into the barrier channel.  The
			 * parties not served wait until their deadline. */
			flags |= BARRIER_BROKEN;
			break;
		}
	}
	atomic_store(&h->barrier_count, 0);
	atomic_store(&h->barrier_flags, flags & ~BARRIER_RELEASING);
	atomic_fetch_add(&h->barrier_seq, 1);
}

/* The barrier is waiting for a release of a full count: sleep on
 * barrier_seq (loaded as v under the lock) at most left ns. */
static void sleep_on_seq(dipc_channel *ch, uint32_t v, int64_t left)
{
	struct chan_hdr *h = ch->hdr;
	int slot = dipc_waiters_join(&h->barrier_waiters);
	atomic_thread_fence(memory_order_seq_cst);
	int wr = 0;
	if (slot >= 0)
		wr = dipc_os_wait(&ch->pool->shm, &h->barrier_seq, v, left);
	else
		dipc_os_sleep_ns(left < 1000000 ? (uint64_t)left : 1000000);
	dipc_waiters_leave(&h->barrier_waiters, slot);
	if (wr == DIPC_ETIMEDOUT)
		dipc_waiters_repair(&h->barrier_waiters);
}

static int barrier_wait(dipc_channel *ch, uint64_t deadline)
{
	struct chan_hdr *h = ch->hdr;
	for (;;) {
		/* Woken by a destroy: the header is being freed, take no lock
		 * in it. */
		if (!chan_is_live(ch))
			return DIPC_EDESTROYED;
		uint32_t seq0;
		int rc = barrier_lock(ch, deadline, &seq0);
		if (rc)
			return rc;
		if (!chan_is_live(ch)) {
			barrier_unlock(ch, seq0);
			return DIPC_EDESTROYED;
		}
		uint32_t flags = atomic_load(&h->barrier_flags);
		uint32_t count = atomic_load(&h->barrier_count);
		if (flags & BARRIER_BROKEN) {
			barrier_unlock(ch, seq0);
			return DIPC_EBROKEN;
		}
		int ev = chan_events_now(ch);
		bool empty = ev >= 0 && (ev & DIPC_POLL_EMPTY);
		if (empty && count < ch->capacity) {
			atomic_store(&h->barrier_count, ++count);
			atomic_fetch_add(&h->barrier_seq, 1);
			barrier_unlock(ch, seq0);
			return count == ch->capacity ? DIPC_BARRIER_LAST : 0;
		}
		uint32_t v = atomic_load(&h->barrier_seq);
		barrier_unlock(ch, seq0);
		if (ev < 0)
			return ev;
		/* The last round is still being taken, or its release is still
		 * to come: wait for that, within the deadline. */
		if (deadline == 0)
			return DIPC_EFULL;
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		if (!empty) {
			rc = dipc_channel_poll(ch, DIPC_POLL_EMPTY, left);
			if (rc < 0 && rc != DIPC_ETIMEDOUT)
				return rc;
		} else {
			sleep_on_seq(ch, v, left);
		}
	}
}

int dipc_channel_barrier(dipc_channel *ch, int op, int64_t timeout_ns)
{
	if (!chan_ok(ch) || op < DIPC_BARRIER_WAIT || op > DIPC_BARRIER_RESET ||
	    !dipc_timeout_valid(timeout_ns) || ch->block_size < BARRIER_MSG_LEN)
		return DIPC_EINVAL;
	if (chan_is_remote(ch))
		return DIPC_EFOREIGN;
	if (!chan_is_live(ch))
		return DIPC_EDESTROYED;
	uint64_t deadline = dipc_deadline(timeout_ns);
	if (op == DIPC_BARRIER_WAIT)
		return barrier_wait(ch, deadline);
	struct chan_hdr *h = ch->hdr;
	uint32_t seq0;
	int rc = barrier_lock(ch, deadline, &seq0);
	if (rc)
		return rc;
	if (!chan_is_live(ch)) {
		barrier_unlock(ch, seq0);
		return DIPC_EDESTROYED;
	}
	uint32_t flags = atomic_load(&h->barrier_flags);
	switch (op) {
	case DIPC_BARRIER_RELEASE:
		/* A broken barrier released its parties when it broke. */
		if (!(flags & BARRIER_BROKEN))
			release_parties(ch);
		break;
	case DIPC_BARRIER_ABORT:
		if (!(flags & BARRIER_BROKEN)) {
			atomic_store(&h->barrier_flags, flags | BARRIER_BROKEN);
			release_parties(ch);
		}
		break;
	case DIPC_BARRIER_RESET:
		release_parties(ch);
		atomic_store(&h->barrier_flags, 0);
		break;
	}
	barrier_unlock(ch, seq0);
	return 0;
}

int dipc_channel_barrier_count(const dipc_channel *ch)
{
	if (!chan_ok(ch))
		return DIPC_EINVAL;
	if (chan_is_remote(ch))
		return DIPC_EFOREIGN;
	if (!chan_is_live(ch))
		return DIPC_EDESTROYED;
	uint32_t n = atomic_load_explicit(&ch->hdr->barrier_count, memory_order_acquire);
	return (int)(n > ch->capacity ? ch->capacity : n);
}

int dipc_channel_barrier_broken(const dipc_channel *ch)
{
	if (!chan_ok(ch))
		return DIPC_EINVAL;
	if (chan_is_remote(ch))
		return DIPC_EFOREIGN;
	if (!chan_is_live(ch))
		return DIPC_EDESTROYED;
	return (atomic_load_explicit(&ch->hdr->barrier_flags, memory_order_acquire) &
		BARRIER_BROKEN) ? 1 : 0;
}

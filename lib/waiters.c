/*
 * waiters.c - who sleeps on a shared word, recorded so that the dead can
 * be struck off.
 *
 * A process that goes to sleep on a shared word (a channel's sequence
 * word, a pool's free sequence, a lock word) first says so, and whoever
 * makes progress makes the wake-up system call only when someone said so:
 * no system call while nobody sleeps.  A bare count of sleepers cannot
 * survive its users: a process killed while asleep leaves the count one
 * too high for ever, and every later send, receive or free makes a wake
 * call for nobody.
 *
 * The rule ("no trace of the dead"): whatever a waiter records before
 * sleeping names it, so that anyone can repair it once it is found dead.
 * A set of waiters is a 64-bit mask and, for each bit, the id of the
 * process that set it.  Joining claims a free entry by writing our id
 * into it (compare-and-swap from 0), then sets its bit; leaving clears the
 * bit, then the entry.  A waker tests the mask: one load, as cheap as the
 * count it replaces.
 *
 * Repair: an entry whose process is dead is taken by compare-and-swap
 * from that id to DIPC_WAITER_FIXING | the repairer's id (so two
 * repairers, or a repairer and a new joiner, cannot both act on it), its
 * bit is cleared, and the entry is freed; a repairer that dies half-way
 * leaves its own id there, to be repaired in turn.  A joiner killed
 * between claiming an entry and setting its bit leaves an entry without a
 * bit; the same repair frees it.  Repair runs where a system call is being
 * paid anyway: by a sleeper each time its nap ends without a wake-up, and
 * by a waker once in every DIPC_WAITER_REPAIR_EVERY wake calls made on the
 * set (the count is the set's own, kept beside the mask, so the bound
 * holds whatever mix of sets a process wakes); so once a dead sleeper is
 * noticed the fast path is back.
 *
 * Threads of one process share an id; each still has its own entry.  When
 * all entries are taken, a waiter does not sleep on the word but naps for
 * short fixed times (dipc_waiters_join returns -1): slower, never stuck.
 */
#include "internal.h"

_Atomic uint64_t dipc_wake_calls;

int dipc_waiters_join(struct dipc_waiters *w)
{
	uint32_t me = dipc_os_pid();
	/* Start where this process's entries likely are free, so that many
	 * processes do not all fight over entry 0. */
	unsigned start = (me * 2654435761u) >> 26;
	for (unsigned k = 0; k < DIPC_WAITERS_MAX; k++) {
		unsigned i = (start + k) % DIPC_WAITERS_MAX;
		uint32_t zero = 0;
		if (atomic_load_explicit(&w->pid[i], memory_order_relaxed) != 0)
			continue;
		if (!atomic_compare_exchange_strong_explicit(&w->pid[i], &zero, me,
				memory_order_relaxed, memory_order_relaxed))
			continue;
		/* seq_cst: the Dekker store of the waiter's side (see the
		 * wakers' notify functions). */
		atomic_fetch_or_explicit(&w->mask, (uint64_t)1 << i, memory_order_seq_cst);
		return (int)i;
	}
	return -1;
}

void dipc_waiters_leave(struct dipc_waiters *w, int i)
{
	if (i < 0)
		return;
	atomic_fetch_and_explicit(&w->mask, ~((uint64_t)1 << i), memory_order_relaxed);
	atomic_store_explicit(&w->pid[i], 0, memory_order_release);
}

int dipc_waiters_repair(struct dipc_waiters *w)
{
	uint32_t me = dipc_os_pid();
	int fixed = 0;
	for (unsigned i = 0; i < DIPC_WAITERS_MAX; i++) {
		uint32_t p = atomic_load_explicit(&w->pid[i], memory_order_acquire);
		uint64_t bit = (uint64_t)1 << i;
		if (p == 0) {
			/* A bit without an entry: only a hostile write makes
			 * one (leave clears the bit first); clear it. */
			if (atomic_load_explicit(&w->mask, memory_order_acquire) & bit &&
			    atomic_load_explicit(&w->pid[i], memory_order_acquire) == 0) {
				atomic_fetch_and_explicit(&w->mask, ~bit, memory_order_relaxed);
				fixed++;
			}
			continue;
		}
		/* An entry being fixed names its fixer: dead fixers' too. */
		uint32_t who = p & ~DIPC_WAITER_FIXING;
		if (who == me || dipc_os_pid_alive(who))
			continue;
		if (!atomic_compare_exchange_strong_explicit(&w->pid[i], &p, DIPC_WAITER_FIXING | me,
				memory_order_acquire, memory_order_relaxed))
			continue;
		atomic_fetch_and_explicit(&w->mask, ~bit, memory_order_relaxed);
		atomic_store_explicit(&w->pid[i], 0, memory_order_release);
		fixed++;
	}
	if (fixed)
		DIPC_LOG(DIPC_LOG_BASIC, "struck %d dead sleeper%s off a waiter list", fixed,
			 fixed == 1 ? "" : "s");
	return fixed;
}

void dipc_waiters_wake(struct dipc_waiters *w, const struct dipc_os_shm *seg,
		       _Atomic uint32_t *word)
{
	atomic_fetch_add_explicit(&dipc_wake_calls, 1, memory_order_relaxed);
	dipc_os_wake(seg, word);
	uint32_t n = atomic_fetch_add_explicit(&w->wakes, 1, memory_order_relaxed);
	if (n % DIPC_WAITER_REPAIR_EVERY == DIPC_WAITER_REPAIR_EVERY - 1)
		dipc_waiters_repair(w);
}

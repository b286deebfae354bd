/*
 * plock.c - a process-shared lock that neither a dead nor a stopped
 * holder can wedge.
 *
 * The lock word holds the holder's process id.  Waiters sleep on it for at
 * most DIPC_LIVENESS_NS at a time; on waking they check the holder is
 * alive, and if it is not they swap their own id in with a compare-and-swap
 * (so exactly one of them takes over) and report the take-over, so that the
 * caller repairs what the dead holder left.  The structures it guards are
 * built so that every half-done update is either invisible or repairable.
 *
 * A holder that is alive but does not let go - stopped by SIGSTOP, a
 * debugger or a freezer, or a live id written into the word by a hostile
 * process - cannot be taken over.  The rule: every acquisition carries the
 * caller's deadline, and a try-once caller never sleeps on the lock.  It
 * spins while the lock passes between holders, and naps for a few
 * microseconds at a time while one holder keeps it but is getting on
 * (running, or ready to run: a holder preempted inside its few
 * microseconds of work, or asleep in a system call the library makes under
 * the lock); a holder found stopped ends it at once with DIPC_EBUSY, and so does one holder keeping the lock for
 * DIPC_LOCK_PATIENCE_NS, or the lock never coming free in ten times that.
 * A bounded caller sleeps in naps and gives up at its deadline with
 * DIPC_ETIMEDOUT.  What a sleeper records (its entry in the waiter set) is
 * struck off by others if it dies asleep (waiters.c).
 *
 * Threads of one process share an id; that is fine, a process never finds
 * itself dead.
 */
#include "internal.h"

/* Take the lock from cur if cur is a dead process: 1 if we did. */
static int take_from_dead(struct dipc_plock *l, uint32_t cur, uint32_t me)
{
	if (cur == me || dipc_os_pid_alive(cur))
		return 0;
	if (!atomic_compare_exchange_strong_explicit(&l->owner, &cur, me,
			memory_order_acquire, memory_order_relaxed))
		return 0;
	DIPC_LOG(DIPC_LOG_BASIC, "took over a lock held by dead process %u", cur);
	return 1;
}

/* Try-once acquisition: 0/1 as below, or DIPC_EBUSY.  It spins (a lock
 * that passes from holder to holder is making progress, and a spinner
 * gets it on a release); only a holder that keeps the lock past a few
 * microseconds is looked at: dead, it is taken over; stopped, we give
 * up; otherwise (preempted, most likely) we nap so that it may have our
 * processor.  One holder may keep us until
 * hold_limit; the lock passing between holders, until the deadline. */
static int acquire_trying(struct dipc_plock *l, uint64_t hold_limit, uint64_t deadline)
{
	uint32_t me = dipc_os_pid();
	uint32_t seen = 0;           /* the holder we are timing */
	uint64_t look_at = 0, since = 0;
	for (unsigned spin = 0;; spin++) {
		uint32_t cur = 0;
		if (atomic_compare_exchange_weak_explicit(&l->owner, &cur, me,
				memory_order_acquire, memory_order_relaxed))
			return 0;
		if (cur == 0 || spin < 100) {
			dipc_cpu_relax();
			continue;
		}
		if ((spin & 63) != 0) {
			dipc_cpu_relax();
			continue;
		}
		uint64_t now = dipc_os_now_ns();
		if (now >= deadline)
			return DIPC_EBUSY;
		if (cur != seen) {
			/* Another holder: the lock moves; time this one. */
			seen = cur;
			since = now;
			look_at = now + DIPC_TRY_SPIN_NS;
			continue;
		}
		if (now < look_at) {
			dipc_os_yield();
			continue;
		}
		/* The same holder for a while: is it dead, stopped, or slow? */
		if (take_from_dead(l, cur, me))
			return 1;
		if (now - since >= hold_limit ||
		    (cur != me && dipc_os_pid_state(cur) == DIPC_PID_STOPPED))
			return DIPC_EBUSY;
		dipc_os_sleep_ns(DIPC_TRY_SPIN_NS);
		look_at = dipc_os_now_ns() + DIPC_TRY_SPIN_NS;
	}
}

int dipc_plock_acquire(const struct dipc_os_shm *seg, struct dipc_plock *l, uint64_t deadline,
		       bool spin_only)
{
	if (spin_only) {
		/* deadline is the limit for one holder; ten of those for all. */
		uint64_t now = dipc_os_now_ns();
		uint64_t hold = deadline > now ? deadline - now : 0;
		return acquire_trying(l, hold, now + 10 * hold);
	}
	uint32_t me = dipc_os_pid();
	for (int spin = 0;; spin++) {
		uint32_t cur = 0;
		if (atomic_compare_exchange_weak_explicit(&l->owner, &cur, me,
				memory_order_acquire, memory_order_relaxed))
			return 0;
		if (cur == 0)
			continue;
		if (spin < 100) {
			dipc_cpu_relax();
			continue;
		}
		if (take_from_dead(l, cur, me))
			return 1;
		int64_t left = dipc_time_left(deadline, DIPC_LIVENESS_NS);
		if (left == 0)
			return DIPC_ETIMEDOUT;
		int slot = dipc_waiters_join(&l->waiters);
		if (slot < 0) {
			/* No entry free: nap instead of sleeping on the word. */
			dipc_os_sleep_ns((uint64_t)(left < 1000000 ? left : 1000000));
			continue;
		}
		atomic_thread_fence(memory_order_seq_cst);
		int rc = 0;
		if (atomic_load_explicit(&l->owner, memory_order_relaxed) == cur)
			rc = dipc_os_wait(seg, &l->owner, cur, left);
		dipc_waiters_leave(&l->waiters, slot);
		/* A nap that ended without a wake-up: anyone we shared the
		 * list with who died asleep is struck off now. */
		if (rc == DIPC_ETIMEDOUT)
			dipc_waiters_repair(&l->waiters);
	}
}

void dipc_plock_release(const struct dipc_os_shm *seg, struct dipc_plock *l)
{
	atomic_store_explicit(&l->owner, 0, memory_order_seq_cst);
	if (dipc_waiters_any(&l->waiters))
		dipc_waiters_wake(&l->waiters, seg, &l->owner);
}

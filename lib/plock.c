/*
 * plock.c - a process-shared lock that a dead holder cannot wedge.
 *
 * The lock word holds the holder's process id.  Waiters sleep on it for at
 * most DIPC_LIVENESS_NS at a time; on waking they check the holder is
 * alive, and if it is not they swap their own id in with a compare-and-swap
 * (so exactly one of them takes over) and report the take-over, so that the
 * caller repairs what the dead holder left.  The structures it guards are
 * built so that every half-done update is either invisible or repairable.
 *
 * Threads of one process share an id; that is fine, a process never finds
 * itself dead.
 */
#include "internal.h"

int dipc_plock_acquire(const struct dipc_os_shm *seg, struct dipc_plock *l)
{
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
		if (cur != me && !dipc_os_pid_alive(cur)) {
			if (atomic_compare_exchange_strong_explicit(&l->owner, &cur, me,
					memory_order_acquire, memory_order_relaxed)) {
				DIPC_LOG(DIPC_LOG_BASIC,
					 "took over a lock held by dead process %u", cur);
				return 1;
			}
			continue;
		}
		atomic_fetch_add_explicit(&l->sleepers, 1, memory_order_seq_cst);
		dipc_os_wait(seg, &l->owner, cur, DIPC_LIVENESS_NS);
		atomic_fetch_sub_explicit(&l->sleepers, 1, memory_order_relaxed);
	}
}

void dipc_plock_release(const struct dipc_os_shm *seg, struct dipc_plock *l)
{
	atomic_store_explicit(&l->owner, 0, memory_order_seq_cst);
	if (atomic_load_explicit(&l->sleepers, memory_order_seq_cst))
		dipc_os_wake(seg, &l->owner);
}

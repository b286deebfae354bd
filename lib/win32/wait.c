/*
 * win32/wait.c - sleeping on a 32-bit word in shared memory, and waking
 * the sleepers, across processes.
 *
 * WaitOnAddress only works within one process, so a word in a segment is
 * watched through a named semaphore, "<section's name>@w<slot>", where the
 * slot is a hash of the word's offset in the segment.  The segment header
 * keeps, per slot, how many threads (of any process) sleep or are about to
 * sleep on it:
 *
 *   waiter:  sleepers[slot]++ ; if (*word != expected) leave ; wait on sem
 *   waker:   (word already changed) ; n = sleepers[slot] ; release sem n times
 *
 * Both sides are sequentially consistent, so either the waiter sees the
 * new value, or the waker sees the waiter counted and leaves a unit in the
 * semaphore for it.  A unit outlives a waiter that has not reached its
 * WaitForSingleObject yet, so a wake between the check and the sleep is
 * never lost.  The price is spurious wake-ups, which callers tolerate: a
 * unit released for a waiter that timed out or left early, or for a word
 * that shares the slot, wakes some later waiter once.  A waiter killed
 * while counted leaves its count behind; wakes on that slot then always
 * make the system call and release one unit too many, which costs a
 * spurious wake-up each time but never a lost one.
 *
 * A word outside any segment (process-local memory) uses WaitOnAddress.
 */
#include "win32.h"

#include <stdio.h>

static unsigned slot_of(const struct dipc_os_shm *seg, _Atomic uint32_t *word)
{
	uint32_t off = (uint32_t)((uintptr_t)word - (uintptr_t)seg->addr) >> 2;
	return (off * 2654435761u) >> 23;  /* top 9 bits: 512 slots */
}

_Static_assert(DIPC_W32_SLOTS == 512, "slot_of keeps 9 bits");

static bool in_segment(const struct dipc_os_shm *seg, _Atomic uint32_t *word)
{
	uintptr_t a = (uintptr_t)seg->addr, w = (uintptr_t)word;
	return w >= a && w - a + sizeof(*word) <= seg->size;
}

static DWORD to_ms(int64_t ns)
{
	if (ns < 0)
		return INFINITE;
	/* Round up: a short wait must not turn into a busy poll. */
	uint64_t ms = ((uint64_t)ns + 999999) / 1000000;
	return ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
}

static HANDLE slot_sem(struct dipc_w32_map *m, unsigned slot)
{
	HANDLE h = atomic_load_explicit(&m->sem[slot], memory_order_acquire);
	if (h)
		return h;
	char kname[DIPC_W32_KNAME + 16];
	snprintf(kname, sizeof(kname), "%s@w%u", m->kname, slot);
	/* Opens the semaphore if another process made it first. */
	h = CreateSemaphoreA(NULL, 0, LONG_MAX, kname);
	if (!h)
		return NULL;
	HANDLE none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&m->sem[slot], &none, h,
			memory_order_acq_rel, memory_order_acquire)) {
		/* Another thread of ours cached it meanwhile. */
		CloseHandle(h);
		h = none;
	}
	return h;
}

void dipc_w32_wait_release(struct dipc_w32_map *m)
{
	for (unsigned i = 0; i < DIPC_W32_SLOTS; i++) {
		HANDLE h = atomic_exchange_explicit(&m->sem[i], NULL, memory_order_acq_rel);
		if (h)
			CloseHandle(h);
	}
}

static int local_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	if (WaitOnAddress((volatile void *)word, &expected, sizeof(expected),
			  to_ms(timeout_ns)))
		return 0;
	return GetLastError() == ERROR_TIMEOUT ? DIPC_ETIMEDOUT : 0;
}

int dipc_os_wait(const struct dipc_os_shm *seg, _Atomic uint32_t *word,
		 uint32_t expected, int64_t timeout_ns)
{
	if (!word)
		return DIPC_EINVAL;
	struct dipc_w32_map *m = dipc_w32_map_of(seg);
	if (!m || !in_segment(seg, word))
		return local_wait(word, expected, timeout_ns);

	unsigned slot = slot_of(seg, word);
	HANDLE sem = slot_sem(m, slot);
	if (!sem) {
		/* No kernel object to sleep on: nap briefly and let the
		 * caller re-check, which is correct if slower. */
		if (atomic_load(word) == expected)
			Sleep(1);
		return 0;
	}
	_Atomic uint32_t *count = &m->hdr->sleepers[slot];
	atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
	if (atomic_load_explicit(word, memory_order_seq_cst) != expected) {
		atomic_fetch_sub_explicit(count, 1, memory_order_seq_cst);
		return 0;
	}
	DWORD r = WaitForSingleObject(sem, to_ms(timeout_ns));
	atomic_fetch_sub_explicit(count, 1, memory_order_seq_cst);
	return r == WAIT_TIMEOUT ? DIPC_ETIMEDOUT : 0;
}

void dipc_os_wake(const struct dipc_os_shm *seg, _Atomic uint32_t *word)
{
	if (!word)
		return;
	struct dipc_w32_map *m = dipc_w32_map_of(seg);
	if (!m || !in_segment(seg, word)) {
		WakeByAddressAll((void *)word);
		return;
	}
	unsigned slot = slot_of(seg, word);
	/* Order the caller's store to word before the read of the count
	 * (the other half of the waiter's increment-then-check). */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t n = atomic_load_explicit(&m->hdr->sleepers[slot], memory_order_seq_cst);
	if (n == 0)
		return;
	HANDLE sem = slot_sem(m, slot);
	/* Only when out of kernel resources; the callers' sleeps are
	 * bounded (DIPC_LIVENESS_NS), so the waiters still get on. */
	if (!sem)
		return;
	if (n > LONG_MAX)
		n = LONG_MAX;
	/* Fails only if the semaphore is at its maximum, when every waiter
	 * is sure to wake anyway. */
	ReleaseSemaphore(sem, (LONG)n, NULL);
}

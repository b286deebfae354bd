/*
 * win32/wait.c - sleeping on a 32-bit word in shared memory, and waking
 * the sleepers, across processes.
 *
 * WaitOnAddress only works within one process.  A word in a segment maps
 * to a slot (a hash of its offset); the segment header keeps, per slot,
 * one 64-bit word: a wake generation and the number of threads, of any
 * process, asleep in it.  Each generation has its own manual-reset event,
 * named "<section>@w<slot>.<generation>":
 *
 *   waiter:  open event(g) for the current g ; count++ if g is still
 *            current ; if (*word != expected) leave ; sleep on event(g)
 *   waker:   (word already changed) ; if count > 0: move to g+1 with
 *            count 0 ; set event(g)
 *
 * The count and the generation change together by compare-and-swap, and
 * both sides are sequentially consistent, so either the waiter sees the new
 * value or the waker sees it counted.  A counted waiter holds a handle to
 * its generation's event from before it was counted, so the event the
 * waker sets is the one it sleeps on, even if it has not reached
 * WaitForSingleObject yet; the event stays set, and no later waiter can
 * take the wake-up away (they wait on later generations).  So no wake-up
 * is lost.  (A semaphore released once per sleeper would not do: a thread
 * arriving after the release could take a unit meant for an earlier one.)
 *
 * Spurious wake-ups happen (words sharing a slot, a wake racing with a
 * timeout) and callers re-check.  A waiter killed while counted only makes
 * the next wake on its slot do the system calls; that wake starts a new
 * generation with a count of 0, so nothing stays stuck.
 *
 * A word outside any segment (process-local memory) uses WaitOnAddress.
 */
#include "win32.h"

#include <stdio.h>

#define GEN(s)   ((uint32_t)((s) >> 32))
#define COUNT(s) ((uint32_t)(s))

static unsigned slot_of(const struct dipc_os_shm *seg, _Atomic uint32_t *word)
{
	uint32_t off = (uint32_t)((uintptr_t)word - (uintptr_t)seg->addr) >> 2;
	return (off * 2654435761u) >> 24;  /* top 8 bits: 256 slots */
}

_Static_assert(DIPC_W32_SLOTS == 256, "slot_of keeps 8 bits");

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

/* The event of one generation of a slot, created if nobody holds it. */
static HANDLE gen_event(const struct dipc_w32_map *m, unsigned slot, uint32_t gen)
{
	char kname[DIPC_W32_KNAME + 32];
	snprintf(kname, sizeof(kname), "%s@w%u.%u", m->kname, slot, (unsigned)gen);
	return CreateEventA(NULL, TRUE, FALSE, kname);
}

/* Leave generation g; false if a wake has already moved past it. */
static bool leave(_Atomic uint64_t *st, uint32_t g)
{
	uint64_t s = atomic_load_explicit(st, memory_order_relaxed);
	while (GEN(s) == g && COUNT(s) > 0) {
		if (atomic_compare_exchange_weak_explicit(st, &s, s - 1,
				memory_order_seq_cst, memory_order_relaxed))
			return true;
	}
	return false;
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
	if (timeout_ns == 0)
		return atomic_load(word) == expected ? DIPC_ETIMEDOUT : 0;
	struct dipc_w32_map *m = dipc_w32_map_of(seg);
	if (!m || !in_segment(seg, word))
		return local_wait(word, expected, timeout_ns);

	unsigned slot = slot_of(seg, word);
	_Atomic uint64_t *st = &m->hdr->slots[slot];
	uint64_t s = atomic_load_explicit(st, memory_order_seq_cst);
	HANDLE ev = NULL;
	uint32_t evgen = 0;
	for (;;) {
		if (!ev || evgen != GEN(s)) {
			if (ev)
				CloseHandle(ev);
			evgen = GEN(s);
			ev = gen_event(m, slot, evgen);
			if (!ev) {
				/* Out of kernel objects: nap, let the caller
				 * re-check; slower but correct. */
				Sleep(1);
				return 0;
			}
		}
		if (COUNT(s) == UINT32_MAX) {
			CloseHandle(ev);
			Sleep(1);
			return 0;
		}
		if (atomic_compare_exchange_weak_explicit(st, &s, s + 1,
				memory_order_seq_cst, memory_order_seq_cst))
			break;
	}
	if (atomic_load_explicit(word, memory_order_seq_cst) != expected) {
		leave(st, evgen);
		CloseHandle(ev);
		return 0;
	}
	DWORD r = WaitForSingleObject(ev, to_ms(timeout_ns));
	CloseHandle(ev);
	if (r == WAIT_OBJECT_0)
		return 0;   /* the waker took us out of the count */
	/* Timed out (or failed): a wake may have come meanwhile. */
	if (!leave(st, evgen))
		return 0;
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
	_Atomic uint64_t *st = &m->hdr->slots[slot];
	/* Order the caller's store to word before the read of the count
	 * (the other half of the waiter's count-then-check). */
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t s = atomic_load_explicit(st, memory_order_seq_cst);
	for (;;) {
		if (COUNT(s) == 0)
			return;   /* nobody asleep: no system call */
		uint64_t next = (uint64_t)(uint32_t)(GEN(s) + 1) << 32;
		if (atomic_compare_exchange_weak_explicit(st, &s, next,
				memory_order_seq_cst, memory_order_seq_cst))
			break;
	}
	/* Every sleeper counted in GEN(s) holds this event open. */
	HANDLE ev = gen_event(m, slot, GEN(s));
	if (!ev)
		return;   /* they wake at their (bounded) timeout */
	SetEvent(ev);
	CloseHandle(ev);
}

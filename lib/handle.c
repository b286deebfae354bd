/*
 * handle.c - telling a live handle from a freed one.
 *
 * The rule for stale arguments: every handle the library gives out starts
 * with a magic word naming its kind, checked on entry to every call that
 * takes it; the call that frees a handle clears the word first.  A call on
 * a freed handle then finds the word cleared and fails with DIPC_EINVAL
 * instead of acting on freed memory (freeing a message twice, say).
 *
 * That check reads the handle's memory, which must still be ours to read:
 * so a freed handle is not given back to malloc at once but waits in a
 * quarantine of the last DIPC_QUARANTINE handles this process freed.  A
 * handle used again within that many frees is always caught; one used
 * later is undefined behaviour, as dragonipc(7) says (its memory may be
 * another handle by then), and is usually still caught because free()
 * does not leave the magic word in place.
 *
 * A handle inside another (the memory handle a message keeps) carries its
 * own kind of magic, so that it cannot be freed on its own.
 */
#include "internal.h"

#include <stdlib.h>

#define DIPC_QUARANTINE 256

static dipc_spinlock q_lock = DIPC_SPINLOCK_INIT;
static void *q_ring[DIPC_QUARANTINE];
static unsigned q_next;

void dipc_handle_retire(void *h, _Atomic uint32_t *magic)
{
	if (!h)
		return;
	atomic_store_explicit(magic, DIPC_MAGIC_DEAD, memory_order_release);
	dipc_spin_lock(&q_lock);
	void *old = q_ring[q_next];
	q_ring[q_next] = h;
	q_next = (q_next + 1) % DIPC_QUARANTINE;
	dipc_spin_unlock(&q_lock);
	free(old);
}

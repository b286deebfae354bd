/*
 * handle.c - telling a live handle from a freed one, and where handles'
 * memory comes from.
 *
 * The rule for stale arguments: every handle the library gives out starts
 * with a magic word naming its kind, checked on entry to every call that
 * takes it; the call that releases a handle clears the word first.  A call
 * on a released handle then finds the word cleared and fails (DIPC_EINVAL,
 * or DIPC_ENOTOPEN for a stream) instead of acting on freed memory.
 *
 * That check reads the handle's memory, which must still be ours to read:
 * so a released handle is not given back to malloc but queued, and its
 * memory is used again only after DIPC_QUARANTINE more handles of its size
 * have been released.  A handle used again within that many releases is
 * always caught; one used later is undefined behaviour, as dragonipc(7)
 * says (its memory may be a newer handle by then).
 *
 * Queueing released handles by size class and taking the oldest for the
 * next handle of that class also spares the message paths a malloc and a
 * free per handle: in a steady loop of messages, handles come from the
 * queue.  Each class is a ring under its own process-local spin lock,
 * which fork() leaves free (the prepare hook takes every lock, so no
 * thread holds one while the process is copied).
 *
 * A handle inside another (the memory handle a message keeps) carries its
 * own kind of magic, so that it cannot be released on its own.
 */
#include "internal.h"

#include <stdlib.h>

#define DIPC_QUARANTINE 256     /* releases before a handle's memory is reused */
#define RING            1024    /* handles a class keeps at most */
#define NCLASS          5       /* 64, 128, 256, 512, 1024 bytes */

/* Before each handle: its class (NCLASS: too large for any, plain free). */
struct hnode {
	uint32_t cls;
	uint32_t pad[3];        /* the handle after it stays 16-aligned */
};

struct hclass {
	dipc_spinlock lock;
	unsigned head, count;   /* oldest at head */
	struct hnode *ring[RING];
};

static struct hclass classes[NCLASS];

static unsigned class_of(size_t size)
{
	size_t need = size + sizeof(struct hnode);
	unsigned c = 0;
	for (size_t cap = 64; c < NCLASS; c++, cap <<= 1)
		if (need <= cap)
			return c;
	return NCLASS;
}

static void lock_all(void)
{
	for (int c = 0; c < NCLASS; c++)
		dipc_spin_lock(&classes[c].lock);
}

static void unlock_all(void)
{
	for (int c = NCLASS - 1; c >= 0; c--)
		dipc_spin_unlock(&classes[c].lock);
}

static _Atomic int hooked;

void *dipc_handle_new(size_t size)
{
	unsigned c = class_of(size);
	if (!atomic_load_explicit(&hooked, memory_order_acquire) &&
	    !atomic_exchange(&hooked, 1))
		dipc_os_on_fork(lock_all, unlock_all, unlock_all);
	struct hnode *n = NULL;
	if (c < NCLASS) {
		struct hclass *k = &classes[c];
		dipc_spin_lock(&k->lock);
		if (k->count > DIPC_QUARANTINE) {
			n = k->ring[k->head];
			k->head = (k->head + 1) % RING;
			k->count--;
		}
		dipc_spin_unlock(&k->lock);
	}
	size_t bytes = c < NCLASS ? (size_t)64 << c : size + sizeof(struct hnode);
	if (!n && !(n = malloc(bytes)))
		return NULL;
	memset(n, 0, bytes);
	n->cls = c;
	return n + 1;
}

void dipc_handle_retire(void *h, _Atomic uint32_t *magic)
{
	if (!h)
		return;
	atomic_store_explicit(magic, DIPC_MAGIC_DEAD, memory_order_release);
	struct hnode *n = (struct hnode *)h - 1;
	struct hnode *drop = NULL;
	unsigned c = n->cls < NCLASS ? n->cls : NCLASS;
	if (c == NCLASS) {
		/* Too large to keep a queue of: a quarantine of one class
		 * would hold little; give it back. */
		free(n);
		return;
	}
	struct hclass *k = &classes[c];
	dipc_spin_lock(&k->lock);
	if (k->count == RING) {
		drop = k->ring[k->head];
		k->head = (k->head + 1) % RING;
		k->count--;
	}
	k->ring[(k->head + k->count) % RING] = n;
	k->count++;
	dipc_spin_unlock(&k->lock);
	free(drop);
}

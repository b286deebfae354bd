/*
 * stream.h - byte streams (the smipc model): the shared segment's layout
 * and what lib/stream*.c share.
 *
 * A stream is one named segment: a header of five cache lines and then
 * the ring.  The writer owns wpos, the reader owns rpos; both are 64-bit
 * byte counts that only grow, so "empty" (wpos == rpos) and "full"
 * (wpos - rpos == ring_size) never look alike and nothing wraps in the
 * life of a machine.  A byte at stream position p lives at ring[p % size].
 *
 * Who holds which role is one 64-bit word, so that claiming a role,
 * giving it up and deciding to remove the name are each one
 * compare-and-swap, and a process that dies between two steps leaves
 * nothing half done (see stream.c).
 */
#ifndef DIPC_STREAM_H
#define DIPC_STREAM_H

#include "internal.h"

#define DIPC_STREAM_MAGIC    UINT64_C(0x314d525453435044)  /* "DPCSTRM1" */
#define DIPC_STREAM_VERSION  1u
#define DIPC_STREAM_MAX_RING ((uint64_t)1 << 40)

/*
 * Each half of the roles word (reader low, writer high) holds the id of
 * the process that has the role, or one of these.  Process ids are never
 * 0 and never above INT32_MAX, so the markers cannot be mistaken for one.
 */
#define DIPC_ROLE_NONE   0u            /* never opened */
#define DIPC_ROLE_CLOSED 0xffffffffu   /* was open, closed */
/* In the reader half only: the segment is sealed, no role can be taken
 * and openers must start over; the writer half then holds the process
 * that sealed it and is removing the name, or 0 once the name is gone. */
#define DIPC_ROLE_SEAL   0xfffffffeu

struct dipc_stream_shm {
	/* Written by the creator before it publishes magic; read-only after. */
	_Atomic uint64_t magic;
	uint32_t version;
	uint32_t once_hdr_size;
	uint64_t once_ring_size;
	uint64_t once_seg_size;

	/* Written on open and close only. */
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t roles;

	/* Written when a side goes to sleep.  The reader sleeps on data_evt
	 * (the writer bumps it), the writer on space_evt; a side announces
	 * its sleep in r_sleeping / w_sleeping (its process id, 0 when awake)
	 * so the other skips the wake-up call when nobody sleeps. */
	_Alignas(DIPC_CACHELINE) _Atomic uint32_t data_evt;
	_Atomic uint32_t space_evt;
	_Atomic uint32_t r_sleeping;
	_Atomic uint32_t w_sleeping;

	/* The cursors, each alone on its line. */
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t wpos;
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t rpos;
};

/* The ring starts right after the header. */
#define DIPC_STREAM_HDR_SIZE \
	DIPC_ALIGN_UP(sizeof(struct dipc_stream_shm), DIPC_CACHELINE)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "streams need lock-free 64-bit atomics in shared memory");

/* Handle states, changed under the registry lock. */
#define DIPC_STREAM_OPEN    1
#define DIPC_STREAM_CLOSING 2
#define DIPC_STREAM_ZOMBIE  3   /* closed by dipc_cleanup, memory kept */

struct dipc_stream {
	_Atomic uint32_t magic;         /* DIPC_MAGIC_STREAM (handle.c) */
	struct dipc_stream *next;       /* registry of this process's handles */
	_Atomic int state;
	_Atomic int users;              /* calls inside the library on it */

	int role;                       /* DIPC_STREAM_READ or _WRITE */
	uint32_t pid;                   /* the id we put in the roles word */
	struct dipc_os_shm shm;
	struct dipc_stream_shm *hdr;
	unsigned char *ring;
	uint64_t size;                  /* ring bytes */
	uint64_t pos;                   /* our cursor, the one we publish */
	uint64_t peer;                  /* our last look at the other cursor */
	unsigned kicks;                 /* wake-up calls made (stream_io.c) */

	/* Rate limit for asking the OS whether the peer still lives. */
	uint32_t seen_pid;
	bool seen_dead;
	uint64_t next_check;

	/* Listener. */
	dipc_os_mutex *lock;            /* serialises listen/unlisten/close */
	dipc_os_thread *thread;         /* to be joined when not NULL */
	atomic_bool running;            /* the thread may still call back */
	atomic_bool stop;
	dipc_stream_cb cb;
	void *cb_arg;

	char name[DIPC_NAME_MAX + 1];
	char seg[96];
};

static inline uint32_t dipc_role_get(uint64_t roles, int role)
{
	return role == DIPC_STREAM_READ ? (uint32_t)roles : (uint32_t)(roles >> 32);
}

static inline uint64_t dipc_role_put(uint64_t roles, int role, uint32_t v)
{
	if (role == DIPC_STREAM_READ)
		return (roles & ~(uint64_t)UINT32_MAX) | v;
	return (roles & UINT32_MAX) | ((uint64_t)v << 32);
}

static inline bool dipc_roles_sealed(uint64_t roles)
{
	return (uint32_t)roles == DIPC_ROLE_SEAL;
}

static inline bool dipc_role_is_pid(uint32_t v)
{
	return v != DIPC_ROLE_NONE && v != DIPC_ROLE_CLOSED && v != DIPC_ROLE_SEAL;
}

/*
 * A call on a handle enters first and leaves last, so that a close from
 * another thread never frees the handle or unmaps the segment under it:
 * close marks the handle closing, wakes whoever waits in it, and waits for
 * the calls inside to leave (see dipc_stream_close).  Entering counts the
 * call, then looks at the state; closing sets the state, then looks at the
 * count: with both sequentially consistent, either the call sees the
 * close and leaves at once, or the close sees the call and waits for it.
 * A freed handle is told by its magic word (handle.c).
 */
static inline int dipc_stream_enter_(dipc_stream *s)
{
	if (!s)
		return DIPC_EINVAL;
	/* Freed by dipc_stream_close: the handle waits in the quarantine
	 * (handle.c), its magic word cleared. */
	if (atomic_load_explicit(&s->magic, memory_order_relaxed) != DIPC_MAGIC_STREAM)
		return DIPC_ENOTOPEN;
	atomic_fetch_add_explicit(&s->users, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&s->state, memory_order_seq_cst) != DIPC_STREAM_OPEN) {
		atomic_fetch_sub_explicit(&s->users, 1, memory_order_release);
		return DIPC_ENOTOPEN;
	}
	return 0;
}

static inline void dipc_stream_leave_(dipc_stream *s)
{
	atomic_fetch_sub_explicit(&s->users, 1, memory_order_release);
}

/* Is the handle being closed?  A waiting call looks between naps. */
static inline bool dipc_stream_closing_(const dipc_stream *s)
{
	return atomic_load_explicit(&s->state, memory_order_seq_cst) != DIPC_STREAM_OPEN;
}

/* The handle's default for DIPC_TIMEOUT_DEFAULT is to wait forever. */
static inline bool dipc_stream_timeout_ok(int64_t *t)
{
	if (*t == DIPC_TIMEOUT_DEFAULT)
		*t = DIPC_WAIT_FOREVER;
	return dipc_timeout_valid(*t);
}

/* stream_io.c */
#define DIPC_STREAM_STOPPED 1   /* stream_wait: the listener was told to stop */
/* stream_wait returns DIPC_ENOTOPEN when the handle is being closed. */
int dipc_stream_wait_(dipc_stream *s, int64_t timeout_ns, uint64_t *deadline,
		      const atomic_bool *stop);
bool dipc_stream_peer_gone_(dipc_stream *s);
void dipc_stream_publish_(dipc_stream *s);
void dipc_stream_kick_(dipc_stream *s, _Atomic uint32_t *evt);

/* stream_listen.c */
bool dipc_stream_on_listener_(const dipc_stream *s);
bool dipc_stream_in_any_listener_(void);
void dipc_stream_stop_listener_(dipc_stream *s);

/* stream.c: close every open stream (dipc_cleanup). */
int dipc_stream_close_all_(void);

#endif

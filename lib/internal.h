/*
 * internal.h - what the portable core shares between its files.
 */
#ifndef DIPC_INTERNAL_H
#define DIPC_INTERNAL_H

#include "config.h"
#include <dragonipc.h>
#include "platform.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DIPC_CACHELINE 64
#define DIPC_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))

#define DIPC_UNUSED __attribute__((unused))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#if defined(__x86_64__) || defined(__i386__)
# define dipc_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
# define dipc_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
# define dipc_cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

/*
 * Read once.  A value in shared memory that decides an address, a length
 * or a bound is read once, into private memory, checked there, and only
 * the private copy is used afterwards; a handle's geometry is such a copy
 * and is never read from the segment again.  A hostile process can change
 * the field between two reads, so a check of one read proves nothing
 * about the next.
 *
 * The convention that makes a second read stand out in review: such a
 * field of a shared struct is named once_<what>, and in lib/ and tools/ it
 * appears only as DIPC_SHARED_READ(p->once_<what>), on one line, or as
 * the left-hand side of a plain store.  Any other use (a comparison,
 * arithmetic, &, +=) is a read the macro does not mark, and t/read_once.sh
 * refuses it; that test also checks that the size, length, offset and
 * capacity members of the shared structs carry the prefix.  The macro is
 * a single volatile load, which the compiler may neither repeat nor
 * merge.  _Atomic fields (cursors, links, block words) are outside the
 * naming: each of their reads is already an explicit atomic load into a
 * local, checked before use.  t/flip_race flips the once_ fields from
 * another process while handles are opened, attached and used.
 */
#define DIPC_SHARED_READ(field) (*(const volatile __typeof__(field) *)&(field))

/* Segment name prefixes, one per kind, so the tool can list them. */
#define DIPC_SEG_POOL   "dipc.p."
#define DIPC_SEG_STREAM "dipc.s."

/* How long a sleeper sleeps at most before it checks that the process it
 * waits on is still alive. */
#define DIPC_LIVENESS_NS (100 * 1000 * 1000ull)

/* Spins before an adaptive wait goes to sleep. */
#define DIPC_SPIN_LIMIT 4000

/* How long a DIPC_WAIT_SPIN wait spins before it starts yielding. */
#define DIPC_SPIN_YIELD_NS (50 * 1000ull)

/* Validate a user-supplied name; builds "<prefix><name>" into out. */
int dipc_name_build(const char *prefix, const char *name, char *out, size_t outlen);

/* Deadlines: a timeout in the API convention turned into an absolute
 * monotonic time (UINT64_MAX: never; 0: try once). */
static inline uint64_t dipc_deadline(int64_t timeout_ns)
{
	if (timeout_ns == DIPC_WAIT_FOREVER)
		return UINT64_MAX;
	if (timeout_ns == DIPC_TRY_ONCE)
		return 0;
	return dipc_os_now_ns() + (uint64_t)timeout_ns;
}

/* Nanoseconds left before deadline, capped at cap; 0 if expired. */
static inline int64_t dipc_time_left(uint64_t deadline, uint64_t cap)
{
	if (deadline == UINT64_MAX)
		return (int64_t)cap;
	uint64_t now = dipc_os_now_ns();
	if (now >= deadline)
		return 0;
	uint64_t left = deadline - now;
	return (int64_t)(left < cap ? left : cap);
}

static inline bool dipc_timeout_valid(int64_t t)
{
	return t >= DIPC_WAIT_FOREVER;
}

/* Handle kinds (handle.c): the first word of every handle. */
#define DIPC_MAGIC_POOL    0x6c6f6f70u  /* "pool" */
#define DIPC_MAGIC_MEM     0x206d656du  /* "mem " */
#define DIPC_MAGIC_MEM_MSG 0x67736d6du  /* "mmsg": a message's own handle */
#define DIPC_MAGIC_CHANNEL 0x6e616863u  /* "chan" */
#define DIPC_MAGIC_SENDH   0x646e6573u  /* "send" */
#define DIPC_MAGIC_RECVH   0x76636572u  /* "recv" */
#define DIPC_MAGIC_MSG     0x2067736du  /* "msg " */
#define DIPC_MAGIC_STREAM  0x6d727473u  /* "strm" */
#define DIPC_MAGIC_DEAD    0x64616564u  /* "dead": freed */
/* Is h a live handle of this kind?  (h may be NULL.) */
#define DIPC_LIVE(h, kind) \
	((h) != NULL && atomic_load_explicit(&(h)->magic, memory_order_relaxed) == (kind))
/* Zeroed memory for a handle of size bytes; NULL when out of memory. */
void *dipc_handle_new(size_t size);
/* Clear h's magic and release it (its memory is reused only after a
 * quarantine). */
void dipc_handle_retire(void *h, _Atomic uint32_t *magic);

/* Logging (lib/log.c). */
void dipc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern atomic_int dipc_log_level_;
#define DIPC_LOG(level, ...) do { \
	if (unlikely(atomic_load_explicit(&dipc_log_level_, memory_order_relaxed) >= (level))) \
		dipc_log((level), __VA_ARGS__); \
} while (0)

/* A process-local lock usable before any initialisation. */
typedef struct { atomic_int v; } dipc_spinlock;
#define DIPC_SPINLOCK_INIT { 0 }
static inline void dipc_spin_lock(dipc_spinlock *l)
{
	while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
		dipc_os_yield();
}
static inline void dipc_spin_unlock(dipc_spinlock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/*
 * Sets of sleepers on a shared word (waiters.c): a mask of taken entries
 * and, per entry, the process that took it, so that a sleeper killed in
 * its sleep can be struck off by anyone (the "no trace of the dead" rule).
 */
#define DIPC_WAITERS_MAX 64
#define DIPC_WAITER_FIXING 0x80000000u     /* | the repairer's id */
#define DIPC_WAITER_REPAIR_EVERY 128u      /* a set's wake calls between repairs */
struct dipc_waiters {
	_Atomic uint64_t mask;
	_Atomic uint32_t wakes;            /* wake calls made on the set */
	uint32_t pad;
	_Atomic uint32_t pid[DIPC_WAITERS_MAX];
};
/* Take an entry (before the last look and the sleep); -1 if none is free,
 * and the caller then naps instead of sleeping on the word. */
int dipc_waiters_join(struct dipc_waiters *w);
void dipc_waiters_leave(struct dipc_waiters *w, int slot);
/* Strike off the entries of dead processes; how many. */
int dipc_waiters_repair(struct dipc_waiters *w);
/* Anyone asleep?  The waker's half of the Dekker pattern: the caller has
 * ordered its progress before this load (a fence or a seq_cst RMW). */
static inline bool dipc_waiters_any(struct dipc_waiters *w)
{
	return atomic_load_explicit(&w->mask, memory_order_seq_cst) != 0;
}
/* Make the wake-up call on word (counted), and now and then repair w. */
void dipc_waiters_wake(struct dipc_waiters *w, const struct dipc_os_shm *seg,
		       _Atomic uint32_t *word);
/* Wake-up calls this process made; for tests (a dead sleeper must not
 * cost a system call per operation for ever). */
extern _Atomic uint64_t dipc_wake_calls;

/* A try-once call never sleeps on a lock another process holds: it spins
 * while the holder gets on, looking at the holder this often. */
#define DIPC_TRY_SPIN_NS (20 * 1000ull)

/* How long a call that takes no timeout (stats, reclaim, channel create
 * and destroy) waits for a lock before it fails with DIPC_EBUSY. */
#define DIPC_LOCK_PATIENCE_NS (2000ull * 1000 * 1000)

/*
 * Process-shared lock that survives its holder's death.  The word holds
 * the owner's process id; a waiter that finds the owner dead takes the
 * lock over and is told so, to repair what the owner left half done.
 * A live owner that does not let go (stopped, or a hostile write of a live
 * id into the word) costs a waiter its deadline, never more.
 */
struct dipc_plock {
	_Atomic uint32_t owner;
	uint32_t pad;
	struct dipc_waiters waiters;
};
/* deadline: absolute (dipc_deadline), UINT64_MAX for none.  spin_only:
 * never sleep on the lock; give up with DIPC_EBUSY when the holder is
 * stopped, when one holder has kept it until the deadline, or
 * (the lock passing between holders) after ten times that (try once);
 * otherwise sleep in naps and give up at the deadline with
 * DIPC_ETIMEDOUT.  Returns 0, or 1 if the lock was
 * taken from a dead owner. */
int dipc_plock_acquire(const struct dipc_os_shm *seg, struct dipc_plock *l, uint64_t deadline,
		       bool spin_only);
void dipc_plock_release(const struct dipc_os_shm *seg, struct dipc_plock *l);
/* The lock's holder, as read now (0: free). */
static inline uint32_t dipc_plock_holder(struct dipc_plock *l)
{
	return atomic_load_explicit(&l->owner, memory_order_relaxed);
}

/* Descriptor encoding helpers (little-endian, fixed width). */
static inline void dipc_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint64_t dipc_get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif

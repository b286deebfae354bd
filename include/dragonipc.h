/*
 * dragonipc.h - fast, crash-safe inter-process communication through
 * shared memory.
 *
 * Two kinds of channel live behind this header:
 *
 *  - message channels (dipc_channel_*) in memory pools (dipc_pool_*):
 *    bounded multi-producer multi-consumer FIFOs of messages, found by
 *    other processes through serialized descriptors;
 *  - byte streams (dipc_stream_*): named single-writer single-reader rings.
 *
 * Conventions shared by every function:
 *
 *  - A call returns 0 (or a non-negative count) on success and a negative
 *    DIPC_E* code on failure; dipc_strerror() names a code.  errno and
 *    GetLastError() carry no meaning across this API.
 *  - Output parameters come last.
 *  - Blocking calls take a timeout in nanoseconds: DIPC_TRY_ONCE (0) tries
 *    once, DIPC_WAIT_FOREVER (-1) waits without limit, a positive value
 *    waits at most that long, measured on a monotonic clock.  Handle-based
 *    calls also accept DIPC_TIMEOUT_DEFAULT, the handle's own default.
 *    A try-once call that cannot proceed reports the state (DIPC_EFULL,
 *    DIPC_EEMPTY, DIPC_ENOSPC); an expired wait reports DIPC_ETIMEDOUT.
 *  - Handles are opaque; pair every create/attach with destroy/detach.
 *
 * See dragonipc(7) for the concepts and guarantees.
 */
#ifndef DRAGONIPC_H
#define DRAGONIPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
# if defined(DIPC_STATIC) || (defined(DIPC_BUILDING) && !defined(DLL_EXPORT))
#  define DIPC_API
# elif defined(DIPC_BUILDING)
#  define DIPC_API __declspec(dllexport)
# else
#  define DIPC_API __declspec(dllimport)
# endif
#elif defined(__GNUC__) && __GNUC__ >= 4
# define DIPC_API __attribute__((visibility("default")))
#else
# define DIPC_API
#endif

#define DIPC_VERSION_MAJOR 0
#define DIPC_VERSION_MINOR 1
#define DIPC_VERSION_PATCH 0

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#define DIPC_OK            0
#define DIPC_EINVAL       (-1)  /* invalid argument */
#define DIPC_ENOMEM       (-2)  /* out of process memory */
#define DIPC_ENOSPC       (-3)  /* no room: in the pool for an allocation, or
				   to reserve a new pool or stream */
#define DIPC_EFULL        (-4)  /* channel full (try-once) */
#define DIPC_EEMPTY       (-5)  /* channel empty (try-once) */
#define DIPC_ETIMEDOUT    (-6)  /* a bounded wait expired */
#define DIPC_ENOTOPEN     (-7)  /* handle is not open */
#define DIPC_EDESTROYED   (-8)  /* the channel or pool was destroyed */
#define DIPC_EPEERCLOSED  (-9)  /* the other side closed or died */
#define DIPC_EPERM       (-10)  /* permission denied */
#define DIPC_EVERSION    (-11)  /* ABI version mismatch */
#define DIPC_EEXIST      (-12)  /* name or id already in use */
#define DIPC_ENOENT      (-13)  /* no such pool, channel or stream */
#define DIPC_EBUSY       (-14)  /* role taken, listener active, handles open */
#define DIPC_EMSGSIZE    (-15)  /* message larger than the buffer or block */
#define DIPC_ECORRUPT    (-16)  /* shared memory or descriptor failed checks */
#define DIPC_EFOREIGN    (-17)  /* descriptor from another host */
#define DIPC_ESYS        (-18)  /* unexpected operating-system failure */
#define DIPC_ENAMETOOLONG (-19) /* name longer than DIPC_NAME_MAX */
#define DIPC_ELIMIT      (-20)  /* a process or system limit was reached
				   (open files, mappings) */
#define DIPC_EBROKEN     (-21)  /* the channel's barrier is broken (aborted);
				   it stays so until reset */
#define DIPC_ERRNO_LAST  (-21)

/** dipc_strerror - a short English description of a DIPC_E* code.
 *  Never returns NULL; unknown codes give "unknown error". */
DIPC_API const char *dipc_strerror(int code);

/** dipc_version - the library's version as "MAJOR.MINOR.PATCH". */
DIPC_API const char *dipc_version(void);

/* ------------------------------------------------------------------ */
/* Timeouts, names, descriptors                                        */
/* ------------------------------------------------------------------ */

#define DIPC_TRY_ONCE        INT64_C(0)
#define DIPC_WAIT_FOREVER    INT64_C(-1)
#define DIPC_TIMEOUT_DEFAULT INT64_C(-2)  /* handle calls only */

/* Names of pools and streams: 1..DIPC_NAME_MAX bytes of [A-Za-z0-9._-],
 * not starting with '.'. */
#define DIPC_NAME_MAX   63

/* Opening by name joins only a segment this user owns, and (for streams)
 * one no more open than asked for: anything else is DIPC_EPERM, so that
 * another user cannot squat a name and receive or feed our data.  This
 * flag, OR'ed into a stream's perm or passed to
 * dipc_pool_attach_name_flags, opts into sharing with other users. */
#define DIPC_SHARED 0x10000u

/* No serialized descriptor is longer than this. */
#define DIPC_SERIAL_MAX 256

/* ------------------------------------------------------------------ */
/* Opaque handles                                                      */
/* ------------------------------------------------------------------ */

typedef struct dipc_pool    dipc_pool;
typedef struct dipc_mem     dipc_mem;
typedef struct dipc_channel dipc_channel;
typedef struct dipc_sendh   dipc_sendh;
typedef struct dipc_recvh   dipc_recvh;
typedef struct dipc_msg     dipc_msg;
typedef struct dipc_stream  dipc_stream;
typedef struct dipc_channelset dipc_channelset;

/* ------------------------------------------------------------------ */
/* Library-wide state and logging                                      */
/* ------------------------------------------------------------------ */

#define DIPC_LOG_DISABLE 0
#define DIPC_LOG_BASIC   1
#define DIPC_LOG_ALL     2

typedef void (*dipc_log_fn)(int level, const char *message, void *arg);

/** dipc_init - set the log level and prepare library-wide state.
 *  Optional: every call works without it.  Returns 0 or DIPC_EINVAL. */
DIPC_API int dipc_init(int log_level);

/** dipc_cleanup - close every stream this process still has open and
 *  reset library-wide state.  Safe to call more than once. */
DIPC_API int dipc_cleanup(void);

/** dipc_log_set_level - DIPC_LOG_DISABLE (default), _BASIC or _ALL. */
DIPC_API int dipc_log_set_level(int level);

/** dipc_log_get_level - the current level. */
DIPC_API int dipc_log_get_level(void);

/** dipc_log_set_handler - send log lines to fn instead of stderr;
 *  fn NULL restores stderr. */
DIPC_API int dipc_log_set_handler(dipc_log_fn fn, void *arg);

/* ------------------------------------------------------------------ */
/* Memory pools and allocations                                        */
/* ------------------------------------------------------------------ */

/* Pools smaller than this are rounded up, so that any pool can hold a
 * channel with the default attributes.  A pool's whole size is reserved
 * when it is created (so that running out of room is DIPC_ENOSPC then,
 * never a SIGBUS later): every page costs memory from the start. */
#define DIPC_POOL_MIN_SIZE ((size_t)1 << 20)

struct dipc_pool_attr {
	uint32_t mode;          /* permission bits, default 0600 */
	uint32_t flags;         /* DIPC_POOL_KEEP_SIZE, _POW2, _FIRST_FIT; default 0 */
	uint64_t uid;           /* an id of the caller's, kept with the pool */
	uint32_t max_allocs;    /* blocks in use at once, channels included;
				   0 (default): no limit */
	uint32_t reserved[3];   /* must be zero */
};

/* Allocations see only the size asked for: what the pool has beyond it
 * (up to DIPC_POOL_MIN_SIZE) is kept for channels, and given up to
 * allocations once a channel needed it. */
#define DIPC_POOL_KEEP_SIZE 0x1u

/* dipc_pool_alloc, dipc_pool_alloc_wait and dipc_msg_create_alloc take a
 * block of the next power of two of the size asked for, as Dragon's
 * allocator does (the handle still has the size asked for). */
#define DIPC_POOL_POW2 0x2u

/* Allocations take the free block of lowest address that fits, and frees
 * go back to the free space at once, not to the block cache: allocations
 * that add up to what an empty pool holds always fit it, as in Dragon's
 * pools, at the cost of a walk under the pool's lock for each of them. */
#define DIPC_POOL_FIRST_FIT 0x4u

struct dipc_pool_stats {
	uint64_t total;         /* bytes usable for allocations */
	uint64_t free;          /* bytes free */
	uint64_t largest_free;  /* the largest allocation that would succeed now */
	uint64_t nallocs;       /* live allocations, channels included */
	uint64_t nchannels;     /* channels in the pool */
};

/** dipc_pool_attr_init - fill attr with the defaults. */
DIPC_API int dipc_pool_attr_init(struct dipc_pool_attr *attr);

/** dipc_pool_create - create the named pool of at least size bytes.
 *  DIPC_EEXIST if the name is taken.  attr may be NULL. */
DIPC_API int dipc_pool_create(const char *name, size_t size,
			      const struct dipc_pool_attr *attr,
			      dipc_pool **pool);

/** dipc_pool_destroy - unlink the pool's name, detach, free the handle.
 *  Processes still attached keep their mapping until they detach. */
DIPC_API int dipc_pool_destroy(dipc_pool *pool);

/** dipc_pool_detach - unmap the pool from this process, free the handle. */
DIPC_API int dipc_pool_detach(dipc_pool *pool);

/** dipc_pool_serialize - write a descriptor other processes can attach
 *  with.  Returns its length; with buf NULL and len 0, the length needed;
 *  DIPC_EMSGSIZE if len is too small. */
DIPC_API int dipc_pool_serialize(const dipc_pool *pool, void *buf, size_t len);

/** dipc_pool_attach - map the pool a descriptor names. */
DIPC_API int dipc_pool_attach(const void *ser, size_t len, dipc_pool **pool);

/** dipc_pool_attach_name - map the pool by its name; DIPC_EPERM if
 *  another user owns it. */
DIPC_API int dipc_pool_attach_name(const char *name, dipc_pool **pool);

/** dipc_pool_attach_name_flags - the same, with flags 0 or DIPC_SHARED
 *  (accept a pool another user owns). */
DIPC_API int dipc_pool_attach_name_flags(const char *name, unsigned flags,
					 dipc_pool **pool);

/** dipc_pool_stats - sizes and counts of the pool now. */
DIPC_API int dipc_pool_stats(dipc_pool *pool, struct dipc_pool_stats *st);

/** dipc_pool_alloc - allocate size bytes (aligned to 64), try once:
 *  DIPC_ENOSPC when there is no room. */
DIPC_API int dipc_pool_alloc(dipc_pool *pool, size_t size, dipc_mem **mem);

/** dipc_pool_alloc_wait - allocate, waiting up to timeout_ns for room. */
DIPC_API int dipc_pool_alloc_wait(dipc_pool *pool, size_t size,
				  int64_t timeout_ns, dipc_mem **mem);

/** dipc_pool_reclaim - free every allocation whose owning process has
 *  died.  Returns how many were freed. */
DIPC_API int dipc_pool_reclaim(dipc_pool *pool);

/** dipc_pool_get_attr - the attributes the pool was created with (mode,
 *  flags, uid, max_allocs). */
DIPC_API int dipc_pool_get_attr(dipc_pool *pool, struct dipc_pool_attr *attr);

/* What dipc_pool_blocks reports of each block. */
#define DIPC_BLOCK_FREE    0    /* a run of free space */
#define DIPC_BLOCK_DATA    1    /* an allocation of a process */
#define DIPC_BLOCK_CHANNEL 2    /* a channel's own memory */

struct dipc_block_info {
	uint64_t id;            /* the allocation's id (dipc_mem_id); 0 if free */
	uint64_t size;          /* bytes asked for; usable bytes of a free run */
	uint32_t kind;          /* DIPC_BLOCK_* */
	uint32_t reserved;
};

/** dipc_pool_blocks - describe the pool's allocations and free runs, in
 *  address order, into out[0..cap).  Returns how many there are (which may
 *  be more than cap); out may be NULL when cap is 0. */
DIPC_API int dipc_pool_blocks(dipc_pool *pool, struct dipc_block_info *out, size_t cap);

/** dipc_mem_get - pointer (in this process) and size of an allocation;
 *  either output may be NULL. */
DIPC_API int dipc_mem_get(const dipc_mem *mem, void **ptr, size_t *size);

/** dipc_mem_serialize - descriptor of the allocation (or of a clone's
 *  sub-range), to attach from another process.  Returns its length. */
DIPC_API int dipc_mem_serialize(const dipc_mem *mem, void *buf, size_t len);

/** dipc_mem_attach - a handle on the allocation a descriptor names, in
 *  pool (which this process has attached). */
DIPC_API int dipc_mem_attach(dipc_pool *pool, const void *ser, size_t len,
			     dipc_mem **mem);

/** dipc_mem_clone - a handle on [offset, offset+size) of mem's range. */
DIPC_API int dipc_mem_clone(const dipc_mem *mem, size_t offset, size_t size,
			    dipc_mem **clone);

/** dipc_mem_id - the id of the allocation mem is a range of: non-zero,
 *  the same in every process, never given to another allocation of the
 *  pool while this one lives, and not found again once it is freed. */
DIPC_API int dipc_mem_id(const dipc_mem *mem, uint64_t *id);

/** dipc_mem_from_id - a handle on the whole allocation with that id;
 *  DIPC_ENOENT if no allocation in use has it. */
DIPC_API int dipc_mem_from_id(dipc_pool *pool, uint64_t id, dipc_mem **mem);

/** dipc_mem_free - return the whole allocation to its pool and free the
 *  handle.  Other handles on it become dangling. */
DIPC_API int dipc_mem_free(dipc_mem *mem);

/** dipc_mem_detach - free this handle only; the allocation lives on. */
DIPC_API int dipc_mem_detach(dipc_mem *mem);

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

#define DIPC_CHANNEL_DEFAULT_CAPACITY   100
#define DIPC_CHANNEL_DEFAULT_BLOCK_SIZE 1024
#define DIPC_CHANNEL_MAX_CAPACITY       (1 << 24)
#define DIPC_CHANNEL_MAX_BLOCK_SIZE     (1 << 24)

struct dipc_channel_attr {
	uint64_t capacity;      /* messages, default 100 */
	uint64_t block_size;    /* payload bytes held in the channel, default 1024 */
	uint64_t reserved[6];   /* must be zero */
};

/* Events for dipc_channel_poll. */
#define DIPC_POLL_READABLE 0x1  /* at least one message */
#define DIPC_POLL_WRITABLE 0x2  /* room for at least one message */
#define DIPC_POLL_EMPTY    0x4  /* no message */
#define DIPC_POLL_FULL     0x8  /* no room */

/** dipc_channel_attr_init - fill attr with the defaults. */
DIPC_API int dipc_channel_attr_init(struct dipc_channel_attr *attr);

/** dipc_channel_create - create a channel with the unique id cuid in
 *  pool.  DIPC_EEXIST if the pool has a channel with that id,
 *  DIPC_ENOSPC if the pool has no room.  attr may be NULL. */
DIPC_API int dipc_channel_create(dipc_pool *pool, uint64_t cuid,
				 const struct dipc_channel_attr *attr,
				 dipc_channel **ch);

/** dipc_channel_destroy - wake and fail every waiter, remove the channel
 *  from its pool and free the handle. */
DIPC_API int dipc_channel_destroy(dipc_channel *ch);

/** dipc_channel_detach - free this process's handle on the channel.
 *  DIPC_EBUSY while send or receive handles (or channel sets) on it
 *  exist. */
DIPC_API int dipc_channel_detach(dipc_channel *ch);

/** dipc_channel_serialize - descriptor for dipc_channel_attach. */
DIPC_API int dipc_channel_serialize(const dipc_channel *ch, void *buf,
				    size_t len);

/** dipc_channel_attach - attach the channel a descriptor names.  pool,
 *  if not NULL, must be the channel's pool; if NULL, the pool is attached
 *  from the descriptor and detached with the channel. */
DIPC_API int dipc_channel_attach(const void *ser, size_t len, dipc_pool *pool,
				 dipc_channel **ch);

/** dipc_channel_count - messages in the channel now (>= 0). */
DIPC_API int dipc_channel_count(const dipc_channel *ch);

/** dipc_channel_capacity - the channel's capacity in messages. */
DIPC_API int dipc_channel_capacity(const dipc_channel *ch);

/** dipc_channel_block_size - payload bytes a message block holds. */
DIPC_API int dipc_channel_block_size(const dipc_channel *ch);

/** dipc_channel_cuid - the channel's unique id. */
DIPC_API int dipc_channel_cuid(const dipc_channel *ch, uint64_t *cuid);

/** dipc_channel_pool - the pool the channel lives in (not a new handle). */
DIPC_API int dipc_channel_pool(const dipc_channel *ch, dipc_pool **pool);

/** dipc_channel_poll - wait until one of events holds.  Returns the mask
 *  of those that hold; with DIPC_TRY_ONCE, 0 if none does. */
DIPC_API int dipc_channel_poll(dipc_channel *ch, int events, int64_t timeout_ns);

/** dipc_channel_blocked_receivers - how many receivers (and pollers
 *  waiting for a message) are asleep on the channel now (>= 0). */
DIPC_API int dipc_channel_blocked_receivers(const dipc_channel *ch);

/* A channel used as a barrier of as many parties as its capacity
 * (Dragon's POLLBARRIER_* operations); see dipc_channel_barrier(3). */
#define DIPC_BARRIER_WAIT    1  /* count the caller in */
#define DIPC_BARRIER_RELEASE 2  /* send each counted party its message */
#define DIPC_BARRIER_ABORT   3  /* break the barrier, releasing the parties */
#define DIPC_BARRIER_RESET   4  /* release the parties, mend the barrier */
#define DIPC_BARRIER_LAST    1  /* a wait's result: the caller came last */

/** dipc_channel_barrier - perform op on the channel's barrier.  A wait
 *  returns 0, or DIPC_BARRIER_LAST for the party that completes it (which
 *  then releases the others); DIPC_EBROKEN once the barrier is broken. */
DIPC_API int dipc_channel_barrier(dipc_channel *ch, int op, int64_t timeout_ns);

/** dipc_channel_barrier_count - parties counted in and not yet released. */
DIPC_API int dipc_channel_barrier_count(const dipc_channel *ch);

/** dipc_channel_barrier_broken - 1 if the barrier is broken, else 0. */
DIPC_API int dipc_channel_barrier_broken(const dipc_channel *ch);

/* ------------------------------------------------------------------ */
/* Channel sets                                                        */
/* ------------------------------------------------------------------ */

/* Reported for a channel of a set that was destroyed (sets only). */
#define DIPC_POLL_DESTROYED 0x10

/* Sets that may watch one channel at a time, and channels in one set. */
#define DIPC_CHANNEL_MAX_WATCHERS 8
#define DIPC_CHANNELSET_MAX       65536

struct dipc_channelset_event {
	uint32_t index;         /* the channel's position in the array given */
	int32_t revents;        /* DIPC_POLL_* that hold, or DIPC_POLL_DESTROYED */
};

/** dipc_channelset_create - a set watching the n channels for events
 *  (DIPC_POLL_*), its bell allocated in pool.  The set counts as a handle
 *  on each channel until it is destroyed. */
DIPC_API int dipc_channelset_create(dipc_pool *pool, dipc_channel *const *channels,
				    size_t n, int events, dipc_channelset **set);

/** dipc_channelset_destroy - stop watching and free the set. */
DIPC_API int dipc_channelset_destroy(dipc_channelset *set);

/** dipc_channelset_poll - wait until events hold on any channel of the
 *  set; fill ev with up to max of them.  Returns how many; with
 *  DIPC_TRY_ONCE, 0 if none. */
DIPC_API int dipc_channelset_poll(dipc_channelset *set, struct dipc_channelset_event *ev,
				  size_t max, int64_t timeout_ns);

/* ------------------------------------------------------------------ */
/* Send and receive handles                                            */
/* ------------------------------------------------------------------ */

#define DIPC_WAIT_ADAPTIVE 0    /* spin briefly, then sleep (default) */
#define DIPC_WAIT_SPIN     1    /* spin (yielding) until done or timed out */
#define DIPC_WAIT_IDLE     2    /* sleep at once */

#define DIPC_COPY_ON_SEND     0 /* the payload is copied; msg stays the sender's */
#define DIPC_TRANSFER_ON_SEND 1 /* msg's allocation is handed over, not copied */

struct dipc_handle_attr {
	int32_t wait_mode;         /* DIPC_WAIT_*, default adaptive */
	int32_t reserved0;
	int64_t default_timeout;   /* ns; default DIPC_WAIT_FOREVER */
	uint64_t reserved[6];      /* must be zero */
};

/** dipc_handle_attr_init - fill attr with the defaults. */
DIPC_API int dipc_handle_attr_init(struct dipc_handle_attr *attr);

/** dipc_sendh_create - a send handle on ch, not yet open; attr may be NULL. */
DIPC_API int dipc_sendh_create(dipc_channel *ch, const struct dipc_handle_attr *attr,
			       dipc_sendh **h);
/** dipc_sendh_open - open the handle for sending. */
DIPC_API int dipc_sendh_open(dipc_sendh *h);
/** dipc_sendh_close - close it; later sends fail with DIPC_ENOTOPEN. */
DIPC_API int dipc_sendh_close(dipc_sendh *h);
/** dipc_sendh_destroy - close if open and free the handle. */
DIPC_API int dipc_sendh_destroy(dipc_sendh *h);

/** dipc_sendh_send - send msg's payload.  With DIPC_COPY_ON_SEND the
 *  payload is copied and msg is untouched; with DIPC_TRANSFER_ON_SEND the
 *  allocation itself travels and msg is left empty.  If dest is not NULL
 *  the payload is copied into dest's allocation and that allocation travels
 *  (dest is left empty).  DIPC_EFULL (try once) or DIPC_ETIMEDOUT. */
DIPC_API int dipc_sendh_send(dipc_sendh *h, dipc_msg *msg, dipc_msg *dest,
			     int ownership, int64_t timeout_ns);

/** dipc_sendh_send_bytes - send a copy of len bytes at buf. */
DIPC_API int dipc_sendh_send_bytes(dipc_sendh *h, const void *buf, size_t len,
				   int64_t timeout_ns);

/** dipc_recvh_create - a receive handle on ch, not yet open. */
DIPC_API int dipc_recvh_create(dipc_channel *ch, const struct dipc_handle_attr *attr,
			       dipc_recvh **h);
/** dipc_recvh_open - open the handle for receiving. */
DIPC_API int dipc_recvh_open(dipc_recvh *h);
/** dipc_recvh_close - close it; later receives fail with DIPC_ENOTOPEN. */
DIPC_API int dipc_recvh_close(dipc_recvh *h);
/** dipc_recvh_destroy - close if open and free the handle. */
DIPC_API int dipc_recvh_destroy(dipc_recvh *h);

/** dipc_recvh_recv - receive the next message into msg.  An empty msg
 *  gets the payload's allocation (in the channel's pool); a msg with an
 *  allocation gets the payload copied in (DIPC_EMSGSIZE, nothing taken,
 *  if it does not fit) and its size set to the payload's.
 *  DIPC_EEMPTY (try once) or DIPC_ETIMEDOUT. */
DIPC_API int dipc_recvh_recv(dipc_recvh *h, dipc_msg *msg, int64_t timeout_ns);

/** dipc_recvh_recv_bytes - copy the next payload into buf and store its
 *  length in *len.  If it is larger than cap, nothing is taken, *len is
 *  set to its size and DIPC_EMSGSIZE returned. */
DIPC_API int dipc_recvh_recv_bytes(dipc_recvh *h, void *buf, size_t cap,
				   size_t *len, int64_t timeout_ns);

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/** dipc_msg_create_empty - a message with no memory behind it. */
DIPC_API int dipc_msg_create_empty(dipc_msg **msg);

/** dipc_msg_create_alloc - a message backed by a new size-byte
 *  allocation from pool. */
DIPC_API int dipc_msg_create_alloc(dipc_pool *pool, size_t size, dipc_msg **msg);

/** dipc_msg_create_from_mem - a message wrapping mem; the message takes
 *  the handle over (do not free or detach mem yourself). */
DIPC_API int dipc_msg_create_from_mem(dipc_mem *mem, dipc_msg **msg);

/** dipc_msg_get - payload pointer and size; empty messages give NULL, 0. */
DIPC_API int dipc_msg_get(const dipc_msg *msg, void **ptr, size_t *size);

/** dipc_msg_mem - the memory handle behind msg (still the message's),
 *  or DIPC_EINVAL if the message is empty. */
DIPC_API int dipc_msg_mem(const dipc_msg *msg, dipc_mem **mem);

/** dipc_msg_destroy - free the message; free_mem non-zero also returns
 *  its allocation to the pool. */
DIPC_API int dipc_msg_destroy(dipc_msg *msg, int free_mem);

/* A message's attributes: two 64-bit words of the program's own that
 * travel with the message (Dragon's hints and clientid).  0 in a new
 * message; dipc_sendh_send carries msg's to the receiver, whose
 * dipc_recvh_recv sets them in its message; dipc_sendh_send_bytes sends
 * zeros and dipc_recvh_recv_bytes drops them. */
#define DIPC_MSG_HINTS    0
#define DIPC_MSG_CLIENTID 1

/** dipc_msg_set_attr - set attribute attr (DIPC_MSG_*) of msg to value. */
DIPC_API int dipc_msg_set_attr(dipc_msg *msg, int attr, uint64_t value);

/** dipc_msg_attr - store attribute attr (DIPC_MSG_*) of msg in *value. */
DIPC_API int dipc_msg_attr(const dipc_msg *msg, int attr, uint64_t *value);

/* ------------------------------------------------------------------ */
/* Byte streams                                                        */
/* ------------------------------------------------------------------ */

#define DIPC_STREAM_READ  0
#define DIPC_STREAM_WRITE 1

/* Called on the listener thread with each chunk as it arrives, in order;
 * a final call with len 0 says the writer closed (or died). */
typedef void (*dipc_stream_cb)(dipc_stream *s, const void *data, size_t len,
			       void *arg);

/** dipc_stream_open - open the named stream as DIPC_STREAM_READ or
 *  DIPC_STREAM_WRITE; the first opener creates it with a ring of size
 *  bytes (later openers' size is ignored).  perm 0 means 0600.
 *  DIPC_EBUSY if the role is taken by a live process. */
DIPC_API int dipc_stream_open(const char *name, int role, size_t size,
			      unsigned perm, dipc_stream **s);

/** dipc_stream_close - give up the role; the last side out removes the
 *  name.  Stops a listener first. */
DIPC_API int dipc_stream_close(dipc_stream *s);

/** dipc_stream_write - copy len bytes into the ring, waiting while it is
 *  full.  Returns the count written: len, or fewer if the wait expired or
 *  the reader went away part-way; DIPC_ETIMEDOUT / DIPC_EPEERCLOSED /
 *  DIPC_EFULL when nothing was written. */
DIPC_API int64_t dipc_stream_write(dipc_stream *s, const void *buf, size_t len,
				   int64_t timeout_ns);

/** dipc_stream_read - with DIPC_TRY_ONCE, take what is there up to len
 *  (0 when empty); otherwise wait until len bytes have arrived.  Returns
 *  the count read; once the writer has closed and the ring is drained,
 *  DIPC_EPEERCLOSED; DIPC_ETIMEDOUT if a wait expired with nothing read.
 *  DIPC_EBUSY while a listener runs. */
DIPC_API int64_t dipc_stream_read(dipc_stream *s, void *buf, size_t len,
				  int64_t timeout_ns);

/** dipc_stream_listen - start a library thread that calls cb with each
 *  chunk as it arrives.  Reader only. */
DIPC_API int dipc_stream_listen(dipc_stream *s, dipc_stream_cb cb, void *arg);

/** dipc_stream_unlisten - stop the listener; no call runs after it
 *  returns.  From inside the callback it stops after that call returns. */
DIPC_API int dipc_stream_unlisten(dipc_stream *s);

/** dipc_stream_status - format the smipc status line into buf.  Returns
 *  its length (as snprintf does). */
DIPC_API int dipc_stream_status(dipc_stream *s, char *buf, size_t len);

/** dipc_stream_print_status - write the status line and a newline to fp. */
DIPC_API int dipc_stream_print_status(dipc_stream *s, FILE *fp);

/** dipc_stream_unlink - remove a stream's name (a stale one, say). */
DIPC_API int dipc_stream_unlink(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DRAGONIPC_H */

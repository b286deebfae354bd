/*
 * dipcpy.h - what the files of the dragonipc._dragonipc extension share.
 *
 * The extension is thin: it owns the C handles, turns DIPC_E* codes into
 * the Python exceptions of dragonipc._errors, and runs every wait with the
 * GIL released in short slices so that signals (Ctrl-C) are seen promptly.
 * The Dragon- and smipc-shaped API is built in Python on top, except for
 * the hot paths (send_bytes, recv_bytes, stream write/read), which stay
 * here so that they cost no Python frames.
 */
#ifndef DIPCPY_H
#define DIPCPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dragonipc.h>
#include <limits.h>
#include <stdint.h>

/* How long one slice of a wait lasts before we look at signals again. */
#define DIPY_SLICE_NS (50 * 1000 * 1000LL)

/* Returned by dipy_wait when a signal handler raised (Python error set). */
#define DIPY_EINTR (-1000)

/* A wait gave up because its object was closed, detached or destroyed by
 * another thread (no Python error set: the caller raises its own). */
#define DIPY_ECLOSED (-1001)

/* ---- errors (module.c) --------------------------------------------------- */

/* Which family of exception a failing call maps to. */
enum dipy_ctx {
	DIPY_CTX_POOL,          /* pool queries, detach, destroy */
	DIPY_CTX_POOL_CREATE,
	DIPY_CTX_POOL_ATTACH,
	DIPY_CTX_MSG_ALLOC,     /* Message.create_alloc: a ChannelError too */
	DIPY_CTX_CHANNEL,       /* create, attach, destroy, poll, handles */
	DIPY_CTX_SEND,
	DIPY_CTX_RECV,
	DIPY_CTX_STREAM,
	DIPY_CTX_POOL_ALLOC,    /* MemoryPool.alloc*: full, timed out */
	DIPY_CTX_MEM,           /* MemoryAlloc operations */
	DIPY_CTX_MEM_ATTACH,    /* MemoryAlloc.attach: a bad descriptor is a TypeError too */
};

/* Set the exception for rc (< 0) in ctx; what says what failed.  Returns
 * NULL so callers can `return dipy_raise(...)`.  DIPY_EINTR leaves the
 * pending error alone. */
PyObject *dipy_raise(enum dipy_ctx ctx, int rc, const char *what);

/* Raise ChannelValueError / DragonPoolError / SmipcError-family with a
 * message and no library code. */
PyObject *dipy_value_error(enum dipy_ctx ctx, const char *fmt, ...);

/* A message size below 0 or past 64 bits: MessageSizeError, both a
 * ChannelValueError and an OverflowError (as Dragon's). */
PyObject *dipy_size_overflow(const char *fmt, ...);

/* Another unsigned 64-bit argument of the channels API below 0 or past 64
 * bits: ChannelOverflowError, a ChannelValueError and an OverflowError. */
PyObject *dipy_channel_overflow(const char *fmt, ...);

/* Give the exception being raised an int attribute name = value (a batch
 * call says how far it got).  If that cannot be done, the exception is
 * raised as it was. */
void dipy_exc_set_int(const char *name, Py_ssize_t value);

/* ---- integer arguments (module.c) ----------------------------------------- */

/* An integer argument in [lo, hi]: TypeError if obj is not an int,
 * ValueError if it is outside, never OverflowError and never a silent
 * wrap-around (the "K" and "I" argument formats wrap).  Returns 0 or -1. */
int dipy_int_arg(PyObject *obj, const char *what, long long lo, long long hi, long long *out);

/* The same for unsigned values up to hi. */
int dipy_uint_arg(PyObject *obj, const char *what, unsigned long long hi,
		  unsigned long long *out);

/* A str argument as UTF-8, refused (ValueError) if it holds a NUL: the C
 * library would see only the part before it. */
const char *dipy_name_arg(PyObject *obj);

/* ---- timeouts and waiting (module.c) ------------------------------------- */

/* Parse a Python timeout: None waits forever, 0 tries once, a positive
 * number is seconds; a negative one raises ValueError.  Returns 0 or -1. */
int dipy_timeout_from_py(PyObject *obj, int64_t *ns);

/* The Dragon handle convention: blocking=False tries once; timeout equal
 * to the handle's default sentinel takes def_ns; otherwise as above. */
int dipy_handle_timeout(PyObject *blocking, PyObject *timeout, PyObject *sentinel,
			int64_t def_ns, int64_t *ns);

/* A blocking operation: attempt once with the given timeout (ns). */
typedef int (*dipy_op)(void *arg, int64_t timeout_ns);

/* Try op once with the GIL held; if it reports busy_rc (full, empty) and
 * timeout allows, wait: call op in slices with the GIL released, checking
 * signals between slices.  Returns op's code, DIPC_ETIMEDOUT when the
 * whole timeout expired, or DIPY_EINTR. */
int dipy_wait(dipy_op op, void *arg, int64_t timeout_ns, int busy_rc);

/* Asked with the GIL held between the slices of a wait: non-zero (a
 * DIPC_E* code or DIPY_ECLOSED) ends the wait with that code, because the
 * object the wait is on was closed, detached or destroyed meanwhile. */
typedef int (*dipy_stop)(void *arg);

/* dipy_wait that also gives up when stop(stop_arg) says so: a close in
 * another thread ends the wait within one slice (DIPY_SLICE_NS). */
int dipy_wait_stop(dipy_op op, void *arg, int64_t timeout_ns, int busy_rc,
		   dipy_stop stop, void *stop_arg);

/* Monotonic nanoseconds. */
int64_t dipy_now_ns(void);

/* This process's id: objects inherited through fork() must not free or
 * close, on collection, what belongs to the parent. */
long dipy_pid(void);

/* Fast-call keyword parsing: fill out[0..n) from args/kwnames by the names
 * in kwlist; missing ones stay as they were.  npos_max limits positionals. */
int dipy_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
	       PyObject *kwnames, const char *const *kwlist, Py_ssize_t n,
	       Py_ssize_t nrequired, PyObject **out);

/* ---- pools (pool.c) --------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	dipc_pool *pool;        /* NULL when never opened or released */
	Py_ssize_t deps;        /* channels, messages and views using the mapping */
	int closed;             /* detach() or destroy() was called */
	int destroyed;
	int creator;
	PyObject *weakreflist;
} PoolObject;

extern PyTypeObject Dipy_PoolType;
/* Borrowed check: a live pool from obj, or NULL with an exception set. */
PoolObject *dipy_pool_arg(PyObject *obj, const char *what);
/* A holder starts/stops using the mapping (takes/drops a reference). */
void dipy_pool_hold(PoolObject *p);
void dipy_pool_release(PoolObject *p);

/* Raw allocations (pool.c): the core of managed_memory.MemoryAlloc. */
extern PyTypeObject Dipy_AllocType;

/* ---- channels (channel.c) ------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	dipc_channel *ch;
	PoolObject *pool;       /* held while ch exists */
	Py_ssize_t deps;        /* send and receive handles */
	int closed;
	int destroyed;
	int creator;
	int block_size;
	PyObject *serial;       /* cached descriptor, kept across detach */
	PyObject *weakreflist;
} ChannelObject;

extern PyTypeObject Dipy_ChannelType;
ChannelObject *dipy_channel_arg(PyObject *obj);
void dipy_channel_hold(ChannelObject *c);
void dipy_channel_release(ChannelObject *c);

/* ---- messages (message.c) ------------------------------------------------ */

struct dipy_orphan;

typedef struct {
	PyObject_HEAD
	dipc_msg *msg;          /* NULL once destroyed */
	PoolObject *pool;       /* the pool of msg's memory, held; NULL if empty */
	Py_ssize_t exports;     /* live buffer views */
	struct dipy_orphan *orphans; /* allocations kept alive for views */
	int busy;               /* in a wait with the GIL released */
	long owner;             /* process whose allocation it is (see msg_dealloc) */
	int borrowed;           /* the memory is a MemoryAlloc's (create_from_mem) */
	PyObject *weakreflist;
} MessageObject;

extern PyTypeObject Dipy_MessageType;
/* A new Message owning msg, whose memory (if any) lives in pool. */
PyObject *dipy_message_new(dipc_msg *msg, PoolObject *pool);
/* Check a Message argument: live and not in use elsewhere. */
MessageObject *dipy_message_arg(PyObject *obj, const char *what);
/* msg's memory left it (it travelled): drop the pool hold. */
void dipy_message_emptied(MessageObject *m);
/* msg gained memory in pool (received into an empty message). */
void dipy_message_filled(MessageObject *m, PoolObject *pool);
/* Take msg's memory away from it, keeping the allocation alive for live
 * views when there are any (freed when the last view goes if free_mem),
 * and leave the message empty.  Returns 0 or a DIPC_E* code. */
int dipy_message_drop_memory(MessageObject *m, int free_mem);
int dipy_message_has_mem(MessageObject *m);

/* ---- handles (handles.c), streams (stream.c) ------------------------------- */

extern PyTypeObject Dipy_SendHType;
extern PyTypeObject Dipy_RecvHType;
int dipy_handles_init(PyObject *module);

extern PyTypeObject Dipy_StreamType;
int dipy_stream_init(PyObject *module);

/* ---- barriers and channel sets (chanset.c) ---------------------------------- */

extern PyTypeObject Dipy_ChannelSetType;
int dipy_chanset_init(PyObject *module);

#endif

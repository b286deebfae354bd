/*
 * handles.c - ChannelSendH and ChannelRecvH, with the hot paths
 * (send_bytes, recv_bytes) done here without Python frames.
 *
 * Timeouts follow the Dragon handle convention (see dipy_handle_timeout).
 * Every wait first tries once with the GIL held; only a wait that must
 * block releases the GIL, in slices, looking at signals in between.
 *
 * Closing under a waiting call follows the rule of stream.c: nothing a
 * waiting call uses is freed under it (the call holds the handle, the
 * handle holds its channel, a message being sent or received into is
 * marked busy and refuses destroy()), and a close() of the handle in
 * another thread ends the wait at the next slice with
 * ChannelHandleNotOpenError.  Destroying the channel wakes the waiters,
 * which raise ChannelDestroyed.
 */
#include "dipcpy.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	PyObject_HEAD
	dipc_sendh *h;
	ChannelObject *ch;
	int64_t def_timeout;
	int wait_mode;
	int is_open;
	PyObject *weakreflist;
} SendHObject;

typedef struct {
	PyObject_HEAD
	dipc_recvh *h;
	ChannelObject *ch;
	int64_t def_timeout;
	int wait_mode;
	int is_open;
	PyObject *weakreflist;
} RecvHObject;

static PyObject *send_sentinel, *recv_sentinel;
/* Raised on pickling a handle: Dragon raises NotImplementedError, Python
 * code expects a TypeError of what cannot be pickled; it is both. */
static PyObject *no_pickle_error;

/* ---- shared pieces -------------------------------------------------------- */

/* The handle was closed (close() or __exit__ in another thread, or a
 * signal handler) while a send or receive on it waited.  The handle object
 * itself cannot go (the call holds it), nor its channel (the handle holds
 * that): only the wait ends, within one slice. */
static int handle_shut(void *arg)
{
	const int *is_open = arg;
	return *is_open ? 0 : DIPC_ENOTOPEN;
}

/* Wait modes are numbered as Dragon numbers them (dragonipc.dtypes):
 * IDLE_WAIT 0, SPIN_WAIT 1, ADAPTIVE_WAIT 2.  The library numbers them
 * otherwise; this is the one place that translates. */
#define DRAGON_IDLE_WAIT 0
#define DRAGON_SPIN_WAIT 1
#define DRAGON_ADAPTIVE_WAIT 2

static int core_wait_mode(int dragon_mode)
{
	switch (dragon_mode) {
	case DRAGON_IDLE_WAIT:
		return DIPC_WAIT_IDLE;
	case DRAGON_SPIN_WAIT:
		return DIPC_WAIT_SPIN;
	default:
		return DIPC_WAIT_ADAPTIVE;
	}
}

/* *mode is the Dragon number (kept for the wait_mode attribute). */
static int parse_handle_args(PyObject *wait_obj, PyObject *timeout_obj, int *mode, int64_t *t)
{
	*mode = DRAGON_ADAPTIVE_WAIT;
	if (wait_obj && wait_obj != Py_None) {
		long long v;
		if (dipy_int_arg(wait_obj, "wait_mode", LLONG_MIN, LLONG_MAX, &v) < 0)
			return -1;
		if (v < DRAGON_IDLE_WAIT || v > DRAGON_ADAPTIVE_WAIT) {
			dipy_value_error(DIPY_CTX_CHANNEL,
					 "wait_mode must be SPIN_WAIT, IDLE_WAIT or ADAPTIVE_WAIT, not %lld", v);
			return -1;
		}
		*mode = (int)v;
	}
	*t = DIPC_WAIT_FOREVER;
	if (timeout_obj && dipy_timeout_from_py(timeout_obj, t) < 0)
		return -1;
	return 0;
}

static PyObject *timeout_to_py(int64_t t)
{
	if (t == DIPC_WAIT_FOREVER)
		Py_RETURN_NONE;
	return PyFloat_FromDouble((double)t / 1e9);
}

/* What's left of a timeout that began at start (for retries). */
static int64_t time_left(int64_t t, int64_t start)
{
	if (t <= 0)
		return t;
	int64_t left = start + t - dipy_now_ns();
	return left > 0 ? left : DIPC_TRY_ONCE;
}

/* return_mode and notification_type: None, or a number from 0 to hi
 * (dtypes.ReturnWhen, dtypes.RecvNotifType); anything else is a
 * ValueError, as in Dragon.  What they mean here is in dtypes.py. */
static int check_enum_arg(PyObject *obj, const char *what, long long hi)
{
	if (!obj || obj == Py_None)
		return 0;
	long long v;
	if (!PyLong_Check(obj) || dipy_int_arg(obj, what, LLONG_MIN, LLONG_MAX, &v) < 0 ||
	    v < 0 || v > hi) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s must be one of the dragonipc.dtypes constants, not %R",
			     what, obj);
		return -1;
	}
	return 0;
}

/* Handles do not travel: pickle the channel and make a handle there. */
static PyObject *handle_getstate(PyObject *self, PyObject *noarg)
{
	(void)noarg;
	PyErr_Format(no_pickle_error,
		     "a %.100s cannot be pickled: pickle its channel and make a new handle",
		     Py_TYPE(self)->tp_name);
	return NULL;
}

static PyObject *handle_setstate(PyObject *self, PyObject *state)
{
	(void)state;
	return handle_getstate(self, NULL);
}

static int message_size(MessageObject *m, void **ptr, size_t *size, size_t *cap)
{
	*ptr = NULL;
	*size = 0;
	*cap = 0;
	int rc = dipc_msg_get(m->msg, ptr, size);
	dipc_mem *mem;
	if (rc == 0 && dipc_msg_mem(m->msg, &mem) == 0)
		rc = dipc_mem_get(mem, NULL, cap);
	return rc;
}

/* ---- the send handle ---------------------------------------------------------- */

static int sendh_init(SendHObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "ch", "return_mode", "wait_mode", "timeout", NULL };
	PyObject *ch_obj, *ret = NULL, *wait = NULL, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO:ChannelSendH", (char **)kwlist, &ch_obj, &ret,
					 &wait, &timeout))
		return -1;
	if (self->h) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the handle is already initialised");
		return -1;
	}
	ChannelObject *ch = dipy_channel_arg(ch_obj);
	if (!ch)
		return -1;
	struct dipc_handle_attr attr;
	dipc_handle_attr_init(&attr);
	if (parse_handle_args(wait, timeout, &self->wait_mode, &self->def_timeout) < 0)
		return -1;
	if (check_enum_arg(ret, "return_mode", 3) < 0)
		return -1;
	attr.wait_mode = core_wait_mode(self->wait_mode);
	attr.default_timeout = self->def_timeout;
	int rc = dipc_sendh_create(ch->ch, &attr, &self->h);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create the send handle");
		return -1;
	}
	dipy_channel_hold(ch);
	self->ch = ch;
	return 0;
}

static void sendh_dealloc(SendHObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->h)
		dipc_sendh_destroy(self->h);
	if (self->ch)
		dipy_channel_release(self->ch);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int sendh_ready(SendHObject *self)
{
	if (!self->h) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the send handle was not initialised");
		return -1;
	}
	return 0;
}

static PyObject *sendh_open(SendHObject *self, PyObject *noarg)
{
	(void)noarg;
	if (sendh_ready(self) < 0)
		return NULL;
	int rc = dipc_sendh_open(self->h);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not open the send handle");
	self->is_open = 1;
	Py_RETURN_NONE;
}

static PyObject *sendh_close(SendHObject *self, PyObject *noarg)
{
	(void)noarg;
	if (sendh_ready(self) < 0)
		return NULL;
	int rc = dipc_sendh_close(self->h);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not close the send handle");
	self->is_open = 0;
	Py_RETURN_NONE;
}

static PyObject *sendh_enter(SendHObject *self, PyObject *noarg)
{
	PyObject *r = sendh_open(self, noarg);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *sendh_exit(SendHObject *self, PyObject *args)
{
	(void)args;
	if (self->h && self->is_open) {
		dipc_sendh_close(self->h);
		self->is_open = 0;
	}
	Py_RETURN_FALSE;
}

struct send_op {
	dipc_sendh *h;
	dipc_msg *msg, *dest;
	int own;
};

struct bytes_op {
	dipc_sendh *h;
	const void *buf;
	size_t len;
};

static int send_msg_once(void *arg, int64_t t)
{
	struct send_op *op = arg;
	return dipc_sendh_send(op->h, op->msg, op->dest, op->own, t);
}

static int send_bytes_once(void *arg, int64_t t)
{
	struct bytes_op *op = arg;
	return dipc_sendh_send_bytes(op->h, op->buf, op->len, t);
}

struct alloc_op {
	dipc_pool *pool;
	size_t len;
	dipc_mem *mem;
};

static int alloc_once(void *arg, int64_t t)
{
	struct alloc_op *op = arg;
	return dipc_pool_alloc_wait(op->pool, op->len, t, &op->mem);
}

/* Allocate room for len bytes in the channel's pool, fill it from buf
 * and send it by transfer of ownership, waiting as t says for room in
 * the pool, then in the channel: the payload is copied once however long
 * the wait, and a send that fails leaves nothing behind. */
static __attribute__((noinline)) int send_alloc(SendHObject *self, const void *buf, size_t len,
					       int64_t t)
{
	if (!self->is_open)
		return DIPC_ENOTOPEN;
	int64_t start = dipy_now_ns();
	struct alloc_op aop = { .len = len };
	int rc = dipc_channel_pool(self->ch->ch, &aop.pool);
	if (rc == 0)
		rc = dipy_wait_stop(alloc_once, &aop, t, DIPC_ENOSPC, handle_shut, &self->is_open);
	if (rc < 0)
		return rc;
	dipc_msg *msg;
	void *dst;
	rc = dipc_msg_create_from_mem(aop.mem, &msg);
	if (rc < 0) {
		dipc_mem_free(aop.mem);
		return rc;
	}
	dipc_msg_get(msg, &dst, NULL);
	memcpy(dst, buf, len);
	struct send_op op = { .h = self->h, .msg = msg, .own = DIPC_TRANSFER_ON_SEND };
	rc = dipy_wait_stop(send_msg_once, &op, time_left(t, start), DIPC_EFULL, handle_shut,
			    &self->is_open);
	/* Sent, the message is empty and only its handle goes; not sent,
	 * its allocation goes back to the pool with it. */
	dipc_msg_destroy(msg, rc < 0);
	return rc;
}

/*
 * Send a copy of len bytes at buf, waiting as t says.  The payload is
 * copied once, however long the wait.
 *
 * A payload that fits a block is copied into the channel's slot once the
 * send holds the slot: an attempt that finds the channel full has copied
 * nothing, and dipy_wait_stop may make as many as it likes.  A larger one
 * travels in a pool allocation, which dipc_sendh_send_bytes makes and
 * fills before it looks for a slot, anew on each attempt: dipy_wait_stop's
 * try-once attempt (with the GIL held) and each slice of its wait would
 * copy the whole payload again.  So a blocking send of such a payload
 * tries once only if the channel does not look full (its count), and
 * otherwise, or if that attempt found no room in the channel or the pool,
 * waits in send_alloc, which copies once and retries only the transfer.
 * send_alloc costs about 700 instructions more than a send that needs no
 * wait (two handles made and freed, the block's owner claimed): nothing
 * next to a wait, more than a copy of 6 KiB.  A send that loses the race
 * for the last slot between the look and its attempt copies twice.
 */
static inline __attribute__((always_inline)) int send_copy(SendHObject *self, const void *buf,
							  size_t len, int64_t t)
{
	struct bytes_op op = { .h = self->h, .buf = buf, .len = len };
	if (__builtin_expect(len <= (size_t)self->ch->block_size, 1) || t == DIPC_TRY_ONCE)
		return dipy_wait_stop(send_bytes_once, &op, t, DIPC_EFULL, handle_shut,
				      &self->is_open);
	dipc_channel *ch = self->ch->ch;
	/* A pool that rounds allocations up to powers of two (a small one
	 * shaped as Dragon's) would give send_alloc a larger block than the
	 * library takes for the same payload, and a hole the library could
	 * use might not fit it: there the library's own send waits, and a
	 * payload of such a pool (1 MiB at most) is copied once per slice. */
	dipc_pool *pool;
	struct dipc_pool_attr pa;
	if (dipc_channel_pool(ch, &pool) == 0 && dipc_pool_get_attr(pool, &pa) == 0 &&
	    (pa.flags & DIPC_POOL_POW2))
		return dipy_wait_stop(send_bytes_once, &op, t, DIPC_EFULL, handle_shut,
				      &self->is_open);
	if (dipc_channel_count(ch) < dipc_channel_capacity(ch)) {
		int rc = send_bytes_once(&op, DIPC_TRY_ONCE);
		if (rc != DIPC_EFULL && rc != DIPC_ENOSPC)
			return rc;
	}
	return send_alloc(self, buf, len, t);
}

/* Send a copy of m's payload (len bytes at buf, which hold the same bytes)
 * with m's attributes (hints, clientid).  Without attributes it is a copy
 * of bytes like any other; with them, the library copies the message
 * itself, which carries them. */
static int send_msg_copy(SendHObject *self, MessageObject *m, const void *buf, size_t len,
			 int64_t t)
{
	uint64_t hints = 0, clientid = 0;
	dipc_msg_attr(m->msg, DIPC_MSG_HINTS, &hints);
	dipc_msg_attr(m->msg, DIPC_MSG_CLIENTID, &clientid);
	if (!hints && !clientid)
		return send_copy(self, buf, len, t);
	struct send_op op = { .h = self->h, .msg = m->msg, .own = DIPC_COPY_ON_SEND };
	return dipy_wait_stop(send_msg_once, &op, t, DIPC_EFULL, handle_shut, &self->is_open);
}

/* The payload of msg is to end up in dest's allocation, which travels,
 * but that cannot be done without a copy (dest has live views, or lives
 * in another pool): copy into dest, send a copy, and let dest's memory go
 * as if it had travelled. */
static int send_via_dest_copy(SendHObject *self, MessageObject *m, MessageObject *d, int64_t t)
{
	void *src, *dst;
	size_t len, dlen, dcap, mcap;
	int rc = message_size(m, &src, &len, &mcap);
	if (rc == 0)
		rc = message_size(d, &dst, &dlen, &dcap);
	if (rc < 0)
		return rc;
	if (dcap < len)
		return DIPC_EMSGSIZE;
	if (len)
		memmove(dst, src, len);
	m->busy++;
	d->busy++;
	rc = send_msg_copy(self, m, dst, len, t);
	m->busy--;
	d->busy--;
	if (rc < 0)
		return rc;
	return dipy_message_drop_memory(d, 1);
}

static PyObject *sendh_send(SendHObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames)
{
	static const char *const kwlist[] = { "msg", "dest_msg", "ownership", "blocking", "timeout" };
	PyObject *a[5] = { NULL, NULL, NULL, NULL, NULL };
	if (dipy_parse("send", args, nargs, kwnames, kwlist, 5, 1, a) < 0)
		return NULL;
	if (sendh_ready(self) < 0)
		return NULL;
	MessageObject *m = dipy_message_arg(a[0], "msg");
	if (!m)
		return NULL;
	MessageObject *d = NULL;
	if (a[1] && a[1] != Py_None) {
		d = dipy_message_arg(a[1], "dest_msg");
		if (!d)
			return NULL;
		if (d == m)
			return dipy_value_error(DIPY_CTX_SEND, "dest_msg must not be msg itself");
		if (!dipy_message_has_mem(d))
			return dipy_value_error(DIPY_CTX_SEND,
						"dest_msg has no memory (make it with create_alloc)");
	}
	int own = DIPC_COPY_ON_SEND;
	if (a[2]) {
		long long v;
		if (dipy_int_arg(a[2], "ownership", LLONG_MIN, LLONG_MAX, &v) < 0)
			return NULL;
		if (v != DIPC_COPY_ON_SEND && v != DIPC_TRANSFER_ON_SEND)
			return dipy_value_error(DIPY_CTX_SEND, "ownership must be an OwnershipOnSend, not %lld", v);
		own = (int)v;
	}
	int64_t t;
	if (dipy_handle_timeout(a[3], a[4], send_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	if (own == DIPC_TRANSFER_ON_SEND && !d && !dipy_message_has_mem(m))
		return dipy_value_error(DIPY_CTX_SEND, "an empty message has no memory to transfer");

	int rc;
	if (d || own == DIPC_TRANSFER_ON_SEND) {
		MessageObject *traveller = d ? d : m;
		rc = DIPC_EINVAL;
		{
			/* Zero copy: the allocation itself travels, views or
			 * not (see message.c for what the views show then). */
			struct send_op op = { .h = self->h, .msg = m->msg, .dest = d ? d->msg : NULL,
					      .own = own };
			m->busy++;
			if (d)
				d->busy++;
			rc = dipy_wait_stop(send_msg_once, &op, t, DIPC_EFULL, handle_shut,
					    &self->is_open);
			m->busy--;
			if (d)
				d->busy--;
			if (rc == 0)
				dipy_message_emptied(traveller);
		}
		/* EINVAL here means the memory is not in the channel's pool (the
		 * arguments were checked above). */
		if (rc == DIPC_EINVAL) {
			if (d) {
				rc = send_via_dest_copy(self, m, d, t);
			} else {
				void *src;
				size_t len, cap;
				rc = message_size(m, &src, &len, &cap);
				if (rc == 0) {
					m->busy++;
					rc = send_msg_copy(self, m, src, len, t);
					m->busy--;
				}
				if (rc == 0)
					rc = dipy_message_drop_memory(m, 1);
			}
		}
	} else {
		void *src;
		size_t len, cap;
		rc = message_size(m, &src, &len, &cap);
		if (rc == 0) {
			m->busy++;
			rc = send_msg_copy(self, m, src, len, t);
			m->busy--;
		}
	}
	if (rc < 0)
		return dipy_raise(DIPY_CTX_SEND, rc, "could not send the message");
	Py_RETURN_NONE;
}

static PyObject *sendh_send_bytes(SendHObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	static const char *const kwlist[] = { "msg_bytes", "msg_len", "blocking", "timeout", "dest_msg" };
	PyObject *a[5] = { NULL, NULL, NULL, NULL, NULL };
	if (dipy_parse("send_bytes", args, nargs, kwnames, kwlist, 5, 1, a) < 0)
		return NULL;
	if (sendh_ready(self) < 0)
		return NULL;
	Py_buffer buf;
	if (PyObject_GetBuffer(a[0], &buf, PyBUF_SIMPLE) < 0)
		return NULL;
	PyObject *result = NULL;
	size_t len = (size_t)buf.len;
	if (a[1] && a[1] != Py_None) {
		long long n;
		if (dipy_int_arg(a[1], "msg_len", LLONG_MIN, LLONG_MAX, &n) < 0)
			goto out;
		/* 0 means the whole buffer (as in Dragon); a negative length
		 * used to mean that too, silently. */
		if (n < 0) {
			dipy_value_error(DIPY_CTX_SEND, "msg_len must not be negative, not %lld", n);
			goto out;
		}
		if (n > buf.len) {
			dipy_value_error(DIPY_CTX_SEND, "msg_len %lld is larger than msg_bytes (%zd bytes)",
					 n, buf.len);
			goto out;
		}
		if (n > 0)
			len = (size_t)n;
	}
	int64_t t;
	if (dipy_handle_timeout(a[2], a[3], send_sentinel, self->def_timeout, &t) < 0)
		goto out;
	int rc;
	if (a[4] && a[4] != Py_None) {
		MessageObject *d = dipy_message_arg(a[4], "dest_msg");
		if (!d)
			goto out;
		void *dst;
		size_t dlen, dcap;
		rc = message_size(d, &dst, &dlen, &dcap);
		if (rc == 0 && !dipy_message_has_mem(d)) {
			dipy_value_error(DIPY_CTX_SEND, "dest_msg has no memory (make it with create_alloc)");
			goto out;
		}
		if (rc == 0 && dcap < len)
			rc = DIPC_EMSGSIZE;
		if (rc == 0) {
			memcpy(dst, buf.buf, len);
			d->busy++;
			rc = send_copy(self, dst, len, t);
			d->busy--;
		}
		if (rc == 0)
			rc = dipy_message_drop_memory(d, 1);
	} else {
		rc = send_copy(self, buf.buf, len, t);
	}
	if (rc < 0) {
		dipy_raise(DIPY_CTX_SEND, rc, "could not send the bytes");
		goto out;
	}
	Py_INCREF(Py_None);
	result = Py_None;
out:
	PyBuffer_Release(&buf);
	return result;
}

/*
 * send_bytes_many: a send_bytes for each payload of an iterable, in order,
 * in one call.  Every payload is checked (and its buffer held, so that no
 * other thread can resize it during a wait) before the first is sent: bad
 * input raises with nothing sent.  The timeout is for the whole call: each
 * payload is tried once with the GIL held, and only one that finds no room
 * waits, in send_copy, for what is left of the time.  Once that time is
 * spent, a payload that finds room still goes, and the first that does not
 * ends the call with ChannelSendTimeout.  The first failure ends the call:
 * the payloads before it are in the channel, it and those after it were
 * not sent, and the exception (whatever it is, a KeyboardInterrupt from a
 * wait included) carries their number as `sent`.
 */
static PyObject *sendh_send_bytes_many(SendHObject *self, PyObject *const *args, Py_ssize_t nargs,
				       PyObject *kwnames)
{
	static const char *const kwlist[] = { "msgs", "blocking", "timeout" };
	PyObject *a[3] = { NULL, NULL, NULL };
	if (dipy_parse("send_bytes_many", args, nargs, kwnames, kwlist, 3, 1, a) < 0)
		return NULL;
	if (sendh_ready(self) < 0)
		return NULL;
	int64_t t;
	if (dipy_handle_timeout(a[1], a[2], send_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	/* bytes is an iterable of ints, str one of str: either is a mistake
	 * for a list holding one payload. */
	if (PyObject_CheckBuffer(a[0]) || PyUnicode_Check(a[0])) {
		PyErr_Format(PyExc_TypeError,
			     "msgs must be an iterable of bytes-like objects, not a single %.100s "
			     "(send_bytes() sends one)", Py_TYPE(a[0])->tp_name);
		return NULL;
	}
	/* A tuple of our own: the caller's list may change under us. */
	PyObject *seq = PySequence_Tuple(a[0]);
	if (!seq) {
		if (PyErr_ExceptionMatches(PyExc_TypeError) && !Py_TYPE(a[0])->tp_iter &&
		    !PySequence_Check(a[0])) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
				     "msgs must be an iterable of bytes-like objects, not %.100s",
				     Py_TYPE(a[0])->tp_name);
		}
		return NULL;
	}
	Py_ssize_t n = PyTuple_GET_SIZE(seq), held = 0, sent = 0;
	PyObject *result = NULL;
	Py_buffer *bufs = PyMem_New(Py_buffer, n > 0 ? n : 1);
	if (!bufs) {
		PyErr_NoMemory();
		goto out;
	}
	for (; held < n; held++) {
		PyObject *item = PyTuple_GET_ITEM(seq, held);
		if (PyObject_GetBuffer(item, &bufs[held], PyBUF_SIMPLE) < 0) {
			if (PyErr_ExceptionMatches(PyExc_TypeError) ||
			    PyErr_ExceptionMatches(PyExc_BufferError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_TypeError,
					     "msgs[%zd] must be a contiguous bytes-like object, not %.100s "
					     "(nothing was sent)", held, Py_TYPE(item)->tp_name);
			}
			goto out;
		}
	}
	int64_t start = t > 0 ? dipy_now_ns() : 0;
	size_t block = (size_t)self->ch->block_size;
	int rc = 0;
	for (; sent < n; sent++) {
		const void *p = bufs[sent].buf;
		size_t len = (size_t)bufs[sent].len;
		if (__builtin_expect(len <= block, 1)) {
			/* The common case: room in the channel, no clock read. */
			rc = dipc_sendh_send_bytes(self->h, p, len, DIPC_TRY_ONCE);
			if (__builtin_expect(rc == 0, 1))
				continue;
			if ((rc != DIPC_EFULL && rc != DIPC_ENOSPC) || t == DIPC_TRY_ONCE)
				break;
		}
		rc = send_copy(self, p, len, time_left(t, start));
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		/* A payload tried once because the call's time was spent. */
		if (t != DIPC_TRY_ONCE && (rc == DIPC_EFULL || rc == DIPC_ENOSPC))
			rc = DIPC_ETIMEDOUT;
		/* Python's formatting: MinGW's printf may not know %zd. */
		PyObject *what = rc == DIPY_EINTR ? NULL :
			PyUnicode_FromFormat("could not send msgs[%zd] (%zd of %zd sent)", sent, sent, n);
		if (what || rc == DIPY_EINTR)
			dipy_raise(DIPY_CTX_SEND, rc, what ? PyUnicode_AsUTF8(what) : "");
		Py_XDECREF(what);
		dipy_exc_set_int("sent", sent);
		goto out;
	}
	result = PyLong_FromSsize_t(n);
out:
	for (Py_ssize_t i = 0; i < held; i++)
		PyBuffer_Release(&bufs[i]);
	PyMem_Free(bufs);
	Py_DECREF(seq);
	return result;
}

static PyObject *sendh_get_open(SendHObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->is_open);
}

static PyObject *sendh_get_timeout(SendHObject *self, void *closure)
{
	(void)closure;
	return timeout_to_py(self->def_timeout);
}

static PyObject *sendh_get_wait_mode(SendHObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(self->wait_mode);
}

static PyMethodDef sendh_methods[] = {
	{ "open", (PyCFunction)sendh_open, METH_NOARGS,
	  "open()\n\nOpen the handle for sending.  Raises ChannelDestroyed if the channel is gone." },
	{ "close", (PyCFunction)sendh_close, METH_NOARGS,
	  "close()\n\nClose the handle; raises ChannelHandleNotOpenError if it is not open." },
	{ "__enter__", (PyCFunction)sendh_enter, METH_NOARGS, "Open the handle and return it." },
	{ "__exit__", (PyCFunction)sendh_exit, METH_VARARGS, "Close the handle if it is open." },
	{ "__getstate__", (PyCFunction)handle_getstate, METH_NOARGS,
	  "Raises NotImplementedError: handles are not pickled (pickle the channel)." },
	{ "__setstate__", (PyCFunction)handle_setstate, METH_O,
	  "Raises NotImplementedError: handles are not pickled (pickle the channel)." },
	{ "send", (PyCFunction)(void (*)(void))sendh_send, METH_FASTCALL | METH_KEYWORDS,
	  "send(msg, dest_msg=None, ownership=copy_on_send, blocking=True,\n"
	  "     timeout=USE_CHANNEL_SENDH_DEFAULT)\n\n"
	  "Send msg's payload.  copy_on_send copies it and leaves msg as it was;\n"
	  "transfer_ownership_on_send hands msg's allocation over without a copy\n"
	  "and leaves msg empty.  With dest_msg, the payload is copied into\n"
	  "dest_msg's allocation, which travels (dest_msg is left empty).\n\n"
	  "Timeouts: the default uses the handle's (block forever unless set when\n"
	  "the handle was made); None blocks forever; 0 or blocking=False tries\n"
	  "once; a positive number waits at most that many seconds; a negative one\n"
	  "raises ValueError.\n\n"
	  "Raises ChannelFull (tried once), ChannelSendTimeout, ChannelDestroyed,\n"
	  "ChannelHandleNotOpenError, ChannelValueError or ChannelSendError." },
	{ "send_bytes", (PyCFunction)(void (*)(void))sendh_send_bytes, METH_FASTCALL | METH_KEYWORDS,
	  "send_bytes(msg_bytes, msg_len=0, blocking=True,\n"
	  "           timeout=USE_CHANNEL_SENDH_DEFAULT, dest_msg=None)\n\n"
	  "Send a copy of the first msg_len bytes of any bytes-like object (all of\n"
	  "it when msg_len is 0).  Timeouts and errors as for send().  A payload\n"
	  "larger than the channel's block travels in an allocation from the\n"
	  "channel's pool: a blocking send waits for room there too, within the\n"
	  "same timeout, and copies the payload once however long it waits." },
	{ "send_bytes_many", (PyCFunction)(void (*)(void))sendh_send_bytes_many,
	  METH_FASTCALL | METH_KEYWORDS,
	  "send_bytes_many(msgs, blocking=True, timeout=USE_CHANNEL_SENDH_DEFAULT) -> int\n\n"
	  "Send a copy of each bytes-like object of the iterable msgs, in order, as\n"
	  "one message each, and return how many were sent (all of them).  Each is\n"
	  "sent as send_bytes() sends it, in one call: the per-message work is done\n"
	  "in C.  blocking and timeout as for send(), the timeout counting for the\n"
	  "whole call: a message that finds the channel full waits for what is left\n"
	  "of it.\n\n"
	  "Every item is checked before anything is sent: one that is not a\n"
	  "contiguous bytes-like object raises TypeError, and nothing is sent.\n"
	  "The first message that cannot be sent ends the call with the exception\n"
	  "send_bytes() raises for it (ChannelFull when tried once,\n"
	  "ChannelSendTimeout, ChannelDestroyed, ...; also KeyboardInterrupt in a\n"
	  "wait), whose attribute sent says how many messages, from the first,\n"
	  "are in the channel: msgs[sent] is the one that failed, and none after\n"
	  "it was tried.  No message is sent twice or skipped." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef sendh_getset[] = {
	{ "is_open", (getter)sendh_get_open, NULL, "True while the handle is open.", NULL },
	{ "default_timeout", (getter)sendh_get_timeout, NULL,
	  "The handle's default timeout in seconds (None: block forever).", NULL },
	{ "wait_mode", (getter)sendh_get_wait_mode, NULL, "How the handle waits (a WaitMode).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_SendHType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc.channels.ChannelSendH",
	.tp_basicsize = sizeof(SendHObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "ChannelSendH(ch, return_mode=WHEN_BUFFERED, wait_mode=ADAPTIVE_WAIT, timeout=None)\n\n"
		  "A handle for sending into a channel; Channel.sendh() makes one.  It is\n"
		  "returned unopened: call open() or use it in a with statement.\n"
		  "wait_mode (a dragonipc.dtypes.WaitMode) says how blocked sends wait;\n"
		  "timeout is the default timeout in seconds (None: block forever).\n"
		  "return_mode (a dtypes.ReturnWhen) is checked: every send returns once\n"
		  "the message is in the channel (see dragonipc.dtypes).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)sendh_init,
	.tp_dealloc = (destructor)sendh_dealloc,
	.tp_methods = sendh_methods,
	.tp_getset = sendh_getset,
	.tp_weaklistoffset = offsetof(SendHObject, weakreflist),
};

/* ---- the receive handle ---------------------------------------------------------- */

static int recvh_init(RecvHObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "ch", "notification_type", "signal", "wait_mode", "timeout", NULL };
	PyObject *ch_obj, *notif = NULL, *sig = NULL, *wait = NULL, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOO:ChannelRecvH", (char **)kwlist, &ch_obj, &notif,
					 &sig, &wait, &timeout))
		return -1;
	if (self->h) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the handle is already initialised");
		return -1;
	}
	ChannelObject *ch = dipy_channel_arg(ch_obj);
	if (!ch)
		return -1;
	struct dipc_handle_attr attr;
	dipc_handle_attr_init(&attr);
	if (parse_handle_args(wait, timeout, &self->wait_mode, &self->def_timeout) < 0)
		return -1;
	if (check_enum_arg(notif, "notification_type", 1) < 0)
		return -1;
	if (sig && sig != Py_None && !PyLong_Check(sig)) {
		PyErr_Format(PyExc_ValueError, "signal must be an int or None, not %.100s",
			     Py_TYPE(sig)->tp_name);
		return -1;
	}
	attr.wait_mode = core_wait_mode(self->wait_mode);
	attr.default_timeout = self->def_timeout;
	int rc = dipc_recvh_create(ch->ch, &attr, &self->h);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create the receive handle");
		return -1;
	}
	dipy_channel_hold(ch);
	self->ch = ch;
	return 0;
}

static void recvh_dealloc(RecvHObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->h)
		dipc_recvh_destroy(self->h);
	if (self->ch)
		dipy_channel_release(self->ch);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int recvh_ready(RecvHObject *self)
{
	if (!self->h) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the receive handle was not initialised");
		return -1;
	}
	return 0;
}

static PyObject *recvh_open(RecvHObject *self, PyObject *noarg)
{
	(void)noarg;
	if (recvh_ready(self) < 0)
		return NULL;
	int rc = dipc_recvh_open(self->h);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not open the receive handle");
	self->is_open = 1;
	Py_RETURN_NONE;
}

static PyObject *recvh_close(RecvHObject *self, PyObject *noarg)
{
	(void)noarg;
	if (recvh_ready(self) < 0)
		return NULL;
	int rc = dipc_recvh_close(self->h);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not close the receive handle");
	self->is_open = 0;
	Py_RETURN_NONE;
}

static PyObject *recvh_enter(RecvHObject *self, PyObject *noarg)
{
	PyObject *r = recvh_open(self, noarg);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *recvh_exit(RecvHObject *self, PyObject *args)
{
	(void)args;
	if (self->h && self->is_open) {
		dipc_recvh_close(self->h);
		self->is_open = 0;
	}
	Py_RETURN_FALSE;
}

struct recv_op {
	dipc_recvh *h;
	dipc_msg *msg;
	void *buf;
	size_t cap, len;
};

static int recv_msg_once(void *arg, int64_t t)
{
	struct recv_op *op = arg;
	return dipc_recvh_recv(op->h, op->msg, t);
}

static int recv_bytes_once(void *arg, int64_t t)
{
	struct recv_op *op = arg;
	return dipc_recvh_recv_bytes(op->h, op->buf, op->cap, &op->len, t);
}

static PyObject *recvh_recv(RecvHObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames)
{
	static const char *const kwlist[] = { "dest_msg", "blocking", "timeout" };
	PyObject *a[3] = { NULL, NULL, NULL };
	if (dipy_parse("recv", args, nargs, kwnames, kwlist, 3, 0, a) < 0)
		return NULL;
	if (recvh_ready(self) < 0)
		return NULL;
	int64_t t;
	if (dipy_handle_timeout(a[1], a[2], recv_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	struct recv_op op = { .h = self->h };
	int rc;
	if (!a[0] || a[0] == Py_None) {
		rc = dipc_msg_create_empty(&op.msg);
		if (rc == 0)
			rc = dipy_wait_stop(recv_msg_once, &op, t, DIPC_EEMPTY, handle_shut,
					    &self->is_open);
		if (rc < 0) {
			if (op.msg)
				dipc_msg_destroy(op.msg, 1);
			return dipy_raise(DIPY_CTX_RECV, rc, "could not receive a message");
		}
		return dipy_message_new(op.msg, self->ch->pool);
	}
	MessageObject *d = dipy_message_arg(a[0], "dest_msg");
	if (!d)
		return NULL;
	int had_mem = dipy_message_has_mem(d);
	op.msg = d->msg;
	d->busy++;
	rc = dipy_wait_stop(recv_msg_once, &op, t, DIPC_EEMPTY, handle_shut, &self->is_open);
	d->busy--;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_RECV, rc, "could not receive a message");
	if (!had_mem)
		dipy_message_filled(d, self->ch->pool);
	Py_INCREF(d);
	return (PyObject *)d;
}

/*
 * recv_bytes copies the payload once, from the channel (its slot, or the
 * pool allocation it travels in) into the bytes object returned, except
 * for payloads of at most RECV_SMALL bytes.  A bytes object holds its
 * bytes in its own memory and its size is fixed when it is made, so the
 * payload's length must be known first: a receive into a buffer too small
 * for the next payload takes nothing and reports its length
 * (DIPC_EMSGSIZE), then the bytes object of that size is made and the
 * payload received into it.  For a small payload, that second pass over
 * the channel costs more than copying it twice, through a buffer on the
 * stack (see bench/README.md, "Python: copies and instructions").
 */
#ifndef RECV_SMALL
#define RECV_SMALL 1024
#endif

/* The next payload as a new bytes object, waiting as t says.  NULL when
 * there is none: *rc is then the library's code, or 0 when Python could
 * not make the object (an exception is set); *taken says whether the
 * payload had left the channel by then, which happens only to a payload
 * of at most RECV_SMALL bytes (its bytes object is made after it is
 * taken; a larger one's before). */
static inline __attribute__((always_inline)) PyObject *recv_bytes_obj(RecvHObject *self,
								       int64_t t, int *rcp,
								       int *taken)
{
	char small[RECV_SMALL > 0 ? RECV_SMALL : 1];
	struct recv_op op = { .h = self->h, .buf = small, .cap = RECV_SMALL };
	int64_t start = t > 0 ? dipy_now_ns() : 0;   /* only a timeout needs it */
	PyObject *big = NULL;
	*taken = 0;
	int rc = dipy_wait_stop(recv_bytes_once, &op, t, DIPC_EEMPTY, handle_shut, &self->is_open);
	if (rc == 0) {
		*taken = 1;
		*rcp = 0;
		return PyBytes_FromStringAndSize(small, (Py_ssize_t)op.len);
	}
	while (rc == DIPC_EMSGSIZE) {
		/* Still in the channel: receive it into a bytes object of
		 * its size.  Another receiver may take it first, and the next
		 * one be larger (resize, again) or smaller (shrink below). */
		*rcp = 0;
		if (op.len > (size_t)PY_SSIZE_T_MAX - sizeof(PyBytesObject)) {
			Py_XDECREF(big);
			PyErr_NoMemory();
			return NULL;
		}
		Py_ssize_t need = (Py_ssize_t)op.len;
		if (!big)
			big = PyBytes_FromStringAndSize(NULL, need);
		else if (_PyBytes_Resize(&big, need) < 0)
			big = NULL;
		if (!big)
			return NULL;
		op.buf = PyBytes_AS_STRING(big);
		op.cap = (size_t)need;
		rc = dipy_wait_stop(recv_bytes_once, &op, time_left(t, start), DIPC_EEMPTY,
				    handle_shut, &self->is_open);
	}
	*rcp = rc;
	if (rc < 0) {
		Py_XDECREF(big);
		return NULL;
	}
	*taken = 1;
	*rcp = 0;
	if (op.len != op.cap && _PyBytes_Resize(&big, (Py_ssize_t)op.len) < 0)
		return NULL;
	return big;
}

static PyObject *recvh_recv_bytes(RecvHObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	static const char *const kwlist[] = { "blocking", "timeout" };
	PyObject *a[2] = { NULL, NULL };
	if (dipy_parse("recv_bytes", args, nargs, kwnames, kwlist, 2, 0, a) < 0)
		return NULL;
	if (recvh_ready(self) < 0)
		return NULL;
	int64_t t;
	if (dipy_handle_timeout(a[0], a[1], recv_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	int rc, taken;
	PyObject *r = recv_bytes_obj(self, t, &rc, &taken);
	if (!r && rc < 0)
		return dipy_raise(DIPY_CTX_RECV, rc, "could not receive");
	return r;
}

/*
 * recv_bytes_many: the first payload as recv_bytes takes it (waiting as
 * told), then those that are in the channel now, each tried once with the
 * GIL held, up to max_count in all.  "Now" is the channel's count after the
 * first was taken: so a call takes at most the channel's capacity plus one
 * and ends even while a sender keeps the channel full, and the list is
 * made at once at that size (no growing, which could fail with payloads
 * already taken).  Only the first receive raises: once a payload is taken,
 * a failure (the channel empty or destroyed, no memory for the next
 * payload's bytes object) ends the call with what it has, so that nothing
 * taken is dropped; a lasting failure is raised by the next call.  The one
 * loss is recv_bytes' own: a small payload taken whose bytes object Python
 * cannot make (MemoryError, raised, the list with it).
 */
static PyObject *recvh_recv_bytes_many(RecvHObject *self, PyObject *const *args, Py_ssize_t nargs,
				       PyObject *kwnames)
{
	static const char *const kwlist[] = { "max_count", "blocking", "timeout" };
	PyObject *a[3] = { NULL, NULL, NULL };
	if (dipy_parse("recv_bytes_many", args, nargs, kwnames, kwlist, 3, 1, a) < 0)
		return NULL;
	if (recvh_ready(self) < 0)
		return NULL;
	long long max;
	if (dipy_int_arg(a[0], "max_count", 1, PY_SSIZE_T_MAX, &max) < 0)
		return NULL;
	int64_t t;
	if (dipy_handle_timeout(a[1], a[2], recv_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	int rc, taken;
	PyObject *first = recv_bytes_obj(self, t, &rc, &taken);
	if (!first)
		return rc < 0 ? dipy_raise(DIPY_CTX_RECV, rc, "could not receive") : NULL;
	Py_ssize_t more = 0;
	if (max > 1) {
		int now = dipc_channel_count(self->ch->ch);
		if (now > 0)
			more = (long long)now < max - 1 ? (Py_ssize_t)now : (Py_ssize_t)(max - 1);
	}
	PyObject *list = PyList_New(1 + more);
	if (!list) {
		Py_DECREF(first);
		return NULL;
	}
	PyList_SET_ITEM(list, 0, first);
	Py_ssize_t got = 1;
	while (got <= more) {
		PyObject *o = recv_bytes_obj(self, DIPC_TRY_ONCE, &rc, &taken);
		if (!o) {
			if (rc == 0 && taken) {   /* a payload lost, as recv_bytes would */
				Py_SET_SIZE(list, got);
				Py_DECREF(list);
				return NULL;
			}
			PyErr_Clear();   /* nothing taken: left for the next call */
			break;
		}
		PyList_SET_ITEM(list, got, o);
		got++;
	}
	/* The slots past got were never filled: the list ends there. */
	Py_SET_SIZE(list, got);
	return list;
}

/*
 * recv_bytes_into: the payload straight into the caller's buffer, one copy
 * and no object made.  The buffer is held (it cannot be resized) through
 * the wait.  A payload longer than the buffer is left in the channel
 * (DIPC_EMSGSIZE takes nothing), and the exception says its length.
 */
static PyObject *recvh_recv_bytes_into(RecvHObject *self, PyObject *const *args, Py_ssize_t nargs,
				       PyObject *kwnames)
{
	static const char *const kwlist[] = { "buffer", "blocking", "timeout" };
	PyObject *a[3] = { NULL, NULL, NULL };
	if (dipy_parse("recv_bytes_into", args, nargs, kwnames, kwlist, 3, 1, a) < 0)
		return NULL;
	if (recvh_ready(self) < 0)
		return NULL;
	int64_t t;
	if (dipy_handle_timeout(a[1], a[2], recv_sentinel, self->def_timeout, &t) < 0)
		return NULL;
	Py_buffer buf;
	if (PyObject_GetBuffer(a[0], &buf, PyBUF_WRITABLE) < 0) {
		if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_BufferError)) {
			PyObject *type, *exc, *tb;
			PyErr_Fetch(&type, &exc, &tb);
			PyErr_NormalizeException(&type, &exc, &tb);
			PyErr_Format(PyExc_TypeError,
				     "buffer must be a writable contiguous bytes-like object "
				     "(a bytearray, a memoryview of one, ...), not %.100s: %S",
				     Py_TYPE(a[0])->tp_name, exc ? exc : Py_None);
			Py_XDECREF(type);
			Py_XDECREF(exc);
			Py_XDECREF(tb);
		}
		return NULL;
	}
	struct recv_op op = { .h = self->h, .buf = buf.buf, .cap = (size_t)buf.len };
	int rc = dipy_wait_stop(recv_bytes_once, &op, t, DIPC_EEMPTY, handle_shut, &self->is_open);
	PyBuffer_Release(&buf);
	if (rc == DIPC_EMSGSIZE) {
		PyObject *what = PyUnicode_FromFormat(
			"the next message (%zu bytes) is longer than the buffer (%zu bytes) "
			"and stays in the channel", op.len, op.cap);
		if (!what)
			return NULL;
		dipy_raise(DIPY_CTX_RECV, rc, PyUnicode_AsUTF8(what));
		Py_DECREF(what);
		dipy_exc_set_int("msg_len", (Py_ssize_t)op.len);
		return NULL;
	}
	if (rc < 0)
		return dipy_raise(DIPY_CTX_RECV, rc, "could not receive");
	return PyLong_FromSize_t(op.len);
}

static PyObject *recvh_get_open(RecvHObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->is_open);
}

static PyObject *recvh_get_timeout(RecvHObject *self, void *closure)
{
	(void)closure;
	return timeout_to_py(self->def_timeout);
}

static PyObject *recvh_get_wait_mode(RecvHObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(self->wait_mode);
}

static PyMethodDef recvh_methods[] = {
	{ "open", (PyCFunction)recvh_open, METH_NOARGS,
	  "open()\n\nOpen the handle for receiving.  Raises ChannelDestroyed if the channel is gone." },
	{ "close", (PyCFunction)recvh_close, METH_NOARGS,
	  "close()\n\nClose the handle; raises ChannelHandleNotOpenError if it is not open." },
	{ "__enter__", (PyCFunction)recvh_enter, METH_NOARGS, "Open the handle and return it." },
	{ "__exit__", (PyCFunction)recvh_exit, METH_VARARGS, "Close the handle if it is open." },
	{ "__getstate__", (PyCFunction)handle_getstate, METH_NOARGS,
	  "Raises NotImplementedError: handles are not pickled (pickle the channel)." },
	{ "__setstate__", (PyCFunction)handle_setstate, METH_O,
	  "Raises NotImplementedError: handles are not pickled (pickle the channel)." },
	{ "recv", (PyCFunction)(void (*)(void))recvh_recv, METH_FASTCALL | METH_KEYWORDS,
	  "recv(dest_msg=None, blocking=True, timeout=USE_CHANNEL_RECVH_DEFAULT) -> Message\n\n"
	  "Receive the next message.  Without dest_msg a new Message holding the\n"
	  "payload is returned (large payloads arrive without a copy).  An empty\n"
	  "dest_msg takes the payload's memory; one with memory gets the payload\n"
	  "copied in (ChannelRecvError, message left in the channel, if it does\n"
	  "not fit).  dest_msg is returned.  Timeouts as for ChannelSendH.send().\n\n"
	  "Raises ChannelEmpty (tried once), ChannelRecvTimeout, ChannelDestroyed,\n"
	  "ChannelHandleNotOpenError or ChannelRecvError." },
	{ "recv_bytes", (PyCFunction)(void (*)(void))recvh_recv_bytes, METH_FASTCALL | METH_KEYWORDS,
	  "recv_bytes(blocking=True, timeout=USE_CHANNEL_RECVH_DEFAULT) -> bytes\n\n"
	  "Receive the next payload as a bytes object.  Timeouts and errors as for\n"
	  "recv()." },
	{ "recv_bytes_many", (PyCFunction)(void (*)(void))recvh_recv_bytes_many,
	  METH_FASTCALL | METH_KEYWORDS,
	  "recv_bytes_many(max_count, blocking=True, timeout=USE_CHANNEL_RECVH_DEFAULT)\n"
	  "    -> list of bytes\n\n"
	  "Receive up to max_count payloads, in order, as a list of bytes objects,\n"
	  "in one call: the per-message work is done in C.  The first is received\n"
	  "as recv_bytes() receives it (blocking, timeout and errors the same: with\n"
	  "none to take, ChannelEmpty or ChannelRecvTimeout); then, without\n"
	  "waiting, those the channel holds once the first is taken, up to\n"
	  "max_count in all.  The list is never empty.  Once a payload is taken\n"
	  "the call raises nothing (MemoryError aside): a failure on a later one\n"
	  "(another receiver took it, the channel was destroyed) ends the list,\n"
	  "and a failure that lasts is raised by the next call.\n\n"
	  "max_count is an int from 1 up; anything else raises TypeError or\n"
	  "ValueError before anything is received.  A large max_count costs\n"
	  "nothing: the list is as long as what there was to take." },
	{ "recv_bytes_into", (PyCFunction)(void (*)(void))recvh_recv_bytes_into,
	  METH_FASTCALL | METH_KEYWORDS,
	  "recv_bytes_into(buffer, blocking=True, timeout=USE_CHANNEL_RECVH_DEFAULT) -> int\n\n"
	  "Receive the next payload into buffer, a writable contiguous bytes-like\n"
	  "object (a bytearray, a memoryview of one or a slice of it, an array, a\n"
	  "Message's bytes_memview(), ...), from its start, and return the\n"
	  "payload's length; the bytes after it are left as they were.  One copy,\n"
	  "no object made.  Timeouts and errors as for recv(); a read-only or\n"
	  "non-contiguous buffer raises TypeError.\n\n"
	  "A payload longer than the buffer is not taken: it stays at the head of\n"
	  "the channel and ChannelRecvError is raised (lib_err DIPC_EMSGSIZE), whose\n"
	  "attribute msg_len is the payload's length, so that a larger buffer can\n"
	  "take it.  After any failure the buffer's bytes may have been\n"
	  "overwritten." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef recvh_getset[] = {
	{ "is_open", (getter)recvh_get_open, NULL, "True while the handle is open.", NULL },
	{ "default_timeout", (getter)recvh_get_timeout, NULL,
	  "The handle's default timeout in seconds (None: block forever).", NULL },
	{ "wait_mode", (getter)recvh_get_wait_mode, NULL, "How the handle waits (a WaitMode).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_RecvHType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc.channels.ChannelRecvH",
	.tp_basicsize = sizeof(RecvHObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "ChannelRecvH(ch, notification_type=RECV_SYNC_MANUAL, signal=None, wait_mode=ADAPTIVE_WAIT,\n"
		  "            timeout=None)\n\n"
		  "A handle for receiving from a channel; Channel.recvh() makes one.  It is\n"
		  "returned unopened: call open() or use it in a with statement.\n"
		  "wait_mode (a dragonipc.dtypes.WaitMode) says how blocked receives wait;\n"
		  "timeout is the default timeout in seconds (None: block forever).\n"
		  "notification_type (a dtypes.RecvNotifType) and signal (an int) are\n"
		  "checked and, as in Dragon, not acted on.",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)recvh_init,
	.tp_dealloc = (destructor)recvh_dealloc,
	.tp_methods = recvh_methods,
	.tp_getset = recvh_getset,
	.tp_weaklistoffset = offsetof(RecvHObject, weakreflist),
};

int dipy_handles_init(PyObject *module)
{
	send_sentinel = PyUnicode_InternFromString("USE_CHANNEL_SENDH_DEFAULT");
	recv_sentinel = PyUnicode_InternFromString("USE_CHANNEL_RECVH_DEFAULT");
	if (!send_sentinel || !recv_sentinel)
		return -1;
	PyObject *bases = PyTuple_Pack(2, PyExc_TypeError, PyExc_NotImplementedError);
	if (!bases)
		return -1;
	no_pickle_error = PyErr_NewExceptionWithDoc(
		"dragonipc.channels.HandlePickleError",
		"A send or receive handle was pickled or copied: pickle its channel and make a\n"
		"new handle.  Both a NotImplementedError (as Dragon raises) and a TypeError.",
		bases, NULL);
	Py_DECREF(bases);
	if (!no_pickle_error)
		return -1;
	Py_INCREF(no_pickle_error);
	if (PyModule_AddObject(module, "HandlePickleError", no_pickle_error) < 0) {
		Py_DECREF(no_pickle_error);
		return -1;
	}
	struct { PyTypeObject *t; const char *k; PyObject *v; } attrs[] = {
		{ &Dipy_SendHType, "USE_CHANNEL_SENDH_DEFAULT", send_sentinel },
		{ &Dipy_RecvHType, "USE_CHANNEL_RECVH_DEFAULT", recv_sentinel },
	};
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (PyDict_SetItemString(attrs[i].t->tp_dict, attrs[i].k, attrs[i].v) < 0)
			return -1;
	PyObject *copy = PyLong_FromLong(DIPC_COPY_ON_SEND);
	PyObject *xfer = PyLong_FromLong(DIPC_TRANSFER_ON_SEND);
	int rc = -1;
	if (copy && xfer &&
	    PyDict_SetItemString(Dipy_SendHType.tp_dict, "copy_on_send", copy) == 0 &&
	    PyDict_SetItemString(Dipy_SendHType.tp_dict, "transfer_ownership_on_send", xfer) == 0)
		rc = 0;
	Py_XDECREF(copy);
	Py_XDECREF(xfer);
	PyType_Modified(&Dipy_SendHType);
	PyType_Modified(&Dipy_RecvHType);
	return rc;
}

/*
 * message.c - dragonipc.channels.Message: a payload in pool memory.
 *
 * bytes_memview() hands out memoryviews straight onto the pool memory (no
 * copy).  A view must never point at memory that was freed or handed to
 * another process, so while views exist the allocation is kept: destroy()
 * or a send that would move the allocation away detaches it from the
 * message into an "orphan" that is freed when the last view is released.
 * The message itself is unusable (destroyed) or empty (sent) at once, as
 * the API says; only the views keep the bytes.
 *
 * A view that outlives a destroy(free_mem=True) reads zeros: the bytes are
 * dead, as they are in Dragon (where the block goes back to the pool at
 * once), and they are cleared so that stale data is never taken for live.
 *
 * A zero-copy transfer (transfer_ownership_on_send, or a dest_msg) moves
 * the allocation to the receiver even while views of the message are
 * alive: no copy is made and nothing else is allocated.  The sender's old
 * views keep mapping the same bytes, which now belong to the receiver, as
 * in Dragon: reading them shows whatever the receiver leaves there, and
 * writing through them after the send races with the receiver and is the
 * program's bug.  The pool stays mapped while they exist (the message
 * keeps its hold on the pool for them), so such a view never faults.
 *
 * A message a send or receive of another thread is using (busy) cannot
 * be destroyed: destroy() raises ChannelValueError at once instead of
 * waiting, since the call may be handing its allocation to another
 * process.  Nothing can free it under the call either (the call holds the
 * message, the message its pool).  This is the rule of stream.c for a
 * message: what a waiting call uses is never freed under it.
 *
 * A message made by create_from_mem(mem) borrows a MemoryAlloc's
 * allocation through a handle of its own: destroy() (free_mem=True, as in
 * Dragon) and a transfer send give the allocation away, but a message that
 * is only collected lets go of its handle and never frees the memory,
 * which is still the MemoryAlloc's (Dragon's Message.__del__ frees no
 * managed memory either).
 *
 * hints and clientid are the C message's attributes (dipc_msg_attr): the
 * library carries them from the sender's message to the receiver's.  A
 * message that changes its C message underneath (dipy_message_drop_memory)
 * carries them over, so they are the Python object's for its whole life.
 */
#include "dipcpy.h"

#include <stdlib.h>
#include <string.h>

struct dipy_orphan {
	dipc_mem *mem;
	PoolObject *pool;
	int free_mem;
	struct dipy_orphan *next;
};

static void free_orphans(MessageObject *m)
{
	struct dipy_orphan *o = m->orphans;
	m->orphans = NULL;
	while (o) {
		struct dipy_orphan *next = o->next;
		if (!o->mem)
			;       /* a pool hold only (the memory travelled) */
		else if (o->free_mem && m->owner == dipy_pid())
			dipc_mem_free(o->mem);
		else
			dipc_mem_detach(o->mem);
		dipy_pool_release(o->pool);
		free(o);
		o = next;
	}
}

int dipy_message_has_mem(MessageObject *m)
{
	dipc_mem *mem;
	return m->msg && dipc_msg_mem(m->msg, &mem) == 0;
}

/* Move msg's allocation into an orphan kept for the live views. */
static int orphan_memory(MessageObject *m, int free_mem)
{
	dipc_mem *mem, *clone;
	size_t size;
	int rc = dipc_msg_mem(m->msg, &mem);
	if (rc == 0)
		rc = dipc_mem_get(mem, NULL, &size);
	if (rc == 0)
		rc = dipc_mem_clone(mem, 0, size, &clone);
	if (rc < 0)
		return rc;
	struct dipy_orphan *o = malloc(sizeof(*o));
	if (!o) {
		dipc_mem_detach(clone);
		return DIPC_ENOMEM;
	}
	if (free_mem && m->owner == dipy_pid()) {
		void *ptr;
		if (dipc_mem_get(clone, &ptr, NULL) == 0 && size)
			memset(ptr, 0, size);
	}
	o->mem = clone;
	o->pool = m->pool;      /* the hold moves to the orphan */
	o->free_mem = free_mem;
	o->next = m->orphans;
	m->orphans = o;
	m->pool = NULL;
	dipc_msg_destroy(m->msg, 0);
	m->msg = NULL;
	return 0;
}

/* Give up msg and its memory (freeing it, or keeping it for views). */
static int message_release(MessageObject *m, int free_mem)
{
	if (!m->msg)
		return 0;
	if (m->exports > 0 && m->pool && dipy_message_has_mem(m))
		return orphan_memory(m, free_mem);
	int rc = dipc_msg_destroy(m->msg, free_mem);
	m->msg = NULL;
	if (m->pool) {
		PoolObject *p = m->pool;
		m->pool = NULL;
		dipy_pool_release(p);
	}
	return rc;
}

int dipy_message_drop_memory(MessageObject *m, int free_mem)
{
	if (!dipy_message_has_mem(m))
		return 0;
	dipc_msg *empty;
	int rc = dipc_msg_create_empty(&empty);
	if (rc < 0)
		return rc;
	for (int a = DIPC_MSG_HINTS; a <= DIPC_MSG_CLIENTID; a++) {
		uint64_t v = 0;
		dipc_msg_attr(m->msg, a, &v);
		dipc_msg_set_attr(empty, a, v);
	}
	rc = message_release(m, free_mem);
	m->msg = empty;
	m->borrowed = 0;
	return rc;
}

void dipy_message_emptied(MessageObject *m)
{
	m->borrowed = 0;        /* the memory travelled: nothing is borrowed now */
	if (!m->pool)
		return;
	PoolObject *p = m->pool;
	m->pool = NULL;
	if (m->exports > 0) {
		/* The views still map the bytes: the pool stays until they go. */
		struct dipy_orphan *o = malloc(sizeof(*o));
		if (o) {
			o->mem = NULL;
			o->pool = p;    /* the hold moves to the orphan */
			o->free_mem = 0;
			o->next = m->orphans;
			m->orphans = o;
			return;
		}
		/* Out of memory: leak the hold rather than unmap under a view. */
		return;
	}
	dipy_pool_release(p);
}

void dipy_message_filled(MessageObject *m, PoolObject *pool)
{
	if (m->pool)
		dipy_message_emptied(m);
	dipy_pool_hold(pool);
	m->pool = pool;
	m->owner = dipy_pid();
	m->borrowed = 0;
}

PyObject *dipy_message_new(dipc_msg *msg, PoolObject *pool)
{
	MessageObject *m = PyObject_New(MessageObject, &Dipy_MessageType);
	if (!m) {
		dipc_msg_destroy(msg, 1);
		return NULL;
	}
	m->msg = msg;
	m->pool = NULL;
	m->exports = 0;
	m->orphans = NULL;
	m->busy = 0;
	m->owner = dipy_pid();
	m->borrowed = 0;
	m->weakreflist = NULL;
	if (pool && dipy_message_has_mem(m)) {
		dipy_pool_hold(pool);
		m->pool = pool;
	}
	return (PyObject *)m;
}

MessageObject *dipy_message_arg(PyObject *obj, const char *what)
{
	if (!PyObject_TypeCheck(obj, &Dipy_MessageType)) {
		PyErr_Format(PyExc_TypeError, "%s must be a Message, not %.100s", what,
			     Py_TYPE(obj)->tp_name);
		return NULL;
	}
	MessageObject *m = (MessageObject *)obj;
	if (!m->msg) {
		dipy_value_error(DIPY_CTX_CHANNEL, "%s was destroyed", what);
		return NULL;
	}
	if (m->busy) {
		dipy_value_error(DIPY_CTX_CHANNEL,
				 "%s is in use by a send or receive in another thread", what);
		return NULL;
	}
	return m;
}

static void msg_dealloc(MessageObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* A message nobody destroyed gives its allocation back; a copy
	 * inherited through fork() only lets go of its handle, since the
	 * allocation is the parent's, and so does one that borrows a
	 * MemoryAlloc's (create_from_mem). */
	message_release(self, self->owner == dipy_pid() && !self->borrowed);
	free_orphans(self);
	PyObject_Free(self);
}

/* ---- construction ---------------------------------------------------------- */

static PyObject *msg_create_empty(PyObject *cls, PyObject *noarg)
{
	(void)cls;
	(void)noarg;
	dipc_msg *msg;
	int rc = dipc_msg_create_empty(&msg);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create an empty message");
	return dipy_message_new(msg, NULL);
}

/* hints and clientid as Dragon takes them: an int (exactly: not a bool)
 * from 0; anything else is a ChannelValueError (Dragon raises ChannelError),
 * past 64 bits a ChannelOverflowError (Dragon's conversion raises
 * OverflowError).  NULL leaves *out alone. */
static int attr_arg(PyObject *obj, const char *what, uint64_t *out)
{
	if (!obj)
		return 0;
	if (!PyLong_CheckExact(obj)) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the %s argument must be a non-negative integer, not %.100s",
				 what, Py_TYPE(obj)->tp_name);
		return -1;
	}
	int overflow;
	long long s = PyLong_AsLongLongAndOverflow(obj, &overflow);
	if (s == -1 && PyErr_Occurred())
		return -1;
	if (overflow < 0 || (!overflow && s < 0)) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the %s argument must be a non-negative integer, not %S",
				 what, obj);
		return -1;
	}
	unsigned long long v = PyLong_AsUnsignedLongLong(obj);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		dipy_channel_overflow("the %s argument must be from 0 to 2**64-1, not %S", what, obj);
		return -1;
	}
	*out = v;
	return 0;
}

/* Check hints and clientid (NULL: 0) into attr[DIPC_MSG_*]. */
static int attr_args(PyObject *hints, PyObject *clientid, uint64_t *attr)
{
	attr[DIPC_MSG_HINTS] = attr[DIPC_MSG_CLIENTID] = 0;
	return attr_arg(hints, "hints", &attr[DIPC_MSG_HINTS]) < 0 ||
	       attr_arg(clientid, "clientid", &attr[DIPC_MSG_CLIENTID]) < 0 ? -1 : 0;
}

static void set_attrs(dipc_msg *msg, const uint64_t *attr)
{
	dipc_msg_set_attr(msg, DIPC_MSG_HINTS, attr[DIPC_MSG_HINTS]);
	dipc_msg_set_attr(msg, DIPC_MSG_CLIENTID, attr[DIPC_MSG_CLIENTID]);
}

struct alloc_op {
	dipc_pool *pool;
	size_t size;
	dipc_mem *mem;
};

static int alloc_once(void *arg, int64_t t)
{
	struct alloc_op *op = arg;
	return dipc_pool_alloc_wait(op->pool, op->size, t, &op->mem);
}

/* The pool was detached or destroyed while the allocation waited. */
static int pool_gone(void *arg)
{
	PoolObject *p = arg;
	return p->closed ? DIPY_ECLOSED : 0;
}

static PyObject *default_pool(void)
{
	PyObject *mm = PyImport_ImportModule("dragonipc.managed_memory");
	if (!mm)
		return NULL;
	PyObject *pool = PyObject_CallMethod(mm, "default_pool", NULL);
	Py_DECREF(mm);
	return pool;
}

static PyObject *msg_create_alloc(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	(void)cls;
	static const char *const kwlist[] = { "mpool", "nbytes", "hints", "clientid", "timeout" };
	PyObject *a[5] = { NULL, NULL, NULL, NULL, NULL };
	if (dipy_parse("create_alloc", args, nargs, kwnames, kwlist, 5, 1, a) < 0)
		return NULL;
	PyObject *pool_obj = a[0], *size_obj = a[1];
	PyObject *owned_pool = NULL;
	/* create_alloc(n_bytes) allocates from the default pool. */
	if (!size_obj && PyLong_Check(pool_obj)) {
		size_obj = pool_obj;
		pool_obj = owned_pool = default_pool();
		if (!pool_obj)
			return NULL;
	}
	if (!size_obj) {
		PyErr_SetString(PyExc_TypeError, "create_alloc() missing required argument 'nbytes'");
		return NULL;
	}
	PyObject *result = NULL;
	PoolObject *pool = dipy_pool_arg(pool_obj, "mpool");
	if (!pool)
		goto out;
	if (!PyLong_Check(size_obj)) {
		PyErr_Format(PyExc_TypeError, "nbytes must be an int, not %.100s",
			     Py_TYPE(size_obj)->tp_name);
		goto out;
	}
	int overflow;
	long long n = PyLong_AsLongLongAndOverflow(size_obj, &overflow);
	if (n == -1 && PyErr_Occurred())
		goto out;
	if (overflow || n < 0) {
		dipy_size_overflow("nbytes must be from 1 to 2**63 - 1, not %S", size_obj);
		goto out;
	}
	if (n < 1) {
		dipy_value_error(DIPY_CTX_CHANNEL, "nbytes must be at least 1, not %lld", n);
		goto out;
	}
	uint64_t attr[2];
	if (attr_args(a[2], a[3], attr) < 0)
		goto out;
	/* Dragon's default (timeout=None) waits for room. */
	int64_t t = DIPC_WAIT_FOREVER;
	if (a[4] && dipy_timeout_from_py(a[4], &t) < 0)
		goto out;
	struct alloc_op op = { pool->pool, (size_t)n, NULL };
	/* Held: the mapping stays while we wait, whatever another thread
	 * does to the pool object; detach() or destroy() ends the wait. */
	dipy_pool_hold(pool);
	int rc = dipy_wait_stop(alloc_once, &op, t, DIPC_ENOSPC, pool_gone, pool);
	if (rc == DIPY_ECLOSED) {
		dipy_value_error(DIPY_CTX_POOL, pool->destroyed ?
				 "the pool was destroyed while the allocation waited" :
				 "the pool was detached while the allocation waited");
		dipy_pool_release(pool);
		goto out;
	}
	if (rc < 0) {
		dipy_pool_release(pool);
		dipy_raise(DIPY_CTX_MSG_ALLOC, rc, "could not allocate the message from the pool");
		goto out;
	}
	dipc_msg *msg;
	rc = dipc_msg_create_from_mem(op.mem, &msg);
	if (rc < 0) {
		dipc_mem_free(op.mem);
		dipy_pool_release(pool);
		dipy_raise(DIPY_CTX_MSG_ALLOC, rc, "could not create the message");
		goto out;
	}
	set_attrs(msg, attr);
	result = dipy_message_new(msg, pool);
	dipy_pool_release(pool);
out:
	Py_XDECREF(owned_pool);
	return result;
}

/* create_from_mem(mem, hints=0, clientid=0): a message over the bytes of
 * the MemoryAlloc mem (its whole range, as mem.get_memview() shows them),
 * through a handle of the message's own made from mem's descriptor. */
static PyObject *msg_create_from_mem(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	(void)cls;
	static const char *const kwlist[] = { "mem", "hints", "clientid" };
	PyObject *a[3] = { NULL, NULL, NULL };
	if (dipy_parse("create_from_mem", args, nargs, kwnames, kwlist, 3, 1, a) < 0)
		return NULL;
	if (!PyObject_TypeCheck(a[0], &Dipy_AllocType)) {
		PyErr_Format(PyExc_TypeError, "mem must be a MemoryAlloc, not %.100s",
			     Py_TYPE(a[0])->tp_name);
		return NULL;
	}
	uint64_t attr[2];
	if (attr_args(a[1], a[2], attr) < 0)
		return NULL;
	PyObject *pool_obj = PyObject_CallMethod(a[0], "_pool", NULL);
	PyObject *desc = pool_obj ? PyObject_CallMethod(a[0], "_cdesc", NULL) : NULL;
	if (!desc) {
		Py_XDECREF(pool_obj);
		if (!PyErr_ExceptionMatches(PyExc_Exception))
			return NULL;
		PyErr_Clear();
		return dipy_value_error(DIPY_CTX_CHANNEL, "mem is not attached in this process "
					"(detached, freed, or another host's memory)");
	}
	PyObject *result = NULL;
	Py_buffer ser = { .obj = NULL };
	PoolObject *pool = dipy_pool_arg(pool_obj, "the pool of mem");
	if (!pool || PyObject_GetBuffer(desc, &ser, PyBUF_SIMPLE) < 0)
		goto out;
	dipc_mem *m;
	int rc = dipc_mem_attach(pool->pool, ser.buf, (size_t)ser.len, &m);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create a message from the memory");
		goto out;
	}
	dipc_msg *msg;
	rc = dipc_msg_create_from_mem(m, &msg);
	if (rc < 0) {
		dipc_mem_detach(m);
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create a message from the memory");
		goto out;
	}
	set_attrs(msg, attr);
	result = dipy_message_new(msg, pool);
	if (result)
		((MessageObject *)result)->borrowed = 1;
out:
	if (ser.obj)
		PyBuffer_Release(&ser);
	Py_DECREF(desc);
	Py_DECREF(pool_obj);
	return result;
}

/* ---- use ------------------------------------------------------------------ */

static PyObject *msg_destroy(MessageObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "free_mem", NULL };
	int free_mem = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:destroy", (char **)kwlist, &free_mem))
		return NULL;
	if (!dipy_message_arg((PyObject *)self, "the message"))
		return NULL;
	int rc = message_release(self, free_mem);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not destroy the message");
	Py_RETURN_NONE;
}

static int msg_payload(MessageObject *self, void **ptr, size_t *size)
{
	if (!self->msg) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the message was destroyed");
		return -1;
	}
	if (!dipy_message_has_mem(self)) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the message has no memory (it is empty)");
		return -1;
	}
	int rc = dipc_msg_get(self->msg, ptr, size);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not reach the message's payload");
		return -1;
	}
	return 0;
}

static int msg_getbuffer(MessageObject *self, Py_buffer *view, int flags)
{
	void *ptr;
	size_t size;
	view->obj = NULL;
	if (self->busy) {
		/* The allocation may be on its way to another process. */
		PyErr_SetString(PyExc_BufferError,
				"the message is in use by a send or receive in another thread");
		return -1;
	}
	if (msg_payload(self, &ptr, &size) < 0)
		return -1;
	if (PyBuffer_FillInfo(view, (PyObject *)self, ptr, (Py_ssize_t)size, 0, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void msg_releasebuffer(MessageObject *self, Py_buffer *view)
{
	(void)view;
	if (--self->exports == 0)
		free_orphans(self);
}

static PyBufferProcs msg_as_buffer = {
	.bf_getbuffer = (getbufferproc)msg_getbuffer,
	.bf_releasebuffer = (releasebufferproc)msg_releasebuffer,
};

static PyObject *msg_bytes_memview(MessageObject *self, PyObject *noarg)
{
	(void)noarg;
	return PyMemoryView_FromObject((PyObject *)self);
}

static PyObject *msg_tobytes(MessageObject *self, PyObject *noarg)
{
	(void)noarg;
	void *ptr;
	size_t size;
	if (msg_payload(self, &ptr, &size) < 0)
		return NULL;
	return PyBytes_FromStringAndSize(ptr, (Py_ssize_t)size);
}

/* A start or stop of clear_payload: an int from 0 (Dragon's size_t). */
static int clear_index(PyObject *obj, const char *what, unsigned long long *out)
{
	if (!PyLong_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	unsigned long long v = PyLong_AsUnsignedLongLong(obj);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		dipy_channel_overflow("%s must be from 0 to 2**64-1, not %S", what, obj);
		return -1;
	}
	*out = v;
	return 0;
}

/* clear_payload(start=0, stop=None): zero bytes [start, stop) of the
 * payload, stop clipped to its end (None: the end), as MemoryAlloc.clear. */
static PyObject *msg_clear_payload(MessageObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	static const char *const kwlist[] = { "start", "stop" };
	PyObject *a[2] = { NULL, NULL };
	if (dipy_parse("clear_payload", args, nargs, kwnames, kwlist, 2, 0, a) < 0)
		return NULL;
	unsigned long long start = 0, stop = ULLONG_MAX;
	if ((a[0] && clear_index(a[0], "start", &start) < 0) ||
	    (a[1] && a[1] != Py_None && clear_index(a[1], "stop", &stop) < 0))
		return NULL;
	if (!dipy_message_arg((PyObject *)self, "the message"))
		return NULL;
	void *ptr;
	size_t size;
	if (msg_payload(self, &ptr, &size) < 0)
		return NULL;
	if (stop > size)
		stop = size;
	if (start < stop)
		memset((unsigned char *)ptr + start, 0, (size_t)(stop - start));
	Py_RETURN_NONE;
}

static PyObject *msg_get_attr(MessageObject *self, void *closure)
{
	int which = (int)(intptr_t)closure;
	if (!dipy_message_arg((PyObject *)self, "the message"))
		return NULL;
	uint64_t v = 0;
	int rc = dipc_msg_attr(self->msg, which, &v);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not read the message's attributes");
	return PyLong_FromUnsignedLongLong(v);
}

static int msg_set_attr(MessageObject *self, PyObject *value, void *closure)
{
	int which = (int)(intptr_t)closure;
	if (!value) {
		PyErr_Format(PyExc_AttributeError, "cannot delete the %s of a message",
			     which == DIPC_MSG_HINTS ? "hints" : "clientid");
		return -1;
	}
	uint64_t v;
	if (attr_arg(value, which == DIPC_MSG_HINTS ? "hints" : "clientid", &v) < 0 ||
	    !dipy_message_arg((PyObject *)self, "the message"))
		return -1;
	int rc = dipc_msg_set_attr(self->msg, which, v);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not set the message's attributes");
		return -1;
	}
	return 0;
}

static PyObject *msg_get_size(MessageObject *self, void *closure)
{
	(void)closure;
	size_t size = 0;
	if (self->msg)
		dipc_msg_get(self->msg, NULL, &size);
	return PyLong_FromSize_t(size);
}

static PyObject *msg_get_empty(MessageObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(!dipy_message_has_mem(self));
}

static PyObject *msg_get_destroyed(MessageObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->msg == NULL);
}

static PyObject *msg_repr(MessageObject *self)
{
	if (!self->msg)
		return PyUnicode_FromString("<Message destroyed>");
	if (!dipy_message_has_mem(self))
		return PyUnicode_FromString("<Message empty>");
	size_t size = 0;
	dipc_msg_get(self->msg, NULL, &size);
	return PyUnicode_FromFormat("<Message %zu bytes>", size);
}

static PyMethodDef msg_methods[] = {
	{ "create_empty", (PyCFunction)msg_create_empty, METH_NOARGS | METH_STATIC,
	  "create_empty() -> Message\n\n"
	  "A message with no memory behind it, to receive into (it then takes the\n"
	  "payload's allocation)." },
	{ "create_alloc", (PyCFunction)(void (*)(void))msg_create_alloc,
	  METH_FASTCALL | METH_KEYWORDS | METH_STATIC,
	  "create_alloc(mpool, nbytes, hints=0, clientid=0, timeout=None) -> Message\n"
	  "create_alloc(nbytes) -> Message\n\n"
	  "A message backed by a new nbytes allocation from mpool, or from\n"
	  "dragonipc.managed_memory.default_pool() when only nbytes is given.\n"
	  "A full pool is waited on for room, as long as timeout says (seconds;\n"
	  "None, the default: as long as it takes; 0: not at all), then\n"
	  "MessageAllocationError.  hints and clientid (ints from 0) travel with\n"
	  "the message to its receiver." },
	{ "create_from_mem", (PyCFunction)(void (*)(void))msg_create_from_mem,
	  METH_FASTCALL | METH_KEYWORDS | METH_STATIC,
	  "create_from_mem(mem, hints=0, clientid=0) -> Message\n\n"
	  "A message over the bytes of the MemoryAlloc mem, without a copy.\n"
	  "destroy() (free_mem=True) frees the allocation, as a transfer send gives\n"
	  "it away; a message only collected never frees it (it is mem's)." },
	{ "clear_payload", (PyCFunction)(void (*)(void))msg_clear_payload,
	  METH_FASTCALL | METH_KEYWORDS,
	  "clear_payload(start=0, stop=None)\n\n"
	  "Set payload bytes [start, stop) to zero (stop None or past the end:\n"
	  "to the end)." },
	{ "destroy", (PyCFunction)(void (*)(void))msg_destroy, METH_VARARGS | METH_KEYWORDS,
	  "destroy(free_mem=True)\n\n"
	  "Destroy the message; with free_mem, return its allocation to the pool.\n"
	  "Views from bytes_memview() stay valid: the allocation is kept (cleared)\n"
	  "until the last of them is released." },
	{ "bytes_memview", (PyCFunction)msg_bytes_memview, METH_NOARGS,
	  "bytes_memview() -> memoryview\n\n"
	  "A writable view of the payload, without copying.  It never points into\n"
	  "unmapped memory: after destroy() the allocation is kept until the view\n"
	  "goes (the view reads zeros); after a transfer send (which moves the\n"
	  "allocation itself, views or not) the view maps the same bytes, now the\n"
	  "receiver's: reading shows what the receiver leaves there, and writing\n"
	  "races with the receiver, as in Dragon." },
	{ "tobytes", (PyCFunction)msg_tobytes, METH_NOARGS,
	  "tobytes() -> bytes\n\nA copy of the payload." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef msg_getset[] = {
	{ "size", (getter)msg_get_size, NULL, "Payload bytes (0 when empty or destroyed).", NULL },
	{ "is_empty", (getter)msg_get_empty, NULL, "True when no memory backs the message.", NULL },
	{ "is_destroyed", (getter)msg_get_destroyed, NULL, "True after destroy().", NULL },
	{ "hints", (getter)msg_get_attr, (setter)msg_set_attr,
	  "An int of the program's own (0 to 2**64-1) that travels with the message.",
	  (void *)(intptr_t)DIPC_MSG_HINTS },
	{ "clientid", (getter)msg_get_attr, (setter)msg_set_attr,
	  "An int of the program's own (0 to 2**64-1) that travels with the message.",
	  (void *)(intptr_t)DIPC_MSG_CLIENTID },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_MessageType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc.channels.Message",
	.tp_basicsize = sizeof(MessageObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A message: a payload in pool memory, sent and received through channels.\n\n"
		  "Make one with Message.create_empty() or Message.create_alloc(); a\n"
		  "message you create or receive is yours to destroy() (a message that is\n"
		  "garbage collected first returns its allocation to the pool).",
	.tp_dealloc = (destructor)msg_dealloc,
	.tp_repr = (reprfunc)msg_repr,
	.tp_as_buffer = &msg_as_buffer,
	.tp_methods = msg_methods,
	.tp_getset = msg_getset,
	.tp_weaklistoffset = offsetof(MessageObject, weakreflist),
};

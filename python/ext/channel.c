/*
 * channel.c - the Channel core type, base of dragonipc.channels.Channel.
 *
 * Send and receive handles hold the Channel object (a reference and a
 * count in deps), because the C library refuses to detach a channel that
 * still has handles.  detach() ends this object's use at once and the C
 * handle follows when the last Python handle is gone.  destroy() removes
 * the channel from its pool at once, even with handles alive: it does so
 * through a second attachment, and our own handles then see the channel
 * destroyed (ChannelDestroyed) instead of touching freed memory.
 *
 * A poll() waiting in another thread holds the channel the same way, so
 * detach() or destroy() never frees what it uses; by the rule of stream.c
 * the wait ends at its next slice, with ChannelValueError (detached) or
 * ChannelDestroyed, as a poll started afterwards would.
 */
#include "dipcpy.h"

static ChannelObject *chan_live(ChannelObject *self)
{
	if (!self->ch || self->closed) {
		if (self->destroyed)
			dipy_raise(DIPY_CTX_CHANNEL, DIPC_EDESTROYED, "the channel was destroyed");
		else
			dipy_value_error(DIPY_CTX_CHANNEL, self->ch ? "the channel is detached" :
					 "the channel is not attached");
		return NULL;
	}
	return self;
}

ChannelObject *dipy_channel_arg(PyObject *obj)
{
	if (!PyObject_TypeCheck(obj, &Dipy_ChannelType)) {
		PyErr_Format(PyExc_TypeError, "expected a Channel, not %.100s", Py_TYPE(obj)->tp_name);
		return NULL;
	}
	return chan_live((ChannelObject *)obj);
}

static void chan_release_c(ChannelObject *c)
{
	if (!c->ch)
		return;
	dipc_channel_detach(c->ch);
	c->ch = NULL;
	PoolObject *p = c->pool;
	c->pool = NULL;
	if (p)
		dipy_pool_release(p);
}

void dipy_channel_hold(ChannelObject *c)
{
	Py_INCREF(c);
	c->deps++;
}

void dipy_channel_release(ChannelObject *c)
{
	if (--c->deps == 0 && c->closed)
		chan_release_c(c);
	Py_DECREF(c);
}

static PyObject *chan_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	return type->tp_alloc(type, 0);
}

static void chan_dealloc(ChannelObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	chan_release_c(self);
	Py_CLEAR(self->serial);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int chan_fresh(ChannelObject *self)
{
	if (self->ch || self->closed) {
		dipy_value_error(DIPY_CTX_CHANNEL, "this Channel object is already in use");
		return -1;
	}
	return 0;
}

static void chan_adopt(ChannelObject *self, dipc_channel *ch, PoolObject *pool, int creator)
{
	self->ch = ch;
	self->creator = creator;
	self->block_size = dipc_channel_block_size(ch);
	if (pool)
		dipy_pool_hold(pool);
	self->pool = pool;
}

static PyObject *chan_create(ChannelObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "pool", "cuid", "capacity", "block_size", NULL };
	PyObject *pool_obj, *cuid_obj, *cap_obj = NULL, *bs_obj = NULL;
	unsigned long long cuid, capacity = 0, block_size = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:_create", (char **)kwlist, &pool_obj,
					 &cuid_obj, &cap_obj, &bs_obj))
		return NULL;
	if (dipy_uint_arg(cuid_obj, "c_uid", ULLONG_MAX, &cuid) < 0 ||
	    (cap_obj && dipy_uint_arg(cap_obj, "capacity", ULLONG_MAX, &capacity) < 0) ||
	    (bs_obj && dipy_uint_arg(bs_obj, "block_size", ULLONG_MAX, &block_size) < 0))
		return NULL;
	PoolObject *pool = dipy_pool_arg(pool_obj, "mem_pool");
	if (!pool || chan_fresh(self) < 0)
		return NULL;
	struct dipc_channel_attr attr;
	dipc_channel_attr_init(&attr);
	if (capacity)
		attr.capacity = capacity;
	if (block_size)
		attr.block_size = block_size;
	dipc_channel *ch;
	int rc = dipc_channel_create(pool->pool, cuid, &attr, &ch);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create the channel");
	chan_adopt(self, ch, pool, 1);
	Py_RETURN_NONE;
}

static PyObject *chan_attach(ChannelObject *self, PyObject *args)
{
	PyObject *pool_obj;
	Py_buffer ser;
	if (!PyArg_ParseTuple(args, "y*O:_attach", &ser, &pool_obj))
		return NULL;
	/* None: a channel of another host, through the local dipc-bridge (a
	 * round trip: without the GIL); it has no pool of this process. */
	PoolObject *pool = pool_obj == Py_None ? NULL : dipy_pool_arg(pool_obj, "mem_pool");
	if ((!pool && pool_obj != Py_None) || chan_fresh(self) < 0) {
		PyBuffer_Release(&ser);
		return NULL;
	}
	dipc_channel *ch;
	int rc;
	if (pool) {
		rc = dipc_channel_attach(ser.buf, (size_t)ser.len, pool->pool, &ch);
	} else {
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_channel_attach(ser.buf, (size_t)ser.len, NULL, &ch);
		Py_END_ALLOW_THREADS
	}
	PyBuffer_Release(&ser);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not attach to the channel");
	chan_adopt(self, ch, pool, 0);
	Py_RETURN_NONE;
}

/* Make a detached object usable again: another object of this process
 * attached the same descriptor (Dragon keys channels by their id, so an
 * old object comes back to life).  A destroyed object stays destroyed. */
static PyObject *chan_reattach(ChannelObject *self, PyObject *args)
{
	PyObject *pool_obj;
	Py_buffer ser;
	if (!PyArg_ParseTuple(args, "y*O:_reattach", &ser, &pool_obj))
		return NULL;
	PyObject *result = NULL;
	if (self->destroyed) {
		dipy_raise(DIPY_CTX_CHANNEL, DIPC_EDESTROYED, "the channel was destroyed");
		goto out;
	}
	if (self->ch) {
		/* Not released yet (handles still held it): in use again. */
		self->closed = 0;
		result = Py_None;
		goto out;
	}
	PoolObject *pool = dipy_pool_arg(pool_obj, "mem_pool");
	if (!pool)
		goto out;
	dipc_channel *ch;
	int rc = dipc_channel_attach(ser.buf, (size_t)ser.len, pool->pool, &ch);
	if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not attach to the channel");
		goto out;
	}
	self->closed = 0;
	chan_adopt(self, ch, pool, self->creator);
	result = Py_None;
out:
	PyBuffer_Release(&ser);
	Py_XINCREF(result);
	return result;
}

/* (cuid, pool descriptor) of a channel descriptor, found by attaching the
 * channel for a moment through the library (its layout stays its own). */
static PyObject *chan_describe(PyObject *cls, PyObject *arg)
{
	(void)cls;
	Py_buffer ser;
	if (PyObject_GetBuffer(arg, &ser, PyBUF_SIMPLE) < 0)
		return NULL;
	dipc_channel *ch;
	int rc = dipc_channel_attach(ser.buf, (size_t)ser.len, NULL, &ch);
	PyBuffer_Release(&ser);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not read the channel descriptor");
	uint64_t cuid = 0;
	dipc_pool *p;
	unsigned char buf[DIPC_SERIAL_MAX];
	int n = dipc_channel_cuid(ch, &cuid);
	if (n >= 0)
		n = dipc_channel_pool(ch, &p);
	if (n >= 0)
		n = dipc_pool_serialize(p, buf, sizeof(buf));
	dipc_channel_detach(ch);
	if (n < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, n, "could not read the channel descriptor");
	return Py_BuildValue("Ky#", (unsigned long long)cuid, (const char *)buf, (Py_ssize_t)n);
}

static PyObject *chan_serialize(ChannelObject *self, PyObject *noarg)
{
	(void)noarg;
	if (self->serial) {
		Py_INCREF(self->serial);
		return self->serial;
	}
	if (!chan_live(self))
		return NULL;
	unsigned char buf[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(self->ch, buf, sizeof(buf));
	if (n < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, n, "could not serialize the channel");
	self->serial = PyBytes_FromStringAndSize((const char *)buf, n);
	Py_XINCREF(self->serial);
	return self->serial;
}

static PyObject *chan_detach(ChannelObject *self, PyObject *noarg)
{
	(void)noarg;
	if (self->closed || !self->ch)
		Py_RETURN_NONE;
	self->closed = 1;
	if (self->deps == 0)
		chan_release_c(self);
	Py_RETURN_NONE;
}

static PyObject *chan_destroy(ChannelObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!chan_live(self))
		return NULL;
	int rc;
	if (self->deps == 0) {
		rc = dipc_channel_destroy(self->ch);
		self->ch = NULL;
		PoolObject *p = self->pool;
		self->pool = NULL;
		dipy_pool_release(p);
	} else {
		unsigned char buf[DIPC_SERIAL_MAX];
		dipc_pool *pool;
		dipc_channel *other;
		int n = dipc_channel_serialize(self->ch, buf, sizeof(buf));
		rc = n < 0 ? n : dipc_channel_pool(self->ch, &pool);
		if (rc >= 0)
			rc = dipc_channel_attach(buf, (size_t)n, pool, &other);
		if (rc >= 0)
			rc = dipc_channel_destroy(other);
		else if (rc == DIPC_ENOENT)
			rc = DIPC_EDESTROYED;
	}
	self->closed = 1;
	self->destroyed = 1;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not destroy the channel");
	Py_RETURN_NONE;
}

struct poll_op {
	dipc_channel *ch;
	int events;
};

static int poll_once(void *arg, int64_t t)
{
	struct poll_op *op = arg;
	return dipc_channel_poll(op->ch, op->events, t);
}

/* This object was detached or destroyed while poll waited. */
static int chan_gone(void *arg)
{
	ChannelObject *c = arg;
	if (!c->closed)
		return 0;
	return c->destroyed ? DIPC_EDESTROYED : DIPY_ECLOSED;
}

static PyObject *chan_poll(ChannelObject *self, PyObject *args)
{
	PyObject *events_obj, *timeout = Py_None;
	long long events;
	if (!PyArg_ParseTuple(args, "O|O:_poll", &events_obj, &timeout) ||
	    dipy_int_arg(events_obj, "events", INT_MIN, INT_MAX, &events) < 0)
		return NULL;
	if (!chan_live(self))
		return NULL;
	int64_t t;
	if (dipy_timeout_from_py(timeout, &t) < 0)
		return NULL;
	struct poll_op op = { self->ch, (int)events };
	/* Hold the channel: another thread may detach it while we wait (the
	 * wait then ends, but the C channel must outlive the slice). */
	dipy_channel_hold(self);
	int rc = dipy_wait_stop(poll_once, &op, t, 0, chan_gone, self);
	dipy_channel_release(self);
	if (rc == DIPY_ECLOSED)
		return dipy_value_error(DIPY_CTX_CHANNEL, "the channel was detached while poll waited");
	if (rc == DIPC_ETIMEDOUT)
		rc = 0;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not poll the channel");
	return PyLong_FromLong(rc);
}

static PyObject *chan_get_cuid(ChannelObject *self, void *closure)
{
	(void)closure;
	if (!chan_live(self))
		return NULL;
	uint64_t cuid;
	int rc = dipc_channel_cuid(self->ch, &cuid);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not read the channel id");
	return PyLong_FromUnsignedLongLong(cuid);
}

static PyObject *chan_get_capacity(ChannelObject *self, void *closure)
{
	(void)closure;
	if (!chan_live(self))
		return NULL;
	return PyLong_FromLong(dipc_channel_capacity(self->ch));
}

static PyObject *chan_get_block_size(ChannelObject *self, void *closure)
{
	(void)closure;
	if (!chan_live(self))
		return NULL;
	return PyLong_FromLong(self->block_size);
}

static PyObject *chan_get_num_msgs(ChannelObject *self, void *closure)
{
	(void)closure;
	if (!chan_live(self))
		return NULL;
	int n = dipc_channel_count(self->ch);
	if (n < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, n, "could not count the channel's messages");
	return PyLong_FromLong(n);
}

static PyObject *chan_get_pool(ChannelObject *self, void *closure)
{
	(void)closure;
	if (!chan_live(self))
		return NULL;
	if (!self->pool)
		Py_RETURN_NONE;     /* another host's channel */
	Py_INCREF(self->pool);
	return (PyObject *)self->pool;
}

static PyObject *chan_get_attached(ChannelObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->ch && !self->closed);
}

static PyObject *chan_get_creator(ChannelObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->creator);
}

static PyObject *chan_get_destroyed(ChannelObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->destroyed);
}

static PyMethodDef chan_methods[] = {
	{ "_create", (PyCFunction)(void (*)(void))chan_create, METH_VARARGS | METH_KEYWORDS,
	  "_create(pool, cuid, capacity=0, block_size=0)\n\nCreate the channel (internal)." },
	{ "_attach", (PyCFunction)chan_attach, METH_VARARGS,
	  "_attach(serialized, pool)\n\nAttach the channel through its descriptor; pool None:\n"
	  "another host's channel, through dipc-bridge (internal)." },
	{ "_detach", (PyCFunction)chan_detach, METH_NOARGS,
	  "_detach()\n\nStop using the channel from this object (internal)." },
	{ "_destroy", (PyCFunction)chan_destroy, METH_NOARGS,
	  "_destroy()\n\nRemove the channel from its pool (internal)." },
	{ "_reattach", (PyCFunction)chan_reattach, METH_VARARGS,
	  "_reattach(serialized, pool)\n\nMake a detached object usable again (internal)." },
	{ "_describe", (PyCFunction)chan_describe, METH_O | METH_CLASS,
	  "_describe(serialized) -> (cuid, pool_descriptor)\n\n"
	  "What a channel descriptor names, read by attaching for a moment (internal)." },
	{ "_poll", (PyCFunction)chan_poll, METH_VARARGS,
	  "_poll(events, timeout=None) -> int\n\nWait for DIPC_POLL_* events; 0 on timeout." },
	{ "serialize", (PyCFunction)chan_serialize, METH_NOARGS,
	  "serialize() -> bytes\n\nA descriptor other processes can attach with Channel.attach().\n"
	  "It is kept, so it stays available after detach(serialize=True)." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef chan_getset[] = {
	{ "cuid", (getter)chan_get_cuid, NULL, "The channel's unique id in its pool.", NULL },
	{ "capacity", (getter)chan_get_capacity, NULL, "How many messages the channel holds.", NULL },
	{ "block_size", (getter)chan_get_block_size, NULL,
	  "Payload bytes a message block holds; larger payloads travel as pool allocations.", NULL },
	{ "num_msgs", (getter)chan_get_num_msgs, NULL, "Messages in the channel now.", NULL },
	{ "_pool", (getter)chan_get_pool, NULL, "The pool the channel lives in (internal).", NULL },
	{ "is_attached", (getter)chan_get_attached, NULL,
	  "True while this object may be used (not detached or destroyed).", NULL },
	{ "is_creator", (getter)chan_get_creator, NULL, "True if this object created the channel.", NULL },
	{ "is_destroyed", (getter)chan_get_destroyed, NULL,
	  "True once destroy() was called on this object.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_ChannelType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc._dragonipc.Channel",
	.tp_basicsize = sizeof(ChannelObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The core of a channel; use dragonipc.channels.Channel.",
	.tp_new = chan_new,
	.tp_dealloc = (destructor)chan_dealloc,
	.tp_methods = chan_methods,
	.tp_getset = chan_getset,
	.tp_weaklistoffset = offsetof(ChannelObject, weakreflist),
};

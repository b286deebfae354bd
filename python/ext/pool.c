/*
 * pool.c - the Pool core type, base of dragonipc.managed_memory.MemoryPool.
 *
 * A pool's mapping must outlive everything that points into it: channels,
 * messages and the memoryviews of their payloads.  Each of those holds the
 * Pool object (a reference and a count in deps).  detach() and destroy()
 * end this object's own use at once, but the mapping is only released when
 * the last holder lets go, so a view can never point into unmapped memory.
 *
 * The same holds for a call waiting in another thread: an allocation that
 * waits for room (Message.create_alloc with a timeout) holds the pool, and
 * by the rule of stream.c detach() or destroy() ends that wait at its next
 * slice with DragonPoolValueError, as an allocation started afterwards
 * would get.  Channel sends and receives are calls on the channel, which
 * holds the pool: they go on in the mapping, whose name alone goes.
 */
#include "dipcpy.h"

#include <string.h>

static PoolObject *pool_live(PoolObject *self)
{
	if (!self->pool || self->closed) {
		dipy_value_error(DIPY_CTX_POOL, self->destroyed ? "the pool was destroyed" :
				 self->pool ? "the pool is detached" : "the pool is not attached");
		return NULL;
	}
	return self;
}

PoolObject *dipy_pool_arg(PyObject *obj, const char *what)
{
	if (!PyObject_TypeCheck(obj, &Dipy_PoolType)) {
		PyErr_Format(PyExc_TypeError, "%s must be a MemoryPool, not %.100s", what,
			     Py_TYPE(obj)->tp_name);
		return NULL;
	}
	return pool_live((PoolObject *)obj);
}

void dipy_pool_hold(PoolObject *p)
{
	Py_INCREF(p);
	p->deps++;
}

static void pool_unmap(PoolObject *p)
{
	if (p->pool) {
		dipc_pool_detach(p->pool);
		p->pool = NULL;
	}
}

void dipy_pool_release(PoolObject *p)
{
	if (--p->deps == 0 && p->closed)
		pool_unmap(p);
	Py_DECREF(p);
}

static PyObject *pool_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	PoolObject *self = (PoolObject *)type->tp_alloc(type, 0);
	return (PyObject *)self;
}

static void pool_dealloc(PoolObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* Collection only ever detaches: unlinking is destroy()'s alone. */
	pool_unmap(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int pool_fresh(PoolObject *self)
{
	if (self->pool || self->closed) {
		dipy_value_error(DIPY_CTX_POOL, "this MemoryPool object is already in use");
		return -1;
	}
	return 0;
}

static PyObject *pool_create(PoolObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "name", "size", "mode", NULL };
	const char *name;
	PyObject *size_obj, *mode_obj = NULL;
	unsigned long long size, mode = 0600;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|O:_create", (char **)kwlist, &name, &size_obj,
					 &mode_obj))
		return NULL;
	if (dipy_uint_arg(size_obj, "size", SIZE_MAX, &size) < 0 ||
	    (mode_obj && dipy_uint_arg(mode_obj, "mode", 0777, &mode) < 0))
		return NULL;
	if (pool_fresh(self) < 0)
		return NULL;
	dipc_pool *p;
	struct dipc_pool_attr attr;
	dipc_pool_attr_init(&attr);
	attr.mode = (uint32_t)mode;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_pool_create(name, (size_t)size, &attr, &p);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL_CREATE, rc, "could not create the pool");
	self->pool = p;
	self->creator = 1;
	Py_RETURN_NONE;
}

static PyObject *pool_attach(PoolObject *self, PyObject *arg)
{
	Py_buffer ser;
	if (PyObject_GetBuffer(arg, &ser, PyBUF_SIMPLE) < 0)
		return NULL;
	if (pool_fresh(self) < 0) {
		PyBuffer_Release(&ser);
		return NULL;
	}
	dipc_pool *p;
	int rc = dipc_pool_attach(ser.buf, (size_t)ser.len, &p);
	PyBuffer_Release(&ser);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL_ATTACH, rc, "could not attach to the pool");
	self->pool = p;
	Py_RETURN_NONE;
}

static PyObject *pool_attach_name(PoolObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "name", "flags", NULL };
	PyObject *name_obj, *flags_obj = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:_attach_name", (char **)kwlist,
					 &name_obj, &flags_obj))
		return NULL;
	const char *name = dipy_name_arg(name_obj);
	if (!name)
		return NULL;
	unsigned long long flags = 0;
	if (flags_obj && dipy_uint_arg(flags_obj, "flags", UINT_MAX, &flags) < 0)
		return NULL;
	if (pool_fresh(self) < 0)
		return NULL;
	dipc_pool *p;
	int rc = dipc_pool_attach_name_flags(name, (unsigned)flags, &p);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL_ATTACH, rc, "could not attach to the pool");
	self->pool = p;
	Py_RETURN_NONE;
}

static PyObject *pool_serialize(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	unsigned char buf[DIPC_SERIAL_MAX];
	int n = dipc_pool_serialize(self->pool, buf, sizeof(buf));
	if (n < 0)
		return dipy_raise(DIPY_CTX_POOL, n, "could not serialize the pool");
	return PyBytes_FromStringAndSize((const char *)buf, n);
}

static PyObject *pool_detach(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (self->closed || !self->pool)
		Py_RETURN_NONE;   /* detaching twice is harmless */
	self->closed = 1;
	if (self->deps == 0)
		pool_unmap(self);
	Py_RETURN_NONE;
}

static PyObject *pool_destroy(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	int rc;
	if (self->deps == 0) {
		rc = dipc_pool_destroy(self->pool);
		self->pool = NULL;
	} else {
		/* Channels or messages still use our mapping: remove the name
		 * through a second handle and keep ours until they let go. */
		unsigned char buf[DIPC_SERIAL_MAX];
		dipc_pool *other;
		int n = dipc_pool_serialize(self->pool, buf, sizeof(buf));
		rc = n < 0 ? n : dipc_pool_attach(buf, (size_t)n, &other);
		if (rc == 0)
			rc = dipc_pool_destroy(other);
		else if (rc == DIPC_ENOENT)
			rc = 0;   /* someone else destroyed it first */
	}
	self->closed = 1;
	self->destroyed = 1;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not destroy the pool");
	Py_RETURN_NONE;
}

static PyObject *pool_stats(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	struct dipc_pool_stats st;
	int rc = dipc_pool_stats(self->pool, &st);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not read the pool's statistics");
	return Py_BuildValue("(KKKKK)", (unsigned long long)st.total, (unsigned long long)st.free,
			     (unsigned long long)st.largest_free, (unsigned long long)st.nallocs,
			     (unsigned long long)st.nchannels);
}

static PyObject *pool_reclaim(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	int rc = dipc_pool_reclaim(self->pool);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not reclaim allocations");
	return PyLong_FromLong(rc);
}

/* The descriptor of the pool a channel descriptor names, found by
 * attaching the channel for a moment. */
static PyObject *pool_channel_pool_desc(PyObject *cls, PyObject *arg)
{
	(void)cls;
	Py_buffer ser;
	if (PyObject_GetBuffer(arg, &ser, PyBUF_SIMPLE) < 0)
		return NULL;
	dipc_channel *ch;
	int rc = dipc_channel_attach(ser.buf, (size_t)ser.len, NULL, &ch);
	PyBuffer_Release(&ser);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not attach to the channel");
	dipc_pool *p;
	unsigned char buf[DIPC_SERIAL_MAX];
	rc = dipc_channel_pool(ch, &p);
	int n = rc < 0 ? rc : dipc_pool_serialize(p, buf, sizeof(buf));
	dipc_channel_detach(ch);
	if (n < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, n, "could not describe the channel's pool");
	return PyBytes_FromStringAndSize((const char *)buf, n);
}

static PyObject *pool_get_attached(PoolObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->pool && !self->closed);
}

static PyObject *pool_get_creator(PoolObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->creator);
}

static PyObject *pool_get_destroyed(PoolObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->destroyed);
}

static PyMethodDef pool_methods[] = {
	{ "_create", (PyCFunction)(void (*)(void))pool_create, METH_VARARGS | METH_KEYWORDS,
	  "_create(name, size, mode=0o600)\n\nCreate the named pool (internal)." },
	{ "_attach", (PyCFunction)pool_attach, METH_O,
	  "_attach(serialized)\n\nAttach to the pool a descriptor names (internal)." },
	{ "_attach_name", (PyCFunction)(void (*)(void))pool_attach_name,
	  METH_VARARGS | METH_KEYWORDS,
	  "_attach_name(name, flags=0)\n\nAttach to a pool by its name; flags 0 or "
	  "SHARED (internal)." },
	{ "_stats", (PyCFunction)pool_stats, METH_NOARGS,
	  "_stats() -> (total, free, largest_free, nallocs, nchannels)" },
	{ "_channel_pool_desc", (PyCFunction)pool_channel_pool_desc, METH_O | METH_CLASS,
	  "_channel_pool_desc(channel_descriptor) -> bytes\n\n"
	  "The descriptor of the pool the channel lives in (internal)." },
	{ "serialize", (PyCFunction)pool_serialize, METH_NOARGS,
	  "serialize() -> bytes\n\nA descriptor other processes can attach with MemoryPool.attach()." },
	{ "detach", (PyCFunction)pool_detach, METH_NOARGS,
	  "detach()\n\nStop using the pool from this object.  The pool itself lives on; the\n"
	  "mapping is released once no channel, message or view made from it remains.\n"
	  "Detaching twice is harmless." },
	{ "destroy", (PyCFunction)pool_destroy, METH_NOARGS,
	  "destroy()\n\nRemove the pool's name so nobody can attach any more, and detach.\n"
	  "Processes already attached keep their mapping until they detach." },
	{ "reclaim", (PyCFunction)pool_reclaim, METH_NOARGS,
	  "reclaim() -> int\n\nFree the allocations of processes that died; return how many." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef pool_getset[] = {
	{ "is_attached", (getter)pool_get_attached, NULL,
	  "True while this object may be used (not detached or destroyed).", NULL },
	{ "is_creator", (getter)pool_get_creator, NULL,
	  "True if this object created the pool (rather than attaching).", NULL },
	{ "is_destroyed", (getter)pool_get_destroyed, NULL,
	  "True once destroy() was called on this object.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_PoolType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc._dragonipc.Pool",
	.tp_basicsize = sizeof(PoolObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The core of a memory pool; use dragonipc.managed_memory.MemoryPool.",
	.tp_new = pool_new,
	.tp_dealloc = (destructor)pool_dealloc,
	.tp_methods = pool_methods,
	.tp_getset = pool_getset,
	.tp_weaklistoffset = offsetof(PoolObject, weakreflist),
};

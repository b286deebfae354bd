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
	static const char *kwlist[] = { "name", "size", "mode", "uid", "flags", "max_allocs", NULL };
	const char *name;
	PyObject *size_obj, *mode_obj = NULL, *uid_obj = NULL, *flags_obj = NULL, *max_obj = NULL;
	unsigned long long size, mode = 0600, uid = 0, flags = 0, max_allocs = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|OOOO:_create", (char **)kwlist, &name,
					 &size_obj, &mode_obj, &uid_obj, &flags_obj, &max_obj))
		return NULL;
	if (dipy_uint_arg(size_obj, "size", SIZE_MAX, &size) < 0 ||
	    (mode_obj && dipy_uint_arg(mode_obj, "mode", 0777, &mode) < 0) ||
	    (uid_obj && dipy_uint_arg(uid_obj, "uid", UINT64_MAX, &uid) < 0) ||
	    (flags_obj && dipy_uint_arg(flags_obj, "flags", UINT32_MAX, &flags) < 0) ||
	    (max_obj && dipy_uint_arg(max_obj, "max_allocs", UINT32_MAX, &max_allocs) < 0))
		return NULL;
	if (pool_fresh(self) < 0)
		return NULL;
	dipc_pool *p;
	struct dipc_pool_attr attr;
	dipc_pool_attr_init(&attr);
	attr.mode = (uint32_t)mode;
	attr.uid = uid;
	attr.flags = (uint32_t)flags;
	attr.max_allocs = (uint32_t)max_allocs;
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

/* ---- revival, attributes, blocks ----------------------------------------------
 *
 * Dragon keys a process's pool handles by the pool's uid, so an object
 * detached with detach() works again once the same pool is attached anew
 * in the process.  managed_memory keeps the detached objects by descriptor
 * and calls _reattach on each when that happens.
 */
static PyObject *pool_reattach(PoolObject *self, PyObject *arg)
{
	if (self->destroyed)
		return dipy_value_error(DIPY_CTX_POOL, "the pool was destroyed");
	if (self->pool && !self->closed)
		Py_RETURN_NONE;
	if (!self->pool) {
		Py_buffer ser;
		if (PyObject_GetBuffer(arg, &ser, PyBUF_SIMPLE) < 0)
			return NULL;
		dipc_pool *p;
		int rc = dipc_pool_attach(ser.buf, (size_t)ser.len, &p);
		PyBuffer_Release(&ser);
		if (rc < 0)
			return dipy_raise(DIPY_CTX_POOL_ATTACH, rc, "could not attach to the pool");
		self->pool = p;
	}
	/* Else channels or views kept the mapping: it is used again. */
	self->closed = 0;
	Py_RETURN_NONE;
}

static PyObject *pool_get_attr(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	struct dipc_pool_attr a;
	int rc = dipc_pool_get_attr(self->pool, &a);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not read the pool's attributes");
	return Py_BuildValue("(kkKk)", (unsigned long)a.mode, (unsigned long)a.flags,
			     (unsigned long long)a.uid, (unsigned long)a.max_allocs);
}

/* [(id, size, kind), ...] of dipc_pool_blocks, in address order. */
static PyObject *pool_blocks(PoolObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!pool_live(self))
		return NULL;
	struct dipc_block_info *bi = NULL;
	size_t cap = 64;
	int n;
	for (;;) {
		struct dipc_block_info *nb = PyMem_Realloc(bi, cap * sizeof(*bi));
		if (!nb) {
			PyMem_Free(bi);
			return PyErr_NoMemory();
		}
		bi = nb;
		Py_BEGIN_ALLOW_THREADS
		n = dipc_pool_blocks(self->pool, bi, cap);
		Py_END_ALLOW_THREADS
		if (n < 0) {
			PyMem_Free(bi);
			return dipy_raise(DIPY_CTX_POOL, n, "could not list the pool's blocks");
		}
		if ((size_t)n <= cap)
			break;
		cap = (size_t)n + n / 4 + 16;   /* others allocate meanwhile */
	}
	PyObject *list = PyList_New(n);
	for (int i = 0; list && i < n; i++) {
		PyObject *t = Py_BuildValue("(KKk)", (unsigned long long)bi[i].id,
					    (unsigned long long)bi[i].size, (unsigned long)bi[i].kind);
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, i, t);
	}
	PyMem_Free(bi);
	return list;
}

/* ---- raw allocations: the Alloc type -------------------------------------------
 *
 * An Alloc owns one memory handle (never the allocation: collection only
 * lets go of the handle, as a Dragon MemoryAlloc does) and holds its pool,
 * so that the mapping outlives it and every view of it.  Its buffer is the
 * allocation's bytes, without a copy.
 *
 * free() frees at once, as Dragon's does, views or not: programs written
 * for Dragon free an allocation while a view of it is still in scope and
 * then wait for that room (a deferred free would deadlock them).  A view
 * kept past free() still maps pool memory, so it never faults; what it
 * shows then is the next user's, and writing through it is the program's
 * bug (the pool's own records are checked where they are read, so such a
 * write spoils the pool's exchange with DIPC_ECORRUPT, never more).
 */
typedef struct {
	PyObject_HEAD
	dipc_mem *mem;          /* NULL: never attached, detached or freed */
	PoolObject *pool;       /* held while the object exists */
	Py_ssize_t exports;
	PyObject *weakreflist;
} AllocObject;

static PyObject *alloc_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	return type->tp_alloc(type, 0);
}

static void alloc_let_go(AllocObject *a)
{
	if (a->mem) {
		dipc_mem_detach(a->mem);
		a->mem = NULL;
	}
	if (a->pool) {
		PoolObject *p = a->pool;
		a->pool = NULL;
		dipy_pool_release(p);
	}
}

static void alloc_dealloc(AllocObject *a)
{
	if (a->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)a);
	alloc_let_go(a);
	Py_TYPE(a)->tp_free((PyObject *)a);
}

/* A new object of cls (Alloc or a subclass) owning mem, in pool. */
static PyObject *alloc_wrap(PyObject *cls, PoolObject *pool, dipc_mem *mem)
{
	if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &Dipy_AllocType)) {
		dipc_mem_detach(mem);
		PyErr_SetString(PyExc_TypeError, "cls must be a subclass of Alloc");
		return NULL;
	}
	PyTypeObject *t = (PyTypeObject *)cls;
	AllocObject *a = (AllocObject *)t->tp_alloc(t, 0);
	if (!a) {
		dipc_mem_detach(mem);
		return NULL;
	}
	a->mem = mem;
	dipy_pool_hold(pool);
	a->pool = pool;
	return (PyObject *)a;
}

static AllocObject *alloc_live(AllocObject *a)
{
	if (!a->mem) {
		dipy_value_error(DIPY_CTX_MEM,
				 "the allocation is not attached (detached, freed or never attached)");
		return NULL;
	}
	return a;
}

struct palloc_op {
	dipc_pool *pool;
	size_t size;
	dipc_mem *mem;
};

static int palloc_once(void *arg, int64_t t)
{
	struct palloc_op *op = arg;
	return dipc_pool_alloc_wait(op->pool, op->size, t, &op->mem);
}

static int palloc_pool_gone(void *arg)
{
	PoolObject *p = arg;
	return p->closed ? DIPY_ECLOSED : 0;
}

/* _alloc(cls, size, timeout): a new allocation; timeout as dipy_timeout_from_py. */
static PyObject *pool_alloc_mem(PoolObject *self, PyObject *args)
{
	PyObject *cls, *size_obj, *timeout = Py_None;
	if (!PyArg_ParseTuple(args, "OO|O:_alloc", &cls, &size_obj, &timeout))
		return NULL;
	unsigned long long size;
	int64_t t;
	if (dipy_uint_arg(size_obj, "size", SIZE_MAX, &size) < 0 ||
	    dipy_timeout_from_py(timeout, &t) < 0)
		return NULL;
	if (!pool_live(self))
		return NULL;
	struct palloc_op op = { self->pool, (size_t)size, NULL };
	dipy_pool_hold(self);
	int rc = dipy_wait_stop(palloc_once, &op, t, DIPC_ENOSPC, palloc_pool_gone, self);
	PyObject *res = NULL;
	if (rc == DIPY_ECLOSED)
		dipy_value_error(DIPY_CTX_POOL, self->destroyed ?
				 "the pool was destroyed while the allocation waited" :
				 "the pool was detached while the allocation waited");
	else if (rc < 0)
		dipy_raise(DIPY_CTX_POOL_ALLOC, rc, "the allocation is not available");
	else
		res = alloc_wrap(cls, self, op.mem);
	dipy_pool_release(self);
	return res;
}

/* _from_id(cls, id): the allocation with that id, or None. */
static PyObject *pool_from_id(PoolObject *self, PyObject *args)
{
	PyObject *cls, *id_obj;
	if (!PyArg_ParseTuple(args, "OO:_from_id", &cls, &id_obj))
		return NULL;
	unsigned long long id;
	if (dipy_uint_arg(id_obj, "id", UINT64_MAX, &id) < 0 || !pool_live(self))
		return NULL;
	dipc_mem *m;
	int rc = dipc_mem_from_id(self->pool, id, &m);
	if (rc == DIPC_ENOENT)
		Py_RETURN_NONE;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not look the allocation up");
	return alloc_wrap(cls, self, m);
}

/* _mem_attach(cls, descriptor): the allocation a memory descriptor names. */
static PyObject *pool_mem_attach(PoolObject *self, PyObject *args)
{
	PyObject *cls, *desc;
	if (!PyArg_ParseTuple(args, "OO:_mem_attach", &cls, &desc))
		return NULL;
	if (!pool_live(self))
		return NULL;
	Py_buffer ser;
	if (PyObject_GetBuffer(desc, &ser, PyBUF_SIMPLE) < 0)
		return NULL;
	dipc_mem *m;
	int rc = dipc_mem_attach(self->pool, ser.buf, (size_t)ser.len, &m);
	PyBuffer_Release(&ser);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_MEM_ATTACH, rc, "could not attach to the memory");
	return alloc_wrap(cls, self, m);
}

static PyObject *alloc_cdesc(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	unsigned char buf[DIPC_SERIAL_MAX];
	int n = dipc_mem_serialize(self->mem, buf, sizeof(buf));
	if (n < 0)
		return dipy_raise(DIPY_CTX_MEM, n, "could not serialize the memory");
	return PyBytes_FromStringAndSize((const char *)buf, n);
}

/* _clone(offset, length or None) -> a new object of the same type. */
static PyObject *alloc_clone(AllocObject *self, PyObject *args)
{
	PyObject *off_obj, *len_obj = Py_None;
	if (!PyArg_ParseTuple(args, "O|O:_clone", &off_obj, &len_obj))
		return NULL;
	unsigned long long off, len;
	if (dipy_uint_arg(off_obj, "offset", SIZE_MAX, &off) < 0 ||
	    (len_obj != Py_None && dipy_uint_arg(len_obj, "length", SIZE_MAX, &len) < 0))
		return NULL;
	if (!alloc_live(self))
		return NULL;
	size_t size;
	dipc_mem_get(self->mem, NULL, &size);
	if (len_obj == Py_None)
		len = off <= size ? size - off : 0;
	dipc_mem *c;
	int rc = dipc_mem_clone(self->mem, (size_t)off, (size_t)len, &c);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_POOL, rc, "could not clone the allocation");
	return alloc_wrap((PyObject *)Py_TYPE(self), self->pool, c);
}

static PyObject *alloc_free(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_mem_free(self->mem);
	Py_END_ALLOW_THREADS
	self->mem = NULL;
	if (rc < 0)
		return dipy_raise(DIPY_CTX_MEM, rc, "could not free the allocation");
	Py_RETURN_NONE;
}

static PyObject *alloc_detach(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	dipc_mem_detach(self->mem);
	self->mem = NULL;
	Py_RETURN_NONE;
}

static PyObject *alloc_id(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	uint64_t id;
	int rc = dipc_mem_id(self->mem, &id);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_MEM, rc, "could not read the allocation's id");
	return PyLong_FromUnsignedLongLong(id);
}

/* _clear(start, stop): zero bytes [start, stop), clipped to the range. */
static PyObject *alloc_clear(AllocObject *self, PyObject *args)
{
	PyObject *start_obj, *stop_obj;
	if (!PyArg_ParseTuple(args, "OO:_clear", &start_obj, &stop_obj))
		return NULL;
	unsigned long long start, stop;
	if (dipy_uint_arg(start_obj, "start", UINT64_MAX, &start) < 0 ||
	    dipy_uint_arg(stop_obj, "stop", UINT64_MAX, &stop) < 0 || !alloc_live(self))
		return NULL;
	void *ptr;
	size_t size;
	dipc_mem_get(self->mem, &ptr, &size);
	if (stop > size)
		stop = size;
	if (start < stop)
		memset((unsigned char *)ptr + start, 0, (size_t)(stop - start));
	Py_RETURN_NONE;
}

static PyObject *alloc_pool_obj(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	Py_INCREF(self->pool);
	return (PyObject *)self->pool;
}

static int alloc_getbuffer(AllocObject *self, Py_buffer *view, int flags)
{
	view->obj = NULL;
	if (!self->mem) {
		PyErr_SetString(PyExc_BufferError, "the allocation is not attached");
		return -1;
	}
	void *ptr;
	size_t size;
	dipc_mem_get(self->mem, &ptr, &size);
	if (PyBuffer_FillInfo(view, (PyObject *)self, ptr, (Py_ssize_t)size, 0, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void alloc_releasebuffer(AllocObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyObject *alloc_memview(AllocObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!alloc_live(self))
		return NULL;
	return PyMemoryView_FromObject((PyObject *)self);
}

static PyObject *alloc_get_size(AllocObject *self, void *closure)
{
	(void)closure;
	size_t size = 0;
	if (self->mem)
		dipc_mem_get(self->mem, NULL, &size);
	return PyLong_FromSize_t(size);
}

static PyObject *alloc_get_attached(AllocObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->mem != NULL);
}

static PyMethodDef alloc_methods[] = {
	{ "_cdesc", (PyCFunction)alloc_cdesc, METH_NOARGS,
	  "_cdesc() -> bytes\n\nThe library's descriptor of this range (internal)." },
	{ "_clone", (PyCFunction)alloc_clone, METH_VARARGS,
	  "_clone(offset, length=None)\n\nA handle on [offset, offset+length) (internal)." },
	{ "_free", (PyCFunction)alloc_free, METH_NOARGS,
	  "_free()\n\nFree the allocation for everybody (internal)." },
	{ "_detach", (PyCFunction)alloc_detach, METH_NOARGS,
	  "_detach()\n\nLet go of this handle; the allocation lives on (internal)." },
	{ "_id", (PyCFunction)alloc_id, METH_NOARGS, "_id() -> int (internal)" },
	{ "_clear", (PyCFunction)alloc_clear, METH_VARARGS, "_clear(start, stop) (internal)" },
	{ "_pool", (PyCFunction)alloc_pool_obj, METH_NOARGS,
	  "_pool() -> the Pool object the allocation lives in (internal)" },
	{ "_memview", (PyCFunction)alloc_memview, METH_NOARGS,
	  "_memview() -> a writable memoryview of the bytes, without a copy (internal)" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef alloc_getset[] = {
	{ "_size", (getter)alloc_get_size, NULL, "Bytes in the range (0 when not attached).", NULL },
	{ "_attached", (getter)alloc_get_attached, NULL, "True while the handle may be used.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyBufferProcs alloc_as_buffer = {
	.bf_getbuffer = (getbufferproc)alloc_getbuffer,
	.bf_releasebuffer = (releasebufferproc)alloc_releasebuffer,
};

PyTypeObject Dipy_AllocType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc._dragonipc.Alloc",
	.tp_basicsize = sizeof(AllocObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The core of a raw allocation; use dragonipc.managed_memory.MemoryAlloc.",
	.tp_new = alloc_tp_new,
	.tp_dealloc = (destructor)alloc_dealloc,
	.tp_as_buffer = &alloc_as_buffer,
	.tp_methods = alloc_methods,
	.tp_getset = alloc_getset,
	.tp_weaklistoffset = offsetof(AllocObject, weakreflist),
};

static PyMethodDef pool_methods[] = {
	{ "_create", (PyCFunction)(void (*)(void))pool_create, METH_VARARGS | METH_KEYWORDS,
	  "_create(name, size, mode=0o600, uid=0, flags=0, max_allocs=0)\n\n"
	  "Create the named pool (internal)." },
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
	{ "_reattach", (PyCFunction)pool_reattach, METH_O,
	  "_reattach(serialized)\n\nUse this detached object again (internal)." },
	{ "_get_attr", (PyCFunction)pool_get_attr, METH_NOARGS,
	  "_get_attr() -> (mode, flags, uid, max_allocs) (internal)" },
	{ "_blocks", (PyCFunction)pool_blocks, METH_NOARGS,
	  "_blocks() -> [(id, size, kind), ...] in address order (internal)" },
	{ "_alloc", (PyCFunction)pool_alloc_mem, METH_VARARGS,
	  "_alloc(cls, size, timeout=None) -> cls\n\nA new allocation (internal)." },
	{ "_from_id", (PyCFunction)pool_from_id, METH_VARARGS,
	  "_from_id(cls, id) -> cls or None (internal)" },
	{ "_mem_attach", (PyCFunction)pool_mem_attach, METH_VARARGS,
	  "_mem_attach(cls, descriptor) -> cls (internal)" },
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

/*
 * chanset.c - channel barriers and channel sets for dragonipc.channels.
 *
 * Module functions for the barrier operations and queries on a Channel
 * (Dragon's POLLBARRIER_* poll events, barrier_count, blocked_receivers),
 * and the ChannelSetCore type under dragonipc.channels.ChannelSet.
 *
 * Waits run as every wait here does: tried once with the GIL held, then in
 * slices with it released, checking signals between them; a barrier wait
 * that expires changes nothing in the C library, so slicing it is safe
 * (the Python layer breaks the barrier when the caller's whole timeout has
 * expired, as Dragon does).  The channels and the pool a call or a set
 * uses are held (their deps counted), so detach() or destroy() in another
 * thread never frees what a wait uses; such a wait ends at its next slice.
 *
 * A set belongs to the process that made it: collected in a child of
 * fork(), only the child's copy of the handle goes (the C library leaves
 * the parent's entries alone).
 */
#include "dipcpy.h"

/* ---- barriers -------------------------------------------------------------- */

struct barrier_op {
	dipc_channel *ch;
	int op;
};

static int barrier_once(void *arg, int64_t t)
{
	struct barrier_op *b = arg;
	return dipc_channel_barrier(b->ch, b->op, t);
}

static int chan_closed(void *arg)
{
	ChannelObject *c = arg;
	if (!c->closed)
		return 0;
	return c->destroyed ? DIPC_EDESTROYED : DIPY_ECLOSED;
}

/* _channel_barrier(channel, op, timeout) -> int: 0, BARRIER_LAST, or one of
 * the codes a caller decides on (EFULL, EBUSY, ETIMEDOUT, EBROKEN); other
 * failures raise. */
static PyObject *mod_barrier(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *ch_obj, *op_obj, *timeout = Py_None;
	long long op;
	if (!PyArg_ParseTuple(args, "OO|O:_channel_barrier", &ch_obj, &op_obj, &timeout) ||
	    dipy_int_arg(op_obj, "op", INT_MIN, INT_MAX, &op) < 0)
		return NULL;
	ChannelObject *c = dipy_channel_arg(ch_obj);
	if (!c)
		return NULL;
	int64_t t;
	if (dipy_timeout_from_py(timeout, &t) < 0)
		return NULL;
	struct barrier_op b = { c->ch, (int)op };
	dipy_channel_hold(c);
	int busy = op == DIPC_BARRIER_WAIT ? DIPC_EFULL : DIPC_EBUSY;
	int rc = dipy_wait_stop(barrier_once, &b, t, busy, chan_closed, c);
	dipy_channel_release(c);
	if (rc == DIPY_ECLOSED)
		return dipy_value_error(DIPY_CTX_CHANNEL, "the channel was detached while it waited");
	if (rc >= 0 || rc == DIPC_EFULL || rc == DIPC_EBUSY || rc == DIPC_ETIMEDOUT ||
	    rc == DIPC_EBROKEN)
		return PyLong_FromLong(rc);
	return dipy_raise(DIPY_CTX_CHANNEL, rc, "the barrier operation failed");
}

static PyObject *count_result(int rc, const char *what)
{
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, what);
	return PyLong_FromLong(rc);
}

static PyObject *mod_barrier_count(PyObject *self, PyObject *arg)
{
	(void)self;
	ChannelObject *c = dipy_channel_arg(arg);
	if (!c)
		return NULL;
	return count_result(dipc_channel_barrier_count(c->ch), "could not read the barrier count");
}

static PyObject *mod_barrier_broken(PyObject *self, PyObject *arg)
{
	(void)self;
	ChannelObject *c = dipy_channel_arg(arg);
	if (!c)
		return NULL;
	int rc = dipc_channel_barrier_broken(c->ch);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_CHANNEL, rc, "could not read the barrier's state");
	return PyBool_FromLong(rc);
}

static PyObject *mod_blocked_receivers(PyObject *self, PyObject *arg)
{
	(void)self;
	ChannelObject *c = dipy_channel_arg(arg);
	if (!c)
		return NULL;
	return count_result(dipc_channel_blocked_receivers(c->ch),
			    "could not count the blocked receivers");
}

/* ---- channel sets ------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	dipc_channelset *set;
	PoolObject *pool;       /* held while set exists */
	PyObject *channels;     /* tuple of the ChannelObjects, each held */
	long owner;             /* the process that made it */
	int busy;               /* polls running */
	int closed;             /* destroy() was called */
	PyObject *weakreflist;
} ChannelSetObject;

static void cset_release(ChannelSetObject *s)
{
	if (s->set) {
		/* In a child of fork(), the C call frees only our copy. */
		dipc_channelset_destroy(s->set);
		s->set = NULL;
	}
	if (s->channels) {
		Py_ssize_t n = PyTuple_GET_SIZE(s->channels);
		for (Py_ssize_t i = 0; i < n; i++)
			dipy_channel_release((ChannelObject *)PyTuple_GET_ITEM(s->channels, i));
	}
	Py_CLEAR(s->channels);
	PoolObject *p = s->pool;
	s->pool = NULL;
	if (p)
		dipy_pool_release(p);
}

static PyObject *cset_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	return type->tp_alloc(type, 0);
}

static void cset_dealloc(ChannelSetObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	cset_release(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* __init__(pool, channels, events) */
static int cset_init(ChannelSetObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "pool", "channels", "events", NULL };
	PyObject *pool_obj, *list, *ev_obj;
	long long events;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:ChannelSetCore", (char **)kwlist, &pool_obj,
					 &list, &ev_obj) ||
	    dipy_int_arg(ev_obj, "events", INT_MIN, INT_MAX, &events) < 0)
		return -1;
	if (self->set || self->closed) {
		dipy_value_error(DIPY_CTX_CHANNEL, "this channel set is already in use");
		return -1;
	}
	PoolObject *pool = dipy_pool_arg(pool_obj, "mem_pool");
	if (!pool)
		return -1;
	PyObject *chans = PySequence_Tuple(list);
	if (!chans)
		return -1;
	Py_ssize_t n = PyTuple_GET_SIZE(chans);
	if (n == 0 || n > DIPC_CHANNELSET_MAX) {
		Py_DECREF(chans);
		dipy_value_error(DIPY_CTX_CHANNEL, "a channel set needs 1 to %d channels, not %zd",
				 DIPC_CHANNELSET_MAX, n);
		return -1;
	}
	dipc_channel **arr = PyMem_Calloc((size_t)n, sizeof(*arr));
	if (!arr) {
		Py_DECREF(chans);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		ChannelObject *c = dipy_channel_arg(PyTuple_GET_ITEM(chans, i));
		if (!c) {
			PyMem_Free(arr);
			Py_DECREF(chans);
			return -1;
		}
		arr[i] = c->ch;
	}
	dipc_channelset *set;
	int rc = dipc_channelset_create(pool->pool, arr, (size_t)n, (int)events, &set);
	PyMem_Free(arr);
	if (rc < 0) {
		Py_DECREF(chans);
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not create the channel set");
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		dipy_channel_hold((ChannelObject *)PyTuple_GET_ITEM(chans, i));
	dipy_pool_hold(pool);
	self->set = set;
	self->pool = pool;
	self->channels = chans;
	self->owner = dipy_pid();
	return 0;
}

struct cset_poll_op {
	dipc_channelset *set;
	struct dipc_channelset_event *ev;
	size_t max;
};

static int cset_poll_once(void *arg, int64_t t)
{
	struct cset_poll_op *o = arg;
	return dipc_channelset_poll(o->set, o->ev, o->max, t);
}

static int cset_closed(void *arg)
{
	ChannelSetObject *s = arg;
	return s->closed ? DIPY_ECLOSED : 0;
}

/* _poll(max, timeout) -> list of (index, revents); empty when the wait
 * expired (or nothing held, trying once). */
static PyObject *cset_poll(ChannelSetObject *self, PyObject *args)
{
	PyObject *max_obj, *timeout = Py_None;
	long long max;
	if (!PyArg_ParseTuple(args, "O|O:_poll", &max_obj, &timeout) ||
	    dipy_int_arg(max_obj, "max", 1, DIPC_CHANNELSET_MAX, &max) < 0)
		return NULL;
	if (!self->set || self->closed)
		return dipy_value_error(DIPY_CTX_CHANNEL, "the channel set was destroyed");
	int64_t t;
	if (dipy_timeout_from_py(timeout, &t) < 0)
		return NULL;
	struct dipc_channelset_event *ev = PyMem_Calloc((size_t)max, sizeof(*ev));
	if (!ev)
		return PyErr_NoMemory();
	struct cset_poll_op o = { self->set, ev, (size_t)max };
	self->busy++;
	Py_INCREF(self);
	int rc = dipy_wait_stop(cset_poll_once, &o, t, 0, cset_closed, self);
	self->busy--;
	PyObject *out = NULL;
	if (rc == DIPY_ECLOSED) {
		dipy_value_error(DIPY_CTX_CHANNEL, "the channel set was destroyed while poll waited");
	} else if (rc == DIPC_ETIMEDOUT || rc == 0) {
		out = PyList_New(0);
	} else if (rc < 0) {
		dipy_raise(DIPY_CTX_CHANNEL, rc, "could not poll the channel set");
	} else {
		out = PyList_New(rc);
		for (int i = 0; out && i < rc; i++) {
			PyObject *item = Py_BuildValue("(Ii)", ev[i].index, ev[i].revents);
			if (!item) {
				Py_CLEAR(out);
				break;
			}
			PyList_SET_ITEM(out, i, item);
		}
	}
	PyMem_Free(ev);
	/* destroy() during the wait left the release to the last poll. */
	if (self->closed && !self->busy)
		cset_release(self);
	Py_DECREF(self);
	return out;
}

static PyObject *cset_destroy(ChannelSetObject *self, PyObject *noarg)
{
	(void)noarg;
	if (self->closed)
		Py_RETURN_NONE;
	self->closed = 1;
	if (!self->busy)
		cset_release(self);
	Py_RETURN_NONE;
}

static PyObject *cset_get_channels(ChannelSetObject *self, void *closure)
{
	(void)closure;
	if (!self->channels)
		return PyTuple_New(0);
	Py_INCREF(self->channels);
	return self->channels;
}

static PyObject *cset_get_destroyed(ChannelSetObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->closed || !self->set);
}

static PyMethodDef cset_methods[] = {
	{ "_poll", (PyCFunction)cset_poll, METH_VARARGS,
	  "_poll(max, timeout=None) -> [(index, revents), ...]\n\n"
	  "Wait for the set's events; an empty list when the wait expired." },
	{ "destroy", (PyCFunction)cset_destroy, METH_NOARGS,
	  "destroy()\n\nStop watching the channels and free the set (also done when the "
	  "object is collected).  A poll waiting in another thread ends." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef cset_getset[] = {
	{ "_channels", (getter)cset_get_channels, NULL, "The channels, in order (internal).", NULL },
	{ "is_destroyed", (getter)cset_get_destroyed, NULL, "True once destroy() was called.",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_ChannelSetType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc._dragonipc.ChannelSetCore",
	.tp_basicsize = sizeof(ChannelSetObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The core of a channel set; use dragonipc.channels.ChannelSet.",
	.tp_new = cset_new,
	.tp_init = (initproc)cset_init,
	.tp_dealloc = (destructor)cset_dealloc,
	.tp_methods = cset_methods,
	.tp_getset = cset_getset,
	.tp_weaklistoffset = offsetof(ChannelSetObject, weakreflist),
};

static PyMethodDef chanset_functions[] = {
	{ "_channel_barrier", mod_barrier, METH_VARARGS,
	  "_channel_barrier(channel, op, timeout=None) -> int\n\n"
	  "A BARRIER_* operation; returns 0, BARRIER_LAST, EFULL, EBUSY, ETIMEDOUT or "
	  "EBROKEN, raises otherwise." },
	{ "_channel_barrier_count", mod_barrier_count, METH_O,
	  "_channel_barrier_count(channel) -> int\n\nParties counted in, not yet released." },
	{ "_channel_barrier_broken", mod_barrier_broken, METH_O,
	  "_channel_barrier_broken(channel) -> bool\n\nIs the channel's barrier broken?" },
	{ "_channel_blocked_receivers", mod_blocked_receivers, METH_O,
	  "_channel_blocked_receivers(channel) -> int\n\nReceivers asleep on the channel." },
	{ NULL, NULL, 0, NULL },
};

int dipy_chanset_init(PyObject *module)
{
	if (PyType_Ready(&Dipy_ChannelSetType) < 0)
		return -1;
	Py_INCREF(&Dipy_ChannelSetType);
	if (PyModule_AddObject(module, "ChannelSetCore", (PyObject *)&Dipy_ChannelSetType) < 0) {
		Py_DECREF(&Dipy_ChannelSetType);
		return -1;
	}
	if (PyModule_AddFunctions(module, chanset_functions) < 0)
		return -1;
	struct { const char *n; long v; } consts[] = {
		{ "BARRIER_WAIT", DIPC_BARRIER_WAIT }, { "BARRIER_RELEASE", DIPC_BARRIER_RELEASE },
		{ "BARRIER_ABORT", DIPC_BARRIER_ABORT }, { "BARRIER_RESET", DIPC_BARRIER_RESET },
		{ "BARRIER_LAST", DIPC_BARRIER_LAST }, { "POLL_DESTROYED", DIPC_POLL_DESTROYED },
		{ "CHANNEL_MAX_WATCHERS", DIPC_CHANNEL_MAX_WATCHERS },
		{ "CHANNELSET_MAX", DIPC_CHANNELSET_MAX },
	};
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
		if (PyModule_AddIntConstant(module, consts[i].n, consts[i].v) < 0)
			return -1;
	return 0;
}

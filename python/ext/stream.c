/*
 * stream.c - the Stream core type behind dragonipc.smipc.Channel.
 *
 * write() and read() are the hot paths and stay here.  Both first move
 * what they can with the GIL held (no wait), then wait in slices with the
 * GIL released, looking at signals between slices, so Ctrl-C interrupts a
 * read or write that would block forever.
 *
 * The listener runs on a library thread and calls back with the GIL taken
 * for each chunk.  Anything that may join that thread (unlisten, close,
 * cleanup) releases the GIL first, or the thread could wait for the GIL
 * while we wait for the thread.
 */
#include "dipcpy.h"

#include <string.h>

/* The stream whose callback this thread is running, if any. */
static _Thread_local void *cb_current;

typedef struct {
	PyObject_HEAD
	dipc_stream *s;         /* NULL when not open */
	long owner;             /* the process that opened it */
	int role;
	PyObject *callback;     /* listener's callable while one is set */
	int listening;          /* we hold a reference to ourselves for it */
	PyObject *weakreflist;
} StreamObject;

static StreamObject *stream_open_or_raise(StreamObject *self)
{
	if (!self->s) {
		dipy_raise(DIPY_CTX_STREAM, DIPC_ENOTOPEN, "the channel is not open");
		return NULL;
	}
	return self;
}

static PyObject *stream_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	return type->tp_alloc(type, 0);
}

/* Stop the listener (if ours) and drop what it held.  GIL held on entry. */
static int stream_stop_listener(StreamObject *self)
{
	int rc = 0;
	if (self->s && self->listening) {
		dipc_stream *s = self->s;
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_stream_unlisten(s);
		Py_END_ALLOW_THREADS
	}
	return rc;
}

static void stream_forget_listener(StreamObject *self)
{
	if (self->listening) {
		self->listening = 0;
		Py_CLEAR(self->callback);
		Py_DECREF(self);   /* the listener's hold on us */
	}
}

static int stream_close_c(StreamObject *self)
{
	if (!self->s)
		return 0;
	dipc_stream *s = self->s;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_stream_close(s);
	Py_END_ALLOW_THREADS
	if (rc == DIPC_EBUSY)
		return rc;      /* from our own listener: it must finish first */
	self->s = NULL;
	return rc == DIPC_ENOTOPEN ? 0 : rc;
}

static void stream_dealloc(StreamObject *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* A listening stream holds itself, so none is listening here.  A copy
	 * inherited through fork() leaves the parent's role alone. */
	if (self->owner == dipy_pid())
		stream_close_c(self);
	Py_CLEAR(self->callback);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *stream_open(StreamObject *self, PyObject *args, PyObject *kw)
{
	static const char *kwlist[] = { "name", "role", "size", "perm", NULL };
	const char *name;
	PyObject *role_obj, *size_obj, *perm_obj = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sOO|O:open", (char **)kwlist, &name, &role_obj,
					 &size_obj, &perm_obj))
		return NULL;
	long long role, size;
	unsigned long long perm = 0;
	if (dipy_int_arg(role_obj, "mode", INT_MIN, INT_MAX, &role) < 0 ||
	    dipy_int_arg(size_obj, "chanSz", LLONG_MIN, LLONG_MAX, &size) < 0 ||
	    (perm_obj && dipy_uint_arg(perm_obj, "perm", UINT_MAX, &perm) < 0))
		return NULL;
	if (self->s)
		return dipy_value_error(DIPY_CTX_STREAM, "the channel is already open");
	if (role != DIPC_STREAM_READ && role != DIPC_STREAM_WRITE)
		return dipy_value_error(DIPY_CTX_STREAM, "mode must be CHAN_R or CHAN_W, not %lld", role);
	if (size <= 0)
		return dipy_value_error(DIPY_CTX_STREAM, "the channel size must be positive, not %lld", size);
	dipc_stream *s;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_stream_open(name, (int)role, (size_t)size, (unsigned)perm, &s);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		const char *why = rc == DIPC_EBUSY ? (role == DIPC_STREAM_READ ?
				"could not open the channel: it already has a reader" :
				"could not open the channel: it already has a writer") :
				"could not open the channel";
		return dipy_raise(DIPY_CTX_STREAM, rc, why);
	}
	self->s = s;
	self->owner = dipy_pid();
	self->role = role;
	Py_RETURN_NONE;
}

static PyObject *stream_close(StreamObject *self, PyObject *noarg)
{
	(void)noarg;
	if (cb_current == self)
		return dipy_raise(DIPY_CTX_STREAM, DIPC_EBUSY,
				  "a channel cannot be closed from its own read_async callback "
				  "(stop the listener there and close the channel afterwards)");
	stream_stop_listener(self);
	stream_forget_listener(self);
	int rc = stream_close_c(self);
	if (rc < 0)
		return dipy_raise(DIPY_CTX_STREAM, rc, "could not close the channel");
	Py_RETURN_NONE;
}

/* ---- write ---------------------------------------------------------------- */

static PyObject *stream_write(StreamObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	static const char *const kwlist[] = { "data", "timeout" };
	PyObject *a[2] = { NULL, NULL };
	if (dipy_parse("write", args, nargs, kwnames, kwlist, 2, 1, a) < 0)
		return NULL;
	if (!stream_open_or_raise(self))
		return NULL;
	int64_t t = DIPC_WAIT_FOREVER;
	if (a[1] && dipy_timeout_from_py(a[1], &t) < 0)
		return NULL;
	Py_buffer buf;
	const char *data;
	Py_ssize_t len;
	int have_buf = 0;
	if (PyUnicode_Check(a[0])) {
		data = PyUnicode_AsUTF8AndSize(a[0], &len);
		if (!data)
			return NULL;
	} else {
		if (PyObject_GetBuffer(a[0], &buf, PyBUF_SIMPLE) < 0) {
			PyErr_Clear();
			return dipy_value_error(DIPY_CTX_STREAM,
				"data must be bytes, bytearray, memoryview or str, not %.100s",
				Py_TYPE(a[0])->tp_name);
		}
		have_buf = 1;
		data = buf.buf;
		len = buf.len;
	}
	dipc_stream *s = self->s;
	size_t done = 0;
	int64_t rc = 0;
	/* What fits now, without waiting. */
	if (len > 0) {
		rc = dipc_stream_write(s, data, (size_t)len, DIPC_TRY_ONCE);
		if (rc > 0)
			done = (size_t)rc;
	}
	int64_t deadline = t > 0 ? dipy_now_ns() + t : 0;
	while (done < (size_t)len && (rc >= 0 || rc == DIPC_EFULL || rc == DIPC_ETIMEDOUT)) {
		if (t == DIPC_TRY_ONCE) {
			rc = DIPC_EFULL;
			break;
		}
		int64_t slice = DIPY_SLICE_NS;
		if (t > 0) {
			int64_t left = deadline - dipy_now_ns();
			if (left <= 0) {
				rc = DIPC_ETIMEDOUT;
				break;
			}
			if (left < slice)
				slice = left;
		}
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_stream_write(s, data + done, (size_t)len - done, slice);
		Py_END_ALLOW_THREADS
		if (rc > 0)
			done += (size_t)rc;
		if (done < (size_t)len && PyErr_CheckSignals() < 0) {
			if (have_buf)
				PyBuffer_Release(&buf);
			return NULL;
		}
	}
	if (have_buf)
		PyBuffer_Release(&buf);
	if (done == (size_t)len)
		return PyLong_FromSize_t(done);
	/* Part of the data may have gone: say how much. */
	dipy_raise(DIPY_CTX_STREAM, (int)rc, done ? "the write was cut short" : "could not write");
	if (PyErr_Occurred()) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		PyObject *n = PyLong_FromSize_t(done);
		if (n && value)
			PyObject_SetAttrString(value, "written", n);
		Py_XDECREF(n);
		PyErr_Restore(type, value, tb);
	}
	return NULL;
}

/* ---- read ---------------------------------------------------------------- */

static PyObject *stream_read(StreamObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	static const char *const kwlist[] = { "buf", "n", "blocking", "timeout" };
	PyObject *a[4] = { NULL, NULL, NULL, NULL };
	if (dipy_parse("read", args, nargs, kwnames, kwlist, 4, 2, a) < 0)
		return NULL;
	if (!stream_open_or_raise(self))
		return NULL;
	long long n;
	if (dipy_int_arg(a[1], "n", LLONG_MIN, LLONG_MAX, &n) < 0)
		return NULL;
	int blocking = a[2] ? PyObject_IsTrue(a[2]) : 0;
	if (blocking < 0)
		return NULL;
	int64_t t = blocking ? DIPC_WAIT_FOREVER : DIPC_TRY_ONCE;
	if (a[3] && a[3] != Py_None) {
		if (dipy_timeout_from_py(a[3], &t) < 0)
			return NULL;
		if (!blocking)
			t = DIPC_TRY_ONCE;
	}
	Py_buffer buf;
	if (PyObject_GetBuffer(a[0], &buf, PyBUF_WRITABLE) < 0) {
		PyErr_Clear();
		return dipy_value_error(DIPY_CTX_STREAM,
			"buf must be a writable buffer (create_string_buffer, bytearray, ...), not %.100s",
			Py_TYPE(a[0])->tp_name);
	}
	if (n < 0 || n > buf.len) {
		PyBuffer_Release(&buf);
		return dipy_value_error(DIPY_CTX_STREAM, "n must be between 0 and len(buf) = %zd, not %lld",
					buf.len, n);
	}
	dipc_stream *s = self->s;
	char *dst = buf.buf;
	size_t done = 0;
	int64_t rc = 0;
	if (n > 0) {
		rc = dipc_stream_read(s, dst, (size_t)n, DIPC_TRY_ONCE);
		if (rc > 0)
			done = (size_t)rc;
	}
	int64_t deadline = t > 0 ? dipy_now_ns() + t : 0;
	while (t != DIPC_TRY_ONCE && done < (size_t)n && (rc >= 0 || rc == DIPC_ETIMEDOUT)) {
		int64_t slice = DIPY_SLICE_NS;
		if (t > 0) {
			int64_t left = deadline - dipy_now_ns();
			if (left <= 0) {
				rc = DIPC_ETIMEDOUT;
				break;
			}
			if (left < slice)
				slice = left;
		}
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_stream_read(s, dst + done, (size_t)n - done, slice);
		Py_END_ALLOW_THREADS
		if (rc > 0)
			done += (size_t)rc;
		if (done < (size_t)n && PyErr_CheckSignals() < 0) {
			PyBuffer_Release(&buf);
			return NULL;
		}
	}
	PyBuffer_Release(&buf);
	/* Whatever arrived is reported, also when the writer left or the
	 * wait expired part-way: a short read is never hidden. */
	if (done > 0 || rc >= 0)
		return PyLong_FromSize_t(done);
	if (rc == DIPC_EBUSY)
		return dipy_raise(DIPY_CTX_STREAM, (int)rc,
				  "could not read: a listener (read_async) is reading this channel");
	return dipy_raise(DIPY_CTX_STREAM, (int)rc, "could not read");
}

/* ---- listener ------------------------------------------------------------- */

static void on_chunk(dipc_stream *s, const void *data, size_t len, void *arg)
{
	(void)s;
	StreamObject *self = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *cb = self->callback;
	if (cb) {
		Py_INCREF(cb);
		PyObject *chunk;
		if (len)
			chunk = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
		else {
			chunk = Py_None;
			Py_INCREF(chunk);
		}
		void *outer = cb_current;
		cb_current = self;
		PyObject *r = chunk ? PyObject_CallOneArg(cb, chunk) : NULL;
		cb_current = outer;
		if (!r)
			PyErr_WriteUnraisable(cb);
		Py_XDECREF(r);
		Py_XDECREF(chunk);
		Py_DECREF(cb);
	}
	PyGILState_Release(g);
}

static PyObject *stream_listen(StreamObject *self, PyObject *cb)
{
	if (!stream_open_or_raise(self))
		return NULL;
	if (!PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "the callback must be callable");
		return NULL;
	}
	/* A listener that ended by itself (the writer closed) is replaced. */
	if (self->listening) {
		if (cb_current == self)
			return dipy_raise(DIPY_CTX_STREAM, DIPC_EBUSY,
					  "a listener cannot be replaced from its own callback");
		stream_stop_listener(self);
		stream_forget_listener(self);
	}
	Py_INCREF(cb);
	self->callback = cb;
	Py_INCREF(self);
	self->listening = 1;
	int rc = dipc_stream_listen(self->s, on_chunk, self);
	if (rc < 0) {
		stream_forget_listener(self);
		return dipy_raise(DIPY_CTX_STREAM, rc, rc == DIPC_EINVAL ?
				  "only a reader (CHAN_R) can listen" : "could not start the listener");
	}
	Py_RETURN_NONE;
}

static PyObject *stream_unlisten(StreamObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!self->listening)
		Py_RETURN_NONE;
	if (cb_current == self) {
		/* From inside the callback: the thread stops once it returns,
		 * and is joined (and forgotten) by the next listen or close. */
		dipc_stream_unlisten(self->s);
		Py_RETURN_NONE;
	}
	stream_stop_listener(self);
	stream_forget_listener(self);
	Py_RETURN_NONE;
}

static PyObject *stream_status(StreamObject *self, PyObject *noarg)
{
	(void)noarg;
	if (!stream_open_or_raise(self))
		return NULL;
	char line[512];
	int n = dipc_stream_status(self->s, line, sizeof(line));
	if (n < 0)
		return dipy_raise(DIPY_CTX_STREAM, n, "could not read the channel's status");
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	return PyUnicode_FromStringAndSize(line, n);
}

static PyObject *stream_get_open(StreamObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->s != NULL);
}

static PyObject *stream_get_listening(StreamObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->listening);
}

static PyMethodDef stream_methods[] = {
	{ "_open", (PyCFunction)(void (*)(void))stream_open, METH_VARARGS | METH_KEYWORDS,
	  "_open(name, role, size, perm=0)\n\nOpen the named stream (internal)." },
	{ "_close", (PyCFunction)stream_close, METH_NOARGS,
	  "_close()\n\nStop any listener and close the stream (internal)." },
	{ "_listen", (PyCFunction)stream_listen, METH_O,
	  "_listen(callback)\n\nCall callback(bytes) per chunk, callback(None) when the writer "
	  "closes (internal)." },
	{ "_unlisten", (PyCFunction)stream_unlisten, METH_NOARGS,
	  "_unlisten()\n\nStop the listener (internal)." },
	{ "write", (PyCFunction)(void (*)(void))stream_write, METH_FASTCALL | METH_KEYWORDS,
	  "write(data, timeout=None) -> int\n\n"
	  "Write all of data (bytes, bytearray, memoryview, or str as UTF-8),\n"
	  "waiting while the channel is full; return the number of bytes written.\n"
	  "timeout (seconds; None waits as long as it takes; 0 does not wait)\n"
	  "bounds the wait.  If not everything could be written (the reader went\n"
	  "away, the timeout expired, or with 0 the ring had no room for all of\n"
	  "it), OppositeEndClosedError or SmipcTimeout is raised with the count\n"
	  "already written in its `written` attribute." },
	{ "read", (PyCFunction)(void (*)(void))stream_read, METH_FASTCALL | METH_KEYWORDS,
	  "read(buf, n, blocking=False, timeout=None) -> int\n\n"
	  "Read up to n bytes into buf (a ctypes create_string_buffer or any\n"
	  "writable buffer) and return how many were read.  Not blocking, it takes\n"
	  "what is there (0 if nothing).  Blocking, it waits until n bytes have\n"
	  "arrived, the writer closed, or timeout seconds passed, and returns the\n"
	  "count actually read (short reads are reported, never hidden).\n"
	  "Raises OppositeEndClosedError when the writer closed and nothing is\n"
	  "left, SmipcTimeout when a timed wait got nothing." },
	{ "status", (PyCFunction)stream_status, METH_NOARGS,
	  "status() -> str\n\nThe smipc status line of the channel." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef stream_getset[] = {
	{ "is_open", (getter)stream_get_open, NULL, "True while the channel is open.", NULL },
	{ "is_listening", (getter)stream_get_listening, NULL,
	  "True while a listener is set (read_async).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject Dipy_StreamType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "dragonipc._dragonipc.Stream",
	.tp_basicsize = sizeof(StreamObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The core of a byte stream; use dragonipc.smipc.",
	.tp_new = stream_new,
	.tp_dealloc = (destructor)stream_dealloc,
	.tp_methods = stream_methods,
	.tp_getset = stream_getset,
	.tp_weaklistoffset = offsetof(StreamObject, weakreflist),
};

static PyObject *mod_init(PyObject *self, PyObject *arg)
{
	(void)self;
	long long level;
	if (dipy_int_arg(arg, "log level", INT_MIN, INT_MAX, &level) < 0)
		return NULL;
	int rc = dipc_init((int)level);
	if (rc < 0)
		return dipy_value_error(DIPY_CTX_STREAM,
					"log level must be LOG_DISABLE, LOG_BASIC or LOG_ALL, not %lld",
					level);
	Py_RETURN_NONE;
}

static PyObject *mod_cleanup(PyObject *self, PyObject *noarg)
{
	(void)self;
	(void)noarg;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_cleanup();
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return dipy_raise(DIPY_CTX_STREAM, rc, rc == DIPC_EBUSY ?
				  "clean_library cannot run inside a read_async callback" :
				  "could not clean up");
	Py_RETURN_NONE;
}

static PyObject *mod_stream_unlink(PyObject *self, PyObject *arg)
{
	(void)self;
	const char *name = dipy_name_arg(arg);
	if (!name)
		return NULL;
	int rc = dipc_stream_unlink(name);
	if (rc < 0 && rc != DIPC_ENOENT)
		return dipy_raise(DIPY_CTX_STREAM, rc, "could not remove the stream");
	return PyBool_FromLong(rc == 0);
}

static PyMethodDef stream_module_methods[] = {
	{ "init", mod_init, METH_O, "init(log_level)\n\nLibrary set-up (dipc_init)." },
	{ "cleanup", mod_cleanup, METH_NOARGS,
	  "cleanup()\n\nClose every stream still open in this process (dipc_cleanup)." },
	{ "stream_unlink", mod_stream_unlink, METH_O,
	  "stream_unlink(name) -> bool\n\nRemove a stream's name; False if there was none." },
	{ NULL, NULL, 0, NULL },
};

int dipy_stream_init(PyObject *module)
{
	if (PyType_Ready(&Dipy_StreamType) < 0)
		return -1;
	Py_INCREF(&Dipy_StreamType);
	if (PyModule_AddObject(module, "Stream", (PyObject *)&Dipy_StreamType) < 0) {
		Py_DECREF(&Dipy_StreamType);
		return -1;
	}
	return PyModule_AddFunctions(module, stream_module_methods);
}

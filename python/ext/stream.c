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
 *
 * Closing while a call is busy.  The rule, for every way a handle goes
 * (close(), clean_library(), collection):
 *
 *  - A call that lets the GIL go while it uses the C handle (the waiting
 *    part of read and write, open, stopping a listener, the close itself)
 *    is "busy" on its object from before it releases the GIL until it has
 *    taken it back for the last time, and holds a reference meanwhile, so
 *    the object cannot be collected under it.
 *  - The handle is freed only when no call is busy on it.  close() marks
 *    the object closing: no new call starts, and every busy read or write
 *    gives up at the end of its current slice.  close() waits for them
 *    with the GIL released: one slice (DIPY_SLICE_NS) at most.
 *  - A call that gave up raises SmipcClosedError, an OperationFailedError
 *    (lib_err DIPC_ENOTOPEN).  What had moved stays moved: a read that had
 *    received some bytes returns their count instead (a short read is
 *    never hidden, as for a timeout), and a write that had written some
 *    raises with that count in `written` (as for a timeout); those bytes
 *    are in the ring and the reader gets them before it sees the writer
 *    gone.
 *  - close() from a signal handler that runs inside a read or write of the
 *    same thread on the same object cannot wait for that call: it marks
 *    the object and returns, and the call gives up once the handler is
 *    done and closes the handle on its way out.
 *  - clean_library() applies the same rule to every open object (marked
 *    all at once, so that their calls end in the same slice), refuses
 *    opens while it runs, and calls dipc_cleanup only once no call is busy
 *    anywhere: the library forbids dipc_cleanup while streams are in use.
 *    From a signal handler inside a call, dipc_cleanup runs when that call
 *    ends.
 *  - In a child made by fork() only the forking thread goes on: the counts
 *    of busy calls are set back to that thread's own.
 *
 * Nothing of this needs a lock: the counts and flags are only read and
 * written with the GIL held.
 */
#include "dipcpy.h"

#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

/* The stream whose callback this thread is running, if any. */
static _Thread_local void *cb_current;

typedef struct StreamObject StreamObject;

struct StreamObject {
	PyObject_HEAD
	dipc_stream *s;         /* NULL when not open */
	long owner;             /* the process that opened it */
	int role;
	PyObject *callback;     /* listener's callable while one is set */
	int listening;          /* we hold a reference to ourselves for it */
	int busy;               /* calls using s (or opening it), GIL released */
	int closing;            /* close or cleanup asked: no new call starts */
	int close_pending;      /* a busy call of the closing thread closes */
	unsigned sweep;         /* marked by the clean_library sweep of that number */
	StreamObject *reg_prev, *reg_next;   /* every Stream object alive */
	PyObject *weakreflist;
};

/* A busy call, in a list through this thread's stack. */
struct stream_call {
	StreamObject *so;
	struct stream_call *outer;
};

static _Thread_local struct stream_call *calls_here;
/* This thread is in a sweep (Python code run by the sweep, a __del__ say,
 * may call clean_library again). */
static _Thread_local int sweeping_here;
static StreamObject *registry;
static Py_ssize_t calls_total;  /* busy calls on every object */
static int cleaning;            /* a clean_library is running */
static int sweeps_active;       /* sweeps (of any thread) not finished */
static int cleanup_pending;     /* clean_library waits for a busy call to end */
static unsigned sweep_count;
static PyObject *closed_exc;    /* dragonipc._errors.SmipcClosedError */

static int stream_shutdown(StreamObject *self);
static int cleanup_now(void);

static void reg_add(StreamObject *so)
{
	so->reg_prev = NULL;
	so->reg_next = registry;
	if (registry)
		registry->reg_prev = so;
	registry = so;
}

static void reg_remove(StreamObject *so)
{
	if (so->reg_prev)
		so->reg_prev->reg_next = so->reg_next;
	else if (registry == so)
		registry = so->reg_next;
	if (so->reg_next)
		so->reg_next->reg_prev = so->reg_prev;
	so->reg_prev = so->reg_next = NULL;
}

/* How many calls this thread has busy on so (on any object if NULL). */
static int calls_mine(StreamObject *so)
{
	int n = 0;
	for (struct stream_call *c = calls_here; c; c = c->outer)
		if (!so || c->so == so)
			n++;
	return n;
}

static void call_enter(StreamObject *self, struct stream_call *c)
{
	Py_INCREF(self);
	c->so = self;
	c->outer = calls_here;
	calls_here = c;
	self->busy++;
	calls_total++;
}

/* The call is done with the handle.  If its own thread asked for a close
 * (or a clean-up) meanwhile, it happens here.  A pending exception is
 * kept. */
static void call_leave(StreamObject *self, struct stream_call *c)
{
	calls_here = c->outer;
	self->busy--;
	calls_total--;
	int close_now = self->busy == 0 && self->close_pending;
	int clean_now = cleanup_pending && !calls_here && !sweeping_here;
	if (close_now || clean_now) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		if (close_now) {
			self->close_pending = 0;
			stream_shutdown(self);
		}
		if (clean_now) {
			cleanup_pending = 0;
			cleanup_now();
			PyErr_Clear();
		}
		PyErr_Restore(type, value, tb);
	}
	Py_DECREF(self);
}

/* Let other threads run for a moment. */
static void nap(void)
{
	Py_BEGIN_ALLOW_THREADS
#ifdef _WIN32
	Sleep(1);
#else
	struct timespec ts = { 0, 1000 * 1000 };
	nanosleep(&ts, NULL);
#endif
	Py_END_ALLOW_THREADS
}

static PyObject *raise_closed(const char *what)
{
	PyObject *exc = PyObject_CallFunction(closed_exc, "si", what, DIPC_ENOTOPEN);
	if (exc) {
		PyErr_SetObject(closed_exc, exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* May a new call use the handle? */
static StreamObject *stream_usable(StreamObject *self)
{
	if (self->closing) {
		raise_closed("the channel is being closed");
		return NULL;
	}
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
	StreamObject *self = (StreamObject *)type->tp_alloc(type, 0);
	if (self)
		reg_add(self);
	return (PyObject *)self;
}

/* Stop the listener (if ours).  GIL held on entry. */
static int stream_stop_listener(StreamObject *self)
{
	int rc = 0;
	if (self->s && self->listening) {
		dipc_stream *s = self->s;
		struct stream_call call;
		call_enter(self, &call);
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_stream_unlisten(s);
		Py_END_ALLOW_THREADS
		call_leave(self, &call);
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

/* Free the handle (stopping the listener first).  No call may be busy on
 * self.  Returns 0 or a DIPC_E* code. */
static int stream_shutdown(StreamObject *self)
{
	dipc_stream *s = self->s;
	int rc = 0;
	if (s) {
		/* Counted as busy, so that another closer waits for it. */
		self->s = NULL;
		self->busy++;
		calls_total++;
		Py_BEGIN_ALLOW_THREADS
		rc = dipc_stream_close(s);
		Py_END_ALLOW_THREADS
		self->busy--;
		calls_total--;
		if (rc == DIPC_EBUSY)
			self->s = s;    /* from its own listener: it must finish first */
		else if (rc == DIPC_ENOTOPEN)
			rc = 0;
	}
	if (!self->s)
		stream_forget_listener(self);
	if (self->busy == 0 && !self->close_pending)
		self->closing = 0;
	return rc;
}

/* Close by the rule (see the top of the file).  GIL held. */
static int stream_close_rule(StreamObject *self)
{
	int mine = calls_mine(self);
	self->closing = 1;
	while (self->busy > mine)
		nap();
	if (mine) {
		self->close_pending = 1;
		return 0;
	}
	return stream_shutdown(self);
}

static void stream_dealloc(StreamObject *self)
{
	/* Out of the registry before the GIL is let go: a sweep must not
	 * find (and revive) an object on its way out. */
	reg_remove(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* No call is busy (each holds a reference), and a listening stream
	 * holds itself, so none is listening here.  A copy inherited through
	 * fork() leaves the parent's role alone. */
	if (self->owner == dipy_pid())
		stream_shutdown(self);
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
	if (self->closing)
		return raise_closed("the channel is being closed");
	if (self->s || self->busy)
		return dipy_value_error(DIPY_CTX_STREAM, "the channel is already open");
	if (cleaning)
		return dipy_raise(DIPY_CTX_STREAM, DIPC_EBUSY,
				  "could not open the channel: clean_library is running");
	if (role != DIPC_STREAM_READ && role != DIPC_STREAM_WRITE)
		return dipy_value_error(DIPY_CTX_STREAM, "mode must be CHAN_R or CHAN_W, not %lld", role);
	if (size <= 0)
		return dipy_value_error(DIPY_CTX_STREAM, "the channel size must be positive, not %lld", size);
	dipc_stream *s;
	int rc;
	struct stream_call call;
	call_enter(self, &call);
	Py_BEGIN_ALLOW_THREADS
	rc = dipc_stream_open(name, (int)role, (size_t)size, (unsigned)perm, &s);
	Py_END_ALLOW_THREADS
	if (rc == 0) {
		/* A close asked meanwhile closes it as soon as we leave. */
		self->s = s;
		self->owner = dipy_pid();
		self->role = role;
	}
	call_leave(self, &call);
	if (rc < 0) {
		const char *why = rc == DIPC_EBUSY ? (role == DIPC_STREAM_READ ?
				"could not open the channel: it already has a reader" :
				"could not open the channel: it already has a writer") :
				"could not open the channel";
		return dipy_raise(DIPY_CTX_STREAM, rc, why);
	}
	Py_RETURN_NONE;
}

static PyObject *stream_close(StreamObject *self, PyObject *noarg)
{
	(void)noarg;
	if (cb_current == self)
		return dipy_raise(DIPY_CTX_STREAM, DIPC_EBUSY,
				  "a channel cannot be closed from its own read_async callback "
				  "(stop the listener there and close the channel afterwards)");
	int rc = stream_close_rule(self);
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
	if (!stream_usable(self))
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
	/* Again: turning the arguments into C may have run Python code. */
	if (!stream_usable(self)) {
		if (have_buf)
			PyBuffer_Release(&buf);
		return NULL;
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
	struct stream_call call;
	int entered = 0;
	while (done < (size_t)len && (rc >= 0 || rc == DIPC_EFULL || rc == DIPC_ETIMEDOUT)) {
		if (t == DIPC_TRY_ONCE) {
			rc = DIPC_EFULL;
			break;
		}
		if (!entered) {
			call_enter(self, &call);
			entered = 1;
		}
		if (self->closing) {
			rc = DIPY_ECLOSED;
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
			call_leave(self, &call);
			if (have_buf)
				PyBuffer_Release(&buf);
			return NULL;
		}
	}
	if (entered)
		call_leave(self, &call);
	if (have_buf)
		PyBuffer_Release(&buf);
	if (done == (size_t)len)
		return PyLong_FromSize_t(done);
	/* Part of the data may have gone: say how much. */
	if (rc == DIPY_ECLOSED)
		raise_closed(done ? "the channel was closed while the write waited; it was cut short" :
			     "the channel was closed while the write waited");
	else
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
	if (!stream_usable(self))
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
	/* Again: turning the arguments into C may have run Python code. */
	if (!stream_usable(self)) {
		PyBuffer_Release(&buf);
		return NULL;
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
	struct stream_call call;
	int entered = 0;
	while (t != DIPC_TRY_ONCE && done < (size_t)n && (rc >= 0 || rc == DIPC_ETIMEDOUT)) {
		if (!entered) {
			call_enter(self, &call);
			entered = 1;
		}
		if (self->closing) {
			rc = DIPY_ECLOSED;
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
		rc = dipc_stream_read(s, dst + done, (size_t)n - done, slice);
		Py_END_ALLOW_THREADS
		if (rc > 0)
			done += (size_t)rc;
		if (done < (size_t)n && PyErr_CheckSignals() < 0) {
			call_leave(self, &call);
			PyBuffer_Release(&buf);
			return NULL;
		}
	}
	if (entered)
		call_leave(self, &call);
	PyBuffer_Release(&buf);
	/* Whatever arrived is reported, also when the writer left or the
	 * wait expired part-way: a short read is never hidden. */
	if (done > 0 || rc >= 0)
		return PyLong_FromSize_t(done);
	if (rc == DIPY_ECLOSED)
		return raise_closed("the channel was closed while the read waited");
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
	if (!stream_usable(self))
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
		/* A close may have come while the old listener stopped. */
		if (!stream_usable(self))
			return NULL;
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
		 * and is joined (and forgotten) by the next listen or close
		 * (which may be running already: then the handle is gone). */
		if (self->s)
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
	if (!stream_usable(self))
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
	return PyBool_FromLong(self->s != NULL && !self->closing);
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
	  "_close()\n\nStop any listener and close the stream (internal).  A read or\n"
	  "write waiting in another thread gives up first (SmipcClosedError)." },
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
	  "already written in its `written` attribute; SmipcClosedError (with\n"
	  "`written` too) when this end is closed by another thread meanwhile." },
	{ "read", (PyCFunction)(void (*)(void))stream_read, METH_FASTCALL | METH_KEYWORDS,
	  "read(buf, n, blocking=False, timeout=None) -> int\n\n"
	  "Read up to n bytes into buf (a ctypes create_string_buffer or any\n"
	  "writable buffer) and return how many were read.  Not blocking, it takes\n"
	  "what is there (0 if nothing).  Blocking, it waits until n bytes have\n"
	  "arrived, the writer closed, or timeout seconds passed, and returns the\n"
	  "count actually read (short reads are reported, never hidden).\n"
	  "Raises OppositeEndClosedError when the writer closed and nothing is\n"
	  "left, SmipcTimeout when a timed wait got nothing, SmipcClosedError when\n"
	  "this end is closed by another thread while nothing had arrived." },
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

/* A marked object some other thread's call is still busy on. */
static StreamObject *sweep_busy(unsigned mark)
{
	for (StreamObject *p = registry; p; p = p->reg_next)
		if (p->sweep == mark && p->busy > calls_mine(p))
			return p;
	return NULL;
}

/* Close every open object by the rule.  All are marked first, and no
 * handle goes before every marked call of another thread has given up:
 * so each of them sees its own object closed (not, say, the other end of
 * a stream this process also holds), and they all end in the same slice.
 * Those with a call of this thread busy are left to that call.  Returns 0
 * or the first DIPC_E* code. */
static int sweep(void)
{
	unsigned mark = ++sweep_count;
	if (mark == 0)
		mark = ++sweep_count;
	for (StreamObject *p = registry; p; p = p->reg_next) {
		if (p->s || p->busy) {
			p->closing = 1;
			p->sweep = mark;
		}
	}
	int first = 0;
	sweeping_here++;
	sweeps_active++;
	while (sweep_busy(mark))
		nap();
	for (;;) {
		/* From the start each time: the GIL was let go. */
		StreamObject *p = registry;
		while (p && p->sweep != mark)
			p = p->reg_next;
		if (!p)
			break;
		p->sweep = 0;
		Py_INCREF(p);
		int rc = stream_close_rule(p);
		Py_DECREF(p);
		if (rc < 0 && !first)
			first = rc;
	}
	sweeps_active--;
	sweeping_here--;
	return first;
}

/* clean_library with no call of this thread busy: sweep with opens
 * refused, wait until no call is busy anywhere, then dipc_cleanup. */
static int cleanup_now(void)
{
	while (cleaning)
		nap();          /* one sweep at a time */
	cleaning = 1;
	int rc = sweep();
	/* A sweep of a signal handler may still be closing what it marked. */
	while (calls_total > 0 || sweeps_active > 0)
		nap();
	int rc2;
	Py_BEGIN_ALLOW_THREADS
	rc2 = dipc_cleanup();
	Py_END_ALLOW_THREADS
	cleaning = 0;
	return rc < 0 ? rc : rc2;
}

static PyObject *mod_cleanup(PyObject *self, PyObject *noarg)
{
	(void)self;
	(void)noarg;
	int rc = 0;
	if (cb_current) {
		rc = DIPC_EBUSY;
	} else if (sweeping_here) {
		rc = 0;         /* the sweep under us does it */
	} else if (calls_here) {
		/* A signal handler inside a call of ours: what that call uses
		 * is closed, and dipc_cleanup run, once it ends. */
		rc = sweep();
		cleanup_pending = 1;
	} else {
		rc = cleanup_now();
	}
	if (rc < 0)
		return dipy_raise(DIPY_CTX_STREAM, rc, rc == DIPC_EBUSY ?
				  "clean_library cannot run inside a read_async callback" :
				  "could not clean up");
	Py_RETURN_NONE;
}

/* In a child made by fork(): the threads whose calls were busy are gone. */
static PyObject *stream_after_fork(PyObject *self, PyObject *noarg)
{
	(void)self;
	(void)noarg;
	calls_total = 0;
	for (StreamObject *p = registry; p; p = p->reg_next) {
		p->busy = calls_mine(p);
		calls_total += p->busy;
		if (!p->busy)
			p->close_pending = 0;
	}
	if (!sweeping_here) {
		cleaning = 0;
		sweeps_active = 0;
	}
	if (!calls_here)
		cleanup_pending = 0;
	Py_RETURN_NONE;
}

static PyMethodDef after_fork_def = {
	"_stream_after_fork", stream_after_fork, METH_NOARGS,
	"Set the counts of busy stream calls right in a child (internal)."
};

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
	  "cleanup()\n\nClose every stream still open in this process as close() does,\n"
	  "then dipc_cleanup." },
	{ "stream_unlink", mod_stream_unlink, METH_O,
	  "stream_unlink(name) -> bool\n\nRemove a stream's name; False if there was none." },
	{ NULL, NULL, 0, NULL },
};

/* os.register_at_fork(after_in_child=...), where there is fork(). */
static int register_after_fork(void)
{
	PyObject *os = PyImport_ImportModule("os");
	if (!os)
		return -1;
	PyObject *reg = PyObject_GetAttrString(os, "register_at_fork");
	Py_DECREF(os);
	if (!reg) {
		PyErr_Clear();
		return 0;
	}
	int rc = -1;
	PyObject *fn = PyCFunction_New(&after_fork_def, NULL);
	PyObject *args = PyTuple_New(0);
	PyObject *kw = fn ? Py_BuildValue("{s:O}", "after_in_child", fn) : NULL;
	if (args && kw) {
		PyObject *r = PyObject_Call(reg, args, kw);
		if (r) {
			Py_DECREF(r);
			rc = 0;
		}
	}
	Py_XDECREF(kw);
	Py_XDECREF(args);
	Py_XDECREF(fn);
	Py_DECREF(reg);
	return rc;
}

int dipy_stream_init(PyObject *module)
{
	PyObject *errmod = PyImport_ImportModule("dragonipc._errors");
	if (!errmod)
		return -1;
	closed_exc = PyObject_GetAttrString(errmod, "SmipcClosedError");
	Py_DECREF(errmod);
	if (!closed_exc || register_after_fork() < 0)
		return -1;
	if (PyType_Ready(&Dipy_StreamType) < 0)
		return -1;
	Py_INCREF(&Dipy_StreamType);
	if (PyModule_AddObject(module, "Stream", (PyObject *)&Dipy_StreamType) < 0) {
		Py_DECREF(&Dipy_StreamType);
		return -1;
	}
	return PyModule_AddFunctions(module, stream_module_methods);
}

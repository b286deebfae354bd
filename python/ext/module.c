/*
 * module.c - the dragonipc._dragonipc module: error mapping, timeouts,
 * sliced waits, library-wide functions.
 */
#include "dipcpy.h"

#include <math.h>
#include <stdarg.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#include <process.h>
#else
#include <unistd.h>
#endif

/* ---- exceptions ------------------------------------------------------------ */

/* The classes live in dragonipc/_errors.py (so they are ordinary Python
 * classes with docstrings and pickle support); we look them up once. */
static struct {
	const char *name;
	PyObject *cls;
} excs[] = {
#define X_CHANNEL       0
	{ "ChannelError", NULL },
#define X_CH_VALUE      1
	{ "ChannelValueError", NULL },
#define X_CH_NOTOPEN    2
	{ "ChannelHandleNotOpenError", NULL },
#define X_CH_DESTROYED  3
	{ "ChannelDestroyed", NULL },
#define X_CH_EXISTS     4
	{ "ChannelExistsError", NULL },
#define X_SEND          5
	{ "ChannelSendError", NULL },
#define X_SEND_TIMEOUT  6
	{ "ChannelSendTimeout", NULL },
#define X_FULL          7
	{ "ChannelFull", NULL },
#define X_RECV          8
	{ "ChannelRecvError", NULL },
#define X_RECV_TIMEOUT  9
	{ "ChannelRecvTimeout", NULL },
#define X_EMPTY        10
	{ "ChannelEmpty", NULL },
#define X_MEM          11
	{ "DragonMemoryError", NULL },
#define X_POOL         12
	{ "DragonPoolError", NULL },
#define X_POOL_CREATE  13
	{ "DragonPoolCreateFail", NULL },
#define X_POOL_ATTACH  14
	{ "DragonPoolAttachFail", NULL },
#define X_POOL_FULL    15
	{ "DragonPoolAllocationNotAvailable", NULL },
#define X_MSG_ALLOC    16
	{ "MessageAllocationError", NULL },
#define X_SMIPC        17
	{ "SmipcError", NULL },
#define X_SM_CLOSED    18
	{ "OppositeEndClosedError", NULL },
#define X_SM_FAILED    19
	{ "OperationFailedError", NULL },
#define X_SM_TIMEOUT   20
	{ "SmipcTimeout", NULL },
#define X_POOL_VALUE   21
	{ "DragonPoolValueError", NULL },
#define X_SM_PARAM     22
	{ "ParameterTypeError", NULL },
#define X_POOL_CREATE_LIMIT 23
	{ "DragonPoolCreateLimit", NULL },
#define X_POOL_ATTACH_LIMIT 24
	{ "DragonPoolAttachLimit", NULL },
#define X_CH_LIMIT     25
	{ "ChannelLimitError", NULL },
#define X_SM_LIMIT     26
	{ "SmipcLimitError", NULL },
};

#define NEXCS ((int)(sizeof(excs) / sizeof(excs[0])))

/* The managed-memory classes added for Dragon's API, numbered from
 * X_MM (a table of their own, so that additions to either table never
 * renumber the other). */
#define X_MM                100
static struct {
	const char *name;
	PyObject *cls;
} excs_mm[] = {
#define X_POOL_CREATE_VALUE (X_MM + 0)
	{ "DragonPoolCreateValueError", NULL },
#define X_POOL_ALLOC_TIMEOUT (X_MM + 1)
	{ "DragonPoolAllocTimeout", NULL },
#define X_MEM_TYPE          (X_MM + 2)
	{ "DragonMemoryTypeError", NULL },
#define X_MEM_VALUE         (X_MM + 3)
	{ "DragonMemoryValueError", NULL },
#define X_MSG_SIZE          (X_MM + 4)
	{ "MessageSizeError", NULL },
#define X_CH_OVERFLOW       (X_MM + 5)
	{ "ChannelOverflowError", NULL },
};

#define NEXCS_MM ((int)(sizeof(excs_mm) / sizeof(excs_mm[0])))

static PyObject *exc_class(int x)
{
	return x >= X_MM ? excs_mm[x - X_MM].cls : excs[x].cls;
}

static int load_exceptions(PyObject *module)
{
	PyObject *errmod = PyImport_ImportModule("dragonipc._errors");
	if (!errmod)
		return -1;
	for (int i = 0; i < NEXCS; i++) {
		excs[i].cls = PyObject_GetAttrString(errmod, excs[i].name);
		if (!excs[i].cls) {
			Py_DECREF(errmod);
			return -1;
		}
	}
	for (int i = 0; i < NEXCS_MM; i++) {
		excs_mm[i].cls = PyObject_GetAttrString(errmod, excs_mm[i].name);
		if (!excs_mm[i].cls) {
			Py_DECREF(errmod);
			return -1;
		}
	}
	Py_DECREF(errmod);
	(void)module;
	return 0;
}

/* DIPC_ELIMIT: the call's usual class, in its LimitError subclass (see
 * dragonipc/_errors.py); -1 where the code cannot arise. */
static int pick_limit(enum dipy_ctx ctx)
{
	switch (ctx) {
	case DIPY_CTX_POOL_CREATE:
		return X_POOL_CREATE_LIMIT;
	case DIPY_CTX_POOL_ATTACH:
		return X_POOL_ATTACH_LIMIT;
	case DIPY_CTX_STREAM:
		return X_SM_LIMIT;
	case DIPY_CTX_CHANNEL:
		return X_CH_LIMIT;
	default:
		return -1;
	}
}

static int pick_exception(enum dipy_ctx ctx, int rc)
{
	if (rc == DIPC_ELIMIT && pick_limit(ctx) >= 0)
		return pick_limit(ctx);
	switch (ctx) {
	case DIPY_CTX_POOL_CREATE:
		/* Dragon raises DragonPoolCreateFail for bad arguments too. */
		if (rc == DIPC_EINVAL || rc == DIPC_ENAMETOOLONG)
			return X_POOL_CREATE_VALUE;
		return X_POOL_CREATE;
	case DIPY_CTX_POOL_ALLOC:
		/* EBUSY: the pool's lock is kept by a stopped process. */
		if (rc == DIPC_ENOSPC || rc == DIPC_EBUSY)
			return X_POOL_FULL;
		if (rc == DIPC_ETIMEDOUT)
			return X_POOL_ALLOC_TIMEOUT;
		if (rc == DIPC_EINVAL)
			return X_POOL_VALUE;
		return X_POOL;
	case DIPY_CTX_MEM:
		return rc == DIPC_EINVAL ? X_MEM_VALUE : X_MEM;
	case DIPY_CTX_MEM_ATTACH:
		return X_MEM_TYPE;
	case DIPY_CTX_POOL_ATTACH:
		return X_POOL_ATTACH;
	case DIPY_CTX_POOL:
		if (rc == DIPC_EINVAL)
			return X_POOL_VALUE;
		return X_POOL;
	case DIPY_CTX_MSG_ALLOC:
		/* EBUSY: the pool's lock is kept by a stopped process. */
		if (rc == DIPC_ENOSPC || rc == DIPC_ETIMEDOUT || rc == DIPC_EBUSY)
			return X_MSG_ALLOC;
		if (rc == DIPC_EINVAL)
			return X_CH_VALUE;
		return X_CHANNEL;
	case DIPY_CTX_STREAM:
		switch (rc) {
		case DIPC_EPEERCLOSED:
			return X_SM_CLOSED;
		case DIPC_ETIMEDOUT:
		case DIPC_EFULL:
		case DIPC_EEMPTY:
			return X_SM_TIMEOUT;
		case DIPC_EINVAL:
			return X_SM_PARAM;
		default:
			return X_SM_FAILED;
		}
	case DIPY_CTX_CHANNEL:
	case DIPY_CTX_SEND:
	case DIPY_CTX_RECV:
		break;
	}
	/* The channel family. */
	switch (rc) {
	case DIPC_EINVAL:
		return X_CH_VALUE;
	case DIPC_ENOTOPEN:
		return X_CH_NOTOPEN;
	case DIPC_EDESTROYED:
		return X_CH_DESTROYED;
	case DIPC_EEXIST:
		return X_CH_EXISTS;
	case DIPC_EFULL:
		return X_FULL;
	case DIPC_EEMPTY:
		return X_EMPTY;
	case DIPC_ETIMEDOUT:
		return ctx == DIPY_CTX_RECV ? X_RECV_TIMEOUT : X_SEND_TIMEOUT;
	case DIPC_EBUSY:
		/* A try-once send or receive that would have had to wait for
		 * the pool's lock (its holder is stopped): it did not happen
		 * in the time given, as a timeout. */
		if (ctx == DIPY_CTX_SEND)
			return X_SEND_TIMEOUT;
		if (ctx == DIPY_CTX_RECV)
			return X_RECV_TIMEOUT;
		break;
	case DIPC_EMSGSIZE:
		return ctx == DIPY_CTX_SEND ? X_CH_VALUE :
		       ctx == DIPY_CTX_RECV ? X_RECV : X_CHANNEL;
	}
	if (ctx == DIPY_CTX_SEND)
		return X_SEND;
	if (ctx == DIPY_CTX_RECV)
		return X_RECV;
	return X_CHANNEL;
}

PyObject *dipy_raise(enum dipy_ctx ctx, int rc, const char *what)
{
	if (rc == DIPY_EINTR)
		return NULL;
	if (rc == DIPC_ENOMEM)
		return PyErr_NoMemory();
	PyObject *cls = exc_class(pick_exception(ctx, rc));
	PyObject *exc = PyObject_CallFunction(cls, "si", what, rc);
	if (exc) {
		PyErr_SetObject(cls, exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* Raise exception class x with a message formatted from fmt and ap. */
static void raise_fmtv(int x, const char *fmt, va_list ap)
{
	PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
	if (!msg)
		return;
	PyObject *cls = exc_class(x);
	PyObject *exc = PyObject_CallOneArg(cls, msg);
	Py_DECREF(msg);
	if (exc) {
		PyErr_SetObject(cls, exc);
		Py_DECREF(exc);
	}
}

PyObject *dipy_value_error(enum dipy_ctx ctx, const char *fmt, ...)
{
	int which;
	switch (ctx) {
	case DIPY_CTX_POOL:
	case DIPY_CTX_POOL_CREATE:
	case DIPY_CTX_POOL_ATTACH:
	case DIPY_CTX_POOL_ALLOC:
		which = X_POOL_VALUE;
		break;
	case DIPY_CTX_MEM:
	case DIPY_CTX_MEM_ATTACH:
		which = X_MEM_VALUE;
		break;
	case DIPY_CTX_STREAM:
		which = X_SM_PARAM;
		break;
	default:
		which = X_CH_VALUE;
	}
	va_list ap;
	va_start(ap, fmt);
	raise_fmtv(which, fmt, ap);
	va_end(ap);
	return NULL;
}

PyObject *dipy_size_overflow(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	raise_fmtv(X_MSG_SIZE, fmt, ap);
	va_end(ap);
	return NULL;
}

PyObject *dipy_channel_overflow(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	raise_fmtv(X_CH_OVERFLOW, fmt, ap);
	va_end(ap);
	return NULL;
}

void dipy_exc_set_int(const char *name, Py_ssize_t value)
{
	PyObject *type, *exc, *tb;
	PyErr_Fetch(&type, &exc, &tb);
	if (!type)
		return;
	PyErr_NormalizeException(&type, &exc, &tb);
	PyObject *v = PyLong_FromSsize_t(value);
	if (!v || !exc || PyObject_SetAttrString(exc, name, v) < 0)
		PyErr_Clear();
	Py_XDECREF(v);
	PyErr_Restore(type, exc, tb);
}

/* ---- time and waiting -------------------------------------------------------- */

int64_t dipy_now_ns(void)
{
#ifdef _WIN32
	/* The performance counter: monotonic; its frequency is fixed at boot. */
	LARGE_INTEGER now, freq;
	QueryPerformanceCounter(&now);
	QueryPerformanceFrequency(&freq);
	return now.QuadPart / freq.QuadPart * 1000000000LL +
	       now.QuadPart % freq.QuadPart * 1000000000LL / freq.QuadPart;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
#endif
}

long dipy_pid(void)
{
#ifdef _WIN32
	return (long)_getpid();
#else
	return (long)getpid();
#endif
}

int dipy_int_arg(PyObject *obj, const char *what, long long lo, long long hi, long long *out)
{
	if (!PyLong_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	int overflow;
	long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (overflow || v < lo || v > hi) {
		PyErr_Format(PyExc_ValueError, "%s must be from %lld to %lld, not %S", what, lo, hi, obj);
		return -1;
	}
	*out = v;
	return 0;
}

int dipy_uint_arg(PyObject *obj, const char *what, unsigned long long hi,
		  unsigned long long *out)
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
		PyErr_Clear();      /* negative, or past 64 bits */
		v = hi + 1;
		if (hi == ULLONG_MAX) {
			PyErr_Format(PyExc_ValueError, "%s must be from 0 to %llu, not %S", what, hi, obj);
			return -1;
		}
	}
	if (v > hi) {
		PyErr_Format(PyExc_ValueError, "%s must be from 0 to %llu, not %S", what, hi, obj);
		return -1;
	}
	*out = v;
	return 0;
}

const char *dipy_name_arg(PyObject *obj)
{
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
	if (!s)
		return NULL;
	if ((Py_ssize_t)strlen(s) != len) {
		PyErr_SetString(PyExc_ValueError, "a name must not hold a NUL character");
		return NULL;
	}
	return s;
}

int dipy_timeout_from_py(PyObject *obj, int64_t *ns)
{
	if (obj == Py_None) {
		*ns = DIPC_WAIT_FOREVER;
		return 0;
	}
	if (PyLong_Check(obj)) {
		int overflow;
		long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
		if (v == -1 && PyErr_Occurred())
			return -1;
		if (overflow < 0 || (overflow == 0 && v < 0)) {
			PyErr_SetString(PyExc_ValueError, "timeout must not be negative");
			return -1;
		}
		if (overflow > 0 || v > INT64_MAX / 1000000000LL) {
			*ns = DIPC_WAIT_FOREVER;
			return 0;
		}
		*ns = v * 1000000000LL;
		return 0;
	}
	if (PyFloat_Check(obj)) {
		double d = PyFloat_AS_DOUBLE(obj);
		if (isnan(d)) {
			PyErr_SetString(PyExc_ValueError, "timeout must be a number, not NaN");
			return -1;
		}
		if (d < 0) {
			PyErr_SetString(PyExc_ValueError, "timeout must not be negative");
			return -1;
		}
		if (d == 0) {
			*ns = DIPC_TRY_ONCE;
			return 0;
		}
		if (d >= 9.2e9) {   /* about 290 years: as good as forever */
			*ns = DIPC_WAIT_FOREVER;
			return 0;
		}
		int64_t v = (int64_t)(d * 1e9);
		*ns = v > 0 ? v : 1;   /* a tiny positive wait is still a wait */
		return 0;
	}
	PyErr_Format(PyExc_ValueError,
		     "timeout must be None or a number of seconds, not %.100s",
		     Py_TYPE(obj)->tp_name);
	return -1;
}

int dipy_handle_timeout(PyObject *blocking, PyObject *timeout, PyObject *sentinel,
			int64_t def_ns, int64_t *ns)
{
	int64_t t = def_ns;
	int use_default = timeout == NULL || timeout == sentinel;
	if (!use_default && PyUnicode_Check(timeout)) {
		int eq = PyObject_RichCompareBool(timeout, sentinel, Py_EQ);
		if (eq < 0)
			return -1;
		use_default = eq;
	}
	/* A negative timeout is an error whatever blocking says. */
	if (!use_default && dipy_timeout_from_py(timeout, &t) < 0)
		return -1;
	if (blocking) {
		int b = PyObject_IsTrue(blocking);
		if (b < 0)
			return -1;
		if (!b)
			t = DIPC_TRY_ONCE;
	}
	*ns = t;
	return 0;
}

int dipy_wait(dipy_op op, void *arg, int64_t timeout_ns, int busy_rc)
{
	return dipy_wait_stop(op, arg, timeout_ns, busy_rc, NULL, NULL);
}

int dipy_wait_stop(dipy_op op, void *arg, int64_t timeout_ns, int busy_rc,
		   dipy_stop stop, void *stop_arg)
{
	/* The common case, where the operation can proceed at once, costs
	 * no GIL release. */
	int rc = op(arg, DIPC_TRY_ONCE);
	/* No room in the pool is a busy state too: with a timeout the
	 * library waits for room (a send larger than the block, a receive
	 * into an empty message), so the slices below must run. */
	if ((rc != busy_rc && rc != DIPC_ENOSPC) || timeout_ns == DIPC_TRY_ONCE)
		return rc;
	int64_t deadline = timeout_ns == DIPC_WAIT_FOREVER ? INT64_MAX : dipy_now_ns() + timeout_ns;
	for (;;) {
		if (stop) {
			int why = stop(stop_arg);
			if (why)
				return why;
		}
		int64_t slice = DIPY_SLICE_NS;
		if (deadline != INT64_MAX) {
			int64_t left = deadline - dipy_now_ns();
			if (left <= 0)
				return DIPC_ETIMEDOUT;
			if (left < slice)
				slice = left;
		}
		Py_BEGIN_ALLOW_THREADS
		rc = op(arg, slice);
		Py_END_ALLOW_THREADS
		if (rc != DIPC_ETIMEDOUT)
			return rc;
		if (PyErr_CheckSignals() < 0)
			return DIPY_EINTR;
	}
}

/* ---- fast-call argument parsing ------------------------------------------------ */

int dipy_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
	       PyObject *kwnames, const char *const *kwlist, Py_ssize_t n,
	       Py_ssize_t nrequired, PyObject **out)
{
	if (nargs > n) {
		PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments (%zd given)",
			     fname, n, nargs);
		return -1;
	}
	for (Py_ssize_t i = 0; i < nargs; i++)
		out[i] = args[i];
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	for (Py_ssize_t k = 0; k < nkw; k++) {
		PyObject *key = PyTuple_GET_ITEM(kwnames, k);
		Py_ssize_t i;
		for (i = 0; i < n; i++)
			if (PyUnicode_CompareWithASCIIString(key, kwlist[i]) == 0)
				break;
		if (i == n) {
			PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
				     fname, key);
			return -1;
		}
		if (i < nargs) {
			PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
				     fname, kwlist[i]);
			return -1;
		}
		out[i] = args[nargs + k];
	}
	for (Py_ssize_t i = 0; i < nrequired; i++) {
		if (!out[i]) {
			PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'",
				     fname, kwlist[i]);
			return -1;
		}
	}
	return 0;
}

/* ---- module functions ----------------------------------------------------------- */

/* A code argument: any int; one past the C int range is simply unknown. */
static int code_arg(PyObject *arg, int *code)
{
	int overflow;
	long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);
	if (v == -1 && PyErr_Occurred())
		return -1;
	*code = overflow || v < INT_MIN || v > INT_MAX ? INT_MAX : (int)v;
	return 0;
}

static PyObject *mod_strerror(PyObject *self, PyObject *arg)
{
	(void)self;
	int code;
	if (code_arg(arg, &code) < 0)
		return NULL;
	return PyUnicode_FromString(dipc_strerror(code));
}

static const char *const errnames[] = {
	"OK", "EINVAL", "ENOMEM", "ENOSPC", "EFULL", "EEMPTY", "ETIMEDOUT",
	"ENOTOPEN", "EDESTROYED", "EPEERCLOSED", "EPERM", "EVERSION", "EEXIST",
	"ENOENT", "EBUSY", "EMSGSIZE", "ECORRUPT", "EFOREIGN", "ESYS", "ENAMETOOLONG",
	"ELIMIT", "EBROKEN",
};

static PyObject *mod_errname(PyObject *self, PyObject *arg)
{
	(void)self;
	int code;
	if (code_arg(arg, &code) < 0)
		return NULL;
	if (code > 0 || -code >= (int)(sizeof(errnames) / sizeof(errnames[0])))
		return PyUnicode_FromFormat("E%d", code);
	return PyUnicode_FromFormat("DIPC_%s", errnames[-code]);
}

static PyObject *mod_log_set_level(PyObject *self, PyObject *arg)
{
	(void)self;
	long long level;
	if (dipy_int_arg(arg, "log level", INT_MIN, INT_MAX, &level) < 0)
		return NULL;
	int rc = dipc_log_set_level((int)level);
	if (rc < 0) {
		PyErr_Format(PyExc_ValueError, "log level must be 0, 1 or 2, not %lld", level);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *mod_log_get_level(PyObject *self, PyObject *noarg)
{
	(void)self;
	(void)noarg;
	return PyLong_FromLong(dipc_log_get_level());
}

static PyMethodDef module_methods[] = {
	{ "strerror", mod_strerror, METH_O,
	  "strerror(code) -> str\n\nA short description of a DIPC_E* error code." },
	{ "errname", mod_errname, METH_O,
	  "errname(code) -> str\n\nThe symbolic name of a DIPC_E* error code, e.g. 'DIPC_EFULL'." },
	{ "log_set_level", mod_log_set_level, METH_O,
	  "log_set_level(level)\n\nSet the C library's log level (0 off, 1 basic, 2 all); "
	  "log lines go to stderr." },
	{ "log_get_level", mod_log_get_level, METH_NOARGS,
	  "log_get_level() -> int\n\nThe C library's log level." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef moduledef = {
	PyModuleDef_HEAD_INIT,
	.m_name = "dragonipc._dragonipc",
	.m_doc = "The compiled core of dragonipc: thin wrappers over libdragonipc.\n\n"
		 "Use dragonipc.managed_memory, dragonipc.channels and dragonipc.smipc "
		 "rather than this module.",
	.m_size = -1,
	.m_methods = module_methods,
};

static int add_int(PyObject *m, const char *name, long v)
{
	return PyModule_AddIntConstant(m, name, v);
}

PyMODINIT_FUNC PyInit__dragonipc(void);

PyMODINIT_FUNC PyInit__dragonipc(void)
{
	PyObject *m = PyModule_Create(&moduledef);
	if (!m)
		return NULL;
	if (load_exceptions(m) < 0)
		goto fail;

	PyTypeObject *types[] = {
		&Dipy_PoolType, &Dipy_ChannelType, &Dipy_MessageType,
		&Dipy_SendHType, &Dipy_RecvHType, &Dipy_AllocType,
	};
	const char *names[] = { "Pool", "Channel", "Message", "ChannelSendH", "ChannelRecvH",
				"Alloc" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (PyType_Ready(types[i]) < 0)
			goto fail;
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
			Py_DECREF(types[i]);
			goto fail;
		}
	}
	if (dipy_handles_init(m) < 0 || dipy_stream_init(m) < 0 || dipy_chanset_init(m) < 0)
		goto fail;

	struct { const char *n; long v; } consts[] = {
		{ "EINVAL", DIPC_EINVAL }, { "ENOMEM", DIPC_ENOMEM }, { "ENOSPC", DIPC_ENOSPC },
		{ "EFULL", DIPC_EFULL }, { "EEMPTY", DIPC_EEMPTY }, { "ETIMEDOUT", DIPC_ETIMEDOUT },
		{ "ENOTOPEN", DIPC_ENOTOPEN }, { "EDESTROYED", DIPC_EDESTROYED },
		{ "EPEERCLOSED", DIPC_EPEERCLOSED }, { "EPERM", DIPC_EPERM },
		{ "EVERSION", DIPC_EVERSION }, { "EEXIST", DIPC_EEXIST }, { "ENOENT", DIPC_ENOENT },
		{ "EBUSY", DIPC_EBUSY }, { "EMSGSIZE", DIPC_EMSGSIZE }, { "ECORRUPT", DIPC_ECORRUPT },
		{ "EFOREIGN", DIPC_EFOREIGN }, { "ESYS", DIPC_ESYS },
		{ "ENAMETOOLONG", DIPC_ENAMETOOLONG }, { "ELIMIT", DIPC_ELIMIT },
		{ "EBROKEN", DIPC_EBROKEN },
		{ "NAME_MAX", DIPC_NAME_MAX }, { "POOL_MIN_SIZE", (long)DIPC_POOL_MIN_SIZE },
		{ "CHANNEL_DEFAULT_CAPACITY", DIPC_CHANNEL_DEFAULT_CAPACITY },
		{ "CHANNEL_DEFAULT_BLOCK_SIZE", DIPC_CHANNEL_DEFAULT_BLOCK_SIZE },
		{ "CHANNEL_MAX_CAPACITY", DIPC_CHANNEL_MAX_CAPACITY },
		{ "CHANNEL_MAX_BLOCK_SIZE", DIPC_CHANNEL_MAX_BLOCK_SIZE },
		{ "WAIT_ADAPTIVE", DIPC_WAIT_ADAPTIVE }, { "WAIT_SPIN", DIPC_WAIT_SPIN },
		{ "WAIT_IDLE", DIPC_WAIT_IDLE },
		{ "COPY_ON_SEND", DIPC_COPY_ON_SEND }, { "TRANSFER_ON_SEND", DIPC_TRANSFER_ON_SEND },
		{ "POLL_READABLE", DIPC_POLL_READABLE }, { "POLL_WRITABLE", DIPC_POLL_WRITABLE },
		{ "POLL_EMPTY", DIPC_POLL_EMPTY }, { "POLL_FULL", DIPC_POLL_FULL },
		{ "LOG_DISABLE", DIPC_LOG_DISABLE }, { "LOG_BASIC", DIPC_LOG_BASIC },
		{ "LOG_ALL", DIPC_LOG_ALL },
		{ "SHARED", (long)DIPC_SHARED },
		{ "POOL_KEEP_SIZE", (long)DIPC_POOL_KEEP_SIZE }, { "POOL_POW2", (long)DIPC_POOL_POW2 },
		{ "POOL_FIRST_FIT", (long)DIPC_POOL_FIRST_FIT },
		{ "BLOCK_FREE", DIPC_BLOCK_FREE }, { "BLOCK_DATA", DIPC_BLOCK_DATA },
		{ "BLOCK_CHANNEL", DIPC_BLOCK_CHANNEL },
	};
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
		if (add_int(m, consts[i].n, consts[i].v) < 0)
			goto fail;
	if (PyModule_AddStringConstant(m, "library_version", dipc_version()) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}

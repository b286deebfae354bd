/*
 * stream_listen.c - the listener: every byte in order from another
 * process, then the writer's close; removal racing with callbacks from
 * another thread; removal from inside the callback; close with a listener
 * running; refused calls.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- writer child: the seeded stream in random-sized writes ---------- */

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int t_child(const char *role, const char *arg)
{
	char name[64];
	unsigned long long seed, total;
	if (strcmp(role, "writer") != 0 ||
	    sscanf(arg, "%63[^:]:%llu:%llu", name, &seed, &total) != 3)
		return 2;
	dipc_stream *s;
	if (dipc_stream_open(name, DIPC_STREAM_WRITE, 777, 0, &s) != 0)
		return 10;
	unsigned char *buf = malloc((size_t)total);
	t_fill(seed, 0, buf, (size_t)total);
	uint64_t x = seed | 1, off = 0;
	while (off < total) {
		uint64_t n = 1 + rnd(&x) % 2000;
		if (n > total - off)
			n = total - off;
		if (dipc_stream_write(s, buf + off, (size_t)n, DIPC_WAIT_FOREVER) != (int64_t)n)
			return 11;
		off += n;
	}
	free(buf);
	return dipc_stream_close(s) == 0 ? 0 : 12;
}

/* ---- what the callbacks record --------------------------------------- */

struct rec {
	uint64_t seed;
	_Atomic uint64_t got;           /* bytes delivered so far, in order */
	atomic_int calls;
	atomic_int in_cb;
	atomic_int bad;                 /* bytes out of order, or a late call */
	atomic_int ended;               /* the len-0 call came */
	atomic_int after_end;           /* calls after the len-0 call */
	/* For the self-removal case: what the calls made inside returned. */
	int self_unlisten, self_close, self_cleanup, self_listen, self_read;
	int remove_self;
};

static void take(struct rec *r, const void *data, size_t len)
{
	uint64_t at = atomic_load(&r->got);
	if (t_check(r->seed, at, data, len) != len)
		atomic_fetch_add(&r->bad, 1);
	atomic_store(&r->got, at + len);
}

static void cb_collect(dipc_stream *s, const void *data, size_t len, void *arg)
{
	struct rec *r = arg;
	(void)s;
	if (atomic_load(&r->ended))
		atomic_fetch_add(&r->after_end, 1);
	atomic_fetch_add(&r->calls, 1);
	if (len == 0) {
		if (data != NULL)
			atomic_fetch_add(&r->bad, 1);
		atomic_store(&r->ended, 1);
		return;
	}
	take(r, data, len);
}

static int not_busy(void *s)
{
	char c;
	return dipc_stream_read(s, &c, 0, DIPC_TRY_ONCE) == 0 &&
	       dipc_stream_read(s, &c, 1, DIPC_TRY_ONCE) != DIPC_EBUSY;
}

static int has_ended(void *r)
{
	return atomic_load(&((struct rec *)r)->ended);
}

static void from_process(uint64_t seed)
{
	const uint64_t total = 300 * 1000;
	const char *name = t_name("lproc");
	dipc_stream *s;
	struct rec r = { .seed = seed };
	is_int(dipc_stream_open(name, DIPC_STREAM_READ, 777, 0, &s), 0, "process: reader opens");
	is_int(dipc_stream_listen(s, cb_collect, &r), 0, "process: listener registered");
	char c;
	is_int(dipc_stream_read(s, &c, 1, DIPC_TRY_ONCE), DIPC_EBUSY,
	       "process: a plain read is refused while it listens");
	ok(t_status_has(s, "listener=enable"), "process: status says listener=enable");
	is_int(dipc_stream_listen(s, cb_collect, &r), DIPC_EBUSY,
	       "process: a second listener is refused");

	char arg[128];
	snprintf(arg, sizeof(arg), "%s:%llu:%llu", name, (unsigned long long)seed,
		 (unsigned long long)total);
	t_pid p = t_spawn("writer", arg);
	ok(t_until(has_ended, &r, T_LONG_S), "process: the writer's close came (len 0)");
	is_int(atomic_load(&r.got), total, "process: every byte arrived");
	is_int(atomic_load(&r.bad), 0, "process: in order and intact");
	is_int(t_wait(p, T_LONG_S), 0, "process: writer finished");
	/* The thread ends by itself after the final call. */
	ok(t_until(not_busy, s, T_LONG_S), "process: plain reads allowed once it ended");
	is_int(dipc_stream_read(s, &c, 1, DIPC_TRY_ONCE), DIPC_EPEERCLOSED,
	       "process: and they report the close");
	ok(t_status_has(s, "listener=disable"), "process: status says listener=disable");
	is_int(atomic_load(&r.after_end), 0, "process: no call after the final one");
	is_int(dipc_stream_unlisten(s), 0, "process: unlisten joins the ended listener");
	is_int(dipc_stream_unlisten(s), DIPC_EINVAL, "process: a second unlisten has none to stop");
	is_int(dipc_stream_close(s), 0, "process: reader closes");
}

/* ---- removal racing with callbacks ------------------------------------ */

struct feeder {
	dipc_stream *w;
	uint64_t seed;
	atomic_int stop;
	uint64_t sent;
	int err;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	unsigned char buf[512];
	uint64_t x = f->seed | 1;
	while (!atomic_load(&f->stop)) {
		size_t n = 1 + (size_t)(rnd(&x) % sizeof(buf));
		t_fill(f->seed, f->sent, buf, n);
		int64_t k = dipc_stream_write(f->w, buf, n, 20 * 1000 * 1000);
		if (k > 0)
			f->sent += (uint64_t)k;
		else if (k != DIPC_ETIMEDOUT)
			f->err = (int)k;
	}
	return NULL;
}

static void cb_slow(dipc_stream *s, const void *data, size_t len, void *arg)
{
	struct rec *r = arg;
	(void)s;
	atomic_store(&r->in_cb, 1);
	atomic_fetch_add(&r->calls, 1);
	if (len)
		take(r, data, len);
	/* Give the remover time to arrive while we are inside. */
	if (atomic_load(&r->calls) % 3 == 0)
		t_sleep_ms(1);
	atomic_store(&r->in_cb, 0);
}

static void removal_race(uint64_t seed)
{
	const char *name = t_name("lrace");
	dipc_stream *s, *w;
	struct rec r = { .seed = seed };
	struct feeder f = { .seed = seed };
	dipc_stream_open(name, DIPC_STREAM_READ, 300, 0, &s);
	dipc_stream_open(name, DIPC_STREAM_WRITE, 300, 0, &w);
	f.w = w;
	t_thread th;
	t_thread_start(&th, feed, &f);

	int iters = 300, inside = 0, late = 0, failed = 0, reads_bad = 0;
	uint64_t x = seed | 1;
	for (int i = 0; i < iters; i++) {
		if (dipc_stream_listen(s, cb_slow, &r) != 0)
			failed++;
		t_sleep_ms((unsigned)(rnd(&x) % 3));
		if (dipc_stream_unlisten(s) != 0)
			failed++;
		if (atomic_load(&r.in_cb))
			inside++;
		int c = atomic_load(&r.calls);
		/* Between listeners, plain reads take over the stream. */
		unsigned char buf[64];
		int64_t n = dipc_stream_read(s, buf, sizeof(buf), DIPC_TRY_ONCE);
		if (n < 0)
			reads_bad++;
		else
			take(&r, buf, (size_t)n);
		if (i % 50 == 0)
			t_sleep_ms(2);
		if (atomic_load(&r.calls) != c)
			late++;
	}
	atomic_store(&f.stop, 1);
	t_thread_join(th);
	/* Drain what is left with plain reads. */
	unsigned char buf[512];
	int64_t n;
	while ((n = dipc_stream_read(s, buf, sizeof(buf), DIPC_TRY_ONCE)) > 0)
		take(&r, buf, (size_t)n);

	is_int(failed, 0, "race: %d listen/unlisten pairs succeeded", iters);
	is_int(inside, 0, "race: no callback was running when unlisten returned");
	is_int(late, 0, "race: no callback ran after unlisten returned");
	is_int(reads_bad, 0, "race: plain reads work between listeners");
	is_int(f.err, 0, "race: the writer thread saw no error");
	ok(atomic_load(&r.calls) > 0, "race: callbacks did run (%d)", atomic_load(&r.calls));
	is_int(atomic_load(&r.got), f.sent, "race: every byte written was delivered once");
	is_int(atomic_load(&r.bad), 0, "race: in order, across listeners and reads");
	dipc_stream_close(w);
	dipc_stream_close(s);
}

/* ---- removal from inside the callback --------------------------------- */

static void cb_self(dipc_stream *s, const void *data, size_t len, void *arg)
{
	struct rec *r = arg;
	int n = atomic_fetch_add(&r->calls, 1);
	if (len)
		take(r, data, len);
	if (n == 0) {
		char c;
		r->self_read = (int)dipc_stream_read(s, &c, 1, DIPC_TRY_ONCE);
		r->self_listen = dipc_stream_listen(s, cb_self, arg);
		r->self_close = dipc_stream_close(s);
		r->self_cleanup = dipc_cleanup();
		r->self_unlisten = dipc_stream_unlisten(s);
		/* Still inside: more data must not bring another call. */
		t_sleep_ms(50);
	}
}

static int got_310(void *r)
{
	return atomic_load(&((struct rec *)r)->got) == 310;
}

static void self_removal(uint64_t seed)
{
	const char *name = t_name("lself");
	dipc_stream *s, *w;
	struct rec r = { .seed = seed };
	dipc_stream_open(name, DIPC_STREAM_READ, 4096, 0, &s);
	dipc_stream_open(name, DIPC_STREAM_WRITE, 4096, 0, &w);
	unsigned char buf[300];
	t_fill(seed, 0, buf, sizeof(buf));
	dipc_stream_write(w, buf, 100, T_LONG_NS);
	is_int(dipc_stream_listen(s, cb_self, &r), 0, "self: listener registered");
	ok(t_until(not_busy, s, T_LONG_S), "self: removal took effect after the callback returned");
	dipc_stream_write(w, buf + 100, 200, T_LONG_NS);
	t_sleep_ms(20);
	is_int(atomic_load(&r.calls), 1, "self: exactly one call");
	is_int(r.self_unlisten, 0, "self: unlisten from the callback succeeds");
	is_int(r.self_close, DIPC_EBUSY, "self: close from its own callback is refused");
	is_int(r.self_cleanup, DIPC_EBUSY, "self: cleanup from a callback is refused");
	is_int(r.self_listen, DIPC_EBUSY, "self: listen from its own callback is refused");
	is_int(r.self_read, DIPC_EBUSY, "self: read from its own callback is refused");
	uint64_t had = atomic_load(&r.got);
	int64_t n = dipc_stream_read(s, buf, sizeof(buf), DIPC_TRY_ONCE);
	is_int((uint64_t)n + had, 300, "self: plain reads get the rest");
	is_int(t_check(seed, had, buf, (size_t)n), n, "self: continuing where the callback stopped");
	atomic_store(&r.got, had + (uint64_t)n);
	is_int(dipc_stream_unlisten(s), 0, "self: unlisten afterwards joins the thread");
	is_int(dipc_stream_listen(s, cb_collect, &r), 0, "self: a new listener can start");
	t_fill(seed, 300, buf, 10);
	dipc_stream_write(w, buf, 10, T_LONG_NS);
	ok(t_until(not_busy, s, 0.0) == 0, "self: the new one is running");
	ok(t_until(got_310, &r, T_LONG_S) && atomic_load(&r.bad) == 0,
	   "self: it delivers the next bytes in order");
	is_int(dipc_stream_close(s), 0, "self: close with a listener running stops it");
	int c = atomic_load(&r.calls);
	t_sleep_ms(20);
	is_int(atomic_load(&r.calls), c, "self: no call after close returned");
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "self: the writer sees the reader closed");
	dipc_stream_close(w);
}

static void refusals(void)
{
	const char *name = t_name("lbad");
	dipc_stream *s, *w;
	struct rec r = { 0 };
	dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &s);
	dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w);
	is_int(dipc_stream_listen(w, cb_collect, &r), DIPC_EINVAL, "bad: listen on a writer");
	is_int(dipc_stream_listen(s, NULL, &r), DIPC_EINVAL, "bad: listen without a callback");
	is_int(dipc_stream_listen(NULL, cb_collect, &r), DIPC_EINVAL, "bad: listen on NULL");
	is_int(dipc_stream_unlisten(s), DIPC_EINVAL, "bad: unlisten with no listener");
	is_int(dipc_stream_unlisten(w), DIPC_EINVAL, "bad: unlisten on a writer");
	is_int(dipc_stream_unlisten(NULL), DIPC_EINVAL, "bad: unlisten on NULL");
	dipc_stream_close(w);
	dipc_stream_close(s);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(47);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u;
	diag("seed %llu", (unsigned long long)seed);
	from_process(seed);
	removal_race(seed + 1);
	self_removal(seed + 2);
	refusals();
	return done_testing();
}

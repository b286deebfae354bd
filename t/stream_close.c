/*
 * stream_close.c - closing a stream while another thread of the process is
 * blocked in a call on it.
 *
 * A reader thread blocked in a blocking read of an empty ring, or a writer
 * thread blocked in a write to a full ring, while the main thread closes
 * the handle: the blocked call must come back (DIPC_ENOTOPEN, or the count
 * it had moved) instead of touching the freed handle or the unmapped
 * segment, and close must return.  On the library before this rule, the
 * blocked call woke into unmapped memory: a crash.  Each case runs many
 * times; a watchdog turns a hang into a failure.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>
#include <stdatomic.h>

#define RUNS 200

struct blocked {
	dipc_stream *s;
	void *buf;
	size_t len;
	int writing;
	_Atomic int started;
	int64_t rc;
};

static void *blocked_call(void *arg)
{
	struct blocked *b = arg;
	atomic_store(&b->started, 1);
	b->rc = b->writing ? dipc_stream_write(b->s, b->buf, b->len, DIPC_WAIT_FOREVER)
			   : dipc_stream_read(b->s, b->buf, b->len, DIPC_WAIT_FOREVER);
	return NULL;
}

static _Atomic int watchdog_done;

static void *watchdog(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1200 && !atomic_load(&watchdog_done); i++)
		t_sleep_ms(100);
	if (!atomic_load(&watchdog_done)) {
		printf("Bail out! a close or a blocked call hung for 120 s\n");
		fflush(stdout);
		t_die_now();
	}
	return NULL;
}

/* One run: open (the writer too, so the ring can be filled), block a
 * thread, close under it.  0 when all held, else what failed. */
static int one_run(const char *name, int writing, int64_t *got)
{
	dipc_stream *r, *w;
	static unsigned char buf[4096];
	if (dipc_stream_open(name, DIPC_STREAM_READ, 256, 0, &r) != 0)
		return 1;
	if (dipc_stream_open(name, DIPC_STREAM_WRITE, 256, 0, &w) != 0) {
		dipc_stream_close(r);
		return 2;
	}
	struct blocked b = { .s = writing ? w : r, .buf = buf, .len = writing ? 4096 : 64,
			     .writing = writing };
	t_thread th;
	if (t_thread_start(&th, blocked_call, &b) != 0)
		return 3;
	while (!atomic_load(&b.started))
		t_sleep_ms(1);
	/* Give it time to get past the ring and into its wait. */
	t_sleep_ms(2);
	int rc = dipc_stream_close(b.s);
	t_thread_join(th);
	*got = b.rc;
	dipc_stream_close(writing ? r : w);
	if (rc != 0)
		return 4;
	/* A blocked write had moved the ring's worth (256) before it
	 * waited; a blocked read nothing. */
	if (writing ? !(b.rc == DIPC_ENOTOPEN || (b.rc > 0 && b.rc < 4096))
		    : b.rc != DIPC_ENOTOPEN)
		return 5;
	/* And the handle stays closed. */
	if (dipc_stream_close(b.s) != DIPC_ENOTOPEN)
		return 6;
	return 0;
}

/* No child processes here; proc.h is for t_name. */
int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 2;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(3);
	t_thread wd;
	t_thread_start(&wd, watchdog, NULL);
	const char *name = t_name("close");
	for (int writing = 0; writing <= 1; writing++) {
		int bad = 0, first = 0;
		int64_t first_rc = 0;
		for (int i = 0; i < RUNS; i++) {
			int64_t got = 0;
			int why = one_run(name, writing, &got);
			if (why && !bad++) {
				first = why;
				first_rc = got;
			}
		}
		if (bad)
			diag("first failure: step %d, call returned %lld", first, (long long)first_rc);
		is_int(bad, 0, "%d closes under a thread blocked in %s: the call came back with "
		       "%s, the close returned", RUNS, writing ? "write (ring full)" : "read (ring empty)",
		       writing ? "the count it wrote or DIPC_ENOTOPEN" : "DIPC_ENOTOPEN");
	}
	is_int(dipc_stream_unlink(name), DIPC_ENOENT, "nothing is left of the stream");
	atomic_store(&watchdog_done, 1);
	t_thread_join(wd);
	return done_testing();
}

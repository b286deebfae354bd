/*
 * stream_race.c - the last side out removes the name while the other side
 * opens again, over and over, in two processes.
 *
 * The invariant: while a process holds a role, the name leads to the
 * segment it holds the role in, so a second open of that role from the
 * same process is refused with DIPC_EBUSY.  An opener that ended up in a
 * segment whose name had been removed (or was about to be) would instead
 * succeed with the probe, creating a second, separate stream.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>

#define ROUNDS 1500

/* Open, probe, close, ROUNDS times.  Exit code: 0, or what went wrong. */
static int churn(const char *name, int role, int *opens_failed, int *probes_wrong)
{
	*opens_failed = *probes_wrong = 0;
	for (int i = 0; i < ROUNDS; i++) {
		dipc_stream *s, *probe;
		if (dipc_stream_open(name, role, 64, 0, &s) != 0) {
			(*opens_failed)++;
			continue;
		}
		int rc = dipc_stream_open(name, role, 64, 0, &probe);
		if (rc != DIPC_EBUSY) {
			(*probes_wrong)++;
			if (rc == 0)
				dipc_stream_close(probe);
		}
		if (dipc_stream_close(s) != 0)
			(*opens_failed)++;
	}
	return 0;
}

int t_child(const char *role, const char *arg)
{
	int failed, wrong;
	if (strcmp(role, "reader") != 0)
		return 2;
	churn(arg, DIPC_STREAM_READ, &failed, &wrong);
	if (failed)
		return 10;
	return wrong ? 11 : 0;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(5);
	const char *name = t_name("race");
	t_pid p = t_spawn("reader", name);
	int failed, wrong;
	churn(name, DIPC_STREAM_WRITE, &failed, &wrong);
	is_int(failed, 0, "writer: %d opens and closes succeeded", ROUNDS);
	is_int(wrong, 0, "writer: while open, the name always led to its own segment");
	int code = t_wait(p, T_LONG_S * 3);
	ok(code != 10, "reader: %d opens and closes succeeded", ROUNDS);
	ok(code != 11, "reader: while open, the name always led to its own segment");
	is_int(dipc_stream_unlink(name), DIPC_ENOENT, "the last side out removed the name");
	return done_testing();
}

/*
 * stream_death.c - each side sees the other close or die within a bounded
 * time, after every committed byte; roles are taken again after a close
 * and after the holder was killed; a second reader or writer is refused.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>

struct arg {
	char name[64];
	unsigned long long seed, n;
};

/* Writer child: write n seeded bytes, then as role says: close, die, or
 * linger until killed. */
static int writer(const struct arg *a, const char *then)
{
	dipc_stream *s;
	if (dipc_stream_open(a->name, DIPC_STREAM_WRITE, 64, 0, &s) != 0)
		return 10;
	unsigned char buf[256];
	t_fill(a->seed, 0, buf, (size_t)a->n);
	if (dipc_stream_write(s, buf, (size_t)a->n, DIPC_WAIT_FOREVER) != (int64_t)a->n)
		return 11;
	/* Let the reader get to sleep in its read first. */
	t_sleep_ms(300);
	if (strcmp(then, "close") == 0)
		return dipc_stream_close(s) == 0 ? 0 : 12;
	if (strcmp(then, "die") == 0)
		t_die_now();
	return t_linger();
}

/* Reader child: read n bytes (blocking), check them, then close, die, or
 * linger. */
static int reader(const struct arg *a, const char *then)
{
	dipc_stream *s;
	if (dipc_stream_open(a->name, DIPC_STREAM_READ, 64, 0, &s) != 0)
		return 20;
	unsigned char buf[256];
	if (dipc_stream_read(s, buf, (size_t)a->n, DIPC_WAIT_FOREVER) != (int64_t)a->n)
		return 21;
	if (t_check(a->seed, 0, buf, (size_t)a->n) != a->n)
		return 22;
	t_sleep_ms(300);
	if (strcmp(then, "close") == 0)
		return dipc_stream_close(s) == 0 ? 0 : 23;
	if (strcmp(then, "die") == 0)
		t_die_now();
	return t_linger();
}

/* Child that only tries to take a role: exits 0 if refused with EBUSY. */
static int try_role(const struct arg *a, int role)
{
	dipc_stream *s;
	int rc = dipc_stream_open(a->name, role, 64, 0, &s);
	return rc == DIPC_EBUSY ? 0 : 30;
}

int t_child(const char *role, const char *arg)
{
	struct arg a;
	if (sscanf(arg, "%63[^:]:%llu:%llu", a.name, &a.seed, &a.n) != 3 || a.n > 256)
		return 2;
	if (strncmp(role, "writer-", 7) == 0)
		return writer(&a, role + 7);
	if (strncmp(role, "reader-", 7) == 0)
		return reader(&a, role + 7);
	if (strcmp(role, "try-reader") == 0)
		return try_role(&a, DIPC_STREAM_READ);
	if (strcmp(role, "try-writer") == 0)
		return try_role(&a, DIPC_STREAM_WRITE);
	return 3;
}

static t_pid spawn(const char *role, const char *name, uint64_t seed, uint64_t n)
{
	char arg[128];
	snprintf(arg, sizeof(arg), "%s:%llu:%llu", name, (unsigned long long)seed,
		 (unsigned long long)n);
	return t_spawn(role, arg);
}

/* The writer closes or dies while the reader is blocked in a read for
 * more than was written: the reader gets the bytes, then peer closed. */
static void writer_goes(const char *how, uint64_t seed)
{
	const char *name = t_name(how);
	dipc_stream *r;
	dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r);
	char role[32];
	snprintf(role, sizeof(role), "writer-%s", how);
	t_pid p = spawn(role, name, seed, 50);
	unsigned char buf[200];
	double t0 = t_now();
	int64_t n = dipc_stream_read(r, buf, sizeof(buf), T_LONG_NS);
	is_int(n, 50, "writer %s: the blocked read returns the 50 committed bytes", how);
	is_int(t_check(seed, 0, buf, 50), 50, "writer %s: intact", how);
	is_int(dipc_stream_read(r, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "writer %s: then peer closed", how);
	diag("writer %s seen after %.3f s", how, t_now() - t0);
	ok(t_status_has(r, "WO=0") && t_status_has(r, "WC=1"),
	   "writer %s: status says the writer closed", how);
	is_int(t_wait(p, T_LONG_S), strcmp(how, "close") ? T_KILLED : 0,
	       "writer %s: child ended as planned", how);
	dipc_stream_close(r);
}

/* The reader closes or dies while the writer is blocked on a full ring:
 * the writer gets a short count (or peer closed) instead of blocking. */
static void reader_goes(const char *how, uint64_t seed)
{
	const char *name = t_name(how);
	dipc_stream *w;
	dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w);
	char role[32];
	snprintf(role, sizeof(role), "reader-%s", how);
	t_pid p = spawn(role, name, seed, 100);
	unsigned char buf[1000];
	t_fill(seed, 0, buf, sizeof(buf));
	int64_t n = dipc_stream_write(w, buf, sizeof(buf), T_LONG_NS);
	ok(n >= 100 && n <= 164, "reader %s: blocked write returns a short count (%lld)",
	   how, (long long)n);
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "reader %s: the next write is told peer closed", how);
	ok(t_status_has(w, "RO=0") && t_status_has(w, "RC=1"),
	   "reader %s: status says the reader closed", how);
	is_int(t_wait(p, T_LONG_S), strcmp(how, "close") ? T_KILLED : 0,
	       "reader %s: child ended as planned", how);
	dipc_stream_close(w);
}

/* SIGKILL from outside (t_kill) while the peer is quiet. */
static void killed_from_outside(uint64_t seed)
{
	const char *name = t_name("tkill");
	dipc_stream *r;
	dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r);
	t_pid p = spawn("writer-linger", name, seed, 30);
	unsigned char buf[64];
	is_int(dipc_stream_read(r, buf, 30, T_LONG_NS), 30, "t_kill writer: 30 bytes read");
	is_int(t_kill(p), T_KILLED, "t_kill writer: writer killed");
	is_int(dipc_stream_read(r, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "t_kill writer: a blocking read reports it");
	dipc_stream_close(r);

	name = t_name("tkillr");
	dipc_stream *w;
	dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w);
	t_pid q = spawn("reader-linger", name, seed, 1);
	t_fill(seed, 0, buf, sizeof(buf));
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), 1, "t_kill reader: 1 byte written");
	/* Once the reader has taken it, 64 more fill the ring exactly. */
	is_int(dipc_stream_write(w, buf, 64, T_LONG_NS), 64, "t_kill reader: ring filled");
	ok(t_status_has(w, "RO=1") && t_status_has(w, "state=full"),
	   "t_kill reader: status shows a live reader and a full ring");
	is_int(t_kill(q), T_KILLED, "t_kill reader: reader killed");
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "t_kill reader: a blocking write reports it");
	dipc_stream_close(w);
}

static int writer_open(void *s)
{
	return t_status_has(s, "WO=1");
}

/* A writer role taken again after a close, then after a kill; refusals
 * while the holder lives. */
static void roles_again(uint64_t seed)
{
	const char *name = t_name("again");
	dipc_stream *r, *w, *x;
	unsigned char buf[64];
	dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r);

	t_pid p = spawn("writer-close", name, seed, 5);
	is_int(dipc_stream_read(r, buf, 5, T_LONG_NS), 5, "again: first writer's bytes");
	is_int(t_wait(p, T_LONG_S), 0, "again: first writer closed");
	is_int(dipc_stream_read(r, buf, 1, DIPC_TRY_ONCE), DIPC_EPEERCLOSED,
	       "again: reader sees that close");

	p = spawn("writer-linger", name, seed + 1, 7);
	/* A read now would report the first writer's close; wait until the
	 * role is held again. */
	ok(t_until(writer_open, r, T_LONG_S), "again: a second writer took the role");
	is_int(dipc_stream_read(r, buf, 7, T_LONG_NS), 7, "again: the reader reads on");
	is_int(t_check(seed + 1, 0, buf, 7), 7, "again: its bytes follow");
	is_int(dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &x), DIPC_EBUSY,
	       "again: a writer in this process is refused while it lives");
	t_pid q = spawn("try-writer", name, 0, 0);
	is_int(t_wait(q, T_LONG_S), 0, "again: a writer in another process is refused too");
	q = spawn("try-reader", name, 0, 0);
	is_int(t_wait(q, T_LONG_S), 0, "again: a second reader in another process is refused");
	is_int(dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &x), DIPC_EBUSY,
	       "again: a second reader in this process is refused");

	is_int(t_kill(p), T_KILLED, "again: holder of the writer role killed");
	is_int(dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w), 0,
	       "again: the dead holder's role is taken over");
	t_fill(seed + 2, 0, buf, 9);
	is_int(dipc_stream_write(w, buf, 9, T_LONG_NS), 9, "again: new writer writes");
	memset(buf, 0, sizeof(buf));
	is_int(dipc_stream_read(r, buf, 9, T_LONG_NS), 9, "again: reader reads on");
	is_int(t_check(seed + 2, 0, buf, 9), 9, "again: the new writer's bytes");

	is_int(dipc_stream_close(r), 0, "again: reader closes");
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "again: the writer is told at once");
	is_int(dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r), 0,
	       "again: the reader role is free again after a close");
	is_int(dipc_stream_write(w, buf, 1, T_LONG_NS), 1, "again: writes flow again");
	dipc_stream_close(w);
	dipc_stream_close(r);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(45);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u;
	writer_goes("close", seed);
	writer_goes("die", seed + 1);
	reader_goes("close", seed + 2);
	reader_goes("die", seed + 3);
	killed_from_outside(seed + 4);
	roles_again(seed + 5);
	return done_testing();
}

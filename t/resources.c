/*
 * resources.c - what pools and streams cost in descriptors, and running
 * out of them.
 *
 *  - An open pool or stream holds no file descriptor: with many pools
 *    created and attached and many streams open at once, the process has
 *    as many descriptors as before (Linux, counted in /proc/self/fd), and
 *    every one of them still works.
 *  - With the process out of descriptors (RLIMIT_NOFILE lowered, the rest
 *    taken by dup), creating a pool, attaching one, and opening a new or
 *    an existing stream each return DIPC_ELIMIT and leave no name in
 *    /dev/shm; with a single descriptor given back, several creates and
 *    opens in a row work again, since none keeps one (POSIX).
 *
 * On Windows the counting and the limit are skipped (a process has no
 * small handle limit to run into); the rest runs, and a pool larger than
 * any commit limit is DIPC_ENOSPC at create (on Linux, t/backing.sh
 * checks that in a small /dev/shm of its own).
 */
#include "coretest.h"

#ifndef _WIN32
# include <errno.h>
# include <fcntl.h>
# include <sys/resource.h>
# include <sys/stat.h>
#endif

#define NPOOLS   12
#define NSTREAMS 8
#define MAXDUPS  4096

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

/* Descriptors open in this process now, or -1 where that cannot be
 * counted. */
static int fd_count(void)
{
#ifdef __linux__
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
#else
	return -1;
#endif
}

struct pair {
	const char *name;
	dipc_stream *r, *w;
};

/* Write a few bytes through w and read them back through r. */
static int stream_works(dipc_stream *r, dipc_stream *w, unsigned seed)
{
	unsigned char out[24], in[24];
	tc_fill(out, sizeof(out), seed);
	if (dipc_stream_write(w, out, sizeof(out), 5 * TC_SEC) != (int64_t)sizeof(out))
		return 0;
	if (dipc_stream_read(r, in, sizeof(in), 5 * TC_SEC) != (int64_t)sizeof(in))
		return 0;
	return memcmp(in, out, sizeof(in)) == 0;
}

/* Allocate through one handle and find the bytes through another. */
static int pool_works(dipc_pool *a, dipc_pool *b, unsigned seed)
{
	dipc_mem *m, *m2 = NULL;
	if (dipc_pool_alloc(a, 4096, &m) != 0)
		return 0;
	tc_fill(tc_ptr(m), 4096, seed);
	unsigned char ser[DIPC_SERIAL_MAX];
	int n = dipc_mem_serialize(m, ser, sizeof(ser));
	int good = n > 0 && dipc_mem_attach(b, ser, (size_t)n, &m2) == 0 &&
		   tc_check(tc_ptr(m2), 4096, seed);
	if (m2)
		dipc_mem_detach(m2);
	dipc_mem_free(m);
	return good;
}

/* Many pools and streams at once: no descriptor each, and all usable. */
static void many_open(void)
{
	dipc_pool *pools[NPOOLS] = { 0 }, *attached[NPOOLS] = { 0 };
	struct pair st[NSTREAMS] = { { 0 } };
	const char *names[NPOOLS];
	int before = fd_count();
	int made = 0, opened = 0;

	for (int i = 0; i < NPOOLS; i++) {
		char base[32];
		snprintf(base, sizeof(base), "many%d", i);
		names[i] = tc_pool_new(base, 1 << 20, &pools[i]);
		if (names[i] && dipc_pool_attach_name(names[i], &attached[i]) == 0)
			made++;
	}
	for (int i = 0; i < NSTREAMS; i++) {
		char base[32];
		snprintf(base, sizeof(base), "s%d", i);
		st[i].name = t_name(base);
		if (dipc_stream_open(st[i].name, DIPC_STREAM_READ, 4096, 0, &st[i].r) == 0 &&
		    dipc_stream_open(st[i].name, DIPC_STREAM_WRITE, 4096, 0, &st[i].w) == 0)
			opened++;
	}
	is_int(made, NPOOLS, "%d pools created and each attached by name once more", NPOOLS);
	is_int(opened, NSTREAMS, "%d streams opened by a reader and a writer", NSTREAMS);

	int after = fd_count();
	if (before < 0) {
		skip(1, "no /proc/self/fd to count descriptors in");
	} else {
		is_int(after, before, "%d pool and %d stream handles hold no descriptor "
		       "(%d before, %d after)", 2 * NPOOLS, 2 * NSTREAMS, before, after);
	}

	int pgood = 0, sgood = 0;
	for (int i = 0; i < NPOOLS; i++)
		if (pools[i] && attached[i] && pool_works(pools[i], attached[i], (unsigned)i))
			pgood++;
	for (int i = 0; i < NSTREAMS; i++)
		if (st[i].r && st[i].w && stream_works(st[i].r, st[i].w, (unsigned)i))
			sgood++;
	is_int(pgood, NPOOLS, "every pool: an allocation made through one handle is "
	       "read through the other");
	is_int(sgood, NSTREAMS, "every stream carries bytes from writer to reader");

	for (int i = 0; i < NSTREAMS; i++) {
		if (st[i].w)
			dipc_stream_close(st[i].w);
		if (st[i].r)
			dipc_stream_close(st[i].r);
	}
	for (int i = 0; i < NPOOLS; i++) {
		if (attached[i])
			dipc_pool_detach(attached[i]);
		if (pools[i])
			tc_pool_del(pools[i]);
	}
	if (before < 0)
		skip(1, "no /proc/self/fd to count descriptors in");
	else
		is_int(fd_count(), before, "closing them all leaves the count as it was");
}

#ifndef _WIN32
/* Does the segment of this pool or stream name exist?  (No descriptor
 * needed: usable while the process has none left.) */
static int seg_exists(const char *prefix, const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/%s%s", prefix, name);
	return access(path, F_OK) == 0;
}

static int dups[MAXDUPS];
static int ndups;

/* Take every descriptor this process may still open (its soft limit
 * lowered to a small number first).  Returns 0 when it got to EMFILE. */
static int exhaust(struct rlimit *saved)
{
	if (getrlimit(RLIMIT_NOFILE, saved) != 0)
		return -1;
	int highest = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			highest = fd;
	struct rlimit low = *saved;
	low.rlim_cur = (rlim_t)highest + 64;
	if (low.rlim_cur > saved->rlim_cur)
		low.rlim_cur = saved->rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		return -1;
	ndups = 0;
	for (;;) {
		if (ndups == MAXDUPS)
			return -1;
		int fd = dup(1);
		if (fd < 0)
			return errno == EMFILE ? 0 : -1;
		dups[ndups++] = fd;
	}
}

static void give_back(int count)
{
	while (count-- > 0 && ndups > 0)
		close(dups[--ndups]);
}

static void restore(const struct rlimit *saved)
{
	give_back(ndups);
	setrlimit(RLIMIT_NOFILE, saved);
}

#define OOD_TESTS 17

/* valgrind keeps its own descriptors above a lowered limit it shows the
 * program, and enforces that limit after the kernel has opened (and so
 * created) the file: a create it refuses leaves the name behind, which
 * the kernel itself never does.  Its preload library gives it away. */
static int under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload") != NULL;
}

/* A second process out of descriptors joins the parent's pool and
 * stream: DIPC_ELIMIT, then with one descriptor back it gets in and
 * writes.  Exit status 0, or the step that went wrong. */
static int child_join(const char *arg)
{
	char pname[64], sname[64];
	const char *p = arg;
	tc_field(&p, pname, sizeof(pname));
	tc_field(&p, sname, sizeof(sname));
	struct rlimit saved;
	dipc_pool *pool = NULL;
	dipc_stream *w = NULL;
	if (exhaust(&saved) != 0)
		return 10;
	if (dipc_pool_attach_name(pname, &pool) != DIPC_ELIMIT)
		return 11;
	if (dipc_stream_open(sname, DIPC_STREAM_WRITE, 4096, 0, &w) != DIPC_ELIMIT)
		return 12;
	give_back(1);
	if (dipc_pool_attach_name(pname, &pool) != 0)
		return 13;
	if (dipc_stream_open(sname, DIPC_STREAM_WRITE, 4096, 0, &w) != 0)
		return 14;
	unsigned char out[24];
	tc_fill(out, sizeof(out), 11);
	if (dipc_stream_write(w, out, sizeof(out), 5 * TC_SEC) != (int64_t)sizeof(out))
		return 15;
	dipc_stream_close(w);
	dipc_pool_detach(pool);
	restore(&saved);
	return 0;
}

/* The process out of descriptors. */
static void out_of_descriptors(void)
{
	/* Made while there is room: the pool and stream to join later. */
	dipc_pool *pool = NULL, *p2 = NULL;
	dipc_stream *sr = NULL, *sw = NULL, *s2 = NULL;
	const char *pname = tc_pool_new("have", 1 << 20, &pool);
	const char *sname = t_name("have-s");
	const char *newpool = t_name("new");
	const char *newstream = t_name("new-s");
	int rc = dipc_stream_open(sname, DIPC_STREAM_READ, 4096, 0, &sr);
	if (under_valgrind()) {
		skip(OOD_TESTS, "valgrind enforces the descriptor limit after the kernel "
		     "has created the file");
		goto out;
	}
	if (!pname || rc != 0) {
		skip(OOD_TESTS, "could not make the pool and stream to join");
		goto out;
	}

	struct rlimit saved;
	if (exhaust(&saved) != 0) {
		restore(&saved);
		skip(OOD_TESTS, "could not use up the descriptors");
		goto out;
	}
	diag("RLIMIT_NOFILE lowered, %d more descriptors taken by dup: EMFILE", ndups);

	dipc_pool *tmp = NULL;
	E(dipc_pool_create(newpool, 1 << 20, NULL, &tmp), DIPC_ELIMIT);
	if (tmp) {
		tc_pool_track(newpool, tmp);
		tc_pool_del(tmp);
	}
	ok(!seg_exists("dipc.p.", newpool), "... and no /dev/shm/dipc.p.%s is left", newpool);
	E(dipc_pool_attach_name(pname, &p2), DIPC_ELIMIT);
	if (p2) {
		dipc_pool_detach(p2);
		p2 = NULL;
	}
	E(dipc_stream_open(newstream, DIPC_STREAM_READ, 4096, 0, &s2), DIPC_ELIMIT);
	if (s2) {
		dipc_stream_close(s2);
		s2 = NULL;
	}
	ok(!seg_exists("dipc.s.", newstream), "... and no /dev/shm/dipc.s.%s is left",
	   newstream);
	E(dipc_stream_open(sname, DIPC_STREAM_WRITE, 4096, 0, &sw), DIPC_ELIMIT);
	if (sw) {
		dipc_stream_close(sw);
		sw = NULL;
	}
	ok(seg_exists("dipc.s.", sname), "... and the stream that was there is still there");

	/* One descriptor back: each create and open below needs one only
	 * for a moment. */
	give_back(1);
	int made = 0;
	dipc_pool *again[3] = { 0 };
	const char *again_names[3] = { t_name("again0"), t_name("again1"), t_name("again2") };
	for (int i = 0; i < 3; i++) {
		rc = dipc_pool_create(again_names[i], 1 << 20, NULL, &again[i]);
		if (rc == 0) {
			tc_pool_track(again_names[i], again[i]);
			made++;
		} else {
			diag("create %s: %s", again_names[i], dipc_strerror(rc));
			again[i] = NULL;
		}
	}
	is_int(made, 3, "with one descriptor given back, three pools are created in a row");
	E(dipc_pool_attach_name(pname, &p2), 0);
	E(dipc_stream_open(sname, DIPC_STREAM_WRITE, 4096, 0, &sw), 0);
	E(dipc_stream_open(newstream, DIPC_STREAM_READ, 4096, 0, &s2), 0);
	ok(sw && stream_works(sr, sw, 7), "the stream joined then carries bytes");
	ok(p2 && pool_works(pool, p2, 9), "the pool attached then shares allocations");
	/* None of those kept the descriptor that was given back. */
	int fd = dup(1);
	ok(fd >= 0, "the descriptor given back is free again afterwards");
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 3; i++)
		if (again[i])
			tc_pool_del(again[i]);
	if (s2)
		dipc_stream_close(s2);
	if (sw)
		dipc_stream_close(sw);
	if (p2)
		dipc_pool_detach(p2);
	restore(&saved);

	/* The same from a second process, joining what this one made. */
	char arg[160];
	snprintf(arg, sizeof(arg), "%s:%s", pname, sname);
	t_pid kid = tc_spawn("join", arg);
	is_int(tc_reap(kid, 60), 0, "another process out of descriptors: DIPC_ELIMIT for "
	       "attach and stream open, then in with one descriptor back");
	unsigned char in[24] = { 0 };
	ok(dipc_stream_read(sr, in, sizeof(in), 5 * TC_SEC) == (int64_t)sizeof(in) &&
	   tc_check(in, sizeof(in), 11), "... and what it wrote arrives");

	dipc_pool *p3 = NULL;
	E(dipc_pool_create(newpool, 1 << 20, NULL, &p3), 0);
	if (p3) {
		tc_pool_track(newpool, p3);
		tc_pool_del(p3);
	}
out:
	if (sr)
		dipc_stream_close(sr);
	if (pool)
		tc_pool_del(pool);
}
#endif

#ifdef _WIN32
/* A pool no commit limit can hold: the section is committed at create,
 * so the refusal comes there, as DIPC_ENOSPC, and nothing is left. */
static void over_commit(void)
{
	const char *name = t_name("huge");
	dipc_pool *p = NULL;
	E(dipc_pool_create(name, (size_t)1 << 44, NULL, &p), DIPC_ENOSPC);
	if (p) {
		tc_pool_track(name, p);
		tc_pool_del(p);
	}
	p = NULL;
	E(dipc_pool_attach_name(name, &p), DIPC_ENOENT);
	if (p)
		dipc_pool_detach(p);
}
#endif

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	many_open();
#ifdef _WIN32
	skip(17, "RLIMIT_NOFILE and EMFILE are POSIX; Windows has no small handle limit");
	over_commit();
#else
	out_of_descriptors();
#endif
	return tc_finish();
}

int t_child(const char *role, const char *arg)
{
#ifndef _WIN32
	if (strcmp(role, "join") == 0)
		return child_join(arg);
#endif
	(void)arg;
	fprintf(stderr, "resources: unknown child role %s\n", role);
	return 2;
}

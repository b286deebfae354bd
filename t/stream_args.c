/*
 * stream_args.c - bad arguments, timeouts, the status line, permissions,
 * and library init/cleanup with streams still open.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>
#include <inttypes.h>
#include <stdlib.h>
#ifndef _WIN32
# include <sys/stat.h>
#endif

/* Child for the cleanup case: write, then dipc_cleanup instead of close. */
int t_child(const char *role, const char *arg)
{
	if (strcmp(role, "cleanup-writer") != 0)
		return 2;
	dipc_stream *s;
	if (dipc_stream_open(arg, DIPC_STREAM_WRITE, 64, 0, &s) != 0)
		return 10;
	if (dipc_stream_write(s, "bytes", 5, DIPC_WAIT_FOREVER) != 5)
		return 11;
	return dipc_cleanup() == 0 ? 0 : 12;
}

static void bad_open(void)
{
	dipc_stream *s = (dipc_stream *)&s;
	char longname[DIPC_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname));
	longname[DIPC_NAME_MAX + 1] = 0;

	is_int(dipc_stream_open(NULL, DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: NULL name");
	ok(s == NULL, "open: *s is NULL after a failure");
	is_int(dipc_stream_open("", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: empty name");
	is_int(dipc_stream_open("a/b", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: name with '/'");
	is_int(dipc_stream_open("..", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: name '..'");
	is_int(dipc_stream_open("../x", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: name '../x'");
	is_int(dipc_stream_open(".hidden", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL,
	       "open: name starting with '.'");
	is_int(dipc_stream_open("a b", DIPC_STREAM_READ, 64, 0, &s), DIPC_EINVAL, "open: name with a space");
	is_int(dipc_stream_open(longname, DIPC_STREAM_READ, 64, 0, &s), DIPC_ENAMETOOLONG,
	       "open: name of %d bytes", DIPC_NAME_MAX + 1);
	const char *n = t_name("args");
	is_int(dipc_stream_open(n, DIPC_STREAM_READ, 0, 0, &s), DIPC_EINVAL, "open: zero size");
	is_int(dipc_stream_open(n, 2, 64, 0, &s), DIPC_EINVAL, "open: role 2");
	is_int(dipc_stream_open(n, -1, 64, 0, &s), DIPC_EINVAL, "open: role -1");
	is_int(dipc_stream_open(n, DIPC_STREAM_READ, 64, 01000, &s), DIPC_EINVAL, "open: perm beyond 0777");
	is_int(dipc_stream_open(n, DIPC_STREAM_READ, (size_t)1 << 41, 0, &s), DIPC_EINVAL,
	       "open: size beyond the limit");
	is_int(dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, NULL), DIPC_EINVAL, "open: NULL out");
	is_int(dipc_stream_unlink(n), DIPC_ENOENT, "open: no failed open left a segment");

	/* The longest allowed name works. */
	char maxname[DIPC_NAME_MAX + 1];
	snprintf(maxname, sizeof(maxname), "%s", t_name("max"));
	memset(maxname + strlen(maxname), 'm', DIPC_NAME_MAX - strlen(maxname));
	maxname[DIPC_NAME_MAX] = 0;
	is_int(dipc_stream_open(maxname, DIPC_STREAM_READ, 64, 0, &s), 0,
	       "open: a name of %d bytes", DIPC_NAME_MAX);
	dipc_stream_close(s);

	is_int(dipc_stream_unlink(NULL), DIPC_EINVAL, "unlink: NULL name");
	is_int(dipc_stream_unlink("a/b"), DIPC_EINVAL, "unlink: bad name");
	is_int(dipc_stream_unlink(t_name("none")), DIPC_ENOENT, "unlink: no such stream");
}

static void bad_calls(void)
{
	const char *n = t_name("calls");
	dipc_stream *r, *w;
	char buf[8] = { 0 };
	dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, &r);
	dipc_stream_open(n, DIPC_STREAM_WRITE, 64, 0, &w);
	is_int(dipc_stream_write(r, buf, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "write on a reader");
	is_int(dipc_stream_read(w, buf, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "read on a writer");
	is_int(dipc_stream_write(NULL, buf, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "write on NULL");
	is_int(dipc_stream_read(NULL, buf, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "read on NULL");
	is_int(dipc_stream_write(w, NULL, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "write from NULL");
	is_int(dipc_stream_read(r, NULL, 1, DIPC_TRY_ONCE), DIPC_EINVAL, "read into NULL");
	is_int(dipc_stream_write(w, buf, 1, -3), DIPC_EINVAL, "write with timeout -3");
	is_int(dipc_stream_read(r, buf, 1, -3), DIPC_EINVAL, "read with timeout -3");
	is_int(dipc_stream_write(w, buf, 0, DIPC_TRY_ONCE), 0, "write of 0 bytes");
	is_int(dipc_stream_read(r, buf, 0, DIPC_TRY_ONCE), 0, "read of 0 bytes");
	is_int(dipc_stream_write(w, "x", 1, DIPC_TIMEOUT_DEFAULT), 1,
	       "write with the handle's default timeout");
	is_int(dipc_stream_read(r, buf, 1, DIPC_TIMEOUT_DEFAULT), 1,
	       "read with the handle's default timeout");
	is_int(dipc_stream_status(NULL, buf, sizeof(buf)), DIPC_EINVAL, "status of NULL");
	is_int(dipc_stream_status(r, NULL, 5), DIPC_EINVAL, "status into NULL");
	is_int(dipc_stream_print_status(r, NULL), DIPC_EINVAL, "print_status to NULL");
	is_int(dipc_stream_close(NULL), DIPC_EINVAL, "close of NULL");
	dipc_stream_close(w);
	is_int(dipc_stream_close(w), DIPC_ENOTOPEN, "second close is refused, no double free");
	dipc_stream_close(r);
}

static void timeouts(void)
{
	const char *n = t_name("tmo");
	dipc_stream *r, *w;
	unsigned char buf[64];
	memset(buf, 'z', sizeof(buf));
	dipc_stream_open(n, DIPC_STREAM_READ, 20, 0, &r);
	dipc_stream_open(n, DIPC_STREAM_WRITE, 20, 0, &w);

	is_int(dipc_stream_read(r, buf, 10, DIPC_TRY_ONCE), 0, "try-once read on empty gives 0");
	double t0 = t_now();
	is_int(dipc_stream_read(r, buf, 10, 50 * 1000 * 1000), DIPC_ETIMEDOUT,
	       "50 ms read on empty times out");
	ok(t_now() - t0 >= 0.049, "and did not return before its deadline");

	is_int(dipc_stream_write(w, buf, 30, DIPC_TRY_ONCE), 20, "try-once write takes what fits");
	is_int(dipc_stream_write(w, buf, 1, DIPC_TRY_ONCE), DIPC_EFULL, "try-once write on full: EFULL");
	t0 = t_now();
	is_int(dipc_stream_write(w, buf, 1, 50 * 1000 * 1000), DIPC_ETIMEDOUT,
	       "50 ms write on full times out");
	ok(t_now() - t0 >= 0.049, "and did not return before its deadline");

	is_int(dipc_stream_read(r, buf, 5, DIPC_TRY_ONCE), 5, "reader takes 5");
	is_int(dipc_stream_write(w, buf, 30, 20 * 1000 * 1000), 5,
	       "a timed write that runs out returns what it wrote");
	is_int(dipc_stream_read(r, buf, 64, DIPC_TRY_ONCE), 20, "try-once read takes all there is");
	is_int(dipc_stream_write(w, buf, 15, DIPC_TRY_ONCE), 15, "15 more written");
	is_int(dipc_stream_read(r, buf, 30, 20 * 1000 * 1000), 15,
	       "a timed read that runs out returns what it read");
	dipc_stream_close(w);
	dipc_stream_close(r);
}

struct st {
	char name[80], mode, listener[16], state[16];
	long long hshm;
	int ro, wo, rcl, wcl;
	void *hr, *hw;
	unsigned long long size, rc, wc;
};

/* Parse the whole status line; 1 if it has exactly the expected form. */
static int parse_status(dipc_stream *s, struct st *o)
{
	char line[512];
	int len = dipc_stream_status(s, line, sizeof(line));
	if (len <= 0 || (size_t)len != strlen(line))
		return 0;
	int end = 0;
	int k = sscanf(line, "Channel(%79[^)]): mode=%c hSharedMem=%lld listener=%15s "
		       "syncBuf={RO=%d WO=%d RC=%d WC=%d hREvt=%p hWEvt=%p bufSz=%llu "
		       "rc=%llu wc=%llu state=%15[a-z]}%n",
		       o->name, &o->mode, &o->hshm, o->listener, &o->ro, &o->wo, &o->rcl,
		       &o->wcl, &o->hr, &o->hw, &o->size, &o->rc, &o->wc, o->state, &end);
	return k == 14 && end == len;
}

static void nop_cb(dipc_stream *s, const void *d, size_t l, void *a)
{
	(void)s; (void)d; (void)l; (void)a;
}

static void status(void)
{
	const char *n = t_name("stat");
	dipc_stream *r, *w;
	struct st a, b;
	unsigned char buf[32] = { 0 };
	dipc_stream_open(n, DIPC_STREAM_READ, 20, 0, &r);
	ok(parse_status(r, &a), "status: the line has smipc's form");
	ok(strcmp(a.name, n) == 0 && a.mode == 'R' && a.size == 20,
	   "status: name, mode=R, bufSz=20");
	ok(a.ro == 1 && a.wo == 0 && a.rcl == 0 && a.wcl == 0,
	   "status: reader open, writer never opened");
	ok(a.rc == 0 && a.wc == 0 && strcmp(a.state, "empty") == 0 &&
	   strcmp(a.listener, "disable") == 0, "status: empty, cursors 0, no listener");
	ok(a.hr != NULL && a.hw != NULL && a.hr != a.hw, "status: two distinct wait words");

	dipc_stream_open(n, DIPC_STREAM_WRITE, 99, 0, &w);
	dipc_stream_write(w, buf, 7, DIPC_TRY_ONCE);
	ok(parse_status(w, &b) && b.mode == 'W' && b.ro == 1 && b.wo == 1 &&
	   b.size == 20 && b.rc == 0 && b.wc == 7 && strcmp(b.state, "normal") == 0,
	   "status: after 7 bytes, mode=W, both open, wc=7, normal");
	dipc_stream_write(w, buf, 13, DIPC_TRY_ONCE);
	ok(parse_status(r, &a) && a.wc == 20 && strcmp(a.state, "full") == 0,
	   "status: the reader's view is fresh: full at 20");
	dipc_stream_read(r, buf, 20, DIPC_TRY_ONCE);
	ok(parse_status(w, &b) && b.rc == 20 && b.wc == 20 && strcmp(b.state, "empty") == 0,
	   "status: after reading, rc=20 wc=20 empty");
	dipc_stream_listen(r, nop_cb, NULL);
	ok(parse_status(r, &a) && strcmp(a.listener, "enable") == 0, "status: listener=enable");
	dipc_stream_unlisten(r);
	ok(parse_status(r, &a) && strcmp(a.listener, "disable") == 0,
	   "status: listener=disable after unlisten");

	char line[512], small[16];
	int len = dipc_stream_status(r, line, sizeof(line));
	is_int(dipc_stream_status(r, small, sizeof(small)), len,
	       "status: a short buffer still gets the full length back");
	ok(strncmp(small, line, sizeof(small) - 1) == 0 && small[sizeof(small) - 1] == 0,
	   "status: and a truncated, terminated line");
	is_int(dipc_stream_status(r, NULL, 0), len, "status: NULL, 0 asks the length");

	FILE *f = tmpfile();
	if (f) {
		is_int(dipc_stream_print_status(r, f), 0, "print_status: to a FILE");
		char back[600] = { 0 };
		rewind(f);
		size_t got = fread(back, 1, sizeof(back) - 1, f);
		fclose(f);
		ok(got == (size_t)len + 1 && strncmp(back, line, (size_t)len) == 0 &&
		   back[len] == '\n', "print_status: the same line and a newline");
	} else {
		skip(2, "no tmpfile");
	}

	dipc_stream_close(w);
	ok(parse_status(r, &a) && a.wo == 0 && a.wcl == 1, "status: WO=0 WC=1 after close");
	dipc_stream_close(r);
}

static void permissions(void)
{
#ifdef _WIN32
	skip(2, "no POSIX modes on Windows");
#else
	char path[128];
	struct stat st;
	dipc_stream *s;
	const char *n = t_name("perm");
	dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, &s);
	snprintf(path, sizeof(path), "/dev/shm/dipc.s.%s", n);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "perm: 0600 by default");
	dipc_stream_close(s);
	n = t_name("perm2");
	dipc_stream_open(n, DIPC_STREAM_READ, 64, 0640, &s);
	snprintf(path, sizeof(path), "/dev/shm/dipc.s.%s", n);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "perm: 0640 when asked");
	dipc_stream_close(s);
#endif
}

static int log_lines;
static char last_log[512];
static void log_fn(int level, const char *msg, void *arg)
{
	(void)level; (void)arg;
	log_lines++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* DIPC_LOG_BASIC tells of opens and closes; DIPC_LOG_ALL adds a line for
 * every read and write. */
static void log_levels(void)
{
	const char *n = t_name("loglvl");
	dipc_stream *r, *w;
	char buf[8];
	dipc_log_set_handler(log_fn, NULL);
	dipc_log_set_level(DIPC_LOG_BASIC);
	dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, &r);
	dipc_stream_open(n, DIPC_STREAM_WRITE, 64, 0, &w);
	log_lines = 0;
	dipc_stream_write(w, "abc", 3, DIPC_TRY_ONCE);
	dipc_stream_read(r, buf, 3, DIPC_TRY_ONCE);
	is_int(log_lines, 0, "log basic: reads and writes are not logged");

	dipc_log_set_level(DIPC_LOG_ALL);
	is_int(dipc_stream_write(w, "abcde", 5, DIPC_TRY_ONCE), 5, "log all: write");
	ok(strstr(last_log, "wrote 5 of 5 bytes") != NULL, "log all: the write is logged (%s)", last_log);
	is_int(dipc_stream_read(r, buf, 8, DIPC_TRY_ONCE), 5, "log all: read what is there");
	ok(strstr(last_log, "read 5 of 8 bytes") != NULL, "log all: the read is logged (%s)", last_log);
	is_int(dipc_stream_read(r, buf, 8, 1000000), DIPC_ETIMEDOUT, "log all: read of an empty ring");
	ok(strstr(last_log, "read 0 of 8") != NULL && strstr(last_log, "stopped by") != NULL,
	   "log all: the timeout is logged with its reason (%s)", last_log);
	dipc_log_set_level(DIPC_LOG_DISABLE);
	log_lines = 0;
	dipc_stream_write(w, "abc", 3, DIPC_TRY_ONCE);
	is_int(log_lines, 0, "log disabled: nothing is logged");
	dipc_stream_close(w);
	dipc_stream_close(r);
	dipc_log_set_handler(NULL, NULL);
}

static void init_cleanup(void)
{
	is_int(dipc_init(7), DIPC_EINVAL, "init: bad log level");
	is_int(dipc_init(DIPC_LOG_BASIC), 0, "init: basic logging");
	is_int(dipc_log_get_level(), DIPC_LOG_BASIC, "init: level set");
	dipc_log_set_handler(log_fn, NULL);

	const char *n = t_name("clean");
	dipc_stream *r, *w;
	char buf[8];
	dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, &r);
	dipc_stream_open(n, DIPC_STREAM_WRITE, 64, 0, &w);
	ok(log_lines >= 2, "init: opens are logged (%d lines)", log_lines);
	dipc_stream_listen(r, nop_cb, NULL);
	dipc_stream_write(w, "abc", 3, DIPC_TRY_ONCE);

	is_int(dipc_cleanup(), 0, "cleanup: with two streams open and a listener");
	ok(strstr(last_log, "cleanup closed 2") != NULL, "cleanup: it said so in the log");
	is_int(dipc_log_get_level(), DIPC_LOG_DISABLE, "cleanup: logging back to off");
	is_int(dipc_stream_unlink(n), DIPC_ENOENT, "cleanup: both sides closed, name removed");
	is_int(dipc_stream_read(r, buf, 1, DIPC_TRY_ONCE), DIPC_ENOTOPEN,
	       "cleanup: a read on a closed handle says not open");
	is_int(dipc_stream_write(w, buf, 1, DIPC_TRY_ONCE), DIPC_ENOTOPEN,
	       "cleanup: so does a write");
	is_int(dipc_stream_status(r, buf, sizeof(buf)), DIPC_ENOTOPEN, "cleanup: and status");
	is_int(dipc_stream_listen(r, nop_cb, NULL), DIPC_ENOTOPEN, "cleanup: and listen");
	is_int(dipc_cleanup(), 0, "cleanup: a second cleanup is harmless");
	is_int(dipc_stream_close(r), 0, "cleanup: closing the handle afterwards frees it");
	is_int(dipc_stream_close(w), 0, "cleanup: the other too");
	is_int(dipc_stream_close(r), DIPC_ENOTOPEN, "cleanup: a third close is refused");

	/* Everything works again without dipc_init. */
	is_int(dipc_stream_open(n, DIPC_STREAM_READ, 64, 0, &r), 0, "after cleanup: open works");
	t_pid p = t_spawn("cleanup-writer", n);
	is_int(dipc_stream_read(r, buf, 5, T_LONG_NS), 5, "after cleanup: a writer's bytes arrive");
	is_int(t_wait(p, T_LONG_S), 0, "a writer that ends with dipc_cleanup instead of close");
	is_int(dipc_stream_read(r, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "the reader sees that cleanup as a close");
	ok(t_status_has(r, "RO=1 WO=0 RC=0 WC=1"),
	   "status: writer closed, and the child's cleanup left our reader alone");
	dipc_stream_close(r);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(96);
	bad_open();
	bad_calls();
	timeouts();
	status();
	permissions();
	log_levels();
	init_cleanup();
	return done_testing();
}

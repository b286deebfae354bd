/*
 * sec_helper.c - the C side of t/security.sh (Linux).
 *
 *   sec_helper serve DIR     make pools, channels and streams of several
 *                            modes, write their names and descriptors to
 *                            DIR/desc, wait for DIR/stop, report what other
 *                            processes left in them, destroy everything
 *   sec_helper attack DIR    (run as another user) try every way in to
 *                            what serve made; print key=code lines
 *   sec_helper names         print key=code for bad names
 *   sec_helper forge         print key=code for descriptors patched to
 *                            another host or ABI version
 *   sec_helper attach HEX    attach a pool descriptor; print its code
 *   sec_helper squat-read NAME | squat-write NAME | squat-pool NAME
 *                            (run as another user) take NAME first: a
 *                            stream as reader, a stream as writer with
 *                            bytes in the ring, or a pool, all open to
 *                            everyone; print ready=1, wait for a line on
 *                            stdin, report what reached it, clean up
 *   sec_helper victim KIND NAME
 *                            open NAME the ordinary way (KIND write, read
 *                            or pool) and report what happened
 *   sec_helper modes         one user: a stream joined with a perm
 *                            narrower, equal or wider than its mode
 *   sec_helper leader        a stream writer whose main thread has
 *                            exited while another thread writes on
 *   sec_helper zombies DIR   make streams and channels whose writer or
 *                            sender died without being reaped (their
 *                            parent, this process, waits for DIR/zstop)
 *   sec_helper observe DIR I watch the I-th of them from this process
 *
 * Every result is printed as "key=value" for the script to check.  The
 * descriptor byte offsets are those of ABI 1 (lib/pool.c, lib/channel.c).
 */
#include <dragonipc.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Weak, so that this helper also runs against a library from before the
 * call (the script's squatting checks then show what that library did). */
#pragma weak dipc_pool_attach_name_flags

static void t_hex(const void *buf, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * len] = 0;
}

static size_t t_unhex(const char *s, void *buf, size_t cap)
{
	unsigned char *b = buf;
	size_t n = 0;
	unsigned v;
	while (s[0] && s[1] && n < cap && sscanf(s, "%2x", &v) == 1) {
		b[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

#define VER_AT       4     /* every descriptor: magic u32, version u32 */
#define HOST_AT      8     /* pool and memory descriptors */
#define CHAN_POOL_AT 32    /* a channel descriptor holds its pool's from here */

static void put_code(const char *key, long long rc)
{
	printf("%s=%lld\n", key, rc);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int pool_mode(const char *name, unsigned mode, dipc_pool **p)
{
	struct dipc_pool_attr a;
	dipc_pool_attr_init(&a);
	a.mode = mode;
	return dipc_pool_create(name, 0x100000, mode ? &a : NULL, p);
}

static void hex_line(FILE *f, const char *key, const void *buf, int n)
{
	char hex[2 * DIPC_SERIAL_MAX + 1];
	if (n < 0)
		n = 0;
	t_hex(buf, (size_t)n, hex);
	fprintf(f, "%s %s\n", key, hex);
}

/* ---- serve ---------------------------------------------------------------- */

static int serve(const char *dir)
{
	char base[32], n[6][80], path[512];
	snprintf(base, sizeof(base), "t-sec-%ld", (long)getpid());
	static const char *const tag[6] = { "p0", "p60", "p44", "p66", "s0", "s60" };
	for (int i = 0; i < 6; i++)
		snprintf(n[i], sizeof(n[i]), "%s-%s", base, tag[i]);

	dipc_pool *p0 = NULL, *p60 = NULL, *p44 = NULL, *p66 = NULL;
	dipc_channel *c0 = NULL, *c60 = NULL, *c66 = NULL;
	dipc_stream *s0 = NULL, *s60 = NULL;
	int rc = 0;

	/* Defaults under the most permissive umask: still owner-only. */
	umask(0);
	rc |= pool_mode(n[0], 0, &p0);
	rc |= dipc_stream_open(n[4], DIPC_STREAM_READ, 256, 0, &s0);
	/* Wider modes asked under the most restrictive umask: given as asked. */
	umask(077);
	rc |= pool_mode(n[1], 0660, &p60);
	rc |= pool_mode(n[2], 0644, &p44);
	rc |= pool_mode(n[3], 0666, &p66);
	rc |= dipc_stream_open(n[5], DIPC_STREAM_READ, 256, 0660, &s60);
	umask(022);
	if (rc == 0)
		rc |= dipc_channel_create(p0, 1, NULL, &c0) |
		      dipc_channel_create(p60, 1, NULL, &c60) |
		      dipc_channel_create(p66, 1, NULL, &c66);
	if (rc) {
		fprintf(stderr, "sec_helper serve: set-up failed\n");
		goto out;
	}

	unsigned char b[DIPC_SERIAL_MAX];
	snprintf(path, sizeof(path), "%s/desc.tmp", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = 1;
		goto out;
	}
	for (int i = 0; i < 6; i++)
		fprintf(f, "name_%s %s\n", tag[i], n[i]);
	hex_line(f, "pool_p0", b, dipc_pool_serialize(p0, b, sizeof(b)));
	hex_line(f, "pool_p60", b, dipc_pool_serialize(p60, b, sizeof(b)));
	hex_line(f, "chan_p0", b, dipc_channel_serialize(c0, b, sizeof(b)));
	hex_line(f, "chan_p60", b, dipc_channel_serialize(c60, b, sizeof(b)));
	hex_line(f, "chan_p66", b, dipc_channel_serialize(c66, b, sizeof(b)));
	fclose(f);
	char final[512];
	snprintf(final, sizeof(final), "%s/desc", dir);
	rename(path, final);   /* readers never see half a file */

	/* Wait for the script to say it is done (5 minutes at most). */
	snprintf(path, sizeof(path), "%s/stop", dir);
	for (int i = 0; i < 30000 && access(path, F_OK) != 0; i++)
		sleep_ms(10);

	/* What others managed to leave: they must have got in only where
	 * the mode let them. */
	put_code("served_p0_msgs", dipc_channel_count(c0));
	put_code("served_p60_msgs", dipc_channel_count(c60));
	put_code("served_p66_msgs", dipc_channel_count(c66));
	char data[64] = { 0 };
	long long got = dipc_stream_read(s0, data, sizeof(data) - 1, DIPC_TRY_ONCE);
	put_code("served_s0_bytes", got);
	memset(data, 0, sizeof(data));
	got = dipc_stream_read(s60, data, sizeof(data) - 1, DIPC_TRY_ONCE);
	put_code("served_s60_bytes", got);
	printf("served_s60_data=%s\n", got > 0 ? data : "");
out:
	if (c0)
		dipc_channel_destroy(c0);
	if (c60)
		dipc_channel_destroy(c60);
	if (c66)
		dipc_channel_destroy(c66);
	if (s0)
		dipc_stream_close(s0);
	if (s60)
		dipc_stream_close(s60);
	if (p0)
		dipc_pool_destroy(p0);
	if (p60)
		dipc_pool_destroy(p60);
	if (p44)
		dipc_pool_destroy(p44);
	if (p66)
		dipc_pool_destroy(p66);
	return rc ? 1 : 0;
}

/* ---- attack ----------------------------------------------------------------- */

struct desc {
	char key[32];
	char val[2 * DIPC_SERIAL_MAX + 1];
};

static const char *lookup(struct desc *d, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(d[i].key, key) == 0)
			return d[i].val;
	return "";
}

static int attach_hex(const char *hex, dipc_pool **p)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_pool_attach(b, n, p);
}

static int chan_hex(const char *hex, dipc_channel **c)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_channel_attach(b, n, NULL, c);
}

/* Attach a channel by descriptor and send one message into it. */
static int send_into(const char *hex)
{
	dipc_channel *c = NULL;
	dipc_sendh *h = NULL;
	int rc = chan_hex(hex, &c);
	if (rc)
		return rc;
	rc = dipc_sendh_create(c, NULL, &h);
	if (rc == 0)
		rc = dipc_sendh_open(h);
	if (rc == 0)
		rc = dipc_sendh_send_bytes(h, "from-other", 10, DIPC_TRY_ONCE);
	if (h)
		dipc_sendh_destroy(h);
	dipc_channel_detach(c);
	return rc;
}

static int try_pool_name(const char *name)
{
	dipc_pool *p = NULL;
	int rc = dipc_pool_attach_name(name, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	return rc;
}

#define NO_SUCH_CALL 1000      /* printed when the library lacks the call */

static int try_pool_name_flags(const char *name, unsigned flags)
{
	if (!dipc_pool_attach_name_flags)
		return NO_SUCH_CALL;
	dipc_pool *p = NULL;
	int rc = dipc_pool_attach_name_flags(name, flags, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	return rc;
}

/* Open with perm | DIPC_SHARED.  Only a library older than the flag
 * refuses it (DIPC_EINVAL); then the plain perm is what such a library
 * offers, and what a squatter would use. */
static int open_shared(const char *name, int role, unsigned perm, dipc_stream **s)
{
	int rc = dipc_stream_open(name, role, 256, perm | DIPC_SHARED, s);
	if (rc == DIPC_EINVAL)
		rc = dipc_stream_open(name, role, 256, perm, s);
	return rc;
}

static int try_pool_desc(const char *hex)
{
	dipc_pool *p = NULL;
	int rc = attach_hex(hex, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	return rc;
}

static int try_stream(const char *name, int role, unsigned perm, const char *data)
{
	dipc_stream *s = NULL;
	int rc = dipc_stream_open(name, role, 256, perm, &s);
	if (rc)
		return rc;
	if (data && dipc_stream_write(s, data, strlen(data), DIPC_TRY_ONCE) != (int64_t)strlen(data))
		rc = 1;
	dipc_stream_close(s);
	return rc;
}

static int attack(const char *dir)
{
	struct desc d[16];
	int n = 0;
	char path[512], line[1024];
	snprintf(path, sizeof(path), "%s/desc", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "sec_helper attack: cannot read %s\n", path);
		return 1;
	}
	while (n < 16 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %512s", d[n].key, d[n].val) == 2)
			n++;
	fclose(f);
	printf("uid=%ld\n", (long)getuid());

	put_code("pool_p0_by_name", try_pool_name(lookup(d, n, "name_p0")));
	put_code("pool_p0_by_desc", try_pool_desc(lookup(d, n, "pool_p0")));
	put_code("chan_p0_send", send_into(lookup(d, n, "chan_p0")));
	put_code("pool_p44_by_name", try_pool_name(lookup(d, n, "name_p44")));
	/* A pool another user owns is joined by name only with DIPC_SHARED,
	 * and DIPC_SHARED opens nothing the mode keeps shut. */
	put_code("pool_p60_by_name", try_pool_name(lookup(d, n, "name_p60")));
	put_code("pool_p60_by_name_flags0", try_pool_name_flags(lookup(d, n, "name_p60"), 0));
	put_code("pool_p60_by_name_shared",
		 try_pool_name_flags(lookup(d, n, "name_p60"), DIPC_SHARED));
	put_code("pool_p0_by_name_shared",
		 try_pool_name_flags(lookup(d, n, "name_p0"), DIPC_SHARED));
	put_code("pool_p60_by_desc", try_pool_desc(lookup(d, n, "pool_p60")));
	put_code("chan_p60_send", send_into(lookup(d, n, "chan_p60")));
	put_code("chan_p66_send", send_into(lookup(d, n, "chan_p66")));
	/* Taking a name that exists is refused as taken, not overwritten. */
	dipc_pool *p = NULL;
	int rc = dipc_pool_create(lookup(d, n, "name_p0"), 4096, NULL, &p);
	if (rc == 0)
		dipc_pool_detach(p);    /* never destroy what is not ours */
	put_code("pool_p0_create", rc);
	put_code("stream_s0_write", try_stream(lookup(d, n, "name_s0"), DIPC_STREAM_WRITE, 0, "x"));
	put_code("stream_s0_read", try_stream(lookup(d, n, "name_s0"), DIPC_STREAM_READ, 0, NULL));
	put_code("stream_s0_write_shared", try_stream(lookup(d, n, "name_s0"), DIPC_STREAM_WRITE,
						      0600 | DIPC_SHARED, "y"));
	put_code("stream_s0_unlink", dipc_stream_unlink(lookup(d, n, "name_s0")));
	/* Refused without the flag (nothing written), joined with it. */
	put_code("stream_s60_write", try_stream(lookup(d, n, "name_s60"), DIPC_STREAM_WRITE, 0,
						"refused"));
	put_code("stream_s60_write_0660", try_stream(lookup(d, n, "name_s60"), DIPC_STREAM_WRITE,
						     0660, "refused"));
	put_code("stream_s60_write_shared", try_stream(lookup(d, n, "name_s60"),
						       DIPC_STREAM_WRITE, 0660 | DIPC_SHARED,
						       "hello"));
	return 0;
}

/* ---- squatting ---------------------------------------------------------------- */

/* Wait for the script's go-ahead: a line on stdin, or its end. */
static void wait_line(void)
{
	char buf[16];
	if (!fgets(buf, sizeof(buf), stdin))
		return;
}

/* Run as another user: take the name first, open to everyone, and see
 * whether the victim's ordinary open lands in it. */
static int squat(const char *kind, const char *name)
{
	printf("uid=%ld\n", (long)getuid());
	if (strcmp(kind, "pool") == 0) {
		dipc_pool *p = NULL;
		int rc = pool_mode(name, 0666, &p);
		put_code("squat_open", rc);
		printf("ready=1\n");
		wait_line();
		if (p)
			dipc_pool_destroy(p);
		return rc ? 1 : 0;
	}
	bool reader = strcmp(kind, "read") == 0;
	dipc_stream *s = NULL;
	int rc = open_shared(name, reader ? DIPC_STREAM_READ : DIPC_STREAM_WRITE, 0666, &s);
	put_code("squat_open", rc);
	if (rc) {
		printf("ready=1\n");
		return 1;
	}
	if (!reader)    /* bait: bytes a victim reader would take for real */
		put_code("squat_wrote", dipc_stream_write(s, "forged", 6, DIPC_TRY_ONCE));
	printf("ready=1\n");
	wait_line();
	if (reader) {
		char data[64] = { 0 };
		long long got = dipc_stream_read(s, data, sizeof(data) - 1, DIPC_TRY_ONCE);
		put_code("squat_read", got);
		printf("squat_data=%s\n", got > 0 ? data : "");
	}
	dipc_stream_close(s);
	/* A writer that leaves unread bytes keeps the name for a reader to
	 * come: remove it (a no-op when the close did). */
	dipc_stream_unlink(name);
	return 0;
}

/* The victim: the ordinary calls, with no flag. */
static int victim(const char *kind, const char *name)
{
	if (strcmp(kind, "pool") == 0) {
		put_code("victim_attach", try_pool_name(name));
		put_code("victim_attach_flags0", try_pool_name_flags(name, 0));
		put_code("victim_attach_shared", try_pool_name_flags(name, DIPC_SHARED));
		return 0;
	}
	bool reader = strcmp(kind, "read") == 0;
	dipc_stream *s = NULL;
	int rc = dipc_stream_open(name, reader ? DIPC_STREAM_READ : DIPC_STREAM_WRITE, 256, 0, &s);
	put_code("victim_open", rc);
	if (rc)
		return 0;
	if (reader) {
		char data[64] = { 0 };
		long long got = dipc_stream_read(s, data, sizeof(data) - 1, DIPC_TRY_ONCE);
		put_code("victim_read", got);
		printf("victim_data=%s\n", got > 0 ? data : "");
	} else {
		put_code("victim_wrote", dipc_stream_write(s, "secret", 6, DIPC_TRY_ONCE));
	}
	dipc_stream_close(s);
	return 0;
}

/* One user: a stream whose mode is wider than the perm a later opener
 * asks for is refused to it, unless it passes DIPC_SHARED; narrower or
 * equal is joined. */
static int modes(void)
{
	char wide[64], narrow[64];
	snprintf(wide, sizeof(wide), "t-sec-%ld-wide", (long)getpid());
	snprintf(narrow, sizeof(narrow), "t-sec-%ld-narrow", (long)getpid());
	dipc_stream *r = NULL, *w = NULL, *r2 = NULL, *w2 = NULL;
	umask(077);
	int rc = dipc_stream_open(wide, DIPC_STREAM_READ, 256, 0666, &r);
	put_code("wide_create", rc);
	if (rc)
		return 1;
	put_code("wide_0600", try_stream(wide, DIPC_STREAM_WRITE, 0600, "refused"));
	put_code("wide_default", try_stream(wide, DIPC_STREAM_WRITE, 0, "refused"));
	put_code("wide_0660", try_stream(wide, DIPC_STREAM_WRITE, 0660, "refused"));
	put_code("wide_0666", try_stream(wide, DIPC_STREAM_WRITE, 0666, "a"));
	rc = dipc_stream_open(wide, DIPC_STREAM_WRITE, 256, 0600 | DIPC_SHARED, &w);
	put_code("wide_shared", rc);
	if (rc == 0) {
		dipc_stream_write(w, "b", 1, DIPC_TRY_ONCE);
		dipc_stream_close(w);
	}
	char data[64] = { 0 };
	long long got = dipc_stream_read(r, data, sizeof(data) - 1, DIPC_TRY_ONCE);
	printf("wide_data=%s\n", got > 0 ? data : "");
	dipc_stream_close(r);
	/* Narrower than asked: nothing to fear from it. */
	rc = dipc_stream_open(narrow, DIPC_STREAM_READ, 256, 0600, &r2);
	put_code("narrow_create", rc);
	if (rc == 0) {
		rc = dipc_stream_open(narrow, DIPC_STREAM_WRITE, 256, 0666, &w2);
		put_code("narrow_0666", rc);
		if (rc == 0)
			dipc_stream_close(w2);
		/* The owner's own bits open it to no one else. */
		put_code("narrow_0400", try_stream(narrow, DIPC_STREAM_WRITE, 0400, NULL));
		dipc_stream_close(r2);
	}
	return 0;
}

/* ---- liveness ------------------------------------------------------------------ */

/* 'Z' etc. from /proc/<pid>/stat, '?' if unreadable. */
static char proc_state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

static int go_pipe[2];
static dipc_stream *leader_s;

static void *leader_thread(void *arg)
{
	(void)arg;
	char c;
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(4);
	int64_t n = dipc_stream_write(leader_s, "late", 4, 10 * 1000000000ll);
	dipc_stream_close(leader_s);
	_exit(n == 4 ? 0 : 5);
}

/* The main thread of a writer exits (pthread_exit) and another thread
 * writes on: /proc shows the main thread as a zombie, yet the process is
 * alive and its stream must not look closed. */
static int leader(void)
{
	char name[64];
	snprintf(name, sizeof(name), "t-sec-%ld-leader", (long)getpid());
	dipc_stream *r = NULL;
	if (pipe(go_pipe) != 0 || dipc_stream_open(name, DIPC_STREAM_READ, 256, 0, &r) != 0) {
		fprintf(stderr, "sec_helper leader: set-up failed\n");
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (dipc_stream_open(name, DIPC_STREAM_WRITE, 256, 0, &leader_s) != 0)
			_exit(3);
		pthread_t t;
		if (pthread_create(&t, NULL, leader_thread, NULL) != 0)
			_exit(3);
		pthread_exit(NULL);
	}
	char st = '?';
	for (int i = 0; i < 1000 && pid > 0; i++) {
		st = proc_state_of(pid);
		if (st == 'Z')
			break;
		sleep_ms(10);
	}
	printf("leader_main_state=%c\n", st);
	put_code("leader_tryonce", dipc_stream_read(r, (char[8]){ 0 }, 8, DIPC_TRY_ONCE));
	if (write(go_pipe[1], "g", 1) != 1)
		put_code("leader_go", -1);
	char data[16] = { 0 };
	long long got = dipc_stream_read(r, data, 4, 20 * 1000000000ll);
	put_code("leader_read", got);
	printf("leader_data=%s\n", got > 0 ? data : "");
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	put_code("leader_exit", WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
	dipc_stream_close(r);
	dipc_stream_unlink(name);
	return 0;
}

#define NZ 2    /* sets of dead peers: 0 for a root observer, 1 for another user */

/* Wait until pid has died, without reaping it: it stays a zombie. */
static int wait_dead(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0)
		if (errno != EINTR)
			return -1;
	return si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? 0 : -1;
}

/* A stream writer that writes and is killed with SIGKILL. */
static pid_t dead_writer(const char *name)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dipc_stream *s = NULL;
		char ok = 'n';
		if (open_shared(name, DIPC_STREAM_WRITE, 0666, &s) == 0 &&
		    dipc_stream_write(s, "bye", 3, DIPC_TRY_ONCE) == 3)
			ok = 'y';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ok = 'n';
	if (pid < 0 || read(p[0], &ok, 1) != 1 || ok != 'y') {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	} else {
		kill(pid, SIGKILL);
		if (wait_dead(pid) != 0)
			pid = -1;
	}
	close(p[0]);
	return pid;
}

/* A sender that dies inside its send, the slot it claimed half written:
 * the bytes it hands over end in a page it may not read. */
static pid_t dead_sender(const char *hex)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);
		unsigned char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		dipc_channel *c = NULL;
		dipc_sendh *h = NULL;
		if (m == MAP_FAILED || mprotect(m + pg, pg, PROT_NONE) != 0 || chan_hex(hex, &c) ||
		    dipc_sendh_create(c, NULL, &h) || dipc_sendh_open(h))
			_exit(1);
		memset(m, 'x', pg);
		/* Die by the signal itself, even where a sanitizer's runtime
		 * would catch it and exit instead. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		dipc_sendh_send_bytes(h, m + pg - 100, 200, DIPC_TRY_ONCE);
		_exit(2);       /* not reached: the copy faults */
	}
	if (pid > 0 && wait_dead(pid) != 0)
		pid = -1;
	return pid;
}

static int zombies(const char *dir)
{
	char sname[NZ][64] = { { 0 } }, pname[64], path[512];
	dipc_pool *p = NULL;
	dipc_channel *c[NZ] = { NULL };
	pid_t writer[NZ] = { 0 }, sender[NZ] = { 0 };
	unsigned char b[DIPC_SERIAL_MAX];
	int rc = 0;
	snprintf(pname, sizeof(pname), "t-sec-%ld-zpool", (long)getpid());
	if (pool_mode(pname, 0666, &p) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/zdesc.tmp", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < NZ && f; i++) {
		snprintf(sname[i], sizeof(sname[i]), "t-sec-%ld-z%d", (long)getpid(), i);
		writer[i] = dead_writer(sname[i]);
		dipc_sendh *h = NULL;
		struct dipc_channel_attr ca;
		dipc_channel_attr_init(&ca);
		ca.capacity = 4;
		ca.block_size = 256;
		if (dipc_channel_create(p, (uint64_t)(100 + i), &ca, &c[i]) != 0) {
			rc = 1;
			break;
		}
		int n = dipc_channel_serialize(c[i], b, sizeof(b));
		hex_line(f, i ? "zc1" : "zc0", b, n);
		char hex[2 * DIPC_SERIAL_MAX + 1];
		t_hex(b, (size_t)(n > 0 ? n : 0), hex);
		sender[i] = dead_sender(hex);
		/* A message behind the dead sender's slot, from a live one. */
		if (dipc_sendh_create(c[i], NULL, &h) || dipc_sendh_open(h) ||
		    dipc_sendh_send_bytes(h, "after", 5, DIPC_TRY_ONCE))
			rc = 1;
		if (h)
			dipc_sendh_destroy(h);
		if (writer[i] <= 0 || sender[i] <= 0)
			rc = 1;
		fprintf(f, "zs%d %s\nzw%d %ld\nzx%d %ld\n", i, sname[i], i, (long)writer[i], i,
			(long)sender[i]);
	}
	if (!f || rc) {
		fprintf(stderr, "sec_helper zombies: set-up failed\n");
		rc = 1;
	}
	if (f) {
		fclose(f);
		char final[512];
		snprintf(final, sizeof(final), "%s/zdesc", dir);
		rename(path, final);
	}
	/* Keep the dead unreaped until the script is done (5 minutes at most). */
	snprintf(path, sizeof(path), "%s/zstop", dir);
	for (int i = 0; !rc && i < 30000 && access(path, F_OK) != 0; i++)
		sleep_ms(10);
	int zombie_states = 0;
	for (int i = 0; i < NZ; i++) {
		if (!rc)
			zombie_states += (proc_state_of(writer[i]) == 'Z') +
					 (proc_state_of(sender[i]) == 'Z');
		if (writer[i] > 0)
			waitpid(writer[i], NULL, 0);
		if (sender[i] > 0)
			waitpid(sender[i], NULL, 0);
		if (c[i])
			dipc_channel_destroy(c[i]);
		if (sname[i][0])
			dipc_stream_unlink(sname[i]);
	}
	put_code("zombies_to_the_end", zombie_states);
	dipc_pool_destroy(p);
	return rc;
}

/* Watch the i-th set: the stream's last bytes, then its end; the message
 * behind the dead sender's slot. */
static int observe(const char *dir, int i)
{
	struct desc d[16];
	int n = 0;
	char path[512], line[1024], key[8];
	snprintf(path, sizeof(path), "%s/zdesc", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	while (n < 16 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %512s", d[n].key, d[n].val) == 2)
			n++;
	fclose(f);
	printf("uid=%ld\n", (long)getuid());
	snprintf(key, sizeof(key), "zw%d", i);
	pid_t w = (pid_t)atol(lookup(d, n, key));
	/* An unprivileged observer may not signal the dead writer. */
	put_code("kill_eperm", w > 0 && kill(w, 0) != 0 && errno == EPERM);

	snprintf(key, sizeof(key), "zs%d", i);
	dipc_stream *s = NULL;
	int rc = open_shared(lookup(d, n, key), DIPC_STREAM_READ, 0600, &s);
	put_code("stream_open", rc);
	if (rc == 0) {
		char data[16] = { 0 };
		long long got = dipc_stream_read(s, data, 3, 3 * 1000000000ll);
		printf("stream_data=%s\n", got > 0 ? data : "");
		/* All it wrote is read: what follows is its end, not a wait. */
		put_code("stream_then", dipc_stream_read(s, data, 3, 3 * 1000000000ll));
		dipc_stream_close(s);
	}

	snprintf(key, sizeof(key), "zc%d", i);
	dipc_channel *c = NULL;
	dipc_recvh *h = NULL;
	rc = chan_hex(lookup(d, n, key), &c);
	put_code("chan_attach", rc);
	if (rc == 0) {
		char data[16] = { 0 };
		size_t len = 0;
		rc = dipc_recvh_create(c, NULL, &h);
		if (rc == 0)
			rc = dipc_recvh_open(h);
		if (rc == 0)
			rc = dipc_recvh_recv_bytes(h, data, sizeof(data) - 1, &len, 3 * 1000000000ll);
		put_code("chan_recv", rc);
		printf("chan_data=%s\n", rc == 0 ? data : "");
		if (h)
			dipc_recvh_destroy(h);
		dipc_channel_detach(c);
	}
	return 0;
}

/* ---- names ------------------------------------------------------------------ */

static int names(void)
{
	char longest[DIPC_NAME_MAX + 2], over[300];
	memset(longest, 'n', DIPC_NAME_MAX + 1);
	longest[DIPC_NAME_MAX + 1] = 0;
	memset(over, 'o', sizeof(over) - 1);
	over[sizeof(over) - 1] = 0;
	static const struct { const char *key, *name; } bad[] = {
		{ "empty", "" }, { "slash", "a/b" }, { "lead_slash", "/x" }, { "dotdot", ".." },
		{ "dotdot_path", "../etc" }, { "dot", "." }, { "trail_slash", "x/" },
		{ "backslash", "a\\b" }, { "newline", "a\nb" }, { "hidden", ".x" },
		{ "space", "a b" }, { "utf8", "\xc3\xa9" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 2; i++) {
		const char *key = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].key
				  : i == sizeof(bad) / sizeof(bad[0]) ? "over_max" : "far_over_max";
		const char *name = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].name
				   : i == sizeof(bad) / sizeof(bad[0]) ? longest : over;
		dipc_pool *p = NULL;
		dipc_stream *s = NULL;
		char k[64];
		int rc = dipc_pool_create(name, 4096, NULL, &p);
		if (rc == 0)
			dipc_pool_destroy(p);
		snprintf(k, sizeof(k), "pool_create_%s", key);
		put_code(k, rc);
		rc = dipc_pool_attach_name(name, &p);
		if (rc == 0)
			dipc_pool_detach(p);
		snprintf(k, sizeof(k), "pool_attach_%s", key);
		put_code(k, rc);
		rc = dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &s);
		if (rc == 0)
			dipc_stream_close(s);
		snprintf(k, sizeof(k), "stream_open_%s", key);
		put_code(k, rc);
		snprintf(k, sizeof(k), "stream_unlink_%s", key);
		put_code(k, dipc_stream_unlink(name));
	}
	return 0;
}

/* ---- forge ------------------------------------------------------------------ */

static void put64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static int forge(void)
{
	char name[64];
	snprintf(name, sizeof(name), "t-sec-forge-%ld", (long)getpid());
	dipc_pool *p = NULL, *q = NULL;
	dipc_channel *c = NULL, *c2 = NULL;
	dipc_mem *m = NULL, *m2 = NULL;
	if (dipc_pool_create(name, 0x100000, NULL, &p) || dipc_channel_create(p, 5, NULL, &c) ||
	    dipc_pool_alloc(p, 128, &m)) {
		fprintf(stderr, "sec_helper forge: set-up failed\n");
		if (p)
			dipc_pool_destroy(p);
		return 1;
	}
	unsigned char pd[DIPC_SERIAL_MAX], cd[DIPC_SERIAL_MAX], md[DIPC_SERIAL_MAX];
	unsigned char b[DIPC_SERIAL_MAX];
	int pn = dipc_pool_serialize(p, pd, sizeof(pd));
	int cn = dipc_channel_serialize(c, cd, sizeof(cd));
	int mn = dipc_mem_serialize(m, md, sizeof(md));
	char hex[2 * DIPC_SERIAL_MAX + 1];
	t_hex(pd, (size_t)pn, hex);
	printf("pool_desc=%s\n", hex);

	/* Unchanged, they attach: the patched ones fail for the patch alone. */
	int rc = dipc_pool_attach(pd, (size_t)pn, &q);
	if (rc == 0)
		dipc_pool_detach(q);
	put_code("pool_genuine", rc);
	memcpy(b, pd, (size_t)pn);
	put64(b + HOST_AT, get64(b + HOST_AT) ^ 1);
	put_code("pool_other_host", dipc_pool_attach(b, (size_t)pn, &q));
	memcpy(b, pd, (size_t)pn);
	b[VER_AT] ^= 0x02;
	put_code("pool_other_abi", dipc_pool_attach(b, (size_t)pn, &q));

	rc = dipc_channel_attach(cd, (size_t)cn, NULL, &c2);
	if (rc == 0)
		dipc_channel_detach(c2);
	put_code("chan_genuine", rc);
	memcpy(b, cd, (size_t)cn);
	put64(b + CHAN_POOL_AT + HOST_AT, get64(b + CHAN_POOL_AT + HOST_AT) + 7);
	put_code("chan_other_host", dipc_channel_attach(b, (size_t)cn, NULL, &c2));
	put_code("chan_other_host_with_pool", dipc_channel_attach(b, (size_t)cn, p, &c2));
	memcpy(b, cd, (size_t)cn);
	b[VER_AT] = 99;
	put_code("chan_other_abi", dipc_channel_attach(b, (size_t)cn, p, &c2));
	memcpy(b, cd, (size_t)cn);
	b[CHAN_POOL_AT + VER_AT] = 99;
	put_code("chan_pool_other_abi", dipc_channel_attach(b, (size_t)cn, NULL, &c2));

	rc = dipc_mem_attach(p, md, (size_t)mn, &m2);
	if (rc == 0)
		dipc_mem_detach(m2);
	put_code("mem_genuine", rc);
	memcpy(b, md, (size_t)mn);
	put64(b + HOST_AT, 0);
	put_code("mem_other_host", dipc_mem_attach(p, b, (size_t)mn, &m2));
	memcpy(b, md, (size_t)mn);
	b[VER_AT + 3] = 0x80;
	put_code("mem_other_abi", dipc_mem_attach(p, b, (size_t)mn, &m2));
	fflush(stdout);

	/* Keep the pool for "attach" run elsewhere until the script says stop
	 * (stdin closed), then clean up. */
	char buf[16];
	while (fgets(buf, sizeof(buf), stdin))
		;
	dipc_mem_free(m);
	dipc_channel_destroy(c);
	dipc_pool_destroy(p);
	return 0;
}

static int attach(const char *hex)
{
	dipc_pool *p = NULL;
	int rc = attach_hex(hex, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	put_code("attach", rc);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 3 && strcmp(argv[1], "attack") == 0)
		return attack(argv[2]);
	if (argc == 2 && strcmp(argv[1], "names") == 0)
		return names();
	if (argc == 2 && strcmp(argv[1], "forge") == 0)
		return forge();
	if (argc == 3 && strcmp(argv[1], "attach") == 0)
		return attach(argv[2]);
	if (argc == 3 && strncmp(argv[1], "squat-", 6) == 0)
		return squat(argv[1] + 6, argv[2]);
	if (argc == 4 && strcmp(argv[1], "victim") == 0)
		return victim(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "modes") == 0)
		return modes();
	if (argc == 2 && strcmp(argv[1], "leader") == 0)
		return leader();
	if (argc == 3 && strcmp(argv[1], "zombies") == 0)
		return zombies(argv[2]);
	if (argc == 4 && strcmp(argv[1], "observe") == 0)
		return observe(argv[2], atoi(argv[3]) ? 1 : 0);
	fprintf(stderr, "usage: sec_helper serve DIR | attack DIR | names | forge | attach HEX |\n"
		"  squat-read|squat-write|squat-pool NAME | victim write|read|pool NAME |\n"
		"  modes | leader | zombies DIR | observe DIR I\n");
	return 2;
}

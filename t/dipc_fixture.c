/*
 * dipc_fixture - segments in known states for t/dipc.sh.
 *
 *   hold POOL STREAM MSGS BYTES
 *       a pool whose channel 42 holds MSGS messages and a stream holding
 *       BYTES unread bytes (this process the writer, no reader yet);
 *       print "ready" and wait to be killed
 *   send POOL FILE MSGS
 *       make POOL with channel 42 holding MSGS messages, write the
 *       channel's descriptor to FILE, detach without destroying, exit
 *   receive FILE
 *       attach the channel FILE describes and print every message in it
 *   write STREAM TEXT
 *       open STREAM as the writer, write TEXT, close, exit
 *   read STREAM
 *       open STREAM as the reader, print what it holds, close, exit
 *   alloc POOL
 *       attach POOL, allocate 64 bytes, detach (the allocation stays
 *       this process's), print "ready" and wait to be killed
 *   lock POOL
 *       make POOL; a child takes the pool's lock and stops itself.  Print
 *       "stopped PID" once it has stopped, "zombie" once it has been let
 *       go (SIGCONT) and has exited, unreaped; on SIGUSR1 reap it and
 *       print "gone"; then wait to be killed
 *
 * The lock cannot be taken through the public API, so the child writes
 * its id into the lock word of the mapped segment, as the library does.
 */
#include "pool.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The pool's lock word (struct dipc_plock, lib/internal.h): the one
 * place that knows its shape. */
static _Atomic uint32_t *lock_word(dipc_pool *p)
{
	return &p->hdr->lock.owner;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "dipc_fixture: %s: %s\n", what, dipc_strerror(rc));
	return 1;
}

static int make_channel(const char *pool, int msgs, dipc_pool **p, dipc_channel **c)
{
	dipc_sendh *s;
	int rc = dipc_pool_create(pool, 1 << 20, NULL, p);
	if (rc)
		return fail("pool_create", rc);
	if ((rc = dipc_channel_create(*p, 42, NULL, c)) || (rc = dipc_sendh_create(*c, NULL, &s)) ||
	    (rc = dipc_sendh_open(s)))
		return fail("channel", rc);
	for (int i = 0; i < msgs; i++) {
		char m[16];
		int n = snprintf(m, sizeof(m), "hello %d", i);
		if ((rc = dipc_sendh_send_bytes(s, m, (size_t)n, DIPC_TRY_ONCE)))
			return fail("send", rc);
	}
	/* The handle goes; the messages stay in the channel. */
	if ((rc = dipc_sendh_close(s)) || (rc = dipc_sendh_destroy(s)))
		return fail("sendh_destroy", rc);
	return 0;
}

static int hold(char **argv)
{
	dipc_pool *p;
	dipc_channel *c;
	dipc_stream *w;
	if (make_channel(argv[0], atoi(argv[2]), &p, &c))
		return 1;
	int rc = dipc_stream_open(argv[1], DIPC_STREAM_WRITE, 4096, 0, &w);
	if (rc)
		return fail("stream_open", rc);
	int bytes = atoi(argv[3]);
	for (int i = 0; i < bytes; i++)
		if (dipc_stream_write(w, "abcdefgh" + i % 8, 1, DIPC_TRY_ONCE) != 1)
			return fail("stream_write", DIPC_EFULL);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int send_and_leave(char **argv)
{
	dipc_pool *p;
	dipc_channel *c;
	if (make_channel(argv[0], atoi(argv[2]), &p, &c))
		return 1;
	unsigned char d[256];
	int n = dipc_channel_serialize(c, d, sizeof(d));
	if (n < 0)
		return fail("serialize", n);
	FILE *f = fopen(argv[1], "wb");
	if (!f || fwrite(d, 1, (size_t)n, f) != (size_t)n || fclose(f))
		return fail("descriptor file", DIPC_ESYS);
	int rc = dipc_channel_detach(c);
	if (!rc)
		rc = dipc_pool_detach(p);
	return rc ? fail("detach", rc) : 0;
}

static int receive(char **argv)
{
	unsigned char d[256];
	FILE *f = fopen(argv[0], "rb");
	if (!f)
		return fail("descriptor file", DIPC_ENOENT);
	size_t n = fread(d, 1, sizeof(d), f);
	fclose(f);
	dipc_channel *c;
	dipc_recvh *r;
	int rc = dipc_channel_attach(d, n, NULL, &c);
	if (rc)
		return fail("channel_attach", rc);
	if ((rc = dipc_recvh_create(c, NULL, &r)) || (rc = dipc_recvh_open(r)))
		return fail("recvh", rc);
	for (;;) {
		char m[64];
		size_t len;
		rc = dipc_recvh_recv_bytes(r, m, sizeof(m), &len, DIPC_TRY_ONCE);
		if (rc == DIPC_EEMPTY)
			break;
		if (rc)
			return fail("recv", rc);
		printf("%.*s\n", (int)len, m);
	}
	if ((rc = dipc_recvh_close(r)) || (rc = dipc_recvh_destroy(r)) ||
	    (rc = dipc_channel_detach(c)))
		return fail("detach", rc);
	return 0;
}

static int write_and_close(char **argv)
{
	dipc_stream *w;
	int rc = dipc_stream_open(argv[0], DIPC_STREAM_WRITE, 4096, 0, &w);
	if (rc)
		return fail("stream_open", rc);
	size_t len = strlen(argv[1]);
	if (dipc_stream_write(w, argv[1], len, DIPC_TRY_ONCE) != (int64_t)len)
		return fail("stream_write", DIPC_EFULL);
	rc = dipc_stream_close(w);
	return rc ? fail("stream_close", rc) : 0;
}

static int read_all(char **argv)
{
	dipc_stream *r;
	int rc = dipc_stream_open(argv[0], DIPC_STREAM_READ, 4096, 0, &r);
	if (rc)
		return fail("stream_open", rc);
	char buf[4096];
	int64_t n = dipc_stream_read(r, buf, sizeof(buf), DIPC_TRY_ONCE);
	if (n < 0)
		return fail("stream_read", (int)n);
	printf("%.*s\n", (int)n, buf);
	rc = dipc_stream_close(r);
	return rc ? fail("stream_close", rc) : 0;
}

static int alloc_and_leave(char **argv)
{
	dipc_pool *p;
	dipc_mem *m;
	int rc = dipc_pool_attach_name(argv[0], &p);
	if (rc)
		return fail("pool_attach_name", rc);
	if ((rc = dipc_pool_alloc(p, 64, &m)) || (rc = dipc_mem_detach(m)) ||
	    (rc = dipc_pool_detach(p)))
		return fail("alloc", rc);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int lock_and_stop(char **argv)
{
	dipc_pool *p;
	int rc = dipc_pool_create(argv[0], 1 << 20, NULL, &p);
	if (rc)
		return fail("pool_create", rc);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	pid_t child = fork();
	if (child < 0)
		return fail("fork", DIPC_ESYS);
	if (child == 0) {
		uint32_t free_word = 0;
		if (!atomic_compare_exchange_strong(lock_word(p), &free_word, (uint32_t)getpid()))
			_exit(1);
		raise(SIGSTOP);
		_exit(0);       /* let go: dies holding the lock */
	}
	int st;
	if (waitpid(child, &st, WUNTRACED) != child || !WIFSTOPPED(st))
		return fail("child did not stop", DIPC_ESYS);
	printf("stopped %d\n", (int)child);
	fflush(stdout);
	siginfo_t si;
	if (waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) != 0)
		return fail("waitid", DIPC_ESYS);
	printf("zombie\n");
	fflush(stdout);
	int sig;
	sigwait(&usr1, &sig);
	waitpid(child, &st, 0);
	printf("gone\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *cmd;
		int nargs;
		int (*fn)(char **);
	} cmds[] = {
		{ "hold", 4, hold },
		{ "send", 3, send_and_leave },
		{ "receive", 1, receive },
		{ "write", 2, write_and_close },
		{ "read", 1, read_all },
		{ "alloc", 1, alloc_and_leave },
		{ "lock", 1, lock_and_stop },
	};
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].cmd) == 0 && argc - 2 == cmds[i].nargs)
			return cmds[i].fn(argv + 2);
	fprintf(stderr, "usage: dipc_fixture hold|send|receive|write|read|alloc|lock ARGS (see the source)\n");
	return 2;
}

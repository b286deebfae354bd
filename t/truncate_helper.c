/*
 * truncate_helper - processes for t/truncate.sh, which truncates shared
 * segments under them.
 *
 *   make POOL STREAM DIR
 *       make POOL (1 MiB, channel 7 holding three messages) and STREAM
 *       (a writer that wrote and closed, its bytes kept for a reader);
 *       write the pool's and the channel's descriptors to DIR/pool.desc
 *       and DIR/chan.desc; print "ready"; hold the pool until SIGTERM
 *   attach POOL DIR
 *       attach POOL by name, by its descriptor and its channel by the
 *       channel's descriptor; print "name=RC desc=RC chan=RC"
 *   open STREAM
 *       open STREAM as reader and as writer; print "read=RC write=RC"
 *   user POOL touch|idle
 *       attach POOL, print "ready", wait for SIGUSR1; then "touch"
 *       allocates from the pool (which reads its heap), "idle" makes,
 *       uses and destroys a pool of its own; print "done RC"
 *
 * RC is 0 or a DIPC_E* code.  A process killed by a signal prints nothing
 * more: the script reads its exit status.
 */
#include <dragonipc.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int put_file(const char *dir, const char *file, const void *buf, int len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "wb");
	if (!f || len < 0 || fwrite(buf, 1, (size_t)len, f) != (size_t)len) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static size_t get_file(const char *dir, const char *file, void *buf, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void wait_for(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	int got;
	sigwait(&set, &got);
}

static void block(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static int make(char **argv)
{
	block(SIGTERM);
	dipc_pool *p;
	dipc_channel *c;
	dipc_sendh *s;
	dipc_stream *w;
	int rc;
	if ((rc = dipc_pool_create(argv[0], 1 << 20, NULL, &p)) ||
	    (rc = dipc_channel_create(p, 7, NULL, &c)) || (rc = dipc_sendh_create(c, NULL, &s)) ||
	    (rc = dipc_sendh_open(s)))
		goto fail;
	for (int i = 0; i < 3; i++)
		if ((rc = dipc_sendh_send_bytes(s, "message", 7, DIPC_TRY_ONCE)))
			goto fail;
	unsigned char pd[256], cd[256];
	int pn = dipc_pool_serialize(p, pd, sizeof(pd));
	int cn = dipc_channel_serialize(c, cd, sizeof(cd));
	if (put_file(argv[2], "pool.desc", pd, pn) || put_file(argv[2], "chan.desc", cd, cn)) {
		rc = DIPC_ESYS;
		goto fail;
	}
	if ((rc = dipc_stream_open(argv[1], DIPC_STREAM_WRITE, 4096, 0, &w)))
		goto fail;
	if (dipc_stream_write(w, "kept bytes", 10, DIPC_TRY_ONCE) != 10) {
		rc = DIPC_EFULL;
		goto fail;
	}
	if ((rc = dipc_stream_close(w)))
		goto fail;
	printf("ready\n");
	fflush(stdout);
	/* The segment may have been truncated under us: touch nothing of
	 * it; letting go of the handles only unmaps. */
	wait_for(SIGTERM);
	dipc_sendh_destroy(s);
	dipc_channel_detach(c);
	dipc_pool_detach(p);
	return 0;
fail:
	fprintf(stderr, "truncate_helper make: %s\n", dipc_strerror(rc));
	return 1;
}

static int attach(char **argv)
{
	unsigned char d[256];
	dipc_pool *p;
	dipc_channel *c;
	int byname = dipc_pool_attach_name(argv[0], &p);
	size_t n = get_file(argv[1], "pool.desc", d, sizeof(d));
	int bydesc = dipc_pool_attach(d, n, &p);
	n = get_file(argv[1], "chan.desc", d, sizeof(d));
	int chan = dipc_channel_attach(d, n, NULL, &c);
	printf("name=%d desc=%d chan=%d\n", byname, bydesc, chan);
	if (!chan)
		dipc_channel_detach(c);
	return 0;
}

static int open_both(char **argv)
{
	dipc_stream *s;
	int r = dipc_stream_open(argv[0], DIPC_STREAM_READ, 4096, 0, &s);
	int w = dipc_stream_open(argv[0], DIPC_STREAM_WRITE, 4096, 0, &s);
	printf("read=%d write=%d\n", r, w);
	return 0;
}

static int user(char **argv)
{
	block(SIGUSR1);
	dipc_pool *p;
	int rc = dipc_pool_attach_name(argv[0], &p);
	if (rc) {
		printf("attach %d\n", rc);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	wait_for(SIGUSR1);
	dipc_mem *m = NULL;
	if (strcmp(argv[1], "touch") == 0) {
		rc = dipc_pool_alloc(p, 64, &m);
	} else {
		/* Life goes on: a pool of its own works as ever. */
		char name[64];
		dipc_pool *q = NULL;
		snprintf(name, sizeof(name), "%s-own", argv[0]);
		rc = dipc_pool_create(name, 1 << 16, NULL, &q);
		if (!rc)
			rc = dipc_pool_alloc(q, 64, &m);
		if (!rc)
			rc = dipc_mem_free(m);
		if (q)
			dipc_pool_destroy(q);
	}
	printf("done %d\n", rc);
	dipc_pool_detach(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "make") == 0)
		return make(argv + 2);
	if (argc == 4 && strcmp(argv[1], "attach") == 0)
		return attach(argv + 2);
	if (argc == 3 && strcmp(argv[1], "open") == 0)
		return open_both(argv + 2);
	if (argc == 4 && strcmp(argv[1], "user") == 0)
		return user(argv + 2);
	fprintf(stderr, "usage: truncate_helper make|attach|open|user ARGS (see the source)\n");
	return 2;
}

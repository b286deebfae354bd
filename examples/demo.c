/*
 * demo.c - two processes talking through a libdragonipc channel.
 *
 * The parent creates a pool and two channels (requests and replies),
 * starts a child with the channels' serialized descriptors on its command
 * line, and then:
 *   1. streams messages of several sizes to it, each carrying a sequence
 *      number and a checksum the child verifies;
 *   2. plays ping-pong with 64-byte messages to time a round trip;
 *   3. hands large buffers over by transfer of ownership (no copy).
 * The child reports what it received; the parent prints rates.
 */
#include <dragonipc.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIE(what, rc) do { \
	fprintf(stderr, "demo: %s: %s\n", (what), dipc_strerror(rc)); exit(1); \
} while (0)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A quick position-dependent checksum, a word at a time. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = n, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h + w) * 0x9e3779b97f4a7c15ull;
	}
	for (; i < n; i++)
		h = (h + p[i]) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void hex(const unsigned char *b, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int unhex(const char *s, unsigned char *b, int cap)
{
	int n = 0;
	unsigned v;
	while (n < cap && sscanf(s + 2 * n, "%2x", &v) == 1)
		b[n++] = (unsigned char)v;
	return n;
}

static const size_t sizes[] = { 64, 1000, 16384, 262144 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define STREAM_COUNT 20000
#define PINGS 100000
#define TRANSFERS 2000
#define BIG (4u << 20)

/* Message layout: u64 seq, u64 checksum of the rest, payload. */

static int child(const char *req_hex, const char *rep_hex)
{
	unsigned char d[DIPC_SERIAL_MAX];
	dipc_channel *req, *rep;
	int n = unhex(req_hex, d, sizeof(d));
	int rc = dipc_channel_attach(d, (size_t)n, NULL, &req);
	if (rc)
		DIE("child: attach requests", rc);
	n = unhex(rep_hex, d, sizeof(d));
	if ((rc = dipc_channel_attach(d, (size_t)n, NULL, &rep)))
		DIE("child: attach replies", rc);
	dipc_recvh *in;
	dipc_sendh *out;
	if ((rc = dipc_recvh_create(req, NULL, &in)) || (rc = dipc_recvh_open(in)) ||
	    (rc = dipc_sendh_create(rep, NULL, &out)) || (rc = dipc_sendh_open(out)))
		DIE("child: handles", rc);

	unsigned char *buf = malloc(BIG);
	size_t len;
	uint64_t bad = 0, bytes = 0;
	for (uint64_t i = 0; i < STREAM_COUNT * NSIZES; i++) {
		if ((rc = dipc_recvh_recv_bytes(in, buf, BIG, &len, DIPC_WAIT_FOREVER)))
			DIE("child: receive", rc);
		uint64_t seq, sum;
		memcpy(&seq, buf, 8);
		memcpy(&sum, buf + 8, 8);
		if (seq != i || sum != checksum(buf + 16, len - 16))
			bad++;
		bytes += len;
	}
	printf("  child %d: received %d messages, %.1f MiB, %" PRIu64 " out of order or corrupt\n",
	       (int)getpid(), STREAM_COUNT * (int)NSIZES, (double)bytes / (1 << 20), bad);
	fflush(stdout);
	dipc_sendh_send_bytes(out, &bad, sizeof(bad), DIPC_WAIT_FOREVER);

	/* Ping-pong: echo each message back. */
	for (int i = 0; i < PINGS; i++) {
		if ((rc = dipc_recvh_recv_bytes(in, buf, BIG, &len, DIPC_WAIT_FOREVER)) ||
		    (rc = dipc_sendh_send_bytes(out, buf, len, DIPC_WAIT_FOREVER)))
			DIE("child: ping-pong", rc);
	}

	/* Transfers: receive the allocation itself, check it, free it. */
	uint64_t tbad = 0;
	for (int i = 0; i < TRANSFERS; i++) {
		dipc_msg *m;
		void *p;
		dipc_msg_create_empty(&m);
		if ((rc = dipc_recvh_recv(in, m, DIPC_WAIT_FOREVER)))
			DIE("child: receive transfer", rc);
		dipc_msg_get(m, &p, &len);
		uint64_t seq;
		memcpy(&seq, p, 8);
		if (len != BIG || seq != (uint64_t)i)
			tbad++;
		dipc_msg_destroy(m, 1);
	}
	dipc_sendh_send_bytes(out, &tbad, sizeof(tbad), DIPC_WAIT_FOREVER);
	free(buf);
	dipc_recvh_destroy(in);
	dipc_sendh_destroy(out);
	dipc_channel_detach(req);
	dipc_channel_detach(rep);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child(argv[2], argv[3]);

	char name[64];
	snprintf(name, sizeof(name), "demo-%d", (int)getpid());
	dipc_pool *pool;
	int rc = dipc_pool_create(name, 64u << 20, NULL, &pool);
	if (rc)
		DIE("create pool", rc);
	dipc_channel *req, *rep;
	if ((rc = dipc_channel_create(pool, 1, NULL, &req)) ||
	    (rc = dipc_channel_create(pool, 2, NULL, &rep)))
		DIE("create channels", rc);
	unsigned char d[DIPC_SERIAL_MAX];
	char req_hex[2 * DIPC_SERIAL_MAX + 1], rep_hex[2 * DIPC_SERIAL_MAX + 1];
	hex(d, dipc_channel_serialize(req, d, sizeof(d)), req_hex);
	hex(d, dipc_channel_serialize(rep, d, sizeof(d)), rep_hex);

	printf("libdragonipc %s demo: pool \"%s\" (64 MiB), channels 1 and 2 "
	       "(capacity %d, block %d B)\n", dipc_version(), name,
	       dipc_channel_capacity(req), dipc_channel_block_size(req));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--child", req_hex, rep_hex, (char *)NULL);
		perror("exec");
		_exit(127);
	}

	dipc_sendh *out;
	dipc_recvh *in;
	if ((rc = dipc_sendh_create(req, NULL, &out)) || (rc = dipc_sendh_open(out)) ||
	    (rc = dipc_recvh_create(rep, NULL, &in)) || (rc = dipc_recvh_open(in)))
		DIE("handles", rc);

	unsigned char *buf = malloc(BIG);
	uint64_t seq = 0;
	printf("1. streaming %d messages of each size to process %d, checksummed:\n",
	       STREAM_COUNT, (int)pid);
	for (size_t k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];
		double t0 = now();
		for (int i = 0; i < STREAM_COUNT; i++, seq++) {
			memset(buf + 16, (int)(seq & 0xff), len - 16);
			uint64_t sum = checksum(buf + 16, len - 16);
			memcpy(buf, &seq, 8);
			memcpy(buf + 8, &sum, 8);
			if ((rc = dipc_sendh_send_bytes(out, buf, len, DIPC_WAIT_FOREVER)))
				DIE("send", rc);
		}
		double el = now() - t0;
		printf("   %7zu B: %9.0f msg/s  %8.1f MiB/s  (%s)\n", len, STREAM_COUNT / el,
		       (double)len * STREAM_COUNT / el / (1 << 20),
		       len <= (size_t)dipc_channel_block_size(req) ? "copied through the channel's blocks"
							  : "copied through pool allocations");
		fflush(stdout);
	}
	size_t len;
	uint64_t bad;
	if ((rc = dipc_recvh_recv_bytes(in, &bad, sizeof(bad), &len, DIPC_WAIT_FOREVER)))
		DIE("receive report", rc);

	printf("2. ping-pong of %d 64-byte messages:\n", PINGS);
	fflush(stdout);
	double t0 = now();
	for (int i = 0; i < PINGS; i++) {
		memcpy(buf, &i, sizeof(i));
		if ((rc = dipc_sendh_send_bytes(out, buf, 64, DIPC_WAIT_FOREVER)) ||
		    (rc = dipc_recvh_recv_bytes(in, buf, BIG, &len, DIPC_WAIT_FOREVER)))
			DIE("ping-pong", rc);
		int echo;
		memcpy(&echo, buf, sizeof(echo));
		if (echo != i || len != 64)
			bad++;
	}
	double el = now() - t0;
	printf("   round trip %.2f us, one way %.2f us\n", el / PINGS * 1e6, el / PINGS * 1e6 / 2);

	printf("3. handing over %d allocations of 4 MiB by transfer of ownership:\n", TRANSFERS);
	fflush(stdout);
	t0 = now();
	for (int i = 0; i < TRANSFERS; i++) {
		dipc_msg *m;
		dipc_mem *mem;
		void *p;
		/* Wait for room: the child frees what it has received. */
		if ((rc = dipc_pool_alloc_wait(pool, BIG, DIPC_WAIT_FOREVER, &mem)) ||
		    (rc = dipc_msg_create_from_mem(mem, &m)))
			DIE("allocate", rc);
		dipc_msg_get(m, &p, NULL);
		uint64_t s = (uint64_t)i;
		memcpy(p, &s, 8);
		if ((rc = dipc_sendh_send(out, m, NULL, DIPC_TRANSFER_ON_SEND, DIPC_WAIT_FOREVER)))
			DIE("send transfer", rc);
		dipc_msg_destroy(m, 0);
	}
	uint64_t tbad;
	if ((rc = dipc_recvh_recv_bytes(in, &tbad, sizeof(tbad), &len, DIPC_WAIT_FOREVER)))
		DIE("receive report", rc);
	el = now() - t0;
	printf("   %.0f transfers/s (allocate, send, receive, free; the 4 MiB are never copied)\n",
	       TRANSFERS / el);

	int st;
	waitpid(pid, &st, 0);
	dipc_sendh_destroy(out);
	dipc_recvh_destroy(in);
	struct dipc_pool_stats ps;
	dipc_pool_stats(pool, &ps);
	dipc_channel_destroy(req);
	dipc_channel_destroy(rep);
	dipc_pool_destroy(pool);
	free(buf);
	int okall = bad == 0 && tbad == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	printf("%s: every message arrived intact and in order; pool had %" PRIu64
	       " live allocations at the end (the two channels).\n",
	       okall ? "OK" : "FAILED", ps.nallocs);
	return okall ? 0 : 1;
}

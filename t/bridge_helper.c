/*
 * bridge_helper.c - the processes of t/bridge.sh, one "host" each.
 *
 *   bridge_helper serve POOL CUID CAPACITY BLOCK DESCFILE
 *       make a pool and a channel, write the channel's descriptor (hex)
 *       to DESCFILE, and keep them until SIGTERM
 *   bridge_helper send DESCFILE SENDER COUNT SIZES TIMEOUT_MS|forever [MODE]
 *       attach the channel through the bridge and send COUNT messages of
 *       the sizes (comma-separated bytes, taken in turn); prints one line
 *       per message: "ok SENDER SEQ" or "unknown SENDER SEQ RC" (a send
 *       whose fate the library could not know: never retried here).
 *       MODE: bytes (send_bytes, default), copy, transfer, dest
 *   bridge_helper recv DESCFILE STOPFILE TIMEOUT_MS [MODE]
 *       receive until STOPFILE exists and a receive times out; prints
 *       "got SENDER SEQ" per message after checking its every byte.
 *       MODE: bytes (default), msg (into an empty message), alloc (into
 *       a message with an allocation)
 *   bridge_helper attach DESCFILE
 *       attach and print "attached CAPACITY BLOCK" or "error RC NAME"
 *   bridge_helper local-only DESCFILE
 *       attach and print the codes of what needs the channel's own host
 *       (barrier wait, barrier count, broken, blocked receivers, a
 *       channel set): "local-only RC RC RC RC RC"
 *   bridge_helper poll DESCFILE EVENTS TIMEOUT_MS
 *       print the result of dipc_channel_poll and how long it took (ms)
 *   bridge_helper ring BELLPATH COUNT
 *       send COUNT datagrams of noise to a gateway's bell
 *   bridge_helper timed-recv DESCFILE TIMEOUT_MS|forever [GOFILE]
 *       one receive; prints "rc RC ms ELAPSED"; with GOFILE, attaches,
 *       prints "ready" and waits for GOFILE to exist before receiving
 *
 * Every payload is a 16-byte head (sender, sequence, length, check) and
 * bytes made from it, so a torn, mixed or foreign message is caught.
 */
#include <dragonipc.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int read_desc(const char *path, unsigned char *d, size_t *len)
{
	for (int tries = 0; tries < 200; tries++) {
		FILE *f = fopen(path, "r");
		char hex[2 * DIPC_SERIAL_MAX + 4] = "";
		if (f) {
			char *ok = fgets(hex, sizeof(hex), f);
			fclose(f);
			size_t n = ok ? strcspn(hex, "\n") : 0;
			if (n >= 2 && n % 2 == 0) {
				for (size_t i = 0; i < n / 2; i++) {
					unsigned v;
					if (sscanf(hex + 2 * i, "%2x", &v) != 1)
						return -1;
					d[i] = (unsigned char)v;
				}
				*len = n / 2;
				return 0;
			}
		}
		usleep(50000);
	}
	fprintf(stderr, "bridge_helper: no descriptor in %s\n", path);
	return -1;
}

static unsigned char pat(uint32_t sender, uint32_t seq, size_t i)
{
	return (unsigned char)(sender * 131u + seq * 7u + i * 13u + (i >> 8));
}

static void fill(unsigned char *b, size_t len, uint32_t sender, uint32_t seq)
{
	uint32_t head[4] = { sender, seq, (uint32_t)len, sender ^ seq ^ (uint32_t)len ^ 0x5a5a5a5au };
	size_t h = len < 16 ? len : 16;
	memcpy(b, head, h);
	for (size_t i = h; i < len; i++)
		b[i] = pat(sender, seq, i);
}

/* 0 and the head, or -1 if the bytes are not a message fill() made. */
static int check(const unsigned char *b, size_t len, uint32_t *sender, uint32_t *seq)
{
	if (len < 8)
		return -1;
	uint32_t head[4] = { 0, 0, 0, 0 };
	memcpy(head, b, len < 16 ? len : 16);
	*sender = head[0];
	*seq = head[1];
	if (len >= 16 && (head[2] != len || head[3] != (head[0] ^ head[1] ^ head[2] ^ 0x5a5a5a5au)))
		return -1;
	for (size_t i = 16; i < len; i++)
		if (b[i] != pat(head[0], head[1], i))
			return -1;
	return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int serve(char **av)
{
	dipc_pool *pool;
	dipc_channel *ch;
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = strtoull(av[2], NULL, 0);
	a.block_size = strtoull(av[3], NULL, 0);
	int rc = dipc_pool_create(av[0], 256u << 20, NULL, &pool);
	if (rc == 0)
		rc = dipc_channel_create(pool, strtoull(av[1], NULL, 0), &a, &ch);
	if (rc) {
		fprintf(stderr, "serve: %s\n", dipc_strerror(rc));
		return 1;
	}
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(ch, d, sizeof(d));
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", av[4]);
	FILE *f = fopen(tmp, "w");
	for (int i = 0; f && i < n; i++)
		fprintf(f, "%02x", d[i]);
	if (!f || fprintf(f, "\n") < 0 || fclose(f) || rename(tmp, av[4])) {
		perror("serve: descriptor file");
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop)
		pause();
	dipc_channel_destroy(ch);
	dipc_pool_destroy(pool);
	return 0;
}

static int attach(const char *path, dipc_channel **ch)
{
	unsigned char d[DIPC_SERIAL_MAX];
	size_t len;
	if (read_desc(path, d, &len))
		return DIPC_EINVAL;
	return dipc_channel_attach(d, len, NULL, ch);
}

static int do_send(char **av)
{
	dipc_channel *ch;
	int rc = attach(av[0], &ch);
	if (rc) {
		printf("error %d %s\n", rc, dipc_strerror(rc));
		return 1;
	}
	uint32_t sender = (uint32_t)strtoul(av[1], NULL, 0);
	unsigned count = (unsigned)strtoul(av[2], NULL, 0);
	size_t sizes[64], nsizes = 0, most = 0;
	for (char *save, *t = strtok_r(av[3], ",", &save); t && nsizes < 64;
	     t = strtok_r(NULL, ",", &save)) {
		sizes[nsizes] = strtoull(t, NULL, 0);
		if (sizes[nsizes] < 8)
			sizes[nsizes] = 8;
		if (sizes[nsizes] > most)
			most = sizes[nsizes];
		nsizes++;
	}
	int64_t timeout = strcmp(av[4], "forever") == 0 ? DIPC_WAIT_FOREVER
			  : strtoll(av[4], NULL, 0) * 1000000;
	const char *mode = av[5] ? av[5] : "bytes";
	unsigned char *buf = malloc(most);
	dipc_sendh *h;
	if (!buf || dipc_sendh_create(ch, NULL, &h) || dipc_sendh_open(h))
		return 1;
	dipc_pool *local = NULL;
	if (strcmp(mode, "bytes") != 0) {
		char name[64];
		snprintf(name, sizeof(name), "bh-send-%d", (int)getpid());
		if (dipc_pool_create(name, 64u << 20, NULL, &local))
			return 1;
	}
	unsigned ok = 0, unknown = 0;
	uint64_t longest = 0;
	for (unsigned seq = 0; seq < count; seq++) {
		size_t len = sizes[seq % nsizes];
		uint64_t t0 = ms_now();
		if (!local) {
			fill(buf, len, sender, seq);
			rc = dipc_sendh_send_bytes(h, buf, len, timeout);
		} else {
			dipc_msg *m, *dest = NULL;
			if (dipc_msg_create_alloc(local, len, &m))
				return 1;
			void *p;
			dipc_msg_get(m, &p, NULL);
			fill(p, len, sender, seq);
			int own = DIPC_COPY_ON_SEND;
			if (strcmp(mode, "transfer") == 0)
				own = DIPC_TRANSFER_ON_SEND;
			if (strcmp(mode, "dest") == 0 && dipc_msg_create_alloc(local, len, &dest))
				return 1;
			rc = dipc_sendh_send(h, m, dest, own, timeout);
			size_t left = 1;
			dipc_msg_get(own == DIPC_TRANSFER_ON_SEND ? m : dest ? dest : m, NULL, &left);
			if (rc == 0 && (own == DIPC_TRANSFER_ON_SEND || dest) && left != 0) {
				printf("error transfer left %zu bytes in the message\n", left);
				return 1;
			}
			dipc_msg_destroy(m, 1);
			if (dest)
				dipc_msg_destroy(dest, 1);
		}
		if (ms_now() - t0 > longest)
			longest = ms_now() - t0;
		if (rc == 0) {
			ok++;
			printf("ok %u %u\n", sender, seq);
		} else if (rc == DIPC_ETIMEDOUT || rc == DIPC_EPEERCLOSED) {
			unknown++;
			printf("unknown %u %u %d\n", sender, seq, rc);
		} else {
			printf("error %d %s at %u\n", rc, dipc_strerror(rc), seq);
			return 1;
		}
		fflush(stdout);
	}
	dipc_sendh_destroy(h);
	dipc_channel_detach(ch);
	if (local)
		dipc_pool_destroy(local);
	free(buf);
	printf("longest %llu\n", (unsigned long long)longest);
	fprintf(stderr, "sender %u: %u sent, %u unknown, longest call %llu ms\n", sender, ok,
		unknown, (unsigned long long)longest);
	return 0;
}

static int do_recv(char **av)
{
	dipc_channel *ch;
	int rc = attach(av[0], &ch);
	if (rc) {
		printf("error %d %s\n", rc, dipc_strerror(rc));
		return 1;
	}
	const char *stopfile = av[1];
	int64_t timeout = strtoll(av[2], NULL, 0) * 1000000;
	const char *mode = av[3] ? av[3] : "bytes";
	size_t cap = 8u << 20;
	unsigned char *buf = malloc(cap);
	dipc_recvh *h;
	if (!buf || dipc_recvh_create(ch, NULL, &h) || dipc_recvh_open(h))
		return 1;
	dipc_pool *local = NULL;
	if (strcmp(mode, "alloc") == 0) {
		char name[64];
		snprintf(name, sizeof(name), "bh-recv-%d", (int)getpid());
		if (dipc_pool_create(name, 32u << 20, NULL, &local))
			return 1;
	}
	unsigned got = 0;
	uint64_t longest = 0;
	for (;;) {
		const unsigned char *p = buf;
		size_t len = 0;
		dipc_msg *m = NULL;
		uint64_t t0 = ms_now();
		if (strcmp(mode, "bytes") == 0) {
			rc = dipc_recvh_recv_bytes(h, buf, cap, &len, timeout);
		} else {
			if (local ? dipc_msg_create_alloc(local, cap, &m) : dipc_msg_create_empty(&m))
				return 1;
			rc = dipc_recvh_recv(h, m, timeout);
			void *mp = NULL;
			dipc_msg_get(m, &mp, &len);
			p = mp;
		}
		if (ms_now() - t0 > longest)
			longest = ms_now() - t0;
		if (rc == DIPC_ETIMEDOUT) {
			if (m)
				dipc_msg_destroy(m, 1);
			if (access(stopfile, F_OK) == 0)
				break;
			continue;
		}
		if (rc) {
			printf("error %d %s\n", rc, dipc_strerror(rc));
			return 1;
		}
		uint32_t sender, seq;
		if (check(p, len, &sender, &seq)) {
			printf("corrupt %zu bytes\n", len);
			return 1;
		}
		printf("got %u %u\n", sender, seq);
		fflush(stdout);
		got++;
		if (m)
			dipc_msg_destroy(m, 1);
	}
	dipc_recvh_destroy(h);
	dipc_channel_detach(ch);
	if (local)
		dipc_pool_destroy(local);
	printf("longest %llu\n", (unsigned long long)longest);
	fprintf(stderr, "receiver: %u received, longest call %llu ms\n", got,
		(unsigned long long)longest);
	return 0;
}

/* A hostile neighbour: ring the gateway's bell COUNT times with 2 KiB
 * of noise each (a ring carries nothing the bridge may trust). */
static int do_ring(const char *path, long count)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	char noise[2048];
	memset(noise, 0x5a, sizeof(noise));
	long ok = 0;
	for (long i = 0; fd >= 0 && i < count; i++)
		if (sendto(fd, noise, sizeof(noise), 0, (struct sockaddr *)&a, sizeof(a)) > 0)
			ok++;
	printf("rang %ld\n", ok);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "ring") == 0)
		return do_ring(argv[2], atol(argv[3]));
	if (argc >= 7 && strcmp(argv[1], "serve") == 0)
		return serve(argv + 2);
	if (argc >= 7 && strcmp(argv[1], "send") == 0)
		return do_send(argv + 2);
	if (argc >= 5 && strcmp(argv[1], "recv") == 0)
		return do_recv(argv + 2);
	if (argc == 3 && strcmp(argv[1], "attach") == 0) {
		dipc_channel *ch;
		int rc = attach(argv[2], &ch);
		if (rc) {
			printf("error %d %s\n", rc, dipc_strerror(rc));
			return 0;
		}
		printf("attached %d %d\n", dipc_channel_capacity(ch), dipc_channel_block_size(ch));
		dipc_channel_detach(ch);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "local-only") == 0) {
		dipc_channel *ch;
		int rc = attach(argv[2], &ch);
		if (rc) {
			printf("error %d %s\n", rc, dipc_strerror(rc));
			return 1;
		}
		dipc_pool *p;
		dipc_channelset *set = NULL;
		int rs = DIPC_ENOENT;
		char name[64];
		snprintf(name, sizeof(name), "bh-local-%ld", (long)getpid());
		if (dipc_pool_create(name, 1 << 20, NULL, &p) == 0) {
			rs = dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &set);
			if (set)
				dipc_channelset_destroy(set);
			dipc_pool_destroy(p);
		}
		printf("local-only %d %d %d %d %d\n",
		       dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), dipc_channel_barrier_count(ch),
		       dipc_channel_barrier_broken(ch), dipc_channel_blocked_receivers(ch), rs);
		dipc_channel_detach(ch);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "poll") == 0) {
		dipc_channel *ch;
		int rc = attach(argv[2], &ch);
		if (rc) {
			printf("error %d %s\n", rc, dipc_strerror(rc));
			return 1;
		}
		uint64_t t0 = ms_now();
		rc = dipc_channel_poll(ch, atoi(argv[3]), strtoll(argv[4], NULL, 0) * 1000000);
		printf("poll %d ms %llu\n", rc, (unsigned long long)(ms_now() - t0));
		dipc_channel_detach(ch);
		return 0;
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "timed-recv") == 0) {
		dipc_channel *ch;
		int rc = attach(argv[2], &ch);
		if (rc) {
			printf("error %d %s\n", rc, dipc_strerror(rc));
			return 1;
		}
		dipc_recvh *h;
		dipc_recvh_create(ch, NULL, &h);
		dipc_recvh_open(h);
		char b[64];
		size_t len;
		if (argc == 5) {
			/* Attached: now let the test break something first. */
			printf("ready\n");
			fflush(stdout);
			while (access(argv[4], F_OK) != 0)
				usleep(20000);
		}
		uint64_t t0 = ms_now();
		int64_t t = strcmp(argv[3], "forever") == 0 ? DIPC_WAIT_FOREVER
							     : strtoll(argv[3], NULL, 0) * 1000000;
		rc = dipc_recvh_recv_bytes(h, b, sizeof(b), &len, t);
		printf("rc %d ms %llu\n", rc, (unsigned long long)(ms_now() - t0));
		dipc_recvh_destroy(h);
		dipc_channel_detach(ch);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of t/bridge_helper.c\n");
	return 2;
}

/*
 * xhost.c - the cross-host benchmark's processes (bench/xhost.sh runs
 * them on two hosts made of namespaces, joined by one veth link).
 *
 * Three transports, each measured the same way, one process per host:
 *
 *   bridge   libdragonipc channels through dipc-bridge: a sender on host A
 *            sends to a channel of host B (each send returns once the
 *            message is in that channel), a receiver on B takes them;
 *   zmq      bare ZeroMQ over TCP on the same link, without security and
 *            with CURVE (as the bridge runs by default): PAIR streaming,
 *            and REQ/REP (one acknowledgement per message, as a bridge
 *            send has);
 *   tcp      a plain TCP socket: streaming with a length frame, and one
 *            acknowledgement byte per message.
 *
 *   xhost bridge-sink DESCFILE COUNT SIZE       receive COUNT, print the rate
 *   xhost bridge-source DESCFILE COUNT SIZE THREADS
 *   xhost bridge-echo DESC_IN DESC_OUT COUNT    (on B) receive, send back
 *   xhost bridge-ping DESC_OUT DESC_IN COUNT    (on A) round trips
 *   xhost zmq-sink ENDPOINT COUNT SIZE pair|reqrep[-curve]
 *   xhost zmq-source ENDPOINT COUNT SIZE pair|reqrep[-curve]
 *            (-curve: the sink writes its public key to $XHOST_KEYFILE)
 *   xhost tcp-sink PORT COUNT SIZE stream|ack
 *   xhost tcp-source ADDR PORT COUNT SIZE stream|ack
 *
 * Sources print "RESULT <what> <size> <messages/s> <MB/s>", ping prints
 * "RESULT rtt <size> <median us>".  Each receiver checks the first and
 * last byte of every message.
 */
#include <dragonipc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "xhost: %s: %d %s\n", what, rc, rc < 0 ? dipc_strerror(rc) : "");
	exit(1);
}

static dipc_channel *attach_file(const char *path)
{
	unsigned char d[DIPC_SERIAL_MAX];
	char hex[2 * DIPC_SERIAL_MAX + 4];
	for (int tries = 0; tries < 200; tries++) {
		FILE *f = fopen(path, "r");
		if (f && fgets(hex, sizeof(hex), f)) {
			fclose(f);
			size_t n = strcspn(hex, "\n") / 2;
			for (size_t i = 0; i < n; i++) {
				unsigned v;
				sscanf(hex + 2 * i, "%2x", &v);
				d[i] = (unsigned char)v;
			}
			dipc_channel *ch;
			int rc = dipc_channel_attach(d, n, NULL, &ch);
			if (rc)
				die("attach", rc);
			return ch;
		}
		if (f)
			fclose(f);
		usleep(50000);
	}
	die("no descriptor", 0);
	return NULL;
}

static void report(const char *what, size_t size, long count, double secs)
{
	printf("RESULT %s %zu %.0f %.1f\n", what, size, count / secs, count * (double)size / secs / 1e6);
	fflush(stdout);
}

/* ---- the bridge ------------------------------------------------------------------- */

struct src {
	dipc_channel *ch;
	long count;
	size_t size;
};

static void *source_thread(void *arg)
{
	struct src *s = arg;
	dipc_sendh *h;
	unsigned char *buf = malloc(s->size);
	memset(buf, 0x5a, s->size);
	if (dipc_sendh_create(s->ch, NULL, &h) || dipc_sendh_open(h))
		die("send handle", 0);
	for (long i = 0; i < s->count; i++) {
		int rc = dipc_sendh_send_bytes(h, buf, s->size, 30LL * 1000000000);
		if (rc)
			die("send", rc);
	}
	dipc_sendh_destroy(h);
	free(buf);
	return NULL;
}

static int bridge_source(char **av)
{
	dipc_channel *ch = attach_file(av[0]);
	long count = atol(av[1]);
	size_t size = strtoull(av[2], NULL, 0);
	int threads = atoi(av[3]);
	pthread_t t[64];
	struct src s = { ch, count / threads, size };
	double t0 = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, source_thread, &s);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double secs = now_s() - t0;
	char what[64];
	snprintf(what, sizeof(what), "bridge-%dsender%s", threads, threads > 1 ? "s" : "");
	report(what, size, s.count * threads, secs);
	dipc_channel_detach(ch);
	return 0;
}

static int bridge_sink(char **av)
{
	dipc_pool *pool;
	dipc_channel *ch;
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = 256;
	a.block_size = 1024;
	char name[64];
	snprintf(name, sizeof(name), "xhost-%d", (int)getpid());
	if (dipc_pool_create(name, 512u << 20, NULL, &pool) ||
	    dipc_channel_create(pool, 1, &a, &ch))
		die("channel", 0);
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(ch, d, sizeof(d));
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", av[0]);
	FILE *f = fopen(tmp, "w");
	for (int i = 0; i < n; i++)
		fprintf(f, "%02x", d[i]);
	fprintf(f, "\n");
	fclose(f);
	rename(tmp, av[0]);
	long count = atol(av[1]);
	size_t size = strtoull(av[2], NULL, 0);
	unsigned char *buf = malloc(size);
	dipc_recvh *h;
	dipc_recvh_create(ch, NULL, &h);
	dipc_recvh_open(h);
	for (long i = 0; i < count; i++) {
		size_t len;
		int rc = dipc_recvh_recv_bytes(h, buf, size, &len, 60LL * 1000000000);
		if (rc)
			die("receive", rc);
		if (len != size || buf[0] != 0x5a || buf[len - 1] != 0x5a)
			die("corrupt", 0);
	}
	dipc_recvh_destroy(h);
	dipc_channel_destroy(ch);
	dipc_pool_destroy(pool);
	return 0;
}

/* Round trips: A sends to B's channel (remote), B's echo takes it there
 * and sends it to A's channel (remote), A takes it here. */
static int bridge_rt(char **av, bool echo)
{
	dipc_pool *pool;
	dipc_channel *mine;
	char name[64];
	snprintf(name, sizeof(name), "xhost-rt-%d", (int)getpid());
	if (dipc_pool_create(name, 16u << 20, NULL, &pool) || dipc_channel_create(pool, 2, NULL, &mine))
		die("channel", 0);
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(mine, d, sizeof(d));
	char tmp[512];
	const char *myfile = echo ? av[0] : av[1], *theirs = echo ? av[1] : av[0];
	snprintf(tmp, sizeof(tmp), "%s.tmp", myfile);
	FILE *f = fopen(tmp, "w");
	for (int i = 0; i < n; i++)
		fprintf(f, "%02x", d[i]);
	fprintf(f, "\n");
	fclose(f);
	rename(tmp, myfile);
	dipc_channel *other = attach_file(theirs);
	long count = atol(av[2]);
	dipc_sendh *s;
	dipc_recvh *r;
	dipc_sendh_create(other, NULL, &s);
	dipc_sendh_open(s);
	dipc_recvh_create(mine, NULL, &r);
	dipc_recvh_open(r);
	unsigned char buf[64];
	memset(buf, 0x5a, sizeof(buf));
	double *lat = calloc((size_t)count, sizeof(double));
	for (long i = 0; i < count; i++) {
		size_t len;
		double t0 = now_s();
		int rc;
		if (!echo && (rc = dipc_sendh_send_bytes(s, buf, 64, 10LL * 1000000000)))
			die("send", rc);
		if ((rc = dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, 30LL * 1000000000)))
			die("receive", rc);
		if (echo && (rc = dipc_sendh_send_bytes(s, buf, 64, 10LL * 1000000000)))
			die("send", rc);
		lat[i] = now_s() - t0;
	}
	if (!echo) {
		qsort(lat, (size_t)count, sizeof(double), cmp);
		printf("RESULT bridge-rtt 64 %.1f\n", lat[count / 2] * 1e6);
	}
	sleep(1);
	dipc_sendh_destroy(s);
	dipc_recvh_destroy(r);
	dipc_channel_detach(other);
	dipc_channel_destroy(mine);
	dipc_pool_destroy(pool);
	return 0;
}

/* ---- bare ZeroMQ ------------------------------------------------------------------------ */

/* CURVE on a bare socket, as the bridge runs by default: the sink is the
 * server and leaves its public key in $XHOST_KEYFILE for the source. */
static void curve_setup(void *s, bool server)
{
	const char *kf = getenv("XHOST_KEYFILE");
	char pub[41], sec[41];
	if (!kf || zmq_curve_keypair(pub, sec))
		die("CURVE needs XHOST_KEYFILE and libsodium", 0);
	if (server) {
		int one = 1;
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s.tmp", kf);
		FILE *f = fopen(tmp, "w");
		if (!f || fputs(pub, f) < 0 || fclose(f) || rename(tmp, kf))
			die("key file", 0);
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41))
			die("CURVE server", zmq_errno());
		return;
	}
	char srv[41] = "";
	for (int i = 0; i < 100 && !srv[0]; i++) {
		FILE *f = fopen(kf, "r");
		if (f) {
			if (!fgets(srv, sizeof(srv), f))
				srv[0] = 0;
			fclose(f);
		}
		if (strlen(srv) != 40) {
			srv[0] = 0;
			usleep(100 * 1000);
		}
	}
	if (!srv[0] || zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 41) ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 41) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41))
		die("CURVE client", zmq_errno());
}

static int zmq_side(char **av, bool sink)
{
	long count = atol(av[1]);
	size_t size = strtoull(av[2], NULL, 0);
	bool reqrep = strncmp(av[3], "reqrep", 6) == 0;
	bool curve = strstr(av[3], "-curve") != NULL;
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, reqrep ? (sink ? ZMQ_REP : ZMQ_REQ) : ZMQ_PAIR);
	int hwm = 10000;
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (curve)
		curve_setup(s, sink);
	if (sink ? zmq_bind(s, av[0]) : zmq_connect(s, av[0]))
		die("zmq bind/connect", zmq_errno());
	unsigned char *buf = malloc(size);
	memset(buf, 0x5a, size);
	double *lat = reqrep && !sink ? calloc((size_t)count, sizeof(double)) : NULL;
	double t0 = now_s();
	for (long i = 0; i < count; i++) {
		if (sink) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s, 0) < 0)
				die("zmq recv", zmq_errno());
			const unsigned char *p = zmq_msg_data(&m);
			if (zmq_msg_size(&m) != size || p[0] != 0x5a || p[size - 1] != 0x5a)
				die("corrupt", 0);
			zmq_msg_close(&m);
			if (reqrep)
				zmq_send(s, "", 0, 0);
		} else {
			double t1 = now_s();
			if (zmq_send(s, buf, size, 0) < 0)
				die("zmq send", zmq_errno());
			if (reqrep) {
				char ack[8];
				zmq_recv(s, ack, sizeof(ack), 0);
				lat[i] = now_s() - t1;
			}
		}
	}
	if (!sink) {
		if (!reqrep) {
			/* The last message is received when the sink's ack comes. */
			zmq_recv(s, buf, size, 0);
		}
		double secs = now_s() - t0;
		char what[32];
		snprintf(what, sizeof(what), "zmq-%s", av[3]);
		report(what, size, count, secs);
		if (reqrep && size == 64) {
			qsort(lat, (size_t)count, sizeof(double), cmp);
			printf("RESULT zmq-rtt%s 64 %.1f\n", curve ? "-curve" : "", lat[count / 2] * 1e6);
		}
	} else if (!reqrep) {
		zmq_send(s, "done", 4, 0);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

/* ---- plain TCP ------------------------------------------------------------------------------ */

static void full(int fd, void *b, size_t n, bool wr)
{
	size_t done = 0;
	while (done < n) {
		ssize_t k = wr ? write(fd, (char *)b + done, n - done) : read(fd, (char *)b + done, n - done);
		if (k <= 0)
			die("tcp", (int)k);
		done += (size_t)k;
	}
}

static int tcp_side(char **av, bool sink)
{
	int off = sink ? 0 : 1;
	int port = atoi(av[off]);
	long count = atol(av[off + 1]);
	size_t size = strtoull(av[off + 2], NULL, 0);
	bool ack = strcmp(av[off + 3], "ack") == 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (sink) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_addr.s_addr = INADDR_ANY;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
			die("tcp listen", 0);
		int c = accept(fd, NULL, NULL);
		close(fd);
		fd = c;
	} else {
		inet_pton(AF_INET, av[0], &sa.sin_addr);
		for (int i = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)); i++) {
			if (i > 100)
				die("tcp connect", 0);
			close(fd);
			fd = socket(AF_INET, SOCK_STREAM, 0);
			usleep(50000);
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	unsigned char *buf = malloc(size);
	memset(buf, 0x5a, size);
	double *lat = ack && !sink ? calloc((size_t)count, sizeof(double)) : NULL;
	double t0 = now_s();
	for (long i = 0; i < count; i++) {
		uint64_t len = size;
		if (sink) {
			full(fd, &len, sizeof(len), false);
			if (len != size)
				die("tcp frame", 0);
			full(fd, buf, size, false);
			if (buf[0] != 0x5a || buf[size - 1] != 0x5a)
				die("corrupt", 0);
			if (ack) {
				char a = 'a';
				full(fd, &a, 1, true);
			}
		} else {
			double t1 = now_s();
			full(fd, &len, sizeof(len), true);
			full(fd, buf, size, true);
			if (ack) {
				char a;
				full(fd, &a, 1, false);
				lat[i] = now_s() - t1;
			}
		}
	}
	if (sink && !ack) {
		char d = 'd';
		full(fd, &d, 1, true);
	}
	if (!sink) {
		if (!ack) {
			char d;
			full(fd, &d, 1, false);
		}
		report(ack ? "tcp-ack" : "tcp-stream", size, count, now_s() - t0);
		if (ack && size == 64) {
			qsort(lat, (size_t)count, sizeof(double), cmp);
			printf("RESULT tcp-rtt 64 %.1f\n", lat[count / 2] * 1e6);
		}
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return 2;
	const char *m = argv[1];
	char **av = argv + 2;
	if (!strcmp(m, "bridge-sink") && argc == 5)
		return bridge_sink(av);
	if (!strcmp(m, "bridge-source") && argc == 6)
		return bridge_source(av);
	if (!strcmp(m, "bridge-echo") && argc == 5)
		return bridge_rt(av, true);
	if (!strcmp(m, "bridge-ping") && argc == 5)
		return bridge_rt(av, false);
	if (!strcmp(m, "zmq-sink") && argc == 6)
		return zmq_side(av, true);
	if (!strcmp(m, "zmq-source") && argc == 6)
		return zmq_side(av, false);
	if (!strcmp(m, "tcp-sink") && argc == 6)
		return tcp_side(av, true);
	if (!strcmp(m, "tcp-source") && argc == 7)
		return tcp_side(av, false);
	fprintf(stderr, "usage: see the comment at the top of bench/xhost.c\n");
	return 2;
}

/*
 * t_zmq.c - ZeroMQ over ipc:// (libzmq): PUSH to PULL on every link, the
 * receiver binds, senders connect; fan-in is native (many PUSH, one PULL).
 * The sender writes straight into a zmq_msg_t it sends; the receiver reads
 * the received zmq_msg_t in place.  Spinning waits retry ZMQ_DONTWAIT
 * receives; the other modes block.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct zmq_shared {
	char addr[2][128];
};

struct bench_ep {
	void *sock;
	bool spin;
	zmq_msg_t msg;
};

/* One context per process, made after fork. */
static void *ctx;

static int zsetup(const struct bench_cfg *cfg, void **out)
{
	struct zmq_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	for (int l = 0; l < cfg->nlinks; l++)
		snprintf(s->addr[l], sizeof(s->addr[l]), "ipc://%s/bench-%s-%d.zmq", dir, cfg->tag, l);
	*out = s;
	return 0;
}

static int zopen(const struct bench_cfg *cfg, struct zmq_shared *s, int link, bool rx,
		 struct bench_ep **out)
{
	if (!ctx && !(ctx = zmq_ctx_new()))
		return -1;
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->spin = rx && cfg->wait == WAIT_SPIN;
	ep->sock = zmq_socket(ctx, rx ? ZMQ_PULL : ZMQ_PUSH);
	if (!ep->sock)
		return -zmq_errno();
	int zero = 0;
	zmq_setsockopt(ep->sock, ZMQ_LINGER, &zero, sizeof(zero));
	int rc = rx ? zmq_bind(ep->sock, s->addr[link]) : zmq_connect(ep->sock, s->addr[link]);
	if (rc != 0) {
		fprintf(stderr, "bench: zmq %s %s: %s\n", rx ? "bind" : "connect", s->addr[link],
			zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	*out = ep;
	return 0;
}

static int zopen_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)i;
	return zopen(c, s, l, false, e);
}

static int zopen_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return zopen(c, s, l, true, e);
}

static void *zget_buf(struct bench_ep *ep, size_t len)
{
	if (zmq_msg_init_size(&ep->msg, len) != 0)
		return NULL;
	return zmq_msg_data(&ep->msg);
}

static int zsend(struct bench_ep *ep, size_t len)
{
	(void)len;
	while (zmq_msg_send(&ep->msg, ep->sock, 0) < 0)
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	return 0;
}

static int zrecv(struct bench_ep *ep, const void **data, size_t *len)
{
	zmq_msg_init(&ep->msg);
	while (zmq_msg_recv(&ep->msg, ep->sock, ep->spin ? ZMQ_DONTWAIT : 0) < 0) {
		int e = zmq_errno();
		if (e == EAGAIN)
			bench_relax();
		else if (e != EINTR)
			return -e;
	}
	*data = zmq_msg_data(&ep->msg);
	*len = zmq_msg_size(&ep->msg);
	return 0;
}

static void zrelease(struct bench_ep *ep)
{
	zmq_msg_close(&ep->msg);
}

static void zclose(struct bench_ep *ep)
{
	zmq_close(ep->sock);
	free(ep);
}

static void zteardown(const struct bench_cfg *cfg, void *shared)
{
	struct zmq_shared *s = shared;
	for (int l = 0; l < cfg->nlinks; l++)
		unlink(s->addr[l] + strlen("ipc://"));
	if (ctx)
		zmq_ctx_term(ctx);
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_zmq = {
	.name = "zmq",
	.about = "ZeroMQ PUSH/PULL over ipc://, zero-copy zmq_msg_t on both ends",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = zsetup,
	.open_tx = zopen_tx,
	.open_rx = zopen_rx,
	.get_buf = zget_buf,
	.send = zsend,
	.recv = zrecv,
	.release = zrelease,
	.close = zclose,
	.teardown = zteardown,
};

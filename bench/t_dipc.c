/*
 * t_dipc.c - libdragonipc message channels, through the public API only.
 *
 *   dipc-copy  dipc_sendh_send_bytes / dipc_recvh_recv_bytes: the payload is
 *              copied in and out (from the caller's buffer into the channel,
 *              or into a pool allocation when it is larger than a block);
 *   dipc-xfer  the sender writes into a pool allocation and hands it over
 *              (DIPC_TRANSFER_ON_SEND); the receiver reads it in place and
 *              frees it: transfer of ownership, no copy.
 *
 * Each link is a channel; fan-in is native (one channel, many senders).
 * Every process attaches the channels from their serialized descriptors,
 * as separate programs would.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dragonipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dipc_shared {
	dipc_pool *pool;                /* the creator's handle (parent) */
	dipc_channel *ch[2];
	int serlen[2];
	unsigned char ser[2][DIPC_SERIAL_MAX];
};

struct bench_ep {
	bool xfer;
	dipc_channel *ch;
	dipc_pool *pool;
	dipc_sendh *sh;
	dipc_recvh *rh;
	void *buf;              /* copy: the caller's buffer */
	size_t cap;
	dipc_msg *msg;          /* xfer: the message being sent or received */
};

static int wait_mode(enum bench_wait w)
{
	return w == WAIT_SPIN ? DIPC_WAIT_SPIN : w == WAIT_SLEEP ? DIPC_WAIT_IDLE
								 : DIPC_WAIT_ADAPTIVE;
}

/* Messages in flight per link: enough to keep both sides busy, at most
 * about 4 MiB of payload (more only spills the caches). */
static uint64_t capacity_for(const struct bench_cfg *cfg)
{
	if (cfg->test == TEST_LAT)
		return 4;
	uint64_t c = (4u << 20) / cfg->size;
	return c < 4 ? 4 : c > 64 ? 64 : c;
}

/* Copy mode keeps payloads up to 64 KiB inside the channel's blocks;
 * larger ones travel as pool allocations. */
static uint64_t block_for(const struct bench_cfg *cfg, bool xfer)
{
	if (xfer || cfg->size > 65536)
		return DIPC_CHANNEL_DEFAULT_BLOCK_SIZE;
	return cfg->size < 64 ? 64 : cfg->size;
}

static int setup(const struct bench_cfg *cfg, void **out, bool xfer)
{
	struct dipc_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = capacity_for(cfg);
	ca.block_size = block_for(cfg, xfer);
	uint64_t chan_bytes = 4096 + ca.capacity * (64 + ca.block_size);
	uint64_t big = xfer || cfg->size > ca.block_size
		? (ca.capacity + 2 * (uint64_t)cfg->nprod + 4) * (cfg->size + 128) : 0;
	size_t pool_size = (size_t)(cfg->nlinks * (chan_bytes + big) + (2u << 20));
	char name[64];
	snprintf(name, sizeof(name), "bench-%s", cfg->tag);
	int rc = dipc_pool_create(name, pool_size, NULL, &s->pool);
	if (rc) {
		fprintf(stderr, "bench: dipc_pool_create: %s\n", dipc_strerror(rc));
		return rc;
	}
	for (int l = 0; l < cfg->nlinks; l++) {
		rc = dipc_channel_create(s->pool, (uint64_t)l + 1, &ca, &s->ch[l]);
		if (rc) {
			fprintf(stderr, "bench: dipc_channel_create: %s\n", dipc_strerror(rc));
			return rc;
		}
		s->serlen[l] = dipc_channel_serialize(s->ch[l], s->ser[l], DIPC_SERIAL_MAX);
		if (s->serlen[l] < 0)
			return s->serlen[l];
	}
	*out = s;
	return 0;
}

static int setup_copy(const struct bench_cfg *cfg, void **out)
{
	return setup(cfg, out, false);
}

static int setup_xfer(const struct bench_cfg *cfg, void **out)
{
	return setup(cfg, out, true);
}

static int open_ep(const struct bench_cfg *cfg, struct dipc_shared *s, int link, bool xfer,
		   struct bench_ep **out)
{
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->xfer = xfer;
	int rc = dipc_channel_attach(s->ser[link], (size_t)s->serlen[link], NULL, &ep->ch);
	if (rc)
		return rc;
	dipc_channel_pool(ep->ch, &ep->pool);
	if (!xfer) {
		ep->cap = cfg->size;
		ep->buf = bench_alloc(ep->cap);
		if (!ep->buf)
			return -1;
	}
	*out = ep;
	return 0;
}

static int open_tx(const struct bench_cfg *cfg, void *shared, int link, int idx,
		   struct bench_ep **out, bool xfer)
{
	(void)idx;
	int rc = open_ep(cfg, shared, link, xfer, out);
	if (rc)
		return rc;
	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = wait_mode(cfg->wait);
	rc = dipc_sendh_create((*out)->ch, &ha, &(*out)->sh);
	return rc ? rc : dipc_sendh_open((*out)->sh);
}

static int open_rx(const struct bench_cfg *cfg, void *shared, int link,
		   struct bench_ep **out, bool xfer)
{
	int rc = open_ep(cfg, shared, link, xfer, out);
	if (rc)
		return rc;
	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = wait_mode(cfg->wait);
	rc = dipc_recvh_create((*out)->ch, &ha, &(*out)->rh);
	return rc ? rc : dipc_recvh_open((*out)->rh);
}

static int copy_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	return open_tx(c, s, l, i, e, false);
}

static int xfer_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	return open_tx(c, s, l, i, e, true);
}

static int copy_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return open_rx(c, s, l, e, false);
}

static int xfer_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return open_rx(c, s, l, e, true);
}

/* ---- copy ------------------------------------------------------------------ */

static void *copy_get_buf(struct bench_ep *ep, size_t len)
{
	return len <= ep->cap ? ep->buf : NULL;
}

static int copy_send(struct bench_ep *ep, size_t len)
{
	return dipc_sendh_send_bytes(ep->sh, ep->buf, len, DIPC_WAIT_FOREVER);
}

static int copy_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	*data = ep->buf;
	return dipc_recvh_recv_bytes(ep->rh, ep->buf, ep->cap, len, DIPC_WAIT_FOREVER);
}

static void copy_release(struct bench_ep *ep)
{
	(void)ep;
}

/* ---- transfer of ownership ------------------------------------------------- */

static void *xfer_get_buf(struct bench_ep *ep, size_t len)
{
	dipc_mem *mem;
	void *p;
	/* Waits while the pool is full (the receiver frees as it reads). */
	if (dipc_pool_alloc_wait(ep->pool, len, DIPC_WAIT_FOREVER, &mem))
		return NULL;
	if (dipc_msg_create_from_mem(mem, &ep->msg)) {
		dipc_mem_free(mem);
		return NULL;
	}
	dipc_msg_get(ep->msg, &p, NULL);
	return p;
}

static int xfer_send(struct bench_ep *ep, size_t len)
{
	(void)len;
	int rc = dipc_sendh_send(ep->sh, ep->msg, NULL, DIPC_TRANSFER_ON_SEND, DIPC_WAIT_FOREVER);
	dipc_msg_destroy(ep->msg, rc != 0);
	ep->msg = NULL;
	return rc;
}

static int xfer_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	int rc = dipc_msg_create_empty(&ep->msg);
	if (rc)
		return rc;
	rc = dipc_recvh_recv(ep->rh, ep->msg, DIPC_WAIT_FOREVER);
	if (rc)
		return rc;
	void *p;
	dipc_msg_get(ep->msg, &p, len);
	*data = p;
	return 0;
}

static void xfer_release(struct bench_ep *ep)
{
	dipc_msg_destroy(ep->msg, 1);
	ep->msg = NULL;
}

/* ---- common ----------------------------------------------------------------- */

static void close_ep(struct bench_ep *ep)
{
	if (ep->sh)
		dipc_sendh_destroy(ep->sh);
	if (ep->rh)
		dipc_recvh_destroy(ep->rh);
	dipc_channel_detach(ep->ch);
	free(ep->buf);
	free(ep);
}

static void teardown(const struct bench_cfg *cfg, void *shared)
{
	struct dipc_shared *s = shared;
	if (!s)
		return;
	for (int l = 0; l < cfg->nlinks; l++)
		if (s->ch[l])
			dipc_channel_destroy(s->ch[l]);
	if (s->pool)
		dipc_pool_destroy(s->pool);
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_dipc_copy = {
	.name = "dipc-copy",
	.about = "libdragonipc channel, payload copied (send_bytes/recv_bytes)",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = setup_copy,
	.open_tx = copy_open_tx,
	.open_rx = copy_open_rx,
	.get_buf = copy_get_buf,
	.send = copy_send,
	.recv = copy_recv,
	.release = copy_release,
	.close = close_ep,
	.teardown = teardown,
};

const struct transport bench_dipc_xfer = {
	.name = "dipc-xfer",
	.about = "libdragonipc channel, pool allocation handed over (transfer of ownership)",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = setup_xfer,
	.open_tx = xfer_open_tx,
	.open_rx = xfer_open_rx,
	.get_buf = xfer_get_buf,
	.send = xfer_send,
	.recv = xfer_recv,
	.release = xfer_release,
	.close = close_ep,
	.teardown = teardown,
};

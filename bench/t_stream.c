/*
 * t_stream.c - libdragonipc byte streams (dipc_stream_*), framed like
 * pipes: the writer writes the header (length first) and the payload with
 * one dipc_stream_write; the reader reads the length word and then the
 * rest into its buffer.  Spinning waits retry DIPC_TRY_ONCE reads; the default
 * uses blocking reads, which spin briefly and then sleep.  Streams have no
 * purely sleeping wait, so no sleeping-wait figures; and one writer, so no
 * fan-in.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dragonipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stream_shared {
	char name[2][64];
	size_t ring;
};

struct bench_ep {
	dipc_stream *s;
	bool spin;
	unsigned char *mem;
	unsigned char *buf;     /* header (length first) + payload */
	size_t cap, hl;
};

static int ssetup(const struct bench_cfg *cfg, void **out)
{
	struct stream_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	for (int l = 0; l < cfg->nlinks; l++)
		snprintf(s->name[l], sizeof(s->name[l]), "bench-%s-%d", cfg->tag, l);
	/* Room for about 4 MiB in flight, as the channels have. */
	size_t ring = 64 * (cfg->size + bench_frame_hdr(cfg->size));
	s->ring = ring < (64u << 10) ? 64u << 10 : ring > (4u << 20) ? 4u << 20 : ring;
	*out = s;
	return 0;
}

static int sopen(const struct bench_cfg *cfg, struct stream_shared *sh, int link, int role,
		 struct bench_ep **out)
{
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->spin = cfg->wait == WAIT_SPIN;
	ep->hl = bench_frame_hdr(cfg->size);
	ep->cap = ep->hl + cfg->size;
	ep->mem = bench_alloc(64 + ep->cap);
	if (!ep->mem)
		return -1;
	ep->buf = ep->mem + 64 - ep->hl;    /* the payload on a cache line */
	int rc = dipc_stream_open(sh->name[link], role, sh->ring, 0, &ep->s);
	if (rc) {
		fprintf(stderr, "bench: dipc_stream_open: %s\n", dipc_strerror(rc));
		return rc;
	}
	*out = ep;
	return 0;
}

static int sopen_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)i;
	return sopen(c, s, l, DIPC_STREAM_WRITE, e);
}

static int sopen_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return sopen(c, s, l, DIPC_STREAM_READ, e);
}

static void *sget_buf(struct bench_ep *ep, size_t len)
{
	return ep->hl + len <= ep->cap ? ep->buf + ep->hl : NULL;
}

static int ssend(struct bench_ep *ep, size_t len)
{
	uint64_t n = len;
	memcpy(ep->buf, &n, 8);
	int64_t w = dipc_stream_write(ep->s, ep->buf, ep->hl + len, DIPC_WAIT_FOREVER);
	if (w < 0)
		return (int)w;
	return (size_t)w == ep->hl + len ? 0 : -1;
}

/* Exactly n bytes into p. */
static int sread(struct bench_ep *ep, unsigned char *p, size_t n)
{
	while (n) {
		int64_t r = dipc_stream_read(ep->s, p, n, ep->spin ? DIPC_TRY_ONCE : DIPC_WAIT_FOREVER);
		if (r < 0)
			return (int)r;
		if (r == 0)
			bench_relax();
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int srecv(struct bench_ep *ep, const void **data, size_t *len)
{
	uint64_t n;
	int rc = sread(ep, ep->buf, 8);
	if (rc)
		return rc;
	memcpy(&n, ep->buf, 8);
	size_t hl = bench_frame_hdr((size_t)n);
	if (n > ep->cap - ep->hl || hl != ep->hl)
		return -1;
	/* The rest of the header, then the payload. */
	rc = sread(ep, ep->buf + 8, hl - 8 + (size_t)n);
	if (rc)
		return rc;
	*data = ep->buf + hl;
	*len = (size_t)n;
	return 0;
}

static void srelease(struct bench_ep *ep)
{
	(void)ep;
}

static void sclose(struct bench_ep *ep)
{
	dipc_stream_close(ep->s);
	free(ep->mem);
	free(ep);
}

static void steardown(const struct bench_cfg *cfg, void *shared)
{
	struct stream_shared *s = shared;
	for (int l = 0; l < cfg->nlinks; l++)
		dipc_stream_unlink(s->name[l]);
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_dipc_stream = {
	.name = "dipc-stream",
	.about = "libdragonipc byte stream, length-framed (dipc_stream_write/read)",
	.caps = CAP_LAT | CAP_THR | CAP_SPIN,
	.setup = ssetup,
	.open_tx = sopen_tx,
	.open_rx = sopen_rx,
	.get_buf = sget_buf,
	.send = ssend,
	.recv = srecv,
	.release = srelease,
	.close = sclose,
	.teardown = steardown,
};

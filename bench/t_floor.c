/*
 * t_floor.c - the floors: what the hardware and the kernel allow at best.
 *
 *   floor-line  one 64-byte cache line per direction; the receiver spins on
 *               the line until its first word changes.  A message is one line
 *               moving between the two cores: nothing can do better.
 *   floor       a minimal single-producer single-consumer ring in shared
 *               memory, written and read in place (no copy), head and tail on
 *               their own cache lines with cached copies of the other side's.
 *               Spinning waits spin; sleeping waits sleep on a futex the other
 *               side wakes only when someone sleeps (the raw futex ping-pong
 *               of the sleeping-wait target); the default spins a little and
 *               then sleeps.
 *   floor-copy  the same ring doing what a copying channel does to the
 *               bytes: the sender's message is copied from its own buffer
 *               into the slot, and out of the slot into the receiver's own
 *               buffer, which is released at once.  Beside dipc-copy it
 *               shows what the protocol costs over the copies themselves.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LINE 64

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- floor-line --------------------------------------------------------------- */

struct line_shared {
	/* Two lines per direction apart, so the adjacent-line prefetcher
	 * does not couple them. */
	_Alignas(LINE) unsigned char line[2][4 * LINE];
};

struct bench_ep {
	/* floor-line */
	unsigned char *line;
	uint64_t last;
	/* floor ring */
	struct ring *r;
	enum bench_wait wait;
	uint32_t pos;           /* our index: tail (producer) or head (consumer) */
	uint32_t other;         /* cached copy of the other side's index */
	unsigned char *own;     /* floor-copy: this side's private buffer */
};

/* A line carries no length: every message has the test's size. */
static size_t line_size;

static int line_setup(const struct bench_cfg *cfg, void **out)
{
	line_size = cfg->size;
	struct line_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	for (int l = 0; l < 2; l++)
		memset(s->line[l], 0xff, 8);
	*out = s;
	return 0;
}

static int line_open(void *shared, int link, struct bench_ep **out)
{
	struct line_shared *s = shared;
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->line = s->line[link];
	ep->last = ~0ull;
	*out = ep;
	return 0;
}

static int line_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)c;
	(void)i;
	return line_open(s, l, e);
}

static int line_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	(void)c;
	return line_open(s, l, e);
}

static void *line_get_buf(struct bench_ep *ep, size_t len)
{
	return len <= LINE ? ep->line : NULL;
}

/* The harness stores the first word last, with release order: that store
 * is the send. */
static int line_send(struct bench_ep *ep, size_t len)
{
	(void)ep;
	(void)len;
	return 0;
}

static int line_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	uint64_t v;
	while ((v = __atomic_load_n((uint64_t *)(void *)ep->line, __ATOMIC_ACQUIRE)) == ep->last)
		bench_relax();
	ep->last = v;
	*data = ep->line;
	*len = line_size;
	return 0;
}

static void line_release(struct bench_ep *ep)
{
	(void)ep;
}

static void free_ep(struct bench_ep *ep)
{
	free(ep);
}

static void line_teardown(const struct bench_cfg *cfg, void *shared)
{
	(void)cfg;
	bench_shared_free(shared, sizeof(struct line_shared));
}

const struct transport bench_floor_line = {
	.name = "floor-line",
	.about = "one cache line per direction, spinning (latency floor, <= 64 B)",
	.caps = CAP_LAT | CAP_SPIN,
	.max_size = LINE,
	.setup = line_setup,
	.open_tx = line_open_tx,
	.open_rx = line_open_rx,
	.get_buf = line_get_buf,
	.send = line_send,
	.recv = line_recv,
	.release = line_release,
	.close = free_ep,
	.teardown = line_teardown,
};

/* ---- floor: a minimal SPSC ring ----------------------------------------------- */

#define ADAPTIVE_SPINS 4000

struct ring {
	_Alignas(LINE) _Atomic uint32_t tail;   /* producer's; futex word for the consumer */
	_Atomic uint32_t rx_sleeping;
	_Alignas(LINE) _Atomic uint32_t head;   /* consumer's; futex word for the producer */
	_Atomic uint32_t tx_sleeping;
	_Alignas(LINE) uint32_t nslots;         /* a power of two */
	uint32_t slot_size;
	uint64_t data_off;
	size_t bytes;
};

static unsigned char *slot(struct ring *r, uint32_t pos)
{
	return (unsigned char *)r + r->data_off + (size_t)(pos & (r->nslots - 1)) * r->slot_size;
}

struct ring_shared {
	struct ring *r[2];
};

static int ring_setup(const struct bench_cfg *cfg, void **out)
{
	struct ring_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	uint32_t n = 4;
	if (cfg->test != TEST_LAT) {
		size_t c = (4u << 20) / cfg->size;
		while (n * 2 <= c && n < 64)
			n *= 2;
	}
	size_t slot_size = (cfg->size + LINE - 1) / LINE * LINE;
	for (int l = 0; l < cfg->nlinks; l++) {
		size_t bytes = 4096 + n * slot_size;
		struct ring *r = bench_shared_alloc(bytes);
		if (!r)
			return -1;
		r->nslots = n;
		r->slot_size = (uint32_t)slot_size;
		r->data_off = 4096;
		r->bytes = bytes;
		s->r[l] = r;
	}
	*out = s;
	return 0;
}

static int ring_open(const struct bench_cfg *cfg, void *shared, int link, struct bench_ep **out)
{
	struct ring_shared *s = shared;
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->r = s->r[link];
	ep->wait = cfg->wait;
	*out = ep;
	return 0;
}

static int ring_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)i;
	return ring_open(c, s, l, e);
}

static int ring_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return ring_open(c, s, l, e);
}

/* Wait until ready(ep) holds: spin, sleep on word, or spin then sleep. */
static void ring_wait(struct bench_ep *ep, _Atomic uint32_t *word, _Atomic uint32_t *sleeping,
		      bool (*ready)(struct bench_ep *))
{
	unsigned spins = 0;
	while (!ready(ep)) {
		if (ep->wait == WAIT_SPIN || (ep->wait == WAIT_DEFAULT && spins < ADAPTIVE_SPINS)) {
			spins++;
			bench_relax();
			continue;
		}
		uint32_t v = atomic_load_explicit(word, memory_order_acquire);
		atomic_store_explicit(sleeping, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		if (!ready(ep))
			futex_wait(word, v);
		atomic_store_explicit(sleeping, 0, memory_order_relaxed);
	}
}

static bool has_room(struct bench_ep *ep)
{
	if (ep->pos - ep->other < ep->r->nslots)
		return true;
	ep->other = atomic_load_explicit(&ep->r->head, memory_order_acquire);
	return ep->pos - ep->other < ep->r->nslots;
}

static bool has_data(struct bench_ep *ep)
{
	if (ep->other != ep->pos)
		return true;
	ep->other = atomic_load_explicit(&ep->r->tail, memory_order_acquire);
	return ep->other != ep->pos;
}

static void *ring_get_buf(struct bench_ep *ep, size_t len)
{
	if (len > ep->r->slot_size)
		return NULL;
	ring_wait(ep, &ep->r->head, &ep->r->tx_sleeping, has_room);
	return slot(ep->r, ep->pos);
}

static void ring_post(_Atomic uint32_t *word, uint32_t v, _Atomic uint32_t *sleeping)
{
	atomic_store_explicit(word, v, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(sleeping, memory_order_relaxed))
		futex_wake(word);
}

static int ring_send(struct bench_ep *ep, size_t len)
{
	/* The slot's size is fixed; the length is the test's. */
	(void)len;
	ep->pos++;
	ring_post(&ep->r->tail, ep->pos, &ep->r->rx_sleeping);
	return 0;
}

static size_t ring_msg_size;

static int ring_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	ring_wait(ep, &ep->r->tail, &ep->r->rx_sleeping, has_data);
	*data = slot(ep->r, ep->pos);
	*len = ring_msg_size;
	return 0;
}

static void ring_release(struct bench_ep *ep)
{
	ep->pos++;
	ring_post(&ep->r->head, ep->pos, &ep->r->tx_sleeping);
}

static int ring_setup_sized(const struct bench_cfg *cfg, void **out)
{
	ring_msg_size = cfg->size;
	return ring_setup(cfg, out);
}

static void ring_teardown(const struct bench_cfg *cfg, void *shared)
{
	struct ring_shared *s = shared;
	for (int l = 0; l < cfg->nlinks; l++)
		if (s->r[l])
			bench_shared_free(s->r[l], s->r[l]->bytes);
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_floor_ring = {
	.name = "floor",
	.about = "minimal SPSC shared-memory ring, in place; sleeping waits are a raw futex",
	.caps = CAP_LAT | CAP_THR | CAP_SPIN | CAP_SLEEP,
	.setup = ring_setup_sized,
	.open_tx = ring_open_tx,
	.open_rx = ring_open_rx,
	.get_buf = ring_get_buf,
	.send = ring_send,
	.recv = ring_recv,
	.release = ring_release,
	.close = free_ep,
	.teardown = ring_teardown,
};

/* ---- floor-copy: the ring, copying in and out ------------------------------------ */

static int copy_open(const struct bench_cfg *cfg, void *shared, int link, struct bench_ep **out)
{
	int rc = ring_open(cfg, shared, link, out);
	if (rc)
		return rc;
	/* Cache-line aligned, as every transport's buffers are (harness.c). */
	size_t room = (cfg->size + LINE - 1) / LINE * LINE;
	(*out)->own = aligned_alloc(LINE, room ? room : LINE);
	if (!(*out)->own) {
		free(*out);
		return -1;
	}
	return 0;
}

static int copy_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)i;
	return copy_open(c, s, l, e);
}

static int copy_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return copy_open(c, s, l, e);
}

static void *copy_get_buf(struct bench_ep *ep, size_t len)
{
	return len <= ep->r->slot_size ? ep->own : NULL;
}

static int copy_send(struct bench_ep *ep, size_t len)
{
	ring_wait(ep, &ep->r->head, &ep->r->tx_sleeping, has_room);
	memcpy(slot(ep->r, ep->pos), ep->own, len);
	ep->pos++;
	ring_post(&ep->r->tail, ep->pos, &ep->r->rx_sleeping);
	return 0;
}

static int copy_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	ring_wait(ep, &ep->r->tail, &ep->r->rx_sleeping, has_data);
	memcpy(ep->own, slot(ep->r, ep->pos), ring_msg_size);
	ep->pos++;
	ring_post(&ep->r->head, ep->pos, &ep->r->tx_sleeping);
	*data = ep->own;
	*len = ring_msg_size;
	return 0;
}

static void copy_release(struct bench_ep *ep)
{
	(void)ep;
}

static void copy_close(struct bench_ep *ep)
{
	free(ep->own);
	free(ep);
}

const struct transport bench_floor_copy = {
	.name = "floor-copy",
	.about = "the floor ring, copying each message in and out as a copying channel does",
	.caps = CAP_LAT | CAP_THR | CAP_SPIN | CAP_SLEEP,
	.setup = ring_setup_sized,
	.open_tx = copy_open_tx,
	.open_rx = copy_open_rx,
	.get_buf = copy_get_buf,
	.send = copy_send,
	.recv = copy_recv,
	.release = copy_release,
	.close = copy_close,
	.teardown = ring_teardown,
};

/*
 * t_iox.c - iceoryx publish/subscribe through its C binding (zero copy).
 *
 * Each link is a topic ("bench", run tag, "linkN"); fan-in is native (many
 * publishers, one subscriber).  The sender loans a chunk, writes it and
 * publishes it; the receiver takes the chunk, reads it in place and
 * releases it.  Nothing may be lost: the subscriber's queue blocks the
 * producer when full (QueueFullPolicy_BLOCK_PRODUCER with
 * ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER).  Spinning waits retry
 * iox_sub_take_chunk; the other modes wait on a WaitSet.
 *
 * Needs iceoryx's RouDi daemon (iox-roudi) running with mempools for the
 * sizes asked (bench/roudi.toml); run.py starts it.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/notification_info.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

/* iceoryx's own limit on a subscriber's queue. */
#define IOX_QUEUE_MAX 256

struct iox_shared {
	char instance[64];
};

struct bench_ep {
	iox_pub_storage_t pst;
	iox_sub_storage_t sst;
	iox_ws_storage_t wst;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	bool spin;
	size_t size;
	void *chunk;
	const void *rchunk;
};

static int open_eps;

static void runtime_up(void)
{
	static bool up;
	if (up)
		return;
	char name[64];
	snprintf(name, sizeof(name), "bench-%ld", (long)getpid());
	iox_runtime_init(name);
	up = true;
}

static int isetup(const struct bench_cfg *cfg, void **out)
{
	/* Without RouDi the runtime would wait for it: skip instead. */
	if (access("/tmp/roudi", F_OK) != 0) {
		fprintf(stderr, "bench: iceoryx's RouDi is not running (iox-roudi)\n");
		return BENCH_SKIP;
	}
	struct iox_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	snprintf(s->instance, sizeof(s->instance), "%s", cfg->tag);
	*out = s;
	return 0;
}

static uint64_t depth(const struct bench_cfg *cfg)
{
	if (cfg->test == TEST_LAT)
		return 4;
	uint64_t c = (4u << 20) / cfg->size;
	return c < 4 ? 4 : c > 64 ? 64 : c;
}

static int iopen_tx(const struct bench_cfg *cfg, void *shared, int link, int idx,
		    struct bench_ep **out)
{
	(void)idx;
	struct iox_shared *s = shared;
	runtime_up();
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	char ev[16];
	snprintf(ev, sizeof(ev), "link%d", link);
	iox_pub_options_t o;
	iox_pub_options_init(&o);
	o.historyCapacity = 0;
	o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	ep->pub = iox_pub_init(&ep->pst, "bench", s->instance, ev, &o);
	ep->size = cfg->size;
	/* A RouDi without a mempool this large cannot run the case. */
	void *probe;
	enum iox_AllocationResult ar = iox_pub_loan_chunk(ep->pub, &probe, (uint32_t)cfg->size);
	if (ar != AllocationResult_SUCCESS) {
		fprintf(stderr, "bench: iceoryx has no chunk of %zu bytes (error %d; see "
			"bench/roudi.toml)\n", cfg->size, (int)ar);
		return BENCH_SKIP;
	}
	iox_pub_release_chunk(ep->pub, probe);
	/* Matching goes through RouDi: wait until the subscriber is there. */
	double t0 = bench_now();
	while (!iox_pub_has_subscribers(ep->pub)) {
		if (bench_now() - t0 > 10) {
			fprintf(stderr, "bench: iceoryx publisher found no subscriber\n");
			return -1;
		}
		usleep(1000);
	}
	open_eps++;
	*out = ep;
	return 0;
}

static int iopen_rx(const struct bench_cfg *cfg, void *shared, int link, struct bench_ep **out)
{
	struct iox_shared *s = shared;
	runtime_up();
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	char ev[16];
	snprintf(ev, sizeof(ev), "link%d", link);
	iox_sub_options_t o;
	iox_sub_options_init(&o);
	o.queueCapacity = depth(cfg) < IOX_QUEUE_MAX ? depth(cfg) : IOX_QUEUE_MAX;
	o.historyRequest = 0;
	o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	ep->sub = iox_sub_init(&ep->sst, "bench", s->instance, ev, &o);
	ep->size = cfg->size;
	ep->spin = cfg->wait == WAIT_SPIN;
	if (!ep->spin) {
		ep->ws = iox_ws_init(&ep->wst);
		if (iox_ws_attach_subscriber_state(ep->ws, ep->sub, SubscriberState_HAS_DATA, 0, NULL)
		    != WaitSetResult_SUCCESS)
			return -1;
	}
	open_eps++;
	*out = ep;
	return 0;
}

static void *iget_buf(struct bench_ep *ep, size_t len)
{
	for (;;) {
		enum iox_AllocationResult r = iox_pub_loan_chunk(ep->pub, &ep->chunk, (uint32_t)len);
		if (r == AllocationResult_SUCCESS)
			return ep->chunk;
		if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS) {
			fprintf(stderr, "bench: iox_pub_loan_chunk(%zu): error %d (no mempool that "
				"large? see bench/roudi.toml)\n", len, (int)r);
			return NULL;
		}
		/* The consumer still holds them all: it gives them back. */
		bench_relax();
	}
}

static int isend(struct bench_ep *ep, size_t len)
{
	(void)len;
	iox_pub_publish_chunk(ep->pub, ep->chunk);
	ep->chunk = NULL;
	return 0;
}

static int irecv(struct bench_ep *ep, const void **data, size_t *len)
{
	for (;;) {
		enum iox_ChunkReceiveResult r = iox_sub_take_chunk(ep->sub, &ep->rchunk);
		if (r == ChunkReceiveResult_SUCCESS)
			break;
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			return -(int)r - 1;
		if (ep->spin) {
			bench_relax();
			continue;
		}
		iox_notification_info_t info[1];
		uint64_t missed = 0;
		iox_ws_wait(ep->ws, info, 1, &missed);
	}
	*data = ep->rchunk;
	/* The binding does not give the payload size back; every message of
	 * a run has the run's size. */
	*len = ep->size;
	return 0;
}

static void irelease(struct bench_ep *ep)
{
	iox_sub_release_chunk(ep->sub, ep->rchunk);
	ep->rchunk = NULL;
}

static void iclose(struct bench_ep *ep)
{
	if (ep->ws) {
		iox_ws_detach_subscriber_state(ep->ws, ep->sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(ep->ws);
	}
	if (ep->sub)
		iox_sub_deinit(ep->sub);
	if (ep->pub)
		iox_pub_deinit(ep->pub);
	free(ep);
	if (--open_eps == 0)
		iox_runtime_shutdown();
}

static void iteardown(const struct bench_cfg *cfg, void *shared)
{
	(void)cfg;
	bench_shared_free(shared, sizeof(struct iox_shared));
}

const struct transport bench_iox = {
	.name = "iox",
	.about = "iceoryx publish/subscribe (C binding), loaned chunks, WaitSet or polling",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = isetup,
	.open_tx = iopen_tx,
	.open_rx = iopen_rx,
	.get_buf = iget_buf,
	.send = isend,
	.recv = irecv,
	.release = irelease,
	.close = iclose,
	.teardown = iteardown,
};

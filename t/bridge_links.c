/*
 * bridge_links.c - dipc-bridge's transport: an inbound link number names
 * one peer, never the one that took its slot afterwards.
 *
 * The engine keeps a fixed table of inbound peers (by ZeroMQ routing id)
 * and gives the least recently used slot to a newcomer when the table is
 * full.  A request's answer goes back on the link number the request
 * came in on; if that number still named the slot after a newcomer took
 * it, the answer would reach the newcomer.  Here: one peer talks first,
 * then more peers than the table holds, so the first one's slot is given
 * away; an answer on the first link number must be refused, and an answer
 * on the newcomer's number must reach the newcomer and nobody else.
 *
 * Needs only loopback TCP (no namespaces, no root).
 */
#include "../bridge/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int failures, n;

static void check(int good, const char *what)
{
	n++;
	printf("%s %d - %s\n", good ? "ok" : "not ok", n, what);
	if (!good)
		failures++;
}

struct seen {
	uint32_t last;
	int count;
};

static void on_msg(void *arg, uint32_t conn, const void *hdr, size_t hlen, const void *pl,
		   size_t plen)
{
	(void)hdr;
	(void)hlen;
	(void)pl;
	(void)plen;
	struct seen *s = arg;
	s->last = conn;
	s->count++;
}

/* A peer: a DEALER with its own routing id; says one short message. */
static void *peer(void *ctx, const char *ep, int k)
{
	void *d = zmq_socket(ctx, ZMQ_DEALER);
	char id[32];
	int len = snprintf(id, sizeof(id), "peer-%d", k);
	int zero = 0;
	zmq_setsockopt(d, ZMQ_ROUTING_ID, id, (size_t)len);
	zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(d, ep))
		return NULL;
	zmq_send(d, "h", 1, ZMQ_SNDMORE);
	zmq_send(d, "", 0, 0);
	return d;
}

/* Run the engine until one more message has arrived (or 5 s). */
static int next(struct tp_engine *e, struct seen *s)
{
	int before = s->count;
	for (int i = 0; i < 500 && s->count == before; i++)
		if (tp_run(e, NULL, 0, 10, on_msg, s) < 0)
			return -1;
	return s->count > before ? 0 : -1;
}

static int got_answer(void *d)
{
	char buf[16];
	for (int i = 0; i < 200; i++) {
		int r = zmq_recv(d, buf, sizeof(buf), ZMQ_DONTWAIT);
		if (r >= 0)
			return 1;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	enum { TABLE = 1024 };   /* MAX_IN of transport_zmq.c */
	struct tp_config cfg = { .allow_plain = 1, .max_msg = 1 << 20 };
	struct tp_engine *e;
	if (tp_open(&cfg, &e)) {
		printf("1..0 # SKIP no ZeroMQ engine\n");
		return 0;
	}
	char ep[64];
	int port = 0;
	for (int p = 17900; p < 17999 && !port; p++) {
		snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", p);
		if (tp_listen(e, ep) == 0)
			port = p;
	}
	if (!port) {
		printf("1..0 # SKIP no free loopback port\n");
		return 0;
	}
	printf("1..4\n");
	void *ctx = zmq_ctx_new();
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 4 * TABLE);   /* the default is 1023 */
	struct seen s = { 0, 0 };
	void *first = peer(ctx, ep, 0);
	int ok = first && next(e, &s) == 0;
	uint32_t first_conn = s.last;
	check(ok, "the first peer is heard");

	/* More peers than the table holds: the first one's slot goes. */
	void **others = calloc(TABLE + 1, sizeof(*others));
	int heard = 0;
	for (int k = 1; k <= TABLE && others; k++) {
		others[k] = peer(ctx, ep, k);
		if (others[k] && next(e, &s) == 0)
			heard++;
	}
	uint32_t last_conn = s.last;
	if (heard != TABLE)
		printf("# %d of %d newcomers heard\n", heard, TABLE);
	check(heard == TABLE, "as many newcomers as the table holds are heard");

	/* An answer on the first link number: refused, nobody gets it. */
	int rc = tp_send(e, first_conn, "a", 1, NULL, 0);
	for (int i = 0; i < 20; i++)
		tp_run(e, NULL, 0, 5, on_msg, &s);
	int stray = 0;
	for (int k = 1; k <= TABLE && others; k++) {
		char buf[8];
		if (others[k] && zmq_recv(others[k], buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			stray++;
	}
	check(rc == -1 && stray == 0,
	      "an answer on a link number whose slot was given away is refused, reaching no newcomer");

	/* The newest link number still works, for its own peer. */
	rc = tp_send(e, last_conn, "b", 1, NULL, 0);
	for (int i = 0; i < 20; i++)
		tp_run(e, NULL, 0, 5, on_msg, &s);
	check(rc == 0 && got_answer(others[TABLE]), "the newcomer's own link number reaches it");

	for (int k = 1; k <= TABLE && others; k++)
		if (others[k])
			zmq_close(others[k]);
	free(others);
	if (first)
		zmq_close(first);
	tp_close(e);
	zmq_ctx_term(ctx);
	return failures ? 1 : 0;
}

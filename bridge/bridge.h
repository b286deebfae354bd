/*
 * bridge.h - what the parts of dipc-bridge share.
 *
 * Threads: the network thread owns the transport and every table here,
 * and takes requests off the gateway channel when the gateway's bell
 * rings (gateway.c rule 9); workers (owner.c) wait on channels for
 * remote callers, and without a bell a gateway reader waits on the
 * gateway channel.  Those hand their results to the network thread
 * through the queue (q_push), which wakes it through an eventfd it polls
 * with the transport and the bell.
 */
#ifndef DIPC_BRIDGE_H
#define DIPC_BRIDGE_H

#include "config.h"
#include <dragonipc.h>
#include "gateway.h"
#include "transport.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* ---- the queue into the network thread --------------------------------------- */

enum item_kind { IT_REQUEST, IT_RESULT };
struct item {
	struct item *next;
	enum item_kind kind;
	struct gw_req req;          /* IT_REQUEST: from the gateway */
	int reject;                 /* nonzero: refused (gateway.c rule 7), answer this */
	unsigned char desc[DIPC_SERIAL_MAX];
	unsigned char reply[DIPC_SERIAL_MAX];
	dipc_msg *msg;              /* holds the request's bytes */
	const unsigned char *payload;
	size_t plen;
	struct wire res;            /* IT_RESULT: an owner answer */
	uint32_t conn;
	void *data;                 /* its payload (malloc'd), or */
	dipc_mem *mem;              /* a held message's memory */
	size_t dlen;
	struct held *held;
};
void q_push(struct item *it);
struct item *q_take_all(void);
int q_fd(void);

/* ---- the whole bridge ----------------------------------------------------------- */

struct bridge {
	struct tp_engine *tp;
	uint64_t host, incarnation;
	char gateway[DIPC_NAME_MAX + 1];
	size_t gateway_size;
	dipc_pool *gwpool;
	dipc_pool *oldgwpool;       /* the last run's gateway, while read */
	dipc_channel *reqch;
	size_t max_msg;             /* the largest payload carried (--max-message) */
	int64_t peer_timeout_ns;
	atomic_bool stop;
	bool verbose;
};
extern struct bridge B;

uint64_t now_ns(void);
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t hash64(const void *p, size_t n);

/* gateway.c: the local side. */
int gw_start(void);
void gw_stop(void);
void gw_request(struct item *it);                /* from the queue */
void gw_reply(uint32_t conn, const struct wire *w, const void *payload, size_t plen);   /* from a peer */
void gw_have(uint32_t conn, const struct wire *w);      /* from a peer */
void gw_peer_up(uint32_t conn, uint64_t host, uint64_t incarnation);
void gw_tick(void);
int gw_bell_fd(void);                            /* -1: no bell */
bool gw_pull(bool rung);                         /* true: more wait */
int gw_add_peer(const char *endpoint, const char *key);

/* owner.c: the owning side. */
int own_start(void);
void own_request(uint32_t conn, const struct wire *w, const void *payload, size_t plen);
void own_result(struct item *it);               /* from the queue */
void own_tick(void);
void own_stop(void);

/* state.c: what the owning side keeps across its own death. */
#include "state.h"

#endif

/*
 * transport.h - what dipc-bridge needs of a network engine.
 *
 * The rest of the bridge speaks in two-part messages (a header of at
 * most TP_HDR_MAX bytes and a payload of any size) to numbered
 * connections, and nothing else: no sockets, no ZeroMQ types.  An engine
 * (transport_zmq.c today; an RDMA one over UCX or libfabric could be
 * another) provides:
 *
 *   - authenticated, encrypted, ordered, reliable-while-connected links
 *     to peers it dials (tp_connect) and from peers that dial it
 *     (tp_listen); a link may drop at any time, and what was in flight
 *     may be lost: the bridge resends, the owner deduplicates;
 *   - a wait for the next message on any link, which also returns when a
 *     given file descriptor becomes readable (the bridge's own queue
 *     from its other threads);
 *   - messages sent or received by one thread only (the network thread).
 *
 * Connection numbers: peers dialled get TP_OUT | n, links dialled by
 * others TP_IN | a number of their own (an answer goes back on the link a
 * request came in on; a number whose peer has since been replaced is
 * refused by tp_send, so an answer never reaches another peer).  Peer authentication is by public key: the engine admits only
 * keys in its authorised list, unless it was opened with allow_plain.
 */
#ifndef DIPC_BRIDGE_TRANSPORT_H
#define DIPC_BRIDGE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#define TP_HDR_MAX 512
#define TP_KEY_TEXT 41          /* a key as 40 characters of Z85 and a NUL */
#define TP_OUT 0x40000000u
#define TP_IN  0x80000000u

struct tp_config {
	char public_key[TP_KEY_TEXT];   /* this bridge's keys (empty: none) */
	char secret_key[TP_KEY_TEXT];
	const char (*authorized)[TP_KEY_TEXT];  /* keys admitted */
	size_t nauthorized;
	int allow_plain;                /* no keys: plain TCP, no authentication */
	size_t max_msg;                 /* largest payload accepted */
};

struct tp_engine;

/* Called for each message that arrives: conn says on which link. */
typedef void (*tp_on_msg)(void *arg, uint32_t conn, const void *hdr, size_t hlen,
			  const void *payload, size_t plen);

int tp_open(const struct tp_config *cfg, struct tp_engine **e);
void tp_close(struct tp_engine *e);
/* Accept links at endpoint (engine syntax, for ZeroMQ "tcp://ADDR:PORT"). */
int tp_listen(struct tp_engine *e, const char *endpoint);
/* Dial a peer whose public key is server_key (ignored with allow_plain):
 * the link is made and remade in the background; *conn names it. */
int tp_connect(struct tp_engine *e, const char *endpoint, const char *server_key,
	       uint32_t *conn);
/* Queue a message; 0, or -1 if the link cannot take it now (the bridge
 * sends again later). */
int tp_send(struct tp_engine *e, uint32_t conn, const void *hdr, size_t hlen,
	    const void *payload, size_t plen);
/* Wait up to timeout_ms for messages (and for one of the nwake file
 * descriptors wake_fds, at most TP_WAKE_MAX, to be readable), calling fn
 * for each message that arrived.  Returns the readable ones as a mask
 * (bit i: wake_fds[i]), 0 if none, -1 on failure. */
#define TP_WAKE_MAX 4
int tp_run(struct tp_engine *e, const int *wake_fds, unsigned nwake, int timeout_ms,
	   tp_on_msg fn, void *arg);
/* The last failure, as text. */
const char *tp_error(struct tp_engine *e);

/* Make a key pair as text (40 characters of Z85 each). */
int tp_keypair(char public_key[TP_KEY_TEXT], char secret_key[TP_KEY_TEXT]);
/* Is text a well-formed key? */
int tp_key_ok(const char *text);

#endif

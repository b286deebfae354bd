/*
 * wire.h - what crosses between bridges, and the check of what a process
 * posts to its gateway: the parsers that read an outsider's bytes, kept
 * apart from the rest of dipc-bridge so that they can be fuzzed alone
 * (fuzz/bridge_wire.c).
 *
 * Everything on the wire is little-endian at fixed offsets: W_FIXED bytes
 * of header, then desc_len bytes of channel descriptor.  A decoder takes
 * nothing on trust: a message that fails any check is refused whole.
 */
#ifndef DIPC_BRIDGE_WIRE_H
#define DIPC_BRIDGE_WIRE_H

#include <dragonipc.h>
#include "gateway.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the wire between bridges ------------------------------------------------ */

#define W_MAGIC   0x31574244u   /* "DBW1" */
#define W_VERSION 1u
enum { W_HELLO = 1, W_HELLO_ACK, W_PING, W_PONG, W_REQ, W_REP, W_HAVE };
/* W_HAVE (owner to gateway): value 1, "I have request id and am doing
 * it"; 0, "I do not have it, send it whole".  W_PROBE in a W_REQ of
 * GW_SEND's arg: the request again without its payload, to keep it alive
 * and learn its fate; never done by the owner (gateway.c rule 10). */
#define W_PROBE 1u

struct wire {
	uint16_t kind;
	uint16_t op;            /* enum gw_op */
	int32_t rc;
	uint64_t host;          /* the sender's host id */
	uint64_t incarnation;   /* the sender's start */
	uint32_t pid;           /* the calling process */
	uint64_t client, id, low;
	int64_t timeout;
	uint64_t arg, value, value2;
	uint16_t desc_len;
	unsigned char desc[DIPC_SERIAL_MAX];
};
#define W_FIXED 96
/* Write w's header and descriptor to out (W_FIXED + desc_len bytes,
 * desc_len at most DIPC_SERIAL_MAX); returns the length written. */
size_t wire_encode(const struct wire *w, unsigned char *out);
/* Read len bytes from buf into w: 0, or -1 if they are not one whole,
 * well-formed message of this version (then w says nothing). */
int wire_decode(const void *buf, size_t len, struct wire *w);

/* Check a request of n bytes a process posted to the gateway (q: its
 * first sizeof(*q) bytes, read once into private memory; the descriptor,
 * the reply channel and the payload follow in the n bytes): 0 if it may
 * be forwarded, DIPC_EINVAL if malformed, DIPC_EMSGSIZE if its payload
 * exceeds max_msg.  *answerable says whether its reply channel can be
 * read from it, so that a refusal can be answered. */
int gw_req_check(const struct gw_req *q, size_t n, size_t max_msg, bool *answerable);

/* A little-endian 64-bit word at p. */
uint64_t wire_get64(const unsigned char *p);

#endif

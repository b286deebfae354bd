/*
 * gateway.h - how the library and dipc-bridge talk on one host.
 *
 * A bridge running for a user makes the gateway: a pool named
 * "dipc-gw-<uid>" (or $DIPC_GATEWAY), holding the request channel
 * (cuid GW_REQ_CUID) that every process of that user sends its requests
 * to.  Each process answers itself on reply channels it makes in the same
 * pool, one per call in progress (cuid GW_REPLY_CUID(pid, n)); the
 * request names the reply channel.  The pool outlives the bridge process,
 * so a bridge that is killed and started again finds the requests that
 * waited for it, and the callers waiting on their reply channels are
 * answered by the new one.
 *
 * Every request carries an id that the calling process never uses twice
 * (client key, id): a caller that sees its bridge die sends the same
 * request again, and the bridge that owns the channel keeps what it did
 * for each id (bridge/state.c), so a request that arrives twice is done
 * once.  "low" says that every id below it is settled in the caller: the
 * owning bridge may forget them.
 *
 * Both structures are in the host's byte order (they never leave the
 * host) and are read by the receiver into private memory and checked
 * before use, as everything from shared memory is.
 */
#ifndef DIPC_GATEWAY_H
#define DIPC_GATEWAY_H

#include <stdint.h>

#define GW_NAME_PREFIX "dipc-gw-"
#define GW_ENV         "DIPC_GATEWAY"
/* The gateway's doorbell (platform.h): a datagram socket the bridge
 * binds, named after the gateway; a process rings it after each request
 * it posts, and the bridge's network thread, which polls it with the
 * network, takes the requests itself.  Where there is none (another
 * system, a name too long, a squatter on the path), a thread of the
 * bridge waits on the request channel instead. */
#define GW_BELL_FMT    "/dev/shm/dipc.b.%s"

#define GW_REQ_CUID    UINT64_C(1)
/* Reply channels: "RP" in the top bits, the caller's pid, a number. */
#define GW_REPLY_TAG   UINT64_C(0x5250000000000000)
#define GW_REPLY_CUID(pid, n) (GW_REPLY_TAG | ((uint64_t)(uint32_t)(pid) << 16) | ((n) & 0xffffu))
#define GW_REPLY_PID(cuid)    ((uint32_t)((cuid) >> 16))
#define GW_IS_REPLY(cuid)     (((cuid) & UINT64_C(0xffff000000000000)) == GW_REPLY_TAG)

/* The request channel's and reply channels' geometry. */
#define GW_REQ_CAPACITY   1024
#define GW_REQ_BLOCK      1024
#define GW_REPLY_CAPACITY 8
#define GW_REPLY_BLOCK    1024

#define GW_MAGIC_REQ 0x51524744u   /* "DGRQ" */
#define GW_MAGIC_REP 0x50524744u   /* "DGRP" */
#define GW_VERSION   1u
/* The lowest result a reply (or a peer's answer) may carry. */
#define GW_RC_MIN    (-1000)

enum gw_op {
	GW_ATTACH = 1,  /* does the channel exist?  value: capacity, value2: block size */
	GW_SEND = 2,    /* payload: the message */
	GW_RECV = 3,    /* arg: the largest payload the caller takes */
	GW_POLL = 4,    /* arg: events; value: the events that hold */
	GW_COUNT = 5,   /* value: messages in the channel */
	GW_ACK = 6,     /* the caller has the message of RECV id: it may go */
	GW_CANCEL = 7,  /* the caller gave up on id: undo it if not done */
	GW_OP_MAX = 7
};

struct gw_req {
	uint32_t magic;         /* GW_MAGIC_REQ */
	uint16_t version;       /* GW_VERSION */
	uint16_t op;            /* enum gw_op */
	uint32_t pid;           /* the caller */
	uint16_t desc_len;      /* the remote channel's descriptor */
	uint16_t reply_len;     /* the reply channel's (0: no answer wanted) */
	uint64_t client;        /* the calling process's key (new after fork) */
	uint64_t id;            /* never used twice by that key */
	uint64_t low;           /* every id below is settled in the caller */
	int64_t timeout;        /* for the operation at the owner (API convention) */
	uint64_t arg;
	uint64_t reserved;
	/* desc_len bytes of channel descriptor, reply_len bytes of reply
	 * channel descriptor, then the payload (GW_SEND) */
};

struct gw_rep {
	uint32_t magic;         /* GW_MAGIC_REP */
	int32_t rc;             /* 0 or DIPC_E* */
	uint64_t id;            /* the request answered */
	uint64_t value;
	uint64_t value2;
	uint32_t bridge_pid;    /* the bridge that answers */
	uint32_t pad;
	uint64_t reserved[3];
	/* RECV: the payload */
};

_Static_assert(sizeof(struct gw_req) == 64, "gateway request header is 64 bytes");
_Static_assert(sizeof(struct gw_rep) == 64, "gateway reply header is 64 bytes");

#endif

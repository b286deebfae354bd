/*
 * channel.h - the layout of a channel inside its pool.
 *
 * A channel is a ring of capacity slots.  Each slot is a 64-byte header
 * followed by a block of block_size payload bytes.  The slot's state word
 * packs a 32-bit stamp (lap * 8 + state) with the process id of whoever
 * holds it, so one compare-and-swap both claims a slot and names the
 * claimer:
 *
 *   EMPTY(lap)    free for the producer of position lap*capacity+i
 *   WRITING(lap)  claimed by a producer (pid in the low half)
 *   FULL(lap)     a committed message, for the consumer at that position
 *   SKIP(lap)     its producer died before committing; consumers pass it
 *   TAKING(lap)   a consumer (pid in the low half) is taking the pool
 *                 allocation a message travels in (channel.c, "flight")
 *
 * A payload held in the slot is copied out first and then committed with
 * one CAS from FULL(lap) to EMPTY(lap+1); a consumer that dies before the
 * CAS leaves the message for the next one, one that dies after it had
 * taken it.  head and tail only say where to look; anyone who finds them
 * behind moves them on, so a process that dies between claiming a slot
 * and moving a counter stalls no one.  The full argument for each crash
 * rule is at the top of channel.c.
 */
#ifndef DIPC_CHANNEL_H
#define DIPC_CHANNEL_H

#include "pool.h"

#define CHAN_MAGIC 0x4e41484343504944ull  /* "DIPCCHAN" */
#define CHAN_ABI   2u      /* 2: stamps of lap * 8, TAKING, waiter sets */

enum { SLOT_EMPTY = 0, SLOT_WRITING = 1, SLOT_FULL = 2, SLOT_SKIP = 3, SLOT_TAKING = 4 };
#define SLOT_STATES 8u     /* a lap's stamps: lap * 8 + state */
enum { PAYLOAD_INLINE = 0, PAYLOAD_ALLOC = 1 };

#define SLOT_HDR 64u

struct slot_hdr {
	_Atomic uint64_t word;   /* stamp << 32 | pid */
	uint64_t once_len;       /* payload bytes */
	uint64_t kind;           /* PAYLOAD_* */
	uint64_t once_ref_blk;   /* PAYLOAD_ALLOC: the block travelling */
	uint64_t once_ref_off;   /* and the payload's heap offset */
	uint64_t reserved[3];
};

struct chan_hdr {
	uint64_t live;           /* CHAN_MAGIC ^ cuid while the channel exists */
	uint64_t cuid;
	uint32_t abi;
	uint32_t pad;
	uint64_t once_capacity;
	uint64_t once_block_size;
	uint64_t once_slot_size;
	uint64_t nonce;
	_Atomic uint64_t next;   /* directory link, see pool_hdr.chan_head */

	_Alignas(DIPC_CACHELINE) _Atomic uint64_t head;
	_Alignas(DIPC_CACHELINE) _Atomic uint64_t tail;
	_Alignas(DIPC_CACHELINE) _Atomic uint32_t recv_seq;  /* moves on every commit */
	_Alignas(DIPC_CACHELINE) struct dipc_waiters recv_waiters;
	_Alignas(DIPC_CACHELINE) _Atomic uint32_t send_seq;  /* moves on every take */
	_Alignas(DIPC_CACHELINE) struct dipc_waiters send_waiters;
	_Alignas(DIPC_CACHELINE) unsigned char slots[];
};

struct dipc_channel {
	_Atomic uint32_t magic;     /* DIPC_MAGIC_CHANNEL (handle.c) */
	dipc_pool *pool;
	bool own_pool;              /* attached from the descriptor: detach it with us */
	struct chan_hdr *hdr;
	uint64_t hdr_off;           /* heap offset of the header */
	uint64_t cuid, capacity, block_size, slot_size, nonce;
	atomic_int handles;
	struct dipc_remote *remote; /* another host's channel (remote.c): no ring */
};

/* A live channel handle on a live pool. */
static inline bool chan_ok(const dipc_channel *ch)
{
	return DIPC_LIVE(ch, DIPC_MAGIC_CHANNEL) && pool_ok(ch->pool);
}

/* Attach the live channel cuid of pool (the gateway's, remote.c). */
int chan_attach_cuid(dipc_pool *pool, uint64_t cuid, dipc_channel **ch);

#endif

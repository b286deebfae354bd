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
#define CHAN_ABI   3u      /* 2: stamps of lap * 8, TAKING, waiter sets;
			      3: channel-set watchers, the barrier, message
			      attributes in the slot header */

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
	uint64_t once_hints;     /* the message's attributes (dipc_msg_attr): */
	uint64_t once_clientid;  /* written by every send, read once by the receiver */
	uint64_t reserved[1];
};

/*
 * A channel set watching the channel (channelset.c): who watches (its
 * process, struck off like a waiter once dead), for which events, and the
 * bell to ring: a word in some pool (that pool's descriptor and the word's
 * heap offset) and the tag the word must carry.  An entry is claimed by a
 * compare-and-swap of pid from 0, filled, and then published by its bit in
 * watch_in (rung on a commit) and/or watch_out (rung on a take).
 */
#define CHAN_WATCHERS 8
struct chan_watcher {
	_Atomic uint32_t pid;    /* 0: free; | DIPC_WAITER_FIXING while struck off */
	_Atomic uint32_t events; /* DIPC_POLL_* the watcher is rung for */
	uint32_t tag;            /* the bell's tag (upper half of its word) */
	uint32_t pad;
	uint64_t once_bell_off;  /* heap offset of the bell in the bell's pool */
	unsigned char bell_pool[POOL_SER_LEN];  /* that pool's descriptor */
};

/* barrier_flags (barrier.c) */
#define BARRIER_BROKEN    1u
#define BARRIER_RELEASING 2u   /* a release is putting its messages in */

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

	/* Channel sets watching (channelset.c): one load of the mask on
	 * each commit or take is all a channel nobody watches pays. */
	_Alignas(DIPC_CACHELINE) _Atomic uint32_t watch_in;   /* rung on a commit */
	_Atomic uint32_t watch_out;   /* rung on a take */
	_Atomic uint32_t watch_rings; /* rings made, for the strike-off of the dead */
	uint32_t watch_pad;
	struct chan_watcher watchers[CHAN_WATCHERS];

	/* The channel as a barrier (barrier.c): parties counted under the
	 * lock; barrier_seq moves on every change of the state. */
	_Alignas(DIPC_CACHELINE) struct dipc_plock barrier_lock;
	_Atomic uint32_t barrier_seq;
	_Atomic uint32_t barrier_count;
	_Atomic uint32_t barrier_flags;
	uint32_t barrier_pad;
	struct dipc_waiters barrier_waiters;

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

/* How long a try-once send that finds the channel full keeps trying
 * while receivers wait on it (they were woken by the commits that filled
 * it and are on their way): CHAN_PRESPIN_NS, and up to CHAN_PRESPIN_MAX_NS
 * while one of them is seen ready to run (woken, waiting for a processor).
 * Bounds, so that the call never sleeps and never waits for long on
 * another process (channel.c, prespin_send). */
#define CHAN_PRESPIN_NS     (100 * 1000ull)
#define CHAN_PRESPIN_MAX_NS (1000 * 1000ull)

/* A live channel handle on a live pool. */
static inline bool chan_ok(const dipc_channel *ch)
{
	return DIPC_LIVE(ch, DIPC_MAGIC_CHANNEL) && pool_ok(ch->pool);
}

/* Another host's channel, reached through the bridge (remote.c): it has
 * no ring here, so what needs the ring (barriers, channel sets, the
 * blocked-receiver count) is DIPC_EFOREIGN on it. */
static inline bool chan_is_remote(const dipc_channel *ch)
{
	return ch->remote != NULL;
}

/* The channel's header is still the one this handle attached (channel.c). */
bool chan_is_live(const dipc_channel *ch);
/* Which DIPC_POLL_* events hold now, passing a dead producer's slot as
 * dipc_channel_poll does; DIPC_EDESTROYED if the channel is gone. */
int chan_events_now(dipc_channel *ch);
/* Try once to send len bytes held in the slot (len <= block size). */
int chan_send_inline(dipc_channel *ch, const void *buf, uint64_t len);

/* Ring the bells of the watchers in mask that want one of want
 * (channelset.c); called after a commit or a take found mask non-zero. */
void chset_ring(dipc_channel *ch, uint32_t mask, int want);
/* Strike off the watchers whose process is dead; how many. */
int chset_repair(struct chan_hdr *h);
/* Bells this process rang; for tests (a commit must reach a set's bell in
 * a pool the committing process never attached itself). */
extern _Atomic uint64_t chset_rings;
/* Let go of the pools mapped to ring other pools' bells (dipc_cleanup). */
void chset_cleanup(void);

/* Attach the live channel cuid of pool (the gateway's, remote.c). */
int chan_attach_cuid(dipc_pool *pool, uint64_t cuid, dipc_channel **ch);

#endif

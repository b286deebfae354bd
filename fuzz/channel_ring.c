/*
 * channel_ring.c - fuzz a channel whose header and ring have been
 * corrupted in shared memory.
 *
 * Each input makes a pool with a channel of four 64-byte slots, sends
 * three messages (two inline, one large enough to travel in a pool
 * allocation) and receives one, so the ring holds a mix of slot states
 * and a travelling block.  Then the fuzzer's patches go over the heap's
 * first 64 KiB (the channel's block header, its header with counters and
 * directory link, every slot's state word, length, kind and reference,
 * and the payload blocks), and the channel is used: send (inline, large,
 * transfer), receive (bytes, into an empty message, into an allocation),
 * poll, count, attach from its descriptor, destroy.  Each call must
 * return without a wild access or an endless walk, and what it hands
 * back must fit: lengths within the buffer, messages inside the heap.
 *
 * Input: a flags byte, up to 8 patches (see fz_patch).
 */
#include "fuzz.h"
#include "channel.h"

#define PATCH_SPAN 65536u
#define MAX_PATCHES 8
#define CAPACITY 4
#define BLOCK 64
#define BIG 200         /* > BLOCK: travels in an allocation */

#define F_TIMED   0x01  /* also a short bounded wait on each side */
#define F_SPIN    0x02  /* spinning handles instead of adaptive */
#define F_NO_DESC 0x04  /* skip the attaches from the descriptor */

struct world {
	char name[DIPC_NAME_MAX + 1];
	dipc_pool *pool;
	dipc_channel *ch;
	unsigned char ser[DIPC_SERIAL_MAX];
	int ser_len;
};

static void world_make(struct world *w)
{
	memset(w, 0, sizeof(*w));
	fz_name(w->name, sizeof(w->name), "c");
	FZ_CHECK(dipc_pool_create(w->name, DIPC_POOL_MIN_SIZE, NULL, &w->pool) == 0);
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = CAPACITY;
	ca.block_size = BLOCK;
	FZ_CHECK(dipc_channel_create(w->pool, 5, &ca, &w->ch) == 0);
	w->ser_len = dipc_channel_serialize(w->ch, w->ser, sizeof(w->ser));
	FZ_CHECK(w->ser_len > 0);

	dipc_sendh *s;
	dipc_recvh *r;
	FZ_CHECK(dipc_sendh_create(w->ch, NULL, &s) == 0 && dipc_sendh_open(s) == 0);
	FZ_CHECK(dipc_recvh_create(w->ch, NULL, &r) == 0 && dipc_recvh_open(r) == 0);
	unsigned char big[BIG];
	memset(big, 'B', sizeof(big));
	FZ_CHECK(dipc_sendh_send_bytes(s, "first", 5, DIPC_TRY_ONCE) == 0);
	FZ_CHECK(dipc_sendh_send_bytes(s, big, sizeof(big), DIPC_TRY_ONCE) == 0);
	FZ_CHECK(dipc_sendh_send_bytes(s, "third", 5, DIPC_TRY_ONCE) == 0);
	char buf[16];
	size_t len;
	FZ_CHECK(dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, DIPC_TRY_ONCE) == 0 && len == 5);
	dipc_sendh_destroy(s);
	dipc_recvh_destroy(r);
}

static void world_end(struct world *w)
{
	dipc_channel_destroy(w->ch);
	FZ_CHECK(dipc_pool_destroy(w->pool) == 0);
	fz_pool_unlink(w->name);
}

/* A message handed to us must lie inside the heap. */
static void check_msg(dipc_pool *p, dipc_msg *m)
{
	void *ptr;
	size_t size;
	FZ_CHECK(dipc_msg_get(m, &ptr, &size) == 0);
	if (!ptr)
		return;
	unsigned char *heap = p->heap;
	FZ_CHECK((unsigned char *)ptr >= heap && (uint64_t)((unsigned char *)ptr - heap) <= p->heap_size);
	FZ_CHECK(size <= p->heap_size - (uint64_t)((unsigned char *)ptr - heap));
	dipc_mem *mem;
	FZ_CHECK(dipc_msg_mem(m, &mem) == 0);
	size_t msize;
	FZ_CHECK(dipc_mem_get(mem, NULL, &msize) == 0 && msize >= size);
	fz_touch(ptr, size);
}

static void use_channel(dipc_channel *ch, int flags)
{
	dipc_pool *p;
	FZ_CHECK(dipc_channel_pool(ch, &p) == 0);
	int n = dipc_channel_count(ch);
	FZ_CHECK(n == DIPC_EDESTROYED || (n >= 0 && n <= CAPACITY));
	for (int ev = 1; ev <= 0xf; ev++) {
		int rc = dipc_channel_poll(ch, ev, DIPC_TRY_ONCE);
		FZ_CHECK(rc == DIPC_EDESTROYED || rc == DIPC_ECORRUPT || (rc >= 0 && (rc & ~ev) == 0));
	}

	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	if (flags & F_SPIN)
		ha.wait_mode = DIPC_WAIT_SPIN;
	dipc_sendh *s;
	dipc_recvh *r;
	FZ_CHECK(dipc_sendh_create(ch, &ha, &s) == 0);
	FZ_CHECK(dipc_recvh_create(ch, &ha, &r) == 0);
	if (dipc_sendh_open(s) == 0) {
		unsigned char big[BIG];
		memset(big, 'b', sizeof(big));
		dipc_sendh_send_bytes(s, "x", 1, DIPC_TRY_ONCE);
		dipc_sendh_send_bytes(s, big, sizeof(big), DIPC_TRY_ONCE);
		dipc_msg *m;
		if (dipc_msg_create_alloc(p, 100, &m) == 0) {
			if (dipc_sendh_send(s, m, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE) == 0)
				dipc_msg_destroy(m, 0);
			else
				dipc_msg_destroy(m, 1);
		}
		if (flags & F_TIMED)
			dipc_sendh_send_bytes(s, "y", 1, 200000);
	}
	if (dipc_recvh_open(r) == 0) {
		unsigned char buf[BIG + 8];
		size_t len = 0;
		int rc = dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, DIPC_TRY_ONCE);
		if (rc == 0)
			FZ_CHECK(len <= sizeof(buf));
		/* Into an empty message: it gets an allocation. */
		dipc_msg *m;
		FZ_CHECK(dipc_msg_create_empty(&m) == 0);
		if (dipc_recvh_recv(r, m, DIPC_TRY_ONCE) == 0)
			check_msg(p, m);
		dipc_msg_destroy(m, 1);
		/* Into an allocation of ours. */
		if (dipc_msg_create_alloc(p, 64, &m) == 0) {
			if (dipc_recvh_recv(r, m, DIPC_TRY_ONCE) == 0)
				check_msg(p, m);
			dipc_msg_destroy(m, 1);
		}
		if (flags & F_TIMED)
			dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, 200000);
	}
	dipc_sendh_destroy(s);
	dipc_recvh_destroy(r);
	n = dipc_channel_count(ch);
	FZ_CHECK(n == DIPC_EDESTROYED || (n >= 0 && n <= CAPACITY));
}

static void fz_make_seeds(void)
{
	struct world w;
	world_make(&w);
	uint64_t ch = w.ch->hdr_off;    /* heap offsets */
	uint64_t slot0 = ch + offsetof(struct chan_hdr, slots);
	unsigned char b[256];
	size_t n;
#define PUT_PATCH(off, val) do { \
		uint64_t v_ = (val); \
		b[n++] = (unsigned char)((off) & 0xff); \
		b[n++] = (unsigned char)((off) >> 8); \
		b[n++] = 8; \
		dipc_put64(b + n, v_); \
		n += 8; \
	} while (0)
#define SLOT(i) (slot0 + (uint64_t)(i) * w.ch->slot_size)

	n = 0;
	b[n++] = 0;
	fz_seed("clean", b, n);

	n = 0;
	b[n++] = F_TIMED;
	fz_seed("clean-timed", b, n);

	/* Counters far from the slots. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(ch + offsetof(struct chan_hdr, head), 1000003);
	PUT_PATCH(ch + offsetof(struct chan_hdr, tail), 7);
	fz_seed("counters", b, n);

	/* A full inline slot claiming more bytes than a block holds. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(SLOT(2) + offsetof(struct slot_hdr, once_len), 1u << 20);
	fz_seed("slot-len", b, n);

	/* The travelling block's reference moved off its block. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(SLOT(1) + offsetof(struct slot_hdr, once_ref_blk), 64);
	PUT_PATCH(SLOT(1) + offsetof(struct slot_hdr, once_ref_off), 0xfff0);
	fz_seed("slot-ref", b, n);

	/* Slot stamps from another lap; a writer that died mid-send. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(SLOT(1), ((uint64_t)(8 + SLOT_FULL) << 32));
	PUT_PATCH(SLOT(3), ((uint64_t)SLOT_WRITING << 32) | FZ_DEAD_PID);
	fz_seed("slot-stamps", b, n);

	/* Geometry in the header that disagrees with the handle. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(ch + offsetof(struct chan_hdr, once_capacity), 1u << 24);
	PUT_PATCH(ch + offsetof(struct chan_hdr, once_slot_size), 64);
	fz_seed("geometry", b, n);
	world_end(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct world w;
	world_make(&w);
	int flags = fz_u8(&in);
	dipc_pool *p = w.pool;
	fz_patch(&in, p->heap, p->heap_size < PATCH_SPAN ? p->heap_size : PATCH_SPAN, MAX_PATCHES);
	fz_unwedge(&p->hdr->lock.owner);

	use_channel(w.ch, flags);
	if (!(flags & F_NO_DESC)) {
		dipc_channel *c2;
		if (dipc_channel_attach(w.ser, (size_t)w.ser_len, p, &c2) == 0) {
			use_channel(c2, flags);
			FZ_CHECK(dipc_channel_detach(c2) == 0);
		}
		if (dipc_channel_attach(w.ser, (size_t)w.ser_len, NULL, &c2) == 0) {
			use_channel(c2, flags);
			FZ_CHECK(dipc_channel_detach(c2) == 0);
		}
	}
	world_end(&w);
	return 0;
}

/*
 * pool_segment.c - fuzz a pool whose shared segment has been corrupted.
 *
 * Each input makes a fresh pool with a few allocations, a freed block, a
 * channel and a block whose owner is dead, then writes the fuzzer's
 * patches over the segment's first 64 KiB (the header, the allocator's
 * totals and lock, the channel directory, and the block chain), and then
 * uses the pool: attach by name from a second handle, allocate, free,
 * reclaim, stats, create and attach channels, destroy.  Every call must
 * return (a DIPC_E* code is fine) without a wild access, and what it
 * hands back must lie inside the heap.
 *
 * Input: a flags byte, up to 8 patches (see fz_patch), and then 16-bit
 * allocation sizes for the rest.
 */
#include "fuzz.h"
#include "channel.h"

#define PATCH_SPAN 65536u
#define MAX_PATCHES 8

/* Flags: which steps to take (all by default). */
#define F_NO_ATTACH  0x01
#define F_NO_RECLAIM 0x02
#define F_NO_CREATE  0x04
#define F_WAIT       0x08   /* a short bounded alloc_wait too */

/* The state every input starts from. */
struct world {
	char name[DIPC_NAME_MAX + 1];
	dipc_pool *pool;
	dipc_mem *mem[3];
	dipc_channel *ch;
	unsigned char ch_ser[DIPC_SERIAL_MAX];
	int ch_ser_len;
};

static void world_make(struct world *w)
{
	memset(w, 0, sizeof(*w));
	fz_name(w->name, sizeof(w->name), "p");
	FZ_CHECK(dipc_pool_create(w->name, DIPC_POOL_MIN_SIZE, NULL, &w->pool) == 0);
	dipc_mem *freed;
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 2;
	ca.block_size = 64;
	FZ_CHECK(dipc_pool_alloc(w->pool, 64, &w->mem[0]) == 0);
	FZ_CHECK(dipc_pool_alloc(w->pool, 200, &freed) == 0);
	FZ_CHECK(dipc_pool_alloc(w->pool, 1000, &w->mem[1]) == 0);
	FZ_CHECK(dipc_channel_create(w->pool, 1, &ca, &w->ch) == 0);
	FZ_CHECK(dipc_pool_alloc(w->pool, 3000, &w->mem[2]) == 0);
	FZ_CHECK(dipc_mem_free(freed) == 0);
	/* A block of a process that has died, for reclaim; ours no more. */
	pool_set_owner(w->pool, w->mem[2]->blk, FZ_DEAD_PID);
	w->ch_ser_len = dipc_channel_serialize(w->ch, w->ch_ser, sizeof(w->ch_ser));
	FZ_CHECK(w->ch_ser_len > 0);
}

/* An allocation handed out must lie inside the heap: write all of it. */
static void check_alloc(dipc_pool *p, dipc_mem *m, size_t asked)
{
	FZ_CHECK(m->pool == p && m->size == asked);
	FZ_CHECK(m->blk % BLK_HDR == 0 && m->off == m->blk + BLK_HDR);
	FZ_CHECK(m->off <= p->heap_size && m->size <= p->heap_size - m->off);
	void *ptr;
	FZ_CHECK(dipc_mem_get(m, &ptr, NULL) == 0);
	memset(ptr, 0xa5, m->size);
}

static void use_pool(dipc_pool *p, struct fz_in *in, int flags)
{
	struct dipc_pool_stats st;
	int rc = dipc_pool_stats(p, &st);
	FZ_CHECK(rc == 0 || rc == DIPC_ECORRUPT);
	dipc_mem *got[4] = { 0 };
	for (int i = 0; i < 4 && in->n >= 2; i++) {
		size_t size = fz_u16(in);
		rc = i == 0 && (flags & F_WAIT)
			? dipc_pool_alloc_wait(p, size, 1000, &got[i])
			: dipc_pool_alloc(p, size, &got[i]);
		if (rc == 0)
			check_alloc(p, got[i], size);
		else
			FZ_CHECK(got[i] == NULL && rc < 0);
	}
	if (!(flags & F_NO_RECLAIM))
		FZ_CHECK(dipc_pool_reclaim(p) >= DIPC_ERRNO_LAST);
	for (int i = 0; i < 4; i++)
		if (got[i])
			dipc_mem_free(got[i]);
	rc = dipc_pool_stats(p, &st);
	FZ_CHECK(rc == 0 || rc == DIPC_ECORRUPT);
}

static void use_channel(dipc_channel *ch)
{
	FZ_CHECK(dipc_channel_count(ch) >= DIPC_ERRNO_LAST);
	dipc_channel_poll(ch, DIPC_POLL_READABLE | DIPC_POLL_WRITABLE, DIPC_TRY_ONCE);
	dipc_sendh *s;
	dipc_recvh *r;
	FZ_CHECK(dipc_sendh_create(ch, NULL, &s) == 0);
	FZ_CHECK(dipc_recvh_create(ch, NULL, &r) == 0);
	if (dipc_sendh_open(s) == 0)
		dipc_sendh_send_bytes(s, "0123456789", 10, DIPC_TRY_ONCE);
	if (dipc_recvh_open(r) == 0) {
		char buf[64];
		size_t len = 0;
		if (dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, DIPC_TRY_ONCE) == 0)
			FZ_CHECK(len <= sizeof(buf));
	}
	dipc_sendh_destroy(s);
	dipc_recvh_destroy(r);
}

static void fz_make_seeds(void)
{
	struct world w;
	world_make(&w);
	uint64_t heap = POOL_HDR_SIZE;
	struct pool_hdr ph;
	unsigned char b[256];
	size_t n;
	/* Patch helper: offset, length, bytes. */
#define PUT_PATCH(off, val) do { \
		uint64_t v_ = (val); \
		b[n++] = (unsigned char)((off) & 0xff); \
		b[n++] = (unsigned char)((off) >> 8); \
		b[n++] = 8; \
		dipc_put64(b + n, v_); \
		n += 8; \
	} while (0)
#define SIZES() do { \
		b[n++] = 100; b[n++] = 0; \
		b[n++] = 0; b[n++] = 16; \
	} while (0)

	/* No patch: the happy path. */
	n = 0;
	b[n++] = 0;
	SIZES();
	fz_seed("clean", b, n);

	/* A dead holder of the pool lock: the take-over recount. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(offsetof(struct pool_hdr, lock), FZ_DEAD_PID);
	SIZES();
	fz_seed("lock-dead-holder", b, n);

	/* The freed block's word (second block) made huge. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(heap + w.mem[0]->blk + 128, UINT64_MAX - 63);
	SIZES();
	fz_seed("blk-word-huge", b, n);

	/* The first block's word claims zero size. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(heap + w.mem[0]->blk, BLK_USED);
	SIZES();
	fz_seed("blk-word-zero", b, n);

	/* Totals that lie. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(offsetof(struct pool_hdr, free_bytes), UINT64_MAX);
	PUT_PATCH(offsetof(struct pool_hdr, once_rover), 1234567);
	PUT_PATCH(offsetof(struct pool_hdr, nchannels), UINT64_MAX);
	SIZES();
	fz_seed("totals", b, n);

	/* The channel directory pointing at itself. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(heap + w.ch->hdr_off + offsetof(struct chan_hdr, next), w.ch->hdr_off);
	PUT_PATCH(offsetof(struct pool_hdr, nchannels), UINT64_MAX - 1);
	SIZES();
	fz_seed("chan-dir-loop", b, n);

	/* A header of another ABI, another size. */
	n = 0;
	b[n++] = 0;
	PUT_PATCH(offsetof(struct pool_hdr, abi), 2);
	PUT_PATCH(offsetof(struct pool_hdr, once_heap_size), 4096);
	SIZES();
	fz_seed("header", b, n);
	(void)ph;

	dipc_channel_destroy(w.ch);
	for (int i = 0; i < 3; i++)
		dipc_mem_free(w.mem[i]);
	dipc_pool_destroy(w.pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct world w;
	world_make(&w);
	int flags = fz_u8(&in);
	struct pool_hdr *h = w.pool->hdr;
	size_t span = w.pool->shm.size < PATCH_SPAN ? w.pool->shm.size : PATCH_SPAN;
	fz_patch(&in, w.pool->shm.addr, span, MAX_PATCHES);
	fz_unwedge(&h->lock.owner);

	/* A second handle, by name, as another process would. */
	if (!(flags & F_NO_ATTACH)) {
		dipc_pool *p2;
		int rc = dipc_pool_attach_name(w.name, &p2);
		if (rc == 0) {
			/* The handle names the pool it was opened by, whatever
			 * the header says: destroy unlinks by that name. */
			FZ_CHECK(strcmp(p2->name, w.name) == 0);
			FZ_CHECK(p2->heap_size + POOL_HDR_SIZE == p2->shm.size);
			use_pool(p2, &in, flags);
			dipc_channel *ch2;
			if (dipc_channel_attach(w.ch_ser, (size_t)w.ch_ser_len, p2, &ch2) == 0) {
				use_channel(ch2);
				FZ_CHECK(dipc_channel_detach(ch2) == 0);
			}
			dipc_pool_detach(p2);
		} else {
			FZ_CHECK(rc < 0 && p2 == NULL);
		}
	}

	/* The creator's handle keeps its own view of the sizes. */
	use_pool(w.pool, &in, flags);
	use_channel(w.ch);
	if (!(flags & F_NO_CREATE)) {
		dipc_channel *c2;
		if (dipc_channel_create(w.pool, 2, NULL, &c2) == 0) {
			use_channel(c2);
			dipc_channel_destroy(c2);
		}
	}
	dipc_channel *own;
	if (dipc_channel_attach(w.ch_ser, (size_t)w.ch_ser_len, NULL, &own) == 0)
		FZ_CHECK(dipc_channel_detach(own) == 0);
	dipc_channel_destroy(w.ch);
	for (int i = 0; i < 3; i++)
		dipc_mem_free(w.mem[i]);
	FZ_CHECK(dipc_pool_destroy(w.pool) == 0);
	fz_pool_unlink(w.name);
	return 0;
}

/*
 * descriptors.c - fuzz dipc_pool_attach, dipc_mem_attach and
 * dipc_channel_attach with descriptors built from the fuzzer's bytes.
 *
 * A live pool (with an allocation, a sub-range of it and two channels)
 * exists for the whole run, so a descriptor that passes the format checks
 * reaches the real lookups: the pool by name, the block chain, the
 * channel directory and header checks.
 *
 * Input: one selector byte, then the descriptor.  The fields that differ
 * from run to run and machine to machine (host id, nonces, the pool's
 * name) are XORed with the live object's values before the call, so a
 * seed made on one machine stays valid on another: zero there means "the
 * live value", and every other value is still reachable.  Everything
 * else (magics, ABI versions, lengths, offsets, ids) is taken as is.
 */
#include "fuzz.h"
#include "channel.h"

enum { SEL_POOL, SEL_MEM, SEL_CHAN_POOL, SEL_CHAN_OWN, SEL_COUNT };

/* Descriptor field offsets (lib/pool.c, lib/channel.c). */
#define P_HOST 8
#define P_NONCE 16
#define P_NAME 25
#define M_HOST 8
#define M_NONCE 16
#define C_NONCE 24
#define C_POOL 32

static dipc_pool *live_pool;
static dipc_mem *live_mem, *live_clone;
static dipc_channel *live_ch[2];
static unsigned char live_pool_ser[POOL_SER_LEN];
static uint64_t live_ch_nonce[2];

static void teardown(void)
{
	dipc_mem_detach(live_clone);
	dipc_mem_free(live_mem);
	for (int i = 0; i < 2; i++)
		dipc_channel_destroy(live_ch[i]);
	dipc_pool_destroy(live_pool);
}

static void setup(void)
{
	char name[DIPC_NAME_MAX + 1];
	fz_name(name, sizeof(name), "d");
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 4;
	ca.block_size = 64;
	FZ_CHECK(dipc_pool_create(name, DIPC_POOL_MIN_SIZE, NULL, &live_pool) == 0);
	atexit(teardown);
	FZ_CHECK(dipc_channel_create(live_pool, 42, &ca, &live_ch[0]) == 0);
	FZ_CHECK(dipc_pool_alloc(live_pool, 100, &live_mem) == 0);
	FZ_CHECK(dipc_mem_clone(live_mem, 10, 50, &live_clone) == 0);
	FZ_CHECK(dipc_channel_create(live_pool, 43, NULL, &live_ch[1]) == 0);
	FZ_CHECK(dipc_pool_serialize(live_pool, live_pool_ser, sizeof(live_pool_ser)) > 0);
	for (int i = 0; i < 2; i++)
		live_ch_nonce[i] = live_ch[i]->nonce;
}

static void xor64(unsigned char *d, size_t len, size_t at, uint64_t v)
{
	for (size_t i = 0; i < 8 && at + i < len; i++)
		d[at + i] ^= (unsigned char)(v >> (8 * i));
}

/* The embedded or stand-alone pool descriptor at d[at...]: host, nonce
 * and name bytes relative to the live pool's. */
static void xor_pool(unsigned char *d, size_t len, size_t at)
{
	for (size_t i = P_HOST; i < POOL_SER_LEN && at + i < len; i++)
		if (i < P_HOST + 16 || i >= P_NAME)
			d[at + i] ^= live_pool_ser[i];
}

/* A pool handle the library gave us must be a sound mapping of a pool. */
static void check_pool(dipc_pool *p)
{
	FZ_CHECK(p->hdr && p->heap == (unsigned char *)p->hdr + POOL_HDR_SIZE);
	FZ_CHECK(p->heap_size + POOL_HDR_SIZE == p->shm.size);
	struct dipc_pool_stats st;
	int rc = dipc_pool_stats(p, &st);
	FZ_CHECK(rc == 0 || rc == DIPC_ECORRUPT);
	FZ_CHECK(st.total == p->heap_size);
}

/* A memory handle must lie inside one block in use, inside the heap. */
static void check_mem(dipc_mem *m)
{
	dipc_pool *p = m->pool;
	FZ_CHECK(m->blk % BLK_HDR == 0 && m->blk < p->heap_size);
	uint64_t us;
	FZ_CHECK(pool_check_blk(p, m->blk, &us) == 0);
	FZ_CHECK(m->off >= m->blk + BLK_HDR);
	FZ_CHECK(m->off + m->size <= m->blk + BLK_HDR + us);
	FZ_CHECK(m->off + m->size <= p->heap_size);
	void *ptr;
	size_t size;
	FZ_CHECK(dipc_mem_get(m, &ptr, &size) == 0 && size == m->size);
	fz_touch(ptr, size);
}

/* A channel handle must be one of the live channels, whole. */
static void check_channel(dipc_channel *ch)
{
	dipc_pool *p = ch->pool;
	bool known = false;
	for (int i = 0; i < 2; i++)
		known |= ch->hdr_off == live_ch[i]->hdr_off && ch->nonce == live_ch_nonce[i];
	FZ_CHECK(known);
	FZ_CHECK(ch->hdr_off + sizeof(struct chan_hdr) + ch->capacity * ch->slot_size <= p->heap_size);
	FZ_CHECK(dipc_channel_count(ch) >= 0);
	FZ_CHECK(dipc_channel_poll(ch, DIPC_POLL_READABLE | DIPC_POLL_WRITABLE, DIPC_TRY_ONCE) >= 0);

	/* A message through it and back leaves it as it was. */
	dipc_sendh *s;
	dipc_recvh *r;
	FZ_CHECK(dipc_sendh_create(ch, NULL, &s) == 0 && dipc_sendh_open(s) == 0);
	FZ_CHECK(dipc_recvh_create(ch, NULL, &r) == 0 && dipc_recvh_open(r) == 0);
	char buf[16];
	size_t len = 0;
	FZ_CHECK(dipc_sendh_send_bytes(s, "fuzz", 4, DIPC_TRY_ONCE) == 0);
	FZ_CHECK(dipc_recvh_recv_bytes(r, buf, sizeof(buf), &len, DIPC_TRY_ONCE) == 0);
	FZ_CHECK(len == 4 && memcmp(buf, "fuzz", 4) == 0);
	dipc_sendh_destroy(s);
	dipc_recvh_destroy(r);
}

/* Seeds: each live descriptor as the fuzzer would write it. */
static void fz_make_seeds(void)
{
	setup();
	unsigned char b[1 + DIPC_SERIAL_MAX];
	int n;

	b[0] = SEL_POOL;
	n = dipc_pool_serialize(live_pool, b + 1, DIPC_SERIAL_MAX);
	xor_pool(b + 1, (size_t)n, 0);
	fz_seed("pool", b, 1 + (size_t)n);

	const dipc_mem *mems[2] = { live_mem, live_clone };
	for (int i = 0; i < 2; i++) {
		b[0] = SEL_MEM;
		n = dipc_mem_serialize(mems[i], b + 1, DIPC_SERIAL_MAX);
		xor64(b + 1, (size_t)n, M_HOST, dipc_os_host_id());
		xor64(b + 1, (size_t)n, M_NONCE, live_pool->nonce);
		fz_seed(i ? "mem-clone" : "mem", b, 1 + (size_t)n);
	}

	for (int i = 0; i < 2; i++) {
		for (int sel = SEL_CHAN_POOL; sel <= SEL_CHAN_OWN; sel++) {
			b[0] = (unsigned char)sel;
			n = dipc_channel_serialize(live_ch[i], b + 1, DIPC_SERIAL_MAX);
			xor64(b + 1, (size_t)n, C_NONCE, live_ch_nonce[i]);
			xor_pool(b + 1, (size_t)n, C_POOL);
			char file[32];
			snprintf(file, sizeof(file), "channel%d-%s", 42 + i,
				 sel == SEL_CHAN_POOL ? "in-pool" : "own-pool");
			fz_seed(file, b, 1 + (size_t)n);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!live_pool)
		setup();
	if (size < 1)
		return 0;
	int sel = data[0] % SEL_COUNT;
	size_t len = size - 1;
	/* A copy: we XOR into it, and the library must not read past len
	 * (ASan sees an over-read of this heap buffer). */
	unsigned char *d = malloc(len ? len : 1);
	FZ_CHECK(d);
	memcpy(d, data + 1, len);

	int rc;
	switch (sel) {
	case SEL_POOL: {
		xor_pool(d, len, 0);
		dipc_pool *p;
		rc = dipc_pool_attach(d, len, &p);
		if (rc == 0) {
			FZ_CHECK(p->nonce == live_pool->nonce);
			check_pool(p);
			dipc_pool_detach(p);
		} else {
			FZ_CHECK(rc < 0 && rc >= DIPC_ERRNO_LAST && p == NULL);
		}
		break;
	}
	case SEL_MEM: {
		xor64(d, len, M_HOST, dipc_os_host_id());
		xor64(d, len, M_NONCE, live_pool->nonce);
		dipc_mem *m;
		rc = dipc_mem_attach(live_pool, d, len, &m);
		if (rc == 0) {
			check_mem(m);
			dipc_mem_detach(m);
		} else {
			FZ_CHECK(rc < 0 && rc >= DIPC_ERRNO_LAST && m == NULL);
		}
		break;
	}
	case SEL_CHAN_POOL:
	case SEL_CHAN_OWN: {
		/* The nonce is relative to the live channel's with the
		 * descriptor's id (channel 42's for any other id). */
		uint64_t cuid = len >= 16 ? dipc_get64(d + 8) : 0;
		xor64(d, len, C_NONCE, live_ch_nonce[cuid == 43]);
		xor_pool(d, len, C_POOL);
		dipc_channel *ch;
		rc = dipc_channel_attach(d, len, sel == SEL_CHAN_POOL ? live_pool : NULL, &ch);
		if (rc == 0) {
			check_channel(ch);
			FZ_CHECK(dipc_channel_detach(ch) == 0);
		} else {
			FZ_CHECK(rc < 0 && rc >= DIPC_ERRNO_LAST && ch == NULL);
		}
		break;
	}
	}
	free(d);
	return 0;
}

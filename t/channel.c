/*
 * channel.c - channels within one process: lifetime and queries, send
 * and receive handles, payloads on both sides of the block size, try-once
 * and timed waits in every wait mode, messages copied, transferred and
 * sent into destinations, receives into empty and destination messages,
 * DIPC_EMSGSIZE without consuming, poll, destroyed channels, and several
 * threads sending and receiving on one channel.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 1;
}

static dipc_channel *mkchan(dipc_pool *p, uint64_t cuid, uint64_t cap, uint64_t block)
{
	struct dipc_channel_attr a;
	dipc_channel *ch = NULL;
	dipc_channel_attr_init(&a);
	a.capacity = cap;
	a.block_size = block;
	int rc = dipc_channel_create(p, cuid, &a, &ch);
	if (rc)
		diag("channel_create(%llu, %llu, %llu): %s", (unsigned long long)cuid,
		     (unsigned long long)cap, (unsigned long long)block, dipc_strerror(rc));
	return ch;
}

static dipc_sendh *mksend(dipc_channel *ch, int mode, int64_t def)
{
	struct dipc_handle_attr a;
	dipc_sendh *h = NULL;
	dipc_handle_attr_init(&a);
	a.wait_mode = mode;
	a.default_timeout = def;
	if (dipc_sendh_create(ch, &a, &h) || dipc_sendh_open(h))
		bail_out("cannot make a send handle");
	return h;
}

static dipc_recvh *mkrecv(dipc_channel *ch, int mode, int64_t def)
{
	struct dipc_handle_attr a;
	dipc_recvh *h = NULL;
	dipc_handle_attr_init(&a);
	a.wait_mode = mode;
	a.default_timeout = def;
	if (dipc_recvh_create(ch, &a, &h) || dipc_recvh_open(h))
		bail_out("cannot make a receive handle");
	return h;
}

static uint64_t nallocs(dipc_pool *p)
{
	struct dipc_pool_stats s;
	dipc_pool_stats(p, &s);
	return s.nallocs;
}

static void test_basics(void)
{
	dipc_pool *p, *pp;
	dipc_channel *ch, *a1, *a2;
	struct dipc_pool_stats s;
	uint64_t cuid = 0;
	unsigned char d[DIPC_SERIAL_MAX];
	tc_pool_new("chbasic", 1 << 20, &p);
	if (!p)
		return;
	E(dipc_channel_create(p, 0xfeedfacecafeull, NULL, &ch), 0);
	if (!ch)
		goto out;
	is_int(dipc_channel_capacity(ch), DIPC_CHANNEL_DEFAULT_CAPACITY, "default capacity");
	is_int(dipc_channel_block_size(ch), DIPC_CHANNEL_DEFAULT_BLOCK_SIZE, "default block size");
	E(dipc_channel_cuid(ch, &cuid), 0);
	ok(cuid == 0xfeedfacecafeull, "cuid is the one given");
	E(dipc_channel_pool(ch, &pp), 0);
	ok(pp == p, "channel_pool is the pool it was made in");
	is_int(dipc_channel_count(ch), 0, "a new channel is empty");
	dipc_pool_stats(p, &s);
	ok(s.nchannels == 1 && s.nallocs == 1, "the pool counts one channel, one allocation");
	dipc_channel *c2 = mkchan(p, 0, 1, 1);
	ok(c2 && dipc_channel_capacity(c2) == 1 && dipc_channel_block_size(c2) == 1,
	   "a channel of capacity 1 and 1-byte blocks, cuid 0");
	dipc_pool_stats(p, &s);
	is_int(s.nchannels, 2, "two channels");
	if (c2)
		E(dipc_channel_destroy(c2), 0);

	int n = dipc_channel_serialize(ch, d, sizeof(d));
	ok(n > 0 && n <= DIPC_SERIAL_MAX, "serialize: %d bytes", n);
	E(dipc_channel_attach(d, (size_t)n, p, &a1), 0);
	E(dipc_channel_attach(d, (size_t)n, NULL, &a2), 0);
	if (!a1 || !a2)
		goto out2;
	E(dipc_channel_pool(a2, &pp), 0);
	ok(pp != p && pp != NULL, "attached without a pool: it has its own pool handle");
	dipc_channel_cuid(a2, &cuid);
	ok(cuid == 0xfeedfacecafeull && dipc_channel_capacity(a2) == 100 &&
	   dipc_channel_block_size(a2) == 1024, "and the same cuid, capacity and block size");

	dipc_sendh *sh = mksend(a1, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(a2, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	E(dipc_sendh_send_bytes(sh, "one", 4, DIPC_TRY_ONCE), 0);
	E(dipc_sendh_send_bytes(sh, "two", 4, DIPC_TRY_ONCE), 0);
	is_int(dipc_channel_count(ch), 2, "two messages, seen through a third handle");
	char buf[16];
	size_t len = 0;
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE), 0);
	ok(len == 4 && strcmp(buf, "one") == 0, "first in, first out");
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE), 0);
	ok(len == 4 && strcmp(buf, "two") == 0, "second");
	is_int(dipc_channel_count(a1), 0, "empty again");
	E(dipc_sendh_destroy(sh), 0);
	E(dipc_recvh_destroy(rh), 0);
out2:
	if (a1)
		E(dipc_channel_detach(a1), 0);
	if (a2)
		E(dipc_channel_detach(a2), 0);
	E(dipc_channel_destroy(ch), 0);
	dipc_pool_stats(p, &s);
	ok(s.nchannels == 0 && s.nallocs == 0 && s.free == s.total, "destroyed: the pool is empty");
out:
	E(tc_pool_del(p), 0);
}

static void test_handles(void)
{
	dipc_pool *p;
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	char buf[8];
	size_t len;
	tc_pool_new("handles", 1 << 20, &p);
	if (!p)
		return;
	ch = mkchan(p, 1, 4, 64);
	E(dipc_sendh_create(ch, NULL, &sh), 0);
	E(dipc_recvh_create(ch, NULL, &rh), 0);
	E(dipc_channel_detach(ch), DIPC_EBUSY);
	E(dipc_channel_destroy(ch), DIPC_EBUSY);
	E(dipc_sendh_send_bytes(sh, "x", 1, 0), DIPC_ENOTOPEN);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), DIPC_ENOTOPEN);
	dipc_msg *m;
	dipc_msg_create_empty(&m);
	E(dipc_sendh_send(sh, m, NULL, DIPC_COPY_ON_SEND, 0), DIPC_ENOTOPEN);
	E(dipc_recvh_recv(rh, m, 0), DIPC_ENOTOPEN);
	E(dipc_sendh_open(sh), 0);
	E(dipc_recvh_open(rh), 0);
	E(dipc_sendh_send_bytes(sh, "x", 1, 0), 0);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	E(dipc_sendh_close(sh), 0);
	E(dipc_recvh_close(rh), 0);
	E(dipc_sendh_close(sh), DIPC_ENOTOPEN);
	E(dipc_recvh_close(rh), DIPC_ENOTOPEN);
	E(dipc_sendh_send_bytes(sh, "x", 1, 0), DIPC_ENOTOPEN);
	E(dipc_sendh_send(sh, m, NULL, DIPC_COPY_ON_SEND, 0), DIPC_ENOTOPEN);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), DIPC_ENOTOPEN);
	E(dipc_recvh_recv(rh, m, 0), DIPC_ENOTOPEN);
	is_int(dipc_channel_count(ch), 0, "closed handles put nothing in");
	E(dipc_sendh_open(sh), 0);
	E(dipc_sendh_send_bytes(sh, "y", 1, 0), 0);
	E(dipc_recvh_open(rh), 0);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	ok(len == 1 && buf[0] == 'y', "a handle opens again after a close");
	E(dipc_sendh_destroy(sh), 0);  /* destroy an open handle */
	E(dipc_channel_destroy(ch), DIPC_EBUSY);
	E(dipc_recvh_destroy(rh), 0);
	dipc_msg_destroy(m, 1);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
}

static void test_sizes(void)
{
	dipc_pool *p;
	tc_pool_new("sizes", 4 << 20, &p);
	if (!p)
		return;
	dipc_channel *ch = mkchan(p, 2, 4, 256);
	dipc_sendh *sh = mksend(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	static const size_t sizes[] = { 0, 1, 63, 255, 256, 257, 1000, 4096, 100000, 1000000 };
	static unsigned char out[1000001], in[1000001];
	uint64_t base = nallocs(p);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], len = 12345;
		tc_fill(out, n, i);
		memset(in, 0, n + 1);
		int rc = dipc_sendh_send_bytes(sh, out, n, DIPC_TRY_ONCE);
		uint64_t during = nallocs(p);
		int rc2 = dipc_recvh_recv_bytes(rh, in, sizeof(in), &len, DIPC_TRY_ONCE);
		ok(rc == 0 && rc2 == 0 && len == n && tc_check(in, n, i),
		   "%zu bytes (block 256) arrive whole", n);
		if (n <= 256)
			ok(during == base, "  carried in the channel block, no allocation");
		else
			ok(during == base + 1, "  carried in a pool allocation");
		is_int(nallocs(p), base, "  nothing left allocated after the receive");
	}
	/* Zero bytes from NULL is a message too. */
	size_t len = 99;
	E(dipc_sendh_send_bytes(sh, NULL, 0, 0), 0);
	E(dipc_recvh_recv_bytes(rh, NULL, 0, &len, 0), 0);
	is_int(len, 0, "an empty message from and into NULL");
	/* Larger than the whole pool. */
	static unsigned char huge[5 << 20];
	E(dipc_sendh_send_bytes(sh, huge, sizeof(huge), DIPC_TRY_ONCE), DIPC_ENOSPC);
	is_int(dipc_channel_count(ch), 0, "a payload the pool cannot hold is not sent");
	is_int(nallocs(p), base, "and leaves no allocation");
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
}

static void test_waits(void)
{
	dipc_pool *p;
	char buf[64];
	size_t len;
	tc_pool_new("waits", 1 << 20, &p);
	if (!p)
		return;
	dipc_channel *full = mkchan(p, 3, 3, 64), *empty = mkchan(p, 4, 3, 64);
	dipc_sendh *fill = mksend(full, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	for (int i = 0; i < 3; i++)
		E(dipc_sendh_send_bytes(fill, "m", 1, DIPC_TRY_ONCE), 0);
	is_int(dipc_channel_count(full), 3, "a channel filled to its capacity");
	int64_t t0 = tc_now_ns();
	E(dipc_sendh_send_bytes(fill, "m", 1, DIPC_TRY_ONCE), DIPC_EFULL);
	dipc_recvh *er = mkrecv(empty, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	E(dipc_recvh_recv_bytes(er, buf, sizeof(buf), &len, DIPC_TRY_ONCE), DIPC_EEMPTY);
	dipc_msg *m;
	dipc_msg_create_empty(&m);
	E(dipc_recvh_recv(er, m, DIPC_TRY_ONCE), DIPC_EEMPTY);
	ok(tc_now_ns() - t0 < 2 * TC_SEC, "try-once answers at once");
	dipc_recvh_destroy(er);

	static const char *names[] = { "adaptive", "spin", "idle" };
	for (int mode = DIPC_WAIT_ADAPTIVE; mode <= DIPC_WAIT_IDLE; mode++) {
		dipc_sendh *sh = mksend(full, mode, DIPC_WAIT_FOREVER);
		dipc_recvh *rh = mkrecv(empty, mode, DIPC_WAIT_FOREVER);
		char what[96];
		t0 = tc_now_ns();
		E(dipc_sendh_send_bytes(sh, "m", 1, 60 * TC_MS), DIPC_ETIMEDOUT);
		snprintf(what, sizeof(what), "%s: send on a full channel times out", names[mode]);
		tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, what);
		t0 = tc_now_ns();
		E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 60 * TC_MS), DIPC_ETIMEDOUT);
		snprintf(what, sizeof(what), "%s: receive on an empty channel times out", names[mode]);
		tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, what);
		dipc_sendh_destroy(sh);
		dipc_recvh_destroy(rh);
	}

	/* The handle's default timeout. */
	dipc_sendh *sh = mksend(full, DIPC_WAIT_ADAPTIVE, 70 * TC_MS);
	dipc_recvh *rh = mkrecv(empty, DIPC_WAIT_IDLE, 70 * TC_MS);
	t0 = tc_now_ns();
	E(dipc_sendh_send_bytes(sh, "m", 1, DIPC_TIMEOUT_DEFAULT), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 70 * TC_MS, "send with the handle's default timeout");
	t0 = tc_now_ns();
	E(dipc_recvh_recv(rh, m, DIPC_TIMEOUT_DEFAULT), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 70 * TC_MS, "receive into a message with the default timeout");
	void *ptr = (void *)1;
	size_t sz = 1;
	dipc_msg_get(m, &ptr, &sz);
	ok(ptr == NULL && sz == 0, "a timed-out receive leaves the message empty");
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	sh = mksend(full, DIPC_WAIT_ADAPTIVE, DIPC_TRY_ONCE);
	rh = mkrecv(empty, DIPC_WAIT_ADAPTIVE, DIPC_TRY_ONCE);
	E(dipc_sendh_send_bytes(sh, "m", 1, DIPC_TIMEOUT_DEFAULT), DIPC_EFULL);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TIMEOUT_DEFAULT), DIPC_EEMPTY);

	/* A message send that times out keeps its payload. */
	dipc_msg *big;
	dipc_msg_create_alloc(p, 500, &big);
	dipc_msg_get(big, &ptr, NULL);
	tc_fill(ptr, 500, 6);
	uint64_t before = nallocs(p);
	t0 = tc_now_ns();
	E(dipc_sendh_send(sh, big, NULL, DIPC_TRANSFER_ON_SEND, 50 * TC_MS), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 50 * TC_MS, "a transfer into a full channel times out");
	dipc_msg_get(big, &ptr, &sz);
	ok(ptr && sz == 500 && tc_check(ptr, 500, 6), "and the message keeps its allocation");
	E(dipc_sendh_send(sh, big, NULL, DIPC_COPY_ON_SEND, DIPC_TRY_ONCE), DIPC_EFULL);
	is_int(nallocs(p), before, "a failed copy of a large payload leaves no allocation");
	dipc_msg_destroy(big, 1);
	dipc_msg_destroy(m, 1);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	dipc_sendh_destroy(fill);
	E(dipc_channel_destroy(full), 0);
	E(dipc_channel_destroy(empty), 0);
	is_int(nallocs(p), 0, "nothing left in the pool");
	E(tc_pool_del(p), 0);
}

static void test_msgsize(void)
{
	dipc_pool *p;
	char buf[2048];
	size_t len;
	tc_pool_new("msgsize", 1 << 20, &p);
	if (!p)
		return;
	dipc_channel *ch = mkchan(p, 5, 4, 128);
	dipc_sendh *sh = mksend(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	static const size_t sizes[] = { 100, 1000 };  /* inline, then an allocation */
	for (int k = 0; k < 2; k++) {
		size_t n = sizes[k];
		tc_fill(buf, n, 40 + (uint64_t)k);
		E(dipc_sendh_send_bytes(sh, buf, n, 0), 0);
		uint64_t held = nallocs(p);
		len = 0;
		E(dipc_recvh_recv_bytes(rh, buf, n - 1, &len, 0), DIPC_EMSGSIZE);
		is_int(len, n, "the needed size is reported (%zu)", n);
		E(dipc_recvh_recv_bytes(rh, NULL, 0, &len, 0), DIPC_EMSGSIZE);
		is_int(dipc_channel_count(ch), 1, "the message was not taken");
		dipc_msg *dst;
		dipc_msg_create_alloc(p, n - 1, &dst);
		E(dipc_recvh_recv(rh, dst, 0), DIPC_EMSGSIZE);
		void *ptr;
		size_t sz;
		dipc_msg_get(dst, &ptr, &sz);
		ok(sz == n - 1, "a destination message too small keeps its size");
		is_int(dipc_channel_count(ch), 1, "and the message stays in the channel");
		is_int(nallocs(p), held + 1, "nothing was allocated or freed by the refusals");
		memset(buf, 0, sizeof(buf));
		E(dipc_recvh_recv_bytes(rh, buf, n, &len, 0), 0);
		ok(len == n && tc_check(buf, n, 40 + (uint64_t)k), "it arrives whole with room for it");
		dipc_msg_destroy(dst, 1);
	}
	/* A destination smaller than the message sent into it. */
	dipc_msg *src, *dst;
	dipc_msg_create_alloc(p, 50, &src);
	dipc_msg_create_alloc(p, 49, &dst);
	E(dipc_sendh_send(sh, src, dst, DIPC_COPY_ON_SEND, 0), DIPC_EMSGSIZE);
	void *ptr;
	size_t sz;
	dipc_msg_get(dst, &ptr, &sz);
	ok(ptr && sz == 49, "the destination is left as it was");
	is_int(dipc_channel_count(ch), 0, "nothing was sent");
	dipc_msg_destroy(src, 1);
	dipc_msg_destroy(dst, 1);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	is_int(nallocs(p), 0, "nothing left in the pool");
	E(tc_pool_del(p), 0);
}

static void test_messages(void)
{
	dipc_pool *p, *other;
	void *ptr, *ptr2, *was;
	size_t sz;
	char buf[8192];
	size_t len;
	tc_pool_new("msgs", 1 << 20, &p);
	tc_pool_new("msgs2", 1 << 20, &other);
	if (!p || !other)
		goto out;
	dipc_channel *ch = mkchan(p, 6, 8, 256);
	dipc_sendh *sh = mksend(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	uint64_t base = nallocs(p);
	dipc_msg *a, *r, *d;

	/* Copy: the sender keeps its message. */
	dipc_msg_create_alloc(p, 100, &a);
	dipc_msg_get(a, &was, NULL);
	tc_fill(was, 100, 1);
	E(dipc_sendh_send(sh, a, NULL, DIPC_COPY_ON_SEND, 0), 0);
	dipc_msg_get(a, &ptr, &sz);
	ok(ptr == was && sz == 100 && tc_check(ptr, 100, 1), "copy-on-send leaves the message whole");
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	ok(len == 100 && tc_check(buf, 100, 1), "the copy arrives");

	/* Transfer: the receiver gets the very allocation. */
	E(dipc_sendh_send(sh, a, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	dipc_msg_get(a, &ptr, &sz);
	ok(ptr == NULL && sz == 0, "transfer-on-send leaves the message empty");
	dipc_mem *mm = (dipc_mem *)&mm;
	E(dipc_msg_mem(a, &mm), DIPC_EINVAL);
	is_int(nallocs(p), base + 1, "the allocation is in flight, not copied");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(ptr == was && sz == 100 && tc_check(ptr, 100, 1),
	   "the receiver's message is the sender's allocation, unmoved");
	is_int(nallocs(p), base + 1, "still one allocation");
	E(dipc_msg_destroy(r, 1), 0);
	is_int(nallocs(p), base, "freed by the receiver");

	/* Transfer of a clone: the sub-range travels. */
	dipc_mem *whole, *part;
	dipc_pool_alloc(p, 1000, &whole);
	tc_fill(tc_ptr(whole), 1000, 2);
	dipc_mem_clone(whole, 100, 200, &part);
	dipc_mem_detach(whole);
	dipc_msg *cm;
	dipc_msg_create_from_mem(part, &cm);
	dipc_msg_get(cm, &was, NULL);
	E(dipc_sendh_send(sh, cm, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(ptr == was && sz == 200, "a transferred clone arrives as its sub-range");
	E(dipc_msg_destroy(r, 1), 0);
	E(dipc_msg_destroy(cm, 0), 0);
	is_int(nallocs(p), base, "freeing it frees the whole allocation");

	/* The message emptied by the transfer above is still ours to free. */
	E(dipc_msg_destroy(a, 0), 0);

	/* Into a destination: dest's allocation travels with msg's bytes. */
	dipc_msg_create_alloc(other, 50, &a);  /* the source may be anywhere */
	dipc_msg_get(a, &ptr2, NULL);
	tc_fill(ptr2, 50, 3);
	dipc_msg_create_alloc(p, 200, &d);
	dipc_msg_get(d, &was, NULL);
	E(dipc_sendh_send(sh, a, d, DIPC_COPY_ON_SEND, 0), 0);
	dipc_msg_get(d, &ptr, &sz);
	ok(ptr == NULL && sz == 0, "the destination message is left empty");
	dipc_msg_get(a, &ptr, &sz);
	ok(ptr == ptr2 && sz == 50 && tc_check(ptr, 50, 3), "the source is untouched");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(ptr == was && sz == 50 && tc_check(ptr, 50, 3),
	   "the receiver gets the destination's allocation holding the source's bytes");
	dipc_msg_destroy(r, 1);
	dipc_msg_destroy(d, 0);
	E(dipc_msg_destroy(a, 1), 0);
	is_int(nallocs(p), base, "no allocation left");

	/* A small payload into an empty message gets a new allocation. */
	E(dipc_sendh_send_bytes(sh, "tiny", 5, 0), 0);
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(ptr && sz == 5 && strcmp(ptr, "tiny") == 0, "an inline payload into an empty message");
	E(dipc_msg_mem(r, &mm), 0);
	ok(mm != NULL, "which now has memory of its own");
	dipc_mem *cl;
	E(dipc_mem_clone(mm, 0, 5, &cl), 0);
	unsigned char md[DIPC_SERIAL_MAX];
	E(dipc_mem_serialize(cl, md, sizeof(md)), 48);
	E(dipc_mem_attach(p, md, 48, &mm), 0);
	ok(mm && tc_ptr(mm) == ptr, "in the channel's pool");
	if (mm)
		dipc_mem_detach(mm);
	dipc_mem_detach(cl);
	is_int(nallocs(p), base + 1, "one allocation");
	dipc_msg_destroy(r, 1);
	E(dipc_sendh_send_bytes(sh, NULL, 0, 0), 0);
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(sz == 0, "an empty payload into an empty message");
	dipc_msg_destroy(r, 1);

	/* A large copied payload into an empty message: the travelling
	 * allocation is handed over. */
	tc_fill(buf, 5000, 4);
	E(dipc_sendh_send_bytes(sh, buf, 5000, 0), 0);
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(sz == 5000 && tc_check(ptr, 5000, 4), "a large payload into an empty message");
	is_int(nallocs(p), base + 1, "handed over, not copied again");
	dipc_msg_destroy(r, 1);

	/* Into a destination message: copied, size set to the payload's. */
	dipc_msg_create_alloc(p, 600, &d);
	dipc_msg_get(d, &was, NULL);
	E(dipc_sendh_send_bytes(sh, "inline", 7, 0), 0);
	E(dipc_recvh_recv(rh, d, 0), 0);
	dipc_msg_get(d, &ptr, &sz);
	ok(ptr == was && sz == 7 && strcmp(ptr, "inline") == 0,
	   "an inline payload into a destination message: copied, size 7");
	dipc_msg_create_alloc(p, 300, &a);
	dipc_msg_get(a, &ptr2, NULL);
	tc_fill(ptr2, 300, 5);
	E(dipc_sendh_send(sh, a, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	E(dipc_recvh_recv(rh, d, 0), 0);
	dipc_msg_get(d, &ptr, &sz);
	ok(ptr == was && sz == 300 && tc_check(ptr, 300, 5),
	   "a transferred allocation into a destination message is copied");
	is_int(nallocs(p), base + 1, "and the travelling allocation freed");
	E(dipc_sendh_send(sh, d, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	ok(len == 300 && tc_check(buf, 300, 5),
	   "a message's size after a receive is the payload's: 300 bytes travel");
	dipc_msg_destroy(d, 1);
	dipc_msg_destroy(a, 1);
	is_int(nallocs(p), base, "no allocation left");

	/* Receiving into an empty message needs room in the pool. */
	E(dipc_sendh_send_bytes(sh, "needs room", 11, 0), 0);
	static dipc_mem *hog[1024];
	int nh = 0;
	while (nh < 1024 && dipc_pool_alloc(p, 4096, &hog[nh]) == 0)
		nh++;
	while (nh < 1024 && dipc_pool_alloc(p, 64, &hog[nh]) == 0)
		nh++;
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), DIPC_ENOSPC);
	is_int(dipc_channel_count(ch), 1, "with the pool full the message stays");
	dipc_mem_free(hog[--nh]);
	E(dipc_recvh_recv(rh, r, 0), 0);
	dipc_msg_get(r, &ptr, &sz);
	ok(sz == 11 && strcmp(ptr, "needs room") == 0, "and arrives once there is room");
	dipc_msg_destroy(r, 1);
	while (nh)
		dipc_mem_free(hog[--nh]);
	is_int(nallocs(p), base, "no allocation left");

	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
out:
	if (p)
		E(tc_pool_del(p), 0);
	if (other)
		E(tc_pool_del(other), 0);
}

struct later {
	dipc_channel *ch;
	int op;  /* 0 send, 1 receive */
	int delay_ms;
	int rc;
};

static void *later_fn(void *arg)
{
	struct later *l = arg;
	char buf[64];
	size_t len;
	tc_sleep_ms(l->delay_ms);
	if (l->op == 0) {
		dipc_sendh *sh = mksend(l->ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
		l->rc = dipc_sendh_send_bytes(sh, "late", 5, 5 * TC_SEC);
		dipc_sendh_destroy(sh);
	} else {
		dipc_recvh *rh = mkrecv(l->ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
		l->rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 5 * TC_SEC);
		dipc_recvh_destroy(rh);
	}
	return NULL;
}

static void test_poll(void)
{
	dipc_pool *p;
	char buf[16];
	size_t len;
	const int all = DIPC_POLL_READABLE | DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY | DIPC_POLL_FULL;
	tc_pool_new("poll", 1 << 20, &p);
	if (!p)
		return;
	dipc_channel *ch = mkchan(p, 7, 2, 64);
	dipc_sendh *sh = mksend(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	is_int(dipc_channel_poll(ch, all, DIPC_TRY_ONCE), DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY,
	       "empty: writable and empty");
	is_int(dipc_channel_poll(ch, DIPC_POLL_READABLE, DIPC_TRY_ONCE), 0,
	       "try-once poll for readable on an empty channel: 0");
	is_int(dipc_channel_poll(ch, DIPC_POLL_FULL, DIPC_TRY_ONCE), 0, "not full");
	int64_t t0 = tc_now_ns();
	E(dipc_channel_poll(ch, DIPC_POLL_READABLE, 60 * TC_MS), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, "poll for readable times out");
	t0 = tc_now_ns();
	E(dipc_channel_poll(ch, DIPC_POLL_READABLE | DIPC_POLL_FULL, 60 * TC_MS), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, "poll for readable or full times out");
	is_int(dipc_channel_poll(ch, DIPC_POLL_READABLE | DIPC_POLL_EMPTY, 60 * TC_MS),
	       DIPC_POLL_EMPTY, "of two events asked, the one that holds is returned");

	dipc_sendh_send_bytes(sh, "a", 1, 0);
	is_int(dipc_channel_poll(ch, all, DIPC_TRY_ONCE), DIPC_POLL_READABLE | DIPC_POLL_WRITABLE,
	       "one message: readable and writable");
	is_int(dipc_channel_poll(ch, DIPC_POLL_READABLE, DIPC_WAIT_FOREVER), DIPC_POLL_READABLE,
	       "poll forever returns at once when the event holds");
	t0 = tc_now_ns();
	E(dipc_channel_poll(ch, DIPC_POLL_EMPTY, 60 * TC_MS), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, "poll for empty times out");
	dipc_sendh_send_bytes(sh, "b", 1, 0);
	is_int(dipc_channel_poll(ch, all, DIPC_TRY_ONCE), DIPC_POLL_READABLE | DIPC_POLL_FULL,
	       "two messages in two slots: readable and full");
	is_int(dipc_channel_poll(ch, DIPC_POLL_WRITABLE, DIPC_TRY_ONCE), 0, "not writable");
	t0 = tc_now_ns();
	E(dipc_channel_poll(ch, DIPC_POLL_WRITABLE, 60 * TC_MS), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 60 * TC_MS, "poll for writable on a full channel times out");

	/* Woken by another thread. */
	struct later l = { ch, 1, 50, -100 };
	tc_thread th;
	tc_thread_start(&th, later_fn, &l);
	is_int(dipc_channel_poll(ch, DIPC_POLL_WRITABLE, 10 * TC_SEC), DIPC_POLL_WRITABLE,
	       "poll for writable wakes when another thread receives");
	tc_thread_join(th);
	is_int(l.rc, 0, "(it received)");
	dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0);
	is_int(dipc_channel_poll(ch, all, DIPC_TRY_ONCE), DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY,
	       "drained: writable and empty");
	l = (struct later){ ch, 0, 50, -100 };
	tc_thread_start(&th, later_fn, &l);
	is_int(dipc_channel_poll(ch, DIPC_POLL_READABLE | DIPC_POLL_FULL, 10 * TC_SEC),
	       DIPC_POLL_READABLE, "poll for readable wakes when another thread sends");
	tc_thread_join(th);
	is_int(l.rc, 0, "(it sent)");
	dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
}

struct blocked {
	dipc_channel *ch;
	int rc;
	_Atomic int started;
};

static void *blocked_recv(void *arg)
{
	struct blocked *b = arg;
	char buf[64];
	size_t len;
	dipc_recvh *rh = mkrecv(b->ch, DIPC_WAIT_IDLE, DIPC_WAIT_FOREVER);
	atomic_store(&b->started, 1);
	b->rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_WAIT_FOREVER);
	dipc_recvh_destroy(rh);
	return NULL;
}

static void test_destroyed(void)
{
	dipc_pool *p;
	unsigned char d[DIPC_SERIAL_MAX];
	char buf[64];
	size_t len;
	struct dipc_pool_stats s;
	tc_pool_new("gone", 1 << 20, &p);
	if (!p)
		return;
	dipc_channel *ch = mkchan(p, 8, 4, 64), *a1, *a2, *a3;
	int n = dipc_channel_serialize(ch, d, sizeof(d));
	dipc_channel_attach(d, (size_t)n, p, &a1);
	dipc_channel_attach(d, (size_t)n, NULL, &a2);
	dipc_channel_attach(d, (size_t)n, p, &a3);
	dipc_sendh *sh = mksend(a1, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_recvh *rh = mkrecv(a2, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	dipc_sendh *later = NULL;
	dipc_sendh_create(a1, NULL, &later);
	struct blocked b = { a3, -100, 0 };
	tc_thread th;
	tc_thread_start(&th, blocked_recv, &b);
	while (!atomic_load(&b.started))
		tc_sleep_ms(1);
	tc_sleep_ms(30);  /* let it go to sleep (not needed for correctness) */
	/* The waiter's channel handle is a3; ch itself has no handles. */
	E(dipc_channel_destroy(ch), 0);
	tc_thread_join(th);
	is_int(b.rc, DIPC_EDESTROYED, "a thread blocked in receive is woken and told");

	E(dipc_sendh_send_bytes(sh, "x", 1, 0), DIPC_EDESTROYED);
	E(dipc_sendh_send_bytes(sh, "x", 1, DIPC_WAIT_FOREVER), DIPC_EDESTROYED);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), DIPC_EDESTROYED);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_WAIT_FOREVER), DIPC_EDESTROYED);
	dipc_msg *m;
	dipc_msg_create_empty(&m);
	E(dipc_recvh_recv(rh, m, 0), DIPC_EDESTROYED);
	E(dipc_sendh_send(sh, m, NULL, DIPC_COPY_ON_SEND, 0), DIPC_EDESTROYED);
	dipc_msg_destroy(m, 1);
	E(dipc_sendh_open(later), DIPC_EDESTROYED);
	E(dipc_channel_count(a1), DIPC_EDESTROYED);
	E(dipc_channel_poll(a2, DIPC_POLL_READABLE, 0), DIPC_EDESTROYED);
	E(dipc_channel_poll(a2, DIPC_POLL_READABLE, DIPC_WAIT_FOREVER), DIPC_EDESTROYED);
	E(dipc_channel_destroy(a1), DIPC_EBUSY);
	dipc_sendh_destroy(sh);
	dipc_sendh_destroy(later);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(a1), DIPC_EDESTROYED);
	E(dipc_channel_detach(a2), 0);
	/* The blocked thread let go of its receive handle, not of a3. */
	E(dipc_channel_detach(a3), 0);
	E(dipc_channel_attach(d, (size_t)n, p, &a1), DIPC_ENOENT);
	dipc_pool_stats(p, &s);
	ok(s.nchannels == 0 && s.nallocs == 0, "the pool has no channel left");

	/* Payloads still in a channel go with it. */
	ch = mkchan(p, 8, 4, 64);
	sh = mksend(ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	E(dipc_sendh_send_bytes(sh, "small", 6, 0), 0);
	static char big[3000];
	E(dipc_sendh_send_bytes(sh, big, sizeof(big), 0), 0);
	dipc_msg_create_alloc(p, 100, &m);
	E(dipc_sendh_send(sh, m, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	dipc_msg_destroy(m, 1);
	dipc_sendh_destroy(sh);
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, 3, "a channel holding two payloads in allocations");
	E(dipc_channel_destroy(ch), 0);
	dipc_pool_stats(p, &s);
	ok(s.nallocs == 0 && s.free == s.total,
	   "destroying it frees them too (%llu allocations left)", (unsigned long long)s.nallocs);

	/* A channel made anew with the same cuid in the same place is another
	 * channel: handles on the old one must not reach it. */
	dipc_channel *old = mkchan(p, 9, 10, 64);
	n = dipc_channel_serialize(old, d, sizeof(d));
	dipc_channel_attach(d, (size_t)n, p, &a1);
	dipc_mem *hog[300];
	int nh = 0;
	dipc_pool_stats(p, &s);
	while (nh < 300 && s.largest_free >= 64 &&
	       dipc_pool_alloc(p, (size_t)s.largest_free, &hog[nh]) == 0) {
		nh++;
		dipc_pool_stats(p, &s);
	}
	ok(s.largest_free < 64, "the rest of the pool is taken");
	E(dipc_channel_destroy(old), 0);
	dipc_channel *fresh = mkchan(p, 9, 5, 128);  /* fits the freed block */
	ok(fresh != NULL, "a new channel with the same cuid fits where the old one was");
	sh = NULL;
	rh = NULL;
	dipc_sendh_create(a1, NULL, &sh);
	E(dipc_sendh_open(sh), DIPC_EDESTROYED);
	E(dipc_channel_count(a1), DIPC_EDESTROYED);
	E(dipc_channel_poll(a1, DIPC_POLL_WRITABLE, 0), DIPC_EDESTROYED);
	dipc_sendh_destroy(sh);
	if (fresh) {
		dipc_sendh *fs = mksend(fresh, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
		dipc_recvh *fr = mkrecv(fresh, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
		E(dipc_sendh_send_bytes(fs, "new", 4, 0), 0);
		E(dipc_recvh_recv_bytes(fr, buf, sizeof(buf), &len, 0), 0);
		ok(len == 4 && strcmp(buf, "new") == 0, "the new channel works");
		dipc_sendh_destroy(fs);
		dipc_recvh_destroy(fr);
		E(dipc_channel_destroy(fresh), 0);
	}
	E(dipc_channel_destroy(a1), DIPC_EDESTROYED);
	while (nh)
		dipc_mem_free(hog[--nh]);
	dipc_pool_stats(p, &s);
	ok(s.nallocs == 0 && s.nchannels == 0, "nothing left");
	E(tc_pool_del(p), 0);
}

/* ---- threads ------------------------------------------------------------- */

#define TP 3            /* producer threads */
#define TCN 3           /* consumer threads */
#define TPER 4000       /* messages per producer */
#define TBLOCK 96

struct tshared {
	dipc_channel *ch;
	_Atomic uint32_t counts[TP][TPER];
	_Atomic int errors;
	_Atomic int received;
};

struct targ {
	struct tshared *sh;
	int id;
};

static void *tproducer(void *arg)
{
	struct targ *a = arg;
	dipc_channel *ch = a->sh->ch;
	dipc_pool *p;
	dipc_channel_pool(ch, &p);
	dipc_sendh *sh = mksend(ch, a->id == 0 ? DIPC_WAIT_SPIN : DIPC_WAIT_ADAPTIVE,
				DIPC_WAIT_FOREVER);
	static _Thread_local unsigned char buf[4 * TBLOCK];
	uint64_t seed = 77 + (uint64_t)a->id;
	for (uint64_t s = 0; s < TPER; s++) {
		size_t len = sizeof(struct tc_msghdr) + (size_t)(tc_rand(&seed) % (3 * TBLOCK));
		int rc;
		if (s % 3 == 2) {
			dipc_msg *m;
			rc = dipc_msg_create_alloc(p, len, &m);
			if (rc == 0) {
				void *ptr;
				dipc_msg_get(m, &ptr, NULL);
				tc_msg_make(ptr, (uint32_t)a->id, s, len);
				rc = dipc_sendh_send(sh, m, NULL, (s & 4) ? DIPC_TRANSFER_ON_SEND
							: DIPC_COPY_ON_SEND, 30 * TC_SEC);
				dipc_msg_destroy(m, 1);
			}
		} else {
			tc_msg_make(buf, (uint32_t)a->id, s, len);
			rc = dipc_sendh_send_bytes(sh, buf, len, 30 * TC_SEC);
		}
		if (rc) {
			diag("producer %d: %s", a->id, dipc_strerror(rc));
			atomic_fetch_add(&a->sh->errors, 1);
			break;
		}
	}
	dipc_sendh_destroy(sh);
	return NULL;
}

static void *tconsumer(void *arg)
{
	struct targ *a = arg;
	dipc_recvh *rh = mkrecv(a->sh->ch, a->id == 0 ? DIPC_WAIT_IDLE : DIPC_WAIT_ADAPTIVE,
				DIPC_WAIT_FOREVER);
	uint64_t last[TP];
	for (int i = 0; i < TP; i++)
		last[i] = UINT64_MAX;
	static _Thread_local unsigned char buf[4 * TBLOCK];
	for (unsigned n = 0;; n++) {
		void *ptr = buf;
		size_t len = 0;
		dipc_msg *m = NULL;
		int rc;
		if (n % 2) {
			dipc_msg_create_empty(&m);
			rc = dipc_recvh_recv(rh, m, 30 * TC_SEC);
			dipc_msg_get(m, &ptr, &len);
		} else {
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 30 * TC_SEC);
		}
		uint32_t prod;
		uint64_t seq;
		int kind = rc ? -1 : tc_msg_read(ptr, len, &prod, &seq);
		if (m)
			dipc_msg_destroy(m, 1);
		if (kind == 1)
			break;
		if (kind < 0 || prod >= TP || seq >= TPER) {
			diag("consumer %d: %s", a->id, rc ? dipc_strerror(rc) : "a broken message");
			atomic_fetch_add(&a->sh->errors, 1);
			break;
		}
		if (last[prod] != UINT64_MAX && seq <= last[prod]) {
			diag("consumer %d: producer %u's %llu after %llu", a->id, prod,
			     (unsigned long long)seq, (unsigned long long)last[prod]);
			atomic_fetch_add(&a->sh->errors, 1);
		}
		last[prod] = seq;
		atomic_fetch_add(&a->sh->counts[prod][seq], 1);
		atomic_fetch_add(&a->sh->received, 1);
	}
	dipc_recvh_destroy(rh);
	return NULL;
}

static void test_threads(void)
{
	dipc_pool *p;
	tc_pool_new("threads", 4 << 20, &p);
	if (!p)
		return;
	uint64_t base = nallocs(p);
	struct tshared *sh = calloc(1, sizeof(*sh));
	sh->ch = mkchan(p, 10, 8, TBLOCK);
	if (!sh->ch)
		goto out;
	base = nallocs(p);
	tc_thread pt[TP], ct[TCN];
	struct targ pa[TP], ca[TCN];
	int64_t t0 = tc_now_ns();
	for (int i = 0; i < TCN; i++) {
		ca[i] = (struct targ){ sh, i };
		tc_thread_start(&ct[i], tconsumer, &ca[i]);
	}
	for (int i = 0; i < TP; i++) {
		pa[i] = (struct targ){ sh, i };
		tc_thread_start(&pt[i], tproducer, &pa[i]);
	}
	for (int i = 0; i < TP; i++)
		tc_thread_join(pt[i]);
	dipc_sendh *stop = mksend(sh->ch, DIPC_WAIT_ADAPTIVE, DIPC_WAIT_FOREVER);
	unsigned char sb[sizeof(struct tc_msghdr)];
	tc_msg_stop(sb);
	for (int i = 0; i < TCN; i++)
		dipc_sendh_send_bytes(stop, sb, sizeof(sb), 30 * TC_SEC);
	dipc_sendh_destroy(stop);
	for (int i = 0; i < TCN; i++)
		tc_thread_join(ct[i]);
	int once = 1;
	for (int i = 0; i < TP; i++)
		for (int s = 0; s < TPER; s++)
			if (atomic_load(&sh->counts[i][s]) != 1) {
				if (once)
					diag("producer %d message %d arrived %u times", i, s,
					     atomic_load(&sh->counts[i][s]));
				once = 0;
			}
	is_int(atomic_load(&sh->errors), 0,
	       "%d producer and %d consumer threads: no error, per-producer order kept", TP, TCN);
	ok(once, "every one of %d messages arrived exactly once (%d received, %.0f ms)",
	   TP * TPER, atomic_load(&sh->received), (double)(tc_now_ns() - t0) / 1e6);
	is_int(dipc_channel_count(sh->ch), 0, "the channel is empty");
	is_int(nallocs(p), base, "no allocation left behind");
	E(dipc_channel_destroy(sh->ch), 0);
out:
	free(sh);
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	test_basics();
	test_handles();
	test_sizes();
	test_waits();
	test_msgsize();
	test_messages();
	test_poll();
	test_destroyed();
	test_threads();
	return tc_finish();
}

/*
 * pool_wait.c - a channel call that needs room in the pool waits for it
 * within the caller's timeout, as dipc_pool_alloc_wait does.
 *
 * The pool is filled with allocations of its own until it has no room for
 * the payload.  Then, for each call that makes an allocation on the
 * caller's behalf:
 *
 *   dipc_sendh_send_bytes of more than the block size
 *   dipc_sendh_send of a message by copy, more than the block size
 *   dipc_recvh_recv into an empty message, of a payload held in the slot
 *
 * try once gets DIPC_ENOSPC and leaves everything as it was; a 200 ms
 * timeout with nobody freeing gets DIPC_ETIMEDOUT; a 2 s timeout succeeds
 * once another process frees one of the filling allocations 0.3 s later,
 * and the payload arrives whole.  (Before this rule the timed calls failed
 * at once with DIPC_ENOSPC.)  Durations are printed, not asserted; a call
 * that has not returned after its timeout plus 10 s fails.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define BLOCK 256
#define BIG (48 * 1024)        /* travels in an allocation */
#define SMALL 200              /* held in the slot */
#define NFILL 64

int t_child(const char *role, const char *arg)
{
	if (strcmp(role, "free") != 0)
		return 99;
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	const char *a = arg;
	dipc_pool *p;
	dipc_mem *m;
	if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
		return 10;
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &m))
		return 11;
	tc_sleep_ms(300);
	int rc = dipc_mem_free(m);
	dipc_pool_detach(p);
	return rc ? 12 : 0;
}

struct fill {
	dipc_mem *big[NFILL];
	int nbig;
	dipc_mem *tiny[4096];
	int ntiny;
};

/* Take every byte the pool has: BIG-sized blocks, then tiny ones. */
static void fill_up(dipc_pool *p, struct fill *f)
{
	while (f->nbig < NFILL && dipc_pool_alloc(p, BIG, &f->big[f->nbig]) == 0)
		f->nbig++;
	while (f->ntiny < 4096 && dipc_pool_alloc(p, 64, &f->tiny[f->ntiny]) == 0)
		f->ntiny++;
}

static void empty_out(struct fill *f)
{
	for (int i = 0; i < f->nbig; i++)
		dipc_mem_free(f->big[i]);
	for (int i = 0; i < f->ntiny; i++)
		dipc_mem_free(f->tiny[i]);
	f->nbig = f->ntiny = 0;
}

/* A child that frees the last BIG block 0.3 s from now; the handle here
 * is dropped (the block is the child's to free). */
static t_pid free_later(dipc_pool *p, struct fill *f)
{
	char arg[2 * TC_HEX_MAX + 2], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	dipc_mem *m = f->big[--f->nbig];
	tc_hex_pool(p, ph);
	tc_hex_mem(m, mh);
	dipc_mem_detach(m);
	snprintf(arg, sizeof(arg), "%s:%s", ph, mh);
	return tc_spawn("free", arg);
}

static void fill_buf(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 31 + seed);
}

static int same(const unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

static void timed(int64_t t0, const char *what, int64_t limit)
{
	int64_t el = tc_now_ns() - t0;
	diag("%s: returned after %.3f s", what, (double)el / 1e9);
	ok(el < limit, "%s returned within its timeout plus 10 s", what);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);

	dipc_pool *p;
	if (!tc_pool_new("pwait", DIPC_POOL_MIN_SIZE, &p))
		bail_out("no pool");
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 4;
	ca.block_size = BLOCK;
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	if (dipc_channel_create(p, 1, &ca, &ch) || dipc_sendh_create(ch, NULL, &sh) ||
	    dipc_sendh_open(sh) || dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("no channel");
	static unsigned char buf[BIG], back[BIG];
	dipc_msg *msg;
	if (dipc_msg_create_alloc(p, BIG, &msg))
		bail_out("no message");
	void *mp;
	dipc_msg_get(msg, &mp, NULL);

	struct fill f = { .nbig = 0 };
	fill_up(p, &f);
	ok(f.nbig > 2, "the pool is full (%d blocks of %d bytes, %d tiny ones)", f.nbig, BIG,
	   f.ntiny);

	/* ---- send_bytes ------------------------------------------------- */
	fill_buf(buf, BIG, 1);
	E(dipc_sendh_send_bytes(sh, buf, BIG, DIPC_TRY_ONCE), DIPC_ENOSPC);
	int64_t t0 = tc_now_ns();
	E(dipc_sendh_send_bytes(sh, buf, BIG, 200 * TC_MS), DIPC_ETIMEDOUT);
	timed(t0, "send_bytes with 200 ms and nobody freeing", 10200 * TC_MS);
	is_int(dipc_channel_count(ch), 0, "nothing was sent by the failed calls");
	t_pid kid = free_later(p, &f);
	ok(kid != 0, "a child will free a block in 0.3 s");
	t0 = tc_now_ns();
	E(dipc_sendh_send_bytes(sh, buf, BIG, 2 * TC_SEC), 0);
	timed(t0, "send_bytes with 2 s while another process frees room", 12 * TC_SEC);
	is_int(tc_reap(kid, 30), 0, "the child freed its block");
	size_t len = 0;
	memset(back, 0, sizeof(back));
	E(dipc_recvh_recv_bytes(rh, back, sizeof(back), &len, DIPC_TRY_ONCE), 0);
	ok(len == BIG && same(back, BIG, 1), "send_bytes: the payload arrived whole");
	fill_up(p, &f);

	/* ---- send by copy ---------------------------------------------- */
	fill_buf(mp, BIG, 2);
	E(dipc_sendh_send(sh, msg, NULL, DIPC_COPY_ON_SEND, DIPC_TRY_ONCE), DIPC_ENOSPC);
	t0 = tc_now_ns();
	E(dipc_sendh_send(sh, msg, NULL, DIPC_COPY_ON_SEND, 200 * TC_MS), DIPC_ETIMEDOUT);
	timed(t0, "send by copy with 200 ms and nobody freeing", 10200 * TC_MS);
	kid = free_later(p, &f);
	t0 = tc_now_ns();
	E(dipc_sendh_send(sh, msg, NULL, DIPC_COPY_ON_SEND, 2 * TC_SEC), 0);
	timed(t0, "send by copy with 2 s while another process frees room", 12 * TC_SEC);
	is_int(tc_reap(kid, 30), 0, "the child freed its block");
	len = 0;
	E(dipc_recvh_recv_bytes(rh, back, sizeof(back), &len, DIPC_TRY_ONCE), 0);
	ok(len == BIG && same(back, BIG, 2), "send by copy: the payload arrived whole");
	size_t msz = 0;
	dipc_msg_get(msg, NULL, &msz);
	is_int(msz, BIG, "the message sent by copy is still the sender's");
	fill_up(p, &f);

	/* ---- receive into an empty message -------------------------------- */
	fill_buf(buf, SMALL, 3);
	E(dipc_sendh_send_bytes(sh, buf, SMALL, DIPC_TRY_ONCE), 0);
	dipc_msg *in;
	if (dipc_msg_create_empty(&in))
		bail_out("no empty message");
	E(dipc_recvh_recv(rh, in, DIPC_TRY_ONCE), DIPC_ENOSPC);
	t0 = tc_now_ns();
	E(dipc_recvh_recv(rh, in, 200 * TC_MS), DIPC_ETIMEDOUT);
	timed(t0, "receive into an empty message with 200 ms and nobody freeing", 10200 * TC_MS);
	is_int(dipc_channel_count(ch), 1, "the message stayed in the channel");
	kid = free_later(p, &f);
	t0 = tc_now_ns();
	E(dipc_recvh_recv(rh, in, 2 * TC_SEC), 0);
	timed(t0, "receive into an empty message with 2 s while another process frees room",
	      12 * TC_SEC);
	is_int(tc_reap(kid, 30), 0, "the child freed its block");
	void *ip = NULL;
	size_t isz = 0;
	dipc_msg_get(in, &ip, &isz);
	ok(isz == SMALL && ip && same(ip, SMALL, 3), "receive: the payload arrived whole");
	dipc_msg_destroy(in, 1);
	is_int(dipc_channel_count(ch), 0, "the channel is empty");

	empty_out(&f);
	dipc_msg_destroy(msg, 1);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	is_int(st.nallocs, 0, "every allocation went back to the pool");
	E(tc_pool_del(p), 0);
	return tc_finish();
}

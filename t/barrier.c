/*
 * barrier.c - a channel used as a barrier (dipc_channel_barrier), with
 * Dragon's semantics.
 *
 *  1. one process, capacity 3: parties are counted, the third is told it
 *     came last; a wait while the full count awaits its release is
 *     DIPC_EFULL (try once) or DIPC_ETIMEDOUT (and changes nothing); the
 *     release puts 0, 1, 2 into the channel; a new round waits until they
 *     are all taken;
 *  2. abort releases the counted parties with -1 and breaks the barrier
 *     (waits DIPC_EBROKEN, a release does nothing); reset releases whoever
 *     is counted and mends it; a reset of a full count releases it
 *     properly;
 *  3. processes: ten parties on a barrier of five, three times over, the
 *     last of each five releasing the others: every value 0..4 is handed
 *     out exactly twice per turn; four parties aborted by another process
 *     all see -1, and after a reset five parties pass again;
 *  4. the holder of the barrier's lock dies half-way through a release
 *     (its state left so by hand, which is why this test is linked with
 *     the library's sources): the next caller takes over and finds the
 *     barrier broken; a reset mends it;
 *  5. a party asleep waiting for a release is woken by a destroy of the
 *     channel in another process and fails with DIPC_EDESTROYED;
 *  6. bad input.
 * Waits are hang-guarded; durations are never asserted.
 */
#include "coretest.h"
#include "channel.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)
#define NO_SUCH_PID 0x7ffffff3u
#define PARTIES 5

struct book {
	_Atomic uint64_t values[PARTIES + 1];   /* [PARTIES]: the -1s */
	_Atomic uint64_t last;                  /* parties told they came last */
	_Atomic uint64_t bad;
};

/* Exit codes of a party: 0 released with a value, 2 with -1 (or found
 * the barrier broken), 3 destroyed, else a failure. */
static int party(dipc_channel *ch, struct book *bk)
{
	dipc_recvh *rh;
	if (dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		return 10;
	int rc = dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 60 * TC_SEC);
	if (rc == DIPC_BARRIER_LAST) {
		atomic_fetch_add(&bk->last, 1);
		rc = dipc_channel_barrier(ch, DIPC_BARRIER_RELEASE, 60 * TC_SEC);
	}
	if (rc == DIPC_EBROKEN) {
		dipc_recvh_destroy(rh);
		return 2;
	}
	if (rc == DIPC_EDESTROYED) {
		dipc_recvh_destroy(rh);
		return 3;
	}
	if (rc)
		return 11;
	int32_t v = 0;
	size_t len = 0;
	rc = dipc_recvh_recv_bytes(rh, &v, sizeof(v), &len, 60 * TC_SEC);
	dipc_recvh_destroy(rh);
	if (rc == DIPC_EDESTROYED)
		return 3;
	if (rc || len != sizeof(v))
		return 12;
	if (v == -1) {
		atomic_fetch_add(&bk->values[PARTIES], 1);
		return 2;
	}
	if (v < 0 || v >= PARTIES) {
		atomic_fetch_add(&bk->bad, 1);
		return 13;
	}
	atomic_fetch_add(&bk->values[v], 1);
	return 0;
}

int t_child(const char *role, const char *arg)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	const char *a = arg;
	dipc_channel *ch;
	dipc_pool *p;
	dipc_mem *bm;
	if (tc_attach_chan_hex(tc_field(&a, hex, sizeof(hex)), NULL, &ch))
		return 20;
	dipc_channel_pool(ch, &p);
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &bm))
		return 21;
	struct book *bk = tc_ptr(bm);
	int rc = 99;
	if (strcmp(role, "party") == 0)
		rc = party(ch, bk);
	dipc_mem_detach(bm);
	dipc_channel_detach(ch);
	return rc;
}

static int32_t take_value(dipc_recvh *rh)
{
	int32_t v = -100;
	size_t len = 0;
	if (dipc_recvh_recv_bytes(rh, &v, sizeof(v), &len, DIPC_TRY_ONCE) || len != sizeof(v))
		return -100;
	return v;
}

static void one_process(void)
{
	dipc_pool *p;
	if (!tc_pool_new("bar1", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = 3;
	a.block_size = 8;
	dipc_channel *ch;
	dipc_recvh *rh;
	if (dipc_channel_create(p, 1, &a, &ch) || dipc_recvh_create(ch, NULL, &rh) ||
	    dipc_recvh_open(rh))
		bail_out("no channel");

	/* 1 */
	E(dipc_channel_barrier_count(ch), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), 0);
	E(dipc_channel_barrier_count(ch), 2);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), DIPC_BARRIER_LAST);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), DIPC_EFULL);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 100 * TC_MS), DIPC_ETIMEDOUT);
	E(dipc_channel_barrier_count(ch), 3);
	E(dipc_channel_barrier_broken(ch), 0);
	E(dipc_channel_count(ch), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RELEASE, DIPC_TRY_ONCE), 0);
	E(dipc_channel_barrier_count(ch), 0);
	E(dipc_channel_count(ch), 3);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), DIPC_EFULL);
	int32_t v0 = take_value(rh), v1 = take_value(rh), v2 = take_value(rh);
	ok(v0 == 0 && v1 == 1 && v2 == 2, "the release handed out 0, 1, 2 (%d %d %d)", v0, v1, v2);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), 0);

	/* 2 */
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, DIPC_TRY_ONCE), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_ABORT, DIPC_TRY_ONCE), 0);
	E(dipc_channel_barrier_broken(ch), 1);
	E(dipc_channel_barrier_count(ch), 0);
	v0 = take_value(rh);
	v1 = take_value(rh);
	ok(v0 == -1 && v1 == -1, "abort released the two counted parties with -1");
	E(dipc_channel_count(ch), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 10 * TC_SEC), DIPC_EBROKEN);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RELEASE, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_ABORT, 0), 0);
	E(dipc_channel_count(ch), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 0), 0);
	E(dipc_channel_barrier_broken(ch), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 0), 0);
	ok(take_value(rh) == -1 && dipc_channel_count(ch) == 0,
	   "a reset releases a party counted early with -1");
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), DIPC_BARRIER_LAST);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 0), 0);
	v0 = take_value(rh);
	v1 = take_value(rh);
	v2 = take_value(rh);
	ok(v0 == 0 && v1 == 1 && v2 == 2, "a reset of a full count releases it properly");
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RELEASE, 0), 0);
	E(dipc_channel_count(ch), 0);

	/* 4: a release cut short by its holder's death. */
	struct chan_hdr *h = ch->hdr;
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), 0);
	atomic_store(&h->barrier_lock.owner, NO_SUCH_PID);
	atomic_fetch_or(&h->barrier_flags, BARRIER_RELEASING);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 10 * TC_SEC), DIPC_EBROKEN);
	E(dipc_channel_barrier_broken(ch), 1);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), 0);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 0), 0);
	take_value(rh);

	/* 6 */
	E(dipc_channel_barrier(NULL, DIPC_BARRIER_WAIT, 0), DIPC_EINVAL);
	E(dipc_channel_barrier(ch, 0, 0), DIPC_EINVAL);
	E(dipc_channel_barrier(ch, 5, 0), DIPC_EINVAL);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, -2), DIPC_EINVAL);
	E(dipc_channel_barrier_count(NULL), DIPC_EINVAL);
	E(dipc_channel_barrier_broken(NULL), DIPC_EINVAL);
	dipc_channel *tiny;
	a.block_size = 3;
	E(dipc_channel_create(p, 2, &a, &tiny), 0);
	E(dipc_channel_barrier(tiny, DIPC_BARRIER_WAIT, 0), DIPC_EINVAL);
	E(dipc_channel_destroy(tiny), 0);

	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
}

static void processes(void)
{
	dipc_pool *p;
	if (!tc_pool_new("bar3", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = PARTIES;
	a.block_size = 64;
	dipc_channel *ch;
	dipc_mem *bm;
	if (dipc_channel_create(p, 1, &a, &ch) || dipc_pool_alloc(p, sizeof(struct book), &bm))
		bail_out("no channel");
	struct book *bk = tc_ptr(bm);
	char arg[2 * TC_HEX_MAX + 2], chx[TC_HEX_MAX], bkx[TC_HEX_MAX];
	tc_hex_chan(ch, chx);
	tc_hex_mem(bm, bkx);
	snprintf(arg, sizeof(arg), "%s:%s", chx, bkx);

	for (int turn = 0; turn < 3; turn++) {
		memset(bk, 0, sizeof(*bk));
		t_pid kids[2 * PARTIES];
		for (int i = 0; i < 2 * PARTIES; i++)
			kids[i] = tc_spawn("party", arg);
		int good = 0;
		for (int i = 0; i < 2 * PARTIES; i++)
			good += tc_reap(kids[i], 120) == 0;
		int twice = 1;
		for (int v = 0; v < PARTIES; v++)
			twice &= atomic_load(&bk->values[v]) == 2;
		ok(good == 2 * PARTIES && twice && atomic_load(&bk->last) == 2,
		   "turn %d: ten parties on a barrier of five pass, each value handed out twice, "
		   "two came last (%d passed)", turn + 1, good);
	}
	E(dipc_channel_count(ch), 0);

	/* Four parties aborted by this process. */
	memset(bk, 0, sizeof(*bk));
	t_pid kids[PARTIES];
	for (int i = 0; i < PARTIES - 1; i++)
		kids[i] = tc_spawn("party", arg);
	int64_t end = tc_now_ns() + 60 * TC_SEC;
	while (dipc_channel_barrier_count(ch) < PARTIES - 1 && tc_now_ns() < end)
		tc_sleep_ms(5);
	E(dipc_channel_barrier_count(ch), PARTIES - 1);
	E(dipc_channel_barrier(ch, DIPC_BARRIER_ABORT, 5 * TC_SEC), 0);
	int aborted = 0;
	for (int i = 0; i < PARTIES - 1; i++)
		aborted += tc_reap(kids[i], 60) == 2;
	is_int(aborted, PARTIES - 1, "the four parties all saw the barrier broken");
	E(dipc_channel_barrier(ch, DIPC_BARRIER_RESET, 5 * TC_SEC), 0);
	int good = 0;
	for (int i = 0; i < PARTIES; i++)
		kids[i] = tc_spawn("party", arg);
	for (int i = 0; i < PARTIES; i++)
		good += tc_reap(kids[i], 120) == 0;
	is_int(good, PARTIES, "after a reset five parties pass again");

	/* 5: a party asleep on a pending release, the channel destroyed. */
	for (int i = 0; i < PARTIES; i++)
		E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), i == PARTIES - 1 ? 1 : 0);
	t_pid late = tc_spawn("party", arg);
	tc_sleep_ms(300);
	unsigned char ser[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(ch, ser, sizeof(ser));
	dipc_channel *other;
	E(dipc_channel_attach(ser, (size_t)n, p, &other), 0);
	E(dipc_channel_destroy(other), 0);
	is_int(tc_reap(late, 60), 3, "a party asleep on a pending release sees the destroy");
	E(dipc_channel_barrier(ch, DIPC_BARRIER_WAIT, 0), DIPC_EDESTROYED);
	E(dipc_channel_detach(ch), 0);
	dipc_mem_free(bm);
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(600);
	one_process();
	processes();
	return tc_finish();
}

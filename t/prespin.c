/*
 * prespin.c - a try-once send keeps trying for a moment while receivers
 * wait, and never sleeps.
 *
 *  1. nobody waits: a full channel's try-once send is DIPC_EFULL, and
 *     dipc_channel_blocked_receivers says 0;
 *  2. ten receiver processes asleep on a channel of capacity five (the
 *     count of blocked receivers reaches ten): ten try-once sends all
 *     succeed, and each receiver gets one message (Dragon's behaviour);
 *     three times over.  This needs the woken receivers to get a
 *     processor within the pre-spin's bound (a millisecond), which a
 *     machine busy with other tests may not give: a turn that falls short
 *     is tried again, twice at most, and says so;
 *  3. (POSIX) receivers stopped while in the waiter set and the channel
 *     full: a try-once send still returns DIPC_EFULL (it is hang-guarded,
 *     not timed).
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)
#define CAP 5
#define NRECV 10

int t_child(const char *role, const char *arg)
{
	char hex[TC_HEX_MAX];
	const char *a = arg;
	dipc_channel *ch;
	dipc_recvh *rh;
	if (strcmp(role, "recv") != 0)
		return 99;
	if (tc_attach_chan_hex(tc_field(&a, hex, sizeof(hex)), NULL, &ch))
		return 10;
	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = DIPC_WAIT_IDLE;   /* asleep at once, in the waiter set */
	if (dipc_recvh_create(ch, &ha, &rh) || dipc_recvh_open(rh))
		return 11;
	unsigned char buf[64];
	size_t len;
	int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 120 * TC_SEC);
	dipc_recvh_destroy(rh);
	dipc_channel_detach(ch);
	return rc ? 12 : 0;
}

static int wait_blocked(dipc_channel *ch, int n)
{
	int64_t end = tc_now_ns() + 60 * TC_SEC;
	while (dipc_channel_blocked_receivers(ch) < n && tc_now_ns() < end)
		tc_sleep_ms(5);
	return dipc_channel_blocked_receivers(ch);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(600);
	dipc_pool *p;
	if (!tc_pool_new("prespin", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = CAP;
	a.block_size = 64;
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	if (dipc_channel_create(p, 1, &a, &ch) || dipc_sendh_create(ch, NULL, &sh) ||
	    dipc_sendh_open(sh) || dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("no channel");
	char hex[TC_HEX_MAX];
	tc_hex_chan(ch, hex);

	/* 1 */
	E(dipc_channel_blocked_receivers(ch), 0);
	for (int i = 0; i < CAP; i++)
		E(dipc_sendh_send_bytes(sh, "m", 2, DIPC_TRY_ONCE), 0);
	E(dipc_sendh_send_bytes(sh, "m", 2, DIPC_TRY_ONCE), DIPC_EFULL);
	for (int i = 0; i < CAP; i++) {
		char b[8];
		size_t len;
		dipc_recvh_recv_bytes(rh, b, sizeof(b), &len, 0);
	}
	E(dipc_channel_blocked_receivers(NULL), DIPC_EINVAL);

	/* 2 */
	for (int turn = 0; turn < 3; turn++) {
		int sent = 0, asleep = 0, got = 0;
		for (int attempt = 0; attempt < 3 && sent < NRECV; attempt++) {
			t_pid kids[NRECV];
			for (int i = 0; i < NRECV; i++)
				kids[i] = tc_spawn("recv", hex);
			asleep = wait_blocked(ch, NRECV);
			sent = 0;
			for (int i = 0; i < NRECV; i++)
				sent += dipc_sendh_send_bytes(sh, "hello", 6, DIPC_TRY_ONCE) == 0;
			if (sent < NRECV) {
				diag("turn %d: %d of ten went in; the rest as blocking sends, and "
				     "once more", turn + 1, sent);
				for (int i = sent; i < NRECV; i++)
					dipc_sendh_send_bytes(sh, "hello", 6, 30 * TC_SEC);
			}
			got = 0;
			for (int i = 0; i < NRECV; i++)
				got += tc_reap(kids[i], 60) == 0;
		}
		is_int(asleep, NRECV, "turn %d: ten receivers asleep", turn + 1);
		is_int(sent, NRECV, "turn %d: ten try-once sends into a channel of five succeed",
		       turn + 1);
		is_int(got, NRECV, "turn %d: each receiver got one message", turn + 1);
		E(dipc_channel_count(ch), 0);
	}

#ifndef _WIN32
	/* 3 */
	t_pid kids[CAP + 1];
	for (int i = 0; i < CAP + 1; i++)
		kids[i] = tc_spawn("recv", hex);
	is_int(wait_blocked(ch, CAP + 1), CAP + 1, "six receivers asleep");
	for (int i = 0; i < CAP + 1; i++)
		kill(kids[i], SIGSTOP);
	for (int i = 0; i < CAP; i++)
		E(dipc_sendh_send_bytes(sh, "s", 2, DIPC_TRY_ONCE), 0);
	int64_t t0 = tc_now_ns();
	E(dipc_sendh_send_bytes(sh, "s", 2, DIPC_TRY_ONCE), DIPC_EFULL);
	int64_t el = tc_now_ns() - t0;
	diag("the try-once send beside stopped receivers returned after %.6f s",
	     (double)el / 1e9);
	ok(el < 10 * TC_SEC, "it returned (a hang guard, not a timing)");
	for (int i = 0; i < CAP + 1; i++)
		kill(kids[i], SIGCONT);
	E(dipc_sendh_send_bytes(sh, "s", 2, 30 * TC_SEC), 0);
	int got = 0;
	for (int i = 0; i < CAP + 1; i++)
		got += tc_reap(kids[i], 60) == 0;
	is_int(got, CAP + 1, "once they go on, each gets one message");
#else
	skip(9, "no SIGSTOP here");
#endif

	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
	return tc_finish();
}

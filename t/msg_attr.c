/*
 * msg_attr.c - a message's attributes (dipc_msg_set_attr, dipc_msg_attr)
 * travel with it: in every way a message can be sent (copied into the
 * slot, copied into an allocation, by transfer, through a dest message)
 * and received (into an empty message, into an allocation), between two
 * processes, and never leak from one message into the next one that
 * reuses the same slot.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define BLOCK 256   /* the channels' block size */
#define ROUNDS 40   /* messages the child sends */

static uint64_t attr_of(const dipc_msg *m, int which)
{
	uint64_t v = 0xdeadull;
	if (dipc_msg_attr(m, which, &v))
		return 0xbadull;
	return v;
}

static dipc_msg *msg_with(dipc_pool *p, size_t size, uint64_t hints, uint64_t clientid,
			  uint64_t seed)
{
	dipc_msg *m = NULL;
	if (dipc_msg_create_alloc(p, size, &m))
		return NULL;
	void *ptr;
	dipc_msg_get(m, &ptr, NULL);
	tc_fill(ptr, size, seed);
	dipc_msg_set_attr(m, DIPC_MSG_HINTS, hints);
	dipc_msg_set_attr(m, DIPC_MSG_CLIENTID, clientid);
	return m;
}

/* The payload of m is size bytes filled from seed. */
static int payload_is(const dipc_msg *m, size_t size, uint64_t seed)
{
	void *ptr;
	size_t sz;
	return dipc_msg_get(m, &ptr, &sz) == 0 && sz == size && tc_check(ptr, size, seed);
}

/* Sender: round i sends a message of attributes (i + 1, ~i) and a
 * payload seeded by i, by copy (small and large) and by transfer in turn;
 * every fifth round sends plain bytes instead (attributes 0). */
int t_child(const char *role, const char *arg)
{
	char ph[TC_HEX_MAX], chh[TC_HEX_MAX];
	const char *a = arg;
	tc_field(&a, ph, sizeof(ph));
	tc_field(&a, chh, sizeof(chh));
	if (strcmp(role, "sender") != 0)
		return 1;
	dipc_pool *p;
	dipc_channel *ch;
	dipc_sendh *sh;
	if (tc_attach_pool_hex(ph, &p) || tc_attach_chan_hex(chh, p, &ch) ||
	    dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh))
		return 10;
	for (uint64_t i = 0; i < ROUNDS; i++) {
		size_t size = i % 2 ? 3 * BLOCK : 100;
		if (i % 5 == 4) {
			unsigned char b[100];
			tc_fill(b, sizeof(b), i);
			if (dipc_sendh_send_bytes(sh, b, sizeof(b), 10 * TC_SEC))
				return 11;
			continue;
		}
		dipc_msg *m = msg_with(p, size, i + 1, ~i, i);
		if (!m)
			return 12;
		int own = i % 3 == 2 ? DIPC_TRANSFER_ON_SEND : DIPC_COPY_ON_SEND;
		if (dipc_sendh_send(sh, m, NULL, own, 10 * TC_SEC))
			return 13;
		dipc_msg_destroy(m, 1);
	}
	dipc_sendh_destroy(sh);
	dipc_channel_detach(ch);
	dipc_pool_detach(p);
	return 0;
}

static void test_local(dipc_pool *p)
{
	dipc_msg *m = NULL, *r = NULL;
	uint64_t v = 1;

	E(dipc_msg_create_empty(&m), 0);
	ok(attr_of(m, DIPC_MSG_HINTS) == 0 && attr_of(m, DIPC_MSG_CLIENTID) == 0,
	   "a new message has both attributes 0");
	E(dipc_msg_set_attr(m, DIPC_MSG_HINTS, 42), 0);
	E(dipc_msg_set_attr(m, DIPC_MSG_CLIENTID, UINT64_MAX), 0);
	ok(attr_of(m, DIPC_MSG_HINTS) == 42 && attr_of(m, DIPC_MSG_CLIENTID) == UINT64_MAX,
	   "set, they read back, the whole 64 bits");
	E(dipc_msg_attr(m, 2, &v), DIPC_EINVAL);
	ok(v == 0, "a refused read sets the value to 0");
	dipc_msg_destroy(m, 1);

	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 1;        /* every message goes through the same slot */
	ca.block_size = BLOCK;
	dipc_channel *ch = NULL;
	dipc_sendh *sh = NULL;
	dipc_recvh *rh = NULL;
	if (dipc_channel_create(p, 1, &ca, &ch) || dipc_sendh_create(ch, NULL, &sh) ||
	    dipc_sendh_open(sh) || dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("cannot make the channel");

	/* Copied into the slot, received into an empty message. */
	m = msg_with(p, 100, 7, 8, 1);
	E(dipc_sendh_send(sh, m, NULL, DIPC_COPY_ON_SEND, 0), 0);
	ok(attr_of(m, DIPC_MSG_HINTS) == 7 && attr_of(m, DIPC_MSG_CLIENTID) == 8,
	   "the sender's message keeps its attributes after a copy");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	ok(payload_is(r, 100, 1) && attr_of(r, DIPC_MSG_HINTS) == 7 &&
	   attr_of(r, DIPC_MSG_CLIENTID) == 8,
	   "copied in the slot: received into an empty message with its attributes");
	dipc_msg_destroy(r, 1);

	/* Copied into an allocation (larger than a block), received into an
	 * allocation whose attributes were something else. */
	dipc_msg *big = msg_with(p, 3 * BLOCK, 9, 10, 2);
	E(dipc_sendh_send(sh, big, NULL, DIPC_COPY_ON_SEND, 0), 0);
	dipc_msg *into = msg_with(p, 4 * BLOCK, 111, 222, 99);
	E(dipc_recvh_recv(rh, into, 0), 0);
	ok(payload_is(into, 3 * BLOCK, 2) && attr_of(into, DIPC_MSG_HINTS) == 9 &&
	   attr_of(into, DIPC_MSG_CLIENTID) == 10,
	   "copied in an allocation: received into an allocation, its attributes replaced");

	/* By transfer: the allocation and the attributes travel; the sender's
	 * message, empty now, still has them. */
	E(dipc_sendh_send(sh, big, NULL, DIPC_TRANSFER_ON_SEND, 0), 0);
	ok(attr_of(big, DIPC_MSG_HINTS) == 9 && attr_of(big, DIPC_MSG_CLIENTID) == 10,
	   "a message emptied by a transfer keeps its attributes");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	ok(payload_is(r, 3 * BLOCK, 2) && attr_of(r, DIPC_MSG_HINTS) == 9 &&
	   attr_of(r, DIPC_MSG_CLIENTID) == 10, "by transfer: the attributes travel with it");
	dipc_msg_destroy(r, 1);
	dipc_msg_destroy(big, 1);

	/* Through a dest message: the attributes are msg's, not dest's. */
	dipc_msg *dest = msg_with(p, 200, 500, 600, 0);
	E(dipc_sendh_send(sh, m, dest, DIPC_COPY_ON_SEND, 0), 0);
	ok(attr_of(dest, DIPC_MSG_HINTS) == 500, "dest keeps its own attributes");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	ok(payload_is(r, 100, 1) && attr_of(r, DIPC_MSG_HINTS) == 7 &&
	   attr_of(r, DIPC_MSG_CLIENTID) == 8, "through dest: the sender's attributes travel");
	dipc_msg_destroy(r, 1);
	dipc_msg_destroy(dest, 1);

	/* Bytes through the same slot as messages with attributes: zeros. */
	E(dipc_sendh_send_bytes(sh, "plain", 5, 0), 0);
	E(dipc_recvh_recv(rh, into, 0), 0);
	ok(attr_of(into, DIPC_MSG_HINTS) == 0 && attr_of(into, DIPC_MSG_CLIENTID) == 0,
	   "bytes sent through a slot that carried attributes arrive with zeros");
	E(dipc_sendh_send(sh, m, NULL, DIPC_COPY_ON_SEND, 0), 0);
	char buf[BLOCK];
	size_t len = 0;
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	ok(len == 100, "recv_bytes takes a message with attributes (they are not reported)");

	/* A receive that fails leaves the attributes. */
	dipc_msg_set_attr(into, DIPC_MSG_HINTS, 31);
	E(dipc_recvh_recv(rh, into, 0), DIPC_EEMPTY);
	ok(attr_of(into, DIPC_MSG_HINTS) == 31, "an empty channel leaves the attributes as they were");
	big = msg_with(p, 3 * BLOCK, 3, 4, 5);
	E(dipc_sendh_send(sh, big, NULL, DIPC_COPY_ON_SEND, 0), 0);
	dipc_msg *small = msg_with(p, 100, 32, 33, 6);
	E(dipc_recvh_recv(rh, small, 0), DIPC_EMSGSIZE);
	ok(attr_of(small, DIPC_MSG_HINTS) == 32, "a message too large for the allocation leaves them");
	dipc_msg_create_empty(&r);
	E(dipc_recvh_recv(rh, r, 0), 0);
	ok(attr_of(r, DIPC_MSG_HINTS) == 3 && attr_of(r, DIPC_MSG_CLIENTID) == 4,
	   "and the message, still in the channel, comes with its own");
	dipc_msg_destroy(r, 1);
	dipc_msg_destroy(small, 1);
	dipc_msg_destroy(big, 1);
	dipc_msg_destroy(into, 1);
	dipc_msg_destroy(m, 1);

	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
}

static void test_two_processes(dipc_pool *p)
{
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 3;
	ca.block_size = BLOCK;
	dipc_channel *ch = NULL;
	dipc_recvh *rh = NULL;
	if (dipc_channel_create(p, 2, &ca, &ch) || dipc_recvh_create(ch, NULL, &rh) ||
	    dipc_recvh_open(rh))
		bail_out("cannot make the channel");
	char arg[3 * TC_HEX_MAX];
	char ph[TC_HEX_MAX], chh[TC_HEX_MAX];
	tc_hex_pool(p, ph);
	tc_hex_chan(ch, chh);
	snprintf(arg, sizeof(arg), "%s:%s", ph, chh);
	t_pid kid = tc_spawn("sender", arg);
	ok(kid != 0, "the sender process started");
	int good = 0, zeros = 0, bad = 0;
	for (uint64_t i = 0; i < ROUNDS && kid; i++) {
		dipc_msg *r = NULL;
		dipc_msg_create_empty(&r);
		/* Received into an allocation every third round. */
		if (i % 3 == 1) {
			dipc_msg_destroy(r, 1);
			r = msg_with(p, 4 * BLOCK, 1234, 5678, 0);
		}
		int rc = dipc_recvh_recv(rh, r, 30 * TC_SEC);
		if (rc) {
			diag("round %u: %s", (unsigned)i, dipc_strerror(rc));
			bad++;
			dipc_msg_destroy(r, 1);
			break;
		}
		uint64_t hints = attr_of(r, DIPC_MSG_HINTS), cid = attr_of(r, DIPC_MSG_CLIENTID);
		size_t size = i % 5 == 4 ? 100 : i % 2 ? 3 * BLOCK : 100;
		if (!payload_is(r, size, i))
			bad++;
		else if (i % 5 == 4)
			zeros += hints == 0 && cid == 0;
		else
			good += hints == i + 1 && cid == ~i;
		dipc_msg_destroy(r, 1);
	}
	is_int(tc_reap(kid, 60), 0, "the sender sent everything");
	is_int(bad, 0, "every payload arrived whole and in order");
	is_int(good, ROUNDS - ROUNDS / 5, "every message from the other process had its attributes");
	is_int(zeros, ROUNDS / 5, "every plain send from it came with zeros");
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	dipc_pool *p;
	if (!tc_pool_new("msg-attr", 4 << 20, &p))
		bail_out("cannot make the pool");
	test_local(p);
	test_two_processes(p);
	E(tc_pool_del(p), 0);
	return tc_finish();
}

/*
 * leak_window.c - the state a process leaves when it is killed at each
 * step of sending or taking a message that travels in a pool allocation,
 * made by hand (the layouts are lib/channel.h's and lib/pool.h's), with
 * the ids of real dead processes.
 *
 * The protocol (lib/channel.c, rules 2 and 3): a sender allocates the
 * block as its owner, claims a slot (EMPTY -> WRITING|pid), records in
 * the block where it travels (the flight record) and commits (FULL),
 * staying the owner; a receiver takes the slot (FULL -> TAKING|pid), makes
 * the block its own, and lets the slot go (TAKING -> EMPTY of the next
 * lap) before it moves the head on.  A kill between two of those steps
 * leaves one of the states below, at position 0 of a fresh channel, with
 * two committed messages behind it (one in the slot, one in an
 * allocation) sent by a live process:
 *
 *   fresh       the sender's block, before it claimed a slot
 *   writing0    WRITING|dead sender, slot filled, no flight record yet
 *   writing     WRITING|dead sender, flight record set, not committed
 *   full        FULL, owner the dead sender (killed after its commit)
 *   taking-s    TAKING|dead receiver, owner still the dead sender
 *   taking-r    TAKING|dead receiver, owner the dead receiver
 *   taken       EMPTY of the next lap, owner the dead receiver, the head
 *               not moved on (killed after its last CAS)
 *
 * For each, with the message sent as bytes and by transfer of a message,
 * and taken into a buffer and into an empty message, the test checks:
 * dipc_pool_reclaim frees exactly the blocks nobody can reach any more
 * (fresh, writing0, writing, taken: 1) and never one the channel holds
 * (full, taking-s, taking-r: 0); a live receiver then gets every committed
 * message exactly once, in order, with its payload (the one in the dead
 * receiver's hands in "taken" is gone with it; an uncommitted one never
 * arrives); a second reclaim finds nothing; the pool's figures are back
 * at their baseline (0 allocations leaked); the channel still carries its
 * whole capacity.  Last, every state at once, one per channel: one
 * reclaim frees the four unreachable blocks and nothing else, and the
 * pool ends as it began.
 *
 * Before the flight record and TAKING, a receiver killed between taking
 * the slot and recording itself as owner, and a sender killed between
 * handing the block to the pool and committing, left a block that
 * belonged to nobody (t/crash_trials counted those "leak windows").
 */
#include "coretest.h"
#include "channel.h"

#define CAP   4
#define BLOCK 256
#define BIG   3000          /* travels in an allocation */
#define SMALL 100           /* travels in the slot */

enum st { S_FRESH, S_WRITING0, S_WRITING, S_FULL, S_TAKING_S, S_TAKING_R, S_TAKEN, NSTATES };
static const char *const st_name[NSTATES] = {
	"fresh", "writing0", "writing", "full", "taking-s", "taking-r", "taken",
};
/* Can anyone still reach the block: the channel holds it for a receiver. */
static const int held[NSTATES] = { 0, 0, 0, 1, 1, 1, 0 };
/* Is the message committed and still there for a live receiver. */
static const int arrives[NSTATES] = { 0, 0, 0, 1, 1, 1, 0 };

struct book {
	_Atomic uint64_t pid;
};

int t_child(const char *role, const char *arg)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	dipc_pool *p;
	dipc_mem *bm;
	const char *a = arg;
	if (strcmp(role, "pid") != 0)
		return 1;
	if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
		return 10;
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &bm))
		return 11;
	struct book *bk = tc_ptr(bm);
	atomic_store(&bk->pid, (uint64_t)tc_getpid());
	return 0;
}

/* A process id that is no longer alive: a child that exited and was
 * reaped. */
static uint32_t dead_pid(dipc_pool *p)
{
	char arg[2 * TC_HEX_MAX + 4], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	dipc_mem *bm;
	if (dipc_pool_alloc(p, sizeof(struct book), &bm))
		bail_out("no room for the book");
	struct book *bk = tc_ptr(bm);
	atomic_store(&bk->pid, 0);
	tc_hex_pool(p, ph);
	tc_hex_mem(bm, mh);
	snprintf(arg, sizeof(arg), "%s:%s", ph, mh);
	t_pid kid = tc_spawn("pid", arg);
	if (tc_reap(kid, 20) != 0 || !atomic_load(&bk->pid))
		bail_out("could not learn a dead process id");
	uint32_t pid = (uint32_t)atomic_load(&bk->pid);
	dipc_mem_free(bm);
	return pid;
}

static uint32_t dead_sender, dead_receiver;

/* ---- the layout ------------------------------------------------------------ */

static struct slot_hdr *slot(dipc_channel *ch, uint64_t pos)
{
	return (struct slot_hdr *)(void *)(ch->hdr->slots + (pos % ch->capacity) * ch->slot_size);
}

static struct blk_hdr *blk(dipc_channel *ch, uint64_t off)
{
	return (struct blk_hdr *)(void *)(ch->pool->heap + off);
}

static uint64_t word(uint64_t pos, int state, uint32_t pid)
{
	uint32_t stamp = (uint32_t)(pos / CAP) * SLOT_STATES + (uint32_t)state;
	return (uint64_t)stamp << 32 | pid;
}

/* ---- one case -------------------------------------------------------------- */

struct cs {
	enum st st;
	int by_transfer;        /* the dead sender's message: a message sent by transfer */
	int into_msg;           /* the live receiver takes into an empty message */
	int whole_pool;         /* the baseline is checked for the pool, at the end */
	char what[64];
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	struct dipc_pool_stats base;
};

static int send_big(struct cs *c, uint64_t seq, int by_transfer)
{
	dipc_pool *p;
	dipc_channel_pool(c->ch, &p);
	if (!by_transfer) {
		unsigned char buf[BIG];
		tc_msg_make(buf, 1, seq, sizeof(buf));
		return dipc_sendh_send_bytes(c->sh, buf, sizeof(buf), DIPC_TRY_ONCE);
	}
	dipc_msg *m;
	int rc = dipc_msg_create_alloc(p, BIG, &m);
	if (rc)
		return rc;
	void *ptr;
	dipc_msg_get(m, &ptr, NULL);
	tc_msg_make(ptr, 1, seq, BIG);
	rc = dipc_sendh_send(c->sh, m, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE);
	dipc_msg_destroy(m, 1);
	return rc;
}

/* Make the channel and leave the state of c->st at its position 0, with
 * two committed messages (2: in the slot, 3: in an allocation) behind. */
static void build(dipc_pool *p, uint64_t cuid, struct cs *c)
{
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = CAP;
	ca.block_size = BLOCK;
	if (dipc_channel_create(p, cuid, &ca, &c->ch) || dipc_sendh_create(c->ch, NULL, &c->sh) ||
	    dipc_sendh_open(c->sh) || dipc_recvh_create(c->ch, NULL, &c->rh) ||
	    dipc_recvh_open(c->rh))
		bail_out("cannot make a channel");
	dipc_pool_stats(p, &c->base);

	/* Message 1, the one the dead process was handling. */
	if (c->st == S_FRESH) {
		/* Allocated (as dipc_sendh_send_bytes does, or a message
		 * about to be sent by transfer), no slot claimed yet. */
		dipc_mem *m;
		if (dipc_pool_alloc(p, BIG, &m))
			bail_out("cannot allocate");
		unsigned char d[DIPC_SERIAL_MAX];
		dipc_mem_serialize(m, d, sizeof(d));
		uint64_t off = 0;
		for (int i = 0; i < 8; i++)
			off |= (uint64_t)d[24 + i] << (8 * i);
		atomic_store(&blk(c->ch, off)->owner, dead_sender);
		dipc_mem_detach(m);
	} else if (send_big(c, 1, c->by_transfer)) {
		bail_out("cannot send message 1");
	}
	unsigned char small[SMALL];
	tc_msg_make(small, 1, 2, sizeof(small));
	if (dipc_sendh_send_bytes(c->sh, small, sizeof(small), DIPC_TRY_ONCE) ||
	    send_big(c, 3, (int)(cuid & 1)))
		bail_out("cannot send messages 2 and 3");
	if (c->st == S_FRESH)
		return;

	struct slot_hdr *s = slot(c->ch, 0);
	uint64_t off = s->once_ref_blk;
	struct blk_hdr *b = blk(c->ch, off);
	switch (c->st) {
	case S_WRITING0:
		atomic_store(&b->flight_chan, 0);
		atomic_store(&b->flight_pos, 0);
		/* fall through */
	case S_WRITING:
		atomic_store(&b->owner, dead_sender);
		atomic_store(&s->word, word(0, SLOT_WRITING, dead_sender));
		break;
	case S_FULL:
		atomic_store(&b->owner, dead_sender);
		break;
	case S_TAKING_S:
		atomic_store(&b->owner, dead_sender);
		atomic_store(&s->word, word(0, SLOT_TAKING, dead_receiver));
		break;
	case S_TAKING_R:
		atomic_store(&b->owner, dead_receiver);
		atomic_store(&s->word, word(0, SLOT_TAKING, dead_receiver));
		break;
	case S_TAKEN: {
		/* Taken for real into a message; then the message's handle
		 * is dropped (not the memory), the owner made the dead
		 * receiver's, and the head put back where it was before the
		 * receiver moved it. */
		dipc_msg *m;
		dipc_msg_create_empty(&m);
		if (dipc_recvh_recv(c->rh, m, DIPC_TRY_ONCE))
			bail_out("cannot take message 1");
		atomic_store(&b->owner, dead_receiver);
		dipc_msg_destroy(m, 0);
		atomic_store(&c->ch->hdr->head, 0);
		break;
	}
	default:
		break;
	}
}

/* Take one message as a live receiver: its sequence number, 0 when the
 * channel is empty, -1 for anything wrong. */
static long long take(struct cs *c)
{
	uint32_t prod = 0;
	uint64_t seq = 0;
	int rc;
	if (c->into_msg) {
		dipc_msg *m;
		void *ptr;
		size_t sz;
		dipc_msg_create_empty(&m);
		rc = dipc_recvh_recv(c->rh, m, DIPC_TRY_ONCE);
		if (rc == 0)
			rc = dipc_msg_get(m, &ptr, &sz) || tc_msg_read(ptr, sz, &prod, &seq) ? -1 : 0;
		dipc_msg_destroy(m, 1);
	} else {
		static unsigned char buf[BIG];
		size_t len;
		rc = dipc_recvh_recv_bytes(c->rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE);
		if (rc == 0)
			rc = tc_msg_read(buf, len, &prod, &seq) ? -1 : 0;
	}
	if (rc == DIPC_EEMPTY)
		return 0;
	if (rc || prod != 1) {
		diag("%s: receive: %s", c->what, rc ? dipc_strerror(rc) : "a foreign message");
		return -1;
	}
	return (long long)seq;
}

/* Everything after reclaim: the live receiver, the figures, the ring. */
static void finish(dipc_pool *p, struct cs *c)
{
	char got[64] = "", want[64] = "";
	long long seq;
	int n = 0;
	while ((seq = take(c)) != 0 && n++ < 8)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", *got ? " " : "",
			 seq);
	snprintf(want, sizeof(want), "%s2 3", arrives[c->st] ? "1 " : "");
	ok(strcmp(got, want) == 0, "%s: a live receiver gets each committed message once, "
	   "in order, whole (got \"%s\", want \"%s\")", c->what, got, want);
	is_int(dipc_pool_reclaim(p), 0, "%s: then a reclaim finds nothing", c->what);
	if (!c->whole_pool) {
		struct dipc_pool_stats st;
		dipc_pool_stats(p, &st);
		ok(st.nallocs == c->base.nallocs && st.free == c->base.free,
		   "%s: the pool is back at its baseline (%lld allocations leaked)", c->what,
		   (long long)(st.nallocs - c->base.nallocs));
	}

	/* The whole capacity, a skipped slot included. */
	int sent = 0, back = 0;
	unsigned char small[SMALL];
	for (int i = 0; i < CAP; i++) {
		tc_msg_make(small, 1, 10 + (uint64_t)i, sizeof(small));
		sent += dipc_sendh_send_bytes(c->sh, small, sizeof(small), DIPC_TRY_ONCE) == 0;
	}
	for (int i = 0; i < CAP; i++)
		back += take(c) == 10 + i;
	ok(sent == CAP && back == CAP, "%s: the channel still carries %d messages (%d sent, "
	   "%d back)", c->what, CAP, sent, back);
	dipc_sendh_destroy(c->sh);
	dipc_recvh_destroy(c->rh);
	if (dipc_channel_destroy(c->ch))
		ok(0, "%s: the channel is destroyed", c->what);
}

static void one(dipc_pool *p, enum st st, int by_transfer, int into_msg)
{
	struct cs c = { .st = st, .by_transfer = by_transfer, .into_msg = into_msg };
	snprintf(c.what, sizeof(c.what), "%s, %s, into %s", st_name[st],
		 by_transfer ? "by transfer" : "as bytes", into_msg ? "a message" : "a buffer");
	build(p, 100 + (uint64_t)st, &c);
	struct dipc_pool_stats st0;
	dipc_pool_stats(p, &st0);
	is_int(dipc_pool_reclaim(p), held[st] ? 0 : 1, "%s: reclaim frees %s", c.what,
	       held[st] ? "nothing (the channel holds the block)" : "the block nobody can reach");
	finish(p, &c);
}

/* Every state at once, one channel each: one reclaim sorts them. */
static void all_at_once(dipc_pool *p)
{
	struct cs c[NSTATES];
	int unreachable = 0;
	for (int s = 0; s < NSTATES; s++) {
		memset(&c[s], 0, sizeof(c[s]));
		c[s].st = (enum st)s;
		c[s].by_transfer = s & 1;
		c[s].into_msg = !(s & 1);
		c[s].whole_pool = 1;
		snprintf(c[s].what, sizeof(c[s].what), "all at once, %s", st_name[s]);
		build(p, 200 + (uint64_t)s, &c[s]);
		unreachable += !held[s];
	}
	is_int(dipc_pool_reclaim(p), unreachable,
	       "all at once: one reclaim frees the %d unreachable blocks and no held one",
	       unreachable);
	for (int s = 0; s < NSTATES; s++)
		finish(p, &c[s]);
	/* The baseline of the whole pool is checked by the caller. */
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	dipc_pool *p;
	if (!tc_pool_new("leak", 4 << 20, &p))
		bail_out("cannot create the pool");
	struct dipc_pool_stats s0, s1;
	dead_sender = dead_pid(p);
	dead_receiver = dead_pid(p);
	ok(dead_sender != dead_receiver, "two dead processes (%u and %u)", dead_sender,
	   dead_receiver);
	dipc_pool_stats(p, &s0);
	for (int st = 0; st < NSTATES; st++)
		for (int v = 0; v < 4; v++)
			one(p, (enum st)st, v & 1, v >> 1);
	all_at_once(p);
	dipc_pool_stats(p, &s1);
	ok(s1.nallocs == s0.nallocs && s1.free == s0.free && s1.nchannels == 0,
	   "the pool is as it was before the cases (%llu allocations, %llu channels)",
	   (unsigned long long)s1.nallocs, (unsigned long long)s1.nchannels);
	is_int(tc_pool_del(p), 0, "the pool is destroyed");
	return tc_finish();
}

/*
 * channel_mp.c - channels between processes that find them by serialized
 * descriptors: 1->1, N->1, 1->N and N->M flows checked for exactly-once
 * delivery and per-producer order, with payloads on both sides of the
 * block size and every send and receive variant; ownership transfer and
 * destination sends across processes (the receiver gets the same
 * allocation); poll and blocked calls woken by another process; destroy
 * waking another process's waiters; a duplicate cuid from another process.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define MP_MAXP  4
#define MP_PER   6000
#define MP_BLOCK 256

struct mp_book {
	_Atomic uint64_t errors;
	_Atomic uint64_t received;
	_Atomic uint64_t ready;
	_Atomic uint64_t state;
	uint32_t desc_len;
	unsigned char desc[DIPC_SERIAL_MAX];
	_Atomic uint32_t counts[MP_MAXP][MP_PER];
};

/* Exit codes of children that report a library result: 100 + -rc. */
#define RC_EXIT(rc) (100 + -(rc))

static int attach_all(const char **a, dipc_channel **ch, dipc_pool **p, struct mp_book **bk)
{
	char hex[TC_HEX_MAX];
	dipc_mem *bm;
	if (tc_attach_chan_hex(tc_field(a, hex, sizeof(hex)), NULL, ch))
		return 10;
	dipc_channel_pool(*ch, p);
	if (tc_attach_mem_hex(*p, tc_field(a, hex, sizeof(hex)), &bm))
		return 11;
	*bk = tc_ptr(bm);
	dipc_mem_detach(bm);  /* the pointer stays valid while the pool is mapped */
	return 0;
}

static int producer(dipc_channel *ch, dipc_pool *p, struct mp_book *bk, uint32_t id, int count)
{
	dipc_sendh *sh;
	static unsigned char buf[4 * MP_BLOCK];
	uint64_t seed = 1000 + id;
	if (dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh))
		return 20;
	for (int s = 0; s < count; s++) {
		size_t len = sizeof(struct tc_msghdr) + (size_t)(tc_rand(&seed) % (3 * MP_BLOCK));
		int rc, how = s % 4;
		if (how == 0) {
			tc_msg_make(buf, id, (uint64_t)s, len);
			rc = dipc_sendh_send_bytes(sh, buf, len, 60 * TC_SEC);
		} else {
			dipc_msg *m, *d = NULL;
			void *ptr;
			rc = dipc_msg_create_alloc(p, len, &m);
			if (rc)
				break;
			dipc_msg_get(m, &ptr, NULL);
			tc_msg_make(ptr, id, (uint64_t)s, len);
			if (how == 3)
				rc = dipc_msg_create_alloc(p, len + 64, &d);
			if (rc == 0)
				rc = dipc_sendh_send(sh, m, d, how == 2 ? DIPC_TRANSFER_ON_SEND
							: DIPC_COPY_ON_SEND, 60 * TC_SEC);
			dipc_msg_destroy(m, 1);
			if (d)
				dipc_msg_destroy(d, 1);
		}
		if (rc) {
			atomic_fetch_add(&bk->errors, 1);
			return RC_EXIT(rc);
		}
	}
	dipc_sendh_destroy(sh);
	return 0;
}

static int consumer(dipc_channel *ch, dipc_pool *p, struct mp_book *bk, int id)
{
	dipc_recvh *rh;
	dipc_msg *dest;
	static unsigned char buf[4 * MP_BLOCK];
	uint64_t last[MP_MAXP];
	for (int i = 0; i < MP_MAXP; i++)
		last[i] = UINT64_MAX;
	if (dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		return 20;
	if (dipc_msg_create_alloc(p, 4 * MP_BLOCK, &dest))
		return 21;
	atomic_fetch_add(&bk->ready, 1);
	for (unsigned n = (unsigned)id;; n++) {
		void *ptr = buf;
		size_t len = 0;
		dipc_msg *m = NULL;
		int rc, how = (int)(n % 3);
		if (how == 0) {
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 60 * TC_SEC);
		} else if (how == 1) {
			dipc_msg_create_empty(&m);
			rc = dipc_recvh_recv(rh, m, 60 * TC_SEC);
			dipc_msg_get(m, &ptr, &len);
		} else {
			rc = dipc_recvh_recv(rh, dest, 60 * TC_SEC);
			dipc_msg_get(dest, &ptr, &len);
		}
		uint32_t prod = 0;
		uint64_t seq = 0;
		int kind = rc ? -1 : tc_msg_read(ptr, len, &prod, &seq);
		if (m)
			dipc_msg_destroy(m, 1);
		if (kind == 1)
			break;
		if (kind < 0 || prod >= MP_MAXP || seq >= MP_PER) {
			atomic_fetch_add(&bk->errors, 1);
			return rc ? RC_EXIT(rc) : 30;
		}
		if (last[prod] != UINT64_MAX && seq <= last[prod])
			atomic_fetch_add(&bk->errors, 1);  /* out of order */
		last[prod] = seq;
		atomic_fetch_add(&bk->counts[prod][seq], 1);
		atomic_fetch_add(&bk->received, 1);
	}
	dipc_msg_destroy(dest, 1);
	dipc_recvh_destroy(rh);
	return 0;
}

int t_child(const char *role, const char *arg)
{
	const char *a = arg;
	dipc_channel *ch;
	dipc_pool *p;
	struct mp_book *bk;
	char hex[TC_HEX_MAX];

	if (strcmp(role, "dup") == 0) {
		/* Make a channel whose cuid is taken. */
		if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
			return 10;
		uint64_t cuid = (uint64_t)tc_field_num(&a);
		int rc = dipc_channel_create(p, cuid, NULL, &ch);
		if (rc == 0)
			dipc_channel_destroy(ch);
		dipc_pool_detach(p);
		return RC_EXIT(rc);
	}

	int rc = attach_all(&a, &ch, &p, &bk);
	if (rc)
		return rc;
	if (strcmp(role, "prod") == 0) {
		uint32_t id = (uint32_t)tc_field_num(&a);
		int count = (int)tc_field_num(&a);
		return producer(ch, p, bk, id, count);
	}
	if (strcmp(role, "cons") == 0)
		return consumer(ch, p, bk, (int)tc_field_num(&a));

	dipc_sendh *sh;
	dipc_recvh *rh;
	struct dipc_handle_attr ha;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = DIPC_WAIT_IDLE;  /* really asleep when woken */
	if (dipc_sendh_create(ch, &ha, &sh) || dipc_sendh_open(sh) ||
	    dipc_recvh_create(ch, &ha, &rh) || dipc_recvh_open(rh))
		return 12;

	if (strcmp(role, "xfer_send") == 0) {
		/* Send an allocation by transfer (0) or through a destination (1),
		 * telling the parent which allocation travels. */
		int how = (int)tc_field_num(&a);
		dipc_msg *m, *d = NULL, *travel;
		void *ptr, *was;
		size_t sz;
		dipc_mem *mem;
		if (dipc_msg_create_alloc(p, 5000, &m))
			return 13;
		dipc_msg_get(m, &ptr, NULL);
		tc_fill(ptr, 5000, 21);
		travel = m;
		if (how == 1) {
			if (dipc_msg_create_alloc(p, 6000, &d))
				return 14;
			travel = d;
		}
		dipc_msg_get(travel, &was, NULL);
		dipc_msg_mem(travel, &mem);
		bk->desc_len = (uint32_t)dipc_mem_serialize(mem, bk->desc, sizeof(bk->desc));
		atomic_store(&bk->state, 1);
		rc = dipc_sendh_send(sh, m, d, how ? DIPC_COPY_ON_SEND : DIPC_TRANSFER_ON_SEND,
				     30 * TC_SEC);
		if (rc)
			return RC_EXIT(rc);
		dipc_msg_get(travel, &ptr, &sz);
		if (ptr != NULL || sz != 0)
			return 15;  /* the travelling message must be left empty */
		if (how == 1) {
			dipc_msg_get(m, &ptr, &sz);
			if (sz != 5000 || !tc_check(ptr, 5000, 21))
				return 16;  /* the source of a destination send is kept */
			dipc_msg_destroy(m, 1);
		}
		dipc_msg_destroy(travel, 1);
		return 0;
	}
	if (strcmp(role, "xfer_recv") == 0) {
		/* Receive the parent's transfer: it must be the allocation the
		 * parent described, not a copy. */
		dipc_msg *m;
		dipc_mem *theirs;
		void *ptr;
		size_t sz;
		dipc_msg_create_empty(&m);
		atomic_store(&bk->ready, 1);
		rc = dipc_recvh_recv(rh, m, 30 * TC_SEC);
		if (rc)
			return RC_EXIT(rc);
		dipc_msg_get(m, &ptr, &sz);
		if (dipc_mem_attach(p, bk->desc, bk->desc_len, &theirs))
			return 13;
		if (ptr != tc_ptr(theirs) || sz != 7000 || !tc_check(ptr, 7000, 22))
			return 14;
		dipc_mem_detach(theirs);
		dipc_msg_destroy(m, 1);
		return 0;
	}
	if (strcmp(role, "later") == 0) {
		/* After a delay, send or receive n messages. */
		int what = (int)tc_field_num(&a), n = (int)tc_field_num(&a);
		int delay = (int)tc_field_num(&a);
		char buf[64];
		size_t len;
		tc_sleep_ms(delay);
		for (int i = 0; i < n; i++) {
			if (what == 0)
				rc = dipc_sendh_send_bytes(sh, "later", 6, 30 * TC_SEC);
			else
				rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 30 * TC_SEC);
			if (rc)
				return RC_EXIT(rc);
		}
		return 0;
	}
	if (strcmp(role, "block") == 0) {
		/* Block in a send (0) or receive (1) without limit; report how
		 * it ended. */
		int what = (int)tc_field_num(&a);
		char buf[64] = "";
		size_t len = 0;
		atomic_store(&bk->ready, 1);
		if (what == 0)
			rc = dipc_sendh_send_bytes(sh, "blocked", 8, DIPC_WAIT_FOREVER);
		else
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_WAIT_FOREVER);
		if (rc)
			return RC_EXIT(rc);
		if (what == 1 && (len != 5 || strcmp(buf, "wake") != 0))
			return 13;
		return 0;
	}
	if (strcmp(role, "big") == 0) {
		/* Send n large payloads and leave. */
		int n = (int)tc_field_num(&a);
		static unsigned char buf[20000];
		for (int i = 0; i < n; i++) {
			tc_fill(buf, sizeof(buf), 30 + (uint64_t)i);
			rc = dipc_sendh_send_bytes(sh, buf, sizeof(buf), 30 * TC_SEC);
			if (rc)
				return RC_EXIT(rc);
		}
		return 0;
	}
	return 1;
}

struct fixture {
	dipc_pool *p;
	dipc_mem *bm;
	struct mp_book *bk;
	char bookhex[TC_HEX_MAX];
};

static int fixture_new(struct fixture *f, const char *base)
{
	memset(f, 0, sizeof(*f));
	tc_pool_new(base, 16 << 20, &f->p);
	if (!f->p)
		return -1;
	if (dipc_pool_alloc(f->p, sizeof(struct mp_book), &f->bm)) {
		tc_pool_del(f->p);
		return -1;
	}
	f->bk = tc_ptr(f->bm);
	memset(f->bk, 0, sizeof(*f->bk));
	tc_hex_mem(f->bm, f->bookhex);
	return 0;
}

static void fixture_del(struct fixture *f)
{
	dipc_mem_free(f->bm);
	struct dipc_pool_stats s;
	dipc_pool_stats(f->p, &s);
	ok(s.nallocs == 0 && s.nchannels == 0 && s.free == s.total,
	   "the pool is empty at the end (%llu allocations)", (unsigned long long)s.nallocs);
	E(tc_pool_del(f->p), 0);
}

static uint64_t nallocs(dipc_pool *p)
{
	struct dipc_pool_stats s;
	dipc_pool_stats(p, &s);
	return s.nallocs;
}

static dipc_channel *mkchan(dipc_pool *p, uint64_t cuid, uint64_t cap, char *hex)
{
	struct dipc_channel_attr a;
	dipc_channel *ch = NULL;
	dipc_channel_attr_init(&a);
	a.capacity = cap;
	a.block_size = MP_BLOCK;
	if (dipc_channel_create(p, cuid, &a, &ch))
		bail_out("cannot create a channel");
	tc_hex_chan(ch, hex);
	return ch;
}

static void flow(struct fixture *f, int np, int nc, int per)
{
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	static uint64_t cuid = 100;
	memset(f->bk, 0, sizeof(*f->bk));
	uint64_t base = nallocs(f->p);
	dipc_channel *ch = mkchan(f->p, cuid++, 8, chex);
	t_pid prod[MP_MAXP], cons[MP_MAXP];
	int64_t t0 = tc_now_ns();
	for (int i = 0; i < nc; i++) {
		snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f->bookhex, i);
		cons[i] = tc_spawn("cons", arg);
	}
	for (int i = 0; i < np; i++) {
		snprintf(arg, sizeof(arg), "%s:%s:%d:%d", chex, f->bookhex, i, per);
		prod[i] = tc_spawn("prod", arg);
	}
	int bad = 0;
	for (int i = 0; i < np; i++) {
		int rc = tc_reap(prod[i], 120);
		if (rc) {
			diag("producer %d ended with %d", i, rc);
			bad++;
		}
	}
	ok(bad == 0, "%d->%d: the %d producers sent %d messages each", np, nc, np, per);
	dipc_sendh *sh;
	dipc_sendh_create(ch, NULL, &sh);
	dipc_sendh_open(sh);
	unsigned char stop[sizeof(struct tc_msghdr)];
	tc_msg_stop(stop);
	for (int i = 0; i < nc; i++)
		dipc_sendh_send_bytes(sh, stop, sizeof(stop), 30 * TC_SEC);
	dipc_sendh_destroy(sh);
	bad = 0;
	for (int i = 0; i < nc; i++) {
		int rc = tc_reap(cons[i], 60);
		if (rc) {
			diag("consumer %d ended with %d", i, rc);
			bad++;
		}
	}
	ok(bad == 0, "%d->%d: the %d consumers stopped cleanly", np, nc, nc);
	int dup = 0, lost = 0;
	for (int i = 0; i < np; i++)
		for (int s = 0; s < per; s++) {
			uint32_t c = atomic_load(&f->bk->counts[i][s]);
			if (c == 0)
				lost++;
			else if (c > 1)
				dup++;
		}
	is_int(atomic_load(&f->bk->errors), 0,
	       "%d->%d: every message whole and in its producer's order", np, nc);
	ok(dup == 0 && lost == 0 && atomic_load(&f->bk->received) == (uint64_t)(np * per),
	   "%d->%d: each of %d messages delivered exactly once (%d lost, %d twice; %.0f ms)",
	   np, nc, np * per, lost, dup, (double)(tc_now_ns() - t0) / 1e6);
	is_int(dipc_channel_count(ch), 0, "%d->%d: the channel is empty", np, nc);
	E(dipc_channel_destroy(ch), 0);
	is_int(nallocs(f->p), base, "%d->%d: no allocation left behind", np, nc);
}

static void test_flows(void)
{
	struct fixture f;
	if (fixture_new(&f, "flows"))
		return;
	flow(&f, 1, 1, MP_PER);
	flow(&f, 4, 1, MP_PER / 2);
	flow(&f, 1, 4, MP_PER);
	flow(&f, 3, 3, MP_PER / 2);
	fixture_del(&f);
}

static void test_transfer(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX];
	if (fixture_new(&f, "xfer"))
		return;
	dipc_channel *ch = mkchan(f.p, 1, 4, chex);
	dipc_recvh *rh;
	dipc_sendh *sh;
	dipc_recvh_create(ch, NULL, &rh);
	dipc_recvh_open(rh);
	dipc_sendh_create(ch, NULL, &sh);
	dipc_sendh_open(sh);
	uint64_t base = nallocs(f.p);
	static const char *how[] = { "transfer", "destination" };
	for (int k = 0; k < 2; k++) {
		f.bk->state = 0;
		snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, k);
		t_pid kid = tc_spawn("xfer_send", arg);
		dipc_msg *m;
		dipc_msg_create_empty(&m);
		int rc = dipc_recvh_recv(rh, m, 30 * TC_SEC);
		is_int(rc, 0, "%s: received the child's message", how[k]);
		is_int(tc_reap(kid, 30), 0, "%s: the child's travelling message was left empty",
		       how[k]);
		void *ptr;
		size_t sz;
		dipc_msg_get(m, &ptr, &sz);
		ok(sz == 5000 && ptr && tc_check(ptr, 5000, 21), "%s: payload intact", how[k]);
		dipc_mem *mine, *theirs = NULL, *part = NULL;
		unsigned char d[DIPC_SERIAL_MAX], want[DIPC_SERIAL_MAX];
		E(dipc_mem_attach(f.p, f.bk->desc, f.bk->desc_len, &theirs), 0);
		ok(theirs && tc_ptr(theirs) == ptr,
		   "%s: same address in this process: the allocation itself, not a copy", how[k]);
		/* The message covers the payload's first sz bytes of it. */
		int n = -1, nw = -2;
		if (theirs && dipc_mem_clone(theirs, 0, sz, &part) == 0)
			nw = dipc_mem_serialize(part, want, sizeof(want));
		if (dipc_msg_mem(m, &mine) == 0)
			n = dipc_mem_serialize(mine, d, sizeof(d));
		ok(n > 0 && n == nw && memcmp(d, want, (size_t)n) == 0,
		   "%s: the received memory has the descriptor of the child's allocation", how[k]);
		if (part)
			dipc_mem_detach(part);
		if (theirs)
			dipc_mem_detach(theirs);
		is_int(nallocs(f.p), base + 1, "%s: exactly one allocation holds it", how[k]);
		dipc_msg_destroy(m, 1);
		is_int(nallocs(f.p), base, "%s: freed by the receiver", how[k]);
	}

	/* And the other way. */
	f.bk->ready = 0;
	snprintf(arg, sizeof(arg), "%s:%s", chex, f.bookhex);
	t_pid kid = tc_spawn("xfer_recv", arg);
	dipc_msg *m;
	dipc_mem *mem;
	void *ptr;
	size_t sz;
	dipc_msg_create_alloc(f.p, 7000, &m);
	dipc_msg_get(m, &ptr, NULL);
	tc_fill(ptr, 7000, 22);
	dipc_msg_mem(m, &mem);
	f.bk->desc_len = (uint32_t)dipc_mem_serialize(mem, f.bk->desc, sizeof(f.bk->desc));
	E(dipc_sendh_send(sh, m, NULL, DIPC_TRANSFER_ON_SEND, 30 * TC_SEC), 0);
	dipc_msg_get(m, &ptr, &sz);
	ok(ptr == NULL && sz == 0, "parent to child: the sent message is empty");
	is_int(tc_reap(kid, 30), 0, "the child received the parent's very allocation");
	is_int(nallocs(f.p), base, "and freed it");
	dipc_msg_destroy(m, 1);

	/* Large payloads left by a process that is gone. */
	snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, 3);
	kid = tc_spawn("big", arg);
	is_int(tc_reap(kid, 30), 0, "a child sent three 20000-byte payloads and left");
	is_int(nallocs(f.p), base + 3, "the pool holds them in three allocations");
	static unsigned char buf[20000];
	int good = 1;
	for (int i = 0; i < 3; i++) {
		size_t len;
		if (dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0) ||
		    len != sizeof(buf) || !tc_check(buf, sizeof(buf), 30 + (uint64_t)i))
			good = 0;
	}
	ok(good, "they arrive whole and in order");
	is_int(nallocs(f.p), base, "receiving frees them");
	dipc_recvh_destroy(rh);
	dipc_sendh_destroy(sh);
	E(dipc_channel_destroy(ch), 0);
	fixture_del(&f);
}

static void test_wakeups(void)
{
	struct fixture f;
	char chex[TC_HEX_MAX], arg[3 * TC_HEX_MAX], buf[64];
	size_t len;
	if (fixture_new(&f, "wake"))
		return;
	dipc_channel *ch = mkchan(f.p, 2, 2, chex);
	dipc_sendh *sh;
	dipc_recvh *rh;
	dipc_sendh_create(ch, NULL, &sh);
	dipc_sendh_open(sh);
	dipc_recvh_create(ch, NULL, &rh);
	dipc_recvh_open(rh);

	/* Poll woken by another process, for each event. */
	struct { int event, what, n; const char *name; } cases[] = {
		{ DIPC_POLL_READABLE, 0, 1, "readable: the child sends" },
		{ DIPC_POLL_EMPTY, 1, 1, "empty: the child takes the message" },
		{ DIPC_POLL_FULL, 0, 2, "full: the child fills the channel" },
		{ DIPC_POLL_WRITABLE, 1, 1, "writable: the child takes one" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(arg, sizeof(arg), "%s:%s:%d:%d:%d", chex, f.bookhex, cases[i].what,
			 cases[i].n, 50);
		t_pid kid = tc_spawn("later", arg);
		int rc = dipc_channel_poll(ch, cases[i].event, 20 * TC_SEC);
		is_int(rc, cases[i].event, "poll %s", cases[i].name);
		is_int(tc_reap(kid, 30), 0, "  (the child did so)");
	}
	while (dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0) == 0)
		;

	/* A sleeping receive woken by a send from here. */
	f.bk->ready = 0;
	snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, 1);
	t_pid kid = tc_spawn("block", arg);
	tc_wait_flag(&f.bk->ready, 1, 20);
	tc_sleep_ms(50);
	E(dipc_sendh_send_bytes(sh, "wake", 5, 0), 0);
	is_int(tc_reap(kid, 30), 0, "a child asleep in receive gets the message sent here");

	/* A sleeping send woken by a receive from here. */
	dipc_sendh_send_bytes(sh, "1", 2, 0);
	dipc_sendh_send_bytes(sh, "2", 2, 0);
	f.bk->ready = 0;
	snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, 0);
	kid = tc_spawn("block", arg);
	tc_wait_flag(&f.bk->ready, 1, 20);
	tc_sleep_ms(50);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	is_int(tc_reap(kid, 30), 0, "a child asleep in send on a full channel gets room");
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0), 0);
	ok(strcmp(buf, "blocked") == 0, "its message follows the earlier ones");
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	E(dipc_channel_destroy(ch), 0);

	/* Destroy wakes another process's waiters, in receive and in send. */
	for (int what = 1; what >= 0; what--) {
		ch = mkchan(f.p, 3, 2, chex);
		if (what == 0) {
			dipc_sendh_create(ch, NULL, &sh);
			dipc_sendh_open(sh);
			dipc_sendh_send_bytes(sh, "1", 2, 0);
			dipc_sendh_send_bytes(sh, "2", 2, 0);
			dipc_sendh_destroy(sh);
		}
		f.bk->ready = 0;
		snprintf(arg, sizeof(arg), "%s:%s:%d", chex, f.bookhex, what);
		kid = tc_spawn("block", arg);
		tc_wait_flag(&f.bk->ready, 1, 20);
		tc_sleep_ms(50);
		E(dipc_channel_destroy(ch), 0);
		is_int(tc_reap(kid, 30), RC_EXIT(DIPC_EDESTROYED),
		       "a child blocked in %s is told the channel was destroyed",
		       what ? "receive" : "send");
	}

	/* A cuid taken is taken for every process. */
	ch = mkchan(f.p, 4, 2, chex);
	char phex[TC_HEX_MAX];
	tc_hex_pool(f.p, phex);
	snprintf(arg, sizeof(arg), "%s:%d", phex, 4);
	is_int(tc_reap(tc_spawn("dup", arg), 30), RC_EXIT(DIPC_EEXIST),
	       "another process cannot make a channel with a cuid in use");
	snprintf(arg, sizeof(arg), "%s:%d", phex, 5);
	is_int(tc_reap(tc_spawn("dup", arg), 30), RC_EXIT(0), "but can with a free one");
	E(dipc_channel_destroy(ch), 0);
	fixture_del(&f);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(240);
	test_flows();
	test_transfer();
	test_wakeups();
	return tc_finish();
}

/*
 * remote.c - channels of other hosts, through the local dipc-bridge.
 *
 * The rules this file keeps (the protocol is in gateway.h):
 *
 * 1. Same API, same deadline.  A call on a remote channel sends one
 *    request to the local bridge and waits on its own reply channel for
 *    the answer, never past the caller's deadline.  The owning host is
 *    given less time than the caller (remote_budget), so that its answer
 *    - done, or not done - has time to come back before the caller gives
 *    up.  A try-once call tries once over there and waits here for the
 *    round trip, at most GW_TRY_NS.
 *
 * 2. Success means done.  A send returns 0 only when the owning bridge
 *    says the message is in the channel; a call whose answer never came
 *    returns DIPC_ETIMEDOUT (or DIPC_EPEERCLOSED, from the bridge, when
 *    the owning host is gone) and its fate may be either: the caller is
 *    never told it happened when that is not known.
 *
 * 3. Once, whoever dies.  Every request has an id this process never
 *    reuses, and the owning bridge does each id once (bridge/state.c).
 *    A caller that finds its bridge dead (the gateway pool's creator is
 *    gone) waits for the next bridge's gateway and sends the same request
 *    there; a request that arrives twice is answered from the record of
 *    the first.
 *
 * 4. A taken message is handed over or put back.  The owning bridge
 *    keeps the message a receive took until this process says it has it
 *    (GW_ACK, sent as soon as it has) or that it gave up (GW_CANCEL, sent
 *    at its deadline): then the message goes back to the head of the
 *    line for the channel's next remote receiver.  A late reply to a call
 *    that gave up is dropped here: its message was put back.
 *
 * 5. No trace of the dead.  The gateway state of a process (its reply
 *    channels) is named after its pid: the bridge destroys the reply
 *    channels of dead processes, and a process that finds one of its
 *    names taken (a dead process had the same pid) removes it.  After
 *    fork the child has a new key and new reply channels, never the
 *    parent's.
 *
 * 6. A reply is an outsider's.  Anything of the user can write to a reply
 *    channel, so a reply is copied out of the pool once (header, then
 *    payload) and checked in private memory: its magic, its id, a result
 *    the API can return (0 or a DIPC_E* code, nothing positive, which a
 *    caller would take for a count or events), a payload no larger than
 *    the caller takes.  A reply that fails is DIPC_ECORRUPT for the call,
 *    which then cancels at the owner as any call that failed does.
 */
#include "channel.h"
#include "gateway.h"
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>

/* What a try-once call waits for the round trip, and what attach does. */
#define GW_TRY_NS      (5ull * 1000 * 1000 * 1000)
/* How long a reply wait sleeps before it looks at the bridge. */
#define GW_SLICE_NS    (100ull * 1000 * 1000)
/* How often a request is sent again while no live bridge has it. */
#define GW_RESEND_NS   (500ull * 1000 * 1000)
/* How long a bridge seen alive is taken to be so (gw_open). */
#define GW_LIVE_NS     (20ull * 1000 * 1000)
/* Calls in progress at once in one process. */
#define GW_INFLIGHT    256

struct dipc_remote {
	uint64_t host;
	size_t desc_len;
	unsigned char desc[DIPC_SERIAL_MAX];
};

struct reply_slot {
	struct reply_slot *next;
	dipc_channel *ch;
	dipc_recvh *rh;
	unsigned gen;
};

/* The process's side of the gateway; lock guards every field and is
 * never held across a wait on another process. */
static struct {
	dipc_spinlock lock;
	uint32_t pid;               /* whose these are (fork makes a new set) */
	unsigned gen;               /* bumped when the gateway is opened anew */
	dipc_pool *pool;
	dipc_channel *req;
	dipc_sendh *reqh;
	uint32_t bridge;            /* the gateway's creator: its bridge */
	uint64_t client, next_id;
	uint32_t next_slot;
	struct reply_slot *free;
	uint64_t inflight[GW_INFLIGHT];
	unsigned ninflight;
	uint64_t live_until;        /* the bridge was seen alive this recently */
	struct dipc_os_bell bell;   /* opened once, never closed (fd -1: none) */
	bool ring;                  /* the gateway's bell is its bridge's */
} gw = { .lock = DIPC_SPINLOCK_INIT, .bell = { .fd = -1 } };

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void gateway_name(char *out, size_t len)
{
	const char *env = getenv(GW_ENV);
	if (env && *env)
		snprintf(out, len, "%s", env);
	else
		snprintf(out, len, GW_NAME_PREFIX "%u", (unsigned)dipc_os_uid());
}

/* Under lock: a new process (or a fork's child) starts afresh: the
 * parent's reply channels and ids are the parent's. */
static void gw_own_locked(void)
{
	uint32_t me = dipc_os_pid();
	if (gw.pid == me)
		return;
	gw.pid = me;
	gw.client = mix64(dipc_os_host_id() ^ ((uint64_t)me << 32) ^ dipc_os_now_ns() ^
			  (uint64_t)(uintptr_t)&me);
	gw.next_id = 1;
	gw.free = NULL;
	gw.ninflight = 0;
	gw.next_slot = 0;
}

struct gw_new {
	dipc_pool *pool;
	dipc_channel *req;
	dipc_sendh *reqh;
	uint32_t creator;
	struct dipc_os_bell bell;
	bool ring;
};

/* Attach the gateway that runs now, without the lock: attaching a pool
 * may wait for its creator to finish it (a bridge starting), and the
 * lock is never held across a wait on another process, and the wait
 * ends by the caller's deadline.  old_nonce is the gateway we have,
 * whose bridge is dead: finding it again is finding no bridge. */
static int gw_attach(uint64_t old_nonce, uint64_t deadline, struct gw_new *n)
{
	char name[DIPC_NAME_MAX + 1];
	gateway_name(name, sizeof(name));
	dipc_pool *pool;
	/* A bridge making its gateway is waited for, within the caller's
	 * deadline. */
	int rc = pool_attach_name_within(name, 0, (uint64_t)dipc_time_left(deadline, POOL_READY_NS),
					 &pool);
	if (rc == DIPC_ENOENT || rc == DIPC_EINVAL || rc == DIPC_ENAMETOOLONG) {
		DIPC_LOG(DIPC_LOG_BASIC, "no dipc-bridge runs for this user here: "
			 "gateway pool %s not found", name);
		return DIPC_EFOREIGN;
	}
	if (rc == DIPC_ECORRUPT || rc == DIPC_EVERSION || rc == DIPC_EPERM) {
		/* Not a gateway a bridge of ours made and finished: there is
		 * no bridge to talk to (calls wait for one, rule 3). */
		DIPC_LOG(DIPC_LOG_BASIC, "gateway pool %s is not usable (%s): no dipc-bridge "
			 "to talk to", name, dipc_strerror(rc));
		return DIPC_EFOREIGN;
	}
	if (rc)
		return rc;
	uint32_t creator = DIPC_SHARED_READ(pool->hdr->creator);
	if (!dipc_os_pid_alive(creator) || pool->nonce == old_nonce) {
		dipc_pool_detach(pool);
		DIPC_LOG(DIPC_LOG_BASIC, "the dipc-bridge of gateway %s (pid %u) is not running",
			 name, (unsigned)creator);
		return DIPC_EFOREIGN;
	}
	dipc_channel *req;
	dipc_sendh *reqh = NULL;
	rc = chan_attach_cuid(pool, GW_REQ_CUID, &req);
	if (rc == 0) {
		rc = dipc_sendh_create(req, NULL, &reqh);
		if (rc == 0)
			rc = dipc_sendh_open(reqh);
		if (rc) {
			dipc_sendh_destroy(reqh);
			dipc_channel_detach(req);
		}
	}
	if (rc) {
		dipc_pool_detach(pool);
		/* The bridge has made its pool and not yet its request
		 * channel: it is still starting. */
		return rc == DIPC_ENOENT ? DIPC_EFOREIGN : rc;
	}
	*n = (struct gw_new){ .pool = pool, .req = req, .reqh = reqh, .creator = creator,
			      .bell = { .fd = -1 } };
	/* Its bell, if the bridge made one (checked now: a new bridge
	 * makes it anew). */
	char path[sizeof(n->bell.addr)];
	snprintf(path, sizeof(path), GW_BELL_FMT, name);
	n->ring = dipc_os_bell_open(path, &n->bell) == 0;
	return 0;
}

/* Make the gateway handles of this process, or check them, by deadline. */
static int gw_open(unsigned *gen, uint64_t deadline)
{
	dipc_spin_lock(&gw.lock);
	gw_own_locked();
	/* A bridge seen alive a moment ago is not asked again (two system
	 * calls a call): one that died meanwhile costs its callers one
	 * reply slice, after which they look (call_run). */
	uint64_t now = dipc_os_now_ns();
	bool live = gw.pool && now < gw.live_until;
	if (gw.pool && !live && dipc_os_pid_alive(DIPC_SHARED_READ(gw.pool->hdr->creator))) {
		live = true;
		gw.live_until = now + GW_LIVE_NS;
	}
	uint64_t old_nonce = gw.pool ? gw.pool->nonce : 0;
	unsigned seen = gw.gen;
	uint32_t me = gw.pid;
	if (gen)
		*gen = gw.gen;
	dipc_spin_unlock(&gw.lock);
	if (live)
		return 0;
	struct gw_new n;
	int rc = gw_attach(old_nonce, deadline, &n);
	if (rc)
		return rc;
	dipc_spin_lock(&gw.lock);
	bool mine = gw.gen == seen && gw.pid == me;
	if (mine) {
		/* The old gateway's handles stay: messages received
		 * through it still live in its pool, which must stay
		 * mapped. */
		gw.pool = n.pool;
		gw.req = n.req;
		gw.reqh = n.reqh;
		gw.bridge = n.creator;
		gw.gen++;
		gw.free = NULL;
		gw.live_until = 0;
		if (n.ring && gw.bell.fd < 0) {
			gw.bell = n.bell;
			n.bell.fd = -1;
		}
		gw.ring = n.ring;
	}
	if (gen)
		*gen = gw.gen;
	dipc_spin_unlock(&gw.lock);
	if (!mine) {
		/* Another thread opened the new gateway meanwhile: use its. */
		dipc_sendh_destroy(n.reqh);
		dipc_channel_detach(n.req);
		dipc_pool_detach(n.pool);
	}
	/* Nobody else has seen this one (the process keeps the first). */
	if (n.bell.fd >= 0)
		dipc_os_bell_close(&n.bell);
	return 0;
}

static bool bridge_alive(void)
{
	dipc_spin_lock(&gw.lock);
	uint32_t b = gw.bridge;
	bool same = gw.pid == dipc_os_pid();
	dipc_spin_unlock(&gw.lock);
	return same && dipc_os_pid_alive(b);
}

/* ---- reply channels -------------------------------------------------------- */

static void slot_drop(struct reply_slot *s)
{
	dipc_recvh_destroy(s->rh);
	dipc_channel_destroy(s->ch);
	free(s);
}

static int slot_get(struct reply_slot **out)
{
	dipc_spin_lock(&gw.lock);
	struct reply_slot *s = gw.free;
	if (s)
		gw.free = s->next;
	dipc_pool *pool = gw.pool;
	unsigned gen = gw.gen;
	uint32_t n = gw.next_slot++;
	uint32_t me = gw.pid;
	dipc_spin_unlock(&gw.lock);
	if (s) {
		*out = s;
		return 0;
	}
	if (n > 0xffff)
		return DIPC_ELIMIT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return DIPC_ENOMEM;
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = GW_REPLY_CAPACITY;
	a.block_size = GW_REPLY_BLOCK;
	uint64_t cuid = GW_REPLY_CUID(me, n);
	int rc = dipc_channel_create(pool, cuid, &a, &s->ch);
	if (rc == DIPC_EEXIST) {
		/* Left by a dead process that had our pid. */
		dipc_channel *old;
		if (chan_attach_cuid(pool, cuid, &old) == 0)
			dipc_channel_destroy(old);
		rc = dipc_channel_create(pool, cuid, &a, &s->ch);
	}
	if (rc == 0) {
		rc = dipc_recvh_create(s->ch, NULL, &s->rh);
		if (rc == 0)
			rc = dipc_recvh_open(s->rh);
		if (rc) {
			dipc_recvh_destroy(s->rh);
			dipc_channel_destroy(s->ch);
		}
	}
	if (rc) {
		free(s);
		return rc;
	}
	s->gen = gen;
	*out = s;
	return 0;
}

static void slot_put(struct reply_slot *s)
{
	dipc_spin_lock(&gw.lock);
	bool keep = s->gen == gw.gen && gw.pid == dipc_os_pid();
	if (keep) {
		s->next = gw.free;
		gw.free = s;
	}
	dipc_spin_unlock(&gw.lock);
	if (!keep)
		slot_drop(s);
}

/* ---- ids --------------------------------------------------------------------- */

static int id_new(uint64_t *id, uint64_t *client)
{
	dipc_spin_lock(&gw.lock);
	if (gw.ninflight == GW_INFLIGHT) {
		dipc_spin_unlock(&gw.lock);
		return DIPC_ELIMIT;
	}
	*id = gw.next_id++;
	*client = gw.client;
	gw.inflight[gw.ninflight++] = *id;
	dipc_spin_unlock(&gw.lock);
	return 0;
}

static void id_done(uint64_t id)
{
	dipc_spin_lock(&gw.lock);
	for (unsigned i = 0; i < gw.ninflight; i++)
		if (gw.inflight[i] == id) {
			gw.inflight[i] = gw.inflight[--gw.ninflight];
			break;
		}
	dipc_spin_unlock(&gw.lock);
}

/* Every id below this one is settled. */
static uint64_t id_low(void)
{
	dipc_spin_lock(&gw.lock);
	uint64_t low = gw.next_id;
	for (unsigned i = 0; i < gw.ninflight; i++)
		if (gw.inflight[i] < low)
			low = gw.inflight[i];
	dipc_spin_unlock(&gw.lock);
	return low;
}

/* ---- one call ---------------------------------------------------------------- */

struct call {
	const struct dipc_remote *r;
	int op;
	uint64_t id, client, arg;
	int64_t remote_timeout;
	const void *payload;
	size_t plen;
	/* out */
	struct gw_rep rep;
	void *buf;          /* RECV: where the payload goes */
	size_t cap;
	dipc_msg *msg;      /* RECV into a new allocation */
	size_t len;
	bool answered;
};

/* The time the owning host gets: less than the caller's, so that its
 * answer can come back in time (rule 1). */
static int64_t remote_budget(int64_t t)
{
	if (t <= 0)
		return t;
	int64_t margin = t / 4;
	if (margin > 500 * 1000 * 1000)
		margin = 500 * 1000 * 1000;
	return t - margin > 0 ? t - margin : DIPC_TRY_ONCE;
}

static int64_t left_of(uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return DIPC_WAIT_FOREVER;
	int64_t t = dipc_time_left(deadline, UINT64_MAX >> 1);
	return t ? t : DIPC_TRY_ONCE;
}

/* Wake the bridge for a request just posted, if it has a bell (ring:
 * gw.ring, read with the handles the request went through; gw.bell,
 * once set, never changes). */
static int rung(int rc, bool ring)
{
	if (rc == 0 && ring)
		dipc_os_bell_ring(&gw.bell);
	return rc;
}

/* Put a request in the gateway's request channel. */
static int post(const struct call *c, int op, struct reply_slot *s, uint64_t deadline)
{
	dipc_spin_lock(&gw.lock);
	dipc_sendh *reqh = gw.reqh;
	dipc_pool *pool = gw.pool;
	bool ring = gw.ring;
	dipc_spin_unlock(&gw.lock);
	if (!reqh)
		return DIPC_EFOREIGN;
	unsigned char rd[DIPC_SERIAL_MAX];
	int rl = s ? dipc_channel_serialize(s->ch, rd, sizeof(rd)) : 0;
	if (rl < 0)
		return rl;
	struct gw_req q = {
		.magic = GW_MAGIC_REQ, .version = GW_VERSION, .op = (uint16_t)op,
		.pid = dipc_os_pid(), .desc_len = (uint16_t)c->r->desc_len,
		.reply_len = (uint16_t)rl, .client = c->client, .id = c->id, .low = id_low(),
		.timeout = c->remote_timeout, .arg = c->arg,
	};
	size_t plen = op == GW_SEND ? c->plen : 0;
	size_t head = sizeof(q) + q.desc_len + q.reply_len;
	size_t total = head + plen;
	int64_t t = left_of(deadline);
	if (total <= GW_REQ_BLOCK) {
		unsigned char b[GW_REQ_BLOCK];
		memcpy(b, &q, sizeof(q));
		memcpy(b + sizeof(q), c->r->desc, q.desc_len);
		memcpy(b + sizeof(q) + q.desc_len, rd, q.reply_len);
		if (plen)
			memcpy(b + head, c->payload, plen);
		return rung(dipc_sendh_send_bytes(reqh, b, total, t), ring);
	}
	/* Large: straight into a gateway allocation, which travels. */
	dipc_mem *mem;
	int rc = dipc_pool_alloc_wait(pool, total, t, &mem);
	if (rc)
		return rc;
	void *p;
	dipc_mem_get(mem, &p, NULL);
	memcpy(p, &q, sizeof(q));
	memcpy((unsigned char *)p + sizeof(q), c->r->desc, q.desc_len);
	memcpy((unsigned char *)p + sizeof(q) + q.desc_len, rd, q.reply_len);
	memcpy((unsigned char *)p + head, c->payload, plen);
	dipc_msg *m;
	rc = dipc_msg_create_from_mem(mem, &m);
	if (rc) {
		dipc_mem_free(mem);
		return rc;
	}
	rc = dipc_sendh_send(reqh, m, NULL, DIPC_TRANSFER_ON_SEND, left_of(deadline));
	dipc_msg_destroy(m, rc != 0);
	return rung(rc, ring);
}

/* Tell the bridge what became of a receive (or that a call gave up);
 * it waits a little for room, never long. */
static void post_word(struct call *c, int op)
{
	/* To the bridge that runs now, if its predecessor died (a dead
	 * one's channel is read by the next for a while, gateway.c). */
	uint64_t deadline = dipc_deadline(50 * 1000 * 1000);
	gw_open(NULL, deadline);
	post(c, op, NULL, deadline);
}

/* A reply for us?  Take the next one from the slot: 1 if it answers c
 * (payload stored), 0 if it was a stale one (dropped), or an error. */
static int take_reply(struct reply_slot *s, struct call *c, int64_t t)
{
	unsigned char b[GW_REPLY_BLOCK];
	size_t n = 0;
	dipc_msg *m = NULL;
	const unsigned char *p;
	int rc = dipc_recvh_recv_bytes(s->rh, b, sizeof(b), &n, t);
	if (rc == DIPC_EMSGSIZE) {
		/* Too large for a block: it came in an allocation. */
		rc = dipc_msg_create_empty(&m);
		if (rc)
			return rc;
		rc = dipc_recvh_recv(s->rh, m, DIPC_TRY_ONCE);
		if (rc) {
			dipc_msg_destroy(m, 0);
			return rc == DIPC_EEMPTY ? 0 : rc;
		}
		void *mp;
		dipc_msg_get(m, &mp, &n);
		p = mp;
	} else if (rc) {
		return rc;
	} else {
		p = b;
	}
	struct gw_rep rep;
	int ans = 0;
	if (n >= sizeof(rep)) {
		memcpy(&rep, p, sizeof(rep));
		ans = rep.magic == GW_MAGIC_REP && rep.id == c->id;
		if (ans && (rep.rc > 0 || rep.rc < GW_RC_MIN))
			ans = DIPC_ECORRUPT;     /* rule 6 */
	}
	if (ans == 1) {
		size_t plen = n - sizeof(rep);
		c->rep = rep;
		c->len = plen;
		if (c->op == GW_RECV && rep.rc == 0) {
			if (plen > c->cap && !c->msg) {
				ans = DIPC_ECORRUPT;    /* the bridge checks the cap */
			} else if (c->msg && m) {
				/* Hand the allocation itself over, past our header. */
				dipc_mem *mm = m->mem;
				msg_set_own(c->msg, mm->pool, mm->blk, mm->off + sizeof(rep), plen);
				c->msg->size = plen;
				msg_drop_mem(m);
				m->size = 0;
			} else if (c->msg) {
				dipc_mem *nm;
				int arc = dipc_pool_alloc(gw.pool, plen ? plen : 1, &nm);
				if (arc) {
					ans = arc;
				} else {
					memcpy(pool_ptr(nm->pool, nm->off), p + sizeof(rep), plen);
					msg_set_own(c->msg, nm->pool, nm->blk, nm->off, plen);
					c->msg->size = plen;
					dipc_handle_retire(nm, &nm->magic);
				}
			} else if (plen) {
				memcpy(c->buf, p + sizeof(rep), plen);
			}
		}
	}
	if (m)
		dipc_msg_destroy(m, 1);
	return ans;
}

static int call_run(struct call *c, int64_t timeout)
{
	/* A try-once call still waits for the round trip (rule 1). */
	uint64_t deadline = timeout == DIPC_TRY_ONCE ? dipc_deadline((int64_t)GW_TRY_NS)
						      : dipc_deadline(timeout);
	c->remote_timeout = timeout == DIPC_TRY_ONCE ? DIPC_TRY_ONCE : remote_budget(timeout);
	unsigned gen = 0;
	int rc = gw_open(&gen, deadline);
	/* No bridge: attach says so at once; a call on a channel attached
	 * before waits for the bridge to be back, as far as its deadline. */
	if (rc && (c->op == GW_ATTACH || rc != DIPC_EFOREIGN))
		return rc;
	int irc = id_new(&c->id, &c->client);
	if (irc)
		return irc;
	struct reply_slot *s = NULL;
	if (rc == 0) {
		rc = slot_get(&s);
		if (rc == 0)
			rc = post(c, c->op, s, deadline);
	}
	uint64_t posted = dipc_os_now_ns();
	bool answered = false, ever_posted = rc == 0;
	for (;;) {
		if (rc == 0) {
			int64_t left = dipc_time_left(deadline, GW_SLICE_NS);
			if (left == 0) {
				rc = DIPC_ETIMEDOUT;
				break;
			}
			int tr = take_reply(s, c, left);
			if (tr == 1) {
				answered = true;
				break;
			}
			if (tr == 0 || (tr == DIPC_ETIMEDOUT && bridge_alive()))
				continue;
			if (tr < 0 && tr != DIPC_ETIMEDOUT && tr != DIPC_EDESTROYED) {
				rc = tr;
				break;
			}
		} else if (rc != DIPC_EFOREIGN && rc != DIPC_EDESTROYED) {
			break;
		}
		/* The bridge is gone (rule 3): wait for the next one's
		 * gateway, then send the same request there. */
		if (dipc_time_left(deadline, 1) == 0) {
			rc = DIPC_ETIMEDOUT;
			break;
		}
		uint64_t since = dipc_os_now_ns() - posted;
		if (since < GW_RESEND_NS) {
			int64_t nap = dipc_time_left(deadline, GW_RESEND_NS - since);
			if (nap > 0)
				dipc_os_sleep_ns((uint64_t)nap);
		}
		posted = dipc_os_now_ns();
		unsigned ngen;
		rc = gw_open(&ngen, deadline);
		if (rc)
			continue;
		if (s && ngen != gen) {
			slot_drop(s);
			s = NULL;
		}
		gen = ngen;
		if (!s) {
			rc = slot_get(&s);
			if (rc) {
				s = NULL;
				break;
			}
		}
		rc = post(c, c->op, s, deadline);
		ever_posted |= rc == 0;
	}
	/* Something may be left over there for an unanswered call, or one
	 * its bridge failed: undo it (rule 4). */
	if (ever_posted && (!answered || c->rep.rc == DIPC_EPEERCLOSED ||
			    c->rep.rc == DIPC_ETIMEDOUT))
		post_word(c, GW_CANCEL);
	else if (answered && c->op == GW_RECV && c->rep.rc == 0)
		post_word(c, GW_ACK);
	id_done(c->id);
	c->answered = answered;
	/* A late reply in the slot is dropped by its id by the next call. */
	if (s)
		slot_put(s);
	if (!answered)
		return rc == DIPC_EDESTROYED || rc == DIPC_EFOREIGN ? DIPC_ETIMEDOUT : rc;
	return c->rep.rc;
}

/* A wait the owner ended (DIPC_ETIMEDOUT from there: nothing was done)
 * while the caller has time left goes on with a new request, so that a
 * call takes about the time it was given. */
static int call_wait(struct call *c, int64_t timeout)
{
	uint64_t deadline = dipc_deadline(timeout);
	int64_t t = timeout;
	for (;;) {
		int rc = call_run(c, t);
		if (rc != DIPC_ETIMEDOUT || !c->answered || timeout <= 0)
			return rc;
		t = dipc_time_left(deadline, UINT64_MAX >> 1);
		if (t < 20 * 1000 * 1000)
			return rc;
	}
}

/* ---- the operations -------------------------------------------------------- */

int remote_attach(const unsigned char *ser, size_t len, dipc_channel **out)
{
	if (len > DIPC_SERIAL_MAX)
		return DIPC_EINVAL;
	struct dipc_remote *r = calloc(1, sizeof(*r));
	if (!r)
		return DIPC_ENOMEM;
	memcpy(r->desc, ser, len);
	r->desc_len = len;
	r->host = dipc_get64(ser + 40);
	struct call c = { .r = r, .op = GW_ATTACH };
	int rc = call_run(&c, (int64_t)GW_TRY_NS);
	if (rc == 0 && (c.rep.value == 0 || c.rep.value > DIPC_CHANNEL_MAX_CAPACITY ||
			c.rep.value2 == 0 || c.rep.value2 > DIPC_CHANNEL_MAX_BLOCK_SIZE))
		rc = DIPC_ECORRUPT;
	dipc_channel *ch = NULL;
	if (rc == 0 && !(ch = dipc_handle_new(sizeof(*ch))))
		rc = DIPC_ENOMEM;
	if (rc) {
		free(r);
		return rc;
	}
	atomic_store_explicit(&ch->magic, DIPC_MAGIC_CHANNEL, memory_order_relaxed);
	dipc_spin_lock(&gw.lock);
	ch->pool = gw.pool;
	dipc_spin_unlock(&gw.lock);
	ch->own_pool = false;
	ch->cuid = dipc_get64(ser + 8);
	ch->capacity = c.rep.value;
	ch->block_size = c.rep.value2;
	ch->remote = r;
	*out = ch;
	return 0;
}

void remote_free(struct dipc_remote *r)
{
	free(r);
}

int remote_serialize(const dipc_channel *ch, void *buf, size_t len)
{
	const struct dipc_remote *r = ch->remote;
	if (!buf)
		return (int)r->desc_len;
	if (len < r->desc_len)
		return DIPC_EMSGSIZE;
	memcpy(buf, r->desc, r->desc_len);
	return (int)r->desc_len;
}

int remote_count(const dipc_channel *ch)
{
	struct call c = { .r = ch->remote, .op = GW_COUNT };
	int rc = call_run(&c, (int64_t)GW_TRY_NS);
	if (rc)
		return rc;
	return c.rep.value > INT32_MAX ? INT32_MAX : (int)c.rep.value;
}

int remote_poll(dipc_channel *ch, int events, int64_t timeout_ns)
{
	struct call c = { .r = ch->remote, .op = GW_POLL, .arg = (uint64_t)events };
	int rc = call_wait(&c, timeout_ns);
	if (rc)
		return rc;
	return (int)(c.rep.value & (uint64_t)events);
}

int remote_send(dipc_channel *ch, const void *buf, size_t len, int64_t timeout_ns)
{
	if (len > ch->pool->heap_size / 2)
		return DIPC_EMSGSIZE;   /* never fits the gateway */
	struct call c = { .r = ch->remote, .op = GW_SEND, .payload = buf, .plen = len };
	return call_wait(&c, timeout_ns);
}

int remote_recv(dipc_channel *ch, void *buf, size_t cap, size_t *len, dipc_msg *msg,
		int64_t timeout_ns)
{
	struct call c = { .r = ch->remote, .op = GW_RECV, .buf = buf, .cap = cap, .msg = msg };
	c.arg = msg ? UINT64_MAX : (uint64_t)cap;
	int rc = call_wait(&c, timeout_ns);
	if (len)
		*len = rc == 0 || rc == DIPC_EMSGSIZE ? (rc ? (size_t)c.rep.value : c.len) : 0;
	return rc;
}

int remote_send_msg(dipc_channel *ch, dipc_msg *msg, dipc_msg *dest, int ownership,
		    int64_t timeout_ns)
{
	void *src = msg->mem ? pool_ptr(msg->mem->pool, msg->mem->off) : NULL;
	dipc_msg *travel = NULL;
	if (dest) {
		if (!dest->mem)
			return DIPC_EINVAL;
		if (dest->mem->size < msg->size)
			return DIPC_EMSGSIZE;
		travel = dest;
	} else if (ownership == DIPC_TRANSFER_ON_SEND) {
		if (!msg->mem)
			return DIPC_EINVAL;
		travel = msg;
	}
	int rc = remote_send(ch, src, (size_t)msg->size, timeout_ns);
	if (rc || !travel)
		return rc;
	/* Delivered: the allocation that stood for the message goes. */
	dipc_mem *m = travel->mem;
	if (pool_ok(m->pool))
		pool_free_raw(m->pool, m->blk);
	msg_drop_mem(travel);
	travel->size = 0;
	return 0;
}

int remote_recv_msg(dipc_channel *ch, dipc_msg *msg, int64_t timeout_ns)
{
	if (!msg->mem)
		return remote_recv(ch, NULL, 0, NULL, msg, timeout_ns);
	dipc_mem *m = msg->mem;
	size_t len = 0;
	int rc = remote_recv(ch, pool_ptr(m->pool, m->off), (size_t)m->size, &len, NULL, timeout_ns);
	if (rc == 0)
		msg->size = len;
	return rc;
}

/*
 * owner.c - the owning side: requests of other hosts' processes done on
 * this host's channels.
 *
 * The rules (the records are in state.c):
 *
 * 1. Each request id is done once.  A request whose record or job exists
 *    is not done again: a finished one is answered from its record, one
 *    in progress is answered when it ends.  A cancelled id leaves a
 *    tombstone, so that a copy of the request arriving after its
 *    cancellation is not done either.
 *
 * 2. A send is committed inside the smallest window the channel API
 *    allows: the bridge waits for room first (poll), then marks the
 *    record SEND_DOING, tries once, and records the outcome.  A bridge
 *    killed between the mark and the outcome leaves SEND_DOING, which the
 *    next one reports as unknown (DIPC_EPEERCLOSED): never success, never
 *    a second copy.
 *
 * 3. A receive takes a message only into memory that outlives the bridge
 *    (a block of the channel's own pool, allocated first, named in the
 *    HELD record right after the take) and keeps it until its caller
 *    says it has it (ACK) or gave up (CANCEL).  A given-back message is
 *    first in line for the channel's next remote receive; if none comes
 *    within RETURN_TTL it goes back into the channel (at its tail: the
 *    only case where a remote receiver changes the order).  One that
 *    nobody speaks for within HOLD_TTL counts as delivered (its
 *    receiver's host went silent after it got it, as a local receiver
 *    that dies after its take loses the message).
 *
 * 4. Waits never block the network thread: an operation that cannot
 *    finish at once goes to a worker thread, which waits in slices and
 *    stops when its caller cancels or goes silent.
 *
 * 5. A peer is an outsider, authorised or not.  Its descriptor is acted
 *    on only if it names a channel of this host (else DIPC_EFOREIGN: the
 *    bridge never relays through its own gateway, which would block the
 *    network thread) outside the gateway pools (else DIPC_EPERM: the
 *    gateway is the bridge's own).  Any other channel of the bridge's
 *    user that a peer names is used, with that user's rights: that is
 *    what an authorised peer is for.  Channels are keyed by their own
 *    serialisation, not the peer's bytes (which can spell one channel
 *    many ways), and every table a peer can fill has a bound, past which
 *    the request is answered DIPC_ELIMIT: MAX_CHANS channels, MAX_JOBS
 *    workers holding at most JOB_BYTES payload bytes, the state table's
 *    records (state.c).  A message larger than the bridge carries
 *    (--max-message) is never taken: DIPC_EMSGSIZE, as for a small
 *    buffer.
 *
 * 6. A waiting send's payload crosses once.  A send that has to wait for
 *    room (a worker does it) is confirmed to its gateway at once
 *    (W_HAVE), and again whenever its request comes again; the gateway
 *    then sends only probes (the request without its payload, W_PROBE)
 *    to keep it alive and learn its fate.  A probe for a request this
 *    bridge does not have (it restarted, or the worker ended and left a
 *    record, which answers it) is never done: W_HAVE 0 asks for the
 *    whole request.
 */
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLICE_NS     (100ll * 1000 * 1000)
#define RETURN_TTL   (5ull * 1000 * 1000 * 1000)
#define HOLD_TTL     (120ull * 1000 * 1000 * 1000)
#define DONE_TTL     (120ull * 1000 * 1000 * 1000)
#define MAX_JOBS     1024
/* take(): a given-back message waits for the channel's next taker. */
#define DIPC_EAGAIN_RETURNED (-1001)
#define MAX_CHANS    1024
#define JOB_BYTES    (256ull << 20)

struct chan_ent {
	struct chan_ent *next;
	uint64_t key;
	size_t desc_len;
	unsigned char desc[DIPC_SERIAL_MAX];
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	dipc_pool *pool;
	struct held *ret_head, *ret_tail;   /* given back, first in line */
};

struct held {
	struct held *next;          /* in the returned queue */
	struct held *all_next, *all_prev;
	struct srec *rec;
	struct chan_ent *ce;
	dipc_mem *mem;
	size_t len;
	bool returned;
};

struct job {
	struct job *next;
	struct wire w;
	_Atomic uint32_t conn;      /* where to answer: the newest request's */
	struct chan_ent *ce;
	void *payload;
	size_t plen;
	atomic_bool cancel;
	_Atomic uint64_t seen;      /* the caller's bridge asked last */
};

static struct chan_ent *chans;
/* Guards the held messages and the returned queues (workers take
 * messages too); taken before state_lock, never after. */
static pthread_mutex_t hmx = PTHREAD_MUTEX_INITIALIZER;
static struct held *all_held;
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *jobs;
static unsigned njobs;
static uint64_t job_bytes;      /* payloads held by workers (rule 5) */
static unsigned nchans;

/* ---- channels ------------------------------------------------------------------ */

static bool same_pool(dipc_pool *a, dipc_pool *b)
{
	unsigned char sa[DIPC_SERIAL_MAX], sb[DIPC_SERIAL_MAX];
	int na = dipc_pool_serialize(a, sa, sizeof(sa));
	int nb = b ? dipc_pool_serialize(b, sb, sizeof(sb)) : -1;
	return na > 0 && na == nb && memcmp(sa, sb, (size_t)na) == 0;
}

static struct chan_ent *chan_find(const unsigned char *desc, size_t len)
{
	uint64_t key = hash64(desc, len);
	for (struct chan_ent *c = chans; c; c = c->next)
		if (c->key == key && c->desc_len == len && memcmp(c->desc, desc, len) == 0)
			return c;
	return NULL;
}

static struct chan_ent *chan_get(const unsigned char *desc, size_t len, int *rc)
{
	struct chan_ent *c = chan_find(desc, len);
	if (c)
		return c;
	/* Rule 5: this host's channels only, never through the gateway. */
	uint64_t host = 0;
	for (int i = 0; len >= 48 && i < 8; i++)
		host |= (uint64_t)desc[40 + i] << (8 * i);
	if (len < 48 || host != B.host) {
		*rc = len < 48 ? DIPC_EINVAL : DIPC_EFOREIGN;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		*rc = DIPC_ENOMEM;
		return NULL;
	}
	*rc = dipc_channel_attach(desc, len, NULL, &c->ch);
	if (*rc == 0) {
		*rc = dipc_channel_pool(c->ch, &c->pool);
		if (*rc == 0 && (same_pool(c->pool, B.gwpool) || same_pool(c->pool, B.oldgwpool)))
			*rc = DIPC_EPERM;
		if (*rc == 0) {
			/* The channel's own spelling of itself is the key. */
			int n = dipc_channel_serialize(c->ch, c->desc, sizeof(c->desc));
			*rc = n > 0 ? 0 : n ? n : DIPC_EINVAL;
			c->desc_len = n > 0 ? (size_t)n : 0;
		}
		struct chan_ent *known = *rc == 0 ? chan_find(c->desc, c->desc_len) : NULL;
		if (known || (*rc == 0 && nchans >= MAX_CHANS)) {
			dipc_channel_detach(c->ch);
			free(c);
			if (known)
				return known;
			*rc = DIPC_ELIMIT;
			return NULL;
		}
		if (*rc == 0)
			*rc = dipc_sendh_create(c->ch, NULL, &c->sh);
		if (*rc == 0)
			*rc = dipc_sendh_open(c->sh);
		if (*rc == 0)
			*rc = dipc_recvh_create(c->ch, NULL, &c->rh);
		if (*rc == 0)
			*rc = dipc_recvh_open(c->rh);
		if (*rc) {
			dipc_sendh_destroy(c->sh);
			dipc_recvh_destroy(c->rh);
			dipc_channel_detach(c->ch);
		}
	}
	if (*rc) {
		free(c);
		return NULL;
	}
	c->key = hash64(c->desc, c->desc_len);
	c->next = chans;
	chans = c;
	nchans++;
	vlog("channel %016llx attached for remote callers", (unsigned long long)c->key);
	return c;
}

/* ---- answers -------------------------------------------------------------------- */

static void answer(uint32_t conn, const struct wire *req, int rc, uint64_t value,
		   uint64_t value2, const void *payload, size_t plen)
{
	struct wire w = {
		.kind = W_REP, .op = req->op, .rc = rc, .host = B.host,
		.incarnation = B.incarnation, .client = req->client, .id = req->id,
		.value = value, .value2 = value2,
	};
	unsigned char hdr[TP_HDR_MAX];
	size_t hl = wire_encode(&w, hdr);
	tp_send(B.tp, conn, hdr, hl, payload, plen);
}

/* Rule 6: say whether a send is here (being done), so that its gateway
 * stops sending its payload again and again. */
static void have(uint32_t conn, const struct wire *req, bool here)
{
	struct wire w = {
		.kind = W_HAVE, .op = req->op, .host = B.host, .incarnation = B.incarnation,
		.client = req->client, .id = req->id, .value = here,
	};
	unsigned char hdr[TP_HDR_MAX];
	size_t hl = wire_encode(&w, hdr);
	tp_send(B.tp, conn, hdr, hl, NULL, 0);
}

static void answer_held(uint32_t conn, const struct wire *req, struct held *h)
{
	void *p;
	dipc_mem_get(h->mem, &p, NULL);
	answer(conn, req, 0, h->len, 0, p, h->len);
}

/* ---- held messages ---------------------------------------------------------------- */

static struct held *held_add(struct chan_ent *ce, struct srec *r, dipc_mem *mem, size_t len)
{
	struct held *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->rec = r;
	h->ce = ce;
	h->mem = mem;
	h->len = len;
	h->all_next = all_held;
	if (all_held)
		all_held->all_prev = h;
	all_held = h;
	return h;
}

static void held_unlink(struct held *h)
{
	if (h->all_prev)
		h->all_prev->all_next = h->all_next;
	else
		all_held = h->all_next;
	if (h->all_next)
		h->all_next->all_prev = h->all_prev;
	if (h->returned) {
		struct chan_ent *ce = h->ce;
		struct held **pp = &ce->ret_head;
		struct held *prev = NULL;
		while (*pp && *pp != h) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = h->next;
			if (ce->ret_tail == h)
				ce->ret_tail = prev;
		}
	}
}

static struct held *held_of(struct srec *r)
{
	for (struct held *h = all_held; h; h = h->all_next)
		if (h->rec == r)
			return h;
	return NULL;
}

/* Delivered (or counted as delivered): the memory and the record go. */
static void held_done(struct held *h)
{
	held_unlink(h);
	state_lock();
	state_free(h->rec);
	state_unlock();
	dipc_mem_free(h->mem);
	free(h);
}

static void held_return(struct held *h)
{
	state_lock();
	h->rec->order = now_ns();
	state_set(h->rec, S_RETURNED);
	state_unlock();
	h->returned = true;
	h->next = NULL;
	struct chan_ent *ce = h->ce;
	if (ce->ret_tail)
		ce->ret_tail->next = h;
	else
		ce->ret_head = h;
	ce->ret_tail = h;
}

/* Put a returned message back into its channel (rule 3). */
static int held_requeue(struct held *h)
{
	state_lock();
	state_set(h->rec, S_REQUEUE);
	state_unlock();
	dipc_msg *m;
	int rc = dipc_msg_create_from_mem(h->mem, &m);
	if (rc == 0) {
		rc = dipc_sendh_send(h->ce->sh, m, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE);
		if (rc == 0) {
			dipc_msg_destroy(m, 0);
			held_unlink(h);
			state_lock();
			state_free(h->rec);
			state_unlock();
			free(h);
			return 0;
		}
		/* Not sent: take the memory handle back from the message. */
		dipc_mem *mem;
		dipc_msg_mem(m, &mem);
		char ser[S_MEM_MAX];
		int n = dipc_mem_serialize(mem, ser, sizeof(ser));
		dipc_mem *again = NULL;
		if (n > 0 && dipc_mem_attach(h->ce->pool, ser, (size_t)n, &again) == 0) {
			dipc_msg_destroy(m, 0);
			h->mem = again;
		}
	}
	state_lock();
	state_set(h->rec, S_RETURNED);
	state_unlock();
	return rc;
}

/* Take one message of ce for a caller that takes at most cap bytes, into
 * a block of the channel's pool.  0 with *out, or DIPC_EEMPTY, or
 * DIPC_EMSGSIZE with *size. */
static int take(struct chan_ent *ce, const struct wire *w, uint64_t cap, atomic_bool *cancel,
		struct held **out, size_t *size)
{
	if (cap > B.max_msg)
		cap = B.max_msg;        /* rule 5: never more than the wire carries */
	size_t room = (size_t)dipc_channel_block_size(ce->ch);
	if (room > cap)
		room = (size_t)cap;
	for (int tries = 0; tries < 64; tries++) {
		dipc_mem *mem;
		int rc = dipc_pool_alloc(ce->pool, room ? room : 1, &mem);
		if (rc)
			return rc;
		void *p;
		dipc_mem_get(mem, &p, NULL);
		size_t len = 0;
		/* Rule 3's order: the take, its record and the look at the
		 * caller's cancellation are one step under hmx, which a
		 * cancellation (do_cancel) and a given-back message's next
		 * taker (take_returned) also hold.  So a message taken for a
		 * caller who gave up is first in line before the next request
		 * is served, never after it took a later message. */
		pthread_mutex_lock(&hmx);
		if (cancel && atomic_load(cancel)) {
			pthread_mutex_unlock(&hmx);
			dipc_mem_free(mem);
			return DIPC_ETIMEDOUT;
		}
		rc = ce->ret_head ? DIPC_EAGAIN_RETURNED : dipc_recvh_recv_bytes(ce->rh, p, room, &len,
										   DIPC_TRY_ONCE);
		if (rc == 0) {
			/* Taken: name it durably at once (rule 3). */
			state_lock();
			struct srec *r = state_new(w->client, w->id, S_HELD);
			if (r) {
				r->len = len;
				r->desc_len = (uint16_t)ce->desc_len;
				memcpy(r->desc, ce->desc, ce->desc_len);
				int n = dipc_mem_serialize(mem, r->mem, sizeof(r->mem));
				r->mem_len = n > 0 ? (uint16_t)n : 0;
				state_set(r, S_HELD);
			}
			state_unlock();
			struct held *h = r ? held_add(ce, r, mem, len) : NULL;
			if (h && cancel && atomic_load(cancel)) {
				/* Its caller gave up meanwhile: first in line. */
				held_return(h);
				pthread_mutex_unlock(&hmx);
				return DIPC_ETIMEDOUT;
			}
			pthread_mutex_unlock(&hmx);
			if (!h) {
				/* No record: it cannot be kept, put it back. */
				logmsg("state table full: a taken message goes back to its channel");
				dipc_sendh_send_bytes(ce->sh, p, len, DIPC_TRY_ONCE);
				dipc_mem_free(mem);
				if (r) {
					state_lock();
					state_free(r);
					state_unlock();
				}
				return DIPC_ELIMIT;
			}
			*out = h;
			return 0;
		}
		pthread_mutex_unlock(&hmx);
		dipc_mem_free(mem);
		if (rc != DIPC_EMSGSIZE)
			return rc;
		if (len > cap) {
			*size = len;
			return DIPC_EMSGSIZE;
		}
		room = len;     /* larger than a block: try again with room for it */
	}
	return DIPC_EBUSY;
}

/* The first returned message of ce, handed to the request w. */
static struct held *take_returned(struct chan_ent *ce, const struct wire *w, uint64_t cap,
				  size_t *size, int *rc)
{
	struct held *h = ce->ret_head;
	if (!h)
		return NULL;
	if (h->len > cap) {
		*size = h->len;
		*rc = DIPC_EMSGSIZE;
		return NULL;
	}
	ce->ret_head = h->next;
	if (!ce->ret_head)
		ce->ret_tail = NULL;
	h->returned = false;
	state_lock();
	state_rekey(h->rec, w->client, w->id);
	state_set(h->rec, S_HELD);
	state_unlock();
	*rc = 0;
	return h;
}

/* ---- workers ------------------------------------------------------------------------ */

static struct job *job_find(uint64_t client, uint64_t id)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->w.client == client && j->w.id == id)
			return j;
	return NULL;
}

static void job_end(struct job *j, int rc, uint64_t value, struct held *h, size_t size)
{
	struct item *it = calloc(1, sizeof(*it));
	if (it) {
		it->kind = IT_RESULT;
		it->res = j->w;
		it->res.rc = rc;
		it->res.value = value;
		it->res.value2 = size;
		it->conn = atomic_load(&j->conn);
		it->held = h;
		q_push(it);
	}
	pthread_mutex_lock(&jobs_lock);
	for (struct job **pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	njobs--;
	job_bytes -= j->plen;
	pthread_mutex_unlock(&jobs_lock);
	free(j->payload);
	free(j);
}

/* Wait for events on the channel in slices, until the deadline, the
 * caller's cancellation or its silence. */
static int job_wait(struct job *j, int events, uint64_t deadline)
{
	for (;;) {
		if (atomic_load(&j->cancel) || atomic_load(&B.stop))
			return DIPC_ETIMEDOUT;
		uint64_t seen = atomic_load(&j->seen);
		if (now_ns() - seen > (uint64_t)B.peer_timeout_ns)
			return DIPC_EPEERCLOSED;
		int64_t slice = SLICE_NS;
		if (deadline != UINT64_MAX) {
			uint64_t now = now_ns();
			if (now >= deadline)
				return DIPC_ETIMEDOUT;
			if ((int64_t)(deadline - now) < slice)
				slice = (int64_t)(deadline - now);
		}
		/* A receive also ends its wait for a message given back. */
		if (j->w.op == GW_RECV) {
			pthread_mutex_lock(&hmx);
			bool back = j->ce->ret_head != NULL;
			pthread_mutex_unlock(&hmx);
			if (back)
				return DIPC_POLL_READABLE;
		}
		int ev = dipc_channel_poll(j->ce->ch, events, slice);
		if (ev > 0)
			return ev;
		if (ev < 0 && ev != DIPC_ETIMEDOUT)
			return ev;
	}
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	const struct wire *w = &j->w;
	uint64_t deadline = w->timeout < 0 ? UINT64_MAX : now_ns() + (uint64_t)w->timeout;
	int rc;
	if (w->op == GW_POLL) {
		rc = job_wait(j, (int)w->arg, deadline);
		job_end(j, rc < 0 ? rc : 0, rc < 0 ? 0 : (uint64_t)rc, NULL, 0);
		return NULL;
	}
	if (w->op == GW_SEND) {
		for (;;) {
			rc = job_wait(j, DIPC_POLL_WRITABLE, deadline);
			if (rc < 0)
				break;
			state_lock();
			if (atomic_load(&j->cancel)) {
				state_unlock();
				rc = DIPC_ETIMEDOUT;
				break;
			}
			struct srec *r = state_new(w->client, w->id, S_SEND_DOING);
			state_unlock();
			if (!r) {
				rc = DIPC_ELIMIT;
				break;
			}
			rc = dipc_sendh_send_bytes(j->ce->sh, j->payload, j->plen, DIPC_TRY_ONCE);
			state_lock();
			if (rc == DIPC_EFULL) {
				state_free(r);
			} else {
				r->rc = rc;
				state_set(r, S_SEND_DONE);
			}
			state_unlock();
			if (rc != DIPC_EFULL)
				break;
		}
		if (rc < 0 && rc != DIPC_EFULL) {
			/* Not done: a later copy of the request must not be. */
			state_lock();
			if (!state_find(w->client, w->id)) {
				struct srec *t = state_new(w->client, w->id, S_CANCELLED);
				if (t) {
					t->rc = rc;
					state_set(t, S_CANCELLED);
				}
			}
			state_unlock();
		}
		job_end(j, rc, 0, NULL, 0);
		return NULL;
	}
	/* GW_RECV: a message given back is first in line (rule 3), for a
	 * receive that waits too; take() leaves the channel alone while one
	 * is there (DIPC_EAGAIN_RETURNED). */
	struct held *h = NULL;
	size_t size = 0;
	for (;;) {
		rc = DIPC_EEMPTY;
		pthread_mutex_lock(&hmx);
		if (!atomic_load(&j->cancel))
			h = take_returned(j->ce, w, w->arg, &size, &rc);
		pthread_mutex_unlock(&hmx);
		if (h || rc != DIPC_EEMPTY)
			break;
		rc = job_wait(j, DIPC_POLL_READABLE, deadline);
		if (rc < 0)
			break;
		if (atomic_load(&j->cancel)) {
			rc = DIPC_ETIMEDOUT;
			break;
		}
		rc = take(j->ce, w, w->arg, &j->cancel, &h, &size);
		if (rc != DIPC_EEMPTY && rc != DIPC_EAGAIN_RETURNED)
			break;
	}
	job_end(j, rc, h ? h->len : 0, h, size);
	return NULL;
}

static int job_start(uint32_t conn, const struct wire *w, struct chan_ent *ce,
		     const void *payload, size_t plen)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return DIPC_ENOMEM;
	if (plen) {
		j->payload = malloc(plen);
		if (!j->payload) {
			free(j);
			return DIPC_ENOMEM;
		}
		memcpy(j->payload, payload, plen);
	}
	j->w = *w;
	atomic_init(&j->conn, conn);
	j->ce = ce;
	j->plen = plen;
	atomic_store(&j->seen, now_ns());
	pthread_mutex_lock(&jobs_lock);
	if (njobs == MAX_JOBS || job_bytes + plen > JOB_BYTES) {
		pthread_mutex_unlock(&jobs_lock);
		free(j->payload);
		free(j);
		return DIPC_ELIMIT;
	}
	j->next = jobs;
	jobs = j;
	njobs++;
	job_bytes += plen;
	pthread_mutex_unlock(&jobs_lock);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	int e = pthread_create(&t, &a, job_run, j);
	pthread_attr_destroy(&a);
	if (e) {
		pthread_mutex_lock(&jobs_lock);
		for (struct job **pp = &jobs; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		njobs--;
		job_bytes -= plen;
		pthread_mutex_unlock(&jobs_lock);
		free(j->payload);
		free(j);
		return DIPC_ELIMIT;
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------------------- */

static void do_send(uint32_t conn, const struct wire *w, struct chan_ent *ce, const void *payload,
		    size_t plen)
{
	state_lock();
	struct srec *r = state_new(w->client, w->id, S_SEND_DOING);
	state_unlock();
	if (!r) {
		answer(conn, w, DIPC_ELIMIT, 0, 0, NULL, 0);
		return;
	}
	int rc = dipc_sendh_send_bytes(ce->sh, payload, plen, DIPC_TRY_ONCE);
	state_lock();
	if (rc == DIPC_EFULL && w->timeout != DIPC_TRY_ONCE) {
		state_free(r);
	} else {
		r->rc = rc;
		state_set(r, S_SEND_DONE);
	}
	state_unlock();
	if (rc == DIPC_EFULL && w->timeout != DIPC_TRY_ONCE) {
		rc = job_start(conn, w, ce, payload, plen);
		if (rc == 0) {
			have(conn, w, true);
			return;
		}
	}
	answer(conn, w, rc, 0, 0, NULL, 0);
}

static void do_recv(uint32_t conn, const struct wire *w, struct chan_ent *ce)
{
	size_t size = 0;
	int rc = DIPC_EEMPTY;
	struct held *h;
	for (;;) {
		pthread_mutex_lock(&hmx);
		h = take_returned(ce, w, w->arg, &size, &rc);
		pthread_mutex_unlock(&hmx);
		if (h || rc != DIPC_EEMPTY)
			break;
		rc = take(ce, w, w->arg, NULL, &h, &size);
		if (rc != DIPC_EAGAIN_RETURNED)
			break;
		rc = DIPC_EEMPTY;       /* one was given back meanwhile: it first */
	}
	if (rc == DIPC_EEMPTY && w->timeout != DIPC_TRY_ONCE) {
		rc = job_start(conn, w, ce, NULL, 0);
		if (rc == 0)
			return;
	}
	if (rc == 0)
		answer_held(conn, w, h);
	else
		answer(conn, w, rc, rc == DIPC_EMSGSIZE ? size : 0, 0, NULL, 0);
}

static void do_cancel(uint32_t conn, const struct wire *w)
{
	pthread_mutex_lock(&jobs_lock);
	struct job *j = job_find(w->client, w->id);
	if (j)
		atomic_store(&j->cancel, true);
	pthread_mutex_unlock(&jobs_lock);
	pthread_mutex_lock(&hmx);
	state_lock();
	struct srec *r = state_find(w->client, w->id);
	uint32_t st = r ? atomic_load(&r->state) : S_FREE;
	if (!r && !j) {
		struct srec *t = state_new(w->client, w->id, S_CANCELLED);
		if (t) {
			t->rc = DIPC_ETIMEDOUT;
			state_set(t, S_CANCELLED);
		}
	}
	state_unlock();
	if (st == S_HELD) {
		struct held *h = held_of(r);
		if (h)
			held_return(h);
	}
	pthread_mutex_unlock(&hmx);
	answer(conn, w, 0, 0, 0, NULL, 0);
}

void own_request(uint32_t conn, const struct wire *w, const void *payload, size_t plen)
{
	if (w->op == GW_CANCEL) {
		do_cancel(conn, w);
		return;
	}
	state_lock();
	state_note_low(w->client, w->low);
	struct srec *r = state_find(w->client, w->id);
	uint32_t st = r ? atomic_load(&r->state) : S_FREE;
	int rrc = r ? r->rc : 0;
	state_unlock();
	if (w->op == GW_ACK) {
		pthread_mutex_lock(&hmx);
		struct held *h = st == S_HELD ? held_of(r) : NULL;
		if (h)
			held_done(h);
		pthread_mutex_unlock(&hmx);
		answer(conn, w, 0, 0, 0, NULL, 0);
		return;
	}
	/* Rule 1: done before, or being done. */
	if (st == S_SEND_DONE || st == S_CANCELLED) {
		answer(conn, w, st == S_CANCELLED ? DIPC_ETIMEDOUT : rrc, 0, 0, NULL, 0);
		return;
	}
	if (st == S_UNKNOWN) {
		answer(conn, w, DIPC_EPEERCLOSED, 0, 0, NULL, 0);
		return;
	}
	if (st == S_HELD) {
		pthread_mutex_lock(&hmx);
		struct held *h = held_of(r);
		if (h)
			answer_held(conn, w, h);
		pthread_mutex_unlock(&hmx);
		return;
	}
	pthread_mutex_lock(&jobs_lock);
	struct job *j = job_find(w->client, w->id);
	if (j) {
		atomic_store(&j->seen, now_ns());
		atomic_store(&j->conn, conn);
	}
	pthread_mutex_unlock(&jobs_lock);
	bool probe = w->op == GW_SEND && w->arg == W_PROBE;
	if (j) {
		if (w->op == GW_SEND)
			have(conn, w, true);
		return;
	}
	if (probe) {
		/* Rule 6: a probe is never done; its sender sends it whole. */
		have(conn, w, false);
		return;
	}
	int rc;
	struct chan_ent *ce = chan_get(w->desc, w->desc_len, &rc);
	if (!ce) {
		answer(conn, w, rc, 0, 0, NULL, 0);
		return;
	}
	switch (w->op) {
	case GW_ATTACH:
		answer(conn, w, 0, (uint64_t)dipc_channel_capacity(ce->ch),
		       (uint64_t)dipc_channel_block_size(ce->ch), NULL, 0);
		break;
	case GW_COUNT:
		rc = dipc_channel_count(ce->ch);
		answer(conn, w, rc < 0 ? rc : 0, rc < 0 ? 0 : (uint64_t)rc, 0, NULL, 0);
		break;
	case GW_POLL:
		rc = dipc_channel_poll(ce->ch, (int)w->arg, DIPC_TRY_ONCE);
		if (rc == 0 && w->timeout != DIPC_TRY_ONCE && job_start(conn, w, ce, NULL, 0) == 0)
			break;
		answer(conn, w, rc < 0 ? rc : 0, rc < 0 ? 0 : (uint64_t)rc, 0, NULL, 0);
		break;
	case GW_SEND:
		do_send(conn, w, ce, payload, plen);
		break;
	case GW_RECV:
		do_recv(conn, w, ce);
		break;
	default:
		answer(conn, w, DIPC_EINVAL, 0, 0, NULL, 0);
	}
}

void own_result(struct item *it)
{
	if (it->held) {
		/* Still held for this caller (an ACK needs this answer first). */
		pthread_mutex_lock(&hmx);
		state_lock();
		struct srec *r = state_find(it->res.client, it->res.id);
		bool held = r && atomic_load(&r->state) == S_HELD;
		state_unlock();
		struct held *h = held ? held_of(r) : NULL;
		if (h)
			answer_held(it->conn, &it->res, h);
		pthread_mutex_unlock(&hmx);
		return;
	}
	answer(it->conn, &it->res, it->res.rc,
	       it->res.rc == DIPC_EMSGSIZE ? it->res.value2 : it->res.value, 0, NULL, 0);
}

void own_tick(void)
{
	uint64_t now = now_ns();
	state_lock();
	state_sweep(now, DONE_TTL);
	state_unlock();
	pthread_mutex_lock(&hmx);
	for (struct held *h = all_held, *next; h; h = next) {
		next = h->all_next;
		/* A worker may have stamped it after we read the clock. */
		uint64_t stamp = h->rec->stamp;
		uint64_t since = now > stamp ? now - stamp : 0;
		if (!h->returned && since > HOLD_TTL) {
			logmsg("a message held %llu s for a receiver that never answered counts as "
			       "delivered", (unsigned long long)(since / 1000000000ull));
			held_done(h);
		} else if (h->returned && since > RETURN_TTL && h == h->ce->ret_head) {
			held_requeue(h);
		}
	}
	pthread_mutex_unlock(&hmx);
}

/* After a restart: the held and returned messages of the last run. */
static void rebuild(struct srec *r, void *arg)
{
	(void)arg;
	uint32_t st = atomic_load(&r->state);
	if (st != S_HELD && st != S_RETURNED && st != S_REQUEUE)
		return;
	int rc = DIPC_EINVAL;
	struct chan_ent *ce = st == S_REQUEUE ? NULL : chan_get(r->desc, r->desc_len, &rc);
	dipc_mem *mem = NULL;
	if (ce)
		rc = dipc_mem_attach(ce->pool, r->mem, r->mem_len, &mem);
	struct held *h = rc == 0 ? held_add(ce, r, mem, (size_t)r->len) : NULL;
	if (!h) {
		/* Its channel is gone (or it was going back into it when the
		 * last run died): nothing to hand over. */
		if (mem)
			dipc_mem_detach(mem);
		state_free(r);
		return;
	}
	if (st == S_RETURNED) {
		h->returned = true;
		if (ce->ret_tail)
			ce->ret_tail->next = h;
		else
			ce->ret_head = h;
		ce->ret_tail = h;
	}
}

int own_start(void)
{
	state_lock();
	state_each(rebuild, NULL);
	unsigned n = state_used();
	state_unlock();
	if (n)
		logmsg("state: %u records of the last run kept", n);
	return 0;
}

void own_stop(void)
{
	pthread_mutex_lock(&jobs_lock);
	for (struct job *j = jobs; j; j = j->next)
		atomic_store(&j->cancel, true);
	pthread_mutex_unlock(&jobs_lock);
	for (int i = 0; i < 50; i++) {
		pthread_mutex_lock(&jobs_lock);
		unsigned left = njobs;
		pthread_mutex_unlock(&jobs_lock);
		if (!left)
			break;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

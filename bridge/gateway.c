/*
 * gateway.c - the local side: the gateway pool, the requests of this
 * host's processes, and their forwarding to the owning hosts' bridges.
 *
 * The rules:
 *
 * 1. One bridge per gateway.  The gateway pool is made anew at each
 *    start (its creator is the bridge: processes watch that pid); a pool
 *    of a live bridge is never taken over, a dead one's is removed.
 *
 * 2. Nothing is forgotten while its caller waits.  A request is kept
 *    until the owning bridge answers it, and sent again each RESEND_NS
 *    without an answer, at once when the owner is heard again after a
 *    silence or restarted (the owner does each id once, owner.c); it is
 *    dropped only when its caller's time is surely over.  A request for
 *    a host that no peer serves waits while some peer is still unknown,
 *    and fails with DIPC_EFOREIGN once every peer is known.
 *
 * 3. A dead peer fails its callers.  A peer silent for the peer timeout
 *    is dead: the requests waiting on it are answered DIPC_EPEERCLOSED,
 *    so that no call waits for ever on a host that is gone.
 *
 * 4. Answers go where they were asked for, once.  A receive's message
 *    that cannot be put in its caller's reply channel (the caller died,
 *    or gave up) is given back to its owner (a CANCEL on the caller's
 *    behalf).  The reply channels of dead processes are destroyed.
 *
 * 5. Requests are checked as untrusted input before the network thread
 *    acts on them, whoever reads them off the channel: the network
 *    thread when the gateway has a bell (rule 9), else a reader thread of
 *    their own (a channel wait cannot be polled with sockets).
 *
 * 6. What a dead bridge left unread is read.  The request channel of the
 *    last run's gateway (its descriptor is kept in the state segment) is
 *    attached before that gateway's name is removed, and read for
 *    OLD_GRACE_NS besides the new one: a process that saw its bridge die
 *    may still post there (an ACK or CANCEL above all) until it finds the
 *    new gateway.
 *
 * 7. A request is an outsider's.  Any process of the user can write to
 *    the request channel, so a request is copied out of the pool once
 *    and checked in private memory (gw_req_check, wire.c) before anything uses it:
 *    magic, version, op, every length against the message's own size, a
 *    timeout the API knows, a payload no larger than the bridge carries.
 *    One that fails is answered with the reason (DIPC_EINVAL,
 *    DIPC_EMSGSIZE) when it names a reply channel we can find, and
 *    dropped otherwise; nothing that fails is forwarded (an owner would
 *    drop it, and it would be sent again for ever).  What requests can
 *    fill is bounded: at most MAX_PENDING wait for answers (more are
 *    answered DIPC_ELIMIT), deadlines saturate instead of wrapping, and
 *    the requests of a process that died are cancelled at the owner and
 *    forgotten here.  An answer counts only from the peer that serves
 *    the request's host.
 *
 * 8. A host id has one server.  The first live peer that says it serves
 *    a host keeps it; another peer's claim to it (or to this host's id)
 *    is logged once and ignored until that peer is found dead, so a peer
 *    cannot take the requests meant for another.  A peer whose claim is
 *    ignored has answered: it serves nothing, and a request for a host
 *    nobody serves is DIPC_EFOREIGN at once (rule 2) all the same.
 *
 * 9. A request wakes the network thread itself.  The gateway has a bell
 *    (gateway.h): a datagram socket of this user, 0600, that a process
 *    rings after each request it posts.  The network thread polls it
 *    with the network and takes the requests off the channel at once,
 *    PULL_MAX a turn (more waiting: its next poll does not sleep), and
 *    at every tick besides, so a request whose ring was lost (the
 *    socket's queue was full) waits a tick at most.  A ring carries
 *    nothing: whoever rings, the requests are checked as ever.  Without
 *    a bell (the path is taken by something not ours, or too long), the
 *    reader thread of rule 5 does it, one hand-off more.
 *
 * 10. A waiting send's payload crosses once.  An owner that has a send
 *    waiting for room says so (W_HAVE, owner.c rule 6); from then on the
 *    resends of rule 2 are probes without the payload, which keep the
 *    owner's worker alive and bring the send's answer if it was lost.
 *    An owner that does not have it (W_HAVE 0) or that restarted or was
 *    silent gets the whole request again at once.  Without this, sends of
 *    large messages waiting on a full remote channel resent their payload
 *    every second, more than a slow link could carry.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE            /* recvmmsg */
#endif
#include "bridge.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESEND_NS   (1000ull * 1000 * 1000)
#define PING_NS     (500ull * 1000 * 1000)
#define GRACE_NS    (2000ull * 1000 * 1000)
#define WORD_TTL_NS (30ull * 1000 * 1000 * 1000)
#define NBUCKET     4096
#define MAX_PEERS   64
#define OLD_GRACE_NS (30ull * 1000 * 1000 * 1000)
#define MAX_PENDING 8192
#define WORD_SPARE  2048        /* room kept for ACK and CANCEL */
#define PULL_MAX    256         /* requests taken per turn of the network thread */

struct peer {
	uint32_t conn;
	char endpoint[256];
	uint64_t host, incarnation;
	uint64_t heard, pinged;
	bool known, dead;
	uint64_t refused;       /* rule 8: the host it claims that we ignore (0: none) */
};

struct pending {
	struct pending *next;
	struct item *it;
	uint64_t host;
	uint64_t sent, deadline;
	bool word;              /* ACK or CANCEL: no caller waits for it */
	bool held;              /* rule 10: the owner has it; probes only */
};

struct replych {
	struct replych *next;
	uint64_t cuid;
	uint32_t pid;
	dipc_channel *ch;
	dipc_sendh *sh;
};

static struct peer peers[MAX_PEERS];
static unsigned npeers;
static struct pending *bucket[NBUCKET];
static unsigned npending;
static struct replych *replies;
static pthread_t reader;
static bool reader_up;
static dipc_recvh *reqrh;
static dipc_channel *oldch;     /* the last run's request channel (rule 6) */
static dipc_recvh *oldrh;
static uint64_t started;
static uint64_t last_janitor;
static int bellfd = -1;         /* rule 9 */
static char bellpath[128];

static unsigned bucket_of(uint64_t client, uint64_t id)
{
	return (unsigned)(((client ^ (id * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull) >> 52) %
	       NBUCKET;
}

/* ---- the gateway pool and the reader ---------------------------------------------- */

/* Rule 7: 0, or why the request is refused.  *answerable says that its
 * reply channel descriptor is whole, so that the refusal can be told. */
/* Take one request off rh (waiting up to timeout) and check it (rule 7):
 * an item for the network thread, or NULL with *rc saying why none. */
static struct item *read_request(dipc_recvh *rh, int64_t timeout, int *rc)
{
	dipc_msg *m;
	*rc = dipc_msg_create_empty(&m);
	if (*rc)
		return NULL;
	*rc = dipc_recvh_recv(rh, m, timeout);
	if (*rc) {
		dipc_msg_destroy(m, 1);
		return NULL;
	}
	void *p;
	size_t n;
	dipc_msg_get(m, &p, &n);
	struct item *it = calloc(1, sizeof(*it));
	if (!it) {
		dipc_msg_destroy(m, 1);
		*rc = DIPC_ENOMEM;
		return NULL;
	}
	/* Read once into private memory, then check (rule 7). */
	memcpy(&it->req, p, n < sizeof(it->req) ? n : sizeof(it->req));
	bool answerable;
	int bad = gw_req_check(&it->req, n, B.max_msg, &answerable);
	const unsigned char *b = (const unsigned char *)p + sizeof(it->req);
	if (bad) {
		vlog("gateway: a malformed request refused: %s", dipc_strerror(bad));
		if (answerable)
			memcpy(it->reply, b + it->req.desc_len, it->req.reply_len);
		dipc_msg_destroy(m, 1);
		if (!answerable) {
			free(it);
			*rc = DIPC_EINVAL;
			return NULL;
		}
		it->kind = IT_REQUEST;
		it->reject = bad;
		return it;
	}
	memcpy(it->desc, b, it->req.desc_len);
	memcpy(it->reply, b + it->req.desc_len, it->req.reply_len);
	it->kind = IT_REQUEST;
	it->msg = m;
	it->payload = b + it->req.desc_len + it->req.reply_len;
	it->plen = n - sizeof(it->req) - it->req.desc_len - it->req.reply_len;
	return it;
}

/* Without a bell: a thread that waits on the request channel and hands
 * each request to the network thread. */
static void *reader_run(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	bool old_turn = false;
	while (!atomic_load(&B.stop)) {
		/* Rule 6: now and then a look at the last run's channel. */
		bool old = oldrh && old_turn && now_ns() - started < OLD_GRACE_NS;
		old_turn = !old_turn;
		int rc;
		struct item *it = old ? read_request(oldrh, DIPC_TRY_ONCE, &rc)
				      : read_request(reqrh, oldrh ? 20 * 1000 * 1000 : 200 * 1000 * 1000,
						     &rc);
		if (it) {
			q_push(it);
			continue;
		}
		if (rc != DIPC_ETIMEDOUT && rc != DIPC_EEMPTY && rc != DIPC_EINVAL) {
			logmsg("gateway: reading requests: %s", dipc_strerror(rc));
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- the bell ---------------------------------------------------------------------- */

/* Rule 9: bind the gateway's bell, or leave it to the reader thread. */
static void bell_start(void)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	int n = snprintf(bellpath, sizeof(bellpath), GW_BELL_FMT, B.gateway);
	if (n < 0 || (size_t)n >= sizeof(a.sun_path)) {
		bellpath[0] = 0;
		return;
	}
	struct stat st;
	if (lstat(bellpath, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			logmsg("gateway: %s is not this user's socket: requests are read "
			       "by a thread instead", bellpath);
			bellpath[0] = 0;
			return;
		}
		unlink(bellpath);       /* the last run's */
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		bellpath[0] = 0;
		return;
	}
	memcpy(a.sun_path, bellpath, (size_t)n + 1);
	mode_t um = umask(077);
	int brc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(um);
	if (brc != 0) {
		logmsg("gateway: cannot bind %s (%s): requests are read by a thread instead",
		       bellpath, strerror(errno));
		close(fd);
		bellpath[0] = 0;
		return;
	}
	bellfd = fd;
}

int gw_bell_fd(void)
{
	return bellfd;
}

bool gw_pull(bool rung)
{
	if (bellfd < 0)
		return false;
	if (rung) {
		/* Many rings in one call: they carry nothing. */
		char b[64][1];
		struct iovec iov[64];
		struct mmsghdr mh[64];
		memset(mh, 0, sizeof(mh));
		for (int k = 0; k < 64; k++) {
			iov[k] = (struct iovec){ .iov_base = b[k], .iov_len = 1 };
			mh[k].msg_hdr.msg_iov = &iov[k];
			mh[k].msg_hdr.msg_iovlen = 1;
		}
		while (recvmmsg(bellfd, mh, 64, MSG_DONTWAIT, NULL) == 64)
			;
	}
	int rc = 0;
	unsigned i;
	for (i = 0; i < PULL_MAX; i++) {
		struct item *it = read_request(reqrh, DIPC_TRY_ONCE, &rc);
		if (!it) {
			if (rc == DIPC_EINVAL)
				continue;       /* refused without an answer */
			break;
		}
		gw_request(it);
	}
	bool more = i == PULL_MAX;
	/* Rule 6: the last run's channel, while its grace lasts. */
	if (oldrh && now_ns() - started < OLD_GRACE_NS) {
		for (unsigned k = 0; k < PULL_MAX; k++) {
			struct item *it = read_request(oldrh, DIPC_TRY_ONCE, &rc);
			if (!it) {
				if (rc == DIPC_EINVAL)
					continue;
				break;
			}
			gw_request(it);
		}
	}
	return more;
}

int gw_start(void)
{
	/* Rule 6, then rule 1: the last run's channel, then its name goes. */
	unsigned char od[DIPC_SERIAL_MAX];
	size_t ol;
	if (state_gateway_get(od, &ol) == 0 && dipc_channel_attach(od, ol, NULL, &oldch) == 0 &&
	    (dipc_recvh_create(oldch, NULL, &oldrh) || dipc_recvh_open(oldrh))) {
		dipc_recvh_destroy(oldrh);
		oldrh = NULL;
	}
	if (oldch)
		dipc_channel_pool(oldch, &B.oldgwpool);
	dipc_pool *old;
	if (dipc_pool_attach_name(B.gateway, &old) == 0)
		dipc_pool_destroy(old);
	started = now_ns();
	int rc = dipc_pool_create(B.gateway, B.gateway_size, NULL, &B.gwpool);
	if (rc) {
		logmsg("cannot create the gateway pool %s: %s", B.gateway, dipc_strerror(rc));
		return -1;
	}
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = GW_REQ_CAPACITY;
	a.block_size = GW_REQ_BLOCK;
	rc = dipc_channel_create(B.gwpool, GW_REQ_CUID, &a, &B.reqch);
	if (rc == 0)
		rc = dipc_recvh_create(B.reqch, NULL, &reqrh);
	if (rc == 0)
		rc = dipc_recvh_open(reqrh);
	if (rc) {
		logmsg("cannot create the gateway's request channel: %s", dipc_strerror(rc));
		return -1;
	}
	unsigned char nd[DIPC_SERIAL_MAX];
	int nl = dipc_channel_serialize(B.reqch, nd, sizeof(nd));
	if (nl > 0)
		state_gateway_set(nd, (size_t)nl);
	bell_start();
	if (bellfd >= 0)
		return 0;
	if (pthread_create(&reader, NULL, reader_run, NULL)) {
		logmsg("cannot start the gateway reader");
		return -1;
	}
	reader_up = true;
	return 0;
}

void gw_stop(void)
{
	if (reader_up)
		pthread_join(reader, NULL);
	reader_up = false;
	if (bellfd >= 0) {
		close(bellfd);
		unlink(bellpath);
	}
	bellfd = -1;
	for (struct replych *r = replies, *next; r; r = next) {
		next = r->next;
		dipc_sendh_destroy(r->sh);
		dipc_channel_detach(r->ch);
		free(r);
	}
	replies = NULL;
	if (reqrh)
		dipc_recvh_destroy(reqrh);
	if (B.reqch)
		dipc_channel_destroy(B.reqch);
	if (B.gwpool)
		dipc_pool_destroy(B.gwpool);
	B.gwpool = NULL;
}

/* ---- peers ------------------------------------------------------------------------- */

int gw_add_peer(const char *endpoint, const char *key)
{
	if (npeers == MAX_PEERS) {
		logmsg("more than %d peers", MAX_PEERS);
		return -1;
	}
	struct peer *p = &peers[npeers];
	if (tp_connect(B.tp, endpoint, key, &p->conn)) {
		logmsg("peer %s: %s", endpoint, tp_error(B.tp));
		return -1;
	}
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", endpoint);
	npeers++;
	return 0;
}

static struct peer *peer_by_conn(uint32_t conn)
{
	for (unsigned i = 0; i < npeers; i++)
		if (peers[i].conn == conn)
			return &peers[i];
	return NULL;
}

static struct peer *peer_by_host(uint64_t host)
{
	for (unsigned i = 0; i < npeers; i++)
		if (peers[i].known && peers[i].host == host)
			return &peers[i];
	return NULL;
}

static bool all_known(void)
{
	/* A peer whose claim is ignored (rule 8) has answered: it is known
	 * to serve nothing, so it does not hold up DIPC_EFOREIGN. */
	for (unsigned i = 0; i < npeers; i++)
		if (!peers[i].known && !peers[i].refused)
			return false;
	return true;
}

static void send_word(struct peer *p, int kind)
{
	struct wire w = { .kind = (uint16_t)kind, .host = B.host, .incarnation = B.incarnation };
	unsigned char hdr[TP_HDR_MAX];
	size_t hl = wire_encode(&w, hdr);
	tp_send(B.tp, p->conn, hdr, hl, NULL, 0);
}

/* ---- replies to processes ---------------------------------------------------------- */

static struct replych *reply_of(const unsigned char *desc, size_t len)
{
	if (len < 16)
		return NULL;
	uint64_t cuid = 0;
	for (int i = 0; i < 8; i++)
		cuid |= (uint64_t)desc[8 + i] << (8 * i);
	if (!GW_IS_REPLY(cuid))
		return NULL;
	for (struct replych *r = replies; r; r = r->next)
		if (r->cuid == cuid)
			return r;
	struct replych *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	/* Only a channel of our own gateway pool. */
	if (dipc_channel_attach(desc, len, B.gwpool, &r->ch) ||
	    dipc_sendh_create(r->ch, NULL, &r->sh) || dipc_sendh_open(r->sh)) {
		if (r->sh)
			dipc_sendh_destroy(r->sh);
		if (r->ch)
			dipc_channel_detach(r->ch);
		free(r);
		return NULL;
	}
	r->cuid = cuid;
	r->pid = GW_REPLY_PID(cuid);
	r->next = replies;
	replies = r;
	return r;
}

static int reply_to(struct item *it, int rc, uint64_t value, uint64_t value2, const void *payload,
		    size_t plen)
{
	struct replych *r = reply_of(it->reply, it->req.reply_len);
	if (!r)
		return DIPC_ENOENT;
	struct gw_rep rep = {
		.magic = GW_MAGIC_REP, .rc = rc, .id = it->req.id, .value = value,
		.value2 = value2, .bridge_pid = (uint32_t)getpid(),
	};
	size_t total = sizeof(rep) + plen;
	if (total <= GW_REPLY_BLOCK) {
		unsigned char b[GW_REPLY_BLOCK];
		memcpy(b, &rep, sizeof(rep));
		if (plen)
			memcpy(b + sizeof(rep), payload, plen);
		return dipc_sendh_send_bytes(r->sh, b, total, DIPC_TRY_ONCE);
	}
	dipc_mem *mem;
	int arc = dipc_pool_alloc(B.gwpool, total, &mem);
	if (arc)
		return arc;
	void *p;
	dipc_mem_get(mem, &p, NULL);
	memcpy(p, &rep, sizeof(rep));
	memcpy((unsigned char *)p + sizeof(rep), payload, plen);
	dipc_msg *m;
	arc = dipc_msg_create_from_mem(mem, &m);
	if (arc) {
		dipc_mem_free(mem);
		return arc;
	}
	arc = dipc_sendh_send(r->sh, m, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE);
	dipc_msg_destroy(m, arc != 0);
	return arc;
}

/* ---- pending requests ---------------------------------------------------------------- */

static struct pending *pending_find(uint64_t client, uint64_t id, struct pending ***where)
{
	struct pending **pp = &bucket[bucket_of(client, id)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->it->req.client == client && (*pp)->it->req.id == id &&
		    !(*pp)->word) {
			if (where)
				*where = pp;
			return *pp;
		}
	return NULL;
}

static void pending_free(struct pending *p)
{
	npending--;
	if (p->it->msg)
		dipc_msg_destroy(p->it->msg, 1);
	free(p->it);
	free(p);
}

static void forward(struct pending *p)
{
	struct peer *peer = peer_by_host(p->host);
	if (!peer || peer->dead)
		return;
	const struct gw_req *q = &p->it->req;
	struct wire w = {
		.kind = W_REQ, .op = q->op, .host = B.host, .incarnation = B.incarnation,
		.pid = q->pid, .client = q->client, .id = q->id, .low = q->low,
		.timeout = q->timeout, .arg = q->arg, .desc_len = (uint16_t)q->desc_len,
	};
	memcpy(w.desc, p->it->desc, q->desc_len);
	/* Rule 10: a send its owner holds goes as a probe. */
	bool probe = p->held && q->op == GW_SEND;
	if (probe)
		w.arg = W_PROBE;
	unsigned char hdr[TP_HDR_MAX];
	size_t hl = wire_encode(&w, hdr);
	tp_send(B.tp, peer->conn, hdr, hl, p->it->payload,
		q->op == GW_SEND && !probe ? p->it->plen : 0);
	p->sent = now_ns();
}

static void pending_add(struct item *it, bool word)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p) {
		if (it->msg)
			dipc_msg_destroy(it->msg, 1);
		free(it);
		return;
	}
	npending++;
	p->it = it;
	p->word = word;
	p->host = 0;
	for (int i = 0; i < 8; i++)
		p->host |= (uint64_t)it->desc[40 + i] << (8 * i);
	uint64_t now = now_ns();
	int64_t t = it->req.timeout;
	/* Rule 7: a deadline past the clock's end is no deadline. */
	uint64_t span = (uint64_t)t + GRACE_NS + (t == 0 ? 5000000000ull : 0);
	p->deadline = word ? now + WORD_TTL_NS
		      : t < 0 || span < (uint64_t)t || span > UINT64_MAX - now ? UINT64_MAX
		      : now + span;
	unsigned b = bucket_of(it->req.client, it->req.id);
	p->next = bucket[b];
	bucket[b] = p;
	forward(p);
}

void gw_request(struct item *it)
{
	const struct gw_req *q = &it->req;
	bool word = q->op == GW_ACK || q->op == GW_CANCEL;
	int refuse = it->reject;
	if (!refuse && npending >= MAX_PENDING + (word ? WORD_SPARE : 0))
		refuse = DIPC_ELIMIT;
	if (refuse) {
		/* Rule 7: told why, never forwarded. */
		if (!word || it->reject)
			reply_to(it, refuse, 0, 0, NULL, 0);
		if (it->msg)
			dipc_msg_destroy(it->msg, 1);
		free(it);
		return;
	}
	if (!word && pending_find(q->client, q->id, NULL)) {
		/* The same request again (its caller saw a bridge die): one
		 * copy waits already. */
		dipc_msg_destroy(it->msg, 1);
		free(it);
		return;
	}
	if (word) {
		/* It settles its request here too: no answer is due any more. */
		struct pending **pp;
		struct pending *p = pending_find(q->client, q->id, &pp);
		if (p) {
			*pp = p->next;
			pending_free(p);
		}
	}
	pending_add(it, word);
}

void gw_reply(uint32_t conn, const struct wire *w, const void *payload, size_t plen)
{
	struct peer *from = peer_by_conn(conn);
	struct pending **pp = &bucket[bucket_of(w->client, w->id)];
	for (; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;
		if (p->it->req.client != w->client || p->it->req.id != w->id ||
		    p->it->req.op != w->op)
			continue;
		if (!from || from != peer_by_host(p->host))
			return;         /* rule 7: not the owner's answer */
		*pp = p->next;
		if (!p->word) {
			int rc = reply_to(p->it, w->rc, w->value, w->value2, payload, plen);
			if (rc && w->op == GW_RECV && w->rc == 0) {
				/* Rule 4: its caller cannot have it; give it back. */
				vlog("a received message could not reach its caller (%s): given back",
				     dipc_strerror(rc));
				p->it->req.op = GW_CANCEL;
				p->it->req.reply_len = 0;
				if (p->it->msg)
					dipc_msg_destroy(p->it->msg, 1);
				p->it->msg = NULL;
				p->it->plen = 0;
				pending_add(p->it, true);
				free(p);
				return;
			}
		}
		pending_free(p);
		return;
	}
}

void gw_peer_up(uint32_t conn, uint64_t host, uint64_t incarnation)
{
	struct peer *p = peer_by_conn(conn);
	if (!p)
		return;
	/* A host id is served by one peer: the first live one that claimed
	 * it.  Another peer claiming it (or ours), by mistake or to take its
	 * requests, is not believed while that one lives. */
	struct peer *holder = peer_by_host(host);
	if (host == B.host || (holder && holder != p && !holder->dead)) {
		/* Said once per claim, not at every pong. */
		if (p->refused != host)
			logmsg("peer %s claims host %016llx, served by %s: ignored", p->endpoint,
			       (unsigned long long)host,
			       host == B.host ? "this bridge" : holder->endpoint);
		p->refused = host;
		return;
	}
	p->refused = 0;
	uint64_t now = now_ns();
	bool again = !p->known || p->dead || p->incarnation != incarnation ||
		     now - p->heard > 2 * PING_NS;
	if (!p->known || p->host != host)
		logmsg("peer %s is host %016llx", p->endpoint, (unsigned long long)host);
	else if (p->incarnation != incarnation)
		logmsg("peer %s restarted", p->endpoint);
	else if (p->dead)
		logmsg("peer %s is back", p->endpoint);
	p->host = host;
	p->incarnation = incarnation;
	p->known = true;
	p->dead = false;
	p->heard = now;
	if (!again)
		return;
	/* Rule 2: what it may have missed, at once, and whole (rule 10: a
	 * restarted owner has none of it). */
	for (unsigned b = 0; b < NBUCKET; b++)
		for (struct pending *q = bucket[b]; q; q = q->next)
			if (q->host == host) {
				q->held = false;
				forward(q);
			}
}

void gw_have(uint32_t conn, const struct wire *w)
{
	struct peer *from = peer_by_conn(conn);
	struct pending *p = pending_find(w->client, w->id, NULL);
	/* Rule 7: only from the owner, about a send of ours. */
	if (!p || !from || from != peer_by_host(p->host) || p->it->req.op != GW_SEND ||
	    w->op != GW_SEND)
		return;
	bool had = p->held;
	p->held = w->value != 0;
	if (had && !p->held)
		forward(p);     /* it lost it: whole, now */
}

static void fail_request(struct pending *p, int rc)
{
	if (!p->word)
		reply_to(p->it, rc, 0, 0, NULL, 0);
}

void gw_tick(void)
{
	uint64_t now = now_ns();
	for (unsigned i = 0; i < npeers; i++) {
		struct peer *p = &peers[i];
		if (now - p->pinged >= PING_NS) {
			send_word(p, p->known ? W_PING : W_HELLO);
			p->pinged = now;
		}
		if (p->known && !p->dead && now - p->heard > (uint64_t)B.peer_timeout_ns) {
			p->dead = true;
			logmsg("peer %s silent for %lld s: its callers are told it is gone",
			       p->endpoint, (long long)(B.peer_timeout_ns / 1000000000));
		}
	}
	bool known = all_known();
	bool janitor = now - last_janitor > 1000ull * 1000 * 1000;
	for (unsigned b = 0; b < NBUCKET; b++) {
		struct pending **pp = &bucket[b];
		while (*pp) {
			struct pending *p = *pp;
			struct peer *peer = peer_by_host(p->host);
			int rc = 0;
			if (now > p->deadline)
				rc = DIPC_ETIMEDOUT;
			else if (!peer && known)
				rc = DIPC_EFOREIGN;
			else if (peer && peer->dead && !p->word)
				rc = DIPC_EPEERCLOSED;
			if (rc) {
				if (rc != DIPC_ETIMEDOUT)
					fail_request(p, rc);
				*pp = p->next;
				pending_free(p);
				continue;
			}
			if (janitor && !p->word && (int32_t)p->it->req.pid > 0 &&
			    kill((pid_t)p->it->req.pid, 0) && errno == ESRCH) {
				/* Rule 7: its caller died; undo it over there. */
				p->it->req.op = GW_CANCEL;
				p->it->req.reply_len = 0;
				if (p->it->msg)
					dipc_msg_destroy(p->it->msg, 1);
				p->it->msg = NULL;
				p->it->plen = 0;
				p->word = true;
				p->deadline = now + WORD_TTL_NS;
				forward(p);
			}
			if (peer && now - p->sent >= RESEND_NS)
				forward(p);
			pp = &p->next;
		}
	}
	if (janitor) {
		last_janitor = now;
		/* Rule 4: the reply channels of dead processes. */
		for (struct replych **rp = &replies; *rp;) {
			struct replych *r = *rp;
			if (kill((pid_t)r->pid, 0) == 0 || errno != ESRCH) {
				rp = &r->next;
				continue;
			}
			*rp = r->next;
			dipc_sendh_destroy(r->sh);
			dipc_channel_destroy(r->ch);
			free(r);
		}
		dipc_pool_reclaim(B.gwpool);
	}
}

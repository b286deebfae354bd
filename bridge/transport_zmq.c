/*
 * transport_zmq.c - the ZeroMQ engine behind transport.h.
 *
 * One ROUTER socket accepts the links of other bridges; one DEALER per
 * peer dials out.  With keys, every socket speaks CURVE: the ROUTER is a
 * CURVE server whose ZAP handler (this file, on the network thread)
 * admits only the public keys of the authorised list, and each DEALER
 * is a CURVE client that knows its peer's public key, so both ends are
 * authenticated and the traffic is encrypted.  Without keys (only when
 * the bridge was told to allow it) the sockets speak plain TCP.
 *
 * Socket options are set before bind and connect, as ZeroMQ requires;
 * linger is 0, so closing never waits for a peer that is gone.  Sends
 * never block: a link that cannot take a message now refuses it, and the
 * bridge sends again later.
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_OUT 64
#define MAX_IN  1024
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct link_in {
	unsigned char rid[256];
	size_t rlen;
	unsigned long long used;
	uint32_t gen;           /* bumped each time the slot names another peer */
};

/* An inbound link number: TP_IN, the slot's generation, the slot.  A slot
 * given to a new routing id gets a new generation, so an answer meant
 * for the peer that had it before is refused (tp_send), never delivered
 * to the newcomer. */
#define LINK_SLOT_BITS 16
#define LINK_GEN_MASK  0x3fffu
#define LINK_NUM(gen, i) (TP_IN | (((gen) & LINK_GEN_MASK) << LINK_SLOT_BITS) | (i))

struct tp_engine {
	void *ctx, *router, *zap;
	void *out[MAX_OUT];
	unsigned nout;
	struct link_in *in;
	unsigned nin;
	unsigned long long tick;
	/* tp_run: whether each socket (in sockets_of order) was used since
	 * it was last asked for its events, and which socket that was. */
	bool used[MAX_OUT + 2];
	void *asked[MAX_OUT + 2];
	struct tp_config cfg;
	char (*auth)[TP_KEY_TEXT];
	char err[256];
};

static int fail(struct tp_engine *e, const char *what)
{
	snprintf(e->err, sizeof(e->err), "%s: %s", what, zmq_strerror(zmq_errno()));
	return -1;
}

const char *tp_error(struct tp_engine *e)
{
	return e->err;
}

int tp_keypair(char pub[TP_KEY_TEXT], char sec[TP_KEY_TEXT])
{
	return zmq_curve_keypair(pub, sec) == 0 ? 0 : -1;
}

int tp_key_ok(const char *text)
{
	uint8_t bin[32];
	return strlen(text) == 40 && zmq_z85_decode(bin, text) != NULL;
}

static int set_common(void *s)
{
	int zero = 0, hwm = 100000;
	int ivl = 100, ivl_max = 1000;
	return zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) ||
	       zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) ||
	       zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) ||
	       zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) ||
	       zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
}

int tp_open(const struct tp_config *cfg, struct tp_engine **out)
{
	struct tp_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->cfg = *cfg;
	e->in = calloc(MAX_IN, sizeof(*e->in));
	e->auth = calloc(cfg->nauthorized + 1, TP_KEY_TEXT);
	if (!e->in || !e->auth)
		goto nomem;
	if (cfg->nauthorized)   /* none (and no list) without keys */
		memcpy(e->auth, cfg->authorized, cfg->nauthorized * TP_KEY_TEXT);
	e->cfg.authorized = (const char (*)[TP_KEY_TEXT])e->auth;
	e->ctx = zmq_ctx_new();
	if (!e->ctx)
		goto nomem;
	if (!cfg->allow_plain) {
		/* The ZAP handler must be bound before any CURVE server. */
		e->zap = zmq_socket(e->ctx, ZMQ_REP);
		int zero = 0;
		if (!e->zap || zmq_setsockopt(e->zap, ZMQ_LINGER, &zero, sizeof(zero)) ||
		    zmq_bind(e->zap, ZAP_ENDPOINT)) {
			fail(e, "ZAP handler");
			fprintf(stderr, "dipc-bridge: %s\n", e->err);
			tp_close(e);
			return -1;
		}
	}
	*out = e;
	return 0;
nomem:
	free(e->in);
	free(e->auth);
	free(e);
	return -1;
}

void tp_close(struct tp_engine *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->nout; i++)
		zmq_close(e->out[i]);
	if (e->router)
		zmq_close(e->router);
	if (e->zap)
		zmq_close(e->zap);
	if (e->ctx)
		zmq_ctx_term(e->ctx);
	free(e->in);
	free(e->auth);
	free(e);
}

int tp_listen(struct tp_engine *e, const char *endpoint)
{
	void *s = zmq_socket(e->ctx, ZMQ_ROUTER);
	if (!s)
		return fail(e, "router socket");
	int one = 1;
	int64_t max = (int64_t)e->cfg.max_msg + TP_HDR_MAX;
	if (set_common(s) || zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max))) {
		zmq_close(s);
		return fail(e, "router options");
	}
	if (!e->cfg.allow_plain) {
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, e->cfg.secret_key, 41) ||
		    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "dipc-bridge", 11)) {
			zmq_close(s);
			return fail(e, "CURVE server options");
		}
	}
	if (zmq_bind(s, endpoint)) {
		int er = zmq_errno();
		zmq_close(s);
		errno = er;
		snprintf(e->err, sizeof(e->err), "cannot listen on %s: %s", endpoint,
			 zmq_strerror(er));
		return -1;
	}
	e->router = s;
	return 0;
}

int tp_connect(struct tp_engine *e, const char *endpoint, const char *server_key, uint32_t *conn)
{
	if (e->nout == MAX_OUT) {
		snprintf(e->err, sizeof(e->err), "more than %d peers", MAX_OUT);
		return -1;
	}
	void *s = zmq_socket(e->ctx, ZMQ_DEALER);
	if (!s)
		return fail(e, "dealer socket");
	int one = 1;
	int64_t max = (int64_t)e->cfg.max_msg + TP_HDR_MAX;
	if (set_common(s) || zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one)) ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max))) {
		zmq_close(s);
		return fail(e, "dealer options");
	}
	if (!e->cfg.allow_plain) {
		if (!server_key || !tp_key_ok(server_key)) {
			zmq_close(s);
			snprintf(e->err, sizeof(e->err), "no valid public key for peer %s", endpoint);
			return -1;
		}
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 41) ||
		    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, e->cfg.public_key, 41) ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, e->cfg.secret_key, 41)) {
			zmq_close(s);
			return fail(e, "CURVE client options");
		}
	}
	if (zmq_connect(s, endpoint)) {
		int er = zmq_errno();
		zmq_close(s);
		snprintf(e->err, sizeof(e->err), "cannot dial %s: %s", endpoint, zmq_strerror(er));
		return -1;
	}
	e->out[e->nout] = s;
	*conn = TP_OUT | e->nout++;
	return 0;
}

static int send3(void *s, const void *rid, size_t rlen, const void *hdr, size_t hlen,
		 const void *payload, size_t plen)
{
	if (rid && zmq_send(s, rid, rlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(s, hdr, hlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	return zmq_send(s, payload, plen, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int tp_send(struct tp_engine *e, uint32_t conn, const void *hdr, size_t hlen,
	    const void *payload, size_t plen)
{
	if (hlen > TP_HDR_MAX)
		return -1;
	if (conn & TP_OUT) {
		unsigned i = conn & ~TP_OUT;
		if (i >= e->nout)
			return -1;
		e->used[(e->zap ? 1 : 0) + (e->router ? 1 : 0) + i] = true;
		return send3(e->out[i], NULL, 0, hdr, hlen, payload, plen);
	}
	unsigned i = conn & ((1u << LINK_SLOT_BITS) - 1);
	if (!(conn & TP_IN) || i >= e->nin || !e->router ||
	    conn != LINK_NUM(e->in[i].gen, i))
		return -1;
	e->used[e->zap ? 1 : 0] = true;
	return send3(e->router, e->in[i].rid, e->in[i].rlen, hdr, hlen, payload, plen);
}

/* The link a routing id names: a new number for a new one (the least
 * recently used number is given again when all are taken). */
static uint32_t link_of(struct tp_engine *e, const void *rid, size_t rlen)
{
	unsigned lru = 0;
	e->tick++;
	for (unsigned i = 0; i < e->nin; i++) {
		if (e->in[i].rlen == rlen && memcmp(e->in[i].rid, rid, rlen) == 0) {
			e->in[i].used = e->tick;
			return LINK_NUM(e->in[i].gen, i);
		}
		if (e->in[i].used < e->in[lru].used)
			lru = i;
	}
	unsigned i = e->nin < MAX_IN ? e->nin++ : lru;
	memcpy(e->in[i].rid, rid, rlen);
	e->in[i].rlen = rlen;
	e->in[i].used = e->tick;
	e->in[i].gen++;
	return LINK_NUM(e->in[i].gen, i);
}

/* Read the parts of one message: 1 read, 0 none waiting, -1 malformed. */
static int read_parts(void *s, zmq_msg_t *parts, int want)
{
	int n = 0, more = 1;
	int rc = 1;
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_t *m = n < want ? &parts[n] : &tmp;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (n == 0)
				return 0;
			rc = -1;
			break;
		}
		more = zmq_msg_more(m);
		if (m == &tmp)
			zmq_msg_close(&tmp);
		n++;
	}
	if (rc == 1 && n != want)
		rc = -1;
	if (rc < 0)
		for (int i = 0; i < (n < want ? n : want); i++)
			zmq_msg_close(&parts[i]);
	return rc;
}

static void serve_zap(struct tp_engine *e)
{
	zmq_msg_t f[7];
	int n = 0, more = 1;
	while (more && n < 7) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], e->zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f[n]);
			break;
		}
		more = zmq_msg_more(&f[n]);
		n++;
	}
	while (more) {          /* drain anything beyond what CURVE sends */
		zmq_msg_t x;
		zmq_msg_init(&x);
		if (zmq_msg_recv(&x, e->zap, ZMQ_DONTWAIT) < 0)
			break;
		more = zmq_msg_more(&x);
		zmq_msg_close(&x);
	}
	if (n < 2)
		goto out;
	bool ok = false;
	char key[TP_KEY_TEXT] = "";
	/* version, request id, domain, address, routing id, mechanism, key */
	if (n == 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&f[6]) == 32 && zmq_z85_encode(key, zmq_msg_data(&f[6]), 32)) {
		for (size_t i = 0; i < e->cfg.nauthorized && !ok; i++)
			ok = strcmp(key, e->cfg.authorized[i]) == 0;
	}
	if (!ok)
		fprintf(stderr, "dipc-bridge: refused a peer%s%s: not an authorised key\n",
			key[0] ? " with key " : "", key);
	zmq_send(e->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(e->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
	zmq_send(e->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
	zmq_send(e->zap, ok ? "OK" : "not authorised", ok ? 2 : 14, ZMQ_SNDMORE);
	zmq_send(e->zap, key, ok ? strlen(key) : 0, ZMQ_SNDMORE);
	zmq_send(e->zap, "", 0, 0);
out:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

/* The sockets tp_run watches, in a fixed order: ZAP, ROUTER, DEALERs. */
static unsigned sockets_of(struct tp_engine *e, void **socks)
{
	unsigned n = 0;
	if (e->zap)
		socks[n++] = e->zap;
	if (e->router)
		socks[n++] = e->router;
	for (unsigned i = 0; i < e->nout; i++)
		socks[n++] = e->out[i];
	return n;
}

/* Has s a message to read?  Processes its pending commands (a system
 * call or two): asked only of sockets that need it (tp_run). */
static bool has_input(void *s)
{
	int ev = 0;
	size_t len = sizeof(ev);
	return zmq_getsockopt(s, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN);
}

static void drain_router(struct tp_engine *e, tp_on_msg fn, void *arg)
{
	for (int k = 0; k < 256; k++) {
		zmq_msg_t p[3];
		int r = read_parts(e->router, p, 3);
		if (r == 0)
			return;
		if (r < 0)
			continue;
		uint32_t conn = link_of(e, zmq_msg_data(&p[0]), zmq_msg_size(&p[0]));
		fn(arg, conn, zmq_msg_data(&p[1]), zmq_msg_size(&p[1]), zmq_msg_data(&p[2]),
		   zmq_msg_size(&p[2]));
		for (int j = 0; j < 3; j++)
			zmq_msg_close(&p[j]);
	}
}

static void drain_out(struct tp_engine *e, unsigned i, tp_on_msg fn, void *arg)
{
	for (int k = 0; k < 256; k++) {
		zmq_msg_t p[2];
		int r = read_parts(e->out[i], p, 2);
		if (r == 0)
			return;
		if (r < 0)
			continue;
		fn(arg, TP_OUT | i, zmq_msg_data(&p[0]), zmq_msg_size(&p[0]),
		   zmq_msg_data(&p[1]), zmq_msg_size(&p[1]));
		zmq_msg_close(&p[0]);
		zmq_msg_close(&p[1]);
	}
}

/*
 * One turn of the engine.  zmq_poll would ask every socket for its
 * events twice a call (once before it sleeps, once after), and each ask
 * costs system calls; with the bridge's three or more sockets that was
 * most of the system calls of a message.  So the turn polls the sockets'
 * notification descriptors (ZMQ_FD) itself and asks a socket for its
 * events only when it must: its descriptor fired, or it was used (a
 * send or a receive may take the notification the descriptor would have
 * given, so a used socket is asked once before the next sleep).
 */
int tp_run(struct tp_engine *e, const int *wake_fds, unsigned nwake, int timeout_ms,
	   tp_on_msg fn, void *arg)
{
	void *socks[MAX_OUT + 2];
	struct pollfd pf[MAX_OUT + 2 + TP_WAKE_MAX];
	bool ready[MAX_OUT + 2];
	unsigned ns = sockets_of(e, socks);
	if (nwake > TP_WAKE_MAX)
		nwake = TP_WAKE_MAX;
	bool any = false;
	for (unsigned i = 0; i < ns; i++) {
		ready[i] = false;
		if (e->asked[i] != socks[i] || e->used[i]) {
			ready[i] = has_input(socks[i]);
			e->asked[i] = socks[i];
			e->used[i] = false;
			any |= ready[i];
		}
	}
	unsigned n = 0;
	for (unsigned i = 0; i < nwake; i++)
		pf[n++] = (struct pollfd){ .fd = wake_fds[i], .events = POLLIN };
	for (unsigned i = 0; i < ns; i++) {
		int fd = -1;
		size_t len = sizeof(fd);
		zmq_getsockopt(socks[i], ZMQ_FD, &fd, &len);
		pf[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	if (poll(pf, n, any ? 0 : timeout_ms) < 0) {
		if (errno != EINTR) {
			snprintf(e->err, sizeof(e->err), "poll: %s", strerror(errno));
			return -1;
		}
		for (unsigned i = 0; i < n; i++)
			pf[i].revents = 0;
	}
	for (unsigned i = 0; i < ns; i++)
		if (!ready[i] && (pf[nwake + i].revents & (POLLIN | POLLERR | POLLHUP)))
			ready[i] = has_input(socks[i]);
	for (unsigned i = 0; i < ns; i++) {
		if (!ready[i])
			continue;
		e->used[i] = true;
		if (socks[i] == e->zap)
			serve_zap(e);
		else if (socks[i] == e->router)
			drain_router(e, fn, arg);
		else
			for (unsigned j = 0; j < e->nout; j++)
				if (socks[i] == e->out[j])
					drain_out(e, j, fn, arg);
	}
	int woken = 0;
	for (unsigned i = 0; i < nwake; i++)
		if (pf[i].revents & POLLIN)
			woken |= 1 << i;
	return woken;
}

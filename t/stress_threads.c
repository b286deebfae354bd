/*
 * stress_threads.c - many threads of one process on one channel, and a
 * writer and a reader thread on one byte stream.
 *
 * Channel: P producer threads send numbered messages (a header with the
 * producer and its sequence number, then bytes that depend on both, with
 * a checksum) of sizes on both sides of the channel's block size, by
 * every way of sending; C consumer threads take them by every way of
 * receiving.  Checked: every message arrives exactly once and intact,
 * each consumer sees each producer's messages in the order sent (with
 * one consumer: with no gap either), and nothing is left allocated.
 *
 * Stream: a writer thread writes a byte sequence that depends on the
 * position in chunks of sizes around the ring size; a reader thread
 * reads it in other sizes, some reads try-once and some blocking.
 * Checked: every byte in place, the running checksums agree, the end is
 * seen after the last byte, and the last side out removes the name.
 *
 * The amounts (200,000 messages, and 2 MiB and 8 MiB through the two
 * streams) are multiplied by the environment variable DIPC_TEST_SCALE (a
 * positive number, default 1).  make check-valgrind sets it to 0.05, and
 * .ci/sanitize to 0.5 under ThreadSanitizer; for a long run,
 * DIPC_TEST_SCALE=50 sends 10 million messages and 500 MiB.
 *
 * Built with -fsanitize=thread by .ci/sanitize, where this is the test
 * ThreadSanitizer watches.
 */
#include "coretest.h"
#include "stream_util.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define BLOCK   256                       /* the channel's block size */
#define MAXLEN  (4 * BLOCK)               /* the largest message */
#define MAXP    8
#define MAXC    8
#define WAIT_NS (60 * TC_SEC)             /* a bound, not a timing */

/* No test here starts a child process. */
int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 1;
}

static double scale_ = 1.0;

static uint64_t scaled(uint64_t n)
{
	double v = (double)n * scale_;
	return v < 1 ? 1 : (uint64_t)v;
}

static const int wait_modes[3] = { DIPC_WAIT_ADAPTIVE, DIPC_WAIT_SPIN, DIPC_WAIT_IDLE };

/* ---- channel ------------------------------------------------------------- */

struct chan_run {
	dipc_channel *ch;
	dipc_pool *pool;
	int np, nc;
	uint64_t per;                     /* messages per producer */
	_Atomic uint16_t *seen;           /* [np][per]: times each arrived */
	_Atomic int errors;               /* failed calls, broken messages */
	_Atomic int disorder;             /* a producer's messages out of order */
	_Atomic uint64_t received;
};

struct worker {
	struct chan_run *run;
	int id;
};

static dipc_sendh *open_send(dipc_channel *ch, int mode)
{
	struct dipc_handle_attr a;
	dipc_sendh *h = NULL;
	dipc_handle_attr_init(&a);
	a.wait_mode = mode;
	if (dipc_sendh_create(ch, &a, &h) || dipc_sendh_open(h)) {
		dipc_sendh_destroy(h);
		return NULL;
	}
	return h;
}

static dipc_recvh *open_recv(dipc_channel *ch, int mode)
{
	struct dipc_handle_attr a;
	dipc_recvh *h = NULL;
	dipc_handle_attr_init(&a);
	a.wait_mode = mode;
	if (dipc_recvh_create(ch, &a, &h) || dipc_recvh_open(h)) {
		dipc_recvh_destroy(h);
		return NULL;
	}
	return h;
}

/* The size of message s: the block size and its neighbours often, the
 * smallest message, and anything up to four blocks. */
static size_t msg_len(uint64_t *seed)
{
	uint64_t r = tc_rand(seed);
	switch (r % 8) {
	case 0: return BLOCK - 1;
	case 1: return BLOCK;
	case 2: return BLOCK + 1;
	case 3: return sizeof(struct tc_msghdr);
	default:
		return sizeof(struct tc_msghdr) +
		       (size_t)((r >> 8) % (MAXLEN - sizeof(struct tc_msghdr) + 1));
	}
}

static void *producer(void *arg)
{
	struct worker *w = arg;
	struct chan_run *run = w->run;
	dipc_sendh *sh = open_send(run->ch, wait_modes[w->id % 3]);
	unsigned char buf[MAXLEN];
	uint64_t seed = 1000 + (uint64_t)w->id;
	if (!sh) {
		atomic_fetch_add(&run->errors, 1);
		return NULL;
	}
	for (uint64_t s = 0; s < run->per; s++) {
		size_t len = msg_len(&seed);
		int rc;
		switch (s % 4) {
		case 0:
		case 1:
			tc_msg_make(buf, (uint32_t)w->id, s, len);
			rc = dipc_sendh_send_bytes(sh, buf, len, WAIT_NS);
			break;
		default: {
			/* From a pool allocation: copied (2) or handed over (3). */
			dipc_msg *m;
			void *ptr;
			rc = dipc_msg_create_alloc(run->pool, len, &m);
			if (rc)
				break;
			dipc_msg_get(m, &ptr, NULL);
			tc_msg_make(ptr, (uint32_t)w->id, s, len);
			rc = dipc_sendh_send(sh, m, NULL, s % 4 == 2 ? DIPC_COPY_ON_SEND
							   : DIPC_TRANSFER_ON_SEND, WAIT_NS);
			int drc = dipc_msg_destroy(m, 1);
			if (rc == 0)
				rc = drc;
			break;
		}
		}
		if (rc) {
			diag("producer %d, message %llu: %s", w->id,
			     (unsigned long long)s, dipc_strerror(rc));
			atomic_fetch_add(&run->errors, 1);
			break;
		}
	}
	dipc_sendh_destroy(sh);
	return NULL;
}

/* Take one message by way n % 3 and judge it: 0 data, 1 stop, -1 broken. */
static int take(struct chan_run *run, dipc_recvh *rh, unsigned n, unsigned char *buf,
		uint32_t *prod, uint64_t *seq)
{
	dipc_msg *m = NULL;
	void *ptr = buf;
	size_t len = 0;
	int rc;
	switch (n % 3) {
	case 0:
		rc = dipc_recvh_recv_bytes(rh, buf, MAXLEN, &len, WAIT_NS);
		break;
	case 1:
		/* An empty message: it gets the payload's allocation. */
		rc = dipc_msg_create_empty(&m);
		if (rc == 0)
			rc = dipc_recvh_recv(rh, m, WAIT_NS);
		if (rc == 0)
			dipc_msg_get(m, &ptr, &len);
		break;
	default:
		/* A message with room: the payload is copied in. */
		rc = dipc_msg_create_alloc(run->pool, MAXLEN, &m);
		if (rc == 0)
			rc = dipc_recvh_recv(rh, m, WAIT_NS);
		if (rc == 0)
			dipc_msg_get(m, &ptr, &len);
		break;
	}
	int kind = -1;
	if (rc)
		diag("receive: %s", dipc_strerror(rc));
	else
		kind = tc_msg_read(ptr, len, prod, seq);
	if (m && (rc = dipc_msg_destroy(m, 1)) != 0) {
		diag("freeing a received message: %s", dipc_strerror(rc));
		kind = -1;
	}
	return kind;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct chan_run *run = w->run;
	dipc_recvh *rh = open_recv(run->ch, wait_modes[(w->id + 1) % 3]);
	unsigned char buf[MAXLEN];
	uint64_t next[MAXP] = { 0 };      /* the least sequence number still to come */
	if (!rh) {
		atomic_fetch_add(&run->errors, 1);
		return NULL;
	}
	for (unsigned n = 0;; n++) {
		uint32_t prod = 0;
		uint64_t seq = 0;
		int kind = take(run, rh, n, buf, &prod, &seq);
		if (kind == 1)
			break;
		if (kind < 0 || prod >= (uint32_t)run->np || seq >= run->per) {
			diag("consumer %d: a broken message", w->id);
			atomic_fetch_add(&run->errors, 1);
			break;
		}
		/* A channel is FIFO and each producer sends in order, so this
		 * consumer sees its messages in order; alone, with no gap. */
		if (seq < next[prod] || (run->nc == 1 && seq != next[prod])) {
			if (atomic_fetch_add(&run->disorder, 1) == 0)
				diag("consumer %d: producer %u's message %llu when %llu was next",
				     w->id, prod, (unsigned long long)seq,
				     (unsigned long long)next[prod]);
		}
		next[prod] = seq + 1;
		atomic_fetch_add(&run->seen[prod * run->per + seq], 1);
		atomic_fetch_add(&run->received, 1);
	}
	dipc_recvh_destroy(rh);
	return NULL;
}

static uint64_t nallocs(dipc_pool *p)
{
	struct dipc_pool_stats s;
	if (dipc_pool_stats(p, &s))
		return UINT64_MAX;
	return s.nallocs;
}

/* np producers and nc consumers, total messages in all. */
static uint64_t chan_stress(dipc_pool *p, uint64_t cuid, int np, int nc, uint64_t total)
{
	struct chan_run run = { .pool = p, .np = np, .nc = nc };
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 32;  /* small: producers often find it full */
	ca.block_size = BLOCK;
	run.per = total / (uint64_t)np;
	if (run.per == 0)
		run.per = 1;
	uint64_t base = nallocs(p);
	int rc = dipc_channel_create(p, cuid, &ca, &run.ch);
	run.seen = calloc((size_t)np * run.per, sizeof(*run.seen));
	if (rc || !run.seen) {
		diag("channel_create: %s", dipc_strerror(rc));
		free(run.seen);
		bail_out("cannot set up the channel");
	}
	tc_thread pt[MAXP], ct[MAXC];
	struct worker pw[MAXP], cw[MAXC];
	int64_t t0 = tc_now_ns();
	for (int i = 0; i < nc; i++) {
		cw[i] = (struct worker){ &run, i };
		if (tc_thread_start(&ct[i], consumer, &cw[i]))
			bail_out("cannot start a thread");
	}
	for (int i = 0; i < np; i++) {
		pw[i] = (struct worker){ &run, i };
		if (tc_thread_start(&pt[i], producer, &pw[i]))
			bail_out("cannot start a thread");
	}
	for (int i = 0; i < np; i++)
		tc_thread_join(pt[i]);
	/* Behind every message: one stop for each consumer. */
	dipc_sendh *stop = open_send(run.ch, DIPC_WAIT_ADAPTIVE);
	unsigned char sb[sizeof(struct tc_msghdr)];
	tc_msg_stop(sb);
	int stops = 0;
	for (int i = 0; stop && i < nc; i++)
		stops += dipc_sendh_send_bytes(stop, sb, sizeof(sb), WAIT_NS) == 0;
	dipc_sendh_destroy(stop);
	if (stops != nc)
		bail_out("cannot send the consumers their stops");
	for (int i = 0; i < nc; i++)
		tc_thread_join(ct[i]);
	double ms = (double)(tc_now_ns() - t0) / 1e6;

	uint64_t want = (uint64_t)np * run.per, once = 0;
	int shown = 0;
	for (uint64_t i = 0; i < want; i++) {
		unsigned c = atomic_load(&run.seen[i]);
		if (c == 1) {
			once++;
		} else if (shown++ < 3) {
			diag("producer %llu's message %llu arrived %u times",
			     (unsigned long long)(i / run.per),
			     (unsigned long long)(i % run.per), c);
		}
	}
	is_int(atomic_load(&run.errors), 0, "%dx%d: every call succeeded, every message intact",
	       np, nc);
	ok(once == want && atomic_load(&run.received) == want,
	   "%dx%d: each of %llu messages arrived exactly once (%llu received, %.0f ms)",
	   np, nc, (unsigned long long)want,
	   (unsigned long long)atomic_load(&run.received), ms);
	is_int(atomic_load(&run.disorder), 0, "%dx%d: each producer's messages in order%s",
	       np, nc, nc == 1 ? ", with no gap" : " at each consumer");
	is_int(dipc_channel_count(run.ch), 0, "%dx%d: the channel is left empty", np, nc);
	E(dipc_channel_destroy(run.ch), 0);
	uint64_t left = nallocs(p);
	is_int(left, base, "%dx%d: no allocation left in the pool", np, nc);
	if (left != base) {
		struct dipc_pool_stats st;
		if (dipc_pool_stats(p, &st) == 0)
			diag("pool: %llu of %llu bytes free, the largest free run %llu",
			     (unsigned long long)st.free, (unsigned long long)st.total,
			     (unsigned long long)st.largest_free);
	}
	free(run.seen);
	return atomic_load(&run.received);
}

/* ---- stream -------------------------------------------------------------- */

struct stream_run {
	dipc_stream *w, *r;
	size_t ring;
	uint64_t total, seed;
	/* the writer's */
	int64_t werr;
	uint64_t wsum;
	/* the reader's */
	int64_t rerr;
	uint64_t got, rsum, bad_at;
	int end_seen;
};

static void *stream_writer(void *arg)
{
	struct stream_run *sr = arg;
	size_t ring = sr->ring, cap = 3 * ring + 8;
	unsigned char *buf = malloc(cap);
	uint64_t pos = 0, rs = sr->seed ^ 0x5a5a;
	sr->wsum = T_SUM_INIT;
	while (buf && pos < sr->total) {
		/* Sizes on both sides of the ring's. */
		static const int pick[] = { -1, 0, 1, -2, 2, 3 };
		uint64_t r = tc_rand(&rs);
		size_t n;
		switch (pick[r % 6]) {
		case -1: n = ring - 1; break;
		case 0:  n = ring; break;
		case 1:  n = ring + 1; break;
		case 3:  n = 3 * ring + 7; break;
		case -2: n = 1 + (size_t)((r >> 8) % 16); break;
		default: n = 1 + (size_t)((r >> 8) % (2 * ring)); break;
		}
		if (n > sr->total - pos)
			n = (size_t)(sr->total - pos);
		t_fill(sr->seed, pos, buf, n);
		int64_t w = dipc_stream_write(sr->w, buf, n, WAIT_NS);
		if (w != (int64_t)n) {
			sr->werr = w < 0 ? w : DIPC_ETIMEDOUT;
			break;
		}
		sr->wsum = t_sum(sr->wsum, buf, n);
		pos += n;
	}
	if (!buf)
		sr->werr = DIPC_ENOMEM;
	free(buf);
	int rc = dipc_stream_close(sr->w);
	if (rc && !sr->werr)
		sr->werr = rc;
	return NULL;
}

static void *stream_reader(void *arg)
{
	struct stream_run *sr = arg;
	size_t cap = 2 * sr->ring + 1;
	unsigned char *buf = malloc(cap);
	uint64_t rs = sr->seed ^ 0xa5a5;
	sr->rsum = T_SUM_INIT;
	sr->bad_at = UINT64_MAX;
	if (!buf) {
		sr->rerr = DIPC_ENOMEM;
		goto out;
	}
	for (unsigned n = 0;; n++) {
		uint64_t r = tc_rand(&rs);
		size_t want = 1 + (size_t)((r >> 8) % cap);
		/* Every fourth read takes what is there; the others wait. */
		int64_t got = dipc_stream_read(sr->r, buf, want, n % 4 == 0 ? DIPC_TRY_ONCE : WAIT_NS);
		if (got == DIPC_EPEERCLOSED) {
			sr->end_seen = 1;
			break;
		}
		if (got < 0 || got > (int64_t)want) {
			sr->rerr = got < 0 ? got : DIPC_ECORRUPT;
			break;
		}
		size_t k = t_check(sr->seed, sr->got, buf, (size_t)got);
		if (k != (size_t)got && sr->bad_at == UINT64_MAX)
			sr->bad_at = sr->got + k;
		sr->rsum = t_sum(sr->rsum, buf, (size_t)got);
		sr->got += (uint64_t)got;
		if (sr->got > sr->total)
			break;
	}
out:
	free(buf);
	int rc = dipc_stream_close(sr->r);
	if (rc && !sr->rerr)
		sr->rerr = rc;
	return NULL;
}

static uint64_t stream_stress(const char *base, size_t ring, uint64_t total)
{
	struct stream_run sr = { .ring = ring, .total = total, .seed = 4242 + ring };
	const char *name = t_name(base);
	int rc = dipc_stream_open(name, DIPC_STREAM_WRITE, ring, 0, &sr.w);
	int rc2 = rc ? rc : dipc_stream_open(name, DIPC_STREAM_READ, ring, 0, &sr.r);
	if (rc || rc2) {
		diag("dipc_stream_open(%s): %s", name, dipc_strerror(rc ? rc : rc2));
		if (!rc)
			dipc_stream_close(sr.w);
		bail_out("cannot open the stream");
	}
	int64_t t0 = tc_now_ns();
	tc_thread wt, rt;
	if (tc_thread_start(&rt, stream_reader, &sr) || tc_thread_start(&wt, stream_writer, &sr))
		bail_out("cannot start a thread");
	tc_thread_join(wt);
	tc_thread_join(rt);
	double ms = (double)(tc_now_ns() - t0) / 1e6;
	if (sr.werr)
		diag("writer: %s", dipc_strerror((int)sr.werr));
	if (sr.rerr)
		diag("reader: %s", dipc_strerror((int)sr.rerr));
	ok(sr.werr == 0 && sr.rerr == 0, "stream, ring %zu: every write and read succeeded", ring);
	ok(sr.got == total && sr.bad_at == UINT64_MAX,
	   "stream, ring %zu: %llu bytes arrived, every one in place (%.0f ms)", ring,
	   (unsigned long long)sr.got, ms);
	if (sr.bad_at != UINT64_MAX)
		diag("the first wrong byte is at %llu", (unsigned long long)sr.bad_at);
	ok(sr.wsum == sr.rsum, "stream, ring %zu: the checksums of both sides agree", ring);
	ok(sr.end_seen, "stream, ring %zu: the reader saw the end after the last byte", ring);
	E(dipc_stream_unlink(name), DIPC_ENOENT);
	return sr.got;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	const char *env = getenv("DIPC_TEST_SCALE");
	if (env && *env) {
		char *end;
		scale_ = strtod(env, &end);
		if (*end || !(scale_ > 0) || scale_ > 1e6)
			bail_out("DIPC_TEST_SCALE must be a positive number");
	}
	/* Generous: the bound is for a hang, not for speed. */
	tc_init((unsigned)(300 + 60 * (scale_ > 1 ? scale_ : 1)));
	diag("DIPC_TEST_SCALE %g", scale_);

	dipc_pool *p;
	tc_pool_new("stress", 8 << 20, &p);
	if (!p)
		bail_out("cannot create the pool");
	uint64_t msgs = 0;
	msgs += chan_stress(p, 1, 4, 3, scaled(120000));
	msgs += chan_stress(p, 2, 4, 1, scaled(60000));
	msgs += chan_stress(p, 3, 1, 4, scaled(20000));
	E(tc_pool_del(p), 0);

	uint64_t bytes = 0;
	/* The small ring wraps every 97 bytes: fewer of them, or a loaded
	 * machine (or valgrind) makes this the longest part by far. */
	bytes += stream_stress("stress-small", 97, scaled(2 << 20));
	bytes += stream_stress("stress-big", 4096, scaled(8 << 20));
	diag("checked %llu messages and %llu stream bytes",
	     (unsigned long long)msgs, (unsigned long long)bytes);
	return tc_finish();
}

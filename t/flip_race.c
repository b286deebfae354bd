/*
 * flip_race.c - read once, under fire.  A hostile process that can write a
 * segment flips one field that decides an address, a length or a bound
 * between its true value and bad ones (huge, tiny, a little off), at full
 * speed, while this process opens or attaches again and again and uses
 * every handle it gets to the end of its geometry: a whole ring of stream
 * bytes through it, a channel filled to capacity and emptied, the pool's
 * whole heap allocated, written and freed.  Then the fields of a slot and
 * of the block travelling in it are flipped while a message is received.
 *
 * What must hold (lib/internal.h, "Read once"):
 *  - each open or attach fails with DIPC_ECORRUPT or gives a handle with
 *    the segment's true geometry.  The handle is looked at directly (the
 *    layouts are lib/'s), so a plain build sees a bad copy even where the
 *    use would land on mapped memory and no guard page would catch it;
 *  - every use stays in bounds: ASan and valgrind watch the buffers, the
 *    end of each mapping is a guard, and every byte comes back intact;
 *  - a receive gives the message intact or fails cleanly (DIPC_ECORRUPT,
 *    or DIPC_EMSGSIZE into a buffer), and then the message is still there
 *    or, if it was taken, its block can be found and freed;
 *  - the library's log level and log handler are what the test set: on
 *    the original code a stream ring placed by a flipped header size
 *    wrote the stream's bytes over them.
 *
 * The original code checked one read of a field and kept another; there
 * the first open or attach that got the bad copy failed this test.
 *
 * The flipper is fork()ed, not started through t_spawn: it writes through
 * the mappings it inherits from this process's creator handles, so POSIX
 * only.  DIPC_TEST_SCALE multiplies the rounds (default 1: a few seconds).
 */
#include "coretest.h"
#include "stream_util.h"

#ifdef _WIN32
int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 0;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	skip_all("the flipper is a fork()ed process writing through inherited mappings");
}
#else

#include "channel.h"    /* and pool.h: the shared layouts and the handles */
#include "stream.h"

#include <sched.h>
#include <stddef.h>

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define NBAD      4
#define RING      4096u      /* the stream segment is 4416 bytes, as in the report */
#define CH_CAP    8u
#define CH_BLOCK  256u
#define CH_SLOT   (SLOT_HDR + CH_BLOCK)
#define MSG_BLOCK 128u       /* an inline message fills its block */
#define MSG_ALLOC 1000u      /* a message that travels in an allocation */
#define SEED      UINT64_C(0x5eedf11b)
#define BIG       ((uint64_t)1 << 40)

int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 0;
}

/* ---- the flipper ------------------------------------------------------
 * One process for the whole run, told what to flip through a page both
 * share.  The test writes a command and moves seq; the flipper acts on it
 * and moves done to match.  While running it writes bad[0], the true
 * value, bad[1], the true value, ... as fast as it can; told to hold, it
 * puts the true value back first. */
enum { FLIP_HOLD = 1, FLIP_RUN, FLIP_EXIT };

struct flip_ctl {
	_Atomic uint32_t seq;
	_Atomic uint32_t done;
	uint32_t cmd;
	uint32_t width;           /* of the field: 4 or 8 bytes */
	unsigned char *field;     /* its address, the same in both processes */
	uint64_t good;
	uint64_t bad[NBAD];
	_Alignas(64) _Atomic uint64_t flips;   /* bad values written */
};

static struct flip_ctl *ctl;
static pid_t flipper_pid;
static char stream_path[96];
static double scale_ = 1;

static void put(unsigned char *p, uint32_t width, uint64_t v)
{
	if (width == 4)
		__atomic_store_n((uint32_t *)(void *)p, (uint32_t)v, __ATOMIC_RELAXED);
	else
		__atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
}

/* A breath after each store, so that a reader finds either value about
 * as often (the stores alone are slowed by the reader's claims on the
 * cache line, the bad one more than the true one). */
static void linger(void)
{
	for (int i = 0; i < 2; i++)
		dipc_cpu_relax();
}

/* The flipper never outlives the test, however the test ends (a signal
 * the test does not catch, say SIGPIPE from a closed pipe). */
static pid_t test_pid;

static _Noreturn void flipper(void)
{
	uint32_t seen = 0;
	long idle = 0;
	unsigned long loops = 0;
	bool running = false;
	unsigned char *field = NULL;
	uint32_t width = 8;
	uint64_t good = 0, bad[NBAD];
	for (;;) {
		if ((++loops & 1023) == 0 && getppid() != test_pid)
			_exit(0);
		uint32_t q = atomic_load_explicit(&ctl->seq, memory_order_acquire);
		if (q != seen) {
			seen = q;
			idle = 0;
			if (running)
				put(field, width, good);
			uint32_t cmd = ctl->cmd;
			running = cmd == FLIP_RUN;
			field = ctl->field;
			width = ctl->width;
			good = ctl->good;
			memcpy(bad, ctl->bad, sizeof(bad));
			atomic_store_explicit(&ctl->done, q, memory_order_release);
			if (cmd == FLIP_EXIT)
				_exit(0);
		}
		if (!running) {
			/* Commands come in quick pairs during the message
			 * phases: stay awake a while after each one. */
			if (++idle < 20000) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 100000 };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		for (int k = 0; k < NBAD; k++) {
			put(field, width, bad[k]);
			atomic_fetch_add_explicit(&ctl->flips, 1, memory_order_relaxed);
			linger();
			put(field, width, good);
			linger();
		}
	}
}

static void flip_cmd(uint32_t cmd, unsigned char *field, uint32_t width, uint64_t good,
		     const uint64_t *bad)
{
	ctl->cmd = cmd;
	ctl->field = field;
	ctl->width = width;
	ctl->good = good;
	for (int k = 0; k < NBAD; k++)
		ctl->bad[k] = bad ? bad[k] : good;
	uint32_t q = atomic_load_explicit(&ctl->seq, memory_order_relaxed) + 1;
	atomic_store_explicit(&ctl->seq, q, memory_order_release);
	int64_t end = tc_now_ns() + 30 * TC_SEC;
	while (atomic_load_explicit(&ctl->done, memory_order_acquire) != q) {
		if (tc_now_ns() > end || waitpid(flipper_pid, NULL, WNOHANG) != 0)
			bail_out("the flipper stopped answering");
		sched_yield();
	}
}

static void flip_hold(void)
{
	flip_cmd(FLIP_HOLD, NULL, 8, 0, NULL);
}

/* ---- what is flipped, and the tally ------------------------------------ */

struct field {
	const char *name;
	size_t off;            /* from the start of the struct it is in */
	uint32_t width;
	uint64_t good;
	uint64_t bad[NBAD];
};

#define FIELD(type, member, good_, ...) \
	{ #member, offsetof(struct type, member), \
	  (uint32_t)sizeof(((struct type *)0)->member), (good_), { __VA_ARGS__ } }

/* A handle with a wrong geometry is counted and dropped unused: using one
 * is what crashed the original code (SIGSEGV, or stream bytes written over
 * the library's globals), and the count says more than a crash would. */
struct tally {
	long tries, contested, opened, refused, unclean, wrong_geom, bad_use;
	int shown;
	int64_t start;
};

/* Say what went wrong, the first few times in a phase. */
#define SHOW(t, ...) do { \
	if ((t)->shown++ < 3) \
		diag(__VA_ARGS__); \
} while (0)

static void refused(struct tally *t, const char *what, int rc)
{
	t->refused++;
	if (rc != DIPC_ECORRUPT) {
		t->unclean++;
		SHOW(t, "%s: refused with %s, not DIPC_ECORRUPT", what, dipc_strerror(rc));
	}
}

static void report(const char *what, const char *field, const struct tally *t,
		   uint64_t flips)
{
	diag("%s, %s flipped: %ld tries (%ld while the flipper wrote), %ld refused, %ld "
	     "handles; %llu bad values written in %.0f ms", what, field, t->tries,
	     t->contested, t->refused, t->opened,
	     (unsigned long long)flips, (double)(tc_now_ns() - t->start) / 1e6);
	ok(t->unclean == 0, "%s under flips of %s: every refusal is DIPC_ECORRUPT", what, field);
	ok(t->wrong_geom == 0, "%s under flips of %s: every handle has the true geometry "
	   "(%ld wrong)", what, field, t->wrong_geom);
	ok(t->bad_use == 0, "%s under flips of %s: every handle used to the end of its "
	   "geometry, all bytes intact (%ld failed)", what, field, t->bad_use);
	ok(t->contested > 0 && t->opened > 0 && t->refused > 0,
	   "%s under flips of %s: the race ran (handles and refusals both seen)", what, field);
}

static long rounds(long n)
{
	long r = (long)((double)n * scale_);
	return r < 4 ? 4 : r;
}

/*
 * A round counts only if the flipper wrote during it: on a busy machine
 * the two processes often do not run at the same time, and an open while
 * the flipper sleeps tries nothing.  A phase runs until it has its rounds
 * and has seen both outcomes a few times (a handle and a refusal, a
 * message delivered and one refused).  On a machine too busy for that it
 * stops after 20 times its rounds, once the race has run at all; and
 * after 20 seconds in any case, a guard against hanging that fails "the
 * race ran" if the flipper never got to write.
 */
#define SEEN_EACH 10
static bool more(long tries, long contested, long n, long a, long b, int64_t start)
{
	if (contested >= n && a >= SEEN_EACH && b >= SEEN_EACH)
		return false;
	if (tries >= 20 * n && contested > 0 && a > 0 && b > 0)
		return false;
	return tc_now_ns() - start < 20 * TC_SEC;
}

/* Count a round as contested if the flipper wrote since flips0. */
static void contested(long *count, uint64_t flips0)
{
	if (atomic_load_explicit(&ctl->flips, memory_order_relaxed) != flips0)
		(*count)++;
}

/* ---- streams ---------------------------------------------------------- */

/* Write n bytes through w, read them back through r, check them. */
static int stream_move(dipc_stream *w, dipc_stream *r, uint64_t *pos, size_t n,
		       unsigned char *buf, struct tally *t)
{
	t_fill(SEED, *pos, buf, n);
	int64_t got = dipc_stream_write(w, buf, n, 5 * TC_SEC);
	if (got != (int64_t)n) {
		SHOW(t, "stream write of %zu bytes: %lld", n, (long long)got);
		return -1;
	}
	memset(buf, 0, n);
	got = dipc_stream_read(r, buf, n, 5 * TC_SEC);
	if (got != (int64_t)n) {
		SHOW(t, "stream read of %zu bytes: %lld", n, (long long)got);
		return -1;
	}
	size_t at = t_check(SEED, *pos, buf, n);
	if (at != n) {
		SHOW(t, "stream byte %llu is wrong", (unsigned long long)(*pos + at));
		return -1;
	}
	*pos += n;
	return 0;
}

/*
 * Open the role not held, under flips; use the new handle and the held one
 * to move a whole ring and an odd remainder (so the wrap point moves);
 * then close the held one and keep the new.  One role is always held, so
 * the segment the flipper writes is never removed and made anew.
 */
static void stream_phase(const char *name, unsigned char *seg, const struct field *f,
			 dipc_stream **held, int *held_role, uint64_t *pos)
{
	unsigned char *buf = malloc(RING);
	if (!buf)
		bail_out("out of memory");
	struct tally t = { .start = tc_now_ns() };
	uint64_t flips0 = atomic_load(&ctl->flips);
	flip_cmd(FLIP_RUN, seg + f->off, f->width, f->good, f->bad);
	for (long i = 0, n = rounds(1500);
	     more(t.tries, t.contested, n, t.opened, t.refused, t.start); i++) {
		int role = !*held_role;
		dipc_stream *s = NULL;
		t.tries++;
		uint64_t f0 = atomic_load_explicit(&ctl->flips, memory_order_relaxed);
		int rc = dipc_stream_open(name, role, RING, 0600, &s);
		contested(&t.contested, f0);
		if (rc) {
			refused(&t, "stream open", rc);
			continue;
		}
		t.opened++;
		/* Its cursor is ours: the segment the flipper writes, not a new one. */
		uint64_t wpos = atomic_load(&s->hdr->wpos);
		if (s->size != RING || s->ring != (unsigned char *)s->hdr + DIPC_STREAM_HDR_SIZE ||
		    wpos != *pos) {
			t.wrong_geom++;
			SHOW(&t, "stream handle: ring of %llu bytes at header + %lld (true: %u at "
			     "+%u), at %llu (true: %llu)", (unsigned long long)s->size,
			     (long long)(s->ring - (unsigned char *)s->hdr), RING,
			     (unsigned)DIPC_STREAM_HDR_SIZE, (unsigned long long)wpos,
			     (unsigned long long)*pos);
			dipc_stream_close(s);
			continue;
		}
		dipc_stream *w = role == DIPC_STREAM_WRITE ? s : *held;
		dipc_stream *r = role == DIPC_STREAM_WRITE ? *held : s;
		if (stream_move(w, r, pos, RING, buf, &t) ||
		    stream_move(w, r, pos, 1 + (size_t)(i % 97), buf, &t))
			t.bad_use++;
		if (dipc_stream_close(*held))
			t.bad_use++;
		*held = s;
		*held_role = role;
	}
	flip_hold();
	report("stream open", f->name, &t, atomic_load(&ctl->flips) - flips0);
	free(buf);
}

static void test_streams(const char *name, dipc_stream **held, int *held_role,
			 unsigned char *seg)
{
	const uint64_t hdr = DIPC_STREAM_HDR_SIZE, seg_size = hdr + RING;
	const struct field fields[] = {
		FIELD(dipc_stream_shm, once_ring_size, RING, BIG, 1u << 20, 64, RING + 1),
		FIELD(dipc_stream_shm, once_hdr_size, hdr, 0, 0xffffffc0u, hdr + 1, seg_size),
		FIELD(dipc_stream_shm, once_seg_size, seg_size, 0, BIG, seg_size + 64, seg_size - 1),
	};
	uint64_t pos = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		stream_phase(name, seg, &fields[i], held, held_role, &pos);
}

/* ---- channels ---------------------------------------------------------- */

/* Fill the channel to capacity through a new pair of handles, see it
 * full, empty it and check every message; then one message too big for a
 * block, which travels in an allocation. */
static int channel_use(dipc_channel *c, struct tally *t, uint64_t round)
{
	dipc_sendh *sh = NULL;
	dipc_recvh *rh = NULL;
	unsigned char *buf = malloc(CH_BLOCK), *big = malloc(3 * CH_BLOCK + 5);
	int bad = 0;
	if (!buf || !big || dipc_sendh_create(c, NULL, &sh) || dipc_sendh_open(sh) ||
	    dipc_recvh_create(c, NULL, &rh) || dipc_recvh_open(rh)) {
		SHOW(t, "cannot make channel handles");
		bad = 1;
		goto out;
	}
	for (uint64_t k = 0; k < CH_CAP && !bad; k++) {
		tc_fill(buf, CH_BLOCK, round * 64 + k);
		int rc = dipc_sendh_send_bytes(sh, buf, CH_BLOCK, DIPC_TRY_ONCE);
		if (rc) {
			SHOW(t, "send %llu of %u: %s", (unsigned long long)k, CH_CAP, dipc_strerror(rc));
			bad = 1;
		}
	}
	int rc = dipc_sendh_send_bytes(sh, buf, CH_BLOCK, DIPC_TRY_ONCE);
	if (!bad && rc != DIPC_EFULL) {
		SHOW(t, "send to a full channel: %s", dipc_strerror(rc));
		bad = 1;
	}
	for (uint64_t k = 0; k < CH_CAP && !bad; k++) {
		size_t len = 0;
		memset(buf, 0, CH_BLOCK);
		rc = dipc_recvh_recv_bytes(rh, buf, CH_BLOCK, &len, DIPC_TRY_ONCE);
		if (rc || len != CH_BLOCK || !tc_check(buf, CH_BLOCK, round * 64 + k)) {
			SHOW(t, "receive %llu: %s, %zu bytes", (unsigned long long)k,
			     dipc_strerror(rc), len);
			bad = 1;
		}
	}
	size_t len = 0;
	if (!bad && dipc_recvh_recv_bytes(rh, buf, CH_BLOCK, &len, DIPC_TRY_ONCE) != DIPC_EEMPTY) {
		SHOW(t, "the channel is not empty after %u receives", CH_CAP);
		bad = 1;
	}
	if (!bad) {
		tc_fill(big, 3 * CH_BLOCK + 5, round);
		rc = dipc_sendh_send_bytes(sh, big, 3 * CH_BLOCK + 5, DIPC_TRY_ONCE);
		memset(big, 0, 3 * CH_BLOCK + 5);
		if (rc == 0)
			rc = dipc_recvh_recv_bytes(rh, big, 3 * CH_BLOCK + 5, &len, DIPC_TRY_ONCE);
		if (rc || len != 3 * CH_BLOCK + 5 || !tc_check(big, len, round)) {
			SHOW(t, "a message in an allocation: %s", dipc_strerror(rc));
			bad = 1;
		}
	}
out:
	if (sh)
		dipc_sendh_destroy(sh);
	if (rh)
		dipc_recvh_destroy(rh);
	free(buf);
	free(big);
	return bad;
}

static void channel_phase(dipc_pool *pool, dipc_channel *ch, const struct field *f)
{
	unsigned char ser[DIPC_SERIAL_MAX];
	int sn = dipc_channel_serialize(ch, ser, sizeof(ser));
	if (sn < 0)
		bail_out("dipc_channel_serialize failed");
	unsigned char *hdr = (unsigned char *)ch->hdr;
	struct tally t = { .start = tc_now_ns() };
	uint64_t flips0 = atomic_load(&ctl->flips);
	flip_cmd(FLIP_RUN, hdr + f->off, f->width, f->good, f->bad);
	for (long i = 0, n = rounds(3000);
	     more(t.tries, t.contested, n, t.opened, t.refused, t.start); i++) {
		dipc_channel *c = NULL;
		t.tries++;
		/* By descriptor alone (the pool is attached too), or into our pool. */
		uint64_t f0 = atomic_load_explicit(&ctl->flips, memory_order_relaxed);
		int rc = dipc_channel_attach(ser, (size_t)sn, (i & 1) ? pool : NULL, &c);
		contested(&t.contested, f0);
		if (rc) {
			refused(&t, "channel attach", rc);
			continue;
		}
		t.opened++;
		if (c->capacity != CH_CAP || c->block_size != CH_BLOCK || c->slot_size != CH_SLOT ||
		    c->hdr_off != ch->hdr_off ||
		    (unsigned char *)c->hdr != c->pool->heap + ch->hdr_off) {
			t.wrong_geom++;
			SHOW(&t, "channel handle: capacity %llu, block %llu, slot %llu (true: %u, %u, %u)",
			     (unsigned long long)c->capacity, (unsigned long long)c->block_size,
			     (unsigned long long)c->slot_size, CH_CAP, CH_BLOCK, (unsigned)CH_SLOT);
		} else if (channel_use(c, &t, (uint64_t)i)) {
			t.bad_use++;
		}
		if (dipc_channel_detach(c))
			t.bad_use++;
	}
	flip_hold();
	report("channel attach", f->name, &t, atomic_load(&ctl->flips) - flips0);
}

static void test_channels(dipc_pool *pool, dipc_channel *ch)
{
	const struct field fields[] = {
		FIELD(chan_hdr, once_capacity, CH_CAP, 0, DIPC_CHANNEL_MAX_CAPACITY, BIG, CH_CAP + 1),
		FIELD(chan_hdr, once_block_size, CH_BLOCK, 0, DIPC_CHANNEL_MAX_BLOCK_SIZE,
		      CH_BLOCK + 1, 4 * CH_BLOCK),
		FIELD(chan_hdr, once_slot_size, CH_SLOT, 0, 8, CH_SLOT + 64, BIG),
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		channel_phase(pool, ch, &fields[i]);
}

/* ---- pools --------------------------------------------------------------- */

/* The figures; now and then the whole heap in one allocation written end
 * to end; a few small allocations; all freed, and the figures again. */
static int pool_use(dipc_pool *p, uint64_t heap, bool whole, struct tally *t)
{
	struct dipc_pool_stats st;
	int rc = dipc_pool_stats(p, &st);
	if (rc || st.total != heap || st.free != heap || st.nallocs != 0) {
		SHOW(t, "pool stats: %s, total %llu, free %llu, %llu allocations",
		     dipc_strerror(rc), (unsigned long long)st.total,
		     (unsigned long long)st.free, (unsigned long long)st.nallocs);
		return 1;
	}
	void *ptr = NULL;
	size_t sz = 0;
	int bad = 0;
	if (whole) {
		dipc_mem *all = NULL, *one = NULL;
		rc = dipc_pool_alloc(p, (size_t)st.largest_free, &all);
		if (rc) {
			SHOW(t, "allocating the largest free block: %s", dipc_strerror(rc));
			return 1;
		}
		dipc_mem_get(all, &ptr, &sz);
		memset(ptr, 0xa5, sz);
		if (dipc_pool_alloc(p, 1, &one) != DIPC_ENOSPC) {
			SHOW(t, "an allocation past the whole heap did not fail with DIPC_ENOSPC");
			bad = 1;
		}
		if (one)
			dipc_mem_free(one);
		bad |= dipc_mem_free(all) != 0;
	}
	static const size_t sizes[3] = { 100, 3000, 70000 };
	dipc_mem *small[3] = { 0 };
	for (int k = 0; k < 3 && !bad; k++) {
		if (dipc_pool_alloc(p, sizes[k], &small[k]) || dipc_mem_get(small[k], &ptr, &sz)) {
			SHOW(t, "allocating %zu bytes failed", sizes[k]);
			bad = 1;
			break;
		}
		memset(ptr, k, sz);
	}
	for (int k = 0; k < 3; k++)
		if (small[k])
			bad |= dipc_mem_free(small[k]) != 0;
	rc = dipc_pool_stats(p, &st);
	if (rc || st.free != heap || st.nallocs != 0) {
		SHOW(t, "pool stats after: %s, free %llu", dipc_strerror(rc),
		     (unsigned long long)st.free);
		bad = 1;
	}
	return bad;
}

static void pool_phase(const char *name, dipc_pool *pool, const struct field *f)
{
	unsigned char ser[DIPC_SERIAL_MAX];
	int sn = dipc_pool_serialize(pool, ser, sizeof(ser));
	if (sn < 0)
		bail_out("dipc_pool_serialize failed");
	struct tally t = { .start = tc_now_ns() };
	uint64_t flips0 = atomic_load(&ctl->flips);
	flip_cmd(FLIP_RUN, (unsigned char *)pool->hdr + f->off, f->width, f->good, f->bad);
	for (long i = 0, n = rounds(600);
	     more(t.tries, t.contested, n, t.opened, t.refused, t.start); i++) {
		dipc_pool *p = NULL;
		t.tries++;
		uint64_t f0 = atomic_load_explicit(&ctl->flips, memory_order_relaxed);
		int rc = (i & 1) ? dipc_pool_attach(ser, (size_t)sn, &p) : dipc_pool_attach_name(name, &p);
		contested(&t.contested, f0);
		if (rc) {
			refused(&t, (i & 1) ? "pool attach" : "pool attach by name", rc);
			continue;
		}
		t.opened++;
		if (p->heap_size != pool->heap_size || p->nonce != pool->nonce ||
		    p->heap != (unsigned char *)p->hdr + POOL_HDR_SIZE) {
			t.wrong_geom++;
			SHOW(&t, "pool handle: heap of %llu bytes at header + %lld (true: %llu at +%u)",
			     (unsigned long long)p->heap_size, (long long)(p->heap - (unsigned char *)p->hdr),
			     (unsigned long long)pool->heap_size, POOL_HDR_SIZE);
		} else if (pool_use(p, pool->heap_size, t.opened % 16 == 1, &t)) {
			t.bad_use++;
		}
		if (dipc_pool_detach(p))
			t.bad_use++;
	}
	flip_hold();
	report("pool attach (by name and by descriptor)", f->name, &t,
	       atomic_load(&ctl->flips) - flips0);
}

static void test_pools(const char *name, dipc_pool *pool)
{
	const uint64_t seg = pool->shm.size, heap = pool->heap_size;
	const struct field fields[] = {
		FIELD(pool_hdr, once_heap_size, heap, BIG, heap + 4096, heap - 64, 64),
		FIELD(pool_hdr, once_seg_size, seg, 0, seg + 4096, seg - 1, BIG),
		FIELD(pool_hdr, once_heap_off, POOL_HDR_SIZE, 0, 64, 2 * POOL_HDR_SIZE, BIG),
		FIELD(pool_hdr, once_hdr_size, POOL_HDR_SIZE, 0, 64, 2 * POOL_HDR_SIZE, 0xffffffffu),
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		pool_phase(name, pool, &fields[i]);
}

/* ---- messages ------------------------------------------------------------
 * A channel of capacity 1, so the message is always in slot 0.  Each
 * message is sent while the flipper holds, received while it flips one
 * field of the slot or of the block the message travels in, and judged
 * once it holds again. */

enum { F_LEN, F_REF_BLK, F_REF_OFF, F_USER_SIZE };
static const char *const msg_field_names[] = {
	"slot once_len", "slot once_ref_blk", "slot once_ref_off", "block once_user_size",
};

struct sent {
	bool inline_;
	uint64_t len, blk, off, seed;
	unsigned char memd[DIPC_SERIAL_MAX];    /* the allocation's descriptor */
	size_t memd_len;
};

struct msg_tally {
	long msgs, contested, delivered, left, taken, leftover, unclean, bad;
	int shown;
	int64_t start;
};

static int msg_send(dipc_pool *pool, dipc_sendh *sh, bool inline_, uint64_t seed,
		    struct sent *m)
{
	memset(m, 0, sizeof(*m));
	m->inline_ = inline_;
	m->seed = seed;
	if (inline_) {
		unsigned char buf[MSG_BLOCK];
		tc_fill(buf, MSG_BLOCK, seed);
		m->len = MSG_BLOCK;
		return dipc_sendh_send_bytes(sh, buf, MSG_BLOCK, DIPC_TRY_ONCE);
	}
	dipc_msg *msg = NULL;
	int rc = dipc_msg_create_alloc(pool, MSG_ALLOC, &msg);
	if (rc)
		return rc;
	void *ptr = NULL;
	dipc_msg_get(msg, &ptr, NULL);
	tc_fill(ptr, MSG_ALLOC, seed);
	m->len = MSG_ALLOC;
	m->blk = msg->mem->blk;
	m->off = msg->mem->off;
	int n = dipc_mem_serialize(msg->mem, m->memd, sizeof(m->memd));
	m->memd_len = n > 0 ? (size_t)n : 0;
	rc = dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, DIPC_TRY_ONCE);
	dipc_msg_destroy(msg, rc != 0);
	return rc;
}

static void msg_flip(int which, unsigned char *slot0, dipc_pool *pool, const struct sent *m)
{
	unsigned char *at;
	uint64_t good;
	uint64_t heap = pool->heap_size;
	switch (which) {
	case F_LEN: {
		const uint64_t bad[NBAD] = { m->len + 1, BIG, UINT64_MAX, (uint64_t)1 << 63 };
		at = slot0 + offsetof(struct slot_hdr, once_len);
		good = m->len;
		flip_cmd(FLIP_RUN, at, 8, good, bad);
		return;
	}
	case F_REF_BLK: {
		const uint64_t bad[NBAD] = { m->blk + 8, BIG, heap - BLK_HDR, m->blk + BLK_HDR };
		at = slot0 + offsetof(struct slot_hdr, once_ref_blk);
		good = m->blk;
		flip_cmd(FLIP_RUN, at, 8, good, bad);
		return;
	}
	case F_REF_OFF: {
		const uint64_t bad[NBAD] = { m->off - 1, m->off + 8, m->off + MSG_ALLOC, BIG };
		at = slot0 + offsetof(struct slot_hdr, once_ref_off);
		good = m->off;
		flip_cmd(FLIP_RUN, at, 8, good, bad);
		return;
	}
	default: {
		const uint64_t bad[NBAD] = { 0, MSG_ALLOC - 1, BIG, UINT64_MAX };
		at = pool->heap + m->blk + offsetof(struct blk_hdr, once_user_size);
		good = MSG_ALLOC;
		flip_cmd(FLIP_RUN, at, 8, good, bad);
		return;
	}
	}
}

/* Free the block of a message that a refused receive took. */
static int recover(dipc_pool *pool, const struct sent *m)
{
	dipc_mem *mm = NULL;
	int rc = dipc_mem_attach(pool, m->memd, m->memd_len, &mm);
	if (rc == 0)
		rc = dipc_mem_free(mm);
	return rc;
}

static void msg_phase(int which, dipc_pool *pool, dipc_channel *ch, dipc_sendh *sh,
		      dipc_recvh *rh)
{
	const char *fname = msg_field_names[which];
	unsigned char *slot0 = ch->hdr->slots;
	struct msg_tally t = { .start = tc_now_ns() };
	uint64_t flips0 = atomic_load(&ctl->flips);
	for (long i = 0, n = rounds(400);
	     more(t.msgs, t.contested, n, t.delivered, t.left + t.taken, t.start); i++) {
		/* Two ways to receive: into an empty message (the library
		 * finds the room) or into a buffer of exactly the size sent. */
		int way = (int)(i & 1);
		bool inline_ = which == F_LEN && (i & 2);
		uint64_t seed = ((uint64_t)which << 32) + (uint64_t)i;
		struct sent m;
		int rc = msg_send(pool, sh, inline_, seed, &m);
		if (rc) {
			t.bad++;
			SHOW(&t, "send: %s", dipc_strerror(rc));
			continue;
		}
		t.msgs++;
		unsigned char *buf = malloc(m.len);
		if (!buf)
			bail_out("out of memory");
		dipc_msg *rm = NULL;
		size_t len = 0;
		if (way == 0 && dipc_msg_create_empty(&rm))
			bail_out("out of memory");

		msg_flip(which, slot0, pool, &m);
		uint64_t f0 = atomic_load_explicit(&ctl->flips, memory_order_relaxed);
		if (way == 0)
			rc = dipc_recvh_recv(rh, rm, DIPC_TRY_ONCE);
		else
			rc = dipc_recvh_recv_bytes(rh, buf, m.len, &len, DIPC_TRY_ONCE);
		contested(&t.contested, f0);
		flip_hold();

		if (rc == 0) {
			void *ptr = buf;
			if (way == 0)
				dipc_msg_get(rm, &ptr, &len);
			if (len == m.len && tc_check(ptr, len, seed)) {
				t.delivered++;
			} else {
				t.bad++;
				SHOW(&t, "%s message received with %zu bytes (sent %llu), or wrong ones",
				     inline_ ? "an inline" : "a travelling", len, (unsigned long long)m.len);
			}
		} else if (rc == DIPC_ECORRUPT || (way == 1 && rc == DIPC_EMSGSIZE)) {
			/* Refused: the message is still there for the next
			 * receive, or it was taken and its block is ours. */
			size_t len2 = 0;
			int rc2 = dipc_recvh_recv_bytes(rh, buf, m.len, &len2, DIPC_TRY_ONCE);
			if (rc2 == 0 && len2 == m.len && tc_check(buf, len2, seed)) {
				t.left++;
			} else if (rc2 == DIPC_EEMPTY && !inline_ && recover(pool, &m) == 0) {
				t.taken++;
			} else {
				t.bad++;
				SHOW(&t, "refused with %s, and then: %s, %zu bytes", dipc_strerror(rc),
				     dipc_strerror(rc2), len2);
			}
		} else {
			t.unclean++;
			SHOW(&t, "a receive under flips of %s: %s", fname, dipc_strerror(rc));
		}
		if (rm && dipc_msg_destroy(rm, 1)) {
			t.bad++;
			SHOW(&t, "freeing a received message failed");
		}
		free(buf);
		/* Still allocated after it was delivered or recovered: a free
		 * inside the receive that read a bad size and refused. */
		if (!inline_) {
			dipc_mem *mm = NULL;
			rc = dipc_mem_attach(pool, m.memd, m.memd_len, &mm);
			if (rc == 0) {
				t.leftover++;
				dipc_mem_free(mm);
			} else if (rc != DIPC_EINVAL) {
				t.bad++;
				SHOW(&t, "the travelling block: %s", dipc_strerror(rc));
			}
		}
	}
	uint64_t flips = atomic_load(&ctl->flips) - flips0;
	diag("messages, %s flipped: %ld sent (%ld received while the flipper wrote), "
	     "%ld delivered, %ld refused and left, %ld refused and taken (block recovered), "
	     "%ld blocks left by a refused free; %llu bad values written in %.0f ms",
	     fname, t.msgs, t.contested, t.delivered, t.left, t.taken, t.leftover,
	     (unsigned long long)flips, (double)(tc_now_ns() - t.start) / 1e6);
	ok(t.unclean == 0, "receive under flips of %s: fails only with DIPC_ECORRUPT "
	   "(or DIPC_EMSGSIZE into a buffer)", fname);
	ok(t.bad == 0, "receive under flips of %s: each message arrives intact, or stays for "
	   "the next receive, or its block is found (%ld not)", fname, t.bad);
	ok(t.contested > 0 && t.delivered > 0 && t.left + t.taken > 0,
	   "receive under flips of %s: the race ran (deliveries and refusals both seen)", fname);
}

static void test_messages(dipc_pool *pool, dipc_channel *ch)
{
	dipc_sendh *sh = NULL;
	dipc_recvh *rh = NULL;
	if (dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh) ||
	    dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("cannot make the message handles");
	for (int which = F_LEN; which <= F_USER_SIZE; which++)
		msg_phase(which, pool, ch, sh, rh);
	struct dipc_pool_stats st;
	E(dipc_pool_stats(pool, &st), 0);
	is_int(st.nallocs, 1, "messages: no block is left in the pool but the channel's");
	E(dipc_channel_count(ch), 0);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
}

/* ---- the run -------------------------------------------------------------- */

static char log_tag;
static _Atomic long log_calls;

static void on_log(int level, const char *message, void *arg)
{
	(void)level;
	(void)message;
	if (arg == &log_tag)
		atomic_fetch_add(&log_calls, 1);
}

static void on_fatal(int sig)
{
	if (stream_path[0])
		shm_unlink(stream_path);
	tc_on_fatal_(sig);
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
	/* 14 phases of at most 20 s each (see more()), and the rest. */
	tc_init((unsigned)(600 + 60 * (scale_ > 1 ? scale_ : 1)));
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL, SIGTERM, SIGINT,
				     SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
	diag("DIPC_TEST_SCALE %g", scale_);
	/* The log is off and its handler is ours: neither may change. */
	dipc_log_set_level(DIPC_LOG_DISABLE);
	dipc_log_set_handler(on_log, &log_tag);

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		bail_out("cannot map the flipper's page");
	memset(ctl, 0, sizeof(*ctl));

	/* Every segment is made before the flipper is forked: it flips
	 * through the mappings of these creator handles. */
	const char *sname = t_name("flips");
	snprintf(stream_path, sizeof(stream_path), "/dipc.s.%s", sname);
	dipc_stream_unlink(sname);
	dipc_stream *held = NULL;
	int held_role = DIPC_STREAM_WRITE;
	if (dipc_stream_open(sname, held_role, RING, 0600, &held))
		bail_out("cannot make the stream");
	unsigned char *stream_seg = (unsigned char *)held->hdr;

	dipc_pool *pc, *pp, *pm;
	const char *pp_name = tc_pool_new("flipp", 1 << 20, &pp);
	tc_pool_new("flipc", 1 << 20, &pc);
	tc_pool_new("flipm", 1 << 20, &pm);
	if (!pc || !pp || !pm)
		bail_out("cannot make the pools");
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = CH_CAP;
	ca.block_size = CH_BLOCK;
	dipc_channel *ch = NULL, *chm = NULL;
	if (dipc_channel_create(pc, 7, &ca, &ch))
		bail_out("cannot make the channel");
	ca.capacity = 1;
	ca.block_size = MSG_BLOCK;
	if (dipc_channel_create(pm, 9, &ca, &chm))
		bail_out("cannot make the message channel");

	fflush(stdout);
	test_pid = getpid();
	flipper_pid = fork();
	if (flipper_pid < 0)
		bail_out("fork failed");
	if (flipper_pid == 0)
		flipper();
	tc_.kids[tc_.nkids++] = flipper_pid;

	test_streams(sname, &held, &held_role, stream_seg);
	test_channels(pc, ch);
	test_pools(pp_name, pp);
	test_messages(pm, chm);

	flip_cmd(FLIP_EXIT, NULL, 8, 0, NULL);
	is_int(tc_reap(flipper_pid, 10), 0, "the flipper ends when told");

	E(dipc_stream_close(held), 0);
	E(dipc_stream_unlink(sname), DIPC_ENOENT);
	stream_path[0] = 0;
	E(dipc_channel_destroy(ch), 0);
	E(dipc_channel_destroy(chm), 0);
	E(tc_pool_del(pc), 0);
	E(tc_pool_del(pp), 0);
	E(tc_pool_del(pm), 0);

	/* On the original code the stream's bytes landed on these. */
	is_int(dipc_log_get_level(), DIPC_LOG_DISABLE, "the library's log level is untouched");
	dipc_log_set_level(DIPC_LOG_BASIC);
	dipc_pool *probe = NULL;
	tc_pool_new("flipl", 1 << 20, &probe);
	dipc_log_set_level(DIPC_LOG_DISABLE);
	ok(probe && atomic_load(&log_calls) > 0, "the library's log handler is still ours");
	if (probe)
		E(tc_pool_del(probe), 0);
	dipc_log_set_handler(NULL, NULL);
	munmap(ctl, sizeof(*ctl));
	return tc_finish();
}

#endif

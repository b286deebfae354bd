/*
 * stream_segment.c - fuzz a byte stream whose shared segment has been
 * corrupted.
 *
 * Each input opens a stream as writer and as reader (a 256-byte ring),
 * moves some bytes through it so the cursors have wrapped and the ring
 * holds unread data, then writes the fuzzer's patches over the segment
 * (the header: magic, version, sizes, the roles word, the event and
 * sleeping words, both cursors; and the ring), and uses the stream:
 * write and read (try-once, and optionally short waits), the status line,
 * a listener, opening the name again in either role, and closing.  Each
 * call must return without a wild access or an endless wait; counts
 * returned must not exceed what was asked.
 *
 * Input: a flags byte, up to 8 patches (see fz_patch).
 */
#include "fuzz.h"
#include "stream.h"

#define RING 256u
#define MAX_PATCHES 8

#define F_TIMED  0x01   /* short bounded waits too */
#define F_REOPEN 0x02   /* open the name again while it is corrupted */
#define F_LISTEN 0x04   /* run a listener on the reader for a moment */
#define F_CLOSE_W_FIRST 0x08

static FILE *devnull;

struct world {
	char name[DIPC_NAME_MAX + 1];
	dipc_stream *w, *r;
};

static void world_make(struct world *wd)
{
	fz_name(wd->name, sizeof(wd->name), "s");
	FZ_CHECK(dipc_stream_open(wd->name, DIPC_STREAM_WRITE, RING, 0, &wd->w) == 0);
	FZ_CHECK(dipc_stream_open(wd->name, DIPC_STREAM_READ, RING, 0, &wd->r) == 0);
	unsigned char buf[RING];
	memset(buf, 'w', sizeof(buf));
	/* Around the ring once and a half, leaving 120 bytes unread. */
	FZ_CHECK(dipc_stream_write(wd->w, buf, 200, DIPC_TRY_ONCE) == 200);
	FZ_CHECK(dipc_stream_read(wd->r, buf, 150, DIPC_TRY_ONCE) == 150);
	FZ_CHECK(dipc_stream_write(wd->w, buf, 150, DIPC_TRY_ONCE) == 150);
	FZ_CHECK(dipc_stream_read(wd->r, buf, 80, DIPC_TRY_ONCE) == 80);
}

static void on_chunk(dipc_stream *s, const void *data, size_t len, void *arg)
{
	(void)s;
	FZ_CHECK(len <= RING);
	*(unsigned *)arg += fz_touch(data, len);
}

static void use_stream(dipc_stream *s, int flags)
{
	char line[256];
	int n = dipc_stream_status(s, line, sizeof(line));
	FZ_CHECK(n == DIPC_ENOTOPEN || n >= 0);
	dipc_stream_print_status(s, devnull);
	unsigned char buf[2 * RING];
	memset(buf, 'x', sizeof(buf));
	int64_t got;
	if (s->role == DIPC_STREAM_WRITE) {
		got = dipc_stream_write(s, buf, 10, DIPC_TRY_ONCE);
		FZ_CHECK(got <= 10);
		got = dipc_stream_write(s, buf, sizeof(buf), DIPC_TRY_ONCE);
		FZ_CHECK(got <= (int64_t)sizeof(buf));
		if (flags & F_TIMED) {
			got = dipc_stream_write(s, buf, sizeof(buf), 200000);
			FZ_CHECK(got <= (int64_t)sizeof(buf));
		}
		return;
	}
	got = dipc_stream_read(s, buf, 10, DIPC_TRY_ONCE);
	FZ_CHECK(got <= 10);
	got = dipc_stream_read(s, buf, sizeof(buf), DIPC_TRY_ONCE);
	FZ_CHECK(got <= (int64_t)sizeof(buf));
	if (flags & F_TIMED) {
		got = dipc_stream_read(s, buf, sizeof(buf), 200000);
		FZ_CHECK(got <= (int64_t)sizeof(buf));
	}
	if (flags & F_LISTEN) {
		unsigned sum = 0;
		if (dipc_stream_listen(s, on_chunk, &sum) == 0) {
			dipc_os_sleep_ns(100000);
			dipc_stream_unlisten(s);
		}
	}
}

/* Open the name again in a role; a corrupted header must give an error,
 * a sound one a handle that works. */
static void reopen(const char *name, int role, int flags)
{
	dipc_stream *s;
	int rc = dipc_stream_open(name, role, RING, 0, &s);
	if (rc == 0) {
		FZ_CHECK(s->size > 0 && s->size <= DIPC_STREAM_MAX_RING);
		use_stream(s, flags & ~F_LISTEN);
		FZ_CHECK(dipc_stream_close(s) == 0);
	} else {
		FZ_CHECK(rc < 0 && rc >= DIPC_ERRNO_LAST && s == NULL);
	}
}

/*
 * Two states make an opener wait, by contract, up to two seconds for
 * another process: a header whose magic is still zero (its creator is
 * filling it in) and a seal held by a live process, or by none (it is
 * removing the name, or has: openers retry until the name is gone).
 * Both end in an error, but would slow the fuzzer a thousandfold, so
 * before a reopen the first becomes garbage and the second a seal left
 * by a dead process (which drives the take-over).
 */
static void no_patience(struct dipc_stream_shm *h)
{
	if (atomic_load(&h->magic) == 0)
		atomic_store(&h->magic, 1);
	uint64_t roles = atomic_load(&h->roles);
	uint32_t sealer = (uint32_t)(roles >> 32);
	if (dipc_roles_sealed(roles) && (sealer == 0 || dipc_os_pid_alive(sealer)))
		atomic_store(&h->roles, ((uint64_t)FZ_DEAD_PID << 32) | DIPC_ROLE_SEAL);
}

static void fz_make_seeds(void)
{
	unsigned char b[256];
	size_t n;
#define PUT_PATCH(off, width, val) do { \
		uint64_t v_ = (val); \
		b[n++] = (unsigned char)((off) & 0xff); \
		b[n++] = (unsigned char)((off) >> 8); \
		b[n++] = (width); \
		for (int i_ = 0; i_ < (width); i_++) \
			b[n++] = (unsigned char)(v_ >> (8 * i_)); \
	} while (0)
#define H(field) offsetof(struct dipc_stream_shm, field)

	n = 0;
	b[n++] = 0;
	fz_seed("clean", b, n);

	n = 0;
	b[n++] = F_TIMED | F_LISTEN | F_REOPEN;
	fz_seed("clean-all", b, n);

	/* Cursors further apart than the ring, each way. */
	n = 0;
	b[n++] = F_REOPEN;
	PUT_PATCH(H(wpos), 8, 1u << 20);
	fz_seed("wpos-ahead", b, n);

	n = 0;
	b[n++] = F_REOPEN;
	PUT_PATCH(H(rpos), 8, 1u << 20);
	fz_seed("rpos-ahead", b, n);

	/* Sizes that do not add up; another version. */
	n = 0;
	b[n++] = F_REOPEN;
	PUT_PATCH(H(once_ring_size), 8, 1u << 30);
	PUT_PATCH(H(version), 4, 2);
	fz_seed("sizes", b, n);

	/* Roles: a dead reader, a closed writer, a stale seal. */
	n = 0;
	b[n++] = F_REOPEN;
	PUT_PATCH(H(roles), 8, ((uint64_t)DIPC_ROLE_CLOSED << 32) | FZ_DEAD_PID);
	fz_seed("roles", b, n);

	n = 0;
	b[n++] = F_REOPEN | F_CLOSE_W_FIRST;
	PUT_PATCH(H(roles), 8, ((uint64_t)FZ_DEAD_PID << 32) | DIPC_ROLE_SEAL);
	fz_seed("roles-sealed", b, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull)
		FZ_CHECK((devnull = fopen("/dev/null", "w")) != NULL);
	struct fz_in in = { data, size };
	struct world wd;
	world_make(&wd);
	int flags = fz_u8(&in);
	fz_patch(&in, wd.w->shm.addr, wd.w->shm.size, MAX_PATCHES);
	if (flags & F_REOPEN)
		no_patience(wd.w->hdr);

	use_stream(wd.w, flags);
	use_stream(wd.r, flags);
	dipc_stream *first = flags & F_CLOSE_W_FIRST ? wd.w : wd.r;
	dipc_stream *second = first == wd.w ? wd.r : wd.w;
	int first_role = first->role;
	FZ_CHECK(dipc_stream_close(first) == 0);
	if (flags & F_REOPEN)
		reopen(wd.name, first_role, flags);
	FZ_CHECK(dipc_stream_close(second) == 0);
	/* A corrupted roles word can keep the last side from removing the
	 * name; do not leave the segment behind. */
	int rc = dipc_stream_unlink(wd.name);
	FZ_CHECK(rc == 0 || rc == DIPC_ENOENT);
	return 0;
}

/*
 * badinput.c - every public function of <dragonipc.h> against bad input,
 * one table row per case.
 *
 * A row names the function, says what is wrong with the call and gives
 * the exact code it must return.  t/errors.c, t/channel.c and
 * t/stream_args.c already test the plain NULL and range cases; the rows
 * here add what they leave out: extreme sizes and timeouts, misaligned
 * buffers and offsets, forged and stale descriptors (of a destroyed pool,
 * a destroyed channel, a freed allocation, a name made anew), handles whose
 * channel or pool another handle destroyed, segments of the right name and
 * the wrong contents, and calls made from where they are not allowed (a
 * listener's own callback).  Where one of those files already has the only
 * bad input a function can get, the row repeats it so that the table shows
 * every function.
 *
 * The table is checked against the header (read from $top_srcdir when it
 * can be found, else against the list below): a function without a row
 * fails the test.  Before and after, the segments of this run are counted
 * (/dev/shm on Linux): no refused call may leave one behind.
 */
#include "coretest.h"

#include <inttypes.h>
#include <limits.h>

#ifndef _WIN32
# include <fcntl.h>
# include <sys/stat.h>
#endif

int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 1;
}

/* ---- the coverage list ---------------------------------------------------- */

static const char *const api[] = {
	"dipc_strerror", "dipc_version", "dipc_init", "dipc_cleanup",
	"dipc_log_set_level", "dipc_log_get_level", "dipc_log_set_handler",
	"dipc_pool_attr_init", "dipc_pool_create", "dipc_pool_destroy", "dipc_pool_detach",
	"dipc_pool_serialize", "dipc_pool_attach", "dipc_pool_attach_name",
	"dipc_pool_attach_name_flags", "dipc_pool_stats",
	"dipc_pool_alloc", "dipc_pool_alloc_wait", "dipc_pool_reclaim",
	"dipc_mem_get", "dipc_mem_serialize", "dipc_mem_attach", "dipc_mem_clone",
	"dipc_mem_free", "dipc_mem_detach",
	"dipc_pool_get_attr", "dipc_pool_blocks", "dipc_mem_id", "dipc_mem_from_id",
	"dipc_channel_attr_init", "dipc_channel_create", "dipc_channel_destroy",
	"dipc_channel_detach", "dipc_channel_serialize", "dipc_channel_attach",
	"dipc_channel_count", "dipc_channel_capacity", "dipc_channel_block_size",
	"dipc_channel_cuid", "dipc_channel_pool", "dipc_channel_poll",
	"dipc_channel_blocked_receivers", "dipc_channel_barrier", "dipc_channel_barrier_count",
	"dipc_channel_barrier_broken",
	"dipc_channelset_create", "dipc_channelset_destroy", "dipc_channelset_poll",
	"dipc_handle_attr_init",
	"dipc_sendh_create", "dipc_sendh_open", "dipc_sendh_close", "dipc_sendh_destroy",
	"dipc_sendh_send", "dipc_sendh_send_bytes",
	"dipc_recvh_create", "dipc_recvh_open", "dipc_recvh_close", "dipc_recvh_destroy",
	"dipc_recvh_recv", "dipc_recvh_recv_bytes",
	"dipc_msg_create_empty", "dipc_msg_create_alloc", "dipc_msg_create_from_mem",
	"dipc_msg_get", "dipc_msg_mem", "dipc_msg_destroy", "dipc_msg_set_attr", "dipc_msg_attr",
	"dipc_stream_open", "dipc_stream_close", "dipc_stream_write", "dipc_stream_read",
	"dipc_stream_listen", "dipc_stream_unlisten", "dipc_stream_status",
	"dipc_stream_print_status", "dipc_stream_unlink",
};
#define NAPI (sizeof(api) / sizeof(api[0]))
static int rows_of[NAPI];

static const char *code_name(long long c)
{
	static const char *const n[] = {
		"0", "DIPC_EINVAL", "DIPC_ENOMEM", "DIPC_ENOSPC", "DIPC_EFULL", "DIPC_EEMPTY",
		"DIPC_ETIMEDOUT", "DIPC_ENOTOPEN", "DIPC_EDESTROYED", "DIPC_EPEERCLOSED",
		"DIPC_EPERM", "DIPC_EVERSION", "DIPC_EEXIST", "DIPC_ENOENT", "DIPC_EBUSY",
		"DIPC_EMSGSIZE", "DIPC_ECORRUPT", "DIPC_EFOREIGN", "DIPC_ESYS",
		"DIPC_ENAMETOOLONG", "DIPC_ELIMIT", "DIPC_EBROKEN",
	};
	static char buf[4][24];
	static int i;
	if (c <= 0 && c >= DIPC_ERRNO_LAST)
		return n[-c];
	char *b = buf[i++ & 3];
	snprintf(b, sizeof(buf[0]), "%lld", c);
	return b;
}

/* Give up, leaving no segment behind. */
static void stop(const char *why)
{
#ifndef _WIN32
	tc_emergency_();
#endif
	dipc_cleanup();
	bail_out(why);
}

/* One row: fn is the function under test, which expr must call. */
static void row_(const char *fn, const char *expr, const char *what, long long got,
		 long long want, int recorded, int line)
{
	size_t i;
	for (i = 0; i < NAPI; i++)
		if (strcmp(api[i], fn) == 0)
			break;
	if (i == NAPI || (!recorded && !strstr(expr, fn))) {
		diag("row for %s calls %s", fn, expr);
		stop("a row names a function that is not public or not called");
	}
	rows_of[i]++;
	if (!ok_(got == want, __FILE__, line, "%s: %s -> %s", fn, what, code_name(want)))
		printf("#   got %s from %s\n", code_name(got), expr);
}
#define ROW(fn, want, what, expr) \
	row_(#fn, #expr, (what), (long long)(expr), (long long)(want), 0, __LINE__)
/* A row whose call was made elsewhere (in a callback) and its result kept. */
#define ROW_KEPT(fn, want, what, kept) \
	row_(#fn, #kept, (what), (long long)(kept), (long long)(want), 1, __LINE__)

/* Rows that cannot run on this platform still count for coverage. */
static void row_skip(const char *fn, const char *why)
{
	for (size_t i = 0; i < NAPI; i++)
		if (strcmp(api[i], fn) == 0)
			rows_of[i]++;
	skip(1, why);
}

/* ---- small helpers ---------------------------------------------------------- */

#define SENTINEL ((void *)&rows_of)
/* A refused call must leave its output handle NULL: a wrong one is a
 * failure of its own, reported as this code. */
#define E_OUT_LEFT 999

static void put64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Descriptor layouts of ABI 1 (lib/pool.c, lib/channel.c): a pool's is
 * magic+abi, host, nonce, name length, name; a memory descriptor's is
 * magic+abi, host, pool nonce, block, offset, size; a channel's is
 * magic+abi, cuid, header offset, nonce, then its pool's. */
#define P_NAMELEN 24
#define P_NAME    25
#define M_BLK     24
#define M_OFF     32
#define M_SIZE    40
#define C_CUID    8
#define C_OFF     16
#define C_NONCE   24
#define C_POOL    32

static int chk_dipc_pool_create(const char *name, size_t size, const struct dipc_pool_attr *a)
{
	dipc_pool *p = SENTINEL;
	int rc = dipc_pool_create(name, size, a, &p);
	if (rc == 0) {
		dipc_pool_destroy(p);
		return 0;
	}
	return p ? E_OUT_LEFT : rc;
}

static int chk_dipc_pool_attach(const void *b, size_t n)
{
	dipc_pool *p = SENTINEL;
	int rc = dipc_pool_attach(b, n, &p);
	if (rc == 0) {
		dipc_pool_detach(p);
		return 0;
	}
	return p ? E_OUT_LEFT : rc;
}

static int chk_dipc_pool_attach_name(const char *name)
{
	dipc_pool *p = SENTINEL;
	int rc = dipc_pool_attach_name(name, &p);
	if (rc == 0) {
		dipc_pool_detach(p);
		return 0;
	}
	return p ? E_OUT_LEFT : rc;
}

static int chk_dipc_pool_attach_name_flags(const char *name, unsigned flags)
{
	dipc_pool *p = SENTINEL;
	int rc = dipc_pool_attach_name_flags(name, flags, &p);
	if (rc == 0) {
		dipc_pool_detach(p);
		return 0;
	}
	return p ? E_OUT_LEFT : rc;
}

static int chk_dipc_pool_alloc_wait(dipc_pool *pool, size_t size, int64_t timeout)
{
	dipc_mem *m = SENTINEL;
	int rc = dipc_pool_alloc_wait(pool, size, timeout, &m);
	if (rc == 0) {
		dipc_mem_free(m);
		return 0;
	}
	return m ? E_OUT_LEFT : rc;
}

static int chk_dipc_mem_attach(dipc_pool *pool, const void *b, size_t n)
{
	dipc_mem *m = SENTINEL;
	int rc = dipc_mem_attach(pool, b, n, &m);
	if (rc == 0) {
		dipc_mem_detach(m);
		return 0;
	}
	return m ? E_OUT_LEFT : rc;
}

static int chk_dipc_mem_from_id(dipc_pool *pool, uint64_t id)
{
	dipc_mem *m = SENTINEL;
	int rc = dipc_mem_from_id(pool, id, &m);
	if (rc == 0) {
		dipc_mem_detach(m);
		return 0;
	}
	return m ? E_OUT_LEFT : rc;
}

static int chk_dipc_mem_id(const dipc_mem *m)
{
	uint64_t id = 12345;
	int rc = dipc_mem_id(m, &id);
	return rc == 0 || id == 0 ? rc : E_OUT_LEFT;
}

static int chk_dipc_channel_attach(const void *b, size_t n, dipc_pool *pool)
{
	dipc_channel *c = SENTINEL;
	int rc = dipc_channel_attach(b, n, pool, &c);
	if (rc == 0) {
		dipc_channel_detach(c);
		return 0;
	}
	return c ? E_OUT_LEFT : rc;
}

static int chk_dipc_channel_create(dipc_pool *pool, uint64_t cuid, const struct dipc_channel_attr *a)
{
	dipc_channel *c = SENTINEL;
	int rc = dipc_channel_create(pool, cuid, a, &c);
	if (rc == 0) {
		dipc_channel_destroy(c);
		return 0;
	}
	return c ? E_OUT_LEFT : rc;
}

static int chk_dipc_mem_clone(const dipc_mem *m, size_t off, size_t size)
{
	dipc_mem *c = SENTINEL;
	int rc = dipc_mem_clone(m, off, size, &c);
	if (rc == 0) {
		dipc_mem_detach(c);
		return 0;
	}
	return c ? E_OUT_LEFT : rc;
}

static int chk_dipc_msg_create_alloc(dipc_pool *pool, size_t size)
{
	dipc_msg *m = SENTINEL;
	int rc = dipc_msg_create_alloc(pool, size, &m);
	if (rc == 0) {
		dipc_msg_destroy(m, 1);
		return 0;
	}
	return m ? E_OUT_LEFT : rc;
}

static int chk_dipc_sendh_create(dipc_channel *ch, const struct dipc_handle_attr *a)
{
	dipc_sendh *h = SENTINEL;
	int rc = dipc_sendh_create(ch, a, &h);
	if (rc == 0) {
		dipc_sendh_destroy(h);
		return 0;
	}
	return h ? E_OUT_LEFT : rc;
}

static int chk_dipc_recvh_create(dipc_channel *ch, const struct dipc_handle_attr *a)
{
	dipc_recvh *h = SENTINEL;
	int rc = dipc_recvh_create(ch, a, &h);
	if (rc == 0) {
		dipc_recvh_destroy(h);
		return 0;
	}
	return h ? E_OUT_LEFT : rc;
}

static int chk_dipc_stream_open(const char *name, int role, size_t size, unsigned perm)
{
	dipc_stream *s = SENTINEL;
	int rc = dipc_stream_open(name, role, size, perm, &s);
	if (rc == 0) {
		dipc_stream_close(s);
		return 0;
	}
	return s ? E_OUT_LEFT : rc;
}

/* The pool is destroyed by the row itself: the end-of-test clean-up must
 * not touch the handle again (its name is still checked). */
static void untrack(const dipc_pool *p)
{
	for (int i = 0; i < tc_.npools; i++)
		if (tc_.live[i] == p)
			tc_.live[i] = NULL;
}

/* ---- leftovers ------------------------------------------------------------- */

/* Segments of this run: every name made here ends in this process's id
 * (t_name).  A bad name a create let through would fail its row, since
 * the row's helper destroys whatever it made. */
#ifndef _WIN32
static int count_ours(void)
{
	int n = 0;
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "-%ld", (long)getpid());
	size_t sl = strlen(suffix);
	DIR *d = opendir("/dev/shm");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *s = e->d_name;
		size_t l = strlen(s);
		if (strncmp(s, "dipc.", 5) == 0 && l > sl && strcmp(s + l - sl, suffix) == 0) {
			diag("segment: /dev/shm/%s", s);
			n++;
		}
	}
	closedir(d);
	return n;
}
#endif

#ifndef _WIN32
/* A segment under a library name with contents of our choosing. */
static int raw_segment(const char *segname, size_t size, const void *head, size_t hl)
{
	char path[128];
	snprintf(path, sizeof(path), "/%s", segname);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	int rc = ftruncate(fd, (off_t)size) == 0 &&
		 (hl == 0 || pwrite(fd, head, hl, 0) == (ssize_t)hl) ? 0 : -1;
	close(fd);
	return rc;
}

static void raw_unlink(const char *segname)
{
	char path[128];
	snprintf(path, sizeof(path), "/%s", segname);
	shm_unlink(path);
}
#endif

/* ---- the fixture ------------------------------------------------------------ */

struct fx {
	dipc_pool *p, *q;               /* live pools */
	const char *pname;
	dipc_channel *ch;               /* live channel in p, cuid 1 */
	dipc_sendh *sh;                 /* open on ch */
	dipc_recvh *rh;
	dipc_channel *dead;             /* a handle on a channel destroyed elsewhere */
	dipc_sendh *dead_sh;            /* opened on dead before it was destroyed */
	dipc_recvh *dead_rh;
	dipc_mem *m;                    /* 4096 bytes of p */
	unsigned char pdesc[DIPC_SERIAL_MAX], cdesc[DIPC_SERIAL_MAX], mdesc[DIPC_SERIAL_MAX];
	int plen, clen, mlen;
	unsigned char dead_pdesc[DIPC_SERIAL_MAX];  /* of a destroyed pool */
	unsigned char dead_cdesc[DIPC_SERIAL_MAX];  /* of a destroyed channel */
	struct dipc_pool_stats st;
};

static void fx_setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->pname = tc_pool_new("bad", 0x100000, &f->p);
	tc_pool_new("bad2", 0x100000, &f->q);
	if (!f->p || !f->q)
		stop("cannot create the test pools");
	if (dipc_channel_create(f->p, 1, NULL, &f->ch) ||
	    dipc_sendh_create(f->ch, NULL, &f->sh) || dipc_sendh_open(f->sh) ||
	    dipc_recvh_create(f->ch, NULL, &f->rh) || dipc_recvh_open(f->rh) ||
	    dipc_pool_alloc(f->p, 4096, &f->m))
		stop("cannot set up the channel");
	f->plen = dipc_pool_serialize(f->p, f->pdesc, sizeof(f->pdesc));
	f->clen = dipc_channel_serialize(f->ch, f->cdesc, sizeof(f->cdesc));
	f->mlen = dipc_mem_serialize(f->m, f->mdesc, sizeof(f->mdesc));

	/* A channel destroyed through one handle while another holds on. */
	dipc_channel *c2;
	if (dipc_channel_create(f->p, 2, NULL, &c2) ||
	    dipc_channel_serialize(c2, f->dead_cdesc, sizeof(f->dead_cdesc)) != f->clen ||
	    dipc_channel_attach(f->dead_cdesc, (size_t)f->clen, f->p, &f->dead) ||
	    dipc_sendh_create(f->dead, NULL, &f->dead_sh) || dipc_sendh_open(f->dead_sh) ||
	    dipc_recvh_create(f->dead, NULL, &f->dead_rh) || dipc_recvh_open(f->dead_rh) ||
	    dipc_channel_destroy(c2))
		stop("cannot set up the destroyed channel");

	/* A destroyed pool's descriptor. */
	dipc_pool *gone;
	tc_pool_new("gone", 0x100000, &gone);
	if (!gone || dipc_pool_serialize(gone, f->dead_pdesc, sizeof(f->dead_pdesc)) != f->plen ||
	    tc_pool_del(gone))
		stop("cannot set up the stale descriptor");
	dipc_pool_stats(f->p, &f->st);
}

static void fx_teardown(struct fx *f)
{
	struct dipc_pool_stats st;
	dipc_recvh_destroy(f->dead_rh);
	dipc_sendh_destroy(f->dead_sh);
	is_int(dipc_channel_detach(f->dead), 0, "the stale channel handle detaches");
	dipc_sendh_destroy(f->sh);
	dipc_recvh_destroy(f->rh);
	is_int(dipc_channel_count(f->ch), 0, "no refused call left a message in the channel");
	dipc_mem_free(f->m);
	dipc_channel_destroy(f->ch);
	dipc_pool_stats(f->p, &st);
	ok(st.nallocs == 0 && st.nchannels == 0 && st.free == st.total,
	   "no refused call left an allocation or a channel in the pool (%" PRIu64 " allocs)",
	   st.nallocs);
	tc_pool_del(f->p);
	tc_pool_del(f->q);
}

/* ---- library-wide calls ------------------------------------------------------- */

static void rows_library(void)
{
	ROW(dipc_strerror, 0, "the most negative int is an unknown code",
	    strcmp(dipc_strerror(INT_MIN), "unknown error"));
	ROW(dipc_version, 0, "no argument to get wrong: still the header's major version",
	    dipc_version()[0] - '0' - DIPC_VERSION_MAJOR);
	ROW(dipc_init, DIPC_EINVAL, "log level INT_MAX", dipc_init(INT_MAX));
	ROW(dipc_init, DIPC_EINVAL, "log level INT_MIN", dipc_init(INT_MIN));
	ROW(dipc_log_set_level, DIPC_EINVAL, "level INT_MIN", dipc_log_set_level(INT_MIN));
	ROW(dipc_log_set_level, DIPC_EINVAL, "level INT_MAX", dipc_log_set_level(INT_MAX));
	ROW(dipc_log_get_level, DIPC_LOG_DISABLE, "unchanged by the refused levels",
	    dipc_log_get_level());
	ROW(dipc_log_set_handler, 0, "NULL handler with an argument (back to stderr)",
	    dipc_log_set_handler(NULL, SENTINEL));
	ROW(dipc_pool_attr_init, DIPC_EINVAL, "NULL attr", dipc_pool_attr_init(NULL));
	ROW(dipc_channel_attr_init, DIPC_EINVAL, "NULL attr", dipc_channel_attr_init(NULL));
	ROW(dipc_handle_attr_init, DIPC_EINVAL, "NULL attr", dipc_handle_attr_init(NULL));
}

/* ---- pools ------------------------------------------------------------------- */

static void rows_pool(struct fx *f)
{
	struct dipc_pool_attr pa;
	const char *fresh = t_name("never");
	unsigned char b[DIPC_SERIAL_MAX + 8];
	size_t n = (size_t)f->plen;

	dipc_pool_attr_init(&pa);
	pa.mode = 04600;
	ROW(dipc_pool_create, DIPC_EINVAL, "setuid bit in mode", chk_dipc_pool_create(fresh, 4096, &pa));
	pa.mode = UINT32_MAX;
	ROW(dipc_pool_create, DIPC_EINVAL, "mode UINT32_MAX", chk_dipc_pool_create(fresh, 4096, &pa));
	dipc_pool_attr_init(&pa);
	pa.reserved[2] = UINT32_MAX;
	ROW(dipc_pool_create, DIPC_EINVAL, "last reserved word set", chk_dipc_pool_create(fresh, 4096, &pa));
	ROW(dipc_pool_create, DIPC_EINVAL, "size SIZE_MAX - 4095 (rounds past the top)",
	    chk_dipc_pool_create(fresh, SIZE_MAX - 4095, NULL));
	ROW(dipc_pool_create, DIPC_EINVAL, "name with a control byte",
	    chk_dipc_pool_create("t-\001x", 4096, NULL));
	ROW(dipc_pool_create, DIPC_EINVAL, "name with a tab", chk_dipc_pool_create("a\tb", 4096, NULL));
	ROW(dipc_pool_create, DIPC_EEXIST, "the name of a live pool",
	    chk_dipc_pool_create(f->pname, 4096, NULL));

	ROW(dipc_pool_serialize, DIPC_EINVAL, "NULL buffer with length SIZE_MAX",
	    dipc_pool_serialize(f->p, NULL, SIZE_MAX));
	ROW(dipc_pool_serialize, f->plen, "into a misaligned buffer",
	    dipc_pool_serialize(f->p, b + 1, sizeof(b) - 1));
	ROW(dipc_pool_attach, 0, "from a misaligned copy of a good descriptor",
	    chk_dipc_pool_attach(b + 1, n));
	ROW(dipc_pool_attach, DIPC_ENOENT, "descriptor of a destroyed pool",
	    chk_dipc_pool_attach(f->dead_pdesc, n));
	ROW(dipc_pool_attach, DIPC_EINVAL, "NULL descriptor with length SIZE_MAX",
	    chk_dipc_pool_attach(NULL, SIZE_MAX));

	/* The name inside a descriptor is input too. */
	static const char *const evil[] = { "../x", "a/b", "..", ".hidden", "a b" };
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		memcpy(b, f->pdesc, n);
		memset(b + P_NAME, 0, DIPC_NAME_MAX);
		b[P_NAMELEN] = (unsigned char)strlen(evil[i]);
		memcpy(b + P_NAME, evil[i], strlen(evil[i]));
		char what[64];
		snprintf(what, sizeof(what), "descriptor naming the pool \"%s\"", evil[i]);
		ROW(dipc_pool_attach, DIPC_EINVAL, what, chk_dipc_pool_attach(b, n));
	}
	memcpy(b, f->pdesc, n);
	b[P_NAME + 1] = 0;
	ROW(dipc_pool_attach, DIPC_EINVAL, "descriptor with a NUL inside the name",
	    chk_dipc_pool_attach(b, n));
	memcpy(b, f->pdesc, n);
	b[P_NAMELEN] = 0;
	ROW(dipc_pool_attach, DIPC_EINVAL, "descriptor with name length 0", chk_dipc_pool_attach(b, n));
	b[P_NAMELEN] = 255;
	ROW(dipc_pool_attach, DIPC_EINVAL, "descriptor with name length 255", chk_dipc_pool_attach(b, n));
	b[P_NAMELEN] = DIPC_NAME_MAX + 1;
	ROW(dipc_pool_attach, DIPC_EINVAL, "descriptor with name length NAME_MAX + 1",
	    chk_dipc_pool_attach(b, n));

	ROW(dipc_pool_attach_name, DIPC_ENOENT, "name of a destroyed pool",
	    chk_dipc_pool_attach_name(t_name("gone")));
	ROW(dipc_pool_attach_name, DIPC_EINVAL, "name \"..\" inside a path", chk_dipc_pool_attach_name("a/../b"));
#ifndef _WIN32
	/* Segments under a pool's name that are not pools. */
	char seg[96];
	const char *raw = t_name("raw");
	snprintf(seg, sizeof(seg), "dipc.p.%s", raw);
	if (raw_segment(seg, 0, NULL, 0) == 0) {
		ROW(dipc_pool_attach_name, DIPC_ECORRUPT, "a segment of size 0",
		    chk_dipc_pool_attach_name(raw));
		raw_unlink(seg);
	} else {
		row_skip("dipc_pool_attach_name", "cannot make a raw segment");
	}
	unsigned char hdr[16];
	memset(hdr, 0x5a, sizeof(hdr));
	if (raw_segment(seg, 8192, hdr, sizeof(hdr)) == 0) {
		ROW(dipc_pool_attach_name, DIPC_ECORRUPT, "a segment of garbage",
		    chk_dipc_pool_attach_name(raw));
		raw_unlink(seg);
	} else {
		row_skip("dipc_pool_attach_name", "cannot make a raw segment");
	}
	put64(hdr, 0x4c4f4f5043504944ull);     /* the pool magic, an ABI never made */
	put64(hdr + 8, 0xffff);
	if (raw_segment(seg, 8192, hdr, sizeof(hdr)) == 0) {
		ROW(dipc_pool_attach_name, DIPC_EVERSION, "a pool segment of another ABI",
		    chk_dipc_pool_attach_name(raw));
		raw_unlink(seg);
	} else {
		row_skip("dipc_pool_attach_name", "cannot make a raw segment");
	}
	struct stat sb;
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/%s", seg);
	ROW(dipc_pool_attach_name, DIPC_ENOENT, "the raw segment is gone again",
	    chk_dipc_pool_attach_name(raw) + (stat(path, &sb) == 0));
#else
	row_skip("dipc_pool_attach_name", "no raw segments on Windows");
#endif

	/* Flags are checked before the name: nothing is opened for a call
	 * that cannot be right. */
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "NULL name",
	    chk_dipc_pool_attach_name_flags(NULL, DIPC_SHARED));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "NULL out",
	    dipc_pool_attach_name_flags(f->pname, DIPC_SHARED, NULL));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "flags 1",
	    chk_dipc_pool_attach_name_flags(f->pname, 1));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "flags DIPC_SHARED << 1",
	    chk_dipc_pool_attach_name_flags(f->pname, DIPC_SHARED << 1));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "flags UINT_MAX",
	    chk_dipc_pool_attach_name_flags(f->pname, UINT_MAX));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "bad flags and a NULL name",
	    chk_dipc_pool_attach_name_flags(NULL, UINT_MAX));
	ROW(dipc_pool_attach_name_flags, DIPC_EINVAL, "name \"a/../b\" with DIPC_SHARED",
	    chk_dipc_pool_attach_name_flags("a/../b", DIPC_SHARED));
	char n64[DIPC_NAME_MAX + 2];
	memset(n64, 'n', sizeof(n64) - 1);
	n64[sizeof(n64) - 1] = 0;
	ROW(dipc_pool_attach_name_flags, DIPC_ENAMETOOLONG, "name of DIPC_NAME_MAX + 1 bytes",
	    chk_dipc_pool_attach_name_flags(n64, DIPC_SHARED));
	ROW(dipc_pool_attach_name_flags, DIPC_ENOENT, "name of a destroyed pool, DIPC_SHARED",
	    chk_dipc_pool_attach_name_flags(t_name("gone"), DIPC_SHARED));
	ROW(dipc_pool_attach_name_flags, 0, "our own pool, flags 0",
	    chk_dipc_pool_attach_name_flags(f->pname, 0));
	ROW(dipc_pool_attach_name_flags, 0, "our own pool, DIPC_SHARED",
	    chk_dipc_pool_attach_name_flags(f->pname, DIPC_SHARED));
#ifndef _WIN32
	if (raw_segment(seg, 0, NULL, 0) == 0) {
		ROW(dipc_pool_attach_name_flags, DIPC_ECORRUPT, "a segment of size 0, DIPC_SHARED",
		    chk_dipc_pool_attach_name_flags(raw, DIPC_SHARED));
		raw_unlink(seg);
	} else {
		row_skip("dipc_pool_attach_name_flags", "cannot make a raw segment");
	}
	memset(hdr, 0x5a, sizeof(hdr));
	if (raw_segment(seg, 8192, hdr, sizeof(hdr)) == 0) {
		ROW(dipc_pool_attach_name_flags, DIPC_ECORRUPT, "a segment of garbage, DIPC_SHARED",
		    chk_dipc_pool_attach_name_flags(raw, DIPC_SHARED));
		raw_unlink(seg);
	} else {
		row_skip("dipc_pool_attach_name_flags", "cannot make a raw segment");
	}
#endif

	ROW(dipc_pool_stats, DIPC_EINVAL, "NULL pool and NULL stats", dipc_pool_stats(NULL, NULL));
	dipc_mem *m = SENTINEL;
	ROW(dipc_pool_alloc, DIPC_ENOSPC, "size SIZE_MAX - 62 (overflows when aligned)",
	    dipc_pool_alloc(f->p, SIZE_MAX - 62, &m));
	ROW(dipc_pool_alloc, DIPC_ENOSPC, "the whole heap (no room for the block header)",
	    dipc_pool_alloc(f->p, (size_t)f->st.total, &m));
	ROW(dipc_pool_alloc_wait, DIPC_EINVAL, "timeout -3", dipc_pool_alloc_wait(f->p, 64, -3, &m));
	ROW(dipc_pool_alloc_wait, DIPC_EINVAL, "timeout DIPC_TIMEOUT_DEFAULT (no handle default)",
	    dipc_pool_alloc_wait(f->p, 64, DIPC_TIMEOUT_DEFAULT, &m));
	ok(m == NULL, "dipc_pool_alloc_wait: a refused call sets *mem to NULL");
	ROW(dipc_pool_alloc_wait, DIPC_ENOSPC, "size SIZE_MAX, timeout INT64_MAX: fails at once",
	    dipc_pool_alloc_wait(f->p, SIZE_MAX, INT64_MAX, &m));
	/* Fits in the heap, but not next to what is allocated: a bounded wait. */
	ROW(dipc_pool_alloc_wait, DIPC_ETIMEDOUT, "more than is free, timeout 1 ns",
	    dipc_pool_alloc_wait(f->p, (size_t)f->st.total - 64, 1, &m));
	int64_t t0 = tc_now_ns();
	ROW(dipc_pool_alloc_wait, 0, "timeout INT64_MAX when there is room (no overflow)",
	    chk_dipc_pool_alloc_wait(f->p, 64, INT64_MAX));
	ok(tc_now_ns() - t0 < 5 * TC_SEC, "and it did not wait");
	ROW(dipc_pool_reclaim, 0, "a pool with nothing to reclaim", dipc_pool_reclaim(f->q));

	/* A destroyed pool through a second handle, its name made anew. */
	dipc_pool *a = NULL, *b2 = NULL;
	const char *reuse = tc_pool_new("reuse", 0x100000, &a);
	if (a && dipc_pool_attach_name(reuse, &b2) == 0) {
		untrack(a);
		ROW(dipc_pool_destroy, 0, "the first of two handles", dipc_pool_destroy(a));
		struct dipc_pool_stats st;
		ROW(dipc_pool_stats, 0, "a handle on a destroyed pool still reads its mapping",
		    dipc_pool_stats(b2, &st));
		ROW(dipc_pool_attach_name, DIPC_ENOENT, "the destroyed pool's name",
		    chk_dipc_pool_attach_name(reuse));
		dipc_pool *again = NULL;
		int rc2 = dipc_pool_create(reuse, 0x100000, NULL, &again);
		if (rc2 == 0)
			tc_pool_track(reuse, again);
		ROW(dipc_pool_destroy, 0, "a stale handle after the name was taken by a new pool",
		    dipc_pool_destroy(b2));
		ROW(dipc_pool_attach_name, 0, "the new pool survived the stale destroy",
		    chk_dipc_pool_attach_name(reuse));
		if (again)
			tc_pool_del(again);
	} else {
		stop("cannot set up the reused pool name");
	}
	dipc_pool *d = NULL;
	dipc_pool_attach(f->pdesc, n, &d);
	ROW(dipc_pool_detach, 0, "a second handle on a live pool", dipc_pool_detach(d));
	ROW(dipc_pool_attach_name, 0, "the pool lives on after a handle detached",
	    chk_dipc_pool_attach_name(f->pname));
}

/* ---- memory ---------------------------------------------------------------- */

static void rows_mem(struct fx *f)
{
	unsigned char b[DIPC_SERIAL_MAX + 8];
	size_t n = (size_t)f->mlen;
	void *ptr = SENTINEL;

	ROW(dipc_mem_get, 0, "both outputs NULL", dipc_mem_get(f->m, NULL, NULL));
	ROW(dipc_mem_serialize, DIPC_EINVAL, "NULL buffer with length SIZE_MAX",
	    dipc_mem_serialize(f->m, NULL, SIZE_MAX));
	ROW(dipc_mem_serialize, f->mlen, "into a misaligned buffer",
	    dipc_mem_serialize(f->m, b + 3, sizeof(b) - 3));
	ROW(dipc_mem_attach, 0, "from a misaligned copy", chk_dipc_mem_attach(f->p, b + 3, n));
	dipc_mem *fm = NULL;
	unsigned char dead[DIPC_SERIAL_MAX];
	dipc_pool_alloc(f->q, 100, &fm);
	dipc_mem_serialize(fm, dead, sizeof(dead));
	dipc_mem_free(fm);
	ROW(dipc_mem_attach, DIPC_EINVAL, "descriptor of a freed allocation",
	    chk_dipc_mem_attach(f->q, dead, n));
	ROW(dipc_mem_attach, DIPC_EINVAL, "NULL pool, NULL descriptor, length SIZE_MAX",
	    chk_dipc_mem_attach(NULL, NULL, SIZE_MAX));

	uint64_t blk = get64(f->mdesc + M_BLK), off = get64(f->mdesc + M_OFF);
	static const struct { int at; int64_t delta; uint64_t set; const char *what; } forge[] = {
		{ M_BLK, 1, 0, "block offset not a multiple of 64" },
		{ M_BLK, 32, 0, "block offset into the middle of a header" },
		{ M_BLK, -64, 0, "block offset one header early" },
		{ M_BLK, 0, UINT64_MAX - 63, "block offset near 2^64" },
		{ M_OFF, -1, 0, "range starting inside the block header" },
		{ M_OFF, 4097, 0, "range starting past the allocation" },
		{ M_OFF, 0, UINT64_MAX, "range offset 2^64 - 1" },
		{ M_SIZE, 0, 4097, "size one past the allocation" },
		{ M_SIZE, 0, UINT64_MAX, "size 2^64 - 1" },
	};
	for (size_t i = 0; i < sizeof(forge) / sizeof(forge[0]); i++) {
		memcpy(b, f->mdesc, n);
		uint64_t base = forge[i].at == M_BLK ? blk : forge[i].at == M_OFF ? off : 0;
		put64(b + forge[i].at, forge[i].set ? forge[i].set : base + (uint64_t)forge[i].delta);
		ROW(dipc_mem_attach, DIPC_EINVAL, forge[i].what, chk_dipc_mem_attach(f->p, b, n));
	}
	/* In range but at an odd place: allowed, and stays inside. */
	memcpy(b, f->mdesc, n);
	put64(b + M_OFF, off + 3);
	put64(b + M_SIZE, 5);
	ROW(dipc_mem_attach, 0, "a misaligned sub-range inside the allocation",
	    chk_dipc_mem_attach(f->p, b, n));
	ROW(dipc_mem_attach, DIPC_EINVAL, "a live allocation in another pool",
	    chk_dipc_mem_attach(f->q, f->mdesc, n));

	ROW(dipc_mem_clone, DIPC_EINVAL, "offset and size SIZE_MAX", chk_dipc_mem_clone(f->m, SIZE_MAX, SIZE_MAX));
	ROW(dipc_mem_clone, DIPC_EINVAL, "offset SIZE_MAX, size 0", chk_dipc_mem_clone(f->m, SIZE_MAX, 0));
	ROW(dipc_mem_clone, 0, "empty range at the very end", chk_dipc_mem_clone(f->m, 4096, 0));
	ROW(dipc_mem_clone, 0, "odd offset and size", chk_dipc_mem_clone(f->m, 1, 3));
	dipc_mem *c = NULL;
	dipc_mem_clone(f->m, 100, 50, &c);
	ROW(dipc_mem_clone, DIPC_EINVAL, "a clone's clone past the clone's end", chk_dipc_mem_clone(c, 10, 41));
	dipc_mem_get(c, &ptr, NULL);
	ok(ptr == (unsigned char *)tc_ptr(f->m) + 100, "a clone points into its source");
	dipc_mem_detach(c);

	/* Two handles on one allocation: free through one, then the other. */
	dipc_mem *x = NULL, *y = NULL;
	dipc_pool_alloc(f->q, 256, &x);
	dipc_mem_clone(x, 0, 256, &y);
	ROW(dipc_mem_free, 0, "the first free", dipc_mem_free(x));
	ROW(dipc_mem_free, DIPC_EINVAL, "a second handle on a freed allocation (no double free)",
	    dipc_mem_free(y));
	dipc_pool_alloc(f->q, 256, &x);
	dipc_mem_clone(x, 0, 16, &y);
	dipc_mem_free(x);
	ROW(dipc_mem_detach, 0, "a handle whose allocation was freed through another",
	    dipc_mem_detach(y));
	struct dipc_pool_stats st;
	dipc_pool_stats(f->q, &st);
	is_int(st.nallocs, 0, "the freed allocations are free once");
}

/* ---- ids, attributes, blocks ------------------------------------------------------ */

static void rows_ids(struct fx *f)
{
	struct dipc_pool_attr pa;
	struct dipc_block_info bi[2];
	uint64_t id = 0;
	ROW(dipc_pool_get_attr, DIPC_EINVAL, "NULL pool and NULL attributes",
	    dipc_pool_get_attr(NULL, NULL));
	ROW(dipc_pool_get_attr, 0, "a live pool", dipc_pool_get_attr(f->p, &pa));
	ROW(dipc_pool_blocks, DIPC_EINVAL, "NULL array with room SIZE_MAX",
	    dipc_pool_blocks(f->p, NULL, SIZE_MAX));
	ROW(dipc_pool_blocks, DIPC_EINVAL, "NULL pool", dipc_pool_blocks(NULL, bi, 2));
	ROW(dipc_pool_blocks, DIPC_EINVAL, "a pool handle of the wrong kind",
	    dipc_pool_blocks((dipc_pool *)f->m, bi, 2));
	ROW(dipc_mem_id, DIPC_EINVAL, "NULL handle", chk_dipc_mem_id(NULL));
	ROW(dipc_mem_id, DIPC_EINVAL, "NULL output", dipc_mem_id(f->m, NULL));
	ROW(dipc_mem_id, 0, "a live allocation", dipc_mem_id(f->m, &id));
	ROW(dipc_mem_from_id, 0, "the id just read", chk_dipc_mem_from_id(f->p, id));
	ROW(dipc_mem_from_id, DIPC_ENOENT, "that id in another pool", chk_dipc_mem_from_id(f->q, id));
	ROW(dipc_mem_from_id, DIPC_ENOENT, "id 0", chk_dipc_mem_from_id(f->p, 0));
	ROW(dipc_mem_from_id, DIPC_ENOENT, "id 2^64 - 1", chk_dipc_mem_from_id(f->p, UINT64_MAX));
	ROW(dipc_mem_from_id, DIPC_ENOENT, "the id with another serial",
	    chk_dipc_mem_from_id(f->p, id + ((uint64_t)1 << 40)));
	ROW(dipc_mem_from_id, DIPC_EINVAL, "NULL pool", chk_dipc_mem_from_id(NULL, id));
	ROW(dipc_mem_from_id, DIPC_EINVAL, "NULL output", dipc_mem_from_id(f->p, id, NULL));
	/* Every block start of the heap that is not an allocation. */
	int found = 0, wrong = 0;
	for (uint64_t i = 0; i < f->st.total / 64; i++) {
		int rc = chk_dipc_mem_from_id(f->p, i + 1);
		found += rc == 0;
		wrong += rc != 0 && rc != DIPC_ENOENT;
	}
	ok(found <= 3 && wrong == 0, "ids of serial 0 at every block: %d found, %d odd codes",
	   found, wrong);
	dipc_mem *x = NULL;
	uint64_t xid = 0;
	dipc_pool_alloc(f->q, 100, &x);
	dipc_mem_id(x, &xid);
	dipc_mem_free(x);
	ROW(dipc_mem_from_id, DIPC_ENOENT, "the id of a freed allocation",
	    chk_dipc_mem_from_id(f->q, xid));
	dipc_pool_alloc(f->q, 100, &x);
	ROW(dipc_mem_from_id, DIPC_ENOENT, "the id of a freed allocation, its block reused",
	    chk_dipc_mem_from_id(f->q, xid));
	dipc_mem_free(x);
}

/* ---- channels ----------------------------------------------------------------- */

static void rows_channel(struct fx *f)
{
	unsigned char b[DIPC_SERIAL_MAX + 8];
	size_t n = (size_t)f->clen;
	struct dipc_channel_attr ca;
	uint64_t cuid = 0;
	dipc_pool *pp = SENTINEL;

	dipc_channel_attr_init(&ca);
	ca.block_size = UINT64_MAX;
	ROW(dipc_channel_create, DIPC_EINVAL, "block size 2^64 - 1", chk_dipc_channel_create(f->p, 9, &ca));
	dipc_channel_attr_init(&ca);
	ca.capacity = DIPC_CHANNEL_MAX_CAPACITY;
	ca.block_size = 1;
	ROW(dipc_channel_create, DIPC_ENOSPC, "the largest capacity in a 1 MiB pool",
	    chk_dipc_channel_create(f->p, 9, &ca));
	dipc_channel_attr_init(&ca);
	ca.reserved[5] = UINT64_MAX;
	ROW(dipc_channel_create, DIPC_EINVAL, "last reserved word set", chk_dipc_channel_create(f->p, 9, &ca));
	ROW(dipc_channel_create, DIPC_EEXIST, "cuid of a live channel", chk_dipc_channel_create(f->p, 1, NULL));
	ROW(dipc_channel_create, 0, "cuid of a destroyed channel can be used again",
	    chk_dipc_channel_create(f->p, 2, NULL));

	ROW(dipc_channel_serialize, DIPC_EINVAL, "NULL buffer with length SIZE_MAX",
	    dipc_channel_serialize(f->ch, NULL, SIZE_MAX));
	ROW(dipc_channel_serialize, f->clen, "into a misaligned buffer",
	    dipc_channel_serialize(f->ch, b + 5, sizeof(b) - 5));
	ROW(dipc_channel_attach, 0, "from a misaligned copy", chk_dipc_channel_attach(b + 5, n, NULL));
	ROW(dipc_channel_attach, DIPC_ENOENT, "descriptor of a destroyed channel (own pool)",
	    chk_dipc_channel_attach(f->dead_cdesc, n, NULL));
	ROW(dipc_channel_attach, DIPC_EINVAL, "NULL descriptor, length SIZE_MAX",
	    chk_dipc_channel_attach(NULL, SIZE_MAX, f->p));

	static const struct { int at; uint64_t v; int rel; int want; const char *what; } forge[] = {
		{ C_OFF, 8, 1, DIPC_ENOENT, "header offset off by 8 (misaligned)" },
		{ C_OFF, 1, 1, DIPC_ENOENT, "header offset off by 1" },
		{ C_OFF, 0, 0, DIPC_ENOENT, "header offset 0" },
		{ C_OFF, UINT64_MAX - 63, 0, DIPC_ENOENT, "header offset near 2^64" },
		{ C_OFF, (uint64_t)1 << 40, 0, DIPC_ENOENT, "header offset far past the pool" },
		{ C_CUID, 1000, 0, DIPC_ENOENT, "another cuid" },
		{ C_NONCE, 1, 1, DIPC_ENOENT, "another nonce (a channel made anew)" },
	};
	for (size_t i = 0; i < sizeof(forge) / sizeof(forge[0]); i++) {
		memcpy(b, f->cdesc, n);
		uint64_t v = forge[i].rel ? get64(b + forge[i].at) + forge[i].v : forge[i].v;
		put64(b + forge[i].at, v);
		ROW(dipc_channel_attach, forge[i].want, forge[i].what, chk_dipc_channel_attach(b, n, f->p));
	}
	memcpy(b, f->cdesc, n);
	memcpy(b + C_POOL, f->dead_pdesc, (size_t)f->plen);
	ROW(dipc_channel_attach, DIPC_ENOENT, "inside a destroyed pool", chk_dipc_channel_attach(b, n, NULL));
	ROW(dipc_channel_attach, DIPC_EINVAL, "the right channel, a pool not its own",
	    chk_dipc_channel_attach(f->cdesc, n, f->q));
	memcpy(b, f->cdesc, n);
	b[C_POOL + P_NAMELEN] = 4;
	memcpy(b + C_POOL + P_NAME, "../x", 4);
	ROW(dipc_channel_attach, DIPC_EINVAL, "its pool named \"../x\"", chk_dipc_channel_attach(b, n, NULL));

	/* A channel header forged inside an ordinary allocation: the
	 * descriptor points at memory a process may write. */
	unsigned char *data = tc_ptr(f->m);
	uint64_t mblk = get64(f->mdesc + M_BLK);
	/* The channel ABI, as a live descriptor carries it. */
	uint32_t abi = (uint32_t)(get64(f->cdesc) >> 32);
	struct { uint64_t live, cuid; uint32_t abi, pad; uint64_t cap, bs, slot, nonce; } fake = {
		0x4e41484343504944ull ^ 77, 77, abi, 0, (uint64_t)1 << 20, 1024, 64 + 1024, 42,
	};
	memcpy(b, f->cdesc, n);
	put64(b + C_CUID, 77);
	put64(b + C_OFF, mblk + 64);
	put64(b + C_NONCE, 42);
	memcpy(data, &fake, sizeof(fake));
	ROW(dipc_channel_attach, DIPC_ECORRUPT, "forged header: slots beyond its block",
	    chk_dipc_channel_attach(b, n, f->p));
	fake.cap = 2;
	fake.slot = 64;
	memcpy(data, &fake, sizeof(fake));
	ROW(dipc_channel_attach, DIPC_ECORRUPT, "forged header: slot size not its block size's",
	    chk_dipc_channel_attach(b, n, f->p));
	fake.slot = 64 + 1024;
	fake.abi = 99;
	memcpy(data, &fake, sizeof(fake));
	ROW(dipc_channel_attach, DIPC_EVERSION, "forged header: another ABI",
	    chk_dipc_channel_attach(b, n, f->p));
	fake.abi = abi;
	fake.bs = 0;
	memcpy(data, &fake, sizeof(fake));
	ROW(dipc_channel_attach, DIPC_ECORRUPT, "forged header: block size 0",
	    chk_dipc_channel_attach(b, n, f->p));
	memset(data, 0, sizeof(fake));
	ROW(dipc_channel_attach, DIPC_ENOENT, "an allocation that holds no channel",
	    chk_dipc_channel_attach(b, n, f->p));

	/* A channel destroyed through another handle. */
	ROW(dipc_channel_count, DIPC_EDESTROYED, "destroyed elsewhere", dipc_channel_count(f->dead));
	ROW(dipc_channel_capacity, DIPC_CHANNEL_DEFAULT_CAPACITY,
	    "destroyed elsewhere: the handle still knows its geometry", dipc_channel_capacity(f->dead));
	ROW(dipc_channel_capacity, DIPC_EINVAL, "NULL", dipc_channel_capacity(NULL));
	ROW(dipc_channel_block_size, DIPC_CHANNEL_DEFAULT_BLOCK_SIZE,
	    "destroyed elsewhere: the handle still knows its geometry", dipc_channel_block_size(f->dead));
	ROW(dipc_channel_block_size, DIPC_EINVAL, "NULL", dipc_channel_block_size(NULL));
	ROW(dipc_channel_cuid, 0, "destroyed elsewhere (the handle's id)",
	    dipc_channel_cuid(f->dead, &cuid) + (cuid != 2));
	ROW(dipc_channel_pool, 0, "destroyed elsewhere (the handle's pool)",
	    dipc_channel_pool(f->dead, &pp) + (pp != f->p));
	ROW(dipc_channel_poll, DIPC_EDESTROYED, "destroyed elsewhere, timeout INT64_MAX",
	    dipc_channel_poll(f->dead, DIPC_POLL_READABLE, INT64_MAX));
	ROW(dipc_channel_poll, DIPC_EINVAL, "events INT_MIN", dipc_channel_poll(f->ch, INT_MIN, 0));
	ROW(dipc_channel_poll, DIPC_EINVAL, "events -1", dipc_channel_poll(f->ch, -1, 0));
	ROW(dipc_channel_poll, DIPC_ETIMEDOUT, "full on an empty channel, 1 ms",
	    dipc_channel_poll(f->ch, DIPC_POLL_FULL, 1000000));
	ROW(dipc_channel_poll, DIPC_POLL_WRITABLE | DIPC_POLL_EMPTY,
	    "everything asked, timeout INT64_MAX (no overflow)",
	    dipc_channel_poll(f->ch, 0xf, INT64_MAX));
	ROW(dipc_channel_destroy, DIPC_EBUSY, "while send and receive handles exist",
	    dipc_channel_destroy(f->dead));
	ROW(dipc_channel_detach, DIPC_EBUSY, "while send and receive handles exist",
	    dipc_channel_detach(f->ch));

	dipc_channel *again = NULL;
	dipc_channel_attach(f->cdesc, n, f->p, &again);
	dipc_channel *c3 = NULL, *c3b = NULL;
	unsigned char d3[DIPC_SERIAL_MAX];
	dipc_channel_create(f->p, 3, NULL, &c3);
	dipc_channel_serialize(c3, d3, sizeof(d3));
	dipc_channel_attach(d3, n, NULL, &c3b);
	dipc_channel_destroy(c3);
	ROW(dipc_channel_destroy, DIPC_EDESTROYED, "a second handle after the first destroyed it",
	    dipc_channel_destroy(c3b));
	ROW(dipc_channel_detach, 0, "a second handle on a live channel", dipc_channel_detach(again));
}

/* ---- barriers and channel sets ----------------------------------------------- */

static void rows_chanset(struct fx *f)
{
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = 2;
	a.block_size = 8;
	dipc_channel *bc = NULL, *tiny = NULL;
	if (dipc_channel_create(f->p, 40, &a, &bc))
		stop("cannot create the barrier channel");
	a.block_size = 3;
	if (dipc_channel_create(f->p, 41, &a, &tiny))
		stop("cannot create the small-block channel");

	ROW(dipc_channel_blocked_receivers, DIPC_EINVAL, "NULL",
	    dipc_channel_blocked_receivers(NULL));
	ROW(dipc_channel_blocked_receivers, DIPC_EDESTROYED, "destroyed elsewhere",
	    dipc_channel_blocked_receivers(f->dead));
	ROW(dipc_channel_blocked_receivers, 0, "nobody waits", dipc_channel_blocked_receivers(bc));

	ROW(dipc_channel_barrier, DIPC_EINVAL, "NULL", dipc_channel_barrier(NULL, DIPC_BARRIER_WAIT, 0));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "op 0", dipc_channel_barrier(bc, 0, 0));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "op INT_MAX", dipc_channel_barrier(bc, INT_MAX, 0));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "op INT_MIN", dipc_channel_barrier(bc, INT_MIN, 0));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "timeout -2",
	    dipc_channel_barrier(bc, DIPC_BARRIER_WAIT, -2));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "timeout INT64_MIN",
	    dipc_channel_barrier(bc, DIPC_BARRIER_RELEASE, INT64_MIN));
	ROW(dipc_channel_barrier, DIPC_EINVAL, "blocks too small for a release message",
	    dipc_channel_barrier(tiny, DIPC_BARRIER_WAIT, 0));
	ROW(dipc_channel_barrier, DIPC_EDESTROYED, "destroyed elsewhere, timeout INT64_MAX",
	    dipc_channel_barrier(f->dead, DIPC_BARRIER_WAIT, INT64_MAX));
	ROW(dipc_channel_barrier, 0, "a release with nobody counted, timeout INT64_MAX",
	    dipc_channel_barrier(bc, DIPC_BARRIER_RELEASE, INT64_MAX));
	ROW(dipc_channel_barrier, 0, "abort with nobody counted",
	    dipc_channel_barrier(bc, DIPC_BARRIER_ABORT, 0));
	ROW(dipc_channel_barrier, DIPC_EBROKEN, "a wait on the broken barrier, timeout INT64_MAX",
	    dipc_channel_barrier(bc, DIPC_BARRIER_WAIT, INT64_MAX));
	ROW(dipc_channel_barrier, 0, "reset with nobody counted",
	    dipc_channel_barrier(bc, DIPC_BARRIER_RESET, 0));
	ROW(dipc_channel_barrier_count, DIPC_EINVAL, "NULL", dipc_channel_barrier_count(NULL));
	ROW(dipc_channel_barrier_count, DIPC_EDESTROYED, "destroyed elsewhere",
	    dipc_channel_barrier_count(f->dead));
	ROW(dipc_channel_barrier_count, 0, "after the reset", dipc_channel_barrier_count(bc));
	ROW(dipc_channel_barrier_broken, DIPC_EINVAL, "NULL", dipc_channel_barrier_broken(NULL));
	ROW(dipc_channel_barrier_broken, DIPC_EDESTROYED, "destroyed elsewhere",
	    dipc_channel_barrier_broken(f->dead));
	ROW(dipc_channel_barrier_broken, 0, "after the reset", dipc_channel_barrier_broken(bc));

	dipc_channelset *set = SENTINEL;
	dipc_channel *one[1] = { bc }, *with_null[2] = { bc, NULL };
	dipc_channel *with_dead[2] = { bc, f->dead };
	ROW(dipc_channelset_create, DIPC_EINVAL, "pool NULL",
	    dipc_channelset_create(NULL, one, 1, DIPC_POLL_READABLE, &set) +
	    (set != NULL ? E_OUT_LEFT : 0));
	ROW(dipc_channelset_create, DIPC_EINVAL, "channels NULL",
	    dipc_channelset_create(f->p, NULL, 1, DIPC_POLL_READABLE, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "n 0", dipc_channelset_create(f->p, one, 0,
	    DIPC_POLL_READABLE, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "n SIZE_MAX (beyond the array too)",
	    dipc_channelset_create(f->p, one, SIZE_MAX, DIPC_POLL_READABLE, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "a NULL channel in the array",
	    dipc_channelset_create(f->p, with_null, 2, DIPC_POLL_READABLE, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "events 0",
	    dipc_channelset_create(f->p, one, 1, 0, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "events INT_MIN",
	    dipc_channelset_create(f->p, one, 1, INT_MIN, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "events DIPC_POLL_DESTROYED (output only)",
	    dipc_channelset_create(f->p, one, 1, DIPC_POLL_DESTROYED, &set));
	ROW(dipc_channelset_create, DIPC_EINVAL, "set NULL",
	    dipc_channelset_create(f->p, one, 1, DIPC_POLL_READABLE, NULL));
	ROW(dipc_channelset_create, DIPC_EDESTROYED, "a channel destroyed elsewhere",
	    dipc_channelset_create(f->p, with_dead, 2, DIPC_POLL_READABLE, &set) +
	    (set != NULL ? E_OUT_LEFT : 0));
	ROW(dipc_channelset_create, 0, "the bell in another pool than the channel's",
	    dipc_channelset_create(f->q, one, 1, DIPC_POLL_READABLE | DIPC_POLL_WRITABLE, &set));
	struct dipc_channelset_event ev[2];
	ROW(dipc_channelset_poll, DIPC_EINVAL, "NULL", dipc_channelset_poll(NULL, ev, 2, 0));
	ROW(dipc_channelset_poll, DIPC_EINVAL, "ev NULL", dipc_channelset_poll(set, NULL, 2, 0));
	ROW(dipc_channelset_poll, DIPC_EINVAL, "max 0", dipc_channelset_poll(set, ev, 0, 0));
	ROW(dipc_channelset_poll, DIPC_EINVAL, "timeout -2", dipc_channelset_poll(set, ev, 2, -2));
	ROW(dipc_channelset_poll, 1, "max SIZE_MAX, timeout INT64_MAX (writable at once)",
	    dipc_channelset_poll(set, ev, SIZE_MAX, INT64_MAX));
	ROW(dipc_channel_detach, DIPC_EBUSY, "while a channel set watches through it",
	    dipc_channel_detach(bc));
	ROW(dipc_channel_destroy, DIPC_EBUSY, "while a channel set watches through it",
	    dipc_channel_destroy(bc));
	ROW(dipc_channelset_destroy, DIPC_EINVAL, "NULL", dipc_channelset_destroy(NULL));
	ROW(dipc_channelset_destroy, 0, "a live set", dipc_channelset_destroy(set));
	ROW(dipc_channelset_destroy, DIPC_EINVAL, "the same set again (stale)",
	    dipc_channelset_destroy(set));
	ROW(dipc_channelset_poll, DIPC_EINVAL, "a destroyed set (stale)",
	    dipc_channelset_poll(set, ev, 2, 0));

	/* A channel's pool handle detached under a set (a misuse): polls
	 * see the channel gone, destroy still works. */
	dipc_pool *p2 = NULL, *p3 = NULL;
	dipc_channel *bc2 = NULL;
	unsigned char cd[DIPC_SERIAL_MAX];
	int cn = dipc_channel_serialize(bc, cd, sizeof(cd));
	if (dipc_pool_attach(f->pdesc, (size_t)f->plen, &p2) ||
	    dipc_pool_attach(f->pdesc, (size_t)f->plen, &p3) ||
	    dipc_channel_attach(cd, (size_t)cn, p2, &bc2) ||
	    dipc_channelset_create(p3, &bc2, 1, DIPC_POLL_WRITABLE, &set))
		stop("cannot set up the set over detached pools");
	dipc_pool_detach(p2);
	ROW(dipc_channelset_poll, 1, "its channel's pool handle detached: reported destroyed",
	    dipc_channelset_poll(set, ev, 2, 0) + (ev[0].revents != DIPC_POLL_DESTROYED ? 100 : 0));
	ROW(dipc_channelset_destroy, 0, "with its channel's pool handle detached",
	    dipc_channelset_destroy(set));
	dipc_channel_detach(bc2);
	dipc_pool_detach(p3);

	dipc_channel_destroy(tiny);
	dipc_channel_destroy(bc);
}

/* ---- handles and messages ------------------------------------------------------ */

static void rows_handles(struct fx *f)
{
	struct dipc_handle_attr ha;
	unsigned char buf[64 + 8];
	size_t len = 0;

	dipc_handle_attr_init(&ha);
	ha.wait_mode = INT32_MAX;
	ROW(dipc_sendh_create, DIPC_EINVAL, "wait mode INT32_MAX", chk_dipc_sendh_create(f->ch, &ha));
	ha.wait_mode = INT32_MIN;
	ROW(dipc_recvh_create, DIPC_EINVAL, "wait mode INT32_MIN", chk_dipc_recvh_create(f->ch, &ha));
	dipc_handle_attr_init(&ha);
	ha.default_timeout = INT64_MIN;
	ROW(dipc_sendh_create, DIPC_EINVAL, "default timeout INT64_MIN", chk_dipc_sendh_create(f->ch, &ha));
	ROW(dipc_recvh_create, DIPC_EINVAL, "default timeout INT64_MIN", chk_dipc_recvh_create(f->ch, &ha));
	ha.default_timeout = INT64_MAX;
	ROW(dipc_sendh_create, 0, "default timeout INT64_MAX is valid", chk_dipc_sendh_create(f->ch, &ha));

	/* On a channel another handle destroyed. */
	dipc_sendh *s = NULL;
	dipc_recvh *r = NULL;
	dipc_sendh_create(f->dead, NULL, &s);
	dipc_recvh_create(f->dead, NULL, &r);
	ROW(dipc_sendh_open, DIPC_EDESTROYED, "on a destroyed channel", dipc_sendh_open(s));
	ROW(dipc_recvh_open, DIPC_EDESTROYED, "on a destroyed channel", dipc_recvh_open(r));
	ROW(dipc_sendh_close, DIPC_ENOTOPEN, "never opened", dipc_sendh_close(s));
	ROW(dipc_recvh_close, DIPC_ENOTOPEN, "never opened", dipc_recvh_close(r));
	ROW(dipc_sendh_destroy, 0, "never opened, channel destroyed", dipc_sendh_destroy(s));
	ROW(dipc_recvh_destroy, 0, "never opened, channel destroyed", dipc_recvh_destroy(r));
	ROW(dipc_sendh_destroy, DIPC_EINVAL, "NULL", dipc_sendh_destroy(NULL));
	ROW(dipc_recvh_destroy, DIPC_EINVAL, "NULL", dipc_recvh_destroy(NULL));
	ROW(dipc_sendh_send_bytes, DIPC_EDESTROYED, "opened before the channel was destroyed",
	    dipc_sendh_send_bytes(f->dead_sh, "x", 1, DIPC_WAIT_FOREVER));
	ROW(dipc_sendh_send_bytes, DIPC_EDESTROYED, "destroyed, payload larger than a block",
	    dipc_sendh_send_bytes(f->dead_sh, tc_ptr(f->m), 4096, 0));
	ROW(dipc_recvh_recv_bytes, DIPC_EDESTROYED, "opened before the channel was destroyed",
	    dipc_recvh_recv_bytes(f->dead_rh, buf, sizeof(buf), &len, INT64_MAX));

	ROW(dipc_sendh_send_bytes, DIPC_ENOSPC, "length SIZE_MAX (never read)",
	    dipc_sendh_send_bytes(f->sh, buf, SIZE_MAX, 0));
	ROW(dipc_sendh_send_bytes, DIPC_ENOSPC, "length past the pool (never read)",
	    dipc_sendh_send_bytes(f->sh, buf, (size_t)1 << 40, 0));
	ROW(dipc_sendh_send_bytes, DIPC_EINVAL, "timeout INT64_MIN",
	    dipc_sendh_send_bytes(f->sh, buf, 1, INT64_MIN));
	memcpy(buf + 1, "misaligned", 11);
	ROW(dipc_sendh_send_bytes, 0, "from a misaligned buffer",
	    dipc_sendh_send_bytes(f->sh, buf + 1, 11, INT64_MAX));
	ROW(dipc_recvh_recv_bytes, DIPC_EMSGSIZE, "NULL buffer of capacity 0 (size reported)",
	    dipc_recvh_recv_bytes(f->rh, NULL, 0, &len, 0) + (len != 11));
	ROW(dipc_recvh_recv_bytes, DIPC_EMSGSIZE, "capacity one short",
	    dipc_recvh_recv_bytes(f->rh, buf, 10, &len, 0));
	ROW(dipc_recvh_recv_bytes, 0, "into a misaligned buffer, timeout INT64_MAX",
	    dipc_recvh_recv_bytes(f->rh, buf + 3, 11, &len, INT64_MAX) +
	    (memcmp(buf + 3, "misaligned", 11) != 0));
	ROW(dipc_recvh_recv_bytes, DIPC_ETIMEDOUT, "empty, timeout 1 ns",
	    dipc_recvh_recv_bytes(f->rh, buf, sizeof(buf), &len, 1));
	ROW(dipc_recvh_recv_bytes, DIPC_EINVAL, "timeout INT64_MIN",
	    dipc_recvh_recv_bytes(f->rh, buf, sizeof(buf), &len, INT64_MIN));

	/* Messages. */
	dipc_msg *big = NULL, *small = NULL, *empty = NULL, *other = NULL, *x = NULL;
	dipc_msg_create_alloc(f->p, 200, &big);
	dipc_msg_create_alloc(f->p, 100, &small);
	dipc_msg_create_alloc(f->q, 300, &other);
	dipc_msg_create_empty(&empty);
	ROW(dipc_msg_create_empty, DIPC_EINVAL, "NULL out", dipc_msg_create_empty(NULL));
	ROW(dipc_msg_create_alloc, DIPC_ENOSPC, "one byte more than the pool holds",
	    chk_dipc_msg_create_alloc(f->p, (size_t)f->st.total + 1));
	ROW(dipc_msg_create_alloc, DIPC_EINVAL, "NULL pool and size SIZE_MAX",
	    chk_dipc_msg_create_alloc(NULL, SIZE_MAX));
	ROW(dipc_msg_create_from_mem, DIPC_EINVAL, "NULL mem and NULL out",
	    dipc_msg_create_from_mem(NULL, NULL));
	void *ptr = SENTINEL;
	size_t sz = 99;
	ROW(dipc_msg_get, 0, "an empty message: NULL and 0",
	    dipc_msg_get(empty, &ptr, &sz) + (ptr != NULL) + (sz != 0));
	ROW(dipc_msg_get, 0, "both outputs NULL", dipc_msg_get(big, NULL, NULL));
	dipc_mem *mm = SENTINEL;
	ROW(dipc_msg_mem, DIPC_EINVAL, "an empty message", dipc_msg_mem(empty, &mm) + (mm != NULL));
	uint64_t av = 77;
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "NULL message", dipc_msg_set_attr(NULL, DIPC_MSG_HINTS, 1));
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "attribute -1", dipc_msg_set_attr(big, -1, 1));
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "attribute 2 (one past the last)",
	    dipc_msg_set_attr(big, DIPC_MSG_CLIENTID + 1, 1));
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "attribute INT_MAX", dipc_msg_set_attr(big, INT_MAX, 1));
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "a pool handle passed as a message",
	    dipc_msg_set_attr((dipc_msg *)(void *)f->p, DIPC_MSG_HINTS, 1));
	ROW(dipc_msg_set_attr, 0, "an empty message, UINT64_MAX",
	    dipc_msg_set_attr(empty, DIPC_MSG_CLIENTID, UINT64_MAX));
	ROW(dipc_msg_attr, 0, "an empty message keeps it",
	    dipc_msg_attr(empty, DIPC_MSG_CLIENTID, &av) + (av != UINT64_MAX));
	ROW(dipc_msg_attr, DIPC_EINVAL, "NULL value", dipc_msg_attr(big, DIPC_MSG_HINTS, NULL));
	av = 77;
	ROW(dipc_msg_attr, DIPC_EINVAL, "NULL message (value set to 0)",
	    dipc_msg_attr(NULL, DIPC_MSG_HINTS, &av) - (av != 0));
	av = 77;
	ROW(dipc_msg_attr, DIPC_EINVAL, "attribute INT_MIN (value set to 0)",
	    dipc_msg_attr(big, INT_MIN, &av) - (av != 0));

	ROW(dipc_sendh_send, DIPC_EINVAL, "ownership INT_MIN",
	    dipc_sendh_send(f->sh, big, NULL, INT_MIN, 0));
	ROW(dipc_sendh_send, DIPC_EINVAL, "timeout INT64_MIN",
	    dipc_sendh_send(f->sh, big, NULL, DIPC_COPY_ON_SEND, INT64_MIN));
	ROW(dipc_sendh_send, DIPC_EMSGSIZE, "into a destination smaller than the payload",
	    dipc_sendh_send(f->sh, big, small, DIPC_COPY_ON_SEND, 0));
	ROW(dipc_sendh_send, DIPC_EINVAL, "destination in another pool",
	    dipc_sendh_send(f->sh, small, other, DIPC_COPY_ON_SEND, 0));
	ROW(dipc_sendh_send, DIPC_EDESTROYED, "on a destroyed channel, transferring",
	    dipc_sendh_send(f->dead_sh, big, NULL, DIPC_TRANSFER_ON_SEND, INT64_MAX));
	sz = 0;
	dipc_msg_get(big, NULL, &sz);
	ok(sz == 200, "a refused transfer leaves the message its memory (%zu bytes)", sz);
	ROW(dipc_sendh_send, 0, "copy, timeout INT64_MAX",
	    dipc_sendh_send(f->sh, big, NULL, DIPC_COPY_ON_SEND, INT64_MAX));
	ROW(dipc_recvh_recv, DIPC_EMSGSIZE, "into an allocation too small (nothing taken)",
	    dipc_recvh_recv(f->rh, small, 0));
	ROW(dipc_channel_count, 1, "the message is still there", dipc_channel_count(f->ch));
	ROW(dipc_recvh_recv, DIPC_EINVAL, "timeout INT64_MIN", dipc_recvh_recv(f->rh, empty, INT64_MIN));
	ROW(dipc_recvh_recv, DIPC_EDESTROYED, "on a destroyed channel",
	    dipc_recvh_recv(f->dead_rh, empty, DIPC_WAIT_FOREVER));
	ROW(dipc_recvh_recv, 0, "into an empty message, timeout INT64_MAX",
	    dipc_recvh_recv(f->rh, empty, INT64_MAX));
	ROW(dipc_msg_destroy, 0, "free_mem INT_MIN (non-zero: frees)", dipc_msg_destroy(empty, INT_MIN));

	/* A message whose memory was freed through another handle. */
	dipc_mem *xm = NULL, *xc = NULL;
	dipc_pool_alloc(f->q, 64, &xm);
	dipc_mem_clone(xm, 0, 64, &xc);
	dipc_msg_create_from_mem(xc, &x);
	dipc_mem_free(xm);
	ROW(dipc_msg_destroy, DIPC_EINVAL, "its memory was freed elsewhere (no double free)",
	    dipc_msg_destroy(x, 1));
	dipc_msg_destroy(big, 1);
	dipc_msg_destroy(small, 1);
	dipc_msg_destroy(other, 1);
	ROW(dipc_sendh_close, 0, "an open handle", dipc_sendh_close(f->sh));
	ROW(dipc_sendh_close, DIPC_ENOTOPEN, "closed twice", dipc_sendh_close(f->sh));
	ROW(dipc_sendh_send_bytes, DIPC_ENOTOPEN, "after close", dipc_sendh_send_bytes(f->sh, "x", 1, 0));
	ROW(dipc_recvh_close, 0, "an open handle", dipc_recvh_close(f->rh));
	ROW(dipc_recvh_close, DIPC_ENOTOPEN, "closed twice", dipc_recvh_close(f->rh));
}

/* ---- stale handles ------------------------------------------------------------ */

/*
 * Every handle used again right after the call that freed it (free,
 * destroy, detach, close): the library keeps the handles it freed in a
 * quarantine (lib/handle.c), so each of these calls finds the handle
 * marked dead and fails with its code, without touching freed memory (the
 * run under AddressSanitizer and valgrind in .ci/sanitize shows that).
 * They run in a pool of their own, destroyed at the end.
 */
static int chk_dipc_pool_alloc(dipc_pool *pool, size_t size)
{
	dipc_mem *m = SENTINEL;
	int rc = dipc_pool_alloc(pool, size, &m);
	if (rc == 0) {
		dipc_mem_free(m);
		return 0;
	}
	return m ? E_OUT_LEFT : rc;
}

static void rows_stale(void)
{
	dipc_pool *sp = NULL;
	tc_pool_new("stale", 0x100000, &sp);
	if (!sp)
		stop("cannot create the pool for stale handles");
	unsigned char pd[DIPC_SERIAL_MAX], cd[DIPC_SERIAL_MAX], md[DIPC_SERIAL_MAX];
	int pl = dipc_pool_serialize(sp, pd, sizeof(pd));
	void *ptr = SENTINEL;
	size_t sz = 0;
	uint64_t cuid = 0;
	char buf[64];
	dipc_mem *m = NULL, *mm = NULL;

	/* Memory freed, then used again. */
	dipc_pool_alloc(sp, 128, &m);
	int ml = dipc_mem_serialize(m, md, sizeof(md));
	ROW(dipc_mem_free, 0, "a live allocation", dipc_mem_free(m));
	ROW(dipc_mem_free, DIPC_EINVAL, "the same handle again (double free)", dipc_mem_free(m));
	ROW(dipc_mem_detach, DIPC_EINVAL, "a handle already freed", dipc_mem_detach(m));
	ROW(dipc_mem_get, DIPC_EINVAL, "a handle already freed", dipc_mem_get(m, &ptr, &sz));
	ROW(dipc_mem_id, DIPC_EINVAL, "a handle already freed", chk_dipc_mem_id(m));
	ROW(dipc_mem_serialize, DIPC_EINVAL, "a handle already freed",
	    dipc_mem_serialize(m, md, sizeof(md)));
	ROW(dipc_mem_clone, DIPC_EINVAL, "a handle already freed", chk_dipc_mem_clone(m, 0, 1));
	ROW(dipc_msg_create_from_mem, DIPC_EINVAL, "a handle already freed",
	    dipc_msg_create_from_mem(m, &(dipc_msg *){ NULL }));
	ROW(dipc_mem_attach, DIPC_EINVAL, "the descriptor of the freed allocation",
	    chk_dipc_mem_attach(sp, md, (size_t)ml));
	dipc_pool_alloc(sp, 128, &m);
	ml = dipc_mem_serialize(m, md, sizeof(md));
	ROW(dipc_mem_detach, 0, "a live handle", dipc_mem_detach(m));
	ROW(dipc_mem_detach, DIPC_EINVAL, "the same handle again", dipc_mem_detach(m));
	ROW(dipc_mem_free, DIPC_EINVAL, "a handle already detached", dipc_mem_free(m));
	dipc_mem *back = NULL;
	int brc = dipc_mem_attach(sp, md, (size_t)ml, &back);
	ROW(dipc_mem_free, 0, "the detached allocation, through a handle from its descriptor",
	    brc ? brc : dipc_mem_free(back));

	/* A message's own memory handle is the message's. */
	dipc_msg *msg = NULL, *g = NULL;
	dipc_msg_create_alloc(sp, 64, &msg);
	dipc_msg_mem(msg, &mm);
	ROW(dipc_mem_free, DIPC_EINVAL, "the memory handle of a message (dipc_msg_mem)",
	    dipc_mem_free(mm));
	ROW(dipc_mem_detach, DIPC_EINVAL, "the memory handle of a message (dipc_msg_mem)",
	    dipc_mem_detach(mm));
	ROW(dipc_msg_create_from_mem, DIPC_EINVAL, "the memory handle of another message",
	    dipc_msg_create_from_mem(mm, &g));
	ROW(dipc_mem_get, 0, "the memory handle of a message still reads",
	    dipc_mem_get(mm, &ptr, &sz) + (sz != 64));
	ROW(dipc_msg_get, 0, "a message whose memory handle was refused a free",
	    dipc_msg_get(msg, &ptr, &sz) + (sz != 64));
	ROW(dipc_msg_destroy, 0, "a live message, freeing its memory", dipc_msg_destroy(msg, 1));
	ROW(dipc_msg_destroy, DIPC_EINVAL, "the same message again", dipc_msg_destroy(msg, 1));
	ROW(dipc_msg_destroy, DIPC_EINVAL, "the same message again, free_mem 0",
	    dipc_msg_destroy(msg, 0));
	ROW(dipc_msg_get, DIPC_EINVAL, "a destroyed message", dipc_msg_get(msg, &ptr, &sz));
	ROW(dipc_msg_set_attr, DIPC_EINVAL, "a destroyed message",
	    dipc_msg_set_attr(msg, DIPC_MSG_HINTS, 1));
	uint64_t dv = 5;
	ROW(dipc_msg_attr, DIPC_EINVAL, "a destroyed message (value set to 0)",
	    dipc_msg_attr(msg, DIPC_MSG_HINTS, &dv) - (dv != 0));
	ROW(dipc_msg_mem, DIPC_EINVAL, "a destroyed message", dipc_msg_mem(msg, &mm));
	ROW(dipc_mem_get, DIPC_EINVAL, "the memory handle of a destroyed message",
	    dipc_mem_get(mm, &ptr, &sz));
	ROW(dipc_mem_free, DIPC_EINVAL, "the memory handle of a destroyed message",
	    dipc_mem_free(mm));

	/* A handle given to dipc_msg_create_from_mem is the message's. */
	dipc_pool_alloc(sp, 96, &m);
	dipc_msg_create_from_mem(m, &msg);
	ml = dipc_mem_serialize(m, md, sizeof(md));
	ROW(dipc_mem_free, DIPC_EINVAL, "a handle given to dipc_msg_create_from_mem",
	    dipc_mem_free(m));
	ROW(dipc_mem_detach, DIPC_EINVAL, "a handle given to dipc_msg_create_from_mem",
	    dipc_mem_detach(m));
	ROW(dipc_msg_create_from_mem, DIPC_EINVAL, "a handle given to another message already",
	    dipc_msg_create_from_mem(m, &g));
	ROW(dipc_mem_clone, 0, "a handle given to a message can still be cloned",
	    chk_dipc_mem_clone(m, 0, 96));
	ROW(dipc_msg_destroy, 0, "the message of a given handle, keeping the memory",
	    dipc_msg_destroy(msg, 0));
	ROW(dipc_mem_free, DIPC_EINVAL, "a given handle after its message was destroyed",
	    dipc_mem_free(m));
	ROW(dipc_mem_serialize, DIPC_EINVAL, "a given handle after its message was destroyed",
	    dipc_mem_serialize(m, buf, sizeof(buf)));
	/* The memory was kept (free_mem 0): reach it by its descriptor. */
	brc = dipc_mem_attach(sp, md, (size_t)ml, &back);
	ROW(dipc_mem_free, 0, "the kept memory, through a handle made from its descriptor",
	    brc ? brc : dipc_mem_free(back));

	/* A message's memory handle after the message was sent by transfer. */
	dipc_channel *ch = NULL;
	dipc_sendh *sh = NULL;
	dipc_recvh *rh = NULL;
	if (dipc_channel_create(sp, 5, NULL, &ch) || dipc_sendh_create(ch, NULL, &sh) ||
	    dipc_sendh_open(sh) || dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		stop("cannot set up the channel for stale handles");
	dipc_msg_create_alloc(sp, 2000, &msg);
	dipc_msg_mem(msg, &mm);
	ROW(dipc_sendh_send, 0, "by transfer", dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, 0));
	ROW(dipc_mem_get, DIPC_EINVAL, "the memory handle of a message sent by transfer",
	    dipc_mem_get(mm, &ptr, &sz));
	ROW(dipc_mem_free, DIPC_EINVAL, "the memory handle of a message sent by transfer",
	    dipc_mem_free(mm));
	ROW(dipc_msg_destroy, 0, "a message sent by transfer (it has no memory now)",
	    dipc_msg_destroy(msg, 1));
	/* The receiver's message owns what came in the allocation. */
	dipc_msg_create_empty(&g);
	ROW(dipc_recvh_recv, 0, "the transferred message", dipc_recvh_recv(rh, g, 0));
	dipc_msg_mem(g, &mm);
	ROW(dipc_mem_free, DIPC_EINVAL, "the memory handle of a received message", dipc_mem_free(mm));
	ROW(dipc_mem_detach, DIPC_EINVAL, "the memory handle of a received message",
	    dipc_mem_detach(mm));
	ROW(dipc_msg_destroy, 0, "the received message, freeing its memory", dipc_msg_destroy(g, 1));
	ROW(dipc_mem_get, DIPC_EINVAL, "the memory handle of a destroyed received message",
	    dipc_mem_get(mm, &ptr, &sz));

	/* Messages destroyed, then sent or received into. */
	dipc_msg *dst = NULL;
	dipc_msg_create_alloc(sp, 64, &msg);
	dipc_msg_create_alloc(sp, 64, &dst);
	dipc_msg_destroy(msg, 1);
	dipc_msg_create_alloc(sp, 64, &g);
	ROW(dipc_sendh_send, DIPC_EINVAL, "a destroyed message",
	    dipc_sendh_send(sh, msg, NULL, DIPC_COPY_ON_SEND, 0));
	ROW(dipc_sendh_send, DIPC_EINVAL, "a destroyed message, by transfer",
	    dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, 0));
	dipc_msg_destroy(dst, 1);
	ROW(dipc_sendh_send, DIPC_EINVAL, "into a destroyed destination message",
	    dipc_sendh_send(sh, g, dst, DIPC_COPY_ON_SEND, 0));
	ROW(dipc_recvh_recv, DIPC_EINVAL, "into a destroyed message", dipc_recvh_recv(rh, msg, 0));
	ROW(dipc_channel_count, 0, "no refused send left a message", dipc_channel_count(ch));
	dipc_msg_destroy(g, 1);

	/* Send and receive handles destroyed, then used. */
	ROW(dipc_sendh_destroy, 0, "an open handle", dipc_sendh_destroy(sh));
	ROW(dipc_sendh_destroy, DIPC_EINVAL, "the same handle again", dipc_sendh_destroy(sh));
	ROW(dipc_sendh_open, DIPC_EINVAL, "a destroyed handle", dipc_sendh_open(sh));
	ROW(dipc_sendh_close, DIPC_EINVAL, "a destroyed handle", dipc_sendh_close(sh));
	ROW(dipc_sendh_send_bytes, DIPC_EINVAL, "a destroyed handle",
	    dipc_sendh_send_bytes(sh, "x", 1, 0));
	dipc_msg_create_alloc(sp, 64, &g);
	ROW(dipc_sendh_send, DIPC_EINVAL, "a destroyed handle",
	    dipc_sendh_send(sh, g, NULL, DIPC_COPY_ON_SEND, 0));
	ROW(dipc_recvh_destroy, 0, "an open handle", dipc_recvh_destroy(rh));
	ROW(dipc_recvh_destroy, DIPC_EINVAL, "the same handle again", dipc_recvh_destroy(rh));
	ROW(dipc_recvh_open, DIPC_EINVAL, "a destroyed handle", dipc_recvh_open(rh));
	ROW(dipc_recvh_close, DIPC_EINVAL, "a destroyed handle", dipc_recvh_close(rh));
	ROW(dipc_recvh_recv_bytes, DIPC_EINVAL, "a destroyed handle",
	    dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &sz, 0));
	ROW(dipc_recvh_recv, DIPC_EINVAL, "a destroyed handle", dipc_recvh_recv(rh, g, 0));
	dipc_msg_destroy(g, 1);

	/* Channels detached or destroyed, then used. */
	int cl = dipc_channel_serialize(ch, cd, sizeof(cd));
	dipc_channel *c2 = NULL;
	dipc_channel_attach(cd, (size_t)cl, sp, &c2);
	ROW(dipc_channel_detach, 0, "a second handle", dipc_channel_detach(c2));
	ROW(dipc_channel_detach, DIPC_EINVAL, "the same handle again", dipc_channel_detach(c2));
	ROW(dipc_channel_destroy, DIPC_EINVAL, "a detached handle", dipc_channel_destroy(c2));
	ROW(dipc_channel_serialize, DIPC_EINVAL, "a detached handle",
	    dipc_channel_serialize(c2, cd, sizeof(cd)));
	ROW(dipc_channel_count, DIPC_EINVAL, "a detached handle", dipc_channel_count(c2));
	ROW(dipc_channel_capacity, DIPC_EINVAL, "a detached handle", dipc_channel_capacity(c2));
	ROW(dipc_channel_block_size, DIPC_EINVAL, "a detached handle", dipc_channel_block_size(c2));
	ROW(dipc_channel_cuid, DIPC_EINVAL, "a detached handle", dipc_channel_cuid(c2, &cuid));
	ROW(dipc_channel_pool, DIPC_EINVAL, "a detached handle",
	    dipc_channel_pool(c2, &(dipc_pool *){ NULL }));
	ROW(dipc_channel_poll, DIPC_EINVAL, "a detached handle",
	    dipc_channel_poll(c2, DIPC_POLL_READABLE, 0));
	ROW(dipc_sendh_create, DIPC_EINVAL, "on a detached channel handle",
	    chk_dipc_sendh_create(c2, NULL));
	ROW(dipc_recvh_create, DIPC_EINVAL, "on a detached channel handle",
	    chk_dipc_recvh_create(c2, NULL));
	ROW(dipc_channel_attach, 0, "the channel lives on after a handle detached",
	    chk_dipc_channel_attach(cd, (size_t)cl, sp));
	/* A channel attached with its own pool takes that pool with it. */
	dipc_pool *own = NULL;
	dipc_channel_attach(cd, (size_t)cl, NULL, &c2);
	dipc_channel_pool(c2, &own);
	ROW(dipc_channel_detach, 0, "a handle attached with its own pool", dipc_channel_detach(c2));
	ROW(dipc_pool_stats, DIPC_EINVAL, "the own pool of a channel handle detached since",
	    dipc_pool_stats(own, &(struct dipc_pool_stats){ 0 }));
	ROW(dipc_pool_detach, DIPC_EINVAL, "the own pool of a channel handle detached since",
	    dipc_pool_detach(own));
	ROW(dipc_channel_destroy, 0, "the last handle", dipc_channel_destroy(ch));
	ROW(dipc_channel_destroy, DIPC_EINVAL, "the same handle again", dipc_channel_destroy(ch));
	ROW(dipc_channel_detach, DIPC_EINVAL, "a handle already destroyed", dipc_channel_detach(ch));
	ROW(dipc_channel_count, DIPC_EINVAL, "a handle already destroyed", dipc_channel_count(ch));

	/* A second pool handle detached, then used; its memory and channel
	 * handles are on a detached pool. */
	dipc_pool *z = NULL;
	dipc_mem *zm = NULL, *za = NULL;
	dipc_channel *zc = NULL;
	dipc_sendh *zs = NULL;
	dipc_recvh *zr = NULL;
	dipc_msg *zmsg = NULL;
	if (dipc_pool_attach(pd, (size_t)pl, &z) || dipc_pool_alloc(z, 200, &zm) ||
	    dipc_channel_create(z, 6, NULL, &zc) || dipc_sendh_create(zc, NULL, &zs) ||
	    dipc_sendh_open(zs) || dipc_recvh_create(zc, NULL, &zr) || dipc_recvh_open(zr) ||
	    dipc_msg_create_alloc(z, 32, &zmsg))
		stop("cannot set up the pool handle to detach");
	dipc_mem_clone(zm, 0, 100, &za);
	int zml = dipc_mem_serialize(zm, md, sizeof(md));
	ROW(dipc_pool_detach, 0, "a second handle with memory and a channel on it",
	    dipc_pool_detach(z));
	ROW(dipc_pool_detach, DIPC_EINVAL, "the same handle again", dipc_pool_detach(z));
	ROW(dipc_pool_destroy, DIPC_EINVAL, "a detached handle", dipc_pool_destroy(z));
	ROW(dipc_pool_attach_name, 0, "the pool survived the refused destroy",
	    chk_dipc_pool_attach_name(t_name("stale")));
	struct dipc_pool_stats st;
	ROW(dipc_pool_stats, DIPC_EINVAL, "a detached handle", dipc_pool_stats(z, &st));
	ROW(dipc_pool_serialize, DIPC_EINVAL, "a detached handle", dipc_pool_serialize(z, pd, sizeof(pd)));
	ROW(dipc_pool_alloc, DIPC_EINVAL, "a detached handle", chk_dipc_pool_alloc(z, 64));
	ROW(dipc_pool_alloc_wait, DIPC_EINVAL, "a detached handle",
	    chk_dipc_pool_alloc_wait(z, 64, DIPC_WAIT_FOREVER));
	ROW(dipc_pool_reclaim, DIPC_EINVAL, "a detached handle", dipc_pool_reclaim(z));
	ROW(dipc_pool_get_attr, DIPC_EINVAL, "a detached handle",
	    dipc_pool_get_attr(z, &(struct dipc_pool_attr){ 0 }));
	ROW(dipc_pool_blocks, DIPC_EINVAL, "a detached handle", dipc_pool_blocks(z, NULL, 0));
	ROW(dipc_mem_from_id, DIPC_EINVAL, "in a detached pool handle", chk_dipc_mem_from_id(z, 1));
	ROW(dipc_mem_id, DIPC_EINVAL, "a memory handle on a detached pool handle",
	    chk_dipc_mem_id(zm));
	ROW(dipc_mem_attach, DIPC_EINVAL, "into a detached pool handle",
	    chk_dipc_mem_attach(z, md, (size_t)zml));
	ROW(dipc_channel_create, DIPC_EINVAL, "in a detached pool handle",
	    chk_dipc_channel_create(z, 7, NULL));
	ROW(dipc_channel_attach, DIPC_EINVAL, "into a detached pool handle",
	    chk_dipc_channel_attach(cd, (size_t)cl, z));
	ROW(dipc_msg_create_alloc, DIPC_EINVAL, "in a detached pool handle",
	    chk_dipc_msg_create_alloc(z, 64));
	ROW(dipc_mem_get, DIPC_EINVAL, "memory of a detached pool handle", dipc_mem_get(zm, &ptr, &sz));
	ROW(dipc_mem_serialize, DIPC_EINVAL, "memory of a detached pool handle",
	    dipc_mem_serialize(zm, md, sizeof(md)));
	ROW(dipc_mem_clone, DIPC_EINVAL, "memory of a detached pool handle",
	    chk_dipc_mem_clone(zm, 0, 1));
	ROW(dipc_msg_create_from_mem, DIPC_EINVAL, "memory of a detached pool handle",
	    dipc_msg_create_from_mem(za, &g));
	ROW(dipc_msg_get, DIPC_EINVAL, "a message in a detached pool handle",
	    dipc_msg_get(zmsg, &ptr, &sz));
	ROW(dipc_msg_mem, DIPC_EINVAL, "a message in a detached pool handle", dipc_msg_mem(zmsg, &mm));
	ROW(dipc_mem_free, DIPC_EDESTROYED, "memory of a detached pool handle (the handle is freed)",
	    dipc_mem_free(zm));
	ROW(dipc_mem_free, DIPC_EINVAL, "and again", dipc_mem_free(zm));
	ROW(dipc_mem_detach, 0, "a clone on a detached pool handle", dipc_mem_detach(za));
	ROW(dipc_mem_detach, DIPC_EINVAL, "and again", dipc_mem_detach(za));
	ROW(dipc_msg_destroy, DIPC_EDESTROYED, "a message in a detached pool handle, free_mem 1",
	    dipc_msg_destroy(zmsg, 1));
	ROW(dipc_msg_destroy, DIPC_EINVAL, "and again", dipc_msg_destroy(zmsg, 1));
	ROW(dipc_channel_count, DIPC_EINVAL, "a channel of a detached pool handle",
	    dipc_channel_count(zc));
	ROW(dipc_channel_poll, DIPC_EINVAL, "a channel of a detached pool handle",
	    dipc_channel_poll(zc, DIPC_POLL_WRITABLE, DIPC_WAIT_FOREVER));
	ROW(dipc_channel_destroy, DIPC_EINVAL, "a channel of a detached pool handle",
	    dipc_channel_destroy(zc));
	ROW(dipc_sendh_open, DIPC_EINVAL, "on a channel of a detached pool handle", dipc_sendh_open(zs));
	ROW(dipc_sendh_send_bytes, DIPC_EINVAL, "on a channel of a detached pool handle",
	    dipc_sendh_send_bytes(zs, "x", 1, DIPC_WAIT_FOREVER));
	dipc_msg_create_alloc(sp, 64, &g);
	ROW(dipc_sendh_send, DIPC_EINVAL, "on a channel of a detached pool handle",
	    dipc_sendh_send(zs, g, NULL, DIPC_COPY_ON_SEND, DIPC_WAIT_FOREVER));
	ROW(dipc_recvh_open, DIPC_EINVAL, "on a channel of a detached pool handle", dipc_recvh_open(zr));
	ROW(dipc_recvh_recv_bytes, DIPC_EINVAL, "on a channel of a detached pool handle",
	    dipc_recvh_recv_bytes(zr, buf, sizeof(buf), &sz, DIPC_WAIT_FOREVER));
	ROW(dipc_recvh_recv, DIPC_EINVAL, "on a channel of a detached pool handle",
	    dipc_recvh_recv(zr, g, DIPC_WAIT_FOREVER));
	dipc_msg_destroy(g, 1);
	ROW(dipc_sendh_close, 0, "on a channel of a detached pool handle", dipc_sendh_close(zs));
	ROW(dipc_sendh_destroy, 0, "on a channel of a detached pool handle", dipc_sendh_destroy(zs));
	ROW(dipc_recvh_destroy, 0, "on a channel of a detached pool handle", dipc_recvh_destroy(zr));
	ROW(dipc_channel_detach, 0, "a channel of a detached pool handle", dipc_channel_detach(zc));

	/* A pool handle destroyed, then used. */
	dipc_pool *gone = NULL;
	tc_pool_new("gone2", 0x100000, &gone);
	if (!gone)
		stop("cannot create the pool to destroy");
	untrack(gone);
	ROW(dipc_pool_destroy, 0, "a live pool", dipc_pool_destroy(gone));
	ROW(dipc_pool_destroy, DIPC_EINVAL, "the same handle again", dipc_pool_destroy(gone));
	ROW(dipc_pool_detach, DIPC_EINVAL, "a destroyed handle", dipc_pool_detach(gone));
	ROW(dipc_pool_stats, DIPC_EINVAL, "a destroyed handle", dipc_pool_stats(gone, &st));
	ROW(dipc_pool_alloc, DIPC_EINVAL, "a destroyed handle", chk_dipc_pool_alloc(gone, 64));

	/* What is left in the pool: the channel zc made (never destroyed),
	 * the allocations of zm and zmsg (their pool handle was detached
	 * first: the memory stays in the pool, as dipc_mem_free(3) says).
	 * Nothing else: every refused call left the pool as it was. */
	dipc_pool_stats(sp, &st);
	ok(st.nallocs == 3 && st.nchannels == 1,
	   "stale handles: only what was left on purpose is in the pool "
	   "(%" PRIu64 " allocations, %" PRIu64 " channels)", st.nallocs, st.nchannels);
	tc_pool_del(sp);
}

/* ---- streams ------------------------------------------------------------------ */

struct cbstate {
	_Atomic uint64_t calls;
	int cleanup_rc, close_rc, listen_rc, read_rc;
	dipc_stream *s;
};

static void cb_bad_calls(dipc_stream *s, const void *data, size_t len, void *arg)
{
	struct cbstate *c = arg;
	char x;
	(void)data;
	if (len == 0 || atomic_load(&c->calls))
		return;
	c->cleanup_rc = dipc_cleanup();
	c->close_rc = dipc_stream_close(s);
	c->listen_rc = dipc_stream_listen(s, cb_bad_calls, arg);
	c->read_rc = (int)dipc_stream_read(s, &x, 1, DIPC_TRY_ONCE);
	atomic_store(&c->calls, 1);
}

static void rows_stream(void)
{
	const char *name = t_name("st");
	dipc_stream *r = NULL, *w = NULL;
	unsigned char buf[128];
	char line[256];

	ROW(dipc_stream_open, DIPC_EINVAL, "size SIZE_MAX",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, SIZE_MAX, 0));
	ROW(dipc_stream_open, DIPC_EINVAL, "perm UINT_MAX",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, 64, UINT_MAX));
	ROW(dipc_stream_open, DIPC_EINVAL, "perm with the sticky bit",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, 64, 01600));
	ROW(dipc_stream_open, DIPC_EINVAL, "perm with the bit above DIPC_SHARED",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, 64, 0600 | (DIPC_SHARED << 1)));
	ROW(dipc_stream_open, DIPC_EINVAL, "perm DIPC_SHARED with the sticky bit",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, 64, DIPC_SHARED | 01600));
	ROW(dipc_stream_open, DIPC_EINVAL, "role INT_MIN", chk_dipc_stream_open(name, INT_MIN, 64, 0));
	ROW(dipc_stream_open, DIPC_EINVAL, "name \"a/../b\"",
	    chk_dipc_stream_open("a/../b", DIPC_STREAM_READ, 64, 0));
	ROW(dipc_stream_unlink, DIPC_ENOENT, "no refused open left the name",
	    dipc_stream_unlink(name));
	if (dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r) ||
	    dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w))
		stop("cannot open the test stream");
	ROW(dipc_stream_open, DIPC_EBUSY, "a role this process holds",
	    chk_dipc_stream_open(name, DIPC_STREAM_READ, 64, 0));
	ROW(dipc_stream_open, DIPC_EBUSY, "the other role this process holds",
	    chk_dipc_stream_open(name, DIPC_STREAM_WRITE, 1, 0));

	ROW(dipc_stream_write, DIPC_EINVAL, "length SIZE_MAX (past INT64_MAX)",
	    dipc_stream_write(w, buf, SIZE_MAX, DIPC_TRY_ONCE));
	ROW(dipc_stream_write, DIPC_EINVAL, "length INT64_MAX + 1",
	    dipc_stream_write(w, buf, (size_t)INT64_MAX + 1, DIPC_WAIT_FOREVER));
	ROW(dipc_stream_write, DIPC_EINVAL, "timeout INT64_MIN", dipc_stream_write(w, buf, 1, INT64_MIN));
	memcpy(buf + 1, "odd bytes", 9);
	ROW(dipc_stream_write, 9, "from a misaligned buffer, timeout INT64_MAX",
	    dipc_stream_write(w, buf + 1, 9, INT64_MAX));
	ROW(dipc_stream_read, DIPC_EINVAL, "length SIZE_MAX (past INT64_MAX)",
	    dipc_stream_read(r, buf, SIZE_MAX, DIPC_TRY_ONCE));
	ROW(dipc_stream_read, DIPC_EINVAL, "timeout INT64_MIN", dipc_stream_read(r, buf, 1, INT64_MIN));
	ROW(dipc_stream_read, 9, "into a misaligned buffer, timeout INT64_MAX",
	    dipc_stream_read(r, buf + 7, 9, INT64_MAX) + (memcmp(buf + 7, "odd bytes", 9) != 0));
	ROW(dipc_stream_read, DIPC_ETIMEDOUT, "empty, timeout 1 ns", dipc_stream_read(r, buf, 1, 1));
	ROW(dipc_stream_status, DIPC_EINVAL, "NULL buffer with length SIZE_MAX",
	    dipc_stream_status(r, NULL, SIZE_MAX));
	int need = dipc_stream_status(r, NULL, 0);
	ROW(dipc_stream_status, need, "into a misaligned buffer",
	    dipc_stream_status(r, line + 1, sizeof(line) - 1));
	need = dipc_stream_status(w, NULL, 0);
	ROW(dipc_stream_status, need, "a buffer of one byte (gets the terminator only)",
	    dipc_stream_status(w, line, 1) + (line[0] != 0));
	ROW(dipc_stream_listen, DIPC_EINVAL, "on the writer", dipc_stream_listen(w, cb_bad_calls, NULL));
	ROW(dipc_stream_listen, DIPC_EINVAL, "NULL callback", dipc_stream_listen(r, NULL, NULL));
	ROW(dipc_stream_unlisten, DIPC_EINVAL, "no listener running", dipc_stream_unlisten(r));
	ROW(dipc_stream_unlisten, DIPC_EINVAL, "on the writer", dipc_stream_unlisten(w));
	ROW(dipc_stream_unlisten, DIPC_EINVAL, "NULL", dipc_stream_unlisten(NULL));

	/* Calls a listener's callback must not make. */
	struct cbstate cs = { 0 };
	ROW(dipc_stream_listen, 0, "a listener", dipc_stream_listen(r, cb_bad_calls, &cs));
	dipc_stream_write(w, "k", 1, DIPC_WAIT_FOREVER);
	if (tc_wait_flag(&cs.calls, 1, 10.0)) {
		ROW_KEPT(dipc_cleanup, DIPC_EBUSY, "from a listener's callback", cs.cleanup_rc);
		ROW_KEPT(dipc_stream_close, DIPC_EBUSY, "from its own listener's callback", cs.close_rc);
		ROW_KEPT(dipc_stream_listen, DIPC_EBUSY, "from its own listener's callback", cs.listen_rc);
		ROW_KEPT(dipc_stream_read, DIPC_EBUSY, "from its own listener's callback", cs.read_rc);
	} else {
		ok(0, "the listener's callback ran within 10 s");
		row_skip("dipc_cleanup", "no callback");
	}
	ROW(dipc_stream_read, DIPC_EBUSY, "while a listener runs", dipc_stream_read(r, buf, 1, 0));
	ROW(dipc_stream_unlisten, 0, "the listener", dipc_stream_unlisten(r));

	/* The name removed under open handles: they keep working. */
	ROW(dipc_stream_unlink, 0, "the name of an open stream", dipc_stream_unlink(name));
	ROW(dipc_stream_unlink, DIPC_ENOENT, "unlinked twice", dipc_stream_unlink(name));
	ROW(dipc_stream_write, 2, "after the name was removed", dipc_stream_write(w, "ab", 2, 0));
	ROW(dipc_stream_read, 2, "after the name was removed", dipc_stream_read(r, buf, 2, INT64_MAX));
	ROW(dipc_stream_unlink, DIPC_ENAMETOOLONG, "a name of 132 bytes",
	    dipc_stream_unlink("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	ROW(dipc_stream_unlink, DIPC_EINVAL, "name \".\"", dipc_stream_unlink("."));

	/* Handles closed by dipc_cleanup (kept, marked closed). */
	ROW(dipc_cleanup, 0, "with two streams open", dipc_cleanup());
	ROW(dipc_stream_print_status, DIPC_ENOTOPEN, "a handle closed by cleanup",
	    dipc_stream_print_status(r, stdout));
	ROW(dipc_stream_write, DIPC_ENOTOPEN, "a handle closed by cleanup",
	    dipc_stream_write(w, "x", 1, 0));
	ROW(dipc_stream_unlisten, DIPC_ENOTOPEN, "a handle closed by cleanup", dipc_stream_unlisten(r));
	ROW(dipc_stream_close, 0, "a handle closed by cleanup (frees it)", dipc_stream_close(r));
	ROW(dipc_stream_close, 0, "the other", dipc_stream_close(w));
	/* Used again after dipc_stream_close freed them (stale handles, see
	 * rows_stale): each call says the handle is not open. */
	ROW(dipc_stream_close, DIPC_ENOTOPEN, "a handle closed after cleanup, closed again",
	    dipc_stream_close(r));
	ROW(dipc_stream_write, DIPC_ENOTOPEN, "a handle freed by close after cleanup",
	    dipc_stream_write(w, "x", 1, 0));
	ROW(dipc_stream_status, DIPC_ENOTOPEN, "a handle freed by close after cleanup",
	    dipc_stream_status(r, line, sizeof(line)));
	if (dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r) ||
	    dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w))
		stop("cannot open the test stream again");
	ROW(dipc_stream_write, 1, "a stream opened anew", dipc_stream_write(w, "y", 1, 0));
	ROW(dipc_stream_close, 0, "the reader, with a byte unread", dipc_stream_close(r));
	ROW(dipc_stream_close, DIPC_ENOTOPEN, "the reader again (double close)", dipc_stream_close(r));
	ROW(dipc_stream_read, DIPC_ENOTOPEN, "a closed reader", dipc_stream_read(r, buf, 1, 0));
	ROW(dipc_stream_read, DIPC_ENOTOPEN, "a closed reader, timeout INT64_MAX",
	    dipc_stream_read(r, buf, 1, INT64_MAX));
	ROW(dipc_stream_listen, DIPC_ENOTOPEN, "a closed reader", dipc_stream_listen(r, cb_bad_calls, &cs));
	ROW(dipc_stream_unlisten, DIPC_ENOTOPEN, "a closed reader", dipc_stream_unlisten(r));
	ROW(dipc_stream_status, DIPC_ENOTOPEN, "a closed reader", dipc_stream_status(r, line, sizeof(line)));
	ROW(dipc_stream_print_status, DIPC_ENOTOPEN, "a closed reader",
	    dipc_stream_print_status(r, stdout));
	ROW(dipc_stream_close, 0, "the writer", dipc_stream_close(w));
	ROW(dipc_stream_close, DIPC_ENOTOPEN, "the writer again (double close)", dipc_stream_close(w));
	ROW(dipc_stream_write, DIPC_ENOTOPEN, "a closed writer", dipc_stream_write(w, "x", 1, 0));
	ROW(dipc_stream_write, DIPC_ENOTOPEN, "a closed writer, timeout INT64_MAX",
	    dipc_stream_write(w, "x", 1, INT64_MAX));
	ROW(dipc_stream_status, DIPC_ENOTOPEN, "a closed writer", dipc_stream_status(w, NULL, 0));
	ROW(dipc_stream_unlink, DIPC_ENOENT, "both sides closed: the name is gone",
	    dipc_stream_unlink(name));
	ROW(dipc_stream_print_status, DIPC_EINVAL, "NULL stream and NULL file",
	    dipc_stream_print_status(NULL, NULL));

#ifndef _WIN32
	/* Segments under a stream's name that are not streams. */
	char seg[96];
	const char *raw = t_name("rawst");
	unsigned char hdr[16];
	memset(hdr, 0xa5, sizeof(hdr));
	snprintf(seg, sizeof(seg), "dipc.s.%s", raw);
	if (raw_segment(seg, 4096, hdr, sizeof(hdr)) == 0) {
		ROW(dipc_stream_open, DIPC_ECORRUPT, "a segment of garbage under the name",
		    chk_dipc_stream_open(raw, DIPC_STREAM_READ, 64, 0));
		raw_unlink(seg);
	} else {
		row_skip("dipc_stream_open", "cannot make a raw segment");
	}
	put64(hdr, UINT64_C(0x314d525453435044));   /* the stream magic, version 9 */
	put64(hdr + 8, 9);
	if (raw_segment(seg, 4096, hdr, sizeof(hdr)) == 0) {
		ROW(dipc_stream_open, DIPC_EVERSION, "a stream segment of another version",
		    chk_dipc_stream_open(raw, DIPC_STREAM_WRITE, 64, 0));
		raw_unlink(seg);
	} else {
		row_skip("dipc_stream_open", "cannot make a raw segment");
	}
	ROW(dipc_stream_unlink, DIPC_ENOENT, "the raw segment is gone", dipc_stream_unlink(raw));
#endif
}

/* ---- coverage ------------------------------------------------------------------ */

/* The DIPC_API functions the header declares, read from the source tree
 * when it can be found; 0 names if not. */
static int header_names(char names[][40], int max)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	snprintf(path, sizeof(path), "%s/include/dragonipc.h", top ? top : "..");
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	static char text[1 << 17];
	size_t len = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[len] = 0;
	int n = 0;
	for (char *p = strstr(text, "DIPC_API "); p && n < max; p = strstr(p + 1, "DIPC_API ")) {
		if (p > text && p[-1] != '\n')
			continue;       /* the macro's definition, not a declaration */
		char *paren = strchr(p, '(');
		if (!paren)
			break;
		char *e = paren;
		while (e > p && e[-1] == ' ')
			e--;
		char *s = e;
		while (s > p && (s[-1] == '_' || (s[-1] >= 'a' && s[-1] <= 'z') ||
				 (s[-1] >= '0' && s[-1] <= '9')))
			s--;
		if (e - s > 0 && e - s < 40 && strncmp(s, "dipc_", 5) == 0) {
			memcpy(names[n], s, (size_t)(e - s));
			names[n][e - s] = 0;
			n++;
		}
	}
	return n;
}

static void check_coverage(void)
{
	static char names[128][40];
	int n = header_names(names, 128);
	if (n == 0) {
		skip(1, "the header is not readable from here");
	} else {
		int same = n == (int)NAPI;
		for (int i = 0; i < n; i++) {
			size_t j;
			for (j = 0; j < NAPI; j++)
				if (strcmp(names[i], api[j]) == 0)
					break;
			if (j == NAPI) {
				diag("%s is declared but not in this test's list", names[i]);
				same = 0;
			}
		}
		ok(same, "the test's list is the header's %d public functions", n);
	}
	int missing = 0, rows = 0;
	for (size_t i = 0; i < NAPI; i++) {
		rows += rows_of[i];
		if (rows_of[i] == 0) {
			diag("no row for %s", api[i]);
			missing++;
		}
	}
	ok(missing == 0, "every one of the %d public functions has rows (%d rows, %d without)",
	   (int)NAPI, rows, missing);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
#ifdef _WIN32
	skip(1, "no /dev/shm to count segments in (names are checked gone at the end)");
#else
	int before = count_ours();
	is_int(before, 0, "no segment of this run before the rows");
#endif
	struct fx f;
	rows_library();
	fx_setup(&f);
	rows_pool(&f);
	rows_mem(&f);
	rows_ids(&f);
	rows_channel(&f);
	rows_chanset(&f);
	rows_handles(&f);
	rows_stale();
	fx_teardown(&f);
	rows_stream();
	check_coverage();
#ifndef _WIN32
	is_int(count_ours(), before, "no segment left behind by the rows");
#endif
	return tc_finish();
}

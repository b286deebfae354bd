/*
 * stream_corrupt.c - a segment that fails validation gives an error on
 * open, never a wild access: garbage, a foreign version, sizes that do not
 * add up, cursors further apart than the ring, a header never finished, a
 * segment never sized.  The segments are made by hand with shm_open, so
 * this test is POSIX only.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include "stream.h"     /* the shared layout, to forge it */

#ifdef _WIN32
int t_child(const char *role, const char *arg)
{
	(void)role; (void)arg;
	return 0;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	skip_all("segments are forged with POSIX shm_open");
}
#else

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int t_child(const char *role, const char *arg)
{
	(void)role; (void)arg;
	return 0;
}

/* Make the stream's segment by hand: size bytes, filled by fn. */
static int forge(const char *name, size_t size, void (*fn)(unsigned char *, size_t))
{
	char path[128];
	snprintf(path, sizeof(path), "/dipc.s.%s", name);
	shm_unlink(path);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	if (size && ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	if (size && fn) {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return -1;
		}
		fn(p, size);
		munmap(p, size);
	}
	close(fd);
	return 0;
}

static void good(unsigned char *p, size_t size)
{
	struct dipc_stream_shm *h = (void *)p;
	h->version = DIPC_STREAM_VERSION;
	h->once_hdr_size = (uint32_t)DIPC_STREAM_HDR_SIZE;
	h->once_ring_size = size - DIPC_STREAM_HDR_SIZE;
	h->once_seg_size = size;
	atomic_store(&h->magic, DIPC_STREAM_MAGIC);
}

static void garbage(unsigned char *p, size_t size)
{
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

static void bad_version(unsigned char *p, size_t size)
{
	good(p, size);
	((struct dipc_stream_shm *)p)->version = 99;
}

static void ring_too_big(unsigned char *p, size_t size)
{
	good(p, size);
	struct dipc_stream_shm *h = (void *)p;
	h->once_ring_size = 1 << 20;
	h->once_seg_size = DIPC_STREAM_HDR_SIZE + h->once_ring_size;
}

static void zero_ring(unsigned char *p, size_t size)
{
	good(p, size);
	struct dipc_stream_shm *h = (void *)p;
	h->once_ring_size = 0;
	h->once_seg_size = DIPC_STREAM_HDR_SIZE;
}

static void bad_hdr(unsigned char *p, size_t size)
{
	good(p, size);
	((struct dipc_stream_shm *)p)->once_hdr_size = 8;
}

static void cursors_apart(unsigned char *p, size_t size)
{
	good(p, size);
	struct dipc_stream_shm *h = (void *)p;
	atomic_store(&h->wpos, (uint64_t)(size - DIPC_STREAM_HDR_SIZE) + 1);
}

static void cursors_crossed(unsigned char *p, size_t size)
{
	good(p, size);
	struct dipc_stream_shm *h = (void *)p;
	atomic_store(&h->rpos, 10);
	atomic_store(&h->wpos, 5);
}

/* Smaller than the header: only the magic fits. */
static void short_seg(unsigned char *p, size_t size)
{
	(void)size;
	atomic_store((_Atomic uint64_t *)(void *)p, DIPC_STREAM_MAGIC);
}

static void unfinished(unsigned char *p, size_t size)
{
	(void)p; (void)size;    /* all zero: magic never published */
}

static void check(const char *what, size_t size, void (*fn)(unsigned char *, size_t),
		  int want)
{
	const char *name = t_name(what);
	dipc_stream *s = NULL;
	if (forge(name, size, fn) != 0) {
		skip(2, "cannot forge a segment");
		return;
	}
	double t0 = t_now();
	int rc = dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &s);
	is_int(rc, want, "%s: refused", what);
	ok(s == NULL && t_now() - t0 < T_LONG_S, "%s: no handle, within bounded time", what);
	if (rc == 0)
		dipc_stream_close(s);
	dipc_stream_unlink(name);
}

/* Change a live segment behind the library's back. */
static int poke(const char *name, uint64_t rpos, uint64_t wpos)
{
	char path[128];
	snprintf(path, sizeof(path), "/dipc.s.%s", name);
	int fd = shm_open(path, O_RDWR, 0);
	if (fd < 0)
		return -1;
	void *p = mmap(NULL, DIPC_STREAM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	struct dipc_stream_shm *h = p;
	atomic_store(&h->rpos, rpos);
	atomic_store(&h->wpos, wpos);
	munmap(p, DIPC_STREAM_HDR_SIZE);
	return 0;
}

static void live_corruption(void)
{
	const char *name = t_name("live");
	dipc_stream *r, *w;
	char buf[256];
	memset(buf, 0, sizeof(buf));
	dipc_stream_open(name, DIPC_STREAM_READ, 100, 0, &r);
	dipc_stream_open(name, DIPC_STREAM_WRITE, 100, 0, &w);
	ok(poke(name, 0, 1000) == 0, "live: wpos moved 1000 past rpos");
	is_int(dipc_stream_read(r, buf, sizeof(buf), DIPC_TRY_ONCE), DIPC_ECORRUPT,
	       "live: the reader refuses to copy beyond the ring");
	poke(name, 0, 0);
	is_int(dipc_stream_write(w, buf, 100, DIPC_TRY_ONCE), 100, "live: the ring is filled");
	poke(name, 500, 100);
	is_int(dipc_stream_write(w, buf, 10, DIPC_TRY_ONCE), DIPC_ECORRUPT,
	       "live: the writer refuses an rpos beyond wpos");
	dipc_stream_close(w);
	dipc_stream_close(r);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(30);
	size_t seg = DIPC_STREAM_HDR_SIZE + 100;
	check("garbage", 4096, garbage, DIPC_ECORRUPT);
	check("version", seg, bad_version, DIPC_EVERSION);
	check("ringbig", seg, ring_too_big, DIPC_ECORRUPT);
	check("ringzero", seg, zero_ring, DIPC_ECORRUPT);
	check("hdrsize", seg, bad_hdr, DIPC_ECORRUPT);
	check("apart", seg, cursors_apart, DIPC_ECORRUPT);
	check("crossed", seg, cursors_crossed, DIPC_ECORRUPT);
	check("short", 100, short_seg, DIPC_ECORRUPT);
	check("unfinished", seg, unfinished, DIPC_ECORRUPT);
	check("unsized", 0, NULL, DIPC_ECORRUPT);

	/* A well-formed forged segment is accepted: the checks above fail
	 * for the reason each names, not for being forged. */
	const char *name = t_name("forged-ok");
	dipc_stream *r, *w;
	forge(name, seg, good);
	is_int(dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &r), 0, "well-formed: reader attaches");
	is_int(dipc_stream_open(name, DIPC_STREAM_WRITE, 64, 0, &w), 0, "well-formed: writer attaches");
	ok(t_status_has(r, "bufSz=100 "), "well-formed: its ring size is used");
	is_int(dipc_stream_write(w, "hello", 5, T_LONG_NS), 5, "well-formed: write");
	char buf[8] = { 0 };
	is_int(dipc_stream_read(r, buf, 5, T_LONG_NS), 5, "well-formed: read");
	ok(memcmp(buf, "hello", 5) == 0, "well-formed: same bytes");
	dipc_stream_close(w);
	dipc_stream_close(r);
	live_corruption();
	return done_testing();
}
#endif

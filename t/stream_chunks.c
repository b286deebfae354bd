/*
 * stream_chunks.c - mixes of write and read sizes between two processes,
 * verified byte for byte and by checksum: 7-byte writes against 9-byte
 * blocking reads, one 10,249-byte write through a 64-byte ring, frames
 * larger than the ring, a try-once polling reader, and random sizes
 * through a ring whose size is not a power of two.
 */
#include "tap.h"
#include "proc.h"
#include "stream_util.h"

#include <dragonipc.h>
#include <stdlib.h>

/* Writer plans: how a child cuts the stream into writes. */
enum { CUT_FIXED, CUT_RANDOM };

struct plan {
	char name[64];
	unsigned long long seed, total, ring, chunk, cut;
};

static int parse(const char *arg, struct plan *p)
{
	return sscanf(arg, "%63[^:]:%llu:%llu:%llu:%llu:%llu", p->name, &p->seed,
		      &p->total, &p->ring, &p->chunk, &p->cut) == 6;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Child: write the seeded stream, total bytes, cut as the plan says. */
static int child_writer(const struct plan *p)
{
	dipc_stream *s;
	if (dipc_stream_open(p->name, DIPC_STREAM_WRITE, (size_t)p->ring, 0, &s) != 0)
		return 10;
	unsigned char *buf = malloc((size_t)p->total);
	if (!buf)
		return 11;
	t_fill(p->seed, 0, buf, (size_t)p->total);
	uint64_t x = p->seed | 1, off = 0;
	while (off < p->total) {
		uint64_t n = p->cut == CUT_RANDOM ? 1 + rnd(&x) % p->chunk : p->chunk;
		if (n > p->total - off)
			n = p->total - off;
		if (dipc_stream_write(s, buf + off, (size_t)n, DIPC_WAIT_FOREVER) != (int64_t)n)
			return 12;
		off += n;
	}
	free(buf);
	return dipc_stream_close(s) == 0 ? 0 : 13;
}

int t_child(const char *role, const char *arg)
{
	struct plan p;
	if (!parse(arg, &p))
		return 2;
	if (strcmp(role, "writer") == 0)
		return child_writer(&p);
	return 3;
}

static t_pid start_writer(const char *name, uint64_t seed, uint64_t total,
			  uint64_t ring, uint64_t chunk, int cut)
{
	char arg[160];
	snprintf(arg, sizeof(arg), "%s:%llu:%llu:%llu:%llu:%d", name,
		 (unsigned long long)seed, (unsigned long long)total,
		 (unsigned long long)ring, (unsigned long long)chunk, cut);
	return t_spawn("writer", arg);
}

/*
 * Read the whole stream in reads of rchunk (blocking) or up to rchunk
 * (try-once polling), check every byte and the checksum, then the
 * writer's close.  The reader opens first and creates the stream.
 */
static void transfer(const char *what, uint64_t seed, uint64_t total, uint64_t ring,
		     uint64_t wchunk, int wcut, uint64_t rchunk, int poll)
{
	const char *name = t_name(what);
	dipc_stream *r;
	if (dipc_stream_open(name, DIPC_STREAM_READ, (size_t)ring, 0, &r) != 0)
		bail_out("cannot open a stream");
	t_pid p = start_writer(name, seed, total, ring, wchunk, wcut);
	unsigned char *buf = malloc((size_t)total + 1);
	uint64_t off = 0, h = T_SUM_INIT;
	int64_t bad = 0;
	double end = t_now() + T_LONG_S;
	while (off < total && t_now() < end) {
		uint64_t want = rchunk;
		if (!poll && want > total - off)
			want = total - off;
		int64_t n = dipc_stream_read(r, buf + off, (size_t)want,
					     poll ? DIPC_TRY_ONCE : T_LONG_NS);
		if (n < 0 || (!poll && (uint64_t)n != want)) {
			bad = n < 0 ? n : -1000;
			break;
		}
		h = t_sum(h, buf + off, (size_t)n);
		off += (uint64_t)n;
	}
	is_int(bad, 0, "%s: every read returned its full count", what);
	is_int(off, total, "%s: %llu bytes arrived", what, (unsigned long long)total);
	is_int(t_check(seed, 0, buf, (size_t)off), total, "%s: every byte in order", what);
	ok(h == t_sum_of(seed, total), "%s: checksum matches", what);
	is_int(t_wait(p, T_LONG_S), 0, "%s: writer finished", what);
	is_int(dipc_stream_read(r, buf, 1, T_LONG_NS), DIPC_EPEERCLOSED,
	       "%s: then the writer's close", what);
	dipc_stream_close(r);
	free(buf);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	plan(36);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u;
	diag("seed %llu", (unsigned long long)seed);

	transfer("w7r9", seed, 7 * 9 * 500, 64, 7, CUT_FIXED, 9, 0);
	transfer("big10249", seed + 1, 10249, 64, 10249, CUT_FIXED, 10249, 0);
	transfer("frames", seed + 2, 20 * 1000, 256, 1000, CUT_FIXED, 1000, 0);
	transfer("polling", seed + 3, 20 * 1000, 256, 1000, CUT_FIXED, 333, 1);
	transfer("random", seed + 4, 200 * 1000, 1000, 3000, CUT_RANDOM, 777, 0);
	transfer("bigring", seed + 5, 4 << 20, 1 << 20, 65536, CUT_FIXED, 65536, 0);
	return done_testing();
}

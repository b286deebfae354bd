/*
 * backing_helper.c - the program t/backing.sh runs inside its small
 * /dev/shm.
 *
 *   backing_helper pool NAME SIZE     create a pool of SIZE bytes
 *   backing_helper stream NAME SIZE   open a stream with a ring of SIZE bytes
 *
 * Prints "rc=N" (the create's or open's return code).  On success it goes
 * on to write every byte the object offers through the API (every byte of
 * the pool's heap that allocations can reach; the whole ring of the
 * stream), checks what it wrote, prints "filled=N" and the size it filled,
 * and destroys the object.  Exit status 0 when the steps it could take
 * went right, 1 otherwise; a SIGBUS kills it (which the script reports).
 */
#include <dragonipc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALLOCS 4096

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i * 31u + (i >> 12) + 7u);
}

/* Allocate the pool's room away, largest free piece first, writing every
 * byte of every allocation; then check them all.  Returns the bytes
 * written, or -1. */
static long long fill_pool(dipc_pool *p)
{
	static dipc_mem *mems[MAX_ALLOCS];
	int n = 0;
	long long written = 0;
	uint64_t at = 0;
	for (;;) {
		struct dipc_pool_stats st;
		if (dipc_pool_stats(p, &st) != 0)
			return -1;
		if (st.largest_free == 0)
			break;
		if (n == MAX_ALLOCS) {
			fprintf(stderr, "backing_helper: more than %d allocations\n", n);
			return -1;
		}
		int rc = dipc_pool_alloc(p, (size_t)st.largest_free, &mems[n]);
		if (rc != 0) {
			fprintf(stderr, "backing_helper: alloc %llu: %s\n",
				(unsigned long long)st.largest_free, dipc_strerror(rc));
			return -1;
		}
		unsigned char *b;
		size_t len;
		if (dipc_mem_get(mems[n], (void **)&b, &len) != 0)
			return -1;
		for (size_t i = 0; i < len; i++)
			b[i] = pattern(at + i);
		at += len;
		written += (long long)len;
		n++;
	}
	at = 0;
	for (int k = 0; k < n; k++) {
		unsigned char *b;
		size_t len;
		if (dipc_mem_get(mems[k], (void **)&b, &len) != 0)
			return -1;
		for (size_t i = 0; i < len; i++)
			if (b[i] != pattern(at + i)) {
				fprintf(stderr, "backing_helper: byte %llu of allocation %d "
					"changed\n", (unsigned long long)i, k);
				return -1;
			}
		at += len;
		dipc_mem_free(mems[k]);
	}
	return written;
}

static int do_pool(const char *name, size_t size)
{
	dipc_pool *p;
	int rc = dipc_pool_create(name, size, NULL, &p);
	printf("rc=%d\n", rc);
	fflush(stdout);
	if (rc)
		return 0;
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	long long w = fill_pool(p);
	printf("filled=%lld\ntotal=%llu\n", w, (unsigned long long)st.total);
	int drc = dipc_pool_destroy(p);
	return w > 0 && drc == 0 ? 0 : 1;
}

/* Write the whole ring through the writer without a read, then read it
 * all back. */
static int do_stream(const char *name, size_t size)
{
	dipc_stream *r, *w = NULL;
	int rc = dipc_stream_open(name, DIPC_STREAM_READ, size, 0, &r);
	printf("rc=%d\n", rc);
	fflush(stdout);
	if (rc)
		return 0;
	unsigned char *buf = malloc(size);
	if (!buf)
		return 1;
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	long long wrote = -1, got = -1;
	rc = dipc_stream_open(name, DIPC_STREAM_WRITE, size, 0, &w);
	if (rc == 0) {
		wrote = 0;
		while ((size_t)wrote < size) {
			int64_t k = dipc_stream_write(w, buf + wrote, size - (size_t)wrote,
						      DIPC_TRY_ONCE);
			if (k <= 0)
				break;
			wrote += k;
		}
		memset(buf, 0, size);
		got = dipc_stream_read(r, buf, size, DIPC_TRY_ONCE);
		for (size_t i = 0; got == (long long)size && i < size; i++)
			if (buf[i] != pattern(i))
				got = -1;
		dipc_stream_close(w);
	}
	printf("filled=%lld\nread=%lld\n", wrote, got);
	free(buf);
	dipc_stream_close(r);
	return wrote == (long long)size && got == (long long)size ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: backing_helper pool|stream NAME SIZE\n");
		return 2;
	}
	size_t size = (size_t)strtoull(argv[3], NULL, 0);
	dipc_init(DIPC_LOG_BASIC);
	if (strcmp(argv[1], "pool") == 0)
		return do_pool(argv[2], size);
	if (strcmp(argv[1], "stream") == 0)
		return do_stream(argv[2], size);
	fprintf(stderr, "backing_helper: unknown command %s\n", argv[1]);
	return 2;
}

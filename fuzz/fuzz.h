/*
 * fuzz.h - what the libFuzzer targets share: unique segment names, a
 * reader over the fuzzer's bytes, shared-memory patches, and the checks
 * ("oracles") that catch a wrong answer which stays inside the mapping,
 * where AddressSanitizer cannot see it.
 */
#ifndef DIPC_FUZZ_H
#define DIPC_FUZZ_H

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Far above any pid_max (2^22 on Linux), so never alive, yet a valid id
 * to the library (at most INT32_MAX): a lock or role word holding it
 * looks like one a dead process left. */
#define FZ_DEAD_PID 0x7ffffff0u

#define FZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* "fz<tag>-<pid>-<n>": unique per process and call, so targets can run
 * side by side, and recognisable for clean-up scripts. */
static inline void fz_name(char *out, size_t len, const char *tag)
{
	static unsigned long n;
	snprintf(out, len, "fz%s-%ld-%lu", tag, (long)getpid(), n++);
}

/* The fuzzer's bytes, taken from the front; zeros once they run out. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);
	return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

/*
 * Apply patches to [base, base+size): each is a 16-bit little-endian
 * offset (modulo size), a length byte and that many bytes (cut at the
 * end of the region).  At most max patches; the rest of the input is
 * left for the caller.  Returns how many were applied.
 */
static inline int fz_patch(struct fz_in *in, unsigned char *base, size_t size, int max)
{
	int done = 0;
	while (in->n >= 3 && done < max) {
		size_t off = fz_u16(in) % size;
		size_t len = fz_u8(in);
		if (len > in->n)
			len = in->n;
		size_t room = size - off;
		memcpy(base + off, in->p, len < room ? len : room);
		in->p += len;
		in->n -= len;
		done++;
	}
	return done;
}

/*
 * A lock word naming a live process is, to the library, a lock that
 * process holds: waiting for it is the lock's contract, not a hang, and
 * this process (or pid 1) would hold it for ever.  So a patched owner
 * that is alive becomes a dead one, which still drives the take-over
 * path; any other value stays as the fuzzer wrote it.
 */
static inline void fz_unwedge(_Atomic uint32_t *owner)
{
	uint32_t v = atomic_load(owner);
	if (v && dipc_os_pid_alive(v))
		atomic_store(owner, FZ_DEAD_PID);
}

/*
 * dipc_pool_destroy removes the name only if the header's destroyed flag
 * was clear (a second destroy must not remove a newer pool of the same
 * name), and that flag is shared memory the fuzzer may have set.  So
 * after destroying a corrupted pool, remove its name if it is still
 * there: a target must leave nothing behind.
 */
static inline void fz_pool_unlink(const char *name)
{
	char seg[96];
	if (dipc_name_build(DIPC_SEG_POOL, name, seg, sizeof(seg)) == 0)
		dipc_os_shm_unlink(seg);
}

/* Read every byte of a range the library handed out (a wild pointer
 * faults here) and fold them, so the reads are not optimised away. */
static inline unsigned fz_touch(const void *p, size_t n)
{
	const volatile unsigned char *b = p;
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += b[i];
	return sum;
}

/*
 * Seeds: run a target with DIPC_FUZZ_SEEDS=<dir> and it writes its seed
 * corpus there (from live objects) instead of fuzzing.  Each target
 * calls fz_seed() from fz_make_seeds(), which it defines.
 */
static const char *fz_seed_dir;

static inline void fz_seed(const char *file, const void *bytes, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", fz_seed_dir, file);
	FILE *f = fopen(path, "wb");
	FZ_CHECK(f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0);
}

static void fz_make_seeds(void);

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_seed_dir = getenv("DIPC_FUZZ_SEEDS");
	if (fz_seed_dir) {
		fz_make_seeds();
		exit(0);
	}
	return 0;
}

#endif

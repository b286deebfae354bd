/*
 * copy_count - an LD_PRELOAD module for t/py_bytes_paths.py: memcpy and
 * memmove that count the bytes they move, per thread, before doing it.
 * copy_count_bytes() returns the calling thread's count.  The library,
 * the Python extension and the interpreter call both through the PLT, so
 * every copy of a payload between a sender's buffer and a receiver's
 * bytes object passes here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

unsigned long long copy_count_bytes(void);

static void *(*real_memcpy)(void *, const void *, size_t);
static void *(*real_memmove)(void *, const void *, size_t);
static __thread unsigned long long moved;

unsigned long long copy_count_bytes(void)
{
	return moved;
}

/* Used until dlsym has answered (dlsym may copy, too). */
static void *bytewise(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s)
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	else
		for (size_t i = n; i-- > 0;)
			d[i] = s[i];
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	if (!real_memcpy) {
		real_memcpy = bytewise;
		void *f = dlsym(RTLD_NEXT, "memcpy");
		if (f)
			real_memcpy = (void *(*)(void *, const void *, size_t))f;
	}
	moved += n;
	return real_memcpy(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
	if (!real_memmove) {
		real_memmove = bytewise;
		void *f = dlsym(RTLD_NEXT, "memmove");
		if (f)
			real_memmove = (void *(*)(void *, const void *, size_t))f;
	}
	moved += n;
	return real_memmove(dst, src, n);
}

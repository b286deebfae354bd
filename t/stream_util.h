/*
 * stream_util.h - what the byte-stream tests share: a reproducible byte
 * sequence both processes can compute, a checksum, a clock, and a way for
 * a child to die abruptly.
 */
#ifndef DIPC_T_STREAM_UTIL_H
#define DIPC_T_STREAM_UTIL_H

#include <dragonipc.h>

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
# include <windows.h>
#else
# include <pthread.h>
# include <signal.h>
# include <unistd.h>
#endif

/* A test that "waits forever" waits this long, so a bug fails the test
 * instead of hanging it. */
#define T_LONG_NS INT64_C(20000000000)
#define T_LONG_S  20.0

/* Byte i of the stream that seed names. */
static inline unsigned char t_byte(uint64_t seed, uint64_t i)
{
	uint64_t z = seed + (i >> 3) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (unsigned char)(z >> (8 * (i & 7)));
}

static inline void t_fill(uint64_t seed, uint64_t from, unsigned char *buf, size_t n)
{
	for (size_t k = 0; k < n; k++)
		buf[k] = t_byte(seed, from + k);
}

/* Index of the first byte of buf that differs from the stream, or n. */
static inline size_t t_check(uint64_t seed, uint64_t from, const unsigned char *buf,
			     size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (buf[k] != t_byte(seed, from + k))
			return k;
	return n;
}

/* FNV-1a, continued from h (start with T_SUM_INIT). */
#define T_SUM_INIT 1469598103934665603ull
static inline uint64_t t_sum(uint64_t h, const unsigned char *buf, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		h ^= buf[k];
		h *= 1099511628211ull;
	}
	return h;
}

static inline uint64_t t_sum_of(uint64_t seed, uint64_t n)
{
	uint64_t h = T_SUM_INIT;
	for (uint64_t k = 0; k < n; k++) {
		unsigned char b = t_byte(seed, k);
		h = t_sum(h, &b, 1);
	}
	return h;
}

static inline double t_now(void)
{
#ifdef _WIN32
	LARGE_INTEGER f, c;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (double)c.QuadPart / (double)f.QuadPart;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

static inline void t_sleep_ms(unsigned ms)
{
#ifdef _WIN32
	Sleep(ms);
#else
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
#endif
}

/* End this process at once, as a crash would: no close, no atexit. */
static inline void t_die_now(void)
{
	fflush(stdout);
#ifdef _WIN32
	TerminateProcess(GetCurrentProcess(), 137);
#else
	kill(getpid(), SIGKILL);
#endif
	for (;;)
		t_sleep_ms(1000);
}

/* Sleep until killed. */
static inline int t_linger(void)
{
	for (;;)
		t_sleep_ms(1000);
	return 0;
}

/* Poll fn(arg) every millisecond for up to seconds; 1 once it held. */
static inline int t_until(int (*fn)(void *), void *arg, double seconds)
{
	double end = t_now() + seconds;
	while (t_now() < end) {
		if (fn(arg))
			return 1;
		t_sleep_ms(1);
	}
	return fn(arg);
}

/* A thread in the test process (threads of MinGW's win32 model are not
 * POSIX threads). */
#ifdef _WIN32
typedef HANDLE t_thread;
struct t_thread_start_ {
	void *(*fn)(void *);
	void *arg;
};
static DWORD WINAPI t_thread_tramp_(LPVOID p)
{
	struct t_thread_start_ st = *(struct t_thread_start_ *)p;
	free(p);
	st.fn(st.arg);
	return 0;
}
static inline int t_thread_start(t_thread *t, void *(*fn)(void *), void *arg)
{
	struct t_thread_start_ *st = malloc(sizeof(*st));
	*t = NULL;
	if (!st)
		return -1;
	st->fn = fn;
	st->arg = arg;
	*t = CreateThread(NULL, 0, t_thread_tramp_, st, 0, NULL);
	if (!*t)
		free(st);
	return *t ? 0 : -1;
}
static inline void t_thread_join(t_thread t)
{
	if (!t)
		return;
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
}
#else
typedef pthread_t t_thread;
static inline int t_thread_start(t_thread *t, void *(*fn)(void *), void *arg)
{
	return pthread_create(t, NULL, fn, arg) ? -1 : 0;
}
static inline void t_thread_join(t_thread t)
{
	pthread_join(t, NULL);
}
#endif

/* 1 if the stream's status line contains needle. */
static inline int t_status_has(dipc_stream *s, const char *needle)
{
	char line[512];
	if (dipc_stream_status(s, line, sizeof(line)) < 0)
		return 0;
	return strstr(line, needle) != NULL;
}

#endif

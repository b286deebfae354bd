/*
 * stream_quick.c - a quick measurement of byte streams between two
 * processes:
 *
 *   1. throughput: TOTAL MiB in 64 KiB writes through a 1 MiB ring, the
 *      reader taking 64 KiB blocking reads;
 *   2. one-way latency: a 64-byte ping-pong over two streams, half the
 *      round trip, as median / mean / 99th percentile.
 *
 * On POSIX the same two measurements run over pipes, as a yardstick.
 *
 *   usage: stream_quick [TOTAL_MIB [ROUND_TRIPS]]   (default 1024 100000)
 */
#include "proc.h"

#include <dragonipc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef _WIN32
# include <unistd.h>
#endif

#define CHUNK (64 * 1024)
#define RING  (1024 * 1024)
#define MSG   64
#define WARMUP 1000

static double now_s(void)
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report_latency(const char *what, double *rtt, long n)
{
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += rtt[i];
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
	/* One way is half a round trip. */
	printf("%-8s latency  one-way (64 B): median %.2f us  mean %.2f us  "
	       "p99 %.2f us  min %.2f us  (%ld round trips)\n", what,
	       rtt[n / 2] / 2 * 1e6, sum / (double)n / 2 * 1e6,
	       rtt[n * 99 / 100] / 2 * 1e6, rtt[0] / 2 * 1e6, n);
}

static void report_throughput(const char *what, uint64_t bytes, double secs)
{
	printf("%-8s throughput (64 KiB writes%s): %.0f MiB in %.3f s = "
	       "%.2f GiB/s\n", what, strcmp(what, "stream") ? "" : ", 1 MiB ring", (double)bytes / (1 << 20), secs,
	       (double)bytes / secs / (1 << 30));
}

/* ---- streams ---------------------------------------------------------- */

static int stream_writer(const char *name, uint64_t total)
{
	dipc_stream *s;
	if (dipc_stream_open(name, DIPC_STREAM_WRITE, RING, 0, &s) != 0)
		return 10;
	static unsigned char buf[CHUNK];
	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t done = 0; done < total; done += CHUNK)
		if (dipc_stream_write(s, buf, CHUNK, DIPC_WAIT_FOREVER) != CHUNK)
			return 11;
	dipc_stream_close(s);
	return 0;
}

static int stream_echo(const char *names, long n)
{
	char ping[64], pong[64];
	if (sscanf(names, "%63[^,],%63s", ping, pong) != 2)
		return 20;
	dipc_stream *in, *out;
	if (dipc_stream_open(ping, DIPC_STREAM_READ, 4096, 0, &in) != 0 ||
	    dipc_stream_open(pong, DIPC_STREAM_WRITE, 4096, 0, &out) != 0)
		return 21;
	unsigned char buf[MSG];
	for (long i = 0; i < n; i++) {
		if (dipc_stream_read(in, buf, MSG, DIPC_WAIT_FOREVER) != MSG ||
		    dipc_stream_write(out, buf, MSG, DIPC_WAIT_FOREVER) != MSG)
			return 22;
	}
	dipc_stream_close(out);
	dipc_stream_close(in);
	return 0;
}

static int stream_throughput(uint64_t total)
{
	char name[64], arg[96];
	snprintf(name, sizeof(name), "bench-tp-%ld", (long)now_s());
	dipc_stream_unlink(name);
	dipc_stream *s;
	if (dipc_stream_open(name, DIPC_STREAM_READ, RING, 0, &s) != 0)
		return 1;
	snprintf(arg, sizeof(arg), "%s:%llu", name, (unsigned long long)total);
	t_pid p = t_spawn("stream-writer", arg);
	static unsigned char buf[CHUNK];
	if (dipc_stream_read(s, buf, CHUNK, DIPC_WAIT_FOREVER) != CHUNK)
		return 1;
	double t0 = now_s();
	for (uint64_t done = CHUNK; done < total; done += CHUNK)
		if (dipc_stream_read(s, buf, CHUNK, DIPC_WAIT_FOREVER) != CHUNK)
			return 1;
	double t1 = now_s();
	dipc_stream_close(s);
	t_wait(p, -1);
	/* The first chunk started the clock, so it is not counted. */
	report_throughput("stream", total - CHUNK, t1 - t0);
	return 0;
}

static int stream_latency(long n)
{
	char ping[64], pong[64], arg[160];
	long stamp = (long)now_s();
	snprintf(ping, sizeof(ping), "bench-ping-%ld", stamp);
	snprintf(pong, sizeof(pong), "bench-pong-%ld", stamp);
	dipc_stream *out, *in;
	if (dipc_stream_open(ping, DIPC_STREAM_WRITE, 4096, 0, &out) != 0 ||
	    dipc_stream_open(pong, DIPC_STREAM_READ, 4096, 0, &in) != 0)
		return 1;
	snprintf(arg, sizeof(arg), "%s,%s:%ld", ping, pong, n + WARMUP);
	t_pid p = t_spawn("stream-echo", arg);
	double *rtt = malloc(sizeof(*rtt) * (size_t)n);
	unsigned char buf[MSG] = { 1 };
	for (long i = 0; i < n + WARMUP; i++) {
		double t0 = now_s();
		if (dipc_stream_write(out, buf, MSG, DIPC_WAIT_FOREVER) != MSG ||
		    dipc_stream_read(in, buf, MSG, DIPC_WAIT_FOREVER) != MSG)
			return 1;
		if (i >= WARMUP)
			rtt[i - WARMUP] = now_s() - t0;
	}
	dipc_stream_close(out);
	dipc_stream_close(in);
	t_wait(p, -1);
	report_latency("stream", rtt, n);
	free(rtt);
	return 0;
}

/* ---- pipes, for comparison (POSIX) ------------------------------------ */

#ifndef _WIN32
static int full_io(int fd, void *buf, size_t n, int wr)
{
	size_t done = 0;
	while (done < n) {
		ssize_t k = wr ? write(fd, (char *)buf + done, n - done)
			       : read(fd, (char *)buf + done, n - done);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

static int pipe_child(const char *role, const char *arg)
{
	int a, b;
	unsigned long long n;
	if (sscanf(arg, "%d,%d:%llu", &a, &b, &n) != 3)
		return 30;
	static unsigned char buf[CHUNK];
	if (strcmp(role, "pipe-writer") == 0) {
		for (uint64_t done = 0; done < n; done += CHUNK)
			if (full_io(b, buf, CHUNK, 1))
				return 31;
		return 0;
	}
	for (unsigned long long i = 0; i < n; i++)
		if (full_io(a, buf, MSG, 0) || full_io(b, buf, MSG, 1))
			return 32;
	return 0;
}

static void pipe_bench(uint64_t total, long n)
{
	int fd[2], back[2];
	char arg[64];
	static unsigned char buf[CHUNK];
	if (pipe(fd) != 0)
		return;
	snprintf(arg, sizeof(arg), "%d,%d:%llu", fd[0], fd[1], (unsigned long long)total);
	t_pid p = t_spawn("pipe-writer", arg);
	close(fd[1]);
	full_io(fd[0], buf, CHUNK, 0);
	double t0 = now_s();
	for (uint64_t done = CHUNK; done < total; done += CHUNK)
		if (full_io(fd[0], buf, CHUNK, 0))
			return;
	double t1 = now_s();
	close(fd[0]);
	t_wait(p, -1);
	report_throughput("pipe", total - CHUNK, t1 - t0);

	if (pipe(fd) != 0 || pipe(back) != 0)
		return;
	snprintf(arg, sizeof(arg), "%d,%d:%ld", fd[0], back[1], n + WARMUP);
	p = t_spawn("pipe-echo", arg);
	double *rtt = malloc(sizeof(*rtt) * (size_t)n);
	for (long i = 0; i < n + WARMUP; i++) {
		double s0 = now_s();
		if (full_io(fd[1], buf, MSG, 1) || full_io(back[0], buf, MSG, 0))
			return;
		if (i >= WARMUP)
			rtt[i - WARMUP] = now_s() - s0;
	}
	t_wait(p, -1);
	report_latency("pipe", rtt, n);
	free(rtt);
	close(fd[0]); close(fd[1]); close(back[0]); close(back[1]);
}
#endif

int t_child(const char *role, const char *arg)
{
	char name[64];
	unsigned long long n;
	if (strcmp(role, "stream-writer") == 0 &&
	    sscanf(arg, "%63[^:]:%llu", name, &n) == 2)
		return stream_writer(name, n);
	if (strcmp(role, "stream-echo") == 0 &&
	    sscanf(arg, "%63[^:]:%llu", name, &n) == 2)
		return stream_echo(name, (long)n);
#ifndef _WIN32
	if (strncmp(role, "pipe-", 5) == 0)
		return pipe_child(role, arg);
#endif
	return 2;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
	long trips = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
	if (mib < 1 || trips < 100) {
		fprintf(stderr, "usage: %s [TOTAL_MIB >= 1 [ROUND_TRIPS >= 100]]\n", argv[0]);
		return 2;
	}
	uint64_t total = mib << 20;
	if (stream_throughput(total) || stream_latency(trips)) {
		fprintf(stderr, "stream_quick: a stream call failed\n");
		return 1;
	}
#ifndef _WIN32
	pipe_bench(total, trips);
#endif
	return 0;
}

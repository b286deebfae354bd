/*
 * bench.h - the harness every transport benchmark plugs into.
 *
 * A transport moves messages between processes.  The harness forks the
 * processes, pins them, fills every payload byte before a send and checks
 * every byte after a receive, times the run and prints one result line.
 *
 * Links: a test uses numbered one-way links.  Latency uses link 0 (A to B)
 * and link 1 (B to A); throughput uses link 0 from one producer to the
 * consumer; fan-in uses link 0 from nprod producers to one consumer (a
 * transport without many-to-one links gives each producer its own and
 * lets the consumer poll them all).
 *
 * Sending: get_buf() returns where to write the payload (a private buffer,
 * a pool allocation, a loaned chunk...), the harness fills it, send()
 * sends it.  Receiving: recv() yields a pointer to the payload, the
 * harness checks it, release() gives it back.  Every call returns 0 or a
 * negative number on failure.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_test { TEST_LAT, TEST_THR, TEST_FANIN, TEST_MEMCPY };
enum bench_wait { WAIT_SPIN, WAIT_SLEEP, WAIT_DEFAULT };

/* What a transport can do. */
#define CAP_LAT    0x1
#define CAP_THR    0x2
#define CAP_FANIN  0x4
#define CAP_SPIN   0x8      /* has a spinning wait */
#define CAP_SLEEP  0x10     /* has a sleeping wait */

/* Exit status of a benchmark that cannot run here (peer missing, size
 * beyond what the transport takes): the driver reports it as skipped. */
#define BENCH_SKIP 77

struct bench_cfg {
	enum bench_test test;
	enum bench_wait wait;
	size_t size;            /* payload bytes */
	int nprod;              /* producers (fan-in), 1 otherwise */
	int nlinks;             /* links the test uses */
	double duration;        /* seconds measured */
	double warmup;          /* seconds before measuring */
	char tag[32];           /* unique per run: names for segments, paths */
};

struct bench_ep;

struct transport {
	const char *name;
	const char *about;      /* one line for --list */
	unsigned caps;
	/* Largest payload, or 0 for any; may be refined by setup(). */
	size_t max_size;

	/* In the parent, before fork: make whatever the processes share.
	 * Returns 0, BENCH_SKIP if it cannot run here, or < 0. */
	int (*setup)(const struct bench_cfg *cfg, void **shared);
	/* In each process: the sending (idx = producer number) or receiving
	 * end of link. */
	int (*open_tx)(const struct bench_cfg *cfg, void *shared, int link, int idx,
		       struct bench_ep **ep);
	int (*open_rx)(const struct bench_cfg *cfg, void *shared, int link,
		       struct bench_ep **ep);
	void *(*get_buf)(struct bench_ep *ep, size_t len);
	int (*send)(struct bench_ep *ep, size_t len);
	int (*recv)(struct bench_ep *ep, const void **data, size_t *len);
	void (*release)(struct bench_ep *ep);
	void (*close)(struct bench_ep *ep);
	/* In the parent, after every process is done. */
	void (*teardown)(const struct bench_cfg *cfg, void *shared);
};

/* Each benchmark program lists its transports, NULL-terminated. */
extern const struct transport *const bench_transports[];

/* Helpers for transports. */
void *bench_shared_alloc(size_t size);  /* MAP_SHARED|MAP_ANONYMOUS, zeroed */
void bench_shared_free(void *p, size_t size);
double bench_now(void);
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A zeroed buffer aligned to a cache line (glibc's memcpy can be many
 * times slower between buffers misaligned to each other). */
void *bench_alloc(size_t size);

/* Byte-stream transports frame a message as a length word and the
 * payload; from 1 KiB on the header takes a whole cache line so that the
 * payload stays aligned in the stream. */
static inline size_t bench_frame_hdr(size_t payload)
{
	return payload >= 1024 ? 64 : 8;
}

#if defined(__x86_64__) || defined(__i386__)
# define bench_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
# define bench_relax() __asm__ __volatile__("yield" ::: "memory")
#else
# define bench_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

#endif

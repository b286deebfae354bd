/*
 * icount.c - one process, no waiting: what the library's message paths
 * cost per message, for callgrind, which counts instructions (and, with
 * --cache-sim=yes, simulated cache misses) exactly where a timed run on a
 * busy machine only guesses.
 *
 *   dipc-icount MODE SIZE N [INFLIGHT [POOL_MIB]]
 *
 *   xfer       allocate, wrap, send by transfer, receive, free; only the
 *              first 8 payload bytes written: the library's own cost
 *   xfer_full  the same, every payload byte written before the send and
 *              read after the receive, INFLIGHT messages kept in the
 *              channel: shows whether messages land in warm memory
 *   copy       send_bytes / recv_bytes of SIZE bytes
 *
 * The loop is the function run_MODE; count it alone, for example:
 *
 *   valgrind --tool=callgrind --toggle-collect=run_xfer bench/.libs/dipc-icount xfer 64 2000
 *   valgrind --tool=callgrind --cache-sim=yes --toggle-collect=run_xfer_full \
 *       bench/.libs/dipc-icount xfer_full 1048576 200 4 64
 *
 * and divide the summary by N.
 */
#include <dragonipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Global, so that callgrind finds them by name. */
void run_xfer(size_t size, int n);
void run_xfer_full(size_t size, int n);
void run_copy(size_t size, int n);

static dipc_pool *pool;
static dipc_sendh *sh;
static dipc_recvh *rh;
static unsigned char *buf;
static volatile unsigned long sink;

static void die(const char *what)
{
	fprintf(stderr, "dipc-icount: %s failed\n", what);
	exit(1);
}

static void xfer_send(size_t size, size_t fill, int i)
{
	dipc_mem *mem;
	dipc_msg *msg;
	void *p;
	if (dipc_pool_alloc_wait(pool, size, DIPC_WAIT_FOREVER, &mem))
		die("alloc");
	if (dipc_msg_create_from_mem(mem, &msg))
		die("msg_create_from_mem");
	dipc_msg_get(msg, &p, NULL);
	memset(p, i, fill);
	if (dipc_sendh_send(sh, msg, NULL, DIPC_TRANSFER_ON_SEND, DIPC_WAIT_FOREVER))
		die("send");
	dipc_msg_destroy(msg, 0);
}

static void xfer_recv(int read_all)
{
	dipc_msg *msg;
	void *p;
	size_t len;
	if (dipc_msg_create_empty(&msg))
		die("msg_create_empty");
	if (dipc_recvh_recv(rh, msg, DIPC_WAIT_FOREVER))
		die("recv");
	dipc_msg_get(msg, &p, &len);
	unsigned long s = 0;
	for (size_t k = 0; read_all && k < len; k += 64)
		s += ((unsigned char *)p)[k];
	sink += s;
	dipc_msg_destroy(msg, 1);
}

__attribute__((noinline)) void run_xfer(size_t size, int n)
{
	for (int i = 0; i < n; i++) {
		xfer_send(size, 8, i);
		xfer_recv(0);
	}
}

__attribute__((noinline)) void run_xfer_full(size_t size, int n)
{
	for (int i = 0; i < n; i++) {
		xfer_send(size, size, i);
		xfer_recv(1);
	}
}

__attribute__((noinline)) void run_copy(size_t size, int n)
{
	for (int i = 0; i < n; i++) {
		size_t len;
		if (dipc_sendh_send_bytes(sh, buf, size, DIPC_WAIT_FOREVER))
			die("send_bytes");
		if (dipc_recvh_recv_bytes(rh, buf, size, &len, DIPC_WAIT_FOREVER))
			die("recv_bytes");
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: dipc-icount xfer|xfer_full|copy SIZE N [INFLIGHT [POOL_MIB]]\n");
		return 2;
	}
	const char *mode = argv[1];
	size_t size = strtoull(argv[2], NULL, 0);
	int n = atoi(argv[3]);
	int inflight = argc > 4 ? atoi(argv[4]) : 0;
	size_t pool_mib = argc > 5 ? strtoull(argv[5], NULL, 0) : 64;
	int copy = strcmp(mode, "copy") == 0;
	if (size < 8 || n < 1 || inflight < 0 || inflight > 32)
		return 2;
	char name[64];
	snprintf(name, sizeof(name), "icount-%ld", (long)getpid());
	if (dipc_pool_create(name, pool_mib << 20, NULL, &pool))
		die("pool_create");
	struct dipc_channel_attr ca;
	dipc_channel_attr_init(&ca);
	ca.capacity = 64;
	ca.block_size = copy && size <= 65536 ? (size < 64 ? 64 : size) : 1024;
	dipc_channel *ch;
	if (dipc_channel_create(pool, 1, &ca, &ch))
		die("channel_create");
	dipc_sendh_create(ch, NULL, &sh);
	dipc_recvh_create(ch, NULL, &rh);
	dipc_sendh_open(sh);
	dipc_recvh_open(rh);
	buf = aligned_alloc(64, (size + 63) / 64 * 64);
	if (!buf)
		die("aligned_alloc");
	memset(buf, 1, size);
	/* Some other blocks, so the pool is not one free run. */
	dipc_mem *keep[8];
	for (int i = 0; i < 8; i++)
		if (dipc_pool_alloc(pool, 4096 * (size_t)(i + 1), &keep[i]))
			die("alloc");
	for (int i = 0; i < 8; i += 2)
		dipc_mem_free(keep[i]);
	for (int i = 0; i < inflight; i++)
		xfer_send(size, size, i);
	if (copy)
		run_copy(size, n);
	else if (strcmp(mode, "xfer_full") == 0)
		run_xfer_full(size, n);
	else
		run_xfer(size, n);
	printf("%s %zu x %d\n", mode, size, n);
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	dipc_channel_destroy(ch);
	dipc_pool_destroy(pool);
	free(buf);
	return 0;
}

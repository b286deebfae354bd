/*
 * list-core.c - the transports of dipc-bench: libdragonipc, the floors
 * and the kernel's channels (nothing outside libc and libdragonipc).
 */
#include "bench.h"

extern const struct transport bench_dipc_copy, bench_dipc_xfer, bench_dipc_stream;
extern const struct transport bench_floor_line, bench_floor_ring, bench_floor_copy;
extern const struct transport bench_pipe, bench_uds, bench_mq;

const struct transport *const bench_transports[] = {
	&bench_dipc_copy,
	&bench_dipc_xfer,
	&bench_dipc_stream,
	&bench_floor_line,
	&bench_floor_ring,
	&bench_floor_copy,
	&bench_pipe,
	&bench_uds,
	&bench_mq,
	NULL,
};

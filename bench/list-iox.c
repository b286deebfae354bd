/*
 * list-iox.c - the transports of iox-bench (needs iceoryx's C binding).
 */
#include "bench.h"

extern const struct transport bench_iox;

const struct transport *const bench_transports[] = {
	&bench_iox,
	NULL,
};

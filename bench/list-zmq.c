/*
 * list-zmq.c - the transports of zmq-bench (needs libzmq).
 */
#include "bench.h"

extern const struct transport bench_zmq;

const struct transport *const bench_transports[] = {
	&bench_zmq,
	NULL,
};

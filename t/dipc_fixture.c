/*
 * dipc_fixture - make a pool (with a channel holding messages) and a
 * stream (with bytes buffered) for t/dipc.sh, print "ready", and wait to
 * be killed.
 */
#include <dragonipc.h>

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: dipc_fixture POOL STREAM\n");
		return 2;
	}
	dipc_pool *p;
	dipc_channel *c;
	dipc_sendh *s;
	dipc_stream *w;
	if (dipc_pool_create(argv[1], 1 << 20, NULL, &p) || dipc_channel_create(p, 42, NULL, &c) ||
	    dipc_sendh_create(c, NULL, &s) || dipc_sendh_open(s) ||
	    dipc_stream_open(argv[2], DIPC_STREAM_WRITE, 4096, 0, &w))
		return 1;
	for (int i = 0; i < 7; i++)
		if (dipc_sendh_send_bytes(s, "hello", 5, DIPC_TRY_ONCE))
			return 1;
	if (dipc_stream_write(w, "abcdefgh", 8, DIPC_TRY_ONCE) != 8)
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

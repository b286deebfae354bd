/*
 * bridge_probe.c - a stranger knocking at a dipc-bridge (t/bridge.sh).
 *
 *   bridge_probe ENDPOINT plain
 *   bridge_probe ENDPOINT curve-random SERVERKEY
 *   bridge_probe ENDPOINT curve-keyfile SERVERKEY KEYFILE
 *
 * Dials the bridge as a peer would (no security, CURVE with a key pair
 * of its own, or CURVE with the key pair in KEYFILE), sends a hello and
 * prints "answered" if the bridge answers in time, else "no answer".
 * A bridge must answer only a peer whose key it admits.  A stranger is
 * given two seconds; an admitted peer ten, as a bridge on a loaded
 * machine may take more than two to finish the handshake (the answer
 * ends the wait as soon as it comes).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static void put(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	char pub[41], sec[41];
	if (strcmp(argv[2], "plain") != 0) {
		if (argc < 4)
			return 2;
		if (strcmp(argv[2], "curve-keyfile") == 0) {
			FILE *f = argc > 4 ? fopen(argv[4], "r") : NULL;
			char line[256];
			pub[0] = sec[0] = 0;
			while (f && fgets(line, sizeof(line), f)) {
				if (sscanf(line, "public %40s", pub) == 1 ||
				    sscanf(line, "secret %40s", sec) == 1)
					continue;
			}
			if (f)
				fclose(f);
		} else {
			zmq_curve_keypair(pub, sec);
		}
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, argv[3], 41);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 41);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41);
	}
	if (zmq_connect(s, argv[1])) {
		printf("cannot dial\n");
		return 1;
	}
	/* A hello as the bridges write it (bridge/main.c, wire_encode). */
	unsigned char hello[96];
	memset(hello, 0, sizeof(hello));
	put(hello, 0x31574244u, 4);
	put(hello + 4, 1, 2);
	put(hello + 6, 1, 2);
	zmq_send(s, hello, sizeof(hello), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(s, "", 0, ZMQ_DONTWAIT);
	zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
	int wait_ms = strcmp(argv[2], "curve-keyfile") == 0 ? 10000 : 2000;
	int n = zmq_poll(&it, 1, wait_ms);
	printf("%s\n", n > 0 ? "answered" : "no answer");
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

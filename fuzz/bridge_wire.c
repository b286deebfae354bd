/*
 * bridge_wire.c - fuzz dipc-bridge's two parsers of outsiders' bytes
 * (bridge/wire.c): wire_decode, which reads every message a peer bridge
 * sends, and gw_req_check, which judges every request a process of the
 * user posts to the gateway.
 *
 * Input: one selector byte, then the bytes as they would arrive (a copy
 * of exactly that length, so that AddressSanitizer sees any read past
 * them).
 *
 * The oracles are the parsers' contracts, not only "no crash":
 *   - a decoded message satisfies every rule the bridge relies on after
 *     decoding (length, kind, op, result code, timeout, descriptor
 *     length), and encoding it gives back the input's bytes but the
 *     reserved word, which the encoder writes as zero;
 *   - a request passed as good has its descriptor, reply channel and
 *     payload inside the bytes it came in, within the sizes of the
 *     buffers the gateway copies them to and the message limit; one
 *     refused as malformed but "answerable" still has its reply channel
 *     inside them (the gateway copies it out to say why).
 */
#include "fuzz.h"
#include "wire.h"

enum { SEL_WIRE, SEL_REQ, SEL_COUNT };

/* The message limit the gateway is given here: small, so that inputs of
 * a few hundred bytes reach the DIPC_EMSGSIZE branch too. */
#define FZ_MAX_MSG 256

static void check_wire(const unsigned char *d, size_t len)
{
	struct wire w;
	memset(&w, 0xa5, sizeof(w));
	if (wire_decode(d, len, &w) != 0)
		return;
	FZ_CHECK(w.desc_len <= DIPC_SERIAL_MAX);
	FZ_CHECK(len == W_FIXED + (size_t)w.desc_len);
	FZ_CHECK(w.kind >= W_HELLO && w.kind <= W_HAVE);
	FZ_CHECK(w.op <= GW_OP_MAX);
	FZ_CHECK(w.kind != W_REQ || (w.op >= GW_ATTACH && w.desc_len >= 48));
	FZ_CHECK(w.rc <= 0 && w.rc >= GW_RC_MIN);
	FZ_CHECK(w.timeout >= DIPC_WAIT_FOREVER);
	unsigned char out[W_FIXED + DIPC_SERIAL_MAX];
	size_t n = wire_encode(&w, out);
	FZ_CHECK(n == len);
	/* Everything but the reserved word at 36..39 comes back as sent. */
	FZ_CHECK(memcmp(out, d, 36) == 0);
	FZ_CHECK(memcmp(out + 40, d + 40, len - 40) == 0);
	FZ_CHECK(out[36] == 0 && out[37] == 0 && out[38] == 0 && out[39] == 0);
	/* And what was encoded decodes to the same message. */
	struct wire again;
	FZ_CHECK(wire_decode(out, n, &again) == 0);
	unsigned char out2[W_FIXED + DIPC_SERIAL_MAX];
	FZ_CHECK(wire_encode(&again, out2) == n && memcmp(out, out2, n) == 0);
}

static void check_req(const unsigned char *d, size_t n)
{
	/* As read_request in bridge/gateway.c: the header is copied once
	 * into private memory (zeros past a short input), then checked. */
	struct gw_req q;
	memset(&q, 0, sizeof(q));
	memcpy(&q, d, n < sizeof(q) ? n : sizeof(q));
	bool answerable = false;
	int rc = gw_req_check(&q, n, FZ_MAX_MSG, &answerable);
	FZ_CHECK(rc == 0 || rc == DIPC_EINVAL || rc == DIPC_EMSGSIZE);
	unsigned char desc[DIPC_SERIAL_MAX], reply[DIPC_SERIAL_MAX];
	const unsigned char *b = d + sizeof(q);
	if (answerable) {
		FZ_CHECK(q.reply_len > 0 && q.reply_len <= DIPC_SERIAL_MAX);
		FZ_CHECK(q.desc_len <= DIPC_SERIAL_MAX);
		FZ_CHECK(sizeof(q) + (size_t)q.desc_len + q.reply_len <= n);
		memcpy(reply, b + q.desc_len, q.reply_len);
	}
	if (rc != 0)
		return;
	FZ_CHECK(q.magic == GW_MAGIC_REQ && q.version == GW_VERSION);
	FZ_CHECK(q.op >= GW_ATTACH && q.op <= GW_OP_MAX);
	FZ_CHECK(q.desc_len >= 48 && q.desc_len <= DIPC_SERIAL_MAX);
	FZ_CHECK(q.reply_len <= DIPC_SERIAL_MAX);
	FZ_CHECK((q.op == GW_ACK || q.op == GW_CANCEL) == (q.reply_len == 0));
	FZ_CHECK(q.timeout >= DIPC_WAIT_FOREVER);
	size_t head = sizeof(q) + (size_t)q.desc_len + q.reply_len;
	FZ_CHECK(head <= n);
	FZ_CHECK(q.op == GW_SEND || head == n);
	FZ_CHECK(n - head <= FZ_MAX_MSG);
	memcpy(desc, b, q.desc_len);
	memcpy(reply, b + q.desc_len, q.reply_len);
	/* The payload, read whole where the gateway would find it. */
	volatile unsigned char sum = 0;
	for (size_t i = head; i < n; i++)
		sum ^= d[i];
	(void)sum;
	(void)desc;
}

/* Seeds: one message of each kind a bridge sends, and a request of each
 * operation a process posts. */
static void fz_make_seeds(void)
{
	/* Room for the longest seed: a request with both descriptors and
	 * the largest payload below. */
	unsigned char b[1 + W_FIXED + sizeof(struct gw_req) + 2 * DIPC_SERIAL_MAX + 512];
	struct wire w;
	static const char *kinds[] = { "", "hello", "hello-ack", "ping", "pong", "req", "rep",
				       "have" };
	for (unsigned k = W_HELLO; k <= W_HAVE; k++) {
		memset(&w, 0, sizeof(w));
		w.kind = (uint16_t)k;
		w.host = 0x1122334455667788ull;
		w.incarnation = 42;
		if (k == W_REQ || k == W_REP || k == W_HAVE) {
			w.op = GW_SEND;
			w.pid = 1234;
			w.client = 7;
			w.id = 9;
			w.low = 8;
			w.timeout = 1000000000;
			w.desc_len = 64;
			for (unsigned i = 0; i < w.desc_len; i++)
				w.desc[i] = (unsigned char)i;
		}
		if (k == W_REP)
			w.rc = DIPC_ETIMEDOUT;
		if (k == W_HAVE)
			w.value = 1;
		b[0] = SEL_WIRE;
		size_t n = wire_encode(&w, b + 1);
		char file[64];
		snprintf(file, sizeof(file), "wire-%s", kinds[k]);
		fz_seed(file, b, 1 + n);
	}
	static const struct { int op; const char *name; size_t payload; } ops[] = {
		{ GW_ATTACH, "attach", 0 }, { GW_SEND, "send", 64 }, { GW_SEND, "send-large", 300 },
		{ GW_RECV, "recv", 0 }, { GW_POLL, "poll", 0 }, { GW_COUNT, "count", 0 },
		{ GW_ACK, "ack", 0 },
		{ GW_CANCEL, "cancel", 0 },
	};
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		struct gw_req q;
		memset(&q, 0, sizeof(q));
		q.magic = GW_MAGIC_REQ;
		q.version = GW_VERSION;
		q.op = (uint16_t)ops[k].op;
		q.pid = 1234;
		q.desc_len = 64;
		q.reply_len = ops[k].op == GW_ACK || ops[k].op == GW_CANCEL ? 0 : 64;
		q.client = 7;
		q.id = 9;
		q.timeout = -1;
		size_t n = sizeof(q) + q.desc_len + q.reply_len + ops[k].payload;
		FZ_CHECK(1 + n <= sizeof(b));
		b[0] = SEL_REQ;
		memcpy(b + 1, &q, sizeof(q));
		for (size_t i = 1 + sizeof(q); i < 1 + n; i++)
			b[i] = (unsigned char)(i * 7);
		char file[64];
		snprintf(file, sizeof(file), "req-%s", ops[k].name);
		fz_seed(file, b, 1 + n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	unsigned char *d = malloc(len ? len : 1);
	FZ_CHECK(d);
	memcpy(d, data + 1, len);
	if (data[0] % SEL_COUNT == SEL_WIRE)
		check_wire(d, len);
	else
		check_req(d, len);
	free(d);
	return 0;
}

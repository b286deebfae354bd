/*
 * t/man_timeouts.c - what each call that takes a timeout does with
 * DIPC_TIMEOUT_DEFAULT (-2) and with values below it, asked of the
 * library itself, so that t/man.sh can hold the ERRORS sections of the
 * manual pages to the code.
 *
 * Prints one line per function: NAME DEFAULT BELOW, where DEFAULT says
 * whether -2 is "accepted" or "refused" (DIPC_EINVAL), and BELOW the
 * same of -3 and INT64_MIN ("refused" only if both are).  Every call is
 * set up so that, if it accepts a value, it returns at once: handles
 * default to trying once, the channel has room and messages, the stream
 * has room and a byte to read.  Exits 1 if setting up fails.
 */
#include <dragonipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static dipc_pool *pool;
static dipc_channel *ch;
static dipc_sendh *tx;
static dipc_recvh *rx;
static dipc_stream *sw, *sr;

static void need(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "man_timeouts: %s: %s\n", what, dipc_strerror(rc));
		exit(1);
	}
}

/* Each probe makes the call with timeout t and says whether it was
 * refused as an invalid argument; whatever an accepted call did is
 * undone or harmless. */
static int alloc_wait(int64_t t)
{
	dipc_mem *mem;
	int rc = dipc_pool_alloc_wait(pool, 64, t, &mem);
	if (rc == 0)
		dipc_mem_free(mem);
	return rc == DIPC_EINVAL;
}

static int poll_(int64_t t)
{
	return dipc_channel_poll(ch, DIPC_POLL_WRITABLE, t) == DIPC_EINVAL;
}

static int send_(int64_t t)
{
	dipc_msg *msg;
	need(dipc_msg_create_alloc(pool, 8, &msg), "message");
	int rc = dipc_sendh_send(tx, msg, NULL, DIPC_COPY_ON_SEND, t);
	dipc_msg_destroy(msg, 1);
	return rc == DIPC_EINVAL;
}

static int send_bytes(int64_t t)
{
	return dipc_sendh_send_bytes(tx, "x", 1, t) == DIPC_EINVAL;
}

static int recv_(int64_t t)
{
	dipc_msg *msg;
	need(dipc_sendh_send_bytes(tx, "y", 1, DIPC_TRY_ONCE), "send for a receive");
	need(dipc_msg_create_empty(&msg), "empty message");
	int rc = dipc_recvh_recv(rx, msg, t);
	dipc_msg_destroy(msg, 1);
	return rc == DIPC_EINVAL;
}

static int recv_bytes(int64_t t)
{
	char buf[64];
	size_t len;
	need(dipc_sendh_send_bytes(tx, "z", 1, DIPC_TRY_ONCE), "send for a receive");
	return dipc_recvh_recv_bytes(rx, buf, sizeof(buf), &len, t) == DIPC_EINVAL;
}

static int stream_write(int64_t t)
{
	char buf[8];
	int64_t rc = dipc_stream_write(sw, "w", 1, t);
	dipc_stream_read(sr, buf, sizeof(buf), DIPC_TRY_ONCE);    /* keep room */
	return rc == DIPC_EINVAL;
}

static int stream_read(int64_t t)
{
	char c;
	if (dipc_stream_write(sw, "r", 1, DIPC_TRY_ONCE) != 1)
		need(DIPC_EFULL, "write for a read");
	int64_t rc = dipc_stream_read(sr, &c, 1, t);
	if (rc == DIPC_EINVAL)
		dipc_stream_read(sr, &c, 1, DIPC_TRY_ONCE);
	return rc == DIPC_EINVAL;
}

static const struct {
	const char *name;
	int (*refused)(int64_t t);
} probes[] = {
	{ "dipc_pool_alloc_wait", alloc_wait },
	{ "dipc_channel_poll", poll_ },
	{ "dipc_sendh_send", send_ },
	{ "dipc_sendh_send_bytes", send_bytes },
	{ "dipc_recvh_recv", recv_ },
	{ "dipc_recvh_recv_bytes", recv_bytes },
	{ "dipc_stream_write", stream_write },
	{ "dipc_stream_read", stream_read },
};

int main(void)
{
	struct dipc_channel_attr ca;
	struct dipc_handle_attr ha;
	char pname[40], sname[40];

	snprintf(pname, sizeof(pname), "t-mant-%ld", (long)getpid());
	snprintf(sname, sizeof(sname), "t-mants-%ld", (long)getpid());
	need(dipc_pool_create(pname, 1 << 20, NULL, &pool), "pool");
	need(dipc_channel_attr_init(&ca), "channel attributes");
	ca.capacity = 64;
	need(dipc_channel_create(pool, 1, &ca, &ch), "channel");
	need(dipc_handle_attr_init(&ha), "handle attributes");
	ha.default_timeout = DIPC_TRY_ONCE;
	need(dipc_sendh_create(ch, &ha, &tx), "send handle");
	need(dipc_sendh_open(tx), "open send handle");
	need(dipc_recvh_create(ch, &ha, &rx), "receive handle");
	need(dipc_recvh_open(rx), "open receive handle");
	need(dipc_stream_open(sname, DIPC_STREAM_WRITE, 4096, 0, &sw), "stream writer");
	need(dipc_stream_open(sname, DIPC_STREAM_READ, 4096, 0, &sr), "stream reader");

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		int def = probes[i].refused(DIPC_TIMEOUT_DEFAULT);
		int below = probes[i].refused(-3) && probes[i].refused(INT64_MIN);
		printf("%s %s %s\n", probes[i].name, def ? "refused" : "accepted",
		       below ? "refused" : "accepted");
	}

	dipc_stream_close(sw);
	dipc_stream_close(sr);
	dipc_sendh_destroy(tx);
	dipc_recvh_destroy(rx);
	dipc_channel_destroy(ch);
	dipc_pool_destroy(pool);
	return 0;
}

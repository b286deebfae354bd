/*
 * errors.c - every error path of the pool, memory, channel, handle and
 * message calls that needs no second process: bad arguments, names,
 * sizes and attributes, and corrupt, truncated, outdated and foreign
 * descriptors.  Also dipc_strerror, dipc_version and the log calls.
 */
#include "coretest.h"

#include <limits.h>

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

/* Descriptor layout of ABI version 1, which the forging below relies on:
 * every descriptor starts with a 32-bit magic and a 32-bit version; the
 * pool's and the memory descriptor's host id follows at byte 8; a channel
 * descriptor carries its pool's descriptor from byte 32 on. */
#define VER_AT       4
#define HOST_AT      8
#define CHAN_POOL_AT 32

int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 1;
}

static void test_strerror(void)
{
	const char *seen[32];
	int distinct = 1, named = 1;
	for (int c = 0; c >= DIPC_ERRNO_LAST; c--) {
		const char *s = dipc_strerror(c);
		if (!s || !*s || strcmp(s, "unknown error") == 0) {
			diag("code %d has no name", c);
			named = 0;
			continue;
		}
		for (int j = 0; j < -c; j++)
			if (strcmp(seen[j], s) == 0) {
				diag("codes %d and %d share the text \"%s\"", c, -j, s);
				distinct = 0;
			}
		seen[-c] = s;
	}
	ok(named, "dipc_strerror names every code from 0 to DIPC_ERRNO_LAST");
	ok(distinct, "and every name is different");
	ok(strstr(dipc_strerror(DIPC_ENAMETOOLONG), "long") != NULL,
	   "DIPC_ENAMETOOLONG: \"%s\"", dipc_strerror(DIPC_ENAMETOOLONG));
	ok(strstr(dipc_strerror(DIPC_ETIMEDOUT), "time") != NULL,
	   "DIPC_ETIMEDOUT: \"%s\"", dipc_strerror(DIPC_ETIMEDOUT));
	int unknown[] = { 1, 42, DIPC_ERRNO_LAST - 1, -1000, INT_MIN, INT_MAX };
	int all = 1;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		const char *s = dipc_strerror(unknown[i]);
		if (!s || strcmp(s, "unknown error") != 0)
			all = 0;
	}
	ok(all, "codes outside the range are \"unknown error\"");

	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", DIPC_VERSION_MAJOR,
		 DIPC_VERSION_MINOR, DIPC_VERSION_PATCH);
	ok(strcmp(dipc_version(), want) == 0, "dipc_version \"%s\" matches the header",
	   dipc_version());
}

struct logbook {
	int calls;
	int level;
	char last[256];
};

static void log_fn(int level, const char *message, void *arg)
{
	struct logbook *lb = arg;
	lb->calls++;
	lb->level = level;
	snprintf(lb->last, sizeof(lb->last), "%s", message);
}

static void test_log(void)
{
	struct logbook lb = { 0 };
	is_int(dipc_log_get_level(), DIPC_LOG_DISABLE, "logging is off by default");
	E(dipc_log_set_level(-1), DIPC_EINVAL);
	E(dipc_log_set_level(DIPC_LOG_ALL + 1), DIPC_EINVAL);
	is_int(dipc_log_get_level(), DIPC_LOG_DISABLE, "a refused level changes nothing");
	E(dipc_log_set_handler(log_fn, &lb), 0);

	dipc_pool *p;
	tc_pool_new("log0", 0x100000, &p);
	tc_pool_del(p);
	is_int(lb.calls, 0, "no log line while logging is off");

	E(dipc_log_set_level(DIPC_LOG_BASIC), 0);
	is_int(dipc_log_get_level(), DIPC_LOG_BASIC, "level now basic");
	const char *name = tc_pool_new("log1", 0x100000, &p);
	ok(lb.calls >= 1 && name && strstr(lb.last, name) != NULL,
	   "creating a pool logs a line naming it (\"%s\")", lb.last);
	is_int(lb.level, DIPC_LOG_BASIC, "at level basic");
	tc_pool_del(p);
	E(dipc_log_set_handler(NULL, NULL), 0);
	int before = lb.calls;
	E(dipc_log_set_level(DIPC_LOG_DISABLE), 0);
	tc_pool_new("log2", 0x100000, &p);
	tc_pool_del(p);
	is_int(lb.calls, before, "the handler is not called once removed");
}

static void test_attrs(void)
{
	struct dipc_pool_attr pa;
	struct dipc_channel_attr ca;
	struct dipc_handle_attr ha;
	E(dipc_pool_attr_init(NULL), DIPC_EINVAL);
	E(dipc_channel_attr_init(NULL), DIPC_EINVAL);
	E(dipc_handle_attr_init(NULL), DIPC_EINVAL);
	memset(&pa, 0x5a, sizeof(pa));
	E(dipc_pool_attr_init(&pa), 0);
	ok(pa.mode == 0600 && pa.flags == 0 && pa.uid == 0 && pa.max_allocs == 0 &&
	   pa.reserved[0] == 0 && pa.reserved[2] == 0,
	   "pool attr default: mode 0600, no flags, uid or limit, reserved zero");
	memset(&ca, 0x5a, sizeof(ca));
	E(dipc_channel_attr_init(&ca), 0);
	ok(ca.capacity == DIPC_CHANNEL_DEFAULT_CAPACITY &&
	   ca.block_size == DIPC_CHANNEL_DEFAULT_BLOCK_SIZE && ca.reserved[5] == 0,
	   "channel attr default: capacity 100, block 1024");
	memset(&ha, 0x5a, sizeof(ha));
	E(dipc_handle_attr_init(&ha), 0);
	ok(ha.wait_mode == DIPC_WAIT_ADAPTIVE && ha.default_timeout == DIPC_WAIT_FOREVER &&
	   ha.reserved0 == 0 && ha.reserved[5] == 0,
	   "handle attr default: adaptive, wait forever");
}

static void test_names(void)
{
	dipc_pool *p = (dipc_pool *)&p;
	char n63[64], n64[65], n200[201];
	memset(n63, 'a', 63);
	n63[63] = 0;
	memset(n64, 'b', 64);
	n64[64] = 0;
	memset(n200, 'c', 200);
	n200[200] = 0;
	const char *bad[] = { "", "/", "/abc", "a/b", "..", ".", ".hidden", "../x",
			      "a b", "a\nb", "a\\b", "caf\xc3\xa9", "a*", "a:b" };
	int all = 1, nulled = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = dipc_pool_create(bad[i], 0x100000, NULL, &p);
		int rc2 = dipc_pool_attach_name(bad[i], &p);
		if (rc != DIPC_EINVAL || rc2 != DIPC_EINVAL) {
			diag("name \"%s\": create %d, attach %d", bad[i], rc, rc2);
			all = 0;
			if (rc == 0)
				dipc_pool_destroy(p);
		}
		if (p)
			nulled = 0;
	}
	ok(all, "invalid names are refused with DIPC_EINVAL by create and attach_name");
	ok(nulled, "and the output handle is set to NULL");
	E(dipc_pool_create(NULL, 0x100000, NULL, &p), DIPC_EINVAL);
	E(dipc_pool_attach_name(NULL, &p), DIPC_EINVAL);
	E(dipc_pool_create(n64, 0x100000, NULL, &p), DIPC_ENAMETOOLONG);
	E(dipc_pool_create(n200, 0x100000, NULL, &p), DIPC_ENAMETOOLONG);
	E(dipc_pool_attach_name(n64, &p), DIPC_ENAMETOOLONG);

	/* The longest name is fine (63 bytes: suffix it to stay unique). */
	snprintf(n63 + 63 - 12, 13, "-%011ld", tc_getpid());
	int rc = dipc_pool_create(n63, 0x100000, NULL, &p);
	is_int(rc, 0, "a name of DIPC_NAME_MAX (63) bytes is accepted");
	if (rc == 0) {
		tc_pool_track(n63, p);
		dipc_pool *q = NULL;
		E(dipc_pool_attach_name(n63, &q), 0);
		if (q)
			dipc_pool_detach(q);
		E(tc_pool_del(p), 0);
	}
	const char *odd = t_name("a..b_C-9");
	rc = dipc_pool_create(odd, 0x100000, NULL, &p);
	is_int(rc, 0, "dots, dashes, underscores and capitals inside a name are fine");
	if (rc == 0) {
		tc_pool_track(odd, p);
		E(tc_pool_del(p), 0);
	}
	E(dipc_pool_attach_name(t_name("no-such-pool"), &p), DIPC_ENOENT);
}

static void test_pool_args(void)
{
	dipc_pool *p = NULL, *q = (dipc_pool *)&q;
	dipc_mem *m = (dipc_mem *)&m;
	struct dipc_pool_attr pa;
	struct dipc_pool_stats st;
	unsigned char buf[DIPC_SERIAL_MAX];
	const char *name = t_name("args");

	E(dipc_pool_create(name, 0x100000, NULL, NULL), DIPC_EINVAL);
	E(dipc_pool_create(name, 0, NULL, &q), DIPC_EINVAL);
	ok(q == NULL, "a refused create sets the handle to NULL");
	E(dipc_pool_create(name, SIZE_MAX, NULL, &q), DIPC_EINVAL);
	E(dipc_pool_create(name, ((size_t)1 << 46) + 1, NULL, &q), DIPC_EINVAL);
	dipc_pool_attr_init(&pa);
	pa.mode = 01777;
	E(dipc_pool_create(name, 0x100000, &pa, &q), DIPC_EINVAL);
	dipc_pool_attr_init(&pa);
	pa.reserved[1] = 1;
	E(dipc_pool_create(name, 0x100000, &pa, &q), DIPC_EINVAL);
	E(dipc_pool_attach_name(name, &q), DIPC_ENOENT);
	ok(q == NULL, "no pool was made by the refused calls");

	name = tc_pool_new("args", 1000, &p);
	ok(p != NULL, "a pool smaller than DIPC_POOL_MIN_SIZE is made");
	if (!p)
		return;
	E(dipc_pool_stats(p, &st), 0);
	ok(st.total >= DIPC_POOL_MIN_SIZE - 4096 && st.total <= DIPC_POOL_MIN_SIZE + 4096,
	   "rounded up to the minimum (%llu bytes usable)", (unsigned long long)st.total);
	E(dipc_pool_create(name, 0x100000, NULL, &q), DIPC_EEXIST);

	E(dipc_pool_destroy(NULL), DIPC_EINVAL);
	E(dipc_pool_detach(NULL), DIPC_EINVAL);
	E(dipc_pool_serialize(NULL, buf, sizeof(buf)), DIPC_EINVAL);
	E(dipc_pool_serialize(p, NULL, 10), DIPC_EINVAL);
	int need = dipc_pool_serialize(p, NULL, 0);
	ok(need > 0 && need <= DIPC_SERIAL_MAX, "serialize(NULL, 0) gives the length %d", need);
	E(dipc_pool_serialize(p, buf, (size_t)need - 1), DIPC_EMSGSIZE);
	E(dipc_pool_serialize(p, buf, 0), DIPC_EMSGSIZE);
	E(dipc_pool_attach(NULL, 10, &q), DIPC_EINVAL);
	E(dipc_pool_attach(buf, (size_t)need, NULL), DIPC_EINVAL);
	E(dipc_pool_attach_name(name, NULL), DIPC_EINVAL);
	E(dipc_pool_stats(NULL, &st), DIPC_EINVAL);
	E(dipc_pool_stats(p, NULL), DIPC_EINVAL);
	E(dipc_pool_reclaim(NULL), DIPC_EINVAL);

	E(dipc_pool_alloc(NULL, 64, &m), DIPC_EINVAL);
	ok(m == NULL, "a refused alloc sets the handle to NULL");
	E(dipc_pool_alloc(p, 64, NULL), DIPC_EINVAL);
	E(dipc_pool_alloc(p, 0, &m), DIPC_EINVAL);
	E(dipc_pool_alloc(p, SIZE_MAX, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc(p, SIZE_MAX - 63, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc(p, st.total, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc(p, (size_t)st.total + 1, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc_wait(p, 64, -2, &m), DIPC_EINVAL);
	E(dipc_pool_alloc_wait(p, 64, INT64_MIN, &m), DIPC_EINVAL);
	E(dipc_pool_alloc_wait(NULL, 64, 0, &m), DIPC_EINVAL);
	E(dipc_pool_alloc_wait(p, 0, 0, &m), DIPC_EINVAL);
	E(dipc_pool_alloc_wait(p, 64, 0, NULL), DIPC_EINVAL);
	/* A size no pool of this size can ever hold must not wait. */
	int64_t t0 = tc_now_ns();
	E(dipc_pool_alloc_wait(p, SIZE_MAX, DIPC_WAIT_FOREVER, &m), DIPC_ENOSPC);
	E(dipc_pool_alloc_wait(p, (size_t)st.total * 2, 5 * TC_SEC, &m), DIPC_ENOSPC);
	ok(tc_now_ns() - t0 < 2 * TC_SEC, "an impossible size fails at once, not after the wait");
	E(dipc_pool_stats(p, &st), 0);
	is_int(st.nallocs, 0, "no allocation was left by the refused calls");

	/* Memory handles. */
	void *ptr;
	size_t sz;
	dipc_mem *c = (dipc_mem *)&c;
	E(dipc_mem_get(NULL, &ptr, &sz), DIPC_EINVAL);
	E(dipc_mem_serialize(NULL, buf, sizeof(buf)), DIPC_EINVAL);
	E(dipc_mem_attach(p, buf, 48, NULL), DIPC_EINVAL);
	E(dipc_mem_attach(NULL, buf, 48, &m), DIPC_EINVAL);
	E(dipc_mem_attach(p, NULL, 48, &m), DIPC_EINVAL);
	E(dipc_mem_clone(NULL, 0, 0, &c), DIPC_EINVAL);
	ok(c == NULL, "a refused clone sets the handle to NULL");
	E(dipc_mem_free(NULL), DIPC_EINVAL);
	E(dipc_mem_detach(NULL), DIPC_EINVAL);
	E(dipc_pool_alloc(p, 100, &m), 0);
	E(dipc_mem_clone(m, 0, 0, NULL), DIPC_EINVAL);
	E(dipc_mem_clone(m, 101, 0, &c), DIPC_EINVAL);
	E(dipc_mem_clone(m, 50, 51, &c), DIPC_EINVAL);
	E(dipc_mem_clone(m, 1, SIZE_MAX, &c), DIPC_EINVAL);
	E(dipc_mem_clone(m, SIZE_MAX, 1, &c), DIPC_EINVAL);
	E(dipc_mem_serialize(m, NULL, 5), DIPC_EINVAL);
	need = dipc_mem_serialize(m, NULL, 0);
	ok(need > 0 && need <= DIPC_SERIAL_MAX, "mem serialize(NULL, 0) gives the length %d", need);
	E(dipc_mem_serialize(m, buf, (size_t)need - 1), DIPC_EMSGSIZE);
	E(dipc_mem_serialize(m, buf, sizeof(buf)), need);
	E(dipc_mem_attach(p, buf, (size_t)need - 1, &c), DIPC_EINVAL);
	E(dipc_mem_free(m), 0);
	E(dipc_mem_attach(p, buf, (size_t)need, &c), DIPC_EINVAL);
	ok(c == NULL, "a freed allocation's descriptor no longer attaches");

	/* Messages. */
	dipc_msg *msg = (dipc_msg *)&msg;
	E(dipc_msg_create_empty(NULL), DIPC_EINVAL);
	E(dipc_msg_create_alloc(p, 10, NULL), DIPC_EINVAL);
	E(dipc_msg_create_alloc(NULL, 10, &msg), DIPC_EINVAL);
	ok(msg == NULL, "a refused create_alloc sets the message to NULL");
	E(dipc_msg_create_alloc(p, 0, &msg), DIPC_EINVAL);
	E(dipc_msg_create_alloc(p, SIZE_MAX, &msg), DIPC_ENOSPC);
	E(dipc_msg_create_from_mem(NULL, &msg), DIPC_EINVAL);
	E(dipc_msg_create_from_mem((dipc_mem *)&c, NULL), DIPC_EINVAL);
	E(dipc_msg_get(NULL, &ptr, &sz), DIPC_EINVAL);
	E(dipc_msg_mem(NULL, &c), DIPC_EINVAL);
	E(dipc_msg_destroy(NULL, 1), DIPC_EINVAL);
	E(dipc_msg_create_empty(&msg), 0);
	E(dipc_msg_mem(msg, NULL), DIPC_EINVAL);
	c = (dipc_mem *)&c;
	E(dipc_msg_mem(msg, &c), DIPC_EINVAL);
	ok(c == NULL, "an empty message has no memory handle");
	E(dipc_msg_destroy(msg, 1), 0);
	E(dipc_pool_stats(p, &st), 0);
	is_int(st.nallocs, 0, "no allocation left");
	E(tc_pool_del(p), 0);
}

static void test_channel_args(void)
{
	dipc_pool *p;
	dipc_channel *ch = (dipc_channel *)&ch, *c2;
	struct dipc_channel_attr ca;
	struct dipc_pool_stats st;
	unsigned char buf[DIPC_SERIAL_MAX];
	uint64_t cuid;
	tc_pool_new("chargs", 0x100000, &p);
	if (!p)
		return;
	E(dipc_channel_create(p, 1, NULL, NULL), DIPC_EINVAL);
	E(dipc_channel_create(NULL, 1, NULL, &ch), DIPC_EINVAL);
	ok(ch == NULL, "a refused channel create sets the handle to NULL");
	dipc_channel_attr_init(&ca);
	ca.capacity = 0;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	ca.capacity = (uint64_t)DIPC_CHANNEL_MAX_CAPACITY + 1;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	ca.capacity = UINT64_MAX;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	dipc_channel_attr_init(&ca);
	ca.block_size = 0;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	ca.block_size = (uint64_t)DIPC_CHANNEL_MAX_BLOCK_SIZE + 1;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	dipc_channel_attr_init(&ca);
	ca.reserved[2] = 7;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_EINVAL);
	/* Valid, but far larger than the pool. */
	dipc_channel_attr_init(&ca);
	ca.capacity = DIPC_CHANNEL_MAX_CAPACITY;
	ca.block_size = DIPC_CHANNEL_MAX_BLOCK_SIZE;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_ENOSPC);
	ca.capacity = 2000;
	ca.block_size = 1024;
	E(dipc_channel_create(p, 1, &ca, &ch), DIPC_ENOSPC);
	E(dipc_pool_stats(p, &st), 0);
	ok(st.nchannels == 0 && st.nallocs == 0, "the refused creates left nothing in the pool");

	E(dipc_channel_create(p, 1, NULL, &ch), 0);
	E(dipc_channel_create(p, 1, NULL, &c2), DIPC_EEXIST);
	ok(c2 == NULL, "a duplicate cuid is refused with DIPC_EEXIST");
	E(dipc_channel_create(p, 2, NULL, &c2), 0);
	E(dipc_channel_destroy(c2), 0);

	E(dipc_channel_destroy(NULL), DIPC_EINVAL);
	E(dipc_channel_detach(NULL), DIPC_EINVAL);
	E(dipc_channel_serialize(NULL, buf, sizeof(buf)), DIPC_EINVAL);
	E(dipc_channel_serialize(ch, NULL, 4), DIPC_EINVAL);
	int need = dipc_channel_serialize(ch, NULL, 0);
	ok(need > 0 && need <= DIPC_SERIAL_MAX, "channel serialize(NULL, 0) gives the length %d", need);
	E(dipc_channel_serialize(ch, buf, (size_t)need - 1), DIPC_EMSGSIZE);
	E(dipc_channel_serialize(ch, buf, sizeof(buf)), need);
	E(dipc_channel_attach(NULL, (size_t)need, p, &c2), DIPC_EINVAL);
	E(dipc_channel_attach(buf, (size_t)need, p, NULL), DIPC_EINVAL);
	E(dipc_channel_count(NULL), DIPC_EINVAL);
	E(dipc_channel_capacity(NULL), DIPC_EINVAL);
	E(dipc_channel_block_size(NULL), DIPC_EINVAL);
	E(dipc_channel_cuid(NULL, &cuid), DIPC_EINVAL);
	E(dipc_channel_cuid(ch, NULL), DIPC_EINVAL);
	E(dipc_channel_pool(NULL, &p), DIPC_EINVAL);
	E(dipc_channel_pool(ch, NULL), DIPC_EINVAL);
	E(dipc_channel_poll(NULL, DIPC_POLL_READABLE, 0), DIPC_EINVAL);
	E(dipc_channel_poll(ch, 0, 0), DIPC_EINVAL);
	E(dipc_channel_poll(ch, 0x10, 0), DIPC_EINVAL);
	E(dipc_channel_poll(ch, DIPC_POLL_READABLE | 0x100, 0), DIPC_EINVAL);
	E(dipc_channel_poll(ch, DIPC_POLL_READABLE, -2), DIPC_EINVAL);
	E(dipc_channel_poll(ch, DIPC_POLL_READABLE, INT64_MIN), DIPC_EINVAL);

	/* Handles. */
	struct dipc_handle_attr ha;
	dipc_sendh *sh = (dipc_sendh *)&sh;
	dipc_recvh *rh = (dipc_recvh *)&rh;
	E(dipc_sendh_create(ch, NULL, NULL), DIPC_EINVAL);
	E(dipc_recvh_create(ch, NULL, NULL), DIPC_EINVAL);
	E(dipc_sendh_create(NULL, NULL, &sh), DIPC_EINVAL);
	ok(sh == NULL, "a refused sendh_create sets the handle to NULL");
	E(dipc_recvh_create(NULL, NULL, &rh), DIPC_EINVAL);
	ok(rh == NULL, "a refused recvh_create sets the handle to NULL");
	dipc_handle_attr_init(&ha);
	ha.wait_mode = 3;
	E(dipc_sendh_create(ch, &ha, &sh), DIPC_EINVAL);
	ha.wait_mode = -1;
	E(dipc_recvh_create(ch, &ha, &rh), DIPC_EINVAL);
	dipc_handle_attr_init(&ha);
	ha.default_timeout = -3;
	E(dipc_sendh_create(ch, &ha, &sh), DIPC_EINVAL);
	dipc_handle_attr_init(&ha);
	ha.default_timeout = DIPC_TIMEOUT_DEFAULT;
	E(dipc_recvh_create(ch, &ha, &rh), DIPC_EINVAL);
	dipc_handle_attr_init(&ha);
	ha.reserved0 = 1;
	E(dipc_sendh_create(ch, &ha, &sh), DIPC_EINVAL);
	dipc_handle_attr_init(&ha);
	ha.reserved[4] = 1;
	E(dipc_recvh_create(ch, &ha, &rh), DIPC_EINVAL);
	E(dipc_sendh_open(NULL), DIPC_EINVAL);
	E(dipc_sendh_close(NULL), DIPC_EINVAL);
	E(dipc_sendh_destroy(NULL), DIPC_EINVAL);
	E(dipc_recvh_open(NULL), DIPC_EINVAL);
	E(dipc_recvh_close(NULL), DIPC_EINVAL);
	E(dipc_recvh_destroy(NULL), DIPC_EINVAL);
	E(dipc_channel_detach(ch), 0);  /* the refused creates hold no handle */
	E(dipc_channel_attach(buf, (size_t)need, p, &ch), 0);

	E(dipc_sendh_create(ch, NULL, &sh), 0);
	E(dipc_recvh_create(ch, NULL, &rh), 0);
	size_t len = 99;
	char data[16] = "x";
	E(dipc_sendh_send_bytes(sh, data, 1, 0), DIPC_ENOTOPEN);
	E(dipc_recvh_recv_bytes(rh, data, sizeof(data), &len, 0), DIPC_ENOTOPEN);
	E(dipc_sendh_close(sh), DIPC_ENOTOPEN);
	E(dipc_recvh_close(rh), DIPC_ENOTOPEN);
	E(dipc_sendh_open(sh), 0);
	E(dipc_recvh_open(rh), 0);
	E(dipc_sendh_send_bytes(NULL, data, 1, 0), DIPC_EINVAL);
	E(dipc_sendh_send_bytes(sh, NULL, 1, 0), DIPC_EINVAL);
	E(dipc_sendh_send_bytes(sh, data, 1, -3), DIPC_EINVAL);
	E(dipc_recvh_recv_bytes(NULL, data, sizeof(data), &len, 0), DIPC_EINVAL);
	E(dipc_recvh_recv_bytes(rh, NULL, 5, &len, 0), DIPC_EINVAL);
	E(dipc_recvh_recv_bytes(rh, data, sizeof(data), NULL, 0), DIPC_EINVAL);
	E(dipc_recvh_recv_bytes(rh, data, sizeof(data), &len, -3), DIPC_EINVAL);

	dipc_msg *msg, *empty, *dest;
	dipc_pool *other;
	tc_pool_new("chargs2", 0x100000, &other);
	E(dipc_msg_create_alloc(p, 32, &msg), 0);
	E(dipc_msg_create_empty(&empty), 0);
	E(dipc_sendh_send(NULL, msg, NULL, DIPC_COPY_ON_SEND, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, NULL, NULL, DIPC_COPY_ON_SEND, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, msg, msg, DIPC_COPY_ON_SEND, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, msg, NULL, 2, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, msg, NULL, -1, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, msg, NULL, DIPC_COPY_ON_SEND, -3), DIPC_EINVAL);
	E(dipc_sendh_send(sh, empty, NULL, DIPC_TRANSFER_ON_SEND, 0), DIPC_EINVAL);
	E(dipc_sendh_send(sh, msg, empty, DIPC_COPY_ON_SEND, 0), DIPC_EINVAL);
	if (other) {
		E(dipc_msg_create_alloc(other, 32, &dest), 0);
		E(dipc_sendh_send(sh, msg, dest, DIPC_COPY_ON_SEND, 0), DIPC_EINVAL);
		E(dipc_sendh_send(sh, dest, NULL, DIPC_TRANSFER_ON_SEND, 0), DIPC_EINVAL);
		void *dp = NULL;
		size_t dsz = 0;
		dipc_msg_get(dest, &dp, &dsz);
		ok(dp != NULL && dsz == 32, "a refused transfer leaves the message whole");
		E(dipc_msg_destroy(dest, 1), 0);
	}
	E(dipc_recvh_recv(NULL, empty, 0), DIPC_EINVAL);
	E(dipc_recvh_recv(rh, NULL, 0), DIPC_EINVAL);
	E(dipc_recvh_recv(rh, empty, -3), DIPC_EINVAL);
	is_int(dipc_channel_count(ch), 0, "no refused call put a message in the channel");
	E(dipc_sendh_destroy(sh), 0);
	E(dipc_recvh_destroy(rh), 0);
	E(dipc_msg_destroy(msg, 1), 0);
	E(dipc_msg_destroy(empty, 1), 0);
	E(dipc_channel_destroy(ch), 0);
	E(dipc_pool_stats(p, &st), 0);
	ok(st.nallocs == 0 && st.nchannels == 0 && st.free == st.total,
	   "the pool is empty again");
	if (other)
		E(tc_pool_del(other), 0);
	E(tc_pool_del(p), 0);
}

/* A descriptor with one field changed. */
static void put64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static int error_ok(int rc)
{
	return rc == DIPC_EINVAL || rc == DIPC_EVERSION || rc == DIPC_EFOREIGN ||
	       rc == DIPC_ENOENT || rc == DIPC_ECORRUPT || rc == DIPC_ENAMETOOLONG;
}

static void test_pool_descriptors(void)
{
	dipc_pool *p, *q;
	unsigned char good[DIPC_SERIAL_MAX], b[DIPC_SERIAL_MAX];
	const char *name = tc_pool_new("pdesc", 0x100000, &p);
	if (!p)
		return;
	int n = dipc_pool_serialize(p, good, sizeof(good));
	ok(n > 32, "pool descriptor is %d bytes", n);

	E(dipc_pool_attach(good, (size_t)n, &q), 0);
	if (q)
		E(dipc_pool_detach(q), 0);
	E(dipc_pool_attach(good, (size_t)n - 1, &q), DIPC_EINVAL);
	E(dipc_pool_attach(good, 8, &q), DIPC_EINVAL);
	E(dipc_pool_attach(good, 0, &q), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[0] ^= 0x40;
	E(dipc_pool_attach(b, (size_t)n, &q), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[VER_AT] += 1;
	E(dipc_pool_attach(b, (size_t)n, &q), DIPC_EVERSION);
	memcpy(b, good, (size_t)n);
	put64(b + VER_AT - 4, (get64(b) & 0xffffffffu) | ((uint64_t)0xffff << 32));
	E(dipc_pool_attach(b, (size_t)n, &q), DIPC_EVERSION);
	memcpy(b, good, (size_t)n);
	put64(b + HOST_AT, get64(b + HOST_AT) ^ 0x0123456789abcdefull);
	E(dipc_pool_attach(b, (size_t)n, &q), DIPC_EFOREIGN);
	ok(q == NULL, "a foreign descriptor gives no handle");
	memcpy(b, good, (size_t)n);
	put64(b + 16, get64(b + 16) + 1);  /* the nonce */
	E(dipc_pool_attach(b, (size_t)n, &q), DIPC_ENOENT);

	/* The same name made anew is another pool: the old descriptor fails. */
	E(tc_pool_del(p), 0);
	E(dipc_pool_attach(good, (size_t)n, &q), DIPC_ENOENT);
	int rc = dipc_pool_create(name, 0x100000, NULL, &p);
	is_int(rc, 0, "the name can be used again");
	if (rc)
		return;
	tc_pool_track(name, p);
	E(dipc_pool_attach(good, (size_t)n, &q), DIPC_ENOENT);
	n = dipc_pool_serialize(p, good, sizeof(good));

	/* Flip bits everywhere: an error, or an attach to this very pool. */
	int bad = 0, same = 0, fails = 0;
	struct dipc_pool_stats s0, s1;
	dipc_pool_stats(p, &s0);
	static const unsigned char flips[] = { 0x01, 0x20, 0x80, 0xff };
	for (int i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(b, good, (size_t)n);
			b[i] ^= flips[f];
			rc = dipc_pool_attach(b, (size_t)n, &q);
			if (rc == 0) {
				dipc_pool_stats(q, &s1);
				if (s1.total == s0.total)
					same++;
				else
					bad++;
				dipc_pool_detach(q);
			} else if (error_ok(rc)) {
				fails++;
			} else {
				diag("byte %d ^ %#x: %s", i, flips[f], dipc_strerror(rc));
				bad++;
			}
		}
	}
	ok(bad == 0 && fails > 0, "corrupt pool descriptors: %d refused, %d still name the pool", fails, same);

	/* Random bytes of every length. */
	uint64_t seed = 12345;
	bad = 0;
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)(tc_rand(&seed) % (DIPC_SERIAL_MAX + 1));
		for (size_t j = 0; j < len; j++)
			b[j] = (unsigned char)tc_rand(&seed);
		if (i & 1)
			memcpy(b, good, len < 8 ? len : 8);  /* past the magic */
		rc = dipc_pool_attach(b, len, &q);
		if (rc == 0) {
			dipc_pool_detach(q);
			bad++;
		} else if (!error_ok(rc)) {
			bad++;
		}
	}
	ok(bad == 0, "3000 random descriptors are all refused");
	E(tc_pool_del(p), 0);
}

static void test_mem_descriptors(void)
{
	dipc_pool *p, *other;
	dipc_mem *m, *c;
	unsigned char good[DIPC_SERIAL_MAX], b[DIPC_SERIAL_MAX];
	tc_pool_new("mdesc", 0x100000, &p);
	tc_pool_new("mdesc2", 0x100000, &other);
	if (!p || !other)
		goto out;
	E(dipc_pool_alloc(p, 4096, &m), 0);
	unsigned char *base = tc_ptr(m);
	int n = dipc_mem_serialize(m, good, sizeof(good));
	ok(n >= 24, "memory descriptor is %d bytes", n);
	E(dipc_mem_attach(p, good, (size_t)n, &c), 0);
	ok(c && tc_ptr(c) == base, "it attaches to the same bytes");
	if (c)
		dipc_mem_detach(c);
	E(dipc_mem_attach(other, good, (size_t)n, &c), DIPC_EINVAL);
	ok(c == NULL, "a descriptor of another pool is refused");
	E(dipc_mem_attach(p, good, 0, &c), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[1] ^= 1;
	E(dipc_mem_attach(p, b, (size_t)n, &c), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[VER_AT] += 3;
	E(dipc_mem_attach(p, b, (size_t)n, &c), DIPC_EVERSION);
	memcpy(b, good, (size_t)n);
	put64(b + HOST_AT, ~get64(b + HOST_AT));
	E(dipc_mem_attach(p, b, (size_t)n, &c), DIPC_EFOREIGN);

	int bad = 0, fails = 0, inside = 0, rc;
	static const unsigned char flips[] = { 0x01, 0x08, 0x40, 0x80, 0xff };
	for (int i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(b, good, (size_t)n);
			b[i] ^= flips[f];
			rc = dipc_mem_attach(p, b, (size_t)n, &c);
			if (rc == 0) {
				unsigned char *cp = NULL;
				size_t csz = 0;
				dipc_mem_get(c, (void **)&cp, &csz);
				/* Descriptors are not signed: a changed one may name
				 * another range, but never outside the allocation. */
				if (cp >= base && csz <= 4096 && cp + csz <= base + 4096)
					inside++;
				else
					bad++;
				dipc_mem_detach(c);
			} else if (error_ok(rc)) {
				fails++;
			} else {
				diag("byte %d ^ %#x: %s", i, flips[f], dipc_strerror(rc));
				bad++;
			}
		}
	}
	ok(bad == 0 && fails > 0,
	   "corrupt memory descriptors: %d refused, %d within the allocation", fails, inside);
	uint64_t seed = 99;
	bad = 0;
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)(tc_rand(&seed) % (DIPC_SERIAL_MAX + 1));
		for (size_t j = 0; j < len; j++)
			b[j] = (unsigned char)tc_rand(&seed);
		if (i & 1)
			memcpy(b, good, len < 24 ? len : 24);  /* right pool, random place */
		rc = dipc_mem_attach(p, b, len, &c);
		if (rc == 0) {
			dipc_mem_detach(c);
			bad++;
		} else if (!error_ok(rc)) {
			bad++;
		}
	}
	ok(bad == 0, "3000 random memory descriptors are all refused");
	E(dipc_mem_free(m), 0);
out:
	if (p)
		E(tc_pool_del(p), 0);
	if (other)
		E(tc_pool_del(other), 0);
}

static void test_channel_descriptors(void)
{
	dipc_pool *p, *other;
	dipc_channel *ch, *c;
	unsigned char good[DIPC_SERIAL_MAX], b[DIPC_SERIAL_MAX];
	uint64_t cuid;
	tc_pool_new("cdesc", 0x100000, &p);
	tc_pool_new("cdesc2", 0x100000, &other);
	if (!p || !other)
		goto out;
	E(dipc_channel_create(p, 77, NULL, &ch), 0);
	int n = dipc_channel_serialize(ch, good, sizeof(good));
	ok(n > CHAN_POOL_AT, "channel descriptor is %d bytes", n);
	E(dipc_channel_attach(good, (size_t)n, p, &c), 0);
	if (c)
		dipc_channel_detach(c);
	E(dipc_channel_attach(good, (size_t)n, NULL, &c), 0);
	if (c)
		dipc_channel_detach(c);
	E(dipc_channel_attach(good, (size_t)n, other, &c), DIPC_EINVAL);
	ok(c == NULL, "a channel is refused in a pool that is not its own");
	E(dipc_channel_attach(good, (size_t)n - 1, NULL, &c), DIPC_EINVAL);
	E(dipc_channel_attach(good, 4, p, &c), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[2] ^= 0x10;
	E(dipc_channel_attach(b, (size_t)n, p, &c), DIPC_EINVAL);
	memcpy(b, good, (size_t)n);
	b[VER_AT] += 1;
	E(dipc_channel_attach(b, (size_t)n, p, &c), DIPC_EVERSION);
	memcpy(b, good, (size_t)n);
	b[CHAN_POOL_AT + VER_AT] += 1;
	E(dipc_channel_attach(b, (size_t)n, NULL, &c), DIPC_EVERSION);
	memcpy(b, good, (size_t)n);
	put64(b + CHAN_POOL_AT + HOST_AT, get64(b + CHAN_POOL_AT + HOST_AT) + 1);
	E(dipc_channel_attach(b, (size_t)n, NULL, &c), DIPC_EFOREIGN);
	E(dipc_channel_attach(b, (size_t)n, p, &c), DIPC_EFOREIGN);
	memcpy(b, good, (size_t)n);
	put64(b + 8, 78);  /* another cuid */
	E(dipc_channel_attach(b, (size_t)n, p, &c), DIPC_ENOENT);

	int bad = 0, same = 0, fails = 0, rc;
	static const unsigned char flips[] = { 0x01, 0x10, 0x80, 0xff };
	for (int i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			for (int withpool = 0; withpool < 2; withpool++) {
				memcpy(b, good, (size_t)n);
				b[i] ^= flips[f];
				rc = dipc_channel_attach(b, (size_t)n, withpool ? p : NULL, &c);
				if (rc == 0) {
					if (dipc_channel_cuid(c, &cuid) == 0 && cuid == 77)
						same++;
					else
						bad++;
					dipc_channel_detach(c);
				} else if (error_ok(rc)) {
					fails++;
				} else {
					diag("byte %d ^ %#x: %s", i, flips[f], dipc_strerror(rc));
					bad++;
				}
			}
		}
	}
	ok(bad == 0 && fails > 0,
	   "corrupt channel descriptors: %d refused, %d still name the channel", fails, same);
	uint64_t seed = 7;
	bad = 0;
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)(tc_rand(&seed) % (DIPC_SERIAL_MAX + 1));
		for (size_t j = 0; j < len; j++)
			b[j] = (unsigned char)tc_rand(&seed);
		if (i & 1)
			memcpy(b, good, len < 8 ? len : 8);
		if (i % 3 == 0 && len >= (size_t)n)
			memcpy(b + CHAN_POOL_AT, good + CHAN_POOL_AT, (size_t)n - CHAN_POOL_AT);
		rc = dipc_channel_attach(b, len, (i & 2) ? p : NULL, &c);
		if (rc == 0) {
			dipc_channel_detach(c);
			bad++;
		} else if (!error_ok(rc)) {
			bad++;
		}
	}
	ok(bad == 0, "3000 random channel descriptors are all refused");
	E(dipc_channel_destroy(ch), 0);
	E(dipc_channel_attach(good, (size_t)n, p, &c), DIPC_ENOENT);
	E(dipc_channel_attach(good, (size_t)n, NULL, &c), DIPC_ENOENT);
out:
	if (p)
		E(tc_pool_del(p), 0);
	if (other)
		E(tc_pool_del(other), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	test_strerror();
	test_log();
	test_attrs();
	test_names();
	test_pool_args();
	test_channel_args();
	test_pool_descriptors();
	test_mem_descriptors();
	test_channel_descriptors();
	return tc_finish();
}

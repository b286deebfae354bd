/*
 * sec_helper.c - the C side of t/security.sh (Linux).
 *
 *   sec_helper serve DIR     make pools, channels and streams of several
 *                            modes, write their names and descriptors to
 *                            DIR/desc, wait for DIR/stop, report what other
 *                            processes left in them, destroy everything
 *   sec_helper attack DIR    (run as another user) try every way in to
 *                            what serve made; print key=code lines
 *   sec_helper names         print key=code for bad names
 *   sec_helper forge         print key=code for descriptors patched to
 *                            another host or ABI version
 *   sec_helper attach HEX    attach a pool descriptor; print its code
 *
 * Every result is printed as "key=value" for the script to check.  The
 * descriptor byte offsets are those of ABI 1 (lib/pool.c, lib/channel.c).
 */
#include <dragonipc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void t_hex(const void *buf, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * len] = 0;
}

static size_t t_unhex(const char *s, void *buf, size_t cap)
{
	unsigned char *b = buf;
	size_t n = 0;
	unsigned v;
	while (s[0] && s[1] && n < cap && sscanf(s, "%2x", &v) == 1) {
		b[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

#define VER_AT       4     /* every descriptor: magic u32, version u32 */
#define HOST_AT      8     /* pool and memory descriptors */
#define CHAN_POOL_AT 32    /* a channel descriptor holds its pool's from here */

static void put_code(const char *key, long long rc)
{
	printf("%s=%lld\n", key, rc);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int pool_mode(const char *name, unsigned mode, dipc_pool **p)
{
	struct dipc_pool_attr a;
	dipc_pool_attr_init(&a);
	a.mode = mode;
	return dipc_pool_create(name, 0x100000, mode ? &a : NULL, p);
}

static void hex_line(FILE *f, const char *key, const void *buf, int n)
{
	char hex[2 * DIPC_SERIAL_MAX + 1];
	if (n < 0)
		n = 0;
	t_hex(buf, (size_t)n, hex);
	fprintf(f, "%s %s\n", key, hex);
}

/* ---- serve ---------------------------------------------------------------- */

static int serve(const char *dir)
{
	char base[32], n[6][80], path[512];
	snprintf(base, sizeof(base), "t-sec-%ld", (long)getpid());
	static const char *const tag[6] = { "p0", "p60", "p44", "p66", "s0", "s60" };
	for (int i = 0; i < 6; i++)
		snprintf(n[i], sizeof(n[i]), "%s-%s", base, tag[i]);

	dipc_pool *p0 = NULL, *p60 = NULL, *p44 = NULL, *p66 = NULL;
	dipc_channel *c0 = NULL, *c60 = NULL, *c66 = NULL;
	dipc_stream *s0 = NULL, *s60 = NULL;
	int rc = 0;

	/* Defaults under the most permissive umask: still owner-only. */
	umask(0);
	rc |= pool_mode(n[0], 0, &p0);
	rc |= dipc_stream_open(n[4], DIPC_STREAM_READ, 256, 0, &s0);
	/* Wider modes asked under the most restrictive umask: given as asked. */
	umask(077);
	rc |= pool_mode(n[1], 0660, &p60);
	rc |= pool_mode(n[2], 0644, &p44);
	rc |= pool_mode(n[3], 0666, &p66);
	rc |= dipc_stream_open(n[5], DIPC_STREAM_READ, 256, 0660, &s60);
	umask(022);
	if (rc == 0)
		rc |= dipc_channel_create(p0, 1, NULL, &c0) |
		      dipc_channel_create(p60, 1, NULL, &c60) |
		      dipc_channel_create(p66, 1, NULL, &c66);
	if (rc) {
		fprintf(stderr, "sec_helper serve: set-up failed\n");
		goto out;
	}

	unsigned char b[DIPC_SERIAL_MAX];
	snprintf(path, sizeof(path), "%s/desc.tmp", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = 1;
		goto out;
	}
	for (int i = 0; i < 6; i++)
		fprintf(f, "name_%s %s\n", tag[i], n[i]);
	hex_line(f, "pool_p0", b, dipc_pool_serialize(p0, b, sizeof(b)));
	hex_line(f, "pool_p60", b, dipc_pool_serialize(p60, b, sizeof(b)));
	hex_line(f, "chan_p0", b, dipc_channel_serialize(c0, b, sizeof(b)));
	hex_line(f, "chan_p60", b, dipc_channel_serialize(c60, b, sizeof(b)));
	hex_line(f, "chan_p66", b, dipc_channel_serialize(c66, b, sizeof(b)));
	fclose(f);
	char final[512];
	snprintf(final, sizeof(final), "%s/desc", dir);
	rename(path, final);   /* readers never see half a file */

	/* Wait for the script to say it is done (5 minutes at most). */
	snprintf(path, sizeof(path), "%s/stop", dir);
	for (int i = 0; i < 30000 && access(path, F_OK) != 0; i++)
		sleep_ms(10);

	/* What others managed to leave: they must have got in only where
	 * the mode let them. */
	put_code("served_p0_msgs", dipc_channel_count(c0));
	put_code("served_p60_msgs", dipc_channel_count(c60));
	put_code("served_p66_msgs", dipc_channel_count(c66));
	char data[64] = { 0 };
	long long got = dipc_stream_read(s0, data, sizeof(data) - 1, DIPC_TRY_ONCE);
	put_code("served_s0_bytes", got);
	memset(data, 0, sizeof(data));
	got = dipc_stream_read(s60, data, sizeof(data) - 1, DIPC_TRY_ONCE);
	put_code("served_s60_bytes", got);
	printf("served_s60_data=%s\n", got > 0 ? data : "");
out:
	if (c0)
		dipc_channel_destroy(c0);
	if (c60)
		dipc_channel_destroy(c60);
	if (c66)
		dipc_channel_destroy(c66);
	if (s0)
		dipc_stream_close(s0);
	if (s60)
		dipc_stream_close(s60);
	if (p0)
		dipc_pool_destroy(p0);
	if (p60)
		dipc_pool_destroy(p60);
	if (p44)
		dipc_pool_destroy(p44);
	if (p66)
		dipc_pool_destroy(p66);
	return rc ? 1 : 0;
}

/* ---- attack ----------------------------------------------------------------- */

struct desc {
	char key[32];
	char val[2 * DIPC_SERIAL_MAX + 1];
};

static const char *lookup(struct desc *d, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(d[i].key, key) == 0)
			return d[i].val;
	return "";
}

static int attach_hex(const char *hex, dipc_pool **p)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_pool_attach(b, n, p);
}

static int chan_hex(const char *hex, dipc_channel **c)
{
	unsigned char b[DIPC_SERIAL_MAX];
	size_t n = t_unhex(hex, b, sizeof(b));
	return dipc_channel_attach(b, n, NULL, c);
}

/* Attach a channel by descriptor and send one message into it. */
static int send_into(const char *hex)
{
	dipc_channel *c = NULL;
	dipc_sendh *h = NULL;
	int rc = chan_hex(hex, &c);
	if (rc)
		return rc;
	rc = dipc_sendh_create(c, NULL, &h);
	if (rc == 0)
		rc = dipc_sendh_open(h);
	if (rc == 0)
		rc = dipc_sendh_send_bytes(h, "from-other", 10, DIPC_TRY_ONCE);
	if (h)
		dipc_sendh_destroy(h);
	dipc_channel_detach(c);
	return rc;
}

static int try_pool_name(const char *name)
{
	dipc_pool *p = NULL;
	int rc = dipc_pool_attach_name(name, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	return rc;
}

static int try_pool_desc(const char *hex)
{
	dipc_pool *p = NULL;
	int rc = attach_hex(hex, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	return rc;
}

static int try_stream(const char *name, int role, const char *data)
{
	dipc_stream *s = NULL;
	int rc = dipc_stream_open(name, role, 256, 0, &s);
	if (rc)
		return rc;
	if (data && dipc_stream_write(s, data, strlen(data), DIPC_TRY_ONCE) != (int64_t)strlen(data))
		rc = 1;
	dipc_stream_close(s);
	return rc;
}

static int attack(const char *dir)
{
	struct desc d[16];
	int n = 0;
	char path[512], line[1024];
	snprintf(path, sizeof(path), "%s/desc", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "sec_helper attack: cannot read %s\n", path);
		return 1;
	}
	while (n < 16 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %512s", d[n].key, d[n].val) == 2)
			n++;
	fclose(f);
	printf("uid=%ld\n", (long)getuid());

	put_code("pool_p0_by_name", try_pool_name(lookup(d, n, "name_p0")));
	put_code("pool_p0_by_desc", try_pool_desc(lookup(d, n, "pool_p0")));
	put_code("chan_p0_send", send_into(lookup(d, n, "chan_p0")));
	put_code("pool_p44_by_name", try_pool_name(lookup(d, n, "name_p44")));
	put_code("pool_p60_by_name", try_pool_name(lookup(d, n, "name_p60")));
	put_code("pool_p60_by_desc", try_pool_desc(lookup(d, n, "pool_p60")));
	put_code("chan_p60_send", send_into(lookup(d, n, "chan_p60")));
	put_code("chan_p66_send", send_into(lookup(d, n, "chan_p66")));
	/* Taking a name that exists is refused as taken, not overwritten. */
	dipc_pool *p = NULL;
	int rc = dipc_pool_create(lookup(d, n, "name_p0"), 4096, NULL, &p);
	if (rc == 0)
		dipc_pool_detach(p);    /* never destroy what is not ours */
	put_code("pool_p0_create", rc);
	put_code("stream_s0_write", try_stream(lookup(d, n, "name_s0"), DIPC_STREAM_WRITE, "x"));
	put_code("stream_s0_read", try_stream(lookup(d, n, "name_s0"), DIPC_STREAM_READ, NULL));
	put_code("stream_s0_unlink", dipc_stream_unlink(lookup(d, n, "name_s0")));
	put_code("stream_s60_write", try_stream(lookup(d, n, "name_s60"), DIPC_STREAM_WRITE, "hello"));
	return 0;
}

/* ---- names ------------------------------------------------------------------ */

static int names(void)
{
	char longest[DIPC_NAME_MAX + 2], over[300];
	memset(longest, 'n', DIPC_NAME_MAX + 1);
	longest[DIPC_NAME_MAX + 1] = 0;
	memset(over, 'o', sizeof(over) - 1);
	over[sizeof(over) - 1] = 0;
	static const struct { const char *key, *name; } bad[] = {
		{ "empty", "" }, { "slash", "a/b" }, { "lead_slash", "/x" }, { "dotdot", ".." },
		{ "dotdot_path", "../etc" }, { "dot", "." }, { "trail_slash", "x/" },
		{ "backslash", "a\\b" }, { "newline", "a\nb" }, { "hidden", ".x" },
		{ "space", "a b" }, { "utf8", "\xc3\xa9" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 2; i++) {
		const char *key = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].key
				  : i == sizeof(bad) / sizeof(bad[0]) ? "over_max" : "far_over_max";
		const char *name = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].name
				   : i == sizeof(bad) / sizeof(bad[0]) ? longest : over;
		dipc_pool *p = NULL;
		dipc_stream *s = NULL;
		char k[64];
		int rc = dipc_pool_create(name, 4096, NULL, &p);
		if (rc == 0)
			dipc_pool_destroy(p);
		snprintf(k, sizeof(k), "pool_create_%s", key);
		put_code(k, rc);
		rc = dipc_pool_attach_name(name, &p);
		if (rc == 0)
			dipc_pool_detach(p);
		snprintf(k, sizeof(k), "pool_attach_%s", key);
		put_code(k, rc);
		rc = dipc_stream_open(name, DIPC_STREAM_READ, 64, 0, &s);
		if (rc == 0)
			dipc_stream_close(s);
		snprintf(k, sizeof(k), "stream_open_%s", key);
		put_code(k, rc);
		snprintf(k, sizeof(k), "stream_unlink_%s", key);
		put_code(k, dipc_stream_unlink(name));
	}
	return 0;
}

/* ---- forge ------------------------------------------------------------------ */

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

static int forge(void)
{
	char name[64];
	snprintf(name, sizeof(name), "t-sec-forge-%ld", (long)getpid());
	dipc_pool *p = NULL, *q = NULL;
	dipc_channel *c = NULL, *c2 = NULL;
	dipc_mem *m = NULL, *m2 = NULL;
	if (dipc_pool_create(name, 0x100000, NULL, &p) || dipc_channel_create(p, 5, NULL, &c) ||
	    dipc_pool_alloc(p, 128, &m)) {
		fprintf(stderr, "sec_helper forge: set-up failed\n");
		if (p)
			dipc_pool_destroy(p);
		return 1;
	}
	unsigned char pd[DIPC_SERIAL_MAX], cd[DIPC_SERIAL_MAX], md[DIPC_SERIAL_MAX];
	unsigned char b[DIPC_SERIAL_MAX];
	int pn = dipc_pool_serialize(p, pd, sizeof(pd));
	int cn = dipc_channel_serialize(c, cd, sizeof(cd));
	int mn = dipc_mem_serialize(m, md, sizeof(md));
	char hex[2 * DIPC_SERIAL_MAX + 1];
	t_hex(pd, (size_t)pn, hex);
	printf("pool_desc=%s\n", hex);

	/* Unchanged, they attach: the patched ones fail for the patch alone. */
	int rc = dipc_pool_attach(pd, (size_t)pn, &q);
	if (rc == 0)
		dipc_pool_detach(q);
	put_code("pool_genuine", rc);
	memcpy(b, pd, (size_t)pn);
	put64(b + HOST_AT, get64(b + HOST_AT) ^ 1);
	put_code("pool_other_host", dipc_pool_attach(b, (size_t)pn, &q));
	memcpy(b, pd, (size_t)pn);
	b[VER_AT] ^= 0x02;
	put_code("pool_other_abi", dipc_pool_attach(b, (size_t)pn, &q));

	rc = dipc_channel_attach(cd, (size_t)cn, NULL, &c2);
	if (rc == 0)
		dipc_channel_detach(c2);
	put_code("chan_genuine", rc);
	memcpy(b, cd, (size_t)cn);
	put64(b + CHAN_POOL_AT + HOST_AT, get64(b + CHAN_POOL_AT + HOST_AT) + 7);
	put_code("chan_other_host", dipc_channel_attach(b, (size_t)cn, NULL, &c2));
	put_code("chan_other_host_with_pool", dipc_channel_attach(b, (size_t)cn, p, &c2));
	memcpy(b, cd, (size_t)cn);
	b[VER_AT] = 99;
	put_code("chan_other_abi", dipc_channel_attach(b, (size_t)cn, p, &c2));
	memcpy(b, cd, (size_t)cn);
	b[CHAN_POOL_AT + VER_AT] = 99;
	put_code("chan_pool_other_abi", dipc_channel_attach(b, (size_t)cn, NULL, &c2));

	rc = dipc_mem_attach(p, md, (size_t)mn, &m2);
	if (rc == 0)
		dipc_mem_detach(m2);
	put_code("mem_genuine", rc);
	memcpy(b, md, (size_t)mn);
	put64(b + HOST_AT, 0);
	put_code("mem_other_host", dipc_mem_attach(p, b, (size_t)mn, &m2));
	memcpy(b, md, (size_t)mn);
	b[VER_AT + 3] = 0x80;
	put_code("mem_other_abi", dipc_mem_attach(p, b, (size_t)mn, &m2));
	fflush(stdout);

	/* Keep the pool for "attach" run elsewhere until the script says stop
	 * (stdin closed), then clean up. */
	char buf[16];
	while (fgets(buf, sizeof(buf), stdin))
		;
	dipc_mem_free(m);
	dipc_channel_destroy(c);
	dipc_pool_destroy(p);
	return 0;
}

static int attach(const char *hex)
{
	dipc_pool *p = NULL;
	int rc = attach_hex(hex, &p);
	if (rc == 0)
		dipc_pool_detach(p);
	put_code("attach", rc);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 3 && strcmp(argv[1], "attack") == 0)
		return attack(argv[2]);
	if (argc == 2 && strcmp(argv[1], "names") == 0)
		return names();
	if (argc == 2 && strcmp(argv[1], "forge") == 0)
		return forge();
	if (argc == 3 && strcmp(argv[1], "attach") == 0)
		return attach(argv[2]);
	fprintf(stderr, "usage: sec_helper serve DIR | attack DIR | names | forge | attach HEX\n");
	return 2;
}

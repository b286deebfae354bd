/*
 * mem.c - memory descriptors and messages: serialize, attach, clone
 * sub-ranges, detach versus free, and the same bytes seen both ways
 * between two processes; the message constructors and accessors.
 */
#include "coretest.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

#define BIG   65536
#define SUB_OFF 1000
#define SUB_LEN 5000

/* Where a child leaves a descriptor of its own for the parent. */
struct mem_book {
	_Atomic uint64_t state;
	uint32_t len;
	unsigned char mem[DIPC_SERIAL_MAX];
	uint32_t clone_len;
	unsigned char clone[DIPC_SERIAL_MAX];
};

int t_child(const char *role, const char *arg)
{
	char ph[TC_HEX_MAX], mh[TC_HEX_MAX], ch[TC_HEX_MAX], bh[TC_HEX_MAX];
	const char *a = arg;
	dipc_pool *p;
	dipc_mem *m, *c, *bm, *mine, *sub;
	tc_field(&a, ph, sizeof(ph));
	tc_field(&a, mh, sizeof(mh));
	tc_field(&a, ch, sizeof(ch));
	tc_field(&a, bh, sizeof(bh));
	if (strcmp(role, "peer") != 0)
		return 1;
	if (tc_attach_pool_hex(ph, &p))
		return 10;
	if (tc_attach_mem_hex(p, mh, &m) || tc_attach_mem_hex(p, ch, &c) ||
	    tc_attach_mem_hex(p, bh, &bm))
		return 11;
	size_t sz;
	unsigned char *ptr, *cptr;
	dipc_mem_get(m, (void **)&ptr, &sz);
	if (sz != BIG || !tc_check(ptr, BIG, 1))
		return 12;  /* the parent's bytes are visible */
	dipc_mem_get(c, (void **)&cptr, &sz);
	if (sz != SUB_LEN || cptr != ptr + SUB_OFF)
		return 13;  /* a clone's descriptor names its sub-range */
	tc_fill(cptr, SUB_LEN, 2);  /* write through the clone */

	/* Make an allocation and a clone of it for the parent to attach. */
	struct mem_book *bk = tc_ptr(bm);
	if (dipc_pool_alloc(p, 20000, &mine))
		return 14;
	tc_fill(tc_ptr(mine), 20000, 3);
	if (dipc_mem_clone(mine, 100, 300, &sub))
		return 15;
	bk->len = (uint32_t)dipc_mem_serialize(mine, bk->mem, sizeof(bk->mem));
	bk->clone_len = (uint32_t)dipc_mem_serialize(sub, bk->clone, sizeof(bk->clone));
	atomic_store(&bk->state, 1);
	/* Wait for the parent to write into it, then check what it wrote. */
	int64_t end = tc_now_ns() + 20 * TC_SEC;
	while (atomic_load(&bk->state) != 2) {
		if (tc_now_ns() > end)
			return 16;
		tc_sleep_ms(1);
	}
	if (!tc_check(tc_ptr(sub), 300, 4))
		return 17;
	dipc_mem_detach(sub);
	dipc_mem_detach(mine);  /* the parent frees it */
	dipc_mem_detach(m);
	dipc_mem_detach(c);
	dipc_mem_detach(bm);
	dipc_pool_detach(p);
	return 0;
}

/* Do bytes [from, to) of buf still hold what tc_fill(buf, ..., seed) put? */
static int filled_at(const unsigned char *buf, size_t from, size_t to, uint64_t seed)
{
	unsigned char *want = malloc(to);
	if (!want)
		return 0;
	tc_fill(want, to, seed);
	int same = memcmp(buf + from, want + from, to - from) == 0;
	free(want);
	return same;
}

static void test_local(void)
{
	dipc_pool *p;
	dipc_mem *m, *a, *c, *cc, *z;
	struct dipc_pool_stats s0, s;
	unsigned char d[DIPC_SERIAL_MAX];
	tc_pool_new("mem", 1 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	E(dipc_pool_alloc(p, 10000, &m), 0);
	unsigned char *base = tc_ptr(m);
	tc_fill(base, 10000, 5);
	int n = dipc_mem_serialize(m, d, sizeof(d));
	ok(n > 0 && n <= DIPC_SERIAL_MAX, "serialize: %d bytes", n);
	is_int(dipc_mem_serialize(m, NULL, 0), n, "the length query agrees");
	E(dipc_mem_attach(p, d, (size_t)n, &a), 0);
	size_t sz = 0;
	void *ptr = NULL;
	dipc_mem_get(a, &ptr, &sz);
	ok(ptr == base && sz == 10000, "attach gives the same bytes and size");

	/* Clones. */
	E(dipc_mem_clone(m, 2000, 3000, &c), 0);
	dipc_mem_get(c, &ptr, &sz);
	ok(ptr == base + 2000 && sz == 3000, "clone [2000, 5000) points inside");
	E(dipc_mem_clone(c, 100, 200, &cc), 0);
	dipc_mem_get(cc, &ptr, &sz);
	ok(ptr == base + 2100 && sz == 200, "a clone of a clone is relative to it");
	E(dipc_mem_clone(c, 0, 3001, &z), DIPC_EINVAL);
	E(dipc_mem_clone(c, 3001, 0, &z), DIPC_EINVAL);
	E(dipc_mem_clone(c, 3000, 0, &z), 0);
	dipc_mem_get(z, &ptr, &sz);
	ok(sz == 0 && ptr == base + 5000, "an empty clone at the end is allowed");
	dipc_mem_detach(z);
	E(dipc_mem_clone(m, 0, 10000, &z), 0);
	dipc_mem_get(z, &ptr, &sz);
	ok(ptr == base && sz == 10000, "a clone of the whole range");
	dipc_mem_detach(z);
	n = dipc_mem_serialize(cc, d, sizeof(d));
	E(dipc_mem_attach(p, d, (size_t)n, &z), 0);
	dipc_mem_get(z, &ptr, &sz);
	ok(ptr == base + 2100 && sz == 200, "a clone's descriptor attaches to its sub-range");
	ok(tc_check(base, 10000, 5), "no clone changed the bytes");
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs + 1, "clones and attaches are not allocations");

	/* Detach leaves the allocation; free of any handle frees it whole. */
	E(dipc_mem_detach(z), 0);
	E(dipc_mem_detach(a), 0);
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs + 1, "detach leaves the allocation");
	n = dipc_mem_serialize(m, d, sizeof(d));
	E(dipc_mem_detach(m), 0);
	E(dipc_mem_attach(p, d, (size_t)n, &m), 0);
	ok(m && tc_check(tc_ptr(m), 10000, 5), "it can be attached again after every handle went");
	dipc_mem_detach(m);
	E(dipc_mem_free(cc), 0);  /* through a clone */
	dipc_pool_stats(p, &s);
	ok(s.nallocs == s0.nallocs && s.free == s0.free, "freeing a clone frees the whole allocation");
	E(dipc_mem_attach(p, d, (size_t)n, &a), DIPC_EINVAL);
	dipc_mem_detach(c);
	E(tc_pool_del(p), 0);
}

static void test_msg(void)
{
	dipc_pool *p;
	dipc_msg *msg;
	dipc_mem *m, *mm;
	struct dipc_pool_stats s0, s;
	void *ptr;
	size_t sz;
	tc_pool_new("msg", 1 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	E(dipc_msg_create_empty(&msg), 0);
	ptr = (void *)1;
	sz = 7;
	E(dipc_msg_get(msg, &ptr, &sz), 0);
	ok(ptr == NULL && sz == 0, "an empty message has no payload");
	E(dipc_msg_get(msg, NULL, NULL), 0);
	E(dipc_msg_destroy(msg, 0), 0);

	E(dipc_msg_create_alloc(p, 777, &msg), 0);
	E(dipc_msg_get(msg, &ptr, &sz), 0);
	ok(ptr != NULL && sz == 777, "create_alloc: a 777-byte payload");
	E(dipc_msg_mem(msg, &m), 0);
	ok(m && tc_ptr(m) == ptr, "msg_mem is the allocation behind it");
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs + 1, "one allocation");
	tc_fill(ptr, 777, 8);
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_mem_serialize(m, d, sizeof(d));
	E(dipc_msg_destroy(msg, 0), 0);
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs + 1, "destroy without free_mem keeps the allocation");
	E(dipc_mem_attach(p, d, (size_t)n, &m), 0);
	ok(m && tc_check(tc_ptr(m), 777, 8), "which still holds the payload");

	E(dipc_msg_create_from_mem(m, &msg), 0);
	E(dipc_msg_get(msg, &ptr, &sz), 0);
	ok(ptr == tc_ptr(m) && sz == 777, "create_from_mem wraps the handle");
	E(dipc_msg_mem(msg, &mm), 0);
	ok(mm == m, "and takes it over");
	E(dipc_msg_destroy(msg, 1), 0);
	dipc_pool_stats(p, &s);
	ok(s.nallocs == s0.nallocs && s.free == s0.free, "destroy with free_mem frees it");

	/* A message of a clone carries the sub-range. */
	dipc_mem *c;
	E(dipc_pool_alloc(p, 4096, &m), 0);
	E(dipc_mem_clone(m, 64, 128, &c), 0);
	E(dipc_msg_create_from_mem(c, &msg), 0);
	E(dipc_msg_get(msg, &ptr, &sz), 0);
	ok(ptr == (char *)tc_ptr(m) + 64 && sz == 128, "a message of a clone is its sub-range");
	E(dipc_msg_destroy(msg, 0), 0);
	E(dipc_mem_free(m), 0);
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, s0.nallocs, "all freed");
	E(tc_pool_del(p), 0);
}

static void test_two_processes(void)
{
	dipc_pool *p;
	dipc_mem *m, *c, *bm;
	struct dipc_pool_stats s0, s;
	char arg[5 * TC_HEX_MAX], ph[TC_HEX_MAX], mh[TC_HEX_MAX], ch[TC_HEX_MAX], bh[TC_HEX_MAX];
	tc_pool_new("mem2", 1 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	E(dipc_pool_alloc(p, BIG, &m), 0);
	E(dipc_pool_alloc(p, sizeof(struct mem_book), &bm), 0);
	memset(tc_ptr(bm), 0, sizeof(struct mem_book));
	unsigned char *base = tc_ptr(m);
	tc_fill(base, BIG, 1);
	E(dipc_mem_clone(m, SUB_OFF, SUB_LEN, &c), 0);
	tc_hex_pool(p, ph);
	tc_hex_mem(m, mh);
	tc_hex_mem(c, ch);
	tc_hex_mem(bm, bh);
	snprintf(arg, sizeof(arg), "%s:%s:%s:%s", ph, mh, ch, bh);
	t_pid kid = tc_spawn("peer", arg);
	struct mem_book *bk = tc_ptr(bm);
	int ready = tc_wait_flag(&bk->state, 1, 20);
	ok(ready, "the child attached the pool by descriptor and made its own allocation");
	if (ready) {
		ok(tc_check(base + SUB_OFF, SUB_LEN, 2),
		   "the child's writes through a clone land in the parent's sub-range");
		ok(filled_at(base, 0, SUB_OFF, 1), "the bytes before it are still the parent's");
		dipc_pool_stats(p, &s);
		is_int(s.nallocs, s0.nallocs + 3, "the child's allocation shows in the parent's stats");
		dipc_mem *theirs, *tsub;
		E(dipc_mem_attach(p, bk->mem, bk->len, &theirs), 0);
		E(dipc_mem_attach(p, bk->clone, bk->clone_len, &tsub), 0);
		if (theirs && tsub) {
			size_t sz;
			void *ptr;
			dipc_mem_get(theirs, &ptr, &sz);
			ok(sz == 20000 && tc_check(ptr, 20000, 3), "the parent sees the child's bytes");
			dipc_mem_get(tsub, NULL, &sz);
			ok(tc_ptr(tsub) == (char *)ptr + 100 && sz == 300,
			   "and the child's clone descriptor names the same sub-range here");
			tc_fill(tc_ptr(tsub), 300, 4);
			atomic_store(&bk->state, 2);
			is_int(tc_reap(kid, 20), 0, "the child saw the parent's writes");
			kid = 0;
			dipc_mem_detach(tsub);
			E(dipc_mem_free(theirs), 0);
		}
	}
	if (kid)
		tc_kill(kid);
	ok(filled_at(base, SUB_OFF + SUB_LEN, BIG, 1), "the bytes after the sub-range are untouched");
	dipc_mem_detach(c);
	dipc_mem_free(m);
	dipc_mem_free(bm);
	dipc_pool_stats(p, &s);
	ok(s.nallocs == s0.nallocs && s.free == s0.free, "everything freed");
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	test_local();
	test_msg();
	test_two_processes();
	return tc_finish();
}

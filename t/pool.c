/*
 * pool.c - memory pools: create, attach, stats, allocation and free,
 * exhaustion and waiting for room (woken by another process), reclaim of
 * a dead process's allocations, and the allocator under several threads
 * and processes at once.
 */
#include "coretest.h"

#ifndef _WIN32
# include <sys/stat.h>
#endif

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)

/* What a "hold" child leaves for the parent to find. */
struct hold_book {
	_Atomic uint64_t ready;
	uint32_t nmem;
	uint32_t chan_len;
	unsigned char chan[DIPC_SERIAL_MAX];
	unsigned char mem[8][64];
};

/* Allocate, fill, check and free at random; returns the failures. */
static int churn(dipc_pool *p, int iters, uint64_t seed)
{
	dipc_mem *live[16] = { 0 };
	uint64_t tag[16];
	int fails = 0;
	for (int i = 0; i < iters; i++) {
		int k = (int)(tc_rand(&seed) % 16);
		if (live[k]) {
			size_t sz;
			void *ptr;
			dipc_mem_get(live[k], &ptr, &sz);
			if (!tc_check(ptr, sz, tag[k]))
				fails++;
			if (dipc_mem_free(live[k]))
				fails++;
			live[k] = NULL;
			continue;
		}
		size_t sz = 1 + (size_t)(tc_rand(&seed) % 9000);
		int rc = dipc_pool_alloc_wait(p, sz, 5 * TC_SEC, &live[k]);
		if (rc) {
			fails++;
			live[k] = NULL;
			continue;
		}
		void *ptr = tc_ptr(live[k]);
		if (((uintptr_t)ptr & 63) != 0)
			fails++;
		tag[k] = tc_rand(&seed);
		tc_fill(ptr, sz, tag[k]);
	}
	for (int k = 0; k < 16; k++)
		if (live[k] && dipc_mem_free(live[k]))
			fails++;
	return fails;
}

/* Rounds of create and destroy under one name, for test_attach_race. */
#define RACE_ROUNDS 40
#define RACE_SIZE   (48u << 20)

int t_child(const char *role, const char *arg)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	dipc_pool *p;
	const char *a = arg;
	if (strcmp(role, "recreate") == 0) {
		/* Make and destroy the pool named arg, round after round. */
		for (int i = 0; i < RACE_ROUNDS; i++) {
			if (dipc_pool_create(arg, RACE_SIZE, NULL, &p))
				return 20;
			tc_sleep_ms(2);
			if (dipc_pool_destroy(p))
				return 21;
		}
		return 0;
	}
	if (tc_attach_pool_hex(tc_field(&a, hex, sizeof(hex)), &p))
		return 10;

	if (strcmp(role, "free") == 0) {
		/* Free an allocation of the parent's after a while. */
		dipc_mem *m;
		tc_field(&a, hex2, sizeof(hex2));
		int delay = (int)tc_field_num(&a);
		if (tc_attach_mem_hex(p, hex2, &m))
			return 11;
		tc_sleep_ms(delay);
		if (dipc_mem_free(m))
			return 12;
		dipc_pool_detach(p);
		return 0;
	}
	if (strcmp(role, "hold") == 0) {
		/* Allocate, make a channel, tell the parent, then wait to die
		 * (or exit without freeing, if told to). */
		dipc_mem *bm, *m;
		dipc_channel *ch;
		tc_field(&a, hex2, sizeof(hex2));
		int n = (int)tc_field_num(&a);
		int linger = (int)tc_field_num(&a);
		if (tc_attach_mem_hex(p, hex2, &bm))
			return 11;
		struct hold_book *bk = tc_ptr(bm);
		for (int i = 0; i < n && i < 8; i++) {
			if (dipc_pool_alloc(p, 1000, &m))
				return 12;
			tc_fill(tc_ptr(m), 1000, 500 + (uint64_t)i);
			dipc_mem_serialize(m, bk->mem[i], sizeof(bk->mem[i]));
			dipc_mem_detach(m);
		}
		bk->nmem = (uint32_t)n;
		if (dipc_channel_create(p, 4242, NULL, &ch))
			return 13;
		bk->chan_len = (uint32_t)dipc_channel_serialize(ch, bk->chan, sizeof(bk->chan));
		atomic_store(&bk->ready, 1);
		if (!linger) {
			/* Exit when told, holding them: the allocations are orphans. */
			int64_t end = tc_now_ns() + 30 * TC_SEC;
			while (atomic_load(&bk->ready) != 2 && tc_now_ns() < end)
				tc_sleep_ms(1);
			return 0;
		}
		for (;;)
			tc_sleep_ms(1000);
	}
	if (strcmp(role, "churn") == 0) {
		int iters = (int)tc_field_num(&a);
		uint64_t seed = (uint64_t)tc_field_num(&a);
		int f = churn(p, iters, seed);
		dipc_pool_detach(p);
		return f > 100 ? 100 : f;
	}
	return 1;
}

static void test_create_stats(void)
{
	dipc_pool *p, *q, *r;
	struct dipc_pool_stats s, s2;
	const char *name = tc_pool_new("basic", 3 << 20, &p);
	ok(p != NULL, "create a 3 MiB pool");
	if (!p)
		return;
	E(dipc_pool_stats(p, &s), 0);
	ok(s.total >= (3u << 20) && s.total < (3u << 20) + 8192,
	   "total %llu is about the size asked", (unsigned long long)s.total);
	ok(s.free == s.total, "all of it is free");
	ok(s.largest_free + 64 == s.total, "largest_free is the whole heap less one header");
	ok(s.nallocs == 0 && s.nchannels == 0, "no allocation, no channel");
#ifndef _WIN32
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm/dipc.p.%s", name);
	/* stat() first: the arguments of ok() are evaluated in no set order,
	 * so the mode printed could be read before stat() filled it in. */
	int strc = stat(path, &st);
	ok(strc == 0 && (st.st_mode & 0777) == 0600,
	   "the segment is owner-only by default (%o)", strc ? 0u : (unsigned)(st.st_mode & 0777));
	struct dipc_pool_attr pa;
	dipc_pool_attr_init(&pa);
	pa.mode = 0640;
	const char *n2 = t_name("mode");
	int rc = dipc_pool_create(n2, 1 << 20, &pa, &r);
	is_int(rc, 0, "create with mode 0640");
	if (rc == 0) {
		tc_pool_track(n2, r);
		snprintf(path, sizeof(path), "/dev/shm/dipc.p.%s", n2);
		strc = stat(path, &st);  /* first, as above */
		ok(strc == 0 && (st.st_mode & 0777) == 0640,
		   "the segment has the mode asked (%o)", strc ? 0u : (unsigned)(st.st_mode & 0777));
		E(tc_pool_del(r), 0);
	}
#endif
	unsigned char d[DIPC_SERIAL_MAX];
	int n = dipc_pool_serialize(p, d, sizeof(d));
	ok(n > 0 && n <= DIPC_SERIAL_MAX, "serialize: %d bytes", n);
	is_int(dipc_pool_serialize(p, NULL, 0), n, "the length query agrees");
	E(dipc_pool_attach(d, (size_t)n, &q), 0);
	E(dipc_pool_attach_name(name, &r), 0);
	if (!q || !r)
		goto out;

	/* Three handles, one pool. */
	dipc_mem *m, *m2;
	E(dipc_pool_alloc(q, 5000, &m), 0);
	E(dipc_pool_stats(r, &s2), 0);
	ok(s2.nallocs == 1 && s2.free < s.free && s2.total == s.total,
	   "an allocation through one handle shows in the stats of another");
	tc_fill(tc_ptr(m), 5000, 3);
	unsigned char md[DIPC_SERIAL_MAX];
	int mn = dipc_mem_serialize(m, md, sizeof(md));
	E(dipc_mem_attach(r, md, (size_t)mn, &m2), 0);
	ok(m2 && tc_check(tc_ptr(m2), 5000, 3), "and its bytes are seen through the other");
	if (m2)
		E(dipc_mem_detach(m2), 0);
	E(dipc_mem_free(m), 0);
	E(dipc_pool_stats(p, &s2), 0);
	ok(s2.nallocs == 0 && s2.free == s.free, "freed through a third: the stats are back");
	E(dipc_pool_detach(q), 0);

	/* Destroy: the name goes, the mappings stay. */
	E(tc_pool_del(p), 0);
	p = NULL;
	E(dipc_pool_attach_name(name, &q), DIPC_ENOENT);
	E(dipc_pool_attach(d, (size_t)n, &q), DIPC_ENOENT);
	E(dipc_pool_alloc(r, 100, &m), 0);
	ok(m && tc_ptr(m) != NULL, "a handle attached before the destroy still allocates");
	if (m) {
		memset(tc_ptr(m), 0xab, 100);
		E(dipc_mem_free(m), 0);
	}
	E(dipc_pool_stats(r, &s2), 0);
	is_int(s2.nallocs, 0, "and frees");
	E(dipc_pool_destroy(r), 0);  /* the name is gone already: still fine */
	r = NULL;
out:
	if (r)
		dipc_pool_detach(r);
	if (p)
		tc_pool_del(p);
}

static void test_alloc(void)
{
	dipc_pool *p;
	struct dipc_pool_stats s0, s;
	tc_pool_new("alloc", 1 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	static const size_t sizes[] = { 1, 63, 64, 65, 100, 1000, 4095, 4096, 4097, 65536, 3 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	dipc_mem *m[N];
	uint64_t sum = 0, room = 0;
	int aligned = 1, sized = 1;
	for (int i = 0; i < N; i++) {
		int rc = dipc_pool_alloc(p, sizes[i], &m[i]);
		if (rc) {
			diag("alloc %zu: %s", sizes[i], dipc_strerror(rc));
			bail_out("allocation failed in an empty pool");
		}
		void *ptr;
		size_t sz;
		dipc_mem_get(m[i], &ptr, &sz);
		if ((uintptr_t)ptr % 64)
			aligned = 0;
		if (sz != sizes[i])
			sized = 0;
		tc_fill(ptr, sz, (uint64_t)i);
		sum += sizes[i];
		room += ((sizes[i] + 63) & ~(uint64_t)63) + 64;
	}
	ok(aligned, "every allocation is 64-byte aligned");
	ok(sized, "and has the size asked");
	int intact = 1;
	for (int i = 0; i < N; i++)
		if (!tc_check(tc_ptr(m[i]), sizes[i], (uint64_t)i))
			intact = 0;
	ok(intact, "no allocation overlaps another");
	void *ptr = (void *)1;
	size_t sz = 1;
	E(dipc_mem_get(m[0], NULL, NULL), 0);
	E(dipc_mem_get(m[0], &ptr, NULL), 0);
	E(dipc_mem_get(m[0], NULL, &sz), 0);
	ok(ptr == tc_ptr(m[0]) && sz == sizes[0], "mem_get takes either output alone");
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, N, "stats count the allocations");
	ok(s0.free - s.free >= sum && s0.free - s.free <= room + 64 * N,
	   "free shrank by their sizes plus headers (%llu for %llu asked)",
	   (unsigned long long)(s0.free - s.free), (unsigned long long)sum);
	ok(s.total == s0.total && s.largest_free <= s.free, "total unchanged, largest <= free");

	/* Fragment: free every other one. */
	for (int i = 0; i < N; i += 2)
		E(dipc_mem_free(m[i]), 0);
	dipc_pool_stats(p, &s);
	is_int(s.nallocs, N / 2, "half are left");
	dipc_mem *big;
	size_t largest = (size_t)s.largest_free;
	E(dipc_pool_alloc(p, largest + 1, &big), DIPC_ENOSPC);
	E(dipc_pool_alloc(p, largest, &big), 0);
	ok(big != NULL, "largest_free (%zu) is exactly the largest that succeeds", largest);
	if (big)
		dipc_mem_free(big);
	for (int i = 1; i < N; i += 2)
		E(dipc_mem_free(m[i]), 0);
	dipc_pool_stats(p, &s);
	ok(s.free == s0.free && s.nallocs == 0 && s.largest_free == s0.largest_free,
	   "all freed: free space is whole again");
	E(dipc_pool_alloc(p, (size_t)s.largest_free, &big), 0);
	if (big)
		E(dipc_mem_free(big), 0);

	/* Many small ones, freed in another order. */
	dipc_mem *many[200];
	int got = 0;
	for (int i = 0; i < 200; i++)
		if (dipc_pool_alloc(p, (size_t)(i * 37 % 3000) + 1, &many[got]) == 0)
			got++;
	is_int(got, 200, "200 small allocations");
	for (int i = 0; i < got; i++)
		dipc_mem_free(many[(i * 7) % got]);
	dipc_pool_stats(p, &s);
	ok(s.free == s0.free && s.nallocs == 0, "freed in a scrambled order: all back");
	E(tc_pool_del(p), 0);
}

static void test_exhaust(void)
{
	dipc_pool *p;
	struct dipc_pool_stats s0, s;
	char arg[3 * TC_HEX_MAX], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	tc_pool_new("full", 1 << 20, &p);
	if (!p)
		return;
	dipc_pool_stats(p, &s0);
	static dipc_mem *m[1024];
	int n = 0, rc;
	while (n < 1024 && (rc = dipc_pool_alloc(p, 4000, &m[n])) == 0)
		n++;
	ok(n > 100 && n < 1024, "%d allocations of 4000 bytes fill the pool", n);
	dipc_mem *x = (dipc_mem *)&x;
	E(dipc_pool_alloc(p, 4000, &x), DIPC_ENOSPC);
	ok(x == NULL, "try-once on a full pool: DIPC_ENOSPC, no handle");
	E(dipc_pool_alloc_wait(p, 4000, DIPC_TRY_ONCE, &x), DIPC_ENOSPC);
	dipc_pool_stats(p, &s);
	ok(s.largest_free < 4000, "largest_free (%llu) says so too",
	   (unsigned long long)s.largest_free);
	int64_t t0 = tc_now_ns();
	E(dipc_pool_alloc_wait(p, 4000, 80 * TC_MS, &x), DIPC_ETIMEDOUT);
	tc_timed_ok(tc_now_ns() - t0, 80 * TC_MS, "alloc_wait on a full pool times out");
	/* A small request that still fits must not wait. */
	if (s.largest_free >= 64) {
		E(dipc_pool_alloc_wait(p, (size_t)s.largest_free, 5 * TC_SEC, &x), 0);
		if (x)
			dipc_mem_free(x);
	}

	/* Another process frees: a bounded and an unbounded wait succeed. */
	tc_hex_pool(p, ph);
	for (int round = 0; round < 2; round++) {
		tc_hex_mem(m[n - 1 - round], mh);
		snprintf(arg, sizeof(arg), "%s:%s:%d", ph, mh, 100);
		dipc_mem_detach(m[n - 1 - round]);  /* the child frees it */
		m[n - 1 - round] = NULL;
		t_pid kid = tc_spawn("free", arg);
		ok(kid != 0, "start a child that frees one allocation after 100 ms");
		int64_t timeout = round ? DIPC_WAIT_FOREVER : 20 * TC_SEC;
		rc = dipc_pool_alloc_wait(p, 4000, timeout, &x);
		is_int(rc, 0, "alloc_wait (%s) gets the freed room",
		       round ? "forever" : "20 s");
		is_int(tc_reap(kid, 20), 0, "the child freed it");
		if (rc == 0) {
			m[n - 1 - round] = x;
			tc_fill(tc_ptr(x), 4000, 9);
		}
	}
	for (int i = 0; i < n; i++)
		if (m[i])
			dipc_mem_free(m[i]);
	dipc_pool_stats(p, &s);
	ok(s.free == s0.free && s.nallocs == 0, "everything freed");
	E(tc_pool_del(p), 0);
}

static void test_reclaim(void)
{
	dipc_pool *p;
	dipc_mem *bm, *mine;
	struct dipc_pool_stats s0, s;
	char arg[3 * TC_HEX_MAX], ph[TC_HEX_MAX], mh[TC_HEX_MAX];
	tc_pool_new("reclaim", 1 << 20, &p);
	if (!p)
		return;
	E(dipc_pool_alloc(p, sizeof(struct hold_book), &bm), 0);
	E(dipc_pool_alloc(p, 3000, &mine), 0);
	tc_fill(tc_ptr(mine), 3000, 77);
	is_int(dipc_pool_reclaim(p), 0, "reclaim with every owner alive frees nothing");
	tc_hex_pool(p, ph);
	tc_hex_mem(bm, mh);

	for (int linger = 1; linger >= 0; linger--) {
		struct hold_book *bk = tc_ptr(bm);
		memset(bk, 0, sizeof(*bk));
		dipc_pool_stats(p, &s0);
		snprintf(arg, sizeof(arg), "%s:%s:%d:%d", ph, mh, 5, linger);
		t_pid kid = tc_spawn("hold", arg);
		int ready = tc_wait_flag(&bk->ready, 1, 20);
		ok(ready, "a child allocated 5 blocks and made a channel");
		if (!ready) {
			tc_kill(kid);
			break;
		}
		dipc_pool_stats(p, &s);
		ok(s.nallocs == s0.nallocs + 6 && s.nchannels == s0.nchannels + 1,
		   "the parent sees them in the stats (%llu allocations)",
		   (unsigned long long)s.nallocs);
		int seen = 1;
		for (uint32_t i = 0; i < bk->nmem; i++) {
			dipc_mem *cm;
			if (dipc_mem_attach(p, bk->mem[i], sizeof(bk->mem[i]), &cm)) {
				seen = 0;
				continue;
			}
			if (!tc_check(tc_ptr(cm), 1000, 500 + i))
				seen = 0;
			dipc_mem_detach(cm);
		}
		ok(seen, "and the bytes the child wrote in them");
		is_int(dipc_pool_reclaim(p), 0, "nothing is reclaimed while the child lives");
		if (linger) {
			is_int(tc_kill(kid), T_KILLED, "kill the child");
		} else {
			atomic_store(&bk->ready, 2);
			is_int(tc_reap(kid, 20), 0, "the child exits without freeing");
		}
		is_int(dipc_pool_reclaim(p), 5, "reclaim frees the dead child's 5 allocations");
		dipc_pool_stats(p, &s);
		ok(s.nallocs == s0.nallocs + 1 && s.nchannels == s0.nchannels + 1,
		   "its channel belongs to the pool and stays");
		ok(tc_check(tc_ptr(mine), 3000, 77), "the parent's own allocation is untouched");
		dipc_mem *cm;
		E(dipc_mem_attach(p, bk->mem[0], sizeof(bk->mem[0]), &cm), DIPC_EINVAL);
		is_int(dipc_pool_reclaim(p), 0, "a second reclaim finds nothing");

		dipc_channel *ch;
		E(dipc_channel_attach(bk->chan, bk->chan_len, p, &ch), 0);
		if (ch) {
			dipc_sendh *sh;
			dipc_recvh *rh;
			char buf[8] = "alive";
			size_t len = 0;
			dipc_sendh_create(ch, NULL, &sh);
			dipc_recvh_create(ch, NULL, &rh);
			dipc_sendh_open(sh);
			dipc_recvh_open(rh);
			E(dipc_sendh_send_bytes(sh, "still", 6, DIPC_TRY_ONCE), 0);
			E(dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE), 0);
			ok(len == 6 && strcmp(buf, "still") == 0, "the dead child's channel works");
			dipc_sendh_destroy(sh);
			dipc_recvh_destroy(rh);
			E(dipc_channel_destroy(ch), 0);
		}
		dipc_pool_stats(p, &s);
		ok(s.nallocs == s0.nallocs && s.free == s0.free && s.nchannels == s0.nchannels,
		   "the pool is back where it was");
	}
	dipc_mem_free(mine);
	dipc_mem_free(bm);
	dipc_pool_stats(p, &s);
	ok(s.free == s.total && s.nallocs == 0, "all free at the end");
	E(tc_pool_del(p), 0);
}

struct churn_arg {
	dipc_pool *p;
	uint64_t seed;
	int fails;
};

static void *churn_thread(void *a)
{
	struct churn_arg *c = a;
	c->fails = churn(c->p, 3000, c->seed);
	return NULL;
}

static void test_concurrent(void)
{
	dipc_pool *p;
	struct dipc_pool_stats s;
	char arg[TC_HEX_MAX + 64], ph[TC_HEX_MAX];
	tc_pool_new("churn", 2 << 20, &p);
	if (!p)
		return;
	tc_hex_pool(p, ph);
	t_pid kids[2];
	for (int i = 0; i < 2; i++) {
		snprintf(arg, sizeof(arg), "%s:%d:%d", ph, 3000, 1000 + i);
		kids[i] = tc_spawn("churn", arg);
	}
	struct churn_arg ca[2] = { { p, 11, 0 }, { p, 12, 0 } };
	tc_thread th[2];
	for (int i = 0; i < 2; i++)
		tc_thread_start(&th[i], churn_thread, &ca[i]);
	for (int i = 0; i < 2; i++)
		tc_thread_join(th[i]);
	ok(ca[0].fails == 0 && ca[1].fails == 0,
	   "two threads allocate, fill, check and free 3000 times each (%d, %d failures)",
	   ca[0].fails, ca[1].fails);
	for (int i = 0; i < 2; i++)
		is_int(tc_reap(kids[i], 60), 0, "and so does child %d, at the same time", i);
	dipc_pool_stats(p, &s);
	ok(s.free == s.total && s.nallocs == 0 && s.largest_free + 64 == s.total,
	   "afterwards the pool is whole: free %llu of %llu",
	   (unsigned long long)s.free, (unsigned long long)s.total);
	E(tc_pool_del(p), 0);
}

/* An attach that races the pool's creation (a server restarting, two
 * processes started together) gets the pool or "no such pool", never
 * DIPC_ECORRUPT for a pool whose creator has not finished it. */
static void test_attach_race(void)
{
	const char *name = t_name("race");
	t_pid kid = tc_spawn("recreate", name);
	int got = 0, none = 0, other = 0, last_other = 0, pool_bad = 0;
	int64_t end = tc_now_ns() + 60 * TC_SEC;
	int status = -1;
	while (tc_now_ns() < end) {
		dipc_pool *p;
		int rc = dipc_pool_attach_name(name, &p);
		if (rc == 0) {
			struct dipc_pool_stats st;
			if (dipc_pool_stats(p, &st) || st.total < RACE_SIZE)
				pool_bad++;
			dipc_pool_detach(p);
			got++;
		} else if (rc == DIPC_ENOENT) {
			none++;
		} else {
			other++;
			last_other = rc;
		}
		status = t_wait(kid, 0);
		if (status != -1) {
			tc_forget(kid);
			break;
		}
	}
	if (status == -1)
		status = tc_reap(kid, 30);
	is_int(status, 0, "a child makes and destroys a pool of %u MiB %d times",
	       RACE_SIZE >> 20, RACE_ROUNDS);
	ok(other == 0, "attaching meanwhile: %d found it, %d found none, %d failed otherwise%s%s",
	   got, none, other, other ? ", last with " : "", other ? dipc_strerror(last_other) : "");
	ok(got > 0 && pool_bad == 0, "each pool attached is whole (%d of %d not)", pool_bad, got);
	dipc_pool *p;
	E(dipc_pool_attach_name(name, &p), DIPC_ENOENT);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	test_create_stats();
	test_alloc();
	test_exhaust();
	test_reclaim();
	test_concurrent();
	test_attach_race();
	return tc_finish();
}

/*
 * chanset.c - channel sets: one sleep for many channels, in one pool or
 * several.
 *
 *  1. a set of three channels: nothing holds (try once 0, a bounded wait
 *     DIPC_ETIMEDOUT); a message in one channel is reported for that one;
 *     two readable channels are reported in turn (max 1), or both at once;
 *  2. a poller asleep on a set is woken by another process's commit (and,
 *     for DIPC_POLL_WRITABLE, by another process's take); the channels
 *     live in two pools and the set's bell in a third, which the other
 *     process never attached: it reports (exit code) that it rang the bell
 *     itself, so the wake-up was a ring and not the end of a nap;
 *  3. a channel destroyed through another handle is reported with
 *     DIPC_POLL_DESTROYED; the set holds its own handles (detach and
 *     destroy of them are DIPC_EBUSY until the set is gone);
 *  4. a channel takes DIPC_CHANNEL_MAX_WATCHERS sets; one more is
 *     DIPC_ELIMIT until one goes, or until a process holding sets dies
 *     (its entries are struck off);
 *  5. a poller killed while asleep on its set: the producers' cost of it
 *     goes away by itself (the channel's watcher mask is 0 and no wake-up
 *     call is made after a bounded number of sends: counted, not timed,
 *     which is why this test is linked with the library's sources);
 *  (threads of one process polling one set at once all see a message);
 *  6. watcher entries scribbled on (forged pool descriptors, offsets,
 *     tags, live ids): sends and receives go on, nothing crashes, and a
 *     real set still hears its channel.
 * Durations are printed, never asserted; waits are hang-guarded.
 */
#include "coretest.h"
#include "channel.h"

#define E(expr, code) is_int((expr), (code), "%s -> %s", #expr, #code)
#define MSG 64
/* An id no process has (above any Linux pid_max; Windows ids are
 * multiples of 4). */
#define NO_SUCH_PID 0x7ffffff3u

struct book {
	_Atomic uint64_t ready;
	_Atomic uint64_t stop;
};

static struct dipc_channel_attr attr(uint64_t cap, uint64_t block)
{
	struct dipc_channel_attr a;
	dipc_channel_attr_init(&a);
	a.capacity = cap;
	a.block_size = block;
	return a;
}

/* ---- children ------------------------------------------------------------ */

/* Attach the channel (its pool from the descriptor), wait 200 ms, send
 * one message or take one; exit 0 if this process rang a bell, 3 if not. */
static int child_act(const char *arg, int take)
{
	char hex[TC_HEX_MAX];
	const char *a = arg;
	dipc_channel *ch;
	if (tc_attach_chan_hex(tc_field(&a, hex, sizeof(hex)), NULL, &ch))
		return 10;
	tc_sleep_ms(200);
	int rc;
	if (take) {
		dipc_recvh *rh;
		unsigned char buf[MSG];
		size_t len;
		rc = dipc_recvh_create(ch, NULL, &rh);
		if (!rc)
			rc = dipc_recvh_open(rh);
		if (!rc)
			rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 10 * TC_SEC);
		dipc_recvh_destroy(rh);
	} else {
		dipc_sendh *sh;
		rc = dipc_sendh_create(ch, NULL, &sh);
		if (!rc)
			rc = dipc_sendh_open(sh);
		if (!rc)
			rc = dipc_sendh_send_bytes(sh, "ring", 5, 10 * TC_SEC);
		dipc_sendh_destroy(sh);
	}
	dipc_channel_detach(ch);
	if (rc)
		return 20;
	uint64_t rung = atomic_load(&chset_rings);
	dipc_cleanup();
	return rung ? 0 : 3;
}

/* Make sets over the channel (bells in its pool), say so, then either
 * sleep in a poll of the first (role "poller") or just live ("holder"). */
static int child_sets(const char *arg, int nsets, int poll)
{
	char hex[TC_HEX_MAX], hex2[TC_HEX_MAX];
	const char *a = arg;
	dipc_channel *ch;
	dipc_pool *p;
	dipc_mem *bm;
	if (tc_attach_chan_hex(tc_field(&a, hex, sizeof(hex)), NULL, &ch))
		return 10;
	dipc_channel_pool(ch, &p);
	if (tc_attach_mem_hex(p, tc_field(&a, hex2, sizeof(hex2)), &bm))
		return 11;
	struct book *bk = tc_ptr(bm);
	dipc_channelset *sets[DIPC_CHANNEL_MAX_WATCHERS];
	for (int i = 0; i < nsets; i++)
		if (dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &sets[i]))
			return 12;
	atomic_store(&bk->ready, 1);
	struct dipc_channelset_event ev;
	while (!atomic_load(&bk->stop)) {
		if (poll)
			dipc_channelset_poll(sets[0], &ev, 1, DIPC_WAIT_FOREVER);
		else
			tc_sleep_ms(50);
	}
	return 0;
}

int t_child(const char *role, const char *arg)
{
	if (strcmp(role, "send") == 0)
		return child_act(arg, 0);
	if (strcmp(role, "take") == 0)
		return child_act(arg, 1);
	if (strcmp(role, "poller") == 0)
		return child_sets(arg, 1, 1);
	if (strcmp(role, "holder") == 0)
		return child_sets(arg, 4, 0);
	return 99;
}

/* ---- 1. one process ---------------------------------------------------------- */

static void one_process(void)
{
	dipc_pool *p;
	if (!tc_pool_new("cs1", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a = attr(4, MSG);
	dipc_channel *ch[3];
	dipc_sendh *sh[3];
	dipc_recvh *rh[3];
	for (int i = 0; i < 3; i++)
		if (dipc_channel_create(p, (uint64_t)i, &a, &ch[i]) ||
		    dipc_sendh_create(ch[i], NULL, &sh[i]) || dipc_sendh_open(sh[i]) ||
		    dipc_recvh_create(ch[i], NULL, &rh[i]) || dipc_recvh_open(rh[i]))
			bail_out("no channel");
	dipc_channelset *set;
	E(dipc_channelset_create(p, ch, 3, DIPC_POLL_READABLE, &set), 0);
	struct dipc_channelset_event ev[3];
	E(dipc_channelset_poll(set, ev, 3, DIPC_TRY_ONCE), 0);
	int64_t t0 = tc_now_ns();
	E(dipc_channelset_poll(set, ev, 3, 150 * TC_MS), DIPC_ETIMEDOUT);
	diag("a 150 ms poll of a quiet set returned after %.3f s",
	     (double)(tc_now_ns() - t0) / 1e9);

	E(dipc_sendh_send_bytes(sh[1], "one", 4, 0), 0);
	memset(ev, 0, sizeof(ev));
	E(dipc_channelset_poll(set, ev, 3, DIPC_TRY_ONCE), 1);
	ok(ev[0].index == 1 && ev[0].revents == DIPC_POLL_READABLE,
	   "the channel with a message is reported, readable (%u, %d)", ev[0].index,
	   ev[0].revents);
	E(dipc_sendh_send_bytes(sh[2], "two", 4, 0), 0);
	int seen[3] = { 0, 0, 0 };
	for (int k = 0; k < 4; k++) {
		if (dipc_channelset_poll(set, ev, 1, DIPC_TRY_ONCE) == 1 && ev[0].index < 3)
			seen[ev[0].index]++;
	}
	ok(seen[1] == 2 && seen[2] == 2 && seen[0] == 0,
	   "two readable channels, one at a time: reported in turn (%d, %d)", seen[1], seen[2]);
	E(dipc_channelset_poll(set, ev, 3, DIPC_TRY_ONCE), 2);
	char buf[MSG];
	size_t len;
	E(dipc_recvh_recv_bytes(rh[1], buf, sizeof(buf), &len, 0), 0);
	E(dipc_recvh_recv_bytes(rh[2], buf, sizeof(buf), &len, 0), 0);
	E(dipc_channelset_poll(set, ev, 3, DIPC_TRY_ONCE), 0);

	/* The set holds its channels. */
	for (int i = 0; i < 3; i++) {
		dipc_sendh_destroy(sh[i]);
		dipc_recvh_destroy(rh[i]);
	}
	E(dipc_channel_detach(ch[0]), DIPC_EBUSY);
	E(dipc_channel_destroy(ch[0]), DIPC_EBUSY);

	/* Writable and empty, on a second set over the same channels. */
	dipc_channelset *wset;
	E(dipc_channelset_create(p, ch, 3, DIPC_POLL_WRITABLE | DIPC_POLL_FULL, &wset), 0);
	E(dipc_channelset_poll(wset, ev, 3, DIPC_TRY_ONCE), 3);
	ok(ev[0].revents == DIPC_POLL_WRITABLE, "an empty channel is writable, not full");
	E(dipc_channelset_destroy(wset), 0);
	E(dipc_channelset_destroy(wset), DIPC_EINVAL);

	/* 3. A channel destroyed through another handle. */
	unsigned char ser[DIPC_SERIAL_MAX];
	int n = dipc_channel_serialize(ch[2], ser, sizeof(ser));
	dipc_channel *other;
	E(dipc_channel_attach(ser, (size_t)n, p, &other), 0);
	E(dipc_channel_destroy(other), 0);
	E(dipc_channelset_poll(set, ev, 3, DIPC_TRY_ONCE), 1);
	ok(ev[0].index == 2 && ev[0].revents == DIPC_POLL_DESTROYED,
	   "a destroyed channel is reported destroyed (%u, %d)", ev[0].index, ev[0].revents);
	E(dipc_channelset_destroy(set), 0);
	E(dipc_channel_detach(ch[2]), 0);
	E(dipc_channel_destroy(ch[0]), 0);
	E(dipc_channel_destroy(ch[1]), 0);
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	is_int(st.nallocs, 0, "the sets' bells went back to the pool");
	E(tc_pool_del(p), 0);
}

/* ---- threads of one process poll one set at once ------------------------------- */

struct poller_arg {
	dipc_channelset *set;
	int rc;
	struct dipc_channelset_event ev;
};

static void *poller_main(void *arg)
{
	struct poller_arg *a = arg;
	a->rc = dipc_channelset_poll(a->set, &a->ev, 1, 30 * TC_SEC);
	return NULL;
}

static void threads(void)
{
	dipc_pool *p;
	if (!tc_pool_new("csth", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a = attr(4, MSG);
	dipc_channel *ch[2];
	dipc_sendh *sh;
	if (dipc_channel_create(p, 1, &a, &ch[0]) || dipc_channel_create(p, 2, &a, &ch[1]) ||
	    dipc_sendh_create(ch[1], NULL, &sh) || dipc_sendh_open(sh))
		bail_out("no channels");
	dipc_channelset *set;
	E(dipc_channelset_create(p, ch, 2, DIPC_POLL_READABLE, &set), 0);
	struct poller_arg pa[3];
	tc_thread th[3];
	for (int i = 0; i < 3; i++) {
		pa[i].set = set;
		pa[i].rc = -999;
		tc_thread_start(&th[i], poller_main, &pa[i]);
	}
	tc_sleep_ms(200);
	E(dipc_sendh_send_bytes(sh, "all", 4, 0), 0);
	int woke = 0;
	for (int i = 0; i < 3; i++) {
		tc_thread_join(th[i]);
		woke += pa[i].rc == 1 && pa[i].ev.index == 1;
	}
	is_int(woke, 3, "three threads polling one set all see the one message");
	dipc_sendh_destroy(sh);
	E(dipc_channelset_destroy(set), 0);
	E(dipc_channel_destroy(ch[0]), 0);
	E(dipc_channel_destroy(ch[1]), 0);
	E(tc_pool_del(p), 0);
}

/* ---- 2. another process wakes the poller, across pools ------------------------ */

static void across_pools(void)
{
	dipc_pool *pa, *pb, *ps;
	if (!tc_pool_new("cs2a", 1 << 20, &pa) || !tc_pool_new("cs2b", 1 << 20, &pb) ||
	    !tc_pool_new("cs2s", 1 << 20, &ps))
		bail_out("no pools");
	struct dipc_channel_attr a = attr(2, MSG);
	dipc_channel *ch[2];
	if (dipc_channel_create(pa, 7, &a, &ch[0]) || dipc_channel_create(pb, 8, &a, &ch[1]))
		bail_out("no channels");
	dipc_channelset *set;
	E(dipc_channelset_create(ps, ch, 2, DIPC_POLL_READABLE, &set), 0);

	char hex[TC_HEX_MAX];
	tc_hex_chan(ch[1], hex);
	t_pid kid = tc_spawn("send", hex);
	struct dipc_channelset_event ev[2];
	int64_t t0 = tc_now_ns();
	E(dipc_channelset_poll(set, ev, 2, 30 * TC_SEC), 1);
	diag("the poller woke %.3f s after the sender started (it waits 0.2 s)",
	     (double)(tc_now_ns() - t0) / 1e9);
	ok(ev[0].index == 1 && ev[0].revents == DIPC_POLL_READABLE,
	   "another process's commit in another pool is reported");
	is_int(tc_reap(kid, 30), 0,
	       "the sender rang the set's bell in a pool it never attached itself");

	/* Writable: fill channel 0, watch for room, another process takes. */
	dipc_channelset *wset;
	dipc_sendh *sh;
	if (dipc_sendh_create(ch[0], NULL, &sh) || dipc_sendh_open(sh))
		bail_out("no send handle");
	E(dipc_sendh_send_bytes(sh, "a", 2, 0), 0);
	E(dipc_sendh_send_bytes(sh, "b", 2, 0), 0);
	dipc_sendh_destroy(sh);
	E(dipc_channelset_create(ps, ch, 1, DIPC_POLL_WRITABLE, &wset), 0);
	E(dipc_channelset_poll(wset, ev, 2, DIPC_TRY_ONCE), 0);
	tc_hex_chan(ch[0], hex);
	kid = tc_spawn("take", hex);
	E(dipc_channelset_poll(wset, ev, 2, 30 * TC_SEC), 1);
	ok(ev[0].index == 0 && ev[0].revents == DIPC_POLL_WRITABLE,
	   "another process's take makes the full channel writable");
	is_int(tc_reap(kid, 30), 0, "the taker rang the bell too");

	E(dipc_channelset_destroy(wset), 0);
	E(dipc_channelset_destroy(set), 0);
	E(dipc_channel_destroy(ch[0]), 0);
	E(dipc_channel_destroy(ch[1]), 0);
	E(tc_pool_del(pa), 0);
	E(tc_pool_del(pb), 0);
	E(tc_pool_del(ps), 0);
}

/* ---- 4, 5. limits and the dead ------------------------------------------------ */

static int wait_ready(struct book *bk)
{
	return tc_wait_flag(&bk->ready, 1, 30);
}

static void dead_watchers(void)
{
	dipc_pool *p;
	if (!tc_pool_new("cs4", 1 << 20, &p))
		bail_out("no pool");
	struct dipc_channel_attr a = attr(8, MSG);
	dipc_channel *ch;
	dipc_mem *bm;
	if (dipc_channel_create(p, 1, &a, &ch) || dipc_pool_alloc(p, sizeof(struct book), &bm))
		bail_out("no channel");
	struct book *bk = tc_ptr(bm);
	memset(bk, 0, sizeof(*bk));
	char arg[2 * TC_HEX_MAX + 2], ch_hex[TC_HEX_MAX], bk_hex[TC_HEX_MAX];
	tc_hex_chan(ch, ch_hex);
	tc_hex_mem(bm, bk_hex);
	snprintf(arg, sizeof(arg), "%s:%s", ch_hex, bk_hex);

	/* 4: four sets in a child, four here, then no room. */
	t_pid holder = tc_spawn("holder", arg);
	ok(wait_ready(bk), "a child made four sets on the channel");
	dipc_channelset *mine[DIPC_CHANNEL_MAX_WATCHERS];
	int made = 0;
	while (made < DIPC_CHANNEL_MAX_WATCHERS &&
	       dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &mine[made]) == 0)
		made++;
	is_int(made, DIPC_CHANNEL_MAX_WATCHERS - 4, "this process got the other four");
	dipc_channelset *extra;
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &extra), DIPC_ELIMIT);
	E(dipc_channelset_destroy(mine[--made]), 0);
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &mine[made]), 0);
	made++;
	is_int(tc_kill(holder), T_KILLED, "the child holding four sets is killed");
	int more = 0;
	while (made < DIPC_CHANNEL_MAX_WATCHERS &&
	       dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &mine[made]) == 0) {
		made++;
		more++;
	}
	is_int(more, 4, "the dead child's entries were struck off for new sets");
	while (made)
		dipc_channelset_destroy(mine[--made]);
	ok(atomic_load(&ch->hdr->watch_in) == 0 && atomic_load(&ch->hdr->watch_out) == 0,
	   "no set left: the channel's masks are 0");

	/* 5: a poller killed asleep. */
	atomic_store(&bk->ready, 0);
	t_pid poller = tc_spawn("poller", arg);
	ok(wait_ready(bk), "a child polls a set over the channel");
	tc_sleep_ms(100);
	ok(atomic_load(&ch->hdr->watch_in) != 0, "its entry is in the channel's mask");
	is_int(tc_kill(poller), T_KILLED, "the poller is killed in its sleep");
	dipc_sendh *sh;
	dipc_recvh *rh;
	if (dipc_sendh_create(ch, NULL, &sh) || dipc_sendh_open(sh) ||
	    dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("no handles");
	uint64_t w0 = atomic_load(&dipc_wake_calls);
	int fails = 0;
	for (int i = 0; i < 2000; i++) {
		char buf[MSG];
		size_t len;
		if (dipc_sendh_send_bytes(sh, "x", 2, 0) ||
		    dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0))
			fails++;
	}
	uint64_t calls = atomic_load(&dipc_wake_calls) - w0;
	is_int(fails, 0, "2000 sends and receives after the poller's death");
	ok(calls <= DIPC_WAITER_REPAIR_EVERY,
	   "they made %llu wake-up calls for the dead poller (at most %u)",
	   (unsigned long long)calls, DIPC_WAITER_REPAIR_EVERY);
	ok(atomic_load(&ch->hdr->watch_in) == 0, "and its entry is struck off the channel");
	w0 = atomic_load(&dipc_wake_calls);
	uint64_t r0 = atomic_load(&chset_rings);
	for (int i = 0; i < 100; i++) {
		char buf[MSG];
		size_t len;
		dipc_sendh_send_bytes(sh, "x", 2, 0);
		dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0);
	}
	ok(atomic_load(&dipc_wake_calls) == w0 && atomic_load(&chset_rings) == r0,
	   "then a send rings nothing and wakes nobody");

	/* 6: scribbled entries beside a real set. */
	dipc_channelset *set;
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &set), 0);
	struct chan_hdr *h = ch->hdr;
	uint64_t seed = 77;
	uint32_t me = (uint32_t)tc_getpid();
	for (unsigned i = 0; i < CHAN_WATCHERS; i++) {
		struct chan_watcher *w = &h->watchers[i];
		if (atomic_load(&w->pid) == me)
			continue;   /* the real set's */
		atomic_store(&w->pid, i % 2 ? me : NO_SUCH_PID);
		atomic_store(&w->events, (uint32_t)tc_rand(&seed));
		w->tag = (uint32_t)tc_rand(&seed);
		w->once_bell_off = i < 4 ? tc_rand(&seed) : (uint64_t)(i * 8);
		for (size_t k = 0; k < sizeof(w->bell_pool); k++)
			w->bell_pool[k] = (unsigned char)tc_rand(&seed);
		if (i == 5) {
			/* A real descriptor of another pool, with a wild offset. */
			dipc_pool_serialize(p, w->bell_pool, sizeof(w->bell_pool));
			w->bell_pool[16] ^= 1;
		}
		atomic_fetch_or(&h->watch_in, 1u << i);
		atomic_fetch_or(&h->watch_out, 1u << i);
	}
	fails = 0;
	for (int i = 0; i < 500; i++) {
		char buf[MSG];
		size_t len;
		if (dipc_sendh_send_bytes(sh, "y", 2, 0) ||
		    dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 0))
			fails++;
	}
	is_int(fails, 0, "sends and receives go on beside scribbled watcher entries");
	E(dipc_sendh_send_bytes(sh, "z", 2, 0), 0);
	struct dipc_channelset_event ev;
	E(dipc_channelset_poll(set, &ev, 1, 10 * TC_SEC), 1);
	E(dipc_channelset_destroy(set), 0);
	for (unsigned i = 0; i < CHAN_WATCHERS; i++)
		atomic_store(&h->watchers[i].pid, 0);
	atomic_store(&h->watch_in, 0);
	atomic_store(&h->watch_out, 0);

	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	dipc_mem_free(bm);
	E(dipc_channel_destroy(ch), 0);
	E(dipc_pool_reclaim(p), 5);
	struct dipc_pool_stats st;
	dipc_pool_stats(p, &st);
	is_int(st.nallocs, 0, "reclaim freed the five bells of the dead children");
	E(tc_pool_del(p), 0);
}

/* ---- bad input --------------------------------------------------------------- */

static void bad_input(void)
{
	dipc_pool *p;
	if (!tc_pool_new("cs0", 1 << 20, &p))
		bail_out("no pool");
	dipc_channel *ch;
	if (dipc_channel_create(p, 1, NULL, &ch))
		bail_out("no channel");
	dipc_channelset *set = (dipc_channelset *)&set;
	E(dipc_channelset_create(NULL, &ch, 1, DIPC_POLL_READABLE, &set), DIPC_EINVAL);
	ok(set == NULL, "a refused create leaves the output NULL");
	E(dipc_channelset_create(p, NULL, 1, DIPC_POLL_READABLE, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 0, DIPC_POLL_READABLE, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 1, 0, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 1, 0x100, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_DESTROYED, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, NULL), DIPC_EINVAL);
	dipc_channel *two[2] = { ch, NULL };
	E(dipc_channelset_create(p, two, 2, DIPC_POLL_READABLE, &set), DIPC_EINVAL);
	E(dipc_channelset_create(p, &ch, 1, DIPC_POLL_READABLE, &set), 0);
	struct dipc_channelset_event ev;
	E(dipc_channelset_poll(NULL, &ev, 1, 0), DIPC_EINVAL);
	E(dipc_channelset_poll(set, NULL, 1, 0), DIPC_EINVAL);
	E(dipc_channelset_poll(set, &ev, 0, 0), DIPC_EINVAL);
	E(dipc_channelset_poll(set, &ev, 1, -2), DIPC_EINVAL);
	E(dipc_channelset_destroy(NULL), DIPC_EINVAL);
	E(dipc_channelset_destroy(set), 0);
	E(dipc_channel_destroy(ch), 0);
	E(tc_pool_del(p), 0);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(240);
	bad_input();
	one_process();
	threads();
	across_pools();
	dead_watchers();
	dipc_cleanup();
	return tc_finish();
}

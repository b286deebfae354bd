/*
 * crash_window.c - a receiver killed just after it took a payload that
 * travels in an allocation: reclaim must free that allocation.
 *
 * t/crash_trials found receivers killed in that moment far more often
 * than its few instructions would suggest: after taking a message the
 * receiver wakes a sleeping sender, the wake-up is a system call, and the
 * woken sender may take the receiver's core, so a kill aimed at "some
 * time later" lands there.  The receiver used to record itself as the
 * block's owner only after that call, so the block was left belonging to
 * nobody, beyond any reclaim.
 *
 * Here the kill point is exact: this program defines syscall(), which the
 * library calls for futex wake-ups (the executable's definition comes
 * first in symbol lookup), and a child armed for it kills itself at its
 * first FUTEX_WAKE: the one a receive makes for the sender sleeping on a
 * full channel, between taking the message and returning.  Each receive
 * variant is tried (into a buffer, into an empty message, into a
 * destination message).  Linux only; skipped elsewhere.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
# define _GNU_SOURCE  /* RTLD_NEXT, syscall() */
#endif
#include "coretest.h"

#ifndef __linux__

int t_child(const char *role, const char *arg)
{
	(void)role;
	(void)arg;
	return 1;
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	skip_all("the kill point is made by interposing the futex wake-up of Linux");
	return 0;
}

#else

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>

static volatile int armed;

/* Forward every call to the C library's syscall(); an armed process
 * dies at its first futex wake-up instead. */
long syscall(long n, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (armed && n == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE)
		kill(getpid(), SIGKILL);
	if (!real) {
		*(void **)&real = dlsym(RTLD_NEXT, "syscall");
		if (!real)
			abort();
	}
	return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#define BLOCK 64
#define BIG   500

/* Argument: channel:how. */
int t_child(const char *role, const char *arg)
{
	const char *a = arg;
	char hex[TC_HEX_MAX];
	dipc_channel *ch;
	dipc_pool *p;
	dipc_recvh *rh;
	dipc_msg *m = NULL;
	static unsigned char buf[BIG];
	size_t len;
	if (strcmp(role, "take") != 0)
		return 1;
	if (tc_attach_chan_hex(tc_field(&a, hex, sizeof(hex)), NULL, &ch))
		return 10;
	int how = (int)tc_field_num(&a);
	dipc_channel_pool(ch, &p);
	if (dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		return 11;
	if (how == 1 && dipc_msg_create_empty(&m))
		return 12;
	if (how == 2 && dipc_msg_create_alloc(p, BIG, &m))
		return 13;
	armed = 1;
	int rc = how == 0 ? dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, 5 * TC_SEC)
			  : dipc_recvh_recv(rh, m, 5 * TC_SEC);
	armed = 0;
	return 50 + -rc;  /* the receive returned: no wake-up was made */
}

struct blocked {
	dipc_sendh *sh;
	int rc;
};

/* Sends into the full channel and sleeps there (idle wait mode). */
static void *send_blocked(void *arg)
{
	struct blocked *b = arg;
	unsigned char small[40];
	tc_msg_make(small, 2, 2, sizeof(small));
	b->rc = dipc_sendh_send_bytes(b->sh, small, sizeof(small), 30 * TC_SEC);
	return NULL;
}

static void one(int how)
{
	static const char *what[] = { "into a buffer", "into an empty message",
				      "into a destination message" };
	char chex[TC_HEX_MAX], arg[2 * TC_HEX_MAX];
	dipc_pool *p;
	dipc_channel *ch;
	dipc_sendh *sh;
	dipc_recvh *rh;
	struct dipc_channel_attr ca;
	struct dipc_handle_attr ha;
	struct dipc_pool_stats base, now;
	unsigned char big[BIG], buf[BIG];
	size_t len;
	uint32_t prod;
	uint64_t seq = 0;

	if (!tc_pool_new("cw", 1 << 20, &p))
		bail_out("no pool");
	dipc_channel_attr_init(&ca);
	ca.capacity = 1;
	ca.block_size = BLOCK;
	dipc_handle_attr_init(&ha);
	ha.wait_mode = DIPC_WAIT_IDLE;
	if (dipc_channel_create(p, 1, &ca, &ch) || dipc_sendh_create(ch, &ha, &sh) ||
	    dipc_sendh_open(sh) || dipc_recvh_create(ch, NULL, &rh) || dipc_recvh_open(rh))
		bail_out("no channel");
	tc_hex_chan(ch, chex);
	dipc_pool_stats(p, &base);

	/* A payload larger than a block travels in an allocation. */
	tc_msg_make(big, 1, 1, sizeof(big));
	is_int(dipc_sendh_send_bytes(sh, big, sizeof(big), DIPC_TRY_ONCE), 0,
	       "%s: a large message fills the channel", what[how]);
	struct blocked b = { sh, 1 };
	tc_thread th;
	if (tc_thread_start(&th, send_blocked, &b))
		bail_out("no thread");
	tc_sleep_ms(300);  /* let the sender go to sleep */

	snprintf(arg, sizeof(arg), "%s:%d", chex, how);
	t_pid kid = tc_spawn("take", arg);
	int st = tc_reap(kid, 30);
	is_int(st, T_KILLED, "%s: the receiver died at the wake-up call after taking it", what[how]);
	tc_thread_join(th);
	is_int(b.rc, 0, "%s: the sleeping sender got through", what[how]);
	is_int(dipc_channel_count(ch), 1, "%s: the large message is gone with the receiver",
	       what[how]);
	/* and the destination message's allocation, when it had one */
	is_int(dipc_pool_reclaim(p), how == 2 ? 2 : 1,
	       "%s: reclaim frees the allocation it had taken", what[how]);
	int rc = dipc_recvh_recv_bytes(rh, buf, sizeof(buf), &len, DIPC_TRY_ONCE);
	ok(rc == 0 && tc_msg_read(buf, len, &prod, &seq) == 0 && seq == 2,
	   "%s: the small message follows", what[how]);
	dipc_pool_stats(p, &now);
	ok(now.nallocs == base.nallocs && now.free == base.free,
	   "%s: the pool is back where it was (%lld allocations more)", what[how],
	   (long long)(now.nallocs - base.nallocs));
	dipc_sendh_destroy(sh);
	dipc_recvh_destroy(rh);
	dipc_channel_destroy(ch);
	tc_pool_del(p);
}

int main(int argc, char **argv)
{
	T_CHILD_DISPATCH(argc, argv);
	tc_init(120);
	for (int how = 0; how < 3; how++)
		one(how);
	return tc_finish();
}

#endif

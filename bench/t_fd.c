/*
 * t_fd.c - the kernel's own channels: pipes, Unix domain sockets, POSIX
 * message queues.
 *
 * Pipes and stream sockets carry bytes, so messages are framed: a length
 * word (8 bytes; a cache line from 1 KiB on, to keep payloads aligned) and
 * the payload, written with one call; the reader reads as much
 * as is there into a buffer and hands out whole frames in place.  Both are
 * given 1 MiB of kernel buffer (F_SETPIPE_SZ, SO_SNDBUF/SO_RCVBUF), so the
 * peers are not held back by a small default.  For fan-in each producer
 * has its own pipe or socket and the consumer poll()s them all.
 *
 * Spinning waits retry a non-blocking read; sleeping waits block in the
 * kernel (poll/read); the default is the usual blocking read.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINKS 16
#define KBUF (1 << 20)

/* ---- framed byte streams (pipes, sockets) ---------------------------------- */

struct reader {
	int fd;
	unsigned char *buf;
	size_t cap, rpos, wpos;
};

struct fd_shared {
	int n;
	int txfd[MAX_LINKS], rxfd[MAX_LINKS];
	bool sock;
};

struct bench_ep {
	/* streams */
	int fd;
	bool sock, spin;
	unsigned char *frame;   /* header (length first) + payload */
	unsigned char *frame_mem;
	size_t frame_cap, hl;
	struct reader rd[MAX_LINKS];
	int nrd, cur;
	size_t pending;         /* bytes of the frame handed out */
	struct pollfd pfd[MAX_LINKS];
	/* message queues */
	mqd_t mq;
	unsigned char *mbuf;
	size_t mcap;
};

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int links_for(const struct bench_cfg *cfg)
{
	return cfg->test == TEST_FANIN ? cfg->nprod : cfg->nlinks;
}

static int stream_setup(const struct bench_cfg *cfg, void **out, bool sock)
{
	struct fd_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	s->n = links_for(cfg);
	s->sock = sock;
	if (s->n > MAX_LINKS)
		return BENCH_SKIP;
	for (int i = 0; i < s->n; i++) {
		int fds[2];
		if (sock) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
				return -errno;
			int sz = KBUF;
			for (int k = 0; k < 2; k++) {
				if (setsockopt(fds[k], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
					setsockopt(fds[k], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
				if (setsockopt(fds[k], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
					setsockopt(fds[k], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
			}
			s->txfd[i] = fds[0];
			s->rxfd[i] = fds[1];
		} else {
			if (pipe2(fds, O_CLOEXEC) != 0)
				return -errno;
			fcntl(fds[1], F_SETPIPE_SZ, KBUF);
			s->rxfd[i] = fds[0];
			s->txfd[i] = fds[1];
		}
	}
	*out = s;
	return 0;
}

static int pipe_setup(const struct bench_cfg *cfg, void **out)
{
	return stream_setup(cfg, out, false);
}

static int uds_setup(const struct bench_cfg *cfg, void **out)
{
	return stream_setup(cfg, out, true);
}

static int stream_open_tx(const struct bench_cfg *cfg, void *shared, int link, int idx,
			  struct bench_ep **out)
{
	struct fd_shared *s = shared;
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->fd = s->txfd[link + idx];
	/* The payload (after the header) starts on a cache line. */
	ep->hl = bench_frame_hdr(cfg->size);
	ep->frame_cap = ep->hl + cfg->size;
	ep->frame_mem = bench_alloc(64 + ep->frame_cap);
	if (!ep->frame_mem)
		return -1;
	ep->frame = ep->frame_mem + 64 - ep->hl;
	*out = ep;
	return 0;
}

static int stream_open_rx(const struct bench_cfg *cfg, void *shared, int link,
			  struct bench_ep **out)
{
	struct fd_shared *s = shared;
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	ep->sock = s->sock;
	ep->spin = cfg->wait == WAIT_SPIN;
	ep->nrd = cfg->test == TEST_FANIN ? s->n : 1;
	size_t cap = 2 * (64 + cfg->size);
	if (cap < (256u << 10))
		cap = 256u << 10;
	for (int i = 0; i < ep->nrd; i++) {
		struct reader *r = &ep->rd[i];
		r->fd = s->rxfd[link + i];
		r->cap = cap;
		r->buf = bench_alloc(cap);
		if (!r->buf)
			return -1;
		if (ep->spin && !ep->sock)
			fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
		ep->pfd[i].fd = r->fd;
		ep->pfd[i].events = POLLIN;
	}
	ep->cur = -1;
	*out = ep;
	return 0;
}

static void *stream_get_buf(struct bench_ep *ep, size_t len)
{
	return ep->hl + len <= ep->frame_cap ? ep->frame + ep->hl : NULL;
}

static int stream_send(struct bench_ep *ep, size_t len)
{
	uint64_t n = len;
	memcpy(ep->frame, &n, 8);
	return write_all(ep->fd, ep->frame, ep->hl + len);
}

/* A whole frame in r's buffer?  Then hand it out. */
static bool frame_ready(struct reader *r, const void **data, size_t *len, size_t *pending)
{
	size_t have = r->wpos - r->rpos;
	if (have < 8)
		return false;
	uint64_t n;
	memcpy(&n, r->buf + r->rpos, 8);
	size_t hl = bench_frame_hdr((size_t)n);
	if (n > r->cap - 64)
		bench_die("frame of %llu bytes", (unsigned long long)n);
	if (have < hl + n)
		return false;
	*data = r->buf + r->rpos + hl;
	*len = (size_t)n;
	*pending = hl + (size_t)n;
	return true;
}

/* Read what is there (block unless nonblock); 1 if something came, 0 if
 * nothing (non-blocking), < 0 on error. */
static int fill_reader(struct reader *r, bool sock, bool nonblock)
{
	if (r->wpos - r->rpos >= 8) {
		uint64_t n;
		memcpy(&n, r->buf + r->rpos, 8);
		if (r->rpos + bench_frame_hdr((size_t)n) + n > r->cap) {
			memmove(r->buf, r->buf + r->rpos, r->wpos - r->rpos);
			r->wpos -= r->rpos;
			r->rpos = 0;
		}
	} else if (r->rpos + 8 > r->cap) {
		memmove(r->buf, r->buf + r->rpos, r->wpos - r->rpos);
		r->wpos -= r->rpos;
		r->rpos = 0;
	}
	for (;;) {
		ssize_t got = sock ? recv(r->fd, r->buf + r->wpos, r->cap - r->wpos,
					  nonblock ? MSG_DONTWAIT : 0)
				   : read(r->fd, r->buf + r->wpos, r->cap - r->wpos);
		if (got > 0) {
			r->wpos += (size_t)got;
			return 1;
		}
		if (got == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

static int stream_recv(struct bench_ep *ep, const void **data, size_t *len)
{
	for (;;) {
		/* Round-robin over the producers' readers. */
		for (int k = 1; k <= ep->nrd; k++) {
			int i = (ep->cur + k) % ep->nrd;
			if (frame_ready(&ep->rd[i], data, len, &ep->pending)) {
				ep->cur = i;
				return 0;
			}
		}
		if (ep->nrd == 1) {
			int rc = fill_reader(&ep->rd[0], ep->sock, ep->spin);
			if (rc < 0)
				return rc;
			if (rc == 0)
				bench_relax();
			continue;
		}
		if (ep->spin) {
			for (int i = 0; i < ep->nrd; i++) {
				int rc = fill_reader(&ep->rd[i], ep->sock, true);
				if (rc < 0)
					return rc;
			}
			bench_relax();
			continue;
		}
		if (poll(ep->pfd, (nfds_t)ep->nrd, -1) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < ep->nrd; i++) {
			if (!(ep->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int rc = fill_reader(&ep->rd[i], ep->sock, false);
			if (rc < 0)
				return rc;
		}
	}
}

static void stream_release(struct bench_ep *ep)
{
	struct reader *r = &ep->rd[ep->cur];
	r->rpos += ep->pending;
	if (r->rpos == r->wpos)
		r->rpos = r->wpos = 0;
}

static void stream_close(struct bench_ep *ep)
{
	for (int i = 0; i < ep->nrd; i++)
		free(ep->rd[i].buf);
	free(ep->frame_mem);
	free(ep);
}

static void stream_teardown(const struct bench_cfg *cfg, void *shared)
{
	(void)cfg;
	struct fd_shared *s = shared;
	for (int i = 0; i < s->n; i++) {
		close(s->txfd[i]);
		close(s->rxfd[i]);
	}
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_pipe = {
	.name = "pipe",
	.about = "pipe(2), length-framed, 1 MiB pipe buffer; fan-in polls one pipe per producer",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = pipe_setup,
	.open_tx = stream_open_tx,
	.open_rx = stream_open_rx,
	.get_buf = stream_get_buf,
	.send = stream_send,
	.recv = stream_recv,
	.release = stream_release,
	.close = stream_close,
	.teardown = stream_teardown,
};

const struct transport bench_uds = {
	.name = "uds",
	.about = "AF_UNIX SOCK_STREAM socketpair, length-framed, 1 MiB buffers",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = uds_setup,
	.open_tx = stream_open_tx,
	.open_rx = stream_open_rx,
	.get_buf = stream_get_buf,
	.send = stream_send,
	.recv = stream_recv,
	.release = stream_release,
	.close = stream_close,
	.teardown = stream_teardown,
};

/* ---- POSIX message queues ------------------------------------------------------- */

struct mq_shared {
	int n;
	char name[2][96];
};

static long sysctl_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int mq_setup(const struct bench_cfg *cfg, void **out)
{
	struct mq_shared *s = bench_shared_alloc(sizeof(*s));
	if (!s)
		return -1;
	/* Queues of big messages need more than the default 800 KiB. */
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MSGQUEUE, &rl);
	long depth = cfg->test == TEST_LAT ? 4 : (long)((4u << 20) / cfg->size);
	depth = depth < 4 ? 4 : depth > 64 ? 64 : depth;
	/* Without CAP_SYS_RESOURCE the system's limits bind. */
	long lim = sysctl_long("/proc/sys/fs/mqueue/msg_max");
	if (lim > 0 && depth > lim)
		depth = lim;
	s->n = cfg->nlinks;
	for (int l = 0; l < s->n; l++) {
		snprintf(s->name[l], sizeof(s->name[l]), "/bench-%s-%d", cfg->tag, l);
		struct mq_attr a = { 0 };
		a.mq_maxmsg = depth;
		a.mq_msgsize = (long)cfg->size;
		mqd_t q = mq_open(s->name[l], O_CREAT | O_EXCL | O_RDWR, 0600, &a);
		if (q == (mqd_t)-1) {
			fprintf(stderr, "bench: mq_open %zu-byte messages: %s\n", cfg->size,
				strerror(errno));
			for (int k = 0; k < l; k++)
				mq_unlink(s->name[k]);
			return BENCH_SKIP;
		}
		mq_close(q);
	}
	*out = s;
	return 0;
}

static int mq_open_ep(const struct bench_cfg *cfg, struct mq_shared *s, int link, bool rx,
		      struct bench_ep **out)
{
	struct bench_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -1;
	int flags = rx ? O_RDONLY : O_WRONLY;
	if (rx && cfg->wait == WAIT_SPIN)
		flags |= O_NONBLOCK;
	ep->mq = mq_open(s->name[link], flags);
	if (ep->mq == (mqd_t)-1)
		return -errno;
	ep->mcap = cfg->size;
	ep->mbuf = bench_alloc(ep->mcap);
	if (!ep->mbuf)
		return -1;
	*out = ep;
	return 0;
}

static int mq_open_tx(const struct bench_cfg *c, void *s, int l, int i, struct bench_ep **e)
{
	(void)i;
	return mq_open_ep(c, s, l, false, e);
}

static int mq_open_rx(const struct bench_cfg *c, void *s, int l, struct bench_ep **e)
{
	return mq_open_ep(c, s, l, true, e);
}

static void *mq_get_buf(struct bench_ep *ep, size_t len)
{
	return len <= ep->mcap ? ep->mbuf : NULL;
}

static int mq_send_msg(struct bench_ep *ep, size_t len)
{
	while (mq_send(ep->mq, (const char *)ep->mbuf, len, 0) != 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int mq_recv_msg(struct bench_ep *ep, const void **data, size_t *len)
{
	for (;;) {
		ssize_t n = mq_receive(ep->mq, (char *)ep->mbuf, ep->mcap, NULL);
		if (n >= 0) {
			*data = ep->mbuf;
			*len = (size_t)n;
			return 0;
		}
		if (errno == EAGAIN)
			bench_relax();
		else if (errno != EINTR)
			return -errno;
	}
}

static void mq_release(struct bench_ep *ep)
{
	(void)ep;
}

static void mq_close_ep(struct bench_ep *ep)
{
	mq_close(ep->mq);
	free(ep->mbuf);
	free(ep);
}

static void mq_teardown(const struct bench_cfg *cfg, void *shared)
{
	(void)cfg;
	struct mq_shared *s = shared;
	for (int l = 0; l < s->n; l++)
		mq_unlink(s->name[l]);
	bench_shared_free(s, sizeof(*s));
}

const struct transport bench_mq = {
	.name = "mq",
	.about = "POSIX message queue (mq_send/mq_receive)",
	.caps = CAP_LAT | CAP_THR | CAP_FANIN | CAP_SPIN | CAP_SLEEP,
	.setup = mq_setup,
	.open_tx = mq_open_tx,
	.open_rx = mq_open_rx,
	.get_buf = mq_get_buf,
	.send = mq_send_msg,
	.recv = mq_recv_msg,
	.release = mq_release,
	.close = mq_close_ep,
	.teardown = mq_teardown,
};

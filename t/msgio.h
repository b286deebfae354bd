/*
 * msgio.h - numbered test messages (coretest.h's tc_msg_*) sent and
 * received every way the API offers, chosen at random: the reliability
 * tests (crash_trials, stress_mp) share it.
 *
 * Sending: bytes (inline, or in an allocation when larger than a block),
 * a copy of part of a reusable allocation, an allocation handed over by
 * transfer, and a copy into a destination allocation that travels.
 * Receiving: into a buffer, into an empty message (which gets the
 * payload's allocation), into a destination message.
 */
#ifndef DIPC_T_MSGIO_H
#define DIPC_T_MSGIO_H

#include "coretest.h"

#define MIO_HDR sizeof(struct tc_msghdr)

struct mio_sender {
	dipc_sendh *sh;
	dipc_pool *p;
	dipc_mem *srcmem;            /* a reusable source of maxlen bytes */
	unsigned char *src;
	unsigned char *buf;          /* maxlen bytes of process memory */
	size_t block, maxlen;
};

struct mio_pick {
	size_t len;
	int how;                     /* 0 bytes, 1 copy, 2 transfer, 3 destination */
	int alloc;                   /* the payload travels in an allocation */
};

/* Lengths from a header's size to 3 blocks: both sides of the block size. */
static inline struct mio_pick mio_pick(const struct mio_sender *sd, uint64_t *rng)
{
	struct mio_pick k;
	k.len = MIO_HDR + (size_t)(tc_rand(rng) % (sd->maxlen - MIO_HDR + 1));
	k.how = (int)(tc_rand(rng) % 4);
	k.alloc = k.how >= 2 || k.len > sd->block;
	return k;
}

static inline int mio_sender_init(struct mio_sender *sd, dipc_channel *ch, dipc_pool *p,
				  int wait_mode)
{
	struct dipc_handle_attr ha;
	memset(sd, 0, sizeof(*sd));
	dipc_handle_attr_init(&ha);
	ha.wait_mode = wait_mode;
	sd->p = p;
	sd->block = (size_t)dipc_channel_block_size(ch);
	sd->maxlen = 3 * sd->block;
	if (sd->maxlen < MIO_HDR + 8)
		sd->maxlen = MIO_HDR + 8;
	sd->buf = malloc(sd->maxlen);
	if (!sd->buf || dipc_sendh_create(ch, &ha, &sd->sh) || dipc_sendh_open(sd->sh))
		return -1;
	if (dipc_pool_alloc(p, sd->maxlen, &sd->srcmem))
		return -1;
	sd->src = tc_ptr(sd->srcmem);
	return 0;
}

static inline void mio_sender_fini(struct mio_sender *sd)
{
	if (sd->sh)
		dipc_sendh_destroy(sd->sh);
	if (sd->srcmem)
		dipc_mem_free(sd->srcmem);
	free(sd->buf);
	memset(sd, 0, sizeof(*sd));
}

static inline int mio_send(struct mio_sender *sd, const struct mio_pick *k, uint32_t prod,
			   uint64_t seq, uint64_t *rng, int64_t timeout)
{
	dipc_msg *m = NULL, *d = NULL;
	dipc_mem *part;
	void *mp;
	int rc;
	switch (k->how) {
	case 0:
		tc_msg_make(sd->buf, prod, seq, k->len);
		return dipc_sendh_send_bytes(sd->sh, sd->buf, k->len, timeout);
	case 1:
	case 3:
		/* A message on part of the reusable source allocation. */
		tc_msg_make(sd->src, prod, seq, k->len);
		if (dipc_mem_clone(sd->srcmem, 0, k->len, &part))
			return DIPC_ENOMEM;
		if (dipc_msg_create_from_mem(part, &m)) {
			dipc_mem_detach(part);
			return DIPC_ENOMEM;
		}
		if (k->how == 3) {
			rc = dipc_msg_create_alloc(sd->p, k->len + (size_t)(tc_rand(rng) % 100), &d);
			if (rc) {
				dipc_msg_destroy(m, 0);
				return rc;
			}
		}
		rc = dipc_sendh_send(sd->sh, m, d, DIPC_COPY_ON_SEND, timeout);
		dipc_msg_destroy(m, 0);
		if (d)
			dipc_msg_destroy(d, rc != 0);  /* once sent it is empty */
		return rc;
	default:
		rc = dipc_msg_create_alloc(sd->p, k->len, &m);
		if (rc)
			return rc;
		dipc_msg_get(m, &mp, NULL);
		tc_msg_make(mp, prod, seq, k->len);
		rc = dipc_sendh_send(sd->sh, m, NULL, DIPC_TRANSFER_ON_SEND, timeout);
		dipc_msg_destroy(m, rc != 0);
		return rc;
	}
}

struct mio_receiver {
	dipc_recvh *rh;
	dipc_msg *dest;
	unsigned char *buf;
	size_t maxlen;
};

static inline int mio_receiver_init(struct mio_receiver *rv, dipc_channel *ch, dipc_pool *p,
				    int wait_mode)
{
	struct dipc_handle_attr ha;
	memset(rv, 0, sizeof(*rv));
	dipc_handle_attr_init(&ha);
	ha.wait_mode = wait_mode;
	rv->maxlen = 3 * (size_t)dipc_channel_block_size(ch);
	if (rv->maxlen < MIO_HDR + 8)
		rv->maxlen = MIO_HDR + 8;
	rv->buf = malloc(rv->maxlen);
	if (!rv->buf || dipc_recvh_create(ch, &ha, &rv->rh) || dipc_recvh_open(rv->rh))
		return -1;
	return dipc_msg_create_alloc(p, rv->maxlen, &rv->dest) ? -1 : 0;
}

static inline void mio_receiver_fini(struct mio_receiver *rv)
{
	if (rv->rh)
		dipc_recvh_destroy(rv->rh);
	if (rv->dest)
		dipc_msg_destroy(rv->dest, 1);
	free(rv->buf);
	memset(rv, 0, sizeof(*rv));
}

/* Receive one message a random way.  *st: 0 data, 1 stop, -1 broken;
 * *len its length. */
static inline int mio_recv(struct mio_receiver *rv, uint64_t *rng, int64_t timeout, int *st,
			   uint32_t *prod, uint64_t *seq, size_t *len)
{
	void *ptr = rv->buf;
	dipc_msg *m = NULL;
	int rc;
	*len = 0;
	*st = -1;
	switch (tc_rand(rng) % 3) {
	case 0:
		rc = dipc_recvh_recv_bytes(rv->rh, rv->buf, rv->maxlen, len, timeout);
		break;
	case 1:
		if (dipc_msg_create_empty(&m))
			return DIPC_ENOMEM;
		rc = dipc_recvh_recv(rv->rh, m, timeout);
		dipc_msg_get(m, &ptr, len);
		break;
	default:
		rc = dipc_recvh_recv(rv->rh, rv->dest, timeout);
		dipc_msg_get(rv->dest, &ptr, len);
		break;
	}
	*st = rc ? -1 : tc_msg_read(ptr, *len, prod, seq);
	if (m)
		dipc_msg_destroy(m, 1);
	return rc;
}

#endif

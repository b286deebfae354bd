/*
 * wire.c - the bridges' wire format and the gateway's request check (see
 * wire.h): the code that reads bytes from outsiders, a peer bridge or any
 * process of the user.
 */
#include "config.h"
#include "wire.h"

#include <string.h>

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

uint64_t wire_get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t wire_encode(const struct wire *w, unsigned char *o)
{
	put32(o, W_MAGIC);
	put16(o + 4, W_VERSION);
	put16(o + 6, w->kind);
	put64(o + 8, w->host);
	put64(o + 16, w->incarnation);
	put16(o + 24, w->op);
	put16(o + 26, w->desc_len);
	put32(o + 28, (uint32_t)w->rc);
	put32(o + 32, w->pid);
	put32(o + 36, 0);
	put64(o + 40, w->client);
	put64(o + 48, w->id);
	put64(o + 56, w->low);
	put64(o + 64, (uint64_t)w->timeout);
	put64(o + 72, w->arg);
	put64(o + 80, w->value);
	put64(o + 88, w->value2);
	memcpy(o + W_FIXED, w->desc, w->desc_len);
	return W_FIXED + w->desc_len;
}

int wire_decode(const void *buf, size_t len, struct wire *w)
{
	const unsigned char *b = buf;
	if (len < W_FIXED || get32(b) != W_MAGIC || get16(b + 4) != W_VERSION)
		return -1;
	w->kind = get16(b + 6);
	w->host = wire_get64(b + 8);
	w->incarnation = wire_get64(b + 16);
	w->op = get16(b + 24);
	w->desc_len = get16(b + 26);
	w->rc = (int32_t)get32(b + 28);
	w->pid = get32(b + 32);
	w->client = wire_get64(b + 40);
	w->id = wire_get64(b + 48);
	w->low = wire_get64(b + 56);
	w->timeout = (int64_t)wire_get64(b + 64);
	w->arg = wire_get64(b + 72);
	w->value = wire_get64(b + 80);
	w->value2 = wire_get64(b + 88);
	if (w->kind < W_HELLO || w->kind > W_HAVE || w->desc_len > DIPC_SERIAL_MAX ||
	    len != W_FIXED + (size_t)w->desc_len || w->op > GW_OP_MAX ||
	    (w->kind == W_REQ && (w->op < GW_ATTACH || w->desc_len < 48)) ||
	    w->rc > 0 || w->rc < GW_RC_MIN || w->timeout < DIPC_WAIT_FOREVER)
		return -1;
	memcpy(w->desc, b + W_FIXED, w->desc_len);
	return 0;
}

/* ---- the gateway's requests --------------------------------------------------- */

int gw_req_check(const struct gw_req *q, size_t n, size_t max_msg, bool *answerable)
{
	*answerable = n >= sizeof(*q) && q->magic == GW_MAGIC_REQ && q->reply_len > 0 &&
		      q->desc_len <= DIPC_SERIAL_MAX && q->reply_len <= DIPC_SERIAL_MAX &&
		      sizeof(*q) + (size_t)q->desc_len + q->reply_len <= n;
	if (n < sizeof(*q) || q->magic != GW_MAGIC_REQ || q->version != GW_VERSION ||
	    q->op < GW_ATTACH || q->op > GW_OP_MAX || q->desc_len < 48 ||
	    q->desc_len > DIPC_SERIAL_MAX || q->reply_len > DIPC_SERIAL_MAX ||
	    sizeof(*q) + (size_t)q->desc_len + q->reply_len > n ||
	    (q->op != GW_SEND && sizeof(*q) + (size_t)q->desc_len + q->reply_len != n) ||
	    ((q->op == GW_ACK || q->op == GW_CANCEL) != (q->reply_len == 0)) ||
	    q->timeout < DIPC_WAIT_FOREVER)
		return DIPC_EINVAL;
	if (n - sizeof(*q) - q->desc_len - q->reply_len > max_msg)
		return DIPC_EMSGSIZE;
	return 0;
}

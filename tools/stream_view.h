/*
 * stream_view.h - how dipc reads a stream segment (read-only, checked).
 *
 * Everything is read once into a struct stream_snap (lib/internal.h,
 * "read once"); what dipc prints or decides comes from that copy only.
 */
#ifndef DIPC_TOOL_STREAM_VIEW_H
#define DIPC_TOOL_STREAM_VIEW_H

#include "stream.h"

#include <stdio.h>

/* What dipc knows of a stream, copied out of the segment. */
struct stream_snap {
	uint64_t ring;          /* ring bytes, checked against the segment */
	uint64_t rpos, wpos;
	uint64_t roles;
	bool r_sleeping, w_sleeping;
};

/*
 * Copy the stream at map (size bytes) into *v.  SEG_OK, or SEG_DAMAGED /
 * SEG_UNKNOWN with the reason in why.  Each shared field is read one time;
 * the ring's size is taken from the header only if the segment holds it.
 */
static int stream_snap_read(const void *map, size_t size, struct stream_snap *v, char *why,
			    size_t len)
{
	memset(v, 0, sizeof(*v));
	struct dipc_stream_shm *h = (struct dipc_stream_shm *)map;
	uint64_t magic = size >= sizeof(uint64_t) ? atomic_load(&h->magic) : 0;
	if (size < DIPC_STREAM_HDR_SIZE) {
		if (magic == DIPC_STREAM_MAGIC)
			snprintf(why, len, "truncated: %zu bytes, less than its header", size);
		else
			snprintf(why, len, "not a stream: %zu bytes", size);
		return SEG_DAMAGED;
	}
	if (magic != DIPC_STREAM_MAGIC) {
		snprintf(why, len, magic ? "not a stream header"
					 : "no header (its creator never finished it)");
		return SEG_DAMAGED;
	}
	uint32_t version = DIPC_SHARED_READ(h->version);
	if (version != DIPC_STREAM_VERSION) {
		snprintf(why, len, "another layout version (%u)", version);
		return SEG_UNKNOWN;
	}
	uint64_t rs = DIPC_SHARED_READ(h->once_ring_size);
	uint64_t seg = DIPC_SHARED_READ(h->once_seg_size);
	if (DIPC_SHARED_READ(h->once_hdr_size) != DIPC_STREAM_HDR_SIZE || rs == 0 ||
	    rs > DIPC_STREAM_MAX_RING || seg != DIPC_STREAM_HDR_SIZE + rs) {
		snprintf(why, len, "header fields do not agree");
		return SEG_DAMAGED;
	}
	if (seg > size) {
		snprintf(why, len, "truncated: %zu of %llu bytes", size, (unsigned long long)seg);
		return SEG_DAMAGED;
	}
	if (seg != size) {
		snprintf(why, len, "the header says %llu bytes, the segment has %zu",
			 (unsigned long long)seg, size);
		return SEG_DAMAGED;
	}
	v->ring = rs;
	v->roles = atomic_load(&h->roles);
	v->wpos = atomic_load(&h->wpos);
	v->rpos = atomic_load(&h->rpos);
	v->r_sleeping = atomic_load(&h->r_sleeping) != 0;
	v->w_sleeping = atomic_load(&h->w_sleeping) != 0;
	return SEG_OK;
}

/* Bytes written and not yet read, as far as the two cursors say. */
static uint64_t stream_buffered(const struct stream_snap *v)
{
	uint64_t used = v->wpos >= v->rpos ? v->wpos - v->rpos : 0;
	return used > v->ring ? v->ring : used;
}

/* A role holder as words: "none", "closed", "sealed", "dead 123" or "123". */
static const char *role_text(uint32_t v, char *buf, size_t len)
{
	if (v == DIPC_ROLE_NONE)
		return "none";
	if (v == DIPC_ROLE_CLOSED)
		return "closed";
	if (v == DIPC_ROLE_SEAL)
		return "sealed";
	snprintf(buf, len, "%s%u", dipc_os_pid_alive(v) ? "" : "dead ", v);
	return buf;
}

static bool role_live(uint32_t v)
{
	return dipc_role_is_pid(v) && dipc_os_pid_alive(v);
}

/*
 * Why a stream that no process maps must stay, or NULL if nothing in it
 * waits for anyone.  A live reader, writer or sealer still has a part in
 * it.  Unread bytes of a stream no reader has opened yet are kept for a
 * reader (dipc_stream_open(3)): the library itself keeps them when the
 * writer closes, whether the writer closed or died.  Any other stream is
 * one the library would have removed had its last side closed.
 */
static const char *stream_keep_reason(const struct stream_snap *v)
{
	uint32_t reader = dipc_role_get(v->roles, DIPC_STREAM_READ);
	uint32_t writer = dipc_role_get(v->roles, DIPC_STREAM_WRITE);
	if (role_live(reader) || role_live(writer))
		return "in use";
	if (reader == DIPC_ROLE_NONE && v->wpos != v->rpos)
		return "kept for a reader";
	return NULL;
}

#endif

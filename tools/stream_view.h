/*
 * stream_view.h - how dipc reads a stream segment (read-only, checked).
 */
#ifndef DIPC_TOOL_STREAM_VIEW_H
#define DIPC_TOOL_STREAM_VIEW_H

#include "stream.h"

/* The header if the segment is a sound stream, its ring's size (read
 * once, lib/internal.h) in *ring. */
static const struct dipc_stream_shm *stream_view_hdr(const void *map, size_t size,
						     uint64_t *ring)
{
	const struct dipc_stream_shm *h = map;
	if (!h || size < DIPC_STREAM_HDR_SIZE || atomic_load(&((struct dipc_stream_shm *)h)->magic) != DIPC_STREAM_MAGIC ||
	    DIPC_SHARED_READ(h->version) != DIPC_STREAM_VERSION)
		return NULL;
	uint64_t rs = DIPC_SHARED_READ(h->once_ring_size);
	if (DIPC_SHARED_READ(h->once_seg_size) != size || rs == 0 ||
	    rs > size - DIPC_STREAM_HDR_SIZE)
		return NULL;
	*ring = rs;
	return h;
}

/* A role holder as words: "none", "closed", "dead 123" or "123". */
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
	return v != DIPC_ROLE_NONE && v != DIPC_ROLE_CLOSED && v != DIPC_ROLE_SEAL &&
	       dipc_os_pid_alive(v);
}

static bool stream_view_stale(const void *map, size_t size)
{
	uint64_t ring;
	const struct dipc_stream_shm *h = stream_view_hdr(map, size, &ring);
	if (!h)
		return true;
	uint64_t roles = atomic_load(&((struct dipc_stream_shm *)h)->roles);
	return !role_live(dipc_role_get(roles, DIPC_STREAM_READ)) &&
	       !role_live(dipc_role_get(roles, DIPC_STREAM_WRITE));
}

static int stream_view_status(const char *name, const void *map, size_t size, bool as_json,
			      int npids, const int *pids)
{
	uint64_t ring;
	const struct dipc_stream_shm *h = stream_view_hdr(map, size, &ring);
	if (!h) {
		if (as_json)
			printf("{\"kind\":\"stream\",\"name\":\"%s\",\"valid\":false}\n", name);
		else
			printf("stream %s: invalid header\n", name);
		return 1;
	}
	struct dipc_stream_shm *m = (struct dipc_stream_shm *)h;
	uint64_t roles = atomic_load(&m->roles);
	uint64_t w = atomic_load(&m->wpos), r = atomic_load(&m->rpos);
	uint64_t used = w >= r ? w - r : 0;
	const char *state = used == 0 ? "empty" : used >= ring ? "full" : "normal";
	char rb[32], wb[32];
	const char *rt = role_text(dipc_role_get(roles, DIPC_STREAM_READ), rb, sizeof(rb));
	const char *wt = role_text(dipc_role_get(roles, DIPC_STREAM_WRITE), wb, sizeof(wb));
	if (as_json) {
		printf("{\"kind\":\"stream\",\"name\":\"%s\",\"valid\":true,\"ring_size\":%llu,"
		       "\"read_pos\":%llu,\"write_pos\":%llu,\"buffered\":%llu,\"state\":\"%s\","
		       "\"reader\":\"%s\",\"writer\":\"%s\",\"reader_sleeping\":%u,"
		       "\"writer_sleeping\":%u,\"pids\":[",
		       name, (unsigned long long)ring, (unsigned long long)r,
		       (unsigned long long)w, (unsigned long long)used, state, rt, wt,
		       atomic_load(&m->r_sleeping) != 0, atomic_load(&m->w_sleeping) != 0);
		for (int i = 0; i < npids; i++)
			printf("%s%d", i ? "," : "", pids[i]);
		printf("]}\n");
		return 0;
	}
	printf("stream %s: ring %llu B, %llu buffered (%s), read %llu, written %llu\n", name,
	       (unsigned long long)ring, (unsigned long long)used, state,
	       (unsigned long long)r, (unsigned long long)w);
	printf("  reader %s%s, writer %s%s\n", rt, atomic_load(&m->r_sleeping) ? " (sleeping)" : "",
	       wt, atomic_load(&m->w_sleeping) ? " (sleeping)" : "");
	return 0;
}

#endif

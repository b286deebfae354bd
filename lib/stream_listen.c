/*
 * stream_listen.c - the listener thread, and the status line.
 *
 * The listener hands the callback pointers straight into the ring (no
 * copy): the writer cannot reuse those bytes before rpos moves, and rpos
 * moves only after the callback returns.  A chunk that wraps the ring
 * arrives as two calls.
 *
 * Removal: unlisten from another thread sets stop, wakes the listener and
 * joins it, so no callback runs once it returns.  From inside the callback
 * it only sets stop (a thread cannot join itself): the thread finishes the
 * current chunk, stops, and is joined by the next listen, unlisten or
 * close.  The thread knows its stream through a thread-local, which is
 * also how close and cleanup refuse to run from a callback on the stream
 * they would have to join.
 */
#include "stream.h"

#include <inttypes.h>
#include <stdio.h>

static _Thread_local dipc_stream *listener_self;

bool dipc_stream_on_listener_(const dipc_stream *s)
{
	return listener_self == s;
}

bool dipc_stream_in_any_listener_(void)
{
	return listener_self != NULL;
}

static void *listener_main(void *arg)
{
	dipc_stream *s = arg;
	struct dipc_stream_shm *h = s->hdr;
	uint64_t deadline = 0;

	listener_self = s;
	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		uint64_t avail = s->peer - s->pos;
		if (avail == 0) {
			s->peer = atomic_load_explicit(&h->wpos, memory_order_acquire);
			avail = s->peer - s->pos;
		}
		if (avail > s->size) {
			DIPC_LOG(DIPC_LOG_BASIC, "stream %s: cursors corrupt, "
				 "listener stops", s->name);
			s->cb(s, NULL, 0, s->cb_arg);
			break;
		}
		if (avail == 0) {
			int rc = dipc_stream_wait_(s, DIPC_WAIT_FOREVER, &deadline,
						   &s->stop);
			if (rc == DIPC_EPEERCLOSED) {
				s->cb(s, NULL, 0, s->cb_arg);
				break;
			}
			continue;
		}
		size_t off = (size_t)(s->pos % s->size);
		size_t n = (size_t)s->size - off;
		if (n > avail)
			n = (size_t)avail;
		s->cb(s, s->ring + off, n, s->cb_arg);
		s->pos += n;
		atomic_store_explicit(&h->rpos, s->pos, memory_order_release);
		dipc_stream_publish_(s);
	}
	listener_self = NULL;
	atomic_store_explicit(&s->running, false, memory_order_release);
	return NULL;
}

/* Stop and join the listener if there is one.  Not from the listener. */
void dipc_stream_stop_listener_(dipc_stream *s)
{
	dipc_os_mutex_lock(s->lock);
	if (s->thread) {
		atomic_store_explicit(&s->stop, true, memory_order_seq_cst);
		dipc_stream_kick_(s, &s->hdr->data_evt);
		dipc_os_thread_join(s->thread);
		s->thread = NULL;
	}
	dipc_os_mutex_unlock(s->lock);
}

static int stream_listen(dipc_stream *s, dipc_stream_cb cb, void *arg);

int dipc_stream_listen(dipc_stream *s, dipc_stream_cb cb, void *arg)
{
	int rc = dipc_stream_enter_(s);
	if (rc)
		return rc;
	rc = stream_listen(s, cb, arg);
	dipc_stream_leave_(s);
	return rc;
}

static int stream_listen(dipc_stream *s, dipc_stream_cb cb, void *arg)
{
	int rc;
	if (!cb || s->role != DIPC_STREAM_READ)
		return DIPC_EINVAL;
	if (dipc_stream_on_listener_(s))
		return DIPC_EBUSY;

	dipc_os_mutex_lock(s->lock);
	if (s->thread) {
		if (atomic_load_explicit(&s->running, memory_order_acquire)) {
			dipc_os_mutex_unlock(s->lock);
			return DIPC_EBUSY;
		}
		/* It ended by itself (writer closed, or removed from inside
		 * its callback). */
		dipc_os_thread_join(s->thread);
		s->thread = NULL;
	}
	s->cb = cb;
	s->cb_arg = arg;
	atomic_store(&s->stop, false);
	atomic_store(&s->running, true);
	rc = dipc_os_thread_start(&s->thread, listener_main, s);
	if (rc) {
		atomic_store(&s->running, false);
		s->thread = NULL;
	}
	dipc_os_mutex_unlock(s->lock);
	return rc;
}

static int stream_unlisten(dipc_stream *s);

int dipc_stream_unlisten(dipc_stream *s)
{
	int rc = dipc_stream_enter_(s);
	if (rc)
		return rc;
	rc = stream_unlisten(s);
	dipc_stream_leave_(s);
	return rc;
}

static int stream_unlisten(dipc_stream *s)
{
	if (s->role != DIPC_STREAM_READ)
		return DIPC_EINVAL;
	if (dipc_stream_on_listener_(s)) {
		atomic_store_explicit(&s->stop, true, memory_order_release);
		return 0;
	}
	dipc_os_mutex_lock(s->lock);
	bool had = s->thread != NULL;
	dipc_os_mutex_unlock(s->lock);
	if (!had)
		return DIPC_EINVAL;
	dipc_stream_stop_listener_(s);
	return 0;
}

/* What a roles half says, for the status line. */
static void role_flags(uint32_t v, int *open, int *closed)
{
	*open = 0;
	*closed = 0;
	if (v == DIPC_ROLE_CLOSED || v == DIPC_ROLE_SEAL)
		*closed = 1;
	else if (dipc_role_is_pid(v)) {
		if (dipc_os_pid_alive(v))
			*open = 1;
		else
			*closed = 1;
	}
}

static int stream_status(dipc_stream *s, char *buf, size_t len);

int dipc_stream_status(dipc_stream *s, char *buf, size_t len)
{
	int rc = dipc_stream_enter_(s);
	if (rc)
		return rc;
	rc = stream_status(s, buf, len);
	dipc_stream_leave_(s);
	return rc;
}

static int stream_status(dipc_stream *s, char *buf, size_t len)
{
	if (!buf && len)
		return DIPC_EINVAL;

	struct dipc_stream_shm *h = s->hdr;
	uint64_t roles = atomic_load_explicit(&h->roles, memory_order_acquire);
	int ro, rcl, wo, wcl;
	if (dipc_roles_sealed(roles)) {
		ro = wo = 0;
		rcl = wcl = 1;
	} else {
		role_flags(dipc_role_get(roles, DIPC_STREAM_READ), &ro, &rcl);
		role_flags(dipc_role_get(roles, DIPC_STREAM_WRITE), &wo, &wcl);
	}
	/* rpos first: it never passes wpos, so used cannot go negative. */
	uint64_t r = atomic_load_explicit(&h->rpos, memory_order_acquire);
	uint64_t w = atomic_load_explicit(&h->wpos, memory_order_acquire);
	uint64_t used = w - r;
	const char *state = used == 0 ? "empty" : used >= s->size ? "full" : "normal";
	bool listening = atomic_load_explicit(&s->running, memory_order_acquire) &&
			 !atomic_load_explicit(&s->stop, memory_order_acquire);

	/* hSharedMem: no descriptor or handle is kept for a mapped segment
	 * (lib/posix/shm.c), so the number that names this handle's segment
	 * in this process is the address it is mapped at. */
	return snprintf(buf, len,
		"Channel(%s): mode=%c hSharedMem=%" PRIdPTR " listener=%s "
		"syncBuf={RO=%d WO=%d RC=%d WC=%d hREvt=%p hWEvt=%p bufSz=%" PRIu64
		" rc=%" PRIu64 " wc=%" PRIu64 " state=%s}",
		s->name, s->role == DIPC_STREAM_READ ? 'R' : 'W', (intptr_t)s->shm.addr,
		listening ? "enable" : "disable", ro, wo, rcl, wcl,
		(void *)&h->data_evt, (void *)&h->space_evt, s->size, r, w, state);
}

int dipc_stream_print_status(dipc_stream *s, FILE *fp)
{
	char line[512];
	if (!fp)
		return DIPC_EINVAL;
	int n = dipc_stream_status(s, line, sizeof(line));
	if (n < 0)
		return n;
	if (fprintf(fp, "%s\n", line) < 0)
		return DIPC_ESYS;
	return 0;
}

/*
 * stream_io.c - moving bytes through a stream's ring, and waiting.
 *
 * Fast path: the writer copies into the ring and publishes wpos with a
 * release store; the reader loads wpos with acquire, copies out and
 * publishes rpos the same way.  Each side first looks at its cached copy
 * of the other cursor and reloads it only when the cache says full (or
 * empty), so an active pair mostly touches its own cache line.
 *
 * Sleeping: a side that must wait spins a little, then announces itself
 * in its *_sleeping word, issues a full fence and looks once more before
 * it sleeps on its event word.  The other side, after publishing, issues
 * the same fence and reads the sleeping word: with both fences at least
 * one of the two sees the other's store (Dekker), so either the sleeper
 * sees the new cursor or the publisher sees the sleeper and bumps the
 * event word, which makes the sleep return at once.  No wake-up is lost,
 * and no system call is made while nobody sleeps.
 *
 * A sleep lasts at most DIPC_LIVENESS_NS, after which the sleeper asks
 * whether the peer process still exists; a dead peer counts as closed.
 *
 * No trace of the dead: the sleeping word holds the sleeper's process id,
 * not a bare flag, so a side that keeps finding it set (a sleeper killed
 * in its sleep never clears it) checks, every DIPC_WAITER_REPAIR_EVERY
 * wake-up calls, whether that process lives, and clears the word if not;
 * from then on it makes no more wake-up calls for nobody.
 */
#include "stream.h"

/* Tell the peer's sleeper (if any) that our cursor moved. */
void dipc_stream_publish_(dipc_stream *s)
{
	struct dipc_stream_shm *h = s->hdr;
	bool writer = s->role == DIPC_STREAM_WRITE;
	_Atomic uint32_t *flag = writer ? &h->r_sleeping : &h->w_sleeping;

	atomic_thread_fence(memory_order_seq_cst);
	uint32_t who = atomic_load_explicit(flag, memory_order_relaxed);
	if (likely(!who))
		return;
	dipc_stream_kick_(s, writer ? &h->data_evt : &h->space_evt);
	/* Still set after many calls: is the sleeper still there? */
	if (++s->kicks % DIPC_WAITER_REPAIR_EVERY == 0 && !dipc_os_pid_alive(who) &&
	    atomic_compare_exchange_strong(flag, &who, 0))
		DIPC_LOG(DIPC_LOG_BASIC, "stream %s: cleared the sleep mark of dead process %u",
			 s->name, who);
}

/* Bump an event word and wake whoever sleeps on it. */
void dipc_stream_kick_(dipc_stream *s, _Atomic uint32_t *evt)
{
	atomic_fetch_add_explicit(evt, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&dipc_wake_calls, 1, memory_order_relaxed);
	dipc_os_wake(&s->shm, evt);
}

/*
 * Has the other side closed or died?  "Never opened" is not gone: a
 * writer may fill the ring before any reader arrives, and a reader may
 * wait for a writer that has yet to start.  Asking the OS about a process
 * costs a system call, so the answer for one peer id is kept for
 * DIPC_LIVENESS_NS.
 */
bool dipc_stream_peer_gone_(dipc_stream *s)
{
	uint64_t roles = atomic_load_explicit(&s->hdr->roles, memory_order_acquire);
	if (dipc_roles_sealed(roles))
		return true;
	uint32_t p = dipc_role_get(roles, !s->role);
	if (p == DIPC_ROLE_NONE)
		return false;
	if (p == DIPC_ROLE_CLOSED)
		return true;
	uint64_t now = dipc_os_now_ns();
	if (p != s->seen_pid || now >= s->next_check) {
		bool dead = !dipc_os_pid_alive(p);
		if (dead && !(s->seen_pid == p && s->seen_dead))
			DIPC_LOG(DIPC_LOG_BASIC, "stream %s: %s process %u is gone",
				 s->name, s->role ? "reader" : "writer", p);
		s->seen_pid = p;
		s->seen_dead = dead;
		s->next_check = now + DIPC_LIVENESS_NS;
	}
	return s->seen_dead;
}

/* Reload the other cursor; true if we can make progress (or the cursors
 * disagree with each other, which the caller checks). */
static bool can_go(dipc_stream *s)
{
	struct dipc_stream_shm *h = s->hdr;
	if (s->role == DIPC_STREAM_WRITE) {
		s->peer = atomic_load_explicit(&h->rpos, memory_order_acquire);
		return s->pos - s->peer != s->size;
	}
	s->peer = atomic_load_explicit(&h->wpos, memory_order_acquire);
	return s->peer != s->pos;
}

/*
 * Wait until the ring lets us go on.  Returns 0 (go on), DIPC_EPEERCLOSED,
 * DIPC_ETIMEDOUT, DIPC_EFULL / DIPC_EEMPTY (try once), or
 * DIPC_STREAM_STOPPED when *stop was set.  *deadline is 0 on the first
 * wait of a call and is fixed then, so the fast path reads no clock.
 */
int dipc_stream_wait_(dipc_stream *s, int64_t timeout_ns, uint64_t *deadline,
		      const atomic_bool *stop)
{
	struct dipc_stream_shm *h = s->hdr;
	bool reader = s->role == DIPC_STREAM_READ;
	_Atomic uint32_t *evt = reader ? &h->data_evt : &h->space_evt;
	_Atomic uint32_t *flag = reader ? &h->r_sleeping : &h->w_sleeping;

	if (timeout_ns == DIPC_TRY_ONCE) {
		if (can_go(s))
			return 0;
		if (dipc_stream_peer_gone_(s))
			return can_go(s) && reader ? 0 : DIPC_EPEERCLOSED;
		return reader ? DIPC_EEMPTY : DIPC_EFULL;
	}
	if (*deadline == 0)
		*deadline = dipc_deadline(timeout_ns);

	for (int i = 0; i < DIPC_SPIN_LIMIT; i++) {
		if (can_go(s))
			return 0;
		if (stop && atomic_load_explicit(stop, memory_order_relaxed))
			return DIPC_STREAM_STOPPED;
		if (!stop && (i & 255) == 0 && dipc_stream_closing_(s))
			return DIPC_ENOTOPEN;
		dipc_cpu_relax();
	}

	int rc;
	for (;;) {
		uint32_t seq = atomic_load_explicit(evt, memory_order_acquire);
		atomic_store_explicit(flag, s->pid, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		if (can_go(s)) {
			rc = 0;
			break;
		}
		if (stop && atomic_load_explicit(stop, memory_order_seq_cst)) {
			rc = DIPC_STREAM_STOPPED;
			break;
		}
		/* Closed by another thread: it waits for us to leave. */
		if (!stop && dipc_stream_closing_(s)) {
			rc = DIPC_ENOTOPEN;
			break;
		}
		if (dipc_stream_peer_gone_(s)) {
			/* A writer's last bytes come before its close: look
			 * again now that the close has been seen. */
			rc = reader && can_go(s) ? 0 : DIPC_EPEERCLOSED;
			break;
		}
		int64_t left = dipc_time_left(*deadline, DIPC_LIVENESS_NS);
		if (left == 0) {
			rc = DIPC_ETIMEDOUT;
			break;
		}
		dipc_os_wait(&s->shm, evt, seq, left);
		atomic_store_explicit(flag, 0, memory_order_relaxed);
	}
	atomic_store_explicit(flag, 0, memory_order_relaxed);
	return rc;
}

/* Copy n bytes (n <= ring size) at stream position pos: at most two
 * memcpy's, the second when the range wraps. */
static void ring_put(dipc_stream *s, uint64_t pos, const unsigned char *src, size_t n)
{
	size_t off = (size_t)(pos % s->size);
	size_t first = (size_t)s->size - off;
	if (first >= n) {
		memcpy(s->ring + off, src, n);
		return;
	}
	memcpy(s->ring + off, src, first);
	memcpy(s->ring, src + first, n - first);
}

static void ring_get(dipc_stream *s, uint64_t pos, unsigned char *dst, size_t n)
{
	size_t off = (size_t)(pos % s->size);
	size_t first = (size_t)s->size - off;
	if (first >= n) {
		memcpy(dst, s->ring + off, n);
		return;
	}
	memcpy(dst, s->ring + off, first);
	memcpy(dst + first, s->ring, n - first);
}

/* The result of a write or read, with a trace line at DIPC_LOG_ALL: bytes
 * moved if any, else the error that stopped the call. */
static int64_t io_done(dipc_stream *s, const char *what, size_t done, size_t len, int rc)
{
	DIPC_LOG(DIPC_LOG_ALL, "stream %s: %s %llu of %llu bytes%s%s", s->name, what,
		 (unsigned long long)done, (unsigned long long)len,
		 rc ? ", stopped by: " : "", rc ? dipc_strerror(rc) : "");
	return done || !rc ? (int64_t)done : rc;
}

static int64_t stream_write(dipc_stream *s, const void *buf, size_t len, int64_t timeout_ns);

int64_t dipc_stream_write(dipc_stream *s, const void *buf, size_t len,
			  int64_t timeout_ns)
{
	int rc = dipc_stream_enter_(s);
	if (rc)
		return rc;
	int64_t n = stream_write(s, buf, len, timeout_ns);
	dipc_stream_leave_(s);
	return n;
}

static int64_t stream_write(dipc_stream *s, const void *buf, size_t len, int64_t timeout_ns)
{
	int rc;
	if (s->role != DIPC_STREAM_WRITE || (!buf && len) ||
	    !dipc_stream_timeout_ok(&timeout_ns) || len > INT64_MAX)
		return DIPC_EINVAL;
	if (len == 0)
		return 0;

	struct dipc_stream_shm *h = s->hdr;
	/* A reader that closed will not read this; one that died is found
	 * when the ring fills (finding it costs a system call). */
	uint64_t roles = atomic_load_explicit(&h->roles, memory_order_acquire);
	if (dipc_role_get(roles, DIPC_STREAM_READ) == DIPC_ROLE_CLOSED)
		return DIPC_EPEERCLOSED;

	const unsigned char *src = buf;
	uint64_t deadline = 0;
	size_t done = 0;
	while (done < len) {
		uint64_t used = s->pos - s->peer;
		if (used >= s->size) {
			s->peer = atomic_load_explicit(&h->rpos, memory_order_acquire);
			used = s->pos - s->peer;
			if (used > s->size)
				return DIPC_ECORRUPT;
			if (used == s->size) {
				DIPC_LOG(DIPC_LOG_ALL, "stream %s: ring full after %llu of %llu bytes, waiting",
					 s->name, (unsigned long long)done, (unsigned long long)len);
				rc = dipc_stream_wait_(s, timeout_ns, &deadline, NULL);
				if (rc)
					return io_done(s, "wrote", done, len, rc);
				continue;
			}
		}
		size_t n = (size_t)(s->size - used);
		if (n > len - done)
			n = len - done;
		ring_put(s, s->pos, src + done, n);
		s->pos += n;
		atomic_store_explicit(&h->wpos, s->pos, memory_order_release);
		dipc_stream_publish_(s);
		done += n;
	}
	return io_done(s, "wrote", done, len, 0);
}

static int64_t stream_read(dipc_stream *s, void *buf, size_t len, int64_t timeout_ns);

int64_t dipc_stream_read(dipc_stream *s, void *buf, size_t len, int64_t timeout_ns)
{
	int rc = dipc_stream_enter_(s);
	if (rc)
		return rc;
	int64_t n = stream_read(s, buf, len, timeout_ns);
	dipc_stream_leave_(s);
	return n;
}

static int64_t stream_read(dipc_stream *s, void *buf, size_t len, int64_t timeout_ns)
{
	int rc;
	if (s->role != DIPC_STREAM_READ || (!buf && len) ||
	    !dipc_stream_timeout_ok(&timeout_ns) || len > INT64_MAX)
		return DIPC_EINVAL;
	if (atomic_load_explicit(&s->running, memory_order_acquire))
		return DIPC_EBUSY;
	if (len == 0)
		return 0;

	struct dipc_stream_shm *h = s->hdr;
	unsigned char *dst = buf;
	uint64_t deadline = 0;
	size_t done = 0;
	while (done < len) {
		uint64_t avail = s->peer - s->pos;
		if (avail == 0) {
			s->peer = atomic_load_explicit(&h->wpos, memory_order_acquire);
			avail = s->peer - s->pos;
		}
		if (avail > s->size)
			return DIPC_ECORRUPT;
		if (avail == 0) {
			/* Try-once takes what is there; 0 when that is nothing. */
			if (timeout_ns == DIPC_TRY_ONCE && done)
				break;
			rc = dipc_stream_wait_(s, timeout_ns, &deadline, NULL);
			if (rc == DIPC_EEMPTY)
				return io_done(s, "read", done, len, 0);
			if (rc)
				return io_done(s, "read", done, len, rc);
			continue;
		}
		size_t n = avail < len - done ? (size_t)avail : len - done;
		ring_get(s, s->pos, dst + done, n);
		s->pos += n;
		atomic_store_explicit(&h->rpos, s->pos, memory_order_release);
		dipc_stream_publish_(s);
		done += n;
	}
	return io_done(s, "read", done, len, 0);
}

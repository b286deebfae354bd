/*
 * stream.c - opening and closing byte streams, and the registry of this
 * process's open streams.
 *
 * Open: the first opener creates the segment (exclusive create) and fills
 * the header, publishing magic last; a later opener maps it, waits briefly
 * for magic if the creator is still at work, and validates every field
 * before trusting it.  Then it claims its role with one compare-and-swap
 * on the roles word: from "never opened", "closed", or the id of a process
 * that no longer exists.  A live holder (this process included) makes the
 * open fail with DIPC_EBUSY.
 *
 * Close and removal of the name: the closing side gives up its role and,
 * in the same compare-and-swap, seals the segment if the other side is not
 * there (never opened, closed or dead).  Only the side that sealed removes
 * the name, and a sealed segment can never be claimed again: an opener
 * that mapped it just before it was sealed sees the seal, lets go and
 * starts over, creating a fresh segment once the old name is gone.  So a
 * concurrent opener never ends up alone in a segment nobody else can find.
 * One exception keeps data alive: a writer that closes while bytes are
 * unread and no reader has ever opened does not seal, so a reader that
 * comes later still gets them (and removes the name when it closes).
 *
 * If the sealing process dies before it removes the name, the next opener
 * sees a seal whose owner is dead, takes the duty over (compare-and-swap
 * again, so only one does) and removes the name.  Residual window: should
 * the sealer die after removing the name but before marking it removed,
 * and an opener that had mapped the old segment then remove a newer
 * segment of the same name, that newer stream loses its name (its open
 * handles keep working; later openers get a fresh one).
 *
 * Closing while other threads are inside calls on the handle (a reader
 * blocked in dipc_stream_read, say): close marks the handle closing, wakes
 * the waiters, which return what they moved or DIPC_ENOTOPEN, and waits
 * for every call to leave before it unmaps (see dipc_stream_enter_ in
 * stream.h); the freed handle then waits in the quarantine (handle.c).
 *
 * Registry and dipc_cleanup: every open handle is on a process-local
 * list.  dipc_cleanup releases each one (stops its listener, gives up the
 * role, unmaps) but keeps the handle's memory, marked closed: every call
 * on it then returns DIPC_ENOTOPEN, and dipc_stream_close on it frees it
 * and returns 0.  dipc_stream_close checks membership before it touches a
 * handle, so closing a handle twice returns DIPC_ENOTOPEN rather than
 * freeing it twice.  A handle it frees goes through the quarantine of
 * freed handles (handle.c) with its magic word cleared, so any other call
 * on it returns DIPC_ENOTOPEN too, within the quarantine's reach.
 */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>

/* How long an opener keeps retrying a segment that is being made or being
 * removed before it gives up. */
#define OPEN_PATIENCE_NS (2ull * 1000 * 1000 * 1000)

#define CLAIM_RETRY 1

static dipc_spinlock reg_lock = DIPC_SPINLOCK_INIT;
static dipc_stream *reg_head;

static void reg_add(dipc_stream *s)
{
	dipc_spin_lock(&reg_lock);
	s->next = reg_head;
	reg_head = s;
	dipc_spin_unlock(&reg_lock);
}

/* Unlink s from the list; the lock must be held and s be on it. */
static void reg_remove_locked(dipc_stream *s)
{
	for (dipc_stream **pp = &reg_head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			s->next = NULL;
			return;
		}
	}
}

static bool reg_has_locked(const dipc_stream *s)
{
	for (dipc_stream *p = reg_head; p; p = p->next)
		if (p == s)
			return true;
	return false;
}

static void init_header(struct dipc_os_shm *shm, uint64_t ring)
{
	struct dipc_stream_shm *h = shm->addr;
	h->version = DIPC_STREAM_VERSION;
	h->once_hdr_size = (uint32_t)DIPC_STREAM_HDR_SIZE;
	h->once_ring_size = ring;
	h->once_seg_size = DIPC_STREAM_HDR_SIZE + ring;
	atomic_store_explicit(&h->magic, DIPC_STREAM_MAGIC, memory_order_release);
}

/* 0 if the mapped segment is a sound stream, 1 if its creator has not
 * finished it yet, or an error.  Read once (see internal.h): each field
 * is read one time, checked, and the ring's size handed back privately;
 * the ring's offset is our own constant, never the header's. */
static int check_header(const struct dipc_os_shm *shm, uint64_t *ring)
{
	if (shm->size < DIPC_STREAM_HDR_SIZE)
		return DIPC_ECORRUPT;
	struct dipc_stream_shm *h = shm->addr;
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
	if (magic == 0)
		return 1;
	if (magic != DIPC_STREAM_MAGIC)
		return DIPC_ECORRUPT;
	if (DIPC_SHARED_READ(h->version) != DIPC_STREAM_VERSION)
		return DIPC_EVERSION;
	uint64_t rs = DIPC_SHARED_READ(h->once_ring_size);
	if (DIPC_SHARED_READ(h->once_hdr_size) != DIPC_STREAM_HDR_SIZE || rs == 0 ||
	    rs > DIPC_STREAM_MAX_RING ||
	    DIPC_SHARED_READ(h->once_seg_size) != DIPC_STREAM_HDR_SIZE + rs ||
	    DIPC_STREAM_HDR_SIZE + rs > shm->size)
		return DIPC_ECORRUPT;
	uint64_t r = atomic_load_explicit(&h->rpos, memory_order_acquire);
	uint64_t w = atomic_load_explicit(&h->wpos, memory_order_acquire);
	if (w - r > rs)
		return DIPC_ECORRUPT;
	*ring = rs;
	return 0;
}

/* May we join this existing segment?  Not one another user owns, nor one
 * more open than the caller asked for (granting its group or others a
 * right that perm does not; the owner's bits concern us alone), unless
 * the caller opted into sharing: a squatter could otherwise take our
 * bytes or feed us its own.  Decided on the descriptor we map, before
 * any byte of the segment is read. */
static int may_join(const struct dipc_os_shm *shm, const char *name, unsigned perm)
{
	if (perm & DIPC_SHARED)
		return 0;
	unsigned want = perm & 0777u;
	if (shm->other_owner) {
		DIPC_LOG(DIPC_LOG_BASIC, "stream %s belongs to another user; refused "
			 "(DIPC_SHARED accepts it)", name);
		return DIPC_EPERM;
	}
	if (shm->mode != DIPC_OS_MODE_UNKNOWN && (shm->mode & ~want & 077u)) {
		DIPC_LOG(DIPC_LOG_BASIC, "stream %s has mode %03o, more open than the %03o "
			 "asked for; refused (DIPC_SHARED accepts it)", name, shm->mode, want);
		return DIPC_EPERM;
	}
	return 0;
}

/* Create the segment, or map and validate the existing one. */
static int map_segment(const char *seg, const char *name, uint64_t ring, unsigned perm,
		       uint64_t give_up, struct dipc_os_shm *shm, uint64_t *ring_out,
		       bool *created)
{
	for (;;) {
		int rc = dipc_os_shm_create(seg, (size_t)(DIPC_STREAM_HDR_SIZE + ring),
					    perm & 0777u, shm);
		if (rc == 0) {
			init_header(shm, ring);
			*ring_out = ring;
			*created = true;
			return 0;
		}
		if (rc != DIPC_EEXIST)
			return rc;
		rc = dipc_os_shm_open(seg, shm);
		if (rc == 0) {
			rc = may_join(shm, name, perm);
			if (rc == 0)
				rc = check_header(shm, ring_out);
			if (rc == 0) {
				*created = false;
				return 0;
			}
			dipc_os_shm_close(shm);
			if (rc < 0)
				return rc;
		} else if (rc == DIPC_ENOENT) {
			continue;       /* removed between our two tries */
		} else if (rc != DIPC_ECORRUPT) {
			return rc;      /* ECORRUPT here: not sized yet */
		}
		if (dipc_os_now_ns() > give_up)
			return DIPC_ECORRUPT;
		dipc_os_sleep_ns(1000 * 1000);
	}
}

/* Take our role.  0, DIPC_EBUSY, or CLAIM_RETRY if the segment is sealed
 * and the caller must start over. */
static int claim_role(dipc_stream *s)
{
	struct dipc_stream_shm *h = s->hdr;
	uint64_t old = atomic_load_explicit(&h->roles, memory_order_acquire);
	for (;;) {
		if (dipc_roles_sealed(old)) {
			uint32_t sealer = (uint32_t)(old >> 32);
			uint64_t mine = ((uint64_t)s->pid << 32) | DIPC_ROLE_SEAL;
			if (sealer != 0 && !dipc_os_pid_alive(sealer) &&
			    atomic_compare_exchange_strong(&h->roles, &old, mine)) {
				DIPC_LOG(DIPC_LOG_BASIC, "stream %s: removing the name "
					 "process %u sealed and left", s->name, sealer);
				dipc_os_shm_unlink(s->seg);
				atomic_store(&h->roles, (uint64_t)DIPC_ROLE_SEAL);
			}
			return CLAIM_RETRY;
		}
		uint32_t cur = dipc_role_get(old, s->role);
		if (dipc_role_is_pid(cur)) {
			if (cur == s->pid || dipc_os_pid_alive(cur))
				return DIPC_EBUSY;
		}
		uint64_t nv = dipc_role_put(old, s->role, s->pid);
		if (atomic_compare_exchange_weak_explicit(&h->roles, &old, nv,
				memory_order_seq_cst, memory_order_acquire)) {
			if (dipc_role_is_pid(cur))
				DIPC_LOG(DIPC_LOG_BASIC, "stream %s: took the %s role "
					 "from dead process %u", s->name,
					 s->role ? "writer" : "reader", cur);
			return 0;
		}
	}
}

/* Give up our role; true if we sealed the segment and must remove the
 * name. */
static bool release_role(dipc_stream *s)
{
	struct dipc_stream_shm *h = s->hdr;
	uint64_t old = atomic_load_explicit(&h->roles, memory_order_acquire);
	for (;;) {
		/* Not ours any more. */
		if (dipc_roles_sealed(old) || dipc_role_get(old, s->role) != s->pid)
			return false;
		uint32_t other = dipc_role_get(old, !s->role);
		bool keep = dipc_role_is_pid(other) && dipc_os_pid_alive(other);
		if (!keep && s->role == DIPC_STREAM_WRITE && other == DIPC_ROLE_NONE &&
		    atomic_load(&h->rpos) != s->pos)
			keep = true;    /* unread bytes for a reader yet to come */
		uint64_t nv = keep ? dipc_role_put(old, s->role, DIPC_ROLE_CLOSED)
				   : ((uint64_t)s->pid << 32) | DIPC_ROLE_SEAL;
		if (atomic_compare_exchange_weak_explicit(&h->roles, &old, nv,
				memory_order_seq_cst, memory_order_acquire))
			return !keep;
	}
}

static bool drop_role(dipc_stream *s);

int dipc_stream_open(const char *name, int role, size_t size, unsigned perm,
		     dipc_stream **out)
{
	if (!out)
		return DIPC_EINVAL;
	*out = NULL;
	if (role != DIPC_STREAM_READ && role != DIPC_STREAM_WRITE)
		return DIPC_EINVAL;
	if (size == 0 || (uint64_t)size > DIPC_STREAM_MAX_RING ||
	    size > SIZE_MAX - DIPC_STREAM_HDR_SIZE || (perm & ~(0777u | DIPC_SHARED)))
		return DIPC_EINVAL;
	if (!(perm & 0777u))
		perm |= 0600u;

	dipc_stream *s = dipc_handle_new(sizeof(*s));
	if (!s)
		return DIPC_ENOMEM;
	int rc = dipc_name_build(DIPC_SEG_STREAM, name, s->seg, sizeof(s->seg));
	if (rc)
		goto fail;
	snprintf(s->name, sizeof(s->name), "%s", name);
	rc = dipc_os_mutex_new(&s->lock);
	if (rc)
		goto fail;
	atomic_store_explicit(&s->magic, DIPC_MAGIC_STREAM, memory_order_relaxed);
	s->role = role;
	s->pid = dipc_os_pid();
	s->shm.handle = -1;

	uint64_t give_up = dipc_os_now_ns() + OPEN_PATIENCE_NS;
	bool created;
	uint64_t ring = 0;
	for (;;) {
		rc = map_segment(s->seg, s->name, size, perm, give_up, &s->shm, &ring,
				 &created);
		if (rc)
			goto fail;
		s->hdr = s->shm.addr;
		rc = claim_role(s);
		if (rc == 0)
			break;
		dipc_os_shm_close(&s->shm);
		s->hdr = NULL;
		if (rc < 0)
			goto fail;
		if (dipc_os_now_ns() > give_up) {
			rc = DIPC_EBUSY;
			goto fail;
		}
		dipc_os_sleep_ns(100 * 1000);
	}

	struct dipc_stream_shm *h = s->hdr;
	/* The geometry checked in map_segment, never the header's again. */
	s->ring = (unsigned char *)s->shm.addr + DIPC_STREAM_HDR_SIZE;
	s->size = ring;
	if (role == DIPC_STREAM_WRITE) {
		s->pos = atomic_load_explicit(&h->wpos, memory_order_acquire);
		s->peer = atomic_load_explicit(&h->rpos, memory_order_acquire);
		atomic_store(&h->w_sleeping, 0);  /* a dead predecessor's */
	} else {
		s->pos = atomic_load_explicit(&h->rpos, memory_order_acquire);
		s->peer = atomic_load_explicit(&h->wpos, memory_order_acquire);
		atomic_store(&h->r_sleeping, 0);
	}
	/* A predecessor in our role may have left the cursors odd. */
	if ((role == DIPC_STREAM_WRITE ? s->pos - s->peer : s->peer - s->pos) > s->size) {
		drop_role(s);
		dipc_os_shm_close(&s->shm);
		rc = DIPC_ECORRUPT;
		goto fail;
	}
	atomic_store(&s->state, DIPC_STREAM_OPEN);
	reg_add(s);
	DIPC_LOG(DIPC_LOG_BASIC, "stream %s: %s as %s, ring of %llu bytes",
		 name, created ? "created" : "attached",
		 role ? "writer" : "reader", (unsigned long long)s->size);
	*out = s;
	return 0;

fail:
	dipc_os_mutex_free(s->lock);
	dipc_handle_retire(s, &s->magic);
	return rc;
}

/* Give up the role, tell the peer, remove the name if we sealed. */
static bool drop_role(dipc_stream *s)
{
	struct dipc_stream_shm *h = s->hdr;
	bool sealed = release_role(s);
	/* Whoever waits on us must look at the roles word now. */
	dipc_stream_kick_(s, s->role == DIPC_STREAM_WRITE ? &h->data_evt : &h->space_evt);
	if (sealed) {
		dipc_os_shm_unlink(s->seg);
		/* The name is gone: openers that still see this segment just
		 * start over, none must remove the name again. */
		atomic_store(&h->roles, (uint64_t)DIPC_ROLE_SEAL);
	}
	return sealed;
}

/* Stop the listener, give up the role, unmap.  The handle stays.  A
 * handle inherited across fork() belongs to the parent: the child only
 * unmaps it (the role and the listener thread are the parent's). */
static void stream_release(dipc_stream *s)
{
	/* Calls of other threads still inside (the state says closing now):
	 * wake those that wait, and let them all leave first.  In a child of
	 * fork() the count is the parent's threads', none of which is here. */
	if (dipc_os_pid() == s->pid && atomic_load_explicit(&s->users, memory_order_seq_cst) > 0) {
		dipc_stream_kick_(s, &s->hdr->data_evt);
		dipc_stream_kick_(s, &s->hdr->space_evt);
		while (atomic_load_explicit(&s->users, memory_order_acquire) > 0)
			dipc_os_sleep_ns(50 * 1000);
	}
	if (dipc_os_pid() != s->pid) {
		dipc_os_shm_close(&s->shm);
		s->hdr = NULL;
		s->ring = NULL;
		return;
	}
	dipc_stream_stop_listener_(s);
	bool sealed = drop_role(s);
	DIPC_LOG(DIPC_LOG_BASIC, "stream %s: %s closed%s", s->name,
		 s->role ? "writer" : "reader", sealed ? ", name removed" : "");
	dipc_os_shm_close(&s->shm);
	s->hdr = NULL;
	s->ring = NULL;
}

int dipc_stream_close(dipc_stream *s)
{
	if (!s)
		return DIPC_EINVAL;
	dipc_spin_lock(&reg_lock);
	if (!reg_has_locked(s)) {
		dipc_spin_unlock(&reg_lock);
		return DIPC_ENOTOPEN;
	}
	int st = atomic_load(&s->state);
	if (st == DIPC_STREAM_ZOMBIE) {
		reg_remove_locked(s);
		dipc_spin_unlock(&reg_lock);
		dipc_os_mutex_free(s->lock);
		dipc_handle_retire(s, &s->magic);
		return 0;
	}
	/* Being closed by another thread, or called from its own listener,
	 * which close would have to join. */
	if (st != DIPC_STREAM_OPEN || dipc_stream_on_listener_(s)) {
		dipc_spin_unlock(&reg_lock);
		return DIPC_EBUSY;
	}
	/* seq_cst: the closing half of dipc_stream_enter_'s pattern. */
	atomic_store_explicit(&s->state, DIPC_STREAM_CLOSING, memory_order_seq_cst);
	reg_remove_locked(s);
	dipc_spin_unlock(&reg_lock);

	stream_release(s);
	dipc_os_mutex_free(s->lock);
	dipc_handle_retire(s, &s->magic);
	return 0;
}

int dipc_stream_close_all_(void)
{
	if (dipc_stream_in_any_listener_())
		return DIPC_EBUSY;
	int n = 0;
	for (;;) {
		dipc_spin_lock(&reg_lock);
		dipc_stream *s = reg_head;
		while (s && atomic_load(&s->state) != DIPC_STREAM_OPEN)
			s = s->next;
		if (s)
			atomic_store_explicit(&s->state, DIPC_STREAM_CLOSING,
					      memory_order_seq_cst);
		dipc_spin_unlock(&reg_lock);
		if (!s)
			return n;
		stream_release(s);
		atomic_store(&s->state, DIPC_STREAM_ZOMBIE);
		n++;
	}
}

int dipc_stream_unlink(const char *name)
{
	char seg[96];
	int rc = dipc_name_build(DIPC_SEG_STREAM, name, seg, sizeof(seg));
	if (rc)
		return rc;
	return dipc_os_shm_unlink(seg);
}

/*
 * state.c - the owning side's records, in a segment that outlives the
 * bridge process (see state.h for what each record means).
 *
 * The segment is this user's: it is made 0600 with O_EXCL or, when it is
 * there already, accepted only if this user owns it, nobody else may
 * read or write it, and its header and size are the ones this version
 * makes; anything else is refused with a message (remove it by hand).
 * The exception is a segment a bridge died making (size 0, or a header
 * never written): found under the lock, it cannot be anyone's, and is
 * made afresh, so that a bridge killed at its start restarts alone.
 * Every record is read from the segment into the in-memory index once,
 * at start; after that only this process writes the table.
 */
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ST_MAGIC   0x4554415453424944ull  /* "DIBSTATE" */
#define ST_VERSION 2u      /* 2: the gateway's request channel descriptor */
#define NREC       32768u
#define NIDX       (2 * NREC)           /* a power of two */
#define NLOW       8192u
/* How long a starting bridge waits for its predecessor to exit. */
#define LOCK_WAIT_MS 2000

struct st_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t nrec;
	uint32_t rec_size;
	uint16_t gw_len;        /* the last gateway's request channel */
	uint16_t pad;
	unsigned char gw_desc[DIPC_SERIAL_MAX];
	uint64_t reserved[4];
};

static struct {
	pthread_mutex_t lock;
	struct st_hdr *hdr;
	struct srec *rec;
	size_t size;
	char name[128];
	int fd;
	uint32_t *idx;          /* record number + 1, 0: empty */
	uint32_t *free_list;
	unsigned nfree;
	struct { uint64_t client, low; } lows[NLOW];
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

void state_lock(void)
{
	pthread_mutex_lock(&S.lock);
}

void state_unlock(void)
{
	pthread_mutex_unlock(&S.lock);
}

static uint32_t slot_of(uint64_t client, uint64_t id)
{
	uint64_t h = (client ^ (id * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h >> 40) & (NIDX - 1);
}

static void idx_put(uint32_t n)
{
	struct srec *r = &S.rec[n];
	uint32_t i = slot_of(r->client, r->id);
	while (S.idx[i])
		i = (i + 1) & (NIDX - 1);
	S.idx[i] = n + 1;
}

/* Linear probing with the gap closed behind a removal, so that no
 * lookup stops early at an empty slot. */
static void idx_del(uint32_t n)
{
	struct srec *r = &S.rec[n];
	uint32_t i = slot_of(r->client, r->id);
	while (S.idx[i] != n + 1) {
		if (!S.idx[i])
			return;
		i = (i + 1) & (NIDX - 1);
	}
	S.idx[i] = 0;
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & (NIDX - 1);
		if (!S.idx[j])
			break;
		struct srec *o = &S.rec[S.idx[j] - 1];
		uint32_t home = slot_of(o->client, o->id);
		/* Move it back if its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			S.idx[i] = S.idx[j];
			S.idx[j] = 0;
			i = j;
		}
	}
}

struct srec *state_find(uint64_t client, uint64_t id)
{
	uint32_t i = slot_of(client, id);
	while (S.idx[i]) {
		struct srec *r = &S.rec[S.idx[i] - 1];
		if (r->client == client && r->id == id)
			return r;
		i = (i + 1) & (NIDX - 1);
	}
	return NULL;
}

struct srec *state_new(uint64_t client, uint64_t id, uint32_t st)
{
	if (!S.nfree)
		return NULL;
	uint32_t n = S.free_list[--S.nfree];
	struct srec *r = &S.rec[n];
	r->client = client;
	r->id = id;
	r->rc = 0;
	r->len = 0;
	r->order = 0;
	r->desc_len = r->mem_len = 0;
	r->stamp = now_ns();
	atomic_store_explicit(&r->state, st, memory_order_release);
	idx_put(n);
	return r;
}

void state_set(struct srec *r, uint32_t st)
{
	r->stamp = now_ns();
	atomic_store_explicit(&r->state, st, memory_order_release);
}

void state_rekey(struct srec *r, uint64_t client, uint64_t id)
{
	uint32_t n = (uint32_t)(r - S.rec);
	idx_del(n);
	r->client = client;
	r->id = id;
	idx_put(n);
}

void state_free(struct srec *r)
{
	uint32_t n = (uint32_t)(r - S.rec);
	atomic_store_explicit(&r->state, S_FREE, memory_order_release);
	idx_del(n);
	S.free_list[S.nfree++] = n;
}

void state_note_low(uint64_t client, uint64_t low)
{
	unsigned i = (unsigned)((client * 0x9e3779b97f4a7c15ull) >> 51) % NLOW;
	if (S.lows[i].client != client || S.lows[i].low < low) {
		S.lows[i].client = client;
		S.lows[i].low = low;
	}
}

static uint64_t low_of(uint64_t client)
{
	unsigned i = (unsigned)((client * 0x9e3779b97f4a7c15ull) >> 51) % NLOW;
	return S.lows[i].client == client ? S.lows[i].low : 0;
}

void state_sweep(uint64_t now, uint64_t ttl_ns)
{
	for (uint32_t n = 0; n < NREC; n++) {
		struct srec *r = &S.rec[n];
		uint32_t st = atomic_load_explicit(&r->state, memory_order_relaxed);
		if (st != S_SEND_DONE && st != S_CANCELLED && st != S_UNKNOWN)
			continue;
		if (r->id < low_of(r->client) || (now > r->stamp && now - r->stamp > ttl_ns))
			state_free(r);
	}
}

void state_each(void (*fn)(struct srec *r, void *arg), void *arg)
{
	for (uint32_t n = 0; n < NREC; n++)
		if (atomic_load_explicit(&S.rec[n].state, memory_order_relaxed) != S_FREE)
			fn(&S.rec[n], arg);
}

int state_gateway_get(unsigned char *desc, size_t *len)
{
	size_t n = S.hdr->gw_len;
	if (n == 0 || n > DIPC_SERIAL_MAX)
		return -1;
	memcpy(desc, S.hdr->gw_desc, n);
	*len = n;
	return 0;
}

void state_gateway_set(const unsigned char *desc, size_t len)
{
	S.hdr->gw_len = 0;
	memcpy(S.hdr->gw_desc, desc, len);
	atomic_thread_fence(memory_order_release);
	S.hdr->gw_len = (uint16_t)len;
}

unsigned state_used(void)
{
	return NREC - S.nfree;
}

static int refuse(const char *why)
{
	fprintf(stderr, "dipc-bridge: state segment /dev/shm%s: %s\n", S.name, why);
	return -1;
}

int state_open(const char *gateway)
{
	snprintf(S.name, sizeof(S.name), "/dipc-bridge.%s.state", gateway);
	size_t size = sizeof(struct st_hdr) + (size_t)NREC * sizeof(struct srec);
	int fd = shm_open(S.name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	bool fresh = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = shm_open(S.name, O_RDWR | O_NOFOLLOW, 0);
	if (fd < 0)
		return refuse(strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse("not a regular segment");
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return refuse("owned by another user or open to others: refused");
	}
	/* The lock first: held for the bridge's life and let go by the
	 * kernel at its death, it says that the segment is ours alone now,
	 * whoever made it. */
	/* A bridge stopped or killed just before this one started may not
	 * have exited yet: it is given LOCK_WAIT_MS to let go. */
	int tries = 0;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK || ++tries > LOCK_WAIT_MS / 50) {
			close(fd);
			fprintf(stderr, "dipc-bridge: another dipc-bridge runs for gateway %s\n",
				gateway);
			return -1;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* Unfinished: a bridge died making it (before its size, or before
	 * its magic, which is written last).  Nothing in it was ever used,
	 * so it is made afresh: a restart needs no cleaning by hand. */
	if (!fresh && st.st_size == 0)
		fresh = true;
	if (fresh && ftruncate(fd, (off_t)size)) {
		close(fd);
		shm_unlink(S.name);
		return refuse(strerror(errno));
	}
	if (!fresh && (size_t)st.st_size != size) {
		close(fd);
		return refuse("not of this version's size (remove it by hand to start afresh)");
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	S.fd = fd;
	if (p == MAP_FAILED)
		return refuse(strerror(errno));
	S.hdr = p;
	S.rec = (struct srec *)(S.hdr + 1);
	S.size = size;
	if (!fresh && S.hdr->magic == 0) {
		logmsg("state: the last bridge died making its state segment: made afresh");
		memset(p, 0, size);
		fresh = true;
	}
	if (fresh) {
		S.hdr->version = ST_VERSION;
		S.hdr->nrec = NREC;
		S.hdr->rec_size = sizeof(struct srec);
		atomic_thread_fence(memory_order_release);
		S.hdr->magic = ST_MAGIC;
	} else if (S.hdr->magic != ST_MAGIC || S.hdr->version != ST_VERSION ||
		   S.hdr->nrec != NREC || S.hdr->rec_size != sizeof(struct srec)) {
		munmap(p, size);
		return refuse("not a state table of this version (remove it by hand)");
	}
	S.idx = calloc(NIDX, sizeof(*S.idx));
	S.free_list = malloc(NREC * sizeof(*S.free_list));
	if (!S.idx || !S.free_list)
		return refuse("out of memory");
	for (uint32_t n = NREC; n-- > 0;) {
		struct srec *r = &S.rec[n];
		uint32_t s = atomic_load_explicit(&r->state, memory_order_acquire);
		if (s == S_FREE || s > S_REQUEUE || r->desc_len > DIPC_SERIAL_MAX ||
		    r->mem_len > S_MEM_MAX || state_find(r->client, r->id)) {
			atomic_store(&r->state, S_FREE);
			S.free_list[S.nfree++] = n;
			continue;
		}
		/* A send caught committing: its fate is not known. */
		if (s == S_SEND_DOING)
			state_set(r, S_UNKNOWN);
		idx_put(n);
	}
	return 0;
}

void state_close(int unlink_it)
{
	if (S.hdr)
		munmap(S.hdr, S.size);
	S.hdr = NULL;
	if (unlink_it)
		shm_unlink(S.name);
	if (S.fd > 0)
		close(S.fd);
}

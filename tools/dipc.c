/*
 * dipc - look at, and clean up, libdragonipc's shared-memory segments.
 *
 *   dipc list [--json]            every pool and stream on this machine
 *   dipc status NAME [--json]     one of them in detail
 *   dipc rm NAME...               remove names (mappings stay valid)
 *   dipc gc [--dry-run] [--all-users] [NAME...]
 *                                 remove segments nobody uses or waits for
 *
 * NAME is "pool:NAME", "stream:NAME", or a bare name looked up as both.
 * The tool maps segments read-only and never changes their contents.
 *
 * What gc may remove.  A segment is stale, and gc removes it, only when
 * nobody can be using it and nothing in it is documented to wait for
 * someone:
 *   - no process maps it, and it is older than GC_MIN_AGE_S (a segment is
 *     unmapped for an instant while its creator sets it up); when dipc
 *     may not read some process's mappings (another user's, when dipc
 *     is not root), a segment whose mode lets other users in counts as
 *     mapped;
 *   - dipc can read it and knows its layout: a segment it may not open,
 *     or of another layout version, is left alone;
 *   - no process with a part in it is alive: for a pool its creator, the
 *     holder of its lock and the owner of any allocation (the ones
 *     dipc_pool_reclaim(3) would keep); for a stream its reader, its
 *     writer, or the process sealing it;
 *   - it holds nothing the library keeps for a process yet to come: a
 *     message queued in a channel (kept for a receiver: a pool lasts
 *     until it is destroyed, and reclaim never frees a message on its
 *     way), or the unread bytes of a stream whose reader has never opened
 *     (kept for a reader, dipc_stream_open(3));
 *   - it belongs to the caller's effective user; --all-users widens this
 *     to every user (for root), and naming another user's segment without
 *     it is refused.
 * A damaged segment (truncated, or a header that does not fit its size)
 * that no process maps is stale: no process can attach it any more, and
 * its name would stand in the way of a new one.
 *
 * Read once (lib/internal.h).  Each segment is read one time, field by
 * field, into a private snapshot (struct pool_snap, struct stream_snap)
 * whose every offset and length is checked before it is followed; what
 * dipc prints and decides comes from the snapshot only.  A segment that
 * shrinks while dipc reads it (another process truncated it) raises
 * SIGBUS inside the reading code; dipc catches that there and reports the
 * segment as truncated instead of dying.
 */
#include "pool.h"
#include "channel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_NOTFOUND 3
#define GC_MIN_AGE_S 2
#define MAX_PIDS 64

/* What dipc could make of a segment. */
enum { SEG_OK, SEG_UNREADABLE, SEG_UNKNOWN, SEG_DAMAGED };

#include "stream_view.h"

static bool json;

/* A channel as dipc shows it. */
struct chan_snap {
	uint64_t cuid, capacity, block_size;
	uint64_t queued;        /* committed messages not yet received */
	uint64_t sent;          /* the tail counter */
	uint32_t waiting_receivers, waiting_senders;
};

struct pool_snap {
	uint64_t heap_size, free_bytes, nallocs, nchannels;
	uint32_t creator;
	bool creator_alive;
	uint32_t lock_holder;   /* 0: the lock is free */
	uint32_t live_owner;    /* a live process owning an allocation, or 0 */
	uint64_t queued;        /* messages queued in all channels */
	size_t nchan;
	struct chan_snap *chans;
};

struct seg {
	bool is_pool;
	char kind[8];              /* "pool" or "stream" */
	char name[DIPC_NAME_MAX + 1];
	char file[128];            /* /dev/shm/... */
	struct stat st;
	void *map;
	size_t size;
	int npids;
	int pids[MAX_PIDS];
	/* Filled by snap(). */
	int state;                 /* SEG_* */
	char problem[128];
	struct pool_snap pool;
	struct stream_snap stream;
	/* Filled by judge(). */
	bool stale;
	const char *verdict;       /* why it stays, or why it is stale */
	struct seg *next;
};

/* ---- finding segments and who maps them ------------------------------ */

static struct seg *segs;
/* Some process's mappings could not be read (another user's, and dipc
 * is not root): it may map any segment its user may open. */
static bool maps_hidden;

static void add_seg(const char *fname, void *arg)
{
	(void)arg;
	struct seg *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	const char *prefix;
	if (strncmp(fname, DIPC_SEG_POOL, strlen(DIPC_SEG_POOL)) == 0) {
		prefix = DIPC_SEG_POOL;
		strcpy(s->kind, "pool");
		s->is_pool = true;
	} else if (strncmp(fname, DIPC_SEG_STREAM, strlen(DIPC_SEG_STREAM)) == 0) {
		prefix = DIPC_SEG_STREAM;
		strcpy(s->kind, "stream");
	} else {
		/* Not a pool or a stream (the platform tests' "dipc.t.", say):
		 * not ours to show or remove. */
		free(s);
		return;
	}
	/* Nor is a name the library could not have made (one holding a
	 * quote or a newline would garble the output). */
	char check[96];
	if (dipc_name_build(prefix, fname + strlen(prefix), check, sizeof(check))) {
		free(s);
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", fname + strlen(prefix));
	snprintf(s->file, sizeof(s->file), "/dev/shm/%s", fname);
	if (stat(s->file, &s->st) != 0) {
		free(s);
		return;
	}
	s->next = segs;
	segs = s;
}

/* Every process that has the segment mapped, from /proc/PID/maps: the
 * path, device and inode must all match, so that the mappings of a
 * removed segment (or of one in another mount namespace's /dev/shm) are
 * not taken for those of this one. */
static void find_users(void)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[300], line[1024];
		snprintf(path, sizeof(path), "/proc/%s/maps", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f) {
			if (errno == EACCES || errno == EPERM)
				maps_hidden = true;
			continue;
		}
		int pid = atoi(e->d_name);
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "/dev/shm/dipc.");
			unsigned maj, min;
			unsigned long long ino;
			if (!p || sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) != 3)
				continue;
			p[strcspn(p, " \n")] = 0;
			for (struct seg *s = segs; s; s = s->next) {
				if (strcmp(s->file, p) != 0 || ino != (unsigned long long)s->st.st_ino ||
				    maj != major(s->st.st_dev) || min != minor(s->st.st_dev))
					continue;
				bool seen = false;
				for (int i = 0; i < s->npids; i++)
					seen |= s->pids[i] == pid;
				if (!seen && s->npids < MAX_PIDS)
					s->pids[s->npids++] = pid;
			}
		}
		fclose(f);
	}
	closedir(d);
}

/* Map the segment whole, read-only.  Its size is fstat's, taken once. */
static void map_seg(struct seg *s)
{
	int fd = open(s->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->state = SEG_UNREADABLE;
		snprintf(s->problem, sizeof(s->problem), "cannot read: %s", strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		s->state = SEG_UNREADABLE;
		snprintf(s->problem, sizeof(s->problem), "cannot read: %s", strerror(errno));
		close(fd);
		return;
	}
	s->size = st.st_size > 0 ? (size_t)st.st_size : 0;
	if (s->size == 0) {
		close(fd);
		return;         /* the snapshot calls it empty */
	}
	void *p = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		s->state = SEG_UNREADABLE;
		snprintf(s->problem, sizeof(s->problem), "cannot map: %s", strerror(errno));
		return;
	}
	s->map = p;
}

static const char *owner_name(uid_t uid)
{
	static char buf[32];
	struct passwd *pw = getpwuid(uid);
	if (pw)
		return pw->pw_name;
	snprintf(buf, sizeof(buf), "%u", (unsigned)uid);
	return buf;
}

/* What a process is doing: "running" (or sleeping: not stopped), "stopped"
 * (state T or t), "zombie", or "gone". */
static const char *proc_state(uint32_t pid)
{
	if (pid == 0 || pid > INT32_MAX)
		return "gone";
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return dipc_os_pid_alive(pid) ? "running" : "gone";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold anything, so look after its last ')'. */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return "running";
	switch (p[2]) {
	case 'T':
	case 't':
		return "stopped";
	case 'Z':
		return "zombie";
	case 'X':
		return "gone";
	default:
		return "running";
	}
}

/* ---- reading a pool ------------------------------------------------------ */

/*
 * The process holding the pool's lock, 0 if none.  The one place that
 * knows the lock's shape (struct dipc_plock, lib/internal.h).
 */
static uint32_t pool_lock_holder(const struct pool_hdr *h)
{
	return dipc_plock_holder(&((struct pool_hdr *)h)->lock);
}

/* Does a slot whose state word is word hold a message not yet received?
 * FULL does; so does TAKING (a receiver is taking it, and if that receiver
 * dies the message stays for the next one). */
static bool slot_holds_message(uint64_t word)
{
	uint32_t st = (uint32_t)(word >> 32) % SLOT_STATES;
	return st == SLOT_FULL || st == SLOT_TAKING;
}

/* How many receivers and senders sleep on a channel: the one place that
 * knows how a channel records its sleepers. */
static void chan_sleepers(struct chan_hdr *h, uint32_t *receivers, uint32_t *senders)
{
	*receivers = (uint32_t)__builtin_popcountll(atomic_load(&h->recv_waiters.mask));
	*senders = (uint32_t)__builtin_popcountll(atomic_load(&h->send_waiters.mask));
}

/* Read the channel whose header is at heap offset off; false if the link
 * or the header does not check out (the walk then ends). */
static bool snap_channel(const unsigned char *heap, uint64_t heap_size, uint64_t off,
			 struct chan_snap *c, uint64_t *next)
{
	if (off < BLK_HDR || off % DIPC_CACHELINE || off >= heap_size ||
	    heap_size - off < sizeof(struct chan_hdr))
		return false;
	struct chan_hdr *h = (struct chan_hdr *)(heap + off);
	uint64_t cuid = DIPC_SHARED_READ(h->cuid);
	uint64_t cap = DIPC_SHARED_READ(h->once_capacity);
	uint64_t bs = DIPC_SHARED_READ(h->once_block_size);
	uint64_t ss = DIPC_SHARED_READ(h->once_slot_size);
	if (DIPC_SHARED_READ(h->live) != (CHAN_MAGIC ^ cuid) || cap == 0 ||
	    cap > DIPC_CHANNEL_MAX_CAPACITY)
		return false;
	memset(c, 0, sizeof(*c));
	c->cuid = cuid;
	c->capacity = cap;
	c->block_size = bs;
	uint64_t hd = atomic_load(&h->head);
	uint64_t t = atomic_load(&h->tail);
	c->sent = t;
	c->queued = t > hd ? t - hd : 0;
	if (c->queued > cap)
		c->queued = cap;
	/* The counters may lag behind a process that died between committing
	 * a slot and moving them on: the slots themselves are the truth, when
	 * the geometry (read once above) fits the heap. */
	uint64_t room = heap_size - off - sizeof(struct chan_hdr);
	if (bs != 0 && bs <= DIPC_CHANNEL_MAX_BLOCK_SIZE &&
	    ss == SLOT_HDR + DIPC_ALIGN_UP(bs, DIPC_CACHELINE) && cap * ss <= room) {
		uint64_t full = 0;
		for (uint64_t i = 0; i < cap; i++) {
			const struct slot_hdr *sl = (const struct slot_hdr *)(h->slots + i * ss);
			if (slot_holds_message(atomic_load(&((struct slot_hdr *)sl)->word)))
				full++;
		}
		c->queued = full;
	}
	chan_sleepers(h, &c->waiting_receivers, &c->waiting_senders);
	*next = atomic_load(&h->next);
	return true;
}

/* A live process that owns an allocation in the heap, or 0.  Reclaim
 * frees the allocations of dead owners and keeps the others. */
static uint32_t live_alloc_owner(const unsigned char *heap, uint64_t heap_size)
{
	uint32_t dead = 0;
	for (uint64_t off = 0; off < heap_size;) {
		struct blk_hdr *b = (struct blk_hdr *)(heap + off);
		if (heap_size - off < sizeof(*b))
			return 0;
		uint64_t w = atomic_load(&b->word);
		uint64_t sz = w & ~(uint64_t)(BLK_HDR - 1);
		if (sz < BLK_HDR || sz > heap_size - off)
			return 0;       /* a broken chain: nothing more to learn */
		if ((w & (BLK_USED | BLK_CACHED)) == BLK_USED) {
			uint32_t owner = atomic_load(&b->owner);
			if (owner && owner != dead) {
				if (dipc_os_pid_alive(owner))
					return owner;
				dead = owner;
			}
		}
		off += sz;
	}
	return 0;
}

static int snap_pool(struct seg *s)
{
	struct pool_snap *v = &s->pool;
	const struct pool_hdr *h = s->map;
	size_t size = s->size;
	uint64_t magic = size >= sizeof(uint64_t) ? DIPC_SHARED_READ(h->magic) : 0;
	if (size < sizeof(*h)) {
		if (magic == POOL_MAGIC)
			snprintf(s->problem, sizeof(s->problem),
				 "truncated: %zu bytes, less than its header", size);
		else
			snprintf(s->problem, sizeof(s->problem), "not a pool: %zu bytes", size);
		return SEG_DAMAGED;
	}
	if (magic != POOL_MAGIC) {
		snprintf(s->problem, sizeof(s->problem), magic ? "not a pool header"
					: "no header (its creator never finished it)");
		return SEG_DAMAGED;
	}
	uint32_t abi = DIPC_SHARED_READ(h->abi);
	if (abi != POOL_ABI) {
		snprintf(s->problem, sizeof(s->problem), "another ABI version (%u)", abi);
		return SEG_UNKNOWN;
	}
	/* The heap's size is the segment's, and the header must agree. */
	uint64_t seg = DIPC_SHARED_READ(h->once_seg_size);
	if (DIPC_SHARED_READ(h->once_hdr_size) != POOL_HDR_SIZE ||
	    DIPC_SHARED_READ(h->once_heap_off) != POOL_HDR_SIZE ||
	    seg < POOL_HDR_SIZE || DIPC_SHARED_READ(h->once_heap_size) != seg - POOL_HDR_SIZE) {
		snprintf(s->problem, sizeof(s->problem), "header fields do not agree");
		return SEG_DAMAGED;
	}
	if (seg > size) {
		snprintf(s->problem, sizeof(s->problem), "truncated: %zu of %llu bytes", size,
			 (unsigned long long)seg);
		return SEG_DAMAGED;
	}
	if (seg != size || size < POOL_HDR_SIZE + 2 * BLK_HDR || size % BLK_HDR) {
		snprintf(s->problem, sizeof(s->problem),
			 "the header says %llu bytes, the segment has %zu",
			 (unsigned long long)seg, size);
		return SEG_DAMAGED;
	}
	uint64_t heap_size = size - POOL_HDR_SIZE;
	v->heap_size = heap_size;
	v->free_bytes = DIPC_SHARED_READ(h->free_bytes);
	v->nallocs = DIPC_SHARED_READ(h->nallocs);
	v->nchannels = DIPC_SHARED_READ(h->nchannels);
	v->creator = DIPC_SHARED_READ(h->creator);
	v->creator_alive = dipc_os_pid_alive(v->creator);
	v->lock_holder = pool_lock_holder(h);
	const unsigned char *heap = (const unsigned char *)s->map + POOL_HDR_SIZE;
	/* Blocks resting in the pool's cache of freed blocks (lib/pool_cache.c)
	 * are free space, though the counters hold them as allocations. */
	for (int c = 0; c < PC_CLASSES; c++) {
		for (int i = 0; i < PC_WAYS; i++) {
			uint64_t e = atomic_load(&((struct pool_hdr *)h)->cache[c][i]);
			if (!e || (uint32_t)e)
				continue;
			uint64_t blk = ((e >> 32) - 1) * BLK_HDR;
			if (blk >= heap_size || heap_size - blk < BLK_HDR)
				continue;
			uint64_t w = atomic_load(&((struct blk_hdr *)(heap + blk))->word);
			uint64_t sz = w & ~(uint64_t)(BLK_HDR - 1);
			if ((w & (BLK_USED | BLK_CACHED)) != (BLK_USED | BLK_CACHED) ||
			    sz < BLK_HDR || sz > heap_size - blk || v->nallocs == 0)
				continue;
			v->free_bytes += sz;
			v->nallocs--;
		}
	}
	/* The channels, each link checked before it is followed; the walk is
	 * bounded by how many channel headers the heap could hold. */
	uint64_t off = atomic_load(&((struct pool_hdr *)h)->chan_head);
	uint64_t most = heap_size / (BLK_HDR + sizeof(struct chan_hdr));
	size_t room = 0;
	for (uint64_t n = 0; off && n <= most; n++) {
		struct chan_snap c;
		uint64_t next;
		if (!snap_channel(heap, heap_size, off, &c, &next))
			break;
		if (v->nchan == room) {
			size_t more = room ? 2 * room : 16;
			struct chan_snap *a = realloc(v->chans, more * sizeof(*a));
			if (!a)
				break;
			v->chans = a;
			room = more;
		}
		v->chans[v->nchan++] = c;
		v->queued += c.queued;
		off = next;
	}
	/* Only a segment that might otherwise be stale needs the heap walk. */
	if (!s->npids && !v->creator_alive && !v->queued)
		v->live_owner = live_alloc_owner(heap, heap_size);
	return SEG_OK;
}

/* ---- reading a segment, guarded against its shrinking ---------------- */

static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_env, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void snap_read(struct seg *s)
{
	if (s->is_pool)
		s->state = snap_pool(s);
	else
		s->state = stream_snap_read(s->map, s->size, &s->stream, s->problem,
					    sizeof(s->problem));
}

/* Fill s->state and the snapshot.  Only here does dipc read a mapping. */
static void snap(struct seg *s)
{
	if (s->state == SEG_UNREADABLE)
		return;
	if (!s->map) {
		s->state = SEG_DAMAGED;
		snprintf(s->problem, sizeof(s->problem), "empty: 0 bytes");
		return;
	}
	if (sigsetjmp(bus_env, 1)) {
		/* What the interrupted read had stored may be half written:
		 * forget it (the channel array, if any, is left to the exit). */
		memset(&s->pool, 0, sizeof(s->pool));
		memset(&s->stream, 0, sizeof(s->stream));
		s->state = SEG_DAMAGED;
		snprintf(s->problem, sizeof(s->problem), "truncated while being read");
		return;
	}
	bus_armed = 1;
	snap_read(s);
	bus_armed = 0;
	/* A file cut short inside a page reads as zeros there, no SIGBUS:
	 * if it is shorter now than when mapped, the copy may hold those. */
	struct stat st;
	if (stat(s->file, &st) == 0 && st.st_ino == s->st.st_ino && st.st_dev == s->st.st_dev &&
	    (st.st_size < 0 || (size_t)st.st_size < s->size)) {
		s->state = SEG_DAMAGED;
		snprintf(s->problem, sizeof(s->problem), "truncated while being read");
	}
}

/* ---- the verdict --------------------------------------------------------- */

static bool age_young(const struct seg *s)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec - s->st.st_mtim.tv_sec < GC_MIN_AGE_S;
}

/* Decide whether s is stale, and say why (see the rule at the top). */
static void judge(struct seg *s)
{
	static char buf[64];
	s->stale = false;
	if (s->npids) {
		s->verdict = "in use";
		return;
	}
	if (maps_hidden && (s->st.st_mode & 0066)) {
		s->verdict = "others may open it, and dipc cannot see all their mappings";
		return;
	}
	if (age_young(s)) {
		s->verdict = "new (under 2 s old)";
		return;
	}
	if (s->state == SEG_UNREADABLE || s->state == SEG_UNKNOWN) {
		s->verdict = s->state == SEG_UNKNOWN ? "unknown layout" : "unreadable";
		return;
	}
	if (s->state == SEG_DAMAGED) {
		s->stale = true;
		s->verdict = "damaged";
		return;
	}
	if (!s->is_pool) {
		const char *why = stream_keep_reason(&s->stream);
		s->stale = why == NULL;
		s->verdict = why ? why : "stale";
		return;
	}
	const struct pool_snap *v = &s->pool;
	if (v->creator_alive || (v->lock_holder && dipc_os_pid_alive(v->lock_holder))) {
		s->verdict = "in use";
	} else if (v->queued) {
		s->verdict = "kept for a receiver";
	} else if (v->live_owner) {
		snprintf(buf, sizeof(buf), "holds memory of live process %u", v->live_owner);
		s->verdict = strdup(buf);
		if (!s->verdict)
			s->verdict = "holds memory of a live process";
	} else {
		s->stale = true;
		s->verdict = "stale";
	}
}

/* ---- output ------------------------------------------------------------ */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_pids(const struct seg *s)
{
	if (json) {
		printf("[");
		for (int i = 0; i < s->npids; i++)
			printf("%s%d", i ? "," : "", s->pids[i]);
		printf("]");
		return;
	}
	if (!s->npids)
		printf("-");
	for (int i = 0; i < s->npids; i++)
		printf("%s%d", i ? "," : "", s->pids[i]);
}

/* The lock of a valid pool, as JSON: null or {"holder":N,"state":"..."}. */
static void json_lock(const struct seg *s)
{
	if (!s->is_pool || s->state != SEG_OK || !s->pool.lock_holder) {
		printf("null");
		return;
	}
	printf("{\"holder\":%u,\"state\":\"%s\"}", s->pool.lock_holder,
	       proc_state(s->pool.lock_holder));
}

/* A lock holder worth a flag in the list: one that is not running. */
static const char *lock_trouble(const struct seg *s)
{
	if (!s->is_pool || s->state != SEG_OK || !s->pool.lock_holder)
		return NULL;
	const char *st = proc_state(s->pool.lock_holder);
	return strcmp(st, "running") == 0 ? NULL : st;
}

static void list_one(const struct seg *s, bool first)
{
	if (json) {
		printf("%s\n  {\"kind\":\"%s\",\"name\":", first ? "" : ",", s->kind);
		json_str(s->name);
		printf(",\"size\":%lld,\"owner\":", (long long)s->st.st_size);
		json_str(owner_name(s->st.st_uid));
		printf(",\"mode\":\"%04o\",\"pids\":", (unsigned)(s->st.st_mode & 07777));
		print_pids(s);
		printf(",\"stale\":%s,\"verdict\":", s->stale ? "true" : "false");
		json_str(s->verdict);
		printf(",\"problem\":");
		if (s->state != SEG_OK)
			json_str(s->problem);
		else
			printf("null");
		if (s->is_pool) {
			printf(",\"lock\":");
			json_lock(s);
		}
		printf("}");
		return;
	}
	printf("%-7s %-32s %12lld  %-10s %04o  ", s->kind, s->name, (long long)s->st.st_size,
	       owner_name(s->st.st_uid), (unsigned)(s->st.st_mode & 07777));
	print_pids(s);
	if (s->state == SEG_DAMAGED)
		printf("  (%sdamaged: %s)", s->stale ? "stale, " : "", s->problem);
	else if (s->state == SEG_UNKNOWN)
		printf("  (unknown layout: %s)", s->problem);
	else if (s->state == SEG_UNREADABLE)
		printf("  (%s)", s->problem);
	else if (s->stale)
		printf("  (stale)");
	else if (strncmp(s->verdict, "kept", 4) == 0 || strncmp(s->verdict, "holds", 5) == 0)
		printf("  (%s)", s->verdict);
	const char *lt = lock_trouble(s);
	if (lt)
		printf("  (lock held by %s %u)", lt, s->pool.lock_holder);
	printf("\n");
}

static void chan_line(const struct chan_snap *c, bool first)
{
	if (json) {
		printf("%s{\"cuid\":%llu,\"count\":%llu,\"capacity\":%llu,\"block_size\":%llu,"
		       "\"sent\":%llu,\"waiting_receivers\":%u,\"waiting_senders\":%u}",
		       first ? "" : ",", (unsigned long long)c->cuid, (unsigned long long)c->queued,
		       (unsigned long long)c->capacity, (unsigned long long)c->block_size,
		       (unsigned long long)c->sent, c->waiting_receivers, c->waiting_senders);
		return;
	}
	printf("  channel %-8llu %6llu / %-6llu messages, block %llu B, %llu sent, "
	       "waiting: %u receivers, %u senders\n",
	       (unsigned long long)c->cuid, (unsigned long long)c->queued,
	       (unsigned long long)c->capacity, (unsigned long long)c->block_size,
	       (unsigned long long)c->sent, c->waiting_receivers, c->waiting_senders);
}

static int status_invalid(const struct seg *s)
{
	if (json) {
		printf("{\"kind\":\"%s\",\"name\":", s->kind);
		json_str(s->name);
		printf(",\"valid\":false,\"problem\":");
		json_str(s->problem);
		printf(",\"stale\":%s,\"verdict\":", s->stale ? "true" : "false");
		json_str(s->verdict);
		printf(",\"pids\":");
		print_pids(s);
		printf("}\n");
		return 1;
	}
	printf("%s %s: invalid: %s\n", s->kind, s->name, s->problem);
	printf("  %s, mapped by ", s->stale ? "stale" : s->verdict);
	print_pids(s);
	printf("\n");
	return 1;
}

static int status_pool(const struct seg *s)
{
	const struct pool_snap *v = &s->pool;
	if (json) {
		printf("{\"kind\":\"pool\",\"name\":");
		json_str(s->name);
		printf(",\"valid\":true,\"size\":%llu,\"free\":%llu,\"allocations\":%llu,"
		       "\"creator\":%u,\"creator_alive\":%s,\"lock\":",
		       (unsigned long long)v->heap_size, (unsigned long long)v->free_bytes,
		       (unsigned long long)v->nallocs, v->creator, v->creator_alive ? "true" : "false");
		json_lock(s);
		printf(",\"stale\":%s,\"verdict\":", s->stale ? "true" : "false");
		json_str(s->verdict);
		printf(",\"pids\":");
		print_pids(s);
		printf(",\"channels\":[");
		for (size_t i = 0; i < v->nchan; i++)
			chan_line(&v->chans[i], i == 0);
		printf("]}\n");
		return 0;
	}
	uint64_t used = v->free_bytes < v->heap_size ? v->heap_size - v->free_bytes : 0;
	printf("pool %s: %llu bytes, %llu free (%.1f%% used), %llu allocations, %llu channels\n",
	       s->name, (unsigned long long)v->heap_size, (unsigned long long)v->free_bytes,
	       v->heap_size ? 100.0 * (double)used / (double)v->heap_size : 0.0,
	       (unsigned long long)v->nallocs, (unsigned long long)v->nchannels);
	printf("  created by %u (%s), mapped by ", v->creator, v->creator_alive ? "alive" : "gone");
	print_pids(s);
	printf("\n");
	if (v->lock_holder)
		printf("  lock held by %u (%s)\n", v->lock_holder, proc_state(v->lock_holder));
	else
		printf("  lock free\n");
	printf("  %s\n", s->verdict);
	for (size_t i = 0; i < v->nchan; i++)
		chan_line(&v->chans[i], i == 0);
	return 0;
}

static int status_stream(const struct seg *s)
{
	const struct stream_snap *v = &s->stream;
	uint64_t used = stream_buffered(v);
	const char *fill = used == 0 ? "empty" : used >= v->ring ? "full" : "normal";
	char rb[32], wb[32];
	const char *rt = role_text(dipc_role_get(v->roles, DIPC_STREAM_READ), rb, sizeof(rb));
	const char *wt = role_text(dipc_role_get(v->roles, DIPC_STREAM_WRITE), wb, sizeof(wb));
	if (json) {
		printf("{\"kind\":\"stream\",\"name\":");
		json_str(s->name);
		printf(",\"valid\":true,\"ring_size\":%llu,\"read_pos\":%llu,\"write_pos\":%llu,"
		       "\"buffered\":%llu,\"state\":\"%s\",\"reader\":\"%s\",\"writer\":\"%s\","
		       "\"reader_sleeping\":%u,\"writer_sleeping\":%u,\"stale\":%s,\"verdict\":",
		       (unsigned long long)v->ring, (unsigned long long)v->rpos,
		       (unsigned long long)v->wpos, (unsigned long long)used, fill, rt, wt,
		       (unsigned)v->r_sleeping, (unsigned)v->w_sleeping, s->stale ? "true" : "false");
		json_str(s->verdict);
		printf(",\"pids\":");
		print_pids(s);
		printf("}\n");
		return 0;
	}
	printf("stream %s: ring %llu B, %llu buffered (%s), read %llu, written %llu\n", s->name,
	       (unsigned long long)v->ring, (unsigned long long)used, fill,
	       (unsigned long long)v->rpos, (unsigned long long)v->wpos);
	printf("  reader %s%s, writer %s%s\n", rt, v->r_sleeping ? " (sleeping)" : "",
	       wt, v->w_sleeping ? " (sleeping)" : "");
	printf("  %s, mapped by ", s->verdict);
	print_pids(s);
	printf("\n");
	return 0;
}

/* ---- commands ---------------------------------------------------------- */

static void load(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	dipc_os_shm_list("dipc.", add_seg, NULL);
	find_users();
	for (struct seg *s = segs; s; s = s->next) {
		map_seg(s);
		snap(s);
		judge(s);
	}
}

/* The library makes no names but valid ones: a usage error, rather than
 * "not found", for any other. */
static void check_name(const char *name)
{
	char seg[96];
	int rc = dipc_name_build(DIPC_SEG_POOL, name, seg, sizeof(seg));
	if (rc) {
		fprintf(stderr, "dipc: invalid name '%s': %s\n", name, dipc_strerror(rc));
		exit(EXIT_USAGE);
	}
}

static struct seg *lookup(const char *arg)
{
	const char *kind = NULL, *name = arg;
	if (strncmp(arg, "pool:", 5) == 0) {
		kind = "pool";
		name = arg + 5;
	} else if (strncmp(arg, "stream:", 7) == 0) {
		kind = "stream";
		name = arg + 7;
	}
	check_name(name);
	struct seg *found = NULL;
	int n = 0;
	for (struct seg *s = segs; s; s = s->next) {
		if (strcmp(s->name, name) == 0 && (!kind || strcmp(s->kind, kind) == 0)) {
			found = s;
			n++;
		}
	}
	if (n > 1) {
		fprintf(stderr, "dipc: %s names both a pool and a stream; say pool:%s or stream:%s\n",
			name, name, name);
		exit(EXIT_USAGE);
	}
	return found;
}

static int cmd_list(void)
{
	if (!json)
		printf("%-7s %-32s %12s  %-10s %-4s  %s\n", "KIND", "NAME", "BYTES", "OWNER", "MODE", "PIDS");
	else
		printf("[");
	bool first = true;
	for (struct seg *s = segs; s; s = s->next) {
		list_one(s, first);
		first = false;
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "dipc: status takes one NAME\n");
		return EXIT_USAGE;
	}
	struct seg *s = lookup(argv[0]);
	if (!s) {
		fprintf(stderr, "dipc: no pool or stream named %s\n", argv[0]);
		return EXIT_NOTFOUND;
	}
	/* Say why it cannot be read (another user's, say), not "invalid". */
	if (s->state == SEG_UNREADABLE) {
		fprintf(stderr, "dipc: %s %s: %s\n", s->kind, s->name, s->problem);
		return 1;
	}
	if (s->state != SEG_OK)
		return status_invalid(s);
	return s->is_pool ? status_pool(s) : status_stream(s);
}

static int remove_seg(const struct seg *s)
{
	char seg[96];
	snprintf(seg, sizeof(seg), "%s%s", s->is_pool ? DIPC_SEG_POOL : DIPC_SEG_STREAM, s->name);
	int rc = dipc_os_shm_unlink(seg);
	if (rc)
		fprintf(stderr, "dipc: cannot remove %s %s: %s\n", s->kind, s->name, dipc_strerror(rc));
	return rc;
}

static int cmd_rm(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "dipc: rm takes at least one NAME\n");
		return EXIT_USAGE;
	}
	int status = 0;
	for (int i = 0; i < argc; i++) {
		struct seg *s = lookup(argv[i]);
		if (!s) {
			fprintf(stderr, "dipc: no pool or stream named %s\n", argv[i]);
			status = EXIT_NOTFOUND;
			continue;
		}
		if (remove_seg(s))
			status = 1;
	}
	return status;
}

/* gc with names looks at those only. */
static bool named(const struct seg *s, int argc, char **argv)
{
	if (argc == 0)
		return true;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "pool:", 5) == 0 && s->is_pool)
			a += 5;
		else if (strncmp(a, "stream:", 7) == 0 && !s->is_pool)
			a += 7;
		if (strcmp(a, s->name) == 0)
			return true;
	}
	return false;
}

/*
 * Just before removing: is the name still the file that was judged, and
 * is its state word unchanged?  A stream's roles word moves when an opener
 * claims a dead side; a pool's lock and directory when someone uses it.
 * This narrows, but cannot close, the window between judging and removing.
 */
static bool still_same(struct seg *s)
{
	struct stat st;
	if (stat(s->file, &st) != 0 || st.st_dev != s->st.st_dev || st.st_ino != s->st.st_ino)
		return false;
	if (s->state != SEG_OK)
		return true;
	if (sigsetjmp(bus_env, 1))
		return true;    /* shrank under us: damaged now, still stale */
	bus_armed = 1;
	bool same;
	if (s->is_pool) {
		struct pool_hdr *h = s->map;
		same = pool_lock_holder(h) == s->pool.lock_holder &&
		       DIPC_SHARED_READ(h->nallocs) == s->pool.nallocs;
	} else {
		struct dipc_stream_shm *h = s->map;
		same = atomic_load(&h->roles) == s->stream.roles &&
		       atomic_load(&h->wpos) == s->stream.wpos;
	}
	bus_armed = 0;
	return same;
}

static int cmd_gc(bool dry, bool all_users, int argc, char **argv)
{
	int n = 0, nleft = 0, status = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "pool:", 5) == 0)
			a += 5;
		else if (strncmp(a, "stream:", 7) == 0)
			a += 7;
		check_name(a);
	}
	uid_t me = geteuid();
	if (json)
		printf("{\"dry_run\":%s,\"removed\":[", dry ? "true" : "false");
	for (struct seg *s = segs; s; s = s->next) {
		if (!named(s, argc, argv))
			continue;
		if (!all_users && s->st.st_uid != me) {
			/* Not ours: skipped quietly unless asked for by name. */
			if (argc) {
				fprintf(stderr, "dipc: %s %s belongs to %s, not to you; not "
					"collected (--all-users collects it)\n", s->kind, s->name,
					owner_name(s->st.st_uid));
				status = 1;
			}
			continue;
		}
		if (!s->stale)
			continue;
		if (!dry && !still_same(s)) {
			s->stale = false;
			s->verdict = "changed while gc looked at it";
			continue;
		}
		if (!dry && remove_seg(s)) {
			status = 1;
			continue;
		}
		if (json) {
			printf("%s{\"kind\":\"%s\",\"name\":", n ? "," : "", s->kind);
			json_str(s->name);
			printf("}");
		} else {
			printf("%s %s %s%s%s\n", dry ? "would remove" : "removed", s->kind, s->name,
			       s->state == SEG_DAMAGED ? ", damaged: " : "",
			       s->state == SEG_DAMAGED ? s->problem : "");
		}
		n++;
	}
	/* Named segments left in place, and why. */
	if (json)
		printf("],\"left\":[");
	for (struct seg *s = segs; s && argc; s = s->next) {
		if (!named(s, argc, argv) || s->stale || (!all_users && s->st.st_uid != me))
			continue;
		if (json) {
			printf("%s{\"kind\":\"%s\",\"name\":", nleft ? "," : "", s->kind);
			json_str(s->name);
			printf(",\"why\":");
			json_str(s->verdict);
			printf("}");
		} else {
			printf("left %s %s: %s\n", s->kind, s->name, s->verdict);
		}
		nleft++;
	}
	if (json)
		printf("],\"count\":%d}\n", n);
	else if (!n && !nleft)
		printf("nothing stale\n");
	return status;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dipc [--json] COMMAND [ARGS]\n"
		"Look at and clean up libdragonipc's shared-memory segments.\n\n"
		"  list                 every pool and stream: kind, name, size, owner, mode,\n"
		"                       processes mapping it, and whether it is stale\n"
		"  status NAME          a pool's use, lock and channels, or a stream's state\n"
		"  rm NAME...           remove names (processes using them keep their mapping)\n"
		"  gc [--dry-run] [--all-users] [NAME...]\n"
		"                       remove your stale segments (all, or those named):\n"
		"                       mapped by no process, older than 2 s, no live process\n"
		"                       with a part in them, and nothing kept for a later\n"
		"                       reader or receiver; --all-users: every user's (root)\n\n"
		"NAME is pool:NAME, stream:NAME or a bare NAME.\n"
		"Options: --json  machine-readable output; -h, --help; --version\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 3 no such segment.\n");
}

int main(int argc, char **argv)
{
	bool dry = false, all_users = false;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "all-users", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+hjn", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'n': dry = true; break;
		case 'a': all_users = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("dipc (libdragonipc) %s\n", dipc_version()); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind++];
	/* Options may also follow the command. */
	while ((c = getopt_long(argc, argv, "hjn", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'n': dry = true; break;
		case 'a': all_users = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	load();
	int nargs = argc - optind;
	char **args = argv + optind;
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "ls") == 0)
		return nargs ? (usage(stderr), EXIT_USAGE) : cmd_list();
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "show") == 0)
		return cmd_status(nargs, args);
	if (strcmp(cmd, "rm") == 0 || strcmp(cmd, "remove") == 0)
		return cmd_rm(nargs, args);
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(dry, all_users, nargs, args);
	fprintf(stderr, "dipc: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

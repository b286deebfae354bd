/*
 * dipc - look at, and clean up, libdragonipc's shared-memory segments.
 *
 *   dipc list [--json]            every pool and stream on this machine
 *   dipc status NAME [--json]     one of them in detail
 *   dipc rm NAME...               remove names (mappings stay valid)
 *   dipc gc [--dry-run] [NAME...] remove segments no live process uses
 *
 * NAME is "pool:NAME", "stream:NAME", or a bare name looked up as both.
 * The tool maps segments read-only and checks every header and offset it
 * reads, as the library does; it never changes a segment's contents.
 */
#include "pool.h"
#include "channel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_NOTFOUND 3
#define GC_MIN_AGE_S 2

static bool json;

struct seg {
	char kind[8];              /* "pool" or "stream" */
	char name[DIPC_NAME_MAX + 1];
	char file[128];            /* /dev/shm/... */
	struct stat st;
	void *map;
	size_t size;
	int map_err;               /* why map is NULL: -errno */
	int npids;
	int pids[64];
	struct seg *next;
};

/* ---- finding segments and who maps them ------------------------------ */

static struct seg *segs;

static void add_seg(const char *fname, void *arg)
{
	(void)arg;
	struct seg *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	if (strncmp(fname, DIPC_SEG_POOL, strlen(DIPC_SEG_POOL)) == 0) {
		strcpy(s->kind, "pool");
		snprintf(s->name, sizeof(s->name), "%s", fname + strlen(DIPC_SEG_POOL));
	} else if (strncmp(fname, DIPC_SEG_STREAM, strlen(DIPC_SEG_STREAM)) == 0) {
		strcpy(s->kind, "stream");
		snprintf(s->name, sizeof(s->name), "%s", fname + strlen(DIPC_SEG_STREAM));
	} else {
		/* Not a pool or a stream (the platform tests' "dipc.t.", say):
		 * not ours to show or remove. */
		free(s);
		return;
	}
	snprintf(s->file, sizeof(s->file), "/dev/shm/%s", fname);
	if (stat(s->file, &s->st) != 0) {
		free(s);
		return;
	}
	s->next = segs;
	segs = s;
}

/* Every process that has the segment mapped, from /proc/PID/maps. */
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
		if (!f)
			continue;
		int pid = atoi(e->d_name);
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "/dev/shm/dipc.");
			if (!p)
				continue;
			p[strcspn(p, " \n")] = 0;
			for (struct seg *s = segs; s; s = s->next) {
				if (strcmp(s->file, p) != 0)
					continue;
				bool seen = false;
				for (int i = 0; i < s->npids; i++)
					seen |= s->pids[i] == pid;
				if (!seen && s->npids < 64)
					s->pids[s->npids++] = pid;
			}
		}
		fclose(f);
	}
	closedir(d);
}

static int map_seg(struct seg *s)
{
	int fd = open(s->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A stream with a small ring is smaller than a pool's header page;
	 * its own header is checked by stream_view. */
	off_t least = strcmp(s->kind, "pool") == 0 ? (off_t)POOL_HDR_SIZE : 1;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < least) {
		close(fd);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	s->map = p;
	s->size = (size_t)st.st_size;
	return 0;
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

/* ---- reading a pool ------------------------------------------------------ */

struct pool_view {
	bool valid;
	const char *problem;
	uint64_t heap_size, free_bytes, nallocs, nchannels;
	uint32_t creator;
	bool creator_alive;
};

static void read_pool(const struct seg *s, struct pool_view *v)
{
	memset(v, 0, sizeof(*v));
	const struct pool_hdr *h = s->map;
	if (!h || s->size < POOL_HDR_SIZE || h->magic != POOL_MAGIC) {
		v->problem = "not a pool header";
		return;
	}
	if (h->abi != POOL_ABI) {
		v->problem = "another ABI version";
		return;
	}
	/* Read once (lib/internal.h): the heap's size is the segment's, and
	 * the header must agree with it; only that private value is used. */
	uint64_t heap_size = s->size - POOL_HDR_SIZE;
	if (DIPC_SHARED_READ(h->once_seg_size) != s->size ||
	    DIPC_SHARED_READ(h->once_heap_size) != heap_size) {
		v->problem = "sizes do not match the segment";
		return;
	}
	v->valid = true;
	v->heap_size = heap_size;
	v->free_bytes = h->free_bytes;
	v->nallocs = h->nallocs;
	v->nchannels = h->nchannels;
	v->creator = h->creator;
	v->creator_alive = dipc_os_pid_alive(h->creator);
	/* Blocks resting in the pool's cache of freed blocks (lib/pool_cache.c)
	 * are free space, though the counters hold them as allocations. */
	const unsigned char *heap = (const unsigned char *)s->map + POOL_HDR_SIZE;
	for (int c = 0; c < PC_CLASSES; c++) {
		for (int i = 0; i < PC_WAYS; i++) {
			uint64_t e = atomic_load(&h->cache[c][i]);
			if (!e || (uint32_t)e)
				continue;
			uint64_t blk = ((e >> 32) - 1) * BLK_HDR;
			if (blk >= heap_size)
				continue;
			uint64_t w = atomic_load(&((const struct blk_hdr *)(heap + blk))->word);
			uint64_t sz = w & ~(uint64_t)(BLK_HDR - 1);
			if ((w & (BLK_USED | BLK_CACHED)) != (BLK_USED | BLK_CACHED) ||
			    sz < BLK_HDR || sz > heap_size - blk || v->nallocs == 0)
				continue;
			v->free_bytes += sz;
			v->nallocs--;
		}
	}
}

/* A channel as the tool shows it: its geometry read once, and its header
 * for the counters (which decide no address). */
struct chan_view {
	uint64_t cuid, capacity, block_size;
	const struct chan_hdr *hdr;
};

/* Call fn for each channel in the pool's directory, checking each link. */
static void each_channel(const struct seg *s, void (*fn)(const struct chan_view *, void *), void *arg)
{
	const struct pool_hdr *ph = s->map;
	const unsigned char *heap = (const unsigned char *)s->map + POOL_HDR_SIZE;
	uint64_t heap_size = s->size - POOL_HDR_SIZE;
	uint64_t off = atomic_load(&((struct pool_hdr *)ph)->chan_head);
	for (uint64_t n = 0; off && n < 100000; n++) {
		if (off % DIPC_CACHELINE || off >= heap_size ||
		    heap_size - off < sizeof(struct chan_hdr))
			return;
		const struct chan_hdr *c = (const struct chan_hdr *)(heap + off);
		uint64_t cuid = DIPC_SHARED_READ(c->cuid);
		uint64_t cap = DIPC_SHARED_READ(c->once_capacity);
		if (DIPC_SHARED_READ(c->live) != (CHAN_MAGIC ^ cuid) || cap == 0 ||
		    cap > DIPC_CHANNEL_MAX_CAPACITY)
			return;
		struct chan_view cv = { .cuid = cuid, .capacity = cap,
					.block_size = DIPC_SHARED_READ(c->once_block_size), .hdr = c };
		fn(&cv, arg);
		off = atomic_load(&((struct chan_hdr *)c)->next);
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

static bool seg_stale(const struct seg *s);

static void list_one(const struct seg *s, bool first)
{
	if (json) {
		printf("%s\n  {\"kind\":\"%s\",\"name\":", first ? "" : ",", s->kind);
		json_str(s->name);
		printf(",\"size\":%lld,\"owner\":", (long long)s->st.st_size);
		json_str(owner_name(s->st.st_uid));
		printf(",\"mode\":\"%04o\",\"pids\":", (unsigned)(s->st.st_mode & 07777));
		print_pids(s);
		printf(",\"stale\":%s}", seg_stale(s) ? "true" : "false");
		return;
	}
	printf("%-7s %-32s %12lld  %-10s %04o  ", s->kind, s->name, (long long)s->st.st_size,
	       owner_name(s->st.st_uid), (unsigned)(s->st.st_mode & 07777));
	print_pids(s);
	printf("%s\n", seg_stale(s) ? "  (stale)" : "");
}

static void chan_line(const struct chan_view *v, void *arg)
{
	const struct chan_hdr *c = v->hdr;
	bool *first = arg;
	uint64_t hd = atomic_load(&((struct chan_hdr *)c)->head);
	uint64_t t = atomic_load(&((struct chan_hdr *)c)->tail);
	uint64_t count = t > hd ? t - hd : 0;
	if (count > v->capacity)
		count = v->capacity;
	uint32_t rs = (uint32_t)__builtin_popcountll(atomic_load(&((struct chan_hdr *)c)->recv_waiters.mask));
	uint32_t ss = (uint32_t)__builtin_popcountll(atomic_load(&((struct chan_hdr *)c)->send_waiters.mask));
	if (json) {
		printf("%s{\"cuid\":%llu,\"count\":%llu,\"capacity\":%llu,\"block_size\":%llu,"
		       "\"sent\":%llu,\"received\":%llu,\"waiting_receivers\":%u,\"waiting_senders\":%u}",
		       *first ? "" : ",", (unsigned long long)v->cuid, (unsigned long long)count,
		       (unsigned long long)v->capacity, (unsigned long long)v->block_size,
		       (unsigned long long)t, (unsigned long long)hd, rs, ss);
	} else {
		printf("  channel %-8llu %6llu / %-6llu messages, block %llu B, %llu sent, "
		       "waiting: %u receivers, %u senders\n",
		       (unsigned long long)v->cuid, (unsigned long long)count,
		       (unsigned long long)v->capacity, (unsigned long long)v->block_size,
		       (unsigned long long)t, rs, ss);
	}
	*first = false;
}

static int status_pool(struct seg *s)
{
	struct pool_view v;
	read_pool(s, &v);
	if (json) {
		printf("{\"kind\":\"pool\",\"name\":");
		json_str(s->name);
		printf(",\"valid\":%s", v.valid ? "true" : "false");
		if (!v.valid) {
			printf(",\"problem\":");
			json_str(v.problem);
			printf("}\n");
			return 1;
		}
		printf(",\"size\":%llu,\"free\":%llu,\"allocations\":%llu,\"creator\":%u,"
		       "\"creator_alive\":%s,\"pids\":",
		       (unsigned long long)v.heap_size, (unsigned long long)v.free_bytes,
		       (unsigned long long)v.nallocs, v.creator, v.creator_alive ? "true" : "false");
		print_pids(s);
		printf(",\"channels\":[");
		bool first = true;
		each_channel(s, chan_line, &first);
		printf("]}\n");
		return 0;
	}
	if (!v.valid) {
		printf("pool %s: invalid: %s\n", s->name, v.problem);
		return 1;
	}
	printf("pool %s: %llu bytes, %llu free (%.1f%% used), %llu allocations, %llu channels\n",
	       s->name, (unsigned long long)v.heap_size, (unsigned long long)v.free_bytes,
	       v.heap_size ? 100.0 * (double)(v.heap_size - v.free_bytes) / (double)v.heap_size : 0.0,
	       (unsigned long long)v.nallocs, (unsigned long long)v.nchannels);
	printf("  created by %u (%s), mapped by ", v.creator, v.creator_alive ? "alive" : "gone");
	print_pids(s);
	printf("\n");
	bool first = true;
	each_channel(s, chan_line, &first);
	return 0;
}

#include "stream_view.h"

/* A segment is stale when no process maps it and no process that owns a
 * part in it is alive: nobody can be using it, and nobody will remove it. */
static bool seg_stale(const struct seg *s)
{
	if (s->npids)
		return false;
	/* A segment being made is unmapped for an instant between its
	 * creation and its first mapping: leave young ones alone. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - s->st.st_mtim.tv_sec < GC_MIN_AGE_S)
		return false;
	if (strcmp(s->kind, "pool") == 0) {
		struct pool_view v;
		read_pool(s, &v);
		return !v.valid || !v.creator_alive;
	}
	return stream_view_stale(s->map, s->size);
}

/* ---- commands ---------------------------------------------------------- */

static void load(void)
{
	dipc_os_shm_list("dipc.", add_seg, NULL);
	find_users();
	for (struct seg *s = segs; s; s = s->next)
		s->map_err = map_seg(s);
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
	if (!s->map && s->map_err != -EINVAL) {
		fprintf(stderr, "dipc: cannot read %s %s: %s\n", s->kind, s->name,
			strerror(-s->map_err));
		return 1;
	}
	if (strcmp(s->kind, "pool") == 0)
		return status_pool(s);
	return stream_view_status(s->name, s->map, s->size, json, s->npids, s->pids);
}

static int remove_seg(const struct seg *s)
{
	char seg[96];
	snprintf(seg, sizeof(seg), "%s%s", strcmp(s->kind, "pool") == 0 ? DIPC_SEG_POOL : DIPC_SEG_STREAM,
		 s->name);
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
		if (strncmp(a, "pool:", 5) == 0 && strcmp(s->kind, "pool") == 0)
			a += 5;
		else if (strncmp(a, "stream:", 7) == 0 && strcmp(s->kind, "stream") == 0)
			a += 7;
		if (strcmp(a, s->name) == 0)
			return true;
	}
	return false;
}

static int cmd_gc(bool dry, int argc, char **argv)
{
	int n = 0, status = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "pool:", 5) == 0)
			a += 5;
		else if (strncmp(a, "stream:", 7) == 0)
			a += 7;
		check_name(a);
	}
	if (json)
		printf("{\"dry_run\":%s,\"removed\":[", dry ? "true" : "false");
	for (struct seg *s = segs; s; s = s->next) {
		if (!named(s, argc, argv) || !seg_stale(s))
			continue;
		if (!dry && remove_seg(s)) {
			status = 1;
			continue;
		}
		if (json) {
			printf("%s{\"kind\":\"%s\",\"name\":", n ? "," : "", s->kind);
			json_str(s->name);
			printf("}");
		} else {
			printf("%s %s %s\n", dry ? "would remove" : "removed", s->kind, s->name);
		}
		n++;
	}
	if (json)
		printf("],\"count\":%d}\n", n);
	else if (!n)
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
		"  status NAME          a pool's use and channels, or a stream's status line\n"
		"  rm NAME...           remove names (processes using them keep their mapping)\n"
		"  gc [--dry-run] [NAME...]\n"
		"                       remove stale segments (all, or those named): mapped\n"
		"                       by no process, older than 2 s, and whose creator\n"
		"                       (pool) or reader and writer (stream) are dead\n\n"
		"NAME is pool:NAME, stream:NAME or a bare NAME.\n"
		"Options: --json  machine-readable output; -h, --help; --version\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 3 no such segment.\n");
}

int main(int argc, char **argv)
{
	bool dry = false;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+hjn", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'n': dry = true; break;
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
		return cmd_gc(dry, nargs, args);
	fprintf(stderr, "dipc: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

/*
 * posix/sys.c - waiting on shared words, time, processes and threads.
 *
 * Liveness (dipc_os_pid_alive) gives the same answer whoever owns the
 * process: a process is dead once it has exited, even while it lingers
 * as a zombie its parent has not reaped, and alive while any thread of it
 * runs.  kill(pid, 0) says whether the id exists; for our own processes
 * and for other users' alike, /proc/<pid>/stat then says whether it has
 * exited (it is readable for every process unless /proc is mounted with
 * hidepid).  Only when /proc says nothing is the answer kill()'s alone:
 * an id that exists counts as alive, so a dead zombie of another user
 * under hidepid is seen as gone only once its parent reaps it.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
# include <linux/futex.h>
# include <sys/syscall.h>
#endif

int dipc_os_wait(const struct dipc_os_shm *seg DIPC_UNUSED, _Atomic uint32_t *word,
		 uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* Shared futex (no FUTEX_PRIVATE_FLAG): the word lives in memory
	 * other processes map. */
	long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp,
			 NULL, 0);
	if (r == -1 && errno == ETIMEDOUT)
		return DIPC_ETIMEDOUT;
	return 0;
}

void dipc_os_wake(const struct dipc_os_shm *seg DIPC_UNUSED, _Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

uint64_t dipc_os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void dipc_os_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void dipc_os_yield(void)
{
	sched_yield();
}

/* The id is asked for on every send and receive attempt, and getpid() is a
 * system call: keep it, and forget it in the child of a fork. */
static _Atomic uint32_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
	atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

static void pid_hook(void)
{
	pthread_atfork(NULL, NULL, pid_forget);
}

uint32_t dipc_os_pid(void)
{
	uint32_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);
	if (likely(p))
		return p;
	pthread_once(&pid_once, pid_hook);
	p = (uint32_t)getpid();
	atomic_store_explicit(&cached_pid, p, memory_order_relaxed);
	return p;
}

/* What /proc says of a process: PROC_GONE (it has exited: a zombie no
 * thread of which runs, or already dead), PROC_RUNNING, or PROC_UNKNOWN
 * when /proc has nothing to say (not Linux, /proc not mounted, or mounted
 * with hidepid=1/2 and the process not ours). */
enum { PROC_UNKNOWN = -1, PROC_RUNNING = 0, PROC_GONE = 1 };

static int proc_state(uint32_t pid)
{
#ifdef __linux__
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return PROC_UNKNOWN;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "pid (comm) S ppid ...": comm may hold anything, ')' included,
	 * so the fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return PROC_UNKNOWN;
	char state = p[2];
	if (state != 'Z' && state != 'X')
		return PROC_RUNNING;
	/* A main thread that called pthread_exit shows 'Z' while the other
	 * threads of its process run on; field 20 (num_threads) tells: a
	 * process that has wholly exited counts its leader alone. */
	p += 3;
	for (int field = 4; field < 20 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return PROC_GONE;
	char *end;
	long threads = strtol(p + 1, &end, 10);
	return end != p + 1 && threads > 1 ? PROC_RUNNING : PROC_GONE;
#else
	(void)pid;
	return PROC_UNKNOWN;
#endif
}

int dipc_os_pid_alive(uint32_t pid)
{
	if (pid == 0 || pid > INT32_MAX)
		return 0;
	/* EPERM: it exists but another user owns it; /proc still says
	 * whether it has exited, as it does for ours. */
	if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
		return proc_state(pid) != PROC_GONE;
	/* ESRCH: no such process (nothing else can come of signal 0; off
	 * Linux any other error is taken as "exists", as before). */
#ifdef __linux__
	return 0;
#else
	return errno != ESRCH;
#endif
}

#ifdef __linux__
/* The state letter of /proc/<path>/stat, or 0 if it cannot be read. */
static char stat_letter(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The state follows the command name, which may hold ')' itself. */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}
#endif

int dipc_os_pid_state(uint32_t pid)
{
#ifdef __linux__
	char path[96];
	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
	switch (stat_letter(path)) {
	case 'T':
	case 't':
		return DIPC_PID_STOPPED;
	case 'S':
	case 'I':
		break;
	default:
		return DIPC_PID_RUNS;   /* R; D will get on; 0: cannot tell */
	}
	/* The first thread sleeps; another may be the one at work. */
	snprintf(path, sizeof(path), "/proc/%u/task", (unsigned)pid);
	DIR *d = opendir(path);
	if (!d)
		return DIPC_PID_RUNS;
	int st = DIPC_PID_WAITS;
	struct dirent *e;
	while (st == DIPC_PID_WAITS && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task/%.20s/stat", (unsigned)pid, e->d_name);
		char c = stat_letter(path);
		if (c == 't' || c == 'T')
			st = DIPC_PID_STOPPED;
		else if (c != 'S' && c != 'I')
			st = DIPC_PID_RUNS;
	}
	closedir(d);
	return st;
#else
	(void)pid;
	return DIPC_PID_RUNS;
#endif
}

void dipc_os_on_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	pthread_atfork(prepare, parent, child);
}

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

uint64_t dipc_os_host_id(void)
{
	static _Atomic uint64_t cached;
	uint64_t h = atomic_load_explicit(&cached, memory_order_relaxed);
	if (h)
		return h;
	h = 1469598103934665603ull;
	char buf[256];
	if (gethostname(buf, sizeof(buf) - 1) == 0) {
		buf[sizeof(buf) - 1] = 0;
		h = fnv1a(buf, strlen(buf), h);
	}
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		h = fnv1a(buf, n, h);
	}
	if (!h)
		h = 1;
	atomic_store_explicit(&cached, h, memory_order_relaxed);
	return h;
}

struct dipc_os_thread {
	pthread_t t;
};

int dipc_os_thread_start(dipc_os_thread **out, void *(*fn)(void *), void *arg)
{
	dipc_os_thread *t = malloc(sizeof(*t));
	if (!t)
		return DIPC_ENOMEM;
	/* The listener must not take signals meant for the application. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&t->t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		free(t);
		return e == EAGAIN ? DIPC_ENOMEM : DIPC_ESYS;
	}
	*out = t;
	return 0;
}

int dipc_os_thread_join(dipc_os_thread *t)
{
	int e = pthread_join(t->t, NULL);
	free(t);
	return e ? DIPC_ESYS : 0;
}

int dipc_os_thread_is_self(const dipc_os_thread *t)
{
	return pthread_equal(t->t, pthread_self());
}

struct dipc_os_mutex {
	pthread_mutex_t m;
};

int dipc_os_mutex_new(dipc_os_mutex **out)
{
	dipc_os_mutex *m = malloc(sizeof(*m));
	if (!m)
		return DIPC_ENOMEM;
	pthread_mutex_init(&m->m, NULL);
	*out = m;
	return 0;
}

void dipc_os_mutex_free(dipc_os_mutex *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->m);
	free(m);
}

void dipc_os_mutex_lock(dipc_os_mutex *m)
{
	pthread_mutex_lock(&m->m);
}

void dipc_os_mutex_unlock(dipc_os_mutex *m)
{
	pthread_mutex_unlock(&m->m);
}

uint32_t dipc_os_uid(void)
{
	return (uint32_t)getuid();
}

/* ---- doorbells ---------------------------------------------------------- */

int dipc_os_bell_open(const char *path, struct dipc_os_bell *b)
{
	b->fd = -1;
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n >= sizeof(a.sun_path) || sizeof(a) > sizeof(b->addr))
		return DIPC_ENAMETOOLONG;
	struct stat st;
	if (lstat(path, &st) != 0)
		return DIPC_ENOENT;
	/* Another user's socket under the name would learn when we call. */
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		return DIPC_EPERM;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE ? DIPC_ELIMIT : DIPC_ESYS;
	memcpy(a.sun_path, path, n + 1);
	memcpy(b->addr, &a, sizeof(a));
	b->len = (unsigned)sizeof(a);
	b->fd = fd;
	return 0;
}

void dipc_os_bell_ring(const struct dipc_os_bell *b)
{
	if (b->fd < 0)
		return;
	char c = 0;
	/* EAGAIN: rung often enough already; ECONNREFUSED: nobody there. */
	ssize_t r = sendto(b->fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)(const void *)b->addr, b->len);
	(void)r;
}

void dipc_os_bell_close(struct dipc_os_bell *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/*
 * win32/sys.c - time, processes, host identity, threads and locks on
 * Windows.
 *
 * Liveness (dipc_os_pid_alive) gives the same answer whoever owns the
 * process: it is dead once it has exited, even while its process object
 * lives on because someone (its parent, say) holds a handle to it.  To
 * tell, we need a handle with SYNCHRONIZE (wait on it) or with
 * PROCESS_QUERY_LIMITED_INFORMATION (read its exit code), and ask for
 * each in turn, since another user's process may grant one and not the
 * other.  What remains: a process whose DACL grants us neither (that is
 * up to its owner's token; elevated callers usually get both) counts as
 * alive as long as its id exists, that is until the last handle to it is
 * closed; and a process that exited with code
 * 259 (STILL_ACTIVE) is taken for running when only its exit code can be
 * read.  Local\ names keep segments within one session, so the
 * processes sharing one are mostly of the same user.
 */
#include "win32.h"

#include <process.h>
#include <stdlib.h>
#include <winternl.h>

uint64_t dipc_os_now_ns(void)
{
	static _Atomic int64_t freq;
	int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
	if (!f) {
		LARGE_INTEGER li;
		QueryPerformanceFrequency(&li);   /* never fails since XP */
		f = li.QuadPart;
		atomic_store_explicit(&freq, f, memory_order_relaxed);
	}
	LARGE_INTEGER c;
	QueryPerformanceCounter(&c);
	uint64_t t = (uint64_t)c.QuadPart, uf = (uint64_t)f;
	/* Split so that counter * 1e9 cannot overflow. */
	return t / uf * 1000000000ull + t % uf * 1000000000ull / uf;
}

void dipc_os_sleep_ns(uint64_t ns)
{
	if (ns == 0) {
		Sleep(0);
		return;
	}
	/* Sleep counts whole milliseconds; round up, never to zero. */
	uint64_t ms = (ns + 999999) / 1000000;
	while (ms > 0) {
		DWORD step = ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
		Sleep(step);
		ms -= step;
	}
}

void dipc_os_yield(void)
{
	if (!SwitchToThread())
		Sleep(0);
}

uint32_t dipc_os_pid(void)
{
	return (uint32_t)GetCurrentProcessId();
}

/* Has the process behind h (opened with at least one of the rights
 * below) exited?  1 yes, 0 no, -1 cannot tell with the rights we have. */
static int exited(HANDLE h, DWORD rights)
{
	if (rights & SYNCHRONIZE) {
		DWORD r = WaitForSingleObject(h, 0);
		if (r == WAIT_OBJECT_0)
			return 1;
		if (r == WAIT_TIMEOUT)
			return 0;
	}
	if (rights & PROCESS_QUERY_LIMITED_INFORMATION) {
		DWORD code;
		if (GetExitCodeProcess(h, &code))
			return code != STILL_ACTIVE;
	}
	return -1;
}

int dipc_os_pid_alive(uint32_t pid)
{
	if (pid == 0)
		return 0;
	/* Another user's process may grant one of these rights and not
	 * the other: ask for both, then for each alone. */
	static const DWORD tries[] = {
		PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE,
		PROCESS_QUERY_LIMITED_INFORMATION,
		SYNCHRONIZE,
	};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		HANDLE h = OpenProcess(tries[i], FALSE, (DWORD)pid);
		if (!h) {
			if (GetLastError() == ERROR_ACCESS_DENIED)
				continue;
			return 0;       /* no such process object */
		}
		int gone = exited(h, tries[i]);
		CloseHandle(h);
		if (gone >= 0)
			return !gone;
	}
	/* It exists and we may not look at it: alive, as far as we know. */
	return 1;
}

/* Windows does not tell a suspended process from a running one cheaply
 * (every thread's suspend count would have to be read); callers bound
 * their spin by time anyway. */
int dipc_os_pid_state(uint32_t pid)
{
	(void)pid;
	return DIPC_PID_RUNS;
}

void dipc_os_on_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	(void)prepare;
	(void)parent;
	(void)child;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* The leading fields of SYSTEM_TIMEOFDAY_INFORMATION (MinGW's header
 * hides them in a reserved array). */
struct tod_info {
	LARGE_INTEGER boot_time;
	LARGE_INTEGER current_time;
	LARGE_INTEGER time_zone_bias;
	ULONG time_zone_id;
	ULONG reserved;
	ULONGLONG boot_time_bias;
	ULONGLONG sleep_time_bias;
};

/*
 * The machine's name and the time it booted, the same pair as hostname and
 * boot_id on Linux.  Boot time comes from the kernel, so every process
 * reads the same value; Wine reports 0 there, which leaves the name alone.
 */
uint64_t dipc_os_host_id(void)
{
	static _Atomic uint64_t cached;
	uint64_t h = atomic_load_explicit(&cached, memory_order_relaxed);
	if (h)
		return h;
	h = 1469598103934665603ull;
	char buf[256];
	DWORD n = sizeof(buf);
	if (GetComputerNameExA(ComputerNamePhysicalDnsFullyQualified, buf, &n))
		h = fnv1a(buf, n, h);
	struct tod_info tod;
	ULONG got = 0;
	if (NtQuerySystemInformation(SystemTimeOfDayInformation, &tod, sizeof(tod),
				     &got) >= 0 && got >= sizeof(LARGE_INTEGER)) {
		/* In seconds: the raw value may be nudged by clock steps. */
		int64_t boot = tod.boot_time.QuadPart / 10000000;
		h = fnv1a(&boot, sizeof(boot), h);
	}
	if (!h)
		h = 1;
	atomic_store_explicit(&cached, h, memory_order_relaxed);
	return h;
}

struct dipc_os_thread {
	HANDLE h;
	unsigned id;
	void *(*fn)(void *);
	void *arg;
};

static unsigned __stdcall thread_main(void *p)
{
	struct dipc_os_thread *t = p;
	t->fn(t->arg);
	return 0;
}

int dipc_os_thread_start(dipc_os_thread **out, void *(*fn)(void *), void *arg)
{
	if (!out || !fn)
		return DIPC_EINVAL;
	dipc_os_thread *t = calloc(1, sizeof(*t));
	if (!t)
		return DIPC_ENOMEM;
	t->fn = fn;
	t->arg = arg;
	/* Through the C runtime, so that the thread may use it; suspended
	 * until its id is stored, so dipc_os_thread_is_self is right from
	 * the thread's first instruction. */
	uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, CREATE_SUSPENDED, &t->id);
	if (!h) {
		free(t);
		return DIPC_ENOMEM;
	}
	t->h = (HANDLE)h;
	ResumeThread(t->h);
	*out = t;
	return 0;
}

int dipc_os_thread_join(dipc_os_thread *t)
{
	if (!t)
		return DIPC_EINVAL;
	DWORD r = WaitForSingleObject(t->h, INFINITE);
	CloseHandle(t->h);
	free(t);
	return r == WAIT_OBJECT_0 ? 0 : DIPC_ESYS;
}

int dipc_os_thread_is_self(const dipc_os_thread *t)
{
	return t && t->id == GetCurrentThreadId();
}

/* A slim reader/writer lock taken exclusively: no kernel object, no
 * cleanup, like a default pthread mutex. */
struct dipc_os_mutex {
	SRWLOCK l;
};

int dipc_os_mutex_new(dipc_os_mutex **out)
{
	if (!out)
		return DIPC_EINVAL;
	dipc_os_mutex *m = malloc(sizeof(*m));
	if (!m)
		return DIPC_ENOMEM;
	InitializeSRWLock(&m->l);
	*out = m;
	return 0;
}

void dipc_os_mutex_free(dipc_os_mutex *m)
{
	free(m);
}

void dipc_os_mutex_lock(dipc_os_mutex *m)
{
	AcquireSRWLockExclusive(&m->l);
}

void dipc_os_mutex_unlock(dipc_os_mutex *m)
{
	ReleaseSRWLockExclusive(&m->l);
}

uint32_t dipc_os_uid(void)
{
	return 0;   /* no dipc-bridge on Windows: the name is never used there */
}

/* ---- doorbells: none here (no dipc-bridge on Windows) -------------------- */

int dipc_os_bell_open(const char *path, struct dipc_os_bell *b)
{
	(void)path;
	b->fd = -1;
	return DIPC_ENOENT;
}

void dipc_os_bell_ring(const struct dipc_os_bell *b)
{
	(void)b;
}

void dipc_os_bell_close(struct dipc_os_bell *b)
{
	b->fd = -1;
}

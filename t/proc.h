/*
 * proc.h - start child processes from a test, portably.
 *
 * A test defines
 *     int t_child(const char *role, const char *arg);
 * and starts its main() with T_CHILD_DISPATCH(argc, argv).  t_spawn(role,
 * arg) runs t_child(role, arg) in a new process: by fork() on POSIX, by
 * CreateProcess of the same executable with "--t-child role arg" on
 * Windows.  A child must take everything it needs from role and arg
 * (descriptors travel hex-encoded, see t_hex), never from inherited memory.
 */
#ifndef DIPC_T_PROC_H
#define DIPC_T_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
# include <windows.h>
typedef HANDLE t_pid;
#else
# include <signal.h>
# include <sys/types.h>
# include <sys/wait.h>
# include <time.h>
# include <unistd.h>
typedef pid_t t_pid;
#endif

int t_child(const char *role, const char *arg);

static const char *t_argv0_;

#define T_CHILD_DISPATCH(argc, argv) do { \
	t_argv0_ = (argv)[0]; \
	if ((argc) >= 4 && strcmp((argv)[1], "--t-child") == 0) \
		return t_child((argv)[2], (argv)[3]); \
} while (0)

/* Start a child; returns 0 on failure. */
static inline t_pid t_spawn(const char *role, const char *arg)
{
	fflush(stdout);
	fflush(stderr);
#ifdef _WIN32
	char exe[MAX_PATH];
	GetModuleFileNameA(NULL, exe, sizeof(exe));
	size_t n = strlen(exe) + strlen(role) + strlen(arg) + 32;
	char *cmd = malloc(n);
	if (!cmd)
		return 0;
	/* Quoted, so that an empty argument or one with a space stays one
	 * argument (argv[2], argv[3]) in the child. */
	snprintf(cmd, n, "\"%s\" --t-child \"%s\" \"%s\"", exe, role, arg);
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	BOOL okc = FALSE;
	/* A busy machine (or Wine's server) can refuse a process for a
	 * moment; the test is about the library, so try again briefly. */
	for (int tries = 0; !okc && tries < 5; tries++) {
		okc = CreateProcessA(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
		if (!okc) {
			printf("# t_spawn: CreateProcess failed (error %lu)\n",
			       (unsigned long)GetLastError());
			fflush(stdout);
			Sleep(100);
		}
	}
	free(cmd);
	if (!okc)
		return 0;
	CloseHandle(pi.hThread);
	return pi.hProcess;
#else
	pid_t p = fork();
	if (p == 0) {
		int rc = t_child(role, arg);
		fflush(stdout);
		_exit(rc & 0xff);
	}
	return p < 0 ? 0 : p;
#endif
}

/* Wait for a child at most seconds (< 0: no limit).  Returns its exit
 * code, 128+signal if killed, or -1 if it did not end in time. */
static inline int t_wait(t_pid p, double seconds)
{
#ifdef _WIN32
	DWORD ms = seconds < 0 ? INFINITE : (DWORD)(seconds * 1000);
	if (WaitForSingleObject(p, ms) != WAIT_OBJECT_0)
		return -1;
	DWORD code = 0;
	GetExitCodeProcess(p, &code);
	CloseHandle(p);
	return (int)code;
#else
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int st;
		pid_t r = waitpid(p, &st, seconds < 0 ? 0 : WNOHANG);
		if (r == p) {
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			if (WIFSIGNALED(st))
				return 128 + WTERMSIG(st);
			return -1;
		}
		if (r < 0)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - start.tv_sec) +
			    (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (el > seconds)
			return -1;
		struct timespec d = { 0, 2000000 };
		nanosleep(&d, NULL);
	}
#endif
}

/* Kill a child outright (SIGKILL / TerminateProcess) and reap it. */
static inline int t_kill(t_pid p)
{
#ifdef _WIN32
	TerminateProcess(p, 137);
#else
	kill(p, SIGKILL);
#endif
	return t_wait(p, 30);
}

/* The status a killed child reports through t_wait. */
#define T_KILLED 137

/* Hex-encode len bytes into out (2*len+1 bytes). */
static inline void t_hex(const void *buf, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * len] = 0;
}

/* Decode hex into buf; returns the byte count. */
static inline size_t t_unhex(const char *s, void *buf, size_t cap)
{
	unsigned char *b = buf;
	size_t n = 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		b[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

/* A name unique to this run, for pools and streams. */
static inline const char *t_name(const char *base)
{
	static char buf[8][64];
	static int i;
	char *b = buf[i++ & 7];
#ifdef _WIN32
	snprintf(b, 64, "t-%s-%lu", base, (unsigned long)GetCurrentProcessId());
#else
	snprintf(b, 64, "t-%s-%ld", base, (long)getpid());
#endif
	return b;
}

#endif

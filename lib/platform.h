/*
 * platform.h - the small interface lib/posix and lib/win32 implement.
 * Everything else in lib/ is written once against it.
 */
#ifndef DIPC_PLATFORM_H
#define DIPC_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A mapped named segment.  name is the platform-neutral name the caller
 * gave (for example "dipc.p.mypool"); the layer adds its own prefix. */
struct dipc_os_shm {
	void *addr;
	size_t size;
	intptr_t handle;        /* layer's own (Windows: the map); -1 when none */
	unsigned mode;          /* permission bits, DIPC_OS_MODE_UNKNOWN if none */
	int other_owner;        /* 1: another user owns the segment */
	char name[96];
};
#define DIPC_OS_MODE_UNKNOWN 0xffffffffu

/* Create and map a new segment of exactly size bytes, zero-filled.
 * DIPC_EEXIST if the name exists, DIPC_EPERM if refused. */
int dipc_os_shm_create(const char *name, size_t size, unsigned mode,
		       struct dipc_os_shm *out);

/* Map an existing segment whole.  DIPC_ENOENT if there is none. */
int dipc_os_shm_open(const char *name, struct dipc_os_shm *out);

/* Unmap and release the handle.  Never fails on a valid shm. */
void dipc_os_shm_close(struct dipc_os_shm *shm);

/* Remove the name; mappings stay valid.  DIPC_ENOENT if there is none. */
int dipc_os_shm_unlink(const char *name);

/* Call fn(name, arg) for every segment of ours on this machine whose
 * name starts with prefix; used by the command-line tool. */
int dipc_os_shm_list(const char *prefix, void (*fn)(const char *name, void *arg),
		     void *arg);

/* Sleep while *word == expected, at most timeout_ns (-1: no limit).
 * Returns 0 when woken or the value differs, DIPC_ETIMEDOUT on expiry.
 * Spurious returns are allowed; callers re-check.  seg is the segment
 * holding word (Windows names its kernel objects after it). */
int dipc_os_wait(const struct dipc_os_shm *seg, _Atomic uint32_t *word,
		 uint32_t expected, int64_t timeout_ns);

/* Wake every sleeper on word. */
void dipc_os_wake(const struct dipc_os_shm *seg, _Atomic uint32_t *word);

/* Monotonic time in nanoseconds. */
uint64_t dipc_os_now_ns(void);

/* Sleep for about ns nanoseconds. */
void dipc_os_sleep_ns(uint64_t ns);

/* Give the processor to another thread. */
void dipc_os_yield(void);

/* This process's id (never 0). */
uint32_t dipc_os_pid(void);

/* 1 if a process with this id exists, 0 if not. */
int dipc_os_pid_alive(uint32_t pid);

/* Is a (live) process getting on with its work?  RUNS: running, ready to
 * run, or the layer cannot tell; STOPPED: stopped or traced, it will not
 * move until someone lets it; WAITS: asleep by its own choice. */
enum { DIPC_PID_RUNS, DIPC_PID_STOPPED, DIPC_PID_WAITS };
int dipc_os_pid_state(uint32_t pid);

/*
 * A doorbell: a local datagram socket at a path, which a server of the
 * same user binds (dipc-bridge's gateway, see gateway.h).  Ringing wakes
 * the server; it never blocks, never raises a signal and never fails
 * loudly: a bell nobody answers is a bell not rung, and the server looks
 * for work now and then anyway.  Open checks that the path is a socket
 * owned by our own user (0, DIPC_ENOENT, DIPC_EPERM, DIPC_ENAMETOOLONG or
 * a system error); on Windows there are no bells (DIPC_ENOENT).  A bell
 * is closed only where no other thread can be ringing it.
 */
struct dipc_os_bell {
	int fd;
	unsigned len;
	unsigned char addr[128];
};
int dipc_os_bell_open(const char *path, struct dipc_os_bell *b);
void dipc_os_bell_ring(const struct dipc_os_bell *b);
void dipc_os_bell_close(struct dipc_os_bell *b);

/* A number that differs between machines and between boots of one. */
uint64_t dipc_os_host_id(void);

/* The user this process runs as (names the user's dipc-bridge gateway);
 * 0 where the layer has no such number. */
uint32_t dipc_os_uid(void);

/* Call prepare before fork(), parent and child after it (POSIX; no-op
 * where there is no fork). */
void dipc_os_on_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Threads and process-local locks. */
typedef struct dipc_os_thread dipc_os_thread;
int dipc_os_thread_start(dipc_os_thread **t, void *(*fn)(void *), void *arg);
int dipc_os_thread_join(dipc_os_thread *t);
int dipc_os_thread_is_self(const dipc_os_thread *t);

typedef struct dipc_os_mutex dipc_os_mutex;
int dipc_os_mutex_new(dipc_os_mutex **m);
void dipc_os_mutex_free(dipc_os_mutex *m);
void dipc_os_mutex_lock(dipc_os_mutex *m);
void dipc_os_mutex_unlock(dipc_os_mutex *m);

#endif

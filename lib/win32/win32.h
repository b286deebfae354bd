/*
 * win32/win32.h - what the Windows platform files share.
 *
 * A segment is a pagefile-backed section named "Local\<name>" (the
 * session's namespace).  Its first DIPC_W32_HDR bytes are ours, not the
 * caller's: Windows cannot tell the exact size of an existing section (a
 * view is rounded up to whole pages), and there is no unlink, so the header
 * records the size the creator asked for and whether the name was
 * "removed".  It also holds the wait slots that dipc_os_wait and
 * dipc_os_wake share across processes (see wait.c).  The caller's view
 * starts right after it, so it stays page-aligned as on POSIX.
 */
#ifndef DIPC_WIN32_H
#define DIPC_WIN32_H

#include "internal.h"

#include <windows.h>

#define DIPC_W32_HDR   4096u
#define DIPC_W32_SLOTS 256u
#define DIPC_W32_MAGIC 0x3233574370696464ull  /* "ddipCW32" */

struct dipc_w32_hdr {
	_Atomic uint64_t magic;         /* stored last, with release */
	uint64_t size;                  /* the caller's size */
	_Atomic uint32_t unlinked;      /* 1 once dipc_os_shm_unlink ran */
	uint32_t pad_[11];
	/* Per wait slot: wake generation << 32 | sleepers in it. */
	_Atomic uint64_t slots[DIPC_W32_SLOTS];
};

_Static_assert(sizeof(struct dipc_w32_hdr) <= DIPC_W32_HDR,
	       "segment header must fit its page");

/* Kernel object names: "Local\" + segment name + "#generation" + a
 * suffix such as "@w511". */
#define DIPC_W32_KNAME 160

/* What dipc_os_shm.handle points to in each process. */
struct dipc_w32_map {
	HANDLE section;
	struct dipc_w32_hdr *hdr;       /* base of the view */
	char kname[DIPC_W32_KNAME];     /* the section's kernel name */
};

static inline struct dipc_w32_map *dipc_w32_map_of(const struct dipc_os_shm *seg)
{
	if (!seg || !seg->addr || seg->handle == -1 || seg->handle == 0)
		return NULL;
	return (struct dipc_w32_map *)seg->handle;
}

/* Kernel object name for a segment, with an optional suffix. */
int dipc_w32_name(const char *name, const char *suffix, char *out, size_t len);

#endif

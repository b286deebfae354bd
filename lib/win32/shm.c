/*
 * win32/shm.c - named shared memory segments on Windows.
 *
 * A segment is a section backed by the paging file, in the "Local\"
 * namespace, so it is visible to the processes of this logon session.
 * Each process maps it whole; the first DIPC_W32_HDR bytes hold our header
 * (win32.h), the caller sees what follows.
 *
 * Windows has no unlink: a section lives exactly as long as some process
 * holds a handle to it, and its name goes with it.  POSIX semantics are
 * kept with generations.  The segment "x" is the section "Local\x#<g>"
 * for one g in [0, GENERATIONS) whose header is not marked unlinked;
 * dipc_os_shm_unlink marks it, so later opens of "x" fail with DIPC_ENOENT
 * and a later create of "x" takes another free g, while the processes
 * that have the old one mapped go on using it until they close it.  Create,
 * open and unlink of one name are serialised by a named mutex
 * ("Local\x@lock"), so at most one generation is live at a time.  Only if
 * every generation is held by unlinked but still mapped sections does
 * create fail, with DIPC_EBUSY.
 *
 * Backing is reserved at create, as on POSIX: the section is made
 * SEC_COMMIT, so its whole size is charged against the commit limit
 * (memory plus paging files) when it is created, and no later touch of
 * its pages can fail for want of room.  When the charge cannot be made,
 * CreateFileMapping fails (the commit limit, a paging file that cannot
 * grow, a quota: ERROR_COMMITMENT_LIMIT, ERROR_DISK_FULL,
 * ERROR_PAGEFILE_QUOTA, or ERROR_NOT_ENOUGH_MEMORY for the section's
 * backing), and create returns DIPC_ENOSPC and logs it at DIPC_LOG_BASIC;
 * nothing is left, since a section that was never made has no name.
 *
 * Limits: a section handle is kept for the life of each mapping (closing
 * it would take the name away while views remain), so a process has one
 * handle per open pool or stream.  Running out of handles or kernel
 * resources (ERROR_TOO_MANY_OPEN_FILES, ERROR_NO_SYSTEM_RESOURCES,
 * ERROR_NOT_ENOUGH_QUOTA) is DIPC_ELIMIT.
 *
 * Owner: other_owner compares the section's owner (its security
 * descriptor, read through the open handle) with this process's user
 * and its default owner for new objects (an elevated administrator's
 * objects belong to the Administrators group).  Opening asks for
 * READ_CONTROL along with the mapping rights, which an object's owner is
 * always granted; a section that maps but denies it is another's, and
 * is reported as such.  Where the owner cannot be read for another
 * reason (the call fails, or the section carries no owner, as under
 * Wine), other_owner stays 0: the Local\ namespace is this logon
 * session's, so that is the user who logged on.
 *
 * What remains different from POSIX, and is documented as such:
 *  - a segment vanishes when its last handle closes, even if never
 *    unlinked (and a crash leaves nothing stale behind);
 *  - mode is not turned into an ACL: sections get the creator's default
 *    security (the creating user, SYSTEM and administrators), and the
 *    mode reported is DIPC_OS_MODE_UNKNOWN;
 *  - listing needs NtQueryDirectoryObject, which Wine does not implement:
 *    there dipc_os_shm_list returns DIPC_ESYS.
 */
#include "win32.h"

#include <aclapi.h>
#include <stdio.h>
#include <winternl.h>

#define GENERATIONS 16

/* How long create, open or unlink wait for another process's create,
 * open or unlink of the same name (a few system calls) to finish. */
#define LOCK_WAIT_MS 30000

/* NT object directory calls, from ntdll; the MinGW headers lack them. */
typedef struct {
	UNICODE_STRING name;
	UNICODE_STRING type;
} dipc_w32_dirent;
NTSTATUS NTAPI NtOpenDirectoryObject(PHANDLE dir, ACCESS_MASK access,
				     POBJECT_ATTRIBUTES attr);
NTSTATUS NTAPI NtQueryDirectoryObject(HANDLE dir, PVOID buf, ULONG len,
				      BOOLEAN single, BOOLEAN restart,
				      PULONG context, PULONG retlen);
#define DIPC_DIRECTORY_QUERY     0x0001
#define DIPC_STATUS_MORE_ENTRIES ((NTSTATUS)0x00000105L)
#define DIPC_STATUS_NO_MORE_ENTRIES ((NTSTATUS)0x8000001AL)

int dipc_w32_name(const char *name, const char *suffix, char *out, size_t len)
{
	if (!name || !*name)
		return DIPC_EINVAL;
	/* A backslash would name another kernel directory; '#' and '@'
	 * separate our suffixes. */
	if (strpbrk(name, "\\#@"))
		return DIPC_EINVAL;
	int n = snprintf(out, len, "Local\\%s%s", name, suffix ? suffix : "");
	return (n < 0 || (size_t)n >= len) ? DIPC_ENAMETOOLONG : 0;
}

static int gen_name(const char *name, unsigned g, char *out)
{
	char suffix[16];
	snprintf(suffix, sizeof(suffix), "#%u", g);
	return dipc_w32_name(name, suffix, out, DIPC_W32_KNAME);
}

static int err_to_dipc(DWORD e)
{
	switch (e) {
	case ERROR_ALREADY_EXISTS: return DIPC_EEXIST;
	case ERROR_FILE_NOT_FOUND: return DIPC_ENOENT;
	case ERROR_ACCESS_DENIED: return DIPC_EPERM;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY: return DIPC_ENOMEM;
	case ERROR_COMMITMENT_LIMIT:
	case ERROR_PAGEFILE_QUOTA:
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL: return DIPC_ENOSPC;
	case ERROR_TOO_MANY_OPEN_FILES:
	case ERROR_NO_SYSTEM_RESOURCES:
	case ERROR_NOT_ENOUGH_QUOTA: return DIPC_ELIMIT;
	case ERROR_FILENAME_EXCED_RANGE: return DIPC_ENAMETOOLONG;
	case ERROR_INVALID_NAME:
	case ERROR_BAD_PATHNAME:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_PARAMETER: return DIPC_EINVAL;
	default: return DIPC_ESYS;
	}
}

/* ---- the per-name lock ------------------------------------------------- */

static int name_lock(const char *name, HANDLE *out)
{
	char kname[DIPC_W32_KNAME];
	int rc = dipc_w32_name(name, "@lock", kname, sizeof(kname));
	if (rc)
		return rc;
	HANDLE m = CreateMutexA(NULL, FALSE, kname);
	if (!m)
		return err_to_dipc(GetLastError());
	switch (WaitForSingleObject(m, LOCK_WAIT_MS)) {
	case WAIT_OBJECT_0:
	/* Its holder died: what it did under the lock is whole or undone
	 * (a section it was creating died with it). */
	case WAIT_ABANDONED:
		*out = m;
		return 0;
	default:
		CloseHandle(m);
		return DIPC_ESYS;
	}
}

static void name_unlock(HANDLE m)
{
	ReleaseMutex(m);
	CloseHandle(m);
}

/* ---- sections ---------------------------------------------------------- */

/* Map sec whole, or only its header page if hdr_only (enough to probe a
 * generation without taking address space for a large pool). */
static int map_section(HANDLE sec, const char *kname, bool hdr_only,
		       struct dipc_w32_map **out, size_t *viewlen)
{
	void *v = MapViewOfFile(sec, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0,
				hdr_only ? DIPC_W32_HDR : 0);
	if (!v)
		return err_to_dipc(GetLastError());
	MEMORY_BASIC_INFORMATION mbi;
	if (VirtualQuery(v, &mbi, sizeof(mbi)) == 0 || mbi.RegionSize < DIPC_W32_HDR) {
		UnmapViewOfFile(v);
		return DIPC_ECORRUPT;
	}
	struct dipc_w32_map *m = calloc(1, sizeof(*m));
	if (!m) {
		UnmapViewOfFile(v);
		return DIPC_ENOMEM;
	}
	m->section = sec;
	m->hdr = v;
	snprintf(m->kname, sizeof(m->kname), "%s", kname);
	*out = m;
	*viewlen = mbi.RegionSize;
	return 0;
}

static void unmap(struct dipc_w32_map *m)
{
	UnmapViewOfFile(m->hdr);
	CloseHandle(m->section);
	free(m);
}

enum gen_state { GEN_NONE, GEN_LIVE, GEN_DEAD };

/*
 * What occupies generation kname.  A live one is returned in *out with its
 * header page mapped.  DEAD covers unlinked sections and
 * ones without our header (a creator that died before writing it, or
 * something that is not ours): they hold the name but are not segments.
 */
static enum gen_state probe(const char *kname, struct dipc_w32_map **out)
{
	/* READ_CONTROL, to read the owner (see the top of the file); a
	 * section that denies it is opened without and is someone else's. */
	HANDLE sec = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL,
				      FALSE, kname);
	if (!sec && GetLastError() == ERROR_ACCESS_DENIED)
		sec = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, kname);
	if (!sec) {
		DWORD e = GetLastError();
		/* ERROR_INVALID_HANDLE: the name is some other kind of object. */
		return e == ERROR_FILE_NOT_FOUND ? GEN_NONE : GEN_DEAD;
	}
	struct dipc_w32_map *m;
	size_t len;
	if (map_section(sec, kname, true, &m, &len) != 0) {
		CloseHandle(sec);
		return GEN_DEAD;
	}
	if (atomic_load_explicit(&m->hdr->magic, memory_order_acquire) != DIPC_W32_MAGIC ||
	    atomic_load_explicit(&m->hdr->unlinked, memory_order_acquire)) {
		unmap(m);
		return GEN_DEAD;
	}
	*out = m;
	return GEN_LIVE;
}

/* Under the name's lock: the live generation (its header mapped), or
 * DIPC_ENOENT and the first free generation in *free_gen (-1: none). */
static int find_live(const char *name, struct dipc_w32_map **out, int *free_gen)
{
	*free_gen = -1;
	for (unsigned g = 0; g < GENERATIONS; g++) {
		char kname[DIPC_W32_KNAME];
		int rc = gen_name(name, g, kname);
		if (rc)
			return rc;
		switch (probe(kname, out)) {
		case GEN_LIVE:
			return 0;
		case GEN_NONE:
			if (*free_gen < 0)
				*free_gen = (int)g;
			break;
		case GEN_DEAD:
			break;
		}
	}
	return DIPC_ENOENT;
}

/* Replace a probed map's header view by a view of the whole section;
 * on failure the map is gone. */
static int map_whole(struct dipc_w32_map *m, size_t *viewlen)
{
	void *v = MapViewOfFile(m->section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
	MEMORY_BASIC_INFORMATION mbi;
	if (!v || VirtualQuery(v, &mbi, sizeof(mbi)) == 0 ||
	    mbi.RegionSize < DIPC_W32_HDR) {
		int rc = v ? DIPC_ECORRUPT : err_to_dipc(GetLastError());
		if (v)
			UnmapViewOfFile(v);
		unmap(m);
		return rc;
	}
	UnmapViewOfFile(m->hdr);
	m->hdr = v;
	*viewlen = mbi.RegionSize;
	return 0;
}

/* One SID of this process's token (TokenUser or TokenOwner), in buf. */
static PSID token_sid(HANDLE tok, TOKEN_INFORMATION_CLASS cls, void *buf, DWORD len)
{
	DWORD got = 0;
	if (!GetTokenInformation(tok, cls, buf, len, &got))
		return NULL;
	return cls == TokenUser ? ((TOKEN_USER *)buf)->User.Sid
				: ((TOKEN_OWNER *)buf)->Owner;
}

/* 1 if another user owns the section, 0 if we do or it cannot be told
 * (see the top of the file for which is which). */
static int section_other_owner(HANDLE sec, const char *name)
{
	PSID owner = NULL;
	PSECURITY_DESCRIPTOR sd = NULL;
	DWORD e = GetSecurityInfo(sec, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION,
				  &owner, NULL, NULL, NULL, &sd);
	if (e == ERROR_ACCESS_DENIED)
		return 1;
	if (e != ERROR_SUCCESS || !owner || !IsValidSid(owner)) {
		if (e == ERROR_SUCCESS)
			DIPC_LOG(DIPC_LOG_ALL, "segment %s: records no owner; taken as "
				 "this user's", name);
		else
			DIPC_LOG(DIPC_LOG_ALL, "segment %s: owner unknown (error %lu); "
				 "taken as this user's", name, (unsigned long)e);
		if (sd)
			LocalFree(sd);
		return 0;
	}
	int other = 0;
	HANDLE tok;
	if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
		union { TOKEN_USER u; TOKEN_OWNER o; unsigned char b[256]; } user, dflt;
		PSID me = token_sid(tok, TokenUser, &user, sizeof(user));
		PSID mine = token_sid(tok, TokenOwner, &dflt, sizeof(dflt));
		if (me || mine)
			other = !((me && EqualSid(owner, me)) || (mine && EqualSid(owner, mine)));
		CloseHandle(tok);
	}
	LocalFree(sd);
	return other;
}

static void fill(struct dipc_os_shm *out, struct dipc_w32_map *m, size_t size,
		 const char *name, bool created)
{
	out->addr = (char *)m->hdr + DIPC_W32_HDR;
	out->size = size;
	out->handle = (intptr_t)m;
	/* Sections carry no mode bits (see the top of the file). */
	out->mode = DIPC_OS_MODE_UNKNOWN;
	out->other_owner = created ? 0 : section_other_owner(m->section, name);
	snprintf(out->name, sizeof(out->name), "%s", name);
}

static int create_gen(const char *name, unsigned g, size_t size,
		      struct dipc_w32_map **out)
{
	char kname[DIPC_W32_KNAME];
	int rc = gen_name(name, g, kname);
	if (rc)
		return rc;
	uint64_t total = (uint64_t)size + DIPC_W32_HDR;
	SetLastError(0);
	HANDLE sec = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL,
					PAGE_READWRITE | SEC_COMMIT,
					(DWORD)(total >> 32), (DWORD)total, kname);
	if (!sec) {
		DWORD e = GetLastError();
		if (e == ERROR_INVALID_HANDLE)
			return DIPC_EBUSY;
		/* The section object is small: running out of memory here is
		 * its backing that could not be charged. */
		rc = e == ERROR_NOT_ENOUGH_MEMORY || e == ERROR_OUTOFMEMORY ? DIPC_ENOSPC
									     : err_to_dipc(e);
		if (rc == DIPC_ENOSPC)
			DIPC_LOG(DIPC_LOG_BASIC, "segment %s: cannot commit %llu bytes of "
				 "shared memory (error %lu); not created (DIPC_ENOSPC)",
				 name, (unsigned long long)total, (unsigned long)e);
		return rc;
	}
	/* The probe found the name free under the lock; only something
	 * outside our protocol can have taken it since. */
	if (GetLastError() == ERROR_ALREADY_EXISTS) {
		CloseHandle(sec);
		return DIPC_EBUSY;
	}
	struct dipc_w32_map *m;
	size_t len;
	rc = map_section(sec, kname, false, &m, &len);
	if (rc) {
		CloseHandle(sec);
		return rc;
	}
	m->hdr->size = size;
	atomic_store_explicit(&m->hdr->magic, DIPC_W32_MAGIC, memory_order_release);
	*out = m;
	return 0;
}

int dipc_os_shm_create(const char *name, size_t size, unsigned mode DIPC_UNUSED,
		       struct dipc_os_shm *out)
{
	if (!out || size == 0)
		return DIPC_EINVAL;
	/* More than any commit limit can hold. */
	if (size > (SIZE_MAX >> 1) - DIPC_W32_HDR)
		return DIPC_ENOSPC;
	HANDLE lock;
	int rc = name_lock(name, &lock);
	if (rc)
		return rc;
	struct dipc_w32_map *m;
	int g;
	rc = find_live(name, &m, &g);
	if (rc == 0) {
		unmap(m);
		rc = DIPC_EEXIST;
	} else if (rc == DIPC_ENOENT) {
		/* Every generation still mapped by someone: busy. */
		rc = g < 0 ? DIPC_EBUSY : create_gen(name, (unsigned)g, size, &m);
		if (rc == 0)
			fill(out, m, size, name, true);
	}
	name_unlock(lock);
	return rc;
}

int dipc_os_shm_open(const char *name, struct dipc_os_shm *out)
{
	if (!out)
		return DIPC_EINVAL;
	size_t len = 0;
	HANDLE lock;
	int rc = name_lock(name, &lock);
	if (rc)
		return rc;
	struct dipc_w32_map *m;
	int g;
	rc = find_live(name, &m, &g);
	if (rc == 0)
		rc = map_whole(m, &len);
	name_unlock(lock);
	if (rc)
		return rc;
	uint64_t size = m->hdr->size;
	/* The header is input like the rest: it may not claim more than the
	 * view holds. */
	if (size == 0 || size > len - DIPC_W32_HDR) {
		unmap(m);
		return DIPC_ECORRUPT;
	}
	fill(out, m, (size_t)size, name, false);
	return 0;
}

void dipc_os_shm_close(struct dipc_os_shm *shm)
{
	if (!shm)
		return;
	struct dipc_w32_map *m = dipc_w32_map_of(shm);
	if (m)
		unmap(m);
	shm->addr = NULL;
	shm->handle = -1;
}

int dipc_os_shm_unlink(const char *name)
{
	HANDLE lock;
	int rc = name_lock(name, &lock);
	if (rc)
		return rc;
	struct dipc_w32_map *m;
	int g;
	rc = find_live(name, &m, &g);
	if (rc == 0) {
		atomic_store_explicit(&m->hdr->unlinked, 1, memory_order_release);
		unmap(m);
	}
	name_unlock(lock);
	return rc;
}

/* ---- listing ----------------------------------------------------------- */

/* Is the section kname one of ours and not unlinked?  (No lock: a name
 * listed may be gone by the time the caller looks, as on POSIX.) */
static bool listable(const char *kname)
{
	struct dipc_w32_map *m;
	if (probe(kname, &m) != GEN_LIVE)
		return false;
	unmap(m);
	return true;
}

static bool is_section(const UNICODE_STRING *type)
{
	static const wchar_t sect[] = L"Section";
	return type->Length == sizeof(sect) - sizeof(wchar_t) &&
	       memcmp(type->Buffer, sect, type->Length) == 0;
}

/* The entry's name in ASCII, or false if it has other characters (none
 * of ours does) or is too long. */
static bool ascii_name(const UNICODE_STRING *u, char *out, size_t len)
{
	size_t n = u->Length / sizeof(wchar_t);
	if (n + 1 > len)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (u->Buffer[i] == 0 || u->Buffer[i] > 0x7e)
			return false;
		out[i] = (char)u->Buffer[i];
	}
	out[n] = 0;
	return true;
}

/* Report the section named entry ("x#g") as "x" if it is a live segment
 * whose name starts with prefix. */
static void list_one(const char *entry, const char *prefix,
		     void (*fn)(const char *name, void *arg), void *arg)
{
	char name[DIPC_W32_KNAME], kname[DIPC_W32_KNAME];
	snprintf(name, sizeof(name), "%s", entry);
	char *hash = strrchr(name, '#');
	if (!hash)
		return;
	*hash = 0;
	if (strncmp(name, prefix, strlen(prefix)) != 0)
		return;
	if (dipc_w32_name(name, NULL, kname, sizeof(kname)) != 0)
		return;
	snprintf(kname, sizeof(kname), "Local\\%s", entry);
	if (listable(kname))
		fn(name, arg);
}

int dipc_os_shm_list(const char *prefix, void (*fn)(const char *name, void *arg),
		     void *arg)
{
	if (!prefix || !fn)
		return DIPC_EINVAL;
	DWORD session = 0;
	if (!ProcessIdToSessionId(GetCurrentProcessId(), &session))
		return DIPC_ESYS;
	wchar_t path[64];
	swprintf(path, 64, L"\\Sessions\\%lu\\BaseNamedObjects", (unsigned long)session);
	UNICODE_STRING upath;
	RtlInitUnicodeString(&upath, path);
	OBJECT_ATTRIBUTES oa;
	InitializeObjectAttributes(&oa, &upath, 0, NULL, NULL);
	HANDLE dir;
	if (NtOpenDirectoryObject(&dir, DIPC_DIRECTORY_QUERY, &oa) < 0)
		return DIPC_ESYS;

	size_t cap = 64 * 1024;
	void *buf = malloc(cap);
	if (!buf) {
		CloseHandle(dir);
		return DIPC_ENOMEM;
	}
	ULONG ctx = 0;
	int rc = 0;
	for (bool first = true;; first = false) {
		ULONG got = 0;
		NTSTATUS st = NtQueryDirectoryObject(dir, buf, (ULONG)cap, FALSE,
						     first, &ctx, &got);
		if (st == DIPC_STATUS_NO_MORE_ENTRIES)
			break;
		if (st < 0) {
			rc = DIPC_ESYS;
			break;
		}
		for (dipc_w32_dirent *e = buf; e->name.Buffer; e++) {
			char entry[DIPC_W32_KNAME];
			if (is_section(&e->type) &&
			    ascii_name(&e->name, entry, sizeof(entry) - 8))
				list_one(entry, prefix, fn, arg);
		}
		if (st != DIPC_STATUS_MORE_ENTRIES)
			break;
	}
	free(buf);
	CloseHandle(dir);
	return rc;
}

/*
 * win32/shm.c - named shared memory segments on Windows.
 *
 * A segment is a section backed by the paging file, named
 * "Local\<name>", so it is visible to the processes of this logon
 * session.  Each process maps it whole; the first DIPC_W32_HDR bytes hold
 * our header (win32.h), the caller sees what follows.
 *
 * Differences from POSIX, by necessity:
 *
 *  - No unlink.  A section lives exactly as long as some process holds a
 *    handle to it, and its name goes with it.  dipc_os_shm_unlink marks
 *    the header "unlinked": later opens of that name fail with
 *    DIPC_ENOENT as they would on POSIX, the processes that have it mapped
 *    keep using it, and the section vanishes when the last one closes.
 *    Until then the name cannot be reused: dipc_os_shm_create returns
 *    DIPC_EBUSY (handles still open) instead of making a second segment.
 *    The other side of the coin: a segment never outlives its users, so
 *    a crash leaves nothing stale behind to clean up.
 *  - Permissions.  mode is not mapped onto an ACL; sections get the
 *    creator's default security, which gives the creating user (and
 *    SYSTEM and administrators) access, and the Local namespace keeps
 *    them within the session.
 *  - Commit.  The whole size is charged against the system commit limit
 *    when the section is created (SEC_COMMIT), though pages take memory
 *    only once touched.
 *  - Listing needs NtQueryDirectoryObject, which Wine does not implement:
 *    there dipc_os_shm_list returns DIPC_ESYS.
 */
#include "win32.h"

#include <stdio.h>
#include <winternl.h>

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

/* How long an opener waits for a creator that has made the section but
 * not yet written its header. */
#define HDR_WAIT_MS 2000

int dipc_w32_name(const char *name, const char *suffix, char *out, size_t len)
{
	if (!name || !*name)
		return DIPC_EINVAL;
	/* A backslash would name another kernel directory. */
	if (strchr(name, '\\'))
		return DIPC_EINVAL;
	int n = snprintf(out, len, "Local\\%s%s", name, suffix ? suffix : "");
	return (n < 0 || (size_t)n >= len) ? DIPC_ENAMETOOLONG : 0;
}

static int err_to_dipc(DWORD e)
{
	switch (e) {
	case ERROR_ALREADY_EXISTS: return DIPC_EEXIST;
	case ERROR_FILE_NOT_FOUND: return DIPC_ENOENT;
	case ERROR_ACCESS_DENIED: return DIPC_EPERM;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
	case ERROR_COMMITMENT_LIMIT:
	case ERROR_DISK_FULL: return DIPC_ENOMEM;
	case ERROR_FILENAME_EXCED_RANGE: return DIPC_ENAMETOOLONG;
	case ERROR_INVALID_NAME:
	case ERROR_BAD_PATHNAME:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_PARAMETER: return DIPC_EINVAL;
	default: return DIPC_ESYS;
	}
}

/* Wait (bounded) for the creator to publish the header. */
static bool hdr_ready(struct dipc_w32_hdr *h)
{
	for (int ms = 0;; ms++) {
		if (atomic_load_explicit(&h->magic, memory_order_acquire) ==
		    DIPC_W32_MAGIC)
			return true;
		if (ms >= HDR_WAIT_MS)
			return false;
		Sleep(ms < 10 ? 0 : 1);
	}
}

static int map_section(HANDLE sec, struct dipc_w32_map **out, size_t *viewlen)
{
	void *v = MapViewOfFile(sec, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
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
	*out = m;
	*viewlen = mbi.RegionSize;
	return 0;
}

static void unmap(struct dipc_w32_map *m)
{
	dipc_w32_wait_release(m);
	UnmapViewOfFile(m->hdr);
	CloseHandle(m->section);
	free(m);
}

static void fill(struct dipc_os_shm *out, struct dipc_w32_map *m, size_t size,
		 const char *name)
{
	out->addr = (char *)m->hdr + DIPC_W32_HDR;
	out->size = size;
	out->handle = (intptr_t)m;
	snprintf(out->name, sizeof(out->name), "%s", name);
}

/* Why an existing section cannot be created again: it is live, or it was
 * unlinked but is still mapped somewhere. */
static int exists_code(HANDLE sec)
{
	struct dipc_w32_map *m;
	size_t len;
	if (map_section(sec, &m, &len) != 0) {
		CloseHandle(sec);
		return DIPC_EEXIST;
	}
	int rc = DIPC_EEXIST;
	if (hdr_ready(m->hdr) &&
	    atomic_load_explicit(&m->hdr->unlinked, memory_order_acquire))
		rc = DIPC_EBUSY;
	unmap(m);
	return rc;
}

int dipc_os_shm_create(const char *name, size_t size, unsigned mode DIPC_UNUSED,
		       struct dipc_os_shm *out)
{
	char kname[160];
	if (!out || size == 0)
		return DIPC_EINVAL;
	int rc = dipc_w32_name(name, NULL, kname, sizeof(kname));
	if (rc)
		return rc;
	if (size > (SIZE_MAX >> 1) - DIPC_W32_HDR)
		return DIPC_ENOMEM;
	uint64_t total = (uint64_t)size + DIPC_W32_HDR;
	SetLastError(0);
	HANDLE sec = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL,
					PAGE_READWRITE | SEC_COMMIT,
					(DWORD)(total >> 32), (DWORD)total, kname);
	if (!sec) {
		DWORD e = GetLastError();
		/* The name belongs to a kernel object of another type. */
		if (e == ERROR_INVALID_HANDLE)
			return DIPC_EEXIST;
		return err_to_dipc(e);
	}
	if (GetLastError() == ERROR_ALREADY_EXISTS)
		return exists_code(sec);

	struct dipc_w32_map *m;
	size_t len;
	rc = map_section(sec, &m, &len);
	if (rc) {
		CloseHandle(sec);
		return rc;
	}
	m->hdr->size = size;
	atomic_store_explicit(&m->hdr->magic, DIPC_W32_MAGIC, memory_order_release);
	fill(out, m, size, name);
	return 0;
}

int dipc_os_shm_open(const char *name, struct dipc_os_shm *out)
{
	char kname[160];
	if (!out)
		return DIPC_EINVAL;
	int rc = dipc_w32_name(name, NULL, kname, sizeof(kname));
	if (rc)
		return rc;
	HANDLE sec = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, kname);
	if (!sec) {
		DWORD e = GetLastError();
		return e == ERROR_INVALID_HANDLE ? DIPC_ENOENT : err_to_dipc(e);
	}
	struct dipc_w32_map *m;
	size_t len;
	rc = map_section(sec, &m, &len);
	if (rc) {
		CloseHandle(sec);
		return rc;
	}
	if (!hdr_ready(m->hdr)) {
		unmap(m);
		return DIPC_ECORRUPT;
	}
	if (atomic_load_explicit(&m->hdr->unlinked, memory_order_acquire)) {
		unmap(m);
		return DIPC_ENOENT;
	}
	uint64_t size = m->hdr->size;
	/* The header is input like the rest: it may not claim more than the
	 * view holds. */
	if (size == 0 || size > len - DIPC_W32_HDR) {
		unmap(m);
		return DIPC_ECORRUPT;
	}
	fill(out, m, (size_t)size, name);
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
	char kname[160];
	int rc = dipc_w32_name(name, NULL, kname, sizeof(kname));
	if (rc)
		return rc;
	HANDLE sec = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, kname);
	if (!sec) {
		DWORD e = GetLastError();
		return e == ERROR_INVALID_HANDLE ? DIPC_ENOENT : err_to_dipc(e);
	}
	struct dipc_w32_map *m;
	size_t len;
	rc = map_section(sec, &m, &len);
	if (rc) {
		CloseHandle(sec);
		return rc;
	}
	/* Exactly one unlink succeeds, as on POSIX. */
	rc = atomic_exchange_explicit(&m->hdr->unlinked, 1, memory_order_acq_rel) ?
		DIPC_ENOENT : 0;
	unmap(m);
	return rc;
}

/* Is the section named kname one of ours and not unlinked? */
static bool listable(const char *kname)
{
	HANDLE sec = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, kname);
	if (!sec)
		return false;
	struct dipc_w32_map *m;
	size_t len;
	if (map_section(sec, &m, &len) != 0) {
		CloseHandle(sec);
		return false;
	}
	bool ok = atomic_load_explicit(&m->hdr->magic, memory_order_acquire) ==
			  DIPC_W32_MAGIC &&
		  !atomic_load_explicit(&m->hdr->unlinked, memory_order_acquire);
	unmap(m);
	return ok;
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
	size_t plen = strlen(prefix);
	ULONG ctx = 0;
	int rc = 0;
	for (;;) {
		ULONG got = 0;
		NTSTATUS st = NtQueryDirectoryObject(dir, buf, (ULONG)cap, FALSE,
						     ctx == 0, &ctx, &got);
		if (st == DIPC_STATUS_NO_MORE_ENTRIES)
			break;
		if (st < 0) {
			rc = DIPC_ESYS;
			break;
		}
		for (dipc_w32_dirent *e = buf; e->name.Buffer; e++) {
			char name[128], kname[160];
			if (!is_section(&e->type) || !ascii_name(&e->name, name, sizeof(name)))
				continue;
			if (strncmp(name, prefix, plen) != 0)
				continue;
			if (dipc_w32_name(name, NULL, kname, sizeof(kname)) == 0 &&
			    listable(kname))
				fn(name, arg);
		}
		if (st != DIPC_STATUS_MORE_ENTRIES)
			break;
	}
	free(buf);
	CloseHandle(dir);
	return rc;
}

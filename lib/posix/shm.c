/*
 * posix/shm.c - named shared memory segments on POSIX (shm_open).
 *
 * Rules this file keeps for every pool and stream segment:
 *
 *  - Backing is reserved at create.  A segment on tmpfs is only a size
 *    until its pages are touched; if /dev/shm (or the memory cgroup) has
 *    no room then, the toucher dies of SIGBUS in the middle of a send or
 *    a write.  So create sizes the object with posix_fallocate, which
 *    gives every page its memory before anyone maps it, and a lack of
 *    room is an error code at create: DIPC_ENOSPC, logged at
 *    DIPC_LOG_BASIC, with the name removed again.  posix_fallocate also
 *    sets the size, and only once every page is there, so an opener that
 *    races with create sees a size of 0 (and retries) or the whole
 *    reserved object, never a half-reserved one.  It is retried on EINTR
 *    (tmpfs gives up and undoes the work when a signal arrives).  Where
 *    the object does not support it (EOPNOTSUPP, ENOSYS or EINVAL for
 *    the call itself: no /dev/shm of Linux, but other shm_open
 *    implementations), the size is set with ftruncate and nothing is
 *    reserved; that is logged at DIPC_LOG_BASIC once per process.
 *    Hence a segment costs its full size from create on, touched or not.
 *
 *  - No descriptor is kept.  The mapping holds the object; the descriptor
 *    from shm_open is closed as soon as the object is mapped (or mapping
 *    fails), so a process with many pools and streams open holds no
 *    descriptor for them, and dipc_os_shm.handle is -1 here.
 *
 *  - Running out of descriptors (EMFILE: this process; ENFILE: the
 *    system) is DIPC_ELIMIT, not an unexplained DIPC_ESYS; no room for
 *    the backing (ENOSPC, EFBIG, and ENOMEM from the reservation) is
 *    DIPC_ENOSPC; a failed mmap for lack of address space stays
 *    DIPC_ENOMEM.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int os_name(const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "/%s", name);
	return (n < 0 || (size_t)n >= len) ? DIPC_ENAMETOOLONG : 0;
}

static int errno_to_dipc(int e)
{
	switch (e) {
	case EEXIST: return DIPC_EEXIST;
	case ENOENT: return DIPC_ENOENT;
	case EACCES:
	case EPERM: return DIPC_EPERM;
	case ENOMEM: return DIPC_ENOMEM;
	case ENOSPC:
	case EFBIG: return DIPC_ENOSPC;
	case EMFILE:
	case ENFILE: return DIPC_ELIMIT;
	case ENAMETOOLONG: return DIPC_ENAMETOOLONG;
	case EINVAL: return DIPC_EINVAL;
	default: return DIPC_ESYS;
	}
}

/* An error of shm_open, logged when it is a limit or a full /dev/shm
 * (the caller sees only the code, and which limit is worth saying). */
static int open_failed(const char *name, int e)
{
	int rc = errno_to_dipc(e);
	if (rc == DIPC_ELIMIT || rc == DIPC_ENOSPC)
		DIPC_LOG(DIPC_LOG_BASIC, "segment %s: cannot open: %s (%s)", name,
			 strerror(e), rc == DIPC_ENOSPC ? "DIPC_ENOSPC" :
			 e == EMFILE ? "the process's limit, DIPC_ELIMIT" :
				       "the system's limit, DIPC_ELIMIT");
	return rc;
}

/* Map fd whole and close it: the mapping keeps the object alive. */
static int map_fd(int fd, size_t size, const char *name, const struct stat *st,
		  struct dipc_os_shm *out)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return errno_to_dipc(e);
	out->addr = p;
	out->size = size;
	out->handle = -1;
	out->mode = (unsigned)(st->st_mode & 0777);
	out->other_owner = st->st_uid != geteuid();
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

/* posix_fallocate's answer when the object cannot reserve at all. */
static bool reserve_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOSYS || e == EINVAL;
}

/*
 * Give the new, empty object fd its size, with every byte of backing
 * reserved (see the top of the file).  0 or a DIPC_E* code, logged.
 */
static int size_backing(int fd, size_t size, const char *name)
{
	static atomic_int said_unsupported;
	if ((uint64_t)size > (uint64_t)INT64_MAX)
		return DIPC_ENOSPC;
	int e;
	do
		e = posix_fallocate(fd, 0, (off_t)size);
	while (e == EINTR);
	if (e == 0)
		return 0;
	if (reserve_unsupported(e)) {
		if (!atomic_exchange(&said_unsupported, 1))
			DIPC_LOG(DIPC_LOG_BASIC, "shared memory here cannot reserve its "
				 "backing (%s): segments are sized, not reserved, and "
				 "running out of room later is a SIGBUS", strerror(e));
		if (ftruncate(fd, (off_t)size) == 0)
			return 0;
		e = errno;
	}
	int rc = errno_to_dipc(e);
	/* ENOMEM here is the backing (a memory cgroup's limit), not ours. */
	if (e == ENOMEM)
		rc = DIPC_ENOSPC;
	if (rc == DIPC_ENOSPC)
		DIPC_LOG(DIPC_LOG_BASIC, "segment %s: cannot reserve %zu bytes of shared "
			 "memory: %s; not created (DIPC_ENOSPC)", name, size, strerror(e));
	return rc;
}

int dipc_os_shm_create(const char *name, size_t size, unsigned mode,
		       struct dipc_os_shm *out)
{
	char path[128];
	int rc = os_name(name, path, sizeof(path));
	if (rc)
		return rc;
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return open_failed(name, errno);
	/* shm_open applies the umask; the caller's bits are what we promise. */
	rc = fchmod(fd, (mode_t)mode) == 0 ? size_backing(fd, size, name)
					    : errno_to_dipc(errno);
	if (rc) {
		close(fd);
		shm_unlink(path);
		return rc;
	}
	struct stat st = { .st_mode = mode, .st_uid = geteuid() };
	rc = map_fd(fd, size, name, &st, out);
	if (rc)
		shm_unlink(path);
	return rc;
}

int dipc_os_shm_open(const char *name, struct dipc_os_shm *out)
{
	char path[128];
	int rc = os_name(name, path, sizeof(path));
	if (rc)
		return rc;
	int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return open_failed(name, errno);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = errno_to_dipc(errno);
		close(fd);
		return rc;
	}
	if (st.st_size <= 0) {
		/* Its creator has not sized it yet, or it is not ours. */
		close(fd);
		return DIPC_ECORRUPT;
	}
	return map_fd(fd, (size_t)st.st_size, name, &st, out);
}

void dipc_os_shm_close(struct dipc_os_shm *shm)
{
	if (shm->addr)
		munmap(shm->addr, shm->size);
	shm->addr = NULL;
	shm->handle = -1;
}

int dipc_os_shm_unlink(const char *name)
{
	char path[128];
	int rc = os_name(name, path, sizeof(path));
	if (rc)
		return rc;
	if (shm_unlink(path) != 0)
		return errno_to_dipc(errno);
	return 0;
}

int dipc_os_shm_list(const char *prefix, void (*fn)(const char *name, void *arg),
		     void *arg)
{
	DIR *d = opendir("/dev/shm");
	if (!d)
		return errno_to_dipc(errno);
	size_t plen = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) == 0)
			fn(e->d_name, arg);
	}
	closedir(d);
	return 0;
}

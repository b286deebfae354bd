/*
 * posix/shm.c - named shared memory segments on POSIX (shm_open).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
	case ENOMEM:
	case ENOSPC:
	case EFBIG: return DIPC_ENOMEM;
	case ENAMETOOLONG: return DIPC_ENAMETOOLONG;
	case EINVAL: return DIPC_EINVAL;
	default: return DIPC_ESYS;
	}
}

static int map_fd(int fd, size_t size, const char *name, const struct stat *st,
		  struct dipc_os_shm *out)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = errno_to_dipc(errno);
		close(fd);
		return rc;
	}
	out->addr = p;
	out->size = size;
	out->handle = fd;
	out->mode = (unsigned)(st->st_mode & 0777);
	out->other_owner = st->st_uid != geteuid();
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
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
		return errno_to_dipc(errno);
	/* shm_open applies the umask; the caller's bits are what we promise. */
	if (fchmod(fd, (mode_t)mode) != 0 || ftruncate(fd, (off_t)size) != 0) {
		rc = errno_to_dipc(errno);
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
		return errno_to_dipc(errno);
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
	if (shm->handle >= 0)
		close((int)shm->handle);
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

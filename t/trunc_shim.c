/*
 * trunc_shim - an LD_PRELOAD module for t/truncate.sh: it truncates a
 * segment between the moment a program maps it and the moment it reads
 * it, which no outside process can time.
 *
 * With DIPC_TEST_TRUNCATE=PATH:SIZE in the environment, the first close()
 * of a descriptor open on PATH truncates PATH to SIZE bytes first.  dipc
 * maps a segment and closes the descriptor before it reads the mapping,
 * so its reads then run past the end of the file.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int done;

int close(int fd)
{
	const char *spec = getenv("DIPC_TEST_TRUNCATE");
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	if (!done && colon) {
		char link[64], target[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		size_t plen = (size_t)(colon - spec);
		if (n > 0 && (size_t)n == plen && memcmp(target, spec, plen) == 0) {
			done = 1;
			target[n] = 0;
			if (truncate(target, atoll(colon + 1)) != 0)
				perror("trunc_shim: truncate");
		}
	}
	return (int)syscall(SYS_close, fd);
}

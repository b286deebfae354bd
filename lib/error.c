/*
 * error.c - error names, the version string, name validation.
 */
#include "internal.h"

#include <stdio.h>

static const char *const messages[] = {
	[0] = "success",
	[1] = "invalid argument",
	[2] = "out of memory",
	[3] = "no room in the memory pool or for the shared memory",
	[4] = "channel is full",
	[5] = "channel is empty",
	[6] = "timed out",
	[7] = "handle is not open",
	[8] = "channel or pool was destroyed",
	[9] = "the other side closed",
	[10] = "permission denied",
	[11] = "incompatible version",
	[12] = "already exists",
	[13] = "no such object",
	[14] = "busy",
	[15] = "message too large",
	[16] = "shared memory or descriptor is corrupt",
	[17] = "descriptor from another host",
	[18] = "operating-system failure",
	[19] = "name too long",
	[20] = "a process or system limit was reached",
	[21] = "the barrier is broken",
};

const char *dipc_strerror(int code)
{
	if (code > 0 || code < DIPC_ERRNO_LAST)
		return "unknown error";
	return messages[-code];
}

const char *dipc_version(void)
{
	return PACKAGE_VERSION;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int dipc_name_build(const char *prefix, const char *name, char *out, size_t outlen)
{
	if (!name || !*name || name[0] == '.')
		return DIPC_EINVAL;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		if (n >= DIPC_NAME_MAX)
			return DIPC_ENAMETOOLONG;
		if (!name_char_ok(*p))
			return DIPC_EINVAL;
	}
	int w = snprintf(out, outlen, "%s%s", prefix, name);
	if (w < 0 || (size_t)w >= outlen)
		return DIPC_ENAMETOOLONG;
	return 0;
}

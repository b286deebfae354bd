/*
 * keys.c - the bridge's key files, read the way sshd reads its own.
 *
 * A key pair file holds the secret key: it must be a regular file owned
 * by the user the bridge runs as, readable and writable by that user
 * only (mode 0600 or stricter); anything else is refused with the reason
 * and the fix.  The authorised-keys and peers files hold public keys and
 * addresses, which decide whom the bridge trusts: they must be owned by
 * that user (or root) and writable by nobody else.  Files are opened
 * without following a final symbolic link, and checked on the open file.
 *
 *   key pair:    "public <40 Z85 characters>" and "secret <...>" lines
 *   authorised:  one public key per line, first word; a line starting
 *                with '#' is a comment (not a '#' inside: Z85 uses it)
 *   peers:       "<endpoint> [<public key>]" per line; without a key the
 *                peer is taken to use this bridge's own (one key pair
 *                shared by all the hosts of a user or job)
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE *open_checked(const char *path, bool secret)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "dipc-bridge: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "dipc-bridge: %s: not a regular file\n", path);
		close(fd);
		return NULL;
	}
	uid_t me = geteuid();
	if (secret && st.st_uid != me) {
		fprintf(stderr, "dipc-bridge: %s: owned by uid %u, not by this user (%u): refused\n",
			path, (unsigned)st.st_uid, (unsigned)me);
		close(fd);
		return NULL;
	}
	if (!secret && st.st_uid != me && st.st_uid != 0) {
		fprintf(stderr, "dipc-bridge: %s: owned by uid %u, neither this user nor root: "
			"refused\n", path, (unsigned)st.st_uid);
		close(fd);
		return NULL;
	}
	if (secret && (st.st_mode & 077)) {
		fprintf(stderr, "dipc-bridge: %s: mode %04o lets others read the secret key: "
			"refused (chmod 600 %s)\n", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	if (!secret && (st.st_mode & 022)) {
		fprintf(stderr, "dipc-bridge: %s: mode %04o lets others change whom the bridge "
			"trusts: refused (chmod go-w %s)\n", path, (unsigned)(st.st_mode & 07777),
			path);
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* The next line without its comment, split into up to two words. */
static int words(FILE *f, char *a, char *b, size_t len)
{
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		/* A comment is a whole line: '#' is a Z85 character. */
		const char *first = line + strspn(line, " \t");
		if (*first == '#')
			continue;
		a[0] = b[0] = 0;
		char *save, *w = strtok_r(line, " \t\r\n", &save);
		if (!w)
			continue;
		snprintf(a, len, "%s", w);
		w = strtok_r(NULL, " \t\r\n", &save);
		if (w)
			snprintf(b, len, "%s", w);
		return 1;
	}
	return 0;
}

int keys_load_pair(const char *path, char pub[TP_KEY_TEXT], char sec[TP_KEY_TEXT])
{
	FILE *f = open_checked(path, true);
	if (!f)
		return -1;
	char a[256], b[256];
	pub[0] = sec[0] = 0;
	while (words(f, a, b, sizeof(a))) {
		if (strcmp(a, "public") == 0 && tp_key_ok(b))
			memcpy(pub, b, TP_KEY_TEXT);
		else if (strcmp(a, "secret") == 0 && tp_key_ok(b))
			memcpy(sec, b, TP_KEY_TEXT);
	}
	fclose(f);
	if (!pub[0] || !sec[0]) {
		fprintf(stderr, "dipc-bridge: %s: no \"public\" and \"secret\" key lines "
			"(make one with dipc-bridge --keygen)\n", path);
		return -1;
	}
	return 0;
}

int keys_write_pair(const char *path)
{
	char pub[TP_KEY_TEXT], sec[TP_KEY_TEXT];
	if (tp_keypair(pub, sec)) {
		fprintf(stderr, "dipc-bridge: this ZeroMQ has no CURVE support\n");
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "dipc-bridge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char text[200];
	int n = snprintf(text, sizeof(text), "# dipc-bridge key pair: keep it secret (mode 0600)\n"
		"public %s\nsecret %s\n", pub, sec);
	if (write(fd, text, (size_t)n) != n || fsync(fd) || close(fd)) {
		fprintf(stderr, "dipc-bridge: %s: %s\n", path, strerror(errno));
		unlink(path);
		return -1;
	}
	printf("%s\n", pub);
	return 0;
}

int keys_load_list(const char *path, char (**out)[TP_KEY_TEXT], size_t *n)
{
	FILE *f = open_checked(path, false);
	if (!f)
		return -1;
	char a[256], b[256];
	int line = 0;
	while (words(f, a, b, sizeof(a))) {
		line++;
		if (!tp_key_ok(a)) {
			fprintf(stderr, "dipc-bridge: %s: entry %d is not a public key\n", path, line);
			fclose(f);
			return -1;
		}
		char (*grown)[TP_KEY_TEXT] = realloc(*out, (*n + 1) * TP_KEY_TEXT);
		if (!grown) {
			fclose(f);
			return -1;
		}
		*out = grown;
		memcpy((*out)[(*n)++], a, TP_KEY_TEXT);
	}
	fclose(f);
	return 0;
}

int keys_load_peers(const char *path, int (*fn)(const char *endpoint, const char *key))
{
	FILE *f = open_checked(path, false);
	if (!f)
		return -1;
	char a[256], b[256];
	int rc = 0;
	while (rc == 0 && words(f, a, b, sizeof(a))) {
		if (b[0] && !tp_key_ok(b)) {
			fprintf(stderr, "dipc-bridge: %s: peer %s: not a public key: %s\n", path, a, b);
			rc = -1;
			break;
		}
		rc = fn(a, b[0] ? b : NULL);
	}
	fclose(f);
	return rc;
}

/*
 * keys.h - key files of dipc-bridge (keys.c says what is refused).
 */
#ifndef DIPC_BRIDGE_KEYS_H
#define DIPC_BRIDGE_KEYS_H

#include "transport.h"

#include <stdbool.h>
#include <stddef.h>

int keys_load_pair(const char *path, char pub[TP_KEY_TEXT], char sec[TP_KEY_TEXT]);
/* A new key pair in a new file (mode 0600); prints the public key. */
int keys_write_pair(const char *path);
/* Append the public keys of the file to *out (*n of them). */
int keys_load_list(const char *path, char (**out)[TP_KEY_TEXT], size_t *n);
/* fn(endpoint, key or NULL) for each peer line; stops at the first failure. */
int keys_load_peers(const char *path, int (*fn)(const char *endpoint, const char *key));

#endif

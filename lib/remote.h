/*
 * remote.h - channels of other hosts, reached through the local
 * dipc-bridge (remote.c; the gateway protocol is in gateway.h).
 *
 * A channel handle whose descriptor names another host has a remote
 * part and no ring: channel.c sends every operation on it here, before
 * touching the ring, and nowhere else.
 */
#ifndef DIPC_REMOTE_H
#define DIPC_REMOTE_H

#include "pool.h"

struct dipc_remote;

/* Attach the channel that the descriptor (of another host) names: ask
 * the local bridge whether it exists.  DIPC_EFOREIGN when no bridge runs
 * for this user (logged, with the gateway's name). */
int remote_attach(const unsigned char *ser, size_t len, dipc_channel **out);
/* Free the remote part (the handle itself is the caller's). */
void remote_free(struct dipc_remote *r);
int remote_serialize(const dipc_channel *ch, void *buf, size_t len);
int remote_count(const dipc_channel *ch);
int remote_poll(dipc_channel *ch, int events, int64_t timeout_ns);
/* A copy of len bytes; 0 only once it is in the remote channel. */
int remote_send(dipc_channel *ch, const void *buf, size_t len, int64_t timeout_ns);
/* Into buf (cap bytes), or, with buf NULL and msg not NULL, into a new
 * allocation of the gateway pool given to msg. */
int remote_recv(dipc_channel *ch, void *buf, size_t cap, size_t *len, dipc_msg *msg,
		int64_t timeout_ns);

/* dipc_sendh_send: the payload travels as a copy; the allocation that
 * would have travelled (msg's with DIPC_TRANSFER_ON_SEND, or dest's) is
 * freed and its message left empty only once the send succeeded. */
int remote_send_msg(dipc_channel *ch, dipc_msg *msg, dipc_msg *dest, int ownership,
		    int64_t timeout_ns);
/* dipc_recvh_recv: into msg's allocation, or a new one in the gateway
 * pool for an empty msg. */
int remote_recv_msg(dipc_channel *ch, dipc_msg *msg, int64_t timeout_ns);

#endif

/*
 * state.h - what the owning side of a bridge keeps across its own death.
 *
 * A table of records in a shared-memory segment of the bridge's own
 * (/dev/shm/dipc-bridge.<gateway>.state, mode 0600), which outlives the
 * process: a bridge killed and started again maps it and finds, for each
 * request it did, what it did.  One record per request id (client, id):
 *
 *   SEND_DOING  the send is being committed now; found so after a
 *               restart it becomes UNKNOWN (the send may or may not be in
 *               the channel: its caller is told DIPC_EPEERCLOSED, never
 *               success);
 *   SEND_DONE   the send's outcome (rc), told again to a repeated request;
 *   HELD        a message a receive took for its caller, kept (in a block
 *               of the channel's pool, named by desc and mem) until the
 *               caller says it has it (ACK) or gave up (CANCEL);
 *   RETURNED    such a message given back: the next remote receive of the
 *               channel gets it first;
 *   CANCELLED   the caller gave up before anything was done: a late copy
 *               of the request is not done.
 *
 * The state word is written last (release) when a record is made and
 * first when it is freed, so a record found after a crash is whole or
 * free.  Records are freed when their caller says every id below some
 * value is settled, or when they grow old (state_sweep).
 */
#ifndef DIPC_BRIDGE_STATE_H
#define DIPC_BRIDGE_STATE_H

#include <dragonipc.h>
#include <stdatomic.h>
#include <stdint.h>

enum { S_FREE = 0, S_SEND_DOING, S_SEND_DONE, S_HELD, S_RETURNED, S_CANCELLED, S_UNKNOWN,
       S_REQUEUE };

#define S_MEM_MAX 192

struct srec {
	_Atomic uint32_t state;
	int32_t rc;
	uint64_t client, id;
	uint64_t stamp;         /* monotonic ns of the last change */
	uint64_t order;         /* RETURNED: when it was given back */
	uint64_t len;           /* HELD, RETURNED: payload bytes */
	uint16_t desc_len, mem_len;
	uint32_t pad;
	unsigned char desc[DIPC_SERIAL_MAX];
	unsigned char mem[S_MEM_MAX];
};

/* Map (or make) the table; a found one is checked and indexed, and its
 * SEND_DOING records become UNKNOWN.  Returns 0 or -1 (message printed). */
int state_open(const char *gateway);
void state_close(int unlink_it);
void state_lock(void);
void state_unlock(void);
/* The rest under state_lock. */
struct srec *state_find(uint64_t client, uint64_t id);
/* A new record for (client, id) in state st; NULL when the table is full. */
struct srec *state_new(uint64_t client, uint64_t id, uint32_t st);
void state_set(struct srec *r, uint32_t st);
/* Give the record a new owner id (a returned message handed to another
 * receive). */
void state_rekey(struct srec *r, uint64_t client, uint64_t id);
void state_free(struct srec *r);
/* The caller client has settled every id below low. */
void state_note_low(uint64_t client, uint64_t low);
/* Free settled and old outcome records; call fn on every HELD, RETURNED
 * record (for the owner's own time limits). */
void state_sweep(uint64_t now, uint64_t ttl_ns);
/* Call fn on every record in use (after state_open: to rebuild). */
void state_each(void (*fn)(struct srec *r, void *arg), void *arg);
unsigned state_used(void);
/* The request channel of the gateway this bridge made (kept for the next
 * run, which reads what was left in it: gateway.c). */
int state_gateway_get(unsigned char *desc, size_t *len);
void state_gateway_set(const unsigned char *desc, size_t len);

#endif

/*
 * msg.c - messages: a payload size, maybe the pool memory behind it, and
 * two attribute words that travel with it (the sender's are written into
 * the channel slot beside the payload's length and read once by the
 * receiver with the rest of the slot, channel.c).
 */
#include "pool.h"

#include <stdlib.h>


static dipc_msg *msg_new(void)
{
	dipc_msg *m = dipc_handle_new(sizeof(*m));
	if (m)
		atomic_store_explicit(&m->magic, DIPC_MAGIC_MSG, memory_order_relaxed);
	return m;
}

int dipc_msg_create_empty(dipc_msg **msg)
{
	if (!msg)
		return DIPC_EINVAL;
	*msg = msg_new();
	return *msg ? 0 : DIPC_ENOMEM;
}

int dipc_msg_create_alloc(dipc_pool *pool, size_t size, dipc_msg **msg)
{
	if (!msg)
		return DIPC_EINVAL;
	*msg = NULL;
	dipc_mem *mem;
	int rc = dipc_pool_alloc(pool, size, &mem);
	if (rc)
		return rc;
	rc = dipc_msg_create_from_mem(mem, msg);
	if (rc)
		dipc_mem_free(mem);
	return rc;
}

int dipc_msg_create_from_mem(dipc_mem *mem, dipc_msg **msg)
{
	if (!msg)
		return DIPC_EINVAL;
	*msg = NULL;
	/* A handle of its own only: one a message holds stays with it. */
	if (!DIPC_LIVE(mem, DIPC_MAGIC_MEM) || !pool_ok(mem->pool))
		return DIPC_EINVAL;
	dipc_msg *m = msg_new();
	if (!m)
		return DIPC_ENOMEM;
	/* The message takes the handle over: from now on it is the
	 * message's, freed with it, and refused by dipc_mem_free. */
	atomic_store_explicit(&mem->magic, DIPC_MAGIC_MEM_MSG, memory_order_relaxed);
	m->mem = mem;
	m->size = mem->size;
	*msg = m;
	return 0;
}

int dipc_msg_get(const dipc_msg *msg, void **ptr, size_t *size)
{
	if (!msg_ok(msg))
		return DIPC_EINVAL;
	if (ptr)
		*ptr = msg->mem ? pool_ptr(msg->mem->pool, msg->mem->off) : NULL;
	if (size)
		*size = msg->mem ? (size_t)msg->size : 0;
	return 0;
}

int dipc_msg_mem(const dipc_msg *msg, dipc_mem **mem)
{
	if (!msg_ok(msg) || !mem)
		return DIPC_EINVAL;
	*mem = msg->mem;
	return msg->mem ? 0 : DIPC_EINVAL;
}

int dipc_msg_destroy(dipc_msg *msg, int free_mem)
{
	if (!DIPC_LIVE(msg, DIPC_MAGIC_MSG))
		return DIPC_EINVAL;
	int rc = 0;
	if (msg->mem) {
		if (free_mem)
			rc = pool_ok(msg->mem->pool) ? pool_free_raw(msg->mem->pool, msg->mem->blk)
						     : DIPC_EDESTROYED;
		msg_drop_mem(msg);
	}
	dipc_handle_retire(msg, &msg->magic);
	return rc;
}

/* The attributes are the message's own: neither the memory behind it nor
 * the pool handle matter, so a message whose pool was detached still
 * reports them. */
int dipc_msg_set_attr(dipc_msg *msg, int attr, uint64_t value)
{
	if (!DIPC_LIVE(msg, DIPC_MAGIC_MSG) || attr < DIPC_MSG_HINTS || attr > DIPC_MSG_CLIENTID)
		return DIPC_EINVAL;
	msg->attr[attr] = value;
	return 0;
}

int dipc_msg_attr(const dipc_msg *msg, int attr, uint64_t *value)
{
	if (value)
		*value = 0;
	if (!DIPC_LIVE(msg, DIPC_MAGIC_MSG) || attr < DIPC_MSG_HINTS || attr > DIPC_MSG_CLIENTID ||
	    !value)
		return DIPC_EINVAL;
	*value = msg->attr[attr];
	return 0;
}

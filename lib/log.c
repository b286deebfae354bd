/*
 * log.c - the library's log: off by default, to stderr or a callback.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

atomic_int dipc_log_level_ = DIPC_LOG_DISABLE;

static dipc_spinlock handler_lock = DIPC_SPINLOCK_INIT;
static dipc_log_fn handler;
static void *handler_arg;

int dipc_log_set_level(int level)
{
	if (level < DIPC_LOG_DISABLE || level > DIPC_LOG_ALL)
		return DIPC_EINVAL;
	atomic_store(&dipc_log_level_, level);
	return 0;
}

int dipc_log_get_level(void)
{
	return atomic_load(&dipc_log_level_);
}

int dipc_log_set_handler(dipc_log_fn fn, void *arg)
{
	dipc_spin_lock(&handler_lock);
	handler = fn;
	handler_arg = arg;
	dipc_spin_unlock(&handler_lock);
	return 0;
}

void dipc_log(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	dipc_spin_lock(&handler_lock);
	dipc_log_fn fn = handler;
	void *arg = handler_arg;
	dipc_spin_unlock(&handler_lock);
	if (fn)
		fn(level, line, arg);
	else
		fprintf(stderr, "dragonipc[%u]: %s\n", (unsigned)dipc_os_pid(), line);
}

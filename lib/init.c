/*
 * init.c - library-wide set-up and tear-down (smipc's init_library and
 * clean_library map onto these).
 *
 * Nothing needs dipc_init: every piece of library-wide state starts in a
 * usable form.  dipc_init only sets the log level.  dipc_cleanup closes
 * the streams this process still has open (see stream.c for what then
 * happens to their handles), lets go of the pools mapped only to ring
 * channel sets' bells (channelset.c), and puts logging back to its
 * defaults.  It
 * must not run while other threads use streams, and it refuses to run
 * from a listener callback (it would have to join that very thread).
 */
#include "stream.h"
#include "channel.h"

int dipc_init(int log_level)
{
	return dipc_log_set_level(log_level);
}

int dipc_cleanup(void)
{
	int n = dipc_stream_close_all_();
	if (n < 0)
		return n;
	if (n)
		DIPC_LOG(DIPC_LOG_BASIC, "cleanup closed %d open stream%s", n,
			 n == 1 ? "" : "s");
	chset_cleanup();
	dipc_log_set_level(DIPC_LOG_DISABLE);
	dipc_log_set_handler(NULL, NULL);
	return 0;
}

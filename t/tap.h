/*
 * tap.h - the Test Anything Protocol for the C tests, in one header.
 *
 *   plan(n);  ok(cond, "name", ...);  is_int(got, want, "name", ...);
 *   diag("...");  skip_all("reason");  return done_testing();
 */
#ifndef DIPC_TAP_H
#define DIPC_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run_, tap_failed_, tap_planned_ = -1;

static inline void tap_vprint_(const char *fmt, va_list ap)
{
	vprintf(fmt, ap);
}

static inline void plan(int n)
{
	tap_planned_ = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(0);
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	tap_vprint_(fmt, ap);
	fputs("\n", stdout);
	va_end(ap);
	fflush(stdout);
}

static inline int ok_(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_run_++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run_);
	va_start(ap, fmt);
	tap_vprint_(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed_++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}
#define ok(cond, ...) ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok_(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#   got %lld, want %lld\n", g_, w_); \
} while (0)

static inline void skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++) {
		tap_run_++;
		printf("ok %d # SKIP %s\n", tap_run_, reason);
	}
	fflush(stdout);
}

static inline void bail_out(const char *reason)
{
	printf("Bail out! %s\n", reason);
	fflush(stdout);
	exit(255);
}

static inline int done_testing(void)
{
	if (tap_planned_ < 0)
		printf("1..%d\n", tap_run_);
	else if (tap_planned_ != tap_run_)
		printf("# planned %d tests but ran %d\n", tap_planned_, tap_run_);
	fflush(stdout);
	return (tap_failed_ || (tap_planned_ >= 0 && tap_planned_ != tap_run_)) ? 1 : 0;
}

#endif

/*
 * torture_common.h - what the torture tests (torture.c, torture_ns.c)
 * share: to say what went wrong, report() counts an unexpected result
 * and keeps the first MAX_REPORTS of them (from any thread),
 * report_end() prints them and fails the test with its seed, errname()
 * names a result; and their randomness, a xorshift generator per thread
 * (rnd_next, rnd), replayable from the seed.  Included once per test
 * program (static state).  Needs cmocka.h before it.
 */
#ifndef UVFS_TORTURE_COMMON_H
#define UVFS_TORTURE_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_REPORTS 32
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static char reports[MAX_REPORTS][320];          /* report_lock */
static unsigned nreports, nunexpected;          /* report_lock */

static void report(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	nunexpected++;
	if (nreports < MAX_REPORTS) {
		va_start(ap, fmt);
		vsnprintf(reports[nreports++], sizeof(reports[0]), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&report_lock);
}

/* After every thread is joined: the test fails if anything was
 * reported. */
static void report_end(unsigned long long seed)
{
	if (!nunexpected)
		return;
	for (unsigned k = 0; k < nreports; k++)
		print_error("    unexpected: %s\n", reports[k]);
	fail_msg("%u unexpected results (seed %llu)", nunexpected, seed);
}

/* r as a number, or as the errno's name (-EIO) when negative. */
static const char *errname(long r)
{
	static _Thread_local char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%ld", r);
	else
		snprintf(buf, sizeof(buf), "-%s",
			 strerrorname_np((int)-r) ? strerrorname_np((int)-r) :
			 "?");
	return buf;
}

/* xorshift64*: the next number of the sequence in *s (not 0). */
static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A number below n. */
static unsigned rnd(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd_next(s) >> 33) % n;
}

#endif

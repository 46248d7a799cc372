/*
 * test_clock.h - the tests' clock: milliseconds on the monotonic clock
 * (now_ms, to time a call against a bound) and a sleep of so many
 * milliseconds (sleep_ms).  Header-only; nothing to set up.
 */
#ifndef UVFS_TEST_CLOCK_H
#define UVFS_TEST_CLOCK_H

#include <time.h>

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#endif

/*
 * deadline.h - absolute CLOCK_MONOTONIC deadlines and the condition
 * variables that wait for them, shared by every layer (the core, the
 * remote session and its protocols, the server library).  Header only;
 * no objects.
 *
 * A wait with a deadline is: cond_init_monotonic() once for the condition
 * variable, deadline_in() for the deadline, pthread_cond_timedwait() with
 * it.  A condition variable left on the default clock (CLOCK_REALTIME)
 * would time out early or late when the wall clock is set.
 */
#ifndef UVFS_UTIL_DEADLINE_H
#define UVFS_UTIL_DEADLINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Initialises cv with its timed waits measured on CLOCK_MONOTONIC (the
 * clock of every deadline below).  pthread_cond_destroy releases it. */
static inline void cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* *ts += ms (ms >= 0), whatever the clock ts was read from. */
static inline void ts_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* *ts = now + ms. */
static inline void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts_add_ms(ts, ms);
}

/* CLOCK_MONOTONIC now, in nanoseconds. */
static inline uint64_t mono_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Milliseconds left until dl (0 if passed), rounded up. */
static inline int ms_left(const struct timespec *dl)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(dl->tv_sec - now.tv_sec) * 1000000000LL +
	     (dl->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int)((ns + 999999) / 1000000);
}

static inline long long ts_ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* The earlier of a and b. */
static inline struct timespec deadline_min(struct timespec a,
					   struct timespec b)
{
	return ts_ns(&a) <= ts_ns(&b) ? a : b;
}

#endif /* UVFS_UTIL_DEADLINE_H */

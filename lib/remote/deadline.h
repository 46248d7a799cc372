/*
 * deadline.h - absolute CLOCK_MONOTONIC deadlines, shared by the remote
 * layer and its protocols.  Header only; no objects.
 */
#ifndef UVFS_REMOTE_DEADLINE_H
#define UVFS_REMOTE_DEADLINE_H

#include <time.h>

/* *ts = now + ms. */
static inline void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
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

#endif /* UVFS_REMOTE_DEADLINE_H */

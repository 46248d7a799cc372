/*
 * bench_common.h - helpers shared by the benchmark programs.
 *
 * Output format (read by bench/run): one line per figure,
 *
 *     name value unit baseline ratio target
 *
 * separated by single spaces, "-" for a missing field; ratio is
 * value / baseline.  Lines starting with '#' are notes.  Every value and
 * every baseline is the median of several repetitions measured in the same
 * run (interleaved where that is possible), so that a noisy machine moves
 * both alike.
 */
#ifndef UVFS_BENCH_COMMON_H
#define UVFS_BENCH_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void bench_sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	while (nanosleep(&ts, &ts) != 0)
		;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v in place. */
static inline void bench_sort(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
}

/* The median of v[0..n); v is left sorted. */
static inline double bench_median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	bench_sort(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* The p-quantile (0..1, nearest rank) of v[0..n); v is left sorted. */
static inline double bench_quantile(double *v, int n, double p)
{
	if (n <= 0)
		return NAN;
	bench_sort(v, n);
	int k = (int)ceil(p * n) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static inline void bench_fmt(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else if (fabs(v) >= 1e5)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.4g", v);
}

/* One figure line; baseline NAN means none (ratio "-"); target may be
 * NULL. */
static inline void bench_figure(const char *name, double value,
				const char *unit, double baseline,
				const char *target)
{
	char v[64], b[64], r[64];

	bench_fmt(v, sizeof(v), value);
	bench_fmt(b, sizeof(b), baseline);
	if (isnan(baseline) || baseline == 0.0)
		snprintf(r, sizeof(r), "-");
	else
		snprintf(r, sizeof(r), "%.3f", value / baseline);
	printf("%s %s %s %s %s %s\n", name, v, unit, b, r,
	       target ? target : "-");
	fflush(stdout);
}

static inline int bench_atoi(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 100000000) {
		fprintf(stderr, "bench: bad %s: %s\n", what, s);
		exit(2);
	}
	return (int)v;
}

#define BENCH_CHECK(expr)                                                   \
	do {                                                                \
		long _r = (long)(expr);                                     \
		if (_r < 0) {                                               \
			fprintf(stderr, "bench: %s:%d: %s: %s\n", __FILE__, \
				__LINE__, #expr, strerror((int)-_r));       \
			exit(1);                                            \
		}                                                           \
	} while (0)

#endif /* UVFS_BENCH_COMMON_H */

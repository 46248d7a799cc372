/*
 * proc_wait.h - small helpers shared by the tests that stop and time file
 * servers (test_recovery.c; tests/net/ has the shell twins in lib.sh).
 *
 *   proc_wait_stopped(pid): kill(pid, SIGSTOP) returns before a thread of
 *   a multi-threaded server that is running on another CPU has taken the
 *   signal, and such a thread can still answer a request.  This waits
 *   (up to 5 s) until every thread in /proc/PID/task is in state 'T' (or
 *   't'); false if that did not happen.
 *
 *   test_bound_ms(ms): a wall-clock bound for an assertion, scaled for the
 *   build: ThreadSanitizer makes everything 5-15x slower, so a bound that
 *   says "not the deadline, returns at once" gets 5x there.  The bound
 *   still fails a caller that waits a whole deadline when the deadline is
 *   longer than the scaled bound (the tests choose it so).
 */
#ifndef UVFS_TEST_PROC_WAIT_H
#define UVFS_TEST_PROC_WAIT_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif
#ifndef TEST_UNDER_TSAN
#define TEST_UNDER_TSAN 0
#endif

static inline long test_bound_ms(long ms)
{
	return TEST_UNDER_TSAN ? 5 * ms : ms;
}

/* Every thread of pid in state T/t (a thread that exited is no answer). */
static inline bool proc_all_stopped(pid_t pid)
{
	char dir[64];
	DIR *d;
	struct dirent *de;
	bool all = true;
	int seen = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d)) != NULL) {
		char path[384], buf[512], *p;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/stat", dir, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "pid (comm) S ...": comm may hold spaces and ')' */
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		seen++;
		if (!p || p[1] != ' ' || (p[2] != 'T' && p[2] != 't'))
			all = false;
	}
	closedir(d);
	return all && seen > 0;
}

static inline bool proc_wait_stopped(pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		if (proc_all_stopped(pid))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

#endif /* UVFS_TEST_PROC_WAIT_H */

/*
 * times.c - which times a call changed (docs/differences.md, "Times"):
 * around one call, for each file the call names, whether its atime,
 * mtime and ctime moved.  Not the values (the two sides' clocks and
 * the moments differ), only "changed or not", which POSIX fixes for each
 * call (write: mtime and ctime; chmod: ctime; creating a name: the
 * directory's mtime and ctime...).
 *
 * The files: the call's path (lstat), its directory, the second path of
 * a rename or link and its directory, the call's descriptors (fstat).
 * Not what a path names through a symlink: a stat that follows one is
 * an access of the symlink (its atime moves, as relatime has it, and a
 * call after it then finds it accessed), so it would change what it
 * observes.  (A symlink in the middle of a path is followed all the
 * same: its atime is observed only where the sequence names it.)  A file is the same before
 * and after if its device and inode numbers are (a rename's moved file
 * is found at its new name); one that was not there before, or is gone
 * after, is left out.
 *
 * So that a change cannot hide in one tick of a coarse clock (a time
 * set to "now" that equals the time it had), times_before waits until
 * CLOCK_REALTIME_COARSE is past every time it saw (at most TICK_WAIT_MS:
 * times in the future are not waited for).
 *
 * Lifecycle: a struct times_obs lives on the caller's stack for one
 * call; nothing is allocated.  Single-threaded (the run's child).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"

#define TICK_WAIT_MS 50

enum { T_P1, T_D1, T_P2, T_D2, T_FD, T_FD2, T_N };
_Static_assert(T_N == TIMES_OBJS, "diff.h's TIMES_OBJS");
static const char *const tag[T_N] = { "p1", "d1", "p2", "d2", "fd", "fd2" };

static int uses_fd(enum op op)
{
	switch (op) {
	case OP_READ: case OP_WRITE: case OP_PREAD: case OP_PWRITE:
	case OP_LSEEK: case OP_FTRUNCATE: case OP_FCHMOD: case OP_FCHOWN:
	case OP_FSTAT: case OP_FALLOCATE: case OP_COPY_RANGE:
		return 1;
	default:
		return 0;
	}
}

static void dir_of(const char *p, char *out, size_t len)
{
	const char *s = strrchr(p, '/');

	if (!s)
		snprintf(out, len, ".");
	else
		snprintf(out, len, "%.*s", (int)(s - p), p);
}

/* the files c names, stat'ed now (ok[i] 0 where there is none) */
static void observe(const struct call *c, const int *fds, struct stat *st,
		    int *ok)
{
	char d[SEQ_PATH_MAX];
	int two = c->op == OP_RENAME || c->op == OP_LINK;

	memset(ok, 0, sizeof(int) * T_N);
	if (c->p1[0] && !uses_fd(c->op) && c->op != OP_CLOSE) {
		ok[T_P1] = lstat(c->p1, &st[T_P1]) == 0;
		dir_of(c->p1, d, sizeof(d));
		ok[T_D1] = lstat(d, &st[T_D1]) == 0;
	}
	if (two) {
		char d1[SEQ_PATH_MAX];
		ok[T_P2] = lstat(c->p2, &st[T_P2]) == 0;
		dir_of(c->p1, d1, sizeof(d1));
		dir_of(c->p2, d, sizeof(d));
		if (strcmp(d, d1) != 0)
			ok[T_D2] = lstat(d, &st[T_D2]) == 0;
	}
	if (uses_fd(c->op) && fds[0] >= 0)
		ok[T_FD] = fstat(fds[0], &st[T_FD]) == 0;
	if (c->op == OP_COPY_RANGE && fds[1] >= 0 && fds[1] != fds[0])
		ok[T_FD2] = fstat(fds[1], &st[T_FD2]) == 0;
}

static int ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

void times_before(const struct call *c, const int *fds, struct times_obs *t)
{
	struct timespec latest = { 0, 0 }, now, limit, pause = { 0, 200000 };

	observe(c, fds, t->st, t->ok);
	for (int i = 0; i < T_N; i++) {
		if (!t->ok[i])
			continue;
		const struct timespec *ts[3] = { &t->st[i].st_atim,
						 &t->st[i].st_mtim,
						 &t->st[i].st_ctim };
		for (int k = 0; k < 3; k++)
			if (ts_after(ts[k], &latest))
				latest = *ts[k];
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	limit = now;
	limit.tv_nsec += TICK_WAIT_MS * 1000000L;
	if (limit.tv_nsec >= 1000000000L) {
		limit.tv_sec++;
		limit.tv_nsec -= 1000000000L;
	}
	if (ts_after(&latest, &limit))
		return;         /* a time in the future: not waited for */
	while (!ts_after(&now, &latest)) {
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
	}
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

void times_after(const struct call *c, const int *fds,
		 const struct times_obs *t, char *out, size_t len)
{
	struct stat st[T_N];
	int ok[T_N];
	size_t off = 0;

	observe(c, fds, st, ok);
	out[0] = 0;
	for (int i = 0; i < T_N; i++) {
		const struct stat *a = &t->st[i], *b = NULL;
		if (!t->ok[i])
			continue;
		if (ok[i] && same_file(a, &st[i]))
			b = &st[i];
		for (int j = 0; !b && j < T_N; j++)
			if (ok[j] && same_file(a, &st[j]))
				b = &st[j];
		if (!b)
			continue;       /* gone, or not named any more */
		char f[4] = "", *p = f;
		if (ts_after(&b->st_atim, &a->st_atim) ||
		    ts_after(&a->st_atim, &b->st_atim))
			*p++ = 'a';
		if (ts_after(&b->st_mtim, &a->st_mtim) ||
		    ts_after(&a->st_mtim, &b->st_mtim))
			*p++ = 'm';
		if (ts_after(&b->st_ctim, &a->st_ctim) ||
		    ts_after(&a->st_ctim, &b->st_ctim))
			*p++ = 'c';
		if (p == f)
			*p++ = '-';
		*p = 0;
		if (off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%s:%s",
						off ? " " : "", tag[i], f);
	}
}

/*
 * proc.h - server processes a session runs itself (docs/session.md,
 * "Server processes"): spawn on a socketpair, a pidfd to notice the
 * death, reap with a grace period and a bound, and a restart limit.  Per
 * instance: each supervised mount owns its struct rproc_limit and the pid
 * it was given; the only list here is of the servers that did not exit
 * at SIGKILL, reaped in the background.  Knows no protocol.
 */
#ifndef UVFS_REMOTE_PROC_H
#define UVFS_REMOTE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Spawns argv[0] (a path) with one end of a new socketpair as its stdin
 * and stdout and nothing else of ours (glibc >= 2.34), default signal
 * dispositions for TERM/INT/HUP/USR2 and an empty mask.  0 and *pid, *fd
 * (our end: non-blocking, close-on-exec) and *pidfd (-1 if the kernel has
 * no pidfd_open: then only EOF tells the death); or a negative errno. */
int rproc_spawn(char *const argv[], pid_t *pid, int *fd, int *pidfd);

/* After SIGKILL, the longest rproc_reap waits for the exit; and how often
 * the background reaper looks at the servers that had not exited by
 * then. */
#define RPROC_KILL_WAIT_MS 200
#define RPROC_STUCK_POLL_MS 50

/* Reaps pid: waits up to grace_ms for it to exit by itself (it does at
 * EOF), then SIGKILLs it and waits up to RPROC_KILL_WAIT_MS more: it
 * returns within grace_ms + RPROC_KILL_WAIT_MS whatever the process does.
 * One that has not exited by then (uninterruptible sleep: a hung mount, a
 * FUSE request, a dead disk) is reaped in the background whenever it
 * exits (one thread of this file's, while any are left), never signalled
 * again.  A pid that is not our child any more (reaped already: the
 * embedding program ignores SIGCHLD) is left alone: no wait, no signal
 * (its number may be another process's now).  pid 0: nothing to reap,
 * but the background's exited servers are reaped now. */
void rproc_reap(pid_t pid, int grace_ms);

/* The restart limit: at most max starts within window_ms (max < 0: no
 * limit). */
struct rproc_limit {
	long max, window_ms;            /* const */
	struct timespec *stamps;        /* the owner's: recent starts */
	size_t n;
};
int rproc_limit_init(struct rproc_limit *l, long max, long window_ms);
void rproc_limit_fini(struct rproc_limit *l);
/* Another start allowed now?  Records it if so. */
bool rproc_limit_take(struct rproc_limit *l);

/* Capped exponential backoff between attempts. */
struct rproc_backoff {
	int min_ms, max_ms, cur_ms;
};
/* The wait before the next attempt (and doubles the one after). */
int rproc_backoff_next(struct rproc_backoff *b);
void rproc_backoff_reset(struct rproc_backoff *b);

/* A server binary: next to the running program, else in PATH, else
 * /usr/sbin.  0 and out, or -ENOENT. */
int rproc_find(const char *name, char *out, size_t size);

#endif /* UVFS_REMOTE_PROC_H */

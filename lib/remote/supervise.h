/*
 * supervise.h - the supervisor of a remote session (docs/session.md,
 * docs/recovery.md): after a loss it tears the old session down (reader,
 * link, the server process if it spawned one), keeps the restart limit,
 * backs off, and opens sessions until one is rebuilt, the limit is
 * reached (dead) or the mount goes.  Protocol-free: a protocol says how
 * to start a link (spawn a server or connect), its handshake and how to
 * rebuild its state on the new session.
 *
 * One struct rs_super per supervised mount (no table of them), embedded
 * in the protocol's own supervisor object; its thread runs from
 * rs_super_start to rs_super_stop.  Fields marked "lock" are under the
 * session's lock.
 */
#ifndef UVFS_REMOTE_SUPERVISE_H
#define UVFS_REMOTE_SUPERVISE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "session.h"

#define RS_BACKOFF_MIN_MS 10
#define RS_BACKOFF_MAX_MS 1000

struct rs_super;

struct rs_super_ops {
	/* A new link for the session (rs_super_set_link): spawn the server
	 * or connect, within timeout_ms.  0, or why not (nothing to lose
	 * then). */
	int (*start)(struct rs_super *sv, int timeout_ms);
	/* The handshake on the new link, before its reader runs: 0;
	 * -EPROTO or -EPROTONOSUPPORT when the server answers otherwise
	 * than at mount (fatal if it cannot be restarted: reconnect); else
	 * the attempt failed. */
	int (*handshake)(struct rs_super *sv);
	/* The protocol's state rebuilt on session gen (its reader runs):
	 * 0, or the attempt failed. */
	int (*rebuild)(struct rs_super *sv, uint64_t gen);
	/* After a recovery, no lock held. */
	void (*recovered)(struct rs_super *sv);
};

struct rs_super {
	struct rs_session *s;           /* const */
	const struct rs_super_ops *ops; /* const */
	const char *type, *source;      /* const: for messages */
	bool reconnect;                 /* const: sessions are connections
					 * (no process of ours); a handshake
					 * mismatch is fatal */
	struct rproc_limit limit;       /* the thread's: restarts= window= */
	pid_t pid;                      /* lock: the server, 0 none */
	bool stop;                      /* lock: unmount */
	pthread_t thread;
	bool started;
	unsigned long nrestarts;        /* lock: sessions opened */
	uint64_t last_recovery_ns;      /* lock: loss to rebuilt */
};

/* Installs a new session's link (and the server's pid and pidfd, or 0 and
 * -1) and counts the session opened. */
void rs_super_set_link(struct rs_super *sv, struct rt_link l, pid_t pid,
		       int pidfd);
/* The thread; the session becomes supervised (losses are recovered). */
int rs_super_start(struct rs_super *sv);
/* Unmount: the thread stops (a recovery in progress is abandoned: the
 * session is killed); later losses are kills. */
void rs_super_stop(struct rs_super *sv);
/* After a loss (or at unmount): no reader, link or server process left
 * of the old session; the server gets grace_ms to exit by itself. */
void rs_super_teardown(struct rs_super *sv, int grace_ms);

#endif /* UVFS_REMOTE_SUPERVISE_H */

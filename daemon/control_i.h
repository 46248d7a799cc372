/*
 * control_i.h - the control socket's private structures, shared by
 * control.c (setup, requests, the device table, shutdown), conn.c (the
 * connections) and holders.c (the records of a busy reply).  The locks
 * are described in control.c.
 */
#ifndef UVFSD_CONTROL_I_H
#define UVFSD_CONTROL_I_H

#include "control.h"
#include "ctl.h"
#include "uvfs_fuse.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_CONNS 32              /* connections served at once */
#define MAX_CONNS_PER_UID 16      /* of them, per peer uid */
#define MAX_SPARE 8               /* past the caps, for what ends waits */
#define REQUEST_TIMEOUT_MS 5000   /* to send a whole request line */
#define REPLY_TIMEOUT_MS 5000     /* to take the whole reply */
#define DRAIN_MS 200              /* reading what follows the request */
#define DRAIN_MAX (64u << 10)
#define MAX_PROCS 256     /* process records per holders reply */

/* A file system mounted through the socket: its device number, for the
 * invalidation after a forced unmount, and its mount's id in the
 * library's list (0: not known), which tells whether it is still there. */
struct mdev {
	char *target;
	dev_t dev;
	uint64_t id;
};

/* One connection, from accept to close.  Lock: c->lock for the links and
 * evicted; fd, uid, pid and the deadline are constant. */
struct conn {
	struct control *c;
	int fd;
	uid_t uid;              /* the peer's (SO_PEERCRED) */
	pid_t pid;
	int64_t deadline;       /* ms (CLOCK_MONOTONIC): the whole request */
	bool reading;           /* c->lock: still reading its request */
	bool evicted;           /* c->lock: dropped for a newer client */
	bool spare;             /* admitted past the caps (constant):
				   served only a control_spare_request */
	struct conn *prev, *next;
};

struct control {
	char *path;
	int lfd;                 /* listening; -1 once control_stop closed it */
	int wake[2];             /* self-pipe: stop accepting */
	pthread_t acceptor;
	int started;
	struct uvfs *u;
	struct uvfs_fuse *uf;
	char *fuse_mnt;
	char stranger_msg[96];   /* the refusal of another uid (constant) */

	pthread_mutex_t lock;
	pthread_cond_t idle;
	int nconns;              /* lock: threads serving, evicted included */
	int nspare;              /* lock: of them, spare ones */
	struct conn conns;       /* lock: sentinel; oldest first */
	struct mdev *devs;       /* lock */
	size_t ndevs, capdevs;   /* lock */

	pthread_mutex_t op;
};
/* holders.c: the error reply, host paths, the records of a busy reply */
void control_reply_error(struct sbuf *r, int err, const char *msg);
/* The status line, "ok" or the error (msg NULL: strerror), then the
 * records (NULL: none). */
void control_reply(struct sbuf *r, int err, const char *msg,
		   const struct sbuf *records);
void control_host_path(struct control *c, const char *ns, char *out,
		       size_t size);
/* How many processes (uvfsd not counted) have their working directory or
 * root at or below the host path (which reach the library only as the
 * kernel's node holds; their open files it holds itself). */
size_t control_cwds_below(const char *path);
/* The mount is named by id when it is not 0 (target is then its name
 * in the mount list, for the host records), else by target. */
int control_add_holders(struct control *c, struct uvfs_ctx *ctx,
			const char *target, uint64_t id, pid_t peer,
			struct sbuf *r);
/* => how many hold target (or the mount id, if not 0); *nodes_only: all
 * of them are nodes (in uvfsd every node is the kernel's lookups, which
 * its FORGETs give back) */
size_t control_holder_count(struct uvfs_ctx *ctx, const char *target,
			    uint64_t id, bool *nodes_only);
size_t control_requests_below(struct control *c, const char *target);
/* How many FUSE requests wait for their mount's share of the workers
 * (fuse/loop.c): not begun, so in no list of requests. */
uint64_t control_queued(struct control *c);

/* control.c: may a spare connection (every slot busy) carry out this
 * request line?  Only what ends waits on a suspended or hung mount (a
 * resume, a forced unmount) or answers without entering a file system
 * (ping, info, mounts, stats, servers, shutdown). */
bool control_spare_request(const char *line);
/* control.c: one request line, answered into r */
void control_dispatch(struct control *c, char *line, pid_t peer,
		      struct sbuf *r);

#endif

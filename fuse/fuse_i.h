/*
 * fuse_i.h - the FUSE front end's private structures, shared by fuse.c
 * (the registry, the session, invalidation) and ops.c (the operations).
 * Each struct's legend says what protects each field.
 */
#ifndef UVFS_FUSE_I_H
#define UVFS_FUSE_I_H

#include "uvfs_fuse.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Entry and attribute timeouts, seconds (see "Caching" in fuse.c). */
#define TIMEOUT 1.0             /* file servers: changed behind us */
#define TIMEOUT_EXCL 3600.0     /* changed only through uvfs */
#define NSTRIPES 64
#define NBUCKETS 4096           /* per table; chained */
#define RQ_STRIPES 16           /* lists of requests in progress */

/* A node the kernel knows.  Lock: its stripe. */
struct kent {
	struct uvfs_node *nd;
	uint64_t count;         /* the kernel's lookup count */
	dev_t dev;
	struct kent *next;
};

/* An open file or directory handle (fi->fh).  Lock: uf->fh_lock for the
 * links; the rest is constant. */
struct fh {
	struct uvfs_file *f;
	int flags;              /* open flags */
	dev_t dev;              /* directories: for d_ino */
	atomic_bool kill_sgid;  /* setgid without group execute, opened for
				   writing by someone who may lose it */
	struct fh *prev, *next;
};

/* A request in progress (reqs.c): one per worker thread, linked while its
 * handler runs.  Lock: uf->rq_lock[stripe] while linked; the owner thread
 * fills it before linking. */
struct freq {
	struct uvfs_fuse *uf;           /* linked on its list; else NULL */
	pid_t pid;                      /* the caller (a thread id) */
	const char *op;                 /* "lookup", "getattr", ... */
	struct uvfs_node *nd;           /* the node it entered */
	int64_t start_ns;               /* CLOCK_MONOTONIC */
	unsigned stripe;
	struct freq *prev, *next;
};

struct uvfs_fuse {
	struct uvfs *u;
	struct fuse_session *se;
	struct uvfs_node *root;          /* our own hold */
	char *mountpoint;
	unsigned max_threads;
	unsigned want;                   /* conn->want after op_init; const */
	int writeback;                   /* asked for (-o writeback); const */
	pthread_t loop_thread;
	atomic_bool loop_done;

	pthread_mutex_t stripe[NSTRIPES];
	struct kent *bucket[NBUCKETS];   /* stripe[i % NSTRIPES] */

	pthread_mutex_t fh_lock;
	struct fh fh_list;               /* sentinel */

	pthread_mutex_t pool_lock;
	struct uvfs_ctx **pool;          /* idle contexts */
	size_t npool, cappool;

	dev_t root_dev;                  /* the root node's st_dev; const */

	pthread_mutex_t rq_lock[RQ_STRIPES];
	struct freq *rq[RQ_STRIPES];     /* rq_lock[i]: requests in progress */

	atomic_uint_least64_t nreq, nnodes, nlookups, nfiles, nforgets,
			      ninval;
};

/* The node id the kernel knows nd by. */
static inline fuse_ino_t ID(struct uvfs_fuse *uf, struct uvfs_node *nd)
{
	return nd == uf->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)nd;
}

/* fuse.c: the registry of the nodes the kernel knows. */
int known_add(struct uvfs_fuse *uf, struct uvfs_node *nd, dev_t dev);
uint64_t known_drop(struct uvfs_fuse *uf, struct uvfs_node *nd, uint64_t n);
/* The device recorded for nd, 0 if the kernel does not know it. */
dev_t known_dev(struct uvfs_fuse *uf, struct uvfs_node *nd);

/* reqs.c: the requests in progress.  req_begin records this thread's
 * request (op: a static string) until req_end. */
void req_begin(fuse_req_t req, struct uvfs_node *nd, const char *op);
void req_end(struct uvfs_fuse *uf);

/* ops.c: the operations table, and the release of an open handle. */
extern const struct fuse_lowlevel_ops uvfs_fuse_ops;
void fh_free(struct uvfs_fuse *uf, struct fh *h);

#endif

/*
 * fuse_i.h - the FUSE front end's private structures, shared by fuse.c
 * (the registry, the session, invalidation), ops.c (the operations on
 * names, attributes, directories), io.c (open files and their I/O),
 * locks.c and reqs.c, and the small helpers the operations share.
 * Each struct's legend says what protects each field.
 */
#ifndef UVFS_FUSE_I_H
#define UVFS_FUSE_I_H

#include "uvfs_fuse.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

/* Entry and attribute timeouts, seconds (see "Caching" in fuse.c). */
#define TIMEOUT 1.0             /* file servers: changed behind us */
#define TIMEOUT_EXCL 3600.0     /* changed only through uvfs */
#define NSTRIPES 64

/* A node the kernel knows: the node's owner word (uvfs_node_owner) points
 * to it.  Lock: its stripe (kstripe(nd)), for every field but the
 * constant nd and dev, and for the node's owner word. */
struct kent {
	struct uvfs_node *nd;   /* const */
	uint64_t count;         /* the kernel's lookup count */
	dev_t dev;              /* const: its file system's st_dev */
	struct kent *next, **pprev;     /* uf->known[kstripe(nd)] */
};

/* An open file or directory handle (fi->fh).  Lock: uf->fh_lock for the
 * links; kill_sgid is atomic; the rest is constant. */
struct fh {
	struct uvfs_file *f;
	int flags;              /* open flags */
	dev_t dev;              /* directories: for d_ino */
	atomic_bool kill_sgid;  /* setgid without group execute, opened for
				   writing (or made so since: op_setattr):
				   the first write clears the bit (op_write;
				   see opener_root) */
	const void *node;       /* the node opened: its identity only (not
				   held), for op_setattr's marking */
	bool opener_root;       /* opened by root: the mark is for the
				   writes of other users only */
	struct fh *prev, *next;
};

/* A request in progress (reqs.c), in its thread's slot.  Written by that
 * thread only, each change between two steps of seq (odd while it
 * changes); read by the lister, who reads again if seq moved.  op NULL:
 * no request in progress. */
struct freq {
	atomic_uint seq;
	_Atomic(const char *) op;               /* "lookup", "getattr", ... */
	_Atomic pid_t pid;                      /* the caller (a thread id) */
	_Atomic(struct uvfs_node *) nd;         /* the node it entered */
	/* the mount the handler's thread is inside now (uvfs_thread_where:
	 * written by that thread, read by the lister; 0: none) */
	_Atomic(const _Atomic unsigned long long *) where;
	_Atomic int64_t start_ns;               /* CLOCK_MONOTONIC_COARSE */
};

/* The state of a thread that runs requests of a session (reqs.c).
 * uf, prev, next: written under reqs.c's slots_lock (and uf->rq_lock for
 * the links), by the thread itself or by reqs_fini once the session's
 * threads have stopped; the thread reads uf without a lock.  ctx,
 * ctx_busy: the thread's own (reqs_fini and the thread's exit take ctx
 * under slots_lock).  rec: see struct freq. */
#define GCACHE 4        /* callers' status files a thread keeps open */
struct tslot {
	struct uvfs_fuse *uf;           /* the session; NULL: it ended */
	struct uvfs_ctx *ctx;           /* the cached context, or NULL */
	bool ctx_busy;                  /* ctx taken by a request (req_ctx) */
	/* the thread's own: /proc/PID/task/PID/status of the last callers
	 * (req_groups); gpid 0: a free entry */
	pid_t gpid[GCACHE];
	int gfd[GCACHE];
	unsigned gnext;
	struct freq rec;
	struct uvfs_intr *intr;         /* the thread's own: set to the
					   request in progress (req_begin),
					   so that FUSE INTERRUPT ends its
					   wait at a suspended mount; NULL
					   when it could not be made */
	struct tslot *prev, *next;      /* on uf->slots */
};

/* The invalidation queue of dead files (inval.c): no thread yet, its
 * thread serving, stopped (the session ends; the thread joined). */
enum iq_state { IQ_NONE, IQ_RUNNING, IQ_STOPPED };
struct ijob;

struct uvfs_fuse {
	struct uvfs *u;
	struct fuse_session *se;
	struct uvfs_node *root;          /* our own hold */
	char *mountpoint;
	unsigned max_threads, idle_threads;     /* const */
	unsigned mount_threads;          /* const: loop.c */
	int clone_fd;                    /* const */
	int splice;                      /* asked for (-o splice); const */
	unsigned want;                   /* conn->want after op_init; const */
	int writeback;                   /* asked for (-o writeback); const */
	pthread_t loop_thread;
	atomic_bool loop_done;

	pthread_mutex_t stripe[NSTRIPES];
	struct kent *known[NSTRIPES];    /* stripe[i]: the nodes the kernel
					    knows, by kstripe() */

	pthread_mutex_t fh_lock;
	struct fh fh_list;               /* sentinel */

	pthread_mutex_t pool_lock;
	struct uvfs_ctx **pool;          /* idle contexts */
	size_t npool, cappool;

	dev_t root_dev;                  /* the root node's st_dev; const */

	pthread_mutex_t rq_lock;
	struct tslot *slots;             /* rq_lock: the threads that serve
					    requests (reqs.c) */

	atomic_uint_least64_t nreq, nnodes, nlookups, nfiles, nforgets,
			      ninval;
	atomic_uint_least64_t nqueued;   /* loop.c: requests in the mounts'
					    queues */
	/* blocking setlks waiting in the core (locks.c), in all and per
	 * caller's uid: no thread each, a record each */
	pthread_mutex_t lk_lock;         /* after the core's locks: never
					    held into the library, except
					    to cancel (a leaf there) */
	pthread_cond_t lk_cv;            /* with lk_lock: a wait ended */
	unsigned lk_waiting;             /* lk_lock */
	struct lk_uid {
		uid_t uid;
		unsigned n;              /* > 0 while listed */
	} *lk_uids;                      /* lk_lock: grown as needed */
	unsigned lk_nuids, lk_capuids;   /* lk_lock: listed, room */
	struct lk_wait *lk_list;         /* lk_lock: the waits (lk_drain) */

	/* the pages of dead files, dropped in the background (inval.c) */
	pthread_mutex_t iq_lock;
	pthread_cond_t iq_cv;            /* iq_lock: a job queued or done, a
					    stop */
	enum iq_state iq_state;          /* iq_lock; iq_set only */
	struct ijob *iq_head, **iq_tail; /* iq_lock: not started yet */
	uint64_t iq_queued, iq_done;     /* iq_lock: jobs, ever; done in
					    queue order */
	pthread_t iq_thread;             /* set once, when running */
};

/* The node id the kernel knows nd by. */
static inline fuse_ino_t ID(struct uvfs_fuse *uf, struct uvfs_node *nd)
{
	return nd == uf->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)nd;
}

/* ---- helpers of the operations (ops.c, io.c, locks.c) ---- */

/* The node behind the kernel's node id. */
static inline struct uvfs_node *NODE(struct uvfs_fuse *uf, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? uf->root
				   : (struct uvfs_node *)(uintptr_t)ino;
}

static inline struct uvfs_fuse *UF(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The handle behind fi (io.c's struct fh). */
static inline struct fh *FH(struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

/* The errno the kernel is told for err (a negative errno from the
 * library, or 0).  Two kinds that a file system may hand up (a 9P
 * server's Rlerror, a driver without the operation: the core's ENOSYS)
 * must not reach the kernel as they are:
 *  - one outside 1..511: the kernel refuses the reply (EINVAL from the
 *    device write; libfuse turns only 1000 and more into ERANGE) and the
 *    request is never answered: its caller hangs until killed.  EIO.
 *  - ENOSYS: to the kernel, "this daemon has no such operation", for the
 *    whole connection: after an OPEN or OPENDIR answered so it opens
 *    every file itself without asking (its READs then come with no
 *    handle), after a CREATE, FLUSH, FSYNC, an xattr call, a RENAME2,
 *    FALLOCATE, LSEEK or COPY_FILE_RANGE it stops sending that request,
 *    for every file system of the namespace.  EOPNOTSUPP: this file
 *    system does not support it.
 * (op_lseek's deliberate ENOSYS does not come through here.) */
static inline int kernel_errno(int err)
{
	if (err < 0)
		err = -err;
	if (err == ENOSYS)
		return EOPNOTSUPP;
	return err < 512 ? err : EIO;
}

/* An error reply (err: a negative errno from the library, or 0); counts
 * the request. */
static inline void reply_err(fuse_req_t req, int err)
{
	atomic_fetch_add(&UF(req)->nreq, 1);
	fuse_reply_err(req, kernel_errno(err));
}

/* Counts a request answered otherwise. */
static inline void count(fuse_req_t req)
{
	atomic_fetch_add(&UF(req)->nreq, 1);
}

/* The inode number the kernel sees (uvfs_fuse_ino). */
static inline void fix_stat(struct stat *st)
{
	st->st_ino = uvfs_fuse_ino(st->st_dev, st->st_ino);
}

/* Attributes the kernel takes in an entry reply.  It refuses one with a
 * file type it does not know or a size above 2^63 - 1 (a file server can
 * send either) with EIO, and then never counts the lookup the entry came
 * with and sends no FORGET for it: the hold passed with it would never
 * come back (the mount busy until uvfsd exits).  The core answers EIO
 * for a type none of the seven, whatever the driver (docs/design.md,
 * "Answers no file can have"); a negative size is answered EIO here, its
 * hold dropped (reply_entry, op_create; a readdirplus entry it refuses is
 * forgotten by the kernel at once). */
static inline bool entry_attr_ok(const struct stat *st)
{
	return st->st_size >= 0;
}

/* How long the kernel may trust what it learns of nd. */
static inline double ttl(const struct uvfs_node *nd)
{
	return uvfs_node_exclusive(nd) ? TIMEOUT_EXCL : TIMEOUT;
}

/* The kernel's cached attributes of ino are stale (a mode changed behind
 * a write or an open, a source's atime moved): it asks again on the next
 * use.  Only the attributes: safe inside a request on the same inode (no
 * page lock). */
static inline void inval_attr(struct uvfs_fuse *uf, fuse_ino_t ino)
{
	fuse_lowlevel_notify_inval_inode(uf->se, ino, -1, 0);
	atomic_fetch_add(&uf->ninval, 1);
}

/* fuse.c: the registry of the nodes the kernel knows. */
int known_add(struct uvfs_fuse *uf, struct uvfs_node *nd, dev_t dev);
uint64_t known_drop(struct uvfs_fuse *uf, struct uvfs_node *nd, uint64_t n);
/* The device recorded for nd, 0 if the kernel does not know it. */
dev_t known_dev(struct uvfs_fuse *uf, struct uvfs_node *nd);
/* The known nodes of these devices, one hold each.  => how many, and a
 * malloc'ed array in *out (NULL with 0, also when out of memory). */
size_t known_hold_devs(struct uvfs_fuse *uf, const dev_t *devs, size_t n,
		       struct uvfs_node ***out);

/* inval.c: the queue of dead files' invalidations.  iq_init at session
 * creation; iq_stop while the workers still run (uvfs_fuse_exit), again
 * harmlessly in iq_fini (uvfs_fuse_free). */
void iq_init(struct uvfs_fuse *uf);
void iq_stop(struct uvfs_fuse *uf);
void iq_fini(struct uvfs_fuse *uf);

/* reqs.c: the requests in progress.  req_begin records this thread's
 * request (op: a static string) until req_end. */
void req_begin(fuse_req_t req, struct uvfs_node *nd, const char *op);
void req_end(struct uvfs_fuse *uf);
/* reqs.c: this thread's cached context for a request (NULL: none free
 * here, or out of memory: take one from the pool); slot_ctx_put gives it
 * back (false: ctx is not this thread's cached one).  reqs_fini, at the
 * session's end, drops the slots of threads that still have one. */
struct uvfs_ctx *slot_ctx(struct uvfs_fuse *uf);
/* reqs.c: the caller's supplementary groups, as fuse_req_getgroups
 * (=> their number, which may exceed size, or -errno), reading a status
 * file the thread keeps open for the caller. */
int req_groups(fuse_req_t req, int size, gid_t list[]);
bool slot_ctx_put(struct uvfs_fuse *uf, struct uvfs_ctx *ctx);
void reqs_fini(struct uvfs_fuse *uf);

/* ops.c: the operations table; the caller's context for a request that
 * enters the library on node ino for operation op (op: a static string;
 * recorded as in progress until uvfs_fuse_ctx_put; NULL when out of
 * memory), and its umask if asked.  req_ctx_for: also another node the
 * request names (other, 0: none) and a group it asks for (gid,
 * (gid_t)-1: none), by which a caller in more groups than a context
 * holds is judged too. */
extern const struct fuse_lowlevel_ops uvfs_fuse_ops;
struct uvfs_ctx *req_ctx(fuse_req_t req, fuse_ino_t ino, const char *op,
			 mode_t *umask);
struct uvfs_ctx *req_ctx_for(fuse_req_t req, fuse_ino_t ino, const char *op,
			     mode_t *umask, fuse_ino_t other, gid_t gid);
/* io.c: open handles and the file I/O operations.  open_handle opens nd
 * for the request (a new handle in *out, linked on uf->fh_list); fh_free
 * releases one; fh_mark_sgid marks the handles open for writing on a
 * node made setgid without group execute (op_setattr). */
int open_handle(fuse_req_t req, struct uvfs_ctx *ctx, struct uvfs_node *nd,
		int flags, struct fh **out);
void fh_free(struct uvfs_fuse *uf, struct fh *h);
void fh_mark_sgid(struct uvfs_fuse *uf, const void *node);
void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		  off_t len, struct fuse_file_info *fi);
void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);
void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			off_t off_out, struct fuse_file_info *fi_out,
			size_t len, int flags);

/* locks.c: getlk, setlk, flock; and at FLUSH or RELEASE, the release of
 * the owner's locks the kernel asks for (fi->flush, fi->flock_release). */
void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      struct flock *lock);
void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      struct flock *lock, int sleep);
void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      int op);
int locks_at_close(struct fuse_file_info *fi);
/* The session ends: every lock wait is cancelled and answered (EINTR);
 * returns once none is left. */
void lk_drain(struct uvfs_fuse *uf);

/* loop.c: the session's workers, at most uf->mount_threads of them inside
 * one mount's requests; until the session ends.  => 0 or -errno. */
int loop_run(struct uvfs_fuse *uf);

#endif

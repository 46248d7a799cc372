/*
 * uvfs_fuse.h - the FUSE front end: exports a libuvfs namespace through a
 * libfuse3 low-level session (see docs/fuse.md).
 *
 * Node ids are uvfs nodes; the kernel's lookup count is the node's hold
 * count.  The front end keeps a registry of the nodes the kernel knows
 * (with their counts) and of the open file handles, so that the namespace
 * changes made through the control socket can invalidate the kernel's
 * caches, and so that shutdown gives everything back.
 */
#ifndef UVFS_FUSE_H
#define UVFS_FUSE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uvfs/uvfs.h>

struct uvfs_fuse;

struct uvfs_fuse_config {
	const char *mountpoint;   /* absolute, canonical */
	const char *fsname;       /* the mount's source (the socket path) */
	int debug;                /* libfuse's -d */
	const char *mount_opts;   /* kernel mount flags (nosuid,nodev,ro...),
				     or NULL */
	int allow_other;
	int xattr;                /* serve extended attributes (-o xattr) */
	int writeback;            /* the kernel's writeback cache
				     (-o writeback, docs/fuse.md) */
	unsigned max_threads;     /* worker threads (default 64) */
	unsigned idle_threads;    /* idle workers kept (default 8) */
	unsigned mount_threads;   /* workers inside one mount's requests at
				     most (default a quarter of
				     max_threads, at least 1): loop.c */
	int clone_fd;             /* a /dev/fuse descriptor per worker */
	int splice;               /* libfuse's splice for request and reply
				     data (FUSE_CAP_SPLICE_*) */
};

/* Creates the session and mounts it.  => 0 or -errno (message printed). */
int uvfs_fuse_new(struct uvfs *u, const struct uvfs_fuse_config *cfg,
		  struct uvfs_fuse **out);
/* Runs the multi-threaded loop until the session ends (signal, unmount
 * from outside, uvfs_fuse_exit).  => call from the thread that called
 * uvfs_fuse_new (uvfs_fuse_exit interrupts that thread). */
int uvfs_fuse_loop(struct uvfs_fuse *uf);
/* Ends the loop from another thread: marks the session exited and
 * interrupts the loop's waiting thread with SIGUSR1 (which must have a
 * handler installed without SA_RESTART) until the loop has returned. */
void uvfs_fuse_exit(struct uvfs_fuse *uf);
int uvfs_fuse_exited(struct uvfs_fuse *uf);
/* Unmounts the FUSE file system (after the loop has returned). */
void uvfs_fuse_unmount(struct uvfs_fuse *uf);
/* Releases every file handle and node hold the kernel left, the contexts,
 * and the session.  The uvfs instance is not freed. */
void uvfs_fuse_free(struct uvfs_fuse *uf);

/* A context with the given credentials (NULL: root), from the pool. */
struct uvfs_ctx *uvfs_fuse_ctx_get(struct uvfs_fuse *uf,
				   const struct uvfs_cred *cred);
void uvfs_fuse_ctx_put(struct uvfs_fuse *uf, struct uvfs_ctx *ctx);

/* Walks a namespace path (absolute, no symlinks followed) node by node.
 * => *dir: the held node of the parent directory and *name points into
 *    path at the last component ("" for "/", where *dir is the root). */
int uvfs_fuse_walk_parent(struct uvfs_fuse *uf, struct uvfs_ctx *ctx,
			  const char *path, struct uvfs_node **dir,
			  const char **name);

/* Drops the kernel's cached entry for path in its parent, so the next
 * lookup sees what the namespace has there now (after mount, unmount,
 * revoke).  Also shrinks the kernel's cache below it (FORGETs follow for
 * what nothing uses).  => 0, or -errno if the parent cannot be walked. */
int uvfs_fuse_inval_path(struct uvfs_fuse *uf, struct uvfs_ctx *ctx,
			 const char *path);
/* Drops the kernel's data and attribute cache of one node. */
void uvfs_fuse_inval_node(struct uvfs_fuse *uf, struct uvfs_node *nd);
/* Drops the kernel's caches of every node of the file systems with these
 * device numbers (st_dev as the library reports it). */
void uvfs_fuse_inval_devs(struct uvfs_fuse *uf, const dev_t *devs,
			  size_t n);

/* The invalidations of dead files (after a forced unmount: the nodes of
 * those devices; after a revoke: the node).  Their attributes are dropped
 * before these return; their pages (which the kernel drops by writing the
 * dirty ones, each write refused) in the background, in the order asked.
 * => a ticket for uvfs_fuse_dead_wait (0: nothing left to wait for). */
uint64_t uvfs_fuse_dead_devs(struct uvfs_fuse *uf, const dev_t *devs,
			     size_t n);
uint64_t uvfs_fuse_dead_node(struct uvfs_fuse *uf, struct uvfs_node *nd);
/* Waits until dl (CLOCK_MONOTONIC) for the pages of that ticket (and
 * every earlier one) to be dropped.  => 0, or -ETIMEDOUT (they still
 * are, meanwhile).  Must not be called with a lock held that a FUSE
 * worker may need. */
int uvfs_fuse_dead_wait(struct uvfs_fuse *uf, uint64_t ticket,
			const struct timespec *dl);

struct uvfs_fuse_stats {
	uint64_t requests;        /* requests answered */
	uint64_t nodes;           /* node ids the kernel knows */
	uint64_t lookups;         /* their lookup counts, summed */
	uint64_t files;           /* open file and directory handles */
	uint64_t forgets;         /* FORGET counts received */
	uint64_t invalidations;   /* notifications sent */
	uint64_t queued;          /* requests waiting for their mount's
				     share of the workers now (loop.c) */
};
void uvfs_fuse_stats(struct uvfs_fuse *uf, struct uvfs_fuse_stats *st);

/* A FUSE request in progress inside the library: who asked (the caller's
 * thread id, as FUSE gives it), for what, on which file system (st_dev of
 * the node it entered; 0 when unknown) and for how long. */
struct uvfs_fuse_request {
	pid_t pid;
	char op[16];              /* "lookup", "getattr", "read", ... */
	dev_t dev;
	uint64_t elapsed_ms;
};
/* The requests in progress now.  => 0 and a malloc'ed array in *out (may
 * be NULL when *n == 0), or -ENOMEM.  Takes no lock that an operation
 * holds while it waits, so it answers while operations hang. */
int uvfs_fuse_requests(struct uvfs_fuse *uf, struct uvfs_fuse_request **out,
		       size_t *n);

/* st_ino as the kernel sees it: unique across the file systems of the
 * namespace (the first one keeps its numbers). */
uint64_t uvfs_fuse_ino(dev_t dev, uint64_t ino);

#endif

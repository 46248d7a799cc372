/*
 * core.h - private definitions shared by the files of lib/core.
 *
 * The objects (see docs/lifecycle.md for the full story):
 *
 *   struct uvfs    one instance: namespace, vnode cache, workers, counters
 *   struct fstype  a registered file-system type; lists its superblocks
 *   struct uvfs_sb a mounted instance: driver data, gate, vnode counts
 *   struct mount   an attachment of an sb in the namespace
 *   struct vnode   one file of an sb, cached by (sb, ino)
 *   struct file    an open file description: (mount, vnode), offset, flags
 *   struct uvfs_ctx a client: credentials, root, cwd, descriptor table
 *   struct uvfs_node a held (mount, vnode) pair for front ends
 *
 * Reference rules (DESIGN invariant 1): an open file, a cwd, a root and a
 * node each hold a `struct path`, that is one mount reference and one vnode
 * reference; a vnode holds its sb (sb->nvnodes); a mount holds its sb, its
 * parent mount, its mount point vnode and its root vnode.  The namespace
 * holds one reference on every attached mount, so a mount is busy iff its
 * count is above 1 (invariant 2).
 *
 * The lock order is written once, in docs/locking.md; each struct below
 * says which lock protects each field.  Driver code is called inside the
 * gate (lib/core/vnode_if.c) with none of the core's locks held but the
 * directory locks (dirlock.c), which a name change takes before anything
 * else and holds from its lookup to its driver call.
 */
#ifndef UVFS_CORE_H
#define UVFS_CORE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rcu.h"        /* first of liburcu: it decides on inlining */
#include <urcu/list.h>
#include <urcu/hlist.h>

#include <uvfs/fs.h>
#include <uvfs/uvfs.h>

#include "diag.h"
#include "gate.h"
#include "vnpack.h"     /* the vnode's packed words */
#include "sys.h"        /* lib/util: every system call and allocation */

struct uvfs;
struct mount;
struct vnode;
struct file;
struct pc_entry;

/* ---- deferred work (worker.c) ------------------------------------------ */

struct work {
	void (*fn)(struct work *w);
	struct cds_list_head link;      /* u->work_lock: on u->work_queue, or
					   u->lazy_queue (may wait for
					   company) */
};

/* Queues w to the bounded worker pool.  Never blocks, never does I/O. */
void work_queue(struct uvfs *u, struct work *w);
/* The same for work that may wait a few milliseconds to be done with
 * others (vnode reclaims): one wakeup per batch, not per item.  A barrier
 * (uvfs_settle) or urgent work makes the workers go at once. */
void work_queue_lazy(struct uvfs *u, struct work *w);
/* Runs, in the calling thread, the queued items that match: a waiter that
 * needs them done helps instead of blocking a worker on its own queue. */
void work_run_matching(struct uvfs *u, bool (*match)(struct work *, void *),
		       void *arg);
int workers_start(struct uvfs *u);
void workers_stop(struct uvfs *u);

/* ---- paths ------------------------------------------------------------- */

/* A (mount, vnode) pair.  A held path owns one reference on each. */
struct path {
	struct mount *mnt;
	struct vnode *vp;
};

void path_get(const struct path *p);
void path_put(struct path *p);   /* drops both references, zeroes *p */

/* ---- file-system types and superblocks (mount.c) ----------------------- */

struct fstype {
	const struct uvfs_fstype_ops *ops;  /* const */
	struct cds_list_head link;          /* u->types_lock */
	struct cds_list_head sbs;           /* u->types_lock: its sbs */
	unsigned nsbs;                      /* u->types_lock */
	atomic_bool dying;                  /* written under u->types_lock: no
					       new mounts; also read under
					       u->ns_lock by a mount's attach
					       (mount.c, uvfs_mount) */
	bool gone;                          /* u->types_lock: unregistered;
					       freed with its last sb */
};

/* The directory locks of an sb (dirlock.c; docs/locking.md). */
#define SB_NDIRLOCKS 64u

enum sb_state {
	SB_ACTIVE,      /* mounted, operations run */
	SB_UNMOUNTING,  /* gate closed for unmount; vnodes being flushed */
	SB_DEAD,        /* driver shut down; dead vnode shells may remain */
	SB_FREED,       /* never observed: the memory is gone */
};

struct uvfs_sb {
	struct gate gate;                   /* see gate.h; first, so that
					       &sb->gate is sb and the fast
					       path has no addition */
	struct uvfs *u;                     /* const */
	struct fstype *type;                /* const; counted in type->nsbs */
	const struct uvfs_fstype_ops *ops;  /* const (type->ops) */
	void *priv;                         /* driver's */
	_Atomic int state;                  /* enum sb_state, sb_set_state() */
	bool rdonly;                        /* const */
	bool flushes;                       /* const after the driver's
					       mount: uvfs_sb_set_flushes */
	atomic_bool locked;                 /* a file lock was taken on it
					       (lock.c): closes tell (FUSE
					       FLUSH) */
	dev_t dev;                          /* const: st_dev of its files */
	unsigned deadline_ms;               /* const: forced-unmount deadline */
	/* u->vc_lock: */
	struct cds_list_head vnodes;        /* every vnode shell of this sb */
	unsigned long nvnodes;              /* shells (live and dead) */
	unsigned long nlive;                /* vnodes whose driver object is
					       still loaded (priv != NULL) */
	bool mounted;                       /* the mount still holds it */
	_Atomic bool killed;                /* forced: every vnode is dead
					       and vcache_get fails; set
					       without vc_lock */
	pthread_cond_t vc_cv;               /* with u->vc_lock (monotonic):
					       nlive/nvnodes went down */
	struct cds_list_head type_link;     /* u->types_lock */
	bool detached;                      /* u->types_lock: its mount was
					       taken out of the namespace
					       lazily (umount_mount): a
					       forced unregister kills it */
	struct work free_work;              /* the final free, on a worker */
	struct work kill_work;              /* a kill's reclaim (mount.c) */
	struct mount *kill_mount;           /* held by kill_work, or NULL */
	bool kill_hold;                     /* u->vc_lock: kill_work pending:
					       the sb is not freed */
	/* The directory locks (dirlock.c): a directory's is the one its
	 * ino hashes to; each serializes the name changes in its
	 * directories, held from the lookup to the driver's call. */
	pthread_mutex_t dirlocks[SB_NDIRLOCKS];
	struct lk_queue *lk_q;              /* u->lk_lock: the asynchronous
					       waits for the driver's locks
					       (lock.c), made at the first;
					       freed with the sb */
};

void sb_set_state(struct uvfs_sb *sb, enum sb_state from, enum sb_state to,
		  const char *file, int line);
/* Kills an active sb as a forced unmount does (every vnode dead at once,
 * gate killed, in-flight requests cancelled); a worker reclaims once the
 * gate has drained, without waiting past the deadline for it (mount.c).
 * m: the mount whose namespace reference the worker then drops, or NULL.
 * Does not wait.  => false if sb was no longer active. */
bool sb_kill(struct uvfs_sb *sb, struct mount *m);
/* => vc_lock held.  Queues the sb's free if nothing holds it any more. */
void sb_maybe_free_locked(struct uvfs_sb *sb);
#define SB_SET_STATE(sb, from, to) \
	sb_set_state((sb), (from), (to), __FILE__, __LINE__)

/* ---- vnodes and the vnode cache (vnode.c) ------------------------------ */

/* In vp->usecount, beside the count: the last release must take vc_lock
 * (the vnode is not simply going back to the LRU: it is new, off the LRU,
 * unhashed, dead or unlinked).  Set and cleared under vc_lock; because it
 * lives in the same word as the count, a lock-free 1 -> 0 release and a
 * state change can never miss each other.  32 bits: every use is held by
 * an object in memory (a path, a walk, a mount), so the count cannot reach
 * 2^31. */
#define VN_SLOW (1U << 31)

/*
 * The vnode is the one object there are millions of (bench_vnode_mem:
 * 144 bytes of heap with malloc's header, docs/design.md "Vnode memory").
 * So: the flags and the DEAD state share one word (vnpack.h), the
 * name-cache sequence and its purged bit another, the lock of the open
 * files is one of VN_NSTRIPES shared mutexes (vn_lock()), and the fields
 * that are never live at the same time share memory:
 *
 *   hash_next + lru_link   while the vnode is cached (VN_HASHED: the
 *                          bucket chain; VN_ONLRU: the LRU; after
 *                          VN_RECLAIM lru_link links a reclaimer's private
 *                          list of victims);
 *   work                   once its reclaim is queued (VN_RECLAIM set,
 *                          by then neither hashed nor on the LRU, and it
 *                          is never on a private list and queued at once);
 *   rcu                    once vn_free() gave the shell up (after the
 *                          reclaim's work has run: the worker does not
 *                          touch an item after calling it).
 */
struct vnode {
	struct uvfs_sb *sb;                 /* const; holds sb->nvnodes */
	uint64_t ino;                       /* const */
	uint64_t gen;                       /* const: the driver's generation
					       of ino (0: none) */
	void *priv;                         /* driver object; read inside the
					       gate while not dead */
	_Atomic uint32_t usecount;          /* atomic: uses | VN_SLOW */
	_Atomic uint32_t flags;             /* u->vc_lock to change (VN_*,
					       vn_flags_set); VN_DEAD is
					       read without it (vn_dead) */
	mode_t type;                        /* const: S_IFMT bits */
	_Atomic unsigned mounted;           /* ns_lock (write) to change: mounts
					       covering this vnode */
	union {                             /* u->vc_lock: see above */
		struct {
			struct vnode *hash_next;        /* VN_HASHED */
			struct cds_list_head lru_link;  /* VN_ONLRU */
		};
		struct work work;               /* VN_RECLAIM, queued */
		struct rcu_head rcu;            /* freed after a grace period
						   (RCU readers) */
	};
	struct cds_list_head sb_link;       /* u->vc_lock */
	struct cds_hlist_head files;        /* vn_lock(vp): open files */
	struct uvfs_node *node;             /* mount's m->node_lock: the node
					       of this vnode, if any */
	struct vlocks *locks;               /* u->lk_lock: file locks held
					       (lock.c), NULL if none yet;
					       set once (release), tested
					       for NULL without the lock */
	/* the name cache (ncache.c), under u->nc_lock: */
	struct cds_hlist_head nc_as_dir;    /* entries in this directory */
	struct nc_entry *nc_as_child;       /* entries naming this vnode (a
					       chain: a file has few names) */
	_Atomic uint32_t nc_seq;            /* nc_lock to change (vnpack.h:
					       removals, purged bit) */
};

/* The stripe that guards vp->files and its files' fh, attached, orphan
 * and vlink (held for a few loads and stores, never across a driver call
 * nor with another lock taken inside it: a leaf, docs/locking.md). */
extern pthread_mutex_t vn_stripes[VN_NSTRIPES];
static inline void vn_lock(const struct vnode *vp)
{
	pthread_mutex_lock(&vn_stripes[vn_stripe_of(vp)]);
}
static inline void vn_unlock(const struct vnode *vp)
{
	pthread_mutex_unlock(&vn_stripes[vn_stripe_of(vp)]);
}

/* vp->flags, for a reader that holds vc_lock (or needs no consistency) */
static inline uint32_t vn_flags(const struct vnode *vp)
{
	return atomic_load_explicit(&vp->flags, memory_order_relaxed);
}
/* Whether vp lost a name through this instance (unlink, rmdir, a rename
 * over it).  A directory that did is removed: it holds no names and takes
 * none (-ENOENT, Linux's IS_DEADDIR), and getcwd cannot reach it. */
static inline bool vn_unlinked(const struct vnode *vp)
{
	return (vn_flags(vp) & VN_UNLINKED) != 0;
}
void vn_flags_panic(const struct vnode *vp, uint32_t set, uint32_t clear,
		    const char *file, int line) __attribute__((noreturn));
/* Changes vp->flags (=> vc_lock held), aborting with file and line on a
 * transition vnf_next() refuses.  Inline: with constant masks the check
 * folds to a few tests (a teardown makes several per vnode). */
static inline void vn_flags_set(struct vnode *vp, uint32_t set,
				uint32_t clear, const char *file, int line)
{
	uint32_t n = vnf_next(vn_flags(vp), set, clear);

	if (__builtin_expect(n == VNF_BAD, 0))
		vn_flags_panic(vp, set, clear, file, line);
	/* every writer holds vc_lock: a plain store; release for vn_dead */
	atomic_store_explicit(&vp->flags, n, memory_order_release);
}
#define VN_FLAGS_SET(vp, set, clear) \
	vn_flags_set((vp), (set), (clear), __FILE__, __LINE__)

/* Takes another reference; the caller already has one. */
void vn_ref(struct vnode *vp);
/* Drops a reference.  The last one leaves the vnode cached (LRU) or queues
 * its reclaim to a worker; never calls the driver. */
void vn_rele(struct vnode *vp);
/* Finds or loads the vnode of (sb, ino), referenced.
 * => called inside sb's gate (the driver's vget runs). */
int vcache_get(struct uvfs_sb *sb, uint64_t ino, struct vnode **out);
/* The same for a file a lookup or create named: a cached vnode of that ino
 * whose type class or generation differs from *id is stale (the driver
 * reused the id): it turns dead and leaves the cache, and a new vnode is
 * loaded.  => inside sb's gate. */
int vcache_get_ident(struct uvfs_sb *sb, const struct uvfs_ident *id,
		     struct vnode **out);
/* The same for a file whose id->type is exact (just created; a
 * directory or symlink looked up): no getattr. */
int vcache_get_typed(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       struct vnode **out);
/* The same, typed, for a file the call has just created (vnode.c says
 * why it does not look in the cache first). */
int vcache_get_created(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       struct vnode **out);
/* Marks vp as having lost a name (reclaimed at its last release). */
void vn_mark_unlinked(struct vnode *vp);
/* Dead: revoked, or its file system force-unmounted (the whole sb dies at
 * once, in O(1); the worker marks each vnode later). */
static inline bool vn_dead(const struct vnode *vp)
{
	return (atomic_load_explicit(&vp->flags, memory_order_acquire) &
		VN_DEAD) ||
	       atomic_load_explicit(&vp->sb->killed, memory_order_acquire);
}
/* The death check of an operation that got into its sb's gate
 * (vnode_if.c): the gate answers for a killed sb (gate_enter fails once
 * it is killed, and an operation that got in just before the kill is one
 * the kill's drain waits for, as it waits for those that got in earlier),
 * so only the vnode's own flag is left to look at.  The ungated build (the
 * benchmark's baseline) has no gate and looks at both. */
static inline bool vn_dead_inside(const struct vnode *vp)
{
#ifdef UVFS_UNGATED
	return vn_dead(vp);
#else
	return atomic_load_explicit(&vp->flags, memory_order_acquire) &
	       VN_DEAD;
#endif
}
static inline bool vn_isdir(const struct vnode *vp)
{
	return S_ISDIR(vp->type);
}
/* Unreferenced vnodes of sb are reclaimed and the call waits until the
 * sb has no loaded vnode left (invariant 7: counts, not a scan).
 * => the sb's gate is closed; only `keep` (NULL or the root) may be used. */
int vcache_flush_sb(struct uvfs_sb *sb, int timeout_ms);
/* Marks every vnode of sb dead and unhashed; makes vcache_get fail. */
void vcache_kill_sb(struct uvfs_sb *sb);
/* Reclaims (driver release of open handles, driver reclaim) every loaded
 * vnode of sb that is dead.  => the gate is drained and closed or killed. */
void vcache_reclaim_dead(struct uvfs_sb *sb);
/* Revoke: vp turns dead, loses its cache slot, its open files' driver
 * handles are released and its driver object reclaimed once the gate
 * drained.  If the gate does not drain within the deadline, the whole sb
 * is killed as by a forced unmount (sb_kill), whose worker does not wait
 * for the operation still inside. */
int vn_revoke(struct vnode *vp, int deadline_ms);
/* Prunes up to n unreferenced vnodes from the LRU (worker context). */
void vcache_prune(struct uvfs *u, unsigned long n);

/* vnode operations (vnode_if.c, from one table): each enters the gate,
 * answers the dead operation (-EIO) when any vnode it touches is dead,
 * calls the driver, leaves.  What a driver answers that no file can have
 * stops there, for every driver and front end (docs/design.md, "Answers
 * no file can have"): a file type that is none of the seven is -EIO
 * (getattr, lookup, a vnode's load), and a listing leaves out a name no
 * file can have and says DT_UNKNOWN for a type none of the seven. */
int vop_getattr(struct vnode *vp, struct stat *st);
/* The driver's getattr of priv, its answer checked as vop_getattr's (for
 * the core's own calls inside the gate and a vnode's load). */
int vop_driver_getattr(struct uvfs_sb *sb, void *priv, struct stat *st);
int vop_setattr(struct vnode *vp, const struct uvfs_setattr *sa);
/* cr is the calling thread's context's: what uvfs_cred_current (fs.h)
 * answers from now on, on this thread (namei_at, namei_parent_at and
 * fd_get call it).  NULL: none (the core's own work, e.g. getcwd's
 * search for names, which needs no permission). */
void cred_set_current(const struct uvfs_cred *cr);
/* Is gid the credentials' group or one of their supplementary groups? */
bool cred_in_group(const struct uvfs_cred *cr, gid_t gid);
/* mask of R_OK|W_OK|X_OK for cred; honours UVFS_FS_SERVER_PERMS */
int vop_access(struct vnode *vp, int mask, const struct uvfs_cred *cred);
int vop_lookup(struct vnode *dvp, const char *name, struct vnode **out);
/* The same for a name whose length the caller knows (the path walk). */
int vop_lookup_len(struct vnode *dvp, const char *name, size_t len,
		   struct vnode **out);
int vop_create(struct vnode *dvp, const char *name, mode_t mode, dev_t rdev,
	       const char *target, const struct uvfs_cred *cred,
	       struct vnode **out);
int vop_link(struct vnode *dvp, const char *name, struct vnode *vp);
/* child: the vnode being removed (marked VN_UNLINKED on success) or NULL */
int vop_unlink(struct vnode *dvp, const char *name, int isdir,
	       struct vnode *child);
/* victim: the vnode a plain rename replaces, or NULL */
int vop_rename(struct vnode *odvp, const char *oname, struct vnode *ndvp,
	       const char *nname, unsigned flags, struct vnode *victim);
ssize_t vop_readlink(struct vnode *vp, char *buf, size_t size);
ssize_t vop_getxattr(struct vnode *vp, const char *name, void *value,
		     size_t size);
int vop_setxattr(struct vnode *vp, const char *name, const void *value,
		 size_t size, int flags);
ssize_t vop_listxattr(struct vnode *vp, char *list, size_t size);
int vop_removexattr(struct vnode *vp, const char *name);
/* Opens f's driver handle and attaches f to vp, inside the gate. */
int vop_open(struct vnode *vp, int flags, struct file *f);
ssize_t vop_read(struct vnode *vp, void *fh, void *buf, size_t n, off_t off);
ssize_t vop_write(struct vnode *vp, void *fh, const void *buf, size_t n,
		  off_t *off);
int vop_fsync(struct vnode *vp, void *fh, int datasync);
/* At a close of a file open for writing (fs.h's flush). */
int vop_flush(struct vnode *vp, void *fh);
/* Does a close of f ask the driver (open for writing, a flush op)? */
bool file_flushes(const struct file *f);
/* The driver's flush for f, if file_flushes(f); else 0. */
int file_flush(struct file *f);
/* fsync through f: its success clears f's "written since its last
 * flush" (nothing is behind any more). */
int file_fsync(struct file *f, void *fh, int datasync);
int vop_readdir(struct vnode *vp, void *fh, uint64_t cookie,
		uvfs_filldir_t fill, void *arg);
int vop_statfs(struct vnode *vp, struct statvfs *st);
/* The Linux file calls (fs.h; the callers' checks in fileops.c):
 * vop_seek_data answers the generic map (all data, a hole at the size)
 * for a driver without one; vop_copy_range -EXDEV for two superblocks
 * and -EOPNOTSUPP for a driver without one. */
int vop_fallocate(struct vnode *vp, void *fh, int mode, off_t off, off_t len);
off_t vop_seek_data(struct vnode *vp, void *fh, off_t off, int whence);
ssize_t vop_copy_range(struct vnode *src, void *src_fh, off_t off_in,
		       struct vnode *dst, void *dst_fh, off_t off_out,
		       size_t len);
/* lseek's SEEK_DATA / SEEK_HOLE on f (fileops.c); f->lock held. */
off_t file_seek_data(struct file *f, off_t off, int whence);

/* File locks (lock.c).  vop_lock: lock_try inside the gate (a dead
 * vnode: -EIO).  lock_file_gone: f's last release drops the locks taken
 * through it.  lock_kick: a vnode died or a wait was cancelled (waiters
 * look again).  lock_vnode_free: vp's shell goes. */
int vop_lock(struct vnode *vp, void *fh, int cmd, struct uvfs_lock *lk,
	     struct file *via);
void lock_file_gone(struct file *f);
void lock_kick(struct uvfs *u);
void lock_vnode_free(struct vnode *vp);
int lock_init(struct uvfs *u);
/* Ends every asynchronous wait (-EIO) and joins the thread of the core's
 * queue: the first step of the instance's end. */
void lock_stop(struct uvfs *u);
/* Joins and frees sb's queue of waits, if it has one (nothing waits
 * there: its waits hold references on its files): sb is being freed. */
void lock_sb_stop(struct uvfs_sb *sb);
void lock_fini(struct uvfs *u);

/* The last close of an attached file: detaches it and releases its driver
 * handle inside the gate (unless a reclaim already did).  On a killed gate
 * the file is left on the vnode as an orphan for the reclaim, which
 * releases the handle and frees it: returns true then (the caller must
 * not touch f again). */
bool vn_file_detach(struct vnode *vp, struct file *f);

/* ---- the name cache (ncache.c) ---------------------------------------- */

struct nc_entry;
struct nc_table;
int ncache_init(struct uvfs *u);
void ncache_fini(struct uvfs *u);
/* A reference on the vnode cached for name in dvp, taken without locks
 * (the child clean, or already referenced), or false. */
/* name: len bytes, NUL-terminated (len == strlen(name)). */
bool ncache_lookup(struct vnode *dvp, const char *name, size_t len,
		   struct vnode **out);
/* The lock-free probe of the path walk's RCU mode and its reference:
 * ncache.h (inline). */
/* Read before a driver lookup; pass to ncache_add. */
unsigned long ncache_seq(struct vnode *dvp);
void ncache_add(struct vnode *dvp, const char *name, struct vnode *vp,
		unsigned long seq);
/* After a name left dvp (unlink, rename). */
void ncache_remove(struct vnode *dvp, const char *name);
/* Every entry in or naming vp goes; none is added after. */
void ncache_purge(struct vnode *vp);
/* dir's name from top, an ancestor directory in its file system ("/a/b";
 * "" when dir is top), from the cached names alone: no driver call.
 * => its length, or -1: a name on the way is not cached, or does not
 * fit. */
int ncache_path(const struct vnode *top, const struct vnode *dir, char *buf,
		size_t size);
/* => u->nc_lock held.  u->nc_gen moves on: every path cache entry made
 * before is stale (pcache.h). */
void ncache_gen_bump_locked(struct uvfs *u);

/* ---- mounts (mount.c) -------------------------------------------------- */

/* m->flags, under u->ns_lock */
#define MNT_ATTACHED   0x01  /* in the namespace (holds one reference) */
#define MNT_UNMOUNTING 0x02  /* no new crossings into it */
#define MNT_DETACHED   0x04  /* lazily unmounted */
#define MNT_FORCED     0x08  /* force-unmounted: everything below is dead */
#define MNT_SUSPENDED  0x10  /* uvfs_suspend holds its gate closed; set
				with the gate's closing under ns_lock, and
				whoever clears it (resume, the suspend's
				failure, ns_detach_locked) opens the gate
				once, but a forced unmount (killed) */
#define MNT_RDONLY     0x20  /* const after mount */
#define MNT_NAMED      0x40  /* target is the mount point's name from the
				namespace root, kept by every rename through
				the core (mount_rename_end); a mount-management
				call may name the mount by it without a walk
				(umount.c, "Naming a mount") */

struct mount {
	struct uvfs *u;                     /* const */
	uint64_t id;                        /* const */
	struct uvfs_sb *sb;                 /* const; holds the sb */
	struct vnode *root;                 /* const; referenced */
	struct mount *parent;               /* ns_lock: set at attach,
					       referenced; NULL for the root
					       and once disconnected */
	struct vnode *mountpoint;           /* const once attached; held
					       while parent is set; after
					       the disconnect an address
					       only compared (lock-free
					       crossings), never followed */
	_Atomic long refs;                  /* atomic; see mount_ref() */
	_Atomic unsigned flags;             /* ns_lock (write) to change:
					       MNT_*; read under RCU */
	/* The mounts on vnodes of this one, newest first: changed under
	 * ns_lock (write), published with release stores and walked with
	 * acquire loads inside RCU sections (mount_cross_down). */
	struct mount *_Atomic first_child;
	struct mount *_Atomic next_sibling;
	struct cds_list_head ns_link;       /* ns_lock: u->mounts */
	pthread_mutex_t node_lock;
	struct cds_list_head nodes;         /* node_lock: held nodes */
	struct cds_list_head handles;       /* node_lock: uvfs_file handles */
	char *type_name, *source, *options; /* const */
	char *target;                       /* ns_lock: path at mount time;
					       with MNT_NAMED, replaced (under
					       ns_lock for writing) as renames
					       of directories above it move
					       it */
	struct work work;                   /* final release, on a worker */
};

/* => the caller already holds a reference (or holds ns_lock and checked
 *    the mount is attached and not unmounting). */
void mount_ref(struct mount *m);
/* The last reference queues the mount's teardown to a worker. */
void mount_rele(struct mount *m);
/* If (m, vp) is covered by a mount, replaces *p by the root of the
 * topmost mount there (references moved).  Lock-free (RCU); waits only
 * while a normal unmount of that mount is deciding. */
void mount_cross_down(struct path *p);
/* For ".." at the root of p->mnt: replaces *p by the mount point in the
 * parent mount (repeatedly).  Stops at root (the context's root) and at
 * the root of a detached mount.  Takes ns_lock (read) at each mount root
 * it leaves: a lazy or forced unmount disconnects a mount from its parent
 * under the write lock (mount_disconnect). */
void mount_cross_up(struct path *p, const struct path *root);

/* A rename of a directory (names.c) brackets the driver's call with
 * these, so that the mounts' names (MNT_NAMED targets) below the
 * directory move with it (mount.c, "The names of mount points"). */
struct mount_rename {
	bool track;         /* its mount has mounts in it */
	unsigned long gen;  /* u->names_gen at the start */
	char *from, *to;    /* the directory's names before and after, if
			       known */
};
void mount_rename_begin(struct uvfs_ctx *ctx, struct mount_rename *r,
			const struct path *odir, const char *oname,
			const struct path *ndir, const char *nname,
			bool exchange);
/* err: the rename's result */
void mount_rename_end(struct uvfs_ctx *ctx, struct mount_rename *r,
		      const struct path *dir, int err);
/* uvfs_realpath's: when path names a mount below a suspended one, its
 * name from the mount table, without a walk that would wait (umount.c,
 * "Naming a mount").  => its length, -ERANGE, or -EAGAIN: walk. */
int mount_realpath_named(struct uvfs_ctx *ctx, const char *path, char *buf,
			 size_t size);

/* ---- open files and contexts (file.c, fileopen.c, fileio.c) ------------ */

struct file {
	struct path path;                   /* const; held */
	_Atomic long refs;                  /* fd slots + calls in flight */
	int flags;                          /* const: open flags */
	pthread_mutex_t lock;               /* pos */
	off_t pos;                          /* lock */
	void *fh;                           /* vn_lock: driver handle,
					       NULL once released; stored
					       atomically, so that file_fh
					       reads it without the lock */
	bool attached;                      /* vn_lock: on vp->files */
	bool orphan;                        /* vn_lock: closed on a killed
					       gate; vn_unload frees it */
	struct cds_hlist_node vlink;        /* vn_lock */
	atomic_bool unflushed;              /* written since the last flush */
	char name[];                        /* const: path used to open it,
					       in the file's own allocation */
};

/* => vn_lock(f's vnode) held and f attached.  Takes f off its vnode and
 * returns its driver handle, for the caller to release after the unlock
 * (f->fh NULL from here: file_fh). */
static inline void *file_detach_locked(struct file *f)
{
	void *fh = f->fh;

	cds_hlist_del(&f->vlink);
	f->attached = false;
	__atomic_store_n(&f->fh, NULL, __ATOMIC_RELAXED);
	return fh;
}

struct uvfs_ctx {
	struct uvfs *u;                     /* const */
	uint64_t id;                        /* const */
	struct cds_list_head link;          /* u->ctx_lock */
	struct uvfs_cred cred;              /* owner thread */
	mode_t umask;                       /* owner thread */
	pthread_mutex_t fd_lock;
	/* fd_lock (readers elsewhere: the holders query): */
	struct path root, cwd;
	char *cwd_name;                     /* lexical cwd, for diagnostics */
	char label[64];
	struct file **fds;
	int nfds;
	struct pc_entry *pcache;            /* owner thread: PC_SIZE, or NULL
					       until the first (pcache.h) */
};

/* ---- path lookup (namei.c) --------------------------------------------- */

#define LK_FOLLOW    0x1   /* follow a final symlink */
#define LK_DIRECTORY 0x2   /* the result must be a directory */
#define LK_EMPTY     0x4   /* "" means dirfd itself (AT_EMPTY_PATH) */
#define LK_DEAD      0x8   /* a dead result is no error (the unmount of a
			      mount whose sb was killed by a revoke) */
#define LK_BORROW    0x10  /* the result may come without a reference on
			      its mount (out->mnt NULL): when it is in the
			      mount of the context's root or cwd, which the
			      context holds while the call runs.  For a
			      caller that needs the vnode only, and only
			      until it returns (a stat) */

/* Resolves path relative to dirfd (UVFS_AT_FDCWD: the cwd) within the
 * context's root.  => *out held on success. */
int namei_at(struct uvfs_ctx *ctx, int dirfd, const char *path,
	     unsigned flags, struct path *out);

/* Linux's retry_estale (fs/namei.c): a call by name that its file system
 * answered -ESTALE is made again, from the lookup.  -ESTALE says that
 * what a lookup found no longer reaches its file: a file server's file
 * was replaced or removed behind the walk, by another client or by a
 * change through this mount racing it, and the call was not carried out.
 * The name may lead to another file now, which the next lookup finds.
 * Linux tries twice; here a call may be tried ESTALE_TRIES times, since
 * a 9P walk brings no attributes: a stat is a walk and then a getattr,
 * and a file replaced again in between fails the next try too
 * (docs/design.md, "Stale handles").  Each further try follows another
 * change of the name, so the bound is only reached by a server that
 * answers -ESTALE for every lookup's result; its last -ESTALE is the
 * answer.  A call that may have done something before its -ESTALE
 * answers another error instead (a create whose vnode was not loaded:
 * -EIO, vop_create).  Evaluates call up to ESTALE_TRIES times; => its
 * last value. */
#define ESTALE_TRIES 8
#define RETRY_ESTALE(call) __extension__ ({                                 \
	__typeof__(call) estale_r_;                                         \
	unsigned estale_t_ = 0;                                             \
	do                                                                  \
		estale_r_ = (call);                                         \
	while (estale_r_ == -ESTALE && ++estale_t_ < ESTALE_TRIES);         \
	estale_r_;                                                          \
})

#define LAST_NORM   0
#define LAST_DOT    1
#define LAST_DOTDOT 2
#define LAST_ROOT   3      /* the path was "/" (or only slashes) */
struct nameparent {
	struct path dir;                    /* held */
	char name[NAME_MAX + 1];            /* last component */
	int last;                           /* LAST_* */
	bool trailing_slash;                /* "a/b/" */
};
/* Resolves all but the last component (which must fit NAME_MAX:
 * -ENAMETOOLONG).  => np->dir held on success. */
int namei_parent_at(struct uvfs_ctx *ctx, int dirfd, const char *path,
		    struct nameparent *np);
/* Looks a single name up in dir (not ".", ".."), crossing into mounts,
 * without following a final symlink. => *out held. */
int namei_child(struct uvfs_ctx *ctx, const struct path *dir,
		const char *name, struct path *out);
/* One step of a walk: *cur (held) becomes the result of name in it, which
 * may be "." or ".." (kept inside the context's root, crossing mounts);
 * symlinks are not followed.  On error *cur is unchanged. */
int namei_step(struct uvfs_ctx *ctx, struct path *cur, const char *name);
/* Returns a held reference to the file of fd (for *at calls). */
struct file *fd_get(struct uvfs_ctx *ctx, int fd);
/* fd_get, but -EBADF for an O_PATH descriptor.  => 0, *out held. */
int fd_get_real(struct uvfs_ctx *ctx, int fd, struct file **out);
void file_put(struct file *f);
/* Builds the path of p as seen from root ("/a/b"), by walking "..".
 * Returns the length, -ERANGE or -ENOENT (unreachable). */
int path_name(struct uvfs_ctx *ctx, const struct path *root,
	      const struct path *p, char *buf, size_t size);
/* Permission helper on cred, using vop_access. */
int may_access(struct uvfs_ctx *ctx, struct vnode *vp, int mask);

/* ---- path-level calls shared by file*.c and node.c --------------------- */

/* The first half of every call that adds or removes a name: the parent
 * (held) and, when the name exists, the child (held, not followed,
 * crossed into a mount covering it). */
struct dirop {
	struct nameparent np;               /* np.dir held */
	struct path child;                  /* held when child.vp != NULL */
	pthread_mutex_t *locked;            /* the directory lock held
					       (dirlock.c), or NULL */
};
/* dir's name: the parent held, its directory lock held, the child looked
 * up under it.  On an error nothing is held. */
int dirop_at(struct uvfs_ctx *ctx, const struct path *dir, const char *name,
	     struct dirop *d);
/* The same in two steps: the parent only (d->child empty, no lock: the
 * caller takes it, dirop_lock), then the child; on an error of
 * dirop_lookup_child the lock and the parent are released.  A rename
 * takes both parents' locks with dirop_rename_parents instead. */
int dirop_at_parent(const struct path *dir, const char *name,
		    struct dirop *d);
int dirop_lookup_child(struct uvfs_ctx *ctx, struct dirop *d);
/* Releases the lock (if held), the child, the parent. */
void dirop_end(struct dirop *d);
/* The directory locks (dirlock.c): d's parent's, or both parents' of a
 * rename in a fixed order (o->locked and n->locked; n's NULL when both
 * are one lock).  Taken outside every gate, before any other lock of the
 * core (docs/locking.md).  dirop_end (or dirop_unlock) releases. */
void dirop_lock(struct dirop *d);
void dirop_lock2(struct dirop *o, struct dirop *n);
void dirop_unlock(struct dirop *d);
void dirlocks_init(struct uvfs_sb *sb);
void dirlocks_destroy(struct uvfs_sb *sb);
/* A rename from both parents held (no lock yet): locks both
 * directories, looks both children up (n's not, when blind_ok and
 * rename_blind_ok allows: path API), renames, and releases o and n
 * whatever the outcome.  => 0 or -errno. */
int dirop_rename_parents(struct uvfs_ctx *ctx, struct dirop *o,
			 struct dirop *n, unsigned flags, bool blind_ok);
/* mode carries the type; *out (may be NULL) the new vnode, referenced */
int dirop_create(struct uvfs_ctx *ctx, struct dirop *d, mode_t mode,
		 dev_t rdev, const char *target, struct vnode **out);
/* the same without a lookup first (names.c: 1 not tried, *gone: d
 * released) */
int dirop_create_direct(struct uvfs_ctx *ctx, struct dirop *d, mode_t mode,
			dev_t rdev, const char *target, struct vnode **out,
			bool *gone);
int dirop_remove(struct uvfs_ctx *ctx, struct dirop *d, bool isdir);
int dirop_link(struct uvfs_ctx *ctx, const struct path *src,
	       struct dirop *d);
int path_chmod(struct uvfs_ctx *ctx, const struct path *p, mode_t mode,
	       unsigned kill);
int path_chown(struct uvfs_ctx *ctx, const struct path *p, uid_t uid,
	       gid_t gid);
int path_utimens(struct uvfs_ctx *ctx, const struct path *p,
		 const struct timespec times[2]);
int path_truncate(struct uvfs_ctx *ctx, const struct path *p, off_t len);
/* The same with the mode the truncation's clearing of set-id bits gives
 * (kill: decided by the caller; NULL: path_truncate's own decision). */
int path_truncate_mode(struct uvfs_ctx *ctx, const struct path *p,
		       off_t len, const mode_t *kill);
/* A write or truncation by ctx clears setuid/setgid (Linux
 * file_remove_privs).  => 1 cleared, 0 nothing to clear, or -errno. */
int file_kill_priv(const struct uvfs_ctx *ctx, struct vnode *vp);
int priv_kill_mode(const struct uvfs_ctx *ctx, struct vnode *vp,
		   mode_t *mode);
/* access(2) on a resolved path: F_OK or R_OK|W_OK|X_OK. */
int path_access(struct uvfs_ctx *ctx, const struct path *p, int amode);
/* Permission and type checks of open(2) on an existing file, O_TRUNC
 * applied. */
int open_check_path(struct uvfs_ctx *ctx, const struct path *p, int flags);
/* Opens p (moved in, also on failure) as a new open file description named
 * name (moved in). */
int file_open_path(struct path *p, int flags, const char *name,
		   struct file **out);
/* off < 0: at (and advancing) the file position */
ssize_t file_read(struct file *f, void *buf, size_t n, off_t off);
ssize_t file_write(struct file *f, const void *buf, size_t n, off_t off);

/* ---- nodes (node.c) ---------------------------------------------------- */

struct uvfs_node {
	struct path path;                   /* const; held */
	_Atomic uint64_t holds;             /* m->node_lock for 0 transitions */
	uint64_t ctx_id;                    /* const: the ctx that made it */
	struct cds_list_head mlink;         /* m->node_lock */
	void *owner;                        /* the owning front end's word
					       (uvfs_node_set_owner), under
					       its own locks; NULL when made */
	char name[];                        /* const: the path it was first
					       looked up by (diagnostics),
					       in the node's own allocation */
};

/* An open file of the node API: a description without a descriptor. */
struct uvfs_file {
	struct file *f;                     /* const; one reference */
	char label[64];                     /* const: who opened it */
	struct uvfs_cred cred;              /* const: the opener's, whom the
					       handle's I/O is for (as a
					       kernel file's f_cred) */
	struct cds_list_head mlink;         /* m->node_lock: m->handles */
};

/* ---- the instance ------------------------------------------------------ */

struct uvfs {
	struct uvfs_config cfg;             /* const */

	pthread_mutex_t types_lock;
	struct cds_list_head types;         /* types_lock */

	pthread_rwlock_t ns_lock;
	struct cds_list_head mounts;        /* ns_lock: attached mounts */
	/* The renames of directories (mount.c, "The names of mount
	 * points"): in flight now, and ended; both changed under ns_lock
	 * (write), the first also incremented without it.  A mount's
	 * name made while either moved is not trusted. */
	_Atomic unsigned long renames_inflight;
	_Atomic unsigned long names_gen;
	struct mount *root_mount;           /* ns_lock */
	_Atomic uint64_t next_mount_id;
	_Atomic unsigned next_dev;          /* anonymous device numbers */

	pthread_mutex_t ctx_lock;
	struct cds_list_head ctxs;          /* ctx_lock */
	_Atomic uint64_t next_ctx_id;
	_Atomic(const void *) node_owner;   /* who may use nodes' owner word */

	/* the vnode cache */
	pthread_mutex_t vc_lock;
	struct vnode **vc_hash;             /* vc_lock: chains (hash_next);
					       doubles as it fills */
	unsigned long vc_mask;              /* vc_lock */
	struct vnode **vc_old;              /* vc_lock: while a doubling
					       moves, the previous chains
					       (vc_old_mask + 1), or NULL */
	unsigned long vc_old_mask;          /* vc_lock */
	unsigned long vc_moved;             /* vc_lock: vc_old's chains
					       [0, vc_moved) are moved */
	unsigned long vc_count;             /* vc_lock: hashed vnodes, in
					       the two tables */
	struct cds_list_head lru;           /* vc_lock */
	unsigned long nlru;                 /* vc_lock */
	bool prune_queued;                  /* vc_lock */
	struct work prune_work;

	/* the name cache */
	pthread_mutex_t nc_lock;            /* a leaf */
	struct nc_table *_Atomic nc_table;  /* nc_lock to change (doubles
					       as it fills); RCU readers */
	struct nc_table *_Atomic nc_old;    /* the same: while a doubling
					       moves, the previous table,
					       else NULL */
	unsigned long nc_moved;             /* nc_lock: nc_old's buckets
					       [0, nc_moved) are moved */
	unsigned long nc_count;             /* nc_lock */
	_Atomic unsigned long nc_gen;       /* nc_lock to change: bumped by
					       every entry's removal and
					       every mount; read without it
					       by the contexts' path caches
					       (pcache.h) */

	/* the worker pool */
	pthread_mutex_t work_lock;
	pthread_cond_t work_cv;             /* work queued / stop (monotonic) */
	pthread_cond_t idle_cv;             /* queue drained (monotonic) */
	struct cds_list_head work_queue;    /* work_lock: urgent work */
	struct cds_list_head lazy_queue;    /* work_lock: vnode reclaims */
	unsigned work_running;              /* work_lock */
	unsigned long work_pending;         /* work_lock: queued + running */
	bool work_stop;                     /* work_lock */
	bool lazy_armed;                    /* work_lock: a batch is forming */
	struct timespec lazy_since;         /* work_lock: since when
					       (CLOCK_MONOTONIC) */
	unsigned hurry;                     /* work_lock: settlers waiting */
	pthread_t *workers;
	unsigned nworkers;

	/* the change hook (uvfs_set_change_hook) */
	pthread_mutex_t hook_lock;          /* a leaf */
	uvfs_change_hook_t hook;            /* hook_lock */
	void *hook_arg;                     /* hook_lock */

	/* file locks (lock.c): every vnode's vp->locks */
	pthread_mutex_t lk_lock;            /* a leaf */
	pthread_cond_t lk_cv;               /* with lk_lock (monotonic):
					       lk_seq moved */
	uint64_t lk_seq;                    /* lk_lock: locks released,
					       vnodes killed, waits cancelled */
	struct lk_queue *lk_q;              /* const (lock_init): the
					       asynchronous waits for locks
					       the core keeps (lock.c) */
	unsigned long lk_nwaits;            /* lk_lock: waits queued, in
					       every queue */
	bool lk_stop;                       /* lk_lock: the instance goes:
					       every wait ends (-EIO) */

	/* live-object counters (uvfs_stats) */
	_Atomic long nsb, nmounts, nvnodes, nfiles, nnodes, nctx;
	_Atomic long nzombie_sb;            /* sbs out of the namespace,
					       not yet freed */
};

/* Counter helpers that catch a count going negative in diagnostic
 * builds. */
#define CNT_INC(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define CNT_DEC(c) do { \
	long _o = atomic_fetch_sub_explicit(&(c), 1, memory_order_relaxed); \
	UVFS_VERIFY(_o > 0); \
} while (0)

/* Signals waiters of uvfs_settle (work_lock is taken). */
void settle_kick(struct uvfs *u);

/* mount.c internals used by uvfs.c */
int fstype_register_locked(struct uvfs *u, const struct uvfs_fstype_ops *ops);
int mount_root(struct uvfs *u);
void mount_shutdown_all(struct uvfs *u);
int vcache_init(struct uvfs *u);
void vcache_fini(struct uvfs *u);

#endif /* UVFS_CORE_H */

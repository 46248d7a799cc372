/*
 * uvfs.h - the embedding API of libuvfs.
 *
 * libuvfs is a virtual file system layer in user space: a mount namespace,
 * vnodes, path lookup, open files and descriptor tables, with unmount that is
 * always safe (normal with an O(1) busy check, forced with a deadline, lazy),
 * revoke, suspend/resume and file-system-type unregistration.
 *
 * Conventions
 *  - Every call returns 0 (or a count, or a descriptor) on success and a
 *    negative errno on failure; errno itself is never touched.
 *  - Flags and modes are the Linux ones: O_*, AT_*, RENAME_*, S_IF*, UTIME_*.
 *  - Out-parameters are written only on success.
 *  - All handles are opaque.  A context is used by one thread at a time
 *    unless stated otherwise; an instance is shared by any number of threads.
 *  - A call by name whose file system answers -ESTALE (a file server's file
 *    replaced or removed between the lookup and the call) is made again
 *    from the lookup, as Linux does, a few times at most; a call on a
 *    descriptor or a node is not, and may answer -ESTALE.
 */
#ifndef UVFS_UVFS_H
#define UVFS_UVFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvfs;            /* one VFS instance: namespace, caches, workers */
struct uvfs_ctx;        /* a client: credentials, root, cwd, descriptors */
struct uvfs_node;       /* a held (mount, vnode) pair, for front ends */
struct uvfs_fstype_ops; /* see <uvfs/fs.h> */

/* ---- instance ---------------------------------------------------------- */

struct uvfs_fstype_ops;
struct uvfs_config {
	const char *root_type;     /* file-system type of "/" (default "memfs") */
	const char *root_source;   /* its source (default "none") */
	const char *root_options;  /* its options (default "") */
	unsigned workers;          /* deferred-release threads (default 2) */
	unsigned vcache_max;       /* unreferenced vnodes kept (default 65536) */
	unsigned force_deadline_ms;/* forced-unmount deadline (default 1000) */
	/* More file-system types (NULL-terminated; may be NULL), registered
	 * before the root is mounted, so that root_type may be one of them
	 * (e.g. { &uvfs_hostfs_ops, NULL } for a "hostfs" root). */
	const struct uvfs_fstype_ops *const *fstypes;
};

/* => cfg may be NULL for all defaults.  memfs is registered built in. */
int uvfs_new(const struct uvfs_config *cfg, struct uvfs **out);
/* => every context must be freed first; unmounts everything (forced). */
void uvfs_free(struct uvfs *u);

/* Waits until the deferred-release workers are idle and every detached or
 * force-unmounted file system has finished shutting down, or timeout_ms
 * passes (-ETIMEDOUT).  timeout_ms < 0 waits forever. */
int uvfs_settle(struct uvfs *u, int timeout_ms);
/* Where the calling thread is: the device number (st_dev) of the mount
 * whose file system it is inside now (in one of its operations, which may
 * be waiting on a server), 0 when in none.  The word stays valid while the
 * thread lives and may be read by another thread meanwhile (a front end
 * saying which mount each of its requests waits in: a lookup that crosses
 * into a mount waits in that one, not in the directory's). */
#ifdef __cplusplus
/* (C++ has no _Atomic: the same word, to be read atomically, e.g.
 * __atomic_load_n(p, __ATOMIC_RELAXED) or std::atomic_ref) */
const unsigned long long *uvfs_thread_where(void);
#else
const _Atomic unsigned long long *uvfs_thread_where(void);
#endif

/* Front ends that cache (FUSE: the kernel's caches) learn here that a file
 * system changed behind their back (its server restarted): fn(arg, dev)
 * with the st_dev of its files, from the driver's thread.  One hook per
 * instance; NULL removes it, and once that call returns the old hook is
 * not running and will not run. */
typedef void (*uvfs_change_hook_t)(void *arg, dev_t dev);
void uvfs_set_change_hook(struct uvfs *u, uvfs_change_hook_t fn, void *arg);

/* ---- contexts ---------------------------------------------------------- */

#define UVFS_NGROUPS_MAX 32
struct uvfs_cred {
	uid_t uid;
	gid_t gid;
	unsigned ngroups;
	gid_t groups[UVFS_NGROUPS_MAX];
};

/* A new context with root and cwd at the namespace root, umask 022 and an
 * empty descriptor table.  cred NULL means root (uid 0, gid 0). */
int uvfs_ctx_new(struct uvfs *u, const struct uvfs_cred *cred,
		 struct uvfs_ctx **out);
/* Closes every descriptor and drops root and cwd. */
void uvfs_ctx_free(struct uvfs_ctx *ctx);
uint64_t uvfs_ctx_id(const struct uvfs_ctx *ctx);
/* A label shown by holder queries (e.g. "pid 1234"); copied. */
int uvfs_ctx_set_label(struct uvfs_ctx *ctx, const char *label);
int uvfs_ctx_set_cred(struct uvfs_ctx *ctx, const struct uvfs_cred *cred);
mode_t uvfs_umask(struct uvfs_ctx *ctx, mode_t mask);

/* ---- POSIX-shaped calls ------------------------------------------------ */

#define UVFS_AT_FDCWD (-100) /* == AT_FDCWD */

int uvfs_open(struct uvfs_ctx *ctx, const char *path, int flags, mode_t mode);
int uvfs_openat(struct uvfs_ctx *ctx, int dirfd, const char *path, int flags,
		mode_t mode);
int uvfs_close(struct uvfs_ctx *ctx, int fd);
int uvfs_dup(struct uvfs_ctx *ctx, int fd);
int uvfs_dup2(struct uvfs_ctx *ctx, int fd, int newfd);
ssize_t uvfs_read(struct uvfs_ctx *ctx, int fd, void *buf, size_t n);
ssize_t uvfs_write(struct uvfs_ctx *ctx, int fd, const void *buf, size_t n);
ssize_t uvfs_pread(struct uvfs_ctx *ctx, int fd, void *buf, size_t n,
		   off_t off);
ssize_t uvfs_pwrite(struct uvfs_ctx *ctx, int fd, const void *buf, size_t n,
		    off_t off);
off_t uvfs_lseek(struct uvfs_ctx *ctx, int fd, off_t off, int whence);
/* The stat calls fill *st in place: on error its contents are
 * unspecified (a file system may have written part of it). */
int uvfs_fstat(struct uvfs_ctx *ctx, int fd, struct stat *st);
int uvfs_stat(struct uvfs_ctx *ctx, const char *path, struct stat *st);
int uvfs_lstat(struct uvfs_ctx *ctx, const char *path, struct stat *st);
/* flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH */
int uvfs_fstatat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		 struct stat *st, int flags);
int uvfs_access(struct uvfs_ctx *ctx, const char *path, int amode);
int uvfs_mkdir(struct uvfs_ctx *ctx, const char *path, mode_t mode);
int uvfs_mkdirat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		 mode_t mode);
int uvfs_mknod(struct uvfs_ctx *ctx, const char *path, mode_t mode, dev_t dev);
int uvfs_rmdir(struct uvfs_ctx *ctx, const char *path);
int uvfs_unlink(struct uvfs_ctx *ctx, const char *path);
/* flags: AT_REMOVEDIR */
int uvfs_unlinkat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		  int flags);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE */
int uvfs_rename(struct uvfs_ctx *ctx, const char *from, const char *to,
		unsigned flags);
int uvfs_renameat2(struct uvfs_ctx *ctx, int fromdirfd, const char *from,
		   int todirfd, const char *to, unsigned flags);
int uvfs_link(struct uvfs_ctx *ctx, const char *from, const char *to);
int uvfs_symlink(struct uvfs_ctx *ctx, const char *target,
		 const char *linkpath);
ssize_t uvfs_readlink(struct uvfs_ctx *ctx, const char *path, char *buf,
		      size_t size);
int uvfs_chdir(struct uvfs_ctx *ctx, const char *path);
int uvfs_fchdir(struct uvfs_ctx *ctx, int fd);
/* Changes the context's root; lookups never leave it afterwards. */
int uvfs_chroot(struct uvfs_ctx *ctx, const char *path);
/* => returns the length written (with the NUL) or -ERANGE, -ENOENT if the
 *    cwd is no longer reachable from the root. */
int uvfs_getcwd(struct uvfs_ctx *ctx, char *buf, size_t size);
/* The canonical path of path from the context's root: every symlink
 * followed, no ".", ".." or repeated '/' (what a front end caches the file
 * under).  The last name is looked up in its directory but the file system
 * mounted on it, if any, is not entered, so a suspended mount's root has a
 * canonical path too.  => the length written (without the NUL), -ERANGE,
 * -ENOENT, -ELOOP, -ENOTDIR, -EACCES ... */
int uvfs_realpath(struct uvfs_ctx *ctx, const char *path, char *buf,
		  size_t size);
int uvfs_truncate(struct uvfs_ctx *ctx, const char *path, off_t len);
int uvfs_ftruncate(struct uvfs_ctx *ctx, int fd, off_t len);
int uvfs_fsync(struct uvfs_ctx *ctx, int fd);
int uvfs_statfs(struct uvfs_ctx *ctx, const char *path, struct statvfs *st);

/*
 * The Linux file calls, with Linux's checks and errors (docs/design.md,
 * "fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range").
 *  - uvfs_fallocate: mode 0 (allocate, the size grows), FALLOC_FL_KEEP_SIZE,
 *    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE where the file system has
 *    them (memfs; 9P2000.L and NFSv3 answer -EOPNOTSUPP, as Linux's v9fs
 *    and NFSv3 clients).  Clears set-user-id as a write does.
 *  - SEEK_DATA and SEEK_HOLE go through uvfs_lseek; a file system that
 *    knows no holes answers one data extent up to the size.
 *  - uvfs_copy_file_range: off_in (off_out) NULL reads (writes) at the
 *    descriptor's position and advances it, else *off_in (*off_out) is
 *    used and advanced.  flags must be 0.  -EXDEV across file systems
 *    (as tmpfs to tmpfs); within one, the file system copies (memfs:
 *    holes stay holes) or the core reads and writes.
 */
int uvfs_fallocate(struct uvfs_ctx *ctx, int fd, int mode, off_t off,
		   off_t len);
ssize_t uvfs_copy_file_range(struct uvfs_ctx *ctx, int fd_in, off_t *off_in,
			     int fd_out, off_t *off_out, size_t len,
			     unsigned flags);

/*
 * Extended attributes, as Linux's getxattr(2) family (the l* forms do not
 * follow a final symlink, the f* forms take a descriptor).  Namespaces:
 * "user." (regular files and directories; read or write permission on
 * the file, and in a sticky directory only its owner may write),
 * "trusted." (root only; hidden from others' lists), "security." (anyone
 * reads, root writes); others are -EOPNOTSUPP.  Names are 1..255 bytes
 * (-ERANGE), values at most UVFS_XATTR_SIZE_MAX (-E2BIG).  flags:
 * XATTR_CREATE, XATTR_REPLACE.  A file system without them answers
 * -EOPNOTSUPP.
 */
#define UVFS_XATTR_SIZE_MAX 65536
ssize_t uvfs_getxattr(struct uvfs_ctx *ctx, const char *path,
		      const char *name, void *value, size_t size);
ssize_t uvfs_lgetxattr(struct uvfs_ctx *ctx, const char *path,
		       const char *name, void *value, size_t size);
ssize_t uvfs_fgetxattr(struct uvfs_ctx *ctx, int fd, const char *name,
		       void *value, size_t size);
int uvfs_setxattr(struct uvfs_ctx *ctx, const char *path, const char *name,
		  const void *value, size_t size, int flags);
int uvfs_lsetxattr(struct uvfs_ctx *ctx, const char *path, const char *name,
		   const void *value, size_t size, int flags);
int uvfs_fsetxattr(struct uvfs_ctx *ctx, int fd, const char *name,
		   const void *value, size_t size, int flags);
ssize_t uvfs_listxattr(struct uvfs_ctx *ctx, const char *path, char *list,
		       size_t size);
ssize_t uvfs_llistxattr(struct uvfs_ctx *ctx, const char *path, char *list,
			size_t size);
ssize_t uvfs_flistxattr(struct uvfs_ctx *ctx, int fd, char *list,
			size_t size);
int uvfs_removexattr(struct uvfs_ctx *ctx, const char *path,
		     const char *name);
int uvfs_lremovexattr(struct uvfs_ctx *ctx, const char *path,
		      const char *name);
int uvfs_fremovexattr(struct uvfs_ctx *ctx, int fd, const char *name);
int uvfs_chmod(struct uvfs_ctx *ctx, const char *path, mode_t mode);
int uvfs_fchmod(struct uvfs_ctx *ctx, int fd, mode_t mode);
/* (uid_t)-1 / (gid_t)-1 leave that field alone; follows symlinks. */
int uvfs_chown(struct uvfs_ctx *ctx, const char *path, uid_t uid, gid_t gid);
int uvfs_lchown(struct uvfs_ctx *ctx, const char *path, uid_t uid, gid_t gid);
int uvfs_fchown(struct uvfs_ctx *ctx, int fd, uid_t uid, gid_t gid);
/* times may be NULL (now); UTIME_NOW / UTIME_OMIT honoured;
 * flags: AT_SYMLINK_NOFOLLOW */
int uvfs_utimensat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		   const struct timespec times[2], int flags);
int uvfs_futimens(struct uvfs_ctx *ctx, int fd,
		  const struct timespec times[2]);

/* Directory reading.  Each entry carries the cookie of the entry after it;
 * lseek(fd, cookie, SEEK_SET) resumes there, even after other entries were
 * added or removed (an entry present throughout is returned exactly once). */
struct uvfs_dirent {
	uint64_t ino;
	uint64_t next;       /* cookie of the following entry */
	unsigned char type;  /* DT_* */
	char name[256];
};
/* => returns the number of entries stored (0 at the end). */
ssize_t uvfs_readdir(struct uvfs_ctx *ctx, int fd, struct uvfs_dirent *ents,
		     size_t nents);

/* ---- mounts ------------------------------------------------------------ */

#define UVFS_UMOUNT_FORCE  0x1 /* bounded time; leftovers turn dead (EIO) */
#define UVFS_UMOUNT_DETACH 0x2 /* lazy: detach now, finish at last release */

int uvfs_fstype_register(struct uvfs *u, const struct uvfs_fstype_ops *ops);
/* Unmounts every instance of the type (FORCE, or DETACH when flags say so;
 * FORCE also kills the instances a lazy unmount took out of the namespace
 * before, still in use) and waits up to deadline_ms (<0: default
 * deadline) until none of them can call the driver again (each superblock
 * shut down; dead handles that are still open keep only a shell):
 * -ETIMEDOUT if that does not happen in time (the type then stays
 * registered but refuses new mounts).  With DETACH,
 * instances still in use are only shut down at their last release.  A
 * mount of the type whose driver was still mounting when the unregister
 * began is refused (-ENODEV), not attached. */
int uvfs_fstype_unregister(struct uvfs *u, const char *name, unsigned flags,
			   int deadline_ms);

/* options: comma-separated, "ro" understood by the core, the rest passed to
 * the driver; the core also takes "deadline=MS" (forced-unmount deadline).
 * The namespace root cannot be mounted on, by whatever path (-EBUSY). */
int uvfs_mount(struct uvfs_ctx *ctx, const char *type, const char *source,
	       const char *target, const char *options);
/* no flags: -EBUSY in O(1) when anything but the namespace holds the mount;
 * when it returns 0 the file system has been shut down. */
int uvfs_umount(struct uvfs_ctx *ctx, const char *target, unsigned flags);
/* Every open file of the file at path becomes dead (EIO but for close);
 * the next lookup gets a fresh vnode.  Waits at most the mount's deadline
 * for the operations inside its file system to leave; past it, that file
 * system is killed as a forced unmount would (every file of it answers
 * EIO) but stays mounted until unmounted, so nothing waits longer. */
int uvfs_revoke(struct uvfs_ctx *ctx, const char *path);
/* New operations on the mount wait; returns once in-flight ones drained. */
int uvfs_suspend(struct uvfs_ctx *ctx, const char *target);
int uvfs_resume(struct uvfs_ctx *ctx, const char *target);

/*
 * Naming a mount by its id.  The calls above, and uvfs_holders, name
 * their mount by a path, which is walked (docs/lifecycle.md, "Naming a
 * mount"): it reaches only the topmost mount on a mount point, and it
 * goes through every mount above, each behind its gate.  So a mount
 * covered by a later one (on the same path, or on its root) cannot be
 * named at all, a suspended one's open files then wait for good, and a
 * call on a mount below a hung server waits for the server's deadline.
 * These name the mount by its id instead (uvfs_mount_info.id, the
 * "id=N" of `uvfs mounts`): the attached mount with that id, found in
 * the mount table under the namespace lock, without a walk, so they never
 * enter a file system and wait for nothing a path would (a suspend still
 * waits for its own mount's operations to drain).
 *
 * Ids are given in increasing order and never reused by an instance (its
 * namespace), so the id of a mount that is gone names nothing, never a
 * later mount: -ENOENT.  -EINVAL: the mount is being unmounted.
 * Permissions are those of a path: root contexts only, as for the calls
 * above (uvfs_holders_id too: without a walk no search permission is
 * checked), -EPERM otherwise; and only a mount a path from the context's
 * root could name: from the namespace root, every mount; from a root
 * chrooted to a mount's root, that mount and the mounts below it (others
 * -ENOENT); from a root chrooted to any other directory, none (-EPERM:
 * which mounts are below it cannot be told without a walk).
 *
 * Calls of their own, not a form of the target string: every string is a
 * path (a relative "id:7" names a file in the working directory), so a
 * form inside the path argument would make some paths ambiguous.
 */
int uvfs_umount_id(struct uvfs_ctx *ctx, uint64_t id, unsigned flags);
int uvfs_suspend_id(struct uvfs_ctx *ctx, uint64_t id);
int uvfs_resume_id(struct uvfs_ctx *ctx, uint64_t id);
/* The id of the mount path names, from the mount table without a walk,
 * as a forced unmount names it (docs/lifecycle.md, "Naming a mount"): a
 * path of a root context without ".", ".." or a symbolic link, equal to a
 * mount point's name from the context's root, whose mount a walk would
 * reach there (the topmost on its mount point).  For a front end that
 * must not wait on a hung server above the mount it names (a walk there
 * waits for the server's deadline): then the *_id calls.  => 0 with *id;
 * -ENOENT: the table cannot tell (walk: the path calls); -EINVAL. */
int uvfs_mount_id_of(struct uvfs_ctx *ctx, const char *path, uint64_t *id);

/*
 * Interrupting a wait at a suspended mount (FUSE INTERRUPT).  A front end
 * that hears when a caller gives up makes one uvfs_intr per thread and,
 * around each request the thread runs for a caller, sets it with the
 * request's data (uvfs_intr_set(w, data) ... uvfs_intr_set(NULL, NULL)).
 * When an operation of that thread is about to wait at a mount that is
 * suspended (or closed for a revoke or an unmount), the library calls
 * arm(data, w, 1) on that thread with none of its locks held, and after
 * the wait arm(data, w, 0), which must not return while a
 * uvfs_intr_cancel(w) that the front end started runs.  uvfs_intr_cancel
 * (any thread, any time; also from inside arm) ends the wait: the
 * operation answers -EINTR and never entered the file system.  A cancel
 * before the wait makes the wait end at once; uvfs_intr_set clears it.
 * A file's last release and its flush are never cut short, nor are waits
 * other than at a mount's gate: for a directory's lock (its holder is an
 * operation that waits itself, and lets go when its wait ends) or for a
 * file server's reply (which has its deadline).
 */
struct uvfs_intr;
struct uvfs_intr *uvfs_intr_new(void (*arm)(void *data, struct uvfs_intr *w,
					     int waiting));
void uvfs_intr_free(struct uvfs_intr *w);
void uvfs_intr_set(struct uvfs_intr *w, void *data);
void uvfs_intr_cancel(struct uvfs_intr *w);

enum uvfs_holder_kind {
	UVFS_HOLDER_FILE,       /* an open file: fd and path */
	UVFS_HOLDER_CWD,        /* a context's working directory */
	UVFS_HOLDER_ROOT,       /* a context's root */
	UVFS_HOLDER_NODE,       /* a node held through the node API */
	UVFS_HOLDER_CHILD,      /* a mount below this one */
};
struct uvfs_holder {
	enum uvfs_holder_kind kind;
	uint64_t ctx_id;        /* FILE/CWD/ROOT: the holding ctx (0 for a
				   node-API handle: see ctx_label); NODE:
				   the ctx that looked it up; CHILD: 0 */
	char ctx_label[64];
	int fd;                 /* FILE: the descriptor; else -1 */
	char path[1024];        /* FILE/CWD/ROOT/NODE: path in the namespace;
	                           CHILD: the child's mount point */
};
/* => *out is malloc'ed (free it); a snapshot: holders may come and go. */
int uvfs_holders(struct uvfs_ctx *ctx, const char *target,
		 struct uvfs_holder **out, size_t *n);
/* The same for the mount whose id is id (above, "Naming a mount by its
 * id"). */
int uvfs_holders_id(struct uvfs_ctx *ctx, uint64_t id,
		    struct uvfs_holder **out, size_t *n);
const char *uvfs_holder_kind_name(enum uvfs_holder_kind kind);

struct uvfs_mount_info {
	uint64_t id, parent_id;  /* id: unique in the instance, never reused
				   (uvfs_umount_id and the others) */
	char target[1024];
	char type[32];
	char source[256];
	char options[256];
	char state[16];         /* "active", "suspended" */
	uint64_t refs;          /* references beyond the namespace's */
	uint64_t inflight;      /* operations inside its file system now */
	unsigned deadline_ms;   /* its forced-unmount deadline: "deadline=MS",
				   else uvfs_config.force_deadline_ms */
};
int uvfs_mount_list(struct uvfs *u, struct uvfs_mount_info **out, size_t *n);

struct uvfs_stats {
	uint64_t superblocks, mounts, vnodes, files, nodes, contexts;
	uint64_t vnodes_cached;     /* unreferenced, on the LRU */
	uint64_t deferred_pending;  /* queued release work */
};
void uvfs_stats(struct uvfs *u, struct uvfs_stats *st);

/* ---- node-level API for front ends ------------------------------------- */
/*
 * A node is a held (mount, vnode) pair.  Each call that returns a node adds
 * one hold; uvfs_node_release(node, n) drops n (FUSE FORGET).  A node stays
 * valid while held.  The same pair always yields the same node, so its
 * address can serve as a stable node id.  Nodes of dead vnodes answer -EIO
 * until released.
 */
int uvfs_node_root(struct uvfs_ctx *ctx, struct uvfs_node **out);
/* Looks name up in dir (a directory node), crossing mount points both ways.
 * st NULL: no attributes are fetched, so no file system is entered for
 * them (the root of a mount crossed into may be suspended, its server
 * hung): a front end's walk to a path it only invalidates. */
int uvfs_node_lookup(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, struct uvfs_node **out,
		     struct stat *st);
/* As uvfs_node_lookup, but a name that leads into another mount (a mount
 * point, "..") answers -EXDEV without entering that mount's file system,
 * which may be suspended or waiting on its server: for a listing with
 * attributes (FUSE's readdirplus), which must not wait on a file system
 * it does not list. */
int uvfs_node_lookup_here(struct uvfs_ctx *ctx, struct uvfs_node *dir,
			  const char *name, struct uvfs_node **out,
			  struct stat *st);
void uvfs_node_hold(struct uvfs_node *node);
void uvfs_node_release(struct uvfs_node *node, uint64_t n);
int uvfs_node_getattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
		      struct stat *st);
/* Non-zero when the node's file system changes only through this VFS (its
 * type does not set UVFS_FS_NO_NAMECACHE: memfs, not a file server): a
 * front end may then cache its names, attributes and data for as long as
 * it likes, since every change either comes through the front end itself
 * or is announced (mount, unmount, revoke, the change hook). */
int uvfs_node_exclusive(const struct uvfs_node *node);
/* The id of the mount the node is in (uvfs_mount_info.id; never reused):
 * a front end may count its requests per mount with it (uvfsd keeps one
 * file server that hangs from holding every thread it has). */
uint64_t uvfs_node_mount_id(const struct uvfs_node *node);
/* One front end per instance may keep a word on each node: its own record
 * of the node, found from the node in O(1) (FUSE's: the kernel's lookup
 * count), where a table keyed by the node's address would cost a hash
 * lookup per reply.  uvfs_node_owner_claim(u, who) => 0, or -EBUSY when
 * another front end holds the claim; _unclaim gives it back.  The word is
 * NULL on each new node (a node freed and made again starts afresh); the
 * library never reads it; the claimant guards it with its own locks and
 * clears what it keeps there before the node's last hold goes. */
int uvfs_node_owner_claim(struct uvfs *u, const void *who);
void uvfs_node_owner_unclaim(struct uvfs *u, const void *who);
void *uvfs_node_owner(const struct uvfs_node *node);
void uvfs_node_set_owner(struct uvfs_node *node, void *word);

#define UVFS_SET_MODE  0x01
#define UVFS_SET_UID   0x02
#define UVFS_SET_GID   0x04
#define UVFS_SET_SIZE  0x08
#define UVFS_SET_ATIME 0x10
#define UVFS_SET_MTIME 0x20
/* With UVFS_SET_MODE: the mode only clears set-user-ID and set-group-ID
 * after a write or truncation by someone without CAP_FSETID (Linux's
 * ATTR_KILL_SUID/ATTR_KILL_SGID), not a chmod.  A driver whose server
 * clears them itself and would refuse the writer the chmod (NFS) leaves
 * the mode out. */
#define UVFS_SET_KILLPRIV 0x40
struct uvfs_setattr {
	unsigned valid;         /* UVFS_SET_* */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec atime, mtime; /* tv_nsec may be UTIME_NOW */
};
int uvfs_node_setattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
		      const struct uvfs_setattr *sa, struct stat *st);
ssize_t uvfs_node_read(struct uvfs_ctx *ctx, struct uvfs_node *node,
		       void *buf, size_t n, off_t off);
ssize_t uvfs_node_write(struct uvfs_ctx *ctx, struct uvfs_node *node,
			const void *buf, size_t n, off_t off);
/* Calls fill for each entry from cookie on until it returns non-zero. */
typedef int (*uvfs_node_filldir_t)(void *arg, const struct uvfs_dirent *de);
int uvfs_node_readdir(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		      uint64_t cookie, uvfs_node_filldir_t fill, void *arg);
/* mode carries the type (S_IFREG, S_IFDIR, S_IFLNK needs target, ...). */
int uvfs_node_create(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, mode_t mode, dev_t rdev,
		     const char *symlink_target, struct uvfs_node **out,
		     struct stat *st);

/* Names in a directory node (no ".", "..", or '/'). */
int uvfs_node_mkdir(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		    const char *name, mode_t mode, struct uvfs_node **out,
		    struct stat *st);
/* isdir: rmdir semantics.  -EBUSY for a mount point. */
int uvfs_node_unlink(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, int isdir);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE.  -EXDEV across mounts. */
int uvfs_node_rename(struct uvfs_ctx *ctx, struct uvfs_node *odir,
		     const char *oname, struct uvfs_node *ndir,
		     const char *nname, unsigned flags);
int uvfs_node_link(struct uvfs_ctx *ctx, struct uvfs_node *node,
		   struct uvfs_node *dir, const char *name,
		   struct uvfs_node **out, struct stat *st);
ssize_t uvfs_node_readlink(struct uvfs_ctx *ctx, struct uvfs_node *node,
			   char *buf, size_t size);
/* Extended attributes of a node, as uvfs_lgetxattr and the others. */
ssize_t uvfs_node_getxattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
			   const char *name, void *value, size_t size);
int uvfs_node_setxattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
		       const char *name, const void *value, size_t size,
		       int flags);
ssize_t uvfs_node_listxattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
			    char *list, size_t size);
int uvfs_node_removexattr(struct uvfs_ctx *ctx, struct uvfs_node *node,
			  const char *name);
int uvfs_node_statfs(struct uvfs_ctx *ctx, struct uvfs_node *node,
		     struct statvfs *st);
/* mask: F_OK or R_OK|W_OK|X_OK, checked with the context's credentials */
int uvfs_node_access(struct uvfs_ctx *ctx, struct uvfs_node *node,
		     int mask);

/*
 * Open files of the node API (FUSE file handles).  A handle is an open file
 * description without a descriptor: it holds its mount (so it makes it busy
 * and shows in holders as a FILE with fd -1, its path, and the label given
 * here, e.g. "pid 1234"), dies on revoke and forced unmount (-EIO but for
 * release), and is released exactly once.  flags as for open(2), without
 * O_CREAT/O_EXCL (use uvfs_node_create first); O_TRUNC truncates.
 */
struct uvfs_file;
int uvfs_node_open(struct uvfs_ctx *ctx, struct uvfs_node *node, int flags,
		   const char *label, struct uvfs_file **out);
/* For uvfs_node_open's flags, with O_WRONLY: the front end may also read
 * through the handle, to fill its page cache around a partial write (a
 * kernel writeback cache).  The access checked is the one asked for (write
 * only); the file system's handle is opened for reading and writing. */
#define UVFS_O_FILL 0x40000000
ssize_t uvfs_file_pread(struct uvfs_file *f, void *buf, size_t n, off_t off);
/* O_APPEND handles append whatever off says. */
ssize_t uvfs_file_pwrite(struct uvfs_file *f, const void *buf, size_t n,
			 off_t off);
/* Before a write or truncation through f by ctx's credentials: clears
 * set-user-id (and set-group-id with group execute) unless ctx is root, as
 * Linux does on write(2) and truncate(2) (uvfs_write and uvfs_truncate do
 * it themselves).  => 1 bits cleared (cached attributes are stale), 0
 * none, or -errno. */
int uvfs_file_kill_priv(struct uvfs_ctx *ctx, struct uvfs_file *f);
int uvfs_file_fsync(struct uvfs_file *f, int datasync);
/* A close of a descriptor of f (FUSE's FLUSH): the driver reports the
 * errors of writes it sent behind, and waits for them (fs.h's flush).
 * f stays open.  uvfs_file_flushes: 1 if f is open for writing on a
 * driver that has a flush, or a file lock was ever taken on its file
 * system (a close then ends the closer's POSIX locks:
 * uvfs_file_unlock_owner); else a flush does nothing: FUSE may be told
 * not to send it. */
int uvfs_file_flush(struct uvfs_file *f);
int uvfs_file_flushes(const struct uvfs_file *f);
/* ftruncate: the handle must be open for writing (-EINVAL). */
int uvfs_file_truncate(struct uvfs_file *f, off_t len);
/* Directory handles: entries from cookie on, as uvfs_node_readdir. */
int uvfs_file_readdir(struct uvfs_file *f, uint64_t cookie,
		      uvfs_node_filldir_t fill, void *arg);
int uvfs_file_fstat(struct uvfs_file *f, struct stat *st);
/* The Linux file calls on handles, with the checks of uvfs_fallocate and
 * uvfs_copy_file_range; the set-id bits are the front end's (FUSE's
 * kernel clears them before it sends the request).  A handle has no
 * position: uvfs_file_lseek takes SEEK_DATA and SEEK_HOLE only (-EINVAL
 * for the others).  uvfs_file_copy_range also copies between handles of
 * two file systems (reading and writing), as FUSE asks it to. */
int uvfs_file_fallocate(struct uvfs_file *f, int mode, off_t off, off_t len);
off_t uvfs_file_lseek(struct uvfs_file *f, off_t off, int whence);
ssize_t uvfs_file_copy_range(struct uvfs_file *in, off_t off_in,
			     struct uvfs_file *out, off_t off_out, size_t len,
			     unsigned flags);
void uvfs_file_release(struct uvfs_file *f);

/*
 * File locks (docs/design.md, "File locks"), on every file-system type:
 * local to this instance on memfs, held on the server for a 9P mount.
 *
 * uvfs_fcntl_lock: record locks owned by the open file description, as
 * Linux's OFD locks.  cmd F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW (F_GETLK,
 * F_SETLK, F_SETLKW mean the same here: the owner is the description,
 * never the process); fl as fcntl(2): l_whence SEEK_SET, SEEK_CUR or
 * SEEK_END, l_len 0 for "to the end" or negative for the bytes before
 * l_start; l_pid must be 0 (-EINVAL).  A read lock needs a descriptor open
 * for reading, a write lock one open for writing (-EBADF).  SETLK: -EAGAIN
 * on a conflict.  SETLKW waits until granted, until timeout_ms passes
 * (-ETIMEDOUT; -1: no limit), or until the file dies (revoke, forced
 * unmount: -EIO).  GETLK: fl becomes the first conflicting lock (l_pid -1
 * for a description's lock, as Linux says), or only l_type turns F_UNLCK.
 * No deadlock detection.  The locks go at the last close of the
 * description (a dup shares them).
 *
 * uvfs_flock: flock(2) (LOCK_SH, LOCK_EX, LOCK_UN, | LOCK_NB for
 * -EWOULDBLOCK), owned by the description, apart from the record locks;
 * a blocking one waits as SETLKW.
 */
struct flock;
int uvfs_fcntl_lock(struct uvfs_ctx *ctx, int fd, int cmd, struct flock *fl,
		    int timeout_ms);
int uvfs_flock(struct uvfs_ctx *ctx, int fd, int op, int timeout_ms);

/*
 * The same for node-API handles (FUSE getlk, setlk, flock), with the owner
 * the front end was given (FUSE's lock_owner: a process for POSIX locks,
 * a description for OFD and flock locks).  cmd F_GETLK, F_SETLK, F_SETLKW;
 * flock: the flock space (fl->l_type only: F_RDLCK shared, F_WRLCK
 * exclusive, F_UNLCK); pid: reported by a GETLK that meets this lock.  A
 * wait ends as above (no time limit), or with -EINTR when w (NULL: none)
 * is cancelled: uvfs_lock_wait_cancel, from any thread (FUSE INTERRUPT).
 * uvfs_file_unlock_owner drops every lock of owner on f's file in one
 * space: a close by the owner (FUSE FLUSH: POSIX locks; RELEASE with
 * flock_release: flock locks).
 */
struct uvfs_lock_wait;
struct uvfs_lock_wait *uvfs_lock_wait_new(void);
void uvfs_lock_wait_cancel(struct uvfs_lock_wait *w);
void uvfs_lock_wait_free(struct uvfs_lock_wait *w);
int uvfs_file_lock(struct uvfs_file *f, uint64_t owner, int flock, int cmd,
		   struct flock *fl, pid_t pid, struct uvfs_lock_wait *w);
int uvfs_file_unlock_owner(struct uvfs_file *f, uint64_t owner, int flock);

/*
 * uvfs_file_lock_async: a blocking lock (F_SETLKW; flock: LOCK_SH or
 * LOCK_EX without LOCK_NB) whose wait holds no thread of the caller's.
 * Answers at once what needs no wait: 0 (granted), a negative errno (as
 * uvfs_file_lock; an unlock is done at once); done is then never called.
 * Else -EINPROGRESS: the request waits in the core, and done(arg, err)
 * runs exactly once when the wait ends: 0 granted, -EINTR cancelled
 * (uvfs_lock_wait_cancel(w), from any thread, at any time, even before
 * this call returns), -EIO the file died (revoke, forced unmount, a
 * suspended mount torn down, the instance's end), or an error of the
 * file system.  done runs on a lock-wait thread of the core (one for the
 * locks it keeps, one per mount whose file server keeps them) with none
 * of the library's locks held (it may call the library, take its own
 * locks and reply to the request; it should not block: the other waits
 * of its thread are tried after it).  Waits are tried again in the order they were queued.
 * w (uvfs_lock_wait_new) serves one wait: it must stay allocated until
 * done has run and no uvfs_lock_wait_cancel(w) is in progress; the core
 * does not touch it after done returns.  The handle must stay open until
 * then (the wait holds its file, not the handle).  No deadlock detection.
 */
typedef void (*uvfs_lock_done_fn)(void *arg, int err);
int uvfs_file_lock_async(struct uvfs_file *f, uint64_t owner, int flock,
			 const struct flock *fl, pid_t pid,
			 struct uvfs_lock_wait *w, uvfs_lock_done_fn done,
			 void *arg);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_UVFS_H */

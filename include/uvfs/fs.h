/*
 * fs.h - the interface a file-system driver implements.
 *
 * A driver registers a struct uvfs_fstype_ops.  The core calls every vnode
 * operation inside the superblock's gate, with a reference on the vnode, so a
 * driver never sees an operation on an object it has been told to reclaim.
 * A driver names its objects by a 64-bit file id (ino); the core keeps one
 * vnode per (superblock, ino) and asks the driver for its private object with
 * vget, and gives it back with reclaim.
 *
 * Permission checks, O_* semantics, mount points and EXDEV are the core's;
 * type checks that need the driver's own locking (ENOTEMPTY, EISDIR/ENOTDIR
 * on rename, EEXIST, EINVAL for a directory moved below itself) are the
 * driver's.  All operations return 0, a count, or a negative errno.
 * -ESTALE says that the object no longer reaches its file (replaced or
 * removed behind the lookup that gave it) and that nothing was done: the
 * core then makes a call by name again from its lookup.  -ENOENT from an
 * operation on a name in a directory is that name's.
 */
#ifndef UVFS_FS_H
#define UVFS_FS_H

#include <uvfs/uvfs.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvfs_sb;

void *uvfs_sb_private(const struct uvfs_sb *sb);
void uvfs_sb_set_private(struct uvfs_sb *sb, void *priv);
/* The file system's contents may have changed behind the VFS (a file
 * server was restarted): front ends drop what they cache of it (the
 * change hook of uvfs.h).  Any thread, no lock of the core held. */
void uvfs_sb_changed(struct uvfs_sb *sb);
/* From the driver's mount: this instance buffers writes (sends them
 * behind), so the core calls its flush at each close of a descriptor
 * open for writing (see flush below).  Without it, flush is never
 * called and closes cost nothing (FUSE is told not to send FLUSH). */
void uvfs_sb_set_flushes(struct uvfs_sb *sb);

/*
 * The credentials of the operation in progress on the calling thread: a
 * copy of those of the context whose path, parent or descriptor the
 * thread last resolved (every vnode operation of a call on a context
 * comes after that, in the same thread).  NULL on a thread that never did: the
 * core's worker threads, which do deferred work (a last release) for no
 * caller; a driver that must act for someone there uses credentials it
 * kept (its open file's, captured at open).  Valid until the calling
 * operation returns; copy what is kept longer.  For drivers whose server
 * checks permissions itself (NFS's AUTH_SYS): the core's own checks
 * (DESIGN invariant 13) still come first.
 */
const struct uvfs_cred *uvfs_cred_current(void);

/* Returns non-zero to stop the listing; the entry it returned non-zero for
 * is not consumed (the caller resumes at the previous entry's next).  next
 * is the cookie that resumes after this entry. */
typedef int (*uvfs_filldir_t)(void *arg, const char *name, uint64_t ino,
			      unsigned char type, uint64_t next);

/*
 * The options a file-system type takes, described for checking and help
 * (`uvfs mount --help`).  A table ends with an entry whose name is NULL.
 * The core checks a mount's options against it before calling mount():
 * an unknown name, a flag given a value, a value missing, or a NUMBER or
 * SIZE that is not one fail with -EINVAL and a reason
 * (uvfs_mount_options_check).  Ranges and meaning stay the driver's.
 */
enum uvfs_fsopt_kind {
	UVFS_FSOPT_FLAG,        /* "name" */
	UVFS_FSOPT_NUMBER,      /* "name=N", decimal */
	UVFS_FSOPT_OCTAL,       /* "name=N", octal (modes) */
	UVFS_FSOPT_SIZE,        /* "name=N[k|m|g|t]" */
	UVFS_FSOPT_STRING,      /* "name=TEXT" (no comma) */
};
struct uvfs_fsopt {
	const char *name;
	enum uvfs_fsopt_kind kind;
	const char *help;       /* one line: what it does, its default */
};

/* What lookup and create report of the file they name.  The core keeps one
 * vnode per (sb, ino); a cached vnode whose type class (directory, symlink,
 * anything else) or generation differs from what the driver reports is
 * stale (the id was reused by another file) and is replaced by a new one.
 * gen 0 and type 0 mean "not known"; a driver that cannot tell a FIFO from
 * a regular file may report S_IFREG for "neither directory nor symlink". */
struct uvfs_ident {
	uint64_t ino;   /* the file id, as vget takes it */
	uint64_t gen;   /* generation of that id, or 0 */
	mode_t type;    /* S_IFMT bits, or 0 */
};

#define UVFS_FS_SERVER_PERMS 0x1 /* the driver checks permissions itself */
#define UVFS_FS_NO_NAMECACHE 0x2 /* names change behind the VFS: never cache
				    lookups (file servers) */

/*
 * A file lock, as the core hands it to a driver's lock op and keeps it.
 * Two spaces: POSIX record locks (fcntl F_SETLK: owned by a process; the
 * embedding API's and F_OFD_* locks: owned by an open file description)
 * and flock locks (UVFS_LOCK_FLOCK: whole file, owned by a description).
 * Locks of one owner never conflict with each other; in the POSIX space
 * a new lock of an owner replaces its old ones on the range (split and
 * merged as Linux does).
 */
#define UVFS_LOCK_EOF   INT64_MAX       /* end of a lock "to the end" */
#define UVFS_LOCK_FLOCK 0x1             /* flags: the flock space */
enum { UVFS_LOCK_GET = 0, UVFS_LOCK_SET = 1 };
struct uvfs_lock {
	short type;             /* F_RDLCK, F_WRLCK, F_UNLCK */
	unsigned flags;         /* UVFS_LOCK_* */
	int64_t start, end;     /* bytes [start, end]; end UVFS_LOCK_EOF */
	uint64_t owner;         /* opaque: equal owners are one owner */
	pid_t pid;              /* reported by F_GETLK (0: unknown, -1: a
				   description's lock, as Linux) */
};

/* A set of locks kept as the core keeps them (one per file): what a
 * driver holds on a server, to take again after a reconnect.  Not
 * thread-safe: the caller's lock guards it. */
struct uvfs_lockset;
struct uvfs_lockset *uvfs_lockset_new(void);
void uvfs_lockset_free(struct uvfs_lockset *ls);
/* Applies a granted lock or an unlock of lk->owner (lk->type F_UNLCK);
 * 0 or -ENOMEM (ls unchanged). */
int uvfs_lockset_apply(struct uvfs_lockset *ls, const struct uvfs_lock *lk);
/* Calls fn on each lock held, until it returns non-zero (returned). */
int uvfs_lockset_each(const struct uvfs_lockset *ls,
		      int (*fn)(void *arg, const struct uvfs_lock *lk),
		      void *arg);

struct uvfs_fstype_ops {
	const char *name;
	unsigned flags; /* UVFS_FS_* */

	/* => sets *root_ino; may set the sb's private data. */
	int (*mount)(struct uvfs_sb *sb, const char *source,
		     const char *options, uint64_t *root_ino);
	/* => every vnode has been reclaimed; frees the sb's private data. */
	void (*unmount)(struct uvfs_sb *sb);
	/* Forced unmount: complete every request in flight with -EIO and make
	 * new ones fail fast.  May be called from any thread; may be NULL. */
	void (*cancel)(struct uvfs_sb *sb);
	int (*sync)(struct uvfs_sb *sb);
	int (*statfs)(struct uvfs_sb *sb, struct statvfs *st);

	/* Loads the object with that id; *priv is handed to the other ops. */
	int (*vget)(struct uvfs_sb *sb, uint64_t ino, void **priv);
	/* The vnode is gone; drop what vget took (and free the object if it
	 * has no links left).  It may run while an unlink or a rename takes
	 * the object's last name (they find it by name: the core need hold
	 * no vnode of it), so whichever of the two comes second frees it,
	 * and the first touches it no more once it is done with it. */
	void (*reclaim)(struct uvfs_sb *sb, void *priv);

	/* Fills *st, often the caller's own buffer of uvfs_stat: what it
	 * wrote before an error stays there (uvfs.h). */
	int (*getattr)(struct uvfs_sb *sb, void *priv, struct stat *st);
	/* => the core has checked permissions; ctime is the driver's.  A
	 * mode marked UVFS_SET_KILLPRIV is the clearing of set-id bits
	 * after a write or truncation (uvfs.h): a driver whose server does
	 * that itself may leave it out; one that refuses unknown bits must
	 * know this one. */
	int (*setattr)(struct uvfs_sb *sb, void *priv,
		       const struct uvfs_setattr *sa);
	/* Optional: fast access check (mask of R_OK|W_OK|X_OK).  When NULL
	 * the core checks the getattr mode bits. */
	int (*permission)(struct uvfs_sb *sb, void *priv, int mask,
			  const struct uvfs_cred *cred);

	/* name is never "."; ".." names the parent directory (the root's
	 * ".." is the root itself): the core asks for it to walk up.  Sets
	 * id->ino, and id->type and id->gen when it knows them. */
	int (*lookup)(struct uvfs_sb *sb, void *dir, const char *name,
		      struct uvfs_ident *id);
	/* mode carries the type: S_IFREG, S_IFDIR, S_IFLNK (target given),
	 * S_IFCHR/S_IFBLK (rdev), S_IFIFO, S_IFSOCK.  Owner from cred (the
	 * driver applies setgid directories). -EEXIST if name exists.  Sets
	 * *id as lookup does. */
	int (*create)(struct uvfs_sb *sb, void *dir, const char *name,
		      mode_t mode, dev_t rdev, const char *target,
		      const struct uvfs_cred *cred, struct uvfs_ident *id);
	int (*link)(struct uvfs_sb *sb, void *dir, const char *name,
		    void *priv);
	/* isdir: rmdir semantics (-ENOTDIR, -ENOTEMPTY); else -EISDIR for a
	 * directory. */
	int (*unlink)(struct uvfs_sb *sb, void *dir, const char *name,
		      int isdir);
	/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
	int (*rename)(struct uvfs_sb *sb, void *odir, const char *oname,
		      void *ndir, const char *nname, unsigned flags);
	ssize_t (*readlink)(struct uvfs_sb *sb, void *priv, char *buf,
			    size_t size);

	/* flags are the open flags less O_CREAT/O_EXCL/O_TRUNC. *fh may be
	 * left NULL.  open may be NULL (nothing to do). */
	int (*open)(struct uvfs_sb *sb, void *priv, int flags, void **fh);
	void (*release)(struct uvfs_sb *sb, void *priv, void *fh);
	ssize_t (*read)(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
			size_t n, off_t off);
	/* *off < 0 appends; on return *off is the offset after the data
	 * (unchanged on error). */
	ssize_t (*write)(struct uvfs_sb *sb, void *priv, void *fh,
			 const void *buf, size_t n, off_t *off);
	int (*fsync)(struct uvfs_sb *sb, void *priv, void *fh, int datasync);
	/* Lists from cookie (0 = start), "." and ".." included. */
	int (*readdir)(struct uvfs_sb *sb, void *priv, void *fh,
		       uint64_t cookie, uvfs_filldir_t fill, void *arg);

	/* Extended attributes; each may be NULL (-EOPNOTSUPP).  The core has
	 * checked the name (a known namespace: user., trusted., security.;
	 * 1..255 bytes), the value's size (at most UVFS_XATTR_SIZE_MAX), the
	 * caller's permission and a read-only mount.  getxattr: the value's
	 * length; with size 0 only the length; -ERANGE if it does not fit,
	 * -ENODATA if absent.  listxattr: every name, each NUL-terminated,
	 * same size rules.  setxattr: flags XATTR_CREATE (-EEXIST) or
	 * XATTR_REPLACE (-ENODATA); an empty value is a value.  removexattr:
	 * -ENODATA if absent. */
	ssize_t (*getxattr)(struct uvfs_sb *sb, void *priv, const char *name,
			    void *value, size_t size);
	int (*setxattr)(struct uvfs_sb *sb, void *priv, const char *name,
			const void *value, size_t size, int flags);
	ssize_t (*listxattr)(struct uvfs_sb *sb, void *priv, char *list,
			     size_t size);
	int (*removexattr)(struct uvfs_sb *sb, void *priv, const char *name);

	/* The options it takes (see struct uvfs_fsopt), the core's own
	 * ("ro", "rw", "deadline=MS") aside.  NULL: not described, not
	 * checked (the driver's mount() judges them alone). */
	const struct uvfs_fsopt *options;
	/* One line for `uvfs mount --help`: what a SOURCE is.  May be NULL. */
	const char *source_help;

	/* At each close of a descriptor (and each FUSE FLUSH) of a file open
	 * for writing, before the close returns: a driver that sent writes
	 * behind waits for them and answers their error here (close(2)'s
	 * error), so none is lost and the next opener sees the data (close-
	 * to-open).  It is not the last release (that does no I/O, DESIGN
	 * invariant 8): the file stays open through other descriptors.
	 * Called only on an instance whose mount said uvfs_sb_set_flushes.
	 * May be NULL (nothing buffered; FUSE is then told not to send
	 * FLUSH).
	 * Last in the table: added after the first release of the ABI. */
	int (*flush)(struct uvfs_sb *sb, void *priv, void *fh);

	/* ---- the Linux file calls (added after flush) ---- */
	/* fallocate(2) on a regular file open for writing (fh).  mode is
	 * 0 (allocate; the size grows to off + len), FALLOC_FL_KEEP_SIZE
	 * (allocate, the size stays), FALLOC_FL_PUNCH_HOLE |
	 * FALLOC_FL_KEEP_SIZE (the range reads as zeros and its whole
	 * pages are freed), or another combination the kernel accepts
	 * (ZERO_RANGE, COLLAPSE_RANGE, ...), which a driver that does not
	 * do it answers -EOPNOTSUPP.  The core has checked off >= 0,
	 * len > 0, off + len <= INT64_MAX, the descriptor and the type;
	 * the timestamps (mtime, ctime: set on every success, as tmpfs
	 * does) are the driver's, the set-id bits the core's.  -ENOSPC
	 * allocates nothing.  NULL: -EOPNOTSUPP (9P2000.L and NFSv3 have
	 * no such request, as for Linux's v9fs and NFSv3 clients). */
	int (*fallocate)(struct uvfs_sb *sb, void *priv, void *fh, int mode,
			 off_t off, off_t len);
	/* lseek(2)'s SEEK_DATA and SEEK_HOLE from off (>= 0; the core
	 * answered -ENXIO at or past the size it saw): the start of the
	 * next data, or of the next hole (the size counts as one), as an
	 * offset; -ENXIO when off is at or past the end of file, or, for
	 * SEEK_DATA, when only holes follow.  NULL: the whole file is data
	 * and the one hole is at its end (Linux generic_file_llseek). */
	off_t (*seek_data)(struct uvfs_sb *sb, void *priv, void *fh,
			   off_t off, int whence);
	/* copy_file_range(2) between two regular files of this instance:
	 * up to len bytes of src from off_in to dst at off_out.  The core
	 * has done the kernel's checks (both open as they must be, no
	 * overlap within one file, len clamped to src's size when it
	 * looked, set-id bits); the driver stops at src's end of file and
	 * may copy less (a short count, like write(2)).  => the count, or
	 * -errno when nothing was copied; -EOPNOTSUPP makes the core copy
	 * with read and write instead.  NULL: the core reads and writes
	 * in chunks (9P2000.L has no server-side copy). */
	ssize_t (*copy_range)(struct uvfs_sb *sb, void *src, void *src_fh,
			      off_t off_in, void *dst, void *dst_fh,
			      off_t off_out, size_t len);

	/* File locks (struct uvfs_lock; docs/design.md, "File locks"), for
	 * a driver whose locks must hold beyond this instance (a server
	 * shared by several hosts).  The core keeps every lock this instance
	 * holds and decides conflicts between its own owners first; it asks
	 * the driver only what the server must decide, and waits itself
	 * (a driver never blocks for a lock: it answers at once):
	 *   UVFS_LOCK_GET  *lk is a lock that would be asked: fill it with
	 *                  one that conflicts (type, range, pid), or set
	 *                  lk->type to F_UNLCK;
	 *   UVFS_LOCK_SET  take (F_RDLCK, F_WRLCK) or release (F_UNLCK) the
	 *                  range for lk->owner through fh: 0, or -EAGAIN if
	 *                  another owner holds a conflicting lock.  An error
	 *                  means not granted: a driver that cannot tell
	 *                  (a request lost in flight) makes sure the server
	 *                  drops it (docs/recovery.md, "Locks").
	 * The release of fh drops every lock taken through it.  NULL: the
	 * core's locks are the only ones (right for a file system no one
	 * else sees: memfs).
	 * Last in the table: added after the first release of the ABI. */
	int (*lock)(struct uvfs_sb *sb, void *priv, void *fh, int cmd,
		    struct uvfs_lock *lk);

	/* The vnode of priv died (uvfs_revoke, its mount forced off, or
	 * the driver's id found to name another file: docs/lifecycle.md),
	 * and priv is being unloaded: called once, with no operation on it
	 * in progress, before the releases of the files still open on it
	 * (which are then no last closes) and its reclaim.  What the driver
	 * keeps of it to send later (writes behind not yet committed) is
	 * dropped here, never sent: the core tells their writers the data
	 * may be lost (the dead file's close says EIO), and a failed
	 * request never happens later (DESIGN invariant 11).  No I/O, no
	 * wait for the server.  NULL: nothing kept.
	 * Last in the table: added after lock. */
	void (*revoke)(struct uvfs_sb *sb, void *priv);
};

/* Checks options for a mount of type: the core's own, then the type's
 * table.  0; -ENODEV (no such type); or -EINVAL with the reason in why
 * (NUL-terminated, truncated to size): "unknown option 'bogus'",
 * "size: not a number", "serial: takes no value", "aname: needs a value". */
int uvfs_mount_options_check(struct uvfs *u, const char *type,
			     const char *options, char *why, size_t size);
/* The core's options, as a table (for help texts). */
extern const struct uvfs_fsopt uvfs_core_fsopts[];
/* Calls fn for each registered type, in registration order, until fn
 * returns non-zero (that value is returned).  fn must not register or
 * unregister types. */
int uvfs_fstype_each(struct uvfs *u,
		     int (*fn)(void *arg, const struct uvfs_fstype_ops *ops),
		     void *arg);

/* The built-in in-memory file system (options: size=BYTES[k|m|g]). */
extern const struct uvfs_fstype_ops uvfs_memfs_ops;

#ifdef __cplusplus
}
#endif
#endif /* UVFS_FS_H */

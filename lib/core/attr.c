/*
 * attr.c - the attribute calls of the embedding API: stat, access,
 * truncate, fsync, statfs, chmod, chown and utimens, by name, by
 * descriptor and on a resolved path (path_*, used by the front ends).
 *
 * Owns no object: each call borrows a path (namei_at, put before return)
 * or a descriptor's file (fd_get, file_put before return), checks the
 * permission as Linux does (owner or root for chmod and utimens, root for
 * chown but group changes by the owner, -EROFS on a read-only mount) and
 * runs the vop inside the vnode's gate.  Files, descriptor tables and
 * their rules: file.c.
 */
#include "core.h"
#include "file.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

/* ---- attributes -------------------------------------------------------- */

int uvfs_fstat(struct uvfs_ctx *ctx, int fd, struct stat *st)
{
	struct file *f = fd_get(ctx, fd);
	int r;

	if (!f)
		return -EBADF;
	r = vop_getattr(f->path.vp, st);
	file_put(f);
	return r;
}

static int fstatat_once(struct uvfs_ctx *ctx, int dirfd, const char *path,
			struct stat *st, int flags)
{
	unsigned lk = LK_BORROW;        /* the vnode only, for the call */
	struct path p;
	int r;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
		return -EINVAL;
	if (!(flags & AT_SYMLINK_NOFOLLOW))
		lk |= LK_FOLLOW;
	if (flags & AT_EMPTY_PATH) {
		lk |= LK_EMPTY;
		if (!path)
			path = "";
	}
	if (!path)
		return -EFAULT;
	r = namei_at(ctx, dirfd, path, lk, &p);
	if (r)
		return r;
	r = vop_getattr(p.vp, st);
	path_put(&p);
	return r;
}

int uvfs_fstatat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		 struct stat *st, int flags)
{
	return RETRY_ESTALE(fstatat_once(ctx, dirfd, path, st, flags));
}

int uvfs_stat(struct uvfs_ctx *ctx, const char *path, struct stat *st)
{
	return uvfs_fstatat(ctx, UVFS_AT_FDCWD, path, st, 0);
}

int uvfs_lstat(struct uvfs_ctx *ctx, const char *path, struct stat *st)
{
	return uvfs_fstatat(ctx, UVFS_AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static int access_once(struct uvfs_ctx *ctx, const char *path, int amode)
{
	struct path p;
	int r;

	if (amode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW, &p);
	if (r)
		return r;
	r = path_access(ctx, &p, amode);
	path_put(&p);
	return r;
}

int uvfs_access(struct uvfs_ctx *ctx, const char *path, int amode)
{
	return RETRY_ESTALE(access_once(ctx, path, amode));
}

int path_access(struct uvfs_ctx *ctx, const struct path *p, int amode)
{
	if (amode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((amode & W_OK) && write_counts(p->vp) && mnt_rdonly(p->mnt))
		return -EROFS;
	if (amode == F_OK)
		return vn_dead(p->vp) ? -EIO : 0;
	return may_access(ctx, p->vp, amode);
}

/* times: ftruncate(2)'s (Linux's do_ftruncate passes ATTR_MTIME|
 * ATTR_CTIME: they move even when the size does not); truncate(2)
 * leaves them to the file system (they move if the size changes). */
static int set_size(struct vnode *vp, off_t len, bool times)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = len };

	if (times) {
		sa.valid |= UVFS_SET_MTIME;
		sa.mtime.tv_nsec = UTIME_NOW;
	}
	return vop_setattr(vp, &sa);
}

/* file_kill_priv's decision (Linux's setattr_should_drop_suidgid): the
 * mode vp is to have after a write or truncation by ctx's caller.
 * => 1 and *mode when bits go, 0 when none do, or -errno. */
int priv_kill_mode(const struct uvfs_ctx *ctx, struct vnode *vp,
		   mode_t *mode)
{
	struct stat st;
	mode_t kill;
	int r;

	if (cred_root(ctx) || !S_ISREG(vp->type))
		return 0;
	r = vop_getattr(vp, &st);
	if (r)
		return r;
	kill = st.st_mode & S_ISUID;
	if ((st.st_mode & S_ISGID) &&
	    ((st.st_mode & S_IXGRP) || !cred_in_group(&ctx->cred, st.st_gid)))
		kill |= S_ISGID;
	if (!kill)
		return 0;
	*mode = st.st_mode & ~kill;
	return 1;
}

/* The set-id bits a truncation clears go in the same setattr as the size:
 * as on tmpfs, a truncation to the size the file has moves no time, the
 * bits' clearing included (shmem_setattr).  kill: the mode to set with
 * the size, already decided (the FUSE kernel's), or NULL: decided here. */
int path_truncate_mode(struct uvfs_ctx *ctx, const struct path *p,
		       off_t len, const mode_t *kill)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = len };
	int r;

	if (len < 0)
		return -EINVAL;
	if (vn_isdir(p->vp))
		return -EISDIR;
	if (!S_ISREG(p->vp->type))
		return -EINVAL;
	if (mnt_rdonly(p->mnt))
		return -EROFS;
	r = may_access(ctx, p->vp, W_OK);
	if (r)
		return r;
	if (kill) {
		sa.mode = *kill;
		r = 1;
	} else {
		r = priv_kill_mode(ctx, p->vp, &sa.mode);
	}
	if (r < 0)
		return r;
	if (r)
		sa.valid |= UVFS_SET_MODE | UVFS_SET_KILLPRIV;
	return vop_setattr(p->vp, &sa);
}

int path_truncate(struct uvfs_ctx *ctx, const struct path *p, off_t len)
{
	return path_truncate_mode(ctx, p, len, NULL);
}

static int truncate_once(struct uvfs_ctx *ctx, const char *path, off_t len)
{
	struct path p;
	int r;

	if (len < 0)
		return -EINVAL;
	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW, &p);
	if (r)
		return r;
	r = path_truncate(ctx, &p, len);
	path_put(&p);
	return r;
}

int uvfs_truncate(struct uvfs_ctx *ctx, const char *path, off_t len)
{
	return RETRY_ESTALE(truncate_once(ctx, path, len));
}

int uvfs_ftruncate(struct uvfs_ctx *ctx, int fd, off_t len)
{
	struct file *f;
	int r;

	if (len < 0)
		return -EINVAL;
	r = fd_get_real(ctx, fd, &f);
	if (r)
		return r;
	/* Linux: not regular or not open for writing -> EINVAL */
	if (!S_ISREG(f->path.vp->type) || (f->flags & O_ACCMODE) == O_RDONLY)
		r = -EINVAL;
	else if ((r = file_kill_priv(ctx, f->path.vp)) >= 0)
		r = set_size(f->path.vp, len, true);
	file_put(f);
	return r;
}

int uvfs_fsync(struct uvfs_ctx *ctx, int fd)
{
	struct file *f;
	int r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	r = file_fsync(f, file_fh(f), 0);
	file_put(f);
	return r;
}

static int statfs_once(struct uvfs_ctx *ctx, const char *path,
		       struct statvfs *st)
{
	struct statvfs tmp;
	struct path p;
	int r;

	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW, &p);
	if (r)
		return r;
	r = vop_statfs(p.vp, &tmp);
	if (!r) {
		if (mnt_rdonly(p.mnt))
			tmp.f_flag |= ST_RDONLY;
		*st = tmp;
	}
	path_put(&p);
	return r;
}

int uvfs_statfs(struct uvfs_ctx *ctx, const char *path, struct statvfs *st)
{
	return RETRY_ESTALE(statfs_once(ctx, path, st));
}

/* kill: UVFS_SET_KILLPRIV when the mode is a clearing of set-id bits after
 * a write or truncation (uvfs_node_setattr's caller says so), else 0. */
int path_chmod(struct uvfs_ctx *ctx, const struct path *p, mode_t mode,
	       unsigned kill)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE | kill };
	struct stat st;
	int r;

	if (mnt_rdonly(p->mnt))
		return -EROFS;
	r = vop_getattr(p->vp, &st);
	if (!r)
		r = owner_or_root(ctx, &st);
	if (r)
		return r;
	mode &= 07777;
	if (!cred_root(ctx) && !cred_in_group(&ctx->cred, st.st_gid))
		mode &= ~(mode_t)S_ISGID;
	sa.mode = (st.st_mode & S_IFMT) | mode;
	return vop_setattr(p->vp, &sa);
}

/* Linux chown_ok()/chgrp_ok(): root may do anything; the owner may keep
 * its uid and give the file to a group it belongs to.  Changing the owner
 * or group of a non-directory clears set-user-id, and set-group-id when
 * it means something (group execute set), even for root. */
int path_chown(struct uvfs_ctx *ctx, const struct path *p, uid_t uid,
		    gid_t gid)
{
	struct uvfs_setattr sa = { 0 };
	bool set_uid = uid != (uid_t)-1, set_gid = gid != (gid_t)-1;
	struct stat st;
	mode_t mode;
	int r;

	if (mnt_rdonly(p->mnt))
		return -EROFS;
	if (!set_uid && !set_gid)
		return 0;
	r = vop_getattr(p->vp, &st);
	if (r)
		return r;
	if (!cred_root(ctx)) {
		if (st.st_uid != ctx->cred.uid)
			return -EPERM;
		if (set_uid && uid != st.st_uid)
			return -EPERM;
		if (set_gid && gid != st.st_gid &&
		    !cred_in_group(&ctx->cred, gid))
			return -EPERM;
	}
	if (set_uid) {
		sa.valid |= UVFS_SET_UID;
		sa.uid = uid;
	}
	if (set_gid) {
		sa.valid |= UVFS_SET_GID;
		sa.gid = gid;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
		/* Linux's setattr_should_drop_sgid: set-group-ID goes with
		 * group execute, or when the caller is not in the file's
		 * group (the one it has now, before the change) and not
		 * privileged */
		mode = st.st_mode & ~(mode_t)S_ISUID;
		if ((mode & S_ISGID) &&
		    ((mode & S_IXGRP) ||
		     (!cred_root(ctx) &&
		      !cred_in_group(&ctx->cred, st.st_gid))))
			mode &= ~(mode_t)S_ISGID;
		if (mode != st.st_mode) {
			sa.valid |= UVFS_SET_MODE;
			sa.mode = mode;
		}
	}
	return vop_setattr(p->vp, &sa);
}

static bool utime_valid(const struct timespec *t)
{
	return t->tv_nsec == UTIME_NOW || t->tv_nsec == UTIME_OMIT ||
	       (t->tv_nsec >= 0 && t->tv_nsec < 1000000000L);
}

static bool utime_explicit(const struct timespec *t)
{
	return t->tv_nsec != UTIME_NOW && t->tv_nsec != UTIME_OMIT;
}

/* Explicit times need the owner or root (-EPERM); "now" needs the owner,
 * root or write permission (-EACCES).  => times validated. */
int path_utimens(struct uvfs_ctx *ctx, const struct path *p,
		      const struct timespec times[2])
{
	static const struct timespec now[2] = { { 0, UTIME_NOW },
						{ 0, UTIME_NOW } };
	const struct timespec *t = times ? times : now;
	struct uvfs_setattr sa = { 0 };
	struct stat st;
	int r;

	if (mnt_rdonly(p->mnt))
		return -EROFS;
	if (t[0].tv_nsec == UTIME_OMIT && t[1].tv_nsec == UTIME_OMIT)
		return 0;
	r = vop_getattr(p->vp, &st);
	if (r)
		return r;
	if (owner_or_root(ctx, &st) != 0) {
		if (utime_explicit(&t[0]) || utime_explicit(&t[1]))
			return -EPERM;
		r = may_access(ctx, p->vp, W_OK);
		if (r)
			return r;
	}
	if (t[0].tv_nsec != UTIME_OMIT) {
		sa.valid |= UVFS_SET_ATIME;
		sa.atime = t[0];
	}
	if (t[1].tv_nsec != UTIME_OMIT) {
		sa.valid |= UVFS_SET_MTIME;
		sa.mtime = t[1];
	}
	return vop_setattr(p->vp, &sa);
}

static int chmod_once(struct uvfs_ctx *ctx, const char *path, mode_t mode)
{
	struct path p;
	int r;

	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW, &p);
	if (r)
		return r;
	r = path_chmod(ctx, &p, mode, 0);
	path_put(&p);
	return r;
}

int uvfs_chmod(struct uvfs_ctx *ctx, const char *path, mode_t mode)
{
	return RETRY_ESTALE(chmod_once(ctx, path, mode));
}

int uvfs_fchmod(struct uvfs_ctx *ctx, int fd, mode_t mode)
{
	struct file *f;
	int r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	r = path_chmod(ctx, &f->path, mode, 0);
	file_put(f);
	return r;
}

static int chown_at_once(struct uvfs_ctx *ctx, const char *path,
			 unsigned lk, uid_t uid, gid_t gid)
{
	struct path p;
	int r;

	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, lk, &p);
	if (r)
		return r;
	r = path_chown(ctx, &p, uid, gid);
	path_put(&p);
	return r;
}

static int chown_at(struct uvfs_ctx *ctx, const char *path, unsigned lk,
		    uid_t uid, gid_t gid)
{
	return RETRY_ESTALE(chown_at_once(ctx, path, lk, uid, gid));
}

int uvfs_chown(struct uvfs_ctx *ctx, const char *path, uid_t uid, gid_t gid)
{
	return chown_at(ctx, path, LK_FOLLOW, uid, gid);
}

int uvfs_lchown(struct uvfs_ctx *ctx, const char *path, uid_t uid, gid_t gid)
{
	return chown_at(ctx, path, 0, uid, gid);
}

int uvfs_fchown(struct uvfs_ctx *ctx, int fd, uid_t uid, gid_t gid)
{
	struct file *f;
	int r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	r = path_chown(ctx, &f->path, uid, gid);
	file_put(f);
	return r;
}

int uvfs_futimens(struct uvfs_ctx *ctx, int fd,
		  const struct timespec times[2])
{
	struct file *f;
	int r;

	if (times && (!utime_valid(&times[0]) || !utime_valid(&times[1])))
		return -EINVAL;
	r = fd_get_real(ctx, fd, &f);
	if (r)
		return r;
	r = path_utimens(ctx, &f->path, times);
	file_put(f);
	return r;
}

static int utimensat_once(struct uvfs_ctx *ctx, int dirfd, const char *path,
			  const struct timespec times[2], int flags)
{
	unsigned lk = 0;
	struct path p;
	int r;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (times && (!utime_valid(&times[0]) || !utime_valid(&times[1])))
		return -EINVAL;
	if (!path) {
		/* Linux: utimensat(fd, NULL, ...) is futimens(fd, ...) */
		if (dirfd == UVFS_AT_FDCWD)
			return -EFAULT;
		if (flags & AT_SYMLINK_NOFOLLOW)
			return -EINVAL;
		return uvfs_futimens(ctx, dirfd, times);
	}
	if (!(flags & AT_SYMLINK_NOFOLLOW))
		lk |= LK_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lk |= LK_EMPTY;
	r = namei_at(ctx, dirfd, path, lk, &p);
	if (r)
		return r;
	r = path_utimens(ctx, &p, times);
	path_put(&p);
	return r;
}

int uvfs_utimensat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		   const struct timespec times[2], int flags)
{
	return RETRY_ESTALE(utimensat_once(ctx, dirfd, path, times, flags));
}

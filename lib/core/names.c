/*
 * names.c - the calls that add or remove names: mkdir, mknod, symlink,
 * link, unlink, rmdir, rename, readlink, and the dirop_* pair (parent +
 * child) that they and the front ends build on.
 *
 * A struct dirop (core.h) lives on the caller's stack: dirop_begin or
 * dirop_at fills it with a held parent path and, when the last component
 * names an existing entry, a held child path; dirop_end releases both.
 * Nothing here outlives the call.
 *
 * The directory lock (dirlock.c): dirop_begin and dirop_at take the
 * parent's after resolving it and before looking the child up, and
 * dirop_end releases it; a rename takes both parents' (dirop_lock2) before
 * looking up either child.  So the child the checks see (may_delete's
 * owner and sticky bit, child_busy's mount point, the type) is the one
 * at that name when the driver's call acts on the name, and the vnode the
 * core marks unlinked is that one: no other name change through this
 * instance comes between (docs/locking.md, "The directory locks").
 *
 * Error precedence follows Linux (fs/namei.c): the parent lookup, then the
 * kind of the last component ("." "..", root), then -EEXIST for calls that
 * create, -EROFS, -ENOENT for calls that remove, then the permissions
 * (-EACCES, sticky -EPERM), the types (-EISDIR, -ENOTDIR), and last busy
 * mount points (-EBUSY).
 */
#include "core.h"
#include "file.h"

#include <sys/stat.h>

/* ---- directory operations: parent + child ------------------------------ */

/*
 * The first half of every call that adds or removes a name: the parent
 * directory and, when the last component is a normal name that exists, the
 * child (not followed, crossed into a mount covering it).
 */

/* The child named by d's last component when it is a normal name that
 * exists (else none); on an error d stays held. */
static int child_lookup(struct uvfs_ctx *ctx, struct dirop *d)
{
	int r;

	if (d->np.last != LAST_NORM)
		return 0;
	r = namei_child(ctx, &d->np.dir, d->np.name, &d->child);
	if (r == -ENOENT) {
		d->child = (struct path){ 0 };
		r = 0;
	}
	return r;
}

/* The same; on an error the lock and the parent are released too. */
static int dirop_child(struct uvfs_ctx *ctx, struct dirop *d)
{
	int r = child_lookup(ctx, d);

	if (r) {
		dirop_unlock(d);
		path_put(&d->np.dir);
	}
	return r;
}

int dirop_begin(struct uvfs_ctx *ctx, int dirfd, const char *path,
		struct dirop *d)
{
	int r = dirop_begin_parent(ctx, dirfd, path, d);

	if (r)
		return r;
	dirop_lock(d);
	return dirop_child(ctx, d);
}

int dirop_begin_parent(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       struct dirop *d)
{
	d->child = (struct path){ 0 };
	d->locked = NULL;
	if (!path)
		return -EFAULT;
	return namei_parent_at(ctx, dirfd, path, &d->np);
}

int dirop_lookup_child(struct uvfs_ctx *ctx, struct dirop *d)
{
	return dirop_child(ctx, d);
}

int dirop_at_parent(const struct path *dir, const char *name,
		    struct dirop *d)
{
	size_t len;

	d->child = (struct path){ 0 };
	d->locked = NULL;
	if (!name)
		return -EFAULT;
	len = strnlen(name, NAME_MAX + 1);
	if (len == 0 || memchr(name, '/', len))
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	memset(&d->np, 0, sizeof(d->np));
	memcpy(d->np.name, name, len + 1);
	d->np.last = strcmp(name, ".") == 0 ? LAST_DOT :
		     strcmp(name, "..") == 0 ? LAST_DOTDOT : LAST_NORM;
	if (!vn_isdir(dir->vp))
		return -ENOTDIR;
	d->np.dir = *dir;
	path_get(&d->np.dir);
	return 0;
}

/* The same from a directory already held and one name (the node API).
 * => dir stays the caller's; d holds its own reference. */
int dirop_at(struct uvfs_ctx *ctx, const struct path *dir, const char *name,
	     struct dirop *d)
{
	int r = dirop_at_parent(dir, name, d);

	if (r)
		return r;
	dirop_lock(d);
	return dirop_child(ctx, d);
}

void dirop_end(struct dirop *d)
{
	dirop_unlock(d);
	if (d->child.vp)
		path_put(&d->child);
	path_put(&d->np.dir);
}

/* For a call that creates the name: the parent is held and the name free.
 * want_dir: a trailing slash is fine (mkdir); else it gives -ENOENT on a
 * free name (Linux filename_create). */
static int create_check(const struct dirop *d, bool want_dir)
{
	if (d->np.last != LAST_NORM || d->child.vp)
		return -EEXIST;
	if (d->np.trailing_slash && !want_dir)
		return -ENOENT;
	if (mnt_rdonly(d->np.dir.mnt))
		return -EROFS;
	return 0;
}

int dirop_create(struct uvfs_ctx *ctx, struct dirop *d, mode_t mode,
		 dev_t rdev, const char *target, struct vnode **out)
{
	int r = create_check(d, S_ISDIR(mode));

	UVFS_VERIFY(d->locked);         /* since the lookup (dirop_lock) */
	if (!r)
		r = may_access(ctx, d->np.dir.vp, W_OK | X_OK);
	if (!r && (S_ISCHR(mode) || S_ISBLK(mode)) && !cred_root(ctx))
		r = -EPERM;
	if (!r)
		r = vop_create(d->np.dir.vp, d->np.name, mode, rdev, target,
			       &ctx->cred, out);
	return r;
}

/*
 * An exclusive create without a lookup of the name first: the create
 * itself says whether the name exists (-EEXIST: every driver's create is
 * exclusive), so the lookup, whose only use here is that answer, is not
 * made (a miss in the name cache and in the driver locally, a round trip
 * on a remote mount).  Any other failure looks the name up after all, so
 * the errors keep Linux's precedence (an existing name is -EEXIST before
 * -EACCES or -EROFS).  Not tried for "." or "..", a trailing slash, or a
 * device made by anyone but root: the ordinary path decides those.
 * => d's parent held (dirop_at_parent, dirop_begin_parent) and its
 * directory lock (dirop_lock), its child not looked up.  1: not tried
 * (dirop_lookup_child and dirop_create follow), 0 and *out made, or
 * -errno (*gone set when the lookup itself failed: d released).
 */
int dirop_create_direct(struct uvfs_ctx *ctx, struct dirop *d, mode_t mode,
			dev_t rdev, const char *target, struct vnode **out,
			bool *gone)
{
	struct vnode *dvp = d->np.dir.vp;
	int r;

	UVFS_VERIFY(d->locked);         /* held for the lookup after a refusal */
	if (d->np.last != LAST_NORM || d->np.trailing_slash ||
	    ((S_ISCHR(mode) || S_ISBLK(mode)) && !cred_root(ctx)))
		return 1;
	r = mnt_rdonly(d->np.dir.mnt) ? -EROFS :
	    may_access(ctx, dvp, W_OK | X_OK);
	if (!r)
		r = vop_create(dvp, d->np.name, mode, rdev, target, &ctx->cred,
			       out);
	if (r == 0 || r == -EEXIST)
		return r;
	/* a create whose outcome is unknown (its reply lost with the
	 * connection, or its deadline passed: the server may have made the
	 * file) says so: the name found now may be the file it made, and
	 * nothing (no verifier, as NFS's exclusive create has) tells it
	 * from another's */
	if (r == -EIO || r == -ETIMEDOUT || r == -EINTR)
		return r;
	/* which error Linux gives: the name's, if it exists */
	int l = dirop_lookup_child(ctx, d);
	if (l) {
		*gone = true;
		return l;
	}
	return d->child.vp ? -EEXIST : r;
}

/* Creates the name of path: mode carries the type (and the final
 * permission bits); rdev for devices, target for symlinks. */
static int create_node_once(struct uvfs_ctx *ctx, int dirfd,
			    const char *path, mode_t mode, dev_t rdev,
			    const char *target)
{
	struct dirop d;
	int r;

	r = dirop_begin(ctx, dirfd, path, &d);
	if (r)
		return r;
	r = dirop_create(ctx, &d, mode, rdev, target, NULL);
	dirop_end(&d);
	return r;
}

static int create_node(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       mode_t mode, dev_t rdev, const char *target)
{
	return RETRY_ESTALE(create_node_once(ctx, dirfd, path, mode, rdev,
					     target));
}

/* Linux check_sticky(): in a sticky directory only the owner of the file,
 * the owner of the directory or root may remove or rename the file. */
static int check_sticky(struct uvfs_ctx *ctx, struct vnode *dvp,
			struct vnode *vp)
{
	struct stat ds, st;
	int r;

	if (cred_root(ctx))
		return 0;
	r = vop_getattr(dvp, &ds);
	if (r)
		return r;
	if (!(ds.st_mode & S_ISVTX) || ds.st_uid == ctx->cred.uid)
		return 0;
	r = vop_getattr(vp, &st);
	if (r)
		return r;
	return st.st_uid == ctx->cred.uid ? 0 : -EPERM;
}

/* Linux may_delete(): may ctx remove child (of type isdir expected) from
 * dir?  -EACCES, -EPERM (sticky), -ENOTDIR, -EISDIR. */
static int may_delete(struct uvfs_ctx *ctx, const struct path *dir,
		      const struct path *child, bool isdir)
{
	int r = may_access(ctx, dir->vp, W_OK | X_OK);

	if (!r)
		r = check_sticky(ctx, dir->vp, child->vp);
	if (r)
		return r;
	if (isdir && !vn_isdir(child->vp))
		return -ENOTDIR;
	if (!isdir && vn_isdir(child->vp))
		return -EISDIR;
	return 0;
}

/* Is the child a mount point, or the root of a mount namei_child crossed
 * into?  Such a name cannot be removed or renamed (-EBUSY). */
static bool child_busy(const struct dirop *d)
{
	const struct path *c = &d->child;

	return c->mnt != d->np.dir.mnt || c->vp == c->mnt->root ||
	       atomic_load(&c->vp->mounted) > 0;
}

/* unlink and rmdir */
int dirop_remove(struct uvfs_ctx *ctx, struct dirop *d, bool isdir)
{
	int r;

	UVFS_VERIFY(d->locked);         /* since the lookup (dirop_lock) */
	if (d->np.last != LAST_NORM) {
		if (!isdir)
			return -EISDIR;
		if (d->np.last == LAST_DOT)
			return -EINVAL;
		if (d->np.last == LAST_DOTDOT)
			return -ENOTEMPTY;
		return -EBUSY;
	}
	if (mnt_rdonly(d->np.dir.mnt))
		return -EROFS;
	if (!d->child.vp)
		return -ENOENT;
	if (!isdir && d->np.trailing_slash)
		return vn_isdir(d->child.vp) ? -EISDIR : -ENOTDIR;
	r = may_delete(ctx, &d->np.dir, &d->child, isdir);
	if (r)
		return r;
	if (child_busy(d))
		return -EBUSY;
	return vop_unlink(d->np.dir.vp, d->np.name, isdir, d->child.vp);
}

static int remove_name_once(struct uvfs_ctx *ctx, int dirfd,
			    const char *path, bool isdir)
{
	struct dirop d;
	int r;

	r = dirop_begin(ctx, dirfd, path, &d);
	if (r)
		return r;
	r = dirop_remove(ctx, &d, isdir);
	dirop_end(&d);
	return r;
}

static int remove_name(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       bool isdir)
{
	return RETRY_ESTALE(remove_name_once(ctx, dirfd, path, isdir));
}

/* ---- names: create, remove, rename, link ------------------------------- */

int uvfs_mkdirat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		 mode_t mode)
{
	/* Linux keeps only the permission and sticky bits of mkdir's mode;
	 * set-group-id is the driver's to inherit. */
	return create_node(ctx, dirfd, path,
			   S_IFDIR | (mode & ~ctx->umask & 01777), 0, NULL);
}

int uvfs_mkdir(struct uvfs_ctx *ctx, const char *path, mode_t mode)
{
	return uvfs_mkdirat(ctx, UVFS_AT_FDCWD, path, mode);
}

int uvfs_mknod(struct uvfs_ctx *ctx, const char *path, mode_t mode, dev_t dev)
{
	mode_t type = mode & S_IFMT;

	switch (type) {
	case 0:
		type = S_IFREG;
		/* fall through */
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		dev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	return create_node(ctx, UVFS_AT_FDCWD, path,
			   type | (mode & ~ctx->umask & 07777), dev, NULL);
}

int uvfs_symlink(struct uvfs_ctx *ctx, const char *target,
		 const char *linkpath)
{
	if (!target)
		return -EFAULT;
	if (!target[0])
		return -ENOENT;
	return create_node(ctx, UVFS_AT_FDCWD, linkpath, S_IFLNK | 0777, 0,
			   target);
}

static int link_once(struct uvfs_ctx *ctx, const char *from, const char *to)
{
	struct path op;
	struct dirop d;
	int r;

	if (!from)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, from, 0, &op);
	if (r)
		return r;
	r = dirop_begin(ctx, UVFS_AT_FDCWD, to, &d);
	if (r) {
		path_put(&op);
		return r;
	}
	r = dirop_link(ctx, &op, &d);
	dirop_end(&d);
	path_put(&op);
	return r;
}

int uvfs_link(struct uvfs_ctx *ctx, const char *from, const char *to)
{
	return RETRY_ESTALE(link_once(ctx, from, to));
}

int dirop_link(struct uvfs_ctx *ctx, const struct path *src, struct dirop *d)
{
	int r = create_check(d, false);

	UVFS_VERIFY(d->locked);         /* since the lookup (dirop_lock) */
	if (r)
		return r;
	if (src->mnt != d->np.dir.mnt)
		return -EXDEV;
	r = may_access(ctx, d->np.dir.vp, W_OK | X_OK);
	if (r)
		return r;
	if (vn_isdir(src->vp))
		return -EPERM;
	return vop_link(d->np.dir.vp, d->np.name, src->vp);
}

int uvfs_rmdir(struct uvfs_ctx *ctx, const char *path)
{
	return remove_name(ctx, UVFS_AT_FDCWD, path, true);
}

int uvfs_unlink(struct uvfs_ctx *ctx, const char *path)
{
	return remove_name(ctx, UVFS_AT_FDCWD, path, false);
}

int uvfs_unlinkat(struct uvfs_ctx *ctx, int dirfd, const char *path,
		  int flags)
{
	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	return remove_name(ctx, dirfd, path, (flags & AT_REMOVEDIR) != 0);
}

/* Linux do_renameat2() and vfs_rename() checks.  => 0 to go ahead, 1 when
 * both names are the same file (nothing to do), or an error. */
static int rename_check(struct uvfs_ctx *ctx, const struct dirop *o,
			const struct dirop *n, unsigned flags)
{
	bool exch = (flags & RENAME_EXCHANGE) != 0;
	struct vnode *ovp = o->child.vp, *nvp = n->child.vp;
	int r;

	if (o->np.dir.mnt != n->np.dir.mnt)
		return -EXDEV;
	if (o->np.last != LAST_NORM)
		return -EBUSY;
	if (n->np.last != LAST_NORM)
		return (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
	if (mnt_rdonly(o->np.dir.mnt))
		return -EROFS;
	if (!ovp)
		return -ENOENT;
	if (exch) {
		if (!nvp)
			return -ENOENT;
		if (!vn_isdir(nvp) && n->np.trailing_slash)
			return -ENOTDIR;
	}
	if (!vn_isdir(ovp) &&
	    (o->np.trailing_slash || (!exch && n->np.trailing_slash)))
		return -ENOTDIR;
	if (nvp && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (ovp == nvp)
		return 1;

	r = may_delete(ctx, &o->np.dir, &o->child, vn_isdir(ovp));
	if (r)
		return r;
	if (nvp)
		r = may_delete(ctx, &n->np.dir, &n->child,
			       exch ? vn_isdir(nvp) : vn_isdir(ovp));
	else
		r = may_access(ctx, n->np.dir.vp, W_OK | X_OK);
	if (r)
		return r;
	/* A directory that changes parent rewrites its "..". */
	if (o->np.dir.vp != n->np.dir.vp) {
		if (vn_isdir(ovp) && (r = may_access(ctx, ovp, W_OK)) != 0)
			return r;
		if (exch && vn_isdir(nvp) &&
		    (r = may_access(ctx, nvp, W_OK)) != 0)
			return r;
	}
	if (child_busy(o) || (nvp && child_busy(n)))
		return -EBUSY;
	return 0;
}

/*
 * May a rename go ahead without looking its target up first?  Only where
 * the lookup would ask a server (UVFS_FS_NO_NAMECACHE) and no check of
 * rename_check needs the target's vnode: a plain rename (no flags) of a
 * file that is not a directory (no loop to check, no ".." to rewrite),
 * within one mount that has nothing mounted on any of its files (the
 * target cannot be a mount point: -EBUSY), into a directory whose sticky
 * bit does not concern the caller.  What is left of the checks on an
 * existing target is the server's to make with the same answers
 * (rename(2): -EISDIR onto a directory, nothing to do between two names
 * of one file).  One round trip less on a remote mount.
 * => o's child held; n's parent held, its child not looked up.
 */
static bool rename_blind_ok(struct uvfs_ctx *ctx, const struct dirop *o,
			    const struct dirop *n, unsigned flags)
{
	struct vnode *ndvp = n->np.dir.vp;
	struct stat ds;

	if (flags || !o->child.vp || vn_isdir(o->child.vp) ||
	    o->np.last != LAST_NORM || o->np.trailing_slash ||
	    n->np.last != LAST_NORM || n->np.trailing_slash ||
	    o->np.dir.mnt != n->np.dir.mnt || child_busy(o) ||
	    (o->np.dir.vp == n->np.dir.vp &&
	     strcmp(o->np.name, n->np.name) == 0) ||
	    !(ndvp->sb->ops->flags & UVFS_FS_NO_NAMECACHE) ||
	    atomic_load(&n->np.dir.mnt->first_child) != NULL)
		return false;
	if (cred_root(ctx))
		return true;
	return vop_getattr(ndvp, &ds) == 0 &&
	       (!(ds.st_mode & S_ISVTX) || ds.st_uid == ctx->cred.uid);
}

static int renameat2_once(struct uvfs_ctx *ctx, int fromdirfd,
			  const char *from, int todirfd, const char *to,
			  unsigned flags)
{
	struct dirop o, n;
	int r;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	r = dirop_begin_parent(ctx, fromdirfd, from, &o);
	if (r)
		return r;
	r = dirop_begin_parent(ctx, todirfd, to, &n);
	if (r) {
		dirop_end(&o);
		return r;
	}
	return dirop_rename_parents(ctx, &o, &n, flags, true);
}

int uvfs_renameat2(struct uvfs_ctx *ctx, int fromdirfd, const char *from,
		   int todirfd, const char *to, unsigned flags)
{
	return RETRY_ESTALE(renameat2_once(ctx, fromdirfd, from, todirfd, to,
					   flags));
}

/* => both parents locked since the lookups (dirop_rename_parents). */
static int dirop_rename(struct uvfs_ctx *ctx, struct dirop *o,
			struct dirop *n, unsigned flags)
{
	int r;

	UVFS_VERIFY(o->locked);
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	r = rename_check(ctx, o, n, flags);
	if (r > 0)
		return 0;       /* the same file under both names */
	if (r)
		return r;
	bool exch = (flags & RENAME_EXCHANGE) != 0;
	if (!vn_isdir(o->child.vp) &&
	    !(exch && n->child.vp && vn_isdir(n->child.vp)))
		return vop_rename(o->np.dir.vp, o->np.name, n->np.dir.vp,
				  n->np.name, flags,
				  exch ? NULL : n->child.vp);
	/* a directory: the names of mount points below it move with it
	 * (mount.c, "The names of mount points") */
	struct mount_rename mr;
	mount_rename_begin(ctx, &mr, &o->np.dir, o->np.name, &n->np.dir,
			   n->np.name, exch);
	r = vop_rename(o->np.dir.vp, o->np.name, n->np.dir.vp, n->np.name,
		       flags, exch ? NULL : n->child.vp);
	mount_rename_end(ctx, &mr, &o->np.dir, r);
	return r;
}

int dirop_rename_parents(struct uvfs_ctx *ctx, struct dirop *o,
			 struct dirop *n, unsigned flags, bool blind_ok)
{
	int r;

	dirop_lock2(o, n);
	r = child_lookup(ctx, o);
	if (r == 0 && !(blind_ok && rename_blind_ok(ctx, o, n, flags)))
		r = child_lookup(ctx, n);
	if (r == 0)
		r = dirop_rename(ctx, o, n, flags);
	dirop_end(n);
	dirop_end(o);
	return r;
}

int uvfs_rename(struct uvfs_ctx *ctx, const char *from, const char *to,
		unsigned flags)
{
	return uvfs_renameat2(ctx, UVFS_AT_FDCWD, from, UVFS_AT_FDCWD, to,
			      flags);
}

static ssize_t readlink_once(struct uvfs_ctx *ctx, const char *path,
			     char *buf, size_t size)
{
	struct path p;
	ssize_t r;

	if (size == 0)
		return -EINVAL;
	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, 0, &p);
	if (r)
		return r;
	if (!S_ISLNK(p.vp->type))
		r = -EINVAL;
	else
		r = vop_readlink(p.vp, buf, size);
	path_put(&p);
	return r;
}

ssize_t uvfs_readlink(struct uvfs_ctx *ctx, const char *path, char *buf,
		      size_t size)
{
	return RETRY_ESTALE(readlink_once(ctx, path, buf, size));
}

/*
 * fileopen.c - opening a file: uvfs_openat and uvfs_open (the lookup, or
 * the create with O_CREAT, following a dangling symlink's target as
 * Linux does; Linux may_open()'s checks; the truncation), and
 * file_open_path, which opens a path found elsewhere (the node API).
 *
 * Owns no object: the open file description it makes (file_new, file.c)
 * is installed in the context's descriptor table or handed to the
 * caller, whose reference it is.  The lifecycle of open files and the
 * descriptor-table rules are file.c's.
 *
 * Locks: none of its own.  A create holds its directory through a dirop
 * (names.c) across the driver's create; the driver's open runs inside
 * the gate (vop_open, vnode_if.c) and attaches the file to its vnode
 * there.
 */
#include "core.h"
#include "file.h"

#include <unistd.h>

#define MAXSYMLINKS 40                  /* per open, as Linux (namei.c) */

/* ---- open -------------------------------------------------------------- */

/* The path naming the target of the symlink d->child, which path named:
 * path's directory part followed by the link's body, or the body alone
 * when it is absolute.  => *out malloc'ed. */
static int symlink_path(const struct dirop *d, const char *path, char **out)
{
	size_t dl = 0;
	char *body, *next;
	ssize_t n;

	body = sys_malloc(PATH_MAX);
	if (!body)
		return -ENOMEM;
	n = vop_readlink(d->child.vp, body, PATH_MAX - 1);
	if (n <= 0) {
		free(body);
		return n < 0 ? (int)n : -ENOENT;
	}
	body[n] = '\0';
	if (body[0] != '/') {
		dl = strlen(path);
		while (dl > 0 && path[dl - 1] == '/')
			dl--;
		while (dl > 0 && path[dl - 1] != '/')
			dl--;
	}
	if (dl + (size_t)n >= PATH_MAX) {
		free(body);
		return -ENAMETOOLONG;
	}
	next = sys_malloc(dl + (size_t)n + 1);
	if (next) {
		memcpy(next, path, dl);
		memcpy(next + dl, body, (size_t)n + 1);
	}
	free(body);
	if (!next)
		return -ENOMEM;
	*out = next;
	return 0;
}

/* O_CREAT: finds or creates the last component; a symlink there is
 * followed (unless O_NOFOLLOW or O_EXCL), and when it dangles its target
 * is created, as Linux does.  => *out held, *created set when this call
 * made the file. */
static int open_create(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       int flags, mode_t mode, struct path *out,
		       bool *created)
{
	const char *p = path;
	char *followed = NULL, *next = NULL;
	int links = 0, tries = 0, r;
	struct dirop d;
	struct vnode *vp;

	for (;;) {
		bool gone = false;

		r = dirop_begin_parent(ctx, dirfd, p, &d);
		if (r)
			goto out;
		dirop_lock(&d);         /* until dirop_end */
		r = 1;
		if (flags & O_EXCL)
			r = dirop_create_direct(ctx, &d,
						S_IFREG | (mode & ~ctx->umask &
							   07777),
						0, NULL, &vp, &gone);
		if (gone)
			goto out;       /* its lookup failed: d released */
		if (r == 0) {
			mount_ref(d.np.dir.mnt);
			out->mnt = d.np.dir.mnt;
			out->vp = vp;
			*created = true;
			break;
		}
		if (r < 0)
			break;
		r = dirop_lookup_child(ctx, &d);
		if (r)
			goto out;
		if (d.np.last != LAST_NORM || d.np.trailing_slash) {
			r = -EISDIR;
			break;
		}
		if (d.child.vp) {
			if (flags & O_EXCL) {
				r = -EEXIST;
				break;
			}
			if (!S_ISLNK(d.child.vp->type) || (flags & O_NOFOLLOW)) {
				*out = d.child; /* O_NOFOLLOW: ELOOP later */
				d.child = (struct path){ 0 };
				break;
			}
			if (++links > MAXSYMLINKS) {
				r = -ELOOP;
				break;
			}
			r = symlink_path(&d, p, &next);
			dirop_end(&d);
			if (r)
				goto out;
			free(followed);
			p = followed = next;
			continue;
		}
		if (mnt_rdonly(d.np.dir.mnt))
			r = -EROFS;
		else
			r = may_access(ctx, d.np.dir.vp, W_OK | X_OK);
		if (!r)
			r = vop_create(d.np.dir.vp, d.np.name,
				       S_IFREG | (mode & ~ctx->umask & 07777),
				       0, NULL, &ctx->cred, &vp);
		if (!r) {
			mount_ref(d.np.dir.mnt);
			out->mnt = d.np.dir.mnt;
			out->vp = vp;
			*created = true;
			break;
		}
		/* Lost a race with another creator: open theirs. */
		if (r != -EEXIST || (flags & O_EXCL) || ++tries > 8)
			break;
		dirop_end(&d);
	}
	dirop_end(&d);
out:
	free(followed);
	return r;
}

/* The checks of Linux may_open() and do_open() on the file found, then
 * the truncation.  => 0 when p may be opened with flags. */
static int open_check(struct uvfs_ctx *ctx, const struct path *p, int flags,
		      bool created)
{
	struct vnode *vp = p->vp;
	int acc = flags & O_ACCMODE;
	bool rd = acc != O_WRONLY, wr = acc != O_RDONLY;
	bool trunc = (flags & O_TRUNC) != 0;
	int mask, r;

	if ((flags & O_DIRECTORY) && !vn_isdir(vp))
		return -ENOTDIR;
	if (flags & O_PATH)
		return 0;
	if ((flags & O_CREAT) && vn_isdir(vp))
		return -EISDIR;
	if (S_ISLNK(vp->type))
		return -ELOOP;  /* O_NOFOLLOW on a symlink */
	if (vn_isdir(vp) && (wr || trunc))
		return -EISDIR;
	if (!created) {
		if ((wr || trunc) && write_counts(vp) && mnt_rdonly(p->mnt))
			return -EROFS;
		mask = (rd ? R_OK : 0) | (wr || trunc ? W_OK : 0);
		r = may_access(ctx, vp, mask);
		if (r)
			return r;
	}
	if (S_ISSOCK(vp->type))
		return -ENXIO;
	if (trunc && !created && S_ISREG(vp->type)) {
		/* As Linux's do_truncate for an open: the size and the times,
		 * also of a file already empty (its mtime and ctime change,
		 * where a truncate(2) to the same size changes nothing; a
		 * server's truncate to the size the file has does not touch
		 * them, so the time is asked for too).  Pages fallocate
		 * reserved past the end go as well. */
		struct uvfs_setattr sa = {
			.valid = UVFS_SET_SIZE | UVFS_SET_MTIME, .size = 0,
			.mtime = { .tv_nsec = UTIME_NOW },
		};

		r = file_kill_priv(ctx, vp);
		if (r < 0)
			return r;
		r = vop_setattr(vp, &sa);
		if (r)
			return r;
	}
	return 0;
}

int file_open_path(struct path *p, int flags, const char *name,
		   struct file **out)
{
	struct file *f = file_new(p, flags, name);
	int r;

	if (!f)
		return -ENOMEM;
	if (!(flags & O_PATH)) {
		/* sets f->fh and attaches f inside the gate, before anyone
		 * else can see f */
		r = vop_open(f->path.vp, flags & ~(O_CREAT | O_EXCL | O_TRUNC),
			     f);
		if (r) {
			file_put(f);
			return r;
		}
	}
	*out = f;
	return 0;
}

int open_check_path(struct uvfs_ctx *ctx, const struct path *p, int flags)
{
	return open_check(ctx, p, flags, false);
}

/* => *created: whether this call made the file (uvfs_openat). */
static int openat_once(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       int flags, mode_t mode, bool *created)
{
	struct path p = { 0 };
	struct file *f;
	char *name;
	int r, fd;

	if (!path)
		return -EFAULT;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		return -EOPNOTSUPP;
	if (flags & O_PATH)     /* Linux: everything else is ignored */
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return -EINVAL; /* as Linux >= 6.4 */

	if (flags & O_CREAT) {
		r = open_create(ctx, dirfd, path, flags, mode, &p, created);
	} else {
		unsigned lk = 0;

		if (!(flags & O_NOFOLLOW))
			lk |= LK_FOLLOW;
		if (flags & O_DIRECTORY)
			lk |= LK_DIRECTORY;
		r = namei_at(ctx, dirfd, path, lk, &p);
	}
	if (r)
		return r;
	r = open_check(ctx, &p, flags, *created);
	if (r) {
		path_put(&p);
		return r;
	}

	name = name_at(ctx, dirfd, path);
	if (!name) {
		path_put(&p);
		return -ENOMEM;
	}
	r = file_open_path(&p, flags, name, &f);
	free(name);
	if (r)
		return r;
	fd = fd_install(ctx, f);
	if (fd < 0)
		file_put(f);
	return fd;
}

int uvfs_openat(struct uvfs_ctx *ctx, int dirfd, const char *path, int flags,
		mode_t mode)
{
	bool created = false;
	int r = -ESTALE;

	/* RETRY_ESTALE, but a file this call made exclusively is not made
	 * again: the second try could find it and say -EEXIST.  Without
	 * O_EXCL it may be: the file made went before it was opened (a
	 * removal that raced the open, on a file server), and the second
	 * try is this call made after that removal */
	for (unsigned t = 0; r == -ESTALE && t < ESTALE_TRIES; t++) {
		if (created && (flags & O_EXCL))
			return -EIO;
		created = false;
		r = openat_once(ctx, dirfd, path, flags, mode, &created);
	}
	return r;
}

int uvfs_open(struct uvfs_ctx *ctx, const char *path, int flags, mode_t mode)
{
	return uvfs_openat(ctx, UVFS_AT_FDCWD, path, flags, mode);
}

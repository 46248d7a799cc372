/*
 * node.c - the node-level API for front ends: held (mount, vnode) pairs.
 *
 * A node is the FUSE node id of a pair.  It holds one path reference for
 * as long as its hold count is above zero; each lookup that returns it adds
 * a hold and uvfs_node_release() drops them (the kernel's lookup count and
 * FORGET, the Solaris dangling-vnode protocol).  The same pair always maps
 * to the same node (vp->node), so node ids are stable.  Nodes are listed on
 * their mount for the holders query and make the mount busy.
 */
#include "core.h"
#include "file.h"
#include "lock.h"

/* A new node (holds 0, on no list) named "DIR/NAME" ("/NAME" under the
 * root; "/" for the root itself: dir NULL), name and node in one
 * allocation; NULL when out of memory.  By hand: asprintf's formatting
 * cost more than the rest of a FUSE create's front end. */
static struct uvfs_node *node_alloc(const char *dir, const char *name)
{
	size_t d = dir ? strlen(dir) : 0, n = dir ? strlen(name) : 1;
	int slash = dir && !(d == 1 && dir[0] == '/');
	struct uvfs_node *nd = sys_calloc(1, sizeof(*nd) + d +
					  (size_t)slash + n + 1);

	if (!nd)
		return NULL;
	if (!dir) {
		memcpy(nd->name, "/", 2);
		return nd;
	}
	memcpy(nd->name, dir, d);
	if (slash)
		nd->name[d] = '/';
	memcpy(nd->name + d + (size_t)slash, name, n + 1);
	return nd;
}

/* Turns a held path into a held node (the path's references are consumed). */
static int node_get(struct uvfs_ctx *ctx, struct path *p,
		    const struct uvfs_node *dir, const char *name,
		    struct uvfs_node **out)
{
	struct mount *m = p->mnt;
	struct uvfs_node *nd;

	pthread_mutex_lock(&m->node_lock);
	nd = p->vp->node;
	if (nd) {
		atomic_fetch_add(&nd->holds, 1);
		pthread_mutex_unlock(&m->node_lock);
		path_put(p);
		*out = nd;
		return 0;
	}
	nd = node_alloc(dir ? dir->name : NULL, name);
	if (!nd) {
		pthread_mutex_unlock(&m->node_lock);
		path_put(p);
		return -ENOMEM;
	}
	nd->path = *p;
	atomic_init(&nd->holds, 1);
	nd->ctx_id = ctx->id;
	cds_list_add_tail(&nd->mlink, &m->nodes);
	p->vp->node = nd;
	pthread_mutex_unlock(&m->node_lock);
	CNT_INC(m->u->nnodes);
	p->mnt = NULL;
	p->vp = NULL;
	*out = nd;
	return 0;
}

void uvfs_node_hold(struct uvfs_node *nd)
{
	uint64_t o = atomic_fetch_add(&nd->holds, 1);
	UVFS_VERIFY(o > 0);
}

void uvfs_node_release(struct uvfs_node *nd, uint64_t n)
{
	struct mount *m = nd->path.mnt;
	struct uvfs *u = m->u;

	pthread_mutex_lock(&m->node_lock);
	uint64_t o = atomic_fetch_sub(&nd->holds, n);
	UVFS_VERIFY(o >= n);
	if (o != n) {
		pthread_mutex_unlock(&m->node_lock);
		return;
	}
	cds_list_del(&nd->mlink);
	nd->path.vp->node = NULL;
	pthread_mutex_unlock(&m->node_lock);
	path_put(&nd->path);
	free(nd);
	CNT_DEC(u->nnodes);
}

int uvfs_node_root(struct uvfs_ctx *ctx, struct uvfs_node **out)
{
	struct path p = ctx->root;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	path_get(&p);
	return node_get(ctx, &p, NULL, NULL, out);
}

/* uvfs_node_lookup, and with enter false uvfs_node_lookup_here. */
static int node_lookup(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		       const char *name, bool enter, struct uvfs_node **out,
		       struct stat *st)
{
	struct path p = dir->path;
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	path_get(&p);
	err = namei_step(ctx, &p, name);
	/* the step crossed into another mount (reading its flags only):
	 * the getattr of its root would enter its file system */
	if (!err && !enter && p.mnt != dir->path.mnt)
		err = -EXDEV;
	/* no attributes asked for (a front end's walk to a path to
	 * invalidate): none fetched, so that the walk enters no file
	 * system for them, which a suspended one or a hung server would
	 * hold up (the forced unmount of a mount below one); a dead
	 * result is -EIO, as a getattr would answer */
	if (!err && !st && vn_dead(p.vp))
		err = -EIO;
	if (!err && st)
		err = vop_getattr(p.vp, st);
	if (err) {
		path_put(&p);
		return err;
	}
	return node_get(ctx, &p, dir, name, out);
}

int uvfs_node_lookup(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, struct uvfs_node **out,
		     struct stat *st)
{
	return node_lookup(ctx, dir, name, true, out, st);
}

int uvfs_node_lookup_here(struct uvfs_ctx *ctx, struct uvfs_node *dir,
			  const char *name, struct uvfs_node **out,
			  struct stat *st)
{
	return node_lookup(ctx, dir, name, false, out, st);
}

int uvfs_node_getattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		      struct stat *st)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	return vop_getattr(nd->path.vp, st);
}

int uvfs_node_exclusive(const struct uvfs_node *nd)
{
	return !(nd->path.vp->sb->ops->flags & UVFS_FS_NO_NAMECACHE);
}

uint64_t uvfs_node_mount_id(const struct uvfs_node *nd)
{
	return nd->path.mnt->id;
}

int uvfs_node_owner_claim(struct uvfs *u, const void *who)
{
	const void *none = NULL;

	if (atomic_compare_exchange_strong(&u->node_owner, &none, who) ||
	    none == who)
		return 0;
	return -EBUSY;
}

void uvfs_node_owner_unclaim(struct uvfs *u, const void *who)
{
	const void *mine = who;

	atomic_compare_exchange_strong(&u->node_owner, &mine, NULL);
}

void *uvfs_node_owner(const struct uvfs_node *nd)
{
	return nd->owner;
}

void uvfs_node_set_owner(struct uvfs_node *nd, void *word)
{
	nd->owner = word;
}

/* mode differs from vp's only by set-user-ID and set-group-ID cleared */
static bool only_clears_ids(struct vnode *vp, mode_t mode)
{
	const mode_t ids = S_ISUID | S_ISGID;
	struct stat st;

	if (vop_getattr(vp, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	return (mode & 07777 & ~ids) == (st.st_mode & 07777 & ~ids) &&
	       (mode & ids & ~st.st_mode) == 0 &&
	       (mode & 07777) != (st.st_mode & 07777);
}

/* Each field through the same checks as the path calls (chmod, chown,
 * truncate, utimensat), in that order. */
int uvfs_node_setattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		      const struct uvfs_setattr *sa, struct stat *st)
{
	const struct path *p = &nd->path;
	int err = 0;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	/* A mode with a size that only clears set-id bits is a truncation's
	 * clearing of them (the FUSE kernel's file_remove_privs): it goes
	 * with the size, in one setattr (path_truncate_mode), also for a
	 * caller who does not own the file. */
	if ((sa->valid & (UVFS_SET_MODE | UVFS_SET_SIZE | UVFS_SET_UID |
			  UVFS_SET_GID)) == (UVFS_SET_MODE | UVFS_SET_SIZE) &&
	    only_clears_ids(p->vp, sa->mode)) {
		mode_t kill = sa->mode & 07777;
		err = path_truncate_mode(ctx, p, sa->size, &kill);
	} else {
		if (sa->valid & UVFS_SET_MODE)
			err = path_chmod(ctx, p, sa->mode,
					 sa->valid & UVFS_SET_KILLPRIV);
		uid_t uid = (sa->valid & UVFS_SET_UID) ? sa->uid : (uid_t)-1;
		gid_t gid = (sa->valid & UVFS_SET_GID) ? sa->gid : (gid_t)-1;
		if (!err && (sa->valid & (UVFS_SET_UID | UVFS_SET_GID)))
			err = path_chown(ctx, p, uid, gid);
		if (!err && (sa->valid & UVFS_SET_SIZE))
			err = path_truncate(ctx, p, sa->size);
	}
	if (!err && (sa->valid & (UVFS_SET_ATIME | UVFS_SET_MTIME))) {
		struct timespec t[2] = { { 0, UTIME_OMIT },
					 { 0, UTIME_OMIT } };
		if (sa->valid & UVFS_SET_ATIME)
			t[0] = sa->atime;
		if (sa->valid & UVFS_SET_MTIME)
			t[1] = sa->mtime;
		err = path_utimens(ctx, p, t);
	}
	if (!err && st)
		err = vop_getattr(p->vp, st);
	return err;
}

ssize_t uvfs_node_read(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		       void *buf, size_t n, off_t off)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (off < 0)
		return -EINVAL;
	if (vn_isdir(nd->path.vp))
		return -EISDIR;
	return vop_read(nd->path.vp, NULL, buf, n, off);
}

ssize_t uvfs_node_write(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			const void *buf, size_t n, off_t off)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (off < 0)
		return -EINVAL;
	if (nd->path.mnt->flags & MNT_RDONLY)
		return -EROFS;
	if (vn_isdir(nd->path.vp))
		return -EISDIR;
	return vop_write(nd->path.vp, NULL, buf, n, &off);
}

struct node_fill {
	uvfs_node_filldir_t fill;
	void *arg;
};

static int node_fill(void *arg, const char *name, uint64_t ino,
		     unsigned char type, uint64_t next)
{
	struct node_fill *nf = arg;
	struct uvfs_dirent de;

	de.ino = ino;
	de.next = next;
	de.type = type;
	snprintf(de.name, sizeof(de.name), "%s", name);
	return nf->fill(nf->arg, &de);
}

int uvfs_node_readdir(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		      uint64_t cookie, uvfs_node_filldir_t fill, void *arg)
{
	struct node_fill nf = { fill, arg };
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (!vn_isdir(dir->path.vp))
		return -ENOTDIR;
	err = may_access(ctx, dir->path.vp, R_OK);
	if (err)
		return err;
	return vop_readdir(dir->path.vp, NULL, cookie, node_fill, &nf);
}

/* A new name in dir, as the path calls make it. */
static int node_make(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, mode_t mode, dev_t rdev,
		     const char *target, struct uvfs_node **out,
		     struct stat *st)
{
	struct dirop d;
	struct path p;
	struct vnode *vp;
	bool gone = false;
	int err;

	err = dirop_at_parent(&dir->path, name, &d);
	if (err)
		return err;
	dirop_lock(&d);         /* until dirop_end */
	err = dirop_create_direct(ctx, &d, mode, rdev, target, &vp, &gone);
	if (gone)
		return err;     /* its lookup failed: d released */
	if (err > 0) {
		err = dirop_lookup_child(ctx, &d);
		if (err)
			return err;     /* d released */
		err = dirop_create(ctx, &d, mode, rdev, target, &vp);
	}
	if (!err) {
		p.mnt = d.np.dir.mnt;
		mount_ref(p.mnt);
		p.vp = vp;
	}
	dirop_end(&d);
	if (err)
		return err;
	if (st && (err = vop_getattr(vp, st)) != 0) {
		path_put(&p);
		/* the file is made: never -ESTALE, which a kernel takes for
		 * "look the path up again and retry" (a create retried
		 * finds the file it made: EEXIST) */
		return err == -ESTALE ? -EIO : err;
	}
	return node_get(ctx, &p, dir, name, out);
}

int uvfs_node_create(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, mode_t mode, dev_t rdev,
		     const char *symlink_target, struct uvfs_node **out,
		     struct stat *st)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		break;
	case S_IFLNK:
		if (!symlink_target)
			return -EFAULT;
		if (!*symlink_target)
			return -ENOENT;
		mode = S_IFLNK | 0777;
		break;
	case S_IFREG: case S_IFDIR: case S_IFCHR: case S_IFBLK:
	case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EINVAL;
	}
	if (S_ISDIR(mode))
		mode &= S_IFDIR | 01777;
	return node_make(ctx, dir, name, mode, rdev,
			 S_ISLNK(mode) ? symlink_target : NULL, out, st);
}

int uvfs_node_mkdir(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		    const char *name, mode_t mode, struct uvfs_node **out,
		    struct stat *st)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	return node_make(ctx, dir, name, S_IFDIR | (mode & 01777), 0, NULL,
			 out, st);
}

int uvfs_node_unlink(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, int isdir)
{
	struct dirop d;
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	err = dirop_at(ctx, &dir->path, name, &d);
	if (err)
		return err;
	err = dirop_remove(ctx, &d, isdir != 0);
	dirop_end(&d);
	return err;
}

int uvfs_node_rename(struct uvfs_ctx *ctx, struct uvfs_node *odir,
		     const char *oname, struct uvfs_node *ndir,
		     const char *nname, unsigned flags)
{
	struct dirop o, n;
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	err = dirop_at_parent(&odir->path, oname, &o);
	if (err)
		return err;
	err = dirop_at_parent(&ndir->path, nname, &n);
	if (err) {
		dirop_end(&o);
		return err;
	}
	return dirop_rename_parents(ctx, &o, &n, flags, false);
}

int uvfs_node_link(struct uvfs_ctx *ctx, struct uvfs_node *node,
		   struct uvfs_node *dir, const char *name,
		   struct uvfs_node **out, struct stat *st)
{
	struct dirop d;
	struct path p;
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	err = dirop_at(ctx, &dir->path, name, &d);
	if (err)
		return err;
	err = dirop_link(ctx, &node->path, &d);
	dirop_end(&d);
	if (err)
		return err;
	p = node->path;
	path_get(&p);
	if (st && (err = vop_getattr(p.vp, st)) != 0) {
		path_put(&p);
		return err;
	}
	return node_get(ctx, &p, dir, name, out);
}

ssize_t uvfs_node_readlink(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			   char *buf, size_t size)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (size == 0)
		return -EINVAL;
	if (!S_ISLNK(nd->path.vp->type))
		return -EINVAL;
	return vop_readlink(nd->path.vp, buf, size);
}

int uvfs_node_statfs(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		     struct statvfs *st)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	return vop_statfs(nd->path.vp, st);
}

int uvfs_node_access(struct uvfs_ctx *ctx, struct uvfs_node *nd, int mask)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	return path_access(ctx, &nd->path, mask);
}

/* ---- open files of the node API ---------------------------------------- */

int uvfs_node_open(struct uvfs_ctx *ctx, struct uvfs_node *nd, int flags,
		   const char *label, struct uvfs_file **out)
{
	struct mount *m = nd->path.mnt;
	struct uvfs_file *h;
	struct path p = nd->path;
	int err, fill = flags & UVFS_O_FILL;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	flags &= ~UVFS_O_FILL;
	if (flags & (O_CREAT | O_EXCL | O_PATH))
		return -EINVAL;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	err = open_check_path(ctx, &p, flags);
	if (err)
		return err;
	h = sys_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (label) {    /* truncated to fit, as snprintf would, cheaper */
		size_t l = strnlen(label, sizeof(h->label) - 1);
		memcpy(h->label, label, l);
		h->label[l] = '\0';
	}
	h->cred = ctx->cred;
	/* checked as asked; opened for the page cache's reads too */
	if (fill && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	path_get(&p);
	err = file_open_path(&p, flags & ~O_TRUNC, nd->name, &h->f);
	if (err) {
		free(h);
		return err;
	}
	pthread_mutex_lock(&m->node_lock);
	cds_list_add_tail(&h->mlink, &m->handles);
	pthread_mutex_unlock(&m->node_lock);
	*out = h;
	return 0;
}

ssize_t uvfs_file_pread(struct uvfs_file *h, void *buf, size_t n, off_t off)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	if (off < 0)
		return -EINVAL;
	if ((h->f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	return file_read(h->f, buf, n, off);
}

ssize_t uvfs_file_pwrite(struct uvfs_file *h, const void *buf, size_t n,
			 off_t off)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	if (off < 0)
		return -EINVAL;
	if ((h->f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	return file_write(h->f, buf, n, off);
}

int uvfs_file_kill_priv(struct uvfs_ctx *ctx, struct uvfs_file *h)
{
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if ((h->f->flags & O_ACCMODE) == O_RDONLY)
		return 0;       /* it cannot write: nothing to clear */
	return file_kill_priv(ctx, h->f->path.vp);
}

int uvfs_file_fsync(struct uvfs_file *h, int datasync)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	return file_fsync(h->f, file_fh(h->f), datasync);
}

int uvfs_file_truncate(struct uvfs_file *h, off_t len)
{
	/* ftruncate(2): the times move even at the same size (attr.c) */
	struct uvfs_setattr sa = {
		.valid = UVFS_SET_SIZE | UVFS_SET_MTIME, .size = len,
		.mtime = { .tv_nsec = UTIME_NOW },
	};

	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	if (len < 0)
		return -EINVAL;
	if (!S_ISREG(h->f->path.vp->type) ||
	    (h->f->flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	if (atomic_load(&h->f->path.mnt->flags) & MNT_RDONLY)
		return -EROFS;
	return vop_setattr(h->f->path.vp, &sa);
}

int uvfs_file_readdir(struct uvfs_file *h, uint64_t cookie,
		      uvfs_node_filldir_t fill, void *arg)
{
	struct node_fill nf = { fill, arg };

	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	if (!vn_isdir(h->f->path.vp))
		return -ENOTDIR;
	return vop_readdir(h->f->path.vp, file_fh(h->f), cookie, node_fill,
			   &nf);
}

int uvfs_file_flushes(const struct uvfs_file *h)
{
	/* a close must also end its process's POSIX locks (FUSE's FLUSH
	 * carries the owner) once any lock was taken on the file system */
	return file_flushes(h->f) ||
	       atomic_load(&h->f->path.vp->sb->locked);
}

int uvfs_file_flush(struct uvfs_file *h)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	return file_flush(h->f);
}

int uvfs_file_fstat(struct uvfs_file *h, struct stat *st)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	return vop_getattr(h->f->path.vp, st);
}

void uvfs_file_release(struct uvfs_file *h)
{
	struct mount *m = h->f->path.mnt;

	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	pthread_mutex_lock(&m->node_lock);
	cds_list_del(&h->mlink);
	pthread_mutex_unlock(&m->node_lock);
	file_put(h->f);         /* may drop the last mount reference */
	free(h);
}

int uvfs_file_lock(struct uvfs_file *h, uint64_t owner, int flock, int cmd,
		   struct flock *fl, pid_t pid, struct uvfs_lock_wait *w)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	return file_lock_handle(h->f, owner, flock, cmd, fl, pid, w);
}

int uvfs_file_lock_async(struct uvfs_file *h, uint64_t owner, int flock,
			 const struct flock *fl, pid_t pid,
			 struct uvfs_lock_wait *w, uvfs_lock_done_fn done,
			 void *arg)
{
	int r;

	cred_set_current(&h->cred);
	r = file_lock_async(h->f, &h->cred, owner, flock, fl, pid, w, done,
			    arg);
	return r;
}

int uvfs_file_unlock_owner(struct uvfs_file *h, uint64_t owner, int flock)
{
	cred_set_current(&h->cred);
	return file_unlock_owner(h->f, owner, flock);
}

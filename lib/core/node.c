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
	nd = calloc(1, sizeof(*nd));
	if (!nd) {
		pthread_mutex_unlock(&m->node_lock);
		path_put(p);
		return -ENOMEM;
	}
	if (!dir)
		nd->name = strdup("/");
	else if (asprintf(&nd->name, "%s%s%s", dir->name,
			  strcmp(dir->name, "/") ? "/" : "", name) < 0)
		nd->name = NULL;
	if (!nd->name) {
		pthread_mutex_unlock(&m->node_lock);
		free(nd);
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
	free(nd->name);
	free(nd);
	CNT_DEC(u->nnodes);
}

int uvfs_node_root(struct uvfs_ctx *ctx, struct uvfs_node **out)
{
	struct path p = ctx->root;

	path_get(&p);
	return node_get(ctx, &p, NULL, NULL, out);
}

int uvfs_node_lookup(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, struct uvfs_node **out,
		     struct stat *st)
{
	struct path p = dir->path;
	struct stat tmp;
	int err;

	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	path_get(&p);
	err = namei_step(ctx, &p, name);
	if (!err)
		err = vop_getattr(p.vp, st ? st : &tmp);
	if (err) {
		path_put(&p);
		return err;
	}
	return node_get(ctx, &p, dir, name, out);
}

int uvfs_node_getattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		      struct stat *st)
{
	(void)ctx;
	return vop_getattr(nd->path.vp, st);
}

int uvfs_node_setattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		      const struct uvfs_setattr *sa, struct stat *st)
{
	struct vnode *vp = nd->path.vp;
	struct stat cur;
	int err;

	if (nd->path.mnt->flags & MNT_RDONLY)
		return -EROFS;
	err = vop_getattr(vp, &cur);
	if (err)
		return err;
	if (ctx->cred.uid != 0) {
		bool owner = cur.st_uid == ctx->cred.uid;
		if ((sa->valid & UVFS_SET_MODE) && !owner)
			return -EPERM;
		if ((sa->valid & UVFS_SET_UID) && sa->uid != cur.st_uid)
			return -EPERM;
		if ((sa->valid & UVFS_SET_GID) && (!owner ||
		    (sa->gid != ctx->cred.gid && sa->gid != cur.st_gid)))
			return -EPERM;
		if ((sa->valid & (UVFS_SET_ATIME | UVFS_SET_MTIME)) && !owner &&
		    (err = may_access(ctx, vp, W_OK)) != 0)
			return -EPERM;
		if ((sa->valid & UVFS_SET_SIZE) &&
		    (err = may_access(ctx, vp, W_OK)) != 0)
			return err;
	}
	if ((sa->valid & UVFS_SET_SIZE) && S_ISDIR(cur.st_mode))
		return -EISDIR;
	err = vop_setattr(vp, sa);
	if (!err && st)
		err = vop_getattr(vp, st);
	return err;
}

ssize_t uvfs_node_read(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		       void *buf, size_t n, off_t off)
{
	(void)ctx;
	if (off < 0)
		return -EINVAL;
	if (vn_isdir(nd->path.vp))
		return -EISDIR;
	return vop_read(nd->path.vp, NULL, buf, n, off);
}

ssize_t uvfs_node_write(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			const void *buf, size_t n, off_t off)
{
	(void)ctx;
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

	if (!vn_isdir(dir->path.vp))
		return -ENOTDIR;
	err = may_access(ctx, dir->path.vp, R_OK);
	if (err)
		return err;
	return vop_readdir(dir->path.vp, NULL, cookie, node_fill, &nf);
}

int uvfs_node_create(struct uvfs_ctx *ctx, struct uvfs_node *dir,
		     const char *name, mode_t mode, dev_t rdev,
		     const char *symlink_target, struct uvfs_node **out,
		     struct stat *st)
{
	struct path p;
	struct vnode *vp;
	int err;

	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (S_ISLNK(mode) && (!symlink_target || !*symlink_target))
		return -ENOENT;
	if (!vn_isdir(dir->path.vp))
		return -ENOTDIR;
	if (dir->path.mnt->flags & MNT_RDONLY)
		return -EROFS;
	err = may_access(ctx, dir->path.vp, W_OK | X_OK);
	if (err)
		return err;
	err = vop_create(dir->path.vp, name, mode, rdev, symlink_target,
			 &ctx->cred, &vp);
	if (err)
		return err;
	p.mnt = dir->path.mnt;
	mount_ref(p.mnt);
	p.vp = vp;
	if (st && (err = vop_getattr(vp, st)) != 0) {
		path_put(&p);
		return err;
	}
	return node_get(ctx, &p, dir, name, out);
}

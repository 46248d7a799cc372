/*
 * xattr.c - extended attributes: the name and size rules, the permission
 * rules of each namespace (Linux fs/xattr.c xattr_permission and the
 * capability checks of security.*), and the path, descriptor and node
 * forms of get/set/list/remove.  The values themselves are the driver's
 * (struct uvfs_fstype_ops getxattr ... removexattr).
 *
 * No lock of its own: each call holds its path (mount and vnode) and the
 * driver runs inside the gate (vop_*xattr).
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define XATTR_NAME_MAX_ 255

enum ns { NS_USER, NS_TRUSTED, NS_SECURITY };

/* => the namespace of name, or -ERANGE (empty or too long), -EOPNOTSUPP
 *    (an unknown or unsupported namespace: system. is POSIX ACLs),
 *    -EINVAL (the prefix alone). */
static int name_ns(const char *name)
{
	static const struct { const char *p; enum ns ns; } known[] = {
		{ "user.", NS_USER },
		{ "trusted.", NS_TRUSTED },
		{ "security.", NS_SECURITY },
	};
	size_t len;

	if (!name)
		return -EFAULT;
	len = strnlen(name, XATTR_NAME_MAX_ + 1);
	if (len == 0 || len > XATTR_NAME_MAX_)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t pl = strlen(known[i].p);
		if (strncmp(name, known[i].p, pl) == 0)
			return len == pl ? -EINVAL : (int)known[i].ns;
	}
	return -EOPNOTSUPP;
}

static bool is_root(const struct uvfs_ctx *ctx)
{
	return ctx->cred.uid == 0;
}

/* Linux xattr_permission() and cap_inode_setxattr(); write: set or
 * remove. */
static int xattr_may(struct uvfs_ctx *ctx, const struct path *p, int ns,
		     bool write)
{
	struct stat st;
	int r;

	if (write && (atomic_load(&p->mnt->flags) & MNT_RDONLY))
		return -EROFS;
	switch (ns) {
	case NS_SECURITY:
		return !write || is_root(ctx) ? 0 : -EPERM;
	case NS_TRUSTED:
		if (!is_root(ctx))
			return write ? -EPERM : -ENODATA;
		return 0;
	default:
		break;
	}
	/* user. */
	if (!S_ISREG(p->vp->type) && !S_ISDIR(p->vp->type))
		return write ? -EPERM : -ENODATA;
	if (write && S_ISDIR(p->vp->type) && !is_root(ctx)) {
		r = vop_getattr(p->vp, &st);
		if (r)
			return r;
		if ((st.st_mode & S_ISVTX) && st.st_uid != ctx->cred.uid)
			return -EPERM;
	}
	return may_access(ctx, p->vp, write ? W_OK : R_OK);
}

static ssize_t path_getxattr(struct uvfs_ctx *ctx, const struct path *p,
			     const char *name, void *value, size_t size)
{
	int ns = name_ns(name), r;

	if (ns < 0)
		return ns;
	if (size > UVFS_XATTR_SIZE_MAX)
		size = UVFS_XATTR_SIZE_MAX;
	if (size && !value)
		return -EFAULT;
	r = xattr_may(ctx, p, ns, false);
	if (r)
		return r;
	return vop_getxattr(p->vp, name, size ? value : NULL, size);
}

static int path_setxattr(struct uvfs_ctx *ctx, const struct path *p,
			 const char *name, const void *value, size_t size,
			 int flags, bool remove)
{
	int ns = name_ns(name), r;

	if (ns < 0)
		return ns;
	if (!remove) {
		if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
			return -EINVAL;
		if (size > UVFS_XATTR_SIZE_MAX)
			return -E2BIG;
		if (size && !value)
			return -EFAULT;
	}
	r = xattr_may(ctx, p, ns, true);
	if (r)
		return r;
	if (remove)
		return vop_removexattr(p->vp, name);
	return vop_setxattr(p->vp, name, size ? value : "", size, flags);
}

/* The driver's list less what the caller may not see (trusted. for all
 * but root, as tmpfs). */
static ssize_t path_listxattr(struct uvfs_ctx *ctx, const struct path *p,
			      char *list, size_t size)
{
	size_t cap = 4096;      /* most lists fit: one driver call */
	char *all = NULL;
	ssize_t n, out = 0;

	if (size && !list)
		return -EFAULT;
	for (int tries = 0;; tries++) {
		char *nb = sys_realloc(all, cap);
		if (!nb) {
			free(all);
			return -ENOMEM;
		}
		all = nb;
		n = vop_listxattr(p->vp, all, cap);
		if (n != -ERANGE || tries == 8)
			break;
		/* longer: ask its length, then again (it may grow between) */
		n = vop_listxattr(p->vp, NULL, 0);
		if (n <= 0)
			break;
		cap = (size_t)n;
	}
	for (ssize_t i = 0; n > 0 && i < n;) {
		size_t len = strnlen(all + i, (size_t)(n - i));
		if (len == 0 || (size_t)i + len >= (size_t)n)
			break;  /* malformed by the driver: stop there */
		bool show = is_root(ctx) ||
			    strncmp(all + i, "trusted.", 8) != 0;
		if (show) {
			if (size) {
				if ((size_t)out + len + 1 > size) {
					out = -ERANGE;
					break;
				}
				memcpy(list + out, all + i, len + 1);
			}
			out += (ssize_t)len + 1;
		}
		i += (ssize_t)len + 1;
	}
	free(all);
	return n < 0 ? n : out;
}

/* ---- the path, descriptor and node forms -------------------------------- */

enum xop { X_GET, X_SET, X_LIST, X_REMOVE };

/* One call, whatever names the file. */
struct xreq {
	enum xop op;
	const char *name;
	void *out;              /* get, list */
	const void *in;         /* set */
	size_t size;
	int flags;
};

static ssize_t xattr_do(struct uvfs_ctx *ctx, const struct path *p,
			const struct xreq *q)
{
	switch (q->op) {
	case X_GET:
		return path_getxattr(ctx, p, q->name, q->out, q->size);
	case X_SET:
		return path_setxattr(ctx, p, q->name, q->in, q->size,
				     q->flags, false);
	case X_LIST:
		return path_listxattr(ctx, p, q->out, q->size);
	default:
		return path_setxattr(ctx, p, q->name, NULL, 0, 0, true);
	}
}

/* lk: LK_FOLLOW for the plain forms, 0 for the l* forms. */
static ssize_t xattr_path_once(struct uvfs_ctx *ctx, const char *path,
			       unsigned lk, const struct xreq *q)
{
	struct path p;
	ssize_t r;

	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, lk, &p);
	if (r)
		return r;
	r = xattr_do(ctx, &p, q);
	path_put(&p);
	return r;
}

static ssize_t xattr_path(struct uvfs_ctx *ctx, const char *path,
			  unsigned lk, const struct xreq *q)
{
	return RETRY_ESTALE(xattr_path_once(ctx, path, lk, q));
}

static ssize_t xattr_fd(struct uvfs_ctx *ctx, int fd, const struct xreq *q)
{
	struct file *f;
	ssize_t r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	r = xattr_do(ctx, &f->path, q);
	file_put(f);
	return r;
}

#define GET(n, v, s)     (&(struct xreq){ .op = X_GET, .name = n, .out = v, .size = s })
#define SET(n, v, s, fl) (&(struct xreq){ .op = X_SET, .name = n, .in = v, .size = s, .flags = fl })
#define LIST(l, s)       (&(struct xreq){ .op = X_LIST, .out = l, .size = s })
#define REMOVE(n)        (&(struct xreq){ .op = X_REMOVE, .name = n })

ssize_t uvfs_getxattr(struct uvfs_ctx *ctx, const char *path,
		      const char *name, void *value, size_t size)
{
	return xattr_path(ctx, path, LK_FOLLOW, GET(name, value, size));
}

ssize_t uvfs_lgetxattr(struct uvfs_ctx *ctx, const char *path,
		       const char *name, void *value, size_t size)
{
	return xattr_path(ctx, path, 0, GET(name, value, size));
}

ssize_t uvfs_fgetxattr(struct uvfs_ctx *ctx, int fd, const char *name,
		       void *value, size_t size)
{
	return xattr_fd(ctx, fd, GET(name, value, size));
}

int uvfs_setxattr(struct uvfs_ctx *ctx, const char *path, const char *name,
		  const void *value, size_t size, int flags)
{
	return (int)xattr_path(ctx, path, LK_FOLLOW,
			       SET(name, value, size, flags));
}

int uvfs_lsetxattr(struct uvfs_ctx *ctx, const char *path, const char *name,
		   const void *value, size_t size, int flags)
{
	return (int)xattr_path(ctx, path, 0, SET(name, value, size, flags));
}

int uvfs_fsetxattr(struct uvfs_ctx *ctx, int fd, const char *name,
		   const void *value, size_t size, int flags)
{
	return (int)xattr_fd(ctx, fd, SET(name, value, size, flags));
}

ssize_t uvfs_listxattr(struct uvfs_ctx *ctx, const char *path, char *list,
		       size_t size)
{
	return xattr_path(ctx, path, LK_FOLLOW, LIST(list, size));
}

ssize_t uvfs_llistxattr(struct uvfs_ctx *ctx, const char *path, char *list,
			size_t size)
{
	return xattr_path(ctx, path, 0, LIST(list, size));
}

ssize_t uvfs_flistxattr(struct uvfs_ctx *ctx, int fd, char *list,
			size_t size)
{
	return xattr_fd(ctx, fd, LIST(list, size));
}

int uvfs_removexattr(struct uvfs_ctx *ctx, const char *path,
		     const char *name)
{
	return (int)xattr_path(ctx, path, LK_FOLLOW, REMOVE(name));
}

int uvfs_lremovexattr(struct uvfs_ctx *ctx, const char *path,
		      const char *name)
{
	return (int)xattr_path(ctx, path, 0, REMOVE(name));
}

int uvfs_fremovexattr(struct uvfs_ctx *ctx, int fd, const char *name)
{
	return (int)xattr_fd(ctx, fd, REMOVE(name));
}

ssize_t uvfs_node_getxattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			   const char *name, void *value, size_t size)
{
	return path_getxattr(ctx, &nd->path, name, value, size);
}

int uvfs_node_setxattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
		       const char *name, const void *value, size_t size,
		       int flags)
{
	return path_setxattr(ctx, &nd->path, name, value, size, flags, false);
}

ssize_t uvfs_node_listxattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			    char *list, size_t size)
{
	return path_listxattr(ctx, &nd->path, list, size);
}

int uvfs_node_removexattr(struct uvfs_ctx *ctx, struct uvfs_node *nd,
			  const char *name)
{
	return path_setxattr(ctx, &nd->path, name, NULL, 0, 0, true);
}

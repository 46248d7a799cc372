/*
 * namei.c - path lookup: from a starting (mount, vnode) pair, one component
 * at a time, crossing mount points both ways, following symbolic links (at
 * most 40 in one lookup, as Linux), and never leaving the context's root.
 *
 * Every step holds a `struct path` (a mount and a vnode reference) for the
 * directory it is in, so a mount being walked through is busy for the length
 * of the step: a normal unmount racing a lookup gets EBUSY, never a vnode
 * pulled out from under the walk.  Crossing into a mount is done under the
 * namespace read lock (mount.c), which the busy check excludes.
 *
 * Permission: search (X_OK) on every directory walked through, checked
 * against the context's credentials (uid 0 passes without asking the
 * driver).
 */
#include "core.h"
#include "hashname.h"
#include "ncache.h"
#include "rcu.h"
#include "pcache.h"

#define MAXSYMLINKS 40

void path_get(const struct path *p)
{
	mount_ref(p->mnt);
	vn_ref(p->vp);
}

void path_put(struct path *p)
{
	if (p->vp)
		vn_rele(p->vp);
	if (p->mnt)
		mount_rele(p->mnt);
	p->vp = NULL;
	p->mnt = NULL;
}

static bool path_equal(const struct path *a, const struct path *b)
{
	return a->mnt == b->mnt && a->vp == b->vp;
}

int may_access(struct uvfs_ctx *ctx, struct vnode *vp, int mask)
{
	if (ctx->cred.uid == 0 && (!(mask & X_OK) || vn_isdir(vp)))
		return vn_dead(vp) ? -EIO : 0;
	return vop_access(vp, mask, &ctx->cred);
}

/* Search permission on a directory about to be walked through. */
static int may_search(struct uvfs_ctx *ctx, struct vnode *dvp)
{
	if (!vn_isdir(dvp))
		return -ENOTDIR;
	return may_access(ctx, dvp, X_OK);
}

/* "..": within the context's root, up across mount roots. */
static int step_dotdot(struct uvfs_ctx *ctx, struct path *cur)
{
	struct path next = *cur;
	struct vnode *vp;
	int err;

	if (path_equal(cur, &ctx->root))
		return 0;
	path_get(&next);
	mount_cross_up(&next, &ctx->root);
	if (!path_equal(&next, &ctx->root) &&
	    next.vp != next.mnt->root) {        /* else a detached root */
		err = vop_lookup(next.vp, "..", &vp);
		if (err) {
			path_put(&next);
			return err;
		}
		vn_rele(next.vp);
		next.vp = vp;
		mount_cross_down(&next);
	}
	path_put(cur);
	*cur = next;
	return 0;
}

int namei_step(struct uvfs_ctx *ctx, struct path *cur, const char *name)
{
	struct vnode *vp;
	int err;

	err = may_search(ctx, cur->vp);
	if (err)
		return err;
	if (name[0] == '.' && name[1] == '\0')
		return 0;
	if (name[0] == '.' && name[1] == '.' && name[2] == '\0')
		return step_dotdot(ctx, cur);
	err = vop_lookup(cur->vp, name, &vp);
	if (err)
		return err;
	/* same mount: the mount reference carries over */
	vn_rele(cur->vp);
	cur->vp = vp;
	mount_cross_down(cur);
	return 0;
}

static int walk(struct uvfs_ctx *ctx, struct path *cur, const char *path,
		size_t plen, unsigned flags, int *links, bool rcu);

/* cur (held) is the directory containing the symlink *lnk (held); replaces
 * *lnk by what it points to. */
static int follow(struct uvfs_ctx *ctx, const struct path *cur,
		  struct path *lnk, int *links)
{
	struct path start;
	char *buf;
	ssize_t n;
	int err;

	if (++*links > MAXSYMLINKS)
		return -ELOOP;
	buf = sys_malloc(PATH_MAX);
	if (!buf)
		return -ENOMEM;
	n = vop_readlink(lnk->vp, buf, PATH_MAX - 1);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	if (n == 0) {
		free(buf);
		return -ENOENT;
	}
	buf[n] = '\0';
	start = buf[0] == '/' ? ctx->root : *cur;
	path_get(&start);
	err = walk(ctx, &start, buf, strlen(buf), LK_FOLLOW, links, true);
	free(buf);
	if (err) {
		path_put(&start);
		return err;
	}
	path_put(lnk);
	*lnk = start;
	return 0;
}

/* The next name of a path at *pp: its start and length, whether a slash
 * followed it and whether it is the last; *pp moves past it and its
 * slashes.  NULL at the path's end. */
static const char *next_name(const char **pp, size_t *len, bool *trailing,
			     bool *last)
{
	const char *p = *pp, *name, *end;

	while (*p == '/')
		p++;
	if (!*p)
		return NULL;
	name = p;
	end = strchrnul(p, '/');
	*len = (size_t)(end - p);
	p = end;
	*trailing = *p == '/';
	while (*p == '/')
		p++;
	*last = !*p;
	*pp = p;
	return name;
}

/* RCU mode, as Linux's RCU-walk: the whole of path from start (held by
 * the caller) in one read-side section, through the name cache alone,
 * holding nothing on the way; only the result is referenced.  Everything
 * it cannot decide by itself ends it: a name not cached, ".", "..", a
 * symbolic link to follow, a mount point, a dead or unclean vnode, a
 * permission check the driver would have to make (any caller but root:
 * the driver's check takes locks, and nothing may wait inside the
 * section), any error.  The caller then walks the path again from the
 * start, with references (walk).  Walking without references changes
 * nothing the caller can see: the mount is never left (the caller's
 * reference on start's mount keeps it busy: a walk's path, or the
 * context's root or cwd), and a vnode that dies or is renamed meanwhile
 * is one the walk with references could have stepped through just before.
 * Each name's end is found and its hash computed in one pass (hashname.h):
 * the path is base .. base + plen.  Inline (namei_at's fast path, and
 * walk): one call less per lookup.
 * => 0: *out is the result, referenced; -EAGAIN: nothing taken. */
static inline __attribute__((always_inline)) int
walk_rcu(struct uvfs_ctx *ctx, struct vnode *start, const char *base,
	 size_t plen, unsigned flags, struct vnode **out)
{
	struct vnode *vp = start;
	const char *p = base, *end = base + plen, *name;
	struct nc_probe pr;
	size_t len;
	uint32_t h;

	if (ctx->cred.uid != 0)
		return -EAGAIN;
	rcu_thread_online();
	rcu_read_enter();
	if (!ncache_probe_init(start, &pr))
		goto again;
	while (*p == '/')
		p++;
	if (p != end && !vn_isdir(vp))
		goto again;
	while (p != end) {
		/* root's search permission: a live directory (may_access;
		 * every name below is in start's file system, whose death is
		 * looked at once, after the loop) */
		if (atomic_load_explicit(&vp->flags, memory_order_acquire) &
		    VN_DEAD)
			goto again;
		name = p;
		h = hn_hash_path((uintptr_t)vp, base, p, end, &len);
		if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
			goto again;     /* "." and ".." are walk's */
		p += len;               /* at a '/' or the end */
		bool trailing = p != end;
		while (*p == '/')
			p++;
		struct vnode *next = ncache_find_rcu(&pr, vp, name, len, h);
		if (!next ||
		    atomic_load_explicit(&next->mounted, memory_order_acquire))
			goto again;
		/* a slash after the name: a directory (a symbolic link to
		 * follow is walk's); the last without one: a link is
		 * followed if the caller says so */
		if (trailing ? !vn_isdir(next)
			     : S_ISLNK(next->type) && (flags & LK_FOLLOW))
			goto again;
		vp = next;
	}
	if (atomic_load_explicit(&vp->sb->killed, memory_order_acquire))
		goto again;
	if (((flags & LK_DIRECTORY) && !vn_isdir(vp)) ||
	    !ncache_tryref_rcu(vp))
		goto again;
	rcu_read_leave();
	/* after the section: a last release may wait for a grace period */
	if (!(flags & LK_DEAD) && vn_dead(vp)) {
		vn_rele(vp);
		return -EAGAIN;
	}
	*out = vp;
	return 0;
again:
	rcu_read_leave();
	return -EAGAIN;
}

/* RCU mode from the context's root or cwd (start), through the
 * context's path cache first (pcache.h): a path walked before is one
 * probe; a walk that succeeds is recorded.  => 0: *out is the result,
 * referenced; -EAGAIN: nothing taken. */
static inline __attribute__((always_inline)) int
namei_rcu(struct uvfs_ctx *ctx, struct vnode *start, const char *path,
	  size_t plen, unsigned flags, struct vnode **out)
{
	unsigned key = flags & (LK_FOLLOW | LK_DIRECTORY);
	bool cache = ctx->cred.uid == 0 && plen <= PC_PATH_MAX;
	unsigned long gen = 0;
	uint32_t h = 0;

	if (cache) {
		h = pc_hash(start, path, plen, key);
		if (pc_find(ctx, start, path, plen, key, h, out)) {
			if (!(flags & LK_DEAD) && vn_dead(*out)) {
				vn_rele(*out);
				return -EAGAIN;
			}
			return 0;
		}
		gen = pc_gen(ctx->u);   /* before the walk (pcache.h) */
	}
	if (walk_rcu(ctx, start, path, plen, flags, out) != 0)
		return -EAGAIN;
	if (cache && *out != start)
		pc_add(ctx, start, path, plen, key, h, gen, *out);
	return 0;
}

/* Walks path (plen bytes, NUL-terminated) from *cur (held); on success
 * *cur is the result.  Either way *cur is held on return (the caller puts
 * it).  RCU mode first, unless the caller tried it (rcu false). */
static int walk(struct uvfs_ctx *ctx, struct path *cur, const char *path,
		size_t plen, unsigned flags, int *links, bool rcu)
{
	const char *p = path, *at;
	char name[NAME_MAX + 1];
	struct vnode *res;
	size_t len;
	bool trailing, last;
	int err = 0;

	if (*p == '/' && !path_equal(cur, &ctx->root)) {
		path_put(cur);
		*cur = ctx->root;
		path_get(cur);
	}
	if (rcu && walk_rcu(ctx, cur->vp, path, plen, flags, &res) == 0) {
		vn_rele(cur->vp);
		cur->vp = res;
		return 0;
	}
	while ((at = next_name(&p, &len, &trailing, &last)) != NULL) {
		if (len > NAME_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(name, at, len);
		name[len] = '\0';

		bool follow_it = !last || trailing || (flags & LK_FOLLOW);
		if ((name[0] == '.' && name[1] == '\0') ||
		    (name[0] == '.' && name[1] == '.' && name[2] == '\0')) {
			err = namei_step(ctx, cur, name);
		} else if ((err = may_search(ctx, cur->vp)) == 0) {
			struct vnode *vp;
			err = vop_lookup_len(cur->vp, name, len, &vp);
			if (!err && S_ISLNK(vp->type) && follow_it) {
				/* the link is resolved from its directory */
				struct path lnk = { cur->mnt, vp };
				mount_ref(lnk.mnt);
				err = follow(ctx, cur, &lnk, links);
				if (err) {
					path_put(&lnk);
				} else {
					path_put(cur);
					*cur = lnk;
				}
			} else if (!err) {
				vn_rele(cur->vp);
				cur->vp = vp;
				mount_cross_down(cur);
			}
		}
		if (err)
			break;
		if (last && trailing && !vn_isdir(cur->vp)) {
			err = -ENOTDIR;
			break;
		}
	}
	if (!err && (flags & LK_DIRECTORY) && !vn_isdir(cur->vp))
		err = -ENOTDIR;
	if (!err && !(flags & LK_DEAD) && vn_dead(cur->vp))
		err = -EIO;
	return err;
}

/* The starting point of a lookup.  => *out held. */
static int lookup_start(struct uvfs_ctx *ctx, int dirfd, const char *path,
			struct path *out)
{
	if (path[0] == '/' || dirfd == UVFS_AT_FDCWD) {
		*out = path[0] == '/' ? ctx->root : ctx->cwd;
		path_get(out);
		return 0;
	}
	struct file *f = fd_get(ctx, dirfd);
	if (!f)
		return -EBADF;
	*out = f->path;
	path_get(out);
	file_put(f);
	return 0;
}

int namei_at(struct uvfs_ctx *ctx, int dirfd, const char *path,
	     unsigned flags, struct path *out)
{
	struct path cur;
	struct vnode *res;
	int links = 0, err;
	bool rcu = true;
	size_t plen;

	if (!path)
		return -EFAULT;
	plen = strnlen(path, PATH_MAX);
	if (plen >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!*path && !(flags & LK_EMPTY))
		return -ENOENT;
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	if (path[0] == '/' || dirfd == UVFS_AT_FDCWD) {
		/* RCU mode from the context's root or cwd without a reference
		 * of the walk's own: the context holds them, and it is used by
		 * one thread at a time (uvfs.h), so they stay for the call.
		 * Only the result is taken, and its mount (the start's: the
		 * RCU walk never crosses one) unless the caller borrows it
		 * (LK_BORROW). */
		const struct path *start = path[0] == '/' ? &ctx->root
							  : &ctx->cwd;
		if (namei_rcu(ctx, start->vp, path, plen, flags, &res) == 0) {
			if (flags & LK_BORROW) {
				out->mnt = NULL;
			} else {
				mount_ref(start->mnt);
				out->mnt = start->mnt;
			}
			out->vp = res;
			return 0;
		}
		rcu = false;
	}
	err = lookup_start(ctx, dirfd, path, &cur);
	if (err)
		return err;
	if (*path && dirfd != UVFS_AT_FDCWD && path[0] != '/' &&
	    !vn_isdir(cur.vp)) {
		path_put(&cur);
		return -ENOTDIR;
	}
	err = walk(ctx, &cur, path, plen, flags, &links, rcu);
	if (err) {
		path_put(&cur);
		return err;
	}
	*out = cur;
	return 0;
}

int namei_parent_at(struct uvfs_ctx *ctx, int dirfd, const char *path,
		    struct nameparent *np)
{
	size_t len;
	char *dir;
	int err;

	if (!path)
		return -EFAULT;
	cred_set_current(&ctx->cred);   /* whom the operations are for */
	len = strnlen(path, PATH_MAX);
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	if (len == 0)
		return -ENOENT;
	memset(np, 0, sizeof(*np));
	while (len > 0 && path[len - 1] == '/') {
		np->trailing_slash = true;
		len--;
	}
	if (len == 0) {         /* "/" */
		np->last = LAST_ROOT;
		np->dir = ctx->root;
		path_get(&np->dir);
		strcpy(np->name, "/");
		return 0;
	}
	size_t start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (len - start > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(np->name, path + start, len - start);
	np->name[len - start] = '\0';
	if (strcmp(np->name, ".") == 0)
		np->last = LAST_DOT;
	else if (strcmp(np->name, "..") == 0)
		np->last = LAST_DOTDOT;
	else
		np->last = LAST_NORM;

	dir = sys_strndup(path, start);
	if (!dir)
		return -ENOMEM;
	if (start == 0) {
		err = lookup_start(ctx, dirfd, ".", &np->dir);
		if (!err && !vn_isdir(np->dir.vp)) {
			path_put(&np->dir);
			err = -ENOTDIR;
		}
	} else {
		err = namei_at(ctx, dirfd, dir, LK_FOLLOW | LK_DIRECTORY,
			       &np->dir);
	}
	free(dir);
	return err;
}

int namei_child(struct uvfs_ctx *ctx, const struct path *dir,
		const char *name, struct path *out)
{
	struct path cur = *dir;
	int err;

	path_get(&cur);
	err = namei_step(ctx, &cur, name);
	if (err) {
		path_put(&cur);
		return err;
	}
	*out = cur;
	return 0;
}

/* ---- names back from vnodes -------------------------------------------- */

struct find_name {
	uint64_t ino;
	char name[NAME_MAX + 1];
	bool found;
	uint64_t next;
	bool more;
};

static int find_name_fill(void *arg, const char *name, uint64_t ino,
			  unsigned char type, uint64_t next)
{
	struct find_name *fn = arg;

	(void)type;
	fn->next = next;
	fn->more = true;
	if (ino == fn->ino && strcmp(name, ".") && strcmp(name, "..")) {
		snprintf(fn->name, sizeof(fn->name), "%s", name);
		fn->found = true;
		return 1;
	}
	return 0;
}

int path_name(struct uvfs_ctx *ctx, const struct path *root,
	      const struct path *p, char *buf, size_t size)
{
	struct path cur = *p;
	char *tmp;
	size_t pos;
	int err = 0;

	if (!vn_isdir(p->vp))
		return -ENOTDIR;
	/* the names on the way up are looked for without the caller's
	 * permissions (Linux's getcwd needs no search permission): the
	 * readdirs are the mount's own, not the caller's */
	cred_set_current(NULL);
	tmp = sys_malloc(PATH_MAX);
	if (!tmp)
		return -ENOMEM;
	pos = PATH_MAX - 1;
	tmp[pos] = '\0';
	path_get(&cur);
	for (;;) {
		if (path_equal(&cur, root))
			break;
		mount_cross_up(&cur, root);
		if (path_equal(&cur, root))
			break;
		if (cur.vp == cur.mnt->root) {  /* detached: unreachable */
			err = -ENOENT;
			break;
		}
		if (vn_unlinked(cur.vp)) {      /* removed: unreachable */
			err = -ENOENT;
			break;
		}
		struct path parent = cur;
		path_get(&parent);
		/* no search permission needed, as getcwd(2) */
		err = step_dotdot(ctx, &parent);
		if (err == -ESTALE)
			err = -ENOENT;  /* its handle is stale: removed */
		if (err) {
			path_put(&parent);
			break;
		}
		struct find_name fn = { .ino = cur.vp->ino };
		uint64_t cookie = 0;
		do {
			fn.more = false;
			err = vop_readdir(parent.vp, NULL, cookie,
					  find_name_fill, &fn);
			cookie = fn.next;
		} while (!err && !fn.found && fn.more);
		if (!err && !fn.found)
			err = -ENOENT;
		if (!err) {
			size_t l = strlen(fn.name);
			if (l + 1 > pos) {
				err = -ERANGE;
			} else {
				pos -= l;
				memcpy(tmp + pos, fn.name, l);
				tmp[--pos] = '/';
			}
		}
		path_put(&cur);
		cur = parent;
		if (err)
			break;
	}
	path_put(&cur);
	if (!err) {
		if (pos == PATH_MAX - 1)
			tmp[--pos] = '/';
		size_t l = PATH_MAX - 1 - pos;
		if (l + 1 > size)
			err = -ERANGE;
		else {
			memcpy(buf, tmp + pos, l + 1);
			err = (int)l;
		}
	}
	free(tmp);
	cred_set_current(&ctx->cred);
	return err;
}

/* ---- canonical paths --------------------------------------------------- */

/* dir's path, then "/name" ("/" alone for the root).  => length or -err */
static int join_name(struct uvfs_ctx *ctx, const struct path *dir,
		     const char *name, char *buf, size_t size)
{
	int n = path_name(ctx, &ctx->root, dir, buf, size);
	size_t l, nl = strlen(name);

	if (n < 0)
		return n;
	l = (size_t)n;
	if (l == 1)
		l = 0;          /* the root: no "//name" */
	if (l + 1 + nl + 1 > size)
		return -ERANGE;
	buf[l] = '/';
	memcpy(buf + l + 1, name, nl + 1);
	return (int)(l + 1 + nl);
}

int uvfs_realpath(struct uvfs_ctx *ctx, const char *path, char *buf,
		  size_t size)
{
	char *cur, *tgt = NULL;
	int links = 0, err;

	if (!path || !buf)
		return -EFAULT;
	if (!*path)
		return -ENOENT;
	/* a mount below a suspended one: from the mount table (the walk
	 * would wait for the resume) */
	err = mount_realpath_named(ctx, path, buf, size);
	if (err != -EAGAIN)
		return err;
	cur = sys_strdup(path);
	tgt = sys_malloc(PATH_MAX);
	if (!cur || !tgt) {
		free(cur);
		free(tgt);
		return -ENOMEM;
	}
	for (;;) {
		struct nameparent np;
		struct path child;
		ssize_t n;

		err = namei_parent_at(ctx, UVFS_AT_FDCWD, cur, &np);
		if (err)
			break;
		if (np.last != LAST_NORM) {
			/* "/", "." or "..": the directory itself */
			struct path p;
			path_put(&np.dir);
			err = namei_at(ctx, UVFS_AT_FDCWD, cur, LK_FOLLOW, &p);
			if (!err) {
				err = path_name(ctx, &ctx->root, &p, buf, size);
				path_put(&p);
			}
			break;
		}
		/* the last name: its vnode's type is known without entering
		 * the file system mounted on it (a suspended one blocks) */
		err = namei_child(ctx, &np.dir, np.name, &child);
		if (err) {
			path_put(&np.dir);
			break;
		}
		if (!S_ISLNK(child.vp->type)) {
			if (np.trailing_slash && !vn_isdir(child.vp))
				err = -ENOTDIR;
			else
				err = join_name(ctx, &np.dir, np.name, buf,
						size);
			path_put(&child);
			path_put(&np.dir);
			break;
		}
		n = ++links > MAXSYMLINKS ? -ELOOP
					  : vop_readlink(child.vp, tgt,
							 PATH_MAX - 1);
		path_put(&child);
		if (n == 0)
			n = -ENOENT;
		if (n < 0) {
			path_put(&np.dir);
			err = (int)n;
			break;
		}
		tgt[n] = '\0';
		/* the link's text, from its directory unless absolute */
		char *next = sys_malloc(2 * PATH_MAX + 2);
		if (!next) {
			path_put(&np.dir);
			err = -ENOMEM;
			break;
		}
		if (tgt[0] == '/') {
			snprintf(next, 2 * PATH_MAX + 2, "%s%s", tgt,
				 np.trailing_slash ? "/" : "");
			err = 0;
		} else {
			err = path_name(ctx, &ctx->root, &np.dir, next,
					PATH_MAX);
			if (err >= 0) {
				snprintf(next + err, 2 * PATH_MAX + 2 - (size_t)err,
					 "/%s%s", tgt,
					 np.trailing_slash ? "/" : "");
				err = 0;
			}
		}
		path_put(&np.dir);
		free(cur);
		cur = next;
		if (err)
			break;
	}
	free(cur);
	free(tgt);
	return err;
}

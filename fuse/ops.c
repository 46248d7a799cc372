/*
 * ops.c - the FUSE low-level operations (uvfs_fuse_ops) over the node API
 * of libuvfs, and the helpers they share: node ids, replies, the context
 * pool, open handles.
 *
 * Owns the struct fh of each open file and directory: made by open,
 * opendir and create (fh_link puts it on uf->fh_list), freed by release
 * and releasedir (fh_free), or by uvfs_fuse_free for those the kernel
 * never released.  Every entry reply passes one node hold to the kernel
 * and records it in the registry (known_add, fuse.c) before the reply is
 * sent; FORGET gives holds back (known_drop).  The rules for node ids,
 * credentials, permissions and caching are in fuse.c's opening comment.
 *
 * Errors: the library's negative errnos; the sign flips in reply_err only.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

uint64_t uvfs_fuse_ino(dev_t dev, uint64_t ino)
{
	uint64_t idx = minor(dev);

	return ino ^ ((idx ? idx - 1 : 0) << 44);
}

static struct uvfs_node *NODE(struct uvfs_fuse *uf, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? uf->root
				   : (struct uvfs_node *)(uintptr_t)ino;
}

static struct uvfs_fuse *UF(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void reply_err(fuse_req_t req, int err)
{
	atomic_fetch_add(&UF(req)->nreq, 1);
	/* err is a negative errno from the library */
	fuse_reply_err(req, err < 0 ? -err : err);
}

static void count(fuse_req_t req)
{
	atomic_fetch_add(&UF(req)->nreq, 1);
}

static void fix_stat(struct stat *st)
{
	st->st_ino = uvfs_fuse_ino(st->st_dev, st->st_ino);
}

struct uvfs_ctx *uvfs_fuse_ctx_get(struct uvfs_fuse *uf,
				   const struct uvfs_cred *cred)
{
	static const struct uvfs_cred root = { 0 };
	struct uvfs_ctx *ctx = NULL;

	pthread_mutex_lock(&uf->pool_lock);
	if (uf->npool)
		ctx = uf->pool[--uf->npool];
	pthread_mutex_unlock(&uf->pool_lock);
	if (!ctx) {
		if (uvfs_ctx_new(uf->u, NULL, &ctx))
			return NULL;
		uvfs_ctx_set_label(ctx, "uvfsd");
		/* the kernel's umask is applied by the front end */
		uvfs_umask(ctx, 0);
	}
	uvfs_ctx_set_cred(ctx, cred ? cred : &root);
	return ctx;
}

void uvfs_fuse_ctx_put(struct uvfs_fuse *uf, struct uvfs_ctx *ctx)
{
	req_end(uf);    /* the request that took it (req_ctx), if any */
	if (!ctx)
		return;
	pthread_mutex_lock(&uf->pool_lock);
	if (uf->npool == uf->cappool) {
		size_t cap = uf->cappool ? uf->cappool * 2 : 16;
		struct uvfs_ctx **p = realloc(uf->pool, cap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&uf->pool_lock);
			uvfs_ctx_free(ctx);
			return;
		}
		uf->pool = p;
		uf->cappool = cap;
	}
	uf->pool[uf->npool++] = ctx;
	pthread_mutex_unlock(&uf->pool_lock);
}

/* The context of a request: the caller's credentials and umask. */
/* The caller's context for a request that enters the library on node ino
 * for operation op; recorded as in progress (reqs.c) until
 * uvfs_fuse_ctx_put.  NULL when out of memory (nothing recorded). */
static struct uvfs_ctx *req_ctx(fuse_req_t req, fuse_ino_t ino,
				const char *op, mode_t *umask)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	struct uvfs_cred cred = { .uid = fc->uid, .gid = fc->gid };
	struct uvfs_ctx *ctx;

	if (fc->uid != 0) {
		gid_t g[UVFS_NGROUPS_MAX];
		int n = fuse_req_getgroups(req, UVFS_NGROUPS_MAX, g);
		if (n > UVFS_NGROUPS_MAX)
			n = UVFS_NGROUPS_MAX;
		for (int i = 0; i < n; i++)
			cred.groups[i] = g[i];
		cred.ngroups = n > 0 ? (unsigned)n : 0;
	}
	if (umask)
		*umask = fc->umask;
	req_begin(req, NODE(UF(req), ino), op);
	ctx = uvfs_fuse_ctx_get(UF(req), &cred);
	if (!ctx)
		req_end(UF(req));
	return ctx;
}

/* How long the kernel may trust what it learns of nd. */
static double ttl(const struct uvfs_node *nd)
{
	return uvfs_node_exclusive(nd) ? TIMEOUT_EXCL : TIMEOUT;
}

static void pid_label(fuse_req_t req, char *buf, size_t size)
{
	snprintf(buf, size, "pid %d", (int)fuse_req_ctx(req)->pid);
}

/* Hands nd (one hold, from the library call) and its attributes to the
 * kernel as an entry; fi: a create reply. */
static void reply_entry(fuse_req_t req, struct uvfs_node *nd,
			const struct stat *st, struct fuse_file_info *fi)
{
	struct uvfs_fuse *uf = UF(req);
	struct fuse_entry_param e;
	int err;

	memset(&e, 0, sizeof(e));
	e.ino = ID(uf, nd);
	e.attr = *st;
	fix_stat(&e.attr);
	e.attr_timeout = e.entry_timeout = ttl(nd);
	err = known_add(uf, nd, st->st_dev);
	if (err) {
		uvfs_node_release(nd, 1);
		reply_err(req, err);
		return;
	}
	count(req);
	err = fi ? fuse_reply_create(req, &e, fi) : fuse_reply_entry(req, &e);
	if (err) {
		/* the kernel never saw it */
		known_drop(uf, nd, 1);
		uvfs_node_release(nd, 1);
	}
}

static void fh_link(struct uvfs_fuse *uf, struct fh *h)
{
	pthread_mutex_lock(&uf->fh_lock);
	h->next = uf->fh_list.next;
	h->prev = &uf->fh_list;
	h->next->prev = h;
	uf->fh_list.next = h;
	pthread_mutex_unlock(&uf->fh_lock);
	atomic_fetch_add(&uf->nfiles, 1);
}

/* A file made setgid without group execute: its handles open for
 * writing are marked as opened_for_write marks them at open (a node
 * freed and another at its address: a mark too many costs one getattr
 * at the next write by a user other than root). */
static void fh_mark_sgid(struct uvfs_fuse *uf, const void *node)
{
	pthread_mutex_lock(&uf->fh_lock);
	for (struct fh *h = uf->fh_list.next; h != &uf->fh_list; h = h->next)
		if (h->node == node && (h->flags & O_ACCMODE) != O_RDONLY)
			atomic_store(&h->kill_sgid, true);
	pthread_mutex_unlock(&uf->fh_lock);
}

void fh_free(struct uvfs_fuse *uf, struct fh *h)
{
	pthread_mutex_lock(&uf->fh_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&uf->fh_lock);
	atomic_fetch_sub(&uf->nfiles, 1);
	uvfs_file_release(h->f);
	free(h);
}

static struct fh *FH(struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

/* ---- operations -------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct uvfs_fuse *uf = userdata;

	/* lookups and readdirs of one directory run concurrently (the
	 * library locks what it must); a stopped file server then holds
	 * only the requests that wait on it.  libfuse 3.14 does not pass
	 * the flag on: negotiate_init adds it to the reply. */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* setuid/setgid on write and truncate: the kernel decides (it knows
	 * CAP_FSETID) and sends the chmod that clears them (kill_privs in
	 * op_setattr); with handle_killpriv it would leave that to us */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
	/* No writeback cache unless asked for (-o writeback): every write
	 * then reaches the library at once, so a forced unmount or revoke
	 * leaves no dirty pages behind.  With it, the kernel keeps dirty
	 * pages and writes them later: those of a dead file fail (EIO),
	 * the error goes to fsync and close, and the pages are dropped. */
	if (uf->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	uf->want = conn->want;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct uvfs_ctx *ctx = req_ctx(req, parent, "lookup", NULL);
	struct uvfs_node *nd;
	struct stat st;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_lookup(ctx, NODE(UF(req), parent), name, &nd, &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err == -ENOENT && uvfs_node_exclusive(NODE(UF(req), parent))) {
		/* a negative entry: the name can appear only through us */
		struct fuse_entry_param e = { .entry_timeout = TIMEOUT_EXCL };
		count(req);
		fuse_reply_entry(req, &e);
		return;
	}
	if (err)
		return reply_err(req, err);
	reply_entry(req, nd, &st, NULL);
}

static void forget_one(struct uvfs_fuse *uf, fuse_ino_t ino, uint64_t n)
{
	atomic_fetch_add(&uf->nforgets, n);
	if (ino == FUSE_ROOT_ID)
		return; /* the root is held by the front end itself */
	struct uvfs_node *nd = NODE(uf, ino);
	n = known_drop(uf, nd, n);
	if (n)
		uvfs_node_release(nd, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(UF(req), ino, nlookup);
	count(req);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t n,
			    struct fuse_forget_data *fd)
{
	for (size_t i = 0; i < n; i++)
		forget_one(UF(req), fd[i].ino, fd[i].nlookup);
	count(req);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "getattr", NULL);
	struct stat st;
	int err;

	(void)fi;
	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_getattr(ctx, NODE(UF(req), ino), &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	fix_stat(&st);
	count(req);
	fuse_reply_attr(req, &st, ttl(NODE(UF(req), ino)));
}

/* A chmod from someone who is not the file's owner reaches us only as the
 * kernel's file_remove_privs() (default_permissions: the kernel refuses
 * any other; it decided with CAP_FSETID that the caller's write or
 * truncation must clear set-user-id / set-group-id, as on tmpfs).  mode
 * is the mode asked for.  => 1 done here (bits cleared with the daemon's
 * credentials), 0 an ordinary chmod (for the library to check), -errno. */
static int kill_privs(struct uvfs_fuse *uf, struct uvfs_ctx *ctx, uid_t uid,
		      struct uvfs_node *nd, mode_t mode)
{
	const mode_t privs = S_ISUID | S_ISGID;
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE };
	struct uvfs_ctx *root;
	struct stat st;
	int err;

	err = uvfs_node_getattr(ctx, nd, &st);
	if (err)
		return err;
	if (uid == 0 || uid == st.st_uid ||
	    !S_ISREG(st.st_mode) ||
	    (mode & 07777 & ~privs) != (st.st_mode & 07777 & ~privs) ||
	    (mode & privs & ~st.st_mode) != 0)
		return 0;       /* not a removal of privileges only */
	if ((mode & 07777) == (st.st_mode & 07777))
		return 1;       /* nothing left to clear */
	root = uvfs_fuse_ctx_get(uf, NULL);
	if (!root)
		return -ENOMEM;
	sa.mode = mode & 07777;
	err = uvfs_node_setattr(root, nd, &sa, NULL);
	uvfs_fuse_ctx_put(uf, root);
	return err ? err : 1;
}

/* A time to set: the kernel's, or "now" (UTIME_NOW). */
static struct timespec set_time(int now, struct timespec t)
{
	return now ? (struct timespec){ .tv_nsec = UTIME_NOW } : t;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "setattr", NULL);
	struct uvfs_setattr sa;
	struct stat st;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	/* With the writeback cache the kernel keeps mtime and ctime, and
	 * sends them as the process that closes or syncs (a writer, not
	 * necessarily the owner).  A user's own utimensat() of an explicit
	 * time was checked by the kernel (default_permissions: owner or
	 * CAP_FOWNER) before it got here.  So a change of these times alone
	 * goes through as root. */
	if ((UF(req)->want & FUSE_CAP_WRITEBACK_CACHE) &&
	    (to_set & FUSE_SET_ATTR_MTIME) &&
	    !(to_set & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME))) {
		struct uvfs_cred root;
		memset(&root, 0, sizeof(root));
		uvfs_ctx_set_cred(ctx, &root);
	}
	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= UVFS_SET_MODE;
		sa.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= UVFS_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= UVFS_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= UVFS_SET_SIZE;
		sa.size = attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		sa.valid |= UVFS_SET_ATIME;
		sa.atime = set_time(to_set & FUSE_SET_ATTR_ATIME_NOW,
				   attr->st_atim);
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		sa.valid |= UVFS_SET_MTIME;
		sa.mtime = set_time(to_set & FUSE_SET_ATTR_MTIME_NOW,
				   attr->st_mtim);
	}
	/* the kernel's file_remove_privs() on a write or truncation by
	 * someone else than the owner: see kill_privs */
	if ((sa.valid & UVFS_SET_MODE) &&
	    (err = kill_privs(UF(req), ctx, fuse_req_ctx(req)->uid,
			      NODE(UF(req), ino), sa.mode)) != 1) {
		if (err < 0) {
			uvfs_fuse_ctx_put(UF(req), ctx);
			return reply_err(req, err);
		}
	} else if (sa.valid & UVFS_SET_MODE) {
		sa.valid &= ~UVFS_SET_MODE;
		if (!sa.valid) {
			err = uvfs_node_getattr(ctx, NODE(UF(req), ino), &st);
			uvfs_fuse_ctx_put(UF(req), ctx);
			if (err)
				return reply_err(req, err);
			fix_stat(&st);
			count(req);
			fuse_reply_attr(req, &st, ttl(NODE(UF(req), ino)));
			return;
		}
	}
	/* ftruncate: the descriptor was checked for writing when opened,
	 * the file's mode may say otherwise by now. */
	if (sa.valid == UVFS_SET_SIZE && fi && fi->fh) {
		/* what the kernel left to us: see opened_for_write */
		err = uvfs_file_kill_priv(ctx, FH(fi)->f);
		if (err >= 0)
			err = uvfs_file_truncate(FH(fi)->f, sa.size);
		if (!err)
			err = uvfs_file_fstat(FH(fi)->f, &st);
		uvfs_fuse_ctx_put(UF(req), ctx);
		if (err)
			return reply_err(req, err);
		fix_stat(&st);
		count(req);
		fuse_reply_attr(req, &st, ttl(NODE(UF(req), ino)));
		return;
	}
	err = uvfs_node_setattr(ctx, NODE(UF(req), ino), &sa, &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	if ((sa.valid & UVFS_SET_MODE) && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_ISGID | S_IXGRP)) == S_ISGID)
		fh_mark_sgid(UF(req), NODE(UF(req), ino));
	fix_stat(&st);
	count(req);
	fuse_reply_attr(req, &st, ttl(NODE(UF(req), ino)));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "readlink", NULL);
	char buf[PATH_MAX + 1];
	ssize_t n;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	n = uvfs_node_readlink(ctx, NODE(UF(req), ino), buf, PATH_MAX);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (n < 0)
		return reply_err(req, (int)n);
	buf[n] = '\0';
	count(req);
	fuse_reply_readlink(req, buf);
}

/* mknod, symlink (target != NULL) */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *target)
{
	struct uvfs_ctx *ctx;
	struct uvfs_node *nd;
	struct stat st;
	mode_t um;
	int err;

	ctx = req_ctx(req, parent, target ? "symlink" : "mknod", &um);
	if (!ctx)
		return reply_err(req, -ENOMEM);
	if (!target)
		mode = (mode & S_IFMT) | (mode & 07777 & ~um);
	err = uvfs_node_create(ctx, NODE(UF(req), parent), name, mode, rdev,
			       target, &nd, &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	reply_entry(req, nd, &st, NULL);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	make_node(req, parent, name, mode, rdev, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct uvfs_ctx *ctx;
	struct uvfs_node *nd;
	struct stat st;
	mode_t um;
	int err;

	ctx = req_ctx(req, parent, "mkdir", &um);
	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_mkdir(ctx, NODE(UF(req), parent), name,
			      mode & 07777 & ~um, &nd, &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	reply_entry(req, nd, &st, NULL);
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent,
			 const char *name, int isdir)
{
	struct uvfs_ctx *ctx = req_ctx(req, parent, isdir ? "rmdir" : "unlink", NULL);
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_unlink(ctx, NODE(UF(req), parent), name, isdir);
	uvfs_fuse_ctx_put(UF(req), ctx);
	reply_err(req, err);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 1);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct uvfs_ctx *ctx;
	int err;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return reply_err(req, -EINVAL);
	ctx = req_ctx(req, parent, "rename", NULL);
	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_rename(ctx, NODE(UF(req), parent), name,
			       NODE(UF(req), newparent), newname, flags);
	uvfs_fuse_ctx_put(UF(req), ctx);
	reply_err(req, err);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "link", NULL);
	struct uvfs_node *nd;
	struct stat st;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_link(ctx, NODE(UF(req), ino), NODE(UF(req), newparent),
			     newname, &nd, &st);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	reply_entry(req, nd, &st, NULL);
}

/* The kernel's cached attributes of ino are stale (a mode changed behind
 * a write or an open): it asks again on the next use.  Only the
 * attributes: safe inside a request on the same inode (no page lock). */
static void inval_attr(struct uvfs_fuse *uf, fuse_ino_t ino)
{
	fuse_lowlevel_notify_inval_inode(uf->se, ino, -1, 0);
	atomic_fetch_add(&uf->ninval, 1);
}

/* Opens nd for the request; => a new handle in *out. */
static int open_handle(fuse_req_t req, struct uvfs_ctx *ctx,
		       struct uvfs_node *nd, int flags, struct fh **out)
{
	struct fh *h = calloc(1, sizeof(*h));
	char label[32];
	int err;

	if (!h)
		return -ENOMEM;
	pid_label(req, label, sizeof(label));
	err = uvfs_node_open(ctx, nd, flags, label, &h->f);
	if (err) {
		free(h);
		return err;
	}
	h->flags = flags & ~UVFS_O_FILL;
	h->node = nd;
	h->opener_root = fuse_req_ctx(req)->uid == 0;
	fh_link(UF(req), h);
	*out = h;
	return 0;
}

/* The kernel clears setuid, and setgid with group execute, before a
 * write by someone else (the chmod of kill_privs); setgid without group
 * execute is left to us (Linux clears it when the writer is not in the
 * file's group, FUSE's kernel side does not): the handle is marked,
 * whoever opened it, since a descriptor root opened may be written
 * through by another user (passed on, or after a setuid); op_write acts
 * on the mark of a handle root opened only for a writer other than root.
 * st: the attributes after the open, if wanted. */
static void opened_for_write(fuse_req_t req, struct fh *h, struct stat *st)
{
	struct stat tmp;

	(void)req;
	if ((h->flags & O_ACCMODE) == O_RDONLY)
		return;
	if (!st)
		st = &tmp;
	if (uvfs_file_fstat(h->f, st) == 0 && (st->st_mode & S_ISGID) &&
	    !(st->st_mode & S_IXGRP))
		atomic_store(&h->kill_sgid, true);
}

/* The flags a FUSE open asks the library for.  With the kernel's
 * writeback cache, the kernel appends itself (writes come with their
 * offsets) and reads around partial writes through any handle: a
 * write-only one is opened for reading too (UVFS_O_FILL). */
static int open_flags(struct uvfs_fuse *uf, int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
	if (uf->want & FUSE_CAP_WRITEBACK_CACHE) {
		flags &= ~O_APPEND;
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags |= UVFS_O_FILL;
	}
	return flags;
}

static void op_open(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "open", NULL);
	struct fh *h;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = open_handle(req, ctx, NODE(UF(req), ino),
			  open_flags(UF(req), fi->flags), &h);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	opened_for_write(req, h, NULL);
	if (fuse_req_ctx(req)->uid != 0 && (fi->flags & O_TRUNC))
		inval_attr(UF(req), ino);
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Every change of an exclusive file system's data goes through this
	 * mount, and a revoke or forced unmount invalidates the inode: the
	 * page cache may outlive the open.  A server's file may have changed
	 * behind us since the last open. */
	fi->keep_cache = uvfs_node_exclusive(NODE(UF(req), ino));
	fi->noflush = !uvfs_file_flushes(h->f);
	count(req);
	if (fuse_reply_open(req, fi))
		fh_free(UF(req), h);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx;
	struct uvfs_node *dir = NODE(UF(req), parent), *nd;
	struct uvfs_cred cred;
	struct stat st;
	struct fh *h;
	mode_t um;
	int err, created = 1;

	ctx = req_ctx(req, parent, "create", &um);
	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_create(ctx, dir, name,
			       S_IFREG | (mode & 07777 & ~um), 0, NULL, &nd,
			       &st);
	if (err == -EEXIST && !(fi->flags & O_EXCL)) {
		created = 0;
		err = uvfs_node_lookup(ctx, dir, name, &nd, &st);
		if (!err && S_ISDIR(st.st_mode)) {
			uvfs_node_release(nd, 1);
			err = -EISDIR;
		}
	}
	if (err) {
		uvfs_fuse_ctx_put(UF(req), ctx);
		return reply_err(req, err);
	}
	if (created) {
		/* The creator gets the access it asked for whatever the new
		 * file's mode says (open(2) with O_CREAT). */
		memset(&cred, 0, sizeof(cred));
		uvfs_ctx_set_cred(ctx, &cred);
	}
	err = open_handle(req, ctx, nd,
			  open_flags(UF(req), fi->flags) &
			  ~(created ? O_TRUNC : 0), &h);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err) {
		uvfs_node_release(nd, 1);
		return reply_err(req, err);
	}
	/* an existing file: O_TRUNC may have changed size and mode; a new
	 * one made setgid is marked too (written through later by another) */
	if (!created || (mode & S_ISGID))
		opened_for_write(req, h, &st);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = uvfs_node_exclusive(nd);
	fi->noflush = !uvfs_file_flushes(h->f);
	/* reply_entry drops the hold if the reply fails; the handle too */
	struct uvfs_fuse *uf = UF(req);
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.ino = ID(uf, nd);
	e.attr = st;
	fix_stat(&e.attr);
	e.attr_timeout = e.entry_timeout = ttl(nd);
	err = known_add(uf, nd, st.st_dev);
	if (err) {
		fh_free(uf, h);
		uvfs_node_release(nd, 1);
		return reply_err(req, err);
	}
	count(req);
	if (fuse_reply_create(req, &e, fi)) {
		fh_free(uf, h);
		known_drop(uf, nd, 1);
		uvfs_node_release(nd, 1);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	if (!buf)
		return reply_err(req, -ENOMEM);
	req_begin(req, NODE(UF(req), ino), "read");
	n = uvfs_file_pread(FH(fi)->f, buf, size, off);
	req_end(UF(req));
	if (n < 0) {
		free(buf);
		return reply_err(req, (int)n);
	}
	count(req);
	fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	if (atomic_load(&FH(fi)->kill_sgid) &&
	    (!FH(fi)->opener_root || fuse_req_ctx(req)->uid != 0)) {
		struct uvfs_ctx *ctx = req_ctx(req, ino, "write", NULL);
		int err = ctx ? uvfs_file_kill_priv(ctx, FH(fi)->f) : -ENOMEM;
		uvfs_fuse_ctx_put(UF(req), ctx);
		if (err < 0)
			return reply_err(req, err);
		atomic_store(&FH(fi)->kill_sgid, false);
		if (err == 1)
			inval_attr(UF(req), ino);
	}
	req_begin(req, NODE(UF(req), ino), "write");
	n = uvfs_file_pwrite(FH(fi)->f, buf, size, off);
	req_end(UF(req));
	if (n < 0)
		return reply_err(req, (int)n);
	count(req);
	fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	req_begin(req, NODE(UF(req), ino), "release");
	if (fi->flock_release)
		locks_at_close(fi);
	fh_free(UF(req), FH(fi));
	req_end(UF(req));
	reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int err;

	req_begin(req, NODE(UF(req), ino), "fsync");
	err = uvfs_file_fsync(FH(fi)->f, datasync);
	req_end(UF(req));
	reply_err(req, err);
}

/* A close(2) of a descriptor of a file open for writing on a driver that
 * writes behind, or of any file on a file system where locks were taken
 * (fi->noflush is set for every other open): the owner's POSIX locks go. */
static void op_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	int err;

	req_begin(req, NODE(UF(req), ino), "flush");
	locks_at_close(fi);
	err = uvfs_file_flush(FH(fi)->f);
	req_end(UF(req));
	reply_err(req, err);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "opendir", NULL);
	struct stat st;
	struct fh *h;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = open_handle(req, ctx, NODE(UF(req), ino),
			  O_RDONLY | O_DIRECTORY, &h);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	if (uvfs_file_fstat(h->f, &st) == 0)
		h->dev = st.st_dev;
	fi->fh = (uint64_t)(uintptr_t)h;
	count(req);
	if (fuse_reply_open(req, fi))
		fh_free(UF(req), h);
}

/* readdir: entries go straight into the reply buffer. */
struct rd {
	fuse_req_t req;
	char *buf;
	size_t size, pos;
	dev_t dev;
};

static int rd_fill(void *arg, const struct uvfs_dirent *de)
{
	struct rd *r = arg;
	struct stat st;
	size_t need;

	memset(&st, 0, sizeof(st));
	st.st_ino = uvfs_fuse_ino(r->dev, de->ino);
	st.st_mode = (mode_t)DTTOIF(de->type);
	need = fuse_add_direntry(r->req, r->buf + r->pos, r->size - r->pos,
				 de->name, &st, (off_t)de->next);
	if (need > r->size - r->pos)
		return 1;
	r->pos += need;
	return 0;
}

/* readdirplus: entries are collected first, then looked up outside the
 * driver's readdir (no lookup nested in a driver callback). */
struct rdp {
	struct uvfs_dirent *ents;
	size_t n, max;
};

static int rdp_fill(void *arg, const struct uvfs_dirent *de)
{
	struct rdp *r = arg;

	if (r->n == r->max)
		return 1;
	r->ents[r->n++] = *de;
	return 0;
}

static int is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, int plus)
{
	struct uvfs_fuse *uf = UF(req);
	struct fh *h = FH(fi);
	char *buf;
	int err;

	if (size > 1 << 20)
		size = 1 << 20;
	buf = malloc(size ? size : 1);
	if (!buf)
		return reply_err(req, -ENOMEM);
	if (!plus) {
		struct rd r = { req, buf, size, 0, h->dev };
		err = uvfs_file_readdir(h->f, (uint64_t)off, rd_fill, &r);
		if (err < 0) {
			free(buf);
			return reply_err(req, err);
		}
		count(req);
		fuse_reply_buf(req, buf, r.pos);
		free(buf);
		return;
	}

	/* an entry of the plus format takes at least 152 bytes */
	struct rdp r = { NULL, 0, size / 152 + 1 };
	struct uvfs_node **held = NULL;
	size_t nheld = 0, pos = 0;
	struct uvfs_ctx *ctx = NULL;

	r.ents = malloc(r.max * sizeof(*r.ents));
	held = malloc(r.max * sizeof(*held));
	ctx = req_ctx(req, ino, plus ? "readdirplus" : "readdir", NULL);
	if (!r.ents || !held || !ctx) {
		err = -ENOMEM;
		goto out_err;
	}
	err = uvfs_file_readdir(h->f, (uint64_t)off, rdp_fill, &r);
	if (err < 0)
		goto out_err;
	for (size_t i = 0; i < r.n; i++) {
		struct uvfs_dirent *de = &r.ents[i];
		struct fuse_entry_param e;
		struct uvfs_node *nd = NULL;
		size_t need;

		need = fuse_add_direntry_plus(req, NULL, 0, de->name, NULL, 0);
		if (need > size - pos)
			break;
		memset(&e, 0, sizeof(e));
		if (!is_dot(de->name) &&
		    uvfs_node_lookup(ctx, NODE(uf, ino), de->name, &nd,
				     &e.attr) == 0) {
			if (known_add(uf, nd, e.attr.st_dev)) {
				uvfs_node_release(nd, 1);
				nd = NULL;
			}
		}
		if (nd) {
			held[nheld++] = nd;
			fix_stat(&e.attr);
			e.ino = ID(uf, nd);
			e.attr_timeout = e.entry_timeout = ttl(nd);
		} else {
			/* no lookup count: a plain entry */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = uvfs_fuse_ino(h->dev, de->ino);
			e.attr.st_mode = (mode_t)DTTOIF(de->type);
		}
		pos += fuse_add_direntry_plus(req, buf + pos, size - pos,
					      de->name, &e, (off_t)de->next);
	}
	uvfs_fuse_ctx_put(uf, ctx);
	count(req);
	if (fuse_reply_buf(req, buf, pos)) {
		for (size_t i = 0; i < nheld; i++) {
			known_drop(uf, held[i], 1);
			uvfs_node_release(held[i], 1);
		}
	}
	free(buf);
	free(r.ents);
	free(held);
	return;

out_err:
	uvfs_fuse_ctx_put(uf, ctx);
	free(buf);
	free(r.ents);
	free(held);
	reply_err(req, err);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "statfs", NULL);
	struct statvfs sv;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_statfs(ctx, NODE(UF(req), ino), &sv);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err)
		return reply_err(req, err);
	count(req);
	fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "access", NULL);
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_access(ctx, NODE(UF(req), ino), mask);
	uvfs_fuse_ctx_put(UF(req), ctx);
	reply_err(req, err);
}

/* Extended attributes.  The kernel has already applied its own checks
 * (trusted.* needs CAP_SYS_ADMIN); the library applies all of them again
 * with the caller's credentials.  A file system without them answers
 * EOPNOTSUPP, never ENOSYS: ENOSYS would make the kernel stop asking for
 * every file system behind this mount. */

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "setxattr", NULL);
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_setxattr(ctx, NODE(UF(req), ino), name, value, size,
				 flags);
	uvfs_fuse_ctx_put(UF(req), ctx);
	reply_err(req, err);
}

/* getxattr of name, or listxattr (name NULL), into a buffer of size (0:
 * only the length). */
static void xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	struct uvfs_ctx *ctx;
	char *buf = NULL;
	ssize_t n;

	if (size > UVFS_XATTR_SIZE_MAX && name)
		size = UVFS_XATTR_SIZE_MAX;
	if (size && !(buf = malloc(size)))
		return reply_err(req, -ENOMEM);
	ctx = req_ctx(req, ino, name ? "getxattr" : "listxattr", NULL);
	if (!ctx) {
		free(buf);
		return reply_err(req, -ENOMEM);
	}
	n = name ? uvfs_node_getxattr(ctx, NODE(UF(req), ino), name, buf, size)
		 : uvfs_node_listxattr(ctx, NODE(UF(req), ino), buf, size);
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (n < 0) {
		reply_err(req, (int)n);
	} else {
		count(req);
		if (size == 0)
			fuse_reply_xattr(req, (size_t)n);
		else
			fuse_reply_buf(req, buf, (size_t)n);
	}
	free(buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	xattr_read(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read(req, ino, NULL, size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct uvfs_ctx *ctx = req_ctx(req, ino, "removexattr", NULL);
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	err = uvfs_node_removexattr(ctx, NODE(UF(req), ino), name);
	uvfs_fuse_ctx_put(UF(req), ctx);
	reply_err(req, err);
}

/* ---- fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range ------------------- */

/* Once fallocate or copy_file_range changed a file through a handle
 * marked by opened_for_write, as op_write does before a write: the setgid
 * bit the kernel leaves, for a caller other than root.  => 0 or -errno
 * (to answer). */
static int kill_sgid(fuse_req_t req, fuse_ino_t ino, struct fh *h,
		     const char *op)
{
	struct uvfs_ctx *ctx;
	int err;

	if (!atomic_load(&h->kill_sgid) || fuse_req_ctx(req)->uid == 0)
		return 0;
	ctx = req_ctx(req, ino, op, NULL);
	err = ctx ? uvfs_file_kill_priv(ctx, h->f) : -ENOMEM;
	uvfs_fuse_ctx_put(UF(req), ctx);
	if (err < 0)
		return err;
	atomic_store(&h->kill_sgid, false);
	if (err == 1)
		inval_attr(UF(req), ino);
	return 0;
}

/* The kernel checked the descriptor, the type, the ranges and cleared
 * set-user-id (file_modified) before sending these; the answers are the
 * library's (fileops.c).  Never -ENOSYS: the kernel would stop asking
 * for good (fallocate, copy_file_range: -EOPNOTSUPP instead, after which
 * it copies through READ and WRITE itself). */
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t off, off_t len, struct fuse_file_info *fi)
{
	int err;

	req_begin(req, NODE(UF(req), ino), "fallocate");
	err = uvfs_file_fallocate(FH(fi)->f, mode, off, len);
	req_end(UF(req));
	if (!err)       /* once it changed something, as tmpfs */
		err = kill_sgid(req, ino, FH(fi), "fallocate");
	reply_err(req, err == -ENOSYS ? -EOPNOTSUPP : err);
}

/* SEEK_DATA and SEEK_HOLE (the kernel answers the others itself).  With
 * the writeback cache (-o writeback) the kernel holds data and a size we
 * have not seen yet and does not write them back before it asks: ENOSYS
 * then, once, and it answers from its own size from then on (no holes,
 * but nothing missed), as for a daemon without lseek. */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t r;

	if (UF(req)->want & FUSE_CAP_WRITEBACK_CACHE)
		return reply_err(req, -ENOSYS);
	req_begin(req, NODE(UF(req), ino), "lseek");
	r = uvfs_file_lseek(FH(fi)->f, off, whence);
	req_end(UF(req));
	if (r < 0)
		return reply_err(req, r == -ENOSYS ? -EINVAL : (int)r);
	count(req);
	fuse_reply_lseek(req, r);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	ssize_t n;
	int err;

	req_begin(req, NODE(UF(req), ino_out), "copy_file_range");
	n = uvfs_file_copy_range(FH(fi_in)->f, off_in, FH(fi_out)->f, off_out,
				 len, (unsigned)flags);
	req_end(UF(req));
	if (n < 0)
		return reply_err(req, n == -ENOSYS ? -EOPNOTSUPP : (int)n);
	/* the kernel drops what it knows of the destination's attributes,
	 * not the source's, whose atime the read may have moved */
	if (ino_in != ino_out)
		inval_attr(UF(req), ino_in);
	if (n > 0 && (err = kill_sgid(req, ino_out, FH(fi_out),
				      "copy_file_range")) != 0)
		return reply_err(req, err);
	count(req);
	fuse_reply_write(req, (size_t)n);
}

const struct fuse_lowlevel_ops uvfs_fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	/* FLUSH only where a driver writes behind: every other open says
	 * noflush (FOPEN_NOFLUSH), which saves a round trip per close. */
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_release,       /* file and directory handles */
	.fsyncdir = op_fsync,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.copy_file_range = op_copy_file_range,
	.getlk = op_getlk,
	.setlk = op_setlk,
	.flock = op_flock,
};

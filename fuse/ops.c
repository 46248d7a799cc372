/*
 * ops.c - the FUSE low-level operations table (uvfs_fuse_ops) and the
 * operations on names, attributes and directories over the node API of
 * libuvfs (lookup, forget, getattr, setattr, readlink, mknod, mkdir,
 * symlink, unlink, rmdir, rename, link, opendir, readdir(plus), statfs,
 * access, the xattr calls); the context pool and the request contexts
 * they all take.  Open files and their I/O are io.c's (which owns struct
 * fh), locks locks.c's.
 *
 * Owns the pooled struct uvfs_ctx (uvfs_fuse_ctx_get to _put; req_ctx
 * takes the worker thread's own first, reqs.c's slot_ctx).  Every
 * entry reply passes one node hold to the kernel and records it in the
 * registry (known_add, fuse.c) before the reply is sent; FORGET gives
 * holds back (known_drop).  The rules for node ids, credentials,
 * permissions and caching are in fuse.c's opening comment.
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
	if (!ctx || slot_ctx_put(uf, ctx))
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

/* A caller in more supplementary groups than a context holds
 * (UVFS_NGROUPS_MAX; Linux allows 65536, and users of directory services
 * have hundreds): the kernel has checked the request against all of them
 * (default_permissions) and libuvfs checks it again against those in
 * cred, so cred gets the ones the request can be judged by first: the
 * groups of the nodes it names (nd[]) and the group it asks for (gid, a
 * chown's; (gid_t)-1: none), then the others in the kernel's order until
 * it is full.  Keeping the first ones only refused what a later group
 * allowed.  ctx: for the getattrs.  Out of memory: cred stays. */
static void groups_for(fuse_req_t req, struct uvfs_ctx *ctx,
		       struct uvfs_cred *cred, int total,
		       struct uvfs_node *const nd[], size_t nnd, gid_t gid)
{
	gid_t *all = malloc((size_t)total * sizeof(*all));
	gid_t want[3];
	size_t nw = 0;
	unsigned k = 0;
	struct stat st;
	int n;

	if (!all)
		return;
	n = req_groups(req, total, all);
	if (n > total)
		n = total;      /* more since the first read: the rest go */
	for (size_t i = 0; i < nnd && nw < 2; i++)
		if (nd[i] && uvfs_node_getattr(ctx, nd[i], &st) == 0)
			want[nw++] = st.st_gid;
	if (gid != (gid_t)-1)
		want[nw++] = gid;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n && k < UVFS_NGROUPS_MAX; i++) {
			bool w = false;
			for (size_t j = 0; j < nw; j++)
				w = w || all[i] == want[j];
			if (w == (pass == 0))
				cred->groups[k++] = all[i];
		}
	if (n > 0)
		cred->ngroups = k;
	free(all);
}

/* The caller's context for a request that enters the library on node ino
 * for operation op, with the caller's credentials (and umask, if asked);
 * recorded as in progress (reqs.c) until uvfs_fuse_ctx_put.  other (0:
 * none) and gid ((gid_t)-1: none): another node the request names and a
 * group it asks for, for a caller in many groups (groups_for).  NULL
 * when out of memory (nothing recorded). */
struct uvfs_ctx *req_ctx_for(fuse_req_t req, fuse_ino_t ino, const char *op,
			     mode_t *umask, fuse_ino_t other, gid_t gid)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	struct uvfs_cred cred = { .uid = fc->uid, .gid = fc->gid };
	struct uvfs_ctx *ctx;
	int total = 0;

	if (fc->uid != 0) {
		gid_t g[UVFS_NGROUPS_MAX];
		int n = total = req_groups(req, UVFS_NGROUPS_MAX, g);
		if (n > UVFS_NGROUPS_MAX)
			n = UVFS_NGROUPS_MAX;
		for (int i = 0; i < n; i++)
			cred.groups[i] = g[i];
		cred.ngroups = n > 0 ? (unsigned)n : 0;
	}
	if (umask)
		*umask = fc->umask;
	req_begin(req, NODE(UF(req), ino), op);
	ctx = slot_ctx(UF(req));        /* no shared lock */
	if (ctx)
		uvfs_ctx_set_cred(ctx, &cred);
	else
		ctx = uvfs_fuse_ctx_get(UF(req), &cred);
	if (!ctx) {
		req_end(UF(req));
		return NULL;
	}
	if (total > UVFS_NGROUPS_MAX) {
		struct uvfs_node *nd[2] = {
			NODE(UF(req), ino), other ? NODE(UF(req), other) : NULL
		};
		groups_for(req, ctx, &cred, total, nd, 2, gid);
		uvfs_ctx_set_cred(ctx, &cred);
	}
	return ctx;
}

struct uvfs_ctx *req_ctx(fuse_req_t req, fuse_ino_t ino, const char *op,
			 mode_t *umask)
{
	return req_ctx_for(req, ino, op, umask, 0, (gid_t)-1);
}

/* Hands nd (one hold, from the library call) and its attributes to the
 * kernel as an entry; fi: a create reply.  type: the file type the
 * request made (mknod, mkdir, symlink; 0: any), which the kernel also
 * requires of the entry, refusing it as entry_attr_ok says otherwise. */
static void reply_entry(fuse_req_t req, struct uvfs_node *nd,
			const struct stat *st, struct fuse_file_info *fi,
			mode_t type)
{
	struct uvfs_fuse *uf = UF(req);
	struct fuse_entry_param e;
	int err;

	if (!entry_attr_ok(st) || (type && (st->st_mode & S_IFMT) != type)) {
		uvfs_node_release(nd, 1);
		return reply_err(req, -EIO);
	}
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
	/* -o splice: request data through a pipe (splice from the
	 * device), reply data spliced to it (moved where the kernel can);
	 * measured in bench/README.md, off by default */
	const unsigned spl = FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			     FUSE_CAP_SPLICE_MOVE;
	if (uf->splice)
		conn->want |= conn->capable & spl;
	else
		conn->want &= ~spl;
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
	reply_entry(req, nd, &st, NULL, 0);
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
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE | UVFS_SET_KILLPRIV };
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

/* The writeback cache's mtime that comes with a truncation (the kernel
 * keeps the times and sends its own with the size), set as root after
 * the size: the kernel's bookkeeping of a change the caller may make,
 * not a utimensat(), which only the owner could make. */
static int wb_mtime(struct uvfs_fuse *uf, struct uvfs_node *nd,
		    struct timespec t)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_MTIME, .mtime = t };
	struct uvfs_ctx *root = uvfs_fuse_ctx_get(uf, NULL);
	int err;

	if (!root)
		return -ENOMEM;
	err = uvfs_node_setattr(root, nd, &sa, NULL);
	uvfs_fuse_ctx_put(uf, root);
	return err;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct uvfs_ctx *ctx = req_ctx_for(req, ino, "setattr", NULL, 0,
					   (to_set & FUSE_SET_ATTR_GID) ?
					   attr->st_gid : (gid_t)-1);
	struct uvfs_setattr sa;
	struct stat st;
	int err;

	if (!ctx)
		return reply_err(req, -ENOMEM);
	/* With the writeback cache the kernel keeps mtime and ctime, and
	 * sends them as the process that closes or syncs (a writer, not
	 * necessarily the owner).  It also sends its own clock's mtime for
	 * a user's "now" (utimensat(NULL), touch), which anyone who may
	 * write the file may set: as an explicit time, which only the
	 * owner could.  The kernel checked every utimensat() before it got
	 * here (default_permissions: the owner or CAP_FOWNER for explicit
	 * times, write permission for "now").  So a change of times alone
	 * goes through as root. */
	const int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW |
			  FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW |
			  FUSE_SET_ATTR_CTIME;
	if ((UF(req)->want & FUSE_CAP_WRITEBACK_CACHE) &&
	    (to_set & times) && !(to_set & ~times)) {
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
	/* a truncation with the writeback cache: its mtime after it */
	bool wb_time = (UF(req)->want & FUSE_CAP_WRITEBACK_CACHE) &&
		       (sa.valid & UVFS_SET_SIZE) &&
		       (sa.valid & UVFS_SET_MTIME);
	if (wb_time)
		sa.valid &= ~UVFS_SET_MTIME;
	/* the kernel's file_remove_privs() on a write or truncation by
	 * someone else than the owner: see kill_privs (with a size, the
	 * library clears the bits in the truncation: uvfs_node_setattr) */
	if ((sa.valid & UVFS_SET_MODE) && !(sa.valid & UVFS_SET_SIZE)) {
		err = kill_privs(UF(req), ctx, fuse_req_ctx(req)->uid,
				 NODE(UF(req), ino), sa.mode);
		if (err < 0) {
			uvfs_fuse_ctx_put(UF(req), ctx);
			return reply_err(req, err);
		}
		if (err == 1)
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
	 * the file's mode may say otherwise by now.  (A mode with it is
	 * the kernel's clearing of set-id bits: uvfs_file_kill_priv.) */
	if ((sa.valid & ~UVFS_SET_MODE) == UVFS_SET_SIZE && fi && fi->fh) {
		/* what the kernel left to us: see opened_for_write */
		err = uvfs_file_kill_priv(ctx, FH(fi)->f);
		if (err >= 0)
			err = uvfs_file_truncate(FH(fi)->f, sa.size);
		if (!err && wb_time)
			err = wb_mtime(UF(req), NODE(UF(req), ino), sa.mtime);
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
	/* (the attributes after the time, with one) */
	err = uvfs_node_setattr(ctx, NODE(UF(req), ino), &sa,
				wb_time ? NULL : &st);
	if (!err && wb_time) {
		err = wb_mtime(UF(req), NODE(UF(req), ino), sa.mtime);
		if (!err)
			err = uvfs_node_getattr(ctx, NODE(UF(req), ino), &st);
	}
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
	reply_entry(req, nd, &st, NULL, mode & S_IFMT);
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
	reply_entry(req, nd, &st, NULL, S_IFDIR);
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
	ctx = req_ctx_for(req, parent, "rename", NULL, newparent, (gid_t)-1);
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
	struct uvfs_ctx *ctx = req_ctx_for(req, ino, "link", NULL, newparent,
					   (gid_t)-1);
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
	reply_entry(req, nd, &st, NULL, 0);
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

/* readdir: entries go straight into the reply buffer.  The kernel
 * refuses a whole READDIR or READDIRPLUS reply (EIO) for one entry with
 * an empty name or a '/' in it (fuse_parse_dirfile), which a file server
 * can hand up: the core has left such entries out, and says DT_UNKNOWN
 * for a type none of the seven (docs/design.md, "Answers no file can
 * have"). */
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
		/* a mount point's entry goes without attributes: the
		 * listing does not enter the file system mounted there
		 * (suspended, its server hung), the kernel looks it up
		 * when it needs it */
		if (!is_dot(de->name) &&
		    uvfs_node_lookup_here(ctx, NODE(uf, ino), de->name, &nd,
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

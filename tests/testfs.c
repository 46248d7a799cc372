/*
 * testfs.c - the "testfs" type of the tests (testfs.h): memfs behind a
 * shim that gives the core objects that die at reclaim and release.
 *
 * Objects
 *   struct tnode   one per vget: wraps memfs's node; freed (poisoned
 *                  first) by reclaim.  Listed while live.
 *   struct tfh     one per open: wraps memfs's handle; freed (poisoned)
 *                  by release, which must come with the node it was opened
 *                  on, before that node's reclaim.  Listed while live.
 * Both lists and the counters are under `lock`; the blocking state under
 * `block_lock`.  memfs keeps the sb's private data, as when mounted alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testfs.h"

#define NODE_MAGIC 0x444f4e54u  /* "TNOD" */
#define FH_MAGIC   0x48465454u  /* "TTFH" */
#define POISON     0x6b

struct tnode {
	uint32_t magic;
	struct uvfs_sb *sb;
	void *inner;                /* memfs's node */
	struct tnode *prev, *next;  /* lock: live nodes */
	bool revoked;               /* lock: its revoke op came */
};

struct tfh {
	uint32_t magic;
	struct tnode *node;         /* the node it was opened on */
	void *inner;                /* memfs's handle (may be NULL) */
	struct tfh *prev, *next;    /* lock: live handles */
};

static const struct uvfs_fstype_ops *const M = &uvfs_memfs_ops;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tnode *nodes;         /* lock */
static struct tfh *handles;         /* lock */
static long nnodes, nhandles;       /* lock */
static unsigned long nreleases, nreclaims; /* lock */
static unsigned long nrevokes, nrevoked_releases;       /* lock */

static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static enum testfs_op blocked_op;   /* block_lock */
static int nblocked;                /* block_lock */
static _Atomic unsigned delay_us;
static _Atomic long last_uid[TFS_COUNT];    /* whom each op was last for */
static _Atomic unsigned long ncalls[TFS_COUNT];
static _Atomic unsigned long nflushes;
static _Atomic int flush_err;

static void die(const char *what, const void *p)
{
	fprintf(stderr, "testfs: %s (%p)\n", what, p);
	fflush(stderr);
	abort();
}

/* The checks of every call: a node the core hands in must be live. */
static struct tnode *N(void *priv, const char *op)
{
	struct tnode *n = priv;

	if (!n || n->magic != NODE_MAGIC) {
		char what[96];
		snprintf(what, sizeof(what), "%s on a node that is not live",
			 op);
		die(what, n);
	}
	return n;
}

static struct tfh *H(void *fh, struct tnode *n, const char *op)
{
	struct tfh *h = fh;

	if (!h || h->magic != FH_MAGIC) {
		char what[96];
		snprintf(what, sizeof(what), "%s on a handle that is not live",
			 op);
		die(what, h);
	}
	if (n && h->node != n)
		die("a handle used with another node than its own", h);
	return h;
}

static void enter(enum testfs_op op)
{
	unsigned d = atomic_load_explicit(&delay_us, memory_order_relaxed);
	const struct uvfs_cred *cr = uvfs_cred_current();

	atomic_store(&last_uid[op], cr ? (long)cr->uid : -1);
	atomic_fetch_add(&ncalls[op], 1);

	if (d) {
		static _Thread_local unsigned seed;
		if (!seed)
			seed = (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
		usleep((useconds_t)(rand_r(&seed) % (d + 1)));
	}
	pthread_mutex_lock(&block_lock);
	while (blocked_op != TFS_NONE && blocked_op == op) {
		nblocked++;
		pthread_cond_broadcast(&block_cv);
		pthread_cond_wait(&block_cv, &block_lock);
		nblocked--;
	}
	pthread_mutex_unlock(&block_lock);
}

long testfs_last_uid(enum testfs_op op)
{
	return atomic_load(&last_uid[op]);
}

unsigned long testfs_calls(enum testfs_op op)
{
	return atomic_load(&ncalls[op]);
}

void testfs_block(enum testfs_op op)
{
	pthread_mutex_lock(&block_lock);
	blocked_op = op;
	pthread_mutex_unlock(&block_lock);
}

void testfs_unblock(void)
{
	pthread_mutex_lock(&block_lock);
	blocked_op = TFS_NONE;
	pthread_cond_broadcast(&block_cv);
	pthread_mutex_unlock(&block_lock);
}

bool testfs_wait_blocked(int n, int timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&block_lock);
	while (nblocked < n &&
	       pthread_cond_timedwait(&block_cv, &block_lock, &until) == 0)
		;
	ok = nblocked >= n;
	pthread_mutex_unlock(&block_lock);
	return ok;
}

void testfs_set_delay(unsigned max_us)
{
	atomic_store(&delay_us, max_us);
}

long testfs_live_nodes(void)
{
	pthread_mutex_lock(&lock);
	long n = nnodes;
	pthread_mutex_unlock(&lock);
	return n;
}

long testfs_live_handles(void)
{
	pthread_mutex_lock(&lock);
	long n = nhandles;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long testfs_releases(void)
{
	pthread_mutex_lock(&lock);
	unsigned long n = nreleases;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long testfs_revokes(void)
{
	pthread_mutex_lock(&lock);
	unsigned long n = nrevokes;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long testfs_revoked_releases(void)
{
	pthread_mutex_lock(&lock);
	unsigned long n = nrevoked_releases;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long testfs_reclaims(void)
{
	pthread_mutex_lock(&lock);
	unsigned long n = nreclaims;
	pthread_mutex_unlock(&lock);
	return n;
}

/* ---- the superblock ---------------------------------------------------- */

static int t_mount(struct uvfs_sb *sb, const char *source,
		   const char *options, uint64_t *root_ino)
{
	uvfs_sb_set_flushes(sb);        /* flush is called (test_vops) */
	return M->mount(sb, source, options, root_ino);
}

static void t_unmount(struct uvfs_sb *sb)
{
	pthread_mutex_lock(&lock);
	for (struct tnode *n = nodes; n; n = n->next)
		if (n->sb == sb)
			die("unmount with a node still live", n);
	for (struct tfh *h = handles; h; h = h->next)
		if (h->node->sb == sb)
			die("unmount with a handle still live", h);
	pthread_mutex_unlock(&lock);
	M->unmount(sb);
}

static int t_sync(struct uvfs_sb *sb)
{
	return M->sync(sb);
}

static int t_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	return M->statfs(sb, st);
}

static int t_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct tnode *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	r = M->vget(sb, ino, &n->inner);
	if (r) {
		free(n);
		return r;
	}
	n->magic = NODE_MAGIC;
	n->sb = sb;
	pthread_mutex_lock(&lock);
	n->next = nodes;
	if (nodes)
		nodes->prev = n;
	nodes = n;
	nnodes++;
	pthread_mutex_unlock(&lock);
	*priv = n;
	return 0;
}

static void t_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct tnode *n = N(priv, "reclaim");

	if (n->sb != sb)
		die("reclaim through another sb", n);
	pthread_mutex_lock(&lock);
	for (struct tfh *h = handles; h; h = h->next)
		if (h->node == n)
			die("reclaim of a node with a handle still open", n);
	if (n->prev)
		n->prev->next = n->next;
	else
		nodes = n->next;
	if (n->next)
		n->next->prev = n->prev;
	nnodes--;
	nreclaims++;
	pthread_mutex_unlock(&lock);
	M->reclaim(sb, n->inner);
	memset(n, POISON, sizeof(*n));
	free(n);
}

/* Once per dead node, before the releases of its open handles and its
 * reclaim (fs.h). */
static void t_revoke(struct uvfs_sb *sb, void *priv)
{
	struct tnode *n = N(priv, "revoke");

	if (n->sb != sb)
		die("revoke through another sb", n);
	pthread_mutex_lock(&lock);
	if (n->revoked)
		die("revoke of a node twice", n);
	n->revoked = true;
	nrevokes++;
	pthread_mutex_unlock(&lock);
}

/* ---- node operations: checked, then memfs's ---------------------------- */

static void (*_Atomic getattr_fn)(void *);
static void *_Atomic getattr_arg;

void testfs_getattr_hook(void (*fn)(void *), void *arg)
{
	atomic_store(&getattr_arg, arg);
	atomic_store(&getattr_fn, fn);
}

static int t_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	void (*fn)(void *) = atomic_exchange(&getattr_fn, NULL);

	enter(TFS_GETATTR);
	if (fn)
		fn(atomic_load(&getattr_arg));
	return M->getattr(sb, N(priv, "getattr")->inner, st);
}

static int t_setattr(struct uvfs_sb *sb, void *priv,
		     const struct uvfs_setattr *sa)
{
	return M->setattr(sb, N(priv, "setattr")->inner, sa);
}

static int t_permission(struct uvfs_sb *sb, void *priv, int mask,
			const struct uvfs_cred *cred)
{
	return M->permission(sb, N(priv, "permission")->inner, mask, cred);
}

static int t_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		    struct uvfs_ident *id)
{
	enter(TFS_LOOKUP);
	return M->lookup(sb, N(dir, "lookup")->inner, name, id);
}

static int t_create(struct uvfs_sb *sb, void *dir, const char *name,
		    mode_t mode, dev_t rdev, const char *target,
		    const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	enter(TFS_CREATE);
	return M->create(sb, N(dir, "create")->inner, name, mode, rdev,
			 target, cred, id);
}

static int t_link(struct uvfs_sb *sb, void *dir, const char *name,
		  void *priv)
{
	struct tnode *d = N(dir, "link (directory)");

	enter(TFS_LINK);
	return M->link(sb, d->inner, name, N(priv, "link (source)")->inner);
}

static int t_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		    int isdir)
{
	enter(TFS_UNLINK);
	return M->unlink(sb, N(dir, "unlink")->inner, name, isdir);
}

static int t_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		    void *ndir, const char *nname, unsigned flags)
{
	struct tnode *o = N(odir, "rename (old directory)");

	enter(TFS_RENAME);
	return M->rename(sb, o->inner, oname,
			 N(ndir, "rename (new directory)")->inner, nname,
			 flags);
}

static ssize_t t_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			  size_t size)
{
	return M->readlink(sb, N(priv, "readlink")->inner, buf, size);
}

static int t_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct tnode *n = N(priv, "open");
	struct tfh *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	enter(TFS_OPEN);
	r = M->open ? M->open(sb, n->inner, flags, &h->inner) : 0;
	if (r) {
		free(h);
		return r;
	}
	h->magic = FH_MAGIC;
	h->node = n;
	pthread_mutex_lock(&lock);
	h->next = handles;
	if (handles)
		handles->prev = h;
	handles = h;
	nhandles++;
	pthread_mutex_unlock(&lock);
	*fh = h;
	return 0;
}

static void t_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct tnode *n = N(priv, "release");
	struct tfh *h = H(fh, n, "release");

	enter(TFS_RELEASE);
	pthread_mutex_lock(&lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	nhandles--;
	nreleases++;
	if (n->revoked)
		nrevoked_releases++;
	pthread_mutex_unlock(&lock);
	if (M->release)
		M->release(sb, n->inner, h->inner);
	memset(h, POISON, sizeof(*h));
	free(h);
}

static ssize_t t_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		      size_t n, off_t off)
{
	struct tnode *t = N(priv, "read");
	void *in = fh ? H(fh, t, "read")->inner : NULL;

	enter(TFS_READ);
	return M->read(sb, t->inner, in, buf, n, off);
}

static ssize_t t_write(struct uvfs_sb *sb, void *priv, void *fh,
		       const void *buf, size_t n, off_t *off)
{
	struct tnode *t = N(priv, "write");
	void *in = fh ? H(fh, t, "write")->inner : NULL;

	enter(TFS_WRITE);
	return M->write(sb, t->inner, in, buf, n, off);
}

static int t_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{
	struct tnode *t = N(priv, "fsync");
	void *in = fh ? H(fh, t, "fsync")->inner : NULL;

	return M->fsync(sb, t->inner, in, datasync);
}

static int t_flush(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct tnode *t = N(priv, "flush");

	(void)sb;
	if (fh)
		H(fh, t, "flush");
	enter(TFS_FLUSH);
	atomic_fetch_add(&nflushes, 1);
	return atomic_load(&flush_err);
}

unsigned long testfs_flushes(void)
{
	return atomic_load(&nflushes);
}

void testfs_set_flush_error(int err)
{
	atomic_store(&flush_err, err);
}

static int t_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		     uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct tnode *t = N(priv, "readdir");
	void *in = fh ? H(fh, t, "readdir")->inner : NULL;

	enter(TFS_READDIR);
	return M->readdir(sb, t->inner, in, cookie, fill, arg);
}

static ssize_t t_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
			  void *value, size_t size)
{
	return M->getxattr(sb, N(priv, "getxattr")->inner, name, value, size);
}

static int t_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		      const void *value, size_t size, int flags)
{
	return M->setxattr(sb, N(priv, "setxattr")->inner, name, value, size,
			   flags);
}

static ssize_t t_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			   size_t size)
{
	return M->listxattr(sb, N(priv, "listxattr")->inner, list, size);
}

static int t_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{
	return M->removexattr(sb, N(priv, "removexattr")->inner, name);
}

/* The Linux file calls: memfs's, with the handle checks. */
static int t_fallocate(struct uvfs_sb *sb, void *priv, void *fh, int mode,
		       off_t off, off_t len)
{
	struct tnode *t = N(priv, "fallocate");
	void *in = fh ? H(fh, t, "fallocate")->inner : NULL;

	enter(TFS_WRITE);
	return M->fallocate(sb, t->inner, in, mode, off, len);
}

static off_t t_seek_data(struct uvfs_sb *sb, void *priv, void *fh, off_t off,
			 int whence)
{
	struct tnode *t = N(priv, "seek_data");
	void *in = fh ? H(fh, t, "seek_data")->inner : NULL;

	enter(TFS_READ);
	return M->seek_data(sb, t->inner, in, off, whence);
}

static ssize_t t_copy_range(struct uvfs_sb *sb, void *src, void *src_fh,
			    off_t off_in, void *dst, void *dst_fh,
			    off_t off_out, size_t len)
{
	struct tnode *s = N(src, "copy_range"), *d = N(dst, "copy_range");
	void *sin = src_fh ? H(src_fh, s, "copy_range")->inner : NULL;
	void *din = dst_fh ? H(dst_fh, d, "copy_range")->inner : NULL;

	enter(TFS_WRITE);
	return M->copy_range(sb, s->inner, sin, off_in, d->inner, din,
			     off_out, len);
}

const struct uvfs_fstype_ops testfs_ops = {
	.name = "testfs",
	.mount = t_mount,
	.unmount = t_unmount,
	.sync = t_sync,
	.statfs = t_statfs,
	.vget = t_vget,
	.reclaim = t_reclaim,
	.getattr = t_getattr,
	.setattr = t_setattr,
	.permission = t_permission,
	.lookup = t_lookup,
	.create = t_create,
	.link = t_link,
	.unlink = t_unlink,
	.rename = t_rename,
	.readlink = t_readlink,
	.open = t_open,
	.release = t_release,
	.read = t_read,
	.write = t_write,
	.fsync = t_fsync,
	.readdir = t_readdir,
	.getxattr = t_getxattr,
	.setxattr = t_setxattr,
	.listxattr = t_listxattr,
	.removexattr = t_removexattr,
	.flush = t_flush,
	.fallocate = t_fallocate,
	.seek_data = t_seek_data,
	.copy_range = t_copy_range,
	.revoke = t_revoke,
};

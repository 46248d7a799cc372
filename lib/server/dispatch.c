/*
 * dispatch.c - what a decoded 9P2000.L request does: the fids it names
 * are referenced and checked, the struct p9srv_ops entry runs, and the
 * reply is built; extended-attribute fids (Txattrwalk, Txattrcreate and
 * the reads, writes and clunks on them) are handled here in full.
 *
 * Owns struct run (on the running thread's stack, for one request) and
 * struct xattr (an xattr fid's value or buffer: made by Txattrwalk or
 * Txattrcreate, freed with its fid, counted in conn.xbytes meanwhile).
 * The connection, the request lifecycle, flush and the fid table are in
 * server.c; the locks are the ones listed there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "server_i.h"
#include "sys.h"

/* --- dispatch --- */

/* References the request's fid (and a second one), checks them, and
 * calls ops->enter.  0 or -errno. */
static int run_fids(struct run *x, uint32_t fid, uint32_t fid2)
{
	x->f = srv_fid_get(x->c, fid);
	if (!x->f)
		return -EBADF;
	if (fid2 != P9_NOFID) {
		x->f2 = srv_fid_get(x->c, fid2);
		if (!x->f2)
			return -EBADF;
	}
	if (x->ops->enter) {
		int err = x->ops->enter(x->r, &x->f->pub);
		if (err < 0)
			return err;
		x->entered = true;
	}
	return 0;
}

#define NEED(op) do { if (!x->ops->op) return -ENOSYS; } while (0)

static int do_attach(struct run *x)
{
	const struct p9_tattach *t = &x->r->t.tattach;
	struct fid *f;
	int err;

	NEED(attach);
	err = srv_fid_reserve(x->c, t->fid, &f);
	if (err < 0)
		return err;
	err = x->ops->attach(x->r, &f->pub, t, &x->rep.rattach.qid);
	if (err < 0) {
		srv_fid_unhash(x->c, f);
		srv_fid_put(x->c, f);
		return err;
	}
	f->live = true;
	srv_fid_activate(x->c, f);
	srv_fid_put(x->c, f);
	x->rep.type = P9_RATTACH;
	return 0;
}

static int do_walk(struct run *x)
{
	const struct p9_twalk *t = &x->r->t.twalk;
	struct fid *nf;
	uint16_t n = 0;
	int err;

	NEED(walk);
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	if (t->newfid == t->fid) {
		nf = sys_calloc(1, sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		pthread_rwlock_init(&nf->rw, NULL);
		nf->pub.fid = t->fid;
		nf->state = FID_RESERVED;
		nf->refs = 2;
	} else if ((err = srv_fid_reserve(x->c, t->newfid, &nf)) < 0) {
		return err;
	}
	nf->pub.uid = x->f->pub.uid;
	nf->pub.gid = x->f->pub.gid;
	pthread_rwlock_rdlock(&x->f->rw);
	err = x->f->pub.opened ? -EBADF
	      : x->ops->walk(x->r, &x->f->pub, &nf->pub, t->nwname, t->wname,
			     x->rep.rwalk.wqid, &n);
	pthread_rwlock_unlock(&x->f->rw);
	if (err == 0 && n > t->nwname)
		err = -EIO;     /* NEVER: an ops bug */
	if (err == 0 && n == t->nwname) {
		nf->live = true;
		if (t->newfid == t->fid)
			srv_fid_replace(x->c, x->f, nf);
		else
			srv_fid_activate(x->c, nf);
	} else if (t->newfid != t->fid) {
		srv_fid_unhash(x->c, nf);
	} else {
		nf->refs--;
	}
	srv_fid_put(x->c, nf);
	if (err < 0)
		return err;
	if (n == 0 && t->nwname > 0)
		return -ENOENT; /* NEVER: ops said 0 without an error */
	x->rep.type = P9_RWALK;
	x->rep.rwalk.nwqid = n;
	return 0;
}

static uint32_t iounit_of(struct conn *c, uint32_t iounit)
{
	if (iounit == 0 || iounit > c->msize - P9_IOHDRSZ)
		iounit = 0;     /* the client uses msize - P9_IOHDRSZ */
	return iounit;
}

static int do_open(struct run *x, bool create)
{
	struct p9srv_fid *f;
	int err;

	if (create)
		NEED(lcreate);
	else
		NEED(lopen);
	if ((err = run_fids(x, create ? x->r->t.tlcreate.fid
				      : x->r->t.tlopen.fid, P9_NOFID)) < 0)
		return err;
	f = &x->f->pub;
	pthread_rwlock_wrlock(&x->f->rw);
	if (f->opened) {
		err = -EINVAL;          /* as diod */
	} else if (create) {
		uint32_t iou = 0;
		err = x->ops->lcreate(x->r, f, &x->r->t.tlcreate,
				      &x->rep.rlcreate.qid, &iou);
		x->rep.rlcreate.iounit = iounit_of(x->c, iou);
		f->open_flags = x->r->t.tlcreate.flags;
	} else {
		uint32_t iou = 0;
		err = x->ops->lopen(x->r, f, x->r->t.tlopen.flags,
				    &x->rep.rlopen.qid, &iou);
		x->rep.rlopen.iounit = iounit_of(x->c, iou);
		f->open_flags = x->r->t.tlopen.flags;
	}
	if (err == 0)
		f->opened = true;
	pthread_rwlock_unlock(&x->f->rw);
	if (err < 0)
		return err;
	x->rep.type = create ? P9_RLCREATE : P9_RLOPEN;
	return 0;
}

static int do_read(struct run *x)
{
	const struct p9_tread *t = &x->r->t.tread;
	uint32_t count = t->count;
	ssize_t n;
	int err;

	NEED(read);
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	if (count > x->c->msize - P9_RREAD_HDRSZ)
		count = x->c->msize - P9_RREAD_HDRSZ;
	x->rbuf = sys_malloc(P9_RREAD_HDRSZ + (size_t)count);
	if (!x->rbuf)
		return -ENOMEM;
	pthread_rwlock_rdlock(&x->f->rw);
	n = !x->f->pub.opened ? -EBADF
	    : x->ops->read(x->r, &x->f->pub, t->offset,
			   x->rbuf + P9_RREAD_HDRSZ, count);
	pthread_rwlock_unlock(&x->f->rw);
	if (n < 0)
		return (int)n;
	if ((size_t)n > count)
		return -EIO;    /* NEVER */
	x->rep.type = P9_RREAD;
	x->rep.rread.count = (uint32_t)n;
	x->rep.rread.data = x->rbuf + P9_RREAD_HDRSZ;
	return 0;
}

static int do_write(struct run *x)
{
	const struct p9_twrite *t = &x->r->t.twrite;
	ssize_t n;
	int err;

	NEED(write);
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	pthread_rwlock_rdlock(&x->f->rw);
	n = !x->f->pub.opened ? -EBADF
	    : x->ops->write(x->r, &x->f->pub, t->offset, t->data, t->count);
	pthread_rwlock_unlock(&x->f->rw);
	if (n < 0)
		return (int)n;
	if ((size_t)n > t->count)
		return -EIO;    /* NEVER */
	x->rep.type = P9_RWRITE;
	x->rep.rwrite.count = (uint32_t)n;
	return 0;
}

static int do_readdir(struct run *x)
{
	const struct p9_treaddir *t = &x->r->t.treaddir;
	struct p9_dirent_buf b;
	uint32_t count = t->count;
	int err;

	NEED(readdir);
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	if (count > x->c->msize - P9_RREADDIR_HDRSZ)
		count = x->c->msize - P9_RREADDIR_HDRSZ;
	x->rbuf = sys_malloc(P9_RREADDIR_HDRSZ + (size_t)count);
	if (!x->rbuf)
		return -ENOMEM;
	p9_dirent_buf_init(&b, x->rbuf + P9_RREADDIR_HDRSZ, count);
	pthread_rwlock_wrlock(&x->f->rw);
	err = !x->f->pub.opened ? -EBADF
	      : x->ops->readdir(x->r, &x->f->pub, t->offset, &b);
	pthread_rwlock_unlock(&x->f->rw);
	if (err < 0)
		return err;
	x->rep.type = P9_RREADDIR;
	x->rep.rreaddir.count = b.len;
	x->rep.rreaddir.data = b.data;
	return 0;
}

static int do_readlink(struct run *x)
{
	ssize_t n;
	int err;

	NEED(readlink);
	if ((err = run_fids(x, x->r->t.treadlink.fid, P9_NOFID)) < 0)
		return err;
	x->rbuf = sys_malloc(4096);
	if (!x->rbuf)
		return -ENOMEM;
	pthread_rwlock_rdlock(&x->f->rw);
	n = x->ops->readlink(x->r, &x->f->pub, (char *)x->rbuf, 4096);
	pthread_rwlock_unlock(&x->f->rw);
	if (n < 0)
		return (int)n;
	if (n > 4096 || memchr(x->rbuf, 0, (size_t)n))
		return -EIO;    /* a target cannot hold a NUL */
	x->rep.type = P9_RREADLINK;
	x->rep.rreadlink.target = (struct p9_str){ (char *)x->rbuf, (size_t)n };
	return 0;
}

/* Tclunk and Tremove. */
static int do_clunk(struct run *x, bool remove)
{
	uint32_t n = remove ? x->r->t.tremove.fid : x->r->t.tclunk.fid;
	int err = 0;

	if (remove && !x->ops->remove) {
		/* still clunks, as the protocol says */
		x->f = srv_fid_get(x->c, n);
		if (!x->f)
			return -EBADF;
		srv_fid_unhash(x->c, x->f);
		return -ENOSYS;
	}
	if ((err = run_fids(x, n, P9_NOFID)) < 0) {
		if (x->f)
			srv_fid_unhash(x->c, x->f);
		return err;
	}
	srv_fid_unhash(x->c, x->f);
	if (remove) {
		pthread_rwlock_rdlock(&x->f->rw);
		err = x->ops->remove(x->r, &x->f->pub);
		pthread_rwlock_unlock(&x->f->rw);
	}
	if (err < 0)
		return err;
	x->rep.type = remove ? P9_RREMOVE : P9_RCLUNK;
	return 0;
}

/* --- a client that is gone ---
 *
 * A client gives a request up at its deadline and, when the server does
 * not confirm the flush, cuts the connection and tells its caller that
 * the request failed (fencing, docs/session.md).  The request may still
 * be in our input when we get to it (a server that was stopped, or
 * behind on its input), and then it must not happen: a write would land
 * after its caller was told it failed (and after what that caller wrote
 * next through a new connection), a removal would remove what the
 * caller may have made again meanwhile, a lock would be held for nobody.
 * So a request that changes the export looks at the connection first,
 * and is not run if its client hung up or reset it (its end of input:
 * the replies could not be read anyway).  A request that only reads, or
 * makes fids (they go with the connection), is run as before.  One
 * poll(2) per such request. */

/* Whether the client is gone: it closed, shut down or reset the
 * connection this request came on. */
static bool peer_gone(struct conn *c)
{
	struct pollfd p = { .fd = c->outfd,
			    .events = c->sock ? POLLRDHUP : POLLOUT };

	if (poll(&p, 1, 0) != 1)
		return false;
	return (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0;
}

#define P9_DOTL_TRUNC 01000     /* 9P2000.L's O_TRUNC (Linux's value) */

/* Whether t may change the export: a file's data, attributes or names,
 * a lock, an extended attribute (the Tclunk that commits it). */
static bool changes_export(struct conn *c, const struct p9_msg *t)
{
	switch (t->type) {
	case P9_TWRITE: case P9_TSETATTR: case P9_TLCREATE: case P9_TMKDIR:
	case P9_TSYMLINK: case P9_TMKNOD: case P9_TLINK: case P9_TRENAME:
	case P9_TRENAMEAT: case P9_TUNLINKAT: case P9_TREMOVE: case P9_TLOCK:
		return true;
	case P9_TLOPEN:
		return (t->tlopen.flags & P9_DOTL_TRUNC) != 0;
	case P9_TCLUNK:
		return srv_is_xattr_fid(c, t->tclunk.fid);
	default:
		return false;
	}
}

/* The operations of one fid (or two) that hold it shared and answer a
 * fixed-size reply. */
static int do_simple(struct run *x)
{
	const struct p9_msg *t = &x->r->t;
	uint32_t fid, fid2 = P9_NOFID;
	int err;

	switch (t->type) {
	case P9_TGETATTR: NEED(getattr); fid = t->tgetattr.fid; break;
	case P9_TSETATTR: NEED(setattr); fid = t->tsetattr.fid; break;
	case P9_TMKDIR:   NEED(mkdir);   fid = t->tmkdir.dfid; break;
	case P9_TSYMLINK: NEED(symlink); fid = t->tsymlink.fid; break;
	case P9_TMKNOD:   NEED(mknod);   fid = t->tmknod.dfid; break;
	case P9_TLINK:    NEED(link);    fid = t->tlink.dfid;
			  fid2 = t->tlink.fid; break;
	case P9_TRENAME:  NEED(rename);  fid = t->trename.fid;
			  fid2 = t->trename.dfid; break;
	case P9_TRENAMEAT: NEED(renameat); fid = t->trenameat.olddirfid;
			  fid2 = t->trenameat.newdirfid; break;
	case P9_TUNLINKAT: NEED(unlinkat); fid = t->tunlinkat.dirfid; break;
	case P9_TSTATFS:  NEED(statfs);  fid = t->tstatfs.fid; break;
	case P9_TFSYNC:   NEED(fsync);   fid = t->tfsync.fid; break;
	case P9_TLOCK:    NEED(lock);    fid = t->tlock.fid; break;
	case P9_TGETLOCK: NEED(getlock); fid = t->tgetlock.fid; break;
	default:          return -ENOSYS;
	}
	/* a second fid named NOFID is no fid, not "no second fid": run_fids
	 * would skip it and the operation get NULL */
	if ((t->type == P9_TLINK || t->type == P9_TRENAME ||
	     t->type == P9_TRENAMEAT) && fid2 == P9_NOFID)
		return -EBADF;
	if ((err = run_fids(x, fid, fid2)) < 0)
		return err;
	/* two fids: in address order, so no two requests wait on each other
	 * whatever a writer does meanwhile */
	if (x->f2 && x->f2 != x->f && x->f2 < x->f) {
		pthread_rwlock_rdlock(&x->f2->rw);
		pthread_rwlock_rdlock(&x->f->rw);
	} else {
		pthread_rwlock_rdlock(&x->f->rw);
		if (x->f2 && x->f2 != x->f)
			pthread_rwlock_rdlock(&x->f2->rw);
	}
	if (t->type == P9_TFSYNC && !x->f->pub.opened) {
		err = -EBADF;
		goto unlock;
	}
	struct p9srv_req *r = x->r;
	struct p9srv_fid *f = &x->f->pub;
	struct p9srv_fid *f2 = x->f2 ? &x->f2->pub : NULL;
	struct p9_msg *rep = &x->rep;
	switch (t->type) {
	case P9_TGETATTR:
		err = x->ops->getattr(r, f, t->tgetattr.request_mask,
				      &rep->rgetattr);
		rep->type = P9_RGETATTR;
		break;
	case P9_TSETATTR:
		err = x->ops->setattr(r, f, &t->tsetattr);
		rep->type = P9_RSETATTR;
		break;
	case P9_TMKDIR:
		err = x->ops->mkdir(r, f, &t->tmkdir, &rep->rmkdir.qid);
		rep->type = P9_RMKDIR;
		break;
	case P9_TSYMLINK:
		err = x->ops->symlink(r, f, &t->tsymlink, &rep->rsymlink.qid);
		rep->type = P9_RSYMLINK;
		break;
	case P9_TMKNOD:
		err = x->ops->mknod(r, f, &t->tmknod, &rep->rmknod.qid);
		rep->type = P9_RMKNOD;
		break;
	case P9_TLINK:
		err = x->ops->link(r, f, f2, t->tlink.name);
		rep->type = P9_RLINK;
		break;
	case P9_TRENAME:
		err = x->ops->rename(r, f, f2, t->trename.name);
		rep->type = P9_RRENAME;
		break;
	case P9_TRENAMEAT:
		err = x->ops->renameat(r, f, t->trenameat.oldname, f2,
				       t->trenameat.newname);
		rep->type = P9_RRENAMEAT;
		break;
	case P9_TUNLINKAT:
		err = x->ops->unlinkat(r, f, t->tunlinkat.name,
				       t->tunlinkat.flags);
		rep->type = P9_RUNLINKAT;
		break;
	case P9_TSTATFS:
		err = x->ops->statfs(r, f, &rep->rstatfs);
		rep->type = P9_RSTATFS;
		break;
	case P9_TFSYNC:
		err = x->ops->fsync(r, f, t->tfsync.datasync);
		rep->type = P9_RFSYNC;
		break;
	case P9_TLOCK:
		err = x->ops->lock(r, f, &t->tlock, &rep->rlock.status);
		rep->type = P9_RLOCK;
		break;
	case P9_TGETLOCK:
		err = x->ops->getlock(r, f, &t->tgetlock, &rep->rgetlock);
		rep->type = P9_RGETLOCK;
		break;
	}
unlock:
	if (x->f2 && x->f2 != x->f)
		pthread_rwlock_unlock(&x->f2->rw);
	pthread_rwlock_unlock(&x->f->rw);
	return err;
}

/* --- extended attributes (p9srv.h, "Extended attributes") --- */

#define XATTR_NAME_MAX_ 255
#define XATTR_FLAGS_    3u      /* XATTR_CREATE | XATTR_REPLACE */

void srv_xattr_free(struct conn *c, struct xattr *xa)
{
	if (!xa)
		return;
	pthread_mutex_lock(&c->lock);
	c->xbytes -= xa->charge;
	pthread_mutex_unlock(&c->lock);
	free(xa->name);
	free(xa->buf);
	free(xa);
}

/* Counts n bytes of xa against the connection's budget: 0 or -ENOMEM. */
static int xattr_charge(struct conn *c, struct xattr *xa, size_t n)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (n > c->srv->o.max_xattr_bytes - c->xbytes)
		err = -ENOMEM;
	else {
		c->xbytes += n;
		xa->charge += n;
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* f's xattr state, or NULL. */
static struct xattr *fid_xattr(struct conn *c, struct fid *f)
{
	pthread_mutex_lock(&c->lock);
	struct xattr *xa = f->xa;
	pthread_mutex_unlock(&c->lock);
	return xa;
}

/* Whether fid n is in the table and an xattr fid (a routing hint: the
 * handlers check again on the fid they reference). */
bool srv_is_xattr_fid(struct conn *c, uint32_t n)
{
	if (atomic_load(&c->nxattr) == 0)
		return false;
	pthread_mutex_lock(&c->lock);
	struct fid *f = srv_fid_find_locked(c, n);
	bool x = f && f->state == FID_ACTIVE && f->xa;
	pthread_mutex_unlock(&c->lock);
	return x;
}

/* Any other request naming an xattr fid answers EBADF. */
static bool names_xattr_fid(struct conn *c, const struct p9_msg *t)
{
	uint32_t f[2] = { P9_NOFID, P9_NOFID };

	switch (t->type) {
	case P9_TWALK:     f[0] = t->twalk.fid; break;
	case P9_TGETATTR:  f[0] = t->tgetattr.fid; break;
	case P9_TSETATTR:  f[0] = t->tsetattr.fid; break;
	case P9_TLOPEN:    f[0] = t->tlopen.fid; break;
	case P9_TLCREATE:  f[0] = t->tlcreate.fid; break;
	case P9_TREADDIR:  f[0] = t->treaddir.fid; break;
	case P9_TREADLINK: f[0] = t->treadlink.fid; break;
	case P9_TSTATFS:   f[0] = t->tstatfs.fid; break;
	case P9_TFSYNC:    f[0] = t->tfsync.fid; break;
	case P9_TLOCK:     f[0] = t->tlock.fid; break;
	case P9_TGETLOCK:  f[0] = t->tgetlock.fid; break;
	case P9_TMKDIR:    f[0] = t->tmkdir.dfid; break;
	case P9_TSYMLINK:  f[0] = t->tsymlink.fid; break;
	case P9_TMKNOD:    f[0] = t->tmknod.dfid; break;
	case P9_TUNLINKAT: f[0] = t->tunlinkat.dirfid; break;
	case P9_TLINK:     f[0] = t->tlink.dfid; f[1] = t->tlink.fid; break;
	case P9_TRENAME:   f[0] = t->trename.fid; f[1] = t->trename.dfid; break;
	case P9_TRENAMEAT: f[0] = t->trenameat.olddirfid;
			   f[1] = t->trenameat.newdirfid; break;
	case P9_TXATTRWALK: f[0] = t->txattrwalk.fid; break;
	case P9_TXATTRCREATE: f[0] = t->txattrcreate.fid; break;
	default: return false;
	}
	return (f[0] != P9_NOFID && srv_is_xattr_fid(c, f[0])) ||
	       (f[1] != P9_NOFID && srv_is_xattr_fid(c, f[1]));
}

/* An attribute name: 1..255 bytes ("" too if list_ok) into out[256]. */
static int xattr_name(struct p9_str n, bool list_ok, char *out)
{
	if (n.len == 0 && !list_ok)
		return -EINVAL;
	if (n.len > XATTR_NAME_MAX_)
		return -ERANGE;
	memcpy(out, n.s, n.len);
	out[n.len] = '\0';
	return 0;
}

/* The whole value (or list) of name into xa, charged: one call into a
 * buffer of the largest size, so a value that changes in between cannot
 * be seen half old, half new; then trimmed to its length. */
static int xattr_fetch(struct run *x, const char *name, struct xattr *xa)
{
	uint8_t *buf = sys_malloc(P9SRV_XATTR_MAX), *nb;
	ssize_t n;
	int err;

	if (!buf)
		return -ENOMEM;
	pthread_rwlock_rdlock(&x->f->rw);
	n = x->ops->xattrwalk(x->r, &x->f->pub, name, buf, P9SRV_XATTR_MAX);
	pthread_rwlock_unlock(&x->f->rw);
	if (n == -ERANGE)
		n = -E2BIG;     /* larger than any value we carry */
	if (n > P9SRV_XATTR_MAX)
		n = -EIO;       /* NEVER: an ops bug */
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	if ((err = xattr_charge(x->c, xa, (size_t)n)) < 0) {
		free(buf);
		return err;
	}
	nb = sys_realloc(buf, n ? (size_t)n : 1);
	xa->buf = nb ? nb : buf;
	xa->size = (size_t)n;
	return 0;
}

/* Txattrwalk: newfid becomes an xattr-read fid holding the value. */
static int do_xattrwalk(struct run *x)
{
	const struct p9_txattrwalk *t = &x->r->t.txattrwalk;
	char name[XATTR_NAME_MAX_ + 1];
	struct xattr *xa;
	struct fid *nf;
	uint64_t size;
	int err;

	if (!x->ops->xattrwalk)
		return -EOPNOTSUPP;
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	if (t->newfid == t->fid)
		return -EINVAL;
	if ((err = xattr_name(t->name, true, name)) < 0)
		return err;
	xa = sys_calloc(1, sizeof(*xa));
	if (!xa)
		return -ENOMEM;
	xa->kind = XA_READ;
	if ((err = srv_fid_reserve(x->c, t->newfid, &nf)) < 0) {
		free(xa);
		return err;
	}
	nf->pub.uid = x->f->pub.uid;
	nf->pub.gid = x->f->pub.gid;
	err = xattr_fetch(x, name, xa);
	if (err < 0) {
		srv_xattr_free(x->c, xa);
		srv_fid_unhash(x->c, nf);
	} else {
		size = xa->size;
		atomic_fetch_add(&x->c->nxattr, 1);
		pthread_mutex_lock(&x->c->lock);
		nf->xa = xa;
		pthread_mutex_unlock(&x->c->lock);
		srv_fid_activate(x->c, nf);
	}
	srv_fid_put(x->c, nf);
	if (err < 0)
		return err;
	x->rep.type = P9_RXATTRWALK;
	x->rep.rxattrwalk.size = size;
	return 0;
}

/* Txattrcreate: fid becomes an xattr-write fid. */
static int do_xattrcreate(struct run *x)
{
	const struct p9_txattrcreate *t = &x->r->t.txattrcreate;
	char name[XATTR_NAME_MAX_ + 1];
	struct xattr *xa;
	int err;

	if (!x->ops->xattrcreate)
		return -EOPNOTSUPP;
	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	if ((err = xattr_name(t->name, false, name)) < 0)
		return err;
	if (t->flags & ~XATTR_FLAGS_)
		return -EINVAL;
	if (t->attr_size > P9SRV_XATTR_MAX)
		return -E2BIG;
	xa = sys_calloc(1, sizeof(*xa));
	if (!xa)
		return -ENOMEM;
	xa->kind = XA_WRITE;
	xa->size = (size_t)t->attr_size;
	xa->flags = t->flags;
	xa->name = sys_strdup(name);
	xa->buf = sys_malloc(xa->size ? xa->size : 1);
	err = !xa->name || !xa->buf ? -ENOMEM
	      : xattr_charge(x->c, xa, xa->size);
	if (err == 0) {
		pthread_rwlock_wrlock(&x->f->rw);
		pthread_mutex_lock(&x->c->lock);
		if (x->f->pub.opened || x->f->xa) {
			err = -EINVAL;
		} else {
			atomic_fetch_add(&x->c->nxattr, 1);
			x->f->xa = xa;
		}
		pthread_mutex_unlock(&x->c->lock);
		pthread_rwlock_unlock(&x->f->rw);
	}
	if (err < 0) {
		srv_xattr_free(x->c, xa);
		return err;
	}
	x->rep.type = P9_RXATTRCREATE;
	return 0;
}

/* Tread of an xattr-read fid: from the copy. */
static int do_xattr_read(struct run *x)
{
	const struct p9_tread *t = &x->r->t.tread;
	uint32_t count = t->count, n = 0;
	struct xattr *xa;
	int err;

	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	xa = fid_xattr(x->c, x->f);
	if (!xa || xa->kind != XA_READ)
		return -EBADF;
	if (count > x->c->msize - P9_RREAD_HDRSZ)
		count = x->c->msize - P9_RREAD_HDRSZ;
	if (t->offset < xa->size)
		n = xa->size - t->offset < count
		    ? (uint32_t)(xa->size - t->offset) : count;
	/* copied: the fid (and the value) may go before the reply is packed */
	x->rbuf = sys_malloc(n ? n : 1);
	if (!x->rbuf)
		return -ENOMEM;
	if (n)
		memcpy(x->rbuf, xa->buf + t->offset, n);
	x->rep.type = P9_RREAD;
	x->rep.rread.count = n;
	x->rep.rread.data = x->rbuf;
	return 0;
}

/* Twrite of an xattr-write fid: into its buffer, without holes. */
static int do_xattr_write(struct run *x)
{
	const struct p9_twrite *t = &x->r->t.twrite;
	struct xattr *xa;
	int err;

	if ((err = run_fids(x, t->fid, P9_NOFID)) < 0)
		return err;
	xa = fid_xattr(x->c, x->f);
	if (!xa || xa->kind != XA_WRITE)
		return -EBADF;
	pthread_rwlock_wrlock(&x->f->rw);
	if (t->offset > xa->filled)
		err = -EINVAL;
	else if (t->count > xa->size - t->offset)
		err = -ENOSPC;
	else if (t->count) {
		memcpy(xa->buf + t->offset, t->data, t->count);
		if (t->offset + t->count > xa->filled)
			xa->filled = (size_t)t->offset + t->count;
	}
	pthread_rwlock_unlock(&x->f->rw);
	if (err < 0)
		return err;
	x->rep.type = P9_RWRITE;
	x->rep.rwrite.count = t->count;
	return 0;
}

/* Tclunk of an xattr fid: commits a write fid.  Tremove: dropped, EBADF. */
static int do_xattr_clunk(struct run *x, bool remove)
{
	uint32_t n = remove ? x->r->t.tremove.fid : x->r->t.tclunk.fid;
	struct xattr *xa;
	int err;

	if ((err = run_fids(x, n, P9_NOFID)) < 0) {
		if (x->f)
			srv_fid_unhash(x->c, x->f);
		return err;
	}
	srv_fid_unhash(x->c, x->f);
	if (remove)
		return -EBADF;
	xa = fid_xattr(x->c, x->f);
	if (xa && xa->kind == XA_WRITE) {
		pthread_rwlock_wrlock(&x->f->rw);
		if (xa->filled != xa->size)
			err = -EINVAL;  /* as QEMU: not all of it came */
		else
			err = x->ops->xattrcreate(x->r, &x->f->pub, xa->name,
						  xa->buf, xa->size,
						  xa->flags);
		pthread_rwlock_unlock(&x->f->rw);
		if (err < 0)
			return err;
	}
	x->rep.type = P9_RCLUNK;
	return 0;
}

int srv_dispatch(struct run *x)
{
	const struct p9_msg *t = &x->r->t;

	if (names_xattr_fid(x->c, t))
		return -EBADF;
	if (changes_export(x->c, t) && peer_gone(x->c))
		return -ECONNRESET;     /* nobody to tell: not run */
	switch (t->type) {
	case P9_TATTACH:  return do_attach(x);
	case P9_TWALK:    return do_walk(x);
	case P9_TLOPEN:   return do_open(x, false);
	case P9_TLCREATE: return do_open(x, true);
	case P9_TREAD:    return srv_is_xattr_fid(x->c, t->tread.fid)
				 ? do_xattr_read(x) : do_read(x);
	case P9_TWRITE:   return srv_is_xattr_fid(x->c, t->twrite.fid)
				 ? do_xattr_write(x) : do_write(x);
	case P9_TREADDIR: return do_readdir(x);
	case P9_TREADLINK: return do_readlink(x);
	case P9_TCLUNK:   return srv_is_xattr_fid(x->c, t->tclunk.fid)
				 ? do_xattr_clunk(x, false)
				 : do_clunk(x, false);
	case P9_TREMOVE:  return srv_is_xattr_fid(x->c, t->tremove.fid)
				 ? do_xattr_clunk(x, true)
				 : do_clunk(x, true);
	case P9_TXATTRWALK:   return do_xattrwalk(x);
	case P9_TXATTRCREATE: return do_xattrcreate(x);
	case P9_TAUTH:          /* no authentication: attach with NOFID */
		return -ENOSYS;
	default:
		return do_simple(x);
	}
}

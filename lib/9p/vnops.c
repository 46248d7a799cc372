/*
 * vnops.c - the 9P client driver's vnode operations: attributes, names
 * (lookup, create, link, unlink, rename), open files and their I/O,
 * directories.  Each is a few requests on the session (conn.h); the
 * name operations are retried once when a rename above made a
 * path-named fid stale (diod).
 *
 * Owns nothing beyond one call, but struct handle (p9_open to
 * p9_release).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "driver.h"
#include "sys.h"

static void fill_stat(const struct node *n, const struct p9_rgetattr *g,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = g->mode;
	st->st_nlink = g->nlink;
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_rdev = g->rdev;
	st->st_size = (off_t)g->size;
	st->st_blksize = (blksize_t)g->blksize;
	st->st_blocks = (blkcnt_t)g->blocks;
	st->st_atim.tv_sec = (time_t)g->atime_sec;
	st->st_atim.tv_nsec = (long)g->atime_nsec;
	st->st_mtim.tv_sec = (time_t)g->mtime_sec;
	st->st_mtim.tv_nsec = (long)g->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)g->ctime_sec;
	st->st_ctim.tv_nsec = (long)g->ctime_nsec;
}

static int getattr_once(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct fid *f;
	struct p9_rgetattr ga = { 0 };
	int r = node_attr_fid(s, n, &f);

	if (r)
		return r;
	r = getattr_fid(s, f->num, &ga);
	fid_put(s, f);
	if (r)
		return r;
	fill_stat(n, &ga, st);
	atomic_store(&n->type, ga.mode & S_IFMT);
	return 0;
}

static int setattr_fid(struct p9sb *s, uint32_t fid,
		       const struct uvfs_setattr *sa)
{
	struct p9_msg m = { .type = P9_TSETATTR };
	struct p9_tsetattr *t = &m.tsetattr;
	struct reply rp;
	int r;

	t->fid = fid;
	if (sa->valid & UVFS_SET_MODE) {
		t->valid |= P9_SETATTR_MODE;
		t->mode = sa->mode & 07777;
	}
	if (sa->valid & UVFS_SET_UID) {
		t->valid |= P9_SETATTR_UID;
		t->uid = sa->uid;
	}
	if (sa->valid & UVFS_SET_GID) {
		t->valid |= P9_SETATTR_GID;
		t->gid = sa->gid;
	}
	if (sa->valid & UVFS_SET_SIZE) {
		if (sa->size < 0)
			return -EINVAL;
		t->valid |= P9_SETATTR_SIZE;
		t->size = (uint64_t)sa->size;
	}
	if ((sa->valid & UVFS_SET_ATIME) && sa->atime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_ATIME;
		if (sa->atime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_ATIME_SET;
			t->atime_sec = (uint64_t)sa->atime.tv_sec;
			t->atime_nsec = (uint64_t)sa->atime.tv_nsec;
		}
	}
	if ((sa->valid & UVFS_SET_MTIME) && sa->mtime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_MTIME;
		if (sa->mtime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_MTIME_SET;
			t->mtime_sec = (uint64_t)sa->mtime.tv_sec;
			t->mtime_nsec = (uint64_t)sa->mtime.tv_nsec;
		}
	}
	if (t->valid == 0)
		return 0;
	r = rpc(&s->c, &m, P9_RSETATTR, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	return r;
}

static int setattr_once(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	struct p9sb *s = S(sb);
	struct fid *f;
	int r = node_fid(s, priv, &f);

	if (r)
		return r;
	r = setattr_fid(s, f->num, sa);
	fid_put(s, f);
	return r;
}

int p9_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		     struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	struct p9sb *s = S(sb);
	struct node *d = dir;
	struct p9_qid qid;
	uint32_t nf;
	int r;

	if (d == s->root && strcmp(name, "..") == 0) {
		*ino = d->ino;
		id->type = S_IFDIR;
		return 0;
	}
	bool retried = false;
again:;
	uint64_t gen = sb_gen(s);
	struct fid *f;
	r = node_fid(s, d, &f);
	if (r)
		return r;
	r = walk(s, f->num, name, &nf, &qid);
	fid_put(s, f);
	if (r && !retried && stale_retry(s, d, r)) {
		retried = true;
		goto again;
	}
	if (r)
		return r;
	/* a fid walked through ".." names a path that a rename of the
	 * child can invalidate (diod): keep the node's own */
	if (strcmp(name, "..") == 0)
		r = node_install(s, qid.path, nf, false, 0, NULL, 0);
	else
		r = node_install(s, qid.path, nf, true, d->ino, name, gen);
	if (r)
		return r;
	*ino = qid.path;
	/* the qid tells directories and symlinks from the rest */
	id->type = qid.type & P9_QTDIR ? S_IFDIR :
		   qid.type & P9_QTSYMLINK ? S_IFLNK : S_IFREG;
	return 0;
}

/* Walks dir/name into the table after a create or a rename. */
static int install_name(struct p9sb *s, struct node *dir, uint32_t dirfid,
			const char *name, uint64_t *ino, uint32_t *fidout)
{
	struct p9_qid qid;
	uint32_t nf;
	uint64_t gen = sb_gen(s);
	int r = walk(s, dirfid, name, &nf, &qid);

	if (r)
		return r;
	*fidout = nf;
	r = node_install(s, qid.path, nf, true, dir->ino, name, gen);
	if (r)
		return r;
	*ino = qid.path;
	return 0;
}

static int create_once(struct uvfs_sb *sb, void *dir, const char *name,
		       mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, uint64_t *ino)
{
	struct p9sb *s = S(sb);
	struct fid *df;
	struct p9_msg m = { 0 };
	struct reply rp;
	uint32_t gid = cred ? cred->gid : 0, newfid, cf;
	uint8_t rtype;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	if (strlen(name) > 65535 || (target && strlen(target) > 65535)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	switch (mode & S_IFMT) {
	case S_IFREG:
		/* Tlcreate turns the fid into the open new file: clone the
		 * directory's first, then walk to the file for a plain fid */
		r = walk(s, df->num, NULL, &cf, NULL);
		if (r)
			goto out;
		m.type = P9_TLCREATE;
		m.tlcreate.fid = cf;
		m.tlcreate.name = p9_str(name);
		m.tlcreate.flags = 0100 | 0200; /* O_RDONLY|O_CREAT|O_EXCL */
		m.tlcreate.mode = mode & 07777;
		m.tlcreate.gid = gid;
		r = rpc(&s->c, &m, P9_RLCREATE, &rp, CL_CLUNK, cf);
		if (r)
			goto out;
		reply_free(&rp);
		clunk_async(&s->c, cf);
		goto created;
	case S_IFDIR:
		m.type = P9_TMKDIR;
		m.tmkdir.dfid = df->num;
		m.tmkdir.name = p9_str(name);
		m.tmkdir.mode = mode & 07777;
		m.tmkdir.gid = gid;
		rtype = P9_RMKDIR;
		break;
	case S_IFLNK:
		if (!target) {
			r = -EINVAL;
			goto out;
		}
		m.type = P9_TSYMLINK;
		m.tsymlink.fid = df->num;
		m.tsymlink.name = p9_str(name);
		m.tsymlink.symtgt = p9_str(target);
		m.tsymlink.gid = gid;
		rtype = P9_RSYMLINK;
		break;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		m.type = P9_TMKNOD;
		m.tmknod.dfid = df->num;
		m.tmknod.name = p9_str(name);
		m.tmknod.mode = mode & (S_IFMT | 07777);
		m.tmknod.major = major(rdev);
		m.tmknod.minor = minor(rdev);
		m.tmknod.gid = gid;
		rtype = P9_RMKNOD;
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	r = rpc(&s->c, &m, rtype, &rp, CL_NONE, 0);
	if (r)
		goto out;
	reply_free(&rp);
created:
	r = install_name(s, dir, df->num, name, ino, &newfid);
	if (r == 0 && cred && s->uid == 0 && cred->uid != 0) {
		/* attached as root: give the file to the caller */
		struct uvfs_setattr sa = { .valid = UVFS_SET_UID |
					   UVFS_SET_GID, .uid = cred->uid,
					   .gid = cred->gid };
		struct p9_rgetattr ga = { 0 };
		struct fid *nf;
		struct node *n;

		pthread_mutex_lock(&s->lock);
		n = node_find_locked(s, *ino);
		nf = n ? n->fid : NULL;
		if (nf)
			atomic_fetch_add(&nf->refs, 1);
		pthread_mutex_unlock(&s->lock);
		if (nf) {
			/* keep the group the server chose (setgid dirs) */
			if (getattr_fid(s, nf->num, &ga) == 0)
				sa.gid = ga.gid;
			setattr_fid(s, nf->num, &sa);
			if (S_ISREG(mode) && (mode & 06000)) {
				sa.valid = UVFS_SET_MODE;
				sa.mode = mode & 07777;
				setattr_fid(s, nf->num, &sa);
			}
			fid_put(s, nf);
		}
	}
out:
	fid_put(s, df);
	return r;
}

static int link_once(struct uvfs_sb *sb, void *dir, const char *name,
		     void *priv)
{
	struct p9sb *s = S(sb);
	struct fid *df, *f;
	struct p9_msg m = { .type = P9_TLINK };
	struct reply rp;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	r = node_fid(s, priv, &f);
	if (r) {
		fid_put(s, df);
		return r;
	}

	m.tlink.dfid = df->num;
	m.tlink.fid = f->num;
	m.tlink.name = p9_str(name);
	r = rpc(&s->c, &m, P9_RLINK, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	fid_put(s, f);
	fid_put(s, df);
	return r;
}

/* Tremove of dir/name, for servers without Tunlinkat (diod 1.0): checks
 * the type first, as unlinkat(2) would. */
static int remove_name(struct p9sb *s, uint32_t dirfid, const char *name,
		       int isdir)
{
	struct p9_msg m = { .type = P9_TREMOVE };
	struct p9_rgetattr ga = { 0 };
	struct reply rp;
	uint32_t f;
	int r;

	r = walk(s, dirfid, name, &f, NULL);
	if (r)
		return r;
	r = getattr_fid(s, f, &ga);
	if (r == 0 && isdir && !S_ISDIR(ga.mode))
		r = -ENOTDIR;
	else if (r == 0 && !isdir && S_ISDIR(ga.mode))
		r = -EISDIR;
	if (r) {
		clunk_async(&s->c, f);
		return r;
	}
	/* Tremove clunks the fid whatever the outcome */
	m.tremove.fid = f;
	r = rpc(&s->c, &m, P9_RREMOVE, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (r != -ETIMEDOUT && r != -EIO)
		fid_free(&s->c, f);
	return r;
}

static int unlink_once(struct uvfs_sb *sb, void *dir, const char *name,
		       int isdir)
{
	struct p9sb *s = S(sb);
	struct fid *df;
	struct p9_msg m = { .type = P9_TUNLINKAT };
	struct reply rp;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	r = -EOPNOTSUPP;

	if (!atomic_load(&s->no_unlinkat)) {
		m.tunlinkat.dirfid = df->num;
		m.tunlinkat.name = p9_str(name);
		m.tunlinkat.flags = isdir ? 0x200 /* AT_REMOVEDIR */ : 0;
		r = rpc(&s->c, &m, P9_RUNLINKAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_unlinkat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS)
		r = remove_name(s, df->num, name, isdir);
	fid_put(s, df);
	return r;
}

static int rename_once(struct uvfs_sb *sb, void *odir, const char *oname,
		       void *ndir, const char *nname, unsigned flags)
{
	struct p9sb *s = S(sb);
	struct fid *of, *nf;
	struct p9_msg m = { .type = P9_TRENAMEAT };
	struct reply rp;
	int r;

	if (flags & ~1u)        /* RENAME_EXCHANGE: not in 9P2000.L */
		return -EINVAL;
	r = node_fid(s, odir, &of);
	if (r)
		return r;
	r = node_fid(s, ndir, &nf);
	if (r) {
		fid_put(s, of);
		return r;
	}
	if (flags & 1u) {       /* RENAME_NOREPLACE: checked, not atomic */
		uint32_t tf;
		r = walk(s, nf->num, nname, &tf, NULL);
		if (r == 0) {
			clunk_async(&s->c, tf);
			r = -EEXIST;
		} else if (r == -ENOENT) {
			r = 0;
		}
		if (r)
			goto out;
	}
	r = -EOPNOTSUPP;
	if (!atomic_load(&s->no_renameat)) {
		m.trenameat.olddirfid = of->num;
		m.trenameat.oldname = p9_str(oname);
		m.trenameat.newdirfid = nf->num;
		m.trenameat.newname = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAMEAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_renameat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS) {
		/* Trename: walk to the file, move it */
		uint32_t f;
		r = walk(s, of->num, oname, &f, NULL);
		if (r)
			goto out;
		m = (struct p9_msg){ .type = P9_TRENAME };
		m.trename.fid = f;
		m.trename.dfid = nf->num;
		m.trename.name = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAME, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		clunk_async(&s->c, f);
	}
out:
	fid_put(s, nf);
	fid_put(s, of);
	return r;
}

static ssize_t readlink_once(struct uvfs_sb *sb, void *priv, char *buf,
			     size_t size)
{
	struct p9sb *s = S(sb);
	struct fid *f;
	struct p9_msg m = { .type = P9_TREADLINK };
	struct reply rp;
	int r = node_fid(s, priv, &f);

	if (r)
		return r;

	m.treadlink.fid = f->num;
	r = rpc(&s->c, &m, P9_RREADLINK, &rp, CL_NONE, 0);
	fid_put(s, f);
	if (r)
		return r;
	size_t n = rp.m.rreadlink.target.len;
	if (n > size)
		n = size;
	memcpy(buf, rp.m.rreadlink.target.s, n);
	reply_free(&rp);
	return (ssize_t)n;
}

int p9_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	unsigned type = atomic_load(&n->type);
	struct handle *h;
	int r;

	/* Only regular files and directories have I/O through the driver:
	 * opening a FIFO or a device on the server could block it. */
	if (type != S_IFREG && type != S_IFDIR) {
		*fh = NULL;
		return 0;
	}
	if (type == S_IFDIR)
		flags = O_RDONLY;
	else
		flags &= O_ACCMODE | O_APPEND | O_DSYNC | O_SYNC | O_DIRECT |
			 O_NOATIME;
	uint32_t of;
	h = sys_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	r = open_fid(s, n, flags, &of, &h->iounit);
	if (r) {
		free(h);
		return r;
	}
	h->fid = fid_new(of);
	if (!h->fid) {
		clunk_async(&s->c, of);
		free(h);
		return -ENOMEM;
	}
	h->node = n;
	h->append = (flags & O_APPEND) != 0;
	pthread_mutex_lock(&s->lock);
	n->nopen++;
	h->next = s->handles.next;
	h->prev = &s->handles;
	h->next->prev = h;
	s->handles.next = h;
	pthread_mutex_unlock(&s->lock);
	*fh = h;
	return 0;
}

void p9_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;

	(void)priv;
	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->node->nopen--;
	pthread_mutex_unlock(&s->lock);
	fid_put(s, h->fid);
	free(h);
}

/* The open fid for an I/O: fh's, or a temporary one (fh NULL: node API). */
static int io_fid(struct p9sb *s, struct node *n, struct handle *h,
		  int flags, uint32_t *fid, uint32_t *iounit, bool *tmp)
{
	if (h) {
		*fid = h->fid->num;     /* the core holds fh across the call */
		*iounit = h->iounit;
		*tmp = false;
		return 0;
	}
	*tmp = true;
	return open_fid(s, n, flags, fid, iounit);
}

ssize_t p9_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		       size_t n, off_t off)
{
	struct p9sb *s = S(sb);
	uint32_t fid, iounit;
	size_t done = 0;
	bool tmp;
	int r;

	if (off < 0)
		return -EINVAL;
	r = io_fid(s, priv, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	uint32_t max = io_max(s, iounit);
	while (done < n) {
		struct p9_msg m = { .type = P9_TREAD };
		struct reply rp;
		uint32_t want = n - done > max ? max : (uint32_t)(n - done);

		m.tread.fid = fid;
		m.tread.offset = (uint64_t)off + done;
		m.tread.count = want;
		r = rpc(&s->c, &m, P9_RREAD, &rp, CL_NONE, 0);
		if (r)
			break;
		uint32_t got = rp.m.rread.count;
		if (got > want) {
			reply_free(&rp);
			r = -EIO;
			break;
		}
		memcpy((char *)buf + done, rp.m.rread.data, got);
		reply_free(&rp);
		done += got;
		if (got < want)
			break;
	}
	if (tmp)
		clunk_async(&s->c, fid);
	/* A read fails whole (docs/session.md): fewer bytes than asked
	 * only at the end of the file, never because a later piece failed
	 * (a front end takes a short read for the end of the file). */
	return r ? r : (ssize_t)done;
}

ssize_t p9_write(struct uvfs_sb *sb, void *priv, void *fh,
			const void *buf, size_t n, off_t *off)
{
	struct p9sb *s = S(sb);
	bool append = *off < 0;
	uint32_t fid, iounit;
	size_t done = 0;
	uint64_t pos;
	bool tmp;
	int r;

	r = io_fid(s, priv, fh, append ? O_WRONLY | O_APPEND : O_WRONLY,
		   &fid, &iounit, &tmp);
	if (r)
		return r;
	/* append: the handle was opened O_APPEND, the server appends and
	 * ignores the offset; the size afterwards says where it ended */
	pos = append ? 0 : (uint64_t)*off;
	uint32_t max = io_max(s, iounit);
	while (done < n) {
		struct p9_msg m = { .type = P9_TWRITE };
		struct reply rp;
		uint32_t want = n - done > max ? max : (uint32_t)(n - done);

		m.twrite.fid = fid;
		m.twrite.offset = pos + done;
		m.twrite.count = want;
		m.twrite.data = (const char *)buf + done;
		/* an append is not replayed: it may have happened */
		r = rpc_x(&s->c, &m, P9_RWRITE, &rp, CL_NONE, 0,
			  append || (fh && ((struct handle *)fh)->append) ?
			  RPC_NOREPLAY : 0);
		if (r)
			break;
		uint32_t got = rp.m.rwrite.count;
		reply_free(&rp);
		if (got > want) {
			r = -EIO;
			break;
		}
		done += got;
		if (got < want)
			break;
	}
	if (done > 0 || r == 0) {
		if (append) {
			struct p9_rgetattr ga = { 0 };
			int e = getattr_fid(s, fid, &ga);
			if (e == 0)
				*off = (off_t)ga.size;
			else if (done == 0)
				r = e;
			else
				*off = 0;       /* unknown: best effort */
		} else {
			*off += (off_t)done;
		}
	}
	if (tmp)
		clunk_async(&s->c, fid);
	/* A write returns the bytes the server confirmed (POSIX allows a
	 * short count after some were written); the failure of the rest
	 * shows at the next write.  A piece whose outcome is unknown is not
	 * counted (docs/session.md). */
	return done > 0 ? (ssize_t)done : r;
}

int p9_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct p9_msg m = { .type = P9_TFSYNC };
	struct reply rp;
	uint32_t fid, iounit;
	bool tmp;
	int r;

	if (!fh && atomic_load(&n->type) != S_IFREG &&
	    atomic_load(&n->type) != S_IFDIR)
		return 0;
	r = io_fid(s, n, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	m.tfsync.fid = fid;
	m.tfsync.datasync = datasync ? 1 : 0;
	r = rpc(&s->c, &m, P9_RFSYNC, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (tmp)
		clunk_async(&s->c, fid);
	return r;
}

int p9_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		      uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct p9sb *s = S(sb);
	uint32_t fid, iounit;
	char name[NAME_MAX + 1];
	bool tmp, stop = false;
	int r;

	r = io_fid(s, priv, fh, O_RDONLY | O_DIRECTORY, &fid, &iounit, &tmp);
	if (r)
		return r;
	while (!stop) {
		struct p9_msg m = { .type = P9_TREADDIR };
		struct p9_dirent_iter it;
		struct p9_dirent d;
		struct reply rp;
		int k, any = 0;

		m.treaddir.fid = fid;
		m.treaddir.offset = cookie;
		m.treaddir.count = s->c.s.msize - P9_IOHDRSZ; /* diod's bound */
		r = rpc(&s->c, &m, P9_RREADDIR, &rp, CL_NONE, 0);
		if (r)
			break;
		p9_dirent_iter_init(&it, rp.m.rreaddir.data,
				    rp.m.rreaddir.count);
		while ((k = p9_dirent_next(&it, &d)) == 1) {
			any = 1;
			if (d.name.len > NAME_MAX) {
				cookie = d.offset;      /* cannot be named */
				continue;
			}
			memcpy(name, d.name.s, d.name.len);
			name[d.name.len] = '\0';
			if (fill(arg, name, d.qid.path, d.type, d.offset)) {
				stop = true;
				break;
			}
			cookie = d.offset;
		}
		reply_free(&rp);
		if (k < 0) {
			r = -EIO;
			break;
		}
		if (!any)
			break;          /* the end */
		if (!stop && cookie == m.treaddir.offset) {
			r = -EIO;       /* no progress: a broken server */
			break;
		}
	}
	if (tmp)
		clunk_async(&s->c, fid);
	return r;
}

/* ---- retried once when a rename made a path-named fid stale ---------- */

int p9_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	int r = getattr_once(sb, priv, st);

	if (r && stale_retry(S(sb), priv, r))
		r = getattr_once(sb, priv, st);
	return r;
}

int p9_setattr(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	int r = setattr_once(sb, priv, sa);

	if (r && stale_retry(S(sb), priv, r))
		r = setattr_once(sb, priv, sa);
	return r;
}

ssize_t p9_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			   size_t size)
{
	ssize_t r = readlink_once(sb, priv, buf, size);

	if (r < 0 && stale_retry(S(sb), priv, (int)r))
		r = readlink_once(sb, priv, buf, size);
	return r;
}

int p9_create(struct uvfs_sb *sb, void *dir, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	int r = create_once(sb, dir, name, mode, rdev, target, cred, ino);

	if (r && stale_retry(S(sb), dir, r))
		r = create_once(sb, dir, name, mode, rdev, target, cred, ino);
	if (r == 0)
		id->type = mode & S_IFMT;
	return r;
}

int p9_link(struct uvfs_sb *sb, void *dir, const char *name,
		   void *priv)
{
	int r = link_once(sb, dir, name, priv);

	if (r) {
		bool a = stale_retry(S(sb), dir, r);
		bool b = stale_retry(S(sb), priv, r);
		if (a || b)
			r = link_once(sb, dir, name, priv);
	}
	return r;
}

int p9_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		     int isdir)
{
	int r = unlink_once(sb, dir, name, isdir);

	if (r && stale_retry(S(sb), dir, r))
		r = unlink_once(sb, dir, name, isdir);
	return r;
}

int p9_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		     void *ndir, const char *nname, unsigned flags)
{
	struct p9sb *s = S(sb);
	int r = rename_once(sb, odir, oname, ndir, nname, flags);

	if (r) {
		bool a = stale_retry(s, odir, r);
		bool b = stale_retry(s, ndir, r);
		if (a || b)
			r = rename_once(sb, odir, oname, ndir, nname, flags);
	}
	if (r == 0) {
		/* fids walked below the old name may be stale now (diod);
		 * the moved file gets a fid by its new name */
		struct fid *nf;
		uint64_t ino;
		uint32_t fid;

		pthread_mutex_lock(&s->lock);
		s->gen++;
		pthread_mutex_unlock(&s->lock);
		if (node_fid(s, ndir, &nf) != 0)
			return r;       /* the rename is done; no fresh fid */
		install_name(s, ndir, nf->num, nname, &ino, &fid);
		fid_put(s, nf);
	}
	return r;
}


/*
 * nfs3.c - NFSv3 and MOUNT v3 procedures on an RPC connection (nfs3.h):
 * each fills a struct call (nfs3_i.h) with its arguments, makes it with
 * the machinery of nfs3_call.c (decoding) and nfs3_send.c (sending, and
 * asking a JUKEBOX again) and returns the results the driver wants.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "nfs3_i.h"
#include "sys.h"

int n3_mnt(const char *host, const char *export, int timeout_ms,
	   struct fh3 *root)
{
	struct call c = { .proc = P_MNT, .a.mnt = (char *)export };
	int port, r;

	r = nrpc_getport(host, MOUNT_PROGRAM, MOUNT_V3, timeout_ms, &port);
	if (r)
		return r;
	n3c_prep(&c);
	r = nrpc_oneshot(host, port, &c.rpc, timeout_ms);
	if (r == 0)
		r = n3c_decode(&c);
	nrpc_done(&c.rpc);
	if (r == 0)
		*root = c.fh;
	return r;
}

int n3_getattr(struct n3 *n, const struct fh3 *fh, struct stat *st)
{
	return n3_getattr_answered(n, fh, st, NULL);
}

int n3_getattr_answered(struct n3 *n, const struct fh3 *fh, struct stat *st,
			bool *answered)
{
	struct call c = { .proc = P_GETATTR };
	int r;

	n3c_set_fh(&c.a.getattr.object, fh);
	r = n3c_call(n, &c);
	if (r == 0)
		*st = c.attr.st;
	if (answered)
		*answered = c.answered;
	return r;
}

static void sattr_time(set_atime *t, const struct timespec *ts)
{
	if (ts->tv_nsec == UTIME_OMIT) {
		t->set_it = DONT_CHANGE;
	} else if (ts->tv_nsec == UTIME_NOW) {
		t->set_it = SET_TO_SERVER_TIME;
	} else {
		t->set_it = SET_TO_CLIENT_TIME;
		t->set_atime_u.atime.seconds = (u_int)ts->tv_sec;
		t->set_atime_u.atime.nseconds = (u_int)ts->tv_nsec;
	}
}

int n3_setattr(struct n3 *n, const struct fh3 *fh,
	       const struct uvfs_setattr *sa, struct n3attr *after)
{
	struct call c = { .proc = P_SETATTR };
	sattr3 *s = &c.a.setattr.new_attributes;
	int r;

	n3c_set_fh(&c.a.setattr.object, fh);
	if (sa->valid & UVFS_SET_MODE) {
		s->mode.set_it = 1;
		s->mode.set_mode3_u.mode = sa->mode & 07777;
	}
	if (sa->valid & UVFS_SET_UID) {
		s->uid.set_it = 1;
		s->uid.set_uid3_u.uid = sa->uid;
	}
	if (sa->valid & UVFS_SET_GID) {
		s->gid.set_it = 1;
		s->gid.set_gid3_u.gid = sa->gid;
	}
	if (sa->valid & UVFS_SET_SIZE) {
		if (sa->size < 0)
			return -EINVAL;
		s->size.set_it = 1;
		s->size.set_size3_u.size = (uint64_t)sa->size;
	}
	if (sa->valid & UVFS_SET_ATIME)
		sattr_time(&s->atime, &sa->atime);
	if (sa->valid & UVFS_SET_MTIME)
		sattr_time((set_atime *)&s->mtime, &sa->mtime);
	r = n3c_call(n, &c);
	if (r == 0 && after)
		*after = c.attr;
	return r;
}

int n3_lookup(struct n3 *n, const struct fh3 *dir, const char *name,
	      struct fh3 *out, struct n3attr *attr)
{
	struct call c = { .proc = P_LOOKUP };
	int r;

	n3c_set_fh(&c.a.lookup.what.dir, dir);
	c.a.lookup.what.name = (char *)name;
	r = n3c_call(n, &c);
	if (r == 0) {
		*out = c.fh;
		if (attr)
			*attr = c.attr;
	}
	return r;
}

int n3_create(struct n3 *n, const struct fh3 *dir, const char *name,
	      mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
	      const char *target, struct fh3 *out, struct n3attr *attr,
	      struct n3attr *dattr)
{
	struct call c = { 0 };
	sattr3 sa = { 0 };
	diropargs3 *where;
	int r;

	sa.mode.set_it = 1;
	sa.mode.set_mode3_u.mode = mode & 07777;
	/* (uid_t)-1: the server takes the owner from the credential */
	sa.uid.set_it = uid != (uid_t)-1;
	sa.uid.set_uid3_u.uid = uid;
	sa.gid.set_it = gid != (gid_t)-1;
	sa.gid.set_gid3_u.gid = gid;
	switch (mode & S_IFMT) {
	case S_IFREG:
		c.proc = P_CREATE;
		where = &c.a.create.where;
		c.a.create.how.mode = GUARDED;
		c.a.create.how.createhow3_u.obj_attributes = sa;
		break;
	case S_IFDIR:
		c.proc = P_MKDIR;
		where = &c.a.mkdir.where;
		c.a.mkdir.attributes = sa;
		break;
	case S_IFLNK:
		c.proc = P_SYMLINK;
		where = &c.a.symlink.where;
		/* a symlink's mode means nothing (Linux sends none) */
		sa.mode.set_it = 0;
		c.a.symlink.symlink.symlink_attributes = sa;
		c.a.symlink.symlink.symlink_data = (char *)target;
		break;
	case S_IFCHR:
	case S_IFBLK: {
		devicedata3 *d;
		c.proc = P_MKNOD;
		where = &c.a.mknod.where;
		if (S_ISCHR(mode)) {
			c.a.mknod.what.type = NF3CHR;
			d = &c.a.mknod.what.mknoddata3_u.chr_device;
		} else {
			c.a.mknod.what.type = NF3BLK;
			d = &c.a.mknod.what.mknoddata3_u.blk_device;
		}
		d->dev_attributes = sa;
		d->spec.specdata1 = major(rdev);
		d->spec.specdata2 = minor(rdev);
		break;
	}
	case S_IFIFO:
		c.proc = P_MKNOD;
		where = &c.a.mknod.where;
		c.a.mknod.what.type = NF3FIFO;
		c.a.mknod.what.mknoddata3_u.pipe_attributes = sa;
		break;
	case S_IFSOCK:
		c.proc = P_MKNOD;
		where = &c.a.mknod.where;
		c.a.mknod.what.type = NF3SOCK;
		c.a.mknod.what.mknoddata3_u.sock_attributes = sa;
		break;
	default:
		return -EINVAL;
	}
	n3c_set_fh(&where->dir, dir);
	where->name = (char *)name;
	r = n3c_call(n, &c);
	if (r)
		return r;
	if (dattr)
		*dattr = c.dattr;
	if (!c.has_fh) {
		/* the server did not say: ask (RFC 1813 allows it) */
		return n3_lookup(n, dir, name, out, attr);
	}
	*out = c.fh;
	if (attr)
		*attr = c.attr;
	return 0;
}

int n3_link(struct n3 *n, const struct fh3 *fh, const struct fh3 *dir,
	    const char *name, struct n3attr *attr)
{
	struct call c = { .proc = P_LINK };
	int r;

	n3c_set_fh(&c.a.link.file, fh);
	n3c_set_fh(&c.a.link.link.dir, dir);
	c.a.link.link.name = (char *)name;
	r = n3c_call(n, &c);
	if (r == 0 && attr)
		*attr = c.attr;
	return r;
}

int n3_remove(struct n3 *n, const struct fh3 *dir, const char *name,
	      bool isdir, struct n3attr *dattr)
{
	struct call c = { .proc = isdir ? P_RMDIR : P_REMOVE };
	int r;

	if (isdir) {
		n3c_set_fh(&c.a.rmdir.object.dir, dir);
		c.a.rmdir.object.name = (char *)name;
	} else {
		n3c_set_fh(&c.a.remove.object.dir, dir);
		c.a.remove.object.name = (char *)name;
	}
	r = n3c_call(n, &c);
	if (r == 0 && dattr)
		*dattr = c.dattr;
	return r;
}

int n3_rename(struct n3 *n, const struct fh3 *odir, const char *oname,
	      const struct fh3 *ndir, const char *nname, struct n3attr *oattr,
	      struct n3attr *nattr)
{
	struct call c = { .proc = P_RENAME };
	int r;

	n3c_set_fh(&c.a.rename.from.dir, odir);
	c.a.rename.from.name = (char *)oname;
	n3c_set_fh(&c.a.rename.to.dir, ndir);
	c.a.rename.to.name = (char *)nname;
	r = n3c_call(n, &c);
	if (r == 0 && oattr)
		*oattr = c.attr;
	if (r == 0 && nattr)
		*nattr = c.dattr;
	return r;
}

ssize_t n3_readlink(struct n3 *n, const struct fh3 *fh, char *buf,
		    size_t size)
{
	struct call c = { .proc = P_READLINK, .buf = buf, .bufsz = size };
	int r;

	n3c_set_fh(&c.a.readlink.symlink, fh);
	r = n3c_call(n, &c);
	return r ? r : (ssize_t)c.count;
}

ssize_t n3_read(struct n3 *n, const struct fh3 *fh, void *buf,
		uint32_t cnt, uint64_t off, bool *eof, struct n3attr *attr)
{
	struct call c = { .proc = P_READ, .buf = buf, .bufsz = cnt };
	int r;

	n3c_set_fh(&c.a.read.file, fh);
	c.a.read.offset = off;
	c.a.read.count = cnt;
	r = n3c_call(n, &c);
	if (r)
		return r;
	*eof = c.eof;
	if (attr)
		*attr = c.attr;
	return c.count;
}

ssize_t n3_write(struct n3 *n, const struct fh3 *fh, const void *buf,
		 uint32_t cnt, uint64_t off, bool stable, uint64_t *verf,
		 struct n3attr *after)
{
	struct call c = { .proc = P_WRITE };
	int r;

	n3c_set_fh(&c.a.write.file, fh);
	c.a.write.offset = off;
	c.a.write.count = cnt;
	c.a.write.stable = stable ? FILE_SYNC : UNSTABLE;
	c.a.write.data.data_len = cnt;
	c.a.write.data.data_val = (char *)buf;
	r = n3c_call(n, &c);
	if (r)
		return r;
	if (c.count > cnt)
		return -EIO;
	if (verf)
		*verf = c.verf;
	if (after)
		*after = c.attr;
	return c.count;
}

/* The calls sent now and waited for later (nfs3.h): each a pending call
 * of nfs3_send.c's, typed by what it is. */
struct n3wpend {
	struct pend w;
};

struct n3rpend {
	struct pend w;
};

struct n3cpend {
	struct pend w;
};

struct n3mpend {
	struct pend w;
};

/* Sends the call filled in w, the pending call of the new p: 0, or why it
 * did not go (p freed). */
static int start_or_free(struct n3 *n, struct pend *w, void *p)
{
	int r = n3c_start(n, w);

	if (r)
		free(p);
	return r;
}

int n3_write_start(struct n3 *n, const struct fh3 *fh, const void *buf,
		   uint32_t cnt, uint64_t off, struct n3wpend **out)
{
	struct n3wpend *p = sys_calloc(1, sizeof(*p));
	struct call *c;
	int r;

	if (!p)
		return -ENOMEM;
	c = &p->w.c;
	c->proc = P_WRITE;
	c->bufsz = cnt;
	n3c_set_fh(&c->a.write.file, fh);
	c->a.write.offset = off;
	c->a.write.count = cnt;
	c->a.write.stable = UNSTABLE;
	c->a.write.data.data_len = cnt;
	c->a.write.data.data_val = (char *)buf;
	r = start_or_free(n, &p->w, p);
	if (r == 0)
		*out = p;
	return r;
}

ssize_t n3_write_end(struct n3wpend *p, const struct timespec *dl,
		     uint64_t *verf, struct n3attr *after)
{
	struct call *c = &p->w.c;
	ssize_t r;

	/* its reply by its own deadline (unanswered then: fenced); a
	 * JUKEBOX asked again by the waiter's too */
	r = n3c_wait(&p->w, NULL, dl ? dl : &p->w.dl);
	if (r == 0 && c->count > c->bufsz)
		r = -EIO;
	if (r == 0) {
		r = c->count;
		*verf = c->verf;
		*after = c->attr;
	}
	free(p);
	return r;
}

void n3_write_drop(struct n3wpend *p)
{
	n3c_abandon(&p->w);
	free(p);
}

int n3_read_start(struct n3 *n, const struct fh3 *fh, uint32_t cnt,
		  uint64_t off, struct n3rpend **out)
{
	struct n3rpend *p = sys_calloc(1, sizeof(*p));
	struct call *c;
	int r;

	if (!p)
		return -ENOMEM;
	c = &p->w.c;
	c->proc = P_READ;
	c->bufsz = cnt;
	n3c_set_fh(&c->a.read.file, fh);
	c->a.read.offset = off;
	c->a.read.count = cnt;
	r = start_or_free(n, &p->w, p);
	if (r == 0)
		*out = p;
	return r;
}

ssize_t n3_read_end(struct n3 *n, struct n3rpend *p, void *buf, bool *eof,
		    struct n3attr *attr)
{
	struct call *c = &p->w.c;
	ssize_t r;

	c->buf = buf;           /* decoded here, in the waiter's thread */
	/* a JUKEBOX is not asked again: -EAGAIN, the window dropped */
	r = n3c_wait(&p->w, &n->dl, NULL);
	if (r == 0) {
		r = c->count;
		*eof = c->eof;
		*attr = c->attr;
	}
	free(p);
	return r;
}

void n3_read_drop(struct n3rpend *p)
{
	n3c_abandon(&p->w);
	free(p);
}

ssize_t n3_read_many(struct n3 *n, const struct fh3 *fh, void *buf,
		     size_t cnt, uint64_t off, uint32_t piece, unsigned window,
		     struct n3attr *attr)
{
	struct call *cs;
	int res[N3_MANY_MAX];
	size_t done = 0;

	if (window == 0 || window > N3_MANY_MAX || piece == 0)
		return -EINVAL;
	cs = sys_calloc(window, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	while (done < cnt) {
		unsigned k = 0;
		size_t at = done;
		for (; k < window && at < cnt; k++) {
			uint32_t want = cnt - at > piece ? piece
							 : (uint32_t)(cnt - at);
			memset(&cs[k], 0, sizeof(cs[k]));
			cs[k].proc = P_READ;
			cs[k].buf = (char *)buf + at;
			cs[k].bufsz = want;
			n3c_set_fh(&cs[k].a.read.file, fh);
			cs[k].a.read.offset = off + at;
			cs[k].a.read.count = want;
			at += want;
		}
		int r = n3c_call_many(n, cs, res, k);
		if (r) {
			free(cs);
			return r;
		}
		/* whole or nothing: a piece that failed fails the read, even
		 * after pieces that came back */
		for (unsigned i = 0; i < k; i++)
			if (res[i]) {
				free(cs);
				return res[i];
			}
		for (unsigned i = 0; i < k; i++) {
			uint32_t got = cs[i].count;
			bool eof = cs[i].eof;
			if (attr && cs[i].attr.valid)
				*attr = cs[i].attr;
			/* short and not the end: a server may answer less
			 * than asked anywhere (RFC 1813); the rest of the
			 * piece is asked from where it stopped, by the same
			 * deadline, as Linux's nfs_readpage_retry does (the
			 * pieces after it are in place already) */
			while (!eof && got > 0 && got < cs[i].bufsz) {
				struct n3attr a = { 0 };
				ssize_t r2 = n3_read(n, fh, (char *)cs[i].buf +
						     got, cs[i].bufsz - got,
						     cs[i].a.read.offset + got,
						     &eof, &a);
				if (r2 < 0) {
					free(cs);
					return r2;
				}
				if (r2 == 0)
					eof = true;
				got += (uint32_t)r2;
				if (attr && a.valid)
					*attr = a;
			}
			done += got;
			if (eof || got < cs[i].bufsz) {
				free(cs);
				return (ssize_t)done;   /* end of file */
			}
		}
	}
	free(cs);
	return (ssize_t)done;
}

ssize_t n3_write_many(struct n3 *n, const struct fh3 *fh,
		      const void *buf, size_t cnt, uint64_t off,
		      uint32_t piece, unsigned window, uint64_t *verf,
		      bool *verf_mixed, struct n3attr *after)
{
	struct call *cs;
	int res[N3_MANY_MAX];
	size_t done = 0;
	bool have_verf = false;

	if (window == 0 || window > N3_MANY_MAX || piece == 0)
		return -EINVAL;
	cs = sys_calloc(window, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	*verf_mixed = false;
	while (done < cnt) {
		unsigned k = 0;
		size_t at = done;
		for (; k < window && at < cnt; k++) {
			uint32_t want = cnt - at > piece ? piece
							 : (uint32_t)(cnt - at);
			memset(&cs[k], 0, sizeof(cs[k]));
			cs[k].proc = P_WRITE;
			cs[k].bufsz = want;
			n3c_set_fh(&cs[k].a.write.file, fh);
			cs[k].a.write.offset = off + at;
			cs[k].a.write.count = want;
			cs[k].a.write.stable = UNSTABLE;
			cs[k].a.write.data.data_len = want;
			cs[k].a.write.data.data_val = (char *)buf + at;
			at += want;
		}
		int r = n3c_call_many(n, cs, res, k);
		if (r) {
			free(cs);
			return done ? (ssize_t)done : r;
		}
		/* the count is what was written without a gap */
		for (unsigned i = 0; i < k; i++) {
			if (res[i] || cs[i].count > cs[i].bufsz) {
				free(cs);
				if (done)
					return (ssize_t)done;
				return res[i] ? res[i] : -EIO;
			}
			if (have_verf && cs[i].verf != *verf)
				*verf_mixed = true;
			*verf = cs[i].verf;
			have_verf = true;
			if (after && cs[i].attr.valid)
				*after = cs[i].attr;
			done += cs[i].count;
			if (cs[i].count < cs[i].bufsz) {
				free(cs);
				return done ? (ssize_t)done : -EIO;
			}
		}
	}
	free(cs);
	return (ssize_t)done;
}

int n3_commit(struct n3 *n, const struct fh3 *fh, uint64_t *verf)
{
	struct call c = { .proc = P_COMMIT };
	int r;

	n3c_set_fh(&c.a.commit.file, fh);
	r = n3c_call(n, &c);
	if (r == 0 && verf)
		*verf = c.verf;
	return r;
}

int n3_commit_start(struct n3 *n, const struct fh3 *fh, struct n3cpend **out)
{
	struct n3cpend *p = sys_calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->w.c.proc = P_COMMIT;
	n3c_set_fh(&p->w.c.a.commit.file, fh);
	r = start_or_free(n, &p->w, p);
	if (r == 0)
		*out = p;
	return r;
}

int n3_commit_end(struct n3 *n, struct n3cpend *p, uint64_t *verf)
{
	/* a JUKEBOX is not asked again: -EAGAIN, a COMMIT that failed (the
	 * data stays kept for the next one, which asks again) */
	int r = n3c_wait(&p->w, &n->dl, NULL);

	if (r == 0)
		*verf = p->w.c.verf;
	free(p);
	return r;
}

bool n3_commit_ready(struct n3cpend *p)
{
	return n3c_ready(&p->w);
}

void n3_commit_drop(struct n3cpend *p)
{
	n3c_abandon(&p->w);
	free(p);
}

int n3_remove_start(struct n3 *n, const struct fh3 *dir, const char *name,
		    struct n3mpend **out)
{
	struct n3mpend *p = sys_calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	/* encoded at the start: dir and name are not read after it */
	p->w.c.proc = P_REMOVE;
	n3c_set_fh(&p->w.c.a.remove.object.dir, dir);
	p->w.c.a.remove.object.name = (char *)name;
	r = start_or_free(n, &p->w, p);
	if (r == 0)
		*out = p;
	return r;
}

int n3_remove_end(struct n3mpend *p)
{
	/* a JUKEBOX is not asked again here: -EAGAIN, and the caller asks
	 * again after its own pause (remove.c's reaper, which waits for
	 * other removals meanwhile) */
	int r = n3c_wait(&p->w, NULL, NULL);

	free(p);
	return r;
}

bool n3_remove_ready(struct n3mpend *p)
{
	return n3c_ready(&p->w);
}

void n3_remove_drop(struct n3mpend *p)
{
	n3c_abandon(&p->w);
	free(p);
}

int n3_commit_async(struct nconn *nc, const struct uvfs_cred *cred,
		    const struct fh3 *fh)
{
	struct call c = { .proc = P_COMMIT };

	n3c_set_fh(&c.a.commit.file, fh);
	return n3c_send_async(nc, cred, &c);
}

void n3_dents_free(struct n3dent *d)
{
	while (d) {
		struct n3dent *next = d->next;
		free(d);
		d = next;
	}
}

int n3_readdirplus(struct n3 *n, const struct fh3 *dir,
		   uint64_t cookie, uint64_t *verf, uint32_t maxcount,
		   struct n3dent **list, bool *eof)
{
	struct call c = { .proc = P_READDIRPLUS };
	int r;

	n3c_set_fh(&c.a.readdirplus.dir, dir);
	c.a.readdirplus.cookie = cookie;
	memcpy(c.a.readdirplus.cookieverf, verf, sizeof(*verf));
	c.a.readdirplus.dircount = maxcount / 4;
	c.a.readdirplus.maxcount = maxcount;
	r = n3c_call(n, &c);
	if (r) {
		n3_dents_free(c.dents);  /* a decode that ran out of memory */
		return r;
	}
	*verf = c.verf;
	*list = c.dents;
	*eof = c.eof;
	return 0;
}

int n3_fsstat(struct n3 *n, const struct fh3 *root, struct statvfs *st)
{
	struct call c = { .proc = P_FSSTAT, .vfs = st };

	n3c_set_fh(&c.a.fsstat.fsroot, root);
	return n3c_call(n, &c);
}

int n3_fsinfo(struct n3 *n, const struct fh3 *root, uint32_t *rtmax,
	      uint32_t *wtmax, uint32_t *dtpref)
{
	struct call c = { .proc = P_FSINFO };
	int r;

	n3c_set_fh(&c.a.fsinfo.fsroot, root);
	r = n3c_call(n, &c);
	if (r == 0) {
		*rtmax = c.rtmax;
		*wtmax = c.wtmax;
		*dtpref = c.dtpref;
	}
	return r;
}

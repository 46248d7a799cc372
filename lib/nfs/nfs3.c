/*
 * nfs3.c - NFSv3 and MOUNT v3 procedures on an RPC connection (nfs3.h).
 *
 * Each procedure is one struct call on the caller's stack: the arguments
 * in libnfs's XDR structs (pointing into the caller's buffers: they are
 * encoded before the call goes out), the decoded reply (libnfs's XDR
 * structs, whose memory nrpc_done frees), and the results the driver
 * wants.  prep() says which procedure and XDR routines; decode() copies
 * the reply out in the caller's thread.  No object outlives its call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sysmacros.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "deadline.h"
#include "nfs3.h"
#include "rpc.h"
#include "sys.h"

enum proc {
	P_MNT, P_GETATTR, P_SETATTR, P_LOOKUP, P_CREATE, P_MKDIR, P_SYMLINK,
	P_MKNOD, P_LINK, P_REMOVE, P_RMDIR, P_RENAME, P_READLINK, P_READ,
	P_WRITE, P_COMMIT, P_READDIRPLUS, P_FSSTAT, P_FSINFO,
};

struct call {
	enum proc proc;
	union {
		char *mnt;
		GETATTR3args getattr;
		SETATTR3args setattr;
		LOOKUP3args lookup;
		CREATE3args create;
		MKDIR3args mkdir;
		SYMLINK3args symlink;
		MKNOD3args mknod;
		LINK3args link;
		REMOVE3args remove;
		RMDIR3args rmdir;
		RENAME3args rename;
		READLINK3args readlink;
		READ3args read;
		WRITE3args write;
		COMMIT3args commit;
		READDIRPLUS3args readdirplus;
		FSSTAT3args fsstat;
		FSINFO3args fsinfo;
	} a;
	union {                         /* the decoded reply */
		mountres3 mnt;
		GETATTR3res getattr;
		SETATTR3res setattr;
		LOOKUP3res lookup;
		CREATE3res create;
		MKDIR3res mkdir;
		SYMLINK3res symlink;
		MKNOD3res mknod;
		LINK3res link;
		REMOVE3res remove;
		RMDIR3res rmdir;
		RENAME3res rename;
		READLINK3res readlink;
		READ3res read;
		WRITE3res write;
		COMMIT3res commit;
		READDIRPLUS3res readdirplus;
		FSSTAT3res fsstat;
		FSINFO3res fsinfo;
	} r;
	struct nrpc rpc;
	/* results */
	struct fh3 fh;
	bool has_fh;
	struct n3attr attr;
	struct n3attr dattr;            /* the directory's, after (wcc) */
	void *buf;                      /* read: into; readlink: into */
	size_t bufsz;
	uint32_t count;
	bool eof;
	uint64_t verf;
	struct n3dent *dents;
	struct statvfs *vfs;
	uint32_t rtmax, wtmax, dtpref;
};

bool fh3_eq(const struct fh3 *a, const struct fh3 *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* NFS3ERR_* to a negative errno (most are Linux's numbers already). */
static int nfs3_errno(int st)
{
	switch (st) {
	case NFS3_OK:               return 0;
	case NFS3ERR_PERM:          return -EPERM;
	case NFS3ERR_NOENT:         return -ENOENT;
	case NFS3ERR_IO:            return -EIO;
	case NFS3ERR_NXIO:          return -ENXIO;
	case NFS3ERR_ACCES:         return -EACCES;
	case NFS3ERR_EXIST:         return -EEXIST;
	case NFS3ERR_XDEV:          return -EXDEV;
	case NFS3ERR_NODEV:         return -ENODEV;
	case NFS3ERR_NOTDIR:        return -ENOTDIR;
	case NFS3ERR_ISDIR:         return -EISDIR;
	case NFS3ERR_INVAL:         return -EINVAL;
	case NFS3ERR_FBIG:          return -EFBIG;
	case NFS3ERR_NOSPC:         return -ENOSPC;
	case NFS3ERR_ROFS:          return -EROFS;
	case NFS3ERR_MLINK:         return -EMLINK;
	case NFS3ERR_NAMETOOLONG:   return -ENAMETOOLONG;
	case NFS3ERR_NOTEMPTY:      return -ENOTEMPTY;
	case NFS3ERR_DQUOT:         return -EDQUOT;
	case NFS3ERR_STALE:         return -ESTALE;
	case NFS3ERR_REMOTE:        return -EREMOTE;
	case NFS3ERR_BADHANDLE:     return -ESTALE;
	case NFS3ERR_NOT_SYNC:      return -EIO;
	case NFS3ERR_BAD_COOKIE:    return -EINVAL;
	case NFS3ERR_NOTSUPP:       return -EOPNOTSUPP;
	case NFS3ERR_TOOSMALL:      return -EINVAL;
	case NFS3ERR_SERVERFAULT:   return -EIO;
	case NFS3ERR_BADTYPE:       return -EINVAL;
	case NFS3ERR_JUKEBOX:       return -EAGAIN;
	default:                    return -EIO;
	}
}

static mode_t ftype_mode(int t)
{
	switch (t) {
	case NF3REG:  return S_IFREG;
	case NF3DIR:  return S_IFDIR;
	case NF3BLK:  return S_IFBLK;
	case NF3CHR:  return S_IFCHR;
	case NF3LNK:  return S_IFLNK;
	case NF3SOCK: return S_IFSOCK;
	case NF3FIFO: return S_IFIFO;
	}
	return 0;
}

static void fattr_stat(const fattr3 *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = f->fileid;
	st->st_mode = ftype_mode(f->type) | (f->mode & 07777);
	st->st_nlink = f->nlink;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_rdev = makedev(f->rdev.specdata1, f->rdev.specdata2);
	st->st_size = (off_t)f->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((f->used + 511) / 512);
	st->st_atim.tv_sec = f->atime.seconds;
	st->st_atim.tv_nsec = f->atime.nseconds;
	st->st_mtim.tv_sec = f->mtime.seconds;
	st->st_mtim.tv_nsec = f->mtime.nseconds;
	st->st_ctim.tv_sec = f->ctime.seconds;
	st->st_ctim.tv_nsec = f->ctime.nseconds;
}

static void post_attr(const post_op_attr *p, struct n3attr *a)
{
	a->valid = p->attributes_follow != 0;
	if (a->valid)
		fattr_stat(&p->post_op_attr_u.attributes, &a->st);
}

static int copy_fh(const char *data, u_int len, struct fh3 *out)
{
	if (len == 0 || len > FH3_MAX)
		return -EIO;    /* not a valid NFSv3 handle */
	out->len = len;
	memcpy(out->data, data, len);
	return 0;
}

static void set_fh(nfs_fh3 *x, const struct fh3 *fh)
{
	x->data.data_len = fh->len;
	x->data.data_val = (char *)fh->data;
}

/* Each procedure: its number and XDR routines (arguments, results). */
static const struct {
	uint32_t proc;
	zdrproc_t args, res;
} procs[] = {
#define P(e, num, a, r) [e] = { num, (zdrproc_t)a, (zdrproc_t)r }
	P(P_MNT, MOUNT3_MNT, zdr_dirpath, zdr_mountres3),
	P(P_GETATTR, NFS3_GETATTR, zdr_GETATTR3args, zdr_GETATTR3res),
	P(P_SETATTR, NFS3_SETATTR, zdr_SETATTR3args, zdr_SETATTR3res),
	P(P_LOOKUP, NFS3_LOOKUP, zdr_LOOKUP3args, zdr_LOOKUP3res),
	P(P_CREATE, NFS3_CREATE, zdr_CREATE3args, zdr_CREATE3res),
	P(P_MKDIR, NFS3_MKDIR, zdr_MKDIR3args, zdr_MKDIR3res),
	P(P_SYMLINK, NFS3_SYMLINK, zdr_SYMLINK3args, zdr_SYMLINK3res),
	P(P_MKNOD, NFS3_MKNOD, zdr_MKNOD3args, zdr_MKNOD3res),
	P(P_LINK, NFS3_LINK, zdr_LINK3args, zdr_LINK3res),
	P(P_REMOVE, NFS3_REMOVE, zdr_REMOVE3args, zdr_REMOVE3res),
	P(P_RMDIR, NFS3_RMDIR, zdr_RMDIR3args, zdr_RMDIR3res),
	P(P_RENAME, NFS3_RENAME, zdr_RENAME3args, zdr_RENAME3res),
	P(P_READLINK, NFS3_READLINK, zdr_READLINK3args, zdr_READLINK3res),
	P(P_READ, NFS3_READ, zdr_READ3args, zdr_READ3res),
	P(P_WRITE, NFS3_WRITE, zdr_WRITE3args, zdr_WRITE3res),
	P(P_COMMIT, NFS3_COMMIT, zdr_COMMIT3args, zdr_COMMIT3res),
	P(P_READDIRPLUS, NFS3_READDIRPLUS, zdr_READDIRPLUS3args,
	  zdr_READDIRPLUS3res),
	P(P_FSSTAT, NFS3_FSSTAT, zdr_FSSTAT3args, zdr_FSSTAT3res),
	P(P_FSINFO, NFS3_FSINFO, zdr_FSINFO3args, zdr_FSINFO3res),
#undef P
};

static unsigned flags_of(enum proc p);

/* Fills c->rpc for c's procedure (its arguments set). */
static void prep(struct call *c)
{
	size_t max = 2048;              /* handles, a name, attributes */

	if (c->proc == P_WRITE)
		max += c->a.write.count;
	else if (c->proc == P_SYMLINK)
		max += strlen(c->a.symlink.symlink.symlink_data);
	else if (c->proc == P_MNT)
		max += strlen(c->a.mnt);
	memset(&c->r, 0, sizeof(c->r));
	c->rpc = (struct nrpc){
		.prog = c->proc == P_MNT ? MOUNT_PROGRAM : NFS_PROGRAM,
		.vers = c->proc == P_MNT ? MOUNT_V3 : NFS_V3,
		.proc = procs[c->proc].proc,
		.args_fn = procs[c->proc].args,
		.args = c->proc == P_MNT ? (void *)&c->a.mnt : (void *)&c->a,
		.args_max = max,
		.res_fn = procs[c->proc].res,
		.res = &c->r,
		.idem = flags_of(c->proc) != 0,
	};
}

/* A new object's handle and attributes (create, mkdir, symlink, mknod). */
static int new_obj(struct call *c, const post_op_fh3 *h, const post_op_attr *a,
		   const wcc_data *dir)
{
	post_attr(a, &c->attr);
	post_attr(&dir->after, &c->dattr);
	c->has_fh = h->handle_follows != 0;
	if (c->has_fh)
		return copy_fh(h->post_op_fh3_u.handle.data.data_val,
			       h->post_op_fh3_u.handle.data.data_len, &c->fh);
	return 0;
}

static int decode_dents(struct call *c, READDIRPLUS3resok *ok)
{
	struct n3dent **tail = &c->dents;

	memcpy(&c->verf, ok->cookieverf, sizeof(c->verf));
	c->eof = ok->reply.eof != 0;
	/* libnfs 4.0 lays decoded entries out unaligned: copy each out */
	for (const void *p = ok->reply.entries; p;) {
		entryplus3 e;
		memcpy(&e, p, sizeof(e));
		p = e.nextentry;
		size_t nl = strlen(e.name);
		struct n3dent *d = sys_calloc(1, sizeof(*d) + nl + 1);

		if (!d)
			return -ENOMEM;
		d->fileid = e.fileid;
		d->cookie = e.cookie;
		memcpy(d->name, e.name, nl + 1);
		post_attr(&e.name_attributes, &d->attr);
		d->dtype = d->attr.valid ? IFTODT(d->attr.st.st_mode)
					 : DT_UNKNOWN;
		if (e.name_handle.handle_follows &&
		    copy_fh(e.name_handle.post_op_fh3_u.handle.data.data_val,
			    e.name_handle.post_op_fh3_u.handle.data.data_len,
			    &d->fh) == 0)
			d->has_fh = true;
		*tail = d;
		tail = &d->next;
	}
	return 0;
}

static int decode(struct call *c)
{
	void *data = &c->r;
	int r;

	if (c->rpc.err)
		return c->rpc.err;
	switch (c->proc) {
	case P_MNT: {
		mountres3 *m = data;
		if (m->fhs_status != MNT3_OK)
			return m->fhs_status == MNT3ERR_NOENT ? -ENOENT
			       : m->fhs_status == MNT3ERR_ACCES ? -EACCES
			       : m->fhs_status == MNT3ERR_NOTDIR ? -ENOTDIR
			       : -EIO;
		return copy_fh(m->mountres3_u.mountinfo.fhandle.fhandle3_val,
			       m->mountres3_u.mountinfo.fhandle.fhandle3_len,
			       &c->fh);
	}
	case P_GETATTR: {
		GETATTR3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		c->attr.valid = true;
		fattr_stat(&x->GETATTR3res_u.resok.obj_attributes, &c->attr.st);
		return 0;
	}
	case P_SETATTR: {
		SETATTR3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		post_attr(&x->SETATTR3res_u.resok.obj_wcc.after, &c->attr);
		return 0;
	}
	case P_LOOKUP: {
		LOOKUP3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		post_attr(&x->LOOKUP3res_u.resok.obj_attributes, &c->attr);
		return copy_fh(x->LOOKUP3res_u.resok.object.data.data_val,
			       x->LOOKUP3res_u.resok.object.data.data_len,
			       &c->fh);
	}
	case P_CREATE: {
		CREATE3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		return new_obj(c, &x->CREATE3res_u.resok.obj,
			       &x->CREATE3res_u.resok.obj_attributes,
			       &x->CREATE3res_u.resok.dir_wcc);
	}
	case P_MKDIR: {
		MKDIR3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		return new_obj(c, &x->MKDIR3res_u.resok.obj,
			       &x->MKDIR3res_u.resok.obj_attributes,
			       &x->MKDIR3res_u.resok.dir_wcc);
	}
	case P_SYMLINK: {
		SYMLINK3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		return new_obj(c, &x->SYMLINK3res_u.resok.obj,
			       &x->SYMLINK3res_u.resok.obj_attributes,
			       &x->SYMLINK3res_u.resok.dir_wcc);
	}
	case P_MKNOD: {
		MKNOD3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		return new_obj(c, &x->MKNOD3res_u.resok.obj,
			       &x->MKNOD3res_u.resok.obj_attributes,
			       &x->MKNOD3res_u.resok.dir_wcc);
	}
	case P_LINK: {
		LINK3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		post_attr(&x->LINK3res_u.resok.file_attributes, &c->attr);
		return 0;
	}
	case P_REMOVE: {
		REMOVE3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		post_attr(&x->REMOVE3res_u.resok.dir_wcc.after, &c->dattr);
		return 0;
	}
	case P_RMDIR: {
		RMDIR3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		post_attr(&x->RMDIR3res_u.resok.dir_wcc.after, &c->dattr);
		return 0;
	}
	case P_RENAME: {
		RENAME3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		/* attr: the source directory's, dattr: the target's */
		post_attr(&x->RENAME3res_u.resok.fromdir_wcc.after, &c->attr);
		post_attr(&x->RENAME3res_u.resok.todir_wcc.after, &c->dattr);
		return 0;
	}
	case P_READLINK: {
		READLINK3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		size_t l = strlen(x->READLINK3res_u.resok.data);
		if (l > c->bufsz)
			l = c->bufsz;
		memcpy(c->buf, x->READLINK3res_u.resok.data, l);
		c->count = (uint32_t)l;
		return 0;
	}
	case P_READ: {
		READ3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		READ3resok *ok = &x->READ3res_u.resok;
		uint32_t n = ok->data.data_len;
		if (n > c->bufsz || n > ok->count + 0u)
			return -EIO;    /* more than asked: a broken server */
		memcpy(c->buf, ok->data.data_val, n);
		c->count = n;
		c->eof = ok->eof != 0;
		post_attr(&ok->file_attributes, &c->attr);
		return 0;
	}
	case P_WRITE: {
		WRITE3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		c->count = x->WRITE3res_u.resok.count;
		memcpy(&c->verf, x->WRITE3res_u.resok.verf, sizeof(c->verf));
		post_attr(&x->WRITE3res_u.resok.file_wcc.after, &c->attr);
		return 0;
	}
	case P_COMMIT: {
		COMMIT3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		memcpy(&c->verf, x->COMMIT3res_u.resok.verf, sizeof(c->verf));
		return 0;
	}
	case P_READDIRPLUS: {
		READDIRPLUS3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		return decode_dents(c, &x->READDIRPLUS3res_u.resok);
	}
	case P_FSSTAT: {
		FSSTAT3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		FSSTAT3resok *ok = &x->FSSTAT3res_u.resok;
		struct statvfs *v = c->vfs;
		memset(v, 0, sizeof(*v));
		v->f_bsize = v->f_frsize = 4096;
		v->f_blocks = ok->tbytes / 4096;
		v->f_bfree = ok->fbytes / 4096;
		v->f_bavail = ok->abytes / 4096;
		v->f_files = ok->tfiles;
		v->f_ffree = ok->ffiles;
		v->f_favail = ok->afiles;
		v->f_namemax = 255;
		return 0;
	}
	case P_FSINFO: {
		FSINFO3res *x = data;
		if ((r = nfs3_errno(x->status)))
			return r;
		c->rtmax = x->FSINFO3res_u.resok.rtmax;
		c->wtmax = x->FSINFO3res_u.resok.wtmax;
		c->dtpref = x->FSINFO3res_u.resok.dtpref;
		return 0;
	}
	}
	return -EIO;
}

/* What may be sent again after a lost connection: the procedures whose
 * repetition changes nothing (RFC 1813's idempotent ones). */
static unsigned flags_of(enum proc p)
{
	switch (p) {
	case P_MNT: case P_GETATTR: case P_LOOKUP: case P_READLINK:
	case P_READ: case P_COMMIT: case P_READDIRPLUS: case P_FSSTAT:
	case P_FSINFO:
		return 1;
	default:
		return 0;       /* creates, removes, renames, writes, setattr */
	}
}

/* Whether c's reply says NFS3ERR_JUKEBOX: the server could not do it now
 * and did nothing (a file it is busy with, its own resources short).
 * Every NFS v3 result begins with its status (RFC 1813); MOUNT's has no
 * such answer. */
static bool jukebox(struct call *c)
{
	const GETATTR3res *any = (const void *)&c->r;

	return c->proc != P_MNT && c->rpc.err == 0 &&
	       any->status == NFS3ERR_JUKEBOX;
}

/* Makes c and waits for its reply.  A JUKEBOX answer is asked again, as
 * Linux's client does (every 5 s there, for as long as the caller
 * waits): here after 10 ms, doubling to 1 s, within the call's deadline;
 * past it the call is -ETIMEDOUT, the answer of a server that did not
 * answer in time.  Safe for every procedure: the server did nothing. */
static int call(struct n3 *n, struct call *c)
{
	struct nrpc *rp = &c->rpc;
	int r, wait_ms = 10;

	for (;;) {
		prep(c);
		r = nc_call_many(n->nc, n->cred, &rp, 1, n->flags, &n->dl);
		if (r == 0)
			r = decode(c);
		bool again = jukebox(c);
		nrpc_done(&c->rpc);
		if (!again)
			return r;
		int left = ms_left(&n->dl);
		if (left <= 0)
			return -ETIMEDOUT;
		struct timespec ts = { 0 };
		ts_add_ms(&ts, wait_ms < left ? wait_ms : left);
		nanosleep(&ts, NULL);
		if (wait_ms < 1000)
			wait_ms *= 2;
	}
}

/* Sends c, not waited for (its reply is dropped). */
static int send_async(struct nconn *nc, const struct uvfs_cred *cred,
		      struct call *c)
{
	int r;

	prep(c);
	r = nc_send(nc, cred, &c->rpc);
	nrpc_done(&c->rpc);
	return r;
}

int n3_mnt(const char *host, const char *export, int timeout_ms,
	   struct fh3 *root)
{
	struct call c = { .proc = P_MNT, .a.mnt = (char *)export };
	int port, r;

	r = nrpc_getport(host, MOUNT_PROGRAM, MOUNT_V3, timeout_ms, &port);
	if (r)
		return r;
	prep(&c);
	r = nrpc_oneshot(host, port, &c.rpc, timeout_ms);
	if (r == 0)
		r = decode(&c);
	nrpc_done(&c.rpc);
	if (r == 0)
		*root = c.fh;
	return r;
}

int n3_getattr(struct n3 *n, const struct fh3 *fh, struct stat *st)
{
	struct call c = { .proc = P_GETATTR };
	int r;

	set_fh(&c.a.getattr.object, fh);
	r = call(n, &c);
	if (r == 0)
		*st = c.attr.st;
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

	set_fh(&c.a.setattr.object, fh);
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
	r = call(n, &c);
	if (r == 0 && after)
		*after = c.attr;
	return r;
}

int n3_lookup(struct n3 *n, const struct fh3 *dir, const char *name,
	      struct fh3 *out, struct n3attr *attr)
{
	struct call c = { .proc = P_LOOKUP };
	int r;

	set_fh(&c.a.lookup.what.dir, dir);
	c.a.lookup.what.name = (char *)name;
	r = call(n, &c);
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
	set_fh(&where->dir, dir);
	where->name = (char *)name;
	r = call(n, &c);
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

	set_fh(&c.a.link.file, fh);
	set_fh(&c.a.link.link.dir, dir);
	c.a.link.link.name = (char *)name;
	r = call(n, &c);
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
		set_fh(&c.a.rmdir.object.dir, dir);
		c.a.rmdir.object.name = (char *)name;
	} else {
		set_fh(&c.a.remove.object.dir, dir);
		c.a.remove.object.name = (char *)name;
	}
	r = call(n, &c);
	if (r == 0 && dattr)
		*dattr = c.dattr;
	return r;
}

int n3_remove_async(struct nconn *nc, const struct uvfs_cred *cred,
		    const struct fh3 *dir, const char *name)
{
	struct call c = { .proc = P_REMOVE };

	set_fh(&c.a.remove.object.dir, dir);
	c.a.remove.object.name = (char *)name;
	return send_async(nc, cred, &c);
}

int n3_rename(struct n3 *n, const struct fh3 *odir, const char *oname,
	      const struct fh3 *ndir, const char *nname, struct n3attr *oattr,
	      struct n3attr *nattr)
{
	struct call c = { .proc = P_RENAME };
	int r;

	set_fh(&c.a.rename.from.dir, odir);
	c.a.rename.from.name = (char *)oname;
	set_fh(&c.a.rename.to.dir, ndir);
	c.a.rename.to.name = (char *)nname;
	r = call(n, &c);
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

	set_fh(&c.a.readlink.symlink, fh);
	r = call(n, &c);
	return r ? r : (ssize_t)c.count;
}

ssize_t n3_read(struct n3 *n, const struct fh3 *fh, void *buf,
		uint32_t cnt, uint64_t off, bool *eof, struct n3attr *attr)
{
	struct call c = { .proc = P_READ, .buf = buf, .bufsz = cnt };
	int r;

	set_fh(&c.a.read.file, fh);
	c.a.read.offset = off;
	c.a.read.count = cnt;
	r = call(n, &c);
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

	set_fh(&c.a.write.file, fh);
	c.a.write.offset = off;
	c.a.write.count = cnt;
	c.a.write.stable = stable ? FILE_SYNC : UNSTABLE;
	c.a.write.data.data_len = cnt;
	c.a.write.data.data_val = (char *)buf;
	r = call(n, &c);
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

/* Sends c (filled in, not prepared) without waiting for its reply: 0
 * and *p to wait on, or an error with c's request released. */
static int start_call(struct n3 *n, struct call *c, struct npend **p)
{
	int r;

	prep(c);
	r = nc_start(n->nc, n->cred, &c->rpc, n->flags, &n->dl, p);
	if (r)
		nrpc_done(&c->rpc);
	return r;
}

/* An UNSTABLE WRITE sent, its reply waited for later (nfs3.h). */
struct n3wpend {
	struct nconn *nc;
	struct npend *p;
	struct call c;
};

int n3_write_start(struct n3 *n, const struct fh3 *fh, const void *buf,
		   uint32_t cnt, uint64_t off, struct n3wpend **out)
{
	struct n3wpend *w = sys_calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->nc = n->nc;
	w->c.proc = P_WRITE;
	w->c.bufsz = cnt;
	set_fh(&w->c.a.write.file, fh);
	w->c.a.write.offset = off;
	w->c.a.write.count = cnt;
	w->c.a.write.stable = UNSTABLE;
	w->c.a.write.data.data_len = cnt;
	w->c.a.write.data.data_val = (char *)buf;
	r = start_call(n, &w->c, &w->p);
	if (r) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

ssize_t n3_write_end(struct n3wpend *w, uint64_t *verf,
		     struct n3attr *after)
{
	ssize_t r;

	nc_wait(w->nc, w->p);
	r = w->c.rpc.err ? w->c.rpc.err : decode(&w->c);
	nrpc_done(&w->c.rpc);
	if (r == 0 && w->c.count > w->c.bufsz)
		r = -EIO;
	if (r == 0) {
		r = w->c.count;
		*verf = w->c.verf;
		*after = w->c.attr;
	}
	free(w);
	return r;
}

struct n3rpend {
	struct nconn *nc;
	struct npend *p;
	struct call c;
};

int n3_read_start(struct n3 *n, const struct fh3 *fh, uint32_t cnt,
		  uint64_t off, struct n3rpend **out)
{
	struct n3rpend *w = sys_calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->nc = n->nc;
	w->c.proc = P_READ;
	w->c.bufsz = cnt;
	set_fh(&w->c.a.read.file, fh);
	w->c.a.read.offset = off;
	w->c.a.read.count = cnt;
	r = start_call(n, &w->c, &w->p);
	if (r) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

ssize_t n3_read_end(struct n3 *n, struct n3rpend *w, void *buf, bool *eof,
		    struct n3attr *attr)
{
	ssize_t r;

	nc_wait_by(w->nc, w->p, &n->dl);
	w->c.buf = buf;         /* decoded here, in the waiter's thread */
	r = w->c.rpc.err ? w->c.rpc.err : decode(&w->c);
	nrpc_done(&w->c.rpc);
	if (r == 0) {
		r = w->c.count;
		*eof = w->c.eof;
		*attr = w->c.attr;
	}
	free(w);
	return r;
}

void n3_read_drop(struct n3rpend *w)
{
	nc_abandon(w->nc, w->p);
	nrpc_done(&w->c.rpc);
	free(w);
}

/* Up to N3_MANY_MAX calls at once; res[i] is each one's result. */
static int call_many(struct n3 *n, struct call *cs, int *res,
		     unsigned k)
{
	struct nrpc *rps[N3_MANY_MAX] = { 0 };
	int r;

	for (unsigned i = 0; i < k; i++) {
		prep(&cs[i]);
		rps[i] = &cs[i].rpc;
	}
	r = nc_call_many(n->nc, n->cred, rps, k, n->flags, &n->dl);
	for (unsigned i = 0; i < k; i++) {
		res[i] = r ? r : decode(&cs[i]);
		nrpc_done(&cs[i].rpc);
	}
	return r;
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
			set_fh(&cs[k].a.read.file, fh);
			cs[k].a.read.offset = off + at;
			cs[k].a.read.count = want;
			at += want;
		}
		int r = call_many(n, cs, res, k);
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
			done += cs[i].count;
			if (attr && cs[i].attr.valid)
				*attr = cs[i].attr;
			if (cs[i].eof || cs[i].count < cs[i].bufsz) {
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
			set_fh(&cs[k].a.write.file, fh);
			cs[k].a.write.offset = off + at;
			cs[k].a.write.count = want;
			cs[k].a.write.stable = UNSTABLE;
			cs[k].a.write.data.data_len = want;
			cs[k].a.write.data.data_val = (char *)buf + at;
			at += want;
		}
		int r = call_many(n, cs, res, k);
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

	set_fh(&c.a.commit.file, fh);
	r = call(n, &c);
	if (r == 0 && verf)
		*verf = c.verf;
	return r;
}

struct n3cpend {
	struct nconn *nc;
	struct npend *p;
	struct call c;
};

int n3_commit_start(struct n3 *n, const struct fh3 *fh, struct n3cpend **out)
{
	struct n3cpend *w = sys_calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->nc = n->nc;
	w->c.proc = P_COMMIT;
	set_fh(&w->c.a.commit.file, fh);
	prep(&w->c);
	r = nc_start(n->nc, n->cred, &w->c.rpc, n->flags, &n->dl, &w->p);
	if (r) {
		nrpc_done(&w->c.rpc);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

int n3_commit_end(struct n3 *n, struct n3cpend *w, uint64_t *verf)
{
	int r;

	nc_wait_by(w->nc, w->p, &n->dl);
	r = w->c.rpc.err ? w->c.rpc.err : decode(&w->c);
	nrpc_done(&w->c.rpc);
	if (r == 0)
		*verf = w->c.verf;
	free(w);
	return r;
}

bool n3_commit_ready(struct n3cpend *w)
{
	return nc_ready(w->nc, w->p);
}

void n3_commit_drop(struct n3cpend *w)
{
	nc_abandon(w->nc, w->p);
	nrpc_done(&w->c.rpc);
	free(w);
}

int n3_commit_async(struct nconn *nc, const struct uvfs_cred *cred,
		    const struct fh3 *fh)
{
	struct call c = { .proc = P_COMMIT };

	set_fh(&c.a.commit.file, fh);
	return send_async(nc, cred, &c);
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

	set_fh(&c.a.readdirplus.dir, dir);
	c.a.readdirplus.cookie = cookie;
	memcpy(c.a.readdirplus.cookieverf, verf, sizeof(*verf));
	c.a.readdirplus.dircount = maxcount / 4;
	c.a.readdirplus.maxcount = maxcount;
	r = call(n, &c);
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

	set_fh(&c.a.fsstat.fsroot, root);
	return call(n, &c);
}

int n3_fsinfo(struct n3 *n, const struct fh3 *root, uint32_t *rtmax,
	      uint32_t *wtmax, uint32_t *dtpref)
{
	struct call c = { .proc = P_FSINFO };
	int r;

	set_fh(&c.a.fsinfo.fsroot, root);
	r = call(n, &c);
	if (r == 0) {
		*rtmax = c.rtmax;
		*wtmax = c.wtmax;
		*dtpref = c.dtpref;
	}
	return r;
}

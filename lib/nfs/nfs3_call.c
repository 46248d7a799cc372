/*
 * nfs3_call.c - the call machinery under nfs3.c's procedures (nfs3_i.h):
 * the procedure table, the conversions between libnfs's XDR structs and
 * the driver's (attributes, handles, errors), and the decoding of every
 * reply.  How a call goes out (and is asked again after a JUKEBOX) is
 * nfs3_send.c's.  No object outlives its call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "nfs3_i.h"
#include "sys.h"

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
	case NFS3ERR_JUKEBOX:       return -EAGAIN; /* asked again first */
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

/* => false if f's file type is none NFSv3 has (a server's bug): no
 * file can have such attributes, and the kernel's FUSE client would take
 * the file for a bad inode.  st is filled either way. */
static bool fattr_stat(const fattr3 *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = f->fileid;
	st->st_mode = ftype_mode(f->type) | (f->mode & 07777);
	st->st_nlink = f->nlink;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_rdev = makedev(f->rdev.specdata1, f->rdev.specdata2);
	/* size3 is unsigned 64 bits, an off_t holds 63: a larger size is
	 * the largest offset (Linux's nfs_size_to_loff_t), not negative */
	st->st_size = f->size > (uint64_t)INT64_MAX ? INT64_MAX
						     : (off_t)f->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((f->used + 511) / 512);
	st->st_atim.tv_sec = f->atime.seconds;
	st->st_atim.tv_nsec = f->atime.nseconds;
	st->st_mtim.tv_sec = f->mtime.seconds;
	st->st_mtim.tv_nsec = f->mtime.nseconds;
	st->st_ctim.tv_sec = f->ctime.seconds;
	st->st_ctim.tv_nsec = f->ctime.nseconds;
	return (st->st_mode & S_IFMT) != 0;
}

/* Attributes that come with a reply: none if they do not, or if no file
 * can have them (fattr_stat). */
static void post_attr(const post_op_attr *p, struct n3attr *a)
{
	a->valid = p->attributes_follow != 0 &&
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

void n3c_set_fh(nfs_fh3 *x, const struct fh3 *fh)
{
	x->data.data_len = fh->len;
	x->data.data_val = (char *)fh->data;
}

/* Each procedure: its number and XDR routines (arguments, results: those
 * with a handle, a name, data, a verifier or an array are nfs3_xdr.c's,
 * the rest libnfs's). */
static const struct {
	uint32_t proc;
	zdrproc_t args, res;
} procs[] = {
#define P(e, num, a, r) [e] = { num, (zdrproc_t)a, (zdrproc_t)r }
	P(P_MNT, MOUNT3_MNT, zdr_dirpath, n3x_mountres3),
	P(P_GETATTR, NFS3_GETATTR, zdr_GETATTR3args, zdr_GETATTR3res),
	P(P_SETATTR, NFS3_SETATTR, zdr_SETATTR3args, zdr_SETATTR3res),
	P(P_LOOKUP, NFS3_LOOKUP, zdr_LOOKUP3args, n3x_LOOKUP3res),
	P(P_CREATE, NFS3_CREATE, zdr_CREATE3args, n3x_CREATE3res),
	P(P_MKDIR, NFS3_MKDIR, zdr_MKDIR3args, n3x_MKDIR3res),
	P(P_SYMLINK, NFS3_SYMLINK, zdr_SYMLINK3args, n3x_SYMLINK3res),
	P(P_MKNOD, NFS3_MKNOD, zdr_MKNOD3args, n3x_MKNOD3res),
	P(P_LINK, NFS3_LINK, zdr_LINK3args, zdr_LINK3res),
	P(P_REMOVE, NFS3_REMOVE, zdr_REMOVE3args, zdr_REMOVE3res),
	P(P_RMDIR, NFS3_RMDIR, zdr_RMDIR3args, zdr_RMDIR3res),
	P(P_RENAME, NFS3_RENAME, zdr_RENAME3args, zdr_RENAME3res),
	P(P_READLINK, NFS3_READLINK, zdr_READLINK3args, n3x_READLINK3res),
	P(P_READ, NFS3_READ, zdr_READ3args, n3x_READ3res),
	P(P_WRITE, NFS3_WRITE, zdr_WRITE3args, n3x_WRITE3res),
	P(P_COMMIT, NFS3_COMMIT, zdr_COMMIT3args, n3x_COMMIT3res),
	P(P_READDIRPLUS, NFS3_READDIRPLUS, zdr_READDIRPLUS3args,
	  n3x_READDIRPLUS3res),
	P(P_FSSTAT, NFS3_FSSTAT, zdr_FSSTAT3args, zdr_FSSTAT3res),
	P(P_FSINFO, NFS3_FSINFO, zdr_FSINFO3args, zdr_FSINFO3res),
#undef P
};

static unsigned flags_of(enum proc p);

void n3c_prep(struct call *c)
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

nfsstat3 n3c_status(const struct call *c)
{
	/* every NFSv3 result begins with its status (RFC 1813) */
	const GETATTR3res *any = (const void *)&c->r;

	return any->status;
}

int n3c_decode(struct call *c)
{
	void *data = &c->r;
	int r;

	if (c->rpc.err)
		return c->rpc.err;
	c->answered = true;
	if (c->proc != P_MNT && (r = nfs3_errno(n3c_status(c))))
		return r;       /* a failure's results are not read */
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
		c->attr.valid = fattr_stat(&x->GETATTR3res_u.resok.obj_attributes,
					   &c->attr.st);
		return c->attr.valid ? 0 : -EIO;
	}
	case P_SETATTR: {
		SETATTR3res *x = data;
		post_attr(&x->SETATTR3res_u.resok.obj_wcc.after, &c->attr);
		return 0;
	}
	case P_LOOKUP: {
		LOOKUP3res *x = data;
		post_attr(&x->LOOKUP3res_u.resok.obj_attributes, &c->attr);
		return copy_fh(x->LOOKUP3res_u.resok.object.data.data_val,
			       x->LOOKUP3res_u.resok.object.data.data_len,
			       &c->fh);
	}
	case P_CREATE: {
		CREATE3res *x = data;
		return new_obj(c, &x->CREATE3res_u.resok.obj,
			       &x->CREATE3res_u.resok.obj_attributes,
			       &x->CREATE3res_u.resok.dir_wcc);
	}
	case P_MKDIR: {
		MKDIR3res *x = data;
		return new_obj(c, &x->MKDIR3res_u.resok.obj,
			       &x->MKDIR3res_u.resok.obj_attributes,
			       &x->MKDIR3res_u.resok.dir_wcc);
	}
	case P_SYMLINK: {
		SYMLINK3res *x = data;
		return new_obj(c, &x->SYMLINK3res_u.resok.obj,
			       &x->SYMLINK3res_u.resok.obj_attributes,
			       &x->SYMLINK3res_u.resok.dir_wcc);
	}
	case P_MKNOD: {
		MKNOD3res *x = data;
		return new_obj(c, &x->MKNOD3res_u.resok.obj,
			       &x->MKNOD3res_u.resok.obj_attributes,
			       &x->MKNOD3res_u.resok.dir_wcc);
	}
	case P_LINK: {
		LINK3res *x = data;
		post_attr(&x->LINK3res_u.resok.file_attributes, &c->attr);
		return 0;
	}
	case P_REMOVE: {
		REMOVE3res *x = data;
		post_attr(&x->REMOVE3res_u.resok.dir_wcc.after, &c->dattr);
		return 0;
	}
	case P_RMDIR: {
		RMDIR3res *x = data;
		post_attr(&x->RMDIR3res_u.resok.dir_wcc.after, &c->dattr);
		return 0;
	}
	case P_RENAME: {
		RENAME3res *x = data;
		/* attr: the source directory's, dattr: the target's */
		post_attr(&x->RENAME3res_u.resok.fromdir_wcc.after, &c->attr);
		post_attr(&x->RENAME3res_u.resok.todir_wcc.after, &c->dattr);
		return 0;
	}
	case P_READLINK: {
		READLINK3res *x = data;
		size_t l = strlen(x->READLINK3res_u.resok.data);
		if (l > c->bufsz)
			l = c->bufsz;
		memcpy(c->buf, x->READLINK3res_u.resok.data, l);
		c->count = (uint32_t)l;
		return 0;
	}
	case P_READ: {
		READ3res *x = data;
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
		c->count = x->WRITE3res_u.resok.count;
		memcpy(&c->verf, x->WRITE3res_u.resok.verf, sizeof(c->verf));
		post_attr(&x->WRITE3res_u.resok.file_wcc.after, &c->attr);
		return 0;
	}
	case P_COMMIT: {
		COMMIT3res *x = data;
		memcpy(&c->verf, x->COMMIT3res_u.resok.verf, sizeof(c->verf));
		return 0;
	}
	case P_READDIRPLUS: {
		READDIRPLUS3res *x = data;
		return decode_dents(c, &x->READDIRPLUS3res_u.resok);
	}
	case P_FSSTAT: {
		FSSTAT3res *x = data;
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

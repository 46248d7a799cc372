/*
 * fileops.c - the Linux file calls beyond read and write: fallocate(2),
 * lseek(2)'s SEEK_DATA and SEEK_HOLE, copy_file_range(2); their descriptor
 * forms (uvfs_fallocate, uvfs_lseek through file_seek_data,
 * uvfs_copy_file_range) and their handle forms (uvfs_file_fallocate,
 * uvfs_file_lseek, uvfs_file_copy_range).
 *
 * Owns no object.  Each call holds the open files it was given (fd_get,
 * or the handle's own reference) for its duration, checks them as Linux's
 * vfs_fallocate() and generic_copy_file_checks() do, in the same order so
 * that the same error wins, and reaches the driver through vnode_if.c
 * (inside the gate, dead vnodes answering -EIO).  What a driver lacks is
 * answered here or there:
 *   fallocate          -EOPNOTSUPP (Linux, for a file system without
 *                      ->fallocate: v9fs, NFSv3)
 *   SEEK_DATA/HOLE     the generic map: all data, the hole at the size
 *                      (vnode_if.c; Linux generic_file_llseek)
 *   copy_file_range    read and write in chunks of COPY_CHUNK (Linux's
 *                      splice fallback), also when the driver's
 *                      copy_range answers -EOPNOTSUPP; a driver's
 *                      copy_range is asked for COPY_STEP at a time
 *
 * Who checks what: the core everything the kernel's VFS checks (the
 * descriptor's mode, the file type, offsets, sizes, overlap, EXDEV) and
 * the set-id bits of the descriptor forms (as a write: file_kill_priv,
 * only once something changed); the driver the modes it does, the data,
 * the timestamps.
 *
 * Positions: a copy at the descriptors' positions reads them under each
 * file's lock before the copy and stores them after it, as Linux does
 * (copy_file_range is not atomic against other users of the positions);
 * the two files' locks are never held together.
 */
#include "core.h"
#include "file.h"

#include <linux/falloc.h>
#include <unistd.h>

#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES 0x80     /* Linux 6.17 */
#endif
/* Linux's FALLOC_FL_MODE_MASK: the modes, one at a time */
#define FL_MODE_MASK (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE |    \
		      FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE |        \
		      FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES)

#define COPY_CHUNK ((size_t)128 << 10)  /* the fallback's read and write */
#define COPY_STEP ((size_t)64 << 20)    /* a driver's copy_range, at most */

/* ---- fallocate ------------------------------------------------------------ */

/* vfs_fallocate()'s check of the mode: -EOPNOTSUPP for a combination no
 * file system takes (FALLOC_FL_NO_HIDE_STALE among them). */
static int fallocate_mode_check(int mode)
{
	bool keep = (mode & FALLOC_FL_KEEP_SIZE) != 0;

	if (mode & ~(FL_MODE_MASK | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	switch (mode & FL_MODE_MASK) {
	case 0:
	case FALLOC_FL_UNSHARE_RANGE:
	case FALLOC_FL_ZERO_RANGE:
		return 0;
	case FALLOC_FL_PUNCH_HOLE:
		return keep ? 0 : -EOPNOTSUPP;
	case FALLOC_FL_COLLAPSE_RANGE:
	case FALLOC_FL_INSERT_RANGE:
	case FALLOC_FL_WRITE_ZEROES:
		return keep ? -EOPNOTSUPP : 0;
	default:
		return -EOPNOTSUPP;     /* two modes at once */
	}
}

/* vfs_fallocate() on an open file (not O_PATH), in its order. */
static int file_fallocate(struct file *f, int mode, off_t off, off_t len)
{
	struct vnode *vp = f->path.vp;
	int r;

	if (off < 0 || len <= 0)
		return -EINVAL;
	r = fallocate_mode_check(mode);
	if (r)
		return r;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (S_ISFIFO(vp->type))
		return -ESPIPE;
	if (vn_isdir(vp))
		return -EISDIR;
	if (!S_ISREG(vp->type))
		return -ENODEV;
	if (off > OFF_MAX - len)
		return -EFBIG;
	if (mnt_rdonly(f->path.mnt))
		return -EROFS;  /* not reached: no such open for writing */
	if (!vp->sb->ops->fallocate)
		return -EOPNOTSUPP;
	r = vop_fallocate(vp, file_fh(f), mode, off, len);
	if (r == 0 && !atomic_load_explicit(&f->unflushed, memory_order_relaxed))
		atomic_store(&f->unflushed, true);
	return r;
}

int uvfs_fallocate(struct uvfs_ctx *ctx, int fd, int mode, off_t off,
		   off_t len)
{
	struct file *f;
	int r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	r = file_fallocate(f, mode, off, len);
	if (r == 0) {
		/* as a write (tmpfs: file_modified) */
		int k = file_kill_priv(ctx, f->path.vp);

		if (k < 0)
			r = k;
	}
	file_put(f);
	return r;
}

int uvfs_file_fallocate(struct uvfs_file *h, int mode, off_t off, off_t len)
{
	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	return file_fallocate(h->f, mode, off, len);
}

/* ---- SEEK_DATA, SEEK_HOLE ------------------------------------------------- */

off_t file_seek_data(struct file *f, off_t off, int whence)
{
	return vop_seek_data(f->path.vp, file_fh(f), off, whence);
}

off_t uvfs_file_lseek(struct uvfs_file *h, off_t off, int whence)
{
	struct vnode *vp = h->f->path.vp;
	struct stat st;
	int r;

	cred_set_current(&h->cred);     /* the opener's, as for a file's I/O */
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (S_ISFIFO(vp->type) || S_ISSOCK(vp->type))
		return -ESPIPE;
	if (vn_isdir(vp))
		return -EINVAL;
	r = vop_getattr(vp, &st);
	if (r)
		return r;
	if (off < 0 || off >= st.st_size)
		return -ENXIO;
	return file_seek_data(h->f, off, whence);
}

/* ---- copy_file_range ------------------------------------------------------ */

/* generic_copy_file_checks() and the rest of vfs_copy_file_range()'s, in
 * their order.  xdev: the files may be of two file systems (the handle
 * form; the descriptor form answers -EXDEV as Linux does between two
 * tmpfs instances).  => the count to copy (len cut at in's size, at the
 * largest offset and at RW_MAX; 0: nothing to do), or -errno. */
static ssize_t copy_check(struct file *in, off_t pos_in, struct file *out,
			  off_t pos_out, size_t len, unsigned flags, bool xdev)
{
	struct vnode *vi = in->path.vp, *vo = out->path.vp;
	uint64_t end;
	struct stat st;
	int r;

	if (flags != 0)
		return -EINVAL;
	if (vn_isdir(vi) || vn_isdir(vo))
		return -EISDIR;
	if (!S_ISREG(vi->type) || !S_ISREG(vo->type))
		return -EINVAL;
	if ((in->flags & O_ACCMODE) == O_WRONLY ||
	    (out->flags & O_ACCMODE) == O_RDONLY || (out->flags & O_APPEND))
		return -EBADF;
	if (!xdev && vi->sb != vo->sb)
		return -EXDEV;
	/* offsets as unsigned, as the kernel adds them */
	if (__builtin_add_overflow((uint64_t)pos_in, (uint64_t)len, &end) ||
	    __builtin_add_overflow((uint64_t)pos_out, (uint64_t)len, &end))
		return -EOVERFLOW;
	r = vop_getattr(vi, &st);
	if (r)
		return r;
	if (pos_in >= st.st_size)
		len = 0;
	else if (len > (uint64_t)(st.st_size - pos_in))
		len = (size_t)(st.st_size - pos_in);
	if (pos_out >= OFF_MAX)
		return -EFBIG;
	if (pos_out >= 0 && len > (uint64_t)(OFF_MAX - pos_out))
		len = (size_t)(OFF_MAX - pos_out);
	if (vi == vo && (uint64_t)pos_out + len > (uint64_t)pos_in &&
	    (uint64_t)pos_out < (uint64_t)pos_in + len)
		return -EINVAL;         /* overlapping ranges of one file */
	if (pos_in < 0 || pos_out < 0)
		return -EINVAL;         /* rw_verify_area */
	return (ssize_t)(len > RW_MAX ? RW_MAX : len);
}

/* The copy through read and write.  => the count, or the first error
 * when nothing was copied. */
static ssize_t copy_fallback(struct file *in, off_t pos_in, struct file *out,
			     off_t pos_out, size_t len)
{
	size_t done = 0, bsz = len < COPY_CHUNK ? len : COPY_CHUNK;
	char *buf = sys_malloc(bsz);
	ssize_t err = 0;

	if (!buf)
		return -ENOMEM;
	while (done < len) {
		size_t n = len - done < bsz ? len - done : bsz;
		ssize_t r = file_read(in, buf, n, pos_in + (off_t)done);
		ssize_t w;

		if (r <= 0) {
			err = r;        /* 0: in shrank under us */
			break;
		}
		w = file_write(out, buf, (size_t)r, pos_out + (off_t)done);
		if (w <= 0) {
			err = w;
			break;
		}
		done += (size_t)w;
		if (w < r)
			break;
	}
	free(buf);
	return done ? (ssize_t)done : err;
}

/* n bytes (checked by copy_check) by the driver when both files are its,
 * in steps of COPY_STEP (each a call inside the gate: a revoke or a
 * forced unmount waits for one step, not for the whole copy); else, or
 * when the driver answers -EOPNOTSUPP at once, by the fallback. */
static ssize_t copy_do(struct file *in, off_t pos_in, struct file *out,
		       off_t pos_out, size_t n)
{
	struct vnode *vi = in->path.vp, *vo = out->path.vp;
	size_t done = 0;
	ssize_t r = 0;

	if (vi->sb != vo->sb || !vi->sb->ops->copy_range)
		return copy_fallback(in, pos_in, out, pos_out, n);
	while (done < n) {
		size_t step = n - done < COPY_STEP ? n - done : COPY_STEP;

		r = vop_copy_range(vi, file_fh(in), pos_in + (off_t)done, vo,
				   file_fh(out), pos_out + (off_t)done, step);
		if (r <= 0)
			break;
		done += (size_t)r;
		if ((size_t)r < step)
			break;  /* in's end of file, or out of space */
	}
	if (done > 0 &&
	    !atomic_load_explicit(&out->unflushed, memory_order_relaxed))
		atomic_store(&out->unflushed, true);
	if (done == 0 && r == -EOPNOTSUPP)
		return copy_fallback(in, pos_in, out, pos_out, n);
	return done > 0 ? (ssize_t)done : r;
}

static off_t pos_get(struct file *f)
{
	off_t p;

	pthread_mutex_lock(&f->lock);
	p = f->pos;
	pthread_mutex_unlock(&f->lock);
	return p;
}

static void pos_set(struct file *f, off_t p)
{
	pthread_mutex_lock(&f->lock);
	f->pos = p;
	pthread_mutex_unlock(&f->lock);
}

ssize_t uvfs_copy_file_range(struct uvfs_ctx *ctx, int fd_in, off_t *off_in,
			     int fd_out, off_t *off_out, size_t len,
			     unsigned flags)
{
	struct file *in, *out;
	off_t pos_in, pos_out;
	ssize_t r;
	int k;

	r = fd_get_real(ctx, fd_in, &in);
	if (r)
		return r;
	r = fd_get_real(ctx, fd_out, &out);
	if (r) {
		file_put(in);
		return r;
	}
	pos_in = off_in ? *off_in : pos_get(in);
	pos_out = off_out ? *off_out : pos_get(out);
	r = copy_check(in, pos_in, out, pos_out, len, flags, false);
	if (r > 0) {
		k = file_kill_priv(ctx, out->path.vp); /* as a write */
		r = k < 0 ? k : copy_do(in, pos_in, out, pos_out, (size_t)r);
	}
	if (r > 0) {
		if (off_in)
			*off_in = pos_in + r;
		else
			pos_set(in, pos_in + r);
		if (off_out)
			*off_out = pos_out + r;
		else
			pos_set(out, pos_out + r);
	}
	file_put(out);
	file_put(in);
	return r;
}

ssize_t uvfs_file_copy_range(struct uvfs_file *hin, off_t off_in,
			     struct uvfs_file *hout, off_t off_out, size_t len,
			     unsigned flags)
{
	ssize_t r;

	cred_set_current(&hout->cred); /* the writer's, as for its I/O */
	r = copy_check(hin->f, off_in, hout->f, off_out, len, flags, true);
	if (r > 0)
		r = copy_do(hin->f, off_in, hout->f, off_out, (size_t)r);
	return r;
}

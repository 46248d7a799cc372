/*
 * fileio.c - the calls that move data or a position through an open
 * file: read, write, pread, pwrite (file_read, file_write for the node
 * API), lseek, readdir, and a file's flush and fsync (file_flush, which
 * close calls; file_fsync, which the fsync calls of attr.c and node.c
 * call).
 *
 * Owns no object: each call holds the open file (fd_get_io, file.c) for
 * its duration.  Offsets: f->lock is held across read, write, lseek and
 * readdir on one description, so that threads sharing it never
 * interleave positions; pread and pwrite do not take it (the rules and
 * the lock order are file.c's).  Files that are not regular are
 * metadata to the core: reads return 0, writes consume everything,
 * pread, pwrite and lseek on a fifo give -ESPIPE.
 */
#include "core.h"
#include "file.h"

#include <unistd.h>

_Static_assert(sizeof(off_t) == sizeof(int64_t), "64-bit off_t expected");

/* ---- flush and fsync --------------------------------------------------- */

bool file_flushes(const struct file *f)
{
	struct uvfs_sb *sb = f->path.vp->sb;

	return (f->flags & O_ACCMODE) != O_RDONLY && sb->flushes &&
	       sb->ops->flush;
}

/* A dead file (revoked, its mount forced off) closes with 0 unless it
 * was written since its last flush: what went behind may be lost (EIO). */
int file_flush(struct file *f)
{
	bool written;
	int r;

	if (!file_flushes(f))
		return 0;
	written = atomic_exchange(&f->unflushed, false);
	r = vop_flush(f->path.vp, file_fh(f));
	if (r == 1)                     /* dead (vnode_if.c) */
		r = written ? -EIO : 0;
	return r;
}

/* A successful fsync leaves nothing behind: the file is flushed (a dead
 * file closes with 0 after it, unless written since). */
int file_fsync(struct file *f, void *fh, int datasync)
{
	bool written = atomic_exchange(&f->unflushed, false);
	int r = vop_fsync(f->path.vp, fh, datasync);

	if (r && written)
		atomic_store(&f->unflushed, true);
	return r;
}

/* ---- I/O ----------------------------------------------------------------- */

/* A read or write the core answers without the driver (0 bytes, or not
 * a regular file): ok, or what is wrong.  Dead (revoked, force-unmounted)
 * first: EIO, as the driver's call would have said. */
static ssize_t io_here(const struct vnode *vp, bool atpos, ssize_t ok)
{
	if (vn_dead(vp))
		return -EIO;
	if (vn_isdir(vp))
		return -EISDIR;
	if (!atpos && (S_ISFIFO(vp->type) || S_ISSOCK(vp->type)))
		return -ESPIPE;
	return ok;
}

/* off < 0: at the file position, which advances. */
ssize_t file_read(struct file *f, void *buf, size_t n, off_t off)
{
	struct vnode *vp = f->path.vp;
	bool atpos = off < 0;
	ssize_t r;

	if (n == 0 || !S_ISREG(vp->type))
		return io_here(vp, atpos, 0);
	if (n > RW_MAX)
		n = RW_MAX;
	if (atpos) {
		pthread_mutex_lock(&f->lock);
		off = f->pos;
	}
	r = vop_read(vp, file_fh(f), buf, n, off);
	if (atpos) {
		if (r > 0)
			f->pos += r;
		pthread_mutex_unlock(&f->lock);
	}
	return r;
}

/* off < 0: at the file position, which advances.  O_APPEND always
 * appends, pwrite too (Linux). */
ssize_t file_write(struct file *f, const void *buf, size_t n,
			  off_t off)
{
	struct vnode *vp = f->path.vp;
	bool atpos = off < 0, append = (f->flags & O_APPEND) != 0;
	off_t woff;
	ssize_t r;

	if (n > RW_MAX)
		n = RW_MAX;
	if (n == 0 || !S_ISREG(vp->type))
		return io_here(vp, atpos, (ssize_t)n); /* swallowed */
	if (atpos) {
		pthread_mutex_lock(&f->lock);
		off = f->pos;
	}
	if (append) {
		woff = -1;
	} else if (off > OFF_MAX - (off_t)n) {
		r = -EFBIG;
		goto out;
	} else {
		woff = off;
	}
	r = vop_write(vp, file_fh(f), buf, n, &woff);
	if (r > 0 && !atomic_load_explicit(&f->unflushed, memory_order_relaxed))
		atomic_store(&f->unflushed, true);
	if (atpos && r >= 0) {
		if (!append)
			f->pos = off + r;
		else if (ALWAYS(woff >= 0)) /* the driver says where it ended */
			f->pos = woff;
	}
out:
	if (atpos)
		pthread_mutex_unlock(&f->lock);
	return r;
}

ssize_t uvfs_read(struct uvfs_ctx *ctx, int fd, void *buf, size_t n)
{
	struct file *f;
	ssize_t r = fd_get_io(ctx, fd, false, &f);

	if (r)
		return r;
	r = file_read(f, buf, n, -1);
	file_put(f);
	return r;
}

ssize_t uvfs_write(struct uvfs_ctx *ctx, int fd, const void *buf, size_t n)
{
	struct file *f;
	ssize_t r = fd_get_io(ctx, fd, true, &f);

	if (r)
		return r;
	r = n ? file_kill_priv(ctx, f->path.vp) : 0;
	if (r >= 0)
		r = file_write(f, buf, n, -1);
	file_put(f);
	return r;
}

ssize_t uvfs_pread(struct uvfs_ctx *ctx, int fd, void *buf, size_t n,
		   off_t off)
{
	struct file *f;
	ssize_t r = fd_get_io(ctx, fd, false, &f);

	if (r)
		return r;
	r = off < 0 ? -EINVAL : file_read(f, buf, n, off);
	file_put(f);
	return r;
}

ssize_t uvfs_pwrite(struct uvfs_ctx *ctx, int fd, const void *buf, size_t n,
		    off_t off)
{
	struct file *f;
	ssize_t r = fd_get_io(ctx, fd, true, &f);

	if (r)
		return r;
	r = off < 0 ? -EINVAL : n ? file_kill_priv(ctx, f->path.vp) : 0;
	if (r >= 0)
		r = file_write(f, buf, n, off);
	file_put(f);
	return r;
}

/* => f->lock held. */
static off_t file_seek_locked(struct file *f, off_t off, int whence)
{
	struct vnode *vp = f->path.vp;
	bool dir = vn_isdir(vp);
	struct stat st;
	off_t np;
	int r;

	switch (whence) {
	case SEEK_SET:
		np = off;
		break;
	case SEEK_CUR:
		if (dir && off != 0)
			return -EINVAL; /* cookies are not offsets */
		if (__builtin_add_overflow(f->pos, off, &np))
			return -EINVAL;
		break;
	case SEEK_END:
	case SEEK_DATA:
	case SEEK_HOLE:
		if (dir)
			return -EINVAL;
		r = vop_getattr(vp, &st);
		if (r)
			return r;
		if (whence == SEEK_END) {
			if (__builtin_add_overflow(st.st_size, off, &np))
				return -EINVAL;
			break;
		}
		if (off < 0 || off >= st.st_size)
			return -ENXIO;
		np = file_seek_data(f, off, whence); /* fileops.c */
		if (np < 0)
			return np;
		break;
	default:
		return -EINVAL;
	}
	if (np < 0)
		return -EINVAL;
	f->pos = np;
	return np;
}

off_t uvfs_lseek(struct uvfs_ctx *ctx, int fd, off_t off, int whence)
{
	struct file *f;
	struct vnode *vp;
	off_t r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	vp = f->path.vp;
	if (S_ISFIFO(vp->type) || S_ISSOCK(vp->type)) {
		r = -ESPIPE;
	} else {
		pthread_mutex_lock(&f->lock);
		r = file_seek_locked(f, off, whence);
		pthread_mutex_unlock(&f->lock);
	}
	file_put(f);
	return r;
}

/* ---- directory reading ------------------------------------------------- */

struct readdir_state {
	struct uvfs_dirent *ents;
	size_t n, max;
	uint64_t next;          /* cookie after the last entry stored */
};

static int readdir_fill(void *arg, const char *name, uint64_t ino,
			unsigned char type, uint64_t next)
{
	struct readdir_state *s = arg;
	struct uvfs_dirent *de;
	size_t len;

	if (s->n >= s->max)
		return 1;       /* full: this entry is not consumed */
	de = &s->ents[s->n++];
	len = strnlen(name, sizeof(de->name) - 1);
	de->ino = ino;
	de->next = next;
	de->type = type;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	s->next = next;
	return 0;
}

ssize_t uvfs_readdir(struct uvfs_ctx *ctx, int fd, struct uvfs_dirent *ents,
		     size_t nents)
{
	struct readdir_state s = { .ents = ents, .max = nents };
	struct file *f;
	ssize_t r = fd_get_real(ctx, fd, &f);

	if (r)
		return r;
	if (!vn_isdir(f->path.vp)) {
		r = -ENOTDIR;
	} else if (nents == 0) {
		r = 0;
	} else {
		pthread_mutex_lock(&f->lock);
		r = vop_readdir(f->path.vp, file_fh(f), (uint64_t)f->pos,
				readdir_fill, &s);
		if (s.n > 0) {
			/* entries delivered count even if the driver failed
			 * after them; the error comes again next call */
			f->pos = (off_t)s.next;
			r = (ssize_t)s.n;
		}
		pthread_mutex_unlock(&f->lock);
	}
	file_put(f);
	return r;
}

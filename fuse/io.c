/*
 * io.c - the FUSE operations on open files: open and create (an open
 * that may make the file), read, write, flush, release (of files and
 * directories), fsync, fallocate, lseek (SEEK_DATA/SEEK_HOLE) and
 * copy_file_range, over the file API of libuvfs; and the handles they
 * share with opendir (ops.c).
 *
 * Owns the struct fh of each open file and directory: made by
 * open_handle (open, create, opendir; fh_link puts it on uf->fh_list),
 * freed by release and releasedir (fh_free), or by uvfs_fuse_free for
 * those the kernel never released.  A handle is marked kill_sgid when it
 * is open for writing on a file setgid without group execute (at its
 * open, or by the chmod that makes the file so: fh_mark_sgid); the first
 * write through it by a user other than root clears the bit.
 *
 * Errors: the library's negative errnos; the sign flips in reply_err only.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handles ----------------------------------------------------------- */

/* "pid N", the label of a handle (what uvfs holders shows); written by
 * hand: snprintf costs more than the rest of an open's front end. */
static void pid_label(fuse_req_t req, char buf[static 16])
{
	unsigned v = (unsigned)fuse_req_ctx(req)->pid;
	char d[10];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < 10);
	memcpy(buf, "pid ", 4);
	for (int i = 0; i < n; i++)
		buf[4 + i] = d[n - 1 - i];
	buf[4 + n] = '\0';
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
void fh_mark_sgid(struct uvfs_fuse *uf, const void *node)
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

/* ---- open, read, write, close ------------------------------------------ */

/* Opens nd for the request; => a new handle in *out. */
int open_handle(fuse_req_t req, struct uvfs_ctx *ctx,
		struct uvfs_node *nd, int flags, struct fh **out)
{
	struct fh *h = malloc(sizeof(*h));      /* every field set below */
	char label[16];
	int err;

	if (!h)
		return -ENOMEM;
	pid_label(req, label);
	err = uvfs_node_open(ctx, nd, flags, label, &h->f);
	if (err) {
		free(h);
		return err;
	}
	h->flags = flags & ~UVFS_O_FILL;
	h->dev = 0;
	atomic_init(&h->kill_sgid, false);
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

void op_open(fuse_req_t req, fuse_ino_t ino,
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

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
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
	/* the kernel refuses a create's entry that is not a regular file
	 * (a file server may say so) or that entry_attr_ok refuses, and
	 * then neither counts the lookup nor releases the handle: EIO, as
	 * it would answer, here */
	if (!err && (!S_ISREG(st.st_mode) || !entry_attr_ok(&st))) {
		uvfs_node_release(nd, 1);
		err = -EIO;
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
		/* made but not opened: not -ESTALE, on which the kernel
		 * looks the name up again and retries the open (an O_EXCL
		 * one would then answer EEXIST for the file it made) */
		return reply_err(req, created && err == -ESTALE ? -EIO : err);
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

/* Reads up to this size go through a buffer on the worker's stack (a
 * 4 KiB read's malloc and free cost as much as the rest of its front
 * end); larger ones through the heap. */
#define READ_STACK 16384

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	char small[READ_STACK];
	char *buf = size <= sizeof(small) &&
		    !(UF(req)->want & FUSE_CAP_SPLICE_WRITE) ? small
							     : malloc(size);
	ssize_t n;

	if (!buf)
		return reply_err(req, -ENOMEM);
	req_begin(req, NODE(UF(req), ino), "read");
	n = uvfs_file_pread(FH(fi)->f, buf, size, off);
	req_end(UF(req));
	if (n < 0) {
		if (buf != small)
			free(buf);
		return reply_err(req, (int)n);
	}
	count(req);
	if (UF(req)->want & FUSE_CAP_SPLICE_WRITE) {
		/* libfuse splices a data reply (vmsplice, then splice) */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT((size_t)n);
		bv.buf[0].mem = buf;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	} else {
		fuse_reply_buf(req, buf, (size_t)n);
	}
	if (buf != small)
		free(buf);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
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

void op_release(fuse_req_t req, fuse_ino_t ino,
		struct fuse_file_info *fi)
{
	req_begin(req, NODE(UF(req), ino), "release");
	if (fi->flock_release)
		locks_at_close(fi);
	fh_free(UF(req), FH(fi));
	req_end(UF(req));
	reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
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
void op_flush(fuse_req_t req, fuse_ino_t ino,
	      struct fuse_file_info *fi)
{
	int err;

	req_begin(req, NODE(UF(req), ino), "flush");
	locks_at_close(fi);
	err = uvfs_file_flush(FH(fi)->f);
	req_end(UF(req));
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
 * library's (fileops.c).  Never ENOSYS, on which the kernel would stop
 * asking for good: reply_err turns it into EOPNOTSUPP (after which the
 * kernel copies through READ and WRITE itself). */
void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
		  off_t off, off_t len, struct fuse_file_info *fi)
{
	int err;

	req_begin(req, NODE(UF(req), ino), "fallocate");
	err = uvfs_file_fallocate(FH(fi)->f, mode, off, len);
	req_end(UF(req));
	if (!err)       /* once it changed something, as tmpfs */
		err = kill_sgid(req, ino, FH(fi), "fallocate");
	reply_err(req, err);
}

/* SEEK_DATA and SEEK_HOLE (the kernel answers the others itself).  With
 * the writeback cache (-o writeback) the kernel holds data and a size we
 * have not seen yet and does not write them back before it asks: ENOSYS
 * then, once, and it answers from its own size from then on (no holes,
 * but nothing missed), as for a daemon without lseek. */
void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi)
{
	off_t r;

	if (UF(req)->want & FUSE_CAP_WRITEBACK_CACHE) {
		/* meant: not through reply_err, which never says ENOSYS */
		count(req);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	req_begin(req, NODE(UF(req), ino), "lseek");
	r = uvfs_file_lseek(FH(fi)->f, off, whence);
	req_end(UF(req));
	if (r < 0)
		return reply_err(req, r == -ENOSYS ? -EINVAL : (int)r);
	count(req);
	fuse_reply_lseek(req, r);
}

void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
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
		return reply_err(req, (int)n);
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

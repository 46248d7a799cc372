/*
 * file.h - what the core's calls on files share (file.c, fileopen.c,
 * fileio.c, fileops.c, attr.c, names.c, lock.c, node.c; private to
 * lib/core): the small checks every call makes and the
 * open-file and descriptor-table entry points they use.  The rules for
 * open files and descriptor tables are in file.c.
 */
#ifndef UVFS_CORE_FILE_H
#define UVFS_CORE_FILE_H

#include "core.h"

#include <sys/stat.h>

#define RW_MAX  ((size_t)0x7ffff000)    /* Linux's MAX_RW_COUNT */
#define OFF_MAX ((off_t)INT64_MAX)

static inline bool mnt_rdonly(struct mount *m)
{
	return (atomic_load(&m->flags) & MNT_RDONLY) != 0; /* const */
}

/* The types whose writes count against a read-only mount (Linux
 * sb_permission): data on devices, fifos and sockets is not the fs's. */
static inline bool write_counts(const struct vnode *vp)
{
	return S_ISREG(vp->type) || S_ISDIR(vp->type) || S_ISLNK(vp->type);
}

static inline bool cred_root(const struct uvfs_ctx *ctx)
{
	return ctx->cred.uid == 0;
}

/* Linux inode_owner_or_capable(): the owner, or root. */
static inline int owner_or_root(const struct uvfs_ctx *ctx,
				const struct stat *st)
{
	return cred_root(ctx) || st->st_uid == ctx->cred.uid ? 0 : -EPERM;
}

/* The driver handle of f; NULL for O_PATH files and once revoked (the
 * vnode is then dead and the vops answer -EIO without using it). */
static inline void *file_fh(struct file *f)
{
	/* Without vp's stripe lock, which every read and write took: the
	 * lock never made the handle safe to use, the gate does.  A handle
	 * is released only once vp is dead and its gate drained (vnode.c,
	 * vn_unload_driver) or at f's last release (nobody else has f), so
	 * a call that read it before a revoke finds vp dead inside the gate
	 * and answers -EIO without using it, as it did after the unlock. */
	return __atomic_load_n(&f->fh, __ATOMIC_ACQUIRE);
}

/* file.c: a new open file description on p (the reference is moved in,
 * also on failure; name too).  => NULL when out of memory. */
struct file *file_new(struct path *p, int flags, const char *name);
/* file.c: installs f in the lowest free slot of ctx's table; the slot
 * takes over the caller's reference.  => the descriptor, or -EMFILE /
 * -ENOMEM (f untouched). */
int fd_install(struct uvfs_ctx *ctx, struct file *f);
/* file.c: a held file of fd for I/O: not O_PATH and open for writing (wr)
 * or for reading.  => 0 and *out, or -EBADF. */
int fd_get_io(struct uvfs_ctx *ctx, int fd, bool wr, struct file **out);
/* file.c: the lexical name of path resolved from dirfd (diagnostics).
 * => malloc'ed, NULL when out of memory. */
char *name_at(struct uvfs_ctx *ctx, int dirfd, const char *path);

/* names.c: the parent of path and, when the last component names an
 * entry, the child (not followed, looked up under the parent's directory
 * lock, which d then holds), in *d; dirop_end releases them. */
int dirop_begin(struct uvfs_ctx *ctx, int dirfd, const char *path,
		struct dirop *d);
/* The same in two steps: the parent only (d->child empty, no lock: the
 * caller takes it, dirop_lock), then the child (dirop_lookup_child,
 * core.h). */
int dirop_begin_parent(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       struct dirop *d);

#endif

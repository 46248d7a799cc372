/*
 * file.c - open files, descriptor tables, contexts, and the POSIX-shaped
 * calls of the embedding API that use them: open, close, dup, read, write,
 * lseek, readdir, chdir, chroot, getcwd.
 *
 * The open-file lifecycle (struct file, legend in core.h):
 *
 *   open      file_new: refs = 1, counted in u->nfiles, holds its path
 *             (one mount and one vnode reference, moved in from the lookup)
 *          -> vop_open sets f->fh and puts f on vp->files inside the gate,
 *             so revoke and forced unmount can release the driver handle
 *             (O_PATH files are never opened in the driver nor attached)
 *          -> installed in the lowest free slot of ctx->fds; the slot owns
 *             the reference
 *   dup/dup2  one more slot, one more reference
 *   fd_get    a call in flight holds one more reference for its duration
 *   close     the slot is cleared under fd_lock, then file_put
 *   file_put  the last reference: vn_file_detach (inside the gate: releases
 *             the driver handle unless revoke already did; on a killed gate
 *             the file is left to the reclaim as an orphan), path_put,
 *             free.  Closing always works, dead vnode or not.
 *
 * The descriptor table rules:
 *  - ctx->fds[0, nfds) grows on demand and never shrinks; a new descriptor
 *    is the lowest free one (POSIX); at most FD_MAX descriptors (-EMFILE).
 *  - Slots change only under ctx->fd_lock, and fd_get takes its reference
 *    under the same lock: a file found in a slot cannot be freed under the
 *    finder.
 *  - file_put is never called with fd_lock held (the last put enters the
 *    driver).
 *  - root, cwd, cwd_name and label are written by the owner thread under
 *    fd_lock and read under it by the holders query; the owner thread may
 *    read them without it.  cred and umask belong to the owner thread alone.
 *
 * Offsets: f->lock is held across read, write, lseek and readdir on one
 * description, so threads sharing it never interleave offsets; pread and
 * pwrite do not take it.  On a directory the offset is the readdir cookie.
 * Lock order: f->lock is taken before entering a gate (the vop runs under
 * it) and before the vnode's stripe (vn_lock, file_fh); nothing takes it
 * while holding those.
 *
 * Files that are not regular are metadata to the core: devices and fifos
 * open, reads return 0 (end of file), writes consume everything and return
 * the count (/dev/null semantics); pread, pwrite and lseek on a fifo give
 * -ESPIPE; a socket cannot be opened for I/O (-ENXIO, as Linux).
 *
 * Names: file->name and ctx->cwd_name are lexical (".", ".." and repeated
 * slashes folded against the cwd name or the dirfd's name), as seen from
 * the context's root.  They are for diagnostics only; nothing resolves them.
 *
 * The attribute calls are in attr.c, the calls that add or remove names
 * (and the dirop_* pair) in names.c; the checks all three share in file.h.
 */
#include "core.h"
#include "file.h"

#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FD_MAX  (1 << 20)               /* descriptors per context */
#define MAXSYMLINKS 40                  /* per open, as Linux (namei.c) */

_Static_assert(sizeof(off_t) == sizeof(int64_t), "64-bit off_t expected");

/* ---- small helpers (the others: file.h) ------------------------------- */

/* Linux file_remove_privs() (setattr_should_drop_suidgid()): a write or
 * a truncation by a caller without CAP_FSETID (here: anyone but root)
 * clears set-user-id, and set-group-id when group execute is set or the
 * caller is not in the file's group; tmpfs does so for the owner too.
 * Only regular files.
 * => 1 when bits were cleared, 0 when there were none, or -errno. */
int file_kill_priv(const struct uvfs_ctx *ctx, struct vnode *vp)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE };
	int r = priv_kill_mode(ctx, vp, &sa.mode);

	if (r <= 0)
		return r;
	r = vop_setattr(vp, &sa);
	return r ? r : 1;
}


/* ---- lexical names (diagnostics) --------------------------------------- */

/* Appends the components of s to the absolute name out[0, *len). */
static void lex_push(char *out, size_t *len, const char *s)
{
	while (*s) {
		const char *e = strchrnul(s, '/');
		size_t n = (size_t)(e - s);

		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (*len > 1 && out[*len - 1] != '/')
				(*len)--;
			if (*len > 1)
				(*len)--;
		} else {
			if (*len > 1)
				out[(*len)++] = '/';
			memcpy(out + *len, s, n);
			*len += n;
		}
		s = *e ? e + 1 : e;
	}
}

/* => a malloc'ed absolute name: path taken from base (absolute) unless
 *    path is absolute itself.  NULL when out of memory. */
static char *lex_join(const char *base, const char *path)
{
	size_t len = 1;
	char *out = sys_malloc(strlen(base) + strlen(path) + 3);

	if (!out)
		return NULL;
	out[0] = '/';
	if (path[0] != '/')
		lex_push(out, &len, base);
	lex_push(out, &len, path);
	out[len] = '\0';
	return out;
}

/* The lexical name of path resolved from dirfd. */
static char *name_at(struct uvfs_ctx *ctx, int dirfd, const char *path)
{
	struct file *f;
	char *name;

	if (path[0] == '/')
		return lex_join("/", path);
	if (dirfd == UVFS_AT_FDCWD)
		return lex_join(ctx->cwd_name, path); /* owner thread */
	f = fd_get(ctx, dirfd);
	name = lex_join(f ? f->name : "/", path);
	if (f)
		file_put(f);
	return name;
}

/* ---- the descriptor table ---------------------------------------------- */

/* Makes room for slot fd.
 * => fd_lock held.  -EMFILE at FD_MAX, -ENOMEM. */
static int fdt_grow_locked(struct uvfs_ctx *ctx, int fd)
{
	struct file **fds;
	int n;

	if (fd >= FD_MAX)
		return -EMFILE;
	if (fd < ctx->nfds)
		return 0;
	n = ctx->nfds ? ctx->nfds : 16;
	while (n <= fd)
		n *= 2;
	if (n > FD_MAX)
		n = FD_MAX;
	fds = sys_realloc(ctx->fds, (size_t)n * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	memset(fds + ctx->nfds, 0, (size_t)(n - ctx->nfds) * sizeof(*fds));
	ctx->fds = fds;
	ctx->nfds = n;
	return 0;
}

/* The lowest free descriptor, the table grown if needed.
 * => fd_lock held. */
static int fdt_alloc_locked(struct uvfs_ctx *ctx)
{
	int fd, r;

	for (fd = 0; fd < ctx->nfds; fd++)
		if (!ctx->fds[fd])
			return fd;
	r = fdt_grow_locked(ctx, fd);
	return r ? r : fd;
}

static struct file *fdt_lookup_locked(struct uvfs_ctx *ctx, int fd)
{
	return fd >= 0 && fd < ctx->nfds ? ctx->fds[fd] : NULL;
}

/* Installs f in the lowest free slot; the slot takes over the caller's
 * reference.  => the descriptor, or -EMFILE / -ENOMEM (f untouched). */
static int fd_install(struct uvfs_ctx *ctx, struct file *f)
{
	int fd;

	pthread_mutex_lock(&ctx->fd_lock);
	fd = fdt_alloc_locked(ctx);
	if (fd >= 0)
		ctx->fds[fd] = f;
	pthread_mutex_unlock(&ctx->fd_lock);
	return fd;
}

struct file *fd_get(struct uvfs_ctx *ctx, int fd)
{
	struct file *f;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	pthread_mutex_lock(&ctx->fd_lock);
	f = fdt_lookup_locked(ctx, fd);
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&ctx->fd_lock);
	return f;
}

void file_put(struct file *f)
{
	struct uvfs *u;
	struct path p;
	long o;

	o = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
	UVFS_VERIFY(o > 0);
	if (o != 1)
		return;
	u = f->path.mnt->u;
	p = f->path;
	pthread_mutex_destroy(&f->lock);
	free(f->name);
	f->name = NULL;
	lock_file_gone(f);      /* the locks taken through f go with it */
	/* no-op unless attached; an orphan (killed gate) is the reclaim's
	 * to free from here on */
	if (!vn_file_detach(p.vp, f)) {
		free(f);
		CNT_DEC(u->nfiles);
	}
	path_put(&p);
}

/* A new open file description on p (the reference is moved in, also on
 * failure).  => NULL when out of memory. */
static struct file *file_new(struct path *p, int flags, char *name)
{
	struct uvfs *u = p->mnt->u;
	struct file *f = sys_calloc(1, sizeof(*f));

	if (!f) {
		path_put(p);
		free(name);
		return NULL;
	}
	f->path = *p;
	*p = (struct path){ 0 };
	atomic_init(&f->refs, 1);
	f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	pthread_mutex_init(&f->lock, NULL);
	f->vlink.next = f->vlink.prev = NULL;   /* not on vp->files yet */
	f->name = name;
	CNT_INC(u->nfiles);
	return f;
}

/* A held file of fd for I/O: not O_PATH and open for writing (wr) or for
 * reading.  => -EBADF otherwise. */
static int fd_get_io(struct uvfs_ctx *ctx, int fd, bool wr, struct file **out)
{
	struct file *f = fd_get(ctx, fd);
	int acc;

	if (!f)
		return -EBADF;
	acc = f->flags & O_ACCMODE;
	if ((f->flags & O_PATH) || acc == (wr ? O_RDONLY : O_WRONLY)) {
		file_put(f);
		return -EBADF;
	}
	*out = f;
	return 0;
}

/* A held file of fd that is not O_PATH (fchmod, fsync, ...). */
int fd_get_real(struct uvfs_ctx *ctx, int fd, struct file **out)
{
	struct file *f = fd_get(ctx, fd);

	if (!f)
		return -EBADF;
	if (f->flags & O_PATH) {
		file_put(f);
		return -EBADF;
	}
	*out = f;
	return 0;
}

/* ---- contexts ---------------------------------------------------------- */

int uvfs_ctx_new(struct uvfs *u, const struct uvfs_cred *cred,
		 struct uvfs_ctx **out)
{
	struct uvfs_ctx *ctx;
	struct path root = { 0 };

	if (cred && cred->ngroups > UVFS_NGROUPS_MAX)
		return -EINVAL;
	ctx = sys_calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->cwd_name = sys_strdup("/");
	if (!ctx->cwd_name) {
		free(ctx);
		return -ENOMEM;
	}
	ctx->u = u;
	if (cred)
		ctx->cred = *cred;      /* else root: all zero */
	ctx->umask = 022;
	pthread_mutex_init(&ctx->fd_lock, NULL);

	pthread_rwlock_rdlock(&u->ns_lock);
	if (ALWAYS(u->root_mount)) {
		root.mnt = u->root_mount;
		root.vp = root.mnt->root;
		path_get(&root);        /* the root */
		path_get(&root);        /* the cwd */
	}
	pthread_rwlock_unlock(&u->ns_lock);
	if (!root.mnt) {
		pthread_mutex_destroy(&ctx->fd_lock);
		free(ctx->cwd_name);
		free(ctx);
		return -ENOENT;
	}
	ctx->root = root;
	ctx->cwd = root;

	/* from 1 (uvfs_new); 0 means "no context" in holder reports */
	ctx->id = atomic_fetch_add(&u->next_ctx_id, 1);
	pthread_mutex_lock(&u->ctx_lock);
	cds_list_add_tail(&ctx->link, &u->ctxs);
	pthread_mutex_unlock(&u->ctx_lock);
	CNT_INC(u->nctx);
	*out = ctx;
	return 0;
}

void uvfs_ctx_free(struct uvfs_ctx *ctx)
{
	struct uvfs *u;
	struct file **fds;
	struct path root, cwd;
	int nfds;

	if (!ctx)
		return;
	u = ctx->u;
	/* Out of the holders query's sight first: then nobody else looks. */
	pthread_mutex_lock(&u->ctx_lock);
	cds_list_del(&ctx->link);
	pthread_mutex_unlock(&u->ctx_lock);

	pthread_mutex_lock(&ctx->fd_lock);
	fds = ctx->fds;
	nfds = ctx->nfds;
	ctx->fds = NULL;
	ctx->nfds = 0;
	root = ctx->root;
	cwd = ctx->cwd;
	ctx->root = ctx->cwd = (struct path){ 0 };
	pthread_mutex_unlock(&ctx->fd_lock);

	for (int fd = 0; fd < nfds; fd++)
		if (fds[fd])
			file_put(fds[fd]);
	free(fds);
	path_put(&cwd);
	path_put(&root);
	free(ctx->cwd_name);
	pthread_mutex_destroy(&ctx->fd_lock);
	free(ctx);
	CNT_DEC(u->nctx);
}

uint64_t uvfs_ctx_id(const struct uvfs_ctx *ctx)
{
	return ctx->id;
}

int uvfs_ctx_set_label(struct uvfs_ctx *ctx, const char *label)
{
	pthread_mutex_lock(&ctx->fd_lock);
	snprintf(ctx->label, sizeof(ctx->label), "%s", label ? label : "");
	pthread_mutex_unlock(&ctx->fd_lock);
	return 0;
}

int uvfs_ctx_set_cred(struct uvfs_ctx *ctx, const struct uvfs_cred *cred)
{
	if (!cred || cred->ngroups > UVFS_NGROUPS_MAX)
		return -EINVAL;
	ctx->cred = *cred;
	return 0;
}

mode_t uvfs_umask(struct uvfs_ctx *ctx, mode_t mask)
{
	mode_t old = ctx->umask;

	ctx->umask = mask & 0777;
	return old;
}

/* ---- open -------------------------------------------------------------- */

/* The path naming the target of the symlink d->child, which path named:
 * path's directory part followed by the link's body, or the body alone
 * when it is absolute.  => *out malloc'ed. */
static int symlink_path(const struct dirop *d, const char *path, char **out)
{
	size_t dl = 0;
	char *body, *next;
	ssize_t n;

	body = sys_malloc(PATH_MAX);
	if (!body)
		return -ENOMEM;
	n = vop_readlink(d->child.vp, body, PATH_MAX - 1);
	if (n <= 0) {
		free(body);
		return n < 0 ? (int)n : -ENOENT;
	}
	body[n] = '\0';
	if (body[0] != '/') {
		dl = strlen(path);
		while (dl > 0 && path[dl - 1] == '/')
			dl--;
		while (dl > 0 && path[dl - 1] != '/')
			dl--;
	}
	if (dl + (size_t)n >= PATH_MAX) {
		free(body);
		return -ENAMETOOLONG;
	}
	next = sys_malloc(dl + (size_t)n + 1);
	if (next) {
		memcpy(next, path, dl);
		memcpy(next + dl, body, (size_t)n + 1);
	}
	free(body);
	if (!next)
		return -ENOMEM;
	*out = next;
	return 0;
}

/*
 * O_CREAT|O_EXCL where a lookup would ask a server (UVFS_FS_NO_NAMECACHE):
 * the create itself says whether the name exists (-EEXIST: every driver's
 * create is exclusive), so the lookup, whose only use here is that
 * answer, is not made first (one round trip less on a remote mount).  Any
 * other failure looks the name up after all, so the errors keep Linux's
 * precedence (an existing name is -EEXIST before -EACCES or -EROFS).
 * => d's parent held (dirop_begin_parent), d->np.last LAST_NORM.
 * 1: not tried (an ordinary lookup follows), 0 and *vp made, or -errno
 * (*gone set when the lookup itself failed: d released).
 */
static int create_excl_direct(struct uvfs_ctx *ctx, struct dirop *d,
			      mode_t mode, struct vnode **vp, bool *gone)
{
	struct vnode *dvp = d->np.dir.vp;
	int r;

	if (!(dvp->sb->ops->flags & UVFS_FS_NO_NAMECACHE) ||
	    d->np.trailing_slash)
		return 1;
	r = mnt_rdonly(d->np.dir.mnt) ? -EROFS :
	    may_access(ctx, dvp, W_OK | X_OK);
	if (!r)
		r = vop_create(dvp, d->np.name,
			       S_IFREG | (mode & ~ctx->umask & 07777), 0,
			       NULL, &ctx->cred, vp);
	if (r == 0 || r == -EEXIST)
		return r;
	/* a create whose outcome is unknown (its reply lost with the
	 * connection, or its deadline passed: the server may have made the
	 * file) says so: the name found now may be the file it made, and
	 * nothing (no verifier, as NFS's exclusive create has) tells it
	 * from another's */
	if (r == -EIO || r == -ETIMEDOUT || r == -EINTR)
		return r;
	/* which error Linux gives: the name's, if it exists */
	int l = dirop_lookup_child(ctx, d);
	if (l) {
		*gone = true;
		return l;
	}
	return d->child.vp ? -EEXIST : r;
}

/* O_CREAT: finds or creates the last component; a symlink there is
 * followed (unless O_NOFOLLOW or O_EXCL), and when it dangles its target
 * is created, as Linux does.  => *out held, *created set when this call
 * made the file. */
static int open_create(struct uvfs_ctx *ctx, int dirfd, const char *path,
		       int flags, mode_t mode, struct path *out,
		       bool *created)
{
	const char *p = path;
	char *followed = NULL, *next = NULL;
	int links = 0, tries = 0, r;
	struct dirop d;
	struct vnode *vp;

	for (;;) {
		bool gone = false;

		r = dirop_begin_parent(ctx, dirfd, p, &d);
		if (r)
			goto out;
		r = 1;
		if (d.np.last == LAST_NORM && (flags & O_EXCL))
			r = create_excl_direct(ctx, &d, mode, &vp, &gone);
		if (gone)
			goto out;       /* its lookup failed: d released */
		if (r == 0) {
			mount_ref(d.np.dir.mnt);
			out->mnt = d.np.dir.mnt;
			out->vp = vp;
			*created = true;
			break;
		}
		if (r < 0)
			break;
		r = dirop_lookup_child(ctx, &d);
		if (r)
			goto out;
		if (d.np.last != LAST_NORM || d.np.trailing_slash) {
			r = -EISDIR;
			break;
		}
		if (d.child.vp) {
			if (flags & O_EXCL) {
				r = -EEXIST;
				break;
			}
			if (!S_ISLNK(d.child.vp->type) || (flags & O_NOFOLLOW)) {
				*out = d.child; /* O_NOFOLLOW: ELOOP later */
				d.child = (struct path){ 0 };
				break;
			}
			if (++links > MAXSYMLINKS) {
				r = -ELOOP;
				break;
			}
			r = symlink_path(&d, p, &next);
			dirop_end(&d);
			if (r)
				goto out;
			free(followed);
			p = followed = next;
			continue;
		}
		if (mnt_rdonly(d.np.dir.mnt))
			r = -EROFS;
		else
			r = may_access(ctx, d.np.dir.vp, W_OK | X_OK);
		if (!r)
			r = vop_create(d.np.dir.vp, d.np.name,
				       S_IFREG | (mode & ~ctx->umask & 07777),
				       0, NULL, &ctx->cred, &vp);
		if (!r) {
			mount_ref(d.np.dir.mnt);
			out->mnt = d.np.dir.mnt;
			out->vp = vp;
			*created = true;
			break;
		}
		/* Lost a race with another creator: open theirs. */
		if (r != -EEXIST || (flags & O_EXCL) || ++tries > 8)
			break;
		dirop_end(&d);
	}
	dirop_end(&d);
out:
	free(followed);
	return r;
}

/* The checks of Linux may_open() and do_open() on the file found, then
 * the truncation.  => 0 when p may be opened with flags. */
static int open_check(struct uvfs_ctx *ctx, const struct path *p, int flags,
		      bool created)
{
	struct vnode *vp = p->vp;
	int acc = flags & O_ACCMODE;
	bool rd = acc != O_WRONLY, wr = acc != O_RDONLY;
	bool trunc = (flags & O_TRUNC) != 0;
	int mask, r;

	if ((flags & O_DIRECTORY) && !vn_isdir(vp))
		return -ENOTDIR;
	if (flags & O_PATH)
		return 0;
	if ((flags & O_CREAT) && vn_isdir(vp))
		return -EISDIR;
	if (S_ISLNK(vp->type))
		return -ELOOP;  /* O_NOFOLLOW on a symlink */
	if (vn_isdir(vp) && (wr || trunc))
		return -EISDIR;
	if (!created) {
		if ((wr || trunc) && write_counts(vp) && mnt_rdonly(p->mnt))
			return -EROFS;
		mask = (rd ? R_OK : 0) | (wr || trunc ? W_OK : 0);
		r = may_access(ctx, vp, mask);
		if (r)
			return r;
	}
	if (S_ISSOCK(vp->type))
		return -ENXIO;
	if (trunc && !created && S_ISREG(vp->type)) {
		/* As Linux's do_truncate for an open: the size and the times,
		 * also of a file already empty (its mtime and ctime change,
		 * where a truncate(2) to the same size changes nothing; a
		 * server's truncate to the size the file has does not touch
		 * them, so the time is asked for too).  Pages fallocate
		 * reserved past the end go as well. */
		struct uvfs_setattr sa = {
			.valid = UVFS_SET_SIZE | UVFS_SET_MTIME, .size = 0,
			.mtime = { .tv_nsec = UTIME_NOW },
		};

		r = file_kill_priv(ctx, vp);
		if (r < 0)
			return r;
		r = vop_setattr(vp, &sa);
		if (r)
			return r;
	}
	return 0;
}

int file_open_path(struct path *p, int flags, char *name, struct file **out)
{
	struct file *f = file_new(p, flags, name);
	int r;

	if (!f)
		return -ENOMEM;
	if (!(flags & O_PATH)) {
		/* sets f->fh and attaches f inside the gate, before anyone
		 * else can see f */
		r = vop_open(f->path.vp, flags & ~(O_CREAT | O_EXCL | O_TRUNC),
			     f);
		if (r) {
			file_put(f);
			return r;
		}
	}
	*out = f;
	return 0;
}

int open_check_path(struct uvfs_ctx *ctx, const struct path *p, int flags)
{
	return open_check(ctx, p, flags, false);
}

int uvfs_openat(struct uvfs_ctx *ctx, int dirfd, const char *path, int flags,
		mode_t mode)
{
	struct path p = { 0 };
	bool created = false;
	struct file *f;
	char *name;
	int r, fd;

	if (!path)
		return -EFAULT;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		return -EOPNOTSUPP;
	if (flags & O_PATH)     /* Linux: everything else is ignored */
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return -EINVAL; /* as Linux >= 6.4 */

	if (flags & O_CREAT) {
		r = open_create(ctx, dirfd, path, flags, mode, &p, &created);
	} else {
		unsigned lk = 0;

		if (!(flags & O_NOFOLLOW))
			lk |= LK_FOLLOW;
		if (flags & O_DIRECTORY)
			lk |= LK_DIRECTORY;
		r = namei_at(ctx, dirfd, path, lk, &p);
	}
	if (r)
		return r;
	r = open_check(ctx, &p, flags, created);
	if (r) {
		path_put(&p);
		return r;
	}

	name = name_at(ctx, dirfd, path);
	if (!name) {
		path_put(&p);
		return -ENOMEM;
	}
	r = file_open_path(&p, flags, name, &f);
	if (r)
		return r;
	fd = fd_install(ctx, f);
	if (fd < 0)
		file_put(f);
	return fd;
}

int uvfs_open(struct uvfs_ctx *ctx, const char *path, int flags, mode_t mode)
{
	return uvfs_openat(ctx, UVFS_AT_FDCWD, path, flags, mode);
}

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

/* The descriptor is gone whatever the flush answers (as close(2)): its
 * error is the close's. */
int uvfs_close(struct uvfs_ctx *ctx, int fd)
{
	struct file *f;
	int err;

	cred_set_current(&ctx->cred);   /* whom the operations are for */
	pthread_mutex_lock(&ctx->fd_lock);
	f = fdt_lookup_locked(ctx, fd);
	if (f)
		ctx->fds[fd] = NULL;
	pthread_mutex_unlock(&ctx->fd_lock);
	if (!f)
		return -EBADF;
	err = file_flush(f);
	file_put(f);
	return err;
}

int uvfs_dup(struct uvfs_ctx *ctx, int fd)
{
	struct file *f;
	int r;

	pthread_mutex_lock(&ctx->fd_lock);
	f = fdt_lookup_locked(ctx, fd);
	if (!f) {
		r = -EBADF;
	} else if ((r = fdt_alloc_locked(ctx)) >= 0) {
		ctx->fds[r] = f;
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&ctx->fd_lock);
	return r;
}

int uvfs_dup2(struct uvfs_ctx *ctx, int fd, int newfd)
{
	struct file *f, *old = NULL;
	int r;

	if (newfd < 0 || newfd >= FD_MAX)
		return -EBADF;
	pthread_mutex_lock(&ctx->fd_lock);
	f = fdt_lookup_locked(ctx, fd);
	if (!f) {
		r = -EBADF;
	} else if (fd == newfd) {
		r = fd;
	} else if ((r = fdt_grow_locked(ctx, newfd)) == 0) {
		old = ctx->fds[newfd];
		ctx->fds[newfd] = f;
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
		r = newfd;
	}
	pthread_mutex_unlock(&ctx->fd_lock);
	if (old)
		file_put(old);
	return r;
}

/* ---- I/O ----------------------------------------------------------------- */

/* off < 0: at the file position, which advances. */
ssize_t file_read(struct file *f, void *buf, size_t n, off_t off)
{
	struct vnode *vp = f->path.vp;
	bool atpos = off < 0;
	ssize_t r;

	if (vn_isdir(vp))
		return -EISDIR;
	if (!atpos && (S_ISFIFO(vp->type) || S_ISSOCK(vp->type)))
		return -ESPIPE;
	if (n == 0 || !S_ISREG(vp->type))
		return 0;
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

	if (vn_isdir(vp))
		return -EISDIR;
	if (!atpos && (S_ISFIFO(vp->type) || S_ISSOCK(vp->type)))
		return -ESPIPE;
	if (n > RW_MAX)
		n = RW_MAX;
	if (n == 0 || !S_ISREG(vp->type))
		return (ssize_t)n;      /* metadata only: swallowed */
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

/* ---- root and working directory ---------------------------------------- */

/* Replaces the cwd by *p (moved in) named name (moved in). */
static void set_cwd(struct uvfs_ctx *ctx, struct path *p, char *name)
{
	struct path old;
	char *oname;

	pthread_mutex_lock(&ctx->fd_lock);
	old = ctx->cwd;
	oname = ctx->cwd_name;
	ctx->cwd = *p;
	ctx->cwd_name = name;
	pthread_mutex_unlock(&ctx->fd_lock);
	*p = (struct path){ 0 };
	path_put(&old);
	free(oname);
}

/* A directory ctx may enter (search permission). */
static int lookup_dir(struct uvfs_ctx *ctx, const char *path, struct path *out)
{
	int r;

	if (!path)
		return -EFAULT;
	r = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW | LK_DIRECTORY, out);
	if (r)
		return r;
	if (!vn_isdir(out->vp))
		r = -ENOTDIR;
	else
		r = may_access(ctx, out->vp, X_OK);
	if (r)
		path_put(out);
	return r;
}

int uvfs_chdir(struct uvfs_ctx *ctx, const char *path)
{
	struct path p;
	char *name;
	int r = lookup_dir(ctx, path, &p);

	if (r)
		return r;
	name = name_at(ctx, UVFS_AT_FDCWD, path);
	if (!name) {
		path_put(&p);
		return -ENOMEM;
	}
	set_cwd(ctx, &p, name);
	return 0;
}

int uvfs_fchdir(struct uvfs_ctx *ctx, int fd)
{
	struct file *f = fd_get(ctx, fd);
	struct path p;
	char *name;
	int r;

	if (!f)
		return -EBADF;
	if (!vn_isdir(f->path.vp))
		r = -ENOTDIR;
	else
		r = may_access(ctx, f->path.vp, X_OK);
	if (!r && !(name = sys_strdup(f->name)))
		r = -ENOMEM;
	if (!r) {
		p = f->path;
		path_get(&p);
		set_cwd(ctx, &p, name);
	}
	file_put(f);
	return r;
}

int uvfs_chroot(struct uvfs_ctx *ctx, const char *path)
{
	struct path p, old;
	int r = lookup_dir(ctx, path, &p);

	if (r)
		return r;
	if (!cred_root(ctx)) {
		path_put(&p);
		return -EPERM;
	}
	/* The cwd stays where it is, as in Linux; so does its name. */
	pthread_mutex_lock(&ctx->fd_lock);
	old = ctx->root;
	ctx->root = p;
	pthread_mutex_unlock(&ctx->fd_lock);
	path_put(&old);
	return 0;
}

int uvfs_getcwd(struct uvfs_ctx *ctx, char *buf, size_t size)
{
	struct path root, cwd;
	char *tmp;
	int r;

	if (size == 0)
		return -ERANGE;
	if (!buf)
		return -EFAULT;
	tmp = sys_malloc(size);
	if (!tmp)
		return -ENOMEM;
	root = ctx->root;       /* owner thread: stable */
	cwd = ctx->cwd;
	r = path_name(ctx, &root, &cwd, tmp, size);
	if (r >= 0) {
		if ((size_t)r >= size) {
			r = -ERANGE;
		} else {
			memcpy(buf, tmp, (size_t)r + 1);
			r++;    /* with the NUL */
		}
	}
	free(tmp);
	return r;
}

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
 * Here: the open-file objects (file_new, fd_get, file_put), the
 * descriptor table, contexts, close and dup, the root and the working
 * directory.  The open calls are in fileopen.c; read, write, lseek,
 * readdir, flush and fsync in fileio.c; the attribute calls in attr.c;
 * the calls that add or remove names (and the dirop_* pair) in names.c;
 * the checks and entry points they share in file.h.
 */
#include "core.h"
#include "file.h"

#include <stdio.h>

#define FD_MAX  (1 << 20)               /* descriptors per context */

/* ---- small helpers (the others: file.h) ------------------------------- */

/* Linux file_remove_privs() (setattr_should_drop_suidgid()): a write or
 * a truncation by a caller without CAP_FSETID (here: anyone but root)
 * clears set-user-id, and set-group-id when group execute is set or the
 * caller is not in the file's group; tmpfs does so for the owner too.
 * Only regular files.
 * => 1 when bits were cleared, 0 when there were none, or -errno. */
int file_kill_priv(const struct uvfs_ctx *ctx, struct vnode *vp)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE | UVFS_SET_KILLPRIV };
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
char *name_at(struct uvfs_ctx *ctx, int dirfd, const char *path)
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
int fd_install(struct uvfs_ctx *ctx, struct file *f)
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
 * failure), named name (copied into it).  => NULL when out of memory. */
struct file *file_new(struct path *p, int flags, const char *name)
{
	struct uvfs *u = p->mnt->u;
	size_t n = strlen(name) + 1;
	struct file *f = sys_calloc(1, sizeof(*f) + n);

	if (!f) {
		path_put(p);
		return NULL;
	}
	memcpy(f->name, name, n);
	f->path = *p;
	*p = (struct path){ 0 };
	atomic_init(&f->refs, 1);
	f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	pthread_mutex_init(&f->lock, NULL);
	f->vlink.next = f->vlink.prev = NULL;   /* not on vp->files yet */
	CNT_INC(u->nfiles);
	return f;
}

/* A held file of fd for I/O: not O_PATH and open for writing (wr) or for
 * reading.  => -EBADF otherwise. */
int fd_get_io(struct uvfs_ctx *ctx, int fd, bool wr, struct file **out)
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

/* A descriptor's file, taken out of ctx's table: closed as Linux's
 * filp_close closes it (uvfs_close, a dup2 over it, the context's free):
 * flushed for ctx's credentials, then the descriptor's hold dropped.
 * => the flush's error. */
static int fd_close(struct uvfs_ctx *ctx, struct file *f)
{
	int err;

	cred_set_current(&ctx->cred);   /* whom the flush is for */
	err = file_flush(f);
	file_put(f);
	return err;
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

	/* each descriptor closed as uvfs_close does, flush included (as
	 * Linux's exit closes every file) */
	for (int fd = 0; fd < nfds; fd++)
		if (fds[fd])
			(void)fd_close(ctx, fds[fd]);
	free(fds);
	path_put(&cwd);
	path_put(&root);
	free(ctx->cwd_name);
	free(ctx->pcache);
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

/* ---- close and dup ----------------------------------------------------- */

/* The descriptor is gone whatever the flush answers (as close(2)): its
 * error is the close's. */
int uvfs_close(struct uvfs_ctx *ctx, int fd)
{
	struct file *f;

	pthread_mutex_lock(&ctx->fd_lock);
	f = fdt_lookup_locked(ctx, fd);
	if (f)
		ctx->fds[fd] = NULL;
	pthread_mutex_unlock(&ctx->fd_lock);
	if (!f)
		return -EBADF;
	return fd_close(ctx, f);
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
	/* newfd closed as uvfs_close does (its error has nobody to go to,
	 * as Linux's dup2 drops filp_close's) */
	if (old)
		(void)fd_close(ctx, old);
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
static int lookup_dir_once(struct uvfs_ctx *ctx, const char *path,
			   struct path *out)
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

static int lookup_dir(struct uvfs_ctx *ctx, const char *path, struct path *out)
{
	return RETRY_ESTALE(lookup_dir_once(ctx, path, out));
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

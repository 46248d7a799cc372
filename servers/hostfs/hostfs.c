/*
 * hostfs.c - a host directory over 9P2000.L: confinement, identity, the
 * operations on one file and the operations table (the operations on
 * names are in names.c, extended attributes in xattr.c, path resolution
 * in resolve.c; the structures they share in hostfs_i.h).
 *
 * Confinement
 *   The export root is one O_PATH descriptor.  A fid holds no descriptor
 *   until it is opened: it holds its path relative to the root ("." for
 *   the root itself, else "a/b/c": no "", ".", ".." or symlink among its
 *   components, since walk resolves ".." lexically and refuses to walk on
 *   from anything that is not a directory), and the device and inode it
 *   named when it was walked.  Every operation re-resolves that path with
 *   openat2(root, path, O_PATH|O_NOFOLLOW,
 *   RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS): a symlink
 *   planted anywhere in the path since (a race) fails with ELOOP, an
 *   escape through ".." cannot be expressed, and if the name now refers to
 *   another file (renamed away, replaced) the operation fails with ESTALE.
 *   Paths have no length limit: a long one is resolved in pieces
 *   (resolve.c), a walk opens each name beneath the previous descriptor.
 *   Operations that take a name act with *at() calls on the resolved
 *   directory descriptor, never following a symlink in the last component
 *   (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW; linkat without AT_SYMLINK_FOLLOW).
 *   A symlink's target is only ever data: it is stored and read back,
 *   never followed by the server.
 *
 * Descriptors
 *   Only opened fids (lopen, lcreate) hold a descriptor; an operation
 *   holds one more for its duration.  The limit of open files is the only
 *   bound on open fids (EMFILE is answered as such).
 *
 * Identity
 *   Running as root, each operation runs with fsuid/fsgid set to the fid's
 *   attached user (Tattach n_uname, the group from the password database,
 *   else 65534) on the worker thread, and restored afterwards; creating
 *   operations use the request's gid as fsgid.  Supplementary groups are
 *   out of scope: main() drops the process's own, so none apply.  Not
 *   running as root, the server acts as itself whoever attaches.
 *
 * Extended attributes
 *   Reached through /proc/self/fd/N of the resolved O_PATH descriptor:
 *   the magic link lands on that very file and is not followed further,
 *   so a symlink fid reads and writes the symlink's own attributes
 *   (lgetxattr semantics) and nothing outside the export is named.
 *   Only the user., trusted. and security. namespaces pass (system.,
 *   the POSIX ACLs, is EOPNOTSUPP and hidden from lists).  setfsuid()
 *   does not drop CAP_SYS_ADMIN, so the host would let any attached user
 *   read trusted.* and write trusted.* and security.*: for a user other
 *   than root those are refused here (EPERM to write, ENODATA to read,
 *   left out of lists), as the host refuses them to that user locally.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hostfs_i.h"
#include "sys.h"

struct hostfs *hs_of(struct p9srv_req *r)
{
	return p9srv_arg(p9srv_req_srv(r));
}

/*
 * A file's generation: 16 bits folded from its birth time (statx
 * STATX_BTIME), so that a file made on an inode number the host has just
 * reused (a file removed, a directory or symlink created in its place) has
 * another qid.path than the file the client may still have cached.  0
 * where the host file system keeps no birth time (or the file is gone).
 * One statx: dfd and name as fstatat(AT_SYMLINK_NOFOLLOW); name NULL for
 * dfd itself.
 */
uint16_t hs_file_gen(int dfd, const char *name)
{
	struct statx stx;
	uint64_t h;
	int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC;

	if (!name) {
		name = "";
		flags |= AT_EMPTY_PATH;
	}
	if (statx(dfd, name, flags, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return 0;
	h = ((uint64_t)stx.stx_btime.tv_sec * 1000000007ULL) ^
	    stx.stx_btime.tv_nsec;
	h *= 0x9e3779b97f4a7c15ULL;
	return (uint16_t)(h >> 48);
}

/*
 * qid.path: the inode number; another device below the export mixes into
 * bits 48..63; the generation goes into bits 32..47 when the inode number
 * fits in 32 bits (ext4, and tmpfs by default: inode numbers that hosts
 * reuse), so a reused number is a new qid.  Larger inode numbers (xfs,
 * btrfs: not reused at once) are left as they are.
 */
static uint64_t qid_path(struct hostfs *hs, dev_t dev, ino_t ino,
			 uint16_t gen)
{
	uint64_t p = (uint64_t)ino;

	if (p >> 32 == 0)
		p |= (uint64_t)gen << 32;
	if (dev != hs->rootdev) /* another file system below the export */
		p ^= ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) &
		     0xffff000000000000ULL;
	return p;
}

static uint8_t qid_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return P9_QTDIR;
	if (S_ISLNK(mode))
		return P9_QTSYMLINK;
	return P9_QTFILE;
}

/* st and gen: one file's (file_gen of the same file). */
void hs_stat_qid(struct hostfs *hs, const struct stat *st, uint16_t gen,
		 struct p9_qid *q)
{
	q->type = qid_type(st->st_mode);
	q->version = 0;
	q->path = qid_path(hs, st->st_dev, st->st_ino, gen);
}

/* Whether st is still the file the fid named (device, inode and type:
 * an inode number reused at once for a file of another type is caught). */
bool hs_same_file(dev_t dev, ino_t ino, mode_t type, const struct stat *st)
{
	return st->st_dev == dev && st->st_ino == ino &&
	       (st->st_mode & S_IFMT) == type;
}

/* A copy of hf's path (to free; NULL: ENOMEM) and its identity. */
char *hf_snap(struct hfid *hf, dev_t *dev, ino_t *ino, mode_t *type)
{
	pthread_mutex_lock(&hf->plock);
	char *path = sys_strdup(hf->hp->path);
	if (dev)
		*dev = hf->dev;
	if (ino)
		*ino = hf->ino;
	if (type)
		*type = hf->type;
	pthread_mutex_unlock(&hf->plock);
	return path;
}

/* A name for a new or existing entry of a directory. */
int hs_name_check(struct p9_str n, char *out)
{
	if (n.len == 0 || memchr(n.s, '/', n.len))
		return -EINVAL;
	if (n.len > NAME_MAX)
		return -ENAMETOOLONG;
	if ((n.len == 1 && n.s[0] == '.') ||
	    (n.len == 2 && n.s[0] == '.' && n.s[1] == '.'))
		return -EINVAL;
	memcpy(out, n.s, n.len);
	out[n.len] = '\0';
	return 0;
}

/* --- the fid index ---
 *
 * Every fid is at the node of its path in hs->paths (lib/9p/pathidx.h),
 * listed from the node's head, so that a rename or a removal finds the
 * fids at a path, and those below it, without looking at the others
 * (names.c).  A fid's path is its node's: hf->hp->path. */

struct hfid *hs_index_first(const struct pidx_node *n)
{
	return n ? (struct hfid *)n->head : NULL;
}

static void index_unlink(struct hfid *hf)
{
	if (hf->prev)
		hf->prev->next = hf->next;
	else
		hf->hp->head = (uintptr_t)hf->next;
	if (hf->next)
		hf->next->prev = hf->prev;
}

/* => hs->flock held.  hf is put at path (len bytes), out of the node it
 * was at (if any), which goes if nothing is left at or below it.  0, or
 * -ENOMEM: hf stays where it was. */
int hs_index_put_locked(struct hostfs *hs, struct hfid *hf, const char *path,
			size_t len)
{
	struct pidx_node *n = pidx_make(&hs->paths, path, len), *old = hf->hp;

	if (!n)
		return -ENOMEM;
	if (n == old)
		return 0;
	pthread_mutex_lock(&hf->plock);
	if (old)
		index_unlink(hf);
	hf->prev = NULL;
	hf->next = hs_index_first(n);
	if (hf->next)
		hf->next->prev = hf;
	n->head = (uintptr_t)hf;
	hf->hp = n;
	pthread_mutex_unlock(&hf->plock);
	pidx_trim(&hs->paths, old);
	return 0;
}

/* => hs->flock held.  hf leaves the index (its clunk). */
void hs_index_drop_locked(struct hostfs *hs, struct hfid *hf)
{
	struct pidx_node *old = hf->hp;

	pthread_mutex_lock(&hf->plock);
	index_unlink(hf);
	hf->hp = NULL;
	pthread_mutex_unlock(&hf->plock);
	pidx_trim(&hs->paths, old);
}

static struct hfid *hf_new(struct hostfs *hs, const char *path,
			   const struct stat *st)
{
	struct hfid *hf = sys_calloc(1, sizeof(*hf));
	int err;

	if (!hf)
		return NULL;
	pthread_mutex_init(&hf->plock, NULL);
	hf->dev = st->st_dev;
	hf->ino = st->st_ino;
	hf->type = st->st_mode & S_IFMT;
	hf->fd = -1;
	hf->ofd = -1;
	pthread_mutex_lock(&hs->flock);
	err = hs_index_put_locked(hs, hf, path, strlen(path));
	pthread_mutex_unlock(&hs->flock);
	if (err) {
		pthread_mutex_destroy(&hf->plock);
		free(hf);
		return NULL;
	}
	return hf;
}

/* hf out of the index, its descriptors closed, freed (its clunk). */
static void hf_free(struct hostfs *hs, struct hfid *hf)
{
	pthread_mutex_lock(&hs->flock);
	hs_index_drop_locked(hs, hf);
	pthread_mutex_unlock(&hs->flock);
	if (hf->fd >= 0)
		sys_close(hf->fd);
	if (hf->ofd >= 0)
		sys_close(hf->ofd);
	pthread_mutex_destroy(&hf->plock);
	free(hf);
}

/* --- identity ---
 *
 * Running as root, each operation runs with its fid's user's fsuid and
 * fsgid (per thread on Linux).  What the thread has now is kept in
 * thread-local variables, so an identity already in place is not set
 * again, and it stays after the operation (nothing a thread does outside
 * an operation checks permissions; attach sets root again): a run of
 * requests by one user costs no system call at all, where setting and
 * restoring cost six per request.  An operation that needs no identity
 * is not switched at all (io_needs_identity). */

static __thread uid_t cur_fsuid;        /* the thread's fsuid now */
static __thread gid_t cur_fsgid;        /* (threads start as root) */

/* The thread takes uid/gid as its fsuid/fsgid (nothing if it has them).
 * 0, or -EPERM (the thread is left as root). */
static int id_set(struct hostfs *hs, uid_t uid, gid_t gid)
{
	if (uid == cur_fsuid && gid == cur_fsgid)
		return 0;
	atomic_fetch_add(&hs->id_switches, 1);
	if (gid != cur_fsgid)
		setfsgid(gid);
	if (uid != cur_fsuid)
		setfsuid(uid);
	/* setfsuid answers the previous value, even on failure: ask */
	if ((uid_t)setfsuid((uid_t)-1) != uid ||
	    (gid_t)setfsgid((gid_t)-1) != gid) {
		setfsuid(0);
		setfsgid(0);
		cur_fsuid = 0;
		cur_fsgid = 0;
		return -EPERM;
	}
	cur_fsuid = uid;
	cur_fsgid = gid;
	return 0;
}

/* Requests on an opened fid whose system call checks no permission (the
 * descriptor's were checked at open): Tread, Treaddir, Tfsync, and Tlock,
 * Tgetlock (record locks need no identity).  Twrite is not one of them:
 * a write by someone other than root clears the file's set-user-ID and
 * set-group-ID bits, which a write with the server's own CAP_FSETID would
 * keep. */
static bool io_needs_identity(struct p9srv_req *r, struct p9srv_fid *f)
{
	struct hfid *hf = f->priv;
	int fd;

	switch (p9srv_req_type(r)) {
	case P9_TREAD:
	case P9_TREADDIR:
	case P9_TFSYNC:
	case P9_TLOCK:
	case P9_TGETLOCK:
		break;
	default:
		return true;
	}
	if (!hf)
		return true;
	pthread_mutex_lock(&hf->plock);
	fd = hf->fd;
	pthread_mutex_unlock(&hf->plock);
	return fd < 0;
}

static int hs_enter(struct p9srv_req *r, struct p9srv_fid *f)
{
	struct hostfs *hs = hs_of(r);

	if (!hs->as_root || !io_needs_identity(r, f))
		return 0;
	return id_set(hs, f->uid, f->gid);
}

static void hs_leave(struct p9srv_req *r)
{
	(void)r;        /* the identity stays for the thread's next request */
}

/* For creating operations: the new file's group, as the client asks. */
void hs_create_gid(struct hostfs *hs, struct p9srv_fid *dir, uint32_t gid)
{
	if (hs->as_root)
		id_set(hs, dir->uid, gid == (uint32_t)-1 ? dir->gid : gid);
}

void hs_create_gid_done(struct hostfs *hs, struct p9srv_fid *dir)
{
	if (hs->as_root)
		id_set(hs, dir->uid, dir->gid);
}

unsigned long hostfs_id_switches(struct hostfs *hs)
{
	return atomic_load(&hs->id_switches);
}

size_t hostfs_indexed_paths(struct hostfs *hs)
{
	pthread_mutex_lock(&hs->flock);
	size_t n = hs->paths.n;
	pthread_mutex_unlock(&hs->flock);
	return n;
}

/* --- operations --- */

static int hs_attach(struct p9srv_req *r, struct p9srv_fid *f,
		     const struct p9_tattach *t, struct p9_qid *qid)
{
	struct hostfs *hs = hs_of(r);
	struct stat st;
	struct hfid *hf;

	/* the attach name is ignored: one export per server */
	if (hs->as_root && id_set(hs, 0, 0) < 0)   /* (as the server) */
		return -EPERM;
	if (hs->as_root) {
		struct passwd pw, *pp = NULL;
		char buf[1024];
		uid_t uid;

		if (t->n_uname != P9_NONUNAME) {
			uid = t->n_uname;
			getpwuid_r(uid, &pw, buf, sizeof(buf), &pp);
		} else {
			char name[256];
			if (t->uname.len == 0 || t->uname.len >= sizeof(name))
				return -EINVAL;
			memcpy(name, t->uname.s, t->uname.len);
			name[t->uname.len] = '\0';
			getpwnam_r(name, &pw, buf, sizeof(buf), &pp);
			if (!pp)
				return -EINVAL;
			uid = pp->pw_uid;
		}
		f->uid = uid;
		f->gid = pp ? pp->pw_gid : 65534;
	} else {
		f->uid = geteuid();
		f->gid = getegid();
	}
	if (sys_fstat(hs->rootfd, &st) < 0)
		return -errno;
	hf = hf_new(hs, ".", &st);
	if (!hf)
		return -ENOMEM;
	f->priv = hf;
	hs_stat_qid(hs, &st, hs_file_gen(hs->rootfd, NULL), qid);
	return 0;
}

/* Where a walk got to: the names walked, the path (to free) and stat of
 * the last file reached.  by_path: the error that stopped it came from a
 * resolution by a path copied from the fid (its start, or a ".."), which
 * a rename through the server may have raced.  One walk's own, on
 * hs_walk's stack: no lock; walk_once fills it at each try (path NULL or
 * a copy, whatever it returns) and hs_walk frees path. */
struct walk {
	uint16_t n;
	char *path;
	struct stat st;
	bool by_path;
};

/*
 * A walk from fid f's file through nwname names, once.  Each name is
 * opened beneath the descriptor the previous one reached (the fid's own
 * resolved by its path from the root and checked to be its file, or the
 * descriptor it keeps if it was removed through the server: removed, it
 * is only cloned), so a walk costs one openat2 per name and no path is
 * looked up whole; ".." is lexical (the root is its own parent) and
 * resolved from the root.  0 with every name walked, else the error that
 * stopped it.
 */
static int walk_once(struct hostfs *hs, struct p9srv_fid *f, bool removed,
		     uint16_t nwname, const struct p9_str *wname,
		     struct p9_qid *wqid, struct walk *w)
{
	struct hfid *fh = f->priv;
	bool owned = true;
	int fd, err = 0;

	w->n = 0;
	w->path = NULL;
	w->by_path = !removed;
	if (removed) {
		fd = hs_fid_fd_once(hs, fh, 0, &owned, &w->st);
		if (fd >= 0 && !(w->path = hf_snap(fh, NULL, NULL, NULL))) {
			hs_fd_done(fd, owned);
			fd = -ENOMEM;
		}
	} else {
		fd = hs_fid_fd_by_path_once(hs, fh, 0, &w->path, &w->st);
	}
	if (fd < 0)
		return fd;
	w->by_path = false;
	for (; w->n < nwname; w->n++) {
		struct p9_str n = wname[w->n];
		char name[NAME_MAX + 1], *next, *path = w->path;
		int nfd;

		if (!S_ISDIR(w->st.st_mode)) {
			err = -ENOTDIR;
			break;
		}
		if (n.len == 0 || memchr(n.s, '/', n.len)) {
			err = -EINVAL;
			break;
		}
		if (n.len > NAME_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(name, n.s, n.len);
		name[n.len] = '\0';
		if (strcmp(name, ".") == 0) {
			next = sys_strdup(path);
			nfd = sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
		} else if (strcmp(name, "..") == 0) {
			/* lexically: the root is its own parent */
			char *slash = strrchr(path, '/');
			if (slash)
				*slash = '\0';
			next = sys_strdup(slash ? path : ".");
			if (slash)
				*slash = '/';
			nfd = next ? hs_resolve(hs, next, O_PATH) : -ENOMEM;
			w->by_path = nfd < 0;
		} else {
			next = hs_path_join(path, name);
			nfd = next ? hs_resolve_at(fd, name, O_PATH) : -ENOMEM;
		}
		if (nfd < 0 || !next) {
			err = nfd < 0 ? nfd : -ENOMEM;
			if (nfd >= 0)
				sys_close(nfd);
			free(next);
			break;
		}
		if (sys_fstat(nfd, &w->st) < 0) {
			err = -errno;
			sys_close(nfd);
			free(next);
			break;
		}
		hs_stat_qid(hs, &w->st, hs_file_gen(nfd, NULL), &wqid[w->n]);
		hs_fd_done(fd, owned);
		fd = nfd;
		owned = true;
		free(path);
		w->path = next;
	}
	hs_fd_done(fd, owned);
	return err;
}

/*
 * Twalk.  A walk that failed on a path it copied from the fid while a
 * rename through the server moved that path (its start, or a "..": see
 * hs_rn_again) is walked again once the rename is done.  One that
 * succeeded while a rename ran may have its new fid at a path from
 * before that rename: the rename moved the fids it found in the index,
 * not this one, put there after.  So when a rename was under way or ran
 * since the walk began, the new fid's path (where it is in the index,
 * and moved by any rename since) is resolved again; if it no longer
 * reaches the file walked, the fid is dropped and the walk made again.
 * Whether f's file was removed through the server is read at each try:
 * the rename waited for may have replaced it, and then f is cloned from
 * the descriptor it was given, or a walk of names answers ENOENT.
 */
static int hs_walk(struct p9srv_req *r, struct p9srv_fid *f,
		   struct p9srv_fid *nf, uint16_t nwname,
		   const struct p9_str *wname, struct p9_qid *wqid,
		   uint16_t *nwqid)
{
	struct hostfs *hs = hs_of(r);
	struct hfid *fh = f->priv, *hf = NULL;
	struct walk w = { 0 };
	struct stat st;
	bool owned;
	int orphan, err;

	for (int tries = 1;; tries++) {
		unsigned long mark = hs_rn_mark(hs);

		/* at each try: the rename waited for may have removed f's
		 * file and given f a descriptor of it (orphan_commit) */
		pthread_mutex_lock(&fh->plock);
		orphan = fh->ofd;       /* never closed before clunk */
		pthread_mutex_unlock(&fh->plock);
		if (orphan >= 0 && nwname > 0) {
			w.n = 0;
			err = -ENOENT;  /* removed: no names in it */
			break;
		}
		err = walk_once(hs, f, orphan >= 0, nwname, wname, wqid, &w);
		if (err == 0) {
			hf = hf_new(hs, w.path, &w.st);
			free(w.path);
			if (!hf)
				return -ENOMEM;
			if (orphan >= 0 || !hs_rn_raced(hs, mark))
				break;
			/* once: this loop's tries are the walk's */
			int fd = hs_fid_fd_once(hs, hf, 0, &owned, &st);
			hs_fd_done(fd, owned);
			if (!hs_rn_again(hs, mark, fd < 0 ? fd : 0, tries))
				break;
			hf_free(hs, hf);    /* at a path from before it */
			hf = NULL;
			continue;
		}
		free(w.path);
		if (!w.by_path || !hs_rn_again(hs, mark, err, tries))
			break;
	}
	*nwqid = w.n;
	if (err == 0) {
		if (orphan >= 0) {      /* a clone of a removed file */
			int dup = sys_fcntl(orphan, F_DUPFD_CLOEXEC, 0);

			/* under plock: hf is in the index, where a removal
			 * through the server (orphan_commit) may have given
			 * it a descriptor of the same file meanwhile */
			pthread_mutex_lock(&hf->plock);
			if (hf->ofd < 0) {
				hf->ofd = dup;
				dup = -1;
			}
			pthread_mutex_unlock(&hf->plock);
			if (dup >= 0)
				sys_close(dup);
		}
		nf->priv = hf;
		return 0;
	}
	return w.n == 0 ? err : 0;
}

static int hs_getattr(struct p9srv_req *r, struct p9srv_fid *f,
		      uint64_t mask, struct p9_rgetattr *a)
{
	struct hostfs *hs = hs_of(r);
	struct stat st;
	bool owned;
	int fd;

	(void)mask;
	fd = hs_fid_fd(hs, f, 0, &owned, &st);
	if (fd < 0)
		return fd;
	hs_stat_qid(hs, &st, hs_file_gen(fd, NULL), &a->qid);
	hs_fd_done(fd, owned);
	a->valid = P9_GETATTR_BASIC;
	a->mode = st.st_mode;
	a->uid = st.st_uid;
	a->gid = st.st_gid;
	a->nlink = st.st_nlink;
	a->rdev = st.st_rdev;
	a->size = (uint64_t)st.st_size;
	a->blksize = (uint64_t)st.st_blksize;
	a->blocks = (uint64_t)st.st_blocks;
	a->atime_sec = (uint64_t)st.st_atim.tv_sec;
	a->atime_nsec = (uint64_t)st.st_atim.tv_nsec;
	a->mtime_sec = (uint64_t)st.st_mtim.tv_sec;
	a->mtime_nsec = (uint64_t)st.st_mtim.tv_nsec;
	a->ctime_sec = (uint64_t)st.st_ctim.tv_sec;
	a->ctime_nsec = (uint64_t)st.st_ctim.tv_nsec;
	return 0;
}

static int hs_setattr(struct p9srv_req *r, struct p9srv_fid *f,
		      const struct p9_tsetattr *t)
{
	struct hostfs *hs = hs_of(r);
	struct hfid *hf = f->priv;
	char proc[64];
	struct stat st;
	bool owned;
	int fd, err = 0;

	fd = hs_fid_fd(hs, f, 0, &owned, &st);
	if (fd < 0)
		return fd;
	/* the resolved descriptor names the file: reach it through our own
	 * fd table, which follows no name of the export */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (t->valid & P9_SETATTR_SIZE) {
		int acc = hf->fd >= 0 ? (int)(f->open_flags & O_ACCMODE) : -1;
		if (S_ISLNK(st.st_mode))
			err = -EINVAL;
		else if (acc == O_WRONLY || acc == O_RDWR)
			err = sys_ftruncate(fd, (off_t)t->size) < 0 ? -errno : 0;
		else
			err = truncate(proc, (off_t)t->size) < 0 ? -errno : 0;
		if (err)
			goto out;
	}
	if (t->valid & P9_SETATTR_MODE) {
		if (S_ISLNK(st.st_mode))
			err = -EOPNOTSUPP;
		else if (chmod(proc, t->mode & 07777) < 0)
			err = -errno;
		if (err)
			goto out;
	}
	if (t->valid & (P9_SETATTR_UID | P9_SETATTR_GID)) {
		uid_t uid = t->valid & P9_SETATTR_UID ? t->uid : (uid_t)-1;
		gid_t gid = t->valid & P9_SETATTR_GID ? t->gid : (gid_t)-1;
		if (sys_fchownat(fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (t->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};
		if (t->valid & P9_SETATTR_ATIME) {
			if (t->valid & P9_SETATTR_ATIME_SET) {
				ts[0].tv_sec = (time_t)t->atime_sec;
				ts[0].tv_nsec = (long)t->atime_nsec;
			} else {
				ts[0].tv_nsec = UTIME_NOW;
			}
		}
		if (t->valid & P9_SETATTR_MTIME) {
			if (t->valid & P9_SETATTR_MTIME_SET) {
				ts[1].tv_sec = (time_t)t->mtime_sec;
				ts[1].tv_nsec = (long)t->mtime_nsec;
			} else {
				ts[1].tv_nsec = UTIME_NOW;
			}
		}
		if (sys_utimensat(fd, "", ts,
				  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
out:
	hs_fd_done(fd, owned);
	return err;
}

/* The open flags a client may ask for (9P2000.L's are Linux's). */
static int open_flags(uint32_t f)
{
	return (int)(f & (O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK |
			  O_DSYNC | O_SYNC | O_DIRECT | O_DIRECTORY |
			  O_NOATIME | O_LARGEFILE)) | O_NOCTTY;
}

/*
 * Opens the file that O_PATH descriptor pfd names, with flags, through our
 * own descriptor table (no name of the export is looked up again, so no
 * race): a symlink is refused (ELOOP) and so is a device (EACCES: the
 * export is "nodev", a client must not reach host devices by creating
 * nodes).  st: pfd's stat.  A descriptor or -errno.
 */
static int reopen(int pfd, const struct stat *st, int flags)
{
	char proc[64];
	int fd;

	if (S_ISLNK(st->st_mode))
		return -ELOOP;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return -EACCES;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = sys_openat(AT_FDCWD, proc, flags | O_CLOEXEC | O_NOCTTY, 0);
	return fd < 0 ? -errno : fd;
}

static int hs_lopen(struct p9srv_req *r, struct p9srv_fid *f, uint32_t flags,
		    struct p9_qid *qid, uint32_t *iounit)
{
	struct hostfs *hs = hs_of(r);
	struct hfid *hf = f->priv;
	struct stat st;
	bool owned;
	int pfd, fd;

	pfd = hs_fid_fd(hs, f, 0, &owned, &st);
	if (pfd < 0)
		return pfd;
	fd = reopen(pfd, &st, open_flags(flags));
	hs_fd_done(pfd, owned);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&hf->plock);        /* orphan scans read it */
	hf->fd = fd;
	pthread_mutex_unlock(&hf->plock);
	hs_stat_qid(hs, &st, hs_file_gen(fd, NULL), qid);
	*iounit = 0;
	return 0;
}

/* A directory descriptor for a fid naming a directory. */
int hs_dir_fd(struct hostfs *hs, struct p9srv_fid *dir, bool *owned)
{
	return hs_fid_fd(hs, dir, O_DIRECTORY, owned, NULL);
}

static int hs_lcreate(struct p9srv_req *r, struct p9srv_fid *f,
		      const struct p9_tlcreate *t, struct p9_qid *qid,
		      uint32_t *iounit)
{
	struct hostfs *hs = hs_of(r);
	struct hfid *hf = f->priv;
	char name[NAME_MAX + 1], *npath = NULL;
	struct stat st;
	bool owned, made;
	int dfd, fd, err;

	if ((err = hs_name_check(t->name, name)) < 0)
		return err;
	dfd = hs_dir_fd(hs, f, &owned);
	if (dfd < 0)
		return dfd;
	/* a new file, or else the existing one opened as lopen would (never
	 * a device or through a symlink) */
	hs_create_gid(hs, f, t->gid);
	fd = sys_openat(dfd, name, open_flags(t->flags) | O_CREAT | O_EXCL |
			O_NOFOLLOW | O_CLOEXEC, t->mode & 07777);
	err = fd < 0 ? -errno : 0;
	made = fd >= 0;
	hs_create_gid_done(hs, f);
	if (err == -EEXIST && !(t->flags & O_EXCL)) {
		int pfd = sys_openat(dfd, name,
				     O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		err = pfd < 0 ? -errno : 0;
		if (err == 0 && sys_fstat(pfd, &st) < 0)
			err = -errno;
		if (err == 0) {
			fd = reopen(pfd, &st, open_flags(t->flags));
			err = fd < 0 ? fd : 0;
		}
		if (pfd >= 0)
			sys_close(pfd);
	}
	/* failing after the create: the client is told the file is not
	 * made, so it must not be (an O_EXCL retry would get EEXIST) */
	if (err == 0 && sys_fstat(fd, &st) < 0) {
		err = -errno;
		if (made)
			hs_undo_create(dfd, name, fd, S_IFREG);
		sys_close(fd);
	}
	/* the fid names the file now: at its path in the index (out of
	 * memory for that, the create is undone as above).  The path is the
	 * directory's as it is now, under flock: a rename of the directory
	 * through the server during the create has moved the fid with it */
	if (err == 0) {
		pthread_mutex_lock(&hs->flock);
		npath = hs_path_join(hf->hp->path, name);
		err = npath ? hs_index_put_locked(hs, hf, npath, strlen(npath))
			    : -ENOMEM;
		if (err == 0) {
			pthread_mutex_lock(&hf->plock);
			hf->dev = st.st_dev;
			hf->ino = st.st_ino;
			hf->type = st.st_mode & S_IFMT;
			hf->fd = fd;
			pthread_mutex_unlock(&hf->plock);
		}
		pthread_mutex_unlock(&hs->flock);
		if (err < 0) {
			if (made)
				hs_undo_create(dfd, name, fd, S_IFREG);
			sys_close(fd);
		}
	}
	hs_fd_done(dfd, owned);
	free(npath);
	if (err < 0)
		return err;
	hs_stat_qid(hs, &st, hs_file_gen(fd, NULL), qid);
	*iounit = 0;
	return 0;
}

static ssize_t hs_read(struct p9srv_req *r, struct p9srv_fid *f,
		       uint64_t off, void *buf, uint32_t count)
{
	struct hfid *hf = f->priv;
	ssize_t n;

	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	do
		n = S_ISFIFO(hf->type) || S_ISSOCK(hf->type)
		    ? sys_read(hf->fd, buf, count)      /* no offset there */
		    : sys_pread(hf->fd, buf, count, (off_t)off);
	while (n < 0 && errno == EINTR && !p9srv_req_flushed(r));
	return n < 0 ? -errno : n;
}

static ssize_t hs_write(struct p9srv_req *r, struct p9srv_fid *f,
			uint64_t off, const void *buf, uint32_t count)
{
	struct hfid *hf = f->priv;
	ssize_t n;

	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	do
		n = S_ISFIFO(hf->type) || S_ISSOCK(hf->type)
		    ? sys_write(hf->fd, buf, count)      /* no offset there */
		    : sys_pwrite(hf->fd, buf, count, (off_t)off);
	while (n < 0 && errno == EINTR && !p9srv_req_flushed(r));
	return n < 0 ? -errno : n;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int hs_readdir(struct p9srv_req *r, struct p9srv_fid *f,
		      uint64_t offset, struct p9_dirent_buf *b)
{
	struct hostfs *hs = hs_of(r);
	struct hfid *hf = f->priv;
	char kbuf[8192] __attribute__((aligned(8)));

	if (!S_ISDIR(hf->type))
		return -ENOTDIR;
	if (offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (sys_lseek(hf->fd, (off_t)offset, SEEK_SET) < 0) {
		/* A directory removed since it was opened has no entries:
		 * ENOENT, as getdents(2) answers.  The seek can fail first
		 * (ext4 bounds a removed directory's offsets by the file
		 * size limit, and the cookies are hashes beyond it). */
		int err = -errno;
		struct stat st;
		if (sys_fstat(hf->fd, &st) == 0 && st.st_nlink == 0)
			err = -ENOENT;
		return err;
	}
	for (;;) {
		long n = sys_getdents64(hf->fd, kbuf, sizeof(kbuf));
		if (n < 0)
			return b->len ? 0 : -errno;
		if (n == 0)
			return 0;
		for (long pos = 0; pos < n;) {
			struct linux_dirent64 *d = (void *)(kbuf + pos);
			struct p9_dirent e = {
				.offset = (uint64_t)d->d_off,
				.type = d->d_type,
				.name = p9_str(d->d_name),
			};
			e.qid.type = d->d_type == DT_DIR ? P9_QTDIR :
				     d->d_type == DT_LNK ? P9_QTSYMLINK
							 : P9_QTFILE;
			/* the generation too, so that the entry's qid is
			 * the one a walk to it answers */
			e.qid.path = qid_path(hs, hf->dev, d->d_ino,
					      hs_file_gen(hf->fd, d->d_name));
			int err = p9_dirent_put(b, &e);
			if (err == -ENOSPC)
				return b->len ? 0 : -EINVAL;
			if (err < 0)
				return err;
			pos += d->d_reclen;
		}
	}
}

static ssize_t hs_readlink(struct p9srv_req *r, struct p9srv_fid *f,
			   char *buf, size_t cap)
{
	struct hostfs *hs = hs_of(r);
	bool owned;
	ssize_t n;
	int fd;

	fd = hs_fid_fd(hs, f, 0, &owned, NULL);
	if (fd < 0)
		return fd;
	n = sys_readlinkat(fd, "", buf, cap);
	if (n < 0)
		n = errno == ENOENT ? -EINVAL : -errno;
	else if ((size_t)n == cap)
		n = -ENAMETOOLONG;
	hs_fd_done(fd, owned);
	return n;
}

static int hs_statfs(struct p9srv_req *r, struct p9srv_fid *f,
		     struct p9_rstatfs *o)
{
	struct hostfs *hs = hs_of(r);
	struct statfs s;
	bool owned;
	int fd, err = 0;

	fd = hs_fid_fd(hs, f, 0, &owned, NULL);
	if (fd < 0)
		return fd;
	if (sys_fstatfs(fd, &s) < 0) {
		err = -errno;
	} else {
		uint32_t id[2];
		memcpy(id, &s.f_fsid, sizeof(id));
		o->type = (uint32_t)s.f_type;
		o->bsize = (uint32_t)s.f_bsize;
		o->blocks = s.f_blocks;
		o->bfree = s.f_bfree;
		o->bavail = s.f_bavail;
		o->files = s.f_files;
		o->ffree = s.f_ffree;
		o->fsid = (uint64_t)id[0] | (uint64_t)id[1] << 32;
		o->namelen = (uint32_t)s.f_namelen;
	}
	hs_fd_done(fd, owned);
	return err;
}

static int hs_fsync(struct p9srv_req *r, struct p9srv_fid *f,
		    uint32_t datasync)
{
	struct hfid *hf = f->priv;

	(void)r;
	if ((datasync ? sys_fdatasync(hf->fd) : sys_fsync(hf->fd)) < 0)
		return -errno;
	return 0;
}

/*
 * Byte-range locks: open-file-description locks on the fid's descriptor,
 * so each opened fid is its own owner (two fids conflict, as two local
 * processes would).  Never blocks: a conflicting Tlock answers BLOCKED
 * and the client retries (as v9fs does for P9_LOCK_FLAGS_BLOCK).
 */
static int lock_fd(struct p9srv_fid *f)
{
	struct hfid *hf = f->priv;
	return hf->fd;
}

static int hs_lock(struct p9srv_req *r, struct p9srv_fid *f,
		   const struct p9_tlock *t, uint8_t *status)
{
	struct flock fl = { .l_whence = SEEK_SET };
	int fd = lock_fd(f);

	(void)r;
	if (fd < 0)
		return -EBADF;
	switch (t->type) {
	case P9_LOCK_TYPE_RDLCK: fl.l_type = F_RDLCK; break;
	case P9_LOCK_TYPE_WRLCK: fl.l_type = F_WRLCK; break;
	case P9_LOCK_TYPE_UNLCK: fl.l_type = F_UNLCK; break;
	default: return -EINVAL;
	}
	if (t->start > (uint64_t)INT64_MAX || t->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	fl.l_start = (off_t)t->start;
	fl.l_len = (off_t)t->length;            /* 0: to the end */
	if (sys_fcntl_lock(fd, F_OFD_SETLK, &fl) == 0)
		*status = P9_LOCK_SUCCESS;
	else if (errno == EAGAIN || errno == EACCES)
		*status = P9_LOCK_BLOCKED;
	else
		return -errno;
	return 0;
}

static int hs_getlock(struct p9srv_req *r, struct p9srv_fid *f,
		      const struct p9_tgetlock *t, struct p9_rgetlock *o)
{
	struct flock fl = { .l_whence = SEEK_SET };
	int fd = lock_fd(f);

	(void)r;
	if (fd < 0)
		return -EBADF;
	if (t->type == P9_LOCK_TYPE_RDLCK)
		fl.l_type = F_RDLCK;
	else if (t->type == P9_LOCK_TYPE_WRLCK)
		fl.l_type = F_WRLCK;
	else
		return -EINVAL;
	if (t->start > (uint64_t)INT64_MAX || t->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	fl.l_start = (off_t)t->start;
	fl.l_len = (off_t)t->length;
	if (sys_fcntl_lock(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	o->client_id = t->client_id;
	if (fl.l_type == F_UNLCK) {
		o->type = P9_LOCK_TYPE_UNLCK;
		o->start = t->start;
		o->length = t->length;
		o->proc_id = t->proc_id;
	} else {
		o->type = fl.l_type == F_RDLCK ? P9_LOCK_TYPE_RDLCK
					       : P9_LOCK_TYPE_WRLCK;
		o->start = (uint64_t)fl.l_start;
		o->length = (uint64_t)fl.l_len;
		o->proc_id = (uint32_t)fl.l_pid;        /* -1: another fid */
	}
	return 0;
}

static void hs_clunk(struct p9srv *srv, struct p9srv_fid *f)
{
	struct hostfs *hs = p9srv_arg(srv);
	struct hfid *hf = f->priv;

	if (!hf)
		return;
	hf_free(hs, hf);
	f->priv = NULL;
}

const struct p9srv_ops hostfs_ops = {
	.attach = hs_attach,
	.walk = hs_walk,
	.getattr = hs_getattr,
	.setattr = hs_setattr,
	.lopen = hs_lopen,
	.lcreate = hs_lcreate,
	.read = hs_read,
	.write = hs_write,
	.readdir = hs_readdir,
	.mkdir = hs_mkdir,
	.symlink = hs_symlink,
	.mknod = hs_mknod,
	.link = hs_link,
	.rename = hs_rename,
	.renameat = hs_renameat,
	.unlinkat = hs_unlinkat,
	.remove = hs_remove,
	.readlink = hs_readlink,
	.statfs = hs_statfs,
	.fsync = hs_fsync,
	.lock = hs_lock,
	.getlock = hs_getlock,
	.xattrwalk = hs_xattrwalk,
	.xattrcreate = hs_xattrcreate,
	.clunk = hs_clunk,
	.enter = hs_enter,
	.leave = hs_leave,
};

int hostfs_open(const char *dir, struct hostfs **out)
{
	struct hostfs *hs;
	struct stat st;
	int fd, probe;

	fd = sys_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* must be readable and searchable by the server itself */
	probe = sys_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (probe < 0 || sys_fstat(fd, &st) < 0) {
		int err = -errno;
		if (probe >= 0)
			sys_close(probe);
		sys_close(fd);
		return err;
	}
	sys_close(probe);
	if (geteuid() != 0 && faccessat(fd, ".", X_OK, AT_EACCESS) < 0) {
		int err = -errno;
		sys_close(fd);
		return err;
	}
	hs = sys_calloc(1, sizeof(*hs));
	if (!hs) {
		sys_close(fd);
		return -ENOMEM;
	}
	hs->rootfd = fd;
	hs->rootdev = st.st_dev;
	pthread_mutex_init(&hs->flock, NULL);
	/* writers (renames) first: a stream of removals and links, which
	 * read it, cannot keep a rename waiting (glibc's default prefers
	 * readers) */
	pthread_rwlockattr_t rwa;
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&hs->rn_lock, &rwa);
	pthread_rwlockattr_destroy(&rwa);
	hs->as_root = geteuid() == 0;
	*out = hs;
	return 0;
}

void hostfs_close(struct hostfs *hs)
{
	if (!hs)
		return;
	sys_close(hs->rootfd);
	pthread_mutex_destroy(&hs->flock);
	pthread_rwlock_destroy(&hs->rn_lock);
	pidx_fini(&hs->paths);
	free(hs);
}

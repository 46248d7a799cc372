/*
 * resolve.c - hostfs's paths: a fid's path (relative to the export root,
 * no "..", no length limit) resolved to a descriptor beneath the root
 * (docs/server.md, "Confinement"), and paths joined; a fid's file by its
 * path, checked to be the file the fid named, and resolved again when a
 * rename through the server raced the resolution (hs_fid_fd, hs_rn_again);
 * and hs->rn_lock, which the renames through the server write and the
 * removals and links of a fid read (hs_rn_enter, hs_rn_read_enter).
 * Nothing here holds state but each thread's note of whether it holds
 * that lock (rn_held): the descriptors returned are the caller's to close
 * (hs_fd_done).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostfs_i.h"
#include "sys.h"

/* openat2 of path beneath dirfd (no symlink, no magic link, nothing
 * above dirfd); a descriptor or -errno. */
int hs_resolve_at(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_FLAGS,
	};
	for (int tries = 0;; tries++) {
		long fd = sys_openat2(dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a rename raced with the walk; try again.  EXDEV
		 * too: a path here has no ".." and no symlink is followed,
		 * so it "escapes" only when a rename moves a directory of
		 * it while the walk is under way (the kernel's last check
		 * that the file is beneath dirfd sees the move half done):
		 * a concurrent rename of a directory between two parents
		 * below the root gave EXDEV about once in 100 000 lookups
		 * (tests/test_9prace.c) */
		if ((errno != EAGAIN && errno != EXDEV) || tries >= 16)
			return -errno;
	}
}

/* Is directory fd (still) below the export root?  Its ".." chain is
 * followed up to the root (0) or to the top of the host's tree (-EXDEV:
 * it was moved out). */
static int below_root(struct hostfs *hs, int fd)
{
	struct stat root, st;
	int cur = sys_fcntl(fd, F_DUPFD_CLOEXEC, 0), err = 0;

	if (cur < 0 || sys_fstat(hs->rootfd, &root) < 0)
		err = -errno;
	while (err == 0) {
		if (sys_fstat(cur, &st) < 0) {
			err = -errno;
			break;
		}
		if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
			break;
		int up = sys_openat(cur, "..", O_PATH | O_DIRECTORY |
				    O_CLOEXEC, 0);
		if (up < 0) {
			err = -errno;
			break;
		}
		struct stat ust;
		if (sys_fstat(up, &ust) < 0 ||
		    (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino))
			err = -EXDEV;   /* the host's root: not below ours */
		sys_close(cur);
		cur = up;
	}
	if (cur >= 0)
		sys_close(cur);
	return err;
}

/*
 * openat2 beneath the root; a descriptor or -errno.  A path longer than
 * the kernel takes at once (PATH_MAX) is resolved in pieces of whole
 * names, each beneath the directory the previous one reached: a path
 * holds no ".." and no symlink is followed, so each piece stays below the
 * root as long as its starting directory is; that is checked once at the
 * end (a directory renamed out of the export between two pieces fails
 * the resolution with ENOENT).
 */
int hs_resolve(struct hostfs *hs, const char *path, int flags)
{
	size_t len = strlen(path);
	const char *p = path;
	char piece[PATH_MAX];
	int dfd = hs->rootfd, fd;

	if (len < PATH_MAX)
		return hs_resolve_at(hs->rootfd, path, flags);
	for (;;) {
		size_t n = strlen(p);
		bool last = n < PATH_MAX;
		if (!last) {
			n = PATH_MAX - 1;
			while (n > 0 && p[n] != '/')
				n--;
			if (n == 0) {
				fd = -ENAMETOOLONG;
				break;
			}
		}
		memcpy(piece, p, n);
		piece[n] = '\0';
		fd = hs_resolve_at(dfd, piece, last ? flags : O_PATH | O_DIRECTORY);
		if (fd < 0 || last)
			break;
		if (dfd != hs->rootfd)
			sys_close(dfd);
		dfd = fd;
		p += n + 1;
	}
	if (fd >= 0) {
		/* the directory the last piece started from */
		int err = below_root(hs, dfd);
		if (err) {
			sys_close(fd);
			fd = err == -EXDEV ? -ENOENT : err;
		}
	}
	if (dfd != hs->rootfd)
		sys_close(dfd);
	return fd;
}

/* dir/name, to free (NULL: ENOMEM).  A path has no length limit (the
 * host's is on one call, not on a tree's depth: hs_resolve). */
char *hs_path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *out;

	if (strcmp(dir, ".") == 0)
		return sys_strdup(name);
	out = sys_malloc(dl + nl + 2);
	if (out) {
		memcpy(out, dir, dl);
		out[dl] = '/';
		memcpy(out + dl + 1, name, nl + 1);
	}
	return out;
}

/* --- resolutions by path that a rename raced ---
 *
 * A rename through the server (names.c) makes rn_seq odd just before its
 * renameat and even again once it has moved its fids in the index.  A
 * fid's path copied meanwhile may name where the file was: resolved, it
 * leads nowhere (ENOENT, ENOTDIR) or to another file (ESTALE), although
 * the file is there under its new name.  So every resolution by a fid's
 * path runs as
 *
 *	for (int tries = 1;; tries++) {
 *		unsigned long mark = hs_rn_mark(hs);
 *		err = (copy the path, resolve it);
 *		if (!hs_rn_again(hs, mark, err, tries))
 *			break;
 *	}
 *
 * The wait takes rn_lock for reading and drops it, holding no other
 * lock: neither flock nor any plock (the lock order: docs/locking.md),
 * nor rn_lock itself.  A resolution made with rn_lock held, written (a
 * rename's own: names.c) or read (the entry of a removal's or a link's
 * fid: names.c, fid_entry, which so tries once), never goes round again:
 * no rename moves rn_seq while it is held, so hs_rn_raced is false.
 * Were it to wait, a second read of rn_lock behind a rename queued for
 * it (writers are preferred) or a read under its own write would never
 * return: each thread notes whether it holds rn_lock (rn_held), and the
 * wait asserts that it does not. */

/* Resolutions by a path a rename through the server moved meanwhile,
 * tried again after it: at most this many in all. */
#define RN_TRIES 8

/* This thread holds an rn_lock (of any hostfs), either way. */
static _Thread_local bool rn_held;

/* A rename through the server begins (rn_lock written: no other rename
 * and no removal or link of a fid is under way, rn_seq is even) and
 * ends. */
void hs_rn_enter(struct hostfs *hs)
{
	assert(!rn_held);
	pthread_rwlock_wrlock(&hs->rn_lock);
	rn_held = true;
	assert((atomic_load(&hs->rn_seq) & 1) == 0);
}

void hs_rn_exit(struct hostfs *hs)
{
	assert(rn_held);
	rn_held = false;
	pthread_rwlock_unlock(&hs->rn_lock);
}

/* A removal or a link of a fid begins its check of the fid's entry
 * (rn_lock read: no rename through the server runs until its act on the
 * entry is done, and rn_seq does not move), and ends. */
void hs_rn_read_enter(struct hostfs *hs)
{
	assert(!rn_held);
	pthread_rwlock_rdlock(&hs->rn_lock);
	rn_held = true;
}

void hs_rn_read_exit(struct hostfs *hs)
{
	assert(rn_held);
	rn_held = false;
	pthread_rwlock_unlock(&hs->rn_lock);
}

unsigned long hs_rn_mark(struct hostfs *hs)
{
	return atomic_load(&hs->rn_seq);
}

/* A rename through the server was under way at mark, or began since. */
bool hs_rn_raced(struct hostfs *hs, unsigned long mark)
{
	unsigned long now = atomic_load(&hs->rn_seq);

	return now != mark || (now & 1);
}

/* => mark: hs_rn_mark before the path was copied; err: the resolution's
 * result (0, a descriptor or -errno); tries: how many were made.
 * Whether to resolve again: err says the path led nowhere or elsewhere,
 * a rename through the server was under way at mark or began since, and
 * fewer than RN_TRIES were made.  If so, that rename (or the one under
 * way now) has finished when this returns.  With rn_lock held (a
 * rename's own resolutions) it never waits: rn_seq does not move. */
bool hs_rn_again(struct hostfs *hs, unsigned long mark, int err, int tries)
{
	if ((err != -ENOENT && err != -ESTALE && err != -ENOTDIR) ||
	    tries >= RN_TRIES || !hs_rn_raced(hs, mark))
		return false;
	assert(!rn_held);
	pthread_rwlock_rdlock(&hs->rn_lock);
	pthread_rwlock_unlock(&hs->rn_lock);
	return true;
}

/* The fid's file by its path, once: a fresh O_PATH descriptor (flags
 * added) checked to be the file the fid named (-ESTALE if not), its stat
 * in st, and in *pathp (if not NULL; to free) the copy of the path that
 * was resolved.  An error (-ENOMEM: no copy). */
int hs_fid_fd_by_path_once(struct hostfs *hs, struct hfid *hf,
			       int flags, char **pathp, struct stat *st)
{
	char *path;
	dev_t dev;
	ino_t ino;
	mode_t type;
	int fd;

	if (!(path = hf_snap(hf, &dev, &ino, &type)))
		return -ENOMEM;
	fd = hs_resolve(hs, path, O_PATH | flags);
	if (fd >= 0 && sys_fstat(fd, st) < 0) {
		int err = -errno;
		sys_close(fd);
		fd = err;
	} else if (fd >= 0 && !hs_same_file(dev, ino, type, st)) {
		sys_close(fd);
		fd = -ESTALE;
	}
	if (fd >= 0 && pathp)
		*pathp = path;
	else
		free(path);
	return fd;
}

/*
 * The fid's file, once: its open descriptor if opened, or the one it
 * keeps if removed through the server (*owned false), else a fresh
 * O_PATH one by its path (hs_fid_fd_by_path_once, *owned true).  Which, is
 * read under plock at each try: a rename through the server that replaced
 * the fid's file gives it a descriptor before it is done (orphan_commit),
 * and a try after it waited for that rename must use it.  flags: added to
 * a fresh descriptor's; O_DIRECTORY: -ENOTDIR if not a directory.
 */
int hs_fid_fd_once(struct hostfs *hs, struct hfid *hf, int flags,
		       bool *owned, struct stat *st)
{
	int fd;

	pthread_mutex_lock(&hf->plock);
	fd = hf->fd >= 0 ? hf->fd : hf->ofd;    /* never closed before clunk */
	pthread_mutex_unlock(&hf->plock);
	if (fd < 0) {
		fd = hs_fid_fd_by_path_once(hs, hf, flags, NULL, st);
		*owned = fd >= 0;
		return fd;
	}
	*owned = false;
	if (sys_fstat(fd, st) < 0)
		return -errno;
	if ((flags & O_DIRECTORY) && !S_ISDIR(st->st_mode))
		return -ENOTDIR;
	return fd;
}

/* hs_fid_fd_once, tried again after a rename that raced it (hs_rn_again). */
int hs_fid_fd(struct hostfs *hs, struct p9srv_fid *f, int flags,
	      bool *owned, struct stat *st)
{
	struct stat sb;
	int fd;

	if (!st)
		st = &sb;
	for (int tries = 1;; tries++) {
		unsigned long mark = hs_rn_mark(hs);

		fd = hs_fid_fd_once(hs, f->priv, flags, owned, st);
		if (!hs_rn_again(hs, mark, fd, tries))
			return fd;
	}
}

void hs_fd_done(int fd, bool owned)
{
	if (owned && fd >= 0)
		sys_close(fd);
}

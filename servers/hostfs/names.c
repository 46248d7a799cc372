/*
 * names.c - the hostfs operations that make, link, rename and remove
 * names: mkdir, symlink, mknod, link, rename, renameat, unlinkat, remove.
 *
 * Each acts with *at() calls on its directory fid's resolved descriptor
 * (hostfs.c, "Confinement"), never following a symlink in the last
 * component; link, rename and remove act on the entry that names their
 * fid, in its parent resolved by the fid's path (fid_entry), after
 * checking that the entry is still the fid's file.  That check and the
 * act are two calls on a name: a rename through the server between them
 * would put another file at the name, and the remove would delete it,
 * the link link it.  So each holds hs->rn_lock from its check to its act
 * (a rename writes it, remove and link read it: no rename runs between,
 * and none is under way, so the check needs no retry after one).  Only
 * the server's renames are kept out: other clients' removal and new
 * entry at the name (two requests), or a change on the host, can still
 * come between.  unlinkat acts on a name, not on a fid's entry, and
 * reads rn_lock only so that the removed file's descriptor goes to its
 * own fids (hs_unlinkat).  A rename moves the path of every fid at
 * or below the old name (rename_fids).  A file removed through the server
 * while another fid still names it gives that fid an O_PATH descriptor of
 * its own (hfid->ofd, set once: orphan_prepare, orphan_commit), closed at
 * clunk.  Both find the fids concerned through the fid index (hs->paths,
 * by path: hostfs.c), so their cost is that of the fids at the path (and,
 * for a rename, below it), not of every fid the server holds.  Nothing
 * here outlives the request; the objects (struct hostfs, struct hfid)
 * and their locks are those of hostfs.c.  A create whose request fails
 * after the entry is made removes it again (hs_undo_create, also used by
 * lcreate in hostfs.c).
 *
 * Locks: hs->rn_lock (written by renames through the server, one at a
 * time: from their paths to their fids moved; read by remove and link
 * from their check to their act), hs->flock (the index) and a fid's
 * plock (its path, identity and descriptors), in the order of
 * docs/locking.md; nothing under rn_lock waits for another request,
 * only for the host's calls and for flock and plocks (held for a few
 * loads and stores); a fid's path changes with flock and its plock both
 * held (rename_fids through hs_index_put_locked), so either keeps it for
 * a reader.  The one system call made under flock is orphan_commit's dup
 * of a descriptor.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hostfs_i.h"
#include "sys.h"

/* The directory of a name-taking operation, and the name. */
static int at_dir(struct hostfs *hs, struct p9srv_fid *dir, struct p9_str n,
		  char *name, bool *owned)
{
	int err = hs_name_check(n, name);

	if (err < 0)
		return err;
	return hs_dir_fd(hs, dir, owned);
}

static int entry_qid(struct hostfs *hs, int dfd, const char *name,
		     struct p9_qid *qid)
{
	struct stat st;

	if (sys_fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	hs_stat_qid(hs, &st, hs_file_gen(dfd, name), qid);
	return 0;
}

/*
 * Undoes a create whose reply is an error after all (a later step
 * failed): the entry "name" of dfd that the request made is removed, so
 * that the name is free again, as the client is told.  Only if it still
 * is what was made: with fd (the made file's descriptor: lcreate) the
 * same inode; made by name (mkdir, mknod, symlink: no descriptor says
 * which inode was made) an entry of the type made, a directory only if
 * empty.  If that cannot be told (a stat fails too) the entry stays.
 */
void hs_undo_create(int dfd, const char *name, int fd, mode_t type)
{
	struct stat made, now;

	if (sys_fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (fd >= 0) {
		if (sys_fstat(fd, &made) < 0 ||
		    !hs_same_file(made.st_dev, made.st_ino, type, &now))
			return;
	} else if ((now.st_mode & S_IFMT) != type) {
		return;
	}
	sys_unlinkat(dfd, name, S_ISDIR(type) ? AT_REMOVEDIR : 0);
}

/* The end of a call that made an entry of type (S_IFDIR, ...): err is
 * the system call's result (-errno or 0); the caller's creating gid is
 * dropped, the new entry's qid taken (if that fails the entry is undone)
 * and the directory released. */
static int create_done(struct hostfs *hs, struct p9srv_fid *dir, int dfd,
		       bool owned, const char *name, mode_t type, int err,
		       struct p9_qid *qid)
{
	hs_create_gid_done(hs, dir);
	if (err == 0 && (err = entry_qid(hs, dfd, name, qid)) < 0)
		hs_undo_create(dfd, name, -1, type);
	hs_fd_done(dfd, owned);
	return err;
}

int hs_mkdir(struct p9srv_req *r, struct p9srv_fid *dir,
	     const struct p9_tmkdir *t, struct p9_qid *qid)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1];
	bool owned;
	int dfd, err;

	if ((dfd = at_dir(hs, dir, t->name, name, &owned)) < 0)
		return dfd;
	hs_create_gid(hs, dir, t->gid);
	err = sys_mkdirat(dfd, name, t->mode & 07777) < 0 ? -errno : 0;
	return create_done(hs, dir, dfd, owned, name, S_IFDIR, err, qid);
}

int hs_symlink(struct p9srv_req *r, struct p9srv_fid *dir,
	       const struct p9_tsymlink *t, struct p9_qid *qid)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1], target[PATH_MAX];
	bool owned;
	int dfd, err;

	if (t->symtgt.len == 0)
		return -ENOENT;
	if (t->symtgt.len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(target, t->symtgt.s, t->symtgt.len);
	target[t->symtgt.len] = '\0';
	if ((dfd = at_dir(hs, dir, t->name, name, &owned)) < 0)
		return dfd;
	hs_create_gid(hs, dir, t->gid);
	err = sys_symlinkat(target, dfd, name) < 0 ? -errno : 0;
	return create_done(hs, dir, dfd, owned, name, S_IFLNK, err, qid);
}

int hs_mknod(struct p9srv_req *r, struct p9srv_fid *dir,
	     const struct p9_tmknod *t, struct p9_qid *qid)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1];
	bool owned;
	int dfd, err;

	if ((dfd = at_dir(hs, dir, t->name, name, &owned)) < 0)
		return dfd;
	hs_create_gid(hs, dir, t->gid);
	err = sys_mknodat(dfd, name, t->mode, makedev(t->major, t->minor)) < 0
	      ? -errno : 0;
	/* (no type in the mode: a regular file, as mknod(2) makes) */
	return create_done(hs, dir, dfd, owned, name,
			   (t->mode & S_IFMT) ? t->mode & S_IFMT : S_IFREG,
			   err, qid);
}

/*
 * Removed but still named.  Before the entry "name" of directory dfd
 * (whose path is "path") is removed or replaced through the server:
 * prepare an O_PATH descriptor of it if some other fid names it (else
 * -1).  After the removal succeeded, orphan_commit() gives each such fid
 * a descriptor of its own, so it still reaches the file (getattr, open,
 * a removed working directory's stat), as a local vnode would; names
 * below it answer ENOENT.  Each looks only at the fids at that path (the
 * fid index: one hash lookup, then those fids).
 */
static int orphan_prepare(struct hostfs *hs, int dfd, const char *name,
			  const char *path)
{
	bool any = false;

	pthread_mutex_lock(&hs->flock);
	for (struct hfid *hf = hs_index_first(pidx_find(&hs->paths, path,
							 strlen(path)));
	     hf && !any; hf = hf->next) {
		pthread_mutex_lock(&hf->plock);
		any = hf->ofd < 0 && hf->fd < 0;
		pthread_mutex_unlock(&hf->plock);
	}
	pthread_mutex_unlock(&hs->flock);
	if (!any)
		return -1;
	return sys_openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
}

static void orphan_commit(struct hostfs *hs, int pfd, const char *path)
{
	struct stat st;

	if (pfd < 0)
		return;
	if (sys_fstat(pfd, &st) == 0) {
		pthread_mutex_lock(&hs->flock);
		for (struct hfid *hf = hs_index_first(pidx_find(&hs->paths,
				path, strlen(path))); hf; hf = hf->next) {
			pthread_mutex_lock(&hf->plock);
			if (hf->ofd < 0 && hf->fd < 0 &&
			    hs_same_file(hf->dev, hf->ino, hf->type, &st))
				hf->ofd = sys_fcntl(pfd, F_DUPFD_CLOEXEC, 0);
			pthread_mutex_unlock(&hf->plock);
		}
		pthread_mutex_unlock(&hs->flock);
	}
	sys_close(pfd);
}

/* A rename's host call and the move of its fids are under way (rn_seq
 * odd), then done (even).  => hs->rn_lock written (hs_rn_enter). */
static void rn_moving(struct hostfs *hs)
{
	atomic_fetch_add(&hs->rn_seq, 1);
}

static void rn_moved(struct hostfs *hs)
{
	atomic_fetch_add(&hs->rn_seq, 1);
}

/*
 * After a rename through the server of "from" to "to": every fid at or
 * below "from" follows it (as a local vnode would).  Fids that named the
 * file replaced at "to" now resolve to the moved file and answer ESTALE.
 * A fid whose new path cannot be allocated is left as it was (stale).
 *
 * Only the fids at or below "from" are visited: the index's node of
 * "from" lists those at it, its subtree leads to those below (a file, or
 * a directory nothing below which is known, has no subtree).  They are
 * gathered first (hf->mnext), then moved one by one, since a move
 * changes the nodes.
 */
static void rename_fids(struct hostfs *hs, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), cap = 0;
	struct pidx_node *top, *n;
	struct hfid *mv = NULL, *hf;
	char *buf = NULL;

	if (strcmp(from, to) == 0)
		return;
	pthread_mutex_lock(&hs->flock);
	top = pidx_find(&hs->paths, from, fl);
	for (n = top; n; n = pidx_next(n, top))
		for (hf = hs_index_first(n); hf; hf = hf->next) {
			hf->mnext = mv;
			mv = hf;
		}
	while ((hf = mv)) {
		mv = hf->mnext;
		hf->mnext = NULL;
		if (hf->hp->len == fl) {        /* at "from": most often */
			hs_index_put_locked(hs, hf, to, tl);
			continue;
		}
		/* below: to + the rest of its path */
		size_t rest = hf->hp->len - fl, len = tl + rest;
		if (len + 1 > cap) {
			char *b = sys_realloc(buf, len + 1);
			if (!b)
				continue;
			buf = b;
			cap = len + 1;
		}
		memcpy(buf, to, tl);
		memcpy(buf + tl, hf->hp->path + fl, rest + 1);
		hs_index_put_locked(hs, hf, buf, len);
	}
	pthread_mutex_unlock(&hs->flock);
	free(buf);
}

/*
 * The entry that names fid f: its parent directory's descriptor
 * (returned: the caller's to close), its last name in base and its stat
 * in st, checked to be still the fid's file (-ENOENT: no entry, or no
 * parent, by that name; -ESTALE: another file has it), and in *pathp (if
 * not NULL; to free) the fid's path as resolved.  The root has no entry:
 * -EBUSY.  => hs->rn_lock held, read or written: no rename through the
 * server is under way nor begins, so the fid's path is where its file
 * is (as far as the server's renames go), and a resolution that failed
 * is not one a rename raced: one try (hs_rn_again would not go round).
 */
static int fid_entry(struct hostfs *hs, struct p9srv_fid *f, char *base,
		     struct stat *st, char **pathp)
{
	struct hfid *hf = f->priv;
	unsigned long mark = hs_rn_mark(hs);
	dev_t dev;
	ino_t ino;
	mode_t type;
	char *path = hf_snap(hf, &dev, &ino, &type), *slash;
	int fd, err = 0;

	if (!path)
		return -ENOMEM;
	if (strcmp(path, ".") == 0) {
		free(path);
		return -EBUSY;
	}
	slash = strrchr(path, '/');
	strcpy(base, slash ? slash + 1 : path);  /* (walked: <= NAME_MAX) */
	if (slash)
		*slash = '\0';
	fd = hs_resolve(hs, slash ? path : ".", O_PATH | O_DIRECTORY);
	if (slash)
		*slash = '/';
	if (fd >= 0 && sys_fstatat(fd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else if (fd >= 0 && !hs_same_file(dev, ino, type, st))
		err = -ESTALE;
	if (err) {
		sys_close(fd);
		fd = err;
	}
	if (fd >= 0 && pathp)
		*pathp = path;
	else
		free(path);
	assert(!hs_rn_raced(hs, mark));
	(void)mark;
	return fd;
}

/*
 * Tlink of a fid whose name no longer names its file.  Removed or
 * replaced through the server (it holds the file's descriptor): linked
 * through that, as a local link of a file looked up before: the host
 * answers ENOENT if that was its last name, else links it (a symlink
 * itself: the magic link lands on the O_PATH descriptor's own file).
 * Otherwise (changed on the host, or a removal through the server whose
 * descriptor is not handed out yet): ENOENT, the file is not at that
 * name; the VFS looks it up again.  => hs->rn_lock read: a rename
 * through the server that replaced the file has handed out its
 * descriptor (orphan_commit) before it let go of the lock.
 */
static int link_moved(struct hfid *hf, int dfd, const char *name)
{
	char proc[64];
	int ofd;

	pthread_mutex_lock(&hf->plock);
	ofd = hf->ofd;          /* never closed before clunk */
	pthread_mutex_unlock(&hf->plock);
	if (ofd < 0)
		return -ENOENT;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
	return sys_linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0
	       ? -errno : 0;
}

int hs_link(struct p9srv_req *r, struct p9srv_fid *dir,
	    struct p9srv_fid *f, struct p9_str n)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1], base[NAME_MAX + 1];
	bool owned;
	int dfd, pfd, err;
	struct stat st;
	struct hfid *hf = f->priv;

	if ((dfd = at_dir(hs, dir, n, name, &owned)) < 0)
		return dfd;
	/* the entry must still be the fid's file, and stay so until it is
	 * linked: no rename through the server between */
	hs_rn_read_enter(hs);
	pfd = fid_entry(hs, f, base, &st, NULL);
	if (pfd >= 0) {
		/* never follows a symlink: links the name in the parent */
		err = sys_linkat(pfd, base, dfd, name, 0) < 0 ? -errno : 0;
	} else if (pfd == -ENOENT || pfd == -ESTALE) {
		err = link_moved(hf, dfd, name);
	} else {
		err = pfd == -EBUSY ? -EPERM : pfd;
	}
	hs_rn_read_exit(hs);
	if (pfd >= 0)
		sys_close(pfd);
	hs_fd_done(dfd, owned);
	return err;
}

int hs_rename(struct p9srv_req *r, struct p9srv_fid *f,
	      struct p9srv_fid *dir, struct p9_str n)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1], base[NAME_MAX + 1], *dpath, *npath = NULL,
	     *opath = NULL;
	struct stat st;
	bool owned;
	int dfd, pfd, err = 0;

	hs_rn_enter(hs);        /* one rename at a time */
	if ((dfd = at_dir(hs, dir, n, name, &owned)) < 0) {
		hs_rn_exit(hs);
		return dfd;
	}
	/* the entry must still be the fid's file */
	pfd = fid_entry(hs, f, base, &st, &opath);
	if (pfd < 0) {
		err = pfd;
		goto out;
	}
	if ((dpath = hf_snap(dir->priv, NULL, NULL, NULL)))
		npath = hs_path_join(dpath, name);
	free(dpath);
	if (!npath) {
		err = -ENOMEM;
	} else {
		int victim = orphan_prepare(hs, dfd, name, npath);
		rn_moving(hs);
		err = sys_renameat(pfd, base, dfd, name) < 0 ? -errno : 0;
		if (err == 0) {
			orphan_commit(hs, victim, npath);
			rename_fids(hs, opath, npath);
		} else if (victim >= 0) {
			sys_close(victim);
		}
		rn_moved(hs);
	}
	sys_close(pfd);
out:
	hs_rn_exit(hs);
	free(npath);
	free(opath);
	hs_fd_done(dfd, owned);
	return err;
}

int hs_renameat(struct p9srv_req *r, struct p9srv_fid *od,
		struct p9_str on, struct p9srv_fid *nd,
		struct p9_str nn)
{
	struct hostfs *hs = hs_of(r);
	char oname[NAME_MAX + 1], nname[NAME_MAX + 1];
	bool oowned, nowned;
	int ofd, nfd, err;

	hs_rn_enter(hs);        /* one rename at a time */
	if ((ofd = at_dir(hs, od, on, oname, &oowned)) < 0) {
		hs_rn_exit(hs);
		return ofd;
	}
	if ((nfd = at_dir(hs, nd, nn, nname, &nowned)) < 0) {
		hs_rn_exit(hs);
		hs_fd_done(ofd, oowned);
		return nfd;
	}
	char *od_path = hf_snap(od->priv, NULL, NULL, NULL),
	     *nd_path = hf_snap(nd->priv, NULL, NULL, NULL);
	char *from = od_path ? hs_path_join(od_path, oname) : NULL,
	     *to = nd_path ? hs_path_join(nd_path, nname) : NULL;
	int victim = -1;
	bool paths = from && to;

	free(od_path);
	free(nd_path);
	if (paths)
		victim = orphan_prepare(hs, nfd, nname, to);
	rn_moving(hs);
	err = sys_renameat(ofd, oname, nfd, nname) < 0 ? -errno : 0;
	if (err == 0 && paths) {
		orphan_commit(hs, victim, to);
		rename_fids(hs, from, to);
	} else if (victim >= 0) {
		sys_close(victim);
	}
	rn_moved(hs);
	hs_rn_exit(hs);
	free(from);
	free(to);
	hs_fd_done(nfd, nowned);
	hs_fd_done(ofd, oowned);
	return err;
}

/*
 * Tunlinkat names an entry of a directory, not a file: whichever file is
 * at the name when its unlinkat runs is the one asked for, as when
 * unlink(2) and rename(2) race on the host.  The directory is its
 * descriptor, which a rename of it does not change.  It reads rn_lock
 * from the file's descriptor taken for the fids that name it
 * (orphan_prepare) to their being given it (orphan_commit), so that no
 * rename through the server puts another file at the name between: the
 * file removed is the one whose fids get its descriptor.  (Without the
 * lock, such a rename removed the file it put there, while that file's
 * fids, moved to the name, got nothing and answered ENOENT, and the
 * prepared descriptor went to no one.)
 */
int hs_unlinkat(struct p9srv_req *r, struct p9srv_fid *dir,
		struct p9_str n, uint32_t flags)
{
	struct hostfs *hs = hs_of(r);
	char name[NAME_MAX + 1];
	bool owned;
	int dfd, err;

	if (flags & ~(uint32_t)AT_REMOVEDIR)
		return -EINVAL;
	char *dpath, *path = NULL;
	int ofd = -1;

	if ((dfd = at_dir(hs, dir, n, name, &owned)) < 0)
		return dfd;
	hs_rn_read_enter(hs);
	if ((dpath = hf_snap(dir->priv, NULL, NULL, NULL)))
		path = hs_path_join(dpath, name);
	free(dpath);
	if (path)
		ofd = orphan_prepare(hs, dfd, name, path);
	err = sys_unlinkat(dfd, name, (int)flags) < 0 ? -errno : 0;
	if (err == 0 && path)
		orphan_commit(hs, ofd, path);
	else if (ofd >= 0)
		sys_close(ofd);
	hs_rn_read_exit(hs);
	free(path);
	hs_fd_done(dfd, owned);
	return err;
}

int hs_remove(struct p9srv_req *r, struct p9srv_fid *f)
{
	struct hostfs *hs = hs_of(r);
	char base[NAME_MAX + 1], *path = NULL;
	struct stat st;
	int pfd, ofd, err = 0;

	/* the entry must still be the fid's file, and stay so until it is
	 * removed: no rename through the server between */
	hs_rn_read_enter(hs);
	pfd = fid_entry(hs, f, base, &st, &path);
	if (pfd < 0) {
		hs_rn_read_exit(hs);
		return pfd;
	}
	ofd = orphan_prepare(hs, pfd, base, path);
	if (sys_unlinkat(pfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		err = -errno;
	if (err == 0)
		orphan_commit(hs, ofd, path);
	else if (ofd >= 0)
		sys_close(ofd);
	hs_rn_read_exit(hs);
	sys_close(pfd);
	free(path);
	return err;
}

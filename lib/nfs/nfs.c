/*
 * nfs.c - the NFS client driver: file-system type "nfs" (include/uvfs/nfs.h),
 * its vnode operations and its table.
 *
 * The driver's files and objects are described in nfs_i.h; the layers:
 *
 *   nfs.c, mount.c, node.c, names.c
 *            vnodes: file handles, the attribute and name caches, open
 *            files, silly rename, options and the mount
 *   nfs3.c   NFSv3/MOUNT v3 procedures as blocking calls with a deadline
 *            (nfs3_call.c, nfs3_send.c: the call machinery under
 *            them)
 *   rpc.c    ONC RPC on the remote session layer (lib/remote): framing,
 *            XIDs, credentials; the session has the deadlines, fencing,
 *            cancellation, liveness and reconnect
 *
 * Owns struct handle (nv_open to nv_release) and the silly-renamed names
 * of its nodes (made by remove.c, removed at the last close).  Writes
 * behind and their COMMIT are wb.c's, a handle's read-ahead window ra.c's.
 *
 * Consistency (docs/nfs.md): attributes and names from every reply are
 * cached as the mount's cache= mode says; a change this client makes
 * through a name (create, link, unlink, rename) updates the name cache
 * and the directories' attributes from the reply (wcc data) and forgets
 * the cached attributes of the files it touched (a link count, a ctime);
 * with cache=loose it also makes everything else old (s->gen).  open
 * fetches the attributes again (close-to-open; not with cache=loose);
 * writes go behind (wb.c) and are committed at fsync and at each close
 * of a descriptor open for writing (the core's flush: their errors
 * reported, to each open file once); what a failed flush left is
 * committed at the last release, sent, not waited for (the last release
 * does no I/O in the caller), as the opener.
 *
 * Locks: nfs_i.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>

#include <uvfs/nfs.h>

#include "nfs_i.h"
#include "sys.h"

/* ---- attributes --------------------------------------------------------- */

static int nv_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct n3 c = ctx_on(s, n);
	int r;

	nw_settle(s, &c, n);    /* the size and times after our writes */
	r = nn_getattr(s, &c, n, st, false);

	if (r == 0) {
		/* a file unlinked while open has lost the name it was
		 * unlinked by: its ".nfsXXXX" name is ours, not the user's */
		pthread_mutex_lock(&s->lock);
		if (n->silly && st->st_nlink > 0)
			st->st_nlink--;
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

static int nv_setattr(struct uvfs_sb *sb, void *priv,
		       const struct uvfs_setattr *asked)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct n3 c = ctx_on(s, n);
	struct fh3 fh;
	struct n3attr after = { 0 };
	struct uvfs_setattr v = *asked, *sa = &v;
	int r;

	/* set-id bits cleared after a write or truncation by another user:
	 * the server's to do (as knfsd does at the WRITE), as Linux's
	 * nfs_setattr leaves them; a SETATTR as that user would be refused
	 * (not the owner) and fail the write */
	if (v.valid & UVFS_SET_KILLPRIV)
		v.valid &= ~(unsigned)(UVFS_SET_MODE | UVFS_SET_KILLPRIV);
	if (sa->valid == 0)
		return 0;
	if ((r = nn_fh_verified(s, &c, n, &fh)))
		return r;
	if (sa->valid & UVFS_SET_SIZE) {
		/* what went behind is committed first: a resend after the
		 * truncation would bring it back (its error stays for fsync
		 * and close) */
		r = nw_commit(s, &c, n, NULL);
		if (r)
			return r;
	} else {
		nw_settle(s, &c, n);
	}
	r = n3_setattr(&c, &fh, sa, &after);
	if (r)
		return r;
	/* this client's own change wins over every reply still to come to
	 * a call sent before it was answered: a number taken now */
	uint64_t agen = nn_attr_gen(s);
	pthread_mutex_lock(&s->lock);
	n->wgen++;              /* a size or times of its own: read-ahead old */
	if (!after.valid) {
		n->st_valid = false;    /* the next getattr asks */
		n->attr_gen = agen;
	}
	pthread_mutex_unlock(&s->lock);
	nn_attr(s, n, &after, agen);
	return 0;
}

/* ---- names -------------------------------------------------------------- */

int nn_lookup_install(struct nsb *s, struct n3 *c, struct node *d,
		      const char *name, struct uvfs_ident *id,
		      struct fh3 *fhp)
{
	struct fh3 dfh, fh;
	struct n3attr a = { 0 };
	int r = nn_fh_verified(s, c, d, &dfh);

	if (r)
		return r;
	uint64_t agen = nn_attr_gen(s);
	r = n3_lookup(c, &dfh, name, &fh, &a);
	if (r)
		return r;
	if (!a.valid) {
		r = n3_getattr(c, &fh, &a.st);
		if (r)
			return r;
	}
	if (fhp)
		*fhp = fh;
	id->type = a.st.st_mode & S_IFMT;
	return nn_install(s, &fh, &a.st, agen, &id->ino, &id->gen);
}

/* The identity reported to the core: the fileid, the type, and the node's
 * incarnation as the generation (NFSv3 shows none: a fileid reused by
 * another file comes with another handle, which is a new node, nn_install,
 * and so a new vnode in the core). */
static int nv_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		     struct uvfs_ident *id)
{
	struct nsb *s = S(sb);
	struct node *d = dir;
	int r;

	if (d == s->root && strcmp(name, "..") == 0) {
		id->ino = d->ino;
		id->gen = 0;
		id->type = S_IFDIR;
		return 0;
	}
	if ((r = nn_live(s, d)))
		return r;
	struct n3 c = ctx_on(s, d);
	/* a name the server gave (or said is not there) within the name
	 * lifetime (cto: actimeo; loose: until this mount changes a name),
	 * a negative one only while the directory shows no change */
	switch (nn_name_get(s, d, name, id)) {
	case NNAME_POS:
		return 0;
	case NNAME_NEG:
		return -ENOENT;
	case NNAME_MISS:
		break;
	}
	uint64_t gen = nn_gen(s), dver = nn_dir_ver(s, d);
	r = nn_lookup_install(s, &c, d, name, id, NULL);
	if (r == 0)
		nn_name_put_since(s, d, name, id->ino, id->type, gen, dver);
	else if (r == -ENOENT)
		nn_name_put_neg(s, d, name, gen, dver);
	return nn_handle_stale(s, d, r);
}

static int nv_create(struct uvfs_sb *sb, void *dir, const char *name,
		      mode_t mode, dev_t rdev, const char *target,
		      const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	struct nsb *s = S(sb);
	struct node *d = dir;
	struct n3 c = ctx_on(s, d);
	struct fh3 dfh, fh;
	struct n3attr a = { 0 };
	struct stat ds;
	uid_t uid = cred ? cred->uid : 0;
	gid_t gid = cred ? cred->gid : 0;
	int r;

	if ((r = nn_fh(s, d, &dfh)))
		return r;
	/* the owner is the caller; a setgid directory gives its group (and
	 * its setgid bit to subdirectories), as Linux file systems do */
	r = nn_getattr(s, &c, d, &ds, false);
	if (r)
		return nn_handle_stale(s, d, r);
	if (ds.st_mode & S_ISGID) {
		gid = ds.st_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	if (uid == (c.cred ? c.cred->uid : 0) &&
	    (gid == (c.cred ? c.cred->gid : 0) || (ds.st_mode & S_ISGID))) {
		/* the request goes as the owner: the server makes the file
		 * its, with its group (or a setgid directory's).  An owner
		 * sent too would be a chown after the create, which clears
		 * the set-id bits of the mode asked for (ganesha does so) */
		uid = (uid_t)-1;
		gid = (gid_t)-1;
	}
	struct n3attr da = { 0 };
	uint64_t agen = nn_attr_gen(s);
	r = n3_create(&c, &dfh, name, mode, uid, gid, rdev, target, &fh, &a,
		      &da);
	/* whatever the answer (EEXIST: someone made it), what this mount
	 * knew of the name is old */
	nn_name_gone(s, d, name);
	if (!da.valid)
		nn_forget_attr(s, d->ino);
	nn_attr(s, d, &da, agen);       /* the directory changed: the reply
					 * says how */
	if (r)
		return nn_handle_stale(s, d, r);
	if (!a.valid) {
		r = n3_getattr(&c, &fh, &a.st);
		if (r)
			return r;
	}
	id->type = a.st.st_mode & S_IFMT;
	r = nn_install(s, &fh, &a.st, agen, ino, &id->gen);
	if (r == 0)
		nn_name_put(s, d, name, *ino, id->type, nn_gen(s));
	if (r == 0 && S_ISREG(mode)) {
		/* open(O_CREAT) opens it next: the attributes the CREATE
		 * just returned are as fresh as a GETATTR would be */
		pthread_mutex_lock(&s->lock);
		struct node *n = nn_find_locked(s, *ino);
		if (n) {
			n->created_ns = mono_now_ns();
			n->created_rm = s->rm_seq;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

static int nv_link(struct uvfs_sb *sb, void *dir, const char *name,
		    void *priv)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on2(s, dir, priv);
	struct fh3 dfh, fh;
	struct n3attr a = { 0 };
	uint64_t agen = nn_attr_gen(s);
	int r;

	if ((r = nn_fh_verified(s, &c, dir, &dfh)) ||
	    (r = nn_fh_verified(s, &c, priv, &fh)))
		return r;
	r = n3_link(&c, &fh, &dfh, name, &a);
	nn_name_gone(s, dir, name);
	nn_handle_stale(s, dir, r);     /* the directory's, or the file's */
	nn_handle_stale(s, priv, r);
	nn_forget_attr(s, ((struct node *)dir)->ino);
	nn_forget_attr(s, ((struct node *)priv)->ino);
	if (r == 0) {
		struct node *n = priv;
		mode_t type;
		nn_attr(s, n, &a, agen);        /* its new link count */
		pthread_mutex_lock(&s->lock);
		type = n->type;
		pthread_mutex_unlock(&s->lock);
		nn_name_put(s, dir, name, n->ino, type, nn_gen(s));
	}
	return r;
}

static int nv_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		      int isdir)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on(s, dir);
	struct fh3 dfh;
	int r;

	if ((r = nn_fh_verified(s, &c, dir, &dfh)))
		return r;
	struct rmpin pin = { 0 };
	if (!isdir) {
		/* an open file's last name is renamed instead (remove.c) */
		r = nn_remove_begin(s, &c, dir, name, NULL, NULL, &pin);
		if (r)
			return r < 0 ? r : 0;
	}
	struct n3attr da = { 0 };
	struct uvfs_ident victim;
	bool known = nn_name_get(s, dir, name, &victim) == NNAME_POS;
	/* an RMDIR answered "not empty" while the REMOVE of a silly-renamed
	 * file in the directory was pending waits for it and asks once more
	 * (remove.c) */
	uint64_t agen = nn_attr_gen(s);
	r = isdir ? nn_rmdir(s, &c, dir, name, &da)
		  : n3_remove(&c, &dfh, name, false, &da);
	nn_name_gone(s, dir, name);
	nn_handle_stale(s, dir, r);
	if (known)
		nn_forget_attr(s, victim.ino);  /* one link fewer */
	if (!da.valid)
		nn_forget_attr(s, ((struct node *)dir)->ino);
	nn_attr(s, dir, &da, agen);
	nn_remove_end(s, &pin);
	if (r == -EEXIST)
		r = -ENOTEMPTY; /* RFC 1813 allows either */
	return r;
}

static int nv_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		      void *ndir, const char *nname, unsigned flags)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on2(s, odir, ndir);
	struct fh3 ofh, nfh, tfh;
	struct n3attr ta = { 0 };
	struct rmpin pin = { 0 };
	int r;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL; /* NFSv3 has no exchange */
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	if ((r = nn_fh_verified(s, &c, odir, &ofh)) ||
	    (r = nn_fh_verified(s, &c, ndir, &nfh)))
		return r;
	if (flags & RENAME_NOREPLACE) {
		/* not atomic: NFSv3 has no such flag (docs/nfs.md) */
		r = n3_lookup(&c, &nfh, nname, &tfh, &ta);
		if (r == 0)
			return -EEXIST;
		if (r != -ENOENT)
			return r;
	} else {
		/* a target open here is kept reachable (silly rename:
		 * remove.c) */
		r = nn_remove_begin(s, &c, ndir, nname, oname, odir, &pin);
		if (r < 0)
			return r;
	}
	struct uvfs_ident src, victim;
	bool ksrc = nn_name_get(s, odir, oname, &src) == NNAME_POS;
	bool kvic = nn_name_get(s, ndir, nname, &victim) == NNAME_POS;
	struct n3attr oa = { 0 }, na = { 0 };
	uint64_t mark = nn_silly_mark(s), agen = nn_attr_gen(s);
	r = n3_rename(&c, &ofh, oname, &nfh, nname, &oa, &na);
	/* over a directory "not empty" only because a silly-renamed file's
	 * REMOVE is still pending in it: as an RMDIR (nn_rmdir).  The
	 * target is a directory, which is never silly-renamed: the pin
	 * goes first (with nothing open it holds every open back) */
	if (r == -ENOTEMPTY || r == -EEXIST) {
		nn_remove_end(s, &pin);
		if (nn_silly_wait(s, &c, ndir, nname, mark))
			r = n3_rename(&c, &ofh, oname, &nfh, nname, &oa,
				      &na);
	}
	nn_name_gone(s, odir, oname);
	nn_name_gone(s, ndir, nname);
	nn_handle_stale(s, odir, r);
	nn_handle_stale(s, ndir, r);
	if (kvic)
		nn_forget_attr(s, victim.ino);  /* one link fewer */
	if (ksrc)
		nn_forget_attr(s, src.ino);     /* its ctime (and "..") */
	if (!oa.valid)
		nn_forget_attr(s, ((struct node *)odir)->ino);
	if (!na.valid)
		nn_forget_attr(s, ((struct node *)ndir)->ino);
	nn_attr(s, odir, &oa, agen);
	nn_attr(s, ndir, &na, agen);
	if (r == 0 && ksrc)
		nn_name_put(s, ndir, nname, src.ino, src.type, nn_gen(s));
	nn_remove_end(s, &pin);
	if (r == -EEXIST)
		r = -ENOTEMPTY;
	return r;
}

static ssize_t nv_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			    size_t size)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on(s, priv);
	struct fh3 fh;
	int r = nn_fh_verified(s, &c, priv, &fh);

	return r ? r : n3_readlink(&c, &fh, buf, size);
}

/* ---- open files --------------------------------------------------------- */

static int nv_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct handle *h;
	struct stat st;
	int r;

	struct n3 c = ctx_on(s, n);
	bool fresh, isdir, waited = false;
	pthread_mutex_lock(&s->lock);
	isdir = S_ISDIR(n->type);
	pthread_mutex_unlock(&s->lock);
	/* counted before it looks: a removal of its name from now on keeps
	 * the file (silly rename); one already in flight is waited for, and
	 * the file then asked for (removed: -ESTALE, the core looks the name
	 * up again) */
	if (!isdir)
		waited = nn_open_begin(s, n);
	/* close-to-open: what others wrote before their close is seen; but
	 * a file this client created a moment ago (open(O_CREAT): the
	 * CREATE's reply carried its attributes) needs no second look,
	 * unless a removal through this mount began since (it may have
	 * taken the file between the create and this open) */
	pthread_mutex_lock(&s->lock);
	fresh = !waited && n->created_ns && n->st_valid &&
		mono_now_ns() - n->created_ns < CREATE_FRESH_NS &&
		n->created_rm == s->rm_seq;
	n->created_ns = 0;
	st = n->st;
	pthread_mutex_unlock(&s->lock);
	r = fresh ? 0 : nn_getattr_live(s, &c, n, &st,
					waited || s->cache != CACHE_LOOSE);
	h = r ? NULL : sys_calloc(1, sizeof(*h));
	if (!h) {
		if (!isdir)
			nn_open_undo(s, n);
		return r ? r : -ENOMEM;
	}
	pthread_mutex_init(&h->ra_lock, NULL);
	h->n = n;
	h->flags = flags;
	/* the write-behind errors this open file reports are those from
	 * now on */
	h->wb_seen = nw_errseq(n);
	if (c.cred) {
		h->has_cred = true;
		h->cred = *c.cred;
	}
	*fh = h;
	return 0;
}

/* No waiting here: the last release does no I/O in its caller.  What is
 * left to do is sent, not waited for: a COMMIT, its answer dropped; the
 * REMOVE of a silly-renamed file, if it can go at once, its answer taken
 * by the mount's reaper, which also sends it if it could not (remove.c). */
static void nv_release(struct uvfs_sb *sb, void *priv, void *fhp)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct handle *h = fhp;
	struct fh3 fh;
	struct sillyrm *silly = NULL;
	bool commit = false;

	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	if (!S_ISDIR(n->type) && n->opens > 0) {
		n->opens--;
		s->nopen--;
		if (n->opens == 0) {
			commit = n->dirty && !n->silly;
			n->dirty = false;
			silly = n->silly;
			n->silly = NULL;
		}
	}
	if (commit && nn_fh_locked(n, &fh))
		commit = false; /* stale: the handle names another file */
	pthread_mutex_unlock(&s->lock);
	/* work for someone done after them: as they were (the opener's, the
	 * unlinker's), not as whoever runs the last release */
	if (commit)
		n3_commit_async(s->nc, h->has_cred ? &h->cred : NULL, &fh);
	if (silly)      /* the mount's reaper sees to it (remove.c) */
		nn_silly_remove(s, silly);
	n3_dents_free(h->rest);
	nr_drop(s, h);          /* READs in flight given up, not waited for */
	pthread_mutex_destroy(&h->ra_lock);
	free(h);
}

/* The file's vnode died (revoked, the mount forced off, or its fileid
 * now another file's), before the releases of the files still open on
 * it: what it sent behind and the server has not committed is dropped,
 * and those releases commit nothing, so none of it is sent or committed
 * later (the core told its writers it may be lost: the dead file closes
 * with EIO).  Before, it stayed with the node: a later open of the file
 * found it, and its fsync committed it, or sent it again after a new
 * write verifier (test_nfs_rpc revoke_drops_writes_behind). */
static void nv_revoke(struct uvfs_sb *sb, void *priv)
{
	nw_drop(S(sb), priv);
}

static ssize_t nv_read(struct uvfs_sb *sb, void *priv, void *fhp, void *buf,
		       size_t n, off_t off)
{
	struct nsb *s = S(sb);
	struct node *nd = priv;
	struct handle *h = fhp;
	struct n3 c = ctx_on(s, nd);
	struct fh3 fh;
	struct n3attr a = { 0 };
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if ((r = nn_fh(s, nd, &fh)))
		return r;
	nw_settle(s, &c, nd);   /* our writes first */
	if (h && s->cache != CACHE_NONE && n < RA_BYTES) {
		pthread_mutex_lock(&h->ra_lock);
		r = nr_read(s, &c, nd, h, buf, n, (uint64_t)off);
		if (r >= 0)
			h->next_off = (uint64_t)off + (uint64_t)r;
		pthread_mutex_unlock(&h->ra_lock);
		if (r != -EAGAIN)
			return r;
	}
	uint64_t agen = nn_attr_gen(s);
	r = n3_read_many(&c, &fh, buf, n, (uint64_t)off, s->rtmax,
			 window_of(s->rtmax), &a);
	if (r >= 0)
		nn_attr(s, nd, &a, agen);
	if (r >= 0 && h) {
		pthread_mutex_lock(&h->ra_lock);
		h->next_off = (uint64_t)off + (uint64_t)r;
		pthread_mutex_unlock(&h->ra_lock);
	}
	return r;
}

/* Writes go behind (wb.c): sent, not waited for; their errors reach the
 * writes after, fsync and close.  O_APPEND waits for the ones before it
 * and writes at the size the server has then, both under the node's
 * wb_lock, so that the appends of this mount never meet at one end (NFS
 * cannot append atomically against another client). */
static ssize_t nv_write(struct uvfs_sb *sb, void *priv, void *fhp,
			const void *buf, size_t n, off_t *off)
{
	struct nsb *s = S(sb);
	struct node *nd = priv;
	struct n3 c = ctx_on(s, nd);
	struct handle *h = fhp;
	uint64_t pos;
	ssize_t r;

	if (h) {
		/* what this file read ahead is old now (another open file's
		 * window: by the node's wgen, at its next read) */
		pthread_mutex_lock(&h->ra_lock);
		nr_drop(s, h);
		pthread_mutex_unlock(&h->ra_lock);
	}
	/* a stale node: -ESTALE from both, which take the handle (nn_fh)
	 * before anything else */
	const uint64_t *seen = h ? &h->wb_seen : NULL;
	if (*off < 0) {
		r = nw_append(s, &c, nd, seen, buf, n, &pos);
	} else {
		pos = (uint64_t)*off;
		r = n ? nw_write(s, &c, nd, seen, buf, n, pos) : 0;
	}
	if (r < 0)
		return r;
	*off = (off_t)(pos + (uint64_t)r);
	return r;
}

/* The writes behind answered and committed (sent again if the server
 * restarted meanwhile): an error of theirs this open file has not
 * reported yet (each open file reports each once: wb.c), or the
 * COMMIT's. */
static int nv_fsync(struct uvfs_sb *sb, void *priv, void *fhp, int datasync)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on(s, priv);
	struct handle *h = fhp;

	(void)datasync;
	/* a stale node: -ESTALE (nw_commit takes the handle first) */
	return nw_commit(s, &c, priv, h ? &h->wb_seen : NULL);
}

/* At each close of a descriptor open for writing (the core's flush): the
 * same as fsync, as Linux's client flushes and commits at close, so the
 * next opener anywhere sees the data and close(2) gets the error. */
static int nv_flush(struct uvfs_sb *sb, void *priv, void *fhp)
{
	return nv_fsync(sb, priv, fhp, 0);
}

/* Can a file have this name?  A server may list one no file can have
 * (empty, longer than NAME_MAX, with a '/': a bug, or a name its file
 * system allows and Linux does not).  The core leaves such an entry out
 * of every listing, whatever the driver (docs/design.md, "Answers no
 * file can have"); this check is for the driver's own state: such a
 * name never goes into its name cache. */
static bool nameable(const char *name)
{
	size_t l = strlen(name);

	return l > 0 && l <= NAME_MAX && !strchr(name, '/');
}

/* Is cookie, which the listing lp is about to ask the server from, one
 * it asked from before?  Brent's cycle finding: each cookie is compared
 * with the one kept, which moves on after stretches of 1, 2, 4... asks,
 * so a listing whose cookies come round again (a server's bug) is found
 * within twice the loop's length and its start, and one whose cookies
 * never repeat is never taken for one. */
static bool dloop_again(struct dloop *lp, uint64_t cookie)
{
	if (lp->power && cookie == lp->saved)
		return true;
	if (lp->lam == lp->power) {
		lp->saved = cookie;
		lp->power = lp->power ? lp->power * 2 : 1;
		lp->lam = 0;
	}
	lp->lam++;
	return false;
}

static int nv_readdir(struct uvfs_sb *sb, void *priv, void *fhp,
		       uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct nsb *s = S(sb);
	struct node *d = priv;
	struct handle *h = fhp;
	struct n3 c = ctx_on(s, d);
	struct dloop own = { 0 }, *lp = h ? &h->loop : &own;
	struct fh3 dfh;
	uint64_t verf;
	bool stop = false;
	int r;

	if ((r = nn_fh_verified(s, &c, d, &dfh)))
		/* removed (the server calls its handle stale, and the node
		 * names no other file): it lists nothing, as below */
		return r == -ESTALE && nn_live(s, d) == 0 ? 0 : r;
	if (!lp->on || lp->next != cookie)
		*lp = (struct dloop){ 0 };      /* a listing starts here */
	uint64_t gen = 0, dver = 0, agen = 0;
	pthread_mutex_lock(&s->lock);
	verf = cookie ? d->cverf : 0;
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		struct n3dent *list = NULL, **pp;
		bool eof = false;

		if (h && h->rest && h->rest_cookie == cookie && cookie) {
			/* what the last reply had beyond where the caller
			 * stopped: no request */
			list = h->rest;
			eof = h->rest_eof;
			gen = h->rest_gen;
			dver = h->rest_dver;
			agen = h->rest_agen;
			h->rest = NULL;
		} else {
			if (h) {
				n3_dents_free(h->rest);
				h->rest = NULL;
			}
			if (dloop_again(lp, cookie)) {
				/* its cookies came round again: it would
				 * never end (a broken server) */
				r = -EIO;
				break;
			}
			gen = nn_gen(s);
			dver = nn_dir_ver(s, d);
			agen = nn_attr_gen(s);
			r = n3_readdirplus(&c, &dfh, cookie, &verf, s->dtmax,
					   &list, &eof);
			if (r == -ESTALE) {
				r = 0;  /* removed: it lists nothing */
				break;
			}
			if (r)
				break;
			pthread_mutex_lock(&s->lock);
			d->cverf = verf;
			pthread_mutex_unlock(&s->lock);
		}
		bool empty = list == NULL;
		for (pp = &list; *pp; pp = &(*pp)->next) {
			struct n3dent *e = *pp;
			uint64_t ino = e->fileid;
			if (strcmp(e->name, "..") == 0 && d == s->root)
				ino = d->ino;   /* the root's parent is itself */
			else if (nameable(e->name) && e->has_fh &&
				 e->attr.valid &&
				 strcmp(e->name, ".") != 0 &&
				 strcmp(e->name, "..") != 0 &&
				 nn_install(s, &e->fh, &e->attr.st, agen, &ino,
					    NULL) == 0)
				/* the listing names them: an lstat of each
				 * (ls -l) asks nothing */
				nn_name_put_since(s, d, e->name, ino,
						  e->attr.st.st_mode & S_IFMT,
						  gen, dver);
			if (fill(arg, e->name, ino, e->dtype, e->cookie)) {
				stop = true;
				if (h && cookie) {
					/* keep the rest for the next call,
					 * which resumes at cookie */
					h->rest = e;
					h->rest_cookie = cookie;
					h->rest_eof = eof;
					h->rest_gen = gen;
					h->rest_dver = dver;
					h->rest_agen = agen;
					*pp = NULL;
				}
				break;
			}
			cookie = e->cookie;
		}
		n3_dents_free(list);
		if (stop || eof)
			break;
		if (empty) {
			r = -EIO;       /* no entries, no end: a broken server */
			break;
		}
	}
	/* the next call of a listing stopped short resumes at cookie */
	lp->on = r == 0 && stop;
	lp->next = cookie;
	return r;
}

const struct uvfs_fstype_ops uvfs_nfs_ops = {
	.name = "nfs",
	.flags = UVFS_FS_NO_NAMECACHE,
	.options = nv_fsopts,
	.source_help = "SOURCE: nfs://HOST/EXPORT or HOST:/EXPORT (NFSv3 over "
		       "TCP; MOUNT and NFS found through HOST's portmapper)",
	.mount = nv_mount,
	.unmount = nv_unmount,
	.cancel = nv_cancel,
	.statfs = nv_statfs,
	.vget = nv_vget,
	.reclaim = nv_reclaim,
	.getattr = nv_getattr,
	.setattr = nv_setattr,
	.lookup = nv_lookup,
	.create = nv_create,
	.link = nv_link,
	.unlink = nv_unlink,
	.rename = nv_rename,
	.readlink = nv_readlink,
	.open = nv_open,
	.release = nv_release,
	.read = nv_read,
	.write = nv_write,
	.fsync = nv_fsync,
	.flush = nv_flush,
	.readdir = nv_readdir,
	.revoke = nv_revoke,
};

int uvfs_nfs_register(struct uvfs *u)
{
	int r = uvfs_fstype_register(u, &uvfs_nfs_ops);

	return r == -EEXIST ? 0 : r;
}

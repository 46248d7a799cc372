/*
 * vnops.c - the 9P client driver's vnode operations on attributes and
 * names: getattr, setattr, permission, lookup (the walks ahead of an
 * ls -l are lsplus.c's), create, link, unlink, rename, readlink.  Each is
 * a few requests on the session (conn.h), answered from the attributes
 * and names the node table keeps when they are fresh (cache.c); the name
 * operations are retried once when a rename above made a path-named fid
 * stale (diod).  Open files and their I/O are io.c's.
 *
 * Owns nothing beyond one call, but the walk behind a create (its job,
 * from the create to nodewalk_fin).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "driver.h"
#include "sys.h"

static void fill_stat(const struct node *n, const struct p9_rgetattr *g,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = g->mode;
	st->st_nlink = g->nlink;
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_rdev = g->rdev;
	st->st_size = (off_t)g->size;
	st->st_blksize = (blksize_t)g->blksize;
	st->st_blocks = (blkcnt_t)g->blocks;
	st->st_atim.tv_sec = (time_t)g->atime_sec;
	st->st_atim.tv_nsec = (long)g->atime_nsec;
	st->st_mtim.tv_sec = (time_t)g->mtime_sec;
	st->st_mtim.tv_nsec = (long)g->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)g->ctime_sec;
	st->st_ctim.tv_nsec = (long)g->ctime_nsec;
}

/* Writes behind on n are answered (a stat, a read, a truncate see
 * them). */

static int getattr_once(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct fid *f;
	struct p9_rgetattr ga = { 0 };
	bool open;
	int r;

	wb_settle(s, n);
	if (attr_get(s, n, &ga))
		goto fill;
	r = node_attr_fid(s, n, &f, &open);
	if (r)
		return r;
	r = getattr_fid(s, f->num, &ga);
	fid_put(s, f);
	if (r == -ENOENT && open) {
		/* a path-named open fid (diod) whose name is gone: the file
		 * by the name it has now, if any */
		int r2 = node_fid(s, n, &f);
		if (r2 == 0) {
			r2 = getattr_fid(s, f->num, &ga);
			fid_put(s, f);
		}
		if (r2 == 0)
			r = 0;
	}
	if (r)
		return r;
	attr_put(s, n, &ga);
fill:
	fill_stat(n, &ga, st);
	atomic_store(&n->type, ga.mode & S_IFMT);
	return 0;
}

static int setattr_fid(struct p9sb *s, uint32_t fid,
		       const struct uvfs_setattr *sa)
{
	struct p9_msg m = { .type = P9_TSETATTR };
	struct p9_tsetattr *t = &m.tsetattr;
	struct reply rp;
	int r;

	t->fid = fid;
	if (sa->valid & UVFS_SET_MODE) {
		t->valid |= P9_SETATTR_MODE;
		t->mode = sa->mode & 07777;
	}
	if (sa->valid & UVFS_SET_UID) {
		t->valid |= P9_SETATTR_UID;
		t->uid = sa->uid;
	}
	if (sa->valid & UVFS_SET_GID) {
		t->valid |= P9_SETATTR_GID;
		t->gid = sa->gid;
	}
	if (sa->valid & UVFS_SET_SIZE) {
		if (sa->size < 0)
			return -EINVAL;
		t->valid |= P9_SETATTR_SIZE;
		t->size = (uint64_t)sa->size;
	}
	if ((sa->valid & UVFS_SET_ATIME) && sa->atime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_ATIME;
		if (sa->atime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_ATIME_SET;
			t->atime_sec = (uint64_t)sa->atime.tv_sec;
			t->atime_nsec = (uint64_t)sa->atime.tv_nsec;
		}
	}
	if ((sa->valid & UVFS_SET_MTIME) && sa->mtime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_MTIME;
		if (sa->mtime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_MTIME_SET;
			t->mtime_sec = (uint64_t)sa->mtime.tv_sec;
			t->mtime_nsec = (uint64_t)sa->mtime.tv_nsec;
		}
	}
	if (t->valid == 0)
		return 0;
	r = rpc(&s->c, &m, P9_RSETATTR, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	return r;
}

static int setattr_once(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	struct p9sb *s = S(sb);
	struct fid *f;
	int r;

	bool open = false;

	wb_settle(s, priv);
	r = node_fid(s, priv, &f);
	if (r == -ENOENT || r == -ESTALE) {
		/* not reached by a name any more (removed here, and its fid
		 * given up): an open handle's fid may still reach it
		 * (uvfs-hostfs keeps an open file that was removed) */
		int r2 = node_attr_fid(s, priv, &f, &open);
		if (r2 == 0 && open)
			r = 0;
		else if (r2 == 0)
			fid_put(s, f);
	}
	if (r)
		return r;
	attr_drop(s, priv);
	r = setattr_fid(s, f->num, sa);
	if ((r == -ENOENT || r == -ESTALE) && !open) {
		/* the node's fid names a path the file left (removed or
		 * renamed by another thread since it was taken): an open
		 * handle's fid still reaches the file */
		struct fid *of;
		bool o = false;
		if (node_attr_fid(s, priv, &of, &o) == 0) {
			if (o)
				r = setattr_fid(s, of->num, sa);
			fid_put(s, of);
		}
	}
	attr_drop(s, priv);
	atomic_fetch_add(&((struct node *)priv)->dgen, 1);     /* a size */
	fid_put(s, f);
	return r;
}

/* Cached attributes of ino whose type class is not the one a walk just
 * saw belong to another file that had the number (the host reused it):
 * dropped. */
static void attr_check_type(struct p9sb *s, uint64_t ino, mode_t type)
{
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, ino);
	if (n && n->attr_ok) {
		mode_t t = n->attr.mode & S_IFMT;
		mode_t cls = t == S_IFDIR || t == S_IFLNK ? t : S_IFREG;
		if (cls != type)
			n->attr_ok = n->perm_ok = false;
	}
	pthread_mutex_unlock(&s->lock);
}

/* A name in dir changed (created, removed, renamed): dir's attributes
 * (size, times, links) and those of the file that had the name (links,
 * ctime) are dropped. */
static void attr_drop_name(struct p9sb *s, struct node *dir,
			   const char *name)
{
	pthread_mutex_lock(&s->lock);
	dir->attr_ok = false;   /* (its mode, owner, group stand) */
	if (name) {
		struct hiter it;
		for (struct node *n = named_first(s, &it, dir->ino, name); n;
		     n = named_next(s, &it, dir->ino, name))
			n->attr_ok = false;
		/* a file with other links may be known by another of its
		 * names: those are on s->multi */
		for (struct node *n = s->multi, *next; n; n = next) {
			next = n->mnext;
			if (n->attr_ok && !S_ISDIR(n->attr.mode) &&
			    n->attr.nlink > 1)
				n->attr_ok = false;
			multi_update_locked(s, n, false);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static int lookup_once(struct uvfs_sb *sb, void *dir, const char *name,
		       struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	struct p9sb *s = S(sb);
	struct node *d = dir;
	struct p9_qid qid;
	uint32_t nf;
	int r;

	if (d == s->root && strcmp(name, "..") == 0) {
		*ino = d->ino;
		id->type = S_IFDIR;
		return 0;
	}
	/* the server said what the name is a moment ago (or, cache=loose,
	 * nothing here changed it since) */
	if (strcmp(name, "..") != 0 && name_get(s, d->ino, name, ino, &id->type))
		return 0;
	if (strcmp(name, "..") != 0 && listed_lately(s, d)) {
		ls_prefetch(s, d, name);
		if (name_get(s, d->ino, name, ino, &id->type))
			return 0;
	}
	bool retried = false;
again:;
	uint64_t gen = sb_gen(s);
	struct fid *f;
	r = node_fid(s, d, &f);
	if (r) {
		if (retried)
			guard_end(s);
		return r;
	}
	r = walk(s, f->num, name, &nf, &qid);
	fid_put(s, f);
	if (r && !retried && dir_retry(s, d, r, gen)) {
		retried = true;
		guard_begin(s);
		goto again;
	}
	if (retried)
		guard_end(s);
	if (r)
		return r;
	/* a fid walked through ".." names a path that a rename of the
	 * child can invalidate (diod): keep the node's own */
	if (strcmp(name, "..") == 0)
		r = node_install_pinned(s, qid.path, nf, false, 0, NULL, 0,
					true);
	else
		r = node_install_pinned(s, qid.path, nf, true, d->ino, name,
					gen, true);
	if (r)
		return r;
	*ino = qid.path;
	/* the qid tells directories and symlinks from the rest */
	id->type = qid.type & P9_QTDIR ? S_IFDIR :
		   qid.type & P9_QTSYMLINK ? S_IFLNK : S_IFREG;
	if (id->type != S_IFREG) {      /* exact: the node's type */
		pthread_mutex_lock(&s->lock);
		struct node *ln = node_find_locked(s, qid.path);
		if (ln && !atomic_load(&ln->type))
			atomic_store(&ln->type, id->type);
		pthread_mutex_unlock(&s->lock);
	}
	attr_check_type(s, qid.path, id->type);
	return 0;
}

/* The answer's node stays in the table until the core's vget takes it
 * (node_pin). */
int p9_lookup(struct uvfs_sb *sb, void *dir, const char *name,
	      struct uvfs_ident *id)
{
	int r = lookup_once(sb, dir, name, id);

	if (r == 0)
		node_pin(S(sb), id->ino);
	return r;
}

/* The walk that gives a new file's node its fid, after the create
 * returned (nobody waits for it; an operation on the node before it is
 * in walks the name itself, as for a node whose fid the cache gave up). */
struct nodewalk_job {
	struct p9sb *s;
	struct fid *df;         /* the directory's, a use held */
	uint64_t pino, ino, gen;
	char *name;
	uint32_t nf;            /* the walk's new fid, when sent */
	bool sent;              /* sent by the creating caller: a is it */
	struct rpc_async a;
};

/* The walk goes out from the creating caller, at once (a pool thread
 * could start late on a loaded machine, and an operation on the node
 * would then walk the name again); the job only takes its answer. */
static void nodewalk_send(struct nodewalk_job *j)
{
	struct p9_msg m = { .type = P9_TWALK };

	if (fid_alloc(&j->s->c, &j->nf) != 0)
		return;
	m.twalk.fid = j->df->num;
	m.twalk.newfid = j->nf;
	m.twalk.nwname = 1;
	m.twalk.wname[0] = p9_str(j->name);
	if (rpc_start(&j->s->c, &m, P9_RWALK, &j->a) == 0)
		j->sent = true;
	else
		fid_free(&j->s->c, j->nf);
}

static void nodewalk_run(void *arg)
{
	struct nodewalk_job *j = arg;
	struct p9_qid qid;
	uint32_t nf;

	if (j->sent) {
		struct reply rp;
		if (rpc_finish(&j->s->c, &j->a, &rp, CL_WALK, j->nf) != 0)
			return;
		nf = j->nf;
		if (rp.m.rwalk.nwqid != 1) {
			reply_free(&rp);
			fid_free(&j->s->c, nf); /* a partial walk: no fid */
			return;
		}
		qid = rp.m.rwalk.wqid[0];
		reply_free(&rp);
	} else if (walk(j->s, j->df->num, j->name, &nf, &qid) != 0) {
		return;
	}
	if (qid.path != j->ino) {       /* replaced meanwhile: not ours */
		clunk_async(&j->s->c, nf);
		return;
	}
	pthread_mutex_lock(&j->s->lock);
	struct node *n = node_find_locked(j->s, j->ino);
	bool want = n && !n->fid;
	pthread_mutex_unlock(&j->s->lock);
	if (want)
		node_install(j->s, j->ino, nf, true, j->pino, j->name, j->gen,
			     false);
	else
		clunk_async(&j->s->c, nf);
}

static void nodewalk_fin(void *arg)
{
	struct nodewalk_job *j = arg;

	pthread_mutex_lock(&j->s->lock);
	struct node *n = node_find_locked(j->s, j->ino);
	if (n && n->walking) {
		n->walking = false;
		pthread_cond_broadcast(&j->s->walk_cv);
	}
	pthread_mutex_unlock(&j->s->lock);
	fid_put(j->s, j->df);
	free(j->name);
	free(j);
}

/*
 * A file made as root for another caller (a mount attached as root):
 * given to the caller by a Tsetattr of its owner through fid (the group
 * the server chose stays: a set-group-ID directory's), then its set-id
 * bits, which the server was not asked for (a set-user-ID file of
 * root's, however briefly, is one whose content the caller writes
 * through the handle the create opened) and which the chown would clear
 * anyway.  0, or the first request's error: then the file is not the
 * caller's, and the create must fail.  Also for a directory, symlink or
 * node (install_name), with no set-id bits in mode.
 */
static int give_file(struct p9sb *s, uint32_t fid, mode_t mode,
		     const struct uvfs_cred *cred)
{
	struct p9_rgetattr ga = { 0 };
	int r = getattr_fid(s, fid, &ga);

	if (r == 0) {
		struct uvfs_setattr sa = { .valid = UVFS_SET_UID |
					   UVFS_SET_GID, .uid = cred->uid,
					   .gid = ga.gid };
		r = setattr_fid(s, fid, &sa);
	}
	if (r == 0 && (mode & 06000)) {
		struct uvfs_setattr sa = { .valid = UVFS_SET_MODE,
					   .mode = mode & 07777 };
		r = setattr_fid(s, fid, &sa);
	}
	return r;
}

/*
 * Tremove of fid: its file goes, and so does the fid, whatever the
 * server answers (the fid's number is free again).  One that timed out
 * may have been flushed before it ran, the fid still the server's, or
 * lost with the session: it is clunked then (a Tclunk of a fid the
 * server no longer has answers EBADF, which frees the number too).
 * Before, such a fid was left to nobody, held on the server until the
 * connection ended.  0 or the Tremove's error.
 */
static int tremove(struct p9sb *s, uint32_t fid)
{
	struct p9_msg m = { .type = P9_TREMOVE };
	struct reply rp;
	int r;

	m.tremove.fid = fid;
	r = rpc(&s->c, &m, P9_RREMOVE, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (r == -ETIMEDOUT || r == -EIO)
		clunk_async(&s->c, fid);
	else
		fid_free(&s->c, fid);
	return r;
}

/*
 * Walks dir/name into the table after a Tmkdir, Tsymlink or Tmknod
 * (pinned: the core's vget follows).  Attached as root for another
 * caller, the object is given to the caller first (give_file, through the
 * fid walked to it, before its node goes in the table); if that fails it
 * is removed again (Tremove of that fid: the object the walk found, not
 * whatever the name leads to by then) and the create fails with that
 * error, as a regular file's.  Before, the chown's answer was not looked
 * at: the call succeeded and left the caller an object of root's it
 * could not chmod, nor remove from a sticky directory
 * (test_9pcreate test_mkdir_chown).
 */
static int install_name(struct p9sb *s, struct node *dir, uint32_t dirfid,
			const char *name, const struct uvfs_cred *cred,
			uint64_t *ino)
{
	struct p9_qid qid;
	uint32_t nf;
	uint64_t gen = sb_gen(s);
	int r = walk(s, dirfid, name, &nf, &qid);

	if (r)
		return r;
	/* no set-id bits asked again: the chown leaves a directory's, and
	 * nothing else made here runs */
	if (cred && s->uid == 0 && cred->uid != 0 &&
	    (r = give_file(s, nf, 0, cred)) != 0) {
		(void)tremove(s, nf);   /* not the caller's: it goes */
		return r;
	}
	r = node_install_pinned(s, qid.path, nf, true, dir->ino, name, gen,
				false);
	if (r)
		return r;
	*ino = qid.path;
	/* a new file (any attributes kept for its number were another's),
	 * or a moved one (its ctime) */
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, qid.path);
	if (n)
		n->attr_ok = n->perm_ok = false;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * A regular file: Tlcreate(clone, O_RDWR|O_CREAT|O_EXCL) on the
 * directory's spare clone, with the Twalk(dir -> clone) of the next
 * create's spare in the same message train (independent fids: a server
 * may run them in any order): one round trip.  Rlcreate's qid is the new
 * file's number: its node goes into the table at once, without a fid;
 * the Twalk(dir -> newfid, [name]) that gives it one goes out behind
 * (nobody waits; an operation before its answer walks the name itself).
 * The open clone is kept for the open that follows (node->pre).  No
 * Tgetattr: the core asks for attributes only when it needs them (the
 * first getattr then costs one round trip).  A clone and its Tlcreate
 * cannot go together (a server may run the Tlcreate first, on a fid it
 * does not have yet): the first create in a directory walks its clone
 * first (two round trips).  Attached as root for another caller: the
 * file is made without its set-id bits, and given to the caller before
 * anything else is done with it (give_file: the Tgetattr and Tsetattr
 * of the chown, waited for); if that fails, the file is removed again
 * and the create fails with that error.
 */
static int create_reg(struct p9sb *s, struct node *dir, struct fid *df,
		      const char *name, mode_t mode, uint32_t gid,
		      const struct uvfs_cred *cred, uint64_t *ino)
{
	struct p9_msg m = { .type = P9_TLCREATE };
	struct p9_msg sm = { .type = P9_TWALK };
	struct rpc_async sa;
	struct reply rp;
	uint32_t cf, iounit, sf = 0;
	uint64_t gen = sb_gen(s);
	struct fid *spare;
	bool spare_out = false;
	bool chown = cred && s->uid == 0 && cred->uid != 0;
	int r;

	/* the directory's spare clone, made beside the last create */
	pthread_mutex_lock(&s->lock);
	spare = dir->spare;
	dir->spare = NULL;
	if (spare && moved_since_locked(s, dir, dir->spare_gen)) {
		pthread_mutex_unlock(&s->lock);
		fid_put(s, spare);      /* a rename may have made it stale */
		spare = NULL;
	} else {
		pthread_mutex_unlock(&s->lock);
	}
	if (spare) {
		cf = spare->num;
		free(spare);    /* the number is ours now (one use) */
	} else {
		r = walk(s, df->num, NULL, &cf, NULL);
		if (r)
			return r;
	}
	/* the next create's clone, in the same train */
	if (fid_alloc(&s->c, &sf) == 0) {
		sm.twalk.fid = df->num;
		sm.twalk.newfid = sf;
		if (rpc_start(&s->c, &sm, P9_RWALK, &sa) == 0)
			spare_out = true;
		else
			fid_free(&s->c, sf);
	}
	m.tlcreate.fid = cf;
	m.tlcreate.name = p9_str(name);
	m.tlcreate.flags = 02 | 0100 | 0200;    /* O_RDWR|O_CREAT|O_EXCL */
	/* made as root for another: no set-id bits while root owns it */
	m.tlcreate.mode = mode & (chown ? 01777 : 07777);
	m.tlcreate.gid = gid;
	r = rpc(&s->c, &m, P9_RLCREATE, &rp, CL_CLUNK, cf);
	if (spare_out) {
		struct reply srp;
		sa.overlapped = true;   /* it went with the Tlcreate */
		if (rpc_finish(&s->c, &sa, &srp, CL_WALK, sf) == 0) {
			reply_free(&srp);
			struct fid *f = fid_new(sf), *old = NULL;
			if (f) {
				pthread_mutex_lock(&s->lock);
				old = dir->spare;
				dir->spare = f;
				dir->spare_gen = gen;
				pthread_mutex_unlock(&s->lock);
				fid_put(s, old);
			} else {
				clunk_async(&s->c, sf);
			}
		}
	}
	if (r)
		return r;
	iounit = rp.m.rlcreate.iounit;
	*ino = rp.m.rlcreate.qid.path;
	reply_free(&rp);
	if (chown && (r = give_file(s, cf, mode, cred)) != 0) {
		(void)tremove(s, cf);   /* not the caller's: it goes */
		return r;
	}
	node_new_file(s, *ino);
	/* the server's answer: the name is the new file's now; the node
	 * stays in the table until the core's vget (node_pin) */
	r = node_install_pinned(s, *ino, P9_NOFID, true, dir->ino, name,
				sb_gen(s), false);
	if (r) {
		clunk_async(&s->c, cf);
		return r;
	}
	/* a new file: attributes kept for its number were another's */
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, *ino);
	if (n) {
		n->attr_ok = n->perm_ok = false;
		atomic_store(&n->type, S_IFREG);
	}
	pthread_mutex_unlock(&s->lock);
	struct nodewalk_job *j = sys_calloc(1, sizeof(*j));
	if (j && (j->name = sys_strdup(name))) {
		j->s = s;
		j->df = df;
		atomic_fetch_add(&df->refs, 1);
		j->pino = dir->ino;
		j->ino = *ino;
		j->gen = gen;
		nodewalk_send(j);
		pthread_mutex_lock(&s->lock);
		if ((n = node_find_locked(s, *ino)) && !n->fid)
			n->walking = true;      /* until nodewalk_fin */
		pthread_mutex_unlock(&s->lock);
		pool_submit_fin(&s->pool, &s->nw_b, nodewalk_run,
				nodewalk_fin, j, 0);
	} else {
		free(j);
	}
	/* No attributes are kept: without a chown none were asked; with
	 * one, their ctime is the create's, and the chown's, a moment
	 * later, would show only once they expire (a ctime that moves with
	 * no change made: the differential test's times saw it).  The next
	 * getattr asks. */
	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, *ino);
	struct fid *old = NULL, *pre = fid_new(cf);
	bool taken = false;
	if (n && pre) {
		old = n->pre;
		n->pre = pre;
		n->pre_iounit = iounit;
		taken = true;
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, old);
	if (!taken && pre)
		fid_put(s, pre);        /* clunks it */
	else if (!taken)
		clunk_async(&s->c, cf);
	return 0;
}

static int create_once(struct uvfs_sb *sb, void *dir, const char *name,
		       mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, uint64_t *ino)
{
	struct p9sb *s = S(sb);
	struct fid *df;
	struct p9_msg m = { 0 };
	struct reply rp;
	uint32_t gid = cred ? cred->gid : 0;
	uint8_t rtype;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	if (strlen(name) > 65535 || (target && strlen(target) > 65535)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	attr_drop_name(s, dir, NULL);   /* its times, size, links */
	switch (mode & S_IFMT) {
	case S_IFREG:
		r = create_reg(s, dir, df, name, mode, gid, cred, ino);
		goto out;
	case S_IFDIR:
		m.type = P9_TMKDIR;
		m.tmkdir.dfid = df->num;
		m.tmkdir.name = p9_str(name);
		m.tmkdir.mode = mode & 07777;
		m.tmkdir.gid = gid;
		rtype = P9_RMKDIR;
		break;
	case S_IFLNK:
		if (!target) {
			r = -EINVAL;
			goto out;
		}
		m.type = P9_TSYMLINK;
		m.tsymlink.fid = df->num;
		m.tsymlink.name = p9_str(name);
		m.tsymlink.symtgt = p9_str(target);
		m.tsymlink.gid = gid;
		rtype = P9_RSYMLINK;
		break;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		m.type = P9_TMKNOD;
		m.tmknod.dfid = df->num;
		m.tmknod.name = p9_str(name);
		m.tmknod.mode = mode & (S_IFMT | 07777);
		m.tmknod.major = major(rdev);
		m.tmknod.minor = minor(rdev);
		m.tmknod.gid = gid;
		rtype = P9_RMKNOD;
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	r = rpc(&s->c, &m, rtype, &rp, CL_NONE, 0);
	if (r)
		goto out;
	reply_free(&rp);
	r = install_name(s, dir, df->num, name, cred, ino);
	if (r == 0) {
		/* the core loads the new vnode with this type, no getattr */
		pthread_mutex_lock(&s->lock);
		struct node *cn = node_find_locked(s, *ino);
		if (cn)
			atomic_store(&cn->type, mode & S_IFMT);
		pthread_mutex_unlock(&s->lock);
	}
out:
	fid_put(s, df);
	return r;
}

static int link_once(struct uvfs_sb *sb, void *dir, const char *name,
		     void *priv)
{
	struct p9sb *s = S(sb);
	struct fid *df, *f;
	struct p9_msg m = { .type = P9_TLINK };
	struct reply rp;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	r = node_fid(s, priv, &f);
	if (r) {
		fid_put(s, df);
		return r;
	}

	m.tlink.dfid = df->num;
	m.tlink.fid = f->num;
	m.tlink.name = p9_str(name);
	r = rpc(&s->c, &m, P9_RLINK, &rp, CL_NONE, 0);
	if (r == 0) {
		reply_free(&rp);
		node_linked(s, priv, ((struct node *)dir)->ino, name);
	}
	attr_drop_name(s, dir, NULL);
	attr_drop(s, priv);
	fid_put(s, f);
	fid_put(s, df);
	return r;
}

/* Tremove of dir/name, for servers without Tunlinkat (diod 1.0): checks
 * the type first, as unlinkat(2) would.  A node known by that name with a
 * fid walked by it that nobody else uses gives that fid (one round trip:
 * its type is known, and Tremove consumes the fid); else Twalk, Tgetattr
 * (the type), Tremove. */
static int remove_name(struct p9sb *s, struct node *dir, uint32_t dirfid,
		       const char *name, int isdir)
{
	struct p9_rgetattr ga = { 0 };
	mode_t type = 0;
	uint32_t f;
	int r;

	struct fid *nf = node_fid_take(s, dir->ino, name, &type);
	if (nf && (S_ISDIR(type) != (isdir != 0))) {
		/* the core's vnode said otherwise: the name changed; ask */
		fid_put(s, nf);
		nf = NULL;
	}
	if (nf) {
		f = nf->num;
		free(nf);       /* the number is ours: Tremove consumes it */
		r = tremove(s, f);
		if (r != -ENOENT)
			return r;
		/* (a path-named fid gone stale: by the name, below) */
	}
	r = walk(s, dirfid, name, &f, NULL);
	if (r)
		return r;
	r = getattr_fid(s, f, &ga);
	if (r == 0 && isdir && !S_ISDIR(ga.mode))
		r = -ENOTDIR;
	else if (r == 0 && !isdir && S_ISDIR(ga.mode))
		r = -EISDIR;
	if (r) {
		clunk_async(&s->c, f);
		return r;
	}
	return tremove(s, f);
}

static int unlink_once(struct uvfs_sb *sb, void *dir, const char *name,
		       int isdir)
{
	struct p9sb *s = S(sb);
	struct fid *df;
	struct p9_msg m = { .type = P9_TUNLINKAT };
	struct reply rp;
	int r = node_fid(s, dir, &df);

	if (r)
		return r;
	change_begin(s);
	r = -EOPNOTSUPP;
	caps_settle(s);
	if (!atomic_load(&s->no_unlinkat)) {
		m.tunlinkat.dirfid = df->num;
		m.tunlinkat.name = p9_str(name);
		m.tunlinkat.flags = isdir ? 0x200 /* AT_REMOVEDIR */ : 0;
		r = rpc(&s->c, &m, P9_RUNLINKAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_unlinkat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS)
		r = remove_name(s, dir, df->num, name, isdir);
	attr_drop_name(s, dir, name);
	name_forget(s, ((struct node *)dir)->ino, name);
	if (r == 0)
		node_name_gone(s, ((struct node *)dir)->ino, name);
	change_end(s);
	fid_put(s, df);
	return r;
}

/* *sent: the rename was sent (change_begin): the caller ends the change
 * (change_end) once the table shows the new names, or at once if it
 * failed. */
static int rename_once(struct uvfs_sb *sb, void *odir, const char *oname,
		       void *ndir, const char *nname, unsigned flags,
		       struct node **moved_fid, bool *sent)
{
	struct p9sb *s = S(sb);
	struct fid *of, *nf;
	struct p9_msg m = { .type = P9_TRENAMEAT };
	struct reply rp;
	int r;

	if (flags & ~1u)        /* RENAME_EXCHANGE: not in 9P2000.L */
		return -EINVAL;
	r = node_fid(s, odir, &of);
	if (r)
		return r;
	r = node_fid(s, ndir, &nf);
	if (r) {
		fid_put(s, of);
		return r;
	}
	if (flags & 1u) {       /* RENAME_NOREPLACE: checked, not atomic */
		uint32_t tf;
		r = walk(s, nf->num, nname, &tf, NULL);
		if (r == 0) {
			clunk_async(&s->c, tf);
			r = -EEXIST;
		} else if (r == -ENOENT) {
			r = 0;
		}
		if (r)
			goto out;
	}
	change_begin(s);
	*sent = true;
	r = -EOPNOTSUPP;
	caps_settle(s);
	if (!atomic_load(&s->no_renameat)) {
		m.trenameat.olddirfid = of->num;
		m.trenameat.oldname = p9_str(oname);
		m.trenameat.newdirfid = nf->num;
		m.trenameat.newname = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAMEAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_renameat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS) {
		/* Trename of the file's node fid when it was walked by the
		 * old name (the server moves the fid with the file: one
		 * round trip); else walk to the file, move it */
		struct node *fn = NULL;
		struct fid *ff = node_name_fid(s, ((struct node *)odir)->ino,
					       oname, &fn);
		if (ff) {
			m = (struct p9_msg){ .type = P9_TRENAME };
			m.trename.fid = ff->num;
			m.trename.dfid = nf->num;
			m.trename.name = p9_str(nname);
			r = rpc(&s->c, &m, P9_RRENAME, &rp, CL_NONE, 0);
			if (r == 0) {
				reply_free(&rp);
				*moved_fid = fn;
			}
			fid_put(s, ff);
			if (r != -ENOENT)
				goto out;
		}
		uint32_t f;
		r = walk(s, of->num, oname, &f, NULL);
		if (r)
			goto out;
		m = (struct p9_msg){ .type = P9_TRENAME };
		m.trename.fid = f;
		m.trename.dfid = nf->num;
		m.trename.name = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAME, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		clunk_async(&s->c, f);
	}
out:
	attr_drop_name(s, odir, oname);
	attr_drop_name(s, ndir, nname);
	fid_put(s, nf);
	fid_put(s, of);
	return r;
}

static ssize_t readlink_once(struct uvfs_sb *sb, void *priv, char *buf,
			     size_t size)
{
	struct p9sb *s = S(sb);
	struct fid *f;
	struct p9_msg m = { .type = P9_TREADLINK };
	struct reply rp;
	int r = node_fid(s, priv, &f);

	if (r)
		return r;

	m.treadlink.fid = f->num;
	r = rpc(&s->c, &m, P9_RREADLINK, &rp, CL_NONE, 0);
	fid_put(s, f);
	if (r)
		return r;
	attr_drop_atime(s, priv);
	size_t n = rp.m.rreadlink.target.len;
	if (n > size)
		n = size;
	memcpy(buf, rp.m.rreadlink.target.s, n);
	reply_free(&rp);
	return (ssize_t)n;
}

/* The core's check (vnode_if.c) from the attributes kept, so that a
 * lookup's or a create's check of a directory asks nothing when its mode
 * is known (a name changed in it leaves its mode, owner and group). */
int p9_permission(struct uvfs_sb *sb, void *priv, int mask,
		  const struct uvfs_cred *cr)
{
	struct p9sb *s = S(sb);
	struct p9_rgetattr ga;
	unsigned bits;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	if (attr_get_perm(s, priv, &ga)) {
		mode = ga.mode;
		uid = ga.uid;
		gid = ga.gid;
	} else {
		struct stat st;
		int r = p9_getattr(sb, priv, &st);
		if (r)
			return r;
		mode = st.st_mode;
		uid = st.st_uid;
		gid = st.st_gid;
	}
	if (cr->uid == 0) {
		bits = (mask & X_OK) && !S_ISDIR(mode) && !(mode & 0111) ? 0 : 7;
	} else if (cr->uid == uid) {
		bits = (mode >> 6) & 7;
	} else {
		bool in = cr->gid == gid;
		for (unsigned i = 0; !in && i < cr->ngroups &&
		     i < UVFS_NGROUPS_MAX; i++)
			in = cr->groups[i] == gid;
		bits = in ? (mode >> 3) & 7 : mode & 7;
	}
	return ((unsigned)mask & ~bits) ? -EACCES : 0;
}

/* ---- retried once when a rename made a path-named fid stale ---------- */

int p9_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	return NODE_CALL(S(sb), priv, getattr_once(sb, priv, st));
}

int p9_setattr(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	return NODE_CALL(S(sb), priv, setattr_once(sb, priv, sa));
}

ssize_t p9_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			   size_t size)
{
	return NODE_CALL(S(sb), priv, readlink_once(sb, priv, buf, size));
}

int p9_create(struct uvfs_sb *sb, void *dir, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	uint64_t gen = sb_gen(S(sb));
	int r = create_once(sb, dir, name, mode, rdev, target, cred, ino);

	if (r && dir_retry(S(sb), dir, r, gen)) {
		guard_begin(S(sb));
		r = create_once(sb, dir, name, mode, rdev, target, cred, ino);
		guard_end(S(sb));
	}
	if (r == 0)
		id->type = mode & S_IFMT;
	return r;
}

int p9_link(struct uvfs_sb *sb, void *dir, const char *name,
		   void *priv)
{
	uint64_t gen = sb_gen(S(sb));
	int r = link_once(sb, dir, name, priv);

	if (r) {
		bool a = dir_retry(S(sb), dir, r, gen);
		bool b = stale_retry(S(sb), priv, r);
		if (a || b) {
			guard_begin(S(sb));
			r = link_once(sb, dir, name, priv);
			guard_end(S(sb));
		}
	}
	return r;
}

/* Tries of an unlink or a rename whose directory a rename through this
 * mount moved under it (dir_retry).  They cannot wait for the renames to
 * stop as a lookup's second walk does (guard_begin): they are changes
 * themselves.  So each races the next rename again, and a directory
 * renamed without pause failed one in some 50 000 after a single second
 * try (test_9prace, test_changes_race_renames). */
#define DIR_TRIES 4

int p9_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		     int isdir)
{
	uint64_t gen = sb_gen(S(sb));
	int r = unlink_once(sb, dir, name, isdir);

	for (int tries = 1; r && tries < DIR_TRIES &&
	     dir_retry(S(sb), dir, r, gen); tries++) {
		gen = sb_gen(S(sb));
		r = unlink_once(sb, dir, name, isdir);
	}
	return r;
}

int p9_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		     void *ndir, const char *nname, unsigned flags)
{
	struct p9sb *s = S(sb);
	struct node *moved_fid = NULL;  /* its fid went with the Trename */
	bool sent = false;
	uint64_t gen = sb_gen(s);
	int r = rename_once(sb, odir, oname, ndir, nname, flags, &moved_fid,
			    &sent);

	for (int tries = 1; r && tries < DIR_TRIES; tries++) {
		if (sent)
			change_end(s);
		sent = false;
		bool a = dir_retry(s, odir, r, gen);
		bool b = dir_retry(s, ndir, r, gen);
		if (!a && !b)
			break;
		gen = sb_gen(s);
		r = rename_once(sb, odir, oname, ndir, nname, flags,
				&moved_fid, &sent);
	}
	if (r == 0) {
		/* fids walked below the old name may be stale now (diod):
		 * the next operation that fails on one walks again, by the
		 * names the table now has */
		struct node *od = odir, *nd = ndir;
		node_renamed(s, od->ino, oname, nd->ino, nname);
		if (moved_fid)
			node_fid_fresh(s, moved_fid);
	}
	if (sent)
		change_end(s);

	return r;
}


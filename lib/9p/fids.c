/*
 * fids.c - the 9P2000.L client driver's node fids: a node's walked fid
 * taken for a request (node_fid), walked again when it may name another
 * file (after a rename through this mount, fid_follow_rename; when its
 * name is gone and the file has another, stale_retry) or when the fid
 * cache gave it up (rewalk), and taken by a request that consumes it
 * (node_fid_take).  The fid cache keeps at most fids= of them
 * (docs/9p-client.md, "fids are a cache").  The nodes are client.c's,
 * the names they are walked by names.c's.
 *
 * Owns struct fid: made by fid_new, shared by its uses (refs), gone at
 * the last fid_put (fid_rele, rpc.c, clunks its number); legend in
 * conn.h.
 *
 * Renames and removals under way (change_begin/_end: sent, the table
 * not yet showing their names) and walks guarded from them (guard_begin/
 * _end: a re-walk or a retry after a failure that may have been such a
 * race) are counted here (docs/9p-client.md, "Walks that race a rename
 * through the same mount").
 *
 * Locks: sb.lock (each node's fid and its place on the fid LRU: driver.h,
 * struct node; nchanging, nguarded) is never held across a request; a
 * wait for the walk behind a create (walk_wait_locked), for the changes
 * under way or for the guarded walks sleeps on sb.walk_cv under it, by
 * the call's deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uvfs/9p.h>

#include "driver.h"
#include "sys.h"

struct fid *fid_new(uint32_t num)
{
	struct fid *f = sys_malloc(sizeof(*f));

	if (f) {
		f->num = num;
		atomic_init(&f->refs, 1);
	}
	return f;
}

void fid_put(struct p9sb *s, struct fid *f)
{
	fid_rele(&s->c, f);
}

/*
 * The fid cache.  Every node the kernel remembers would otherwise hold a
 * fid, and servers limit them (uvfs-hostfs: 65536): nodes that can be
 * walked again from the root (they have a name, and a parent in the
 * table) keep their fid on an LRU of at most s->maxfids; past it the
 * least recently used gives its fid up (clunked once the operations in
 * flight on it are done), and node_fid walks it again on demand.
 */

/* => s->lock held.  n was just used (or got a fid). */
static void flru_touch_locked(struct p9sb *s, struct node *n)
{
	if (n == s->root || !n->fid || !n->name)
		return;
	if (n->fnext) {
		n->fprev->fnext = n->fnext;
		n->fnext->fprev = n->fprev;
	} else {
		s->nfids++;
		atomic_store(&s->c.drv_fids, s->nfids);
	}
	n->fnext = s->flru.fnext;
	n->fprev = &s->flru;
	n->fnext->fprev = n;
	s->flru.fnext = n;
}

/* => s->lock held */
void flru_del_locked(struct p9sb *s, struct node *n)
{
	if (n->fnext) {
		n->fprev->fnext = n->fnext;
		n->fnext->fprev = n->fprev;
		n->fprev = n->fnext = NULL;
		s->nfids--;
		atomic_store(&s->c.drv_fids, s->nfids);
	}
}

/* => s->lock held.  Past the limit: the least recently used node gives its
 * fid up; returned for the caller to put once the lock is dropped. */
static struct fid *flru_trim_locked(struct p9sb *s)
{
	struct node *v = s->flru.fprev;
	struct fid *f;

	if (s->nfids <= s->maxfids || v == &s->flru)
		return NULL;
	flru_del_locked(s, v);
	f = v->fid;
	v->fid = NULL;
	s->fid_releases++;
	atomic_store(&s->c.drv_fid_releases, s->fid_releases);
	return f;
}

/* => s->lock held.  n's fid becomes f (ownership passes); the old one,
 * and one the cache released, are returned to be put unlocked. */
void node_set_fid_locked(struct p9sb *s, struct node *n, struct fid *f,
			 struct fid **old, struct fid **released)
{
	*old = n->fid;
	n->fid = f;
	n->fidgen++;
	flru_touch_locked(s, n);
	*released = flru_trim_locked(s);
}

/* => s->lock held.  f, walked to n when the rename generation was gen,
 * becomes n's fid as node_set_fid_locked does, unless n holds one walked
 * (or found current) at a later generation: a walk that began before a
 * rename through this mount can come back after another caller walked n
 * again by the new names, and its fid, named by the old path on a server
 * that names fids by path, must not replace that one.  A caller that
 * found n current a moment before takes n's fid in another hold of the
 * lock (node_fid), and nothing would tell it that the fid it took was
 * walked before a rename that the generation it read had already seen.
 * f NULL: n is left without a fid, as node_set_fid_locked leaves it.
 * Taken, n->gen is gen at most (the caller raises it to gen when the
 * walk was by n's own names).  => false: f was not taken (still the
 * caller's), *old and *released are NULL. */
bool node_offer_fid_locked(struct p9sb *s, struct node *n, struct fid *f,
			   uint64_t gen, struct fid **old,
			   struct fid **released)
{
	if (f && n->fid && n->gen > gen) {
		*old = *released = NULL;
		return false;
	}
	node_set_fid_locked(s, n, f, old, released);
	if (n->gen > gen)
		n->gen = gen;   /* (n had none) its fid is no newer than gen */
	return true;
}

/*
 * => s->lock held.  Was n's fid walked before a rename (made through this
 * mount) that moved n or a directory above it?  On a server that names
 * fids by path (diod) such a fid names whatever is at the old path now —
 * a file made there since answers for n, and no error says so — so it is
 * walked again by n's new names before it is used (fid_follow_rename).
 * A node found unmoved is marked current, so that the chain of names is
 * looked at once per rename, not at every use.
 */
static bool fid_moved_locked(struct p9sb *s, struct node *n)
{
	if (n == s->root || n->gen >= s->gen)
		return false;
	if (!moved_since_locked(s, n, n->gen)) {
		n->gen = s->gen;        /* its fid still names it */
		return false;
	}
	return true;
}

/* n was moved since its fid was walked: walked again by the names the
 * table has now (rewalk).  Once per rename: if that fails (the chain of
 * names is not known whole, or the file is gone), the old fid is used as
 * before, and an ENOENT from it goes to stale_retry's other names; a
 * failed request (the session down) leaves it to the next use. */
static void fid_follow_rename(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	bool moved = fid_moved_locked(s, n);
	pthread_mutex_unlock(&s->lock);
	int r = moved ? rewalk(s, n) : 0;
	if (r == -ENOENT || r == -ESTALE) {
		pthread_mutex_lock(&s->lock);
		n->gen = s->gen;
		pthread_mutex_unlock(&s->lock);
	}
}

/* => s->lock held.  A new file's node whose walk behind its create is
 * out (node->walking): waits for that walk (by the call's deadline)
 * instead of sending another; true if it waited.  n may be gone when it
 * returns unless the caller holds it. */
static bool walk_wait_locked(struct p9sb *s, struct node *n)
{
	struct timespec dl;

	if (!n->walking)
		return false;
	deadline_in(&dl, s->c.s.timeout_ms);
	rs_call_clamp(&dl);
	atomic_fetch_add(&s->c.n_waits, 1);
	while (n->walking &&
	       pthread_cond_timedwait(&s->walk_cv, &s->lock, &dl) == 0)
		;
	return true;
}

/* The node this thread's last node_fid gave a fid of, and that fid's
 * install (fidgen): an operation that fails on it, seeing a fid installed
 * since (another caller walked the node again meanwhile), tries again
 * (stale_retry).  Per thread: an operation's calls run on one. */
static __thread const struct node *last_node;
static __thread unsigned last_fidgen;

int node_fid(struct p9sb *s, struct node *n, struct fid **out)
{
	struct fid *f;
	bool gone;
	int r;

	fid_follow_rename(s, n);
	pthread_mutex_lock(&s->lock);
	if (!n->fid)
		walk_wait_locked(s, n);
	f = n->fid;
	if (f) {
		atomic_fetch_add(&f->refs, 1);
		flru_touch_locked(s, n);
		last_node = n;
		last_fidgen = n->fidgen;
		pthread_mutex_unlock(&s->lock);
		*out = f;
		return 0;
	}
	gone = n->gone;
	pthread_mutex_unlock(&s->lock);
	if (gone)
		return -ENOENT;
	/* released by the cache, or taken by an open (node_fid_take):
	 * walked again (not a file removed here: its old name may be
	 * another's now), keeping the fid that walk makes, which another
	 * opener could otherwise take before a second look found it */
	r = rewalk_get(s, n, out);
	if (r == 0) {
		pthread_mutex_lock(&s->lock);
		last_node = n;
		last_fidgen = n->fidgen;        /* (at most a later one) */
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	gone = n->gone;
	pthread_mutex_unlock(&s->lock);
	return gone ? -ENOENT : r;
}

/* For getattr: an open handle's fid if there is one (an open file can be
 * unlinked, and a path-based server such as diod answers it only through
 * the open fid), else the node's. */
int node_attr_fid(struct p9sb *s, struct node *n, struct fid **out,
		  bool *open)
{
	struct fid *f = NULL;

	pthread_mutex_lock(&s->lock);
	if (n->nopen)
		for (struct handle *h = s->handles.next; h != &s->handles;
		     h = h->next)
			if (h->node == n) {
				f = h->fid;
				break;
			}
	if (!f && !n->fid && n->pre)
		f = n->pre;     /* a create's, opened: no walk by name */
	if (f)
		atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&s->lock);
	*open = f != NULL;
	if (f) {
		*out = f;
		return 0;
	}
	return node_fid(s, n, out);
}

#define REWALK_MAX 256  /* names walked at most to reach a node again */
#define REWALK_TRIES 4  /* walks of one rewalk_get that raced a change */

/* => s->lock held.  Waits, by a call's deadline, while cond holds. */
#define WAIT_WHILE_LOCKED(s, cond) do {					\
	struct timespec dl_;						\
	deadline_in(&dl_, (s)->c.s.timeout_ms);				\
	rs_call_clamp(&dl_);						\
	while ((cond) && pthread_cond_timedwait(&(s)->walk_cv,		\
						&(s)->lock, &dl_) == 0)	\
		;							\
} while (0)

/* Renames and removals on one side, guarded walks on the other: each side
 * enters once the other is out (by a call's deadline: after it, it enters
 * anyway), and many of one side may be in at once. */
static void side_enter(struct p9sb *s, const unsigned *other, unsigned *mine)
{
	pthread_mutex_lock(&s->lock);
	if (*other)
		WAIT_WHILE_LOCKED(s, *other);
	(*mine)++;
	pthread_mutex_unlock(&s->lock);
}

static void side_leave(struct p9sb *s, unsigned *mine)
{
	pthread_mutex_lock(&s->lock);
	(*mine)--;
	pthread_cond_broadcast(&s->walk_cv);
	pthread_mutex_unlock(&s->lock);
}

void change_begin(struct p9sb *s)
{
	/* a walk that raced a change walks again with none under way */
	side_enter(s, &s->nguarded, &s->nchanging);
}

void change_end(struct p9sb *s)
{
	side_leave(s, &s->nchanging);
}

void guard_begin(struct p9sb *s)
{
	side_enter(s, &s->nchanging, &s->nguarded);
}

void guard_end(struct p9sb *s)
{
	side_leave(s, &s->nguarded);
}

/* One try of rewalk_get.  *raced: it failed (-ENOENT, -ESTALE) while a
 * rename or removal through this mount was under way or done since it
 * read the names, so the names it walked may have changed under it: n is
 * then not marked gone, and the caller tries again. */
static int rewalk_once(struct p9sb *s, struct node *n, struct fid **got,
		       bool *raced)
{
	char **names = sys_calloc(REWALK_MAX, sizeof(*names));
	struct fid *basef = NULL;
	struct node *p;
	uint64_t gen;
	uint32_t cur = P9_NOFID;
	size_t depth = 0, i;
	int r = -ESTALE;
	bool busy;

	*raced = false;
	if (!names)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	gen = s->gen;
	busy = s->nchanging != 0;
	for (p = n; p != s->root && depth < REWALK_MAX;) {
		if (p->gone) {
			r = -ENOENT;    /* in a directory removed here */
			break;
		}
		if (!p->name || !(names[depth] = sys_strdup(p->name)))
			break;
		depth++;
		p = node_find_locked(s, p->pino);
		if (!p)
			break;
		if (p == s->root || (p->fid &&
		    !moved_since_locked(s, p, p->gen))) {
			/* p's fid names p: start there */
			basef = p->fid;
			atomic_fetch_add(&basef->refs, 1);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!basef || depth == 0)
		goto out;

	/* names[depth-1] is just below the starting directory */
	for (i = depth; i > 0;) {
		struct p9_msg m = { .type = P9_TWALK };
		struct reply rp;
		uint32_t nf;
		uint16_t k = 0;

		r = fid_alloc(&s->c, &nf);
		if (r)
			break;
		m.twalk.fid = cur == P9_NOFID ? basef->num : cur;
		m.twalk.newfid = nf;
		while (i > 0 && k < P9_MAXWELEM)
			m.twalk.wname[k++] = p9_str(names[--i]);
		m.twalk.nwname = k;
		r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
		if (r)
			break;
		bool whole = rp.m.rwalk.nwqid == k;
		uint64_t last = whole ? rp.m.rwalk.wqid[k - 1].path : 0;
		reply_free(&rp);
		if (!whole) {
			fid_free(&s->c, nf);
			r = -ENOENT;
			break;
		}
		if (cur != P9_NOFID)
			clunk_async(&s->c, cur);
		cur = nf;
		if (i == 0 && last != n->ino)
			r = -ESTALE;    /* another file has that path now */
	}
	if ((r == -ENOENT || r == -ESTALE) && basef) {
		pthread_mutex_lock(&s->lock);
		*raced = busy || s->nchanging != 0 || s->gen != gen;
		pthread_mutex_unlock(&s->lock);
	}
	if (r == -ESTALE && cur != P9_NOFID && !*raced) {
		/* n lost that name (removed or replaced while its fid was
		 * given up): not walked by it again */
		pthread_mutex_lock(&s->lock);
		if (n->name && strcmp(n->name, names[0]) == 0) {
			node_set_name_locked(s, n, 0, NULL, n->gen);
			n->gone = !n->aliases;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (r == 0) {
		struct fid *f = fid_new(cur), *old, *released;
		if (!f) {
			r = -ENOMEM;
			goto out;
		}
		cur = P9_NOFID;
		pthread_mutex_lock(&s->lock);
		if (node_offer_fid_locked(s, n, f, gen, &old, &released))
			n->gen = gen;
		else
			old = f;        /* n's is newer: it stays */
		if (got) {
			atomic_fetch_add(&n->fid->refs, 1);
			*got = n->fid;
		}
		pthread_mutex_unlock(&s->lock);
		fid_put(s, old);
		fid_put(s, released);
	}
out:
	if (cur != P9_NOFID)
		clunk_async(&s->c, cur);
	if (basef)
		fid_put(s, basef);
	for (i = 0; i < REWALK_MAX && names[i]; i++)
		free(names[i]);
	free(names);
	return r;
}

/*
 * Walks to n again by the names the table remembers, and installs the new
 * fid: from the nearest directory above n whose own fid is still good
 * (the root's always is; one walked before a rename above it may not be,
 * on a server that names fids by path), never by a whole path from the
 * root, so depth is bounded by nothing but REWALK_MAX names between n and
 * an ancestor that holds a fid.  Used after a rename above n, when the
 * fid cache gave n's fid up, when n's name is gone and it has another.
 * 0, or -ESTALE if the chain of names is incomplete or leads to another
 * file, or the walk's error.  The new fid is not installed over one that
 * another caller walked (or found current) at a later rename generation
 * meanwhile (node_offer_fid_locked): that one stays.  got (may be NULL):
 * n's fid after the walk (the new one, or that later one), with a
 * reference for the caller taken in the same hold, so that no other
 * caller can take it away first (an open takes a node's only reference
 * for its Tlopen: node_fid_take).
 */
int rewalk_get(struct p9sb *s, struct node *n, struct fid **got)
{
	bool guarded = false;

	for (int tries = 1;; tries++) {
		bool raced;
		int r = rewalk_once(s, n, got, &raced);

		if (guarded)
			guard_end(s);
		if (!raced || tries == REWALK_TRIES)
			return r;
		/* again once the changes under way are done, with no new
		 * one begun until this walk is (change_begin waits) */
		guard_begin(s);
		guarded = true;
	}
}

bool moved_since_locked(struct p9sb *s, struct node *n, uint64_t gen)
{
	struct node *p = n;

	if (gen >= s->gen)
		return false;
	for (int depth = 0; p && p != s->root; depth++) {
		if (p->moved > gen || !p->name || depth > REWALK_MAX)
			return true;    /* (a chain not known whole: maybe) */
		p = node_find_locked(s, p->pino);
	}
	return !p;
}

/* An operation on n's fid failed with r: true if it is worth retrying
 * because n's fid was walked before a rename and could walk again, or
 * another caller installed a new one since this thread took it.  A
 * path-named fid fails with ENOENT when nothing is at its path any more,
 * with ESTALE (uvfs-hostfs) when another file is; and a rename through
 * this mount that is under way (sent, the table not updated yet) may be
 * what moved it: that one is waited for first. */
bool stale_retry(struct p9sb *s, struct node *n, int r)
{
	bool old;

	if ((r != -ENOENT && r != -ESTALE) || n == s->root)
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->nchanging)
		WAIT_WHILE_LOCKED(s, s->nchanging);
	/* only if n or a directory above it was moved since its fid was
	 * walked */
	uint64_t gen = s->gen;
	old = n->gen < gen && moved_since_locked(s, n, n->gen);
	if (!old)
		n->gen = gen;
	/* or another caller walked n again since this one took its fid */
	bool replaced = !old && last_node == n && n->fidgen != last_fidgen;
	pthread_mutex_unlock(&s->lock);
	if (replaced)
		return true;
	if (old) {
		if (rewalk(s, n) == 0)
			return true;
		/* once per rename, even if it fails; marked only now, so
		 * that another caller failing on the old fid meanwhile
		 * walks again too instead of taking n as current */
		pthread_mutex_lock(&s->lock);
		if (n->gen < gen)
			n->gen = gen;
		pthread_mutex_unlock(&s->lock);
	}
	/* or its name was removed, and it has another */
	return alias_rewalk(s, n);
}

/* A rename through this mount that overlapped an operation on a name in
 * d can fail it with ENOENT even when d's fid is current on both sides:
 * uvfs-hostfs moves the paths of the fids below a renamed directory, but
 * may have read d's fid's path before the rename moved it and looked for
 * the name after.  stale_retry has waited for the renames under way, so
 * the generation shows any that overlapped. */
bool dir_retry(struct p9sb *s, struct node *d, int r, uint64_t gen)
{
	bool stale = stale_retry(s, d, r);

	return stale || (r == -ENOENT && sb_gen(s) != gen);
}

/* An operation on a file itself whose fid (or walk again) reaches nothing
 * answers -ESTALE, as NFS does, not -ENOENT: the handle is stale, which
 * says nothing of the name the caller looked up.  The file may have been
 * removed or replaced after the caller's lookup found it (here or by
 * another client), or its fid's path moved: a node whose lookup's walk
 * raced a change here is kept without a name (node_install_x), so once a
 * directory above it is renamed nothing can walk it again.  The core
 * then makes a call by name again from its lookup (RETRY_ESTALE), which
 * finds what the name leads to now, or that it is gone (-ENOENT); a
 * kernel does the same for FUSE.  Not for an operation on a name in a
 * directory: its -ENOENT is the name's. */
int stale_answer(struct p9sb *s, struct node *n, int r)
{
	return r == -ENOENT && n != s->root ? -ESTALE : r;
}

/* => s->lock held.  The first node named dir/name in the index, NULL if
 * none.  If it has no fid because the walk behind its create is out,
 * that walk is waited for (once: it may outlast the call's deadline) and
 * the index looked at again (the lock was let go). */
static struct node *name_node_wait_locked(struct p9sb *s, uint64_t pino,
					  const char *name)
{
	bool waited = false;

again:;
	struct hiter it;
	struct node *n = named_first(s, &it, pino, name);
	if (n && !n->fid && !waited && walk_wait_locked(s, n)) {
		waited = true;
		goto again;
	}
	return n;
}

struct fid *node_fid_take(struct p9sb *s, uint64_t pino, const char *name,
			  mode_t *type)
{
	struct fid *f = NULL;

	pthread_mutex_lock(&s->lock);
	struct node *n = name_node_wait_locked(s, pino, name);
	mode_t t = n ? atomic_load(&n->type) : 0;
	if (n && n != s->root && n->fid && t && !n->naliases &&
	    atomic_load(&n->fid->refs) == 1 &&
	    !moved_since_locked(s, n, n->gen)) {
		f = n->fid;
		n->fid = NULL;
		flru_del_locked(s, n);
		*type = t;
	}
	pthread_mutex_unlock(&s->lock);
	return f;
}

struct fid *node_name_fid(struct p9sb *s, uint64_t pino, const char *name,
			  struct node **np)
{
	struct fid *f = NULL;

	pthread_mutex_lock(&s->lock);
	struct node *n = name_node_wait_locked(s, pino, name);
	if (n && n != s->root && n->fid &&
	    !moved_since_locked(s, n, n->gen)) {
		f = n->fid;
		atomic_fetch_add(&f->refs, 1);
		*np = n;
	}
	pthread_mutex_unlock(&s->lock);
	return f;
}

void node_fid_fresh(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->gen = s->gen;
	pthread_mutex_unlock(&s->lock);
}

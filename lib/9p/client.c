/*
 * client.c - the 9P2000.L client driver's table of nodes and their fids
 * (mount.c mounts, unmounts and holds the operations vector), and what
 * the table keeps of the server for actimeo= (docs/9p-client.md, "Round
 * trips"): each node's attributes, its name (a second index by parent
 * and name: the name cache), a directory's last listing.  The
 * session below it (conn.h, rpc.c over lib/remote) carries the requests;
 * vnops.c and xattr.c are the vnode operations.
 *
 *
 * The driver maps vnodes to fids.  Each known file is a struct node in a
 * table by ino (= qid.path) holding a walked, never-opened fid.  lookup
 * walks a new fid and installs it (replacing the node's older fid: servers
 * such as diod name fids by path, and a fresh walk follows renames); vget
 * takes a node from the table; reclaim drops it to a small LRU of
 * unreferenced nodes (so a vget that races with the reclaim of the same
 * ino still finds it), whose overflow clunks.  Open files get their own
 * fid (Twalk clone + Tlopen).  Fids are refcounted (struct fid) so an
 * operation in flight keeps using the fid it read even if lookup swaps it.
 *
 * Locks: conn.lock guards the connection's state; the two locks held
 * across I/O (the serial-mode request lock and the writer's) are flags
 *
 * Owns struct node (walk to eviction from the LRU, or unmount), struct
 * fid (first use to last put, which clunks), struct handle (open to
 * release; io.c).
 *
 * Locks: sb.lock (nodes, handles) is never held across a request, nor
 * with conn.lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/fs.h>

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
static void flru_del_locked(struct p9sb *s, struct node *n)
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
static void node_set_fid_locked(struct p9sb *s, struct node *n,
				struct fid *f, struct fid **old,
				struct fid **released)
{
	*old = n->fid;
	n->fid = f;
	flru_touch_locked(s, n);
	*released = flru_trim_locked(s);
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

int node_fid(struct p9sb *s, struct node *n, struct fid **out)
{
	fid_follow_rename(s, n);
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&s->lock);
		if (!n->fid && tries == 0)
			walk_wait_locked(s, n);
		struct fid *f = n->fid;
		if (f) {
			atomic_fetch_add(&f->refs, 1);
			flru_touch_locked(s, n);
			pthread_mutex_unlock(&s->lock);
			*out = f;
			return 0;
		}
		pthread_mutex_unlock(&s->lock);
		/* released by the cache: walk it again (not a file removed
		 * here: its old name may be another's now) */
		pthread_mutex_lock(&s->lock);
		bool gone = n->gone;
		pthread_mutex_unlock(&s->lock);
		if (gone)
			return -ENOENT;
		int r = tries < 3 ? rewalk(s, n) : -ESTALE;
		if (r) {
			pthread_mutex_lock(&s->lock);
			gone = n->gone;
			pthread_mutex_unlock(&s->lock);
			return gone ? -ENOENT : r;
		}
	}
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

static unsigned bucket(uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(h >> 52) & (NBUCKETS - 1);
}

struct node *node_find_locked(struct p9sb *s, uint64_t ino)
{
	struct node *n;

	for (n = s->hash[bucket(ino)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

void lru_del_locked(struct p9sb *s, struct node *n)
{
	if (n->lnext) {
		n->lprev->lnext = n->lnext;
		n->lnext->lprev = n->lprev;
		n->lprev = n->lnext = NULL;
		s->nlru--;
	}
}

static void nhash_del_locked(struct p9sb *s, struct node *n);

void hash_del_locked(struct p9sb *s, struct node *n)
{
	if (n->naliases)
		s->naliased--;
	n->naliases = 0;        /* (the list goes with node_free) */
	nhash_del_locked(s, n);
	struct node **pp = &s->hash[bucket(n->ino)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
}

/* Installs a freshly walked fid for ino (ownership passes): the node's
 * fid is replaced (if replace; never the root's: the attach fid is the
 * one fid whose path cannot go stale), or a new unreferenced node made
 * (on the LRU). */
/* => s->lock held.  n's parent link follows n->pino (pino: the new one;
 * 0: none). */
static void node_link_locked(struct p9sb *s, struct node *n, uint64_t pino)
{
	struct node *p;

	if (n->linked && (p = node_find_locked(s, n->pino)) && p->kids)
		p->kids--;
	n->linked = false;
	if (pino && pino != n->ino && (p = node_find_locked(s, pino))) {
		p->kids++;
		n->linked = true;
	}
}

/* => s->lock held.  n leaves the table (hash already unlinked). */
static void node_unlink_locked(struct p9sb *s, struct node *n)
{
	node_link_locked(s, n, 0);
	flru_del_locked(s, n);
}

/* => s->lock held.  The unreferenced node to evict when the LRU is full:
 * the oldest one that no other node needs as its parent (NULL: none
 * within a short scan; the LRU then grows a little). */
static struct node *lru_victim_locked(struct p9sb *s)
{
	struct node *v = s->lru.lprev;

	for (int i = 0; i < 64 && v != &s->lru; i++, v = v->lprev)
		if (v->kids == 0)
			return v;
	return NULL;
}

void ls_free_locked(struct node *dir)
{
	for (unsigned i = 0; i < dir->nls; i++)
		free(dir->ls[i]);
	free(dir->ls);
	dir->ls = NULL;
	dir->nls = 0;
	dir->pf_next = 0;
}

void ls_note(struct p9sb *s, struct node *dir, bool start, const char *name)
{
	char *dup = NULL;

	if (s->actimeo_ns == 0 || (name[0] == '.' && (!name[1] ||
	    (name[1] == '.' && !name[2]))))
		name = NULL;
	pthread_mutex_lock(&s->lock);
	if (start)
		ls_free_locked(dir);
	if (name && !dir->ls)
		dir->ls = sys_calloc(LS_MAX, sizeof(*dir->ls));
	if (name && dir->ls && dir->nls < LS_MAX &&
	    (dup = sys_strdup(name))) {
		dir->ls[dir->nls++] = dup;
		dir->ls_ns = mono_now_ns();
	}
	pthread_mutex_unlock(&s->lock);
}

void node_free(struct p9sb *s, struct node *n)
{
	for (struct alias *a = n->aliases, *an; a; a = an) {
		an = a->next;
		free(a);
	}
	ls_free_locked(n);
	fid_put(s, n->spare);
	fid_put(s, n->pre);
	fid_put(s, n->fid);
	free(n->name);
	free(n);
}

static unsigned nbucket(uint64_t pino, const char *name)
{
	uint64_t h = pino * 0x9e3779b97f4a7c15ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (unsigned)(h >> 40) & (NBUCKETS - 1);
}

/* => s->lock held.  n leaves the (pino, name) chain. */
static void nhash_del_locked(struct p9sb *s, struct node *n)
{
	if (!n->name)
		return;
	for (struct node **pp = &s->nhash[nbucket(n->pino, n->name)]; *pp;
	     pp = &(*pp)->nnext)
		if (*pp == n) {
			*pp = n->nnext;
			break;
		}
	n->nnext = NULL;
}

/* => s->lock held.  Records where n's fid was walked to. */
static void node_set_name_locked(struct p9sb *s, struct node *n,
				 uint64_t pino, const char *name, uint64_t gen)
{
	char *dup = name ? sys_strdup(name) : NULL;

	if (name && !dup)
		return;         /* keeps the old name: a later walk fixes it */
	nhash_del_locked(s, n);
	free(n->name);
	n->name = dup;
	n->name_ns = 0;
	if (dup)
		n->gone = false;        /* a name it has now */
	if (dup) {
		unsigned b = nbucket(pino, dup);
		n->nnext = s->nhash[b];
		s->nhash[b] = n;
		/* the server just said so (a walk, a create, a rename) */
		n->name_ns = mono_now_ns();
		n->name_sgen = conn_sgen(&s->c);
	}
	node_link_locked(s, n, pino);
	n->pino = pino;
	n->gen = gen;
}

/*
 * Hard links.  A node's fid is walked to one name (pino, name); on a
 * server that names fids by path (diod), and on any server once the fid
 * is given up by the cache or a session is recovered, that name is how
 * the file is reached.  So the node also remembers its other names that
 * this mount made (a link) or found (a lookup of another name that gave
 * the same qid), at most ALIAS_MAX: when its name is removed here, one of
 * them becomes its name and its fid is walked again by it; when an
 * operation on its fid fails with ENOENT (the name removed elsewhere),
 * stale_retry() tries them in turn.  Directories have one name.
 */

/* => s->lock held */
static bool alias_del_locked(struct p9sb *s, struct node *n, uint64_t pino,
			     const char *name)
{
	for (struct alias **pp = &n->aliases; *pp; pp = &(*pp)->next)
		if ((*pp)->pino == pino && strcmp((*pp)->name, name) == 0) {
			struct alias *a = *pp;
			*pp = a->next;
			free(a);
			if (--n->naliases == 0)
				s->naliased--;
			return true;
		}
	return false;
}

/* => s->lock held.  (pino, name) is another name of n. */
static void alias_add_locked(struct p9sb *s, struct node *n, uint64_t pino,
			     const char *name)
{
	size_t len = strlen(name) + 1;
	struct alias *a, **pp;

	if (n == s->root || n->naliases >= ALIAS_MAX ||
	    (n->name && n->pino == pino && strcmp(n->name, name) == 0))
		return;
	for (pp = &n->aliases; *pp; pp = &(*pp)->next)
		if ((*pp)->pino == pino && strcmp((*pp)->name, name) == 0)
			return;
	a = sys_malloc(sizeof(*a) + len);
	if (!a)
		return;         /* (one name fewer to fall back on) */
	a->next = NULL;
	a->pino = pino;
	memcpy(a->name, name, len);
	*pp = a;                /* at the tail: tried last */
	if (n->naliases++ == 0)
		s->naliased++;
}

/* => s->lock held.  n's first alias becomes its name (the old one is
 * gone, or kept as an alias when keep); false if it has none. */
static bool alias_promote_locked(struct p9sb *s, struct node *n, bool keep)
{
	struct alias *a = n->aliases;

	if (!a)
		return false;
	n->aliases = a->next;
	if (--n->naliases == 0)
		s->naliased--;
	char *was = keep && n->name ? sys_strdup(n->name) : NULL;
	uint64_t wpino = n->pino;
	node_set_name_locked(s, n, a->pino, a->name, n->gen);
	n->name_ns = 0;         /* not said by the server lately */
	free(a);
	if (was)
		alias_add_locked(s, n, wpino, was);
	free(was);
	return true;
}

void node_linked(struct p9sb *s, struct node *n, uint64_t pino,
		 const char *name)
{
	pthread_mutex_lock(&s->lock);
	alias_add_locked(s, n, pino, name);
	pthread_mutex_unlock(&s->lock);
}

#define GONE_PUTS 8

/* => s->lock held.  Moves to the head of n's aliases the first one whose
 * directory is in the table (one that can be walked again); false if
 * none is. */
static bool alias_walkable_first_locked(struct p9sb *s, struct node *n)
{
	for (struct alias **pp = &n->aliases; *pp; pp = &(*pp)->next)
		if (node_find_locked(s, (*pp)->pino)) {
			struct alias *a = *pp;
			*pp = a->next;
			a->next = n->aliases;
			n->aliases = a;
			return true;
		}
	return false;
}

/* => s->lock held.  dir pino's entry name is gone: the files whose fid
 * was walked to it and that have another name that can be walked take
 * that one (their fid given up, into puts, to be walked again by it:
 * also what a recovery will walk); it is nobody's alias any more.  A
 * file with no such name keeps its fid (on uvfs-hostfs it still reaches
 * the removed file: the unlinked-while-open case) but loses the name:
 * it is out of the name index and of the fid cache (its fid could not
 * be walked again), so that a file made at that name later is the only
 * node by it.  Kept there, it went with a rename of the new file (both
 * nodes moved to the target name, node_renamed) and a lookup of the
 * target could find it (the open unlinked file's attributes, nlink 0, in
 * place of the renamed one), or a Tremove, a Trename took its fid.  (A
 * create of the same name racing with the unlink, through the library:
 * the new node may lose the name too, which costs its next lookup a
 * walk; through FUSE the kernel orders them by the directory's lock.) */
static void name_gone_locked(struct p9sb *s, uint64_t pino, const char *name,
			     struct fid **puts, unsigned *nputs,
			     struct node **hit, unsigned *nhitp)
{
	struct node *hitbuf[GONE_PUTS];
	unsigned nhit = 0;

	if (!hit)
		hit = hitbuf;
	struct node *gone[GONE_PUTS];
	unsigned ngone = 0;

	s->gen++;       /* a walk sent before this may bring the old name */
	for (struct node *n = s->nhash[nbucket(pino, name)];
	     n && nhit + *nputs < GONE_PUTS; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0) {
			if (alias_walkable_first_locked(s, n))
				hit[nhit++] = n;
			else if (n != s->root && ngone < GONE_PUTS)
				gone[ngone++] = n;
		}
	/* no other name: removed.  Its fid (if any) stays: on uvfs-hostfs
	 * it still reaches the removed file (out of the fid cache: it could
	 * not be walked again); the name goes (another file may take it: a
	 * walk by it would reach that one) */
	for (unsigned i = 0; i < ngone; i++) {
		flru_del_locked(s, gone[i]);
		node_set_name_locked(s, gone[i], 0, NULL, gone[i]->gen);
		gone[i]->gone = true;
	}
	for (unsigned i = 0; i < nhit; i++) {
		struct node *n = hit[i];
		alias_promote_locked(s, n, false);
		flru_del_locked(s, n);
		if (n->fid)
			puts[(*nputs)++] = n->fid;
		n->fid = NULL;
	}
	if (nhitp)
		*nhitp = nhit;
	if (s->naliased)
		for (unsigned b = 0; b < NBUCKETS; b++)
			for (struct node *n = s->hash[b]; n; n = n->hnext)
				if (n->naliases)
					alias_del_locked(s, n, pino, name);
}

#define REPATH_MAX 8

void node_name_gone(struct p9sb *s, uint64_t pino, const char *name)
{
	struct fid *puts[GONE_PUTS];
	struct node *hit[GONE_PUTS];
	unsigned nputs = 0, nhit = 0, nrp = 0;
	/* open handles of a file that took another name: a recovery must
	 * reopen them by it (their fid's recorded path is gone) */
	struct { struct fid *h, *dir; char *name; } rp[REPATH_MAX];

	pthread_mutex_lock(&s->lock);
	name_gone_locked(s, pino, name, puts, &nputs, hit, &nhit);
	if (s->c.track && nhit)
		for (struct handle *h = s->handles.next;
		     h != &s->handles && nrp < REPATH_MAX; h = h->next) {
			struct node *n = h->node, *d;
			bool promoted = false;
			for (unsigned i = 0; i < nhit; i++)
				promoted |= hit[i] == n;
			if (!promoted || !n->name ||
			    !(d = node_find_locked(s, n->pino)) || !d->fid ||
			    !(rp[nrp].name = sys_strdup(n->name)))
				continue;
			rp[nrp].h = h->fid;
			rp[nrp].dir = d->fid;
			atomic_fetch_add(&h->fid->refs, 1);
			atomic_fetch_add(&d->fid->refs, 1);
			nrp++;
		}
	pthread_mutex_unlock(&s->lock);
	if (nrp) {
		pthread_mutex_lock(&s->c.s.lock);
		for (unsigned i = 0; i < nrp; i++)
			reg_repath_locked(&s->c, rp[i].h->num, rp[i].dir->num,
					  rp[i].name);
		pthread_mutex_unlock(&s->c.s.lock);
	}
	for (unsigned i = 0; i < nrp; i++) {
		fid_put(s, rp[i].h);
		fid_put(s, rp[i].dir);
		free(rp[i].name);
	}
	for (unsigned i = 0; i < nputs; i++)
		fid_put(s, puts[i]);
}

/* n's fid failed with ENOENT: its name may be gone.  Its other names are
 * walked in turn; true once one reached it. */
static bool alias_rewalk(struct p9sb *s, struct node *n)
{
	for (unsigned tries = 0; tries < ALIAS_MAX; tries++) {
		pthread_mutex_lock(&s->lock);
		bool any = n != s->root && alias_promote_locked(s, n, tries == 0);
		pthread_mutex_unlock(&s->lock);
		if (!any)
			return false;
		int r = rewalk(s, n);
		if (r == 0)
			return true;
		if (r != -ENOENT && r != -ESTALE)
			return false;
	}
	return false;
}

int node_install(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			bool replace, uint64_t pino, const char *name,
			uint64_t gen)
{
	struct fid *f = fidnum == P9_NOFID ? NULL : fid_new(fidnum);
	struct node *n, *evict = NULL;
	struct fid *old = NULL, *released = NULL;

	if (!f && fidnum != P9_NOFID) {
		clunk_async(&s->c, fidnum);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	/* a name changed here since the walk was sent (a rename, or a
	 * name removed: the walk may have reached the file it had): the
	 * walk's name is not recorded (the node keeps its fid, and a
	 * nameless node keeps it for good: never walked again by a name
	 * that may be another file's now) */
	if (name && gen != s->gen)
		name = NULL;
	n = node_find_locked(s, ino);
	if (n && (!replace || n == s->root)) {
		old = f;        /* keep the node's */
	} else if (n) {
		if (name) {
			/* another name of the same file (a hard link): the
			 * one it had is kept as an alias */
			char *was = n->name && atomic_load(&n->type) !=
				    S_IFDIR ? sys_strdup(n->name) : NULL;
			uint64_t wpino = n->pino;
			alias_del_locked(s, n, pino, name);
			node_set_name_locked(s, n, pino, name, gen);
			if (was)
				alias_add_locked(s, n, wpino, was);
			free(was);
		}
		node_set_fid_locked(s, n, f, &old, &released);
	} else {
		n = sys_calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			fid_put(s, f);
			return -ENOMEM;
		}
		n->ino = ino;
		n->hnext = s->hash[bucket(ino)];
		s->hash[bucket(ino)] = n;
		if (name)
			node_set_name_locked(s, n, pino, name, gen);
		node_set_fid_locked(s, n, f, &old, &released);
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		s->nlru++;
		if (s->nlru > LRU_MAX && (evict = lru_victim_locked(s))) {
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
			node_unlink_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, old);
	fid_put(s, released);
	if (evict)
		node_free(s, evict);
	return 0;
}

int walk(struct p9sb *s, uint32_t fid, const char *name,
		uint32_t *newfid, struct p9_qid *qid)
{
	struct p9_msg m = { .type = P9_TWALK };
	struct reply rp;
	uint32_t nf;
	int r;

	r = fid_alloc(&s->c, &nf);
	if (r)
		return r;
	m.twalk.fid = fid;
	m.twalk.newfid = nf;
	if (name) {
		if (strlen(name) > 65535)
			return fid_free(&s->c, nf), -ENAMETOOLONG;
		m.twalk.nwname = 1;
		m.twalk.wname[0] = p9_str(name);
	}
	r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
	if (r)
		return r;
	if (rp.m.rwalk.nwqid != m.twalk.nwname) {
		/* a partial walk creates no fid */
		r = rp.m.rwalk.nwqid < m.twalk.nwname ? -ENOENT : -EIO;
		reply_free(&rp);
		fid_free(&s->c, nf);
		return r;
	}
	if (name && qid)
		*qid = rp.m.rwalk.wqid[0];
	reply_free(&rp);
	*newfid = nf;
	return 0;
}

uint64_t sb_gen(struct p9sb *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t g = s->gen;
	pthread_mutex_unlock(&s->lock);
	return g;
}

#define REWALK_MAX 256  /* names walked at most to reach a node again */

/*
 * Walks to n again by the names the table remembers, and installs the new
 * fid: from the nearest directory above n whose own fid is still good
 * (the root's always is; one walked before a rename above it may not be,
 * on a server that names fids by path), never by a whole path from the
 * root, so depth is bounded by nothing but REWALK_MAX names between n and
 * an ancestor that holds a fid.  Used after a rename above n, when the
 * fid cache gave n's fid up, when n's name is gone and it has another.
 * 0, or -ESTALE if the chain of names is incomplete or leads to another
 * file, or the walk's error.
 */
int rewalk(struct p9sb *s, struct node *n)
{
	char **names = sys_calloc(REWALK_MAX, sizeof(*names));
	struct fid *basef = NULL;
	struct node *p;
	uint64_t gen;
	uint32_t cur = P9_NOFID;
	size_t depth = 0, i;
	int r = -ESTALE;

	if (!names)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	gen = s->gen;
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
	if (r == -ESTALE && cur != P9_NOFID) {
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
		node_set_fid_locked(s, n, f, &old, &released);
		n->gen = gen;
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
 * because n's fid was walked before a rename and could walk again. */
bool stale_retry(struct p9sb *s, struct node *n, int r)
{
	bool old;

	if (r != -ENOENT || n == s->root)
		return false;
	pthread_mutex_lock(&s->lock);
	/* only if n or a directory above it was moved since its fid was
	 * walked */
	old = n->gen < s->gen && moved_since_locked(s, n, n->gen);
	n->gen = s->gen;        /* once per rename, even if it fails */
	pthread_mutex_unlock(&s->lock);
	if (old && rewalk(s, n) == 0)
		return true;
	/* or its name was removed, and it has another */
	return alias_rewalk(s, n);
}

int getattr_fid(struct p9sb *s, uint32_t fid, struct p9_rgetattr *ga)
{
	struct p9_msg m = { .type = P9_TGETATTR };
	struct reply rp;
	int r;

	m.tgetattr.fid = fid;
	m.tgetattr.request_mask = P9_GETATTR_BASIC;
	r = rpc(&s->c, &m, P9_RGETATTR, &rp, CL_NONE, 0);
	if (r)
		return r;
	*ga = rp.m.rgetattr;
	reply_free(&rp);
	return 0;
}

/* Linux O_* -> 9P2000.L open flags (the values of x86 Linux).  O_DIRECT
 * is not sent, as Linux's v9fs does not: it is about this client's
 * caching (the handle has none: no read-ahead, no write-behind), and a
 * server that passed it on would need aligned buffers (diod refuses it
 * with EINVAL, uvfs-hostfs's writes failed with EINVAL). */
static uint32_t dotl_flags(int flags)
{
	static const struct { int o; uint32_t p; } map[] = {
		{ O_APPEND, 02000 }, { O_DSYNC, 010000 },
		{ O_LARGEFILE, 0100000 },
		{ O_DIRECTORY, 0200000 }, { O_NOATIME, 01000000 },
		{ O_SYNC & ~O_DSYNC, 04000000 },
	};
	uint32_t p = (uint32_t)(flags & O_ACCMODE);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].o && (flags & map[i].o) == map[i].o)
			p |= map[i].p;
	return p;
}

/* Clones n's fid and opens the clone.  => *fid, *iounit */
/*
 * The open of a node whose walked fid nobody else uses: Tlopen of that
 * fid itself, with the Twalk(parent -> newfid, [name]) that gives the
 * node a new one in the same train (independent fids: a server may run
 * them in any order): one round trip, where a clone and its Tlopen are
 * two (they cannot go together).  1: not possible here (the caller
 * clones), else rpc's result.
 */
static int open_steal(struct p9sb *s, struct node *n, int flags,
		      uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN }, w = { .type = P9_TWALK };
	struct fid *own = NULL, *pf = NULL, *old = NULL, *released = NULL;
	struct rpc_async wa;
	struct reply rp;
	char *name = NULL;
	uint64_t gen = 0;
	uint32_t nf = 0;
	bool wout = false;
	int r;

	pthread_mutex_lock(&s->lock);
	if (n != s->root && n->fid && n->name &&
	    atomic_load(&n->fid->refs) == 1 &&
	    !moved_since_locked(s, n, n->gen)) {
		struct node *p = node_find_locked(s, n->pino);
		if (p && p->fid && (name = sys_strdup(n->name))) {
			own = n->fid;
			n->fid = NULL;
			flru_del_locked(s, n);
			pf = p->fid;
			atomic_fetch_add(&pf->refs, 1);
			gen = s->gen;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!own)
		return 1;
	if (strlen(name) <= 65535 && fid_alloc(&s->c, &nf) == 0) {
		w.twalk.fid = pf->num;
		w.twalk.newfid = nf;
		w.twalk.nwname = 1;
		w.twalk.wname[0] = p9_str(name);
		if (rpc_start(&s->c, &w, P9_RWALK, &wa) == 0) {
			wout = true;
			wa.overlapped = true;   /* it goes with the Tlopen */
		} else {
			fid_free(&s->c, nf);
		}
	}
	m.tlopen.fid = own->num;
	m.tlopen.flags = dotl_flags(flags);
	r = rpc(&s->c, &m, P9_RLOPEN, &rp, CL_NONE, 0);
	if (r == 0) {
		*iounit = rp.m.rlopen.iounit;
		reply_free(&rp);
		*fid = own->num;
		free(own);      /* the number is the caller's now */
		own = NULL;
	}
	bool walked = false;
	if (wout) {
		struct reply wr;
		if (rpc_finish(&s->c, &wa, &wr, CL_WALK, nf) == 0) {
			if (wr.m.rwalk.nwqid != 1)
				fid_free(&s->c, nf);    /* no fid made */
			else if (wr.m.rwalk.wqid[0].path != n->ino)
				clunk_async(&s->c, nf); /* another file */
			else
				walked = true;
			reply_free(&wr);
		}
	}
	/* the node's fid: the new walk's; own, if the open failed, is
	 * given up (it may have been opened by a request that timed out:
	 * the node walks again on demand) */
	fid_put(s, own);
	struct fid *give = NULL;
	if (walked && !(give = fid_new(nf)))
		clunk_async(&s->c, nf);
	if (give) {
		pthread_mutex_lock(&s->lock);
		if (!n->fid) {
			node_set_fid_locked(s, n, give, &old, &released);
			n->gen = gen;
			give = NULL;
		}
		pthread_mutex_unlock(&s->lock);
		fid_put(s, give);
		fid_put(s, old);
		fid_put(s, released);
	}
	fid_put(s, pf);
	free(name);
	return r;
}

static int open_fid_once(struct p9sb *s, struct node *n, int flags,
			 uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN };
	struct fid *nf;
	struct reply rp;
	uint32_t of;
	int r;

	r = open_steal(s, n, flags, fid, iounit);
	if (r <= 0)
		return r;
	r = node_fid(s, n, &nf);
	if (r)
		return r;
	r = walk(s, nf->num, NULL, &of, NULL);
	fid_put(s, nf);
	if (r)
		return r;
	m.tlopen.fid = of;
	m.tlopen.flags = dotl_flags(flags);
	r = rpc(&s->c, &m, P9_RLOPEN, &rp, CL_CLUNK, of);
	if (r)
		return r;
	*iounit = rp.m.rlopen.iounit;
	reply_free(&rp);
	*fid = of;
	return 0;
}

int open_fid(struct p9sb *s, struct node *n, int flags, uint32_t *fid,
		    uint32_t *iounit)
{
	int r = open_fid_once(s, n, flags, fid, iounit);

	if (r && stale_retry(s, n, r))
		r = open_fid_once(s, n, flags, fid, iounit);
	return r;
}

/* The largest data count for one Tread/Twrite. */
uint32_t io_max(struct p9sb *s, uint32_t iounit)
{
	uint32_t m = s->c.s.msize - P9_IOHDRSZ;
	return iounit && iounit < m ? iounit : m;
}

/* Drops a use of n: the last puts it on the LRU (whose overflow frees
 * the oldest).  A fid Tlcreate left that no open took is clunked. */
void node_rele(struct p9sb *s, struct node *n)
{
	struct node *evict = NULL;
	struct fid *pre = NULL, *spare = NULL;

	pthread_mutex_lock(&s->lock);
	if (--n->refs == 0) {
		pre = n->pre;
		n->pre = NULL;
		spare = n->spare;
		n->spare = NULL;
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX && (evict = lru_victim_locked(s))) {
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
			node_unlink_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, pre);
	fid_put(s, spare);
	if (evict)
		node_free(s, evict);
}

void node_hold(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	lru_del_locked(s, n);
	n->refs++;
	pthread_mutex_unlock(&s->lock);
}

/* ---- the attribute cache ------------------------------------------------ */

bool attr_get(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	bool ok;

	/* nothing kept is answered while the session is not up: the calls
	 * fail (fast) or wait as every other does (docs/session.md) */
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = n->attr_ok && n->attr_sgen == conn_sgen(&s->c) &&
	     (s->loose || mono_now_ns() - n->attr_ns < s->actimeo_ns);
	if (ok)
		*ga = n->attr;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void attr_put(struct p9sb *s, struct node *n, const struct p9_rgetattr *ga)
{
	if (s->actimeo_ns == 0)
		return;
	pthread_mutex_lock(&s->lock);
	n->attr = *ga;
	n->attr_ns = mono_now_ns();
	n->attr_sgen = conn_sgen(&s->c);
	n->attr_ok = n->perm_ok = true;
	pthread_mutex_unlock(&s->lock);
}

bool attr_get_perm(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	bool ok;

	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = n->perm_ok && n->attr_sgen == conn_sgen(&s->c) &&
	     (s->loose || mono_now_ns() - n->attr_ns < s->actimeo_ns);
	if (ok)
		*ga = n->attr;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void attr_drop(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->attr_ok = n->perm_ok = false;
	pthread_mutex_unlock(&s->lock);
}

void attr_drop_atime(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->attr_ok = false;     /* (the mode, owner and group stand) */
	pthread_mutex_unlock(&s->lock);
}

bool name_fresh_locked(struct p9sb *s, uint64_t pino, const char *name,
		       uint64_t *ino, mode_t *type)
{
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0) {
			mode_t t = atomic_load(&n->type);
			/* a node without a fid walks its name at its first
			 * use anyway: the lookup walks it now and learns
			 * which file has the name (a name noted while a
			 * change of it was in flight may be another's).
			 * Not a file made here whose walk behind its create
			 * is still out (walking): the name is the create's,
			 * and a change of it here would have taken it out
			 * of this table; its first use waits for that walk */
			if (!n->name_ns || !t ||
			    (!n->fid && !n->pre && !n->walking) ||
			    n->name_sgen != conn_sgen(&s->c) ||
			    (!s->loose &&
			     mono_now_ns() - n->name_ns >= s->actimeo_ns))
				return false;
			*ino = n->ino;
			*type = t == S_IFDIR || t == S_IFLNK ? t : S_IFREG;
			return true;
		}
	return false;
}

int name_get(struct p9sb *s, uint64_t pino, const char *name, uint64_t *ino,
	     mode_t *type)
{
	pthread_mutex_lock(&s->lock);
	bool hit = name_fresh_locked(s, pino, name, ino, type);
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void node_new_file(struct p9sb *s, uint64_t ino)
{
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, ino);
	if (n && n != s->root) {
		while (n->aliases) {
			struct alias *a = n->aliases;
			n->aliases = a->next;
			free(a);
			if (--n->naliases == 0)
				s->naliased--;
		}
		if (n->name)
			node_set_name_locked(s, n, 0, NULL, n->gen);
		n->attr_ok = n->perm_ok = false;
	}
	pthread_mutex_unlock(&s->lock);
}

struct fid *node_fid_take(struct p9sb *s, uint64_t pino, const char *name,
			  mode_t *type)
{
	struct fid *f = NULL;
	bool waited = false;

	pthread_mutex_lock(&s->lock);
again:
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0) {
			if (!n->fid && !waited && walk_wait_locked(s, n)) {
				waited = true;
				goto again;     /* (as node_name_fid) */
			}
			mode_t t = atomic_load(&n->type);
			if (n != s->root && n->fid && t && !n->naliases &&
			    atomic_load(&n->fid->refs) == 1 &&
			    !moved_since_locked(s, n, n->gen)) {
				f = n->fid;
				n->fid = NULL;
				flru_del_locked(s, n);
				*type = t;
			}
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return f;
}

struct fid *node_name_fid(struct p9sb *s, uint64_t pino, const char *name,
			  struct node **np)
{
	struct fid *f = NULL;
	bool waited = false;

	pthread_mutex_lock(&s->lock);
again:
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0) {
			/* its walk behind a create: waited for (once: it
			 * may outlast the call's deadline), then the table
			 * looked at again (the lock was let go) */
			if (!n->fid && !waited && walk_wait_locked(s, n)) {
				waited = true;
				goto again;
			}
			if (n != s->root && n->fid &&
			    !moved_since_locked(s, n, n->gen)) {
				f = n->fid;
				atomic_fetch_add(&f->refs, 1);
				*np = n;
			}
			break;
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

void name_forget(struct p9sb *s, uint64_t pino, const char *name)
{
	pthread_mutex_lock(&s->lock);
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0)
			n->name_ns = 0;
	pthread_mutex_unlock(&s->lock);
}

void node_renamed(struct p9sb *s, uint64_t opino, const char *oname,
		  uint64_t npino, const char *nname)
{
	struct fid *puts[GONE_PUTS];
	unsigned nputs = 0;

	if (opino == npino && strcmp(oname, nname) == 0)
		return;
	pthread_mutex_lock(&s->lock);
	/* the file the target named, if any, lost that name */
	name_gone_locked(s, npino, nname, puts, &nputs, NULL, NULL);
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct node *n = s->hash[b]; n; n = n->hnext) {
			if (n->naliases && alias_del_locked(s, n, opino, oname))
				alias_add_locked(s, n, npino, nname);
			if (!n->name)
				continue;
			if (n->pino == npino && strcmp(n->name, nname) == 0) {
				node_set_name_locked(s, n, 0, NULL, n->gen);
				n->gone = true; /* replaced */
			}
			else if (n->pino == opino &&
				 strcmp(n->name, oname) == 0) {
				node_set_name_locked(s, n, npino, nname,
						     n->gen);
				n->moved = s->gen;
			}
		}
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < nputs; i++)
		fid_put(s, puts[i]);
}

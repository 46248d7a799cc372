/*
 * names.c - the 9P2000.L client driver's index of names: where each
 * node's fid was walked to (its directory's ino and the name), kept in a
 * second table by (directory, name) beside client.c's table by ino; the
 * other names of a file (hard links: aliases); and how they follow what
 * this mount changes (renames, removed names, a host that reuses an
 * inode number).  fids.c walks fids again by these names; cache.c
 * answers lookups from them (the name cache).
 *
 * Owns struct alias (alias_add_locked to its removal, its promotion to
 * the node's name, or node_free).  A node's name string is its node's
 * (replaced by node_set_name_locked, freed by node_free).
 *
 * Locks: everything here is under sb.lock (driver.h, struct node), which
 * is never held across a request; node_name_gone takes the session's
 * lock (the recovery registry) only after letting it go.
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

#include "driver.h"
#include "sys.h"

/* => s->lock held.  n leaves the (pino, name) chain. */
void nhash_del_locked(struct p9sb *s, struct node *n)
{
	if (n->name)
		htab_del(&s->nhash, &n->nl);
}

struct node *nhash_find_locked(struct p9sb *s, uint64_t pino,
			       const char *name)
{
	struct hiter it;

	return named_first(s, &it, pino, name);
}

void multi_update_locked(struct p9sb *s, struct node *n, bool gone)
{
	bool multi = !gone && (n->naliases > 0 ||
			       (n->attr_ok && !S_ISDIR(n->attr.mode) &&
				n->attr.nlink > 1));

	if (multi && !n->mpprev) {
		n->mnext = s->multi;
		if (n->mnext)
			n->mnext->mpprev = &n->mnext;
		n->mpprev = &s->multi;
		s->multi = n;
	} else if (!multi && n->mpprev) {
		*n->mpprev = n->mnext;
		if (n->mnext)
			n->mnext->mpprev = n->mpprev;
		n->mnext = NULL;
		n->mpprev = NULL;
	}
}

/* => s->lock held.  Records where n's fid was walked to. */
void node_set_name_locked(struct p9sb *s, struct node *n, uint64_t pino,
			  const char *name, uint64_t gen)
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
		htab_add(&s->nhash, &n->nl, nhash_of(pino, dup));
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
bool alias_del_locked(struct p9sb *s, struct node *n, uint64_t pino,
		      const char *name)
{
	for (struct alias **pp = &n->aliases; *pp; pp = &(*pp)->next)
		if ((*pp)->pino == pino && strcmp((*pp)->name, name) == 0) {
			struct alias *a = *pp;
			*pp = a->next;
			free(a);
			if (--n->naliases == 0)
				multi_update_locked(s, n, false);
			return true;
		}
	return false;
}

/* => s->lock held.  (pino, name) is another name of n. */
void alias_add_locked(struct p9sb *s, struct node *n, uint64_t pino,
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
		multi_update_locked(s, n, false);
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
		multi_update_locked(s, n, false);
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
	struct hiter it;
	for (struct node *n = named_first(s, &it, pino, name);
	     n && nhit + *nputs < GONE_PUTS; n = named_next(s, &it, pino, name)) {
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
	for (struct node *n = s->multi, *next; n; n = next) {
		next = n->mnext;        /* (n may leave the list) */
		if (n->naliases)
			alias_del_locked(s, n, pino, name);
	}
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
bool alias_rewalk(struct p9sb *s, struct node *n)
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

void node_new_file(struct p9sb *s, uint64_t ino)
{
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, ino);
	if (n && n != s->root) {
		while (n->aliases) {
			struct alias *a = n->aliases;
			n->aliases = a->next;
			free(a);
			n->naliases--;
		}
		if (n->name)
			node_set_name_locked(s, n, 0, NULL, n->gen);
		n->attr_ok = n->perm_ok = false;
		multi_update_locked(s, n, false);
	}
	pthread_mutex_unlock(&s->lock);
}

void node_renamed(struct p9sb *s, uint64_t opino, const char *oname,
		  uint64_t npino, const char *nname)
{
	struct fid *puts[GONE_PUTS];
	unsigned nputs = 0;

	pthread_mutex_lock(&s->lock);
	/* the generation moves in the same hold as the moved marks below:
	 * in between, a node of the renamed tree was taken as unmoved at the
	 * new generation (fid_moved_locked) and its fid, named by the old
	 * path, was used on for good */
	s->gen++;
	if (opino == npino && strcmp(oname, nname) == 0) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* the file the target named, if any, lost that name */
	name_gone_locked(s, npino, nname, puts, &nputs, NULL, NULL);
	/* the other names first (alias_add_locked compares with the node's
	 * name as it was): the moved name moves among them too */
	for (struct node *n = s->multi, *next; n; n = next) {
		next = n->mnext;        /* (n may leave the list) */
		if (n->naliases && alias_del_locked(s, n, opino, oname))
			alias_add_locked(s, n, npino, nname);
	}
	/* then the nodes by the two names: their chains, not the table */
	struct node *n;
	while ((n = nhash_find_locked(s, npino, nname))) {
		node_set_name_locked(s, n, 0, NULL, n->gen);
		n->gone = true; /* replaced */
	}
	while ((n = nhash_find_locked(s, opino, oname))) {
		node_set_name_locked(s, n, npino, nname, n->gen);
		if (n->name && n->pino == opino && strcmp(n->name, oname) == 0)
			/* no memory for the new name: none, rather than
			 * the old one, which is another file's or none */
			node_set_name_locked(s, n, 0, NULL, n->gen);
		n->moved = s->gen;
	}
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < nputs; i++)
		fid_put(s, puts[i]);
}

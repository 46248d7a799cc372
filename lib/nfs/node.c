/*
 * node.c - the NFS driver's node table and attribute cache (nfs_i.h).
 *
 * Owns struct node's life (nfs_i.h has it): installed here by what names
 * a file (lookup, create, READDIRPLUS), freed when the LRU of unreferenced
 * nodes overflows or at unmount.  The attribute cache: attributes from
 * every reply are kept with their time and the mount's namespace
 * generation (s->gen), unless they are older than what the node holds
 * (nn_attr_apply_locked: replies taken out of order, the rule in
 * nfs_i.h); nn_getattr answers from them while the mount's
 * cache mode allows (docs/nfs.md, "Caching modes"), else asks the server
 * and checks the answer against the node's identity (fileid, type).
 *
 * Locks: s->lock guards every field it touches; no request is made under
 * it.
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

#include "nfs_i.h"
#include "sys.h"

/* ---- the node table ---------------------------------------------------- */

struct node *nn_find_locked(struct nsb *s, uint64_t ino)
{
	struct hiter it;

	for (struct hlink *l = hiter_first(&s->table, &it, htab_hash64(ino)); l;
	     l = hiter_next(&s->table, &it)) {
		struct node *n = htab_entry(l, struct node, hl);
		if (n->ino == ino)
			return n;
	}
	return NULL;
}

void nn_lru_del_locked(struct nsb *s, struct node *n)
{
	if (n->lnext) {
		n->lnext->lprev = n->lprev;
		n->lprev->lnext = n->lnext;
		n->lnext = n->lprev = NULL;
		s->nlru--;
	}
}

void nn_hash_del_locked(struct nsb *s, struct node *n)
{
	if (n->hashed) {
		htab_del(&s->table, &n->hl);
		n->hashed = false;
	}
}

void nn_free(struct node *n)
{
	nw_fini(n);
	pthread_mutex_destroy(&n->wb_lock);
	nn_silly_free(n->silly);
	free(n);
}

static bool ts_same(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Caches attributes.  A directory whose mtime or ctime moved (or whose
 * earlier attributes were dropped) gets a new version: its negative
 * names are old, as Linux's revalidation drops negative dentries.
 * => s->lock held. */
static void cache_attr_locked(struct nsb *s, struct node *n,
			      const struct stat *st)
{
	if (S_ISDIR(st->st_mode) &&
	    (!n->st_valid || !ts_same(&n->st.st_mtim, &st->st_mtim) ||
	     !ts_same(&n->st.st_ctim, &st->st_ctim)))
		n->dver = ++s->dver_seq;
	n->st = *st;
	n->st_valid = true;
	n->st_ns = mono_now_ns();
	n->st_gen = s->gen;
	n->type = st->st_mode & S_IFMT;
}

uint64_t nn_attr_gen(struct nsb *s)
{
	return atomic_fetch_add(&s->attr_seq, 1) + 1;
}

/* The rule is written above struct handle (nfs_i.h).  A node with no
 * attributes (new, or dropped by a SETATTR that answered none) takes
 * those of any call after its number; the ctime is compared only with
 * attributes held. */
bool nn_attr_apply_locked(struct nsb *s, struct node *n,
			  const struct stat *st, uint64_t agen)
{
	bool held = n->st_valid;

	if (agen <= n->attr_gen &&
	    !(held && ts_after(&st->st_ctim, &n->st.st_ctim)))
		return false;   /* older than what n holds */
	bool changed = !held || st->st_size != n->st.st_size ||
		       !ts_same(&st->st_mtim, &n->st.st_mtim) ||
		       !ts_same(&st->st_ctim, &n->st.st_ctim);
	cache_attr_locked(s, n, st);
	if (n->wr_out > 0 && (uint64_t)st->st_size < n->wr_end)
		n->st.st_size = (off_t)n->wr_end;       /* our WRITEs still
							 * out end there */
	if (changed)
		n->attr_gen = nn_attr_gen(s);   /* later than every call out */
	else if (agen > n->attr_gen)
		n->attr_gen = agen;
	return true;
}

/* Installs (fh, attributes) of a file the server named; returns its ino.
 * A new node goes unreferenced onto the LRU until vget takes it. */
int nn_install(struct nsb *s, const struct fh3 *fh, const struct stat *st,
	       uint64_t agen, uint64_t *ino, uint64_t *gen)
{
	struct node *n, *evict = NULL, *old = NULL;
	bool other = false;

	pthread_mutex_lock(&s->lock);
	n = nn_find_locked(s, st->st_ino);
	if (n && (!fh3_eq(&n->fh, fh) ||
		  (n->type && n->type != (st->st_mode & S_IFMT)))) {
		/* the fileid names another file now (the old one removed,
		 * the number reused), or the same under another handle: a
		 * new node, as Linux makes a new inode for another handle.
		 * The old one leaves the table; it keeps its handle for what
		 * holds it (the server calls it stale), and nothing of it
		 * (its writes kept for a resend) reaches the new file */
		other = true;
		nn_hash_del_locked(s, n);
		if (n->refs == 0) {
			nn_lru_del_locked(s, n);
			old = n;        /* freed below */
		} else {
			n->replaced = true;
		}
		n = NULL;
	}
	if (n) {
		nn_attr_apply_locked(s, n, st, agen);
		n->vgen = s->cgen;      /* the handle names it: seen now */
	} else {
		n = sys_calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			if (other)
				nnames_drop_ino(&s->names, st->st_ino);
			if (old)
				nn_free(old);
			return -ENOMEM;
		}
		n->ino = st->st_ino;
		n->fh = *fh;
		n->vgen = s->cgen;
		n->gen = ++s->node_seq;
		nw_init(n);
		nn_attr_apply_locked(s, n, st, agen);
		htab_add(&s->table, &n->hl, htab_hash64(n->ino));
		n->hashed = true;
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			if (evict == n) {
				evict = NULL;
			} else {
				nn_lru_del_locked(s, evict);
				nn_hash_del_locked(s, evict);
			}
		}
	}
	*ino = n->ino;
	if (gen)
		*gen = n->gen;
	pthread_mutex_unlock(&s->lock);
	if (other)
		/* the names this mount kept for the fileid were the old
		 * file's */
		nnames_drop_ino(&s->names, st->st_ino);
	if (old)
		nn_free(old);
	if (evict)
		nn_free(evict);
	return 0;
}

int nn_live(struct nsb *s, struct node *n)
{
	bool stale;

	pthread_mutex_lock(&s->lock);
	stale = n->stale;
	pthread_mutex_unlock(&s->lock);
	return stale ? -ESTALE : 0;
}

int nn_fh(struct nsb *s, struct node *n, struct fh3 *fh)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = nn_fh_locked(n, fh);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Updates the cache from a reply's post-operation attributes (checked
 * against the node's identity). */
void nn_attr(struct nsb *s, struct node *n, const struct n3attr *a,
	     uint64_t agen)
{
	if (!a->valid || a->st.st_ino != n->ino)
		return;
	pthread_mutex_lock(&s->lock);
	nn_attr_apply_locked(s, n, &a->st, agen);
	pthread_mutex_unlock(&s->lock);
}

/* Every cached attribute and name is old (a reconnect). */
void nn_invalidate_all(struct nsb *s)
{
	pthread_mutex_lock(&s->lock);
	s->gen++;
	pthread_mutex_unlock(&s->lock);
}

/* This mount changed a name (create, link, unlink, rename).  The files
 * it touched are updated or forgotten precisely by the caller (the
 * replies' attributes, nn_forget_attr, the name cache); cache=loose's
 * promise is stricter (everything it trusted is asked again, since
 * NFSv3 does not say what else changed): a new generation. */
void nn_name_changed(struct nsb *s)
{
	if (s->cache != CACHE_LOOSE)
		return;
	pthread_mutex_lock(&s->lock);
	s->gen++;
	pthread_mutex_unlock(&s->lock);
}

/* The cached attributes of ino (if a node has them) are old: the next
 * getattr asks (a link count or ctime this mount's change moved). */
void nn_forget_attr(struct nsb *s, uint64_t ino)
{
	pthread_mutex_lock(&s->lock);
	struct node *n = nn_find_locked(s, ino);
	if (n)
		n->st_gen = s->gen - 1;   /* kept for a stale handle's answer */
	pthread_mutex_unlock(&s->lock);
}

static bool dots(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* The name cache's answer for name in d (docs/nfs.md, "Caching modes"):
 * NNAME_POS for a name the server gave within the mount's name lifetime,
 * whose node is still in the table, of the same type and not stale;
 * NNAME_NEG for a name the server said is not there, within that
 * lifetime and while d's version has not moved; else NNAME_MISS. */
enum nname_hit nn_name_get(struct nsb *s, struct node *d, const char *name,
			   struct uvfs_ident *id)
{
	uint64_t mgen, dver;
	enum nname_hit hit;
	bool ok;

	if (s->names_ns == 0 || (dots(name) && s->cache != CACHE_LOOSE))
		return NNAME_MISS;
	pthread_mutex_lock(&s->lock);
	mgen = s->gen;
	dver = d->dver;
	pthread_mutex_unlock(&s->lock);
	hit = nnames_get(&s->names, d->ino, name, mgen, dver, s->names_ns,
			 &id->ino, &id->type);
	if (hit != NNAME_POS)
		return hit;
	pthread_mutex_lock(&s->lock);
	struct node *n = nn_find_locked(s, id->ino);
	ok = n && !n->stale && n->type == id->type;
	id->gen = ok ? n->gen : 0;
	pthread_mutex_unlock(&s->lock);
	return ok ? NNAME_POS : NNAME_MISS;
}

/* d's version now: read before the LOOKUP whose NOENT goes into the name
 * cache (a change of d meanwhile makes the answer old). */
uint64_t nn_dir_ver(struct nsb *s, struct node *d)
{
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	v = d->dver;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* This mount changed (or tried to change) a name in d: its negative
 * names are old, whatever the reply said (called after the request). */
void nn_dir_changed(struct nsb *s, struct node *d)
{
	pthread_mutex_lock(&s->lock);
	d->dver = ++s->dver_seq;
	pthread_mutex_unlock(&s->lock);
}

/* The generation now: read before the request whose answer goes into
 * the name cache (a change made meanwhile makes the answer old). */
uint64_t nn_gen(struct nsb *s)
{
	uint64_t gen;

	pthread_mutex_lock(&s->lock);
	gen = s->gen;
	pthread_mutex_unlock(&s->lock);
	return gen;
}

/* Records what the server said name in d is, as of generation gen ("."
 * and "..": only with cache=loose, whose generation a directory's rename
 * bumps). */
void nn_name_put(struct nsb *s, struct node *d, const char *name,
		 uint64_t ino, mode_t type, uint64_t gen)
{
	if (s->names_ns == 0 || (dots(name) && s->cache != CACHE_LOOSE))
		return;
	nnames_put(&s->names, d->ino, name, ino, type, gen);
}

/* Records what a LOOKUP or a listing said name in d is, asked in
 * generation gen with d at version dver: not if a name in d changed
 * meanwhile (a removal through this mount that the answer predates).
 * Put, then checked: a change either moved dver before the check (the
 * entry is dropped here) or drops the name itself after (nn_name_gone
 * moves dver first). */
void nn_name_put_since(struct nsb *s, struct node *d, const char *name,
		       uint64_t ino, mode_t type, uint64_t gen, uint64_t dver)
{
	nn_name_put(s, d, name, ino, type, gen);
	if (nn_dir_ver(s, d) != dver)
		nnames_drop(&s->names, d->ino, name);
}

/* This mount changed (or tried to change) name in d: what it knew of
 * the name is old, and so are d's negative names and any answer about a
 * name in d asked before now (nn_name_put_since). */
void nn_name_gone(struct nsb *s, struct node *d, const char *name)
{
	nn_name_changed(s);
	nn_dir_changed(s, d);
	nnames_drop(&s->names, d->ino, name);
}

/* Records that name is not in d, as of generation gen and d's version
 * dver (both read before the LOOKUP that said so). */
void nn_name_put_neg(struct nsb *s, struct node *d, const char *name,
		     uint64_t gen, uint64_t dver)
{
	if (s->names_ns == 0 || dots(name))
		return;
	nnames_put_neg(&s->names, d->ino, name, gen, dver);
}

/* r from a request on n's handle (a directory's, for a name in it): a
 * stale handle means its file was removed or replaced (a directory by
 * another client: one removed through this mount the core answers
 * -ENOENT for before asking), so the names that led to it are old, and
 * the core's second try of the call by name (RETRY_ESTALE) looks them up
 * again, as Linux's LOOKUP_REVAL does.  => r */
int nn_handle_stale(struct nsb *s, struct node *n, int r)
{
	if (r == -ESTALE)
		nnames_drop_ino(&s->names, n->ino);
	return r;
}

/* The node's attributes, from the cache while fresh, else from the
 * server.  force: always from the server (open: close-to-open).  live: a
 * removed file is -ESTALE, not its cached attributes with no links. */
static int getattr_as(struct nsb *s, struct n3 *c, struct node *n,
		      struct stat *st, bool force, bool live)
{
	struct fh3 fh;
	uint64_t cgen;
	int r;

	pthread_mutex_lock(&s->lock);
	cgen = s->cgen;         /* the connection the GETATTR will go on */
	if ((r = nn_fh_locked(n, &fh))) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	if (!force && n->st_valid && n->st_gen == s->gen &&
	    mono_now_ns() - n->st_ns < s->ac_ns) {
		*st = n->st;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	uint64_t agen = nn_attr_gen(s);
	r = nn_handle_stale(s, n, n3_getattr(c, &fh, st));
	if (r == -ESTALE && !live) {
		/* a handle goes stale when its file is removed: what is
		 * still open (a cwd, a descriptor) has no links now */
		pthread_mutex_lock(&s->lock);
		if (n->st_valid) {
			*st = n->st;
			st->st_nlink = 0;
			r = 0;
		}
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	if (r)
		return r;
	pthread_mutex_lock(&s->lock);
	if (st->st_ino != n->ino ||
	    (n->type && (st->st_mode & S_IFMT) != n->type)) {
		/* the handle names another file now (identity is fileid and
		 * type): stale for every call after this one too (nn_fh),
		 * as after a reconnect's check, or they would act on that
		 * other file */
		if (fh3_eq(&n->fh, &fh))
			atomic_store(&n->stale, true);
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->stale, 1);
		return -ESTALE;
	}
	if (n->vgen < cgen)
		n->vgen = cgen;         /* its handle names it */
	/* what the node holds after it: the reply's, or newer ones that a
	 * reply to a later call (or with a later ctime) brought meanwhile */
	nn_attr_apply_locked(s, n, st, agen);
	if (n->st_valid)
		*st = n->st;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int nn_fh_verified(struct nsb *s, struct n3 *c, struct node *n,
		   struct fh3 *fh)
{
	struct stat st;
	bool seen;
	int r;

	pthread_mutex_lock(&s->lock);
	r = nn_fh_locked(n, fh);
	seen = n->vgen == s->cgen;
	pthread_mutex_unlock(&s->lock);
	if (r || seen)
		return r;
	/* a handle from before the last reconnect, not seen since: the
	 * server may have given it to another file (one that reuses
	 * handles).  A LOOKUP, CREATE, REMOVE or listing in the directory
	 * it names now would act there.  Asked once; the reconnect checks
	 * only the root and the open files (it would ask every node the
	 * mount knows) */
	r = getattr_as(s, c, n, &st, true, true);
	return r ? r : nn_fh(s, n, fh);
}

int nn_getattr(struct nsb *s, struct n3 *c, struct node *n,
	       struct stat *st, bool force)
{
	return getattr_as(s, c, n, st, force, false);
}

int nn_getattr_live(struct nsb *s, struct n3 *c, struct node *n,
		    struct stat *st, bool force)
{
	return getattr_as(s, c, n, st, force, true);
}

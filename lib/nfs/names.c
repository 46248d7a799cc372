/*
 * names.c - the name cache of nfs mounts (names.h): cache=cto's (entries
 * for the attribute timeout) and cache=loose's (until this mount changes
 * a name).
 *
 * Owns its entries (struct nname): made by nnames_put, freed when replaced
 * or dropped, when the cache starts over at NAMES_MAX entries, or at
 * nnames_fini.  An entry of an older generation is dead: nnames_get
 * ignores it and nnames_put frees it when it meets it (a put of a name
 * with its hash); an entry past the caller's lifetime is ignored (and
 * replaced by the next put of its name); a negative entry (neg: the name
 * does not exist) also once its directory's version moved past the one
 * it was made with.  The entries are in a table that grows with them
 * (lib/util/htab.h).  Lock: c->lock, a leaf.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "names.h"
#include "sys.h"

struct nname {
	struct hlink hl;        /* c->lock: c->t */
	uint64_t dir, ino, gen;
	uint64_t dver;          /* neg: the directory's version then */
	uint64_t seen_ns;       /* CLOCK_MONOTONIC, when the server said so */
	mode_t type;
	bool neg;               /* the name does not exist (ino, type 0) */
	char name[];
};

static uint64_t hash(uint64_t dir, const char *name)
{
	uint64_t h = dir * 0x9e3779b97f4a7c15ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

#define E(l) htab_entry(l, struct nname, hl)

int nnames_init(struct nnames *c)
{
	memset(c, 0, sizeof(*c));
	if (htab_init(&c->t))
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	return 0;
}

/* => c->lock held.  Every entry goes; the table keeps its size. */
static void clear_locked(struct nnames *c)
{
	struct hall a;

	htab_step(&c->t, SIZE_MAX);     /* no doubling under way: a removal
					 * moves nothing (the walk goes on) */
	for (struct hlink *l = hall_first(&c->t, &a); l;
	     l = hall_next(&c->t, &a)) {
		htab_del(&c->t, l);
		free(E(l));
	}
	c->n = 0;
}

void nnames_fini(struct nnames *c)
{
	pthread_mutex_lock(&c->lock);
	clear_locked(c);
	htab_fini(&c->t);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
}

/* => c->lock held.  The first entry of (dir, name) (of any generation
 * when gen is NULL, else of another generation or of that name), or
 * NULL. */
static struct nname *find_locked(struct nnames *c, uint64_t h, uint64_t dir,
				 const char *name, const uint64_t *gen)
{
	struct hiter it;

	for (struct hlink *l = hiter_first(&c->t, &it, h); l;
	     l = hiter_next(&c->t, &it)) {
		struct nname *e = E(l);
		if ((gen && e->gen != *gen) ||
		    (e->dir == dir && strcmp(e->name, name) == 0))
			return e;
	}
	return NULL;
}

/* => c->lock held */
static void del_locked(struct nnames *c, struct nname *e)
{
	htab_del(&c->t, &e->hl);
	free(e);
	c->n--;
}

enum nname_hit nnames_get(struct nnames *c, uint64_t dir, const char *name,
			  uint64_t gen, uint64_t dver, uint64_t max_age_ns,
			  uint64_t *ino, mode_t *type)
{
	uint64_t now = max_age_ns == UINT64_MAX ? 0 : mono_now_ns();
	enum nname_hit hit = NNAME_MISS;

	struct hiter it;

	pthread_mutex_lock(&c->lock);
	for (struct hlink *l = hiter_first(&c->t, &it, hash(dir, name)); l;
	     l = hiter_next(&c->t, &it)) {
		struct nname *e = E(l);
		if (e->dir == dir && e->gen == gen &&
		    (max_age_ns == UINT64_MAX ||
		     now - e->seen_ns < max_age_ns) &&
		    (!e->neg || e->dver == dver) &&
		    strcmp(e->name, name) == 0) {
			if (e->neg) {
				hit = NNAME_NEG;
			} else {
				*ino = e->ino;
				*type = e->type;
				hit = NNAME_POS;
			}
			break;
		}
	}
	if (hit == NNAME_POS)
		c->hits++;
	else if (hit == NNAME_NEG)
		c->neg_hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* Records e (filled but for its links) in place of what was known of
 * its name. */
static void put(struct nnames *c, struct nname *ne)
{
	uint64_t h = hash(ne->dir, ne->name);
	struct nname *e;

	ne->seen_ns = mono_now_ns();
	pthread_mutex_lock(&c->lock);
	/* the same name, or any entry of an older generation with its hash,
	 * goes (the others of older generations are dead and go when the
	 * cache starts over) */
	while ((e = find_locked(c, h, ne->dir, ne->name, &ne->gen)))
		del_locked(c, e);
	if (c->n >= NAMES_MAX)
		clear_locked(c);        /* start over: simple, and bounded */
	htab_add(&c->t, &ne->hl, h);
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

static struct nname *entry_new(uint64_t dir, const char *name, uint64_t gen)
{
	size_t l = strlen(name);
	struct nname *ne = sys_malloc(sizeof(*ne) + l + 1);

	if (!ne)
		return NULL;
	memset(ne, 0, sizeof(*ne));
	ne->dir = dir;
	ne->gen = gen;
	memcpy(ne->name, name, l + 1);
	return ne;
}

void nnames_put(struct nnames *c, uint64_t dir, const char *name,
	       uint64_t ino, mode_t type, uint64_t gen)
{
	struct nname *ne = entry_new(dir, name, gen);

	if (!ne)
		return;
	ne->ino = ino;
	ne->type = type;
	put(c, ne);
}

void nnames_put_neg(struct nnames *c, uint64_t dir, const char *name,
		    uint64_t gen, uint64_t dver)
{
	struct nname *ne = entry_new(dir, name, gen);

	if (!ne) {
		nnames_drop(c, dir, name);      /* at least nothing wrong */
		return;
	}
	ne->neg = true;
	ne->dver = dver;
	put(c, ne);
}

void nnames_drop(struct nnames *c, uint64_t dir, const char *name)
{
	uint64_t h = hash(dir, name);
	struct nname *e;

	pthread_mutex_lock(&c->lock);
	while ((e = find_locked(c, h, dir, name, NULL)))
		del_locked(c, e);
	pthread_mutex_unlock(&c->lock);
}

/* Rare (a fileid the server gave to another file): a walk of the whole
 * cache. */
void nnames_drop_ino(struct nnames *c, uint64_t ino)
{
	struct hall a;

	pthread_mutex_lock(&c->lock);
	htab_step(&c->t, SIZE_MAX);     /* (as clear_locked) */
	for (struct hlink *l = hall_first(&c->t, &a); l;
	     l = hall_next(&c->t, &a))
		if (!E(l)->neg && E(l)->ino == ino)
			del_locked(c, E(l));
	pthread_mutex_unlock(&c->lock);
}

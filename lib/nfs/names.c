/*
 * names.c - the name cache of nfs mounts (names.h): cache=cto's (entries
 * for the attribute timeout) and cache=loose's (until this mount changes
 * a name).
 *
 * Owns its entries (struct nname): made by nnames_put, freed when replaced
 * or dropped, when the cache starts over at NAMES_MAX entries, or at
 * nnames_fini.  An entry of an older generation is dead: nnames_get
 * ignores it and nnames_put reuses its slot; an entry past the caller's
 * lifetime is ignored (and replaced by the next put of its name); a
 * negative entry (neg: the name does not exist) also once its
 * directory's version moved past the one it was made with.  Lock:
 * c->lock, a leaf.
 */
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "names.h"
#include "sys.h"

struct nname {
	struct nname *next;     /* c->lock */
	uint64_t dir, ino, gen;
	uint64_t dver;          /* neg: the directory's version then */
	uint64_t seen_ns;       /* CLOCK_MONOTONIC, when the server said so */
	mode_t type;
	bool neg;               /* the name does not exist (ino, type 0) */
	char name[];
};

static unsigned hash(uint64_t dir, const char *name)
{
	uint64_t h = dir * 0x9e3779b97f4a7c15ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (unsigned)(h % NAMES_BUCKETS);
}

void nnames_init(struct nnames *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

/* => c->lock held */
static void clear_locked(struct nnames *c)
{
	for (unsigned i = 0; i < NAMES_BUCKETS; i++) {
		struct nname *e = c->b[i];
		while (e) {
			struct nname *next = e->next;
			free(e);
			e = next;
		}
		c->b[i] = NULL;
	}
	c->n = 0;
}

void nnames_fini(struct nnames *c)
{
	pthread_mutex_lock(&c->lock);
	clear_locked(c);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
}

enum nname_hit nnames_get(struct nnames *c, uint64_t dir, const char *name,
			  uint64_t gen, uint64_t dver, uint64_t max_age_ns,
			  uint64_t *ino, mode_t *type)
{
	uint64_t now = max_age_ns == UINT64_MAX ? 0 : mono_now_ns();
	enum nname_hit hit = NNAME_MISS;

	pthread_mutex_lock(&c->lock);
	for (struct nname *e = c->b[hash(dir, name)]; e; e = e->next)
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
	unsigned h = hash(ne->dir, ne->name);
	struct nname **pp;

	ne->seen_ns = mono_now_ns();
	pthread_mutex_lock(&c->lock);
	/* the same name, or any entry of an older generation in the
	 * bucket, goes */
	for (pp = &c->b[h]; *pp;) {
		struct nname *e = *pp;
		if (e->gen != ne->gen ||
		    (e->dir == ne->dir && strcmp(e->name, ne->name) == 0)) {
			*pp = e->next;
			free(e);
			c->n--;
			continue;
		}
		pp = &e->next;
	}
	if (c->n >= NAMES_MAX)
		clear_locked(c);        /* start over: simple, and bounded */
	ne->next = c->b[h];
	c->b[h] = ne;
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
	pthread_mutex_lock(&c->lock);
	for (struct nname **pp = &c->b[hash(dir, name)]; *pp;) {
		struct nname *e = *pp;
		if (e->dir == dir && strcmp(e->name, name) == 0) {
			*pp = e->next;
			free(e);
			c->n--;
			continue;
		}
		pp = &e->next;
	}
	pthread_mutex_unlock(&c->lock);
}

void nnames_drop_ino(struct nnames *c, uint64_t ino)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < NAMES_BUCKETS; i++)
		for (struct nname **pp = &c->b[i]; *pp;) {
			struct nname *e = *pp;
			if (!e->neg && e->ino == ino) {
				*pp = e->next;
				free(e);
				c->n--;
				continue;
			}
			pp = &e->next;
		}
	pthread_mutex_unlock(&c->lock);
}

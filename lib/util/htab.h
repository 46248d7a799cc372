/*
 * htab.h - an intrusive hash table of chains that grows with what it
 * holds, without a pause.
 *
 * For the drivers' tables of nodes and names (lib/nfs, lib/9p), the
 * path index of 9P fids (lib/9p/pathidx.c: the client's recovery
 * registry, uvfs-hostfs) and the file server's fid table (lib/server, up
 * to a million fids a connection), which hold as many entries as the
 * files a mount knows or the fids it holds: a fixed number of
 * buckets made every lookup walk a chain as long as that number over the
 * buckets (with 75 000 files known through an nfs mount, a third of the
 * daemon's time went to such walks).  The table doubles once it holds
 * more than two entries per bucket.  A doubling keeps the old bucket
 * array beside the new one and every insertion and removal after it
 * moves the next HTAB_STEP of its chains, so no call pays for moving
 * them all (as the vnode cache does, lib/core/vnode.c; bench/README.md,
 * "Growth pauses"); a lookup looks in both.  Out of memory, the table
 * stays at its size and its chains grow longer.
 *
 * The user embeds a struct hlink in each object, gives its hash (which
 * the table keeps, and compares before the user does), and holds the
 * lock that guards the table around every call: the table has none.
 *
 *     struct hiter it;
 *     for (struct hlink *l = hiter_first(t, &it, h); l;
 *          l = hiter_next(t, &it))
 *             if (htab_entry(l, struct obj, link)->key == key) ...
 *
 * visits the entries with hash h (the table must not change meanwhile,
 * but for the removal of the entry the loop stops at).  hall_first /
 * hall_next visit every entry, in no order.  htab_any gives one entry at
 * a time, for emptying a table whose lock is dropped between entries.
 *
 * Allocation through sys_calloc (lib/util/sys.h), so fault injection
 * reaches the growth.
 */
#ifndef UVFS_UTIL_HTAB_H
#define UVFS_UTIL_HTAB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sys.h"

#define HTAB_MIN_BUCKETS 64
#define HTAB_STEP        8      /* old chains moved per insertion and
				 * removal while a doubling is under way */

struct hlink {
	struct hlink *next;
	uint64_t hash;
};

/* A hash of a 64-bit key (an ino, a fileid) for this table, whose bucket
 * is the hash's low bits: a multiply by an odd constant alone leaves the
 * low bits of the product those of the key, so keys with a stride (a
 * server whose numbers go up by 8 or by 64) shared an eighth or a 64th
 * of the buckets.  Two rounds of multiply and fold (as SplitMix64's
 * finaliser) spread them (test_htab, test_hash64). */
static inline uint64_t htab_hash64(uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* The object of type whose member l is. */
#define htab_entry(l, type, member) \
	((type *)(void *)((char *)(l) - offsetof(type, member)))

struct htab {
	struct hlink **b;       /* mask + 1 buckets, a power of two */
	size_t mask;
	struct hlink **old;     /* the buckets before the last doubling,
				 * until the last of its chains is moved */
	size_t old_mask;
	size_t moved;           /* old chains below it are moved (empty) */
	size_t n;               /* entries */
};

/* 0, or -ENOMEM. */
static inline int htab_init(struct htab *t)
{
	t->mask = HTAB_MIN_BUCKETS - 1;
	t->old = NULL;
	t->old_mask = t->moved = 0;
	t->n = 0;
	t->b = sys_calloc(HTAB_MIN_BUCKETS, sizeof(*t->b));
	return t->b ? 0 : -ENOMEM;
}

/* The entries are the caller's: it frees them first (hall_*). */
static inline void htab_fini(struct htab *t)
{
	free(t->b);
	free(t->old);
	t->b = t->old = NULL;
}

/* Moves up to k of the old chains into the new buckets (an old chain i
 * splits into the new i and i + old buckets); frees the old array after
 * its last. */
static inline void htab_step(struct htab *t, size_t k)
{
	while (t->old && k-- > 0) {
		struct hlink *l = t->old[t->moved], *next;

		t->old[t->moved++] = NULL;
		for (; l; l = next) {
			struct hlink **b = &t->b[l->hash & t->mask];
			next = l->next;
			l->next = *b;
			*b = l;
		}
		if (t->moved > t->old_mask) {
			free(t->old);
			t->old = NULL;
			t->old_mask = t->moved = 0;
		}
	}
}

static inline void htab_grow(struct htab *t)
{
	size_t nb = 2 * (t->mask + 1);
	struct hlink **b;

	htab_step(t, SIZE_MAX); /* what is left of the last doubling */
	b = sys_calloc(nb, sizeof(*b));
	if (!b)
		return;         /* (longer chains) */
	t->old = t->b;
	t->old_mask = t->mask;
	t->moved = 0;
	t->b = b;
	t->mask = nb - 1;
}

/* The old chain l's hash is on, if it is not moved yet; else NULL. */
static inline struct hlink **htab_old_chain(const struct htab *t,
					    uint64_t h)
{
	size_t o = h & t->old_mask;

	return t->old && o >= t->moved ? &t->old[o] : NULL;
}

static inline void htab_add(struct htab *t, struct hlink *l, uint64_t h)
{
	if (t->n >= 2 * (t->mask + 1))
		htab_grow(t);
	l->hash = h;
	l->next = t->b[h & t->mask];
	t->b[h & t->mask] = l;
	t->n++;
	htab_step(t, HTAB_STEP);
}

/* l is in the table. */
static inline void htab_del(struct htab *t, struct hlink *l)
{
	struct hlink **pp = htab_old_chain(t, l->hash);

	if (pp) {
		while (*pp && *pp != l)
			pp = &(*pp)->next;
		if (!*pp)
			pp = NULL;      /* in the new buckets after all */
	}
	if (!pp) {
		pp = &t->b[l->hash & t->mask];
		while (*pp != l)
			pp = &(*pp)->next;
	}
	*pp = l->next;
	l->next = NULL;
	t->n--;
	htab_step(t, HTAB_STEP);
}

/* The entries with one hash: the old chain's, then the new one's. */
struct hiter {
	struct hlink *l;
	uint64_t h;
	bool in_new;
};

static inline struct hlink *hiter_next(const struct htab *t,
				       struct hiter *it)
{
	for (;;) {
		while (it->l) {
			struct hlink *l = it->l;
			it->l = l->next;
			if (l->hash == it->h)
				return l;
		}
		if (it->in_new)
			return NULL;
		it->in_new = true;
		it->l = t->b[it->h & t->mask];
	}
}

static inline struct hlink *hiter_first(const struct htab *t,
					struct hiter *it, uint64_t h)
{
	struct hlink **o = htab_old_chain(t, h);

	it->h = h;
	it->in_new = o == NULL;
	it->l = o ? *o : t->b[h & t->mask];
	return hiter_next(t, it);
}

/* Every entry: the old chains not moved yet, then the new buckets.  The
 * table must not change meanwhile (a removal moves chains), but the entry
 * returned may be freed before the next call (its successor is kept): a
 * teardown frees every entry, then the table (htab_fini). */
struct hall {
	struct hlink *next;
	size_t i;               /* the next chain to start */
	bool in_new;
};

static inline struct hlink *hall_next(const struct htab *t, struct hall *a)
{
	for (;;) {
		if (a->next) {
			struct hlink *l = a->next;
			a->next = l->next;
			return l;
		}
		if (!a->in_new) {
			if (t->old && a->i <= t->old_mask) {
				a->next = t->old[a->i++];
				continue;
			}
			a->in_new = true;
			a->i = 0;
		}
		if (a->i > t->mask)
			return NULL;
		a->next = t->b[a->i++];
	}
}

static inline struct hlink *hall_first(const struct htab *t, struct hall *a)
{
	a->next = NULL;
	a->i = t->old ? t->moved : 0;
	a->in_new = false;
	return hall_next(t, a);
}

/*
 * Some entry, or NULL if the table is empty: for taking the entries out
 * one at a time (htab_del) with the lock dropped between them, while the
 * table may change (hall_* needs it unchanged).  *cur is the caller's,
 * 0 at first: the buckets below it were empty at the last call, so
 * emptying the table looks at each bucket about once instead of from the
 * first for every entry; when nothing is found from *cur on (an entry was
 * added below it meanwhile) the search starts over from bucket 0.  A
 * doubling under way is finished first: a pause, for the teardowns this
 * is meant for.
 */
static inline struct hlink *htab_any(struct htab *t, size_t *cur)
{
	if (t->n == 0)
		return NULL;
	htab_step(t, SIZE_MAX);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = *cur; i <= t->mask; i++)
			if (t->b[i]) {
				*cur = i;
				return t->b[i];
			}
		*cur = 0;
	}
	return NULL;    /* NEVER: n counts entries that are not there */
}

#endif

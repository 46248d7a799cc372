/*
 * memfs_radix.c - the page tree of a memfs regular file: a sparse radix
 * tree mapping a page index to a page (PG_SIZE bytes), so that holes read
 * as zeros and cost nothing.
 *
 * Owns the tree's interior nodes (struct radix_node): made by
 * memfs_radix_insert as the tree grows to reach an index, freed by
 * memfs_radix_trunc when what they map is cut away.  The pages themselves
 * are the caller's (memfs.c allocates and counts them; memfs_radix_punch
 * and memfs_radix_trunc hand back how many they took out, and give all
 * but the shared reserved page, MEMFS_RESERVED, back to the page pool,
 * memfs_pages.c).  Lock: the file node's lock, held by
 * every caller.
 */
#define _GNU_SOURCE
#include "memfs_i.h"

#include <assert.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sys.h"

/* ---- radix tree of pages ----------------------------------------------- */

void *memfs_radix_lookup(const struct radix *t, uint64_t idx)
{
	void *p = t->root;

	if (t->height == 0 || (idx >> (RADIX_SHIFT * t->height)) != 0)
		return NULL;
	for (unsigned h = t->height; h > 0 && p != NULL; h--) {
		struct radix_node *rn = p;

		p = rn->slot[(idx >> (RADIX_SHIFT * (h - 1))) & RADIX_MASK];
	}
	return p;
}

/* => idx has no page yet.  On -ENOMEM the tree may keep empty nodes; they
 *    go with the next truncate or free. */
int memfs_radix_insert(struct radix *t, uint64_t idx, void *page)
{
	unsigned need = 1;
	struct radix_node *rn;

	while (need < RADIX_MAX_HEIGHT && (idx >> (RADIX_SHIFT * need)) != 0)
		need++;
	if (t->root == NULL) {
		rn = sys_calloc(1, sizeof(*rn));
		if (rn == NULL)
			return -ENOMEM;
		t->root = rn;
		t->height = need;
	}
	while (t->height < need) {
		rn = sys_calloc(1, sizeof(*rn));
		if (rn == NULL)
			return -ENOMEM;
		rn->slot[0] = t->root;
		rn->count = 1;
		t->root = rn;
		t->height++;
	}
	rn = t->root;
	for (unsigned h = t->height; h > 1; h--) {
		unsigned i = (idx >> (RADIX_SHIFT * (h - 1))) & RADIX_MASK;

		if (rn->slot[i] == NULL) {
			struct radix_node *c = sys_calloc(1, sizeof(*c));

			if (c == NULL)
				return -ENOMEM;
			rn->slot[i] = c;
			rn->count++;
		}
		rn = rn->slot[i];
	}
	assert(rn->slot[idx & RADIX_MASK] == NULL);
	rn->slot[idx & RADIX_MASK] = page;
	rn->count++;
	return 0;
}

/* Gives the pages at index in [from, to) in the subtree at *slotp, of the
 * given height (0: *slotp is a page) and first index base, back to the
 * pool, and frees the nodes left empty; returns the number of pages taken
 * out (a reserved page, MEMFS_RESERVED, is shared and not given back,
 * but counts). */
static uint64_t radix_punch_sub(void **slotp, unsigned height, uint64_t base,
				uint64_t from, uint64_t to)
{
	struct radix_node *rn = *slotp;
	uint64_t step, freed = 0;

	if (rn == NULL)
		return 0;
	if (height == 0) {
		if (base < from || base >= to)
			return 0;
		if (*slotp != MEMFS_RESERVED)
			memfs_pool_put(*slotp);
		*slotp = NULL;
		return 1;
	}
	step = (uint64_t)1 << (RADIX_SHIFT * (height - 1));
	for (unsigned i = 0; i < RADIX_FAN; i++) {
		uint64_t b = base + i * step;

		if (rn->slot[i] == NULL || b + step <= from || b >= to)
			continue;
		freed += radix_punch_sub(&rn->slot[i], height - 1, b, from, to);
		if (rn->slot[i] == NULL)
			rn->count--;
	}
	if (rn->count == 0) {
		free(rn);
		*slotp = NULL;
	}
	return freed;
}

uint64_t memfs_radix_punch(struct radix *t, uint64_t from, uint64_t to)
{
	uint64_t freed;

	if (t->root == NULL || from >= to)
		return 0;
	freed = radix_punch_sub(&t->root, t->height, 0, from, to);
	/* Collapse roots that only lead to index 0's subtree. */
	while (t->root != NULL && t->height > 1) {
		struct radix_node *rn = t->root;

		if (rn->count != 1 || rn->slot[0] == NULL)
			break;
		t->root = rn->slot[0];
		t->height--;
		free(rn);
	}
	if (t->root == NULL)
		t->height = 0;
	return freed;
}

uint64_t memfs_radix_trunc(struct radix *t, uint64_t from)
{
	return memfs_radix_punch(t, from, UINT64_MAX);
}

void **memfs_radix_slot(const struct radix *t, uint64_t idx)
{
	void *const *sp = &t->root;

	if (t->height == 0 || (idx >> (RADIX_SHIFT * t->height)) != 0)
		return NULL;
	for (unsigned h = t->height; h > 0; h--) {
		struct radix_node *rn = *sp;

		if (rn == NULL)
			return NULL;
		sp = &rn->slot[(idx >> (RADIX_SHIFT * (h - 1))) & RADIX_MASK];
	}
	return *sp != NULL ? (void **)sp : NULL;
}

/* The first page at index >= from in the subtree (see radix_punch_sub),
 * its index in *idx; NULL if none. */
static void *radix_next_sub(void *p, unsigned height, uint64_t base,
			    uint64_t from, uint64_t *idx)
{
	struct radix_node *rn = p;
	uint64_t step;

	if (p == NULL)
		return NULL;
	if (height == 0) {
		if (base < from)
			return NULL;
		*idx = base;
		return p;
	}
	step = (uint64_t)1 << (RADIX_SHIFT * (height - 1));
	for (unsigned i = 0; i < RADIX_FAN; i++) {
		uint64_t b = base + i * step;
		void *r;

		if (rn->slot[i] == NULL || b + step <= from)
			continue;
		r = radix_next_sub(rn->slot[i], height - 1, b, from, idx);
		if (r != NULL)
			return r;
	}
	return NULL;
}

void *memfs_radix_next(const struct radix *t, uint64_t from, uint64_t *idx)
{
	if (t->height == 0 || (from >> (RADIX_SHIFT * t->height)) != 0)
		return NULL;
	return radix_next_sub(t->root, t->height, 0, from, idx);
}

uint64_t memfs_radix_count(const struct radix *t, uint64_t from, uint64_t to)
{
	uint64_t n = 0, idx;

	while (from < to && memfs_radix_next(t, from, &idx) != NULL &&
	       idx < to) {
		n++;
		from = idx + 1;
	}
	return n;
}

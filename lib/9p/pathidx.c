/*
 * pathidx.c - an index of paths as trees of nodes found by a hash table
 * (the contract is in pathidx.h).
 *
 * A node lives from the pidx_make that needs it (for its own path or as
 * an ancestor of one) to the pidx_trim that finds it holding nothing and
 * without kids; its path never changes (a user whose object moves puts it
 * at another node).  A node's parent is made before it and freed after
 * it, so the parent pointers never dangle.  The hash table is
 * lib/util/htab.h's, made with the first node.  Everything here runs
 * under the user's lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pathidx.h"
#include "sys.h"

/* FNV-1a over the bytes, folded so the low bits (the bucket) see all. */
static uint64_t path_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29) ^ (h >> 47);
}

static struct pidx_node *find_hashed(const struct pidx *x, const char *path,
				     size_t len, uint64_t h)
{
	struct hiter it;

	if (!x->t.b)
		return NULL;
	for (struct hlink *l = hiter_first(&x->t, &it, h); l;
	     l = hiter_next(&x->t, &it)) {
		struct pidx_node *n = htab_entry(l, struct pidx_node, link);
		if (n->len == len && memcmp(n->path, path, len) == 0)
			return n;
	}
	return NULL;
}

struct pidx_node *pidx_find(const struct pidx *x, const char *path,
			    size_t len)
{
	return find_hashed(x, path, len, path_hash(path, len));
}

/* Takes n out of the index and frees it (it holds nothing, no kids). */
static void node_free(struct pidx *x, struct pidx_node *n)
{
	htab_del(&x->t, &n->link);
	if (n->parent) {
		*n->psib = n->sib;
		if (n->sib)
			n->sib->psib = n->psib;
	}
	x->n--;
	free(n);
}

/* A node for the first len bytes of path, under parent (NULL: none). */
static struct pidx_node *node_new(struct pidx *x, const char *path,
				  size_t len, struct pidx_node *parent)
{
	struct pidx_node *n = sys_malloc(sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	memcpy(n->path, path, len);
	n->path[len] = '\0';
	n->len = len;
	n->head = 0;
	n->kids = NULL;
	n->parent = parent;
	n->sib = NULL;
	n->psib = NULL;
	if (parent) {
		n->sib = parent->kids;
		if (n->sib)
			n->sib->psib = &n->sib;
		n->psib = &parent->kids;
		parent->kids = n;
	}
	htab_add(&x->t, &n->link, path_hash(path, len));
	x->n++;
	return n;
}

struct pidx_node *pidx_make(struct pidx *x, const char *path, size_t len)
{
	uint64_t h = path_hash(path, len);
	struct pidx_node *n = find_hashed(x, path, len, h), *parent = NULL;
	size_t cut = len, nmade = 0;

	if (n)
		return n;
	if (!x->t.b && htab_init(&x->t) < 0)
		return NULL;
	/* the nearest ancestor there is (cut: its length) */
	for (;;) {
		const char *s = memrchr(path, '/', cut);
		if (!s) {
			cut = 0;
			break;
		}
		cut = (size_t)(s - path);
		if ((parent = pidx_find(x, path, cut)))
			break;
	}
	/* the missing ones below it, down to path itself (at least one:
	 * path may be "") */
	size_t end = cut;
	do {
		size_t from = parent ? end + 1 : 0;
		const char *s = memchr(path + from, '/', len - from);
		end = s ? (size_t)(s - path) : len;
		n = node_new(x, path, end, parent);
		if (!n) {
			/* undo what this call made, deepest first: each has
			 * nothing but the one kid freed before it */
			while (nmade--) {
				struct pidx_node *up = parent->parent;
				node_free(x, parent);
				parent = up;
			}
			return NULL;
		}
		nmade++;
		parent = n;
	} while (end < len);
	return n;
}

void pidx_trim(struct pidx *x, struct pidx_node *n)
{
	while (n && !n->head && !n->kids) {
		struct pidx_node *up = n->parent;
		node_free(x, n);
		n = up;
	}
}

struct pidx_node *pidx_next(const struct pidx_node *n,
			    const struct pidx_node *top)
{
	if (n->kids)
		return n->kids;
	for (; n != top; n = n->parent)
		if (n->sib)
			return n->sib;
	return NULL;
}

void pidx_fini(struct pidx *x)
{
	struct hall a;

	if (!x->t.b)
		return;
	for (struct hlink *l = hall_first(&x->t, &a); l;
	     l = hall_next(&x->t, &a))
		free(htab_entry(l, struct pidx_node, link));
	htab_fini(&x->t);
	x->n = 0;
}

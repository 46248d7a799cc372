/*
 * pathidx.h - an index of paths: both ends of a 9P connection name fids
 * by path ("a/b/c") and must find, at a rename or a removal, the fids at
 * one path and those below it without looking at every fid.
 *
 * The index holds a node for every path that its user has put something
 * at (the user keeps its own list of objects there, headed by
 * node->head), and for every ancestor of such a path, so that the nodes
 * form trees: a node's parent is its path without the last name ("a/b"
 * for "a/b/c"; a path of one name has none), its kids the paths of one
 * more name.  A node holding nothing (head 0) and no kids is freed by
 * pidx_trim.  So:
 *
 *   - the objects at a path: pidx_find, one hash lookup;
 *   - nothing at or below a path: pidx_find finds no node;
 *   - nothing strictly below it: the node has no kids;
 *   - everything below: pidx_next from the node, a walk of its subtree,
 *     which visits only paths that hold something or lead to one.
 *
 * Paths are compared as strings: the user makes them canonical (no "",
 * "." or ".." among the names, no '/' at either end; the user's root, "."
 * or "", is a path of one name like any other and is no node's parent).
 * The nodes are found by a hash table that grows with them without a
 * pause (lib/util/htab.h), so a lookup stays O(1) at any size; out of
 * memory it keeps its size (longer chains, still correct).
 *
 * Locking is the user's: one lock over the index and every node.  Memory
 * comes from sys_malloc (fault injection): pidx_make may fail, and then
 * changed nothing.  A pointer to a node stays valid while the node holds
 * something or has kids, and only until the next pidx_trim otherwise.
 */
#ifndef UVFS_PATHIDX_H
#define UVFS_PATHIDX_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"

struct pidx_node {
	struct hlink link;              /* in pidx.t, by the path's hash */
	struct pidx_node *parent;       /* path less its last name, or NULL */
	struct pidx_node *kids;         /* paths of one more name */
	struct pidx_node *sib, **psib;  /* parent->kids */
	uintptr_t head;                 /* the user's: what is at path, or 0 */
	size_t len;                     /* strlen(path) */
	char path[];
};

/* All zeroes is an empty index (its table is made with the first node). */
struct pidx {
	struct htab t;                  /* the nodes; t.b NULL: none yet */
	size_t n;                       /* nodes */
};

/* The node of path (len bytes, no NUL needed), or NULL: nothing is at or
 * below it. */
struct pidx_node *pidx_find(const struct pidx *x, const char *path,
			    size_t len);
/* The node of path, made (with its missing ancestors) if need be, holding
 * nothing then; NULL if out of memory (nothing made).  The caller puts
 * something at it or calls pidx_trim, before any other trim (which could
 * free it: an object moved from a path to an ancestor of it that holds
 * nothing is put at the new node before the old one is trimmed). */
struct pidx_node *pidx_make(struct pidx *x, const char *path, size_t len);
/* Frees n if it holds nothing and has no kids, then its ancestors that
 * are left so.  NULL: nothing. */
void pidx_trim(struct pidx *x, struct pidx_node *n);
/* The node after n in a walk of top's subtree (top first, each node
 * before its kids), or NULL at its end.  The walk must not change the
 * index. */
struct pidx_node *pidx_next(const struct pidx_node *n,
			    const struct pidx_node *top);
/* Frees every node and the table (the user's objects are its own). */
void pidx_fini(struct pidx *x);

#endif /* UVFS_PATHIDX_H */

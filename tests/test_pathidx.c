/*
 * test_pathidx.c - the index of paths that both ends' fid tables use
 * (lib/9p/pathidx.h): nodes and their trees, the walk of a subtree, a
 * failed allocation that leaves the index as it was, and random puts,
 * drops and renames checked against a plain list (what the fid tables did
 * before: every object compared with the path).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pathidx.h"
#include "sys.h"

static struct pidx_node *make(struct pidx *x, const char *p)
{
	return pidx_make(x, p, strlen(p));
}

static struct pidx_node *find(struct pidx *x, const char *p)
{
	return pidx_find(x, p, strlen(p));
}

static void test_trees(void **state)
{
	struct pidx x = { 0 };
	struct pidx_node *c, *b, *a, *ab, *n;

	(void)state;
	assert_null(find(&x, "a"));
	c = make(&x, "a/b/c");
	assert_non_null(c);
	assert_int_equal(x.n, 3);
	b = find(&x, "a/b");
	a = find(&x, "a");
	assert_ptr_equal(c->parent, b);
	assert_ptr_equal(b->parent, a);
	assert_null(a->parent);
	assert_ptr_equal(a->kids, b);
	assert_string_equal(c->path, "a/b/c");
	assert_int_equal(c->len, 5);
	assert_ptr_equal(make(&x, "a/b/c"), c);
	/* a prefix that is not a parent; the root names of both ends */
	ab = make(&x, "ab");
	assert_null(ab->parent);
	assert_non_null(make(&x, "."));
	assert_non_null(make(&x, ""));
	assert_null(find(&x, "")->parent);
	assert_int_equal(x.n, 6);
	/* the walk of a's subtree: a, then each node before its kids, and
	 * nothing outside it */
	assert_non_null(make(&x, "a/d"));
	int seen = 0;
	for (n = a; n; n = pidx_next(n, a)) {
		assert_true(strncmp(n->path, "a/", 2) == 0 ||
			    strcmp(n->path, "a") == 0);
		if (n->parent)
			assert_true(n->parent->len < n->len);
		seen++;
	}
	assert_int_equal(seen, 4);
	for (n = c, seen = 0; n; n = pidx_next(n, c))
		seen++;
	assert_int_equal(seen, 1);
	/* trimming: a node holding something stays, and its ancestors */
	b->head = 1;
	pidx_trim(&x, c);
	assert_null(find(&x, "a/b/c"));
	assert_ptr_equal(find(&x, "a/b"), b);
	b->head = 0;
	pidx_trim(&x, b);
	assert_null(find(&x, "a/b"));
	assert_non_null(find(&x, "a"));         /* a/d is below it */
	pidx_trim(&x, find(&x, "a/d"));
	assert_null(find(&x, "a"));
	pidx_trim(&x, NULL);
	pidx_fini(&x);
	assert_int_equal(x.n, 0);
}

/* Every allocation pidx_make makes may fail: NULL, and nothing made. */
static void test_out_of_memory(void **state)
{
	struct pidx x = { 0 };

	(void)state;
	uvfs_sys_fault_arm(SYS_C_ALLOC, 1, ENOMEM, false);
	assert_null(make(&x, "p"));                     /* the table */
	uvfs_sys_fault_disarm();
	assert_int_equal(x.n, 0);
	assert_non_null(make(&x, "p"));
	find(&x, "p")->head = 1;
	for (unsigned long k = 1; k <= 3; k++) {
		uvfs_sys_fault_arm(SYS_C_ALLOC, k, ENOMEM, false);
		assert_null(make(&x, "p/q/r/s"));
		uvfs_sys_fault_disarm();
		assert_int_equal(x.n, 1);
		assert_null(find(&x, "p/q"));
		assert_null(find(&x, "p")->kids);
	}
	assert_non_null(make(&x, "p/q/r/s"));
	assert_int_equal(x.n, 4);
	/* a table that cannot grow keeps working (the second allocation of
	 * a make is the table's growth, past 128 nodes) */
	for (int i = 0; i < 300; i++) {
		char p[32];
		snprintf(p, sizeof(p), "p/many%d", i);
		uvfs_sys_fault_arm(SYS_C_ALLOC, 2, ENOMEM, false);
		struct pidx_node *n = make(&x, p);
		uvfs_sys_fault_disarm();
		assert_non_null(n);
		n->head = 1;
	}
	assert_int_equal(x.n, 304);
	for (int i = 0; i < 300; i++) {
		char p[32];
		snprintf(p, sizeof(p), "p/many%d", i);
		assert_non_null(find(&x, p));
	}
	pidx_fini(&x);
}

/* ---- random operations against a plain list ---- */

#define NOBJ 120

struct obj {
	char path[64];          /* "" + !at: nowhere */
	bool at;
	struct pidx_node *n;
	struct obj *next, *prev;
	struct obj *mnext;
};

static struct obj objs[NOBJ];

static struct obj *first(const struct pidx_node *n)
{
	return n ? (struct obj *)n->head : NULL;
}

static void obj_unlink(struct pidx *x, struct obj *o)
{
	struct pidx_node *n = o->n;

	if (o->prev)
		o->prev->next = o->next;
	else
		n->head = (uintptr_t)o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->n = NULL;
	pidx_trim(x, n);
}

/* o to path (as hs_index_put_locked, reg_setpath): put at the new node
 * before the old one is trimmed, which could free the new one else (an
 * ancestor that held nothing) */
static bool obj_put(struct pidx *x, struct obj *o, const char *path)
{
	struct pidx_node *n = make(x, path), *old = o->n;

	if (!n)
		return false;
	if (n == old)
		return true;
	if (old) {
		if (o->prev)
			o->prev->next = o->next;
		else
			old->head = (uintptr_t)o->next;
		if (o->next)
			o->next->prev = o->prev;
	}
	o->prev = NULL;
	o->next = first(n);
	if (o->next)
		o->next->prev = o;
	n->head = (uintptr_t)o;
	o->n = n;
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->at = true;
	pidx_trim(x, old);
	return true;
}

static bool below_or_at(const char *p, const char *top)
{
	size_t l = strlen(top);
	return strncmp(p, top, l) == 0 && (p[l] == '\0' || p[l] == '/');
}

static void random_path(char *p, size_t cap)
{
	static const char *names[] = { "x", "y", "xy", "z" };
	int depth = 1 + rand() % 4;
	size_t o = 0;

	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(p + o, cap - o, "%s%s", i ? "/" : "",
				      names[rand() % 4]);
}

/* The index agrees with the list: each object at its path's node, one
 * node per distinct prefix of the paths held, the walk below a path finds
 * exactly the objects a comparison with every one finds. */
static void check(struct pidx *x, const char *q)
{
	size_t prefixes = 0;

	for (int i = 0; i < NOBJ; i++) {
		struct obj *o = &objs[i];
		if (!o->at) {
			assert_null(o->n);
			continue;
		}
		assert_non_null(o->n);
		assert_string_equal(o->n->path, o->path);
		assert_ptr_equal(find(x, o->path), o->n);
	}
	/* distinct prefixes (quadratic: the list is small) */
	for (int i = 0; i < NOBJ; i++) {
		if (!objs[i].at)
			continue;
		const char *p = objs[i].path;
		for (size_t l = 1; l <= strlen(p); l++) {
			if (p[l] != '\0' && p[l] != '/')
				continue;
			bool dup = false;
			for (int j = 0; j < i && !dup; j++)
				dup = objs[j].at && strlen(objs[j].path) >= l &&
				      strncmp(objs[j].path, p, l) == 0 &&
				      (objs[j].path[l] == '\0' ||
				       objs[j].path[l] == '/');
			prefixes += !dup;
		}
	}
	assert_int_equal(x->n, prefixes);
	int want = 0, got = 0;
	for (int i = 0; i < NOBJ; i++)
		want += objs[i].at && below_or_at(objs[i].path, q);
	struct pidx_node *top = find(x, q);
	for (struct pidx_node *n = top; n; n = pidx_next(n, top))
		for (struct obj *o = first(n); o; o = o->next) {
			assert_true(below_or_at(o->path, q));
			got++;
		}
	assert_int_equal(got, want);
}

static void test_random(void **state)
{
	struct pidx x = { 0 };
	char p[64], q[64];

	(void)state;
	srand(42);
	for (int step = 0; step < 20000; step++) {
		struct obj *o = &objs[rand() % NOBJ];
		int op = rand() % 10;
		random_path(p, sizeof(p));
		if (op < 5) {
			assert_true(obj_put(&x, o, p));
		} else if (op < 7) {
			if (o->n)
				obj_unlink(&x, o);
			o->at = false;
		} else {
			/* a rename of p to q: everything at or below p
			 * follows (gathered first, then moved) */
			struct obj *mv = NULL;
			struct pidx_node *top = find(&x, p);
			random_path(q, sizeof(q));
			/* (into its own subtree too: the index copes with
			 * what a host's rename refuses) */
			for (struct pidx_node *n = top; n;
			     n = pidx_next(n, top))
				for (struct obj *m = first(n); m; m = m->next) {
					m->mnext = mv;
					mv = m;
				}
			for (struct obj *m = mv; m; m = m->mnext) {
				char np[128];
				snprintf(np, sizeof(np), "%s%s", q,
					 m->path + strlen(p));
				if (strlen(np) < sizeof(m->path))
					assert_true(obj_put(&x, m, np));
			}
		}
		random_path(q, sizeof(q));
		if (step % 7 == 0)
			check(&x, q);
	}
	for (int i = 0; i < NOBJ; i++)
		if (objs[i].n)
			obj_unlink(&x, &objs[i]);
	assert_int_equal(x.n, 0);
	pidx_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trees),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

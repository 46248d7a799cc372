/*
 * test_memfs_itab.c - unit test of memfs's ino table (lib/fs/memfs_itab.c):
 * its doublings move the old buckets a few at a time, so a node may be in
 * either table for a while.  Every node must be found by its ino all
 * along, a removed one never, removals must find a node in a bucket not
 * yet moved, and the old table must empty long before the next doubling.
 * The table is driven directly, on real nodes (memfs_node_new), under its
 * lock as memfs takes it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "memfs_i.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memfs_standin.h"

#define N 6000

struct tab {
	struct memfs fs;
	struct node *nodes[N + 1];      /* by ino; NULL once removed */
	uint64_t inos;                  /* inos given out: 1 .. inos */
	size_t live;
};

static void tab_init(struct tab *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->fs.itab_lock, NULL);
	t->fs.next_ino = 1;
	assert_int_equal(memfs_itab_init(&t->fs.itab), 0);
}

/* Frees every node left, the table and t. */
static void tab_fini(struct tab *t)
{
	pthread_mutex_lock(&t->fs.itab_lock);
	memfs_itab_free_all(&t->fs);
	pthread_mutex_unlock(&t->fs.itab_lock);
	pthread_mutex_destroy(&t->fs.itab_lock);
	free(t);
}

static void tab_add(struct tab *t)
{
	struct node *n = memfs_node_new(S_IFREG | 0644, 0, 0, 0, NULL);

	assert_non_null(n);
	pthread_mutex_lock(&t->fs.itab_lock);
	memfs_itab_insert_locked(&t->fs, n);
	pthread_mutex_unlock(&t->fs.itab_lock);
	assert_int_equal(n->ino, t->inos + 1);
	t->nodes[++t->inos] = n;
	t->live++;
}

static void tab_remove(struct tab *t, uint64_t ino)
{
	struct node *n = t->nodes[ino];

	pthread_mutex_lock(&t->fs.itab_lock);
	memfs_itab_remove_locked(&t->fs, n);
	pthread_mutex_unlock(&t->fs.itab_lock);
	memfs_node_free(&t->fs, n);
	t->nodes[ino] = NULL;
	t->live--;
}

/* Every ino given out finds its node, or nothing once removed. */
static void tab_check(struct tab *t)
{
	pthread_mutex_lock(&t->fs.itab_lock);
	for (uint64_t i = 1; i <= t->inos; i++)
		assert_ptr_equal(memfs_itab_find_locked(&t->fs, i),
				 t->nodes[i]);
	assert_null(memfs_itab_find_locked(&t->fs, t->inos + 1));
	assert_int_equal(t->fs.itab.count, t->live);
	pthread_mutex_unlock(&t->fs.itab_lock);
}

/* Grows from one table to many: the doublings are left in progress (the
 * old table still there, not all of it moved), nodes are found in both
 * halves while they are, and removals during them, of nodes in moved and
 * unmoved buckets, unlink the right node. */
static void test_incremental_growth(void **state)
{
	struct tab *t = malloc(sizeof(*t));
	unsigned doublings = 0, checked_mid = 0;
	uint64_t before = 0;    /* inos given out before the last doubling */
	size_t nb = 0;

	(void)state;
	assert_non_null(t);
	tab_init(t);
	for (int i = 0; i < N; i++) {
		uint64_t inos = t->inos;
		tab_add(t);
		struct itab *it = &t->fs.itab;
		if (it->nb != nb) {
			/* the insert that doubled moved nothing yet */
			if (nb != 0) {
				doublings++;
				assert_int_equal(it->nb, 2 * nb);
				assert_non_null(it->old);
				assert_int_equal(it->nold, nb);
				assert_int_equal(it->moved, 0);
				before = inos;
			}
			nb = it->nb;
		}
		if (it->old != NULL && it->moved > 0 &&
		    it->moved < it->nold / 2) {
			/* partway: remove a node from before the doubling
			 * whose old bucket is moved, and one whose bucket is
			 * not, then look for every ino */
			uint64_t moved = 0, unmoved = 0;
			for (uint64_t ino = 1; ino <= before; ino++) {
				if (!t->nodes[ino])
					continue;
				if ((ino & (it->nold - 1)) < it->moved)
					moved = ino;
				else
					unmoved = ino;
			}
			assert_true(moved != 0 && unmoved != 0);
			tab_remove(t, unmoved);
			tab_remove(t, moved);
			tab_check(t);
			checked_mid++;
		}
		/* a third of the new nodes go too */
		if (i % 3 == 2 && t->nodes[t->inos - 1] != NULL)
			tab_remove(t, t->inos - 1);
	}
	tab_check(t);
	assert_true(doublings >= 5);
	assert_true(checked_mid >= doublings);
	/* the last doubling's move ends well before the next: the old table
	 * is gone after nold / ITAB_STEP more calls at most */
	for (int i = 0; i < 1000 && t->fs.itab.old != NULL; i++)
		tab_add(t);
	assert_null(t->fs.itab.old);
	tab_check(t);
	tab_fini(t);
}

/* Removals alone finish a doubling too (no insert after it), and a node
 * found only in an unmoved old bucket is removed from there. */
static void test_removals_move(void **state)
{
	struct tab *t = malloc(sizeof(*t));
	size_t nb;

	(void)state;
	assert_non_null(t);
	tab_init(t);
	nb = t->fs.itab.nb;
	while (t->fs.itab.nb == nb)
		tab_add(t);
	assert_non_null(t->fs.itab.old);
	/* the highest old bucket is the last to move */
	uint64_t last = 0;
	for (uint64_t ino = t->inos; ino >= 1; ino--)
		if ((ino & (t->fs.itab.nold - 1)) == t->fs.itab.nold - 1 &&
		    ino <= nb) {
			last = ino;
			break;
		}
	assert_true(last != 0);
	tab_remove(t, last);
	tab_check(t);
	for (uint64_t ino = 1; ino <= t->inos && t->fs.itab.old; ino++)
		if (t->nodes[ino])
			tab_remove(t, ino);
	assert_null(t->fs.itab.old);
	tab_check(t);
	tab_fini(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_growth),
		cmocka_unit_test(test_removals_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

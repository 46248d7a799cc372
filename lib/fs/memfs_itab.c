/*
 * memfs_itab.c - memfs's ino table: ino -> node, for vget and the reclaim.
 *
 * What it owns
 *   The bucket arrays of struct itab (memfs_i.h), one per instance.  The
 *   nodes are memfs.c's; the table links them through node->inext and
 *   counts them.  Inos come from the instance's counter and are never
 *   reused, so ino & (buckets - 1) spreads them evenly.
 *
 * Growth, spread over the calls
 *   When an insert finds as many nodes as buckets, a table of twice the
 *   size is made and inserts go there from then on; the old one stays
 *   beside it, and each insert and removal after moves its next
 *   ITAB_STEP buckets (an old bucket i splits into the new i and
 *   i + nold).  A node is in the new table, or in the old one at a bucket
 *   not yet moved: a lookup looks in both.  The old table is empty after
 *   nold / ITAB_STEP inserts and removals, long before the next doubling
 *   (nold inserts away), and a doubling moves whatever is left of the
 *   previous one first.  So no call moves more than ITAB_STEP buckets
 *   (bar that safety net): rehashed in one go, the doubling of a table of
 *   a million nodes held itab_lock, and with it every vget, reclaim and
 *   create of the instance, for up to 16 ms (bench/README.md,
 *   bench_umount_big).
 *   Out of memory a doubling is not done: the chains only get longer, and
 *   nothing fails; the next insert tries again.  Only the first table,
 *   made with the instance, must be allocated.
 *
 * Lock: everything here is under fs->itab_lock, which the callers hold.
 */
#define _GNU_SOURCE
#include <uvfs/fs.h>

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "memfs_i.h"
#include "sys.h"

#define ITAB_STEP 8     /* old buckets moved per insert or removal */

static struct node **itab_chain(struct node **b, size_t nb, uint64_t ino)
{
	return &b[ino & (nb - 1)];
}

/* Moves the old table's next bucket into the new one; frees the old table
 * after its last. */
static void itab_move_one(struct itab *t)
{
	struct node *n = t->old[t->moved], *next;

	t->old[t->moved++] = NULL;
	for (; n != NULL; n = next) {
		struct node **b = itab_chain(t->b, t->nb, n->ino);

		next = n->inext;
		n->inext = *b;
		*b = n;
	}
	if (t->moved == t->nold) {
		free(t->old);
		t->old = NULL;
		t->nold = t->moved = 0;
	}
}

static void itab_step(struct itab *t, size_t k)
{
	while (t->old != NULL && k-- > 0)
		itab_move_one(t);
}

int memfs_itab_init(struct itab *t)
{
	*t = (struct itab){ .b = sys_calloc(ITAB_MIN, sizeof(*t->b)),
			    .nb = ITAB_MIN };
	return t->b != NULL ? 0 : -ENOMEM;
}

/* Starts a doubling, if memory allows. */
static void itab_grow(struct itab *t)
{
	struct node **b;

	itab_step(t, SIZE_MAX); /* what is left of the previous one */
	b = sys_calloc(2 * t->nb, sizeof(*b));
	if (b == NULL)
		return;
	t->old = t->b;
	t->nold = t->nb;
	t->moved = 0;
	t->b = b;
	t->nb *= 2;
}

void memfs_itab_insert_locked(struct memfs *fs, struct node *n)
{
	struct itab *t = &fs->itab;
	struct node **b;

	if (t->count >= t->nb)
		itab_grow(t);
	else
		itab_step(t, ITAB_STEP);
	n->ino = fs->next_ino++;
	b = itab_chain(t->b, t->nb, n->ino);
	n->inext = *b;
	*b = n;
	t->count++;
}

struct node *memfs_itab_find_locked(struct memfs *fs, uint64_t ino)
{
	const struct itab *t = &fs->itab;
	struct node *n;

	for (n = *itab_chain(t->b, t->nb, ino); n != NULL; n = n->inext)
		if (n->ino == ino)
			return n;
	if (t->old == NULL || (ino & (t->nold - 1)) < t->moved)
		return NULL;
	for (n = *itab_chain(t->old, t->nold, ino); n != NULL; n = n->inext)
		if (n->ino == ino)
			return n;
	return NULL;
}

void memfs_itab_remove_locked(struct memfs *fs, struct node *n)
{
	struct itab *t = &fs->itab;
	struct node **pp = itab_chain(t->b, t->nb, n->ino);

	while (*pp != NULL && *pp != n)
		pp = &(*pp)->inext;
	if (*pp == NULL) {      /* in an old bucket not moved yet */
		assert(t->old != NULL &&
		       (n->ino & (t->nold - 1)) >= t->moved);
		pp = itab_chain(t->old, t->nold, n->ino);
		while (*pp != n)
			pp = &(*pp)->inext;
	}
	*pp = n->inext;
	t->count--;
	itab_step(t, ITAB_STEP);
}

void memfs_itab_free_all(struct memfs *fs)
{
	struct itab *t = &fs->itab;

	itab_step(t, SIZE_MAX);
	for (size_t i = 0; i < t->nb; i++) {
		struct node *n, *next;

		for (n = t->b[i]; n != NULL; n = next) {
			next = n->inext;
			assert(n->vrefs == 0);
			memfs_node_free(fs, n);
		}
	}
	free(t->b);
	*t = (struct itab){ 0 };
}

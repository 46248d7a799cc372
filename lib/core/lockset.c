/*
 * lockset.c - a set of file locks as POSIX keeps them for one file: the
 * records the core's lock manager (lock.c) keeps per vnode, and what a
 * driver that locks on a server keeps per handle to take its locks again
 * after a reconnect (uvfs_lockset_*, fs.h).
 *
 * Lifecycle: a set is a singly linked list of records (struct lk_rec),
 * made empty (zeroed, or uvfs_lockset_new) and emptied by lockset_clear.
 * It has no lock of its own: whoever embeds it guards it (the core:
 * u->lk_lock).
 *
 * Rules (Linux fs/locks.c):
 *  - two spaces that never meet: POSIX record locks (ranges, the owner a
 *    process or a description) and flock locks (UVFS_LOCK_FLOCK: the whole
 *    file, the owner a description);
 *  - locks of one owner never conflict; two locks conflict when their
 *    owners differ, their ranges overlap and one of them is a write lock;
 *  - in the POSIX space the records of one owner never overlap: a new
 *    lock replaces the owner's old ones on its range (cutting or splitting
 *    them) and merges with the ones of the same type it touches; an
 *    unlock cuts the range out.  An flock lock replaces its owner's.
 *  - every record remembers the open file it was taken through (via; the
 *    core drops them at that file's last release); records merge only
 *    with records taken through the same file.
 * Applying never fails half-way: the (at most two) records an operation
 * can need are allocated before anything changes.
 */
#include "core.h"
#include "lock.h"

static bool overlap(int64_t s1, int64_t e1, int64_t s2, int64_t e2)
{
	return s1 <= e2 && s2 <= e1;
}

/* [s1,e1] and [s2,e2] overlap or touch. */
static bool touch(int64_t s1, int64_t e1, int64_t s2, int64_t e2)
{
	return (e1 == INT64_MAX || e1 + 1 >= s2) &&
	       (e2 == INT64_MAX || e2 + 1 >= s1);
}

static bool space_eq(const struct uvfs_lock *a, const struct uvfs_lock *b)
{
	return (a->flags & UVFS_LOCK_FLOCK) == (b->flags & UVFS_LOCK_FLOCK);
}

bool lockset_conflict(const struct uvfs_lockset *ls,
		      const struct uvfs_lock *lk, struct uvfs_lock *holder)
{
	for (const struct lk_rec *r = ls->head; r; r = r->next) {
		const struct uvfs_lock *h = &r->l;

		if (!space_eq(h, lk) || h->owner == lk->owner ||
		    !overlap(h->start, h->end, lk->start, lk->end))
			continue;
		if (h->type == F_WRLCK || lk->type == F_WRLCK) {
			if (holder)
				*holder = *h;
			return true;
		}
	}
	return false;
}

static struct lk_rec *rec_new(void)
{
	return sys_calloc(1, sizeof(struct lk_rec));
}

int lockset_apply_via(struct uvfs_lockset *ls, const struct uvfs_lock *lk,
		      void *via)
{
	struct lk_rec *spare[2] = { rec_new(), rec_new() };
	struct lk_rec **pp, *r;
	int64_t s = lk->start, e = lk->end;
	bool flock = lk->flags & UVFS_LOCK_FLOCK;

	if (!spare[0] || !spare[1]) {
		free(spare[0]);
		free(spare[1]);
		return -ENOMEM;
	}
	/* merge: the owner's records of the same type (and file) touching
	 * the range widen it and go */
	for (pp = &ls->head; !flock && lk->type != F_UNLCK && (r = *pp);) {
		if (space_eq(&r->l, lk) && r->l.owner == lk->owner &&
		    r->via == via && r->l.type == lk->type &&
		    touch(r->l.start, r->l.end, s, e)) {
			s = r->l.start < s ? r->l.start : s;
			e = r->l.end > e ? r->l.end : e;
			*pp = r->next;
			free(r);
			continue;
		}
		pp = &r->next;
	}
	/* cut: what is left of the owner's records on the range */
	for (pp = &ls->head; (r = *pp);) {
		if (!space_eq(&r->l, lk) || r->l.owner != lk->owner ||
		    !overlap(r->l.start, r->l.end, s, e)) {
			pp = &r->next;
			continue;
		}
		if (flock || (r->l.start >= s && r->l.end <= e)) {
			*pp = r->next;
			free(r);
			continue;
		}
		if (r->l.start < s && r->l.end > e) {
			struct lk_rec *b = spare[1];

			spare[1] = NULL;
			*b = *r;
			b->l.start = e + 1;
			r->l.end = s - 1;
			r->next = b;
			pp = &b->next;
			continue;
		}
		if (r->l.start < s)
			r->l.end = s - 1;
		else
			r->l.start = e + 1;
		pp = &r->next;
	}
	if (lk->type != F_UNLCK) {
		struct lk_rec *n = spare[0];

		spare[0] = NULL;
		n->l = *lk;
		n->l.start = flock ? 0 : s;
		n->l.end = flock ? UVFS_LOCK_EOF : e;
		n->via = via;
		n->next = ls->head;
		ls->head = n;
	}
	free(spare[0]);
	free(spare[1]);
	return 0;
}

bool lockset_drop(struct uvfs_lockset *ls, bool (*match)(const struct lk_rec *r,
							 const void *arg),
		  const void *arg)
{
	struct lk_rec **pp = &ls->head, *r;
	bool any = false;

	while ((r = *pp)) {
		if (match(r, arg)) {
			*pp = r->next;
			free(r);
			any = true;
		} else {
			pp = &r->next;
		}
	}
	return any;
}

void lockset_clear(struct uvfs_lockset *ls)
{
	struct lk_rec *r, *n;

	for (r = ls->head; r; r = n) {
		n = r->next;
		free(r);
	}
	ls->head = NULL;
}

/* ---- the drivers' interface (fs.h) ------------------------------------- */

struct uvfs_lockset *uvfs_lockset_new(void)
{
	return sys_calloc(1, sizeof(struct uvfs_lockset));
}

void uvfs_lockset_free(struct uvfs_lockset *ls)
{
	if (!ls)
		return;
	lockset_clear(ls);
	free(ls);
}

int uvfs_lockset_apply(struct uvfs_lockset *ls, const struct uvfs_lock *lk)
{
	return lockset_apply_via(ls, lk, NULL);
}

int uvfs_lockset_each(const struct uvfs_lockset *ls,
		      int (*fn)(void *arg, const struct uvfs_lock *lk),
		      void *arg)
{
	int r;

	for (const struct lk_rec *p = ls ? ls->head : NULL; p; p = p->next)
		if ((r = fn(arg, &p->l)) != 0)
			return r;
	return 0;
}

/*
 * ncache.h - the name cache's entry and its lock-free reader half, inline
 * for the path walk's RCU mode (namei.c), which probes once per component
 * (ncache.c owns the entries: their life, the locked side, the rules).
 *
 * A walk in RCU mode stays in one file system (it hands a mount point back
 * to the walk with references), so what a probe needs besides the name is
 * the same for every component: the table of buckets, and whether the
 * file system is cached at all.  ncache_probe_init() reads them once,
 * inside the read-side section (a table that grew is freed a grace
 * period after its successor is published).
 */
#ifndef UVFS_NCACHE_H
#define UVFS_NCACHE_H

#include "core.h"
#include "hashname.h"

struct nc_entry {
	struct nc_entry *_Atomic next;      /* bucket chain; nc_lock */
	struct vnode *dir, *child;          /* const */
	union {
		struct cds_hlist_node dir_link; /* nc_lock: dir->nc_as_dir */
		struct rcu_head rcu;            /* once unlinked */
	};
	struct nc_entry *child_next;        /* nc_lock: child->nc_as_child */
	uint32_t hash;                      /* const: nc_hash() */
	uint8_t len;                        /* const: <= NAME_MAX */
	char name[];                        /* const, NUL-terminated */
};
_Static_assert(NAME_MAX <= UINT8_MAX, "nc_entry.len holds a name length");

/* May a reference be taken on vp without vc_lock, its use count word
 * being c?  Yes if it is clean (0 -> 1 needs no lock then), or if it is
 * already referenced whatever VN_SLOW says: n -> n + 1 for n >= 1 is what
 * vn_ref does for any holder, it can be neither a 0 -> 1 crossing nor a
 * claim (those need 0).  Not for an unreferenced slow vnode: being
 * claimed for reclaim, or its next use must go through the lock.  (A new
 * vnode stays slow until its first last release puts it on the LRU; a
 * file the kernel holds from its create never gets there.) */
static inline bool nc_refable(uint32_t c)
{
	return !(c & VN_SLOW) || (c & ~VN_SLOW) != 0;
}

/* => RCU read side.  A reference on vp if it is still clean or already
 * referenced (nc_refable), taken without any lock; the memory is valid
 * for the section.  A dead vnode may be taken (revoke races the reader):
 * the callers check vn_dead after. */
static inline bool ncache_tryref_rcu(struct vnode *vp)
{
	uint32_t c = atomic_load_explicit(&vp->usecount,
					  memory_order_relaxed);

	while (nc_refable(c)) {
		if (atomic_compare_exchange_weak_explicit(
			    &vp->usecount, &c, c + 1, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

/* The buckets: one allocation with their mask.  When the entries
 * outnumber the buckets twice, nc_grow_locked() publishes a table twice
 * the size for the insertions, keeps the old one beside it (u->nc_old)
 * and moves its entries over a few buckets at each change after; the old
 * one is freed a grace period after the last.  A reader probes the new
 * table and, on a miss, the old one.  It may miss an entry that moves
 * meanwhile (a miss only sends the lookup to the driver, which finds the
 * same vnode), and never loops: an entry moved is only ever linked to
 * entries in the new table before it. */
struct nc_table {
	unsigned long mask;                 /* const */
	struct rcu_head rcu;                /* once replaced */
	struct nc_entry *_Atomic b[];       /* nc_lock; RCU readers */
};

/* What a walk's probes share: the file system's (u's tables' buckets
 * and masks, read once; old NULL when no doubling is moving). */
struct nc_probe {
	struct nc_entry *_Atomic const *buckets;
	unsigned long mask;
	struct nc_entry *_Atomic const *old;
	unsigned long old_mask;
};

/* => RCU read side.  For probes in dvp's file system.  => false: it is
 * never cached (UVFS_FS_NO_NAMECACHE).  The new table is read first: a
 * reader that sees it sees the old one it was published beside. */
static inline bool ncache_probe_init(const struct vnode *dvp,
				     struct nc_probe *pr)
{
	const struct uvfs_sb *sb = dvp->sb;

	if (sb->ops->flags & UVFS_FS_NO_NAMECACHE)
		return false;
	const struct nc_table *t = atomic_load_explicit(&sb->u->nc_table,
							memory_order_acquire);
	const struct nc_table *o = atomic_load_explicit(&sb->u->nc_old,
							memory_order_acquire);
	pr->buckets = t->b;
	pr->mask = t->mask;
	pr->old = o ? o->b : NULL;
	pr->old_mask = o ? o->mask : 0;
	return true;
}

/* => RCU read side.  The entry for (dvp, name) on the chain from *b. */
static inline struct nc_entry *nc_chain_find(struct nc_entry *_Atomic const *b,
					     const struct vnode *dvp,
					     const char *name, size_t len,
					     uint32_t h)
{
	struct nc_entry *e;

	for (e = atomic_load_explicit(b, memory_order_acquire); e;
	     e = atomic_load_explicit(&e->next, memory_order_acquire))
		if (e->hash == h && e->dir == dvp && e->len == len &&
		    hn_equal(e->name, name, len))
			return e;
	return NULL;
}

/* => RCU read side; pr from ncache_probe_init() for dvp's file system.
 * The child a cached name leads to, without a reference (valid memory
 * until the section ends), or NULL: not cached, or the child unreferenced
 * and not clean (VN_SLOW: being claimed).  name: len bytes (not
 * NUL-terminated; a name longer than NAME_MAX matches no entry's
 * length); h: its hash in dvp, hn_hash_path's with dvp's address as the
 * salt, computed while the walk found the name's end. */
static inline struct vnode *ncache_find_rcu(const struct nc_probe *pr,
					    const struct vnode *dvp,
					    const char *name, size_t len,
					    uint32_t h)
{
	struct nc_entry *e = nc_chain_find(&pr->buckets[h & pr->mask], dvp,
					   name, len, h);

	if (!e && pr->old)
		e = nc_chain_find(&pr->old[h & pr->old_mask], dvp, name,
				  len, h);
	if (!e || !nc_refable(atomic_load_explicit(&e->child->usecount,
						   memory_order_acquire)))
		return NULL;
	return e->child;
}

#endif /* UVFS_NCACHE_H */

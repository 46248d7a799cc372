/*
 * ncache.c - the name cache: (directory vnode, name) -> child vnode, read
 * without locks.
 *
 * A hit on the cache replaces a driver lookup and a vnode-cache lookup by a
 * hash probe inside an RCU read-side section and one compare-and-swap on
 * the child's use count, which succeeds while the child is clean (no
 * VN_SLOW: hashed, on the LRU, not dead, not being reclaimed) or already
 * referenced (nc_refable).  Anything else falls back to the driver
 * (vop_lookup), which refills the cache.
 *
 * Rules
 *  - Entries hold no references.  An entry never outlives its directory or
 *    its child: vn_unload() and the death of a vnode (revoke, forced
 *    unmount) purge both lists of the vnode first, and vnode memory is
 *    freed only after a grace period (vn_free), so a reader standing on an
 *    entry always finds valid memory.
 *  - A lookup that raced with a change of the directory must not insert a
 *    stale entry: every removal bumps the directory's nc_seq under
 *    nc_lock, and an insertion is made only if the sequence read before
 *    the driver lookup is still current.
 *  - Every removal of an entry bumps u->nc_gen, which the contexts' path
 *    caches (pcache.h) check.
 *  - Drivers whose namespace can change behind the VFS (file servers) set
 *    UVFS_FS_NO_NAMECACHE and are never cached.
 *  - Buckets are singly linked through _Atomic pointers: published with
 *    release stores under nc_lock, walked with acquire loads.  The table
 *    of buckets doubles when the entries outnumber its buckets twice
 *    (the entries of held vnodes are not bounded by vcache_max), its
 *    entries moved a few buckets at a time over the changes that follow
 *    (nc_grow_locked): readers load both tables inside their read-side
 *    section, and the old one is freed a grace period after its last
 *    bucket is moved.
 *  - An entry is one allocation of its exact size (the name inline): 53
 *    bytes and the name, so 80 bytes of heap for a name of up to 18
 *    characters (docs/design.md, "Vnode memory").  It is on its
 *    directory's list (nc_as_dir, doubly linked: a directory can have
 *    many) and on its child's chain (nc_as_child, singly linked: a file
 *    has one name, or a few hard links, so removal walks it); its RCU
 *    head shares memory with the directory link, which is dead once the
 *    entry is unlinked (readers walk only bucket chains).
 *
 * The entry's layout and the lock-free reader half the path walk inlines
 * (its probe, nc_refable, the reference) are in ncache.h.
 *
 * nc_lock is a leaf lock (nothing is taken inside it).
 */
#include "core.h"
#include "hashname.h"
#include "ncache.h"
#include "rcu.h"

#include <stddef.h>

/* The hash of a name in dir: hashname.h's, salted with the directory's
 * address (the path walk computes the same while it finds the name's
 * end, and probes with it: ncache_find_rcu in ncache.h). */
static uint32_t nc_hash(const struct vnode *dir, const char *name,
			size_t len)
{
	return hn_hash((uintptr_t)dir, name, len);
}

#define NC_MAX_BUCKETS (1UL << 24)     /* 128 MiB of table */
#define NC_STEP 8       /* old buckets moved per insertion or removal */

/* The bytes of a table of n buckets.  Each allocation of one is its own
 * call (the first table's and a growth's): the fault-injection loop tells
 * them apart by their call sites (tests/test_faults.c, "grow"). */
static size_t nc_table_size(unsigned long n)
{
	return sizeof(struct nc_table) + n * sizeof(struct nc_entry *);
}

/* The table: a bucket per cached vnode to begin with (vcache_max), twice
 * as many whenever the entries outnumber them twice (nc_grow_locked). */
int ncache_init(struct uvfs *u)
{
	unsigned long n = 4096;

	while (n < u->cfg.vcache_max && n < (1UL << 20))
		n <<= 1;
	struct nc_table *t = sys_calloc(1, nc_table_size(n));

	if (!t)
		return -ENOMEM;
	t->mask = n - 1;
	atomic_init(&u->nc_table, t);
	pthread_mutex_init(&u->nc_lock, NULL);
	return 0;
}

void ncache_fini(struct uvfs *u)
{
	UVFS_VERIFY(u->nc_count == 0);
	free(atomic_load(&u->nc_table));
	free(atomic_load(&u->nc_old));  /* no reader is left */
	pthread_mutex_destroy(&u->nc_lock);
}

/* => nc_lock held: the current table. */
static struct nc_table *nc_table_locked(struct uvfs *u)
{
	return atomic_load_explicit(&u->nc_table, memory_order_relaxed);
}

static void nc_table_free_rcu(struct rcu_head *head)
{
	RCU_TSAN_ACQUIRE();
	free(caa_container_of(head, struct nc_table, rcu));
}

/* => nc_lock held: the old table while a doubling moves, or NULL. */
static struct nc_table *nc_old_locked(struct uvfs *u)
{
	return atomic_load_explicit(&u->nc_old, memory_order_relaxed);
}

/* => nc_lock held.  Moves up to k of the old table's buckets into the
 * current one.  Each entry is taken off the head of its old chain and
 * pushed on the head of its new one, so an entry moved points only to
 * entries in the new table before it: a reader standing on one follows a
 * chain of the new table to its end, and may miss an entry, never loop.
 * After the last bucket the old table is unpublished, and freed a grace
 * period later (readers may be on it).  The cache keeps what it holds:
 * no entry is removed, nc_gen does not move. */
static void nc_step_locked(struct uvfs *u, unsigned long k)
{
	struct nc_table *t = nc_table_locked(u), *o = nc_old_locked(u);

	while (o && k-- > 0) {
		struct nc_entry *_Atomic *ob = &o->b[u->nc_moved++];
		struct nc_entry *e;

		while ((e = atomic_load_explicit(ob, memory_order_relaxed))) {
			struct nc_entry *_Atomic *nb = &t->b[e->hash & t->mask];
			atomic_store_explicit(ob,
					      atomic_load_explicit(
						      &e->next,
						      memory_order_relaxed),
					      memory_order_release);
			atomic_store_explicit(&e->next,
					      atomic_load_explicit(
						      nb, memory_order_relaxed),
					      memory_order_release);
			atomic_store_explicit(nb, e, memory_order_release);
		}
		if (u->nc_moved > o->mask) {
			atomic_store_explicit(&u->nc_old, NULL,
					      memory_order_release);
			u->nc_moved = 0;
			RCU_TSAN_RELEASE();
			rcu_thread_online(); /* call_rcu wants it registered */
			urcu_memb_call_rcu(&o->rcu, nc_table_free_rcu);
			o = NULL;
		}
	}
}

/* => nc_lock held.  The entries outnumber the buckets twice: a table
 * twice the size takes the insertions from now on, the current one stays
 * beside it as the old one, and the insertions and removals that follow
 * move its buckets over, NC_STEP at a time (nc_step_locked): the old
 * table is empty after a sixteenth of the insertions that would double
 * the table again, and a doubling moves what is left of the previous one
 * first.  The old table is published before the new one, so a reader
 * that sees the new one sees the old too.  Moved in one go, the doubling
 * at half a million held vnodes kept nc_lock, and with it every change of
 * the cache, for 50 ms (bench/README.md, "Growth pauses").  Out of
 * memory, the table stays. */
static void nc_grow_locked(struct uvfs *u)
{
	struct nc_table *t, *nt;
	unsigned long n;

	nc_step_locked(u, ULONG_MAX);
	t = nc_table_locked(u);
	n = t->mask + 1;
	if (n >= NC_MAX_BUCKETS)
		return;
	nt = sys_calloc(1, nc_table_size(2 * n));
	if (!nt)
		return;
	nt->mask = 2 * n - 1;
	u->nc_moved = 0;
	atomic_store_explicit(&u->nc_old, t, memory_order_release);
	atomic_store_explicit(&u->nc_table, nt, memory_order_release);
}

static bool nc_enabled(const struct vnode *dvp)
{
	return !(dvp->sb->ops->flags & UVFS_FS_NO_NAMECACHE);
}

bool ncache_lookup(struct vnode *dvp, const char *name, size_t len,
		   struct vnode **out)
{
	struct nc_probe pr;
	struct vnode *vp;

	if (len > NAME_MAX || !nc_enabled(dvp))
		return false;
	rcu_thread_online();
	rcu_read_enter();
	vp = ncache_probe_init(dvp, &pr) ?
		ncache_find_rcu(&pr, dvp, name, len, nc_hash(dvp, name, len)) :
		NULL;
	if (vp && !ncache_tryref_rcu(vp))
		vp = NULL;
	rcu_read_leave();
	if (!vp)
		return false;
	if (vn_dead(vp)) {
		vn_rele(vp);
		return false;
	}
	*out = vp;
	return true;
}

unsigned long ncache_seq(struct vnode *dvp)
{
	return atomic_load_explicit(&dvp->nc_seq, memory_order_acquire);
}

/* => nc_lock held (every writer of nc_gen holds it: a store, not a
 * read-modify-write on the unlink's path). */
void ncache_gen_bump_locked(struct uvfs *u)
{
	atomic_store_explicit(&u->nc_gen,
			      atomic_load_explicit(&u->nc_gen,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

static void nc_free_rcu(struct rcu_head *head)
{
	RCU_TSAN_ACQUIRE();
	free(caa_container_of(head, struct nc_entry, rcu));
}

/* => nc_lock held.  Unlinks e from its bucket and lists; freed after a
 * grace period. */
static void nc_unlink_locked(struct uvfs *u, struct nc_entry *e)
{
	struct nc_table *t = nc_table_locked(u), *o = nc_old_locked(u);
	struct nc_entry *_Atomic *pp = &t->b[e->hash & t->mask];

	struct nc_entry **cp = &e->child->nc_as_child;

	while (atomic_load(pp) && atomic_load(pp) != e)
		pp = &atomic_load(pp)->next;
	if (!atomic_load(pp)) {         /* in an old bucket not moved yet */
		UVFS_VERIFY(o && (e->hash & o->mask) >= u->nc_moved);
		pp = &o->b[e->hash & o->mask];
		while (atomic_load(pp) != e)
			pp = &atomic_load(pp)->next;
	}
	atomic_store_explicit(pp, atomic_load(&e->next), memory_order_release);
	/* after the unlink: a walk that read the new generation cannot
	 * find e (pcache.h) */
	ncache_gen_bump_locked(u);
	cds_hlist_del(&e->dir_link);
	while (*cp != e)
		cp = &(*cp)->child_next;
	*cp = e->child_next;
	u->nc_count--;
	RCU_TSAN_RELEASE();     /* hand our history to the callback */
	rcu_thread_online();    /* call_rcu wants a registered thread */
	urcu_memb_call_rcu(&e->rcu, nc_free_rcu);
	nc_step_locked(u, NC_STEP);
}

static struct nc_entry *nc_find_locked(struct uvfs *u, struct vnode *dvp,
				       const char *name, size_t len,
				       uint32_t h)
{
	struct nc_table *t = nc_table_locked(u), *o = nc_old_locked(u);
	struct nc_entry *e = nc_chain_find(&t->b[h & t->mask], dvp, name,
					   len, h);

	if (!e && o && (h & o->mask) >= u->nc_moved)
		e = nc_chain_find(&o->b[h & o->mask], dvp, name, len, h);
	return e;
}

void ncache_add(struct vnode *dvp, const char *name, struct vnode *vp,
		unsigned long seq)
{
	struct uvfs *u = dvp->sb->u;
	size_t len = strlen(name);
	uint32_t h, cur;
	struct nc_entry *e, *old;

	if (!nc_enabled(dvp) || vn_dead(dvp) || vn_dead(vp) || len > NAME_MAX)
		return;
	h = nc_hash(dvp, name, len);
	e = sys_malloc(offsetof(struct nc_entry, name) + len + 1);
	if (!e)
		return;         /* a cache: nothing is lost */
	e->dir = dvp;
	e->child = vp;
	e->hash = h;
	e->len = (uint8_t)len;
	memcpy(e->name, name, len + 1);

	pthread_mutex_lock(&u->nc_lock);
	old = nc_find_locked(u, dvp, name, len, h);
	cur = atomic_load(&dvp->nc_seq);
	if (cur != (uint32_t)seq || ncw_purged(cur) ||
	    ncw_purged(atomic_load(&vp->nc_seq)) ||
	    (old && old->child == vp)) {
		pthread_mutex_unlock(&u->nc_lock);
		free(e);
		return;
	}
	if (old)
		nc_unlink_locked(u, old);
	cds_hlist_add_head(&e->dir_link, &dvp->nc_as_dir);
	e->child_next = vp->nc_as_child;
	vp->nc_as_child = e;
	struct nc_table *t = nc_table_locked(u);
	atomic_store_explicit(&e->next, atomic_load(&t->b[h & t->mask]),
			      memory_order_relaxed);
	atomic_store_explicit(&t->b[h & t->mask], e, memory_order_release);
	if (++u->nc_count > 2 * (t->mask + 1))
		nc_grow_locked(u);
	else
		nc_step_locked(u, NC_STEP);
	pthread_mutex_unlock(&u->nc_lock);
}

void ncache_remove(struct vnode *dvp, const char *name)
{
	struct uvfs *u = dvp->sb->u;
	size_t len = strlen(name);
	uint32_t h = nc_hash(dvp, name, len);
	struct nc_entry *e;

	if (!nc_enabled(dvp))
		return;
	pthread_mutex_lock(&u->nc_lock);
	atomic_store(&dvp->nc_seq, ncw_bump(atomic_load(&dvp->nc_seq)));
	e = nc_find_locked(u, dvp, name, len, h);
	if (e)
		nc_unlink_locked(u, e);
	pthread_mutex_unlock(&u->nc_lock);
}

void ncache_purge(struct vnode *vp)
{
	struct uvfs *u = vp->sb->u;

	pthread_mutex_lock(&u->nc_lock);
	atomic_store(&vp->nc_seq, ncw_purge(atomic_load(&vp->nc_seq)));
	while (vp->nc_as_dir.next)
		nc_unlink_locked(u, cds_hlist_entry(vp->nc_as_dir.next,
						    struct nc_entry, dir_link));
	while (vp->nc_as_child)
		nc_unlink_locked(u, vp->nc_as_child);
	pthread_mutex_unlock(&u->nc_lock);
}

int ncache_path(const struct vnode *top, const struct vnode *dir, char *buf,
		size_t size)
{
	struct uvfs *u = dir->sb->u;
	size_t pos = size;
	int hops = 0;

	if (size == 0)
		return -1;
	buf[--pos] = '\0';
	pthread_mutex_lock(&u->nc_lock);
	while (dir != top) {
		const struct nc_entry *e = dir->nc_as_child;
		/* one name (a directory has no other), and a bound on the
		 * climb */
		if (!e || e->child_next || ++hops > PATH_MAX / 2 ||
		    (size_t)e->len + 1 > pos) {
			pthread_mutex_unlock(&u->nc_lock);
			return -1;
		}
		pos -= e->len;
		memcpy(buf + pos, e->name, e->len);
		buf[--pos] = '/';
		dir = e->dir;
	}
	pthread_mutex_unlock(&u->nc_lock);
	memmove(buf, buf + pos, size - pos);
	return (int)(size - pos - 1);
}

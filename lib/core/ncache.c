/*
 * ncache.c - the name cache: (directory vnode, name) -> child vnode, read
 * without locks.
 *
 * A hit on the cache replaces a driver lookup and a vnode-cache lookup by a
 * hash probe inside an RCU read-side section and one compare-and-swap on
 * the child's use count, which succeeds only while the child is clean (no
 * VN_SLOW: hashed, not dead, not being reclaimed).  Anything else falls
 * back to the driver (vop_lookup), which refills the cache.
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
 *  - Drivers whose namespace can change behind the VFS (file servers) set
 *    UVFS_FS_NO_NAMECACHE and are never cached.
 *  - Buckets are singly linked through _Atomic pointers: published with
 *    release stores under nc_lock, walked with acquire loads.
 *
 * nc_lock is a leaf lock (nothing is taken inside it).
 */
#include "core.h"
#include "rcu.h"

struct nc_entry {
	struct nc_entry *_Atomic next;      /* bucket chain; nc_lock */
	struct vnode *dir, *child;          /* const */
	uint64_t hash;                      /* const */
	struct cds_list_head dir_link;      /* nc_lock: dir->nc_as_dir */
	struct cds_list_head child_link;    /* nc_lock: child->nc_as_child */
	struct rcu_head rcu;
	size_t len;                         /* const */
	char name[];                        /* const */
};

static uint64_t nc_hash(const struct vnode *dir, const char *name,
			size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uintptr_t)dir;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ h >> 32;
}

int ncache_init(struct uvfs *u)
{
	unsigned long n = 4096;

	while (n < u->cfg.vcache_max && n < (1UL << 20))
		n <<= 1;
	u->nc_buckets = sys_calloc(n, sizeof(*u->nc_buckets));
	if (!u->nc_buckets)
		return -ENOMEM;
	u->nc_mask = n - 1;
	pthread_mutex_init(&u->nc_lock, NULL);
	return 0;
}

void ncache_fini(struct uvfs *u)
{
	UVFS_VERIFY(u->nc_count == 0);
	free(u->nc_buckets);
	pthread_mutex_destroy(&u->nc_lock);
}

static bool nc_enabled(const struct vnode *dvp)
{
	return !(dvp->sb->ops->flags & UVFS_FS_NO_NAMECACHE);
}

/* Takes a reference on a clean vnode without any lock.  => RCU read side
 * (the memory is valid); fails if the vnode is not clean. */
static bool vn_tryref_rcu(struct vnode *vp)
{
	unsigned long c = atomic_load_explicit(&vp->usecount,
					       memory_order_relaxed);

	while (!(c & VN_SLOW)) {
		if (atomic_compare_exchange_weak_explicit(
			    &vp->usecount, &c, c + 1, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

bool ncache_lookup(struct vnode *dvp, const char *name, struct vnode **out)
{
	struct uvfs *u = dvp->sb->u;
	size_t len = strlen(name);
	uint64_t h;
	struct nc_entry *e;
	struct vnode *vp = NULL;

	if (!nc_enabled(dvp))
		return false;
	h = nc_hash(dvp, name, len);
	rcu_thread_online();
	rcu_read_enter();
	for (e = atomic_load_explicit(&u->nc_buckets[h & u->nc_mask],
				      memory_order_acquire);
	     e; e = atomic_load_explicit(&e->next, memory_order_acquire)) {
		if (e->hash == h && e->dir == dvp && e->len == len &&
		    memcmp(e->name, name, len) == 0) {
			if (vn_tryref_rcu(e->child))
				vp = e->child;
			break;
		}
	}
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

static void nc_free_rcu(struct rcu_head *head)
{
	RCU_TSAN_ACQUIRE();
	free(caa_container_of(head, struct nc_entry, rcu));
}

/* => nc_lock held.  Unlinks e from its bucket and lists; freed after a
 * grace period. */
static void nc_unlink_locked(struct uvfs *u, struct nc_entry *e)
{
	struct nc_entry *_Atomic *pp = &u->nc_buckets[e->hash & u->nc_mask];

	while (atomic_load(pp) != e)
		pp = &atomic_load(pp)->next;
	atomic_store_explicit(pp, atomic_load(&e->next), memory_order_release);
	cds_list_del(&e->dir_link);
	cds_list_del(&e->child_link);
	u->nc_count--;
	RCU_TSAN_RELEASE();     /* hand our history to the callback */
	rcu_thread_online();    /* call_rcu wants a registered thread */
	urcu_memb_call_rcu(&e->rcu, nc_free_rcu);
}

static struct nc_entry *nc_find_locked(struct uvfs *u, struct vnode *dvp,
				       const char *name, size_t len,
				       uint64_t h)
{
	struct nc_entry *e;

	for (e = atomic_load(&u->nc_buckets[h & u->nc_mask]); e;
	     e = atomic_load(&e->next))
		if (e->hash == h && e->dir == dvp && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

void ncache_add(struct vnode *dvp, const char *name, struct vnode *vp,
		unsigned long seq)
{
	struct uvfs *u = dvp->sb->u;
	size_t len = strlen(name);
	uint64_t h;
	struct nc_entry *e, *old;

	if (!nc_enabled(dvp) || vn_dead(dvp) || vn_dead(vp))
		return;
	h = nc_hash(dvp, name, len);
	e = sys_malloc(sizeof(*e) + len + 1);
	if (!e)
		return;         /* a cache: nothing is lost */
	e->dir = dvp;
	e->child = vp;
	e->hash = h;
	e->len = len;
	memcpy(e->name, name, len + 1);

	pthread_mutex_lock(&u->nc_lock);
	old = nc_find_locked(u, dvp, name, len, h);
	if (atomic_load(&dvp->nc_seq) != seq || dvp->nc_dead ||
	    vp->nc_dead || (old && old->child == vp)) {
		pthread_mutex_unlock(&u->nc_lock);
		free(e);
		return;
	}
	if (old)
		nc_unlink_locked(u, old);
	cds_list_add(&e->dir_link, &dvp->nc_as_dir);
	cds_list_add(&e->child_link, &vp->nc_as_child);
	atomic_store_explicit(&e->next,
			      atomic_load(&u->nc_buckets[h & u->nc_mask]),
			      memory_order_relaxed);
	atomic_store_explicit(&u->nc_buckets[h & u->nc_mask], e,
			      memory_order_release);
	u->nc_count++;
	pthread_mutex_unlock(&u->nc_lock);
}

void ncache_remove(struct vnode *dvp, const char *name)
{
	struct uvfs *u = dvp->sb->u;
	size_t len = strlen(name);
	uint64_t h = nc_hash(dvp, name, len);
	struct nc_entry *e;

	if (!nc_enabled(dvp))
		return;
	pthread_mutex_lock(&u->nc_lock);
	atomic_fetch_add(&dvp->nc_seq, 1);
	e = nc_find_locked(u, dvp, name, len, h);
	if (e)
		nc_unlink_locked(u, e);
	pthread_mutex_unlock(&u->nc_lock);
}

void ncache_purge(struct vnode *vp)
{
	struct uvfs *u = vp->sb->u;
	struct nc_entry *e, *tmp;

	pthread_mutex_lock(&u->nc_lock);
	vp->nc_dead = true;
	atomic_fetch_add(&vp->nc_seq, 1);
	cds_list_for_each_entry_safe(e, tmp, &vp->nc_as_dir, dir_link)
		nc_unlink_locked(u, e);
	cds_list_for_each_entry_safe(e, tmp, &vp->nc_as_child, child_link)
		nc_unlink_locked(u, e);
	pthread_mutex_unlock(&u->nc_lock);
}

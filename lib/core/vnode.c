/*
 * vnode.c - vnodes, the vnode cache and deadfs.  The vnode operations
 * themselves are in vnode_if.c, from one table.
 *
 * Lifecycle of a vnode
 *
 *   vcache_get ──> ACTIVE, hashed, loaded ──(usecount 0)──> cached on the LRU
 *        ^                 │                                   │ pruner, flush
 *        │                 │ revoke, forced unmount            v
 *        │                 v                            unhashed, VN_RECLAIM
 *        │         DEAD, unhashed ──(gate drained)──> driver reclaim (unloaded)
 *        │                                                     │ usecount 0
 *        └── a later lookup loads a fresh vnode                v
 *                                                         shell freed
 *
 *  - The use count changes atomically.  The NetBSD rule (1 -> 0 and
 *    0 -> 1 under the interlock, u->vc_lock) holds whenever the VN_SLOW bit
 *    of the count word is set; while it is clear (the vnode is hashed, on
 *    the LRU and clean) the last release and a name-cache hit may cross
 *    0 <-> 1 with a compare-and-swap instead, and the pruner and the flush
 *    claim an unreferenced vnode by swapping 0 for VN_SLOW, so neither can
 *    race a lookup (docs/locking.md).  A name-cache hit on a referenced
 *    vnode adds one whatever the bit says (n -> n + 1, as vn_ref).
 *  - The driver object (priv) is given back exactly once: whoever clears
 *    VN_LOADED under vc_lock calls the driver's reclaim.
 *  - A vnode holds its sb through sb->nvnodes; the sb is freed when it is
 *    no longer mounted and its last shell is gone (invariant 6).
 *  - The last release never calls the driver: it only moves the vnode to
 *    the LRU, or queues its reclaim to a worker (invariant 8).
 *  - Dead vnodes (deadfs) answer -EIO to every operation but release; an
 *    operation that waited at a closed gate while its vnode died finds it
 *    dead after entering and takes the dead path (ERESTARTVOP, in effect).
 */
#include "core.h"
#include "rcu.h"
#include "deadline.h"    /* lib/util */

/* The open-file stripes (core.h, vn_lock): leaves, shared by every
 * vnode of every instance in the process. */
pthread_mutex_t vn_stripes[VN_NSTRIPES] = {
	[0 ... VN_NSTRIPES - 1] = PTHREAD_MUTEX_INITIALIZER
};

void vn_flags_panic(const struct vnode *vp, uint32_t set, uint32_t clear,
		    const char *file, int line)
{
	char what[96];

	snprintf(what, sizeof(what), "vnode flags 0x%x: +0x%x -0x%x is not "
		 "a transition", (unsigned)vn_flags(vp), (unsigned)set,
		 (unsigned)clear);
	uvfs_panic(file, line, what);
}

#define VC_MAX_BUCKETS (1UL << 24)     /* 128 MiB of table */
#define VC_STEP 8       /* old chains moved per insertion or removal */

static uint64_t vc_hashval(const struct uvfs_sb *sb, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)sb >> 4;
	return h ^ h >> 29;
}

static void prune_work_fn(struct work *w);

int vcache_init(struct uvfs *u)
{
	unsigned long n = 4096;

	while (n < u->cfg.vcache_max / 2 && n < (1UL << 20))
		n <<= 1;
	u->vc_hash = sys_calloc(n, sizeof(*u->vc_hash));
	if (!u->vc_hash)
		return -ENOMEM;
	u->vc_mask = n - 1;
	pthread_mutex_init(&u->vc_lock, NULL);
	CDS_INIT_LIST_HEAD(&u->lru);
	u->prune_work.fn = prune_work_fn;
	return 0;
}

void vcache_fini(struct uvfs *u)
{
	free(u->vc_hash);
	free(u->vc_old);
	pthread_mutex_destroy(&u->vc_lock);
}

/* => vc_lock held.  The sb's last shell is gone, the mount let go, or a
 * kill finished: the last of the three frees it. */
void sb_maybe_free_locked(struct uvfs_sb *sb)
{
	if (!sb->mounted && sb->nvnodes == 0 && !sb->kill_hold)
		work_queue(sb->u, &sb->free_work);
}

static uint32_t vn_uses(struct vnode *vp)
{
	return atomic_load(&vp->usecount) & ~VN_SLOW;
}

static void vn_set_slow_locked(struct vnode *vp, bool slow)
{
	if (slow)
		atomic_fetch_or(&vp->usecount, VN_SLOW);
	else
		atomic_fetch_and(&vp->usecount, ~VN_SLOW);
}

/* => vc_lock held.  Takes an unreferenced vnode for reclaim: no lock-free
 * reference (ncache) can be taken after this succeeds. */
static bool vn_claim_locked(struct vnode *vp)
{
	uint32_t c = atomic_load(&vp->usecount);

	while ((c & ~VN_SLOW) == 0)
		if (atomic_compare_exchange_weak(&vp->usecount, &c,
						 c | VN_SLOW))
			return true;
	return false;
}

/* The chain vp is on (it is hashed): the new table's, or the old one's
 * while its chain there is not moved yet (vc_grow_locked). */
static struct vnode **vc_chain_of(struct uvfs *u, const struct vnode *vp)
{
	uint64_t h = vc_hashval(vp->sb, vp->ino);
	unsigned long o = h & u->vc_old_mask;

	if (u->vc_old && o >= u->vc_moved)
		for (struct vnode *p = u->vc_old[o]; p; p = p->hash_next)
			if (p == vp)
				return &u->vc_old[o];
	return &u->vc_hash[h & u->vc_mask];
}

/* => vc_lock held.  Moves up to k of the old table's chains into the new
 * one (an old chain i splits into the new i and i + old buckets); frees
 * the old table after its last. */
static void vc_step_locked(struct uvfs *u, unsigned long k)
{
	while (u->vc_old && k-- > 0) {
		struct vnode *vp = u->vc_old[u->vc_moved], *next;

		u->vc_old[u->vc_moved++] = NULL;
		for (; vp; vp = next) {
			struct vnode **b = &u->vc_hash[vc_hashval(vp->sb,
								  vp->ino) &
						       u->vc_mask];
			next = vp->hash_next;
			vp->hash_next = *b;
			*b = vp;
		}
		if (u->vc_moved > u->vc_old_mask) {
			free(u->vc_old);
			u->vc_old = NULL;
			u->vc_old_mask = u->vc_moved = 0;
		}
	}
}

/* => vc_lock held.  More than two hashed vnodes per bucket: the table
 * doubles.  vcache_max bounds only the unreferenced vnodes; the referenced
 * ones are as many as the files in use (every node a FUSE kernel knows
 * holds its vnode), and chains as long as their number over the buckets
 * would cost a cache miss per vnode passed on every load.
 * The move is spread over the calls that follow: the new table takes the
 * insertions at once, the old one stays beside it, and every insertion
 * and removal moves its next VC_STEP chains; a lookup looks in both.  The
 * old table is empty after a sixteenth of the insertions that would
 * double the table again, and a doubling moves what is left of the
 * previous one first.  Moved in one go, the doubling at half a million
 * held vnodes kept vc_lock, and with it every vnode load and slow
 * release, for 50 ms (bench/README.md, "Growth pauses").  Out of memory,
 * the table stays. */
static void vc_grow_locked(struct uvfs *u)
{
	unsigned long n = u->vc_mask + 1;
	struct vnode **nh;

	if (n >= VC_MAX_BUCKETS)
		return;
	vc_step_locked(u, ULONG_MAX);
	nh = sys_calloc(2 * n, sizeof(*nh));
	if (!nh)
		return;
	u->vc_old = u->vc_hash;
	u->vc_old_mask = u->vc_mask;
	u->vc_moved = 0;
	u->vc_hash = nh;
	u->vc_mask = 2 * n - 1;
}

static void vn_unhash_locked(struct vnode *vp)
{
	uint32_t fl = vn_flags(vp);

	vn_set_slow_locked(vp, true);
	if (fl & VN_HASHED) {
		/* chains are short: the table has a bucket per two hashed
		 * vnodes at most (vc_grow_locked) */
		struct uvfs *u = vp->sb->u;
		struct vnode **pp = vc_chain_of(u, vp);

		while (*pp != vp)
			pp = &(*pp)->hash_next;
		*pp = vp->hash_next;
		u->vc_count--;
		vc_step_locked(u, VC_STEP);
	}
	if (fl & VN_ONLRU) {
		cds_list_del(&vp->lru_link);
		vp->sb->u->nlru--;
	}
	VN_FLAGS_SET(vp, 0, VN_HASHED | VN_ONLRU);
}

static void vn_free_rcu(struct rcu_head *head)
{
	RCU_TSAN_ACQUIRE();
	free(caa_container_of(head, struct vnode, rcu));
}

/* => vc_lock held.  Takes the shell of an unreferenced, unloaded vnode
 * out of its superblock, wakes the superblock's waiters and frees the
 * superblock if this was the last of it (sb is not to be used after);
 * vn_free_finish frees the shell after the unlock. */
static void vn_free_locked(struct vnode *vp)
{
	struct uvfs_sb *sb = vp->sb;

	UVFS_VERIFY(vn_uses(vp) == 0);
	UVFS_VERIFY(!(vn_flags(vp) & (VN_LOADED | VN_HASHED | VN_ONLRU)));
	UVFS_VERIFY(sb->nvnodes > 0);
	cds_list_del(&vp->sb_link);
	sb->nvnodes--;
	pthread_cond_broadcast(&sb->vc_cv);
	sb_maybe_free_locked(sb);
}

static void vn_free_finish(struct vnode *vp, struct uvfs *u)
{
	UVFS_VERIFY(vp->files.next == NULL);
	UVFS_VERIFY(vp->nc_as_dir.next == NULL && vp->nc_as_child == NULL);
	lock_vnode_free(vp);
	CNT_DEC(u->nvnodes);
	/* name-cache readers may still be looking at it */
	RCU_TSAN_RELEASE();
	rcu_thread_online();    /* call_rcu wants a registered thread */
	urcu_memb_call_rcu(&vp->rcu, vn_free_rcu);
}

/* Frees the shell of an unreferenced, unloaded vnode. */
static void vn_free(struct vnode *vp)
{
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;

	pthread_mutex_lock(&u->vc_lock);
	vn_free_locked(vp);
	pthread_mutex_unlock(&u->vc_lock);
	vn_free_finish(vp, u);
}

/* The first half of an unload, if this caller is the one to do it (the
 * vnode still VN_LOADED, cleared here under vc_lock): the name cache's
 * entries go, a dead vnode's driver is told (revoke), open files still
 * attached have their driver handles released, then the driver object.
 * No lock held on entry or return.
 * => true if it was done here: the caller then counts it (sb->nlive--,
 * under vc_lock). */
static bool vn_unload_driver(struct vnode *vp)
{
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;
	void *priv = NULL;
	bool mine, dead = false;

	pthread_mutex_lock(&u->vc_lock);
	mine = (vn_flags(vp) & VN_LOADED) != 0;
	if (mine) {
		VN_FLAGS_SET(vp, 0, VN_LOADED);
		priv = vp->priv;
		dead = vn_dead(vp);
	}
	pthread_mutex_unlock(&u->vc_lock);
	if (!mine)
		return false;
	ncache_purge(vp);
	/* Dead (revoked, killed, stale): the driver drops what it keeps to
	 * send later before the releases below, which are no last closes
	 * (fs.h, revoke). */
	if (dead && sb->ops->revoke)
		sb->ops->revoke(sb, priv);

	/* One file at a time, its handle released with the stripe dropped
	 * (a stripe is never held across a driver call).  Once detached
	 * here, a file is no longer ours unless it was an orphan: its last
	 * close (vn_file_detach) finds it detached, leaves the handle to us
	 * and frees it, so only fh is used after the unlock. */
	for (;;) {
		struct file *f;
		void *fh;
		bool orphan;

		vn_lock(vp);
		if (!vp->files.next) {
			vn_unlock(vp);
			break;
		}
		f = cds_hlist_entry(vp->files.next, struct file, vlink);
		fh = file_detach_locked(f);
		orphan = f->orphan;
		vn_unlock(vp);
		if (fh && sb->ops->release)
			sb->ops->release(sb, priv, fh);
		if (orphan) {
			/* closed while the gate was killed: ours to free */
			free(f);
			CNT_DEC(u->nfiles);
		}
	}
	if (sb->ops->reclaim)
		sb->ops->reclaim(sb, priv);
	return true;
}

/* Gives the driver object back, if this caller is the one to do it. */
static void vn_unload(struct vnode *vp)
{
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;

	if (!vn_unload_driver(vp))
		return;
	pthread_mutex_lock(&u->vc_lock);
	UVFS_VERIFY(sb->nlive > 0);
	sb->nlive--;
	pthread_cond_broadcast(&sb->vc_cv);
	pthread_mutex_unlock(&u->vc_lock);
}

/* Worker: an unreferenced vnode left the cache.  vn_unload then vn_free,
 * with the superblock's counts changed under one hold of vc_lock. */
static void vn_reclaim_work(struct work *w)
{
	struct vnode *vp = caa_container_of(w, struct vnode, work);
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;
	bool unloaded = vn_unload_driver(vp);

	pthread_mutex_lock(&u->vc_lock);
	if (unloaded) {
		UVFS_VERIFY(sb->nlive > 0);
		sb->nlive--;
	}
	vn_free_locked(vp);     /* wakes the waiters; sb may be gone */
	pthread_mutex_unlock(&u->vc_lock);
	vn_free_finish(vp, u);
}

void vn_ref(struct vnode *vp)
{
	uint32_t o = atomic_fetch_add_explicit(&vp->usecount, 1,
					       memory_order_relaxed);
	UVFS_VERIFY((o & ~VN_SLOW) > 0);
}

/* => vc_lock held; vp's use count just went to zero. */
static void vn_lastrele_locked(struct vnode *vp)
{
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;

	uint32_t fl = vn_flags(vp);

	if ((fl & (VN_DEAD | VN_UNLINKED)) || sb->killed ||
	    !(fl & VN_HASHED)) {
		if (fl & VN_RECLAIM)
			return; /* NEVER: already queued */
		vn_unhash_locked(vp);
		VN_FLAGS_SET(vp, VN_RECLAIM, 0);
		vp->work.fn = vn_reclaim_work;  /* work overlays the links */
		work_queue_lazy(u, &vp->work);
		return;
	}
	if (!(fl & VN_ONLRU)) {
		cds_list_add_tail(&vp->lru_link, &u->lru);
		VN_FLAGS_SET(vp, VN_ONLRU, 0);
		u->nlru++;
	}
	vn_set_slow_locked(vp, false);  /* next time: lock-free */
	if (u->nlru > u->cfg.vcache_max && !u->prune_queued) {
		u->prune_queued = true;
		work_queue(u, &u->prune_work);
	}
}

void vn_rele(struct vnode *vp)
{
	struct uvfs *u = vp->sb->u;
	uint32_t c = atomic_load_explicit(&vp->usecount,
					  memory_order_relaxed);

	/* Lock-free unless this is a last release that has work to do. */
	while ((c & ~VN_SLOW) > 1 || c == 1) {
		if (atomic_compare_exchange_weak_explicit(
			    &vp->usecount, &c, c - 1, memory_order_acq_rel,
			    memory_order_relaxed))
			return;
	}
	pthread_mutex_lock(&u->vc_lock);
	c = atomic_fetch_sub_explicit(&vp->usecount, 1, memory_order_acq_rel);
	UVFS_VERIFY((c & ~VN_SLOW) >= 1);
	if ((c & ~VN_SLOW) == 1)
		vn_lastrele_locked(vp);
	pthread_mutex_unlock(&u->vc_lock);
}

static struct vnode *vc_find_locked(struct uvfs_sb *sb, uint64_t ino)
{
	struct uvfs *u = sb->u;
	uint64_t h = vc_hashval(sb, ino);
	struct vnode *vp;

	for (vp = u->vc_hash[h & u->vc_mask]; vp; vp = vp->hash_next)
		if (vp->sb == sb && vp->ino == ino)
			return vp;
	if (!u->vc_old || (h & u->vc_old_mask) < u->vc_moved)
		return NULL;
	for (vp = u->vc_old[h & u->vc_old_mask]; vp; vp = vp->hash_next)
		if (vp->sb == sb && vp->ino == ino)
			return vp;
	return NULL;
}

/* directory, symlink, or anything else: what every driver can tell */
static int type_class(mode_t type)
{
	return S_ISDIR(type) ? 1 : S_ISLNK(type) ? 2 : 3;
}

/* Is the cached vp not the file the driver now names by id (its ino was
 * reused)? */
static bool vn_stale(const struct vnode *vp, const struct uvfs_ident *id)
{
	if (id->gen && vp->gen && id->gen != vp->gen)
		return true;
	return id->type && type_class(id->type) != type_class(vp->type);
}

/* => vc_lock held.  A stale vp turns dead and leaves the cache; unused, it
 * is reclaimed on a worker, else at its last release. */
static void vn_stale_locked(struct vnode *vp)
{
	VN_FLAGS_SET(vp, VN_DEAD, 0);
	vn_unhash_locked(vp);
	ncache_purge(vp);       /* nc_lock is a leaf */
	if (!(vn_flags(vp) & VN_RECLAIM) && vn_claim_locked(vp)) {
		VN_FLAGS_SET(vp, VN_RECLAIM, 0);
		vp->work.fn = vn_reclaim_work;  /* work overlays the links */
		work_queue_lazy(vp->sb->u, &vp->work);
	}
}

/* => vc_lock held.  Whether the cached vp, found by id's ino, is not
 * id's file: then it leaves the cache.  A stale one also dies (a file
 * replaced behind the driver: its holders get -EIO).  A directory
 * removed through this instance is never found again either: the same
 * ino is another directory (a file server that reused the number, with
 * no generation to tell), but the removed one stays alive, unhashed, for
 * its holders (a cwd: -ENOENT for every name in it, vn_unlinked), and is
 * reclaimed at its last release. */
static bool vn_gone_locked(struct vnode *vp, const struct uvfs_ident *id)
{
	if (vn_stale(vp, id)) {
		vn_stale_locked(vp);
		return true;
	}
	if (vn_unlinked(vp) && vn_isdir(vp)) {
		vn_unhash_locked(vp);
		return true;
	}
	return false;
}

int vcache_get(struct uvfs_sb *sb, uint64_t ino, struct vnode **out)
{
	struct uvfs_ident id = { .ino = ino };

	return vcache_get_ident(sb, &id, out);
}

/* vcache_load's flags */
#define VC_TYPED 1      /* id->type is exact: no getattr */
#define VC_FRESH 2      /* just created: no probe before the load */

static int vcache_load(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       unsigned how, struct vnode **out);

int vcache_get_ident(struct uvfs_sb *sb, const struct uvfs_ident *id,
		     struct vnode **out)
{
	return vcache_load(sb, id, 0, out);
}

/* A file whose type is known exactly (id->type): one just created (the
 * type the create asked for: vcache_get_created, below), or a lookup's
 * directory or symlink (a type class of one member).  Loading its vnode
 * asks the driver nothing more (a remote driver would spend a round trip
 * on a getattr whose only use here is the type; the attributes are asked
 * when someone wants them). */
int vcache_get_typed(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       struct vnode **out)
{
	return vcache_load(sb, id, id->type != 0 ? VC_TYPED : 0, out);
}

/* A file the driver has just made: its ino is all but never cached (only
 * a driver that reused it, with a vnode of the old file still there), so
 * the load does not look first; the insertion's own look still finds
 * such a vnode, and takes it or sets it stale as a probe would have, at
 * the cost of a vget and a reclaim.  One hold of vc_lock fewer per
 * create. */
int vcache_get_created(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       struct vnode **out)
{
	return vcache_load(sb, id, VC_TYPED | VC_FRESH, out);
}

static int vcache_load(struct uvfs_sb *sb, const struct uvfs_ident *id,
		       unsigned how, struct vnode **out)
{
	struct uvfs *u = sb->u;
	uint64_t ino = id->ino;
	struct vnode *vp, *old;
	struct stat st;
	void *priv = NULL;
	int err;

	if (how & VC_FRESH)
		goto load;
	pthread_mutex_lock(&u->vc_lock);
	if (sb->killed) {
		pthread_mutex_unlock(&u->vc_lock);
		return -EIO;
	}
	vp = vc_find_locked(sb, ino);
	if (vp && vn_gone_locked(vp, id))
		vp = NULL;
	if (vp) {
		atomic_fetch_add_explicit(&vp->usecount, 1,
					  memory_order_relaxed);
		pthread_mutex_unlock(&u->vc_lock);
		*out = vp;
		return 0;
	}
	pthread_mutex_unlock(&u->vc_lock);

	/* Load it outside the lock; a racing loader may win. */
load:
	err = sb->ops->vget(sb, ino, &priv);
	if (err)
		return err;
	if (how & VC_TYPED) {
		st.st_mode = id->type;
	} else {
		err = vop_driver_getattr(sb, priv, &st);
		if (err) {
			if (sb->ops->reclaim)
				sb->ops->reclaim(sb, priv);
			return err;
		}
	}
	vp = sys_calloc(1, sizeof(*vp));
	if (!vp) {
		if (sb->ops->reclaim)
			sb->ops->reclaim(sb, priv);
		return -ENOMEM;
	}
	vp->sb = sb;
	vp->ino = ino;
	vp->gen = id->gen;
	vp->type = st.st_mode & S_IFMT;
	vp->priv = priv;
	atomic_init(&vp->usecount, 1 | VN_SLOW);
	atomic_init(&vp->flags, 0);
	atomic_init(&vp->mounted, 0);
	atomic_init(&vp->nc_seq, 0);
	/* calloc: files, nc_as_dir, nc_as_child and hash_next are empty */

	pthread_mutex_lock(&u->vc_lock);
	old = sb->killed ? NULL : vc_find_locked(sb, ino);
	if (old && vn_gone_locked(old, id))
		old = NULL;
	if (old || sb->killed) {
		if (old)
			atomic_fetch_add_explicit(&old->usecount, 1,
						  memory_order_relaxed);
		pthread_mutex_unlock(&u->vc_lock);
		free(vp);
		if (sb->ops->reclaim)
			sb->ops->reclaim(sb, priv);
		if (!old)
			return -EIO;
		*out = old;
		return 0;
	}
	struct vnode **b = &u->vc_hash[vc_hashval(sb, ino) & u->vc_mask];
	vp->hash_next = *b;
	*b = vp;
	if (++u->vc_count > 2 * (u->vc_mask + 1))
		vc_grow_locked(u);
	else
		vc_step_locked(u, VC_STEP);
	cds_list_add(&vp->sb_link, &sb->vnodes);
	atomic_store_explicit(&vp->flags, VN_NEWFLAGS, memory_order_relaxed);
	sb->nvnodes++;
	sb->nlive++;
	pthread_mutex_unlock(&u->vc_lock);
	CNT_INC(u->nvnodes);
	*out = vp;
	return 0;
}

void vcache_prune(struct uvfs *u, unsigned long n)
{
	struct cds_list_head victims;
	struct vnode *vp, *tmp;

	CDS_INIT_LIST_HEAD(&victims);
	pthread_mutex_lock(&u->vc_lock);
	cds_list_for_each_entry_safe(vp, tmp, &u->lru, lru_link) {
		if (n == 0)
			break;
		cds_list_del(&vp->lru_link);
		VN_FLAGS_SET(vp, 0, VN_ONLRU);
		u->nlru--;
		if (!vn_claim_locked(vp)) {
			/* in use again: off the LRU, and its last release
			 * puts it back */
			vn_set_slow_locked(vp, true);
			continue;
		}
		vn_unhash_locked(vp);
		VN_FLAGS_SET(vp, VN_RECLAIM, 0);
		/* reuse lru_link for our private list */
		cds_list_add_tail(&vp->lru_link, &victims);
		n--;
	}
	pthread_mutex_unlock(&u->vc_lock);
	cds_list_for_each_entry_safe(vp, tmp, &victims, lru_link) {
		vn_unload(vp);
		vn_free(vp);
	}
}

static void prune_work_fn(struct work *w)
{
	struct uvfs *u = caa_container_of(w, struct uvfs, prune_work);
	unsigned long excess;

	pthread_mutex_lock(&u->vc_lock);
	excess = u->nlru > u->cfg.vcache_max ?
		 u->nlru - u->cfg.vcache_max + u->cfg.vcache_max / 8 : 0;
	pthread_mutex_unlock(&u->vc_lock);
	if (excess)
		vcache_prune(u, excess);
	pthread_mutex_lock(&u->vc_lock);
	u->prune_queued = false;
	pthread_mutex_unlock(&u->vc_lock);
}


static bool is_reclaim_of(struct work *w, void *sb)
{
	return w->fn == vn_reclaim_work &&
	       caa_container_of(w, struct vnode, work)->sb == sb;
}

/* Waits, with vc_lock held, until *count is zero or the time is up
 * (timeout_ms < 0: forever).  Queued reclaims of this sb are run here
 * rather than waited for: the caller may itself be a worker. */
static int sb_wait_locked(struct uvfs_sb *sb, unsigned long *count,
			  int timeout_ms)
{
	struct uvfs *u = sb->u;
	struct timespec until, slice;

	if (timeout_ms >= 0)
		deadline_in(&until, timeout_ms);
	while (*count > 0) {
		pthread_mutex_unlock(&u->vc_lock);
		work_run_matching(u, is_reclaim_of, sb);
		pthread_mutex_lock(&u->vc_lock);
		if (*count == 0)
			break;
		if (timeout_ms >= 0 && ms_left(&until) == 0)
			return -ETIMEDOUT;
		deadline_in(&slice, 10);
		pthread_cond_timedwait(&sb->vc_cv, &u->vc_lock, &slice);
	}
	return 0;
}

int vcache_flush_sb(struct uvfs_sb *sb, int timeout_ms)
{
	struct uvfs *u = sb->u;
	struct cds_list_head victims;
	struct vnode *vp, *tmp;
	int err;

	CDS_INIT_LIST_HEAD(&victims);
	pthread_mutex_lock(&u->vc_lock);
	cds_list_for_each_entry(vp, &sb->vnodes, sb_link) {
		if ((vn_flags(vp) & VN_RECLAIM) || !vn_claim_locked(vp))
			continue;
		vn_unhash_locked(vp);
		VN_FLAGS_SET(vp, VN_RECLAIM, 0);
		cds_list_add_tail(&vp->lru_link, &victims);
	}
	pthread_mutex_unlock(&u->vc_lock);
	cds_list_for_each_entry_safe(vp, tmp, &victims, lru_link) {
		vn_unload(vp);
		vn_free(vp);
	}
	/* Invariant 7: wait on the count, not on the scan above; a pruner
	 * may still be reclaiming vnodes it took before we looked. */
	pthread_mutex_lock(&u->vc_lock);
	err = sb_wait_locked(sb, &sb->nlive, timeout_ms);
	pthread_mutex_unlock(&u->vc_lock);
	return err;
}

void vcache_kill_sb(struct uvfs_sb *sb)
{
	struct uvfs *u = sb->u;
	struct vnode *vp;

	pthread_mutex_lock(&u->vc_lock);
	sb->killed = true;
	cds_list_for_each_entry(vp, &sb->vnodes, sb_link) {
		VN_FLAGS_SET(vp, VN_DEAD, 0);
		vn_unhash_locked(vp);
		ncache_purge(vp);       /* nc_lock is a leaf */
	}
	pthread_mutex_unlock(&u->vc_lock);
	lock_kick(u);           /* lock waiters on it answer -EIO */
}

void vcache_reclaim_dead(struct uvfs_sb *sb)
{
	struct uvfs *u = sb->u;
	struct vnode **v = NULL, *vp;
	size_t nclaimed = 0, nheld = 0, cap = 0;

	pthread_mutex_lock(&u->vc_lock);
	cds_list_for_each_entry(vp, &sb->vnodes, sb_link)
		if ((vn_flags(vp) & VN_LOADED) && vn_dead(vp) &&
		    !(vn_flags(vp) & VN_RECLAIM))
			cap++;
	v = cap ? sys_malloc(cap * sizeof(*v)) : NULL;
	if (!v)
		cap = 0;        /* out of memory: one at a time, below */
	/* Unreferenced ones (the bulk of a big cache) are claimed, as a
	 * flush claims them, and freed here; v[0, nclaimed).  Referenced
	 * ones are held so that their last release cannot free them under
	 * us, unloaded, and left to that release; v[cap - nheld, cap). */
	cds_list_for_each_entry(vp, &sb->vnodes, sb_link) {
		if (nclaimed + nheld == cap)
			break;
		/* VN_RECLAIM: its own queued work unloads it */
		if (!(vn_flags(vp) & VN_LOADED) || !vn_dead(vp) ||
		    (vn_flags(vp) & VN_RECLAIM))
			continue;
		if (vn_claim_locked(vp)) {
			vn_unhash_locked(vp);
			VN_FLAGS_SET(vp, VN_RECLAIM, 0);
			v[nclaimed++] = vp;
		} else {
			/* 0 -> 1 is allowed under vc_lock */
			atomic_fetch_add(&vp->usecount, 1);
			v[cap - ++nheld] = vp;
		}
	}
	pthread_mutex_unlock(&u->vc_lock);
	for (size_t i = 0; i < nclaimed; i++) {
		vn_unload(v[i]);
		vn_free(v[i]);
	}
	for (size_t i = cap - nheld; i < cap; i++) {
		vn_unload(v[i]);
		vn_rele(v[i]);
	}
	free(v);
	/* Without the array (no memory), or for vnodes that turned dead
	 * since: take them one by one, each held across its unload. */
	for (;;) {
		pthread_mutex_lock(&u->vc_lock);
		cds_list_for_each_entry(vp, &sb->vnodes, sb_link)
			if ((vn_flags(vp) & VN_LOADED) && vn_dead(vp) &&
			    !(vn_flags(vp) & VN_RECLAIM))
				break;
		if (&vp->sb_link == &sb->vnodes) {
			pthread_mutex_unlock(&u->vc_lock);
			break;
		}
		atomic_fetch_add(&vp->usecount, 1);
		pthread_mutex_unlock(&u->vc_lock);
		vn_unload(vp);
		vn_rele(vp);
	}
	pthread_mutex_lock(&u->vc_lock);
	sb_wait_locked(sb, &sb->nlive, -1);
	pthread_mutex_unlock(&u->vc_lock);
}

int vn_revoke(struct vnode *vp, int deadline_ms)
{
	struct uvfs_sb *sb = vp->sb;
	struct uvfs *u = sb->u;

	pthread_mutex_lock(&u->vc_lock);
	if (vn_dead(vp)) {
		pthread_mutex_unlock(&u->vc_lock);
		return 0;
	}
	VN_FLAGS_SET(vp, VN_DEAD, 0);
	vn_unhash_locked(vp);
	pthread_mutex_unlock(&u->vc_lock);
	ncache_purge(vp);
	lock_kick(u);           /* lock waiters on it answer -EIO */

	if (gate_close(&sb->gate, deadline_ms) == 0) {
		vn_unload(vp);
		gate_open(&sb->gate);
		return 0;
	}
	gate_open(&sb->gate);
	/* Something inside did not leave in time.  Waiting for it on a
	 * worker would freeze the mount (the gate closed) and the worker;
	 * instead the sb dies as in a forced unmount: its kill reclaims vp
	 * with the rest once the gate has drained, without holding a worker
	 * meanwhile.  (false: a kill or an unmount already has it.) */
	sb_kill(sb, NULL);
	return 0;
}

void vn_mark_unlinked(struct vnode *vp)
{
	struct uvfs *u = vp->sb->u;

	pthread_mutex_lock(&u->vc_lock);
	VN_FLAGS_SET(vp, VN_UNLINKED, 0);
	vn_set_slow_locked(vp, true);
	pthread_mutex_unlock(&u->vc_lock);
}

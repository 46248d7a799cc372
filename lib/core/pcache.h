/*
 * pcache.h - a context's path cache: the last paths its RCU walks
 * resolved, each to the vnode it reached, so that the same path asked
 * again is one probe instead of one name-cache probe per component.
 *
 * Owns struct pc_entry, PC_SIZE of them per context (ctx->pcache),
 * allocated at the context's first cacheable walk and freed with the
 * context.  They are the owning thread's alone (a context is used by one
 * thread at a time, uvfs.h), so the table has no lock.  An entry holds no
 * reference: it is a hint, checked at every use.
 *
 * Why a hit is the answer the walk would give.  An entry is made only
 * from a successful RCU walk (namei.c, walk_rcu), which never crosses a
 * mount point, never takes "." or "..", never follows a symbolic link
 * but a last one the flags allow, and only for root (whose search
 * permission is "a live directory").  Its result then depends on nothing
 * but the name-cache entries it went through, whether the directories on
 * the way are dead or mounted on, and the types of the vnodes (which
 * never change).  Every one of those changes bumps u->nc_gen:
 *  - a name-cache entry's removal, for any reason (ncache.c: an unlink, a
 *    rename, an entry replaced, a vnode unloaded, a revoke or a kill,
 *    which purge the vnode's entries);
 *  - a mount on a vnode (mount.c, after the vnode's mounted count).
 * An entry records the generation read *before* its walk began, so a
 * change racing the walk leaves it stale at once.  A hit is taken only if
 * the generation is still the same, inside a read-side section: then
 * every entry of its walk is still in the cache, so its vnode has not
 * been unloaded and its memory is valid (it is freed a grace period after
 * its entries' removal).  What the walk checks of the result at its end
 * is checked again: the file system not killed, a reference taken as the
 * name cache takes it (ncache_tryref_rcu), not dead (namei.c).  A start
 * vnode freed and its address reused cannot match either: a path of one
 * component or more went through an entry of that directory, whose
 * removal bumped the generation.
 *
 * Any removal anywhere makes every entry stale: a workload that changes
 * names all the time just misses, at the cost of the probe and the
 * entry's refill (bench/README.md, "bench_stat").
 */
#ifndef UVFS_PCACHE_H
#define UVFS_PCACHE_H

#include "core.h"
#include "hashname.h"
#include "ncache.h"
#include "rcu.h"

#define PC_SIZE     32          /* entries per context (a power of 2) */
#define PC_PATH_MAX 54          /* longer paths are walked each time */

struct pc_entry {
	unsigned long gen;          /* u->nc_gen read before the walk */
	const struct vnode *start;  /* ctx's root or cwd vnode then */
	struct vnode *vp;           /* what the walk reached (no ref) */
	uint32_t hash;              /* hn_hash of the path, start's salt */
	uint8_t flags;              /* the walk's LK_* */
	uint8_t len;                /* of path, <= PC_PATH_MAX */
	char path[PC_PATH_MAX];     /* not NUL-terminated */
};
_Static_assert(sizeof(struct pc_entry) == 88, "a pc_entry is 88 bytes");
_Static_assert(PC_PATH_MAX <= UINT8_MAX, "pc_entry.len holds a length");

static inline uint32_t pc_hash(const struct vnode *start, const char *path,
			       size_t plen, unsigned flags)
{
	return hn_hash((uintptr_t)start ^ flags, path, plen);
}

/* The generation an entry made from a walk starting now would record. */
static inline unsigned long pc_gen(const struct uvfs *u)
{
	return atomic_load_explicit(&u->nc_gen, memory_order_acquire);
}

/* A hit: *out is the vnode path (plen bytes) leads to from start with
 * flags, referenced, as walk_rcu would give it (not checked for death:
 * the caller does that after, as for walk_rcu).  => false: not cached,
 * or no longer the answer; nothing taken. */
static inline bool pc_find(struct uvfs_ctx *ctx, const struct vnode *start,
			   const char *path, size_t plen, unsigned flags,
			   uint32_t h, struct vnode **out)
{
	struct pc_entry *e;
	struct vnode *vp;
	bool hit = false;

	if (!ctx->pcache)
		return false;
	e = &ctx->pcache[h & (PC_SIZE - 1)];
	/* (the generation first outside the section too: a stale entry,
	 * the usual miss after a change, costs no section) */
	if (e->hash != h || e->gen != pc_gen(ctx->u) || e->start != start ||
	    e->len != plen || e->flags != flags ||
	    !hn_equal(e->path, path, plen))
		return false;
	rcu_thread_online();
	rcu_read_enter();
	if (e->gen == pc_gen(ctx->u)) {
		vp = e->vp;
		hit = !atomic_load_explicit(&vp->sb->killed,
					    memory_order_acquire) &&
		      ncache_tryref_rcu(vp);
	}
	rcu_read_leave();
	if (hit)
		*out = vp;
	return hit;
}

/* Records that path led from start to vp (walk_rcu's result, the walk
 * begun after gen was read). */
static inline void pc_add(struct uvfs_ctx *ctx, const struct vnode *start,
			  const char *path, size_t plen, unsigned flags,
			  uint32_t h, unsigned long gen, struct vnode *vp)
{
	struct pc_entry *e;

	if (!ctx->pcache) {
		ctx->pcache = sys_calloc(PC_SIZE, sizeof(*ctx->pcache));
		if (!ctx->pcache)
			return;         /* a cache: nothing is lost */
	}
	e = &ctx->pcache[h & (PC_SIZE - 1)];
	e->gen = gen;
	e->start = start;
	e->vp = vp;
	e->hash = h;
	e->flags = (uint8_t)flags;
	e->len = (uint8_t)plen;
	/* a word at a time, the last word the 8 bytes that end the path
	 * (overlapping): memcpy of a length known only here is a call or a
	 * rep movs, either slower than this for a few words */
	if (plen >= 8) {
		for (size_t i = 0; i + 8 < plen; i += 8)
			memcpy(e->path + i, path + i, 8);
		memcpy(e->path + plen - 8, path + plen - 8, 8);
	} else {
		for (size_t i = 0; i < plen; i++)
			e->path[i] = path[i];
	}
}

#endif /* UVFS_PCACHE_H */

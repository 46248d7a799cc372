/*
 * vnpack.h - the packed words of a vnode (struct vnode, core.h), as pure
 * functions on integers, so that tests/test_vnpack.c checks them without
 * a vnode:
 *
 *   the flag word     vp->flags: the VN_* bits, the DEAD state among them.
 *                     Changed only through vnf_next(), which refuses a
 *                     transition the lifecycle does not have (vnode.c
 *                     aborts with file and line on one).
 *   the name word     vp->nc_seq: the name cache's sequence counter and
 *                     its "purged" bit (ncache.c).
 *   the lock stripe   which of VN_NSTRIPES mutexes guards a vnode's list
 *                     of open files (vn_lock(), core.h).
 *
 * Why these are packed: a cached vnode and its name-cache entry fit in
 * 256 bytes of heap (bench/bench_vnode_mem.c; docs/design.md, "Vnode
 * memory").
 */
#ifndef UVFS_VNPACK_H
#define UVFS_VNPACK_H

#include <stdbool.h>
#include <stdint.h>

/* ---- the flag word ----------------------------------------------------- */

/* vp->flags; every change under u->vc_lock, through vnf_next(). */
#define VN_HASHED    0x01u /* findable in the vcache; cleared once */
#define VN_ONLRU     0x02u /* on u->lru (implies VN_HASHED) */
#define VN_UNLINKED  0x04u /* lost a name: reclaim at last release; set once */
#define VN_RECLAIM   0x08u /* queued for reclaim / being reclaimed (implies
			      neither HASHED nor ONLRU); set once */
#define VN_LOADED    0x10u /* priv is the driver's object (counted in
			      nlive); cleared once */
#define VN_DEAD      0x20u /* deadfs: EIO but for release (revoke, a stale
			      ino, a killed sb); set once.  Read without
			      the lock (vn_dead()). */
#define VN_ALLFLAGS  0x3fu

/* A new vnode's word: hashed and loaded. */
#define VN_NEWFLAGS  (VN_HASHED | VN_LOADED)

#define VNF_BAD      0xffffffffu

/* The word after setting `set` and clearing `clear` in `old` (set wins
 * over clear for a bit in both), or VNF_BAD if that is not a transition of
 * the lifecycle:
 *  - HASHED and LOADED are only ever cleared, UNLINKED, RECLAIM and DEAD
 *    only ever set (once set they stay; the vnode never comes back);
 *  - ONLRU only while HASHED;
 *  - RECLAIM only when neither HASHED nor ONLRU;
 *  - no bit outside VN_ALLFLAGS. */
static inline uint32_t vnf_next(uint32_t old, uint32_t set, uint32_t clear)
{
	const uint32_t oneway_set = VN_UNLINKED | VN_RECLAIM | VN_DEAD;
	const uint32_t oneway_clear = VN_HASHED | VN_LOADED;
	uint32_t n = (old & ~clear) | set;

	if ((old | set | clear) & ~VN_ALLFLAGS)
		return VNF_BAD;
	if ((set & ~old) & oneway_clear)        /* HASHED, LOADED again */
		return VNF_BAD;
	if ((clear & old & ~set) & oneway_set)  /* UNLINKED, ... undone */
		return VNF_BAD;
	if ((n & VN_ONLRU) && !(n & VN_HASHED))
		return VNF_BAD;
	if ((n & VN_RECLAIM) && (n & (VN_HASHED | VN_ONLRU)))
		return VNF_BAD;
	return n;
}

/* ---- the name-cache word ----------------------------------------------- */

/* vp->nc_seq: bit 0 says the vnode was purged (no entry is added in it or
 * naming it any more); the rest counts the names that left it, in steps
 * of 2 so that a wrap never touches bit 0.  32 bits, wrapping: the count
 * only tells a lookup whether a name left the directory between its read
 * (before the driver's lookup) and its insertion; a wrong "nothing moved"
 * needs exactly 2^31 removals in that one directory during one driver
 * lookup, which no caller can do in the time a lookup takes. */
#define NCW_PURGED   0x1u
#define NCW_STEP     0x2u

static inline uint32_t ncw_bump(uint32_t w)
{
	return w + NCW_STEP;
}

static inline uint32_t ncw_purge(uint32_t w)
{
	return (w | NCW_PURGED) + NCW_STEP;
}

static inline bool ncw_purged(uint32_t w)
{
	return w & NCW_PURGED;
}

/* ---- the lock stripes -------------------------------------------------- */

/* A power of two: enough that two threads on one machine rarely meet on
 * one (the lock is held for a few loads and stores), few enough to cost
 * nothing (4 KiB, one cache line each). */
#define VN_NSTRIPES  64u

/* The stripe of the object at address a.  Vnodes are malloc'd: 16-byte
 * aligned, usually 144 bytes apart; a multiplicative hash of the address
 * without its low 4 bits spreads consecutive ones over every stripe. */
static inline unsigned vn_stripe_of(const void *a)
{
	uint64_t h = ((uint64_t)(uintptr_t)a >> 4) * 0x9e3779b97f4a7c15ULL;

	return (unsigned)(h >> 58);     /* top 6 bits: VN_NSTRIPES = 64 */
}

#endif /* UVFS_VNPACK_H */

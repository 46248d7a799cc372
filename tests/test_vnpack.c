/*
 * test_vnpack.c - unit tests of the vnode's packed words (lib/core/
 * vnpack.h): every transition of the flag word against the lifecycle's
 * rules, computed independently here; the name-cache word's wrap and
 * purged bit; the lock stripes' hashing (in range, stable, spread over
 * every stripe for addresses the allocator hands out); and the size of
 * struct vnode that bench_vnode_mem's figure rests on.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core.h"

/* The rules of vnpack.h, written out bit by bit. */
static bool legal(uint32_t old, uint32_t set, uint32_t clear)
{
	uint32_t n = (old & ~clear) | set;

	if ((old | set | clear) & ~VN_ALLFLAGS)
		return false;
	if ((set & VN_HASHED) && !(old & VN_HASHED))
		return false;
	if ((set & VN_LOADED) && !(old & VN_LOADED))
		return false;
	if ((old & VN_UNLINKED) && !(n & VN_UNLINKED))
		return false;
	if ((old & VN_RECLAIM) && !(n & VN_RECLAIM))
		return false;
	if ((old & VN_DEAD) && !(n & VN_DEAD))
		return false;
	if ((n & VN_ONLRU) && !(n & VN_HASHED))
		return false;
	if ((n & VN_RECLAIM) && (n & (VN_HASHED | VN_ONLRU)))
		return false;
	return true;
}

static void flags_exhaustive(void **state)
{
	unsigned nlegal = 0, nbad = 0;

	(void)state;
	/* every word, every set and clear mask, one bit beyond the flags */
	for (uint32_t old = 0; old < 2 * (VN_ALLFLAGS + 1); old++)
		for (uint32_t set = 0; set < 2 * (VN_ALLFLAGS + 1); set++)
			for (uint32_t clr = 0; clr < 2 * (VN_ALLFLAGS + 1);
			     clr++) {
				uint32_t n = vnf_next(old, set, clr);

				if (legal(old, set, clr)) {
					assert_int_equal(n,
						(old & ~clr) | set);
					nlegal++;
				} else {
					assert_int_equal(n, VNF_BAD);
					nbad++;
				}
			}
	/* both kinds occur: the rules are not vacuous either way */
	assert_true(nlegal > 1000);
	assert_true(nbad > 1000);
}

/* The paths a vnode takes (vnode.c), step by step. */
static void flags_lifecycle(void **state)
{
	uint32_t w = VN_NEWFLAGS;

	(void)state;
	/* cached: onto the LRU, off it (reused), on again, pruned */
	w = vnf_next(w, VN_ONLRU, 0);
	assert_int_equal(w, VN_HASHED | VN_LOADED | VN_ONLRU);
	w = vnf_next(w, 0, VN_ONLRU);
	w = vnf_next(w, VN_ONLRU, 0);
	w = vnf_next(w, 0, VN_HASHED | VN_ONLRU);       /* unhash */
	w = vnf_next(w, VN_RECLAIM, 0);
	w = vnf_next(w, 0, VN_LOADED);                   /* unload */
	assert_int_equal(w, VN_RECLAIM);

	/* revoked while in use: dead, unhashed, unloaded, then reclaimed
	 * at its last release */
	w = VN_NEWFLAGS;
	w = vnf_next(w, VN_DEAD, 0);
	w = vnf_next(w, 0, VN_HASHED | VN_ONLRU);
	w = vnf_next(w, 0, VN_LOADED);
	w = vnf_next(w, VN_DEAD, 0);            /* a kill after: no change */
	w = vnf_next(w, 0, VN_HASHED | VN_ONLRU);
	w = vnf_next(w, VN_RECLAIM, 0);
	assert_int_equal(w, VN_DEAD | VN_RECLAIM);

	/* unlinked: reclaimed at its last release */
	w = vnf_next(VN_NEWFLAGS, VN_UNLINKED, 0);
	assert_int_not_equal(w, VNF_BAD);
	assert_int_equal(vnf_next(w, VN_RECLAIM, 0), VNF_BAD);  /* hashed */
	w = vnf_next(w, 0, VN_HASHED);
	assert_int_equal(vnf_next(w, VN_RECLAIM, 0),
			 VN_UNLINKED | VN_LOADED | VN_RECLAIM);
}

static void flags_refused(void **state)
{
	(void)state;
	assert_int_equal(vnf_next(VN_DEAD | VN_LOADED, 0, VN_DEAD), VNF_BAD);
	assert_int_equal(vnf_next(VN_LOADED, VN_HASHED, 0), VNF_BAD);
	assert_int_equal(vnf_next(VN_HASHED, VN_LOADED, 0), VNF_BAD);
	assert_int_equal(vnf_next(VN_LOADED, VN_ONLRU, 0), VNF_BAD);
	assert_int_equal(vnf_next(VN_NEWFLAGS, VN_RECLAIM, 0), VNF_BAD);
	assert_int_equal(vnf_next(VN_RECLAIM, 0, VN_RECLAIM), VNF_BAD);
	assert_int_equal(vnf_next(VN_UNLINKED, 0, VN_UNLINKED), VNF_BAD);
	assert_int_equal(vnf_next(VN_NEWFLAGS, 0x40, 0), VNF_BAD);
	assert_int_equal(vnf_next(VN_NEWFLAGS, 0, 0x80000000u), VNF_BAD);
	/* set wins over clear for a bit in both */
	assert_int_equal(vnf_next(VN_NEWFLAGS, VN_DEAD, VN_DEAD),
			 VN_NEWFLAGS | VN_DEAD);
	/* the flags stay clear of the use count's VN_SLOW and of each
	 * other */
	assert_int_equal(VN_ALLFLAGS & VN_SLOW, 0);
	assert_int_equal(VN_HASHED | VN_ONLRU | VN_UNLINKED | VN_RECLAIM |
			 VN_LOADED | VN_DEAD, VN_ALLFLAGS);
}

static void ncword(void **state)
{
	uint32_t w = 0, seq;

	(void)state;
	assert_false(ncw_purged(w));
	seq = w;
	w = ncw_bump(w);
	assert_int_not_equal(w, seq);           /* a removal is seen */
	assert_false(ncw_purged(w));
	/* the wrap: the purged bit is never reached by counting */
	w = 0xfffffffeu;
	w = ncw_bump(w);
	assert_int_equal(w, 0);
	assert_false(ncw_purged(w));
	w = 0xffffffffu - 1;
	for (int i = 0; i < 10; i++) {
		w = ncw_bump(w);
		assert_false(ncw_purged(w));
	}
	/* a purge both marks and moves the count (a lookup that read the
	 * word before the purge cannot insert after it) */
	seq = w;
	w = ncw_purge(w);
	assert_true(ncw_purged(w));
	assert_int_not_equal(w, seq);
	assert_int_not_equal(w & ~NCW_PURGED, seq);
	w = ncw_bump(w);
	assert_true(ncw_purged(w));             /* stays purged */
	w = ncw_purge(0xffffffffu);
	assert_true(ncw_purged(w));
}

/* Counts per stripe of n addresses from base, stride apart: every
 * stripe within [mean/2, 2*mean]. */
static void check_spread(uintptr_t base, uintptr_t stride, unsigned n)
{
	unsigned count[VN_NSTRIPES] = { 0 };
	double mean = (double)n / VN_NSTRIPES;

	for (unsigned i = 0; i < n; i++) {
		const void *a = (const void *)(base + i * stride);
		unsigned s = vn_stripe_of(a);

		assert_true(s < VN_NSTRIPES);
		assert_int_equal(s, vn_stripe_of(a));   /* stable */
		count[s]++;
	}
	for (unsigned s = 0; s < VN_NSTRIPES; s++) {
		assert_true(count[s] >= mean / 2);
		assert_true(count[s] <= mean * 2);
	}
}

static void stripes(void **state)
{
	(void)state;
	/* a vnode's chunk is 144 bytes; 16 the allocator's alignment; a
	 * page; addresses high in the address space */
	check_spread(0x55555555a000u, 144, 64 * 200);
	check_spread(0x55555555a000u, 16, 64 * 200);
	check_spread(0x7f0000000000u, 4096, 64 * 200);
	check_spread(0x7fffe0001230u, 144, 64 * 50);

	/* blocks the allocator really hands out */
	enum { N = 64 * 100 };
	void **v = malloc(N * sizeof(*v));
	unsigned count[VN_NSTRIPES] = { 0 };

	assert_non_null(v);
	for (unsigned i = 0; i < N; i++) {
		v[i] = malloc(sizeof(struct vnode));
		assert_non_null(v[i]);
		count[vn_stripe_of(v[i])]++;
	}
	for (unsigned s = 0; s < VN_NSTRIPES; s++)
		assert_true(count[s] >= N / VN_NSTRIPES / 2);
	for (unsigned i = 0; i < N; i++)
		free(v[i]);
	free(v);
}

/* bench_vnode_mem's figure (a vnode and its name-cache entry in 256
 * bytes of heap) rests on these: a vnode in a 144-byte malloc chunk
 * (136 bytes and malloc's 8-byte header), and the members that share
 * memory (core.h) within the cached vnode's links. */
static void vnode_layout(void **state)
{
	(void)state;
	assert_true(sizeof(struct vnode) <= 136);
	size_t links_end = offsetof(struct vnode, lru_link) +
			   sizeof(struct cds_list_head);
	assert_true(offsetof(struct vnode, work) >=
		    offsetof(struct vnode, hash_next));
	assert_true(offsetof(struct vnode, work) + sizeof(struct work) <=
		    links_end);
	assert_true(offsetof(struct vnode, rcu) + sizeof(struct rcu_head) <=
		    links_end);
	assert_true(sizeof(struct work) <= 24);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flags_exhaustive),
		cmocka_unit_test(flags_lifecycle),
		cmocka_unit_test(flags_refused),
		cmocka_unit_test(ncword),
		cmocka_unit_test(stripes),
		cmocka_unit_test(vnode_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

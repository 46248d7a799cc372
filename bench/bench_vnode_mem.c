/*
 * bench_vnode_mem.c - heap bytes per cached vnode.
 *
 * Two runs, each in a fresh instance:
 *   cached: vcache_max = N + 1024; create N files in /d of the root memfs
 *           (uvfs_open O_CREAT, then close); every vnode stays cached;
 *   pruned: the same with vcache_max = 16: closed vnodes are pruned, only
 *           the memfs nodes remain.
 * After uvfs_settle and an RCU barrier (vnodes and name-cache entries are
 * freed after a grace period, by call_rcu), the heap in use (mallinfo2:
 * uordblks + hblkhd) is taken relative to the heap right after uvfs_new,
 * so the fixed-size parts
 * of the instance (the vnode hash table grows with vcache_max) are left
 * out; they are printed as a note.
 *   vnode_bytes = (cached growth - pruned growth) / (difference in vnodes)
 * counts the vnode and everything the core allocates with it.  All threads
 * share one malloc arena (M_ARENA_MAX = 1) so that memory allocated or
 * freed by the workers is counted too.  Repeated, alternating; medians.
 *
 * usage: bench_vnode_mem [-r reps] [-n files]
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <uvfs/uvfs.h>

#include "bench_common.h"
#include "core.h"       /* sizeof(struct vnode), for a note */

struct sample {
	double fixed;   /* heap taken by uvfs_new + ctx + /d */
	double growth;  /* heap added by the N files, after settling */
	double vnodes;  /* uvfs_stats().vnodes */
};

static double heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (double)(mi.uordblks + mi.hblkhd);
}

static struct sample run(int nfiles, unsigned vcache_max)
{
	struct uvfs_config cfg = { .vcache_max = vcache_max };
	struct uvfs *u;
	struct uvfs_ctx *ctx;
	struct uvfs_stats st;
	struct sample s;
	char path[64];

	double h0 = heap_used();
	BENCH_CHECK(uvfs_new(&cfg, &u));
	BENCH_CHECK(uvfs_ctx_new(u, NULL, &ctx));
	BENCH_CHECK(uvfs_mkdir(ctx, "/d", 0755));
	BENCH_CHECK(uvfs_settle(u, 10000));
	double h1 = heap_used();
	for (int i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "/d/f%07d", i);
		int fd = uvfs_open(ctx, path, O_CREAT | O_WRONLY, 0644);
		BENCH_CHECK(fd);
		BENCH_CHECK(uvfs_close(ctx, fd));
	}
	BENCH_CHECK(uvfs_settle(u, 10000));
	urcu_memb_barrier();    /* the frees deferred past a grace period */
	double h2 = heap_used();
	uvfs_stats(u, &st);
	s.fixed = h1 - h0;
	s.growth = h2 - h1;
	s.vnodes = (double)st.vnodes;
	uvfs_ctx_free(ctx);
	uvfs_free(u);
	return s;
}

int main(int argc, char **argv)
{
	int reps = 5, nfiles = 100000;
	int c;

	while ((c = getopt(argc, argv, "r:n:")) != -1) {
		switch (c) {
		case 'r':
			reps = bench_atoi(optarg, "repetitions");
			break;
		case 'n':
			nfiles = bench_atoi(optarg, "files");
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-n files]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	if (reps > 64)
		reps = 64;
	if (nfiles < 1000)
		nfiles = 1000;

	mallopt(M_ARENA_MAX, 1);

	double per_vnode[64], per_file[64], fixed_a[64], fixed_b[64];
	double va = 0, vb = 0;
	(void)run(nfiles / 10, 16);     /* warm up the allocator */
	for (int r = 0; r < reps; r++) {
		struct sample a = run(nfiles, (unsigned)nfiles + 1024);
		struct sample b = run(nfiles, 16);
		double dv = a.vnodes - b.vnodes;
		per_vnode[r] = dv > 0 ? (a.growth - b.growth) / dv : NAN;
		per_file[r] = b.growth / nfiles;
		fixed_a[r] = a.fixed;
		fixed_b[r] = b.fixed;
		va = a.vnodes;
		vb = b.vnodes;
	}
	if (bench_median(fixed_b, reps) <= 0)
		printf("# mallinfo2 counts nothing here (a sanitizer's "
		       "allocator?): the figures are meaningless\n");
	printf("# %d files; vnodes left: %.0f cached run, %.0f pruned run; "
	       "sizeof(struct vnode) = %zu\n", nfiles, va, vb,
	       sizeof(struct vnode));
	printf("# fixed instance heap: %.0f bytes (vcache_max %d), "
	       "%.0f bytes (vcache_max 16)\n", bench_median(fixed_a, reps),
	       nfiles + 1024, bench_median(fixed_b, reps));
	bench_figure("vnode_bytes", bench_median(per_vnode, reps), "B/vnode",
		     NAN, "value<=256");
	bench_figure("memfs_file_bytes", bench_median(per_file, reps),
		     "B/file", NAN, NULL);
	return 0;
}

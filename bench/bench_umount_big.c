/*
 * bench_umount_big.c - unmounting a file system with a million cached
 * vnodes.
 *
 * Each repetition, in a fresh instance with vcache_max = N + 1024 (so that
 * nothing is pruned):
 *   - mount memfs at /m, create N files (uvfs_open O_CREAT + close) in
 *     N / 1000 directories of 1000 (untimed); every vnode stays cached,
 *     unreferenced;
 *   - forced: time uvfs_umount(ctx, "/m", UVFS_UMOUNT_FORCE) (the caller's
 *     wait), then uvfs_settle() until every vnode of the file system has
 *     been reclaimed and freed (the whole teardown, from the call);
 *   - baseline: the same tree unmounted normally (no flag: nothing holds
 *     it, so it is allowed), timed the same two ways.
 * The two unmounts alternate which comes first from one repetition to the
 * next.  Figures are medians; the caller's wait of a forced unmount must
 * not grow with the number of vnodes (DESIGN: O(1), the reclaim runs on a
 * worker), and the teardown should stay within a second for a million.
 *
 * usage: bench_umount_big [-r reps] [-n files]
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <uvfs/uvfs.h>

#include "bench_common.h"

#define PER_DIR 1000
#define MAX_REPS 32

struct times {
	double call_ms;         /* uvfs_umount returned */
	double done_ms;         /* settled: every vnode reclaimed */
	double created_s;       /* the set-up, for a note */
	double slowest_ms;      /* its slowest create (the tables' growth) */
	uint64_t vnodes;        /* cached before the unmount */
};

static struct times one(int nfiles, unsigned flags)
{
	struct uvfs_config cfg = { .vcache_max = (unsigned)nfiles + 1024 };
	struct uvfs *u;
	struct uvfs_ctx *ctx;
	struct uvfs_stats st, st0;
	struct times t;
	char path[64];

	BENCH_CHECK(uvfs_new(&cfg, &u));
	BENCH_CHECK(uvfs_ctx_new(u, NULL, &ctx));
	BENCH_CHECK(uvfs_mkdir(ctx, "/m", 0755));
	BENCH_CHECK(uvfs_settle(u, 10000));
	uvfs_stats(u, &st0);
	BENCH_CHECK(uvfs_mount(ctx, "memfs", "none", "/m", ""));
	double t0 = bench_now();
	t.slowest_ms = 0;
	for (int i = 0; i < nfiles; i++) {
		double c0 = bench_now();
		if (i % PER_DIR == 0) {
			snprintf(path, sizeof(path), "/m/d%04d", i / PER_DIR);
			BENCH_CHECK(uvfs_mkdir(ctx, path, 0755));
		}
		snprintf(path, sizeof(path), "/m/d%04d/f%04d", i / PER_DIR,
			 i % PER_DIR);
		int fd = uvfs_open(ctx, path, O_CREAT | O_WRONLY, 0644);
		BENCH_CHECK(fd);
		BENCH_CHECK(uvfs_close(ctx, fd));
		c0 = (bench_now() - c0) * 1000.0;
		if (c0 > t.slowest_ms)
			t.slowest_ms = c0;
	}
	BENCH_CHECK(uvfs_settle(u, 60000));
	t.created_s = bench_now() - t0;
	uvfs_stats(u, &st);
	t.vnodes = st.vnodes - st0.vnodes;

	t0 = bench_now();
	BENCH_CHECK(uvfs_umount(ctx, "/m", flags));
	double t1 = bench_now();
	BENCH_CHECK(uvfs_settle(u, 60000));
	double t2 = bench_now();
	uvfs_stats(u, &st);
	/* the superblock goes with its last vnode */
	if (st.superblocks != st0.superblocks || st.vnodes > st0.vnodes + 1) {
		fprintf(stderr, "bench_umount_big: after settling, %llu "
			"superblocks and %llu vnodes (%llu and %llu before "
			"the mount)\n", (unsigned long long)st.superblocks,
			(unsigned long long)st.vnodes,
			(unsigned long long)st0.superblocks,
			(unsigned long long)st0.vnodes);
		exit(1);
	}
	t.call_ms = (t1 - t0) * 1000.0;
	t.done_ms = (t2 - t0) * 1000.0;
	uvfs_ctx_free(ctx);
	uvfs_free(u);
	return t;
}

int main(int argc, char **argv)
{
	int reps = 3, nfiles = 1000000;
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
	if (reps > MAX_REPS)
		reps = MAX_REPS;
	if (nfiles < PER_DIR)
		nfiles = PER_DIR;

	double fcall[MAX_REPS], fdone[MAX_REPS], ncall[MAX_REPS],
	       ndone[MAX_REPS], setup = 0, slowest = 0;
	uint64_t vnodes = 0;
	for (int r = 0; r < reps; r++) {
		struct times f, n;
		if (r % 2) {
			n = one(nfiles, 0);
			f = one(nfiles, UVFS_UMOUNT_FORCE);
		} else {
			f = one(nfiles, UVFS_UMOUNT_FORCE);
			n = one(nfiles, 0);
		}
		fcall[r] = f.call_ms;
		fdone[r] = f.done_ms;
		ncall[r] = n.call_ms;
		ndone[r] = n.done_ms;
		setup += f.created_s + n.created_s;
		slowest = fmax(slowest, fmax(f.slowest_ms, n.slowest_ms));
		vnodes = f.vnodes;
	}
	printf("# %d repetitions; %d files in %d directories, %llu vnodes "
	       "cached at the unmount; set-up %.1f s per tree\n", reps,
	       nfiles, nfiles / PER_DIR, (unsigned long long)vnodes,
	       setup / (2 * reps));
	printf("# slowest create of the set-ups: %.2f ms\n", slowest);
	printf("# samples: forced call");
	for (int r = 0; r < reps; r++)
		printf(" %.3f", fcall[r]);
	printf(", forced done");
	for (int r = 0; r < reps; r++)
		printf(" %.1f", fdone[r]);
	printf(", normal call");
	for (int r = 0; r < reps; r++)
		printf(" %.1f", ncall[r]);
	printf("\n");
	double nc = bench_median(ncall, reps), nd = bench_median(ndone, reps);
	bench_figure("umount_big_force_call", bench_median(fcall, reps), "ms",
		     nc, "value<=10");
	bench_figure("umount_big_force_done", bench_median(fdone, reps), "ms",
		     nd, "value<=1000");
	bench_figure("umount_big_normal_call", nc, "ms", NAN, NULL);
	bench_figure("umount_big_normal_done", nd, "ms", NAN, NULL);
	return 0;
}

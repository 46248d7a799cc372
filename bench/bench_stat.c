/*
 * bench_stat.c - uvfs_stat of a 4-component path against the kernel's
 * stat(2) of the same tree on tmpfs.
 *
 * uvfs:   a root context stats "/a/b/c/d" on the root memfs (a, b, c
 *         directories, d a regular file).
 * kernel: the same tree is made in a fresh directory under /dev/shm (tmpfs;
 *         else /run/shm, /run, /tmp: the one used is printed), and
 *         fstatat(dirfd, "a/b/c/d") resolves the same 4 components.
 * One thread.  Each repetition times one trial of each, interleaved; the
 * figures are the medians.
 *
 * usage: bench_stat [-r reps] [-t trial_ms]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <uvfs/uvfs.h>

#include "bench_common.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

#define CHUNK 1000

static struct uvfs_ctx *ctx;
static int kdir = -1;

static int stat_uvfs(void)
{
	struct stat st;

	return uvfs_stat(ctx, "/a/b/c/d", &st);
}

static int stat_kernel(void)
{
	struct stat st;

	return fstatat(kdir, "a/b/c/d", &st, 0) == 0 ? 0 : -errno;
}

/* ops/s of fn over about ms milliseconds. */
static double trial(int (*fn)(void), double ms)
{
	uint64_t n = 0;
	double t0 = bench_now(), t;

	do {
		for (int i = 0; i < CHUNK; i++) {
			int err = fn();
			if (err < 0) {
				fprintf(stderr, "bench_stat: stat: %s\n",
					strerror(-err));
				exit(1);
			}
		}
		n += CHUNK;
		t = bench_now() - t0;
	} while (t * 1000.0 < ms);
	return (double)n / t;
}

static char kroot[256];

/* Makes the kernel tree; returns the file-system type's name. */
static const char *make_kernel_tree(void)
{
	static const char *const bases[] = { "/dev/shm", "/run/shm", "/run",
					     "/tmp" };
	const char *kind = NULL;

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		struct statfs sf;

		if (statfs(bases[i], &sf) != 0 ||
		    (unsigned long)sf.f_type != TMPFS_MAGIC)
			continue;
		snprintf(kroot, sizeof(kroot), "%s/uvfs-bench-XXXXXX",
			 bases[i]);
		if (mkdtemp(kroot)) {
			kind = "tmpfs";
			break;
		}
	}
	if (!kind) {
		snprintf(kroot, sizeof(kroot), "/tmp/uvfs-bench-XXXXXX");
		if (!mkdtemp(kroot)) {
			perror("bench_stat: mkdtemp");
			exit(1);
		}
		kind = "not tmpfs";
	}
	kdir = open(kroot, O_RDONLY | O_DIRECTORY);
	if (kdir < 0 || mkdirat(kdir, "a", 0755) != 0 ||
	    mkdirat(kdir, "a/b", 0755) != 0 ||
	    mkdirat(kdir, "a/b/c", 0755) != 0) {
		perror("bench_stat: kernel tree");
		exit(1);
	}
	int fd = openat(kdir, "a/b/c/d", O_CREAT | O_WRONLY, 0644);
	if (fd < 0) {
		perror("bench_stat: kernel tree");
		exit(1);
	}
	close(fd);
	return kind;
}

static void remove_kernel_tree(void)
{
	unlinkat(kdir, "a/b/c/d", 0);
	unlinkat(kdir, "a/b/c", AT_REMOVEDIR);
	unlinkat(kdir, "a/b", AT_REMOVEDIR);
	unlinkat(kdir, "a", AT_REMOVEDIR);
	close(kdir);
	rmdir(kroot);
}

int main(int argc, char **argv)
{
	int reps = 7;
	double ms = 200;
	int c;

	while ((c = getopt(argc, argv, "r:t:")) != -1) {
		switch (c) {
		case 'r':
			reps = bench_atoi(optarg, "repetitions");
			break;
		case 't':
			ms = bench_atoi(optarg, "trial time");
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-t trial_ms]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	if (reps > 64)
		reps = 64;

	struct uvfs *u;
	BENCH_CHECK(uvfs_new(NULL, &u));
	BENCH_CHECK(uvfs_ctx_new(u, NULL, &ctx));
	BENCH_CHECK(uvfs_mkdir(ctx, "/a", 0755));
	BENCH_CHECK(uvfs_mkdir(ctx, "/a/b", 0755));
	BENCH_CHECK(uvfs_mkdir(ctx, "/a/b/c", 0755));
	int fd = uvfs_open(ctx, "/a/b/c/d", O_CREAT | O_WRONLY, 0644);
	BENCH_CHECK(fd);
	BENCH_CHECK(uvfs_close(ctx, fd));

	const char *kind = make_kernel_tree();
	printf("# kernel tree in %s (%s); uvfs: /a/b/c/d on the root memfs\n",
	       kroot, kind);

	double uv[64], kv[64];
	(void)trial(stat_uvfs, ms / 4);         /* warm up */
	(void)trial(stat_kernel, ms / 4);
	for (int r = 0; r < reps; r++) {
		uv[r] = trial(stat_uvfs, ms);
		kv[r] = trial(stat_kernel, ms);
	}
	double mu = bench_median(uv, reps), mk = bench_median(kv, reps);
	printf("# uvfs_stat %.0f ns, kernel stat %.0f ns\n", 1e9 / mu,
	       1e9 / mk);
	bench_figure("stat_4c", mu, "ops/s", mk, "ratio>=10");
	bench_figure("kernel_stat_4c", mk, "ops/s", NAN, NULL);

	remove_kernel_tree();
	uvfs_ctx_free(ctx);
	uvfs_free(u);
	return 0;
}

/*
 * bench_umount.c - forced-unmount latency under load.
 *
 * Each iteration:
 *   - baseline: mount memfs at /m, create the files, close them, time a
 *     normal uvfs_umount(ctx, "/m", 0) of the idle mount, settle;
 *   - forced: mount memfs at /m again, create the files, let 8 threads (each
 *     with its own context) run for ~20 ms, each keeping one file open
 *     (pwrite/pread/fstat on it) and cycling open/write/read/stat/close on
 *     the others; then time uvfs_umount(ctx, "/m", UVFS_UMOUNT_FORCE).
 *     The threads are stopped afterwards (they see EIO and ENOENT on the
 *     way: expected), close their descriptors, and the instance settles.
 * Figures: p50, p99 and max of the forced latency, each against the median
 * latency of the idle normal unmount.
 *
 * usage: bench_umount [-n iterations] [-T threads] [-t run_ms]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include <uvfs/uvfs.h>

#include "bench_common.h"

#define NFILES 8
#define IOSIZE 4096
#define MAX_THREADS 64
#define MAX_ITERS 1000

static struct uvfs *u;
static struct uvfs_ctx *mctx;           /* the main thread's */
static int nthreads = 8;
static pthread_barrier_t go, done;
static atomic_bool stop, quit;

struct worker {
	pthread_t tid;
	int id;
	struct uvfs_ctx *ctx;
	uint64_t ops, errors;
};

static void file_path(char *buf, size_t size, int i)
{
	snprintf(buf, size, "/m/f%d", i % NFILES);
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	char buf[IOSIZE], path[64];
	struct stat st;

	memset(buf, 'a' + w->id % 26, sizeof(buf));
	for (;;) {
		pthread_barrier_wait(&go);
		if (atomic_load(&quit))
			break;
		file_path(path, sizeof(path), w->id);
		int keep = uvfs_open(w->ctx, path, O_RDWR, 0);
		unsigned i = 0;
		while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
			i++;
			if (keep >= 0) {
				if (uvfs_pwrite(w->ctx, keep, buf, IOSIZE,
						(off_t)(i % 16) * IOSIZE) < 0)
					w->errors++;
				if (uvfs_pread(w->ctx, keep, buf, IOSIZE, 0) < 0)
					w->errors++;
				if (uvfs_fstat(w->ctx, keep, &st) < 0)
					w->errors++;
			}
			file_path(path, sizeof(path), w->id + (int)i);
			int fd = uvfs_open(w->ctx, path, O_RDWR, 0);
			if (fd >= 0) {
				if (uvfs_write(w->ctx, fd, buf, 512) < 0)
					w->errors++;
				if (uvfs_pread(w->ctx, fd, buf, 512, 0) < 0)
					w->errors++;
				uvfs_close(w->ctx, fd);
			} else {
				w->errors++;
			}
			if (uvfs_stat(w->ctx, path, &st) < 0)
				w->errors++;
			w->ops++;
			if (fd < 0 && (i & 63) == 0)
				sched_yield();  /* the mount is gone: idle */
		}
		if (keep >= 0)
			uvfs_close(w->ctx, keep);
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static void mount_and_fill(void)
{
	char path[64], buf[IOSIZE];

	memset(buf, 'x', sizeof(buf));
	BENCH_CHECK(uvfs_mount(mctx, "memfs", "none", "/m", ""));
	for (int i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), i);
		int fd = uvfs_open(mctx, path, O_CREAT | O_RDWR, 0644);
		BENCH_CHECK(fd);
		BENCH_CHECK(uvfs_write(mctx, fd, buf, sizeof(buf)));
		BENCH_CHECK(uvfs_close(mctx, fd));
	}
}

static void settle(void)
{
	int err = uvfs_settle(u, 10000);

	if (err < 0) {
		fprintf(stderr, "bench_umount: uvfs_settle: %s\n",
			strerror(-err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	int iters = 100;
	double run_ms = 20;
	int c;

	while ((c = getopt(argc, argv, "n:T:t:")) != -1) {
		switch (c) {
		case 'n':
			iters = bench_atoi(optarg, "iterations");
			break;
		case 'T':
			nthreads = bench_atoi(optarg, "threads");
			break;
		case 't':
			run_ms = bench_atoi(optarg, "run time");
			break;
		default:
			fprintf(stderr, "usage: %s [-n iterations] "
				"[-T threads] [-t run_ms]\n", argv[0]);
			return 2;
		}
	}
	if (iters < 1)
		iters = 1;
	if (iters > MAX_ITERS)
		iters = MAX_ITERS;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;

	BENCH_CHECK(uvfs_new(NULL, &u));
	BENCH_CHECK(uvfs_ctx_new(u, NULL, &mctx));
	BENCH_CHECK(uvfs_mkdir(mctx, "/m", 0755));

	static struct worker w[MAX_THREADS];
	pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&done, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		BENCH_CHECK(uvfs_ctx_new(u, NULL, &w[i].ctx));
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench_umount: pthread_create\n");
			return 1;
		}
	}

	static double forced[MAX_ITERS], idle[MAX_ITERS];
	uint64_t ops = 0, errors = 0;
	int failed = 0;

	for (int it = 0; it < iters; it++) {
		/* baseline: normal unmount of an idle mount */
		mount_and_fill();
		double t0 = bench_now();
		int err = uvfs_umount(mctx, "/m", 0);
		idle[it] = (bench_now() - t0) * 1000.0;
		if (err < 0) {
			fprintf(stderr, "bench_umount: idle umount: %s\n",
				strerror(-err));
			return 1;
		}
		settle();

		/* forced unmount under load */
		mount_and_fill();
		atomic_store(&stop, false);
		pthread_barrier_wait(&go);
		bench_sleep_ms(run_ms);
		t0 = bench_now();
		err = uvfs_umount(mctx, "/m", UVFS_UMOUNT_FORCE);
		forced[it] = (bench_now() - t0) * 1000.0;
		atomic_store(&stop, true);
		pthread_barrier_wait(&done);
		if (err < 0) {
			fprintf(stderr, "bench_umount: forced umount: %s\n",
				strerror(-err));
			failed++;
			/* leave nothing mounted for the next iteration */
			BENCH_CHECK(uvfs_umount(mctx, "/m", 0));
		}
		settle();
	}

	atomic_store(&quit, true);
	pthread_barrier_wait(&go);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		ops += w[i].ops;
		errors += w[i].errors;
		uvfs_ctx_free(w[i].ctx);
	}
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);

	double base = bench_median(idle, iters);
	double p50 = bench_quantile(forced, iters, 0.50);
	double p99 = bench_quantile(forced, iters, 0.99);
	double max = forced[iters - 1];
	printf("# %d iterations, %d threads, %.0f ms of load each; "
	       "%.0f loops/iteration, %llu failed calls (expected after the "
	       "unmount)%s\n", iters, nthreads, run_ms,
	       (double)ops / iters, (unsigned long long)errors,
	       failed ? "; SOME FORCED UNMOUNTS FAILED" : "");
	bench_figure("umount_force_p50", p50, "ms", base, NULL);
	bench_figure("umount_force_p99", p99, "ms", base, "value<10");
	bench_figure("umount_force_max", max, "ms", base, NULL);
	bench_figure("umount_idle_p50", base, "ms", NAN, NULL);

	uvfs_ctx_free(mctx);
	uvfs_free(u);
	return failed ? 1 : 0;
}

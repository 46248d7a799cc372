/*
 * torture.c - random operations on a tree under four mounts while another
 * thread mounts, unmounts (normal, forced, lazy), revokes and suspends
 * under them.
 *
 * The mounts are of one type (UVFS_TORTURE_FS):
 *   memfs    the built-in type (default);
 *   testfs   memfs behind the test shim (testfs.h) whose node objects are
 *            freed and poisoned at reclaim and whose handles at release,
 *            each call slowed by a random sleep: a use after reclaim or a
 *            handle released twice or too late is caught;
 *   hostfs   a temporary host directory through a uvfs-hostfs process
 *            (UVFS_HOSTFS: the binary; skipped, 77, without it);
 *   nfs      a real NFSv3 server (tests/nfs/ganesha.sh run: UVFS_NFS_SOURCE
 *            and UVFS_NFS_DIR, the export as this host sees it; skipped,
 *            77, without them): each mount a fresh directory of the export,
 *            the driver's nodes and handles freed as the core lets go.
 *
 * Every call must succeed or fail with an error the contract allows for it;
 * anything else (EBADF above all: each thread owns its descriptors) is
 * recorded with the call and fails the run.  At the end everything is
 * released and the live-object counters must be back to the root alone.
 *
 *   UVFS_TORTURE_SECONDS   duration (default 5)
 *   UVFS_TORTURE_SHARE     fraction of that duration this run takes
 *                          (default 1; the CI's variants share it)
 *   UVFS_TORTURE_SEED      random seed (default: time)
 *
 * This file is the operation table, the counters, the randomness and the
 * test itself; the threads are in torture_workers.c and torture_admin.c,
 * included below into this one translation unit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "testfs.h"
#include "test_clock.h"
#include "torture_common.h"
#ifdef UVFS_TORTURE_HAVE_NFS
#include <uvfs/nfs.h>
#endif

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define NWORKERS 8
#define NMOUNTS 4
#define NFDS 12

static struct uvfs *U;
static const char *fs_type = "memfs";   /* UVFS_TORTURE_FS */
static char host_dir[PATH_MAX];         /* hostfs, nfs: the exported tree */
static unsigned host_seq;               /* admin thread: mounts made */
static atomic_bool stop;
static atomic_ulong timed_out;          /* nfs: answers -ETIMEDOUT */
static atomic_int running;
static unsigned long long seed0;

/* ---- operation table and counters ------------------------------------- */

enum op {
	OP_CREATE, OP_OPEN, OP_READ, OP_WRITE, OP_PREAD, OP_PWRITE, OP_LSEEK,
	OP_FSTAT, OP_FTRUNCATE, OP_CLOSE, OP_MKDIR, OP_RMDIR, OP_UNLINK,
	OP_RENAME, OP_LINK, OP_STAT, OP_LSTAT, OP_READDIR, OP_CHDIR,
	OP_GETCWD, OP_RELSTAT, OP_VERIFY,
	OP_FALLOCATE, OP_SEEK_DATA, OP_COPY,
	/* the admin thread */
	OP_MOUNT, OP_UMOUNT, OP_UMOUNT_FORCE, OP_UMOUNT_DETACH, OP_REVOKE,
	OP_SUSPEND, OP_RESUME,
	OP_COUNT
};

static const char *const op_name[OP_COUNT] = {
	"create", "open", "read", "write", "pread", "pwrite", "lseek",
	"fstat", "ftruncate", "close", "mkdir", "rmdir", "unlink", "rename",
	"link", "stat", "lstat", "readdir", "chdir", "getcwd", "relstat",
	"verify",
	"fallocate", "seek_data", "copy_file_range",
	"mount", "umount", "umount-force", "umount-detach", "revoke",
	"suspend", "resume",
};

/* Errors each call may give besides success.  EIO and ENOENT come with a
 * forced unmount or revoke underneath; the rest are the call's own. */
#define PATH_ERRS ENOENT, ENOTDIR, EIO
static const int ok_create[] = { PATH_ERRS, EEXIST, EISDIR, 0 };
static const int ok_open[] = { PATH_ERRS, 0 };
static const int ok_fdio[] = { EIO, 0 };
static const int ok_read[] = { EIO, EISDIR, 0 };
/* EIO: a file written since its last flush, on an instance that flushes
 * at close (testfs; 9p with wbwindow=), whose vnode was killed meanwhile
 * (docs/design.md, "Flush at close"); the descriptor is gone all the
 * same, which the teardown's counters check */
static const int ok_close[] = { EIO, 0 };
static const int ok_mkdir[] = { PATH_ERRS, EEXIST, 0 };
static const int ok_rmdir[] = { PATH_ERRS, ENOTEMPTY, EEXIST, EBUSY, 0 };
static const int ok_unlink[] = { PATH_ERRS, EISDIR, EBUSY, 0 };
static const int ok_rename[] = { PATH_ERRS, EEXIST, ENOTEMPTY, EISDIR,
				 EXDEV, EINVAL, EBUSY, 0 };
static const int ok_link[] = { PATH_ERRS, EEXIST, EXDEV, EPERM, 0 };
static const int ok_stat[] = { PATH_ERRS, 0 };
static const int ok_readdir[] = { PATH_ERRS, 0 };
static const int ok_getcwd[] = { ENOENT, EIO, 0 };
static const int ok_umount[] = { EBUSY, 0 };
static const int ok_none[] = { 0 };
/* revoke's EIO: an earlier revoke whose drain outlasted the mount's
 * deadline (a file server's call in flight) killed the superblock, as a
 * forced unmount does (vn_revoke); its names are dead until unmounted */
static const int ok_revoke[] = { ENOENT, ENOTDIR, EIO, 0 };
/* fallocate: EOPNOTSUPP on hostfs (9P has none), ENOSPC on a full memfs;
 * copy_file_range: EXDEV across mounts, EINVAL for overlapping ranges of
 * one file (never EBADF: O_APPEND descriptors are not copied into); both
 * SEEK_DATA's EINVAL
 * and copy_file_range's EISDIR: a directory whose fstat failed at open
 * (EIO) is kept as a file */
static const int ok_fallocate[] = { EIO, EOPNOTSUPP, ENOSPC, 0 };
static const int ok_seek_data[] = { EIO, ENXIO, EINVAL, 0 };
static const int ok_copy[] = { EIO, EXDEV, EINVAL, EISDIR, ENOSPC, 0 };

struct counts {
	unsigned long long calls[OP_COUNT], ok[OP_COUNT];
};

/* Counts the call and checks its result; returns r. */
static long check(struct counts *c, int who, enum op op, long r,
		  const int *allowed, const char *path)
{
	const int *e;

	c->calls[op]++;
	if (r >= 0) {
		c->ok[op]++;
		return r;
	}
	for (e = allowed; *e; e++)
		if (r == -*e)
			return r;
	if (r == -ETIMEDOUT && strcmp(fs_type, "nfs") == 0) {
		/* a real server may stall past a call's deadline (ganesha
		 * did for over 10 s under this load), or keep a suspend's
		 * drain waiting: what the contract answers then; counted and
		 * printed, not a failure */
		atomic_fetch_add(&timed_out, 1);
		return r;
	}
	report("thread %d: %s(%s) = %s", who, op_name[op], path ? path : "",
	       errname(r));
	return r;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* A random path /mN[/dA[/dB]]/NAME; last is 'f' (file names), 'd'
 * (directory names) or 0 (either). */
static void rnd_path(uint64_t *s, char *buf, size_t size, char last)
{
	static const char *const names[] = { "d0", "d1", "d2", "f0", "f1",
					     "f2", "f3" };
	int len, depth = (int)rnd(s, 3), i;
	unsigned k;

	len = snprintf(buf, size, "/m%u", rnd(s, NMOUNTS));
	for (i = 0; i < depth; i++)
		len += snprintf(buf + len, size - (size_t)len, "/d%u",
				rnd(s, 3));
	if (last == 'f')
		k = 3 + rnd(s, 4);
	else if (last == 'd')
		k = rnd(s, 3);
	else
		k = rnd(s, 7);
	snprintf(buf + len, size - (size_t)len, "/%s", names[k]);
}

/* ---- the two kinds of thread: each file is included here, in this one
 * translation unit, so it uses the table, counters and randomness above */

#include "torture_workers.c" /* random calls, checked */
#include "torture_admin.c"   /* mounts, unmounts, revokes */

/* ---- the test ---------------------------------------------------------- */

static void print_counts(void)
{
	struct counts total;
	int i, k;

	memset(&total, 0, sizeof(total));
	for (i = 0; i < NWORKERS; i++)
		for (k = 0; k < OP_COUNT; k++) {
			total.calls[k] += workers[i].c.calls[k];
			total.ok[k] += workers[i].c.ok[k];
		}
	for (k = 0; k < OP_COUNT; k++) {
		total.calls[k] += admin.c.calls[k];
		total.ok[k] += admin.c.ok[k];
	}
	printf("    %-14s %10s %10s\n", "operation", "calls", "succeeded");
	for (k = 0; k < OP_COUNT; k++)
		printf("    %-14s %10llu %10llu\n", op_name[k], total.calls[k],
		       total.ok[k]);
}

static void test_torture(void **state)
{
	const char *env = getenv("UVFS_TORTURE_SECONDS");
	const char *share = getenv("UVFS_TORTURE_SHARE");
	double seconds = env ? atof(env) : 5, end;
	struct uvfs_ctx *root;
	struct uvfs_stats st;
	char t[16];
	int i, r;

	(void)state;
	if (seconds <= 0)
		seconds = 5;
	if (share && atof(share) > 0)
		seconds *= atof(share);
	/* UVFS_TORTURE_VCACHE=N keeps at most N unreferenced vnodes, so the
	 * pruner runs all the time, against the unmounts */
	struct uvfs_config cfg = { 0 };
	const char *vc = getenv("UVFS_TORTURE_VCACHE");
	if (vc)
		cfg.vcache_max = (unsigned)strtoul(vc, NULL, 10);
	assert_int_equal(uvfs_new(&cfg, &U), 0);
	if (strcmp(fs_type, "testfs") == 0) {
		assert_int_equal(uvfs_fstype_register(U, &testfs_ops), 0);
		testfs_set_delay(50);   /* widens every race window */
	} else if (strcmp(fs_type, "hostfs") == 0) {
		assert_int_equal(uvfs_9p_register(U), 0);
		snprintf(host_dir, sizeof(host_dir), "/tmp/uvfs-torture.XXXXXX");
		assert_non_null(mkdtemp(host_dir));
#ifdef UVFS_TORTURE_HAVE_NFS
	} else if (strcmp(fs_type, "nfs") == 0) {
		assert_int_equal(uvfs_nfs_register(U), 0);
		/* the export is ganesha.sh's, which removes it; the mounts'
		 * directories in it go at the end, as hostfs's tree */
		snprintf(host_dir, sizeof(host_dir), "%s/torture",
			 getenv("UVFS_NFS_DIR"));
		assert_int_equal(mkdir(host_dir, 0755), 0);
#endif
	}
	assert_int_equal(uvfs_ctx_new(U, NULL, &root), 0);
	admin.ctx = root;
	admin.rng = seed0 * 31 + 7;
	for (i = 0; i < NMOUNTS; i++) {
		snprintf(t, sizeof(t), "/m%d", i);
		assert_int_equal(uvfs_mkdir(root, t, 0755), 0);
		assert_int_equal(mount_one(root, t, false), 0);
		admin.mounted[i] = true;
	}
	printf("    %s, %d workers, %g s, seed %llu\n", fs_type, NWORKERS,
	       seconds, seed0);

	atomic_store(&running, NWORKERS + 1);
	for (i = 0; i < NWORKERS; i++) {
		struct worker *w = &workers[i];
		char label[32];
		int k;

		w->id = i;
		w->nfd_max = i < NWORKERS / 2 ? 4 : 0;
		w->rng = seed0 + (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
		for (k = 0; k < NFDS; k++)
			w->fds[k].fd = -1;
		atomic_store(&w->doing, "starting");
		assert_int_equal(uvfs_ctx_new(U, NULL, &w->ctx), 0);
		snprintf(label, sizeof(label), "torture %d", i);
		uvfs_ctx_set_label(w->ctx, label);
		assert_int_equal(pthread_create(&w->thread, NULL, worker_main,
						w), 0);
	}
	assert_int_equal(pthread_create(&admin.thread, NULL, admin_main,
					&admin), 0);

	end = now_ms() + seconds * 1000;
	while (now_ms() < end)
		sleep_us(50000);
	atomic_store(&stop, true);

	/* a watchdog: nothing may hang */
	end = now_ms() + 30000;
	while (atomic_load(&running) > 0 && now_ms() < end)
		sleep_us(10000);
	if (atomic_load(&running) > 0) {
		fprintf(stderr, "torture: threads hang after the stop:\n");
		for (i = 0; i < NWORKERS; i++)
			fprintf(stderr, "  worker %d: %s\n", i,
				atomic_load(&workers[i].doing));
		fprintf(stderr, "  admin: %s\n", atomic_load(&admin.doing));
		print_counts();
		fflush(stdout);
		_exit(1);
	}
	for (i = 0; i < NWORKERS; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_join(admin.thread, NULL);
	print_counts();

	/* unmount what is still there */
	for (i = 0; i < NMOUNTS; i++) {
		if (!admin.mounted[i])
			continue;
		snprintf(t, sizeof(t), "/m%d", i);
		r = uvfs_umount(root, t, UVFS_UMOUNT_FORCE);
		if (r != 0)
			report("final umount -f %s = %s", t, errname(r));
	}
	for (i = 0; i < NWORKERS; i++)
		uvfs_ctx_free(workers[i].ctx);
	uvfs_ctx_free(root);
	r = uvfs_settle(U, 10000);
	if (r != 0)
		report("uvfs_settle = %s", errname(r));
	uvfs_stats(U, &st);
	if (strcmp(fs_type, "nfs") == 0)
		printf("    calls past their deadline (the server's stalls): "
		       "%lu\n", atomic_load(&timed_out));
	printf("    at the end: sb %llu mounts %llu vnodes %llu (cached %llu)"
	       " files %llu nodes %llu ctx %llu deferred %llu\n",
	       (unsigned long long)st.superblocks,
	       (unsigned long long)st.mounts,
	       (unsigned long long)st.vnodes,
	       (unsigned long long)st.vnodes_cached,
	       (unsigned long long)st.files, (unsigned long long)st.nodes,
	       (unsigned long long)st.contexts,
	       (unsigned long long)st.deferred_pending);
	if (st.files || st.nodes || st.contexts || st.mounts != 1 ||
	    st.superblocks != 1)
		report("objects left: files %llu nodes %llu contexts %llu "
		       "mounts %llu superblocks %llu",
		       (unsigned long long)st.files,
		       (unsigned long long)st.nodes,
		       (unsigned long long)st.contexts,
		       (unsigned long long)st.mounts,
		       (unsigned long long)st.superblocks);
	uvfs_free(U);
	U = NULL;
	if (strcmp(fs_type, "testfs") == 0) {
		printf("    testfs: %lu handles released, %lu nodes reclaimed,"
		       " %ld and %ld live\n", testfs_releases(),
		       testfs_reclaims(), testfs_live_handles(),
		       testfs_live_nodes());
		if (testfs_live_handles() || testfs_live_nodes())
			report("testfs objects left: %ld handles, %ld nodes",
			       testfs_live_handles(), testfs_live_nodes());
	}
	if (host_dir[0])
		nftw(host_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	report_end(seed0);
}

int main(void)
{
	const char *env = getenv("UVFS_TORTURE_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torture),
	};

	seed0 = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
	if (getenv("UVFS_TORTURE_FS") && *getenv("UVFS_TORTURE_FS"))
		fs_type = getenv("UVFS_TORTURE_FS");
	if (strcmp(fs_type, "memfs") && strcmp(fs_type, "testfs") &&
	    strcmp(fs_type, "hostfs") && strcmp(fs_type, "nfs")) {
		fprintf(stderr, "torture: UVFS_TORTURE_FS=%s: not memfs, testfs,"
			" hostfs or nfs\n", fs_type);
		return 2;
	}
	if (strcmp(fs_type, "nfs") == 0) {
#ifndef UVFS_TORTURE_HAVE_NFS
		printf("SKIP: built without libnfs: no \"nfs\" type\n");
		return 77;
#endif
		if (!getenv("UVFS_NFS_SOURCE") || !getenv("UVFS_NFS_DIR")) {
			printf("SKIP: no NFS server (UVFS_NFS_SOURCE, "
			       "UVFS_NFS_DIR: tests/nfs/ganesha.sh run)\n");
			return 77;
		}
	}
	if (strcmp(fs_type, "hostfs") == 0 &&
	    (!getenv("UVFS_HOSTFS") || access(getenv("UVFS_HOSTFS"), X_OK))) {
		printf("SKIP: UVFS_HOSTFS names no uvfs-hostfs binary\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

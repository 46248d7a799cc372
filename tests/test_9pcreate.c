/*
 * test_9pcreate.c - an exclusive create over 9P is carried out once and
 * answered as it went: never -EEXIST for the file the call itself made.
 * Each case forces one path by which a Tlcreate that the server carried
 * out could be followed by a second create of the name, or its success
 * turned into a failure that the core then answers with the name it finds
 * (docs/net-tests.md, "net-many_files"), with the fake server of
 * p9fake.c over a socketpair:
 *
 *   - the new file's node evicted from the driver's table between the
 *     create and the core's vget (a burst of releases meanwhile): the vget
 *     answered -ESTALE, the core looked the name up, found the file and
 *     said -EEXIST (through FUSE, the kernel retried the open on ESTALE
 *     and said EEXIST);
 *   - a Tlcreate past its deadline whose reply comes before the Rflush: it
 *     happened, and the open succeeds;
 *   - a Tlcreate past its deadline that the server flushes (Rflush only):
 *     it did not happen; -ETIMEDOUT, no second Tlcreate, and the name is
 *     free for the next create;
 *   - a Tlcreate refused on its (spare clone) fid: the error, no second
 *     Tlcreate on a fresh fid;
 *   - a create for another user on a mount attached as root: no set-id
 *     bits while root owns the file, and a chown that fails fails the
 *     create (the file removed again); the same for a mkdir, a symlink
 *     and a mknod, which kept root's object and succeeded.
 *
 * The reply lost with the connection (a reconnecting mount) is
 * test_9psession's test_create_reply_lost (-EIO, not -EEXIST).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "p9fake.h"
#include "proc_wait.h"

/* The driver's LRU of unreferenced nodes holds this many (lib/9p,
 * driver.h LRU_MAX); the test pushes more than that through it. */
#define DRIVER_LRU      4096

/* One exclusive create: by path (uvfs_open), or through the node API as
 * uvfsd's FUSE CREATE makes it (dir, name: uvfs_node_create). */
struct creator {
	struct uvfs_ctx *c;
	const char *path;
	struct uvfs_node *dir;  /* set: the node API */
	const char *name;
	struct uvfs_node *made;
	int r;
};

static void *creator_main(void *arg)
{
	struct creator *k = arg;
	struct stat st;

	if (k->dir)
		k->r = uvfs_node_create(k->c, k->dir, k->name, S_IFREG | 0644,
					0, NULL, &k->made, &st);
	else
		k->r = uvfs_open(k->c, k->path, O_CREAT | O_EXCL | O_WRONLY,
				 0644);
	return NULL;
}

/* Waits (10 s, scaled) until *flag is set. */
static void wait_flag(atomic_bool *flag)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(flag)) {
		assert_true(ms_since(&t0) < test_bound_ms(10000));
		usleep(1000);
	}
}

/*
 * The new file's node must stay in the driver's table until the core's
 * vget takes it.  A create for another user on a mount attached as root
 * sends the chown (Tgetattr, Tsetattr) between the Tlcreate and the
 * vget; the server holds that Tgetattr while more than the driver's LRU
 * of other nodes are looked up and released (a vnode cache of 16: the
 * core's pruner reclaims them, each goes on the driver's LRU).  Before
 * the pin, the new node was evicted meanwhile and the vget said -ESTALE:
 * uvfs_open then answered -EEXIST, with one Tlcreate, which made the
 * file; uvfs_node_create (uvfsd's FUSE CREATE) -ESTALE, on which the
 * kernel retries the open, finds the file and says EEXIST.
 */
static void create_evicted(bool node_api)
{
	struct uvfs_config cfg = { .vcache_max = 16 };
	struct fx x = { .cfg = &cfg };
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *uc;
	struct uvfs_node *pub = NULL, *root;
	struct creator k = { 0 };
	struct stat st;
	pthread_t t;
	char p[32];

	/* uname=root: attached as root whoever runs the test; fids=64:
	 * fid numbers stay small (the fake server tracks 4096) */
	assert_int_equal(fx_mount(&x, "timeout=60000,uname=root,fids=64"),
			 0);
	assert_int_equal(uvfs_ctx_new(x.u, &cred, &uc), 0);
	k.c = uc;
	k.path = "/m/pub/new1";
	if (node_api) {
		struct uvfs_node *m;
		assert_int_equal(uvfs_node_root(uc, &root), 0);
		assert_int_equal(uvfs_node_lookup(uc, root, "m", &m, &st), 0);
		assert_int_equal(uvfs_node_lookup(uc, m, "pub", &pub, &st), 0);
		uvfs_node_release(m, 1);
		uvfs_node_release(root, 1);
		k.dir = pub;
		k.name = "new1";
	}
	atomic_store(&x.fs.hold_cattr, true);
	assert_int_equal(pthread_create(&t, NULL, creator_main, &k), 0);
	wait_flag(&x.fs.cattr_held);
	/* the create is between its Tlcreate and its vget */
	assert_int_equal(atomic_load(&x.fs.creates), 1);
	for (int i = 0; i < DRIVER_LRU + 512; i++) {
		snprintf(p, sizeof(p), "/m/n%d", i);
		assert_int_equal(uvfs_stat(x.c, p, &st), 0);
	}
	assert_int_equal(uvfs_settle(x.u, 10000), 0);  /* reclaimed */
	atomic_store(&x.fs.cattr_release, true);
	/* any message: the held reply goes out before its answer */
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (k.r < 0)    /* was -EEXIST (-ESTALE), after one Tlcreate */
		fail_msg("the create said %s, after %d Tlcreate",
			 strerror(-k.r), atomic_load(&x.fs.tlcreates));
	assert_int_equal(atomic_load(&x.fs.tlcreates), 1);
	assert_int_equal(atomic_load(&x.fs.create_eexist), 0);
	if (node_api) {
		uvfs_node_release(k.made, 1);
		uvfs_node_release(pub, 1);
	} else {
		assert_int_equal(uvfs_fstat(uc, k.r, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(uvfs_close(uc, k.r), 0);
	}
	/* the same name again: this one is EEXIST (the server's) */
	assert_int_equal(uvfs_open(uc, "/m/pub/new1", O_CREAT | O_EXCL |
				   O_WRONLY, 0644), -EEXIST);
	assert_int_equal(atomic_load(&x.fs.create_eexist), 1);
	uvfs_ctx_free(uc);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_create_node_evicted(void **state)
{
	(void)state;
	create_evicted(false);
}

static void test_node_create_node_evicted(void **state)
{
	(void)state;
	create_evicted(true);
}

/* A Tlcreate past its deadline, made by the server, whose reply comes
 * before the Rflush: the call happened, the open succeeds (one Tlcreate;
 * the name is then EEXIST). */
static void test_create_late_reply(void **state)
{
	struct fx x = { 0 };
	struct timespec t0;
	int fd;

	(void)state;
	/* the deadline passes for the held Tlcreate; the rest of the test
	 * needs its requests answered within one on a loaded machine (a
	 * server silent through half of it is cut: -EIO after) */
	assert_int_equal(fx_mount(&x, "timeout=3000"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = uvfs_open(x.c, "/m/newlate", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_true(ms_since(&t0) >= 2900);     /* it waited for the flush */
	assert_int_equal(atomic_load(&x.fs.flushes), 1);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 1);
	assert_int_equal(atomic_load(&x.fs.creates), 1);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_open(x.c, "/m/newlate", O_CREAT | O_EXCL |
				   O_RDWR, 0644), -EEXIST);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 2);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Tlcreate past its deadline that the server flushes without making
 * the file: -ETIMEDOUT (not -EEXIST, not a second Tlcreate), and a new
 * create of the name makes it. */
static void test_create_flushed(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=3000"), 0);  /* as above */
	assert_int_equal(uvfs_open(x.c, "/m/newfl", O_CREAT | O_EXCL |
				   O_RDWR, 0644), -ETIMEDOUT);
	assert_int_equal(atomic_load(&x.fs.flushes), 1);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 1);
	assert_int_equal(atomic_load(&x.fs.creates), 0);
	/* not made, and not asked again by the core's lookup either */
	assert_int_equal(uvfs_stat(x.c, "/m/newfl", &st), -ENOENT);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 1);
	fd = uvfs_open(x.c, "/m/new2", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 2);
	assert_int_equal(atomic_load(&x.fs.create_eexist), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Tlcreate refused on its fid (the directory's spare clone, which the
 * server does not know: EBADF): that error, once; no second Tlcreate on
 * a fresh fid (the server may have carried out the first). */
static void test_create_bad_fid(void **state)
{
	struct fx x = { 0 };
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=3000"), 0);
	/* a first create: the next one goes on the spare clone */
	fd = uvfs_open(x.c, "/m/new0", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_open(x.c, "/m/newbadf", O_CREAT | O_EXCL |
				   O_RDWR, 0644), -EBADF);
	assert_int_equal(atomic_load(&x.fs.tlcreates), 2);
	assert_int_equal(atomic_load(&x.fs.create_eexist), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/*
 * A create for another user on a mount attached as root: the server
 * makes the file as root, and the driver gives it to the caller (a
 * Tsetattr of its owner), then sets the set-user-ID and set-group-ID
 * bits the chown cleared.  The set-id bits must not be on the file while
 * root owns it, and a chown that fails must fail the create, the file
 * removed again.  Before, the Tlcreate asked the caller's mode whole
 * (04755: a set-user-ID file of root's) and the chown's failure was not
 * looked at: the create succeeded and the caller wrote, through the
 * handle the create opened, a set-user-ID-root program of its own.
 */
static void test_create_chown(void **state)
{
	struct fx x = { 0 };
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *uc;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=3000,uname=root"), 0);
	assert_int_equal(uvfs_ctx_new(x.u, &cred, &uc), 0);

	/* the chown works: the mode is set after it, set-id bits and all */
	fd = uvfs_open(uc, "/m/pub/newsuid", O_CREAT | O_EXCL | O_RDWR,
		       04755);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(uc, fd), 0);
	assert_int_equal(atomic_load(&x.fs.ct_mode) & 06000, 0);
	assert_int_equal(atomic_load(&x.fs.sa_mode) & 07777, 04755);

	/* the chown fails: so does the create, and the file is gone */
	atomic_store(&x.fs.chown_fail, true);
	fd = uvfs_open(uc, "/m/pub/newroot", O_CREAT | O_EXCL | O_RDWR,
		       04755);
	if (fd >= 0)    /* was: 0, the file root's (and set-uid) */
		fail_msg("the create succeeded; the Tlcreate asked mode %o",
			 atomic_load(&x.fs.ct_mode));
	assert_int_equal(fd, -EPERM);
	assert_int_equal(atomic_load(&x.fs.ct_mode) & 06000, 0);
	assert_int_equal(atomic_load(&x.fs.new_removes), 1);
	assert_int_equal(uvfs_stat(uc, "/m/pub/newroot", &st), -ENOENT);
	atomic_store(&x.fs.chown_fail, false);
	uvfs_ctx_free(uc);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* One mkdir, symlink or mknod (a FIFO) of path by uc. */
static int make_kind(struct uvfs_ctx *uc, int kind, const char *path)
{
	switch (kind) {
	case 0:
		return uvfs_mkdir(uc, path, 0755);
	case 1:
		return uvfs_symlink(uc, "f", path);
	default:
		return uvfs_mknod(uc, path, S_IFIFO | 0644, 0);
	}
}

/*
 * A mkdir, symlink or mknod for another user on a mount attached as root
 * is given to the caller by a Tsetattr after it; if that fails, the
 * object is removed again (Tremove of the fid walked to it) and the call
 * fails with the chown's error, as a regular file's create does.
 * Before, the chown's answer was not looked at: the call succeeded and
 * left an object of root's the caller could not chmod, rename into its
 * own sticky directory, or remove from a directory of root's.
 */
static void test_mkdir_chown(void **state)
{
	static const char *const what[] = { "mkdir", "symlink", "mknod" };
	struct fx x = { 0 };
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *uc;
	struct stat st;
	char p[32];

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=3000,uname=root"), 0);
	assert_int_equal(uvfs_ctx_new(x.u, &cred, &uc), 0);
	for (int k = 0; k < 3; k++) {
		/* the chown works: made, and kept */
		snprintf(p, sizeof(p), "/m/pub/new%sok", what[k]);
		assert_int_equal(make_kind(uc, k, p), 0);
		assert_int_equal(uvfs_lstat(uc, p, &st), 0);
		assert_int_equal(atomic_load(&x.fs.new_removes), k);

		/* the chown fails: so does the call, and nothing is left */
		atomic_store(&x.fs.chown_fail, true);
		snprintf(p, sizeof(p), "/m/pub/new%sroot", what[k]);
		int r = make_kind(uc, k, p);
		if (r == 0)     /* was: 0, the object root's */
			fail_msg("%s: succeeded, the chown failed", what[k]);
		assert_int_equal(r, -EPERM);
		assert_int_equal(atomic_load(&x.fs.new_removes), k + 1);
		assert_int_equal(uvfs_lstat(uc, p, &st), -ENOENT);
		atomic_store(&x.fs.chown_fail, false);
		/* the name is free: made again, once */
		assert_int_equal(make_kind(uc, k, p), 0);
		assert_int_equal(uvfs_lstat(uc, p, &st), 0);
	}
	assert_int_equal(atomic_load(&x.fs.mkdirs), 3);
	assert_int_equal(atomic_load(&x.fs.symlinks), 3);
	assert_int_equal(atomic_load(&x.fs.mknods), 3);
	uvfs_ctx_free(uc);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_node_evicted),
		cmocka_unit_test(test_node_create_node_evicted),
		cmocka_unit_test(test_create_late_reply),
		cmocka_unit_test(test_create_flushed),
		cmocka_unit_test(test_create_bad_fid),
		cmocka_unit_test(test_create_chown),
		cmocka_unit_test(test_mkdir_chown),
	};

	/* the fake server writes to links the client cut */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_dirlock.c - a name change holds its directory from the lookup of
 * the name to the driver's call (lib/core/names.c, docs/locking.md "The
 * directory locks").
 *
 * Deterministic, not a stress race: testfs stalls the driver's call of
 * the first name change (its checks made, the name looked up), a second
 * thread makes a conflicting change of the same name meanwhile, and the
 * test lets the first go.  Without the lock the second change went
 * through inside the first's window: the driver then removed, or renamed
 * over, a file the first call's checks never saw (another user's file in
 * a sticky directory, a mount point) and the core marked the wrong vnode
 * unlinked.  With it, the second waits for the first, and what both leave
 * is what the two calls made one after the other leave.
 *
 * Also: a forced unmount returns within its deadline while a call stalls
 * in the driver under the lock and another waits for it, and the waiter
 * gets EIO; two cross-directory renames moving two directories into each
 * other neither deadlock nor make a loop (a race with counts, the one
 * test here that is not deterministic).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfs/uvfs.h>

#include "testfs.h"
#include "test_clock.h"

/* How long the second call is given to get past the first: it takes
 * microseconds when nothing holds it back. */
#define PASS_MS 1000

static struct uvfs *U;
static struct uvfs_ctx *R;          /* root */
static struct uvfs_ctx *A;          /* uid 1000 */
static struct uvfs_node *root_node, *dir_node; /* the node API's test */

static int setup(void **state)
{
	struct uvfs_cred c = { .uid = 1000, .gid = 1000 };

	(void)state;
	testfs_unblock();
	assert_int_equal(uvfs_new(NULL, &U), 0);
	assert_int_equal(uvfs_fstype_register(U, &testfs_ops), 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &R), 0);
	assert_int_equal(uvfs_ctx_new(U, &c, &A), 0);
	assert_int_equal(uvfs_mkdir(R, "/t", 0755), 0);
	assert_int_equal(uvfs_mount(R, "testfs", "none", "/t",
				    "deadline=300"), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testfs_unblock();
	if (dir_node)
		uvfs_node_release(dir_node, 1);
	if (root_node)
		uvfs_node_release(root_node, 1);
	dir_node = root_node = NULL;
	uvfs_ctx_free(A);
	uvfs_ctx_free(R);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	uvfs_free(U);
	U = NULL;
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(testfs_live_nodes(), 0);
	return 0;
}

static void make_file(const char *path, uid_t uid)
{
	int fd = uvfs_open(R, path, O_CREAT | O_EXCL | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_chown(R, path, uid, uid), 0);
}

static nlink_t nlink_of(int fd)
{
	struct stat st;

	assert_int_equal(uvfs_fstat(R, fd, &st), 0);
	return st.st_nlink;
}

/* ---- two calls, the first stalled in the driver ------------------------ */

struct call {
	pthread_t t;
	int (*fn)(void);
	int result;
	atomic_int done;
};

static void *call_main(void *arg)
{
	struct call *c = arg;

	c->result = c->fn();
	atomic_store(&c->done, 1);
	return NULL;
}

static bool call_wait(struct call *c, int ms)
{
	double end = now_ms() + ms;

	while (!atomic_load(&c->done) && now_ms() < end)
		sleep_ms(2);
	return atomic_load(&c->done);
}

struct race {
	struct call first, second;
	bool passed;            /* the second returned while the first was
				   stalled */
};

/* Starts first and stalls it in the driver's call of op; starts second;
 * gives it PASS_MS to return; lets the first go.  Returns with the second
 * still running (it may wait for the first, or be stalled itself): the
 * caller may act before race_end. */
static void race_begin(struct race *r, enum testfs_op op, int (*first)(void),
		       int (*second)(void))
{
	memset(r, 0, sizeof(*r));
	r->first.fn = first;
	r->second.fn = second;
	testfs_block(op);
	assert_int_equal(pthread_create(&r->first.t, NULL, call_main,
					&r->first), 0);
	assert_true(testfs_wait_blocked(1, 5000));
	assert_int_equal(pthread_create(&r->second.t, NULL, call_main,
					&r->second), 0);
	r->passed = call_wait(&r->second, PASS_MS);
}

static void race_end(struct race *r)
{
	testfs_unblock();
	pthread_join(r->first.t, NULL);
	pthread_join(r->second.t, NULL);
	if (r->passed)
		printf("    the second call returned %d while the first was "
		       "stalled between its checks and the driver\n",
		       r->second.result);
}

static void race(struct race *r, enum testfs_op op, int (*first)(void),
		 int (*second)(void))
{
	race_begin(r, op, first, second);
	race_end(r);
}

/* ---- unlink against a rename onto the same name ------------------------ */

static int unlink_x(void)
{
	return uvfs_unlink(R, "/t/x");
}

static int rename_y_x(void)
{
	return uvfs_rename(R, "/t/y", "/t/x", 0);
}


static int node_unlink_x(void)
{
	return uvfs_node_unlink(R, dir_node, "x", 0);
}

static int node_rename_y_x(void)
{
	return uvfs_node_rename(R, dir_node, "y", dir_node, "x", 0);
}

/* The unlink removes the file it looked up, x's; then y's file takes the
 * name x.  Without the lock the driver removed y's file, already at x,
 * and the core marked x's vnode unlinked (the rename had too) and not
 * y's: the name x was gone and both files with it. */
static void unlink_rename_check(int (*unlink_fn)(void),
				int (*rename_fn)(void))
{
	struct stat st, st2, sy;
	struct race r;
	nlink_t nx, ny;
	int fx, fy, ex, ey;

	make_file("/t/x", 0);
	make_file("/t/y", 0);
	fx = uvfs_open(R, "/t/x", O_RDONLY, 0);
	fy = uvfs_open(R, "/t/y", O_RDONLY, 0);
	assert_true(fx >= 0 && fy >= 0);
	assert_int_equal(uvfs_fstat(R, fy, &sy), 0);
	race(&r, TFS_UNLINK, unlink_fn, rename_fn);
	nx = nlink_of(fx);
	ny = nlink_of(fy);
	ex = uvfs_stat(R, "/t/x", &st);
	ey = uvfs_stat(R, "/t/y", &st2);
	assert_int_equal(uvfs_close(R, fx), 0);
	assert_int_equal(uvfs_close(R, fy), 0);
	printf("    unlink %d, rename %d; x's file %lu links, y's %lu; "
	       "stat x %d, y %d\n", r.first.result, r.second.result,
	       (unsigned long)nx, (unsigned long)ny, ex, ey);
	assert_false(r.passed);
	assert_int_equal(r.first.result, 0);
	assert_int_equal(r.second.result, 0);
	assert_int_equal(nx, 0);
	assert_int_equal(ny, 1);
	assert_int_equal(ex, 0);
	assert_int_equal(st.st_ino, sy.st_ino);
	assert_int_equal(ey, -ENOENT);
}

static void test_unlink_rename(void **state)
{
	(void)state;
	unlink_rename_check(unlink_x, rename_y_x);
}

/* The same through the node API (the FUSE front end's calls). */
static void test_node_unlink_rename(void **state)
{
	(void)state;
	assert_int_equal(uvfs_node_root(R, &root_node), 0);
	assert_int_equal(uvfs_node_lookup(R, root_node, "t", &dir_node, NULL),
			 0);
	unlink_rename_check(node_unlink_x, node_rename_y_x);
}

/* ---- the sticky bit ---------------------------------------------------- */

static int a_unlink_x(void)
{
	return uvfs_unlink(A, "/t/s/x");
}

static int rename_s_y_x(void)
{
	return uvfs_rename(R, "/t/s/y", "/t/s/x", 0);
}

/* A sticky directory /t/s (mode 01777). */
static void make_sticky_dir(void)
{
	assert_int_equal(uvfs_mkdir(R, "/t/s", 01777), 0);
	assert_int_equal(uvfs_chmod(R, "/t/s", 01777), 0);
}

/* After a race of two calls that must both succeed, the second waiting
 * for the first: path is uid 2000's file.  what names the two calls. */
static void race_left_uid_2000(const struct race *r, const char *what,
			       const char *path)
{
	struct stat st;
	int e = uvfs_stat(R, path, &st);

	printf("    %s: %d, %d; stat %s %d (uid %ld)\n", what,
	       r->first.result, r->second.result, path, e,
	       e ? -1L : (long)st.st_uid);
	assert_false(r->passed);
	assert_int_equal(r->first.result, 0);
	assert_int_equal(r->second.result, 0);
	assert_int_equal(e, 0);
	assert_int_equal(st.st_uid, 2000);
}

/* In a sticky directory uid 1000 may remove its own x, not uid 2000's y.
 * Root renames y onto x while 1000's unlink of x stalls: the unlink must
 * remove 1000's file (then y's takes the name), never 2000's. */
static void test_sticky_unlink(void **state)
{
	struct race r;

	(void)state;
	make_sticky_dir();
	make_file("/t/s/x", 1000);
	make_file("/t/s/y", 2000);
	assert_int_equal(uvfs_unlink(A, "/t/s/y"), -EPERM);
	race(&r, TFS_UNLINK, a_unlink_x, rename_s_y_x);
	/* 2000's file survives, under the name x */
	race_left_uid_2000(&r, "unlink, rename", "/t/s/x");
}

static int a_rename_a_t(void)
{
	return uvfs_rename(A, "/t/s/a", "/t/s/t", 0);
}

static int replace_t(void)
{
	int r = uvfs_unlink(R, "/t/s/t"), fd;

	if (r)
		return r;
	fd = uvfs_open(R, "/t/s/t", O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		return fd;
	uvfs_close(R, fd);
	return uvfs_chown(R, "/t/s/t", 2000, 2000);
}

/* The rename's target: uid 1000 renames its a onto its own t; while the
 * rename stalls, root replaces t by a file of uid 2000's, which 1000
 * could not rename over.  The rename must replace 1000's t (then root's
 * replacement removes 1000's file and makes 2000's), never 2000's. */
static void test_sticky_rename(void **state)
{
	struct stat st;
	struct race r;

	(void)state;
	make_sticky_dir();
	make_file("/t/s/a", 1000);
	make_file("/t/s/t", 1000);
	race(&r, TFS_RENAME, a_rename_a_t, replace_t);
	race_left_uid_2000(&r, "rename, unlink + create", "/t/s/t");
	assert_int_equal(uvfs_stat(R, "/t/s/a", &st), -ENOENT);
}

/* ---- a mount point ----------------------------------------------------- */

static int rmdir_x(void)
{
	return uvfs_rmdir(R, "/t/x");
}

static int rename_y_x_mount(void)
{
	int r = uvfs_rename(R, "/t/y", "/t/x", 0);

	return r ? r : uvfs_mount(R, "memfs", "none", "/t/x", "");
}

/* rmdir of x (an empty directory) stalls; meanwhile the directory y takes
 * the name x and a file system is mounted on it.  The rmdir must remove
 * the x it checked, never the mount point (which child_busy refuses). */
static void test_rmdir_mount_point(void **state)
{
	struct stat st, sm;
	struct race r;
	int e;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/t/x", 0755), 0);
	assert_int_equal(uvfs_mkdir(R, "/t/y", 0755), 0);
	race(&r, TFS_UNLINK, rmdir_x, rename_y_x_mount);
	e = uvfs_stat(R, "/t/x", &sm);
	printf("    rmdir %d, rename + mount %d; stat x %d\n",
	       r.first.result, r.second.result, e);
	assert_false(r.passed);
	assert_int_equal(r.first.result, 0);
	assert_int_equal(r.second.result, 0);
	/* x is the mount point, the memfs's root over testfs's directory */
	assert_int_equal(e, 0);
	assert_int_equal(uvfs_stat(R, "/t", &st), 0);
	assert_true(sm.st_dev != st.st_dev);
	assert_int_equal(uvfs_rmdir(R, "/t/x"), -EBUSY);
	assert_int_equal(uvfs_umount(R, "/t/x", 0), 0);
	assert_int_equal(uvfs_rmdir(R, "/t/x"), 0);
}

/* ---- a forced unmount while a call stalls under the lock --------------- */

static int rename_y_z(void)
{
	return uvfs_rename(R, "/t/y", "/t/z", 0);
}

/* A hung driver call holds the directory; a rename in that directory
 * waits for it.  The forced unmount does not wait for either (nothing of
 * the lock is inside the gate it drains), and the waiter, which gets the
 * lock once the hung call returns, finds the mount dead: EIO. */
static void test_forced_unmount(void **state)
{
	struct race r;
	double t0, dt;
	bool waited;
	int e;

	(void)state;
	make_file("/t/x", 0);
	make_file("/t/y", 0);
	race_begin(&r, TFS_UNLINK, unlink_x, rename_y_z);
	t0 = now_ms();
	e = uvfs_umount(R, "/t", UVFS_UMOUNT_FORCE);
	dt = now_ms() - t0;
	waited = !atomic_load(&r.second.done);
	race_end(&r);
	printf("    forced unmount (deadline=300) with a call stalled under "
	       "the directory lock and one waiting: %d, %.1f ms; unlink %d, "
	       "rename %d\n", e, dt, r.first.result, r.second.result);
	assert_false(r.passed);
	assert_int_equal(e, 0);
	assert_true(dt < 1000);
	assert_true(waited);
	/* the stalled unlink was inside the gate before the kill: it ran */
	assert_true(r.first.result == 0 || r.first.result == -EIO);
	assert_int_equal(r.second.result, -EIO);
}

/* ---- cross-directory renames: no deadlock, no loop --------------------- */

struct mover {
	pthread_t t;
	const char *from, *to;
	unsigned long ok, refused;
};

static void *mover_main(void *arg)
{
	struct mover *m = arg;

	for (int i = 0; i < 2000; i++) {
		int r = uvfs_rename(R, m->from, m->to, 0);

		if (r == 0)
			r = uvfs_rename(R, m->to, m->from, 0);
		if (r == 0)
			m->ok++;
		else if (r == -EINVAL || r == -ENOENT)
			m->refused++;
		else
			fail_msg("rename %s -> %s: %d", m->from, m->to, r);
	}
	return NULL;
}

/* /t/a into /t/b and /t/b into /t/a, on two threads at once: each rename
 * locks two directories, in opposite orders of their names.  Both end
 * under /t again (a loop would leave neither reachable). */
static void test_cross_renames(void **state)
{
	struct mover m1 = { .from = "/t/a", .to = "/t/b/a" };
	struct mover m2 = { .from = "/t/b", .to = "/t/a/b" };
	struct stat st;
	int found = 0;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/t/a", 0755), 0);
	assert_int_equal(uvfs_mkdir(R, "/t/b", 0755), 0);
	assert_int_equal(pthread_create(&m1.t, NULL, mover_main, &m1), 0);
	assert_int_equal(pthread_create(&m2.t, NULL, mover_main, &m2), 0);
	pthread_join(m1.t, NULL);
	pthread_join(m2.t, NULL);
	printf("    renames made (there and back): %lu and %lu; refused: "
	       "%lu and %lu\n", m1.ok, m2.ok, m1.refused, m2.refused);
	/* each thread ends with its directory back, if it moved it */
	found += uvfs_stat(R, "/t/a", &st) == 0;
	found += uvfs_stat(R, "/t/b", &st) == 0;
	found += uvfs_stat(R, "/t/a/b", &st) == 0;
	found += uvfs_stat(R, "/t/b/a", &st) == 0;
	assert_int_equal(found, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unlink_rename, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_unlink_rename,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sticky_unlink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sticky_rename, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rmdir_mount_point, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forced_unmount, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cross_renames, setup,
						teardown),
	};

	if (getenv("UVFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UVFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

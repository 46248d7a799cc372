/*
 * test_vops.c - the vnode operations against revoke and forced unmount, on
 * testfs (testfs.h: node objects freed and poisoned at reclaim, handles at
 * release), and the vnode cache against a driver that reuses inode numbers.
 *
 *  - link and rename whose second vnode was revoked answer EIO and never
 *    hand the driver a reclaimed node;
 *  - a revoke while open is inside the driver, and while the last close is
 *    releasing the handle: the handle is released exactly once, before its
 *    node's reclaim;
 *  - bounded workers: driver operations that block past the deadline do
 *    not hold a worker, freeze other mounts or starve uvfs_settle; what
 *    they held is reclaimed once they return;
 *  - the credentials a driver sees (uvfs_cred_current) are the caller's
 *    on the path and node APIs and the opener's on a node API handle,
 *    whatever the thread did before;
 *  - a close of a descriptor open for writing asks the driver's flush and
 *    answers its error (the descriptor is gone all the same); a read-only
 *    one does not; on a revoked file, EIO only if it was written;
 *  - inode reuse: a lookup that finds another type or generation behind a
 *    cached vnode of the same ino gets a new vnode; the old one is dead;
 *  - answers no file can have (a name in a listing, a file type) stop at
 *    the core, whatever the driver.
 *
 * Each test has its own instance; every one ends with the live-object
 * counters (the core's and testfs's) back to the root alone.
 *
 * This file is the harness (the fixture, the helpers) and main with the
 * tests in the order they run; the tests are in
 * test_vops_{revoke,workers,reuse,calls,answers}.c by topic, included
 * below into this one translation unit.
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
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/uvfs.h>

#include "testfs.h"
#include "test_clock.h"

/* Generous bounds: the machine is shared, timings are not a schedule. */
#define DEADLINE_MS 200
#define SLACK_MS    5000

static struct uvfs *U;
static struct uvfs_ctx *R;

static const struct uvfs_fstype_ops reusefs_ops;
static const struct uvfs_fstype_ops oddfs_ops;

static int setup(void **state)
{
	(void)state;
	testfs_unblock();
	testfs_set_delay(0);
	assert_int_equal(uvfs_new(NULL, &U), 0);
	assert_int_equal(uvfs_fstype_register(U, &testfs_ops), 0);
	assert_int_equal(uvfs_fstype_register(U, &reusefs_ops), 0);
	assert_int_equal(uvfs_fstype_register(U, &oddfs_ops), 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &R), 0);
	return 0;
}

/* Everything released: the counters are back to the root alone, and
 * testfs has no node or handle left. */
static int teardown(void **state)
{
	struct uvfs_stats st;

	(void)state;
	testfs_unblock();
	uvfs_ctx_free(R);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	uvfs_stats(U, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.contexts, 0);
	assert_int_equal(st.mounts, 1);
	assert_int_equal(st.superblocks, 1);
	uvfs_free(U);
	U = NULL;
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(testfs_live_nodes(), 0);
	return 0;
}

static void mount_testfs(const char *t)
{
	assert_int_equal(uvfs_mkdir(R, t, 0755), 0);
	assert_int_equal(uvfs_mount(R, "testfs", "none", t,
				    "deadline=" "200"), 0);
}

static void make_file(const char *path)
{
	int fd = uvfs_open(R, path, O_CREAT | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
}

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the fixture and helpers above ------------ */

#include "test_vops_revoke.c"  /* operations against revoke */
#include "test_vops_workers.c" /* bounded workers */
#include "test_vops_reuse.c"   /* a driver reusing inode numbers */
#include "test_vops_calls.c"   /* credentials, flush at close */
#include "test_vops_answers.c" /* answers no file can have */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_link_rename_dead_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_revoke,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_during_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_during_close,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_tells_driver,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_on_killed_gate,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocked_ops_free_workers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_settle_not_starved,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hung_release_frees_other_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ino_reuse_other_type,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ino_reuse_other_gen,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcache_grows,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_other_mount,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_current,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fileops_revoke, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dead_io_without_driver,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_at_close,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_flush_at_dup2_and_ctx_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing_impossible_names,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_impossible_file_types,
						setup, teardown),
	};

	/* UVFS_TEST_FILTER=NAME runs the tests whose names match */
	if (getenv("UVFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UVFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

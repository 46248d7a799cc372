/*
 * test_fuse_new.c - the FUSE front end's start-up failures give back what
 * they took: a mount that fails (no such mount point, or no /dev/fuse
 * access for this user) returns an error and leaves the namespace with no
 * node held, no context and no crash (the error path used to release the
 * root node twice).  Runs as any user: every case fails before a mount.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfs/uvfs.h>
#include "uvfs_fuse.h"

static void failed_mount_gives_everything_back(void **state)
{
	char path[] = "/tmp/uvfs-fuse-new.XXXXXX";
	struct uvfs_fuse_config cfg = { .fsname = "test" };
	struct uvfs_fuse *uf = NULL;
	struct uvfs_stats st;
	struct uvfs *u;

	(void)state;
	assert_non_null(mkdtemp(path));
	/* a mount point that is gone by the time the mount is made */
	assert_int_equal(rmdir(path), 0);
	cfg.mountpoint = path;
	assert_int_equal(uvfs_new(NULL, &u), 0);
	for (int i = 0; i < 3; i++) {
		int err = uvfs_fuse_new(u, &cfg, &uf);
		assert_true(err < 0);
		assert_null(uf);
		uvfs_stats(u, &st);
		assert_int_equal(st.nodes, 0);
		assert_int_equal(st.files, 0);
		assert_int_equal(st.contexts, 0);
	}
	uvfs_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failed_mount_gives_everything_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

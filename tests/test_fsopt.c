/*
 * test_fsopt.c - mount options checked against the drivers' descriptions
 * (lib/core/fsopt.c, struct uvfs_fsopt in <uvfs/fs.h>): each kind of bad
 * option fails with -EINVAL and names the cause, a good one passes, a type
 * without a table is not checked, uvfs_mount() refuses what the check
 * refuses, and uvfs_fstype_each() lists the types with their tables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/uvfs.h>

static struct uvfs *u;
static struct uvfs_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	if (uvfs_new(NULL, &u) || uvfs_ctx_new(u, NULL, &ctx))
		return -1;
	return uvfs_mkdir(ctx, "/m", 0755);
}

static int teardown(void **state)
{
	(void)state;
	uvfs_ctx_free(ctx);
	uvfs_free(u);
	return 0;
}

static void expect(const char *type, const char *opts, int err,
		   const char *why)
{
	char buf[128] = "garbage";
	int r = uvfs_mount_options_check(u, type, opts, buf, sizeof(buf));

	if (r != err || strcmp(buf, why) != 0)
		fail_msg("%s '%s': %d '%s', expected %d '%s'", type,
			 opts ? opts : "(null)", r, buf, err, why);
}

static void bad_options_are_named(void **state)
{
	(void)state;
	expect("memfs", "bogus=1", -EINVAL, "unknown option 'bogus'");
	expect("memfs", "size=64m,bogus", -EINVAL, "unknown option 'bogus'");
	expect("memfs", "size=abc", -EINVAL, "size: not a number");
	expect("memfs", "size=", -EINVAL, "size: not a number");
	expect("memfs", "size", -EINVAL, "size: needs a value");
	expect("memfs", "mode=0789", -EINVAL, "mode: not an octal number");
	expect("memfs", "ro=1", -EINVAL, "ro: takes no value");
	expect("memfs", "deadline=soon", -EINVAL, "deadline: not a number");
	expect("nosuchfs", "", -ENODEV, "unknown file system type 'nosuchfs'");
}

static void good_options_pass(void **state)
{
	(void)state;
	expect("memfs", NULL, 0, "");
	expect("memfs", "", 0, "");
	expect("memfs", "size=64m,deadline=500,ro,mode=0700,uid=1,gid=2", 0,
	       "");
	expect("memfs", ",,size=0,", 0, "");
}

/* A driver without a table: its options are its own business. */
static int free_mount(struct uvfs_sb *sb, const char *source,
		      const char *options, uint64_t *root)
{
	(void)sb, (void)source, (void)options, (void)root;
	return -EIO;
}

static void undescribed_type_is_not_checked(void **state)
{
	static const struct uvfs_fstype_ops ops = {
		.name = "free", .mount = free_mount,
		.vget = (void *)1, .getattr = (void *)1, .lookup = (void *)1,
	};

	(void)state;
	assert_int_equal(uvfs_fstype_register(u, &ops), 0);
	expect("free", "anything=at,all", 0, "");
	/* the core's own are still checked */
	expect("free", "deadline=x", -EINVAL, "deadline: not a number");
	/* and the mount reaches the driver */
	assert_int_equal(uvfs_mount(ctx, "free", "", "/m", "anything"), -EIO);
	assert_int_equal(uvfs_fstype_unregister(u, "free", 0, -1), 0);
}

static void mount_refuses_what_check_refuses(void **state)
{
	(void)state;
	assert_int_equal(uvfs_mount(ctx, "memfs", "none", "/m", "bogus"),
			 -EINVAL);
	assert_int_equal(uvfs_mount(ctx, "memfs", "none", "/m", "size=x"),
			 -EINVAL);
	assert_int_equal(uvfs_mount(ctx, "memfs", "none", "/m", "size=1m"), 0);
	assert_int_equal(uvfs_umount(ctx, "/m", 0), 0);
}

static int count_types(void *arg, const struct uvfs_fstype_ops *ops)
{
	int *n = arg;

	if (strcmp(ops->name, "memfs") == 0) {
		assert_non_null(ops->options);
		assert_string_equal(ops->options[0].name, "size");
		assert_int_equal(ops->options[0].kind, UVFS_FSOPT_SIZE);
		assert_non_null(ops->options[0].help);
	}
	(*n)++;
	return 0;
}

static void types_are_listed(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(uvfs_fstype_each(u, count_types, &n), 0);
	assert_true(n >= 1);
	assert_string_equal(uvfs_core_fsopts[2].name, "deadline");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_options_are_named),
		cmocka_unit_test(good_options_pass),
		cmocka_unit_test(undescribed_type_is_not_checked),
		cmocka_unit_test(mount_refuses_what_check_refuses),
		cmocka_unit_test(types_are_listed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

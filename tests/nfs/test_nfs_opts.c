/*
 * test_nfs_opts.c - the "nfs" type's options, without a server: the
 * core checks them against the driver's table (struct uvfs_fsopt,
 * lib/nfs/nfs.c) and names what is wrong; the table lists every option
 * the driver takes; what passes the check but not the driver's own range
 * is still -EINVAL.  No mount reaches a network: every case here fails
 * before the driver connects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/nfs.h>
#include <uvfs/uvfs.h>

static struct uvfs *u;
static struct uvfs_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	if (uvfs_new(NULL, &u) || uvfs_ctx_new(u, NULL, &ctx) ||
	    uvfs_nfs_register(u))
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

static void expect(const char *opts, int err, const char *why)
{
	char buf[128] = "garbage";
	int r = uvfs_mount_options_check(u, "nfs", opts, buf, sizeof(buf));

	if (r != err || (err && strcmp(buf, why) != 0))
		fail_msg("nfs '%s': %d '%s', expected %d '%s'", opts, r, buf,
			 err, why);
}

/* Each kind of bad option is refused with its reason. */
static void bad_options_are_named(void **state)
{
	(void)state;
	expect("bogus=1", -EINVAL, "unknown option 'bogus'");
	expect("timeout=5000,bogus", -EINVAL, "unknown option 'bogus'");
	expect("timeout=abc", -EINVAL, "timeout: not a number");
	expect("actimeo=", -EINVAL, "actimeo: not a number");
	expect("timeout", -EINVAL, "timeout: needs a value");
	expect("hard=1", -EINVAL, "hard: takes no value");
	expect("noac=yes", -EINVAL, "noac: takes no value");
	expect("cache", -EINVAL, "cache: needs a value");
}

/* Every option the driver takes passes the check (the table is whole). */
static void good_options_pass(void **state)
{
	(void)state;
	expect("vers=3,nfsvers=3,timeout=5000,actimeo=0,ac,noac,hard,soft,"
	       "restarts=10,window=30000,ro,deadline=1000", 0, "");
	expect("cache=none", 0, "");
	expect("cache=cto", 0, "");
	expect("cache=loose", 0, "");
}

/* The table as `uvfs mount --help` lists it: every entry has help. */
static void table_is_described(void **state)
{
	const struct uvfs_fsopt *o = uvfs_nfs_ops.options;
	const char *want[] = { "vers", "nfsvers", "timeout", "actimeo", "ac",
			       "noac", "hard", "soft", "restarts", "window",
			       "cache" };
	size_t n = 0;

	(void)state;
	assert_non_null(o);
	assert_non_null(uvfs_nfs_ops.source_help);
	for (; o->name; o++, n++) {
		assert_non_null(o->help);
		assert_true(strlen(o->help) > 0);
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;
		for (o = uvfs_nfs_ops.options; o->name; o++)
			found |= strcmp(o->name, want[i]) == 0;
		if (!found)
			fail_msg("option %s is not in the table", want[i]);
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
}

/* Well-formed but out of the driver's range, or a bad source: -EINVAL
 * from the driver, before it connects anywhere. */
static void driver_ranges(void **state)
{
	static const char *bad[] = { "vers=4", "vers=2", "timeout=99",
				     "timeout=3600001", "actimeo=3601",
				     "restarts=-1", "window=0", "cache=all",
				     "cache=" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = uvfs_mount(ctx, "nfs", "192.0.2.1:/x", "/m", bad[i]);
		if (r != -EINVAL)
			fail_msg("'%s': %d, want -EINVAL", bad[i], r);
	}
	assert_int_equal(uvfs_mount(ctx, "nfs", "nohost", "/m", ""), -EINVAL);
	assert_int_equal(uvfs_mount(ctx, "nfs", "nfs://h:1/x", "/m", ""),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_options_are_named),
		cmocka_unit_test(good_options_pass),
		cmocka_unit_test(table_is_described),
		cmocka_unit_test(driver_ranges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

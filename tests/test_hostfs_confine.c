/*
 * test_hostfs_confine.c - hostfs keeps every client inside its export.
 *
 * The layout: BASE/export is exported, BASE/outside holds a "secret" and
 * must never be read, written, linked or created into through the server.
 * Every escape tried: walking "..", symlinks to "/", "../..", absolute and
 * relative targets outside, a symlink planted after the walk (the race),
 * a directory renamed out of the export while fids point into it, hard
 * links, names holding "/" or "..", /proc magic links, device nodes.  Then
 * identity: as root, requests run with the attached user's fsuid/fsgid.
 * Extended attributes: through symlinks (the link's own, never the
 * target's), '..', a symlink planted after the walk; other namespaces;
 * trusted./security. for a user other than root.
 *
 * This file is the harness (the export and its outside, the fixture, the
 * host helpers) and main with the tests in the order they run; the tests
 * are in test_hostfs_confine_{walks,names,identity,random}.c by topic,
 * included below into this one translation unit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>
#include "skip.h"

#include "p9test_client.h"
#include "hostfs.h"

static char base[64], exp_[128], out_[128];

struct env {
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_qid root;
};

static void hpath(char *buf, const char *dir, const char *rel)
{
	int n = snprintf(buf, 256, "%s/%s", dir, rel);
	assert_true(n > 0 && n < 256);
}

static void host_write(const char *dir, const char *rel, const char *data)
{
	char p[256];
	hpath(p, dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static void host_mkdir(const char *dir, const char *rel)
{
	char p[256];
	hpath(p, dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void host_symlink(const char *target, const char *rel)
{
	char p[256];
	hpath(p, exp_, rel);
	assert_int_equal(symlink(target, p), 0);
}

static bool host_exists(const char *dir, const char *rel)
{
	char p[256];
	struct stat st;
	hpath(p, dir, rel);
	return lstat(p, &st) == 0;
}

/* The outside directory holds exactly what it started with. */
static void outside_untouched(void)
{
	char p[256], buf[32] = { 0 };
	struct stat st;
	hpath(p, out_, "secret");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 6);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "SECRET");
	assert_false(host_exists(out_, "planted"));
	assert_false(host_exists(out_, "made"));
	assert_false(host_exists(out_, "dir"));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	strcpy(base, "/tmp/uvfs-confine-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(exp_, sizeof(exp_), "%s/export", base);
	snprintf(out_, sizeof(out_), "%s/outside", base);
	assert_int_equal(mkdir(exp_, 0755), 0);
	assert_int_equal(mkdir(out_, 0755), 0);
	host_write(out_, "secret", "SECRET");
	host_mkdir(exp_, "sub");
	host_write(exp_, "sub/inner", "inner");
	host_write(exp_, "plain", "plain");
	assert_int_equal(hostfs_open(exp_, &e->hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, e->hs, NULL, &e->s), 0);
	tc_start(&e->c, e->s);
	tc_version(&e->c, 65536);
	assert_int_equal(tc_attach(&e->c, 1, 0, &e->root), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];
	tc_stop(&e->c);
	p9srv_free(e->s);
	/* every fid clunked: nothing left in the fid index */
	assert_int_equal(hostfs_indexed_paths(e->hs), 0);
	hostfs_close(e->hs);
	outside_untouched();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the fixture and helpers above ---------- */

#include "test_hostfs_confine_walks.c"    /* '..', symlinks, renames */
#include "test_hostfs_confine_names.c"    /* links, deep paths, devices */
#include "test_hostfs_confine_identity.c" /* fsuid/fsgid, xattrs */
#include "test_hostfs_confine_random.c"   /* random operations */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(walk_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(symlinks_out, setup, teardown),
		cmocka_unit_test_setup_teardown(absolute_targets_created, setup, teardown),
		cmocka_unit_test_setup_teardown(planted_after_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(renamed_out_of_export, setup, teardown),
		cmocka_unit_test_setup_teardown(renamed_through_server, setup, teardown),
		cmocka_unit_test_setup_teardown(renamed_deep_through_server,
						setup, teardown),
		cmocka_unit_test_setup_teardown(removed_through_server, setup, teardown),
		cmocka_unit_test_setup_teardown(hard_links, setup, teardown),
		cmocka_unit_test_setup_teardown(link_after_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(readdir_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(deep_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_not_opened, setup, teardown),
		cmocka_unit_test(proc_magic_links),
		cmocka_unit_test_setup_teardown(random_operations, setup, teardown),
		cmocka_unit_test_setup_teardown(identity, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_switches, setup,
						teardown),
		cmocka_unit_test_setup_teardown(xattrs_confined, setup, teardown),
		cmocka_unit_test_setup_teardown(xattrs_identity, setup, teardown),
	};
	return TESTS_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}

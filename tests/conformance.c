/*
 * conformance.c - one POSIX conformance body run against every file-system
 * type.
 *
 *   conformance [TYPE [SOURCE [OPTIONS]]]      (default: memfs none "")
 *
 * The program creates an instance, mounts TYPE at /mnt/t and runs every
 * test in a fresh subdirectory of it, with the working directory there, so
 * every lookup also crosses a mount point.  The tests assume POSIX (and the
 * Linux flavour of it that uvfs.h promises), never a particular driver.
 *
 * Exit status: 0 all passed, 1 a test failed, 77 the type cannot be
 * mounted here (skip).
 *
 * This file is the harness: the instance and its mount, the checking
 * helpers, the per-test fixture, and main with the list of tests in the
 * order they run.  The tests themselves are in conformance_*.c by topic
 * (io, attrs, names, links, paths, xattr, fileops, locks), included below
 * into this one translation unit: one program per type, built once for
 * each (tests/meson.build).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/uvfs.h>
#ifdef UVFS_CONFORMANCE_9P /* the conformance-9p build (tests/meson.build) */
#include <uvfs/9p.h>
#endif
#ifdef UVFS_CONFORMANCE_NFS /* the conformance-nfs build (tests/meson.build) */
#include <uvfs/nfs.h>
#endif
#ifdef UVFS_CONFORMANCE_TESTFS /* conformance-testfs (tests/meson.build) */
#include "testfs.h"
#endif
#include "test_clock.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define MNT "/mnt/t"

static const char *fs_type = "memfs";
static const char *fs_source = "none";
static const char *fs_options = "";

static struct uvfs *U;          /* the instance */
static struct uvfs_ctx *C;      /* this test's root context, cwd = D */
static char D[256];             /* this test's directory (absolute) */
static unsigned test_no;

#define MAX_EXTRA 8
static struct uvfs_ctx *extra[MAX_EXTRA]; /* freed by the teardown */
static char extra_mounts[MAX_EXTRA][300]; /* unmounted (FORCE) likewise */

/* ---- checking helpers -------------------------------------------------- */

static const char *errname(long r)
{
	static char buf[64];

	if (r >= 0) {
		snprintf(buf, sizeof(buf), "%ld", r);
		return buf;
	}
	snprintf(buf, sizeof(buf), "-%s", strerrorname_np((int)-r) ?
		 strerrorname_np((int)-r) : "?");
	return buf;
}

static long check_ok(long r, const char *expr, const char *file, int line)
{
	if (r < 0) {
		print_error("%s:%d: %s\n    returned %s, want success\n", file,
			    line, expr, errname(r));
		_fail(file, line);
	}
	return r;
}

static void check_err(long r, int e1, int e2, const char *expr,
		      const char *file, int line)
{
	if (r != -e1 && r != -e2) {
		if (e1 == e2)
			print_error("%s:%d: %s\n    returned %s, want -%s\n",
				    file, line, expr, errname(r),
				    strerrorname_np(e1));
		else
			print_error("%s:%d: %s\n    returned %s, want -%s or "
				    "-%s\n", file, line, expr, errname(r),
				    strerrorname_np(e1), strerrorname_np(e2));
		_fail(file, line);
	}
}

/* OK(expr): expr must not fail; evaluates to its result. */
#define OK(expr) check_ok((long)(expr), #expr, __FILE__, __LINE__)
/* ERR(expr, E): expr must fail with -E. */
#define ERR(expr, e) check_err((long)(expr), (e), (e), #expr, __FILE__, \
			       __LINE__)
/* ERR2(expr, E1, E2): either is allowed (POSIX leaves a choice). */
#define ERR2(expr, e1, e2) check_err((long)(expr), (e1), (e2), #expr, \
				     __FILE__, __LINE__)

static void put(struct uvfs_ctx *c, const char *path, const char *data)
{
	int fd = (int)OK(uvfs_open(c, path, O_CREAT | O_WRONLY | O_TRUNC,
				   0644));
	size_t n = strlen(data);

	assert_int_equal(OK(uvfs_write(c, fd, data, n)), n);
	OK(uvfs_close(c, fd));
}

/* Reads the whole file at path into buf (NUL-terminated); returns length. */
static size_t get(struct uvfs_ctx *c, const char *path, char *buf,
		  size_t size)
{
	int fd = (int)OK(uvfs_open(c, path, O_RDONLY, 0));
	size_t got = 0;
	ssize_t r;

	while (got + 1 < size &&
	       (r = OK(uvfs_read(c, fd, buf + got, size - 1 - got))) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	OK(uvfs_close(c, fd));
	return got;
}

#define ASSERT_CONTENT(c, path, want) do {                               \
		char buf_[4096];                                         \
		get((c), (path), buf_, sizeof(buf_));                    \
		assert_string_equal(buf_, (want));                       \
	} while (0)

static struct stat st_of(struct uvfs_ctx *c, const char *path)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	OK(uvfs_stat(c, path, &st));
	return st;
}

static struct stat lst_of(struct uvfs_ctx *c, const char *path)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	OK(uvfs_lstat(c, path, &st));
	return st;
}

static bool exists(struct uvfs_ctx *c, const char *path)
{
	struct stat st;
	int r = uvfs_lstat(c, path, &st);

	if (r != 0 && r != -ENOENT)
		fail_msg("lstat(%s) = %s", path, errname(r));
	return r == 0;
}

static const char *abs_path(const char *rel)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", D, rel);
	return b;
}

static struct uvfs_ctx *new_ctx(uid_t uid, gid_t gid)
{
	struct uvfs_cred cred = { .uid = uid, .gid = gid, .ngroups = 1,
				  .groups = { gid } };
	struct uvfs_ctx *c = NULL;
	int i;

	OK(uvfs_ctx_new(U, uid == 0 && gid == 0 ? NULL : &cred, &c));
	for (i = 0; i < MAX_EXTRA && extra[i]; i++)
		;
	assert_true(i < MAX_EXTRA);
	extra[i] = c;
	OK(uvfs_chdir(c, D));
	return c;
}

/* Mounts a fresh memfs at D/rel; the teardown unmounts it if the test
 * did not. */
static void mount_memfs(const char *rel)
{
	int i;

	OK(uvfs_mkdir(C, rel, 0755));
	OK(uvfs_mount(C, "memfs", "none", abs_path(rel), ""));
	for (i = 0; i < MAX_EXTRA && extra_mounts[i][0]; i++)
		;
	assert_true(i < MAX_EXTRA);
	snprintf(extra_mounts[i], sizeof(extra_mounts[i]), "%s",
		 abs_path(rel));
}

static void umount_memfs(const char *rel)
{
	int i;

	OK(uvfs_umount(C, abs_path(rel), 0));
	for (i = 0; i < MAX_EXTRA; i++)
		if (strcmp(extra_mounts[i], abs_path(rel)) == 0)
			extra_mounts[i][0] = '\0';
}

/* Longer than any attribute cache of a remote type (actimeo=1000 ms):
 * what follows asks the server again. */
#define ATTR_CACHE_MS 1200

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

/* Sets atime and mtime of path to an old explicit time. */
static void age(const char *path)
{
	struct timespec t[2] = { { 1000, 0 }, { 1000, 0 } };

	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW));
}

/* ---- fixtures ---------------------------------------------------------- */

/* A setup that fails says why, and leaves nothing behind: cmocka runs
 * no teardown after it (a context left would end the program at
 * uvfs_free, hiding the first failure behind a leak). */
static int t_setup(void **state)
{
	int r;

	(void)state;
	memset(extra, 0, sizeof(extra));
	memset(extra_mounts, 0, sizeof(extra_mounts));
	snprintf(D, sizeof(D), MNT "/t%03u", ++test_no);
	r = uvfs_ctx_new(U, NULL, &C);
	if (r != 0) {
		print_error("setup: uvfs_ctx_new: %s\n", errname(r));
		C = NULL;
		return -1;
	}
	r = uvfs_mkdir(C, D, 0755);
	if (r != 0)
		print_error("setup: mkdir %s: %s\n", D, errname(r));
	else if ((r = uvfs_chdir(C, D)) != 0)
		print_error("setup: chdir %s: %s\n", D, errname(r));
	if (r != 0) {
		uvfs_ctx_free(C);
		C = NULL;
		return -1;
	}
	return 0;
}

static int t_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < MAX_EXTRA; i++)
		if (extra[i])
			uvfs_ctx_free(extra[i]);
	uvfs_ctx_free(C);
	C = NULL;
	if (uvfs_ctx_new(U, NULL, &C) == 0) {
		for (i = 0; i < MAX_EXTRA; i++)
			if (extra_mounts[i][0])
				uvfs_umount(C, extra_mounts[i],
					    UVFS_UMOUNT_FORCE);
		uvfs_ctx_free(C);
	}
	C = NULL;
	return 0;
}

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the helpers and fixtures above ---------- */

#include "conformance_io.c"          /* open, data, descriptors, O_DIRECT */
#include "conformance_attrs.c"       /* stat, attributes, permissions */
#include "conformance_names.c"       /* directories, rename, readdir */
#include "conformance_links.c"       /* hard and symbolic links */
#include "conformance_paths.c"       /* resolution, cwd, mounts, chroot */
#include "conformance_xattr.c"       /* extended attributes */
#include "conformance_fileops.c"     /* fallocate, SEEK_DATA, copy_file_range */
#include "conformance_locks.c"       /* file locks */

/* ---- main -------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creat),
		T(test_open_excl),
		T(test_open_trunc),
		T(test_open_trunc_empty),
		T(test_ftruncate_same_size_times),
		T(test_open_append),
		T(test_open_directory),
		T(test_open_nofollow),
		T(test_open_path),
		T(test_openat),
		T(test_read_write),
		T(test_holes),
		T(test_truncate),
		T(test_stat_family),
		T(test_access),
		T(test_mkdir),
		T(test_rmdir),
		T(test_unlink),
		T(test_rename_file),
		T(test_rename_exchange),
		T(test_rename_dirs),
		T(test_rename_exdev),
		T(test_link),
		T(test_symlink_readlink),
		T(test_symlink_loops),
		T(test_trailing_slash),
		T(test_name_max),
		T(test_readdir_all),
		T(test_readdir_cookies),
		T(test_chdir_getcwd),
		T(test_mount_crossing),
		T(test_chroot),
		T(test_statfs),
		T(test_chmod),
		T(test_create_setid_mode),
		T(test_chown),
		T(test_utimens),
		T(test_times_change),
		T(test_mknod),
		T(test_fsync),
		T(test_dup),
		T(test_close),
		T(test_ebadf),
		T(test_perm_basic),
		T(test_getcwd_without_search),
		T(test_perm_owner),
		T(test_perm_sticky),
		T(test_perm_setgid_umask),
		T(test_xattr),
		T(test_xattr_large),
		T(test_xattr_names),
		T(test_xattr_perm),
		T(test_xattr_links),
		T(test_xattr_rdonly),
		T(test_fallocate),
		T(test_fallocate_errors),
		T(test_fileops_setid),
		T(test_seek_data),
		T(test_copy_file_range),
		T(test_copy_file_range_errors),
		T(test_copy_file_range_sparse),
		T(test_link_first_name_gone),
		T(test_link_rename_survivor),
		T(test_link_unlink_open),
		T(test_unlink_open_name_reused),
		T(test_deep_paths),
		T(test_o_direct),

		T(test_lock_conflict),
		T(test_lock_ranges),
		T(test_lock_args),
		T(test_lock_close_releases),
		T(test_lock_flock),
		T(test_lock_wait_unlock),
		T(test_lock_wait_timeout),
		T(test_lock_wait_revoke),
		T(test_lock_wait_umount),
	};
	struct uvfs_ctx *root;
	struct uvfs_stats st;
	int r, failed;

	if (argc > 1)
		fs_type = argv[1];
	if (argc > 2)
		fs_source = argv[2];
	if (argc > 3)
		fs_options = argv[3];

	r = uvfs_new(NULL, &U);
	if (r != 0) {
		fprintf(stderr, "conformance: uvfs_new: %s\n", strerror(-r));
		return 1;
	}
	r = uvfs_ctx_new(U, NULL, &root);
#ifdef UVFS_CONFORMANCE_9P
	/* the 9P client driver is a separate library: register it here */
	if (r == 0 && (strcmp(fs_type, "9p") == 0 ||
		       strcmp(fs_type, "hostfs") == 0))
		r = uvfs_9p_register(U);
#endif
#ifdef UVFS_CONFORMANCE_NFS
	if (r == 0 && strcmp(fs_type, "nfs") == 0)
		r = uvfs_nfs_register(U);
#endif
#ifdef UVFS_CONFORMANCE_TESTFS
	if (r == 0 && strcmp(fs_type, "testfs") == 0)
		r = uvfs_fstype_register(U, &testfs_ops);
#endif
	if (r == 0)
		r = uvfs_mkdir(root, "/mnt", 0755);
	if (r == 0)
		r = uvfs_mkdir(root, MNT, 0755);
	if (r != 0) {
		fprintf(stderr, "conformance: cannot prepare " MNT ": %s\n",
			strerror(-r));
		return 1;
	}
	r = uvfs_mount(root, fs_type, fs_source, MNT, fs_options);
	if (r != 0) {
		fprintf(stderr, "conformance: SKIP: cannot mount %s (%s) at "
			MNT ": %s\n", fs_type, fs_source, strerror(-r));
		uvfs_ctx_free(root);
		uvfs_free(U);
		return 77;
	}
	printf("conformance: type %s, source %s, options \"%s\"\n", fs_type,
	       fs_source, fs_options);

	/* UVFS_TEST_FILTER=pattern runs only the matching tests */
	if (getenv("UVFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UVFS_TEST_FILTER"));
	/* UVFS_TEST_SKIP="test_a,test_b" leaves those tests out (a server
	 * type that cannot pass them; the caller says why) */
	struct CMUnitTest run[sizeof(tests) / sizeof(tests[0])];
	size_t nrun = 0;
	const char *skip = getenv("UVFS_TEST_SKIP");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		const char *p = skip ? strstr(skip, tests[i].name) : NULL;
		size_t l = strlen(tests[i].name);
		while (p && !((p == skip || p[-1] == ',') &&
			      (p[l] == ',' || p[l] == '\0')))
			p = strstr(p + 1, tests[i].name);
		if (p)
			printf("conformance: skipping %s\n", tests[i].name);
		else
			run[nrun++] = tests[i];
	}
	failed = _cmocka_run_group_tests(fs_type, run, nrun, NULL, NULL);

	/* nothing may be left open */
	uvfs_stats(U, &st);
	if (st.files != 0 || st.contexts != 1 || st.nodes != 0) {
		fprintf(stderr, "conformance: leak after the tests: files %llu "
			"contexts %llu nodes %llu\n",
			(unsigned long long)st.files,
			(unsigned long long)st.contexts,
			(unsigned long long)st.nodes);
		failed++;
	}
	r = uvfs_umount(root, MNT, 0);
	if (r != 0) {
		struct uvfs_holder *h = NULL;
		size_t n = 0, i;

		fprintf(stderr, "conformance: umount " MNT ": %s\n",
			strerror(-r));
		if (uvfs_holders(root, MNT, &h, &n) == 0)
			for (i = 0; i < n; i++)
				fprintf(stderr, "  holder %s ctx %llu fd %d "
					"%s\n", uvfs_holder_kind_name(h[i].kind),
					(unsigned long long)h[i].ctx_id,
					h[i].fd, h[i].path);
		free(h);
		failed++;
	}
	uvfs_ctx_free(root);
	uvfs_free(U);
	return failed ? 1 : 0;
}

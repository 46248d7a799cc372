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

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

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

/* ---- open -------------------------------------------------------------- */

static void test_open_creat(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	ERR(uvfs_open(C, "f", O_RDONLY, 0), ENOENT);
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644); /* umask 022 */
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_uid, 0);
	OK(uvfs_close(C, fd));
	/* O_CREAT without O_EXCL on an existing file opens it */
	put(C, "f", "data");
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0600));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_close(C, fd));
	/* a missing directory on the way */
	ERR(uvfs_open(C, "nodir/f", O_CREAT | O_WRONLY, 0644), ENOENT);
	ERR(uvfs_open(C, "", O_RDONLY, 0), ENOENT);
	/* a file as a directory */
	ERR(uvfs_open(C, "f/g", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	/* O_CREAT through a dangling symlink creates its target */
	OK(uvfs_symlink(C, "target", "dangle"));
	fd = (int)OK(uvfs_open(C, "dangle", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	st = lst_of(C, "target");
	assert_true(S_ISREG(st.st_mode));
	/* O_CREAT on an existing directory */
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "d", O_CREAT | O_WRONLY, 0644), EISDIR);
	/* absolute path */
	fd = (int)OK(uvfs_open(C, abs_path("f"), O_RDONLY, 0));
	OK(uvfs_close(C, fd));
}

static void test_open_excl(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "d", O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
	/* O_EXCL never follows a symlink: EEXIST even when it dangles */
	OK(uvfs_symlink(C, "f", "l"));
	ERR(uvfs_open(C, "l", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	OK(uvfs_symlink(C, "missing", "dl"));
	ERR(uvfs_open(C, "dl", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	assert_false(exists(C, "missing"));
}

static void test_open_trunc(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "hello");
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 0);
	OK(uvfs_write(C, fd, "x", 1));
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "f", "x");
	fd = (int)OK(uvfs_open(C, "f", O_RDWR | O_CREAT | O_TRUNC, 0644));
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "f").st_size, 0);
}

static bool ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* O_TRUNC of a file that is empty already still moves its mtime and
 * ctime, as Linux's do_truncate for an open (ATTR_MTIME|ATTR_CTIME at
 * any size; truncate(2) to the size a file has moves nothing). */
static void test_open_trunc_empty(void **state)
{
	struct timespec pause = { 0, 50 * 1000000L };
	struct stat before, after;
	int fd;

	(void)state;
	put(C, "e", "");
	age("e");
	before = st_of(C, "e");
	assert_int_equal(before.st_mtim.tv_sec, 1000);
	nanosleep(&pause, NULL);        /* past a coarse clock's tick */
	fd = (int)OK(uvfs_open(C, "e", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_int_equal(after.st_size, 0);
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	/* the same through O_RDWR|O_CREAT on the existing file */
	age("e");
	before = st_of(C, "e");
	nanosleep(&pause, NULL);
	fd = (int)OK(uvfs_open(C, "e", O_RDWR | O_CREAT | O_TRUNC, 0644));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	/* without O_TRUNC an open for writing moves nothing */
	age("e");
	before = st_of(C, "e");
	nanosleep(&pause, NULL);
	fd = (int)OK(uvfs_open(C, "e", O_WRONLY, 0));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_int_equal(after.st_mtim.tv_sec, 1000);
	assert_false(ts_after(after.st_ctim, before.st_ctim));
}

/* ftruncate(2) moves mtime and ctime even to the size the file has
 * (Linux's do_ftruncate passes ATTR_MTIME|ATTR_CTIME); truncate(2) to the
 * same size is left to the file system. */
static void test_ftruncate_same_size_times(void **state)
{
	struct timespec pause = { 0, 50 * 1000000L };
	struct stat before, after;
	int fd;

	(void)state;
	put(C, "s", "abc");
	age("s");
	before = st_of(C, "s");
	nanosleep(&pause, NULL);        /* past a coarse clock's tick */
	fd = (int)OK(uvfs_open(C, "s", O_WRONLY, 0));
	OK(uvfs_ftruncate(C, fd, 3));
	OK(uvfs_close(C, fd));
	after = st_of(C, "s");
	assert_int_equal(after.st_size, 3);
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	ASSERT_CONTENT(C, "s", "abc");
}

static void test_open_append(void **state)
{
	int fd, fd2;

	(void)state;
	put(C, "f", "ab");
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_APPEND, 0));
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_write(C, fd, "cd", 2)), 2);
	/* the offset is at the end after an appending write */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 4);
	fd2 = (int)OK(uvfs_open(C, "f", O_RDWR | O_APPEND, 0));
	OK(uvfs_write(C, fd2, "1", 1));
	OK(uvfs_lseek(C, fd, 1, SEEK_SET));
	OK(uvfs_write(C, fd, "2", 1));
	OK(uvfs_lseek(C, fd2, 0, SEEK_SET));
	OK(uvfs_write(C, fd2, "3", 1));
	OK(uvfs_close(C, fd));
	OK(uvfs_close(C, fd2));
	ASSERT_CONTENT(C, "f", "abcd123");
}

static void test_open_directory(void **state)
{
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "f", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
	fd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, "d", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "d", O_WRONLY, 0), EISDIR);
	ERR(uvfs_open(C, "d", O_RDWR, 0), EISDIR);
	/* O_DIRECTORY follows a symlink to a directory, not to a file */
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_symlink(C, "f", "lf"));
	fd = (int)OK(uvfs_open(C, "ld", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "lf", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
}

static void test_open_nofollow(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_symlink(C, "f", "l"));
	ERR(uvfs_open(C, "l", O_RDONLY | O_NOFOLLOW, 0), ELOOP);
	ERR(uvfs_open(C, "l", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), ELOOP);
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY | O_NOFOLLOW, 0));
	OK(uvfs_close(C, fd));
	/* only the last component is not followed */
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/g", "y");
	OK(uvfs_symlink(C, "d", "ld"));
	fd = (int)OK(uvfs_open(C, "ld/g", O_RDONLY | O_NOFOLLOW, 0));
	OK(uvfs_close(C, fd));
	/* O_PATH | O_NOFOLLOW opens the symlink itself */
	fd = (int)OK(uvfs_open(C, "l", O_PATH | O_NOFOLLOW, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISLNK(st.st_mode));
	OK(uvfs_close(C, fd));
}

static void test_open_path(void **state)
{
	struct uvfs_dirent de[4];
	struct stat st;
	char buf[8];
	int fd, dfd, fd2;

	(void)state;
	put(C, "f", "hello");
	fd = (int)OK(uvfs_open(C, "f", O_PATH, 0));
	ERR(uvfs_read(C, fd, buf, sizeof(buf)), EBADF);
	ERR(uvfs_write(C, fd, "x", 1), EBADF);
	ERR(uvfs_pread(C, fd, buf, sizeof(buf), 0), EBADF);
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, fd, "", &st, AT_EMPTY_PATH));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(C, fd));

	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/g", "inner");
	dfd = (int)OK(uvfs_open(C, "d", O_PATH | O_DIRECTORY, 0));
	ERR(uvfs_readdir(C, dfd, de, 4), EBADF);
	fd2 = (int)OK(uvfs_openat(C, dfd, "g", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_read(C, fd2, buf, sizeof(buf))), 5);
	assert_memory_equal(buf, "inner", 5);
	OK(uvfs_close(C, fd2));
	OK(uvfs_fstatat(C, dfd, "g", &st, 0));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(C, dfd));
}

static void test_openat(void **state)
{
	struct stat st;
	int dfd, fd, ffd;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	fd = (int)OK(uvfs_openat(C, dfd, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_write(C, fd, "at", 2));
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "d/f", "at");
	/* relative to the cwd */
	fd = (int)OK(uvfs_openat(C, UVFS_AT_FDCWD, "d/f", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* an absolute path ignores dirfd */
	put(C, "top", "t");
	fd = (int)OK(uvfs_openat(C, dfd, abs_path("top"), O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* "..": relative to dirfd */
	fd = (int)OK(uvfs_openat(C, dfd, "../top", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* a file as dirfd */
	ffd = (int)OK(uvfs_open(C, "top", O_RDONLY, 0));
	ERR(uvfs_openat(C, ffd, "x", O_RDONLY, 0), ENOTDIR);
	ERR(uvfs_mkdirat(C, ffd, "x", 0755), ENOTDIR);
	OK(uvfs_close(C, ffd));
	/* the *at family */
	OK(uvfs_mkdirat(C, dfd, "sub", 0700));
	st = st_of(C, "d/sub");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	OK(uvfs_fstatat(C, dfd, "f", &st, 0));
	assert_int_equal(st.st_size, 2);
	OK(uvfs_renameat2(C, dfd, "f", UVFS_AT_FDCWD, "moved", 0));
	ASSERT_CONTENT(C, "moved", "at");
	ERR(uvfs_unlinkat(C, dfd, "f", 0), ENOENT);
	ERR(uvfs_unlinkat(C, dfd, "sub", 0), EISDIR);
	OK(uvfs_unlinkat(C, dfd, "sub", AT_REMOVEDIR));
	assert_false(exists(C, "d/sub"));
	ERR(uvfs_unlinkat(C, UVFS_AT_FDCWD, "moved", AT_REMOVEDIR), ENOTDIR);
	OK(uvfs_unlinkat(C, UVFS_AT_FDCWD, "moved", 0));
	OK(uvfs_close(C, dfd));
}

/* ---- data -------------------------------------------------------------- */

static void test_read_write(void **state)
{
	char buf[64];
	int fd, rfd, wfd, dfd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_write(C, fd, "hello world", 11)), 11);
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 0);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_read(C, fd, buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(OK(uvfs_lseek(C, fd, 1, SEEK_CUR)), 6);
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(OK(uvfs_lseek(C, fd, -5, SEEK_END)), 6);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_END)), 11);
	ERR(uvfs_lseek(C, fd, -1, SEEK_SET), EINVAL);
	ERR(uvfs_lseek(C, fd, -20, SEEK_END), EINVAL);
	ERR(uvfs_lseek(C, fd, -12, SEEK_CUR), EINVAL);
	ERR(uvfs_lseek(C, fd, 0, 12345), EINVAL);
	/* the offset did not move on the failures */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 11);
	/* pread/pwrite leave the offset alone */
	assert_int_equal(OK(uvfs_lseek(C, fd, 2, SEEK_SET)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, 5, 6)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(OK(uvfs_pwrite(C, fd, "W", 1, 6)), 1);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 100)), 0);
	ERR(uvfs_pread(C, fd, buf, 1, -1), EINVAL);
	ERR(uvfs_pwrite(C, fd, "x", 1, -1), EINVAL);
	/* a zero-length read and write */
	assert_int_equal(OK(uvfs_read(C, fd, buf, 0)), 0);
	assert_int_equal(OK(uvfs_write(C, fd, buf, 0)), 0);
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "f", "hello World");

	/* access modes */
	rfd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	wfd = (int)OK(uvfs_open(C, "f", O_WRONLY, 0));
	ERR(uvfs_write(C, rfd, "x", 1), EBADF);
	ERR(uvfs_pwrite(C, rfd, "x", 1, 0), EBADF);
	ERR(uvfs_read(C, wfd, buf, 1), EBADF);
	ERR(uvfs_pread(C, wfd, buf, 1, 0), EBADF);
	OK(uvfs_close(C, rfd));
	OK(uvfs_close(C, wfd));

	/* read on a directory */
	OK(uvfs_mkdir(C, "d", 0755));
	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_read(C, dfd, buf, 1), EISDIR);
	OK(uvfs_close(C, dfd));

	/* writes past the end after lseek */
	fd = (int)OK(uvfs_open(C, "g", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_lseek(C, fd, 10, SEEK_SET)), 10);
	OK(uvfs_write(C, fd, "z", 1));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 11);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0\0\0z", 11);
	OK(uvfs_close(C, fd));
}

static void test_holes(void **state)
{
	static char big[70000];
	char buf[4096];
	struct stat st;
	size_t i;
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "x", 1, 1 << 20)), 1);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, (1 << 20) + 1);
	memset(buf, 'q', sizeof(buf));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)),
			 sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != 0)
			fail_msg("byte %zu of a hole is %d", i, buf[i]);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, 20, (1 << 20) - 10)), 11);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[10], 'x');
	/* a large write and read back, across any block size */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	assert_int_equal(OK(uvfs_pwrite(C, fd, big, sizeof(big), 12345)),
			 sizeof(big));
	{
		static char back[70000];
		size_t got = 0;
		ssize_t r;

		while (got < sizeof(back)) {
			r = OK(uvfs_pread(C, fd, back + got,
					  sizeof(back) - got,
					  12345 + (off_t)got));
			assert_true(r > 0);
			got += (size_t)r;
		}
		assert_memory_equal(back, big, sizeof(big));
	}
	OK(uvfs_close(C, fd));
}

static void test_truncate(void **state)
{
	char buf[128];
	struct stat st;
	int fd, rfd;

	(void)state;
	put(C, "f", "hello");
	OK(uvfs_truncate(C, "f", 100));
	assert_int_equal(st_of(C, "f").st_size, 100);
	assert_int_equal(get(C, "f", buf, sizeof(buf)), 100);
	assert_memory_equal(buf, "hello\0\0\0", 8);
	assert_int_equal(buf[99], 0);
	OK(uvfs_truncate(C, "f", 3));
	assert_int_equal(st_of(C, "f").st_size, 3);
	/* what was cut off does not come back when growing again */
	OK(uvfs_truncate(C, "f", 5));
	assert_int_equal(get(C, "f", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hel\0\0", 5);
	ERR(uvfs_truncate(C, "f", -1), EINVAL);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_truncate(C, "d", 0), EISDIR);
	ERR(uvfs_truncate(C, "missing", 0), ENOENT);
	ERR(uvfs_truncate(C, "f/x", 0), ENOTDIR);
	/* through a symlink */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_truncate(C, "l", 1));
	assert_int_equal(st_of(C, "f").st_size, 1);

	fd = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	OK(uvfs_ftruncate(C, fd, 4096));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 4096);
	OK(uvfs_ftruncate(C, fd, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 0);
	ERR(uvfs_ftruncate(C, fd, -5), EINVAL);
	OK(uvfs_close(C, fd));
	/* ftruncate needs a descriptor open for writing */
	rfd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	ERR2(uvfs_ftruncate(C, rfd, 0), EINVAL, EBADF);
	OK(uvfs_close(C, rfd));
	rfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR2(uvfs_ftruncate(C, rfd, 0), EINVAL, EBADF);
	OK(uvfs_close(C, rfd));
}

/* ---- stat -------------------------------------------------------------- */

static void test_stat_family(void **state)
{
	struct stat st, st2;
	int fd, dfd;

	(void)state;
	put(C, "f", "12345");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_symlink(C, "nowhere", "dl"));

	st = st_of(C, "f");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_nlink, 1);
	st2 = st_of(C, "l");
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_dev, st.st_dev);
	st2 = lst_of(C, "l");
	assert_true(S_ISLNK(st2.st_mode));
	assert_int_equal(st2.st_size, 1); /* strlen("f") */
	assert_int_not_equal(st2.st_ino, st.st_ino);
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_true(st.st_nlink >= 1);
	ERR(uvfs_stat(C, "dl", &st), ENOENT);
	st = lst_of(C, "dl");
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 7);
	ERR(uvfs_stat(C, "missing", &st), ENOENT);
	ERR(uvfs_lstat(C, "missing", &st), ENOENT);
	ERR(uvfs_stat(C, "", &st), ENOENT);
	ERR(uvfs_stat(C, "f/x", &st), ENOTDIR);

	/* "." and ".." */
	st = st_of(C, ".");
	st2 = st_of(C, D);
	assert_int_equal(st.st_ino, st2.st_ino);
	st = st_of(C, "d/..");
	assert_int_equal(st.st_ino, st2.st_ino);

	/* fstatat */
	dfd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fstatat(C, dfd, "l", &st, 0));
	assert_true(S_ISREG(st.st_mode));
	OK(uvfs_fstatat(C, dfd, "l", &st, AT_SYMLINK_NOFOLLOW));
	assert_true(S_ISLNK(st.st_mode));
	OK(uvfs_fstatat(C, dfd, "", &st, AT_EMPTY_PATH));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, st2.st_ino);
	ERR(uvfs_fstatat(C, dfd, "", &st, 0), ENOENT);
	OK(uvfs_fstatat(C, UVFS_AT_FDCWD, "f", &st, 0));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, UVFS_AT_FDCWD, "", &st, AT_EMPTY_PATH));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_close(C, dfd));

	/* fstat */
	fd = (int)OK(uvfs_open(C, "l", O_RDONLY, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, fd, "", &st2, AT_EMPTY_PATH));
	assert_int_equal(st2.st_ino, st.st_ino);
	OK(uvfs_close(C, fd));
}

static void test_access(void **state)
{
	(void)state;
	put(C, "f", "x");
	OK(uvfs_chmod(C, "f", 0644));
	OK(uvfs_access(C, "f", F_OK));
	OK(uvfs_access(C, "f", R_OK | W_OK));
	/* root needs one execute bit for X_OK */
	ERR(uvfs_access(C, "f", X_OK), EACCES);
	OK(uvfs_chmod(C, "f", 0100));
	OK(uvfs_access(C, "f", R_OK | W_OK | X_OK));
	ERR(uvfs_access(C, "missing", F_OK), ENOENT);
	ERR(uvfs_access(C, "f/x", F_OK), ENOTDIR);
	OK(uvfs_access(C, ".", R_OK | W_OK | X_OK));
}

/* ---- directories ------------------------------------------------------- */

static void test_mkdir(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0777));
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 0);
	ERR(uvfs_mkdir(C, "d", 0755), EEXIST);
	put(C, "f", "x");
	ERR(uvfs_mkdir(C, "f", 0755), EEXIST);
	OK(uvfs_symlink(C, "nowhere", "dl"));
	ERR(uvfs_mkdir(C, "dl", 0755), EEXIST);
	assert_false(exists(C, "nowhere"));
	ERR(uvfs_mkdir(C, "missing/d", 0755), ENOENT);
	ERR(uvfs_mkdir(C, "f/d", 0755), ENOTDIR);
	ERR(uvfs_mkdir(C, "", 0755), ENOENT);
	ERR(uvfs_mkdir(C, ".", 0755), EEXIST);
	OK(uvfs_mkdir(C, "d/e", 0700));
	OK(uvfs_mkdir(C, "d/e/f", 0700));
	assert_true(S_ISDIR(st_of(C, "d/e/f").st_mode));
	/* a trailing slash is fine for mkdir */
	OK(uvfs_mkdir(C, "g/", 0755));
	assert_true(S_ISDIR(st_of(C, "g").st_mode));
	/* the mode's special bits */
	OK(uvfs_mkdir(C, "s", 01777));
	assert_int_equal(st_of(C, "s").st_mode & 07777, 01755);
}

static void test_rmdir(void **state)
{
	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/f", "x");
	ERR2(uvfs_rmdir(C, "d"), ENOTEMPTY, EEXIST);
	OK(uvfs_unlink(C, "d/f"));
	OK(uvfs_mkdir(C, "d/sub", 0755));
	ERR2(uvfs_rmdir(C, "d"), ENOTEMPTY, EEXIST);
	ERR(uvfs_rmdir(C, "d/sub/."), EINVAL);
	ERR(uvfs_rmdir(C, "."), EINVAL);
	OK(uvfs_rmdir(C, "d/sub"));
	OK(uvfs_rmdir(C, "d/"));
	assert_false(exists(C, "d"));
	ERR(uvfs_rmdir(C, "d"), ENOENT);
	put(C, "f", "x");
	ERR(uvfs_rmdir(C, "f"), ENOTDIR);
	OK(uvfs_mkdir(C, "e", 0755));
	OK(uvfs_symlink(C, "e", "le"));
	ERR(uvfs_rmdir(C, "le"), ENOTDIR);
	assert_true(exists(C, "e"));
	ERR(uvfs_rmdir(C, "missing/x"), ENOENT);
	ERR(uvfs_rmdir(C, "f/x"), ENOTDIR);
	/* a removed directory that is still open lists nothing and takes no
	 * new names */
	{
		struct uvfs_dirent de[4];
		long r;
		int dfd;

		OK(uvfs_mkdir(C, "gone", 0755));
		dfd = (int)OK(uvfs_open(C, "gone", O_RDONLY | O_DIRECTORY, 0));
		OK(uvfs_rmdir(C, "gone"));
		r = uvfs_readdir(C, dfd, de, 4);
		if (r != 0 && r != -ENOENT)
			fail_msg("readdir of a removed directory: %s",
				 errname(r));
		ERR(uvfs_openat(C, dfd, "x", O_CREAT | O_WRONLY, 0644),
		    ENOENT);
		ERR(uvfs_mkdirat(C, dfd, "x", 0755), ENOENT);
		OK(uvfs_close(C, dfd));
	}
	/* rmdir of the cwd is allowed; the cwd then is unreachable */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		char buf[512];
		struct stat st;

		OK(uvfs_chdir(c2, "e"));
		OK(uvfs_rmdir(C, "e"));
		ERR(uvfs_getcwd(c2, buf, sizeof(buf)), ENOENT);
		ERR(uvfs_open(c2, "new", O_CREAT | O_WRONLY, 0644), ENOENT);
		OK(uvfs_stat(c2, ".", &st));
		assert_int_equal(st.st_nlink, 0);
	}
}

static void test_unlink(void **state)
{
	struct stat st;
	char buf[16];
	int fd;

	(void)state;
	put(C, "f", "data");
	OK(uvfs_unlink(C, "f"));
	assert_false(exists(C, "f"));
	ERR(uvfs_unlink(C, "f"), ENOENT);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_unlink(C, "d"), EISDIR);
	ERR(uvfs_unlink(C, "missing/x"), ENOENT);
	/* unlinking a symlink removes the link, not the target */
	put(C, "t", "target");
	OK(uvfs_symlink(C, "t", "l"));
	OK(uvfs_unlink(C, "l"));
	assert_false(exists(C, "l"));
	ASSERT_CONTENT(C, "t", "target");
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_unlink(C, "ld"));
	assert_true(exists(C, "d"));
	/* an open file survives its last name */
	fd = (int)OK(uvfs_open(C, "t", O_RDWR, 0));
	OK(uvfs_unlink(C, "t"));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	OK(uvfs_pwrite(C, fd, "T", 1, 0));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 6);
	assert_memory_equal(buf, "Target", 6);
	OK(uvfs_close(C, fd));
	/* a trailing slash on a file */
	put(C, "g", "x");
	ERR2(uvfs_unlink(C, "g/"), ENOTDIR, EISDIR);
	assert_true(exists(C, "g"));
	ERR(uvfs_unlink(C, "g/x"), ENOTDIR);
}

/* ---- rename ------------------------------------------------------------ */

static void test_rename_file(void **state)
{
	struct stat st, st2;
	char buf[16];
	int fd;

	(void)state;
	put(C, "a", "AAA");
	st = st_of(C, "a");
	OK(uvfs_rename(C, "a", "b", 0));
	assert_false(exists(C, "a"));
	st2 = st_of(C, "b");
	assert_int_equal(st2.st_ino, st.st_ino);
	ASSERT_CONTENT(C, "b", "AAA");

	/* replace: the old target lives on while open */
	put(C, "c", "CC");
	fd = (int)OK(uvfs_open(C, "c", O_RDONLY, 0));
	OK(uvfs_rename(C, "b", "c", 0));
	ASSERT_CONTENT(C, "c", "AAA");
	assert_false(exists(C, "b"));
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 2);
	assert_memory_equal(buf, "CC", 2);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	OK(uvfs_close(C, fd));

	/* onto itself and onto another link of itself: nothing happens */
	OK(uvfs_rename(C, "c", "c", 0));
	ASSERT_CONTENT(C, "c", "AAA");
	OK(uvfs_link(C, "c", "c2"));
	OK(uvfs_rename(C, "c", "c2", 0));
	assert_true(exists(C, "c"));
	assert_true(exists(C, "c2"));
	assert_int_equal(st_of(C, "c").st_nlink, 2);

	/* NOREPLACE */
	put(C, "x", "X");
	ERR(uvfs_rename(C, "x", "c", RENAME_NOREPLACE), EEXIST);
	ASSERT_CONTENT(C, "c", "AAA");
	ASSERT_CONTENT(C, "x", "X");
	OK(uvfs_rename(C, "x", "y", RENAME_NOREPLACE));
	ASSERT_CONTENT(C, "y", "X");

	/* into and out of directories */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_rename(C, "y", "d/y", 0));
	ASSERT_CONTENT(C, "d/y", "X");
	OK(uvfs_rename(C, "d/y", "z", 0));
	ASSERT_CONTENT(C, "z", "X");

	/* a symlink is renamed, not its target */
	OK(uvfs_symlink(C, "z", "l"));
	OK(uvfs_rename(C, "l", "l2", 0));
	assert_true(S_ISLNK(lst_of(C, "l2").st_mode));
	assert_true(exists(C, "z"));

	ERR(uvfs_rename(C, "missing", "q", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "nodir/q", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "c/q", 0), ENOTDIR);
	ERR(uvfs_rename(C, "z/", "q", 0), ENOTDIR);
	ERR(uvfs_rename(C, "z", "", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "q", RENAME_NOREPLACE | RENAME_EXCHANGE),
	    EINVAL);
	ERR(uvfs_rename(C, "z", "q", 0x1000), EINVAL);
}

static void test_rename_exchange(void **state)
{
	struct stat st;

	(void)state;
	put(C, "f", "FFF");
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/inner", "I");
	OK(uvfs_rename(C, "f", "d", RENAME_EXCHANGE));
	st = st_of(C, "f");
	assert_true(S_ISDIR(st.st_mode));
	ASSERT_CONTENT(C, "f/inner", "I");
	st = st_of(C, "d");
	assert_true(S_ISREG(st.st_mode));
	ASSERT_CONTENT(C, "d", "FFF");
	/* the moved directory's ".." is right */
	OK(uvfs_mkdir(C, "p", 0755));
	put(C, "p/g", "G");
	OK(uvfs_rename(C, "f", "p/g", RENAME_EXCHANGE));
	assert_int_equal(st_of(C, "p/g/..").st_ino, st_of(C, "p").st_ino);
	ASSERT_CONTENT(C, "f", "G");
	ASSERT_CONTENT(C, "p/g/inner", "I");
	/* both must exist */
	ERR(uvfs_rename(C, "f", "missing", RENAME_EXCHANGE), ENOENT);
	ERR(uvfs_rename(C, "missing", "f", RENAME_EXCHANGE), ENOENT);
	ASSERT_CONTENT(C, "f", "G");
	/* a directory with its own descendant */
	OK(uvfs_mkdir(C, "p/g/deep", 0755));
	ERR(uvfs_rename(C, "p/g", "p/g/deep", RENAME_EXCHANGE), EINVAL);
}

static void test_rename_dirs(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	put(C, "a/f", "x");
	OK(uvfs_mkdir(C, "full", 0755));
	put(C, "full/g", "y");
	OK(uvfs_mkdir(C, "empty", 0755));
	put(C, "file", "z");

	ERR2(uvfs_rename(C, "a", "full", 0), ENOTEMPTY, EEXIST);
	ASSERT_CONTENT(C, "full/g", "y");
	ERR(uvfs_rename(C, "file", "empty", 0), EISDIR);
	ERR(uvfs_rename(C, "a", "file", 0), ENOTDIR);
	ERR(uvfs_rename(C, "a", "a/sub", 0), EINVAL);
	OK(uvfs_mkdir(C, "a/s1", 0755));
	OK(uvfs_mkdir(C, "a/s1/s2", 0755));
	ERR(uvfs_rename(C, "a", "a/s1/s2/x", 0), EINVAL);
	ERR(uvfs_rename(C, "a/s1", "a/s1/s2/x", 0), EINVAL);
	/* dir over an empty dir */
	OK(uvfs_rename(C, "a", "empty", 0));
	assert_false(exists(C, "a"));
	ASSERT_CONTENT(C, "empty/f", "x");
	/* ".." follows the directory */
	OK(uvfs_mkdir(C, "other", 0755));
	OK(uvfs_rename(C, "empty/s1", "other/s1", 0));
	assert_int_equal(st_of(C, "other/s1/..").st_ino,
			 st_of(C, "other").st_ino);
	assert_true(S_ISDIR(st_of(C, "other/s1/s2").st_mode));
	/* trailing slashes are fine on directories */
	OK(uvfs_rename(C, "other/", "other2/", 0));
	st = st_of(C, "other2/s1/s2");
	assert_true(S_ISDIR(st.st_mode));
	/* a directory onto itself */
	OK(uvfs_rename(C, "other2", "other2", 0));
	/* the cwd of another context moves along */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		char buf[512];

		OK(uvfs_chdir(c2, "other2/s1"));
		OK(uvfs_rename(C, "other2", "third", 0));
		OK(uvfs_getcwd(c2, buf, sizeof(buf)));
		assert_string_equal(buf, abs_path("third/s1"));
	}
}

static void test_rename_exdev(void **state)
{
	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	mount_memfs("other");
	OK(uvfs_mkdir(C, "other/od", 0755));
	put(C, "other/of", "o");
	ERR(uvfs_rename(C, "f", "other/f", 0), EXDEV);
	ERR(uvfs_rename(C, "d", "other/d", 0), EXDEV);
	ERR(uvfs_rename(C, "other/of", "of", 0), EXDEV);
	ERR(uvfs_rename(C, "f", "other/of", RENAME_EXCHANGE), EXDEV);
	ERR(uvfs_link(C, "f", "other/f2"), EXDEV);
	ERR(uvfs_link(C, "other/of", "f3"), EXDEV);
	/* also across the mount under test and the root file system */
	ERR(uvfs_rename(C, "f", "/mnt/xdev-f", 0), EXDEV);
	ERR(uvfs_link(C, "f", "/mnt/xdev-f"), EXDEV);
	assert_true(exists(C, "f"));
	assert_false(exists(C, "/mnt/xdev-f"));
	/* a mount point cannot be renamed or removed */
	ERR(uvfs_rename(C, "other", "other2", 0), EBUSY);
	ERR(uvfs_rmdir(C, "other"), EBUSY);
	umount_memfs("other");
	assert_false(exists(C, "other/of"));
	OK(uvfs_rmdir(C, "other"));
}

/* ---- links ------------------------------------------------------------- */

static void test_link(void **state)
{
	struct stat st, st2;

	(void)state;
	put(C, "f", "data");
	OK(uvfs_link(C, "f", "g"));
	st = st_of(C, "f");
	st2 = st_of(C, "g");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st2.st_nlink, 2);
	assert_int_equal(st.st_ino, st2.st_ino);
	put(C, "g", "new");
	ASSERT_CONTENT(C, "f", "new");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_link(C, "f", "d/h"));
	assert_int_equal(st_of(C, "f").st_nlink, 3);
	OK(uvfs_unlink(C, "f"));
	assert_int_equal(st_of(C, "g").st_nlink, 2);
	OK(uvfs_unlink(C, "d/h"));
	assert_int_equal(st_of(C, "g").st_nlink, 1);
	ERR(uvfs_link(C, "d", "d2"), EPERM);
	put(C, "e", "e");
	ERR(uvfs_link(C, "g", "e"), EEXIST);
	ERR(uvfs_link(C, "g", "d"), EEXIST);
	ERR(uvfs_link(C, "missing", "m2"), ENOENT);
	ERR(uvfs_link(C, "g", "nodir/x"), ENOENT);
	ERR(uvfs_link(C, "g", "e/x"), ENOTDIR);
	assert_false(exists(C, "m2"));
}

static void test_symlink_readlink(void **state)
{
	char buf[512];
	struct stat st;
	const char *abst;

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	OK(uvfs_mkdir(C, "a/b", 0755));
	OK(uvfs_mkdir(C, "c", 0755));
	put(C, "c/f", "chain");

	OK(uvfs_symlink(C, "target", "l"));
	assert_int_equal(OK(uvfs_readlink(C, "l", buf, sizeof(buf))), 6);
	assert_memory_equal(buf, "target", 6);
	/* truncated, no NUL */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(OK(uvfs_readlink(C, "l", buf, 3)), 3);
	assert_memory_equal(buf, "tar#", 4);
	ERR(uvfs_readlink(C, "c/f", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_readlink(C, "c", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_readlink(C, "missing", buf, sizeof(buf)), ENOENT);
	ERR(uvfs_symlink(C, "x", "l"), EEXIST);
	ERR(uvfs_symlink(C, "x", "c"), EEXIST);
	ERR(uvfs_symlink(C, "x", "nodir/l"), ENOENT);
	ERR(uvfs_symlink(C, "", "empty"), ENOENT);

	/* relative: relative to the link's directory */
	OK(uvfs_symlink(C, "../c/f", "a/rel"));
	ASSERT_CONTENT(C, "a/rel", "chain");
	/* absolute */
	abst = abs_path("c/f");
	OK(uvfs_symlink(C, abst, "a/b/abs"));
	ASSERT_CONTENT(C, "a/b/abs", "chain");
	assert_int_equal(OK(uvfs_readlink(C, "a/b/abs", buf, sizeof(buf))),
			 strlen(abst));
	/* a chain through directories: l1 -> a/b/l2 -> ../../c */
	OK(uvfs_symlink(C, "a/b/l2", "l1"));
	OK(uvfs_symlink(C, "../../c", "a/b/l2"));
	ASSERT_CONTENT(C, "l1/f", "chain");
	st = st_of(C, "l1");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, st_of(C, "c").st_ino);
	/* ".." after a symlinked directory is the target's parent */
	OK(uvfs_symlink(C, "a/b", "lb"));
	assert_int_equal(st_of(C, "lb/..").st_ino, st_of(C, "a").st_ino);
	/* readlink on a symlink through symlinked directories */
	assert_int_equal(OK(uvfs_readlink(C, "l1", buf, sizeof(buf))), 6);
	/* readlink with trailing slash follows: not a symlink */
	ERR(uvfs_readlink(C, "lb/", buf, sizeof(buf)), EINVAL);
}

static void make_chain(const char *prefix, int n, const char *final)
{
	char name[64], target[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (i == n - 1)
			snprintf(target, sizeof(target), "%s", final);
		else
			snprintf(target, sizeof(target), "%s%d", prefix,
				 i + 1);
		OK(uvfs_symlink(C, target, name));
	}
}

static void test_symlink_loops(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "file", "end");
	OK(uvfs_symlink(C, "b", "a"));
	OK(uvfs_symlink(C, "a", "b"));
	OK(uvfs_symlink(C, "self", "self"));
	ERR(uvfs_stat(C, "a", &st), ELOOP);
	ERR(uvfs_open(C, "a", O_RDONLY, 0), ELOOP);
	ERR(uvfs_open(C, "a", O_CREAT | O_WRONLY, 0644), ELOOP);
	ERR(uvfs_stat(C, "self/x", &st), ELOOP);
	ERR(uvfs_chdir(C, "self"), ELOOP);
	OK(uvfs_lstat(C, "a", &st));
	/* Linux follows at most 40 symlinks per lookup */
	make_chain("s", 39, "file");
	ASSERT_CONTENT(C, "s0", "end");
	make_chain("t", 41, "file");
	ERR(uvfs_stat(C, "t0", &st), ELOOP);
	ERR(uvfs_open(C, "t0", O_RDONLY, 0), ELOOP);
	fd = (int)OK(uvfs_open(C, "s1", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
}

static void test_trailing_slash(void **state)
{
	struct stat st;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_symlink(C, "f", "lf"));
	ERR(uvfs_stat(C, "f/", &st), ENOTDIR);
	ERR(uvfs_lstat(C, "f/", &st), ENOTDIR);
	ERR(uvfs_open(C, "f/", O_RDONLY, 0), ENOTDIR);
	ERR(uvfs_stat(C, "lf/", &st), ENOTDIR);
	OK(uvfs_stat(C, "d/", &st));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_stat(C, "d//", &st));
	OK(uvfs_stat(C, "ld/", &st));
	assert_true(S_ISDIR(st.st_mode));
	/* a trailing slash makes lstat follow */
	OK(uvfs_lstat(C, "ld/", &st));
	assert_true(S_ISDIR(st.st_mode));
	ERR2(uvfs_open(C, "new/", O_CREAT | O_WRONLY, 0644), EISDIR, ENOTDIR);
	assert_false(exists(C, "new"));
	/* repeated slashes and dots */
	put(C, "d/g", "g");
	ASSERT_CONTENT(C, "d//g", "g");
	ASSERT_CONTENT(C, "./d/./g", "g");
	ASSERT_CONTENT(C, "d/../d/g", "g");
	ASSERT_CONTENT(C, "ld/../d/g", "g");
	OK(uvfs_stat(C, "d/.", &st));
	ERR(uvfs_stat(C, "f/.", &st), ENOTDIR);
	ERR(uvfs_stat(C, "f/..", &st), ENOTDIR);
	ERR(uvfs_stat(C, "missing/..", &st), ENOENT);
}

static void test_name_max(void **state)
{
	char n255[256], n256[257], path[300];
	struct stat st;
	int fd;

	(void)state;
	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'b', 256);
	n256[256] = '\0';
	fd = (int)OK(uvfs_open(C, n255, O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	OK(uvfs_stat(C, n255, &st));
	ERR(uvfs_open(C, n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	ERR(uvfs_stat(C, n256, &st), ENAMETOOLONG);
	ERR(uvfs_mkdir(C, n256, 0755), ENAMETOOLONG);
	ERR(uvfs_symlink(C, "x", n256), ENAMETOOLONG);
	ERR(uvfs_rename(C, n255, n256, 0), ENAMETOOLONG);
	ERR(uvfs_link(C, n255, n256), ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/x", n256);
	ERR(uvfs_stat(C, path, &st), ENAMETOOLONG);
	/* a whole path of PATH_MAX bytes or more */
	{
		char *lp = malloc(5001);
		int i;

		for (i = 0; i < 5000; i += 2)
			memcpy(lp + i, "./", 2);
		lp[5000] = '\0';
		ERR(uvfs_stat(C, lp, &st), ENAMETOOLONG);
		lp[4000] = '\0';
		OK(uvfs_stat(C, lp, &st));
		free(lp);
	}
	/* a long name in readdir */
	{
		struct uvfs_dirent de[8];
		ssize_t r, i;
		int found = 0;

		fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
		while ((r = OK(uvfs_readdir(C, fd, de, 8))) > 0)
			for (i = 0; i < r; i++)
				found += strcmp(de[i].name, n255) == 0;
		assert_int_equal(found, 1);
		OK(uvfs_close(C, fd));
	}
	OK(uvfs_mkdir(C, "d", 0755));
	snprintf(path, sizeof(path), "d/%s", n255);
	OK(uvfs_rename(C, n255, path, 0));
	OK(uvfs_unlink(C, path));
}

/* ---- readdir ----------------------------------------------------------- */

#define NAMES_MAX 256
struct seen {
	char name[NAMES_MAX][64];
	int count[NAMES_MAX];
	int n;
};

static void seen_add(struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0) {
			s->count[i]++;
			return;
		}
	assert_true(s->n < NAMES_MAX);
	assert_true(strlen(name) < 64);
	strcpy(s->name[s->n], name);
	s->count[s->n++] = 1;
}

static int seen_count(const struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->count[i];
	return 0;
}

/* Reads fd to its end in chunks of chunk, into s. */
static void read_all(int fd, size_t chunk, struct seen *s)
{
	struct uvfs_dirent de[16];
	ssize_t r, i;
	int calls = 0;

	assert_true(chunk <= 16);
	while ((r = OK(uvfs_readdir(C, fd, de, chunk))) > 0) {
		assert_true((size_t)r <= chunk);
		for (i = 0; i < r; i++)
			seen_add(s, de[i].name);
		if (++calls > 10000)
			fail_msg("readdir does not end");
	}
}

static void test_readdir_all(void **state)
{
	struct uvfs_dirent de[16];
	struct seen *s = calloc(1, sizeof(*s));
	char name[32];
	struct stat st;
	ssize_t r, i;
	int fd, k;

	(void)state;
	for (k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "file%03d", k);
		put(C, name, "x");
	}
	for (k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "dir%d", k);
		OK(uvfs_mkdir(C, name, 0755));
	}
	OK(uvfs_symlink(C, "file000", "link"));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	read_all(fd, 7, s);
	assert_int_equal(s->n, 100 + 5 + 1 + 2);
	for (k = 0; k < s->n; k++)
		if (s->count[k] != 1)
			fail_msg("%s returned %d times", s->name[k],
				 s->count[k]);
	assert_int_equal(seen_count(s, "."), 1);
	assert_int_equal(seen_count(s, ".."), 1);
	/* at the end it stays at the end */
	assert_int_equal(OK(uvfs_readdir(C, fd, de, 16)), 0);
	/* rewind: types and inode numbers */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	while ((r = OK(uvfs_readdir(C, fd, de, 16))) > 0)
		for (i = 0; i < r; i++) {
			unsigned char want;

			if (strcmp(de[i].name, "..") == 0)
				continue;
			OK(uvfs_lstat(C, de[i].name, &st));
			want = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
			if (de[i].type != DT_UNKNOWN &&
			    de[i].type != want)
				fail_msg("%s: type %d, want %d", de[i].name,
					 de[i].type, want);
			if (de[i].ino != st.st_ino)
				fail_msg("%s: ino %llu, stat says %llu",
					 de[i].name,
					 (unsigned long long)de[i].ino,
					 (unsigned long long)st.st_ino);
		}
	/* an empty buffer */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_readdir(C, fd, de, 0)), 0);
	OK(uvfs_close(C, fd));

	/* an empty directory lists "." and ".." only */
	memset(s, 0, sizeof(*s));
	OK(uvfs_mkdir(C, "empty", 0755));
	fd = (int)OK(uvfs_open(C, "empty", O_RDONLY | O_DIRECTORY, 0));
	read_all(fd, 16, s);
	assert_int_equal(s->n, 2);
	OK(uvfs_close(C, fd));

	/* not a directory */
	fd = (int)OK(uvfs_open(C, "file000", O_RDONLY, 0));
	ERR(uvfs_readdir(C, fd, de, 16), ENOTDIR);
	OK(uvfs_close(C, fd));
	free(s);
}

static void test_readdir_cookies(void **state)
{
	struct uvfs_dirent de[4];
	struct seen *s = calloc(1, sizeof(*s));
	struct seen *all = calloc(1, sizeof(*all));
	char name[32];
	const char *gone_read[3], *gone_unread[3];
	uint64_t cookie = 0;
	int fd, k, ngr = 0, ngu = 0;
	ssize_t r, i;

	(void)state;
	for (k = 0; k < 50; k++) {
		snprintf(name, sizeof(name), "e%03d", k);
		put(C, name, "x");
	}
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	while (s->n < 14) {
		r = OK(uvfs_readdir(C, fd, de, 4));
		assert_true(r > 0);
		for (i = 0; i < r; i++) {
			seen_add(s, de[i].name);
			cookie = de[i].next;
		}
	}
	/* remove three names already read, three not yet read; add ten */
	for (k = 0; k < s->n && ngr < 3; k++)
		if (s->name[k][0] == 'e') {
			gone_read[ngr++] = s->name[k];
			OK(uvfs_unlink(C, s->name[k]));
		}
	for (k = 49; k >= 0 && ngu < 3; k--) {
		snprintf(name, sizeof(name), "e%03d", k);
		if (seen_count(s, name) == 0) {
			gone_unread[ngu] = strdup(name);
			OK(uvfs_unlink(C, gone_unread[ngu]));
			ngu++;
		}
	}
	assert_int_equal(ngr, 3);
	assert_int_equal(ngu, 3);
	for (k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "n%03d", k);
		put(C, name, "y");
	}
	/* read some more, then go back to the cookie: the entries after it
	 * must come again, once (the second pass is what counts) */
	OK(uvfs_readdir(C, fd, de, 4));
	assert_int_equal(OK(uvfs_lseek(C, fd, (off_t)cookie, SEEK_SET)),
			 (off_t)cookie);
	read_all(fd, 3, s);

	for (k = 0; k < 50; k++) {
		int c, j, gone = 0;

		snprintf(name, sizeof(name), "e%03d", k);
		c = seen_count(s, name);
		for (j = 0; j < 3; j++)
			if (strcmp(name, gone_read[j]) == 0)
				gone = 1;
			else if (strcmp(name, gone_unread[j]) == 0)
				gone = 2;
		if (gone == 0 && c != 1)
			fail_msg("%s (present throughout) seen %d times", name,
				 c);
		if (gone == 1 && c != 1)
			fail_msg("%s (read, then removed) seen %d times", name,
				 c);
		if (gone == 2 && c > 1)
			fail_msg("%s (removed before read) seen %d times",
				 name, c);
	}
	for (k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "n%03d", k);
		if (seen_count(s, name) > 1)
			fail_msg("%s (added) seen %d times", name,
				 seen_count(s, name));
	}
	assert_int_equal(seen_count(s, "."), 1);
	assert_int_equal(seen_count(s, ".."), 1);

	/* a full pass now lists exactly what is there */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	read_all(fd, 4, all);
	assert_int_equal(all->n, 50 - 6 + 10 + 2);
	for (k = 0; k < all->n; k++)
		assert_int_equal(all->count[k], 1);
	/* the same cookie twice gives the same entry */
	{
		struct uvfs_dirent a[1], b[1];

		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		cookie = a[0].next;
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		OK(uvfs_lseek(C, fd, (off_t)cookie, SEEK_SET));
		assert_int_equal(OK(uvfs_readdir(C, fd, b, 1)), 1);
		assert_string_equal(a[0].name, b[0].name);
		assert_int_equal(a[0].next, b[0].next);
	}
	OK(uvfs_close(C, fd));
	for (k = 0; k < 3; k++)
		free((void *)gone_unread[k]);
	free(s);
	free(all);
}

/* ---- cwd, mounts, chroot ----------------------------------------------- */

static void test_chdir_getcwd(void **state)
{
	char buf[512];
	size_t len;
	int fd, dfd;

	(void)state;
	len = strlen(D);
	assert_int_equal(OK(uvfs_getcwd(C, buf, sizeof(buf))), len + 1);
	assert_string_equal(buf, D);
	assert_true(strncmp(buf, MNT "/", strlen(MNT "/")) == 0);
	ERR(uvfs_getcwd(C, buf, len), ERANGE);
	assert_int_equal(OK(uvfs_getcwd(C, buf, len + 1)), len + 1);

	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_mkdir(C, "d/e", 0755));
	put(C, "d/e/f", "x");
	OK(uvfs_chdir(C, "d/e"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d/e"));
	ASSERT_CONTENT(C, "f", "x");
	OK(uvfs_chdir(C, ".."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d"));
	ERR(uvfs_chdir(C, "e/f"), ENOTDIR);
	ERR(uvfs_chdir(C, "missing"), ENOENT);
	OK(uvfs_chdir(C, D));
	/* through a symlink: getcwd shows the real path */
	OK(uvfs_symlink(C, "d/e", "le"));
	OK(uvfs_chdir(C, "le"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d/e"));
	OK(uvfs_chdir(C, D));

	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	fd = (int)OK(uvfs_open(C, "d/e/f", O_RDONLY, 0));
	OK(uvfs_fchdir(C, dfd));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d"));
	ERR(uvfs_fchdir(C, fd), ENOTDIR);
	OK(uvfs_close(C, dfd));
	OK(uvfs_close(C, fd));
	/* an O_PATH descriptor is enough */
	dfd = (int)OK(uvfs_open(C, D, O_PATH | O_DIRECTORY, 0));
	OK(uvfs_fchdir(C, dfd));
	OK(uvfs_close(C, dfd));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
	/* the cwd survives its descriptor; "/" */
	OK(uvfs_chdir(C, "/"));
	assert_int_equal(OK(uvfs_getcwd(C, buf, sizeof(buf))), 2);
	assert_string_equal(buf, "/");
	OK(uvfs_chdir(C, D));
}

static void test_mount_crossing(void **state)
{
	struct stat a, b;
	char buf[512];

	(void)state;
	/* ".." at the root of the mount under test is /mnt */
	OK(uvfs_chdir(C, MNT));
	OK(uvfs_stat(C, "..", &a));
	OK(uvfs_stat(C, "/mnt", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_stat(C, ".", &a));
	assert_true(S_ISDIR(a.st_mode));
	assert_int_not_equal(a.st_dev, b.st_dev);
	OK(uvfs_chdir(C, ".."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, "/mnt");
	OK(uvfs_stat(C, MNT "/..", &a));
	assert_int_equal(a.st_ino, b.st_ino);
	OK(uvfs_stat(C, "/..", &a));
	OK(uvfs_stat(C, "/", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_chdir(C, D));

	/* a mount inside: both directions */
	put(C, "under", "u");
	mount_memfs("m");
	OK(uvfs_mkdir(C, "m/x", 0755));
	put(C, "m/x/f", "in");
	OK(uvfs_chdir(C, "m/x"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("m/x"));
	ASSERT_CONTENT(C, "../../under", "u");
	OK(uvfs_chdir(C, "../.."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
	ASSERT_CONTENT(C, "m/../m/x/f", "in");
	assert_int_equal(st_of(C, "m/..").st_ino, st_of(C, ".").st_ino);
	assert_int_not_equal(st_of(C, "m").st_dev, st_of(C, ".").st_dev);
	/* a symlink across the mount */
	OK(uvfs_symlink(C, "../../under", "m/x/back"));
	ASSERT_CONTENT(C, "m/x/back", "u");
	/* the mount point hides what is below */
	umount_memfs("m");
	assert_false(exists(C, "m/x"));
	/* statfs differs between the two */
	{
		struct statvfs sv;

		OK(uvfs_statfs(C, ".", &sv));
	}
}

static void test_chroot(void **state)
{
	struct uvfs_ctx *j, *out;
	struct stat a, b;
	char buf[512];

	(void)state;
	OK(uvfs_mkdir(C, "jail", 0755));
	OK(uvfs_mkdir(C, "jail/sub", 0755));
	put(C, "jail/inside", "in");
	put(C, "outside", "out");
	OK(uvfs_symlink(C, "/", "jail/up"));
	OK(uvfs_symlink(C, "/inside", "jail/absin"));
	OK(uvfs_symlink(C, "../../../../../../..", "jail/sub/esc"));
	mount_memfs("jail/m");
	put(C, "jail/m/mf", "mf");

	j = new_ctx(0, 0);
	OK(uvfs_chroot(j, abs_path("jail")));
	OK(uvfs_chdir(j, "/"));
	assert_int_equal(OK(uvfs_getcwd(j, buf, sizeof(buf))), 2);
	assert_string_equal(buf, "/");
	ASSERT_CONTENT(j, "/inside", "in");
	ASSERT_CONTENT(j, "inside", "in");
	OK(uvfs_stat(j, "/", &a));
	OK(uvfs_stat(j, "/..", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_stat(j, "..", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	ASSERT_CONTENT(j, "/../../../inside", "in");
	ASSERT_CONTENT(j, "sub/../../../inside", "in");
	ASSERT_CONTENT(j, "/up/inside", "in");
	ASSERT_CONTENT(j, "/up/../up/../inside", "in");
	ASSERT_CONTENT(j, "/absin", "in");
	ASSERT_CONTENT(j, "/sub/esc/inside", "in");
	assert_int_equal(st_of(j, "/sub/esc").st_ino, a.st_ino);
	ERR(uvfs_stat(j, "/outside", &b), ENOENT);
	ERR(uvfs_stat(j, "../outside", &b), ENOENT);
	ERR(uvfs_stat(j, MNT, &b), ENOENT);
	/* a mount inside the jail, ".." at its root */
	OK(uvfs_chdir(j, "/m"));
	ASSERT_CONTENT(j, "mf", "mf");
	OK(uvfs_getcwd(j, buf, sizeof(buf)));
	assert_string_equal(buf, "/m");
	OK(uvfs_chdir(j, "../../.."));
	OK(uvfs_getcwd(j, buf, sizeof(buf)));
	assert_string_equal(buf, "/");
	/* a chroot inside the chroot is relative to it */
	OK(uvfs_chroot(j, "/sub"));
	OK(uvfs_chdir(j, "/"));
	OK(uvfs_stat(j, "/..", &b));
	assert_int_equal(b.st_ino, st_of(C, "jail/sub").st_ino);
	OK(uvfs_stat(j, "esc", &b));
	assert_int_equal(b.st_ino, st_of(C, "jail/sub").st_ino);

	/* a cwd left outside the new root is unreachable */
	out = new_ctx(0, 0);
	OK(uvfs_chroot(out, abs_path("jail")));
	ERR(uvfs_getcwd(out, buf, sizeof(buf)), ENOENT);

	/* errors */
	ERR(uvfs_chroot(C, "outside"), ENOTDIR);
	ERR(uvfs_chroot(C, "missing"), ENOENT);
	{
		struct uvfs_ctx *user = new_ctx(1000, 1000);

		ERR(uvfs_chroot(user, abs_path("jail")), EPERM);
	}
}

static void test_statfs(void **state)
{
	struct statvfs sv;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_statfs(C, ".", &sv));
	assert_true(sv.f_bsize > 0 || sv.f_frsize > 0);
	OK(uvfs_statfs(C, "f", &sv));
	OK(uvfs_statfs(C, MNT, &sv));
	OK(uvfs_statfs(C, "/", &sv));
	ERR(uvfs_statfs(C, "missing", &sv), ENOENT);
	ERR(uvfs_statfs(C, "f/x", &sv), ENOTDIR);
}

/* ---- attributes -------------------------------------------------------- */

static void test_chmod(void **state)
{
	struct stat st, st2;
	int fd;

	(void)state;
	put(C, "f", "x");
	st = st_of(C, "f");
	sleep_ms(20);
	OK(uvfs_chmod(C, "f", 0600));
	st2 = st_of(C, "f");
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_true(ts_cmp(st2.st_ctim, st.st_ctim) > 0);
	assert_int_equal(ts_cmp(st2.st_mtim, st.st_mtim), 0);
	OK(uvfs_chmod(C, "f", 04755));
	assert_int_equal(st_of(C, "f").st_mode & 07777, 04755);
	/* follows symlinks */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_chmod(C, "l", 0640));
	assert_int_equal(st_of(C, "f").st_mode & 07777, 0640);
	assert_true(S_ISLNK(lst_of(C, "l").st_mode));
	/* directories */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_chmod(C, "d", 0700));
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* fchmod */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fchmod(C, fd, 0444));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0444);
	OK(uvfs_close(C, fd));
	ERR(uvfs_chmod(C, "missing", 0644), ENOENT);
	ERR(uvfs_chmod(C, "f/x", 0644), ENOTDIR);
}

static void test_chown(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_chown(C, "f", 1000, 2000));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	OK(uvfs_chown(C, "f", (uid_t)-1, 3000));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 3000);
	OK(uvfs_chown(C, "f", 4000, (gid_t)-1));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 4000);
	assert_int_equal(st.st_gid, 3000);
	/* chown follows, lchown does not */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_chown(C, "l", 5, 6));
	assert_int_equal(st_of(C, "f").st_uid, 5);
	assert_int_equal(lst_of(C, "l").st_uid, 0);
	OK(uvfs_lchown(C, "l", 7, 8));
	st = lst_of(C, "l");
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);
	assert_int_equal(st_of(C, "f").st_uid, 5);
	/* fchown */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fchown(C, fd, 0, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	OK(uvfs_close(C, fd));
	ERR(uvfs_chown(C, "missing", 1, 1), ENOENT);
	ERR(uvfs_lchown(C, "missing", 1, 1), ENOENT);
}

static void test_utimens(void **state)
{
	struct timespec t[2], before, after;
	struct stat st, st2;
	int fd;

	(void)state;
	put(C, "f", "x");
	t[0].tv_sec = 1000000;
	t[0].tv_nsec = 0;
	t[1].tv_sec = 2000000;
	t[1].tv_nsec = 0;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	st = st_of(C, "f");
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	/* UTIME_OMIT */
	t[0].tv_nsec = UTIME_OMIT;
	t[1].tv_sec = 3000000;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	st = st_of(C, "f");
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 3000000);
	/* UTIME_NOW for the atime only */
	clock_gettime(CLOCK_REALTIME, &before);
	t[0].tv_nsec = UTIME_NOW;
	t[1].tv_nsec = UTIME_OMIT;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	clock_gettime(CLOCK_REALTIME, &after);
	st = st_of(C, "f");
	assert_true(st.st_atim.tv_sec >= before.tv_sec - 1);
	assert_true(st.st_atim.tv_sec <= after.tv_sec + 1);
	assert_int_equal(st.st_mtim.tv_sec, 3000000);
	/* NULL: both now; the ctime moves too */
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", NULL, 0));
	st = st_of(C, "f");
	assert_true(st.st_mtim.tv_sec >= before.tv_sec - 1);
	assert_true(st.st_ctim.tv_sec >= before.tv_sec - 1);
	t[0].tv_sec = 5;
	t[0].tv_nsec = 0;
	t[1].tv_sec = 6;
	t[1].tv_nsec = 0;
	/* on a symlink itself */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "l", t, AT_SYMLINK_NOFOLLOW));
	st = lst_of(C, "l");
	assert_int_equal(st.st_mtim.tv_sec, 6);
	st2 = st_of(C, "f");
	assert_true(st2.st_mtim.tv_sec != 6);
	/* relative to a dirfd */
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_utimensat(C, fd, "f", t, 0));
	assert_int_equal(st_of(C, "f").st_mtim.tv_sec, 6);
	OK(uvfs_close(C, fd));
	/* futimens */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	t[1].tv_sec = 7;
	OK(uvfs_futimens(C, fd, t));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mtim.tv_sec, 7);
	assert_int_equal(st.st_atim.tv_sec, 5);
	OK(uvfs_futimens(C, fd, NULL));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(st.st_mtim.tv_sec >= before.tv_sec - 1);
	OK(uvfs_close(C, fd));
	/* errors */
	t[0].tv_nsec = 1000000000L;
	ERR(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0), EINVAL);
	t[0].tv_nsec = 0;
	ERR(uvfs_utimensat(C, UVFS_AT_FDCWD, "missing", t, 0), ENOENT);
}

static void test_times_change(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/f", "x");
	/* write moves mtime and ctime */
	age("d/f");
	fd = (int)OK(uvfs_open(C, "d/f", O_WRONLY, 0));
	OK(uvfs_write(C, fd, "y", 1));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(st.st_mtim.tv_sec > 1000);
	assert_int_equal(st.st_atim.tv_sec, 1000);
	OK(uvfs_close(C, fd));
	/* truncate moves mtime */
	age("d/f");
	OK(uvfs_truncate(C, "d/f", 0));
	assert_true(st_of(C, "d/f").st_mtim.tv_sec > 1000);
	/* creating, removing and renaming in a directory move its mtime */
	age("d");
	put(C, "d/g", "g");
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_unlink(C, "d/g"));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_rename(C, "d/f", "d/f2", 0));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_mkdir(C, "d/sub", 0755));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	/* a read moves nothing but maybe atime */
	age("d/f2");
	fd = (int)OK(uvfs_open(C, "d/f2", O_RDONLY, 0));
	{
		char b[4];

		OK(uvfs_read(C, fd, b, sizeof(b)));
	}
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mtim.tv_sec, 1000);
	OK(uvfs_close(C, fd));
}

static void test_mknod(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mknod(C, "fifo", S_IFIFO | 0644, 0));
	st = lst_of(C, "fifo");
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_mknod(C, "reg", S_IFREG | 0600, 0));
	st = lst_of(C, "reg");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	OK(uvfs_mknod(C, "null", S_IFCHR | 0666, makedev(1, 3)));
	st = lst_of(C, "null");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	ERR(uvfs_mknod(C, "fifo", S_IFIFO | 0644, 0), EEXIST);
	ERR(uvfs_mknod(C, "missing/x", S_IFIFO | 0644, 0), ENOENT);
	ERR2(uvfs_mknod(C, "dir", S_IFDIR | 0755, 0), EPERM, EINVAL);
}

static void test_fsync(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_write(C, fd, "x", 1));
	OK(uvfs_fsync(C, fd));
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fsync(C, fd));
	OK(uvfs_close(C, fd));
}

/* ---- descriptors ------------------------------------------------------- */

static void test_dup(void **state)
{
	char buf[16];
	int fd, fd2, fd3, other;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	OK(uvfs_write(C, fd, "abcdef", 6));
	fd2 = (int)OK(uvfs_dup(C, fd));
	assert_int_not_equal(fd2, fd);
	/* one offset for both */
	assert_int_equal(OK(uvfs_lseek(C, fd2, 0, SEEK_CUR)), 6);
	OK(uvfs_lseek(C, fd2, 1, SEEK_SET));
	assert_int_equal(OK(uvfs_read(C, fd, buf, 2)), 2);
	assert_memory_equal(buf, "bc", 2);
	assert_int_equal(OK(uvfs_lseek(C, fd2, 0, SEEK_CUR)), 3);
	/* dup2 to a free number */
	assert_int_equal(OK(uvfs_dup2(C, fd, 57)), 57);
	assert_int_equal(OK(uvfs_read(C, 57, buf, 1)), 1);
	assert_int_equal(buf[0], 'd');
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 4);
	/* dup2 onto an open descriptor closes it first */
	put(C, "g", "GGG");
	other = (int)OK(uvfs_open(C, "g", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_dup2(C, fd, other)), other);
	assert_int_equal(OK(uvfs_read(C, other, buf, sizeof(buf))), 2);
	assert_memory_equal(buf, "ef", 2);
	/* onto itself */
	assert_int_equal(OK(uvfs_dup2(C, fd, fd)), fd);
	/* closing one leaves the others */
	OK(uvfs_close(C, fd));
	OK(uvfs_lseek(C, fd2, 0, SEEK_SET));
	assert_int_equal(OK(uvfs_read(C, 57, buf, 3)), 3);
	assert_memory_equal(buf, "abc", 3);
	/* the lowest free number */
	fd3 = (int)OK(uvfs_dup(C, fd2));
	assert_int_equal(fd3, fd);
	OK(uvfs_close(C, fd2));
	OK(uvfs_close(C, fd3));
	OK(uvfs_close(C, 57));
	OK(uvfs_close(C, other));
	ERR(uvfs_dup(C, fd), EBADF);
	ERR(uvfs_dup2(C, fd, 60), EBADF);
	ERR(uvfs_dup2(C, fd, fd), EBADF);
	fd = (int)OK(uvfs_open(C, "g", O_RDONLY, 0));
	ERR(uvfs_dup2(C, fd, -1), EBADF);
	OK(uvfs_close(C, fd));
}

static void test_close(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	ERR(uvfs_close(C, fd), EBADF);
	ERR(uvfs_close(C, -1), EBADF);
	ERR(uvfs_close(C, 100000), EBADF);
	/* numbers are reused lowest first */
	assert_int_equal(OK(uvfs_open(C, "f", O_RDONLY, 0)), fd);
	OK(uvfs_close(C, fd));
	/* descriptors belong to their context */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		int fd2 = (int)OK(uvfs_open(c2, "f", O_RDONLY, 0));
		struct stat st;

		fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
		OK(uvfs_close(c2, fd2));
		OK(uvfs_fstat(C, fd, &st));
		OK(uvfs_close(C, fd));
		ERR(uvfs_fstat(c2, fd2, &st), EBADF);
	}
}

static void test_ebadf(void **state)
{
	static const int bad[] = { -1, -5, 99999, 0 };
	struct uvfs_dirent de[2];
	struct timespec t[2] = { { 1, 0 }, { 1, 0 } };
	struct stat st;
	char buf[8];
	size_t i;

	(void)state;
	put(C, "f", "x");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = bad[i];

		if (fd == 0) {
			/* a number that was valid once */
			fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
			OK(uvfs_close(C, fd));
		}
		ERR(uvfs_read(C, fd, buf, 1), EBADF);
		ERR(uvfs_write(C, fd, "x", 1), EBADF);
		ERR(uvfs_pread(C, fd, buf, 1, 0), EBADF);
		ERR(uvfs_pwrite(C, fd, "x", 1, 0), EBADF);
		ERR(uvfs_lseek(C, fd, 0, SEEK_SET), EBADF);
		ERR(uvfs_fstat(C, fd, &st), EBADF);
		ERR(uvfs_fstatat(C, fd, "", &st, AT_EMPTY_PATH), EBADF);
		ERR(uvfs_fstatat(C, fd, "f", &st, 0), EBADF);
		ERR(uvfs_ftruncate(C, fd, 0), EBADF);
		ERR(uvfs_fsync(C, fd), EBADF);
		ERR(uvfs_fchmod(C, fd, 0644), EBADF);
		ERR(uvfs_fchown(C, fd, 0, 0), EBADF);
		ERR(uvfs_futimens(C, fd, t), EBADF);
		ERR(uvfs_fchdir(C, fd), EBADF);
		ERR(uvfs_readdir(C, fd, de, 2), EBADF);
		ERR(uvfs_dup(C, fd), EBADF);
		ERR(uvfs_dup2(C, fd, 10), EBADF);
		ERR(uvfs_close(C, fd), EBADF);
		ERR(uvfs_openat(C, fd, "f", O_RDONLY, 0), EBADF);
		ERR(uvfs_mkdirat(C, fd, "d", 0755), EBADF);
		ERR(uvfs_unlinkat(C, fd, "f", 0), EBADF);
		ERR(uvfs_renameat2(C, fd, "f", UVFS_AT_FDCWD, "g", 0), EBADF);
		ERR(uvfs_renameat2(C, UVFS_AT_FDCWD, "f", fd, "g", 0), EBADF);
		ERR(uvfs_utimensat(C, fd, "f", t, 0), EBADF);
	}
	/* an absolute path ignores even a bad dirfd */
	OK(uvfs_fstatat(C, 99999, abs_path("f"), &st, 0));
	assert_true(exists(C, "f"));
}

/* ---- permissions ------------------------------------------------------- */

/* getcwd needs no search permission on the way up (Linux). */
static void test_getcwd_without_search(void **state)
{
	struct uvfs_ctx *u;
	char buf[1024];

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	OK(uvfs_mkdir(C, "a/b", 0755));
	u = new_ctx(1000, 1000);
	OK(uvfs_chdir(u, "a/b"));
	OK(uvfs_chmod(C, "a", 0700));   /* u may no longer search a */
	OK(uvfs_getcwd(u, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("a/b"));
	OK(uvfs_chmod(C, "a", 0755));
}

static void test_perm_basic(void **state)
{
	struct uvfs_ctx *u;
	struct stat st;
	char buf[8];
	int fd;

	(void)state;
	put(C, "secret", "s");
	OK(uvfs_chmod(C, "secret", 0600));
	put(C, "public", "p");
	OK(uvfs_chmod(C, "public", 0644));
	OK(uvfs_mkdir(C, "rootdir", 0755));
	put(C, "rootdir/rf", "r");
	OK(uvfs_mkdir(C, "priv", 0700));
	put(C, "priv/x", "x");
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));

	u = new_ctx(1000, 1000);
	ERR(uvfs_open(u, "secret", O_RDONLY, 0), EACCES);
	ERR(uvfs_open(u, "secret", O_WRONLY, 0), EACCES);
	ERR(uvfs_access(u, "secret", R_OK), EACCES);
	OK(uvfs_access(u, "secret", F_OK));
	OK(uvfs_stat(u, "secret", &st));
	ASSERT_CONTENT(u, "public", "p");
	ERR(uvfs_open(u, "public", O_RDWR, 0), EACCES);
	ERR(uvfs_open(u, "public", O_RDONLY | O_TRUNC, 0), EACCES);
	ASSERT_CONTENT(u, "public", "p");
	ERR(uvfs_truncate(u, "public", 0), EACCES);
	/* O_PATH needs no permission on the file */
	fd = (int)OK(uvfs_open(u, "secret", O_PATH, 0));
	OK(uvfs_fstat(u, fd, &st));
	ERR(uvfs_read(u, fd, buf, 1), EBADF);
	OK(uvfs_close(u, fd));
	/* a root-owned 0755 directory */
	ERR(uvfs_open(u, "rootdir/new", O_CREAT | O_WRONLY, 0644), EACCES);
	ERR(uvfs_mkdir(u, "rootdir/nd", 0755), EACCES);
	ERR(uvfs_unlink(u, "rootdir/rf"), EACCES);
	ERR(uvfs_rename(u, "rootdir/rf", "pub/rf", 0), EACCES);
	ERR(uvfs_symlink(u, "x", "rootdir/l"), EACCES);
	ERR2(uvfs_link(u, "public", "rootdir/l"), EACCES, EPERM);
	ASSERT_CONTENT(u, "rootdir/rf", "r");
	/* search permission */
	ERR(uvfs_stat(u, "priv/x", &st), EACCES);
	ERR(uvfs_open(u, "priv/x", O_RDONLY, 0), EACCES);
	ERR(uvfs_chdir(u, "priv"), EACCES);
	fd = (int)OK(uvfs_open(C, "priv", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_fchdir(u, fd), EBADF); /* another context's descriptor */
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(u, "priv", O_RDONLY | O_DIRECTORY, 0), EACCES);
	/* a 0777 directory */
	fd = (int)OK(uvfs_open(u, "pub/mine", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "pub/mydir", 0777));
	st = st_of(C, "pub/mydir");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mode & 07777, 0755);
	OK(uvfs_symlink(u, "mine", "pub/mylink"));
	assert_int_equal(lst_of(C, "pub/mylink").st_uid, 1000);
	/* the owner's bits decide, even when others' would allow */
	OK(uvfs_chmod(u, "pub/mine", 0066));
	ERR(uvfs_open(u, "pub/mine", O_RDONLY, 0), EACCES);
	OK(uvfs_chmod(u, "pub/mine", 0444));
	ERR(uvfs_open(u, "pub/mine", O_WRONLY, 0), EACCES);
	/* root is not bound by the mode */
	ASSERT_CONTENT(C, "pub/mine", "");
	fd = (int)OK(uvfs_open(C, "pub/mine", O_WRONLY, 0));
	OK(uvfs_close(C, fd));
	/* group bits */
	OK(uvfs_chown(C, "secret", 0, 1000));
	OK(uvfs_chmod(C, "secret", 0640));
	ASSERT_CONTENT(u, "secret", "s");
	/* supplementary groups */
	{
		struct uvfs_cred cred = { .uid = 1001, .gid = 1001,
					  .ngroups = 2,
					  .groups = { 1001, 1000 } };

		OK(uvfs_ctx_set_cred(u, &cred));
		ASSERT_CONTENT(u, "secret", "s");
	}
	/* chroot needs root */
	ERR(uvfs_chroot(u, "pub"), EPERM);
}

static void test_perm_owner(void **state)
{
	struct uvfs_ctx *u, *v;
	struct timespec t[2] = { { 100, 0 }, { 200, 0 } };
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000, .ngroups = 2,
				  .groups = { 1000, 2000 } };
	struct stat st;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));
	put(C, "pub/rootfile", "r");
	OK(uvfs_chmod(C, "pub/rootfile", 0666));
	u = new_ctx(1000, 1000);
	OK(uvfs_ctx_set_cred(u, &cred));
	v = new_ctx(1001, 1001);
	fd = (int)OK(uvfs_open(u, "pub/f", O_CREAT | O_WRONLY, 0644));

	/* chmod: only the owner (or root) */
	ERR(uvfs_chmod(u, "pub/rootfile", 0777), EPERM);
	ERR(uvfs_chmod(v, "pub/f", 0777), EPERM);
	OK(uvfs_chmod(u, "pub/f", 0664));
	OK(uvfs_fchmod(u, fd, 0660));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 0660);
	/* chown: not to another uid; to a group of one's own */
	ERR(uvfs_chown(u, "pub/f", 1001, (gid_t)-1), EPERM);
	ERR(uvfs_fchown(u, fd, 0, (gid_t)-1), EPERM);
	ERR(uvfs_chown(u, "pub/f", (uid_t)-1, 3000), EPERM);
	ERR(uvfs_chown(v, "pub/f", (uid_t)-1, 1001), EPERM);
	ERR(uvfs_chown(u, "pub/rootfile", 1000, 1000), EPERM);
	OK(uvfs_chown(u, "pub/f", (uid_t)-1, 2000));
	OK(uvfs_chown(u, "pub/f", 1000, (gid_t)-1)); /* to oneself is fine */
	st = st_of(C, "pub/f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	/* set-group-ID: kept for a group of one's own, cleared otherwise */
	OK(uvfs_chmod(u, "pub/f", 02755));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 02755);
	OK(uvfs_chown(C, "pub/f", (uid_t)-1, 3000));
	OK(uvfs_chmod(u, "pub/f", 02755));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 0755);
	OK(uvfs_chown(C, "pub/f", (uid_t)-1, 2000));
	OK(uvfs_chmod(u, "pub/f", 0660));
	/* times: explicit only by the owner; "now" with write access */
	ERR(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/rootfile", t, 0), EPERM);
	OK(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/rootfile", NULL, 0));
	ERR(uvfs_utimensat(v, UVFS_AT_FDCWD, "pub/f", NULL, 0), EACCES);
	OK(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/f", t, 0));
	OK(uvfs_futimens(u, fd, t));
	assert_int_equal(st_of(C, "pub/f").st_mtim.tv_sec, 200);
	OK(uvfs_close(u, fd));
}

static void test_perm_sticky(void **state)
{
	struct uvfs_ctx *a, *b;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "tmp", 0777));
	OK(uvfs_chmod(C, "tmp", 01777));
	assert_int_equal(st_of(C, "tmp").st_mode & 07777, 01777);
	a = new_ctx(1000, 1000);
	b = new_ctx(1001, 1001);
	fd = (int)OK(uvfs_open(a, "tmp/af", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_close(a, fd));
	OK(uvfs_chmod(a, "tmp/af", 0666));
	OK(uvfs_mkdir(a, "tmp/ad", 0777));
	fd = (int)OK(uvfs_open(b, "tmp/bf", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_close(b, fd));
	ERR(uvfs_unlink(b, "tmp/af"), EPERM);
	ERR(uvfs_rename(b, "tmp/af", "tmp/stolen", 0), EPERM);
	ERR(uvfs_rename(b, "tmp/bf", "tmp/af", 0), EPERM);
	ERR(uvfs_rmdir(b, "tmp/ad"), EPERM);
	/* but b can write it */
	fd = (int)OK(uvfs_open(b, "tmp/af", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_write(b, fd, "b", 1));
	OK(uvfs_close(b, fd));
	/* the owner and root can remove */
	OK(uvfs_unlink(a, "tmp/af"));
	OK(uvfs_unlink(C, "tmp/bf"));
	OK(uvfs_rmdir(a, "tmp/ad"));
	/* the directory's owner can remove too */
	OK(uvfs_mkdir(C, "tmp2", 0777));
	OK(uvfs_chmod(C, "tmp2", 01777));
	OK(uvfs_chown(C, "tmp2", 1001, 1001));
	put(a, "tmp2/af", "a");
	OK(uvfs_unlink(b, "tmp2/af"));
}

static void test_perm_setgid_umask(void **state)
{
	struct uvfs_ctx *u;
	struct stat st;
	mode_t old;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "sg", 0777));
	OK(uvfs_chown(C, "sg", 0, 500));
	OK(uvfs_chmod(C, "sg", 02777));
	u = new_ctx(1000, 1000);
	fd = (int)OK(uvfs_open(u, "sg/f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 500);
	assert_int_equal(st.st_mode & S_ISGID, 0);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "sg/d", 0755));
	st = st_of(C, "sg/d");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 500);
	assert_true(st.st_mode & S_ISGID);
	/* and on down */
	OK(uvfs_mkdir(u, "sg/d/e", 0755));
	st = st_of(C, "sg/d/e");
	assert_int_equal(st.st_gid, 500);
	assert_true(st.st_mode & S_ISGID);
	/* without setgid: the creator's gid */
	OK(uvfs_mkdir(C, "plain", 0777));
	OK(uvfs_chown(C, "plain", 0, 500));
	OK(uvfs_chmod(C, "plain", 0777));
	fd = (int)OK(uvfs_open(u, "plain/f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_gid, 1000);
	OK(uvfs_close(u, fd));

	/* umask */
	old = uvfs_umask(u, 077);
	assert_int_equal(old, 022);
	assert_int_equal(uvfs_umask(u, 077), 077);
	fd = (int)OK(uvfs_open(u, "plain/m", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0600);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "plain/md", 0777));
	assert_int_equal(st_of(C, "plain/md").st_mode & 07777, 0700);
	OK(uvfs_mknod(u, "plain/fifo", S_IFIFO | 0666, 0));
	assert_int_equal(lst_of(C, "plain/fifo").st_mode & 07777, 0600);
	uvfs_umask(u, 0);
	fd = (int)OK(uvfs_open(u, "plain/z", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0666);
	OK(uvfs_close(u, fd));
	/* chmod is not masked */
	uvfs_umask(u, 077);
	OK(uvfs_chmod(u, "plain/z", 0777));
	assert_int_equal(st_of(C, "plain/z").st_mode & 07777, 0777);
}

/* ---- extended attributes ----------------------------------------------- */

/* Whether an empty value can be set (not over 9P2000.L, where a zero-size
 * Txattrcreate means removal: the driver answers -EOPNOTSUPP). */
static bool xattr_empty;

/* Whether the file system keeps extended attributes; without them every
 * call answers -EOPNOTSUPP, and the xattr tests skip.  memfs has them. */
static bool xattr_supported(void)
{
	char b[8];
	int r;

	put(C, "xprobe", "");
	r = uvfs_setxattr(C, "xprobe", "user.probe", "1", 1, 0);
	if (r == -EOPNOTSUPP) {
		ERR(uvfs_getxattr(C, "xprobe", "user.probe", b, sizeof(b)),
		    EOPNOTSUPP);
		ERR(uvfs_listxattr(C, "xprobe", b, sizeof(b)), EOPNOTSUPP);
		ERR(uvfs_removexattr(C, "xprobe", "user.probe"), EOPNOTSUPP);
		assert_string_not_equal(fs_type, "memfs");
	} else {
		OK(r);
		int e = uvfs_setxattr(C, "xprobe", "user.empty", "", 0, 0);
		xattr_empty = e == 0;
		if (e != 0)
			assert_int_equal(e, -EOPNOTSUPP);
		assert_true(xattr_empty || strcmp(fs_type, "memfs") != 0);
	}
	OK(uvfs_unlink(C, "xprobe"));
	return r == 0;
}

#define XATTR_OR_SKIP() do {                                             \
		if (!xattr_supported()) {                                \
			printf("conformance: no extended attributes on "  \
			       "%s\n", fs_type);                          \
			skip();                                          \
		}                                                        \
	} while (0)

/* The names of a list, sorted, each followed by a space ("" if none). */
static const char *xnames_of(const char *list, ssize_t n)
{
	static char out[8192];
	const char *v[256];
	size_t nv = 0, len = 0;

	assert_true(n >= 0 && (size_t)n < sizeof(out));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		assert_true(nv < 256);
		v[nv++] = list + i;
	}
	for (size_t i = 1; i < nv; i++)     /* insertion sort: few names */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < nv; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s ",
					v[i]);
	return out;
}

/* listxattr (follow) or llistxattr of path as c, sorted. */
static const char *xnames(struct uvfs_ctx *c, const char *path, bool follow)
{
	static char list[8192];
	ssize_t n = follow ? uvfs_listxattr(c, path, list, sizeof(list))
			   : uvfs_llistxattr(c, path, list, sizeof(list));

	OK(n);
	return xnames_of(list, n);
}

/* The value of name at path as a string ("" for an empty one). */
static const char *xget(struct uvfs_ctx *c, const char *path,
			const char *name)
{
	static char buf[256];
	ssize_t n = OK(uvfs_getxattr(c, path, name, buf, sizeof(buf) - 1));

	buf[n] = '\0';
	return buf;
}

static void test_xattr(void **state)
{
	char buf[128];
	struct stat st0, st1;
	ssize_t n;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "data");
	ERR(uvfs_getxattr(C, "f", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_getxattr(C, "f", "user.a", NULL, 0), ENODATA);
	ERR(uvfs_removexattr(C, "f", "user.a"), ENODATA);
	assert_string_equal(xnames(C, "f", true), "");

	/* set, get, the size-0 query, a buffer too small, one just right */
	OK(uvfs_setxattr(C, "f", "user.a", "hello", 5, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", NULL, 0)), 5);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", buf,
					  sizeof(buf))), 5);
	assert_memory_equal(buf, "hello", 5);
	ERR(uvfs_getxattr(C, "f", "user.a", buf, 4), ERANGE);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	/* values are bytes; the file's data is apart */
	OK(uvfs_setxattr(C, "f", "user.bin", "a\0b\n", 4, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.bin", buf,
					  sizeof(buf))), 4);
	assert_memory_equal(buf, "a\0b\n", 4);
	ASSERT_CONTENT(C, "f", "data");
	assert_int_equal(st_of(C, "f").st_size, 4);
	/* a new value replaces the old */
	OK(uvfs_setxattr(C, "f", "user.a", "bye", 3, 0));
	assert_string_equal(xget(C, "f", "user.a"), "bye");

	/* XATTR_CREATE, XATTR_REPLACE */
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1, XATTR_CREATE), EEXIST);
	ERR(uvfs_setxattr(C, "f", "user.new", "x", 1, XATTR_REPLACE),
	    ENODATA);
	ERR(uvfs_getxattr(C, "f", "user.new", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xget(C, "f", "user.a"), "bye");
	OK(uvfs_setxattr(C, "f", "user.a", "r", 1, XATTR_REPLACE));
	assert_string_equal(xget(C, "f", "user.a"), "r");
	OK(uvfs_setxattr(C, "f", "user.c", "c", 1, XATTR_CREATE));
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1, 0x100), EINVAL);
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1,
			  XATTR_CREATE | XATTR_REPLACE), EEXIST);

	/* an empty value is a value (9P2000.L cannot carry one) */
	if (xattr_empty) {
		OK(uvfs_setxattr(C, "f", "user.empty", "", 0, 0));
		assert_int_equal(OK(uvfs_getxattr(C, "f", "user.empty", buf,
						  sizeof(buf))), 0);
		assert_int_equal(OK(uvfs_getxattr(C, "f", "user.empty", NULL,
						  0)), 0);
		ERR(uvfs_setxattr(C, "f", "user.empty", "", 0, XATTR_CREATE),
		    EEXIST);
	} else {
		ERR(uvfs_setxattr(C, "f", "user.empty", "", 0, 0), EOPNOTSUPP);
		ERR(uvfs_getxattr(C, "f", "user.empty", buf, sizeof(buf)),
		    ENODATA);
		OK(uvfs_setxattr(C, "f", "user.empty", "e", 1, XATTR_CREATE));
	}

	/* the list: every name, NUL-terminated; size 0 asks its length */
	assert_string_equal(xnames(C, "f", true),
			    "user.a user.bin user.c user.empty ");
	n = OK(uvfs_listxattr(C, "f", NULL, 0));
	assert_int_equal(n, 7 + 9 + 7 + 11);
	ERR(uvfs_listxattr(C, "f", buf, (size_t)n - 1), ERANGE);
	assert_int_equal(OK(uvfs_listxattr(C, "f", buf, (size_t)n)), n);
	assert_int_equal(buf[n - 1], '\0');

	/* remove */
	OK(uvfs_removexattr(C, "f", "user.a"));
	ERR(uvfs_getxattr(C, "f", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_removexattr(C, "f", "user.a"), ENODATA);
	assert_string_equal(xnames(C, "f", true),
			    "user.bin user.c user.empty ");

	/* directories have them too */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_setxattr(C, "d", "user.d", "dir", 3, 0));
	assert_string_equal(xget(C, "d", "user.d"), "dir");
	assert_string_equal(xnames(C, "d", true), "user.d ");
	assert_string_equal(xnames(C, ".", true), "");

	/* set and remove change ctime, not mtime */
	age("f");
	st0 = st_of(C, "f");
	sleep_ms(20);
	OK(uvfs_setxattr(C, "f", "user.t", "t", 1, 0));
	st1 = st_of(C, "f");
	assert_true(ts_cmp(st1.st_ctim, st0.st_ctim) > 0);
	assert_int_equal(st1.st_mtim.tv_sec, 1000);
	sleep_ms(20);
	OK(uvfs_removexattr(C, "f", "user.t"));
	st0 = st_of(C, "f");
	assert_true(ts_cmp(st0.st_ctim, st1.st_ctim) > 0);
	assert_int_equal(st0.st_mtim.tv_sec, 1000);
}

/* Values up to UVFS_XATTR_SIZE_MAX, and many names. */
static void test_xattr_large(void **state)
{
	size_t max = UVFS_XATTR_SIZE_MAX;
	char *big, *buf;
	char name[32], list[4096];

	(void)state;
	XATTR_OR_SKIP();
	big = malloc(max + 1);
	buf = malloc(max + 1);
	assert_non_null(big);
	assert_non_null(buf);
	for (size_t i = 0; i <= max; i++)
		big[i] = (char)(i * 7 + i / 251);
	put(C, "f", "");
	OK(uvfs_setxattr(C, "f", "user.big", big, max, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", NULL, 0)), max);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max)), max);
	assert_memory_equal(buf, big, max);
	ERR(uvfs_getxattr(C, "f", "user.big", buf, max - 1), ERANGE);
	/* a larger buffer is fine */
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max + 1)),
			 max);
	ERR(uvfs_setxattr(C, "f", "user.big", big, max + 1, 0), E2BIG);
	ERR(uvfs_setxattr(C, "f", "user.other", big, max + 1, 0), E2BIG);
	ERR(uvfs_getxattr(C, "f", "user.other", NULL, 0), ENODATA);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max)), max);
	assert_memory_equal(buf, big, max);
	OK(uvfs_removexattr(C, "f", "user.big"));

	/* many names */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "user.n%03d", i);
		OK(uvfs_setxattr(C, "f", name, name, strlen(name), 0));
	}
	assert_int_equal(OK(uvfs_listxattr(C, "f", list, sizeof(list))),
			 100 * 10);
	assert_string_equal(xget(C, "f", "user.n042"), "user.n042");
	for (int i = 0; i < 100; i += 2) {
		snprintf(name, sizeof(name), "user.n%03d", i);
		OK(uvfs_removexattr(C, "f", name));
	}
	assert_int_equal(OK(uvfs_listxattr(C, "f", NULL, 0)), 50 * 10);
	ERR(uvfs_getxattr(C, "f", "user.n042", NULL, 0), ENODATA);
	assert_string_equal(xget(C, "f", "user.n043"), "user.n043");
	free(big);
	free(buf);
}

/* The rules for names: 1..255 bytes, a known namespace. */
static void test_xattr_names(void **state)
{
	char n255[256], n256[257], buf[8];

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "");
	memset(n255, 'n', sizeof(n255));
	memcpy(n255, "user.", 5);
	n255[255] = '\0';
	memset(n256, 'n', sizeof(n256));
	memcpy(n256, "user.", 5);
	n256[256] = '\0';

	ERR(uvfs_setxattr(C, "f", "", "x", 1, 0), ERANGE);
	ERR(uvfs_getxattr(C, "f", "", buf, sizeof(buf)), ERANGE);
	ERR(uvfs_removexattr(C, "f", ""), ERANGE);
	ERR(uvfs_setxattr(C, "f", "user.", "x", 1, 0), EINVAL);
	ERR(uvfs_getxattr(C, "f", "user.", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_setxattr(C, "f", "trusted.", "x", 1, 0), EINVAL);
	ERR(uvfs_setxattr(C, "f", "foo.bar", "x", 1, 0), EOPNOTSUPP);
	ERR(uvfs_getxattr(C, "f", "foo.bar", buf, sizeof(buf)), EOPNOTSUPP);
	ERR(uvfs_removexattr(C, "f", "foo.bar"), EOPNOTSUPP);
	ERR(uvfs_setxattr(C, "f", "user", "x", 1, 0), EOPNOTSUPP);
	ERR(uvfs_setxattr(C, "f", "USER.x", "x", 1, 0), EOPNOTSUPP);
	/* no POSIX ACLs */
	ERR(uvfs_setxattr(C, "f", "system.posix_acl_access", "", 0, 0),
	    EOPNOTSUPP);
	ERR(uvfs_getxattr(C, "f", "system.posix_acl_access", buf,
			  sizeof(buf)), EOPNOTSUPP);
	/* 255 bytes is the longest */
	OK(uvfs_setxattr(C, "f", n255, "x", 1, 0));
	assert_string_equal(xget(C, "f", n255), "x");
	assert_int_equal(OK(uvfs_listxattr(C, "f", NULL, 0)), 256);
	OK(uvfs_removexattr(C, "f", n255));
	ERR(uvfs_setxattr(C, "f", n256, "x", 1, 0), ERANGE);
	ERR(uvfs_getxattr(C, "f", n256, buf, sizeof(buf)), ERANGE);
	ERR(uvfs_removexattr(C, "f", n256), ERANGE);
	/* any byte but NUL after the prefix */
	OK(uvfs_setxattr(C, "f", "user.a b/c\n\xff", "x", 1, 0));
	assert_string_equal(xget(C, "f", "user.a b/c\n\xff"), "x");
	/* the path still matters */
	ERR(uvfs_setxattr(C, "nofile", "user.a", "x", 1, 0), ENOENT);
	ERR(uvfs_getxattr(C, "f/x", "user.a", buf, sizeof(buf)), ENOTDIR);
	ERR(uvfs_listxattr(C, "nofile", buf, sizeof(buf)), ENOENT);
}

/* Read needs read permission, write needs write permission; trusted.* is
 * root's alone and hidden from others; security.* is read by anyone and
 * written by root; user.* is for files and directories, and in a sticky
 * directory only its owner writes it. */
static void test_xattr_perm(void **state)
{
	struct uvfs_ctx *u, *v;
	char buf[64];
	int fd;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "readable", "r");
	OK(uvfs_chmod(C, "readable", 0644));
	put(C, "secret", "s");
	OK(uvfs_chmod(C, "secret", 0600));
	put(C, "world", "w");
	OK(uvfs_chmod(C, "world", 0666));
	for (int i = 0; i < 3; i++) {
		const char *f = i == 0 ? "readable" : i == 1 ? "secret"
							      : "world";
		OK(uvfs_setxattr(C, f, "user.a", "1", 1, 0));
		OK(uvfs_setxattr(C, f, "trusted.t", "t", 1, 0));
		OK(uvfs_setxattr(C, f, "security.s", "s", 1, 0));
	}
	u = new_ctx(1000, 1000);
	v = new_ctx(1001, 1001);

	/* user.*: the mode decides */
	assert_string_equal(xget(u, "readable", "user.a"), "1");
	ERR(uvfs_setxattr(u, "readable", "user.b", "2", 1, 0), EACCES);
	ERR(uvfs_removexattr(u, "readable", "user.a"), EACCES);
	ERR(uvfs_getxattr(u, "secret", "user.a", buf, sizeof(buf)), EACCES);
	ERR(uvfs_getxattr(u, "secret", "user.a", NULL, 0), EACCES);
	OK(uvfs_setxattr(u, "world", "user.w", "w", 1, 0));
	OK(uvfs_removexattr(u, "world", "user.w"));
	put(C, "mine", "m");
	OK(uvfs_chown(C, "mine", 1000, 1000));
	OK(uvfs_chmod(u, "mine", 0400));
	ERR(uvfs_setxattr(u, "mine", "user.x", "x", 1, 0), EACCES);
	OK(uvfs_chmod(u, "mine", 0600));
	OK(uvfs_setxattr(u, "mine", "user.x", "x", 1, 0));
	ERR(uvfs_getxattr(v, "mine", "user.x", buf, sizeof(buf)), EACCES);
	/* listing needs no permission on the file, but hides trusted.* */
	assert_string_equal(xnames(u, "secret", true), "security.s user.a ");
	assert_int_equal(OK(uvfs_listxattr(u, "secret", NULL, 0)), 18);
	ERR(uvfs_listxattr(u, "secret", buf, 17), ERANGE);
	assert_string_equal(xnames(C, "secret", true),
			    "security.s trusted.t user.a ");

	/* trusted.*: root only */
	ERR(uvfs_getxattr(u, "world", "trusted.t", buf, sizeof(buf)),
	    ENODATA);
	ERR(uvfs_setxattr(u, "world", "trusted.u", "u", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "mine", "trusted.u", "u", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "world", "trusted.t"), EPERM);
	assert_string_equal(xget(C, "world", "trusted.t"), "t");

	/* security.*: anyone reads, even without read permission; root
	 * writes */
	assert_string_equal(xget(u, "secret", "security.s"), "s");
	ERR(uvfs_setxattr(u, "world", "security.x", "x", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "mine", "security.x", "x", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "world", "security.s"), EPERM);

	/* user.* on a symlink or a device: EPERM to write, nothing to
	 * read, even for root */
	OK(uvfs_symlink(C, "world", "l"));
	ERR(uvfs_lsetxattr(C, "l", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_lgetxattr(C, "l", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_lremovexattr(C, "l", "user.a"), EPERM);
	OK(uvfs_mknod(C, "fifo", S_IFIFO | 0666, 0));
	ERR(uvfs_setxattr(C, "fifo", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "fifo", "user.x", "x", 1, 0), EPERM);
	OK(uvfs_setxattr(C, "fifo", "trusted.x", "x", 1, 0));
	assert_string_equal(xget(C, "fifo", "trusted.x"), "x");

	/* a sticky directory: only its owner (and root) write user.* */
	OK(uvfs_mkdir(C, "tmp", 0777));
	OK(uvfs_chmod(C, "tmp", 01777));
	OK(uvfs_setxattr(C, "tmp", "user.d", "d", 1, 0));
	assert_string_equal(xget(u, "tmp", "user.d"), "d");
	ERR(uvfs_setxattr(u, "tmp", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "tmp", "user.d"), EPERM);
	OK(uvfs_chown(C, "tmp", 1000, 1000));
	OK(uvfs_setxattr(u, "tmp", "user.x", "x", 1, 0));
	ERR(uvfs_setxattr(v, "tmp", "user.y", "y", 1, 0), EPERM);
	/* not sticky: the mode decides */
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));
	OK(uvfs_setxattr(v, "pub", "user.y", "y", 1, 0));
	OK(uvfs_mkdir(C, "closed", 0755));
	ERR(uvfs_setxattr(v, "closed", "user.y", "y", 1, 0), EACCES);

	/* a descriptor's access mode does not matter, the file's does */
	fd = (int)OK(uvfs_open(u, "readable", O_RDONLY, 0));
	ERR(uvfs_fsetxattr(u, fd, "user.b", "2", 1, 0), EACCES);
	OK(uvfs_close(u, fd));
	fd = (int)OK(uvfs_open(u, "world", O_RDONLY, 0));
	OK(uvfs_fsetxattr(u, fd, "user.b", "2", 1, 0));
	OK(uvfs_close(u, fd));
	assert_string_equal(xget(C, "world", "user.b"), "2");

	/* search permission on the way */
	OK(uvfs_mkdir(C, "priv", 0700));
	put(C, "priv/f", "");
	ERR(uvfs_getxattr(u, "priv/f", "security.s", buf, sizeof(buf)),
	    EACCES);
	ERR(uvfs_listxattr(u, "priv/f", buf, sizeof(buf)), EACCES);
}

/* The descriptor forms, and attributes that live with the file: through
 * symlinks (followed or not), renames, hard links, an unlinked open file,
 * gone with the file. */
static void test_xattr_links(void **state)
{
	char buf[64];
	int fd, pfd;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "data");
	OK(uvfs_setxattr(C, "f", "user.a", "a", 1, 0));

	/* descriptors, even read-only ones */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fsetxattr(C, fd, "user.fd", "fd", 2, 0));
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.fd", buf,
					   sizeof(buf))), 2);
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.fd", NULL, 0)), 2);
	ERR(uvfs_fgetxattr(C, fd, "user.fd", buf, 1), ERANGE);
	ERR(uvfs_fsetxattr(C, fd, "user.fd", "x", 1, XATTR_CREATE), EEXIST);
	assert_int_equal(OK(uvfs_flistxattr(C, fd, NULL, 0)), 7 + 8);
	OK(uvfs_fremovexattr(C, fd, "user.fd"));
	ERR(uvfs_fremovexattr(C, fd, "user.fd"), ENODATA);
	ERR(uvfs_fgetxattr(C, fd, "user.fd", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_fgetxattr(C, 999, "user.a", buf, sizeof(buf)), EBADF);
	ERR(uvfs_fsetxattr(C, -1, "user.a", "x", 1, 0), EBADF);
	ERR(uvfs_flistxattr(C, 999, buf, sizeof(buf)), EBADF);
	ERR(uvfs_fremovexattr(C, 999, "user.a"), EBADF);
	/* not through O_PATH */
	pfd = (int)OK(uvfs_open(C, "f", O_PATH, 0));
	ERR(uvfs_fgetxattr(C, pfd, "user.a", buf, sizeof(buf)), EBADF);
	ERR(uvfs_fsetxattr(C, pfd, "user.a", "x", 1, 0), EBADF);
	OK(uvfs_close(C, pfd));
	/* a directory's descriptor */
	OK(uvfs_mkdir(C, "d", 0755));
	pfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fsetxattr(C, pfd, "user.d", "d", 1, 0));
	OK(uvfs_close(C, pfd));
	assert_string_equal(xget(C, "d", "user.d"), "d");

	/* symlinks: the plain forms follow, the l* forms do not */
	OK(uvfs_symlink(C, "f", "l"));
	assert_string_equal(xget(C, "l", "user.a"), "a");
	ERR(uvfs_lgetxattr(C, "l", "user.a", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xnames(C, "l", true), "user.a ");
	assert_string_equal(xnames(C, "l", false), "");
	OK(uvfs_setxattr(C, "l", "user.via", "v", 1, 0));
	assert_string_equal(xget(C, "f", "user.via"), "v");
	OK(uvfs_removexattr(C, "l", "user.via"));
	OK(uvfs_lsetxattr(C, "l", "trusted.l", "l", 1, 0));
	assert_int_equal(OK(uvfs_lgetxattr(C, "l", "trusted.l", buf,
					   sizeof(buf))), 1);
	ERR(uvfs_getxattr(C, "l", "trusted.l", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xnames(C, "l", false), "trusted.l ");
	assert_string_equal(xnames(C, "f", true), "user.a ");
	OK(uvfs_lremovexattr(C, "l", "trusted.l"));
	ERR(uvfs_lremovexattr(C, "l", "trusted.l"), ENODATA);
	/* the l* forms on a file are the plain ones */
	assert_int_equal(OK(uvfs_lgetxattr(C, "f", "user.a", buf,
					   sizeof(buf))), 1);
	OK(uvfs_symlink(C, "nowhere", "dangling"));
	ERR(uvfs_getxattr(C, "dangling", "user.a", buf, sizeof(buf)), ENOENT);
	ERR(uvfs_setxattr(C, "dangling", "user.a", "x", 1, 0), ENOENT);
	ERR(uvfs_lgetxattr(C, "dangling", "trusted.a", buf, sizeof(buf)),
	    ENODATA);

	/* renames and hard links keep them: they are the file's */
	OK(uvfs_rename(C, "f", "g", 0));
	assert_string_equal(xget(C, "g", "user.a"), "a");
	OK(uvfs_link(C, "g", "h"));
	OK(uvfs_setxattr(C, "h", "user.h", "h", 1, 0));
	assert_string_equal(xget(C, "g", "user.h"), "h");
	assert_string_equal(xnames(C, "g", true), xnames(C, "h", true));
	OK(uvfs_rename(C, "d", "e", 0));
	assert_string_equal(xget(C, "e", "user.d"), "d");
	OK(uvfs_mkdir(C, "e/sub", 0755));
	OK(uvfs_rename(C, "h", "e/sub/h", 0));
	assert_string_equal(xget(C, "e/sub/h", "user.h"), "h");
	/* renamed over: the target's are gone with it */
	put(C, "x", "");
	put(C, "y", "");
	OK(uvfs_setxattr(C, "x", "user.x", "x", 1, 0));
	OK(uvfs_setxattr(C, "y", "user.y", "y", 1, 0));
	OK(uvfs_rename(C, "x", "y", 0));
	assert_string_equal(xnames(C, "y", true), "user.x ");

	/* an unlinked file still open keeps them; a new file of the same
	 * name has none */
	OK(uvfs_unlink(C, "g"));
	OK(uvfs_unlink(C, "e/sub/h"));
	assert_string_equal(xnames(C, "l", false), "");
	ERR(uvfs_getxattr(C, "l", "user.a", buf, sizeof(buf)), ENOENT);
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.h", buf,
					   sizeof(buf))), 1);
	OK(uvfs_fsetxattr(C, fd, "user.late", "z", 1, 0));
	assert_int_equal(OK(uvfs_flistxattr(C, fd, NULL, 0)), 7 + 7 + 10);
	OK(uvfs_close(C, fd));
	put(C, "g", "new");
	assert_string_equal(xnames(C, "g", true), "");
	ERR(uvfs_getxattr(C, "g", "user.a", buf, sizeof(buf)), ENODATA);
	OK(uvfs_mkdir(C, "d", 0755));
	assert_string_equal(xnames(C, "d", true), "");
	OK(uvfs_rmdir(C, "e/sub"));
	OK(uvfs_rmdir(C, "e"));
	OK(uvfs_mkdir(C, "e", 0755));
	assert_string_equal(xnames(C, "e", true), "");
}

/* On a read-only mount (a memfs here, whatever the type under test)
 * writes fail with -EROFS, before any other check; reads work. */
static void test_xattr_rdonly(void **state)
{
	char buf[8];
	int i;

	(void)state;
	OK(uvfs_mkdir(C, "m", 0755));
	OK(uvfs_mount(C, "memfs", "none", abs_path("m"), "ro"));
	for (i = 0; i < MAX_EXTRA && extra_mounts[i][0]; i++)
		;
	assert_true(i < MAX_EXTRA);
	snprintf(extra_mounts[i], sizeof(extra_mounts[i]), "%s",
		 abs_path("m"));
	assert_string_equal(xnames(C, "m", true), "");
	ERR(uvfs_getxattr(C, "m", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_setxattr(C, "m", "user.a", "a", 1, 0), EROFS);
	ERR(uvfs_setxattr(C, "m", "trusted.a", "a", 1, 0), EROFS);
	ERR(uvfs_removexattr(C, "m", "user.a"), EROFS);
	ERR(uvfs_lsetxattr(C, "m", "user.a", "a", 1, 0), EROFS);
	/* the name is checked first, as on Linux */
	ERR(uvfs_setxattr(C, "m", "", "a", 1, 0), ERANGE);
	umount_memfs("m");
}

/* ---- hard links that outlive their first name (9P: the fid a file was
 * first walked by names the name it was walked by) -------------------- */

/* Appends data to path (O_APPEND). */
static void append(struct uvfs_ctx *c, const char *path, const char *data)
{
	int fd = (int)OK(uvfs_open(c, path, O_WRONLY | O_APPEND, 0));
	size_t n = strlen(data);

	assert_int_equal(OK(uvfs_write(c, fd, data, n)), n);
	OK(uvfs_close(c, fd));
}

/* Longer than any attribute cache of a remote type (actimeo=1000 ms):
 * what follows asks the server again. */
#define ATTR_CACHE_MS 1200

/* echo data > a; ln a b; rm a; cat b; ln b c; append, chmod, lstat b
 * once attributes cached by the first name have expired.  The file is
 * held open by its first name meanwhile: fstat and fchmod go to the file
 * (not to a name) before any other lookup. */
static void test_link_first_name_gone(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "a", "data");
	ino_t ino = st_of(C, "a").st_ino;
	fd = (int)OK(uvfs_open(C, "a", O_RDWR, 0));
	OK(uvfs_link(C, "a", "b"));
	OK(uvfs_unlink(C, "a"));
	sleep_ms(ATTR_CACHE_MS);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_ino, ino);
	OK(uvfs_fchmod(C, fd, 0640));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0640);
	OK(uvfs_close(C, fd));
	assert_false(exists(C, "a"));
	ASSERT_CONTENT(C, "b", "data");
	OK(uvfs_link(C, "b", "c"));
	st = lst_of(C, "b");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, ino);
	append(C, "b", "+more");
	OK(uvfs_chmod(C, "b", 0600));
	sleep_ms(ATTR_CACHE_MS);
	st = lst_of(C, "b");
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 9);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, ino);
	ASSERT_CONTENT(C, "c", "data+more");
	/* and the first link's name is free again */
	put(C, "a", "new");
	ASSERT_CONTENT(C, "a", "new");
	ASSERT_CONTENT(C, "b", "data+more");
	assert_int_equal(st_of(C, "c").st_nlink, 2);
	OK(uvfs_unlink(C, "b"));
	assert_int_equal(st_of(C, "c").st_nlink, 1);
	ASSERT_CONTENT(C, "c", "data+more");
}

/* The surviving name renamed (into another directory too), the names in
 * other directories: every remaining name reaches the file, counts agree. */
static void test_link_rename_survivor(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "d1", 0755));
	OK(uvfs_mkdir(C, "d2", 0755));
	put(C, "d1/a", "x");
	OK(uvfs_link(C, "d1/a", "d2/b"));
	OK(uvfs_link(C, "d1/a", "c"));
	assert_int_equal(st_of(C, "c").st_nlink, 3);
	OK(uvfs_unlink(C, "d1/a"));
	OK(uvfs_rename(C, "d2/b", "d1/moved", 0));
	ASSERT_CONTENT(C, "d1/moved", "x");
	OK(uvfs_unlink(C, "c"));
	append(C, "d1/moved", "y");
	OK(uvfs_link(C, "d1/moved", "d2/again"));
	sleep_ms(ATTR_CACHE_MS);
	st = lst_of(C, "d2/again");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 2);
	OK(uvfs_chmod(C, "d1/moved", 0640));
	assert_int_equal(st_of(C, "d2/again").st_mode & 07777, 0640);
	/* the directory holding the survivor renamed too */
	OK(uvfs_rename(C, "d2", "d3", 0));
	OK(uvfs_unlink(C, "d1/moved"));
	ASSERT_CONTENT(C, "d3/again", "xy");
	assert_int_equal(st_of(C, "d3/again").st_nlink, 1);
	ERR(uvfs_link(C, "d1/moved", "d1/none"), ENOENT);
	OK(uvfs_link(C, "d3/again", "d1/back"));
	ASSERT_CONTENT(C, "d1/back", "xy");
}

/* Every name unlinked while the file is open: the open file reads and
 * writes on, fstat says no links; its data goes with the last close. */
static void test_link_unlink_open(void **state)
{
	struct stat st;
	char buf[32];
	int fd;

	(void)state;
	put(C, "a", "12345");
	OK(uvfs_link(C, "a", "b"));
	fd = (int)OK(uvfs_open(C, "b", O_RDWR, 0));
	OK(uvfs_unlink(C, "a"));
	ASSERT_CONTENT(C, "b", "12345");
	OK(uvfs_unlink(C, "b"));
	assert_false(exists(C, "b"));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "abc", 3, 5)), 3);
	sleep_ms(ATTR_CACHE_MS);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 8);
	assert_memory_equal(buf, "12345abc", 8);
	OK(uvfs_close(C, fd));
}

/* ---- deep paths: below the mount, depth is limited by nothing but the
 * file system (the kernel's PATH_MAX bounds one path argument, not the
 * depth of a tree: each step here is relative to the working directory) */

#define DEEP_LEVELS 42

static void deep_name(char *name, int level)
{
	memset(name, 'a' + level % 26, 255);
	name[0] = (char)('A' + level % 26);
	name[255] = '\0';
}

static void test_deep_paths(void **state)
{
	char name[256], buf[64];
	struct uvfs_dirent de[8];
	struct stat st;
	ssize_t n;
	int fd, level;
	bool seen = false;

	(void)state;
	for (level = 0; level < DEEP_LEVELS; level++) {
		deep_name(name, level);
		OK(uvfs_mkdir(C, name, 0755));
		OK(uvfs_chdir(C, name));
	}
	/* at more than 10 KiB below the test's directory */
	put(C, "f", "deep");
	st = st_of(C, "f");
	assert_int_equal(st.st_size, 4);
	fd = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "er", 2, 4)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 6);
	assert_memory_equal(buf, "deeper", 6);
	OK(uvfs_close(C, fd));
	deep_name(name, DEEP_LEVELS);
	OK(uvfs_rename(C, "f", name, 0));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	while ((n = OK(uvfs_readdir(C, fd, de, 8))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (strcmp(de[i].name, name) == 0)
				seen = true;
	OK(uvfs_close(C, fd));
	assert_true(seen);
	/* the file's attributes once they must be asked for again */
	sleep_ms(ATTR_CACHE_MS);
	assert_int_equal(st_of(C, name).st_size, 6);
	ASSERT_CONTENT(C, name, "deeper");
	OK(uvfs_mkdir(C, "sub", 0700));
	char target[300];
	snprintf(target, sizeof(target), "../%s", name);
	OK(uvfs_symlink(C, target, "sub/link"));
	ASSERT_CONTENT(C, "sub/link", "deeper");
	OK(uvfs_unlink(C, "sub/link"));
	OK(uvfs_rmdir(C, "sub"));
	OK(uvfs_unlink(C, name));
	assert_false(exists(C, name));
	/* and back up, removing each level */
	for (level = DEEP_LEVELS - 1; level >= 0; level--) {
		deep_name(name, level);
		OK(uvfs_chdir(C, ".."));
		OK(uvfs_rmdir(C, name));
	}
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
}

/* ---- O_DIRECT: a hint the file system may take; the data is the same */

static void test_o_direct(void **state)
{
	static char wbuf[8192] __attribute__((aligned(4096)));
	static char rbuf[8192] __attribute__((aligned(4096)));
	struct stat st;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (char)('a' + i % 23);
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR | O_DIRECT, 0644));
	assert_int_equal(OK(uvfs_write(C, fd, wbuf, 4096)), 4096);
	assert_int_equal(OK(uvfs_pwrite(C, fd, wbuf + 4096, 4096, 4096)),
			 4096);
	assert_int_equal(OK(uvfs_pread(C, fd, rbuf, 8192, 0)), 8192);
	assert_memory_equal(rbuf, wbuf, 8192);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 8192);
	OK(uvfs_close(C, fd));
	/* an existing file opened O_DIRECT, read back without it */
	fd = (int)OK(uvfs_open(C, "f", O_RDWR | O_DIRECT, 0));
	memset(wbuf, 'Z', 4096);
	assert_int_equal(OK(uvfs_pwrite(C, fd, wbuf, 4096, 4096)), 4096);
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_pread(C, fd, rbuf, 8192, 0)), 8192);
	assert_memory_equal(rbuf + 4096, wbuf, 4096);
	assert_int_equal(rbuf[0], 'a');
	OK(uvfs_close(C, fd));
	/* a write-only and an appending O_DIRECT handle */
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_APPEND | O_DIRECT, 0));
	assert_int_equal(OK(uvfs_write(C, fd, wbuf, 4096)), 4096);
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "f").st_size, 12288);
}

/* ---- fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range ------------------- */

#include "conformance_fileops.c"

/* ---- file locks: conformance_locks.c ------------------------------------ */

#include "conformance_locks.c"

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

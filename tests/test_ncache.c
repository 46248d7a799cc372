/*
 * test_ncache.c - the name cache may never answer with a name that is gone
 * or a file that changed: every lookup below runs twice (the second one is
 * a cache hit) after each change of the namespace, and two threads race
 * renames against lookups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <uvfs/uvfs.h>

#include "testfs.h"

static struct uvfs *U;
static struct uvfs_ctx *C;

static int setup(void **state)
{
	(void)state;
	if (uvfs_new(NULL, &U) || uvfs_ctx_new(U, NULL, &C) ||
	    uvfs_fstype_register(U, &testfs_ops))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	uvfs_ctx_free(C);
	uvfs_free(U);
	return 0;
}

static ino_t ino_of(const char *path)
{
	struct stat a, b;
	int r1 = uvfs_stat(C, path, &a), r2 = uvfs_stat(C, path, &b);

	assert_int_equal(r1, r2);
	if (r1)
		return 0;
	assert_int_equal(a.st_ino, b.st_ino);
	return a.st_ino;
}

static void mkfile(const char *path)
{
	int fd = uvfs_open(C, path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
}

static void rename_unlink_create(void **state)
{
	ino_t a, c, d;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t1", 0755), 0);
	mkfile("/t1/a");
	a = ino_of("/t1/a");
	assert_true(a != 0);
	assert_int_equal(uvfs_rename(C, "/t1/a", "/t1/b", 0), 0);
	assert_int_equal(ino_of("/t1/a"), 0);
	assert_int_equal(ino_of("/t1/b"), a);
	assert_int_equal(uvfs_unlink(C, "/t1/b"), 0);
	assert_int_equal(ino_of("/t1/b"), 0);
	mkfile("/t1/b");
	assert_true(ino_of("/t1/b") != a);
	/* replace: the old target's entry must go */
	mkfile("/t1/c");
	c = ino_of("/t1/c");
	d = ino_of("/t1/b");
	assert_int_equal(uvfs_rename(C, "/t1/b", "/t1/c", 0), 0);
	assert_int_equal(ino_of("/t1/c"), d);
	assert_true(ino_of("/t1/c") != c);
	/* exchange */
	mkfile("/t1/e");
	ino_t e = ino_of("/t1/e");
	assert_int_equal(uvfs_rename(C, "/t1/c", "/t1/e", RENAME_EXCHANGE), 0);
	assert_int_equal(ino_of("/t1/c"), e);
	assert_int_equal(ino_of("/t1/e"), d);
}

static void directories_and_links(void **state)
{
	ino_t d1, f;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t2", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t2/d", 0755), 0);
	mkfile("/t2/d/f");
	d1 = ino_of("/t2/d");
	f = ino_of("/t2/d/f");
	/* a directory moved: names below follow it */
	assert_int_equal(uvfs_rename(C, "/t2/d", "/t2/e", 0), 0);
	assert_int_equal(ino_of("/t2/d/f"), 0);
	assert_int_equal(ino_of("/t2/e/f"), f);
	assert_int_equal(ino_of("/t2/e"), d1);
	/* hard link, then the first name goes */
	assert_int_equal(uvfs_link(C, "/t2/e/f", "/t2/g"), 0);
	assert_int_equal(ino_of("/t2/g"), f);
	assert_int_equal(uvfs_unlink(C, "/t2/e/f"), 0);
	assert_int_equal(ino_of("/t2/e/f"), 0);
	assert_int_equal(ino_of("/t2/g"), f);
	/* rmdir and a new directory of the same name */
	assert_int_equal(uvfs_unlink(C, "/t2/g"), 0);
	assert_int_equal(uvfs_rmdir(C, "/t2/e"), 0);
	assert_int_equal(ino_of("/t2/e"), 0);
	assert_int_equal(uvfs_mkdir(C, "/t2/e", 0755), 0);
	assert_true(ino_of("/t2/e") != d1);
	assert_int_equal(ino_of("/t2/e/f"), 0);
}

static void revoke_gives_fresh_vnode(void **state)
{
	char buf[4];
	int fd;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t3", 0755), 0);
	fd = uvfs_open(C, "/t3/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, "abc", 3), 3);
	ino_t i = ino_of("/t3/f");
	assert_int_equal(uvfs_revoke(C, "/t3/f"), 0);
	assert_int_equal(uvfs_pread(C, fd, buf, 3, 0), -EIO);
	/* the cached name must not hand out the dead vnode */
	assert_int_equal(ino_of("/t3/f"), i);
	int fd2 = uvfs_open(C, "/t3/f", O_RDONLY, 0);
	assert_true(fd2 >= 0);
	assert_int_equal(uvfs_pread(C, fd2, buf, 3, 0), 3);
	assert_int_equal(uvfs_close(C, fd2), 0);
	assert_int_equal(uvfs_close(C, fd), 0);
}

struct race {
	int stop;
	long bad, seen;
	ino_t ino;
};

/* Which file a stat found: its device and inode in one number. */
static long file_id(const struct stat *st)
{
	return (long)st->st_ino * 1000003L + (long)st->st_dev;
}

/* What a context that has walked nothing yet sees of path (its path
 * cache empty: the walk's own answer): file_id, or -errno. */
static long fresh_view(const char *cwd, const char *path, bool nofollow)
{
	struct uvfs_ctx *c;
	struct stat st;
	long r;

	assert_int_equal(uvfs_ctx_new(U, NULL, &c), 0);
	if (cwd)
		assert_int_equal(uvfs_chdir(c, cwd), 0);
	r = nofollow ? uvfs_lstat(c, path, &st) : uvfs_stat(c, path, &st);
	uvfs_ctx_free(c);
	return r ? r : file_id(&st);
}

/* C's answer (from its path cache when it walked path before) is the
 * fresh context's, twice. */
static void same_as_fresh(const char *cwd, const char *path, bool nofollow)
{
	for (int i = 0; i < 2; i++) {
		struct stat st;
		int r = nofollow ? uvfs_lstat(C, path, &st)
				 : uvfs_stat(C, path, &st);
		long want = fresh_view(cwd, path, nofollow);

		long got = r ? r : file_id(&st);

		if (got != want)
			fail_msg("%s%s (cwd %s): %ld, a fresh walk %ld",
				 nofollow ? "lstat " : "", path,
				 cwd ? cwd : "/", got, want);
	}
}

/* The context's path cache (lib/core/pcache.h) answers a path it walked
 * before with one probe: after each change that can alter where a path
 * leads, the answer must be a fresh walk's.  Each path is asked before
 * the change (so that it is cached) and after. */
static void path_cache_follows_changes(void **state)
{
	static const char *const paths[] = {
		"/t9/a/b/f", "/t9/a/b", "/t9/a/b/", "/t9/x/b/f", "/t9/a/b/s",
		"/t9/a/b/f/", "/t9/l/b/f",
		"/t9/a/b/a-name-long-enough-that-the-path-is-walked-each-time",
	};
	const size_t n = sizeof(paths) / sizeof(paths[0]);

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t9", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t9/a", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t9/a/b", 0755), 0);
	mkfile("/t9/a/b/f");
	mkfile("/t9/a/b/a-name-long-enough-that-the-path-is-walked-each-time");
	assert_int_equal(uvfs_symlink(C, "f", "/t9/a/b/s"), 0);
	assert_int_equal(uvfs_symlink(C, "a", "/t9/l"), 0);
#define ALL()                                                          \
	do {                                                           \
		for (size_t i = 0; i < n; i++) {                       \
			same_as_fresh(NULL, paths[i], false);          \
			same_as_fresh(NULL, paths[i], true);           \
		}                                                      \
	} while (0)
	assert_int_equal(uvfs_chdir(C, "/"), 0);
	ALL();
	/* a directory in the middle renamed, and back */
	assert_int_equal(uvfs_rename(C, "/t9/a", "/t9/x", 0), 0);
	ALL();
	assert_int_equal(uvfs_rename(C, "/t9/x", "/t9/a", 0), 0);
	ALL();
	/* the last name: unlinked, made again (another inode), replaced by
	 * a rename, a link's target changed */
	assert_int_equal(uvfs_unlink(C, "/t9/a/b/f"), 0);
	ALL();
	mkfile("/t9/a/b/f");
	ALL();
	mkfile("/t9/a/b/g");
	assert_int_equal(uvfs_rename(C, "/t9/a/b/g", "/t9/a/b/f", 0), 0);
	ALL();
	assert_int_equal(uvfs_unlink(C, "/t9/a/b/s"), 0);
	assert_int_equal(uvfs_mkdir(C, "/t9/a/b/s", 0755), 0);
	ALL();
	/* a file system mounted on a directory in the middle, unmounted;
	 * then one on the last name, force-unmounted */
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/t9/a", NULL), 0);
	ALL();
	assert_int_equal(uvfs_umount(C, "/t9/a", 0), 0);
	ALL();
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/t9/a/b/s", NULL), 0);
	ALL();
	assert_int_equal(uvfs_umount(C, "/t9/a/b/s", UVFS_UMOUNT_FORCE), 0);
	ALL();
	/* a relative path: from the cwd, then from another cwd */
	assert_int_equal(uvfs_mkdir(C, "/t9/y", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t9/y/b", 0755), 0);
	mkfile("/t9/y/b/f");
	assert_int_equal(uvfs_chdir(C, "/t9/a"), 0);
	same_as_fresh("/t9/a", "b/f", false);
	assert_int_equal(uvfs_unlink(C, "/t9/a/b/f"), 0);
	same_as_fresh("/t9/a", "b/f", false);
	mkfile("/t9/a/b/f");
	same_as_fresh("/t9/a", "b/f", false);
	assert_int_equal(uvfs_chdir(C, "/t9/y"), 0);
	same_as_fresh("/t9/y", "b/f", false);
	assert_int_equal(uvfs_chdir(C, "/"), 0);
	ALL();
	/* a directory in the middle revoked: its vnode is dead, the names
	 * are walked again */
	assert_int_equal(uvfs_revoke(C, "/t9/a/b"), 0);
	ALL();
	/* the last name renamed away */
	assert_int_equal(uvfs_rename(C, "/t9/a/b/f", "/t9/a/b/h", 0), 0);
	ALL();
#undef ALL
}

static void *renamer(void *arg)
{
	struct race *r = arg;
	struct uvfs_ctx *c;

	uvfs_ctx_new(U, NULL, &c);
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (uvfs_rename(c, "/t4/x", "/t4/y", 0) ||
		    uvfs_rename(c, "/t4/y", "/t4/x", 0))
			__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
	}
	uvfs_ctx_free(c);
	return NULL;
}

static void *looker(void *arg)
{
	struct race *r = arg;
	struct uvfs_ctx *c;
	struct stat st;

	uvfs_ctx_new(U, NULL, &c);
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 2; i++) {
			int e = uvfs_stat(c, i ? "/t4/y" : "/t4/x", &st);
			if (e == 0 && st.st_ino != r->ino)
				__atomic_add_fetch(&r->bad, 1,
						   __ATOMIC_RELAXED);
			else if (e && e != -ENOENT)
				__atomic_add_fetch(&r->bad, 1,
						   __ATOMIC_RELAXED);
			else if (e == 0)
				__atomic_add_fetch(&r->seen, 1,
						   __ATOMIC_RELAXED);
		}
	}
	uvfs_ctx_free(c);
	return NULL;
}

static void rename_race(void **state)
{
	struct race r = { 0, 0, 0, 0 };
	pthread_t t[3];
	struct timespec ts = { 0, 300 * 1000000L };

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t4", 0755), 0);
	mkfile("/t4/x");
	r.ino = ino_of("/t4/x");
	pthread_create(&t[0], NULL, renamer, &r);
	pthread_create(&t[1], NULL, looker, &r);
	pthread_create(&t[2], NULL, looker, &r);
	nanosleep(&ts, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(r.bad, 0);
	assert_true(r.seen > 0);
	/* exactly one of the two names, and it is the file */
	ino_t x = ino_of("/t4/x"), y = ino_of("/t4/y");
	assert_true((x == r.ino && y == 0) || (y == r.ino && x == 0));
}

/* The path walk's RCU mode (namei.c, walk_rcu) answers a path whose names
 * are all cached without references; each case below is one it must hand
 * back to the walk with references, after the names were cached by a
 * first lookup: the answer must be what that walk gives. */
static void rcu_walk_hands_back(void **state)
{
	struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *uc;
	struct stat st;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t5", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t5/d", 0755), 0);
	mkfile("/t5/d/f");
	mkfile("/t5/d/.hidden");
	assert_int_equal(uvfs_symlink(C, "d", "/t5/l"), 0);
	assert_true(ino_of("/t5/d/f") != 0);           /* cached now */
	assert_true(ino_of("/t5/d/.hidden") != 0);     /* dot names too */

	/* a trailing slash after a file, a file where a directory must be */
	assert_int_equal(uvfs_stat(C, "/t5/d/f/", &st), -ENOTDIR);
	assert_int_equal(uvfs_stat(C, "/t5/d/f/x", &st), -ENOTDIR);
	assert_int_equal(uvfs_chdir(C, "/t5/d/f"), -ENOTDIR);
	/* ".", "..", a link followed in the middle and at the end, not at
	 * the end of an lstat */
	assert_int_equal(ino_of("/t5/d/./f"), ino_of("/t5/d/f"));
	assert_int_equal(ino_of("/t5/d/../d/f"), ino_of("/t5/d/f"));
	assert_int_equal(ino_of("/t5/l/f"), ino_of("/t5/d/f"));
	assert_int_equal(uvfs_stat(C, "/t5/l", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(uvfs_lstat(C, "/t5/l", &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* a user other than root: search permission is the driver's */
	assert_int_equal(uvfs_ctx_new(U, NULL, &uc), 0);
	assert_int_equal(uvfs_ctx_set_cred(uc, &user), 0);
	assert_int_equal(uvfs_stat(uc, "/t5/d/f", &st), 0);
	assert_int_equal(uvfs_chmod(C, "/t5/d", 0700), 0);
	assert_true(ino_of("/t5/d/f") != 0);           /* cached again */
	assert_int_equal(uvfs_stat(uc, "/t5/d/f", &st), -EACCES);
	assert_int_equal(uvfs_chmod(C, "/t5/d", 0755), 0);

	/* a file system mounted on a directory whose names are cached */
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/t5/d", NULL), 0);
	assert_int_equal(uvfs_stat(C, "/t5/d/f", &st), -ENOENT);
	assert_int_equal(uvfs_stat(C, "/t5/l/f", &st), -ENOENT);
	mkfile("/t5/d/g");
	assert_int_equal(uvfs_stat(uc, "/t5/d/g", &st), 0);
	assert_int_equal(uvfs_umount(C, "/t5/d", 0), 0);
	assert_true(ino_of("/t5/d/f") != 0);
	assert_int_equal(ino_of("/t5/d/g"), 0);

	/* a directory revoked under cached names: its vnode is dead */
	assert_int_equal(uvfs_revoke(C, "/t5/d"), 0);
	assert_true(ino_of("/t5/d/f") != 0);
	assert_true(ino_of("/t5/l/f") != 0);
	uvfs_ctx_free(uc);
}

/* The walk in RCU mode finds each name's end and its hash a word at a time
 * (lib/core/hashname.h): slashes doubled and trailing, names at every
 * length around a word's, names that differ only in their last byte, a
 * link to a file with a slash after it, a walk from the cwd, and a cwd in
 * a file system force-unmounted under cached names.  Each lookup runs
 * twice (ino_of): the second from the cache. */
static void rcu_walk_names(void **state)
{
	static const char *const names[] = {
		"abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop",
		"abcdefghijklmnopq", "x",
	};
	struct uvfs_ctx *c2;
	struct stat st;
	char path[512];

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t7", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/t7/d", 0755), 0);
	mkfile("/t7/d/f");
	assert_int_equal(uvfs_symlink(C, "d", "/t7/l"), 0);
	assert_int_equal(uvfs_symlink(C, "d/f", "/t7/fl"), 0);
	ino_t f = ino_of("/t7/d/f"), d = ino_of("/t7/d");

	assert_true(f != 0 && d != 0);
	assert_int_equal(ino_of("//t7//d///f"), f);
	assert_int_equal(ino_of("/t7/d/"), d);
	assert_int_equal(ino_of("/t7/d//"), d);
	assert_int_equal(ino_of("/t7/l/"), d);
	assert_int_equal(uvfs_lstat(C, "/t7/l/", &st), 0);  /* followed */
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(uvfs_lstat(C, "/t7/l", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(ino_of("/t7/fl"), f);
	assert_int_equal(uvfs_lstat(C, "/t7/fl", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(uvfs_stat(C, "/t7/fl/", &st), -ENOTDIR);
	assert_int_equal(uvfs_stat(C, "/t7/d/f//", &st), -ENOTDIR);
	assert_int_equal(uvfs_stat(C, "/t7/d/f/.", &st), -ENOTDIR);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		snprintf(path, sizeof(path), "/t7/d/%s", names[i]);
		mkfile(path);
		ino_t x = ino_of(path);
		assert_true(x != 0 && x != f);
		path[strlen(path) - 1] ^= 1;    /* the last byte differs */
		assert_int_equal(ino_of(path), 0);
		path[strlen(path) - 1] ^= 1;
		path[6 + n / 2] ^= 1;           /* a middle one */
		assert_int_equal(ino_of(path), 0);
		path[6 + n / 2] ^= 1;
		assert_int_equal(ino_of(path), x);
		strcat(path, "/");
		assert_int_equal(uvfs_stat(C, path, &st), -ENOTDIR);
	}
	memset(path, 'n', sizeof(path) - 1);
	memcpy(path, "/t7/", 4);
	path[4 + NAME_MAX + 1] = '\0';
	assert_int_equal(uvfs_stat(C, path, &st), -ENAMETOOLONG);

	/* from the cwd */
	assert_int_equal(uvfs_ctx_new(U, NULL, &c2), 0);
	assert_int_equal(uvfs_chdir(c2, "/t7/d"), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(uvfs_stat(c2, "f", &st), 0);
		assert_int_equal(st.st_ino, f);
		assert_int_equal(uvfs_stat(c2, "", &st), -ENOENT);
	}

	/* a cwd in a file system killed by a forced unmount */
	assert_int_equal(uvfs_mkdir(C, "/t7/m", 0755), 0);
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/t7/m", NULL), 0);
	assert_int_equal(uvfs_mkdir(C, "/t7/m/a", 0755), 0);
	mkfile("/t7/m/a/g");
	assert_int_equal(uvfs_chdir(c2, "/t7/m"), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uvfs_stat(c2, "a/g", &st), 0);
	assert_int_equal(uvfs_umount(C, "/t7/m", UVFS_UMOUNT_FORCE), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uvfs_stat(c2, "a/g", &st), -EIO);
	uvfs_ctx_free(c2);
}

/* A file referenced ever since it was made (held open from its create,
 * as the FUSE kernel holds a file it created) has never been released, so
 * it is not on the vnode cache's LRU: its lookups must still be name-cache
 * hits, for root (the RCU walk) and for another user (the locked walk),
 * and the cache must still let go of it when the name goes. */
static void held_since_create_hits(void **state)
{
	struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *uc;
	struct stat st;
	unsigned long before;
	int fd;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/t6", 0755), 0);
	assert_int_equal(uvfs_mount(C, "testfs", "none", "/t6", NULL), 0);
	assert_int_equal(uvfs_mkdir(C, "/t6/d", 0755), 0);
	fd = uvfs_open(C, "/t6/d/f", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &uc), 0);
	assert_int_equal(uvfs_ctx_set_cred(uc, &user), 0);
	assert_int_equal(uvfs_stat(C, "/t6/d/f", &st), 0);
	assert_int_equal(uvfs_stat(uc, "/t6/d/f", &st), 0);

	before = testfs_calls(TFS_LOOKUP);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(uvfs_stat(C, "/t6/d/f", &st), 0);
		assert_int_equal(uvfs_stat(uc, "/t6/d/f", &st), 0);
	}
	assert_int_equal(testfs_calls(TFS_LOOKUP) - before, 0);

	/* the name goes while the file is held: no hit on it any more */
	assert_int_equal(uvfs_unlink(C, "/t6/d/f"), 0);
	assert_int_equal(uvfs_stat(C, "/t6/d/f", &st), -ENOENT);
	assert_int_equal(uvfs_stat(uc, "/t6/d/f", &st), -ENOENT);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	/* and a revoked held file: the cache hands out no dead vnode */
	int fd2 = uvfs_open(C, "/t6/d/g", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd2 >= 0);
	ino_t g = ino_of("/t6/d/g");
	assert_int_equal(uvfs_revoke(C, "/t6/d/g"), 0);
	assert_int_equal(uvfs_fstat(C, fd2, &st), -EIO);
	assert_int_equal(ino_of("/t6/d/g"), g);
	assert_int_equal(uvfs_stat(uc, "/t6/d/g", &st), 0);
	assert_int_equal(uvfs_close(C, fd2), 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	uvfs_ctx_free(uc);
	assert_int_equal(uvfs_umount(C, "/t6", 0), 0);
}

/* ---- the table grows under readers ------------------------------------ */

struct grow_reader {
	struct uvfs *u;
	atomic_int made;        /* files /g/f0 .. made - 1 exist */
	atomic_bool stop;
	atomic_long stats, failed;
};

/* Stats the files made so far, over and over, with a context of its own
 * (each a walk without locks through the name cache), while the table
 * grows under it: every one must be found. */
static void *grow_looker(void *arg)
{
	struct grow_reader *g = arg;
	struct uvfs_ctx *c;
	unsigned r = 1;
	char path[32];
	struct stat st;

	if (uvfs_ctx_new(g->u, NULL, &c)) {
		atomic_fetch_add(&g->failed, 1);
		return NULL;
	}
	while (!atomic_load(&g->stop)) {
		int n = atomic_load(&g->made);
		r = r * 1103515245u + 12345u;
		snprintf(path, sizeof(path), "/g/f%d", (int)((r >> 8) % (unsigned)n));
		if (uvfs_stat(c, path, &st) != 0)
			atomic_fetch_add(&g->failed, 1);
		atomic_fetch_add(&g->stats, 1);
	}
	uvfs_ctx_free(c);
	return NULL;
}

/* /g/f0 .. /g/f<n - 1> are each found, all from the name cache (no
 * driver lookup). */
static void stat_all_hits(struct uvfs_ctx *c, int n)
{
	unsigned long before = testfs_calls(TFS_LOOKUP);
	struct stat st;
	char path[32];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/g/f%d", i);
		assert_int_equal(uvfs_stat(c, path, &st), 0);
	}
	assert_int_equal(testfs_calls(TFS_LOOKUP) - before, 0);
}

/* More names than two per bucket of a table sized for 16 cached vnodes:
 * the table doubles (twice from its least of 4 096 buckets) while another
 * thread looks names up without locks; afterwards every name is still a
 * hit (no driver lookup), so no entry was lost in the moves.  Each file
 * is held by a node, so its entry stays.  The names are looked at twice:
 * at MID files, when the second doubling (at 16 384 entries) has moved
 * only a fifth of the old table's buckets (NC_STEP per insertion), so
 * most hits are in the old table, and at the end, all moved. */
static void table_grows_under_readers(void **state)
{
	enum { N = 20000, MID = 16600 };
	struct uvfs_config cfg = { .vcache_max = 16 };
	struct grow_reader g = { 0 };
	struct uvfs_node *root, *dir, **nd;
	struct uvfs_ctx *c;
	struct stat st;
	char name[32];
	pthread_t t;

	(void)state;
	nd = calloc(N, sizeof(*nd));
	assert_non_null(nd);
	assert_int_equal(uvfs_new(&cfg, &g.u), 0);
	assert_int_equal(uvfs_fstype_register(g.u, &testfs_ops), 0);
	assert_int_equal(uvfs_ctx_new(g.u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/g", 0755), 0);
	assert_int_equal(uvfs_mount(c, "testfs", "none", "/g", NULL), 0);
	assert_int_equal(uvfs_node_root(c, &root), 0);
	assert_int_equal(uvfs_node_lookup(c, root, "g", &dir, &st), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(uvfs_node_create(c, dir, name, S_IFREG | 0644,
						  0, NULL, &nd[i], &st), 0);
		if (i == 999) {
			atomic_store(&g.made, 1000);
			assert_int_equal(pthread_create(&t, NULL, grow_looker,
							&g), 0);
		} else if (i > 999) {
			atomic_store(&g.made, i + 1);
		}
		if (i == MID - 1)
			stat_all_hits(c, MID);
	}
	atomic_store(&g.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&g.failed), 0);
	assert_true(atomic_load(&g.stats) > 0);

	stat_all_hits(c, N);

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(uvfs_node_unlink(c, dir, name, 0), 0);
		uvfs_node_release(nd[i], 1);
	}
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_umount(c, "/g", 0), 0);
	uvfs_ctx_free(c);
	assert_int_equal(uvfs_settle(g.u, 10000), 0);
	uvfs_free(g.u);
	free(nd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rename_unlink_create),
		cmocka_unit_test(directories_and_links),
		cmocka_unit_test(revoke_gives_fresh_vnode),
		cmocka_unit_test(rename_race),
		cmocka_unit_test(rcu_walk_hands_back),
		cmocka_unit_test(held_since_create_hits),
		cmocka_unit_test(rcu_walk_names),
		cmocka_unit_test(path_cache_follows_changes),
		cmocka_unit_test(table_grows_under_readers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

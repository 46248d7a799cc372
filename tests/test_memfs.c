/*
 * test_memfs.c - unit test of the memfs driver, calling its operations
 * directly.  The superblock is the core's and opaque; this file provides a
 * stand-in for the two accessors the driver uses.  It also plays the core's
 * part in pairing every vget with a reclaim.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <uvfs/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- the core's stand-in ----------------------------------------------- */

struct uvfs_sb {
	void *priv;
};

void *uvfs_sb_private(const struct uvfs_sb *sb)
{
	return sb->priv;
}

void uvfs_sb_set_private(struct uvfs_sb *sb, void *priv)
{
	sb->priv = priv;
}

static const struct uvfs_fstype_ops *const ops = &uvfs_memfs_ops;

/* lookup and create by ino alone; the type they report is checked by
 * test_ident below */
static int lookup_ino(struct uvfs_sb *sb, void *dir, const char *name,
		      uint64_t *ino)
{
	struct uvfs_ident id = { 0 };
	int err = ops->lookup(sb, dir, name, &id);

	*ino = id.ino;
	return err;
}

static int create_ino(struct uvfs_sb *sb, void *dir, const char *name,
		      mode_t mode, dev_t rdev, const char *target,
		      const struct uvfs_cred *cred, uint64_t *ino)
{
	struct uvfs_ident id = { 0 };
	int err = ops->create(sb, dir, name, mode, rdev, target, cred, &id);

	*ino = id.ino;
	return err;
}
static const struct uvfs_cred root_cred = { .uid = 0, .gid = 0 };

#define MAX_HELD 256
#define PiB ((off_t)1 << 50)

struct fx {
	struct uvfs_sb sb;
	uint64_t root_ino;
	void *root;
	void *held[MAX_HELD];   /* vnodes to reclaim at teardown */
	size_t nheld;
};

static struct fx *fx_mount(const char *options)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(ops->mount(&f->sb, "none", options, &f->root_ino),
			 0);
	assert_int_equal(ops->vget(&f->sb, f->root_ino, &f->root), 0);
	return f;
}

static void fx_unmount(struct fx *f)
{
	for (size_t i = 0; i < f->nheld; i++)
		ops->reclaim(&f->sb, f->held[i]);
	ops->reclaim(&f->sb, f->root);
	ops->unmount(&f->sb);
	assert_null(f->sb.priv);
	free(f);
}

static int setup(void **state)
{
	*state = fx_mount("");
	return 0;
}

static int teardown(void **state)
{
	fx_unmount(*state);
	return 0;
}

/* vget, reclaimed at teardown */
static void *hold(struct fx *f, uint64_t ino)
{
	void *p;

	assert_true(f->nheld < MAX_HELD);
	assert_int_equal(ops->vget(&f->sb, ino, &p), 0);
	f->held[f->nheld++] = p;
	return p;
}

static int create_as(struct fx *f, void *dir, const char *name, mode_t mode,
		     const struct uvfs_cred *cred, uint64_t *ino)
{
	const char *target = S_ISLNK(mode) ? "target" : NULL;

	return create_ino(&f->sb, dir, name, mode, 0, target, cred, ino);
}

static uint64_t mk(struct fx *f, void *dir, const char *name, mode_t mode)
{
	uint64_t ino = 0;

	assert_int_equal(create_as(f, dir, name, mode, &root_cred, &ino), 0);
	return ino;
}

static void *mkh(struct fx *f, void *dir, const char *name, mode_t mode)
{
	return hold(f, mk(f, dir, name, mode));
}

/* => the ino, or 0 if there is no such name */
static uint64_t look(struct fx *f, void *dir, const char *name)
{
	uint64_t ino = 0;
	int err = lookup_ino(&f->sb, dir, name, &ino);

	if (err == -ENOENT)
		return 0;
	assert_int_equal(err, 0);
	assert_true(ino != 0);
	return ino;
}

static struct stat sget(struct fx *f, void *priv)
{
	struct stat st;

	assert_int_equal(ops->getattr(&f->sb, priv, &st), 0);
	return st;
}

static nlink_t nlink_of(struct fx *f, void *priv)
{
	return sget(f, priv).st_nlink;
}

static int set_size(struct fx *f, void *priv, off_t size)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = size };

	return ops->setattr(&f->sb, priv, &sa);
}

static ssize_t pwr(struct fx *f, void *priv, const void *buf, size_t n,
		   off_t off)
{
	return ops->write(&f->sb, priv, NULL, buf, n, &off);
}

/* ---- directory listings ------------------------------------------------ */

#define LIST_MAX 1024

struct ent {
	char name[NAME_MAX + 1];
	uint64_t ino, next;
	unsigned char type;
};

struct listing {
	size_t n, limit;        /* fill refuses (returns 1) at limit */
	struct ent e[LIST_MAX];
};

static int collect(void *arg, const char *name, uint64_t ino,
		   unsigned char type, uint64_t next)
{
	struct listing *l = arg;

	if (l->n >= l->limit || l->n >= LIST_MAX)
		return 1;
	snprintf(l->e[l->n].name, sizeof(l->e[l->n].name), "%s", name);
	l->e[l->n].ino = ino;
	l->e[l->n].next = next;
	l->e[l->n].type = type;
	l->n++;
	return 0;
}

static void list_dir(struct fx *f, void *dir, struct listing *l)
{
	l->n = 0;
	l->limit = LIST_MAX;
	assert_int_equal(ops->readdir(&f->sb, dir, NULL, 0, collect, l), 0);
}

static const struct ent *find_ent(const struct listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

/* ---- tests ------------------------------------------------------------- */

static void test_create_lookup(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	uint64_t ino, reg, dir, lnk, chr, blk, fifo, sock;
	void *p, *file;
	struct stat st;
	char buf[16];

	reg = mk(f, f->root, "reg", S_IFREG | 0644);
	dir = mk(f, f->root, "dir", S_IFDIR | 0755);
	lnk = mk(f, f->root, "lnk", S_IFLNK | 0600);
	assert_int_equal(create_ino(&f->sb, f->root, "chr", S_IFCHR | 0600,
				     makedev(1, 3), NULL, &root_cred, &chr),
			 0);
	assert_int_equal(create_ino(&f->sb, f->root, "blk", S_IFBLK | 0600,
				     makedev(8, 1), NULL, &root_cred, &blk),
			 0);
	fifo = mk(f, f->root, "fifo", S_IFIFO | 0600);
	sock = mk(f, f->root, "sock", S_IFSOCK | 0600);

	assert_int_equal(look(f, f->root, "reg"), reg);
	assert_int_equal(look(f, f->root, "dir"), dir);
	assert_int_equal(look(f, f->root, "lnk"), lnk);
	assert_int_equal(look(f, f->root, "chr"), chr);
	assert_int_equal(look(f, f->root, "blk"), blk);
	assert_int_equal(look(f, f->root, "fifo"), fifo);
	assert_int_equal(look(f, f->root, "sock"), sock);
	assert_int_equal(look(f, f->root, "nope"), 0);

	st = sget(f, f->root);
	assert_int_equal(st.st_ino, f->root_ino);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 3);

	file = hold(f, reg);
	st = sget(f, file);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_blksize, 4096);
	assert_int_equal(st.st_ino, reg);
	p = hold(f, dir);
	st = sget(f, p);
	assert_int_equal(st.st_mode, S_IFDIR | 0755);
	assert_int_equal(st.st_nlink, 2);
	p = hold(f, lnk);
	st = sget(f, p);
	assert_int_equal(st.st_mode, S_IFLNK | 0777);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(ops->readlink(&f->sb, p, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "target", 6);
	assert_int_equal(ops->readlink(&f->sb, p, buf, 3), 3);
	assert_memory_equal(buf, "tar", 3);
	assert_int_equal(ops->readlink(&f->sb, file, buf, sizeof(buf)),
			 -EINVAL);
	p = hold(f, chr);
	st = sget(f, p);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	p = hold(f, blk);
	assert_int_equal(sget(f, p).st_rdev, makedev(8, 1));
	p = hold(f, sock);
	assert_true(S_ISSOCK(sget(f, p).st_mode));
	p = hold(f, fifo);
	assert_true(S_ISFIFO(sget(f, p).st_mode));

	/* errors */
	assert_int_equal(create_as(f, f->root, "reg", S_IFREG | 0644,
				   &root_cred, &ino), -EEXIST);
	assert_int_equal(create_as(f, f->root, "dir", S_IFDIR | 0755,
				   &root_cred, &ino), -EEXIST);
	assert_int_equal(create_as(f, file, "x", S_IFREG | 0644, &root_cred,
				   &ino), -ENOTDIR);
	assert_int_equal(lookup_ino(&f->sb, file, "x", &ino), -ENOTDIR);
	assert_int_equal(create_as(f, f->root, "bad", 0644, &root_cred,
				   &ino), -EINVAL);
	assert_int_equal(create_ino(&f->sb, f->root, "l2", S_IFLNK | 0777, 0,
				     "", &root_cred, &ino), -ENOENT);
	assert_int_equal(ops->read(&f->sb, f->root, NULL, buf, 1, 0),
			 -EISDIR);
	assert_int_equal(ops->readdir(&f->sb, file, NULL, 0, collect, &l),
			 -ENOTDIR);

	/* readdir: ".", ".." (the root itself), then entries in order */
	list_dir(f, f->root, &l);
	assert_int_equal(l.n, 9);
	assert_string_equal(l.e[0].name, ".");
	assert_int_equal(l.e[0].ino, f->root_ino);
	assert_int_equal(l.e[0].next, 1);
	assert_string_equal(l.e[1].name, "..");
	assert_int_equal(l.e[1].ino, f->root_ino);
	assert_int_equal(l.e[1].next, 2);
	assert_string_equal(l.e[2].name, "reg");
	assert_int_equal(l.e[2].type, DT_REG);
	assert_int_equal(l.e[3].type, DT_DIR);
	assert_int_equal(l.e[4].type, DT_LNK);
	assert_int_equal(l.e[5].type, DT_CHR);
	assert_int_equal(l.e[6].type, DT_BLK);
	assert_int_equal(l.e[7].type, DT_FIFO);
	assert_int_equal(l.e[8].type, DT_SOCK);
	assert_string_equal(l.e[8].name, "sock");

	/* ".." of a subdirectory */
	list_dir(f, hold(f, dir), &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.e[0].ino, dir);
	assert_int_equal(l.e[1].ino, f->root_ino);

	/* inos are never reused */
	assert_int_equal(ops->unlink(&f->sb, f->root, "sock", 0), 0);
	ino = mk(f, f->root, "sock", S_IFSOCK | 0600);
	assert_true(ino > sock && ino > fifo);
}

/* An entry present throughout is listed exactly once, while others come
 * and go between the calls; nothing is listed after it was removed. */
static void test_readdir_cookies(void **state)
{
	enum { N = 300, BATCH = 7 };
	struct fx *f = *state;
	static struct listing l;
	static bool exists[2 * N], throughout[2 * N];
	static int seen[2 * N];
	uint64_t cookie = 0;
	unsigned round = 0, nnew = 0;
	char name[32];
	bool dots = false;

	memset(exists, 0, sizeof(exists));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		mk(f, f->root, name, S_IFREG | 0644);
		exists[i] = throughout[i] = true;
	}
	for (;;) {
		l.n = 0;
		l.limit = BATCH;
		assert_int_equal(ops->readdir(&f->sb, f->root, NULL, cookie,
					      collect, &l), 0);
		if (l.n == 0)
			break;
		for (size_t i = 0; i < l.n; i++) {
			int id;

			if (strcmp(l.e[i].name, ".") == 0 ||
			    strcmp(l.e[i].name, "..") == 0) {
				assert_true(cookie < 2);
				dots = true;
				continue;
			}
			id = atoi(l.e[i].name + 1);
			if (l.e[i].name[0] == 'n')
				id += N;
			assert_true(exists[id]);
			seen[id]++;
			assert_int_equal(seen[id], 1);
			assert_int_equal(l.e[i].ino,
					 look(f, f->root, l.e[i].name));
		}
		cookie = l.e[l.n - 1].next;

		/* Remove the entry just listed (the cookie is its seq + 1),
		 * some ahead and some behind, and add new ones. */
		round++;
		for (int k = 0; k < 6; k++) {
			int id = (int)((round * 37 + (unsigned)k * 101) % N);

			if (k == 0 && l.e[l.n - 1].name[0] == 'e')
				id = atoi(l.e[l.n - 1].name + 1);
			if (!exists[id])
				continue;
			snprintf(name, sizeof(name), "e%03d", id);
			assert_int_equal(ops->unlink(&f->sb, f->root, name,
						     0), 0);
			exists[id] = throughout[id] = false;
		}
		if (nnew < N) {
			snprintf(name, sizeof(name), "n%03u", nnew);
			mk(f, f->root, name, S_IFREG | 0644);
			exists[N + nnew++] = true;
		}
		assert_true(round < 10 * N);
	}
	assert_true(dots);
	for (int i = 0; i < 2 * N; i++)
		if (throughout[i])
			assert_int_equal(seen[i], 1);

	/* A fresh listing returns what exists, in creation order. */
	list_dir(f, f->root, &l);
	{
		size_t n = 0;

		for (int i = 0; i < 2 * N; i++)
			n += exists[i];
		assert_int_equal(l.n, n + 2);
		for (size_t i = 3; i < l.n; i++)
			assert_true(l.e[i - 1].next <= l.e[i].next);
	}

	/* A cookie beyond the end lists nothing; fill stopping at once is
	 * not an error. */
	l.n = 0;
	l.limit = LIST_MAX;
	assert_int_equal(ops->readdir(&f->sb, f->root, NULL, UINT64_MAX,
				      collect, &l), 0);
	assert_int_equal(l.n, 0);
	l.limit = 0;
	assert_int_equal(ops->readdir(&f->sb, f->root, NULL, 0, collect, &l),
			 0);
	assert_int_equal(l.n, 0);
}

static void test_holes_truncate(void **state)
{
	struct fx *f = *state;
	void *a = mkh(f, f->root, "a", S_IFREG | 0644);
	void *b = mkh(f, f->root, "b", S_IFREG | 0644);
	static char buf[8192], zero[8192];
	struct statvfs sv;
	struct stat st;
	off_t off;

	/* a hole, then data */
	assert_int_equal(pwr(f, a, "abc", 3, 1 << 20), 3);
	st = sget(f, a);
	assert_int_equal(st.st_size, (1 << 20) + 3);
	assert_int_equal(st.st_blocks, 8);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 8192, 4096), 8192);
	assert_memory_equal(buf, zero, 8192);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 100, 1 << 20), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 10, (1 << 20) + 3),
			 0);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 10, 1 << 30), 0);

	/* truncating into a page zeroes its tail */
	assert_int_equal(set_size(f, a, (1 << 20) + 1), 0);
	assert_int_equal(set_size(f, a, (1 << 20) + 3), 0);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 3, 1 << 20), 3);
	assert_memory_equal(buf, "a\0\0", 3);
	assert_int_equal(sget(f, a).st_blocks, 8);
	assert_int_equal(set_size(f, a, 1 << 20), 0);
	assert_int_equal(sget(f, a).st_blocks, 0);

	/* 1 PiB of hole allocates nothing */
	assert_int_equal(set_size(f, b, PiB), 0);
	st = sget(f, b);
	assert_int_equal(st.st_size, PiB);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, sv.f_blocks);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 100, PiB - 10), 10);
	assert_memory_equal(buf, zero, 10);
	assert_int_equal(pwr(f, b, "z", 1, PiB - 1), 1);
	assert_int_equal(sget(f, b).st_blocks, 8);
	assert_int_equal(pwr(f, b, "y", 1, 5), 1);
	assert_int_equal(sget(f, b).st_blocks, 16);
	assert_int_equal(set_size(f, b, 5), 0);
	st = sget(f, b);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(set_size(f, b, 0), 0);
	assert_int_equal(sget(f, b).st_blocks, 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, sv.f_blocks);

	/* the largest offsets */
	assert_int_equal(pwr(f, b, "q", 1, INT64_MAX - 1), 1);
	assert_int_equal(sget(f, b).st_size, INT64_MAX);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 10, INT64_MAX - 1),
			 1);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(pwr(f, b, "q", 1, INT64_MAX), -EFBIG);
	assert_int_equal(set_size(f, b, 0), 0);
	assert_int_equal(sget(f, b).st_blocks, 0);

	/* appends: *off < 0 writes at the size, *off ends after the data */
	off = -1;
	assert_int_equal(ops->write(&f->sb, b, NULL, "hello", 5, &off), 5);
	assert_int_equal(off, 5);
	off = 2;
	assert_int_equal(ops->write(&f->sb, b, NULL, "XY", 2, &off), 2);
	assert_int_equal(off, 4);
	off = -1;
	assert_int_equal(ops->write(&f->sb, b, NULL, "!", 1, &off), 1);
	assert_int_equal(off, 6);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 100, 0), 6);
	assert_memory_equal(buf, "heXYo!", 6);

	/* writing across pages */
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(pwr(f, b, buf, 8192, 4000), 8192);
	assert_int_equal(sget(f, b).st_size, 4000 + 8192);
	assert_int_equal(sget(f, b).st_blocks, 3 * 8);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 8192, 4000), 8192);
	for (size_t i = 0; i < 8192; i++)
		assert_int_equal(buf[i], 'w');

	/* setattr size on the wrong types */
	assert_int_equal(set_size(f, f->root, 0), -EISDIR);
	assert_int_equal(set_size(f, mkh(f, f->root, "l", S_IFLNK | 0777),
				  0), -EINVAL);
	assert_int_equal(set_size(f, a, -1), -EINVAL);
	assert_int_equal(ops->fsync(&f->sb, a, NULL, 0), 0);
}

static void test_size_limit(void **state)
{
	static char buf[16384];
	struct statvfs sv;
	struct fx *f;
	void *a;
	off_t off;

	(void)state;
	f = fx_mount("size=16k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bsize, 4096);
	assert_int_equal(sv.f_blocks, 4);
	assert_int_equal(sv.f_bfree, 4);
	assert_int_equal(sv.f_namemax, 255);

	memset(buf, 'a', sizeof(buf));
	assert_int_equal(pwr(f, a, buf, 16384, 0), 16384);
	assert_int_equal(pwr(f, a, "x", 1, 16384), -ENOSPC);
	assert_int_equal(sget(f, a).st_size, 16384);
	off = -1;
	assert_int_equal(ops->write(&f->sb, a, NULL, "x", 1, &off), -ENOSPC);
	assert_int_equal(off, -1); /* untouched on failure */
	/* rewriting allocated pages needs no space; holes are free */
	assert_int_equal(pwr(f, a, "bbb", 3, 10), 3);
	assert_int_equal(set_size(f, a, PiB), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);

	/* a write that runs out of space is short */
	assert_int_equal(set_size(f, a, 8192), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 2);
	assert_int_equal(pwr(f, a, buf, 12288, 8192), 8192);
	assert_int_equal(sget(f, a).st_size, 16384);
	assert_int_equal(sget(f, a).st_blocks, 32);

	/* space comes back when the file goes */
	assert_int_equal(ops->unlink(&f->sb, f->root, "a", 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0); /* still held */
	ops->reclaim(&f->sb, a);
	f->nheld = 0;
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 4);
	fx_unmount(f);

	/* options */
	{
		static const char *const bad[] = {
			"bogus", "size=", "size=k", "size=1x", "size=-1",
			"size=99999999999999999999", "size=16777216t",
			"mode=999", "mode=17777", "uid=x", "size=1k,nope",
		};
		struct uvfs_sb sb = { NULL };
		uint64_t ino;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(ops->mount(&sb, "none", bad[i],
						    &ino), -EINVAL);
		assert_null(sb.priv);
	}
	f = fx_mount("size=1m,,mode=1777,uid=5,gid=6");
	assert_int_equal(sget(f, f->root).st_mode, S_IFDIR | 01777);
	assert_int_equal(sget(f, f->root).st_uid, 5);
	assert_int_equal(sget(f, f->root).st_gid, 6);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, 256);
	fx_unmount(f);
	f = fx_mount("size=1G");
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, 262144);
	fx_unmount(f);
	f = fx_mount("size=10");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(pwr(f, a, buf, 5000, 0), 4096);
	fx_unmount(f);
	f = fx_mount(NULL);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_true(sv.f_blocks > 1000000);
	fx_unmount(f);
}

#define FA_KEEP 0x01
#define FA_PUNCH 0x03

/* Large writes (64 KiB and more): their missing whole pages are filled
 * before the node lock is taken and adopted under it (memfs.c,
 * "Prefill").  What must hold is what holds for small writes: the bytes
 * read back, holes and existing pages, reserved pages (no new space),
 * size= (a short write), and a write is whole under concurrency (two
 * threads writing one range leave one's bytes, not a mix). */
static void fill_pat(unsigned char *b, size_t n, off_t off, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(((uint64_t)off + i) * 31 + seed);
}

struct big_writer {
	struct fx *f;
	void *file;
	unsigned seed;
	off_t off;              /* the thread's region, or the shared one */
	size_t len;
	int iters;
	atomic_int *failures;
	pthread_t tid;
};

static void *big_writer_main(void *arg)
{
	struct big_writer *w = arg;
	unsigned char *b = malloc(w->len);

	if (!b) {
		atomic_fetch_add(w->failures, 1);
		return NULL;
	}
	memset(b, (int)w->seed, w->len);
	for (int i = 0; i < w->iters; i++)
		if (pwr(w->f, w->file, b, w->len, w->off) != (ssize_t)w->len)
			atomic_fetch_add(w->failures, 1);
	free(b);
	return NULL;
}

static void test_large_writes(void **state)
{
	enum { N = 600 << 10 };
	static unsigned char want[N + 8192], got[N + 8192], b[N];
	struct statvfs sv;
	struct fx *f;
	void *a;

	(void)state;
	f = fx_mount("size=1m");        /* 256 pages */
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	memset(want, 0, sizeof(want));
	/* into holes, unaligned at both ends */
	fill_pat(b, 300 << 10, 1000, 1);
	assert_int_equal(pwr(f, a, b, 300 << 10, 1000), 300 << 10);
	memcpy(want + 1000, b, 300 << 10);
	/* over those pages, unaligned */
	fill_pat(b, 200 << 10, 40967, 2);
	assert_int_equal(pwr(f, a, b, 200 << 10, 40967), 200 << 10);
	memcpy(want + 40967, b, 200 << 10);
	assert_int_equal(sget(f, a).st_size, 1000 + (300 << 10));
	assert_int_equal(ops->read(&f->sb, a, NULL, got, sizeof(got), 0),
			 1000 + (300 << 10));
	assert_memory_equal(got, want, 1000 + (300 << 10));
	/* every page counted once */
	assert_int_equal(sget(f, a).st_blocks,
			 ((1000 + (300 << 10) + 4095) / 4096) * 8);

	/* reserved pages: filled by the write, no new space taken */
	void *r = mkh(f, f->root, "r", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, r, NULL, FA_KEEP, 0,
					128 << 10), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	fsblkcnt_t free0 = sv.f_bfree;
	fill_pat(b, 128 << 10, 0, 3);
	assert_int_equal(pwr(f, r, b, 128 << 10, 0), 128 << 10);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, free0);
	assert_int_equal(ops->read(&f->sb, r, NULL, got, 128 << 10, 0),
			 128 << 10);
	assert_memory_equal(got, b, 128 << 10);

	/* size=: the write that runs out of space is short, and what it
	 * wrote is right */
	void *c = mkh(f, f->root, "c", S_IFREG | 0644);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	size_t room = (size_t)sv.f_bfree * 4096;
	assert_true(room < N);
	fill_pat(b, N, 0, 4);
	assert_int_equal(pwr(f, c, b, N, 0), (ssize_t)room);
	assert_int_equal(ops->read(&f->sb, c, NULL, got, N, 0), (ssize_t)room);
	assert_memory_equal(got, b, room);
	assert_int_equal(pwr(f, c, b, 64 << 10, (off_t)room), -ENOSPC);
	fx_unmount(f);

	/* threads: disjoint regions of one file, then one shared range */
	atomic_int failures;
	struct big_writer w[4];
	f = fx_mount("");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	atomic_init(&failures, 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct big_writer){ .f = f, .file = a,
			.seed = 'a' + (unsigned)i, .off = (off_t)i * (256 << 10) + 5,
			.len = 256 << 10, .iters = 20, .failures = &failures };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
						big_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].tid, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	static unsigned char all[4 * (256 << 10) + 5];
	assert_int_equal(ops->read(&f->sb, a, NULL, all, sizeof(all), 0),
			 sizeof(all));
	for (size_t i = 0; i < sizeof(all); i++)
		assert_int_equal(all[i], i < 5 ? 0 :
				 'a' + (i - 5) / (256 << 10));
	void *s2 = mkh(f, f->root, "s", S_IFREG | 0644);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct big_writer){ .f = f, .file = s2,
			.seed = 'x' + (unsigned)i, .off = 3, .len = 256 << 10,
			.iters = 30, .failures = &failures };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
						big_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].tid, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(ops->read(&f->sb, s2, NULL, all, (256 << 10) + 3, 0),
			 (256 << 10) + 3);
	for (size_t i = 3; i < (256 << 10) + 3; i++)
		assert_int_equal(all[i], all[3]);       /* one writer's, whole */
	ops->reclaim(&f->sb, a);
	ops->reclaim(&f->sb, s2);
	f->nheld = 0;
	fx_unmount(f);
}

/* memfs's holes (memfs_holes.c): fallocate reserves pages (counted,
 * zeros, a hole to SEEK_DATA, written without -ENOSPC; data once a
 * second fallocate covers them, as tmpfs), punches free them, copy_range
 * writes zeros for holes (tmpfs splices), and size= holds for all of it. */
static off_t seekd(struct fx *f, void *n, off_t off, int whence)
{
	return ops->seek_data(&f->sb, n, NULL, off, whence);
}

static void test_holes_fallocate(void **state)
{
	static char buf[16384];
	struct statvfs sv;
	struct fx *f;
	void *a, *b;

	(void)state;
	f = fx_mount("size=16k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	/* reserving all the space: counted, reads zeros, size unchanged */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0, 16384),
			 0);
	assert_int_equal(sget(f, a).st_size, 0);
	assert_int_equal(sget(f, a).st_blocks, 32);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* all or nothing: one page more fails and takes nothing */
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 0, 1), -ENOSPC);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0, 8192, 12288),
			 -ENOSPC);
	assert_int_equal(sget(f, a).st_size, 0);
	assert_int_equal(sget(f, b).st_blocks, 0);
	/* mode 0 over reserved pages grows the size, needs no space, and
	 * makes the pages it covers data (tmpfs: a fallocated folio found
	 * by another fallocate is cleared and marked up to date) */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0, 0, 10000), 0);
	assert_int_equal(sget(f, a).st_size, 10000);
	assert_int_equal(sget(f, a).st_blocks, 32);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 16384, 0), 10000);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(seekd(f, a, 0, SEEK_DATA), 0);
	assert_int_equal(seekd(f, a, 0, SEEK_HOLE), 10000);
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(pwr(f, a, buf, 16384, 0), 16384); /* no -ENOSPC */
	assert_int_equal(sget(f, a).st_blocks, 32);
	assert_int_equal(seekd(f, a, 5, SEEK_DATA), 5);
	assert_int_equal(seekd(f, a, 5, SEEK_HOLE), 16384);
	/* a punch frees whole pages, zeros the edges */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_PUNCH, 100, 8192),
			 0);
	assert_int_equal(sget(f, a).st_blocks, 24);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 16384, 0), 16384);
	assert_int_equal(buf[99], 'w');
	for (size_t i = 100; i < 8292; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[8292], 'w');
	assert_int_equal(seekd(f, a, 0, SEEK_HOLE), 4096);
	assert_int_equal(seekd(f, a, 4096, SEEK_DATA), 8192);
	/* copy_range writes the hole's zeros: with one page free, a copy
	 * of a page of data and a hole is short by the hole */
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 0, b, NULL, 0,
					 8192), 4096);
	assert_int_equal(sget(f, b).st_blocks, 8);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 4096);
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 8192, b, NULL, 8192,
					 8192), -ENOSPC);
	assert_int_equal(sget(f, b).st_size, 4096);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_PUNCH, 0, 4096),
			 0);
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 8192, b, NULL, 8192,
					 8192), 4096);
	assert_int_equal(sget(f, b).st_size, 12288);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 4096, 8192), 4096);
	assert_int_equal(buf[0], 0);            /* a's zeroed edge */
	assert_int_equal(buf[100], 'w');
	/* other modes: not tmpfs's */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0x10, 0, 1),
			 -EOPNOTSUPP);
	assert_int_equal(ops->fallocate(&f->sb, f->root, NULL, 0, 0, 1),
			 -EISDIR);
	fx_unmount(f);

	/* without a limit: a range past any memory is refused at once, and
	 * one page at the largest index costs one page */
	f = fx_mount(NULL);
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0,
					(off_t)1 << 50), -ENOSPC);
	assert_int_equal(sget(f, a).st_blocks, 0);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0,
					INT64_MAX - 4095, 4095), 0);
	assert_int_equal(sget(f, a).st_blocks, 8);
	assert_int_equal(sget(f, a).st_size, INT64_MAX);
	/* reserved pages are a hole to SEEK_DATA until written or covered
	 * by a second fallocate (then data, page by page) */
	assert_int_equal(seekd(f, a, INT64_MAX - 4095, SEEK_DATA), -ENXIO);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 0, 8192), 0);
	assert_int_equal(seekd(f, b, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 0);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 5000, 1), 0);
	assert_int_equal(seekd(f, b, 0, SEEK_DATA), 4096);
	assert_int_equal(seekd(f, b, 4096, SEEK_HOLE), 8192);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 0);
	assert_int_equal(sget(f, b).st_blocks, 16);
	assert_int_equal(pwr(f, a, "d", 1, 1 << 20), 1);
	assert_int_equal(seekd(f, a, 0, SEEK_DATA), 1 << 20);
	assert_int_equal(seekd(f, a, (1 << 20) + 4096, SEEK_DATA), -ENXIO);
	assert_int_equal(seekd(f, a, (1 << 20) + 1, SEEK_HOLE),
			 (1 << 20) + 4096);
	assert_int_equal(set_size(f, a, 0), 0);
	assert_int_equal(sget(f, a).st_blocks, 0);
	fx_unmount(f);
}

/* Extended attributes: names and values count against size= in whole
 * pages per node, and every byte comes back. */
static void test_xattr_space(void **state)
{
	static char big[4200];
	struct statvfs sv;
	struct fx *f;
	void *a, *b, *l;
	char buf[64];

	(void)state;
	memset(big, 'v', sizeof(big));
	f = fx_mount("size=8k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	/* "user.1" + NUL + 4000 bytes: one page */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.1", big, 4000, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", big, 4000, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* full: another node's attribute, file data */
	assert_int_equal(ops->setxattr(&f->sb, b, "user.x", "", 0, 0),
			 -ENOSPC);
	assert_int_equal(ops->getxattr(&f->sb, b, "user.x", NULL, 0),
			 -ENODATA);
	assert_int_equal(pwr(f, b, "d", 1, 0), -ENOSPC);
	/* a value that would need a third page fails and leaves the old */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", big, 4000 + 200,
				       0), -ENOSPC);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.2", NULL, 0), 4000);
	/* a shorter value gives a page back */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", "s", 1, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(pwr(f, b, "d", 1, 0), 1);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* removing: a's last page goes with its last attribute */
	assert_int_equal(ops->removexattr(&f->sb, a, "user.1"), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.1"), -ENODATA);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.2"), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	/* symlinks and directories hold them too (the core restricts
	 * user.*, not the driver) */
	l = mkh(f, f->root, "l", S_IFLNK | 0777);
	assert_int_equal(ops->setxattr(&f->sb, l, "trusted.t", "t", 1, 0), 0);
	assert_int_equal(ops->getxattr(&f->sb, l, "trusted.t", buf,
				       sizeof(buf)), 1);
	assert_int_equal(ops->setxattr(&f->sb, f->root, "user.r", "r", 1, 0),
			 -ENOSPC);
	/* a file that goes takes its attributes' pages along, at reclaim */
	assert_int_equal(ops->unlink(&f->sb, f->root, "l", 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0); /* still held */
	ops->reclaim(&f->sb, l);
	f->nheld--;
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->setxattr(&f->sb, f->root, "user.r", "r", 1, 0),
			 0);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.1", "1", 1, 0),
			 -ENOSPC);
	fx_unmount(f); /* asserts that every page came back */
}

/* The driver's side of the xattr contract (fs.h). */
static void test_xattr_ops(void **state)
{
	struct fx *f = *state;
	struct stat st0, st1;
	char buf[64];
	void *a;

	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(ops->listxattr(&f->sb, a, NULL, 0), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, sizeof(buf)), 0);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.a"), -ENODATA);
	st0 = sget(f, a);
	usleep(2000);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "one", 3,
				       XATTR_REPLACE), -ENODATA);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "one", 3,
				       XATTR_CREATE), 0);
	st1 = sget(f, a);
	assert_true(st1.st_ctim.tv_sec > st0.st_ctim.tv_sec ||
		    (st1.st_ctim.tv_sec == st0.st_ctim.tv_sec &&
		     st1.st_ctim.tv_nsec > st0.st_ctim.tv_nsec));
	assert_int_equal(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "two", 3,
				       XATTR_CREATE), -EEXIST);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.b", "", 0, 0), 0);
	assert_int_equal(ops->setxattr(&f->sb, a, "trusted.c", "3", 1, 0), 0);
	/* replacing keeps the place in the list */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "uno", 3,
				       XATTR_REPLACE), 0);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", NULL, 0), 3);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, 2), -ERANGE);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, 3), 3);
	assert_memory_equal(buf, "uno", 3);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.b", buf, sizeof(buf)),
			 0);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.b", NULL, 0), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, NULL, 0), 24);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, 23), -ERANGE);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, 24), 24);
	assert_memory_equal(buf, "user.a\0user.b\0trusted.c\0", 24);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.b"), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, sizeof(buf)), 17);
	assert_memory_equal(buf, "user.a\0trusted.c\0", 17);
	/* the name rules hold here too */
	assert_int_equal(ops->setxattr(&f->sb, a, "", "x", 1, 0), -ERANGE);
}

/* Threads set, replace, read, list and remove attributes of one file. */
#define XTHREADS 4
#define XITERS 2000

static void *xattr_worker(void *arg)
{
	void **args = arg;
	struct fx *f = args[0];
	void *a = args[1];
	long id = (long)(intptr_t)args[2];
	char name[32], val[64], buf[1024];
	long bad = 0;

	for (int i = 0; i < XITERS; i++) {
		size_t len = (size_t)(i % 60) + 1;
		ssize_t r;

		snprintf(name, sizeof(name), "user.t%ld.%d", id, i % 7);
		memset(val, 'a' + (int)id, len);
		if (ops->setxattr(&f->sb, a, name, val, len, 0) != 0)
			bad++;
		r = ops->getxattr(&f->sb, a, name, buf, sizeof(buf));
		if (r != (ssize_t)len || memcmp(buf, val, len) != 0)
			bad++;
		/* the shared one: any thread's value, whole */
		memset(val, 'A' + (int)id, len);
		(void)ops->setxattr(&f->sb, a, "user.shared", val, len, 0);
		r = ops->getxattr(&f->sb, a, "user.shared", buf, sizeof(buf));
		if (r <= 0 || (r > 0 && buf[r - 1] != buf[0]))
			bad++;
		r = ops->listxattr(&f->sb, a, buf, sizeof(buf));
		if (r < 0 && r != -ERANGE)
			bad++;
		if (i % 3 == 0 && ops->removexattr(&f->sb, a, name) != 0)
			bad++;
	}
	return (void *)(intptr_t)bad;
}

static void test_xattr_threads(void **state)
{
	struct fx *f = *state;
	pthread_t tid[XTHREADS];
	void *args[XTHREADS][3];
	void *a = mkh(f, f->root, "a", S_IFREG | 0644);

	for (long i = 0; i < XTHREADS; i++) {
		args[i][0] = f;
		args[i][1] = a;
		args[i][2] = (void *)(intptr_t)i;
		assert_int_equal(pthread_create(&tid[i], NULL, xattr_worker,
						args[i]), 0);
	}
	for (int i = 0; i < XTHREADS; i++) {
		void *bad;

		pthread_join(tid[i], &bad);
		assert_int_equal((intptr_t)bad, 0);
	}
	assert_true(ops->listxattr(&f->sb, a, NULL, 0) > 0);
}

static void test_setgid(void **state)
{
	struct fx *f = *state;
	struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_cred member = { .uid = 1001, .gid = 1001, .ngroups = 2,
				    .groups = { 7, 100 } };
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE | UVFS_SET_GID,
				   .mode = 02775, .gid = 100 };
	void *sg = mkh(f, f->root, "sg", S_IFDIR | 0775);
	struct stat st;
	uint64_t ino;
	void *p;

	assert_int_equal(ops->setattr(&f->sb, sg, &sa), 0);
	assert_int_equal(sget(f, sg).st_mode, S_IFDIR | 02775);

	assert_int_equal(create_as(f, sg, "f", S_IFREG | 0644, &user, &ino),
			 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFREG | 0644);

	assert_int_equal(create_as(f, sg, "d", S_IFDIR | 0755, &user, &ino),
			 0);
	p = hold(f, ino);
	st = sget(f, p);
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFDIR | 02755);
	/* and on down */
	assert_int_equal(create_as(f, p, "dd", S_IFDIR | 0700, &user, &ino),
			 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFDIR | 02700);

	/* a setgid executable made by a non-member loses the bit */
	assert_int_equal(create_as(f, sg, "x1", S_IFREG | 02755, &user, &ino),
			 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFREG | 0755);
	assert_int_equal(create_as(f, sg, "x2", S_IFREG | 02755, &member,
				   &ino), 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFREG | 02755);

	/* outside: the creator's group */
	assert_int_equal(create_as(f, f->root, "g", S_IFREG | 0644, &user,
				   &ino), 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(create_as(f, f->root, "gd", S_IFDIR | 0755, &user,
				   &ino), 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFDIR | 0755);
}

static int rn(struct fx *f, void *od, const char *on, void *nd,
	      const char *nn, unsigned flags)
{
	return ops->rename(&f->sb, od, on, nd, nn, flags);
}

static void test_rename(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	void *a = mkh(f, f->root, "a", S_IFDIR | 0755);
	void *b = mkh(f, a, "b", S_IFDIR | 0755);
	void *c = mkh(f, b, "c", S_IFDIR | 0755);
	void *ne = mkh(f, f->root, "ne", S_IFDIR | 0755);
	void *e = mkh(f, f->root, "e", S_IFDIR | 0755);
	void *file = mkh(f, f->root, "f", S_IFREG | 0644);
	uint64_t f_ino = look(f, f->root, "f"), b_ino = look(f, a, "b");
	uint64_t g_ino, k_ino, e_ino = look(f, f->root, "e");
	uint64_t a_ino = look(f, f->root, "a"), c_ino = look(f, b, "c");
	void *g;

	mk(f, ne, "x", S_IFREG | 0644);
	g = mkh(f, f->root, "g", S_IFREG | 0644);
	g_ino = look(f, f->root, "g");
	assert_int_equal(nlink_of(f, f->root), 2 + 3);
	assert_int_equal(nlink_of(f, a), 3);

	/* flags */
	assert_int_equal(rn(f, f->root, "f", f->root, "z", 1u << 2), -EINVAL);
	assert_int_equal(rn(f, f->root, "f", f->root, "z",
			    RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	/* missing */
	assert_int_equal(rn(f, f->root, "nope", f->root, "z", 0), -ENOENT);
	assert_int_equal(rn(f, f->root, "f", f->root, "nope",
			    RENAME_EXCHANGE), -ENOENT);
	assert_int_equal(rn(f, f->root, "f", file, "z", 0), -ENOTDIR);
	/* NOREPLACE */
	assert_int_equal(rn(f, f->root, "f", f->root, "g", RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(rn(f, f->root, "f", f->root, "f2", RENAME_NOREPLACE),
			 0);
	assert_int_equal(rn(f, f->root, "f2", f->root, "f", 0), 0);
	assert_int_equal(look(f, f->root, "f"), f_ino);
	assert_int_equal(look(f, f->root, "f2"), 0);
	/* into its own subtree, or onto an ancestor */
	assert_int_equal(rn(f, f->root, "a", c, "z", 0), -EINVAL);
	assert_int_equal(rn(f, f->root, "a", a, "z", 0), -EINVAL);
	assert_int_equal(rn(f, a, "b", c, "z", 0), -EINVAL);
	assert_int_equal(rn(f, b, "c", f->root, "a", 0), -ENOTEMPTY);
	/* type clashes */
	assert_int_equal(rn(f, f->root, "e", f->root, "ne", 0), -ENOTEMPTY);
	assert_int_equal(rn(f, f->root, "f", f->root, "e", 0), -EISDIR);
	assert_int_equal(rn(f, f->root, "e", f->root, "f", 0), -ENOTDIR);
	assert_int_equal(look(f, f->root, "e"), e_ino);
	assert_int_equal(look(f, f->root, "f"), f_ino);
	/* onto itself */
	assert_int_equal(rn(f, f->root, "f", f->root, "f", 0), 0);
	assert_int_equal(look(f, f->root, "f"), f_ino);

	/* EXCHANGE of a file and a directory in different parents */
	assert_int_equal(rn(f, f->root, "f", a, "b", RENAME_EXCHANGE), 0);
	assert_int_equal(look(f, f->root, "f"), b_ino);
	assert_int_equal(look(f, a, "b"), f_ino);
	assert_int_equal(nlink_of(f, f->root), 2 + 4);
	assert_int_equal(nlink_of(f, a), 2);
	list_dir(f, b, &l);
	assert_int_equal(find_ent(&l, "..")->ino, f->root_ino);
	list_dir(f, f->root, &l);
	assert_int_equal(find_ent(&l, "f")->type, DT_DIR);
	list_dir(f, a, &l);
	assert_int_equal(find_ent(&l, "b")->type, DT_REG);
	/* the old parent may now be moved below b again */
	assert_int_equal(rn(f, f->root, "a", b, "a", 0), 0);
	assert_int_equal(nlink_of(f, f->root), 2 + 3);
	assert_int_equal(nlink_of(f, b), 4);
	/* and back, exchanging two directories */
	assert_int_equal(rn(f, f->root, "f", b, "a", RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(rn(f, b, "a", b, "c", RENAME_EXCHANGE), 0);
	assert_int_equal(rn(f, b, "c", f->root, "e", RENAME_EXCHANGE), 0);
	/* now /e is a (holding the file "b"), b/c is old e, b/a is c */
	assert_int_equal(look(f, a, "b"), f_ino);
	assert_int_equal(look(f, f->root, "e"), a_ino);
	assert_int_equal(look(f, b, "c"), e_ino);
	assert_int_equal(look(f, b, "a"), c_ino);
	list_dir(f, a, &l);
	assert_int_equal(find_ent(&l, "..")->ino, f->root_ino);
	list_dir(f, e, &l);
	assert_int_equal(find_ent(&l, "..")->ino, look(f, f->root, "f"));
	assert_int_equal(nlink_of(f, b), 4);
	assert_int_equal(nlink_of(f, f->root), 2 + 3);

	/* links to one file: no-op */
	assert_int_equal(ops->link(&f->sb, f->root, "h", g), 0);
	assert_int_equal(rn(f, f->root, "g", f->root, "h", 0), 0);
	assert_int_equal(look(f, f->root, "g"), g_ino);
	assert_int_equal(look(f, f->root, "h"), g_ino);
	assert_int_equal(nlink_of(f, g), 2);

	/* replacing a file: it loses its link and, unheld, goes away */
	k_ino = mk(f, f->root, "k", S_IFREG | 0644);
	assert_int_equal(rn(f, f->root, "h", f->root, "k", 0), 0);
	assert_int_equal(look(f, f->root, "k"), g_ino);
	assert_int_equal(look(f, f->root, "h"), 0);
	assert_int_equal(nlink_of(f, g), 2);
	{
		void *p;

		assert_int_equal(ops->vget(&f->sb, k_ino, &p), -ENOENT);
	}

	/* a directory over an empty one in another parent */
	{
		void *d1 = mkh(f, f->root, "d1", S_IFDIR | 0755);
		void *d2 = mkh(f, ne, "d2", S_IFDIR | 0755);
		nlink_t rootl = nlink_of(f, f->root);

		assert_int_equal(nlink_of(f, ne), 3);
		assert_int_equal(rn(f, f->root, "d1", ne, "d2", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl - 1);
		assert_int_equal(nlink_of(f, ne), 3);
		assert_int_equal(nlink_of(f, d2), 0);
		assert_int_equal(nlink_of(f, d1), 2);
		list_dir(f, d1, &l);
		assert_int_equal(find_ent(&l, "..")->ino,
				 look(f, f->root, "ne"));
		/* plain move of a directory */
		assert_int_equal(rn(f, ne, "d2", f->root, "d3", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl);
		assert_int_equal(nlink_of(f, ne), 2);
		/* within one directory, over an empty directory */
		mk(f, f->root, "d4", S_IFDIR | 0755);
		assert_int_equal(nlink_of(f, f->root), rootl + 1);
		assert_int_equal(rn(f, f->root, "d3", f->root, "d4", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl);
		assert_int_equal(look(f, f->root, "d3"), 0);
	}
}

static void test_link_unlink(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	void *x = mkh(f, f->root, "x", S_IFREG | 0644);
	void *d, *s, *p;
	uint64_t ino;

	assert_int_equal(ops->link(&f->sb, f->root, "y", x), 0);
	assert_int_equal(nlink_of(f, x), 2);
	assert_int_equal(look(f, f->root, "y"), look(f, f->root, "x"));
	assert_int_equal(ops->link(&f->sb, f->root, "y", x), -EEXIST);
	assert_int_equal(ops->link(&f->sb, f->root, "z", f->root), -EPERM);
	assert_int_equal(ops->link(&f->sb, x, "z", x), -ENOTDIR);
	assert_int_equal(ops->unlink(&f->sb, f->root, "x", 0), 0);
	assert_int_equal(nlink_of(f, x), 1);
	assert_int_equal(ops->unlink(&f->sb, f->root, "x", 0), -ENOENT);
	assert_int_equal(ops->unlink(&f->sb, f->root, "y", 0), 0);
	assert_int_equal(nlink_of(f, x), 0);
	/* no linking back a file with no links */
	assert_int_equal(ops->link(&f->sb, f->root, "x", x), -ENOENT);

	assert_int_equal(nlink_of(f, f->root), 2);
	d = mkh(f, f->root, "d", S_IFDIR | 0755);
	assert_int_equal(nlink_of(f, f->root), 3);
	s = mkh(f, d, "s", S_IFDIR | 0755);
	mk(f, d, "file", S_IFREG | 0644);
	assert_int_equal(nlink_of(f, d), 3);
	assert_int_equal(sget(f, d).st_size, 40);
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 1), -ENOTEMPTY);
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 0), -EISDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "file", 1), -ENOTDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "s", 0), -EISDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "s", 1), 0);
	assert_int_equal(nlink_of(f, s), 0);
	assert_int_equal(nlink_of(f, d), 2);
	assert_int_equal(ops->unlink(&f->sb, d, "file", 0), 0);
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 1), 0);
	assert_int_equal(nlink_of(f, f->root), 2);
	assert_int_equal(nlink_of(f, d), 0);

	/* a removed directory: empty, no creation, no listing */
	assert_int_equal(create_as(f, d, "n", S_IFREG | 0644, &root_cred,
				   &ino), -ENOENT);
	assert_int_equal(lookup_ino(&f->sb, d, "file", &ino), -ENOENT);
	assert_int_equal(ops->link(&f->sb, d, "n", x), -ENOENT);
	p = mkh(f, f->root, "q", S_IFREG | 0644);
	assert_int_equal(ops->link(&f->sb, d, "n", p), -ENOENT);
	assert_int_equal(rn(f, f->root, "q", d, "q", 0), -ENOENT);
	list_dir(f, d, &l);
	assert_int_equal(l.n, 0);

	list_dir(f, f->root, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.e[2].name, "q");
}

static void test_unlinked_readable(void **state)
{
	struct fx *f = *state;
	static char buf[10000], back[10000];
	struct statvfs sv;
	uint64_t ino = mk(f, f->root, "u", S_IFREG | 0644);
	void *p1, *p2;

	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(pwr(f, p1, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(ops->unlink(&f->sb, f->root, "u", 0), 0);
	assert_int_equal(look(f, f->root, "u"), 0);
	assert_int_equal(nlink_of(f, p1), 0);
	assert_int_equal(ops->read(&f->sb, p1, NULL, back, sizeof(back), 0),
			 sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	/* still writable, and vget still finds it */
	assert_int_equal(pwr(f, p1, "!", 1, 0), 1);
	assert_int_equal(ops->vget(&f->sb, ino, &p2), 0);
	assert_ptr_equal(p1, p2);
	ops->reclaim(&f->sb, p1);
	memset(back, 0, sizeof(back));
	assert_int_equal(ops->read(&f->sb, p2, NULL, back, sizeof(back), 0),
			 sizeof(back));
	assert_int_equal(back[0], '!');
	assert_memory_equal(buf + 1, back + 1, sizeof(buf) - 1);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks - sv.f_bfree, 3);
	ops->reclaim(&f->sb, p2);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), -ENOENT);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, sv.f_bfree);

	/* reclaim of a linked node keeps it */
	ino = mk(f, f->root, "v", S_IFREG | 0644);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	ops->reclaim(&f->sb, p1);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	ops->reclaim(&f->sb, p1);
	/* an unheld node goes with its last link */
	assert_int_equal(ops->unlink(&f->sb, f->root, "v", 0), 0);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), -ENOENT);
	assert_int_equal(ops->vget(&f->sb, 123456789, &p1), -ENOENT);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	static char name[300], target[5000], buf[5000];
	uint64_t ino;
	void *p;

	memset(name, 'n', 255);
	name[255] = '\0';
	ino = mk(f, f->root, name, S_IFREG | 0644);
	assert_int_equal(look(f, f->root, name), ino);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(create_as(f, f->root, name, S_IFREG | 0644,
				   &root_cred, &ino), -ENAMETOOLONG);
	assert_int_equal(lookup_ino(&f->sb, f->root, name, &ino),
			 -ENAMETOOLONG);
	assert_int_equal(ops->unlink(&f->sb, f->root, name, 0),
			 -ENAMETOOLONG);
	assert_int_equal(rn(f, f->root, name, f->root, "x", 0),
			 -ENAMETOOLONG);
	p = mkh(f, f->root, "file", S_IFREG | 0644);
	assert_int_equal(ops->link(&f->sb, f->root, name, p), -ENAMETOOLONG);
	assert_int_equal(rn(f, f->root, "file", f->root, name, 0),
			 -ENAMETOOLONG);
	name[255] = '\0';
	ino = look(f, f->root, "file");
	assert_int_equal(rn(f, f->root, "file", f->root, name, 0), 0);
	assert_int_equal(look(f, f->root, name), ino);

	/* never ".", "..", "" or with '/' */
	assert_int_equal(create_as(f, f->root, ".", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "..", S_IFDIR | 0755,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "a/b", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	mk(f, f->root, "...", S_IFREG | 0644);
	mk(f, f->root, ".hidden", S_IFREG | 0644);

	/* symlink targets up to 4095 bytes */
	memset(target, 't', 4095);
	target[4095] = '\0';
	assert_int_equal(create_ino(&f->sb, f->root, "s", S_IFLNK | 0777, 0,
				     target, &root_cred, &ino), 0);
	p = hold(f, ino);
	assert_int_equal(sget(f, p).st_size, 4095);
	assert_int_equal(ops->readlink(&f->sb, p, buf, sizeof(buf)), 4095);
	assert_memory_equal(buf, target, 4095);
	target[4095] = 't';
	target[4096] = '\0';
	assert_int_equal(create_ino(&f->sb, f->root, "s2", S_IFLNK | 0777, 0,
				     target, &root_cred, &ino),
			 -ENAMETOOLONG);
	assert_int_equal(create_ino(&f->sb, f->root, "s3", S_IFLNK | 0777, 0,
				     NULL, &root_cred, &ino), -EINVAL);
}

static void test_setattr_permission(void **state)
{
	struct fx *f = *state;
	struct uvfs_cred owner = { .uid = 1000, .gid = 1000 };
	struct uvfs_cred grp = { .uid = 2000, .gid = 100 };
	struct uvfs_cred supp = { .uid = 2000, .gid = 5, .ngroups = 1,
				  .groups = { 100 } };
	struct uvfs_cred other = { .uid = 3000, .gid = 3000 };
	struct uvfs_setattr sa;
	void *p = mkh(f, f->root, "p", S_IFREG | 04755);
	void *d;
	struct stat st, st2;

	/* chown drops setuid, and setgid with group exec */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_UID, .uid = 1000 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st = sget(f, p);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode, S_IFREG | 0755);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE, .mode = 06775 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 06775);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_GID, .gid = 100 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 0775);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE,
				    .mode = S_IFDIR | 02765 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 02765); /* type kept */
	assert_int_equal(ops->setattr(&f->sb, p, &(struct uvfs_setattr){
				.valid = UVFS_SET_GID, .gid = 100 }), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 02765);

	/* times */
	st = sget(f, p);
	sa = (struct uvfs_setattr){
		.valid = UVFS_SET_ATIME | UVFS_SET_MTIME,
		.atime = { 1000, 5 }, .mtime = { 0, UTIME_OMIT } };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st2 = sget(f, p);
	assert_int_equal(st2.st_atim.tv_sec, 1000);
	assert_int_equal(st2.st_atim.tv_nsec, 5);
	assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
	assert_true(st2.st_ctim.tv_sec >= st.st_ctim.tv_sec);
	sa.atime.tv_nsec = UTIME_OMIT;
	sa.mtime = (struct timespec){ 2000, 0 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st2 = sget(f, p);
	assert_int_equal(st2.st_atim.tv_sec, 1000);
	assert_int_equal(st2.st_mtim.tv_sec, 2000);
	sa.mtime.tv_nsec = UTIME_NOW;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_true(sget(f, p).st_mtim.tv_sec > 2000);
	assert_int_equal(sget(f, p).st_atim.tv_sec, 1000);
	/* reading updates atime */
	{
		char c;

		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		assert_true(sget(f, p).st_atim.tv_sec > 1000);
		/* as relatime: not again while it is after mtime and
		 * ctime; again once the file changed */
		struct timespec a1 = sget(f, p).st_atim;
		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		assert_int_equal(sget(f, p).st_atim.tv_nsec, a1.tv_nsec);
		assert_int_equal(sget(f, p).st_atim.tv_sec, a1.tv_sec);
		assert_int_equal(ops->setattr(&f->sb, p, &(struct uvfs_setattr){
					.valid = UVFS_SET_MODE,
					.mode = 02765 }), 0);
		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		st2 = sget(f, p);
		assert_true(st2.st_atim.tv_sec > a1.tv_sec ||
			    (st2.st_atim.tv_sec == a1.tv_sec &&
			     st2.st_atim.tv_nsec > a1.tv_nsec));
	}
	sa.mtime.tv_nsec = 1000000000;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), -EINVAL);
	/* a write updates mtime and ctime */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MTIME,
				    .mtime = { 10, 0 } };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(pwr(f, p, "x", 1, 0), 1);
	assert_true(sget(f, p).st_mtim.tv_sec > 10);
	/* so does a change of entries on the directory */
	assert_int_equal(ops->setattr(&f->sb, f->root, &sa), 0);
	mk(f, f->root, "t", S_IFREG | 0644);
	assert_true(sget(f, f->root).st_mtim.tv_sec > 10);
	assert_true(sget(f, f->root).st_ctim.tv_sec > 10);

	/* permission */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE, .mode = 0640 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK | W_OK, &owner), 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &owner), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &grp), 0);
	assert_int_equal(ops->permission(&f->sb, p, W_OK, &grp), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &supp), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &other), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, 0, &other), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK | W_OK, &root_cred),
			 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &root_cred),
			 -EACCES);
	sa.mode = 0001;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &root_cred), 0);
	/* the owner class decides even when others have more */
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &owner), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &other), 0);
	d = mkh(f, f->root, "d", S_IFDIR | 0700);
	assert_int_equal(ops->permission(&f->sb, d, X_OK | R_OK | W_OK,
					 &root_cred), 0);
	assert_int_equal(ops->permission(&f->sb, d, X_OK, &other), -EACCES);

	/* unknown attribute bits */
	sa = (struct uvfs_setattr){ .valid = 0x1000 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), -EINVAL);
	assert_int_equal(ops->sync(&f->sb), 0);
}

/* ---- concurrency ------------------------------------------------------- */

enum { NTHREADS = 4, ITERS = 3000, RECORD = 64 };

struct shared {
	struct fx *f;
	void *sub;
	void *log;
	atomic_int failures;
	atomic_int done[10];    /* successes per kind of operation */
};

struct worker {
	struct shared *s;
	int id;
	pthread_t tid;
};

#define CHECK(s, cond)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,   \
				#cond);                                      \
			atomic_fetch_add(&(s)->failures, 1);                 \
		}                                                            \
	} while (0)

static bool ok_or(int err, int a, int b)
{
	return err == 0 || err == a || err == b;
}

/* what a namespace change may meet when others race it */
static bool benign(int err)
{
	return err == 0 || err == -ENOENT || err == -EEXIST ||
	       err == -EISDIR || err == -ENOTDIR || err == -ENOTEMPTY;
}

static int count_fill(void *arg, const char *name, uint64_t ino,
		      unsigned char type, uint64_t next)
{
	(void)name;
	(void)ino;
	(void)type;
	(void)next;
	++*(size_t *)arg;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	struct fx *f = s->f;
	struct uvfs_sb *sb = &f->sb;
	unsigned seed = (unsigned)w->id * 7919u + 1;
	char a[32], b[32], c[32], rec[RECORD];

	memset(rec, 'A' + w->id, sizeof(rec));
	for (int i = 0; i < ITERS; i++) {
		int k = rand_r(&seed) % 8, other = rand_r(&seed) % NTHREADS;
		int kind = rand_r(&seed) % 10;
		void *dir = (rand_r(&seed) & 1) ? f->root : s->sub;
		uint64_t ino;
		void *p;
		int err;

		snprintf(a, sizeof(a), "t%d_%d", w->id, k);
		snprintf(b, sizeof(b), "r%d_%d", other, k);
		snprintf(c, sizeof(c), "d%d_%d", w->id, k);
		switch (kind) {
		case 0:
			err = create_ino(sb, f->root, a, S_IFREG | 0644, 0,
					  NULL, &root_cred, &ino);
			CHECK(s, ok_or(err, -EEXIST, 0));
			break;
		case 1:
			err = ops->rename(sb, f->root, a, dir, b,
					  rand_r(&seed) & 1 ?
					  RENAME_NOREPLACE : 0);
			CHECK(s, benign(err));
			break;
		case 2:
			err = ops->unlink(sb, dir, b, 0);
			CHECK(s, benign(err));
			break;
		case 3:
			err = create_ino(sb, dir, c, S_IFDIR | 0755, 0, NULL,
					  &root_cred, &ino);
			CHECK(s, ok_or(err, -EEXIST, 0));
			break;
		case 4:
			err = ops->rename(sb, dir, c,
					  dir == f->root ? s->sub : f->root,
					  rand_r(&seed) & 1 ? c : b, 0);
			CHECK(s, benign(err));
			break;
		case 5:
			err = ops->unlink(sb, dir, rand_r(&seed) & 1 ? c : b,
					  1);
			CHECK(s, benign(err));
			break;
		case 6:
			err = ops->rename(sb, f->root, a, s->sub, b,
					  RENAME_EXCHANGE);
			CHECK(s, benign(err));
			break;
		case 7: {
			struct stat st;
			char buf[16];

			err = lookup_ino(sb, dir, rand_r(&seed) & 1 ? a : b,
					  &ino);
			CHECK(s, ok_or(err, -ENOENT, 0));
			if (err != 0)
				break;
			err = ops->vget(sb, ino, &p);
			CHECK(s, ok_or(err, -ENOENT, 0));
			if (err != 0)
				break;
			CHECK(s, ops->getattr(sb, p, &st) == 0);
			CHECK(s, st.st_ino == ino);
			if (S_ISREG(st.st_mode)) {
				CHECK(s, pwr(f, p, "data", 4, 8) == 4);
				CHECK(s, ops->read(sb, p, NULL, buf,
						   sizeof(buf), 0) == 12);
			}
			ops->reclaim(sb, p);
			break;
		}
		case 8: {
			size_t n = 0;

			err = ops->readdir(sb, dir, NULL, 0, count_fill, &n);
			CHECK(s, err == 0);
			CHECK(s, n >= 2);
			break;
		}
		default: {
			off_t off = -1;

			err = (int)ops->write(sb, s->log, NULL, rec, RECORD,
					      &off);
			CHECK(s, err == RECORD);
			CHECK(s, off > 0 && off % RECORD == 0);
			err = err == RECORD ? 0 : -EIO;
			break;
		}
		}
		if (err == 0)
			atomic_fetch_add(&s->done[kind], 1);
	}
	return NULL;
}

struct check_ctx {
	struct fx *f;
	void *dir;
	size_t dirs, ents;
	int bad;
};

static int check_fill(void *arg, const char *name, uint64_t ino,
		      unsigned char type, uint64_t next)
{
	struct check_ctx *cc = arg;
	uint64_t got = 0;

	(void)next;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	cc->ents++;
	if (type == DT_DIR)
		cc->dirs++;
	if (lookup_ino(&cc->f->sb, cc->dir, name, &got) != 0 || got != ino)
		cc->bad++;
	return 0;
}

/* Checks dir's entries and link count, then empties it. */
static void check_and_empty(struct fx *f, void *dir)
{
	struct check_ctx cc = { .f = f, .dir = dir };
	struct listing *l = malloc(sizeof(*l));

	assert_int_equal(ops->readdir(&f->sb, dir, NULL, 0, check_fill, &cc),
			 0);
	assert_int_equal(cc.bad, 0);
	assert_int_equal(nlink_of(f, dir), 2 + cc.dirs);
	assert_int_equal(sget(f, dir).st_size, (off_t)cc.ents * 20);
	assert_non_null(l);
	list_dir(f, dir, l);
	for (size_t i = 2; i < l->n; i++) {
		if (l->e[i].type == DT_DIR) {
			void *p;

			assert_int_equal(ops->vget(&f->sb, l->e[i].ino, &p),
					 0);
			check_and_empty(f, p);
			ops->reclaim(&f->sb, p);
		}
		assert_int_equal(ops->unlink(&f->sb, dir, l->e[i].name,
					     l->e[i].type == DT_DIR), 0);
	}
	free(l);
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct shared s = { .f = f };
	struct worker w[NTHREADS];
	static char buf[NTHREADS * ITERS * RECORD];
	struct stat st;
	struct statvfs sv;

	s.sub = mkh(f, f->root, "sub", S_IFDIR | 0755);
	s.log = mkh(f, f->root, "log", S_IFREG | 0644);
	atomic_init(&s.failures, 0);
	for (int i = 0; i < 10; i++)
		atomic_init(&s.done[i], 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].s = &s;
		w[i].id = i;
		assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main,
						&w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].tid, NULL);
	assert_int_equal(atomic_load(&s.failures), 0);
	for (int i = 0; i < 10; i++) /* the races did happen */
		assert_true(atomic_load(&s.done[i]) > 10);

	/* appends never overlap: each record is one thread's */
	st = sget(f, s.log);
	assert_int_equal(st.st_size, (off_t)atomic_load(&s.done[9]) * RECORD);
	assert_true((size_t)st.st_size <= sizeof(buf));
	assert_int_equal(ops->read(&f->sb, s.log, NULL, buf, sizeof(buf), 0),
			 st.st_size);
	for (off_t r = 0; r < st.st_size; r += RECORD)
		for (int j = 1; j < RECORD; j++)
			assert_int_equal(buf[r + j], buf[r]);

	check_and_empty(f, f->root);
	assert_int_equal(nlink_of(f, f->root), 2);
	assert_int_equal(nlink_of(f, s.sub), 0);
	/* what is still held is the sub directory and the log */
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_files - sv.f_ffree, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_lookup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readdir_cookies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_holes_truncate, setup,
						teardown),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_holes_fallocate),
		cmocka_unit_test(test_large_writes),
		cmocka_unit_test(test_xattr_space),
		cmocka_unit_test_setup_teardown(test_xattr_ops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_xattr_threads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_setgid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_unlink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_readable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setattr_permission, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

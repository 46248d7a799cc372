/*
 * test_memfs.c - unit test of the memfs driver, calling its operations
 * directly.  The superblock is the core's and opaque; this file provides a
 * stand-in for the two accessors the driver uses.  It also plays the core's
 * part in pairing every vget with a reclaim.
 *
 * This file is the harness (the stand-in, the fixture, the helpers) and
 * main with the tests in the order they run; the tests are in
 * test_memfs_{names,data,attrs,threads}.c by topic, included below into
 * this one translation unit.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <uvfs/fs.h>

#include "memfs_i.h"    /* test_name_hash_spread looks at a directory's
			   buckets */

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

/* ---- the core's stand-in (memfs_standin.c) ------------------------------ */

#include "memfs_standin.h"

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

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the stand-in and fixture above ---------- */

#include "test_memfs_names.c"        /* create, lookup, readdir, rename, link */
#include "test_memfs_data.c"         /* holes, size=, large writes, fallocate */
#include "test_memfs_attrs.c"        /* xattrs, setgid, setattr permissions */
#include "test_memfs_threads.c"      /* concurrency */
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
		cmocka_unit_test(test_enospc_times),
		cmocka_unit_test(test_symlink_space),
		cmocka_unit_test(test_holes_fallocate),
		cmocka_unit_test(test_fallocate_unlimited),
		cmocka_unit_test_setup_teardown(test_seek_hole_max, setup,
						teardown),
		cmocka_unit_test(test_large_writes),
		cmocka_unit_test(test_stream_overwrite),
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
		cmocka_unit_test_setup_teardown(test_name_hash_spread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_setattr_permission, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_vs_reclaim, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_getattr_consistent, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

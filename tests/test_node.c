/*
 * test_node.c - the node-level API for front ends: lookups that cross
 * mounts and hold nodes, name operations on nodes, and open-file handles
 * that make a mount busy, show in holders with their label, die with a
 * forced unmount or a revoke and are always released cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <uvfs/uvfs.h>

static struct uvfs *U;
static struct uvfs_ctx *C;

static int setup(void **state)
{
	(void)state;
	if (uvfs_new(NULL, &U) || uvfs_ctx_new(U, NULL, &C))
		return -1;
	if (uvfs_mkdir(C, "/mnt", 0755) ||
	    uvfs_mount(C, "memfs", "none", "/mnt", ""))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct uvfs_stats st;

	(void)state;
	uvfs_stats(U, &st);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.files, 0);
	uvfs_ctx_free(C);
	uvfs_free(U);
	return 0;
}

struct names {
	int n;
	char seen[16][256];
};

static int collect(void *arg, const struct uvfs_dirent *de)
{
	struct names *nm = arg;

	if (nm->n == 16)
		return 1;
	snprintf(nm->seen[nm->n++], 256, "%s", de->name);
	return 0;
}

static bool has(const struct names *nm, const char *name)
{
	for (int i = 0; i < nm->n; i++)
		if (strcmp(nm->seen[i], name) == 0)
			return true;
	return false;
}

/* A create by the node API asks the driver first and looks the name up
 * only after a refusal: the errors keep Linux's order all the same (an
 * existing name is -EEXIST before -EACCES, -EPERM or -EROFS). */
static void create_error_precedence(void **state)
{
	const struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_node *root, *mnt, *d, *ro, *n;
	struct uvfs_ctx *c2;
	struct stat st;

	(void)state;
	assert_int_equal(uvfs_ctx_new(U, &user, &c2), 0);
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "mnt", &mnt, &st), 0);
	assert_int_equal(uvfs_node_mkdir(C, mnt, "p", 0755, &d, &st), 0);
	assert_int_equal(uvfs_node_create(C, d, "x", S_IFREG | 0644, 0, NULL,
					  &n, &st), 0);
	uvfs_node_release(n, 1);

	/* not writable by uid 1000 */
	assert_int_equal(uvfs_node_create(c2, d, "x", S_IFREG | 0644, 0, NULL,
					  &n, &st), -EEXIST);
	assert_int_equal(uvfs_node_mkdir(c2, d, "x", 0755, &n, &st), -EEXIST);
	assert_int_equal(uvfs_node_create(c2, d, "y", S_IFREG | 0644, 0, NULL,
					  &n, &st), -EACCES);
	assert_int_equal(uvfs_node_create(c2, d, ".", S_IFREG | 0644, 0, NULL,
					  &n, &st), -EEXIST);
	/* a device by anyone but root */
	assert_int_equal(uvfs_node_create(C, d, "w", S_IFDIR | 0777, 0, NULL,
					  &n, &st), 0);
	assert_int_equal(uvfs_node_create(c2, n, "c", S_IFCHR | 0644, 0, NULL,
					  &ro, &st), -EPERM);
	assert_int_equal(uvfs_node_create(c2, d, "x", S_IFCHR | 0644, 0, NULL,
					  &ro, &st), -EEXIST);
	uvfs_node_release(n, 1);

	/* read-only */
	assert_int_equal(uvfs_mkdir(C, "/mnt/p/ro", 0755), 0);
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/mnt/p/ro", "ro"), 0);
	assert_int_equal(uvfs_node_lookup(C, d, "ro", &ro, &st), 0);
	assert_int_equal(uvfs_node_create(C, ro, "x", S_IFREG | 0644, 0, NULL,
					  &n, &st), -EROFS);
	assert_int_equal(uvfs_node_mkdir(C, ro, ".", 0755, &n, &st), -EEXIST);
	assert_int_equal(uvfs_node_mkdir(C, d, "ro", 0755, &n, &st), -EEXIST);
	uvfs_node_release(ro, 1);
	assert_int_equal(uvfs_umount(C, "/mnt/p/ro", 0), 0);

	uvfs_node_release(d, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);
	uvfs_ctx_free(c2);
}

static void names_and_files(void **state)
{
	struct uvfs_node *root, *mnt, *d, *f, *f2, *l, *h;
	struct uvfs_file *fh;
	struct stat st;
	struct statvfs sv;
	char buf[64];
	struct names nm = { 0 };

	(void)state;
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "mnt", &mnt, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(uvfs_node_mkdir(C, mnt, "d", 0755, &d, &st), 0);
	assert_int_equal(uvfs_node_create(C, d, "f", S_IFREG | 0644, 0, NULL,
					  &f, &st), 0);
	assert_int_equal(uvfs_node_create(C, d, "f", S_IFREG | 0644, 0, NULL,
					  &f2, &st), -EEXIST);
	assert_int_equal(uvfs_node_open(C, f, O_RDWR, "pid 42", &fh), 0);
	assert_int_equal(uvfs_file_pwrite(fh, "hello", 5, 0), 5);
	assert_int_equal(uvfs_file_pread(fh, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(uvfs_file_truncate(fh, 2), 0);
	assert_int_equal(uvfs_file_fstat(fh, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(uvfs_file_fsync(fh, 0), 0);

	/* the handle makes the mount busy and is listed with its label */
	uvfs_node_release(f, 1);
	struct uvfs_holder *hd;
	size_t n;
	assert_int_equal(uvfs_holders(C, "/mnt", &hd, &n), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (hd[i].kind == UVFS_HOLDER_FILE && hd[i].fd == -1 &&
		    strcmp(hd[i].ctx_label, "pid 42") == 0 &&
		    strstr(hd[i].path, "/d/f"))
			found = true;
	free(hd);
	assert_true(found);

	/* links, symlinks, rename, readlink, readdir, statfs, access */
	assert_int_equal(uvfs_node_lookup(C, d, "f", &f, &st), 0);
	assert_int_equal(uvfs_node_link(C, f, d, "g", &h, &st), 0);
	assert_ptr_equal(h, f);         /* same pair, same node */
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(uvfs_node_create(C, d, "s", S_IFLNK, 0, "f", &l,
					  &st), 0);
	assert_int_equal(uvfs_node_readlink(C, l, buf, sizeof(buf)), 1);
	assert_int_equal(uvfs_node_readlink(C, f, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(uvfs_node_rename(C, d, "g", mnt, "g2", 0), 0);
	assert_int_equal(uvfs_node_rename(C, d, "f", root, "x", 0), -EXDEV);
	assert_int_equal(uvfs_node_readdir(C, d, 0, collect, &nm), 0);
	assert_true(has(&nm, "f") && has(&nm, "s") && !has(&nm, "g"));
	assert_int_equal(uvfs_node_statfs(C, d, &sv), 0);
	assert_int_equal(uvfs_node_access(C, f, R_OK | W_OK), 0);
	assert_int_equal(uvfs_node_unlink(C, d, "f", 0), 0);
	assert_int_equal(uvfs_node_unlink(C, mnt, "g2", 0), 0);
	assert_int_equal(uvfs_node_unlink(C, d, "s", 0), 0);
	assert_int_equal(uvfs_node_unlink(C, mnt, "d", 1), 0);
	assert_int_equal(uvfs_node_unlink(C, root, "mnt", 1), -EBUSY);
	/* an unlinked file stays readable through its handle */
	assert_int_equal(uvfs_file_pread(fh, buf, sizeof(buf), 0), 2);
	uvfs_file_release(fh);
	uvfs_node_release(f, 2);
	uvfs_node_release(l, 1);
	uvfs_node_release(d, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);
}

static void handles_die_with_forced_unmount(void **state)
{
	struct uvfs_node *root, *mnt, *f;
	struct uvfs_file *fh, *dh;
	struct stat st;
	char buf[8];
	struct names nm = { 0 };

	(void)state;
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "mnt", &mnt, &st), 0);
	assert_int_equal(uvfs_node_create(C, mnt, "f", S_IFREG | 0644, 0, NULL,
					  &f, &st), 0);
	assert_int_equal(uvfs_node_open(C, f, O_RDONLY, "pid 7", &fh), 0);
	assert_int_equal(uvfs_node_open(C, mnt, O_RDONLY | O_DIRECTORY,
					"pid 7", &dh), 0);
	assert_int_equal(uvfs_umount(C, "/mnt", 0), -EBUSY);
	assert_int_equal(uvfs_umount(C, "/mnt", UVFS_UMOUNT_FORCE), 0);
	assert_int_equal(uvfs_file_pread(fh, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_file_readdir(dh, 0, collect, &nm), -EIO);
	assert_int_equal(uvfs_node_getattr(C, f, &st), -EIO);
	uvfs_file_release(fh);
	uvfs_file_release(dh);
	uvfs_node_release(f, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_settle(U, 5000), 0);
	/* the covered directory is back */
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/mnt", ""), 0);
}

static void revoke_kills_handles_of_one_file(void **state)
{
	struct uvfs_node *root, *mnt, *a, *b;
	struct uvfs_file *ha, *hb;
	struct stat st;
	char buf[8];

	(void)state;
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "mnt", &mnt, &st), 0);
	assert_int_equal(uvfs_node_create(C, mnt, "a", S_IFREG | 0644, 0, NULL,
					  &a, &st), 0);
	assert_int_equal(uvfs_node_create(C, mnt, "b", S_IFREG | 0644, 0, NULL,
					  &b, &st), 0);
	assert_int_equal(uvfs_node_open(C, a, O_RDWR, "x", &ha), 0);
	assert_int_equal(uvfs_node_open(C, b, O_RDWR, "x", &hb), 0);
	assert_int_equal(uvfs_revoke(C, "/mnt/a"), 0);
	assert_int_equal(uvfs_file_pwrite(ha, "z", 1, 0), -EIO);
	assert_int_equal(uvfs_file_pwrite(hb, "z", 1, 0), 1);
	assert_int_equal(uvfs_file_pread(hb, buf, 1, 0), 1);
	uvfs_file_release(ha);
	uvfs_file_release(hb);
	uvfs_node_release(a, 1);
	uvfs_node_release(b, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_umount(C, "/mnt", 0), 0);
}

/* uvfs_realpath: what the front end invalidates after a namespace change. */
static void canonical_paths(void **state)
{
	char buf[256];
	struct uvfs_node *root;

	(void)state;
#define REAL(path, want) do { \
	int n_ = uvfs_realpath(C, path, buf, sizeof(buf)); \
	assert_int_equal(n_, (int)strlen(want)); \
	assert_string_equal(buf, want); \
} while (0)
	assert_int_equal(uvfs_mkdir(C, "/rp", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/rp/d", 0755), 0);
	assert_int_equal(uvfs_close(C, uvfs_open(C, "/rp/d/f", O_CREAT | O_WRONLY, 0644)), 0);
	assert_int_equal(uvfs_symlink(C, "d", "/rp/rel"), 0);
	assert_int_equal(uvfs_symlink(C, "/rp/d/f", "/rp/abs"), 0);
	assert_int_equal(uvfs_symlink(C, "rel/f", "/rp/chain"), 0);
	assert_int_equal(uvfs_symlink(C, "/mnt", "/rp/tomnt"), 0);
	assert_int_equal(uvfs_symlink(C, "loop", "/rp/loop"), 0);
	assert_int_equal(uvfs_symlink(C, "nowhere", "/rp/dangling"), 0);
	REAL("/", "/");
	REAL("/rp//d/./f", "/rp/d/f");
	REAL("/rp/d/../d/f", "/rp/d/f");
	REAL("/rp/rel", "/rp/d");
	REAL("/rp/rel/", "/rp/d");
	REAL("/rp/rel/f", "/rp/d/f");
	REAL("/rp/abs", "/rp/d/f");
	REAL("/rp/chain", "/rp/d/f");
	REAL("/rp/tomnt", "/mnt");
	REAL("/rp/d/..", "/rp");
	assert_int_equal(uvfs_chdir(C, "/rp/d"), 0);
	REAL("f", "/rp/d/f");
	REAL(".", "/rp/d");
	REAL("../rel", "/rp/d");
	assert_int_equal(uvfs_chdir(C, "/"), 0);
	assert_int_equal(uvfs_realpath(C, "/rp/loop", buf, sizeof(buf)), -ELOOP);
	assert_int_equal(uvfs_realpath(C, "/rp/dangling", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(uvfs_realpath(C, "/rp/nope/x", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(uvfs_realpath(C, "/rp/d/f/", buf, sizeof(buf)), -ENOTDIR);
	assert_int_equal(uvfs_realpath(C, "", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(uvfs_realpath(C, "/rp/d/f", buf, 4), -ERANGE);
	/* a suspended mount's root, through a symlink: nothing blocks */
	assert_int_equal(uvfs_suspend(C, "/mnt"), 0);
	REAL("/rp/tomnt", "/mnt");
	REAL("/mnt", "/mnt");
	assert_int_equal(uvfs_resume(C, "/mnt"), 0);
#undef REAL
	/* memfs changes only through the VFS */
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_true(uvfs_node_exclusive(root));
	uvfs_node_release(root, 1);
}

/* The namespace root cannot be covered, by any path that leads there. */
static void no_mount_on_namespace_root(void **state)
{
	struct uvfs_mount_info *mi;
	size_t n, before;

	(void)state;
	assert_int_equal(uvfs_mount_list(U, &mi, &before), 0);
	free(mi);
	assert_int_equal(uvfs_mkdir(C, "/x", 0755), 0);
	assert_int_equal(uvfs_symlink(C, "/", "/toroot"), 0);
	assert_int_equal(uvfs_symlink(C, "../..", "/x/up"), 0);
	static const char *const roots[] = { "/", "//", "/x/..", "/x/../..",
					     "/toroot", "/x/up", "/." };
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		assert_int_equal(uvfs_mount(C, "memfs", "none", roots[i], ""),
				 -EBUSY);
	assert_int_equal(uvfs_mount_list(U, &mi, &n), 0);
	assert_int_equal(n, before);    /* nothing more */
	free(mi);
	/* any other directory can (and a mount's root: stacking) */
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/x", ""), 0);
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/x", ""), 0);
	assert_int_equal(uvfs_umount(C, "/x", 0), 0);
	assert_int_equal(uvfs_umount(C, "/x", 0), 0);
	assert_int_equal(uvfs_unlink(C, "/x/up"), 0);
	assert_int_equal(uvfs_rmdir(C, "/x"), 0);
	assert_int_equal(uvfs_unlink(C, "/toroot"), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(uvfs_stat(C, path, &st), 0);
	return st.st_mode & 07777;
}

/* A write or truncation by someone without CAP_FSETID clears setuid, and
 * setgid when group execute is set or the writer is outside the group
 * (Linux, tmpfs); root's keeps them. */
static void write_clears_setuid(void **state)
{
	const struct uvfs_cred nobody = { .uid = 65534, .gid = 65534 };
	const struct uvfs_cred member = { .uid = 65534, .gid = 100 };
	struct uvfs_ctx *o;
	struct uvfs_node *nd;
	struct uvfs_file *h;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(uvfs_ctx_new(U, &nobody, &o), 0);
	fd = uvfs_open(C, "/mnt/s", O_CREAT | O_WRONLY, 0666);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_chown(C, "/mnt/s", 0, 100), 0);

	/* root: kept */
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 06777), 0);
	fd = uvfs_open(C, "/mnt/s", O_WRONLY, 0);
	assert_int_equal(uvfs_write(C, fd, "r", 1), 1);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(mode_of("/mnt/s"), 06777);
	/* another user: both go (group execute set) */
	fd = uvfs_open(o, "/mnt/s", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(o, fd, "", 0), 0);  /* nothing written */
	assert_int_equal(mode_of("/mnt/s"), 06777);
	assert_int_equal(uvfs_write(o, fd, "x", 1), 1);
	assert_int_equal(mode_of("/mnt/s"), 0777);
	/* setgid without group execute: kept for a member of the group,
	 * cleared for anyone else */
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 02767), 0);
	assert_int_equal(uvfs_pwrite(o, fd, "y", 1, 0), 1);
	assert_int_equal(mode_of("/mnt/s"), 0767);
	assert_int_equal(uvfs_close(o, fd), 0);
	assert_int_equal(uvfs_ctx_set_cred(o, &member), 0);
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 02767), 0);
	assert_int_equal(uvfs_truncate(o, "/mnt/s", 0), 0);
	assert_int_equal(mode_of("/mnt/s"), 02767);
	/* truncate, ftruncate, O_TRUNC */
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 04777), 0);
	assert_int_equal(uvfs_truncate(o, "/mnt/s", 1), 0);
	assert_int_equal(mode_of("/mnt/s"), 0777);
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 04777), 0);
	fd = uvfs_open(o, "/mnt/s", O_WRONLY, 0);
	assert_int_equal(uvfs_ftruncate(o, fd, 0), 0);
	assert_int_equal(uvfs_close(o, fd), 0);
	assert_int_equal(mode_of("/mnt/s"), 0777);
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 04777), 0);
	fd = uvfs_open(o, "/mnt/s", O_WRONLY | O_TRUNC, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(o, fd), 0);
	assert_int_equal(mode_of("/mnt/s"), 0777);
	/* the node API: the front end asks before its writes */
	assert_int_equal(uvfs_chmod(C, "/mnt/s", 04777), 0);
	struct uvfs_node *root, *mnt;
	assert_int_equal(uvfs_node_root(o, &root), 0);
	assert_int_equal(uvfs_node_lookup(o, root, "mnt", &mnt, NULL), 0);
	assert_int_equal(uvfs_node_lookup(o, mnt, "s", &nd, &st), 0);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_node_open(o, nd, O_RDONLY, "t", &h), 0);
	assert_int_equal(uvfs_file_kill_priv(o, h), 0);   /* cannot write */
	uvfs_file_release(h);
	assert_int_equal(mode_of("/mnt/s"), 04777);
	assert_int_equal(uvfs_node_open(o, nd, O_WRONLY, "t", &h), 0);
	assert_int_equal(uvfs_file_kill_priv(o, h), 1);
	assert_int_equal(uvfs_file_kill_priv(o, h), 0);
	uvfs_file_release(h);
	uvfs_node_release(nd, 1);
	assert_int_equal(mode_of("/mnt/s"), 0777);
	assert_int_equal(uvfs_unlink(C, "/mnt/s"), 0);
	uvfs_ctx_free(o);
}

/* The owner word: one claimant per instance; NULL on every new node, a
 * node made again after its last hold included; kept while held. */
static void owner_word(void **state)
{
	struct uvfs_node *root, *mnt, *f, *again;
	struct stat st;
	static int a, b, word;  /* addresses only: who claims, a word */

	(void)state;
	assert_int_equal(uvfs_node_owner_claim(U, &a), 0);
	assert_int_equal(uvfs_node_owner_claim(U, &a), 0);
	assert_int_equal(uvfs_node_owner_claim(U, &b), -EBUSY);
	uvfs_node_owner_unclaim(U, &b);         /* not b's: nothing */
	assert_int_equal(uvfs_node_owner_claim(U, &b), -EBUSY);

	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "mnt", &mnt, &st), 0);
	assert_int_equal(uvfs_node_create(C, mnt, "ow", S_IFREG | 0644, 0,
					  NULL, &f, &st), 0);
	assert_null(uvfs_node_owner(f));
	uvfs_node_set_owner(f, &word);
	assert_int_equal(uvfs_node_lookup(C, mnt, "ow", &again, &st), 0);
	assert_ptr_equal(again, f);             /* the same node, the word kept */
	assert_ptr_equal(uvfs_node_owner(again), &word);
	uvfs_node_release(again, 1);
	uvfs_node_set_owner(f, NULL);
	uvfs_node_release(f, 1);                /* the last hold: freed */
	assert_int_equal(uvfs_node_lookup(C, mnt, "ow", &again, &st), 0);
	assert_null(uvfs_node_owner(again));
	uvfs_node_release(again, 1);
	assert_int_equal(uvfs_node_unlink(C, mnt, "ow", 0), 0);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(root, 1);

	uvfs_node_owner_unclaim(U, &a);
	assert_int_equal(uvfs_node_owner_claim(U, &b), 0);
	uvfs_node_owner_unclaim(U, &b);
}

/* uvfs_node_lookup_here (FUSE's readdirplus): a mount point's name answers
 * -EXDEV without entering the mounted file system, also a suspended one
 * (whose root's getattr would wait for the resume); other names as
 * uvfs_node_lookup. */
static void lookup_here_stays_out_of_mounts(void **state)
{
	struct uvfs_node *root, *nd;
	struct stat st;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/plain", 0755), 0);
	assert_int_equal(uvfs_mkdir(C, "/lh", 0755), 0);
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/lh", ""), 0);
	assert_int_equal(uvfs_node_root(C, &root), 0);
	assert_int_equal(uvfs_suspend(C, "/lh"), 0);
	assert_int_equal(uvfs_node_lookup_here(C, root, "lh", &nd, &st),
			 -EXDEV);
	assert_int_equal(uvfs_node_lookup_here(C, root, "plain", &nd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	uvfs_node_release(nd, 1);
	assert_int_equal(uvfs_node_lookup_here(C, root, "none", &nd, &st),
			 -ENOENT);
	assert_int_equal(uvfs_resume(C, "/lh"), 0);
	assert_int_equal(uvfs_node_lookup(C, root, "lh", &nd, &st), 0);
	uvfs_node_release(nd, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_umount(C, "/lh", 0), 0);
	assert_int_equal(uvfs_rmdir(C, "/lh"), 0);
	assert_int_equal(uvfs_rmdir(C, "/plain"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_paths),
		cmocka_unit_test(names_and_files),
		cmocka_unit_test(create_error_precedence),
		cmocka_unit_test(handles_die_with_forced_unmount),
		cmocka_unit_test(revoke_kills_handles_of_one_file),
		cmocka_unit_test(no_mount_on_namespace_root),
		cmocka_unit_test(write_clears_setuid),
		cmocka_unit_test(owner_word),
		cmocka_unit_test(lookup_here_stays_out_of_mounts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

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
	hostfs_close(e->hs);
	outside_untouched();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static void walk_dotdot(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_qid q;

	assert_int_equal(tc_walk(c, 1, 2, "..", &q), 0);
	assert_int_equal(q.path, e->root.path);            /* the root's parent is itself */
	assert_int_equal(tc_walk(c, 1, 3, "../../..", &q), 0);
	assert_int_equal(q.path, e->root.path);
	assert_int_equal(tc_walk(c, 1, 4, "sub/../..", &q), 0);
	assert_int_equal(q.path, e->root.path);
	/* the outside is not a name of the root */
	assert_int_equal(tc_walk(c, 1, 5, "../outside", NULL), -2);
	assert_int_equal(tc_walk(c, 1, 5, "../outside/secret", NULL), -2);
	assert_int_equal(tc_walk(c, 1, 5, "sub/../../outside", NULL), -4);
	/* walking ".." from a walked-to fid, step by step */
	assert_int_equal(tc_walk(c, 1, 6, "sub", NULL), 0);
	assert_int_equal(tc_walk(c, 6, 6, "..", &q), 0);
	assert_int_equal(q.path, e->root.path);
	assert_int_equal(tc_walk(c, 6, 6, "..", &q), 0);
	assert_int_equal(q.path, e->root.path);
	assert_int_equal(tc_lcreate(c, 6, "made", O_RDWR, 0644, 0), 0);
	assert_true(host_exists(exp_, "made"));
	/* a name is one name */
	struct p9_msg t = { .type = P9_TWALK }, r;
	t.twalk.fid = 1;
	t.twalk.newfid = 7;
	t.twalk.nwname = 1;
	t.twalk.wname[0] = P9_STR("../outside");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	t.twalk.wname[0] = P9_STR("sub/inner");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	t.twalk.wname[0] = P9_STR("");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	t.twalk.wname[0] = P9_STR("/");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
}

/* A symlink: walkable as itself, never through, never opened. */
static void check_link_is_wall(struct tc *c, const char *name, uint32_t fid)
{
	char path[128];
	struct p9_qid q;

	assert_int_equal(tc_walk(c, 1, fid, name, &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	snprintf(path, sizeof(path), "%s/secret", name);
	assert_int_equal(tc_walk(c, 1, fid + 1, path, NULL), -2);
	snprintf(path, sizeof(path), "%s/etc/passwd", name);
	assert_int_equal(tc_walk(c, 1, fid + 1, path, NULL), -2);
	snprintf(path, sizeof(path), "%s/..", name);
	assert_int_equal(tc_walk(c, 1, fid + 1, path, NULL), -2);
	assert_int_equal(tc_lopen(c, fid, O_RDONLY), ELOOP);
	assert_int_equal(tc_lopen(c, fid, O_RDONLY | O_DIRECTORY), ELOOP);
	/* not a directory to create in */
	assert_int_not_equal(tc_lcreate(c, fid, "planted", O_RDWR, 0644, 0), 0);
	assert_int_not_equal(tc_mkdir(c, fid, "dir", 0755, 0), 0);
	assert_int_not_equal(tc_symlink(c, fid, "planted", "x"), 0);
	struct p9_rgetattr a;
	assert_int_equal(tc_getattr(c, fid, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(tc_clunk(c, fid), 0);
}

static void symlinks_out(void **state)
{
	struct env *e = *state;
	char target[256];

	host_symlink("/", "toroot");
	host_symlink("../..", "up");
	host_symlink("..", "parent");
	hpath(target, out_, "");
	host_symlink(target, "absout");
	hpath(target, out_, "secret");
	host_symlink(target, "abssecret");
	host_symlink("../outside", "relout");
	host_symlink("../outside/secret", "relsecret");
	host_symlink("/proc/self/root", "procroot");
	host_symlink("sub", "inside");          /* harmless, still a wall */
	const char *names[] = { "toroot", "up", "parent", "absout", "abssecret",
				"relout", "relsecret", "procroot", "inside" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_link_is_wall(&e->c, names[i], 10);

	/* readlink gives the target back unchanged: data, not a path */
	struct p9_msg t = { .type = P9_TREADLINK }, r;
	assert_int_equal(tc_walk(&e->c, 1, 20, "abssecret", NULL), 0);
	t.treadlink.fid = 20;
	assert_int_equal(tc_err(&e->c, &t, &r), 0);
	assert_true(p9_str_eq(r.rreadlink.target, target));
	/* a link to a link's name does not open the secret either */
	assert_int_equal(tc_clunk(&e->c, 20), 0);
}

static void absolute_targets_created(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char target[256];

	/* a client may store any target, but nothing follows it */
	assert_int_equal(tc_symlink(c, 1, "s1", "/etc/passwd"), 0);
	hpath(target, out_, "");
	assert_int_equal(tc_symlink(c, 1, "s2", target), 0);
	assert_int_equal(tc_symlink(c, 1, "s3", "../../../../.."), 0);
	assert_int_equal(tc_symlink(c, 1, "s4", "/proc/self/cwd"), 0);
	check_link_is_wall(c, "s1", 10);
	check_link_is_wall(c, "s2", 10);
	check_link_is_wall(c, "s3", 10);
	check_link_is_wall(c, "s4", 10);
	/* lcreate over an existing symlink does not follow it */
	assert_int_equal(tc_walk(c, 1, 12, "", NULL), 0);
	assert_int_equal(tc_lcreate(c, 12, "s2", O_RDWR, 0644, 0), ELOOP);
	assert_int_equal(tc_lcreate(c, 12, "s1", O_RDWR | O_TRUNC, 0644, 0), ELOOP);
	assert_int_equal(tc_clunk(c, 12), 0);
}

/* A symlink planted where a walked directory was. */
static void planted_after_walk(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char a[256], b[256];

	assert_int_equal(tc_walk(c, 1, 2, "sub", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 3, "sub/inner", NULL), 0);
	hpath(a, exp_, "sub");
	hpath(b, exp_, "sub.old");
	assert_int_equal(rename(a, b), 0);
	host_symlink(out_, "sub");              /* absolute, to the outside */
	/* copy the secret's name to "inner" outside, so a path that did
	 * follow the link would find a file of that name */
	host_write(out_, "inner", "INNER-OUTSIDE");
	assert_int_equal(tc_getattr(c, 3, NULL), ELOOP);
	assert_int_equal(tc_lopen(c, 3, O_RDONLY), ELOOP);
	assert_int_not_equal(tc_lcreate(c, 2, "planted", O_RDWR, 0644, 0), 0);
	assert_int_not_equal(tc_mkdir(c, 2, "dir", 0755, 0), 0);
	assert_int_not_equal(tc_walk(c, 2, 4, "inner", NULL), 0);
	assert_int_not_equal(tc_walk(c, 3, 4, "", NULL), 0);
	assert_int_not_equal(tc_unlinkat(c, 2, "inner", 0), 0);
	hpath(a, out_, "inner");
	assert_int_equal(access(a, F_OK), 0);   /* not unlinked */
	assert_int_equal(unlink(a), 0);

	/* the same with a relative link */
	hpath(a, exp_, "sub");
	assert_int_equal(unlink(a), 0);
	host_symlink("../outside", "sub");
	assert_int_equal(tc_getattr(c, 3, NULL), ELOOP);
	assert_int_not_equal(tc_lcreate(c, 2, "planted", O_RDWR, 0644, 0), 0);

	/* a link back inside is refused too (no symlink is ever followed) */
	assert_int_equal(unlink(a), 0);
	host_symlink("sub.old", "sub");
	assert_int_equal(tc_getattr(c, 3, NULL), ELOOP);

	/* another directory put in its place: the fid is stale */
	assert_int_equal(unlink(a), 0);
	host_mkdir(exp_, "sub");
	host_write(exp_, "sub/inner", "other");
	assert_int_equal(tc_getattr(c, 2, NULL), ESTALE);
	assert_int_equal(tc_getattr(c, 3, NULL), ESTALE);
	assert_int_equal(tc_lopen(c, 3, O_RDONLY), ESTALE);
	assert_int_equal(tc_lcreate(c, 2, "x", O_RDWR, 0644, 0), ESTALE);
	assert_int_equal(tc_clunk(c, 2), 0);
	assert_int_equal(tc_clunk(c, 3), 0);
}

static void renamed_out_of_export(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char a[256], b[256], buf[16];

	host_mkdir(exp_, "mv");
	host_write(exp_, "mv/file", "moving");
	host_mkdir(exp_, "mv/deep");
	assert_int_equal(tc_walk(c, 1, 2, "mv", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 3, "mv/file", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 4, "mv/file", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 5, "mv/deep", NULL), 0);
	assert_int_equal(tc_lopen(c, 4, O_RDWR), 0);       /* opened before */
	hpath(a, exp_, "mv");
	hpath(b, out_, "mv");
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(tc_getattr(c, 2, NULL), ENOENT);
	assert_int_equal(tc_getattr(c, 3, NULL), ENOENT);
	assert_int_equal(tc_lopen(c, 3, O_RDONLY), ENOENT);
	assert_int_equal(tc_lcreate(c, 2, "planted", O_RDWR, 0644, 0), ENOENT);
	assert_int_equal(tc_mkdir(c, 5, "dir", 0755, 0), ENOENT);
	assert_int_equal(tc_walk(c, 2, 6, "file", NULL), ENOENT);
	assert_int_equal(tc_walk(c, 5, 6, "../file", NULL), ENOENT);
	assert_int_equal(tc_unlinkat(c, 2, "file", 0), ENOENT);
	struct p9_msg t = { .type = P9_TRENAMEAT }, r;
	t.trenameat.olddirfid = 2;
	t.trenameat.oldname = P9_STR("file");
	t.trenameat.newdirfid = 1;
	t.trenameat.newname = P9_STR("stolen");
	assert_int_equal(tc_err(c, &t, &r), ENOENT);
	assert_false(host_exists(exp_, "stolen"));
	/* an fid opened before the move keeps its open file (as a local
	 * open file would); it reaches nothing else */
	assert_int_equal(tc_pread(c, 4, 0, buf, sizeof(buf)), 6);
	assert_false(host_exists(b, "planted"));
	assert_false(host_exists(b, "deep/dir"));
	assert_true(host_exists(b, "file"));
	/* a new "mv" inside: the old fids are stale, not re-targeted */
	host_mkdir(exp_, "mv");
	assert_int_equal(tc_getattr(c, 2, NULL), ESTALE);
	assert_int_equal(tc_lcreate(c, 2, "planted", O_RDWR, 0644, 0), ESTALE);
	for (uint32_t f = 2; f <= 5; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

/* A rename made through the server: the fids below follow it. */
static void renamed_through_server(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_msg t = { .type = P9_TRENAMEAT }, r;
	struct p9_rgetattr a;

	host_mkdir(exp_, "a");
	host_mkdir(exp_, "a/b");
	host_write(exp_, "a/b/f", "follow");
	host_mkdir(exp_, "ab");                 /* a prefix, not a parent */
	assert_int_equal(tc_walk(c, 1, 2, "a/b", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 3, "a/b/f", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 4, "ab", NULL), 0);
	t.trenameat.olddirfid = 1;
	t.trenameat.oldname = P9_STR("a");
	t.trenameat.newdirfid = 4;
	t.trenameat.newname = P9_STR("moved");
	assert_int_equal(tc_err(c, &t, &r), 0);
	assert_true(host_exists(exp_, "ab/moved/b/f"));
	assert_int_equal(tc_getattr(c, 3, &a), 0);
	assert_int_equal(a.size, 6);
	assert_int_equal(tc_getattr(c, 4, NULL), 0);
	assert_int_equal(tc_lcreate(c, 2, "new", O_RDWR, 0644, 0), 0);
	assert_true(host_exists(exp_, "ab/moved/b/new"));
	/* Trename moves the fid's own file, and the fids below it */
	assert_int_equal(tc_walk(c, 1, 5, "ab/moved", NULL), 0);
	t = (struct p9_msg){ .type = P9_TRENAME };
	t.trename.fid = 5;
	t.trename.dfid = 1;
	t.trename.name = P9_STR("back");
	assert_int_equal(tc_err(c, &t, &r), 0);
	assert_int_equal(tc_getattr(c, 3, &a), 0);
	assert_int_equal(tc_walk(c, 5, 6, "b/f", NULL), 0);
	assert_true(host_exists(exp_, "back/b/f"));
	for (uint32_t f = 2; f <= 6; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

/* Removed through the server: fids still reach the removed file, and
 * nothing below a removed directory. */
static void removed_through_server(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_rgetattr a;
	struct p9_qid q;

	assert_int_equal(tc_walk(c, 1, 2, "sub", &q), 0);
	assert_int_equal(tc_walk(c, 1, 3, "sub", NULL), 0);
	assert_int_equal(tc_unlinkat(c, 2, "inner", 0), 0);
	assert_int_equal(tc_unlinkat(c, 1, "sub", AT_REMOVEDIR), 0);
	assert_int_equal(tc_getattr(c, 2, &a), 0);
	assert_int_equal(a.qid.path, q.path);
	assert_int_equal(tc_walk(c, 2, 4, "inner", NULL), ENOENT);
	assert_int_equal(tc_walk(c, 2, 4, "..", NULL), ENOENT);
	assert_int_equal(tc_walk(c, 2, 4, "", NULL), 0);        /* a clone */
	assert_int_equal(tc_getattr(c, 4, NULL), 0);
	assert_int_equal(tc_mkdir(c, 2, "dir", 0755, 0), ENOENT);
	assert_int_equal(tc_lcreate(c, 3, "planted", O_RDWR, 0644, 0), ENOENT);
	assert_int_equal(tc_symlink(c, 4, "planted", "/"), ENOENT);
	/* a new "sub" on the host is another directory */
	host_mkdir(exp_, "sub");
	assert_int_equal(tc_getattr(c, 2, &a), 0);
	assert_int_equal(a.qid.path, q.path);
	assert_int_equal(tc_mkdir(c, 2, "dir", 0755, 0), ENOENT);
	assert_false(host_exists(exp_, "sub/dir"));
	for (uint32_t f = 2; f <= 4; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

static void hard_links(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char target[256], p[256];
	struct stat st, st2;
	struct p9_msg t = { .type = P9_TLINK }, r;

	hpath(target, out_, "secret");
	host_symlink(target, "abs");
	host_symlink("../outside/secret", "rel");
	/* linking a symlink links the symlink itself, never its target */
	assert_int_equal(tc_walk(c, 1, 2, "abs", NULL), 0);
	t.tlink.dfid = 1;
	t.tlink.fid = 2;
	t.tlink.name = P9_STR("hl");
	assert_int_equal(tc_err(c, &t, &r), 0);
	hpath(p, exp_, "hl");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	hpath(p, exp_, "abs");
	assert_int_equal(lstat(p, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(tc_walk(c, 1, 3, "rel", NULL), 0);
	t.tlink.fid = 3;
	t.tlink.name = P9_STR("hl2");
	assert_int_equal(tc_err(c, &t, &r), 0);
	hpath(p, exp_, "hl2");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* names that would put the link elsewhere */
	t.tlink.fid = 2;
	t.tlink.name = P9_STR("../escaped");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	t.tlink.name = P9_STR("..");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	t.tlink.name = P9_STR("sub/x");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	/* a link of a file planted-over since its walk */
	assert_int_equal(tc_walk(c, 1, 4, "plain", NULL), 0);
	hpath(p, exp_, "plain");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink(target, p), 0);
	t.tlink.fid = 4;
	t.tlink.name = P9_STR("hl3");
	assert_int_equal(tc_err(c, &t, &r), ENOENT);
	assert_false(host_exists(exp_, "hl3"));
	/* the root has no name to link */
	t.tlink.fid = 1;
	t.tlink.name = P9_STR("rootlink");
	assert_int_not_equal(tc_err(c, &t, &r), 0);
	for (uint32_t f = 2; f <= 4; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

static uint32_t tlink(struct tc *c, uint32_t dfid, uint32_t fid,
		      const char *name)
{
	struct p9_msg t = { .type = P9_TLINK }, r;

	t.tlink.dfid = dfid;
	t.tlink.fid = fid;
	t.tlink.name = p9_str(name);
	return tc_err(c, &t, &r);
}

static uint32_t trenameat(struct tc *c, const char *from, const char *to)
{
	struct p9_msg t = { .type = P9_TRENAMEAT }, r;

	t.trenameat.olddirfid = 1;
	t.trenameat.oldname = p9_str(from);
	t.trenameat.newdirfid = 1;
	t.trenameat.newname = p9_str(to);
	return tc_err(c, &t, &r);
}

static ino_t host_ino(const char *rel)
{
	char p[256];
	struct stat st;

	hpath(p, exp_, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_ino;
}

/* Tlink of a fid whose name was taken away through the server (replaced
 * by a rename, unlinked) after its walk, as a link racing a rename does:
 * the fid's own file is linked if it still has another name, ENOENT if
 * that was its last one (as a local link after its lookup); never the
 * file that has the name now, never ESTALE. */
static void link_after_removal(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char p[256], p2[256];

	host_write(exp_, "x", "x-file");
	host_write(exp_, "y", "y-file");
	host_write(exp_, "z", "z-file");
	host_write(exp_, "w", "w-file");
	hpath(p, exp_, "x");
	hpath(p2, exp_, "x2");
	assert_int_equal(link(p, p2), 0);       /* x has two names */
	ino_t xino = host_ino("x"), yino = host_ino("y");
	host_symlink("/", "s");
	hpath(p, exp_, "s");
	hpath(p2, exp_, "s2");
	assert_int_equal(linkat(AT_FDCWD, p, AT_FDCWD, p2, 0), 0);
	ino_t sino = host_ino("s");

	assert_int_equal(tc_walk(c, 1, 2, "x", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 3, "z", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 4, "s", NULL), 0);
	/* replaced by a rename; another name left: linked */
	assert_int_equal(trenameat(c, "y", "x"), 0);
	assert_int_equal(tlink(c, 1, 2, "xl"), 0);
	assert_int_equal(host_ino("xl"), xino);
	assert_int_equal(host_ino("x"), yino);
	/* replaced by a rename, its last name: ENOENT, nothing made */
	assert_int_equal(trenameat(c, "w", "z"), 0);
	assert_int_equal(tlink(c, 1, 3, "zl"), ENOENT);
	assert_false(host_exists(exp_, "zl"));
	/* a symlink unlinked, another name left: the link itself again */
	assert_int_equal(tc_unlinkat(c, 1, "s", 0), 0);
	assert_int_equal(tlink(c, 1, 4, "sl"), 0);
	assert_int_equal(host_ino("sl"), sino);
	struct stat st;
	hpath(p, exp_, "sl");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	outside_untouched();
	for (uint32_t f = 2; f <= 4; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

/* Treaddir of an opened directory removed since (through the server or
 * on the host): ENOENT, as getdents(2) answers, whatever the offset
 * (ext4 refuses a seek to a hash cookie in a removed directory). */
static void readdir_removed(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_msg t = { .type = P9_TREADDIR }, r;
	struct p9_dirent_iter it;
	struct p9_dirent d;
	uint64_t cookie = 0;
	int k, n = 0;

	host_mkdir(exp_, "gone");
	assert_int_equal(tc_walk(c, 1, 2, "gone", NULL), 0);
	assert_int_equal(tc_lopen(c, 2, O_RDONLY | O_DIRECTORY), 0);
	t.treaddir.fid = 2;
	t.treaddir.count = 4096;
	assert_int_equal(tc_err(c, &t, &r), 0);
	p9_dirent_iter_init(&it, r.rreaddir.data, r.rreaddir.count);
	while ((k = p9_dirent_next(&it, &d)) == 1) {
		if (n++ == 0)
			cookie = d.offset;      /* after the first entry */
	}
	assert_int_equal(k, 0);
	assert_int_equal(n, 2);                 /* "." and ".." */
	assert_int_equal(tc_unlinkat(c, 1, "gone", AT_REMOVEDIR), 0);
	t.treaddir.offset = cookie;
	assert_int_equal(tc_err(c, &t, &r), ENOENT);
	t.treaddir.offset = 0;
	assert_int_equal(tc_err(c, &t, &r), ENOENT);
	assert_int_equal(tc_clunk(c, 2), 0);
}

/* Paths longer than PATH_MAX below the export (30 directories of 200-byte
 * names): made, walked and used through the server, each name beneath the
 * previous one; moved out of the export on the host, the deep fids reach
 * nothing (ENOENT), and nothing is made outside. */
static void deep_paths(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char name[201], buf[16];
	uint32_t fid = 1, nf = 100;
	struct p9_rgetattr a;
	int dfd;

	assert_int_equal(tc_mkdir(c, 1, "top", 0755, 0), 0);
	assert_int_equal(tc_walk(c, 1, nf, "top", NULL), 0);
	fid = nf++;
	for (int i = 0; i < 30; i++) {
		memset(name, 'a' + i % 26, 200);
		name[200] = '\0';
		assert_int_equal(tc_mkdir(c, fid, name, 0755, 0), 0);
		assert_int_equal(tc_walk(c, fid, nf, name, NULL), 0);
		if (fid != 1)
			assert_int_equal(tc_clunk(c, fid), 0);
		fid = nf++;
	}
	/* a file 6 KiB below the root */
	assert_int_equal(tc_walk(c, fid, nf, "", NULL), 0);
	assert_int_equal(tc_lcreate(c, nf, "f", O_RDWR, 0644, 0), 0);
	assert_int_equal(tc_pwrite(c, nf, 0, "deep", 4), 4);
	assert_int_equal(tc_clunk(c, nf), 0);
	assert_int_equal(tc_walk(c, fid, nf, "f", NULL), 0);
	assert_int_equal(tc_getattr(c, nf, &a), 0);
	assert_int_equal(a.size, 4);
	assert_int_equal(tc_lopen(c, nf, O_RDONLY), 0);
	assert_int_equal(tc_pread(c, nf, 0, buf, sizeof(buf)), 4);
	assert_int_equal(tc_clunk(c, nf), 0);
	assert_int_equal(tc_walk(c, fid, nf, "..", NULL), 0);
	assert_int_equal(tc_getattr(c, nf, &a), 0);
	assert_int_equal(tc_clunk(c, nf), 0);
	/* the tree moved out of the export on the host */
	char from[256], to[256];
	hpath(from, exp_, "top");
	hpath(to, out_, "top");
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(tc_getattr(c, fid, NULL), ENOENT);
	assert_int_equal(tc_walk(c, fid, nf, "f", NULL), ENOENT);
	assert_int_equal(tc_lcreate(c, fid, "planted", O_RDWR, 0644, 0),
			 ENOENT);
	assert_int_equal(tc_mkdir(c, fid, "made", 0755, 0), ENOENT);
	/* nothing was made in the moved tree */
	dfd = open(to, O_PATH | O_DIRECTORY);
	assert_true(dfd >= 0);
	for (int i = 0; i < 30; i++) {
		memset(name, 'a' + i % 26, 200);
		int nfd = openat(dfd, name, O_PATH | O_DIRECTORY);
		assert_true(nfd >= 0);
		close(dfd);
		dfd = nfd;
	}
	assert_int_equal(faccessat(dfd, "planted", F_OK, AT_SYMLINK_NOFOLLOW),
			 -1);
	assert_int_equal(faccessat(dfd, "made", F_OK, AT_SYMLINK_NOFOLLOW),
			 -1);
	assert_int_equal(faccessat(dfd, "f", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	close(dfd);
	assert_int_equal(tc_clunk(c, fid), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", to);
	assert_int_equal(system(cmd), 0);
}

static void bad_names(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	const char *bad[] = { "..", ".", "", "../x", "a/b", "/etc" };
	struct p9_msg t, r;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tc_mkdir(c, 1, bad[i], 0755, 0), EINVAL);
		assert_int_equal(tc_symlink(c, 1, bad[i], "x"), EINVAL);
		assert_int_equal(tc_unlinkat(c, 1, bad[i], 0), EINVAL);
		assert_int_equal(tc_walk(c, 1, 2, "", NULL), 0);
		assert_int_equal(tc_lcreate(c, 2, bad[i], O_RDWR, 0644, 0), EINVAL);
		assert_int_equal(tc_clunk(c, 2), 0);
		t = (struct p9_msg){ .type = P9_TMKNOD };
		t.tmknod.dfid = 1;
		t.tmknod.name = p9_str(bad[i]);
		t.tmknod.mode = S_IFIFO | 0644;
		assert_int_equal(tc_err(c, &t, &r), EINVAL);
		t = (struct p9_msg){ .type = P9_TRENAMEAT };
		t.trenameat.olddirfid = 1;
		t.trenameat.oldname = P9_STR("plain");
		t.trenameat.newdirfid = 1;
		t.trenameat.newname = p9_str(bad[i]);
		assert_int_equal(tc_err(c, &t, &r), EINVAL);
		t.trenameat.oldname = p9_str(bad[i]);
		t.trenameat.newname = P9_STR("x");
		assert_int_equal(tc_err(c, &t, &r), EINVAL);
	}
	/* Trename into "../x" */
	assert_int_equal(tc_walk(c, 1, 3, "plain", NULL), 0);
	t = (struct p9_msg){ .type = P9_TRENAME };
	t.trename.fid = 3;
	t.trename.dfid = 1;
	t.trename.name = P9_STR("../x");
	assert_int_equal(tc_err(c, &t, &r), EINVAL);
	/* the root cannot be renamed or removed */
	t.trename.fid = 1;
	t.trename.name = P9_STR("newroot");
	assert_int_not_equal(tc_err(c, &t, &r), 0);
	assert_int_equal(tc_walk(c, 1, 4, "", NULL), 0);
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 4;
	assert_int_not_equal(tc_err(c, &t, &r), 0);
	assert_int_equal(tc_clunk(c, 3), 0);
	assert_true(host_exists(exp_, "plain"));
	assert_false(host_exists(base, "x"));
}

/* Device nodes may be made (as root) but never opened: nodev. */
static void devices_not_opened(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_msg t = { .type = P9_TMKNOD }, r;

	if (geteuid() != 0)
		skip();
	t.tmknod.dfid = 1;
	t.tmknod.name = P9_STR("null");
	t.tmknod.mode = S_IFCHR | 0666;
	t.tmknod.major = 1;
	t.tmknod.minor = 3;
	assert_int_equal(tc_err(c, &t, &r), 0);
	assert_int_equal(tc_walk(c, 1, 2, "null", NULL), 0);
	assert_int_equal(tc_lopen(c, 2, O_RDWR), EACCES);
	assert_int_equal(tc_walk(c, 1, 3, "", NULL), 0);
	assert_int_equal(tc_lcreate(c, 3, "null", O_RDWR, 0644, 0), EACCES);
	assert_int_equal(tc_clunk(c, 2), 0);
	assert_int_equal(tc_clunk(c, 3), 0);
}

/* An export of /proc/self: its magic links are walls too. */
static void proc_magic_links(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_qid q;
	const char *links[] = { "root", "cwd", "exe", "fd/0", "fd/1", "fd/2" };

	(void)state;
	assert_int_equal(hostfs_open("/proc/self", &hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, hs, NULL, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	for (unsigned i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char path[64];
		int64_t w = tc_walk(&c, 1, 2, links[i], &q);
		assert_int_equal(w, 0);
		assert_int_equal(q.type, P9_QTSYMLINK);
		assert_int_equal(tc_lopen(&c, 2, O_RDONLY), ELOOP);
		assert_int_equal(tc_clunk(&c, 2), 0);
		snprintf(path, sizeof(path), "%s/etc", links[i]);
		assert_true(tc_walk(&c, 1, 3, path, NULL) < 0);  /* partial */
	}
	/* the fd directory's entries are magic links to anything */
	assert_int_equal(tc_walk(&c, 1, 4, "fd", NULL), 0);
	assert_int_equal(tc_walk(&c, 4, 5, "0/..", NULL), -2);
	tc_stop(&c);
	p9srv_free(s);
	hostfs_close(hs);
}

/* As root, each request runs as the attached user. */
static void identity(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char p[256];
	struct stat st;
	const uint32_t U = 12345, G = 23456;

	if (geteuid() != 0)
		skip();
	host_mkdir(exp_, "pub");
	hpath(p, exp_, "pub");
	assert_int_equal(chmod(p, 0777), 0);
	host_write(exp_, "private", "root only");
	hpath(p, exp_, "private");
	assert_int_equal(chmod(p, 0600), 0);

	assert_int_equal(tc_attach(c, 100, U, NULL), 0);
	/* the export root is root's 0755: no creating there */
	assert_int_equal(tc_walk(c, 100, 101, "", NULL), 0);
	assert_int_equal(tc_lcreate(c, 101, "nope", O_RDWR, 0644, G), EACCES);
	assert_int_equal(tc_mkdir(c, 100, "nope", 0755, G), EACCES);
	assert_int_equal(tc_unlinkat(c, 100, "plain", 0), EACCES);
	/* root's 0600 file: not readable */
	assert_int_equal(tc_walk(c, 100, 102, "private", NULL), 0);
	assert_int_equal(tc_lopen(c, 102, O_RDONLY), EACCES);
	struct p9_msg t = { .type = P9_TSETATTR }, r;
	t.tsetattr.fid = 102;
	t.tsetattr.valid = P9_SETATTR_MODE;
	t.tsetattr.mode = 0666;
	assert_int_equal(tc_err(c, &t, &r), EPERM);
	t.tsetattr.valid = P9_SETATTR_SIZE;
	t.tsetattr.size = 0;
	assert_int_equal(tc_err(c, &t, &r), EACCES);
	/* in a world-writable directory: created as U, group as asked */
	assert_int_equal(tc_walk(c, 100, 103, "pub", NULL), 0);
	assert_int_equal(tc_lcreate(c, 103, "mine", O_RDWR, 0600, G), 0);
	assert_int_equal(tc_pwrite(c, 103, 0, "u", 1), 1);
	hpath(p, exp_, "pub/mine");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, U);
	assert_int_equal(st.st_gid, G);
	assert_int_equal(tc_walk(c, 100, 104, "pub", NULL), 0);
	assert_int_equal(tc_mkdir(c, 104, "d", 0755, G), 0);
	hpath(p, exp_, "pub/d");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, U);
	/* and the worker went back to root: root's attach still works */
	assert_int_equal(tc_walk(c, 1, 105, "private", NULL), 0);
	assert_int_equal(tc_lopen(c, 105, O_RDONLY), 0);
	assert_int_equal(getuid(), 0);
	assert_int_equal(setfsuid((uid_t)-1), 0);
	for (uint32_t f = 101; f <= 105; f++)
		assert_int_equal(tc_clunk(c, f), 0);
	assert_int_equal(tc_clunk(c, 100), 0);
}

/* Whether the host file dir/rel has attribute name (not following). */
static bool host_has_xattr(const char *dir, const char *rel, const char *name)
{
	char p[256], buf[64];
	hpath(p, dir, rel);
	return lgetxattr(p, name, buf, sizeof(buf)) >= 0;
}

static bool list_has(const char *list, int64_t n, const char *name)
{
	for (int64_t i = 0; i < n; i += (int64_t)strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return true;
	return false;
}

/* xattrs never reach outside the export: a symlink fid is the link
 * itself, '..' stops at the root, a planted link is refused. */
static void xattrs_confined(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char p[256], target[256], list[1024], buf[64];
	bool root = geteuid() == 0;

	hpath(p, out_, "secret");
	assert_int_equal(setxattr(p, "user.s", "S", 1, 0), 0);
	if (root)
		assert_int_equal(setxattr(p, "trusted.s", "T", 1, 0), 0);
	assert_int_equal(setxattr(out_, "user.s", "S", 1, 0), 0);
	hpath(target, out_, "secret");
	host_symlink(target, "abssecret");
	host_symlink("../outside/secret", "relsecret");
	host_symlink("../outside", "relout");
	host_symlink("..", "parent");
	const char *names[] = { "abssecret", "relsecret", "relout", "parent" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(tc_walk(c, 1, 10, names[i], NULL), 0);
		assert_int_equal(tc_xattr_get(c, 10, 11, "user.s", buf,
					      sizeof(buf)), -ENODATA);
		assert_int_equal(tc_xattr_get(c, 10, 11, "trusted.s", buf,
					      sizeof(buf)), -ENODATA);
		int64_t n = tc_xattr_get(c, 10, 11, "", list, sizeof(list));
		assert_true(n >= 0);
		assert_false(list_has(list, n, "user.s"));
		assert_false(list_has(list, n, "trusted.s"));
		/* user. is not for symlinks (the host says so) */
		assert_int_equal(tc_xattr_set(c, 10, 11, "user.p", "P", 1, 0),
				 EPERM);
		if (root) {
			/* trusted. lands on the link, not its target */
			assert_int_equal(tc_xattr_set(c, 10, 11, "trusted.p",
						      "P", 1, 0), 0);
			assert_true(host_has_xattr(exp_, names[i],
						   "trusted.p"));
			assert_int_equal(tc_xattr_get(c, 10, 11, "trusted.p",
						      buf, sizeof(buf)), 1);
			assert_int_equal(tc_xattr_set(c, 10, 11, "trusted.p",
						      NULL, 0, 0), 0);
		}
		assert_int_equal(tc_clunk(c, 10), 0);
	}
	assert_false(host_has_xattr(out_, "secret", "trusted.p"));
	assert_false(host_has_xattr(out_, "secret", "user.p"));
	assert_false(host_has_xattr(out_, "", "trusted.p"));

	/* '..' above the root is the root: its attributes, not BASE's */
	assert_int_equal(tc_walk(c, 1, 12, "sub/../..", NULL), 0);
	assert_int_equal(tc_xattr_set(c, 12, 13, "user.r", "R", 1, 0), 0);
	assert_true(host_has_xattr(exp_, "", "user.r"));
	assert_false(host_has_xattr(base, "", "user.r"));
	assert_int_equal(tc_xattr_get(c, 12, 13, "user.s", buf, sizeof(buf)),
			 -ENODATA);

	/* a symlink planted where a walked directory was */
	assert_int_equal(tc_walk(c, 1, 14, "sub/inner", NULL), 0);
	assert_int_equal(tc_xattr_set(c, 14, 15, "user.i", "I", 1, 0), 0);
	hpath(p, exp_, "sub");
	hpath(target, exp_, "sub.old");
	assert_int_equal(rename(p, target), 0);
	host_symlink(out_, "sub");
	host_write(out_, "inner", "INNER-OUTSIDE");
	hpath(p, out_, "inner");
	assert_int_equal(setxattr(p, "user.i", "OUT", 3, 0), 0);
	assert_int_equal(tc_xattr_get(c, 14, 15, "user.i", buf, sizeof(buf)),
			 -ELOOP);
	assert_int_equal(tc_xattr_get(c, 14, 15, "", buf, sizeof(buf)),
			 -ELOOP);
	assert_int_equal(tc_xattr_set(c, 14, 15, "user.j", "J", 1, 0), ELOOP);
	assert_int_equal(tc_xattr_set(c, 14, 15, "user.i", NULL, 0, 0), ELOOP);
	assert_false(host_has_xattr(out_, "inner", "user.j"));
	assert_int_equal(lgetxattr(p, "user.i", buf, sizeof(buf)), 3);
	assert_int_equal(unlink(p), 0);
	hpath(p, exp_, "sub");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rename(target, p), 0);

	/* namespaces other than user., trusted., security. */
	assert_int_equal(tc_walk(c, 1, 16, "plain", NULL), 0);
	assert_int_equal(tc_xattr_get(c, 16, 17, "system.posix_acl_access",
				      buf, sizeof(buf)), -EOPNOTSUPP);
	assert_int_equal(tc_xattr_set(c, 16, 17, "system.posix_acl_access",
				      "x", 1, 0), EOPNOTSUPP);
	assert_int_equal(tc_xattr_set(c, 16, 17, "os2.x", "x", 1, 0),
			 EOPNOTSUPP);
	for (uint32_t f = 12; f <= 16; f += 2)
		assert_int_equal(tc_clunk(c, f), 0);

	/* the outside still holds just what it had */
	hpath(p, out_, "secret");
	assert_int_equal(getxattr(p, "user.s", buf, sizeof(buf)), 1);
	assert_int_equal(listxattr(p, list, sizeof(list)),
			 root ? 17 : 7);        /* user.s, trusted.s */
}

/* As root, a user other than root gets what the host would give it:
 * the server's CAP_SYS_ADMIN does not lend it trusted. or security. */
/* The identity costs nothing when it is in place: reads on an opened fid
 * switch nothing, a run of one user's requests switches each server
 * thread once at most, and alternating users still get their own
 * permissions. */
static void identity_switches(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	const uint32_t U = 12345;
	unsigned long s0;
	char p[256], buf[16];

	if (geteuid() != 0)
		skip();
	host_write(exp_, "private", "root only");
	hpath(p, exp_, "private");
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(tc_attach(c, 100, U, NULL), 0);
	assert_int_equal(tc_walk(c, 100, 101, "plain", NULL), 0);
	assert_int_equal(tc_lopen(c, 101, O_RDONLY), 0);
	s0 = hostfs_id_switches(e->hs);
	for (int i = 0; i < 200; i++)
		assert_int_equal(tc_pread(c, 101, 0, buf, sizeof(buf)), 5);
	assert_int_equal(hostfs_id_switches(e->hs), s0);
	s0 = hostfs_id_switches(e->hs);
	for (int i = 0; i < 200; i++)
		assert_int_equal(tc_getattr(c, 101, NULL), 0);
	assert_true(hostfs_id_switches(e->hs) - s0 <= 8);
	/* root and U in turn: each gets its own permissions */
	assert_int_equal(tc_walk(c, 100, 102, "private", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 103, "private", NULL), 0);
	s0 = hostfs_id_switches(e->hs);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(tc_lopen(c, 102, O_RDONLY), EACCES);
		assert_int_equal(tc_walk(c, 103, 104, "", NULL), 0);
		assert_int_equal(tc_lopen(c, 104, O_RDONLY), 0);
		assert_int_equal(tc_clunk(c, 104), 0);
	}
	assert_true(hostfs_id_switches(e->hs) - s0 >= 20);
	for (uint32_t f = 100; f <= 103; f++)
		assert_int_equal(tc_clunk(c, f), 0);
}

static void xattrs_identity(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char p[256], buf[64], list[1024];
	const uint32_t U = 12345;

	if (geteuid() != 0)
		skip();
	hpath(p, exp_, "plain");                /* root's 0644 */
	assert_int_equal(setxattr(p, "user.a", "A", 1, 0), 0);
	assert_int_equal(setxattr(p, "trusted.t", "T", 1, 0), 0);
	host_write(exp_, "mine", "m");
	hpath(p, exp_, "mine");
	assert_int_equal(chown(p, U, U), 0);

	assert_int_equal(tc_attach(c, 100, U, NULL), 0);
	assert_int_equal(tc_walk(c, 100, 101, "plain", NULL), 0);
	assert_int_equal(tc_xattr_get(c, 101, 102, "user.a", buf,
				      sizeof(buf)), 1);
	assert_int_equal(tc_xattr_get(c, 101, 102, "trusted.t", buf,
				      sizeof(buf)), -ENODATA);
	int64_t n = tc_xattr_get(c, 101, 102, "", list, sizeof(list));
	assert_true(list_has(list, n, "user.a"));
	assert_false(list_has(list, n, "trusted.t"));
	/* not its file: no writing user. (fsuid U, mode 0644) */
	assert_int_equal(tc_xattr_set(c, 101, 102, "user.b", "B", 1, 0),
			 EACCES);
	assert_int_equal(tc_xattr_set(c, 101, 102, "trusted.t", NULL, 0, 0),
			 EPERM);
	/* its own file: user. yes, trusted. and security. no */
	assert_int_equal(tc_walk(c, 100, 103, "mine", NULL), 0);
	assert_int_equal(tc_xattr_set(c, 103, 104, "user.b", "B", 1, 0), 0);
	assert_int_equal(tc_xattr_set(c, 103, 104, "trusted.t", "T", 1, 0),
			 EPERM);
	assert_int_equal(tc_xattr_set(c, 103, 104, "security.x", "X", 1, 0),
			 EPERM);
	assert_false(host_has_xattr(exp_, "mine", "trusted.t"));
	assert_false(host_has_xattr(exp_, "mine", "security.x"));
	hpath(p, exp_, "plain");
	assert_int_equal(getxattr(p, "trusted.t", buf, sizeof(buf)), 1);
	assert_int_equal(tc_clunk(c, 101), 0);
	assert_int_equal(tc_clunk(c, 103), 0);
	assert_int_equal(tc_clunk(c, 100), 0);
}

/* Entries of a host directory, "." and ".." left out. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/*
 * Random operations on random fids with names from a small set that
 * holds every trap ("..", ".", "a/b", symlinks in and out, a device): any
 * answer is fine, but the server must not crash, and teardown checks that
 * nothing outside the export changed.
 */
static void random_operations(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char abs_out[256];
	const char *names[] = { "a", "b", "sub", "plain", "..", ".", "a/b",
				"", "c", "inner", "l1", "l2", "dev", "secret",
				"outside" };
	const char *targets[8] = { "/", "..", "../outside", "../../..",
				   "a", "/proc/self/root", "sub/inner", NULL };
	enum { NN = sizeof(names) / sizeof(names[0]) };
	struct p9_msg t, r;
	uint8_t data[512];
	unsigned ok[256] = { 0 }, all[256] = { 0 };
	int rounds = getenv("UVFS_RANDOM_OPS") ? atoi(getenv("UVFS_RANDOM_OPS"))
					       : 20000;

	hpath(abs_out, out_, "secret");
	targets[7] = abs_out;
	memset(data, 'r', sizeof(data));
	srand(1234);
#define RN(n) ((uint32_t)rand() % (n))
#define FID() (1 + RN(12))
#define NAME() p9_str(names[RN(3) ? RN(4) : RN(NN)])
	for (int i = 0; i < rounds; i++) {
		t = (struct p9_msg){ .tag = 1 };
		switch (RN(22)) {
		case 0: case 1: case 2:
			t.type = P9_TWALK;
			t.twalk.fid = RN(2) ? 1 : FID();
			t.twalk.newfid = FID() + 1;
			if (RN(4)) {            /* make room for it */
				struct p9_msg cl = { .type = P9_TCLUNK,
						     .tag = 2 };
				cl.tclunk.fid = t.twalk.newfid;
				tc_rpc(c, &cl, &r);
			}
			t.twalk.nwname = (uint16_t)RN(4);
			for (int k = 0; k < t.twalk.nwname; k++)
				t.twalk.wname[k] = NAME();
			break;
		case 3:
			t.type = P9_TLOPEN;
			t.tlopen.fid = FID() + 1;     /* keep fid 1 the root */
			t.tlopen.flags = RN(3) | (RN(2) ? O_TRUNC : 0) |
					 (RN(2) ? O_DIRECTORY : 0) |
					 (RN(2) ? O_APPEND : 0);
			break;
		case 4:
			t.type = P9_TLCREATE;
			t.tlcreate.fid = FID() + 1;     /* keep fid 1 the root */
			t.tlcreate.name = NAME();
			t.tlcreate.flags = RN(3) | (RN(2) ? O_EXCL : 0) |
					   (RN(2) ? O_TRUNC : 0);
			t.tlcreate.mode = RN(01000);
			break;
		case 5:
			t.type = P9_TREAD;
			t.tread.fid = FID();
			t.tread.offset = RN(4096);
			t.tread.count = RN(8192);
			break;
		case 6:
			t.type = P9_TWRITE;
			t.twrite.fid = FID();
			t.twrite.offset = RN(65536);
			t.twrite.count = RN(sizeof(data));
			t.twrite.data = data;
			break;
		case 7:
			t.type = P9_TREADDIR;
			t.treaddir.fid = FID();
			t.treaddir.offset = RN(3) ? 0 : RN(1u << 31);
			t.treaddir.count = RN(4096);
			break;
		case 8:
			t.type = P9_TMKDIR;
			t.tmkdir.dfid = FID();
			t.tmkdir.name = NAME();
			t.tmkdir.mode = RN(01000);
			break;
		case 9:
			t.type = P9_TSYMLINK;
			t.tsymlink.fid = FID();
			t.tsymlink.name = NAME();
			t.tsymlink.symtgt = p9_str(targets[RN(8)]);
			break;
		case 10:
			t.type = P9_TMKNOD;
			t.tmknod.dfid = FID();
			t.tmknod.name = NAME();
			t.tmknod.mode = (RN(2) ? S_IFREG : S_IFCHR) | 0666;
			t.tmknod.major = 1;
			t.tmknod.minor = 3;
			break;
		case 11:
			t.type = P9_TLINK;
			t.tlink.dfid = FID();
			t.tlink.fid = FID();
			t.tlink.name = NAME();
			break;
		case 12:
			t.type = P9_TRENAMEAT;
			t.trenameat.olddirfid = FID();
			t.trenameat.oldname = NAME();
			t.trenameat.newdirfid = FID();
			t.trenameat.newname = NAME();
			break;
		case 13:
			t.type = P9_TRENAME;
			t.trename.fid = FID();
			t.trename.dfid = FID();
			t.trename.name = NAME();
			break;
		case 14:
			t.type = P9_TUNLINKAT;
			t.tunlinkat.dirfid = FID();
			t.tunlinkat.name = NAME();
			t.tunlinkat.flags = RN(2) ? AT_REMOVEDIR : 0;
			break;
		case 15:
			t.type = P9_TREMOVE;
			t.tremove.fid = FID() + 1;      /* never the root fid 1 */
			break;
		case 16:
			t.type = P9_TREADLINK;
			t.treadlink.fid = FID();
			break;
		case 17:
			t.type = P9_TGETATTR;
			t.tgetattr.fid = FID();
			t.tgetattr.request_mask = P9_GETATTR_ALL;
			break;
		case 18:
			t.type = P9_TSETATTR;
			t.tsetattr.fid = FID() + 1;
			t.tsetattr.valid = RN(0x200) & ~(P9_SETATTR_UID |
							 P9_SETATTR_GID);
			t.tsetattr.mode = 0600 | RN(0200);
			t.tsetattr.size = RN(100000);
			break;
		case 19:
			t.type = P9_TSTATFS;
			t.tstatfs.fid = FID();
			break;
		case 20:
			t.type = P9_TFSYNC;
			t.tfsync.fid = FID();
			break;
		default:
			t.type = P9_TCLUNK;
			t.tclunk.fid = FID() + 1;
			break;
		}
		tc_rpc(c, &t, &r);
		assert_true(r.type == P9_RLERROR || r.type == t.type + 1);
		ok[t.type] += r.type != P9_RLERROR;
		all[t.type]++;
	}
	if (getenv("UVFS_RANDOM_OPS_STATS"))
		for (int k = 0; k < 256; k++)
			if (all[k])
				print_message("%-12s %5u/%5u\n", p9_type_name((uint8_t)k),
					      ok[k], all[k]);
#undef RN
#undef FID
#undef NAME
	/* the server is alive and the root fid still works */
	assert_int_equal(tc_getattr(c, 1, NULL), 0);
	/* nothing appeared beside the export or in the outside */
	assert_int_equal(count_entries(base), 2);
	assert_int_equal(count_entries(out_), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(walk_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(symlinks_out, setup, teardown),
		cmocka_unit_test_setup_teardown(absolute_targets_created, setup, teardown),
		cmocka_unit_test_setup_teardown(planted_after_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(renamed_out_of_export, setup, teardown),
		cmocka_unit_test_setup_teardown(renamed_through_server, setup, teardown),
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

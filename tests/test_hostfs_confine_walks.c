/*
 * test_hostfs_confine_walks.c - hostfs's walls on the walk: '..' at
 * the export's root, symlinks out (relative, absolute, "/"), targets
 * created outside, a symlink planted after the walk, a directory renamed
 * out of the export under its fids, renames and removals made through the
 * server.
 * Included by test_hostfs_confine.c (it uses that file's export, fixture
 * and host helpers); not a program of its own.
 */

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

/* The fids below a renamed directory follow it at every depth, also
 * where nothing is walked between (the fid index's nodes that hold no
 * fid), and a rename that moves nothing known moves nothing. */
static void renamed_deep_through_server(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	struct p9_msg t = { .type = P9_TRENAMEAT }, r;
	struct p9_rgetattr a;

	host_mkdir(exp_, "d");
	host_mkdir(exp_, "d/e");
	host_mkdir(exp_, "d/e/f");
	host_mkdir(exp_, "d/e/f/g");
	host_write(exp_, "d/e/f/g/x", "deep");
	host_write(exp_, "d/e/y", "y");
	host_write(exp_, "d/ey", "ey");         /* a prefix, not below */
	host_write(exp_, "lone", "lone");
	assert_int_equal(tc_walk(c, 1, 2, "d/e/f/g/x", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 3, "d/e/y", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 4, "d/e/f", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 5, "d", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 6, "d/ey", NULL), 0);
	t.trenameat.olddirfid = 5;
	t.trenameat.oldname = P9_STR("e");
	t.trenameat.newdirfid = 1;
	t.trenameat.newname = P9_STR("top");
	assert_int_equal(tc_err(c, &t, &r), 0);
	assert_true(host_exists(exp_, "top/f/g/x"));
	assert_int_equal(tc_getattr(c, 2, &a), 0);
	assert_int_equal(a.size, 4);
	assert_int_equal(tc_getattr(c, 3, &a), 0);
	assert_int_equal(a.size, 1);
	assert_int_equal(tc_getattr(c, 6, &a), 0);
	assert_int_equal(a.size, 2);
	assert_int_equal(tc_walk(c, 4, 7, "g/x", NULL), 0);
	/* the middle of it back into d, by Trename of its own fid */
	t = (struct p9_msg){ .type = P9_TRENAME };
	t.trename.fid = 4;
	t.trename.dfid = 5;
	t.trename.name = P9_STR("f2");
	assert_int_equal(tc_err(c, &t, &r), 0);
	assert_true(host_exists(exp_, "d/f2/g/x"));
	for (uint32_t f = 2; f <= 7; f++)
		assert_int_equal(tc_getattr(c, f, &a), 0);
	assert_int_equal(tc_walk(c, 4, 8, "g", NULL), 0);
	/* a file nothing knows, renamed: nothing else moves */
	t = (struct p9_msg){ .type = P9_TRENAMEAT };
	t.trenameat.olddirfid = 1;
	t.trenameat.oldname = P9_STR("lone");
	t.trenameat.newdirfid = 8;
	t.trenameat.newname = P9_STR("lone");
	assert_int_equal(tc_err(c, &t, &r), 0);
	for (uint32_t f = 2; f <= 8; f++)
		assert_int_equal(tc_getattr(c, f, NULL), 0);
	assert_int_equal(tc_walk(c, 8, 9, "lone", NULL), 0);
	assert_int_equal(tc_walk(c, 1, 10, "d/f2/g/lone", NULL), 0);
	for (uint32_t f = 2; f <= 10; f++)
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

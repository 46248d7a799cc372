/*
 * test_hostfs_confine_names.c - what names and links can reach: hard
 * links, a link of a fid whose name went away, a listing of a removed
 * directory, paths longer than PATH_MAX, names holding "/" or "..",
 * device nodes (made, never opened), /proc's magic links.
 * Included by test_hostfs_confine.c (it uses that file's export, fixture
 * and host helpers); not a program of its own.
 */

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

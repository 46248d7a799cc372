/*
 * test_hostfs_confine_identity.c - whom a request runs as, and the
 * extended attributes: as root each request runs with the attached user's
 * fsuid/fsgid, switched once per run of one user's requests; xattrs never
 * reach outside the export (a symlink fid is the link itself, '..' stops
 * at the root, a planted link is refused), and a user other than root
 * gets no trusted. or security. through the server.
 * Included by test_hostfs_confine.c (it uses that file's export, fixture
 * and host helpers); not a program of its own.
 */

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

/*
 * test_umount_busy.c - the normal unmount: an idle mount goes, and a
 * mount held by a descriptor, a working directory, a chrooted context's
 * root, a node of the node API (uvfs_node_lookup) or a child mount
 * answers EBUSY and names its holders.
 * Included by test_umount.c (it uses that file's fixture, counters and
 * helpers); not a program of its own.
 */

/* ---- normal unmount ---------------------------------------------------- */

static void test_umount_idle(void **state)
{
	uint64_t live;
	struct stat st;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/under", &st), ENOENT);
	put(R, "/mnt/x/f", "on top");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	ASSERT_CONTENT(R, "/mnt/x/f", "on top");
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ERR(uvfs_stat(R, "/mnt/x/d", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* "when it returns 0 the file system has been shut down" */
	{
		struct uvfs_stats s;

		uvfs_stats(U, &s);
		assert_int_equal(s.mounts, 1);
		assert_int_equal(s.superblocks, 1);
	}
	/* a second time: not mounted any more */
	ERR(uvfs_umount(R, "/mnt/x", 0), EINVAL);
	/* mount again: a fresh, empty file system */
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* stacked: the newer one is on top, each unmount peels one */
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/lower", "1");
	OK(uvfs_mount(R, "memfs", "none", "/mnt/x", ""));
	ERR(uvfs_stat(R, "/mnt/x/lower", &st), ENOENT);
	put(R, "/mnt/x/upper", "2");
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/lower", "1");
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	assert_only_root(live);
}

static void test_busy_fd(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;
	int fd, dfd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/d/thefile", "x");
	c = new_ctx("holder-label");
	fd = (int)OK(uvfs_open(c, "/mnt/x/d/thefile", O_RDONLY, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	assert_true(mounted("/mnt/x", NULL));
	n = holders("/mnt/x", &h);
	assert_true(n >= 1);
	e = find_holder(h, n, UVFS_HOLDER_FILE, "thefile");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_not_equal(e->ctx_id, 0);
	assert_int_equal(e->fd, fd);
	assert_string_equal(e->ctx_label, "holder-label");
	assert_string_equal(e->path, "/mnt/x/d/thefile");
	assert_string_equal(uvfs_holder_kind_name(UVFS_HOLDER_FILE),
			    uvfs_holder_kind_name(e->kind));
	free(h);
	/* a dup is another holder of the same open file: still busy */
	dfd = (int)OK(uvfs_dup(c, fd));
	OK(uvfs_close(c, fd));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_close(c, dfd));
	/* a directory descriptor */
	fd = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_close(c, fd));
	/* the root directory of the mount */
	fd = (int)OK(uvfs_open(c, "/mnt/x", O_PATH, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].kind, UVFS_HOLDER_FILE);
	free(h);
	OK(uvfs_close(c, fd));
	/* released: no holders left */
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 0);
	free(h);
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	free_ctx(c);
	assert_only_root(live);
}

static void test_busy_cwd(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/cwddir", 0755));
	c = new_ctx("cwd-holder");
	OK(uvfs_chdir(c, "/mnt/x/cwddir"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_CWD, "cwddir");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->ctx_label, "cwd-holder");
	assert_string_equal(e->path, "/mnt/x/cwddir");
	free(h);
	/* the mount root as cwd */
	OK(uvfs_chdir(c, ".."));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_chdir(c, ".."));
	OK(uvfs_umount(R, "/mnt/x", 0));
	free_ctx(c);
	assert_only_root(live);
}

static void test_busy_root(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/jail", 0755));
	c = new_ctx("jailed");
	OK(uvfs_chroot(c, "/mnt/x/jail"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_ROOT, "jail");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->ctx_label, "jailed");
	assert_string_equal(e->path, "/mnt/x/jail");
	/* its cwd stayed at "/" of the instance: not a holder here */
	assert_null(find_holder(h, n, UVFS_HOLDER_CWD, ""));
	free(h);
	/* chroot cannot be undone: freeing the context releases it */
	free_ctx(c);
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

static void test_busy_node(void **state)
{
	struct uvfs_node *root, *mnt, *x, *f, *f2;
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct stat st;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/nodefile", "n");
	OK(uvfs_node_root(R, &root));
	OK(uvfs_node_lookup(R, root, "mnt", &mnt, &st));
	OK(uvfs_node_lookup(R, mnt, "x", &x, &st));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_node_lookup(R, x, "nodefile", &f, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 1);
	/* the same pair is the same node */
	OK(uvfs_node_lookup(R, x, "nodefile", &f2, &st));
	assert_ptr_equal(f, f2);
	uvfs_node_release(root, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(x, 1);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_NODE, "nodefile");
	assert_non_null(e);
	assert_int_equal(e->fd, -1);
	assert_true(e->ctx_id == 0 || e->ctx_id == uvfs_ctx_id(R));
	free(h);
	/* two holds: one release is not enough */
	uvfs_node_release(f, 1);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	uvfs_node_release(f, 1);
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* the node count */
	{
		struct uvfs_stats s;

		uvfs_stats(U, &s);
		assert_int_equal(s.nodes, 0);
	}
	assert_only_root(live);
}

static void test_busy_child(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
	mount_x("/mnt/x/sub", NULL);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 1);
	e = find_holder(h, n, UVFS_HOLDER_CHILD, "/mnt/x/sub");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, 0);
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->path, "/mnt/x/sub");
	free(h);
	/* the child itself is idle */
	n = holders("/mnt/x/sub", &h);
	assert_int_equal(n, 0);
	free(h);
	OK(uvfs_umount(R, "/mnt/x/sub", 0));
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

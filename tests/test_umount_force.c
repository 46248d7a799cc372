/*
 * test_umount_force.c - forced and lazy unmount and revoke: descriptors
 * left dead (EIO, close works), every kind of holder let go, a detached
 * mount finished at its last release, one file's handles revoked.
 * Included by test_umount.c (it uses that file's fixture, counters and
 * helpers); not a program of its own.
 */

/* ---- forced and lazy --------------------------------------------------- */

static void test_force_fd(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];
	uint64_t live;
	int fd, dfd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "data");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	c = new_ctx("victim");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDWR, 0));
	dfd = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_chdir(c, "/mnt/x/d"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* the dead contract */
	ERR(uvfs_read(c, fd, buf, sizeof(buf)), EIO);
	ERR(uvfs_write(c, fd, "x", 1), EIO);
	ERR(uvfs_pread(c, fd, buf, sizeof(buf), 0), EIO);
	ERR(uvfs_pwrite(c, fd, "x", 1, 0), EIO);
	ERR(uvfs_fstat(c, fd, &st), EIO);
	ERR(uvfs_ftruncate(c, fd, 0), EIO);
	ERR(uvfs_fsync(c, fd), EIO);
	{
		struct uvfs_dirent de[4];

		ERR(uvfs_readdir(c, dfd, de, 4), EIO);
		ERR(uvfs_openat(c, dfd, "g", O_RDONLY, 0), EIO);
	}
	/* a dead cwd */
	ERR(uvfs_stat(c, "anything", &st), EIO);
	ERR2(uvfs_open(c, "new", O_CREAT | O_WRONLY, 0644), EIO, ENOENT);
	OK(uvfs_close(c, fd));
	OK(uvfs_close(c, dfd));
	ERR(uvfs_close(c, fd), EBADF);
	OK(uvfs_chdir(c, "/"));
	free_ctx(c);
	assert_only_root(live);
}

static void test_force_idle_and_busy_kinds(void **state)
{
	struct uvfs_ctx *c;
	struct uvfs_node *root, *mnt, *x;
	struct stat st;
	uint64_t live;

	(void)state;
	live = live_vnodes();
	/* idle */
	mount_x("/mnt/x", NULL);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	/* every kind of holder at once */
	mount_x("/mnt/x", "deadline=200");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/file", "c");
	c = new_ctx("many");
	OK(uvfs_chdir(c, "/mnt/x/d"));
	OK(uvfs_open(c, "/mnt/x/file", O_RDONLY, 0));
	OK(uvfs_node_root(R, &root));
	OK(uvfs_node_lookup(R, root, "mnt", &mnt, &st));
	OK(uvfs_node_lookup(R, mnt, "x", &x, &st));
	uvfs_node_release(root, 1);
	uvfs_node_release(mnt, 1);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	assert_false(mounted("/mnt/x", NULL));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	ERR(uvfs_node_getattr(R, x, &st), EIO);
	uvfs_node_release(x, 1);
	free_ctx(c); /* closes the dead descriptor */
	/* a child mount: the contract leaves open whether FORCE takes the
	 * subtree or says EBUSY; it must do one of them cleanly */
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
	mount_x("/mnt/x/sub", NULL);
	{
		int r = uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE);

		printf("    FORCE with a child mount: %s\n", errname(r));
		if (r == 0) {
			assert_false(mounted("/mnt/x", NULL));
			assert_false(mounted("/mnt/x/sub", NULL));
		} else {
			assert_int_equal(r, -EBUSY);
			assert_true(mounted("/mnt/x/sub", NULL));
			OK(uvfs_umount(R, "/mnt/x/sub", 0));
			OK(uvfs_umount(R, "/mnt/x", 0));
		}
	}
	assert_only_root(live);
}

static void test_detach_fd(void **state)
{
	struct uvfs_ctx *c;
	struct uvfs_stats s;
	struct stat st;
	char buf[16];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "data");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	c = new_ctx("lazy");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDWR, 0));
	OK(uvfs_chdir(c, "/mnt/x/d"));
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_DETACH));
	/* gone from the namespace at once */
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* what is open keeps working */
	assert_int_equal(OK(uvfs_read(c, fd, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "data", 4);
	assert_int_equal(OK(uvfs_write(c, fd, "more", 4)), 4);
	assert_int_equal(OK(uvfs_pread(c, fd, buf, sizeof(buf), 0)), 8);
	assert_memory_equal(buf, "datamore", 8);
	OK(uvfs_fstat(c, fd, &st));
	assert_int_equal(st.st_size, 8);
	/* and so does the cwd inside the detached tree */
	put(c, "new", "n");
	ASSERT_CONTENT(c, "../f", "datamore");
	uvfs_stats(U, &s);
	assert_int_equal(s.superblocks, 2);
	/* settle cannot finish a detached file system still in use */
	ERR(uvfs_settle(U, 100), ETIMEDOUT);
	/* the same mount point takes a new mount meanwhile */
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	put(R, "/mnt/x/f", "new");
	ASSERT_CONTENT(c, "../f", "datamore");
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* the last release finishes it */
	OK(uvfs_close(c, fd));
	OK(uvfs_chdir(c, "/"));
	assert_int_equal(uvfs_settle(U, 5000), 0);
	uvfs_stats(U, &s);
	assert_int_equal(s.superblocks, 1);
	free_ctx(c);
	assert_only_root(live);
}

/* A child taken away by a lazy or forced unmount holds its old parent no
 * longer: the parent is not busy because of it (the holders report could
 * name nothing), at once, whether the child is still in use (lazy, an
 * open file) or its shutdown is still on a worker (forced). */
static void test_detached_child_frees_parent(void **state)
{
	struct uvfs_holder *h;
	struct stat st;
	char buf[16];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	for (int force = 0; force < 2; force++) {
		mount_x("/mnt/x", NULL);
		OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
		mount_x("/mnt/x/sub", NULL);
		put(R, "/mnt/x/sub/f", "data");
		fd = (int)OK(uvfs_open(R, "/mnt/x/sub/f", O_RDWR, 0));
		OK(uvfs_umount(R, "/mnt/x/sub", force ? UVFS_UMOUNT_FORCE :
			       UVFS_UMOUNT_DETACH));
		assert_int_equal(holders("/mnt/x", &h), 0);
		free(h);
		OK(uvfs_umount(R, "/mnt/x", 0));
		assert_false(mounted("/mnt/x", NULL));
		ASSERT_CONTENT(R, "/mnt/x/under", "covered");
		if (force) {
			ERR(uvfs_read(R, fd, buf, sizeof(buf)), EIO);
		} else {
			/* the detached child works on, its ".." is itself */
			assert_int_equal(OK(uvfs_pread(R, fd, buf,
						       sizeof(buf), 0)), 4);
			assert_memory_equal(buf, "data", 4);
			OK(uvfs_fstatat(R, fd, "", &st, AT_EMPTY_PATH));
		}
		OK(uvfs_close(R, fd));
	}
	assert_only_root(live);
}

/* Walkers going up out of a child mount ("..", from a cwd inside it)
 * while the child is mounted, lazily unmounted (disconnected from its
 * parent) and its parent unmounted and mounted again: each ".." lands in
 * the parent or stays in the detached child, nothing is used after it is
 * released (ASan, TSan), and all is released at the end. */
struct updown {
	struct uvfs_ctx *ctx;
	atomic_bool stop;
	unsigned long ups;
};

static void *updown_main(void *arg)
{
	struct updown *w = arg;
	struct stat st;

	while (!atomic_load(&w->stop)) {
		if (uvfs_chdir(w->ctx, "/mnt/x/sub") != 0)
			continue;
		int r = uvfs_stat(w->ctx, "..", &st);
		assert_true(r == 0 || r == -ENOENT || r == -EIO);
		r = uvfs_stat(w->ctx, "../..", &st);
		assert_true(r == 0 || r == -ENOENT || r == -EIO);
		assert_int_equal(uvfs_chdir(w->ctx, "/"), 0);
		w->ups++;
	}
	return NULL;
}

static void test_detach_child_racing_dotdot(void **state)
{
	struct updown w[2];
	pthread_t t[2];
	uint64_t live;
	double end;
	int rounds = 0;

	(void)state;
	live = live_vnodes();
	for (int i = 0; i < 2; i++) {
		w[i].ctx = new_ctx("up and down");
		atomic_init(&w[i].stop, false);
		w[i].ups = 0;
		assert_int_equal(pthread_create(&t[i], NULL, updown_main,
						&w[i]), 0);
	}
	for (end = now_ms() + 1000; now_ms() < end; rounds++) {
		mount_x("/mnt/x", NULL);
		OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
		mount_x("/mnt/x/sub", NULL);
		OK(uvfs_umount(R, "/mnt/x/sub", rounds % 2 ?
			       UVFS_UMOUNT_FORCE : UVFS_UMOUNT_DETACH));
		/* a walker may hold the parent (its ".." landed there) */
		while (uvfs_umount(R, "/mnt/x", 0) == -EBUSY)
			;
	}
	for (int i = 0; i < 2; i++) {
		atomic_store(&w[i].stop, true);
		assert_int_equal(pthread_join(t[i], NULL), 0);
		printf("    walker %d: %lu round trips, %d rounds\n", i,
		       w[i].ups, rounds);
		free_ctx(w[i].ctx);
	}
	assert_only_root(live);
}

/* ---- revoke ------------------------------------------------------------ */

static void test_revoke(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];
	uint64_t live;
	int a1, a2, b, a3;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/a", "AAAA");
	put(R, "/mnt/x/b", "BBBB");
	c = new_ctx("revokee");
	a1 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDONLY, 0));
	a2 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDWR, 0));
	b = (int)OK(uvfs_open(c, "/mnt/x/b", O_RDONLY, 0));
	OK(uvfs_revoke(R, "/mnt/x/a"));
	ERR(uvfs_read(c, a1, buf, sizeof(buf)), EIO);
	ERR(uvfs_write(c, a2, "x", 1), EIO);
	ERR(uvfs_pread(c, a2, buf, sizeof(buf), 0), EIO);
	ERR(uvfs_fstat(c, a1, &st), EIO);
	OK(uvfs_close(c, a1));
	OK(uvfs_close(c, a2));
	assert_int_equal(OK(uvfs_read(c, b, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "BBBB", 4);
	/* a new open gets a fresh vnode with the data */
	a3 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDWR, 0));
	assert_int_equal(OK(uvfs_read(c, a3, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "AAAA", 4);
	OK(uvfs_write(c, a3, "a", 1));
	OK(uvfs_stat(R, "/mnt/x/a", &st));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(c, a3));
	/* a revoked file does not keep the mount busy once closed */
	OK(uvfs_close(c, b));
	/* a directory: its open descriptors die */
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/d/in", "in");
	a1 = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_revoke(R, "/mnt/x/d"));
	{
		struct uvfs_dirent de[4];

		ERR(uvfs_readdir(c, a1, de, 4), EIO);
		ERR(uvfs_openat(c, a1, "in", O_RDONLY, 0), EIO);
	}
	OK(uvfs_close(c, a1));
	ASSERT_CONTENT(c, "/mnt/x/d/in", "in");
	/* errors */
	ERR(uvfs_revoke(R, "/mnt/x/missing"), ENOENT);
	/* revoke of a file nobody has open */
	OK(uvfs_revoke(R, "/mnt/x/b"));
	ASSERT_CONTENT(R, "/mnt/x/b", "BBBB");
	OK(uvfs_umount(R, "/mnt/x", 0));
	free_ctx(c);
	assert_only_root(live);
}

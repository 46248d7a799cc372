/*
 * test_vops_calls.c - what a driver call is given: the credentials
 * (uvfs_cred_current) of the call it serves, never those the thread had
 * last, the opener's for a node API handle; the flush at the close of a
 * descriptor open for writing, and its error.
 * Included by test_vops.c (it uses that file's fixture and helpers); not
 * a program of its own.
 */

/* ---- operations inside operations --------------------------------------- */

struct nested {
	const char *path;
	int ran, result;
};

static void nested_stat(void *arg)
{
	struct nested *n = arg;
	struct stat st;

	n->ran++;
	n->result = uvfs_stat(R, n->path, &st);
}

/* A driver call that makes calls on other mounts (and on its own): the
 * operation it serves entered by its thread's last record and leaves by
 * it again without having kept it (vnode_if.c, vop_call), so the calls
 * inside must not have made another record the last.  Were they to, the
 * leave would take its count from the other mount's record: the leave's
 * check of that count (below zero) stops the process, as the check that
 * the record is its gate's does in a diagnostic build.  The outer
 * operation enters by the fast path (a stat: its lookup on /a came just
 * before), and by the slow path (an fstat right after a call on /b). */
static void test_nested_other_mount(void **state)
{
	struct nested n = { 0 };
	struct stat st;

	(void)state;
	mount_testfs("/a");
	mount_testfs("/b");
	make_file("/a/f");
	make_file("/a/f2");
	make_file("/b/g");
	for (int round = 0; round < 3; round++) {
		/* this thread's last record is /a's: the stat below enters
		 * by the fast path */
		assert_int_equal(uvfs_stat(R, "/a/f", &st), 0);
		n.path = round == 1 ? "/a/f2" : "/b/g";
		n.ran = 0;
		testfs_getattr_hook(nested_stat, &n);
		assert_int_equal(uvfs_stat(R, "/a/f", &st), 0);
		assert_int_equal(n.ran, 1);
		assert_int_equal(n.result, 0);
		/* and calls on /b alone still go */
		assert_int_equal(uvfs_stat(R, "/b/g", &st), 0);
	}
	int fd = uvfs_open(R, "/a/f", O_RDONLY, 0);

	assert_true(fd >= 0);
	for (int round = 0; round < 2; round++) {
		/* the last record is /b's: the fstat enters by the slow path */
		assert_int_equal(uvfs_stat(R, "/b/g", &st), 0);
		n.path = round ? "/a/f2" : "/b/g";
		n.ran = 0;
		testfs_getattr_hook(nested_stat, &n);
		assert_int_equal(uvfs_fstat(R, fd, &st), 0);
		assert_int_equal(n.ran, 1);
		assert_int_equal(n.result, 0);
	}
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_umount(R, "/b", 0), 0);
	assert_int_equal(uvfs_umount(R, "/a", 0), 0);
}

/* ---- whom an operation is for ------------------------------------------ */

/* One thread, calls for two contexts in turn: each driver call sees the
 * credentials of the call it serves, never those the thread had last;
 * a node API handle's I/O is the opener's. */
static void test_cred_current(void **state)
{
	struct uvfs_cred a = { .uid = 1001, .gid = 1001 };
	struct uvfs_cred b = { .uid = 1002, .gid = 1002 };
	struct uvfs_ctx *ca, *cb;
	struct uvfs_node *root, *dir, *n, *x;
	struct uvfs_file *h;
	char buf[4];
	struct stat st;

	(void)state;
	mount_testfs("/t");
	assert_int_equal(uvfs_chmod(R, "/t", 0777), 0);
	assert_int_equal(uvfs_ctx_new(U, &a, &ca), 0);
	assert_int_equal(uvfs_ctx_new(U, &b, &cb), 0);
	make_file("/t/f");
	assert_int_equal(uvfs_chmod(R, "/t/f", 0666), 0);

	/* the path API (names never looked up: the driver is asked) */
	assert_int_equal(uvfs_stat(ca, "/t/x1", &st), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1001);
	/* the node API, after a call for another context on this thread */
	assert_int_equal(uvfs_node_root(cb, &root), 0);
	assert_int_equal(uvfs_node_lookup(cb, root, "t", &dir, NULL), 0);
	assert_int_equal(uvfs_node_lookup(cb, dir, "f", &n, NULL), 0);
	assert_int_equal(uvfs_stat(ca, "/t/x2", &st), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1001);
	assert_int_equal(uvfs_node_lookup(cb, dir, "x3", &x, NULL), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_node_create(cb, dir, "g", 0644, 0, NULL, &x,
					  NULL), 0);
	assert_int_equal(testfs_last_uid(TFS_CREATE), 1002);
	uvfs_node_release(x, 1);
	/* a handle opened by b reads as b after a call for a */
	assert_int_equal(uvfs_node_open(cb, n, O_RDWR, "b", &h), 0);
	assert_int_equal(testfs_last_uid(TFS_OPEN), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_file_pread(h, buf, sizeof(buf), 0), 0);
	assert_int_equal(testfs_last_uid(TFS_READ), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_file_pwrite(h, "x", 1, 0), 1);
	assert_int_equal(testfs_last_uid(TFS_WRITE), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	uvfs_file_release(h);
	assert_int_equal(testfs_last_uid(TFS_RELEASE), 1002);
	/* the unlink is a's, after b's calls */
	assert_int_equal(uvfs_node_unlink(ca, dir, "g", 0), 0);
	assert_int_equal(testfs_last_uid(TFS_UNLINK), 1001);

	uvfs_node_release(n, 1);
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	uvfs_ctx_free(ca);
	uvfs_ctx_free(cb);
	assert_int_equal(uvfs_unlink(R, "/t/f"), 0);
	assert_int_equal(uvfs_umount(R, "/t", 0), 0);
}

/* ---- flush at close ----------------------------------------------------- */

static void test_flush_at_close(void **state)
{
	struct uvfs_node *root, *dir, *n;
	struct uvfs_file *h;
	unsigned long f0;
	int fd, fd2;

	(void)state;
	mount_testfs("/t");
	make_file("/t/f");
	f0 = testfs_flushes();
	/* read-only: no flush */
	fd = uvfs_open(R, "/t/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(testfs_flushes(), f0);
	/* each close of a descriptor open for writing, not only the last */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0);
	fd2 = uvfs_dup(R, fd);
	assert_true(fd2 >= 0);
	assert_int_equal(uvfs_write(R, fd, "x", 1), 1);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(testfs_flushes(), f0 + 1);
	/* its error is the close's, and the descriptor is gone anyway */
	testfs_set_flush_error(-EIO);
	assert_int_equal(uvfs_close(R, fd), -EIO);
	testfs_set_flush_error(0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	assert_int_equal(uvfs_close(R, fd), -EBADF);
	/* the node API handle: flushes says whether FUSE should send it */
	assert_int_equal(uvfs_node_root(R, &root), 0);
	assert_int_equal(uvfs_node_lookup(R, root, "t", &dir, NULL), 0);
	assert_int_equal(uvfs_node_lookup(R, dir, "f", &n, NULL), 0);
	assert_int_equal(uvfs_node_open(R, n, O_RDONLY, "r", &h), 0);
	assert_int_equal(uvfs_file_flushes(h), 0);
	assert_int_equal(uvfs_file_flush(h), 0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	uvfs_file_release(h);
	assert_int_equal(uvfs_node_open(R, n, O_RDWR, "w", &h), 0);
	assert_int_equal(uvfs_file_flushes(h), 1);
	testfs_set_flush_error(-ENOSPC);
	assert_int_equal(uvfs_file_flush(h), -ENOSPC);
	testfs_set_flush_error(0);
	assert_int_equal(testfs_flushes(), f0 + 3);
	uvfs_file_release(h);
	assert_int_equal(testfs_flushes(), f0 + 3);  /* release: no flush */
	uvfs_node_release(n, 1);
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	/* revoked: a descriptor written since its last flush closes with
	 * EIO (what went behind may be lost), one not written with 0 */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	fd2 = uvfs_open(R, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0 && fd2 >= 0);
	assert_int_equal(uvfs_write(R, fd, "y", 1), 1);
	assert_int_equal(uvfs_revoke(R, "/t/f"), 0);
	assert_int_equal(uvfs_close(R, fd), -EIO);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(testfs_flushes(), f0 + 3);
	assert_int_equal(uvfs_unlink(R, "/t/f"), 0);
	assert_int_equal(uvfs_umount(R, "/t", 0), 0);
}

/* The other closes of a descriptor flush it too, as Linux's filp_close at
 * dup2 and at exit: a dup2 onto a descriptor open for writing, and the
 * free of a context with one open (the error is not reported: neither
 * has a close to report it to). */
static void test_flush_at_dup2_and_ctx_free(void **state)
{
	struct uvfs_ctx *c;
	unsigned long f0;
	int fd, fd2;

	(void)state;
	mount_testfs("/t");
	make_file("/t/f");
	f0 = testfs_flushes();
	/* dup2 onto a written descriptor closes it: flushed */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	fd2 = uvfs_open(R, "/t/f", O_RDONLY, 0);
	assert_true(fd >= 0 && fd2 >= 0);
	assert_int_equal(uvfs_write(R, fd, "x", 1), 1);
	assert_int_equal(uvfs_dup2(R, fd2, fd), fd);
	assert_int_equal(testfs_flushes(), f0 + 1);
	assert_int_equal(uvfs_close(R, fd), 0);        /* read-only now */
	/* its flush error is not dup2's */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0);
	testfs_set_flush_error(-EIO);
	assert_int_equal(uvfs_dup2(R, fd2, fd), fd);
	testfs_set_flush_error(0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	/* a context freed with a descriptor open for writing */
	assert_int_equal(uvfs_ctx_new(U, NULL, &c), 0);
	fd = uvfs_open(c, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(c, fd, "y", 1), 1);
	uvfs_ctx_free(c);
	assert_int_equal(testfs_flushes(), f0 + 3);
	assert_int_equal(uvfs_unlink(R, "/t/f"), 0);
	assert_int_equal(uvfs_umount(R, "/t", 0), 0);
}

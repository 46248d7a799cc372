/*
 * test_9pclient_xattr.c - extended attributes: the wire (the fake
 * server) and end to end on a real server (hostfs spawned, diod), checked
 * against the host file too.
 * Included by test_9pclient.c; not a program of its own.
 */

/* ---- extended attributes ------------------------------------------------ */

/* The wire side: sizes, short values, a commit's error, the empty value. */
static void test_xattr_wire(void **state)
{
	struct fx x = { 0 };
	char buf[64];

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", NULL, 0), 9);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", buf,
				       sizeof(buf)), 9);
	assert_memory_equal(buf, "hello, 9p", 9);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", buf, 4),
			 -ERANGE);
	/* fewer bytes than Rxattrwalk announced: not a truncated value */
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.short", buf,
				       sizeof(buf)), -EIO);
	/* more than any value may be */
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.huge", NULL, 0),
			 -E2BIG);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.ok", "v", 1, 0), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 1);
	/* the commit's error is the Tclunk's */
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.fail", "v", 1, 0),
			 -EDQUOT);
	assert_int_equal(uvfs_removexattr(x.c, "/m/f", "user.ok"), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 2);
	/* 9P2000.L cannot carry an empty value (size 0 removes) */
	int before = atomic_load(&x.fs.xattr_msgs);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.e", "", 0, 0),
			 -EOPNOTSUPP);
	assert_int_equal(atomic_load(&x.fs.xattr_msgs), before);
	/* a value in several Twrites (msize 8192) */
	static char big[20000];
	memset(big, 'z', sizeof(big));
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.big", big,
				       sizeof(big), 0), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 3);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/*
 * A setxattr whose commit (the Tclunk) the server flushed: the caller is
 * told -ETIMEDOUT, so the value must never be set.  The flushed Tclunk
 * did not happen: the xattr fid is still the server's, with the value,
 * and any Tclunk of it commits.  Before, the driver clunked the fid
 * again (as any fid a request failed on), and the value was set after
 * the caller was told it was not.
 */
static void test_xattr_commit_flushed(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.flushed", "v", 1,
				       0), -ETIMEDOUT);
	assert_int_equal(atomic_load(&x.fs.flushes), 1);
	/* the clunks queued go out with the next requests, and at the
	 * unmount */
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.ok", "v", 1, 0), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	/* user.ok's commit only (was 2: user.flushed's too) */
	assert_int_equal(atomic_load(&x.fs.commits), 1);
	fx_done(&x);
}

/* Whether name is in list[0..n). */
static bool in_list(const char *list, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return true;
	return false;
}

/*
 * The body for a real server mounted at /m, exporting host directory
 * exp.  diod: what diod does differently (see docs/9p-client.md).
 */
static void xattr_body(struct uvfs_ctx *c, const char *exp)
{
	static char big[60000], got[65536];
	char buf[256], list[4096], hp[512];
	ssize_t n;
	int fd;

	fd = uvfs_open(c, "/m/xf", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_mkdir(c, "/m/xd", 0755), 0);
	assert_int_equal(uvfs_symlink(c, "xf", "/m/xl"), 0);

	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), -ENODATA);
	n = uvfs_listxattr(c, "/m/xf", list, sizeof(list));
	assert_true(n >= 0);
	assert_false(in_list(list, n, "user.a"));

	/* set, get, sizes; the host file has it */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "hello", 5, 0),
			 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", NULL, 0), 5);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf, 3),
			 -ERANGE);
	snprintf(hp, sizeof(hp), "%s/xf", exp);
	assert_int_equal(getxattr(hp, "user.a", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	/* flags */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "x", 1,
				       XATTR_CREATE), -EEXIST);
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.b", "x", 1,
				       XATTR_REPLACE), -ENODATA);
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "world!", 6,
				       XATTR_REPLACE), 0);
	assert_int_equal(uvfs_fgetxattr(c, fd, "user.a", buf, sizeof(buf)),
			 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(uvfs_fsetxattr(c, fd, "user.b", "B", 1,
					XATTR_CREATE), 0);

	/* list: the size, then the names */
	n = uvfs_listxattr(c, "/m/xf", NULL, 0);
	assert_true(n >= 14);
	assert_int_equal(uvfs_listxattr(c, "/m/xf", list, (size_t)n), n);
	assert_true(in_list(list, n, "user.a"));
	assert_true(in_list(list, n, "user.b"));
	assert_int_equal(uvfs_listxattr(c, "/m/xf", list, 3), -ERANGE);

	/* a value larger than a message (many Twrites and Treads) where
	 * the host takes one (tmpfs; ext4 keeps a value in one block) */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	size_t bsz = setxattr(hp, "user.probe", big, sizeof(big), 0) == 0
		     ? sizeof(big) : 4000;
	removexattr(hp, "user.probe");
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.big", big, bsz, 0),
			 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.big", got,
				       sizeof(got)), (ssize_t)bsz);
	assert_memory_equal(got, big, bsz);
	assert_int_equal(getxattr(hp, "user.big", got, sizeof(got)),
			 (ssize_t)bsz);
	assert_memory_equal(got, big, bsz);

	/* directories; through a symlink (followed) */
	assert_int_equal(uvfs_setxattr(c, "/m/xd", "user.d", "dd", 2, 0), 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xd", "user.d", buf,
				       sizeof(buf)), 2);
	assert_int_equal(uvfs_getxattr(c, "/m/xl", "user.b", buf,
				       sizeof(buf)), 1);
	assert_int_equal(uvfs_lgetxattr(c, "/m/xl", "user.b", buf,
					sizeof(buf)), -ENODATA);

	/* remove */
	assert_int_equal(uvfs_removexattr(c, "/m/xf", "user.a"), 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), -ENODATA);
	assert_int_equal(uvfs_removexattr(c, "/m/xf", "user.a"), -ENODATA);
	assert_int_equal(getxattr(hp, "user.a", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	/* an empty value cannot be sent (a zero-size create removes) */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.e", "", 0, 0),
			 -EOPNOTSUPP);

	/* trusted. on the symlink itself (root): the target is untouched */
	if (geteuid() == 0) {
		char hl[512];
		assert_int_equal(uvfs_lsetxattr(c, "/m/xl", "trusted.t", "L",
						1, 0), 0);
		assert_int_equal(uvfs_lgetxattr(c, "/m/xl", "trusted.t", buf,
						sizeof(buf)), 1);
		assert_int_equal(uvfs_getxattr(c, "/m/xl", "trusted.t", buf,
					       sizeof(buf)), -ENODATA);
		snprintf(hl, sizeof(hl), "%s/xl", exp);
		assert_int_equal(lgetxattr(hl, "trusted.t", buf, sizeof(buf)),
				 1);
		assert_int_equal(getxattr(hp, "trusted.t", buf, sizeof(buf)),
				 -1);
		n = uvfs_llistxattr(c, "/m/xl", list, sizeof(list));
		assert_true(n > 0 && in_list(list, n, "trusted.t"));
		assert_int_equal(uvfs_lremovexattr(c, "/m/xl", "trusted.t"),
				 0);
	}
	assert_int_equal(uvfs_close(c, fd), 0);
	assert_int_equal(uvfs_unlink(c, "/m/xl"), 0);
	assert_int_equal(uvfs_unlink(c, "/m/xf"), 0);
	assert_int_equal(uvfs_rmdir(c, "/m/xd"), 0);
}

/* Type "hostfs" (uvfs-hostfs spawned: UVFS_HOSTFS), also across a
 * restart: a read of an xattr after the server was killed works. */
static void test_xattr_hostfs(void **state)
{
	const char *srv = getenv("UVFS_HOSTFS");
	/* tmpfs if there is one: values up to 64 KiB */
	char tmp[64], exp[80], o[512], buf[16];
	struct uvfs *u;
	struct uvfs_ctx *c;
	int fd;

	(void)state;
	if (!srv || access(srv, X_OK) != 0 || getenv("UVFS_9P_SOURCE")) {
		skip();
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/uvfs-9pxattr.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(tmp));
	snprintf(exp, sizeof(exp), "%s/export", tmp);
	assert_int_equal(mkdir(exp, 0777), 0);
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	snprintf(o, sizeof(o), "server=%s,timeout=5000,msize=8192", srv);
	assert_int_equal(uvfs_mount(c, "hostfs", exp, "/m", o), 0);
	xattr_body(c, exp);

	fd = uvfs_open(c, "/m/k", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fsetxattr(c, fd, "user.k", "kept", 4, 0), 0);
	pid_t pid = uvfs_9p_server_pid(u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(uvfs_fgetxattr(c, fd, "user.k", buf, sizeof(buf)),
			 4);
	assert_memory_equal(buf, "kept", 4);
	assert_true(uvfs_9p_server_pid(u, "/m") != pid);
	assert_int_equal(uvfs_close(c, fd), 0);

	assert_int_equal(uvfs_umount(c, "/m", 0), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

/* diod (tests/conformance-diod.sh sets UVFS_9P_SOURCE, UVFS_9P_OPTS). */
static void test_xattr_diod(void **state)
{
	const char *src = getenv("UVFS_9P_SOURCE");
	const char *opts = getenv("UVFS_9P_OPTS");
	const char *an = opts ? strstr(opts, "aname=") : NULL;
	char exp[256], o[1024];
	struct uvfs *u;
	struct uvfs_ctx *c;

	(void)state;
	if (!src || !an) {
		skip();
		return;
	}
	snprintf(exp, sizeof(exp), "%s", an + 6);
	exp[strcspn(exp, ",")] = '\0';
	snprintf(o, sizeof(o), "%s,timeout=5000", opts);
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(c, "9p", src, "/m", o), 0);
	xattr_body(c, exp);
	assert_int_equal(uvfs_umount(c, "/m", 0), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
}

/*
 * test_memfs_attrs.c - memfs's attributes: extended attributes (the
 * space they count against size=, the driver's side of the contract,
 * threads racing on one file), the set-group-ID rules, and setattr's
 * permission checks.
 * Included by test_memfs.c (it uses that file's stand-in for the core,
 * its fixture and helpers); not a program of its own.
 */

/* Extended attributes: names and values count against size= in whole
 * pages per node, and every byte comes back. */
static void test_xattr_space(void **state)
{
	static char big[4200];
	struct statvfs sv;
	struct fx *f;
	void *a, *b, *l;
	char buf[64];

	(void)state;
	memset(big, 'v', sizeof(big));
	f = fx_mount("size=8k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	/* "user.1" + NUL + 4000 bytes: one page */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.1", big, 4000, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", big, 4000, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* full: another node's attribute, file data */
	assert_int_equal(ops->setxattr(&f->sb, b, "user.x", "", 0, 0),
			 -ENOSPC);
	assert_int_equal(ops->getxattr(&f->sb, b, "user.x", NULL, 0),
			 -ENODATA);
	assert_int_equal(pwr(f, b, "d", 1, 0), -ENOSPC);
	/* a value that would need a third page fails and leaves the old */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", big, 4000 + 200,
				       0), -ENOSPC);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.2", NULL, 0), 4000);
	/* a shorter value gives a page back */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.2", "s", 1, 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(pwr(f, b, "d", 1, 0), 1);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* removing: a's last page goes with its last attribute */
	assert_int_equal(ops->removexattr(&f->sb, a, "user.1"), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.1"), -ENODATA);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.2"), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	/* symlinks and directories hold them too (the core restricts
	 * user.*, not the driver) */
	l = mkh(f, f->root, "l", S_IFLNK | 0777);
	assert_int_equal(ops->setxattr(&f->sb, l, "trusted.t", "t", 1, 0), 0);
	assert_int_equal(ops->getxattr(&f->sb, l, "trusted.t", buf,
				       sizeof(buf)), 1);
	assert_int_equal(ops->setxattr(&f->sb, f->root, "user.r", "r", 1, 0),
			 -ENOSPC);
	/* a file that goes takes its attributes' pages along, at reclaim */
	assert_int_equal(ops->unlink(&f->sb, f->root, "l", 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0); /* still held */
	ops->reclaim(&f->sb, l);
	f->nheld--;
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->setxattr(&f->sb, f->root, "user.r", "r", 1, 0),
			 0);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.1", "1", 1, 0),
			 -ENOSPC);
	fx_unmount(f); /* asserts that every page came back */
}

/* The driver's side of the xattr contract (fs.h). */
static void test_xattr_ops(void **state)
{
	struct fx *f = *state;
	struct stat st0, st1;
	char buf[64];
	void *a;

	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(ops->listxattr(&f->sb, a, NULL, 0), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, sizeof(buf)), 0);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.a"), -ENODATA);
	st0 = sget(f, a);
	usleep(2000);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "one", 3,
				       XATTR_REPLACE), -ENODATA);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "one", 3,
				       XATTR_CREATE), 0);
	st1 = sget(f, a);
	assert_true(st1.st_ctim.tv_sec > st0.st_ctim.tv_sec ||
		    (st1.st_ctim.tv_sec == st0.st_ctim.tv_sec &&
		     st1.st_ctim.tv_nsec > st0.st_ctim.tv_nsec));
	assert_int_equal(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "two", 3,
				       XATTR_CREATE), -EEXIST);
	assert_int_equal(ops->setxattr(&f->sb, a, "user.b", "", 0, 0), 0);
	assert_int_equal(ops->setxattr(&f->sb, a, "trusted.c", "3", 1, 0), 0);
	/* replacing keeps the place in the list */
	assert_int_equal(ops->setxattr(&f->sb, a, "user.a", "uno", 3,
				       XATTR_REPLACE), 0);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", NULL, 0), 3);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, 2), -ERANGE);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.a", buf, 3), 3);
	assert_memory_equal(buf, "uno", 3);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.b", buf, sizeof(buf)),
			 0);
	assert_int_equal(ops->getxattr(&f->sb, a, "user.b", NULL, 0), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, NULL, 0), 24);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, 23), -ERANGE);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, 24), 24);
	assert_memory_equal(buf, "user.a\0user.b\0trusted.c\0", 24);
	assert_int_equal(ops->removexattr(&f->sb, a, "user.b"), 0);
	assert_int_equal(ops->listxattr(&f->sb, a, buf, sizeof(buf)), 17);
	assert_memory_equal(buf, "user.a\0trusted.c\0", 17);
	/* the name rules hold here too */
	assert_int_equal(ops->setxattr(&f->sb, a, "", "x", 1, 0), -ERANGE);
}

/* Threads set, replace, read, list and remove attributes of one file. */
#define XTHREADS 4
#define XITERS 2000

static void *xattr_worker(void *arg)
{
	void **args = arg;
	struct fx *f = args[0];
	void *a = args[1];
	long id = (long)(intptr_t)args[2];
	char name[32], val[64], buf[1024];
	long bad = 0;

	for (int i = 0; i < XITERS; i++) {
		size_t len = (size_t)(i % 60) + 1;
		ssize_t r;

		snprintf(name, sizeof(name), "user.t%ld.%d", id, i % 7);
		memset(val, 'a' + (int)id, len);
		if (ops->setxattr(&f->sb, a, name, val, len, 0) != 0)
			bad++;
		r = ops->getxattr(&f->sb, a, name, buf, sizeof(buf));
		if (r != (ssize_t)len || memcmp(buf, val, len) != 0)
			bad++;
		/* the shared one: any thread's value, whole */
		memset(val, 'A' + (int)id, len);
		(void)ops->setxattr(&f->sb, a, "user.shared", val, len, 0);
		r = ops->getxattr(&f->sb, a, "user.shared", buf, sizeof(buf));
		if (r <= 0 || (r > 0 && buf[r - 1] != buf[0]))
			bad++;
		r = ops->listxattr(&f->sb, a, buf, sizeof(buf));
		if (r < 0 && r != -ERANGE)
			bad++;
		if (i % 3 == 0 && ops->removexattr(&f->sb, a, name) != 0)
			bad++;
	}
	return (void *)(intptr_t)bad;
}

static void test_xattr_threads(void **state)
{
	struct fx *f = *state;
	pthread_t tid[XTHREADS];
	void *args[XTHREADS][3];
	void *a = mkh(f, f->root, "a", S_IFREG | 0644);

	for (long i = 0; i < XTHREADS; i++) {
		args[i][0] = f;
		args[i][1] = a;
		args[i][2] = (void *)(intptr_t)i;
		assert_int_equal(pthread_create(&tid[i], NULL, xattr_worker,
						args[i]), 0);
	}
	for (int i = 0; i < XTHREADS; i++) {
		void *bad;

		pthread_join(tid[i], &bad);
		assert_int_equal((intptr_t)bad, 0);
	}
	assert_true(ops->listxattr(&f->sb, a, NULL, 0) > 0);
}

static void test_setgid(void **state)
{
	struct fx *f = *state;
	struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_cred member = { .uid = 1001, .gid = 1001, .ngroups = 2,
				    .groups = { 7, 100 } };
	struct uvfs_setattr sa = { .valid = UVFS_SET_MODE | UVFS_SET_GID,
				   .mode = 02775, .gid = 100 };
	void *sg = mkh(f, f->root, "sg", S_IFDIR | 0775);
	struct stat st;
	uint64_t ino;
	void *p;

	assert_int_equal(ops->setattr(&f->sb, sg, &sa), 0);
	assert_int_equal(sget(f, sg).st_mode, S_IFDIR | 02775);

	assert_int_equal(create_as(f, sg, "f", S_IFREG | 0644, &user, &ino),
			 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFREG | 0644);

	assert_int_equal(create_as(f, sg, "d", S_IFDIR | 0755, &user, &ino),
			 0);
	p = hold(f, ino);
	st = sget(f, p);
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFDIR | 02755);
	/* and on down */
	assert_int_equal(create_as(f, p, "dd", S_IFDIR | 0700, &user, &ino),
			 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_gid, 100);
	assert_int_equal(st.st_mode, S_IFDIR | 02700);

	/* a setgid executable made by a non-member loses the bit */
	assert_int_equal(create_as(f, sg, "x1", S_IFREG | 02755, &user, &ino),
			 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFREG | 0755);
	assert_int_equal(create_as(f, sg, "x2", S_IFREG | 02755, &member,
				   &ino), 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFREG | 02755);

	/* outside: the creator's group */
	assert_int_equal(create_as(f, f->root, "g", S_IFREG | 0644, &user,
				   &ino), 0);
	st = sget(f, hold(f, ino));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(create_as(f, f->root, "gd", S_IFDIR | 0755, &user,
				   &ino), 0);
	assert_int_equal(sget(f, hold(f, ino)).st_mode, S_IFDIR | 0755);
}

static void test_setattr_permission(void **state)
{
	struct fx *f = *state;
	struct uvfs_cred owner = { .uid = 1000, .gid = 1000 };
	struct uvfs_cred grp = { .uid = 2000, .gid = 100 };
	struct uvfs_cred supp = { .uid = 2000, .gid = 5, .ngroups = 1,
				  .groups = { 100 } };
	struct uvfs_cred other = { .uid = 3000, .gid = 3000 };
	struct uvfs_setattr sa;
	void *p = mkh(f, f->root, "p", S_IFREG | 04755);
	void *d;
	struct stat st, st2;

	/* chown drops setuid, and setgid with group exec */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_UID, .uid = 1000 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st = sget(f, p);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode, S_IFREG | 0755);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE, .mode = 06775 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 06775);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_GID, .gid = 100 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 0775);
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE,
				    .mode = S_IFDIR | 02765 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 02765); /* type kept */
	assert_int_equal(ops->setattr(&f->sb, p, &(struct uvfs_setattr){
				.valid = UVFS_SET_GID, .gid = 100 }), 0);
	assert_int_equal(sget(f, p).st_mode, S_IFREG | 02765);

	/* times */
	st = sget(f, p);
	sa = (struct uvfs_setattr){
		.valid = UVFS_SET_ATIME | UVFS_SET_MTIME,
		.atime = { 1000, 5 }, .mtime = { 0, UTIME_OMIT } };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st2 = sget(f, p);
	assert_int_equal(st2.st_atim.tv_sec, 1000);
	assert_int_equal(st2.st_atim.tv_nsec, 5);
	assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
	assert_true(st2.st_ctim.tv_sec >= st.st_ctim.tv_sec);
	sa.atime.tv_nsec = UTIME_OMIT;
	sa.mtime = (struct timespec){ 2000, 0 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	st2 = sget(f, p);
	assert_int_equal(st2.st_atim.tv_sec, 1000);
	assert_int_equal(st2.st_mtim.tv_sec, 2000);
	sa.mtime.tv_nsec = UTIME_NOW;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_true(sget(f, p).st_mtim.tv_sec > 2000);
	assert_int_equal(sget(f, p).st_atim.tv_sec, 1000);
	/* reading updates atime */
	{
		char c;

		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		assert_true(sget(f, p).st_atim.tv_sec > 1000);
		/* as relatime: not again while it is after mtime and
		 * ctime; again once the file changed */
		struct timespec a1 = sget(f, p).st_atim;
		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		assert_int_equal(sget(f, p).st_atim.tv_nsec, a1.tv_nsec);
		assert_int_equal(sget(f, p).st_atim.tv_sec, a1.tv_sec);
		assert_int_equal(ops->setattr(&f->sb, p, &(struct uvfs_setattr){
					.valid = UVFS_SET_MODE,
					.mode = 02765 }), 0);
		assert_int_equal(ops->read(&f->sb, p, NULL, &c, 1, 0), 0);
		st2 = sget(f, p);
		assert_true(st2.st_atim.tv_sec > a1.tv_sec ||
			    (st2.st_atim.tv_sec == a1.tv_sec &&
			     st2.st_atim.tv_nsec > a1.tv_nsec));
	}
	sa.mtime.tv_nsec = 1000000000;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), -EINVAL);
	/* a write updates mtime and ctime */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MTIME,
				    .mtime = { 10, 0 } };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(pwr(f, p, "x", 1, 0), 1);
	assert_true(sget(f, p).st_mtim.tv_sec > 10);
	/* so does a change of entries on the directory */
	assert_int_equal(ops->setattr(&f->sb, f->root, &sa), 0);
	mk(f, f->root, "t", S_IFREG | 0644);
	assert_true(sget(f, f->root).st_mtim.tv_sec > 10);
	assert_true(sget(f, f->root).st_ctim.tv_sec > 10);

	/* permission */
	sa = (struct uvfs_setattr){ .valid = UVFS_SET_MODE, .mode = 0640 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK | W_OK, &owner), 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &owner), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &grp), 0);
	assert_int_equal(ops->permission(&f->sb, p, W_OK, &grp), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &supp), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK, &other), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, 0, &other), 0);
	assert_int_equal(ops->permission(&f->sb, p, R_OK | W_OK, &root_cred),
			 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &root_cred),
			 -EACCES);
	sa.mode = 0001;
	assert_int_equal(ops->setattr(&f->sb, p, &sa), 0);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &root_cred), 0);
	/* the owner class decides even when others have more */
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &owner), -EACCES);
	assert_int_equal(ops->permission(&f->sb, p, X_OK, &other), 0);
	d = mkh(f, f->root, "d", S_IFDIR | 0700);
	assert_int_equal(ops->permission(&f->sb, d, X_OK | R_OK | W_OK,
					 &root_cred), 0);
	assert_int_equal(ops->permission(&f->sb, d, X_OK, &other), -EACCES);

	/* unknown attribute bits */
	sa = (struct uvfs_setattr){ .valid = 0x1000 };
	assert_int_equal(ops->setattr(&f->sb, p, &sa), -EINVAL);
	assert_int_equal(ops->sync(&f->sb), 0);
}

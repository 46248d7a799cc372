/*
 * conformance_attrs.c - the conformance body's tests of attributes and
 * permissions: the stat family, access, statfs, chmod, chown, utimens and
 * the times each call moves, mknod, fsync; the permission checks (owner,
 * other users, groups), getcwd without search permission, the sticky bit,
 * set-group-ID directories and the umask.
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- stat -------------------------------------------------------------- */

static void test_stat_family(void **state)
{
	struct stat st, st2;
	int fd, dfd;

	(void)state;
	put(C, "f", "12345");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_symlink(C, "nowhere", "dl"));

	st = st_of(C, "f");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_nlink, 1);
	st2 = st_of(C, "l");
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_dev, st.st_dev);
	st2 = lst_of(C, "l");
	assert_true(S_ISLNK(st2.st_mode));
	assert_int_equal(st2.st_size, 1); /* strlen("f") */
	assert_int_not_equal(st2.st_ino, st.st_ino);
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_true(st.st_nlink >= 1);
	ERR(uvfs_stat(C, "dl", &st), ENOENT);
	st = lst_of(C, "dl");
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 7);
	ERR(uvfs_stat(C, "missing", &st), ENOENT);
	ERR(uvfs_lstat(C, "missing", &st), ENOENT);
	ERR(uvfs_stat(C, "", &st), ENOENT);
	ERR(uvfs_stat(C, "f/x", &st), ENOTDIR);

	/* "." and ".." */
	st = st_of(C, ".");
	st2 = st_of(C, D);
	assert_int_equal(st.st_ino, st2.st_ino);
	st = st_of(C, "d/..");
	assert_int_equal(st.st_ino, st2.st_ino);

	/* fstatat */
	dfd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fstatat(C, dfd, "l", &st, 0));
	assert_true(S_ISREG(st.st_mode));
	OK(uvfs_fstatat(C, dfd, "l", &st, AT_SYMLINK_NOFOLLOW));
	assert_true(S_ISLNK(st.st_mode));
	OK(uvfs_fstatat(C, dfd, "", &st, AT_EMPTY_PATH));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, st2.st_ino);
	ERR(uvfs_fstatat(C, dfd, "", &st, 0), ENOENT);
	OK(uvfs_fstatat(C, UVFS_AT_FDCWD, "f", &st, 0));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, UVFS_AT_FDCWD, "", &st, AT_EMPTY_PATH));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_close(C, dfd));

	/* fstat */
	fd = (int)OK(uvfs_open(C, "l", O_RDONLY, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, fd, "", &st2, AT_EMPTY_PATH));
	assert_int_equal(st2.st_ino, st.st_ino);
	OK(uvfs_close(C, fd));
}

static void test_access(void **state)
{
	(void)state;
	put(C, "f", "x");
	OK(uvfs_chmod(C, "f", 0644));
	OK(uvfs_access(C, "f", F_OK));
	OK(uvfs_access(C, "f", R_OK | W_OK));
	/* root needs one execute bit for X_OK */
	ERR(uvfs_access(C, "f", X_OK), EACCES);
	OK(uvfs_chmod(C, "f", 0100));
	OK(uvfs_access(C, "f", R_OK | W_OK | X_OK));
	ERR(uvfs_access(C, "missing", F_OK), ENOENT);
	ERR(uvfs_access(C, "f/x", F_OK), ENOTDIR);
	OK(uvfs_access(C, ".", R_OK | W_OK | X_OK));
}

/* ---- attributes -------------------------------------------------------- */

static void test_chmod(void **state)
{
	struct stat st, st2;
	int fd;

	(void)state;
	put(C, "f", "x");
	st = st_of(C, "f");
	sleep_ms(20);
	OK(uvfs_chmod(C, "f", 0600));
	st2 = st_of(C, "f");
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_true(ts_cmp(st2.st_ctim, st.st_ctim) > 0);
	assert_int_equal(ts_cmp(st2.st_mtim, st.st_mtim), 0);
	OK(uvfs_chmod(C, "f", 04755));
	assert_int_equal(st_of(C, "f").st_mode & 07777, 04755);
	/* follows symlinks */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_chmod(C, "l", 0640));
	assert_int_equal(st_of(C, "f").st_mode & 07777, 0640);
	assert_true(S_ISLNK(lst_of(C, "l").st_mode));
	/* directories */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_chmod(C, "d", 0700));
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* fchmod */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fchmod(C, fd, 0444));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0444);
	OK(uvfs_close(C, fd));
	ERR(uvfs_chmod(C, "missing", 0644), ENOENT);
	ERR(uvfs_chmod(C, "f/x", 0644), ENOTDIR);
}

/* A file made with set-id bits in its mode keeps them (an NFS create that
 * also named its owner lost them to the server's chown after it). */
static void test_create_setid_mode(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "u", O_CREAT | O_EXCL | O_WRONLY, 04755));
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "u").st_mode & 07777, 04755);
	fd = (int)OK(uvfs_open(C, "g", O_CREAT | O_WRONLY, 02755));
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "g").st_mode & 07777, 02755);
}

static void test_chown(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_chown(C, "f", 1000, 2000));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	OK(uvfs_chown(C, "f", (uid_t)-1, 3000));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 3000);
	OK(uvfs_chown(C, "f", 4000, (gid_t)-1));
	st = st_of(C, "f");
	assert_int_equal(st.st_uid, 4000);
	assert_int_equal(st.st_gid, 3000);
	/* chown follows, lchown does not */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_chown(C, "l", 5, 6));
	assert_int_equal(st_of(C, "f").st_uid, 5);
	assert_int_equal(lst_of(C, "l").st_uid, 0);
	OK(uvfs_lchown(C, "l", 7, 8));
	st = lst_of(C, "l");
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);
	assert_int_equal(st_of(C, "f").st_uid, 5);
	/* fchown */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fchown(C, fd, 0, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	OK(uvfs_close(C, fd));
	ERR(uvfs_chown(C, "missing", 1, 1), ENOENT);
	ERR(uvfs_lchown(C, "missing", 1, 1), ENOENT);
}

static void test_utimens(void **state)
{
	struct timespec t[2], before, after;
	struct stat st, st2;
	int fd;

	(void)state;
	put(C, "f", "x");
	t[0].tv_sec = 1000000;
	t[0].tv_nsec = 0;
	t[1].tv_sec = 2000000;
	t[1].tv_nsec = 0;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	st = st_of(C, "f");
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	/* UTIME_OMIT */
	t[0].tv_nsec = UTIME_OMIT;
	t[1].tv_sec = 3000000;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	st = st_of(C, "f");
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 3000000);
	/* UTIME_NOW for the atime only */
	clock_gettime(CLOCK_REALTIME, &before);
	t[0].tv_nsec = UTIME_NOW;
	t[1].tv_nsec = UTIME_OMIT;
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0));
	clock_gettime(CLOCK_REALTIME, &after);
	st = st_of(C, "f");
	assert_true(st.st_atim.tv_sec >= before.tv_sec - 1);
	assert_true(st.st_atim.tv_sec <= after.tv_sec + 1);
	assert_int_equal(st.st_mtim.tv_sec, 3000000);
	/* NULL: both now; the ctime moves too */
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", NULL, 0));
	st = st_of(C, "f");
	assert_true(st.st_mtim.tv_sec >= before.tv_sec - 1);
	assert_true(st.st_ctim.tv_sec >= before.tv_sec - 1);
	t[0].tv_sec = 5;
	t[0].tv_nsec = 0;
	t[1].tv_sec = 6;
	t[1].tv_nsec = 0;
	/* on a symlink itself */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_utimensat(C, UVFS_AT_FDCWD, "l", t, AT_SYMLINK_NOFOLLOW));
	st = lst_of(C, "l");
	assert_int_equal(st.st_mtim.tv_sec, 6);
	st2 = st_of(C, "f");
	assert_true(st2.st_mtim.tv_sec != 6);
	/* relative to a dirfd */
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_utimensat(C, fd, "f", t, 0));
	assert_int_equal(st_of(C, "f").st_mtim.tv_sec, 6);
	OK(uvfs_close(C, fd));
	/* futimens */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	t[1].tv_sec = 7;
	OK(uvfs_futimens(C, fd, t));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mtim.tv_sec, 7);
	assert_int_equal(st.st_atim.tv_sec, 5);
	OK(uvfs_futimens(C, fd, NULL));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(st.st_mtim.tv_sec >= before.tv_sec - 1);
	OK(uvfs_close(C, fd));
	/* errors */
	t[0].tv_nsec = 1000000000L;
	ERR(uvfs_utimensat(C, UVFS_AT_FDCWD, "f", t, 0), EINVAL);
	t[0].tv_nsec = 0;
	ERR(uvfs_utimensat(C, UVFS_AT_FDCWD, "missing", t, 0), ENOENT);
}

static void test_times_change(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/f", "x");
	/* write moves mtime and ctime */
	age("d/f");
	fd = (int)OK(uvfs_open(C, "d/f", O_WRONLY, 0));
	OK(uvfs_write(C, fd, "y", 1));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(st.st_mtim.tv_sec > 1000);
	assert_int_equal(st.st_atim.tv_sec, 1000);
	OK(uvfs_close(C, fd));
	/* truncate moves mtime */
	age("d/f");
	OK(uvfs_truncate(C, "d/f", 0));
	assert_true(st_of(C, "d/f").st_mtim.tv_sec > 1000);
	/* creating, removing and renaming in a directory move its mtime */
	age("d");
	put(C, "d/g", "g");
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_unlink(C, "d/g"));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_rename(C, "d/f", "d/f2", 0));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	age("d");
	OK(uvfs_mkdir(C, "d/sub", 0755));
	assert_true(st_of(C, "d").st_mtim.tv_sec > 1000);
	/* a read moves nothing but maybe atime */
	age("d/f2");
	fd = (int)OK(uvfs_open(C, "d/f2", O_RDONLY, 0));
	{
		char b[4];

		OK(uvfs_read(C, fd, b, sizeof(b)));
	}
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mtim.tv_sec, 1000);
	OK(uvfs_close(C, fd));
}

static void test_mknod(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mknod(C, "fifo", S_IFIFO | 0644, 0));
	st = lst_of(C, "fifo");
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_mknod(C, "reg", S_IFREG | 0600, 0));
	st = lst_of(C, "reg");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	OK(uvfs_mknod(C, "null", S_IFCHR | 0666, makedev(1, 3)));
	st = lst_of(C, "null");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	ERR(uvfs_mknod(C, "fifo", S_IFIFO | 0644, 0), EEXIST);
	ERR(uvfs_mknod(C, "missing/x", S_IFIFO | 0644, 0), ENOENT);
	ERR2(uvfs_mknod(C, "dir", S_IFDIR | 0755, 0), EPERM, EINVAL);
}

static void test_fsync(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_write(C, fd, "x", 1));
	OK(uvfs_fsync(C, fd));
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fsync(C, fd));
	OK(uvfs_close(C, fd));
}

/* ---- permissions ------------------------------------------------------- */

/* getcwd needs no search permission on the way up (Linux). */
static void test_getcwd_without_search(void **state)
{
	struct uvfs_ctx *u;
	char buf[1024];

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	OK(uvfs_mkdir(C, "a/b", 0755));
	u = new_ctx(1000, 1000);
	OK(uvfs_chdir(u, "a/b"));
	OK(uvfs_chmod(C, "a", 0700));   /* u may no longer search a */
	OK(uvfs_getcwd(u, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("a/b"));
	OK(uvfs_chmod(C, "a", 0755));
}

static void test_perm_basic(void **state)
{
	struct uvfs_ctx *u;
	struct stat st;
	char buf[8];
	int fd;

	(void)state;
	put(C, "secret", "s");
	OK(uvfs_chmod(C, "secret", 0600));
	put(C, "public", "p");
	OK(uvfs_chmod(C, "public", 0644));
	OK(uvfs_mkdir(C, "rootdir", 0755));
	put(C, "rootdir/rf", "r");
	OK(uvfs_mkdir(C, "priv", 0700));
	put(C, "priv/x", "x");
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));

	u = new_ctx(1000, 1000);
	ERR(uvfs_open(u, "secret", O_RDONLY, 0), EACCES);
	ERR(uvfs_open(u, "secret", O_WRONLY, 0), EACCES);
	ERR(uvfs_access(u, "secret", R_OK), EACCES);
	OK(uvfs_access(u, "secret", F_OK));
	OK(uvfs_stat(u, "secret", &st));
	ASSERT_CONTENT(u, "public", "p");
	ERR(uvfs_open(u, "public", O_RDWR, 0), EACCES);
	ERR(uvfs_open(u, "public", O_RDONLY | O_TRUNC, 0), EACCES);
	ASSERT_CONTENT(u, "public", "p");
	ERR(uvfs_truncate(u, "public", 0), EACCES);
	/* O_PATH needs no permission on the file */
	fd = (int)OK(uvfs_open(u, "secret", O_PATH, 0));
	OK(uvfs_fstat(u, fd, &st));
	ERR(uvfs_read(u, fd, buf, 1), EBADF);
	OK(uvfs_close(u, fd));
	/* a root-owned 0755 directory */
	ERR(uvfs_open(u, "rootdir/new", O_CREAT | O_WRONLY, 0644), EACCES);
	ERR(uvfs_mkdir(u, "rootdir/nd", 0755), EACCES);
	ERR(uvfs_unlink(u, "rootdir/rf"), EACCES);
	ERR(uvfs_rename(u, "rootdir/rf", "pub/rf", 0), EACCES);
	ERR(uvfs_symlink(u, "x", "rootdir/l"), EACCES);
	ERR2(uvfs_link(u, "public", "rootdir/l"), EACCES, EPERM);
	ASSERT_CONTENT(u, "rootdir/rf", "r");
	/* search permission */
	ERR(uvfs_stat(u, "priv/x", &st), EACCES);
	ERR(uvfs_open(u, "priv/x", O_RDONLY, 0), EACCES);
	ERR(uvfs_chdir(u, "priv"), EACCES);
	fd = (int)OK(uvfs_open(C, "priv", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_fchdir(u, fd), EBADF); /* another context's descriptor */
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(u, "priv", O_RDONLY | O_DIRECTORY, 0), EACCES);
	/* a 0777 directory */
	fd = (int)OK(uvfs_open(u, "pub/mine", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "pub/mydir", 0777));
	st = st_of(C, "pub/mydir");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mode & 07777, 0755);
	OK(uvfs_symlink(u, "mine", "pub/mylink"));
	assert_int_equal(lst_of(C, "pub/mylink").st_uid, 1000);
	/* the owner's bits decide, even when others' would allow */
	OK(uvfs_chmod(u, "pub/mine", 0066));
	ERR(uvfs_open(u, "pub/mine", O_RDONLY, 0), EACCES);
	OK(uvfs_chmod(u, "pub/mine", 0444));
	ERR(uvfs_open(u, "pub/mine", O_WRONLY, 0), EACCES);
	/* root is not bound by the mode */
	ASSERT_CONTENT(C, "pub/mine", "");
	fd = (int)OK(uvfs_open(C, "pub/mine", O_WRONLY, 0));
	OK(uvfs_close(C, fd));
	/* group bits */
	OK(uvfs_chown(C, "secret", 0, 1000));
	OK(uvfs_chmod(C, "secret", 0640));
	ASSERT_CONTENT(u, "secret", "s");
	/* supplementary groups */
	{
		struct uvfs_cred cred = { .uid = 1001, .gid = 1001,
					  .ngroups = 2,
					  .groups = { 1001, 1000 } };

		OK(uvfs_ctx_set_cred(u, &cred));
		ASSERT_CONTENT(u, "secret", "s");
	}
	/* chroot needs root */
	ERR(uvfs_chroot(u, "pub"), EPERM);
}

static void test_perm_owner(void **state)
{
	struct uvfs_ctx *u, *v;
	struct timespec t[2] = { { 100, 0 }, { 200, 0 } };
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000, .ngroups = 2,
				  .groups = { 1000, 2000 } };
	struct stat st;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));
	put(C, "pub/rootfile", "r");
	OK(uvfs_chmod(C, "pub/rootfile", 0666));
	u = new_ctx(1000, 1000);
	OK(uvfs_ctx_set_cred(u, &cred));
	v = new_ctx(1001, 1001);
	fd = (int)OK(uvfs_open(u, "pub/f", O_CREAT | O_WRONLY, 0644));

	/* chmod: only the owner (or root) */
	ERR(uvfs_chmod(u, "pub/rootfile", 0777), EPERM);
	ERR(uvfs_chmod(v, "pub/f", 0777), EPERM);
	OK(uvfs_chmod(u, "pub/f", 0664));
	OK(uvfs_fchmod(u, fd, 0660));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 0660);
	/* chown: not to another uid; to a group of one's own */
	ERR(uvfs_chown(u, "pub/f", 1001, (gid_t)-1), EPERM);
	ERR(uvfs_fchown(u, fd, 0, (gid_t)-1), EPERM);
	ERR(uvfs_chown(u, "pub/f", (uid_t)-1, 3000), EPERM);
	ERR(uvfs_chown(v, "pub/f", (uid_t)-1, 1001), EPERM);
	ERR(uvfs_chown(u, "pub/rootfile", 1000, 1000), EPERM);
	OK(uvfs_chown(u, "pub/f", (uid_t)-1, 2000));
	OK(uvfs_chown(u, "pub/f", 1000, (gid_t)-1)); /* to oneself is fine */
	st = st_of(C, "pub/f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	/* set-group-ID: kept for a group of one's own, cleared otherwise */
	OK(uvfs_chmod(u, "pub/f", 02755));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 02755);
	OK(uvfs_chown(C, "pub/f", (uid_t)-1, 3000));
	OK(uvfs_chmod(u, "pub/f", 02755));
	assert_int_equal(st_of(C, "pub/f").st_mode & 07777, 0755);
	OK(uvfs_chown(C, "pub/f", (uid_t)-1, 2000));
	OK(uvfs_chmod(u, "pub/f", 0660));
	/* times: explicit only by the owner; "now" with write access */
	ERR(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/rootfile", t, 0), EPERM);
	OK(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/rootfile", NULL, 0));
	ERR(uvfs_utimensat(v, UVFS_AT_FDCWD, "pub/f", NULL, 0), EACCES);
	OK(uvfs_utimensat(u, UVFS_AT_FDCWD, "pub/f", t, 0));
	OK(uvfs_futimens(u, fd, t));
	assert_int_equal(st_of(C, "pub/f").st_mtim.tv_sec, 200);
	OK(uvfs_close(u, fd));
}

static void test_perm_sticky(void **state)
{
	struct uvfs_ctx *a, *b;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "tmp", 0777));
	OK(uvfs_chmod(C, "tmp", 01777));
	assert_int_equal(st_of(C, "tmp").st_mode & 07777, 01777);
	a = new_ctx(1000, 1000);
	b = new_ctx(1001, 1001);
	fd = (int)OK(uvfs_open(a, "tmp/af", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_close(a, fd));
	OK(uvfs_chmod(a, "tmp/af", 0666));
	OK(uvfs_mkdir(a, "tmp/ad", 0777));
	fd = (int)OK(uvfs_open(b, "tmp/bf", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_close(b, fd));
	ERR(uvfs_unlink(b, "tmp/af"), EPERM);
	ERR(uvfs_rename(b, "tmp/af", "tmp/stolen", 0), EPERM);
	ERR(uvfs_rename(b, "tmp/bf", "tmp/af", 0), EPERM);
	ERR(uvfs_rmdir(b, "tmp/ad"), EPERM);
	/* but b can write it */
	fd = (int)OK(uvfs_open(b, "tmp/af", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_write(b, fd, "b", 1));
	OK(uvfs_close(b, fd));
	/* the owner and root can remove */
	OK(uvfs_unlink(a, "tmp/af"));
	OK(uvfs_unlink(C, "tmp/bf"));
	OK(uvfs_rmdir(a, "tmp/ad"));
	/* the directory's owner can remove too */
	OK(uvfs_mkdir(C, "tmp2", 0777));
	OK(uvfs_chmod(C, "tmp2", 01777));
	OK(uvfs_chown(C, "tmp2", 1001, 1001));
	put(a, "tmp2/af", "a");
	OK(uvfs_unlink(b, "tmp2/af"));
}

static void test_perm_setgid_umask(void **state)
{
	struct uvfs_ctx *u;
	struct stat st;
	mode_t old;
	int fd;

	(void)state;
	OK(uvfs_mkdir(C, "sg", 0777));
	OK(uvfs_chown(C, "sg", 0, 500));
	OK(uvfs_chmod(C, "sg", 02777));
	u = new_ctx(1000, 1000);
	fd = (int)OK(uvfs_open(u, "sg/f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 500);
	assert_int_equal(st.st_mode & S_ISGID, 0);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "sg/d", 0755));
	st = st_of(C, "sg/d");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 500);
	assert_true(st.st_mode & S_ISGID);
	/* and on down */
	OK(uvfs_mkdir(u, "sg/d/e", 0755));
	st = st_of(C, "sg/d/e");
	assert_int_equal(st.st_gid, 500);
	assert_true(st.st_mode & S_ISGID);
	/* without setgid: the creator's gid */
	OK(uvfs_mkdir(C, "plain", 0777));
	OK(uvfs_chown(C, "plain", 0, 500));
	OK(uvfs_chmod(C, "plain", 0777));
	fd = (int)OK(uvfs_open(u, "plain/f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_gid, 1000);
	OK(uvfs_close(u, fd));

	/* umask */
	old = uvfs_umask(u, 077);
	assert_int_equal(old, 022);
	assert_int_equal(uvfs_umask(u, 077), 077);
	fd = (int)OK(uvfs_open(u, "plain/m", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0600);
	OK(uvfs_close(u, fd));
	OK(uvfs_mkdir(u, "plain/md", 0777));
	assert_int_equal(st_of(C, "plain/md").st_mode & 07777, 0700);
	OK(uvfs_mknod(u, "plain/fifo", S_IFIFO | 0666, 0));
	assert_int_equal(lst_of(C, "plain/fifo").st_mode & 07777, 0600);
	uvfs_umask(u, 0);
	fd = (int)OK(uvfs_open(u, "plain/z", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(u, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0666);
	OK(uvfs_close(u, fd));
	/* chmod is not masked */
	uvfs_umask(u, 077);
	OK(uvfs_chmod(u, "plain/z", 0777));
	assert_int_equal(st_of(C, "plain/z").st_mode & 07777, 0777);
}

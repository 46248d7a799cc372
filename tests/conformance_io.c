/*
 * conformance_io.c - the conformance body's tests of opening and of data:
 * open's flags (O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY,
 * O_NOFOLLOW, O_PATH), openat, read and write, holes, truncate and the
 * times it moves, descriptors (dup, close, EBADF) and O_DIRECT.
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- open -------------------------------------------------------------- */

static void test_open_creat(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	ERR(uvfs_open(C, "f", O_RDONLY, 0), ENOENT);
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0666));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644); /* umask 022 */
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_uid, 0);
	OK(uvfs_close(C, fd));
	/* O_CREAT without O_EXCL on an existing file opens it */
	put(C, "f", "data");
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0600));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_mode & 07777, 0644);
	OK(uvfs_close(C, fd));
	/* a missing directory on the way */
	ERR(uvfs_open(C, "nodir/f", O_CREAT | O_WRONLY, 0644), ENOENT);
	ERR(uvfs_open(C, "", O_RDONLY, 0), ENOENT);
	/* a file as a directory */
	ERR(uvfs_open(C, "f/g", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	/* O_CREAT through a dangling symlink creates its target */
	OK(uvfs_symlink(C, "target", "dangle"));
	fd = (int)OK(uvfs_open(C, "dangle", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	st = lst_of(C, "target");
	assert_true(S_ISREG(st.st_mode));
	/* O_CREAT on an existing directory */
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "d", O_CREAT | O_WRONLY, 0644), EISDIR);
	/* absolute path */
	fd = (int)OK(uvfs_open(C, abs_path("f"), O_RDONLY, 0));
	OK(uvfs_close(C, fd));
}

static void test_open_excl(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "d", O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
	/* O_EXCL never follows a symlink: EEXIST even when it dangles */
	OK(uvfs_symlink(C, "f", "l"));
	ERR(uvfs_open(C, "l", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	OK(uvfs_symlink(C, "missing", "dl"));
	ERR(uvfs_open(C, "dl", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	assert_false(exists(C, "missing"));
}

static void test_open_trunc(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "hello");
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 0);
	OK(uvfs_write(C, fd, "x", 1));
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "f", "x");
	fd = (int)OK(uvfs_open(C, "f", O_RDWR | O_CREAT | O_TRUNC, 0644));
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "f").st_size, 0);
}

static bool ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* O_TRUNC of a file that is empty already still moves its mtime and
 * ctime, as Linux's do_truncate for an open (ATTR_MTIME|ATTR_CTIME at
 * any size; truncate(2) to the size a file has moves nothing). */
static void test_open_trunc_empty(void **state)
{
	struct timespec pause = { 0, 50 * 1000000L };
	struct stat before, after;
	int fd;

	(void)state;
	put(C, "e", "");
	age("e");
	before = st_of(C, "e");
	assert_int_equal(before.st_mtim.tv_sec, 1000);
	nanosleep(&pause, NULL);        /* past a coarse clock's tick */
	fd = (int)OK(uvfs_open(C, "e", O_WRONLY | O_TRUNC, 0));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_int_equal(after.st_size, 0);
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	/* the same through O_RDWR|O_CREAT on the existing file */
	age("e");
	before = st_of(C, "e");
	nanosleep(&pause, NULL);
	fd = (int)OK(uvfs_open(C, "e", O_RDWR | O_CREAT | O_TRUNC, 0644));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	/* without O_TRUNC an open for writing moves nothing */
	age("e");
	before = st_of(C, "e");
	nanosleep(&pause, NULL);
	fd = (int)OK(uvfs_open(C, "e", O_WRONLY, 0));
	OK(uvfs_close(C, fd));
	after = st_of(C, "e");
	assert_int_equal(after.st_mtim.tv_sec, 1000);
	assert_false(ts_after(after.st_ctim, before.st_ctim));
}

/* ftruncate(2) moves mtime and ctime even to the size the file has
 * (Linux's do_ftruncate passes ATTR_MTIME|ATTR_CTIME); truncate(2) to the
 * same size is left to the file system. */
static void test_ftruncate_same_size_times(void **state)
{
	struct timespec pause = { 0, 50 * 1000000L };
	struct stat before, after;
	int fd;

	(void)state;
	put(C, "s", "abc");
	age("s");
	before = st_of(C, "s");
	nanosleep(&pause, NULL);        /* past a coarse clock's tick */
	fd = (int)OK(uvfs_open(C, "s", O_WRONLY, 0));
	OK(uvfs_ftruncate(C, fd, 3));
	OK(uvfs_close(C, fd));
	after = st_of(C, "s");
	assert_int_equal(after.st_size, 3);
	assert_true(after.st_mtim.tv_sec > 1000);
	assert_true(ts_after(after.st_ctim, before.st_ctim));
	ASSERT_CONTENT(C, "s", "abc");
}

static void test_open_append(void **state)
{
	int fd, fd2;

	(void)state;
	put(C, "f", "ab");
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_APPEND, 0));
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_write(C, fd, "cd", 2)), 2);
	/* the offset is at the end after an appending write */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 4);
	fd2 = (int)OK(uvfs_open(C, "f", O_RDWR | O_APPEND, 0));
	OK(uvfs_write(C, fd2, "1", 1));
	OK(uvfs_lseek(C, fd, 1, SEEK_SET));
	OK(uvfs_write(C, fd, "2", 1));
	OK(uvfs_lseek(C, fd2, 0, SEEK_SET));
	OK(uvfs_write(C, fd2, "3", 1));
	OK(uvfs_close(C, fd));
	OK(uvfs_close(C, fd2));
	ASSERT_CONTENT(C, "f", "abcd123");
}

static void test_open_directory(void **state)
{
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_open(C, "f", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
	fd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, "d", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "d", O_WRONLY, 0), EISDIR);
	ERR(uvfs_open(C, "d", O_RDWR, 0), EISDIR);
	/* O_DIRECTORY follows a symlink to a directory, not to a file */
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_symlink(C, "f", "lf"));
	fd = (int)OK(uvfs_open(C, "ld", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_close(C, fd));
	ERR(uvfs_open(C, "lf", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
}

static void test_open_nofollow(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_symlink(C, "f", "l"));
	ERR(uvfs_open(C, "l", O_RDONLY | O_NOFOLLOW, 0), ELOOP);
	ERR(uvfs_open(C, "l", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), ELOOP);
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY | O_NOFOLLOW, 0));
	OK(uvfs_close(C, fd));
	/* only the last component is not followed */
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/g", "y");
	OK(uvfs_symlink(C, "d", "ld"));
	fd = (int)OK(uvfs_open(C, "ld/g", O_RDONLY | O_NOFOLLOW, 0));
	OK(uvfs_close(C, fd));
	/* O_PATH | O_NOFOLLOW opens the symlink itself */
	fd = (int)OK(uvfs_open(C, "l", O_PATH | O_NOFOLLOW, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISLNK(st.st_mode));
	OK(uvfs_close(C, fd));
}

static void test_open_path(void **state)
{
	struct uvfs_dirent de[4];
	struct stat st;
	char buf[8];
	int fd, dfd, fd2;

	(void)state;
	put(C, "f", "hello");
	fd = (int)OK(uvfs_open(C, "f", O_PATH, 0));
	ERR(uvfs_read(C, fd, buf, sizeof(buf)), EBADF);
	ERR(uvfs_write(C, fd, "x", 1), EBADF);
	ERR(uvfs_pread(C, fd, buf, sizeof(buf), 0), EBADF);
	OK(uvfs_fstat(C, fd, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_fstatat(C, fd, "", &st, AT_EMPTY_PATH));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(C, fd));

	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/g", "inner");
	dfd = (int)OK(uvfs_open(C, "d", O_PATH | O_DIRECTORY, 0));
	ERR(uvfs_readdir(C, dfd, de, 4), EBADF);
	fd2 = (int)OK(uvfs_openat(C, dfd, "g", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_read(C, fd2, buf, sizeof(buf))), 5);
	assert_memory_equal(buf, "inner", 5);
	OK(uvfs_close(C, fd2));
	OK(uvfs_fstatat(C, dfd, "g", &st, 0));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(C, dfd));
}

static void test_openat(void **state)
{
	struct stat st;
	int dfd, fd, ffd;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	fd = (int)OK(uvfs_openat(C, dfd, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_write(C, fd, "at", 2));
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "d/f", "at");
	/* relative to the cwd */
	fd = (int)OK(uvfs_openat(C, UVFS_AT_FDCWD, "d/f", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* an absolute path ignores dirfd */
	put(C, "top", "t");
	fd = (int)OK(uvfs_openat(C, dfd, abs_path("top"), O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* "..": relative to dirfd */
	fd = (int)OK(uvfs_openat(C, dfd, "../top", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
	/* a file as dirfd */
	ffd = (int)OK(uvfs_open(C, "top", O_RDONLY, 0));
	ERR(uvfs_openat(C, ffd, "x", O_RDONLY, 0), ENOTDIR);
	ERR(uvfs_mkdirat(C, ffd, "x", 0755), ENOTDIR);
	OK(uvfs_close(C, ffd));
	/* the *at family */
	OK(uvfs_mkdirat(C, dfd, "sub", 0700));
	st = st_of(C, "d/sub");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	OK(uvfs_fstatat(C, dfd, "f", &st, 0));
	assert_int_equal(st.st_size, 2);
	OK(uvfs_renameat2(C, dfd, "f", UVFS_AT_FDCWD, "moved", 0));
	ASSERT_CONTENT(C, "moved", "at");
	ERR(uvfs_unlinkat(C, dfd, "f", 0), ENOENT);
	ERR(uvfs_unlinkat(C, dfd, "sub", 0), EISDIR);
	OK(uvfs_unlinkat(C, dfd, "sub", AT_REMOVEDIR));
	assert_false(exists(C, "d/sub"));
	ERR(uvfs_unlinkat(C, UVFS_AT_FDCWD, "moved", AT_REMOVEDIR), ENOTDIR);
	OK(uvfs_unlinkat(C, UVFS_AT_FDCWD, "moved", 0));
	OK(uvfs_close(C, dfd));
}

/* ---- data -------------------------------------------------------------- */

static void test_read_write(void **state)
{
	char buf[64];
	int fd, rfd, wfd, dfd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_write(C, fd, "hello world", 11)), 11);
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 0);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_read(C, fd, buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(OK(uvfs_lseek(C, fd, 1, SEEK_CUR)), 6);
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(OK(uvfs_lseek(C, fd, -5, SEEK_END)), 6);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_END)), 11);
	ERR(uvfs_lseek(C, fd, -1, SEEK_SET), EINVAL);
	ERR(uvfs_lseek(C, fd, -20, SEEK_END), EINVAL);
	ERR(uvfs_lseek(C, fd, -12, SEEK_CUR), EINVAL);
	ERR(uvfs_lseek(C, fd, 0, 12345), EINVAL);
	/* the offset did not move on the failures */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 11);
	/* pread/pwrite leave the offset alone */
	assert_int_equal(OK(uvfs_lseek(C, fd, 2, SEEK_SET)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, 5, 6)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(OK(uvfs_pwrite(C, fd, "W", 1, 6)), 1);
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 100)), 0);
	ERR(uvfs_pread(C, fd, buf, 1, -1), EINVAL);
	ERR(uvfs_pwrite(C, fd, "x", 1, -1), EINVAL);
	/* a zero-length read and write */
	assert_int_equal(OK(uvfs_read(C, fd, buf, 0)), 0);
	assert_int_equal(OK(uvfs_write(C, fd, buf, 0)), 0);
	OK(uvfs_close(C, fd));
	ASSERT_CONTENT(C, "f", "hello World");

	/* access modes */
	rfd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	wfd = (int)OK(uvfs_open(C, "f", O_WRONLY, 0));
	ERR(uvfs_write(C, rfd, "x", 1), EBADF);
	ERR(uvfs_pwrite(C, rfd, "x", 1, 0), EBADF);
	ERR(uvfs_read(C, wfd, buf, 1), EBADF);
	ERR(uvfs_pread(C, wfd, buf, 1, 0), EBADF);
	OK(uvfs_close(C, rfd));
	OK(uvfs_close(C, wfd));

	/* read on a directory */
	OK(uvfs_mkdir(C, "d", 0755));
	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_read(C, dfd, buf, 1), EISDIR);
	OK(uvfs_close(C, dfd));

	/* writes past the end after lseek */
	fd = (int)OK(uvfs_open(C, "g", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_lseek(C, fd, 10, SEEK_SET)), 10);
	OK(uvfs_write(C, fd, "z", 1));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 11);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0\0\0z", 11);
	OK(uvfs_close(C, fd));
}

static void test_holes(void **state)
{
	static char big[70000];
	char buf[4096];
	struct stat st;
	size_t i;
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "x", 1, 1 << 20)), 1);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, (1 << 20) + 1);
	memset(buf, 'q', sizeof(buf));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)),
			 sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != 0)
			fail_msg("byte %zu of a hole is %d", i, buf[i]);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, 20, (1 << 20) - 10)), 11);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[10], 'x');
	/* a large write and read back, across any block size */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	assert_int_equal(OK(uvfs_pwrite(C, fd, big, sizeof(big), 12345)),
			 sizeof(big));
	{
		static char back[70000];
		size_t got = 0;
		ssize_t r;

		while (got < sizeof(back)) {
			r = OK(uvfs_pread(C, fd, back + got,
					  sizeof(back) - got,
					  12345 + (off_t)got));
			assert_true(r > 0);
			got += (size_t)r;
		}
		assert_memory_equal(back, big, sizeof(big));
	}
	OK(uvfs_close(C, fd));
}

static void test_truncate(void **state)
{
	char buf[128];
	struct stat st;
	int fd, rfd;

	(void)state;
	put(C, "f", "hello");
	OK(uvfs_truncate(C, "f", 100));
	assert_int_equal(st_of(C, "f").st_size, 100);
	assert_int_equal(get(C, "f", buf, sizeof(buf)), 100);
	assert_memory_equal(buf, "hello\0\0\0", 8);
	assert_int_equal(buf[99], 0);
	OK(uvfs_truncate(C, "f", 3));
	assert_int_equal(st_of(C, "f").st_size, 3);
	/* what was cut off does not come back when growing again */
	OK(uvfs_truncate(C, "f", 5));
	assert_int_equal(get(C, "f", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hel\0\0", 5);
	ERR(uvfs_truncate(C, "f", -1), EINVAL);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_truncate(C, "d", 0), EISDIR);
	ERR(uvfs_truncate(C, "missing", 0), ENOENT);
	ERR(uvfs_truncate(C, "f/x", 0), ENOTDIR);
	/* through a symlink */
	OK(uvfs_symlink(C, "f", "l"));
	OK(uvfs_truncate(C, "l", 1));
	assert_int_equal(st_of(C, "f").st_size, 1);

	fd = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	OK(uvfs_ftruncate(C, fd, 4096));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 4096);
	OK(uvfs_ftruncate(C, fd, 0));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 0);
	ERR(uvfs_ftruncate(C, fd, -5), EINVAL);
	OK(uvfs_close(C, fd));
	/* ftruncate needs a descriptor open for writing */
	rfd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	ERR2(uvfs_ftruncate(C, rfd, 0), EINVAL, EBADF);
	OK(uvfs_close(C, rfd));
	rfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR2(uvfs_ftruncate(C, rfd, 0), EINVAL, EBADF);
	OK(uvfs_close(C, rfd));
}

/* ---- descriptors ------------------------------------------------------- */

static void test_dup(void **state)
{
	char buf[16];
	int fd, fd2, fd3, other;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	OK(uvfs_write(C, fd, "abcdef", 6));
	fd2 = (int)OK(uvfs_dup(C, fd));
	assert_int_not_equal(fd2, fd);
	/* one offset for both */
	assert_int_equal(OK(uvfs_lseek(C, fd2, 0, SEEK_CUR)), 6);
	OK(uvfs_lseek(C, fd2, 1, SEEK_SET));
	assert_int_equal(OK(uvfs_read(C, fd, buf, 2)), 2);
	assert_memory_equal(buf, "bc", 2);
	assert_int_equal(OK(uvfs_lseek(C, fd2, 0, SEEK_CUR)), 3);
	/* dup2 to a free number */
	assert_int_equal(OK(uvfs_dup2(C, fd, 57)), 57);
	assert_int_equal(OK(uvfs_read(C, 57, buf, 1)), 1);
	assert_int_equal(buf[0], 'd');
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 4);
	/* dup2 onto an open descriptor closes it first */
	put(C, "g", "GGG");
	other = (int)OK(uvfs_open(C, "g", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_dup2(C, fd, other)), other);
	assert_int_equal(OK(uvfs_read(C, other, buf, sizeof(buf))), 2);
	assert_memory_equal(buf, "ef", 2);
	/* onto itself */
	assert_int_equal(OK(uvfs_dup2(C, fd, fd)), fd);
	/* closing one leaves the others */
	OK(uvfs_close(C, fd));
	OK(uvfs_lseek(C, fd2, 0, SEEK_SET));
	assert_int_equal(OK(uvfs_read(C, 57, buf, 3)), 3);
	assert_memory_equal(buf, "abc", 3);
	/* the lowest free number */
	fd3 = (int)OK(uvfs_dup(C, fd2));
	assert_int_equal(fd3, fd);
	OK(uvfs_close(C, fd2));
	OK(uvfs_close(C, fd3));
	OK(uvfs_close(C, 57));
	OK(uvfs_close(C, other));
	ERR(uvfs_dup(C, fd), EBADF);
	ERR(uvfs_dup2(C, fd, 60), EBADF);
	ERR(uvfs_dup2(C, fd, fd), EBADF);
	fd = (int)OK(uvfs_open(C, "g", O_RDONLY, 0));
	ERR(uvfs_dup2(C, fd, -1), EBADF);
	OK(uvfs_close(C, fd));
}

static void test_close(void **state)
{
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	ERR(uvfs_close(C, fd), EBADF);
	ERR(uvfs_close(C, -1), EBADF);
	ERR(uvfs_close(C, 100000), EBADF);
	/* numbers are reused lowest first */
	assert_int_equal(OK(uvfs_open(C, "f", O_RDONLY, 0)), fd);
	OK(uvfs_close(C, fd));
	/* descriptors belong to their context */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		int fd2 = (int)OK(uvfs_open(c2, "f", O_RDONLY, 0));
		struct stat st;

		fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
		OK(uvfs_close(c2, fd2));
		OK(uvfs_fstat(C, fd, &st));
		OK(uvfs_close(C, fd));
		ERR(uvfs_fstat(c2, fd2, &st), EBADF);
	}
}

static void test_ebadf(void **state)
{
	static const int bad[] = { -1, -5, 99999, 0 };
	struct uvfs_dirent de[2];
	struct timespec t[2] = { { 1, 0 }, { 1, 0 } };
	struct stat st;
	char buf[8];
	size_t i;

	(void)state;
	put(C, "f", "x");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = bad[i];

		if (fd == 0) {
			/* a number that was valid once */
			fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
			OK(uvfs_close(C, fd));
		}
		ERR(uvfs_read(C, fd, buf, 1), EBADF);
		ERR(uvfs_write(C, fd, "x", 1), EBADF);
		ERR(uvfs_pread(C, fd, buf, 1, 0), EBADF);
		ERR(uvfs_pwrite(C, fd, "x", 1, 0), EBADF);
		ERR(uvfs_lseek(C, fd, 0, SEEK_SET), EBADF);
		ERR(uvfs_fstat(C, fd, &st), EBADF);
		ERR(uvfs_fstatat(C, fd, "", &st, AT_EMPTY_PATH), EBADF);
		ERR(uvfs_fstatat(C, fd, "f", &st, 0), EBADF);
		ERR(uvfs_ftruncate(C, fd, 0), EBADF);
		ERR(uvfs_fsync(C, fd), EBADF);
		ERR(uvfs_fchmod(C, fd, 0644), EBADF);
		ERR(uvfs_fchown(C, fd, 0, 0), EBADF);
		ERR(uvfs_futimens(C, fd, t), EBADF);
		ERR(uvfs_fchdir(C, fd), EBADF);
		ERR(uvfs_readdir(C, fd, de, 2), EBADF);
		ERR(uvfs_dup(C, fd), EBADF);
		ERR(uvfs_dup2(C, fd, 10), EBADF);
		ERR(uvfs_close(C, fd), EBADF);
		ERR(uvfs_openat(C, fd, "f", O_RDONLY, 0), EBADF);
		ERR(uvfs_mkdirat(C, fd, "d", 0755), EBADF);
		ERR(uvfs_unlinkat(C, fd, "f", 0), EBADF);
		ERR(uvfs_renameat2(C, fd, "f", UVFS_AT_FDCWD, "g", 0), EBADF);
		ERR(uvfs_renameat2(C, UVFS_AT_FDCWD, "f", fd, "g", 0), EBADF);
		ERR(uvfs_utimensat(C, fd, "f", t, 0), EBADF);
	}
	/* an absolute path ignores even a bad dirfd */
	OK(uvfs_fstatat(C, 99999, abs_path("f"), &st, 0));
	assert_true(exists(C, "f"));
}

/* ---- O_DIRECT: a hint the file system may take; the data is the same */

static void test_o_direct(void **state)
{
	static char wbuf[8192] __attribute__((aligned(4096)));
	static char rbuf[8192] __attribute__((aligned(4096)));
	struct stat st;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (char)('a' + i % 23);
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR | O_DIRECT, 0644));
	assert_int_equal(OK(uvfs_write(C, fd, wbuf, 4096)), 4096);
	assert_int_equal(OK(uvfs_pwrite(C, fd, wbuf + 4096, 4096, 4096)),
			 4096);
	assert_int_equal(OK(uvfs_pread(C, fd, rbuf, 8192, 0)), 8192);
	assert_memory_equal(rbuf, wbuf, 8192);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_size, 8192);
	OK(uvfs_close(C, fd));
	/* an existing file opened O_DIRECT, read back without it */
	fd = (int)OK(uvfs_open(C, "f", O_RDWR | O_DIRECT, 0));
	memset(wbuf, 'Z', 4096);
	assert_int_equal(OK(uvfs_pwrite(C, fd, wbuf, 4096, 4096)), 4096);
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_pread(C, fd, rbuf, 8192, 0)), 8192);
	assert_memory_equal(rbuf + 4096, wbuf, 4096);
	assert_int_equal(rbuf[0], 'a');
	OK(uvfs_close(C, fd));
	/* a write-only and an appending O_DIRECT handle */
	fd = (int)OK(uvfs_open(C, "f", O_WRONLY | O_APPEND | O_DIRECT, 0));
	assert_int_equal(OK(uvfs_write(C, fd, wbuf, 4096)), 4096);
	OK(uvfs_close(C, fd));
	assert_int_equal(st_of(C, "f").st_size, 12288);
}

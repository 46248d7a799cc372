/*
 * conformance_links.c - the conformance body's tests of links: hard
 * links, symbolic links and readlink, symlink loops, and hard links that
 * outlive their first name (renamed, unlinked while open, a name reused
 * while the file it named is still open).
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- links ------------------------------------------------------------- */

static void test_link(void **state)
{
	struct stat st, st2;

	(void)state;
	put(C, "f", "data");
	OK(uvfs_link(C, "f", "g"));
	st = st_of(C, "f");
	st2 = st_of(C, "g");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st2.st_nlink, 2);
	assert_int_equal(st.st_ino, st2.st_ino);
	put(C, "g", "new");
	ASSERT_CONTENT(C, "f", "new");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_link(C, "f", "d/h"));
	assert_int_equal(st_of(C, "f").st_nlink, 3);
	OK(uvfs_unlink(C, "f"));
	assert_int_equal(st_of(C, "g").st_nlink, 2);
	OK(uvfs_unlink(C, "d/h"));
	assert_int_equal(st_of(C, "g").st_nlink, 1);
	ERR(uvfs_link(C, "d", "d2"), EPERM);
	put(C, "e", "e");
	ERR(uvfs_link(C, "g", "e"), EEXIST);
	ERR(uvfs_link(C, "g", "d"), EEXIST);
	ERR(uvfs_link(C, "missing", "m2"), ENOENT);
	ERR(uvfs_link(C, "g", "nodir/x"), ENOENT);
	ERR(uvfs_link(C, "g", "e/x"), ENOTDIR);
	assert_false(exists(C, "m2"));
}

static void test_symlink_readlink(void **state)
{
	char buf[512];
	struct stat st;
	const char *abst;

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	OK(uvfs_mkdir(C, "a/b", 0755));
	OK(uvfs_mkdir(C, "c", 0755));
	put(C, "c/f", "chain");

	OK(uvfs_symlink(C, "target", "l"));
	assert_int_equal(OK(uvfs_readlink(C, "l", buf, sizeof(buf))), 6);
	assert_memory_equal(buf, "target", 6);
	/* truncated, no NUL */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(OK(uvfs_readlink(C, "l", buf, 3)), 3);
	assert_memory_equal(buf, "tar#", 4);
	ERR(uvfs_readlink(C, "c/f", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_readlink(C, "c", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_readlink(C, "missing", buf, sizeof(buf)), ENOENT);
	ERR(uvfs_symlink(C, "x", "l"), EEXIST);
	ERR(uvfs_symlink(C, "x", "c"), EEXIST);
	ERR(uvfs_symlink(C, "x", "nodir/l"), ENOENT);
	ERR(uvfs_symlink(C, "", "empty"), ENOENT);

	/* relative: relative to the link's directory */
	OK(uvfs_symlink(C, "../c/f", "a/rel"));
	ASSERT_CONTENT(C, "a/rel", "chain");
	/* absolute */
	abst = abs_path("c/f");
	OK(uvfs_symlink(C, abst, "a/b/abs"));
	ASSERT_CONTENT(C, "a/b/abs", "chain");
	assert_int_equal(OK(uvfs_readlink(C, "a/b/abs", buf, sizeof(buf))),
			 strlen(abst));
	/* a chain through directories: l1 -> a/b/l2 -> ../../c */
	OK(uvfs_symlink(C, "a/b/l2", "l1"));
	OK(uvfs_symlink(C, "../../c", "a/b/l2"));
	ASSERT_CONTENT(C, "l1/f", "chain");
	st = st_of(C, "l1");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, st_of(C, "c").st_ino);
	/* ".." after a symlinked directory is the target's parent */
	OK(uvfs_symlink(C, "a/b", "lb"));
	assert_int_equal(st_of(C, "lb/..").st_ino, st_of(C, "a").st_ino);
	/* readlink on a symlink through symlinked directories */
	assert_int_equal(OK(uvfs_readlink(C, "l1", buf, sizeof(buf))), 6);
	/* readlink with trailing slash follows: not a symlink */
	ERR(uvfs_readlink(C, "lb/", buf, sizeof(buf)), EINVAL);
}

static void make_chain(const char *prefix, int n, const char *final)
{
	char name[64], target[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (i == n - 1)
			snprintf(target, sizeof(target), "%s", final);
		else
			snprintf(target, sizeof(target), "%s%d", prefix,
				 i + 1);
		OK(uvfs_symlink(C, target, name));
	}
}

static void test_symlink_loops(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "file", "end");
	OK(uvfs_symlink(C, "b", "a"));
	OK(uvfs_symlink(C, "a", "b"));
	OK(uvfs_symlink(C, "self", "self"));
	ERR(uvfs_stat(C, "a", &st), ELOOP);
	ERR(uvfs_open(C, "a", O_RDONLY, 0), ELOOP);
	ERR(uvfs_open(C, "a", O_CREAT | O_WRONLY, 0644), ELOOP);
	ERR(uvfs_stat(C, "self/x", &st), ELOOP);
	ERR(uvfs_chdir(C, "self"), ELOOP);
	OK(uvfs_lstat(C, "a", &st));
	/* Linux follows at most 40 symlinks per lookup */
	make_chain("s", 39, "file");
	ASSERT_CONTENT(C, "s0", "end");
	make_chain("t", 41, "file");
	ERR(uvfs_stat(C, "t0", &st), ELOOP);
	ERR(uvfs_open(C, "t0", O_RDONLY, 0), ELOOP);
	fd = (int)OK(uvfs_open(C, "s1", O_RDONLY, 0));
	OK(uvfs_close(C, fd));
}

/* ---- hard links that outlive their first name (9P: the fid a file was
 * first walked by names the name it was walked by) -------------------- */

/* Appends data to path (O_APPEND). */
static void append(struct uvfs_ctx *c, const char *path, const char *data)
{
	int fd = (int)OK(uvfs_open(c, path, O_WRONLY | O_APPEND, 0));
	size_t n = strlen(data);

	assert_int_equal(OK(uvfs_write(c, fd, data, n)), n);
	OK(uvfs_close(c, fd));
}

/* echo data > a; ln a b; rm a; cat b; ln b c; append, chmod, lstat b
 * once attributes cached by the first name have expired.  The file is
 * held open by its first name meanwhile: fstat and fchmod go to the file
 * (not to a name) before any other lookup. */
static void test_link_first_name_gone(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	put(C, "a", "data");
	ino_t ino = st_of(C, "a").st_ino;
	fd = (int)OK(uvfs_open(C, "a", O_RDWR, 0));
	OK(uvfs_link(C, "a", "b"));
	OK(uvfs_unlink(C, "a"));
	sleep_ms(ATTR_CACHE_MS);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_ino, ino);
	OK(uvfs_fchmod(C, fd, 0640));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_mode & 07777, 0640);
	OK(uvfs_close(C, fd));
	assert_false(exists(C, "a"));
	ASSERT_CONTENT(C, "b", "data");
	OK(uvfs_link(C, "b", "c"));
	st = lst_of(C, "b");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, ino);
	append(C, "b", "+more");
	OK(uvfs_chmod(C, "b", 0600));
	sleep_ms(ATTR_CACHE_MS);
	st = lst_of(C, "b");
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 9);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, ino);
	ASSERT_CONTENT(C, "c", "data+more");
	/* and the first link's name is free again */
	put(C, "a", "new");
	ASSERT_CONTENT(C, "a", "new");
	ASSERT_CONTENT(C, "b", "data+more");
	assert_int_equal(st_of(C, "c").st_nlink, 2);
	OK(uvfs_unlink(C, "b"));
	assert_int_equal(st_of(C, "c").st_nlink, 1);
	ASSERT_CONTENT(C, "c", "data+more");
}

/* The surviving name renamed (into another directory too), the names in
 * other directories: every remaining name reaches the file, counts agree. */
static void test_link_rename_survivor(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "d1", 0755));
	OK(uvfs_mkdir(C, "d2", 0755));
	put(C, "d1/a", "x");
	OK(uvfs_link(C, "d1/a", "d2/b"));
	OK(uvfs_link(C, "d1/a", "c"));
	assert_int_equal(st_of(C, "c").st_nlink, 3);
	OK(uvfs_unlink(C, "d1/a"));
	OK(uvfs_rename(C, "d2/b", "d1/moved", 0));
	ASSERT_CONTENT(C, "d1/moved", "x");
	OK(uvfs_unlink(C, "c"));
	append(C, "d1/moved", "y");
	OK(uvfs_link(C, "d1/moved", "d2/again"));
	sleep_ms(ATTR_CACHE_MS);
	st = lst_of(C, "d2/again");
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 2);
	OK(uvfs_chmod(C, "d1/moved", 0640));
	assert_int_equal(st_of(C, "d2/again").st_mode & 07777, 0640);
	/* the directory holding the survivor renamed too */
	OK(uvfs_rename(C, "d2", "d3", 0));
	OK(uvfs_unlink(C, "d1/moved"));
	ASSERT_CONTENT(C, "d3/again", "xy");
	assert_int_equal(st_of(C, "d3/again").st_nlink, 1);
	ERR(uvfs_link(C, "d1/moved", "d1/none"), ENOENT);
	OK(uvfs_link(C, "d3/again", "d1/back"));
	ASSERT_CONTENT(C, "d1/back", "xy");
}

/* Every name unlinked while the file is open: the open file reads and
 * writes on, fstat says no links; its data goes with the last close. */
static void test_link_unlink_open(void **state)
{
	struct stat st;
	char buf[32];
	int fd;

	(void)state;
	put(C, "a", "12345");
	OK(uvfs_link(C, "a", "b"));
	fd = (int)OK(uvfs_open(C, "b", O_RDWR, 0));
	OK(uvfs_unlink(C, "a"));
	ASSERT_CONTENT(C, "b", "12345");
	OK(uvfs_unlink(C, "b"));
	assert_false(exists(C, "b"));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "abc", 3, 5)), 3);
	sleep_ms(ATTR_CACHE_MS);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 8);
	assert_memory_equal(buf, "12345abc", 8);
	OK(uvfs_close(C, fd));
}

/* A name reused while the file it named is unlinked and still open, the
 * new file (or directory) then renamed: the target is the new one, never
 * the open one.  On 9P the client kept the unlinked file's node under the
 * name and a rename moved it along: a lookup of the target could find the
 * unlinked file (nlink 0; a file where a directory was made).  Which one
 * it found went by the order of the driver's table, so it runs a few
 * times (the differential test's unlinked-*-renamed cases). */
static void test_unlink_open_name_reused(void **state)
{
	struct stat st;
	int fd, i;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	for (i = 0; i < 8; i++) {
		put(C, "d/a", "old");
		fd = (int)OK(uvfs_open(C, "d/a", O_RDWR, 0));
		OK(uvfs_unlink(C, "d/a"));
		put(C, "d/a", "newer");
		OK(uvfs_rename(C, "d/a", "d/b", 0));
		st = lst_of(C, "d/b");
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_nlink, 1);
		assert_int_equal(st.st_size, 5);
		ASSERT_CONTENT(C, "d/b", "newer");
		OK(uvfs_unlink(C, "d/b"));
		OK(uvfs_close(C, fd));

		put(C, "d/a", "old");
		fd = (int)OK(uvfs_open(C, "d/a", O_RDWR, 0));
		OK(uvfs_unlink(C, "d/a"));
		OK(uvfs_mkdir(C, "d/a", 0750));
		OK(uvfs_rename(C, "d/a", "d/F", 0));
		st = lst_of(C, "d/F");
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0750);
		assert_int_equal(st.st_nlink, 2);
		OK(uvfs_rmdir(C, "d/F"));
		assert_false(exists(C, "d/a"));
		OK(uvfs_close(C, fd));
	}
}

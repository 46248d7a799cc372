/*
 * conformance_names.c - the conformance body's tests of names in
 * directories: mkdir, rmdir, unlink, rename (files, directories,
 * RENAME_EXCHANGE, EXDEV across mounts), and readdir (every entry once,
 * whatever the buffer size; cookies while entries come and go).
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- directories ------------------------------------------------------- */

static void test_mkdir(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "d", 0777));
	st = st_of(C, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 0);
	ERR(uvfs_mkdir(C, "d", 0755), EEXIST);
	put(C, "f", "x");
	ERR(uvfs_mkdir(C, "f", 0755), EEXIST);
	OK(uvfs_symlink(C, "nowhere", "dl"));
	ERR(uvfs_mkdir(C, "dl", 0755), EEXIST);
	assert_false(exists(C, "nowhere"));
	ERR(uvfs_mkdir(C, "missing/d", 0755), ENOENT);
	ERR(uvfs_mkdir(C, "f/d", 0755), ENOTDIR);
	ERR(uvfs_mkdir(C, "", 0755), ENOENT);
	ERR(uvfs_mkdir(C, ".", 0755), EEXIST);
	OK(uvfs_mkdir(C, "d/e", 0700));
	OK(uvfs_mkdir(C, "d/e/f", 0700));
	assert_true(S_ISDIR(st_of(C, "d/e/f").st_mode));
	/* a trailing slash is fine for mkdir */
	OK(uvfs_mkdir(C, "g/", 0755));
	assert_true(S_ISDIR(st_of(C, "g").st_mode));
	/* the mode's special bits */
	OK(uvfs_mkdir(C, "s", 01777));
	assert_int_equal(st_of(C, "s").st_mode & 07777, 01755);
}

static void test_rmdir(void **state)
{
	(void)state;
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/f", "x");
	ERR2(uvfs_rmdir(C, "d"), ENOTEMPTY, EEXIST);
	OK(uvfs_unlink(C, "d/f"));
	OK(uvfs_mkdir(C, "d/sub", 0755));
	ERR2(uvfs_rmdir(C, "d"), ENOTEMPTY, EEXIST);
	ERR(uvfs_rmdir(C, "d/sub/."), EINVAL);
	ERR(uvfs_rmdir(C, "."), EINVAL);
	OK(uvfs_rmdir(C, "d/sub"));
	OK(uvfs_rmdir(C, "d/"));
	assert_false(exists(C, "d"));
	ERR(uvfs_rmdir(C, "d"), ENOENT);
	put(C, "f", "x");
	ERR(uvfs_rmdir(C, "f"), ENOTDIR);
	OK(uvfs_mkdir(C, "e", 0755));
	OK(uvfs_symlink(C, "e", "le"));
	ERR(uvfs_rmdir(C, "le"), ENOTDIR);
	assert_true(exists(C, "e"));
	ERR(uvfs_rmdir(C, "missing/x"), ENOENT);
	ERR(uvfs_rmdir(C, "f/x"), ENOTDIR);
	/* a removed directory that is still open lists nothing and takes no
	 * new names */
	{
		struct uvfs_dirent de[4];
		long r;
		int dfd;

		OK(uvfs_mkdir(C, "gone", 0755));
		dfd = (int)OK(uvfs_open(C, "gone", O_RDONLY | O_DIRECTORY, 0));
		OK(uvfs_rmdir(C, "gone"));
		r = uvfs_readdir(C, dfd, de, 4);
		if (r != 0 && r != -ENOENT)
			fail_msg("readdir of a removed directory: %s",
				 errname(r));
		ERR(uvfs_openat(C, dfd, "x", O_CREAT | O_WRONLY, 0644),
		    ENOENT);
		ERR(uvfs_mkdirat(C, dfd, "x", 0755), ENOENT);
		OK(uvfs_close(C, dfd));
	}
	/* rmdir of the cwd is allowed; the cwd then is unreachable */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		char buf[512];
		struct stat st;

		OK(uvfs_chdir(c2, "e"));
		OK(uvfs_rmdir(C, "e"));
		ERR(uvfs_getcwd(c2, buf, sizeof(buf)), ENOENT);
		ERR(uvfs_open(c2, "new", O_CREAT | O_WRONLY, 0644), ENOENT);
		OK(uvfs_stat(c2, ".", &st));
		assert_int_equal(st.st_nlink, 0);
	}
}

static void test_unlink(void **state)
{
	struct stat st;
	char buf[16];
	int fd;

	(void)state;
	put(C, "f", "data");
	OK(uvfs_unlink(C, "f"));
	assert_false(exists(C, "f"));
	ERR(uvfs_unlink(C, "f"), ENOENT);
	OK(uvfs_mkdir(C, "d", 0755));
	ERR(uvfs_unlink(C, "d"), EISDIR);
	ERR(uvfs_unlink(C, "missing/x"), ENOENT);
	/* unlinking a symlink removes the link, not the target */
	put(C, "t", "target");
	OK(uvfs_symlink(C, "t", "l"));
	OK(uvfs_unlink(C, "l"));
	assert_false(exists(C, "l"));
	ASSERT_CONTENT(C, "t", "target");
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_unlink(C, "ld"));
	assert_true(exists(C, "d"));
	/* an open file survives its last name */
	fd = (int)OK(uvfs_open(C, "t", O_RDWR, 0));
	OK(uvfs_unlink(C, "t"));
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	OK(uvfs_pwrite(C, fd, "T", 1, 0));
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 6);
	assert_memory_equal(buf, "Target", 6);
	OK(uvfs_close(C, fd));
	/* a trailing slash on a file */
	put(C, "g", "x");
	ERR2(uvfs_unlink(C, "g/"), ENOTDIR, EISDIR);
	assert_true(exists(C, "g"));
	ERR(uvfs_unlink(C, "g/x"), ENOTDIR);
}

/* ---- rename ------------------------------------------------------------ */

static void test_rename_file(void **state)
{
	struct stat st, st2;
	char buf[16];
	int fd;

	(void)state;
	put(C, "a", "AAA");
	st = st_of(C, "a");
	OK(uvfs_rename(C, "a", "b", 0));
	assert_false(exists(C, "a"));
	st2 = st_of(C, "b");
	assert_int_equal(st2.st_ino, st.st_ino);
	ASSERT_CONTENT(C, "b", "AAA");

	/* replace: the old target lives on while open */
	put(C, "c", "CC");
	fd = (int)OK(uvfs_open(C, "c", O_RDONLY, 0));
	OK(uvfs_rename(C, "b", "c", 0));
	ASSERT_CONTENT(C, "c", "AAA");
	assert_false(exists(C, "b"));
	assert_int_equal(OK(uvfs_read(C, fd, buf, sizeof(buf))), 2);
	assert_memory_equal(buf, "CC", 2);
	OK(uvfs_fstat(C, fd, &st));
	assert_int_equal(st.st_nlink, 0);
	OK(uvfs_close(C, fd));

	/* onto itself and onto another link of itself: nothing happens */
	OK(uvfs_rename(C, "c", "c", 0));
	ASSERT_CONTENT(C, "c", "AAA");
	OK(uvfs_link(C, "c", "c2"));
	OK(uvfs_rename(C, "c", "c2", 0));
	assert_true(exists(C, "c"));
	assert_true(exists(C, "c2"));
	assert_int_equal(st_of(C, "c").st_nlink, 2);

	/* NOREPLACE */
	put(C, "x", "X");
	ERR(uvfs_rename(C, "x", "c", RENAME_NOREPLACE), EEXIST);
	ASSERT_CONTENT(C, "c", "AAA");
	ASSERT_CONTENT(C, "x", "X");
	OK(uvfs_rename(C, "x", "y", RENAME_NOREPLACE));
	ASSERT_CONTENT(C, "y", "X");

	/* into and out of directories */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_rename(C, "y", "d/y", 0));
	ASSERT_CONTENT(C, "d/y", "X");
	OK(uvfs_rename(C, "d/y", "z", 0));
	ASSERT_CONTENT(C, "z", "X");

	/* a symlink is renamed, not its target */
	OK(uvfs_symlink(C, "z", "l"));
	OK(uvfs_rename(C, "l", "l2", 0));
	assert_true(S_ISLNK(lst_of(C, "l2").st_mode));
	assert_true(exists(C, "z"));

	ERR(uvfs_rename(C, "missing", "q", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "nodir/q", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "c/q", 0), ENOTDIR);
	ERR(uvfs_rename(C, "z/", "q", 0), ENOTDIR);
	ERR(uvfs_rename(C, "z", "", 0), ENOENT);
	ERR(uvfs_rename(C, "z", "q", RENAME_NOREPLACE | RENAME_EXCHANGE),
	    EINVAL);
	ERR(uvfs_rename(C, "z", "q", 0x1000), EINVAL);
}

static void test_rename_exchange(void **state)
{
	struct stat st;

	(void)state;
	put(C, "f", "FFF");
	OK(uvfs_mkdir(C, "d", 0755));
	put(C, "d/inner", "I");
	OK(uvfs_rename(C, "f", "d", RENAME_EXCHANGE));
	st = st_of(C, "f");
	assert_true(S_ISDIR(st.st_mode));
	ASSERT_CONTENT(C, "f/inner", "I");
	st = st_of(C, "d");
	assert_true(S_ISREG(st.st_mode));
	ASSERT_CONTENT(C, "d", "FFF");
	/* the moved directory's ".." is right */
	OK(uvfs_mkdir(C, "p", 0755));
	put(C, "p/g", "G");
	OK(uvfs_rename(C, "f", "p/g", RENAME_EXCHANGE));
	assert_int_equal(st_of(C, "p/g/..").st_ino, st_of(C, "p").st_ino);
	ASSERT_CONTENT(C, "f", "G");
	ASSERT_CONTENT(C, "p/g/inner", "I");
	/* both must exist */
	ERR(uvfs_rename(C, "f", "missing", RENAME_EXCHANGE), ENOENT);
	ERR(uvfs_rename(C, "missing", "f", RENAME_EXCHANGE), ENOENT);
	ASSERT_CONTENT(C, "f", "G");
	/* a directory with its own descendant */
	OK(uvfs_mkdir(C, "p/g/deep", 0755));
	ERR(uvfs_rename(C, "p/g", "p/g/deep", RENAME_EXCHANGE), EINVAL);
}

static void test_rename_dirs(void **state)
{
	struct stat st;

	(void)state;
	OK(uvfs_mkdir(C, "a", 0755));
	put(C, "a/f", "x");
	OK(uvfs_mkdir(C, "full", 0755));
	put(C, "full/g", "y");
	OK(uvfs_mkdir(C, "empty", 0755));
	put(C, "file", "z");

	ERR2(uvfs_rename(C, "a", "full", 0), ENOTEMPTY, EEXIST);
	ASSERT_CONTENT(C, "full/g", "y");
	ERR(uvfs_rename(C, "file", "empty", 0), EISDIR);
	ERR(uvfs_rename(C, "a", "file", 0), ENOTDIR);
	ERR(uvfs_rename(C, "a", "a/sub", 0), EINVAL);
	OK(uvfs_mkdir(C, "a/s1", 0755));
	OK(uvfs_mkdir(C, "a/s1/s2", 0755));
	ERR(uvfs_rename(C, "a", "a/s1/s2/x", 0), EINVAL);
	ERR(uvfs_rename(C, "a/s1", "a/s1/s2/x", 0), EINVAL);
	/* dir over an empty dir */
	OK(uvfs_rename(C, "a", "empty", 0));
	assert_false(exists(C, "a"));
	ASSERT_CONTENT(C, "empty/f", "x");
	/* ".." follows the directory */
	OK(uvfs_mkdir(C, "other", 0755));
	OK(uvfs_rename(C, "empty/s1", "other/s1", 0));
	assert_int_equal(st_of(C, "other/s1/..").st_ino,
			 st_of(C, "other").st_ino);
	assert_true(S_ISDIR(st_of(C, "other/s1/s2").st_mode));
	/* trailing slashes are fine on directories */
	OK(uvfs_rename(C, "other/", "other2/", 0));
	st = st_of(C, "other2/s1/s2");
	assert_true(S_ISDIR(st.st_mode));
	/* a directory onto itself */
	OK(uvfs_rename(C, "other2", "other2", 0));
	/* the cwd of another context moves along */
	{
		struct uvfs_ctx *c2 = new_ctx(0, 0);
		char buf[512];

		OK(uvfs_chdir(c2, "other2/s1"));
		OK(uvfs_rename(C, "other2", "third", 0));
		OK(uvfs_getcwd(c2, buf, sizeof(buf)));
		assert_string_equal(buf, abs_path("third/s1"));
	}
}

static void test_rename_exdev(void **state)
{
	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	mount_memfs("other");
	OK(uvfs_mkdir(C, "other/od", 0755));
	put(C, "other/of", "o");
	ERR(uvfs_rename(C, "f", "other/f", 0), EXDEV);
	ERR(uvfs_rename(C, "d", "other/d", 0), EXDEV);
	ERR(uvfs_rename(C, "other/of", "of", 0), EXDEV);
	ERR(uvfs_rename(C, "f", "other/of", RENAME_EXCHANGE), EXDEV);
	ERR(uvfs_link(C, "f", "other/f2"), EXDEV);
	ERR(uvfs_link(C, "other/of", "f3"), EXDEV);
	/* also across the mount under test and the root file system */
	ERR(uvfs_rename(C, "f", "/mnt/xdev-f", 0), EXDEV);
	ERR(uvfs_link(C, "f", "/mnt/xdev-f"), EXDEV);
	assert_true(exists(C, "f"));
	assert_false(exists(C, "/mnt/xdev-f"));
	/* a mount point cannot be renamed or removed */
	ERR(uvfs_rename(C, "other", "other2", 0), EBUSY);
	ERR(uvfs_rmdir(C, "other"), EBUSY);
	umount_memfs("other");
	assert_false(exists(C, "other/of"));
	OK(uvfs_rmdir(C, "other"));
}

/* ---- readdir ----------------------------------------------------------- */

#define NAMES_MAX 256
struct seen {
	char name[NAMES_MAX][64];
	int count[NAMES_MAX];
	int n;
};

static void seen_add(struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0) {
			s->count[i]++;
			return;
		}
	assert_true(s->n < NAMES_MAX);
	assert_true(strlen(name) < 64);
	strcpy(s->name[s->n], name);
	s->count[s->n++] = 1;
}

static int seen_count(const struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->count[i];
	return 0;
}

/* Reads fd to its end in chunks of chunk, into s. */
static void read_all(int fd, size_t chunk, struct seen *s)
{
	struct uvfs_dirent de[16];
	ssize_t r, i;
	int calls = 0;

	assert_true(chunk <= 16);
	while ((r = OK(uvfs_readdir(C, fd, de, chunk))) > 0) {
		assert_true((size_t)r <= chunk);
		for (i = 0; i < r; i++)
			seen_add(s, de[i].name);
		if (++calls > 10000)
			fail_msg("readdir does not end");
	}
}

static void test_readdir_all(void **state)
{
	struct uvfs_dirent de[16];
	struct seen *s = calloc(1, sizeof(*s));
	char name[32];
	struct stat st;
	ssize_t r, i;
	int fd, k;

	(void)state;
	for (k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "file%03d", k);
		put(C, name, "x");
	}
	for (k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "dir%d", k);
		OK(uvfs_mkdir(C, name, 0755));
	}
	OK(uvfs_symlink(C, "file000", "link"));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	read_all(fd, 7, s);
	assert_int_equal(s->n, 100 + 5 + 1 + 2);
	for (k = 0; k < s->n; k++)
		if (s->count[k] != 1)
			fail_msg("%s returned %d times", s->name[k],
				 s->count[k]);
	assert_int_equal(seen_count(s, "."), 1);
	assert_int_equal(seen_count(s, ".."), 1);
	/* at the end it stays at the end */
	assert_int_equal(OK(uvfs_readdir(C, fd, de, 16)), 0);
	/* rewind: types and inode numbers */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	while ((r = OK(uvfs_readdir(C, fd, de, 16))) > 0)
		for (i = 0; i < r; i++) {
			unsigned char want;

			if (strcmp(de[i].name, "..") == 0)
				continue;
			OK(uvfs_lstat(C, de[i].name, &st));
			want = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
			if (de[i].type != DT_UNKNOWN &&
			    de[i].type != want)
				fail_msg("%s: type %d, want %d", de[i].name,
					 de[i].type, want);
			if (de[i].ino != st.st_ino)
				fail_msg("%s: ino %llu, stat says %llu",
					 de[i].name,
					 (unsigned long long)de[i].ino,
					 (unsigned long long)st.st_ino);
		}
	/* an empty buffer */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	assert_int_equal(OK(uvfs_readdir(C, fd, de, 0)), 0);
	OK(uvfs_close(C, fd));

	/* an empty directory lists "." and ".." only */
	memset(s, 0, sizeof(*s));
	OK(uvfs_mkdir(C, "empty", 0755));
	fd = (int)OK(uvfs_open(C, "empty", O_RDONLY | O_DIRECTORY, 0));
	read_all(fd, 16, s);
	assert_int_equal(s->n, 2);
	OK(uvfs_close(C, fd));

	/* not a directory */
	fd = (int)OK(uvfs_open(C, "file000", O_RDONLY, 0));
	ERR(uvfs_readdir(C, fd, de, 16), ENOTDIR);
	OK(uvfs_close(C, fd));
	free(s);
}

static void test_readdir_cookies(void **state)
{
	struct uvfs_dirent de[4];
	struct seen *s = calloc(1, sizeof(*s));
	struct seen *all = calloc(1, sizeof(*all));
	char name[32];
	const char *gone_read[3], *gone_unread[3];
	uint64_t cookie = 0;
	int fd, k, ngr = 0, ngu = 0;
	ssize_t r, i;

	(void)state;
	for (k = 0; k < 50; k++) {
		snprintf(name, sizeof(name), "e%03d", k);
		put(C, name, "x");
	}
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	while (s->n < 14) {
		r = OK(uvfs_readdir(C, fd, de, 4));
		assert_true(r > 0);
		for (i = 0; i < r; i++) {
			seen_add(s, de[i].name);
			cookie = de[i].next;
		}
	}
	/* remove three names already read, three not yet read; add ten */
	for (k = 0; k < s->n && ngr < 3; k++)
		if (s->name[k][0] == 'e') {
			gone_read[ngr++] = s->name[k];
			OK(uvfs_unlink(C, s->name[k]));
		}
	for (k = 49; k >= 0 && ngu < 3; k--) {
		snprintf(name, sizeof(name), "e%03d", k);
		if (seen_count(s, name) == 0) {
			gone_unread[ngu] = strdup(name);
			OK(uvfs_unlink(C, gone_unread[ngu]));
			ngu++;
		}
	}
	assert_int_equal(ngr, 3);
	assert_int_equal(ngu, 3);
	for (k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "n%03d", k);
		put(C, name, "y");
	}
	/* read some more, then go back to the cookie: the entries after it
	 * must come again, once (the second pass is what counts) */
	OK(uvfs_readdir(C, fd, de, 4));
	assert_int_equal(OK(uvfs_lseek(C, fd, (off_t)cookie, SEEK_SET)),
			 (off_t)cookie);
	read_all(fd, 3, s);

	for (k = 0; k < 50; k++) {
		int c, j, gone = 0;

		snprintf(name, sizeof(name), "e%03d", k);
		c = seen_count(s, name);
		for (j = 0; j < 3; j++)
			if (strcmp(name, gone_read[j]) == 0)
				gone = 1;
			else if (strcmp(name, gone_unread[j]) == 0)
				gone = 2;
		if (gone == 0 && c != 1)
			fail_msg("%s (present throughout) seen %d times", name,
				 c);
		if (gone == 1 && c != 1)
			fail_msg("%s (read, then removed) seen %d times", name,
				 c);
		if (gone == 2 && c > 1)
			fail_msg("%s (removed before read) seen %d times",
				 name, c);
	}
	for (k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "n%03d", k);
		if (seen_count(s, name) > 1)
			fail_msg("%s (added) seen %d times", name,
				 seen_count(s, name));
	}
	assert_int_equal(seen_count(s, "."), 1);
	assert_int_equal(seen_count(s, ".."), 1);

	/* a full pass now lists exactly what is there */
	assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
	read_all(fd, 4, all);
	assert_int_equal(all->n, 50 - 6 + 10 + 2);
	for (k = 0; k < all->n; k++)
		assert_int_equal(all->count[k], 1);
	/* the same cookie twice gives the same entry */
	{
		struct uvfs_dirent a[1], b[1];

		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_SET)), 0);
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		cookie = a[0].next;
		assert_int_equal(OK(uvfs_readdir(C, fd, a, 1)), 1);
		OK(uvfs_lseek(C, fd, (off_t)cookie, SEEK_SET));
		assert_int_equal(OK(uvfs_readdir(C, fd, b, 1)), 1);
		assert_string_equal(a[0].name, b[0].name);
		assert_int_equal(a[0].next, b[0].next);
	}
	OK(uvfs_close(C, fd));
	for (k = 0; k < 3; k++)
		free((void *)gone_unread[k]);
	free(s);
	free(all);
}

/*
 * conformance_paths.c - the conformance body's tests of path resolution:
 * trailing slashes, dots and repeated slashes, NAME_MAX, the working
 * directory and getcwd, crossing mount points, chroot, and trees deeper
 * than one path can name.
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- names in a path: slashes, dots, NAME_MAX ------------------------- */

static void test_trailing_slash(void **state)
{
	struct stat st;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_symlink(C, "d", "ld"));
	OK(uvfs_symlink(C, "f", "lf"));
	ERR(uvfs_stat(C, "f/", &st), ENOTDIR);
	ERR(uvfs_lstat(C, "f/", &st), ENOTDIR);
	ERR(uvfs_open(C, "f/", O_RDONLY, 0), ENOTDIR);
	ERR(uvfs_stat(C, "lf/", &st), ENOTDIR);
	OK(uvfs_stat(C, "d/", &st));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_stat(C, "d//", &st));
	OK(uvfs_stat(C, "ld/", &st));
	assert_true(S_ISDIR(st.st_mode));
	/* a trailing slash makes lstat follow */
	OK(uvfs_lstat(C, "ld/", &st));
	assert_true(S_ISDIR(st.st_mode));
	ERR2(uvfs_open(C, "new/", O_CREAT | O_WRONLY, 0644), EISDIR, ENOTDIR);
	assert_false(exists(C, "new"));
	/* repeated slashes and dots */
	put(C, "d/g", "g");
	ASSERT_CONTENT(C, "d//g", "g");
	ASSERT_CONTENT(C, "./d/./g", "g");
	ASSERT_CONTENT(C, "d/../d/g", "g");
	ASSERT_CONTENT(C, "ld/../d/g", "g");
	OK(uvfs_stat(C, "d/.", &st));
	ERR(uvfs_stat(C, "f/.", &st), ENOTDIR);
	ERR(uvfs_stat(C, "f/..", &st), ENOTDIR);
	ERR(uvfs_stat(C, "missing/..", &st), ENOENT);
}

static void test_name_max(void **state)
{
	char n255[256], n256[257], path[300];
	struct stat st;
	int fd;

	(void)state;
	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'b', 256);
	n256[256] = '\0';
	fd = (int)OK(uvfs_open(C, n255, O_CREAT | O_WRONLY, 0644));
	OK(uvfs_close(C, fd));
	OK(uvfs_stat(C, n255, &st));
	ERR(uvfs_open(C, n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	ERR(uvfs_stat(C, n256, &st), ENAMETOOLONG);
	ERR(uvfs_mkdir(C, n256, 0755), ENAMETOOLONG);
	ERR(uvfs_symlink(C, "x", n256), ENAMETOOLONG);
	ERR(uvfs_rename(C, n255, n256, 0), ENAMETOOLONG);
	ERR(uvfs_link(C, n255, n256), ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/x", n256);
	ERR(uvfs_stat(C, path, &st), ENAMETOOLONG);
	/* a whole path of PATH_MAX bytes or more */
	{
		char *lp = malloc(5001);
		int i;

		for (i = 0; i < 5000; i += 2)
			memcpy(lp + i, "./", 2);
		lp[5000] = '\0';
		ERR(uvfs_stat(C, lp, &st), ENAMETOOLONG);
		lp[4000] = '\0';
		OK(uvfs_stat(C, lp, &st));
		free(lp);
	}
	/* a long name in readdir */
	{
		struct uvfs_dirent de[8];
		ssize_t r, i;
		int found = 0;

		fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
		while ((r = OK(uvfs_readdir(C, fd, de, 8))) > 0)
			for (i = 0; i < r; i++)
				found += strcmp(de[i].name, n255) == 0;
		assert_int_equal(found, 1);
		OK(uvfs_close(C, fd));
	}
	OK(uvfs_mkdir(C, "d", 0755));
	snprintf(path, sizeof(path), "d/%s", n255);
	OK(uvfs_rename(C, n255, path, 0));
	OK(uvfs_unlink(C, path));
}

/* ---- cwd, mounts, chroot ----------------------------------------------- */

static void test_chdir_getcwd(void **state)
{
	char buf[512];
	size_t len;
	int fd, dfd;

	(void)state;
	len = strlen(D);
	assert_int_equal(OK(uvfs_getcwd(C, buf, sizeof(buf))), len + 1);
	assert_string_equal(buf, D);
	assert_true(strncmp(buf, MNT "/", strlen(MNT "/")) == 0);
	ERR(uvfs_getcwd(C, buf, len), ERANGE);
	assert_int_equal(OK(uvfs_getcwd(C, buf, len + 1)), len + 1);

	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_mkdir(C, "d/e", 0755));
	put(C, "d/e/f", "x");
	OK(uvfs_chdir(C, "d/e"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d/e"));
	ASSERT_CONTENT(C, "f", "x");
	OK(uvfs_chdir(C, ".."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d"));
	ERR(uvfs_chdir(C, "e/f"), ENOTDIR);
	ERR(uvfs_chdir(C, "missing"), ENOENT);
	OK(uvfs_chdir(C, D));
	/* through a symlink: getcwd shows the real path */
	OK(uvfs_symlink(C, "d/e", "le"));
	OK(uvfs_chdir(C, "le"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d/e"));
	OK(uvfs_chdir(C, D));

	dfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	fd = (int)OK(uvfs_open(C, "d/e/f", O_RDONLY, 0));
	OK(uvfs_fchdir(C, dfd));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("d"));
	ERR(uvfs_fchdir(C, fd), ENOTDIR);
	OK(uvfs_close(C, dfd));
	OK(uvfs_close(C, fd));
	/* an O_PATH descriptor is enough */
	dfd = (int)OK(uvfs_open(C, D, O_PATH | O_DIRECTORY, 0));
	OK(uvfs_fchdir(C, dfd));
	OK(uvfs_close(C, dfd));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
	/* the cwd survives its descriptor; "/" */
	OK(uvfs_chdir(C, "/"));
	assert_int_equal(OK(uvfs_getcwd(C, buf, sizeof(buf))), 2);
	assert_string_equal(buf, "/");
	OK(uvfs_chdir(C, D));
}

static void test_mount_crossing(void **state)
{
	struct stat a, b;
	char buf[512];

	(void)state;
	/* ".." at the root of the mount under test is /mnt */
	OK(uvfs_chdir(C, MNT));
	OK(uvfs_stat(C, "..", &a));
	OK(uvfs_stat(C, "/mnt", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_stat(C, ".", &a));
	assert_true(S_ISDIR(a.st_mode));
	assert_int_not_equal(a.st_dev, b.st_dev);
	OK(uvfs_chdir(C, ".."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, "/mnt");
	OK(uvfs_stat(C, MNT "/..", &a));
	assert_int_equal(a.st_ino, b.st_ino);
	OK(uvfs_stat(C, "/..", &a));
	OK(uvfs_stat(C, "/", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_chdir(C, D));

	/* a mount inside: both directions */
	put(C, "under", "u");
	mount_memfs("m");
	OK(uvfs_mkdir(C, "m/x", 0755));
	put(C, "m/x/f", "in");
	OK(uvfs_chdir(C, "m/x"));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, abs_path("m/x"));
	ASSERT_CONTENT(C, "../../under", "u");
	OK(uvfs_chdir(C, "../.."));
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
	ASSERT_CONTENT(C, "m/../m/x/f", "in");
	assert_int_equal(st_of(C, "m/..").st_ino, st_of(C, ".").st_ino);
	assert_int_not_equal(st_of(C, "m").st_dev, st_of(C, ".").st_dev);
	/* a symlink across the mount */
	OK(uvfs_symlink(C, "../../under", "m/x/back"));
	ASSERT_CONTENT(C, "m/x/back", "u");
	/* the mount point hides what is below */
	umount_memfs("m");
	assert_false(exists(C, "m/x"));
	/* statfs differs between the two */
	{
		struct statvfs sv;

		OK(uvfs_statfs(C, ".", &sv));
	}
}

static void test_chroot(void **state)
{
	struct uvfs_ctx *j, *out;
	struct stat a, b;
	char buf[512];

	(void)state;
	OK(uvfs_mkdir(C, "jail", 0755));
	OK(uvfs_mkdir(C, "jail/sub", 0755));
	put(C, "jail/inside", "in");
	put(C, "outside", "out");
	OK(uvfs_symlink(C, "/", "jail/up"));
	OK(uvfs_symlink(C, "/inside", "jail/absin"));
	OK(uvfs_symlink(C, "../../../../../../..", "jail/sub/esc"));
	mount_memfs("jail/m");
	put(C, "jail/m/mf", "mf");

	j = new_ctx(0, 0);
	OK(uvfs_chroot(j, abs_path("jail")));
	OK(uvfs_chdir(j, "/"));
	assert_int_equal(OK(uvfs_getcwd(j, buf, sizeof(buf))), 2);
	assert_string_equal(buf, "/");
	ASSERT_CONTENT(j, "/inside", "in");
	ASSERT_CONTENT(j, "inside", "in");
	OK(uvfs_stat(j, "/", &a));
	OK(uvfs_stat(j, "/..", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);
	OK(uvfs_stat(j, "..", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	ASSERT_CONTENT(j, "/../../../inside", "in");
	ASSERT_CONTENT(j, "sub/../../../inside", "in");
	ASSERT_CONTENT(j, "/up/inside", "in");
	ASSERT_CONTENT(j, "/up/../up/../inside", "in");
	ASSERT_CONTENT(j, "/absin", "in");
	ASSERT_CONTENT(j, "/sub/esc/inside", "in");
	assert_int_equal(st_of(j, "/sub/esc").st_ino, a.st_ino);
	ERR(uvfs_stat(j, "/outside", &b), ENOENT);
	ERR(uvfs_stat(j, "../outside", &b), ENOENT);
	ERR(uvfs_stat(j, MNT, &b), ENOENT);
	/* a mount inside the jail, ".." at its root */
	OK(uvfs_chdir(j, "/m"));
	ASSERT_CONTENT(j, "mf", "mf");
	OK(uvfs_getcwd(j, buf, sizeof(buf)));
	assert_string_equal(buf, "/m");
	OK(uvfs_chdir(j, "../../.."));
	OK(uvfs_getcwd(j, buf, sizeof(buf)));
	assert_string_equal(buf, "/");
	/* a chroot inside the chroot is relative to it */
	OK(uvfs_chroot(j, "/sub"));
	OK(uvfs_chdir(j, "/"));
	OK(uvfs_stat(j, "/..", &b));
	assert_int_equal(b.st_ino, st_of(C, "jail/sub").st_ino);
	OK(uvfs_stat(j, "esc", &b));
	assert_int_equal(b.st_ino, st_of(C, "jail/sub").st_ino);

	/* a cwd left outside the new root is unreachable */
	out = new_ctx(0, 0);
	OK(uvfs_chroot(out, abs_path("jail")));
	ERR(uvfs_getcwd(out, buf, sizeof(buf)), ENOENT);

	/* errors */
	ERR(uvfs_chroot(C, "outside"), ENOTDIR);
	ERR(uvfs_chroot(C, "missing"), ENOENT);
	{
		struct uvfs_ctx *user = new_ctx(1000, 1000);

		ERR(uvfs_chroot(user, abs_path("jail")), EPERM);
	}
}

static void test_statfs(void **state)
{
	struct statvfs sv;

	(void)state;
	put(C, "f", "x");
	OK(uvfs_statfs(C, ".", &sv));
	assert_true(sv.f_bsize > 0 || sv.f_frsize > 0);
	OK(uvfs_statfs(C, "f", &sv));
	OK(uvfs_statfs(C, MNT, &sv));
	OK(uvfs_statfs(C, "/", &sv));
	ERR(uvfs_statfs(C, "missing", &sv), ENOENT);
	ERR(uvfs_statfs(C, "f/x", &sv), ENOTDIR);
}

/* ---- deep paths: below the mount, depth is limited by nothing but the
 * file system (the kernel's PATH_MAX bounds one path argument, not the
 * depth of a tree: each step here is relative to the working directory) */

#define DEEP_LEVELS 42

static void deep_name(char *name, int level)
{
	memset(name, 'a' + level % 26, 255);
	name[0] = (char)('A' + level % 26);
	name[255] = '\0';
}

static void test_deep_paths(void **state)
{
	char name[256], buf[64];
	struct uvfs_dirent de[8];
	struct stat st;
	ssize_t n;
	int fd, level;
	bool seen = false;

	(void)state;
	for (level = 0; level < DEEP_LEVELS; level++) {
		deep_name(name, level);
		OK(uvfs_mkdir(C, name, 0755));
		OK(uvfs_chdir(C, name));
	}
	/* at more than 10 KiB below the test's directory */
	put(C, "f", "deep");
	st = st_of(C, "f");
	assert_int_equal(st.st_size, 4);
	fd = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	assert_int_equal(OK(uvfs_pwrite(C, fd, "er", 2, 4)), 2);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), 6);
	assert_memory_equal(buf, "deeper", 6);
	OK(uvfs_close(C, fd));
	deep_name(name, DEEP_LEVELS);
	OK(uvfs_rename(C, "f", name, 0));
	fd = (int)OK(uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0));
	while ((n = OK(uvfs_readdir(C, fd, de, 8))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (strcmp(de[i].name, name) == 0)
				seen = true;
	OK(uvfs_close(C, fd));
	assert_true(seen);
	/* the file's attributes once they must be asked for again */
	sleep_ms(ATTR_CACHE_MS);
	assert_int_equal(st_of(C, name).st_size, 6);
	ASSERT_CONTENT(C, name, "deeper");
	OK(uvfs_mkdir(C, "sub", 0700));
	char target[300];
	snprintf(target, sizeof(target), "../%s", name);
	OK(uvfs_symlink(C, target, "sub/link"));
	ASSERT_CONTENT(C, "sub/link", "deeper");
	OK(uvfs_unlink(C, "sub/link"));
	OK(uvfs_rmdir(C, "sub"));
	OK(uvfs_unlink(C, name));
	assert_false(exists(C, name));
	/* and back up, removing each level */
	for (level = DEEP_LEVELS - 1; level >= 0; level--) {
		deep_name(name, level);
		OK(uvfs_chdir(C, ".."));
		OK(uvfs_rmdir(C, name));
	}
	OK(uvfs_getcwd(C, buf, sizeof(buf)));
	assert_string_equal(buf, D);
}

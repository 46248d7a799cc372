/*
 * conformance_xattr.c - the conformance body's tests of extended
 * attributes: get, set, list and remove with their flags, large values and
 * many names, the rules for names, the permission each namespace needs,
 * the descriptor and no-follow forms and the attributes that live with the
 * file, and a read-only mount.  A type that keeps none skips them.
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 */

/* ---- extended attributes ----------------------------------------------- */

/* Whether an empty value can be set (not over 9P2000.L, where a zero-size
 * Txattrcreate means removal: the driver answers -EOPNOTSUPP). */
static bool xattr_empty;

/* Whether the file system keeps extended attributes; without them every
 * call answers -EOPNOTSUPP, and the xattr tests skip.  memfs has them. */
static bool xattr_supported(void)
{
	char b[8];
	int r;

	put(C, "xprobe", "");
	r = uvfs_setxattr(C, "xprobe", "user.probe", "1", 1, 0);
	if (r == -EOPNOTSUPP) {
		ERR(uvfs_getxattr(C, "xprobe", "user.probe", b, sizeof(b)),
		    EOPNOTSUPP);
		ERR(uvfs_listxattr(C, "xprobe", b, sizeof(b)), EOPNOTSUPP);
		ERR(uvfs_removexattr(C, "xprobe", "user.probe"), EOPNOTSUPP);
		assert_string_not_equal(fs_type, "memfs");
	} else {
		OK(r);
		int e = uvfs_setxattr(C, "xprobe", "user.empty", "", 0, 0);
		xattr_empty = e == 0;
		if (e != 0)
			assert_int_equal(e, -EOPNOTSUPP);
		assert_true(xattr_empty || strcmp(fs_type, "memfs") != 0);
	}
	OK(uvfs_unlink(C, "xprobe"));
	return r == 0;
}

#define XATTR_OR_SKIP() do {                                             \
		if (!xattr_supported()) {                                \
			printf("conformance: no extended attributes on "  \
			       "%s\n", fs_type);                          \
			skip();                                          \
		}                                                        \
	} while (0)

/* The names of a list, sorted, each followed by a space ("" if none). */
static const char *xnames_of(const char *list, ssize_t n)
{
	static char out[8192];
	const char *v[256];
	size_t nv = 0, len = 0;

	assert_true(n >= 0 && (size_t)n < sizeof(out));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		assert_true(nv < 256);
		v[nv++] = list + i;
	}
	for (size_t i = 1; i < nv; i++)     /* insertion sort: few names */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < nv; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s ",
					v[i]);
	return out;
}

/* listxattr (follow) or llistxattr of path as c, sorted. */
static const char *xnames(struct uvfs_ctx *c, const char *path, bool follow)
{
	static char list[8192];
	ssize_t n = follow ? uvfs_listxattr(c, path, list, sizeof(list))
			   : uvfs_llistxattr(c, path, list, sizeof(list));

	OK(n);
	return xnames_of(list, n);
}

/* The value of name at path as a string ("" for an empty one). */
static const char *xget(struct uvfs_ctx *c, const char *path,
			const char *name)
{
	static char buf[256];
	ssize_t n = OK(uvfs_getxattr(c, path, name, buf, sizeof(buf) - 1));

	buf[n] = '\0';
	return buf;
}

static void test_xattr(void **state)
{
	char buf[128];
	struct stat st0, st1;
	ssize_t n;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "data");
	ERR(uvfs_getxattr(C, "f", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_getxattr(C, "f", "user.a", NULL, 0), ENODATA);
	ERR(uvfs_removexattr(C, "f", "user.a"), ENODATA);
	assert_string_equal(xnames(C, "f", true), "");

	/* set, get, the size-0 query, a buffer too small, one just right */
	OK(uvfs_setxattr(C, "f", "user.a", "hello", 5, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", NULL, 0)), 5);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", buf,
					  sizeof(buf))), 5);
	assert_memory_equal(buf, "hello", 5);
	ERR(uvfs_getxattr(C, "f", "user.a", buf, 4), ERANGE);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.a", buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	/* values are bytes; the file's data is apart */
	OK(uvfs_setxattr(C, "f", "user.bin", "a\0b\n", 4, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.bin", buf,
					  sizeof(buf))), 4);
	assert_memory_equal(buf, "a\0b\n", 4);
	ASSERT_CONTENT(C, "f", "data");
	assert_int_equal(st_of(C, "f").st_size, 4);
	/* a new value replaces the old */
	OK(uvfs_setxattr(C, "f", "user.a", "bye", 3, 0));
	assert_string_equal(xget(C, "f", "user.a"), "bye");

	/* XATTR_CREATE, XATTR_REPLACE */
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1, XATTR_CREATE), EEXIST);
	ERR(uvfs_setxattr(C, "f", "user.new", "x", 1, XATTR_REPLACE),
	    ENODATA);
	ERR(uvfs_getxattr(C, "f", "user.new", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xget(C, "f", "user.a"), "bye");
	OK(uvfs_setxattr(C, "f", "user.a", "r", 1, XATTR_REPLACE));
	assert_string_equal(xget(C, "f", "user.a"), "r");
	OK(uvfs_setxattr(C, "f", "user.c", "c", 1, XATTR_CREATE));
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1, 0x100), EINVAL);
	ERR(uvfs_setxattr(C, "f", "user.a", "x", 1,
			  XATTR_CREATE | XATTR_REPLACE), EEXIST);

	/* an empty value is a value (9P2000.L cannot carry one) */
	if (xattr_empty) {
		OK(uvfs_setxattr(C, "f", "user.empty", "", 0, 0));
		assert_int_equal(OK(uvfs_getxattr(C, "f", "user.empty", buf,
						  sizeof(buf))), 0);
		assert_int_equal(OK(uvfs_getxattr(C, "f", "user.empty", NULL,
						  0)), 0);
		ERR(uvfs_setxattr(C, "f", "user.empty", "", 0, XATTR_CREATE),
		    EEXIST);
	} else {
		ERR(uvfs_setxattr(C, "f", "user.empty", "", 0, 0), EOPNOTSUPP);
		ERR(uvfs_getxattr(C, "f", "user.empty", buf, sizeof(buf)),
		    ENODATA);
		OK(uvfs_setxattr(C, "f", "user.empty", "e", 1, XATTR_CREATE));
	}

	/* the list: every name, NUL-terminated; size 0 asks its length */
	assert_string_equal(xnames(C, "f", true),
			    "user.a user.bin user.c user.empty ");
	n = OK(uvfs_listxattr(C, "f", NULL, 0));
	assert_int_equal(n, 7 + 9 + 7 + 11);
	ERR(uvfs_listxattr(C, "f", buf, (size_t)n - 1), ERANGE);
	assert_int_equal(OK(uvfs_listxattr(C, "f", buf, (size_t)n)), n);
	assert_int_equal(buf[n - 1], '\0');

	/* remove */
	OK(uvfs_removexattr(C, "f", "user.a"));
	ERR(uvfs_getxattr(C, "f", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_removexattr(C, "f", "user.a"), ENODATA);
	assert_string_equal(xnames(C, "f", true),
			    "user.bin user.c user.empty ");

	/* directories have them too */
	OK(uvfs_mkdir(C, "d", 0755));
	OK(uvfs_setxattr(C, "d", "user.d", "dir", 3, 0));
	assert_string_equal(xget(C, "d", "user.d"), "dir");
	assert_string_equal(xnames(C, "d", true), "user.d ");
	assert_string_equal(xnames(C, ".", true), "");

	/* set and remove change ctime, not mtime */
	age("f");
	st0 = st_of(C, "f");
	sleep_ms(20);
	OK(uvfs_setxattr(C, "f", "user.t", "t", 1, 0));
	st1 = st_of(C, "f");
	assert_true(ts_cmp(st1.st_ctim, st0.st_ctim) > 0);
	assert_int_equal(st1.st_mtim.tv_sec, 1000);
	sleep_ms(20);
	OK(uvfs_removexattr(C, "f", "user.t"));
	st0 = st_of(C, "f");
	assert_true(ts_cmp(st0.st_ctim, st1.st_ctim) > 0);
	assert_int_equal(st0.st_mtim.tv_sec, 1000);
}

/* Values up to UVFS_XATTR_SIZE_MAX, and many names. */
static void test_xattr_large(void **state)
{
	size_t max = UVFS_XATTR_SIZE_MAX;
	char *big, *buf;
	char name[32], list[4096];

	(void)state;
	XATTR_OR_SKIP();
	big = malloc(max + 1);
	buf = malloc(max + 1);
	assert_non_null(big);
	assert_non_null(buf);
	for (size_t i = 0; i <= max; i++)
		big[i] = (char)(i * 7 + i / 251);
	put(C, "f", "");
	OK(uvfs_setxattr(C, "f", "user.big", big, max, 0));
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", NULL, 0)), max);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max)), max);
	assert_memory_equal(buf, big, max);
	ERR(uvfs_getxattr(C, "f", "user.big", buf, max - 1), ERANGE);
	/* a larger buffer is fine */
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max + 1)),
			 max);
	ERR(uvfs_setxattr(C, "f", "user.big", big, max + 1, 0), E2BIG);
	ERR(uvfs_setxattr(C, "f", "user.other", big, max + 1, 0), E2BIG);
	ERR(uvfs_getxattr(C, "f", "user.other", NULL, 0), ENODATA);
	assert_int_equal(OK(uvfs_getxattr(C, "f", "user.big", buf, max)), max);
	assert_memory_equal(buf, big, max);
	OK(uvfs_removexattr(C, "f", "user.big"));

	/* many names */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "user.n%03d", i);
		OK(uvfs_setxattr(C, "f", name, name, strlen(name), 0));
	}
	assert_int_equal(OK(uvfs_listxattr(C, "f", list, sizeof(list))),
			 100 * 10);
	assert_string_equal(xget(C, "f", "user.n042"), "user.n042");
	for (int i = 0; i < 100; i += 2) {
		snprintf(name, sizeof(name), "user.n%03d", i);
		OK(uvfs_removexattr(C, "f", name));
	}
	assert_int_equal(OK(uvfs_listxattr(C, "f", NULL, 0)), 50 * 10);
	ERR(uvfs_getxattr(C, "f", "user.n042", NULL, 0), ENODATA);
	assert_string_equal(xget(C, "f", "user.n043"), "user.n043");
	free(big);
	free(buf);
}

/* The rules for names: 1..255 bytes, a known namespace. */
static void test_xattr_names(void **state)
{
	char n255[256], n256[257], buf[8];

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "");
	memset(n255, 'n', sizeof(n255));
	memcpy(n255, "user.", 5);
	n255[255] = '\0';
	memset(n256, 'n', sizeof(n256));
	memcpy(n256, "user.", 5);
	n256[256] = '\0';

	ERR(uvfs_setxattr(C, "f", "", "x", 1, 0), ERANGE);
	ERR(uvfs_getxattr(C, "f", "", buf, sizeof(buf)), ERANGE);
	ERR(uvfs_removexattr(C, "f", ""), ERANGE);
	ERR(uvfs_setxattr(C, "f", "user.", "x", 1, 0), EINVAL);
	ERR(uvfs_getxattr(C, "f", "user.", buf, sizeof(buf)), EINVAL);
	ERR(uvfs_setxattr(C, "f", "trusted.", "x", 1, 0), EINVAL);
	ERR(uvfs_setxattr(C, "f", "foo.bar", "x", 1, 0), EOPNOTSUPP);
	ERR(uvfs_getxattr(C, "f", "foo.bar", buf, sizeof(buf)), EOPNOTSUPP);
	ERR(uvfs_removexattr(C, "f", "foo.bar"), EOPNOTSUPP);
	ERR(uvfs_setxattr(C, "f", "user", "x", 1, 0), EOPNOTSUPP);
	ERR(uvfs_setxattr(C, "f", "USER.x", "x", 1, 0), EOPNOTSUPP);
	/* no POSIX ACLs */
	ERR(uvfs_setxattr(C, "f", "system.posix_acl_access", "", 0, 0),
	    EOPNOTSUPP);
	ERR(uvfs_getxattr(C, "f", "system.posix_acl_access", buf,
			  sizeof(buf)), EOPNOTSUPP);
	/* 255 bytes is the longest */
	OK(uvfs_setxattr(C, "f", n255, "x", 1, 0));
	assert_string_equal(xget(C, "f", n255), "x");
	assert_int_equal(OK(uvfs_listxattr(C, "f", NULL, 0)), 256);
	OK(uvfs_removexattr(C, "f", n255));
	ERR(uvfs_setxattr(C, "f", n256, "x", 1, 0), ERANGE);
	ERR(uvfs_getxattr(C, "f", n256, buf, sizeof(buf)), ERANGE);
	ERR(uvfs_removexattr(C, "f", n256), ERANGE);
	/* any byte but NUL after the prefix */
	OK(uvfs_setxattr(C, "f", "user.a b/c\n\xff", "x", 1, 0));
	assert_string_equal(xget(C, "f", "user.a b/c\n\xff"), "x");
	/* the path still matters */
	ERR(uvfs_setxattr(C, "nofile", "user.a", "x", 1, 0), ENOENT);
	ERR(uvfs_getxattr(C, "f/x", "user.a", buf, sizeof(buf)), ENOTDIR);
	ERR(uvfs_listxattr(C, "nofile", buf, sizeof(buf)), ENOENT);
}

/* Read needs read permission, write needs write permission; trusted.* is
 * root's alone and hidden from others; security.* is read by anyone and
 * written by root; user.* is for files and directories, and in a sticky
 * directory only its owner writes it. */
static void test_xattr_perm(void **state)
{
	struct uvfs_ctx *u, *v;
	char buf[64];
	int fd;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "readable", "r");
	OK(uvfs_chmod(C, "readable", 0644));
	put(C, "secret", "s");
	OK(uvfs_chmod(C, "secret", 0600));
	put(C, "world", "w");
	OK(uvfs_chmod(C, "world", 0666));
	for (int i = 0; i < 3; i++) {
		const char *f = i == 0 ? "readable" : i == 1 ? "secret"
							      : "world";
		OK(uvfs_setxattr(C, f, "user.a", "1", 1, 0));
		OK(uvfs_setxattr(C, f, "trusted.t", "t", 1, 0));
		OK(uvfs_setxattr(C, f, "security.s", "s", 1, 0));
	}
	u = new_ctx(1000, 1000);
	v = new_ctx(1001, 1001);

	/* user.*: the mode decides */
	assert_string_equal(xget(u, "readable", "user.a"), "1");
	ERR(uvfs_setxattr(u, "readable", "user.b", "2", 1, 0), EACCES);
	ERR(uvfs_removexattr(u, "readable", "user.a"), EACCES);
	ERR(uvfs_getxattr(u, "secret", "user.a", buf, sizeof(buf)), EACCES);
	ERR(uvfs_getxattr(u, "secret", "user.a", NULL, 0), EACCES);
	OK(uvfs_setxattr(u, "world", "user.w", "w", 1, 0));
	OK(uvfs_removexattr(u, "world", "user.w"));
	put(C, "mine", "m");
	OK(uvfs_chown(C, "mine", 1000, 1000));
	OK(uvfs_chmod(u, "mine", 0400));
	ERR(uvfs_setxattr(u, "mine", "user.x", "x", 1, 0), EACCES);
	OK(uvfs_chmod(u, "mine", 0600));
	OK(uvfs_setxattr(u, "mine", "user.x", "x", 1, 0));
	ERR(uvfs_getxattr(v, "mine", "user.x", buf, sizeof(buf)), EACCES);
	/* listing needs no permission on the file, but hides trusted.* */
	assert_string_equal(xnames(u, "secret", true), "security.s user.a ");
	assert_int_equal(OK(uvfs_listxattr(u, "secret", NULL, 0)), 18);
	ERR(uvfs_listxattr(u, "secret", buf, 17), ERANGE);
	assert_string_equal(xnames(C, "secret", true),
			    "security.s trusted.t user.a ");

	/* trusted.*: root only */
	ERR(uvfs_getxattr(u, "world", "trusted.t", buf, sizeof(buf)),
	    ENODATA);
	ERR(uvfs_setxattr(u, "world", "trusted.u", "u", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "mine", "trusted.u", "u", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "world", "trusted.t"), EPERM);
	assert_string_equal(xget(C, "world", "trusted.t"), "t");

	/* security.*: anyone reads, even without read permission; root
	 * writes */
	assert_string_equal(xget(u, "secret", "security.s"), "s");
	ERR(uvfs_setxattr(u, "world", "security.x", "x", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "mine", "security.x", "x", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "world", "security.s"), EPERM);

	/* user.* on a symlink or a device: EPERM to write, nothing to
	 * read, even for root */
	OK(uvfs_symlink(C, "world", "l"));
	ERR(uvfs_lsetxattr(C, "l", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_lgetxattr(C, "l", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_lremovexattr(C, "l", "user.a"), EPERM);
	OK(uvfs_mknod(C, "fifo", S_IFIFO | 0666, 0));
	ERR(uvfs_setxattr(C, "fifo", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_setxattr(u, "fifo", "user.x", "x", 1, 0), EPERM);
	OK(uvfs_setxattr(C, "fifo", "trusted.x", "x", 1, 0));
	assert_string_equal(xget(C, "fifo", "trusted.x"), "x");

	/* a sticky directory: only its owner (and root) write user.* */
	OK(uvfs_mkdir(C, "tmp", 0777));
	OK(uvfs_chmod(C, "tmp", 01777));
	OK(uvfs_setxattr(C, "tmp", "user.d", "d", 1, 0));
	assert_string_equal(xget(u, "tmp", "user.d"), "d");
	ERR(uvfs_setxattr(u, "tmp", "user.x", "x", 1, 0), EPERM);
	ERR(uvfs_removexattr(u, "tmp", "user.d"), EPERM);
	OK(uvfs_chown(C, "tmp", 1000, 1000));
	OK(uvfs_setxattr(u, "tmp", "user.x", "x", 1, 0));
	ERR(uvfs_setxattr(v, "tmp", "user.y", "y", 1, 0), EPERM);
	/* not sticky: the mode decides */
	OK(uvfs_mkdir(C, "pub", 0777));
	OK(uvfs_chmod(C, "pub", 0777));
	OK(uvfs_setxattr(v, "pub", "user.y", "y", 1, 0));
	OK(uvfs_mkdir(C, "closed", 0755));
	ERR(uvfs_setxattr(v, "closed", "user.y", "y", 1, 0), EACCES);

	/* a descriptor's access mode does not matter, the file's does */
	fd = (int)OK(uvfs_open(u, "readable", O_RDONLY, 0));
	ERR(uvfs_fsetxattr(u, fd, "user.b", "2", 1, 0), EACCES);
	OK(uvfs_close(u, fd));
	fd = (int)OK(uvfs_open(u, "world", O_RDONLY, 0));
	OK(uvfs_fsetxattr(u, fd, "user.b", "2", 1, 0));
	OK(uvfs_close(u, fd));
	assert_string_equal(xget(C, "world", "user.b"), "2");

	/* search permission on the way */
	OK(uvfs_mkdir(C, "priv", 0700));
	put(C, "priv/f", "");
	ERR(uvfs_getxattr(u, "priv/f", "security.s", buf, sizeof(buf)),
	    EACCES);
	ERR(uvfs_listxattr(u, "priv/f", buf, sizeof(buf)), EACCES);
}

/* The descriptor forms, and attributes that live with the file: through
 * symlinks (followed or not), renames, hard links, an unlinked open file,
 * gone with the file. */
static void test_xattr_links(void **state)
{
	char buf[64];
	int fd, pfd;

	(void)state;
	XATTR_OR_SKIP();
	put(C, "f", "data");
	OK(uvfs_setxattr(C, "f", "user.a", "a", 1, 0));

	/* descriptors, even read-only ones */
	fd = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	OK(uvfs_fsetxattr(C, fd, "user.fd", "fd", 2, 0));
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.fd", buf,
					   sizeof(buf))), 2);
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.fd", NULL, 0)), 2);
	ERR(uvfs_fgetxattr(C, fd, "user.fd", buf, 1), ERANGE);
	ERR(uvfs_fsetxattr(C, fd, "user.fd", "x", 1, XATTR_CREATE), EEXIST);
	assert_int_equal(OK(uvfs_flistxattr(C, fd, NULL, 0)), 7 + 8);
	OK(uvfs_fremovexattr(C, fd, "user.fd"));
	ERR(uvfs_fremovexattr(C, fd, "user.fd"), ENODATA);
	ERR(uvfs_fgetxattr(C, fd, "user.fd", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_fgetxattr(C, 999, "user.a", buf, sizeof(buf)), EBADF);
	ERR(uvfs_fsetxattr(C, -1, "user.a", "x", 1, 0), EBADF);
	ERR(uvfs_flistxattr(C, 999, buf, sizeof(buf)), EBADF);
	ERR(uvfs_fremovexattr(C, 999, "user.a"), EBADF);
	/* not through O_PATH */
	pfd = (int)OK(uvfs_open(C, "f", O_PATH, 0));
	ERR(uvfs_fgetxattr(C, pfd, "user.a", buf, sizeof(buf)), EBADF);
	ERR(uvfs_fsetxattr(C, pfd, "user.a", "x", 1, 0), EBADF);
	OK(uvfs_close(C, pfd));
	/* a directory's descriptor */
	OK(uvfs_mkdir(C, "d", 0755));
	pfd = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_fsetxattr(C, pfd, "user.d", "d", 1, 0));
	OK(uvfs_close(C, pfd));
	assert_string_equal(xget(C, "d", "user.d"), "d");

	/* symlinks: the plain forms follow, the l* forms do not */
	OK(uvfs_symlink(C, "f", "l"));
	assert_string_equal(xget(C, "l", "user.a"), "a");
	ERR(uvfs_lgetxattr(C, "l", "user.a", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xnames(C, "l", true), "user.a ");
	assert_string_equal(xnames(C, "l", false), "");
	OK(uvfs_setxattr(C, "l", "user.via", "v", 1, 0));
	assert_string_equal(xget(C, "f", "user.via"), "v");
	OK(uvfs_removexattr(C, "l", "user.via"));
	OK(uvfs_lsetxattr(C, "l", "trusted.l", "l", 1, 0));
	assert_int_equal(OK(uvfs_lgetxattr(C, "l", "trusted.l", buf,
					   sizeof(buf))), 1);
	ERR(uvfs_getxattr(C, "l", "trusted.l", buf, sizeof(buf)), ENODATA);
	assert_string_equal(xnames(C, "l", false), "trusted.l ");
	assert_string_equal(xnames(C, "f", true), "user.a ");
	OK(uvfs_lremovexattr(C, "l", "trusted.l"));
	ERR(uvfs_lremovexattr(C, "l", "trusted.l"), ENODATA);
	/* the l* forms on a file are the plain ones */
	assert_int_equal(OK(uvfs_lgetxattr(C, "f", "user.a", buf,
					   sizeof(buf))), 1);
	OK(uvfs_symlink(C, "nowhere", "dangling"));
	ERR(uvfs_getxattr(C, "dangling", "user.a", buf, sizeof(buf)), ENOENT);
	ERR(uvfs_setxattr(C, "dangling", "user.a", "x", 1, 0), ENOENT);
	ERR(uvfs_lgetxattr(C, "dangling", "trusted.a", buf, sizeof(buf)),
	    ENODATA);

	/* renames and hard links keep them: they are the file's */
	OK(uvfs_rename(C, "f", "g", 0));
	assert_string_equal(xget(C, "g", "user.a"), "a");
	OK(uvfs_link(C, "g", "h"));
	OK(uvfs_setxattr(C, "h", "user.h", "h", 1, 0));
	assert_string_equal(xget(C, "g", "user.h"), "h");
	assert_string_equal(xnames(C, "g", true), xnames(C, "h", true));
	OK(uvfs_rename(C, "d", "e", 0));
	assert_string_equal(xget(C, "e", "user.d"), "d");
	OK(uvfs_mkdir(C, "e/sub", 0755));
	OK(uvfs_rename(C, "h", "e/sub/h", 0));
	assert_string_equal(xget(C, "e/sub/h", "user.h"), "h");
	/* renamed over: the target's are gone with it */
	put(C, "x", "");
	put(C, "y", "");
	OK(uvfs_setxattr(C, "x", "user.x", "x", 1, 0));
	OK(uvfs_setxattr(C, "y", "user.y", "y", 1, 0));
	OK(uvfs_rename(C, "x", "y", 0));
	assert_string_equal(xnames(C, "y", true), "user.x ");

	/* an unlinked file still open keeps them; a new file of the same
	 * name has none */
	OK(uvfs_unlink(C, "g"));
	OK(uvfs_unlink(C, "e/sub/h"));
	assert_string_equal(xnames(C, "l", false), "");
	ERR(uvfs_getxattr(C, "l", "user.a", buf, sizeof(buf)), ENOENT);
	assert_int_equal(OK(uvfs_fgetxattr(C, fd, "user.h", buf,
					   sizeof(buf))), 1);
	OK(uvfs_fsetxattr(C, fd, "user.late", "z", 1, 0));
	assert_int_equal(OK(uvfs_flistxattr(C, fd, NULL, 0)), 7 + 7 + 10);
	OK(uvfs_close(C, fd));
	put(C, "g", "new");
	assert_string_equal(xnames(C, "g", true), "");
	ERR(uvfs_getxattr(C, "g", "user.a", buf, sizeof(buf)), ENODATA);
	OK(uvfs_mkdir(C, "d", 0755));
	assert_string_equal(xnames(C, "d", true), "");
	OK(uvfs_rmdir(C, "e/sub"));
	OK(uvfs_rmdir(C, "e"));
	OK(uvfs_mkdir(C, "e", 0755));
	assert_string_equal(xnames(C, "e", true), "");
}

/* On a read-only mount (a memfs here, whatever the type under test)
 * writes fail with -EROFS, before any other check; reads work. */
static void test_xattr_rdonly(void **state)
{
	char buf[8];
	int i;

	(void)state;
	OK(uvfs_mkdir(C, "m", 0755));
	OK(uvfs_mount(C, "memfs", "none", abs_path("m"), "ro"));
	for (i = 0; i < MAX_EXTRA && extra_mounts[i][0]; i++)
		;
	assert_true(i < MAX_EXTRA);
	snprintf(extra_mounts[i], sizeof(extra_mounts[i]), "%s",
		 abs_path("m"));
	assert_string_equal(xnames(C, "m", true), "");
	ERR(uvfs_getxattr(C, "m", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(uvfs_setxattr(C, "m", "user.a", "a", 1, 0), EROFS);
	ERR(uvfs_setxattr(C, "m", "trusted.a", "a", 1, 0), EROFS);
	ERR(uvfs_removexattr(C, "m", "user.a"), EROFS);
	ERR(uvfs_lsetxattr(C, "m", "user.a", "a", 1, 0), EROFS);
	/* the name is checked first, as on Linux */
	ERR(uvfs_setxattr(C, "m", "", "a", 1, 0), ERANGE);
	umount_memfs("m");
}

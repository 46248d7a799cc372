/*
 * test_vops_answers.c - answers no file can have stop at the core, for
 * every driver (docs/design.md, "Answers no file can have"), on oddfs, a
 * driver that gives them:
 *
 *  - a listing leaves out the names "a/b", "" and one of NAME_MAX + 1
 *    bytes, keeps ".", "..", and one of NAME_MAX bytes, and says
 *    DT_UNKNOWN for a d_type none of the seven; read whole or one entry
 *    at a time, the same entries;
 *  - a getattr whose mode has no file type, or one none of the seven, is
 *    -EIO: at a vnode's load (stat by name) and on a loaded one (fstat,
 *    access); a lookup that says such a type is -EIO.
 *
 * Included by test_vops.c (it uses that file's fixture and helpers); not
 * a program of its own.
 */

/* ---- oddfs: one flat directory, fixed files -----------------------------
 *
 * ino 1 the root; "good" (2) a regular file; "badmode" (3): its getattr
 * says mode 0170644 (S_IFMT all set: no such type); "badident" (4): its
 * lookup says type 0030000 (none), its getattr a regular file; "turns"
 * (5): a regular file until odd_turned, then mode 0644 with no type. */
#define ODD_NINO 5

static atomic_bool odd_turned;
static const uint64_t odd_inos[ODD_NINO] = { 1, 2, 3, 4, 5 };

static int o_mount(struct uvfs_sb *sb, const char *src, const char *opts,
		   uint64_t *root)
{
	(void)sb;
	(void)src;
	(void)opts;
	*root = 1;
	return 0;
}

static void o_unmount(struct uvfs_sb *sb)
{
	(void)sb;
}

static int o_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	(void)sb;
	if (ino < 1 || ino > ODD_NINO)
		return -ESTALE;
	*priv = (void *)&odd_inos[ino - 1];
	return 0;
}

static int o_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	uint64_t ino = *(const uint64_t *)priv;

	(void)sb;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = 1;
	switch (ino) {
	case 1: st->st_mode = S_IFDIR | 0755; break;
	case 3: st->st_mode = S_IFMT | 0644; break;
	case 5: st->st_mode = atomic_load(&odd_turned) ? 0644
						       : S_IFREG | 0644;
		break;
	default: st->st_mode = S_IFREG | 0644; break;
	}
	return 0;
}

static int o_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		    struct uvfs_ident *id)
{
	static const char *names[ODD_NINO] = { NULL, "good", "badmode",
					       "badident", "turns" };

	(void)sb;
	(void)dir;
	for (uint64_t i = 1; i < ODD_NINO; i++)
		if (strcmp(name, names[i]) == 0) {
			id->ino = i + 1;
			id->type = i + 1 == 4 ? 0030000 : 0;
			return 0;
		}
	return -ENOENT;
}

static char odd_long[NAME_MAX + 2];    /* NAME_MAX + 1 bytes: too long */
static char odd_max[NAME_MAX + 1];     /* NAME_MAX bytes: the longest */

static int o_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		     uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	const struct { const char *name; unsigned char type; } e[] = {
		{ ".", DT_DIR }, { "..", DT_DIR }, { "good", DT_REG },
		{ "a/b", DT_REG }, { "", DT_REG }, { odd_long, DT_REG },
		{ "typed", 3 }, { odd_max, DT_REG }, { "last", DT_REG },
	};

	(void)sb;
	(void)priv;
	(void)fh;
	for (uint64_t i = cookie; i < sizeof(e) / sizeof(e[0]); i++)
		if (fill(arg, e[i].name, 100 + i, e[i].type, i + 1))
			break;
	return 0;
}

static const struct uvfs_fstype_ops oddfs_ops = {
	.name = "oddfs",
	.flags = UVFS_FS_NO_NAMECACHE,
	.mount = o_mount,
	.unmount = o_unmount,
	.vget = o_vget,
	.getattr = o_getattr,
	.lookup = o_lookup,
	.readdir = o_readdir,
};

static void mount_oddfs(void)
{
	memset(odd_long, 'l', NAME_MAX + 1);
	memset(odd_max, 'm', NAME_MAX);
	atomic_store(&odd_turned, false);
	assert_int_equal(uvfs_mkdir(R, "/o", 0755), 0);
	assert_int_equal(uvfs_mount(R, "oddfs", "none", "/o", ""), 0);
}

/* The listing of /o, nents entries a call: what it must be. */
static void check_odd_listing(size_t nents)
{
	static const char *want[] = { ".", "..", "good", "typed", NULL,
				      "last" };
	struct uvfs_dirent got[16];
	size_t n = 0;
	ssize_t r;
	int fd = uvfs_open(R, "/o", O_RDONLY | O_DIRECTORY, 0);

	assert_true(fd >= 0);
	do {
		size_t room = 16 - n;

		assert_true(room > 0);
		r = uvfs_readdir(R, fd, got + n, room < nents ? room : nents);
		if (r > 0)
			n += (size_t)r;
	} while (r > 0);
	assert_int_equal(r, 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(got[i].name, want[i] ? want[i] : odd_max);
	assert_int_equal(got[2].type, DT_REG);
	assert_int_equal(got[3].type, DT_UNKNOWN);     /* was 3 */
	assert_int_equal(got[3].ino, 106);
	assert_int_equal(got[4].ino, 107);
}

static void test_listing_impossible_names(void **state)
{
	(void)state;
	mount_oddfs();
	check_odd_listing(16);
	check_odd_listing(1);
	assert_int_equal(uvfs_umount(R, "/o", 0), 0);
}

static void test_impossible_file_types(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	mount_oddfs();
	assert_int_equal(uvfs_stat(R, "/o/good", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* the vnode's load: the getattr says no type Linux has */
	assert_int_equal(uvfs_stat(R, "/o/badmode", &st), -EIO);
	assert_int_equal(uvfs_lstat(R, "/o/badmode", &st), -EIO);
	/* the lookup says it */
	assert_int_equal(uvfs_stat(R, "/o/badident", &st), -EIO);
	/* a loaded vnode whose getattr turns to no type at all */
	fd = uvfs_open(R, "/o/turns", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(R, fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	atomic_store(&odd_turned, true);
	assert_int_equal(uvfs_fstat(R, fd, &st), -EIO);
	assert_int_equal(uvfs_stat(R, "/o/turns", &st), -EIO);
	atomic_store(&odd_turned, false);
	assert_int_equal(uvfs_fstat(R, fd, &st), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_umount(R, "/o", 0), 0);
}

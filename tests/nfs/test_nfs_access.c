/*
 * test_nfs_access.c - what a mount of the "nfs" type accepts and what a
 * caller may do on it: the options and sources (each bad one -EINVAL, an
 * unknown export refused, the good forms mount), and per-caller
 * credentials (AUTH_SYS) on an export that squashes root.
 * Included by test_nfs.c (it uses that file's instance, fixture and
 * helpers); not a program of its own.
 */

static void test_options(void **state)
{
	static const char *bad_opts[] = {
		"vers=4", "vers=2", "vers=", "timeout=0", "timeout=abc",
		"timeout=99", "actimeo=-1", "actimeo=x", "bogus", "hard=1",
		"noac=1", "timeout",
	};
	char t[32], src[512];

	(void)state;
	new_target(t, sizeof(t));
	for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
		int r = uvfs_mount(C, "nfs", SOURCE, t, bad_opts[i]);
		if (r != -EINVAL)
			fail_msg("option \"%s\": %d, want -EINVAL", bad_opts[i],
				 r);
	}
	const char *bad_src[] = { "", "nfs://", "nfs://host", "host",
				  "host:export", ":/export",
				  "nfs://h:2049/export", "nfs://u@h/export" };
	for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		int r = uvfs_mount(C, "nfs", bad_src[i], t, "");
		if (r != -EINVAL)
			fail_msg("source \"%s\": %d, want -EINVAL", bad_src[i],
				 r);
	}
	snprintf(src, sizeof(src), "%s:/no/such/export", HOST);
	/* ganesha answers MNT3ERR_ACCES for an export it does not have */
	int r = uvfs_mount(C, "nfs", src, t, "timeout=5000");
	assert_true(r == -ENOENT || r == -EACCES);
	/* the good forms, with every option */
	snprintf(src, sizeof(src), "%s:/export/", HOST);
	mount_at(t, src,
		 "vers=3,timeout=5000,actimeo=0,ac,noac,hard,soft");
	umount_at(t, 0);
	mount_at(t, SOURCE, "");
	umount_at(t, 0);
}

/* Per-caller credentials on an export that squashes root: each request
 * carries its caller's uid, gid and groups (AUTH_SYS), so an ordinary user
 * creates, writes and reads its own files there, and the server itself
 * refuses what its own checks refuse: root (squashed to nobody, though the
 * core lets root read anything) reading a user's 0600 file; a group only
 * the 17th of a caller's groups grants (AUTH_SYS carries 16). */
static void test_root_squash(void **state)
{
	const char *src = getenv("UVFS_NFS_SQUASH_SOURCE");
	const char *sdir = getenv("UVFS_NFS_SQUASH_DIR");
	struct uvfs_cred u1 = { .uid = 1000, .gid = 1000, .ngroups = 1,
				.groups = { 2000 } };
	struct uvfs_cred many = { .uid = 1002, .gid = 1002, .ngroups = 17 };
	struct uvfs_ctx *c1, *c17;
	char t[32], p[96], d[96], host[600], buf[32];
	struct stat st;
	int fd;

	(void)state;
	if (!src || !sdir)
		skip();
	for (unsigned i = 0; i < 17; i++)
		many.groups[i] = 3000 + i;      /* 3016 is the 17th */
	assert_int_equal(uvfs_ctx_new(U, &u1, &c1), 0);
	assert_int_equal(uvfs_ctx_new(U, &many, &c17), 0);
	mount_new(t, sizeof(t), src, "timeout=5000,noac");

	/* an ordinary user: its own files, created, written, read */
	snprintf(p, sizeof(p), "%s/mine", t);
	fd = uvfs_open(c1, p, O_CREAT | O_RDWR | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(c1, fd, "user data", 9), 9);
	assert_int_equal(uvfs_fsync(c1, fd), 0);
	assert_int_equal(uvfs_pread(c1, fd, buf, sizeof(buf), 0), 9);
	assert_memory_equal(buf, "user data", 9);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(d, sizeof(d), "%s/dir", t);
	assert_int_equal(uvfs_mkdir(c1, d, 0700), 0);
	snprintf(d, sizeof(d), "%s/dir/inner", t);
	fd = uvfs_open(c1, d, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(c1, fd), 0);
	/* the server made them the user's (its owner, not root's) */
	snprintf(host, sizeof(host), "%s/mine", sdir);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(host, sizeof(host), "%s/dir/inner", sdir);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_uid, 1000);

	/* root: the core lets it read anything, the server squashes it to
	 * nobody and refuses the user's 0600 file */
	fd = uvfs_open(C, p, O_RDONLY, 0);
	if (fd >= 0) {
		ssize_t r = uvfs_pread(C, fd, buf, sizeof(buf), 0);
		printf("root squashed: read of a user's 0600 file: %zd\n", r);
		assert_int_equal(r, -EACCES);
		assert_int_equal(uvfs_close(C, fd), 0);
	} else {
		assert_int_equal(fd, -EACCES);
	}
	/* ... and its creation there is nobody's, or refused */
	snprintf(d, sizeof(d), "%s/byroot", t);
	fd = uvfs_open(C, d, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0) {
		assert_int_equal(uvfs_close(C, fd), 0);
		snprintf(host, sizeof(host), "%s/byroot", sdir);
		assert_int_equal(stat(host, &st), 0);
		assert_true(st.st_uid != 0);
	}

	/* groups: a file of group 2000 (mode 0640) reads for the user whose
	 * supplementary group it is; one of group 3016 (the 17th group) is
	 * refused by the server though the core allows it */
	snprintf(host, sizeof(host), "%s/grp", sdir);
	FILE *f = fopen(host, "w");
	assert_non_null(f);
	fputs("group", f);
	fclose(f);
	assert_int_equal(chown(host, 0, 2000), 0);
	assert_int_equal(chmod(host, 0640), 0);
	snprintf(host, sizeof(host), "%s/grp17", sdir);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("group", f);
	fclose(f);
	assert_int_equal(chown(host, 0, 3016), 0);
	assert_int_equal(chmod(host, 0640), 0);
	snprintf(p, sizeof(p), "%s/grp", t);
	fd = uvfs_open(c1, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pread(c1, fd, buf, sizeof(buf), 0), 5);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(p, sizeof(p), "%s/grp17", t);
	fd = uvfs_open(c17, p, O_RDONLY, 0);
	assert_true(fd >= 0);   /* the core: 3016 is one of its groups */
	ssize_t r17 = uvfs_pread(c17, fd, buf, sizeof(buf), 0);
	printf("a group past AUTH_SYS's 16: read %zd\n", r17);
	assert_int_equal(r17, -EACCES);
	assert_int_equal(uvfs_close(c17, fd), 0);

	umount_at(t, 0);
	uvfs_ctx_free(c1);
	uvfs_ctx_free(c17);
}

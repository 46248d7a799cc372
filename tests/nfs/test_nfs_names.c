/*
 * test_nfs_names.c - names and what is cached about them: silly rename,
 * the requests each operation waits for (round trips), the caching modes
 * (cto, loose, none), a rename whose target is not looked up, and files
 * and directories another client replaced (stale handles).
 * Included by test_nfs.c (it uses that file's instance, fixture and
 * helpers); not a program of its own.
 */

static int count_nfs_files(void)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '^\\.nfs'", DIR_);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* Removes t/rel (a directory: rmdir), which must succeed. */
static void remove_at(const char *t, const char *rel, bool dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", t, rel);
	assert_int_equal(dir ? uvfs_rmdir(C, p) : uvfs_unlink(C, p), 0);
}

/* Silly rename: an open file unlinked or renamed over lives on under a
 * ".nfs" name until its last close (only when it was its last name); a
 * rename between two names of one open file changes nothing.  A
 * directory whose last file was unlinked while open is removed right
 * after that file's close (whose REMOVE the close did not wait for),
 * and so is one renamed over. */
static void test_silly_rename(void **state)
{
	char t[32], a[64], b[64], d[64], e[64], f[96], buf[8];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000");
	snprintf(a, sizeof(a), "%s/sa", t);
	snprintf(b, sizeof(b), "%s/sb", t);
	fd = uvfs_open(C, a, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, "silly", 5), 5);
	assert_int_equal(uvfs_link(C, a, b), 0);
	assert_int_equal(uvfs_rename(C, a, b, 0), 0);   /* same file */
	assert_int_equal(uvfs_stat(C, a, &st), 0);
	assert_int_equal(uvfs_stat(C, b, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(uvfs_rename(C, a, a, 0), 0);
	assert_int_equal(uvfs_stat(C, a, &st), 0);
	assert_int_equal(count_nfs_files(), 0);
	assert_int_equal(uvfs_unlink(C, b), 0);         /* a link is left */
	assert_int_equal(count_nfs_files(), 0);
	assert_int_equal(uvfs_unlink(C, a), 0);         /* the last one */
	assert_int_equal(uvfs_stat(C, a, &st), -ENOENT);
	assert_int_equal(count_nfs_files(), 1);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(uvfs_pread(C, fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "silly", 5);
	assert_int_equal(uvfs_close(C, fd), 0);
	/* gone after the close (the removals are sent, not waited for) */
	int n = -1;
	for (int i = 0; i < 100 && n != 0; i++) {
		n = count_nfs_files();
		if (n)
			usleep(50 * 1000);
	}
	assert_int_equal(n, 0);

	snprintf(d, sizeof(d), "%s/sd", t);
	snprintf(e, sizeof(e), "%s/se", t);
	snprintf(f, sizeof(f), "%s/f", d);
	for (int over = 0; over < 2; over++) {
		assert_int_equal(uvfs_mkdir(C, d, 0755), 0);
		fd = uvfs_open(C, f, O_CREAT | O_RDWR, 0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_unlink(C, f), 0);
		if (over)
			assert_int_equal(uvfs_mkdir(C, e, 0755), 0);
		uint64_t t0 = now_ms();
		assert_int_equal(uvfs_close(C, fd), 0);
		uint64_t closed = now_ms() - t0;
		int r = over ? uvfs_rename(C, e, d, 0) : uvfs_rmdir(C, d);
		printf("a directory %s right after the close of its file "
		       "unlinked while open: %d, the close %llu ms, then %llu "
		       "ms\n", over ? "renamed over" : "removed", r,
		       (unsigned long long)closed,
		       (unsigned long long)(now_ms() - t0 - closed));
		assert_int_equal(r, 0);
		if (over)
			assert_int_equal(uvfs_rmdir(C, d), 0);
	}
	umount_at(t, 0);
}

/* The requests each operation waits for (the loop's call counter; none
 * are sent that are not waited for here): printed, and bounded so that a
 * change that adds round trips shows.  actimeo=60: the default's rules
 * with a lifetime no loaded machine outlasts between two calls. */
static void test_round_trips(void **state)
{
	char t[32], d[64], f[96], g[96];
	struct uvfs_dirent de[64];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,actimeo=60");
	snprintf(d, sizeof(d), "%s/rt", t);
	snprintf(f, sizeof(f), "%s/f", d);
	snprintf(g, sizeof(g), "%s/g", d);
	assert_int_equal(uvfs_mkdir(C, d, 0755), 0);
	assert_int_equal(uvfs_stat(C, d, &st), 0);
	/* names relative to the directory: one component each */
	assert_int_equal(uvfs_chdir(C, d), 0);
	snprintf(f, sizeof(f), "f");
	snprintf(g, sizeof(g), "g");

	c0 = calls_of(t);
	fd = uvfs_open(C, f, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	unsigned long create = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_close(C, fd), 0);
	unsigned long closed = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_stat(C, f, &st), 0);
	unsigned long stat1 = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_rename(C, f, g, 0), 0);
	unsigned long ren = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, f, &st), -ENOENT);
	c0 = calls_of(t);
	assert_int_equal(uvfs_stat(C, g, &st), 0);
	unsigned long stat2 = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_unlink(C, g), 0);
	unsigned long unl = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, g, &st), -ENOENT);
	/* the same name made again: not the old file */
	fd = uvfs_open(C, g, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_open(C, g, O_CREAT | O_EXCL | O_WRONLY, 0600),
			 -EEXIST);
	assert_int_equal(uvfs_stat(C, g, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(uvfs_unlink(C, g), 0);
	/* ls -l of 1000 entries made by the other mount: the listing, then
	 * an lstat of each name */
	char t2[32], d2[64];
	mount_new(t2, sizeof(t2), SOURCE, "timeout=5000");
	snprintf(d2, sizeof(d2), "%s/rt", t2);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/e%d", d2, i);
		fd = uvfs_open(C, p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_close(C, fd), 0);
	}
	umount_at(t2, 0);
	c0 = calls_of(t);
	int dfd = uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	ssize_t k, total = 0;
	while ((k = uvfs_readdir(C, dfd, de, 64)) > 0)
		total += k;
	assert_int_equal(k, 0);
	assert_int_equal(total, 1002);
	assert_int_equal(uvfs_close(C, dfd), 0);
	unsigned long list = calls_of(t) - c0;
	c0 = calls_of(t);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_lstat(C, p, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0644);
	}
	unsigned long stats = calls_of(t) - c0;
	printf("requests waited for: open(O_CREAT|O_EXCL) %lu, close %lu, "
	       "stat %lu, rename %lu, stat of the new name %lu, unlink %lu; "
	       "readdir of 1000 entries %lu, then 1000 lstats %lu\n", create,
	       closed, stat1, ren, stat2, unl, list, stats);
	assert_int_equal(create, 1);    /* CREATE (GUARDED), no LOOKUP */
	assert_int_equal(closed, 0);
	assert_int_equal(stat1, 0);     /* the CREATE's name and attributes */
	assert_int_equal(ren, 1);       /* RENAME: no LOOKUP of the target */
	assert_true(stat2 <= 1);        /* a GETATTR: the rename's ctime */
	assert_int_equal(unl, 1);       /* REMOVE of a known name */
	assert_true(list <= 5);         /* GETATTR (open), READDIRPLUS */
	assert_int_equal(stats, 0);     /* the listing named them */

	/* the same with cache=loose, on a second mount of the export */
	char tl[32], dl[64];
	mount_new(tl, sizeof(tl), SOURCE, "timeout=5000,cache=loose");
	snprintf(dl, sizeof(dl), "%s/rt", tl);
	assert_int_equal(uvfs_chdir(C, dl), 0);
	c0 = calls_of(tl);
	dfd = uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	total = 0;
	while ((k = uvfs_readdir(C, dfd, de, 64)) > 0)
		total += k;
	assert_int_equal(total, 1002);
	assert_int_equal(uvfs_close(C, dfd), 0);
	unsigned long llist = calls_of(tl) - c0;
	c0 = calls_of(tl);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_lstat(C, p, &st), 0);
	}
	unsigned long lstats = calls_of(tl) - c0;
	c0 = calls_of(tl);
	assert_int_equal(uvfs_stat(C, "e1", &st), 0);
	unsigned long lstat1 = calls_of(tl) - c0;
	c0 = calls_of(tl);
	assert_int_equal(uvfs_unlink(C, "e0"), 0);
	unsigned long lunl = calls_of(tl) - c0;
	c0 = calls_of(tl);
	fd = uvfs_open(C, "e0", O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	unsigned long lcreate = calls_of(tl) - c0;
	assert_int_equal(uvfs_close(C, fd), 0);
	printf("cache=loose: open(O_CREAT) %lu, stat %lu, unlink %lu; "
	       "readdir of 1000 entries %lu, then 1000 lstats %lu\n",
	       lcreate, lstat1, lunl, llist, lstats);
	assert_true(llist <= 10);       /* READDIRPLUSes */
	assert_int_equal(lstats, 0);    /* the listing named them */
	assert_int_equal(lstat1, 0);
	assert_true(lunl <= 2);
	assert_true(lcreate <= 2);
	assert_int_equal(uvfs_chdir(C, d), 0);
	umount_at(tl, 0);

	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_unlink(C, p), 0);
	}
	assert_int_equal(uvfs_chdir(C, "/"), 0);
	assert_int_equal(uvfs_rmdir(C, d), 0);
	umount_at(t, 0);
}

/* Another client writes: through a mount of its own (ganesha caches
 * attributes itself, so a change made beside it, on its disk, is not
 * what another NFS client would see). */
static void other_write(const char *tw, const char *name, const char *text)
{
	char p[96];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tw, name);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, text, strlen(text)),
			 (ssize_t)strlen(text));
	assert_int_equal(uvfs_fsync(C, fd), 0);
	assert_int_equal(uvfs_close(C, fd), 0);
}

/* The caching modes (docs/nfs.md): the default (cto) sees another
 * writer's change at the next open; cache=loose trusts what it saw and
 * asks the server nothing for an open, an fstat or a stat of a name it
 * knows, until this mount changes something; cache=none asks at every
 * getattr. */
static void test_cache_modes(void **state)
{
	char tw[32], t1[32], t2[32], t3[32], p[96], q[96], buf[32];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE,
		  "timeout=5000,noac");     /* the other client */
	other_write(tw, "cm", "one");
	/* default: close-to-open */
	mount_new(t1, sizeof(t1), SOURCE, "timeout=5000");
	snprintf(p, sizeof(p), "%s/cm", t1);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(uvfs_close(C, fd), 0);
	other_write(tw, "cm", "two, longer");
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 11);       /* seen at the open */
	assert_int_equal(uvfs_read(C, fd, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "two, longer", 11);
	assert_int_equal(uvfs_close(C, fd), 0);

	/* loose: what it saw, until it changes something itself */
	mount_new(t2, sizeof(t2), SOURCE, "timeout=5000,cache=loose");
	snprintf(p, sizeof(p), "%s/cm", t2);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	assert_int_equal(st.st_size, 11);
	other_write(tw, "cm", "three, longest");
	c0 = calls_of(t2);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 11);       /* trusted, not asked */
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	unsigned long loose = calls_of(t2) - c0;
	printf("cache=loose: open, fstat, close, stat of a known name: %lu "
	       "requests\n", loose);
	assert_int_equal(loose, 0);
	/* a change of its own: what it trusted is asked again */
	snprintf(q, sizeof(q), "%s/cm-other", t2);
	fd = uvfs_open(C, q, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	c0 = calls_of(t2);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	assert_true(calls_of(t2) - c0 >= 1);
	assert_int_equal(st.st_size, 14);
	assert_int_equal(uvfs_unlink(C, q), 0);

	/* none: every getattr asks */
	mount_new(t3, sizeof(t3), SOURCE, "timeout=5000,cache=none");
	snprintf(p, sizeof(p), "%s/cm", t3);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	c0 = calls_of(t3);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(calls_of(t3) - c0, 2);
	assert_int_equal(uvfs_close(C, fd), 0);

	umount_at(t1, 0);
	umount_at(t2, 0);
	umount_at(t3, 0);
	umount_at(tw, 0);
}

/* A rename's target is not looked up (the core's rename_blind_ok): the
 * server replaces it or refuses, as with Linux's client; a sticky
 * directory (not for root) and a mount on the instance's vnodes still go
 * through the core's checks.  The
 * exclusive create with no LOOKUP still answers -EEXIST before -EACCES. */
static void test_rename_target(void **state)
{
	char t[32], tw[32], p[96], q[96], buf[16];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE,
		  "timeout=5000,noac");     /* the other client */
	other_write(tw, "rta", "from a");
	other_write(tw, "rtb", "from b");
	snprintf(p, sizeof(p), "%s/rtdir", tw);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	snprintf(p, sizeof(p), "%s/rtdir/inside", tw);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,actimeo=60");
	snprintf(p, sizeof(p), "%s/rta", t);
	snprintf(q, sizeof(q), "%s/rtb", t);
	assert_int_equal(uvfs_stat(C, p, &st), 0);     /* known; rtb not */
	c0 = calls_of(t);
	assert_int_equal(uvfs_rename(C, p, q, 0), 0);  /* over rtb */
	unsigned long ren = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	fd = uvfs_open(C, q, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(C, fd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "from a", 6);
	assert_int_equal(uvfs_close(C, fd), 0);
	/* a file over a directory it did not know: the server refuses */
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_rename(C, q, p, 0), -EISDIR);
	/* a directory over a non-empty one it did not know: refused */
	snprintf(q, sizeof(q), "%s/rtd1", t);
	assert_int_equal(uvfs_mkdir(C, q, 0755), 0);
	assert_int_equal(uvfs_rename(C, q, p, 0), -ENOTEMPTY);
	assert_int_equal(uvfs_rmdir(C, q), 0);
	printf("rename over a name this mount did not know: %lu requests\n",
	       ren);
	assert_int_equal(ren, 1);
	/* the exclusive create with no LOOKUP keeps Linux's order: in a
	 * directory the caller may not write, an existing name is -EEXIST,
	 * a free one -EACCES; and a sticky directory makes the rename's
	 * target looked up (the victim's owner decides) */
	struct uvfs_cred u1 = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *c1;
	assert_int_equal(uvfs_ctx_new(U, &u1, &c1), 0);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 0555), 0);
	snprintf(p, sizeof(p), "%s/rtdir/inside", t);
	assert_int_equal(uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644),
			 -EEXIST);
	snprintf(p, sizeof(p), "%s/rtdir/free", t);
	assert_int_equal(uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644),
			 -EACCES);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 01777), 0);
	snprintf(p, sizeof(p), "%s/rtdir/roots", tw);    /* root's, unknown
							   * to this mount */
	fd = uvfs_open(C, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	snprintf(p, sizeof(p), "%s/rtdir/users", t);
	fd = uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(q, sizeof(q), "%s/rtdir/roots", t);
	assert_int_equal(uvfs_rename(c1, p, q, 0), -EPERM);  /* sticky */
	assert_int_equal(uvfs_unlink(C, p), 0);
	assert_int_equal(uvfs_unlink(C, q), 0);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 0755), 0);
	uvfs_ctx_free(c1);

	/* a mount on one of the instance's vnodes: the target is looked up
	 * again, so renaming over the mount point is -EBUSY */
	snprintf(p, sizeof(p), "%s/rtdir/inside", t);
	assert_int_equal(uvfs_mount(C, "memfs", "none", p, NULL), 0);
	snprintf(q, sizeof(q), "%s/rtdir/other", t);
	assert_int_equal(uvfs_mkdir(C, q, 0755), 0);
	assert_int_equal(uvfs_rename(C, q, p, 0), -EBUSY);
	assert_int_equal(uvfs_umount(C, p, 0), 0);
	assert_int_equal(uvfs_rmdir(C, q), 0);
	remove_at(t, "rtdir/inside", true);
	remove_at(t, "rtdir", true);
	remove_at(t, "rtb", false);
	umount_at(t, 0);
	umount_at(tw, 0);
}

/* How long until a stat of p succeeds (polled every 50 ms, at most
 * limit_ms); the milliseconds it took, or -1. */
static long appears_within(const char *p, long limit_ms)
{
	uint64_t t0 = now_ms();
	struct stat st;

	for (;;) {
		if (uvfs_stat(C, p, &st) == 0)
			return (long)(now_ms() - t0);
		if ((long)(now_ms() - t0) > limit_ms)
			return -1;
		usleep(50000);
	}
}

/* Negative names (docs/nfs.md, "Names"): a LOOKUP answered NOENT is
 * remembered for the name lifetime (actimeo) while the directory shows
 * no change; this mount's own create, link, rename, mkdir or symlink of
 * the name, or any change of the directory it makes, drops it at once; a
 * refresh of the directory's attributes that shows another client's
 * change drops it; cache=none and noac ask every time. */
static void test_negative_names(void **state)
{
	char tw[32], t1[32], t2[32], t3[32], p[96], q[96];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE,
		  "timeout=5000,noac");     /* the other client */
	snprintf(p, sizeof(p), "%s/negdir", tw);
	uvfs_mkdir(C, p, 0777);         /* left by an earlier run: fine */
	/* a lifetime no loaded machine outlasts between two calls */
	mount_new(t1, sizeof(t1), SOURCE, "timeout=5000,actimeo=60");
	snprintf(p, sizeof(p), "%s/negdir", t1);
	assert_int_equal(uvfs_stat(C, p, &st), 0);      /* the dir known */
	snprintf(p, sizeof(p), "%s/negdir/n1", t1);
	c0 = calls_of(t1);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	unsigned long twice = calls_of(t1) - c0;
	printf("negative names: two stats of a missing name: %lu requests\n",
	       twice);
	assert_int_equal(twice, 1);     /* one LOOKUP */

	/* another client makes it: not seen within the lifetime while
	 * nothing shows the directory changed (Linux's negative dentry) */
	other_write(tw, "negdir/n1", "x");
	c0 = calls_of(t1);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	assert_int_equal(calls_of(t1) - c0, 0);
	/* ... and at once after this mount changes the directory itself */
	snprintf(q, sizeof(q), "%s/negdir/own1", t1);
	fd = uvfs_open(C, q, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_stat(C, p, &st), 0);

	/* a refresh of the directory's attributes (close-to-open: an open
	 * of the directory) that shows another client's change drops them */
	snprintf(p, sizeof(p), "%s/negdir/n2", t1);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	other_write(tw, "negdir/n2", "x");
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);  /* remembered */
	snprintf(q, sizeof(q), "%s/negdir", t1);
	fd = uvfs_open(C, q, O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_stat(C, p, &st), 0);

	/* this mount's own create, mkdir, symlink, link and rename of a
	 * name it remembers as missing: seen at once */
	static const char *const made[] = { "c", "d", "s", "l", "r" };
	for (unsigned i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/negdir/own-%s", t1, made[i]);
		assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	}
	snprintf(p, sizeof(p), "%s/negdir/own-c", t1);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY, 0644);  /* looks up first */
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	snprintf(p, sizeof(p), "%s/negdir/own-d", t1);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	snprintf(p, sizeof(p), "%s/negdir/own-s", t1);
	assert_int_equal(uvfs_symlink(C, "own-c", p), 0);
	snprintf(q, sizeof(q), "%s/negdir/own-c", t1);
	snprintf(p, sizeof(p), "%s/negdir/own-l", t1);
	assert_int_equal(uvfs_link(C, q, p), 0);
	snprintf(q, sizeof(q), "%s/negdir/own1", t1);
	snprintf(p, sizeof(p), "%s/negdir/own-r", t1);
	assert_int_equal(uvfs_rename(C, q, p, 0), 0);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/negdir/own-%s", t1, made[i]);
		assert_int_equal(uvfs_lstat(C, p, &st), 0);
	}

	/* the lifetime bounds it: with actimeo=1 another client's file is
	 * seen within about a second, whatever else happens */
	mount_new(t2, sizeof(t2), SOURCE, "timeout=5000,actimeo=1");
	snprintf(p, sizeof(p), "%s/negdir/n3", t2);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	other_write(tw, "negdir/n3", "x");
	long ms = appears_within(p, 10000);
	printf("negative names: another client's file seen after %ld ms "
	       "(actimeo=1)\n", ms);
	assert_true(ms >= 0 && ms <= 4000);     /* 1 s and slack for load */

	/* cache=none asks every time */
	mount_new(t3, sizeof(t3), SOURCE, "timeout=5000,cache=none");
	snprintf(p, sizeof(p), "%s/negdir/n4", t3);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	c0 = calls_of(t3);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	unsigned long none = calls_of(t3) - c0;
	printf("negative names: cache=none, two stats of a missing name: %lu "
	       "requests\n", none);
	assert_true(none >= 2);

	/* clean up through the other client */
	static const char *const left[] = {
		"n1", "n2", "n3", "own-c", "own-s", "own-l", "own-r",
	};
	for (unsigned i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		snprintf(p, sizeof(p), "%s/negdir/%s", tw, left[i]);
		assert_int_equal(uvfs_unlink(C, p), 0);
	}
	snprintf(p, sizeof(p), "%s/negdir/own-d", tw);
	assert_int_equal(uvfs_rmdir(C, p), 0);
	snprintf(p, sizeof(p), "%s/negdir", tw);
	assert_int_equal(uvfs_rmdir(C, p), 0);
	umount_at(t1, 0);
	umount_at(t2, 0);
	umount_at(t3, 0);
	umount_at(tw, 0);
}

/* t/rel (through C) reads back as want: its open and read succeed. */
static void assert_reads(const char *t, const char *rel, const char *want)
{
	char p[128], buf[64];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", t, rel);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	ssize_t r = uvfs_pread(C, fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(r, (ssize_t)strlen(want));
	buf[r] = '\0';
	assert_string_equal(buf, want);
}

/* Another client replaces what this mount knows (names and attributes
 * cached for a minute): a file by a new one renamed over it, as editors
 * save, and a directory by a new one made under its name.  The old
 * handles are stale; the next open finds the new files (the core's second
 * try, RETRY_ESTALE, after the driver dropped the names that led to the
 * stale handles), never -ESTALE, never the old data.  A directory removed
 * through this mount stays removed: a name in it (the cwd) is -ENOENT at
 * once, not a stale handle retried. */
static void test_replaced_elsewhere(void **state)
{
	char tw[32], t1[32], p[96], q[96], buf[32];
	struct stat st;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE, "timeout=5000,noac"); /* the other */
	snprintf(p, sizeof(p), "%s/repl", tw);
	uvfs_mkdir(C, p, 0777);         /* left by an earlier run: fine */
	snprintf(p, sizeof(p), "%s/repl/d", tw);
	uvfs_mkdir(C, p, 0777);
	other_write(tw, "repl/f", "old");
	other_write(tw, "repl/d/x", "dold");
	mount_new(t1, sizeof(t1), SOURCE, "timeout=5000,actimeo=60");
	assert_reads(t1, "repl/f", "old");
	assert_reads(t1, "repl/d/x", "dold");

	/* the other client: a new f renamed over the old one; a new d2
	 * with its own x, the old d emptied and removed, d2 renamed to d */
	other_write(tw, "repl/f.new", "new");
	snprintf(p, sizeof(p), "%s/repl/f.new", tw);
	snprintf(q, sizeof(q), "%s/repl/f", tw);
	assert_int_equal(uvfs_rename(C, p, q, 0), 0);
	snprintf(p, sizeof(p), "%s/repl/d2", tw);
	assert_int_equal(uvfs_mkdir(C, p, 0777), 0);
	other_write(tw, "repl/d2/x", "dnew");
	remove_at(tw, "repl/d/x", false);
	remove_at(tw, "repl/d", true);
	snprintf(p, sizeof(p), "%s/repl/d", tw);
	snprintf(q, sizeof(q), "%s/repl/d2", tw);
	assert_int_equal(uvfs_rename(C, q, p, 0), 0);

	assert_reads(t1, "repl/f", "new");
	assert_reads(t1, "repl/d/x", "dnew");
	snprintf(p, sizeof(p), "%s/repl/d/y", t1);      /* made in the new d */
	int fd = uvfs_open(C, p, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_unlink(C, p), 0);

	/* removed through this mount: its cwd holds no names */
	snprintf(p, sizeof(p), "%s/repl/g", t1);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	assert_int_equal(uvfs_chdir(C, p), 0);
	assert_int_equal(uvfs_rmdir(C, p), 0);
	assert_int_equal(uvfs_open(C, "z", O_CREAT | O_WRONLY, 0644),
			 -ENOENT);
	assert_int_equal(uvfs_stat(C, "z", &st), -ENOENT);
	assert_int_equal(uvfs_mkdir(C, "z", 0755), -ENOENT);
	assert_int_equal(uvfs_getcwd(C, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(uvfs_chdir(C, "/"), 0);

	remove_at(t1, "repl/d/x", false);
	remove_at(t1, "repl/d", true);
	remove_at(t1, "repl/f", false);
	remove_at(t1, "repl", true);
	umount_at(t1, 0);
	umount_at(tw, 0);
}

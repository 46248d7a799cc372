/*
 * test_9pclient_replies.c - the client against the fake server's
 * replies: a plain mount, malformed, mistyped and unsolicited replies and
 * bad errnos, a request flushed at its deadline, a Treaddir sent ahead whose fid is clunked
 * only after its reply, a Twalk whose Rwalk came before the Rflush, and
 * replies out of order.
 * Included by test_9pclient.c; not a program of its own.
 */

/* ---- tests -------------------------------------------------------------- */

static void test_basic(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	char buf[64];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 200);
	assert_int_equal(uvfs_stat(x.c, "/m/nope", &st), -ENOENT);
	fd = uvfs_open(x.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(x.c, fd, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "hello, 9p", 9);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_bad_replies(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/bad", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/wrong", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/unsol", &st), 0);
	assert_int_equal(st.st_size, 500);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/ezero", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/ehuge", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* Answers no file can have: attributes without a file type, with one
 * Linux does not know, or with a size past off_t, are -EIO (the kernel's
 * FUSE client took such a file for a bad inode, and a negative st_size
 * went up); names that are empty or hold a '/' are left out of a
 * listing, by the core now (a FUSE listing with one failed whole). */
static void test_impossible_answers(void **state)
{
	struct uvfs_dirent de[16];
	struct fx x = { 0 };
	struct stat st;
	ssize_t n;
	bool f = false;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/notype", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/badtype", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/hugesize", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(st.st_size, 200);

	fd = uvfs_open(x.c, "/m/odd", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	while ((n = uvfs_readdir(x.c, fd, de, 16)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			printf("    listed: '%s'\n", de[i].name);
			assert_true(de[i].name[0] != '\0');
			assert_null(strchr(de[i].name, '/'));
			if (strcmp(de[i].name, "f") == 0)
				f = true;
		}
	}
	assert_int_equal(n, 0);
	assert_true(f);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_deadline_flush(void **state)
{
	struct fx x = { 0 };
	struct timespec t0;
	struct stat st;

	(void)state;
	/* every request has this deadline, the 300 plain stats below too:
	 * a second, so that a loaded machine does not time those out */
	char opts[32];
	long dl = test_bound_ms(1000);
	snprintf(opts, sizeof(opts), "timeout=%ld", dl);
	assert_int_equal(fx_mount(&x, opts), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the server answered the flushed request before its Rflush: the
	 * call happened, and says so */
	assert_int_equal(uvfs_stat(x.c, "/m/late", &st), 0);
	assert_int_equal(st.st_size, 600);
	assert_true(ms_since(&t0) >= dl && ms_since(&t0) < 2 * dl + 5000);
	int flushes = atomic_load(&x.fs.flushes);      /* stat asks twice */
	assert_true(flushes >= 1);
	/* no reply, an Rflush: it failed, and did not happen; the caller
	 * is told only once the server confirmed the flush */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(x.c, "/m/fl", &st), -ETIMEDOUT);
	assert_int_equal(atomic_load(&x.fs.flushes), flushes + 1);
	assert_true(ms_since(&t0) < dl + 5000);
	/* only that request failed */
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	for (int i = 0; i < 300; i++)   /* tags get reused */
		assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Treaddir sent ahead that nobody wants any more (the directory was
 * closed after its first entry): its fid's Tclunk goes out only after
 * the Treaddir's reply, never while it is out (a server may free what
 * the request uses: diod 1.0.24 crashes in that Treaddir).  The fake
 * server holds it until its next message and counts a Tclunk of its fid
 * that comes meanwhile. */
static void test_readdir_ahead_clunk(void **state)
{
	struct fx x = { 0 };
	struct uvfs_dirent de[1];
	struct statvfs sv;
	int fd, i;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	fd = uvfs_open(x.c, "/m/dir", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_readdir(x.c, fd, de, 1), 1);
	/* the next Treaddir went out with the first reply */
	for (i = 0; i < 500 && !atomic_load(&x.fs.rd_held); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&x.fs.rd_held));
	assert_int_equal(uvfs_close(x.c, fd), 0);
	/* other requests: the first releases the held reply; the fid's
	 * Tclunk follows it */
	for (i = 0; i < 500 && atomic_load(&x.fs.dir_clunks) == 0; i++) {
		assert_int_equal(uvfs_statfs(x.c, "/m", &sv), 0);
		usleep(10 * 1000);
	}
	assert_int_equal(atomic_load(&x.fs.clunk_busy), 0);
	assert_int_equal(atomic_load(&x.fs.dir_clunks), 1);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Twalk flushed after its deadline whose Rwalk still came before the
 * Rflush: the walk happened, the lookup succeeds with the fid it made,
 * and that fid is clunked like any other (here at unmount). */
static void test_late_walk_clunked(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=300"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/lw", &st), 0);
	assert_int_equal(atomic_load(&x.fs.flushes), 1);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	/* a normal unmount waits for the Rclunks (bounded) */
	assert_int_equal(atomic_load(&x.fs.lw_clunks), 1);
	fx_done(&x);
}

struct statarg {
	struct uvfs *u;
	const char *path;
	int r;
	off_t size;
};

static void *stat_thread(void *arg)
{
	struct statarg *a = arg;
	struct uvfs_ctx *c;
	struct stat st;

	assert_int_equal(uvfs_ctx_new(a->u, NULL, &c), 0);
	a->r = uvfs_stat(c, a->path, &st);
	if (a->r == 0)
		a->size = st.st_size;
	uvfs_ctx_free(c);
	return NULL;
}

static void test_out_of_order(void **state)
{
	struct fx x = { 0 };
	struct statarg a = { .path = "/m/o1" }, b = { .path = "/m/o2" };
	pthread_t ta, tb;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	a.u = b.u = x.u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	for (int i = 0; i < 1000 && !atomic_load(&x.fs.held); i++)
		usleep(10 * 1000); /* until o1's Tgetattr is held */
	assert_int_equal(atomic_load(&x.fs.held), 1);
	assert_int_equal(pthread_create(&tb, NULL, stat_thread, &b), 0);
	pthread_join(tb, NULL);
	pthread_join(ta, NULL);
	assert_int_equal(a.r, 0);
	assert_int_equal(a.size, 700);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.size, 800);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

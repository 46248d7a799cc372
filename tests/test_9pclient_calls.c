/*
 * test_9pclient_calls.c - many calls: many callers at once with one
 * timing out again and again, a mount that sends one request at a time
 * (serial), a reply over msize (the connection fails fast, the VFS
 * stays up), a hung server at a normal unmount, a read of two pieces
 * whose second fails.
 * Included by test_9pclient.c; not a program of its own.
 */

struct loop_arg {
	struct uvfs *u;
	int n, fails;
	bool late;      /* stat "fl" (one thread): must time out */
	char first[64]; /* what the first failure was, for the report */
};

static void loop_fail(struct loop_arg *a, int i, const char *what, long r)
{
	if (a->fails++ == 0)
		snprintf(a->first, sizeof(a->first), "round %d: %s gave %ld",
			 i, what, r);
}

static void *loop_thread(void *arg)
{
	struct loop_arg *a = arg;
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];

	assert_int_equal(uvfs_ctx_new(a->u, NULL, &c), 0);
	for (int i = 0; i < a->n; i++) {
		int r;

		if (a->late) {
			r = uvfs_stat(c, "/m/fl", &st);
			if (r != -ETIMEDOUT)
				loop_fail(a, i, "stat fl", r);
			continue;
		}
		r = uvfs_stat(c, "/m/f", &st);
		if (r != 0 || st.st_size != 200)
			loop_fail(a, i, "stat f (or its size)",
				  r ? r : (long)st.st_size);
		int fd = uvfs_open(c, "/m/f", O_RDONLY, 0);
		if (fd < 0) {
			loop_fail(a, i, "open", fd);
			continue;
		}
		ssize_t n = uvfs_pread(c, fd, buf, 5, 7);
		if (n != 2 || memcmp(buf, "9p", 2) != 0)
			loop_fail(a, i, "pread", (long)n);
		uvfs_close(c, fd);
	}
	uvfs_ctx_free(c);
	return NULL;
}

/* Many callers at once, one of them timing out again and again: every
 * other request succeeds, with its own reply.  (A deadline covers a whole
 * call, walk and open together: 1 s, 5 s under ThreadSanitizer, so that a
 * busy host does not make the others' calls miss it.) */
static void test_parallel(void **state)
{
	struct fx x = { 0 };
	struct loop_arg a[9];
	pthread_t t[9];
	char opts[32];

	(void)state;
	snprintf(opts, sizeof(opts), "timeout=%ld", test_bound_ms(1000));
	assert_int_equal(fx_mount(&x, opts), 0);
	for (int i = 0; i < 9; i++) {
		a[i] = (struct loop_arg){ .u = x.u, .n = i == 8 ? 2 : 150,
					  .late = i == 8 };
		assert_int_equal(pthread_create(&t[i], NULL, loop_thread,
						&a[i]), 0);
	}
	int fails = 0;
	for (int i = 0; i < 9; i++) {
		pthread_join(t[i], NULL);
		if (a[i].fails) {
			printf("parallel: thread %d: %d failed, first %s\n",
			       i, a[i].fails, a[i].first);
			fails += a[i].fails;
		}
	}
	for (int i = 0; i < 500 && atomic_load(&x.fs.flushes) < 2; i++)
		usleep(10 * 1000);      /* the server reads them on its own */
	int flushes = atomic_load(&x.fs.flushes);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
	assert_int_equal(fails, 0);
	assert_int_equal(flushes, 2);
}

static void test_serial(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "serial,timeout=2000,msize=4096"), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/bad", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_oversized(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	/* framing lost: the whole connection fails, fast, and stays up */
	assert_int_equal(uvfs_stat(x.c, "/m/big", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A hung server and a normal unmount: the request times out, the unmount
 * waits for the clunks' replies a bounded time only. */
static void test_hang_normal_umount(void **state)
{
	struct fx x = { 0 };
	struct timespec t0;
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=500"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(x.c, "/m/hang", &st), -ETIMEDOUT);
	/* its Tflush unanswered too: the link was cut (fd: cannot be
	 * connected again): the next call fails at once */
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_true(ms_since(&t1) < test_bound_ms(200));
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	assert_true(ms_since(&t0) < 4000);
	fx_done(&x);
}

/* A read of two pieces whose second fails fails whole: a short count
 * would read as the end of the file. */
static void test_read_whole(void **state)
{
	struct fx x = { 0 };
	static char buf[16384];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/rw", O_RDONLY, 0);
	assert_true(fd >= 0);
	/* one piece: whole */
	assert_int_equal(uvfs_pread(x.c, fd, buf, 4096, 0), 4096);
	/* two pieces, the second fails: the whole read fails */
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

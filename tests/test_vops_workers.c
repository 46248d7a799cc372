/*
 * test_vops_workers.c - bounded workers: driver operations that block
 * past the deadline hold no worker, freeze no other mount and do not
 * starve uvfs_settle; what they held is reclaimed once they return; a
 * release that hangs does not hold up another mount's unmount.
 * Included by test_vops.c (it uses that file's fixture and helpers); not
 * a program of its own.
 */

/* ---- bounded workers ---------------------------------------------------- */

struct statter {
	pthread_t t;
	struct uvfs_ctx *ctx;
	char path[32];
	int r;
};

static void *stat_main(void *arg)
{
	struct statter *s = arg;
	struct stat st;

	s->r = uvfs_stat(s->ctx, s->path, &st);
	return NULL;
}

/* Two driver calls hang past the deadline on two mounts, both revoked and
 * one force-unmounted: with a pool of two workers, each waiting for its
 * drain would stall every other deferred job.  Here a third mount still
 * unmounts lazily and uvfs_settle returns while they hang. */
static void test_blocked_ops_free_workers(void **state)
{
	struct statter s[2];
	struct uvfs_stats st;
	double t0;
	int fd;

	(void)state;
	mount_testfs("/a");
	mount_testfs("/b");
	mount_testfs("/c");
	make_file("/a/f");
	make_file("/b/f");
	make_file("/c/f");
	testfs_block(TFS_GETATTR);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(uvfs_ctx_new(U, NULL, &s[i].ctx), 0);
		snprintf(s[i].path, sizeof(s[i].path), "/%c/f", 'a' + i);
		assert_int_equal(pthread_create(&s[i].t, NULL, stat_main,
						&s[i]), 0);
	}
	assert_true(testfs_wait_blocked(2, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/a/f"), 0);
	assert_int_equal(uvfs_revoke(R, "/b/f"), 0);
	assert_int_equal(uvfs_umount(R, "/b", UVFS_UMOUNT_FORCE), 0);
	assert_true(now_ms() - t0 < 2 * DEADLINE_MS + SLACK_MS);
	/* /a is dead now (its revoke could not drain), not frozen */
	assert_int_equal(uvfs_open(R, "/a/f", O_RDONLY, 0), -EIO);

	/* the workers are free: a lazy unmount of /c is torn down */
	fd = uvfs_open(R, "/c/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_umount(R, "/c", UVFS_UMOUNT_DETACH), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	t0 = now_ms();
	/* /b's sb stays until its call returns: settle times out on it
	 * alone, after its own bound, with the rest done */
	assert_int_equal(uvfs_settle(U, 3 * DEADLINE_MS), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 3 * DEADLINE_MS + SLACK_MS);
	uvfs_stats(U, &st);
	/* root, /a and /b (held by the hung stat); /c is gone */
	assert_int_equal(st.mounts, 3);
	assert_int_equal(st.deferred_pending, 0);

	testfs_unblock();
	for (int i = 0; i < 2; i++) {
		pthread_join(s[i].t, NULL);
		/* the call itself was inside: it finished */
		assert_int_equal(s[i].r, 0);
		uvfs_ctx_free(s[i].ctx);
	}
	assert_int_equal(uvfs_settle(U, 10000), 0);
	/* /a was killed: even its root's node is reclaimed */
	assert_int_equal(testfs_live_nodes(), 0);
	assert_int_equal(uvfs_umount(R, "/a", 0), 0);
}

/* A call hangs in the driver past a revoke's deadline; meanwhile mounts
 * are made and lazily unmounted: their teardowns run and uvfs_settle
 * returns, neither waiting for the hung call (a worker blocked on its drain
 * would have kept settle waiting). */
static void test_settle_not_starved(void **state)
{
	struct statter s = { .path = "/m/f" };
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &s.ctx), 0);
	testfs_block(TFS_GETATTR);
	assert_int_equal(pthread_create(&s.t, NULL, stat_main, &s), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	t0 = now_ms();
	for (int i = 0; i < 4; i++) {
		char t[16];
		snprintf(t, sizeof(t), "/x%d", i);
		assert_int_equal(uvfs_mkdir(R, t, 0755), 0);
		/* (memfs: testfs's getattr is blocked) */
		assert_int_equal(uvfs_mount(R, "memfs", "none", t, ""), 0);
		snprintf(t, sizeof(t), "/x%d/f", i);
		make_file(t);
		snprintf(t, sizeof(t), "/x%d", i);
		assert_int_equal(uvfs_umount(R, t, UVFS_UMOUNT_DETACH), 0);
	}
	assert_int_equal(uvfs_settle(U, SLACK_MS), 0);
	assert_true(now_ms() - t0 < SLACK_MS);
	testfs_unblock();
	pthread_join(s.t, NULL);
	assert_int_equal(s.r, 0);
	uvfs_ctx_free(s.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* ---- a hung release and another mount's unmount ------------------------- */

struct umounter {
	pthread_t t;
	const char *path;
	atomic_int done;
	int r;
};

static void *umount_main(void *arg)
{
	struct umounter *m = arg;

	m->r = uvfs_umount(R, m->path, 0);
	atomic_store(&m->done, 1);
	return NULL;
}

/* The reclaim of a file on a killed testfs hangs in the driver's release
 * (a hung server's) while a memfs file's reclaim is queued beside it.  A
 * plain unmount of the memfs runs its own queued reclaim itself and
 * returns at once: the hung one is not in its way.  A worker that took
 * the whole lazy queue as one batch (tried, and taken back) hid the memfs
 * reclaim behind the hung release: the unmount waited for it, 3 s and
 * more, where it took 1 ms. */
static void test_hung_release_frees_other_mount(void **state)
{
	struct statter a;
	struct umounter m = { .path = "/m" };
	struct uvfs_ctx *c2;
	unsigned long rc0;
	double t0, took;
	int fd, fd2;

	(void)state;
	mount_testfs("/t");
	assert_int_equal(uvfs_mkdir(R, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(R, "memfs", "none", "/m", ""), 0);
	make_file("/t/f");
	make_file("/t/g");
	assert_int_equal(uvfs_ctx_new(U, NULL, &c2), 0);
	fd = uvfs_open(c2, "/t/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_unlink(c2, "/t/f"), 0);
	/* a stat hung inside /t's gate: the forced unmount's kill parks */
	testfs_block(TFS_GETATTR);
	assert_int_equal(uvfs_ctx_new(U, NULL, &a.ctx), 0);
	snprintf(a.path, sizeof(a.path), "/t/g");
	assert_int_equal(pthread_create(&a.t, NULL, stat_main, &a), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	assert_int_equal(uvfs_umount(R, "/t", UVFS_UMOUNT_FORCE), 0);
	/* a memfs vnode to be reclaimed too */
	fd2 = uvfs_open(c2, "/m/x", O_CREAT | O_RDWR, 0644);
	assert_true(fd2 >= 0);
	assert_int_equal(uvfs_unlink(c2, "/m/x"), 0);
	/* from now on a release hangs */
	testfs_block(TFS_RELEASE);
	rc0 = testfs_calls(TFS_RELEASE);
	assert_int_equal(uvfs_close(c2, fd), 0);   /* orphan: the reclaim's */
	assert_int_equal(uvfs_close(c2, fd2), 0);  /* queued beside it */
	uvfs_ctx_free(c2);
	t0 = now_ms();
	while (testfs_calls(TFS_RELEASE) == rc0 && now_ms() - t0 < SLACK_MS)
		usleep(1000);
	assert_true(testfs_calls(TFS_RELEASE) > rc0);   /* it hangs now */
	t0 = now_ms();
	assert_int_equal(pthread_create(&m.t, NULL, umount_main, &m), 0);
	while (!atomic_load(&m.done) && now_ms() - t0 < SLACK_MS)
		usleep(1000);
	took = now_ms() - t0;
	testfs_unblock();
	pthread_join(m.t, NULL);
	pthread_join(a.t, NULL);
	uvfs_ctx_free(a.ctx);
	assert_int_equal(m.r, 0);
	assert_true(took < SLACK_MS);
}

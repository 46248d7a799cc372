/*
 * test_umount_admin.c - suspend and resume (callers wait at the gate
 * and carry on, or give up when their front end cancels the wait; a
 * suspended mount detached lazily), unregistering a file-system type
 * (its instances unmounted; lazily, a wait that times out while a file
 * is open; a mount or a lazy unmount racing it), registering a type
 * twice, and bad input.
 * Included by test_umount.c (it uses that file's fixture, counters and
 * helpers); not a program of its own.
 */

/* ---- suspend / resume -------------------------------------------------- */

/* A stat of path, or with path NULL an fstat of fd, on a thread; with
 * w, under that interruption (uvfs_intr_set(w, wdata)), cancelled before
 * the call if cancel_first. */
struct bg_stat {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	const char *path;
	int fd;
	struct uvfs_intr *w;
	void *wdata;
	int cancel_first;
	atomic_int done;
	int result;
	double ms;              /* how long the call took */
};

static void *bg_stat_main(void *arg)
{
	struct bg_stat *b = arg;
	struct stat st;
	double t0 = now_ms();

	if (b->w) {
		uvfs_intr_set(b->w, b->wdata);
		if (b->cancel_first)
			uvfs_intr_cancel(b->w);
	}
	b->result = b->path ? uvfs_stat(b->ctx, b->path, &st)
			    : uvfs_fstat(b->ctx, b->fd, &st);
	if (b->w)
		uvfs_intr_set(NULL, NULL);
	b->ms = now_ms() - t0;
	atomic_store(&b->done, 1);
	return NULL;
}

static void bg_start(struct bg_stat *b, struct uvfs_ctx *c, const char *path)
{
	b->ctx = c;
	b->path = path;
	atomic_store(&b->done, 0);
	b->result = 1;
	assert_int_equal(pthread_create(&b->thread, NULL, bg_stat_main, b),
			 0);
}

/* Waits up to ms for the thread; fails (without joining) if it hangs. */
static void bg_wait(struct bg_stat *b, int ms)
{
	double end = now_ms() + ms;

	while (!atomic_load(&b->done)) {
		if (now_ms() > end)
			fail_msg("the background stat of %s hangs", b->path);
		sleep_ms(5);
	}
	pthread_join(b->thread, NULL);
}

static void test_suspend_resume(void **state)
{
	struct bg_stat b = { 0 };
	struct uvfs_ctx *c;
	char st8[16];
	double t0, dt;
	uint64_t live;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "x");
	c = new_ctx("waiter");
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_true(mounted("/mnt/x", st8));
	assert_string_equal(st8, "suspended");
	bg_start(&b, c, "/mnt/x/f");
	sleep_ms(100);
	assert_false(atomic_load(&b.done));
	/* other mounts are not affected */
	put(R, "/elsewhere", "fine");
	ASSERT_CONTENT(R, "/elsewhere", "fine");
	assert_false(atomic_load(&b.done));
	OK(uvfs_resume(R, "/mnt/x"));
	bg_wait(&b, 2000);
	assert_int_equal(b.result, 0);
	assert_true(mounted("/mnt/x", st8));
	assert_string_equal(st8, "active");

	/* a forced unmount of a suspended mount: bounded, no hang */
	OK(uvfs_suspend(R, "/mnt/x"));
	bg_start(&b, c, "/mnt/x/f");
	sleep_ms(100);
	assert_false(atomic_load(&b.done));
	t0 = now_ms();
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	dt = now_ms() - t0;
	printf("    forced unmount of a suspended mount: %.1f ms\n", dt);
	assert_true(dt < 2000);
	bg_wait(&b, 2000);
	printf("    the blocked stat returned %s\n", errname(b.result));
	if (b.result != 0 && b.result != -EIO && b.result != -ENOENT)
		fail_msg("blocked stat got %s", errname(b.result));
	assert_false(mounted("/mnt/x", NULL));
	free_ctx(c);
	assert_only_root(live);
}

/* A suspended mount that leaves the namespace lazily (itself, or with a
 * mount above it) can no longer be named, so no resume could reach it:
 * its suspension ends there, and its open files work on until closed, as
 * on any lazily unmounted mount, rather than waiting for good.  The
 * suspender's resume then finds no mount. */
static void test_suspend_then_detach(void **state)
{
	struct bg_stat b = { .result = 1 };
	struct uvfs_ctx *c;
	uint64_t live;
	char buf[8];
	double end;

	(void)state;
	live = live_vnodes();
	for (int above = 0; above < 2; above++) {
		const char *t = above ? "/mnt/x/y" : "/mnt/x";

		mount_x("/mnt/x", NULL);
		if (above) {
			OK(uvfs_mkdir(R, "/mnt/x/y", 0755));
			mount_x("/mnt/x/y", NULL);
		}
		snprintf(buf, sizeof(buf), "%d", above);
		c = new_ctx("reader");
		b.ctx = c;
		b.path = NULL;
		b.fd = (int)OK(uvfs_open(c, above ? "/mnt/x/y/f" : "/mnt/x/f",
					 O_CREAT | O_RDWR, 0644));
		OK(uvfs_suspend(R, t));
		OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_DETACH));
		atomic_store(&b.done, 0);
		assert_int_equal(pthread_create(&b.thread, NULL, bg_stat_main,
						&b), 0);
		for (end = now_ms() + 2000;
		     !atomic_load(&b.done) && now_ms() < end;)
			sleep_ms(5);
		if (!atomic_load(&b.done))
			fail_msg("an fstat on a suspended mount lazily "
				 "unmounted%s waits for a resume that cannot "
				 "come", above ? " (the mount above)" : "");
		pthread_join(b.thread, NULL);
		OK(b.result);
		assert_int_equal(OK(uvfs_pwrite(c, b.fd, buf, 1, 0)), 1);
		ERR2(uvfs_resume(R, t), ENOENT, EINVAL);
		OK(uvfs_close(c, b.fd));
		free_ctx(c);
		OK(uvfs_settle(U, 5000));
	}
	assert_only_root(live);
}

/* A revoked file's operations answer EIO at once, also while its mount
 * is suspended: a dead vnode is dead for good, so nothing is worth the
 * wait at the closed gate. */
static void test_suspend_revoked_file(void **state)
{
	struct bg_stat b = { .result = 1 };
	uint64_t live;
	double end;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "x");
	b.ctx = R;
	b.fd = (int)OK(uvfs_open(R, "/mnt/x/f", O_RDONLY, 0));
	OK(uvfs_revoke(R, "/mnt/x/f"));
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_int_equal(pthread_create(&b.thread, NULL, bg_stat_main, &b),
			 0);
	for (end = now_ms() + 2000; !atomic_load(&b.done) && now_ms() < end;)
		sleep_ms(5);
	bool answered = atomic_load(&b.done);
	OK(uvfs_resume(R, "/mnt/x"));   /* lets a waiting fstat go, if so */
	pthread_join(b.thread, NULL);
	if (!answered)
		fail_msg("the revoked file's fstat waited for the resume");
	assert_int_equal(b.result, -EIO);
	OK(uvfs_close(R, b.fd));
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

/* An interruption (uvfs_intr) as a front end keeps one: what the library
 * told it, and whether its arm cancels at once (an INTERRUPT that came
 * before the wait). */
struct intr_rec {
	atomic_int armed, disarmed;
	int cancel_in_arm;
};

static void intr_rec_arm(void *data, struct uvfs_intr *w, int waiting)
{
	struct intr_rec *ir = data;

	if (!waiting) {
		atomic_fetch_add(&ir->disarmed, 1);
		return;
	}
	atomic_fetch_add(&ir->armed, 1);
	if (ir->cancel_in_arm)
		uvfs_intr_cancel(w);
}

/* A caller that gives up while waiting at a suspended mount (FUSE
 * INTERRUPT: the process was killed) gets -EINTR at once and never
 * entered the file system, and the gate is whole after it: the resume,
 * another suspend and a plain unmount go through. */
static void test_suspend_interrupt(void **state)
{
	struct intr_rec ir = { 0 };
	struct uvfs_intr *w = uvfs_intr_new(intr_rec_arm);
	struct bg_stat b = { .w = w, .wdata = &ir };
	struct uvfs_ctx *c;
	uint64_t live;
	double end;

	(void)state;
	assert_non_null(w);
	assert_null(uvfs_intr_new(NULL));
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "x");
	c = new_ctx("interrupted");
	OK(uvfs_suspend(R, "/mnt/x"));

	/* cancelled while it waits */
	bg_start(&b, c, "/mnt/x/f");
	for (end = now_ms() + 2000; atomic_load(&ir.armed) == 0;) {
		if (now_ms() > end)
			fail_msg("the wait at the suspended gate was not armed");
		sleep_ms(5);
	}
	sleep_ms(50);
	assert_false(atomic_load(&b.done));
	uvfs_intr_cancel(w);
	bg_wait(&b, 1000);
	printf("    a cancelled wait at a suspended mount: %s\n",
	       errname(b.result));
	assert_int_equal(b.result, -EINTR);
	assert_int_equal(atomic_load(&ir.armed), 1);
	assert_int_equal(atomic_load(&ir.disarmed), 1);

	/* cancelled by the arm itself: the INTERRUPT came first */
	ir.cancel_in_arm = 1;
	bg_start(&b, c, "/mnt/x/f");
	bg_wait(&b, 1000);
	assert_int_equal(b.result, -EINTR);
	assert_true(b.ms < 500);
	assert_int_equal(atomic_load(&ir.armed), 2);
	assert_int_equal(atomic_load(&ir.disarmed), 2);
	ir.cancel_in_arm = 0;

	/* cancelled before the call: the wait ends as it would begin */
	b.cancel_first = 1;
	bg_start(&b, c, "/mnt/x/f");
	bg_wait(&b, 1000);
	assert_int_equal(b.result, -EINTR);
	b.cancel_first = 0;

	/* the gate is whole: a waiter without a cancel waits for the
	 * resume and gets in; a new suspend drains; a plain unmount goes */
	bg_start(&b, c, "/mnt/x/f");
	sleep_ms(100);
	assert_false(atomic_load(&b.done));
	OK(uvfs_resume(R, "/mnt/x"));
	bg_wait(&b, 2000);
	assert_int_equal(b.result, 0);
	OK(uvfs_suspend(R, "/mnt/x"));
	OK(uvfs_resume(R, "/mnt/x"));
	/* an open gate: nothing to arm, a cancel changes nothing */
	b.cancel_first = 1;
	bg_start(&b, c, "/mnt/x/f");
	bg_wait(&b, 1000);
	assert_int_equal(b.result, 0);
	assert_int_equal(atomic_load(&ir.armed), 4);
	free_ctx(c);
	OK(uvfs_umount(R, "/mnt/x", 0));
	uvfs_intr_free(w);
	uvfs_intr_cancel(NULL);
	uvfs_intr_free(NULL);
	assert_only_root(live);
}

static void test_suspend_errors(void **state)
{
	(void)state;
	ERR(uvfs_suspend(R, "/mnt"), EINVAL);
	ERR(uvfs_suspend(R, "/nope"), ENOENT);
	mount_x("/mnt/x", NULL);
	OK(uvfs_suspend(R, "/mnt/x"));
	/* a normal unmount of a suspended, idle mount still works or says
	 * busy; either way it does not hang */
	{
		double t0 = now_ms();
		int r = uvfs_umount(R, "/mnt/x", 0);

		printf("    normal unmount of a suspended idle mount: %s\n",
		       errname(r));
		assert_true(now_ms() - t0 < 2000);
		if (r == 0)
			return;
		assert_int_equal(r, -EBUSY);
	}
	OK(uvfs_resume(R, "/mnt/x"));
	OK(uvfs_umount(R, "/mnt/x", 0));
}

/* ---- file-system-type unregistration ----------------------------------- */

static struct uvfs_fstype_ops memfs2_ops;

static void test_fstype_unregister(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[8];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs2";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mkdir(R, "/mnt/y", 0755));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/y", ""));
	/* another type stays */
	OK(uvfs_mkdir(R, "/mnt/z", 0755));
	mount_x("/mnt/z", NULL);
	put(R, "/mnt/x/f", "two");
	put(R, "/mnt/z/f", "zzz");
	c = new_ctx("user of memfs2");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	OK(uvfs_chdir(c, "/mnt/y"));
	OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
	assert_false(mounted("/mnt/x", NULL));
	assert_false(mounted("/mnt/y", NULL));
	assert_true(mounted("/mnt/z", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	ASSERT_CONTENT(R, "/mnt/z/f", "zzz");
	ERR(uvfs_read(c, fd, buf, sizeof(buf)), EIO);
	OK(uvfs_close(c, fd));
	ERR(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV);
	ERR(uvfs_fstype_unregister(U, "memfs2", 0, 2000), ENOENT);
	OK(uvfs_chdir(c, "/"));
	free_ctx(c);
	OK(uvfs_umount(R, "/mnt/z", 0));
	/* registering the name again works */
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

/* Type memfs2 registered and mounted at /mnt/x, its file f ("lazy") open
 * for reading in a new context (*c): => the descriptor. */
static int memfs2_file_open(struct uvfs_ctx **c)
{
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs2";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	put(R, "/mnt/x/f", "lazy");
	*c = new_ctx("keeps it");
	return (int)OK(uvfs_open(*c, "/mnt/x/f", O_RDONLY, 0));
}

static void test_fstype_unregister_timeout(void **state)
{
	struct uvfs_ctx *c;
	char buf[8];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	fd = memfs2_file_open(&c);
	/* lazily: the open file keeps its superblock, so the wait times out;
	 * the type stays registered but refuses new mounts */
	ERR(uvfs_fstype_unregister(U, "memfs2", UVFS_UMOUNT_DETACH, 200),
	    ETIMEDOUT);
	assert_false(mounted("/mnt/x", NULL));
	ERR2(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV, EBUSY);
	assert_int_equal(OK(uvfs_read(c, fd, buf, sizeof(buf))), 4);
	OK(uvfs_close(c, fd));
	OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
	ERR(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV);
	free_ctx(c);
	assert_only_root(live);
}

/* A forced unregister reaches the instances a lazy unmount already took
 * out of the namespace too: one still in use is killed like the attached
 * ones (its files answer EIO), not waited for until the deadline while it
 * can still call the driver. */
static void test_fstype_unregister_detached(void **state)
{
	struct uvfs_ctx *c;
	char buf[8];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	fd = memfs2_file_open(&c);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_DETACH));
	assert_int_equal(OK(uvfs_read(c, fd, buf, sizeof(buf))), 4);
	OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
	ERR(uvfs_pread(c, fd, buf, sizeof(buf), 0), EIO);
	OK(uvfs_close(c, fd));
	ERR(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV);
	free_ctx(c);
	assert_only_root(live);
}

/* An instance whose driver's mount is still running when the type is
 * unregistered: the unregister sets the type dying and then looks for its
 * attached instances; the mount, once its driver returns, must not attach
 * behind that look (it would live on, attached, of a type that refuses
 * mounts, and the unregister would wait for it until its deadline and
 * answer ETIMEDOUT with nothing busy).  memfs4's first mount waits
 * until the test lets it go; the others fail (EAGAIN) at once. */
static struct uvfs_fstype_ops memfs4_ops;
static atomic_int mount4_state; /* 1: in the driver's mount, 2: let go */

static int memfs4_mount(struct uvfs_sb *sb, const char *source,
			const char *opts, uint64_t *root)
{
	int expect = 0;

	if (!atomic_compare_exchange_strong(&mount4_state, &expect, 1))
		return -EAGAIN;
	while (atomic_load(&mount4_state) != 2)
		usleep(1000);
	return uvfs_memfs_ops.mount(sb, source, opts, root);
}

struct bg_mount {
	pthread_t thread;
	int result;
};

static void *bg_mount_main(void *arg)
{
	struct bg_mount *b = arg;

	b->result = uvfs_mount(R, "memfs4", "none", "/mnt/x", "");
	return NULL;
}

struct bg_unregister {
	pthread_t thread;
	atomic_int done;
	int result;
};

static void *bg_unregister_main(void *arg)
{
	struct bg_unregister *b = arg;

	b->result = uvfs_fstype_unregister(U, "memfs4", 0, 1000);
	atomic_store(&b->done, 1);
	return NULL;
}

static void test_fstype_unregister_racing_mount(void **state)
{
	struct bg_mount bm = { .result = 1 };
	struct bg_unregister bu = { .result = 1 };
	uint64_t live;
	double t0;

	(void)state;
	live = live_vnodes();
	memfs4_ops = uvfs_memfs_ops;
	memfs4_ops.name = "memfs4";
	memfs4_ops.mount = memfs4_mount;
	atomic_store(&mount4_state, 0);
	OK(uvfs_fstype_register(U, &memfs4_ops));
	assert_int_equal(pthread_create(&bm.thread, NULL, bg_mount_main, &bm),
			 0);
	while (atomic_load(&mount4_state) != 1)
		usleep(1000);
	/* the unregister marks the type dying (a new mount says ENODEV),
	 * finds no attached instance and waits for the one being made */
	assert_int_equal(pthread_create(&bu.thread, NULL, bg_unregister_main,
					&bu), 0);
	t0 = now_ms();
	while (uvfs_mount(R, "memfs4", "none", "/mnt", "") != -ENODEV) {
		assert_true(now_ms() - t0 < 5000);
		usleep(1000);
	}
	usleep(50000);          /* past its look at the mounts */
	atomic_store(&mount4_state, 2);
	assert_int_equal(pthread_join(bm.thread, NULL), 0);
	assert_int_equal(pthread_join(bu.thread, NULL), 0);
	printf("    mount racing the unregister: %s, ", errname(bm.result));
	printf("unregister: %s\n", errname(bu.result));
	assert_int_equal(bu.result, 0);
	ERR(bm.result, ENODEV);
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_mount(R, "memfs4", "none", "/mnt/x", ""), ENODEV);
	assert_only_root(live);
}

/* A lazy unmount racing a forced unregister of its type: the unmount
 * takes the mount out of the namespace and marks its superblock detached
 * (for the unregister's kill of detached instances) in one step, else an
 * unregister between the two finds the instance neither attached nor
 * detached, leaves it alive with its file open, and waits for it to its
 * deadline (ETIMEDOUT).  The step is widened: a walk of the types
 * (uvfs_fstype_each, which holds the types' lock across its callback)
 * holds the lazy unmount up while the unregister starts; which of the
 * two gets the lock next is the scheduler's, so several rounds. */
static atomic_int each_state;   /* 1: in the callback, 2: let go */

static int each_hold(void *arg, const struct uvfs_fstype_ops *ops)
{
	(void)arg;
	(void)ops;
	if (atomic_load(&each_state) == 0) {
		atomic_store(&each_state, 1);
		while (atomic_load(&each_state) != 2)
			usleep(1000);
	}
	return 0;
}

static void *bg_each_main(void *arg)
{
	(void)arg;
	uvfs_fstype_each(U, each_hold, NULL);
	return NULL;
}

static void *bg_detach_main(void *arg)
{
	*(int *)arg = uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_DETACH);
	return NULL;
}

static void *bg_unregister2_main(void *arg)
{
	*(int *)arg = uvfs_fstype_unregister(U, "memfs2", 0, 300);
	return NULL;
}

static void test_fstype_unregister_racing_detach(void **state)
{
	int bad = 0, rounds = 8;
	uint64_t live;

	(void)state;
	live = live_vnodes();
	for (int i = 0; i < rounds; i++) {
		pthread_t th, td, tu;
		int rd = 1, ru = 1, fd;
		struct uvfs_ctx *c;
		char buf[8];

		fd = memfs2_file_open(&c);
		atomic_store(&each_state, 0);
		assert_int_equal(pthread_create(&th, NULL, bg_each_main, NULL),
				 0);
		while (atomic_load(&each_state) != 1)
			usleep(1000);
		/* both wait for the types' lock, in either order: the
		 * unmount (after its detach, before the fix) and the
		 * unregister (to mark the type dying) */
		if (i % 2) {
			assert_int_equal(pthread_create(&td, NULL,
							bg_detach_main, &rd),
					 0);
			usleep(20000);
		}
		assert_int_equal(pthread_create(&tu, NULL, bg_unregister2_main,
						&ru), 0);
		usleep(20000);
		if (i % 2 == 0) {
			assert_int_equal(pthread_create(&td, NULL,
							bg_detach_main, &rd),
					 0);
			usleep(20000);
		}
		atomic_store(&each_state, 2);
		pthread_join(th, NULL);
		pthread_join(td, NULL);
		pthread_join(tu, NULL);
		/* EINVAL: the unregister's forced unmount came first */
		if (rd != 0)
			ERR(rd, EINVAL);
		if (ru != 0) {
			printf("    round %d: unregister = %s\n", i,
			       errname(ru));
			bad++;
			/* the instance is still alive: its file reads */
			assert_int_equal(uvfs_pread(c, fd, buf, 4, 0), 4);
			OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
		}
		ERR(uvfs_pread(c, fd, buf, 4, 0), EIO);
		OK(uvfs_close(c, fd));
		free_ctx(c);
	}
	assert_int_equal(bad, 0);
	assert_only_root(live);
}

static void test_fstype_register_twice(void **state)
{
	(void)state;
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs3";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	ERR2(uvfs_fstype_register(U, &memfs2_ops), EEXIST, EBUSY);
	ERR2(uvfs_fstype_register(U, &uvfs_memfs_ops), EEXIST, EBUSY);
	ERR(uvfs_fstype_unregister(U, "nosuchtype", 0, 100), ENOENT);
	OK(uvfs_fstype_unregister(U, "memfs3", 0, 100));
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_input(void **state)
{
	struct uvfs_ctx *user;
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000, .ngroups = 1,
				  .groups = { 1000 } };

	(void)state;
	ERR2(uvfs_umount(R, "/", 0), EBUSY, EINVAL);
	ERR(uvfs_umount(R, "/mnt", 0), EINVAL);
	ERR(uvfs_umount(R, "/nope", 0), ENOENT);
	ERR(uvfs_umount(R, "/mnt/x/under", 0), EINVAL);
	ERR(uvfs_mount(R, "nosuchfs", "none", "/mnt/x", ""), ENODEV);
	ERR(uvfs_mount(R, "memfs", "none", "/mnt/x/under", ""), ENOTDIR);
	ERR(uvfs_mount(R, "memfs", "none", "/nope", ""), ENOENT);
	ERR(uvfs_umount(R, "/mnt/x", 0x100), EINVAL);
	ERR(uvfs_revoke(R, "/nope"), ENOENT);
	ERR(uvfs_holders(R, "/mnt", &(struct uvfs_holder *){ NULL },
			 &(size_t){ 0 }), EINVAL);
	/* holder kind names */
	{
		const char *k[5];
		int i, j;

		for (i = 0; i < 5; i++) {
			k[i] = uvfs_holder_kind_name((enum uvfs_holder_kind)i);
			assert_non_null(k[i]);
			for (j = 0; j < i; j++)
				assert_string_not_equal(k[i], k[j]);
		}
	}
	/* the deadline option, which the mount list reports (a front end
	 * bounds its own waits after a forced unmount by it) */
	mount_x("/mnt/x", "deadline=200");
	assert_int_equal(deadline_listed("/mnt/x"), 200);
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* a user cannot unmount */
	mount_x("/mnt/x", NULL);
	assert_int_equal(deadline_listed("/mnt/x"), 1000);     /* default */
	OK(uvfs_ctx_new(U, &cred, &user));
	ERR(uvfs_umount(user, "/mnt/x", 0), EPERM);
	ERR(uvfs_umount(user, "/mnt/x", UVFS_UMOUNT_FORCE), EPERM);
	ERR(uvfs_mount(user, "memfs", "none", "/mnt", ""), EPERM);
	uvfs_ctx_free(user);
	OK(uvfs_umount(R, "/mnt/x", 0));
}

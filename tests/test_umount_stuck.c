/*
 * test_umount_stuck.c - a forced unmount with an operation stuck in the
 * driver (slowfs): it returns within its deadline whether the driver
 * honours the cancel or ignores it.
 * Included by test_umount.c (it uses that file's fixture, counters and
 * helpers); not a program of its own.
 */

/* ---- forced unmount with an operation stuck in the driver -------------- */

static struct uvfs_fstype_ops slowfs_ops;
static atomic_int slow_cancelled;
static atomic_int slow_in_read;
static atomic_int slow_ignore_cancel;

static ssize_t slow_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
			 size_t n, off_t off)
{
	double end = now_ms() + (atomic_load(&slow_ignore_cancel) ? 1500 :
				 10000);

	atomic_fetch_add(&slow_in_read, 1);
	while (now_ms() < end) {
		if (atomic_load(&slow_cancelled) &&
		    !atomic_load(&slow_ignore_cancel))
			return -EIO;
		sleep_ms(5);
	}
	return uvfs_memfs_ops.read(sb, priv, fh, buf, n, off);
}

static void slow_cancel(struct uvfs_sb *sb)
{
	atomic_store(&slow_cancelled, 1);
	if (uvfs_memfs_ops.cancel)
		uvfs_memfs_ops.cancel(sb);
}

struct bg_read {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	int fd;
	atomic_int done;
	ssize_t result;
	double returned_at;
};

static void *bg_read_main(void *arg)
{
	struct bg_read *b = arg;
	char buf[16];

	b->result = uvfs_read(b->ctx, b->fd, buf, sizeof(buf));
	b->returned_at = now_ms();
	atomic_store(&b->done, 1);
	return NULL;
}

static void slow_umount(bool ignore_cancel)
{
	struct bg_read b;
	struct uvfs_ctx *c;
	double t0, dt, end;
	uint64_t live;

	live = live_vnodes();
	slowfs_ops = uvfs_memfs_ops;
	slowfs_ops.name = "slowfs";
	slowfs_ops.read = slow_read;
	slowfs_ops.cancel = ignore_cancel ? NULL : slow_cancel;
	atomic_store(&slow_cancelled, 0);
	atomic_store(&slow_in_read, 0);
	atomic_store(&slow_ignore_cancel, ignore_cancel);
	OK(uvfs_fstype_register(U, &slowfs_ops));
	OK(uvfs_mount(R, "slowfs", "none", "/mnt/x", "deadline=300"));
	put(R, "/mnt/x/f", "slow");
	c = new_ctx("reader");
	memset(&b, 0, sizeof(b));
	b.ctx = c;
	b.fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	assert_int_equal(pthread_create(&b.thread, NULL, bg_read_main, &b),
			 0);
	end = now_ms() + 2000;
	while (!atomic_load(&slow_in_read) && now_ms() < end)
		sleep_ms(1);
	assert_true(atomic_load(&slow_in_read));
	/* the mount list counts the operation inside the file system */
	{
		struct uvfs_mount_info *mi;
		size_t n, i;
		uint64_t in = 0;

		OK(uvfs_mount_list(U, &mi, &n));
		for (i = 0; i < n; i++)
			if (strcmp(mi[i].target, "/mnt/x") == 0)
				in = mi[i].inflight;
		free(mi);
		assert_int_equal(in, 1);
	}
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	t0 = now_ms();
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	dt = now_ms() - t0;
	printf("    forced unmount (deadline=300, driver %s cancel): "
	       "%.1f ms\n", ignore_cancel ? "without" : "with", dt);
	assert_false(mounted("/mnt/x", NULL));
	/* waits for the reader (1.5 s at most without cancel) */
	end = now_ms() + 12000;
	while (!atomic_load(&b.done) && now_ms() < end)
		sleep_ms(5);
	if (!atomic_load(&b.done))
		fail_msg("the reader never came back");
	pthread_join(b.thread, NULL);
	printf("    the reader got %s, %.1f ms after the unmount began\n",
	       errname(b.result), b.returned_at - t0);
	if (b.result != -EIO && b.result != 4)
		fail_msg("the reader got %s", errname(b.result));
	if (!ignore_cancel && b.returned_at - t0 > 1000)
		fail_msg("the reader was not cancelled");
	assert_true(dt < 1000);
	/* now the descriptor is dead */
	{
		char buf[4];

		ERR(uvfs_read(c, b.fd, buf, sizeof(buf)), EIO);
	}
	OK(uvfs_close(c, b.fd));
	free_ctx(c);
	OK(uvfs_fstype_unregister(U, "slowfs", 0, 2000));
	assert_only_root(live);
}

static void test_force_deadline_cancel(void **state)
{
	(void)state;
	slow_umount(false);
}

static void test_force_deadline_stuck(void **state)
{
	(void)state;
	slow_umount(true);
}

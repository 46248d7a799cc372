/*
 * test_nfs_faults.c - the "nfs" type when the network or the server
 * fails: a forced unmount while a caller waits in a partition, a fenced
 * write, a partition and its heal, the server killed and restarted under
 * a soft and a hard mount, and requests lost in flight sent again (or
 * failed).
 * Included by test_nfs.c (it uses that file's instance, fixture and
 * helpers); not a program of its own.
 */

struct blocked {
	const char *path;
	_Atomic int result;     /* read by the main thread while it runs */
	uint64_t ms;
};

static void *stat_thread(void *arg)
{
	struct blocked *b = arg;
	struct stat st;
	uint64_t t0 = now_ms();

	int r = uvfs_stat(C, b->path, &st);
	b->ms = now_ms() - t0;
	b->result = r;
	return NULL;
}

static void test_forced_unmount_in_partition(void **state)
{
	char t[32], path[64];
	struct blocked b = { .path = path };
	pthread_t th;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=20000,noac,deadline=1000");
	snprintf(path, sizeof(path), "%s/x", t);
	server("partition");
	assert_int_equal(pthread_create(&th, NULL, stat_thread, &b), 0);
	usleep(300 * 1000);     /* let it block (it would wait 20 s) */
	uint64_t t0 = now_ms();
	umount_at(t, UVFS_UMOUNT_FORCE);
	uint64_t took = now_ms() - t0;
	pthread_join(th, NULL);
	server("heal");
	printf("forced unmount in a partition: %llu ms; the caller waited "
	       "%llu ms and got %d\n", (unsigned long long)took,
	       (unsigned long long)b.ms, atomic_load(&b.result));
	assert_int_equal(atomic_load(&b.result), -EIO);
	assert_true(took < 2000);
	assert_true(b.ms < 5000);       /* not its 20 s deadline */
}

static void test_fenced_write(void **state)
{
	char t[32], path[64], host[512];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=1000,noac");
	snprintf(path, sizeof(path), "%s/fenced", t);
	fd = uvfs_open(C, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	server("partition");
	uint64_t t0 = now_ms();
	/* behind: sent, not waited for; fsync waits for it, by its
	 * deadline, and reports its end */
	assert_int_equal(uvfs_pwrite(C, fd, "25 bytes that never land", 25,
				     0), 25);
	int w = uvfs_fsync(C, fd);
	uint64_t took = now_ms() - t0;
	printf("write and fsync in a partition: %d after %llu ms\n", w,
	       (unsigned long long)took);
	assert_true(w == -ETIMEDOUT || w == -EIO);
	assert_true(took < 1000 + 2000);
	server("heal");
	/* what the server holds after the heal: never the write */
	snprintf(host, sizeof(host), "%s/fenced", DIR_);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(stat(host, &st), 0);
		assert_int_equal(st.st_size, 0);
		usleep(100 * 1000);
	}
	/* and the mount is back (reconnected) within a few seconds */
	int r = -1;
	for (int i = 0; i < 50 && r != 0; i++) {
		r = uvfs_stat(C, path, &st);
		if (r)
			usleep(100 * 1000);
	}
	assert_int_equal(r, 0);
	assert_int_equal(uvfs_pwrite(C, fd, "ok", 2, 0), 2);
	assert_int_equal(uvfs_fsync(C, fd), 0);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
}

static void test_restart_soft(void **state)
{
	char t[32], path[64], buf[16];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,noac");
	snprintf(path, sizeof(path), "%s/held", t);
	fd = uvfs_open(C, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(C, fd, "before", 6, 0), 6);
	assert_int_equal(uvfs_fsync(C, fd), 0);
	server("kill");
	/* soft, the server gone (its host refuses): the session is
	 * reconnecting, and a call waits for it at most its deadline (a
	 * restart within it is not seen), then -ETIMEDOUT (docs/nfs.md) */
	struct uvfs_nfs_info ni0;
	assert_int_equal(uvfs_nfs_info(U, "/nowhere", &ni0), -ENOENT);
	uint64_t t0 = now_ms();
	int r = (int)uvfs_pread(C, fd, buf, sizeof(buf), 0);
	uint64_t took = now_ms() - t0;
	printf("soft, server killed: a read got %d after %llu ms\n", r,
	       (unsigned long long)took);
	assert_true(r == -ETIMEDOUT || r == -EIO);
	assert_true(took < 5000 + 2500);
	assert_int_equal(uvfs_nfs_info(U, t, &ni0), 0);
	assert_string_equal(ni0.state, "reconnecting");
	server("restart");
	/* back within a few seconds; the held file reads on */
	for (int i = 0; i < 100; i++) {
		r = (int)uvfs_pread(C, fd, buf, sizeof(buf), 0);
		if (r >= 0)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(r, 6);
	assert_memory_equal(buf, "before", 6);
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_string_equal(ni.state, "running");
	assert_true(ni.losses >= 1);
	assert_true(ni.reconnects >= 1);
	/* the last failure: the loss, or a refused reconnect attempt */
	assert_true(ni.last_error == ECONNRESET || ni.last_error == EIO ||
		    ni.last_error == ECONNREFUSED);
	assert_true(ni.last_loss > 0);
	assert_int_equal(ni.hard, 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(uvfs_pwrite(C, fd, "after!", 6, 0), 6);
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
}

/* A partition: the first call waits its deadline and is fenced, the next
 * fail at once (soft), and after the heal the mount is back within about
 * a second (a reconnect attempt stuck in the partition is started
 * afresh). */
static void test_partition_heal(void **state)
{
	char t[32], path[64];
	struct stat st;
	int r;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=1500,noac");
	snprintf(path, sizeof(path), "%s/p", t);
	assert_int_equal(uvfs_mkdir(C, path, 0755), 0);
	server("partition");
	uint64_t t0 = now_ms();
	int r1 = uvfs_stat(C, path, &st);
	uint64_t first = now_ms() - t0;
	assert_true(r1 == -ETIMEDOUT || r1 == -EIO);
	assert_true(first < 1500 + 1500);
	t0 = now_ms();
	r = uvfs_stat(C, path, &st);
	uint64_t next = now_ms() - t0;
	assert_int_equal(r, -EIO);
	assert_true(next < 500);        /* fail fast, not another deadline */
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_string_equal(ni.state, "unreachable");
	/* noticed at the deadline (a timeout) or, first, by TCP's user
	 * timeout at half of it: either is a silence */
	assert_true(ni.unreachable >= 1);
	assert_int_equal(ni.last_error, ETIMEDOUT);
	sleep(2);                       /* reconnect attempts meanwhile */
	server("heal");
	t0 = now_ms();
	r = -1;
	while (r != 0 && now_ms() - t0 < 10000) {
		r = uvfs_stat(C, path, &st);
		if (r)
			usleep(20 * 1000);
	}
	uint64_t back = now_ms() - t0;
	printf("partition: first call %d after %llu ms, next %llu ms; back "
	       "%llu ms after the heal\n", r1, (unsigned long long)first,
	       (unsigned long long)next, (unsigned long long)back);
	assert_int_equal(r, 0);
	assert_true(back < 2500);       /* the target is 1 s; slack for load */
	assert_int_equal(uvfs_rmdir(C, path), 0);
	umount_at(t, 0);
}

static void *read_thread(void *arg)
{
	struct blocked *b = arg;
	char buf[16];
	uint64_t t0 = now_ms();
	int fd = uvfs_open(C, b->path, O_RDONLY, 0);

	int r = fd < 0 ? fd : (int)uvfs_read(C, fd, buf, sizeof(buf));
	b->ms = now_ms() - t0;
	if (fd >= 0)
		uvfs_close(C, fd);
	b->result = r;
	return NULL;
}

static void test_restart_hard(void **state)
{
	char t[32], path[64], host[512];
	struct blocked b = { .path = path, .result = -1000 };
	pthread_t th;
	FILE *f;

	(void)state;
	snprintf(host, sizeof(host), "%s/hardfile", DIR_);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("hard mount", f);
	fclose(f);
	mount_new(t, sizeof(t), SOURCE, "timeout=20000,noac,hard");
	snprintf(path, sizeof(path), "%s/hardfile", t);
	server("kill");
	usleep(300 * 1000);     /* the loss is seen */
	assert_int_equal(pthread_create(&th, NULL, read_thread, &b), 0);
	usleep(1000 * 1000);
	/* it waits: nothing answered yet */
	assert_int_equal(atomic_load(&b.result), -1000);
	server("restart");
	pthread_join(th, NULL);
	printf("hard: the reader got %d after the restart\n",
	       atomic_load(&b.result));
	assert_int_equal(atomic_load(&b.result), 10);
	umount_at(t, 0);
}

struct writer {
	int fd;
	_Atomic int result;
};

/* A write (behind) and the fsync that waits for it: the count, or the
 * error either reports. */
static void *write_thread(void *arg)
{
	struct writer *w = arg;
	int r = (int)uvfs_pwrite(C, w->fd, "written", 7, 0);

	if (r >= 0) {
		int e = uvfs_fsync(C, w->fd);
		if (e)
			r = e;
	}
	w->result = r;
	return NULL;
}

/* Requests out when their connection is lost (ganesha killed during a
 * partition, so the loss shows at the heal): an idempotent one (the
 * GETATTR of an open, then the READ) is sent again on the next connection
 * and succeeds, soft or hard; a WRITE is sent again only on a hard mount,
 * and fails with -EIO on a soft one. */
static void resend_case(const char *opts, bool hard)
{
	char t[32], path[64], wpath[64], host[512];
	struct blocked b = { .path = path, .result = -1000 };
	struct writer w = { .result = -1000 };
	pthread_t th, tw;
	FILE *f;

	snprintf(host, sizeof(host), "%s/resent", DIR_);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("sent again", f);
	fclose(f);
	mount_new(t, sizeof(t), SOURCE, opts);
	snprintf(path, sizeof(path), "%s/resent", t);
	snprintf(wpath, sizeof(wpath), "%s/written", t);
	w.fd = uvfs_open(C, wpath, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(w.fd >= 0);
	server("partition");
	assert_int_equal(pthread_create(&th, NULL, read_thread, &b), 0);
	assert_int_equal(pthread_create(&tw, NULL, write_thread, &w), 0);
	usleep(500 * 1000);     /* their requests are out, unanswered */
	server("kill");
	server("heal");         /* the retransmissions meet a reset */
	usleep(800 * 1000);
	assert_int_equal(atomic_load(&b.result), -1000);  /* still waiting */
	server("restart");
	pthread_join(th, NULL);
	pthread_join(tw, NULL);
	printf("%s, lost in flight: the reader got %d after %llu ms, the "
	       "writer %d\n", opts, atomic_load(&b.result),
	       (unsigned long long)b.ms, atomic_load(&w.result));
	assert_int_equal(atomic_load(&b.result), 10);
	assert_int_equal(atomic_load(&w.result), hard ? 7 : -EIO);
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_true(ni.replays >= 1);
	assert_int_equal(uvfs_close(C, w.fd), 0);
	if (hard) {
		char back[8] = { 0 };
		snprintf(host, sizeof(host), "%s/written", DIR_);
		f = fopen(host, "r");
		assert_non_null(f);
		assert_int_equal(fread(back, 1, sizeof(back), f), 7);
		fclose(f);
		assert_memory_equal(back, "written", 7);
	}
	umount_at(t, 0);
}

static void test_resend_soft(void **state)
{
	(void)state;
	resend_case("timeout=30000,noac", false);
}

static void test_resend_hard(void **state)
{
	(void)state;
	resend_case("timeout=30000,noac,hard", true);
}

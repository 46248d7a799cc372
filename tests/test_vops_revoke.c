/*
 * test_vops_revoke.c - the vnode operations against revoke on testfs:
 * link and rename whose second vnode was revoked, racing revokes, a revoke
 * while open is inside the driver and while the last close releases the
 * handle, fallocate, SEEK_DATA and copy_file_range against revoke, a
 * close on a killed gate, reads and writes that never reach the driver on
 * dead descriptors.
 * Included by test_vops.c (it uses that file's fixture and helpers); not
 * a program of its own.
 */

/* ---- link and rename against revoke ------------------------------------ */

/* Into a revoked directory (the cwd, still held): EIO, and the driver is
 * never handed its reclaimed (freed) node. */
static void test_link_rename_dead_dir(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	mount_testfs("/m");
	make_file("/m/src");
	assert_int_equal(uvfs_mkdir(R, "/m/d", 0755), 0);
	fd = uvfs_open(R, "/m/src", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_chdir(R, "/m/d"), 0);
	assert_int_equal(uvfs_revoke(R, "/m/src"), 0);
	assert_int_equal(uvfs_revoke(R, "/m/d"), 0);
	assert_int_equal(uvfs_fstat(R, fd, &st), -EIO);
	assert_int_equal(uvfs_link(R, "/m/src", "l"), -EIO);
	assert_int_equal(uvfs_rename(R, "/m/src", "x", 0), -EIO);
	/* the fresh vnodes work */
	assert_int_equal(uvfs_link(R, "/m/src", "/m/d/l"), 0);
	assert_int_equal(uvfs_rename(R, "/m/src", "/m/d/x", 0), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_chdir(R, "/"), 0);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

struct racer {
	pthread_t t;
	struct uvfs_ctx *ctx;
	int id;
	atomic_bool *stop;
	unsigned long ok, eio;
};

/* link, rename, open and close in a loop on one mount */
static void *race_main(void *arg)
{
	struct racer *r = arg;
	char a[32], b[32], l[32];
	unsigned long i = 0;

	snprintf(a, sizeof(a), "/m/d/a%d", r->id);
	snprintf(b, sizeof(b), "/m/e/b%d", r->id);
	snprintf(l, sizeof(l), "/m/e/l%d", r->id);
	while (!atomic_load(r->stop)) {
		int fd = uvfs_open(r->ctx, a, O_CREAT | O_RDWR, 0644), e;

		e = uvfs_link(r->ctx, a, l);
		e = e ? e : uvfs_unlink(r->ctx, l);
		e = e ? e : uvfs_rename(r->ctx, a, b, 0);
		e = e ? e : uvfs_rename(r->ctx, b, a, 0);
		if (fd >= 0)
			uvfs_close(r->ctx, fd);
		if (e == 0)
			r->ok++;
		else if (e == -EIO)
			r->eio++;
		else if (e != -ENOENT && e != -EEXIST)
			fail_msg("racer %d: %s", r->id, strerror(-e));
		i++;
	}
	return NULL;
}

/* link, rename, open and close racing revokes of their files and
 * directories, on testfs with slowed calls: a driver call on a reclaimed
 * node or handle aborts the test (or is a use after free under ASan). */
static void test_race_revoke(void **state)
{
	struct racer r[3];
	atomic_bool stop = false;
	double end;
	unsigned long revokes = 0, ok = 0;

	(void)state;
	mount_testfs("/m");
	assert_int_equal(uvfs_mkdir(R, "/m/d", 0755), 0);
	assert_int_equal(uvfs_mkdir(R, "/m/e", 0755), 0);
	testfs_set_delay(30);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){ .id = i, .stop = &stop };
		assert_int_equal(uvfs_ctx_new(U, NULL, &r[i].ctx), 0);
		assert_int_equal(pthread_create(&r[i].t, NULL, race_main,
						&r[i]), 0);
	}
	end = now_ms() + 1000;
	while (now_ms() < end) {
		static const char *const v[] = {
			"/m/d", "/m/e", "/m/d/a0", "/m/d/a1", "/m/e/b2",
			"/m/e/l0",
		};
		int e = uvfs_revoke(R, v[revokes % 6]);
		assert_true(e == 0 || e == -ENOENT);
		revokes++;
		sleep_ms(1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(r[i].t, NULL);
		ok += r[i].ok;
		uvfs_ctx_free(r[i].ctx);
	}
	testfs_set_delay(0);
	print_message("    %lu revokes, %lu rounds done, %lu releases, "
		      "%lu reclaims\n", revokes, ok, testfs_releases(),
		      testfs_reclaims());
	assert_true(revokes > 0);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* ---- open and close against revoke ------------------------------------- */

struct opener {
	pthread_t t;
	struct uvfs_ctx *ctx;
	const char *path;
	int fd;                 /* result */
};

static void *open_main(void *arg)
{
	struct opener *o = arg;

	o->fd = uvfs_open(o->ctx, o->path, O_RDWR, 0);
	return NULL;
}

static void *close_main(void *arg)
{
	struct opener *o = arg;

	o->fd = uvfs_close(o->ctx, o->fd);
	return NULL;
}

/* A revoke (past its deadline: the sb is killed) while open is inside the
 * driver: the file was attached inside the gate, so the kill's reclaim
 * releases its handle; the close then releases nothing. */
static void test_revoke_during_open(void **state)
{
	struct opener o = { .path = "/m/f" };
	unsigned long rel0;
	struct stat st;
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	rel0 = testfs_releases();
	testfs_block(TFS_OPEN);
	assert_int_equal(pthread_create(&o.t, NULL, open_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	/* the kill waits for the open, without a worker */
	assert_int_equal(uvfs_settle(U, SLACK_MS), 0);
	assert_int_equal(testfs_live_handles(), 0);
	testfs_unblock();
	pthread_join(o.t, NULL);
	assert_true(o.fd >= 0);         /* the driver's open succeeded */
	assert_int_equal(uvfs_settle(U, 10000), 0);
	/* released once, by the reclaim of the kill */
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	assert_int_equal(uvfs_fstat(o.ctx, o.fd, &st), -EIO);
	assert_int_equal(uvfs_close(o.ctx, o.fd), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* A revoke while the last close is releasing the handle in the driver:
 * the handle is the close's (it was detached inside the gate), released
 * exactly once, before the node's reclaim. */
static void test_revoke_during_close(void **state)
{
	struct opener o = { .path = "/m/f" };
	unsigned long rel0;
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	o.fd = uvfs_open(o.ctx, "/m/f", O_RDWR, 0);
	assert_true(o.fd >= 0);
	rel0 = testfs_releases();
	testfs_block(TFS_RELEASE);
	assert_int_equal(pthread_create(&o.t, NULL, close_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	testfs_unblock();
	pthread_join(o.t, NULL);
	assert_int_equal(o.fd, 0);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	assert_int_equal(testfs_live_handles(), 0);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* The driver is told of a revoke (its revoke op) before the release of
 * each file still open on the revoked vnode, so that it can tell that
 * release from a last close's and drop what it would send later (NFS:
 * writes behind not committed).  A forced unmount tells it too; a close
 * and a plain unmount do not.  Before, no driver could tell. */
static void test_revoke_tells_driver(void **state)
{
	unsigned long rv0, rr0;
	int fd, fd2;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	make_file("/m/g");
	rv0 = testfs_revokes();
	rr0 = testfs_revoked_releases();
	fd = uvfs_open(R, "/m/g", O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(testfs_revokes(), rv0);
	fd = uvfs_open(R, "/m/f", O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	assert_int_equal(testfs_revokes(), rv0 + 1);
	assert_int_equal(testfs_revoked_releases(), rr0 + 1);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(testfs_revoked_releases(), rr0 + 1);
	/* forced off with a file open: told of each vnode loaded */
	fd2 = uvfs_open(R, "/m/g", O_RDWR, 0);
	assert_true(fd2 >= 0);
	assert_int_equal(uvfs_umount(R, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_true(testfs_revokes() >= rv0 + 2);
	assert_int_equal(testfs_revoked_releases(), rr0 + 2);
	/* a plain unmount: none */
	rv0 = testfs_revokes();
	assert_int_equal(uvfs_mount(R, "testfs", "none", "/m",
				    "deadline=200"), 0);
	make_file("/m/h");
	fd = uvfs_open(R, "/m/h", O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
	assert_int_equal(testfs_revokes(), rv0);
}

/* ---- fallocate, SEEK_DATA, copy_file_range against revoke --------------- */

struct copier {
	pthread_t t;
	struct uvfs_ctx *ctx;
	int in, out;
	ssize_t r;
};

static void *copy_main(void *arg)
{
	struct copier *c = arg;

	c->r = uvfs_copy_file_range(c->ctx, c->in, NULL, c->out, NULL,
				    3 * 4096, 0);
	return NULL;
}

/* A copy inside the driver (testfs's copy_range) while its source is
 * revoked, past the deadline (the sb is killed): the driver finishes on
 * live nodes and handles (the reclaim waits for it to leave the gate),
 * each handle is released once, and from then on the three calls answer
 * EIO on both files; closing the copy's destination reports the loss. */
static void test_fileops_revoke(void **state)
{
	static char buf[3 * 4096];
	struct copier c = { 0 };
	double t0;
	int fd;

	(void)state;
	mount_testfs("/m");
	memset(buf, 'c', sizeof(buf));
	fd = uvfs_open(R, "/m/a", O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(R, fd, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &c.ctx), 0);
	c.in = uvfs_open(c.ctx, "/m/a", O_RDONLY, 0);
	c.out = uvfs_open(c.ctx, "/m/b", O_CREAT | O_RDWR, 0644);
	assert_true(c.in >= 0 && c.out >= 0);
	testfs_block(TFS_WRITE);        /* copy_range, fallocate */
	assert_int_equal(pthread_create(&c.t, NULL, copy_main, &c), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/a"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	testfs_unblock();
	pthread_join(c.t, NULL);
	assert_int_equal(c.r, sizeof(buf));
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	for (int i = 0; i < 2; i++) {
		int f = i ? c.out : c.in;

		assert_int_equal(uvfs_lseek(c.ctx, f, 0, SEEK_DATA), -EIO);
		assert_int_equal(uvfs_fallocate(c.ctx, c.out, 0, 0, 10),
				 -EIO);
		assert_int_equal(uvfs_copy_file_range(c.ctx, c.in, NULL, f,
						      NULL, 10, 0),
				 i ? -EIO : -EBADF);
	}
	assert_int_equal(uvfs_close(c.ctx, c.in), 0);
	assert_int_equal(uvfs_close(c.ctx, c.out), -EIO); /* written */
	uvfs_ctx_free(c.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* A close on a force-unmounted mount whose kill has not reclaimed yet (an
 * operation is still inside): the file is left to the reclaim, which
 * releases its handle once the operation is out. */
static void test_close_on_killed_gate(void **state)
{
	struct opener o = { .path = "/m/g" };
	unsigned long rel0;
	int fd;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	make_file("/m/g");
	fd = uvfs_open(R, "/m/f", O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	rel0 = testfs_releases();
	testfs_block(TFS_OPEN);
	assert_int_equal(pthread_create(&o.t, NULL, open_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	assert_int_equal(uvfs_umount(R, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	/* the close could not enter: nothing released yet, nothing lost */
	assert_int_equal(testfs_releases(), rel0);
	testfs_unblock();
	pthread_join(o.t, NULL);
	if (o.fd >= 0)
		assert_int_equal(uvfs_close(o.ctx, o.fd), 0);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	/* the driver's open succeeded: two handles, each released once */
	assert_int_equal(testfs_releases(), rel0 + 2);
}

/* ---- I/O the driver never sees, on dead descriptors -------------------- */

/* A read of a directory, a read or write of 0 bytes, and I/O on a FIFO
 * are answered by the core without the driver: on a dead descriptor
 * (revoked, or its mount force-unmounted) they answer EIO as everything
 * but close does, not EISDIR or 0 as on a live one. */
static void test_dead_io_without_driver(void **state)
{
	char b[16];
	int dir, reg, fifo;

	(void)state;
	for (int forced = 0; forced < 2; forced++) {
		mount_testfs("/m");
		assert_int_equal(uvfs_mkdir(R, "/m/d", 0755), 0);
		make_file("/m/f");
		assert_int_equal(uvfs_mknod(R, "/m/p", S_IFIFO | 0644, 0), 0);
		dir = uvfs_open(R, "/m/d", O_RDONLY | O_DIRECTORY, 0);
		reg = uvfs_open(R, "/m/f", O_RDWR, 0);
		fifo = uvfs_open(R, "/m/p", O_RDWR, 0);
		assert_true(dir >= 0 && reg >= 0 && fifo >= 0);
		/* live: the core's own answers */
		assert_int_equal(uvfs_read(R, dir, b, sizeof(b)), -EISDIR);
		assert_int_equal(uvfs_read(R, reg, b, 0), 0);
		assert_int_equal(uvfs_pwrite(R, reg, b, 0, 0), 0);
		if (forced) {
			assert_int_equal(uvfs_umount(R, "/m",
						     UVFS_UMOUNT_FORCE), 0);
		} else {
			assert_int_equal(uvfs_revoke(R, "/m/d"), 0);
			assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
			assert_int_equal(uvfs_revoke(R, "/m/p"), 0);
		}
		assert_int_equal(uvfs_read(R, dir, b, sizeof(b)), -EIO);
		assert_int_equal(uvfs_pread(R, dir, b, sizeof(b), 0), -EIO);
		assert_int_equal(uvfs_write(R, dir, b, 1), -EBADF);
		assert_int_equal(uvfs_read(R, reg, b, 0), -EIO);
		assert_int_equal(uvfs_pread(R, reg, b, 0, 0), -EIO);
		assert_int_equal(uvfs_write(R, reg, b, 0), -EIO);
		assert_int_equal(uvfs_pwrite(R, reg, b, 0, 0), -EIO);
		assert_int_equal(uvfs_read(R, fifo, b, sizeof(b)), -EIO);
		assert_int_equal(uvfs_write(R, fifo, b, 1), -EIO);
		assert_int_equal(uvfs_close(R, dir), 0);
		assert_int_equal(uvfs_close(R, reg), 0);
		assert_int_equal(uvfs_close(R, fifo), 0);
		if (!forced)
			assert_int_equal(uvfs_umount(R, "/m", 0), 0);
		assert_int_equal(uvfs_settle(U, 10000), 0);
		assert_int_equal(uvfs_rmdir(R, "/m"), 0);
	}
}

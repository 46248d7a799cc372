/*
 * test_recovery_restart.c - a server killed and restarted: data written
 * and fsync'd reads back through the file open across the kill, the
 * requests waiting in a stopped server replayed or failed (a read, an
 * append, a getxattr, a setxattr), the restart limit and its window, a
 * file replaced on the host answering ESTALE.
 * Included by test_recovery.c; not a program of its own.
 */

static void test_kill_reopen(void **state)
{
	struct env e;
	char buf[64] = { 0 };
	pid_t pid, npid;
	struct stat st;
	int fd, dfd;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_true(pid > 0);
	fd = uvfs_open(e.c, "/m/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "hello, world", 12), 12);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	dfd = uvfs_open(e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);

	assert_int_equal(kill(pid, SIGKILL), 0);
	/* the read waits for the restart (or is replayed) and succeeds */
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 12);
	assert_memory_equal(buf, "hello, world", 12);
	npid = wait_new_server(&e, pid, 5000);
	assert_true(npid > 0 && npid != pid);
	/* the reopened file is still open for writing, at its offset */
	assert_int_equal(uvfs_write(e.c, fd, "!", 1), 1);
	assert_int_equal(uvfs_fstat(e.c, fd, &st), 0);
	assert_int_equal(st.st_size, 13);
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(e.c, dfd, de, 8) >= 3);
	assert_int_equal(uvfs_stat(e.c, "/m/f", &st), 0);

	/* again, with the server killed while idle and the file closed */
	assert_int_equal(kill(npid, SIGKILL), 0);
	assert_true(wait_new_server(&e, npid, 5000) > 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, dfd), 0);
	fd = uvfs_open(e.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(e.c, fd, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, "hello, world!", 13);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	struct uvfs_9p_server_info si;
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_int_equal(si.restarts, 2);
	printf("kill_reopen: last recovery %.2f ms\n",
	       si.last_recovery_ns / 1e6);
	env_down(&e, 0);
}

static void test_inflight(void **state)
{
	struct env e;
	struct bg rd = { 0 }, mk = { 0 };
	pthread_t t1, t2;
	pid_t pid;
	int fd, afd, st;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/g", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "abcde", 5), 5);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	afd = uvfs_open(e.c, "/m/g", O_WRONLY | O_APPEND, 0);
	assert_true(afd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	rd.e = mk.e = &e;
	rd.fd = fd;
	mk.fd = afd;
	mk.op = 1;
	assert_int_equal(pthread_create(&t1, NULL, bg_main, &rd), 0);
	assert_int_equal(pthread_create(&t2, NULL, bg_main, &mk), 0);
	usleep(200 * 1000);     /* both wait in the stopped server */
	assert_int_equal(kill(pid, SIGKILL), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	waitpid(pid, &st, WNOHANG);
	assert_int_equal(rd.r, 5);      /* replayed */
	assert_memory_equal(rd.buf, "abcde", 5);
	/* not replayed: it may have happened (here the stopped server never
	 * got to it) */
	assert_int_equal(mk.r, -EIO);
	struct stat s2;
	assert_int_equal(uvfs_stat(e.c, "/m/g", &s2), 0);
	assert_int_equal(s2.st_size, 5);
	/* the append file was reopened with O_APPEND: it appends again */
	assert_int_equal(uvfs_write(e.c, afd, "XYZ", 3), 3);
	assert_int_equal(uvfs_stat(e.c, "/m/g", &s2), 0);
	assert_int_equal(s2.st_size, 8);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, afd), 0);
	env_down(&e, 0);
}

/* A getxattr is replayed across a restart; a setxattr whose clone walk
 * was out completes on the new server. */
struct xbg {
	struct env *e;
	int op;         /* 0 get, 1 set */
	long r;
	char buf[16];
};

static void *xbg_main(void *arg)
{
	struct xbg *b = arg;

	if (b->op == 0)
		b->r = uvfs_getxattr(b->e->c, "/m/x", "user.a", b->buf,
				     sizeof(b->buf));
	else
		b->r = uvfs_setxattr(b->e->c, "/m/x", "user.b", "B", 1, 0);
	return NULL;
}

static void test_xattr_inflight(void **state)
{
	struct env e;
	struct xbg g = { .op = 0 }, sx = { .op = 1 };
	pthread_t t1, t2;
	char hp[256], buf[16];
	pid_t pid;
	int fd, st;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/x", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_setxattr(e.c, "/m/x", "user.a", "AA", 2, 0), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	g.e = sx.e = &e;
	assert_int_equal(pthread_create(&t1, NULL, xbg_main, &g), 0);
	assert_int_equal(pthread_create(&t2, NULL, xbg_main, &sx), 0);
	usleep(200 * 1000);     /* both wait in the stopped server */
	assert_int_equal(kill(pid, SIGKILL), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	waitpid(pid, &st, WNOHANG);
	assert_int_equal(g.r, 2);       /* replayed */
	assert_memory_equal(g.buf, "AA", 2);
	/* the set's first request, its clone Twalk, was the one out: it is
	 * replayed, and the rest goes to the new server */
	assert_int_equal(sx.r, 0);
	snprintf(hp, sizeof(hp), "%s/x", e.exp);
	assert_int_equal(getxattr(hp, "user.b", buf, sizeof(buf)), 1);
	assert_int_equal(uvfs_removexattr(e.c, "/m/x", "user.b"), 0);
	assert_int_equal(getxattr(hp, "user.b", buf, sizeof(buf)), -1);
	env_down(&e, 0);
}

static void test_restart_limit(void **state)
{
	struct env e;
	struct uvfs_9p_server_info si;
	struct timespec t0;
	struct stat st;
	char buf[8];
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, "restarts=2,window=60000") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/h", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kill(pid, SIGKILL), 0);
		pid = wait_new_server(&e, pid, 5000);
		assert_true(pid > 0);
		assert_int_equal(uvfs_stat(e.c, "/m/h", &st), 0);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
		if (si.dead)
			break;
		assert_true(ms_since(&t0) < 5000);
		usleep(1000);
	}
	/* dead: every request fails at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(e.c, "/m/h", &st), -EIO);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_true(ms_since(&t0) < test_bound_ms(500));
	/* the forced unmount works; the open file is dead */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(2000));
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* Restarts older than the window no longer count. */
static void test_restart_window(void **state)
{
	struct env e;
	struct stat st;
	pid_t pid;

	(void)state;
	if (env_up(&e, "restarts=1,window=300") != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kill(pid, SIGKILL), 0);
		pid = wait_new_server(&e, pid, 5000);
		assert_true(pid > 0);
		assert_int_equal(uvfs_stat(e.c, "/m", &st), 0);
		usleep(400 * 1000);     /* the last restart leaves the window */
	}
	env_down(&e, 0);
}

static void test_stale(void **state)
{
	struct env e;
	char p[300], q[300], buf[32] = { 0 };
	pid_t pid;
	int fd, fd2, fd3;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	snprintf(p, sizeof(p), "%s/s", e.exp);
	snprintf(q, sizeof(q), "%s/s.new", e.exp);
	host_write(p, "old");
	fd = uvfs_open(e.c, "/m/s", O_RDWR, 0);
	assert_true(fd >= 0);
	/* an unchanged file open too: it must survive */
	fd3 = uvfs_open(e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd3 >= 0);
	assert_int_equal(uvfs_read(e.c, fd, buf, sizeof(buf)), 3);
	/* replaced behind the server's back: rm + create under the name
	 * (the old inode is held by the server until it dies, so the new
	 * file gets another inode number) */
	assert_int_equal(unlink(p), 0);
	host_write(q, "new!");
	assert_int_equal(rename(q, p), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	int r = (int)uvfs_pread(e.c, fd, buf, sizeof(buf), 0);
	assert_true(r == -ESTALE || r == -EIO);
	assert_int_equal(r, -ESTALE);
	assert_int_equal(uvfs_write(e.c, fd, "x", 1), -ESTALE);
	/* a fresh open finds the new file */
	fd2 = uvfs_open(e.c, "/m/s", O_RDONLY, 0);
	assert_true(fd2 >= 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(uvfs_read(e.c, fd2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new!");
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(e.c, fd3, de, 8) >= 3);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, fd2), 0);
	assert_int_equal(uvfs_close(e.c, fd3), 0);
	struct uvfs_9p_server_info si;
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_true(si.stale_fids >= 1);
	env_down(&e, 0);
}

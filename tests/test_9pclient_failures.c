/*
 * test_9pclient_failures.c - failures and deadlines: a write behind
 * that fails is reported once and never lost, one call's deadline covers
 * all its requests (pieces that start after it are not sent), a server
 * that hangs up, bad mount options, a forced
 * unmount of a hung server, and a real server (diod) SIGSTOPped with a
 * caller blocked in it.
 * Included by test_9pclient.c; not a program of its own.
 */

/* Writes behind (wbwindow=, docs/9p-client.md, "Bulk I/O"): a write is
 * accepted at once; one whose Twrite fails ("wf": ENOSPC from offset 8192
 * on) is reported at the next fsync or write, once, and never lost; a
 * handle opened O_SYNC, or wbwindow=0, waits for its writes and gets the
 * error itself; the default writes behind and the close gets it. */
static void test_write_behind_error(void **state)
{
	struct fx x = { 0 };
	static char buf[4096];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000,wbwindow=65536"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	/* behind: accepted, fails on the server */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), -ENOSPC);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);       /* reported once */
	/* the next write reports it (the failed one has been answered by
	 * then: fsync waits for it) */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 12288), 4096);
	for (int i = 0; i < 200; i++) {
		ssize_t w = uvfs_pwrite(x.c, fd, buf, 10, 0);
		if (w == -ENOSPC)
			break;
		assert_int_equal(w, 10);
		assert_true(i < 199);   /* reported within 2 s */
		usleep(10 * 1000);
	}
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	/* a close waits for the writes behind, and reports their error */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_close(x.c, fd), -ENOSPC);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	/* O_SYNC: waited for, the error is the write's own */
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY | O_SYNC, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), -ENOSPC);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);

	/* wbwindow=0: every write waits, its error is its own */
	assert_int_equal(fx_mount(&x, "timeout=2000,wbwindow=0"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), -ENOSPC);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);

	/* the default writes behind (write-back, as Linux's v9fs and NFS):
	 * accepted, and the error reaches the close */
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_close(x.c, fd), -ENOSPC);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/*
 * A write behind that failed on a revoked file is the dead file's (its
 * close says EIO), not the next opener's: the revoke drops its error with
 * it.  Before, the error stayed with the driver's node, which the next
 * lookup of the name found again, and the new file's fsync said ENOSPC
 * for a write it never made.
 */
static void test_revoke_drops_write_error(void **state)
{
	struct fx x = { 0 };
	static char buf[4096];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	/* behind: accepted, fails on the server (ENOSPC) */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	for (int i = 0; i < 500 && atomic_load(&x.fs.twrites) < 1; i++)
		usleep(10 * 1000);
	usleep(100 * 1000);     /* its answer in, most likely */
	assert_int_equal(uvfs_revoke(x.c, "/m/wf"), 0);
	assert_int_equal(uvfs_close(x.c, fd), -EIO);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 10, 0), 10);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* One call's deadline covers all its requests: a read of eight pieces
 * (all sent at once) from a server that answers one at a time, 300 ms
 * each, with timeout=500, fails with -ETIMEDOUT by the deadline plus the
 * flush grace (the pieces still unanswered then are cut), where a fresh
 * deadline per piece would take 2.4 s and succeed. */
static void test_call_deadline(void **state)
{
	struct fx x = { 0 };
	static char buf[8 * 8000];
	struct timespec t0;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=500,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/slow", O_RDONLY, 0);
	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0),
			 -ETIMEDOUT);
	long ms = ms_since(&t0);
	printf("call_deadline: %ld ms\n", ms);
	assert_true(ms >= 450);
	assert_true(ms < test_bound_ms(500 + 500 + 1000)); /* grace, slack */
	uvfs_close(x.c, fd);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	fx_done(&x);
}

/* The pool's workers, through the system-call table: started LATE_MS
 * late (a loaded machine), or not at all. */
#define LATE_MS 1200
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *,
				  void *(*)(void *), void *);

struct late_start {
	void *(*fn)(void *);
	void *arg;
};

static void *late_main(void *arg)
{
	struct late_start l = *(struct late_start *)arg;

	free(arg);
	usleep(LATE_MS * 1000);
	return l.fn(l.arg);
}

static int late_create(pthread_t *t, const pthread_attr_t *a,
		       void *(*fn)(void *), void *arg)
{
	struct late_start *l = malloc(sizeof(*l));
	int r;

	if (!l)
		return EAGAIN;
	*l = (struct late_start){ fn, arg };
	r = real_pthread_create(t, a, late_main, l);
	if (r)
		free(l);
	return r;
}

static int no_create(pthread_t *t, const pthread_attr_t *a,
		     void *(*fn)(void *), void *arg)
{
	(void)t; (void)a; (void)fn; (void)arg;
	return EAGAIN;
}

/* A piece of a read that would start after the call's deadline is not
 * sent, and the read fails with -ETIMEDOUT (docs/session.md,
 * "Deadlines"), whatever became of the session meanwhile:
 *  - workers that start after the deadline (the first piece, the
 *    caller's, answered in time): the other seven are not sent, the
 *    read is -ETIMEDOUT, and the session, never cut, still serves;
 *  - no workers (each piece in the caller, one after the other): the
 *    second waits past the deadline for a server silent since its half
 *    way (it serves one request at a time): the link is cut and the
 *    connection is dead; the pieces after it, and the first one (run
 *    last), start after the deadline: -ETIMEDOUT, not the dead
 *    session's -EIO. */
static void test_call_deadline_late_pieces(void **state)
{
	struct fx x = { 0 };
	static char buf[8 * 8000];
	struct timespec t0;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=500,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/slow", O_RDONLY, 0);
	assert_true(fd >= 0);
	real_pthread_create = uvfs_sys_set("pthread_create",
					   (void *)late_create);
	assert_non_null(real_pthread_create);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0),
			 -ETIMEDOUT);
	assert_true(ms_since(&t0) >= LATE_MS);
	/* (that entry only: the session's reader is in poll meanwhile) */
	uvfs_sys_set("pthread_create", (void *)real_pthread_create);
	assert_int_equal(atomic_load(&x.fs.treads), 1);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	uvfs_close(x.c, fd);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	fx_done(&x);

	assert_int_equal(fx_mount(&x, "timeout=500,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/slow", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_non_null(uvfs_sys_set("pthread_create", (void *)no_create));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0),
			 -ETIMEDOUT);
	assert_true(ms_since(&t0) < test_bound_ms(300 + 500 + 1000));
	uvfs_sys_set("pthread_create", (void *)real_pthread_create);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);    /* dead */
	uvfs_close(x.c, fd);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	fx_done(&x);
}

static void test_server_hangs_up(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	struct statvfs sv;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	assert_int_equal(uvfs_statfs(x.c, "/m", &sv), 0);
	assert_int_equal(sv.f_namemax, 255);
	assert_int_equal(uvfs_stat(x.c, "/m/bye", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_int_equal(uvfs_statfs(x.c, "/m", &sv), -EIO);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_bad_options(void **state)
{
	struct fx x = { 0 };

	(void)state;
	assert_int_equal(fx_mount(&x, "nosuchoption"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "fd:nope", "/m", ""), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "carrier-pigeon:x", "/m", ""),
			 -EINVAL);
	/* the reconnect's options: numbers; noreconnect is 9p's alone */
	assert_int_equal(uvfs_mount(x.c, "9p", "unix:/nonexistent", "/m",
				    "restarts=many"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "unix:/nonexistent", "/m",
				    "window=0"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "hostfs", "/tmp", "/m",
				    "noreconnect"), -EINVAL);
	fx_done(&x);
}

/*
 * A lock the server answers BLOCKED while a Tclunk of ours is out is
 * asked once more when the clunks are answered (the fid clunked may have
 * held it).  A Tclunk the server leaves unanswered must not make that
 * wait use up the call's deadline: the Tlock asked again then timed out
 * before it was even sent, was taken for one whose outcome is unknown,
 * and the session was cut to fence it (a lock request told failed must
 * not stay granted): on this mount (fd:) the end of it, every call -EIO
 * after; on a supervised one a loss (non-idempotent requests in flight
 * -EIO, a spawned server killed).  The answer is BLOCKED: -EAGAIN, by
 * the deadline, the mount fine.
 */
static void test_lock_blocked_clunk_held(void **state)
{
	struct fx x = { 0 };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec t0;
	struct stat st;
	int fd1, fd2, r;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=1500"), 0);
	fd1 = uvfs_open(x.c, "/m/n1", O_RDWR, 0);
	assert_true(fd1 >= 0);
	fd2 = uvfs_open(x.c, "/m/n2", O_RDWR, 0);
	assert_true(fd2 >= 0);
	atomic_store(&x.fs.hold_clunks, true);
	assert_int_equal(uvfs_close(x.c, fd1), 0);     /* its Tclunk: held */
	for (int i = 0; i < 500 && !atomic_load(&x.fs.held_clunks); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&x.fs.held_clunks) > 0);
	atomic_store(&x.fs.lock_busy, true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = uvfs_fcntl_lock(x.c, fd2, F_OFD_SETLK, &fl, -1);
	if (r != -EAGAIN)       /* was -ETIMEDOUT, and the mount dead */
		fail_msg("the lock said %s after %ld ms, %d Tlock",
			 strerror(-r), ms_since(&t0),
			 atomic_load(&x.fs.tlocks));
	assert_true(ms_since(&t0) < 1500 + 1000);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_close(x.c, fd2), 0);
	fx_done(&x);
}

/*
 * A Tremove past its deadline that the server flushed before it ran
 * (this server has no Tunlinkat: an unlink is a Tremove of the file's
 * fid): -ETIMEDOUT, the file still there, and the fid still the
 * server's, so it is clunked.  Before, a Tremove that timed out left its
 * fid to nobody: never clunked, its number never used again, held on
 * the server until the connection ended.
 */
static void test_remove_flushed_clunked(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	fd = uvfs_open(x.c, "/m/newrm", O_CREAT | O_EXCL | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	atomic_store(&x.fs.hold_remove, true);
	assert_int_equal(uvfs_unlink(x.c, "/m/newrm"), -ETIMEDOUT);
	assert_int_equal(atomic_load(&x.fs.new_removes), 0);
	/* the clunks queued go out with the next requests, and at the
	 * unmount */
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	assert_int_equal(atomic_load(&x.fs.rm_clunks), 1);     /* was 0 */
	fx_done(&x);
}

static void test_hang_force(void **state)
{
	struct fx x = { 0 };
	struct statarg a = { .path = "/m/hang" };
	struct timespec t0;
	struct stat st;
	pthread_t ta;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=60000,deadline=500"), 0);
	fd = uvfs_open(x.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	a.u = x.u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	for (int i = 0; i < 1000 && !atomic_load(&x.fs.hung); i++)
		usleep(10 * 1000); /* the server hangs; the caller is blocked */
	assert_int_equal(atomic_load(&x.fs.hung), 1);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), -EBUSY);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(ta, NULL);
	assert_true(ms_since(&t0) < 2000);
	assert_int_equal(a.r, -EIO);
	/* the dangling file is dead; close works */
	char buf[8];
	assert_int_equal(uvfs_read(x.c, fd, buf, sizeof(buf)), -EIO);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_settle(x.u, 5000), 0);
	assert_true(ms_since(&t0) < 5000);
	assert_int_equal(uvfs_stat(x.c, "/m", &st), 0);
	fx_done(&x);
}

/*
 * A real server that stops: with UVFS_9P_SOURCE, UVFS_9P_OPTS and
 * UVFS_9P_PID set (tests/conformance-diod.sh does, for diod), the server
 * process is SIGSTOPped with a caller blocked in it and an open file; a
 * forced unmount must return within its deadline and the caller get -EIO.
 */
static void test_real_server_stopped(void **state)
{
	const char *src = getenv("UVFS_9P_SOURCE");
	const char *opts = getenv("UVFS_9P_OPTS");
	const char *pids = getenv("UVFS_9P_PID");
	struct statarg a = { .path = "/m/probe" };
	struct uvfs *u;
	struct uvfs_ctx *c;
	char o[1024];
	struct timespec t0;
	pthread_t ta;
	pid_t pid;
	int fd;

	(void)state;
	if (!src || !pids) {
		skip();
		return;
	}
	pid = (pid_t)atoi(pids);
	snprintf(o, sizeof(o), "%s%stimeout=60000,deadline=500",
		 opts ? opts : "", opts && *opts ? "," : "");
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(c, "9p", src, "/m", o), 0);
	fd = uvfs_open(c, "/m/probe", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(c, fd, "x", 1), 1);
	/* on the server (it was written behind): the close after the
	 * forced unmount has nothing lost to report */
	assert_int_equal(uvfs_fsync(c, fd), 0);

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	a.u = u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	usleep(300 * 1000);     /* the caller is blocked in the server */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(ta, NULL);
	long ms = ms_since(&t0);
	kill(pid, SIGCONT);
	assert_true(ms < 2000);
	assert_int_equal(a.r, -EIO);
	assert_int_equal(uvfs_close(c, fd), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
}

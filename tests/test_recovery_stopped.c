/*
 * test_recovery_stopped.c - a server that cannot come up or stops: a
 * forced unmount during the restart returns within its deadline, a
 * forced unmount of a SIGSTOPped server is bounded and the blocked caller
 * gets EIO, ten callers of a stopped server each return within their
 * deadline and the silent server is replaced.
 * Included by test_recovery.c; not a program of its own.
 */

/* A forced unmount while the supervisor restarts a server that cannot
 * come up (its export vanished): it returns within its deadline. */
static void test_cancel_recovering(void **state)
{
	struct env e;
	struct uvfs_9p_server_info si;
	struct timespec t0;
	pid_t pid;

	(void)state;
	if (env_up(&e, "restarts=1000") != 0) {
		skip();
		return;
	}
	char moved[200];
	snprintf(moved, sizeof(moved), "%s/gone", e.tmp);
	assert_int_equal(rename(e.exp, moved), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {            /* a few failed restarts, backing off */
		usleep(20 * 1000);
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	} while (si.restarts < 3 && ms_since(&t0) < 5000);
	assert_true(si.recovering);
	assert_false(si.dead);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(1500));
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* A stopped server is not dead: requests wait for it (deadline); a forced
 * unmount returns within its deadline and the caller gets EIO. */
static void test_stopped_forced(void **state)
{
	struct env e;
	struct stat_arg a = { 0 };
	struct timespec t0;
	pthread_t t;
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, "actimeo=0") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/p", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	a.e = &e;
	assert_int_equal(pthread_create(&t, NULL, stat_main, &a), 0);
	usleep(200 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(t, NULL);
	assert_true(ms_since(&t0) < test_bound_ms(1500));
	assert_int_equal(a.r, -EIO);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	/* the server was killed and reaped at the unmount */
	assert_int_equal(kill(pid, 0), -1);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* A stopped server and ten callers in one directory: none waits for
 * another (each returns within its deadline and the flush grace), and the
 * silent server is replaced: the mount works again. */
struct scarg {
	struct env *e;
	int i, r;
	long ms;
};

static void *sc_main(void *arg)
{
	struct scarg *a = arg;
	struct uvfs_ctx *c;
	struct timespec t0;
	struct stat st;
	char path[64];

	assert_int_equal(uvfs_ctx_new(a->e->u, NULL, &c), 0);
	snprintf(path, sizeof(path), "/m/d/n%d", a->i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->r = uvfs_stat(c, path, &st);
	a->ms = ms_since(&t0);
	uvfs_ctx_free(c);
	return NULL;
}

static void test_stopped_callers(void **state)
{
	struct scarg a[10];
	pthread_t t[10];
	struct env e;
	struct stat st;
	char path[64];
	pid_t pid, npid = 0;
	int fd;

	(void)state;
	if (env_up(&e, "timeout=1000,actimeo=0") != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_mkdir(e.c, "/m/d", 0755), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/m/d/n%d", i);
		fd = uvfs_open(e.c, path, O_CREAT | O_RDWR, 0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_close(e.c, fd), 0);
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	for (int i = 0; i < 10; i++) {
		a[i] = (struct scarg){ .e = &e, .i = i };
		assert_int_equal(pthread_create(&t[i], NULL, sc_main, &a[i]),
				 0);
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(t[i], NULL);
		printf("stopped_callers: caller %d: %d after %ld ms\n", i,
		       a[i].r, a[i].ms);
		/* deadline 1 s, grace 0.5 s, 1 s of slack for a busy host;
		 * or the replaced server answered */
		assert_true(a[i].ms < test_bound_ms(1000 + 500 + 1000));
		assert_true(a[i].r == -ETIMEDOUT || a[i].r == -EIO ||
			    a[i].r == 0);
	}
	/* the silent server was replaced (SIGKILL works on a stopped one) */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 10000) {
		npid = uvfs_9p_server_pid(e.u, "/m");
		if (npid > 0 && npid != pid &&
		    uvfs_stat(e.c, "/m/d/n3", &st) == 0)
			break;
		usleep(20 * 1000);
	}
	assert_true(npid > 0 && npid != pid);
	assert_int_equal(uvfs_stat(e.c, "/m/d/n3", &st), 0);
	assert_int_equal(kill(pid, 0), -1);     /* killed and reaped */
	env_down(&e, 0);
}

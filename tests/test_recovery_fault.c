/*
 * test_recovery_fault.c - the fault test: worker threads of mixed work
 * while another kills the server UVFS_KILLS times (default 200): every
 * result a success or an allowed error, no call past its deadline, data
 * fsync'd before a kill read back after it.
 * Included by test_recovery.c; not a program of its own.
 */

/* ---- the fault test ------------------------------------------------------ */

#define NWORKERS 4
#define NFILES   8

struct fault {
	struct env *e;
	atomic_bool stop;
	atomic_long max_ms;
	atomic_long calls, errors, verified, estale;
	int kills;
};

struct worker {
	struct fault *f;
	int id;
	unsigned seed;
	/* per file: the content fsync'd last (version), or -1 unknown */
	int durable[NFILES];
	/* per file: the value of user.v last set (version), or -1 unknown */
	int xver[NFILES];
	char bad[256];
};

/* ETIMEDOUT: a request that waited for a recovery past its deadline (the
 * killer never kills two recoveries in a row, so the backoff stays at
 * 20 ms and this should not happen; it would be legitimate though). */
static bool allowed(int r)
{
	return r >= 0 || r == -EIO || r == -ESTALE || r == -ENOENT ||
	       r == -EEXIST || r == -ETIMEDOUT || r == -ENODATA;
}

static void fill(char *buf, int id, int file, int ver, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (id * 7 + file * 3 + ver + (int)i) % 26);
}

#define CALL(w, expr) ({                                                    \
	struct timespec t0_;                                                \
	clock_gettime(CLOCK_MONOTONIC, &t0_);                               \
	long r_ = (long)(expr);                                             \
	long ms_ = ms_since(&t0_);                                          \
	long m_ = atomic_load(&(w)->f->max_ms);                             \
	while (ms_ > m_ &&                                                  \
	       !atomic_compare_exchange_weak(&(w)->f->max_ms, &m_, ms_))   \
		;                                                           \
	atomic_fetch_add(&(w)->f->calls, 1);                                \
	if (r_ < 0)                                                         \
		atomic_fetch_add(&(w)->f->errors, 1);                       \
	if (r_ == -ESTALE && atomic_fetch_add(&(w)->f->estale, 1) == 0)     \
		printf("fault: first ESTALE: %s\n", #expr);                 \
	if (!allowed((int)r_) && !(w)->bad[0])                              \
		snprintf((w)->bad, sizeof((w)->bad), "%s: %ld (%s)", #expr, \
			 r_, strerror((int)-r_));                           \
	r_;                                                                 \
})

#define FSIZE 3000

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct uvfs_ctx *c;
	char dir[64], path[96], buf[FSIZE], want[FSIZE];

	assert_int_equal(uvfs_ctx_new(w->f->e->u, NULL, &c), 0);
	snprintf(dir, sizeof(dir), "/m/w%d", w->id);
	for (int i = 0; i < NFILES; i++)
		w->durable[i] = w->xver[i] = -1;
	while (!atomic_load(&w->f->stop) && !w->bad[0]) {
		int k = rand_r(&w->seed) % NFILES;
		int op = rand_r(&w->seed) % 9;
		int fd;

		snprintf(path, sizeof(path), "%s/f%d", dir, k);
		switch (op) {
		case 0: case 1: {       /* write a new version, fsync */
			int ver = rand_r(&w->seed) % 1000;
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_RDWR,
						    0644));
			if (fd < 0)
				break;
			w->durable[k] = -1;     /* unknown until fsync'd */
			fill(buf, w->id, k, ver, FSIZE);
			long n = CALL(w, uvfs_pwrite(c, fd, buf, FSIZE, 0));
			if (n == FSIZE && CALL(w, uvfs_fsync(c, fd)) == 0)
				w->durable[k] = ver;
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 2: case 3: {       /* read back what was fsync'd */
			fd = (int)CALL(w, uvfs_open(c, path, O_RDONLY, 0));
			if (fd < 0) {
				if (fd == -ENOENT && w->durable[k] >= 0 &&
				    !w->bad[0])
					snprintf(w->bad, sizeof(w->bad),
						 "%s vanished", path);
				break;
			}
			long n = CALL(w, uvfs_pread(c, fd, buf, FSIZE, 0));
			if (n >= 0 && w->durable[k] >= 0) {
				fill(want, w->id, k, w->durable[k], FSIZE);
				if (n != FSIZE || memcmp(buf, want, FSIZE)) {
					if (!w->bad[0])
						snprintf(w->bad,
							 sizeof(w->bad),
							 "%s: fsync'd data "
							 "lost (%ld bytes)",
							 path, n);
				} else {
					atomic_fetch_add(&w->f->verified, 1);
				}
			}
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 4: {               /* stat, readdir */
			struct stat st;
			struct uvfs_dirent de[16];
			CALL(w, uvfs_stat(c, path, &st));
			fd = (int)CALL(w, uvfs_open(c, dir, O_RDONLY |
						    O_DIRECTORY, 0));
			if (fd >= 0) {
				while (CALL(w, uvfs_readdir(c, fd, de, 16)) > 0)
					;
				CALL(w, uvfs_close(c, fd));
			}
			break;
		}
		case 5: {               /* unlink: the file's state is unknown
					 * if the answer is EIO */
			long r = CALL(w, uvfs_unlink(c, path));
			w->xver[k] = -1;
			if (r == 0 || r == -ENOENT)
				w->durable[k] = -2;     /* known absent */
			else
				w->durable[k] = -1;
			break;
		}
		case 6: {               /* create exclusively */
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_EXCL |
						    O_WRONLY, 0644));
			if (fd >= 0) {
				w->durable[k] = -1;
				CALL(w, uvfs_close(c, fd));
			}
			break;
		}
		case 7: {               /* a long-open file: pwrite, fsync,
					 * pread across kills */
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_RDWR,
						    0644));
			if (fd < 0)
				break;
			w->durable[k] = -1;
			for (int i = 0; i < 5 && !atomic_load(&w->f->stop);
			     i++) {
				int ver = rand_r(&w->seed) % 1000;
				fill(buf, w->id, k, ver, FSIZE);
				if (CALL(w, uvfs_pwrite(c, fd, buf, FSIZE,
							0)) != FSIZE ||
				    CALL(w, uvfs_fsync(c, fd)) != 0) {
					w->durable[k] = -1;
					break;
				}
				w->durable[k] = ver;
				usleep(rand_r(&w->seed) % 3000);
				long n = CALL(w, uvfs_pread(c, fd, buf,
							    FSIZE, 0));
				fill(want, w->id, k, ver, FSIZE);
				if (n >= 0 && (n != FSIZE ||
					       memcmp(buf, want, FSIZE))) {
					if (!w->bad[0])
						snprintf(w->bad,
							 sizeof(w->bad),
							 "%s: open file lost "
							 "fsync'd data", path);
				} else if (n >= 0) {
					atomic_fetch_add(&w->f->verified, 1);
				}
			}
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 8: {               /* xattrs: a value set (and answered)
					 * reads back; EIO leaves it unknown */
			char v[16], g[16];
			int ver = rand_r(&w->seed) % 1000;
			int len = snprintf(v, sizeof(v), "v%d", ver);
			long r = CALL(w, uvfs_setxattr(c, path, "user.v", v,
						       (size_t)len, 0));
			w->xver[k] = r == 0 ? ver : -1;
			r = CALL(w, uvfs_getxattr(c, path, "user.v", g,
						  sizeof(g)));
			/* a failure is allowed (CALL checks which), a
			 * wrong or missing value is not */
			if (w->xver[k] >= 0 && !w->bad[0] &&
			    (r >= 0 ? r != len || memcmp(g, v, (size_t)len)
				    : r == -ENODATA))
				snprintf(w->bad, sizeof(w->bad),
					 "%s: user.v set to %s, read %ld",
					 path, v, r);
			break;
		}
		}
	}
	uvfs_ctx_free(c);
	return NULL;
}

static void test_fault(void **state)
{
	struct env e;
	struct fault f = { 0 };
	struct worker w[NWORKERS];
	pthread_t t[NWORKERS];
	struct timespec t0;
	const char *ks = getenv("UVFS_KILLS");
	int kills = ks ? atoi(ks) : 200;
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	if (env_up(&e, "restarts=1000000") != 0) {
		skip();
		return;
	}
	printf("fault: seed %u, %d kills\n", seed, kills);
	f.e = &e;
	for (int i = 0; i < NWORKERS; i++) {
		char d[32];
		snprintf(d, sizeof(d), "/m/w%d", i);
		assert_int_equal(uvfs_mkdir(e.c, d, 0755), 0);
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &f;
		w[i].id = i;
		w[i].seed = seed + (unsigned)i * 7919;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
						&w[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = 0;
	int failed_waits = 0;
	bool last_during = false;
	while (f.kills < kills && ms_since(&t0) < 50000) {
		pid_t np;
		bool during = !last_during && rand_r(&seed) % 4 == 0;
		last_during = during;
		if (during) {
			/* kill the new server while it is being recovered
			 * (as soon as it is spawned) */
			struct timespec t1;
			struct uvfs_9p_server_info si;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			np = -1;
			while (ms_since(&t1) < 5000) {
				if (uvfs_9p_server_info(e.u, "/m", &si) == 0 &&
				    si.pid > 0 && si.pid != pid) {
					np = si.pid;
					break;
				}
				usleep(200);
			}
			if (np > 0)
				usleep((useconds_t)(rand_r(&seed) % 3000));
		} else {
			np = wait_new_server(&e, pid, 5000);
			if (np > 0)
				usleep((useconds_t)(rand_r(&seed) % 15000));
		}
		if (np <= 0) {
			failed_waits++;
			break;
		}
		pid = np;
		if (kill(pid, SIGKILL) == 0)
			f.kills++;
	}
	atomic_store(&f.stop, true);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	long elapsed = ms_since(&t0);
	struct uvfs_9p_server_info si;
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	printf("fault: %d kills in %ld ms; %ld calls (%ld errors, %ld "
	       "ESTALE), %ld reads verified, max call %ld ms; %lu replays, "
	       "%lu stale fids, last recovery %.2f ms\n", f.kills, elapsed,
	       atomic_load(&f.calls), atomic_load(&f.errors),
	       atomic_load(&f.estale),
	       atomic_load(&f.verified), atomic_load(&f.max_ms), si.replays,
	       si.stale_fids, si.last_recovery_ns / 1e6);
	for (int i = 0; i < NWORKERS; i++)
		if (w[i].bad[0])
			fail_msg("worker %d: %s", i, w[i].bad);
	assert_int_equal(failed_waits, 0);
	assert_int_equal(f.kills, kills);
	assert_true(atomic_load(&f.max_ms) < TIMEOUT_MS + 2000);
	/* afterwards: everything fsync'd reads back, strictly */
	for (int i = 0; i < NWORKERS; i++)
		for (int k = 0; k < NFILES; k++) {
			char path[64], buf[FSIZE], want[FSIZE];
			if (w[i].durable[k] < 0)
				continue;
			snprintf(path, sizeof(path), "/m/w%d/f%d", i, k);
			int fd = uvfs_open(e.c, path, O_RDONLY, 0);
			assert_true(fd >= 0);
			assert_int_equal(uvfs_pread(e.c, fd, buf, FSIZE, 0),
					 FSIZE);
			fill(want, i, k, w[i].durable[k], FSIZE);
			assert_memory_equal(buf, want, FSIZE);
			assert_int_equal(uvfs_close(e.c, fd), 0);
		}
	env_down(&e, 0);
}

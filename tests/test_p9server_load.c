/*
 * test_p9server_load.c - the library under load, over hostfs in
 * process: many requests in flight (each answered once), a flush that
 * interrupts a blocking system call, more fids than descriptors, and
 * several clients at once.
 * Included by test_p9server.c (it uses that file's tiny file system,
 * client and helpers); not a program of its own.
 */

/* Many requests in flight at once; every one answered exactly once. */
static void many_in_flight(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	enum { N = 400 };
	static uint8_t seen[N];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_lcreate(&c, 2, "data", O_RDWR, 0600, 0), 0);
	memset(seen, 0, sizeof(seen));
	/* interleave: walks to fresh fids, getattrs, writes */
	for (int i = 0; i < N; i++) {
		t = (struct p9_msg){ .tag = (uint16_t)(100 + i) };
		switch (i % 3) {
		case 0:
			t.type = P9_TWALK;
			t.twalk.fid = 1;
			t.twalk.newfid = (uint32_t)(1000 + i);
			t.twalk.nwname = 1;
			t.twalk.wname[0] = P9_STR("data");
			break;
		case 1:
			t.type = P9_TGETATTR;
			t.tgetattr.fid = 1;
			t.tgetattr.request_mask = P9_GETATTR_ALL;
			break;
		default:
			t.type = P9_TWRITE;
			t.twrite.fid = 2;
			t.twrite.offset = (uint64_t)i;
			t.twrite.count = 1;
			t.twrite.data = "z";
			break;
		}
		tc_send(&c, &t);
	}
	for (int i = 0; i < N; i++) {
		tc_recv(&c, &r);
		assert_true(r.tag >= 100 && r.tag < 100 + N);
		int k = r.tag - 100;
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		assert_int_not_equal(r.type, P9_RLERROR);
	}
	for (int i = 0; i < N; i += 3)
		assert_int_equal(tc_clunk(&c, (uint32_t)(1000 + i)), 0);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* Flushes *tag (in flight on c) and waits for the Rflush; re-flushes if
 * the first interrupt landed before the blocking call (a known window).
 * Fails if anything but Rflush comes back. */
static void flush_and_wait(struct tc *c, uint16_t oldtag, uint16_t tag)
{
	struct p9_msg t = { .type = P9_TFLUSH }, r;
	int sent = 0, got = 0;

	for (;;) {
		t.tag = (uint16_t)(tag + sent);
		t.tflush.oldtag = oldtag;
		tc_send(c, &t);
		sent++;
		while (got < sent && tc_recv_timeout(c, &r, 1000) == 0) {
			assert_int_equal(r.type, P9_RFLUSH);
			got++;
		}
		if (got == sent || sent == 5)
			break;
	}
	while (got < sent) {
		tc_recv(c, &r);
		assert_int_equal(r.type, P9_RFLUSH);
		got++;
	}
	assert_int_equal(tc_recv_timeout(c, &r, 200), -1);
}

/* With interrupt_signal, a flush interrupts a blocking system call: a
 * FIFO's open with no writer, a read of an empty FIFO. */
static void flush_interrupts_blocking_call(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct p9srv_opts o = { .interrupt_signal = SIGUSR2 };
	struct tc c;
	struct p9_msg t;
	char path[128];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/fifo", tmpl);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(hostfs_open(tmpl, &hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, hs, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fifo", NULL), 0);
	/* the open blocks: no writer */
	t = (struct p9_msg){ .type = P9_TLOPEN, .tag = 20 };
	t.tlopen.fid = 2;
	t.tlopen.flags = O_RDONLY;
	tc_send(&c, &t);
	usleep(200 * 1000);
	long t0 = now_ms();
	flush_and_wait(&c, 20, 21);
	assert_true(now_ms() - t0 < 5000);
	/* the fid was not opened: it can be opened now (O_RDWR never
	 * blocks on a FIFO) and its read blocks */
	assert_int_equal(tc_lopen(&c, 2, O_RDWR), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 30 };
	t.tread.fid = 2;
	t.tread.count = 64;
	tc_send(&c, &t);
	usleep(200 * 1000);
	flush_and_wait(&c, 30, 31);
	/* and hanging up with a blocked read ends the loop too */
	t.tag = 40;
	tc_send(&c, &t);
	usleep(100 * 1000);
	t0 = now_ms();
	tc_stop(&c);
	assert_true(now_ms() - t0 < 5000);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* More fids than the descriptor limit allows descriptors: a fid that is
 * not opened holds none. */
static void more_fids_than_descriptors(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	struct rlimit rl;
	uint32_t n;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	n = rl.rlim_cur > 60000 ? 0 : (uint32_t)rl.rlim_cur + 2000;
	if (n == 0)
		skip();
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_mkdir(&c, 1, "d", 0755, 0), 0);
	/* pipelined walks, 500 in flight at a time */
	for (uint32_t i = 0; i < n; i += 500) {
		uint32_t k, m = n - i < 500 ? n - i : 500;
		for (k = 0; k < m; k++) {
			t = (struct p9_msg){ .type = P9_TWALK,
					     .tag = (uint16_t)k };
			t.twalk.fid = 1;
			t.twalk.newfid = 10 + i + k;
			t.twalk.nwname = 1;
			t.twalk.wname[0] = P9_STR("d");
			tc_send(&c, &t);
		}
		for (k = 0; k < m; k++) {
			tc_recv(&c, &r);
			assert_int_equal(r.type, P9_RWALK);
		}
	}
	/* every one of them still works */
	assert_int_equal(tc_getattr(&c, 10, NULL), 0);
	assert_int_equal(tc_getattr(&c, 10 + n - 1, NULL), 0);
	assert_int_equal(tc_mkdir(&c, 10 + n / 2, "sub", 0755, 0), 0);
	assert_int_equal(tc_lopen(&c, 10 + n - 2, O_RDONLY), 0);
	assert_int_equal(tc_stop(&c), 0);       /* clunks them all */
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* Several clients at once, each with many requests: the connection's
 * threads and the shared server under TSan. */
struct client_arg {
	struct p9srv *s;
	int id;
};

static void *client_main(void *arg)
{
	struct client_arg *ca = arg;
	struct tc c;
	char name[32], buf[32];

	tc_start(&c, ca->s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "c%d-%d", ca->id, i);
		assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
		assert_int_equal(tc_lcreate(&c, 2, name, O_RDWR, 0600, 0), 0);
		assert_int_equal(tc_pwrite(&c, 2, 0, name, (uint32_t)strlen(name)),
				 (int64_t)strlen(name));
		assert_int_equal(tc_pread(&c, 2, 0, buf, sizeof(buf)),
				 (int64_t)strlen(name));
		assert_memory_equal(buf, name, strlen(name));
		assert_int_equal(tc_clunk(&c, 2), 0);
		assert_int_equal(tc_unlinkat(&c, 1, name, 0), 0);
	}
	tc_stop(&c);
	return NULL;
}

static void concurrent_clients(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	pthread_t th[4];
	struct client_arg ca[4];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	for (int i = 0; i < 4; i++) {
		ca[i] = (struct client_arg){ s, i };
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &ca[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/*
 * test_p9server_proto.c - the file-server library's protocol, over the
 * tiny file system: version negotiation, the fid rules and ENOSYS for a
 * missing operation, the xattr fids, Tflush of a slow and of a queued
 * request, a Tversion that resets the session, the fid limits, and
 * malformed and oversized messages.
 * Included by test_p9server.c (it uses that file's tiny file system,
 * client and helpers); not a program of its own.
 */

static void version_negotiation(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t = { .type = P9_TVERSION, .tag = P9_NOTAG }, r;

	(void)state;
	tc_start(&c, s);
	/* nothing before a version */
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EPROTO);
	/* an unknown version */
	t.tversion.msize = 8192;
	t.tversion.version = P9_STR("9P2000.u");
	tc_rpc(&c, &t, &r);
	assert_int_equal(r.type, P9_RVERSION);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EPROTO);
	t.tversion.version = P9_STR("9P2000");
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	/* msize: min(client, server) */
	t.tversion.version = P9_STR(P9_VERSION_L);
	t.tversion.msize = 1u << 30;
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, P9_VERSION_L));
	assert_int_equal(r.rversion.msize, 64 * 1024);
	t.tversion.msize = 8192;
	tc_rpc(&c, &t, &r);
	assert_int_equal(r.rversion.msize, 8192);
	/* too small to work with */
	t.tversion.msize = 16;
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	/* a new version forgets every fid */
	tc_version(&c, 8192);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

static void fid_rules(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;
	char buf[16];

	(void)state;
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EBADF);     /* in use */
	assert_int_equal(tc_attach(&c, P9_NOFID, 0, NULL), EBADF);
	assert_int_equal(tc_walk(&c, 99, 2, "fast", NULL), EBADF);
	assert_int_equal(tc_walk(&c, 1, 1, "", NULL), 0);       /* clone to itself */
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), EBADF); /* newfid in use */
	assert_int_equal(tc_walk(&c, 1, 3, "nope", NULL), ENOENT);
	assert_int_equal(tc_walk(&c, 1, 3, "fast/x", NULL), -2);  /* partial */
	assert_int_equal(tc_clunk(&c, 3), EBADF);  /* a partial walk makes no fid */
	assert_int_equal(tc_pread(&c, 2, 0, buf, 4), -EBADF);    /* not opened */
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), EINVAL);     /* opened twice */
	assert_int_equal(tc_walk(&c, 2, 4, "", NULL), EBADF);    /* walk from opened */
	assert_int_equal(tc_pread(&c, 2, 0, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "fast", 4);
	/* missing operations answer ENOSYS */
	assert_int_equal(tc_getattr(&c, 1, NULL), ENOSYS);
	assert_int_equal(tc_mkdir(&c, 1, "d", 0755, 0), ENOSYS);
	assert_int_equal(tc_pwrite(&c, 2, 0, "x", 1), -ENOSYS);
	t = (struct p9_msg){ .type = P9_TAUTH };
	t.tauth.afid = 5;
	t.tauth.uname = P9_STR("u");
	t.tauth.aname = P9_STR("");
	assert_int_equal(tc_err(&c, &t, &r), ENOSYS);
	/* remove with no remove op still clunks */
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 2;
	assert_int_equal(tc_err(&c, &t, &r), ENOSYS);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_clunk(&c, 1), 0);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* --- extended attributes: the library's xattr fids over the tiny file
 * system plus one attribute kept in memory --- */

static char xa_name[256];
static char xa_val[P9SRV_XATTR_MAX];
static ssize_t xa_len = -1;             /* -1: absent */
static atomic_int xa_commits;

static ssize_t x_xattrwalk(struct p9srv_req *r, struct p9srv_fid *f,
			   const char *name, void *buf, size_t cap)
{
	(void)r; (void)f;
	if (strcmp(name, "user.huge") == 0)
		return -ERANGE;         /* more than the library's buffer */
	if (!*name) {
		size_t n = xa_len < 0 ? 0 : strlen(xa_name) + 1;
		if (cap && n > cap)
			return -ERANGE;
		if (cap)
			memcpy(buf, xa_name, n);
		return (ssize_t)n;
	}
	if (xa_len < 0 || strcmp(name, xa_name) != 0)
		return -ENODATA;
	if (cap && (size_t)xa_len > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, xa_val, (size_t)xa_len);
	return xa_len;
}

static int x_xattrcreate(struct p9srv_req *r, struct p9srv_fid *f,
			 const char *name, const void *value, size_t size,
			 uint32_t flags)
{
	(void)r;
	assert_non_null(f->priv);       /* still the file's fid */
	atomic_fetch_add(&xa_commits, 1);
	bool have = xa_len >= 0 && strcmp(name, xa_name) == 0;
	if (size == 0) {
		if (!have)
			return -ENODATA;
		xa_len = -1;
		return 0;
	}
	if ((flags & 1) && have)
		return -EEXIST;
	if ((flags & 2) && !have)
		return -ENODATA;
	snprintf(xa_name, sizeof(xa_name), "%s", name);
	memcpy(xa_val, value, size);
	xa_len = (ssize_t)size;
	return 0;
}

static const struct p9srv_ops xattr_ops = {
	.attach = t_attach,
	.walk = t_walk,
	.lopen = t_lopen,
	.read = t_read,
	.clunk = t_clunk,
	.xattrwalk = x_xattrwalk,
	.xattrcreate = x_xattrcreate,
};

static void xattr_fids(void **state)
{
	struct p9srv *s = tiny_srv();
	struct p9srv_opts o = { .msize = 64 * 1024, .max_xattr_bytes = 100 };
	struct tc c;
	struct p9_msg t, r;
	char buf[128], name[300];
	uint64_t size;

	(void)state;
	/* no xattr operations: EOPNOTSUPP (not ENOSYS: "no xattrs here") */
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 2, "user.a", NULL), EOPNOTSUPP);
	assert_int_equal(tc_xattrcreate(&c, 1, "user.a", 1, 0), EOPNOTSUPP);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);

	xa_len = -1;
	atomic_store(&xa_commits, 0);
	assert_int_equal(p9srv_new(&xattr_ops, NULL, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), 0);

	/* an xattr-write fid: written without holes, committed at clunk */
	assert_int_equal(tc_xattrcreate(&c, 2, "user.a", 5, 0), 0);
	assert_int_equal(tc_getattr(&c, 2, NULL), EBADF);  /* nothing else */
	assert_int_equal(tc_walk(&c, 2, 3, "", NULL), EBADF);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), EBADF);
	assert_int_equal(tc_xattrcreate(&c, 2, "user.b", 1, 0), EBADF);
	assert_int_equal(tc_pread(&c, 2, 0, buf, 5), -EBADF);
	assert_int_equal(tc_pwrite(&c, 2, 3, "lo", 2), -EINVAL); /* a hole */
	assert_int_equal(tc_pwrite(&c, 2, 0, "hel", 3), 3);
	assert_int_equal(tc_pwrite(&c, 2, 3, "loX", 3), -ENOSPC); /* > size */
	assert_int_equal(tc_pwrite(&c, 2, 3, "lo", 2), 2);
	assert_int_equal(tc_pwrite(&c, 2, 0, "H", 1), 1);       /* rewrite */
	assert_int_equal(atomic_load(&xa_commits), 0);
	assert_int_equal(tc_clunk(&c, 2), 0);
	assert_int_equal(atomic_load(&xa_commits), 1);
	assert_int_equal(xa_len, 5);
	assert_memory_equal(xa_val, "Hello", 5);
	assert_int_equal(tc_clunk(&c, 2), EBADF);               /* gone */

	/* an xattr-read fid: a copy taken at the walk */
	assert_int_equal(tc_xattrwalk(&c, 1, 3, "user.a", &size), 0);
	assert_int_equal(size, 5);
	memcpy(xa_val, "XXXXX", 5);     /* changed after the walk */
	assert_int_equal(tc_pread(&c, 3, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "Hello", 5);
	assert_int_equal(tc_pread(&c, 3, 2, buf, 2), 2);
	assert_memory_equal(buf, "ll", 2);
	assert_int_equal(tc_pread(&c, 3, 9, buf, 2), 0);        /* past it */
	assert_int_equal(tc_pwrite(&c, 3, 0, "x", 1), -EBADF);
	assert_int_equal(tc_getattr(&c, 3, NULL), EBADF);
	assert_int_equal(tc_clunk(&c, 3), 0);
	memcpy(xa_val, "Hello", 5);
	/* the list */
	assert_int_equal(tc_xattr_get(&c, 1, 3, "", buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "user.a", 7);
	/* walk errors: no fid is made */
	assert_int_equal(tc_xattrwalk(&c, 1, 1, "user.a", NULL), EINVAL);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.z", NULL), ENODATA);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.huge", NULL), E2BIG);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.a", NULL), EBADF);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	assert_int_equal(tc_xattrwalk(&c, 1, 5, name, NULL), ERANGE);

	/* create errors */
	assert_int_equal(tc_xattrcreate(&c, 4, name, 1, 0), ERANGE);
	assert_int_equal(tc_xattrcreate(&c, 4, "", 1, 0), EINVAL);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a", 1, 4), EINVAL);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a",
					P9SRV_XATTR_MAX + 1, 0), E2BIG);
	assert_int_equal(tc_xattr_set(&c, 1, 5, "user.a", "v", 1, 1), EEXIST);
	assert_int_equal(tc_lopen(&c, 4, O_RDONLY), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a", 1, 0), EINVAL);
	assert_int_equal(tc_clunk(&c, 4), 0);
	/* a short value is not committed: EINVAL, and the fid is gone */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.b", 4, 0), 0);
	assert_int_equal(tc_pwrite(&c, 4, 0, "ab", 2), 2);
	int commits = atomic_load(&xa_commits);
	assert_int_equal(tc_clunk(&c, 4), EINVAL);
	assert_int_equal(atomic_load(&xa_commits), commits);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	/* Tremove of an xattr fid drops it uncommitted */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.b", 1, 0), 0);
	assert_int_equal(tc_pwrite(&c, 4, 0, "b", 1), 1);
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 4;
	assert_int_equal(tc_err(&c, &t, &r), EBADF);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(atomic_load(&xa_commits), commits);

	/* the memory bound (100 bytes here): held values and buffers */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 5, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.c", 60, 0), 0);
	assert_int_equal(tc_xattrcreate(&c, 5, "user.c", 60, 0), ENOMEM);
	assert_int_equal(tc_xattrwalk(&c, 1, 6, "user.a", NULL), 0); /* 5 */
	assert_int_equal(tc_xattrcreate(&c, 5, "user.c", 35, 0), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 7, "user.a", NULL), ENOMEM);
	assert_int_equal(tc_clunk(&c, 4), EINVAL);      /* nothing written */
	assert_int_equal(tc_clunk(&c, 6), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 7, "user.a", NULL), 0);
	assert_int_equal(tc_clunk(&c, 7), 0);

	/* size 0 removes */
	assert_int_equal(tc_xattr_set(&c, 1, 4, "user.a", NULL, 0, 0), 0);
	assert_int_equal(xa_len, -1);
	assert_int_equal(tc_xattr_set(&c, 1, 4, "user.a", NULL, 0, 0),
			 ENODATA);
	assert_int_equal(tc_xattr_get(&c, 1, 4, "", buf, sizeof(buf)), 0);

	/* a hang-up with a write fid (5) pending does not commit it */
	commits = atomic_load(&xa_commits);
	assert_int_equal(tc_pwrite(&c, 5, 0, buf, 35), 35);
	assert_int_equal(tc_stop(&c), 0);
	assert_int_equal(atomic_load(&xa_commits), commits);
	p9srv_free(s);
}

static void flush_slow_request(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;
	char buf[16];

	(void)state;
	atomic_store(&slow_started, 0);
	atomic_store(&slow_flushed_seen, 0);
	atomic_store(&flush_calls, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "fast", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 3, O_RDONLY), 0);

	/* a slow read (tag 50) does not hold up the others */
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 50 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	long t0 = now_ms();
	assert_int_equal(tc_pread(&c, 3, 0, buf, sizeof(buf)), 4);
	assert_true(now_ms() - t0 < 2000);

	/* flush it: the only answer is Rflush, after the read gave up */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 51 };
	t.tflush.oldtag = 50;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 51);
	assert_int_equal(atomic_load(&slow_flushed_seen), 1);
	assert_int_equal(atomic_load(&flush_calls), 1);
	/* nothing else comes: the read's reply was suppressed */
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);

	/* a flush of a tag not in flight is answered at once */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 52 };
	t.tflush.oldtag = 4242;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 52);

	/* two flushes of one request: both answered, in order */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 60 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 61 };
	t.tflush.oldtag = 60;
	tc_send(&c, &t);
	t.tag = 62;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	uint16_t first = r.tag;
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_true((first == 61 && r.tag == 62) || (first == 62 && r.tag == 61));

	/* an operation that completed although it was flushed (it may
	 * have changed something: a create, a walk): its reply goes out,
	 * then the Rflush (flush(5): the client honours a reply that comes
	 * before the Rflush; a reply dropped would tell it the operation
	 * did not happen) */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 65 };
	t.tread.fid = 2;
	t.tread.offset = 1;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 66 };
	t.tflush.oldtag = 65;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RREAD);
	assert_int_equal(r.tag, 65);
	assert_int_equal(r.rread.count, 1);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 66);

	/* hanging up with a slow request in flight: the loop ends */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 70 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t0 = now_ms();
	tc_stop(&c);
	assert_true(now_ms() - t0 < 5000);
	p9srv_free(s);
}

/* Queued requests flushed before a worker takes them (one worker, busy). */
static void flush_queued_request(void **state)
{
	struct p9srv *s;
	struct p9srv_opts o = { .msize = 8192, .nworkers = 1 };
	struct tc c;
	struct p9_msg t, r;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	atomic_store(&slow_started, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "fast", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 3, O_RDONLY), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 10 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 11 };
	t.tread.fid = 3;
	t.tread.count = 16;
	tc_send(&c, &t);               /* queued behind the slow one */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 12 };
	t.tflush.oldtag = 11;
	tc_send(&c, &t);
	tc_recv(&c, &r);               /* at once, the slow one still runs */
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 12);
	t.tag = 13;
	t.tflush.oldtag = 10;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 13);
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* A Tversion with a slow request in flight: the request is flushed (no
 * reply), every fid forgotten, then Rversion. */
static void version_resets_session(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;

	(void)state;
	atomic_store(&slow_started, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 7 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TVERSION, .tag = P9_NOTAG };
	t.tversion.msize = 4096;
	t.tversion.version = P9_STR(P9_VERSION_L);
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RVERSION);
	assert_int_equal(r.rversion.msize, 4096);
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* opts.max_fids: past it, a new fid answers ENFILE. */
static void fid_limit(void **state)
{
	struct p9srv *s;
	struct p9srv_opts o = { .max_fids = 3 };
	struct tc c;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 4, "", NULL), ENFILE);
	assert_int_equal(tc_attach(&c, 5, 0, NULL), ENFILE);
	assert_int_equal(tc_walk(&c, 1, 1, "", NULL), 0);  /* in place: no new fid */
	assert_int_equal(tc_clunk(&c, 3), 0);
	assert_int_equal(tc_walk(&c, 1, 4, "", NULL), 0);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* The default limit is generous (1M): 70 000 fids, more than the 65 536
 * it used to be, on one connection; the table grows under them and every
 * fid stays reachable, also after half of them are clunked. */
static void fid_limit_default(void **state)
{
	struct p9srv *s;
	struct tc c;
	const uint32_t n = 70000;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, NULL, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(tc_walk(&c, 1, 100 + i, "", NULL), 0);
	for (uint32_t i = 0; i < n; i += 2)
		assert_int_equal(tc_clunk(&c, 100 + i), 0);
	for (uint32_t i = 1; i < n; i += 7920)    /* odd: kept */
		assert_int_equal(tc_walk(&c, 100 + i, 200000 + i, "", NULL), 0);
	assert_int_equal(tc_clunk(&c, 100), EBADF);     /* clunked above */
	assert_int_equal(tc_walk(&c, 1, 101, "", NULL), EBADF);  /* in use */
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* n walks of no names from fid to first, first + 1, ..., 500 in flight
 * at a time. */
static void walk_many(struct tc *c, uint32_t fid, uint32_t first, uint32_t n)
{
	struct p9_msg t, r;

	for (uint32_t i = 0; i < n; i += 500) {
		uint32_t k, m = n - i < 500 ? n - i : 500;
		for (k = 0; k < m; k++) {
			t = (struct p9_msg){ .type = P9_TWALK,
					     .tag = (uint16_t)k };
			t.twalk.fid = fid;
			t.twalk.newfid = first + i + k;
			tc_send(c, &t);
		}
		for (k = 0; k < m; k++) {
			tc_recv(c, &r);
			assert_int_equal(r.type, P9_RWALK);
		}
	}
}

/* Tversion and the hang-up take every fid out and clunk each once, with
 * the table in the middle of a doubling (16 384 fids and 6 more: it
 * doubled at the 16 385th and has moved a few of its old chains since),
 * and the fids' numbers are free again after the Tversion. */
static void clunk_all_many(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	const uint32_t n = 16384 + 5;   /* and the attach's */

	(void)state;
	atomic_store(&clunk_calls, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	walk_many(&c, 1, 100, n);
	assert_int_equal(tc_walk(&c, 1, 100 + n - 1, "", NULL), EBADF);
	assert_int_equal(atomic_load(&clunk_calls), 0);
	tc_version(&c, 8192);
	assert_int_equal(atomic_load(&clunk_calls), n + 1);
	assert_int_equal(tc_clunk(&c, 100 + n / 2), EBADF);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	walk_many(&c, 1, 100, n);       /* the same numbers */
	assert_int_equal(tc_walk(&c, 100 + n - 1, 100 + n / 3, "", NULL),
			 EBADF);
	assert_int_equal(tc_stop(&c), 0);
	assert_int_equal(atomic_load(&clunk_calls), 2 * (n + 1));
	p9srv_free(s);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void malformed_messages(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg r;
	uint8_t b[256];

	(void)state;
	tc_start(&c, s);
	tc_version(&c, 8192);
	/* an unknown type */
	memset(b, 0, sizeof(b));
	put32(b, 7);
	b[4] = 200;
	b[5] = 9;
	tc_write(&c, b, 7);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 9);
	assert_int_equal(r.rlerror.ecode, ENOSYS);
	/* a 9P2000 Topen (known to no .L server) */
	put32(b, 12);
	b[4] = 112;
	b[5] = 10;
	tc_write(&c, b, 12);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 10);
	/* a truncated Twalk: fid only */
	put32(b, 11);
	b[4] = P9_TWALK;
	b[5] = 11;
	b[6] = 0;
	tc_write(&c, b, 11);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 11);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* a Twalk claiming 17 names */
	put32(b, 17);
	b[4] = P9_TWALK;
	b[5] = 12;
	put32(b + 7, 1);
	put32(b + 11, 2);
	b[15] = 17;
	b[16] = 0;
	tc_write(&c, b, 17);
	tc_recv(&c, &r);
	assert_int_equal(r.tag, 12);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* a reply sent to the server */
	put32(b, 7);
	b[4] = P9_RCLUNK;
	b[5] = 13;
	tc_write(&c, b, 7);
	tc_recv(&c, &r);
	assert_int_equal(r.tag, 13);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* oversized: answered EMSGSIZE, its bytes skipped */
	{
		size_t big = 100000;
		uint8_t *m = calloc(1, big);
		put32(m, (uint32_t)big);
		m[4] = P9_TWRITE;
		m[5] = 14;
		tc_write(&c, m, big);
		free(m);
	}
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 14);
	assert_int_equal(r.rlerror.ecode, EMSGSIZE);
	/* and the connection still works */
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_clunk(&c, 1), 0);
	/* a size below a header: the stream is closed */
	put32(b, 3);
	tc_write(&c, b, 4);
	assert_int_equal(tc_recv_timeout(&c, &r, 5000), 1);
	assert_true(tc_stop(&c) < 0);
	p9srv_free(s);

	/* random garbage after a version: answered or closed, no crash */
	s = tiny_srv();
	srand(42);
	for (int round = 0; round < 50; round++) {
		tc_start(&c, s);
		tc_version(&c, 8192);
		for (int k = 0; k < 20; k++) {
			size_t n = 7 + (size_t)(rand() % 60);
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)rand();
			put32(b, (uint32_t)n);
			if (k % 3 == 0)
				b[4] = (uint8_t)(P9_TSTATFS + 2 * (rand() % 60));
			b[5] = 0x77;
			b[6] = 0x77;
			tc_write(&c, b, n);
		}
		/* replies come, or not; then hang up */
		while (tc_recv_timeout(&c, &r, 100) == 0)
			;
		tc_stop(&c);
	}
	p9srv_free(s);
}

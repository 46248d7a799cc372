/*
 * test_p9codec_stream.c - stream framing, the Rreaddir helpers (round
 * trip and malformed entries), and the names of types and errnos.
 * Included by test_p9codec.c (it uses that file's byte builder and
 * samples); not a program of its own.
 */

/* --- framing --- */

static void framing(void **state)
{
	uint8_t s[8] = { 0 };
	uint32_t size = 12345;

	(void)state;
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(p9_frame_size(s, k, 8192, &size), -EAGAIN);
	assert_int_equal(size, 12345);
	for (uint32_t v = 0; v < 7; v++) {
		s[0] = (uint8_t)v;
		assert_int_equal(p9_frame_size(s, 4, 8192, &size), -EBADMSG);
	}
	s[0] = 7;
	assert_int_equal(p9_frame_size(s, 4, 8192, &size), 0);
	assert_int_equal(size, 7);
	s[0] = 0x00; s[1] = 0x20;                      /* 8192 */
	assert_int_equal(p9_frame_size(s, 8, 8192, &size), 0);
	assert_int_equal(size, 8192);
	s[0] = 0x01;                                    /* 8193 */
	assert_int_equal(p9_frame_size(s, 8, 8192, &size), -EMSGSIZE);
	s[0] = s[1] = s[2] = s[3] = 0xff;
	assert_int_equal(p9_frame_size(s, 8, UINT32_MAX, &size), 0);
	assert_int_equal(size, UINT32_MAX);
	assert_int_equal(p9_frame_size(s, 8, 0, &size), -EMSGSIZE);

	/* a stream of three messages, split at their boundaries */
	{
		struct bb a, b2, c;
		uint8_t stream[512];
		size_t n = 0, off = 0;
		struct p9_msg m;
		int count = 0;

		assert_true(sample(P9_TWALK, &m, &a));
		assert_true(sample(P9_RCLUNK, &m, &b2));
		assert_true(sample(P9_RGETATTR, &m, &c));
		memcpy(stream + n, a.b, a.n); n += a.n;
		memcpy(stream + n, b2.b, b2.n); n += b2.n;
		memcpy(stream + n, c.b, c.n); n += c.n;
		while (off < n) {
			assert_int_equal(p9_frame_size(stream + off, n - off,
						       8192, &size), 0);
			assert_true(size <= n - off);
			assert_int_equal(p9_unpack(stream + off, size, &m), 0);
			off += size;
			count++;
		}
		assert_int_equal(count, 3);
		assert_int_equal(m.type, P9_RGETATTR);
	}
}

/* --- Rreaddir helpers --- */

static void dirent_roundtrip(void **state)
{
	uint8_t buf[8192];
	struct p9_dirent_buf db;
	struct p9_dirent_iter it;
	struct p9_dirent d;
	char name[32];
	int put = 0, got = 0, r;
	struct p9_msg m, dm;
	ssize_t n;

	(void)state;
	/* fill the payload area of an Rreaddir of at most 1000 bytes */
	p9_dirent_buf_init(&db, buf + P9_RREADDIR_HDRSZ, 1000);
	for (;;) {
		snprintf(name, sizeof(name), "entry-%d", put);
		d = (struct p9_dirent){ .qid = { P9_QTFILE, 0, 1000 + put },
			.offset = put + 1, .type = 8, .name = p9_str(name) };
		r = p9_dirent_put(&db, &d);
		if (r == -ENOSPC)
			break;
		assert_int_equal(r, 0);
		put++;
	}
	assert_true(put > 10);
	assert_true(db.len <= 1000);
	assert_true(1000 - db.len < P9_DIRENT_FIXSZ + strlen(name));

	m = (struct p9_msg){ .type = P9_RREADDIR, .tag = 9,
		.rreaddir = { db.len, db.data } };
	n = p9_pack(buf, sizeof(buf), &m);
	assert_int_equal(n, P9_RREADDIR_HDRSZ + db.len);
	assert_int_equal(p9_unpack(buf, (size_t)n, &dm), 0);
	p9_dirent_iter_init(&it, dm.rreaddir.data, dm.rreaddir.count);
	while ((r = p9_dirent_next(&it, &d)) == 1) {
		snprintf(name, sizeof(name), "entry-%d", got);
		assert_true(p9_str_eq(d.name, name));
		assert_true(d.qid.path == (uint64_t)(1000 + got));
		assert_true(d.offset == (uint64_t)(got + 1));
		assert_int_equal(d.type, 8);
		got++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(got, put);
	assert_int_equal(p9_dirent_next(&it, &d), 0);

	/* an empty payload */
	p9_dirent_iter_init(&it, NULL, 0);
	assert_int_equal(p9_dirent_next(&it, &d), 0);

	/* invalid names are refused, the buffer unchanged */
	p9_dirent_buf_init(&db, buf, sizeof(buf));
	d.name = (struct p9_str){ "a\0", 2 };
	assert_int_equal(p9_dirent_put(&db, &d), -EINVAL);
	d.name = (struct p9_str){ NULL, 70000 };
	assert_int_equal(p9_dirent_put(&db, &d), -EINVAL);
	assert_int_equal(db.len, 0);
	/* an entry exactly filling the buffer */
	p9_dirent_buf_init(&db, buf, P9_DIRENT_FIXSZ + 2);
	d.name = P9_STR("ab");
	assert_int_equal(p9_dirent_put(&db, &d), 0);
	assert_int_equal(db.len, P9_DIRENT_FIXSZ + 2);
	assert_int_equal(p9_dirent_put(&db, &d), -ENOSPC);
	d.name = P9_STR("");
	assert_int_equal(p9_dirent_put(&db, &d), -ENOSPC);
}

static void dirent_malformed(void **state)
{
	struct p9_dirent_iter it;
	struct p9_dirent d;

	(void)state;
	/* every truncation of the two-entry payload except at the entry
	 * boundary fails, and the failure is sticky */
	for (uint32_t k = 1; k < dirents_len; k++) {
		int r, ok = 0;

		p9_dirent_iter_init(&it, dirents, k);
		while ((r = p9_dirent_next(&it, &d)) == 1)
			ok++;
		if (k == P9_DIRENT_FIXSZ + 1) {
			assert_int_equal(r, 0);
			assert_int_equal(ok, 1);
			continue;
		}
		assert_int_equal(r, -EBADMSG);
		assert_int_equal(ok, k > P9_DIRENT_FIXSZ + 1);
		assert_int_equal(p9_dirent_next(&it, &d), -EBADMSG);
	}
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(p9_type_name(P9_TWALK), "Twalk");
	assert_string_equal(p9_type_name(P9_RLERROR), "Rlerror");
	assert_string_equal(p9_type_name(P9_TXATTRCREATE), "Txattrcreate");
	assert_null(p9_type_name(6));
	assert_null(p9_type_name(255));
	assert_false(p9_type_known(112));
	assert_string_equal(p9_errno_name(ENOENT), "ENOENT");
	assert_string_equal(p9_errno_name(EPERM), "EPERM");
	assert_string_equal(p9_errno_name(ENOTEMPTY), "ENOTEMPTY");
	assert_string_equal(p9_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	assert_string_equal(p9_errno_name(ESTALE), "ESTALE");
	assert_string_equal(p9_errno_name(EHWPOISON), "EHWPOISON");
	assert_string_equal(p9_errno_name(0), "E?");
	assert_string_equal(p9_errno_name(100000), "E?");
	assert_string_equal(p9_errno_name(UINT32_MAX), "E?");
}

/*
 * test_p9codec_answers.c - known answers: Tversion and the small
 * messages byte for byte, the fixed sizes, every type packed, unpacked,
 * re-packed and truncated, and the decoded fields.
 * Included by test_p9codec.c (it uses that file's byte builder and
 * samples); not a program of its own.
 */

/* --- known answers --- */

static void kat_tversion(void **state)
{
	static const uint8_t want[] = {
		0x15, 0x00, 0x00, 0x00,         /* size 21 */
		100,                            /* Tversion */
		0xff, 0xff,                     /* NOTAG */
		0x00, 0x20, 0x00, 0x00,         /* msize 8192 */
		0x08, 0x00, '9', 'P', '2', '0', '0', '0', '.', 'L',
	};
	struct p9_msg m = { .type = P9_TVERSION, .tag = P9_NOTAG,
		.tversion = { 8192, P9_STR(P9_VERSION_L) } };
	uint8_t buf[64];
	struct p9_msg d;

	(void)state;
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(p9_unpack(want, sizeof(want), &d), 0);
	assert_int_equal(d.type, P9_TVERSION);
	assert_int_equal(d.tag, 0xffff);
	assert_int_equal(d.tversion.msize, 8192);
	assert_true(p9_str_eq(d.tversion.version, "9P2000.L"));
	/* points into the buffer, no copy */
	assert_ptr_equal(d.tversion.version.s, (const char *)want + 13);
}

static void kat_small(void **state)
{
	static const uint8_t rlerror[] = { 11, 0, 0, 0, 7, 1, 0, 2, 0, 0, 0 };
	static const uint8_t rclunk[] = { 7, 0, 0, 0, 121, 0x34, 0x12 };
	static const uint8_t tflush[] = { 9, 0, 0, 0, 108, 2, 0, 1, 0 };
	struct p9_msg m = { .type = P9_RLERROR, .tag = 1,
			    .rlerror.ecode = 2 };
	uint8_t buf[32];

	(void)state;
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), sizeof(rlerror));
	assert_memory_equal(buf, rlerror, sizeof(rlerror));
	m = (struct p9_msg){ .type = P9_RCLUNK, .tag = 0x1234 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), sizeof(rclunk));
	assert_memory_equal(buf, rclunk, sizeof(rclunk));
	m = (struct p9_msg){ .type = P9_TFLUSH, .tag = 2, .tflush.oldtag = 1 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), sizeof(tflush));
	assert_memory_equal(buf, tflush, sizeof(tflush));
}

/* Fixed sizes that the spec implies. */
static void fixed_sizes(void **state)
{
	struct p9_msg m;
	struct bb b;

	(void)state;
	assert_true(sample(P9_RGETATTR, &m, &b));
	assert_int_equal(p9_packed_size(&m), 7 + 8 + 13 + 3 * 4 + 15 * 8);
	assert_int_equal(p9_packed_size(&m), 160);
	assert_true(sample(P9_TSETATTR, &m, &b));
	assert_int_equal(p9_packed_size(&m), 7 + 5 * 4 + 5 * 8);
	assert_true(sample(P9_RSTATFS, &m, &b));
	assert_int_equal(p9_packed_size(&m), 7 + 4 + 4 + 6 * 8 + 4);
	assert_true(sample(P9_RLOPEN, &m, &b));
	assert_int_equal(p9_packed_size(&m), 7 + 13 + 4);
	m = (struct p9_msg){ .type = P9_TWRITE, .twrite = { .count = 0 } };
	assert_int_equal(p9_packed_size(&m), P9_TWRITE_HDRSZ);
	m = (struct p9_msg){ .type = P9_RREAD };
	assert_int_equal(p9_packed_size(&m), P9_RREAD_HDRSZ);
	m = (struct p9_msg){ .type = P9_RREADDIR };
	assert_int_equal(p9_packed_size(&m), P9_RREADDIR_HDRSZ);
}

/* Every type: pack == expected, unpack, re-pack, every truncation. */
static void every_type(void **state)
{
	int types = 0;

	(void)state;
	for (int t = 0; t < 256; t++) {
		struct p9_msg m, d, d2;
		struct bb b;
		uint8_t buf[1024], cut[1024];
		ssize_t n;

		if (!p9_type_known((uint8_t)t)) {
			assert_false(sample((uint8_t)t, &m, &b));
			continue;
		}
		types++;
		if (!sample((uint8_t)t, &m, &b))
			fail_msg("no sample for %s", p9_type_name((uint8_t)t));
		n = p9_pack(buf, sizeof(buf), &m);
		if (n != (ssize_t)b.n || memcmp(buf, b.b, b.n))
			fail_msg("%s: packed bytes differ", p9_type_name((uint8_t)t));
		assert_int_equal(p9_packed_size(&m), n);
		assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
		assert_int_equal(d.type, t);
		assert_int_equal(d.tag, 0x100 + t);
		assert_int_equal(p9_pack(buf, sizeof(buf), &d), n);
		assert_memory_equal(buf, b.b, b.n);
		assert_int_equal(p9_unpack(buf, (size_t)n, &d2), 0);
		/* no room: refused, nothing written */
		memset(buf, 0xaa, sizeof(buf));
		assert_int_equal(p9_pack(buf, (size_t)n - 1, &m), -ENOSPC);
		assert_int_equal(buf[0], 0xaa);
		assert_int_equal(p9_pack(NULL, 0, &m), -ENOSPC);
		/* every truncation: with the size field as sent, and with
		 * the size field made to agree */
		for (size_t k = 0; k < b.n; k++) {
			memcpy(cut, b.b, k);
			assert_int_equal(p9_unpack(cut, k, &d), -EBADMSG);
			if (k >= 4) {
				for (int i = 0; i < 4; i++)
					cut[i] = (uint8_t)(k >> (8 * i));
				assert_int_equal(p9_unpack(cut, k, &d),
						 -EBADMSG);
			}
		}
		/* one byte of trailing garbage, size field agreeing */
		memcpy(cut, b.b, b.n);
		cut[b.n] = 0;
		for (int i = 0; i < 4; i++)
			cut[i] = (uint8_t)((b.n + 1) >> (8 * i));
		assert_int_equal(p9_unpack(cut, b.n + 1, &d), -EBADMSG);
		/* the size field disagreeing with the buffer */
		memcpy(cut, b.b, b.n);
		cut[0]++;
		assert_int_equal(p9_unpack(cut, b.n, &d), -EBADMSG);
		cut[0] -= 2;
		assert_int_equal(p9_unpack(cut, b.n, &d), -EBADMSG);
	}
	assert_int_equal(types, 57);
}

/* Decoded fields, for the messages with arrays, strings and data. */
static void decoded_fields(void **state)
{
	struct p9_msg m, d;
	struct bb b;

	(void)state;
	assert_true(sample(P9_TWALK, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.twalk.fid, 1);
	assert_int_equal(d.twalk.newfid, 2);
	assert_int_equal(d.twalk.nwname, 3);
	assert_true(p9_str_eq(d.twalk.wname[0], "usr"));
	assert_true(p9_str_eq(d.twalk.wname[1], ""));
	assert_true(p9_str_eq(d.twalk.wname[2], ".."));
	assert_false(p9_str_eq(d.twalk.wname[2], "..."));
	assert_false(p9_str_eq(d.twalk.wname[2], "."));

	assert_true(sample(P9_RWALK, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.rwalk.nwqid, 2);
	assert_int_equal(d.rwalk.wqid[0].type, QA.type);
	assert_int_equal(d.rwalk.wqid[0].version, QA.version);
	assert_true(d.rwalk.wqid[0].path == QA.path);
	assert_true(d.rwalk.wqid[1].path == QB.path);

	assert_true(sample(P9_RGETATTR, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.rgetattr.mode, 040755);
	assert_int_equal(d.rgetattr.gid, 501);
	assert_true(d.rgetattr.size == 0x123456789aULL);
	assert_int_equal(d.rgetattr.ctime_nsec, 3);
	assert_int_equal(d.rgetattr.data_version, 7);

	assert_true(sample(P9_TWRITE, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.twrite.count, 3);
	assert_ptr_equal(d.twrite.data, b.b + P9_TWRITE_HDRSZ);
	assert_true(d.twrite.offset == 1ULL << 40);

	assert_true(sample(P9_TATTACH, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.tattach.afid, P9_NOFID);
	assert_true(p9_str_eq(d.tattach.uname, "root"));
	assert_true(p9_str_eq(d.tattach.aname, "/tmp/9"));
	assert_int_equal(d.tattach.n_uname, 500);

	assert_true(sample(P9_TLOCK, &m, &b));
	assert_int_equal(p9_unpack(b.b, b.n, &d), 0);
	assert_int_equal(d.tlock.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(d.tlock.proc_id, 4242);
	assert_true(p9_str_eq(d.tlock.client_id, "host"));
}

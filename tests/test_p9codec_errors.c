/*
 * test_p9codec_errors.c - malformed input refused one case at a time,
 * and the encoding errors (invalid messages, packing in place).
 * Included by test_p9codec.c (it uses that file's byte builder and
 * samples); not a program of its own.
 */

/* --- malformed input --- */

static void expect_unpack(struct bb *b, int want)
{
	struct p9_msg d;

	bfix(b);
	d.type = 0xee;
	assert_int_equal(p9_unpack(b->b, b->n, &d), want);
	if (want)
		assert_int_equal(d.type, 0xee); /* untouched on failure */
}

static void malformed(void **state)
{
	struct bb b;
	struct p9_msg d;
	static const uint8_t hdr[7] = { 7, 0, 0, 0, P9_RCLUNK, 0, 0 };

	(void)state;
	/* shorter than a header */
	for (size_t k = 0; k < 7; k++)
		assert_int_equal(p9_unpack(hdr, k, &d), -EBADMSG);
	assert_int_equal(p9_unpack(hdr, 7, &d), 0);
	assert_int_equal(p9_unpack(NULL, 0, &d), -EBADMSG);

	/* string running past the end */
	bhdr(&b, P9_TVERSION, 0);
	b32(&b, 8192); b16(&b, 100); bbytes(&b, "9P2000.L", 8);
	expect_unpack(&b, -EBADMSG);
	/* ... by one byte */
	bhdr(&b, P9_TVERSION, 0);
	b32(&b, 8192); b16(&b, 9); bbytes(&b, "9P2000.L", 8);
	expect_unpack(&b, -EBADMSG);
	/* string length cut in half */
	bhdr(&b, P9_RREADLINK, 0);
	b8(&b, 1);
	expect_unpack(&b, -EBADMSG);
	/* a later string past the end */
	bhdr(&b, P9_TSYMLINK, 0);
	b32(&b, 1); bstr(&b, "a"); b16(&b, 0xffff); bbytes(&b, "xy", 2);
	expect_unpack(&b, -EBADMSG);

	/* embedded NULs */
	bhdr(&b, P9_TLCREATE, 0);
	b32(&b, 1); b16(&b, 3); bbytes(&b, "a\0b", 3); b32(&b, 0);
	b32(&b, 0); b32(&b, 0);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_TWALK, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 2); bstr(&b, "ok"); b16(&b, 1);
	b8(&b, 0);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_TATTACH, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 1); b8(&b, 0); bstr(&b, "");
	b32(&b, 0);
	expect_unpack(&b, -EBADMSG);

	/* too many walk names, too many qids */
	bhdr(&b, P9_TWALK, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 17);
	for (int i = 0; i < 17; i++)
		bstr(&b, "x");
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_TWALK, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 16);
	for (int i = 0; i < 16; i++)
		bstr(&b, "x");
	expect_unpack(&b, 0);
	bhdr(&b, P9_RWALK, 0);
	b16(&b, 17);
	for (int i = 0; i < 17; i++)
		bqid(&b, QA);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_RWALK, 0);
	b16(&b, 0xffff);
	expect_unpack(&b, -EBADMSG);
	/* fewer names than nwname says */
	bhdr(&b, P9_TWALK, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 2); bstr(&b, "x");
	expect_unpack(&b, -EBADMSG);
	/* more names than nwname says: trailing garbage */
	bhdr(&b, P9_TWALK, 0);
	b32(&b, 1); b32(&b, 2); b16(&b, 1); bstr(&b, "x"); bstr(&b, "y");
	expect_unpack(&b, -EBADMSG);

	/* data counts past the end */
	bhdr(&b, P9_TWRITE, 0);
	b32(&b, 1); b64(&b, 0); b32(&b, 5); bbytes(&b, "abcd", 4);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_RREAD, 0);
	b32(&b, 0xffffffff); bbytes(&b, "abcd", 4);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_RREADDIR, 0);
	b32(&b, dirents_len + 1); bbytes(&b, dirents, dirents_len);
	expect_unpack(&b, -EBADMSG);
	/* data count short of the end: trailing garbage */
	bhdr(&b, P9_RREAD, 0);
	b32(&b, 3); bbytes(&b, "abcd", 4);
	expect_unpack(&b, -EBADMSG);

	/* Rreaddir whose entries do not fill count exactly */
	bhdr(&b, P9_RREADDIR, 0);
	b32(&b, dirents_len - 1); bbytes(&b, dirents, dirents_len - 1);
	expect_unpack(&b, -EBADMSG);
	bhdr(&b, P9_RREADDIR, 0);
	b32(&b, 10); bbytes(&b, dirents, 10);
	expect_unpack(&b, -EBADMSG);
	/* ... a NUL in an entry's name */
	bhdr(&b, P9_RREADDIR, 0);
	b32(&b, P9_DIRENT_FIXSZ + 1);
	bqid(&b, QA); b64(&b, 1); b8(&b, 0); b16(&b, 1); b8(&b, 0);
	expect_unpack(&b, -EBADMSG);
	/* empty Rreaddir (end of directory) is fine */
	bhdr(&b, P9_RREADDIR, 0);
	b32(&b, 0);
	expect_unpack(&b, 0);

	/* unknown types: 9P2000 and .u messages .L dropped, gaps, ends */
	static const uint8_t unknown[] = { 0, 1, 6, 10, 11, 28, 100 + 6,
		100 + 7, 112, 113, 114, 115, 124, 125, 126, 127, 200, 255 };
	for (size_t i = 0; i < sizeof(unknown); i++) {
		uint8_t type, t2;
		uint16_t tag;

		bhdr(&b, unknown[i], 0x4321);
		b32(&b, 1);
		expect_unpack(&b, -EPROTO);
		assert_int_equal(p9_peek(b.b, b.n, &type, &tag), 0);
		assert_int_equal(type, unknown[i]);
		assert_int_equal(tag, 0x4321);
		assert_int_equal(p9_peek(b.b, 6, &t2, &tag), -EBADMSG);
	}
	/* a size field that disagrees with the buffer, both ways */
	bhdr(&b, P9_TCLUNK, 0);
	b32(&b, 1);
	bfix(&b);
	assert_int_equal(p9_unpack(b.b, b.n - 1, &d), -EBADMSG);
	assert_int_equal(p9_unpack(b.b, b.n + 1, &d), -EBADMSG);
	b.b[3] = 0x80;
	assert_int_equal(p9_unpack(b.b, b.n, &d), -EBADMSG);
}

/* --- encoding errors --- */

static void pack_invalid(void **state)
{
	uint8_t buf[256];
	struct p9_msg m;
	char *big;

	(void)state;
	m = (struct p9_msg){ .type = 106 };          /* Terror */
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m = (struct p9_msg){ .type = 0 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	assert_int_equal(p9_packed_size(&m), -EINVAL);

	m = (struct p9_msg){ .type = P9_TWALK, .twalk.nwname = 17 };
	for (int i = 0; i < P9_MAXWELEM; i++)
		m.twalk.wname[i] = P9_STR("x");
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m.twalk.nwname = 16;
	assert_true(p9_pack(buf, sizeof(buf), &m) > 0);
	m = (struct p9_msg){ .type = P9_RWALK, .rwalk.nwqid = 17 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);

	/* NUL in a name; a name without a pointer; too long a string */
	m = (struct p9_msg){ .type = P9_TMKDIR,
		.tmkdir.name = { "a\0b", 3 } };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m.tmkdir.name = (struct p9_str){ NULL, 1 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m.tmkdir.name = (struct p9_str){ NULL, 0 };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), 7 + 4 + 2 + 8);
	big = malloc(65536);
	assert_non_null(big);
	memset(big, 'x', 65536);
	m.tmkdir.name = (struct p9_str){ big, 65536 };
	assert_int_equal(p9_pack(NULL, 0, &m), -EINVAL);
	m.tmkdir.name.len = 65535;
	assert_int_equal(p9_packed_size(&m), 7 + 4 + 2 + 65535 + 8);
	free(big);

	/* data: a count but no pointer; an ill-formed Rreaddir */
	m = (struct p9_msg){ .type = P9_RREAD, .rread = { 4, NULL } };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m = (struct p9_msg){ .type = P9_RREADDIR,
		.rreaddir = { 5, "abcde" } };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -EINVAL);
	m = (struct p9_msg){ .type = P9_RREADDIR,
		.rreaddir = { dirents_len, dirents } };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m),
			 P9_RREADDIR_HDRSZ + dirents_len);

	/* a message over 4 GiB cannot be framed */
	m = (struct p9_msg){ .type = P9_TWRITE,
		.twrite = { .count = UINT32_MAX, .data = buf } };
	assert_int_equal(p9_packed_size(&m), -EINVAL);
	m.twrite.count = UINT32_MAX - P9_TWRITE_HDRSZ;
	assert_int_equal(p9_packed_size(&m), UINT32_MAX);
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), -ENOSPC);
}

/* Replies built in place: data already where pack will put it. */
static void pack_in_place(void **state)
{
	uint8_t buf[128];
	struct p9_msg m, d;

	(void)state;
	memcpy(buf + P9_RREAD_HDRSZ, "file data", 9);
	m = (struct p9_msg){ .type = P9_RREAD, .tag = 3,
		.rread = { 9, buf + P9_RREAD_HDRSZ } };
	assert_int_equal(p9_pack(buf, sizeof(buf), &m), P9_RREAD_HDRSZ + 9);
	assert_int_equal(p9_unpack(buf, P9_RREAD_HDRSZ + 9, &d), 0);
	assert_int_equal(d.rread.count, 9);
	assert_memory_equal(d.rread.data, "file data", 9);

	/* a decoded message re-packed into its own buffer */
	assert_int_equal(p9_pack(buf, sizeof(buf), &d), P9_RREAD_HDRSZ + 9);
	assert_memory_equal(buf + P9_RREAD_HDRSZ, "file data", 9);
}

/*
 * test_p9codec_corpus.c - `test_p9codec --write-corpus DIR`: the
 * samples, a few streams and malformed messages written as the fuzzer's
 * seeds (fuzz/corpus/p9_unpack/).
 * Included by test_p9codec.c (it uses that file's byte builder and
 * samples); not a program of its own.
 */

/* --- seeds for the fuzzer: test_p9codec --write-corpus DIR --- */

static void write_file(const char *dir, const char *name, const void *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static int write_corpus(const char *dir)
{
	struct p9_msg m;
	struct bb b, s = { .n = 0 };
	static const uint8_t session[] = { P9_TVERSION, P9_RVERSION,
		P9_TATTACH, P9_RATTACH, P9_TWALK, P9_RWALK, P9_TLOPEN,
		P9_RLOPEN, P9_TREADDIR, P9_RREADDIR, P9_TCLUNK, P9_RLERROR };
	uint8_t buf[1024];
	ssize_t n;

	make_dirents();
	for (int t = 0; t < 256; t++) {
		char name[64];

		if (!sample((uint8_t)t, &m, &b))
			continue;
		snprintf(name, sizeof(name), "seed-%s", p9_type_name((uint8_t)t));
		write_file(dir, name, b.b, b.n);
	}
	/* a stream of several messages */
	for (size_t i = 0; i < sizeof(session); i++) {
		assert_true(sample(session[i], &m, &b));
		memcpy(s.b + s.n, b.b, b.n);
		s.n += b.n;
	}
	write_file(dir, "seed-stream", s.b, s.n);
	/* a walk of the most names */
	m = (struct p9_msg){ .type = P9_TWALK,
		.twalk = { .fid = 1, .newfid = 2, .nwname = 16 } };
	for (int i = 0; i < 16; i++)
		m.twalk.wname[i] = P9_STR("d");
	n = p9_pack(buf, sizeof(buf), &m);
	write_file(dir, "seed-Twalk16", buf, (size_t)n);
	/* a bare directory-entry payload */
	write_file(dir, "seed-dirents", dirents, dirents_len);
	/* malformed: 17 names, a string past the end, a 9P2000 Topen */
	bhdr(&b, P9_TWALK, 1);
	b32(&b, 1); b32(&b, 2); b16(&b, 17);
	for (int i = 0; i < 17; i++)
		bstr(&b, "x");
	bfix(&b);
	write_file(dir, "bad-Twalk17", b.b, b.n);
	bhdr(&b, P9_TVERSION, 0);
	b32(&b, 8192); b16(&b, 100); bbytes(&b, "9P2000.L", 8);
	bfix(&b);
	write_file(dir, "bad-Tversion-overrun", b.b, b.n);
	bhdr(&b, 112, 1);
	b32(&b, 1); b8(&b, 0);
	bfix(&b);
	write_file(dir, "bad-Topen", b.b, b.n);
	return 0;
}

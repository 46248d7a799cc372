/*
 * fuzz_p9_unpack.c - libFuzzer target for the 9P2000.L codec (lib/9p).
 *
 * Each input is read three ways:
 *   1. as one message: p9_unpack() of all of it;
 *   2. as a stream: framed with p9_frame_size() (msize 64 KiB) and each
 *      complete frame unpacked, copied first into a buffer of exactly the
 *      frame's length so that ASan sees any read past the frame;
 *   3. as an Rreaddir payload: walked with the directory-entry iterator.
 * Whenever p9_unpack() accepts a message the checks below must hold: the
 * encoding is canonical (re-packing gives back the same bytes, into a
 * buffer of exactly that size, and not into one byte less), a second
 * unpack and pack agree, decoded strings and data lie inside the buffer and
 * strings hold no NUL, and an Rreaddir's entries iterate to the end and
 * re-pack with p9_dirent_put() to the same payload.  A failed check aborts.
 *
 * Built two ways: by fuzz/run with clang -fsanitize=fuzzer (libFuzzer
 * supplies main), and into tests/test_p9corpus, which calls
 * LLVMFuzzerTestOneInput() on every file of fuzz/corpus/p9_unpack/ in the
 * normal ASan+UBSan test build.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p9.h"
#include "fuzz.h"

#define MSIZE (64 * 1024)

static bool inside(const uint8_t *buf, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;

	if (n == 0)
		return true;    /* an empty string may point anywhere */
	return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

static void check_str(const uint8_t *buf, size_t len, struct p9_str s)
{
	CHECK(s.len <= UINT16_MAX);
	CHECK(inside(buf, len, s.s, s.len));
	CHECK(s.len == 0 || !memchr(s.s, '\0', s.len));
}

/* The pointers of the messages that carry strings or data. */
static void check_fields(const uint8_t *buf, size_t len,
			 const struct p9_msg *m)
{
	switch (m->type) {
	case P9_TWALK:
		CHECK(m->twalk.nwname <= P9_MAXWELEM);
		for (int i = 0; i < m->twalk.nwname; i++)
			check_str(buf, len, m->twalk.wname[i]);
		break;
	case P9_RWALK:
		CHECK(m->rwalk.nwqid <= P9_MAXWELEM);
		break;
	case P9_TVERSION:
	case P9_RVERSION:
		check_str(buf, len, m->tversion.version);
		break;
	case P9_TATTACH:
		check_str(buf, len, m->tattach.uname);
		check_str(buf, len, m->tattach.aname);
		break;
	case P9_TSYMLINK:
		check_str(buf, len, m->tsymlink.name);
		check_str(buf, len, m->tsymlink.symtgt);
		break;
	case P9_TRENAMEAT:
		check_str(buf, len, m->trenameat.oldname);
		check_str(buf, len, m->trenameat.newname);
		break;
	case P9_RREAD:
		CHECK(inside(buf, len, m->rread.data, m->rread.count));
		break;
	case P9_TWRITE:
		CHECK(inside(buf, len, m->twrite.data, m->twrite.count));
		break;
	case P9_RREADDIR:
		CHECK(inside(buf, len, m->rreaddir.data, m->rreaddir.count));
		break;
	}
}

/* An accepted Rreaddir: its entries iterate and re-pack exactly. */
static void check_rreaddir(const struct p9_rreaddir *r)
{
	struct p9_dirent_iter it;
	struct p9_dirent_buf db;
	struct p9_dirent d;
	uint8_t *copy = malloc(r->count ? r->count : 1);
	int ret;

	CHECK(copy);
	p9_dirent_buf_init(&db, copy, r->count);
	p9_dirent_iter_init(&it, r->data, r->count);
	while ((ret = p9_dirent_next(&it, &d)) == 1) {
		check_str(r->data, r->count, d.name);
		CHECK(p9_dirent_put(&db, &d) == 0);
	}
	CHECK(ret == 0);
	CHECK(db.len == r->count);
	CHECK(r->count == 0 || memcmp(copy, r->data, r->count) == 0);
	free(copy);
}

/* buf is exactly len bytes of heap: ASan sees any overread. */
static void check_msg(const uint8_t *buf, size_t len)
{
	struct p9_msg m, m2;
	uint8_t *out, *out2;
	int r = p9_unpack(buf, len, &m);

	CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
	if (r == -EPROTO) {
		uint8_t type;
		uint16_t tag;

		CHECK(p9_peek(buf, len, &type, &tag) == 0);
		CHECK(!p9_type_known(type));
	}
	if (r)
		return;
	CHECK(p9_type_known(m.type));
	check_fields(buf, len, &m);
	if (m.type == P9_RREADDIR)
		check_rreaddir(&m.rreaddir);

	CHECK(p9_packed_size(&m) == (ssize_t)len);
	out = malloc(len);
	out2 = malloc(len);
	CHECK(out && out2);
	CHECK(p9_pack(out, len - 1, &m) == -ENOSPC);
	CHECK(p9_pack(out, len, &m) == (ssize_t)len);
	CHECK(memcmp(out, buf, len) == 0);
	CHECK(p9_unpack(out, len, &m2) == 0);
	CHECK(m2.type == m.type && m2.tag == m.tag);
	check_fields(out, len, &m2);
	CHECK(p9_pack(out2, len, &m2) == (ssize_t)len);
	CHECK(memcmp(out2, out, len) == 0);
	free(out2);
	free(out);
}

static void check_dirents(const uint8_t *data, size_t size)
{
	struct p9_dirent_iter it;
	struct p9_dirent d;
	uint32_t count = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	size_t seen = 0;
	int r;

	p9_dirent_iter_init(&it, data, count);
	while ((r = p9_dirent_next(&it, &d)) == 1) {
		check_str(data, count, d.name);
		seen += p9_dirent_size(&d);
		CHECK(seen <= count);
	}
	CHECK(r == 0 || r == -EBADMSG);
	CHECK(r != 0 || seen == count);
	if (r)
		CHECK(p9_dirent_next(&it, &d) == r);    /* sticky */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	/* 1. the whole input as one message (libFuzzer's buffer is
	 * exactly size bytes; copy anyway for the corpus replay) */
	if (size) {
		uint8_t *one = malloc(size);

		CHECK(one);
		memcpy(one, data, size);
		check_msg(one, size);
		free(one);
	} else {
		struct p9_msg m;

		CHECK(p9_unpack(data, 0, &m) == -EBADMSG);
	}

	/* 2. the input as a stream of frames */
	while (off < size) {
		uint32_t fs = 0;
		uint8_t *frame;
		int r = p9_frame_size(data + off, size - off, MSIZE, &fs);

		CHECK(r == 0 || r == -EAGAIN || r == -EBADMSG ||
		      r == -EMSGSIZE);
		CHECK(r != -EAGAIN || size - off < 4);
		if (r)
			break;
		CHECK(fs >= P9_HDRSZ && fs <= MSIZE);
		if (fs > size - off)
			break;          /* incomplete: wait for more */
		frame = malloc(fs);
		CHECK(frame);
		memcpy(frame, data + off, fs);
		check_msg(frame, fs);
		free(frame);
		off += fs;
	}

	/* 3. the input as directory entries */
	check_dirents(data, size);
	return 0;
}

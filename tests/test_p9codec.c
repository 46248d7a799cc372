/*
 * test_p9codec.c - unit tests of the 9P2000.L codec (lib/9p).
 *
 * Every message type the codec knows has a known-answer vector here, built
 * field by field from the protocol description (diod's protocol.md, Linux
 * net/9p) with a byte builder that shares nothing with the codec: packing
 * the sample message must give exactly those bytes, unpacking them must
 * succeed and re-pack to the same bytes, and every truncation of them must
 * be refused.  Then the malformed inputs one by one, encoding errors,
 * stream framing and the Rreaddir helpers.
 *
 * `test_p9codec --write-corpus DIR` writes the samples (and a few streams
 * and malformed messages) as the fuzzer's seeds: fuzz/corpus/p9_unpack/.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p9.h"

/* --- an independent encoder for expected bytes --- */

struct bb {
	uint8_t b[1024];
	size_t n;
};

static void bput(struct bb *b, uint64_t v, int k)
{
	assert_true(b->n + (size_t)k <= sizeof(b->b));
	for (int i = 0; i < k; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}
static void b8(struct bb *b, uint8_t v) { bput(b, v, 1); }
static void b16(struct bb *b, uint16_t v) { bput(b, v, 2); }
static void b32(struct bb *b, uint32_t v) { bput(b, v, 4); }
static void b64(struct bb *b, uint64_t v) { bput(b, v, 8); }
static void bbytes(struct bb *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}
static void bstr(struct bb *b, const char *s)
{
	b16(b, (uint16_t)strlen(s));
	bbytes(b, s, strlen(s));
}
static void bqid(struct bb *b, struct p9_qid q)
{
	b8(b, q.type);
	b32(b, q.version);
	b64(b, q.path);
}
static void bhdr(struct bb *b, uint8_t type, uint16_t tag)
{
	b->n = 0;
	b32(b, 0);      /* patched by bfix */
	b8(b, type);
	b16(b, tag);
}
static void bfix(struct bb *b)
{
	for (int i = 0; i < 4; i++)
		b->b[i] = (uint8_t)(b->n >> (8 * i));
}

#define S(lit) P9_STR(lit)
static const struct p9_qid QA = { P9_QTDIR, 0x11223344, 0x0102030405060708ULL };
static const struct p9_qid QB = { P9_QTFILE, 7, 0xfedcba9876543210ULL };
static const struct p9_qid QC = { P9_QTSYMLINK, 0, 42 };

/* Two directory entries, as a server would send them. */
static uint8_t dirents[64];
static uint32_t dirents_len;

static void make_dirents(void)
{
	struct bb b = { .n = 0 };

	bqid(&b, QA);
	b64(&b, 1);
	b8(&b, 4);              /* DT_DIR */
	bstr(&b, ".");
	bqid(&b, QB);
	b64(&b, 2);
	b8(&b, 8);              /* DT_REG */
	bstr(&b, "ab");
	assert_true(b.n <= sizeof(dirents));
	memcpy(dirents, b.b, b.n);
	dirents_len = (uint32_t)b.n;
}

/*
 * The sample message of a type and its expected bytes.  False if the test
 * has no sample for the type (a test then fails: every type has one).
 */
static bool sample(uint8_t type, struct p9_msg *m, struct bb *b)
{
	const uint16_t tag = (uint16_t)(0x100 + type);

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->tag = tag;
	bhdr(b, type, tag);
	switch (type) {
	case P9_RLERROR:
		m->rlerror.ecode = ENOENT;
		b32(b, 2);
		break;
	case P9_TSTATFS:
		m->tstatfs.fid = 0xa1a2a3a4;
		b32(b, 0xa1a2a3a4);
		break;
	case P9_RSTATFS:
		m->rstatfs = (struct p9_rstatfs){ .type = 0x01021994,
			.bsize = 4096, .blocks = 1000, .bfree = 900,
			.bavail = 800, .files = 70, .ffree = 60,
			.fsid = 0x1122334455667788ULL, .namelen = 255 };
		b32(b, 0x01021994); b32(b, 4096); b64(b, 1000); b64(b, 900);
		b64(b, 800); b64(b, 70); b64(b, 60);
		b64(b, 0x1122334455667788ULL); b32(b, 255);
		break;
	case P9_TLOPEN:
		m->tlopen = (struct p9_tlopen){ .fid = 5, .flags = 02304000 };
		b32(b, 5); b32(b, 02304000);
		break;
	case P9_RLOPEN:
		m->rlopen = (struct p9_rlopen){ .qid = QA, .iounit = 8168 };
		bqid(b, QA); b32(b, 8168);
		break;
	case P9_TLCREATE:
		m->tlcreate = (struct p9_tlcreate){ .fid = 2,
			.name = S("foo"), .flags = 0x8241, .mode = 0100644,
			.gid = 500 };
		b32(b, 2); bstr(b, "foo"); b32(b, 0x8241); b32(b, 0100644);
		b32(b, 500);
		break;
	case P9_RLCREATE:
		m->rlcreate = (struct p9_rlcreate){ .qid = QB, .iounit = 4096 };
		bqid(b, QB); b32(b, 4096);
		break;
	case P9_TSYMLINK:
		m->tsymlink = (struct p9_tsymlink){ .fid = 1,
			.name = S("newsymlink"), .symtgt = S("/tmp/9/newdir"),
			.gid = 500 };
		b32(b, 1); bstr(b, "newsymlink"); bstr(b, "/tmp/9/newdir");
		b32(b, 500);
		break;
	case P9_RSYMLINK:
		m->rsymlink.qid = QC;
		bqid(b, QC);
		break;
	case P9_TMKNOD:
		m->tmknod = (struct p9_tmknod){ .dfid = 3, .name = S("null"),
			.mode = 020666, .major = 1, .minor = 3, .gid = 0 };
		b32(b, 3); bstr(b, "null"); b32(b, 020666); b32(b, 1);
		b32(b, 3); b32(b, 0);
		break;
	case P9_RMKNOD:
		m->rmknod.qid = QB;
		bqid(b, QB);
		break;
	case P9_TRENAME:
		m->trename = (struct p9_trename){ .fid = 9, .dfid = 10,
			.name = S("to") };
		b32(b, 9); b32(b, 10); bstr(b, "to");
		break;
	case P9_TREADLINK:
		m->treadlink.fid = 4;
		b32(b, 4);
		break;
	case P9_RREADLINK:
		m->rreadlink.target = S("../target");
		bstr(b, "../target");
		break;
	case P9_TGETATTR:
		m->tgetattr = (struct p9_tgetattr){ .fid = 1,
			.request_mask = P9_GETATTR_ALL };
		b32(b, 1); b64(b, 0x3fff);
		break;
	case P9_RGETATTR: {
		struct p9_rgetattr *r = &m->rgetattr;
		r->valid = P9_GETATTR_BASIC;
		r->qid = QA;
		r->mode = 040755;
		r->uid = 500;
		r->gid = 501;
		r->nlink = 56;
		r->rdev = 0x0803;
		r->size = 0x123456789aULL;
		r->blksize = 4096;
		r->blocks = 2664;
		r->atime_sec = 1296871038; r->atime_nsec = 1;
		r->mtime_sec = 1296870307; r->mtime_nsec = 2;
		r->ctime_sec = 1297047824; r->ctime_nsec = 3;
		r->btime_sec = 4; r->btime_nsec = 5;
		r->gen = 6;
		r->data_version = 7;
		b64(b, 0x7ff); bqid(b, QA); b32(b, 040755); b32(b, 500);
		b32(b, 501); b64(b, 56); b64(b, 0x0803);
		b64(b, 0x123456789aULL); b64(b, 4096); b64(b, 2664);
		b64(b, 1296871038); b64(b, 1); b64(b, 1296870307); b64(b, 2);
		b64(b, 1297047824); b64(b, 3); b64(b, 4); b64(b, 5);
		b64(b, 6); b64(b, 7);
		break;
	}
	case P9_TSETATTR:
		m->tsetattr = (struct p9_tsetattr){ .fid = 2, .valid = 0x41,
			.mode = 040000, .uid = 11, .gid = 12, .size = 13,
			.atime_sec = 14, .atime_nsec = 15, .mtime_sec = 16,
			.mtime_nsec = 17 };
		b32(b, 2); b32(b, 0x41); b32(b, 040000); b32(b, 11);
		b32(b, 12); b64(b, 13); b64(b, 14); b64(b, 15); b64(b, 16);
		b64(b, 17);
		break;
	case P9_TXATTRWALK:
		m->txattrwalk = (struct p9_txattrwalk){ .fid = 1, .newfid = 2,
			.name = S("user.x") };
		b32(b, 1); b32(b, 2); bstr(b, "user.x");
		break;
	case P9_RXATTRWALK:
		m->rxattrwalk.size = 0x100000001ULL;
		b64(b, 0x100000001ULL);
		break;
	case P9_TXATTRCREATE:
		m->txattrcreate = (struct p9_txattrcreate){ .fid = 3,
			.name = S("user.y"), .attr_size = 10, .flags = 1 };
		b32(b, 3); bstr(b, "user.y"); b64(b, 10); b32(b, 1);
		break;
	case P9_TREADDIR:
		m->treaddir = (struct p9_treaddir){ .fid = 2,
			.offset = 2147483647, .count = 65488 };
		b32(b, 2); b64(b, 2147483647); b32(b, 65488);
		break;
	case P9_RREADDIR:
		m->rreaddir = (struct p9_rreaddir){ .count = dirents_len,
			.data = dirents };
		b32(b, dirents_len); bbytes(b, dirents, dirents_len);
		break;
	case P9_TFSYNC:
		m->tfsync = (struct p9_tfsync){ .fid = 6, .datasync = 1 };
		b32(b, 6); b32(b, 1);
		break;
	case P9_TLOCK:
		m->tlock = (struct p9_tlock){ .fid = 7,
			.type = P9_LOCK_TYPE_WRLCK,
			.flags = P9_LOCK_FLAGS_BLOCK, .start = 100,
			.length = 200, .proc_id = 4242, .client_id = S("host") };
		b32(b, 7); b8(b, 1); b32(b, 1); b64(b, 100); b64(b, 200);
		b32(b, 4242); bstr(b, "host");
		break;
	case P9_RLOCK:
		m->rlock.status = P9_LOCK_BLOCKED;
		b8(b, 1);
		break;
	case P9_TGETLOCK:
		m->tgetlock = (struct p9_tgetlock){ .fid = 8,
			.type = P9_LOCK_TYPE_RDLCK, .start = 1, .length = 0,
			.proc_id = 99, .client_id = S("client") };
		b32(b, 8); b8(b, 0); b64(b, 1); b64(b, 0); b32(b, 99);
		bstr(b, "client");
		break;
	case P9_RGETLOCK:
		m->rgetlock = (struct p9_rgetlock){
			.type = P9_LOCK_TYPE_UNLCK, .start = 5, .length = 6,
			.proc_id = 7, .client_id = S("") };
		b8(b, 2); b64(b, 5); b64(b, 6); b32(b, 7); bstr(b, "");
		break;
	case P9_TLINK:
		m->tlink = (struct p9_tlink){ .dfid = 1, .fid = 2,
			.name = S("hard") };
		b32(b, 1); b32(b, 2); bstr(b, "hard");
		break;
	case P9_TMKDIR:
		m->tmkdir = (struct p9_tmkdir){ .dfid = 1,
			.name = S("newdir"), .mode = 040755, .gid = 500 };
		b32(b, 1); bstr(b, "newdir"); b32(b, 040755); b32(b, 500);
		break;
	case P9_RMKDIR:
		m->rmkdir.qid = QA;
		bqid(b, QA);
		break;
	case P9_TRENAMEAT:
		m->trenameat = (struct p9_trenameat){ .olddirfid = 1,
			.oldname = S("old"), .newdirfid = 2,
			.newname = S("new") };
		b32(b, 1); bstr(b, "old"); b32(b, 2); bstr(b, "new");
		break;
	case P9_TUNLINKAT:
		m->tunlinkat = (struct p9_tunlinkat){ .dirfid = 3,
			.name = S("gone"), .flags = 0x200 };
		b32(b, 3); bstr(b, "gone"); b32(b, 0x200);
		break;
	case P9_TVERSION:
		m->tversion = (struct p9_tversion){ .msize = 65512,
			.version = S("9P2000.L") };
		b32(b, 65512); bstr(b, "9P2000.L");
		break;
	case P9_RVERSION:
		m->rversion = (struct p9_rversion){ .msize = 8192,
			.version = S("unknown") };
		b32(b, 8192); bstr(b, "unknown");
		break;
	case P9_TAUTH:
		m->tauth = (struct p9_tauth){ .afid = 9, .uname = S("root"),
			.aname = S("/srv"), .n_uname = P9_NONUNAME };
		b32(b, 9); bstr(b, "root"); bstr(b, "/srv");
		b32(b, 0xffffffff);
		break;
	case P9_RAUTH:
		m->rauth.aqid = (struct p9_qid){ P9_QTAUTH, 0, 1 };
		bqid(b, (struct p9_qid){ P9_QTAUTH, 0, 1 });
		break;
	case P9_TATTACH:
		m->tattach = (struct p9_tattach){ .fid = 0, .afid = P9_NOFID,
			.uname = S("root"), .aname = S("/tmp/9"),
			.n_uname = 500 };
		b32(b, 0); b32(b, 0xffffffff); bstr(b, "root");
		bstr(b, "/tmp/9"); b32(b, 500);
		break;
	case P9_RATTACH:
		m->rattach.qid = QA;
		bqid(b, QA);
		break;
	case P9_TFLUSH:
		m->tflush.oldtag = 0xbeef;
		b16(b, 0xbeef);
		break;
	case P9_TWALK:
		m->twalk.fid = 1;
		m->twalk.newfid = 2;
		m->twalk.nwname = 3;
		m->twalk.wname[0] = S("usr");
		m->twalk.wname[1] = S("");
		m->twalk.wname[2] = S("..");
		b32(b, 1); b32(b, 2); b16(b, 3); bstr(b, "usr"); bstr(b, "");
		bstr(b, "..");
		break;
	case P9_RWALK:
		m->rwalk.nwqid = 2;
		m->rwalk.wqid[0] = QA;
		m->rwalk.wqid[1] = QB;
		b16(b, 2); bqid(b, QA); bqid(b, QB);
		break;
	case P9_TREAD:
		m->tread = (struct p9_tread){ .fid = 5, .offset = 6,
			.count = 32768 };
		b32(b, 5); b64(b, 6); b32(b, 32768);
		break;
	case P9_RREAD:
		m->rread = (struct p9_rread){ .count = 6, .data = "hello\n" };
		b32(b, 6); bbytes(b, "hello\n", 6);
		break;
	case P9_TWRITE:
		m->twrite = (struct p9_twrite){ .fid = 2, .offset = 1ULL << 40,
			.count = 3, .data = "a\0b" };
		b32(b, 2); b64(b, 1ULL << 40); b32(b, 3); bbytes(b, "a\0b", 3);
		break;
	case P9_RWRITE:
		m->rwrite.count = 6;
		b32(b, 6);
		break;
	case P9_TCLUNK:
		m->tclunk.fid = 2;
		b32(b, 2);
		break;
	case P9_TREMOVE:
		m->tremove.fid = 3;
		b32(b, 3);
		break;
	case P9_RRENAME:
	case P9_RSETATTR:
	case P9_RXATTRCREATE:
	case P9_RFSYNC:
	case P9_RLINK:
	case P9_RRENAMEAT:
	case P9_RUNLINKAT:
	case P9_RFLUSH:
	case P9_RCLUNK:
	case P9_RREMOVE:
		break;
	default:
		return false;
	}
	bfix(b);
	return true;
}

static int setup(void **state)
{
	(void)state;
	make_dirents();
	return 0;
}

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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kat_tversion),
		cmocka_unit_test(kat_small),
		cmocka_unit_test(fixed_sizes),
		cmocka_unit_test(every_type),
		cmocka_unit_test(decoded_fields),
		cmocka_unit_test(malformed),
		cmocka_unit_test(pack_invalid),
		cmocka_unit_test(pack_in_place),
		cmocka_unit_test(framing),
		cmocka_unit_test(dirent_roundtrip),
		cmocka_unit_test(dirent_malformed),
		cmocka_unit_test(names),
	};
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	return cmocka_run_group_tests(tests, setup, NULL);
}

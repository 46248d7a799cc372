/*
 * test_p9codec_samples.c - the sample message of every type the codec
 * knows and its expected bytes, built field by field with the byte
 * builder (the three qids, two directory entries as a server sends them,
 * sample() and the group setup that makes the entries).
 * Included by test_p9codec.c (it uses that file's byte builder); not a
 * program of its own.
 */

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

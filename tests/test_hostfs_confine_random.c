/*
 * test_hostfs_confine_random.c - random operations on random fids with
 * names that hold every trap: the server must not crash, and nothing
 * outside the export may change.
 * Included by test_hostfs_confine.c (it uses that file's export, fixture
 * and host helpers); not a program of its own.
 */

/* Entries of a host directory, "." and ".." left out. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/*
 * Random operations on random fids with names from a small set that
 * holds every trap ("..", ".", "a/b", symlinks in and out, a device): any
 * answer is fine, but the server must not crash, and teardown checks that
 * nothing outside the export changed.
 */
static void random_operations(void **state)
{
	struct env *e = *state;
	struct tc *c = &e->c;
	char abs_out[256];
	const char *names[] = { "a", "b", "sub", "plain", "..", ".", "a/b",
				"", "c", "inner", "l1", "l2", "dev", "secret",
				"outside" };
	const char *targets[8] = { "/", "..", "../outside", "../../..",
				   "a", "/proc/self/root", "sub/inner", NULL };
	enum { NN = sizeof(names) / sizeof(names[0]) };
	struct p9_msg t, r;
	uint8_t data[512];
	unsigned ok[256] = { 0 }, all[256] = { 0 };
	int rounds = getenv("UVFS_RANDOM_OPS") ? atoi(getenv("UVFS_RANDOM_OPS"))
					       : 20000;

	hpath(abs_out, out_, "secret");
	targets[7] = abs_out;
	memset(data, 'r', sizeof(data));
	srand(1234);
#define RN(n) ((uint32_t)rand() % (n))
#define FID() (1 + RN(12))
#define NAME() p9_str(names[RN(3) ? RN(4) : RN(NN)])
	for (int i = 0; i < rounds; i++) {
		t = (struct p9_msg){ .tag = 1 };
		switch (RN(22)) {
		case 0: case 1: case 2:
			t.type = P9_TWALK;
			t.twalk.fid = RN(2) ? 1 : FID();
			t.twalk.newfid = FID() + 1;
			if (RN(4)) {            /* make room for it */
				struct p9_msg cl = { .type = P9_TCLUNK,
						     .tag = 2 };
				cl.tclunk.fid = t.twalk.newfid;
				tc_rpc(c, &cl, &r);
			}
			t.twalk.nwname = (uint16_t)RN(4);
			for (int k = 0; k < t.twalk.nwname; k++)
				t.twalk.wname[k] = NAME();
			break;
		case 3:
			t.type = P9_TLOPEN;
			t.tlopen.fid = FID() + 1;     /* keep fid 1 the root */
			t.tlopen.flags = RN(3) | (RN(2) ? O_TRUNC : 0) |
					 (RN(2) ? O_DIRECTORY : 0) |
					 (RN(2) ? O_APPEND : 0);
			break;
		case 4:
			t.type = P9_TLCREATE;
			t.tlcreate.fid = FID() + 1;     /* keep fid 1 the root */
			t.tlcreate.name = NAME();
			t.tlcreate.flags = RN(3) | (RN(2) ? O_EXCL : 0) |
					   (RN(2) ? O_TRUNC : 0);
			t.tlcreate.mode = RN(01000);
			break;
		case 5:
			t.type = P9_TREAD;
			t.tread.fid = FID();
			t.tread.offset = RN(4096);
			t.tread.count = RN(8192);
			break;
		case 6:
			t.type = P9_TWRITE;
			t.twrite.fid = FID();
			t.twrite.offset = RN(65536);
			t.twrite.count = RN(sizeof(data));
			t.twrite.data = data;
			break;
		case 7:
			t.type = P9_TREADDIR;
			t.treaddir.fid = FID();
			t.treaddir.offset = RN(3) ? 0 : RN(1u << 31);
			t.treaddir.count = RN(4096);
			break;
		case 8:
			t.type = P9_TMKDIR;
			t.tmkdir.dfid = FID();
			t.tmkdir.name = NAME();
			t.tmkdir.mode = RN(01000);
			break;
		case 9:
			t.type = P9_TSYMLINK;
			t.tsymlink.fid = FID();
			t.tsymlink.name = NAME();
			t.tsymlink.symtgt = p9_str(targets[RN(8)]);
			break;
		case 10:
			t.type = P9_TMKNOD;
			t.tmknod.dfid = FID();
			t.tmknod.name = NAME();
			t.tmknod.mode = (RN(2) ? S_IFREG : S_IFCHR) | 0666;
			t.tmknod.major = 1;
			t.tmknod.minor = 3;
			break;
		case 11:
			t.type = P9_TLINK;
			t.tlink.dfid = FID();
			t.tlink.fid = FID();
			t.tlink.name = NAME();
			break;
		case 12:
			t.type = P9_TRENAMEAT;
			t.trenameat.olddirfid = FID();
			t.trenameat.oldname = NAME();
			t.trenameat.newdirfid = FID();
			t.trenameat.newname = NAME();
			break;
		case 13:
			t.type = P9_TRENAME;
			t.trename.fid = FID();
			t.trename.dfid = FID();
			t.trename.name = NAME();
			break;
		case 14:
			t.type = P9_TUNLINKAT;
			t.tunlinkat.dirfid = FID();
			t.tunlinkat.name = NAME();
			t.tunlinkat.flags = RN(2) ? AT_REMOVEDIR : 0;
			break;
		case 15:
			t.type = P9_TREMOVE;
			t.tremove.fid = FID() + 1;      /* never the root fid 1 */
			break;
		case 16:
			t.type = P9_TREADLINK;
			t.treadlink.fid = FID();
			break;
		case 17:
			t.type = P9_TGETATTR;
			t.tgetattr.fid = FID();
			t.tgetattr.request_mask = P9_GETATTR_ALL;
			break;
		case 18:
			t.type = P9_TSETATTR;
			t.tsetattr.fid = FID() + 1;
			t.tsetattr.valid = RN(0x200) & ~(P9_SETATTR_UID |
							 P9_SETATTR_GID);
			t.tsetattr.mode = 0600 | RN(0200);
			t.tsetattr.size = RN(100000);
			break;
		case 19:
			t.type = P9_TSTATFS;
			t.tstatfs.fid = FID();
			break;
		case 20:
			t.type = P9_TFSYNC;
			t.tfsync.fid = FID();
			break;
		default:
			t.type = P9_TCLUNK;
			t.tclunk.fid = FID() + 1;
			break;
		}
		tc_rpc(c, &t, &r);
		assert_true(r.type == P9_RLERROR || r.type == t.type + 1);
		ok[t.type] += r.type != P9_RLERROR;
		all[t.type]++;
	}
	if (getenv("UVFS_RANDOM_OPS_STATS"))
		for (int k = 0; k < 256; k++)
			if (all[k])
				print_message("%-12s %5u/%5u\n", p9_type_name((uint8_t)k),
					      ok[k], all[k]);
#undef RN
#undef FID
#undef NAME
	/* the server is alive and the root fid still works */
	assert_int_equal(tc_getattr(c, 1, NULL), 0);
	/* nothing appeared beside the export or in the outside */
	assert_int_equal(count_entries(base), 2);
	assert_int_equal(count_entries(out_), 1);
}

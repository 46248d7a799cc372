/*
 * fuzz_p9_client.c - libFuzzer target for the 9P client driver against a
 * hostile or broken server: the whole library (core, the "9p" type, its
 * session) mounts a server whose every answer the input decides, and a
 * fixed script of calls runs through it.
 *
 * Each input is one uvfs instance and one connection (a socketpair, the
 * driver's "fd:" source, timeout=TIMEOUT_MS).  The server thread answers
 * Tversion correctly (msize MSIZE, 9P2000.L) and every other request by
 * the input's next record, its first byte k:
 *   k < 0x78: the answer a sane server would give (a small tree: names
 *     starting with 'd' are directories, the rest regular files of
 *     FILE_SIZE bytes; fids are followed through attach, walk and
 *     lcreate so that each answer fits its fid);
 *   0x78..0x7f: no answer at all (the call's deadline, then its Tflush,
 *     which takes the next record);
 *   k >= 0x80, by k & 3:
 *     0: the request's R-type and tag, then L bytes of the input (L the
 *        next byte) as its body;
 *     1: Rlerror with the next four bytes as the errno (0, huge, any);
 *     2: raw bytes: a 16-bit length, then that many bytes as they are
 *        (sizes, types and tags the input's own);
 *     3: another type (next byte) and the tag xor the next byte, then a
 *        body as in 0.
 * When the input runs out, the server hangs up (the driver must notice
 * and fail what is left with an error).
 *
 * The input's first byte sets mount options: bit 0 `serial`, bit 1
 * `cache=loose`, bit 2 `actimeo=0`, bit 3 `wbwindow=0`.
 *
 * The script (a mount, then stat, readdir, create, write, read, fstat,
 * fsync, close, mkdir, rename, symlink, readlink, link, chmod, truncate,
 * xattrs, statfs, locks, unlink, rmdir, a revoke, an unmount) checks
 * after every call, else the target aborts:
 *   - a result is a count or a negative errno (-4095..-1);
 *   - a read returns at most what was asked, a readlink at most its
 *     buffer, and a readdir entries whose names are non-empty strings
 *     under 256 bytes without '/';
 *   - a successful stat gives one of the seven file types;
 *   - a file revoked (the revoke answered 0) reads -EIO;
 *   - the instance frees (uvfs_free) with nothing left: ASan, UBSan and
 *     libFuzzer's leak check see the rest, and the run's time limit a
 *     call that hangs past its deadline.
 * With P9CLI_FUZZ_VERBOSE set in the environment each request and the
 * record that answered it, and each call's result, are printed.
 *
 * Built by fuzz/run with clang -fsanitize=fuzzer (libFuzzer supplies
 * main), and into tests/test_p9clicorpus, which calls
 * LLVMFuzzerTestOneInput() on every file of fuzz/corpus/p9_client/.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <uvfs/uvfs.h>
#include <uvfs/9p.h>

#include "p9.h"
#include "fuzz.h"

#define MSIZE 8192
#define TIMEOUT_MS 50
#define FILE_SIZE 100
#define NFIDS 1024      /* fids followed (fid % NFIDS) */

static bool verbose;

/* The server: one connection, answered from the input. */
struct srv {
	int fd;
	const uint8_t *d;
	size_t n, off;
	uint8_t fid_dir[NFIDS];         /* 1: the fid names a directory */
};

static int next_byte(struct srv *s)
{
	return s->off < s->n ? s->d[s->off++] : -1;
}

static size_t take(struct srv *s, uint8_t *out, size_t want)
{
	size_t k = s->n - s->off < want ? s->n - s->off : want;

	memcpy(out, s->d + s->off, k);
	s->off += k;
	memset(out + k, 0, want - k);
	return k;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w <= 0)
			return;         /* the client went: nothing to tell */
		p += w;
		len -= (size_t)w;
	}
}

static void send_msg(struct srv *s, const struct p9_msg *m)
{
	static __thread uint8_t b[MSIZE];
	ssize_t len = p9_pack(b, sizeof(b), m);

	CHECK(len > 0);         /* our own answers always fit */
	send_all(s->fd, b, (size_t)len);
}

static uint8_t *fid_slot(struct srv *s, uint32_t fid)
{
	return &s->fid_dir[fid % NFIDS];
}

static struct p9_qid qid_of(bool dir, uint64_t path)
{
	return (struct p9_qid){ .type = dir ? P9_QTDIR : P9_QTFILE,
				.path = path };
}

static bool name_is_dir(const struct p9_str *n)
{
	return n->len > 0 && n->s[0] == 'd';
}

static uint64_t name_path(const struct p9_str *n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n->len; i++)
		h = (h ^ (uint8_t)n->s[i]) * 1099511628211ULL;
	return h | 2;   /* never the root's 1 */
}

/* Sends the answer a sane server gives to t (EOPNOTSUPP to what it does
 * not know). */
static void answer_sane(struct srv *s, const struct p9_msg *t)
{
	struct p9_msg r = { .type = (uint8_t)(t->type + 1), .tag = t->tag };
	static __thread uint8_t data[MSIZE];

	switch (t->type) {
	case P9_TATTACH:
		*fid_slot(s, t->tattach.fid) = 1;
		r.rattach.qid = qid_of(true, 1);
		break;
	case P9_TWALK: {
		bool dir = *fid_slot(s, t->twalk.fid);
		r.rwalk.nwqid = t->twalk.nwname;
		for (unsigned i = 0; i < t->twalk.nwname; i++) {
			dir = name_is_dir(&t->twalk.wname[i]);
			r.rwalk.wqid[i] = qid_of(dir,
					name_path(&t->twalk.wname[i]));
		}
		*fid_slot(s, t->twalk.newfid) = dir;
		break;
	}
	case P9_TGETATTR: {
		bool dir = *fid_slot(s, t->tgetattr.fid);
		r.rgetattr = (struct p9_rgetattr){
			.valid = P9_GETATTR_BASIC,
			.qid = qid_of(dir, 1 + t->tgetattr.fid),
			.mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644,
			.nlink = dir ? 2 : 1,
			.size = dir ? 4096 : FILE_SIZE,
			.blksize = 4096, .blocks = 8,
			.atime_sec = 1, .mtime_sec = 1, .ctime_sec = 1,
		};
		break;
	}
	case P9_TLOPEN:
		r.rlopen.qid = qid_of(*fid_slot(s, t->tlopen.fid), 7);
		break;
	case P9_TLCREATE:
		*fid_slot(s, t->tlcreate.fid) = 0;
		r.rlcreate.qid = qid_of(false, name_path(&t->tlcreate.name));
		break;
	case P9_TREAD: {
		uint64_t off = t->tread.offset;
		uint32_t cnt = off >= FILE_SIZE ? 0 :
			(uint32_t)(FILE_SIZE - off);
		if (cnt > t->tread.count)
			cnt = t->tread.count;
		memset(data, 'x', cnt);
		r.rread.count = cnt;
		r.rread.data = data;
		break;
	}
	case P9_TWRITE:
		r.rwrite.count = t->twrite.count;
		break;
	case P9_TREADDIR: {
		struct p9_dirent_buf b;
		static const char *names[] = { ".", "..", "a", "dsub" };
		uint32_t cap = t->treaddir.count < sizeof(data) - 64 ?
			t->treaddir.count : (uint32_t)sizeof(data) - 64;

		p9_dirent_buf_init(&b, data, cap);
		for (unsigned i = (unsigned)t->treaddir.offset; i < 4; i++) {
			struct p9_str nm = { names[i], strlen(names[i]) };
			struct p9_dirent d = {
				.qid = qid_of(name_is_dir(&nm) || i < 2,
					      name_path(&nm)),
				.offset = i + 1,
				.type = (name_is_dir(&nm) || i < 2) ?
					DT_DIR : DT_REG,
				.name = nm,
			};
			if (p9_dirent_put(&b, &d) < 0)
				break;
		}
		r.rreaddir.count = b.len;
		r.rreaddir.data = data;
		break;
	}
	case P9_TMKDIR:
		r.rmkdir.qid = qid_of(true, name_path(&t->tmkdir.name));
		break;
	case P9_TSYMLINK:
		r.rsymlink.qid = qid_of(false, name_path(&t->tsymlink.name));
		break;
	case P9_TMKNOD:
		r.rmknod.qid = qid_of(false, name_path(&t->tmknod.name));
		break;
	case P9_TREADLINK:
		r.rreadlink.target = P9_STR("a");
		break;
	case P9_TSTATFS:
		r.rstatfs = (struct p9_rstatfs){ .type = 0x01021997,
			.bsize = 4096, .blocks = 100, .bfree = 50,
			.bavail = 50, .files = 100, .ffree = 50,
			.namelen = 255 };
		break;
	case P9_TXATTRWALK:
		*fid_slot(s, t->txattrwalk.newfid) = 0;
		r.rxattrwalk.size = 0;
		break;
	case P9_TLOCK:
		r.rlock.status = P9_LOCK_SUCCESS;
		break;
	case P9_TGETLOCK:
		r.rgetlock = (struct p9_rgetlock){
			.type = P9_LOCK_TYPE_UNLCK,
			.client_id = t->tgetlock.client_id };
		break;
	case P9_TCLUNK: case P9_TREMOVE: case P9_TFLUSH: case P9_TSETATTR:
	case P9_TFSYNC: case P9_TUNLINKAT: case P9_TRENAMEAT:
	case P9_TRENAME: case P9_TLINK: case P9_TXATTRCREATE:
		break;  /* an empty body */
	default:
		r.type = P9_RLERROR;
		r.rlerror.ecode = EOPNOTSUPP;
		break;
	}
	send_msg(s, &r);
}

/* Answers t from the input: false once the input is used up. */
static bool answer(struct srv *s, const struct p9_msg *t)
{
	uint8_t b[4 + 1 + 2 + 65536];
	int k = next_byte(s);

	if (k < 0)
		return false;
	if (verbose)
		fprintf(stderr, "T%u tag %u: record 0x%02x\n", t->type,
			t->tag, k);
	if (k < 0x78) {
		answer_sane(s, t);
		return true;
	}
	if (k < 0x80)
		return true;    /* held: never answered */
	uint8_t type = (uint8_t)(t->type + 1);
	uint16_t tag = t->tag;
	size_t len;

	switch (k & 3) {
	case 3:
		type = (uint8_t)(next_byte(s) & 0xff);
		tag ^= (uint16_t)(next_byte(s) & 0xff);
		/* fall through */
	case 0: {
		int l = next_byte(s);
		len = P9_HDRSZ + take(s, b + P9_HDRSZ,
				      l < 0 ? 0 : (size_t)l);
		break;
	}
	case 1:
		type = P9_RLERROR;
		take(s, b + P9_HDRSZ, 4);
		len = P9_HDRSZ + 4;
		break;
	default: {
		int lo = next_byte(s), hi = next_byte(s);
		size_t l = (size_t)((lo < 0 ? 0 : lo) |
				    ((hi < 0 ? 0 : hi) << 8)) % 2048;
		len = take(s, b, l);
		send_all(s->fd, b, len);
		return true;
	}
	}
	b[0] = (uint8_t)len;
	b[1] = (uint8_t)(len >> 8);
	b[2] = (uint8_t)(len >> 16);
	b[3] = (uint8_t)(len >> 24);
	b[4] = type;
	b[5] = (uint8_t)tag;
	b[6] = (uint8_t)(tag >> 8);
	send_all(s->fd, b, len);
	return true;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	static __thread uint8_t buf[2 * MSIZE];
	size_t have = 0;

	for (;;) {
		ssize_t r = read(s->fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		for (;;) {
			uint32_t size;
			struct p9_msg t;

			if (p9_frame_size(buf, have, MSIZE, &size) < 0 ||
			    have < size)
				break;
			CHECK(p9_unpack(buf, size, &t) == 0);   /* ours */
			if (t.type == P9_TVERSION) {
				struct p9_msg rv = {
					.type = P9_RVERSION, .tag = t.tag,
					.rversion = { MSIZE,
						      P9_STR(P9_VERSION_L) } };
				send_msg(s, &rv);
			} else if (!answer(s, &t)) {
				goto out;
			}
			memmove(buf, buf + size, have - size);
			have -= size;
		}
	}
out:
	shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

/* ---- the client's script ---------------------------------------------- */

static void note(const char *what, long r)
{
	if (verbose)
		fprintf(stderr, "%s: %ld\n", what, r);
	CHECK(r >= -4095);
}

static void check_stat(const char *what, int r, const struct stat *st)
{
	note(what, r);
	if (r == 0) {
		mode_t f = st->st_mode & S_IFMT;
		CHECK(f == S_IFREG || f == S_IFDIR || f == S_IFLNK ||
		      f == S_IFCHR || f == S_IFBLK || f == S_IFIFO ||
		      f == S_IFSOCK);
	}
}

static void list(struct uvfs_ctx *c, const char *path)
{
	struct uvfs_dirent ents[8];
	int fd = uvfs_open(c, path, O_RDONLY | O_DIRECTORY, 0);

	note("opendir", fd);
	if (fd < 0)
		return;
	for (int rounds = 0; rounds < 4; rounds++) {
		ssize_t n = uvfs_readdir(c, fd, ents, 8);
		note("readdir", n);
		if (n <= 0)
			break;
		CHECK(n <= 8);
		for (ssize_t i = 0; i < n; i++) {
			size_t l = strnlen(ents[i].name, sizeof(ents[i].name));
			CHECK(l > 0 && l < sizeof(ents[i].name));
			CHECK(!strchr(ents[i].name, '/'));
		}
	}
	note("closedir", uvfs_close(c, fd));
}

static void script(struct uvfs_ctx *c)
{
	struct stat st;
	struct statvfs sv;
	char buf[256];
	int fd, r;
	ssize_t n;

	check_stat("stat /m", uvfs_stat(c, "/m", &st), &st);
	list(c, "/m");
	check_stat("stat a", uvfs_stat(c, "/m/a", &st), &st);
	fd = uvfs_open(c, "/m/new", O_RDWR | O_CREAT, 0644);
	note("create", fd);
	if (fd >= 0) {
		n = uvfs_write(c, fd, "hello", 5);
		note("write", n);
		CHECK(n <= 5);
		n = uvfs_pread(c, fd, buf, sizeof(buf), 0);
		note("pread", n);
		CHECK(n <= (ssize_t)sizeof(buf));
		check_stat("fstat", uvfs_fstat(c, fd, &st), &st);
		note("fsync", uvfs_fsync(c, fd));
		note("flock", uvfs_flock(c, fd, LOCK_EX | LOCK_NB, 0));
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				    .l_len = 10 };
		note("getlk", uvfs_fcntl_lock(c, fd, F_GETLK, &fl, 0));
		note("close", uvfs_close(c, fd));
	}
	fd = uvfs_open(c, "/m/a", O_RDONLY, 0);
	note("open a", fd);
	if (fd >= 0) {
		n = uvfs_read(c, fd, buf, 64);
		note("read", n);
		CHECK(n <= 64);
		note("close", uvfs_close(c, fd));
	}
	note("mkdir", uvfs_mkdir(c, "/m/dnew", 0755));
	list(c, "/m/dsub");
	note("rename", uvfs_rename(c, "/m/a", "/m/dsub/b", 0));
	note("symlink", uvfs_symlink(c, "a", "/m/ln"));
	n = uvfs_readlink(c, "/m/ln", buf, 16);
	note("readlink", n);
	CHECK(n <= 16);
	note("link", uvfs_link(c, "/m/new", "/m/new2"));
	note("chmod", uvfs_chmod(c, "/m/new", 0600));
	note("truncate", uvfs_truncate(c, "/m/new", 3));
	n = uvfs_getxattr(c, "/m/new", "user.x", buf, sizeof(buf));
	note("getxattr", n);
	CHECK(n <= (ssize_t)sizeof(buf));
	note("setxattr", uvfs_setxattr(c, "/m/new", "user.x", "v", 1, 0));
	n = uvfs_listxattr(c, "/m/new", buf, sizeof(buf));
	note("listxattr", n);
	CHECK(n <= (ssize_t)sizeof(buf));
	note("statfs", uvfs_statfs(c, "/m", &sv));
	note("unlink", uvfs_unlink(c, "/m/new2"));
	note("rmdir", uvfs_rmdir(c, "/m/dnew"));
	fd = uvfs_open(c, "/m/new", O_RDONLY, 0);
	note("open new", fd);
	r = uvfs_revoke(c, "/m/new");
	note("revoke", r);
	if (fd >= 0) {
		n = uvfs_read(c, fd, buf, 8);
		note("read revoked", n);
		CHECK(r != 0 || n == -EIO);     /* dead once revoked */
		note("close revoked", uvfs_close(c, fd));
	}
	r = uvfs_umount(c, "/m", 0);
	note("umount", r);
	if (r != 0)
		note("umount -f", uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	struct srv s = { .d = data, .n = size };
	struct uvfs *u;
	struct uvfs_ctx *c;
	pthread_t thr;
	char src[64], opts[128];
	int sv[2];

	if (!once) {
		once = true;
		verbose = getenv("P9CLI_FUZZ_VERBOSE") != NULL;
		signal(SIGPIPE, SIG_IGN);
	}
	if (size < 1)
		return 0;
	int flags = next_byte(&s);
	snprintf(opts, sizeof(opts), "msize=%d,timeout=%d,noreconnect%s%s%s%s",
		 MSIZE, TIMEOUT_MS, flags & 1 ? ",serial" : "",
		 flags & 2 ? ",cache=loose" : "",
		 flags & 4 ? ",actimeo=0" : "",
		 flags & 8 ? ",wbwindow=0" : "");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	s.fd = sv[0];
	CHECK(pthread_create(&thr, NULL, srv_main, &s) == 0);
	CHECK(uvfs_new(NULL, &u) == 0);
	CHECK(uvfs_9p_register(u) == 0);
	CHECK(uvfs_ctx_new(u, NULL, &c) == 0);
	CHECK(uvfs_mkdir(c, "/m", 0755) == 0);
	snprintf(src, sizeof(src), "fd:%d,%d", sv[1], sv[1]);
	int r = uvfs_mount(c, "9p", src, "/m", opts);
	close(sv[1]);           /* the driver has its own copy */
	note("mount", r);
	if (r == 0)
		script(c);
	uvfs_ctx_free(c);
	uvfs_free(u);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(thr, NULL);
	close(sv[0]);
	return 0;
}

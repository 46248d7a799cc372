/*
 * fuzz_p9_server.c - libFuzzer target for the file server: lib/server's
 * serve loop and dispatcher with uvfs-hostfs's operations on a scratch
 * export, driven by a hostile client's bytes.
 *
 * Each input is one connection.  A fresh export is made for it (a file, a
 * directory with a file, symlinks to the file outside, to "../.." and to
 * "/"), next to a directory outside the export holding one file; hostfs
 * serves the export (msize 8192, at most 64 fids and 32 requests in
 * flight) on one end of a socketpair while the input is written to the
 * other end and the replies read back.  The client's end is shut down
 * once every request was answered, or no reply came for QUIET_MS (a
 * server refuses a request that changes the export once its client hung
 * up: shut down at once, those would go untried); then the connection is
 * served to its end.
 *
 * The input's first byte picks how the rest is sent:
 *   bit 0 set: raw, the bytes as they are (framing, sizes, Tversion are
 *     the input's own);
 *   bit 0 clear: a Tversion (msize 8192) and a Tattach of fid 0 are sent
 *     first (bit 1: as uid 1000, else as root), then the rest is read as
 *     chunks, each a 16-bit little-endian length L and L bytes (the last
 *     chunk takes what is left), sent as a message of size L + 4: the
 *     chunk's bytes are type, tag and body, so mutations keep the framing;
 *   bit 2 set: the server runs requests on 3 workers at once, else on one
 *     (in order, so that an input replays as it was found).
 *
 * After the connection ended these must hold, else the target aborts:
 *   - every reply is a whole, well-formed R-message (the codec accepts it,
 *     its type is a reply) no larger than the server's msize; in chunk mode
 *     its tag is one the input used (or NOTAG, Rversion);
 *   - every fid was clunked (hostfs's fid index is empty) and no
 *     descriptor is left open;
 *   - nothing outside the export changed: the directory above it holds
 *     only the export and the outside directory, which holds only its
 *     file, with its size, mode, owner, link count, times and no extended
 *     attributes as made.
 * ASan/UBSan and libFuzzer's leak check see the rest.  With
 * P9SRV_FUZZ_VERBOSE set in the environment each reply's type and tag (and
 * errno) is printed, to read what an input did.
 *
 * Built by fuzz/run with clang -fsanitize=fuzzer (libFuzzer supplies
 * main), and into tests/test_p9srvcorpus, which calls
 * LLVMFuzzerTestOneInput() on every file of fuzz/corpus/p9_server/.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <poll.h>
#include <unistd.h>

#include "hostfs.h"
#include "p9.h"
#include "p9srv.h"
#include "fuzz.h"

#define MSIZE 8192
#define SECRET "outside the export\n"

static char base[64];           /* the scratch directory: exp/ and out/ */
static char exp_dir[96], out_dir[96], secret[128];
static struct stat secret_st;
static int base_fds;            /* count_fds() between inputs */

/* How many descriptors are open on the scratch tree, or on sockets
 * (libFuzzer itself keeps some pipes and files open, not these). */
static int count_fds(bool show)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHECK(d);
	while ((e = readdir(d))) {
		char l[256];
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		k = readlinkat(dirfd(d), e->d_name, l, sizeof(l) - 1);
		if (k <= 0)
			continue;
		l[k] = '\0';
		if (!strncmp(l, base, strlen(base)) ||
		    !strncmp(l, "socket:", 7)) {
			if (show)
				fprintf(stderr, "left open: fd %s: %s\n",
					e->d_name, l);
			n++;
		}
	}
	closedir(d);
	return n;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	chmod(path, 0700);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	close(fd);
}

static void make_export(void)
{
	char p[160];

	CHECK(mkdir(exp_dir, 0755) == 0);
	snprintf(p, sizeof(p), "%s/f", exp_dir);
	write_file(p, "hello\n");
	snprintf(p, sizeof(p), "%s/d", exp_dir);
	CHECK(mkdir(p, 0777) == 0);
	snprintf(p, sizeof(p), "%s/d/g", exp_dir);
	write_file(p, "inner\n");
	snprintf(p, sizeof(p), "%s/out", exp_dir);
	CHECK(symlink("../out/secret", p) == 0);
	snprintf(p, sizeof(p), "%s/d/up", exp_dir);
	CHECK(symlink("../..", p) == 0);
	snprintf(p, sizeof(p), "%s/root", exp_dir);
	CHECK(symlink("/", p) == 0);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	/* a client sends modes with its umask applied (as uvfs-hostfs) */
	umask(0);
	signal(SIGPIPE, SIG_IGN);
	snprintf(base, sizeof(base), "%s/p9srvfuzz.XXXXXX",
		 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	CHECK(mkdtemp(base));
	snprintf(exp_dir, sizeof(exp_dir), "%s/exp", base);
	snprintf(out_dir, sizeof(out_dir), "%s/out", base);
	snprintf(secret, sizeof(secret), "%s/secret", out_dir);
	CHECK(mkdir(out_dir, 0755) == 0);
	write_file(secret, SECRET);
	CHECK(lstat(secret, &secret_st) == 0);
	base_fds = count_fds(false);
}

static void teardown(void)
{
	rm_rf(base);
}

/* Nothing above or beside the export changed. */
static void check_outside(void)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char buf[64];
	int n = 0, fd;

	CHECK(lstat(secret, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK(st.st_ino == secret_st.st_ino);
	CHECK(st.st_mode == secret_st.st_mode);
	CHECK(st.st_uid == secret_st.st_uid && st.st_gid == secret_st.st_gid);
	CHECK(st.st_nlink == 1);
	CHECK(st.st_size == (off_t)strlen(SECRET));
	CHECK(st.st_mtim.tv_sec == secret_st.st_mtim.tv_sec &&
	      st.st_mtim.tv_nsec == secret_st.st_mtim.tv_nsec);
	CHECK(st.st_ctim.tv_sec == secret_st.st_ctim.tv_sec &&
	      st.st_ctim.tv_nsec == secret_st.st_ctim.tv_nsec);
	CHECK(llistxattr(secret, buf, sizeof(buf)) <= 0);
	fd = open(secret, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(read(fd, buf, sizeof(buf)) == (ssize_t)strlen(SECRET));
	CHECK(memcmp(buf, SECRET, strlen(SECRET)) == 0);
	close(fd);

	d = opendir(out_dir);
	CHECK(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			CHECK(strcmp(e->d_name, "secret") == 0 && ++n == 1);
	closedir(d);
	n = 0;
	d = opendir(base);
	CHECK(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			CHECK(!strcmp(e->d_name, "exp") ||
			      !strcmp(e->d_name, "out"));
			n++;
		}
	closedir(d);
	CHECK(n == 2);
}

/* What the client sends: the bytes and the tags it used. */
struct out {
	uint8_t *buf;
	size_t len, cap;
	uint8_t tags[65536 / 8];
};

static void put(struct out *o, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->buf = realloc(o->buf, o->cap);
		CHECK(o->buf);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_msg(struct out *o, const struct p9_msg *m)
{
	uint8_t b[256];
	ssize_t n = p9_pack(b, sizeof(b), m);

	CHECK(n > 0);
	put(o, b, (size_t)n);
	o->tags[m->tag / 8] |= (uint8_t)(1u << (m->tag % 8));
}

static void build(struct out *o, const uint8_t *data, size_t size)
{
	struct p9_msg m;
	uint8_t flags;

	memset(o, 0, sizeof(*o));
	if (size == 0)
		return;
	flags = data[0];
	data++;
	size--;
	if (flags & 1) {
		put(o, data, size);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = P9_TVERSION;
	m.tag = P9_NOTAG;
	m.tversion.msize = MSIZE;
	m.tversion.version = (struct p9_str){ "9P2000.L", 8 };
	put_msg(o, &m);
	memset(&m, 0, sizeof(m));
	m.type = P9_TATTACH;
	m.tag = 1;
	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = (struct p9_str){ "", 0 };
	m.tattach.aname = (struct p9_str){ "", 0 };
	m.tattach.n_uname = (flags & 2) ? 1000 : 0;
	put_msg(o, &m);
	while (size) {
		size_t l = size >= 2 ? (size_t)(data[0] | data[1] << 8) : size;
		uint8_t hdr[4];
		uint32_t s;

		if (size >= 2) {
			data += 2;
			size -= 2;
		} else {
			l = size;
		}
		if (l > size)
			l = size;
		s = (uint32_t)l + 4;
		hdr[0] = (uint8_t)s;
		hdr[1] = (uint8_t)(s >> 8);
		hdr[2] = (uint8_t)(s >> 16);
		hdr[3] = (uint8_t)(s >> 24);
		put(o, hdr, 4);
		put(o, data, l);
		if (l >= 3) {
			uint16_t tag = (uint16_t)(data[1] | data[2] << 8);

			o->tags[tag / 8] |= (uint8_t)(1u << (tag % 8));
		}
		data += l;
		size -= l;
	}
}

struct serve {
	struct p9srv *srv;
	int fd;
};

static void *serve_main(void *arg)
{
	struct serve *s = arg;

	p9srv_serve_fd(s->srv, s->fd, s->fd);
	/* the end the client reads sees end of file */
	shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

/* How many replies the bytes sent ask for: one per whole frame (an
 * oversized one is answered too); Tflush and Tversion may drop some. */
static size_t frames(const uint8_t *b, size_t len)
{
	size_t off = 0, n = 0;

	while (len - off >= 4) {
		uint32_t fs = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 |
			      (uint32_t)b[off + 2] << 16 |
			      (uint32_t)b[off + 3] << 24;

		if (fs < P9_HDRSZ || fs > len - off)
			break;
		n++;
		off += fs;
	}
	return n;
}

/*
 * Writes o's bytes to fd while reading the replies.  The write side is
 * shut down only when every request was answered, or no reply came for
 * QUIET_MS (a flushed request, a Tversion that dropped some, one that
 * blocks).
 */
#define QUIET_MS 30
static void converse(int fd, const struct out *o, uint8_t **rbuf, size_t *rlen)
{
	size_t off = 0, cap = 4096, len = 0, want = frames(o->buf, o->len);
	size_t got = 0, seen = 0;
	uint8_t *r = malloc(cap);
	bool sent = o->len == 0, wdone = false;

	CHECK(r);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr;

		if (sent && !wdone && got >= want) {
			shutdown(fd, SHUT_WR);
			wdone = true;
		}
		if (!sent)
			p.events |= POLLOUT;
		pr = poll(&p, 1, sent && !wdone ? QUIET_MS : -1);
		if (pr < 0) {
			CHECK(errno == EINTR);  /* libFuzzer's timer */
			continue;
		}
		if (pr == 0) {
			shutdown(fd, SHUT_WR);
			wdone = true;
			continue;
		}
		if (p.revents & POLLOUT) {
			n = send(fd, o->buf + off, o->len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = o->len;   /* the server hung up */
			if (off == o->len)
				sent = true;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (len == cap) {
				cap *= 2;
				r = realloc(r, cap);
				CHECK(r);
			}
			n = recv(fd, r + len, cap - len, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;
			if (n > 0)
				len += (size_t)n;
			/* count the whole replies in */
			while (len - seen >= 4) {
				uint32_t fs = (uint32_t)r[seen] |
					(uint32_t)r[seen + 1] << 8 |
					(uint32_t)r[seen + 2] << 16 |
					(uint32_t)r[seen + 3] << 24;

				if (fs < P9_HDRSZ || fs > len - seen)
					break;
				seen += fs;
				got++;
			}
		}
	}
	if (!wdone)
		shutdown(fd, SHUT_WR);
	*rbuf = r;
	*rlen = len;
}

static void check_replies(const struct out *o, bool chunked,
			  const uint8_t *r, size_t len)
{
	size_t off = 0;

	while (off < len) {
		uint32_t fs = 0;
		struct p9_msg m;
		uint8_t *frame;

		CHECK(p9_frame_size(r + off, len - off, MSIZE, &fs) == 0);
		CHECK(fs <= len - off);
		frame = malloc(fs);
		CHECK(frame);
		memcpy(frame, r + off, fs);
		CHECK(p9_unpack(frame, fs, &m) == 0);
		CHECK(m.type & 1);      /* a reply */
		if (getenv("P9SRV_FUZZ_VERBOSE"))
			fprintf(stderr, "reply type %u tag %u%s%d\n", m.type,
				m.tag, m.type == P9_RLERROR ? " errno " : "",
				m.type == P9_RLERROR ? (int)m.rlerror.ecode : 0);
		if (chunked)
			CHECK(m.tag == P9_NOTAG ||
			      (o->tags[m.tag / 8] & (1u << (m.tag % 8))));
		free(frame);
		off += fs;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct p9srv_opts opts = {
		.msize = MSIZE, .max_inflight = 32, .max_fids = 64,
		.nworkers = size && (data[0] & 4) ? 3 : 1,
		.interrupt_signal = SIGUSR2,        /* as uvfs-hostfs */
	};
	struct hostfs *hs;
	struct p9srv *srv;
	struct serve s;
	struct out o;
	pthread_t th;
	uint8_t *r;
	size_t rlen;
	int sv[2];

	if (!ready) {
		setup();
		atexit(teardown);
		ready = true;
	}
	build(&o, data, size);
	make_export();
	CHECK(hostfs_open(exp_dir, &hs) == 0);
	CHECK(p9srv_new(&hostfs_ops, hs, &opts, &srv) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	s.srv = srv;
	s.fd = sv[0];
	CHECK(pthread_create(&th, NULL, serve_main, &s) == 0);
	converse(sv[1], &o, &r, &rlen);
	CHECK(pthread_join(th, NULL) == 0);
	close(sv[0]);
	close(sv[1]);

	check_replies(&o, size && !(data[0] & 1), r, rlen);
	CHECK(hostfs_indexed_paths(hs) == 0);
	p9srv_free(srv);
	hostfs_close(hs);
	CHECK(count_fds(true) == base_fds);
	check_outside();
	rm_rf(exp_dir);
	free(r);
	free(o.buf);
	return 0;
}

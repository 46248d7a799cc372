/*
 * p9test_client.h - a minimal blocking 9P2000.L client for the server
 * tests (test_p9server, test_hostfs_confine), built from the codec, and a
 * harness that serves a struct p9srv in-process over a socketpair.
 * Include after <cmocka.h>.
 */
#ifndef UVFS_P9TEST_CLIENT_H
#define UVFS_P9TEST_CLIENT_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "p9.h"
#include "p9srv.h"

#define TC_BUFSZ (1024 * 1024)

struct tc {
	int fd;
	uint32_t msize;
	uint8_t *rbuf;                  /* the last reply's bytes */
	struct p9srv *srv;
	int sfd;                        /* the server's end */
	pthread_t thread;
	int serve_ret;
};

static void *tc_serve(void *arg)
{
	struct tc *c = arg;
	c->serve_ret = p9srv_serve_fd(c->srv, c->sfd, c->sfd);
	return NULL;
}

/* Serves srv on one end of a socketpair; the client gets the other. */
static void tc_start(struct tc *c, struct p9srv *srv)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->fd = sv[0];
	c->sfd = sv[1];
	c->srv = srv;
	c->msize = TC_BUFSZ;
	c->rbuf = malloc(TC_BUFSZ);
	assert_non_null(c->rbuf);
	assert_int_equal(pthread_create(&c->thread, NULL, tc_serve, c), 0);
}

/* Hangs up and waits for the serve loop to return; its return value. */
static int tc_stop(struct tc *c)
{
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	pthread_join(c->thread, NULL);
	close(c->sfd);
	free(c->rbuf);
	return c->serve_ret;
}

static void tc_write(struct tc *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void tc_send(struct tc *c, const struct p9_msg *m)
{
	static __thread uint8_t b[TC_BUFSZ];
	ssize_t n = p9_pack(b, sizeof(b), m);
	assert_true(n > 0);
	tc_write(c, b, (size_t)n);
}

/* 0 if the whole buffer came, 1 at end of file, -1 on timeout. */
static int tc_read_full(struct tc *c, void *buf, size_t len, int timeout_ms)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < len) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) == 0)
			return -1;
		ssize_t n = read(c->fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		got += (size_t)n;
	}
	return 0;
}

/* Receives one reply into *m (pointing into c->rbuf): 0, 1 at end of
 * file, -1 on timeout. */
static int tc_recv_timeout(struct tc *c, struct p9_msg *m, int timeout_ms)
{
	uint32_t size;
	int e = tc_read_full(c, c->rbuf, 4, timeout_ms);
	if (e)
		return e;
	assert_int_equal(p9_frame_size(c->rbuf, 4, TC_BUFSZ, &size), 0);
	e = tc_read_full(c, c->rbuf + 4, size - 4, 5000);
	assert_int_equal(e, 0);
	assert_int_equal(p9_unpack(c->rbuf, size, m), 0);
	return 0;
}

static void tc_recv(struct tc *c, struct p9_msg *m)
{
	assert_int_equal(tc_recv_timeout(c, m, 10000), 0);
}

/* Sends t (tag 1 unless set) and receives its reply. */
static void tc_rpc(struct tc *c, struct p9_msg *t, struct p9_msg *r)
{
	if (t->tag == 0)
		t->tag = 1;
	tc_send(c, t);
	tc_recv(c, r);
	assert_int_equal(r->tag, t->tag);
}

/* The Rlerror code of the reply to t, 0 if it succeeded. */
static uint32_t tc_err(struct tc *c, struct p9_msg *t, struct p9_msg *r)
{
	tc_rpc(c, t, r);
	if (r->type == P9_RLERROR)
		return r->rlerror.ecode;
	assert_int_equal(r->type, t->type + 1);
	return 0;
}

static void tc_version(struct tc *c, uint32_t msize)
{
	struct p9_msg t = { .type = P9_TVERSION, .tag = P9_NOTAG }, r;
	t.tversion.msize = msize;
	t.tversion.version = P9_STR(P9_VERSION_L);
	tc_rpc(c, &t, &r);
	assert_int_equal(r.type, P9_RVERSION);
	assert_true(p9_str_eq(r.rversion.version, P9_VERSION_L));
	c->msize = r.rversion.msize;
}

static uint32_t tc_attach(struct tc *c, uint32_t fid, uint32_t uid,
			  struct p9_qid *qid)
{
	struct p9_msg t = { .type = P9_TATTACH }, r;
	t.tattach.fid = fid;
	t.tattach.afid = P9_NOFID;
	t.tattach.uname = P9_STR("");
	t.tattach.aname = P9_STR("");
	t.tattach.n_uname = uid;
	uint32_t e = tc_err(c, &t, &r);
	if (!e && qid)
		*qid = r.rattach.qid;
	return e;
}

/* Walks a "/"-separated path ("" clones).  0 with *qid of the last
 * name, or the error; a partial walk answers ENOENT-like: -1 - walked. */
static int64_t tc_walk(struct tc *c, uint32_t fid, uint32_t newfid,
		       const char *path, struct p9_qid *qid)
{
	struct p9_msg t = { .type = P9_TWALK }, r;
	char buf[1024];
	t.twalk.fid = fid;
	t.twalk.newfid = newfid;
	strcpy(buf, path);
	for (char *s = buf, *e; *s; s = e) {
		e = strchr(s, '/');
		if (e)
			*e++ = '\0';
		else
			e = s + strlen(s);
		t.twalk.wname[t.twalk.nwname++] = p9_str(s);
	}
	uint32_t err = tc_err(c, &t, &r);
	if (err)
		return err;
	if (r.rwalk.nwqid < t.twalk.nwname)
		return -1 - (int64_t)r.rwalk.nwqid;
	if (qid && r.rwalk.nwqid)
		*qid = r.rwalk.wqid[r.rwalk.nwqid - 1];
	return 0;
}

static uint32_t tc_clunk(struct tc *c, uint32_t fid)
{
	struct p9_msg t = { .type = P9_TCLUNK }, r;
	t.tclunk.fid = fid;
	return tc_err(c, &t, &r);
}

static uint32_t tc_lopen(struct tc *c, uint32_t fid, uint32_t flags)
{
	struct p9_msg t = { .type = P9_TLOPEN }, r;
	t.tlopen.fid = fid;
	t.tlopen.flags = flags;
	return tc_err(c, &t, &r);
}

static uint32_t tc_lcreate(struct tc *c, uint32_t fid, const char *name,
			   uint32_t flags, uint32_t mode, uint32_t gid)
{
	struct p9_msg t = { .type = P9_TLCREATE }, r;
	t.tlcreate.fid = fid;
	t.tlcreate.name = p9_str(name);
	t.tlcreate.flags = flags;
	t.tlcreate.mode = mode;
	t.tlcreate.gid = gid;
	return tc_err(c, &t, &r);
}

static uint32_t tc_mkdir(struct tc *c, uint32_t dfid, const char *name,
			 uint32_t mode, uint32_t gid)
{
	struct p9_msg t = { .type = P9_TMKDIR }, r;
	t.tmkdir.dfid = dfid;
	t.tmkdir.name = p9_str(name);
	t.tmkdir.mode = mode;
	t.tmkdir.gid = gid;
	return tc_err(c, &t, &r);
}

static uint32_t tc_getattr(struct tc *c, uint32_t fid, struct p9_rgetattr *a)
{
	struct p9_msg t = { .type = P9_TGETATTR }, r;
	t.tgetattr.fid = fid;
	t.tgetattr.request_mask = P9_GETATTR_BASIC;
	uint32_t e = tc_err(c, &t, &r);
	if (!e && a)
		*a = r.rgetattr;
	return e;
}

static int64_t tc_pwrite(struct tc *c, uint32_t fid, uint64_t off,
			 const void *data, uint32_t count)
{
	struct p9_msg t = { .type = P9_TWRITE }, r;
	t.twrite.fid = fid;
	t.twrite.offset = off;
	t.twrite.count = count;
	t.twrite.data = data;
	uint32_t e = tc_err(c, &t, &r);
	return e ? -(int64_t)e : (int64_t)r.rwrite.count;
}

static int64_t tc_pread(struct tc *c, uint32_t fid, uint64_t off, void *buf,
			uint32_t count)
{
	struct p9_msg t = { .type = P9_TREAD }, r;
	t.tread.fid = fid;
	t.tread.offset = off;
	t.tread.count = count;
	uint32_t e = tc_err(c, &t, &r);
	if (e)
		return -(int64_t)e;
	memcpy(buf, r.rread.data, r.rread.count);
	return r.rread.count;
}

static uint32_t tc_unlinkat(struct tc *c, uint32_t dfid, const char *name,
			    uint32_t flags)
{
	struct p9_msg t = { .type = P9_TUNLINKAT }, r;
	t.tunlinkat.dirfid = dfid;
	t.tunlinkat.name = p9_str(name);
	t.tunlinkat.flags = flags;
	return tc_err(c, &t, &r);
}

static uint32_t tc_symlink(struct tc *c, uint32_t dfid, const char *name,
			   const char *target)
{
	struct p9_msg t = { .type = P9_TSYMLINK }, r;
	t.tsymlink.fid = dfid;
	t.tsymlink.name = p9_str(name);
	t.tsymlink.symtgt = p9_str(target);
	t.tsymlink.gid = 0;
	return tc_err(c, &t, &r);
}

/* Txattrwalk: 0 and *size, or the error. */
static uint32_t tc_xattrwalk(struct tc *c, uint32_t fid, uint32_t newfid,
			     const char *name, uint64_t *size)
{
	struct p9_msg t = { .type = P9_TXATTRWALK }, r;
	t.txattrwalk.fid = fid;
	t.txattrwalk.newfid = newfid;
	t.txattrwalk.name = p9_str(name);
	uint32_t e = tc_err(c, &t, &r);
	if (!e && size)
		*size = r.rxattrwalk.size;
	return e;
}

static uint32_t tc_xattrcreate(struct tc *c, uint32_t fid, const char *name,
			       uint64_t size, uint32_t flags)
{
	struct p9_msg t = { .type = P9_TXATTRCREATE }, r;
	t.txattrcreate.fid = fid;
	t.txattrcreate.name = p9_str(name);
	t.txattrcreate.attr_size = size;
	t.txattrcreate.flags = flags;
	return tc_err(c, &t, &r);
}

/* get (name "": list) the whole way, with tmp as the xattr fid: the
 * length, or minus the error. */
static int64_t tc_xattr_get(struct tc *c, uint32_t fid, uint32_t tmp,
			    const char *name, void *buf, size_t cap)
{
	uint64_t size, done = 0;
	uint32_t e = tc_xattrwalk(c, fid, tmp, name, &size);
	if (e)
		return -(int64_t)e;
	while (done < size && done < cap) {
		uint64_t want = cap - done < 4096 ? cap - done : 4096;
		int64_t n = tc_pread(c, tmp, done, (char *)buf + done,
				     (uint32_t)want);
		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	assert_int_equal(tc_clunk(c, tmp), 0);
	return done < size ? -ERANGE : (int64_t)size;
}

/* set (size 0: remove) the whole way, with tmp as a clone of fid: 0 or
 * the error (the commit's: Tclunk). */
static uint32_t tc_xattr_set(struct tc *c, uint32_t fid, uint32_t tmp,
			     const char *name, const void *val, size_t size,
			     uint32_t flags)
{
	int64_t w = tc_walk(c, fid, tmp, "", NULL);
	if (w)
		return (uint32_t)w;
	uint32_t e = tc_xattrcreate(c, tmp, name, size, flags);
	if (e) {
		tc_clunk(c, tmp);
		return e;
	}
	if (size)
		assert_int_equal(tc_pwrite(c, tmp, 0, val, (uint32_t)size),
				 (int64_t)size);
	return tc_clunk(c, tmp);
}

#endif /* UVFS_P9TEST_CLIENT_H */

/*
 * test_p9server.c - the file-server library (lib/server) driven over a
 * socketpair by a minimal client built from the codec: version
 * negotiation, the fid rules, ENOSYS for missing operations, Tflush of a
 * slow request, malformed and oversized messages, many requests in
 * flight; then hostfs (in-process) for create/write/read/readdir/unlink,
 * and the uvfs-hostfs binary over an inherited socketpair.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "p9test_client.h"
#include "hostfs.h"

/* --- a tiny test file system: a root and a file "slow" whose reads
 * block until flushed (or 10 s); getattr is missing on purpose --- */

static atomic_int slow_started, slow_flushed_seen, flush_calls;

static int t_attach(struct p9srv_req *r, struct p9srv_fid *f,
		    const struct p9_tattach *t, struct p9_qid *qid)
{
	(void)r; (void)t;
	f->priv = (void *)"root";
	*qid = (struct p9_qid){ P9_QTDIR, 0, 1 };
	return 0;
}

static int t_walk(struct p9srv_req *r, struct p9srv_fid *f,
		  struct p9srv_fid *nf, uint16_t nwname,
		  const struct p9_str *wname, struct p9_qid *wqid,
		  uint16_t *nwqid)
{
	(void)r;
	*nwqid = 0;
	if (nwname == 0) {
		nf->priv = f->priv;
		return 0;
	}
	if (strcmp(f->priv, "root") != 0)
		return -ENOTDIR;
	if (!p9_str_eq(wname[0], "slow") && !p9_str_eq(wname[0], "fast"))
		return -ENOENT;
	wqid[0] = (struct p9_qid){ P9_QTFILE, 0, p9_str_eq(wname[0], "slow") ? 2 : 3 };
	*nwqid = 1;
	if (nwname > 1)
		return 0;       /* a file has no names below it */
	nf->priv = p9_str_eq(wname[0], "slow") ? (void *)"slow" : (void *)"fast";
	return 0;
}

static int t_lopen(struct p9srv_req *r, struct p9srv_fid *f, uint32_t flags,
		   struct p9_qid *qid, uint32_t *iounit)
{
	(void)r; (void)flags; (void)iounit;
	*qid = (struct p9_qid){ P9_QTFILE, 0,
				strcmp(f->priv, "slow") == 0 ? 2 : 3 };
	return 0;
}

static ssize_t t_read(struct p9srv_req *r, struct p9srv_fid *f,
		      uint64_t off, void *buf, uint32_t count)
{
	if (strcmp(f->priv, "slow") == 0) {
		atomic_fetch_add(&slow_started, 1);
		for (int i = 0; i < 10000 && !p9srv_req_flushed(r); i++)
			usleep(1000);
		if (p9srv_req_flushed(r))
			atomic_fetch_add(&slow_flushed_seen, 1);
		if (off == 1) {         /* done all the same */
			memcpy(buf, "s", 1);
			return 1;
		}
		return -EINTR;
	}
	if (count > 4)
		count = 4;
	memcpy(buf, "fast", count);
	return count;
}

static void t_flush(struct p9srv_req *r)
{
	(void)r;
	atomic_fetch_add(&flush_calls, 1);
}

static void t_clunk(struct p9srv *s, struct p9srv_fid *f)
{
	(void)s;
	f->priv = NULL;
}

static const struct p9srv_ops tiny_ops = {
	.attach = t_attach,
	.walk = t_walk,
	.lopen = t_lopen,
	.read = t_read,
	.clunk = t_clunk,
	.flush = t_flush,
};

static struct p9srv *tiny_srv(void)
{
	struct p9srv *s;
	struct p9srv_opts o = { .msize = 64 * 1024, .nworkers = 4 };
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	return s;
}

static void version_negotiation(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t = { .type = P9_TVERSION, .tag = P9_NOTAG }, r;

	(void)state;
	tc_start(&c, s);
	/* nothing before a version */
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EPROTO);
	/* an unknown version */
	t.tversion.msize = 8192;
	t.tversion.version = P9_STR("9P2000.u");
	tc_rpc(&c, &t, &r);
	assert_int_equal(r.type, P9_RVERSION);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EPROTO);
	t.tversion.version = P9_STR("9P2000");
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	/* msize: min(client, server) */
	t.tversion.version = P9_STR(P9_VERSION_L);
	t.tversion.msize = 1u << 30;
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, P9_VERSION_L));
	assert_int_equal(r.rversion.msize, 64 * 1024);
	t.tversion.msize = 8192;
	tc_rpc(&c, &t, &r);
	assert_int_equal(r.rversion.msize, 8192);
	/* too small to work with */
	t.tversion.msize = 16;
	tc_rpc(&c, &t, &r);
	assert_true(p9_str_eq(r.rversion.version, "unknown"));
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	/* a new version forgets every fid */
	tc_version(&c, 8192);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

static void fid_rules(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;
	char buf[16];

	(void)state;
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), EBADF);     /* in use */
	assert_int_equal(tc_attach(&c, P9_NOFID, 0, NULL), EBADF);
	assert_int_equal(tc_walk(&c, 99, 2, "fast", NULL), EBADF);
	assert_int_equal(tc_walk(&c, 1, 1, "", NULL), 0);       /* clone to itself */
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), EBADF); /* newfid in use */
	assert_int_equal(tc_walk(&c, 1, 3, "nope", NULL), ENOENT);
	assert_int_equal(tc_walk(&c, 1, 3, "fast/x", NULL), -2);  /* partial */
	assert_int_equal(tc_clunk(&c, 3), EBADF);  /* a partial walk makes no fid */
	assert_int_equal(tc_pread(&c, 2, 0, buf, 4), -EBADF);    /* not opened */
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), EINVAL);     /* opened twice */
	assert_int_equal(tc_walk(&c, 2, 4, "", NULL), EBADF);    /* walk from opened */
	assert_int_equal(tc_pread(&c, 2, 0, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "fast", 4);
	/* missing operations answer ENOSYS */
	assert_int_equal(tc_getattr(&c, 1, NULL), ENOSYS);
	assert_int_equal(tc_mkdir(&c, 1, "d", 0755, 0), ENOSYS);
	assert_int_equal(tc_pwrite(&c, 2, 0, "x", 1), -ENOSYS);
	t = (struct p9_msg){ .type = P9_TAUTH };
	t.tauth.afid = 5;
	t.tauth.uname = P9_STR("u");
	t.tauth.aname = P9_STR("");
	assert_int_equal(tc_err(&c, &t, &r), ENOSYS);
	/* remove with no remove op still clunks */
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 2;
	assert_int_equal(tc_err(&c, &t, &r), ENOSYS);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_clunk(&c, 1), 0);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* --- extended attributes: the library's xattr fids over the tiny file
 * system plus one attribute kept in memory --- */

static char xa_name[256];
static char xa_val[P9SRV_XATTR_MAX];
static ssize_t xa_len = -1;             /* -1: absent */
static atomic_int xa_commits;

static ssize_t x_xattrwalk(struct p9srv_req *r, struct p9srv_fid *f,
			   const char *name, void *buf, size_t cap)
{
	(void)r; (void)f;
	if (strcmp(name, "user.huge") == 0)
		return -ERANGE;         /* more than the library's buffer */
	if (!*name) {
		size_t n = xa_len < 0 ? 0 : strlen(xa_name) + 1;
		if (cap && n > cap)
			return -ERANGE;
		if (cap)
			memcpy(buf, xa_name, n);
		return (ssize_t)n;
	}
	if (xa_len < 0 || strcmp(name, xa_name) != 0)
		return -ENODATA;
	if (cap && (size_t)xa_len > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, xa_val, (size_t)xa_len);
	return xa_len;
}

static int x_xattrcreate(struct p9srv_req *r, struct p9srv_fid *f,
			 const char *name, const void *value, size_t size,
			 uint32_t flags)
{
	(void)r;
	assert_non_null(f->priv);       /* still the file's fid */
	atomic_fetch_add(&xa_commits, 1);
	bool have = xa_len >= 0 && strcmp(name, xa_name) == 0;
	if (size == 0) {
		if (!have)
			return -ENODATA;
		xa_len = -1;
		return 0;
	}
	if ((flags & 1) && have)
		return -EEXIST;
	if ((flags & 2) && !have)
		return -ENODATA;
	snprintf(xa_name, sizeof(xa_name), "%s", name);
	memcpy(xa_val, value, size);
	xa_len = (ssize_t)size;
	return 0;
}

static const struct p9srv_ops xattr_ops = {
	.attach = t_attach,
	.walk = t_walk,
	.lopen = t_lopen,
	.read = t_read,
	.clunk = t_clunk,
	.xattrwalk = x_xattrwalk,
	.xattrcreate = x_xattrcreate,
};

static void xattr_fids(void **state)
{
	struct p9srv *s = tiny_srv();
	struct p9srv_opts o = { .msize = 64 * 1024, .max_xattr_bytes = 100 };
	struct tc c;
	struct p9_msg t, r;
	char buf[128], name[300];
	uint64_t size;

	(void)state;
	/* no xattr operations: EOPNOTSUPP (not ENOSYS: "no xattrs here") */
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 2, "user.a", NULL), EOPNOTSUPP);
	assert_int_equal(tc_xattrcreate(&c, 1, "user.a", 1, 0), EOPNOTSUPP);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);

	xa_len = -1;
	atomic_store(&xa_commits, 0);
	assert_int_equal(p9srv_new(&xattr_ops, NULL, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fast", NULL), 0);

	/* an xattr-write fid: written without holes, committed at clunk */
	assert_int_equal(tc_xattrcreate(&c, 2, "user.a", 5, 0), 0);
	assert_int_equal(tc_getattr(&c, 2, NULL), EBADF);  /* nothing else */
	assert_int_equal(tc_walk(&c, 2, 3, "", NULL), EBADF);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), EBADF);
	assert_int_equal(tc_xattrcreate(&c, 2, "user.b", 1, 0), EBADF);
	assert_int_equal(tc_pread(&c, 2, 0, buf, 5), -EBADF);
	assert_int_equal(tc_pwrite(&c, 2, 3, "lo", 2), -EINVAL); /* a hole */
	assert_int_equal(tc_pwrite(&c, 2, 0, "hel", 3), 3);
	assert_int_equal(tc_pwrite(&c, 2, 3, "loX", 3), -ENOSPC); /* > size */
	assert_int_equal(tc_pwrite(&c, 2, 3, "lo", 2), 2);
	assert_int_equal(tc_pwrite(&c, 2, 0, "H", 1), 1);       /* rewrite */
	assert_int_equal(atomic_load(&xa_commits), 0);
	assert_int_equal(tc_clunk(&c, 2), 0);
	assert_int_equal(atomic_load(&xa_commits), 1);
	assert_int_equal(xa_len, 5);
	assert_memory_equal(xa_val, "Hello", 5);
	assert_int_equal(tc_clunk(&c, 2), EBADF);               /* gone */

	/* an xattr-read fid: a copy taken at the walk */
	assert_int_equal(tc_xattrwalk(&c, 1, 3, "user.a", &size), 0);
	assert_int_equal(size, 5);
	memcpy(xa_val, "XXXXX", 5);     /* changed after the walk */
	assert_int_equal(tc_pread(&c, 3, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "Hello", 5);
	assert_int_equal(tc_pread(&c, 3, 2, buf, 2), 2);
	assert_memory_equal(buf, "ll", 2);
	assert_int_equal(tc_pread(&c, 3, 9, buf, 2), 0);        /* past it */
	assert_int_equal(tc_pwrite(&c, 3, 0, "x", 1), -EBADF);
	assert_int_equal(tc_getattr(&c, 3, NULL), EBADF);
	assert_int_equal(tc_clunk(&c, 3), 0);
	memcpy(xa_val, "Hello", 5);
	/* the list */
	assert_int_equal(tc_xattr_get(&c, 1, 3, "", buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "user.a", 7);
	/* walk errors: no fid is made */
	assert_int_equal(tc_xattrwalk(&c, 1, 1, "user.a", NULL), EINVAL);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.z", NULL), ENODATA);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.huge", NULL), E2BIG);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 4, "user.a", NULL), EBADF);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	assert_int_equal(tc_xattrwalk(&c, 1, 5, name, NULL), ERANGE);

	/* create errors */
	assert_int_equal(tc_xattrcreate(&c, 4, name, 1, 0), ERANGE);
	assert_int_equal(tc_xattrcreate(&c, 4, "", 1, 0), EINVAL);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a", 1, 4), EINVAL);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a",
					P9SRV_XATTR_MAX + 1, 0), E2BIG);
	assert_int_equal(tc_xattr_set(&c, 1, 5, "user.a", "v", 1, 1), EEXIST);
	assert_int_equal(tc_lopen(&c, 4, O_RDONLY), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.a", 1, 0), EINVAL);
	assert_int_equal(tc_clunk(&c, 4), 0);
	/* a short value is not committed: EINVAL, and the fid is gone */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.b", 4, 0), 0);
	assert_int_equal(tc_pwrite(&c, 4, 0, "ab", 2), 2);
	int commits = atomic_load(&xa_commits);
	assert_int_equal(tc_clunk(&c, 4), EINVAL);
	assert_int_equal(atomic_load(&xa_commits), commits);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	/* Tremove of an xattr fid drops it uncommitted */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.b", 1, 0), 0);
	assert_int_equal(tc_pwrite(&c, 4, 0, "b", 1), 1);
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 4;
	assert_int_equal(tc_err(&c, &t, &r), EBADF);
	assert_int_equal(tc_clunk(&c, 4), EBADF);
	assert_int_equal(atomic_load(&xa_commits), commits);

	/* the memory bound (100 bytes here): held values and buffers */
	assert_int_equal(tc_walk(&c, 1, 4, "fast", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 5, "fast", NULL), 0);
	assert_int_equal(tc_xattrcreate(&c, 4, "user.c", 60, 0), 0);
	assert_int_equal(tc_xattrcreate(&c, 5, "user.c", 60, 0), ENOMEM);
	assert_int_equal(tc_xattrwalk(&c, 1, 6, "user.a", NULL), 0); /* 5 */
	assert_int_equal(tc_xattrcreate(&c, 5, "user.c", 35, 0), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 7, "user.a", NULL), ENOMEM);
	assert_int_equal(tc_clunk(&c, 4), EINVAL);      /* nothing written */
	assert_int_equal(tc_clunk(&c, 6), 0);
	assert_int_equal(tc_xattrwalk(&c, 1, 7, "user.a", NULL), 0);
	assert_int_equal(tc_clunk(&c, 7), 0);

	/* size 0 removes */
	assert_int_equal(tc_xattr_set(&c, 1, 4, "user.a", NULL, 0, 0), 0);
	assert_int_equal(xa_len, -1);
	assert_int_equal(tc_xattr_set(&c, 1, 4, "user.a", NULL, 0, 0),
			 ENODATA);
	assert_int_equal(tc_xattr_get(&c, 1, 4, "", buf, sizeof(buf)), 0);

	/* a hang-up with a write fid (5) pending does not commit it */
	commits = atomic_load(&xa_commits);
	assert_int_equal(tc_pwrite(&c, 5, 0, buf, 35), 35);
	assert_int_equal(tc_stop(&c), 0);
	assert_int_equal(atomic_load(&xa_commits), commits);
	p9srv_free(s);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void flush_slow_request(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;
	char buf[16];

	(void)state;
	atomic_store(&slow_started, 0);
	atomic_store(&slow_flushed_seen, 0);
	atomic_store(&flush_calls, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "fast", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 3, O_RDONLY), 0);

	/* a slow read (tag 50) does not hold up the others */
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 50 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	long t0 = now_ms();
	assert_int_equal(tc_pread(&c, 3, 0, buf, sizeof(buf)), 4);
	assert_true(now_ms() - t0 < 2000);

	/* flush it: the only answer is Rflush, after the read gave up */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 51 };
	t.tflush.oldtag = 50;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 51);
	assert_int_equal(atomic_load(&slow_flushed_seen), 1);
	assert_int_equal(atomic_load(&flush_calls), 1);
	/* nothing else comes: the read's reply was suppressed */
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);

	/* a flush of a tag not in flight is answered at once */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 52 };
	t.tflush.oldtag = 4242;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 52);

	/* two flushes of one request: both answered, in order */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 60 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 61 };
	t.tflush.oldtag = 60;
	tc_send(&c, &t);
	t.tag = 62;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	uint16_t first = r.tag;
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_true((first == 61 && r.tag == 62) || (first == 62 && r.tag == 61));

	/* an operation that completed although it was flushed (it may
	 * have changed something: a create, a walk): its reply goes out,
	 * then the Rflush (flush(5): the client honours a reply that comes
	 * before the Rflush; a reply dropped would tell it the operation
	 * did not happen) */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 65 };
	t.tread.fid = 2;
	t.tread.offset = 1;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 66 };
	t.tflush.oldtag = 65;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RREAD);
	assert_int_equal(r.tag, 65);
	assert_int_equal(r.rread.count, 1);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 66);

	/* hanging up with a slow request in flight: the loop ends */
	atomic_store(&slow_started, 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 70 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t0 = now_ms();
	tc_stop(&c);
	assert_true(now_ms() - t0 < 5000);
	p9srv_free(s);
}

/* Queued requests flushed before a worker takes them (one worker, busy). */
static void flush_queued_request(void **state)
{
	struct p9srv *s;
	struct p9srv_opts o = { .msize = 8192, .nworkers = 1 };
	struct tc c;
	struct p9_msg t, r;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	atomic_store(&slow_started, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "fast", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	assert_int_equal(tc_lopen(&c, 3, O_RDONLY), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 10 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 11 };
	t.tread.fid = 3;
	t.tread.count = 16;
	tc_send(&c, &t);               /* queued behind the slow one */
	t = (struct p9_msg){ .type = P9_TFLUSH, .tag = 12 };
	t.tflush.oldtag = 11;
	tc_send(&c, &t);
	tc_recv(&c, &r);               /* at once, the slow one still runs */
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 12);
	t.tag = 13;
	t.tflush.oldtag = 10;
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 13);
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* A Tversion with a slow request in flight: the request is flushed (no
 * reply), every fid forgotten, then Rversion. */
static void version_resets_session(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg t, r;

	(void)state;
	atomic_store(&slow_started, 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "slow", NULL), 0);
	assert_int_equal(tc_lopen(&c, 2, O_RDONLY), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 7 };
	t.tread.fid = 2;
	t.tread.count = 16;
	tc_send(&c, &t);
	while (atomic_load(&slow_started) == 0)
		usleep(1000);
	t = (struct p9_msg){ .type = P9_TVERSION, .tag = P9_NOTAG };
	t.tversion.msize = 4096;
	t.tversion.version = P9_STR(P9_VERSION_L);
	tc_send(&c, &t);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RVERSION);
	assert_int_equal(r.rversion.msize, 4096);
	assert_int_equal(tc_recv_timeout(&c, &r, 200), -1);
	assert_int_equal(tc_clunk(&c, 2), EBADF);
	assert_int_equal(tc_clunk(&c, 1), EBADF);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* opts.max_fids: past it, a new fid answers ENFILE. */
static void fid_limit(void **state)
{
	struct p9srv *s;
	struct p9srv_opts o = { .max_fids = 3 };
	struct tc c;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 4, "", NULL), ENFILE);
	assert_int_equal(tc_attach(&c, 5, 0, NULL), ENFILE);
	assert_int_equal(tc_walk(&c, 1, 1, "", NULL), 0);  /* in place: no new fid */
	assert_int_equal(tc_clunk(&c, 3), 0);
	assert_int_equal(tc_walk(&c, 1, 4, "", NULL), 0);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

/* The default limit is generous (1M): 70 000 fids, more than the 65 536
 * it used to be, on one connection; the table grows under them and every
 * fid stays reachable, also after half of them are clunked. */
static void fid_limit_default(void **state)
{
	struct p9srv *s;
	struct tc c;
	const uint32_t n = 70000;

	(void)state;
	assert_int_equal(p9srv_new(&tiny_ops, NULL, NULL, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(tc_walk(&c, 1, 100 + i, "", NULL), 0);
	for (uint32_t i = 0; i < n; i += 2)
		assert_int_equal(tc_clunk(&c, 100 + i), 0);
	for (uint32_t i = 1; i < n; i += 7920)    /* odd: kept */
		assert_int_equal(tc_walk(&c, 100 + i, 200000 + i, "", NULL), 0);
	assert_int_equal(tc_clunk(&c, 100), EBADF);     /* clunked above */
	assert_int_equal(tc_walk(&c, 1, 101, "", NULL), EBADF);  /* in use */
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void malformed_messages(void **state)
{
	struct p9srv *s = tiny_srv();
	struct tc c;
	struct p9_msg r;
	uint8_t b[256];

	(void)state;
	tc_start(&c, s);
	tc_version(&c, 8192);
	/* an unknown type */
	memset(b, 0, sizeof(b));
	put32(b, 7);
	b[4] = 200;
	b[5] = 9;
	tc_write(&c, b, 7);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 9);
	assert_int_equal(r.rlerror.ecode, ENOSYS);
	/* a 9P2000 Topen (known to no .L server) */
	put32(b, 12);
	b[4] = 112;
	b[5] = 10;
	tc_write(&c, b, 12);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 10);
	/* a truncated Twalk: fid only */
	put32(b, 11);
	b[4] = P9_TWALK;
	b[5] = 11;
	b[6] = 0;
	tc_write(&c, b, 11);
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 11);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* a Twalk claiming 17 names */
	put32(b, 17);
	b[4] = P9_TWALK;
	b[5] = 12;
	put32(b + 7, 1);
	put32(b + 11, 2);
	b[15] = 17;
	b[16] = 0;
	tc_write(&c, b, 17);
	tc_recv(&c, &r);
	assert_int_equal(r.tag, 12);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* a reply sent to the server */
	put32(b, 7);
	b[4] = P9_RCLUNK;
	b[5] = 13;
	tc_write(&c, b, 7);
	tc_recv(&c, &r);
	assert_int_equal(r.tag, 13);
	assert_int_equal(r.rlerror.ecode, EPROTO);
	/* oversized: answered EMSGSIZE, its bytes skipped */
	{
		size_t big = 100000;
		uint8_t *m = calloc(1, big);
		put32(m, (uint32_t)big);
		m[4] = P9_TWRITE;
		m[5] = 14;
		tc_write(&c, m, big);
		free(m);
	}
	tc_recv(&c, &r);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 14);
	assert_int_equal(r.rlerror.ecode, EMSGSIZE);
	/* and the connection still works */
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_clunk(&c, 1), 0);
	/* a size below a header: the stream is closed */
	put32(b, 3);
	tc_write(&c, b, 4);
	assert_int_equal(tc_recv_timeout(&c, &r, 5000), 1);
	assert_true(tc_stop(&c) < 0);
	p9srv_free(s);

	/* random garbage after a version: answered or closed, no crash */
	s = tiny_srv();
	srand(42);
	for (int round = 0; round < 50; round++) {
		tc_start(&c, s);
		tc_version(&c, 8192);
		for (int k = 0; k < 20; k++) {
			size_t n = 7 + (size_t)(rand() % 60);
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)rand();
			put32(b, (uint32_t)n);
			if (k % 3 == 0)
				b[4] = (uint8_t)(P9_TSTATFS + 2 * (rand() % 60));
			b[5] = 0x77;
			b[6] = 0x77;
			tc_write(&c, b, n);
		}
		/* replies come, or not; then hang up */
		while (tc_recv_timeout(&c, &r, 100) == 0)
			;
		tc_stop(&c);
	}
	p9srv_free(s);
}

/* The inode number in a hostfs qid.path: bits 32..47 carry the file's
 * generation when the number fits in 32 bits (docs/server.md). */
static uint64_t qid_ino(uint64_t path, uint64_t ino)
{
	return ino >> 32 ? path : path & 0xffffffffu;
}

/* --- hostfs in-process --- */

static char tmpl[64];

static struct p9srv *hostfs_srv(const char *dir, struct hostfs **hs)
{
	struct p9srv *s;
	assert_int_equal(hostfs_open(dir, hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, *hs, NULL, &s), 0);
	return s;
}

static void rm_rf(const char *path)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void hostfs_basics(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	struct p9_qid rootq, q;
	struct p9_rgetattr a;
	char buf[64], path[128];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, &rootq), 0);
	assert_int_equal(rootq.type, P9_QTDIR);
	struct stat st;
	assert_int_equal(stat(tmpl, &st), 0);
	assert_int_equal(qid_ino(rootq.path, st.st_ino), st.st_ino);

	/* create, write, read */
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_lcreate(&c, 2, "hello", O_RDWR, 0640, 0), 0);
	assert_int_equal(tc_pwrite(&c, 2, 0, "hello, world", 12), 12);
	assert_int_equal(tc_pread(&c, 2, 7, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(tc_getattr(&c, 2, &a), 0);
	assert_int_equal(a.size, 12);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(tc_clunk(&c, 2), 0);
	snprintf(path, sizeof(path), "%s/hello", tmpl);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 12);
	assert_int_equal(tc_lcreate(&c, 1, "x/y", O_RDWR, 0640, 0), EINVAL);
	assert_int_equal(tc_lcreate(&c, 1, "..", O_RDWR, 0640, 0), EINVAL);

	/* the same file again by walking, with a stable qid */
	assert_int_equal(tc_walk(&c, 1, 3, "hello", &q), 0);
	assert_int_equal(qid_ino(q.path, st.st_ino), st.st_ino);
	assert_int_equal(tc_lopen(&c, 3, O_RDONLY), 0);
	assert_int_equal(tc_pread(&c, 3, 0, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(tc_pwrite(&c, 3, 0, "x", 1), -EBADF);
	assert_int_equal(tc_clunk(&c, 3), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "nothere", NULL), ENOENT);

	/* mkdir, symlink, readlink, readdir */
	assert_int_equal(tc_mkdir(&c, 1, "dir", 0755, 0), 0);
	assert_int_equal(tc_mkdir(&c, 1, "dir", 0755, 0), EEXIST);
	assert_int_equal(tc_symlink(&c, 1, "link", "hello"), 0);
	assert_int_equal(tc_walk(&c, 1, 4, "link", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	t = (struct p9_msg){ .type = P9_TREADLINK };
	t.treadlink.fid = 4;
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_true(p9_str_eq(r.rreadlink.target, "hello"));
	assert_int_equal(tc_clunk(&c, 4), 0);
	for (int i = 0; i < 100; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%03d", i);
		assert_int_equal(tc_walk(&c, 1, 5, "", NULL), 0);
		assert_int_equal(tc_lcreate(&c, 5, n, O_WRONLY, 0600, 0), 0);
		assert_int_equal(tc_clunk(&c, 5), 0);
	}
	assert_int_equal(tc_walk(&c, 1, 6, "", NULL), 0);
	assert_int_equal(tc_lopen(&c, 6, O_RDONLY | O_DIRECTORY), 0);
	int seen = 0, dots = 0;
	uint64_t off = 0;
	for (;;) {
		t = (struct p9_msg){ .type = P9_TREADDIR };
		t.treaddir.fid = 6;
		t.treaddir.offset = off;
		t.treaddir.count = 300;        /* a few entries per call */
		assert_int_equal(tc_err(&c, &t, &r), 0);
		if (r.rreaddir.count == 0)
			break;
		struct p9_dirent_iter it;
		struct p9_dirent d;
		p9_dirent_iter_init(&it, r.rreaddir.data, r.rreaddir.count);
		while (p9_dirent_next(&it, &d) == 1) {
			if (d.name.s[0] == 'f')
				seen++;
			else if (d.name.s[0] == '.')
				dots++;
			off = d.offset;
		}
	}
	assert_int_equal(seen, 100);
	assert_int_equal(dots, 2);
	assert_int_equal(tc_clunk(&c, 6), 0);

	/* renameat, unlinkat, setattr, statfs */
	t = (struct p9_msg){ .type = P9_TRENAMEAT };
	t.trenameat.olddirfid = 1;
	t.trenameat.oldname = P9_STR("hello");
	t.trenameat.newdirfid = 1;
	t.trenameat.newname = P9_STR("bye");
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_int_equal(tc_walk(&c, 1, 7, "bye", NULL), 0);
	t = (struct p9_msg){ .type = P9_TSETATTR };
	t.tsetattr.fid = 7;
	t.tsetattr.valid = P9_SETATTR_SIZE | P9_SETATTR_MODE;
	t.tsetattr.size = 3;
	t.tsetattr.mode = 0600;
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_int_equal(tc_getattr(&c, 7, &a), 0);
	assert_int_equal(a.size, 3);
	assert_int_equal(a.mode & 07777, 0600);
	t = (struct p9_msg){ .type = P9_TSTATFS };
	t.tstatfs.fid = 7;
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_true(r.rstatfs.bsize > 0);
	assert_int_equal(tc_unlinkat(&c, 1, "bye", 0), 0);
	/* removed through the server: the fid still reaches the file */
	assert_int_equal(tc_getattr(&c, 7, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(tc_lopen(&c, 7, O_RDONLY), 0);
	assert_int_equal(tc_pread(&c, 7, 0, buf, sizeof(buf)), 3);
	assert_int_equal(tc_walk(&c, 1, 9, "bye", NULL), ENOENT);
	assert_int_equal(tc_clunk(&c, 7), 0);
	assert_int_equal(tc_unlinkat(&c, 1, "dir", 0), EISDIR);
	assert_int_equal(tc_unlinkat(&c, 1, "dir", AT_REMOVEDIR), 0);
	assert_int_equal(tc_unlinkat(&c, 1, "dir", AT_REMOVEDIR), ENOENT);

	/* Tremove */
	assert_int_equal(tc_walk(&c, 1, 8, "f000", NULL), 0);
	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 8;
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_int_equal(tc_clunk(&c, 8), EBADF);
	assert_int_equal(tc_walk(&c, 1, 8, "f000", NULL), ENOENT);

	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

static uint32_t tc_lock(struct tc *c, uint32_t fid, uint8_t type,
			uint64_t start, uint64_t len, uint8_t *status)
{
	struct p9_msg t = { .type = P9_TLOCK }, r;
	t.tlock.fid = fid;
	t.tlock.type = type;
	t.tlock.start = start;
	t.tlock.length = len;
	t.tlock.proc_id = fid;
	t.tlock.client_id = P9_STR("test");
	uint32_t e = tc_err(c, &t, &r);
	if (!e)
		*status = r.rlock.status;
	return e;
}

/* Tlock/Tgetlock: each opened fid owns its locks. */
static void hostfs_locks(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	uint8_t st;

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_lcreate(&c, 2, "locked", O_RDWR, 0600, 0), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "locked", NULL), 0);
	assert_int_equal(tc_lock(&c, 3, P9_LOCK_TYPE_WRLCK, 0, 10, &st), EBADF);
	assert_int_equal(tc_lopen(&c, 3, O_RDWR), 0);
	assert_int_equal(tc_lock(&c, 2, P9_LOCK_TYPE_WRLCK, 0, 10, &st), 0);
	assert_int_equal(st, P9_LOCK_SUCCESS);
	assert_int_equal(tc_lock(&c, 3, P9_LOCK_TYPE_WRLCK, 5, 1, &st), 0);
	assert_int_equal(st, P9_LOCK_BLOCKED);
	assert_int_equal(tc_lock(&c, 3, P9_LOCK_TYPE_RDLCK, 10, 5, &st), 0);
	assert_int_equal(st, P9_LOCK_SUCCESS);         /* no overlap */
	t = (struct p9_msg){ .type = P9_TGETLOCK };
	t.tgetlock.fid = 3;
	t.tgetlock.type = P9_LOCK_TYPE_WRLCK;
	t.tgetlock.start = 0;
	t.tgetlock.length = 0;
	t.tgetlock.client_id = P9_STR("test");
	assert_int_equal(tc_err(&c, &t, &r), 0);
	assert_int_equal(r.rgetlock.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(r.rgetlock.start, 0);
	assert_int_equal(r.rgetlock.length, 10);
	assert_int_equal(tc_lock(&c, 2, P9_LOCK_TYPE_UNLCK, 0, 0, &st), 0);
	assert_int_equal(st, P9_LOCK_SUCCESS);
	assert_int_equal(tc_lock(&c, 3, P9_LOCK_TYPE_WRLCK, 5, 1, &st), 0);
	assert_int_equal(st, P9_LOCK_SUCCESS);
	/* a clunk releases the fid's locks */
	assert_int_equal(tc_clunk(&c, 3), 0);
	assert_int_equal(tc_lock(&c, 2, P9_LOCK_TYPE_WRLCK, 0, 0, &st), 0);
	assert_int_equal(st, P9_LOCK_SUCCESS);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* Many requests in flight at once; every one answered exactly once. */
static void many_in_flight(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	enum { N = 400 };
	static uint8_t seen[N];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_lcreate(&c, 2, "data", O_RDWR, 0600, 0), 0);
	memset(seen, 0, sizeof(seen));
	/* interleave: walks to fresh fids, getattrs, writes */
	for (int i = 0; i < N; i++) {
		t = (struct p9_msg){ .tag = (uint16_t)(100 + i) };
		switch (i % 3) {
		case 0:
			t.type = P9_TWALK;
			t.twalk.fid = 1;
			t.twalk.newfid = (uint32_t)(1000 + i);
			t.twalk.nwname = 1;
			t.twalk.wname[0] = P9_STR("data");
			break;
		case 1:
			t.type = P9_TGETATTR;
			t.tgetattr.fid = 1;
			t.tgetattr.request_mask = P9_GETATTR_ALL;
			break;
		default:
			t.type = P9_TWRITE;
			t.twrite.fid = 2;
			t.twrite.offset = (uint64_t)i;
			t.twrite.count = 1;
			t.twrite.data = "z";
			break;
		}
		tc_send(&c, &t);
	}
	for (int i = 0; i < N; i++) {
		tc_recv(&c, &r);
		assert_true(r.tag >= 100 && r.tag < 100 + N);
		int k = r.tag - 100;
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		assert_int_not_equal(r.type, P9_RLERROR);
	}
	for (int i = 0; i < N; i += 3)
		assert_int_equal(tc_clunk(&c, (uint32_t)(1000 + i)), 0);
	assert_int_equal(tc_stop(&c), 0);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* Flushes *tag (in flight on c) and waits for the Rflush; re-flushes if
 * the first interrupt landed before the blocking call (a known window).
 * Fails if anything but Rflush comes back. */
static void flush_and_wait(struct tc *c, uint16_t oldtag, uint16_t tag)
{
	struct p9_msg t = { .type = P9_TFLUSH }, r;
	int sent = 0, got = 0;

	for (;;) {
		t.tag = (uint16_t)(tag + sent);
		t.tflush.oldtag = oldtag;
		tc_send(c, &t);
		sent++;
		while (got < sent && tc_recv_timeout(c, &r, 1000) == 0) {
			assert_int_equal(r.type, P9_RFLUSH);
			got++;
		}
		if (got == sent || sent == 5)
			break;
	}
	while (got < sent) {
		tc_recv(c, &r);
		assert_int_equal(r.type, P9_RFLUSH);
		got++;
	}
	assert_int_equal(tc_recv_timeout(c, &r, 200), -1);
}

/* With interrupt_signal, a flush interrupts a blocking system call: a
 * FIFO's open with no writer, a read of an empty FIFO. */
static void flush_interrupts_blocking_call(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct p9srv_opts o = { .interrupt_signal = SIGUSR2 };
	struct tc c;
	struct p9_msg t;
	char path[128];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/fifo", tmpl);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(hostfs_open(tmpl, &hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, hs, &o, &s), 0);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "fifo", NULL), 0);
	/* the open blocks: no writer */
	t = (struct p9_msg){ .type = P9_TLOPEN, .tag = 20 };
	t.tlopen.fid = 2;
	t.tlopen.flags = O_RDONLY;
	tc_send(&c, &t);
	usleep(200 * 1000);
	long t0 = now_ms();
	flush_and_wait(&c, 20, 21);
	assert_true(now_ms() - t0 < 5000);
	/* the fid was not opened: it can be opened now (O_RDWR never
	 * blocks on a FIFO) and its read blocks */
	assert_int_equal(tc_lopen(&c, 2, O_RDWR), 0);
	t = (struct p9_msg){ .type = P9_TREAD, .tag = 30 };
	t.tread.fid = 2;
	t.tread.count = 64;
	tc_send(&c, &t);
	usleep(200 * 1000);
	flush_and_wait(&c, 30, 31);
	/* and hanging up with a blocked read ends the loop too */
	t.tag = 40;
	tc_send(&c, &t);
	usleep(100 * 1000);
	t0 = now_ms();
	tc_stop(&c);
	assert_true(now_ms() - t0 < 5000);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* More fids than the descriptor limit allows descriptors: a fid that is
 * not opened holds none. */
static void more_fids_than_descriptors(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	struct tc c;
	struct p9_msg t, r;
	struct rlimit rl;
	uint32_t n;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	n = rl.rlim_cur > 60000 ? 0 : (uint32_t)rl.rlim_cur + 2000;
	if (n == 0)
		skip();
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	tc_start(&c, s);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_mkdir(&c, 1, "d", 0755, 0), 0);
	/* pipelined walks, 500 in flight at a time */
	for (uint32_t i = 0; i < n; i += 500) {
		uint32_t k, m = n - i < 500 ? n - i : 500;
		for (k = 0; k < m; k++) {
			t = (struct p9_msg){ .type = P9_TWALK,
					     .tag = (uint16_t)k };
			t.twalk.fid = 1;
			t.twalk.newfid = 10 + i + k;
			t.twalk.nwname = 1;
			t.twalk.wname[0] = P9_STR("d");
			tc_send(&c, &t);
		}
		for (k = 0; k < m; k++) {
			tc_recv(&c, &r);
			assert_int_equal(r.type, P9_RWALK);
		}
	}
	/* every one of them still works */
	assert_int_equal(tc_getattr(&c, 10, NULL), 0);
	assert_int_equal(tc_getattr(&c, 10 + n - 1, NULL), 0);
	assert_int_equal(tc_mkdir(&c, 10 + n / 2, "sub", 0755, 0), 0);
	assert_int_equal(tc_lopen(&c, 10 + n - 2, O_RDONLY), 0);
	assert_int_equal(tc_stop(&c), 0);       /* clunks them all */
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* Several clients at once, each with many requests: the connection's
 * threads and the shared server under TSan. */
struct client_arg {
	struct p9srv *s;
	int id;
};

static void *client_main(void *arg)
{
	struct client_arg *ca = arg;
	struct tc c;
	char name[32], buf[32];

	tc_start(&c, ca->s);
	tc_version(&c, 8192);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "c%d-%d", ca->id, i);
		assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
		assert_int_equal(tc_lcreate(&c, 2, name, O_RDWR, 0600, 0), 0);
		assert_int_equal(tc_pwrite(&c, 2, 0, name, (uint32_t)strlen(name)),
				 (int64_t)strlen(name));
		assert_int_equal(tc_pread(&c, 2, 0, buf, sizeof(buf)),
				 (int64_t)strlen(name));
		assert_memory_equal(buf, name, strlen(name));
		assert_int_equal(tc_clunk(&c, 2), 0);
		assert_int_equal(tc_unlinkat(&c, 1, name, 0), 0);
	}
	tc_stop(&c);
	return NULL;
}

static void concurrent_clients(void **state)
{
	struct hostfs *hs;
	struct p9srv *s;
	pthread_t th[4];
	struct client_arg ca[4];

	(void)state;
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	s = hostfs_srv(tmpl, &hs);
	for (int i = 0; i < 4; i++) {
		ca[i] = (struct client_arg){ s, i };
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &ca[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	p9srv_free(s);
	hostfs_close(hs);
	rm_rf(tmpl);
}

/* --- the uvfs-hostfs binary over an inherited socketpair --- */

static const char *hostfs_bin(void)
{
	const char *p = getenv("UVFS_HOSTFS");
	return p && access(p, X_OK) == 0 ? p : NULL;
}

static pid_t spawn_as(const char *bin, const char *dir, int *fd, int errfd,
		      uid_t uid);

static pid_t spawn(const char *bin, const char *dir, int *fd, int errfd)
{
	return spawn_as(bin, dir, fd, errfd, (uid_t)-1);
}

static pid_t spawn_as(const char *bin, const char *dir, int *fd, int errfd,
		      uid_t uid)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		if (errfd >= 0)
			dup2(errfd, 2);
		if (uid != (uid_t)-1 && (setgroups(0, NULL) || setgid(uid) ||
					 setuid(uid)))
			_exit(126);
		close(sv[0]);
		close(sv[1]);
		execl(bin, bin, dir, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

/* uvfs-hostfs --max-fids N: the server library's limit; a bad N is a
 * usage error (exit 2). */
static void hostfs_max_fids(void **state)
{
	const char *bin = hostfs_bin();
	struct tc c;
	int sv[2], status, devnull;
	pid_t pid;

	(void)state;
	if (!bin)
		skip();
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	memset(&c, 0, sizeof(c));
	c.rbuf = malloc(TC_BUFSZ);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		close(sv[0]);
		close(sv[1]);
		execl(bin, bin, "--max-fids", "2", tmpl, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	c.fd = sv[0];
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "", NULL), ENFILE);
	assert_int_equal(tc_clunk(&c, 2), 0);
	assert_int_equal(tc_walk(&c, 1, 3, "", NULL), 0);
	close(c.fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	free(c.rbuf);

	const char *bad[] = { "0", "-1", "12x", "99999999999" };
	devnull = open("/dev/null", O_WRONLY);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(devnull, 2);
			execl(bin, bin, "--max-fids", bad[i], tmpl,
			      (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(WEXITSTATUS(status), 2);
	}
	close(devnull);
	rmdir(tmpl);
}

static void hostfs_binary(void **state)
{
	const char *bin = hostfs_bin();
	struct tc c;
	int status, pfd[2];
	char buf[256];
	pid_t pid;

	(void)state;
	if (!bin)
		skip();
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	memset(&c, 0, sizeof(c));
	c.rbuf = malloc(TC_BUFSZ);
	pid = spawn(bin, tmpl, &c.fd, -1);
	tc_version(&c, 65536);
	assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&c, 1, 2, "", NULL), 0);
	assert_int_equal(tc_lcreate(&c, 2, "made-by-binary", O_RDWR, 0644, 0), 0);
	assert_int_equal(tc_pwrite(&c, 2, 0, "ok", 2), 2);
	assert_int_equal(tc_clunk(&c, 2), 0);
	close(c.fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(buf, sizeof(buf), "%s/made-by-binary", tmpl);
	assert_int_equal(access(buf, F_OK), 0);

	/* qids are stable across a restart of the server: the inode */
	struct p9_qid q1, q2;
	struct stat st;
	assert_int_equal(stat(buf, &st), 0);
	for (int round = 0; round < 2; round++) {
		pid = spawn(bin, tmpl, &c.fd, -1);
		tc_version(&c, 65536);
		assert_int_equal(tc_attach(&c, 1, 0, NULL), 0);
		assert_int_equal(tc_walk(&c, 1, 2, "made-by-binary",
					 round ? &q2 : &q1), 0);
		close(c.fd);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(q1.path, q2.path);
	assert_int_equal(q1.version, q2.version);
	assert_int_equal(qid_ino(q1.path, st.st_ino), st.st_ino);
	free(c.rbuf);

	/* a missing directory: a clear message, exit 2 */
	assert_int_equal(pipe(pfd), 0);
	snprintf(buf, sizeof(buf), "%s/missing", tmpl);
	pid = spawn(bin, buf, &c.fd, pfd[1]);
	close(pfd[1]);
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "no such directory"));
	close(pfd[0]);
	close(c.fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);

	/* an unreadable one (as an unprivileged user): likewise */
	if (geteuid() == 0) {
		snprintf(buf, sizeof(buf), "%s/closed", tmpl);
		assert_int_equal(mkdir(buf, 0), 0);
		assert_int_equal(chmod(tmpl, 0755), 0);
		assert_int_equal(pipe(pfd), 0);
		pid = spawn_as(bin, buf, &c.fd, pfd[1], 65534);
		close(pfd[1]);
		n = read(pfd[0], buf, sizeof(buf) - 1);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_non_null(strstr(buf, "permission denied"));
		close(pfd[0]);
		close(c.fd);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
	}
	rm_rf(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_negotiation),
		cmocka_unit_test(fid_rules),
		cmocka_unit_test(xattr_fids),
		cmocka_unit_test(flush_slow_request),
		cmocka_unit_test(flush_queued_request),
		cmocka_unit_test(version_resets_session),
		cmocka_unit_test(fid_limit),
		cmocka_unit_test(fid_limit_default),
		cmocka_unit_test(malformed_messages),
		cmocka_unit_test(hostfs_basics),
		cmocka_unit_test(hostfs_locks),
		cmocka_unit_test(many_in_flight),
		cmocka_unit_test(flush_interrupts_blocking_call),
		cmocka_unit_test(more_fids_than_descriptors),
		cmocka_unit_test(concurrent_clients),
		cmocka_unit_test(hostfs_binary),
		cmocka_unit_test(hostfs_max_fids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

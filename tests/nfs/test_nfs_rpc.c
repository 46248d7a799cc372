/*
 * test_nfs_rpc.c - the NFS driver's ONC RPC layer (lib/nfs/rpc.c) on the
 * remote session, against a scripted RPC server on loopback (no NFS
 * server needed):
 *
 *  - a reply split into several record-mark fragments is joined and
 *    decoded (libnfs's XDR routines) whole;
 *  - each call carries the AUTH_SYS credential it is given: uid, gid and
 *    at most 16 groups (a caller with 20 sends 16); none given: root;
 *  - a denied call (AUTH_ERROR) is -EACCES;
 *  - a reply whose XID is not the call's (its low bits, the session's
 *    tag, the same: a server's duplicate, a stray) is dropped and the
 *    call waits on: its own answer, after, is its result, and the next
 *    calls are unaffected; with no answer of its own it is -ETIMEDOUT
 *    at its deadline; the XIDs of 70 000 calls on one connection are
 *    all different;
 *  - replies no server can rightly give are -EIO, never a crash, a hang
 *    or a storm of reconnects (test_nfs_rpc_attr.c): a handle whose
 *    length runs past the reply (near 2^31 and more), a reply larger
 *    than any asked for (the call it answers fails, and is not sent
 *    again), a listing whose cookies come round again;
 *  - a call the server never answers fails with -ETIMEDOUT by its
 *    deadline (plus slack), and the connection it went out on is cut (the
 *    server sees it end: fencing), after which the session reconnects and
 *    the next call succeeds;
 *  - NFS3ERR_JUKEBOX ("not now", nothing done) is asked again after a
 *    growing pause (nfs3_send.c), on every path a call is waited for:
 *    a GETATTR the server says it to three times is answered on the
 *    fourth try; the READs of a large read sent many at once, some
 *    answered JUKEBOX first, give the file's bytes; writes behind
 *    answered JUKEBOX are sent again and reach the server's disk by the
 *    fsync.  A server that always says it makes the call (the read, the
 *    fsync after writes behind) -ETIMEDOUT at its deadline, never
 *    -EAGAIN, and one killed (a forced unmount) during its pause -EIO at
 *    once; a read-ahead piece answered JUKEBOX drops the window (a hint)
 *    and the read reads for itself;
 *  - READs answered short (not at the end of the file): a read asks the
 *    rest from where each stopped, and returns short only at the end;
 *    WRITEs answered short: the rest of each goes again, and fsync
 *    finds every byte written;
 *  - writes behind over ranges older ones wrote, the server restarted
 *    (a new write verifier) before the COMMIT: what fsync sends again is
 *    the newest data of each byte, never an older write's after it,
 *    and at most WB_WINDOW bytes of it in flight at once;
 *  - a file open across a reconnect whose handle names another file
 *    after it (or whose GETATTR says so, or is answered with an error:
 *    the reconnect completes all the same), and a directory not open
 *    whose handle does (a lookup and a listing in it, after one GETATTR):
 *    read, write, fsync and truncation through it -ESTALE, its last release sends no COMMIT,
 *    and a hard mount's WRITE or LINK out when the connection was lost
 *    is not sent again after the reconnect found it so
 *    (test_nfs_rpc_stale.c);
 *  - the writes a revoked file sent behind and the server did not
 *    commit are dropped at the revoke: none is sent or committed later,
 *    not by the release, nor by a later open's fsync after a new write
 *    verifier (test_nfs_rpc_revoke.c);
 *  - a write behind's error reaches each open file that was open when it
 *    came, once, at its fsync or close (not only the first to ask), and
 *    fails the writes through it until then;
 *  - a write behind whose WRITE is still going out (the server reads
 *    nothing: the link is full) when the connection is killed (a forced
 *    unmount) fails with -EIO at once: it was not accepted behind;
 *  - the REMOVE of a silly-renamed file at its last close (remove.c's
 *    reaper): answered JUKEBOX twice, it is sent again and the name goes,
 *    while the close returned at once; an RMDIR answered NOTEMPTY while
 *    that REMOVE's answer is held back (longer than a second) waits for
 *    it and succeeds, and one of a directory with nothing pending in it
 *    is NOTEMPTY at once; a forced unmount during its pause between
 *    JUKEBOX answers ends it, and a waiting RMDIR, at once, and nothing
 *    is sent after; the close returns at once while the session
 *    reconnects (where a call would wait), and the REMOVE goes once the
 *    server is back; an unmount waits for it (by the mount's timeout);
 *    the close returns at once when the link took only a part of the
 *    REMOVE (the rest waits for room), and the reaper's wait sends the
 *    rest: the server gets it whole, once;
 *  - attributes taken out of order (test_nfs_rpc_attr.c): a READ's
 *    from before a truncation, a GETATTR's from before a write, taken
 *    after the newer ones, are dropped; a GETATTR's sent first but done
 *    after another client's change (a later ctime) is applied; a size
 *    past what an off_t holds is the largest offset, and an append
 *    that would end past it -EFBIG, nothing sent; a file type NFSv3
 *    does not have is -EIO, and a listing hands on names no file can
 *    have with the rest (the core leaves them out: test_vops).
 *
 * The scripted server is in test_nfs_rpc_server.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/nfs.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

#include <uvfs/nfs.h>

#include "core.h"         /* struct uvfs_sb, for the driver's operations */
#include "deadline.h"
#include "nfs3.h"
#include "nfs_i.h"
#include "rpc.h"
#include "sys.h"

#include "test_nfs_rpc_server.c"  /* the scripted server */

static int setup(void **state)
{
	(void)state;
	lfd = listener(0);
	if (lfd < 0)
		return -1;
	atomic_store(&listening, true);
	return pthread_create(&srv, NULL, server_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&stop, true);
	pthread_join(srv, NULL);
	if (lfd >= 0)
		close(lfd);
	return 0;
}

static struct nconn *connect_to(int timeout_ms)
{
	struct nc_opts o = { .timeout_ms = timeout_ms, .restarts = -1,
			     .window_ms = 60000, .source = "test" };
	struct nconn *nc = NULL;

	assert_int_equal(nconn_new("127.0.0.1", port, &o, &nc), 0);
	return nc;
}

/* One GETATTR as cred: its err; *res decoded on success. */
static int getattr(struct nconn *nc, const struct uvfs_cred *cred,
		   GETATTR3res *res, int timeout_ms)
{
	char fh[8] = "handle!";
	GETATTR3args a = { .object = { .data = { 8, fh } } };
	struct nrpc c = {
		.prog = 100003, .vers = 3, .proc = 1,
		.args_fn = (zdrproc_t)zdr_GETATTR3args, .args = &a,
		.args_max = 256,
		.res_fn = (zdrproc_t)zdr_GETATTR3res, .res = res,
		.idem = true,
	};
	struct nrpc *cp = &c;
	struct timespec dl;

	memset(res, 0, sizeof(*res));
	deadline_in(&dl, timeout_ms);
	assert_int_equal(nc_call_many(nc, cred, &cp, 1, 0, &dl), 0);
	int err = c.err;
	if (err == 0) {
		assert_int_equal(res->status, NFS3_OK);
		assert_int_equal(res->GETATTR3res_u.resok.obj_attributes.fileid,
				 4242);
		assert_int_equal(res->GETATTR3res_u.resok.obj_attributes.size,
				 1234);
	}
	nrpc_done(&c);
	return err;
}

static void fragments_and_credentials(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct uvfs_cred cr = { .uid = 1000, .gid = 100, .ngroups = 20 };
	GETATTR3res res;

	(void)state;
	for (unsigned i = 0; i < 20; i++)
		cr.groups[i] = 200 + i;
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	assert_int_equal(atomic_load(&seen_uid), 0);    /* none: root */
	assert_int_equal(atomic_load(&seen_ngroups), 0);
	atomic_store(&mode, M_FRAG);
	assert_int_equal(getattr(nc, &cr, &res, 5000), 0);
	assert_int_equal(atomic_load(&seen_uid), 1000);
	assert_int_equal(atomic_load(&seen_gid), 100);
	assert_int_equal(atomic_load(&seen_ngroups), 16);   /* AUTH_SYS's */
	nconn_free(nc);
}

static void refusals(void **state)
{
	struct nconn *nc = connect_to(5000);
	GETATTR3res res;

	(void)state;
	atomic_store(&mode, M_DENY);
	assert_int_equal(getattr(nc, NULL, &res, 5000), -EACCES);
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	nconn_free(nc);
}

/* A reply with a call's tag but another XID (a server's duplicate, a
 * stray answer to an earlier call on the tag) is not the call's: RFC
 * 5531 drops it, and the call waits on for its own answer.  Before, it
 * failed the call with -EIO and freed its tag (this test's first call
 * was -EIO; refusals expected that), and the call's own answer, after,
 * was dropped or failed the next call on the tag. */
static void stray_xid(void **state)
{
	struct nconn *nc = connect_to(5000);
	GETATTR3res res;
	struct timespec t0, t1;
	struct nc_stats st;

	(void)state;
	atomic_store(&mode, M_BADXID);
	/* getattr checks the answer is the file's (the stray says
	 * NFS3ERR_IO) */
	for (int i = 0; i < 3; i++)
		assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	nc_stats(nc, &st);
	assert_int_equal(st.strays, 3);
	atomic_store(&mode, M_OK);
	for (int i = 0; i < 20; i++)
		assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	nc_stats(nc, &st);
	assert_int_equal(st.strays, 3);
	assert_int_equal(st.unsolicited, 0);
	/* no answer of its own: its deadline, not the stray, ends it */
	atomic_store(&mode, M_STRAY);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(getattr(nc, NULL, &res, 400), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 350);
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	nconn_free(nc);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The XIDs of one connection's calls are not used again within 70 000
 * calls (Linux's client goes 2^32 calls before it uses one again): a
 * server's duplicate request cache, which knows a call by its XID, its
 * procedure, its length and a checksum of its arguments (Linux's nfsd,
 * for two minutes), would answer a repeated one from the cache, not do
 * it (a CREATE of a name made and removed before, a WRITE of a block
 * whose first bytes are the same).  Before, the XID was a counter of 16
 * bits over the tag, and the tags go round: the 65 537th call had the
 * first one's XID. */
static void xids_not_reused(void **state)
{
	enum { BATCH = 1024, CALLS = 70 * 1024 };
	struct nconn *nc = connect_to(5000);
	char fh[8] = "handle!";
	GETATTR3args a = { .object = { .data = { 8, fh } } };
	GETATTR3res *res = calloc(BATCH, sizeof(*res));
	struct nrpc *cs = calloc(BATCH, sizeof(*cs));
	struct nrpc **cp = calloc(BATCH, sizeof(*cp));
	uint32_t *log = calloc(CALLS, sizeof(*log));
	size_t dups = 0;

	(void)state;
	assert_non_null(res);
	assert_non_null(cs);
	assert_non_null(cp);
	assert_non_null(log);
	atomic_store(&mode, M_OK);
	xid_cap = CALLS;
	atomic_store(&xid_n, 0);
	atomic_store(&xid_log, log);
	for (unsigned done = 0; done < CALLS; done += BATCH) {
		struct timespec dl;
		for (unsigned i = 0; i < BATCH; i++) {
			cs[i] = (struct nrpc){
				.prog = 100003, .vers = 3, .proc = 1,
				.args_fn = (zdrproc_t)zdr_GETATTR3args,
				.args = &a, .args_max = 256,
				.res_fn = (zdrproc_t)zdr_GETATTR3res,
				.res = &res[i], .idem = true,
			};
			cp[i] = &cs[i];
		}
		deadline_in(&dl, 20000);
		assert_int_equal(nc_call_many(nc, NULL, cp, BATCH, 0, &dl), 0);
		for (unsigned i = 0; i < BATCH; i++) {
			assert_int_equal(cs[i].err, 0);
			nrpc_done(&cs[i]);
		}
	}
	atomic_store(&xid_log, NULL);
	assert_int_equal(atomic_load(&xid_n), CALLS);
	qsort(log, CALLS, sizeof(*log), u32_cmp);
	for (size_t i = 1; i < CALLS; i++)
		dups += log[i] == log[i - 1];
	printf("%d calls on one connection: %zu XIDs used again\n", CALLS,
	       dups);
	assert_int_equal(dups, 0);
	free(log);
	free(cp);
	free(cs);
	free(res);
	nconn_free(nc);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void silent_server_is_fenced(void **state)
{
	struct nconn *nc = connect_to(1000);
	struct nc_stats st;
	GETATTR3res res;

	(void)state;
	atomic_store(&mode, M_SILENT);
	int ended = atomic_load(&conns_ended);
	uint64_t t0 = now_ms();
	int r = getattr(nc, NULL, &res, 1000);
	uint64_t took = now_ms() - t0;
	printf("a call to a silent server: %d after %llu ms\n", r,
	       (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 900 && took < 1000 + 2000);
	/* the connection it went out on ended (cut by us) */
	for (int i = 0; i < 100 && atomic_load(&conns_ended) == ended; i++)
		usleep(20 * 1000);
	assert_true(atomic_load(&conns_ended) > ended);
	nc_stats(nc, &st);
	assert_true(st.unreachable >= 1 || st.timeouts >= 1);
	/* the server answers again: the session reconnects and goes on
	 * (a soft call may be refused at once while it is unreachable) */
	atomic_store(&mode, M_OK);
	r = -1;
	for (int i = 0; i < 100 && r != 0; i++) {
		r = getattr(nc, NULL, &res, 1000);
		if (r)
			usleep(50 * 1000);
	}
	assert_int_equal(r, 0);
	nc_stats(nc, &st);
	assert_true(st.reconnects >= 1);
	nconn_free(nc);
}

static void jukebox_asked_again(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct fh3 fh = { .len = 8, .data = "handle!" };
	struct stat st;

	(void)state;
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_GETATTR);
	/* three times "not now", then the answer: after 10 + 20 + 40 ms */
	atomic_store(&jukebox_left, 3);
	atomic_store(&seen[NFS3_GETATTR], 0);
	struct n3 c = { .nc = nc };
	deadline_in(&c.dl, 5000);
	uint64_t t0 = now_ms();
	assert_int_equal(n3_getattr(&c, &fh, &st), 0);
	uint64_t took = now_ms() - t0;
	printf("three JUKEBOX answers, then the attributes: %llu ms, %d "
	       "GETATTRs\n", (unsigned long long)took,
	       atomic_load(&seen[NFS3_GETATTR]));
	assert_int_equal(st.st_size, 1234);
	assert_int_equal(atomic_load(&seen[NFS3_GETATTR]), 4);
	assert_true(took >= 70);
	/* always "not now": the call ends at its deadline, -ETIMEDOUT */
	atomic_store(&jukebox_left, -1);
	deadline_in(&c.dl, 600);
	t0 = now_ms();
	assert_int_equal(n3_getattr(&c, &fh, &st), -ETIMEDOUT);
	took = now_ms() - t0;
	printf("JUKEBOX until the deadline (600 ms): -ETIMEDOUT after %llu "
	       "ms\n", (unsigned long long)took);
	assert_true(took >= 550 && took < 600 + 1000);
	atomic_store(&mode, M_OK);
	nconn_free(nc);
}

struct getattr_arg {
	struct n3 c;
	int r;
};

static void *getattr_main(void *arg)
{
	struct getattr_arg *g = arg;
	struct fh3 fh = { .len = 8, .data = "handle!" };
	struct stat st;

	g->r = n3_getattr(&g->c, &fh, &st);
	return NULL;
}

/* A call pausing between JUKEBOX answers when the connection is killed
 * (a forced unmount): -EIO at once, not at the end of its pause or its
 * deadline. */
static void jukebox_cancelled(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct getattr_arg g = { .c = { .nc = nc } };
	pthread_t t;

	(void)state;
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_GETATTR);
	atomic_store(&jukebox_left, -1);
	atomic_store(&seen[NFS3_GETATTR], 0);
	deadline_in(&g.c.dl, 5000);
	assert_int_equal(pthread_create(&t, NULL, getattr_main, &g), 0);
	/* past the short pauses: in one of 640 ms or 1 s by now */
	while (atomic_load(&seen[NFS3_GETATTR]) < 8)
		usleep(10 * 1000);
	usleep(100 * 1000);
	uint64_t t0 = now_ms();
	nconn_cancel(nc);
	pthread_join(t, NULL);
	uint64_t took = now_ms() - t0;
	printf("killed during a JUKEBOX pause: %d after %llu ms\n", g.r,
	       (unsigned long long)took);
	assert_int_equal(g.r, -EIO);
	assert_true(took < 300);
	atomic_store(&mode, M_OK);
	nconn_free(nc);
}

static bool file_bytes_ok(const uint8_t *b, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != file_byte(off + i))
			return false;
	return true;
}

/* A read of the whole file and past it in 64 KiB READs, 8 in flight at
 * once (17 of them: 8, 8, 1), the first five to arrive answered JUKEBOX:
 * the file's bytes, short only at its end; JUKEBOX for ever: -ETIMEDOUT
 * at the deadline. */
static void jukebox_read_many(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct fh3 fh = { .len = 8, .data = "handle!" };
	size_t want = FILE_SIZE + 1000;         /* past the end: short */
	uint8_t *buf = malloc(want);
	struct n3attr a = { 0 };

	(void)state;
	assert_non_null(buf);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_READ);
	atomic_store(&jukebox_left, 5);
	atomic_store(&seen[NFS3_READ], 0);
	struct n3 c = { .nc = nc };
	deadline_in(&c.dl, 5000);
	uint64_t t0 = now_ms();
	ssize_t r = n3_read_many(&c, &fh, buf, want, 0, 64u << 10, 8, &a);
	uint64_t took = now_ms() - t0;
	printf("a read of 17 READs, 8 at once, 5 answered JUKEBOX first: "
	       "%zd bytes in %llu ms, %d READs\n", r,
	       (unsigned long long)took, atomic_load(&seen[NFS3_READ]));
	assert_int_equal(r, FILE_SIZE);
	assert_true(file_bytes_ok(buf, FILE_SIZE, 0));
	assert_int_equal(atomic_load(&seen[NFS3_READ]), 17 + 5);
	assert_true(took >= 10);
	/* always "not now": the read ends at its deadline */
	atomic_store(&jukebox_left, -1);
	deadline_in(&c.dl, 600);
	t0 = now_ms();
	r = n3_read_many(&c, &fh, buf, want, 0, 64u << 10, 8, &a);
	took = now_ms() - t0;
	printf("READs answered JUKEBOX until the deadline (600 ms): %zd "
	       "after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 550 && took < 600 + 1000);
	atomic_store(&mode, M_OK);
	free(buf);
	nconn_free(nc);
}

/* The driver's objects a write behind or a read-ahead window needs,
 * on the connection nc (64 KiB READs and WRITEs), for one file of
 * FILE_SIZE bytes. */
static struct nsb *sb_new(struct nconn *nc)
{
	struct nsb *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	pthread_mutex_init(&s->lock, NULL);
	nn_silly_init(s);
	s->nc = nc;
	s->timeout_ms = 5000;
	s->rtmax = s->wtmax = 64u << 10;
	return s;
}

/* The unmount's part (nn_silly_fini: pending REMOVEs get the mount's
 * timeout), then the objects. */
static void sb_free(struct nsb *s)
{
	nn_silly_fini(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct node *node_new(void)
{
	struct node *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	nw_init(n);
	n->ino = 4242;
	n->type = S_IFREG;
	n->fh = (struct fh3){ .len = 8, .data = "handle!" };
	n->st_valid = true;
	n->st.st_ino = 4242;
	n->st.st_size = FILE_SIZE;
	return n;
}

static void sb_node_free(struct nsb *s, struct node *n)
{
	nw_fini(n);
	pthread_mutex_destroy(&n->wb_lock);
	free(n);
	sb_free(s);
}

static struct n3 ctx(struct nconn *nc, int ms)
{
	struct n3 c = { .nc = nc };

	deadline_in(&c.dl, ms);
	return c;
}

/* The end of a test of writes behind on n: nothing is left in flight or
 * kept; the server back to M_OK, everything freed. */
static void nothing_kept_free(struct nconn *nc, struct nsb *s,
			      struct node *n, uint8_t *data)
{
	assert_null(n->wb_head);
	assert_int_equal(n->wb_out, 0);
	atomic_store(&mode, M_OK);
	free(data);
	sb_node_free(s, n);
	nconn_free(nc);
}

/* 1 MiB written behind in 256 KiB writes (16 WRITEs), the first three
 * to arrive answered JUKEBOX: sent again, the fsync returns 0 and the
 * server's disk holds the bytes.  JUKEBOX for ever: the write returns
 * (it only sent), the fsync reports -ETIMEDOUT at its deadline, once,
 * and nothing was written. */
static void jukebox_write_behind(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 1u << 20, step = 256u << 10;
	uint8_t *data = malloc(len);
	uint64_t eseen = 0;     /* one open file's count of errors */

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + i / 257);
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, sizeof(disk));
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_WRITE);
	atomic_store(&jukebox_left, 3);
	atomic_store(&seen[NFS3_WRITE], 0);
	atomic_store(&seen[NFS3_COMMIT], 0);
	uint64_t t0 = now_ms();
	for (size_t off = 0; off < len; off += step) {
		struct n3 c = ctx(nc, 5000);
		assert_int_equal(nw_write(s, &c, n, &eseen, data + off, step,
					  off),
				 (ssize_t)step);
	}
	struct n3 fc = ctx(nc, 5000);
	int r = nw_commit(s, &fc, n, &eseen);
	uint64_t took = now_ms() - t0;
	printf("1 MiB written behind, 3 WRITEs answered JUKEBOX first: fsync "
	       "%d after %llu ms, %d WRITEs, %d COMMITs\n", r,
	       (unsigned long long)took, atomic_load(&seen[NFS3_WRITE]),
	       atomic_load(&seen[NFS3_COMMIT]));
	assert_int_equal(r, 0);
	assert_int_equal(atomic_load(&seen[NFS3_WRITE]), 16 + 3);
	assert_int_equal(atomic_load(&seen[NFS3_COMMIT]), 1);
	pthread_mutex_lock(&disk_lock);
	assert_memory_equal(disk, data, len);
	pthread_mutex_unlock(&disk_lock);
	assert_null(n->wb_head);                /* committed: nothing kept */
	/* always "not now": the fsync ends at its deadline, -ETIMEDOUT;
	 * the WRITEs were never applied */
	atomic_store(&jukebox_left, -1);
	struct n3 wc = ctx(nc, 600);
	assert_int_equal(nw_write(s, &wc, n, &eseen, data, step, 2u << 20),
			 (ssize_t)step);
	fc = ctx(nc, 600);
	t0 = now_ms();
	r = nw_commit(s, &fc, n, &eseen);
	took = now_ms() - t0;
	printf("a write behind answered JUKEBOX until the deadline (600 ms): "
	       "fsync %d after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 500 && took < 600 + 1000);
	pthread_mutex_lock(&disk_lock);
	for (size_t i = 0; i < step; i++)
		assert_int_equal(disk[(2u << 20) + i], 0);
	pthread_mutex_unlock(&disk_lock);
	/* reported once (the close after it has nothing to say), and nothing
	 * is left in flight or kept */
	fc = ctx(nc, 600);
	assert_int_equal(nw_commit(s, &fc, n, &eseen), 0);
	nothing_kept_free(nc, s, n, data);
}

/* The second read of a sequential run starts a read-ahead window; its
 * pieces answered JUKEBOX drop it (a hint: not asked again), and the read
 * reads for itself (n3_read_many, as the driver's read does), asked
 * again: the file's bytes. */
static void jukebox_read_ahead_dropped(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	struct handle h = { .n = n, .next_off = 64u << 10 };
	size_t want = 64u << 10;
	uint8_t *buf = malloc(want);
	struct n3attr a = { 0 };

	(void)state;
	assert_non_null(buf);
	pthread_mutex_init(&h.ra_lock, NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_READ);
	atomic_store(&jukebox_left, 20);        /* the window's 16 and 4 */
	struct n3 c = ctx(nc, 5000);
	pthread_mutex_lock(&h.ra_lock);
	ssize_t r = nr_read(s, &c, n, &h, buf, want, want);
	unsigned left_n = h.ra_n;
	pthread_mutex_unlock(&h.ra_lock);
	assert_int_equal(r, -EAGAIN);           /* the caller reads itself */
	assert_int_equal(left_n, 0);
	assert_int_equal(atomic_load(&s->ra_bytes), 0);
	uint64_t t0 = now_ms();
	r = n3_read_many(&c, &n->fh, buf, want, want, s->rtmax, 8, &a);
	uint64_t took = now_ms() - t0;
	printf("a read-ahead window answered JUKEBOX: dropped; the read for "
	       "itself: %zd bytes after %llu ms\n", r,
	       (unsigned long long)took);
	assert_int_equal(r, (ssize_t)want);
	assert_true(file_bytes_ok(buf, want, want));
	atomic_store(&mode, M_OK);
	pthread_mutex_destroy(&h.ra_lock);
	free(buf);
	sb_node_free(s, n);
	nconn_free(nc);
}

static void *cancel_main(void *arg)
{
	/* once the server has stopped reading, and the link is full */
	while (!atomic_load(&deaf))
		usleep(10 * 1000);
	usleep(200 * 1000);
	nconn_cancel(arg);
	return NULL;
}

/* One write behind of a WRITE larger than the link takes (32 MiB; the
 * server reads nothing of it), the connection killed while it goes out
 * (a forced unmount): the write fails with -EIO at once, and nothing of
 * it is kept.  Before, it was accepted behind: the session took a call
 * the kill ended while its bytes went out for one sent. */
static void killed_while_sending(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 32u << 20;
	uint8_t *data = calloc(1, len);
	pthread_t t;

	(void)state;
	assert_non_null(data);
	s->wtmax = (uint32_t)len;       /* one WRITE */
	atomic_store(&deaf, false);
	atomic_store(&mode, M_DEAF);
	assert_int_equal(pthread_create(&t, NULL, cancel_main, nc), 0);
	struct n3 c = ctx(nc, 5000);
	uint64_t t0 = now_ms();
	ssize_t r = nw_write(s, &c, n, NULL, data, len, 0);
	uint64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	printf("a 32 MiB write behind, killed while it went out: %zd after "
	       "%llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -EIO);
	assert_true(took < 2000);
	nothing_kept_free(nc, s, n, data);
}

#include "test_nfs_rpc_silly.c"  /* the REMOVE at the last close */
#include "test_nfs_rpc_attr.c"   /* attributes out of order */
#include "test_nfs_rpc_stale.c"  /* handles that name another file */
#include "test_nfs_rpc_revoke.c" /* a revoked file's writes behind */

/* A server that answers each READ with 1 000 bytes at most (RFC 1813
 * allows a short READ anywhere: its eof says where the file ends): a
 * read of 200 KiB, plain (many READs at once) and through a read-ahead
 * window (the second read of a sequential run), gives its 200 KiB, and
 * one across the end the bytes up to it, asking for the rest from where
 * each answer stopped.  Before, the first short answer was taken for the
 * end of the file: 1 000 bytes of 200 KiB, and the window's read 2 000
 * (DESIGN invariant 12: a read returns short only at end of file). */
static void read_short_answers(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	size_t want = 200u << 10;
	uint8_t *buf = malloc(want);
	void *h;

	(void)state;
	assert_non_null(buf);
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, FILE_SIZE, 600, false);
	atomic_store(&read_max, 1000);
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	uint64_t t0 = now_ms();
	ssize_t plain = o->read(&m.sb, m.n, NULL, buf, want, 4096);
	uint64_t took = now_ms() - t0;
	bool plain_ok = plain == (ssize_t)want &&
			file_bytes_ok(buf, want, 4096);
	ssize_t end = o->read(&m.sb, m.n, NULL, buf, want, FILE_SIZE - 5000);
	bool end_ok = end == 5000 && file_bytes_ok(buf, 5000,
						   FILE_SIZE - 5000);
	/* the second read of a run starts a window: its first piece short */
	assert_int_equal(o->open(&m.sb, m.n, O_RDONLY, &h), 0);
	assert_int_equal(o->read(&m.sb, m.n, h, buf, 1000, 0), 1000);
	ssize_t ra = o->read(&m.sb, m.n, h, buf, want, 1000);
	bool ra_ok = ra == (ssize_t)want && file_bytes_ok(buf, want, 1000);
	o->release(&m.sb, m.n, h);
	atomic_store(&read_max, 0);
	printf("READs answered 1000 bytes at most: a read of %zu bytes %zd "
	       "(%s, %llu ms), across the end %zd of 5000 (%s), through a "
	       "window %zd (%s)\n", want, plain, plain_ok ? "exact" : "wrong",
	       (unsigned long long)took, end, end_ok ? "exact" : "wrong", ra,
	       ra_ok ? "exact" : "wrong");
	assert_true(plain_ok);
	assert_true(end_ok);
	assert_true(ra_ok);
	free(buf);
	attr_mount_free(&m, nc);
}

/* A server that writes (and says it wrote) 10 000 bytes of each WRITE at
 * most (RFC 1813 allows a short WRITE): 256 KiB written behind in 64 KiB
 * writes, then fsync, is 0 with every byte on the server's disk, the
 * rest of each WRITE sent again from where it stopped.  Before, each
 * short answer failed the write behind (-EIO at the fsync, the rest
 * never sent). */
static void write_short_answers(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 256u << 10, step = 64u << 10;
	uint8_t *data = malloc(len);
	uint64_t eseen = 0;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 11 + i / 263);
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, sizeof(disk));
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&mode, M_OK);
	atomic_store(&write_max, 10000);
	atomic_store(&seen[NFS3_WRITE], 0);
	for (size_t off = 0; off < len; off += step) {
		struct n3 c = ctx(nc, 5000);
		assert_int_equal(nw_write(s, &c, n, &eseen, data + off, step,
					  off),
				 (ssize_t)step);
	}
	struct n3 fc = ctx(nc, 5000);
	int r = nw_commit(s, &fc, n, &eseen);
	atomic_store(&write_max, 0);
	pthread_mutex_lock(&disk_lock);
	bool same = memcmp(disk, data, len) == 0;
	pthread_mutex_unlock(&disk_lock);
	printf("WRITEs answered 10000 bytes at most: 256 KiB behind, fsync "
	       "%d, %d WRITEs, the disk %s\n", r,
	       atomic_load(&seen[NFS3_WRITE]), same ? "exact" : "wrong");
	assert_int_equal(r, 0);
	assert_true(same);
	nothing_kept_free(nc, s, n, data);
}

struct commit_op {
	struct nsb *s;
	struct node *n;
	int r;
};

static void *commit_main(void *arg)
{
	struct commit_op *o = arg;
	struct n3 c = ctx(o->s->nc, 5000);
	uint64_t eseen = 0;

	o->r = nw_commit(o->s, &c, o->n, &eseen);
	return NULL;
}

/* Writes behind over ranges older ones wrote, all answered and kept, and
 * then the server restarts (a new verifier) before the COMMIT: fsync
 * sends the data again, and the file must hold the newest bytes of each
 * range.  A write cuts what older ones kept of its range out of them
 * (nfs_i.h: the wbufs not DONE never overlap), so only the newest bytes
 * go again.  Before, every kept WRITE went again: the older bytes after
 * the newer ones, or both at once in any order.
 *
 *  - a page written twice (A, then B), the restart between the two
 *    writes: the fsync sent A again over B, the disk held A;
 *  - the same, the restart after both, the first WRITE sent again held
 *    back by the server and done after the second (as a server that runs
 *    requests in parallel may): the disk held A;
 *  - pieces of a range rewritten inside it, across its end and across
 *    its start: each byte the last write's;
 *  - a newer write over the range that did not go (the server away: no
 *    reconnect by its deadline): the older bytes stay the newest, and go
 *    again after a restart that lost them. */
static void kept_bytes_newest(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 64u << 10, q = len / 4;
	uint8_t *a = malloc(2 * len), *b = malloc(2 * len);
	uint8_t *want = malloc(2 * len);
	uint64_t eseen = 0;
	pthread_t t;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(want);
	memset(a, 'A', 2 * len);
	memset(b, 'B', 2 * len);
	atomic_store(&mode, M_OK);
	atomic_store(&verf_last, '1');
	atomic_store(&hold_proc, 0);
	atomic_store(&hold_go, false);
	atomic_store(&held_now, false);
	struct n3 c = ctx(nc, 5000);

	/* the restart between the two writes */
	assert_int_equal(nw_write(s, &c, n, &eseen, a, len, 0), (ssize_t)len);
	nw_settle(s, &c, n);
	atomic_store(&verf_last, '2');
	assert_int_equal(nw_write(s, &c, n, &eseen, b, len, 0), (ssize_t)len);
	nw_settle(s, &c, n);
	int r1 = nw_commit(s, &c, n, &eseen);
	pthread_mutex_lock(&disk_lock);
	char first1 = (char)disk[0];
	bool ok1 = memcmp(disk, b, len) == 0;
	pthread_mutex_unlock(&disk_lock);

	/* the restart after both; the first WRITE sent again held back */
	c = ctx(nc, 5000);
	assert_int_equal(nw_write(s, &c, n, &eseen, a, len, 0), (ssize_t)len);
	assert_int_equal(nw_write(s, &c, n, &eseen, b, len, 0), (ssize_t)len);
	nw_settle(s, &c, n);
	atomic_store(&verf_last, '3');
	atomic_store(&seen[NFS3_WRITE], 0);
	atomic_store(&hold_late, true); /* done when let go */
	atomic_store(&hold_proc, NFS3_WRITE);
	struct commit_op o = { .s = s, .n = n };
	assert_int_equal(pthread_create(&t, NULL, commit_main, &o), 0);
	await_held();
	usleep(300 * 1000);             /* a second WRITE sent meanwhile is
					 * done by now */
	int during = atomic_load(&seen[NFS3_WRITE]);
	atomic_store(&hold_go, true);
	pthread_join(t, NULL);
	pthread_mutex_lock(&disk_lock);
	char first2 = (char)disk[0];
	bool ok2 = memcmp(disk, b, len) == 0;
	pthread_mutex_unlock(&disk_lock);

	/* A over [0, 2 len), then B inside it, across the end of the
	 * first quarter's rewrite and across the start of the last */
	c = ctx(nc, 5000);
	assert_int_equal(nw_write(s, &c, n, &eseen, a, 2 * len, 0),
			 (ssize_t)(2 * len));
	assert_int_equal(nw_write(s, &c, n, &eseen, b, q, q), (ssize_t)q);
	assert_int_equal(nw_write(s, &c, n, &eseen, b, q, len - q / 2),
			 (ssize_t)q);
	assert_int_equal(nw_write(s, &c, n, &eseen, a, 2 * q, q / 2),
			 (ssize_t)(2 * q));
	nw_settle(s, &c, n);
	memcpy(want, a, 2 * len);
	memcpy(want + q, b, q);
	memcpy(want + len - q / 2, b, q);
	memcpy(want + q / 2, a, 2 * q);
	atomic_store(&verf_last, '4');
	int r3 = nw_commit(s, &c, n, &eseen);
	pthread_mutex_lock(&disk_lock);
	bool ok3 = memcmp(disk, want, 2 * len) == 0;
	pthread_mutex_unlock(&disk_lock);

	/* A kept; the server goes away (it hangs up and refuses), a write
	 * of B over A waits for it past its deadline; back, it restarted
	 * and lost what was not committed */
	c = ctx(nc, 5000);
	assert_int_equal(nw_write(s, &c, n, &eseen, a, len, 0), (ssize_t)len);
	nw_settle(s, &c, n);
	atomic_store(&refusing, true);
	while (atomic_load(&listening))
		usleep(5 * 1000);
	struct stat sst;
	c = ctx(nc, 300);
	assert_true(n3_getattr(&c, &n->fh, &sst) < 0);   /* hung up on */
	c = ctx(nc, 300);
	ssize_t w4 = nw_write(s, &c, n, &eseen, b, len, 0);
	atomic_store(&refusing, false);
	int g = -1;
	for (int i = 0; i < 200 && g != 0; i++) {
		c = ctx(nc, 1000);
		g = n3_getattr(&c, &n->fh, &sst);       /* reconnected */
		if (g)
			usleep(10 * 1000);
	}
	assert_int_equal(g, 0);
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, len);                   /* lost with the restart */
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&verf_last, '5');
	c = ctx(nc, 5000);
	int r4 = nw_commit(s, &c, n, &eseen);
	pthread_mutex_lock(&disk_lock);
	bool ok4 = memcmp(disk, a, len) == 0;
	pthread_mutex_unlock(&disk_lock);

	printf("a page written twice (A, B), the server restarted between "
	       "the writes: fsync %d, the disk holds '%c'; after both, the "
	       "first WRITE sent again held back: %d sent before it was let go, "
	       "fsync %d, the disk holds '%c'; pieces rewritten: fsync %d, "
	       "the disk %s; a newer write that did not go (%zd): fsync %d, "
	       "the older bytes %s\n", r1, first1, during, o.r, first2, r3,
	       ok3 ? "exact" : "wrong", w4, r4, ok4 ? "there" : "lost");
	assert_int_equal(r1, 0);
	assert_true(ok1);
	assert_int_equal(o.r, 0);
	assert_true(ok2);
	assert_int_equal(during, 1);    /* B alone went again */
	assert_int_equal(r3, 0);
	assert_true(ok3);
	assert_true(w4 < 0);
	assert_int_equal(r4, 0);
	assert_true(ok4);
	atomic_store(&verf_last, '1');
	free(a);
	free(b);
	free(want);
	nothing_kept_free(nc, s, n, NULL);
}

/* The WRITEs a COMMIT with another verifier (the server restarted) sends
 * again go through the window an ordinary write behind keeps (WB_WINDOW
 * bytes in flight), under the same rule: 16 MiB written behind and
 * answered, the verifier moved on, the fsync's resends answered only
 * once the client stops sending (write_lag): at most 8 MiB of them (128
 * WRITEs of 64 KiB) were out at once, all 256 went, the fsync returns
 * 0 and the disk holds the bytes.  Before, the 256 went at once (a
 * link slower than the data by the deadline failed the last of them). */
static void rewrites_paced(void **state)
{
	const size_t len = 16u << 20, mib = 1u << 20;
	struct nconn *nc = connect_to(10000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	uint8_t *data = malloc(len);

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + i / 65521);
	atomic_store(&mode, M_OK);
	struct n3 c = ctx(nc, 10000);
	for (size_t off = 0; off < len; off += mib)
		assert_int_equal(nw_write(s, &c, n, NULL, data + off, mib,
					  off), (ssize_t)mib);
	nw_settle(s, &c, n);
	assert_int_equal(n->wb_kept, len);      /* below WB_COMMIT_AT */
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, len);                   /* lost with the restart */
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&verf_last, '2');
	atomic_store(&lag_max, 0);
	atomic_store(&write_lag, true);
	unsigned long rw0 = atomic_load(&s->rewrites);
	c = ctx(nc, 10000);
	uint64_t t0 = now_ms();
	int r = nw_commit(s, &c, n, NULL);
	uint64_t took = now_ms() - t0;
	atomic_store(&write_lag, false);
	int most = atomic_load(&lag_max);
	unsigned long rw = atomic_load(&s->rewrites) - rw0;
	pthread_mutex_lock(&disk_lock);
	bool ok = memcmp(disk, data, len) == 0;
	pthread_mutex_unlock(&disk_lock);
	printf("16 MiB kept, the verifier moved on: fsync %d after %llu ms, "
	       "%lu WRITEs sent again, at most %d in flight at once (the "
	       "window: %u), the disk %s\n", r, (unsigned long long)took,
	       rw, most, WB_WINDOW / s->wtmax, ok ? "exact" : "wrong");
	assert_int_equal(r, 0);
	assert_int_equal(rw, len / s->wtmax);
	assert_true(most >= 1);
	assert_true(most <= (int)(WB_WINDOW / s->wtmax));
	assert_true(ok);
	atomic_store(&verf_last, '1');
	nothing_kept_free(nc, s, n, data);
}

/* A write behind's error reaches each open file that was open when it
 * came, at its next fsync or close, once (as Linux's errseq_t has it),
 * and the writes through one that has not reported it fail at once: one
 * file open for writing writes (behind), the server answers its WRITE
 * "not now" until its deadline; another open for writing that wrote
 * nothing closes first, a read-only one is fsynced: each says
 * -ETIMEDOUT, and so does the writer's close (once; its write before it
 * failed at once), while a file opened after says nothing.  Before, the
 * first to report took the error: the other writer's close said
 * -ETIMEDOUT, the writer's next write went out, and its close said 0
 * for the 1 000 bytes the server never took. */
static void write_error_each_open_file(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	void *hw, *hv, *hr, *hl;
	char data[1000];
	off_t off = 0;

	(void)state;
	memset(data, 'e', sizeof(data));
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, 0, 500, true);
	m.s->timeout_ms = 400;
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	assert_int_equal(o->open(&m.sb, m.n, O_WRONLY, &hw), 0);
	assert_int_equal(o->open(&m.sb, m.n, O_WRONLY, &hv), 0);
	assert_int_equal(o->open(&m.sb, m.n, O_RDONLY, &hr), 0);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_WRITE);
	atomic_store(&jukebox_left, -1);
	assert_int_equal(o->write(&m.sb, m.n, hw, data, sizeof(data), &off),
			 (ssize_t)sizeof(data));
	int rv = o->flush(&m.sb, m.n, hv);
	atomic_store(&mode, M_OK);
	off = 0;
	ssize_t w = o->write(&m.sb, m.n, hw, data, sizeof(data), &off);
	int rr = o->fsync(&m.sb, m.n, hr, 0);
	int rw = o->flush(&m.sb, m.n, hw);
	int rw2 = o->flush(&m.sb, m.n, hw);
	assert_int_equal(o->open(&m.sb, m.n, O_WRONLY, &hl), 0);
	int rl = o->flush(&m.sb, m.n, hl);
	printf("a write behind that failed: the other writer's close %d, "
	       "the writer's next write %zd, a read-only fsync %d, the "
	       "writer's close %d (then %d), a file opened after %d\n", rv,
	       w, rr, rw, rw2, rl);
	assert_int_equal(rv, -ETIMEDOUT);
	assert_int_equal(w, -ETIMEDOUT);
	assert_int_equal(rr, -ETIMEDOUT);
	assert_int_equal(rw, -ETIMEDOUT);
	assert_int_equal(rw2, 0);
	assert_int_equal(rl, 0);
	/* reported: the writer writes again, and it lands */
	off = 0;
	assert_int_equal(o->write(&m.sb, m.n, hw, data, sizeof(data), &off),
			 (ssize_t)sizeof(data));
	assert_int_equal(o->flush(&m.sb, m.n, hw), 0);
	pthread_mutex_lock(&disk_lock);
	assert_memory_equal(disk, data, sizeof(data));
	pthread_mutex_unlock(&disk_lock);
	o->release(&m.sb, m.n, hl);
	o->release(&m.sb, m.n, hr);
	o->release(&m.sb, m.n, hv);
	o->release(&m.sb, m.n, hw);
	attr_mount_free(&m, nc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fragments_and_credentials),
		cmocka_unit_test(refusals),
		cmocka_unit_test(stray_xid),
		cmocka_unit_test(xids_not_reused),
		cmocka_unit_test(silent_server_is_fenced),
		cmocka_unit_test(jukebox_asked_again),
		cmocka_unit_test(jukebox_cancelled),
		cmocka_unit_test(jukebox_read_many),
		cmocka_unit_test(jukebox_write_behind),
		cmocka_unit_test(jukebox_read_ahead_dropped),
		cmocka_unit_test(killed_while_sending),
		cmocka_unit_test(silly_remove_jukebox),
		cmocka_unit_test(rmdir_waits_for_silly_remove),
		cmocka_unit_test(rmdir_waits_for_last_close),
		cmocka_unit_test(silly_remove_forced_unmount),
		cmocka_unit_test(silly_remove_close_never_waits),
		cmocka_unit_test(silly_remove_close_part_sent),
		cmocka_unit_test(silly_remove_unmount),
		cmocka_unit_test(silly_open_undo_removes),
		cmocka_unit_test(attrs_read_before_truncate),
		cmocka_unit_test(attrs_getattr_before_write),
		cmocka_unit_test(attrs_newer_ctime_applied),
		cmocka_unit_test(attrs_size_past_off_max),
		cmocka_unit_test(attrs_unknown_type),
		cmocka_unit_test(list_impossible_names),
		cmocka_unit_test(list_cookie_loop),
		cmocka_unit_test(reply_handle_length_absurd),
		cmocka_unit_test(list_many_small_stack),
		cmocka_unit_test(reply_too_large),
		cmocka_unit_test(write_error_each_open_file),
		cmocka_unit_test(read_short_answers),
		cmocka_unit_test(write_short_answers),
		cmocka_unit_test(kept_bytes_newest),
		cmocka_unit_test(rewrites_paced),
		cmocka_unit_test(stale_after_reconnect),
		cmocka_unit_test(stale_when_check_answered_error),
		cmocka_unit_test(stale_dir_checked_after_reconnect),
		cmocka_unit_test(stale_seen_by_getattr),
		cmocka_unit_test(stale_release_sends_nothing),
		cmocka_unit_test(stale_hard_replay_not_sent),
		cmocka_unit_test(stale_hard_replay_link_not_sent),
		cmocka_unit_test(revoke_drops_writes_behind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

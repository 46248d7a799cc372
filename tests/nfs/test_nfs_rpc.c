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
 *    tag, the same) is refused (-EIO);
 *  - a call the server never answers fails with -ETIMEDOUT by its
 *    deadline (plus slack), and the connection it went out on is cut (the
 *    server sees it end: fencing), after which the session reconnects and
 *    the next call succeeds;
 *  - NFS3ERR_JUKEBOX ("not now", nothing done) is asked again after a
 *    growing pause (nfs3_call.c's n3c_call): a server that says it three times
 *    is answered on the fourth try; one that always says it makes the
 *    call -ETIMEDOUT at its deadline, never -EAGAIN.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
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

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "deadline.h"
#include "nfs3.h"
#include "rpc.h"

enum mode { M_OK, M_FRAG, M_DENY, M_BADXID, M_SILENT, M_JUKEBOX };

static int lfd = -1, port;
static pthread_t srv;
static _Atomic int mode = M_OK;
static _Atomic bool stop;
/* what the server saw of the last GETATTR (written by the server thread,
 * read after the call returned: the reply orders them) */
static _Atomic uint32_t seen_uid, seen_gid, seen_ngroups;
static _Atomic int conns_ended;         /* connections that ended */
static _Atomic int jukebox_left;        /* M_JUKEBOX: GETATTRs answered
					 * NFS3ERR_JUKEBOX before an answer
					 * (< 0: all of them) */
static _Atomic int getattrs_seen;

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static int read_full(int fd, void *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)b + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static void write_full(int fd, const void *b, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = send(fd, (const char *)b + off, n - off,
				 MSG_NOSIGNAL);
		if (k <= 0)
			return;
		off += (size_t)k;
	}
}

/* The reply body (after the marks) to call xid: accepted, SUCCESS, with
 * results res (len bytes), or denied. */
static size_t reply_body(uint8_t *b, uint32_t xid, bool deny,
			 const uint8_t *res, size_t len)
{
	size_t o = 0;

	put32(b + o, xid); o += 4;
	put32(b + o, 1); o += 4;                /* REPLY */
	if (deny) {
		put32(b + o, 1); o += 4;        /* MSG_DENIED */
		put32(b + o, 1); o += 4;        /* AUTH_ERROR */
		put32(b + o, 1); o += 4;        /* AUTH_BADCRED */
		return o;
	}
	put32(b + o, 0); o += 4;                /* MSG_ACCEPTED */
	put32(b + o, 0); o += 4;                /* verifier AUTH_NONE */
	put32(b + o, 0); o += 4;
	put32(b + o, 0); o += 4;                /* SUCCESS */
	memcpy(b + o, res, len);
	return o + len;
}

/* A GETATTR3res of fileid 4242, regular, 1234 bytes (or, busy, only
 * the status NFS3ERR_JUKEBOX). */
static size_t getattr_res(uint8_t *b, size_t cap, bool busy)
{
	GETATTR3res r;
	ZDR z;

	memset(&r, 0, sizeof(r));
	r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
	fattr3 *a = &r.GETATTR3res_u.resok.obj_attributes;
	a->type = NF3REG;
	a->mode = 0644;
	a->nlink = 1;
	a->size = 1234;
	a->fileid = 4242;
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	assert_true(zdr_GETATTR3res(&z, &r));
	size_t n = zdr_getpos(&z);
	zdr_destroy(&z);
	return n;
}

/* One connection: answers each call as the mode says, until it ends. */
static void serve(int fd)
{
	for (;;) {
		uint8_t mk[4], *body;
		uint32_t len;

		if (read_full(fd, mk, 4))
			break;
		len = get32(mk) & 0x7fffffffu;
		body = malloc(len);
		if (!body || read_full(fd, body, len)) {
			free(body);
			break;
		}
		uint32_t xid = get32(body), proc = get32(body + 20);
		int m = atomic_load(&mode);
		if (proc == 1 && get32(body + 24) == 1) {
			/* AUTH_SYS: stamp, machine name, uid, gid, groups */
			const uint8_t *c = body + 32;
			uint32_t ml = (get32(c + 4) + 3) & ~3u;
			c += 8 + ml;
			atomic_store(&seen_uid, get32(c));
			atomic_store(&seen_gid, get32(c + 4));
			atomic_store(&seen_ngroups, get32(c + 8));
		}
		free(body);
		if (m == M_SILENT)
			continue;       /* nothing, not even to the probe */
		bool busy = false;
		if (proc == 1) {
			atomic_fetch_add(&getattrs_seen, 1);
			busy = m == M_JUKEBOX &&
			       atomic_fetch_sub(&jukebox_left, 1) != 0;
		}
		uint8_t res[512], out[1024];
		size_t rl = proc == 1 ? getattr_res(res, sizeof(res), busy)
				      : 0;
		size_t bl = reply_body(out + 4, m == M_BADXID ? xid ^ 0x10000u : xid,
				       m == M_DENY && proc == 1, res, rl);
		if (m == M_FRAG && bl > 16) {
			/* three fragments: 5 bytes, 7 bytes, the rest */
			uint8_t f[1100];
			size_t o = 0, cut[3] = { 5, 7, bl - 12 }, at = 4;
			for (int i = 0; i < 3; i++) {
				put32(f + o, (uint32_t)cut[i] |
					     (i == 2 ? 0x80000000u : 0));
				memcpy(f + o + 4, out + at, cut[i]);
				o += 4 + cut[i];
				at += cut[i];
			}
			write_full(fd, f, o);
		} else {
			put32(out, 0x80000000u | (uint32_t)bl);
			write_full(fd, out, 4 + bl);
		}
	}
	atomic_fetch_add(&conns_ended, 1);
	close(fd);
}

static void *conn_main(void *arg)
{
	serve((int)(intptr_t)arg);
	return NULL;
}

/* Each connection in a thread of its own (a reconnect may come while an
 * older connection is still being served). */
static void *server_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		pthread_t t;
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&a, &al))
		return -1;
	port = ntohs(a.sin_port);
	return pthread_create(&srv, NULL, server_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&stop, true);
	pthread_join(srv, NULL);
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
	atomic_store(&mode, M_BADXID);
	assert_int_equal(getattr(nc, NULL, &res, 5000), -EIO);
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
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
	/* three times "not now", then the answer: after 10 + 20 + 40 ms */
	atomic_store(&jukebox_left, 3);
	atomic_store(&getattrs_seen, 0);
	struct n3 c = { .nc = nc };
	deadline_in(&c.dl, 5000);
	uint64_t t0 = now_ms();
	assert_int_equal(n3_getattr(&c, &fh, &st), 0);
	uint64_t took = now_ms() - t0;
	printf("three JUKEBOX answers, then the attributes: %llu ms, %d "
	       "GETATTRs\n", (unsigned long long)took,
	       atomic_load(&getattrs_seen));
	assert_int_equal(st.st_size, 1234);
	assert_int_equal(atomic_load(&getattrs_seen), 4);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fragments_and_credentials),
		cmocka_unit_test(refusals),
		cmocka_unit_test(silent_server_is_fenced),
		cmocka_unit_test(jukebox_asked_again),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_rsession.c - lib/remote's session on its own (session.h,
 * docs/session.md), with a toy protocol over a Unix socketpair whose
 * sending end has a small buffer (SO_SNDBUF), so that a large message is
 * taken in part and the rest would block: a frame is its size (4 bytes,
 * big-endian, the header included), a tag (2 bytes) and a payload (an
 * id, 4 bytes, then bytes that follow from the id and their offset).
 * The server (a thread per connection) reads only when told to, checks
 * every byte of every frame and answers each with an empty frame of its
 * tag.
 *
 * A call started with RS_NOWAIT never waits (NFS's last close of a
 * silly-renamed file, docs/nfs.md):
 *
 *  - one whose message the link took only a part of returns at once (0,
 *    the call SENT), and its waiter finishes the message, so that the
 *    server gets it whole and answers it;
 *  - the next sender finishes it before its own message (a nowait one
 *    that cannot finish it at once is -EAGAIN, nothing of it sent); the
 *    server gets both frames whole, in order;
 *  - a next sender whose deadline passes with the end still unsent
 *    breaks the stream: the link is cut (dead, unsupervised) at that
 *    deadline, not the first call's;
 *  - a kill while the end is kept frees it (ASan: no leak), and nothing
 *    more of it reaches the server;
 *  - a loss (the server hangs up) drops it: the call is lost, and the
 *    next connection carries only what is sent on it, from its first
 *    byte.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deadline.h"
#include "session.h"
#include "supervise.h"
#include "sys.h"

#define HDR     6               /* size, tag */
#define BIG     (256u << 10)    /* far more than the link takes at once */
#define SMALL   1024u
#define MAXF    (4u << 20)

/* ---- the toy protocol --------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t pat(uint32_t id, size_t i)
{
	return (uint8_t)(id * 131u + i * 7u + (i >> 8));
}

static int t_frame_size(const uint8_t *buf, size_t have, uint32_t max,
			uint32_t *size)
{
	uint32_t n = be32(buf);

	(void)have;
	if (n < HDR || n > max)
		return -EPROTO;
	*size = n;
	return 0;
}

static int t_reply_tag(const uint8_t *frame, uint32_t size, uint16_t *tag)
{
	if (size < HDR)
		return -EPROTO;
	*tag = (uint16_t)(frame[4] << 8 | frame[5]);
	return 0;
}

static int t_reply_locked(struct rs_session *s, struct rs_req *rq)
{
	(void)s;
	(void)rq;
	return 0;
}

static const struct rs_proto proto = {
	.frame_size = t_frame_size,
	.reply_tag = t_reply_tag,
	.reply_locked = t_reply_locked,
};

struct msg {
	uint32_t id;
	size_t len;
};

static ssize_t pack(void *arg, uint16_t tag, uint8_t *buf, size_t cap)
{
	const struct msg *m = arg;

	if (cap < m->len)
		return -1;
	put_be32(buf, (uint32_t)m->len);
	buf[4] = (uint8_t)(tag >> 8);
	buf[5] = (uint8_t)tag;
	put_be32(buf + HDR, m->id);
	for (size_t i = HDR + 4; i < m->len; i++)
		buf[i] = pat(m->id, i);
	return (ssize_t)m->len;
}

/* ---- the server: a thread per connection ------------------------------- */

struct conn {
	int fd;                 /* the server's end */
	pthread_t th;
	atomic_bool reading;    /* read (else the link fills up) */
	atomic_bool stop;
	pthread_mutex_t mu;     /* what follows */
	uint32_t ids[16];       /* the frames received whole, in order */
	unsigned nframes;
	bool bad;               /* a frame not as sent, or the framing lost */
	bool eof;
	size_t bytes;           /* every byte read */
};

static void *conn_main(void *arg)
{
	struct conn *k = arg;
	uint8_t *buf = malloc(MAXF);
	size_t have = 0;

	if (!buf)
		abort();
	while (!atomic_load(&k->stop)) {
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		if (!atomic_load(&k->reading) || poll(&p, 1, 10) <= 0) {
			if (!atomic_load(&k->reading))
				usleep(2000);
			continue;
		}
		ssize_t n = read(k->fd, buf + have, MAXF - have);
		if (n <= 0) {
			pthread_mutex_lock(&k->mu);
			k->eof = true;
			pthread_mutex_unlock(&k->mu);
			break;
		}
		pthread_mutex_lock(&k->mu);
		k->bytes += (size_t)n;
		pthread_mutex_unlock(&k->mu);
		have += (size_t)n;
		while (have >= HDR) {
			uint32_t size = be32(buf);
			bool ok = size >= HDR + 4 && size <= MAXF;
			if (ok && have < size)
				break;
			uint32_t id = ok ? be32(buf + HDR) : 0;
			for (size_t i = HDR + 4; ok && i < size; i++)
				ok = buf[i] == pat(id, i);
			pthread_mutex_lock(&k->mu);
			if (!ok)
				k->bad = true;
			else if (k->nframes < 16)
				k->ids[k->nframes++] = id;
			pthread_mutex_unlock(&k->mu);
			if (!ok) {
				have = 0;       /* the framing is lost */
				break;
			}
			uint8_t reply[HDR];
			put_be32(reply, HDR);
			reply[4] = buf[4];
			reply[5] = buf[5];
			(void)!write(k->fd, reply, sizeof(reply));
			memmove(buf, buf + size, have - size);
			have -= size;
		}
	}
	free(buf);
	return NULL;
}

/* A new socketpair: the session's end (small send buffer, non-blocking)
 * as a link, the other served by a new thread (not reading yet). */
static struct conn *conn_new(struct rt_link *l)
{
	struct conn *k = calloc(1, sizeof(*k));
	int sv[2], small = 4096;

	assert_non_null(k);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)), 0);
	assert_int_equal(rt_set_nonblock(sv[0]), 0);
	*l = (struct rt_link){ .fd_r = sv[0], .fd_w = sv[0], .sock = true };
	k->fd = sv[1];
	pthread_mutex_init(&k->mu, NULL);
	assert_int_equal(pthread_create(&k->th, NULL, conn_main, k), 0);
	return k;
}

static void conn_free(struct conn *k)
{
	atomic_store(&k->stop, true);
	pthread_join(k->th, NULL);
	close(k->fd);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* What k received: the count of frames whole, the bytes. */
static unsigned conn_frames(struct conn *k, size_t *bytes, bool *bad)
{
	pthread_mutex_lock(&k->mu);
	unsigned n = k->nframes;
	if (bytes)
		*bytes = k->bytes;
	if (bad)
		*bad = k->bad;
	pthread_mutex_unlock(&k->mu);
	return n;
}

static uint32_t conn_id(struct conn *k, unsigned i)
{
	pthread_mutex_lock(&k->mu);
	uint32_t id = k->ids[i];
	pthread_mutex_unlock(&k->mu);
	return id;
}

/* ---- a session on it, supervised (a new socketpair per connection) or not */

static struct {
	struct rs_session s;
	struct rs_super sv;
	bool supervised;
	pthread_mutex_t mu;
	struct conn *conns[8];  /* mu */
	unsigned nconns;        /* mu */
} T;

static struct conn *conn_at(unsigned i)
{
	struct conn *k = NULL;

	pthread_mutex_lock(&T.mu);
	if (i < T.nconns)
		k = T.conns[i];
	pthread_mutex_unlock(&T.mu);
	return k;
}

static struct conn *conn_add(struct rt_link *l)
{
	struct conn *k = conn_new(l);

	pthread_mutex_lock(&T.mu);
	assert_true(T.nconns < 8);
	T.conns[T.nconns++] = k;
	pthread_mutex_unlock(&T.mu);
	return k;
}

/* What the supervisor's next attempt to start a session meets: 0 (a
 * new connection), or that error (nothing to lose). */
static atomic_int start_err;
static atomic_int start_timeout;        /* the last attempt's bound */

static int sv_start(struct rs_super *sv, int timeout_ms)
{
	struct rt_link l;
	int err = atomic_load(&start_err);

	atomic_store(&start_timeout, timeout_ms);
	if (err)
		return err;
	atomic_store(&conn_add(&l)->reading, true);
	rs_super_set_link(sv, l, 0, -1);
	return 0;
}

static int sv_handshake(struct rs_super *sv)
{
	(void)sv;
	return 0;
}

static int sv_rebuild(struct rs_super *sv, uint64_t gen)
{
	(void)sv;
	(void)gen;
	return 0;
}

static void sv_recovered(struct rs_super *sv)
{
	(void)sv;
}

static const struct rs_super_ops sv_ops = {
	.start = sv_start,
	.handshake = sv_handshake,
	.rebuild = sv_rebuild,
	.recovered = sv_recovered,
};

static void session_up(int timeout_ms, bool supervised)
{
	memset(&T, 0, sizeof(T));
	atomic_store(&start_err, 0);
	atomic_store(&start_timeout, 0);
	pthread_mutex_init(&T.mu, NULL);
	assert_int_equal(rs_session_init(&T.s, &proto), 0);
	T.s.msize = 65536;
	T.s.timeout_ms = timeout_ms;
	conn_add(&T.s.link);
	assert_int_equal(rs_reader_start(&T.s), 0);
	T.supervised = supervised;
	if (supervised) {
		T.sv.s = &T.s;
		T.sv.ops = &sv_ops;
		T.sv.type = "test";
		T.sv.source = "socketpair";
		T.sv.reconnect = true;
		T.sv.nrestarts = 1;
		assert_int_equal(rproc_limit_init(&T.sv.limit, -1, 60000), 0);
		assert_int_equal(rs_super_start(&T.sv), 0);
	}
}

static void session_down(void)
{
	if (T.supervised) {
		rs_super_stop(&T.sv);
		rs_session_fini_wait(&T.s, 0);
		rs_super_teardown(&T.sv, 0);
		rs_session_fini(&T.s, 0);
		rproc_limit_fini(&T.sv.limit);
	} else {
		rs_session_fini(&T.s, 0);
	}
	for (unsigned i = 0; i < T.nconns; i++)
		conn_free(T.conns[i]);
	pthread_mutex_destroy(&T.mu);
}

static uint64_t now_ms(void)
{
	return mono_now_ns() / 1000000u;
}

/* A call started (flags) with a message of id and len, by dl: its
 * rs_call_start's result; *took its time (ms). */
static int start(struct rs_req **rq, uint32_t id, size_t len,
		 struct timespec *dl, unsigned flags, uint64_t *took)
{
	struct msg m = { id, len };
	uint64_t t0 = now_ms();
	int r;

	*rq = rs_req_new(&T.s, RS_CALL);
	assert_non_null(*rq);
	r = rs_call_start(&T.s, *rq, len, pack, &m, NULL, dl, flags);
	if (took)
		*took = now_ms() - t0;
	return r;
}

/* After ms, the server of connection i reads. */
struct later {
	unsigned i;
	int ms;
};

static void *read_later_main(void *arg)
{
	struct later *w = arg;

	usleep((useconds_t)w->ms * 1000);
	atomic_store(&conn_at(w->i)->reading, true);
	return NULL;
}

/* ---- the tests ---------------------------------------------------------- */

/* A nowait call the link took a part of: 0 at once (the call SENT, its
 * end kept); its waiter sends the rest (the server reads after 100 ms)
 * and the server gets the frame whole and answers it. */
static void nowait_part_returns_at_once(void **state)
{
	struct timespec dl;
	struct rs_req *a;
	uint64_t took, t0;
	pthread_t th;
	struct later w = { 0, 100 };
	bool bad;

	(void)state;
	session_up(5000, false);
	deadline_in(&dl, 5000);
	int r = start(&a, 1, BIG, &dl, RS_NOWAIT, &took);
	printf("a nowait call of %u KiB the link took a part of: %d after "
	       "%llu ms (deadline 5000)\n", BIG >> 10, r,
	       (unsigned long long)took);
	assert_int_equal(r, 0);
	assert_true(took < 1000);
	assert_int_equal(conn_frames(conn_at(0), NULL, NULL), 0);

	assert_int_equal(pthread_create(&th, NULL, read_later_main, &w), 0);
	t0 = now_ms();
	rs_call_wait(&T.s, a, &dl, 0);
	took = now_ms() - t0;
	pthread_join(th, NULL);
	printf("its waiter sent the rest: answered after %llu ms\n",
	       (unsigned long long)took);
	assert_true(a->replied);
	assert_int_equal(a->err, 0);
	assert_false(a->timed_out);
	assert_true(took < 2500);
	assert_int_equal(conn_frames(conn_at(0), NULL, &bad), 1);
	assert_false(bad);
	assert_int_equal(conn_id(conn_at(0), 0), 1);
	rs_req_free(&T.s, a);
	session_down();
}

/* The next sender finishes a kept end first: a nowait call behind it
 * that cannot finish it at once is -EAGAIN (nothing of it sent); a call
 * that may wait sends the rest (the server reads after 100 ms) and then
 * its own message; the server gets both whole, in order. */
static void tail_finished_by_next_sender(void **state)
{
	struct timespec dl;
	struct rs_req *a, *b, *c;
	uint64_t took;
	pthread_t th;
	struct later w = { 0, 100 };
	bool bad;

	(void)state;
	session_up(5000, false);
	deadline_in(&dl, 5000);
	assert_int_equal(start(&a, 1, BIG, &dl, RS_NOWAIT, &took), 0);
	assert_true(took < 1000);
	assert_int_equal(start(&c, 3, SMALL, &dl, RS_NOWAIT, &took), -EAGAIN);
	assert_true(took < 1000);
	rs_req_free(&T.s, c);

	assert_int_equal(pthread_create(&th, NULL, read_later_main, &w), 0);
	int r = start(&b, 2, SMALL, &dl, 0, &took);
	pthread_join(th, NULL);
	printf("the next sender finished the kept end and sent its own: %d "
	       "after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, 0);
	rs_call_wait(&T.s, b, &dl, 0);
	rs_call_wait(&T.s, a, &dl, 0);
	assert_true(a->replied);
	assert_true(b->replied);
	assert_int_equal(conn_frames(conn_at(0), NULL, &bad), 2);
	assert_false(bad);
	assert_int_equal(conn_id(conn_at(0), 0), 1);
	assert_int_equal(conn_id(conn_at(0), 1), 2);
	rs_req_free(&T.s, a);
	rs_req_free(&T.s, b);
	session_down();
}

/* The next sender's deadline (500 ms) passes with the kept end still
 * unsent (the server never reads): the stream is broken, the link cut
 * then (dead: unsupervised); every call fails. */
static void tail_breaks_at_next_senders_deadline(void **state)
{
	struct timespec dl, bdl;
	struct rs_req *a, *b;
	uint64_t took;

	(void)state;
	session_up(5000, false);
	deadline_in(&dl, 5000);
	assert_int_equal(start(&a, 1, BIG, &dl, RS_NOWAIT, &took), 0);
	assert_true(took < 1000);
	deadline_in(&bdl, 500);
	int r = start(&b, 2, SMALL, &bdl, 0, &took);
	printf("a sender behind a kept end the link does not take: %d after "
	       "%llu ms (its deadline 500)\n", r, (unsigned long long)took);
	assert_int_equal(r, -EIO);
	assert_true(took >= 400 && took < 2500);
	rs_req_free(&T.s, b);
	rs_call_wait(&T.s, a, &dl, 0);
	assert_int_equal(a->err, -EIO);
	assert_false(a->replied);
	rs_req_free(&T.s, a);
	assert_int_equal(start(&b, 4, SMALL, &dl, 0, NULL), -EIO);
	rs_req_free(&T.s, b);
	session_down();
}

/* A kill (a forced unmount) while an end is kept: its waiter -EIO at
 * once, the end freed (ASan), and nothing more of it reaches the
 * server. */
static void kill_frees_tail(void **state)
{
	struct timespec dl;
	struct rs_req *a;
	uint64_t took, t0;
	size_t bytes = 0;
	bool eof = false;

	(void)state;
	session_up(5000, false);
	deadline_in(&dl, 5000);
	assert_int_equal(start(&a, 1, BIG, &dl, RS_NOWAIT, &took), 0);
	assert_true(took < 1000);
	rs_kill(&T.s);
	t0 = now_ms();
	rs_call_wait(&T.s, a, &dl, 0);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(a->err, -EIO);
	rs_req_free(&T.s, a);
	/* the server reads what had reached it, then the end of the link */
	struct conn *k = conn_at(0);
	atomic_store(&k->reading, true);
	for (int i = 0; i < 400 && !eof; i++) {
		usleep(5000);
		pthread_mutex_lock(&k->mu);
		eof = k->eof;
		bytes = k->bytes;
		pthread_mutex_unlock(&k->mu);
	}
	printf("killed with a kept end: the server had %zu of %u bytes\n",
	       bytes, BIG);
	assert_true(eof);
	assert_true(bytes < BIG);
	assert_int_equal(conn_frames(k, NULL, NULL), 0);
	session_down();
}

/* A loss (the server hangs up) while an end is kept: the call is lost,
 * the end dropped; the supervisor connects again, and the new
 * connection carries only the call sent on it (its first bytes are that
 * frame, whole). */
static void loss_drops_tail(void **state)
{
	struct timespec dl;
	struct rs_req *a, *b;
	uint64_t took;
	size_t bytes;
	bool bad;

	(void)state;
	session_up(5000, true);
	deadline_in(&dl, 5000);
	assert_int_equal(start(&a, 1, BIG, &dl, RS_NOWAIT, &took), 0);
	assert_true(took < 1000);
	shutdown(conn_at(0)->fd, SHUT_RDWR);    /* the server hangs up */
	rs_call_wait(&T.s, a, &dl, 0);
	assert_true(a->lost);
	assert_false(a->replied);
	rs_req_free(&T.s, a);

	struct msg m = { 2, SMALL };
	b = rs_req_new(&T.s, RS_CALL);
	assert_non_null(b);
	assert_int_equal(rs_call(&T.s, b, SMALL, pack, &m, NULL, &dl, 0), 0);
	assert_true(b->replied);
	rs_req_free(&T.s, b);
	struct conn *k = conn_at(1);
	assert_non_null(k);
	assert_int_equal(conn_frames(k, &bytes, &bad), 1);
	printf("after the loss the new connection carried %zu bytes\n",
	       bytes);
	assert_false(bad);
	assert_int_equal(conn_id(k, 0), 2);
	assert_int_equal(bytes, SMALL);
	session_down();
}

/* ---- a cancel and its answer (a protocol with pack_cancel, pack_probe) -- */

#define ID_CANCEL 0xc0000000u   /* | the cancelled call's tag */
#define ID_PROBE  0xb0000000u

static ssize_t t_pack_cancel(uint8_t *buf, size_t cap, uint16_t tag,
			     uint16_t oldtag)
{
	struct msg m = { ID_CANCEL | oldtag, HDR + 4 };

	return pack(&m, tag, buf, cap);
}

static ssize_t t_pack_probe(uint8_t *buf, size_t cap, uint16_t tag)
{
	struct msg m = { ID_PROBE, HDR + 4 };

	return pack(&m, tag, buf, cap);
}

static const struct rs_proto proto_cancel = {
	.frame_size = t_frame_size,
	.reply_tag = t_reply_tag,
	.reply_locked = t_reply_locked,
	.pack_cancel = t_pack_cancel,
	.pack_probe = t_pack_probe,
};

/* The server's end, scripted by the test: the next frame's tag and id
 * (within 3 s). */
static void frame_read(int fd, uint16_t *tag, uint32_t *id)
{
	uint8_t f[HDR + 4];
	size_t got = 0;

	while (got < sizeof(f)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 3000), 1);
		ssize_t n = read(fd, f + got, sizeof(f) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(be32(f), HDR + 4);
	*tag = (uint16_t)(f[4] << 8 | f[5]);
	*id = be32(f + HDR);
}

static void frame_answer(int fd, uint16_t tag)
{
	uint8_t reply[HDR];

	put_be32(reply, HDR);
	reply[4] = (uint8_t)(tag >> 8);
	reply[5] = (uint8_t)tag;
	assert_int_equal(write(fd, reply, sizeof(reply)), sizeof(reply));
}

struct waiter {
	struct rs_req *rq;
	struct timespec dl;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	rs_call_wait(&T.s, w->rq, &w->dl, 0);
	return NULL;
}

/* A call past its deadline is cancelled, and the server answers the call
 * before the cancel: the call's result stands, but its tag is not free
 * until the cancel is answered (9P's flush(5): the client may not reuse
 * oldtag before the Rflush; a request under it meanwhile would be the
 * one the server flushes, and its caller waits out its deadline for a
 * reply that never comes).  The next call, pointed at that tag, takes
 * another; the tag is free again once the cancel's answer came. */
static void flushed_tag_kept_until_cancel_answered(void **state)
{
	struct waiter w;
	struct rs_req *b;
	struct msg m1 = { 1, HDR + 4 }, m2 = { 2, HDR + 4 };
	struct timespec dl;
	uint16_t tag, t1, tc, t2;
	uint32_t id;
	int sv[2];
	pthread_t th;

	(void)state;
	memset(&T, 0, sizeof(T));
	pthread_mutex_init(&T.mu, NULL);
	assert_int_equal(rs_session_init(&T.s, &proto_cancel), 0);
	T.s.msize = 65536;
	T.s.timeout_ms = 400;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	assert_int_equal(rt_set_nonblock(sv[0]), 0);
	T.s.link = (struct rt_link){ .fd_r = sv[0], .fd_w = sv[0],
				     .sock = true };
	assert_int_equal(rs_reader_start(&T.s), 0);

	w.rq = rs_req_new(&T.s, RS_CALL);
	assert_non_null(w.rq);
	deadline_in(&w.dl, 400);
	assert_int_equal(rs_call_start(&T.s, w.rq, HDR + 4, pack, &m1, NULL,
				       &w.dl, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
	frame_read(sv[1], &t1, &id);
	assert_int_equal(id, 1);
	frame_read(sv[1], &tag, &id);   /* half way: the probe */
	assert_int_equal(id, ID_PROBE);
	frame_answer(sv[1], tag);
	frame_read(sv[1], &tc, &id);    /* the deadline: the cancel */
	assert_int_equal(id, ID_CANCEL | t1);
	frame_answer(sv[1], t1);        /* the call's reply beats it */
	pthread_join(th, NULL);
	assert_true(w.rq->replied);
	assert_false(w.rq->flushed);
	rs_req_free(&T.s, w.rq);

	/* the next call, pointed at the call's tag, must take another */
	pthread_mutex_lock(&T.s.lock);
	T.s.hint = t1;
	pthread_mutex_unlock(&T.s.lock);
	b = rs_req_new(&T.s, RS_CALL);
	assert_non_null(b);
	deadline_in(&dl, 2000);
	assert_int_equal(rs_call_start(&T.s, b, HDR + 4, pack, &m2, NULL,
				       &dl, 0), 0);
	frame_read(sv[1], &t2, &id);
	assert_int_equal(id, 2);
	printf("the cancelled call's tag %u, the next call's %u (the "
	       "cancel's answer not come yet)\n", t1, t2);
	assert_int_not_equal(t2, t1);
	frame_answer(sv[1], tc);        /* the cancel's answer */
	frame_answer(sv[1], t2);
	rs_call_wait(&T.s, b, &dl, 0);
	assert_true(b->replied);
	rs_req_free(&T.s, b);
	/* every tag free again: the cancel's answer freed the call's */
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&T.s.lock);
		unsigned used = T.s.nused;
		pthread_mutex_unlock(&T.s.lock);
		if (used == 0)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&T.s.lock);
	assert_int_equal(T.s.nused, 0);
	assert_null(T.s.tags[t1]);
	pthread_mutex_unlock(&T.s.lock);
	rs_session_fini(&T.s, 0);
	close(sv[1]);
	pthread_mutex_destroy(&T.mu);
}

/* ---- transport: a unix: connect to a server that does not accept ------- */

static void on_usr1(int sig)
{
	(void)sig;
}

struct pester {
	pthread_t target;
	atomic_bool stop;
};

static void *pester_main(void *arg)
{
	struct pester *p = arg;

	while (!atomic_load(&p->stop)) {
		pthread_kill(p->target, SIGUSR1);
		usleep(3000);
	}
	return NULL;
}

/* A unix socket in a new directory (dir: its template, made) whose
 * listener (*ls) has a full backlog (*c1 took its one place): a connect
 * to it (path, "unix:...") answers EAGAIN.  full_backlog_end undoes it. */
static void full_backlog(char *dir, char *path, size_t size,
			 struct sockaddr_un *sa, int *ls, int *c1)
{
	assert_non_null(mkdtemp(dir));
	snprintf(path, size, "unix:%s/s", dir);
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/s", dir);
	*ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*ls >= 0);
	assert_int_equal(bind(*ls, (struct sockaddr *)sa, sizeof(*sa)), 0);
	assert_int_equal(listen(*ls, 0), 0);
	*c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(*c1, (struct sockaddr *)sa, sizeof(*sa)), 0);
}

static void full_backlog_end(const char *dir, const struct sockaddr_un *sa,
			     int ls, int c1)
{
	close(c1);
	close(ls);
	unlink(sa->sun_path);
	rmdir(dir);
}

/* A unix: connect to a listener whose backlog is full waits its whole
 * timeout (-ETIMEDOUT then), signals or not: a signal handled meanwhile
 * (a daemon's SIGCHLD, SIGHUP) interrupts the wait (EINTR), which must
 * not end the attempt.  Before, the first EINTR answered -ETIMEDOUT at
 * once: an attempt to reconnect gave up within milliseconds. */
static void unix_connect_waits_through_signals(void **state)
{
	char dir[] = "/tmp/uvfs-rsession-XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_usr1 }, old;
	struct pester pe = { .target = pthread_self() };
	struct rt_link l;
	pthread_t th;
	int ls, c1;

	(void)state;
	full_backlog(dir, path, sizeof(path), &sa, &ls, &c1);

	sigemptyset(&act.sa_mask);      /* no SA_RESTART */
	assert_int_equal(sigaction(SIGUSR1, &act, &old), 0);
	assert_int_equal(pthread_create(&th, NULL, pester_main, &pe), 0);
	int evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(evfd >= 0);
	uint64_t t0 = now_ms();
	int r = rt_connect(path, 500, evfd, NULL, &l);
	uint64_t took = now_ms() - t0;
	atomic_store(&pe.stop, true);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	printf("a connect (timeout 500 ms) under signals: %d after %llu ms\n",
	       r, (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 450);
	assert_true(took < 2000);

	close(evfd);
	full_backlog_end(dir, &sa, ls, c1);
}

static int (*real_poll)(struct pollfd *, nfds_t, int);

static int enomem_poll(struct pollfd *p, nfds_t n, int ms)
{
	(void)p, (void)n, (void)ms;
	errno = ENOMEM;
	return -1;
}

/* A unix: connect whose wait for room in the backlog fails (the poll:
 * ENOMEM here) says so at once: -ENOMEM, not -ETIMEDOUT, which the
 * supervisor takes for a server that does not answer (unreachable: the
 * attempt not counted, soft calls failed at once).  Before, any failed
 * poll answered -ETIMEDOUT, with the time not even out. */
static void unix_connect_poll_failure_is_no_timeout(void **state)
{
	char dir[] = "/tmp/uvfs-rsession-XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rt_link l;
	int ls, c1;

	(void)state;
	full_backlog(dir, path, sizeof(path), &sa, &ls, &c1);

	real_poll = uvfs_sys_set("poll", (void *)enomem_poll);
	assert_non_null(real_poll);
	int r = rt_connect(path, 500, -1, NULL, &l);
	uvfs_sys_set("poll", (void *)real_poll);
	printf("a unix: connect whose poll fails (ENOMEM): %d\n", r);
	if (r == 0)
		rt_link_close(&l);
	full_backlog_end(dir, &sa, ls, c1);
	assert_int_equal(r, -ENOMEM);
}

/* ---- server processes: reaping one that is no longer ours --------------- */

static int (*real_kill)(pid_t, int);
static atomic_int kills_sent;

static int spy_kill(pid_t pid, int sig)
{
	atomic_fetch_add(&kills_sent, 1);
	return real_kill(pid, sig);
}

/* An embedding program that ignores SIGCHLD (a common daemon habit) has
 * its children reaped by the kernel as they exit: the server's pid is
 * then free, and may be another process's by the time we reap.  Reaping
 * a server that is gone (waitpid: ECHILD) returns at once and signals
 * nothing, with a grace period or without.  Before, rproc_reap waited
 * out its grace and then sent SIGKILL to the pid, whoever had it now. */
static void reap_gone_server_signals_nothing(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	pid_t pid;
	int fd, pidfd;

	(void)state;
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_int_equal(rproc_spawn(argv, &pid, &fd, &pidfd), 0);
	/* gone, and reaped by the kernel */
	for (int i = 0; i < 500 && (kill(pid, 0) == 0 || errno != ESRCH);
	     i++)
		usleep(2000);
	assert_int_equal(kill(pid, 0), -1);

	real_kill = uvfs_sys_set("kill", (void *)spy_kill);
	assert_non_null(real_kill);
	uint64_t t0 = now_ms();
	rproc_reap(pid, 300);
	uint64_t took = now_ms() - t0;
	rproc_reap(pid, 0);
	uvfs_sys_set("kill", (void *)real_kill);
	sigaction(SIGCHLD, &old, NULL);
	printf("reaping a server reaped already: %llu ms (grace 300), %d "
	       "signals sent\n", (unsigned long long)took,
	       atomic_load(&kills_sent));
	assert_int_equal(atomic_load(&kills_sent), 0);
	assert_true(took < 150);
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
}

/* ---- a hard mount through an outage ------------------------------------ */

static void *outage_main(void *arg)
{
	(void)arg;
	usleep(500 * 1000);     /* silent, then the host refuses: LOST */
	atomic_store(&start_err, -ECONNREFUSED);
	usleep(150 * 1000);     /* then the server is back */
	atomic_store(&start_err, 0);
	return NULL;
}

/* A hard mount's call waits out UNREACHABLE without a deadline, and its
 * deadline starts again when the server is heard of again: here the host
 * answers first with a refusal (the state turns LOST: the server is being
 * restarted), then the server comes back 150 ms later, within the call's
 * 300 ms.  The call goes out then and is answered.  Before, the deadline
 * started again only at UP: at LOST the call's old deadline, long
 * passed, answered -ETIMEDOUT at once. */
static void hard_call_waits_through_refusal(void **state)
{
	struct msg m = { 1, SMALL };
	struct timespec dl;
	struct rs_req *b;
	pthread_t th;

	(void)state;
	session_up(300, true);
	T.s.hard = true;
	atomic_store(&start_err, -ETIMEDOUT);
	rs_lost(&T.s, rs_sgen(&T.s), -ETIMEDOUT);
	pthread_mutex_lock(&T.s.lock);
	assert_int_equal(T.s.rs.state, RS_UNREACHABLE);
	pthread_mutex_unlock(&T.s.lock);
	assert_int_equal(pthread_create(&th, NULL, outage_main, NULL), 0);

	b = rs_req_new(&T.s, RS_CALL);
	assert_non_null(b);
	deadline_in(&dl, 300);
	uint64_t t0 = now_ms();
	int r = rs_call(&T.s, b, SMALL, pack, &m, NULL, &dl, 0);
	uint64_t took = now_ms() - t0;
	pthread_join(th, NULL);
	printf("a hard call through 500 ms silent and 150 ms refused: %d "
	       "after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, 0);
	assert_true(b->replied);
	rs_req_free(&T.s, b);
	session_down();
}

/* The end of a session seen by two threads (TCP gave up: one reads an
 * EOF, the other the link's ETIMEDOUT) is a loss, then UNREACHABLE
 * (rs_lost).  When the second comes while the supervisor is already
 * tearing down or backing off, its next connect is still an attempt
 * while unreachable, bounded by RS_UNREACH_CONNECT_MS (docs/session.md:
 * the mount is back within about one attempt after the network heals).
 * Before, the supervisor went by the state it saw at the loss: the
 * attempt was bounded by the mount's whole timeout (5 s here). */
static void unreachable_seen_late_bounds_connect(void **state)
{
	uint64_t g;
	bool gone = false;

	(void)state;
	session_up(5000, true);
	atomic_store(&start_err, -ETIMEDOUT);   /* the host stays silent */
	g = rs_sgen(&T.s);
	rs_lost(&T.s, g, -EIO);                 /* one thread: EOF */
	/* the supervisor has seen LOST: the old link is closed */
	for (int i = 0; i < 20000 && !gone; i++) {
		pthread_mutex_lock(&T.s.lock);
		gone = T.s.link.fd_r < 0;
		pthread_mutex_unlock(&T.s.lock);
		if (!gone)
			usleep(50);
	}
	assert_true(gone);
	rs_lost(&T.s, g, -ETIMEDOUT);           /* the other: the error */
	for (int i = 0; i < 200 && !atomic_load(&start_timeout); i++)
		usleep(5000);
	pthread_mutex_lock(&T.s.lock);
	assert_int_equal(T.s.rs.state, RS_UNREACHABLE);
	pthread_mutex_unlock(&T.s.lock);
	printf("the first connect after a loss found unreachable late: "
	       "bounded by %d ms\n", atomic_load(&start_timeout));
	assert_true(atomic_load(&start_timeout) > 0);
	assert_true(atomic_load(&start_timeout) <= RS_UNREACH_CONNECT_MS);
	session_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nowait_part_returns_at_once),
		cmocka_unit_test(tail_finished_by_next_sender),
		cmocka_unit_test(tail_breaks_at_next_senders_deadline),
		cmocka_unit_test(kill_frees_tail),
		cmocka_unit_test(loss_drops_tail),
		cmocka_unit_test(flushed_tag_kept_until_cancel_answered),
		cmocka_unit_test(unix_connect_waits_through_signals),
		cmocka_unit_test(unix_connect_poll_failure_is_no_timeout),
		cmocka_unit_test(reap_gone_server_signals_nothing),
		cmocka_unit_test(hard_call_waits_through_refusal),
		cmocka_unit_test(unreachable_seen_late_bounds_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

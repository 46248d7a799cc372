/*
 * session.c - the 9P session (conn.h): a connection to one server and the
 * requests on it.  It never blocks without a deadline (DESIGN invariants
 * 4 and 9):
 *
 *   caller                          reader thread (per session)
 *   ------                          -------------
 *   rpc(): take a tag (table of     reads only while no caller does
 *     NTAGS), pack, send            (the replies to clunks and flushes,
 *     (non-blocking fd, poll with   late replies, EOF while idle); rests
 *     the deadline)                 while callers read for themselves
 *   nobody reads: take the read
 *     role, read and dispatch       dispatch: frame with p9_frame_size,
 *     (every reply, to its          find the request by tag, unpack and
 *     waiter) until ours is done;   check the reply type, free the tag,
 *     pass the role on              signal the request's condition
 *   else wait on the request's own
 *     condition until the deadline
 *
 *   The read role (c->rd) is held by one thread at a time: a waiting
 *   caller when one is free to (leader/follower: a lone request's reply
 *   wakes only its caller), else the reader thread.  Its holder never
 *   writes.
 *
 *   Request states: SENT -> DONE (reply, or -EIO by kill) and the waiter
 *   frees it; or SENT -> ABANDONED (deadline passed: the waiter returns
 *   -ETIMEDOUT and a Tflush is sent) -> freed by the reader when Rflush
 *   arrives (only then is the tag reused) or by kill.  A late reply to an
 *   abandoned request is honoured: its fid side effects are undone (a fid
 *   it created is clunked).
 *
 *   kill() (a broken stream, framing lost, an oversized message, EOF,
 *   cancel, unmount) completes every waiting request with -EIO at once,
 *   frees the others, wakes every poll through an eventfd, and makes every
 *   later request fail fast.  It never waits for the server.
 *
 *   Clunks are asynchronous: the fid number goes back to the allocator
 *   when Rclunk arrives.  The read role's holder never writes (a reader
 *   stuck behind a writer that waits for the server to read would
 *   deadlock).
 *
 * Owns: struct conn (from conn_init to conn_fini, inside its superblock's
 * private object), struct req (from rpc_x or a clunk/flush to its tag's
 * release), the reader thread of each session (started by reader_start,
 * joined by the supervisor or conn_fini), the read buffer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "sys.h"

/* Takes *busy (one of c's timed locks) by the deadline: 0, -ETIMEDOUT,
 * or -EIO once the connection is dead.  *gen (if not NULL): the session
 * it was taken in. */
static int tlock_take(struct conn *c, bool *busy, const struct timespec *dl,
		      uint64_t *gen)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (*busy && !atomic_load(&c->dead))
		if (pthread_cond_timedwait(&c->lock_cv, &c->lock, dl) ==
		    ETIMEDOUT)
			break;
	if (atomic_load(&c->dead))
		r = -EIO;
	else if (*busy)
		r = -ETIMEDOUT;
	else
		*busy = true;
	if (gen)
		*gen = atomic_load(&c->sgen);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void tlock_give(struct conn *c, bool *busy)
{
	pthread_mutex_lock(&c->lock);
	*busy = false;
	pthread_cond_broadcast(&c->lock_cv);
	pthread_mutex_unlock(&c->lock);
}

/* => c->lock held */
static int fid_alloc_locked(struct conn *c, uint32_t *fid)
{
	if (c->nfree) {
		*fid = c->free_fids[--c->nfree];
		return 0;
	}
	if (c->next_fid == P9_NOFID)
		return -ENFILE;
	*fid = c->next_fid++;
	return 0;
}

int fid_alloc(struct conn *c, uint32_t *fid)
{
	pthread_mutex_lock(&c->lock);
	int r = fid_alloc_locked(c, fid);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Pushes v onto a growable array; on ENOMEM the value is dropped (a fid
 * number lost, never reused: harmless). */
static void push_locked(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		uint32_t *na = sys_realloc(*a, nc * sizeof(*na));
		if (!na)
			return;
		*a = na;
		*cap = nc;
	}
	(*a)[(*n)++] = v;
}

void fid_free_locked(struct conn *c, uint32_t fid)
{
	reg_drop_locked(c, fid);
	push_locked(&c->free_fids, &c->nfree, &c->capfree, fid);
}

void fid_free(struct conn *c, uint32_t fid)
{
	pthread_mutex_lock(&c->lock);
	fid_free_locked(c, fid);
	pthread_mutex_unlock(&c->lock);
}

/* => c->lock held.  fid is given up: a Tclunk will go out (the number is
 * reused after Rclunk).  A new server never gets it again. */
static void clunk_queue_locked(struct conn *c, uint32_t fid)
{
	reg_drop_locked(c, fid);
	push_locked(&c->clunkq, &c->nclunk, &c->capclunk, fid);
}

/* => c->lock held; a free tag exists (nused < NTAGS). */
static uint16_t tag_take_locked(struct conn *c, struct req *rq)
{
	unsigned t = c->hint;

	while (c->tags[t % NTAGS])
		t++;
	t %= NTAGS;
	c->tags[t] = rq;
	c->nused++;
	c->hint = t + 1;
	rq->tag = (uint16_t)t;
	rq->gen = atomic_load(&c->sgen);
	return (uint16_t)t;
}

static void tag_release_locked(struct conn *c, struct req *rq)
{
	if (c->tags[rq->tag] == rq) {
		c->tags[rq->tag] = NULL;
		c->nused--;
		pthread_cond_broadcast(&c->cv);
	}
}

static struct req *req_new(struct conn *c, enum req_kind kind)
{
	struct req *rq = sys_calloc(1, sizeof(*rq));

	if (!rq)
		return NULL;
	rq->kind = kind;
	if (kind == REQ_CALL)
		pthread_cond_init(&rq->cv, &c->cattr);
	return rq;
}

static void req_free(struct req *rq)
{
	if (!rq)
		return;
	if (rq->kind == REQ_CALL)
		pthread_cond_destroy(&rq->cv);
	free(rq->reg.s1);
	free(rq->reg.s2);
	free(rq->rbuf);
	free(rq);
}

static const char *const rq_state_names[] = {
	[RQ_NEW] = "new", [RQ_SENT] = "sent", [RQ_FLUSHING] = "flushing",
	[RQ_DONE] = "done",
};

static const char *const conn_state_names[] = {
	[CS_UP] = "running", [CS_UNREACHABLE] = "unreachable",
	[CS_LOST] = "reconnecting", [CS_RECOVERING] = "recovering",
	[CS_DEAD] = "dead",
};

const char *conn_state_name(enum conn_state st)
{
	return conn_state_names[st];
}

static void state_panic(const char *what, const char *from, const char *to)
{
	fprintf(stderr, "uvfs: 9p: illegal %s transition %s -> %s\n", what,
		from, to);
	abort();
}

/* => c->lock held.  The one place a call's state changes (conn.h). */
static void rq_set_state(struct req *rq, enum rq_state to)
{
	enum rq_state from = rq->state;
	bool legal = (from == RQ_NEW && (to == RQ_SENT || to == RQ_DONE)) ||
		     (from == RQ_SENT && (to == RQ_FLUSHING ||
					  to == RQ_DONE)) ||
		     (from == RQ_FLUSHING && to == RQ_DONE);

	if (!legal)
		state_panic("request", rq_state_names[from],
			    rq_state_names[to]);
	rq->state = to;
	if (to == RQ_DONE)
		pthread_cond_signal(&rq->cv);
}

/* => c->lock held.  The one place the connection's state changes
 * (conn.h); keeps c->dead in step and wakes whoever waits for a state. */
void conn_set_state(struct conn *c, enum conn_state to)
{
	enum conn_state from = c->state;
	bool legal;

	switch (to) {
	case CS_UP:
		legal = from == CS_RECOVERING;
		break;
	case CS_UNREACHABLE:
		legal = from == CS_UP || from == CS_RECOVERING ||
			from == CS_LOST;
		break;
	case CS_LOST:
		legal = from == CS_UP || from == CS_RECOVERING ||
			from == CS_UNREACHABLE;
		break;
	case CS_RECOVERING:
		legal = from == CS_LOST || from == CS_UNREACHABLE;
		break;
	case CS_DEAD:
		legal = from != CS_DEAD;
		break;
	default:
		legal = false;
	}
	if (!legal)
		state_panic("connection", conn_state_names[from],
			    conn_state_names[to]);
	c->state = to;
	if (to == CS_UNREACHABLE)
		c->silent = true;
	else if (to == CS_UP || to == CS_DEAD)
		c->silent = false;
	atomic_store(&c->dead, to == CS_LOST || to == CS_UNREACHABLE ||
		     to == CS_DEAD);
	pthread_cond_broadcast(&c->state_cv);
}

bool conn_recovering_locked(const struct conn *c)
{
	return c->state == CS_LOST || c->state == CS_UNREACHABLE ||
	       c->state == CS_RECOVERING;
}

/* => c->lock held.  A request failed (or was abandoned and is now over):
 * dispose of its fid.  Only queues; the caller drains. */
static void cleanup_locked(struct conn *c, enum cleanup cl, uint32_t fid,
			   bool ok)
{
	if (cl == CL_NONE || c->state == CS_DEAD)
		return;
	if (cl == CL_CLUNK || ok)
		clunk_queue_locked(c, fid);
	else
		fid_free_locked(c, fid);
}

/* => c->lock held.  Every call out is DONE with -EIO (lost: the session
 * died under it), every clunk, flush and probe forgotten. */
static void fail_all_locked(struct conn *c, bool lost)
{
	for (unsigned i = 0; i < NTAGS; i++) {
		struct req *rq = c->tags[i];
		if (!rq)
			continue;
		c->tags[i] = NULL;
		if (rq->kind == REQ_CALL) {
			rq->lost = lost;
			rq->err = -EIO;
			rq->flush = NULL;
			rq_set_state(rq, RQ_DONE);
		} else {
			if (rq->kind == REQ_CLUNK && lost)
				fid_free_locked(c, rq->fid);
			req_free(rq);
		}
	}
	c->nused = 0;
	c->probing = false;
}

/* The connection is lost for good: every waiter gets -EIO now, nothing
 * waits for the server, later requests fail fast, no restart.  The link
 * is cut abortively (abort), so that nothing queued on it is delivered
 * later, or shut down after a clean drain (unmount).  Any thread, any
 * time. */
static void conn_kill_x(struct conn *c, bool abort)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (c->state != CS_DEAD) {
		conn_set_state(c, CS_DEAD);
		fail_all_locked(c, false);
		if (abort)
			rt_link_abort(&c->link);
		c->nused = 0;
		c->nclunk = 0;
		pthread_cond_broadcast(&c->cv);
		pthread_cond_broadcast(&c->lock_cv);
		pthread_cond_broadcast(&c->state_cv);
		pthread_cond_broadcast(&c->sup_cv);
		pthread_cond_broadcast(&c->rd_cv);
	}
	pthread_mutex_unlock(&c->lock);
	if (sys_write(c->evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow from one write per kill */
	}
}

void conn_kill(struct conn *c)
{
	conn_kill_x(c, true);
}

/*
 * Session gen died (EOF, a write error, lost framing, the server's pidfd).
 * Unsupervised: conn_kill.  Supervised: the session is over but the
 * connection lives on: every request waiting for a reply is completed as
 * lost (rpc replays it or fails it with -EIO), clunks and flushes in flight
 * are forgotten (their fid numbers are free: the new server never had
 * them), the socket is shut down (wakes the reader and any writer), and
 * the supervisor is woken.  A stale gen (an older session) does nothing.
 */
/* A loss error that says the peer is silent rather than gone. */
static bool err_unreachable(int err)
{
	return err == -ETIMEDOUT || err == -EHOSTUNREACH ||
	       err == -ENETUNREACH || err == -EHOSTDOWN || err == -ENETDOWN;
}

void conn_lost(struct conn *c, uint64_t gen)
{
	conn_lost_err(c, gen, -EIO);
}

void conn_lost_err(struct conn *c, uint64_t gen, int err)
{
	bool unreach = err_unreachable(err);

	pthread_mutex_lock(&c->lock);
	if (c->state == CS_DEAD || gen != atomic_load(&c->sgen)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->last_err = err;
	if (unreach)
		c->unreachable++;
	if (!c->supervised) {
		pthread_mutex_unlock(&c->lock);
		conn_kill(c);
		return;
	}
	c->losses++;
	if (c->state == CS_UP) {
		clock_gettime(CLOCK_MONOTONIC, &c->lost_at);
		c->lost_wall = time(NULL);
	}
	enum conn_state to = unreach ? CS_UNREACHABLE : CS_LOST;
	if (c->state != to)
		conn_set_state(c, to);
	atomic_store(&c->sgen, gen + 1);
	fail_all_locked(c, true);
	rt_link_abort(&c->link);
	pthread_cond_broadcast(&c->cv);
	pthread_cond_broadcast(&c->lock_cv);
	pthread_cond_broadcast(&c->sup_cv);
	pthread_cond_broadcast(&c->rd_cv);
	pthread_mutex_unlock(&c->lock);
}

/* Session gen ended with err (read_step): -EPROTO (the server broke the
 * framing) on a connection whose server we cannot restart makes the mount
 * dead (reconnecting would replay requests to the same broken server,
 * docs/recovery.md); anything else is a loss. */
static void session_end(struct conn *c, uint64_t gen, int err)
{
	if (err == -EPROTO && c->proto_fatal)
		proto_kill(c, gen);
	else
		conn_lost_err(c, gen, err);
}

/* Writes one whole message of session gen by the deadline.  0;
 * -ETIMEDOUT if nothing was written (the caller may give up cleanly);
 * -EIO if the connection is dead, died here (a message cut in the middle
 * loses the framing), or is in another session now. */
static int send_msg(struct conn *c, const void *buf, size_t len,
		    const struct timespec *dl, uint64_t gen)
{
	size_t off = 0;
	uint64_t g;
	int r = 0;

	r = tlock_take(c, &c->wbusy, dl, &g);
	if (r)
		return r;
	if (g != gen) {
		tlock_give(c, &c->wbusy);
		return -EIO;
	}
	while (off < len) {
		ssize_t n;

		if (atomic_load(&c->dead)) {
			r = -EIO;
			break;
		}
		n = rt_write_some(&c->link, (const char *)buf + off,
				  len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p[2] = {
				{ .fd = c->link.fd_w, .events = POLLOUT },
				{ .fd = c->evfd, .events = POLLIN },
			};
			int ms = ms_left(dl);
			if (ms == 0) {
				r = off ? -EIO : -ETIMEDOUT;
				break;
			}
			if (sys_poll(p, 2, ms) < 0 && errno != EINTR) {
				r = -EIO;
				break;
			}
			continue;
		}
		r = -EIO;
		break;
	}
	tlock_give(c, &c->wbusy);
	if (r == -EIO)
		conn_lost(c, gen);
	return r;
}

/* Sends Tclunk for the queued fids, as many as there are free tags; the
 * numbers are reused when Rclunk arrives.  Never waits for a reply.  Not
 * while a recovery runs (a clunk must follow the walk that recreates the
 * fid on the new server). */
void clunk_drain_by(struct conn *c, const struct timespec *dl)
{
	for (;;) {
		uint8_t buf[P9_HDRSZ + 4];
		struct p9_msg m = { .type = P9_TCLUNK };
		struct req *rq;
		ssize_t len;
		uint32_t fid;
		uint64_t gen;
		int r;

		pthread_mutex_lock(&c->lock);
		if (atomic_load(&c->dead) || conn_recovering_locked(c) ||
		    c->nclunk == 0 || c->nused == NTAGS) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		rq = req_new(c, REQ_CLUNK);
		if (!rq) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		fid = c->clunkq[--c->nclunk];
		rq->fid = fid;
		m.tag = tag_take_locked(c, rq);
		gen = rq->gen;
		pthread_mutex_unlock(&c->lock);

		m.tclunk.fid = fid;
		len = p9_pack(buf, sizeof(buf), &m);
		r = len > 0 ? send_msg(c, buf, (size_t)len, dl, gen) : -EIO;
		if (r == -ETIMEDOUT) {
			pthread_mutex_lock(&c->lock);
			if (atomic_load(&c->sgen) == gen &&
			    c->tags[m.tag] == rq) {
				tag_release_locked(c, rq);
				req_free(rq);
				push_locked(&c->clunkq, &c->nclunk,
					    &c->capclunk, fid);
			}
			pthread_mutex_unlock(&c->lock);
			return;
		}
		if (r)
			return;
	}
}

void clunk_drain(struct conn *c)
{
	struct timespec dl;

	deadline_in(&dl, c->timeout_ms);
	clunk_drain_by(c, &dl);
}

void clunk_async(struct conn *c, uint32_t fid)
{
	bool closing;

	pthread_mutex_lock(&c->lock);
	if (c->state != CS_DEAD)
		clunk_queue_locked(c, fid);
	closing = c->closing;
	pthread_mutex_unlock(&c->lock);
	if (!closing)
		clunk_drain(c);
}

/* The reader of session gen: one complete frame.  Copies what it keeps. */
static void dispatch(struct conn *c, const uint8_t *frame, uint32_t size,
		     uint64_t gen)
{
	struct p9_msg m;
	uint8_t type;
	uint16_t tag;
	void *copy;
	int ur;

	if (p9_peek(frame, size, &type, &tag) != 0)
		return;         /* p9_frame_size guarantees a header */
	copy = sys_malloc(size);
	if (copy) {
		memcpy(copy, frame, size);
		ur = p9_unpack(copy, size, &m);
	} else {
		ur = -ENOMEM;
	}

	pthread_mutex_lock(&c->lock);
	if (gen != atomic_load(&c->sgen))
		goto out;       /* an older session's bytes */
	struct req *rq = tag < NTAGS ? c->tags[tag] : NULL;
	if (!rq) {
		c->unsolicited++;
		goto out;
	}
	switch (rq->kind) {
	case REQ_CLUNK:
		tag_release_locked(c, rq);
		fid_free_locked(c, rq->fid);    /* clunked whatever the reply */
		req_free(rq);
		break;
	case REQ_PROBE:
		tag_release_locked(c, rq);
		c->probing = false;
		req_free(rq);
		break;
	case REQ_FLUSH: {
		/* Rflush: the server will never answer the flushed request;
		 * if its reply came first, it is DONE already (target NULL) */
		struct req *old = rq->target;
		if (old && c->tags[old->tag] == old) {
			tag_release_locked(c, old);
			old->flushed = true;
			old->err = -ETIMEDOUT;
			old->flush = NULL;
			rq_set_state(old, RQ_DONE);
		}
		tag_release_locked(c, rq);
		req_free(rq);
		break;
	}
	case REQ_CALL:
		if (rq->flush) {        /* its reply beat the Rflush */
			rq->flush->target = NULL;
			rq->flush = NULL;
		}
		tag_release_locked(c, rq);
		if (ur != 0 || (type != rq->rtype && type != P9_RLERROR)) {
			c->bad_replies++;
			rq->err = -EIO;
		} else {
			if (type == rq->rtype)
				reg_apply_locked(c, &rq->reg, &m);
			rq->rbuf = copy;
			rq->r = m;
			copy = NULL;
		}
		rq_set_state(rq, RQ_DONE);
		break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	free(copy);
}

/*
 * The read role.  => the calling thread holds it (c->rd) for session gen.
 *
 * Dispatches every complete frame read so far; -EPROTO if the framing is
 * lost (a frame larger than msize or smaller than a header: the caller
 * then ends the session, session_end).
 */
static int read_frames(struct conn *c, uint64_t gen)
{
	if (c->rb_gen != gen) {         /* an older session's bytes */
		c->rb_gen = gen;
		c->rb_start = c->rb_have = 0;
	}
	while (c->rb_have >= 4) {
		uint32_t size;
		if (p9_frame_size(c->rb + c->rb_start, c->rb_have, c->msize,
				  &size) != 0)
			return -EPROTO;
		if (c->rb_have < size)
			break;
		dispatch(c, c->rb + c->rb_start, size, gen);
		c->rb_start += size;
		c->rb_have -= size;
	}
	if (c->rb_start > 0) {
		memmove(c->rb, c->rb + c->rb_start, c->rb_have);
		c->rb_start = 0;
	}
	return 0;
}

/*
 * Waits up to ms (-1: forever) for the socket (fd of session gen), reads
 * once and dispatches.  0 to go on (also on a timeout); 1 if the
 * connection was killed or the session is over; -EIO if the session is
 * lost here (EOF, a read error, the server's pidfd), -EPROTO if the
 * framing is lost: the caller calls session_end(gen, err) once it has
 * given the role up.
 */
static int read_step(struct conn *c, uint64_t gen, int fd, int pidfd,
		     int ms)
{
	struct pollfd p[3] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = c->evfd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	ssize_t n;
	int r = read_frames(c, gen);

	if (r < 0)
		return r;
	n = sys_poll(p, pidfd >= 0 ? 3 : 2, ms);
	if (n < 0 && errno != EINTR)
		return -EIO;
	p[0].revents &= ~POLLNVAL;      /* a link cut and closed under us */
	if (p[1].revents || atomic_load(&c->dead) ||
	    atomic_load(&c->sgen) != gen)
		return 1;
	if (n <= 0)
		return 0;
	if (pidfd >= 0 && p[2].revents && !p[0].revents)
		return -EIO;            /* the server died */
	if (!p[0].revents)
		return 0;
	n = sys_read(fd, c->rb + c->rb_have, c->msize - c->rb_have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)                      /* ETIMEDOUT: TCP gave up */
		return errno == ETIMEDOUT || errno == EHOSTUNREACH ||
		       errno == ENETUNREACH ? -errno : -EIO;
	if (n == 0)
		return -EIO;            /* EOF */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_store(&c->rx_ns, (uint64_t)ts_ns(&now));
	c->rb_have += (size_t)n;
	return read_frames(c, gen);
}

/* The role is free: wakes a caller waiting for its reply, if any, to take
 * it.  => c->lock held. */
static void role_offer_locked(struct conn *c)
{
	if (c->rd != RD_FREE || c->nfollow == 0)
		return;
	for (unsigned i = 0; i < NTAGS; i++) {
		struct req *rq = c->tags[i];
		if (rq && rq->kind == REQ_CALL && rq->state != RQ_DONE) {
			pthread_cond_signal(&rq->cv);
			break;
		}
	}
}

/* Gives the role up and offers it.  => c->lock held. */
static void role_give_locked(struct conn *c)
{
	c->rd = RD_FREE;
	role_offer_locked(c);
	if (c->state != CS_UP)              /* session_teardown waits */
		pthread_cond_broadcast(&c->lock_cv);
	if (c->closing)                     /* the reader thread waits */
		pthread_cond_broadcast(&c->rd_cv);
}

/*
 * A caller waiting for rq's reply reads for itself, until rq is done, the
 * deadline dl, or the session's end.  => c->lock held, the role free, rq
 * of the current session; c->lock held again on return, the role given
 * up.
 */
static void lead_locked(struct conn *c, struct req *rq,
			const struct timespec *dl)
{
	uint64_t gen = rq->gen;
	int fd = c->link.fd_r, pidfd = c->pidfd, r = 0;

	c->rd = RD_CALLER;
	c->demand++;
	while (rq->state != RQ_DONE) {
		int ms = ms_left(dl);
		if (ms == 0)
			break;
		pthread_mutex_unlock(&c->lock);
		r = read_step(c, gen, fd, pidfd, ms);
		pthread_mutex_lock(&c->lock);
		if (r != 0)
			break;
	}
	role_give_locked(c);
	if (r < 0) {
		pthread_mutex_unlock(&c->lock);
		session_end(c, gen, r);
		pthread_mutex_lock(&c->lock);
	}
}

struct reader_arg {
	struct conn *c;
	uint64_t gen;
};

/*
 * The reader thread of session gen: reads whenever no caller does (the
 * replies to asynchronous clunks and flushes, late replies, the end of
 * the session while idle).  While callers read for themselves it rests,
 * until none has wanted the role for REST_MS (or the connection closes).
 */
static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct conn *c = ra->c;
	uint64_t gen = ra->gen;
	int pidfd = c->pidfd;   /* the supervisor set it before starting us */
	int fd = c->link.fd_r, r = 0;
	unsigned long seen;

	free(ra);
	pthread_mutex_lock(&c->lock);
	seen = c->demand;
	for (;;) {
		if (atomic_load(&c->dead) || atomic_load(&c->sgen) != gen)
			break;
		if (!c->closing && (c->rd != RD_FREE || c->demand != seen)) {
			struct timespec dl;
			seen = c->demand;
			deadline_in(&dl, REST_MS);
			pthread_cond_timedwait(&c->rd_cv, &c->lock, &dl);
			continue;
		}
		if (c->rd != RD_FREE) {         /* closing: wait for it */
			pthread_cond_wait(&c->rd_cv, &c->lock);
			continue;
		}
		c->rd = RD_THREAD;
		pthread_mutex_unlock(&c->lock);
		r = read_step(c, gen, fd, pidfd, -1);
		pthread_mutex_lock(&c->lock);
		role_give_locked(c);
		if (r != 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		session_end(c, gen, r);
	return NULL;
}

int reader_start(struct conn *c)
{
	struct reader_arg *ra = sys_malloc(sizeof(*ra));
	int r;

	if (!ra)
		return -ENOMEM;
	if (!c->rb && !(c->rb = sys_malloc(c->msize))) {
		free(ra);
		return -ENOMEM;
	}
	ra->c = c;
	ra->gen = atomic_load(&c->sgen);
	r = -sys_pthread_create(&c->reader, NULL, reader_main, ra);
	if (r)
		free(ra);
	c->reader_started = r == 0;
	return r;
}
void reply_free(struct reply *rp)
{
	free(rp->buf);
	rp->buf = NULL;
}

static int ecode_err(uint32_t e)
{
	return e > 0 && e < 4096 ? -(int)e : -EIO;
}

static __thread struct call_dl tl_call;

void call_begin(const struct conn *c, struct call_dl *saved)
{
	*saved = tl_call;
	if (!tl_call.set) {
		tl_call.set = true;
		deadline_in(&tl_call.dl, c->timeout_ms);
	}
}

void call_end(const struct call_dl *saved)
{
	tl_call = *saved;
}

/*
 * => c->lock held.  Waits (by dl) until a request may be sent: 0, or
 * -EIO (dead; or unreachable on a soft mount: fails fast), -ETIMEDOUT.
 * Internal requests (the supervisor's) go while RECOVERING and never
 * wait.  A hard mount waits out UNREACHABLE without a deadline, until the
 * session is back or the connection is killed (forced unmount).
 */
static int wait_sendable_locked(struct conn *c, bool internal,
				struct timespec *dl)
{
	for (;;) {
		if (c->state == CS_DEAD)
			return -EIO;
		if (internal)
			return c->state == CS_RECOVERING ? 0 : -EIO;
		bool silent = c->state == CS_UNREACHABLE ||
			      (c->state == CS_RECOVERING && c->silent);
		if (silent && !c->hard)
			return -EIO;    /* fail fast */
		if (silent) {
			pthread_cond_wait(&c->state_cv, &c->lock);
			if (c->state == CS_UP) {
				/* hard: the deadline starts again once the
				 * server is back (the call's too) */
				deadline_in(dl, c->timeout_ms);
				if (tl_call.set)
					tl_call.dl = *dl;
			}
			continue;
		}
		if (c->state != CS_UP) {
			/* the server is being restarted: wait for it */
			if (pthread_cond_timedwait(&c->state_cv, &c->lock,
						   dl) == ETIMEDOUT &&
			    c->state != CS_UP)
				return -ETIMEDOUT;
			continue;
		}
		if (c->nused == NTAGS) {
			if (pthread_cond_timedwait(&c->cv, &c->lock, dl) ==
			    ETIMEDOUT && c->nused == NTAGS)
				return -ETIMEDOUT;
			continue;
		}
		return 0;
	}
}

/* => c->lock held.  Waits for rq until DONE or dl (then 0: not DONE),
 * reading for everyone while nobody else does. */
static void wait_until_locked(struct conn *c, struct req *rq,
			      const struct timespec *dl)
{
	while (rq->state != RQ_DONE) {
		int w;

		/* nobody reads: read for ourselves (and for the others) */
		if (c->rd == RD_FREE && rq->gen == atomic_load(&c->sgen) &&
		    !atomic_load(&c->dead) && ms_left(dl) > 0) {
			lead_locked(c, rq, dl);
			continue;
		}
		if (c->rd == RD_THREAD)
			c->demand++;    /* the reader thread rests after this */
		c->nfollow++;
		w = pthread_cond_timedwait(&rq->cv, &c->lock, dl);
		c->nfollow--;
		if (w == ETIMEDOUT)
			break;
	}
	role_offer_locked(c);   /* we may have been woken to read */
}

/* => c->lock held.  Sends one request of kind (a Tflush of target, or a
 * probe: Tgetattr of fid 0) without waiting for its reply; by dl.  0, or
 * it did not go out.  c->lock is dropped meanwhile. */
static int send_aux_locked(struct conn *c, enum req_kind kind,
			   struct req *target, uint64_t gen,
			   const struct timespec *dl)
{
	struct p9_msg m = { .type = kind == REQ_FLUSH ? P9_TFLUSH :
					P9_TGETATTR };
	uint8_t buf[64];
	struct req *aux;
	ssize_t len;
	int r;

	if (c->nused == NTAGS || atomic_load(&c->sgen) != gen ||
	    c->state != CS_UP || !(aux = req_new(c, kind)))
		return -EAGAIN;
	if (kind == REQ_FLUSH) {
		aux->target = target;
		target->flush = aux;
		m.tflush.oldtag = target->tag;
	} else {
		m.tgetattr.fid = 0;     /* the root: attached for good */
		m.tgetattr.request_mask = P9_GETATTR_BASIC;
		c->probing = true;
		c->probes++;
	}
	m.tag = tag_take_locked(c, aux);
	pthread_mutex_unlock(&c->lock);
	len = p9_pack(buf, sizeof(buf), &m);
	r = len > 0 ? send_msg(c, buf, (size_t)len, dl, gen) : -EIO;
	pthread_mutex_lock(&c->lock);
	if (r == -ETIMEDOUT && atomic_load(&c->sgen) == gen &&
	    c->tags[m.tag] == aux) {
		/* not sent */
		tag_release_locked(c, aux);
		if (kind == REQ_FLUSH)
			target->flush = NULL;
		else
			c->probing = false;
		req_free(aux);
	}
	return r;
}

/*
 * => c->lock held, rq SENT (or DONE already).  Waits for rq's reply with
 * the liveness and fencing rules of docs/session.md:
 *
 *   - half way to dl with nothing heard from the server since rq went
 *     out: a probe (Tgetattr of the root), once at a time;
 *   - at dl: Tflush, and wait (a grace of a quarter of the deadline, at
 *     most FLUSH_GRACE_MAX_MS) for the server's word: the reply (rq
 *     happened: its result stands) or Rflush (it did not: -ETIMEDOUT);
 *   - no word by then, or the Tflush could not be sent: the link is
 *     aborted (nothing of rq can reach the server later) and the session
 *     lost (UNREACHABLE if nothing at all was heard since rq went out).
 *
 * Returns with rq DONE; rq->timed_out says the deadline passed.
 */
static void wait_reply_locked(struct conn *c, struct req *rq,
			      const struct timespec *dl, bool internal)
{
	uint64_t gen = rq->gen;
	struct timespec half, fdl;
	long long left = ts_ns(dl) - (long long)rq->sent_ns;
	int grace = c->timeout_ms / 4;

	if (grace > FLUSH_GRACE_MAX_MS)
		grace = FLUSH_GRACE_MAX_MS;
	if (grace < 20)
		grace = 20;
	/* phase 1: up to half the time left, then perhaps a probe */
	if (!internal && left > 2000000) {
		long long h = (long long)rq->sent_ns + left / 2;
		half.tv_sec = h / 1000000000LL;
		half.tv_nsec = h % 1000000000LL;
		wait_until_locked(c, rq, &half);
		if (rq->state != RQ_DONE && !c->probing &&
		    atomic_load(&c->rx_ns) < rq->sent_ns)
			send_aux_locked(c, REQ_PROBE, NULL, gen, dl);
	}
	wait_until_locked(c, rq, dl);
	if (rq->state == RQ_DONE)
		return;
	/* phase 2: the deadline passed: cancel, and wait for the word */
	rq->timed_out = true;
	c->timeouts++;
	rq_set_state(rq, RQ_FLUSHING);
	deadline_in(&fdl, grace);
	if (send_aux_locked(c, REQ_FLUSH, rq, gen, &fdl) == 0)
		wait_until_locked(c, rq, &fdl);
	if (rq->state == RQ_DONE)
		return;
	/* phase 3: no word: cut the link; rq is DONE (lost) after that */
	bool silent = atomic_load(&c->rx_ns) < rq->sent_ns;
	pthread_mutex_unlock(&c->lock);
	conn_lost_err(c, gen, silent ? -ETIMEDOUT : -ECANCELED);
	pthread_mutex_lock(&c->lock);
	while (rq->state != RQ_DONE)    /* a loss or kill completes it */
		pthread_cond_wait(&rq->cv, &c->lock);
}

/*
 * One request.  => t has everything but the tag.
 * 0 and *out filled (reply_free it), or a negative errno: the server's
 * Rlerror, -ETIMEDOUT (deadline passed; a Tflush went out), -EIO (dead
 * connection, bad reply, or the server died under a request that cannot
 * be replayed), -ESTALE (a fid whose file changed identity in a restart),
 * -ENOMEM, -EMSGSIZE (too big for msize).
 * On failure the fid named by cl is disposed of (CL_WALK: freed, or
 * clunked if it turns out the server created it; CL_CLUNK: clunked).
 * On a supervised connection a request waits (deadline) while the server
 * is restarted, and one that was out when the server died is sent again
 * to the new one if it is replayable.
 */
int rpc_x(struct conn *c, struct p9_msg *t, uint8_t rtype,
		 struct reply *out, enum cleanup cl, uint32_t clfid,
		 unsigned flags)
{
	struct timespec dl;
	struct req *rq = NULL;
	ssize_t len;
	void *buf = NULL;
	bool internal = flags & RPC_INTERNAL;
	bool replay = !internal && !(flags & RPC_NOREPLAY) &&
		      replayable(t->type);
	bool have_serial = false;
	uint32_t fids[2];
	int nf = msg_fids(t, fids);
	uint64_t gen;
	int r;

	if (!internal)
		clunk_drain(c);
	deadline_in(&dl, c->timeout_ms);
	if (!internal && tl_call.set && ts_ns(&tl_call.dl) < ts_ns(&dl))
		dl = tl_call.dl;        /* the call's, not a fresh one */
again:
	len = p9_packed_size(t);
	if (len < 0 || (size_t)len > c->msize) {
		r = len < 0 ? -EINVAL : -EMSGSIZE;
		goto fail;
	}
	buf = sys_malloc((size_t)len);
	rq = req_new(c, REQ_CALL);
	/* the supervisor's requests recreate what the registry says: they
	 * must not rewrite it (a re-walk would forget the open flags if the
	 * session died again before the reopen) */
	if (!buf || !rq || (c->track && !internal &&
			    regop_make(t, &rq->reg))) {
		req_free(rq);
		r = -ENOMEM;
		goto fail;
	}
	rq->rtype = rtype;
	rq->cl = cl;
	rq->fid = clfid;

	pthread_mutex_lock(&c->lock);
	r = wait_sendable_locked(c, internal, &dl);
	if (r == 0 && c->serial && !internal) {
		while (r == 0 && !have_serial) {
			pthread_mutex_unlock(&c->lock);
			r = tlock_take(c, &c->serial_busy, &dl, NULL);
			pthread_mutex_lock(&c->lock);
			if (r == 0)
				have_serial = true;
			else if (r == -EIO)     /* dead or lost: wait again */
				r = wait_sendable_locked(c, internal, &dl);
		}
		if (r == 0)
			r = wait_sendable_locked(c, internal, &dl);
	}
	for (int i = 0; r == 0 && i < nf; i++) {
		struct fident *e = reg_get(c, fids[i]);
		if (e && e->stale)
			r = -ESTALE;
	}
	if (r) {
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		goto fail;
	}
	if (r == 0 && ms_left(&dl) == 0)
		r = -ETIMEDOUT; /* the call's deadline passed: never sent */
	if (r) {
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		goto fail;
	}
	if (t->type == P9_TREMOVE)      /* the fid goes whatever happens */
		reg_drop_locked(c, t->tremove.fid);
	t->tag = tag_take_locked(c, rq);
	gen = rq->gen;
	pthread_mutex_unlock(&c->lock);
	p9_pack(buf, (size_t)len, t);

	r = send_msg(c, buf, (size_t)len, &dl, gen);
	free(buf);
	buf = NULL;

	pthread_mutex_lock(&c->lock);
	if (r == -ETIMEDOUT && rq->state == RQ_NEW) {
		/* nothing went out: give the tag back, no flush needed */
		tag_release_locked(c, rq);
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		goto fail;
	}
	if (rq->state == RQ_NEW) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		rq->sent_ns = (uint64_t)ts_ns(&now);
		rq_set_state(rq, RQ_SENT);
	}
	wait_reply_locked(c, rq, &dl, internal);
	/* done: the reader, a kill or a loss freed the tag */
	role_offer_locked(c);   /* we may have been woken to read */
	if (rq->lost && !rq->timed_out) {
		bool again_ok = replay && c->state != CS_DEAD;
		if (again_ok)
			c->replays++;
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		if (have_serial)
			tlock_give(c, &c->serial_busy);
		have_serial = false;
		if (again_ok && ms_left(&dl) > 0)
			goto again;
		r = again_ok ? -ETIMEDOUT : -EIO;
		goto fail_nolock;
	}
	r = rq->timed_out && rq->state == RQ_DONE && !rq->rbuf ? -ETIMEDOUT :
	    rq->err;
	if (r == 0 && rq->r.type == P9_RLERROR)
		r = ecode_err(rq->r.rlerror.ecode);
	if (r)
		cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->lock);
	if (have_serial)
		tlock_give(c, &c->serial_busy);
	if (r) {
		req_free(rq);
		if (!internal)
			clunk_drain(c);
		return r;
	}
	out->buf = rq->rbuf;
	out->m = rq->r;
	rq->rbuf = NULL;
	req_free(rq);
	return 0;

fail:
	if (have_serial)
		tlock_give(c, &c->serial_busy);
fail_nolock:
	free(buf);
	pthread_mutex_lock(&c->lock);
	cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->lock);
	if (!internal)
		clunk_drain(c);
	return r;
}

int rpc(struct conn *c, struct p9_msg *t, uint8_t rtype,
	       struct reply *out, enum cleanup cl, uint32_t clfid)
{
	return rpc_x(c, t, rtype, out, cl, clfid, 0);
}
/* Tversion, synchronously (no reader yet): negotiates c->msize. */
int conn_version(struct conn *c, bool fixed)
{
	struct p9_msg m = { .type = P9_TVERSION, .tag = P9_NOTAG };
	struct timespec dl;
	uint8_t hdr[4], *buf;
	uint32_t size;
	ssize_t len;
	int r;

	m.tversion.msize = c->msize;
	m.tversion.version = P9_STR(P9_VERSION_L);
	uint8_t tbuf[64];
	len = p9_pack(tbuf, sizeof(tbuf), &m);
	if (len < 0)
		return -EINVAL;
	deadline_in(&dl, c->timeout_ms);
	r = send_msg(c, tbuf, (size_t)len, &dl, atomic_load(&c->sgen));
	if (r)
		return r;
	r = rt_read_full(&c->link, hdr, 4, &dl, c->evfd);
	if (r)
		return r;
	r = p9_frame_size(hdr, 4, c->msize, &size);
	if (r)
		return -EPROTO;
	buf = sys_malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, hdr, 4);
	r = rt_read_full(&c->link, buf + 4, size - 4, &dl, c->evfd);
	if (r == 0 && p9_unpack(buf, size, &m) != 0)
		r = -EPROTO;
	if (r == 0 && m.type == P9_RLERROR)
		r = ecode_err(m.rlerror.ecode);
	else if (r == 0 && (m.type != P9_RVERSION ||
			    !p9_str_eq(m.rversion.version, P9_VERSION_L)))
		r = -EPROTONOSUPPORT;
	else if (r == 0 && (m.rversion.msize > c->msize ||
			    m.rversion.msize < MSIZE_MIN))
		r = -EPROTO;
	if (r == 0 && c->msize != m.rversion.msize) {
		if (fixed)
			r = -EPROTO;    /* a restarted server: same msize */
		else
			c->msize = m.rversion.msize;
	}
	free(buf);
	return r;
}

int conn_init(struct conn *c)
{
	c->evfd = sys_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->evfd < 0)
		return -errno;
	pthread_condattr_init(&c->cattr);
	pthread_condattr_setclock(&c->cattr, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, &c->cattr);
	pthread_cond_init(&c->lock_cv, &c->cattr);
	pthread_cond_init(&c->state_cv, &c->cattr);
	pthread_cond_init(&c->sup_cv, &c->cattr);
	pthread_cond_init(&c->rd_cv, &c->cattr);
	atomic_init(&c->dead, false);
	atomic_init(&c->sgen, 0);
	c->pidfd = -1;
	c->next_fid = 1;        /* fid 0 is the root */
	return 0;
}

/* Waits (bounded) for the requests in flight, kills, joins the reader,
 * closes and frees everything. */
void conn_fini_wait(struct conn *c, int drain_ms)
{
	struct timespec dl;

	deadline_in(&dl, drain_ms);
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->dead) && c->nused > 0)
		if (pthread_cond_timedwait(&c->cv, &c->lock, &dl) == ETIMEDOUT)
			break;
	bool drained = c->nused == 0;
	pthread_mutex_unlock(&c->lock);
	/* drained: nothing is left to fence, the link closes gracefully
	 * (a reset could still hit a reply the server is writing) */
	conn_kill_x(c, !drained);
}

void conn_fini(struct conn *c, int drain_ms)
{
	conn_fini_wait(c, drain_ms);
	if (c->state != CS_DEAD || c->nused)
		rt_link_abort(&c->link);
	else if (c->link.fd_r >= 0)     /* wakes the reader */
		sys_shutdown(c->link.fd_r, SHUT_RDWR);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	rt_link_close(&c->link);
	sys_close(c->evfd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->lock_cv);
	pthread_cond_destroy(&c->state_cv);
	pthread_cond_destroy(&c->sup_cv);
	pthread_cond_destroy(&c->rd_cv);
	pthread_condattr_destroy(&c->cattr);
	free(c->rb);
	for (size_t i = 0; i < c->nfidents; i++)
		free(c->fids[i].path);
	free(c->fids);
	free(c->free_fids);
	free(c->clunkq);
}

uint64_t conn_sgen(struct conn *c)
{
	return atomic_load(&c->sgen);
}

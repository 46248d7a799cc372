/*
 * session.c - a protocol-independent session with a remote server
 * (session.h, docs/session.md).
 *
 *   caller                          reader thread (per session)
 *   ------                          -------------
 *   rs_call(): take a tag (table    reads only while no caller does
 *     of RS_NTAGS), pack, send      (the replies to AUX requests,
 *     (non-blocking link, poll      cancels and probes, late replies,
 *     with the deadline)            EOF while idle); rests while
 *   nobody reads: take the read     callers read for themselves
 *     role, read and dispatch
 *     (every reply, to its          dispatch: frame (proto), find the
 *     waiter) until ours is done;   request by tag (proto), hand the
 *     pass the role on              reply to the protocol, free the
 *   else wait on the request's own  tag, signal the request's waiter
 *     condition until the deadline
 *
 *   The read role (c->rd) is held by one thread at a time: a waiting
 *   caller when one is free to (leader/follower: a lone request's reply
 *   wakes only its caller), else the reader thread.  Its holder never
 *   writes (a reader stuck behind a writer that waits for the server to
 *   read would deadlock).
 *
 *   A call's states (rstate.h): NEW -> SENT -> DONE (its reply, a kill or
 *   a loss) and its waiter frees it; a call given up (rs_call_abandon)
 *   has no waiter: the reply's dispatch or the loss frees it instead.
 *   At its deadline: SENT -> FLUSHING
 *   (the protocol's cancel goes out) and the waiter stays for the
 *   server's word: the reply (it happened: its result stands), the
 *   cancel's answer (it did not: -ETIMEDOUT), or nothing within the
 *   grace: the link is cut abortively (a loss) and it is DONE as lost.
 *   So a failed call never reaches the server later (fencing).  A probe
 *   goes out at half the deadline if the server said nothing since the
 *   call was sent.  A call started with RS_NOWAIT whose message the link
 *   took only a part of is SENT with its end kept by the session (the
 *   tail, session_send.c): its waiter sends that end first, unless the
 *   next writer did.
 *
 *   rs_kill() (cancel, unmount, a loss without supervision) completes
 *   every waiting call with -EIO at once, forgets the others, drops the
 *   tail, cuts the link abortively, wakes every poll through an eventfd,
 *   and makes every later call fail fast.  It never waits for the
 *   server.  rs_lost() on a supervised session does the same for one
 *   session (gen) and hands over to the protocol's supervisor.
 *
 * Owns: the tag table, the read buffer, the reader thread of each
 * session, the CANCEL and PROBE requests.  The sending half (the timed
 * locks, writing a whole message, the tail, corking) is session_send.c's
 * (session_i.h).
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

#include "deadline.h"
#include "session_i.h"
#include "sys.h"

/* A request up to this size is packed on the caller's stack (rs_call). */
#define RS_SMALL_MSG 256

/* What the slot of a call's tag holds once its reply beat its cancel:
 * the tag is not free until the cancel is answered (or known not sent,
 * or the session ends).  9P's flush(5): oldtag is not reused before the
 * Rflush; a request under it meanwhile may be the one the server
 * flushes (no reply ever: its caller waits out its deadline).  Never
 * dispatched, freed or offered the read role. */
static struct rs_req tag_fenced = { .kind = RS_CANCEL };

/* => c->lock held.  The slot of a tag the cancel rq fences, free. */
static void tag_unfence_locked(struct rs_session *c, struct rs_req *rq)
{
	if (rq->fences && c->tags[rq->oldtag] == &tag_fenced) {
		c->tags[rq->oldtag] = NULL;
		c->nused--;
		pthread_cond_broadcast(&c->cv);
	}
	rq->fences = false;
}

/* => c->lock held; a free tag exists (nused < RS_NTAGS). */
static uint16_t tag_take_locked(struct rs_session *c, struct rs_req *rq)
{
	unsigned t = c->hint;

	while (c->tags[t % RS_NTAGS])
		t++;
	t %= RS_NTAGS;
	c->tags[t] = rq;
	c->nused++;
	c->hint = t + 1;
	rq->tag = (uint16_t)t;
	rq->gen = atomic_load(&c->sgen);
	return (uint16_t)t;
}

static void tag_release_locked(struct rs_session *c, struct rs_req *rq)
{
	if (c->tags[rq->tag] == rq) {
		c->tags[rq->tag] = NULL;
		c->nused--;
		pthread_cond_broadcast(&c->cv);
	}
}

struct rs_req *rs_req_new(struct rs_session *c, enum rs_kind kind)
{
	/* malloc and memset, not calloc: glibc's calloc skips the
	 * per-thread cache, and a request is made and freed per call */
	struct rs_req *rq = sys_malloc(sizeof(*rq));

	(void)c;        /* (rs_req_free's pair, which uses it) */
	if (!rq)
		return NULL;
	memset(rq, 0, sizeof(*rq));
	rq->kind = kind;
	if (kind == RS_CALL)
		cond_init_monotonic(&rq->cv);
	return rq;
}

void rs_req_free(struct rs_session *c, struct rs_req *rq)
{
	if (!rq)
		return;
	if (rq->kind == RS_CALL)
		pthread_cond_destroy(&rq->cv);
	if (rq->pd && c->proto->req_free)
		c->proto->req_free(rq->pd);
	free(rq->reply);
	free(rq);
}

/* => c->lock held.  The one place a call's state changes. */
static void rq_set_state(struct rs_req *rq, enum rs_rq_state to)
{
	rq->state = rs_rq_next(rq->state, to);
	if (to == RS_RQ_DONE)
		pthread_cond_signal(&rq->cv);
}

/* => c->lock held.  Every call out is DONE with -EIO (lost: the session
 * died under it), every AUX request handed back to the protocol, every
 * cancel and probe forgotten. */
static void fail_all_locked(struct rs_session *c, bool lost)
{
	for (unsigned i = 0; i < RS_NTAGS; i++) {
		struct rs_req *rq = c->tags[i];
		if (!rq)
			continue;
		c->tags[i] = NULL;
		if (rq == &tag_fenced)
			continue;       /* (its cancel is forgotten too) */
		if (rq->kind == RS_CALL && rq->abandoned) {
			rs_req_free(c, rq);     /* nobody waits for it */
		} else if (rq->kind == RS_CALL) {
			rq->lost = lost;
			rq->err = -EIO;
			rq->cancel = NULL;
			rq_set_state(rq, RS_RQ_DONE);
		} else {
			if (rq->kind == RS_AUX && c->proto->aux_done_locked)
				c->proto->aux_done_locked(c, rq, true);
			rs_req_free(c, rq);
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
static void kill_x(struct rs_session *c, bool abort)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (c->rs.state != RS_DEAD) {
		rs_set_state(&c->rs, RS_DEAD);
		fail_all_locked(c, false);
		rs_tail_drop_locked(c);
		if (abort)
			rt_link_abort(&c->link);
		c->nused = 0;
		pthread_cond_broadcast(&c->cv);
		pthread_cond_broadcast(&c->lock_cv);
		pthread_cond_broadcast(&c->rs.cv);
		pthread_cond_broadcast(&c->sup_cv);
		pthread_cond_broadcast(&c->rd_cv);
	}
	pthread_mutex_unlock(&c->lock);
	/* The wake-up of every poll() on the session.  An eventfd write of
	 * 1 fails only by overflow, which one write per kill cannot reach;
	 * should it fail all the same (EINTR, an injected fault), try
	 * again, then cut the link: a poll() on it wakes at its end.
	 * (Without this a clean unmount waited forever for the reader.) */
	for (int i = 0; i < 4; i++)
		if (sys_write(c->evfd, &one, sizeof(one)) >= 0 ||
		    errno == EAGAIN)
			return;
	pthread_mutex_lock(&c->lock);
	rt_link_abort(&c->link);
	pthread_mutex_unlock(&c->lock);
}

void rs_kill(struct rs_session *c)
{
	kill_x(c, true);
}

void rs_lost(struct rs_session *c, uint64_t gen, int err)
{
	bool unreach = rs_err_unreachable(err);

	pthread_mutex_lock(&c->lock);
	if (c->rs.state == RS_LOST && gen + 1 == atomic_load(&c->sgen) &&
	    unreach) {
		/* two threads saw the end of one session: the other took an
		 * EOF, this one the link's own error (TCP gave up: the
		 * error is read once).  The peer is silent, not gone. */
		c->last_err = err;
		c->unreachable++;
		rs_set_state(&c->rs, RS_UNREACHABLE);
		pthread_cond_broadcast(&c->sup_cv);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (c->rs.state == RS_DEAD || gen != atomic_load(&c->sgen)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->last_err = err;
	if (unreach)
		c->unreachable++;
	if (!c->supervised) {
		pthread_mutex_unlock(&c->lock);
		rs_kill(c);
		return;
	}
	c->losses++;
	if (c->rs.state == RS_UP) {
		clock_gettime(CLOCK_MONOTONIC, &c->lost_at);
		c->lost_wall = time(NULL);
	}
	enum rs_state to = unreach ? RS_UNREACHABLE : RS_LOST;
	if (c->rs.state != to)
		rs_set_state(&c->rs, to);
	atomic_store(&c->sgen, gen + 1);
	fail_all_locked(c, true);
	rs_tail_drop_locked(c);         /* never sent on the next link */
	rt_link_abort(&c->link);
	pthread_cond_broadcast(&c->cv);
	pthread_cond_broadcast(&c->lock_cv);
	pthread_cond_broadcast(&c->sup_cv);
	pthread_cond_broadcast(&c->rd_cv);
	pthread_mutex_unlock(&c->lock);
}

/* Session gen ended with err (read_step): -EPROTO (the server broke the
 * framing) on a session whose server we cannot restart makes it dead
 * (reconnecting would replay requests to the same broken server); anything
 * else is a loss. */
static void session_end(struct rs_session *c, uint64_t gen, int err)
{
	if (err == -EPROTO && c->proto_fatal && c->proto->violation)
		c->proto->violation(c, gen);
	else if (err == -EPROTO && c->proto_fatal)
		rs_kill(c);
	else
		rs_lost(c, gen, err);
}

/* The reader of session gen: one complete frame.  Copies what it keeps. */
static void dispatch(struct rs_session *c, const uint8_t *frame,
		     uint32_t size, uint64_t gen)
{
	uint16_t tag;
	void *copy;

	if (c->proto->reply_tag(frame, size, &tag) != 0)
		return;         /* frame_size guarantees a header */
	copy = sys_malloc(size);
	if (copy)
		memcpy(copy, frame, size);

	pthread_mutex_lock(&c->lock);
	if (gen != atomic_load(&c->sgen))
		goto out;       /* an older session's bytes */
	struct rs_req *rq = tag < RS_NTAGS ? c->tags[tag] : NULL;
	if (!rq || rq == &tag_fenced) {
		c->unsolicited++;
		goto out;
	}
	switch (rq->kind) {
	case RS_AUX:
		tag_release_locked(c, rq);
		if (c->proto->aux_done_locked)
			c->proto->aux_done_locked(c, rq, false);
		rs_req_free(c, rq);
		break;
	case RS_PROBE:
		tag_release_locked(c, rq);
		c->probing = false;
		rs_req_free(c, rq);
		break;
	case RS_CANCEL: {
		/* the cancel's answer: the server will never answer the
		 * cancelled call; if its reply came first, it is DONE
		 * already (target NULL) */
		struct rs_req *old = rq->target;
		if (old && c->tags[old->tag] == old) {
			tag_release_locked(c, old);
			old->flushed = true;
			old->err = -ETIMEDOUT;
			old->cancel = NULL;
			rq_set_state(old, RS_RQ_DONE);
		}
		tag_unfence_locked(c, rq);      /* the call's tag is free */
		tag_release_locked(c, rq);
		rs_req_free(c, rq);
		break;
	}
	case RS_CALL:
		if (rq->abandoned) {    /* nobody waits: dropped */
			tag_release_locked(c, rq);
			rs_req_free(c, rq);
			break;
		}
		if (c->proto->reply_ours_locked &&
		    !c->proto->reply_ours_locked(c, rq, frame, size)) {
			/* another request's reply on its tag (RFC 5531: a
			 * reply to no call out is dropped): rq waits on */
			c->strays++;
			break;
		}
		if (rq->cancel) {
			/* its reply beat the cancel's: its tag stays taken
			 * until the cancel's answer (tag_fenced) */
			rq->cancel->target = NULL;
			rq->cancel->fences = true;
			rq->cancel = NULL;
			c->tags[rq->tag] = &tag_fenced;
		} else {
			tag_release_locked(c, rq);
		}
		/* no memory for a copy: the protocol takes what it can from
		 * the frame itself (a reply with no data), else ENOMEM */
		rq->borrowed = !copy;
		rq->reply = copy ? copy : (void *)frame;
		rq->reply_len = size;
		copy = NULL;
		int hr = c->proto->reply_locked(c, rq);
		if (rq->borrowed)
			rq->reply = NULL;
		if (hr == -ENOMEM && rq->borrowed) {
			rq->err = -ENOMEM;
		} else if (hr != 0) {
			c->bad_replies++;
			free(rq->reply);
			rq->reply = NULL;
			rq->err = -EIO;
		} else {
			rq->replied = true;
		}
		rq->borrowed = false;
		rq_set_state(rq, RS_RQ_DONE);
		break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	free(copy);
}

/* The frame at buf (have bytes) broke the framing of session gen: the
 * call it answers, if the protocol can tell (bad_frame_locked), fails
 * now with -EIO, a bad reply, instead of being lost with the others in
 * the loss that follows, which would send it again after the reconnect
 * to a server that answers it so again (an RPC reply larger than any
 * asked for: before, a reconnect after each, until the call's
 * deadline). */
static void blame_frame(struct rs_session *c, const uint8_t *buf,
			size_t have, uint64_t gen)
{
	uint16_t tag;

	if (!c->proto->bad_frame_locked ||
	    c->proto->reply_tag(buf, have > UINT32_MAX ? UINT32_MAX :
				(uint32_t)have, &tag) != 0)
		return;
	pthread_mutex_lock(&c->lock);
	struct rs_req *rq = gen == atomic_load(&c->sgen) && tag < RS_NTAGS ?
			    c->tags[tag] : NULL;
	/* NEW: its sender has not marked it sent yet, but the server
	 * answered it (its XID) */
	if (rq && rq != &tag_fenced && rq->kind == RS_CALL &&
	    (rq->state == RS_RQ_NEW || rq->state == RS_RQ_SENT) &&
	    !rq->abandoned && !rq->cancel &&
	    c->proto->bad_frame_locked(c, rq, buf, have)) {
		tag_release_locked(c, rq);
		c->bad_replies++;
		rq->err = -EIO;
		rq_set_state(rq, RS_RQ_DONE);
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * The read role.  => the calling thread holds it (c->rd) for session gen.
 *
 * Dispatches every complete frame read so far; -EPROTO if the framing is
 * lost (a frame larger than msize or smaller than a header: the caller
 * then ends the session, session_end; the call the frame answers, if it
 * can be told, fails first, blame_frame).
 */
static int read_frames(struct rs_session *c, uint64_t gen)
{
	if (c->rb_gen != gen) {         /* an older session's bytes */
		c->rb_gen = gen;
		c->rb_start = c->rb_have = 0;
	}
	while (c->rb_have >= 4) {
		uint32_t size;
		if (c->proto->frame_size(c->rb + c->rb_start, c->rb_have,
					 c->msize, &size) != 0) {
			blame_frame(c, c->rb + c->rb_start, c->rb_have, gen);
			return -EPROTO;
		}
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
static int read_step(struct rs_session *c, uint64_t gen, int fd, int pidfd,
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
	if (p[1].revents || atomic_load(&c->rs.dead) ||
	    atomic_load(&c->sgen) != gen)
		return 1;
	if (n <= 0)
		return 0;
	if (pidfd >= 0 && p[2].revents && !p[0].revents)
		return -EIO;            /* the server died */
	if (!p[0].revents)
		return 0;
	if (p[0].revents & POLLERR) {   /* the link's error says why */
		int err = 0;
		socklen_t el = sizeof(err);
		if (sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err)
			return rs_err_unreachable(-err) ? -err : -EIO;
	}
	n = sys_read(fd, c->rb + c->rb_have, c->msize - c->rb_have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)                      /* ETIMEDOUT: TCP gave up */
		return rs_err_unreachable(-errno) ? -errno : -EIO;
	if (n == 0)
		return -EIO;            /* EOF */
	atomic_store(&c->rx_ns, mono_now_ns());
	c->rb_have += (size_t)n;
	return read_frames(c, gen);
}

/* The role is free: wakes a caller waiting for its reply, if any, to take
 * it.  => c->lock held. */
static void role_offer_locked(struct rs_session *c)
{
	if (c->rd != RD_FREE || c->nfollow == 0)
		return;
	for (unsigned i = 0; i < RS_NTAGS; i++) {
		struct rs_req *rq = c->tags[i];
		if (rq && rq != &tag_fenced && rq->kind == RS_CALL &&
		    rq->state != RS_RQ_DONE &&
		    !rq->abandoned) {
			pthread_cond_signal(&rq->cv);
			break;
		}
	}
}

/* Gives the role up and offers it.  => c->lock held. */
static void role_give_locked(struct rs_session *c)
{
	c->rd = RD_FREE;
	role_offer_locked(c);
	if (c->rs.state != RS_UP)              /* session_teardown waits */
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
static void lead_locked(struct rs_session *c, struct rs_req *rq,
			const struct timespec *dl)
{
	uint64_t gen = rq->gen;
	int fd = c->link.fd_r, pidfd = c->pidfd, r = 0;

	c->rd = RD_CALLER;
	c->demand++;
	while (rq->state != RS_RQ_DONE) {
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
	struct rs_session *c;
	uint64_t gen;
};

/*
 * The reader thread of session gen: reads whenever no caller does (the
 * replies to asynchronous clunks and flushes, late replies, the end of
 * the session while idle).  While callers read for themselves it rests,
 * until none has wanted the role for RS_REST_MS (or the connection closes).
 */
static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct rs_session *c = ra->c;
	uint64_t gen = ra->gen;
	int pidfd = c->pidfd;   /* the supervisor set it before starting us */
	int fd = c->link.fd_r, r = 0;
	unsigned long seen;

	free(ra);
	pthread_mutex_lock(&c->lock);
	seen = c->demand;
	for (;;) {
		if (atomic_load(&c->rs.dead) || atomic_load(&c->sgen) != gen)
			break;
		if (!c->closing && (c->rd != RD_FREE || c->demand != seen)) {
			struct timespec dl;
			seen = c->demand;
			deadline_in(&dl, RS_REST_MS);
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

int rs_reader_start(struct rs_session *c)
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

/*
 * => c->lock held.  Waits (by dl) until a request may be sent: 0, or
 * -EIO (dead; or unreachable on a soft mount: fails fast), -ETIMEDOUT
 * (also at once, whatever the state, if dl has passed already: nothing
 * was written by the deadline; a request of a call that starts after
 * its deadline).
 * Internal requests (the supervisor's) go while RECOVERING and never
 * wait.  A hard mount waits out UNREACHABLE without a deadline, until the
 * session is back or the connection is killed (forced unmount).  nowait
 * (RS_NOWAIT): -EAGAIN where it would wait.
 */
static int wait_sendable_locked(struct rs_session *c, bool internal,
				bool nowait, struct timespec *dl)
{
	if (!internal && ms_left(dl) == 0)
		return -ETIMEDOUT;
	for (;;) {
		if (c->rs.state == RS_DEAD)
			return -EIO;
		if (internal)
			return c->rs.state == RS_RECOVERING ? 0 : -EIO;
		bool silent = rs_silent(&c->rs);
		if (silent && !c->hard)
			return -EIO;    /* fail fast */
		if (nowait && (silent || c->rs.state != RS_UP ||
			       c->nused == RS_NTAGS))
			return -EAGAIN;
		if (silent) {
			pthread_cond_wait(&c->rs.cv, &c->lock);
			if (!rs_silent(&c->rs) && c->rs.state != RS_DEAD) {
				/* hard: the deadline starts again once the
				 * server is heard of again (the call's too):
				 * UP, or LOST (the host refused: a server
				 * being restarted is waited for by it) */
				deadline_in(dl, c->timeout_ms);
				rs_call_restart(dl);
			}
			continue;
		}
		if (c->rs.state != RS_UP) {
			/* the server is being restarted: wait for it */
			if (pthread_cond_timedwait(&c->rs.cv, &c->lock,
						   dl) == ETIMEDOUT &&
			    c->rs.state != RS_UP)
				return -ETIMEDOUT;
			continue;
		}
		if (c->nused == RS_NTAGS) {
			if (pthread_cond_timedwait(&c->cv, &c->lock, dl) ==
			    ETIMEDOUT && c->nused == RS_NTAGS)
				return -ETIMEDOUT;
			continue;
		}
		return 0;
	}
}

/* => c->lock held.  Waits for rq until DONE or dl (then 0: not DONE),
 * reading for everyone while nobody else does.  First, whenever the end
 * of rq's message is the session's tail (RS_NOWAIT), nobody else being
 * bound to send it, sends it by cdl, the call's deadline (not all of it
 * by then: the link is cut, rq DONE, timed out). */
static void wait_until_locked(struct rs_session *c, struct rs_req *rq,
			      const struct timespec *dl,
			      const struct timespec *cdl)
{
	while (rq->state != RS_RQ_DONE) {
		int w;

		if (rs_tail_flush_locked(c, rq, cdl) == -ETIMEDOUT &&
		    !rq->replied) {
			rq->timed_out = true;
			c->timeouts++;
		}
		if (rq->state == RS_RQ_DONE)
			break;
		/* nobody reads: read for ourselves (and for the others) */
		if (c->rd == RD_FREE && rq->gen == atomic_load(&c->sgen) &&
		    !atomic_load(&c->rs.dead) && ms_left(dl) > 0) {
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

/* => c->lock held.  Sends a cancel of target, or a probe, without waiting
 * for its answer; by dl.  0, or it did not go out.  c->lock is dropped
 * meanwhile. */
static int send_aux_locked(struct rs_session *c, enum rs_kind kind,
			   struct rs_req *target, uint64_t gen,
			   const struct timespec *dl)
{
	uint8_t buf[64];
	struct rs_req *aux;
	ssize_t len;
	uint16_t tag;
	int r;

	if ((kind == RS_CANCEL ? !c->proto->pack_cancel :
				 !c->proto->pack_probe) ||
	    c->nused == RS_NTAGS || atomic_load(&c->sgen) != gen ||
	    c->rs.state != RS_UP || !(aux = rs_req_new(c, kind)))
		return -EAGAIN;         /* none: a cancel is the cut */
	if (kind == RS_CANCEL) {
		aux->target = target;
		aux->oldtag = target->tag;
		target->cancel = aux;
	} else {
		c->probing = true;
		c->probes++;
	}
	tag = tag_take_locked(c, aux);
	pthread_mutex_unlock(&c->lock);
	len = kind == RS_CANCEL ?
	      c->proto->pack_cancel(buf, sizeof(buf), tag, target->tag) :
	      c->proto->pack_probe(buf, sizeof(buf), tag);
	r = len > 0 ? rs_send_msg(c, buf, (size_t)len, dl, gen, NULL) : -EIO;
	pthread_mutex_lock(&c->lock);
	if (r == -ETIMEDOUT && atomic_load(&c->sgen) == gen &&
	    c->tags[tag] == aux) {
		/* not sent (the call's tag is free: nothing flushes it) */
		tag_release_locked(c, aux);
		if (kind == RS_CANCEL && aux->fences)
			tag_unfence_locked(c, aux);
		else if (kind == RS_CANCEL)
			target->cancel = NULL;
		else
			c->probing = false;
		rs_req_free(c, aux);
	}
	return r;
}

/*
 * => c->lock held, rq SENT (or DONE already).  Waits for rq's reply with
 * the liveness and fencing rules of docs/session.md:
 *
 *   - half way to dl: a probe (the protocol's), one at a time;
 *   - at dl, if nothing at all came from the server in the second half
 *     (not even the probe's answer): the server is silent; the link is
 *     cut at once (nothing of rq can reach the server later) and the
 *     session turns UNREACHABLE;
 *   - at dl otherwise (the server is alive, rq is slow): the protocol's
 *     cancel, and a wait (rs_flush_grace_ms) for the server's word: the
 *     reply (rq happened: its result stands) or the cancel's answer (it
 *     did not: -ETIMEDOUT); no word by then, or the cancel could not be
 *     sent: the link is cut (UNREACHABLE if the server said nothing at
 *     all during the grace).
 *
 * Returns with rq DONE; rq->timed_out says the deadline passed.
 */
static void wait_reply_locked(struct rs_session *c, struct rs_req *rq,
			      const struct timespec *dl, bool internal)
{
	uint64_t gen = rq->gen, since;
	struct timespec half, fdl, now;
	long long left = ts_ns(dl) - (long long)rq->sent_ns;
	long long mid = (long long)rq->sent_ns + (left > 0 ? left / 2 : 0);
	int grace = rs_flush_grace_ms(c->timeout_ms);

	/* phase 1: up to half the time left, then a probe: a live server
	 * answers it within the other half */
	if (left > 2000000) {
		half.tv_sec = mid / 1000000000LL;
		half.tv_nsec = mid % 1000000000LL;
		wait_until_locked(c, rq, &half, dl);
		if (!internal && rq->state != RS_RQ_DONE && !c->probing)
			send_aux_locked(c, RS_PROBE, NULL, gen, dl);
	}
	wait_until_locked(c, rq, dl, dl);
	if (rq->state == RS_RQ_DONE)
		return;
	rq->timed_out = true;
	c->timeouts++;
	since = (uint64_t)mid;
	if ((long long)atomic_load(&c->rx_ns) >= mid) {
		/* phase 2: alive but slow: cancel, and wait for the word */
		rq_set_state(rq, RS_RQ_FLUSHING);
		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline_in(&fdl, grace);
		if (send_aux_locked(c, RS_CANCEL, rq, gen, &fdl) == 0) {
			since = (uint64_t)ts_ns(&now);
			wait_until_locked(c, rq, &fdl, dl);
		}
		if (rq->state == RS_RQ_DONE)
			return;
	}
	/* phase 3: no word: cut the link; rq is DONE (lost) after that */
	bool silent = atomic_load(&c->rx_ns) < since;
	pthread_mutex_unlock(&c->lock);
	rs_lost(c, gen, silent ? -ETIMEDOUT : -ECANCELED);
	pthread_mutex_lock(&c->lock);
	while (rq->state != RS_RQ_DONE)    /* a loss or kill completes it */
		pthread_cond_wait(&rq->cv, &c->lock);
}

/* The sending half of rs_call and rs_call_start: with c->lock held and
 * the session sendable, admits, packs and sends rq.  => 0 with rq sent
 * (or already done: a reply, a loss) and c->lock still held; or an error
 * with c->lock released and rq's tag given back (nothing went out, or a
 * kill cut it before all of it did: rq DONE then).  keep (RS_NOWAIT, not
 * NULL): no wait, keep->buf is buf (sys_malloc'd), set NULL if the
 * session kept it for the end of the message (rs_send_msg). */
static int call_send_locked(struct rs_session *c, struct rs_req *rq,
			    void *buf, size_t len, rs_pack_fn pack, void *arg,
			    rs_admit_fn admit, struct timespec *dl,
			    struct rs_tail *keep)
{
	uint64_t gen;
	uint16_t tag;
	int r = admit ? admit(arg, c) : 0;

	if (r == 0 && ms_left(dl) == 0)
		r = -ETIMEDOUT; /* the call's deadline passed: never sent */
	if (r) {
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	tag = tag_take_locked(c, rq);
	gen = rq->gen;
	pthread_mutex_unlock(&c->lock);
	if (pack(arg, tag, buf, len) != (ssize_t)len) {
		/* cannot happen: the protocol sized it */
		pthread_mutex_lock(&c->lock);
		if (c->tags[tag] == rq)
			tag_release_locked(c, rq);
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	if (keep)
		keep->tag = tag;
	r = rs_send_msg(c, buf, len, dl, gen, keep);
	pthread_mutex_lock(&c->lock);
	if ((r == -ETIMEDOUT || r == -EAGAIN) && rq->state == RS_RQ_NEW) {
		/* nothing went out: give the tag back, no cancel needed */
		tag_release_locked(c, rq);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	if (r && rq->state == RS_RQ_DONE && !rq->lost && !rq->replied) {
		/* a kill (a forced unmount) ended it while its bytes went
		 * out: the link is cut, the server never has all of it,
		 * and nothing sends it again.  It failed, and a caller that
		 * does not wait for it now (a write behind) must say so,
		 * not that it went */
		pthread_mutex_unlock(&c->lock);
		return rq->err;
	}
	if (rq->state == RS_RQ_NEW) {
		rq->sent_ns = mono_now_ns();
		rq_set_state(rq, RS_RQ_SENT);
	}
	return 0;
}

int rs_call(struct rs_session *c, struct rs_req *rq, size_t len,
	    rs_pack_fn pack, void *arg, rs_admit_fn admit,
	    struct timespec *dl, unsigned flags)
{
	bool internal = flags & RS_INTERNAL;
	bool have_serial = false;
	/* most requests are small: no allocation for them */
	uint8_t sbuf[RS_SMALL_MSG];
	void *buf = len <= sizeof(sbuf) ? sbuf : sys_malloc(len);
	int r;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	r = wait_sendable_locked(c, internal, false, dl);
	if (r == 0 && c->serial && !internal) {
		while (r == 0 && !have_serial) {
			pthread_mutex_unlock(&c->lock);
			r = rs_tlock_take(c, &c->serial_busy, dl, NULL);
			pthread_mutex_lock(&c->lock);
			if (r == 0)
				have_serial = true;
			else if (r == -EIO)     /* dead or lost: wait again */
				r = wait_sendable_locked(c, internal, false,
							 dl);
		}
		if (r == 0)
			r = wait_sendable_locked(c, internal, false, dl);
	}
	if (r) {
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	r = call_send_locked(c, rq, buf, len, pack, arg, admit, dl, NULL);
	if (r)
		goto out;
	wait_reply_locked(c, rq, dl, internal);
	/* done: the reader, a kill or a loss freed the tag */
	role_offer_locked(c);   /* we may have been woken to read */
	pthread_mutex_unlock(&c->lock);
out:
	if (have_serial)
		rs_tlock_give(c, &c->serial_busy);
	if (buf != sbuf)
		free(buf);
	return r;
}

/* rs_call's two halves, for a caller with several calls out at once
 * (session.h).  The same steps as rs_call, without the serial lock. */
int rs_call_start(struct rs_session *c, struct rs_req *rq, size_t len,
		  rs_pack_fn pack, void *arg, rs_admit_fn admit,
		  struct timespec *dl, unsigned flags)
{
	bool internal = flags & RS_INTERNAL, nowait = flags & RS_NOWAIT;
	struct rs_tail keep = { 0 };
	int r;

	if (c->serial)
		return -EINVAL;
	/* (on the heap: a nowait message's end may stay the session's) */
	keep.buf = sys_malloc(len);
	if (!keep.buf)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	r = wait_sendable_locked(c, internal, nowait, dl);
	if (r) {
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	r = call_send_locked(c, rq, keep.buf, len, pack, arg, admit, dl,
			     nowait ? &keep : NULL);
	if (r == 0)
		pthread_mutex_unlock(&c->lock);
out:
	free(keep.buf);
	return r;
}

void rs_call_wait(struct rs_session *c, struct rs_req *rq,
		  const struct timespec *dl, unsigned flags)
{
	pthread_mutex_lock(&c->lock);
	wait_reply_locked(c, rq, dl, flags & RS_INTERNAL);
	role_offer_locked(c);
	pthread_mutex_unlock(&c->lock);
}

bool rs_call_done(struct rs_session *c, struct rs_req *rq)
{
	bool done;

	pthread_mutex_lock(&c->lock);
	done = rq->state == RS_RQ_DONE;
	pthread_mutex_unlock(&c->lock);
	return done;
}

void rs_call_abandon(struct rs_session *c, struct rs_req *rq)
{
	bool done;

	pthread_mutex_lock(&c->lock);
	done = rq->state == RS_RQ_DONE;
	if (!done) {
		rq->abandoned = true;
		if (!c->proto->req_free)
			rq->pd = NULL;  /* the caller's: never touched again */
	}
	pthread_mutex_unlock(&c->lock);
	if (done)
		rs_req_free(c, rq);
}

int rs_send_aux(struct rs_session *c, struct rs_req *rq, size_t len,
		rs_pack_fn pack, void *arg, const struct timespec *dl)
{
	uint8_t sbuf[64], *buf = len <= sizeof(sbuf) ? sbuf : sys_malloc(len);
	uint64_t gen;
	uint16_t tag;
	int r;

	if (!buf)
		return -EAGAIN;
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->rs.dead) || rs_recovering(&c->rs) ||
	    c->nused == RS_NTAGS) {
		pthread_mutex_unlock(&c->lock);
		r = -EAGAIN;
		goto out;
	}
	tag = tag_take_locked(c, rq);
	gen = rq->gen;
	pthread_mutex_unlock(&c->lock);
	r = pack(arg, tag, buf, len) == (ssize_t)len ?
	    rs_send_msg(c, buf, len, dl, gen, NULL) : -ETIMEDOUT;
	if (r == -ETIMEDOUT) {
		pthread_mutex_lock(&c->lock);
		if (atomic_load(&c->sgen) == gen && c->tags[tag] == rq)
			tag_release_locked(c, rq);      /* still ours */
		else
			r = -EIO;                       /* the session took it */
		pthread_mutex_unlock(&c->lock);
	}
out:
	if (buf != sbuf)
		free(buf);
	return r;
}

int rs_session_init(struct rs_session *c, const struct rs_proto *proto)
{
	c->proto = proto;
	c->link = RT_LINK_NONE;
	c->evfd = sys_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->evfd < 0)
		return -errno;
	pthread_mutex_init(&c->lock, NULL);
	cond_init_monotonic(&c->cv);
	cond_init_monotonic(&c->lock_cv);
	rs_conn_init(&c->rs);
	cond_init_monotonic(&c->sup_cv);
	cond_init_monotonic(&c->rd_cv);
	atomic_init(&c->sgen, 0);
	atomic_init(&c->rx_ns, 0);
	c->pidfd = -1;
	return 0;
}

void rs_session_fini_wait(struct rs_session *c, int drain_ms)
{
	struct timespec dl;

	deadline_in(&dl, drain_ms);
	pthread_mutex_lock(&c->lock);
	/* a call nobody waits for can be answered only once the end of its
	 * message, if the session keeps it (RS_NOWAIT), has gone */
	rs_tail_flush_locked(c, NULL, &dl);
	while (!atomic_load(&c->rs.dead) && c->nused > 0)
		if (pthread_cond_timedwait(&c->cv, &c->lock, &dl) == ETIMEDOUT)
			break;
	bool drained = c->nused == 0;
	pthread_mutex_unlock(&c->lock);
	/* drained: nothing is left to fence, the link closes gracefully
	 * (a reset could still hit a reply the server is writing) */
	kill_x(c, !drained);
}

void rs_session_fini(struct rs_session *c, int drain_ms)
{
	rs_session_fini_wait(c, drain_ms);
	if (c->rs.state != RS_DEAD || c->nused)
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
	rs_conn_fini(&c->rs);
	pthread_cond_destroy(&c->sup_cv);
	pthread_cond_destroy(&c->rd_cv);
	free(c->rb);
}

void rs_session_teardown(struct rs_session *c)
{
	struct rt_link l;

	if (c->reader_started) {
		pthread_join(c->reader, NULL);
		c->reader_started = false;
	}
	pthread_mutex_lock(&c->lock);
	rs_tail_drop_locked(c);         /* (the loss dropped it already) */
	/* a writer, or a caller reading, still on the old link (it was
	 * cut: they leave at once) */
	while (c->wbusy || c->rd == RD_CALLER)
		pthread_cond_wait(&c->lock_cv, &c->lock);
	l = c->link;
	c->link = RT_LINK_NONE;
	pthread_mutex_unlock(&c->lock);
	rt_link_close(&l);
}

uint64_t rs_sgen(struct rs_session *c)
{
	return atomic_load(&c->sgen);
}

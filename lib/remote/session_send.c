/*
 * session_send.c - the sending half of a session (session.h,
 * docs/session.md): the timed locks, whole messages written on the
 * non-blocking link by a deadline, the tail a nowait message leaves, and
 * corking.
 *
 * One thread writes at a time: the holder of wbusy, taken with the
 * writer's own deadline (a caller never waits for another's).  A message
 * goes whole or the link is cut: a message cut in the middle loses the
 * framing, so a writer whose deadline passes after its first byte loses
 * the session (rs_lost).
 *
 * A writer that may not wait (RS_NOWAIT: NFS's last close) takes wbusy
 * only if it is free, and writes only what the link takes at once.  If
 * that is a part of its message, the rest may not be dropped (the
 * framing) nor waited for: the message's buffer becomes the session's
 * tail, which keeps wbusy with no thread behind it, and the call is SENT.
 *
 *   parked (c->tail) --the next writer that may wait (rs_send_msg), or
 *      |                the call's waiter (rs_tail_flush_locked: nobody
 *      |                else may be about to)--> written by that thread
 *      |                first, by its own deadline:
 *      |                  all of it: freed, wbusy the thread's (the next
 *      |                    writer then sends its own message);
 *      |                  the deadline passed, the link failed: the
 *      |                    session is lost (rs_lost, the link cut)
 *      +--a loss (rs_lost), a kill (kill_x): rs_tail_drop_locked frees
 *         it and gives wbusy back; it never goes out, on this link (cut)
 *         or a later one (no tail outlives its session: dropped when
 *         sgen moves, never parked on another)
 *
 * Owns: the flags serial_busy, wbusy, the tail and the count ncork
 * (under the session's lock, waited for on lock_cv).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "deadline.h"
#include "session_i.h"
#include "sys.h"

int rs_tlock_take(struct rs_session *c, bool *busy, const struct timespec *dl,
		  uint64_t *gen)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (dl && *busy && !atomic_load(&c->rs.dead))
		if (pthread_cond_timedwait(&c->lock_cv, &c->lock, dl) ==
		    ETIMEDOUT)
			break;
	if (atomic_load(&c->rs.dead))
		r = -EIO;
	else if (*busy)
		r = dl ? -ETIMEDOUT : -EAGAIN;
	else
		*busy = true;
	if (gen)
		*gen = atomic_load(&c->sgen);
	pthread_mutex_unlock(&c->lock);
	return r;
}

void rs_tlock_give(struct rs_session *c, bool *busy)
{
	pthread_mutex_lock(&c->lock);
	*busy = false;
	pthread_cond_broadcast(&c->lock_cv);
	pthread_mutex_unlock(&c->lock);
}

/* Takes the writer lock (wbusy) for a message of session gen by dl,
 * taking over a parked tail; NULL: now or not at all, and not from a
 * tail (its end may have to wait for room).  0 (*t: the tail to send
 * first, buf NULL if none), -ETIMEDOUT (-EAGAIN without dl), -EIO (dead,
 * or gen is over). */
static int wlock_take(struct rs_session *c, const struct timespec *dl,
		      uint64_t gen, struct rs_tail *t)
{
	int r = 0;

	*t = (struct rs_tail){ 0 };
	pthread_mutex_lock(&c->lock);
	if (c->tail.buf && c->tail.gen != atomic_load(&c->sgen))
		rs_tail_drop_locked(c); /* cannot be: a loss dropped it */
	while (dl && c->wbusy && !c->tail.buf && !atomic_load(&c->rs.dead) &&
	       atomic_load(&c->sgen) == gen)
		if (pthread_cond_timedwait(&c->lock_cv, &c->lock, dl) ==
		    ETIMEDOUT)
			break;
	if (atomic_load(&c->rs.dead) || atomic_load(&c->sgen) != gen) {
		r = -EIO;
	} else if (c->wbusy && (!dl || !c->tail.buf)) {
		r = dl ? -ETIMEDOUT : -EAGAIN;
	} else {
		*t = c->tail;   /* its wbusy is ours now */
		c->tail = (struct rs_tail){ 0 };
		c->wbusy = true;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Writes buf[*off, len) on the link, by dl; => the caller holds wbusy.
 * nowait: only what the link takes at once.  0 (all of it), -EAGAIN
 * (nowait, the link full), -ETIMEDOUT (dl passed), -EIO (dead, or the
 * link failed: *why says why). */
static int link_write(struct rs_session *c, const uint8_t *buf, size_t len,
		      size_t *off, const struct timespec *dl, bool nowait,
		      int *why)
{
	while (*off < len) {
		ssize_t n;

		if (atomic_load(&c->rs.dead))
			return -EIO;
		n = rt_write_some(&c->link, buf + *off, len - *off);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p[2] = {
				{ .fd = c->link.fd_w, .events = POLLOUT },
				{ .fd = c->evfd, .events = POLLIN },
			};
			int ms;

			if (nowait)
				return -EAGAIN;
			ms = ms_left(dl);
			if (ms == 0)
				return -ETIMEDOUT;
			if (sys_poll(p, 2, ms) < 0 && errno != EINTR)
				return -EIO;
			continue;
		}
		/* the link's own error says why (ETIMEDOUT: TCP gave up) */
		*why = n < 0 ? -errno : -EIO;
		return -EIO;
	}
	return 0;
}

/* Parks t, a message of session t->gen that the link took a part of;
 * => the caller holds wbusy, which passes to the tail.  0, or -EIO if
 * that session is over (lost or killed meanwhile: the caller still has
 * t and wbusy; nothing parks across a loss).  Its call's waiter does not
 * wait yet (the call is still being started). */
static int tail_park(struct rs_session *c, const struct rs_tail *t)
{
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->rs.dead) || atomic_load(&c->sgen) != t->gen) {
		pthread_mutex_unlock(&c->lock);
		return -EIO;
	}
	c->tail = *t;
	pthread_cond_broadcast(&c->lock_cv);    /* a waiting writer takes it */
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int rs_send_msg(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen, struct rs_tail *keep)
{
	bool nowait = keep != NULL;
	struct rs_tail t;
	size_t off = 0;
	int why = -EIO;
	int r = wlock_take(c, nowait ? NULL : dl, gen, &t);

	if (r)
		return r;
	if (t.buf) {
		/* a nowait message's end is ahead of ours: it goes first */
		r = link_write(c, t.buf, t.len, &t.off, dl, false, &why);
		free(t.buf);
		if (r) {
			r = -EIO;       /* cut in the middle: the framing */
			goto out;
		}
	}
	r = link_write(c, buf, len, &off, dl, nowait, &why);
	if (r == -EAGAIN && off > 0) {
		/* the link took a part: the rest goes later, the session's */
		*keep = (struct rs_tail){ .buf = keep->buf, .off = off,
					  .len = len, .gen = gen,
					  .tag = keep->tag };
		if (tail_park(c, keep) == 0) {
			keep->buf = NULL;
			return 0;
		}
		r = -EIO;
	}
	if (r == -ETIMEDOUT && off > 0)
		r = -EIO;               /* cut in the middle: the framing */
out:
	rs_tlock_give(c, &c->wbusy);
	if (r == -EIO)
		rs_lost(c, gen, why);
	return r;
}

int rs_tail_flush_locked(struct rs_session *c, const struct rs_req *rq,
			 const struct timespec *dl)
{
	struct rs_tail t = c->tail;
	int r, why = -EIO;

	if (!t.buf || atomic_load(&c->rs.dead) ||
	    (rq && (c->tags[t.tag] != rq || rq->gen != t.gen)))
		return 0;       /* (a kill drops the tail) */
	c->tail = (struct rs_tail){ 0 };        /* ours, with its wbusy */
	pthread_mutex_unlock(&c->lock);
	r = link_write(c, t.buf, t.len, &t.off, dl, false, &why);
	free(t.buf);
	rs_tlock_give(c, &c->wbusy);
	if (r)
		rs_lost(c, t.gen, why);
	pthread_mutex_lock(&c->lock);
	return r;
}

void rs_tail_drop_locked(struct rs_session *c)
{
	if (!c->tail.buf)
		return;
	free(c->tail.buf);
	c->tail = (struct rs_tail){ 0 };
	c->wbusy = false;
	pthread_cond_broadcast(&c->lock_cv);
}

int rs_send_raw(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen)
{
	return rs_send_msg(c, buf, len, dl, gen, NULL);
}

void rs_batch_begin(struct rs_session *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->ncork++ == 0)
		rt_cork(&c->link, true);
	pthread_mutex_unlock(&c->lock);
}

void rs_batch_end(struct rs_session *c)
{
	pthread_mutex_lock(&c->lock);
	if (--c->ncork == 0)
		rt_cork(&c->link, false);
	pthread_mutex_unlock(&c->lock);
}

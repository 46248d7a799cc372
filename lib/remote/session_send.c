/*
 * session_send.c - the sending half of a session (session.h,
 * docs/session.md): the timed locks, and whole messages written on the
 * non-blocking link by a deadline.
 *
 * One thread writes at a time: the holder of wbusy, taken with the
 * writer's own deadline (a caller never waits for another's).  A message
 * goes whole or the link is cut: a message cut in the middle loses the
 * framing, so a writer whose deadline passes after its first byte loses
 * the session (rs_lost).  The link is corked while a batch is open.
 *
 * Owns: the flags serial_busy, wbusy and the count ncork (under the
 * session's lock, waited for on lock_cv).
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

int rs_send_msg(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen, bool nowait)
{
	size_t off = 0;
	uint64_t g;
	int r = 0, why = -EIO;

	r = rs_tlock_take(c, &c->wbusy, nowait ? NULL : dl, &g);
	if (r)
		return r;
	if (g != gen) {
		rs_tlock_give(c, &c->wbusy);
		return -EIO;
	}
	while (off < len) {
		ssize_t n;

		if (atomic_load(&c->rs.dead)) {
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
			if (nowait && off == 0) {
				r = -EAGAIN;    /* no room: nothing sent */
				break;
			}
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
		/* the link's own error says why (ETIMEDOUT: TCP gave up) */
		why = n < 0 ? -errno : -EIO;
		r = -EIO;
		break;
	}
	rs_tlock_give(c, &c->wbusy);
	if (r == -EIO)
		rs_lost(c, gen, why);
	return r;
}

int rs_send_raw(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen)
{
	return rs_send_msg(c, buf, len, dl, gen, false);
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

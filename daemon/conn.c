/*
 * conn.c - the control socket's connections: the acceptor thread, the
 * admission of peers, and one thread per admitted connection that reads
 * one request, hands it to control_dispatch and writes the reply.
 *
 * A struct conn lives from accept to close: made by the acceptor for an
 * admitted peer (its uid checked with SO_PEERCRED), listed on c->conns
 * (oldest first) and counted in c->nconns, served by its own thread with
 * one deadline for the whole request and one for the reply, unlinked and
 * freed by that thread.  At MAX_CONNS (MAX_CONNS_PER_UID per uid) the
 * oldest connection still sending its request is evicted for the new one
 * (admit_locked); when none is, the new one may still be one of
 * MAX_SPARE spare connections, which carry out only a request that ends
 * waits (control_spare_request: a resume, a forced unmount) or answers at
 * once.  Strangers are answered by the acceptor itself and
 * drained briefly (struct refused: the acceptor's, no thread, no slot).
 * control_quiesce ends the acceptor, closes the listener and drops who is
 * still sending; control_stop also waits for c->nconns to reach zero.
 * The locks: control.c.
 */
#define _GNU_SOURCE
#include "control_i.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- connections ------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev or the deadline passes.  => 1 ready,
 * 0 timed out, -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { fd, ev, 0 };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Sends all of p before the deadline; a client that does not read loses
 * the rest of its reply. */
static void write_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static bool conn_evicted(struct conn *cn)
{
	bool e;

	pthread_mutex_lock(&cn->c->lock);
	e = cn->evicted;
	pthread_mutex_unlock(&cn->c->lock);
	return e;
}

/* Reads one request line before the connection's deadline (the whole
 * request, not each read: a client sending a byte now and then is cut off
 * all the same) and answers it. */
static void serve(struct control *c, struct conn *cn)
{
	struct sbuf r = { 0 };
	char *line = malloc(CTL_LINE_MAX + 1);
	size_t len = 0;
	int nl = 0, fd = cn->fd;

	if (!line)
		return;
	while (len < CTL_LINE_MAX) {
		int w = wait_fd(fd, POLLIN, cn->deadline);
		if (w == 0) {
			control_reply_error(&r, ETIMEDOUT, "no complete request in time");
			goto out;
		}
		ssize_t n = w < 0 ? -1 : recv(fd, line + len,
					      CTL_LINE_MAX - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			control_reply_error(&r, errno, "no complete request");
			goto out;
		}
		if (n == 0)
			break;
		char *e = memchr(line + len, '\n', (size_t)n);
		len += (size_t)n;
		if (e) {
			nl = 1;
			*e = '\0';
			len = (size_t)(e - line);
			break;
		}
	}
	pthread_mutex_lock(&c->lock);
	cn->reading = false;
	bool evicted = cn->evicted;
	pthread_mutex_unlock(&c->lock);
	if (evicted) {
		/* its end of the socket was shut down under it */
		control_reply_error(&r, EAGAIN, "dropped: too many connections, or "
			    "uvfsd is stopping");
		goto out;
	}
	if (!nl && len == CTL_LINE_MAX) {
		control_reply_error(&r, E2BIG, "request too long");
		goto out;
	}
	line[len] = '\0';
	if (memchr(line, '\0', len)) {
		control_reply_error(&r, EINVAL, "malformed request");
		goto out;
	}
	if (cn->spare && !control_spare_request(line)) {
		control_reply_error(&r, EAGAIN, "too many connections");
		goto out;
	}
	control_dispatch(c, line, cn->pid, &r);
out:
	if (r.oom) {
		sbuf_free(&r);
		control_reply_error(&r, ENOMEM, NULL);
	}
	/* the reply has its own deadline: a request may take long */
	if (r.p)
		write_all(fd, r.p, r.len, now_ms() + REPLY_TIMEOUT_MS);
	sbuf_free(&r);
	free(line);
}

static void conn_unlink_locked(struct control *c, struct conn *cn)
{
	cn->prev->next = cn->next;
	cn->next->prev = cn->prev;
	if (cn->spare)
		c->nspare--;
	if (--c->nconns == 0)
		pthread_cond_broadcast(&c->idle);
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	struct control *c = cn->c;

	serve(c, cn);
	/* Drain what the client still sends (a request too long, garbage
	 * after the line): closing with unread data would reset the
	 * connection and could destroy the reply before it is read.  A
	 * little, briefly: this is not a way to keep the slot. */
	shutdown(cn->fd, SHUT_WR);
	if (!conn_evicted(cn)) {
		int64_t until = now_ms() + DRAIN_MS;
		char junk[4096];
		for (size_t total = 0; total < DRAIN_MAX;) {
			if (wait_fd(cn->fd, POLLIN, until) <= 0)
				break;
			ssize_t n = recv(cn->fd, junk, sizeof(junk),
					 MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			total += (size_t)n;
		}
	}
	close(cn->fd);
	pthread_mutex_lock(&c->lock);
	conn_unlink_locked(c, cn);
	pthread_mutex_unlock(&c->lock);
	free(cn);
	return NULL;
}

/* Refused clients, answered at once and then only drained briefly by the
 * acceptor itself (no thread, no slot): a client that writes its request
 * after the answer was sent must not get EPIPE instead of reading it.
 * The acceptor's alone. */
#define LINGER_MAX 64
#define LINGER_MS 500

struct refused {
	int fd[LINGER_MAX];
	int64_t until[LINGER_MAX];
	int n;
};

static void linger_close(struct refused *l, int i)
{
	close(l->fd[i]);
	l->fd[i] = l->fd[--l->n];
	l->until[i] = l->until[l->n];
}

/* Refuses a client at once: one line, then a short drain (or a close, when
 * too many are draining already). */
static void refuse(struct refused *l, int fd, int err, const char *msg)
{
	struct sbuf r = { 0 };

	control_reply_error(&r, err, msg);
	if (r.p)
		send(fd, r.p, r.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	sbuf_free(&r);
	shutdown(fd, SHUT_WR);
	if (l->n == LINGER_MAX) {
		close(fd);
		return;
	}
	l->fd[l->n] = fd;
	l->until[l->n++] = now_ms() + LINGER_MS;
}

/* Reads what the refused clients sent; closes those done or out of time.
 * p: their poll entries, in the order of l at the poll. */
static void linger_service(struct refused *l, const struct pollfd *p, int np)
{
	int64_t now = now_ms();

	for (int i = np - 1; i >= 0; i--) {
		char junk[4096];
		bool done = now >= l->until[i];
		if (!done && p[i].revents) {
			ssize_t n = recv(l->fd[i], junk, sizeof(junk),
					 MSG_DONTWAIT);
			done = n == 0 || (n < 0 && errno != EAGAIN &&
					  errno != EINTR);
		}
		if (done)
			linger_close(l, i);
	}
}

/* Makes room for a client of uid: below both caps, nothing to do; else
 * the oldest connection still reading its request (of that uid when it is
 * the uid's cap that is reached) is dropped for it, since a client that
 * has not sent a whole request by now is the one that holds a slot for
 * nothing.  => true if cn may be admitted.  c->lock held. */
static bool admit_locked(struct control *c, uid_t uid)
{
	struct conn *v = NULL;
	int mine = 0;

	/* the spares are apart: neither counted nor evicted here (a
	 * connection admitted for an evicted spare would not be one, and
	 * would take a slot past the cap) */
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		if (x->uid == uid && !x->evicted && !x->spare)
			mine++;
	int live = 0;
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		live += !x->evicted && !x->spare;
	if (mine < MAX_CONNS_PER_UID && live < MAX_CONNS)
		return c->nconns < 2 * MAX_CONNS;
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next) {
		if (!x->reading || x->evicted || x->spare)
			continue;
		if (mine >= MAX_CONNS_PER_UID && x->uid != uid)
			continue;
		v = x;          /* the list is oldest first */
		break;
	}
	if (!v || c->nconns >= 2 * MAX_CONNS)
		return false;
	v->evicted = true;
	shutdown(v->fd, SHUT_RD);       /* its serve() wakes up and leaves */
	return true;
}

static void *accept_main(void *arg)
{
	struct control *c = arg;
	struct refused l = { .n = 0 };

	for (;;) {
		struct pollfd p[2 + LINGER_MAX] = {
			{ c->lfd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };
		int np = l.n, timeout = -1;
		for (int i = 0; i < np; i++) {
			p[2 + i] = (struct pollfd){ l.fd[i], POLLIN, 0 };
			int64_t left = l.until[i] - now_ms();
			left = left < 0 ? 0 : left;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		int pr = poll(p, (nfds_t)(2 + np), timeout);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		linger_service(&l, p + 2, np);
		if (!p[0].revents)
			continue;
		int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) ||
		    (cr.uid != 0 && cr.uid != geteuid())) {
			refuse(&l, fd, EPERM, c->stranger_msg);
			continue;
		}
		struct conn *cn = calloc(1, sizeof(*cn));
		if (!cn) {
			refuse(&l, fd, ENOMEM, NULL);
			continue;
		}
		cn->c = c;
		cn->fd = fd;
		cn->uid = cr.uid;
		cn->pid = cr.pid;
		cn->deadline = now_ms() + REQUEST_TIMEOUT_MS;
		cn->reading = true;

		pthread_mutex_lock(&c->lock);
		bool ok = admit_locked(c, cr.uid);
		if (!ok && c->nspare < MAX_SPARE) {
			/* Every slot is busy carrying out a request: they may
			 * all wait on a suspended mount, and then only a
			 * resume or a forced unmount of it ends that.  A few
			 * spare connections take just such requests
			 * (control_spare_request); others are refused once
			 * their line is read. */
			cn->spare = true;
			c->nspare++;
			ok = true;
		}
		if (ok) {
			cn->prev = c->conns.prev;
			cn->next = &c->conns;
			cn->prev->next = cn;
			c->conns.prev = cn;
			c->nconns++;
		}
		pthread_mutex_unlock(&c->lock);
		if (!ok) {
			free(cn);
			refuse(&l, fd, EAGAIN, "too many connections");
			continue;
		}
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int err = pthread_create(&t, &a, conn_main, cn);
		pthread_attr_destroy(&a);
		if (err) {
			pthread_mutex_lock(&c->lock);
			conn_unlink_locked(c, cn);
			pthread_mutex_unlock(&c->lock);
			free(cn);
			refuse(&l, fd, EAGAIN, "too many connections");
		}
	}
	while (l.n)
		linger_close(&l, 0);
	return NULL;
}

int control_start(struct control *c, struct uvfs *u, struct uvfs_fuse *uf,
		  const char *fuse_mnt)
{
	c->u = u;
	c->uf = uf;
	/* what a stranger is told: who may talk here */
	if (geteuid() == 0)
		snprintf(c->stranger_msg, sizeof(c->stranger_msg),
			 "permission denied (only root may use this uvfsd's "
			 "socket)");
	else
		snprintf(c->stranger_msg, sizeof(c->stranger_msg),
			 "permission denied (only uid %u and root may use "
			 "this uvfsd's socket)", (unsigned)geteuid());
	c->fuse_mnt = strdup(fuse_mnt);
	if (!c->fuse_mnt)
		return -ENOMEM;
	if (pthread_create(&c->acceptor, NULL, accept_main, c))
		return -EAGAIN;
	c->started = 1;
	return 0;
}

/* The socket goes as soon as no new request is taken: connections
 * would otherwise queue on a listener nobody accepts from, and a uvfsd
 * started on the same mount point while this one winds down its inner
 * mounts (the FUSE mount was unmounted from outside) would find "a daemon
 * already answers".  Removed once: the path may be the new daemon's. */
static void close_listener(struct control *c)
{
	if (c->lfd < 0)
		return;
	close(c->lfd);
	c->lfd = -1;
	unlink(c->path);
}

void control_quiesce(struct control *c)
{
	if (!c->started)
		return;
	c->started = 0;
	if (write(c->wake[1], "x", 1) < 0)
		perror("uvfsd: control stop");
	pthread_join(c->acceptor, NULL);
	pthread_mutex_lock(&c->lock);
	/* who is still sending a request will not be answered */
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		if (x->reading && !x->evicted) {
			x->evicted = true;
			shutdown(x->fd, SHUT_RD);
		}
	pthread_mutex_unlock(&c->lock);
	close_listener(c);
}

void control_stop(struct control *c)
{
	control_quiesce(c);
	pthread_mutex_lock(&c->lock);
	while (c->nconns > 0)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void control_close(struct control *c)
{
	control_stop(c);
	close_listener(c);
	close(c->wake[0]);
	close(c->wake[1]);
	for (size_t i = 0; i < c->ndevs; i++)
		free(c->devs[i].target);
	free(c->devs);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->op);
	free(c->fuse_mnt);
	free(c->path);
	free(c);
}

/*
 * loop.c - one ONC RPC connection, its service thread, and the callers
 * that wait on it (see loop.h for the states and the fencing contract).
 *
 * Objects and their lifecycles:
 *
 *   struct nfs_loop  made by loop_new (connected, thread running), freed
 *                    by loop_free (thread joined, context destroyed).
 *   struct rpc_context  owned by the loop; replaced by a fresh one at each
 *                    reconnect (the old one is destroyed by the service
 *                    thread, which fails what was still out on it).
 *   struct waiter    one per request: made by loop_call/loop_send, with
 *                    two references (the caller's and the pending reply's
 *                    callback); freed when both are gone.  A loop_send
 *                    waiter has only the callback's.
 *
 * Threads: callers issue their request themselves (under l->lock, where
 * libnfs encodes and queues it) and wake the service thread through an
 * eventfd so that it polls for POLLOUT; the service thread alone calls
 * rpc_service(), so every reply callback runs there, under l->lock.
 *
 * Locks: l->lock guards every field of the loop and of its waiters, and
 * every use of the rpc_context (libnfs is not thread-safe).  It is a leaf:
 * nothing else is taken under it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>

#include "deadline.h"
#include "loop.h"
#include "transport.h"
#include "sys.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define TICK_MS        100      /* rpc_service() runs at least this often */
#define CONNECT_TRY_MS 1000     /* a reconnect attempt not done by then is
				 * started afresh (a SYN lost in a
				 * partition would wait for TCP's backoff:
				 * the mount is back within this of a heal) */

struct waiter {
	/* all fields: l->lock */
	struct waiter *next, *prev;     /* l->out: the reply is pending */
	struct nfs_loop *l;
	int refs;                       /* caller + callback */
	bool done;                      /* err is the result */
	bool abandoned;                 /* the caller left (or never was) */
	int err;
	loop_submit_fn submit;
	loop_decode_fn decode;
	void *arg;
	struct waiter *again;           /* on l->again: to send again */
	bool idem;                      /* may be sent again after a loss */
	pthread_cond_t cv;
};

struct nfs_loop {
	pthread_mutex_t lock;
	pthread_cond_t state_cv;        /* state changes */
	/* l->lock: */
	enum loop_state state;
	struct rpc_context *rpc;
	bool reset;                     /* the thread must replace rpc */
	bool stop;
	uint64_t retry_at_ns;           /* next connect attempt (0: none) */
	uint64_t connect_ns;            /* when the attempt began */
	int backoff_ms;
	struct waiter out;              /* list head: replies pending */
	struct waiter *again;           /* hard: lost with their connection,
					 * sent again once reconnected */
	bool auth_root;                 /* rpc's auth is root's */
	struct uvfs_cred auth;          /* ... else these credentials */
	unsigned long calls, timeouts, losses, reconnects, replays;
	int last_error;                 /* why the last loss (an errno) */
	bool unreachable;               /* the loss was a silence */
	unsigned long unreachable_count;
	time_t last_loss;               /* when (seconds since the epoch) */
	unsigned inflight;
	char err[128];                  /* the first connect's failure */
	/* set once: */
	char *host;
	int program, version, timeout_ms;
	bool hard;
	/* l->lock: */
	int port;                       /* the server's, once connected */
	int efd;                        /* wakes the service thread */
	pthread_t thread;
	bool thread_started;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec deadline_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ull),
		.tv_nsec = (long)(ns % 1000000000ull),
	};
	return ts;
}

const char *loop_state_name(enum loop_state s)
{
	switch (s) {
	case LOOP_CONNECTING:   return "connecting";
	case LOOP_UP:           return "up";
	case LOOP_RECONNECTING: return "reconnecting";
	case LOOP_DEAD:         return "dead";
	}
	return "?";
}

/* The one place the state changes.  => l->lock held. */
static void loop_set_state(struct nfs_loop *l, enum loop_state to)
{
	enum loop_state from = l->state;
	bool ok;

	switch (to) {
	case LOOP_UP:
		ok = from == LOOP_CONNECTING || from == LOOP_RECONNECTING;
		break;
	case LOOP_RECONNECTING:
		ok = from == LOOP_UP || from == LOOP_RECONNECTING;
		break;
	case LOOP_DEAD:
		ok = true;
		break;
	default:
		ok = false;
	}
	if (!ok)
		abort(); /* a bug in this file: say so loudly */
	l->state = to;
	pthread_cond_broadcast(&l->state_cv);
}

static void wake(struct nfs_loop *l)
{
	uint64_t one = 1;
	ssize_t r = sys_write(l->efd, &one, sizeof(one));

	(void)r; /* a full counter still wakes the thread */
}

static void waiter_put(struct waiter *w)
{
	if (--w->refs == 0) {
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

static void waiter_unlist(struct nfs_loop *l, struct waiter *w)
{
	if (w->next) {
		w->next->prev = w->prev;
		w->prev->next = w->next;
		w->next = w->prev = NULL;
		l->inflight--;
	}
}

/* Fails every waiter with err (their callbacks still come, from the
 * context's destruction); with keep_idem, not those that will be sent
 * again.  => l->lock held. */
static void fail_all(struct nfs_loop *l, int err, bool keep_idem)
{
	for (struct waiter *w = l->out.next; w != &l->out; w = w->next)
		if (!w->done && !w->abandoned && !(keep_idem && w->idem)) {
			w->done = true;
			w->err = err;
			pthread_cond_signal(&w->cv);
		}
}

/* An abortive close of the connection (rt_link_abort: SO_LINGER 0 and a
 * TCP disconnect send a reset and drop whatever is queued, so no byte of
 * a request on it reaches the server afterwards).  The fd stays open
 * (libnfs owns it) and reports an error at the next poll.
 * => l->lock held. */
static void reset_socket(struct nfs_loop *l)
{
	int fd = l->rpc ? rpc_get_fd(l->rpc) : -1;

	if (fd >= 0) {
		struct rt_link link = { .fd_r = fd, .fd_w = fd, .sock = true,
					.tcp = true };
		rt_link_abort(&link);
	}
}

/* The connection is gone (lost, or fenced): fail what was out on it and
 * have the thread connect again.  => l->lock held. */
static void lose(struct nfs_loop *l, int why)
{
	if (l->state != LOOP_UP)
		return;
	l->last_error = why;
	l->last_loss = time(NULL);
	l->unreachable = why == ETIMEDOUT;
	if (l->unreachable)
		l->unreachable_count++;
	reset_socket(l);
	if (!l->hard)   /* soft: but the idempotent; hard: all sent again */
		fail_all(l, -EIO, true);
	l->losses++;
	l->reset = true;
	l->retry_at_ns = now_ns();
	l->backoff_ms = BACKOFF_MIN_MS;
	loop_set_state(l, LOOP_RECONNECTING);
	wake(l);
}

static void loop_cb(struct rpc_context *rpc, int status, void *data,
		    void *private_data)
{
	struct waiter *w = private_data;
	struct nfs_loop *l = w->l;

	waiter_unlist(l, w);
	if (status != RPC_STATUS_SUCCESS && (l->hard || w->idem) &&
	    !w->done && !w->abandoned && l->state != LOOP_DEAD && !l->stop) {
		/* a request its connection lost is sent again on the next
		 * one if it is idempotent or the mount hard (its caller
		 * still waits, within its deadline); the callback's
		 * reference goes with it */
		w->again = l->again;
		l->again = w;
		return;
	}
	if (!w->done && !w->abandoned) {
		w->err = w->decode(rpc, status, data, w->arg);
		w->done = true;
		pthread_cond_signal(&w->cv);
	}
	waiter_put(w);
}

/* Liveness as the session layer has it (docs/session.md): the kernel
 * gives up on data unacknowledged for a deadline, and probes an idle
 * link every quarter of it (at least 1 s). */
static void set_sockopts(struct nfs_loop *l)
{
	int fd = rpc_get_fd(l->rpc);
	struct rt_tcp_opts o = {
		.user_timeout_ms = l->timeout_ms,
		.keepalive_ms = l->timeout_ms / 4 > 1000 ? l->timeout_ms / 4
							 : 1000,
	};

	if (fd >= 0)
		rt_tcp_tune(fd, &o);
}

static int issue(struct nfs_loop *l, struct waiter *w, loop_submit_fn submit,
		 void *arg);
static int set_auth(struct nfs_loop *l, const struct uvfs_cred *cred);

/* Fails every request waiting to be sent again with err.
 * => l->lock held. */
static void fail_again(struct nfs_loop *l, int err)
{
	while (l->again) {
		struct waiter *w = l->again;
		l->again = w->again;
		w->again = NULL;
		if (!w->done && !w->abandoned) {
			w->done = true;
			w->err = err;
			pthread_cond_signal(&w->cv);
		}
		waiter_put(w);
	}
}

/* Sends again what the last connection lost (idempotent, or hard), as
 * root: every request of this driver goes as root.
 * => l->lock held, state UP. */
static void resend(struct nfs_loop *l)
{
	struct waiter *list = l->again;

	l->again = NULL;
	while (list) {
		struct waiter *w = list;
		list = w->again;
		w->again = NULL;
		if (w->done || w->abandoned || set_auth(l, NULL) != 0 ||
		    issue(l, w, w->submit, w->arg) != 0) {
			if (!w->done && !w->abandoned) {
				w->done = true;
				w->err = -EIO;
				pthread_cond_signal(&w->cv);
			}
			waiter_put(w);  /* the callback's: none will come */
			continue;
		}
		l->replays++;
	}
}

/* The server's port of the connection, or 0. */
static int peer_port(struct rpc_context *rpc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = rpc_get_fd(rpc);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void connect_cb(struct rpc_context *rpc, int status, void *data,
		       void *private_data)
{
	struct nfs_loop *l = private_data;

	if (rpc != l->rpc || l->state == LOOP_DEAD)
		return;         /* a context being destroyed */
	if (status == RPC_STATUS_SUCCESS) {
		if (l->state == LOOP_RECONNECTING)
			l->reconnects++;
		l->auth_root = true;    /* a fresh context: default auth */
		set_sockopts(l);
		if (!l->port)
			l->port = peer_port(l->rpc);
		l->unreachable = false;
		loop_set_state(l, LOOP_UP);
		resend(l);
		return;
	}
	if (l->state == LOOP_CONNECTING) {
		snprintf(l->err, sizeof(l->err), "%s",
			 status == RPC_STATUS_ERROR && data ? (char *)data
							    : "cancelled");
		loop_set_state(l, LOOP_DEAD);
		return;
	}
	/* reconnecting: try again later, backing off */
	l->reset = true;
	l->retry_at_ns = now_ns() + (uint64_t)l->backoff_ms * 1000000ull;
	if ((l->backoff_ms *= 2) > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
}

/* Replaces the context with a fresh one and starts connecting it.
 * => l->lock held, service thread. */
static void start_connect(struct nfs_loop *l)
{
	struct rpc_context *old = l->rpc;

	l->rpc = NULL;
	if (old)
		rpc_destroy_context(old);  /* its callbacks: lists emptied */
	l->rpc = rpc_init_context();
	if (!l->rpc) {
		if (l->state == LOOP_CONNECTING) {
			snprintf(l->err, sizeof(l->err), "out of memory");
			loop_set_state(l, LOOP_DEAD);
		}
		return;
	}
	l->auth_root = true;
	l->connect_ns = now_ns();
	/* a reconnect goes straight to the port the first connection found
	 * through the portmapper (NFS keeps its port across restarts); it
	 * can also be abandoned midway without leaking: libnfs 4.0 leaks the
	 * state of a portmapper lookup whose context is destroyed */
	if ((l->port
	     ? rpc_connect_async(l->rpc, l->host, l->port, connect_cb, l)
	     : rpc_connect_program_async(l->rpc, l->host, l->program,
					 l->version, connect_cb, l)) != 0) {
		if (l->state == LOOP_CONNECTING) {
			snprintf(l->err, sizeof(l->err), "%s",
				 rpc_get_error(l->rpc));
			loop_set_state(l, LOOP_DEAD);
		} else {
			l->reset = true;
			l->retry_at_ns = now_ns() +
				(uint64_t)l->backoff_ms * 1000000ull;
		}
	}
}

static void *service(void *arg)
{
	struct nfs_loop *l = arg;

	pthread_mutex_lock(&l->lock);
	start_connect(l);
	while (!l->stop) {
		uint64_t now = now_ns();
		int tmo = TICK_MS;

		if (!l->reset && l->state == LOOP_RECONNECTING && l->port &&
		    now - l->connect_ns > CONNECT_TRY_MS * 1000000ull) {
			l->reset = true;        /* this attempt is stuck */
			l->retry_at_ns = now;
		}
		if (l->reset && l->state == LOOP_RECONNECTING) {
			if (now >= l->retry_at_ns) {
				l->reset = false;
				start_connect(l);
			} else {
				uint64_t d = (l->retry_at_ns - now) / 1000000;
				tmo = d < TICK_MS ? (int)d + 1 : TICK_MS;
			}
		}
		struct rpc_context *rpc = l->rpc;
		struct pollfd p[2] = {
			{ .fd = l->efd, .events = POLLIN },
			{ .fd = -1 },
		};
		if (rpc && l->state != LOOP_DEAD && !l->reset) {
			p[1].fd = rpc_get_fd(rpc);
			p[1].events = (short)rpc_which_events(rpc);
		}
		pthread_mutex_unlock(&l->lock);
		int n = sys_poll(p, 2, tmo);
		pthread_mutex_lock(&l->lock);
		if (n > 0 && (p[0].revents & POLLIN)) {
			uint64_t v;
			ssize_t r = sys_read(l->efd, &v, sizeof(v));
			(void)r;
		}
		if (l->stop)
			break;
		if (rpc != l->rpc || !rpc || l->state == LOOP_DEAD || l->reset)
			continue;
		short rev = n > 0 && p[1].fd >= 0 ? p[1].revents : 0;
		if (rpc_service(rpc, rev) < 0) {
			if (l->state == LOOP_CONNECTING) {
				snprintf(l->err, sizeof(l->err), "%s",
					 rpc_get_error(rpc));
				loop_set_state(l, LOOP_DEAD);
			} else if (l->state == LOOP_UP) {
				lose(l, ECONNRESET);
			} else {
				l->reset = true;  /* a failed reconnect */
				l->retry_at_ns = now_ns() +
					(uint64_t)l->backoff_ms * 1000000ull;
				if ((l->backoff_ms *= 2) > BACKOFF_MAX_MS)
					l->backoff_ms = BACKOFF_MAX_MS;
			}
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int loop_new(const char *host, int program, int version, int timeout_ms,
	     bool hard, struct nfs_loop **out)
{
	struct nfs_loop *l = sys_calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	int r;

	if (!l)
		return -ENOMEM;
	l->host = sys_strdup(host);
	l->efd = sys_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!l->host || l->efd < 0) {
		free(l->host);
		if (l->efd >= 0)
			sys_close(l->efd);
		free(l);
		return -ENOMEM;
	}
	l->program = program;
	l->version = version;
	l->timeout_ms = timeout_ms;
	l->hard = hard;
	l->out.next = l->out.prev = &l->out;
	l->state = LOOP_CONNECTING;
	l->backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->state_cv, &ca);
	pthread_condattr_destroy(&ca);
	r = sys_pthread_create(&l->thread, NULL, service, l);
	if (r) {
		loop_free(l);
		return -r;
	}
	l->thread_started = true;

	/* wait for the first connection */
	struct timespec dl = deadline_ts(now_ns() +
					 (uint64_t)timeout_ms * 1000000ull);
	pthread_mutex_lock(&l->lock);
	while (l->state == LOOP_CONNECTING)
		if (pthread_cond_timedwait(&l->state_cv, &l->lock, &dl) ==
		    ETIMEDOUT)
			break;
	r = l->state == LOOP_UP ? 0
	    : l->state == LOOP_CONNECTING ? -ETIMEDOUT : -ECONNREFUSED;
	pthread_mutex_unlock(&l->lock);
	if (r) {
		loop_free(l);
		return r;
	}
	*out = l;
	return 0;
}

void loop_cancel(struct nfs_loop *l)
{
	pthread_mutex_lock(&l->lock);
	reset_socket(l);
	fail_all(l, -EIO, false);
	fail_again(l, -EIO);
	if (l->state != LOOP_DEAD) {
		l->last_error = ECANCELED;
		l->last_loss = time(NULL);
		loop_set_state(l, LOOP_DEAD);
	}
	wake(l);
	pthread_mutex_unlock(&l->lock);
}

void loop_free(struct nfs_loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	fail_all(l, -EIO, false);
	fail_again(l, -EIO);
	if (l->state != LOOP_DEAD)
		loop_set_state(l, LOOP_DEAD);
	wake(l);
	pthread_mutex_unlock(&l->lock);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	pthread_mutex_lock(&l->lock);
	if (l->rpc) {
		struct rpc_context *rpc = l->rpc;
		l->rpc = NULL;
		rpc_destroy_context(rpc);
	}
	fail_again(l, -EIO);    /* (none: the callbacks saw stop) */
	/* callbacks that never came (none should be left) */
	while (l->out.next != &l->out) {
		struct waiter *w = l->out.next;
		waiter_unlist(l, w);
		waiter_put(w);
	}
	pthread_mutex_unlock(&l->lock);
	sys_close(l->efd);
	pthread_cond_destroy(&l->state_cv);
	pthread_mutex_destroy(&l->lock);
	free(l->host);
	free(l);
}

static bool same_cred(const struct uvfs_cred *a, const struct uvfs_cred *b)
{
	if (a->uid != b->uid || a->gid != b->gid || a->ngroups != b->ngroups)
		return false;
	return memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)) == 0;
}

/* The AUTH_SYS credentials of the next request (libnfs encodes them into
 * the request when it is queued).  => l->lock held. */
static int set_auth(struct nfs_loop *l, const struct uvfs_cred *cred)
{
	struct AUTH *a;

	if (!cred || (cred->uid == 0 && cred->gid == 0 && cred->ngroups == 0)) {
		if (l->auth_root)
			return 0;
		a = libnfs_authunix_create("uvfs", 0, 0, 0, NULL);
	} else {
		if (!l->auth_root && same_cred(&l->auth, cred))
			return 0;
		uint32_t g[UVFS_NGROUPS_MAX];
		unsigned n = cred->ngroups > 16 ? 16 : cred->ngroups; /* RFC 5531 */
		for (unsigned i = 0; i < n; i++)
			g[i] = cred->groups[i];
		a = libnfs_authunix_create("uvfs", cred->uid, cred->gid, n, g);
	}
	if (!a)
		return -ENOMEM;
	rpc_set_auth(l->rpc, a);
	if (!cred || (cred->uid == 0 && cred->gid == 0 && cred->ngroups == 0)) {
		l->auth_root = true;
	} else {
		l->auth_root = false;
		l->auth = *cred;
	}
	return 0;
}

/* Waits for the connection to be usable.  Soft: only while the first
 * connection is made, within *dl.  Hard: also while reconnecting, with no
 * deadline (cancel ends it), and *dl starts again once up.
 * => l->lock held. */
static int wait_up(struct nfs_loop *l, struct timespec *dl)
{
	bool waited = false;

	while (l->state == LOOP_CONNECTING ||
	       (l->state == LOOP_RECONNECTING && l->hard)) {
		if (l->state == LOOP_RECONNECTING) {
			waited = true;
			pthread_cond_wait(&l->state_cv, &l->lock);
		} else if (pthread_cond_timedwait(&l->state_cv, &l->lock, dl) ==
			   ETIMEDOUT) {
			return -ETIMEDOUT;
		}
	}
	if (l->state != LOOP_UP)
		return -EIO;
	if (waited)
		deadline_in(dl, l->timeout_ms);
	return ms_left(dl) > 0 ? 0 : -ETIMEDOUT; /* never sent after it */
}

static struct waiter *waiter_new(void)
{
	struct waiter *w = sys_calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	return w;
}

/* Issues the request.  => l->lock held, state UP. */
static int issue(struct nfs_loop *l, struct waiter *w, loop_submit_fn submit,
		 void *arg)
{
	w->l = l;
	w->submit = submit;
	w->next = l->out.next;
	w->prev = &l->out;
	l->out.next->prev = w;
	l->out.next = w;
	l->inflight++;
	if (submit(l->rpc, (void *)loop_cb, w, arg) != 0) {
		waiter_unlist(l, w);
		return -EIO;
	}
	l->calls++;
	wake(l);        /* the thread polls for POLLOUT */
	return 0;
}

int loop_call_many(struct nfs_loop *l, const struct uvfs_cred *cred,
		   loop_submit_fn submit, loop_decode_fn decode,
		   void *const *args, int *results, unsigned n,
		   unsigned flags, struct timespec *dl)
{
	struct waiter *ws[LOOP_MANY_MAX];
	unsigned i, issued = 0;
	bool fenced = false;
	int r;

	if (n == 0 || n > LOOP_MANY_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ws[i] = waiter_new();
		if (!ws[i]) {
			while (i-- > 0) {
				pthread_cond_destroy(&ws[i]->cv);
				free(ws[i]);
			}
			return -ENOMEM;
		}
		ws[i]->decode = decode;
		ws[i]->arg = args[i];
		ws[i]->refs = 2;
		ws[i]->idem = flags & LOOP_IDEMPOTENT;
	}
	pthread_mutex_lock(&l->lock);
	r = wait_up(l, dl);
	if (r == 0)
		r = set_auth(l, cred);
	for (i = 0; r == 0 && i < n; i++) {
		r = issue(l, ws[i], submit, args[i]);
		if (r == 0)
			issued++;
	}
	for (i = 0; i < issued; i++) {
		struct waiter *w = ws[i];
		while (!w->done && !w->abandoned)
			if (pthread_cond_timedwait(&w->cv, &l->lock, dl) ==
			    ETIMEDOUT && !w->done) {
				/* fence: the connection they went out on is
				 * reset before a caller hears "failed" */
				for (unsigned j = i; j < issued; j++)
					if (!ws[j]->done)
						ws[j]->abandoned = true;
				l->timeouts++;
				fenced = true;
				break;
			}
	}
	if (fenced)
		lose(l, ETIMEDOUT);
	for (i = 0; i < n; i++) {
		if (i < issued) {
			results[i] = ws[i]->done ? ws[i]->err : -ETIMEDOUT;
			waiter_put(ws[i]);
		} else {
			results[i] = r ? r : -EIO;
			pthread_cond_destroy(&ws[i]->cv);
			free(ws[i]);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return issued ? 0 : r;
}

int loop_call(struct nfs_loop *l, const struct uvfs_cred *cred,
	      loop_submit_fn submit, loop_decode_fn decode, void *arg,
	      unsigned flags, struct timespec *dl)
{
	int res, r;

	r = loop_call_many(l, cred, submit, decode, &arg, &res, 1, flags, dl);
	return r ? r : res;
}

static int drop_reply(struct rpc_context *rpc, int status, void *data,
		      void *arg)
{
	(void)rpc; (void)status; (void)data; (void)arg;
	return 0;
}

int loop_send(struct nfs_loop *l, loop_submit_fn submit, void *arg)
{
	struct waiter *w = waiter_new();
	int r;

	if (!w)
		return -ENOMEM;
	w->decode = drop_reply;
	w->refs = 1;
	w->abandoned = true;
	pthread_mutex_lock(&l->lock);
	r = l->state == LOOP_UP ? set_auth(l, NULL) : -EIO;
	if (r == 0)
		r = issue(l, w, submit, arg);
	pthread_mutex_unlock(&l->lock);
	if (r) {
		pthread_cond_destroy(&w->cv);
		free(w);
	}
	return r;
}

void loop_stats(struct nfs_loop *l, struct loop_stats *out)
{
	pthread_mutex_lock(&l->lock);
	out->state = l->state;
	out->calls = l->calls;
	out->timeouts = l->timeouts;
	out->losses = l->losses;
	out->reconnects = l->reconnects;
	out->replays = l->replays;
	out->unreachable = l->unreachable;
	out->unreachable_count = l->unreachable_count;
	out->last_error = l->last_error;
	out->last_loss = l->last_loss;
	out->hard = l->hard;
	out->inflight = l->inflight;
	pthread_mutex_unlock(&l->lock);
}

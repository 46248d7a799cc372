/*
 * server.c - the 9P2000.L serve loop: framing, version, fid table, worker
 * pool, flush, dispatch to struct p9srv_ops.
 *
 * Threads: the reader runs a request itself when it is alone
 *   A connection has a pool of nworkers + 1 threads (the caller of
 *   p9srv_serve_fd and nworkers others); at most nworkers run operations
 *   at once.  One of them owns the input and reads.  A request that
 *   arrives when nothing is in flight and no further input is waiting is
 *   run by the owner itself ("inline"): one thread reads it and answers
 *   it, as a single-threaded server would, with no wake-up of a worker.
 *   Any other request is queued to the idle threads.  While an inline
 *   request runs nobody reads, so one idle thread is the watchdog: while
 *   requests are run inline it looks every WATCH_MS, and an inline
 *   request it finds running at two looks in a row (so for at least
 *   WATCH_MS) loses the input: the watchdog owns it from then on and
 *   reads (a Tflush of that request too), and the old owner, when its
 *   request returns, joins the idle threads.  The watchdog sleeps when
 *   no request ran inline since its last look, and the next inline
 *   request wakes it.
 *
 * Lifecycle of a request
 *   The input's owner frames and decodes a message into a struct
 *   p9srv_req and lists it on the connection's in-flight list: RUNNING on
 *   itself (inline), or QUEUED for the idle threads, one of which takes it
 *   (RUNNING) when fewer than nworkers run.  The thread that runs it
 *   completes it: under the write lock it takes the request off the
 *   in-flight list, writes the reply unless the request was flushed, then
 *   writes one Rflush per Tflush that named it, and frees it.  Tversion,
 *   Tflush and protocol errors are answered by the owner itself.
 *
 * Flush
 *   Tflush of a tag not in flight: Rflush at once.  Of a QUEUED request:
 *   the owner takes it off the queue and the in-flight list, frees it,
 *   and sends Rflush.  Of a RUNNING one: the request is marked flushed and
 *   the flush's tag recorded on it; when the operation returns, the
 *   worker suppresses its reply if it failed (an interrupted operation
 *   did nothing), sends it if it succeeded (it may have changed
 *   something: flush(5) has the client honour a reply that comes before
 *   the Rflush), then sends the Rflush.  Since a worker holds the
 *   write lock from the moment it takes its request off the in-flight list
 *   until its reply is written, an Rflush the owner sends because the tag
 *   was no longer in flight is always written after that reply.
 *
 * Lifecycle of a fid
 *   RESERVED (a walk's newfid or an attach's fid while the request runs:
 *   "in use", but not usable) -> ACTIVE (in the table) -> out of the table
 *   (clunk, remove, replaced by a walk to itself, connection end) -> freed
 *   when its last reference goes, after ops->clunk.  The table holds one
 *   reference; each request using the fid holds one.  The table
 *   (conn.fids, by number) grows a few chains at a time
 *   (lib/util/htab.h): no request waits for a whole doubling.  An ACTIVE
 *   fid may also be an xattr fid (fid->xa, set once): Txattrwalk's
 *   newfid, made one before it turns ACTIVE, or a fid Txattrcreate turned
 *   into one; a Tclunk of an xattr-write fid commits it (p9srv.h).
 *
 * Locks (the order: wlock, then lock)
 *   input     not a lock but a role: only its owner reads (the serve
 *             thread first; the watchdog takes it over under c->lock).
 *   c->wlock  the output descriptor: one reply written at a time.
 *   c->lock   the in-flight list, the queue, the fid table and every
 *             fid's refs and state, counters, c->dead, c->ended.
 *   fid->rw   lopen/lcreate/readdir exclusive, other operations shared.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "server_i.h"
#include "sys.h"

#define DEFAULT_MSIZE   (256 * 1024 + P9_IOHDRSZ)
#define MIN_MSIZE       (P9_IOHDRSZ + 256)
#define DEFAULT_MAX_FIDS (1u << 20)
#define REPLY_SMALL     8192    /* replies packed on the stack (all but
				   read and readdir data) */
#define WATCH_MS        1       /* an inline request that runs this long
				 * loses the input */
/* --- small things --- */

/* The interrupt signal's handler: its only job is the EINTR. */
static void interrupted(int sig)
{
	(void)sig;
}

int p9srv_new(const struct p9srv_ops *ops, void *arg,
	      const struct p9srv_opts *opts, struct p9srv **out)
{
	struct p9srv *s;

	if (!ops)
		return -EINVAL;
	s = sys_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->arg = arg;
	if (opts)
		s->o = *opts;
	if (s->o.msize == 0)
		s->o.msize = DEFAULT_MSIZE;
	if (s->o.msize < MIN_MSIZE)
		s->o.msize = MIN_MSIZE;
	if (s->o.nworkers == 0)
		s->o.nworkers = 4;
	if (s->o.max_inflight == 0)
		s->o.max_inflight = 256;
	if (s->o.max_inflight < s->o.nworkers)
		s->o.max_inflight = s->o.nworkers;
	if (s->o.max_fids == 0)
		s->o.max_fids = DEFAULT_MAX_FIDS;
	if (s->o.max_xattr_bytes == 0)
		s->o.max_xattr_bytes = 4u << 20;
	if (s->o.interrupt_signal) {
		struct sigaction sa = { .sa_handler = interrupted };
		sigemptyset(&sa.sa_mask);
		if (sigaction(s->o.interrupt_signal, &sa, NULL) < 0) {
			int err = -errno;
			free(s);
			return err;
		}
	}
	*out = s;
	return 0;
}

void p9srv_free(struct p9srv *srv)
{
	free(srv);
}

void *p9srv_arg(const struct p9srv *srv) { return srv->arg; }
struct p9srv *p9srv_req_srv(const struct p9srv_req *r) { return r->c->srv; }
bool p9srv_req_flushed(const struct p9srv_req *r)
{
	return atomic_load_explicit(&r->flushed, memory_order_relaxed);
}
uint16_t p9srv_req_tag(const struct p9srv_req *r) { return r->t.tag; }
uint8_t p9srv_req_type(const struct p9srv_req *r) { return r->t.type; }
uint32_t p9srv_req_msize(const struct p9srv_req *r) { return r->c->msize; }

/* --- output --- */

/* => c->wlock held.  Writes all of buf or marks the connection dead. */
static void out_write_locked(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0 && !c->dead) {
		ssize_t n = c->sock ? sys_send(c->outfd, p, len, MSG_NOSIGNAL)
				    : sys_write(c->outfd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* c->dead is only ever set, and read for a hint:
			 * a racing reader at worst writes once more. */
			pthread_mutex_lock(&c->lock);
			c->dead = true;
			pthread_mutex_unlock(&c->lock);
			/* wake the reader if it is a socket */
			if (c->sock)
				sys_shutdown(c->outfd, SHUT_RDWR);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Packs m and writes it.  => c->wlock held. */
static void send_msg_locked(struct conn *c, const struct p9_msg *m)
{
	uint8_t small[512];
	ssize_t n = p9_packed_size(m);
	uint8_t *b = small;

	if (n < 0)
		return;         /* a bug in the caller: nothing sane to send */
	if ((size_t)n > sizeof(small)) {
		b = sys_malloc((size_t)n);
		if (!b) {
			/* never a lost reply: the request fails instead */
			struct p9_msg e = { .type = P9_RLERROR, .tag = m->tag };
			e.rlerror.ecode = ENOMEM;
			b = small;
			n = p9_pack(b, sizeof(small), &e);
			if (n < 0)
				return;
		}
	}
	if (p9_pack(b, (size_t)n, m) == n)
		out_write_locked(c, b, (size_t)n);
	if (b != small)
		free(b);
}

static void send_msg(struct conn *c, const struct p9_msg *m)
{
	pthread_mutex_lock(&c->wlock);
	send_msg_locked(c, m);
	pthread_mutex_unlock(&c->wlock);
}

static void send_error(struct conn *c, uint16_t tag, int err)
{
	struct p9_msg m = { .type = P9_RLERROR, .tag = tag };

	m.rlerror.ecode = (uint32_t)(err < 0 ? -err : err);
	if (m.rlerror.ecode == 0)
		m.rlerror.ecode = EIO;
	send_msg(c, &m);
}

static void send_rflush_locked(struct conn *c, uint16_t tag)
{
	struct p9_msg m = { .type = P9_RFLUSH, .tag = tag };
	send_msg_locked(c, &m);
}

/* --- the fid table --- */

/* The client picks the numbers: in sequence mostly, but one that takes
 * them with a stride must not put them all on a few chains (a plain
 * multiply keeps the number's low bits, which pick the bucket). */
static uint64_t fid_hash(uint32_t n)
{
	return htab_hash64(n);
}

/* The fid numbered n in the table (RESERVED or ACTIVE), or NULL. */
struct fid *srv_fid_find_locked(struct conn *c, uint32_t n)
{
	struct hiter it;

	for (struct hlink *l = hiter_first(&c->fids, &it, fid_hash(n)); l;
	     l = hiter_next(&c->fids, &it)) {
		struct fid *f = htab_entry(l, struct fid, hl);
		if (f->pub.fid == n)
			return f;
	}
	return NULL;
}

/* A reference on ACTIVE fid n, or NULL. */
struct fid *srv_fid_get(struct conn *c, uint32_t n)
{
	struct fid *f;

	pthread_mutex_lock(&c->lock);
	f = srv_fid_find_locked(c, n);
	if (f && f->state == FID_ACTIVE)
		f->refs++;
	else
		f = NULL;
	pthread_mutex_unlock(&c->lock);
	return f;
}

static void fid_free(struct conn *c, struct fid *f)
{
	if (f->xa)
		atomic_fetch_sub(&c->nxattr, 1);
	srv_xattr_free(c, f->xa);
	if (f->live && c->srv->ops->clunk)
		c->srv->ops->clunk(c->srv, &f->pub);
	pthread_rwlock_destroy(&f->rw);
	free(f);
}

void srv_fid_put(struct conn *c, struct fid *f)
{
	bool last;

	if (!f)
		return;
	pthread_mutex_lock(&c->lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		fid_free(c, f);
}

/*
 * A RESERVED fid n with two references (the table's and the caller's),
 * or -EBADF if n is in use (or is NOFID), -ENFILE past max_fids.
 * The table grows as it fills (lib/util/htab.h): a doubling is moved a
 * few chains at each insertion and removal after it, so no reservation
 * waits for all of them, nor does anything else waiting on c->lock.
 */
int srv_fid_reserve(struct conn *c, uint32_t n, struct fid **out)
{
	struct fid *f;

	if (n == P9_NOFID)
		return -EBADF;
	f = sys_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_rwlock_init(&f->rw, NULL);
	f->pub.fid = n;
	f->state = FID_RESERVED;
	f->refs = 2;
	pthread_mutex_lock(&c->lock);
	bool used = srv_fid_find_locked(c, n) != NULL;
	if (used || c->fids.n >= c->srv->o.max_fids) {
		pthread_mutex_unlock(&c->lock);
		pthread_rwlock_destroy(&f->rw);
		free(f);
		return used ? -EBADF : -ENFILE;
	}
	htab_add(&c->fids, &f->hl, fid_hash(n));
	pthread_mutex_unlock(&c->lock);
	*out = f;
	return 0;
}

/* Takes f out of the table if it is still there (GONE) and drops the
 * table's reference: true if that was the last.  => c->lock held. */
static bool fid_unhash_locked(struct conn *c, struct fid *f)
{
	if (srv_fid_find_locked(c, f->pub.fid) != f)
		return false;
	htab_del(&c->fids, &f->hl);
	f->state = FID_GONE;
	return --f->refs == 0;
}

/* Takes f out of the table (if it is still there) and drops the table's
 * reference. */
void srv_fid_unhash(struct conn *c, struct fid *f)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = fid_unhash_locked(c, f);
	pthread_mutex_unlock(&c->lock);
	if (last)
		fid_free(c, f);
}

/* RESERVED -> ACTIVE. */
void srv_fid_activate(struct conn *c, struct fid *f)
{
	pthread_mutex_lock(&c->lock);
	f->state = FID_ACTIVE;
	pthread_mutex_unlock(&c->lock);
}

/* A walk to itself: nf (RESERVED, not hashed) takes old's place. */
void srv_fid_replace(struct conn *c, struct fid *old, struct fid *nf)
{
	bool last = false;

	pthread_mutex_lock(&c->lock);
	if (srv_fid_find_locked(c, old->pub.fid) == old) {
		/* out, then in: the count stays, so does max_fids */
		htab_del(&c->fids, &old->hl);
		htab_add(&c->fids, &nf->hl, fid_hash(nf->pub.fid));
		nf->state = FID_ACTIVE;
		old->state = FID_GONE;
		last = --old->refs == 0;
	} else {
		/* clunked meanwhile: the new object goes too */
		nf->state = FID_GONE;
		nf->refs--;
	}
	pthread_mutex_unlock(&c->lock);
	if (last)
		fid_free(c, old);
}

/* Every fid out of the table (Tversion, connection end): one at a time,
 * each freed (ops->clunk) without c->lock.  htab_any's cursor makes it
 * one pass over the buckets, whatever the table does meanwhile. */
static void fid_clunk_all(struct conn *c)
{
	size_t cur = 0;

	for (;;) {
		struct hlink *l;
		struct fid *f;
		bool last;

		pthread_mutex_lock(&c->lock);
		l = htab_any(&c->fids, &cur);
		if (!l) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		f = htab_entry(l, struct fid, hl);
		last = fid_unhash_locked(c, f);
		pthread_mutex_unlock(&c->lock);
		if (last)
			fid_free(c, f);
	}
}

/* --- requests --- */

static void req_free(struct p9srv_req *r)
{
	free(r->ftags);
	free(r->buf);
	free(r);
}

/* => c->lock held. */
static void inflight_del_locked(struct conn *c, struct p9srv_req *r)
{
	*r->iprev = r->inext;
	if (r->inext)
		r->inext->iprev = r->iprev;
	c->ninflight--;
	pthread_cond_broadcast(&c->idle);
}

static void req_run(struct conn *c, struct p9srv_req *r)
{
	struct run x = { .r = r, .c = c, .ops = c->srv->ops };
	int err = 0;

	if (!p9srv_req_flushed(r))
		err = srv_dispatch(&x);
	if (x.entered && x.ops->leave)
		x.ops->leave(r);
	srv_fid_put(c, x.f2);
	srv_fid_put(c, x.f);
	if (err < 0 || x.rep.type == 0) {
		memset(&x.rep, 0, sizeof(x.rep));
		x.rep.type = P9_RLERROR;
		x.rep.rlerror.ecode = (uint32_t)(err < 0 ? -err : EIO);
	}
	x.rep.tag = r->t.tag;

	pthread_mutex_lock(&c->wlock);
	pthread_mutex_lock(&c->lock);
	inflight_del_locked(c, r);
	c->nrunning--;
	bool flushed = p9srv_req_flushed(r);
	pthread_mutex_unlock(&c->lock);
	/* flushed while it ran: an operation that failed (interrupted) did
	 * nothing and its reply is dropped; one that succeeded may have
	 * changed something (a create, a walk's fid), so its reply goes
	 * out before the Rflush, which the client honours (flush(5)):
	 * dropped, the client would take the create for one that never
	 * happened */
	if (!flushed || x.rep.type != P9_RLERROR) {
		/* A reply that fits reply_small never allocates, so the
		 * reply of an operation that changed something (a walk, a
		 * create, a clunk...) is never lost to a failed allocation:
		 * only data replies (read, readdir) are larger, and those
		 * change nothing when they fail with ENOMEM. */
		uint8_t small[REPLY_SMALL];
		ssize_t n = p9_packed_size(&x.rep);
		uint8_t *b = NULL;
		if (n > 0 && (size_t)n <= c->msize)
			b = (size_t)n <= sizeof(small) ? small
						       : sys_malloc((size_t)n);
		if (b && p9_pack(b, (size_t)n, &x.rep) == n) {
			out_write_locked(c, b, (size_t)n);
		} else {
			/* NEVER for counts the library clamped; an ops
			 * reply that does not fit msize (a long lock
			 * client_id) or no memory */
			struct p9_msg e = { .type = P9_RLERROR,
					    .tag = r->t.tag };
			e.rlerror.ecode = n < 0 ? EIO : b ? EIO :
					  (size_t)n > c->msize ? EMSGSIZE
							       : ENOMEM;
			send_msg_locked(c, &e);
		}
		if (b != small)
			free(b);
	}
	/* ftags is only appended to while r is in flight: ours now */
	for (unsigned i = 0; i < r->nftags; i++)
		send_rflush_locked(c, r->ftags[i]);
	pthread_mutex_unlock(&c->wlock);
	free(x.rbuf);
	req_free(r);
}

/* The first queued request, RUNNING on the calling thread, if fewer than
 * nworkers run.  => c->lock held. */
static struct p9srv_req *dequeue_locked(struct conn *c)
{
	struct p9srv_req *r = c->qhead;

	if (!r || c->nrunning >= c->nworkers)
		return NULL;
	c->qhead = r->qnext;
	if (!c->qhead)
		c->qtail = &c->qhead;
	r->state = RQ_RUNNING;
	r->worker = pthread_self();
	c->nrunning++;
	return r;
}

/*
 * A RUNNING request was flushed: tell the operations, and interrupt its
 * worker's system call if the server asked for that.
 * => c->lock held, so r cannot complete meanwhile: the signal reaches
 *    the worker before it can take another request (it needs c->lock).
 */
static void interrupt_locked(struct conn *c, struct p9srv_req *r)
{
	if (c->srv->ops->flush)
		c->srv->ops->flush(r);
	if (c->srv->o.interrupt_signal)
		pthread_kill(r->worker, c->srv->o.interrupt_signal);
}

/* Marks every request in flight flushed (their replies are dropped) and
 * waits for none to be left. */
static void drain(struct conn *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->ninflight > 0) {
		struct timespec ts;

		/* again every 100 ms: an interrupt that landed before the
		 * operation entered its blocking call was lost */
		for (struct p9srv_req *r = c->inflight; r; r = r->inext) {
			atomic_store(&r->flushed, true);
			if (r->state == RQ_RUNNING)
				interrupt_locked(c, r);
		}
		deadline_in(&ts, 100);
		pthread_cond_timedwait(&c->idle, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
}

static void do_flush(struct conn *c, uint16_t tag, uint16_t oldtag)
{
	struct p9srv_req *r;

	pthread_mutex_lock(&c->lock);
	for (r = c->inflight; r; r = r->inext)
		if (r->t.tag == oldtag)
			break;
	if (r && r->state == RQ_QUEUED) {
		struct p9srv_req **pp = &c->qhead, *prev = NULL;
		while (*pp != r) {
			prev = *pp;
			pp = &(*pp)->qnext;
		}
		*pp = r->qnext;
		if (c->qtail == &r->qnext)
			c->qtail = prev ? &prev->qnext : &c->qhead;
		inflight_del_locked(c, r);
		pthread_mutex_unlock(&c->lock);
		req_free(r);
		r = NULL;
	} else if (r) {
		uint16_t *t = sys_realloc(r->ftags,
					  (r->nftags + 1) * sizeof(*t));
		if (t) {
			t[r->nftags++] = tag;
			r->ftags = t;
			atomic_store(&r->flushed, true);
			interrupt_locked(c, r);
			pthread_mutex_unlock(&c->lock);
			return;
		}
		/* out of memory: wait for it the slow way */
		atomic_store(&r->flushed, true);
		while (r) {
			struct p9srv_req *q;
			pthread_cond_wait(&c->idle, &c->lock);
			for (q = c->inflight; q && q != r; q = q->inext)
				;
			r = q;
		}
		pthread_mutex_unlock(&c->lock);
	} else {
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->wlock);
	send_rflush_locked(c, tag);
	pthread_mutex_unlock(&c->wlock);
}

static void do_version(struct conn *c, const struct p9_msg *t)
{
	struct p9_msg m = { .type = P9_RVERSION, .tag = t->tag };

	/* a new session: abort everything, forget every fid */
	drain(c);
	fid_clunk_all(c);
	c->msize = 0;
	m.rversion.msize = t->tversion.msize < c->srv->o.msize
			   ? t->tversion.msize : c->srv->o.msize;
	if (p9_str_eq(t->tversion.version, P9_VERSION_L) &&
	    m.rversion.msize >= MIN_MSIZE) {
		m.rversion.version = P9_STR(P9_VERSION_L);
		c->msize = m.rversion.msize;
	} else {
		m.rversion.version = P9_STR("unknown");
	}
	send_msg(c, &m);
}

/*
 * Reads exactly len bytes of input: 0, 1 at a clean end of file before
 * the first byte, or -errno (-EPIPE for an end of file inside).  Small
 * reads go through c->in: one read() takes a whole small message (and
 * whatever follows it), so the owner knows whether more is waiting.
 * => the calling thread owns the input.
 */
static int in_read(struct conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		if (c->inlen > 0) {
			size_t k = len - got < c->inlen ? len - got : c->inlen;
			memcpy(p + got, c->in + c->inoff, k);
			c->inoff += k;
			c->inlen -= k;
			got += k;
			continue;
		}
		bool direct = len - got >= sizeof(c->in);
		ssize_t n = direct ? sys_read(c->infd, p + got, len - got)
				   : sys_read(c->infd, c->in, sizeof(c->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got == 0 ? 1 : -EPIPE;
		if (direct) {
			got += (size_t)n;
		} else {
			c->inoff = 0;
			c->inlen = (size_t)n;
		}
	}
	return 0;
}

/* Skips len bytes of input. */
static int skip_input(struct conn *c, uint64_t len)
{
	uint8_t b[4096];

	while (len > 0) {
		size_t k = len < sizeof(b) ? (size_t)len : sizeof(b);
		int err = in_read(c, b, k);
		if (err)
			return err < 0 ? err : -EPIPE;
		len -= k;
	}
	return 0;
}

/* More input is already there (another request: it should not wait for
 * this one).  Only what the last read() brought: one that came since is
 * not seen, and waits for this request, or for the watchdog. */
static bool input_waiting(struct conn *c)
{
	return c->inlen > 0;
}

/*
 * A Tclunk or Tremove that no memory could be found for: the fid is
 * clunked all the same (the protocol says it always is, and the client
 * will reuse its number), with what the clunk needs no memory for.  A
 * plain clunk answers Rclunk; a remove, or the clunk that would commit an
 * xattr write, did not happen: ENOMEM.  0, or -errno to close.
 */
static int clunk_nomem(struct conn *c, uint8_t type, uint16_t tag)
{
	uint8_t b[4];
	struct fid *f;
	bool xa;
	int err;

	if ((err = in_read(c, b, sizeof(b))) != 0)
		return err < 0 ? err : -EPIPE;
	uint32_t n = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	xa = srv_is_xattr_fid(c, n);
	if (!(f = srv_fid_get(c, n))) {
		send_error(c, tag, EBADF);
		return 0;
	}
	srv_fid_unhash(c, f);
	srv_fid_put(c, f);
	if (type == P9_TCLUNK && !xa) {
		struct p9_msg m = { .type = P9_RCLUNK, .tag = tag };
		send_msg(c, &m);
	} else {
		send_error(c, tag, ENOMEM);
	}
	return 0;
}

/*
 * Reads, checks and hands out one message: answers it, or lists the
 * request in flight and either sets *run to it (inline: RUNNING on the
 * calling thread, which runs it) or queues it.
 * 0 to go on, 1 at end of file, -errno to close the connection.
 * => the calling thread owns the input.
 */
static int read_one(struct conn *c, struct p9srv_req **run)
{
	uint8_t hdr[P9_HDRSZ];
	uint32_t size, limit = c->msize ? c->msize : c->srv->o.msize;
	struct p9srv_req *r;
	uint8_t type;
	uint16_t tag;
	int err;

	err = in_read(c, hdr, 4);
	if (err)
		return err;
	err = p9_frame_size(hdr, 4, limit, &size);
	if (err == -EMSGSIZE) {
		/* answer it and skip its bytes: the stream stays framed */
		if ((err = in_read(c, hdr + 4, 3)) != 0)
			return err < 0 ? err : -EPIPE;
		p9_peek(hdr, sizeof(hdr), &type, &tag);
		uint32_t total = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
				 (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
		if ((err = skip_input(c, total - P9_HDRSZ)) < 0)
			return err;
		send_error(c, tag, EMSGSIZE);
		return 0;
	}
	if (err < 0)
		return err;     /* size < 7: no way to resynchronise */
	r = sys_calloc(1, sizeof(*r));
	if (r) {
		r->buf = sys_malloc(size);
		if (!r->buf) {
			free(r);
			r = NULL;
		}
	}
	if (!r) {
		/* no memory for it: this request fails, the stream stays
		 * framed and the connection lives */
		if ((err = in_read(c, hdr + 4, 3)) != 0)
			return err < 0 ? err : -EPIPE;
		p9_peek(hdr, sizeof(hdr), &type, &tag);
		if ((type == P9_TCLUNK || type == P9_TREMOVE) &&
		    size == P9_HDRSZ + 4)
			return clunk_nomem(c, type, tag);
		if ((err = skip_input(c, size - P9_HDRSZ)) < 0)
			return err;
		send_error(c, tag, ENOMEM);
		return 0;
	}
	r->c = c;
	r->len = size;
	memcpy(r->buf, hdr, 4);
	if ((err = in_read(c, r->buf + 4, size - 4)) != 0) {
		req_free(r);
		return err < 0 ? err : -EPIPE;
	}
	p9_peek(r->buf, size, &type, &tag);
	err = p9_unpack(r->buf, size, &r->t);
	if (err == 0 && (r->t.type & 1))
		err = -EPROTO;          /* a reply, or Rlerror */
	if (err == 0 && r->t.type != P9_TVERSION && c->msize == 0)
		err = -EPROTO;          /* no version negotiated yet */
	if (err < 0) {
		req_free(r);
		send_error(c, tag, err == -EBADMSG ? EPROTO :
				   p9_type_known(type) ? EPROTO : ENOSYS);
		return 0;
	}
	if (r->t.type == P9_TVERSION) {
		do_version(c, &r->t);
		req_free(r);
		return 0;
	}
	if (r->t.type == P9_TFLUSH) {
		do_flush(c, r->t.tag, r->t.tflush.oldtag);
		req_free(r);
		return 0;
	}
	/* in flight before the input is given up: a Tflush read next by
	 * another thread finds it */
	pthread_mutex_lock(&c->lock);
	while (c->ninflight >= c->srv->o.max_inflight)
		pthread_cond_wait(&c->idle, &c->lock);
	r->inext = c->inflight;
	if (r->inext)
		r->inext->iprev = &r->inext;
	r->iprev = &c->inflight;
	c->inflight = r;
	c->ninflight++;
	if (c->ninflight == 1 && !input_waiting(c)) {
		/* alone: run it here (c->nrunning is 0 < nworkers) */
		r->state = RQ_RUNNING;
		r->worker = pthread_self();
		c->nrunning++;
		c->inline_on = true;
		c->inline_seq++;
		if (!c->watching)
			pthread_cond_signal(&c->qcond); /* wanted: a watchdog */
		else if (c->watch_asleep)
			pthread_cond_signal(&c->wcond);
		*run = r;
	} else {
		r->state = RQ_QUEUED;
		*c->qtail = r;
		c->qtail = &r->qnext;
		if (c->nqwait > 0)
			pthread_cond_signal(&c->qcond);
		else
			pthread_cond_signal(&c->wcond); /* the watchdog runs it */
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* --- the pool --- */

/*
 * The input is over (end of file: err 0, or a broken stream): no thread
 * reads again.  Requests in flight are flushed and waited for.
 * => the calling thread owned the input.
 */
static void input_end(struct conn *c, int err)
{
	pthread_mutex_lock(&c->lock);
	c->ended = true;
	c->err = err;
	pthread_cond_broadcast(&c->qcond);
	pthread_cond_broadcast(&c->wcond);
	pthread_mutex_unlock(&c->lock);
	/* a broken stream: the peer must see the end now, not when the
	 * caller gets round to closing (a pipe pair: the caller closes) */
	if (err < 0 && c->sock)
		sys_shutdown(c->outfd, SHUT_RDWR);
	drain(c);
}

/* The owner of the input: reads until the input ends or the watchdog
 * takes the input from an inline request of ours. */
static void input_run(struct conn *c)
{
	for (;;) {
		struct p9srv_req *r = NULL;
		unsigned long seq;
		bool dead, still;
		int e;

		pthread_mutex_lock(&c->lock);
		dead = c->dead;
		pthread_mutex_unlock(&c->lock);
		e = dead ? -EPIPE : read_one(c, &r);
		if (e != 0) {
			input_end(c, e == 1 ? 0 : e);
			return;
		}
		if (!r)
			continue;
		pthread_mutex_lock(&c->lock);
		seq = c->inline_seq;
		pthread_mutex_unlock(&c->lock);
		req_run(c, r);
		pthread_mutex_lock(&c->lock);
		still = c->inline_on && c->inline_seq == seq;
		if (still)
			c->inline_on = false;
		pthread_mutex_unlock(&c->lock);
		if (!still)
			return;         /* the watchdog reads now */
	}
}

static void watch_wait_locked(struct conn *c)
{
	struct timespec ts;

	deadline_in(&ts, WATCH_MS);
	pthread_cond_timedwait(&c->wcond, &c->lock, &ts);
}

/*
 * An idle thread of the pool: runs queued requests (while fewer than
 * nworkers run), and is the watchdog if there is none.  true when it has
 * taken the input over (the caller reads), false once the input has ended
 * and nothing is left to run here.
 */
static bool idle_run(struct conn *c)
{
	bool watch = false, taken = false;
	unsigned long seen = 0;
	bool seen_on = false;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct p9srv_req *r = dequeue_locked(c);
		if (r) {
			if (watch) {
				c->watching = watch = false;
				/* another idle thread may take the duty */
				pthread_cond_signal(&c->qcond);
			}
			pthread_mutex_unlock(&c->lock);
			req_run(c, r);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (c->ended)
			break;
		if (!watch && !c->watching) {
			c->watching = watch = true;
			seen = c->inline_seq;
			seen_on = c->inline_on;
		}
		if (!watch) {
			c->nqwait++;
			pthread_cond_wait(&c->qcond, &c->lock);
			c->nqwait--;
			continue;
		}
		/* the watchdog */
		if (c->inline_on && seen_on && c->inline_seq == seen) {
			/* the same inline request as at the last look */
			c->inline_on = false;
			c->watching = false;
			taken = true;
			break;
		}
		if (c->inline_on || c->inline_seq != seen) {
			seen = c->inline_seq;
			seen_on = c->inline_on;
			watch_wait_locked(c);
		} else {
			c->watch_asleep = true;
			pthread_cond_wait(&c->wcond, &c->lock);
			c->watch_asleep = false;
			seen = c->inline_seq;
			seen_on = false;
		}
	}
	if (watch && !taken)
		c->watching = false;
	pthread_mutex_unlock(&c->lock);
	return taken;
}

/* One thread of the pool until the input has ended and it has nothing
 * left to run; owner: it starts as the input's owner. */
static void pool_run(struct conn *c, bool owner)
{
	do {
		if (owner)
			input_run(c);
	} while ((owner = idle_run(c)));
}

static void *pool_main(void *arg)
{
	pool_run(arg, false);
	return NULL;
}

int p9srv_serve_fd(struct p9srv *srv, int infd, int outfd)
{
	struct conn *c;
	int type = 0, err = 0;
	socklen_t tl = sizeof(type);

	c = sys_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->srv = srv;
	c->infd = infd;
	c->outfd = outfd;
	c->sock = sys_getsockopt(outfd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
	c->qtail = &c->qhead;
	if (htab_init(&c->fids) < 0) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->qcond, NULL);
	cond_init_monotonic(&c->idle);
	cond_init_monotonic(&c->wcond);
	c->workers = sys_calloc(srv->o.nworkers, sizeof(*c->workers));
	if (!c->workers) {
		err = -ENOMEM;
		goto out_free;
	}
	/* the pool: nworkers threads and this one; at most nworkers (those
	 * that started) run operations, so one is left to read */
	for (; c->nworkers < srv->o.nworkers; c->nworkers++) {
		int e = sys_pthread_create(&c->workers[c->nworkers], NULL,
				       pool_main, c);
		if (e) {
			err = -e;
			break;
		}
	}
	if (c->nworkers == 0)
		goto out_free;
	pool_run(c, true);
	for (unsigned i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	err = c->err;
	fid_clunk_all(c);
out_free:
	free(c->workers);
	htab_fini(&c->fids);
	pthread_cond_destroy(&c->wcond);
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->qcond);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->wlock);
	free(c);
	return err;
}

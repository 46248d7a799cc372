/*
 * rpc.c - 9P2000.L over the remote session (lib/remote/session.h): the
 * protocol's hooks (framing, tags, what a reply does to the fid registry,
 * Tflush as the cancel, a Tgetattr of the root as the probe), requests
 * (rpc_x: pack, admit, replay after a loss), fid numbers and the
 * asynchronous Tclunk queue, and Tversion.
 *
 * Owns struct conn's 9P part (conn_init to conn_fini: the fid allocator,
 * the clunk queue, the registry's storage) and each request's struct p9req
 * (the session frees it with the request).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "pool.h"
#include "sys.h"

static struct conn *C(struct rs_session *s)
{
	return (struct conn *)s;        /* s is struct conn's first member */
}

/* A 9P request's own data (rs_req.pd). */
struct p9req {
	struct regop reg;       /* on a supervised connection */
	struct fid *hold;       /* c->s.lock: an abandoned call's use of its
				 * fid, dropped at its end (rpc_abandon) */
	uint8_t rtype;          /* the expected reply type */
	struct p9_msg r;        /* the reply, unpacked into rs_req.reply */
};

/* ---- fid numbers and the clunk queue ------------------------------------ */

/* => c->s.lock held */
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
	pthread_mutex_lock(&c->s.lock);
	int r = fid_alloc_locked(c, fid);
	pthread_mutex_unlock(&c->s.lock);
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
	pthread_mutex_lock(&c->s.lock);
	fid_free_locked(c, fid);
	pthread_mutex_unlock(&c->s.lock);
}

/* => c->s.lock held.  fid is given up: a Tclunk will go out (the number
 * is reused after Rclunk).  A new server never gets it again. */
static void clunk_queue_locked(struct conn *c, uint32_t fid)
{
	reg_drop_locked(c, fid);
	push_locked(&c->clunkq, &c->nclunk, &c->capclunk, fid);
}

/* => c->s.lock held.  A request failed: dispose of its fid.  Only queues;
 * the caller drains. */
static void cleanup_locked(struct conn *c, enum cleanup cl, uint32_t fid,
			   bool ok)
{
	if (cl == CL_NONE || c->s.rs.state == RS_DEAD)
		return;
	if (cl == CL_CLUNK || ok)
		clunk_queue_locked(c, fid);
	else
		fid_free_locked(c, fid);
}

static ssize_t pack_clunk(void *arg, uint16_t tag, uint8_t *buf, size_t cap)
{
	struct p9_msg m = { .type = P9_TCLUNK, .tag = tag };

	m.tclunk.fid = *(uint32_t *)arg;
	return p9_pack(buf, cap, &m);
}

/* Sends Tclunk for the queued fids, as many as there are free tags; the
 * numbers are reused when Rclunk arrives.  Never waits for a reply.  Not
 * while a recovery runs (a clunk must follow the walk that recreates the
 * fid on the new server). */
void clunk_drain_by(struct conn *c, const struct timespec *dl)
{
	for (;;) {
		struct rs_req *rq;
		uint32_t fid;
		int r;

		/* a request only for a fid to clunk (most calls find none) */
		pthread_mutex_lock(&c->s.lock);
		if (c->nclunk == 0) {
			pthread_mutex_unlock(&c->s.lock);
			return;
		}
		fid = c->clunkq[--c->nclunk];
		pthread_mutex_unlock(&c->s.lock);
		rq = rs_req_new(&c->s, RS_AUX);
		if (!rq) {
			pthread_mutex_lock(&c->s.lock);
			push_locked(&c->clunkq, &c->nclunk, &c->capclunk, fid);
			pthread_mutex_unlock(&c->s.lock);
			return;
		}
		rq->aux = fid;
		atomic_fetch_add(&c->clunks_out, 1);
		r = rs_send_aux(&c->s, rq, P9_HDRSZ + 4, pack_clunk, &fid, dl);
		if (r)
			atomic_fetch_sub(&c->clunks_out, 1);
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			/* not sent: the fid waits in the queue */
			pthread_mutex_lock(&c->s.lock);
			push_locked(&c->clunkq, &c->nclunk, &c->capclunk, fid);
			pthread_mutex_unlock(&c->s.lock);
			rs_req_free(&c->s, rq);
			return;
		}
		if (r)
			return;
		atomic_fetch_add(&c->n_sent, 1);
	}
}

void clunk_drain(struct conn *c)
{
	struct timespec dl;

	deadline_in(&dl, c->s.timeout_ms);
	clunk_drain_by(c, &dl);
}

void fid_rele(struct conn *c, struct fid *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		clunk_async(c, f->num);
		free(f);
	}
}

/* => c->s.lock held.  fid_rele from the reader (an abandoned call's
 * end): the Tclunk is only queued; the next request, or the unmount,
 * sends it (the reader never writes to the link). */
static void fid_rele_locked(struct conn *c, struct fid *f)
{
	if (atomic_fetch_sub(&f->refs, 1) == 1) {
		if (c->s.rs.state != RS_DEAD)
			clunk_queue_locked(c, f->num);
		free(f);
	}
}

void clunk_async(struct conn *c, uint32_t fid)
{
	bool closing;

	pthread_mutex_lock(&c->s.lock);
	if (c->s.rs.state != RS_DEAD)
		clunk_queue_locked(c, fid);
	closing = c->s.closing;
	pthread_mutex_unlock(&c->s.lock);
	if (!closing)
		clunk_drain(c);
}

/* ---- the protocol's hooks ------------------------------------------------ */

static int h_frame_size(const uint8_t *buf, size_t have, uint32_t max,
			uint32_t *size)
{
	return p9_frame_size(buf, have, max, size) ? -EPROTO : 0;
}

static int h_reply_tag(const uint8_t *frame, uint32_t size, uint16_t *tag)
{
	uint8_t type;

	return p9_peek(frame, size, &type, tag) ? -EPROTO : 0;
}

/* A call's reply: unpacked in place (rs_req.reply stays its storage), of
 * the expected type or Rlerror; a success records its fid effects. */
static int h_reply_locked(struct rs_session *s, struct rs_req *rq)
{
	struct p9req *pr = rq->pd;

	if (p9_unpack(rq->reply, rq->reply_len, &pr->r) != 0 ||
	    (pr->r.type != pr->rtype && pr->r.type != P9_RLERROR))
		return -EIO;
	/* borrowed (no memory for a copy): a data reply points into the
	 * frame and fails; the others hold no pointer and are taken (a
	 * walk's new fid exists on the server: the registry must know) */
	if (rq->borrowed && (pr->r.type == P9_RREAD ||
			     pr->r.type == P9_RREADDIR ||
			     pr->r.type == P9_RREADLINK ||
			     pr->r.type == P9_RGETLOCK ||
			     pr->r.type == P9_RVERSION))
		return -ENOMEM;
	if (pr->r.type == pr->rtype)
		reg_apply_locked(C(s), &pr->reg, &pr->r);
	return 0;
}

/* A Tclunk answered (whatever the answer, the fid is gone) or forgotten
 * in a loss (the new server never had it): its number is free. */
static void h_aux_done_locked(struct rs_session *s, struct rs_req *rq,
			      bool lost)
{
	(void)lost;
	if (rq->aux == P9_NOFID) {
		/* an abandoned call (rpc_abandon): its fid may go now */
		struct p9req *pr = rq->pd;
		if (pr && pr->hold) {
			fid_rele_locked(C(s), pr->hold);
			pr->hold = NULL;
		}
		return;
	}
	atomic_fetch_sub(&C(s)->clunks_out, 1);
	fid_free_locked(C(s), rq->aux);
}

static ssize_t h_pack_cancel(uint8_t *buf, size_t cap, uint16_t tag,
			     uint16_t oldtag)
{
	struct p9_msg m = { .type = P9_TFLUSH, .tag = tag };

	m.tflush.oldtag = oldtag;
	return p9_pack(buf, cap, &m);
}

static ssize_t h_pack_probe(uint8_t *buf, size_t cap, uint16_t tag)
{
	struct p9_msg m = { .type = P9_TGETATTR, .tag = tag };

	m.tgetattr.fid = 0;     /* the root: attached for good */
	m.tgetattr.request_mask = P9_GETATTR_BASIC;
	return p9_pack(buf, cap, &m);
}

static void h_req_free(void *pd)
{
	struct p9req *pr = pd;

	free(pr->reg.s1);
	free(pr->reg.s2);
	free(pr);
}

static void h_violation(struct rs_session *s, uint64_t gen)
{
	proto_kill(C(s), gen);
}

static const struct rs_proto p9_proto = {
	.frame_size = h_frame_size,
	.reply_tag = h_reply_tag,
	.reply_locked = h_reply_locked,
	.aux_done_locked = h_aux_done_locked,
	.pack_cancel = h_pack_cancel,
	.pack_probe = h_pack_probe,
	.req_free = h_req_free,
	.violation = h_violation,
};

/* ---- requests ------------------------------------------------------------ */

void reply_free(struct reply *rp)
{
	free(rp->buf);
	rp->buf = NULL;
}

static int ecode_err(uint32_t e)
{
	return e > 0 && e < 4096 ? -(int)e : -EIO;
}

struct sendarg {
	struct conn *c;
	struct p9_msg *t;
	uint32_t fids[2];
	int nf;
	const struct rpc_guard *g;      /* or NULL */
};

static ssize_t pack_msg(void *arg, uint16_t tag, uint8_t *buf, size_t cap)
{
	struct sendarg *a = arg;

	a->t->tag = tag;
	return p9_pack(buf, cap, a->t);
}

/* => c->s.lock held, just before the request takes its tag: a fid whose
 * file changed identity in a restart is -ESTALE; a Tremove's fid leaves
 * the registry whatever happens; a guarded request stopped by
 * rpc_guard_bump is -ECANCELED. */
static int admit_msg(void *arg, struct rs_session *s)
{
	struct sendarg *a = arg;

	if (a->g && atomic_load(a->g->gen) != a->g->want)
		return -ECANCELED;

	for (int i = 0; i < a->nf; i++) {
		struct fident *e = reg_get(a->c, a->fids[i]);
		if (e && e->stale)
			return -ESTALE;
	}
	if (a->t->type == P9_TREMOVE)
		reg_drop_locked(C(s), a->t->tremove.fid);
	return 0;
}

/* The result of rq, done and not lost (rpc_x's and rpc_finish's tail):
 * 0 with *out the reply (reply_free it), or -ETIMEDOUT (no reply before
 * the flush), the session's error, the server's Rlerror.  Frees rq. */
static int reply_take(struct conn *c, struct rs_req *rq, struct reply *out)
{
	struct p9req *pr = rq->pd;
	int r = rq->timed_out && !rq->replied ? -ETIMEDOUT : rq->err;

	if (r == 0 && pr->r.type == P9_RLERROR)
		r = ecode_err(pr->r.rlerror.ecode);
	if (r == 0) {
		out->buf = rq->reply;
		out->m = pr->r;
		rq->reply = NULL;
	}
	rs_req_free(&c->s, rq);
	return r;
}

/*
 * One request.  => t has everything but the tag.
 * 0 and *out filled (reply_free it), or a negative errno: the server's
 * Rlerror, -ETIMEDOUT (deadline passed: the server confirmed the Tflush,
 * or the link was cut), -EIO (dead connection, bad reply, unreachable on
 * a soft mount, or the server died under a request that cannot be
 * replayed), -ESTALE (a fid whose file changed identity in a restart),
 * -ENOMEM, -EMSGSIZE (too big for msize).  A reply that came before the
 * Rflush stands: its result is returned.
 * On failure the fid named by cl is disposed of (CL_WALK: freed; CL_CLUNK:
 * clunked).  On a supervised connection a request waits (deadline) while
 * the server is restarted, and one that was out when the server died is
 * sent again to the new one if it is replayable.  All requests of one
 * vnode operation share its deadline (rs_call_begin in the driver).
 */
int rpc_x(struct conn *c, struct p9_msg *t, uint8_t rtype,
	  struct reply *out, enum cleanup cl, uint32_t clfid, unsigned flags)
{
	return rpc_xg(c, t, rtype, out, cl, clfid, flags, NULL);
}

void rpc_guard_bump(struct conn *c, atomic_uint *gen)
{
	pthread_mutex_lock(&c->s.lock);
	atomic_fetch_add(gen, 1);
	pthread_mutex_unlock(&c->s.lock);
}

int rpc_xg(struct conn *c, struct p9_msg *t, uint8_t rtype,
	   struct reply *out, enum cleanup cl, uint32_t clfid, unsigned flags,
	   const struct rpc_guard *g)
{
	struct timespec dl;
	bool internal = flags & RPC_INTERNAL;
	bool replay = !internal && !(flags & RPC_NOREPLAY) &&
		      replayable(t->type);
	struct sendarg a = { .c = c, .t = t, .g = g };
	ssize_t len;
	int r;

	a.nf = msg_fids(t, a.fids);
	if (!internal)
		clunk_drain(c);
	deadline_in(&dl, c->s.timeout_ms);
	if (!internal)
		rs_call_clamp(&dl);     /* the call's, not a fresh one */
	len = p9_packed_size(t);
	if (len < 0 || (size_t)len > c->s.msize) {
		r = len < 0 ? -EINVAL : -EMSGSIZE;
		goto fail;
	}
	for (;;) {
		struct rs_req *rq = rs_req_new(&c->s, RS_CALL);
		struct p9req *pr = sys_calloc(1, sizeof(*pr));

		if (rq)
			rq->pd = pr;
		/* the supervisor's requests recreate what the registry
		 * says: they must not rewrite it (a re-walk would forget
		 * the open flags if the session died again before the
		 * reopen) */
		if (!rq || !pr || (c->track && !internal &&
				   regop_make(t, &pr->reg))) {
			if (!rq)
				free(pr);
			rs_req_free(&c->s, rq);
			r = -ENOMEM;
			goto fail;
		}
		pr->rtype = rtype;
		r = rs_call(&c->s, rq, (size_t)len, pack_msg, &a, admit_msg,
			    &dl, internal ? RS_INTERNAL : 0);
		if (r) {
			rs_req_free(&c->s, rq);
			goto fail;
		}
		/* it went out and was waited for (inside a batch the batch's
		 * one wait counts instead) */
		atomic_fetch_add(&c->n_sent, 1);
		if (!pool_in_batch())
			atomic_fetch_add(&c->n_waits, 1);
		if (rq->lost && !rq->timed_out) {
			/* the session died under it */
			pthread_mutex_lock(&c->s.lock);
			bool again = replay && c->s.rs.state != RS_DEAD;
			if (again)
				c->s.replays++;
			pthread_mutex_unlock(&c->s.lock);
			rs_req_free(&c->s, rq);
			if (again && ms_left(&dl) > 0)
				continue;
			r = again ? -ETIMEDOUT : -EIO;
			goto fail;
		}
		r = reply_take(c, rq, out);
		if (r)
			goto fail;
		return 0;
	}
fail:
	pthread_mutex_lock(&c->s.lock);
	cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->s.lock);
	if (!internal)
		clunk_drain(c);
	return r;
}

/*
 * Many requests in flight for one caller without a thread each (the
 * session's rs_call_start / rs_call_wait): rpc_start sends t and returns;
 * rpc_finish waits for it by the call's deadline and gives rpc_x's
 * result.  No replay: a request the session lost fails (-EIO), so only
 * what may fail without harm goes this way (the walks and getattrs ahead
 * of an ls -l, the clone a create keeps for the next one).  cl/clfid as
 * rpc_x, on failure.  Not on a serial session (-EINVAL from rpc_start:
 * nothing sent, and the caller does it another way).
 */
int rpc_start(struct conn *c, struct p9_msg *t, uint8_t rtype,
	      struct rpc_async *a)
{
	struct sendarg sa = { .c = c, .t = t };
	struct p9req *pr;
	ssize_t len;
	int r;

	a->rq = NULL;
	a->overlapped = false;
	a->lost = false;
	if (c->s.serial)
		return -EINVAL;
	sa.nf = msg_fids(t, sa.fids);
	deadline_in(&a->dl, c->s.timeout_ms);
	rs_call_clamp(&a->dl);
	len = p9_packed_size(t);
	if (len < 0 || (size_t)len > c->s.msize)
		return len < 0 ? -EINVAL : -EMSGSIZE;
	a->rq = rs_req_new(&c->s, RS_CALL);
	pr = sys_calloc(1, sizeof(*pr));
	if (a->rq)
		a->rq->pd = pr;
	if (!a->rq || !pr || (c->track && regop_make(t, &pr->reg))) {
		if (!a->rq)
			free(pr);
		rs_req_free(&c->s, a->rq);
		a->rq = NULL;
		return -ENOMEM;
	}
	pr->rtype = rtype;
	r = rs_call_start(&c->s, a->rq, (size_t)len, pack_msg, &sa,
			  admit_msg, &a->dl, 0);
	if (r) {
		rs_req_free(&c->s, a->rq);
		a->rq = NULL;
		return r;
	}
	atomic_fetch_add(&c->n_sent, 1);
	return 0;
}

/* Nobody will wait for a: it becomes the session's (an RS_AUX request,
 * freed at its reply or at the session's end; h_aux_done_locked knows it
 * is no Tclunk and drops hold then), or is freed now if its reply is in
 * (and hold dropped now). */
void rpc_abandon(struct conn *c, struct rpc_async *a, struct fid *hold)
{
	struct rs_req *rq = a->rq;

	if (!rq) {
		fid_rele(c, hold);
		return;
	}
	a->rq = NULL;
	pthread_mutex_lock(&c->s.lock);
	if (rq->state != RS_RQ_DONE && !rq->cancel) {
		struct p9req *pr = rq->pd;
		pthread_cond_destroy(&rq->cv);  /* nobody waits on it */
		rq->kind = RS_AUX;
		rq->aux = P9_NOFID;
		pr->hold = hold;
		pthread_mutex_unlock(&c->s.lock);
		return;
	}
	pthread_mutex_unlock(&c->s.lock);
	if (rq->state != RS_RQ_DONE)
		rs_call_wait(&c->s, rq, &a->dl, 0);     /* (not reached) */
	rs_req_free(&c->s, rq);
	fid_rele(c, hold);
}

bool rpc_done(struct conn *c, const struct rpc_async *a)
{
	if (!a->rq)
		return true;
	pthread_mutex_lock(&c->s.lock);
	bool done = a->rq->state == RS_RQ_DONE;
	pthread_mutex_unlock(&c->s.lock);
	return done;
}

int rpc_finish(struct conn *c, struct rpc_async *a, struct reply *out,
	       enum cleanup cl, uint32_t clfid)
{
	struct rs_req *rq = a->rq;
	int r;

	if (!rq) {
		r = -EIO;
		goto fail;
	}
	/* a wait only if its reply is not in yet */
	pthread_mutex_lock(&c->s.lock);
	bool done = rq->state == RS_RQ_DONE;
	pthread_mutex_unlock(&c->s.lock);
	if (!done && !a->overlapped && !pool_in_batch())
		atomic_fetch_add(&c->n_waits, 1);
	rs_call_wait(&c->s, rq, &a->dl, 0);
	a->rq = NULL;
	if (rq->lost && !rq->timed_out) {
		rs_req_free(&c->s, rq);
		a->lost = true;
		r = -EIO;
		goto fail;
	}
	r = reply_take(c, rq, out);
	if (r)
		goto fail;
	return 0;
fail:
	pthread_mutex_lock(&c->s.lock);
	cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->s.lock);
	return r;
}

bool fid_sendable(struct conn *c, uint32_t fid)
{
	pthread_mutex_lock(&c->s.lock);
	struct fident *e = reg_get(c, fid);
	bool ok = c->s.rs.state == RS_UP && !(e && e->stale);
	pthread_mutex_unlock(&c->s.lock);
	return ok;
}

int rpc(struct conn *c, struct p9_msg *t, uint8_t rtype, struct reply *out,
	enum cleanup cl, uint32_t clfid)
{
	return rpc_x(c, t, rtype, out, cl, clfid, 0);
}

/* Tversion, synchronously (no reader yet): negotiates c->s.msize. */
int conn_version(struct conn *c, bool fixed)
{
	struct p9_msg m = { .type = P9_TVERSION, .tag = P9_NOTAG };
	struct timespec dl;
	uint8_t hdr[4], *buf;
	uint32_t size;
	ssize_t len;
	int r;

	m.tversion.msize = c->s.msize;
	m.tversion.version = P9_STR(P9_VERSION_L);
	uint8_t tbuf[64];
	len = p9_pack(tbuf, sizeof(tbuf), &m);
	if (len < 0)
		return -EINVAL;
	deadline_in(&dl, c->s.timeout_ms);
	r = rs_send_raw(&c->s, tbuf, (size_t)len, &dl, rs_sgen(&c->s));
	if (r)
		return r;
	r = rt_read_full(&c->s.link, hdr, 4, &dl, c->s.evfd);
	if (r)
		return r;
	r = p9_frame_size(hdr, 4, c->s.msize, &size);
	if (r)
		return -EPROTO;
	buf = sys_malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, hdr, 4);
	r = rt_read_full(&c->s.link, buf + 4, size - 4, &dl, c->s.evfd);
	if (r == 0 && p9_unpack(buf, size, &m) != 0)
		r = -EPROTO;
	if (r == 0 && m.type == P9_RLERROR)
		r = ecode_err(m.rlerror.ecode);
	else if (r == 0 && (m.type != P9_RVERSION ||
			    !p9_str_eq(m.rversion.version, P9_VERSION_L)))
		r = -EPROTONOSUPPORT;
	else if (r == 0 && (m.rversion.msize > c->s.msize ||
			    m.rversion.msize < MSIZE_MIN))
		r = -EPROTO;
	if (r == 0 && c->s.msize != m.rversion.msize) {
		if (fixed)
			r = -EPROTO;    /* a restarted server: same msize */
		else
			c->s.msize = m.rversion.msize;
	}
	free(buf);
	return r;
}

/* ---- the connection ------------------------------------------------------ */

int conn_init(struct conn *c)
{
	int r = rs_session_init(&c->s, &p9_proto);

	c->next_fid = 1;        /* fid 0 is the root */
	return r;
}

void conn_fini_wait(struct conn *c, int drain_ms)
{
	rs_session_fini_wait(&c->s, drain_ms);
}

void conn_fini(struct conn *c, int drain_ms)
{
	rs_session_fini(&c->s, drain_ms);
	reg_fini(c);
	free(c->free_fids);
	free(c->clunkq);
}

int reader_start(struct conn *c)
{
	return rs_reader_start(&c->s);
}

void conn_kill(struct conn *c)
{
	rs_kill(&c->s);
}

void conn_lost(struct conn *c, uint64_t gen)
{
	rs_lost(&c->s, gen, -EIO);
}

void conn_lost_err(struct conn *c, uint64_t gen, int err)
{
	rs_lost(&c->s, gen, err);
}

uint64_t conn_sgen(struct conn *c)
{
	return rs_sgen(&c->s);
}

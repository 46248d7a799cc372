/*
 * rpc.c - ONC RPC over the remote session (rpc.h, docs/nfs.md).
 *
 * Owns struct nconn (nconn_new to nconn_free: the session, its
 * supervisor and restart limit) and the frames of the calls it sends.
 *
 *   caller: nc_call_many                 session (lib/remote)
 *   ------------------------             --------------------
 *   encode each call: record mark,       tags, the read role and the
 *     call header (XID 0 for now,          reader thread, deadlines,
 *     AUTH_SYS of the caller), args         the probe at half a deadline
 *     with libnfs's zdr_*3args             (the NULL procedure here),
 *   rs_call_start each: pack copies      fencing by the abortive cut
 *     the frame and writes the XID         (RPC has no cancel), loss,
 *     (the tag's count << 11 | the tag) kill, the supervisor's
 *   rs_call_wait each                      reconnect
 *   lost and replayable: again (admit_call: not if its target is gone)
 *   decode: zdr_*3res out of the reply's own copy, in the caller's thread
 *
 * A frame with a call's tag but another XID is not its reply
 * (h_reply_ours_locked): dropped, the call waits on.  reply_locked
 * (under the session's lock) only checks the reply header: its XID is
 * the call's, accepted or denied, where the results start.
 * The results are decoded by the caller after the wait, outside any lock.
 *
 * Locks: the session's (rs_session.lock) for everything the session
 * guards; the XID counter is atomic; nothing else is shared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-portmap.h>

#include "deadline.h"
#include "rpc.h"
#include "session.h"
#include "supervise.h"
#include "sys.h"

#define RPC_CALL        0
#define RPC_REPLY       1
#define RPC_VERS        2
#define FLAVOR_NONE     0
#define FLAVOR_SYS      1
#define MACHINE         "uvfs"
#define HDR_MAX         (4 + 40 + 4 + 8 + 4 * (5 + NC_AUTH_GROUPS))
#define FRAME_MAX       ((1u << 20) + 65536)    /* a READ of 1 MiB and more */
#define NFS_PROG        100003
#define NFS_VERS        3
#define PMAP_PROG       100000
#define PMAP_VERS       2
#define PMAP_GETPORT    3
#define LAST_FRAG       0x80000000u

struct nconn {
	struct rs_session s;            /* first: the session's hooks cast */
	struct rs_super sv;
	char addr[300];                 /* const: tcp:HOST:PORT */
	char *source;                   /* const */
	nc_rebuild_fn rebuild;          /* const */
	void *rebuild_arg;              /* const */
	atomic_ulong calls;
};

/* A call's own data while out (rs_req.pd; the caller's memory). */
struct nreq {
	struct nrpc *c;
	_Atomic uint32_t xid;   /* written by pack, before the send, and
				 * read by the reply's dispatch (a stray
				 * reply on the tag may come meanwhile) */
	uint32_t res_off;       /* reply_locked: where the results start */
	int rpc_err;            /* ... 0 or the RPC-level refusal */
};

/*
 * The XID of a request: its tag in the low TAG_BITS bits (the session
 * finds the call by them, h_reply_tag) and, above them, how many times
 * that tag has gone out (on any connection of the process), from a start
 * drawn from the clock, so that a run does not start where a previous one
 * did while a server's duplicate request cache may still hold its XIDs.
 * The session hands the tags out in turn, so one tag goes once every
 * RS_NTAGS requests, and an XID comes again only after 2^32 requests, as
 * with Linux's client.  A server's cache knows a call by its XID (and its
 * procedure, length and a checksum of its arguments: Linux's nfsd, for
 * two minutes): one that came again sooner could be answered from the
 * cache and not done.  Before, the count was one for all tags, of which
 * only 16 bits were kept above the tag: the XIDs came again every 65 536
 * requests (test_nfs_rpc xids_not_reused).
 */
#define TAG_BITS 11
_Static_assert(RS_NTAGS == 1u << TAG_BITS, "a tag is the XID's low bits");
static _Atomic uint32_t xid_start;      /* 0: not drawn yet */
static _Atomic uint32_t xid_uses[RS_NTAGS];

static uint32_t next_xid(uint16_t tag)
{
	uint32_t start = atomic_load(&xid_start);

	if (start == 0) {
		uint32_t zero = 0;
		atomic_compare_exchange_strong(&xid_start, &zero,
			((uint32_t)time(NULL) * 2654435761u) | 1);
		start = atomic_load(&xid_start);
	}
	return ((start + atomic_fetch_add(&xid_uses[tag], 1)) << TAG_BITS) |
	       tag;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* The call header after the record mark, XID 0: its length.  cred NULL:
 * root; none: AUTH_NONE (the probe). */
static size_t put_header(uint8_t *p, const struct nrpc *c,
			 const struct uvfs_cred *cred, bool none)
{
	size_t o = 0;

	put32(p + o, 0); o += 4;                /* XID, set by pack */
	put32(p + o, RPC_CALL); o += 4;
	put32(p + o, RPC_VERS); o += 4;
	put32(p + o, c->prog); o += 4;
	put32(p + o, c->vers); o += 4;
	put32(p + o, c->proc); o += 4;
	if (none) {
		put32(p + o, FLAVOR_NONE); o += 4;
		put32(p + o, 0); o += 4;
	} else {
		unsigned n = cred ? cred->ngroups : 0;
		if (n > NC_AUTH_GROUPS)
			n = NC_AUTH_GROUPS;     /* AUTH_SYS's limit */
		put32(p + o, FLAVOR_SYS); o += 4;
		put32(p + o, 4 + 4 + 4 + 4 + 4 + 4 + 4 * n); o += 4;
		put32(p + o, 0); o += 4;        /* stamp */
		put32(p + o, 4); o += 4;
		memcpy(p + o, MACHINE, 4); o += 4;
		put32(p + o, cred ? cred->uid : 0); o += 4;
		put32(p + o, cred ? cred->gid : 0); o += 4;
		put32(p + o, n); o += 4;
		for (unsigned i = 0; i < n; i++, o += 4)
			put32(p + o, cred->groups[i]);
	}
	put32(p + o, FLAVOR_NONE); o += 4;      /* verifier */
	put32(p + o, 0); o += 4;
	return o;
}

/* Encodes c into c->frame (record mark, header, arguments). */
static int encode(struct nrpc *c, const struct uvfs_cred *cred)
{
	size_t cap = 4 + HDR_MAX + c->args_max;
	uint8_t *f;
	size_t h;

	if (c->frame)
		return 0;               /* encoded once, sent again as is */
	f = sys_malloc(cap);
	if (!f)
		return -ENOMEM;
	h = 4 + put_header(f + 4, c, cred, false);
	if (c->args_fn) {
		ZDR z;
		zdrmem_create(&z, (caddr_t)(f + h), (uint32_t)(cap - h),
			      ZDR_ENCODE);
		if (!c->args_fn(&z, c->args)) {
			zdr_destroy(&z);
			free(f);
			return -ENAMETOOLONG;   /* larger than args_max */
		}
		h += zdr_getpos(&z);
		zdr_destroy(&z);
	}
	put32(f, LAST_FRAG | (uint32_t)(h - 4));
	c->frame = f;
	c->flen = h;
	return 0;
}

/* ---- the reply ------------------------------------------------------------ */

/* The RPC reply in body (len bytes, after the record marks): its XID,
 * and 0 with *res_off (from body) where the results begin, or the
 * refusal (-EACCES: the credential; -EPROTONOSUPPORT, -EOPNOTSUPP,
 * -EIO), or -EBADMSG for a malformed reply. */
static int parse_reply(const uint8_t *b, uint32_t len, uint32_t *xid,
		       uint32_t *res_off)
{
	uint32_t o = 12, vl;

	if (len < 12 || get32(b + 4) != RPC_REPLY)
		return -EBADMSG;
	*xid = get32(b);
	switch (get32(b + 8)) {
	case 0:                         /* accepted */
		if (len < o + 8)
			return -EBADMSG;
		vl = get32(b + o + 4);
		if (vl > 400 || len < o + 8 + ((vl + 3) & ~3u) + 4)
			return -EBADMSG;
		o += 8 + ((vl + 3) & ~3u);
		switch (get32(b + o)) {
		case 0:
			*res_off = o + 4;
			return 0;
		case 1:                 /* PROG_UNAVAIL */
		case 2:                 /* PROG_MISMATCH */
			return -EPROTONOSUPPORT;
		case 3:                 /* PROC_UNAVAIL */
			return -EOPNOTSUPP;
		default:                /* GARBAGE_ARGS, SYSTEM_ERR */
			return -EIO;
		}
	case 1:                         /* denied */
		if (len < o + 4)
			return -EBADMSG;
		return get32(b + o) == 1 ? -EACCES : -EPROTONOSUPPORT;
	default:
		return -EBADMSG;
	}
}

/* The session's hooks. */

/* A frame is every fragment up to the last one: the size known from the
 * marks seen so far (enough to see the next mark), or the whole. */
static int h_frame_size(const uint8_t *buf, size_t have, uint32_t max,
			uint32_t *size)
{
	uint64_t off = 0;

	for (;;) {
		if (off + 4 > have) {
			*size = (uint32_t)(off + 4);
			return 0;
		}
		uint32_t m = get32(buf + off);
		off += 4 + (m & ~LAST_FRAG);
		if (off > max)
			return -EPROTO;
		if (m & LAST_FRAG) {
			if (off < 4 + 8)
				return -EPROTO; /* no XID and direction */
			*size = (uint32_t)off;
			return 0;
		}
	}
}

static int h_reply_tag(const uint8_t *frame, uint32_t size, uint16_t *tag)
{
	if (size < 8 || (get32(frame) & ~LAST_FRAG) < 4)
		return -EPROTO;
	*tag = (uint16_t)(get32(frame + 4) & (RS_NTAGS - 1));
	return 0;
}

/* Joins the fragments of frame in place (after the first mark): the
 * body's length. */
static uint32_t defragment(uint8_t *f, uint32_t size)
{
	uint32_t in = 0, out = 4;

	while (in + 4 <= size) {
		uint32_t m = get32(f + in), l = m & ~LAST_FRAG;
		memmove(f + out, f + in + 4, l);
		out += l;
		in += 4 + l;
		if (m & LAST_FRAG)
			break;
	}
	return out - 4;
}

static int h_reply_locked(struct rs_session *s, struct rs_req *rq)
{
	struct nreq *nr = rq->pd;
	uint8_t *f = rq->reply;
	uint32_t blen, xid = 0, off = 0;
	int r;

	(void)s;
	if (get32(f) & LAST_FRAG) {
		blen = get32(f) & ~LAST_FRAG;
	} else {
		if (rq->borrowed)
			return -ENOMEM; /* cannot join the reader's buffer */
		blen = defragment(f, rq->reply_len);
	}
	r = parse_reply(f + 4, blen, &xid, &off);
	if (r == -EBADMSG || xid != atomic_load(&nr->xid))
		return -EIO;
	if (r == 0 && rq->borrowed && nr->c->res_fn)
		return -ENOMEM;         /* the results need the bytes */
	nr->rpc_err = r;
	nr->res_off = 4 + off;
	rq->reply_len = 4 + blen;
	return 0;
}

/* The NULL procedure of NFS v3, AUTH_NONE: any live server answers. */
static ssize_t h_pack_probe(uint8_t *buf, size_t cap, uint16_t tag)
{
	struct nrpc c = { .prog = NFS_PROG, .vers = NFS_VERS, .proc = 0 };
	size_t h;

	if (cap < 4 + 40)
		return -1;
	h = put_header(buf + 4, &c, NULL, true);
	put32(buf, LAST_FRAG | (uint32_t)h);
	put32(buf + 4, next_xid(tag));
	return (ssize_t)(4 + h);
}

/* A frame that broke the framing (larger than FRAME_MAX: no call asks
 * for that much) is rq's reply if it carries rq's XID: rq then fails
 * (-EIO) and is not sent again. */
static bool h_bad_frame_locked(struct rs_session *s, struct rs_req *rq,
			       const uint8_t *buf, size_t have)
{
	const struct nreq *nr = rq->pd;

	(void)s;
	return nr && have >= 8 && get32(buf + 4) == atomic_load(&nr->xid);
}

/* A frame with rq's tag is rq's reply only with rq's XID (the first
 * fragment holds it: h_reply_tag).  Another XID is a reply to no call
 * out (a server's duplicate, a stray answer to an earlier call on the
 * tag): RFC 5531 drops it, and the call waits on for its own answer.
 * Before, such a frame failed the call (-EIO) and freed its tag, and the
 * call's own answer was then dropped, or failed the next call on the
 * tag (test_nfs_rpc stray_xid). */
static bool h_reply_ours_locked(struct rs_session *s, const struct rs_req *rq,
				const uint8_t *frame, uint32_t size)
{
	const struct nreq *nr = rq->pd;

	(void)s;
	return !nr || (size >= 8 && get32(frame + 4) == atomic_load(&nr->xid));
}

static const struct rs_proto rpc_proto = {
	.frame_size = h_frame_size,
	.reply_tag = h_reply_tag,
	.reply_locked = h_reply_locked,
	.pack_probe = h_pack_probe,
	.bad_frame_locked = h_bad_frame_locked,
	.reply_ours_locked = h_reply_ours_locked,
	/* no cancel: RPC has none; a call past its deadline is ended by
	 * the abortive cut (the session's rule when no cancel can go) */
};

/* ---- calls ----------------------------------------------------------------- */

/* The session's admit hook of a call (under its lock, after any wait for
 * a reconnect, before a tag is taken): a call whose target is gone
 * (nrpc.gone) does not go.  A replay after a loss passes here once the
 * supervisor's rebuild has run, which is what finds a handle stale. */
static int admit_call(void *arg, struct rs_session *s)
{
	const struct nreq *nr = arg;

	(void)s;
	for (int i = 0; i < 2; i++)
		if (nr->c->gone[i] && atomic_load(nr->c->gone[i]))
			return -ESTALE;
	return 0;
}

static ssize_t pack_call(void *arg, uint16_t tag, uint8_t *buf, size_t cap)
{
	struct nreq *nr = arg;
	struct nrpc *c = nr->c;

	if (cap != c->flen)
		return -1;
	memcpy(buf, c->frame, c->flen);
	uint32_t xid = next_xid(tag);

	atomic_store(&nr->xid, xid);
	put32(buf + 4, xid);
	return (ssize_t)c->flen;
}

/* The results of a call answered: decoded out of its reply. */
static int decode(struct nrpc *c, struct rs_req *rq, struct nreq *nr)
{
	if (nr->rpc_err)
		return nr->rpc_err;
	if (!c->res_fn)
		return 0;
	c->reply = rq->reply;
	rq->reply = NULL;
	zdrmem_create(&c->z, (caddr_t)((uint8_t *)c->reply + nr->res_off),
		      rq->reply_len - nr->res_off, ZDR_DECODE);
	c->zlive = true;
	return c->res_fn(&c->z, c->res) ? 0 : -EIO;
}

enum slot_state { SL_TODO, SL_OUT, SL_DONE };

struct slot {
	enum slot_state st;
	struct rs_req *rq;
	struct nreq nr;
};

/* A call of slot i lost with its connection: to send again? */
static bool replay_ok(struct nconn *nc, const struct nrpc *c, unsigned flags)
{
	struct rs_session *s = &nc->s;
	bool again;

	pthread_mutex_lock(&s->lock);
	again = (c->idem || s->hard) && s->rs.state != RS_DEAD &&
		!(flags & NC_INTERNAL);
	if (again)
		s->replays++;
	pthread_mutex_unlock(&s->lock);
	return again;
}

int nc_call_many(struct nconn *nc, const struct uvfs_cred *cred,
		 struct nrpc *const *calls, unsigned n, unsigned flags,
		 struct timespec *dl)
{
	struct rs_session *s = &nc->s;
	unsigned rsf = flags & NC_INTERNAL ? RS_INTERNAL : 0;
	struct slot *sl = sys_calloc(n, sizeof(*sl));
	unsigned todo = 0;

	if (!sl)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		calls[i]->err = encode(calls[i], cred);
		sl[i].st = calls[i]->err ? SL_DONE : SL_TODO;
		todo += sl[i].st == SL_TODO;
	}
	while (todo > 0) {
		/* send every call still to go (all at once), then wait for
		 * each; the ones lost with their connection go round again */
		for (unsigned i = 0; i < n; i++) {
			struct nrpc *c = calls[i];
			int r = -ENOMEM;
			if (sl[i].st != SL_TODO)
				continue;
			sl[i].rq = rs_req_new(s, RS_CALL);
			if (sl[i].rq) {
				sl[i].nr = (struct nreq){ .c = c };
				sl[i].rq->pd = &sl[i].nr;
				r = rs_call_start(s, sl[i].rq, c->flen,
						  pack_call, &sl[i].nr,
						  admit_call, dl, rsf);
			}
			if (r) {
				rs_req_free(s, sl[i].rq);
				sl[i].rq = NULL;
				c->err = r;
				sl[i].st = SL_DONE;
				todo--;
				continue;
			}
			sl[i].st = SL_OUT;
			atomic_fetch_add(&nc->calls, 1);
		}
		for (unsigned i = 0; i < n; i++) {
			struct rs_req *rq = sl[i].rq;
			struct nrpc *c = calls[i];
			if (sl[i].st != SL_OUT)
				continue;
			rs_call_wait(s, rq, dl, rsf);
			sl[i].rq = NULL;
			if (rq->lost && !rq->timed_out) {
				/* the connection died under it */
				bool again = replay_ok(nc, c, flags);
				rs_req_free(s, rq);
				if (again && ms_left(dl) > 0) {
					sl[i].st = SL_TODO;
					continue;
				}
				c->err = again ? -ETIMEDOUT : -EIO;
			} else if (rq->timed_out && !rq->replied) {
				c->err = -ETIMEDOUT;
				rs_req_free(s, rq);
			} else {
				c->err = rq->err ? rq->err
						 : decode(c, rq, &sl[i].nr);
				rs_req_free(s, rq);
			}
			sl[i].st = SL_DONE;
			todo--;
		}
	}
	free(sl);
	return 0;
}

/* A call sent now and waited for later (nc_start, nc_wait_by: rpc.h). */
struct npend {
	struct nrpc *c;
	struct rs_req *rq;
	struct nreq nr;
	unsigned flags;
	struct timespec dl;             /* its deadline, from the start */
};

/* Sends p's call (again, after a loss; nowait: only if it can go at
 * once): 0 or why it did not go. */
static int pend_send(struct nconn *nc, struct npend *p, bool nowait)
{
	struct rs_session *s = &nc->s;
	int r = -ENOMEM;

	p->rq = rs_req_new(s, RS_CALL);
	if (p->rq) {
		p->nr = (struct nreq){ .c = p->c };
		p->rq->pd = &p->nr;
		r = rs_call_start(s, p->rq, p->c->flen, pack_call, &p->nr,
				  admit_call, &p->dl,
				  (p->flags & NC_INTERNAL ? RS_INTERNAL : 0) |
					  (nowait ? RS_NOWAIT : 0));
	}
	if (r) {
		rs_req_free(s, p->rq);
		p->rq = NULL;
		return r;
	}
	atomic_fetch_add(&nc->calls, 1);
	return 0;
}

int nc_start(struct nconn *nc, const struct uvfs_cred *cred, struct nrpc *c,
	     unsigned flags, const struct timespec *dl, struct npend **out)
{
	struct npend *p = sys_calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->c = c;
	p->flags = flags & ~(unsigned)NC_NOWAIT;
	p->dl = *dl;
	r = encode(c, cred);
	if (r == 0)
		r = pend_send(nc, p, flags & NC_NOWAIT);
	if (r) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Waits for p by p->dl (rpc.h, nc_wait_by). */
static void pend_wait(struct nconn *nc, struct npend *p)
{
	struct rs_session *s = &nc->s;
	struct nrpc *c = p->c;

	for (;;) {
		struct rs_req *rq = p->rq;
		rs_call_wait(s, rq, &p->dl,
			     p->flags & NC_INTERNAL ? RS_INTERNAL : 0);
		p->rq = NULL;
		if (rq->lost && !rq->timed_out) {
			/* the connection died under it */
			bool again = replay_ok(nc, c, p->flags);
			rs_req_free(s, rq);
			if (again && ms_left(&p->dl) > 0) {
				int r = pend_send(nc, p, false);
				if (r == 0)
					continue;
				c->err = r;
				break;
			}
			c->err = again ? -ETIMEDOUT : -EIO;
		} else if (rq->timed_out && !rq->replied) {
			c->err = -ETIMEDOUT;
			rs_req_free(s, rq);
		} else {
			c->err = rq->err ? rq->err : decode(c, rq, &p->nr);
			rs_req_free(s, rq);
		}
		break;
	}
	free(p);
}

void nc_wait_by(struct nconn *nc, struct npend *p, const struct timespec *dl)
{
	if (ts_ns(dl) > ts_ns(&p->dl))
		p->dl = *dl;
	pend_wait(nc, p);
}

bool nc_ready(struct nconn *nc, struct npend *p)
{
	return rs_call_done(&nc->s, p->rq);
}

void nc_abandon(struct nconn *nc, struct npend *p)
{
	/* the session frees the request when it ends; it never touches
	 * p->nr (its pd) again: this protocol has no req_free */
	rs_call_abandon(&nc->s, p->rq);
	free(p);
}

int nc_pause(struct nconn *nc, int ms)
{
	struct rs_session *s = &nc->s;
	struct timespec until;
	bool dead;

	deadline_in(&until, ms);
	pthread_mutex_lock(&s->lock);
	/* s->cv: a tag freed (woken for nothing here), or killed */
	while (s->rs.state != RS_DEAD &&
	       pthread_cond_timedwait(&s->cv, &s->lock, &until) != ETIMEDOUT)
		;
	dead = s->rs.state == RS_DEAD;
	pthread_mutex_unlock(&s->lock);
	return dead ? -EIO : 0;
}

/* Not waited for: an AUX request (its reply or loss is dropped). */
int nc_send(struct nconn *nc, const struct uvfs_cred *cred, struct nrpc *c)
{
	struct rs_req *rq;
	struct timespec dl;
	int r = encode(c, cred);

	if (r)
		return r;
	rq = rs_req_new(&nc->s, RS_AUX);
	if (!rq)
		return -ENOMEM;
	struct nreq nr = { .c = c };
	deadline_in(&dl, nc->s.timeout_ms < 1000 ? nc->s.timeout_ms : 1000);
	r = rs_send_aux(&nc->s, rq, c->flen, pack_call, &nr, &dl);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		rs_req_free(&nc->s, rq);        /* not sent: still ours */
	if (r == 0)
		atomic_fetch_add(&nc->calls, 1);
	return r;
}

void nrpc_again(struct nrpc *c)
{
	if (c->zlive)
		zdr_destroy(&c->z);
	c->zlive = false;
	free(c->reply);
	c->reply = NULL;
	c->err = 0;
}

void nrpc_done(struct nrpc *c)
{
	nrpc_again(c);
	free(c->frame);
	c->frame = NULL;
}
/* ---- one call on a connection of its own (mount time) --------------------- */

static int write_all(const struct rt_link *l, const uint8_t *b, size_t len,
		     const struct timespec *dl)
{
	size_t off = 0;

	while (off < len) {
		ssize_t k = rt_write_some(l, b + off, len - off);
		if (k > 0) {
			off += (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd p = { .fd = l->fd_w, .events = POLLOUT };
		int ms = ms_left(dl);
		if (ms == 0)
			return -ETIMEDOUT;
		sys_poll(&p, 1, ms);
	}
	return 0;
}

/* Reads one reply (every fragment) into a new buffer laid out as the
 * session's (one mark, then the body). */
static int read_reply(const struct rt_link *l, const struct timespec *dl,
		      uint8_t **out, uint32_t *len)
{
	uint8_t *b = NULL;
	uint32_t have = 0;
	bool last = false;
	int r = 0;

	while (!last) {
		uint8_t mk[4];
		uint32_t fl;
		uint8_t *nb;
		if ((r = rt_read_full(l, mk, 4, dl, -1)))
			break;
		last = get32(mk) & LAST_FRAG;
		fl = get32(mk) & ~LAST_FRAG;
		if (have + fl > FRAME_MAX) {
			r = -EPROTO;
			break;
		}
		nb = sys_realloc(b, 4 + have + fl);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		b = nb;
		if ((r = rt_read_full(l, b + 4 + have, fl, dl, -1)))
			break;
		have += fl;
	}
	if (r) {
		free(b);
		return r;
	}
	put32(b, LAST_FRAG | have);
	*out = b;
	*len = 4 + have;
	return 0;
}

int nrpc_oneshot(const char *host, int port, struct nrpc *c, int timeout_ms)
{
	char addr[300];
	struct rt_link l;
	struct timespec dl;
	uint8_t *rep = NULL;
	uint32_t rlen = 0, xid = 0, off = 0;
	int r;

	deadline_in(&dl, timeout_ms);
	snprintf(addr, sizeof(addr), "tcp:%s:%d", host, port);
	r = encode(c, NULL);
	if (r)
		return r;
	r = rt_connect(addr, timeout_ms, -1, NULL, &l);
	if (r)
		return r;
	uint32_t want = next_xid(0);
	put32(c->frame + 4, want);
	r = write_all(&l, c->frame, c->flen, &dl);
	if (r == 0)
		r = read_reply(&l, &dl, &rep, &rlen);
	rt_link_close(&l);
	if (r)
		return r == -ECONNRESET ? -EIO : r;
	r = parse_reply(rep + 4, rlen - 4, &xid, &off);
	if (r == -EBADMSG || (r == 0 && xid != want))
		r = -EIO;
	if (r == 0 && c->res_fn) {
		c->reply = rep;
		rep = NULL;
		zdrmem_create(&c->z, (caddr_t)((uint8_t *)c->reply + 4 + off),
			      rlen - 4 - off, ZDR_DECODE);
		c->zlive = true;
		if (!c->res_fn(&c->z, c->res))
			r = -EIO;
	}
	free(rep);
	return c->err = r;
}

int nrpc_getport(const char *host, uint32_t prog, uint32_t vers,
		 int timeout_ms, int *port)
{
	struct pmap2_mapping m = { .prog = prog, .vers = vers,
				   .prot = 6 /* TCP */, .port = 0 };
	uint32_t res = 0;
	struct nrpc c = {
		.prog = PMAP_PROG, .vers = PMAP_VERS, .proc = PMAP_GETPORT,
		.args_fn = (zdrproc_t)zdr_pmap2_mapping, .args = &m,
		.args_max = 64,
		.res_fn = (zdrproc_t)libnfs_zdr_u_int, .res = &res,
	};
	int r = nrpc_oneshot(host, 111, &c, timeout_ms);

	nrpc_done(&c);
	if (r)
		return r;
	if (res == 0 || res > 65535)
		return -EPROTONOSUPPORT;        /* not registered */
	*port = (int)res;
	return 0;
}

/* ---- the connection and its supervisor ----------------------------------- */

static struct nconn *NC(struct rs_super *sv)
{
	return (struct nconn *)sv->s;   /* the session is nconn's first */
}

/* A new link to the same address (NFS keeps its port across restarts). */
static int sv_start(struct rs_super *sv, int timeout_ms)
{
	struct nconn *nc = NC(sv);
	struct rt_link l;
	int r = rt_connect(nc->addr, timeout_ms, nc->s.evfd, &nc->s.tcp, &l);

	if (r)
		return r;
	rs_super_set_link(sv, l, 0, -1);
	return 0;
}

static int sv_handshake(struct rs_super *sv)
{
	(void)sv;
	return 0;       /* NFSv3 has no session to open */
}

static int sv_rebuild(struct rs_super *sv, uint64_t gen)
{
	struct nconn *nc = NC(sv);

	(void)gen;
	return nc->rebuild ? nc->rebuild(nc->rebuild_arg) : 0;
}

static void sv_recovered(struct rs_super *sv)
{
	(void)sv;
}

static const struct rs_super_ops nc_super_ops = {
	.start = sv_start,
	.handshake = sv_handshake,
	.rebuild = sv_rebuild,
	.recovered = sv_recovered,
};

int nconn_new(const char *host, int port, const struct nc_opts *o,
	      struct nconn **out)
{
	struct nconn *nc = sys_calloc(1, sizeof(*nc));
	int r;

	if (!nc)
		return -ENOMEM;
	r = rs_session_init(&nc->s, &rpc_proto);
	if (r) {
		free(nc);
		return r;
	}
	snprintf(nc->addr, sizeof(nc->addr), "tcp:%s:%d", host, port);
	nc->source = sys_strdup(o->source ? o->source : host);
	nc->rebuild = o->rebuild;
	nc->rebuild_arg = o->rebuild_arg;
	nc->s.msize = FRAME_MAX;
	nc->s.timeout_ms = o->timeout_ms;
	nc->s.hard = o->hard;
	/* liveness as the session has it (docs/session.md) */
	nc->s.tcp.user_timeout_ms = o->timeout_ms / 2 > 1000 ?
				    o->timeout_ms / 2 : 1000;
	nc->s.tcp.keepalive_ms = o->timeout_ms / 4 > 1000 ?
				 o->timeout_ms / 4 : 1000;
	nc->sv.s = &nc->s;
	nc->sv.ops = &nc_super_ops;
	nc->sv.type = "nfs";
	nc->sv.source = nc->source;
	nc->sv.reconnect = true;
	r = nc->source ? rproc_limit_init(&nc->sv.limit, o->restarts,
					  o->window_ms) : -ENOMEM;
	if (r) {
		rs_session_fini(&nc->s, 0);
		free(nc->source);
		free(nc);
		return r;
	}
	r = rt_connect(nc->addr, o->timeout_ms, nc->s.evfd, &nc->s.tcp,
		       &nc->s.link);
	if (r == 0) {
		nc->sv.nrestarts = 1;   /* the first session */
		r = rs_reader_start(&nc->s);
	}
	if (r == 0)
		r = rs_super_start(&nc->sv);
	if (r) {
		rs_session_fini(&nc->s, 0);
		rproc_limit_fini(&nc->sv.limit);
		free(nc->source);
		free(nc);
		return r;
	}
	*out = nc;
	return 0;
}

void nconn_free(struct nconn *nc)
{
	int ms = nc->s.timeout_ms < 1000 ? nc->s.timeout_ms : 1000;

	rs_super_stop(&nc->sv);
	/* what was sent and not waited for (a COMMIT at a last release) is
	 * answered within ms, read by the reader thread */
	pthread_mutex_lock(&nc->s.lock);
	nc->s.closing = true;
	pthread_cond_broadcast(&nc->s.rd_cv);
	pthread_mutex_unlock(&nc->s.lock);
	rs_session_fini_wait(&nc->s, ms);
	rs_super_teardown(&nc->sv, 0);
	rs_session_fini(&nc->s, ms);
	rproc_limit_fini(&nc->sv.limit);
	free(nc->source);
	free(nc);
}

void nconn_cancel(struct nconn *nc)
{
	rs_kill(&nc->s);
}

void nc_stats(struct nconn *nc, struct nc_stats *out)
{
	struct rs_session *s = &nc->s;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->state = rs_state_display(&s->rs);
	out->timeouts = s->timeouts;
	out->losses = s->losses;
	out->reconnects = nc->sv.nrestarts ? nc->sv.nrestarts - 1 : 0;
	out->replays = s->replays;
	out->unreachable = s->unreachable;
	out->probes = s->probes;
	out->strays = s->strays;
	out->unsolicited = s->unsolicited;
	out->inflight = s->nused;
	out->last_error = -s->last_err;
	out->last_loss = s->lost_wall;
	out->hard = s->hard;
	pthread_mutex_unlock(&s->lock);
	out->calls = atomic_load(&nc->calls);
}

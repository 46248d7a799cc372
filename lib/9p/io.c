/*
 * io.c - the 9P client driver's open files and their I/O: open and
 * release, read, write, fsync, readdir.  A read or write larger than one
 * message goes out as all its pieces at once (pool.c), and a sequential
 * writer's Twrites go behind (docs/9p-client.md, "Bulk I/O").
 *
 * Owns struct handle (p9_open to the last of p9_release and the writes
 * behind on it) and each write-behind job (its submit to its reply).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver.h"
#include "sys.h"

void wb_settle(struct p9sb *s, struct node *n)
{
	if (pool_pending(&s->pool, &n->wb))
		pool_wait(&s->pool, &n->wb);
}

int p9_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	unsigned type = atomic_load(&n->type);
	struct handle *h;
	int r;

	/* Only regular files and directories have I/O through the driver:
	 * opening a FIFO or a device on the server could block it. */
	if (type != S_IFREG && type != S_IFDIR) {
		*fh = NULL;
		return 0;
	}
	if (type == S_IFDIR)
		flags = O_RDONLY;
	else
		flags &= O_ACCMODE | O_APPEND | O_DSYNC | O_SYNC | O_DIRECT |
			 O_NOATIME;
	uint32_t of;
	h = sys_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (type == S_IFREG &&
	    !(flags & (O_APPEND | O_DSYNC | O_SYNC))) {
		/* the open after a create: the fid Tlcreate opened
		 * (read-write; the core checks the access mode) */
		pthread_mutex_lock(&s->lock);
		h->fid = n->pre;
		h->iounit = n->pre_iounit;
		n->pre = NULL;
		pthread_mutex_unlock(&s->lock);
	}
	if (!h->fid) {
		r = open_fid(s, n, flags, &of, &h->iounit);
		if (r) {
			free(h);
			return r;
		}
		h->fid = fid_new(of);
		if (!h->fid) {
			clunk_async(&s->c, of);
			free(h);
			return -ENOMEM;
		}
	}
	h->node = n;
	h->append = (flags & O_APPEND) != 0;
	h->sync = (flags & (O_DSYNC | O_SYNC | O_DIRECT)) != 0;
	atomic_init(&h->refs, 1);
	pthread_mutex_init(&h->ra_lock, NULL);
	h->ra_next = UINT64_MAX;        /* the first read is no sequence */
	pthread_mutex_lock(&s->lock);
	n->nopen++;
	h->next = s->handles.next;
	h->prev = &s->handles;
	h->next->prev = h;
	s->handles.next = h;
	pthread_mutex_unlock(&s->lock);
	*fh = h;
	return 0;
}

static void handle_put(struct p9sb *s, struct handle *h)
{
	if (atomic_fetch_sub(&h->refs, 1) == 1) {
		ra_fini(s, h);
		rd_free(h->rd);
		fid_put(s, h->fid);
		free(h);
	}
}

void p9_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;

	if (!h)
		return;
	p9_unlock_on_release(sb, priv, fh);
	pthread_mutex_lock(&s->lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->node->nopen--;
	pthread_mutex_unlock(&s->lock);
	/* writes behind on it finish on their own (their errors stay with
	 * the node: docs/9p-client.md, "write-behind") */
	handle_put(s, h);
}

/* The open fid for an I/O: fh's, or a temporary one (fh NULL: node API). */
static int io_fid(struct p9sb *s, struct node *n, struct handle *h,
		  int flags, uint32_t *fid, uint32_t *iounit, bool *tmp)
{
	if (h) {
		*fid = h->fid->num;     /* the core holds fh across the call */
		*iounit = h->iounit;
		*tmp = false;
		return 0;
	}
	*tmp = true;
	return open_fid(s, n, flags, fid, iounit);
}

/* One Tread or Twrite of a larger call, run by a worker (pool.c). */
struct piece {
	struct p9sb *s;
	uint32_t fid;
	uint64_t off;
	uint32_t want, got;
	char *buf;              /* read: where the data goes; write: from */
	bool write, noreplay;
	bool sent;              /* piece_send sent it: a is it */
	struct rpc_guard g;     /* a write behind's (g.gen NULL: none): sent
				 * again, or by its job, only while its
				 * node was not revoked */
	struct rpc_async a;
	int r;
};

static void piece_msg(const struct piece *p, struct p9_msg *m)
{
	if (p->write) {
		*m = (struct p9_msg){ .type = P9_TWRITE };
		m->twrite.fid = p->fid;
		m->twrite.offset = p->off;
		m->twrite.count = p->want;
		m->twrite.data = p->buf;
	} else {
		*m = (struct p9_msg){ .type = P9_TREAD };
		m->tread.fid = p->fid;
		m->tread.offset = p->off;
		m->tread.count = p->want;
	}
}

/* p's reply (r 0): its count, and a read's data */
static void piece_got(struct piece *p, struct reply *rp)
{
	if (p->write) {
		p->got = rp->m.rwrite.count;
	} else {
		p->got = rp->m.rread.count;
		if (p->got <= p->want)
			memcpy(p->buf, rp->m.rread.data, p->got);
	}
	reply_free(rp);
	if (p->got > p->want)
		p->r = -EIO;    /* more than asked: a broken server */
}

static void piece_run(void *arg)
{
	struct piece *p = arg;
	struct p9_msg m;
	struct reply rp;

	piece_msg(p, &m);
	p->r = rpc_xg(&p->s->c, &m, p->write ? P9_RWRITE : P9_RREAD, &rp,
		      CL_NONE, 0, p->noreplay ? RPC_NOREPLAY : 0,
		      p->g.gen ? &p->g : NULL);
	if (p->r == 0)
		piece_got(p, &rp);
}

/*
 * The pieces sent behind (writes behind, read-ahead) go out from the
 * caller at once (rpc_start), not when a worker gets to run their job: on
 * a loaded machine the workers start late, and the window's requests
 * then trickle out.  The job only takes the answer (piece_end).  A piece
 * the session lost under it is sent again by the job, waited for (as
 * rpc_x replays).  Not sent (a serial session, no memory): the job sends
 * it (piece_run).
 */
static int piece_send(struct piece *p)
{
	struct p9_msg m;
	int r;

	piece_msg(p, &m);
	r = rpc_start(&p->s->c, &m, p->write ? P9_RWRITE : P9_RREAD, &p->a);
	p->sent = r == 0;
	return r;
}

static void piece_end(struct piece *p)
{
	struct reply rp;

	if (!p->sent) {
		piece_run(p);
		return;
	}
	p->sent = false;
	p->r = rpc_finish(&p->s->c, &p->a, &rp, CL_NONE, 0);
	if (p->r == 0)
		piece_got(p, &rp);
	else if (p->a.lost && !p->noreplay)
		piece_run(p);   /* the session died under it: again */
}

#define PIECES_MAX 64   /* pieces of one call in flight together */

/*
 * n bytes at off through fid, in pieces of max, all in flight together
 * (up to PIECES_MAX at a time): the count of the leading pieces that
 * were whole, plus the first short one (the end of the file, or a short
 * write); *err the first failure among the pieces before it.
 */
static size_t pieces(struct p9sb *s, uint32_t fid, char *buf, size_t n,
		     uint64_t off, uint32_t max, bool write, bool noreplay,
		     int *err)
{
	struct piece pc[PIECES_MAX];
	size_t done = 0;

	*err = 0;
	while (done < n) {
		struct pbatch b = { 0 };
		unsigned k = 0;
		size_t at = done;

		while (at < n && k < PIECES_MAX) {
			uint32_t want = n - at > max ? max : (uint32_t)(n - at);
			pc[k] = (struct piece){ .s = s, .fid = fid,
				.off = off + at, .want = want,
				.buf = buf + at, .write = write,
				.noreplay = noreplay };
			at += want;
			k++;
		}
		if (k == 1) {
			piece_run(&pc[0]);
		} else {
			for (unsigned i = 1; i < k; i++)
				pool_submit(&s->pool, &b, piece_run, &pc[i], 0);
			pool_run_here(piece_run, &pc[0]);
			pool_wait(&s->pool, &b);
		}
		for (unsigned i = 0; i < k; i++) {
			if (pc[i].r) {
				*err = pc[i].r;
				return done;
			}
			done += pc[i].got;
			if (pc[i].got < pc[i].want)
				return done;    /* the end (or a short write) */
		}
	}
	return done;
}

/*
 * Read-ahead (docs/9p-client.md, "Bulk I/O").  A handle read in sequence
 * (each read starting where the last ended) keeps the next RA_WINDOW
 * bytes asked for, in pieces of one message each, all in flight; a read
 * takes what it needs from them.  A piece is used only if it is of the
 * file as it is now: no write through this mount since it was asked
 * (node->dgen), and younger than the attribute timeout (another client
 * may have written).  A piece that failed is dropped, and that part read
 * again, waited for: a read still fails whole, and is short only at the
 * end of the file.
 */
#define RA_WINDOW       (4u << 20)

struct rapiece {
	struct piece p;
	struct fid *f;          /* a use of the handle's fid */
	atomic_bool done;       /* written before the pool's broadcast */
	atomic_int refs;        /* the handle's list and the job */
	uint64_t dgen;          /* node->dgen when asked */
	uint64_t asked_ns;
	struct rapiece *next;   /* the handle's list, by offset */
};

static void ra_put(struct p9sb *s, struct rapiece *rp)
{
	if (atomic_fetch_sub(&rp->refs, 1) == 1) {
		fid_put(s, rp->f);
		free(rp->p.buf);
		free(rp);
	}
}

static void ra_run(void *arg)
{
	struct rapiece *rp = arg;
	struct p9sb *s = rp->p.s;

	piece_end(&rp->p);
	atomic_store(&rp->done, true);
	ra_put(s, rp);
}

/* => h->ra_lock held.  Drops every piece (those in flight finish on
 * their own). */
static void ra_drop(struct p9sb *s, struct handle *h)
{
	while (h->ra) {
		struct rapiece *rp = h->ra;
		h->ra = rp->next;
		ra_put(s, rp);
	}
}

void ra_fini(struct p9sb *s, struct handle *h)
{
	pthread_mutex_lock(&h->ra_lock);
	ra_drop(s, h);
	pthread_mutex_unlock(&h->ra_lock);
	pthread_mutex_destroy(&h->ra_lock);
}

/* => h->ra_lock held.  Asks for the pieces from where the list ends (or
 * from) up to end. */
static void ra_fill(struct p9sb *s, struct handle *h, uint64_t from,
		    uint64_t end)
{
	struct node *nd = h->node;
	uint32_t max = io_max(s, h->iounit);
	struct rapiece **pp = &h->ra;
	uint64_t at = from;
	/* sent from here only while the session is up (a send that waited
	 * for it would hold h->ra_lock): else the jobs send them */
	bool send = fid_sendable(&s->c, h->fid->num);

	while (*pp) {
		at = (*pp)->p.off + (*pp)->p.want;
		pp = &(*pp)->next;
	}
	if (at < from)
		at = from;
	while (at < end) {
		struct rapiece *rp = sys_calloc(1, sizeof(*rp));
		char *b = rp ? sys_malloc(max) : NULL;
		if (!b) {
			free(rp);
			return;
		}
		rp->p = (struct piece){ .s = s, .fid = h->fid->num, .off = at,
					.want = max, .buf = b };
		rp->f = h->fid;
		atomic_fetch_add(&h->fid->refs, 1);
		atomic_init(&rp->done, false);
		atomic_init(&rp->refs, 2);
		rp->dgen = atomic_load(&nd->dgen);
		rp->asked_ns = mono_now_ns();
		*pp = rp;
		pp = &rp->next;
		at += max;
		if (send)
			piece_send(&rp->p);
		pool_submit(&s->pool, &s->ra_b, ra_run, rp, 0);
	}
}

/* => h->ra_lock held.  Copies what the pieces have of [off, off + n):
 * the count; *eof when the end of the file came within it.  Stops at a
 * part the pieces do not have, or cannot give (failed, stale): that part
 * is the caller's to read. */
static size_t ra_take(struct p9sb *s, struct handle *h, char *buf,
		      size_t n, uint64_t off, bool *eof)
{
	uint64_t dg = atomic_load(&h->node->dgen);
	uint64_t now = mono_now_ns();
	size_t done = 0;

	*eof = false;
	while (done < n) {
		uint64_t pos = off + done;
		struct rapiece *rp = h->ra;
		while (rp && !(rp->p.off <= pos && pos < rp->p.off + rp->p.want))
			rp = rp->next;
		if (!rp)
			break;
		if (!atomic_load(&rp->done))
			pool_wait_done(&s->pool, &rp->done);
		if (rp->p.r || rp->dgen != dg ||
		    now - rp->asked_ns > s->actimeo_ns) {
			ra_drop(s, h);
			break;
		}
		uint64_t have_end = rp->p.off + rp->p.got;
		if (pos >= have_end) {
			*eof = true;
			break;
		}
		size_t k = have_end - pos;
		if (k > n - done)
			k = n - done;
		memcpy(buf + done, rp->p.buf + (pos - rp->p.off), k);
		done += k;
		if (rp->p.got < rp->p.want && off + done == have_end) {
			*eof = true;
			break;
		}
	}
	/* the pieces wholly before what was read are used up */
	while (h->ra && h->ra->p.off + h->ra->p.want <= off + done) {
		struct rapiece *rp = h->ra;
		h->ra = rp->next;
		ra_put(s, rp);
	}
	return done;
}

ssize_t p9_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		       size_t n, off_t off)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;
	uint32_t fid, iounit;
	size_t done = 0;
	bool tmp, eof = false;
	int r = 0;

	if (off < 0)
		return -EINVAL;
	wb_settle(s, priv);
	/* a write behind that failed: this read could see the file without
	 * it; reported here, once */
	r = atomic_exchange(&((struct node *)priv)->wb_err, 0);
	if (r)
		return r;
	/* the server's atime may move (now, or by the read-ahead that
	 * answers this) */
	attr_drop_atime(s, priv);
	if (h && !h->sync && s->actimeo_ns && n > 0) {
		uint64_t o = (uint64_t)off;
		pthread_mutex_lock(&h->ra_lock);
		if (o != h->ra_next) {
			ra_drop(s, h);
			h->ra_seq = 0;
		} else if (h->ra_seq < 2) {
			h->ra_seq++;
		}
		h->ra_next = o + n;
		if (h->ra_seq >= 1 && fid_sendable(&s->c, h->fid->num))
			ra_fill(s, h, o, o + n + RA_WINDOW);
		done = ra_take(s, h, buf, n, o, &eof);
		pthread_mutex_unlock(&h->ra_lock);
		if (eof || done == n)
			return (ssize_t)done;
	}
	r = io_fid(s, priv, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	done += pieces(s, fid, (char *)buf + done, n - done,
		       (uint64_t)off + done, io_max(s, iounit), false, false,
		       &r);
	if (tmp)
		clunk_async(&s->c, fid);
	/* A read fails whole (docs/session.md): fewer bytes than asked
	 * only at the end of the file, never because a later piece failed
	 * (a front end takes a short read for the end of the file). */
	return r ? r : (ssize_t)done;
}

/* A write behind: one piece, its own copy of the data, a use of its
 * handle and node. */
struct wbjob {
	struct piece p;
	struct handle *h;
};

static void wb_run(void *arg)
{
	struct wbjob *j = arg;
	struct p9sb *s = j->p.s;
	struct node *n = j->h->node;

	piece_end(&j->p);
	if (!j->p.r && j->p.got < j->p.want)
		j->p.r = -EIO;  /* a short write behind: the rest is lost */
	if (j->p.r) {
		/* kept for the file's next fsync, write or close, unless the
		 * file was revoked meanwhile: its writers were told (EIO),
		 * and the node's next vnode made no such write */
		int zero = 0;
		pthread_mutex_lock(&s->lock);
		if (atomic_load(&n->wb_gen) == j->p.g.want)
			atomic_compare_exchange_strong(&n->wb_err, &zero,
						       j->p.r);
		pthread_mutex_unlock(&s->lock);
	}
	attr_drop(s, n);        /* size and times changed */
}

/* Once the job is counted out of its node's batch: the uses go. */
static void wb_fin(void *arg)
{
	struct wbjob *j = arg;
	struct p9sb *s = j->p.s;
	struct node *n = j->h->node;

	free(j->p.buf);
	handle_put(s, j->h);
	node_rele(s, n);
	free(j);
}

/*
 * Sends n bytes at off behind (the caller does not wait): n; or -ENOMEM
 * (then the caller writes them itself); or, when the session refuses a
 * piece (-EIO: a forced unmount killed it, also while the piece's bytes
 * went out on a full link; or it is unreachable and the mount soft),
 * the bytes sent behind before that piece, else -EIO: a write the kill
 * released fails, it is not accepted behind.  A write that does not
 * follow the last one behind waits for those first (the server may run
 * requests out of order: overlapping writes must not be in flight
 * together); at most s->wbwindow bytes are in flight per file.
 */
static ssize_t write_behind(struct p9sb *s, struct handle *h,
			    const char *buf, size_t n, uint64_t off)
{
	struct node *nd = h->node;
	uint32_t max = io_max(s, h->iounit);
	unsigned gen = atomic_load(&nd->wb_gen);
	bool follows;
	size_t at = 0;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	follows = nd->wb_end == off;
	pthread_mutex_unlock(&s->lock);
	if (!follows)
		wb_settle(s, nd);
	while (at < n) {
		uint32_t want = n - at > max ? max : (uint32_t)(n - at);
		struct wbjob *j = sys_malloc(sizeof(*j));
		char *copy = j ? sys_malloc(want) : NULL;

		if (!copy) {
			free(j);
			/* what went behind stays; the caller writes it all
			 * again, waited for */
			return -ENOMEM;
		}
		memcpy(copy, buf + at, want);
		j->p = (struct piece){ .s = s, .fid = h->fid->num,
			.off = off + at, .want = want, .buf = copy,
			.write = true,
			.g = { .gen = &nd->wb_gen, .want = gen } };
		j->h = h;
		atomic_fetch_add(&h->refs, 1);
		node_hold(s, nd);
		pool_wait_below(&s->pool, &nd->wb,
				s->wbwindow > want ? s->wbwindow - want : 0);
		if (piece_send(&j->p) == -EIO) {
			r = -EIO;       /* it will not go: not behind */
			free(copy);
			free(j);
			handle_put(s, h);
			node_rele(s, nd);
			break;
		}
		pool_submit_fin(&s->pool, &nd->wb, wb_run, wb_fin, j, want);
		at += want;
		pthread_mutex_lock(&s->lock);
		nd->wb_end = off + at;
		pthread_mutex_unlock(&s->lock);
	}
	attr_drop(s, nd);
	atomic_fetch_add(&nd->dgen, 1);
	return at > 0 || r == 0 ? (ssize_t)at : r;
}

ssize_t p9_write(struct uvfs_sb *sb, void *priv, void *fh,
			const void *buf, size_t n, off_t *off)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;
	struct node *nd = priv;
	bool append = *off < 0;
	uint32_t fid, iounit;
	size_t done;
	uint64_t pos;
	bool tmp;
	int r;

	/* a write behind that failed: reported here, once (this write is
	 * not done) */
	r = atomic_exchange(&nd->wb_err, 0);
	if (r)
		return r;
	if (h && !append && !h->append && !h->sync && s->wbwindow &&
	    n <= s->wbwindow && fid_sendable(&s->c, h->fid->num)) {
		ssize_t w = write_behind(s, h, buf, n, (uint64_t)*off);
		if (w >= 0) {
			*off += (off_t)w;
			return w;
		}
		if (w != -ENOMEM)
			return w;
		/* no memory for the copies: the whole write again, waited
		 * for (the part sent behind is rewritten with the same
		 * bytes, after it) */
	}
	wb_settle(s, nd);
	r = io_fid(s, priv, fh, append ? O_WRONLY | O_APPEND : O_WRONLY,
		   &fid, &iounit, &tmp);
	if (r)
		return r;
	attr_drop(s, nd);
	atomic_fetch_add(&nd->dgen, 1);
	/* append: the handle was opened O_APPEND, the server appends and
	 * ignores the offset; the size afterwards says where it ended.
	 * Its pieces go one at a time (each lands at the end as it is then,
	 * so they must land in order), and are not replayed: each may have
	 * happened */
	pos = append ? 0 : (uint64_t)*off;
	bool noreplay = append || (h && h->append);
	if (noreplay) {
		uint32_t max = io_max(s, iounit);
		done = 0;
		while (done < n) {
			struct piece p = { .s = s, .fid = fid, .off = pos + done,
				.buf = (char *)buf + done, .write = true,
				.noreplay = true,
				.want = n - done > max ? max : (uint32_t)(n - done) };
			piece_run(&p);
			r = p.r;
			if (r)
				break;
			done += p.got;
			if (p.got < p.want)
				break;
		}
	} else {
		done = pieces(s, fid, (char *)buf, n, pos, io_max(s, iounit),
			      true, false, &r);
	}
	attr_drop(s, nd);
	if (done > 0 || r == 0) {
		if (append) {
			struct p9_rgetattr ga = { 0 };
			int e = getattr_fid(s, fid, &ga);
			if (e == 0)
				*off = (off_t)ga.size;
			else if (done == 0)
				r = e;
			else
				*off = 0;       /* unknown: best effort */
		} else {
			*off += (off_t)done;
		}
	}
	if (tmp)
		clunk_async(&s->c, fid);
	/* A write returns the bytes the server confirmed (POSIX allows a
	 * short count after some were written); the failure of the rest
	 * shows at the next write.  A piece whose outcome is unknown is not
	 * counted (docs/session.md). */
	return done > 0 ? (ssize_t)done : r;
}

/*
 * The vnode of n died (fs.h's revoke: uvfs_revoke, a forced unmount, a
 * stale id): its writes behind not yet sent are dropped, and those the
 * session lost under them are not sent again (a reconnect, a restarted
 * server: the replay of piece_end, or a job of a serial session not yet
 * run).  What was on the wire before may still be written; nothing is
 * sent after this returns.  Their errors go with them: the dead file's
 * close says EIO (the core), and the node, which the next lookup of the
 * name finds again, keeps none for its next opener.  A later write waits
 * for what is left of them (never in flight together with them).  No
 * I/O, no wait.  Not when another vnode uses n too: a stale vnode whose
 * qid the server gave again to a new file of another type shares n with
 * the new file's live vnode, whose writes are not the dead one's to drop
 * (they would go unsent and their errors unkept).
 */
void p9_revoke(struct uvfs_sb *sb, void *priv)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;

	pthread_mutex_lock(&s->lock);
	bool shared = n->vnodes > 1;
	pthread_mutex_unlock(&s->lock);
	if (shared)
		return;
	rpc_guard_bump(&s->c, &n->wb_gen);
	pthread_mutex_lock(&s->lock);
	atomic_store(&n->wb_err, 0);
	n->wb_end = UINT64_MAX;
	pthread_mutex_unlock(&s->lock);
}

/* A close of a descriptor open for writing (fs.h's flush): the writes
 * behind are answered before close returns (the next opener, here or on
 * another client, sees them) and the first that failed is close's error,
 * reported once (as fsync's).  Nothing is sent: no Tfsync. */
int p9_flush(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;

	(void)fh;
	wb_settle(s, n);
	return atomic_exchange(&n->wb_err, 0);
}

int p9_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct p9_msg m = { .type = P9_TFSYNC };
	struct reply rp;
	uint32_t fid, iounit;
	bool tmp;
	int r;

	if (!fh && atomic_load(&n->type) != S_IFREG &&
	    atomic_load(&n->type) != S_IFDIR)
		return 0;
	/* the writes behind first; one that failed is fsync's error (the
	 * data it carried may not be on the server) */
	wb_settle(s, n);
	r = atomic_exchange(&n->wb_err, 0);
	if (r)
		return r;
	r = io_fid(s, n, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	m.tfsync.fid = fid;
	m.tfsync.datasync = datasync ? 1 : 0;
	r = rpc(&s->c, &m, P9_RFSYNC, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (tmp)
		clunk_async(&s->c, fid);
	return r;
}

/* The reply kept in h, taken out (NULL: none). */
static struct rdcache *rd_take(struct p9sb *s, struct handle *h)
{
	struct rdcache *rd;

	if (!h)
		return NULL;
	pthread_mutex_lock(&s->lock);
	rd = h->rd;
	h->rd = NULL;
	pthread_mutex_unlock(&s->lock);
	return rd;
}

/* The Treaddir sent ahead, if any: into *out if it was asked from cookie
 * (waited for: it is on its way; a dead connection ends it at once): 0
 * and *out, or why not (-ENOENT: none such); else given up unwaited. */
static int rd_ahead_take(struct rdcache *rd, uint64_t cookie,
			 struct reply *out)
{
	struct reply rp;
	int r;

	if (!rd || !rd->ahead_c)
		return -ENOENT;
	if (!out || rd->ahead_off != cookie) {
		/* not wanted: nobody waits for it (a release must not); its
		 * fid is clunked only after its reply */
		rpc_abandon(rd->ahead_c, &rd->ahead, rd->ahead_fid);
		rd->ahead_c = NULL;
		rd->ahead_fid = NULL;
		return -ENOENT;
	}
	r = rpc_finish(rd->ahead_c, &rd->ahead, &rp, CL_NONE, 0);
	fid_rele(rd->ahead_c, rd->ahead_fid);
	rd->ahead_c = NULL;
	rd->ahead_fid = NULL;
	if (r)
		return r;
	if (rd->ahead_off != cookie || !out) {
		reply_free(&rp);
		return -ENOENT;
	}
	*out = rp;
	return 0;
}

void rd_free(struct rdcache *rd)
{
	if (rd) {
		rd_ahead_take(rd, 0, NULL);
		if (rd->have_next)
			reply_free(&rd->next);
		reply_free(&rd->rp);
		free(rd);
	}
}

/* Can a file have this name?  A server may list one that no file can
 * have (empty, longer than NAME_MAX, with a '/': a bug, or a name the
 * host allows and Linux does not; a NUL the codec refuses already).  The
 * core leaves such an entry out of every listing, whatever the driver
 * (docs/design.md, "Answers no file can have"); this check is for the
 * driver's own state: such a name never joins a directory's listing of
 * names, which the walks ahead ("ls -l") send to the server. */
static bool nameable(struct p9_str n)
{
	return n.len > 0 && n.len <= NAME_MAX && !memchr(n.s, '/', n.len);
}

/* The names of a Treaddir reply asked from cookie into dir's listing
 * (start: the listing begins with it); its last entry's offset, or
 * cookie if it has none. */
static uint64_t rd_note_all(struct p9sb *s, struct node *dir,
			    const struct reply *rp, uint64_t cookie,
			    bool start)
{
	struct p9_dirent_iter all;
	struct p9_dirent d;
	char name[NAME_MAX + 1];
	uint64_t last = cookie;

	p9_dirent_iter_init(&all, rp->m.rreaddir.data, rp->m.rreaddir.count);
	while (p9_dirent_next(&all, &d) == 1) {
		last = d.offset;
		if (!nameable(d.name))
			continue;
		memcpy(name, d.name.s, d.name.len);
		name[d.name.len] = '\0';
		ls_note(s, dir, start, name);
		start = false;
	}
	return last;
}

/* Sends the Treaddir of f from off ahead, into rd (with a use of f). */
static void rd_send_ahead(struct p9sb *s, struct rdcache *rd, struct fid *f,
			  uint64_t off)
{
	struct p9_msg m = { .type = P9_TREADDIR };

	m.treaddir.fid = f->num;
	m.treaddir.offset = off;
	m.treaddir.count = s->c.s.msize - P9_IOHDRSZ;
	if (rpc_start(&s->c, &m, P9_RREADDIR, &rd->ahead) == 0) {
		atomic_fetch_add(&f->refs, 1);
		rd->ahead_c = &s->c;
		rd->ahead_off = off;
		rd->ahead_fid = f;
	}
}

static void rd_put(struct p9sb *s, struct handle *h, struct rdcache *rd);

bool rd_pull_ahead(struct p9sb *s, struct node *dir, bool wait)
{
	struct handle *h = NULL;
	struct rdcache *rd = NULL;
	struct reply rp;
	bool took = false;

	pthread_mutex_lock(&s->lock);
	for (struct handle *x = s->handles.next; x != &s->handles;
	     x = x->next)
		if (x->node == dir && x->rd && x->rd->ahead_c &&
		    !x->rd->have_next &&
		    (wait || rpc_done(&s->c, &x->rd->ahead))) {
			h = x;
			rd = x->rd;
			x->rd = NULL;   /* ours while we use it */
			atomic_fetch_add(&h->refs, 1);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (!rd)
		return false;
	uint64_t off = rd->ahead_off;
	rd->ahead.overlapped = true;    /* the caller counts its waits */
	if (rd_ahead_take(rd, off, &rp) == 0) {
		took = true;
		rd->next = rp;
		rd->next_off = off;
		rd->have_next = true;
		uint64_t last = rd_note_all(s, dir, &rp, off, false);
		if (last != off)
			rd_send_ahead(s, rd, h->fid, last);
	}
	rd_put(s, h, rd);
	handle_put(s, h);
	return took;
}

static void rd_put(struct p9sb *s, struct handle *h, struct rdcache *rd)
{
	struct rdcache *old = NULL;

	if (!h) {
		rd_free(rd);
		return;
	}
	pthread_mutex_lock(&s->lock);
	old = h->rd;
	h->rd = rd;
	pthread_mutex_unlock(&s->lock);
	rd_free(old);
}

/* Does rd go on at cookie?  Sets *it to the entry after it. */
static bool rd_resume(struct rdcache *rd, uint64_t cookie,
		      struct p9_dirent_iter *it)
{
	struct p9_dirent d;

	if (!rd)
		return false;
	if (rd->eof)
		return cookie == rd->off;
	p9_dirent_iter_init(it, rd->rp.m.rreaddir.data,
			    rd->rp.m.rreaddir.count);
	while (p9_dirent_next(it, &d) == 1)
		if (d.offset == cookie)
			return true;
	return false;
}

/*
 * Treaddir from cookie, one reply of as many entries as fit in a message.
 * A listing read in small steps (the core asks for what its caller's
 * buffer takes) goes on from the reply kept in the handle when it has
 * the entries, and the end, once seen, is remembered: a listing costs
 * one Treaddir per message of entries, plus the one that says the end.
 */
int p9_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		      uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;
	struct rdcache *rd = rd_take(s, h);
	bool from0 = cookie == 0;       /* a listing from its start */
	uint32_t fid, iounit;
	char name[NAME_MAX + 1];
	bool tmp, stop = false, used_up = false, asked = false;
	int r;

	r = io_fid(s, priv, fh, O_RDONLY | O_DIRECTORY, &fid, &iounit, &tmp);
	if (r) {
		rd_free(rd);
		return r;
	}
	while (!stop) {
		struct p9_msg m = { .type = P9_TREADDIR };
		struct p9_dirent_iter it;
		struct p9_dirent d;
		int k, any = 0;
		bool fresh = false;

		if (used_up || !rd_resume(rd, cookie, &it)) {
			struct reply ahead;
			struct rdcache *nrd = sys_calloc(1, sizeof(*nrd));
			bool have = false, noted = false;
			used_up = false;
			if (nrd && rd && rd->have_next &&
			    rd->next_off == cookie) {
				/* taken ahead already, its names noted; the
				 * one sent after it goes on */
				ahead = rd->next;
				rd->have_next = false;
				nrd->ahead_c = rd->ahead_c;
				nrd->ahead = rd->ahead;
				nrd->ahead_off = rd->ahead_off;
				nrd->ahead_fid = rd->ahead_fid;
				rd->ahead_c = NULL;
				rd->ahead_fid = NULL;
				have = noted = true;
			} else if (nrd) {
				have = rd_ahead_take(rd, cookie, &ahead) == 0;
			}
			fresh = true;
			rd_free(rd);
			rd = nrd;
			if (!rd) {
				r = -ENOMEM;
				break;
			}
			m.treaddir.fid = fid;
			m.treaddir.offset = cookie;
			/* diod's bound */
			m.treaddir.count = s->c.s.msize - P9_IOHDRSZ;
			if (have)
				rd->rp = ahead;
			else
				r = rpc(&s->c, &m, P9_RREADDIR, &rd->rp,
					CL_NONE, 0);
			if (r)
				break;
			asked = true;
			rd->off = cookie;
			p9_dirent_iter_init(&it, rd->rp.m.rreaddir.data,
					    rd->rp.m.rreaddir.count);
			/* every name of the reply is the listing's now, not
			 * only those handed out so far: a stat of the first
			 * walks the rest of them ahead together (vnops.c,
			 * "ls -l") */
			if (!noted) {
				uint64_t last = rd_note_all(s, priv, &rd->rp,
					cookie, from0 && cookie == 0);
				/* and the next one goes out now (on a
				 * handle's fid: a temporary one is clunked
				 * at the end of this call) */
				if (!tmp && last != cookie)
					rd_send_ahead(s, rd, h->fid, last);
			}
		} else if (rd->eof) {
			break;          /* the end, as seen before */
		}
		uint64_t from = cookie;
		while ((k = p9_dirent_next(&it, &d)) == 1) {
			any = 1;
			if (d.name.len > NAME_MAX) {
				/* too long for the copy (and for any file:
				 * the core would leave it out) */
				cookie = d.offset;
				continue;
			}
			memcpy(name, d.name.s, d.name.len);
			name[d.name.len] = '\0';
			if (fill(arg, name, d.qid.path, d.type, d.offset)) {
				stop = true;
				break;
			}
			cookie = d.offset;
		}
		if (k < 0) {
			r = -EIO;
			break;
		}
		if (!any && fresh) {
			rd->eof = true;         /* the end */
			break;
		}
		if (!stop && !any) {
			/* the kept reply was used up: the next one (sent
			 * ahead, or asked now) from cookie */
			used_up = true;
			continue;
		}
		if (!stop && cookie == from) {
			r = -EIO;       /* no progress: a broken server */
			break;
		}
	}
	if (r) {
		rd_free(rd);
		rd = NULL;
	}
	rd_put(s, h, rd);
	if (tmp)
		clunk_async(&s->c, fid);
	if (asked)
		attr_drop_atime(s, priv);
	return r;
}

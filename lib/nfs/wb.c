/*
 * wb.c - the NFS driver's writes behind and their commit (docs/nfs.md,
 * "Writes behind and COMMIT").
 *
 * A write(2) on an open file sends its data as UNSTABLE WRITEs of at most
 * wtmax bytes and returns without waiting for them (up to WB_WINDOW bytes
 * in flight per file; past it the write waits for the oldest), as Linux's
 * client writes behind through its page cache.  Each WRITE keeps its own
 * copy of the data until a COMMIT whose verifier matches the one the WRITE
 * was answered with: a server that restarted (its verifier changed) may
 * have lost unstable data, so everything not yet committed is sent again
 * (through the same WB_WINDOW) and committed again, as Linux does.  What waits for the WRITEs: the next
 * write of an overlapping range (the server may run two requests in
 * parallel), a read, a getattr, a setattr, fsync and the close of a
 * descriptor (the core's flush: COMMIT too, so close-to-open holds and an
 * error reaches close(2)).  The error of a write behind is latched in the
 * node (wb_err, the last one, and wb_eseq, how many so far) and reaches
 * every open file that was open when it came, once each, as Linux's
 * errseq_t has it: each handle keeps the count it has reported up to
 * (wb_seen, from its open); its writes fail at once while it has one to
 * report, and its fsync or close reports it.  Before, the first fsync or
 * close of any open file of the node reported it and cleared it: another
 * descriptor's close (or an fsync of a read-only one) took the writer's
 * error, and the writer's close said 0 for data that never landed.  A
 * WRITE answered JUKEBOX ("not now": nothing written) is no failure:
 * whoever waits for it sends it again (nfs3_send.c's policy) until its
 * own operation's deadline or the WRITE's, whichever is later; only past
 * that is it one (-ETIMEDOUT, latched like the others).
 *
 * COMMIT in the background: past WB_COMMIT_AT bytes kept on a file, a
 * write sends a COMMIT and does not wait for it (one at a time per
 * file); the wbufs answered before it went carry its number (cseq).  A
 * later write whose COMMIT answer has come takes it without waiting:
 * the covered wbufs with its verifier are committed (freed), the others
 * sent again.  Only past WB_KEEP does a write wait: for the background
 * COMMIT's answer, then, if still past it, for a COMMIT of its own.  A
 * background COMMIT that fails changes nothing (the data stays kept:
 * fsync's or close's COMMIT, which gives the background one up without
 * waiting, tries again and reports).
 *
 * A revoke (nv_revoke: the core's revoke op, before the releases of the
 * files still open) drops what is not committed (nw_drop): the kept
 * wbufs freed, those in flight and the background COMMIT given up, the
 * node not dirty, so that none of it is sent or committed later.
 *
 * Owns struct wbuf (one WRITE: from nw_write to its commit, its failure,
 * a revoke, nw_drop, or the node's end, nw_fini).  Its state (enum
 * wb_state, changed only by wb_set): OUT (sent, its reply not yet waited for) -> KEPT (answered,
 * its verifier known) -> DONE (committed: freed at the next sweep); OUT
 * -> DONE (it failed: its error latched); KEPT -> OUT (the COMMIT's
 * verifier was another: sent again).  One answered short keeps the bytes
 * written (KEPT) and its rest becomes a new wbuf after it (OUT).  The
 * wbufs not DONE never overlap: a WRITE that went cuts what older ones
 * kept of its range out of them (trim_locked), so what goes again after
 * a restart is the newest data of each byte.
 *
 * An O_APPEND write (nw_append) waits for every WRITE in flight, asks
 * the server for the size and sends its data at it in one hold of
 * wb_lock: the appends of one mount are ordered, never two at one end
 * (before, two appenders each asked the size and wrote over each other's
 * records).
 *
 * Locks: n->wb_lock guards the node's wbufs and wb_* fields and is held
 * across the waits and the requests it makes (as ra_lock), an append's
 * GETATTR too: taken before s->lock and the session's lock, never inside
 * them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfs_i.h"
#include "sys.h"

enum wb_state { WB_OUT, WB_KEPT, WB_DONE };

struct wbuf {
	struct wbuf *next;              /* the node's, in the order sent */
	enum wb_state st;
	uint64_t off;
	uint32_t len;
	struct n3wpend *pend;           /* OUT: the request */
	uint64_t verf;                  /* answered: its write verifier */
	uint64_t agen;                  /* OUT: its number (nn_attr_gen),
					 * for the attributes of its reply */
	uint64_t cseq;                  /* KEPT: the background COMMIT sent
					 * after its answer, or 0 */
	char data[];
};

static void wb_set(struct wbuf *w, enum wb_state to)
{
	static const char *const names[] = { "OUT", "KEPT", "DONE" };
	bool legal = (w->st == WB_OUT && (to == WB_KEPT || to == WB_DONE)) ||
		     (w->st == WB_KEPT && (to == WB_OUT || to == WB_DONE));

	if (!legal) {
		fprintf(stderr, "uvfs: nfs: illegal write-behind transition "
			"%s -> %s\n", names[w->st], names[to]);
		abort();
	}
	w->st = to;
}

void nw_init(struct node *n)
{
	pthread_mutex_init(&n->wb_lock, NULL);
}

/* A write behind failed with e (it never reached the file, or not all of
 * it): every open file open now has it to report.  => n->wb_lock held. */
static void latch_locked(struct node *n, int e)
{
	n->wb_err = e;
	n->wb_eseq++;
}

/* Whether seen (an open file's count, or NULL: none kept) has an error
 * of n's still to report.  => n->wb_lock held. */
static bool unseen_locked(const struct node *n, const uint64_t *seen)
{
	return seen && *seen != n->wb_eseq;
}

uint64_t nw_errseq(struct node *n)
{
	uint64_t q;

	pthread_mutex_lock(&n->wb_lock);
	q = n->wb_eseq;
	pthread_mutex_unlock(&n->wb_lock);
	return q;
}

static int send_locked(struct nsb *s, struct n3 *c, struct node *n,
		       const struct fh3 *fh, struct wbuf *w, bool again);

/* w was answered short: the server wrote its first got bytes (RFC 1813
 * allows it anywhere).  The rest goes as a WRITE of its own, after w in
 * the list (so whoever waits for w's range waits for it too); w keeps
 * the bytes written.  0, or the error of sending the rest.
 * => n->wb_lock held. */
static int rest_locked(struct nsb *s, struct n3 *c, struct node *n,
		       struct wbuf *w, uint32_t got)
{
	struct fh3 fh;
	uint32_t rest = w->len - got;
	struct wbuf *t;
	int r = nn_fh(s, n, &fh);

	if (r)
		return r;
	t = sys_malloc(sizeof(*t) + rest);
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->st = WB_OUT;
	t->off = w->off + got;
	t->len = rest;
	memcpy(t->data, w->data + got, rest);
	r = send_locked(s, c, n, &fh, t, false);
	if (r) {
		free(t);
		return r;
	}
	t->next = w->next;
	w->next = t;
	w->len = got;
	return 0;
}

/* Waits for w (in flight) and accounts for its answer: kept with its
 * verifier, or dropped with its error latched; answered short, the rest
 * sent again (rest_locked).  Answered JUKEBOX, it is sent again until the
 * deadline of c's operation (the waiter's, or the write's own if later).
 * => n->wb_lock held. */
static void wait_one_locked(struct nsb *s, struct n3 *c, struct node *n,
			    struct wbuf *w)
{
	struct n3attr a = { 0 };
	uint64_t verf = 0;
	ssize_t r = n3_write_end(w->pend, &c->dl, &verf, &a);

	w->pend = NULL;
	n->wb_out--;
	n->wb_out_bytes -= w->len;
	pthread_mutex_lock(&s->lock);
	if (--n->wr_out == 0)
		n->wr_end = 0;
	/* failed: it may have been applied in part; answered: a READ ahead
	 * sent while it was out may have missed it */
	n->wgen++;
	pthread_mutex_unlock(&s->lock);
	if (r >= 0 && (uint32_t)r < w->len) {
		/* short: the rest goes again, as Linux's
		 * nfs_writeback_result sends it; a server that wrote
		 * nothing and said no error makes no progress: -EIO */
		int e = r > 0 ? rest_locked(s, c, n, w, (uint32_t)r) : -EIO;
		if (e)
			r = e;
	}
	if (r < 0) {
		latch_locked(n, (int)r);
		wb_set(w, WB_DONE);     /* nothing to keep */
		return;
	}
	wb_set(w, WB_KEPT);
	w->verf = verf;
	n->wb_kept += w->len;
	/* older than attributes a reply after it brought (another WRITE's
	 * size, a LINK's link count, a SETATTR's): dropped */
	nn_attr(s, n, &a, w->agen);
}

/* Frees the DONE wbufs.  => n->wb_lock held. */
static void sweep_locked(struct node *n)
{
	for (struct wbuf **pp = &n->wb_head; *pp;) {
		struct wbuf *w = *pp;
		if (w->st == WB_DONE) {
			*pp = w->next;
			free(w);
			continue;
		}
		pp = &w->next;
	}
}

/* Waits for every write in flight whose range meets [off, off + len)
 * (all of them: len UINT64_MAX), freeing nothing.  => n->wb_lock held. */
static void wait_range_locked(struct nsb *s, struct n3 *c, struct node *n,
			      uint64_t off, uint64_t len)
{
	for (struct wbuf *w = n->wb_head; w && n->wb_out > 0; w = w->next)
		if (w->st == WB_OUT && (len == UINT64_MAX ||
				(w->off < off + len && off < w->off + w->len)))
			wait_one_locked(s, c, n, w);
}

/* The same, then the DONE wbufs freed.  => n->wb_lock held. */
static void settle_locked(struct nsb *s, struct n3 *c, struct node *n,
			  uint64_t off, uint64_t len)
{
	wait_range_locked(s, c, n, off, len);
	sweep_locked(n);
}

/* The bytes past [off, off + len) of the kept wbuf that holds that range
 * strictly inside it (a trim of the range splits it: trim_locked needs a
 * wbuf of that size for its end), or 0.  => n->wb_lock held. */
static uint32_t trim_split_locked(const struct node *n, uint64_t off,
				  uint64_t len)
{
	for (const struct wbuf *w = n->wb_head; w; w = w->next)
		if (w->st == WB_KEPT && w->off < off &&
		    off + len < w->off + w->len)
			return (uint32_t)(w->off + w->len - off - len);
	return 0;
}

/* A write of [off, off + len) went: the bytes older writes kept in that
 * range are superseded, and are cut out of their wbufs (a wbuf wholly in
 * it is done with, one across it split in two: its end into *split,
 * of the size trim_split_locked said; taken, *split is NULL).
 * Kept, a COMMIT with another verifier (the server restarted) would send
 * them again after the newer ones had landed, the older bytes last (or
 * both at once, in any order): the newer data lost under an fsync that
 * said 0.  So the wbufs not DONE never overlap, and a resend is always of
 * the newest bytes of its range, as Linux resends its pages as they are.
 * Only once the new WRITE went: one that did not go leaves the older
 * bytes the newest, to be sent again.  => n->wb_lock held, none but the
 * new one in flight over the range. */
static void trim_locked(struct node *n, uint64_t off, uint64_t len,
			struct wbuf **split)
{
	uint64_t end = off + len;

	for (struct wbuf *w = n->wb_head; w; w = w->next) {
		uint64_t wend = w->off + w->len;
		if (w->st != WB_KEPT || wend <= off || end <= w->off)
			continue;
		if (off <= w->off && wend <= end) {
			n->wb_kept -= w->len;           /* all of it */
			wb_set(w, WB_DONE);
		} else if (w->off < off && end < wend) {
			/* the range inside it: what follows the range goes
			 * into a wbuf of its own, after it */
			struct wbuf *t = *split;
			uint32_t tail = (uint32_t)(wend - end);
			*split = NULL;
			memcpy(t, w, sizeof(*t));       /* KEPT, its verf */
			t->off = end;
			t->len = tail;
			memcpy(t->data, w->data + (end - w->off), tail);
			w->next = t;
			w->len = (uint32_t)(off - w->off);
			n->wb_kept -= len;
			w = t;
		} else if (w->off < off) {
			n->wb_kept -= wend - off;       /* its end */
			w->len = (uint32_t)(off - w->off);
		} else {
			uint32_t cut = (uint32_t)(end - w->off);
			memmove(w->data, w->data + cut, w->len - cut);
			n->wb_kept -= cut;              /* its start */
			w->off = end;
			w->len -= cut;
		}
	}
}

/* Waits for the oldest write in flight.  => n->wb_lock held. */
static void wait_oldest_locked(struct nsb *s, struct n3 *c, struct node *n)
{
	for (struct wbuf *w = n->wb_head; w; w = w->next)
		if (w->st == WB_OUT) {
			wait_one_locked(s, c, n, w);
			break;
		}
	sweep_locked(n);
}

void nw_settle(struct nsb *s, struct n3 *c, struct node *n)
{
	pthread_mutex_lock(&n->wb_lock);
	if (n->wb_out > 0)
		settle_locked(s, c, n, 0, UINT64_MAX);
	pthread_mutex_unlock(&n->wb_lock);
}

/* Sends w's data (a new wbuf, already OUT, or a KEPT one again): OUT,
 * or an error (w unchanged).  => n->wb_lock held. */
static int send_locked(struct nsb *s, struct n3 *c, struct node *n,
		       const struct fh3 *fh, struct wbuf *w, bool again)
{
	int r;

	pthread_mutex_lock(&s->lock);
	n->wr_out++;            /* before its reply can come */
	if (w->off + w->len > n->wr_end)
		n->wr_end = w->off + w->len;
	pthread_mutex_unlock(&s->lock);
	w->agen = nn_attr_gen(s);
	r = n3_write_start(c, fh, w->data, w->len, w->off, &w->pend);
	if (r == 0) {
		if (again)
			wb_set(w, WB_OUT);
		n->wb_out++;
		n->wb_out_bytes += w->len;
	} else {
		pthread_mutex_lock(&s->lock);
		if (--n->wr_out == 0)
			n->wr_end = 0;
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

/* A kept w after a COMMIT whose verifier is cverf: committed if its
 * WRITE's verifier is the same (freed at the next sweep), else sent again
 * (the server restarted and may have lost it), through the window a
 * write keeps: while WB_WINDOW bytes are in flight, the oldest is waited
 * for first (its answer taken; the DONE wbufs swept, never w, which is
 * KEPT until sent).  => 0 committed, 1 sent again, or the error of
 * sending it again (w given up, the error kept in n->wb_err for the
 * fsyncs and closes).  => n->wb_lock held; the caller walks the list
 * from w on (what the waits take, sent again before it, is behind). */
static int commit_one_locked(struct nsb *s, struct n3 *c, struct node *n,
			     const struct fh3 *fh, struct wbuf *w,
			     uint64_t cverf)
{
	int e;

	n->wb_kept -= w->len;
	if (w->verf == cverf) {
		wb_set(w, WB_DONE);     /* committed */
		return 0;
	}
	while (n->wb_out > 0 && n->wb_out_bytes + w->len > WB_WINDOW)
		wait_oldest_locked(s, c, n);
	e = send_locked(s, c, n, fh, w, true);
	if (e) {
		wb_set(w, WB_DONE);
		latch_locked(n, e);
		return e;
	}
	return 1;
}

/* The background COMMIT's answer (waited for by c's deadline if it has
 * not come: the caller says so): the wbufs it covers with its verifier
 * are committed, the others sent again on fh (n's, from nn_fh).
 * => n->wb_lock held, a COMMIT in the background. */
static void commit_reap_locked(struct nsb *s, struct n3 *c, struct node *n,
			       const struct fh3 *fh)
{
	uint64_t cverf = 0, seq = n->wb_cseq;
	unsigned long again = 0;
	int r = n3_commit_end(c, n->wb_commit, &cverf);

	n->wb_commit = NULL;
	for (struct wbuf *w = n->wb_head; w; w = w->next) {
		if (w->st != WB_KEPT || w->cseq != seq)
			continue;
		w->cseq = 0;
		if (r)
			continue;       /* kept: the next COMMIT tries again */
		if (commit_one_locked(s, c, n, fh, w, cverf) > 0)
			again++;
	}
	atomic_fetch_add(&s->rewrites, again);
	sweep_locked(n);
}

/* Sends a COMMIT in the background on fh (n's) for what is kept now.
 * => n->wb_lock held, none in the background. */
static void commit_behind_locked(struct nsb *s, struct n3 *c, struct node *n,
				 const struct fh3 *fh)
{
	uint64_t seq = n->wb_cseq + 1;

	if (n3_commit_start(c, fh, &n->wb_commit) != 0) {
		n->wb_commit = NULL;    /* the bound's COMMIT will do */
		return;
	}
	n->wb_cseq = seq;
	atomic_fetch_add(&s->commits_behind, 1);
	for (struct wbuf *w = n->wb_head; w; w = w->next)
		if (w->st == WB_KEPT)
			w->cseq = seq;
}

/* Everything in flight answered, then a COMMIT on fh (n's); kept data
 * whose verifier is not the COMMIT's is sent again and committed again (a
 * server that restarted).  0: everything written so far is on stable
 * storage; else the error (the data stays kept for the next try).
 * => n->wb_lock held. */
static int commit_locked(struct nsb *s, struct n3 *c, struct node *n,
			 const struct fh3 *fh)
{
	uint64_t cverf = 0;
	int r = 0;

	if (n->wb_commit) {
		/* the COMMIT below covers what it did: given up, not waited
		 * for */
		n3_commit_drop(n->wb_commit);
		n->wb_commit = NULL;
		for (struct wbuf *w = n->wb_head; w; w = w->next)
			w->cseq = 0;
	}
	settle_locked(s, c, n, 0, UINT64_MAX);
	for (int tries = 0; n->wb_head && tries < 4; tries++) {
		r = n3_commit(c, fh, &cverf);
		if (r)
			return r;
		unsigned long again = 0;
		for (struct wbuf *w = n->wb_head; w; w = w->next) {
			if (w->st != WB_KEPT)
				continue;
			int e = commit_one_locked(s, c, n, fh, w, cverf);
			if (e > 0)
				again++;
			if (e)          /* the last resend's outcome */
				r = e > 0 ? 0 : e;
		}
		atomic_fetch_add(&s->rewrites, again);
		settle_locked(s, c, n, 0, UINT64_MAX);
		if (r)
			return r;
	}
	if (n->wb_head)
		return -EIO;    /* the verifier never held still */
	pthread_mutex_lock(&s->lock);
	n->dirty = false;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* nw_write's (nfs_i.h), and an append's once it knows where, on fh
 * (n's, from nn_fh).  => n->wb_lock held. */
static ssize_t write_locked(struct nsb *s, struct n3 *c, struct node *n,
			    const struct fh3 *fh, const uint64_t *seen,
			    const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int r;

	if (unseen_locked(n, seen)) {
		/* a write behind failed: every write of this open file fails
		 * until its fsync or close reports it */
		return n->wb_err;
	}
	/* a range still in flight is written after its WRITE is answered */
	if (n->wb_out > 0)
		settle_locked(s, c, n, off, len);
	/* a background COMMIT answered: taken, no wait */
	if (n->wb_commit && n3_commit_ready(n->wb_commit))
		commit_reap_locked(s, c, n, fh);
	if (n->wb_kept + len > WB_KEEP) {
		/* the second bound: the writer waits, for the background
		 * COMMIT first, then (still past it) for one of its own */
		atomic_fetch_add(&s->commit_waits, 1);
		if (n->wb_commit)
			commit_reap_locked(s, c, n, fh);
		if (n->wb_kept + len > WB_KEEP) {
			r = commit_locked(s, c, n, fh);
			if (r)
				return r;
		}
	}
	if (n->wb_kept + len > WB_COMMIT_AT && !n->wb_commit)
		commit_behind_locked(s, c, n, fh);
	while (done < len) {
		uint32_t piece = len - done > s->wtmax ? s->wtmax
						       : (uint32_t)(len - done);
		uint64_t at = off + done;
		while (n->wb_out > 0 && n->wb_out_bytes + piece > WB_WINDOW)
			wait_oldest_locked(s, c, n);
		/* what a COMMIT above sent again over the range is older: it
		 * lands first */
		if (n->wb_out > 0)
			wait_range_locked(s, c, n, at, piece);
		struct wbuf *split = NULL;
		uint32_t tail = trim_split_locked(n, at, piece);
		if (tail && !(split = sys_malloc(sizeof(*split) + tail))) {
			r = -ENOMEM;
			break;
		}
		struct wbuf *w = sys_malloc(sizeof(*w) + piece);
		if (!w) {
			free(split);
			r = -ENOMEM;
			break;
		}
		memset(w, 0, sizeof(*w));
		w->st = WB_OUT;
		w->off = at;
		w->len = piece;
		memcpy(w->data, (const char *)buf + done, piece);
		r = send_locked(s, c, n, fh, w, false);
		if (r) {
			free(split);
			free(w);
			break;
		}
		w->next = NULL;
		struct wbuf **pp = &n->wb_head;
		while (*pp)
			pp = &(*pp)->next;
		*pp = w;
		/* ... and what older writes kept of it is theirs no more */
		trim_locked(n, at, piece, &split);
		free(split);
		done += piece;
	}
	if (done == 0)
		return r;
	pthread_mutex_lock(&s->lock);
	n->dirty = true;
	n->wgen++;              /* what was read ahead is old */
	if (n->st_valid && (off_t)(off + done) > n->st.st_size)
		n->st.st_size = (off_t)(off + done);    /* until the replies */
	pthread_mutex_unlock(&s->lock);
	return (ssize_t)done;
}

ssize_t nw_write(struct nsb *s, struct n3 *c, struct node *n,
		 const uint64_t *seen, const void *buf, size_t len,
		 uint64_t off)
{
	struct fh3 fh;
	ssize_t r = nn_fh(s, n, &fh);

	if (r)
		return r;
	pthread_mutex_lock(&n->wb_lock);
	r = write_locked(s, c, n, &fh, seen, buf, len, off);
	pthread_mutex_unlock(&n->wb_lock);
	return r;
}

ssize_t nw_append(struct nsb *s, struct n3 *c, struct node *n,
		  const uint64_t *seen, const void *buf, size_t len,
		  uint64_t *at)
{
	struct stat st;
	struct fh3 fh;
	ssize_t r = nn_fh(s, n, &fh);

	if (r)
		return r;
	/* the end asked and written at in one hold of wb_lock: another
	 * append of this mount (which takes it too) goes wholly before or
	 * after, never at the same end */
	pthread_mutex_lock(&n->wb_lock);
	r = unseen_locked(n, seen) ? n->wb_err : 0;
	if (r == 0 && n->wb_out > 0)
		settle_locked(s, c, n, 0, UINT64_MAX);
	if (r == 0)
		r = nn_getattr(s, c, n, &st, s->cache != CACHE_LOOSE);
	if (r == 0 && (uint64_t)st.st_size > (uint64_t)INT64_MAX - len)
		r = -EFBIG;     /* its end would pass the largest offset (the
				 * core's check for a write at a position) */
	if (r == 0) {
		*at = (uint64_t)st.st_size;
		r = len ? write_locked(s, c, n, &fh, seen, buf, len, *at)
			: 0;
	}
	pthread_mutex_unlock(&n->wb_lock);
	return r;
}

int nw_commit(struct nsb *s, struct n3 *c, struct node *n, uint64_t *seen)
{
	struct fh3 fh;
	int e = 0, r = nn_fh(s, n, &fh);

	if (r)
		return r;       /* stale: nothing goes, nothing reported */
	pthread_mutex_lock(&n->wb_lock);
	r = commit_locked(s, c, n, &fh);
	if (unseen_locked(n, seen)) {
		e = n->wb_err;
		*seen = n->wb_eseq;     /* reported to this open file */
	}
	pthread_mutex_unlock(&n->wb_lock);
	return e ? e : r;
}

/* => n->wb_lock held.  Empties n's writes behind and its COMMIT (not
 * waited for).  A WRITE in flight is given up (drop: its answer dropped
 * when it comes, never sent again after a loss or a JUKEBOX) or waited
 * for (its deadline bounds the wait, a JUKEBOX asked again too; at an
 * unmount after a forced one the session ends it at once).  => how many
 * were in flight. */
static unsigned wb_empty_locked(struct node *n, bool drop)
{
	unsigned out = 0;

	if (n->wb_commit) {
		n3_commit_drop(n->wb_commit);
		n->wb_commit = NULL;
	}
	while (n->wb_head) {
		struct wbuf *w = n->wb_head;
		n->wb_head = w->next;
		if (w->st == WB_OUT) {
			if (drop) {
				n3_write_drop(w->pend);
			} else {
				struct n3attr a;
				uint64_t verf;
				n3_write_end(w->pend, NULL, &verf, &a);
			}
			out++;
		}
		free(w);
	}
	n->wb_out = 0;
	n->wb_out_bytes = n->wb_kept = 0;
	return out;
}

void nw_drop(struct nsb *s, struct node *n)
{
	pthread_mutex_lock(&n->wb_lock);
	unsigned out = wb_empty_locked(n, true);
	pthread_mutex_lock(&s->lock);
	n->wr_out -= out;
	if (n->wr_out == 0)
		n->wr_end = 0;
	n->dirty = false;       /* its last release commits nothing */
	n->wgen++;              /* what was read ahead is old */
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&n->wb_lock);
}

void nw_fini(struct node *n)
{
	pthread_mutex_lock(&n->wb_lock);
	wb_empty_locked(n, false);
	pthread_mutex_unlock(&n->wb_lock);
}

/*
 * nfs3_send.c - how an NFS call goes out (nfs3_i.h): waited for, many at
 * once, started and waited for later, or sent and forgotten; and the one
 * JUKEBOX policy the waited ones share.
 *
 * NFS3ERR_JUKEBOX is the server's "not now": it did nothing (a file it
 * is busy with, migrated from tape, its own resources short) and asks to
 * be asked again later.  Linux's client asks again after a pause
 * (nfs3_rpc_wrapper, NFS_JUKEBOX_RETRY_TIME: every 5 s, for as long as
 * the caller waits).  Here every call that someone waits for is asked
 * again the same way: the same request (as it was encoded: its
 * arguments and credential) goes out again after 10 ms, doubling to 1 s,
 * until the deadline of the operation that waits for it; past it the
 * call is -ETIMEDOUT, the answer of a server that did not answer in
 * time; a forced unmount ends a pause at once (-EIO).  Safe for every
 * procedure, a WRITE or a CREATE too: the server did nothing.  A
 * pending call waited for with no deadline to ask again by (a
 * read-ahead piece, a background COMMIT: hints) gives the answer up as
 * -EAGAIN, which its caller drops (docs/nfs.md, JUKEBOX); so does a
 * silly-renamed file's REMOVE, whose reaper (remove.c) asks again itself
 * after the same pauses (n3_backoff), so as not to hold up the others it
 * waits for.  The one call nobody waits for (n3c_send_async: the COMMIT
 * at a last release) never sees its answer.
 *
 * A struct call's request lives from n3c_prep to nrpc_done, through any
 * number of tries (nrpc_again between them); no object outlives its call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>

#include "deadline.h"
#include "nfs3_i.h"

#define AGAIN 1         /* answer(): JUKEBOX, the call is to go again */

enum {
	JUKEBOX_FIRST_MS = 10,  /* the first pause */
	JUKEBOX_MAX_MS = 1000,  /* the pauses double up to this */
};

/* Whether c's reply says NFS3ERR_JUKEBOX (MOUNT has no such answer). */
static bool jukebox(const struct call *c)
{
	return c->proc != P_MNT && c->rpc.err == 0 &&
	       n3c_status(c) == NFS3ERR_JUKEBOX;
}

int n3_backoff(int *wait_ms)
{
	int now = *wait_ms ? *wait_ms : JUKEBOX_FIRST_MS;

	*wait_ms = now * 2 < JUKEBOX_MAX_MS ? now * 2 : JUKEBOX_MAX_MS;
	return now;
}

/* The pause before a call answered JUKEBOX goes again on nc: the
 * policy's next (n3_backoff), but not past dl.  0 after it; -ETIMEDOUT
 * when dl has passed (no try is left); -EIO at once if nc is killed (a
 * forced unmount). */
static int jukebox_pause(struct nconn *nc, int *wait_ms,
			 const struct timespec *dl)
{
	int left = ms_left(dl), ms;

	if (left <= 0)
		return -ETIMEDOUT;
	ms = n3_backoff(wait_ms);
	return nc_pause(nc, ms < left ? ms : left);
}

/* c's answer (or how it ended) copied out: its result, with c's request
 * done; or AGAIN if it said JUKEBOX: its reply dropped, its request kept
 * to go out again as it is. */
static int answer(struct call *c)
{
	int r = n3c_decode(c);

	if (jukebox(c)) {
		nrpc_again(&c->rpc);
		memset(&c->r, 0, sizeof(c->r));
		c->answered = false;
		return AGAIN;
	}
	nrpc_done(&c->rpc);
	return r;
}

int n3c_call_many(struct n3 *n, struct call *cs, int *res, unsigned k)
{
	struct nrpc *rps[N3_MANY_MAX];
	unsigned todo = k;
	int wait_ms = 0, r = 0;

	for (unsigned i = 0; i < k; i++) {
		n3c_prep(&cs[i]);
		cs[i].rpc.gone[0] = n->gone[0];
		cs[i].rpc.gone[1] = n->gone[1];
		res[i] = AGAIN;
	}
	while (todo > 0) {
		/* every call not yet answered for good goes (again), all at
		 * once, by the one deadline; those answered JUKEBOX go round
		 * again after one pause */
		unsigned m = 0;
		for (unsigned i = 0; i < k; i++)
			if (res[i] == AGAIN)
				rps[m++] = &cs[i].rpc;
		r = nc_call_many(n->nc, n->cred, rps, m, n->flags, &n->dl);
		todo = 0;
		for (unsigned i = 0; i < k; i++) {
			if (res[i] != AGAIN)
				continue;
			if (r) {
				res[i] = r;
				nrpc_done(&cs[i].rpc);
				continue;
			}
			res[i] = answer(&cs[i]);
			todo += res[i] == AGAIN;
		}
		int e = todo > 0 ? jukebox_pause(n->nc, &wait_ms, &n->dl) : 0;
		if (e) {
			for (unsigned i = 0; i < k; i++)
				if (res[i] == AGAIN) {
					res[i] = e;
					nrpc_done(&cs[i].rpc);
				}
			todo = 0;
		}
	}
	return r;
}

int n3c_call(struct n3 *n, struct call *c)
{
	int res, r = n3c_call_many(n, c, &res, 1);

	return r ? r : res;
}

int n3c_start(struct n3 *n, struct pend *w)
{
	int r;

	w->nc = n->nc;
	w->flags = n->flags & ~(unsigned)NC_NOWAIT;     /* the start's only */
	w->dl = n->dl;
	n3c_prep(&w->c);
	w->c.rpc.gone[0] = n->gone[0];
	w->c.rpc.gone[1] = n->gone[1];
	r = nc_start(n->nc, n->cred, &w->c.rpc, n->flags, &n->dl, &w->p);
	if (r)
		nrpc_done(&w->c.rpc);
	return r;
}

int n3c_wait(struct pend *w, const struct timespec *wait_by,
	     const struct timespec *again_by)
{
	struct timespec dl = w->dl;
	int wait_ms = 0, r;

	if (again_by && ts_ns(again_by) > ts_ns(&dl))
		dl = *again_by;
	nc_wait_by(w->nc, w->p, wait_by ? wait_by : &w->dl);
	for (;;) {
		w->p = NULL;
		r = answer(&w->c);
		if (r != AGAIN)
			return r;
		r = again_by ? jukebox_pause(w->nc, &wait_ms, &dl) : -EAGAIN;
		if (r == 0)
			r = nc_start(w->nc, NULL, &w->c.rpc, w->flags, &dl,
				     &w->p);
		if (r) {
			nrpc_done(&w->c.rpc);
			return r;
		}
		nc_wait_by(w->nc, w->p, &dl);
	}
}

bool n3c_ready(struct pend *w)
{
	return nc_ready(w->nc, w->p);
}

void n3c_abandon(struct pend *w)
{
	nc_abandon(w->nc, w->p);
	w->p = NULL;
	nrpc_done(&w->c.rpc);
}

int n3c_send_async(struct nconn *nc, const struct uvfs_cred *cred,
		   struct call *c)
{
	int r;

	n3c_prep(c);
	r = nc_send(nc, cred, &c->rpc);
	nrpc_done(&c->rpc);
	return r;
}

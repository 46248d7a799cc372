/*
 * lsplus.c - the 9P client driver's walks ahead of an ls -l: 9P2000.L
 * has no readdirplus, so a stat of a name a directory listed lately
 * walks that name and the listing's other names the name cache does not
 * know, and gets their attributes, all in flight together from the one
 * caller (rpc_start / rpc_finish).  Called by the lookup (vnops.c); the
 * listing's names are io.c's (rd_note_all, rd_pull_ahead).
 *
 * Owns nothing beyond one call: the entries of one walk ahead, and the
 * fids their walks made until they are installed in the node table or
 * clunked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "driver.h"
#include "sys.h"

/*
 * ls -l: 9P2000.L has no readdirplus.  A lookup of a name the directory's
 * last listing had, that the name cache does not know, walks it and the
 * rest of the names of the listing the cache does not know either, and
 * gets their attributes: every walk goes out at once (up to PF_WINDOW
 * requests in flight), and each name's Tgetattr as soon as its Rwalk is
 * in (a server may run requests out of order: a Tgetattr of a fid whose
 * walk it has not run yet would fail), all from this one caller
 * (rpc_start / rpc_finish, no thread per request).  So a listing followed
 * by a stat of each name costs two round trips for the names (more only
 * past PF_WINDOW requests), not one or two per name.
 */
#define PF_WINDOW       (RS_NTAGS - RS_NTAGS / 8)  /* the rest: others' */
#define LS_AGE_NS       (10ull * 1000000000ull)   /* a listing this old is
						   * not followed */

struct pf_ent {
	char *name;
	uint32_t nf;            /* its walk's new fid */
	struct p9_qid qid;
	struct rpc_async a;     /* the walk, then the getattr, in flight */
	bool walked;            /* the walk is in: a is the getattr */
	unsigned wave;          /* the caller's wait it went out after */
};

static int pf_walk_start(struct p9sb *s, uint32_t dirfid, struct pf_ent *e)
{
	struct p9_msg m = { .type = P9_TWALK };
	int r = fid_alloc(&s->c, &e->nf);

	if (r)
		return r;
	m.twalk.fid = dirfid;
	m.twalk.newfid = e->nf;
	m.twalk.nwname = 1;
	m.twalk.wname[0] = p9_str(e->name);
	r = rpc_start(&s->c, &m, P9_RWALK, &e->a);
	if (r)
		fid_free(&s->c, e->nf);
	return r;
}

/* The walk's answer: 0 with e->nf walked to e->name (e->qid). */
static int pf_walk_end(struct p9sb *s, struct pf_ent *e)
{
	struct reply rp;
	int r = rpc_finish(&s->c, &e->a, &rp, CL_WALK, e->nf);

	if (r)
		return r;
	if (rp.m.rwalk.nwqid != 1) {
		reply_free(&rp);
		fid_free(&s->c, e->nf); /* a partial walk creates no fid */
		return -ENOENT;
	}
	e->qid = rp.m.rwalk.wqid[0];
	reply_free(&rp);
	return 0;
}

static int pf_getattr_start(struct p9sb *s, struct pf_ent *e)
{
	struct p9_msg m = { .type = P9_TGETATTR };

	m.tgetattr.fid = e->nf;
	m.tgetattr.request_mask = P9_GETATTR_BASIC;
	return rpc_start(&s->c, &m, P9_RGETATTR, &e->a);
}

/* The getattr's answer: the node goes into the table with its fid and
 * its attributes (without them the fid is given up). */
static void pf_getattr_end(struct p9sb *s, struct pf_ent *e, uint64_t pino,
			   uint64_t gen)
{
	struct reply rp;
	struct p9_rgetattr ga;

	if (rpc_finish(&s->c, &e->a, &rp, CL_NONE, 0) != 0) {
		clunk_async(&s->c, e->nf);
		return;
	}
	ga = rp.m.rgetattr;
	reply_free(&rp);
	if (attr_check(&ga) != 0) {
		clunk_async(&s->c, e->nf);
		return;
	}
	if (node_install(s, e->qid.path, e->nf, true, pino, e->name, gen,
			 true))
		return;
	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, e->qid.path);
	if (n)
		atomic_store(&n->type, ga.mode & S_IFMT);
	pthread_mutex_unlock(&s->lock);
	if (n)
		attr_put(s, n, &ga);
}

/* Was d listed lately (a listing that a stat of each name may follow)? */
bool listed_lately(struct p9sb *s, struct node *d)
{
	uint64_t now = mono_now_ns();

	pthread_mutex_lock(&s->lock);
	bool r = d->ls && now - d->ls_ns < LS_AGE_NS;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ls_prefetch(struct p9sb *s, struct node *d, const char *name)
{
	struct pf_ent *ents;
	unsigned *fifo;         /* entries in flight, oldest first (each
				 * once: its walk, then its getattr) */
	unsigned *gq;           /* walked, their getattrs not yet sent */
	unsigned n = 0, i, head = 0, tail = 0, next = 0, inflight = 0, ng = 0;
	struct fid *df;
	uint64_t t, gen = sb_gen(s);
	mode_t ty;

	/* the listing's next names, if a reply to it is in already (one on
	 * its way is waited for below, with the walks out) */
	rd_pull_ahead(s, d, false);
	pthread_mutex_lock(&s->lock);
	if (!d->ls || s->actimeo_ns == 0 || s->c.s.serial) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	for (i = 0; i < d->nls && strcmp(d->ls[i], name) != 0; i++)
		;
	if (i < d->pf_next)
		i = d->nls;     /* walked ahead once already */
	ents = sys_calloc(LS_MAX, sizeof(*ents));
	fifo = sys_calloc(2 * LS_MAX, sizeof(*fifo));
	gq = sys_calloc(LS_MAX, sizeof(*gq));
	for (; ents && fifo && gq && i < d->nls; i++) {
		char *nm = d->ls[i];
		if (name_fresh_locked(s, d->ino, nm, &t, &ty))
			continue;
		if (!(ents[n].name = sys_strdup(nm)))
			break;
		n++;
	}
	if (n)
		d->pf_next = i;
	pthread_mutex_unlock(&s->lock);
	if (n < 2 || node_fid(s, d, &df) != 0)
		goto out;
	bool pulled = false;
	/* The waits counted are round trips of time: waiting for a request
	 * sent since the last such wait is one more; one sent before it is
	 * in, or on its way with the others (not counted). */
	unsigned wave = 0;
	for (;;) {
		/* each train corked: one send, however long the caller
		 * takes to make it (a loaded machine), so the server and
		 * the link see the batch as one */
		bool corked = inflight < PF_WINDOW && next < n;
		if (corked)
			rs_batch_begin(&s->c.s);
		while (inflight < PF_WINDOW && next < n) {
			if (pf_walk_start(s, df->num, &ents[next]) == 0) {
				ents[next].a.overlapped = true;
				ents[next].wave = wave;
				fifo[tail++] = next;
				inflight++;
			}
			next++;
		}
		if (corked)
			rs_batch_end(&s->c.s);
		/* the getattrs go out together once the walks before them
		 * are in (one train, not one send per Rwalk: the link sees
		 * two round trips for the batch) */
		if (ng && (head == tail || ents[fifo[head]].walked)) {
			rs_batch_begin(&s->c.s);
			for (unsigned k = 0; k < ng; k++) {
				struct pf_ent *g = &ents[gq[k]];
				if (pf_getattr_start(s, g) == 0) {
					g->a.overlapped = true;
					g->wave = wave;
					fifo[tail++] = gq[k];
				} else {
					clunk_async(&s->c, g->nf);
					inflight--;
				}
			}
			rs_batch_end(&s->c.s);
			ng = 0;
		}
		if (head == tail)
			break;
		if (!pulled) {
			/* the walks are out: the reply on its way to the
			 * listing comes meanwhile; its names join */
			pulled = true;
			if (rd_pull_ahead(s, d, true)) {
				unsigned was = n;
				pthread_mutex_lock(&s->lock);
				for (i = d->pf_next; i < d->nls && n < LS_MAX;
				     i++) {
					char *nm = d->ls[i];
					if (name_fresh_locked(s, d->ino, nm, &t,
							      &ty))
						continue;
					if (!(ents[n].name = sys_strdup(nm)))
						break;
					n++;
				}
				d->pf_next = i;
				pthread_mutex_unlock(&s->lock);
				if (n > was) {  /* a round trip for them */
					wave++;
					atomic_fetch_add(&s->c.n_waits, 1);
				}
				continue;
			}
		}
		struct pf_ent *e = &ents[fifo[head++]];
		if (e->wave == wave) {
			wave++;
			atomic_fetch_add(&s->c.n_waits, 1);
		}
		if (!e->walked) {
			if (pf_walk_end(s, e) == 0) {
				e->walked = true;
				gq[ng++] = (unsigned)(e - ents);
				continue;       /* its getattr goes next */
			}
		} else {
			pf_getattr_end(s, e, d->ino, gen);
		}
		inflight--;
	}
	fid_put(s, df);
out:
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	free(fifo);
	free(gq);
}

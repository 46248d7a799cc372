/*
 * registry.c - what the fids of a supervised 9P session name, and what a
 * request may be sent twice (docs/recovery.md).  The recovery policy's
 * data: recover.c walks every entry again on a new server.
 *
 * Owns the entries of c->fids (struct fident, by fid number, under
 * c->s.lock) from the reply that created a fid to its clunk (or Tremove),
 * the index of their paths (c->paths, lib/9p/pathidx.h: each entry with
 * a path is listed at its node), and the strings of a struct regop (freed
 * with its request).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "sys.h"

/* ---- the fid registry (supervised connections) -------------------------
 * Every fid the server holds, by number: the path it names from the root,
 * its qid, its open flags.  Updated by the reader as replies arrive (so a
 * recovery, which runs after the old reader is joined, sees every fid the
 * old server created), and when a fid is given up (clunk queued, Tremove
 * sent).  A new server gets every entry walked again under the same
 * number, so requests replayed after a restart name the same fids. */

/* => c->s.lock held */
struct fident *reg_get(struct conn *c, uint32_t fid)
{
	if (!c->fids || fid >= c->nfidents || !c->fids[fid].used)
		return NULL;
	return &c->fids[fid];
}

/* ---- the entries by path ----
 * An entry with a known path is at that path's node of c->paths, in a
 * list of the entries there by number + 1 (0 ends it; the node's head is
 * the first): the number, not a pointer, since c->fids moves when it
 * grows.  A rename finds the entries at its old name, and below it,
 * without looking at the others (reg_rename_locked). */

const char *reg_path(const struct fident *e)
{
	return e->pn ? e->pn->path : NULL;
}

/* e out of its node's list (e->pn set) */
static void reg_unlink(struct conn *c, struct fident *e)
{
	if (e->pprev)
		c->fids[e->pprev - 1].pnext = e->pnext;
	else
		e->pn->head = e->pnext;
	if (e->pnext)
		c->fids[e->pnext - 1].pprev = e->pprev;
	e->pnext = e->pprev = 0;
}

/* => c->s.lock held.  Entry e leaves its path's node, if any. */
static void reg_unpath(struct conn *c, struct fident *e)
{
	struct pidx_node *n = e->pn;

	if (!n)
		return;
	reg_unlink(c, e);
	e->pn = NULL;
	pidx_trim(&c->paths, n);
}

/* => c->s.lock held.  Entry fid's path becomes path (len bytes).  0, or
 * -ENOMEM: it keeps the path it had. */
static int reg_setpath(struct conn *c, uint32_t fid, const char *path,
		       size_t len)
{
	struct fident *e = &c->fids[fid];
	struct pidx_node *n = pidx_make(&c->paths, path, len), *old = e->pn;

	if (!n)
		return -ENOMEM;
	if (n == old)
		return 0;
	if (old)
		reg_unlink(c, e);
	/* put at n before old is trimmed, which could free n else (an
	 * ancestor of old that held nothing) */
	e->pnext = (uint32_t)n->head;
	if (e->pnext)
		c->fids[e->pnext - 1].pprev = fid + 1;
	n->head = fid + 1;
	e->pn = n;
	pidx_trim(&c->paths, old);
	return 0;
}

/* => c->s.lock held; a cleared entry for fid (NULL on ENOMEM) */
static struct fident *reg_slot(struct conn *c, uint32_t fid)
{
	if (fid >= c->nfidents) {
		size_t n = c->nfidents ? c->nfidents : 64;
		while (n <= fid)
			n *= 2;
		struct fident *a = sys_realloc(c->fids, n * sizeof(*a));
		if (!a)
			return NULL;
		memset(a + c->nfidents, 0, (n - c->nfidents) * sizeof(*a));
		c->fids = a;
		c->nfidents = n;
	}
	struct fident *e = &c->fids[fid];
	reg_unpath(c, e);
	uvfs_lockset_free(e->locks);
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->oflags = -1;
	return e;
}

void reg_drop_locked(struct conn *c, uint32_t fid)
{
	struct fident *e = reg_get(c, fid);

	if (e) {
		reg_unpath(c, e);
		uvfs_lockset_free(e->locks);
		memset(e, 0, sizeof(*e));
	}
}

/* The registry's memory, at the connection's end. */
void reg_fini(struct conn *c)
{
	for (size_t i = 0; i < c->nfidents; i++)
		uvfs_lockset_free(c->fids[i].locks);
	free(c->fids);
	c->fids = NULL;
	c->nfidents = 0;
	pidx_fini(&c->paths);
}

/* base + '/'-joined names, with "." and ".." resolved (".." of the root
 * is the root).  NULL on ENOMEM. */
static char *path_join(const char *base, const char *names)
{
	size_t bl = strlen(base), nl = names ? strlen(names) : 0;
	char *out = sys_malloc(bl + nl + 2), *dup = names ? sys_strdup(names) : NULL;
	char *tok, *save = NULL;
	size_t len = bl;

	if (!out || (names && !dup)) {
		free(out);
		free(dup);
		return NULL;
	}
	memcpy(out, base, bl + 1);
	for (tok = dup ? strtok_r(dup, "/", &save) : NULL; tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash = strrchr(out, '/');
			len = slash ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}
		if (len)
			out[len++] = '/';
		memcpy(out + len, tok, strlen(tok) + 1);
		len += strlen(tok);
	}
	free(dup);
	return out;
}

/* A rename of the file at path `from` to `to`: entries at or below it
 * follow (an entry left at `to`, the replaced file, turns stale at the
 * next restart: its qid will not match).  Only those entries are
 * visited: the node of `from` lists the ones at it, and its subtree leads
 * to those below (a file has none).  They are gathered first (mnext),
 * then moved one by one, since a move changes the nodes.  An entry whose
 * new path cannot be allocated keeps its old one, and is marked unknown
 * (stale at the next restart). */
static void reg_rename_locked(struct conn *c, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), cap = 0;
	struct pidx_node *top, *n;
	uint32_t mv = 0, i;
	char *buf = NULL;

	if (strcmp(from, to) == 0)
		return;
	top = pidx_find(&c->paths, from, fl);
	for (n = top; n; n = pidx_next(n, top))
		for (i = (uint32_t)n->head; i; i = c->fids[i - 1].pnext) {
			c->fids[i - 1].mnext = mv;
			mv = i;
		}
	while ((i = mv)) {
		struct fident *e = &c->fids[i - 1];
		mv = e->mnext;
		e->mnext = 0;
		if (e->pn->len == fl) {         /* at `from`: most often */
			if (reg_setpath(c, i - 1, to, tl) < 0)
				e->unknown = true;
			continue;
		}
		/* below: `to` + the rest of its path */
		size_t rest = e->pn->len - fl, len = tl + rest;
		if (len + 1 > cap) {
			char *b = sys_realloc(buf, len + 1);
			if (!b) {
				e->unknown = true;
				continue;
			}
			buf = b;
			cap = len + 1;
		}
		memcpy(buf, to, tl);
		memcpy(buf + tl, e->pn->path + fl, rest + 1);
		if (reg_setpath(c, i - 1, buf, len) < 0)
			e->unknown = true;
	}
	free(buf);
}

/* => c->s.lock held.  fid's file lost the name it was walked by and is
 * known by dirfid's path + name now (a hard link that survives): a
 * recovery walks that one again.  Nothing if dirfid's path is unknown. */
void reg_repath_locked(struct conn *c, uint32_t fid, uint32_t dirfid,
		       const char *name)
{
	struct fident *e = reg_get(c, fid), *d = reg_get(c, dirfid);
	char *p;

	if (!e || !d || d->unknown || !d->pn || strchr(name, '/'))
		return;
	if (!(p = path_join(d->pn->path, name)))
		return;
	if (reg_setpath(c, fid, p, strlen(p)) == 0)
		e->unknown = false;
	free(p);
}

/* => c->s.lock held.  rq's reply m was a success: record its fid effects. */
void reg_apply_locked(struct conn *c, const struct regop *op,
			     const struct p9_msg *m)
{
	struct fident *src, *e;
	char *path = NULL, *p2 = NULL;

	switch (op->type) {
	case P9_TATTACH:
		if ((e = reg_slot(c, op->fid))) {
			e->unknown = reg_setpath(c, op->fid, "", 0) < 0;
			e->qid = m->rattach.qid;
		}
		break;
	case P9_TWALK: {
		struct p9_qid q;
		bool known;

		if (m->rwalk.nwqid != op->nw)
			break;          /* a partial walk creates no fid */
		src = reg_get(c, op->fid);
		known = src && !src->unknown && src->pn;
		if (known)
			path = path_join(src->pn->path, op->s1);
		if (op->nw)
			q = m->rwalk.wqid[op->nw - 1];
		else
			q = src ? src->qid : (struct p9_qid){ 0 };
		bool stale = src && src->stale;
		if ((e = reg_slot(c, op->newfid))) {
			e->unknown = !path ||
				     reg_setpath(c, op->newfid, path,
						 strlen(path)) < 0;
			e->stale = stale;
			e->qid = q;
		}
		break;
	}
	case P9_TLOPEN:
		if ((e = reg_get(c, op->fid))) {
			e->oflags = (int32_t)op->flags;
			e->qid = m->rlopen.qid;
		}
		break;
	case P9_TLCREATE:
		if ((e = reg_get(c, op->fid))) {
			path = e->pn ? path_join(e->pn->path, op->s1) : NULL;
			if (!path ||
			    reg_setpath(c, op->fid, path, strlen(path)) < 0) {
				reg_unpath(c, e);
				e->unknown = true;
			}
			/* reopened without O_CREAT, O_EXCL, O_TRUNC */
			e->oflags = (int32_t)(op->flags & ~(0100u | 0200u |
							    01000u));
			e->qid = m->rlcreate.qid;
		}
		break;
	case P9_TRENAMEAT:
		src = reg_get(c, op->fid);
		e = reg_get(c, op->fid2);
		if (src && src->pn && e && e->pn) {
			path = path_join(src->pn->path, op->s1);
			p2 = path_join(e->pn->path, op->s2);
			if (path && p2)
				reg_rename_locked(c, path, p2);
		}
		break;
	case P9_TRENAME:
		src = reg_get(c, op->fid);
		e = reg_get(c, op->fid2);
		if (src && src->pn && e && e->pn) {
			path = sys_strdup(src->pn->path);
			p2 = path_join(e->pn->path, op->s1);
			if (path && p2)
				reg_rename_locked(c, path, p2);
		}
		break;
	case P9_TLOCK:          /* what the server holds (lock.c) */
		if (m->rlock.status == P9_LOCK_SUCCESS)
			reg_lock_note_locked(c, op->fid, op->ltype, op->start,
					     op->length);
		break;
	case P9_TXATTRCREATE:
		/* an xattr-write fid: a new server must not get it back as
		 * a plain fid, whose Tclunk would "commit" nothing and
		 * succeed (docs/recovery.md) */
		reg_drop_locked(c, op->fid);
		break;
	default:
		break;
	}
	free(path);
	free(p2);
}


/* Replayed after a restart when the session died under them: requests
 * whose effect is the same done twice (docs/recovery.md). */
bool replayable(uint8_t type)
{
	switch (type) {
	case P9_TWALK: case P9_TGETATTR: case P9_TSETATTR: case P9_TREAD:
	case P9_TWRITE: case P9_TREADDIR: case P9_TREADLINK: case P9_TSTATFS:
	case P9_TLOPEN: case P9_TFSYNC: case P9_TCLUNK: case P9_TXATTRWALK:
		return true;
	default:
		return false;
	}
}

/* The fids a T-message names (that must exist on the server). */
int msg_fids(const struct p9_msg *t, uint32_t f[2])
{
	switch (t->type) {
	case P9_TWALK: f[0] = t->twalk.fid; return 1;
	case P9_TGETATTR: f[0] = t->tgetattr.fid; return 1;
	case P9_TSETATTR: f[0] = t->tsetattr.fid; return 1;
	case P9_TREAD: f[0] = t->tread.fid; return 1;
	case P9_TWRITE: f[0] = t->twrite.fid; return 1;
	case P9_TREADDIR: f[0] = t->treaddir.fid; return 1;
	case P9_TREADLINK: f[0] = t->treadlink.fid; return 1;
	case P9_TSTATFS: f[0] = t->tstatfs.fid; return 1;
	case P9_TLOPEN: f[0] = t->tlopen.fid; return 1;
	case P9_TFSYNC: f[0] = t->tfsync.fid; return 1;
	case P9_TLCREATE: f[0] = t->tlcreate.fid; return 1;
	case P9_TMKDIR: f[0] = t->tmkdir.dfid; return 1;
	case P9_TSYMLINK: f[0] = t->tsymlink.fid; return 1;
	case P9_TMKNOD: f[0] = t->tmknod.dfid; return 1;
	case P9_TUNLINKAT: f[0] = t->tunlinkat.dirfid; return 1;
	case P9_TREMOVE: f[0] = t->tremove.fid; return 1;
	case P9_TLINK: f[0] = t->tlink.dfid; f[1] = t->tlink.fid; return 2;
	case P9_TRENAME: f[0] = t->trename.fid; f[1] = t->trename.dfid;
		return 2;
	case P9_TRENAMEAT: f[0] = t->trenameat.olddirfid;
		f[1] = t->trenameat.newdirfid; return 2;
	case P9_TXATTRWALK: f[0] = t->txattrwalk.fid; return 1;
	case P9_TXATTRCREATE: f[0] = t->txattrcreate.fid; return 1;
	default: return 0;
	}
}

static char *str_dup(struct p9_str s)
{
	char *d = sys_malloc(s.len + 1);

	if (d) {
		memcpy(d, s.s, s.len);
		d[s.len] = '\0';
	}
	return d;
}

/* What t does to the registry when it succeeds.  -ENOMEM. */
int regop_make(const struct p9_msg *t, struct regop *op)
{
	memset(op, 0, sizeof(*op));
	switch (t->type) {
	case P9_TATTACH:
		op->fid = t->tattach.fid;
		break;
	case P9_TWALK: {
		size_t len = 1;
		op->fid = t->twalk.fid;
		op->newfid = t->twalk.newfid;
		op->nw = t->twalk.nwname;
		for (unsigned i = 0; i < op->nw; i++)
			len += t->twalk.wname[i].len + 1;
		if (!(op->s1 = sys_malloc(len)))
			return -ENOMEM;
		op->s1[0] = '\0';
		for (unsigned i = 0, o = 0; i < op->nw; i++) {
			if (i)
				op->s1[o++] = '/';
			memcpy(op->s1 + o, t->twalk.wname[i].s,
			       t->twalk.wname[i].len);
			o += t->twalk.wname[i].len;
			op->s1[o] = '\0';
		}
		break;
	}
	case P9_TLOPEN:
		op->fid = t->tlopen.fid;
		op->flags = t->tlopen.flags;
		break;
	case P9_TLOCK:
		op->fid = t->tlock.fid;
		op->ltype = t->tlock.type;
		op->start = t->tlock.start;
		op->length = t->tlock.length;
		break;
	case P9_TLCREATE:
		op->fid = t->tlcreate.fid;
		op->flags = t->tlcreate.flags;
		if (!(op->s1 = str_dup(t->tlcreate.name)))
			return -ENOMEM;
		break;
	case P9_TRENAMEAT:
		op->fid = t->trenameat.olddirfid;
		op->fid2 = t->trenameat.newdirfid;
		op->s1 = str_dup(t->trenameat.oldname);
		op->s2 = str_dup(t->trenameat.newname);
		if (!op->s1 || !op->s2)
			return -ENOMEM;
		break;
	case P9_TRENAME:
		op->fid = t->trename.fid;
		op->fid2 = t->trename.dfid;
		if (!(op->s1 = str_dup(t->trename.name)))
			return -ENOMEM;
		break;
	case P9_TXATTRCREATE:
		op->fid = t->txattrcreate.fid;
		break;
	default:
		return 0;
	}
	op->type = t->type;
	return 0;
}


/*
 * client.c - the 9P2000.L client driver's table of nodes (mount.c mounts,
 * unmounts and holds the operations vector): the nodes by ino, the LRU of
 * unreferenced ones, walking to a file (walk, node_install) and opening
 * it (open_fid).  Beside it: fids.c (the nodes' fids and the fid cache),
 * names.c (the index by name, hard links, renames) and cache.c (what the
 * table keeps of the server for actimeo=: attributes, fresh names, a
 * directory's last listing; docs/9p-client.md, "Round trips").  The
 * session below it (conn.h, rpc.c over lib/remote) carries the requests;
 * vnops.c, io.c and xattr.c are the vnode operations.
 *
 * The driver maps vnodes to fids.  Each known file is a struct node in a
 * table by ino (= qid.path) holding a walked, never-opened fid.  lookup
 * walks a new fid and installs it (replacing the node's older fid: servers
 * such as diod name fids by path, and a fresh walk follows renames); vget
 * takes a node from the table; reclaim drops it to a small LRU of
 * unreferenced nodes (so a vget that races with the reclaim of the same
 * ino still finds it), whose overflow clunks.  Open files get their own
 * fid (Twalk clone + Tlopen).  Fids are refcounted (struct fid, fids.c) so
 * an operation in flight keeps using the fid it read even if lookup swaps
 * it.
 *
 * Owns struct node (walk to eviction from the LRU, or unmount: node_free
 * releases what fids.c, names.c and cache.c hung on it) and struct handle
 * (open to release; io.c).
 *
 * Locks: sb.lock (nodes, handles; the legend is in driver.h, struct node
 * and struct p9sb) is never held across a request, nor with conn.lock
 * (the session's, conn.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uvfs/9p.h>
#include <uvfs/fs.h>

#include "driver.h"
#include "sys.h"


struct node *node_find_locked(struct p9sb *s, uint64_t ino)
{
	struct hiter it;

	for (struct hlink *l = hiter_first(&s->hash, &it, htab_hash64(ino)); l;
	     l = hiter_next(&s->hash, &it)) {
		struct node *n = htab_entry(l, struct node, hl);
		if (n->ino == ino)
			return n;
	}
	return NULL;
}

void lru_del_locked(struct p9sb *s, struct node *n)
{
	if (n->lnext) {
		n->lprev->lnext = n->lnext;
		n->lnext->lprev = n->lprev;
		n->lprev = n->lnext = NULL;
		s->nlru--;
	}
}

void hash_del_locked(struct p9sb *s, struct node *n)
{
	multi_update_locked(s, n, true);
	n->naliases = 0;        /* (the list goes with node_free) */
	nhash_del_locked(s, n);
	htab_del(&s->hash, &n->hl);
}

/* => s->lock held.  n's parent link follows n->pino (pino: the new one;
 * 0: none). */
void node_link_locked(struct p9sb *s, struct node *n, uint64_t pino)
{
	struct node *p;

	if (n->linked && (p = node_find_locked(s, n->pino)) && p->kids)
		p->kids--;
	n->linked = false;
	if (pino && pino != n->ino && (p = node_find_locked(s, pino))) {
		p->kids++;
		n->linked = true;
	}
}

/* => s->lock held.  n leaves the table (hash already unlinked). */
static void node_unlink_locked(struct p9sb *s, struct node *n)
{
	node_link_locked(s, n, 0);
	flru_del_locked(s, n);
}

/* => s->lock held.  The unreferenced node to evict when the LRU is full:
 * the oldest one that no other node needs as its parent and that no
 * create or lookup is handing to the core (node_pin) (NULL: none within
 * a short scan; the LRU then grows a little). */
static struct node *lru_victim_locked(struct p9sb *s)
{
	struct node *v = s->lru.lprev;
	uint64_t now = 0;

	for (int i = 0; i < 64 && v != &s->lru; i++, v = v->lprev) {
		if (v->kids)
			continue;
		if (v->pin_ns && !now)
			now = mono_now_ns();
		if (v->pin_ns > now)
			continue;
		return v;
	}
	return NULL;
}

void node_free(struct p9sb *s, struct node *n)
{
	for (struct alias *a = n->aliases, *an; a; a = an) {
		an = a->next;
		free(a);
	}
	ls_free_locked(n);
	fid_put(s, n->spare);
	fid_put(s, n->pre);
	fid_put(s, n->fid);
	free(n->name);
	free(n);
}

/* Installs a freshly walked fid for ino (ownership passes): the node's
 * fid is replaced (if replace, and unless the node's was walked at a
 * later rename generation than gen: node_offer_fid_locked; never the
 * root's: the attach fid is the one fid whose path cannot go stale), or
 * a new unreferenced node made (on the LRU).  pin_ns: node_pin's, set in
 * the same hold of the lock (0: none).  lookup: the walk looked up a name
 * that was there (not the name of a file this mount just made). */
static int node_install_x(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			  bool replace, uint64_t pino, const char *name,
			  uint64_t gen, bool lookup, uint64_t pin_ns)
{
	struct fid *f = fidnum == P9_NOFID ? NULL : fid_new(fidnum);
	struct node *n, *evict = NULL;
	struct fid *old = NULL, *released = NULL;

	if (!f && fidnum != P9_NOFID) {
		clunk_async(&s->c, fidnum);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	/* a name changed here since the walk was sent (a rename, or a
	 * name removed: the walk may have reached the file it had), or,
	 * for a lookup, one is changing (the server may have carried the
	 * change out before the walk and the table not yet: a lookup of
	 * a rename's target recorded that name for the moved file, and
	 * the rename then took the node at its target for a file it
	 * replaced and made it gone): the walk's name is not recorded
	 * (the node keeps its fid, and a nameless node keeps it for good:
	 * never walked again by a name that may be another file's now) */
	if (name && (gen != s->gen || (lookup && s->nchanging)))
		name = NULL;
	n = node_find_locked(s, ino);
	if (n && (!replace || n == s->root)) {
		old = f;        /* keep the node's */
	} else if (n) {
		if (name) {
			/* another name of the same file (a hard link): the
			 * one it had is kept as an alias */
			char *was = n->name && atomic_load(&n->type) !=
				    S_IFDIR ? sys_strdup(n->name) : NULL;
			uint64_t wpino = n->pino;
			alias_del_locked(s, n, pino, name);
			node_set_name_locked(s, n, pino, name, gen);
			if (was)
				alias_add_locked(s, n, wpino, was);
			free(was);
		}
		/* a walk that raced a change here (no name recorded) does
		 * not replace a fid walked after that change */
		if (!node_offer_fid_locked(s, n, f, gen, &old, &released))
			old = f;        /* keep the node's */
	} else {
		n = sys_calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			fid_put(s, f);
			return -ENOMEM;
		}
		n->ino = ino;
		htab_add(&s->hash, &n->hl, htab_hash64(ino));
		if (name)
			node_set_name_locked(s, n, pino, name, gen);
		node_set_fid_locked(s, n, f, &old, &released);
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		s->nlru++;
		n->pin_ns = pin_ns;     /* before it can be a victim */
		if (s->nlru > LRU_MAX && (evict = lru_victim_locked(s))) {
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
			node_unlink_locked(s, evict);
		}
	}
	if (pin_ns && n != s->root)
		n->pin_ns = pin_ns;
	pthread_mutex_unlock(&s->lock);
	fid_put(s, old);
	fid_put(s, released);
	if (evict)
		node_free(s, evict);
	return 0;
}

int node_install(struct p9sb *s, uint64_t ino, uint32_t fidnum,
		 bool replace, uint64_t pino, const char *name, uint64_t gen,
		 bool lookup)
{
	return node_install_x(s, ino, fidnum, replace, pino, name, gen,
			      lookup, 0);
}

static uint64_t pin_until(struct p9sb *s)
{
	return mono_now_ns() + (uint64_t)s->c.s.timeout_ms * 1000000ull;
}

int node_install_pinned(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			bool replace, uint64_t pino, const char *name,
			uint64_t gen, bool lookup)
{
	return node_install_x(s, ino, fidnum, replace, pino, name, gen,
			      lookup, pin_until(s));
}

/*
 * A create or a lookup answers the core with a number, and the core's
 * vget takes the node by it a moment later.  Meanwhile the node is
 * unreferenced, on the LRU: a burst of releases (the core's pruner
 * reclaims an eighth of its vnode cache at once, more than LRU_MAX) could
 * evict it, and the vget then answered -ESTALE for a file the server had
 * just made: the core took that create for a refusal, found the name,
 * and said -EEXIST (through FUSE, the kernel retried the open on ESTALE
 * and found the file: EEXIST).  Pinned, it stays until its vget, or the
 * mount's timeout (a vget that never comes: the core asked for no vnode).
 */
void node_pin(struct p9sb *s, uint64_t ino)
{
	uint64_t until = pin_until(s);

	pthread_mutex_lock(&s->lock);
	struct node *n = node_find_locked(s, ino);
	if (n && n != s->root)
		n->pin_ns = until;
	pthread_mutex_unlock(&s->lock);
}

int walk(struct p9sb *s, uint32_t fid, const char *name,
		uint32_t *newfid, struct p9_qid *qid)
{
	struct p9_msg m = { .type = P9_TWALK };
	struct reply rp;
	uint32_t nf;
	int r;

	r = fid_alloc(&s->c, &nf);
	if (r)
		return r;
	m.twalk.fid = fid;
	m.twalk.newfid = nf;
	if (name) {
		if (strlen(name) > 65535)
			return fid_free(&s->c, nf), -ENAMETOOLONG;
		m.twalk.nwname = 1;
		m.twalk.wname[0] = p9_str(name);
	}
	r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
	if (r)
		return r;
	if (rp.m.rwalk.nwqid != m.twalk.nwname) {
		/* a partial walk creates no fid */
		r = rp.m.rwalk.nwqid < m.twalk.nwname ? -ENOENT : -EIO;
		reply_free(&rp);
		fid_free(&s->c, nf);
		return r;
	}
	if (name && qid)
		*qid = rp.m.rwalk.wqid[0];
	reply_free(&rp);
	*newfid = nf;
	return 0;
}

uint64_t sb_gen(struct p9sb *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t g = s->gen;
	pthread_mutex_unlock(&s->lock);
	return g;
}

int attr_check(const struct p9_rgetattr *ga)
{
	switch (ga->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EIO;
	}
	return ga->size > (uint64_t)INT64_MAX ? -EIO : 0;
}

int getattr_fid(struct p9sb *s, uint32_t fid, struct p9_rgetattr *ga)
{
	struct p9_msg m = { .type = P9_TGETATTR };
	struct reply rp;
	int r;

	m.tgetattr.fid = fid;
	m.tgetattr.request_mask = P9_GETATTR_BASIC;
	r = rpc(&s->c, &m, P9_RGETATTR, &rp, CL_NONE, 0);
	if (r)
		return r;
	*ga = rp.m.rgetattr;
	reply_free(&rp);
	return attr_check(ga);
}

/* Linux O_* -> 9P2000.L open flags (the values of x86 Linux).  O_DIRECT
 * is not sent, as Linux's v9fs does not: it is about this client's
 * caching (the handle has none: no read-ahead, no write-behind), and a
 * server that passed it on would need aligned buffers (diod refuses it
 * with EINVAL, uvfs-hostfs's writes failed with EINVAL). */
static uint32_t dotl_flags(int flags)
{
	static const struct { int o; uint32_t p; } map[] = {
		{ O_APPEND, 02000 }, { O_DSYNC, 010000 },
		{ O_LARGEFILE, 0100000 },
		{ O_DIRECTORY, 0200000 }, { O_NOATIME, 01000000 },
		{ O_SYNC & ~O_DSYNC, 04000000 },
	};
	uint32_t p = (uint32_t)(flags & O_ACCMODE);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].o && (flags & map[i].o) == map[i].o)
			p |= map[i].p;
	return p;
}

/* Clones n's fid and opens the clone.  => *fid, *iounit */
/*
 * The open of a node whose walked fid nobody else uses: Tlopen of that
 * fid itself, with the Twalk(parent -> newfid, [name]) that gives the
 * node a new one in the same train (independent fids: a server may run
 * them in any order): one round trip, where a clone and its Tlopen are
 * two (they cannot go together).  1: not possible here (the caller
 * clones), else rpc's result.
 */
static int open_steal(struct p9sb *s, struct node *n, int flags,
		      uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN }, w = { .type = P9_TWALK };
	struct fid *own = NULL, *pf = NULL, *old = NULL, *released = NULL;
	struct rpc_async wa;
	struct reply rp;
	char *name = NULL;
	uint64_t gen = 0;
	uint32_t nf = 0;
	bool wout = false;
	int r;

	pthread_mutex_lock(&s->lock);
	if (n != s->root && n->fid && n->name &&
	    atomic_load(&n->fid->refs) == 1 &&
	    !moved_since_locked(s, n, n->gen)) {
		struct node *p = node_find_locked(s, n->pino);
		if (p && p->fid && (name = sys_strdup(n->name))) {
			own = n->fid;
			n->fid = NULL;
			flru_del_locked(s, n);
			pf = p->fid;
			atomic_fetch_add(&pf->refs, 1);
			gen = s->gen;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!own)
		return 1;
	if (strlen(name) <= 65535 && fid_alloc(&s->c, &nf) == 0) {
		w.twalk.fid = pf->num;
		w.twalk.newfid = nf;
		w.twalk.nwname = 1;
		w.twalk.wname[0] = p9_str(name);
		if (rpc_start(&s->c, &w, P9_RWALK, &wa) == 0) {
			wout = true;
			wa.overlapped = true;   /* it goes with the Tlopen */
		} else {
			fid_free(&s->c, nf);
		}
	}
	m.tlopen.fid = own->num;
	m.tlopen.flags = dotl_flags(flags);
	r = rpc(&s->c, &m, P9_RLOPEN, &rp, CL_NONE, 0);
	if (r == 0) {
		*iounit = rp.m.rlopen.iounit;
		reply_free(&rp);
		*fid = own->num;
		free(own);      /* the number is the caller's now */
		own = NULL;
	}
	bool walked = false;
	if (wout) {
		struct reply wr;
		if (rpc_finish(&s->c, &wa, &wr, CL_WALK, nf) == 0) {
			if (wr.m.rwalk.nwqid != 1)
				fid_free(&s->c, nf);    /* no fid made */
			else if (wr.m.rwalk.wqid[0].path != n->ino)
				clunk_async(&s->c, nf); /* another file */
			else
				walked = true;
			reply_free(&wr);
		}
	}
	/* the node's fid: the new walk's; own, if the open failed, is
	 * given up (it may have been opened by a request that timed out:
	 * the node walks again on demand) */
	fid_put(s, own);
	struct fid *give = NULL;
	if (walked && !(give = fid_new(nf)))
		clunk_async(&s->c, nf);
	if (give) {
		pthread_mutex_lock(&s->lock);
		if (!n->fid) {
			node_set_fid_locked(s, n, give, &old, &released);
			n->gen = gen;
			give = NULL;
		}
		pthread_mutex_unlock(&s->lock);
		fid_put(s, give);
		fid_put(s, old);
		fid_put(s, released);
	}
	fid_put(s, pf);
	free(name);
	return r;
}

static int open_fid_once(struct p9sb *s, struct node *n, int flags,
			 uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN };
	struct fid *nf;
	struct reply rp;
	uint32_t of;
	int r;

	r = open_steal(s, n, flags, fid, iounit);
	if (r <= 0)
		return r;
	r = node_fid(s, n, &nf);
	if (r)
		return r;
	r = walk(s, nf->num, NULL, &of, NULL);
	fid_put(s, nf);
	if (r)
		return r;
	m.tlopen.fid = of;
	m.tlopen.flags = dotl_flags(flags);
	r = rpc(&s->c, &m, P9_RLOPEN, &rp, CL_CLUNK, of);
	if (r)
		return r;
	*iounit = rp.m.rlopen.iounit;
	reply_free(&rp);
	*fid = of;
	return 0;
}

int open_fid(struct p9sb *s, struct node *n, int flags, uint32_t *fid,
		    uint32_t *iounit)
{
	return NODE_CALL(s, n, open_fid_once(s, n, flags, fid, iounit));
}

/* The largest data count for one Tread/Twrite. */
uint32_t io_max(struct p9sb *s, uint32_t iounit)
{
	uint32_t m = s->c.s.msize - P9_IOHDRSZ;
	return iounit && iounit < m ? iounit : m;
}

/* Drops a use of n: the last puts it on the LRU (whose overflow frees
 * the oldest).  A fid Tlcreate left that no open took is clunked. */
void node_rele(struct p9sb *s, struct node *n)
{
	struct node *evict = NULL;
	struct fid *pre = NULL, *spare = NULL;

	pthread_mutex_lock(&s->lock);
	if (--n->refs == 0) {
		pre = n->pre;
		n->pre = NULL;
		spare = n->spare;
		n->spare = NULL;
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX && (evict = lru_victim_locked(s))) {
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
			node_unlink_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, pre);
	fid_put(s, spare);
	if (evict)
		node_free(s, evict);
}

void node_hold(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	lru_del_locked(s, n);
	n->refs++;
	pthread_mutex_unlock(&s->lock);
}

/*
 * client.c - the 9P2000.L client driver (file-system types "9p", "hostfs",
 * "diod"): mount and unmount, the table of nodes and their fids, and what
 * the table keeps of the server for actimeo= (docs/9p-client.md, "Round
 * trips"): each node's attributes, its name (a second index by parent
 * and name: the name cache), a directory's last listing.  The
 * session below it (conn.h, rpc.c over lib/remote) carries the requests;
 * vnops.c and xattr.c are the vnode operations.
 *
 *
 * The driver maps vnodes to fids.  Each known file is a struct node in a
 * table by ino (= qid.path) holding a walked, never-opened fid.  lookup
 * walks a new fid and installs it (replacing the node's older fid: servers
 * such as diod name fids by path, and a fresh walk follows renames); vget
 * takes a node from the table; reclaim drops it to a small LRU of
 * unreferenced nodes (so a vget that races with the reclaim of the same
 * ino still finds it), whose overflow clunks.  Open files get their own
 * fid (Twalk clone + Tlopen).  Fids are refcounted (struct fid) so an
 * operation in flight keeps using the fid it read even if lookup swaps it.
 *
 * Locks: conn.lock guards the connection's state; the two locks held
 * across I/O (the serial-mode request lock and the writer's) are flags
 *
 * Owns struct p9sb (mount to unmount), struct node (walk to eviction from
 * the LRU, or unmount), struct fid (first use to last put, which clunks),
 * struct handle (open to release).
 *
 * Locks: sb.lock (nodes, handles) is never held across a request, nor
 * with conn.lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/fs.h>

#include "driver.h"
#include "sys.h"

#define MSIZE_DEFAULT   (512u * 1024)
#define TIMEOUT_DEFAULT 10000
#define RESTARTS_DEFAULT  5     /* hostfs: restarts ... */
#define WINDOW_DEFAULT_MS 60000 /* ... within this window */
#define ACTIMEO_DEFAULT_MS 1000 /* attributes reused (as long as a FUSE
				 * front end trusts them) */
#define WBWINDOW_DEFAULT 0       /* written behind per file: none unless
				 * asked (the core has no flush at close:
				 * docs/9p-client.md, "Bulk I/O") */
#define RECONNECTS_DEFAULT 30   /* 9p over an address: attempts within the
				 * window (backing off to 1 s: a server
				 * gone for ~24 s makes the mount dead) */

static uint64_t now_ns(void);

struct fid *fid_new(uint32_t num)
{
	struct fid *f = sys_malloc(sizeof(*f));

	if (f) {
		f->num = num;
		atomic_init(&f->refs, 1);
	}
	return f;
}

void fid_put(struct p9sb *s, struct fid *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		clunk_async(&s->c, f->num);
		free(f);
	}
}

/*
 * The fid cache.  Every node the kernel remembers would otherwise hold a
 * fid, and servers limit them (uvfs-hostfs: 65536): nodes that can be
 * walked again from the root (they have a name, and a parent in the
 * table) keep their fid on an LRU of at most s->maxfids; past it the
 * least recently used gives its fid up (clunked once the operations in
 * flight on it are done), and node_fid walks it again on demand.
 */

/* => s->lock held.  n was just used (or got a fid). */
static void flru_touch_locked(struct p9sb *s, struct node *n)
{
	if (n == s->root || !n->fid || !n->name)
		return;
	if (n->fnext) {
		n->fprev->fnext = n->fnext;
		n->fnext->fprev = n->fprev;
	} else {
		s->nfids++;
		atomic_store(&s->c.drv_fids, s->nfids);
	}
	n->fnext = s->flru.fnext;
	n->fprev = &s->flru;
	n->fnext->fprev = n;
	s->flru.fnext = n;
}

/* => s->lock held */
static void flru_del_locked(struct p9sb *s, struct node *n)
{
	if (n->fnext) {
		n->fprev->fnext = n->fnext;
		n->fnext->fprev = n->fprev;
		n->fprev = n->fnext = NULL;
		s->nfids--;
		atomic_store(&s->c.drv_fids, s->nfids);
	}
}

/* => s->lock held.  Past the limit: the least recently used node gives its
 * fid up; returned for the caller to put once the lock is dropped. */
static struct fid *flru_trim_locked(struct p9sb *s)
{
	struct node *v = s->flru.fprev;
	struct fid *f;

	if (s->nfids <= s->maxfids || v == &s->flru)
		return NULL;
	flru_del_locked(s, v);
	f = v->fid;
	v->fid = NULL;
	s->fid_releases++;
	atomic_store(&s->c.drv_fid_releases, s->fid_releases);
	return f;
}

/* => s->lock held.  n's fid becomes f (ownership passes); the old one,
 * and one the cache released, are returned to be put unlocked. */
static void node_set_fid_locked(struct p9sb *s, struct node *n,
				struct fid *f, struct fid **old,
				struct fid **released)
{
	*old = n->fid;
	n->fid = f;
	flru_touch_locked(s, n);
	*released = flru_trim_locked(s);
}

int node_fid(struct p9sb *s, struct node *n, struct fid **out)
{
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&s->lock);
		struct fid *f = n->fid;
		if (f) {
			atomic_fetch_add(&f->refs, 1);
			flru_touch_locked(s, n);
			pthread_mutex_unlock(&s->lock);
			*out = f;
			return 0;
		}
		pthread_mutex_unlock(&s->lock);
		/* released by the cache: walk it again */
		int r = tries < 3 ? rewalk(s, n) : -ESTALE;
		if (r)
			return r == -ENOENT ? -ESTALE : r;
	}
}

/* For getattr: an open handle's fid if there is one (an open file can be
 * unlinked, and a path-based server such as diod answers it only through
 * the open fid), else the node's. */
int node_attr_fid(struct p9sb *s, struct node *n, struct fid **out)
{
	struct fid *f = NULL;

	pthread_mutex_lock(&s->lock);
	if (n->nopen)
		for (struct handle *h = s->handles.next; h != &s->handles;
		     h = h->next)
			if (h->node == n) {
				f = h->fid;
				break;
			}
	if (f)
		atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&s->lock);
	if (f) {
		*out = f;
		return 0;
	}
	return node_fid(s, n, out);
}

static unsigned bucket(uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(h >> 52) & (NBUCKETS - 1);
}

struct node *node_find_locked(struct p9sb *s, uint64_t ino)
{
	struct node *n;

	for (n = s->hash[bucket(ino)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
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

static void nhash_del_locked(struct p9sb *s, struct node *n);

void hash_del_locked(struct p9sb *s, struct node *n)
{
	nhash_del_locked(s, n);
	struct node **pp = &s->hash[bucket(n->ino)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
}

/* Installs a freshly walked fid for ino (ownership passes): the node's
 * fid is replaced (if replace; never the root's: the attach fid is the
 * one fid whose path cannot go stale), or a new unreferenced node made
 * (on the LRU). */
/* => s->lock held.  n's parent link follows n->pino (pino: the new one;
 * 0: none). */
static void node_link_locked(struct p9sb *s, struct node *n, uint64_t pino)
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
 * the oldest one that no other node needs as its parent (NULL: none
 * within a short scan; the LRU then grows a little). */
static struct node *lru_victim_locked(struct p9sb *s)
{
	struct node *v = s->lru.lprev;

	for (int i = 0; i < 64 && v != &s->lru; i++, v = v->lprev)
		if (v->kids == 0)
			return v;
	return NULL;
}

void ls_free_locked(struct node *dir)
{
	for (unsigned i = 0; i < dir->nls; i++)
		free(dir->ls[i]);
	free(dir->ls);
	dir->ls = NULL;
	dir->nls = 0;
	dir->pf_next = 0;
}

void ls_note(struct p9sb *s, struct node *dir, bool start, const char *name)
{
	char *dup = NULL;

	if (s->actimeo_ns == 0 || (name[0] == '.' && (!name[1] ||
	    (name[1] == '.' && !name[2]))))
		name = NULL;
	pthread_mutex_lock(&s->lock);
	if (start)
		ls_free_locked(dir);
	if (name && !dir->ls)
		dir->ls = sys_calloc(LS_MAX, sizeof(*dir->ls));
	if (name && dir->ls && dir->nls < LS_MAX &&
	    (dup = sys_strdup(name))) {
		dir->ls[dir->nls++] = dup;
		dir->ls_ns = now_ns();
	}
	pthread_mutex_unlock(&s->lock);
}

void node_free(struct p9sb *s, struct node *n)
{
	ls_free_locked(n);
	fid_put(s, n->spare);
	fid_put(s, n->pre);
	fid_put(s, n->fid);
	free(n->name);
	free(n);
}

static unsigned nbucket(uint64_t pino, const char *name)
{
	uint64_t h = pino * 0x9e3779b97f4a7c15ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (unsigned)(h >> 40) & (NBUCKETS - 1);
}

/* => s->lock held.  n leaves the (pino, name) chain. */
static void nhash_del_locked(struct p9sb *s, struct node *n)
{
	if (!n->name)
		return;
	for (struct node **pp = &s->nhash[nbucket(n->pino, n->name)]; *pp;
	     pp = &(*pp)->nnext)
		if (*pp == n) {
			*pp = n->nnext;
			break;
		}
	n->nnext = NULL;
}

/* => s->lock held.  Records where n's fid was walked to. */
static void node_set_name_locked(struct p9sb *s, struct node *n,
				 uint64_t pino, const char *name, uint64_t gen)
{
	char *dup = name ? sys_strdup(name) : NULL;

	if (name && !dup)
		return;         /* keeps the old name: a later walk fixes it */
	nhash_del_locked(s, n);
	free(n->name);
	n->name = dup;
	n->name_ns = 0;
	if (dup) {
		unsigned b = nbucket(pino, dup);
		n->nnext = s->nhash[b];
		s->nhash[b] = n;
		/* the server just said so (a walk, a create, a rename) */
		n->name_ns = now_ns();
		n->name_sgen = conn_sgen(&s->c);
	}
	node_link_locked(s, n, pino);
	n->pino = pino;
	n->gen = gen;
}

int node_install(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			bool replace, uint64_t pino, const char *name,
			uint64_t gen)
{
	struct fid *f = fid_new(fidnum), *old = NULL, *released = NULL;
	struct node *n, *evict = NULL;

	if (!f) {
		clunk_async(&s->c, fidnum);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	if (n && (!replace || n == s->root)) {
		old = f;        /* keep the node's */
	} else if (n) {
		if (name)
			node_set_name_locked(s, n, pino, name, gen);
		node_set_fid_locked(s, n, f, &old, &released);
	} else {
		n = sys_calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			fid_put(s, f);
			return -ENOMEM;
		}
		n->ino = ino;
		n->hnext = s->hash[bucket(ino)];
		s->hash[bucket(ino)] = n;
		if (name)
			node_set_name_locked(s, n, pino, name, gen);
		node_set_fid_locked(s, n, f, &old, &released);
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		s->nlru++;
		if (s->nlru > LRU_MAX && (evict = lru_victim_locked(s))) {
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
			node_unlink_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, old);
	fid_put(s, released);
	if (evict)
		node_free(s, evict);
	return 0;
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

#define REWALK_MAX 256  /* path depth tried */

/*
 * Walks to n again from the root by the names the table remembers, and
 * installs the new fid: for servers that name fids by path (diod), after
 * a rename above n.  0, or -ESTALE if the chain of names is incomplete or
 * leads to another file, or the walk's error.
 */
int rewalk(struct p9sb *s, struct node *n)
{
	char **names = sys_calloc(REWALK_MAX, sizeof(*names));
	struct fid *rootf = NULL;
	struct node *p;
	uint64_t gen;
	uint32_t cur = P9_NOFID;
	size_t depth = 0, i;
	int r = -ESTALE;

	if (!names)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	gen = s->gen;
	for (p = n; p && p != s->root && depth < REWALK_MAX; depth++) {
		if (!p->name || !(names[depth] = sys_strdup(p->name)))
			break;
		p = node_find_locked(s, p->pino);
	}
	if (p == s->root) {
		rootf = s->root->fid;
		atomic_fetch_add(&rootf->refs, 1);
	}
	pthread_mutex_unlock(&s->lock);
	if (!rootf || depth == 0)
		goto out;

	/* names[depth-1] is just below the root */
	for (i = depth; i > 0;) {
		struct p9_msg m = { .type = P9_TWALK };
		struct reply rp;
		uint32_t nf;
		uint16_t k = 0;

		r = fid_alloc(&s->c, &nf);
		if (r)
			break;
		m.twalk.fid = cur == P9_NOFID ? rootf->num : cur;
		m.twalk.newfid = nf;
		while (i > 0 && k < P9_MAXWELEM)
			m.twalk.wname[k++] = p9_str(names[--i]);
		m.twalk.nwname = k;
		r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
		if (r)
			break;
		bool whole = rp.m.rwalk.nwqid == k;
		uint64_t last = whole ? rp.m.rwalk.wqid[k - 1].path : 0;
		reply_free(&rp);
		if (!whole) {
			fid_free(&s->c, nf);
			r = -ENOENT;
			break;
		}
		if (cur != P9_NOFID)
			clunk_async(&s->c, cur);
		cur = nf;
		if (i == 0 && last != n->ino)
			r = -ESTALE;    /* another file has that path now */
	}
	if (r == 0) {
		struct fid *f = fid_new(cur), *old, *released;
		if (!f) {
			r = -ENOMEM;
			goto out;
		}
		cur = P9_NOFID;
		pthread_mutex_lock(&s->lock);
		node_set_fid_locked(s, n, f, &old, &released);
		n->gen = gen;
		pthread_mutex_unlock(&s->lock);
		fid_put(s, old);
		fid_put(s, released);
	}
out:
	if (cur != P9_NOFID)
		clunk_async(&s->c, cur);
	if (rootf)
		fid_put(s, rootf);
	for (i = 0; i < depth; i++)
		free(names[i]);
	free(names);
	return r;
}

bool moved_since_locked(struct p9sb *s, struct node *n, uint64_t gen)
{
	struct node *p = n;

	if (gen >= s->gen)
		return false;
	for (int depth = 0; p && p != s->root; depth++) {
		if (p->moved > gen || !p->name || depth > REWALK_MAX)
			return true;    /* (a chain not known whole: maybe) */
		p = node_find_locked(s, p->pino);
	}
	return !p;
}

/* An operation on n's fid failed with r: true if it is worth retrying
 * because n's fid was walked before a rename and could walk again. */
bool stale_retry(struct p9sb *s, struct node *n, int r)
{
	bool old;

	if (r != -ENOENT || n == s->root)
		return false;
	pthread_mutex_lock(&s->lock);
	/* only if n or a directory above it was moved since its fid was
	 * walked */
	old = n->gen < s->gen && moved_since_locked(s, n, n->gen);
	n->gen = s->gen;        /* once per rename, even if it fails */
	pthread_mutex_unlock(&s->lock);
	return old && rewalk(s, n) == 0;
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
	return 0;
}

/* Linux O_* -> 9P2000.L open flags (the values of x86 Linux). */
static uint32_t dotl_flags(int flags)
{
	static const struct { int o; uint32_t p; } map[] = {
		{ O_APPEND, 02000 }, { O_DSYNC, 010000 },
		{ O_DIRECT, 040000 }, { O_LARGEFILE, 0100000 },
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
static int open_fid_once(struct p9sb *s, struct node *n, int flags,
			 uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN };
	struct fid *nf;
	struct reply rp;
	uint32_t of;
	int r;

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
	int r = open_fid_once(s, n, flags, fid, iounit);

	if (r && stale_retry(s, n, r))
		r = open_fid_once(s, n, flags, fid, iounit);
	return r;
}

/* The largest data count for one Tread/Twrite. */
uint32_t io_max(struct p9sb *s, uint32_t iounit)
{
	uint32_t m = s->c.s.msize - P9_IOHDRSZ;
	return iounit && iounit < m ? iounit : m;
}

/* ---- options and mount ------------------------------------------------- */

/* What a mount of each type talks to: a server it was given (an address
 * or descriptors), or one it spawns. */
enum server_kind { SERVER_NONE, SERVER_HOSTFS, SERVER_DIOD };

struct opts {
	char aname[PATH_MAX];
	char uname[256];
	char server[PATH_MAX];  /* hostfs, diod */
	long msize, timeout;
	long restarts, window;  /* supervised mounts */
	long fids;              /* node fids held at most */
	bool serial, has_uname, has_server;
	bool noreconnect;       /* 9p: a lost connection stays lost */
	bool hard;              /* calls wait out an unreachable server */
	long actimeo;           /* MS attributes are reused */
	long wbwindow;          /* bytes written behind at most, per file */
	bool loose;             /* cache=loose */
};

/* (an option added here goes into the tables of P9_FSOPTS_COMMON,
 * p9_fsopts and hostfs_fsopts too: the core refuses what they lack) */
static int parse_opts(const char *options, struct opts *o,
		      enum server_kind kind)
{
	bool hostfs = kind != SERVER_NONE;      /* we start the server */
	char *dup, *tok, *save = NULL;
	int r = 0;

	snprintf(o->aname, sizeof(o->aname), "%s", "");
	o->msize = MSIZE_DEFAULT;
	o->timeout = TIMEOUT_DEFAULT;
	o->restarts = hostfs ? RESTARTS_DEFAULT : RECONNECTS_DEFAULT;
	o->fids = FIDS_DEFAULT;
	o->window = WINDOW_DEFAULT_MS;
	o->actimeo = ACTIMEO_DEFAULT_MS;
	o->wbwindow = WBWINDOW_DEFAULT;
	if (!options || !*options)
		return 0;
	dup = sys_strdup(options);
	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		if (hostfs && strncmp(tok, "server=", 7) == 0) {
			if (strlen(tok + 7) >= sizeof(o->server))
				r = -ENAMETOOLONG;
			else
				strcpy(o->server, tok + 7);
			o->has_server = true;
		} else if (strncmp(tok, "fids=", 5) == 0) {
			r = rt_parse_int(tok + 5, 1, 1L << 30, &o->fids);
		} else if (strncmp(tok, "restarts=", 9) == 0) {
			r = rt_parse_int(tok + 9, 0, 1000000L, &o->restarts);
		} else if (strncmp(tok, "window=", 7) == 0) {
			r = rt_parse_int(tok + 7, 1, 24 * 3600 * 1000L,
				      &o->window);
		} else if (strcmp(tok, "hard") == 0) {
			o->hard = true;
		} else if (strcmp(tok, "soft") == 0) {
			o->hard = false;
		} else if (!hostfs && strcmp(tok, "noreconnect") == 0) {
			o->noreconnect = true;
		} else if (!hostfs && strncmp(tok, "aname=", 6) == 0) {
			if (strlen(tok + 6) >= sizeof(o->aname))
				r = -ENAMETOOLONG;
			else
				strcpy(o->aname, tok + 6);
		} else if (strncmp(tok, "uname=", 6) == 0) {
			if (strlen(tok + 6) >= sizeof(o->uname))
				r = -ENAMETOOLONG;
			else
				strcpy(o->uname, tok + 6);
			o->has_uname = true;
		} else if (strncmp(tok, "msize=", 6) == 0) {
			r = rt_parse_int(tok + 6, MSIZE_MIN, 16 << 20, &o->msize);
		} else if (strncmp(tok, "timeout=", 8) == 0) {
			r = rt_parse_int(tok + 8, 1, 24 * 3600 * 1000L,
				      &o->timeout);
		} else if (strcmp(tok, "serial") == 0) {
			o->serial = true;
		} else if (strncmp(tok, "actimeo=", 8) == 0) {
			r = rt_parse_int(tok + 8, 0, 24 * 3600 * 1000L,
					 &o->actimeo);
		} else if (strncmp(tok, "wbwindow=", 9) == 0) {
			r = rt_parse_int(tok + 9, 0, 64L << 20, &o->wbwindow);
		} else if (strcmp(tok, "cache=none") == 0) {
			o->loose = false;
		} else if (strcmp(tok, "cache=loose") == 0) {
			o->loose = true;
		} else {
			r = -EINVAL;
		}
	}
	free(dup);
	return r;
}

static void p9_free(struct p9sb *s)
{
	int ms = s->c.s.timeout_ms < 1000 ? s->c.s.timeout_ms : 1000;
	struct handle *h, *hn;
	struct timespec dl;

	sup_stop(&s->c);
	/* writes behind and read-aheads end (each within its deadline;
	 * at once on a killed connection) */
	pool_fini(&s->pool);
	/* queue every clunk, then send what goes out within one short
	 * deadline: a hung server delays unmount by at most 2 x ms */
	pthread_mutex_lock(&s->c.s.lock);
	s->c.s.closing = true;
	pthread_cond_broadcast(&s->c.s.rd_cv);   /* the reader: no more rest */
	pthread_mutex_unlock(&s->c.s.lock);
	for (h = s->handles.next; h != &s->handles; h = hn) {
		hn = h->next;
		ra_fini(s, h);
		rd_free(h->rd);
		fid_put(s, h->fid);
		free(h);
	}
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct node *n, *nn;
		for (n = s->hash[b]; n; n = nn) {
			nn = n->hnext;
			node_free(s, n);
		}
	}
	deadline_in(&dl, ms);
	clunk_drain_by(&s->c, &dl);
	if (s->c.sup) {
		/* the server exits at EOF; a hung one is killed after ms */
		conn_fini_wait(&s->c, ms);
		session_teardown(&s->c, ms);
	}
	conn_fini(&s->c, ms);
	sup_free(s->c.sup);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int mount_common(struct uvfs_sb *sb, const char *source,
			const char *options, uint64_t *root_ino,
			enum server_kind kind)
{
	bool hostfs = kind != SERVER_NONE;      /* we start the server */
	bool reconnect;         /* 9p over an address: we connect again */
	struct p9_msg m = { .type = P9_TATTACH };
	struct opts o = { 0 };
	struct reply rp;
	struct p9sb *s;
	struct stat st;
	int r;

	r = parse_opts(options, &o, kind);
	if (r)
		return r;
	if (!source)
		return -EINVAL;
	reconnect = !hostfs && !o.noreconnect && rt_source_is_address(source);
	if (hostfs) {
		/* the export: an absolute host directory */
		if (source[0] != '/')
			return -EINVAL;
		if (stat(source, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		/* uvfs-hostfs: $UVFS_HOSTFS first (uvfsd sets it to the one
		 * of its build tree or installation) */
		const char *env = kind == SERVER_HOSTFS ? getenv("UVFS_HOSTFS")
							: NULL;
		if (!o.has_server && env && *env && access(env, X_OK) == 0 &&
		    strlen(env) < sizeof(o.server))
			strcpy(o.server, env);
		else if (!o.has_server &&
		    rproc_find(kind == SERVER_DIOD ? "diod" : "uvfs-hostfs",
				o.server, sizeof(o.server)) != 0)
			return -ENOENT;
		if (kind == SERVER_DIOD)        /* diod attaches by export */
			snprintf(o.aname, sizeof(o.aname), "%s", source);
		if (access(o.server, X_OK) != 0)
			return -errno;
	}
	s = sys_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->lru.lnext = s->lru.lprev = &s->lru;
	s->flru.fnext = s->flru.fprev = &s->flru;
	s->maxfids = (unsigned)o.fids;
	s->loose = o.loose;
	s->actimeo_ns = (uint64_t)o.actimeo * 1000000ull;
	s->wbwindow = (size_t)o.wbwindow;
	if (s->wbwindow)
		uvfs_sb_set_flushes(sb);        /* close waits for them */
	pool_init(&s->pool, &s->c);
	s->handles.next = s->handles.prev = &s->handles;
	s->c.s.msize = (uint32_t)o.msize;
	s->c.s.timeout_ms = (int)o.timeout;
	s->c.s.serial = o.serial;
	s->c.s.hard = o.hard;
	/* liveness of tcp: (docs/session.md): data unacknowledged for half
	 * a deadline, or an idle link whose keepalive probes go unanswered
	 * about as long, is a loss: a partition is noticed within a
	 * deadline whether requests are out or not */
	s->c.s.tcp.user_timeout_ms = o.timeout / 2 > 1000 ?
				     (int)o.timeout / 2 : 1000;
	s->c.s.tcp.keepalive_ms = o.timeout / 4 > 1000 ? (int)o.timeout / 4 :
				1000;
	s->c.s.link = RT_LINK_NONE;
	r = conn_init(&s->c);
	if (r) {
		pool_fini(&s->pool);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	if (hostfs || reconnect) {
		struct sup *sp = sys_calloc(1, sizeof(*sp));
		s->c.sup = sp;
		/* from the first Tattach on: fid 0's path is where every
		 * other path starts */
		s->c.track = true;
		s->c.s.proto_fatal = reconnect;
		if (sp) {
			sp->sb = sb;
			sp->type = kind == SERVER_DIOD ? "diod" :
				   hostfs ? "hostfs" : "9p";
			sp->server = hostfs ? sys_strdup(o.server) : NULL;
			sp->source = sys_strdup(source);
			sp->diod = kind == SERVER_DIOD;
			sp->reconnect = reconnect;
			sp->c = &s->c;
			r = sup_init(&s->c, o.restarts, o.window);
		}
		if (!sp || (hostfs && !sp->server) || !sp->source || r)
			r = -ENOMEM;
		else if (hostfs)
			r = spawn_server(&s->c);
		else if ((r = rt_open(source, s->c.s.timeout_ms, s->c.s.evfd,
				      &s->c.s.tcp, &s->c.s.link)) == 0)
			sp->sv.nrestarts = 1;   /* the first session */
	} else {
		r = rt_open(source, s->c.s.timeout_ms, s->c.s.evfd, &s->c.s.tcp,
			    &s->c.s.link);
	}
	if (!r)
		r = conn_version(&s->c, false);
	if (!r)
		r = reader_start(&s->c);
	if (r)
		goto fail;

	/* attach: as uname (default: the effective user) */
	s->uid = geteuid();
	if (o.has_uname) {
		struct passwd pw, *pwp = NULL;
		char pbuf[4096];
		if (getpwnam_r(o.uname, &pw, pbuf, sizeof(pbuf), &pwp) == 0 &&
		    pwp)
			s->uid = pw.pw_uid;
		else
			s->uid = (uid_t)P9_NONUNAME; /* the server maps it */
	} else {
		struct passwd pw, *pwp = NULL;
		char pbuf[4096];
		if (getpwuid_r(s->uid, &pw, pbuf, sizeof(pbuf), &pwp) == 0 &&
		    pwp)
			snprintf(o.uname, sizeof(o.uname), "%s", pw.pw_name);
	}
	if (s->c.sup) {
		s->c.sup->uname = sys_strdup(o.uname);
		s->c.sup->aname = sys_strdup(o.aname);
		s->c.sup->n_uname = (uint32_t)s->uid;
		if (!s->c.sup->uname || !s->c.sup->aname) {
			r = -ENOMEM;
			goto fail;
		}
	}
	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = p9_str(o.uname);
	m.tattach.aname = p9_str(o.aname);
	m.tattach.n_uname = (uint32_t)s->uid;
	r = rpc(&s->c, &m, P9_RATTACH, &rp, CL_NONE, 0);
	if (r)
		goto fail;
	uint64_t ino = rp.m.rattach.qid.path;
	s->c.root_qid = rp.m.rattach.qid;
	reply_free(&rp);
	r = node_install(s, ino, 0, false, 0, NULL, 0);
	if (r)
		goto fail;
	pthread_mutex_lock(&s->lock);
	s->root = node_find_locked(s, ino);
	lru_del_locked(s, s->root);
	s->root->refs = 1;      /* the mount's, for good */
	atomic_store(&s->root->type, S_IFDIR);
	pthread_mutex_unlock(&s->lock);
	if (s->c.sup) {
		r = sup_start(&s->c);
		if (r)
			goto fail;
	}
	uvfs_sb_set_private(sb, s);
	*root_ino = ino;
	return 0;
fail:
	p9_free(s);
	return r;
}

static int p9_mount(struct uvfs_sb *sb, const char *source,
		    const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_NONE);
}

static int hostfs_mount(struct uvfs_sb *sb, const char *source,
			const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_HOSTFS);
}

static int diod_mount(struct uvfs_sb *sb, const char *source,
		      const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_DIOD);
}

static void p9_unmount(struct uvfs_sb *sb)
{
	struct p9sb *s = S(sb);

	if (s)
		p9_free(s);
	uvfs_sb_set_private(sb, NULL);
}

static void p9_cancel(struct uvfs_sb *sb)
{
	struct p9sb *s = S(sb);

	if (!s)
		return;
	conn_kill(&s->c);
	if (s->c.sup) {
		/* the mount is dead: its server goes now (reaped at unmount;
		 * SIGKILL works on a stopped process too) */
		pthread_mutex_lock(&s->c.s.lock);
		if (s->c.sup->sv.pid > 0)
			sys_kill(s->c.sup->sv.pid, SIGKILL);
		pthread_mutex_unlock(&s->c.s.lock);
	}
}

static int p9_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	struct p9sb *s = S(sb);
	struct p9_msg m = { .type = P9_TSTATFS };
	struct fid *f;
	struct reply rp;
	int r;

	r = node_fid(s, s->root, &f);   /* the root's: never released */
	if (r)
		return r;
	m.tstatfs.fid = f->num;
	r = rpc(&s->c, &m, P9_RSTATFS, &rp, CL_NONE, 0);
	fid_put(s, f);
	if (r)
		return r;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = rp.m.rstatfs.bsize;
	st->f_blocks = rp.m.rstatfs.blocks;
	st->f_bfree = rp.m.rstatfs.bfree;
	st->f_bavail = rp.m.rstatfs.bavail;
	st->f_files = rp.m.rstatfs.files;
	st->f_ffree = st->f_favail = rp.m.rstatfs.ffree;
	st->f_namemax = rp.m.rstatfs.namelen;
	reply_free(&rp);
	return 0;
}

static int p9_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct p9sb *s = S(sb);
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	if (n) {
		lru_del_locked(s, n);
		n->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!n)
		return -ESTALE; /* not walked to (or evicted long ago) */
	*priv = n;
	return 0;
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

static void p9_reclaim(struct uvfs_sb *sb, void *priv)
{
	node_rele(S(sb), priv);
}

/* ---- the attribute cache ------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

bool attr_get(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	bool ok;

	/* nothing kept is answered while the session is not up: the calls
	 * fail (fast) or wait as every other does (docs/session.md) */
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = n->attr_ok && n->attr_sgen == conn_sgen(&s->c) &&
	     (s->loose || now_ns() - n->attr_ns < s->actimeo_ns);
	if (ok)
		*ga = n->attr;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void attr_put(struct p9sb *s, struct node *n, const struct p9_rgetattr *ga)
{
	if (s->actimeo_ns == 0)
		return;
	pthread_mutex_lock(&s->lock);
	n->attr = *ga;
	n->attr_ns = now_ns();
	n->attr_sgen = conn_sgen(&s->c);
	n->attr_ok = n->perm_ok = true;
	pthread_mutex_unlock(&s->lock);
}

bool attr_get_perm(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	bool ok;

	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = n->perm_ok && n->attr_sgen == conn_sgen(&s->c) &&
	     (s->loose || now_ns() - n->attr_ns < s->actimeo_ns);
	if (ok)
		*ga = n->attr;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void attr_drop(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->attr_ok = n->perm_ok = false;
	pthread_mutex_unlock(&s->lock);
}

bool name_fresh_locked(struct p9sb *s, uint64_t pino, const char *name,
		       uint64_t *ino, mode_t *type)
{
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0) {
			mode_t t = atomic_load(&n->type);
			if (!n->name_ns || !t ||
			    n->name_sgen != conn_sgen(&s->c) ||
			    (!s->loose && now_ns() - n->name_ns >= s->actimeo_ns))
				return false;
			*ino = n->ino;
			*type = t == S_IFDIR || t == S_IFLNK ? t : S_IFREG;
			return true;
		}
	return false;
}

int name_get(struct p9sb *s, uint64_t pino, const char *name, uint64_t *ino,
	     mode_t *type)
{
	pthread_mutex_lock(&s->lock);
	bool hit = name_fresh_locked(s, pino, name, ino, type);
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void name_forget(struct p9sb *s, uint64_t pino, const char *name)
{
	pthread_mutex_lock(&s->lock);
	for (struct node *n = s->nhash[nbucket(pino, name)]; n; n = n->nnext)
		if (n->pino == pino && strcmp(n->name, name) == 0)
			n->name_ns = 0;
	pthread_mutex_unlock(&s->lock);
}

void node_renamed(struct p9sb *s, uint64_t opino, const char *oname,
		  uint64_t npino, const char *nname)
{
	if (opino == npino && strcmp(oname, nname) == 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct node *n = s->hash[b]; n; n = n->hnext) {
			if (!n->name)
				continue;
			if (n->pino == npino && strcmp(n->name, nname) == 0)
				node_set_name_locked(s, n, 0, NULL, n->gen);
			else if (n->pino == opino &&
				 strcmp(n->name, oname) == 0) {
				node_set_name_locked(s, n, npino, nname,
						     n->gen);
				n->moved = s->gen;
			}
		}
	pthread_mutex_unlock(&s->lock);
}



/* Each operation runs under one call deadline (rs_call_begin): however
 * many requests it becomes, it waits at most the mount's timeout=. */
#define CALL(sb, expr)                                                  \
	({                                                              \
		struct rs_call sv_;                                     \
		rs_call_begin(S(sb)->c.s.timeout_ms, &sv_);               \
		__typeof__(expr) r_ = (expr);                           \
		rs_call_end(&sv_);                                      \
		r_;                                                     \
	})

static int c_statfs(struct uvfs_sb *sb, struct statvfs *st)
{ return CALL(sb, p9_statfs(sb, st)); }
static int c_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{ return CALL(sb, p9_getattr(sb, priv, st)); }
static int c_permission(struct uvfs_sb *sb, void *priv, int mask,
			const struct uvfs_cred *cred)
{ return CALL(sb, p9_permission(sb, priv, mask, cred)); }
static int c_setattr(struct uvfs_sb *sb, void *priv,
		     const struct uvfs_setattr *sa)
{ return CALL(sb, p9_setattr(sb, priv, sa)); }
static int c_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		    struct uvfs_ident *id)
{ return CALL(sb, p9_lookup(sb, dir, name, id)); }
static int c_create(struct uvfs_sb *sb, void *dir, const char *name,
		    mode_t mode, dev_t rdev, const char *target,
		    const struct uvfs_cred *cred, struct uvfs_ident *id)
{ return CALL(sb, p9_create(sb, dir, name, mode, rdev, target, cred, id)); }
static int c_link(struct uvfs_sb *sb, void *dir, const char *name,
		  void *priv)
{ return CALL(sb, p9_link(sb, dir, name, priv)); }
static int c_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		    int isdir)
{ return CALL(sb, p9_unlink(sb, dir, name, isdir)); }
static int c_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		    void *ndir, const char *nname, unsigned flags)
{ return CALL(sb, p9_rename(sb, odir, oname, ndir, nname, flags)); }
static ssize_t c_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			  size_t size)
{ return CALL(sb, p9_readlink(sb, priv, buf, size)); }
static int c_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{ return CALL(sb, p9_open(sb, priv, flags, fh)); }
static ssize_t c_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		      size_t n, off_t off)
{ return CALL(sb, p9_read(sb, priv, fh, buf, n, off)); }
static ssize_t c_write(struct uvfs_sb *sb, void *priv, void *fh,
		       const void *buf, size_t n, off_t *off)
{ return CALL(sb, p9_write(sb, priv, fh, buf, n, off)); }
static int c_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{ return CALL(sb, p9_fsync(sb, priv, fh, datasync)); }
static int c_flush(struct uvfs_sb *sb, void *priv, void *fh)
{ return CALL(sb, p9_flush(sb, priv, fh)); }
static int c_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		     uint64_t cookie, uvfs_filldir_t fill, void *arg)
{ return CALL(sb, p9_readdir(sb, priv, fh, cookie, fill, arg)); }
static ssize_t c_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
			  void *value, size_t size)
{ return CALL(sb, p9_getxattr(sb, priv, name, value, size)); }
static int c_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		      const void *value, size_t size, int flags)
{ return CALL(sb, p9_setxattr(sb, priv, name, value, size, flags)); }
static ssize_t c_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			   size_t size)
{ return CALL(sb, p9_listxattr(sb, priv, list, size)); }
static int c_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{ return CALL(sb, p9_removexattr(sb, priv, name)); }
static int c_lock(struct uvfs_sb *sb, void *priv, void *fh, int cmd,
		  struct uvfs_lock *lk)
{ return CALL(sb, p9_lock(sb, priv, fh, cmd, lk)); }

/* Every type of this driver shares its operations; they differ in how
 * the server is reached (mount). */
/* The options of each type, as parse_opts() takes them (for the core's
 * check and `uvfs mount --help`). */
#define P9_FSOPTS_COMMON                                                \
	{ "uname", UVFS_FSOPT_STRING, "NAME: the user to attach as" },  \
	{ "msize", UVFS_FSOPT_NUMBER,                                   \
	  "N: the largest message offered (524288; 4096..16777216)" },  \
	{ "timeout", UVFS_FSOPT_NUMBER,                                 \
	  "MS: a request's deadline (10000)" },                         \
	{ "serial", UVFS_FSOPT_FLAG, "one request at a time" },         \
	{ "fids", UVFS_FSOPT_NUMBER,                                    \
	  "N: fids kept open for files nothing uses (LRU)" },           \
	{ "hard", UVFS_FSOPT_FLAG,                                      \
	  "calls wait out an unreachable server" },                     \
	{ "soft", UVFS_FSOPT_FLAG,                                      \
	  "calls to an unreachable server fail fast (the default)" },   \
	{ "window", UVFS_FSOPT_NUMBER,                                  \
	  "MS: the window restarts= counts in (60000)" },               \
	{ "actimeo", UVFS_FSOPT_NUMBER,                                 \
	  "MS: attributes are reused this long (1000; 0: never)" },     \
	{ "wbwindow", UVFS_FSOPT_NUMBER,                                \
	  "BYTES: writes sent behind per file at most (0, the default: " \
	  "every write waits; e.g. 4194304)" },                         \
	{ "cache", UVFS_FSOPT_STRING,                                   \
	  "none (default) or loose: attributes trusted until this "     \
	  "mount changes them (one client writes)" }
static const struct uvfs_fsopt p9_fsopts[] = {
	{ "aname", UVFS_FSOPT_STRING, "PATH: the tree to attach to" },
	{ "restarts", UVFS_FSOPT_NUMBER,
	  "N: reconnections within window= before the mount is dead (30)" },
	{ "noreconnect", UVFS_FSOPT_FLAG,
	  "a lost connection stays lost (EIO)" },
	P9_FSOPTS_COMMON,
	{ NULL, 0, NULL },
};
static const struct uvfs_fsopt hostfs_fsopts[] = {
	{ "server", UVFS_FSOPT_STRING,
	  "PATH: the server binary (default: $UVFS_HOSTFS, uvfs-hostfs next "
	  "to the program or in PATH; diod in PATH or /usr/sbin)" },
	{ "restarts", UVFS_FSOPT_NUMBER,
	  "N: server restarts within window= before the mount is dead (5)" },
	P9_FSOPTS_COMMON,
	{ NULL, 0, NULL },
};

#define P9_OPS(type_name, mount_fn, fsopts, source)                     \
	{                                                               \
		.name = type_name,                                      \
		.options = fsopts,                                      \
		.source_help = source,                                  \
		.flags = UVFS_FS_NO_NAMECACHE,                          \
		.mount = mount_fn,                                      \
		.unmount = p9_unmount,                                  \
		.cancel = p9_cancel,                                    \
		.statfs = c_statfs,                                     \
		.vget = p9_vget,                                        \
		.reclaim = p9_reclaim,                                  \
		.getattr = c_getattr,                                   \
		.permission = c_permission,                             \
		.setattr = c_setattr,                                   \
		.lookup = c_lookup,                                     \
		.create = c_create,                                     \
		.link = c_link,                                         \
		.unlink = c_unlink,                                     \
		.rename = c_rename,                                     \
		.readlink = c_readlink,                                 \
		.open = c_open,                                         \
		.release = p9_release,                                  \
		.read = c_read,                                         \
		.write = c_write,                                       \
		.fsync = c_fsync,                                       \
		.readdir = c_readdir,                                   \
		.getxattr = c_getxattr,                                 \
		.setxattr = c_setxattr,                                 \
		.listxattr = c_listxattr,                               \
		.removexattr = c_removexattr,                           \
		.flush = c_flush,                                       \
		.lock = c_lock,                                         \
	}

/* "9p": a server reached by a Unix socket, TCP or an fd pair. */
const struct uvfs_fstype_ops uvfs_9p_ops = P9_OPS("9p", p9_mount, p9_fsopts,
	"SOURCE: unix:PATH, tcp:HOST:PORT or fd:RFD,WFD (a 9P2000.L server)");
/* "hostfs": over a uvfs-hostfs it spawns and restarts. */
const struct uvfs_fstype_ops uvfs_hostfs_ops = P9_OPS("hostfs", hostfs_mount,
	hostfs_fsopts, "SOURCE: a host directory, served by uvfs-hostfs");
/* "diod": over a diod it spawns and restarts (docs/recovery.md). */
const struct uvfs_fstype_ops uvfs_diod_ops = P9_OPS("diod", diod_mount,
	hostfs_fsopts, "SOURCE: a host directory, served by diod");

int uvfs_9p_register(struct uvfs *u)
{
	int r = uvfs_fstype_register(u, &uvfs_9p_ops);

	if (r == -EEXIST)       /* as documented: not an error */
		r = 0;
	if (r == 0) {
		int h = uvfs_fstype_register(u, &uvfs_hostfs_ops);
		if (h && h != -EEXIST)
			r = h;
	}
	if (r == 0) {
		int d = uvfs_fstype_register(u, &uvfs_diod_ops);
		if (d && d != -EEXIST)
			r = d;
	}
	return r;
}

/*
 * nfs.c - the NFS client driver: file-system type "nfs" (include/uvfs/nfs.h).
 *
 * Three layers, each knowing only the one below:
 *
 *   nfs.c    vnodes: file handles, the attribute cache, open files, silly
 *            rename, options and the mount
 *   nfs3.c   NFSv3/MOUNT v3 procedures as blocking calls with a deadline
 *   rpc.c    ONC RPC on the remote session layer (lib/remote): framing,
 *            XIDs, credentials; the session has the deadlines, fencing,
 *            cancellation, liveness and reconnect
 *
 * Objects and their lifecycles:
 *
 *   struct nsb   one per mount: made by nv_mount (MOUNT v3 gives the root
 *                handle, then an NFS v3 connection is kept), freed by
 *                nv_unmount once every vnode is reclaimed.
 *   struct node  one per file the driver has a handle for, in a table by
 *                ino (the server's fileid).  Installed by lookup, create and
 *                readdir (READDIRPLUS carries handles); taken by vget
 *                (refs++), given back by reclaim (refs--, then onto a small
 *                LRU of unreferenced nodes so that a vget racing with the
 *                reclaim still finds it; the LRU's overflow is freed).  The
 *                root node is never freed before the unmount.  A node's
 *                identity is (fileid, type): a lookup that finds another
 *                handle for the same fileid replaces the handle (NFSv3
 *                handles survive a server restart, so no re-walk is needed).
 *   struct handle  one per open file: counts the node's opens.  A file
 *                unlinked while open is renamed to ".nfsXXXX" in its
 *                directory instead (silly rename) and removed at its last
 *                close, as Linux's client does.
 *
 * Consistency (docs/nfs.md): attributes from every reply are cached for
 * actimeo seconds (0: never); a change this client makes through a name
 * (create, link, unlink, rename) invalidates every cached attribute (s->gen),
 * since the server does not say which files it touched.  open fetches the
 * attributes again (close-to-open); writes are UNSTABLE and committed at
 * fsync (errors reported) and at close (sent, not waited for: the last
 * release does no I/O in the caller).
 *
 * Locks: s->lock (a leaf, never held across a request) guards the node
 * table, the LRU and every mutable node field.  The session's lock is
 * lib/remote's own.  dir_lock guards the directory of live mounts that
 * uvfs_nfs_info searches (taken before a session's lock, never with
 * s->lock).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include <uvfs/nfs.h>

#include "deadline.h"
#include "names.h"
#include "nfs3.h"
#include "rpc.h"
#include "sys.h"

#define NBUCKETS        1024
#define LRU_MAX         1024
#define TIMEOUT_DEFAULT 10000
#define WINDOW_DEFAULT  60000           /* restarts= counts in this window */
#define ACTIMEO_DEFAULT 3               /* seconds, as Linux's acregmin */
#define IO_MAX          (1u << 20)      /* bytes per READ/WRITE, at most */
#define DIR_MAX         32768u          /* READDIRPLUS maxcount */
#define WINDOW_BYTES    (8u << 20)      /* a read's or write's requests in
					 * flight: at most this many bytes */
#define WINDOW_MAX      16u             /* ... and this many requests */
#define CREATE_FRESH_NS 1000000000ull   /* an open this soon after our
					 * CREATE uses its attributes */

/* What the mount may trust of what it saw (docs/nfs.md, "Caching
 * modes"). */
enum cache_mode {
	CACHE_NONE,     /* every getattr asks the server */
	CACHE_CTO,      /* attributes for actimeo, again at every open */
	CACHE_LOOSE,    /* attributes and names until this mount changes
			 * something: for a mount only one client writes */
};

struct node {
	uint64_t ino;                   /* the fileid; set once */
	/* s->lock: */
	struct fh3 fh;
	mode_t type;
	int refs;                       /* vget - reclaim */
	struct node *hnext;
	struct node *lnext, *lprev;     /* on the LRU while refs == 0 */
	bool st_valid;
	struct stat st;
	uint64_t st_ns, st_gen;         /* when cached, and s->gen then */
	int opens;                      /* open handles (not directories) */
	char *silly;                    /* unlinked while open: its name */
	struct fh3 silly_dir;           /* ... in this directory */
	bool silly_has_cred;            /* ... removed at the last close as */
	struct uvfs_cred silly_cred;    /* the unlinker (as Linux does) */
	uint64_t cverf;                 /* READDIRPLUS cookie verifier */
	uint64_t created_ns;            /* made by this client's CREATE then
					 * (its reply's attributes are the
					 * open's: no GETATTR), or 0 */
	bool dirty;                     /* unstable writes not committed */
	bool verf_lost;                 /* the write verifier changed */
	uint64_t wverf;
	bool stale;                     /* after a reconnect its handle named
					 * another file: every call -ESTALE */
};

struct handle {
	struct node *n;
	int flags;
	bool has_cred;                  /* the opener's credentials (for the */
	struct uvfs_cred cred;          /* COMMIT at the last close) */
	/* a directory's: the entries of its last READDIRPLUS reply that the
	 * last readdir did not take, and the cookie they follow (guarded by
	 * the open file's lock, which the core holds across readdir) */
	struct n3dent *rest;
	uint64_t rest_cookie;
	bool rest_eof;
};

struct nsb {
	struct nsb *dnext;              /* dir_lock: the directory of mounts */
	char *source;                   /* set once: as mounted */
	struct uvfs_sb *sb;             /* set once */
	atomic_ulong stale;             /* handles that named another file */
	pthread_mutex_t lock;
	/* set at mount: */
	struct nconn *nc;
	struct node *root;
	int timeout_ms;
	uint64_t ac_ns;                 /* attribute cache lifetime */
	enum cache_mode cache;
	struct nnames names;            /* cache=loose: its own lock */
	bool hard;
	uint32_t rtmax, wtmax, dtmax;
	/* s->lock: */
	struct node *table[NBUCKETS];
	struct node lru;                /* list head */
	unsigned nlru;
	uint64_t gen;                   /* bumped by namespace changes */
	unsigned nopen;                 /* open handles of the mount */
	unsigned silly_seq;
};

struct opts {
	enum cache_mode cache;
	int timeout_ms;
	int actimeo;                    /* seconds */
	bool hard;
	long restarts, window_ms;       /* the reconnect limit (< 0: none) */
};

#define S(sb) ((struct nsb *)uvfs_sb_private(sb))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The context of one vnode operation: its deadline starts now. */
static struct n3 ctx_of(struct nsb *s)
{
	/* as whom: the caller (AUTH_SYS), or root on a thread that has none */
	struct n3 c = { .nc = s->nc, .cred = uvfs_cred_current() };

	deadline_in(&c.dl, s->timeout_ms);
	return c;
}

/* ---- options and source ------------------------------------------------ */

static int parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long x;

	if (!v || !*v)
		return -EINVAL;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

/* timeout=MS vers=3 actimeo=S ac noac hard soft; anything else, or a bad
 * value, is -EINVAL. */
static int parse_opts(const char *options, struct opts *o)
{
	char buf[512], *save = NULL, *tok;
	int vers;

	o->cache = CACHE_CTO;
	o->timeout_ms = TIMEOUT_DEFAULT;
	o->actimeo = ACTIMEO_DEFAULT;
	o->hard = false;
	o->restarts = -1;
	o->window_ms = WINDOW_DEFAULT;
	if (!options || !*options)
		return 0;
	if (strlen(options) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, options);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *v = strchr(tok, '=');
		if (v)
			*v++ = '\0';
		if (strcmp(tok, "timeout") == 0) {
			if (parse_int(v, 100, 3600000, &o->timeout_ms))
				return -EINVAL;
		} else if (strcmp(tok, "vers") == 0 ||
			   strcmp(tok, "nfsvers") == 0) {
			if (parse_int(v, 2, 4, &vers) || vers != 3)
				return -EINVAL; /* only NFSv3 today */
		} else if (strcmp(tok, "actimeo") == 0) {
			if (parse_int(v, 0, 3600, &o->actimeo))
				return -EINVAL;
		} else if (strcmp(tok, "ac") == 0 && !v) {
			o->actimeo = ACTIMEO_DEFAULT;
		} else if (strcmp(tok, "noac") == 0 && !v) {
			o->actimeo = 0;
		} else if (strcmp(tok, "cache") == 0) {
			if (v && strcmp(v, "none") == 0)
				o->cache = CACHE_NONE;
			else if (v && strcmp(v, "cto") == 0)
				o->cache = CACHE_CTO;
			else if (v && strcmp(v, "loose") == 0)
				o->cache = CACHE_LOOSE;
			else
				return -EINVAL;
		} else if (strcmp(tok, "restarts") == 0) {
			int x;
			if (parse_int(v, 0, 1000000, &x))
				return -EINVAL;
			o->restarts = x;
		} else if (strcmp(tok, "window") == 0) {
			int x;
			if (parse_int(v, 1, 3600000, &x))
				return -EINVAL;
			o->window_ms = x;
		} else if (strcmp(tok, "hard") == 0 && !v) {
			o->hard = true;
		} else if (strcmp(tok, "soft") == 0 && !v) {
			o->hard = false;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* nfs://HOST/EXPORT or HOST:/EXPORT into host and export ("/EXPORT"). */
static int parse_source(const char *src, char *host, size_t hsz,
			char *export, size_t esz)
{
	const char *h, *slash;
	size_t hl;

	if (!src)
		return -EINVAL;
	if (strncmp(src, "nfs://", 6) == 0) {
		h = src + 6;
		slash = strchr(h, '/');
		if (!slash)
			return -EINVAL;
		hl = (size_t)(slash - h);
	} else {
		slash = strstr(src, ":/");
		if (!slash)
			return -EINVAL;
		h = src;
		hl = (size_t)(slash - h);
		slash++;
	}
	if (hl == 0 || hl >= hsz || strlen(slash) >= esz)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (h[i] == ':' || h[i] == '@' || h[i] == '?')
			return -EINVAL; /* a port, user or query: not ours */
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(export, slash);
	/* the export's own trailing slashes mean nothing */
	for (size_t l = strlen(export); l > 1 && export[l - 1] == '/'; l--)
		export[l - 1] = '\0';
	return 0;
}

/* ---- the node table ---------------------------------------------------- */

static struct node *node_find_locked(struct nsb *s, uint64_t ino)
{
	struct node *n;

	for (n = s->table[ino % NBUCKETS]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void lru_del_locked(struct nsb *s, struct node *n)
{
	if (n->lnext) {
		n->lnext->lprev = n->lprev;
		n->lprev->lnext = n->lnext;
		n->lnext = n->lprev = NULL;
		s->nlru--;
	}
}

static void hash_del_locked(struct nsb *s, struct node *n)
{
	struct node **pp = &s->table[n->ino % NBUCKETS];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
}

static void node_free(struct node *n)
{
	free(n->silly);
	free(n);
}

/* Caches attributes.  => s->lock held. */
static void cache_attr_locked(struct nsb *s, struct node *n,
			      const struct stat *st)
{
	n->st = *st;
	n->st_valid = true;
	n->st_ns = now_ns();
	n->st_gen = s->gen;
	n->type = st->st_mode & S_IFMT;
}

/* Installs (fh, attributes) of a file the server named; returns its ino.
 * A new node goes unreferenced onto the LRU until vget takes it. */
static int node_install(struct nsb *s, const struct fh3 *fh,
			const struct stat *st, uint64_t *ino)
{
	struct node *n, *evict = NULL;

	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, st->st_ino);
	if (n) {
		/* same fileid: the handle may have changed (a server that
		 * encodes more than the fileid); the newest is the one to
		 * use */
		if (!fh3_eq(&n->fh, fh))
			n->fh = *fh;
		cache_attr_locked(s, n, st);
	} else {
		n = sys_calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		n->ino = st->st_ino;
		n->fh = *fh;
		cache_attr_locked(s, n, st);
		n->hnext = s->table[n->ino % NBUCKETS];
		s->table[n->ino % NBUCKETS] = n;
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			if (evict == n) {
				evict = NULL;
			} else {
				lru_del_locked(s, evict);
				hash_del_locked(s, evict);
			}
		}
	}
	*ino = n->ino;
	pthread_mutex_unlock(&s->lock);
	if (evict)
		node_free(evict);
	return 0;
}

static struct fh3 node_fh(struct nsb *s, struct node *n)
{
	struct fh3 fh;

	pthread_mutex_lock(&s->lock);
	fh = n->fh;
	pthread_mutex_unlock(&s->lock);
	return fh;
}

/* Updates the cache from a reply's post-operation attributes (checked
 * against the node's identity). */
static void node_attr(struct nsb *s, struct node *n, const struct n3attr *a)
{
	if (!a->valid || a->st.st_ino != n->ino)
		return;
	pthread_mutex_lock(&s->lock);
	cache_attr_locked(s, n, &a->st);
	pthread_mutex_unlock(&s->lock);
}

static void invalidate_all(struct nsb *s)
{
	pthread_mutex_lock(&s->lock);
	s->gen++;
	pthread_mutex_unlock(&s->lock);
}

/* The node's attributes, from the cache while fresh, else from the
 * server.  force: always from the server (open: close-to-open). */
static int node_getattr(struct nsb *s, struct n3 *c, struct node *n,
			struct stat *st, bool force)
{
	struct fh3 fh;
	int r;

	pthread_mutex_lock(&s->lock);
	if (n->stale) {
		pthread_mutex_unlock(&s->lock);
		return -ESTALE;
	}
	if (!force && n->st_valid && n->st_gen == s->gen &&
	    now_ns() - n->st_ns < s->ac_ns) {
		*st = n->st;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	fh = n->fh;
	pthread_mutex_unlock(&s->lock);
	r = n3_getattr(c, &fh, st);
	if (r == -ESTALE) {
		/* a handle goes stale when its file is removed: what is
		 * still open (a cwd, a descriptor) has no links now */
		pthread_mutex_lock(&s->lock);
		if (n->st_valid) {
			*st = n->st;
			st->st_nlink = 0;
			r = 0;
		}
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	if (r)
		return r;
	if (st->st_ino != n->ino) {
		atomic_fetch_add(&s->stale, 1);
		return -ESTALE; /* the handle names another file now */
	}
	pthread_mutex_lock(&s->lock);
	if (n->type && (st->st_mode & S_IFMT) != n->type) {
		/* same fileid, another type: another file (identity is
		 * fileid and type) */
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->stale, 1);
		return -ESTALE;
	}
	cache_attr_locked(s, n, st);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- the directory of mounts (for uvfs_nfs_info only) --------------------
 * A list of the live superblocks and their sources, searched by
 * uvfs_nfs_info; nothing else looks at it.  dir_lock is a leaf. */
static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nsb *dir_list;

static void dir_add(struct nsb *s)
{
	pthread_mutex_lock(&dir_lock);
	s->dnext = dir_list;
	dir_list = s;
	pthread_mutex_unlock(&dir_lock);
}

static void dir_del(struct nsb *s)
{
	pthread_mutex_lock(&dir_lock);
	for (struct nsb **pp = &dir_list; *pp; pp = &(*pp)->dnext)
		if (*pp == s) {
			*pp = s->dnext;
			break;
		}
	pthread_mutex_unlock(&dir_lock);
}

int uvfs_nfs_info(struct uvfs *u, const char *target,
		  struct uvfs_nfs_info *out)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0;
	char source[1300] = "";
	int r = uvfs_mount_list(u, &mi, &n);

	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0 &&
		    strcmp(mi[i].type, "nfs") == 0)
			snprintf(source, sizeof(source), "%s", mi[i].source);
	free(mi);
	if (!source[0])
		return -ENOENT;
	r = -ENOENT;
	pthread_mutex_lock(&dir_lock);
	for (struct nsb *s = dir_list; s; s = s->dnext) {
		struct nc_stats ls;
		if (strcmp(s->source, source) != 0)
			continue;
		nc_stats(s->nc, &ls);
		memset(out, 0, sizeof(*out));
		out->state = ls.state;
		out->unreachable = ls.unreachable;
		out->probes = ls.probes;
		out->calls = ls.calls;
		out->timeouts = ls.timeouts;
		out->losses = ls.losses;
		out->reconnects = ls.reconnects;
		out->replays = ls.replays;
		out->stale = atomic_load(&s->stale);
		out->inflight = ls.inflight;
		out->last_error = ls.last_error;
		out->last_loss = ls.last_loss;
		out->hard = ls.hard;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&dir_lock);
	return r;
}

/* ---- after a reconnect ----------------------------------------------------
 * The supervisor's hook (rpc.h): NFSv3 has no session state to rebuild and
 * its handles survive a server restart, but a handle may name another
 * file now (a server that reuses them): the root and every open file are
 * checked (a GETATTR each, fileid and type), and a mismatch makes that
 * node stale (its calls -ESTALE).  Cached attributes are dropped. */
struct open_fh {
	uint64_t ino;
	mode_t type;
	struct fh3 fh;
};

static int rebuild(void *arg)
{
	struct nsb *s = arg;
	struct open_fh *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	s->gen++;               /* every cached attribute is old now */
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct node *nd = s->table[b]; nd; nd = nd->hnext) {
			if (nd != s->root && nd->opens == 0)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct open_fh *nv = sys_realloc(v, nc *
								 sizeof(*v));
				if (!nv)
					continue;
				v = nv;
				cap = nc;
			}
			v[n++] = (struct open_fh){ nd->ino, nd->type, nd->fh };
		}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct n3 c = ctx_of(s);
		struct stat st;
		c.flags = NC_INTERNAL;
		r = n3_getattr(&c, &v[i].fh, &st);
		if (r == -ESTALE) {
			r = 0;          /* removed meanwhile: stale as ever */
			continue;
		}
		if (r)
			break;          /* this attempt failed */
		if (st.st_ino == v[i].ino &&
		    (!v[i].type || (st.st_mode & S_IFMT) == v[i].type))
			continue;
		atomic_fetch_add(&s->stale, 1);
		pthread_mutex_lock(&s->lock);
		struct node *nd = node_find_locked(s, v[i].ino);
		if (nd && fh3_eq(&nd->fh, &v[i].fh))
			nd->stale = true;
		pthread_mutex_unlock(&s->lock);
	}
	free(v);
	return r;
}

/* ---- mount ------------------------------------------------------------- */

static void nsb_free(struct nsb *s)
{
	free(s->source);
	if (s->nc)
		nconn_free(s->nc);
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct node *n = s->table[i];
		while (n) {
			struct node *next = n->hnext;
			node_free(n);
			n = next;
		}
	}
	names_fini(&s->names);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int nv_mount(struct uvfs_sb *sb, const char *source,
		     const char *options, uint64_t *root_ino)
{
	char host[256], export[1024];
	struct opts o;
	int port;
	struct fh3 rootfh;
	struct stat st;
	struct nsb *s;
	int r;

	r = parse_opts(options, &o);
	if (r == 0)
		r = parse_source(source, host, sizeof(host), export,
				 sizeof(export));
	if (r)
		return r;

	/* MOUNT v3: the export's root handle */
	r = n3_mnt(host, export, o.timeout_ms, &rootfh);
	if (r)
		return r == -ECONNREFUSED ? -EHOSTUNREACH : r;
	/* NFS v3's port, from the portmapper as for MOUNT; a reconnect goes
	 * straight to it (NFS keeps its port across restarts) */
	r = nrpc_getport(host, NFS_PROGRAM, NFS_V3, o.timeout_ms, &port);
	if (r)
		return r == -ECONNREFUSED ? -EHOSTUNREACH : r;

	s = sys_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	names_init(&s->names);
	s->lru.lnext = s->lru.lprev = &s->lru;
	s->timeout_ms = o.timeout_ms;
	s->source = sys_strdup(source);
	if (!s->source) {
		nsb_free(s);
		return -ENOMEM;
	}
	s->cache = o.cache;
	s->ac_ns = o.cache == CACHE_NONE ? 0
		   : o.cache == CACHE_LOOSE ? UINT64_MAX
		   : (uint64_t)o.actimeo * 1000000000ull;
	s->hard = o.hard;
	struct nc_opts no = {
		.timeout_ms = o.timeout_ms, .hard = o.hard,
		.restarts = o.restarts, .window_ms = o.window_ms,
		.source = source, .rebuild = rebuild, .rebuild_arg = s,
	};
	r = nconn_new(host, port, &no, &s->nc);
	if (r) {
		nsb_free(s);
		return r == -ECONNREFUSED ? -EHOSTUNREACH : r;
	}
	struct n3 c = ctx_of(s);
	uint32_t dtpref;        /* READDIRPLUS asks DIR_MAX whatever it is */
	r = n3_fsinfo(&c, &rootfh, &s->rtmax, &s->wtmax, &dtpref);
	if (r == 0)
		r = n3_getattr(&c, &rootfh, &st);
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r) {
		nsb_free(s);
		return r;
	}
	if (s->rtmax == 0 || s->rtmax > IO_MAX)
		s->rtmax = s->rtmax ? IO_MAX : 32768;
	if (s->wtmax == 0 || s->wtmax > IO_MAX)
		s->wtmax = s->wtmax ? IO_MAX : 32768;
	s->dtmax = DIR_MAX;
	r = node_install(s, &rootfh, &st, root_ino);
	if (r) {
		nsb_free(s);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	s->root = node_find_locked(s, *root_ino);
	lru_del_locked(s, s->root);
	s->root->refs = 1;      /* the mount's own: never reclaimed */
	pthread_mutex_unlock(&s->lock);
	s->sb = sb;
	uvfs_sb_set_private(sb, s);
	dir_add(s);
	return 0;
}

static void nv_unmount(struct uvfs_sb *sb)
{
	struct nsb *s = S(sb);

	if (s) {
		dir_del(s);
		nsb_free(s);
	}
	uvfs_sb_set_private(sb, NULL);
}

static void nv_cancel(struct uvfs_sb *sb)
{
	struct nsb *s = S(sb);

	if (s)
		nconn_cancel(s->nc);
}

static int nv_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, s->root);

	return n3_fsstat(&c, &fh, st);
}

static int nv_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct nsb *s = S(sb);
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	if (n) {
		lru_del_locked(s, n);
		n->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!n)
		return -ESTALE; /* never looked up, or evicted long ago */
	*priv = n;
	return 0;
}

static void nv_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct nsb *s = S(sb);
	struct node *n = priv, *evict = NULL;

	pthread_mutex_lock(&s->lock);
	if (--n->refs == 0) {
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (evict)
		node_free(evict);
}

/* ---- attributes --------------------------------------------------------- */

static int nv_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct n3 c = ctx_of(s);
	int r = node_getattr(s, &c, n, st, false);

	if (r == 0) {
		/* a file unlinked while open has lost the name it was
		 * unlinked by: its ".nfsXXXX" name is ours, not the user's */
		pthread_mutex_lock(&s->lock);
		if (n->silly && st->st_nlink > 0)
			st->st_nlink--;
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

static int nv_setattr(struct uvfs_sb *sb, void *priv,
		       const struct uvfs_setattr *sa)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, n);
	struct n3attr after = { 0 };
	int r;

	if (sa->valid == 0)
		return 0;
	r = n3_setattr(&c, &fh, sa, &after);
	if (r)
		return r;
	pthread_mutex_lock(&s->lock);
	n->st_valid = false;
	pthread_mutex_unlock(&s->lock);
	node_attr(s, n, &after);
	return 0;
}

/* ---- names -------------------------------------------------------------- */

/* Looks name up in dir and installs what it names. */
static int lookup_install(struct nsb *s, struct n3 *c, struct node *d,
			  const char *name, uint64_t *ino, struct fh3 *fhp,
			  mode_t *type)
{
	struct fh3 dfh = node_fh(s, d), fh;
	struct n3attr a = { 0 };
	int r;

	r = n3_lookup(c, &dfh, name, &fh, &a);
	if (r)
		return r;
	if (!a.valid) {
		r = n3_getattr(c, &fh, &a.st);
		if (r)
			return r;
	}
	if (fhp)
		*fhp = fh;
	if (type)
		*type = a.st.st_mode & S_IFMT;
	return node_install(s, &fh, &a.st, ino);
}

/* The identity reported to the core: the fileid and the type (NFSv3 has
 * no generation the client can see: a reused fileid of another type is
 * caught by the type, the same type by the handle going stale). */
static int nv_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		     struct uvfs_ident *id)
{
	struct nsb *s = S(sb);
	struct node *d = dir;
	int r;

	if (d == s->root && strcmp(name, "..") == 0) {
		id->ino = d->ino;
		id->gen = 0;
		id->type = S_IFDIR;
		return 0;
	}
	struct n3 c = ctx_of(s);
	uint64_t gen = 0;
	id->gen = 0;
	if (s->cache == CACHE_LOOSE) {
		/* a name this mount saw, with nothing changed since by it */
		uint64_t ino;
		mode_t type;
		pthread_mutex_lock(&s->lock);
		gen = s->gen;
		pthread_mutex_unlock(&s->lock);
		if (names_get(&s->names, d->ino, name, gen, &ino, &type)) {
			pthread_mutex_lock(&s->lock);
			struct node *n = node_find_locked(s, ino);
			bool ok = n && !n->stale;
			pthread_mutex_unlock(&s->lock);
			if (ok) {
				id->ino = ino;
				id->type = type;
				return 0;
			}
		}
	}
	r = lookup_install(s, &c, d, name, &id->ino, NULL, &id->type);
	if (r == 0 && s->cache == CACHE_LOOSE)
		names_put(&s->names, d->ino, name, id->ino, id->type, gen);
	/* a directory removed meanwhile holds no names */
	return r == -ESTALE ? -ENOENT : r;
}

static int nv_create(struct uvfs_sb *sb, void *dir, const char *name,
		      mode_t mode, dev_t rdev, const char *target,
		      const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	uint64_t *ino = &id->ino;
	struct nsb *s = S(sb);
	struct node *d = dir;
	struct n3 c = ctx_of(s);
	struct fh3 dfh = node_fh(s, d), fh;
	struct n3attr a = { 0 };
	struct stat ds;
	uid_t uid = cred ? cred->uid : 0;
	gid_t gid = cred ? cred->gid : 0;
	int r;

	/* the owner is the caller; a setgid directory gives its group (and
	 * its setgid bit to subdirectories), as Linux file systems do */
	r = node_getattr(s, &c, d, &ds, false);
	if (r)
		return r == -ESTALE ? -ENOENT : r;
	if (ds.st_mode & S_ISGID) {
		gid = ds.st_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	if (c.cred && c.cred->uid != 0 && cred && cred->uid == c.cred->uid) {
		/* the request goes as the owner: the server makes the file
		 * its, with its group (or a setgid directory's) */
		uid = (uid_t)-1;
		gid = (gid_t)-1;
	}
	struct n3attr da = { 0 };
	r = n3_create(&c, &dfh, name, mode, uid, gid, rdev, target, &fh, &a,
		      &da);
	invalidate_all(s);      /* the directory changed */
	node_attr(s, d, &da);   /* ... and the reply says how */
	if (r)
		return r == -ESTALE ? -ENOENT : r;
	if (!a.valid) {
		r = n3_getattr(&c, &fh, &a.st);
		if (r)
			return r;
	}
	id->gen = 0;
	id->type = a.st.st_mode & S_IFMT;
	r = node_install(s, &fh, &a.st, ino);
	if (r == 0 && S_ISREG(mode)) {
		/* open(O_CREAT) opens it next: the attributes the CREATE
		 * just returned are as fresh as a GETATTR would be */
		pthread_mutex_lock(&s->lock);
		struct node *n = node_find_locked(s, *ino);
		if (n)
			n->created_ns = now_ns();
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

static int nv_link(struct uvfs_sb *sb, void *dir, const char *name,
		    void *priv)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_of(s);
	struct fh3 dfh = node_fh(s, dir), fh = node_fh(s, priv);
	struct n3attr a = { 0 };
	int r;

	r = n3_link(&c, &fh, &dfh, name, &a);
	invalidate_all(s);
	if (r == 0)
		node_attr(s, priv, &a);
	return r;
}

/* If name in dir is a file open through this mount, renames it to a new
 * ".nfsXXXX" name in the same directory and keeps that name in its node,
 * to be removed at the last close (not when same_as_dir_name in same_dir
 * names the same file: a rename between two names of one file).  Returns 1 if it did, 0 if the name is
 * not an open file, or a negative errno. */
static int silly_rename(struct nsb *s, struct n3 *c, struct node *d,
			const char *name, const char *same_as_dir_name,
			struct node *same_dir)
{
	struct fh3 dfh, fh;
	struct node *n;
	uint64_t ino;
	char silly[64];
	int r;

	pthread_mutex_lock(&s->lock);
	r = s->nopen;
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		return 0;       /* nothing is open: no lookup needed */
	r = lookup_install(s, c, d, name, &ino, &fh, NULL);
	if (r)
		return r == -ENOENT ? 0 : r;
	if (same_as_dir_name) {
		/* rename onto another name of the same file does nothing:
		 * nothing to hide */
		uint64_t src;
		r = lookup_install(s, c, same_dir, same_as_dir_name, &src,
				   NULL, NULL);
		if (r)
			return r;
		if (src == ino)
			return 0;
	}
	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	/* only its last name: with another link left it stays reachable */
	bool open = n && n->opens > 0 && !n->silly && !S_ISDIR(n->type) &&
		    n->st_valid && n->st.st_nlink <= 1;
	unsigned seq = ++s->silly_seq;
	pthread_mutex_unlock(&s->lock);
	if (!open)
		return 0;
	dfh = node_fh(s, d);
	snprintf(silly, sizeof(silly), ".nfs%016llx%08x",
		 (unsigned long long)ino, seq);
	r = n3_rename(c, &dfh, name, &dfh, silly);
	invalidate_all(s);
	if (r)
		return r;
	char *dup = sys_strdup(silly);
	pthread_mutex_lock(&s->lock);
	if (n->opens > 0 && !n->silly && dup) {
		n->silly = dup;
		n->silly_dir = dfh;
		n->silly_has_cred = c->cred != NULL;
		if (c->cred)
			n->silly_cred = *c->cred;
		dup = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (dup) {
		/* closed meanwhile (or out of memory): remove it now */
		free(dup);
		n3_remove(c, &dfh, silly, false, NULL);
	}
	return 1;
}

static int nv_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		      int isdir)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_of(s);
	struct fh3 dfh = node_fh(s, dir);
	int r;

	if (!isdir) {
		r = silly_rename(s, &c, dir, name, NULL, NULL);
		if (r)
			return r < 0 ? r : 0;
	}
	struct n3attr da = { 0 };
	r = n3_remove(&c, &dfh, name, isdir, &da);
	invalidate_all(s);
	node_attr(s, dir, &da);
	if (r == -EEXIST)
		r = -ENOTEMPTY; /* RFC 1813 allows either */
	return r;
}

static int nv_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		      void *ndir, const char *nname, unsigned flags)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_of(s);
	struct fh3 ofh = node_fh(s, odir), nfh = node_fh(s, ndir), tfh;
	struct n3attr ta = { 0 };
	int r;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL; /* NFSv3 has no exchange */
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	if (flags & RENAME_NOREPLACE) {
		/* not atomic: NFSv3 has no such flag (docs/nfs.md) */
		r = n3_lookup(&c, &nfh, nname, &tfh, &ta);
		if (r == 0)
			return -EEXIST;
		if (r != -ENOENT)
			return r;
	} else {
		/* a target open here is kept reachable (silly rename) */
		r = silly_rename(s, &c, ndir, nname, oname, odir);
		if (r < 0)
			return r;
	}
	r = n3_rename(&c, &ofh, oname, &nfh, nname);
	invalidate_all(s);
	if (r == -EEXIST)
		r = -ENOTEMPTY;
	return r;
}

static ssize_t nv_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			    size_t size)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, priv);

	return n3_readlink(&c, &fh, buf, size);
}

/* ---- open files --------------------------------------------------------- */

static int nv_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct handle *h;
	struct stat st;
	int r;

	/* close-to-open: what others wrote before their close is seen; but
	 * a file this client created a moment ago (open(O_CREAT): the
	 * CREATE's reply carried its attributes) needs no second look */
	struct n3 c = ctx_of(s);
	bool fresh;
	pthread_mutex_lock(&s->lock);
	fresh = n->created_ns && n->st_valid &&
		now_ns() - n->created_ns < CREATE_FRESH_NS;
	n->created_ns = 0;
	st = n->st;
	pthread_mutex_unlock(&s->lock);
	r = fresh ? 0 : node_getattr(s, &c, n, &st, s->cache != CACHE_LOOSE);
	if (r)
		return r;
	h = sys_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->n = n;
	h->flags = flags;
	if (c.cred) {
		h->has_cred = true;
		h->cred = *c.cred;
	}
	if (!S_ISDIR(st.st_mode)) {
		pthread_mutex_lock(&s->lock);
		n->opens++;
		s->nopen++;
		pthread_mutex_unlock(&s->lock);
	}
	*fh = h;
	return 0;
}

/* No waiting here: the last release does no I/O in its caller.  What is
 * left to do (commit, remove a silly-renamed file) is sent, not waited
 * for. */
static void nv_release(struct uvfs_sb *sb, void *priv, void *fhp)
{
	struct nsb *s = S(sb);
	struct node *n = priv;
	struct handle *h = fhp;
	struct fh3 fh, sdir;
	char *silly = NULL;
	bool commit = false, scred = false;
	struct uvfs_cred sc = { 0 };

	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	if (!S_ISDIR(n->type) && n->opens > 0) {
		n->opens--;
		s->nopen--;
		if (n->opens == 0) {
			commit = n->dirty && !n->silly;
			n->dirty = false;
			silly = n->silly;
			n->silly = NULL;
			sdir = n->silly_dir;
			scred = n->silly_has_cred;
			sc = n->silly_cred;
		}
	}
	fh = n->fh;
	pthread_mutex_unlock(&s->lock);
	/* work for someone done after them: as they were (the opener's, the
	 * unlinker's), not as whoever runs the last release */
	if (commit)
		n3_commit_async(s->nc, h->has_cred ? &h->cred : NULL, &fh);
	if (silly) {
		n3_remove_async(s->nc, scred ? &sc : NULL, &sdir, silly);
		free(silly);
	}
	n3_dents_free(h->rest);
	free(h);
}

/* Requests in flight for one read or write: enough to fill a link, at
 * most WINDOW_BYTES. */
static unsigned window_of(uint32_t piece)
{
	unsigned w = WINDOW_BYTES / piece;

	return w < 1 ? 1 : w > WINDOW_MAX ? WINDOW_MAX : w;
}

static ssize_t nv_read(struct uvfs_sb *sb, void *priv, void *fhp, void *buf,
		       size_t n, off_t off)
{
	struct nsb *s = S(sb);
	struct node *nd = priv;
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, nd);
	struct n3attr a = { 0 };
	ssize_t r;

	(void)fhp;
	if (off < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	r = n3_read_many(&c, &fh, buf, n, (uint64_t)off, s->rtmax,
			 window_of(s->rtmax), &a);
	if (r >= 0)
		node_attr(s, nd, &a);
	return r;
}

static ssize_t nv_write(struct uvfs_sb *sb, void *priv, void *fhp,
			const void *buf, size_t n, off_t *off)
{
	struct nsb *s = S(sb);
	struct node *nd = priv;
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, nd);
	struct n3attr a = { 0 };
	uint64_t pos, verf = 0;
	bool mixed = false;
	ssize_t r;

	(void)fhp;
	if (*off < 0) {
		/* O_APPEND: at the size the server has now (NFS cannot
		 * append atomically) */
		struct stat st;
		int e = node_getattr(s, &c, nd, &st,
				     s->cache != CACHE_LOOSE);
		if (e)
			return e;
		pos = (uint64_t)st.st_size;
	} else {
		pos = (uint64_t)*off;
	}
	if (n == 0) {
		*off = (off_t)pos;
		return 0;
	}
	r = n3_write_many(&c, &fh, buf, n, pos, s->wtmax, window_of(s->wtmax),
			  &verf, &mixed, &a);
	if (r <= 0)
		return r;
	pthread_mutex_lock(&s->lock);
	if (mixed || (nd->dirty && nd->wverf != verf))
		nd->verf_lost = true;   /* the server restarted meanwhile */
	nd->dirty = true;
	nd->wverf = verf;
	pthread_mutex_unlock(&s->lock);
	node_attr(s, nd, &a);
	*off = (off_t)(pos + (uint64_t)r);
	return r;
}

static int nv_fsync(struct uvfs_sb *sb, void *priv, void *fhp, int datasync)
{
	struct nsb *s = S(sb);
	struct node *nd = priv;
	struct n3 c = ctx_of(s);
	struct fh3 fh = node_fh(s, nd);
	uint64_t verf = 0, wverf;
	bool dirty, lost;
	int r;

	(void)fhp;
	(void)datasync;
	pthread_mutex_lock(&s->lock);
	dirty = nd->dirty;
	wverf = nd->wverf;
	pthread_mutex_unlock(&s->lock);
	if (!dirty)
		return 0;
	r = n3_commit(&c, &fh, &verf);
	if (r)
		return r;
	pthread_mutex_lock(&s->lock);
	lost = nd->verf_lost || verf != wverf;
	if (nd->wverf == wverf) {
		nd->dirty = false;
		nd->verf_lost = false;
	}
	pthread_mutex_unlock(&s->lock);
	/* unstable data the server may have dropped in a restart: say so */
	return lost ? -EIO : 0;
}

static int nv_readdir(struct uvfs_sb *sb, void *priv, void *fhp,
		       uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct nsb *s = S(sb);
	struct node *d = priv;
	struct handle *h = fhp;
	struct n3 c = ctx_of(s);
	struct fh3 dfh = node_fh(s, d);
	uint64_t verf;
	int r = 0;

	uint64_t gen;
	pthread_mutex_lock(&s->lock);
	verf = cookie ? d->cverf : 0;
	gen = s->gen;
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		struct n3dent *list = NULL, **pp;
		bool eof = false, stop = false;

		if (h && h->rest && h->rest_cookie == cookie && cookie) {
			/* what the last reply had beyond where the caller
			 * stopped: no request */
			list = h->rest;
			eof = h->rest_eof;
			h->rest = NULL;
		} else {
			if (h) {
				n3_dents_free(h->rest);
				h->rest = NULL;
			}
			r = n3_readdirplus(&c, &dfh, cookie, &verf, s->dtmax,
					   &list, &eof);
			if (r == -ESTALE) {
				r = 0;  /* removed: it lists nothing */
				break;
			}
			if (r)
				break;
			pthread_mutex_lock(&s->lock);
			d->cverf = verf;
			pthread_mutex_unlock(&s->lock);
		}
		bool empty = list == NULL;
		for (pp = &list; *pp; pp = &(*pp)->next) {
			struct n3dent *e = *pp;
			uint64_t ino = e->fileid;
			if (strcmp(e->name, "..") == 0 && d == s->root)
				ino = d->ino;   /* the root's parent is itself */
			else if (e->has_fh && e->attr.valid &&
				 strcmp(e->name, ".") != 0 &&
				 strcmp(e->name, "..") != 0 &&
				 node_install(s, &e->fh, &e->attr.st, &ino) == 0 &&
				 s->cache == CACHE_LOOSE)
				/* cache=loose: the listing names them */
				names_put(&s->names, d->ino, e->name, ino,
					  e->attr.st.st_mode & S_IFMT, gen);
			if (fill(arg, e->name, ino, e->dtype, e->cookie)) {
				stop = true;
				if (h && cookie) {
					/* keep the rest for the next call,
					 * which resumes at cookie */
					h->rest = e;
					h->rest_cookie = cookie;
					h->rest_eof = eof;
					*pp = NULL;
				}
				break;
			}
			cookie = e->cookie;
		}
		n3_dents_free(list);
		if (stop || eof)
			break;
		if (empty) {
			r = -EIO;       /* no entries, no end: a broken server */
			break;
		}
	}
	return r;
}

/* The options parse_opts() takes, for the core's check and `uvfs mount
 * --help` (docs/nfs.md has each one's meaning). */
static const struct uvfs_fsopt nfs_fsopts[] = {
	{ "vers", UVFS_FSOPT_NUMBER, "N: the NFS version (3, the only one)" },
	{ "nfsvers", UVFS_FSOPT_NUMBER, "N: the same as vers=" },
	{ "timeout", UVFS_FSOPT_NUMBER,
	  "MS: a call's deadline (10000; 100..3600000)" },
	{ "actimeo", UVFS_FSOPT_NUMBER,
	  "S: attribute cache lifetime in seconds (3; 0..3600)" },
	{ "cache", UVFS_FSOPT_STRING, "MODE: none (every getattr asks), cto "
	  "(the default: attributes for actimeo=, again at each open) or "
	  "loose (attributes and names until this mount changes them: one "
	  "writer only)" },
	{ "ac", UVFS_FSOPT_FLAG, "cache attributes for actimeo= (the default)" },
	{ "noac", UVFS_FSOPT_FLAG, "no attribute cache (actimeo=0)" },
	{ "hard", UVFS_FSOPT_FLAG,
	  "calls wait out an unreachable server; lost calls are sent again" },
	{ "soft", UVFS_FSOPT_FLAG,
	  "calls to an unreachable server fail fast (the default)" },
	{ "restarts", UVFS_FSOPT_NUMBER,
	  "N: connections lost within window= before the mount is dead "
	  "(no limit)" },
	{ "window", UVFS_FSOPT_NUMBER, "MS: the window restarts= counts in "
	  "(60000)" },
	{ NULL, 0, NULL },
};

const struct uvfs_fstype_ops uvfs_nfs_ops = {
	.name = "nfs",
	.flags = UVFS_FS_NO_NAMECACHE,
	.options = nfs_fsopts,
	.source_help = "SOURCE: nfs://HOST/EXPORT or HOST:/EXPORT (NFSv3 over "
		       "TCP; MOUNT and NFS found through HOST's portmapper)",
	.mount = nv_mount,
	.unmount = nv_unmount,
	.cancel = nv_cancel,
	.statfs = nv_statfs,
	.vget = nv_vget,
	.reclaim = nv_reclaim,
	.getattr = nv_getattr,
	.setattr = nv_setattr,
	.lookup = nv_lookup,
	.create = nv_create,
	.link = nv_link,
	.unlink = nv_unlink,
	.rename = nv_rename,
	.readlink = nv_readlink,
	.open = nv_open,
	.release = nv_release,
	.read = nv_read,
	.write = nv_write,
	.fsync = nv_fsync,
	.readdir = nv_readdir,
};

int uvfs_nfs_register(struct uvfs *u)
{
	int r = uvfs_fstype_register(u, &uvfs_nfs_ops);

	return r == -EEXIST ? 0 : r;
}

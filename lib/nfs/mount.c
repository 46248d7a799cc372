/*
 * mount.c - the NFS driver's mount (nfs_i.h): options and source, MOUNT
 * v3 and the connection, unmount and forced unmount, vget and reclaim,
 * the check of open files after a reconnect, and the directory of live
 * mounts that uvfs_nfs_info searches.
 *
 * Owns struct nsb (nv_mount to nv_unmount) and the directory (dir_list,
 * dir_lock: a list of the live superblocks and their sources; nothing
 * else looks at it; taken before a session's lock, never with s->lock).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include <uvfs/nfs.h>

#include "nfs_i.h"
#include "sys.h"

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
		out->rewrites = atomic_load(&s->rewrites);
		out->commits_behind = atomic_load(&s->commits_behind);
		out->commit_waits = atomic_load(&s->commit_waits);
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
	bool root;
};

int nv_rebuild(void *arg)
{
	struct nsb *s = arg;
	struct open_fh *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	s->gen++;               /* every cached attribute is old now */
	uint64_t cgen = ++s->cgen;      /* and every handle unchecked */
	struct hall a;
	for (struct hlink *l = hall_first(&s->table, &a); l;
	     l = hall_next(&s->table, &a)) {
		struct node *nd = htab_entry(l, struct node, hl);
		if (nd != s->root && nd->opens == 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct open_fh *nv = sys_realloc(v, nc * sizeof(*v));
			if (!nv) {
				/* every open file is checked, or this
				 * attempt fails (and the supervisor tries
				 * again) */
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = (struct open_fh){ nd->ino, nd->type, nd->fh,
					   nd == s->root };
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct n3 c = ctx_of(s);
		struct stat st;
		c.flags = NC_INTERNAL;
		bool answered = false;
		r = n3_getattr_answered(&c, &v[i].fh, &st, &answered);
		if (r == -ESTALE) {
			r = 0;          /* removed meanwhile: stale as ever */
			continue;
		}
		if (r && (!answered || v[i].root))
			break;          /* this attempt failed (the root's
					 * error: the mount has no use without
					 * it; asked again at the next) */
		if (r == 0 && st.st_ino == v[i].ino &&
		    (!v[i].type || (st.st_mode & S_IFMT) == v[i].type)) {
			pthread_mutex_lock(&s->lock);
			struct node *nd = nn_find_locked(s, v[i].ino);
			if (nd && fh3_eq(&nd->fh, &v[i].fh) && nd->vgen < cgen)
				nd->vgen = cgen;        /* checked */
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		/* another file, or the server answered with an error (an
		 * NFS3ERR_IO, a type no file has): who the file is now is
		 * not known, and it may be another.  Stale, as Linux marks
		 * an inode whose attributes say another fileid; the next
		 * attempts would be answered so again, and the mount never
		 * came back */
		r = 0;
		atomic_fetch_add(&s->stale, 1);
		pthread_mutex_lock(&s->lock);
		struct node *nd = nn_find_locked(s, v[i].ino);
		if (nd && fh3_eq(&nd->fh, &v[i].fh))
			atomic_store(&nd->stale, true);
		pthread_mutex_unlock(&s->lock);
	}
	free(v);
	return r;
}

/* ---- mount ------------------------------------------------------------- */

static void nsb_free(struct nsb *s)
{
	/* the root, if its fileid came with another handle meanwhile, is out
	 * of the table (nn_install) and held by the mount alone */
	struct node *oldroot = s->root && s->root->replaced ? s->root : NULL;

	/* the REMOVEs of silly-renamed files still pending get until the
	 * mount's timeout (none after a forced unmount) */
	nn_silly_fini(s);
	free(s->source);
	/* writes still in flight end on the connection (at once after a
	 * forced unmount), before it goes */
	struct hall a;
	for (struct hlink *l = hall_first(&s->table, &a); l;
	     l = hall_next(&s->table, &a))
		nw_fini(htab_entry(l, struct node, hl));
	if (oldroot)
		nw_fini(oldroot);
	if (s->nc)
		nconn_free(s->nc);
	if (oldroot)
		nn_free(oldroot);
	for (struct hlink *l = hall_first(&s->table, &a); l;
	     l = hall_next(&s->table, &a))
		nn_free(htab_entry(l, struct node, hl));
	htab_fini(&s->table);
	nnames_fini(&s->names);
	pthread_cond_destroy(&s->rm_cv);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int nv_mount(struct uvfs_sb *sb, const char *source,
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
	if (htab_init(&s->table)) {
		free(s);
		return -ENOMEM;
	}
	if (nnames_init(&s->names)) {
		htab_fini(&s->table);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->rm_cv, NULL);
	nn_silly_init(s);
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
	/* names as long as attributes (cto: Linux's dentries live while
	 * their directory's attributes do; noac: none) */
	s->names_ns = s->ac_ns;
	s->hard = o.hard;
	struct nc_opts no = {
		.timeout_ms = o.timeout_ms, .hard = o.hard,
		.restarts = o.restarts, .window_ms = o.window_ms,
		.source = source, .rebuild = nv_rebuild, .rebuild_arg = s,
	};
	r = nconn_new(host, port, &no, &s->nc);
	if (r) {
		nsb_free(s);
		return r == -ECONNREFUSED ? -EHOSTUNREACH : r;
	}
	struct n3 c = ctx_of(s);
	uint32_t dtpref;        /* READDIRPLUS asks DIR_MAX whatever it is */
	uint64_t agen = nn_attr_gen(s);
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
	r = nn_install(s, &rootfh, &st, agen, root_ino, NULL);
	if (r) {
		nsb_free(s);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	s->root = nn_find_locked(s, *root_ino);
	nn_lru_del_locked(s, s->root);
	s->root->refs = 1;      /* the mount's own: never reclaimed */
	pthread_mutex_unlock(&s->lock);
	s->sb = sb;
	uvfs_sb_set_private(sb, s);
	uvfs_sb_set_flushes(sb);        /* writes go behind: close waits */
	dir_add(s);
	return 0;
}

void nv_unmount(struct uvfs_sb *sb)
{
	struct nsb *s = S(sb);

	if (s) {
		dir_del(s);
		nsb_free(s);
	}
	uvfs_sb_set_private(sb, NULL);
}

void nv_cancel(struct uvfs_sb *sb)
{
	struct nsb *s = S(sb);

	if (s) {
		nn_silly_cancel(s);     /* nothing more sent, waiters woken */
		nconn_cancel(s->nc);
	}
}

int nv_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	struct nsb *s = S(sb);
	struct n3 c = ctx_on(s, s->root);
	struct fh3 fh;
	int r = nn_fh(s, s->root, &fh);

	return r ? r : n3_fsstat(&c, &fh, st);
}

int nv_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct nsb *s = S(sb);
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = nn_find_locked(s, ino);
	if (n) {
		nn_lru_del_locked(s, n);
		n->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!n)
		return -ESTALE; /* never looked up, or evicted long ago */
	*priv = n;
	return 0;
}

void nv_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct nsb *s = S(sb);
	struct node *n = priv, *evict = NULL;

	pthread_mutex_lock(&s->lock);
	if (n->replaced) {
		/* out of the table: another file has its fileid */
		if (--n->refs == 0)
			evict = n;
	} else if (--n->refs == 0) {
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			nn_lru_del_locked(s, evict);
			nn_hash_del_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (evict)
		nn_free(evict);
}

/* The options parse_opts() takes, for the core's check and `uvfs mount
 * --help` (docs/nfs.md has each one's meaning). */
const struct uvfs_fsopt nv_fsopts[] = {
	{ "vers", UVFS_FSOPT_NUMBER, "N: the NFS version (3, the only one)" },
	{ "nfsvers", UVFS_FSOPT_NUMBER, "N: the same as vers=" },
	{ "timeout", UVFS_FSOPT_NUMBER,
	  "MS: a call's deadline (10000; 100..3600000)" },
	{ "actimeo", UVFS_FSOPT_NUMBER,
	  "S: attribute and name cache lifetime in seconds (3; 0..3600)" },
	{ "cache", UVFS_FSOPT_STRING, "MODE: none (every getattr asks), cto "
	  "(the default: attributes and names for actimeo=, attributes "
	  "again at each open) or "
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

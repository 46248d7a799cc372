/*
 * mount.c - the 9P2000.L client driver's file-system types ("9p",
 * "hostfs", "diod"): their options, mount (connect or spawn the server,
 * Tversion, Tattach, the root node) and unmount, forced-unmount
 * cancellation, statfs, vget and reclaim, and the operations vector,
 * each operation under one call deadline.  The nodes are client.c's,
 * their fids fids.c's, their names names.c's, what is kept of the server
 * cache.c's, the vnode operations vnops.c's, io.c's and xattr.c's.
 *
 * Owns struct p9sb (mount to unmount): made and attached by
 * mount_common(), freed by p9_free() at unmount (every handle and node
 * with it, their fids clunked within one short deadline, then the
 * session and the server process).
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
#define WBWINDOW_DEFAULT (4L << 20) /* written behind per file: 4 MiB
				 * fills a 10 ms round trip at ~400 MB/s;
				 * errors reach fsync and close
				 * (docs/9p-client.md, "Bulk I/O") */
#define RECONNECTS_DEFAULT 30   /* 9p over an address: attempts within the
				 * window (backing off to 1 s: a server
				 * gone for ~24 s makes the mount dead) */

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

void caps_probe(struct p9sb *s)
{
	struct p9_msg u = { .type = P9_TUNLINKAT };
	struct p9_msg m = { .type = P9_TRENAMEAT };

	/* "." as the name: refused by every server that has the call
	 * (rmdir and rename of "." are EINVAL and EBUSY; hostfs refuses
	 * the name), EOPNOTSUPP from one that has not (diod 1.0) */
	u.tunlinkat.dirfid = 0;
	u.tunlinkat.name = p9_str(".");
	u.tunlinkat.flags = 0x200;      /* AT_REMOVEDIR */
	m.trenameat.olddirfid = m.trenameat.newdirfid = 0;
	m.trenameat.oldname = m.trenameat.newname = p9_str(".");
	rs_batch_begin(&s->c.s);
	bool a = rpc_start(&s->c, &u, P9_RUNLINKAT, &s->caps_unl) == 0;
	bool b = rpc_start(&s->c, &m, P9_RRENAMEAT, &s->caps_ren) == 0;
	rs_batch_end(&s->c.s);
	if (!a)
		s->caps_unl.rq = NULL;
	if (!b)
		s->caps_ren.rq = NULL;
	atomic_store(&s->caps_out, a || b);
}

static void caps_take(struct p9sb *s, struct rpc_async *a, atomic_bool *no)
{
	struct reply rp;
	int r;

	if (!a->rq)
		return;
	r = rpc_finish(&s->c, a, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);        /* (done something to "."?) */
	if (r == -EOPNOTSUPP || r == -ENOSYS)
		atomic_store(no, true);
	/* anything else, a lost session too: as if never asked (the
	 * first real call learns it) */
}

void caps_settle(struct p9sb *s)
{
	if (!atomic_load(&s->caps_out))
		return;
	pthread_mutex_lock(&s->caps_lock);
	if (atomic_load(&s->caps_out)) {
		caps_take(s, &s->caps_unl, &s->no_unlinkat);
		caps_take(s, &s->caps_ren, &s->no_renameat);
		atomic_store(&s->caps_out, false);
	}
	pthread_mutex_unlock(&s->caps_lock);
}

void caps_abandon(struct p9sb *s)
{
	pthread_mutex_lock(&s->caps_lock);
	if (atomic_load(&s->caps_out)) {
		rpc_abandon(&s->c, &s->caps_unl, NULL);   /* fid 0: held for good */
		rpc_abandon(&s->c, &s->caps_ren, NULL);
		atomic_store(&s->caps_out, false);
	}
	pthread_mutex_unlock(&s->caps_lock);
}

static void p9_free(struct p9sb *s)
{
	int ms = s->c.s.timeout_ms < 1000 ? s->c.s.timeout_ms : 1000;
	struct handle *h, *hn;
	struct timespec dl;

	sup_stop(&s->c);
	caps_abandon(s);
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
	struct hall a;
	for (struct hlink *l = hall_first(&s->hash, &a); l;
	     l = hall_next(&s->hash, &a))
		node_free(s, htab_entry(l, struct node, hl));
	htab_fini(&s->hash);
	htab_fini(&s->nhash);
	deadline_in(&dl, ms);
	clunk_drain_by(&s->c, &dl);
	if (s->c.sup) {
		/* the server exits at EOF; a hung one is killed after ms */
		conn_fini_wait(&s->c, ms);
		session_teardown(&s->c, ms);
	}
	conn_fini(&s->c, ms);
	sup_free(s->c.sup);
	pthread_cond_destroy(&s->walk_cv);
	pthread_mutex_destroy(&s->caps_lock);
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
	if (htab_init(&s->hash) || htab_init(&s->nhash)) {
		htab_fini(&s->hash);
		htab_fini(&s->nhash);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->caps_lock, NULL);
	cond_init_monotonic(&s->walk_cv);
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
		pthread_cond_destroy(&s->walk_cv);
		pthread_mutex_destroy(&s->caps_lock);
		pthread_mutex_destroy(&s->lock);
		htab_fini(&s->hash);
		htab_fini(&s->nhash);
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
	r = node_install(s, ino, 0, false, 0, NULL, 0, false);
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
	caps_probe(s);
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
		n->vnodes++;
		n->pin_ns = 0;  /* taken: its create's or lookup's pin ends */
	}
	pthread_mutex_unlock(&s->lock);
	if (!n)
		return -ESTALE; /* not walked to (or evicted long ago) */
	*priv = n;
	return 0;
}

static void p9_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;

	pthread_mutex_lock(&s->lock);
	n->vnodes--;
	pthread_mutex_unlock(&s->lock);
	node_rele(s, n);
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
	  "BYTES: writes sent behind per file at most (4194304; 0: "    \
	  "every write waits; errors reach fsync and close)" },         \
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
		.revoke = p9_revoke,                                    \
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

/*
 * recover.c - the recovery policy of a supervised 9P session: types
 * "hostfs", "diod", and "9p" reconnecting (docs/recovery.md).
 *
 * Owns struct sup (one per supervised mount, from mount to unmount: the
 * generic supervisor of lib/remote/supervise.c, whose thread runs from
 * sup_start to sup_stop, with 9P's hooks: spawn or connect, Tversion,
 * re-walk) and the re-walk threads of one recovery.
 *
 * hostfs and diod mounts spawn the server on a socketpair (its stdin and
 * stdout) and keep its pid and a pidfd.  A "9p" mount of a unix: or tcp:
 * source (unless noreconnect) has the same supervisor with nothing to
 * spawn: a session is a connection to the address, with no pid and no
 * pidfd.  The reader of each session polls the socket and the pidfd; EOF,
 * a read or write error, lost framing or the pidfd turning readable is
 * conn_lost(): the waiters are completed as lost, and the supervisor
 * thread (one per mount) takes over:
 *
 *   join the old reader, close the socket, SIGKILL + reap the old server
 *   (if we spawned one);
 *   restart limit (restarts= within window=): past it conn_kill (dead);
 *   back off (10 ms, doubling to 1 s while attempts fail);
 *   spawn, or connect to the address again; Tversion (same msize), start a
 *   reader, Tattach fid 0, walk every registered fid again from fid 0
 *   under its own number, Tlopen the ones that were open, compare qids
 *   (path and type): a mismatch or a failed walk marks the fid stale (its
 *   requests -ESTALE);
 *   UP again: the waiting requests go (replays among them).
 *
 * On a reconnecting mount a protocol violation is no loss but the end:
 * lost framing (proto_kill) or a Tversion answered otherwise than at mount
 * makes the mount dead at once.  We cannot restart that server, and the
 * one we would reach again is the one that broke the protocol.
 *
 * Only the supervisor sends while recovering (RPC_INTERNAL); every other
 * request waits on the state's condition with its deadline; clunks wait
 * in the queue.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "conn.h"
#include "sys.h"

int spawn_server(struct conn *c)
{
	struct sup *sp = c->sup;
	/* diod on the inherited socket (long options: its -w is ambiguous),
	 * no authentication, its log out of our stderr; all users squashed
	 * when we are not root (it could not switch users anyway) */
	char *hostfs_argv[] = { sp->server, sp->source, NULL };
	char *diod_argv[] = { sp->server, "-f", "-n", "--rfdno", "0",
			      "--wfdno", "0", "-e", sp->source, "-L",
			      "/dev/null", geteuid() ? "-S" : NULL, NULL };
	pid_t pid = 0;
	int fd = -1, pidfd = -1, r;

	r = rproc_spawn(sp->diod ? diod_argv : hostfs_argv, &pid, &fd,
			&pidfd);
	if (r && fd < 0)
		return r;
	rs_super_set_link(&sp->sv, (struct rt_link){ .fd_r = fd, .fd_w = fd,
						     .sock = true },
			  pid, pidfd);
	return r;
}

/* Reconnect: the address again (the connect waits at most the request
 * timeout, and not at all once the connection is killed).  No pid, no
 * pidfd: the session ends by EOF or an error alone. */
static int connect_server(struct conn *c, int timeout_ms)
{
	struct sup *sp = c->sup;
	struct rt_link l;
	int r = rt_connect(sp->source, timeout_ms, c->s.evfd, &c->s.tcp, &l);

	if (r)
		return r;
	rs_super_set_link(&sp->sv, l, 0, -1);
	return 0;
}

/* Supervisor: a new session (c's socket).  0, or why none: nothing of it
 * is left to lose then (session_teardown still closes what there is). */
static int session_start(struct conn *c, int timeout_ms)
{
	return c->sup->reconnect ? connect_server(c, timeout_ms) :
	       spawn_server(c);
}

/* The server of session gen broke the protocol and we cannot restart it:
 * the mount is dead (session_end). */
void proto_kill(struct conn *c, uint64_t gen)
{
	bool now;

	pthread_mutex_lock(&c->s.lock);
	now = c->s.rs.state != RS_DEAD && atomic_load(&c->s.sgen) == gen;
	pthread_mutex_unlock(&c->s.lock);
	if (!now)
		return;
	fprintf(stderr, "uvfs: %s %s: protocol violation (framing lost): "
		"the mount is dead\n", c->sup->type, c->sup->source);
	conn_kill(c);
}

/* Supervisor, after a loss (or at unmount): no reader, no socket, no
 * server left of the old session (with reconnect there is no server of
 * ours: pid 0, no pidfd). */
void session_teardown(struct conn *c, int grace_ms)
{
	rs_super_teardown(&c->sup->sv, grace_ms);
}

/* => c->s.lock held */
static void mark_stale_locked(struct conn *c, uint32_t fid)
{
	struct fident *e = reg_get(c, fid);

	if (e && !e->stale) {
		e->stale = true;
		c->sup->stale_fids++;
	}
}

struct snap {
	uint32_t fid;
	char *path;
	struct p9_qid qid;
	int32_t oflags;
	bool unknown;
	struct uvfs_lockset *locks;     /* held on it: taken again (lock.c) */
};

/* Walks fid (a new number on the new server) to path from fid 0.  0 and
 * *q the last qid, a server error, or -EIO (session gone). */
static int walk_path(struct conn *c, uint32_t fid, const char *path,
		     struct p9_qid *q)
{
	char *dup = sys_strdup(path), *save = NULL, *tok;
	bool first = true;
	int r = 0;

	if (!dup)
		return -ENOMEM;
	tok = strtok_r(dup, "/", &save);
	do {
		struct p9_msg m = { .type = P9_TWALK };
		struct reply rp;

		m.twalk.fid = first ? 0 : fid;
		m.twalk.newfid = fid;
		while (tok && m.twalk.nwname < P9_MAXWELEM) {
			m.twalk.wname[m.twalk.nwname++] = p9_str(tok);
			tok = strtok_r(NULL, "/", &save);
		}
		r = rpc_x(c, &m, P9_RWALK, &rp, CL_NONE, 0, RPC_INTERNAL);
		if (r)
			break;
		if (rp.m.rwalk.nwqid != m.twalk.nwname) {
			reply_free(&rp);
			r = -ENOENT;
			break;
		}
		if (m.twalk.nwname)
			*q = rp.m.rwalk.wqid[m.twalk.nwname - 1];
		else
			*q = c->root_qid;
		reply_free(&rp);
		first = false;
	} while (tok);
	free(dup);
	return r;
}

#define REWALK_THREADS 32      /* re-walks and reopens in flight together */

struct rewalk {
	struct conn *c;
	struct snap *sn;
	size_t n;
	uint64_t gen;
	atomic_size_t next;
	atomic_bool failed;     /* the new session died too */
};

/* Walks, reopens and checks snapshot entries until none is left. */
static void *rewalk_main(void *arg)
{
	struct rewalk *rw = arg;
	struct conn *c = rw->c;
	struct reply rp;
	size_t i;

	while (!atomic_load(&rw->failed) &&
	       (i = atomic_fetch_add(&rw->next, 1)) < rw->n) {
		struct snap *sn = rw->sn;
		struct p9_qid q = { 0 };
		bool stale = false;
		int e = walk_path(c, sn[i].fid, sn[i].path, &q);

		if (e == 0 && (q.path != sn[i].qid.path ||
			       q.type != sn[i].qid.type))
			stale = true;   /* another file has that path now */
		else if (e == 0 && sn[i].oflags >= 0) {
			struct p9_msg o = { .type = P9_TLOPEN };
			o.tlopen.fid = sn[i].fid;
			o.tlopen.flags = (uint32_t)sn[i].oflags;
			e = rpc_x(c, &o, P9_RLOPEN, &rp, CL_NONE, 0,
				  RPC_INTERNAL);
			if (e == 0)
				reply_free(&rp);
			/* its locks, or it turns stale (docs/recovery.md) */
			if (e == 0 && sn[i].locks &&
			    p9_lock_reclaim(c, sn[i].fid, sn[i].locks) != 0)
				stale = true;
		}
		if (e && (e == -EIO || e == -ETIMEDOUT ||
			  atomic_load(&c->s.sgen) != rw->gen)) {
			atomic_store(&rw->failed, true);
			break;
		}
		if (e)
			stale = true;   /* vanished, or cannot be reopened */
		if (stale) {
			pthread_mutex_lock(&c->s.lock);
			mark_stale_locked(c, sn[i].fid);
			pthread_mutex_unlock(&c->s.lock);
		}
	}
	return NULL;
}

/* The new server is up (version done, reader running): attach, recreate
 * every registered fid.  0, or -EIO when the session died meanwhile. */
static int recover_fids(struct conn *c, uint64_t gen)
{
	struct sup *sp = c->sup;
	struct p9_msg m = { .type = P9_TATTACH };
	struct snap *sn = NULL;
	size_t n = 0, i;
	struct reply rp;
	int r;

	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = p9_str(sp->uname);
	m.tattach.aname = p9_str(sp->aname);
	m.tattach.n_uname = sp->n_uname;
	r = rpc_x(c, &m, P9_RATTACH, &rp, CL_NONE, 0, RPC_INTERNAL);
	if (r)
		return atomic_load(&c->s.sgen) == gen && r != -EIO ? r : -EIO;
	bool root_same = rp.m.rattach.qid.path == c->root_qid.path &&
			 rp.m.rattach.qid.type == c->root_qid.type;
	reply_free(&rp);

	pthread_mutex_lock(&c->s.lock);
	sn = sys_calloc(c->nfidents ? c->nfidents : 1, sizeof(*sn));
	for (i = 1; sn && i < c->nfidents; i++) {
		struct fident *e = &c->fids[i];
		if (!e->used || e->stale)
			continue;
		if (!root_same || e->unknown || !reg_path(e)) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].path = sys_strdup(reg_path(e));
		if (!sn[n].path) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].fid = (uint32_t)i;
		sn[n].qid = e->qid;
		sn[n].oflags = e->oflags;
		sn[n].locks = reg_locks_dup_locked(e);
		n++;
	}
	pthread_mutex_unlock(&c->s.lock);
	if (!sn)
		return -ENOMEM;

	/* pipelined: a few threads, each walking and reopening in turn */
	struct rewalk rw = { .c = c, .sn = sn, .n = n, .gen = gen };
	pthread_t th[REWALK_THREADS];
	size_t nth = 0;
	atomic_init(&rw.next, 0);
	atomic_init(&rw.failed, false);
	for (; nth < REWALK_THREADS && nth * 16 < n; nth++)
		if (sys_pthread_create(&th[nth], NULL, rewalk_main, &rw) != 0)
			break;
	rewalk_main(&rw);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	r = atomic_load(&rw.failed) ? -EIO : 0;
	for (i = 0; i < n; i++) {
		free(sn[i].path);
		uvfs_lockset_free(sn[i].locks);
	}
	free(sn);
	return r;
}

/* ---- the hooks of the generic supervisor (lib/remote/supervise.c) ---- */

static struct sup *SUP(struct rs_super *sv)
{
	return (struct sup *)sv;        /* sv is struct sup's first member */
}

static int h_start(struct rs_super *sv, int timeout_ms)
{
	return session_start(SUP(sv)->c, timeout_ms);
}

/* Tversion: the same msize as at mount (the open fids' I/O sizes depend
 * on it). */
static int h_handshake(struct rs_super *sv)
{
	return conn_version(SUP(sv)->c, true);
}

static int h_rebuild(struct rs_super *sv, uint64_t gen)
{
	return recover_fids(SUP(sv)->c, gen);
}

static void h_recovered(struct rs_super *sv)
{
	clunk_drain(SUP(sv)->c);
	/* the new server may see other files than the old one did: front
	 * ends drop their caches */
	uvfs_sb_changed(SUP(sv)->sb);
}

static const struct rs_super_ops sup_ops = {
	.start = h_start,
	.handshake = h_handshake,
	.rebuild = h_rebuild,
	.recovered = h_recovered,
};

int sup_init(struct conn *c, long restarts, long window_ms)
{
	struct sup *sp = c->sup;

	sp->sv.s = &c->s;
	sp->sv.ops = &sup_ops;
	sp->sv.type = sp->type;
	sp->sv.source = sp->source;
	sp->sv.reconnect = sp->reconnect;
	return rproc_limit_init(&sp->sv.limit, restarts, window_ms);
}

void sup_free(struct sup *sp)
{
	if (!sp)
		return;
	free(sp->server);
	free(sp->source);
	free(sp->uname);
	free(sp->aname);
	rproc_limit_fini(&sp->sv.limit);
	free(sp);
}

/* For uvfs_9p_server_info: the live supervised mounts.  Only a
 * directory for that query (the supervisors do not look at it). */
static pthread_mutex_t sup_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sup *sup_list;

static void sup_list_add(struct sup *sp)
{
	pthread_mutex_lock(&sup_list_lock);
	sp->next = sup_list;
	sup_list = sp;
	pthread_mutex_unlock(&sup_list_lock);
}

static void sup_list_del(struct sup *sp)
{
	pthread_mutex_lock(&sup_list_lock);
	for (struct sup **pp = &sup_list; *pp; pp = &(*pp)->next)
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	pthread_mutex_unlock(&sup_list_lock);
}

int sup_start(struct conn *c)
{
	int r = rs_super_start(&c->sup->sv);

	if (r == 0)
		sup_list_add(c->sup);
	return r;
}

/* Unmount: the supervisor stops (a recovery in progress is abandoned:
 * the connection is killed), later losses are kills. */
void sup_stop(struct conn *c)
{
	struct sup *sp = c->sup;

	if (!sp)
		return;
	sup_list_del(sp);
	rs_super_stop(&sp->sv);
}

int uvfs_9p_server_info(struct uvfs *u, const char *target,
			struct uvfs_9p_server_info *out)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0, i;
	int r = uvfs_mount_list(u, &mi, &n);
	char source[256] = "";
	char type[32] = "";

	if (r)
		return r;
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0 &&
		    (strcmp(mi[i].type, "hostfs") == 0 ||
		     strcmp(mi[i].type, "diod") == 0 ||
		     strcmp(mi[i].type, "9p") == 0)) {
			snprintf(source, sizeof(source), "%s", mi[i].source);
			snprintf(type, sizeof(type), "%s", mi[i].type);
		}
	free(mi);
	if (!source[0])
		return -ENOENT;
	r = -ENOENT;
	pthread_mutex_lock(&sup_list_lock);
	for (struct sup *sp = sup_list; sp; sp = sp->next) {
		struct conn *c = sp->c;        /* newest first */
		if (strcmp(c->sup->type, type) != 0 ||
		    strcmp(c->sup->source, source) != 0)
			continue;
		pthread_mutex_lock(&c->s.lock);
		memset(out, 0, sizeof(*out));
		out->pid = c->sup->sv.pid;
		out->recovering = rs_recovering(&c->s.rs);
		out->dead = c->s.rs.state == RS_DEAD;
		out->connected = c->s.rs.state == RS_UP;
		snprintf(out->state, sizeof(out->state), "%s",
			 rs_state_display(&c->s.rs));
		out->timeouts = c->s.timeouts;
		out->unreachable = c->s.unreachable;
		out->probes = c->s.probes;
		out->last_error = -c->s.last_err;
		out->last_loss = (long long)c->s.lost_wall;
		out->hard = c->s.hard;
		out->fids = atomic_load(&c->drv_fids);
		out->fid_releases = atomic_load(&c->drv_fid_releases);
		out->requests = atomic_load(&c->n_sent);
		out->waits = atomic_load(&c->n_waits);
		out->restarts = c->sup->sv.nrestarts ? c->sup->sv.nrestarts - 1 :
				0;
		out->losses = c->s.losses;
		out->replays = c->s.replays;
		out->stale_fids = c->sup->stale_fids;
		out->last_recovery_ns = c->sup->sv.last_recovery_ns;
		pthread_mutex_unlock(&c->s.lock);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&sup_list_lock);
	return r;
}

pid_t uvfs_9p_server_pid(struct uvfs *u, const char *target)
{
	struct uvfs_9p_server_info si;
	int r = uvfs_9p_server_info(u, target, &si);

	return r ? r : si.pid;
}

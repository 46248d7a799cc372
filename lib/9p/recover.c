/*
 * recover.c - the recovery policy of a supervised 9P session: types
 * "hostfs", "diod", and "9p" reconnecting (docs/recovery.md).
 *
 * Owns struct sup (one per supervised mount, from mount to unmount), its
 * thread (sup_main, started by sup_start, joined by sup_stop), the server
 * process of each session (spawned here through lib/remote/proc, reaped
 * by session_teardown) and the re-walk threads of one recovery.
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
 *   recovering = false: the waiting requests go (replays among them).
 *
 * On a reconnecting mount a protocol violation is no loss but the end:
 * lost framing (proto_kill) or a Tversion answered otherwise than at mount
 * makes the mount dead at once.  We cannot restart that server, and the
 * one we would reach again is the one that broke the protocol.
 *
 * Only the supervisor sends while recovering (RPC_INTERNAL); every other
 * request waits on state_cv with its deadline; clunks wait in the queue.
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
	pthread_mutex_lock(&c->lock);
	c->link = (struct rt_link){ .fd_r = fd, .fd_w = fd, .sock = true };
	c->pidfd = pidfd;
	sp->pid = pid;
	sp->nrestarts++;
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Reconnect: the address again (the connect waits at most the request
 * timeout, and not at all once the connection is killed).  No pid, no
 * pidfd: the session ends by EOF or an error alone. */
static int connect_server(struct conn *c, int timeout_ms)
{
	struct sup *sp = c->sup;
	struct rt_link l;
	int r = rt_connect(sp->source, timeout_ms, c->evfd, &c->tcp, &l);

	if (r)
		return r;
	pthread_mutex_lock(&c->lock);
	c->link = l;
	sp->nrestarts++;
	pthread_mutex_unlock(&c->lock);
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

	pthread_mutex_lock(&c->lock);
	now = c->state != CS_DEAD && atomic_load(&c->sgen) == gen;
	pthread_mutex_unlock(&c->lock);
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
	struct sup *sp = c->sup;
	struct rt_link l;
	pid_t pid;

	if (c->reader_started) {
		pthread_join(c->reader, NULL);
		c->reader_started = false;
	}
	pthread_mutex_lock(&c->lock);
	/* a writer, or a caller reading, still on the old socket (it was
	 * shut down: they leave at once) */
	while (c->wbusy || c->rd == RD_CALLER)
		pthread_cond_wait(&c->lock_cv, &c->lock);
	l = c->link;
	c->link = RT_LINK_NONE;
	pid = sp->pid;
	sp->pid = 0;
	pthread_mutex_unlock(&c->lock);
	rt_link_close(&l);
	/* it exits at EOF; past the grace period, or with grace 0, it is
	 * killed */
	rproc_reap(pid, grace_ms);
	if (c->pidfd >= 0) {
		sys_close(c->pidfd);
		c->pidfd = -1;
	}
}

/* => c->lock held */
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

#define REWALK_THREADS 8

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
		}
		if (e && (e == -EIO || e == -ETIMEDOUT ||
			  atomic_load(&c->sgen) != rw->gen)) {
			atomic_store(&rw->failed, true);
			break;
		}
		if (e)
			stale = true;   /* vanished, or cannot be reopened */
		if (stale) {
			pthread_mutex_lock(&c->lock);
			mark_stale_locked(c, sn[i].fid);
			pthread_mutex_unlock(&c->lock);
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
		return atomic_load(&c->sgen) == gen && r != -EIO ? r : -EIO;
	bool root_same = rp.m.rattach.qid.path == c->root_qid.path &&
			 rp.m.rattach.qid.type == c->root_qid.type;
	reply_free(&rp);

	pthread_mutex_lock(&c->lock);
	sn = sys_calloc(c->nfidents ? c->nfidents : 1, sizeof(*sn));
	for (i = 1; sn && i < c->nfidents; i++) {
		struct fident *e = &c->fids[i];
		if (!e->used || e->stale)
			continue;
		if (!root_same || e->unknown || !e->path) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].path = sys_strdup(e->path);
		if (!sn[n].path) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].fid = (uint32_t)i;
		sn[n].qid = e->qid;
		sn[n].oflags = e->oflags;
		n++;
	}
	pthread_mutex_unlock(&c->lock);
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
	for (i = 0; i < n; i++)
		free(sn[i].path);
	free(sn);
	return r;
}

/*
 * The supervisor's loop (one thread per supervised mount): waits for a
 * loss, then opens sessions until one is recovered, the limit is reached
 * (dead) or the mount goes.  While the peer is UNREACHABLE (it went
 * silent: a partition, a stopped server) the attempts are quick
 * (UNREACH_CONNECT_MS, UNREACH_BACKOFF_MS apart) and not counted against
 * restarts=: the mount is back within a second of the network healing.
 */
static void *sup_main(void *arg)
{
	struct conn *c = arg;
	struct sup *sp = c->sup;
	struct rproc_backoff bo = { BACKOFF_MIN_MS, BACKOFF_MAX_MS,
				    BACKOFF_MIN_MS };

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while ((c->state == CS_UP || c->state == CS_RECOVERING) &&
		       !sp->stop)
			pthread_cond_wait(&c->sup_cv, &c->lock);
		if (c->state == CS_DEAD || sp->stop)
			break;
		uint64_t gen = atomic_load(&c->sgen);
		bool unreach = c->state == CS_UNREACHABLE;
		pthread_mutex_unlock(&c->lock);

		session_teardown(c, 0);
		if (!unreach && !rproc_limit_take(&sp->limit)) {
			if (sp->reconnect)
				fprintf(stderr, "uvfs: 9p %s: connection lost; "
					"%ld attempts to reconnect within %ld "
					"ms: the mount is dead\n", sp->source,
					sp->limit.max, sp->limit.window_ms);
			else
				fprintf(stderr, "uvfs: %s %s: the server died "
					"%ld times within %ld ms: the mount is "
					"dead\n", sp->type, sp->source,
					sp->limit.max + 1, sp->limit.window_ms);
			conn_kill(c);
			pthread_mutex_lock(&c->lock);
			break;
		}
		struct timespec dl;
		deadline_in(&dl, unreach ? UNREACH_BACKOFF_MS :
			    rproc_backoff_next(&bo));
		pthread_mutex_lock(&c->lock);
		while (c->state != CS_DEAD && !sp->stop)
			if (pthread_cond_timedwait(&c->sup_cv, &c->lock,
						   &dl) == ETIMEDOUT)
				break;
		if (c->state == CS_DEAD || sp->stop)
			break;
		pthread_mutex_unlock(&c->lock);

		/* no session (the address refuses or does not answer, the
		 * binary cannot be spawned): nothing to lose, try again; a
		 * refusal while unreachable means the host is back but not
		 * the server: that counts again */
		int r = session_start(c, unreach && c->timeout_ms >
				      UNREACH_CONNECT_MS ?
				      UNREACH_CONNECT_MS : c->timeout_ms);
		if (r != 0) {
			pthread_mutex_lock(&c->lock);
			c->last_err = r;
			if (unreach && r != -ETIMEDOUT && r != -EHOSTUNREACH &&
			    r != -ENETUNREACH && c->state == CS_UNREACHABLE)
				conn_set_state(c, CS_LOST);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		if (atomic_load(&c->sgen) == gen && c->state != CS_DEAD &&
		    !sp->stop)
			conn_set_state(c, CS_RECOVERING);
		else
			r = -EIO;
		pthread_mutex_unlock(&c->lock);
		if (r == 0)
			r = conn_version(c, true);
		if (sp->reconnect && (r == -EPROTO || r == -EPROTONOSUPPORT)) {
			/* the address answers, but not as the server we
			 * mounted (another version, a smaller msize: the
			 * open fids' I/O sizes depend on it) */
			fprintf(stderr, "uvfs: 9p %s: the server answers "
				"Tversion otherwise than at mount: the mount "
				"is dead\n", sp->source);
			conn_kill(c);
			pthread_mutex_lock(&c->lock);
			break;
		}
		if (r == 0)
			r = reader_start(c);
		if (r == 0)
			r = recover_fids(c, gen);

		pthread_mutex_lock(&c->lock);
		if (r == 0 && atomic_load(&c->sgen) == gen &&
		    c->state == CS_RECOVERING) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			sp->last_recovery_ns = (uint64_t)(ts_ns(&now) -
							  ts_ns(&c->lost_at));
			conn_set_state(c, CS_UP);
			rproc_backoff_reset(&bo);
			pthread_mutex_unlock(&c->lock);
			clunk_drain(c);
			/* the new server may see other files than the old one
			 * did: front ends drop their caches */
			uvfs_sb_changed(sp->sb);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		/* this attempt failed: lose its session, try again */
		if (c->state != CS_DEAD && atomic_load(&c->sgen) == gen) {
			pthread_mutex_unlock(&c->lock);
			conn_lost_err(c, gen, unreach ? -ETIMEDOUT : r);
			pthread_mutex_lock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void sup_free(struct sup *sp)
{
	if (!sp)
		return;
	free(sp->server);
	free(sp->source);
	free(sp->uname);
	free(sp->aname);
	rproc_limit_fini(&sp->limit);
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
	struct sup *sp = c->sup;
	int r = -sys_pthread_create(&sp->thread, NULL, sup_main, c);

	if (r)
		return r;
	sp->started = true;
	pthread_mutex_lock(&c->lock);
	c->supervised = true;
	pthread_mutex_unlock(&c->lock);
	sup_list_add(sp);
	return 0;
}

/* Unmount: the supervisor stops (a recovery in progress is abandoned:
 * the connection is killed), later losses are kills. */
void sup_stop(struct conn *c)
{
	struct sup *sp = c->sup;
	bool kill_it;

	if (!sp)
		return;
	sup_list_del(sp);
	pthread_mutex_lock(&c->lock);
	sp->stop = true;
	c->supervised = false;
	kill_it = conn_recovering_locked(c);
	pthread_cond_broadcast(&c->sup_cv);
	pthread_mutex_unlock(&c->lock);
	if (kill_it)
		conn_kill(c);
	if (sp->started)
		pthread_join(sp->thread, NULL);
	sp->started = false;
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
		pthread_mutex_lock(&c->lock);
		memset(out, 0, sizeof(*out));
		out->pid = c->sup->pid;
		out->recovering = conn_recovering_locked(c);
		out->dead = c->state == CS_DEAD;
		out->connected = c->state == CS_UP;
		snprintf(out->state, sizeof(out->state), "%s",
			 c->state == CS_RECOVERING ?
			 (c->silent ? "unreachable" : "reconnecting") :
			 conn_state_name(c->state));
		out->timeouts = c->timeouts;
		out->unreachable = c->unreachable;
		out->probes = c->probes;
		out->last_error = -c->last_err;
		out->last_loss = (long long)c->lost_wall;
		out->hard = c->hard;
		out->restarts = c->sup->nrestarts ? c->sup->nrestarts - 1 : 0;
		out->losses = c->losses;
		out->replays = c->replays;
		out->stale_fids = c->sup->stale_fids;
		out->last_recovery_ns = c->sup->last_recovery_ns;
		pthread_mutex_unlock(&c->lock);
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

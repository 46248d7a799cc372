/*
 * lock.c - the 9P client driver's file locks (fs.h's lock op): Tlock and
 * Tgetlock on an open handle's fid, what the server holds for each fid
 * (kept in the fid registry, to take it again on a new server), and the
 * fencing of a lock request whose outcome is not known.
 *
 * Mapping (as Linux's v9fs): every lock is a POSIX byte range on the
 * handle's fid; an flock lock is one on the whole file (so on 9P flock
 * and fcntl locks meet, as on v9fs).  A Tlock never asks the server to
 * block (no P9_LOCK_FLAGS_BLOCK): BLOCKED answers -EAGAIN and the core
 * polls, bounded and cancellable (lib/core/lock.c).  proc_id is the
 * locker's pid, client_id this host's name.  The server decides between
 * fids (uvfs-hostfs: each opened fid is an open file description on the
 * host, its locks OFD locks); the core decides between this instance's
 * owners before it asks.
 *
 * What the server holds (docs/recovery.md, "Locks"): each fid's registry
 * entry keeps a lock set of what was granted on it (reg_lock_note_locked,
 * from the reply's registry hook and from here), one owner per fid as the
 * server sees it.  A restarted or reconnected server gets each of them
 * again after the fid is reopened, with P9_LOCK_FLAGS_RECLAIM
 * (p9_lock_reclaim, from recover.c); one it refuses makes the fid stale:
 * the file's operations answer -ESTALE from then on, so no one believes
 * they still hold a lock they lost.
 *
 * Fencing: a Tlock that failed without the server's answer (deadline,
 * cancel, a lost link: -ETIMEDOUT, -EIO) may have been granted all the
 * same (the server runs a flushed request to its end and drops only the
 * reply).  The caller is told "not granted", so the session is cut
 * abortively: the server drops the connection's fids and, with them,
 * every lock taken through them; the new session takes back only what the
 * registry holds, which that request never reached.  An unlock is
 * recorded as done whatever the answer, and fenced the same way.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "sys.h"

static char client_id[65];
static pthread_once_t client_once = PTHREAD_ONCE_INIT;

static void client_init(void)
{
	if (gethostname(client_id, sizeof(client_id) - 1) != 0)
		strcpy(client_id, "uvfs");
}

static uint8_t p9_type(short type)
{
	return type == F_RDLCK ? P9_LOCK_TYPE_RDLCK
	       : type == F_WRLCK ? P9_LOCK_TYPE_WRLCK : P9_LOCK_TYPE_UNLCK;
}

static uint64_t p9_len(const struct uvfs_lock *lk)
{
	return lk->end == UVFS_LOCK_EOF ? 0
					: (uint64_t)(lk->end - lk->start) + 1;
}

void reg_lock_note_locked(struct conn *c, uint32_t fid, uint8_t type,
			  uint64_t start, uint64_t length)
{
	struct fident *e = reg_get(c, fid);
	struct uvfs_lock lk = { .owner = 0 };

	if (!e || !e->used || start > (uint64_t)INT64_MAX)
		return;
	lk.type = type == P9_LOCK_TYPE_RDLCK ? F_RDLCK
		  : type == P9_LOCK_TYPE_WRLCK ? F_WRLCK : F_UNLCK;
	lk.start = (int64_t)start;
	lk.end = length == 0 || length - 1 > (uint64_t)(INT64_MAX - lk.start)
		 ? UVFS_LOCK_EOF : lk.start + (int64_t)(length - 1);
	if (!e->locks && lk.type == F_UNLCK)
		return;
	if (!e->locks && !(e->locks = uvfs_lockset_new()))
		return;         /* not kept: a reclaim will not know it */
	uvfs_lockset_apply(e->locks, &lk);
}

static int copy_one(void *arg, const struct uvfs_lock *lk)
{
	return uvfs_lockset_apply(arg, lk);
}

struct uvfs_lockset *reg_locks_dup_locked(const struct fident *e)
{
	struct uvfs_lockset *ls;

	if (!e->locks || !(ls = uvfs_lockset_new()))
		return NULL;
	if (uvfs_lockset_each(e->locks, copy_one, ls) != 0) {
		uvfs_lockset_free(ls);
		return NULL;
	}
	return ls;
}

static int any_lock(void *arg, const struct uvfs_lock *lk)
{
	(void)arg;
	(void)lk;
	return 1;
}

/* A handle's last release (the closing thread's, docs/design.md "File
 * close is synchronous"): the locks the server holds through its fid are
 * given back now, as v9fs's close does (locks_remove_file: an unlock
 * through ->lock), so that once close returns another owner's Tlock is
 * granted; the Tclunk that would drop them too may go out later (the fid
 * still in use by a read-ahead) or be run by the server after that
 * Tlock.  Nothing is sent for a fid without locks or on a session that
 * is not up (a loss drops the server's locks with the connection). */
void p9_unlock_on_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;
	struct fident *e;
	struct uvfs_lock lk = { .type = F_UNLCK, .start = 0,
				.end = UVFS_LOCK_EOF };
	bool held;

	pthread_mutex_lock(&s->c.s.lock);
	e = reg_get(&s->c, h->fid->num);
	held = s->c.s.rs.state == RS_UP && e && e->used && e->locks &&
	       uvfs_lockset_each(e->locks, any_lock, NULL) != 0;
	pthread_mutex_unlock(&s->c.s.lock);
	if (held)
		(void)p9_lock(sb, priv, fh, UVFS_LOCK_SET, &lk);
}

struct reclaim {
	struct conn *c;
	uint32_t fid;
};

static int reclaim_one(void *arg, const struct uvfs_lock *lk)
{
	struct reclaim *rc = arg;
	struct p9_msg m = { .type = P9_TLOCK };
	struct reply rp;
	int r;

	m.tlock.fid = rc->fid;
	m.tlock.type = p9_type(lk->type);
	m.tlock.flags = P9_LOCK_FLAGS_RECLAIM;
	m.tlock.start = (uint64_t)lk->start;
	m.tlock.length = p9_len(lk);
	m.tlock.proc_id = 0;
	m.tlock.client_id = p9_str(client_id);
	r = rpc_x(rc->c, &m, P9_RLOCK, &rp, CL_NONE, 0, RPC_INTERNAL);
	if (r)
		return r;
	r = rp.m.rlock.status == P9_LOCK_SUCCESS ? 0 : -ENOLCK;
	reply_free(&rp);
	return r;
}

int p9_lock_reclaim(struct conn *c, uint32_t fid,
		    const struct uvfs_lockset *ls)
{
	struct reclaim rc = { c, fid };

	pthread_once(&client_once, client_init);
	return uvfs_lockset_each(ls, reclaim_one, &rc);
}

/* A Tlock answered BLOCKED while Tclunks sent here were out: the fid of
 * one may have held the lock, and the server may have run the Tlock
 * before that Tclunk.  Waits (1 ms steps) until none is unanswered, for
 * at most half the time the call has left: true if one was out and all
 * are answered now, and the Tlock is worth asking again (it has the
 * other half).  A clunk the server leaves unanswered must not use the
 * call's deadline up: the Tlock asked again would then time out unsent,
 * be taken for one whose outcome is unknown, and cut the session (the
 * fencing below) for a lock the server refused. */
static bool clunks_settle(struct conn *c)
{
	struct timespec ts = { 0, 1000000 }, dl;

	if (atomic_load(&c->clunks_out) == 0)
		return false;
	deadline_in(&dl, c->s.timeout_ms);
	rs_call_clamp(&dl);
	deadline_in(&dl, ms_left(&dl) / 2);
	while (atomic_load(&c->clunks_out) > 0 && ms_left(&dl) > 0)
		nanosleep(&ts, NULL);
	return atomic_load(&c->clunks_out) == 0;
}

int p9_lock(struct uvfs_sb *sb, void *priv, void *fh, int cmd,
	    struct uvfs_lock *lk)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;
	struct p9_msg m;
	struct reply rp;
	uint64_t gen;
	uint32_t fid;
	int r;

	(void)priv;
	if (!h)
		return -EBADF;
	pthread_once(&client_once, client_init);
	fid = h->fid->num;
	if (cmd == UVFS_LOCK_GET) {
		memset(&m, 0, sizeof(m));
		m.type = P9_TGETLOCK;
		m.tgetlock.fid = fid;
		m.tgetlock.type = p9_type(lk->type);
		m.tgetlock.start = (uint64_t)lk->start;
		m.tgetlock.length = p9_len(lk);
		m.tgetlock.proc_id = (uint32_t)lk->pid;
		m.tgetlock.client_id = p9_str(client_id);
		r = rpc(&s->c, &m, P9_RGETLOCK, &rp, CL_NONE, 0);
		if (r)
			return r;
		const struct p9_rgetlock *g = &rp.m.rgetlock;
		if (g->type == P9_LOCK_TYPE_UNLCK) {
			lk->type = F_UNLCK;
		} else {
			struct uvfs_lock o = { .owner = 0 };

			o.type = g->type == P9_LOCK_TYPE_RDLCK ? F_RDLCK
							       : F_WRLCK;
			o.start = g->start > (uint64_t)INT64_MAX
				  ? INT64_MAX : (int64_t)g->start;
			o.end = g->length == 0 ||
				g->length - 1 > (uint64_t)(INT64_MAX - o.start)
				? UVFS_LOCK_EOF
				: o.start + (int64_t)(g->length - 1);
			o.pid = (pid_t)g->proc_id;
			*lk = o;
		}
		reply_free(&rp);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.type = P9_TLOCK;
	m.tlock.fid = fid;
	m.tlock.type = p9_type(lk->type);
	m.tlock.flags = 0;
	m.tlock.start = (uint64_t)lk->start;
	m.tlock.length = p9_len(lk);
	m.tlock.proc_id = (uint32_t)lk->pid;
	m.tlock.client_id = p9_str(client_id);
	gen = conn_sgen(&s->c);
	r = rpc(&s->c, &m, P9_RLOCK, &rp, CL_NONE, 0);
	if (r == 0 && rp.m.rlock.status == P9_LOCK_BLOCKED &&
	    clunks_settle(&s->c)) {
		/* a fid closed here just before may have held it: the
		 * server may have run our Tlock before that Tclunk */
		reply_free(&rp);
		gen = conn_sgen(&s->c);
		r = rpc(&s->c, &m, P9_RLOCK, &rp, CL_NONE, 0);
	}
	if (r == 0) {
		uint8_t st = rp.m.rlock.status;

		reply_free(&rp);
		if (st == P9_LOCK_SUCCESS)
			return 0;       /* the registry has it (its hook) */
		if (lk->type == F_UNLCK)
			r = -ENOLCK;    /* recorded below, and fenced */
		else
			return st == P9_LOCK_ERROR ? -ENOLCK : -EAGAIN;
	}
	if (lk->type == F_UNLCK) {
		pthread_mutex_lock(&s->c.s.lock);
		reg_lock_note_locked(&s->c, fid, P9_LOCK_TYPE_UNLCK,
				     m.tlock.start, m.tlock.length);
		pthread_mutex_unlock(&s->c.s.lock);
	}
	/* not answered (or an unlock refused): the server may hold what
	 * we say it does not; it must drop it (top of the file) */
	if (r == -ETIMEDOUT || r == -EIO || r == -EINTR ||
	    (lk->type == F_UNLCK && r != -ESTALE && r != -EBADF))
		conn_lost_err(&s->c, gen, r == -ETIMEDOUT ? -ETIMEDOUT
							 : -EIO);
	return r;
}

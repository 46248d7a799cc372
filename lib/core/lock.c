/*
 * lock.c - the core's file-lock manager and the calls that use it: the
 * embedding API's OFD-style locks and flock (uvfs_fcntl_lock, uvfs_flock)
 * and the node API's (uvfs_file_lock, for FUSE's getlk/setlk/flock).
 *
 * What it owns: each vnode's set of locks held through this instance
 * (struct vlocks at vp->locks, made at the first lock, freed with the
 * vnode's shell), and the waits for a lock.  Every set is guarded by one
 * leaf lock, u->lk_lock; u->lk_seq moves (and u->lk_cv is broadcast)
 * whenever a waiter may have reason to try again: a lock released or
 * changed, a vnode killed (revoke, forced unmount), a wait cancelled.
 *
 * A lock request (docs/design.md, "File locks"):
 *   - goes through vop_lock (the gate; a dead vnode answers -EIO), whose
 *     driver call is lock_try: conflicts between this instance's owners
 *     are decided here, from the set; on a driver with a lock op the
 *     server is asked next (one request per vnode at a time, vl->busy,
 *     so two owners cannot both pass the check and both be granted), and
 *     what it granted is recorded; a driver without one (memfs) has only
 *     these locks;
 *   - never waits inside the gate: a blocking request that got -EAGAIN
 *     waits outside, on u->lk_cv, until lk_seq moves (a local release),
 *     its poll interval passes (a driver with a lock op: the server's
 *     owners release without telling us; 10 ms doubling to 200 ms, as
 *     v9fs polls, but sooner), its deadline passes (-ETIMEDOUT), it is
 *     cancelled (-EINTR), or the vnode dies (-EIO); then tries again.
 * Release: a file's last release drops every lock taken through it
 * (lock_file_gone; the driver's release of the handle drops the server's).
 * A dead vnode keeps its set until its shell goes, but nothing reaches it:
 * every operation on it answers -EIO, and a new lookup makes a new vnode.
 * Deadlock detection: none (a waiter that would deadlock waits until its
 * deadline or a cancel).
 *
 * Asynchronous waits (uvfs_file_lock_async, FUSE's blocking setlk and
 * flock): the same wait without a thread of the caller's.  The request
 * is tried at once in the caller's thread; a conflict queues its waiter
 * record and answers -EINPROGRESS.  The record is the caller's struct
 * uvfs_lock_wait; its lifecycle:
 *   - idle (made by uvfs_lock_wait_new, or a wait ended);
 *   - queued (file_lock_async): on a queue's list under lk_lock (struct
 *     lk_queue: the instance's for the locks the core keeps, the
 *     superblock's for a driver's own), holding a reference on its file,
 *     with what it asks, the caller's credentials and the callback;
 *   - tried: the queue's lock-wait thread (made at its first queued wait,
 *     joined by lock_stop or, for a superblock's, when the sb is freed)
 *     leaves it on the queue while it tries the request without lk_lock
 *     (vop_lock); only that thread ever takes a record off the queue, so
 *     its place and its neighbours stay;
 *   - ended: off the queue (under lk_lock), then, with no lock of the
 *     library held, its callback runs once on that thread and the file's
 *     reference is dropped; the core never touches the record after.
 * The thread tries the records oldest first whenever one is due: lk_seq
 * moved since its last try (kick_locked: a release, a death, a cancel),
 * its poll time came (a driver with a lock op, as above; a mount whose
 * gate is closed, suspended, is not entered but polled so, as the thread
 * must not wait there for the others), it was cancelled (-EINTR), its
 * vnode died (-EIO) or the instance ends (lock_stop: -EIO).  A try of a
 * driver's lock asks the file server, which may take its deadline (or
 * longer: a hard mount); that is why each such superblock has a queue
 * and thread of its own: a server that does not answer holds up only its
 * own mount's waits.  The caller bounds how many it queues (memory: one
 * record each).
 */
#include "core.h"
#include "file.h"
#include "lock.h"
#include "deadline.h"    /* lib/util */

#include <sys/file.h>

struct vlocks {
	struct uvfs_lockset ls;         /* u->lk_lock */
	bool busy;                      /* u->lk_lock: a request to the
					   driver is in flight */
};

struct uvfs_lock_wait {
	atomic_bool cancelled;
	struct uvfs *_Atomic u;         /* set while waiting, for the wake */
	/* an asynchronous wait (file_lock_async), while queued: */
	struct cds_list_head link;      /* u->lk_lock: on its queue */
	struct file *f;                 /* const; one reference */
	struct uvfs_lock lk;            /* const: what is asked */
	struct uvfs_cred cred;          /* const: whom it is for */
	uvfs_lock_done_fn done;         /* const */
	void *arg;                      /* const */
	uint64_t seq;                   /* lk_lock: lk_seq before the last
					   try */
	bool polled;                    /* lk_lock: tried again at poll_at
					   without a kick */
	struct timespec poll_at;        /* lk_lock (monotonic) */
	long poll_ms;                   /* lk_lock: the next interval */
};

#define POLL_MIN_MS     10
#define POLL_MAX_MS     200

/* A queue of asynchronous waits and the thread that tries them: the
 * core's (u->lk_q: locks the core keeps, whose tries never leave the
 * process), and one per superblock whose driver keeps its locks
 * (sb->lk_q: each try asks the file server, and takes up to its
 * deadline, or longer on a hard mount: a server that does not answer
 * holds up its own mount's waits, no other's).  All of them sleep on
 * u->lk_cv and are kicked together (lk_seq). */
struct lk_queue {
	struct uvfs *u;                 /* const */
	struct cds_list_head waits;     /* u->lk_lock: oldest first */
	pthread_t thread;               /* u->lk_lock, with on: */
	bool on;                        /* u->lk_lock: made (its first
					   wait) */
	bool stop;                      /* u->lk_lock: join me (lock_stop,
					   lock_sb_stop) */
};

static struct lk_queue *queue_new(struct uvfs *u);

int lock_init(struct uvfs *u)
{
	pthread_mutex_init(&u->lk_lock, NULL);
	cond_init_monotonic(&u->lk_cv);
	u->lk_q = queue_new(u);
	return u->lk_q ? 0 : -ENOMEM;
}

void lock_fini(struct uvfs *u)
{
	UVFS_VERIFY(u->lk_nwaits == 0);
	if (u->lk_q) {          /* no lock_stop: uvfs_new failed */
		UVFS_VERIFY(!u->lk_q->on);
		free(u->lk_q);
		u->lk_q = NULL;
	}
	pthread_cond_destroy(&u->lk_cv);
	pthread_mutex_destroy(&u->lk_lock);
}

/* => lk_lock held. */
static void kick_locked(struct uvfs *u)
{
	u->lk_seq++;
	pthread_cond_broadcast(&u->lk_cv);
}

void lock_kick(struct uvfs *u)
{
	pthread_mutex_lock(&u->lk_lock);
	kick_locked(u);
	pthread_mutex_unlock(&u->lk_lock);
}

void lock_vnode_free(struct vnode *vp)
{
	/* unreferenced: no file, no waiter can reach it */
	if (vp->locks) {
		lockset_clear(&vp->locks->ls);
		free(vp->locks);
		vp->locks = NULL;
	}
}

static bool match_via(const struct lk_rec *r, const void *arg)
{
	return r->via == arg;
}

void lock_file_gone(struct file *f)
{
	struct vnode *vp = f->path.vp;
	struct uvfs *u = vp->sb->u;

	/* No set: no lock was ever taken on vp, through f or through another
	 * file whose records could name f as theirs (they name a file that
	 * earlier records went through), and none can be now that f is gone.
	 * Most files are closed so, without the instance's lock (read with
	 * acquire, against vlocks_locked's release). */
	if (!__atomic_load_n(&vp->locks, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&u->lk_lock);
	/* a request to the driver may be using f's handle (lock_try) */
	while (vp->locks && vp->locks->busy)
		pthread_cond_wait(&u->lk_cv, &u->lk_lock);
	if (vp->locks && lockset_drop(&vp->locks->ls, match_via, f))
		kick_locked(u);
	pthread_mutex_unlock(&u->lk_lock);
}

/* => lk_lock held.  NULL when out of memory. */
static struct vlocks *vlocks_locked(struct vnode *vp)
{
	if (!vp->locks)
		__atomic_store_n(&vp->locks, sys_calloc(1, sizeof(*vp->locks)),
				 __ATOMIC_RELEASE);     /* lock_file_gone */
	return vp->locks;
}

/* The file an owner's locks on this vnode go through on the server: the
 * one its earlier locks went through while that one can take this kind
 * (so the server sees one owner as one), else via.  => lk_lock held and
 * vl->busy ours: while it is set, no file of vp drops its records nor
 * releases its handle (lock_file_gone waits), so the file stays usable. */
static struct file *owner_via_locked(struct vlocks *vl,
				     const struct uvfs_lock *lk,
				     struct file *via)
{
	for (struct lk_rec *r = vl->ls.head; r; r = r->next) {
		struct file *o = r->via;
		int acc = o->flags & O_ACCMODE;

		if (r->l.owner != lk->owner || o == via ||
		    (r->l.flags & UVFS_LOCK_FLOCK) !=
		    (lk->flags & UVFS_LOCK_FLOCK))
			continue;
		if ((lk->type == F_WRLCK && acc == O_RDONLY) ||
		    (lk->type == F_RDLCK && acc == O_WRONLY))
			return via;
		return o;
	}
	return via;
}

/* A driver's unlock through each file the owner's locks on the range went
 * through (at most UNLOCK_VIAS of them).  => lk_lock not held; vl->busy
 * is ours (see owner_via_locked). */
#define UNLOCK_VIAS 8
static int driver_unlock(struct uvfs_sb *sb, struct vnode *vp,
			 struct vlocks *vl, struct uvfs_lock *lk,
			 struct file *via, void *fh)
{
	struct uvfs *u = sb->u;
	struct file *sent[UNLOCK_VIAS];
	unsigned n = 0;
	int r = 0, e;

	while (n < UNLOCK_VIAS) {
		struct file *o = NULL;

		pthread_mutex_lock(&u->lk_lock);
		for (struct lk_rec *p = vl->ls.head; p && !o; p = p->next) {
			bool done = false;

			if (p->l.owner != lk->owner ||
			    (p->l.flags & UVFS_LOCK_FLOCK) !=
			    (lk->flags & UVFS_LOCK_FLOCK) ||
			    p->l.start > lk->end || lk->start > p->l.end)
				continue;
			for (unsigned i = 0; i < n; i++)
				done |= sent[i] == p->via;
			if (!done)
				o = p->via;
		}
		pthread_mutex_unlock(&u->lk_lock);
		if (!o)
			break;
		sent[n++] = o;
		e = sb->ops->lock(sb, vp->priv, o == via ? fh : file_fh(o),
				  UVFS_LOCK_SET, lk);
		if (e && !r)
			r = e;
	}
	if (n == 0)     /* nothing recorded: the server may know better */
		r = sb->ops->lock(sb, vp->priv, fh, UVFS_LOCK_SET, lk);
	return r;
}

int lock_try(struct uvfs_sb *sb, struct vnode *vp, void *fh, int cmd,
	     struct uvfs_lock *lk, struct file *via)
{
	struct uvfs *u = sb->u;
	struct uvfs_lock held;
	struct vlocks *vl;
	int r;

	pthread_mutex_lock(&u->lk_lock);
	vl = vlocks_locked(vp);
	if (!vl) {
		pthread_mutex_unlock(&u->lk_lock);
		return -ENOLCK;
	}
	if (lk->type != F_UNLCK && !atomic_load(&sb->locked))
		atomic_store(&sb->locked, true);
	if (cmd == UVFS_LOCK_GET) {
		bool c = lockset_conflict(&vl->ls, lk, &held);

		pthread_mutex_unlock(&u->lk_lock);
		if (c) {
			*lk = held;
			return 0;
		}
		if (sb->ops->lock)
			return sb->ops->lock(sb, vp->priv, fh, UVFS_LOCK_GET,
					     lk);
		lk->type = F_UNLCK;
		return 0;
	}
	if (!sb->ops->lock) {
		if (lk->type != F_UNLCK && lockset_conflict(&vl->ls, lk, NULL))
			r = -EAGAIN;
		else
			r = lockset_apply_via(&vl->ls, lk, via);
		if (r == 0)
			kick_locked(u);
		pthread_mutex_unlock(&u->lk_lock);
		return r;
	}
	/* the server decides too: one request at a time on this vnode
	 * (each bounded by the driver's deadline) */
	while (vl->busy)
		pthread_cond_wait(&u->lk_cv, &u->lk_lock);
	if (lk->type != F_UNLCK && lockset_conflict(&vl->ls, lk, NULL)) {
		pthread_mutex_unlock(&u->lk_lock);
		return -EAGAIN;
	}
	vl->busy = true;
	struct file *o = lk->type == F_UNLCK ? via
					     : owner_via_locked(vl, lk, via);
	pthread_mutex_unlock(&u->lk_lock);

	if (lk->type == F_UNLCK)
		r = driver_unlock(sb, vp, vl, lk, via, fh);
	else
		r = sb->ops->lock(sb, vp->priv, o == via ? fh : file_fh(o),
				  UVFS_LOCK_SET, lk);

	pthread_mutex_lock(&u->lk_lock);
	/* an unlock is recorded whatever the server said: the driver made
	 * sure it holds nothing it was asked to drop (fs.h) */
	if (r == 0 || lk->type == F_UNLCK) {
		int e = lockset_apply_via(&vl->ls, lk, o);

		if (e && lk->type != F_UNLCK) {
			struct uvfs_lock un = *lk;

			/* granted, but we cannot keep it: give it back */
			pthread_mutex_unlock(&u->lk_lock);
			un.type = F_UNLCK;
			sb->ops->lock(sb, vp->priv, o == via ? fh : file_fh(o),
				      UVFS_LOCK_SET, &un);
			pthread_mutex_lock(&u->lk_lock);
		}
		if (!r)
			r = e;
	}
	vl->busy = false;
	/* waiters look again only if something changed (a refusal changes
	 * nothing: kicking then would make a polling waiter spin); those
	 * waiting for busy are woken either way */
	if (r == 0 || lk->type == F_UNLCK)
		kick_locked(u);
	else
		pthread_cond_broadcast(&u->lk_cv);
	pthread_mutex_unlock(&u->lk_lock);
	return r;
}

/* ---- waiting ----------------------------------------------------------- */

/* Takes (or tests, cmd UVFS_LOCK_GET) lk on f's file; wait: until granted
 * or timeout_ms (-1: none; -ETIMEDOUT), a cancel of w (-EINTR), or the
 * file's death (-EIO). */
static int lock_file(struct file *f, int cmd, bool wait, struct uvfs_lock *lk,
		     int timeout_ms, struct uvfs_lock_wait *w)
{
	struct vnode *vp = f->path.vp;
	struct uvfs *u = vp->sb->u;
	bool remote = vp->sb->ops->lock != NULL;
	struct timespec dl;
	long poll_ms = POLL_MIN_MS;
	int acc = f->flags & O_ACCMODE;
	int r;

	if (f->flags & O_PATH)
		return -EBADF;
	if (!(lk->flags & UVFS_LOCK_FLOCK) &&
	    ((lk->type == F_RDLCK && acc == O_WRONLY) ||
	     (lk->type == F_WRLCK && acc == O_RDONLY)))
		return -EBADF;
	deadline_in(&dl, timeout_ms >= 0 ? timeout_ms : 0);     /* (-1: unused) */
	for (;;) {
		uint64_t seq;

		pthread_mutex_lock(&u->lk_lock);
		seq = u->lk_seq;
		pthread_mutex_unlock(&u->lk_lock);
		r = vop_lock(vp, file_fh(f), cmd, lk, f);
		if (r != -EAGAIN || !wait)
			return r;

		pthread_mutex_lock(&u->lk_lock);
		if (w)
			atomic_store(&w->u, u);
		struct timespec until = dl;
		if (remote) {   /* a poll of the server's lock, sooner */
			deadline_in(&until, (int)poll_ms);
			if (timeout_ms >= 0)
				until = deadline_min(dl, until);
		}
		bool timed = remote || timeout_ms >= 0;
		while (u->lk_seq == seq && !(w && atomic_load(&w->cancelled)) &&
		       !vn_dead(vp)) {
			if (!timed)
				pthread_cond_wait(&u->lk_cv, &u->lk_lock);
			else if (pthread_cond_timedwait(&u->lk_cv, &u->lk_lock,
							&until) == ETIMEDOUT)
				break;
		}
		pthread_mutex_unlock(&u->lk_lock);
		if (w && atomic_load(&w->cancelled))
			return -EINTR;
		if (vn_dead(vp))
			return -EIO;
		if (timeout_ms >= 0 && ms_left(&dl) == 0)
			return -ETIMEDOUT;
		if (poll_ms < POLL_MAX_MS)
			poll_ms *= 2;
	}
}

struct uvfs_lock_wait *uvfs_lock_wait_new(void)
{
	return sys_calloc(1, sizeof(struct uvfs_lock_wait));
}

void uvfs_lock_wait_cancel(struct uvfs_lock_wait *w)
{
	struct uvfs *u;

	atomic_store(&w->cancelled, true);
	u = atomic_load(&w->u);
	if (u)
		lock_kick(u);
}

void uvfs_lock_wait_free(struct uvfs_lock_wait *w)
{
	free(w);
}

/* ---- the calls --------------------------------------------------------- */

/* fl (fcntl's) as a range of f's file into lk. */
static int range_from(struct file *f, const struct flock *fl,
		      struct uvfs_lock *lk)
{
	int64_t base, start, end;
	struct stat st;
	int r;

	switch (fl->l_whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		pthread_mutex_lock(&f->lock);
		base = f->pos;
		pthread_mutex_unlock(&f->lock);
		break;
	case SEEK_END:
		r = vop_getattr(f->path.vp, &st);
		if (r)
			return r;
		base = st.st_size;
		break;
	default:
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, (int64_t)fl->l_start, &start))
		return -EOVERFLOW;
	if (fl->l_len > 0) {
		if (__builtin_add_overflow(start, (int64_t)fl->l_len - 1,
					   &end))
			return -EOVERFLOW;
	} else if (fl->l_len < 0) {
		end = start - 1;
		start += fl->l_len;
	} else {
		end = UVFS_LOCK_EOF;
	}
	if (start < 0)
		return -EINVAL;
	lk->start = start;
	lk->end = end;
	return 0;
}

static void range_to(const struct uvfs_lock *lk, struct flock *fl)
{
	fl->l_type = lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = lk->start;
	fl->l_len = lk->end == UVFS_LOCK_EOF ? 0 : lk->end - lk->start + 1;
	fl->l_pid = lk->pid;
}

/* cmd F_GETLK/F_SETLK/F_SETLKW on f for owner, as fcntl(2). */
static int fcntl_lock(struct file *f, uint64_t owner, pid_t pid, int cmd,
		      struct flock *fl, int timeout_ms,
		      struct uvfs_lock_wait *w)
{
	struct uvfs_lock lk = { .owner = owner, .pid = pid };
	int r;

	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
	    fl->l_type != F_UNLCK)
		return -EINVAL;
	lk.type = fl->l_type;
	r = range_from(f, fl, &lk);
	if (r)
		return r;
	switch (cmd) {
	case F_GETLK:
		if (lk.type == F_UNLCK)
			return -EINVAL;
		r = lock_file(f, UVFS_LOCK_GET, false, &lk, -1, NULL);
		if (r == 0 && lk.type == F_UNLCK)
			fl->l_type = F_UNLCK;   /* the rest as it was */
		else if (r == 0)
			range_to(&lk, fl);
		return r;
	case F_SETLK:
		return lock_file(f, UVFS_LOCK_SET, false, &lk, -1, NULL);
	case F_SETLKW:
		return lock_file(f, UVFS_LOCK_SET, true, &lk, timeout_ms, w);
	default:
		return -EINVAL;
	}
}

/* op LOCK_SH/LOCK_EX/LOCK_UN (| LOCK_NB) on f for owner, as flock(2). */
static int flock_lock(struct file *f, uint64_t owner, pid_t pid, int op,
		      int timeout_ms, struct uvfs_lock_wait *w)
{
	struct uvfs_lock lk = { .owner = owner, .pid = pid,
				.flags = UVFS_LOCK_FLOCK,
				.start = 0, .end = UVFS_LOCK_EOF };
	int r;

	switch (op & ~LOCK_NB) {
	case LOCK_SH: lk.type = F_RDLCK; break;
	case LOCK_EX: lk.type = F_WRLCK; break;
	case LOCK_UN: lk.type = F_UNLCK; break;
	default: return -EINVAL;
	}
	r = lock_file(f, UVFS_LOCK_SET, !(op & LOCK_NB) && lk.type != F_UNLCK,
		      &lk, timeout_ms, w);
	return r == -EAGAIN ? -EWOULDBLOCK : r;
}

/* The embedding API's owner for f: the description itself. */
static uint64_t desc_owner(const struct file *f)
{
	return (uint64_t)(uintptr_t)f;
}

int uvfs_fcntl_lock(struct uvfs_ctx *ctx, int fd, int cmd, struct flock *fl,
		    int timeout_ms)
{
	struct file *f = fd_get(ctx, fd);
	int r;

	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_OFD_GETLK: case F_GETLK: cmd = F_GETLK; break;
	case F_OFD_SETLK: case F_SETLK: cmd = F_SETLK; break;
	case F_OFD_SETLKW: case F_SETLKW: cmd = F_SETLKW; break;
	default: cmd = -1; break;
	}
	r = cmd < 0 || fl->l_pid != 0 ? -EINVAL
		: fcntl_lock(f, desc_owner(f), -1, cmd, fl, timeout_ms, NULL);
	file_put(f);
	return r;
}

int uvfs_flock(struct uvfs_ctx *ctx, int fd, int op, int timeout_ms)
{
	struct file *f = fd_get(ctx, fd);
	int r;

	if (!f)
		return -EBADF;
	r = flock_lock(f, desc_owner(f), -1, op, timeout_ms, NULL);
	file_put(f);
	return r;
}

int file_lock_handle(struct file *f, uint64_t owner, int flock, int cmd,
		     struct flock *fl, pid_t pid, struct uvfs_lock_wait *w)
{
	if (!flock)
		return fcntl_lock(f, owner, pid, cmd, fl, -1, w);
	if (cmd == F_GETLK)
		return -EINVAL;
	int op = fl->l_type == F_RDLCK ? LOCK_SH
		 : fl->l_type == F_WRLCK ? LOCK_EX : LOCK_UN;
	return flock_lock(f, owner, pid, op | (cmd == F_SETLK ? LOCK_NB : 0),
			  -1, w);
}

int file_unlock_owner(struct file *f, uint64_t owner, int flock)
{
	struct uvfs_lock lk = { .owner = owner, .type = F_UNLCK,
				.flags = flock ? UVFS_LOCK_FLOCK : 0,
				.start = 0, .end = UVFS_LOCK_EOF };
	struct vnode *vp = f->path.vp;
	struct uvfs *u = vp->sb->u;
	bool any = false;

	/* nothing held: no request (FUSE sends this at every close) */
	pthread_mutex_lock(&u->lk_lock);
	for (struct lk_rec *r = vp->locks ? vp->locks->ls.head : NULL; r;
	     r = r->next)
		any |= r->l.owner == owner &&
		       (r->l.flags & UVFS_LOCK_FLOCK) == lk.flags;
	pthread_mutex_unlock(&u->lk_lock);
	if (!any || (f->flags & O_PATH))
		return 0;
	return vop_lock(vp, file_fh(f), UVFS_LOCK_SET, &lk, f);
}

/* ---- asynchronous waits ------------------------------------------------ */

static struct lk_queue *queue_new(struct uvfs *u)
{
	struct lk_queue *q = calloc(1, sizeof(*q));

	if (q) {
		q->u = u;
		CDS_INIT_LIST_HEAD(&q->waits);
	}
	return q;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Should the thread look at w now?  => lk_lock held. */
static bool wait_due_locked(struct uvfs *u, struct uvfs_lock_wait *w,
			    const struct timespec *now)
{
	return u->lk_stop || atomic_load(&w->cancelled) ||
	       vn_dead(w->f->path.vp) || w->seq != u->lk_seq ||
	       (w->polled && !ts_before(now, &w->poll_at));
}

/* One look at w, without lk_lock: its end, or -EAGAIN (still waits;
 * *polled: try again at its poll time even without a kick).  A mount
 * whose gate is closed (suspended) is not waited at: the thread's
 * interruption (no_wait) ends such a wait at once, and w is polled. */
static int wait_try(struct uvfs_lock_wait *w, bool stop, bool *polled)
{
	struct vnode *vp = w->f->path.vp;
	struct uvfs_lock lk = w->lk;
	int r;

	*polled = false;
	if (atomic_load(&w->cancelled))
		return -EINTR;
	if (stop || vn_dead(vp))
		return -EIO;
	cred_set_current(&w->cred);
	r = vop_lock(vp, file_fh(w->f), UVFS_LOCK_SET, &lk, w->f);
	cred_set_current(NULL);
	if (r == -EINTR && !atomic_load(&w->cancelled)) {
		*polled = true;         /* the gate is closed: later */
		return -EAGAIN;
	}
	*polled = r == -EAGAIN && vp->sb->ops->lock != NULL;
	return r;
}

/* The interruption of a lock-wait thread: every wait at a closed gate
 * ends as soon as it would begin (wait_try). */
static void no_wait(void *data, struct uvfs_intr *w, int waiting)
{
	(void)data;
	if (waiting)
		uvfs_intr_cancel(w);
}

/* The lock-wait thread of q: see the head of the file. */
static void *wait_thread(void *arg)
{
	struct lk_queue *q = arg;
	struct uvfs *u = q->u;
	struct uvfs_intr *nw = uvfs_intr_new(no_wait);

	uvfs_intr_set(nw, NULL);        /* NULL (no memory): gate_is_closed
					   below keeps most waits out */
	pthread_mutex_lock(&u->lk_lock);
	for (;;) {
		struct uvfs_lock_wait *w, *first_poll = NULL;
		struct cds_list_head *pos;
		struct timespec now;
		bool due = false;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (pos = q->waits.next; pos != &q->waits;) {
			bool stop = u->lk_stop, polled;
			struct file *f;
			int r;

			w = cds_list_entry(pos, struct uvfs_lock_wait, link);
			if (!wait_due_locked(u, w, &now)) {
				pos = pos->next;
				continue;
			}
			w->seq = u->lk_seq;
			pthread_mutex_unlock(&u->lk_lock);
			if (!nw && !stop &&
			    gate_is_closed(&w->f->path.vp->sb->gate)) {
				polled = true;
				r = -EAGAIN;
			} else {
				r = wait_try(w, stop, &polled);
			}
			pthread_mutex_lock(&u->lk_lock);
			if (r == -EAGAIN) {
				w->polled = polled;
				if (polled) {
					deadline_in(&w->poll_at,
						    (int)w->poll_ms);
					if (w->poll_ms < POLL_MAX_MS)
						w->poll_ms *= 2;
				}
				pos = pos->next;  /* only we unlink */
				continue;
			}
			cds_list_del(&w->link);
			u->lk_nwaits--;
			pthread_cond_broadcast(&u->lk_cv);  /* lock_stop */
			pthread_mutex_unlock(&u->lk_lock);
			f = w->f;
			w->done(w->arg, r);     /* w may be gone from here */
			file_put(f);
			pthread_mutex_lock(&u->lk_lock);
			/* from the oldest again (a grant moved lk_seq) */
			clock_gettime(CLOCK_MONOTONIC, &now);
			pos = q->waits.next;
		}
		if (q->stop && cds_list_empty(&q->waits))
			break;
		/* what moved while we tried, else sleep until a kick or the
		 * first poll time (lk_seq and the records: lk_lock) */
		clock_gettime(CLOCK_MONOTONIC, &now);
		cds_list_for_each_entry(w, &q->waits, link) {
			due |= wait_due_locked(u, w, &now);
			if (w->polled && (!first_poll ||
			    ts_before(&w->poll_at, &first_poll->poll_at)))
				first_poll = w;
		}
		if (due)
			continue;
		if (first_poll) {
			struct timespec until = first_poll->poll_at;

			pthread_cond_timedwait(&u->lk_cv, &u->lk_lock, &until);
		} else {
			pthread_cond_wait(&u->lk_cv, &u->lk_lock);
		}
	}
	pthread_mutex_unlock(&u->lk_lock);
	uvfs_intr_set(NULL, NULL);
	uvfs_intr_free(nw);
	return NULL;
}

/* Stops q's thread and frees q.  Not on that thread: a file's last
 * reference, which it drops, never frees a superblock in the caller
 * (the teardown goes to a worker). */
static void queue_stop(struct uvfs *u, struct lk_queue *q)
{
	bool on;

	if (!q)
		return;
	pthread_mutex_lock(&u->lk_lock);
	q->stop = true;
	pthread_cond_broadcast(&u->lk_cv);
	on = q->on;
	pthread_mutex_unlock(&u->lk_lock);
	if (on) {
		UVFS_VERIFY(!pthread_equal(q->thread, pthread_self()));
		pthread_join(q->thread, NULL);
	}
	free(q);
}

void lock_stop(struct uvfs *u)
{
	pthread_mutex_lock(&u->lk_lock);
	u->lk_stop = true;
	pthread_cond_broadcast(&u->lk_cv);
	/* the superblocks' queues end theirs too (u->lk_stop), and keep
	 * their threads until their sbs go */
	while (u->lk_nwaits > 0)
		pthread_cond_wait(&u->lk_cv, &u->lk_lock);
	pthread_mutex_unlock(&u->lk_lock);
	queue_stop(u, u->lk_q);
	u->lk_q = NULL;
}

void lock_sb_stop(struct uvfs_sb *sb)
{
	if (sb->lk_q)
		queue_stop(sb->u, sb->lk_q);
	sb->lk_q = NULL;
}

int file_lock_async(struct file *f, const struct uvfs_cred *cred,
		    uint64_t owner, int flock, const struct flock *fl,
		    pid_t pid, struct uvfs_lock_wait *w,
		    uvfs_lock_done_fn done, void *arg)
{
	struct vnode *vp = f->path.vp;
	struct uvfs *u = vp->sb->u;
	struct uvfs_lock lk = { .owner = owner, .pid = pid };
	uint64_t seq;
	int r;

	if (fl->l_type == F_RDLCK || fl->l_type == F_WRLCK)
		lk.type = fl->l_type;
	else if (fl->l_type == F_UNLCK)
		return file_lock_handle(f, owner, flock, F_SETLK,
					(struct flock *)fl, pid, NULL);
	else
		return -EINVAL;
	if (flock) {
		lk.flags = UVFS_LOCK_FLOCK;
		lk.start = 0;
		lk.end = UVFS_LOCK_EOF;
	} else if ((r = range_from(f, fl, &lk)) != 0) {
		return r;
	}
	pthread_mutex_lock(&u->lk_lock);
	seq = u->lk_seq;
	pthread_mutex_unlock(&u->lk_lock);
	r = lock_file(f, UVFS_LOCK_SET, false, &lk, -1, NULL);
	if (r != -EAGAIN)
		return r;

	pthread_mutex_lock(&u->lk_lock);
	if (u->lk_stop) {
		pthread_mutex_unlock(&u->lk_lock);
		return -EIO;
	}
	/* the driver's locks: the sb's own queue; the core's: the
	 * instance's */
	struct lk_queue *q = u->lk_q;
	if (vp->sb->ops->lock) {
		if (!vp->sb->lk_q)
			vp->sb->lk_q = queue_new(u);
		q = vp->sb->lk_q;
	}
	if (!q) {
		pthread_mutex_unlock(&u->lk_lock);
		return -ENOLCK;
	}
	if (!q->on) {
		if (pthread_create(&q->thread, NULL, wait_thread, q) != 0) {
			pthread_mutex_unlock(&u->lk_lock);
			return -ENOLCK;
		}
		q->on = true;
	}
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	w->f = f;
	w->lk = lk;
	w->cred = *cred;
	w->done = done;
	w->arg = arg;
	w->seq = seq;
	/* a driver's lock: its other clients release without telling us */
	w->polled = vp->sb->ops->lock != NULL;
	deadline_in(&w->poll_at, POLL_MIN_MS);
	w->poll_ms = 2 * POLL_MIN_MS;
	atomic_store(&w->u, u);
	cds_list_add_tail(&w->link, &q->waits);
	u->lk_nwaits++;
	pthread_cond_broadcast(&u->lk_cv);
	pthread_mutex_unlock(&u->lk_lock);
	return -EINPROGRESS;
}

/*
 * locks.c - FUSE's file locks: getlk, setlk and flock over the node API's
 * uvfs_file_lock, and the release of a process's POSIX locks at a close
 * (FLUSH, with its lock_owner) and of a description's flock locks at its
 * RELEASE (flock_release).
 *
 * Owners are the kernel's (fi->lock_owner): a process (its files table)
 * for fcntl's POSIX locks, the open file for OFD and flock locks; the core
 * never mixes owners of two instances (docs/fuse.md, "Locks").
 *
 * A blocking setlk (F_SETLKW, flock without LOCK_NB) occupies a worker
 * thread while it waits.  They are bounded: at most half of the session's
 * threads wait at once (more answer ENOLCK), so the session always has
 * threads left to read the unlock, the INTERRUPT or the FORGET that ends
 * a wait; and the callers of one uid at most a quarter of them
 * (wait_begin), so that one user cannot take every wait and have every
 * other user's blocking lock on the mount refused.  A wait ends when the
 * lock is granted, when the kernel sends INTERRUPT (a signal to the
 * waiting process: EINTR, and the system call restarts or fails as the
 * kernel decides), or when the file dies (revoke, forced unmount: EIO).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/file.h>

static void interrupted(fuse_req_t req, void *data)
{
	(void)req;
	uvfs_lock_wait_cancel(data);
}

/* Counts a blocking wait of a caller of uid.  => false (ENOLCK) when the
 * session's waits, or that uid's, are at their cap. */
static bool wait_begin(struct uvfs_fuse *uf, uid_t uid)
{
	unsigned cap = uf->max_threads / 2, per_uid = uf->max_threads / 4;
	struct lk_uid *e = NULL;
	bool ok = false;

	if (per_uid < 1)
		per_uid = 1;
	pthread_mutex_lock(&uf->lk_lock);
	if (!uf->lk_uids && cap > 0)
		uf->lk_uids = calloc(cap, sizeof(*uf->lk_uids));
	if (!uf->lk_uids || uf->lk_waiting >= cap)
		goto out;
	for (unsigned i = 0; i < uf->lk_nuids && !e; i++)
		if (uf->lk_uids[i].uid == uid)
			e = &uf->lk_uids[i];
	if (e && e->n >= per_uid)
		goto out;
	if (!e) {               /* lk_nuids <= lk_waiting < cap */
		e = &uf->lk_uids[uf->lk_nuids++];
		*e = (struct lk_uid){ .uid = uid, .n = 0 };
	}
	e->n++;
	uf->lk_waiting++;
	ok = true;
out:
	pthread_mutex_unlock(&uf->lk_lock);
	return ok;
}

static void wait_end(struct uvfs_fuse *uf, uid_t uid)
{
	pthread_mutex_lock(&uf->lk_lock);
	for (unsigned i = 0; i < uf->lk_nuids; i++) {
		if (uf->lk_uids[i].uid != uid)
			continue;
		if (--uf->lk_uids[i].n == 0)
			uf->lk_uids[i] = uf->lk_uids[--uf->lk_nuids];
		break;
	}
	uf->lk_waiting--;
	pthread_mutex_unlock(&uf->lk_lock);
}

/* One lock call; a blocking one counted, bounded and interruptible. */
static int lock_call(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int flock, int cmd, struct flock *fl, const char *what)
{
	struct uvfs_fuse *uf = UF(req);
	struct uvfs_lock_wait *w = NULL;
	pid_t pid = fuse_req_ctx(req)->pid;
	uid_t uid = fuse_req_ctx(req)->uid;
	int err;

	if (cmd == F_SETLKW) {
		if (!wait_begin(uf, uid))
			return -ENOLCK;
		if (!(w = uvfs_lock_wait_new())) {
			wait_end(uf, uid);
			return -ENOLCK;
		}
		fuse_req_interrupt_func(req, interrupted, w);
	}
	req_begin(req, NODE(uf, ino), what);
	if (w)          /* the INTERRUPT is the lock wait's (uvfs_intr's arm
			   would take it over): not the gate's then */
		uvfs_intr_set(NULL, NULL);
	err = uvfs_file_lock(FH(fi)->f, fi->lock_owner, flock, cmd, fl, pid,
			     w);
	req_end(uf);
	if (w) {
		fuse_req_interrupt_func(req, NULL, NULL); /* waits for it */
		uvfs_lock_wait_free(w);
		wait_end(uf, uid);
	}
	return err;
}

void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      struct flock *lock)
{
	int err = lock_call(req, ino, fi, 0, F_GETLK, lock, "getlk");

	if (err)
		return reply_err(req, err);
	atomic_fetch_add(&UF(req)->nreq, 1);
	fuse_reply_lock(req, lock);
}

void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      struct flock *lock, int sleep)
{
	reply_err(req, lock_call(req, ino, fi, 0, sleep ? F_SETLKW : F_SETLK,
			     lock, "setlk"));
}

void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	      int op)
{
	struct flock fl = { .l_whence = SEEK_SET };
	int cmd = (op & LOCK_NB) ? F_SETLK : F_SETLKW;

	switch (op & ~LOCK_NB) {
	case LOCK_SH: fl.l_type = F_RDLCK; break;
	case LOCK_EX: fl.l_type = F_WRLCK; break;
	case LOCK_UN: fl.l_type = F_UNLCK; cmd = F_SETLK; break;
	default: return reply_err(req, -EINVAL);
	}
	reply_err(req, lock_call(req, ino, fi, 1, cmd, &fl, "flock"));
}

int locks_at_close(struct fuse_file_info *fi)
{
	struct fh *h = FH(fi);

	if (fi->flock_release)
		uvfs_file_unlock_owner(h->f, fi->lock_owner, 1);
	/* FLUSH: a close by the owner process ends its POSIX locks */
	return fi->flush ? uvfs_file_unlock_owner(h->f, fi->lock_owner, 0)
			 : 0;
}

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
 * A blocking setlk (F_SETLKW, flock without LOCK_NB) waits in the core
 * (uvfs_file_lock_async), not on a thread: the handler returns, and the
 * request is answered by wait_done, on the core's lock-wait thread, when
 * the wait ends: granted; the kernel's INTERRUPT (a signal to the waiting
 * process: the wait is cancelled, EINTR, and the system call restarts or
 * fails as the kernel decides); the file's death (revoke, forced unmount:
 * EIO); the session's end (lk_drain: EINTR).  So a wait costs a record
 * (struct lk_wait and the core's struct uvfs_lock_wait, some hundred
 * bytes), not a thread, and the threads stay for the unlock, the
 * INTERRUPT and every other request however many wait.  The records are
 * bounded for memory: LK_WAITS_UID per caller's uid, so that one user
 * cannot take them all, and LK_WAITS_MAX in all (more answer ENOLCK).
 * Each wait is also a process blocked in the kernel, so a user has no
 * more of them than it may have tasks.
 *
 * Lifecycle of a struct lk_wait: made by wait_begin (counted, listed on
 * uf->lk_list, its interrupt function set) before the request goes to
 * the core; ended by whoever answers the request: lock_call when the
 * core answered at once, else wait_done.  Either clears the interrupt
 * function first (libfuse waits out a call of it in progress, so the
 * cancel never meets a freed record), answers, and then takes it off
 * the list (wait_end); lk_drain, which cancels the listed ones, holds
 * uf->lk_lock while it does, so it never cancels a freed one.
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

#define LK_WAITS_UID    1024    /* waiting records per caller's uid */
#define LK_WAITS_MAX    16384   /* in all */

struct lk_wait {
	struct uvfs_fuse *uf;           /* const */
	fuse_req_t req;                 /* const */
	uid_t uid;                      /* const */
	struct uvfs_lock_wait *w;       /* const: the core's record */
	struct lk_wait *prev, *next;    /* uf->lk_lock: on uf->lk_list */
};

static void interrupted(fuse_req_t req, void *data)
{
	(void)req;
	uvfs_lock_wait_cancel(data);
}

/* A record for a blocking wait of a caller of uid, counted and listed.
 * => NULL (ENOLCK) when that uid's records, or all of them, are at their
 * cap, or out of memory. */
static struct lk_wait *wait_begin(struct uvfs_fuse *uf, fuse_req_t req,
				  uid_t uid)
{
	struct lk_wait *lw = calloc(1, sizeof(*lw));
	struct lk_uid *e = NULL;

	if (!lw || !(lw->w = uvfs_lock_wait_new())) {
		free(lw);
		return NULL;
	}
	lw->uf = uf;
	lw->req = req;
	lw->uid = uid;
	pthread_mutex_lock(&uf->lk_lock);
	if (uf->lk_waiting >= LK_WAITS_MAX)
		goto full;
	for (unsigned i = 0; i < uf->lk_nuids && !e; i++)
		if (uf->lk_uids[i].uid == uid)
			e = &uf->lk_uids[i];
	if (e && e->n >= LK_WAITS_UID)
		goto full;
	if (!e) {
		if (uf->lk_nuids == uf->lk_capuids) {
			unsigned cap = uf->lk_capuids ? 2 * uf->lk_capuids : 8;
			struct lk_uid *n = realloc(uf->lk_uids,
						   cap * sizeof(*n));
			if (!n)
				goto full;
			uf->lk_uids = n;
			uf->lk_capuids = cap;
		}
		e = &uf->lk_uids[uf->lk_nuids++];
		*e = (struct lk_uid){ .uid = uid, .n = 0 };
	}
	e->n++;
	uf->lk_waiting++;
	lw->next = uf->lk_list;
	if (lw->next)
		lw->next->prev = lw;
	uf->lk_list = lw;
	pthread_mutex_unlock(&uf->lk_lock);
	fuse_req_interrupt_func(req, interrupted, lw->w);
	return lw;
full:
	pthread_mutex_unlock(&uf->lk_lock);
	uvfs_lock_wait_free(lw->w);
	free(lw);
	return NULL;
}

/* Ends lw: its interrupt function cleared (=> the request not answered
 * yet); the caller answers it, then calls wait_end. */
static void wait_unarm(struct lk_wait *lw)
{
	fuse_req_interrupt_func(lw->req, NULL, NULL);   /* waits for it */
}

static void wait_end(struct lk_wait *lw)
{
	struct uvfs_fuse *uf = lw->uf;

	pthread_mutex_lock(&uf->lk_lock);
	for (unsigned i = 0; i < uf->lk_nuids; i++) {
		if (uf->lk_uids[i].uid != lw->uid)
			continue;
		if (--uf->lk_uids[i].n == 0)
			uf->lk_uids[i] = uf->lk_uids[--uf->lk_nuids];
		break;
	}
	uf->lk_waiting--;
	if (lw->prev)
		lw->prev->next = lw->next;
	else
		uf->lk_list = lw->next;
	if (lw->next)
		lw->next->prev = lw->prev;
	pthread_cond_broadcast(&uf->lk_cv);
	pthread_mutex_unlock(&uf->lk_lock);
	uvfs_lock_wait_free(lw->w);
	free(lw);
}

/* The core's answer to a wait (uvfs_file_lock_async's callback): on its
 * lock-wait thread, none of its locks held. */
static void wait_done(void *arg, int err)
{
	struct lk_wait *lw = arg;

	wait_unarm(lw);
	reply_err(lw->req, err);
	wait_end(lw);
}

void lk_drain(struct uvfs_fuse *uf)
{
	pthread_mutex_lock(&uf->lk_lock);
	for (struct lk_wait *lw = uf->lk_list; lw; lw = lw->next)
		uvfs_lock_wait_cancel(lw->w);
	while (uf->lk_waiting > 0)
		pthread_cond_wait(&uf->lk_cv, &uf->lk_lock);
	pthread_mutex_unlock(&uf->lk_lock);
}

/* One lock call.  A blocking one waits in the core: -EINPROGRESS, the
 * request is answered later (wait_done) and must not be touched. */
static int lock_call(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int flock, int cmd, struct flock *fl, const char *what)
{
	struct uvfs_fuse *uf = UF(req);
	struct lk_wait *lw = NULL;
	pid_t pid = fuse_req_ctx(req)->pid;
	uid_t uid = fuse_req_ctx(req)->uid;
	int err;

	if (cmd == F_SETLKW && !(lw = wait_begin(uf, req, uid)))
		return -ENOLCK;
	req_begin(req, NODE(uf, ino), what);
	if (lw) {       /* the INTERRUPT is the lock wait's (uvfs_intr's arm
			   would take it over): not the gate's then */
		uvfs_intr_set(NULL, NULL);
		err = uvfs_file_lock_async(FH(fi)->f, fi->lock_owner, flock,
					   fl, pid, lw->w, wait_done, lw);
	} else {
		err = uvfs_file_lock(FH(fi)->f, fi->lock_owner, flock, cmd,
				     fl, pid, NULL);
	}
	req_end(uf);
	if (err == -EINPROGRESS)
		return err;     /* lw and req: wait_done's now */
	if (lw) {
		wait_unarm(lw);
		wait_end(lw);   /* (answered by the caller: nobody waits for
				   this one) */
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
	int err = lock_call(req, ino, fi, 0, sleep ? F_SETLKW : F_SETLK,
			    lock, "setlk");

	if (err != -EINPROGRESS)
		reply_err(req, err);
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
	int err = lock_call(req, ino, fi, 1, cmd, &fl, "flock");

	if (err != -EINPROGRESS)
		reply_err(req, err);
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

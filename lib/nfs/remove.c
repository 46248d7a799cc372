/*
 * remove.c - a name's removal (unlink, or a rename over it) against the
 * opens of its file: silly rename, and the pins that order the two.
 *
 * NFSv3 has no open: a file removed on the server is gone, and every
 * handle to it answers NFS3ERR_STALE.  So a removal through this mount
 * that would take an open file's last name renames it to ".nfsXXXX" in
 * the same directory instead (silly rename, as Linux's client does); the
 * name is kept in the node and removed at the file's last close
 * (nv_release).  Whether a file is open and whether this is its last
 * name must hold from the check to the REMOVE or RENAME, or the open file
 * goes stale under its descriptor (EIO or ESTALE on a read):
 *
 *   - an open that starts meanwhile: nv_open counts itself first
 *     (nn_open_begin), then waits for the removals in flight that may not
 *     have seen it;
 *   - another removal of another name of the same file (two threads
 *     removing its last two links in two directories, each seeing the
 *     other's): removals of one file's names are made one at a time, and
 *     the link count is asked of the server after the wait, not taken
 *     from the cache.
 *
 * Owns struct rmpin: one per removal in flight, on its caller's stack,
 * on s->rm_pins from nn_remove_begin to nn_remove_end.  A pin names the
 * file (ino) the name led to, or, when nothing was open on the mount (the
 * common case: no LOOKUP is made to find the file), any file.
 *
 * Owns struct sillyrm and the reaper thread too: the REMOVE of a
 * silly-renamed file at its last close, which nobody waits for ("The
 * REMOVE at the last close" below).
 *
 * Locks: s->lock guards s->rm_pins, the nodes' opens and the queue of
 * REMOVEs at last closes (s->sr_*); s->rm_cv is signalled when a pin
 * goes, s->sr_cv when a REMOVE is queued or ends and when the reaper is
 * stopped or ends.  No request is made under s->lock; the waits are for
 * requests that have deadlines (a forced unmount ends them at once), or
 * are bounded by the waiter's own deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "nfs_i.h"
#include "sys.h"

/* Whether a removal in flight may take the file ino: a pin of ino, or of
 * any file.  => s->lock held. */
static bool pinned_locked(struct nsb *s, uint64_t ino)
{
	for (struct rmpin *p = s->rm_pins; p; p = p->next)
		if (p->ino == ino || (p->any && ino != 0))
			return true;
	return false;
}

static void pin_locked(struct nsb *s, struct rmpin *pin, uint64_t ino,
		       bool any)
{
	pin->ino = ino;
	pin->any = any;
	s->rm_seq++;
	pin->next = s->rm_pins;
	s->rm_pins = pin;
	pin->held = true;
}

void nn_remove_end(struct nsb *s, struct rmpin *pin)
{
	if (!pin->held)
		return;
	pthread_mutex_lock(&s->lock);
	struct rmpin **pp = &s->rm_pins;
	while (*pp != pin)
		pp = &(*pp)->next;
	*pp = pin->next;
	pin->held = false;
	pthread_cond_broadcast(&s->rm_cv);
	pthread_mutex_unlock(&s->lock);
}

/* Renames name in d, the last name of the open file ino, to a
 * ".nfsXXXX" name in d and keeps that name in its node, for the last
 * close to remove.  0 or an error. */
static int silly_rename(struct nsb *s, struct n3 *c, struct node *d,
			const char *name, uint64_t ino)
{
	struct fh3 dfh;
	char silly[64];
	int r = nn_fh(s, d, &dfh);

	if (r)
		return r;
	pthread_mutex_lock(&s->lock);
	unsigned seq = ++s->silly_seq;
	pthread_mutex_unlock(&s->lock);
	snprintf(silly, sizeof(silly), ".nfs%016llx%08x",
		 (unsigned long long)ino, seq);
	/* the REMOVE at the last close first: once renamed, only it gets
	 * the file removed, and the close may not fail */
	struct sillyrm *e = nn_silly_new(s, &dfh, silly, c->cred);
	if (!e)
		return -ENOMEM;
	struct n3attr da = { 0 };
	uint64_t agen = nn_attr_gen(s);
	r = n3_rename(c, &dfh, name, &dfh, silly, &da, NULL);
	nn_name_gone(s, d, name);
	nn_forget_attr(s, d->ino);
	nn_forget_attr(s, ino);
	nn_attr(s, d, &da, agen);
	if (r) {
		nn_silly_free(e);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	/* by its ino, not a pointer kept from before: a node with no open
	 * left may be gone from the table meanwhile */
	struct node *n = nn_find_locked(s, ino);
	if (n && n->opens > 0 && !n->silly) {
		n->silly = e;
		nn_silly_opened_locked(s, e);
		e = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (e)  /* closed meanwhile: its REMOVE now, by the reaper's rules */
		nn_silly_remove(s, e);
	return 0;
}

int nn_remove_begin(struct nsb *s, struct n3 *c, struct node *d,
		    const char *name, const char *same_as_dir_name,
		    struct node *same_dir, struct rmpin *pin)
{
	struct uvfs_ident id, src;
	struct fh3 fh;
	int r;

	pin->held = false;
	pthread_mutex_lock(&s->lock);
	if (s->nopen == 0) {
		/* nothing is open: no lookup needed; an open that starts
		 * now waits for this removal */
		pin_locked(s, pin, 0, true);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	r = nn_lookup_install(s, c, d, name, &id, &fh);
	if (r)
		return r == -ENOENT ? 0 : nn_handle_stale(s, d, r);
	uint64_t ino = id.ino;
	if (same_as_dir_name) {
		/* rename onto another name of the same file does nothing:
		 * nothing to hide */
		r = nn_lookup_install(s, c, same_dir, same_as_dir_name, &src,
				      NULL);
		if (r)
			return nn_handle_stale(s, same_dir, r);
		if (src.ino == ino)
			return 0;
	}
	pthread_mutex_lock(&s->lock);
	while (pinned_locked(s, ino))
		pthread_cond_wait(&s->rm_cv, &s->lock);
	pin_locked(s, pin, ino, false);
	struct node *n = nn_find_locked(s, ino);
	bool open = n && n->opens > 0 && !n->silly && !S_ISDIR(n->type);
	pthread_mutex_unlock(&s->lock);
	if (!open)
		return 0;
	/* only its last name: with another link left it stays reachable.
	 * Asked now, under the pin: what the lookup said may be old */
	struct stat st;
	r = n3_getattr(c, &fh, &st);
	if (r == -ESTALE || (r == 0 && st.st_nlink > 1))
		return 0;       /* gone already (the removal says how), or a
				 * link is left: the pin is the caller's */
	if (r == 0)
		r = silly_rename(s, c, d, name, ino);
	nn_remove_end(s, pin);
	return r ? r : 1;
}

bool nn_open_begin(struct nsb *s, struct node *n)
{
	bool waited = false;

	pthread_mutex_lock(&s->lock);
	n->opens++;
	s->nopen++;
	while (pinned_locked(s, n->ino)) {
		waited = true;
		pthread_cond_wait(&s->rm_cv, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return waited;
}

void nn_open_undo(struct nsb *s, struct node *n)
{
	struct sillyrm *silly = NULL;

	pthread_mutex_lock(&s->lock);
	n->opens--;
	s->nopen--;
	if (n->opens == 0) {
		/* the other opens closed while this one failed: it is the
		 * last, and the silly-renamed name's REMOVE is its to start
		 * (a COMMIT a failed flush owes stays owed: n->dirty, for
		 * the next last release) */
		silly = n->silly;
		n->silly = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (silly)
		nn_silly_remove(s, silly);
}

/* ---- the REMOVE at the last close (the reaper) ---------------------------
 *
 * A silly-renamed file's name is removed at its last close, which waits
 * for nothing (DESIGN invariant 8: no I/O in the final put): the close
 * sends the REMOVE, as the unlinker, if it can go at once (NC_NOWAIT: no
 * wait for a reconnect, a free tag or room in the link), queues a
 * struct sillyrm on s->sr_head and returns; the mount's reaper thread
 * (started by the first one, joined at the unmount) sends it if the
 * close could not, and takes its answer:
 *
 *   - the name gone (NFS3_OK; or NOENT: a REMOVE lost with its
 *     connection and sent again may have been done the first time): it
 *     ends;
 *   - "not now" (JUKEBOX), or lost with its connection (a soft mount
 *     fails a REMOVE out at a loss), refused while the server is
 *     unreachable, out of memory: it goes again after the driver's one
 *     pause (n3_backoff: 10 ms doubling to 1 s), until the mount's
 *     timeout after it first went;
 *   - any other answer, or its deadline passed: given up, the ".nfs"
 *     name left on the server, as Linux leaves one it could not remove.
 *
 * The close sends it itself so that it is on the link before the close
 * returns, ahead of what the closer does next (a listing of the
 * directory, its RMDIR), as when it was sent and forgotten; sent by the
 * reaper alone, a listing right after the close showed the ".nfs" name
 * whenever the reaper was later than the listing (the differential test:
 * in each of two runs of 1 500 sequences, the tree a sequence left).
 * Every pending REMOVE is in flight at once.  The reaper waits for the
 * oldest one's answer (by its deadline: unanswered then, it is fenced as
 * every call is), takes the others' that have come, and sleeps until the
 * next pause ends or another is queued: an answer the server holds back
 * delays the resends behind it, never past its deadline.
 *
 * While pending they are counted (s->sr_n; in a directory: those on
 * s->sr_head with its handle), so that an RMDIR, or a RENAME over a
 * directory, answered "not empty" because of one waits for its end and
 * asks once more (nn_rmdir), as Linux's rmdir waits for the silly deletes
 * of the directory (rmdir_sem).  A forced unmount drops them at once
 * (nn_silly_cancel, before the connection is killed: nothing is sent
 * after it).  An unmount gives them until the mount's timeout
 * (nn_silly_fini), then drops what is left: Linux keeps the superblock
 * active until its async unlinks end (nfs_sb_active, nfs_sb_deactive),
 * so umount(2) returns and they go on for as long as the server says
 * JUKEBOX (every 5 s) or, on a hard mount, is away; here the unmount
 * returns when the driver is done with the server, so their wait has
 * the bound every wait has, the one each would have had with the mount
 * still there.
 */

/* How long an RMDIR answered "not empty" waits for the last close of a
 * silly-renamed file of its directory that is still open here. */
#define SILLY_CLOSE_MS 1000

/* Takes e off the queue: it ended.  => s->lock held. */
static void sr_unlink_locked(struct nsb *s, struct sillyrm *e)
{
	struct sillyrm **pp = &s->sr_head;

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	s->sr_n--;
	s->sr_ended++;
	pthread_cond_broadcast(&s->sr_cv);
}

static void sr_free(struct sillyrm *e)
{
	if (e->pend)
		n3_remove_drop(e->pend);        /* its reply dropped */
	free(e->name);
	free(e);
}

void nn_silly_free(struct sillyrm *e)
{
	if (e)
		sr_free(e);
}

/* e's try ended with r (its answer, or why it did not go): true if e is
 * done, else it goes again after the policy's next pause. */
static bool sr_answer(struct sillyrm *e, int r)
{
	if (r == 0 || r == -ENOENT)
		return true;
	if (r == -EAGAIN || r == -EIO || r == -ENOMEM) {
		int ms = n3_backoff(&e->pause_ms);
		if (ms_left(&e->dl) > ms) {
			e->again_ns = mono_now_ns() + (uint64_t)ms * 1000000u;
			return false;
		}
	}
	return true;    /* given up: the name stays on the server */
}

/* Sends e (again), as the unlinker, by its deadline (set at the first
 * try); flags NC_NOWAIT: only if it can go at once.  0 or why it did not
 * go. */
static int sr_start(struct nsb *s, struct sillyrm *e, unsigned flags)
{
	if (!e->went) {
		deadline_in(&e->dl, s->timeout_ms);
		e->went = true;
	}
	struct n3 c = { .nc = s->nc, .dl = e->dl, .flags = flags,
			.cred = e->has_cred ? &e->cred : NULL };
	int r = n3_remove_start(&c, &e->dir, e->name, &e->pend);

	if (r)
		e->pend = NULL;
	return r;
}

/* One round of the reaper: sends every REMOVE due (new, or its pause
 * over), then waits for the oldest answer in flight and takes the others
 * that have come.  Ends early once stopped (what is left is dropped). */
static void sr_round(struct nsb *s)
{
	uint64_t now = mono_now_ns();
	bool waited = false;

	for (int answers = 0; answers < 2; answers++) {
		pthread_mutex_lock(&s->lock);
		struct sillyrm *e = s->sr_stop ? NULL : s->sr_head;
		pthread_mutex_unlock(&s->lock);
		while (e) {
			bool done = false;
			if (!answers && !e->pend && e->again_ns <= now) {
				int r = sr_start(s, e, 0);
				done = r && sr_answer(e, r);
			} else if (answers && e->pend &&
				   (!waited || n3_remove_ready(e->pend))) {
				int r = n3_remove_end(e->pend);
				e->pend = NULL;
				waited = true;
				done = sr_answer(e, r);
			}
			pthread_mutex_lock(&s->lock);
			struct sillyrm *next = s->sr_stop ? NULL : e->next;
			if (done)
				sr_unlink_locked(s, e);
			pthread_mutex_unlock(&s->lock);
			if (done)
				sr_free(e);
			e = next;
		}
	}
}

static void *sr_main(void *arg)
{
	struct nsb *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->sr_stop && !(s->sr_drain && !s->sr_head)) {
		/* an answer to wait for, or when the next one goes */
		bool out = false;
		uint64_t next = UINT64_MAX;
		for (struct sillyrm *e = s->sr_head; e; e = e->next) {
			if (e->pend)
				out = true;
			else if (e->again_ns < next)
				next = e->again_ns;
		}
		if (out || next <= mono_now_ns()) {
			pthread_mutex_unlock(&s->lock);
			sr_round(s);
			pthread_mutex_lock(&s->lock);
		} else if (next == UINT64_MAX) {
			pthread_cond_wait(&s->sr_cv, &s->lock);
		} else {
			struct timespec t = {
				.tv_sec = (time_t)(next / 1000000000u),
				.tv_nsec = (long)(next % 1000000000u),
			};
			pthread_cond_timedwait(&s->sr_cv, &s->lock, &t);
		}
	}
	/* stopped (or drained): what is left is dropped, never sent again */
	struct sillyrm *left = s->sr_head;
	s->sr_head = NULL;
	s->sr_ended += s->sr_n;
	s->sr_n = 0;
	s->sr_exited = true;
	pthread_cond_broadcast(&s->sr_cv);
	pthread_mutex_unlock(&s->lock);
	while (left) {
		struct sillyrm *next = left->next;
		sr_free(left);
		left = next;
	}
	return NULL;
}

void nn_silly_init(struct nsb *s)
{
	cond_init_monotonic(&s->sr_cv);
}

struct sillyrm *nn_silly_new(struct nsb *s, const struct fh3 *dir,
			     const char *name, const struct uvfs_cred *cred)
{
	struct sillyrm *e = sys_calloc(1, sizeof(*e));
	char *dup = e ? sys_strdup(name) : NULL;
	int r = 0;

	if (!dup) {
		free(e);
		return NULL;
	}
	e->dir = *dir;
	e->name = dup;
	if (cred) {
		e->has_cred = true;
		e->cred = *cred;
	}
	/* the reaper now too (under the lock, as lib/9p/pool.c starts its
	 * threads), so that nothing at the last close can fail */
	pthread_mutex_lock(&s->lock);
	if (!s->sr_started) {
		r = sys_pthread_create(&s->sr_thread, NULL, sr_main, s);
		s->sr_started = r == 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (r) {
		sr_free(e);
		return NULL;
	}
	return e;
}

void nn_silly_opened_locked(struct nsb *s, struct sillyrm *e)
{
	e->next = s->so_head;
	s->so_head = e;
}

void nn_silly_remove(struct nsb *s, struct sillyrm *e)
{
	bool stop;

	/* now, if it can go without a wait; else the reaper sends it, its
	 * deadline counted from then (after a forced unmount nothing goes:
	 * the connection is killed) */
	pthread_mutex_lock(&s->lock);
	stop = s->sr_stop;
	pthread_mutex_unlock(&s->lock);
	if (!stop && sr_start(s, e, NC_NOWAIT) != 0)
		e->went = false;
	pthread_mutex_lock(&s->lock);
	/* closed: off the list of those still open, onto the queue in the
	 * same hold (a waiting RMDIR sees it on one or the other) */
	for (struct sillyrm **pp = &s->so_head; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->next = NULL;
	/* after a forced unmount it is dropped (an unmount comes after
	 * every close: sr_drain is only a guard).  Dropped, a REMOVE that
	 * went stays on its way, its answer unread; one that did not, its
	 * name stays behind */
	if (s->sr_stop || s->sr_drain) {
		pthread_mutex_unlock(&s->lock);
		sr_free(e);
		return;
	}
	struct sillyrm **pp = &s->sr_head;
	while (*pp)
		pp = &(*pp)->next;
	*pp = e;
	s->sr_n++;
	pthread_cond_broadcast(&s->sr_cv);
	pthread_mutex_unlock(&s->lock);
}

uint64_t nn_silly_mark(struct nsb *s)
{
	uint64_t m;

	pthread_mutex_lock(&s->lock);
	m = s->sr_ended;
	pthread_mutex_unlock(&s->lock);
	return m;
}

/* The REMOVEs on the list head in the directory dir.  => s->lock held. */
static unsigned sr_pending_in_locked(struct sillyrm *head,
				     const struct fh3 *dir)
{
	unsigned n = 0;

	for (struct sillyrm *e = head; e; e = e->next)
		n += fh3_eq(&e->dir, dir);
	return n;
}

/* The handle of the directory name in d: from the name cache, else
 * asked (LOOKUP). */
static int dir_handle(struct nsb *s, struct n3 *c, struct node *d,
		      const char *name, struct fh3 *fh)
{
	struct uvfs_ident id;

	if (nn_name_get(s, d, name, &id) == NNAME_POS) {
		pthread_mutex_lock(&s->lock);
		struct node *n = nn_find_locked(s, id.ino);
		if (n)
			*fh = n->fh;
		pthread_mutex_unlock(&s->lock);
		if (n)
			return 0;
	}
	struct fh3 dfh;
	int r = nn_fh(s, d, &dfh);
	return r ? r : n3_lookup(c, &dfh, name, fh, NULL);
}

bool nn_silly_wait(struct nsb *s, struct n3 *c, struct node *d,
		   const char *name, uint64_t mark)
{
	struct fh3 fh;
	bool any, waited = false, again;

	pthread_mutex_lock(&s->lock);
	any = s->sr_n > 0 || s->so_head;
	again = s->sr_ended != mark && !s->sr_stop;
	pthread_mutex_unlock(&s->lock);
	/* none pending: only if one ended since the RMDIR went (perhaps
	 * done after it) is it worth asking once more; no request to find
	 * out which directory */
	if (!any || dir_handle(s, c, d, name, &fh) != 0)
		return again && ms_left(&c->dl) > 0;
	/* a file still open here: its last close may be on its way (through
	 * FUSE a RELEASE comes after close(2) has returned, and may come
	 * after the RMDIR of its directory), but it may as well stay open:
	 * a moment, not the call's deadline */
	struct timespec close_dl;
	deadline_in(&close_dl, SILLY_CLOSE_MS);
	if (ms_left(&c->dl) < SILLY_CLOSE_MS)
		close_dl = c->dl;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool open = sr_pending_in_locked(s->so_head, &fh) > 0;
		if (s->sr_stop ||
		    (sr_pending_in_locked(s->sr_head, &fh) == 0 && !open))
			break;
		waited = true;
		if (pthread_cond_timedwait(&s->sr_cv, &s->lock,
					   open ? &close_dl : &c->dl) ==
		    ETIMEDOUT)
			break;
	}
	again = !s->sr_stop && sr_pending_in_locked(s->sr_head, &fh) == 0 &&
		sr_pending_in_locked(s->so_head, &fh) == 0 &&
		(waited || s->sr_ended != mark);
	pthread_mutex_unlock(&s->lock);
	/* past the deadline a second try would only say -ETIMEDOUT where
	 * the server's answer was "not empty" */
	return again && ms_left(&c->dl) > 0;
}

int nn_rmdir(struct nsb *s, struct n3 *c, struct node *d, const char *name,
	     struct n3attr *da)
{
	struct fh3 dfh;
	uint64_t mark = nn_silly_mark(s);
	int r = nn_fh(s, d, &dfh);

	if (r)
		return r;
	r = n3_remove(c, &dfh, name, true, da);

	/* not empty: perhaps only of a silly-renamed file whose REMOVE, sent
	 * at its last close, the server has not done yet (RFC 1813 allows
	 * NFS3ERR_EXIST for it too) */
	if ((r == -ENOTEMPTY || r == -EEXIST) &&
	    nn_silly_wait(s, c, d, name, mark))
		r = n3_remove(c, &dfh, name, true, da);
	return r;
}

void nn_silly_cancel(struct nsb *s)
{
	pthread_mutex_lock(&s->lock);
	s->sr_stop = true;
	pthread_cond_broadcast(&s->sr_cv);
	pthread_mutex_unlock(&s->lock);
}

void nn_silly_fini(struct nsb *s)
{
	struct timespec dl;
	bool started, late;

	deadline_in(&dl, s->timeout_ms);
	pthread_mutex_lock(&s->lock);
	s->sr_drain = true;
	pthread_cond_broadcast(&s->sr_cv);
	started = s->sr_started;
	while (started && !s->sr_exited && !s->sr_stop &&
	       pthread_cond_timedwait(&s->sr_cv, &s->lock, &dl) != ETIMEDOUT)
		;
	late = started && !s->sr_exited && !s->sr_stop;
	if (late) {
		s->sr_stop = true;
		pthread_cond_broadcast(&s->sr_cv);
	}
	pthread_mutex_unlock(&s->lock);
	if (late)
		nconn_cancel(s->nc);    /* the reaper's waits end now */
	if (started)
		pthread_join(s->sr_thread, NULL);
	pthread_cond_destroy(&s->sr_cv);
}

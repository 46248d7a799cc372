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
 * Locks: s->lock guards s->rm_pins and the nodes' opens; s->rm_cv is
 * signalled when a pin goes.  No request is made under s->lock; the waits
 * are for requests that have deadlines (a forced unmount ends them at
 * once), so they are bounded too.
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
	struct fh3 dfh = nn_fh(s, d);
	char silly[64];

	pthread_mutex_lock(&s->lock);
	unsigned seq = ++s->silly_seq;
	pthread_mutex_unlock(&s->lock);
	snprintf(silly, sizeof(silly), ".nfs%016llx%08x",
		 (unsigned long long)ino, seq);
	struct n3attr da = { 0 };
	int r = n3_rename(c, &dfh, name, &dfh, silly, &da, NULL);
	nn_name_gone(s, d, name);
	nn_forget_attr(s, d->ino);
	nn_forget_attr(s, ino);
	nn_attr(s, d, &da);
	if (r)
		return r;
	char *dup = sys_strdup(silly);
	pthread_mutex_lock(&s->lock);
	/* by its ino, not a pointer kept from before: a node with no open
	 * left may be gone from the table meanwhile */
	struct node *n = nn_find_locked(s, ino);
	if (n && n->opens > 0 && !n->silly && dup) {
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
	pthread_mutex_lock(&s->lock);
	n->opens--;
	s->nopen--;
	pthread_mutex_unlock(&s->lock);
}

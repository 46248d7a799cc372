/*
 * cache.c - what the 9P2000.L client driver keeps of the server for
 * actimeo= (docs/9p-client.md, "Round trips"): each node's last
 * attributes, whether a name the server said lately still names its node
 * (the name cache, over names.c's index), and a directory's last listing
 * (for the walks and getattrs ahead of an "ls -l", lsplus.c).  Nothing is
 * answered from it while the session is not up, nor after a recovery
 * (the server's files may have changed meanwhile), nor past actimeo
 * (cache=loose: until a change through this mount).
 *
 * Owns no object: what it keeps is in struct node (driver.h); a listing's
 * names are made by ls_note and freed by ls_free_locked (a listing from
 * the start, or node_free).
 *
 * Locks: sb.lock (driver.h, struct node), never held across a request.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver.h"
#include "sys.h"

void ls_free_locked(struct node *dir)
{
	for (unsigned i = 0; i < dir->nls; i++)
		free(dir->ls[i]);
	free(dir->ls);
	dir->ls = NULL;
	dir->nls = 0;
	dir->pf_next = 0;
}

void ls_note(struct p9sb *s, struct node *dir, bool start, const char *name)
{
	char *dup = NULL;

	if (s->actimeo_ns == 0 || (name[0] == '.' && (!name[1] ||
	    (name[1] == '.' && !name[2]))))
		name = NULL;
	pthread_mutex_lock(&s->lock);
	if (start)
		ls_free_locked(dir);
	if (name && !dir->ls)
		dir->ls = sys_calloc(LS_MAX, sizeof(*dir->ls));
	if (name && dir->ls && dir->nls < LS_MAX &&
	    (dup = sys_strdup(name))) {
		dir->ls[dir->nls++] = dup;
		dir->ls_ns = mono_now_ns();
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the attribute cache ------------------------------------------------ */

/* n's attributes into *ga if those kept are fresh: all of them, or (perm)
 * at least the mode, owner and group. */
static bool attr_fresh(struct p9sb *s, struct node *n, bool perm,
		       struct p9_rgetattr *ga)
{
	bool ok;

	/* nothing kept is answered while the session is not up: the calls
	 * fail (fast) or wait as every other does (docs/session.md) */
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = (perm ? n->perm_ok : n->attr_ok) &&
	     n->attr_sgen == conn_sgen(&s->c) &&
	     (s->loose || mono_now_ns() - n->attr_ns < s->actimeo_ns);
	if (ok)
		*ga = n->attr;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

bool attr_get(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	return attr_fresh(s, n, false, ga);
}

void attr_put(struct p9sb *s, struct node *n, const struct p9_rgetattr *ga)
{
	if (s->actimeo_ns == 0)
		return;
	pthread_mutex_lock(&s->lock);
	n->attr = *ga;
	n->attr_ns = mono_now_ns();
	n->attr_sgen = conn_sgen(&s->c);
	n->attr_ok = n->perm_ok = true;
	multi_update_locked(s, n, false);       /* (nlink > 1) */
	pthread_mutex_unlock(&s->lock);
}

bool attr_get_perm(struct p9sb *s, struct node *n, struct p9_rgetattr *ga)
{
	return attr_fresh(s, n, true, ga);
}

void attr_drop(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->attr_ok = n->perm_ok = false;
	pthread_mutex_unlock(&s->lock);
}

void attr_drop_atime(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	n->attr_ok = false;     /* (the mode, owner and group stand) */
	pthread_mutex_unlock(&s->lock);
}

bool name_fresh_locked(struct p9sb *s, uint64_t pino, const char *name,
		       uint64_t *ino, mode_t *type)
{
	if (s->actimeo_ns == 0 || atomic_load(&s->c.s.rs.dead))
		return false;
	struct hiter it;
	struct node *n = named_first(s, &it, pino, name);
	if (n) {
		mode_t t = atomic_load(&n->type);
		/* a node without a fid walks its name at its first
		 * use anyway: the lookup walks it now and learns
		 * which file has the name (a name noted while a
		 * change of it was in flight may be another's).
		 * Not a file made here whose walk behind its create
		 * is still out (walking): the name is the create's,
		 * and a change of it here would have taken it out
		 * of this table; its first use waits for that walk */
		if (!n->name_ns || !t ||
		    (!n->fid && !n->pre && !n->walking) ||
		    n->name_sgen != conn_sgen(&s->c) ||
		    (!s->loose &&
		     mono_now_ns() - n->name_ns >= s->actimeo_ns))
			return false;
		*ino = n->ino;
		*type = t == S_IFDIR || t == S_IFLNK ? t : S_IFREG;
		return true;
	}
	return false;
}

int name_get(struct p9sb *s, uint64_t pino, const char *name, uint64_t *ino,
	     mode_t *type)
{
	pthread_mutex_lock(&s->lock);
	bool hit = name_fresh_locked(s, pino, name, ino, type);
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void name_forget(struct p9sb *s, uint64_t pino, const char *name)
{
	struct hiter it;

	pthread_mutex_lock(&s->lock);
	for (struct node *n = named_first(s, &it, pino, name); n;
	     n = named_next(s, &it, pino, name))
		n->name_ns = 0;
	pthread_mutex_unlock(&s->lock);
}

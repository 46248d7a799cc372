/*
 * umount.c - every way of taking a file system away: normal, forced and
 * lazy unmount, revoke, suspend and resume, unregistering a type (which
 * unmounts every instance), and the killing of a superblock they share.
 *
 * Owns no object of its own: it moves mounts out of the namespace
 * (ns_detach_*, mount.c) and superblocks through ACTIVE -> UNMOUNTING ->
 * DEAD (sb_set_state); the deferred kill work (kill_work_fn,
 * kill_finish_fn) holds the sb through sb->kill_hold until it has
 * reclaimed every vnode and shut the driver down.  The mount lifecycle
 * and the busy rule are described in mount.c.
 */
#include "core.h"
#include "mount_i.h"

#include "rcu.h"
#include "deadline.h"    /* lib/util */
#include <time.h>
#include <unistd.h>

/* ---- killing a superblock ------------------------------------------------
 *
 * A forced unmount, and a revoke or a teardown whose drain passed the
 * deadline, kill the sb: every vnode is dead at once (sb->killed), the gate
 * refuses new entries, the driver's cancel fails what is in flight.  The
 * rest is deferred work that never waits without a bound: kill_work_fn
 * waits a grace period and at most the deadline for the gate to drain; if
 * an operation is still inside, it parks the rest on the gate and frees
 * its worker, and the last operation to leave queues kill_finish_fn, which
 * reclaims every vnode, unmounts the driver and lets go of the sb (and of
 * the mount, for a forced unmount).  sb->kill_hold keeps the sb until then.
 */

static void kill_finish_fn(struct work *w);

/* gate_park's continuation: in the thread of the last operation to leave
 * the killed gate, no lock held. */
static void kill_parked(void *arg)
{
	struct uvfs_sb *sb = arg;

	sb->kill_work.fn = kill_finish_fn;
	work_queue(sb->u, &sb->kill_work);
}

/* Worker: the first half; bounded by the sb's deadline. */
static void kill_work_fn(struct work *w)
{
	struct uvfs_sb *sb = caa_container_of(w, struct uvfs_sb, kill_work);

	/* entrants that read the gate open before the kill are counted
	 * after a grace period; then wait for them to leave, a while */
	rcu_grace();
	if (gate_drain(&sb->gate, (int)sb->deadline_ms) != 0 &&
	    gate_park(&sb->gate, kill_parked, sb))
		return;
	kill_finish_fn(w);
}

/* Worker: the gate has drained. */
static void kill_finish_fn(struct work *w)
{
	struct uvfs_sb *sb = caa_container_of(w, struct uvfs_sb, kill_work);
	struct uvfs *u = sb->u;
	struct mount *m = sb->kill_mount;

	vcache_kill_sb(sb);     /* each vnode marked and out of the cache */
	vcache_reclaim_dead(sb);
	if (sb->ops->unmount)
		sb->ops->unmount(sb);
	SB_SET_STATE(sb, SB_UNMOUNTING, SB_DEAD);
	pthread_mutex_lock(&u->vc_lock);
	sb->kill_hold = false;
	sb_maybe_free_locked(sb);
	pthread_mutex_unlock(&u->vc_lock);
	/* sb may be gone (unless m still holds it) */
	if (m)
		mount_rele(m);
}

/* => sb is UNMOUNTING, set by the caller.  Does not wait. */
void sb_kill_unmounting(struct uvfs_sb *sb, struct mount *m)
{
	struct uvfs *u = sb->u;

	pthread_mutex_lock(&u->vc_lock);
	sb->kill_hold = true;
	pthread_mutex_unlock(&u->vc_lock);
	atomic_store(&sb->killed, true); /* every vnode dead, no new ones */
	gate_kill(&sb->gate);           /* waiters wake to deadfs */
	if (sb->ops->cancel)
		sb->ops->cancel(sb);    /* in-flight requests fail */
	sb->kill_mount = m;
	sb->kill_work.fn = kill_work_fn;
	work_queue(u, &sb->kill_work);
}

bool sb_kill(struct uvfs_sb *sb, struct mount *m)
{
	if (!sb_try_state(sb, SB_ACTIVE, SB_UNMOUNTING))
		return false;
	sb_kill_unmounting(sb, m);
	return true;
}

/* Forced unmount of one detached mount.  Bounded: it waits for nothing.
 * The worker drops the namespace's reference, which it takes over
 * (returns true then). */
static bool force_kill(struct mount *m)
{
	return sb_kill(m->sb, m);
}

/* Unmounts m (the caller holds one reference, which this consumes). */
int umount_mount(struct uvfs *u, struct mount *m, unsigned flags)
{
	struct mount **v = NULL;
	size_t n = 0;
	int err = 0;

	if (flags & ~(UVFS_UMOUNT_FORCE | UVFS_UMOUNT_DETACH)) {
		mount_rele(m);
		return -EINVAL;
	}
	/* A lazy unmount marks its superblocks detached under the types'
	 * lock in the same step as it takes them out of the namespace: a
	 * forced unregister of their type finds each either attached (and
	 * unmounts it) or detached (and kills it), never neither */
	bool lazy = flags == UVFS_UMOUNT_DETACH;
	if (lazy)
		pthread_mutex_lock(&u->types_lock);
	pthread_rwlock_wrlock(&u->ns_lock);
	unsigned mf = atomic_load(&m->flags);
	if (m == u->root_mount) {
		err = -EBUSY;
	} else if (!(mf & MNT_ATTACHED) || (mf & MNT_UNMOUNTING)) {
		err = -EINVAL;
	} else if (flags == 0) {
		/* Invariant 2: O(1).  Lock-free crossings take references
		 * inside RCU sections: flag the mount, let those finish (a
		 * crossing that sees the flag waits for this lock), then
		 * count.  Busy iff anything beyond the namespace and the
		 * caller holds it. */
		atomic_fetch_or(&m->flags, MNT_UNMOUNTING);
		rcu_grace();
		if (atomic_load(&m->first_child) ||
		    atomic_load(&m->refs) != 2) {
			atomic_fetch_and(&m->flags, ~MNT_UNMOUNTING);
			err = -EBUSY;
		} else {
			ns_detach_locked(m, 0);
		}
	} else {
		err = ns_detach_tree_locked(m, (flags & UVFS_UMOUNT_FORCE) ?
					    MNT_FORCED : MNT_DETACHED,
					    &v, &n);
		if (!err && lazy)
			for (size_t i = 0; i < n; i++)
				v[i]->sb->detached = true; /* kill_detached */
	}
	pthread_rwlock_unlock(&u->ns_lock);
	if (lazy)
		pthread_mutex_unlock(&u->types_lock);
	if (err) {
		free(v);
		mount_rele(m);
		return err;
	}

	if (flags == 0) {
		/* Only the namespace's reference and ours are left, and no
		 * new one can be taken: shut down here, synchronously. */
		long o = atomic_fetch_sub(&m->refs, 2);
		UVFS_VERIFY(o == 2);
		mount_teardown(m, true);
		return 0;
	}
	/* The namespace's references may go once crossings that saw the
	 * mounts attached have taken theirs: after a grace period.  A
	 * forced unmount hands them to its worker, which waits for it, so
	 * that the caller waits for nothing. */
	bool waited = false;
	for (size_t i = 0; i < n; i++) {
		mount_disconnect(v[i]);         /* the parent is free now */
		if ((flags & UVFS_UMOUNT_FORCE) && force_kill(v[i]))
			continue;
		if (!waited) {
			rcu_grace();
			waited = true;
		}
		mount_rele(v[i]);
	}
	free(v);
	mount_rele(m);                  /* ours */
	return 0;
}

/* ---- naming a mount ------------------------------------------------------
 *
 * A mount-management call names its mount by a path, which is walked as
 * any path is: symbolic links followed, ".." and a relative path from the
 * context's cwd, never out of its root.  But the walk goes through every
 * mount above the one it names, and one of those may be unable to answer:
 * suspended (its gate waits for the resume) or its file server hung (its
 * driver waits, for the deadline at best).  A forced unmount must not
 * wait for them (bounded time), nor should a call on a mount below a
 * suspended one that cannot change anything there.  So such a call is
 * first answered from the mount table (mount_find_named): the path, put
 * after the name of the context's root or of its cwd (the namespace root,
 * or the root of a named mount), names a mount when, with repeated and
 * trailing slashes removed, it is that mount's target exactly and the
 * target is its mount point's name now (MNT_NAMED: mount.c, "The names of
 * mount points", which keeps it through renames) and a walk of it would
 * reach that mount (each mount on the way is the topmost on its mount
 * point, and below the starting one).  A path with "." or "..", through a
 * symbolic link, or from a context the table cannot name is walked; it
 * cannot name a mount's target without being one of those.
 *
 * When: always for a forced unmount (whatever is hung above, it names
 * what `uvfs mounts` lists), and for the other calls when a mount above
 * the one named is suspended (a walk would wait for the resume, and
 * the file system it waits on cannot change meanwhile through the core).
 * Otherwise the walk decides, as before: a plain unmount, suspend, resume
 * or holders under a hung (not suspended) server waits for its deadline.
 * A front end that must not wait so asks the table as a forced unmount
 * does (uvfs_mount_id_of) and names the mount by its id (uvfsd's
 * unmount).  A revoke names a file, not a mount, and walks.
 */

/* The mount named by target from the table, or NULL (walk).  force: a
 * forced unmount.  named: also its name, into a new *named, if the
 * context's root is the namespace root (else NULL).  => referenced. */
static struct mount *mount_find_named(struct uvfs_ctx *ctx, const char *target,
				      bool force, char **named)
{
	struct uvfs *u = ctx->u;
	const struct path *base = target[0] == '/' ? &ctx->root : &ctx->cwd;
	struct mount *m, *found = NULL;
	const char *p = target;
	char *name;
	size_t l;

	if (ctx->cred.uid != 0 || !*target)
		return NULL;    /* a walk checks search permissions */
	name = sys_malloc(PATH_MAX);
	if (!name)
		return NULL;
	pthread_rwlock_rdlock(&u->ns_lock);
	unsigned bf = atomic_load(&base->mnt->flags);
	if (base->vp != base->mnt->root ||
	    (bf & (MNT_ATTACHED | MNT_NAMED | MNT_UNMOUNTING)) !=
	    (MNT_ATTACHED | MNT_NAMED))
		goto out;
	l = strlen(base->mnt->target);
	if (l >= PATH_MAX)
		goto out;
	memcpy(name, base->mnt->target, l + 1);
	if (l == 1)
		l = 0;                          /* the namespace root */
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.') ||
		    l + 1 + n + 1 > PATH_MAX)
			goto out;               /* walked */
		name[l++] = '/';
		memcpy(name + l, p, n);
		l += n;
		name[l] = '\0';
		p = e;
	}
	if (l == 0)
		goto out;                       /* the base itself */
	cds_list_for_each_entry(m, &u->mounts, ns_link) {
		unsigned f = atomic_load(&m->flags);
		if ((f & (MNT_NAMED | MNT_UNMOUNTING)) != MNT_NAMED ||
		    strcmp(m->target, name) != 0 ||
		    atomic_load(&m->root->mounted))
			continue;               /* covered: not the topmost */
		/* a walk from base reaches it: each mount on the way up is
		 * the first on its mount point (mount_cross_down takes the
		 * newest), each one above it has no other mount on its root
		 * (the walk would go on into that one), none is on base's
		 * root (a walk starts there and crosses nothing); and a
		 * suspended one on the way makes the table worth asking */
		bool reached = false, suspended = false;
		for (struct mount *c = m, *a; (a = c->parent) != NULL;
		     c = a) {
			struct mount *s = atomic_load(&a->first_child);
			while (s && s->mountpoint != c->mountpoint)
				s = atomic_load(&s->next_sibling);
			if (s != c)
				break;
			suspended |= (atomic_load(&a->flags) &
				      MNT_SUSPENDED) != 0;
			if (a == base->mnt) {
				reached = c->mountpoint != base->vp;
				break;
			}
			if (atomic_load(&a->root->mounted) &&
			    c->mountpoint != a->root)
				break;
		}
		if (!reached)
			continue;
		if (named && (ctx->root.mnt != u->root_mount ||
			      ctx->root.vp != u->root_mount->root))
			break;
		if (force || suspended) {
			found = m;
			mount_ref(found);       /* attached, not unmounting */
		}
		break;
	}
out:
	pthread_rwlock_unlock(&u->ns_lock);
	if (named && found) {
		*named = name;
		return found;
	}
	free(name);
	return found;
}

int mount_realpath_named(struct uvfs_ctx *ctx, const char *path, char *buf,
			 size_t size)
{
	char *name = NULL;
	struct mount *m = mount_find_named(ctx, path, false, &name);
	int n;

	if (!m)
		return -EAGAIN;
	mount_rele(m);
	n = (int)strlen(name);
	if ((size_t)n + 1 > size)
		n = -ERANGE;
	else
		memcpy(buf, name, (size_t)n + 1);
	free(name);
	return n;
}

int uvfs_mount_id_of(struct uvfs_ctx *ctx, const char *path, uint64_t *id)
{
	struct mount *m;

	if (!ctx || !path || !id)
		return -EINVAL;
	m = mount_find_named(ctx, path, true, NULL);
	if (!m)
		return -ENOENT;
	*id = m->id;
	mount_rele(m);
	return 0;
}

/* Resolves target to the root of a mount, from the table when flags say
 * so (above), else by a walk.  flags: UVFS_UMOUNT_FORCE for a forced
 * unmount, else 0.  => *out referenced. */
int mount_lookup(struct uvfs_ctx *ctx, const char *target, unsigned flags,
		 struct mount **out)
{
	struct path tp;
	int err;

	*out = mount_find_named(ctx, target,
				(flags & UVFS_UMOUNT_FORCE) != 0, NULL);
	if (*out)
		return 0;
	err = namei_at(ctx, UVFS_AT_FDCWD, target, LK_FOLLOW | LK_DEAD, &tp);
	if (err)
		return err;
	if (tp.vp != tp.mnt->root) {
		path_put(&tp);
		return -EINVAL;
	}
	mount_ref(tp.mnt);
	*out = tp.mnt;
	path_put(&tp);
	return 0;
}

/* The mount whose root target names, for an administrative call (root
 * only).  => *out referenced. */
static int admin_mount_lookup(struct uvfs_ctx *ctx, const char *target,
			      unsigned flags, struct mount **out)
{
	if (!target)
		return -EINVAL;
	if (ctx->cred.uid != 0)
		return -EPERM;
	return RETRY_ESTALE(mount_lookup(ctx, target, flags, out));
}

/* ---- naming a mount by its id -------------------------------------------
 *
 * The other way to name a mount (uvfs.h, "Naming a mount by its id"):
 * the attached mount whose id (uvfs_mount_info.id) is id, found in the
 * mount table under ns_lock.  No walk: no file system is entered, so a
 * suspended or hung mount anywhere does not hold the call up, and a mount
 * no walk reaches (covered by a later mount on the same mount point, or
 * on its root) is named all the same.  Ids come from u->next_mount_id,
 * which only grows, so an id whose mount is gone names nothing, never a
 * later mount.
 *
 * Permissions are a path's: a root context, whose root is the namespace
 * root (it could name any mount by its target) or the root of a mount
 * (it could name that mount and those below it; others: -ENOENT, they
 * are not in its view).  A context chrooted to another directory: the
 * table cannot tell which mounts are below it without names, -EPERM.
 */

/* => ns_lock held.  Could ctx name m by a path from its root? */
static bool in_view_locked(const struct uvfs_ctx *ctx, struct mount *m)
{
	for (struct mount *c = m; c; c = c->parent)
		if (c == ctx->root.mnt)
			return true;
	return false;
}

int mount_lookup_id(struct uvfs_ctx *ctx, uint64_t id, struct mount **out)
{
	struct uvfs *u = ctx->u;
	struct mount *m, *found = NULL;
	int err = -ENOENT;

	if (ctx->cred.uid != 0)
		return -EPERM;  /* a walk would check search permissions */
	pthread_rwlock_rdlock(&u->ns_lock);
	if (ctx->root.vp != ctx->root.mnt->root) {
		err = -EPERM;
		goto out;
	}
	cds_list_for_each_entry(m, &u->mounts, ns_link) {
		if (m->id != id)
			continue;
		unsigned f = atomic_load(&m->flags);
		if (!in_view_locked(ctx, m))
			break;                  /* -ENOENT */
		if (!(f & MNT_ATTACHED) || (f & MNT_UNMOUNTING)) {
			err = -EINVAL;          /* on its way out */
			break;
		}
		found = m;
		mount_ref(found);
		err = 0;
		break;
	}
out:
	pthread_rwlock_unlock(&u->ns_lock);
	if (!err)
		*out = found;
	return err;
}

int uvfs_umount(struct uvfs_ctx *ctx, const char *target, unsigned flags)
{
	struct mount *m;
	int err = admin_mount_lookup(ctx, target, flags, &m);

	if (err)
		return err;
	return umount_mount(ctx->u, m, flags);
}

int uvfs_umount_id(struct uvfs_ctx *ctx, uint64_t id, unsigned flags)
{
	struct mount *m;
	int err = mount_lookup_id(ctx, id, &m);

	if (err)
		return err;
	return umount_mount(ctx->u, m, flags);
}

/* A revoke in a suspended mount waits for the resume, as every call
 * that would call its driver does (the unload does), also when the walk
 * to it needed none (a root context's, through the name cache): through
 * the gate and out again at once, no driver call, so a hung driver call
 * inside does not hold it up (the revoke's own deadline does that).  A
 * forced unmount meanwhile ends the wait.  => 0 or -EIO (killed). */
static int gate_pass(struct uvfs_sb *sb)
{
	struct gate_rec *r;
	int g = gate_enter(&sb->gate, &r);

	if (g == GATE_DEAD)
		return -EIO;
	if (g != 0)
		return -ENOMEM;
	gate_exit(r);
	return 0;
}

static int revoke_once(struct uvfs_ctx *ctx, const char *path)
{
	struct path p;
	struct stat st;
	int err;

	err = namei_at(ctx, UVFS_AT_FDCWD, path, LK_FOLLOW, &p);
	if (err)
		return err;
	if (p.vp == p.mnt->root) {
		err = -EBUSY;   /* a mount's root: use a forced unmount */
	} else if (ctx->cred.uid != 0 &&
		   ((err = vop_getattr(p.vp, &st)) != 0 ||
		    st.st_uid != ctx->cred.uid)) {
		err = err ? err : -EPERM;
	} else if ((err = gate_pass(p.mnt->sb)) != 0) {
		/* killed meanwhile */
	} else {
		err = vn_revoke(p.vp, (int)p.mnt->sb->deadline_ms);
	}
	path_put(&p);
	return err;
}

int uvfs_revoke(struct uvfs_ctx *ctx, const char *path)
{
	if (!path)
		return -EINVAL;
	return RETRY_ESTALE(revoke_once(ctx, path));
}

/* Suspends m (the caller's reference, which this consumes). */
static int suspend_mount(struct uvfs *u, struct mount *m)
{
	int err = 0;

	/* The flag and the gate's closing go together under the lock:
	 * whoever clears the flag opens the gate once (a resume, this
	 * call's own failure, or the mount's leaving the namespace:
	 * ns_detach_locked) */
	pthread_rwlock_wrlock(&u->ns_lock);
	if (!(m->flags & MNT_ATTACHED) || (m->flags & MNT_UNMOUNTING)) {
		err = -EINVAL;
	} else if (m->flags & MNT_SUSPENDED) {
		err = -EALREADY;
	} else {
		m->flags |= MNT_SUSPENDED;
		gate_shut(&m->sb->gate);
	}
	pthread_rwlock_unlock(&u->ns_lock);
	if (!err) {
		/* 10x the forced deadline: a slow drain is not an error
		 * worth undoing quickly, a hung one is */
		rcu_grace();
		err = gate_drain(&m->sb->gate, (int)m->sb->deadline_ms * 10);
		if (err) {
			bool mine;

			pthread_rwlock_wrlock(&u->ns_lock);
			mine = (m->flags & MNT_SUSPENDED) != 0;
			m->flags &= ~MNT_SUSPENDED;
			pthread_rwlock_unlock(&u->ns_lock);
			if (mine)
				gate_open(&m->sb->gate);
		}
	}
	mount_rele(m);
	return err;
}

/* Resumes m (the caller's reference, which this consumes). */
static int resume_mount(struct uvfs *u, struct mount *m)
{
	int err = 0;

	pthread_rwlock_wrlock(&u->ns_lock);
	if (!(m->flags & MNT_SUSPENDED) || (m->flags & MNT_UNMOUNTING))
		err = -EINVAL;
	else
		m->flags &= ~MNT_SUSPENDED;
	pthread_rwlock_unlock(&u->ns_lock);
	if (!err)
		gate_open(&m->sb->gate);
	mount_rele(m);
	return err;
}

int uvfs_suspend(struct uvfs_ctx *ctx, const char *target)
{
	struct mount *m;
	int err = admin_mount_lookup(ctx, target, 0, &m);

	return err ? err : suspend_mount(ctx->u, m);
}

int uvfs_suspend_id(struct uvfs_ctx *ctx, uint64_t id)
{
	struct mount *m;
	int err = mount_lookup_id(ctx, id, &m);

	return err ? err : suspend_mount(ctx->u, m);
}

int uvfs_resume(struct uvfs_ctx *ctx, const char *target)
{
	struct mount *m;
	int err = admin_mount_lookup(ctx, target, 0, &m);

	return err ? err : resume_mount(ctx->u, m);
}

int uvfs_resume_id(struct uvfs_ctx *ctx, uint64_t id)
{
	struct mount *m;
	int err = mount_lookup_id(ctx, id, &m);

	return err ? err : resume_mount(ctx->u, m);
}

/* A forced unregister's instances that are out of the namespace already
 * (sb->detached: lazily unmounted, still in use): killed as the attached
 * ones were, so that the wait below does not last until the deadline
 * while they can still call the driver.  Each is claimed (ACTIVE -> UNMOUNTING) and held
 * (kill_hold) in one step under vc_lock, and under types_lock, which
 * keeps every sb of the list from being freed, then killed outside it. */
static void kill_detached(struct uvfs *u, struct fstype *t)
{
	struct uvfs_sb *sb, **v = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&u->types_lock);
	cds_list_for_each_entry(sb, &t->sbs, type_link) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct uvfs_sb **nv = sys_realloc(v, nc * sizeof(*v));
			if (!nv)
				break;  /* the rest: the wait times out */
			v = nv;
			cap = nc;
		}
		if (!sb->detached)
			continue;       /* attached (killed above), or still
					   being made: its driver's mount
					   may be running, and its attach
					   will find the type dying
					   (uvfs_mount) */
		pthread_mutex_lock(&u->vc_lock);
		if (sb_try_state(sb, SB_ACTIVE, SB_UNMOUNTING)) {
			sb->kill_hold = true;
			v[n++] = sb;
		}
		pthread_mutex_unlock(&u->vc_lock);
	}
	pthread_mutex_unlock(&u->types_lock);
	for (size_t i = 0; i < n; i++)
		sb_kill_unmounting(v[i], NULL);
	free(v);
}

int uvfs_fstype_unregister(struct uvfs *u, const char *name, unsigned flags,
			   int deadline_ms)
{
	struct fstype *t;
	struct mount **v = NULL, *m;
	size_t n = 0, cap = 0;
	struct timespec until;
	int err = 0;

	if (!name || (flags & ~UVFS_UMOUNT_DETACH))
		return -EINVAL;
	if (deadline_ms < 0)
		deadline_ms = (int)u->cfg.force_deadline_ms;
	pthread_mutex_lock(&u->types_lock);
	t = type_find_locked(u, name);
	if (t)
		t->dying = true;
	pthread_mutex_unlock(&u->types_lock);
	if (!t)
		return -ENOENT;

	/* every attached instance, each referenced */
	pthread_rwlock_rdlock(&u->ns_lock);
	cds_list_for_each_entry(m, &u->mounts, ns_link) {
		if (m->sb->type != t || m == u->root_mount)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct mount **nv = sys_realloc(v, nc * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		mount_ref(m);
		v[n++] = m;
	}
	pthread_rwlock_unlock(&u->ns_lock);
	for (size_t i = 0; i < n; i++) {
		int e = umount_mount(u, v[i], flags & UVFS_UMOUNT_DETACH ?
				     UVFS_UMOUNT_DETACH : UVFS_UMOUNT_FORCE);
		if (e && e != -EINVAL && !err)
			err = e;        /* -EINVAL: gone meanwhile */
	}
	free(v);
	if (err)
		return err;
	if (!(flags & UVFS_UMOUNT_DETACH))
		kill_detached(u, t);

	/* Wait until no instance can call the driver again: every sb dead
	 * (dead vnode shells of open files may outlive it; they never call
	 * the driver).  The type then leaves the list and is freed with its
	 * last sb. */
	deadline_in(&until, deadline_ms);
	for (;;) {
		struct uvfs_sb *sb;
		bool live = false;

		pthread_mutex_lock(&u->types_lock);
		cds_list_for_each_entry(sb, &t->sbs, type_link)
			if (atomic_load(&sb->state) != SB_DEAD)
				live = true;
		if (!live) {
			cds_list_del(&t->link);
			t->gone = true;
			bool free_now = t->nsbs == 0;
			pthread_mutex_unlock(&u->types_lock);
			if (free_now)
				free(t);
			return 0;
		}
		pthread_mutex_unlock(&u->types_lock);
		if (ms_left(&until) == 0)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

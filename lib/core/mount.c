/*
 * mount.c - file-system types, superblocks, mounts and the namespace, and
 * the queries on them (holders, the mount list).  Every way of unmounting
 * is in umount.c; what the two share in mount_i.h.
 *
 * Lifecycle of a mount
 *
 *   uvfs_mount ──> ATTACHED (the namespace holds 1 reference)
 *     normal umount:  busy iff refs > 1 + the caller's own (O(1), under the
 *                     namespace write lock, so no crossing can race it);
 *                     else detached and shut down in the caller.
 *     FORCE:          detached; the sb's vnodes turn dead, the gate is
 *                     killed, the driver's cancel hook fails what is in
 *                     flight; returns after at most the deadline.  A worker
 *                     waits for the gate to drain, reclaims and shuts the
 *                     driver down.
 *     DETACH:         detached; the last reference queues the shutdown.
 *     FORCE and DETACH disconnect each mount they take away from its
 *     parent at once (mount_disconnect), as Linux's umount_tree drops the
 *     parent's count: a child still in use or still being shut down on a
 *     worker keeps neither its old parent mount busy nor its mount point
 *     referenced.  A normal unmount's teardown releases them itself.
 *   last reference ──> teardown on a worker: shutdown if still needed,
 *                     release root, mount point and parent (unless
 *                     disconnected), free.
 *
 * Lifecycle of a superblock:  ACTIVE -> UNMOUNTING -> DEAD -> freed, the
 * last step on a worker once it is no longer mounted and has no vnode
 * shell left (invariant 6).  Its type counts it until then, which is what
 * unregistering a type waits for.
 *
 * Crossing into a mount takes a reference under the namespace read lock
 * and only while the mount is attached and not unmounting; every other
 * reference is copied from one already held.  That is why the busy check
 * can trust the count.
 */
#include "core.h"
#include "mount_i.h"

#include "rcu.h"
#include "deadline.h"    /* lib/util */
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char *const sb_state_names[] = {
	"active", "unmounting", "dead", "freed",
};

void sb_set_state(struct uvfs_sb *sb, enum sb_state from, enum sb_state to,
		  const char *file, int line)
{
	int expect = from;
	bool legal = (from == SB_ACTIVE && to == SB_UNMOUNTING) ||
		     (from == SB_UNMOUNTING && to == SB_DEAD) ||
		     (from == SB_DEAD && to == SB_FREED);

	if (!legal || !atomic_compare_exchange_strong(&sb->state, &expect,
						      to)) {
		char what[128];
		snprintf(what, sizeof(what), "sb state %s -> %s (is %s)",
			 sb_state_names[from], sb_state_names[to],
			 sb_state_names[atomic_load(&sb->state)]);
		uvfs_panic(file, line, what);
	}
}

/* The same transition, but only if sb is in `from` now (a forced unmount
 * and a revoke past its deadline may race to kill an active sb). */
bool sb_try_state(struct uvfs_sb *sb, enum sb_state from,
		  enum sb_state to)
{
	int expect = from;

	UVFS_VERIFY(from == SB_ACTIVE && to == SB_UNMOUNTING);
	return atomic_compare_exchange_strong(&sb->state, &expect, to);
}

/* ---- types ------------------------------------------------------------- */

struct fstype *type_find_locked(struct uvfs *u, const char *name)
{
	struct fstype *t;

	cds_list_for_each_entry(t, &u->types, link)
		if (strcmp(t->ops->name, name) == 0)
			return t;
	return NULL;
}

int fstype_register_locked(struct uvfs *u, const struct uvfs_fstype_ops *ops)
{
	struct fstype *t;

	if (!ops || !ops->name || !*ops->name || strlen(ops->name) >= 32 ||
	    !ops->mount || !ops->vget || !ops->getattr || !ops->lookup)
		return -EINVAL;
	if (type_find_locked(u, ops->name))
		return -EEXIST;
	t = sys_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ops = ops;
	CDS_INIT_LIST_HEAD(&t->sbs);
	cds_list_add_tail(&t->link, &u->types);
	return 0;
}

int uvfs_fstype_register(struct uvfs *u, const struct uvfs_fstype_ops *ops)
{
	pthread_mutex_lock(&u->types_lock);
	int r = fstype_register_locked(u, ops);
	pthread_mutex_unlock(&u->types_lock);
	return r;
}

/* ---- superblocks ------------------------------------------------------- */

void *uvfs_sb_private(const struct uvfs_sb *sb)
{
	return sb->priv;
}

void uvfs_sb_set_private(struct uvfs_sb *sb, void *priv)
{
	sb->priv = priv;
}

void uvfs_sb_set_flushes(struct uvfs_sb *sb)
{
	sb->flushes = true;
}

static void sb_free(struct uvfs_sb *sb)
{
	struct uvfs *u = sb->u;

	/* Invariant 6: no vnode may still point here. */
	UVFS_VERIFY(sb->nvnodes == 0 && sb->nlive == 0);
	UVFS_VERIFY(cds_list_empty(&sb->vnodes));
	SB_SET_STATE(sb, SB_DEAD, SB_FREED);
	pthread_mutex_lock(&u->types_lock);
	cds_list_del(&sb->type_link);
	struct fstype *t = sb->type;
	bool free_type = --t->nsbs == 0 && t->gone;
	pthread_mutex_unlock(&u->types_lock);
	if (free_type)
		free(t);
	lock_sb_stop(sb);
	gate_destroy(&sb->gate);
	dirlocks_destroy(sb);
	pthread_cond_destroy(&sb->vc_cv);
	free(sb);
	CNT_DEC(u->nsb);
	CNT_DEC(u->nzombie_sb);
	settle_kick(u);
}

static void sb_free_work(struct work *w)
{
	sb_free(caa_container_of(w, struct uvfs_sb, free_work));
}

/* Splits the core's options out of opts: "ro", "rw", "deadline=MS".  The
 * rest goes to the driver, in order. */
static int parse_options(const char *opts, bool *rdonly, unsigned *deadline,
			 char **rest)
{
	char *copy = sys_strdup(opts ? opts : ""), *save = NULL, *tok;
	char *out = copy ? sys_calloc(1, strlen(copy) + 1) : NULL;

	if (!out) {
		free(copy);
		free(out);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "ro") == 0) {
			*rdonly = true;
		} else if (strcmp(tok, "rw") == 0) {
			*rdonly = false;
		} else if (strncmp(tok, "deadline=", 9) == 0) {
			char *end;
			unsigned long ms = strtoul(tok + 9, &end, 10);
			if (*end || end == tok + 9 || ms == 0 || ms > 3600000) {
				free(copy);
				free(out);
				return -EINVAL;
			}
			*deadline = (unsigned)ms;
		} else {
			if (*out)
				strcat(out, ",");
			strcat(out, tok);
		}
	}
	free(copy);
	*rest = out;
	return 0;
}

/* Makes a mounted superblock and its root vnode. */
static int sb_create(struct uvfs *u, const char *type, const char *source,
		     const char *options, struct uvfs_sb **out_sb,
		     struct vnode **out_root)
{
	struct uvfs_sb *sb;
	struct fstype *t;
	struct gate_rec *gr;
	char *drvopts = NULL;
	uint64_t root_ino;
	int err;

	/* options against the type's description (fsopt.c): the reason
	 * is for uvfs_mount_options_check's callers */
	err = uvfs_mount_options_check(u, type, options, NULL, 0);
	if (err)
		return err;
	sb = sys_calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->u = u;
	/* an anonymous device number per instance, as Linux's major 0 */
	sb->dev = makedev(0, atomic_fetch_add(&u->next_dev, 1) + 1);
	sb->deadline_ms = u->cfg.force_deadline_ms;
	err = parse_options(options, &sb->rdonly, &sb->deadline_ms, &drvopts);
	if (err) {
		free(sb);
		return err;
	}
	gate_init(&sb->gate);
	dirlocks_init(sb);
	atomic_init(&sb->state, SB_ACTIVE);
	CDS_INIT_LIST_HEAD(&sb->vnodes);
	cond_init_monotonic(&sb->vc_cv);
	sb->mounted = true;
	sb->free_work.fn = sb_free_work;

	pthread_mutex_lock(&u->types_lock);
	t = type_find_locked(u, type);
	if (!t || t->dying) {
		pthread_mutex_unlock(&u->types_lock);
		err = -ENODEV;
		goto fail_sb;
	}
	sb->type = t;
	sb->ops = t->ops;
	t->nsbs++;
	cds_list_add(&sb->type_link, &t->sbs);
	pthread_mutex_unlock(&u->types_lock);

	err = sb->ops->mount(sb, source ? source : "", drvopts, &root_ino);
	if (err)
		goto fail_type;
	if (gate_enter(&sb->gate, &gr) != 0) {
		err = -ENOMEM;  /* a new gate: only its record can fail */
	} else {
		err = vcache_get(sb, root_ino, out_root);
		gate_exit(gr);
	}
	if (err) {
		vcache_flush_sb(sb, -1);
		if (sb->ops->unmount)
			sb->ops->unmount(sb);
		goto fail_type;
	}
	if (!S_ISDIR((*out_root)->type)) {
		vn_rele(*out_root);
		vcache_flush_sb(sb, -1);
		if (sb->ops->unmount)
			sb->ops->unmount(sb);
		err = -ENOTDIR;
		goto fail_type;
	}
	free(drvopts);
	CNT_INC(u->nsb);
	*out_sb = sb;
	return 0;

fail_type:
	/* no vnode shell is left: vcache_flush_sb waited for them */
	pthread_mutex_lock(&u->vc_lock);
	while (sb->nvnodes > 0)
		pthread_cond_wait(&sb->vc_cv, &u->vc_lock);
	pthread_mutex_unlock(&u->vc_lock);
	pthread_mutex_lock(&u->types_lock);
	cds_list_del(&sb->type_link);
	t->nsbs--;
	pthread_mutex_unlock(&u->types_lock);
fail_sb:
	free(drvopts);
	gate_destroy(&sb->gate);
	dirlocks_destroy(sb);
	pthread_cond_destroy(&sb->vc_cv);
	free(sb);
	return err;
}

/* Normal shutdown of a superblock whose mount is gone or going: close the
 * gate, sync, reclaim every vnode (waiting on the count), unmount the
 * driver.  => the root vnode has been released. */
static void sb_shutdown(struct uvfs_sb *sb)
{
	if (!sb_try_state(sb, SB_ACTIVE, SB_UNMOUNTING))
		return;         /* killed meanwhile: the kill finishes it */
	if (gate_close(&sb->gate, (int)sb->deadline_ms) != 0) {
		/* NEVER with the busy check passed, but bounded all the
		 * same: what is still inside past the deadline makes this a
		 * forced unmount, which a worker finishes without waiting */
		sb_kill_unmounting(sb, NULL);
		gate_open(&sb->gate);
		return;
	}
	if (sb->ops->sync)
		sb->ops->sync(sb);
	if (vcache_flush_sb(sb, 10000) != 0) {
		/* NEVER: a vnode referenced past the busy check.  Do not
		 * hang: turn what is left dead, as a forced unmount would. */
		UVFS_DIAG(!"vnode still referenced after the busy check");
		vcache_kill_sb(sb);
		vcache_reclaim_dead(sb);
	}
	if (sb->ops->unmount)
		sb->ops->unmount(sb);
	SB_SET_STATE(sb, SB_UNMOUNTING, SB_DEAD);
	gate_open(&sb->gate);
}

/* ---- mounts ------------------------------------------------------------ */

void mount_ref(struct mount *m)
{
	long o = atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	UVFS_VERIFY(o > 0);
}

/* Releases what the mount holds and frees it.  Runs on a worker (the last
 * reference) or in the caller of a normal unmount (sync: the sb is freed
 * here too when nothing else points at it). */
void mount_teardown(struct mount *m, bool sync)
{
	struct uvfs *u = m->u;
	struct uvfs_sb *sb = m->sb;
	struct mount *parent;
	struct vnode *mp;

	UVFS_VERIFY(atomic_load(&m->refs) == 0);
	UVFS_VERIFY(cds_list_empty(&m->nodes));
	UVFS_VERIFY(cds_list_empty(&m->handles));
	vn_rele(m->root);
	if (atomic_load(&sb->state) == SB_ACTIVE)
		sb_shutdown(sb);
	pthread_mutex_lock(&u->vc_lock);
	sb->mounted = false;
	bool free_now = sb->nvnodes == 0 && !sb->kill_hold && sync;
	if (!sync)
		sb_maybe_free_locked(sb);
	pthread_mutex_unlock(&u->vc_lock);
	if (free_now)
		sb_free(sb);

	/* out of every list by now; NULL if disconnected (or the root) */
	parent = m->parent;
	mp = m->mountpoint;
	if (parent) {
		vn_rele(mp);
		mount_rele(parent);
	}
	/* lock-free crossings may still be looking at it */
	rcu_grace();
	pthread_mutex_destroy(&m->node_lock);
	free(m->type_name);
	free(m->source);
	free(m->options);
	free(m->target);
	free(m);
	CNT_DEC(u->nmounts);
}

static void mount_teardown_work(struct work *w)
{
	mount_teardown(caa_container_of(w, struct mount, work), false);
}

void mount_rele(struct mount *m)
{
	long o = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel);
	UVFS_VERIFY(o > 0);
	if (o == 1)
		work_queue(m->u, &m->work);
}

void mount_cross_down(struct path *p)
{
	struct uvfs *u = p->mnt->u;

	while (atomic_load_explicit(&p->vp->mounted, memory_order_acquire)) {
		struct mount *c, *found = NULL;
		bool undecided = false;

		rcu_thread_online();

		/* Children are added and removed with RCU list operations
		 * and freed after a grace period; the namespace reference of
		 * an attached mount is dropped only after one, so a child
		 * seen attached here can be referenced. */
		rcu_read_enter();
		for (c = atomic_load_explicit(&p->mnt->first_child,
					      memory_order_acquire);
		     c; c = atomic_load_explicit(&c->next_sibling,
						 memory_order_acquire)) {
			unsigned f = atomic_load(&c->flags);
			if (c->mountpoint != p->vp || !(f & MNT_ATTACHED))
				continue;
			if (f & MNT_UNMOUNTING) {
				undecided = true;   /* a busy check runs */
				break;
			}
			found = c;                  /* newest first: topmost */
			mount_ref(found);
			vn_ref(found->root);
			break;
		}
		rcu_read_leave();
		if (undecided) {
			/* the deciding unmount holds ns_lock: wait it out */
			pthread_rwlock_rdlock(&u->ns_lock);
			pthread_rwlock_unlock(&u->ns_lock);
			continue;
		}
		if (!found)
			return;
		path_put(p);
		p->mnt = found;
		p->vp = found->root;
	}
}

void mount_cross_up(struct path *p, const struct path *root)
{
	while (p->vp == p->mnt->root &&
	       !(p->mnt == root->mnt && p->vp == root->vp)) {
		struct mount *m = p->mnt;
		struct uvfs *u = m->u;
		struct path up = { 0 };

		/* while m is attached, its parent and mount point (which it
		 * holds) stay put: a detach and its disconnect take the
		 * write lock */
		pthread_rwlock_rdlock(&u->ns_lock);
		if ((atomic_load(&m->flags) & MNT_ATTACHED) && m->parent) {
			up.mnt = m->parent;
			up.vp = m->mountpoint;
			mount_ref(up.mnt);
			vn_ref(up.vp);
		}
		pthread_rwlock_unlock(&u->ns_lock);
		if (!up.mnt)
			return;     /* the namespace root, or detached */
		path_put(p);
		*p = up;
	}
}

/* A mounted sb that never got its mount: shut down and let go. */
static void sb_discard(struct uvfs_sb *sb, struct vnode *root)
{
	struct uvfs *u = sb->u;

	vn_rele(root);
	CNT_INC(u->nzombie_sb);
	sb_shutdown(sb);
	pthread_mutex_lock(&u->vc_lock);
	sb->mounted = false;
	sb_maybe_free_locked(sb);
	pthread_mutex_unlock(&u->vc_lock);
}

static struct mount *mount_alloc(struct uvfs *u, struct uvfs_sb *sb,
				 struct vnode *root, const char *type,
				 const char *source, const char *options)
{
	struct mount *m = sys_calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->u = u;
	m->id = atomic_fetch_add(&u->next_mount_id, 1);
	m->sb = sb;
	m->root = root;
	atomic_init(&m->refs, 1);
	CDS_INIT_LIST_HEAD(&m->nodes);
	CDS_INIT_LIST_HEAD(&m->handles);
	pthread_mutex_init(&m->node_lock, NULL);
	m->type_name = sys_strdup(type);
	m->source = sys_strdup(source ? source : "none");
	m->options = sys_strdup(options ? options : "");
	m->work.fn = mount_teardown_work;
	if (sb->rdonly)
		m->flags |= MNT_RDONLY;
	if (!m->type_name || !m->source || !m->options) {
		pthread_mutex_destroy(&m->node_lock);
		free(m->type_name);
		free(m->source);
		free(m->options);
		free(m);
		return NULL;
	}
	CNT_INC(u->nmounts);
	return m;
}

int mount_root(struct uvfs *u)
{
	struct uvfs_sb *sb;
	struct vnode *root;
	struct mount *m;
	int err;

	err = sb_create(u, u->cfg.root_type, u->cfg.root_source,
			u->cfg.root_options, &sb, &root);
	if (err)
		return err;
	m = mount_alloc(u, sb, root, u->cfg.root_type, u->cfg.root_source,
			u->cfg.root_options);
	if (!m) {
		sb_discard(sb, root);
		return -ENOMEM;
	}
	m->target = sys_strdup("/");
	if (!m->target) {
		atomic_store(&m->refs, 0);
		CNT_INC(u->nzombie_sb);
		mount_teardown(m, true);
		return -ENOMEM;
	}
	m->flags |= MNT_ATTACHED | MNT_NAMED;
	pthread_rwlock_wrlock(&u->ns_lock);
	u->root_mount = m;
	cds_list_add_tail(&m->ns_link, &u->mounts);
	pthread_rwlock_unlock(&u->ns_lock);
	return 0;
}

int uvfs_mount(struct uvfs_ctx *ctx, const char *type, const char *source,
	       const char *target, const char *options)
{
	struct uvfs *u = ctx->u;
	struct path tp;
	struct uvfs_sb *sb;
	struct vnode *root;
	struct mount *m;
	char name[1024];
	int err;

	if (!type || !target)
		return -EINVAL;
	err = namei_at(ctx, UVFS_AT_FDCWD, target, LK_FOLLOW, &tp);
	if (err)
		return err;
	if (!vn_isdir(tp.vp)) {
		path_put(&tp);
		return -ENOTDIR;
	}
	if (ctx->cred.uid != 0) {
		path_put(&tp);
		return -EPERM;
	}
	/* The namespace root (whatever path led there: "/", "/x/../..", a
	 * symlink to "/") cannot be covered: no unmount could remove what
	 * covers it, since every path to the covering mount is its own
	 * root.  Linux answers EBUSY too (do_lock_mount on a rootfs). */
	pthread_rwlock_rdlock(&u->ns_lock);
	bool ns_root = tp.mnt == u->root_mount && tp.vp == tp.mnt->root;
	pthread_rwlock_unlock(&u->ns_lock);
	if (ns_root) {
		path_put(&tp);
		return -EBUSY;
	}
	/* the target's name, from the namespace root if that is the
	 * context's: then it names the mount if no rename moved it
	 * meanwhile (names_gen, checked at the attach; "The names of mount
	 * points") */
	pthread_rwlock_rdlock(&u->ns_lock);
	bool named = ctx->root.mnt == u->root_mount &&
		     ctx->root.vp == u->root_mount->root;
	pthread_rwlock_unlock(&u->ns_lock);
	unsigned long gen = atomic_load(&u->names_gen);
	err = path_name(ctx, &ctx->root, &tp, name, sizeof(name));
	if (err < 0) {
		snprintf(name, sizeof(name), "%s", target);
		named = false;
	}
	err = sb_create(u, type, source, options, &sb, &root);
	if (err) {
		path_put(&tp);
		return err;
	}
	m = mount_alloc(u, sb, root, type, source, options);
	if (!m) {
		err = -ENOMEM;
		goto fail_sb;
	}
	m->target = sys_strdup(name);

	pthread_rwlock_wrlock(&u->ns_lock);
	if (!m->target) {
		pthread_rwlock_unlock(&u->ns_lock);
		err = -ENOMEM;
		goto fail_mount;
	}
	if (!(tp.mnt->flags & MNT_ATTACHED) ||
	    (tp.mnt->flags & MNT_UNMOUNTING) || vn_dead(tp.vp)) {
		pthread_rwlock_unlock(&u->ns_lock);
		err = -ENOENT;
		goto fail_mount;
	}
	/* An unregister of the type that began while the driver's mount
	 * ran has looked for the type's attached instances, or will, under
	 * this lock: attached now, this one would outlive it (it kills only
	 * what it found) */
	if (atomic_load(&sb->type->dying)) {
		pthread_rwlock_unlock(&u->ns_lock);
		err = -ENODEV;
		goto fail_mount;
	}
	/* tp's references move to the new mount */
	m->parent = tp.mnt;
	m->mountpoint = tp.vp;
	atomic_fetch_add(&tp.vp->mounted, 1);
	/* a path cached through tp.vp now stops there (pcache.h) */
	pthread_mutex_lock(&u->nc_lock);
	ncache_gen_bump_locked(u);
	pthread_mutex_unlock(&u->nc_lock);
	m->flags |= MNT_ATTACHED;
	atomic_store_explicit(&m->next_sibling,
			      atomic_load(&tp.mnt->first_child),
			      memory_order_relaxed);
	atomic_store_explicit(&tp.mnt->first_child, m, memory_order_release);
	/* named if no rename of a directory ended since the name was made
	 * and none is in flight: after the publication of the child, which
	 * a rename starting now sees (mount_rename_begin: the increment,
	 * then the child; the fences pair them, as in Dekker's) */
	atomic_thread_fence(memory_order_seq_cst);
	if (named && atomic_load(&u->names_gen) == gen &&
	    atomic_load(&u->renames_inflight) == 0)
		m->flags |= MNT_NAMED;
	cds_list_add_tail(&m->ns_link, &u->mounts);
	pthread_rwlock_unlock(&u->ns_lock);
	return 0;

fail_mount:
	/* a mount nobody saw: tear it down like any other */
	atomic_store(&m->refs, 0);
	CNT_INC(u->nzombie_sb);
	mount_teardown(m, true);
	path_put(&tp);
	return err;
fail_sb:
	sb_discard(sb, root);
	path_put(&tp);
	return err;
}

/* => ns_lock held for writing.  Takes m out of the namespace; the
 * namespace's reference is now the caller's. */
void ns_detach_locked(struct mount *m, unsigned flag)
{
	/* Suspended: no resume can name it from here on, so the
	 * suspension ends (else its open files, a lazy unmount's, would
	 * wait for good); a forced unmount's kill wakes the waiters to
	 * EIO instead, with nothing let in first */
	if ((atomic_fetch_and(&m->flags, ~MNT_SUSPENDED) & MNT_SUSPENDED) &&
	    flag != MNT_FORCED)
		gate_open(&m->sb->gate);
	atomic_fetch_and(&m->flags, ~MNT_ATTACHED);
	atomic_fetch_or(&m->flags, MNT_UNMOUNTING | flag);
	cds_list_del(&m->ns_link);
	if (m->parent) {
		struct mount *_Atomic *pp = &m->parent->first_child;
		while (atomic_load(pp) != m)
			pp = &atomic_load(pp)->next_sibling;
		/* m keeps its next: a reader standing on it walks on */
		atomic_store_explicit(pp, atomic_load(&m->next_sibling),
				      memory_order_release);
		atomic_fetch_sub(&m->mountpoint->mounted, 1);
	}
	CNT_INC(m->u->nzombie_sb);
}

/* A mount a lazy or forced unmount took out of the namespace lets go of
 * its parent mount and its mount point now, not at its own last release:
 * else a child still in use (lazy) or still being shut down (forced, on a
 * worker) keeps its old parent busy, which no holders report can name,
 * and its mount point referenced, which the parent's shutdown would wait
 * for.  From here ".." at its root stays there (mount_cross_up).
 * => m detached and referenced by the caller; ns_lock not held. */
void mount_disconnect(struct mount *m)
{
	struct uvfs *u = m->u;
	struct mount *parent;
	struct vnode *mp;

	pthread_rwlock_wrlock(&u->ns_lock);
	UVFS_VERIFY(!(atomic_load(&m->flags) & MNT_ATTACHED));
	parent = m->parent;
	mp = m->mountpoint;
	m->parent = NULL;       /* mountpoint keeps its address: see core.h */
	pthread_rwlock_unlock(&u->ns_lock);
	if (parent) {
		vn_rele(mp);
		mount_rele(parent);
	}
}

/* => ns_lock held for writing.  The mounts in the tree of m. */
static size_t ns_count_tree_locked(struct mount *m)
{
	size_t n = 1;

	for (struct mount *c = atomic_load(&m->first_child); c;
	     c = atomic_load(&c->next_sibling))
		n += ns_count_tree_locked(c);
	return n;
}

/* => ns_lock held for writing; v has room for the whole tree.  Detaches m
 * and every mount below it, deepest first, into v (the caller then owns
 * their namespace references).  Cannot fail. */
static void ns_detach_tree_into_locked(struct mount *m, unsigned flag,
				       struct mount **v, size_t *n)
{
	struct mount *c, *tmp;

	for (c = atomic_load(&m->first_child); c; c = tmp) {
		tmp = atomic_load(&c->next_sibling);
		ns_detach_tree_into_locked(c, flag, v, n);
	}
	ns_detach_locked(m, flag);
	v[(*n)++] = m;
}

/* => ns_lock held for writing.  The array is allocated before anything is
 * detached: out of memory, nothing has changed (-ENOMEM). */
int ns_detach_tree_locked(struct mount *m, unsigned flag,
			  struct mount ***v, size_t *n)
{
	*v = sys_malloc(ns_count_tree_locked(m) * sizeof(**v));
	if (!*v)
		return -ENOMEM;
	*n = 0;
	ns_detach_tree_into_locked(m, flag, *v, n);
	return 0;
}

/* ---- the names of mount points ------------------------------------------
 *
 * A mount's target is the name its mount point had when it was mounted.
 * With MNT_NAMED it is more: the mount point's name from the namespace
 * root now, so that a mount-management call may find the mount by it in
 * the table, without walking through the mounts above it (umount.c,
 * "Naming a mount").  A mount is named when its mounting context's root
 * is the namespace root and its target's name was made without a rename
 * of a directory between the name and the attach (u->names_gen).
 *
 * Mount points cannot be renamed or removed (names.c: -EBUSY), and a
 * directory with one inside is never empty, so only a rename of a
 * directory above one moves it.  Every rename of a directory brackets
 * the driver's call with mount_rename_begin/end, which hold no lock
 * across it (a rename inside a suspended mount waits there, and nothing
 * else may wait behind it): the begin counts the rename in flight
 * (u->renames_inflight) and, if anything is mounted in its mount, makes
 * the directory's name before and after: its mount's own name, then the
 * parents' names from the mount's root as the name cache has them
 * (ncache_path: no driver call, which a suspended mount would hold up
 * and a readdir's atime would show).  The end, under ns_lock, moves
 * every named target below the old name under the new one if no other
 * rename of a directory ended meanwhile or is in flight (u->names_gen:
 * the two names were then made from the tree the rename changed), and
 * counts the rename ended.  Where a name cannot be made so (the mount is
 * not named itself, a parent's name is not cached, as in a file system
 * without a name cache below its root, an exchange, a concurrent
 * rename), every mount below the rename's mount stops being named: a
 * call names those by walking, as every call did before.  A mount whose
 * name was made while a rename was in flight or ended is not named
 * either.  A rename the file server makes
 * behind the core's back (a remote file system) is not seen: the target
 * keeps the old name, as `uvfs mounts` shows it.
 */

/* dir/name from the namespace root, in a
 * new string, from its mount's name and the cached names from its
 * mount's root (ncache_path): no driver call, which could wait (a
 * suspended mount above) or show (a readdir's atime).  NULL if it
 * cannot be made so. */
static char *mount_name_of(const struct path *dir, const char *name)
{
	struct uvfs *u = dir->mnt->u;
	char *buf = sys_malloc(PATH_MAX);
	size_t l;
	int n;

	if (!buf)
		return NULL;
	pthread_rwlock_rdlock(&u->ns_lock);
	bool named = (atomic_load(&dir->mnt->flags) &
		      (MNT_NAMED | MNT_ATTACHED)) == (MNT_NAMED | MNT_ATTACHED);
	if (named)
		snprintf(buf, PATH_MAX, "%s", dir->mnt->target);
	pthread_rwlock_unlock(&u->ns_lock);
	if (!named) {
		free(buf);
		return NULL;
	}
	l = strlen(buf);
	if (l == 1)
		l = 0;                  /* the namespace root: no "//x" */
	n = ncache_path(dir->mnt->root, dir->vp, buf + l, PATH_MAX - l);
	if (n < 0 || l + (size_t)n + 1 + strlen(name) + 1 > PATH_MAX) {
		free(buf);
		return NULL;
	}
	l += (size_t)n;
	snprintf(buf + l, PATH_MAX - l, "/%s", name);
	return buf;
}

/* => ns_lock held for writing.  No mount below m is named any more. */
static void ns_unname_below_locked(struct mount *m)
{
	for (struct mount *c = atomic_load(&m->first_child); c;
	     c = atomic_load(&c->next_sibling)) {
		atomic_fetch_and(&c->flags, ~MNT_NAMED);
		ns_unname_below_locked(c);
	}
}

/* => ns_lock held for writing.  Every named target below m that starts
 * with from + "/" starts with to + "/" instead.  false: out of memory. */
static bool ns_rename_below_locked(struct mount *m, const char *from,
				   const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);

	for (struct mount *c = atomic_load(&m->first_child); c;
	     c = atomic_load(&c->next_sibling)) {
		if ((atomic_load(&c->flags) & MNT_NAMED) &&
		    strncmp(c->target, from, fl) == 0 &&
		    c->target[fl] == '/') {
			size_t rl = strlen(c->target + fl);
			char *t = sys_malloc(tl + rl + 1);
			if (!t)
				return false;
			memcpy(t, to, tl);
			memcpy(t + tl, c->target + fl, rl + 1);
			free(c->target);
			c->target = t;
		}
		if (!ns_rename_below_locked(c, from, to))
			return false;
	}
	return true;
}

void mount_rename_begin(struct uvfs_ctx *ctx, struct mount_rename *r,
			const struct path *odir, const char *oname,
			const struct path *ndir, const char *nname,
			bool exchange)
{
	struct uvfs *u = ctx->u;

	r->from = r->to = NULL;
	r->gen = atomic_load(&u->names_gen);
	atomic_fetch_add(&u->renames_inflight, 1);
	/* after the increment: a mount attached before it is seen here,
	 * one attached after sees the increment (uvfs_mount) */
	atomic_thread_fence(memory_order_seq_cst);
	r->track = atomic_load(&odir->mnt->first_child) != NULL;
	/* both before the rename, which drops the old name's entry (the
	 * parents' own names do not change: a directory cannot move below
	 * itself) */
	if (r->track && !exchange) {
		r->from = mount_name_of(odir, oname);
		r->to = r->from ? mount_name_of(ndir, nname) : NULL;
	}
}

void mount_rename_end(struct uvfs_ctx *ctx, struct mount_rename *r,
		      const struct path *dir, int err)
{
	struct uvfs *u = ctx->u;

	pthread_rwlock_wrlock(&u->ns_lock);
	if (r->track && !err &&
	    (!r->to || atomic_load(&u->names_gen) != r->gen ||
	     atomic_load(&u->renames_inflight) != 1 ||
	     !ns_rename_below_locked(dir->mnt, r->from, r->to)))
		ns_unname_below_locked(dir->mnt);
	atomic_fetch_add(&u->names_gen, 1);
	atomic_fetch_sub(&u->renames_inflight, 1);
	pthread_rwlock_unlock(&u->ns_lock);
	free(r->from);
	free(r->to);
	r->from = r->to = NULL;
}

/* ---- queries ----------------------------------------------------------- */

const char *uvfs_holder_kind_name(enum uvfs_holder_kind kind)
{
	switch (kind) {
	case UVFS_HOLDER_FILE: return "file";
	case UVFS_HOLDER_CWD: return "cwd";
	case UVFS_HOLDER_ROOT: return "root";
	case UVFS_HOLDER_NODE: return "node";
	case UVFS_HOLDER_CHILD: return "mount";
	}
	return "?";
}

struct holders {
	struct uvfs_holder *v;
	size_t n, cap;
	int err;
};

static struct uvfs_holder *holder_add(struct holders *h,
				      enum uvfs_holder_kind kind,
				      const struct uvfs_ctx *c, int fd,
				      const char *path)
{
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 8;
		struct uvfs_holder *nv = sys_realloc(h->v, nc * sizeof(*nv));
		if (!nv) {
			h->err = -ENOMEM;
			return NULL;
		}
		h->v = nv;
		h->cap = nc;
	}
	struct uvfs_holder *x = &h->v[h->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->fd = fd;
	if (c) {
		x->ctx_id = c->id;
		snprintf(x->ctx_label, sizeof(x->ctx_label), "%s", c->label);
	}
	snprintf(x->path, sizeof(x->path), "%s", path ? path : "");
	return x;
}

/* The holders of m (the caller's reference, which this consumes). */
static int holders_of(struct uvfs_ctx *ctx, struct mount *m,
		      struct uvfs_holder **out, size_t *nout)
{
	struct uvfs *u = ctx->u;
	struct holders h = { NULL, 0, 0, 0 };
	struct mount *c;
	struct uvfs_ctx *x;
	struct uvfs_node *nd;
	struct uvfs_file *fh;
	struct { size_t idx; struct path p; } roots[64];
	char mtarget[sizeof(((struct uvfs_holder *)0)->path)];
	size_t nroots = 0;

	pthread_rwlock_rdlock(&u->ns_lock);
	for (c = atomic_load(&m->first_child); c;
	     c = atomic_load(&c->next_sibling))
		holder_add(&h, UVFS_HOLDER_CHILD, NULL, -1, c->target);
	snprintf(mtarget, sizeof(mtarget), "%s", m->target); /* a rename
							     replaces it */
	pthread_rwlock_unlock(&u->ns_lock);

	pthread_mutex_lock(&u->ctx_lock);
	cds_list_for_each_entry(x, &u->ctxs, link) {
		pthread_mutex_lock(&x->fd_lock);
		for (int fd = 0; fd < x->nfds; fd++)
			if (x->fds[fd] && x->fds[fd]->path.mnt == m)
				holder_add(&h, UVFS_HOLDER_FILE, x, fd,
					   x->fds[fd]->name);
		if (x->cwd.mnt == m)
			holder_add(&h, UVFS_HOLDER_CWD, x, -1, x->cwd_name);
		if (x->root.mnt == m && x->root.vp &&
		    holder_add(&h, UVFS_HOLDER_ROOT, x, -1, mtarget) &&
		    nroots < sizeof(roots) / sizeof(roots[0])) {
			roots[nroots].idx = h.n - 1;
			roots[nroots].p = x->root;
			path_get(&roots[nroots++].p);
		}
		pthread_mutex_unlock(&x->fd_lock);
	}
	pthread_mutex_unlock(&u->ctx_lock);
	/* a chroot's name, from the namespace root, found by walking up:
	 * outside the locks, it calls the drivers */
	for (size_t i = 0; i < nroots; i++) {
		struct path top;
		char name[1024];
		pthread_rwlock_rdlock(&u->ns_lock);
		top.mnt = u->root_mount;
		top.vp = top.mnt->root;
		path_get(&top);
		pthread_rwlock_unlock(&u->ns_lock);
		if (path_name(ctx, &top, &roots[i].p, name, sizeof(name)) > 0)
			snprintf(h.v[roots[i].idx].path,
				 sizeof(h.v[roots[i].idx].path), "%s", name);
		path_put(&top);
		path_put(&roots[i].p);
	}

	pthread_mutex_lock(&m->node_lock);
	cds_list_for_each_entry(fh, &m->handles, mlink) {
		struct uvfs_holder *hd = holder_add(&h, UVFS_HOLDER_FILE,
						    NULL, -1, fh->f->name);
		if (hd)
			snprintf(hd->ctx_label, sizeof(hd->ctx_label), "%s",
				 fh->label);
	}
	cds_list_for_each_entry(nd, &m->nodes, mlink) {
		struct uvfs_holder *hd = holder_add(&h, UVFS_HOLDER_NODE,
						    NULL, -1, nd->name);
		if (hd)
			hd->ctx_id = nd->ctx_id;
	}
	pthread_mutex_unlock(&m->node_lock);
	mount_rele(m);
	if (h.err) {
		free(h.v);
		return h.err;
	}
	*out = h.v;
	*nout = h.n;
	return 0;
}

int uvfs_holders(struct uvfs_ctx *ctx, const char *target,
		 struct uvfs_holder **out, size_t *nout)
{
	struct mount *m;
	int err;

	if (!target || !out || !nout)
		return -EINVAL;
	err = mount_lookup(ctx, target, 0, &m);
	return err ? err : holders_of(ctx, m, out, nout);
}

int uvfs_holders_id(struct uvfs_ctx *ctx, uint64_t id,
		    struct uvfs_holder **out, size_t *nout)
{
	struct mount *m;
	int err;

	if (!out || !nout)
		return -EINVAL;
	err = mount_lookup_id(ctx, id, &m);
	return err ? err : holders_of(ctx, m, out, nout);
}

int uvfs_mount_list(struct uvfs *u, struct uvfs_mount_info **out, size_t *n)
{
	struct uvfs_mount_info *v;
	struct mount *m;
	size_t i = 0, cnt = 0;

	pthread_rwlock_rdlock(&u->ns_lock);
	cds_list_for_each_entry(m, &u->mounts, ns_link)
		cnt++;
	v = sys_calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&u->ns_lock);
		return -ENOMEM;
	}
	cds_list_for_each_entry(m, &u->mounts, ns_link) {
		struct uvfs_mount_info *x = &v[i++];
		x->id = m->id;
		x->parent_id = m->parent ? m->parent->id : 0;
		snprintf(x->target, sizeof(x->target), "%s", m->target);
		snprintf(x->type, sizeof(x->type), "%s", m->type_name);
		snprintf(x->source, sizeof(x->source), "%s", m->source);
		snprintf(x->options, sizeof(x->options), "%s", m->options);
		snprintf(x->state, sizeof(x->state), "%s",
			 (m->flags & MNT_SUSPENDED) ? "suspended" : "active");
		long r = atomic_load(&m->refs) - 1;
		x->refs = r > 0 ? (uint64_t)r : 0;
		long in = gate_inside(&m->sb->gate);   /* a leaf lock */
		x->inflight = in > 0 ? (uint64_t)in : 0;
		x->deadline_ms = m->sb->deadline_ms;
	}
	pthread_rwlock_unlock(&u->ns_lock);
	*out = v;
	*n = cnt;
	return 0;
}

/* uvfs_free: every context is gone.  Forced unmount of everything, the
 * root last. */
void mount_shutdown_all(struct uvfs *u)
{
	struct mount *root;

	for (;;) {
		struct mount *c = NULL;
		pthread_rwlock_rdlock(&u->ns_lock);
		root = u->root_mount;
		c = atomic_load(&root->first_child);
		if (c)
			mount_ref(c);
		pthread_rwlock_unlock(&u->ns_lock);
		if (!c)
			break;
		umount_mount(u, c, UVFS_UMOUNT_FORCE);
	}
	uvfs_settle(u, -1);
	/* the root: no children left, nobody holds it */
	pthread_rwlock_wrlock(&u->ns_lock);
	root = u->root_mount;
	ns_detach_locked(root, 0);
	u->root_mount = NULL;
	pthread_rwlock_unlock(&u->ns_lock);
	mount_rele(root);
	uvfs_settle(u, -1);
}

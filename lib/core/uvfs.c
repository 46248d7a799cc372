/*
 * uvfs.c - the instance: creation with its root mount, statistics, and
 * teardown (everything force-unmounted, the workers drained and stopped).
 */
#include "core.h"
#include "deadline.h"    /* lib/util */

#include <unistd.h>

void uvfs_panic(const char *file, int line, const char *what)
{
	fprintf(stderr, "uvfs: invariant broken at %s:%d: %s\n", file, line,
		what);
	abort();
}

int uvfs_new(const struct uvfs_config *cfg, struct uvfs **out)
{
	struct uvfs *u = sys_calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	if (cfg)
		u->cfg = *cfg;
	if (!u->cfg.root_type)
		u->cfg.root_type = "memfs";
	if (!u->cfg.root_source)
		u->cfg.root_source = "none";
	if (!u->cfg.root_options)
		u->cfg.root_options = "";
	if (!u->cfg.workers)
		u->cfg.workers = 2;
	if (u->cfg.workers > 64)
		u->cfg.workers = 64;
	if (!u->cfg.vcache_max)
		u->cfg.vcache_max = 65536;
	if (!u->cfg.force_deadline_ms)
		u->cfg.force_deadline_ms = 1000;

	pthread_mutex_init(&u->types_lock, NULL);
	CDS_INIT_LIST_HEAD(&u->types);
	/* Writers (mount, unmount) must not starve behind a stream of
	 * readers: an unmount has a deadline. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&u->ns_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	CDS_INIT_LIST_HEAD(&u->mounts);
	atomic_init(&u->next_mount_id, 1);
	pthread_mutex_init(&u->ctx_lock, NULL);
	CDS_INIT_LIST_HEAD(&u->ctxs);
	atomic_init(&u->next_ctx_id, 1);
	pthread_mutex_init(&u->hook_lock, NULL);
	lock_init(u);
	pthread_mutex_init(&u->work_lock, NULL);
	cond_init_monotonic(&u->work_cv);
	cond_init_monotonic(&u->idle_cv);
	CDS_INIT_LIST_HEAD(&u->work_queue);
	CDS_INIT_LIST_HEAD(&u->lazy_queue);
	u->nworkers = u->cfg.workers;

	err = vcache_init(u);
	if (err)
		goto fail;
	err = ncache_init(u);
	if (err)
		goto fail_vcache;
	err = workers_start(u);
	if (err)
		goto fail_ncache;
	err = fstype_register_locked(u, &uvfs_memfs_ops);
	if (err)
		goto fail_workers;
	/* the caller's types, so that one may be the root */
	for (size_t i = 0; cfg && cfg->fstypes && cfg->fstypes[i]; i++) {
		err = fstype_register_locked(u, cfg->fstypes[i]);
		if (err == -EEXIST)
			err = 0;
		if (err)
			goto fail_workers;
	}
	err = mount_root(u);
	if (err)
		goto fail_workers;
	*out = u;
	return 0;

fail_workers:
	workers_stop(u);
	{
		struct fstype *t, *tmp;
		cds_list_for_each_entry_safe(t, tmp, &u->types, link)
			free(t);
	}
fail_ncache:
	ncache_fini(u);
fail_vcache:
	vcache_fini(u);
fail:
	lock_fini(u);
	free(u);
	return err;
}

void uvfs_free(struct uvfs *u)
{
	struct fstype *t, *tmp;

	if (!u)
		return;
	UVFS_VERIFY(cds_list_empty(&u->ctxs));
	lock_stop(u);           /* the waits' file references go */
	mount_shutdown_all(u);
	workers_stop(u);
	UVFS_VERIFY(atomic_load(&u->nvnodes) == 0);
	UVFS_VERIFY(atomic_load(&u->nsb) == 0);
	cds_list_for_each_entry_safe(t, tmp, &u->types, link)
		free(t);
	rcu_thread_online();
	urcu_memb_barrier();    /* deferred frees of vnodes and entries */
	ncache_fini(u);
	vcache_fini(u);
	lock_fini(u);
	pthread_rwlock_destroy(&u->ns_lock);
	free(u);
}

void uvfs_stats(struct uvfs *u, struct uvfs_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->superblocks = (uint64_t)atomic_load(&u->nsb);
	st->mounts = (uint64_t)atomic_load(&u->nmounts);
	st->vnodes = (uint64_t)atomic_load(&u->nvnodes);
	st->files = (uint64_t)atomic_load(&u->nfiles);
	st->nodes = (uint64_t)atomic_load(&u->nnodes);
	st->contexts = (uint64_t)atomic_load(&u->nctx);
	pthread_mutex_lock(&u->vc_lock);
	st->vnodes_cached = u->nlru;
	pthread_mutex_unlock(&u->vc_lock);
	pthread_mutex_lock(&u->work_lock);
	st->deferred_pending = u->work_pending;
	pthread_mutex_unlock(&u->work_lock);
}

void uvfs_set_change_hook(struct uvfs *u, uvfs_change_hook_t fn, void *arg)
{
	pthread_mutex_lock(&u->hook_lock);
	u->hook = fn;
	u->hook_arg = arg;
	pthread_mutex_unlock(&u->hook_lock);
}

void uvfs_sb_changed(struct uvfs_sb *sb)
{
	struct uvfs *u = sb->u;

	/* held across the call, so that removing the hook waits for it */
	pthread_mutex_lock(&u->hook_lock);
	if (u->hook)
		u->hook(u->hook_arg, sb->dev);
	pthread_mutex_unlock(&u->hook_lock);
}

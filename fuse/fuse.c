/*
 * fuse.c - the FUSE front end over the node API of libuvfs: the registry
 * of the nodes the kernel knows, the session (uvfs_fuse_new .. _free) and
 * the invalidations the daemon asks for.  The operations are in ops.c
 * (names, attributes, directories) and io.c (open files), locks.c and
 * reqs.c; the structures they share in fuse_i.h.
 *
 * Node ids.  A node id is the address of a struct uvfs_node (FUSE_ROOT_ID
 * stands for the root node, which the front end holds itself).  Every
 * reply that hands the kernel an entry (lookup, mknod, mkdir, symlink,
 * link, create, and each readdirplus entry but "." and "..") passes on the
 * one hold the library call added; FORGET gives back nlookup holds
 * (uvfs_node_release).  If the reply does not reach the kernel (the request
 * was interrupted), the hold is dropped at once.  So the kernel's lookup
 * count is exactly the node's hold count from the kernel.
 *
 * The registry.  The front end also records, per node the kernel knows, the
 * lookup count and the device number of its file system (st_dev from the
 * reply), in a record the node's owner word points to (found in O(1),
 * however many nodes the kernel knows; the records are on striped lists
 * for the walks below).  It is updated before each entry reply is sent
 * (a FORGET may arrive on another thread before the reply call returns) and
 * on each FORGET.  It serves the invalidations that follow a forced
 * unmount (every node of the dead file systems) and shutdown (every hold
 * the kernel never gave back is released).  Open handles are listed the
 * same way.
 *
 * Credentials.  Each request runs with the caller's fsuid/fsgid and
 * supplementary groups on its worker thread's own context (reqs.c; the
 * pool serves the rest: a context is used by one thread at a time); the
 * umask the kernel passes (FUSE_CAP_DONT_MASK) is applied to create,
 * mkdir and mknod.
 *
 * Permissions.  The kernel checks the mode bits on the attributes it
 * caches (default_permissions: cached names, FIFO and device opens never
 * reach us), libuvfs checks everything again.  The kernel's attributes
 * are kept right: replies carry them, invalidations drop them.  On a
 * write or truncation by someone without CAP_FSETID the kernel sends the
 * chmod that clears setuid/setgid (kill_privs); the setgid it leaves
 * alone (no group execute, writer outside the group) is cleared here
 * (opened_for_write).  See docs/fuse.md, "Credentials and permissions".
 *
 * Caching.  A file system that changes only through the VFS (memfs:
 * uvfs_node_exclusive) is cached by the kernel for an hour: entries,
 * attributes, negative entries (a failed lookup) and file pages across
 * opens (keep_cache).  That is safe because every change either reaches
 * the kernel through this front end (which keeps its own caches right) or
 * is one the daemon announces: mount, unmount and revoke invalidate the
 * target's entry (and with it every cached entry below) and the inodes
 * that died.  A file server's tree can change behind us (another client,
 * the host), so its entries and attributes live for a second, a failed
 * lookup is not remembered, and each open drops the file's cached pages;
 * a server restart invalidates every node of the mount (the change hook).
 *
 * The invalidations of dead files (forced unmount, revoke) drop their
 * pages in the background: inval.c.
 *
 * Errors: the library's negative errnos; the sign flips in reply_err only.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"
#include "kinit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ---- the registry of known nodes --------------------------------------- */

/* The stripe of nd's record: its address, hashed. */
static size_t kstripe(const struct uvfs_node *nd)
{
	uintptr_t p = (uintptr_t)nd;
	p ^= p >> 17;
	p *= 0x9E3779B97F4A7C15ull;
	return (size_t)(p >> 40) % NSTRIPES;
}

/* Records one more kernel lookup of nd.  => 0 or -ENOMEM. */
int known_add(struct uvfs_fuse *uf, struct uvfs_node *nd, dev_t dev)
{
	size_t s = kstripe(nd);
	struct kent *e;

	pthread_mutex_lock(&uf->stripe[s]);
	e = uvfs_node_owner(nd);
	if (!e) {
		e = malloc(sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&uf->stripe[s]);
			return -ENOMEM;
		}
		e->count = 0;
		e->nd = nd;
		e->dev = dev;
		e->next = uf->known[s];
		if (e->next)
			e->next->pprev = &e->next;
		e->pprev = &uf->known[s];
		uf->known[s] = e;
		uvfs_node_set_owner(nd, e);
		atomic_fetch_add_explicit(&uf->nnodes, 1, memory_order_relaxed);
	}
	e->count++;
	pthread_mutex_unlock(&uf->stripe[s]);
	atomic_fetch_add_explicit(&uf->nlookups, 1, memory_order_relaxed);
	return 0;
}

/* => the stripe of e held.  Unlinks and frees it, and clears its node's
 * owner word. */
static void kent_free_locked(struct uvfs_fuse *uf, struct kent *e)
{
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	uvfs_node_set_owner(e->nd, NULL);
	free(e);
	atomic_fetch_sub_explicit(&uf->nnodes, 1, memory_order_relaxed);
}

/* Drops n kernel lookups of nd; returns how many were recorded (a FORGET
 * for more than that, or for an unknown id, is a kernel or front-end bug:
 * only what was recorded is released).  A FORGET names a node the kernel
 * was given, so nd is held while its record has a count. */
uint64_t known_drop(struct uvfs_fuse *uf, struct uvfs_node *nd, uint64_t n)
{
	size_t s = kstripe(nd);
	struct kent *e;

	pthread_mutex_lock(&uf->stripe[s]);
	e = uvfs_node_owner(nd);
	if (!e) {
		pthread_mutex_unlock(&uf->stripe[s]);
		return 0;
	}
	if (n > e->count)
		n = e->count;
	e->count -= n;
	if (e->count == 0)
		kent_free_locked(uf, e);
	pthread_mutex_unlock(&uf->stripe[s]);
	atomic_fetch_sub_explicit(&uf->nlookups, n, memory_order_relaxed);
	return n;
}

/* The device of a node a request named, from its record, or 0 if the
 * kernel no longer knows it.  nd may be freed by now: its address is
 * only a key, so the stripe's list is searched, never nd itself read
 * (the lister's rare path). */
dev_t known_dev(struct uvfs_fuse *uf, struct uvfs_node *nd)
{
	size_t s = kstripe(nd);
	dev_t dev = 0;

	pthread_mutex_lock(&uf->stripe[s]);
	for (struct kent *e = uf->known[s]; e; e = e->next)
		if (e->nd == nd) {
			dev = e->dev;
			break;
		}
	pthread_mutex_unlock(&uf->stripe[s]);
	return dev;
}

/* ---- the session ------------------------------------------------------- */

/* Appends s to a -o list, escaping ',' and '\' as libfuse's parser wants. */
static int opt_add(char **opts, const char *s)
{
	size_t len = *opts ? strlen(*opts) : 0;
	char *p = realloc(*opts, len + 2 * strlen(s) + 2);

	if (!p)
		return -ENOMEM;
	*opts = p;
	p += len;
	if (len)
		*p++ = ',';
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	return 0;
}

/* Answers the kernel's INIT through libfuse with the flags libfuse leaves
 * out (kinit.c): the request is read here and handed to libfuse over a
 * socket pair standing in for the device (dup3 onto the session's
 * descriptor), libfuse's reply is amended and written to the device, and
 * the device is put back.  Runs before the session loop, on the only
 * thread using the session.  => 0 or -errno. */
static int negotiate_init(struct uvfs_fuse *uf)
{
	int fd = fuse_session_fd(uf->se), sp[2] = { -1, -1 }, saved = -1;
	size_t size = kinit_read_size();
	struct fuse_buf fb = { .mem = NULL };
	char *in = malloc(size), *out = malloc(size);
	ssize_t n, m = -1;
	int err = 0;

	if (!in || !out) {
		err = -ENOMEM;
		goto out;
	}
	do
		n = read(fd, in, size);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		err = n < 0 ? -errno : -EIO;
		goto out;
	}
	/* dup(), not fcntl(F_DUPFD): ThreadSanitizer follows dup and dup3,
	 * and so keeps seeing the device's writes and reads as the
	 * synchronisation they are */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) ||
	    (saved = dup(fd)) < 0 || fcntl(saved, F_SETFD, FD_CLOEXEC) ||
	    dup3(sp[1], fd, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	if (write(sp[0], in, (size_t)n) != n ||
	    fuse_session_receive_buf(uf->se, &fb) <= 0) {
		err = -EIO;
	} else {
		fuse_session_process_buf(uf->se, &fb);  /* op_init; replies */
		m = recv(sp[0], out, size, MSG_DONTWAIT);
		if (m <= 0)
			err = -EIO;
	}
	/* the device back under the session's descriptor */
	if (dup3(saved, fd, O_CLOEXEC) < 0 && !err)
		err = -errno;
	if (!err)
		err = kinit_add_flags(out, (size_t)m,
				      uf->want & FUSE_CAP_PARALLEL_DIROPS);
	if (!err && write(fd, out, (size_t)m) != m)
		err = -errno;
	if (!err && fuse_session_exited(uf->se))
		err = -EPROTO;  /* libfuse refused the kernel's INIT */
out:
	if (saved >= 0)
		close(saved);
	if (sp[0] >= 0) {
		close(sp[0]);
		close(sp[1]);
	}
	free(fb.mem);
	free(in);
	free(out);
	return err;
}

/* The change hook: every node of that file system loses its kernel
 * caches (attributes, data; entries follow as they are revalidated). */
static void changed_hook(void *arg, dev_t dev)
{
	uvfs_fuse_inval_devs(arg, &dev, 1);
}

int uvfs_fuse_new(struct uvfs *u, const struct uvfs_fuse_config *cfg,
		  struct uvfs_fuse **out)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct uvfs_fuse *uf;
	struct uvfs_ctx *ctx;
	char *opts = NULL, *fsname = NULL;
	int err;

	uf = calloc(1, sizeof(*uf));
	if (!uf)
		return -ENOMEM;
	uf->u = u;
	uf->loop_thread = pthread_self(); /* the loop runs here too */
	uf->max_threads = cfg->max_threads ? cfg->max_threads : 64;
	uf->idle_threads = cfg->idle_threads ? cfg->idle_threads : 8;
	if (uf->idle_threads > uf->max_threads)
		uf->idle_threads = uf->max_threads;
	uf->mount_threads = cfg->mount_threads ? cfg->mount_threads
					       : uf->max_threads / 4;
	if (uf->mount_threads < 1)
		uf->mount_threads = 1;
	uf->clone_fd = cfg->clone_fd;
	uf->splice = cfg->splice;
	uf->writeback = cfg->writeback;
	uf->fh_list.next = uf->fh_list.prev = &uf->fh_list;
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&uf->stripe[i], NULL);
	pthread_mutex_init(&uf->fh_lock, NULL);
	pthread_mutex_init(&uf->pool_lock, NULL);
	pthread_mutex_init(&uf->rq_lock, NULL);
	pthread_mutex_init(&uf->lk_lock, NULL);
	pthread_cond_init(&uf->lk_cv, NULL);
	iq_init(uf);
	/* the nodes' owner word keeps each node's record (known_add) */
	err = uvfs_node_owner_claim(u, uf);
	if (err) {
		fprintf(stderr, "uvfsd: another FUSE session serves this "
			"instance\n");
		goto out_free;
	}
	uf->mountpoint = strdup(cfg->mountpoint);
	if (!uf->mountpoint) {
		err = -ENOMEM;
		goto out_free;
	}
	ctx = uvfs_fuse_ctx_get(uf, NULL);
	if (!ctx) {
		err = -ENOMEM;
		goto out_free;
	}
	err = uvfs_node_root(ctx, &uf->root);
	if (!err) {
		struct stat st;
		if (uvfs_node_getattr(ctx, uf->root, &st) == 0)
			uf->root_dev = st.st_dev;
	}
	uvfs_fuse_ctx_put(uf, ctx);
	if (err)
		goto out_free;

	if (asprintf(&fsname, "fsname=%s", cfg->fsname ? cfg->fsname
							: "uvfsd") < 0) {
		fsname = NULL;
		err = -ENOMEM;
		goto out_root;
	}
	/* default_permissions: the kernel checks the mode bits on the
	 * attributes it caches, on every path walk (see "Permissions") */
	if (opt_add(&opts, fsname) || opt_add(&opts, "subtype=uvfsd") ||
	    opt_add(&opts, "default_permissions") ||
	    (cfg->allow_other && opt_add(&opts, "allow_other"))) {
		err = -ENOMEM;
		goto out_root;
	}
	/* the kernel's mount flags, one option each (opt_add escapes commas) */
	for (const char *p = cfg->mount_opts; p && *p;) {
		size_t len = strcspn(p, ",");
		char *flag = strndup(p, len);
		int bad = !flag || (len && opt_add(&opts, flag));
		free(flag);
		if (bad) {
			err = -ENOMEM;
			goto out_root;
		}
		p += len + (p[len] == ',');
	}
	if (fuse_opt_add_arg(&args, "uvfsd") ||
	    (cfg->debug && fuse_opt_add_arg(&args, "-d")) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opts)) {
		err = -ENOMEM;
		goto out_args;
	}
	/* Without -o xattr libfuse answers ENOSYS, once: the kernel stops
	 * asking, writes included (see docs/fuse.md) */
	struct fuse_lowlevel_ops o = uvfs_fuse_ops;
	if (!cfg->xattr)
		o.setxattr = NULL, o.getxattr = NULL, o.listxattr = NULL,
		o.removexattr = NULL;
	uf->se = fuse_session_new(&args, &o, sizeof(o), uf);
	if (!uf->se) {
		err = -EINVAL;
		goto out_args;
	}
	if (fuse_session_mount(uf->se, cfg->mountpoint) != 0) {
		err = -EIO;
		goto out_session;
	}
	err = negotiate_init(uf);
	if (err) {
		fprintf(stderr, "uvfsd: FUSE INIT with the kernel failed: %s\n",
			strerror(-err));
		fuse_session_unmount(uf->se);
		goto out_session;
	}
	fuse_opt_free_args(&args);
	free(opts);
	free(fsname);
	/* a file server restarted: the kernel may hold what is gone */
	uvfs_set_change_hook(u, changed_hook, uf);
	*out = uf;
	return 0;

out_session:
	fuse_session_destroy(uf->se);
	uf->se = NULL;
out_args:
	fuse_opt_free_args(&args);
out_root:
	free(opts);
	free(fsname);
out_free:
	uvfs_fuse_free(uf);     /* the root hold, the contexts, the locks */
	return err;
}

int uvfs_fuse_loop(struct uvfs_fuse *uf)
{
	struct fuse_loop_config *lc;
	int ret;

	if (!uf->clone_fd) {    /* ours: a mount's share of the workers */
		ret = loop_run(uf);
		atomic_store(&uf->loop_done, true);
		return ret;
	}
	/* libfuse's (its channels per worker are not in its public API):
	 * no share per mount */
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(lc, uf->max_threads);
	fuse_loop_cfg_set_idle_threads(lc, uf->idle_threads);
	fuse_loop_cfg_set_clone_fd(lc, (unsigned)uf->clone_fd);
	ret = fuse_session_loop_mt(uf->se, lc);
	atomic_store(&uf->loop_done, true);
	fuse_loop_cfg_destroy(lc);
	return ret;
}

void uvfs_fuse_exit(struct uvfs_fuse *uf)
{
	/* the pages being dropped need the workers to answer their WRITEs:
	 * that invalidation ends first, the queued ones are given up */
	iq_stop(uf);
	fuse_session_exit(uf->se);
	/* The loop's main thread waits in sem_wait(), which a signal
	 * interrupts; it checks the exit flag after each wakeup.  Kick until
	 * it has seen it (a kick may land just before it goes to sleep). */
	while (!atomic_load(&uf->loop_done)) {
		pthread_kill(uf->loop_thread, SIGUSR1);
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int uvfs_fuse_exited(struct uvfs_fuse *uf)
{
	return fuse_session_exited(uf->se);
}

void uvfs_fuse_unmount(struct uvfs_fuse *uf)
{
	uvfs_set_change_hook(uf->u, NULL, NULL);   /* waits out a call */
	fuse_session_unmount(uf->se);
}

void uvfs_fuse_free(struct uvfs_fuse *uf)
{
	uvfs_set_change_hook(uf->u, NULL, NULL);
	iq_fini(uf);    /* stopped with the loop: no job runs (inval.c) */
	lk_drain(uf);   /* the waits hold the handles' files */
	/* handles the kernel never released */
	while (uf->fh_list.next != &uf->fh_list)
		fh_free(uf, uf->fh_list.next);
	/* lookups it never forgot */
	for (size_t s = 0; s < NSTRIPES; s++) {
		struct kent *e;
		pthread_mutex_lock(&uf->stripe[s]);
		while ((e = uf->known[s]) != NULL) {
			struct uvfs_node *nd = e->nd;
			uint64_t count = e->count;
			kent_free_locked(uf, e);
			pthread_mutex_unlock(&uf->stripe[s]);
			uvfs_node_release(nd, count);
			pthread_mutex_lock(&uf->stripe[s]);
		}
		pthread_mutex_unlock(&uf->stripe[s]);
	}
	if (uf->root)
		uvfs_node_release(uf->root, 1);
	uvfs_node_owner_unclaim(uf->u, uf);     /* if ours */
	if (uf->se)
		fuse_session_destroy(uf->se);
	reqs_fini(uf);  /* the contexts of threads still alive */
	for (size_t i = 0; i < uf->npool; i++)
		uvfs_ctx_free(uf->pool[i]);
	free(uf->pool);
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_destroy(&uf->stripe[i]);
	pthread_mutex_destroy(&uf->fh_lock);
	pthread_mutex_destroy(&uf->pool_lock);
	pthread_mutex_destroy(&uf->rq_lock);
	pthread_mutex_destroy(&uf->lk_lock);
	pthread_cond_destroy(&uf->lk_cv);
	free(uf->lk_uids);
	free(uf->mountpoint);
	free(uf);
}

/* ---- invalidation ------------------------------------------------------ */

int uvfs_fuse_walk_parent(struct uvfs_fuse *uf, struct uvfs_ctx *ctx,
			  const char *path, struct uvfs_node **dir,
			  const char **name)
{
	struct uvfs_node *cur = uf->root, *next;
	const char *p = path, *last;
	char comp[NAME_MAX + 1];
	int err;

	if (path[0] != '/')
		return -EINVAL;
	uvfs_node_hold(cur);
	/* the last component */
	last = path + strlen(path);
	while (last > path && last[-1] == '/')
		last--;
	while (last > path && last[-1] != '/')
		last--;
	for (;;) {
		while (*p == '/')
			p++;
		if (p >= last)
			break;
		const char *e = strchr(p, '/');
		size_t len = (size_t)(e - p);
		if (len > NAME_MAX) {
			uvfs_node_release(cur, 1);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		err = uvfs_node_lookup(ctx, cur, comp, &next, NULL);
		uvfs_node_release(cur, 1);
		if (err)
			return err;
		cur = next;
		p = e;
	}
	*dir = cur;
	*name = last;
	return 0;
}

int uvfs_fuse_inval_path(struct uvfs_fuse *uf, struct uvfs_ctx *ctx,
			 const char *path)
{
	struct uvfs_node *dir;
	const char *name;
	char comp[NAME_MAX + 1];
	size_t len;
	int err;

	err = uvfs_fuse_walk_parent(uf, ctx, path, &dir, &name);
	if (err)
		return err;
	len = strcspn(name, "/");
	if (len > 0 && len <= NAME_MAX) {
		memcpy(comp, name, len);
		comp[len] = '\0';
		/* -ENOENT: the kernel has no such entry cached; fine */
		fuse_lowlevel_notify_inval_entry(uf->se, ID(uf, dir), comp,
						 len);
		atomic_fetch_add(&uf->ninval, 1);
	}
	uvfs_node_release(dir, 1);
	return 0;
}

void uvfs_fuse_inval_node(struct uvfs_fuse *uf, struct uvfs_node *nd)
{
	fuse_lowlevel_notify_inval_inode(uf->se, ID(uf, nd), 0, 0);
	atomic_fetch_add(&uf->ninval, 1);
}

size_t known_hold_devs(struct uvfs_fuse *uf, const dev_t *devs, size_t n,
		       struct uvfs_node ***out)
{
	size_t cap = 64, cnt = 0;
	struct uvfs_node **v = malloc(cap * sizeof(*v));

	*out = NULL;
	if (!v || n == 0) {
		free(v);
		return 0;
	}
	/* Collect under the stripe locks (each with one hold, so a FORGET
	 * cannot free the node meanwhile); notify outside them. */
	for (size_t s = 0; s < NSTRIPES; s++) {
		pthread_mutex_t *l = &uf->stripe[s];
		pthread_mutex_lock(l);
		for (struct kent *e = uf->known[s]; e; e = e->next) {
			size_t i;
			for (i = 0; i < n; i++)
				if (e->dev == devs[i])
					break;
			if (i == n)
				continue;
			if (cnt == cap) {
				struct uvfs_node **nv =
					realloc(v, 2 * cap * sizeof(*v));
				if (!nv)
					continue;
				v = nv;
				cap *= 2;
			}
			uvfs_node_hold(e->nd);
			v[cnt++] = e->nd;
		}
		pthread_mutex_unlock(l);
	}
	*out = v;
	return cnt;
}

void uvfs_fuse_inval_devs(struct uvfs_fuse *uf, const dev_t *devs, size_t n)
{
	struct uvfs_node **v;
	size_t cnt = known_hold_devs(uf, devs, n, &v);

	for (size_t i = 0; i < cnt; i++) {
		uvfs_fuse_inval_node(uf, v[i]);
		uvfs_node_release(v[i], 1);
	}
	free(v);
}

void uvfs_fuse_stats(struct uvfs_fuse *uf, struct uvfs_fuse_stats *st)
{
	st->requests = atomic_load(&uf->nreq);
	st->nodes = atomic_load(&uf->nnodes);
	st->lookups = atomic_load(&uf->nlookups);
	st->files = atomic_load(&uf->nfiles);
	st->forgets = atomic_load(&uf->nforgets);
	st->invalidations = atomic_load(&uf->ninval);
	st->queued = atomic_load(&uf->nqueued);
}

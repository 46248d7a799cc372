/*
 * torture_ns.c - namespace changes racing the lifecycle operations, on
 * testfs (nodes freed and poisoned at reclaim, handles at release).
 *
 * The tree: a directory of the root file system, /a (renamed to /b and
 * back by the workers: a rename of a directory above mount points), with
 * two mounts of type "tfs_top" on its m0 and m1, and in each a mount of
 * type "tfs_in" on its d0.  Racing:
 *   workers   open, create, read, fstat and close; nodes looked up and
 *             held, and handles opened on them, by the node API (as a
 *             FUSE front end does); mkdir, rmdir, unlink,
 *             link and rename (across directories, across the mounts);
 *             the rename of /a; lookups through ".." out of the mounts
 *             and up from a cwd inside them; readdir; and a revoke of a
 *             private file of their own, checked (below);
 *   top       mounts and unmounts the top mounts (normal, forced, lazy),
 *             suspends and resumes them, revokes files and directories,
 *             unregisters and registers tfs_top again;
 *   inner     the same for the inner mounts and tfs_in;
 *   holders   lists the holders of every mount, over and over.
 *
 * Invariants checked, besides each call's allowed errors:
 *   - a descriptor that answered EIO (its file revoked, its mount
 *     killed) answers EIO to every call but close until it is closed,
 *     and so do a node and a node's handle until released;
 *   - a file revoked while the revoker's descriptor was open on it (its
 *     device and inode, before and after the revoke, those of the path)
 *     is unreachable through that descriptor: EIO;
 *   - a forced unmount that succeeded leaves its caller's descriptor on
 *     the mount dead (EIO);
 *   - a normal unmount while its caller has a descriptor on the mount is
 *     EBUSY, and the holders then name that descriptor;
 *   - a forced unregister of a busy type returns 0 within its deadline;
 *   - at the end, with every descriptor closed and every cwd at "/",
 *     each mount left lists no holder but its children and unmounts
 *     normally (no reference leaked, no EBUSY without a holder), and
 *     every testfs node and handle was given back.
 * AddressSanitizer (use after free) and ThreadSanitizer (data races)
 * watch the rest.
 *
 *   UVFS_TORTURE_SECONDS   duration (default 5)
 *   UVFS_TORTURE_SHARE     fraction of that duration this run takes
 *   UVFS_TORTURE_SEED      random seed (default: time)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/uvfs.h>

#include "testfs.h"
#include "test_clock.h"
#include "torture_common.h"

#define NWORKERS 6
#define NTOP 2
#define NFDS 8

static struct uvfs *U;
static atomic_bool stop;
static unsigned long long seed0;
static struct uvfs_fstype_ops top_ops, in_ops;

/* Errors a call may answer here: a path through a renamed /a, a revoked
 * or killed file (EIO), a mount point or a mount's root (EBUSY), another
 * mount (EXDEV), the tree's own states. */
#define E_PATH ENOENT, ENOTDIR, EIO
static const int ok_path[] = { E_PATH, 0 };
static const int ok_open[] = { E_PATH, EEXIST, EISDIR, 0 };
static const int ok_fd[] = { EIO, 0 };
static const int ok_read[] = { EIO, EISDIR, 0 };
static const int ok_change[] = { E_PATH, EEXIST, ENOTEMPTY, EISDIR, EXDEV,
				 EINVAL, EBUSY, EPERM, 0 };
static const int ok_revoke[] = { E_PATH, EBUSY, 0 };
static const int ok_admin[] = { E_PATH, EINVAL, EBUSY, EALREADY, ENODEV,
				0 };

static long check(const char *who, const char *op, long r, const int *ok,
		  const char *path)
{
	if (r >= 0)
		return r;
	for (const int *e = ok; *e; e++)
		if (r == -*e)
			return r;
	report("%s: %s(%s) = %s", who, op, path ? path : "", errname(r));
	return r;
}

/* "/a" or "/b": where the tree is now, or was. */
static const char *top_dir(uint64_t *s)
{
	return rnd(s, 2) ? "/a" : "/b";
}

/* A random path in the tree: /X/mK[/d0 (the inner mount)][/dN]/NAME, or
 * one through "..", out of a mount and back into the other. */
static void rnd_path(uint64_t *s, char *buf, size_t size, char last)
{
	static const char *const names[] = { "d1", "d2", "f0", "f1", "f2" };
	int len = snprintf(buf, size, "%s/m%u", top_dir(s), rnd(s, NTOP));
	unsigned k;

	switch (rnd(s, 6)) {
	case 0: /* into the inner mount */
		len += snprintf(buf + len, size - (size_t)len, "/d0");
		break;
	case 1: /* out of the top mount by "..", into the other */
		len += snprintf(buf + len, size - (size_t)len, "/d1/../../m%u",
				rnd(s, NTOP));
		break;
	case 2: /* out of the inner mount, up to the top's root */
		len += snprintf(buf + len, size - (size_t)len, "/d0/..");
		break;
	}
	if (rnd(s, 2))
		len += snprintf(buf + len, size - (size_t)len, "/d%u",
				1 + rnd(s, 2));
	k = last == 'f' ? 2 + rnd(s, 3) : last == 'd' ? rnd(s, 2) : rnd(s, 5);
	snprintf(buf + len, size - (size_t)len, "/%s", names[k]);
}

/* ---- workers ------------------------------------------------------------ */

struct ofd {
	int fd;         /* -1: free */
	bool dead;      /* answered EIO: must go on doing so */
};

/* A node held through the node API (as a FUSE front end holds one), and
 * a handle opened on one: each dead for good once it answered EIO. */
#define NNODES 4
struct onode {
	struct uvfs_node *nd;   /* NULL: free */
	struct uvfs_file *h;    /* NULL: none open */
	bool dead, hdead;
};

struct worker {
	pthread_t thread;
	char name[16];
	struct uvfs_ctx *ctx;
	uint64_t rng;
	struct ofd fds[NFDS];
	struct onode nodes[NNODES];
	unsigned long calls, revokes_checked, nodes_kept, handles_opened,
		      nodes_dead;
	_Atomic(const char *) doing;
};

static struct worker workers[NWORKERS];

/* A call on a descriptor: EIO once means EIO until the close. */
static void fd_result(struct worker *w, struct ofd *o, const char *op,
		      long r, const int *ok)
{
	if (o->dead && r != -EIO)
		report("%s: %s on a dead descriptor = %s", w->name, op,
		       errname(r));
	check(w->name, op, r, ok, "fd");
	if (r == -EIO)
		o->dead = true;
}

static void fd_close(struct worker *w, struct ofd *o)
{
	check(w->name, "close", uvfs_close(w->ctx, o->fd), ok_fd, "fd");
	o->fd = -1;
	o->dead = false;
}

static void fd_keep(struct worker *w, int fd)
{
	unsigned i = rnd(&w->rng, NFDS);

	if (w->fds[i].fd >= 0)
		fd_close(w, &w->fds[i]);
	w->fds[i].fd = fd;
	w->fds[i].dead = false;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Opens this worker's private file at a mount's root, revokes it by its
 * path, and checks that the descriptor is dead when the revoke reached
 * its file: the path named it (device and inode) just before the revoke
 * and, in the same superblock, just after (a mount taken away meanwhile
 * and another put there would have another device). */
static void self_revoke(struct worker *w)
{
	char p[64], b[16];
	struct stat s0, s1, s2;
	long r;
	int fd;

	snprintf(p, sizeof(p), "%s/m%u%s/p%s", top_dir(&w->rng),
		 rnd(&w->rng, NTOP), rnd(&w->rng, 2) ? "/d0" : "",
		 w->name + 1);
	atomic_store(&w->doing, "self revoke");
	fd = (int)check(w->name, "open", uvfs_open(w->ctx, p, O_CREAT |
						   O_RDWR, 0600), ok_open, p);
	if (fd < 0)
		return;
	if (uvfs_fstat(w->ctx, fd, &s0) != 0 ||
	    uvfs_stat(w->ctx, p, &s1) != 0 || !same_file(&s0, &s1)) {
		uvfs_close(w->ctx, fd);
		return;
	}
	r = check(w->name, "revoke", uvfs_revoke(w->ctx, p), ok_revoke, p);
	if (r == 0 && uvfs_stat(w->ctx, p, &s2) == 0 &&
	    s2.st_dev == s0.st_dev && s2.st_ino == s0.st_ino) {
		w->revokes_checked++;
		r = uvfs_fstat(w->ctx, fd, &s2);
		if (r != -EIO)
			report("%s: fstat after revoke(%s) = %s", w->name, p,
			       errname(r));
		r = uvfs_read(w->ctx, fd, b, sizeof(b));
		if (r != -EIO)
			report("%s: read after revoke(%s) = %s", w->name, p,
			       errname(r));
	}
	check(w->name, "close", uvfs_close(w->ctx, fd), ok_fd, p);
}

static void node_drop(struct worker *w, struct onode *o)
{
	(void)w;
	if (o->h)
		uvfs_file_release(o->h);
	if (o->nd)
		uvfs_node_release(o->nd, 1);
	memset(o, 0, sizeof(*o));
}

/* A walk by the node API from the namespace root, name by name, as a
 * front end's lookups go: into the tree, across the mounts both ways
 * (".." too); the node found is kept, sometimes with a handle open. */
static void node_walk(struct worker *w)
{
	static const char *const names[] = { "d0", "d1", "..", "f0", "f1",
					     "f2", "d2" };
	struct uvfs_node *n, *c;
	struct uvfs_ctx *x = w->ctx;
	struct onode *o = &w->nodes[rnd(&w->rng, NNODES)];
	char path[96];
	int len, depth = (int)rnd(&w->rng, 3), r = 0;

	atomic_store(&w->doing, "node walk");
	if (uvfs_node_root(x, &n) != 0)
		return;
	len = snprintf(path, sizeof(path), "%s/m%u", top_dir(&w->rng),
		       rnd(&w->rng, NTOP));
	for (const char *p = path + 1, *e; r == 0 && *p; p = *e ? e + 1 : e) {
		char one[8];

		e = strchrnul(p, '/');
		snprintf(one, sizeof(one), "%.*s", (int)(e - p), p);
		r = uvfs_node_lookup(x, n, one, &c, NULL);
		uvfs_node_release(n, 1);
		n = r == 0 ? c : NULL;
	}
	for (int i = 0; r == 0 && i < depth; i++) {
		const char *one = names[rnd(&w->rng, 7)];

		len += snprintf(path + len, sizeof(path) - (size_t)len, "/%s",
				one);
		r = uvfs_node_lookup(x, n, one, &c, NULL);
		uvfs_node_release(n, 1);
		n = r == 0 ? c : NULL;
	}
	if (r != 0) {
		check(w->name, "node lookup", r, ok_path, path);
		return;
	}
	node_drop(w, o);
	o->nd = n;
	w->nodes_kept++;
	if (rnd(&w->rng, 2)) {
		if (check(w->name, "node open",
			  uvfs_node_open(x, n, O_RDONLY, w->name, &o->h),
			  ok_open, path) != 0)
			o->h = NULL;
		else
			w->handles_opened++;
	}
}

/* A call on a held node or its handle: EIO once means EIO until its
 * release (the node) or its release (the handle). */
static void node_use(struct worker *w)
{
	struct onode *o = &w->nodes[rnd(&w->rng, NNODES)];
	struct stat st;
	char b[64];
	long r;

	if (!o->nd)
		return;
	atomic_store(&w->doing, "node use");
	switch (rnd(&w->rng, 4)) {
	case 0:
		node_drop(w, o);
		break;
	case 1:
	case 2:
		r = uvfs_node_getattr(w->ctx, o->nd, &st);
		if (o->dead && r != -EIO)
			report("%s: getattr of a dead node = %s", w->name,
			       errname(r));
		check(w->name, "node getattr", r, ok_fd, "node");
		w->nodes_dead += r == -EIO;
		o->dead |= r == -EIO;
		break;
	case 3:
		if (!o->h)
			break;
		r = uvfs_file_pread(o->h, b, sizeof(b), 0);
		if (o->hdead && r != -EIO)
			report("%s: pread of a dead handle = %s", w->name,
			       errname(r));
		check(w->name, "handle pread", r, ok_read, "handle");
		o->hdead |= r == -EIO;
		break;
	}
}

static void worker_step(struct worker *w)
{
	char p[96], q[96], buf[256];
	struct uvfs_dirent de[8];
	struct uvfs_ctx *x = w->ctx;
	struct stat st;
	struct ofd *o;
	long r;
	int fd;

	w->calls++;
	switch (rnd(&w->rng, 22)) {
	case 20:
		node_walk(w);
		break;
	case 21:
		node_use(w);
		break;
	case 0: case 1:
		rnd_path(&w->rng, p, sizeof(p), 'f');
		atomic_store(&w->doing, "create");
		r = check(w->name, "create", uvfs_open(x, p, O_CREAT | O_RDWR,
						       0644), ok_open, p);
		if (r >= 0)
			fd_keep(w, (int)r);
		break;
	case 2:
		rnd_path(&w->rng, p, sizeof(p), 0);
		atomic_store(&w->doing, "open");
		r = check(w->name, "open", uvfs_open(x, p, O_RDONLY, 0),
			  ok_open, p);
		if (r >= 0)
			fd_keep(w, (int)r);
		break;
	case 3: case 4:
		o = &w->fds[rnd(&w->rng, NFDS)];
		if (o->fd < 0)
			break;
		atomic_store(&w->doing, "fd io");
		if (rnd(&w->rng, 2))
			fd_result(w, o, "fstat", uvfs_fstat(x, o->fd, &st),
				  ok_fd);
		else
			fd_result(w, o, "pread",
				  uvfs_pread(x, o->fd, buf, sizeof(buf), 0),
				  ok_read);
		break;
	case 5:
		o = &w->fds[rnd(&w->rng, NFDS)];
		if (o->fd >= 0) {
			atomic_store(&w->doing, "close");
			fd_close(w, o);
		}
		break;
	case 6:
		rnd_path(&w->rng, p, sizeof(p), 'd');
		atomic_store(&w->doing, "mkdir");
		check(w->name, "mkdir", uvfs_mkdir(x, p, 0755), ok_change, p);
		break;
	case 7:
		rnd_path(&w->rng, p, sizeof(p), 'd');
		atomic_store(&w->doing, "rmdir");
		check(w->name, "rmdir", uvfs_rmdir(x, p), ok_change, p);
		break;
	case 8:
		rnd_path(&w->rng, p, sizeof(p), 'f');
		atomic_store(&w->doing, "unlink");
		check(w->name, "unlink", uvfs_unlink(x, p), ok_change, p);
		break;
	case 9:
		rnd_path(&w->rng, p, sizeof(p), 'f');
		rnd_path(&w->rng, q, sizeof(q), 'f');
		atomic_store(&w->doing, "link");
		snprintf(buf, sizeof(buf), "%s, %s", p, q);
		check(w->name, "link", uvfs_link(x, p, q), ok_change, buf);
		break;
	case 10: case 11:
		rnd_path(&w->rng, p, sizeof(p), 0);
		rnd_path(&w->rng, q, sizeof(q), 0);
		atomic_store(&w->doing, "rename");
		snprintf(buf, sizeof(buf), "%s, %s", p, q);
		check(w->name, "rename", uvfs_rename(x, p, q, 0), ok_change,
		      buf);
		break;
	case 12: /* the directory above the mount points */
		atomic_store(&w->doing, "rename /a");
		if (rnd(&w->rng, 2))
			r = uvfs_rename(x, "/a", "/b", 0);
		else
			r = uvfs_rename(x, "/b", "/a", 0);
		check(w->name, "rename", r, ok_change, "/a <-> /b");
		break;
	case 13: case 14:
		rnd_path(&w->rng, p, sizeof(p), 0);
		atomic_store(&w->doing, "stat");
		check(w->name, "stat", uvfs_stat(x, p, &st), ok_path, p);
		break;
	case 15: { /* readdir */
		rnd_path(&w->rng, p, sizeof(p), 'd');
		if (rnd(&w->rng, 2))
			*strrchr(p, '/') = '\0';        /* a mount's root, .. */
		atomic_store(&w->doing, "readdir");
		fd = (int)check(w->name, "open", uvfs_open(x, p, O_RDONLY |
							   O_DIRECTORY, 0),
				ok_path, p);
		if (fd < 0)
			break;
		struct ofd d = { fd, false };
		for (int i = 0; i < 16; i++) {
			r = uvfs_readdir(x, fd, de, 8);
			fd_result(w, &d, "readdir", r, ok_fd);
			if (r <= 0)
				break;
		}
		fd_close(w, &d);
		break;
	}
	case 16: /* a cwd inside, and up out of it */
		rnd_path(&w->rng, p, sizeof(p), 'd');
		*strrchr(p, '/') = '\0';
		atomic_store(&w->doing, "chdir");
		if (check(w->name, "chdir", uvfs_chdir(x, p), ok_path, p) < 0)
			break;
		check(w->name, "stat", uvfs_stat(x, "..", &st), ok_path,
		      ".. of cwd");
		check(w->name, "stat", uvfs_stat(x, "../../m1/f0", &st),
		      ok_path, "../../m1/f0 of cwd");
		r = uvfs_getcwd(x, buf, sizeof(buf));
		check(w->name, "getcwd", r, ok_path, p);
		if (r > 0 && buf[0] != '/')
			report("%s: getcwd gave \"%s\"", w->name, buf);
		if (rnd(&w->rng, 2))
			check(w->name, "chdir", uvfs_chdir(x, "/"), ok_path,
			      "/");
		break;
	case 17:
		self_revoke(w);
		break;
	case 18: { /* holders, as a front end asks them */
		struct uvfs_holder *h = NULL;
		size_t n = 0;

		snprintf(p, sizeof(p), "%s/m%u%s", top_dir(&w->rng),
			 rnd(&w->rng, NTOP), rnd(&w->rng, 2) ? "/d0" : "");
		atomic_store(&w->doing, "holders");
		if (check(w->name, "holders", uvfs_holders(x, p, &h, &n),
			  ok_admin, p) == 0)
			free(h);
		break;
	}
	case 19:
		if (rnd(&w->rng, 8) == 0) {
			atomic_store(&w->doing, "close all");
			for (int i = 0; i < NFDS; i++)
				if (w->fds[i].fd >= 0)
					fd_close(w, &w->fds[i]);
			for (int i = 0; i < NNODES; i++)
				node_drop(w, &w->nodes[i]);
		}
		break;
	}
	atomic_store(&w->doing, "idle");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop))
		worker_step(w);
	for (int i = 0; i < NFDS; i++)
		if (w->fds[i].fd >= 0)
			fd_close(w, &w->fds[i]);
	for (int i = 0; i < NNODES; i++)
		node_drop(w, &w->nodes[i]);
	check(w->name, "chdir", uvfs_chdir(w->ctx, "/"), ok_path, "/");
	atomic_store(&w->doing, "done");
	return NULL;
}

/* ---- the admin threads: one for the top mounts, one for the inner -------- */

struct admin {
	pthread_t thread;
	const char *name;
	bool inner;             /* the tfs_in mounts on d0 */
	struct uvfs_ctx *ctx;
	uint64_t rng;
	struct uvfs_fstype_ops *ops;
	unsigned long mounts, unmounts, forced, lazy, busy_checked,
		      forced_checked, suspends, revokes, unregisters, lost;
	_Atomic(const char *) doing;
};

static struct admin admins[2];

/* The mount point of mount k, at /a or /b (wherever a stat finds it). */
static void target(struct admin *a, unsigned k, char *t, size_t size)
{
	struct stat st;

	snprintf(t, size, "%s/m%u%s", top_dir(&a->rng), k,
		 a->inner ? "/d0" : "");
	if (uvfs_stat(a->ctx, t, &st) != 0)
		t[1] = t[1] == 'a' ? 'b' : 'a';
}

/* A descriptor of the admin on a file in the mount at t, whose device
 * is that of t (else -1).  Only the top admin's: it alone mounts on the
 * top mounts' points, so t names the same mount at its unmount next; the
 * inner admin's t may name another by then (the top one above unmounted
 * lazily, and one of its own mounted on the directory it covered). */
static int hold_open(struct admin *a, const char *t, char *p, size_t size)
{
	struct stat s0, s1;
	int fd;

	if (a->inner)
		return -1;
	snprintf(p, size, "%s/adm", t);
	fd = uvfs_open(a->ctx, p, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		return -1;
	if (uvfs_fstat(a->ctx, fd, &s0) != 0 ||
	    uvfs_stat(a->ctx, t, &s1) != 0 || s0.st_dev != s1.st_dev) {
		uvfs_close(a->ctx, fd);
		return -1;
	}
	return fd;
}

/* Whether a mount of the admin's type is suspended. */
static bool suspended_left(struct admin *a)
{
	struct uvfs_mount_info *v;
	bool any = false;
	size_t n;

	if (uvfs_mount_list(U, &v, &n) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		any |= strcmp(v[i].type, a->ops->name) == 0 &&
		       strcmp(v[i].state, "suspended") == 0;
	free(v);
	return any;
}

/* A resume that found no mount: the one suspended may be gone, or
 * covered (the inner admin's mount on a d0 of the root file system,
 * with a top mount put over its m0 since: no path reaches it).  Nothing
 * can resume a covered one; a forced unregister of its type kills it,
 * which ends its waiters' waits (EIO). */
static void resume_lost(struct admin *a)
{
	int r;

	if (!suspended_left(a))
		return;
	atomic_store(&a->doing, "unregister (a lost suspension)");
	r = uvfs_fstype_unregister(U, a->ops->name, 0, 5000);
	if (r != 0)
		report("%s: unregister(%s) = %s", a->name, a->ops->name,
		       errname(r));
	r = uvfs_fstype_register(U, a->ops);
	if (r != 0)
		report("%s: register(%s) = %s", a->name, a->ops->name,
		       errname(r));
	a->lost++;
}

static void admin_step(struct admin *a)
{
	unsigned k = rnd(&a->rng, NTOP);
	char t[64], p[128];
	struct stat st;
	long r;
	int fd;

	target(a, k, t, sizeof(t));
	switch (rnd(&a->rng, 12)) {
	case 0: case 1:
		atomic_store(&a->doing, "mount");
		if (a->inner)
			uvfs_mkdir(a->ctx, t, 0755);
		r = check(a->name, "mount", uvfs_mount(a->ctx, a->ops->name,
						       "none", t,
						       rnd(&a->rng, 2) ?
						       "deadline=300" : ""),
			  ok_admin, t);
		a->mounts += r == 0;
		break;
	case 2:
		atomic_store(&a->doing, "umount");
		r = check(a->name, "umount", uvfs_umount(a->ctx, t, 0),
			  ok_admin, t);
		a->unmounts += r == 0;
		break;
	case 3: { /* busy: our own descriptor holds it, and is named */
		struct uvfs_holder *h = NULL;
		size_t n = 0;
		bool named = false;

		atomic_store(&a->doing, "umount busy");
		fd = hold_open(a, t, p, sizeof(p));
		if (fd < 0)
			break;
		r = uvfs_umount(a->ctx, t, 0);
		if (r == 0 || r == -EBUSY)
			a->busy_checked++;
		if (r == 0)
			report("%s: umount(%s) = 0 with %s open", a->name, t,
			       p);
		else
			check(a->name, "umount", r, ok_admin, t);
		if (r == -EBUSY &&
		    uvfs_holders(a->ctx, t, &h, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				named |= h[i].kind == UVFS_HOLDER_FILE &&
					 h[i].fd == fd &&
					 h[i].ctx_id == uvfs_ctx_id(a->ctx);
			if (!named)
				report("%s: umount(%s) EBUSY but its holders "
				       "(%zu) do not name fd %d", a->name, t,
				       n, fd);
			free(h);
		}
		uvfs_close(a->ctx, fd);
		break;
	}
	case 4: /* forced: our own descriptor turns dead */
		atomic_store(&a->doing, "umount force");
		fd = hold_open(a, t, p, sizeof(p));
		r = check(a->name, "umount -f",
			  uvfs_umount(a->ctx, t, UVFS_UMOUNT_FORCE), ok_admin,
			  t);
		a->forced += r == 0;
		if (fd >= 0 && r == 0) {
			a->forced_checked++;
			if ((r = uvfs_fstat(a->ctx, fd, &st)) != -EIO)
				report("%s: fstat of %s after its forced "
				       "unmount = %s", a->name, p, errname(r));
		}
		if (fd >= 0)
			uvfs_close(a->ctx, fd);
		break;
	case 5:
		atomic_store(&a->doing, "umount lazy");
		r = check(a->name, "umount -l",
			  uvfs_umount(a->ctx, t, UVFS_UMOUNT_DETACH), ok_admin,
			  t);
		a->lazy += r == 0;
		break;
	case 6: case 7:
		atomic_store(&a->doing, "suspend");
		r = check(a->name, "suspend", uvfs_suspend(a->ctx, t),
			  ok_admin, t);
		if (r == 0) {
			a->suspends++;
			usleep(rnd(&a->rng, 2000));
			atomic_store(&a->doing, "resume");
			/* by its name now: a worker may have renamed /a
			 * (ENOENT: the other name); EINVAL: unmounted
			 * meanwhile (forced, by the other admin's unregister
			 * or unmount above) */
			for (int i = 0; i < 1000; i++) {
				r = uvfs_resume(a->ctx, t);
				if (r != -ENOENT)
					break;
				t[1] = t[1] == 'a' ? 'b' : 'a';
			}
			check(a->name, "resume", r, ok_admin, t);
			if (r != 0)
				resume_lost(a);
		}
		break;
	case 8: case 9: case 10: /* a file or a directory */
		snprintf(p, sizeof(p), "%s/%s", t,
			 (const char *[]){ "d1", "d2", "f0", "f1",
					   "d1/f0" }[rnd(&a->rng, 5)]);
		atomic_store(&a->doing, "revoke");
		r = check(a->name, "revoke", uvfs_revoke(a->ctx, p),
			  ok_revoke, p);
		a->revokes += r == 0;
		break;
	case 11:
		if (rnd(&a->rng, 4))
			break;
		atomic_store(&a->doing, "unregister");
		r = uvfs_fstype_unregister(U, a->ops->name, 0, 5000);
		if (r != 0)
			report("%s: unregister(%s) = %s", a->name,
			       a->ops->name, errname(r));
		else
			a->unregisters++;
		r = uvfs_fstype_register(U, a->ops);
		if (r != 0)
			report("%s: register(%s) = %s", a->name, a->ops->name,
			       errname(r));
		break;
	}
	atomic_store(&a->doing, "sleeping");
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;

	while (!atomic_load(&stop)) {
		admin_step(a);
		usleep(200 + rnd(&a->rng, 3000));
	}
	atomic_store(&a->doing, "done");
	return NULL;
}

/* ---- the holders thread --------------------------------------------------- */

static pthread_t holders_thread;
static struct uvfs_ctx *holders_ctx;
static unsigned long holders_listed;

static void *holders_main(void *arg)
{
	uint64_t rng = seed0 * 17 + 3;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct uvfs_holder *h = NULL;
		size_t n = 0;
		char t[64];

		snprintf(t, sizeof(t), "%s/m%u%s", top_dir(&rng),
			 rnd(&rng, NTOP), rnd(&rng, 2) ? "/d0" : "");
		if (check("holders", "holders",
			  uvfs_holders(holders_ctx, t, &h, &n), ok_admin,
			  t) == 0) {
			holders_listed += n;
			for (size_t i = 0; i < n; i++)
				if (h[i].kind > UVFS_HOLDER_CHILD ||
				    !memchr(h[i].path, 0, sizeof(h[i].path)))
					report("holders(%s): a bad entry", t);
			free(h);
		}
	}
	return NULL;
}

/* ---- the end: nothing held, every mount unmounts normally ---------------- */

/* Unmounts (normally) what t names, as long as it names a mount; each
 * must list no holder but mounts on it, and unmount unless it has those.
 * => how many were unmounted. */
static int unmount_idle(struct uvfs_ctx *c, const char *t)
{
	struct uvfs_holder *h = NULL;
	size_t n = 0;
	int r, done = 0;

	while ((r = uvfs_holders(c, t, &h, &n)) == 0) {
		size_t children = 0;

		for (size_t i = 0; i < n; i++) {
			if (h[i].kind == UVFS_HOLDER_CHILD) {
				children++;
				continue;
			}
			report("at the end, %s is held: %s %s (ctx %llu, fd "
			       "%d)", t, uvfs_holder_kind_name(h[i].kind),
			       h[i].path, (unsigned long long)h[i].ctx_id,
			       h[i].fd);
		}
		free(h);
		r = uvfs_umount(c, t, 0);
		if (r == -EBUSY && children)
			return done;    /* a mount below: that one first */
		if (r == -EBUSY) {
			report("at the end, umount(%s) = EBUSY with %zu "
			       "holders", t, n);
			r = uvfs_umount(c, t, UVFS_UMOUNT_FORCE);
		}
		if (r != 0) {
			report("at the end, umount(%s) = %s", t, errname(r));
			return done;
		}
		done++;
	}
	if (r != -ENOENT && r != -EINVAL)
		report("at the end, holders(%s) = %s", t, errname(r));
	return done;
}

static void test_torture_ns(void **state)
{
	const char *env = getenv("UVFS_TORTURE_SECONDS");
	const char *share = getenv("UVFS_TORTURE_SHARE");
	double seconds = env ? atof(env) : 5, end;
	struct uvfs_ctx *root;
	struct uvfs_stats st;
	char t[64];
	int i;

	(void)state;
	if (seconds <= 0)
		seconds = 5;
	if (share && atof(share) > 0)
		seconds *= atof(share);
	assert_int_equal(uvfs_new(NULL, &U), 0);
	top_ops = testfs_ops;
	top_ops.name = "tfs_top";
	in_ops = testfs_ops;
	in_ops.name = "tfs_in";
	assert_int_equal(uvfs_fstype_register(U, &top_ops), 0);
	assert_int_equal(uvfs_fstype_register(U, &in_ops), 0);
	testfs_set_delay(50);
	assert_int_equal(uvfs_ctx_new(U, NULL, &root), 0);
	assert_int_equal(uvfs_mkdir(root, "/a", 0755), 0);
	for (i = 0; i < NTOP; i++) {
		snprintf(t, sizeof(t), "/a/m%d", i);
		assert_int_equal(uvfs_mkdir(root, t, 0755), 0);
		assert_int_equal(uvfs_mount(root, "tfs_top", "none", t, ""), 0);
		snprintf(t, sizeof(t), "/a/m%d/d0", i);
		assert_int_equal(uvfs_mkdir(root, t, 0755), 0);
		assert_int_equal(uvfs_mount(root, "tfs_in", "none", t, ""), 0);
	}
	printf("    %d workers, %g s, seed %llu\n", NWORKERS, seconds, seed0);

	for (i = 0; i < 2; i++) {
		struct admin *a = &admins[i];

		a->name = i ? "inner" : "top";
		a->inner = i == 1;
		a->ops = i ? &in_ops : &top_ops;
		a->rng = seed0 * 31 + 7 + (uint64_t)i;
		assert_int_equal(uvfs_ctx_new(U, NULL, &a->ctx), 0);
		uvfs_ctx_set_label(a->ctx, a->name);
	}
	assert_int_equal(uvfs_ctx_new(U, NULL, &holders_ctx), 0);
	for (i = 0; i < NWORKERS; i++) {
		struct worker *w = &workers[i];

		snprintf(w->name, sizeof(w->name), "w%d", i);
		w->rng = seed0 + (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
		for (int k = 0; k < NFDS; k++)
			w->fds[k].fd = -1;
		atomic_store(&w->doing, "starting");
		assert_int_equal(uvfs_ctx_new(U, NULL, &w->ctx), 0);
		uvfs_ctx_set_label(w->ctx, w->name);
		assert_int_equal(pthread_create(&w->thread, NULL, worker_main,
						w), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&admins[i].thread, NULL,
						admin_main, &admins[i]), 0);
	assert_int_equal(pthread_create(&holders_thread, NULL, holders_main,
					NULL), 0);

	end = now_ms() + seconds * 1000;
	while (now_ms() < end)
		sleep_ms(50);
	atomic_store(&stop, true);

	/* a watchdog: nothing may hang */
	end = now_ms() + 30000;
	for (;;) {
		bool all = true;

		for (i = 0; i < NWORKERS; i++)
			all &= strcmp(atomic_load(&workers[i].doing),
				      "done") == 0;
		for (i = 0; i < 2; i++)
			all &= strcmp(atomic_load(&admins[i].doing),
				      "done") == 0;
		if (all)
			break;
		if (now_ms() > end) {
			fprintf(stderr, "torture-ns: threads hang:\n");
			for (i = 0; i < NWORKERS; i++)
				fprintf(stderr, "  %s: %s\n", workers[i].name,
					atomic_load(&workers[i].doing));
			for (i = 0; i < 2; i++)
				fprintf(stderr, "  %s: %s\n", admins[i].name,
					atomic_load(&admins[i].doing));
			fflush(stderr);
			_exit(1);
		}
		sleep_ms(10);
	}
	for (i = 0; i < NWORKERS; i++)
		pthread_join(workers[i].thread, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(admins[i].thread, NULL);
	pthread_join(holders_thread, NULL);

	unsigned long calls = 0, checked = 0, kept = 0, opened = 0, dead = 0;
	for (i = 0; i < NWORKERS; i++) {
		calls += workers[i].calls;
		checked += workers[i].revokes_checked;
		kept += workers[i].nodes_kept;
		opened += workers[i].handles_opened;
		dead += workers[i].nodes_dead;
	}
	printf("    workers: %lu calls, %lu revokes of an open file checked;"
	       " %lu nodes held (%lu with a handle, %lu answers of dead "
	       "ones); holders listed %lu\n", calls, checked, kept, opened,
	       dead, holders_listed);
	for (i = 0; i < 2; i++) {
		struct admin *a = &admins[i];

		printf("    %s: %lu mounts, unmounts %lu normal %lu forced "
		       "%lu lazy, %lu busy and %lu forced checked, %lu "
		       "suspends (%lu lost), %lu revokes, %lu unregisters\n",
		       a->name,
		       a->mounts, a->unmounts, a->forced, a->lazy,
		       a->busy_checked, a->forced_checked, a->suspends,
		       a->lost, a->revokes, a->unregisters);
	}

	/* nothing is held now: what is mounted unmounts normally (a mount
	 * a mount covers comes out once that one is gone) */
	for (int done = 1, pass = 0; done && pass < 8; pass++) {
		done = 0;
		for (i = 0; i < NTOP; i++) {
			for (const char *d = "/a"; d;
			     d = d[1] == 'a' ? "/b" : NULL) {
				snprintf(t, sizeof(t), "%s/m%d/d0", d, i);
				done += unmount_idle(root, t);
				snprintf(t, sizeof(t), "%s/m%d", d, i);
				done += unmount_idle(root, t);
			}
		}
	}
	for (i = 0; i < NWORKERS; i++)
		uvfs_ctx_free(workers[i].ctx);
	for (i = 0; i < 2; i++)
		uvfs_ctx_free(admins[i].ctx);
	uvfs_ctx_free(holders_ctx);
	uvfs_ctx_free(root);
	if ((i = uvfs_settle(U, 10000)) != 0)
		report("uvfs_settle = %s", errname(i));
	uvfs_stats(U, &st);
	printf("    at the end: sb %llu mounts %llu vnodes %llu files %llu "
	       "ctx %llu\n", (unsigned long long)st.superblocks,
	       (unsigned long long)st.mounts, (unsigned long long)st.vnodes,
	       (unsigned long long)st.files, (unsigned long long)st.contexts);
	if (st.files || st.nodes || st.contexts || st.mounts != 1 ||
	    st.superblocks != 1)
		report("objects left: files %llu mounts %llu superblocks %llu",
		       (unsigned long long)st.files,
		       (unsigned long long)st.mounts,
		       (unsigned long long)st.superblocks);
	uvfs_free(U);
	U = NULL;
	if (testfs_live_handles() || testfs_live_nodes())
		report("testfs objects left: %ld handles, %ld nodes",
		       testfs_live_handles(), testfs_live_nodes());
	report_end(seed0);
}

int main(void)
{
	const char *env = getenv("UVFS_TORTURE_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torture_ns),
	};

	seed0 = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

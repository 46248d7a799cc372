/*
 * control.c - uvfsd's control socket: one request per connection.  This
 * file: setup, the requests, the device table, shutdown; the connections
 * are in conn.c, the records of a busy reply in holders.c, the structures
 * the three share in control_i.h.
 *
 * Requests (tokens %-escaped, see ctl.h; paths are namespace paths):
 *   mount TYPE SOURCE TARGET OPTIONS
 *   umount [-f] [-l] TARGET
 *   revoke PATH
 *   suspend TARGET | resume TARGET
 *   mounts | holders TARGET | stats | info
 * A TARGET is an absolute path, or "id:N": the mount whose id (of the
 * "mounts" records) is N, named without a walk (uvfs_umount_id and the
 * others), so also when no path reaches it (covered by a later mount)
 * or the way there is suspended or hung.  A path is always absolute, so
 * the two cannot be confused.
 * The reply is "ok" or "error ERRNO MESSAGE", then records.  A malformed
 * request gets an error and changes nothing.  Only the daemon's own uid and
 * root may talk to it (SO_PEERCRED), and the socket is mode 0600.
 *
 * Namespace changes invalidate the kernel's caches (uvfs_fuse_inval_*):
 * after a mount, the mount point's entry (so the next lookup crosses into
 * the new file system); before a normal unmount, the same entry, which
 * makes the kernel drop what nothing uses below it, so that EBUSY means a
 * real holder; after a forced unmount, every node of the dead file systems
 * (their page cache must not answer reads) and the entry; after a revoke,
 * the file's node and entry.  The pages of dead files are dropped in the
 * background (uvfs_fuse_dead_*: the kernel writes each dirty page first,
 * a time that grows with the dirty data): the reply waits for them until
 * the mount's deadline, counted from the request's start, and no longer,
 * and never under c->op.
 *
 * Connections: the peer's uid is checked at accept (strangers are answered
 * at once by the acceptor and drained briefly, no thread, no slot); each
 * admitted connection has a thread, one deadline for its whole request and
 * one for its reply; at most MAX_CONNS, MAX_CONNS_PER_UID per uid, and at
 * a cap the oldest connection still sending its request is dropped for the
 * new one (admit_locked), or else it is a spare, served only a resume, a
 * forced unmount or a request that answers at once (control_spare_request:
 * every slot may be waiting on a suspended mount).  The socket's directory
 * must be the daemon's own (check_dir).
 *
 * Locks: c->lock guards the connection list and count and the device
 * table (a leaf: nothing else is taken under it); c->op orders the device
 * table with the namespace changes: a mount's entry is added under it only
 * if the mount is still there, an unmount takes the entries of what went
 * under it, with their invalidation.  It is never held across a walk
 * (nor anything else that may wait on a file system): a walk into a
 * suspended mount waits until the resume, and a forced unmount or a
 * resume, which end that wait, must never queue behind it.  The library
 * orders the namespace changes themselves (suspend, resume and revoke
 * never took c->op).
 */
#define _GNU_SOURCE
#include "control_i.h"
#include "deadline.h"       /* lib/util */

#include <uvfs/9p.h>
#ifdef UVFS_HAVE_NFS
#include <uvfs/nfs.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- setup ------------------------------------------------------------- */

/* The directory of the socket path into dir ("/" for a socket at the
 * top); -EINVAL if path has no '/'. */
static int socket_dir(const char *path, char dir[PATH_MAX])
{
	char *slash;

	snprintf(dir, PATH_MAX, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (!*dir)
		snprintf(dir, PATH_MAX, "/");
	return 0;
}

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];

	if (socket_dir(path, dir) || strcmp(dir, "/") == 0)
		return 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The socket's directory must be the daemon's alone: a directory (not a
 * symlink), owned by the daemon's uid, no access for group or others.
 * Anyone else who can write there could replace the socket with their own
 * and receive the owner's commands (a directory under /tmp can be made
 * first by another user).  => 0, or -EPERM with a message printed. */
static int check_dir(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (socket_dir(path, dir))
		return -EINVAL;
	if (lstat(dir, &st)) {
		int err = -errno;
		fprintf(stderr, "uvfsd: socket directory %s: %s\n", dir,
			strerror(-err));
		return err;
	}
	/* ours, and no one else could write in it (an older uvfsd made
	 * /run/uvfs 0755): only tightened */
	if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022) && (st.st_mode & 077) && chmod(dir, 0700) == 0)
		st.st_mode &= ~(mode_t)077;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		fprintf(stderr,
			"uvfsd: refusing the socket directory %s: it must be "
			"a directory owned by uid %u with mode 0700, and it is "
			"%s owned by uid %u with mode %04o (someone else could "
			"replace the socket); remove it or choose another "
			"with --socket\n", dir, (unsigned)geteuid(),
			S_ISLNK(st.st_mode) ? "a symlink" :
			S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
			(unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int control_check_dir(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (socket_dir(path, dir))
		return -EINVAL;
	if (lstat(dir, &st) && errno == ENOENT)
		return 0;       /* made 0700 by control_open */
	return check_dir(path);
}

int control_open(const char *path, int wait_ms, struct control **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "uvfsd: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	err = mkdir_parent(path);
	if (err) {
		fprintf(stderr, "uvfsd: cannot create the directory of %s: %s\n",
			path, strerror(-err));
		return err;
	}
	err = check_dir(path);
	if (err)
		return err;
	for (int waited = 0;; waited += 50) {
		fd = sock_connect(path);
		if (fd < 0)
			break;
		close(fd);
		if (waited >= wait_ms) {
			fprintf(stderr, "uvfsd: a daemon already answers on "
				"%s\n", path);
			return -EADDRINUSE;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (fd == -ECONNREFUSED)
		unlink(path); /* a stale socket */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(fd, 64))
		err = -errno;
	if (err) {
		fprintf(stderr, "uvfsd: cannot listen on %s: %s\n", path,
			strerror(-err));
		close(fd);
		return err;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path)) || pipe2(c->wake, O_CLOEXEC)) {
		if (c)
			free(c->path);
		free(c);
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	c->lfd = fd;
	c->conns.next = c->conns.prev = &c->conns;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	pthread_mutex_init(&c->op, NULL);
	*out = c;
	return 0;
}

/* ---- the device table -------------------------------------------------- */

/* id: the mount's in the library's list (0: not known). */
static void devs_add(struct control *c, const char *target, dev_t dev,
		     uint64_t id)
{
	char *t = strdup(target);

	if (!t)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->ndevs == c->capdevs) {
		size_t cap = c->capdevs ? 2 * c->capdevs : 16;
		struct mdev *v = realloc(c->devs, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&c->lock);
			free(t);
			return;
		}
		c->devs = v;
		c->capdevs = cap;
	}
	c->devs[c->ndevs++] = (struct mdev){ t, dev, id };
	pthread_mutex_unlock(&c->lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* After an unmount of target: the devices of the mounts at or below it
 * that are gone from the namespace, taken from the table.  One still
 * there keeps its entry: a mount the unmounted one covered on the same
 * target (or one made below since), whose own forced unmount needs it.
 * An entry whose mount is not known (id 0) goes.  c->op held.  =>
 * malloc'ed array (may be NULL with *n == 0). */
static dev_t *devs_take_gone(struct control *c, const char *target,
			     size_t *n)
{
	struct uvfs_mount_info *mi = NULL;
	size_t nm = 0, k = 0;
	uint64_t *live = NULL;
	dev_t *v;

	/* before c->lock, which is a leaf */
	if (uvfs_mount_list(c->u, &mi, &nm) == 0 &&
	    (live = malloc((nm + 1) * sizeof(*live))) != NULL) {
		for (size_t i = 0; i < nm; i++)
			live[i] = mi[i].id;
		qsort(live, nm, sizeof(*live), cmp_u64);
	} else {
		nm = 0;
	}
	free(mi);
	pthread_mutex_lock(&c->lock);
	v = malloc((c->ndevs + 1) * sizeof(*v));
	for (size_t i = 0; i < c->ndevs;) {
		uint64_t id = c->devs[i].id;
		if (!ctl_under(c->devs[i].target, target) ||
		    (id && live && bsearch(&id, live, nm, sizeof(*live),
					   cmp_u64))) {
			i++;
			continue;
		}
		if (v)
			v[k++] = c->devs[i].dev;
		free(c->devs[i].target);
		c->devs[i] = c->devs[--c->ndevs];
	}
	pthread_mutex_unlock(&c->lock);
	free(live);
	*n = k;
	return v;
}

/* ---- requests ---------------------------------------------------------- */

static int abs_path(const char *p)
{
	return p[0] == '/' && strlen(p) < 4096;
}

/* A request's TARGET: an absolute path (0, *id = 0) or "id:N" (0, *id =
 * N, which is never 0); -1 neither. */
static int target_parse(const char *tok, uint64_t *id)
{
	char *end;

	*id = 0;
	if (abs_path(tok))
		return 0;
	if (strncmp(tok, "id:", 3) != 0 || tok[3] < '0' || tok[3] > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(tok + 3, &end, 10);
	if (*end || errno || v == 0)
		return -1;
	*id = v;
	return 0;
}

/* The mount list's name of the mount id, into buf (the host paths of a
 * reply, the device table, the invalidations need one).  => 0, or -ENOENT
 * when it is not listed (gone, or never was). */
static int id_target(struct control *c, uint64_t id, char *buf,
		     size_t size)
{
	struct uvfs_mount_info *mi;
	size_t n;
	int err = -ENOENT;

	if (uvfs_mount_list(c->u, &mi, &n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (mi[i].id == id) {
			snprintf(buf, size, "%s", mi[i].target);
			err = 0;
		}
	free(mi);
	return err;
}

static int umount_named(struct uvfs_ctx *ctx, const char *target,
			uint64_t id, unsigned flags)
{
	return id ? uvfs_umount_id(ctx, id, flags)
		  : uvfs_umount(ctx, target, flags);
}

/* The name the kernel knows path by (symlinks resolved): what the
 * invalidations must name.  Falls back to path itself. */
static const char *canonical(struct uvfs_ctx *ctx, const char *path,
			     char *buf, size_t size)
{
	return uvfs_realpath(ctx, path, buf, size) >= 0 ? buf : path;
}

/* The highest mount id now (0 if the list cannot be had): a mount made
 * after this has a higher one. */
static uint64_t last_mount_id(struct control *c)
{
	struct uvfs_mount_info *mi;
	size_t n;
	uint64_t id = 0;

	if (uvfs_mount_list(c->u, &mi, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (mi[i].id > id)
			id = mi[i].id;
	free(mi);
	return id;
}

/* Is a mount with an id above since still attached at target?  No walk:
 * the library's list.  => 1 with *id the highest such (the top one, whose
 * root a stat just saw), 0 if none; 1 with *id 0 where the list cannot be
 * had or tell (a target longer than its field). */
static int mounted_since(struct control *c, const char *target,
			 uint64_t since, uint64_t *id)
{
	struct uvfs_mount_info *mi;
	size_t n;

	*id = 0;
	if (strlen(target) >= sizeof(mi->target) ||
	    uvfs_mount_list(c->u, &mi, &n))
		return 1;       /* the list would not show it whole */
	for (size_t i = 0; i < n; i++)
		if (mi[i].id > since && mi[i].id > *id &&
		    strcmp(mi[i].target, target) == 0)
			*id = mi[i].id;
	free(mi);
	return *id != 0;
}

/* The walks (the mount's own to its target, the canonical name, the new
 * root's stat, the invalidation's walk to the parent) run without c->op:
 * a target inside a suspended mount makes them wait until the resume, and
 * a forced unmount of that mount, which ends the wait (the walk fails),
 * must not queue behind them.  Under c->op only the device table's entry,
 * and only if the new mount is still there: an unmount that took it away
 * before could not know its device, so its dead nodes are dropped here. */
static void do_mount(struct control *c, struct uvfs_ctx *ctx, char **argv,
		     struct sbuf *r)
{
	char canon[PATH_MAX];
	struct stat st;
	uint64_t since = last_mount_id(c);
	int err;

	/* The mount list (uvfs mounts, the --mtab file) keeps a target of
	 * so many bytes: a longer one would be listed cut short, and
	 * replayed at the next start on the shortened path. */
	_Static_assert(sizeof(((struct uvfs_mount_info *)0)->target) == 1024,
		       "the message says 1023 bytes");
	/* one walk to the target's canonical name, which the mount does
	 * not change */
	const char *target = canonical(ctx, argv[3], canon, sizeof(canon));
	if (strlen(target) >= sizeof(((struct uvfs_mount_info *)0)->target))
		return control_reply_error(r, ENAMETOOLONG, "the target's path "
				   "is longer than the mount table keeps "
				   "(1023 bytes)");
	err = uvfs_mount(ctx, argv[1], argv[2], argv[3], argv[4]);
	if (err == -EBUSY && strcmp(target, "/") == 0)
		return control_reply_error(r, err, "the target is the namespace root "
				   "(the FUSE mount point itself), which "
				   "cannot be mounted on");
	if (!err) {
		bool have_dev = uvfs_stat(ctx, target, &st) == 0;
		uint64_t id;
		pthread_mutex_lock(&c->op);
		if (!mounted_since(c, target, since, &id)) {
			if (have_dev)
				uvfs_fuse_dead_devs(c->uf, &st.st_dev, 1);
		} else if (have_dev) {
			devs_add(c, target, st.st_dev, id);
		}
		pthread_mutex_unlock(&c->op);
		uvfs_fuse_inval_path(c->uf, ctx, target);
	}
	control_reply(r, err, NULL, NULL);
}

/* The forced-unmount deadline (ms) of the innermost mount path is in
 * (the library's, uvfs_mount_info.deadline_ms); 1000 if none is found. */
static int deadline_of(struct control *c, const char *path)
{
	struct uvfs_mount_info *mi;
	size_t n, best = 0;
	int ms = 1000;

	if (uvfs_mount_list(c->u, &mi, &n))
		return ms;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(mi[i].target);
		if (ctl_under(path, mi[i].target) && len >= best) {
			best = len;
			ms = (int)mi[i].deadline_ms;
		}
	}
	free(mi);
	return ms;
}

/* After a forced unmount or a revoke: waits for the pages of the dead
 * files to be dropped until *dl (the request's start plus the mount's
 * deadline), not longer; the rest goes on in the background (docs/fuse.md,
 * -o writeback, "What the reply waits for").  Called without c->op: the
 * invalidation's WRITEs are answered by FUSE workers, and nothing of
 * ours may wait on them while holding a lock. */
static void dead_wait(struct control *c, uint64_t ticket,
		      const struct timespec *dl)
{
	if (uvfs_fuse_dead_wait(c->uf, ticket, dl) == -ETIMEDOUT)
		fprintf(stderr, "uvfsd: the kernel still drops the pages of "
			"dead files (dirty ones are written first, each "
			"refused) past the mount's deadline; that goes on in "
			"the background\n");
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void do_umount(struct control *c, struct uvfs_ctx *ctx, int argc,
		      char **argv, pid_t peer, struct sbuf *r)
{
	unsigned flags = 0;
	const char *target = NULL;
	uint64_t id = 0;
	dev_t *devs = NULL;
	size_t ndevs = 0;
	int err;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			for (const char *f = argv[i] + 1; *f; f++) {
				if (*f == 'f')
					flags |= UVFS_UMOUNT_FORCE;
				else if (*f == 'l')
					flags |= UVFS_UMOUNT_DETACH;
				else
					return control_reply_error(r, EINVAL,
							   "unknown flag");
			}
		} else if (!target && target_parse(argv[i], &id) == 0) {
			target = argv[i];
		} else {
			return control_reply_error(r, EINVAL, "malformed request");
		}
	}
	if (!target)
		return control_reply_error(r, EINVAL, "malformed request");

	char canon[PATH_MAX];
	struct timespec dl;
	uint64_t ticket = 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);    /* the request's start */
	/* A path the mount table names (a mount point's name, no symlink)
	 * is that mount's id, found without a walk: a walk to it through a
	 * hung file server's mount waits for the server's deadline (the
	 * canonical name, the library's own walk), and the unmount, plain
	 * or forced, should answer at once (docs/fuse.md, "Invalidation").
	 * Else, not under c->op: the walks to a target inside a suspended
	 * mount wait until the resume, and a forced unmount of that mount
	 * (which ends the wait) must not queue behind them (do_mount). */
	if (!id && uvfs_mount_id_of(ctx, target, &id) != 0)
		id = 0;
	if (!id)
		target = canonical(ctx, target, canon, sizeof(canon));
	else if ((err = id_target(c, id, canon, sizeof(canon))) != 0)
		return control_reply_error(r, err, "no mount has this id "
				   "(uvfs mounts lists them)");
	else
		target = canon;
	if (strcmp(target, "/") == 0)   /* the library: EBUSY, as Linux */
		return control_reply_error(r, EBUSY, "the target is the "
				   "namespace root (the FUSE mount point "
				   "itself), which cannot be unmounted: uvfs "
				   "shutdown stops uvfsd");
	if (flags & UVFS_UMOUNT_FORCE)
		ts_add_ms(&dl, deadline_of(c, target));
	if (flags == 0) {
		/* What the kernel caches below the target holds nodes: make
		 * it drop what nothing uses, then wait for its FORGETs while
		 * the holder count keeps falling.  Only when nothing else
		 * holds the mount (it is busy anyway otherwise): the
		 * invalidation unhashes the mount point's entry even when
		 * entries below are in use, and those (a working directory,
		 * an open file, a lookup in progress that completes under
		 * it) then stay orphaned in the kernel's cache once let go,
		 * holding their nodes until memory pressure, so that every
		 * later unmount would be busy (tests/fuse/umount.sh); and
		 * getcwd fails in a working directory so unhashed.  What is
		 * looked at: the library's holders of this mount (open files
		 * among them), the requests in progress inside and those
		 * still waiting for a mount's share of the workers
		 * (fuse/loop.c: not begun, so listed nowhere; rare), and the
		 * processes' working directories and roots, by host path
		 * (which also names what a mount covers: then no
		 * invalidation, at worst a busy answer that names the
		 * kernel's references). */
		char hp[PATH_MAX + 1024];
		bool only_nodes;
		control_host_path(c, target, hp, sizeof(hp));
		bool invalidated =
			control_requests_below(c, target) == 0 &&
			control_queued(c) == 0 &&
			(control_holder_count(ctx, target, id, &only_nodes)
			 == 0 || only_nodes) &&
			control_cwds_below(hp) == 0;
		if (invalidated)
			uvfs_fuse_inval_path(c->uf, ctx, target);
		err = umount_named(ctx, target, id, 0);
		/* 30 ms without a fall ends the wait, unless the kernel was
		 * told to drop its entries and only its lookups are left:
		 * their FORGETs come when a worker reads them, which on a
		 * loaded machine can take a few hundred ms (a busy answer
		 * then names holders that are on their way out).  At most
		 * about 1 s in all. */
		size_t last = (size_t)-1;
		int stable = 0;
		for (int i = 0; i < 300 && err == -EBUSY; i++) {
			bool nodes_only;
			sleep_ms(3);
			size_t n = control_holder_count(ctx, target, id,
							&nodes_only);
			int patience = invalidated && nodes_only ? 100 : 10;
			if (n < last) {
				last = n;
				stable = 0;
			} else if (++stable >= patience) {
				break;
			}
			err = umount_named(ctx, target, id, 0);
		}
	} else {
		err = umount_named(ctx, target, id, flags);
	}
	if (!err) {
		/* the devices of what went, taken from the table together
		 * with their invalidation: a mount below that registers
		 * later finds itself gone (do_mount) */
		pthread_mutex_lock(&c->op);
		devs = devs_take_gone(c, target, &ndevs);
		if (flags & UVFS_UMOUNT_FORCE)
			ticket = uvfs_fuse_dead_devs(c->uf, devs, ndevs);
		pthread_mutex_unlock(&c->op);
		uvfs_fuse_inval_path(c->uf, ctx, target);
	}
	dead_wait(c, ticket, &dl);
	free(devs);
	struct sbuf h = { 0 };
	char msg[64] = "";
	if (err == -EBUSY) {
		int n = control_add_holders(c, ctx, target, id, peer, &h);
		snprintf(msg, sizeof(msg), "target is busy (%d holders)",
			 n < 0 ? 0 : n);
	}
	control_reply(r, err, *msg ? msg : NULL, &h);
	sbuf_free(&h);
}

static void do_revoke(struct control *c, struct uvfs_ctx *ctx,
		      const char *path, struct sbuf *r)
{
	struct uvfs_node *dir, *nd = NULL;
	const char *name;
	char canon[PATH_MAX];
	struct timespec dl;
	uint64_t ticket = 0;
	int err;

	/* Not under c->op: the walks and the revoke wait inside a
	 * suspended mount until its resume (on a hung server, until the
	 * deadline, or for good if the mount is hard), and a forced
	 * unmount, whose answer has a deadline and which ends such waits,
	 * queued behind them.  Nothing here needs the serialisation: the
	 * library orders the revoke with unmounts, the device table is not
	 * touched, and the invalidations are idempotent. */
	clock_gettime(CLOCK_MONOTONIC, &dl);    /* the request's start */
	path = canonical(ctx, path, canon, sizeof(canon));
	ts_add_ms(&dl, deadline_of(c, path));
	/* the node the kernel knows for path, to drop its page cache after */
	if (uvfs_fuse_walk_parent(c->uf, ctx, path, &dir, &name) == 0) {
		char comp[NAME_MAX + 1];
		size_t len = strcspn(name, "/");
		if (len == 0) {
			nd = dir;
			dir = NULL;
		} else if (len <= NAME_MAX) {
			memcpy(comp, name, len);
			comp[len] = '\0';
			if (uvfs_node_lookup(ctx, dir, comp, &nd, NULL))
				nd = NULL;
		}
		if (dir)
			uvfs_node_release(dir, 1);
	}
	err = uvfs_revoke(ctx, path);
	if (!err) {
		if (nd)
			ticket = uvfs_fuse_dead_node(c->uf, nd);
		uvfs_fuse_inval_path(c->uf, ctx, path);
	}
	if (nd)
		uvfs_node_release(nd, 1);
	dead_wait(c, ticket, &dl);
	control_reply(r, err, NULL, NULL);
}

static void do_mounts(struct control *c, struct sbuf *r)
{
	struct uvfs_mount_info *mi;
	size_t n;
	char hp[PATH_MAX + 1024];
	int err = uvfs_mount_list(c->u, &mi, &n);

	if (err)
		return control_reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(r, "mount");
		sbuf_add_kvu(r, "id", mi[i].id);
		sbuf_add_kvu(r, "parent", mi[i].parent_id);
		sbuf_add_kv(r, "target", mi[i].target);
		control_host_path(c, mi[i].target, hp, sizeof(hp));
		sbuf_add_kv(r, "host", hp);
		sbuf_add_kv(r, "type", mi[i].type);
		sbuf_add_kv(r, "source", mi[i].source);
		sbuf_add_kv(r, "options", mi[i].options);
		sbuf_add_kv(r, "state", mi[i].state);
		sbuf_add_kvu(r, "refs", mi[i].refs);
		sbuf_add_kvu(r, "inflight", mi[i].inflight);
		sbuf_adds(r, "\n");
	}
	free(mi);
}

/* The first fields of a "server" record: the server's pid (0: not ours),
 * its mount, and the session's state. */
static void server_head(struct control *c, struct sbuf *r,
			const struct uvfs_mount_info *mi, pid_t pid,
			const char *state)
{
	char hp[PATH_MAX + 1024];

	sbuf_adds(r, "server");
	sbuf_add_kvu(r, "pid", (uint64_t)pid);
	sbuf_add_kvu(r, "mount", mi->id);
	control_host_path(c, mi->target, hp, sizeof(hp));
	sbuf_add_kv(r, "target", hp);
	sbuf_add_kv(r, "type", mi->type);
	sbuf_add_kv(r, "source", mi->source);
	sbuf_add_kv(r, "state", state);
}

/* The supervised file servers: one line per hostfs or diod mount (the
 * server we spawned) and per reconnecting 9p mount (pid 0: a server we
 * connect to). */
static void do_servers(struct control *c, struct sbuf *r)
{
	struct uvfs_mount_info *mi;
	struct uvfs_9p_server_info si;
	size_t n;
	int err = uvfs_mount_list(c->u, &mi, &n);

	if (err)
		return control_reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
	for (size_t i = 0; i < n; i++) {
		if ((strcmp(mi[i].type, "hostfs") != 0 &&
		     strcmp(mi[i].type, "diod") != 0 &&
		     strcmp(mi[i].type, "9p") != 0) ||
		    uvfs_9p_server_info(c->u, mi[i].target, &si) != 0)
			continue;
		server_head(c, r, &mi[i], si.pid, si.state);
		sbuf_add_kvu(r, "restarts", si.restarts);
		sbuf_add_kvu(r, "losses", si.losses);
		sbuf_add_kvu(r, "replays", si.replays);
		sbuf_add_kvu(r, "stale", si.stale_fids);
		sbuf_add_kvu(r, "last_recovery_us",
			     si.last_recovery_ns / 1000);
		sbuf_add_kvu(r, "timeouts", si.timeouts);
		sbuf_add_kvu(r, "unreachable", si.unreachable);
		sbuf_add_kvu(r, "probes", si.probes);
		sbuf_add_kv(r, "last_error", si.last_error ?
			    strerror(si.last_error) : "none");
		sbuf_add_kvu(r, "last_loss", (uint64_t)si.last_loss);
		sbuf_add_kv(r, "mode", si.hard ? "hard" : "soft");
		sbuf_add_kvu(r, "fids", si.fids);
		sbuf_add_kvu(r, "fid_releases", si.fid_releases);
		sbuf_add_kvu(r, "requests", si.requests);
		sbuf_add_kvu(r, "waits", si.waits);
		sbuf_adds(r, "\n");
	}
#ifdef UVFS_HAVE_NFS
	/* nfs mounts: a server we connect to (pid 0) */
	for (size_t i = 0; i < n; i++) {
		struct uvfs_nfs_info ni;
		if (strcmp(mi[i].type, "nfs") != 0 ||
		    uvfs_nfs_info(c->u, mi[i].target, &ni) != 0)
			continue;
		server_head(c, r, &mi[i], 0, ni.state);
		sbuf_add_kvu(r, "restarts", ni.reconnects);
		sbuf_add_kvu(r, "losses", ni.losses);
		sbuf_add_kvu(r, "replays", ni.replays);
		sbuf_add_kvu(r, "stale", ni.stale);
		sbuf_add_kvu(r, "timeouts", ni.timeouts);
		sbuf_add_kvu(r, "unreachable", ni.unreachable);
		sbuf_add_kvu(r, "inflight", ni.inflight);
		sbuf_add_kvu(r, "calls", ni.calls);
		sbuf_add_kv(r, "last_error", ni.last_error ?
			    strerror(ni.last_error) : "none");
		sbuf_add_kvu(r, "last_loss", (uint64_t)ni.last_loss);
		sbuf_add_kv(r, "mode", ni.hard ? "hard" : "soft");
		sbuf_adds(r, "\n");
	}
#endif
	free(mi);
}

static void do_stats(struct control *c, struct sbuf *r)
{
	struct uvfs_stats s;
	struct uvfs_fuse_stats f;

	uvfs_stats(c->u, &s);
	uvfs_fuse_stats(c->uf, &f);
	/* operations inside the file systems now, per mount */
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0;
	uint64_t inflight = 0;
	if (uvfs_mount_list(c->u, &mi, &n) == 0)
		for (size_t i = 0; i < n; i++)
			inflight += mi[i].inflight;
	sbuf_adds(r, "ok\nstats");
	sbuf_add_kvu(r, "superblocks", s.superblocks);
	sbuf_add_kvu(r, "mounts", s.mounts);
	sbuf_add_kvu(r, "vnodes", s.vnodes);
	sbuf_add_kvu(r, "vnodes_cached", s.vnodes_cached);
	sbuf_add_kvu(r, "files", s.files);
	sbuf_add_kvu(r, "nodes", s.nodes);
	sbuf_add_kvu(r, "contexts", s.contexts);
	sbuf_add_kvu(r, "deferred_pending", s.deferred_pending);
	sbuf_add_kvu(r, "fuse_requests", f.requests);
	sbuf_add_kvu(r, "fuse_nodes", f.nodes);
	sbuf_add_kvu(r, "fuse_lookups", f.lookups);
	sbuf_add_kvu(r, "fuse_handles", f.files);
	sbuf_add_kvu(r, "fuse_forgets", f.forgets);
	sbuf_add_kvu(r, "fuse_invalidations", f.invalidations);
	sbuf_add_kvu(r, "fuse_queued", f.queued);
	sbuf_add_kvu(r, "inflight", inflight);
	sbuf_adds(r, "\n");
	for (size_t i = 0; i < n; i++) {
		char hp[PATH_MAX + 1024];
		sbuf_adds(r, "inflight");
		control_host_path(c, mi[i].target, hp, sizeof(hp));
		sbuf_add_kv(r, "target", hp);
		sbuf_add_kvu(r, "operations", mi[i].inflight);
		sbuf_adds(r, "\n");
	}
	free(mi);
}

bool control_spare_request(const char *line)
{
	static const char *const ok[] = { "resume", "ping", "info", "mounts",
		"stats", "servers", "shutdown", NULL };
	char *argv[CTL_ARGS_MAX], *copy = strdup(line);
	int argc = copy ? ctl_split(copy, argv, CTL_ARGS_MAX) : -1;
	bool yes = false;

	for (int i = 0; argc > 0 && ok[i] && !yes; i++)
		yes = strcmp(argv[0], ok[i]) == 0;
	if (argc > 0 && strcmp(argv[0], "umount") == 0)
		for (int i = 1; i < argc && !yes; i++)
			yes = argv[i][0] == '-' && strchr(argv[i], 'f');
	free(copy);
	return yes;
}

void control_dispatch(struct control *c, char *line, pid_t peer,
		      struct sbuf *r)
{
	char *argv[CTL_ARGS_MAX];
	int argc = ctl_split(line, argv, CTL_ARGS_MAX);
	struct uvfs_ctx *ctx;
	uint64_t id = 0;

	if (argc <= 0)
		return control_reply_error(r, EINVAL, "malformed request");
	const char *v = argv[0];
	int ok;
	if (!strcmp(v, "mount"))
		ok = argc == 5 && argv[1][0] && abs_path(argv[3]);
	else if (!strcmp(v, "umount"))
		ok = argc >= 2 && argc <= 4;
	else if (!strcmp(v, "revoke"))
		ok = argc == 2 && abs_path(argv[1]);
	else if (!strcmp(v, "suspend") || !strcmp(v, "resume") ||
		 !strcmp(v, "holders"))
		ok = argc == 2 && target_parse(argv[1], &id) == 0;
	else if (!strcmp(v, "mounts") || !strcmp(v, "stats") ||
		 !strcmp(v, "servers") || !strcmp(v, "info") ||
		 !strcmp(v, "ping") || !strcmp(v, "shutdown"))
		ok = argc == 1;
	else
		return control_reply_error(r, EINVAL, "unknown request");
	if (!ok)
		return control_reply_error(r, EINVAL, "malformed request");
	if (!strcmp(v, "ping"))
		return sbuf_adds(r, "ok\n");
	if (!strcmp(v, "shutdown")) {
		/* as SIGTERM: the signal thread stops the control socket
		 * (after this answer is written), unmounts everything and
		 * the session ends */
		kill(getpid(), SIGTERM);
		return sbuf_adds(r, "ok\n");
	}
	if (!strcmp(v, "info")) {
		sbuf_adds(r, "ok\ndaemon");
		sbuf_addf(r, " pid=%d", (int)getpid());
		sbuf_add_kv(r, "mountpoint", c->fuse_mnt);
		sbuf_add_kv(r, "socket", c->path);
		sbuf_adds(r, "\n");
		return;
	}
	if (!strcmp(v, "mounts"))
		return do_mounts(c, r);
	if (!strcmp(v, "stats"))
		return do_stats(c, r);
	if (!strcmp(v, "servers"))
		return do_servers(c, r);

	ctx = uvfs_fuse_ctx_get(c->uf, NULL);
	if (!ctx)
		return control_reply_error(r, ENOMEM, NULL);
	if (!strcmp(v, "mount")) {
		do_mount(c, ctx, argv, r);
	} else if (!strcmp(v, "umount")) {
		do_umount(c, ctx, argc, argv, peer, r);
	} else if (!strcmp(v, "revoke")) {
		do_revoke(c, ctx, argv[1], r);
	} else if (!strcmp(v, "suspend") || !strcmp(v, "resume")) {
		int err;
		if (v[0] == 's')
			err = id ? uvfs_suspend_id(ctx, id)
				 : uvfs_suspend(ctx, argv[1]);
		else
			err = id ? uvfs_resume_id(ctx, id)
				 : uvfs_resume(ctx, argv[1]);
		control_reply(r, err, NULL, NULL);
	} else { /* holders */
		struct sbuf h = { 0 };
		char name[PATH_MAX];
		const char *target = argv[1];
		int n = 0;
		if (id && (n = id_target(c, id, name, sizeof(name))) == 0)
			target = name;
		if (n == 0)
			n = control_add_holders(c, ctx, target, id, peer, &h);
		control_reply(r, n < 0 ? n : 0, NULL, n < 0 ? NULL : &h);
		sbuf_free(&h);
	}
	uvfs_fuse_ctx_put(c->uf, ctx);
}

/* ---- shutdown ---------------------------------------------------------- */

static int by_depth(const void *a, const void *b)
{
	const struct uvfs_mount_info *x = a, *y = b;
	size_t lx = strlen(x->target), ly = strlen(y->target);

	if (lx != ly)
		return lx < ly ? 1 : -1;
	/* the same target: the later mount (on top) first */
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

void control_unmount_all(struct uvfs *u, struct uvfs_fuse *uf)
{
	struct uvfs_mount_info *mi;
	struct uvfs_ctx *ctx;
	size_t n;

	ctx = uvfs_fuse_ctx_get(uf, NULL);
	if (!ctx)
		return;
	if (uvfs_mount_list(u, &mi, &n) == 0) {
		qsort(mi, n, sizeof(*mi), by_depth);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(mi[i].target, "/") == 0) {
				if (strcmp(mi[i].state, "suspended") == 0)
					uvfs_resume_id(ctx, mi[i].id);
				continue;
			}
			/* by id: a mount that another covers has the same
			 * target, and the walk to a target may wait */
			int err = uvfs_umount_id(ctx, mi[i].id,
						 UVFS_UMOUNT_FORCE);
			if (err && err != -EINVAL && err != -ENOENT)
				fprintf(stderr,
					"uvfsd: cannot unmount %s: %s\n",
					mi[i].target, strerror(-err));
		}
		free(mi);
	}
	uvfs_fuse_ctx_put(uf, ctx);
}

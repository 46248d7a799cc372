/*
 * control.c - uvfsd's control socket: one request per connection.
 *
 * Requests (tokens %-escaped, see ctl.h; paths are namespace paths):
 *   mount TYPE SOURCE TARGET OPTIONS
 *   umount [-f] [-l] TARGET
 *   revoke PATH
 *   suspend TARGET | resume TARGET
 *   mounts | holders TARGET | stats | info
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
 * the file's node and entry.
 *
 * Connections: the peer's uid is checked at accept (strangers are answered
 * at once by the acceptor and drained briefly, no thread, no slot); each
 * admitted connection has a thread, one deadline for its whole request and
 * one for its reply; at most MAX_CONNS, MAX_CONNS_PER_UID per uid, and at
 * a cap the oldest connection still sending its request is dropped for the
 * new one (admit_locked).  The socket's directory must be the daemon's own
 * (check_dir).
 *
 * Locks: c->lock guards the connection list and count and the device
 * table (a leaf: nothing else is taken under it); c->op
 * serialises mount, unmount and revoke (suspend and resume do not take it,
 * so that a resume is never stuck behind an operation waiting on the
 * suspended mount).
 */
#define _GNU_SOURCE
#include "control.h"

#include <uvfs/9p.h>
#ifdef UVFS_HAVE_NFS
#include <uvfs/nfs.h>
#endif
#include "ctl.h"
#include "uvfs_fuse.h"

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

#define MAX_CONNS 32              /* connections served at once */
#define MAX_CONNS_PER_UID 16      /* of them, per peer uid */
#define REQUEST_TIMEOUT_MS 5000   /* to send a whole request line */
#define REPLY_TIMEOUT_MS 5000     /* to take the whole reply */
#define DRAIN_MS 200              /* reading what follows the request */
#define DRAIN_MAX (64u << 10)
#define MAX_PROCS 256     /* process records per holders reply */

/* A file system mounted through the socket: its device number, for the
 * invalidation after a forced unmount. */
struct mdev {
	char *target;
	dev_t dev;
};

/* One connection, from accept to close.  Lock: c->lock for the links and
 * evicted; fd, uid, pid and the deadline are constant. */
struct conn {
	struct control *c;
	int fd;
	uid_t uid;              /* the peer's (SO_PEERCRED) */
	pid_t pid;
	int64_t deadline;       /* ms (CLOCK_MONOTONIC): the whole request */
	bool reading;           /* c->lock: still reading its request */
	bool evicted;           /* c->lock: dropped for a newer client */
	struct conn *prev, *next;
};

struct control {
	char *path;
	int lfd;
	int wake[2];             /* self-pipe: stop accepting */
	pthread_t acceptor;
	int started;
	struct uvfs *u;
	struct uvfs_fuse *uf;
	char *fuse_mnt;

	pthread_mutex_t lock;
	pthread_cond_t idle;
	int nconns;              /* lock: threads serving, evicted included */
	struct conn conns;       /* lock: sentinel; oldest first */
	struct mdev *devs;       /* lock */
	size_t ndevs, capdevs;   /* lock */

	pthread_mutex_t op;
};

/* ---- setup ------------------------------------------------------------- */

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
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
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (!*dir)
		snprintf(dir, sizeof(dir), "/");
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
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (*dir && lstat(dir, &st) && errno == ENOENT)
		return 0;       /* made 0700 by control_open */
	return check_dir(path);
}

int control_open(const char *path, struct control **out)
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
	fd = sock_connect(path);
	if (fd >= 0) {
		close(fd);
		fprintf(stderr, "uvfsd: a daemon already answers on %s\n",
			path);
		return -EADDRINUSE;
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

/* ---- replies ----------------------------------------------------------- */

static void reply_error(struct sbuf *r, int err, const char *msg)
{
	sbuf_addf(r, "error %d ", err < 0 ? -err : err);
	sbuf_add_tok(r, msg ? msg : strerror(err < 0 ? -err : err));
	sbuf_adds(r, "\n");
}

/* The host path of a namespace path. */
static void host_path(struct control *c, const char *ns, char *out,
		      size_t size)
{
	if (strcmp(ns, "/") == 0)
		snprintf(out, size, "%s", c->fuse_mnt);
	else if (strcmp(c->fuse_mnt, "/") == 0)
		snprintf(out, size, "%s", ns);
	else
		snprintf(out, size, "%s%s", c->fuse_mnt, ns);
}

static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

/* Adds a "process" record for each process whose cwd, root or an open
 * descriptor is at or below the host path prefix (what fuser(1) does): the
 * kernel's own references (a shell's working directory) reach the library
 * only as node holds. */
/* readlink of a /proc link, without the " (deleted)" the kernel appends
 * to an unhashed dentry.  => length, or -1. */
static ssize_t proc_link(const char *p, char *link)
{
	static const char del[] = " (deleted)";
	ssize_t len = readlink(p, link, PATH_MAX);

	if (len <= 0)
		return -1;
	link[len] = '\0';
	if ((size_t)len > sizeof(del) - 1 &&
	    strcmp(link + len - (sizeof(del) - 1), del) == 0) {
		len -= (ssize_t)(sizeof(del) - 1);
		link[len] = '\0';
	}
	return len;
}

/* The number of processes whose working directory or root is exactly
 * path. */
static size_t cwd_at(const char *path)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end, p[64], link[PATH_MAX + 1];
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/cwd", pid);
		if (proc_link(p, link) > 0 && strcmp(link, path) == 0) {
			n++;
			continue;
		}
		snprintf(p, sizeof(p), "/proc/%ld/root", pid);
		if (proc_link(p, link) > 0 && strcmp(link, path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static size_t add_processes(struct sbuf *r, const char *prefix, pid_t peer)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	pid_t self = getpid();

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_PROCS) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self || pid == peer)
			continue;
		char comm[64] = "?", p[64], link[PATH_MAX + 1];
		ssize_t len;
		int found = 0;

		snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
		FILE *f = fopen(p, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		static const char *const what[] = { "cwd", "root" };
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "/proc/%ld/%s", pid, what[i]);
			len = proc_link(p, link);
			if (len <= 0)
				continue;
			if (!under(link, prefix))
				continue;
			if (i == 1 && strcmp(link, "/") == 0)
				continue;
			sbuf_addf(r, "process pid=%ld", pid);
			sbuf_add_kv(r, "comm", comm);
			sbuf_add_kv(r, "what", what[i]);
			sbuf_add_kv(r, "path", link);
			sbuf_adds(r, "\n");
			found = 1;
		}
		snprintf(p, sizeof(p), "/proc/%ld/fd", pid);
		DIR *fdd = opendir(p);
		if (fdd) {
			struct dirent *fe;
			while ((fe = readdir(fdd)) != NULL) {
				if (fe->d_name[0] == '.')
					continue;
				char fp[300];
				snprintf(fp, sizeof(fp), "/proc/%ld/fd/%.200s",
					 pid, fe->d_name);
				len = proc_link(fp, link);
				if (len <= 0)
					continue;
				if (!under(link, prefix))
					continue;
				char w[32];
				snprintf(w, sizeof(w), "fd %.20s", fe->d_name);
				sbuf_addf(r, "process pid=%ld", pid);
				sbuf_add_kv(r, "comm", comm);
				sbuf_add_kv(r, "what", w);
				sbuf_add_kv(r, "path", link);
				sbuf_adds(r, "\n");
				found = 1;
			}
			closedir(fdd);
		}
		n += found;
	}
	closedir(d);
	return n;
}

/* holder records, then process records.  => the library's holder count,
 * or -errno. */
static int add_holders(struct control *c, struct uvfs_ctx *ctx,
		       const char *target, pid_t peer, struct sbuf *r)
{
	struct uvfs_holder *h;
	size_t n;
	char hp[PATH_MAX + 1024];
	int err;

	err = uvfs_holders(ctx, target, &h, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(r, "holder");
		sbuf_add_kv(r, "kind", uvfs_holder_kind_name(h[i].kind));
		sbuf_add_kvu(r, "ctx", h[i].ctx_id);
		sbuf_add_kv(r, "label", h[i].ctx_label);
		sbuf_addf(r, " fd=%d", h[i].fd);
		sbuf_add_kv(r, "path", h[i].path);
		host_path(c, h[i].path, hp, sizeof(hp));
		sbuf_add_kv(r, "host", hp);
		sbuf_adds(r, "\n");
	}
	free(h);
	host_path(c, target, hp, sizeof(hp));
	add_processes(r, hp, peer);
	return (int)n;
}

static size_t holder_count(struct uvfs_ctx *ctx, const char *target)
{
	struct uvfs_holder *h;
	size_t n;

	if (uvfs_holders(ctx, target, &h, &n))
		return 0;
	free(h);
	return n;
}

/* ---- the device table -------------------------------------------------- */

static void devs_add(struct control *c, const char *target, dev_t dev)
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
	c->devs[c->ndevs++] = (struct mdev){ t, dev };
	pthread_mutex_unlock(&c->lock);
}

/* The devices of the mounts at or below target; with take, they leave the
 * table.  => malloc'ed array (may be NULL with *n == 0). */
static dev_t *devs_below(struct control *c, const char *target, size_t *n,
			 int take)
{
	dev_t *v;
	size_t k = 0;

	pthread_mutex_lock(&c->lock);
	v = malloc((c->ndevs + 1) * sizeof(*v));
	for (size_t i = 0; i < c->ndevs;) {
		if (!under(c->devs[i].target, target)) {
			i++;
			continue;
		}
		if (v)
			v[k++] = c->devs[i].dev;
		if (take) {
			free(c->devs[i].target);
			c->devs[i] = c->devs[--c->ndevs];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	*n = k;
	return v;
}

/* ---- requests ---------------------------------------------------------- */

static int abs_path(const char *p)
{
	return p[0] == '/' && strlen(p) < 4096;
}

/* The name the kernel knows path by (symlinks resolved): what the
 * invalidations must name.  Falls back to path itself. */
static const char *canonical(struct uvfs_ctx *ctx, const char *path,
			     char *buf, size_t size)
{
	return uvfs_realpath(ctx, path, buf, size) >= 0 ? buf : path;
}

static void do_mount(struct control *c, struct uvfs_ctx *ctx, char **argv,
		     struct sbuf *r)
{
	char canon[PATH_MAX];
	struct stat st;
	int err;

	pthread_mutex_lock(&c->op);
	err = uvfs_mount(ctx, argv[1], argv[2], argv[3], argv[4]);
	if (err == -EBUSY &&
	    strcmp(canonical(ctx, argv[3], canon, sizeof(canon)), "/") == 0) {
		pthread_mutex_unlock(&c->op);
		return reply_error(r, err, "the target is the namespace root "
				   "(the FUSE mount point itself), which "
				   "cannot be mounted on");
	}
	if (!err) {
		const char *target = canonical(ctx, argv[3], canon,
					       sizeof(canon));
		if (uvfs_stat(ctx, target, &st) == 0)
			devs_add(c, target, st.st_dev);
		uvfs_fuse_inval_path(c->uf, ctx, target);
	}
	pthread_mutex_unlock(&c->op);
	if (err)
		return reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
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
					return reply_error(r, EINVAL,
							   "unknown flag");
			}
		} else if (!target && abs_path(argv[i])) {
			target = argv[i];
		} else {
			return reply_error(r, EINVAL, "malformed request");
		}
	}
	if (!target)
		return reply_error(r, EINVAL, "malformed request");

	char canon[PATH_MAX];
	pthread_mutex_lock(&c->op);
	target = canonical(ctx, target, canon, sizeof(canon));
	if (flags == 0) {
		/* What the kernel caches below the target holds nodes: make
		 * it drop what nothing uses, then wait for its FORGETs while
		 * the holder count keeps falling.  Not if a process works
		 * right at the mount point: the invalidation unhashes its
		 * working directory (getcwd would fail there), and the mount
		 * is busy anyway. */
		char hp[PATH_MAX + 1024];
		host_path(c, target, hp, sizeof(hp));
		if (cwd_at(hp) == 0)
			uvfs_fuse_inval_path(c->uf, ctx, target);
		err = uvfs_umount(ctx, target, 0);
		size_t last = (size_t)-1;
		int stable = 0;
		for (int i = 0; i < 100 && err == -EBUSY && stable < 10; i++) {
			sleep_ms(3);
			size_t n = holder_count(ctx, target);
			if (n < last) {
				last = n;
				stable = 0;
			} else {
				stable++;
			}
			err = uvfs_umount(ctx, target, 0);
		}
	} else {
		devs = devs_below(c, target, &ndevs, 0);
		err = uvfs_umount(ctx, target, flags);
	}
	if (!err) {
		free(devs);
		devs = devs_below(c, target, &ndevs, 1);
		if (flags & UVFS_UMOUNT_FORCE)
			uvfs_fuse_inval_devs(c->uf, devs, ndevs);
		uvfs_fuse_inval_path(c->uf, ctx, target);
	}
	pthread_mutex_unlock(&c->op);
	free(devs);
	if (err == -EBUSY) {
		struct sbuf h = { 0 };
		int n = add_holders(c, ctx, target, peer, &h);
		char msg[64];
		snprintf(msg, sizeof(msg), "target is busy (%d holders)",
			 n < 0 ? 0 : n);
		reply_error(r, err, msg);
		if (h.p)
			sbuf_adds(r, h.p);
		sbuf_free(&h);
		return;
	}
	if (err)
		return reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
}

static void do_revoke(struct control *c, struct uvfs_ctx *ctx,
		      const char *path, struct sbuf *r)
{
	struct uvfs_node *dir, *nd = NULL;
	const char *name;
	char canon[PATH_MAX];
	int err;

	pthread_mutex_lock(&c->op);
	path = canonical(ctx, path, canon, sizeof(canon));
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
			uvfs_fuse_inval_node(c->uf, nd);
		uvfs_fuse_inval_path(c->uf, ctx, path);
	}
	if (nd)
		uvfs_node_release(nd, 1);
	pthread_mutex_unlock(&c->op);
	if (err)
		return reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
}

static void do_mounts(struct control *c, struct sbuf *r)
{
	struct uvfs_mount_info *mi;
	size_t n;
	char hp[PATH_MAX + 1024];
	int err = uvfs_mount_list(c->u, &mi, &n);

	if (err)
		return reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(r, "mount");
		sbuf_add_kvu(r, "id", mi[i].id);
		sbuf_add_kvu(r, "parent", mi[i].parent_id);
		sbuf_add_kv(r, "target", mi[i].target);
		host_path(c, mi[i].target, hp, sizeof(hp));
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

/* The supervised file servers: one line per hostfs or diod mount (the
 * server we spawned) and per reconnecting 9p mount (pid 0: a server we
 * connect to). */
static void do_servers(struct control *c, struct sbuf *r)
{
	struct uvfs_mount_info *mi;
	struct uvfs_9p_server_info si;
	size_t n;
	char hp[PATH_MAX + 1024];
	int err = uvfs_mount_list(c->u, &mi, &n);

	if (err)
		return reply_error(r, err, NULL);
	sbuf_adds(r, "ok\n");
	for (size_t i = 0; i < n; i++) {
		if ((strcmp(mi[i].type, "hostfs") != 0 &&
		     strcmp(mi[i].type, "diod") != 0 &&
		     strcmp(mi[i].type, "9p") != 0) ||
		    uvfs_9p_server_info(c->u, mi[i].target, &si) != 0)
			continue;
		sbuf_adds(r, "server");
		sbuf_add_kvu(r, "pid", (uint64_t)si.pid);
		sbuf_add_kvu(r, "mount", mi[i].id);
		host_path(c, mi[i].target, hp, sizeof(hp));
		sbuf_add_kv(r, "target", hp);
		sbuf_add_kv(r, "type", mi[i].type);
		sbuf_add_kv(r, "source", mi[i].source);
		sbuf_add_kv(r, "state", si.state);
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
		sbuf_adds(r, "server");
		sbuf_add_kvu(r, "pid", 0);
		sbuf_add_kvu(r, "mount", mi[i].id);
		host_path(c, mi[i].target, hp, sizeof(hp));
		sbuf_add_kv(r, "target", hp);
		sbuf_add_kv(r, "type", mi[i].type);
		sbuf_add_kv(r, "source", mi[i].source);
		sbuf_add_kv(r, "state", ni.state);
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
	sbuf_add_kvu(r, "inflight", inflight);
	sbuf_adds(r, "\n");
	for (size_t i = 0; i < n; i++) {
		char hp[PATH_MAX + 1024];
		sbuf_adds(r, "inflight");
		host_path(c, mi[i].target, hp, sizeof(hp));
		sbuf_add_kv(r, "target", hp);
		sbuf_add_kvu(r, "operations", mi[i].inflight);
		sbuf_adds(r, "\n");
	}
	free(mi);
}

static void dispatch(struct control *c, char *line, pid_t peer,
		     struct sbuf *r)
{
	char *argv[CTL_ARGS_MAX];
	int argc = ctl_split(line, argv, CTL_ARGS_MAX);
	struct uvfs_ctx *ctx;

	if (argc <= 0)
		return reply_error(r, EINVAL, "malformed request");
	const char *v = argv[0];
	int ok;
	if (!strcmp(v, "mount"))
		ok = argc == 5 && argv[1][0] && abs_path(argv[3]);
	else if (!strcmp(v, "umount"))
		ok = argc >= 2 && argc <= 4;
	else if (!strcmp(v, "revoke") || !strcmp(v, "suspend") ||
		 !strcmp(v, "resume") || !strcmp(v, "holders"))
		ok = argc == 2 && abs_path(argv[1]);
	else if (!strcmp(v, "mounts") || !strcmp(v, "stats") ||
		 !strcmp(v, "servers") || !strcmp(v, "info") ||
		 !strcmp(v, "ping") || !strcmp(v, "shutdown"))
		ok = argc == 1;
	else
		return reply_error(r, EINVAL, "unknown request");
	if (!ok)
		return reply_error(r, EINVAL, "malformed request");
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
		return reply_error(r, ENOMEM, NULL);
	if (!strcmp(v, "mount")) {
		do_mount(c, ctx, argv, r);
	} else if (!strcmp(v, "umount")) {
		do_umount(c, ctx, argc, argv, peer, r);
	} else if (!strcmp(v, "revoke")) {
		do_revoke(c, ctx, argv[1], r);
	} else if (!strcmp(v, "suspend") || !strcmp(v, "resume")) {
		int err = v[0] == 's' ? uvfs_suspend(ctx, argv[1])
				      : uvfs_resume(ctx, argv[1]);
		if (err)
			reply_error(r, err, NULL);
		else
			sbuf_adds(r, "ok\n");
	} else { /* holders */
		struct sbuf h = { 0 };
		int n = add_holders(c, ctx, argv[1], peer, &h);
		if (n < 0) {
			reply_error(r, n, NULL);
		} else {
			sbuf_adds(r, "ok\n");
			if (h.p)
				sbuf_adds(r, h.p);
		}
		sbuf_free(&h);
	}
	uvfs_fuse_ctx_put(c->uf, ctx);
}

/* ---- connections ------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev or the deadline passes.  => 1 ready,
 * 0 timed out, -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { fd, ev, 0 };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Sends all of p before the deadline; a client that does not read loses
 * the rest of its reply. */
static void write_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static bool conn_evicted(struct conn *cn)
{
	bool e;

	pthread_mutex_lock(&cn->c->lock);
	e = cn->evicted;
	pthread_mutex_unlock(&cn->c->lock);
	return e;
}

/* Reads one request line before the connection's deadline (the whole
 * request, not each read: a client sending a byte now and then is cut off
 * all the same) and answers it. */
static void serve(struct control *c, struct conn *cn)
{
	struct sbuf r = { 0 };
	char *line = malloc(CTL_LINE_MAX + 1);
	size_t len = 0;
	int nl = 0, fd = cn->fd;

	if (!line)
		return;
	while (len < CTL_LINE_MAX) {
		int w = wait_fd(fd, POLLIN, cn->deadline);
		if (w == 0) {
			reply_error(&r, ETIMEDOUT, "no complete request in time");
			goto out;
		}
		ssize_t n = w < 0 ? -1 : recv(fd, line + len,
					      CTL_LINE_MAX - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			reply_error(&r, errno, "no complete request");
			goto out;
		}
		if (n == 0)
			break;
		char *e = memchr(line + len, '\n', (size_t)n);
		len += (size_t)n;
		if (e) {
			nl = 1;
			*e = '\0';
			len = (size_t)(e - line);
			break;
		}
	}
	pthread_mutex_lock(&c->lock);
	cn->reading = false;
	bool evicted = cn->evicted;
	pthread_mutex_unlock(&c->lock);
	if (evicted) {
		/* its end of the socket was shut down under it */
		reply_error(&r, EAGAIN, "dropped: too many connections, or "
			    "uvfsd is stopping");
		goto out;
	}
	if (!nl && len == CTL_LINE_MAX) {
		reply_error(&r, E2BIG, "request too long");
		goto out;
	}
	line[len] = '\0';
	if (memchr(line, '\0', len)) {
		reply_error(&r, EINVAL, "malformed request");
		goto out;
	}
	dispatch(c, line, cn->pid, &r);
out:
	if (r.oom) {
		sbuf_free(&r);
		reply_error(&r, ENOMEM, NULL);
	}
	/* the reply has its own deadline: a request may take long */
	if (r.p)
		write_all(fd, r.p, r.len, now_ms() + REPLY_TIMEOUT_MS);
	sbuf_free(&r);
	free(line);
}

static void conn_unlink_locked(struct control *c, struct conn *cn)
{
	cn->prev->next = cn->next;
	cn->next->prev = cn->prev;
	if (--c->nconns == 0)
		pthread_cond_broadcast(&c->idle);
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	struct control *c = cn->c;

	serve(c, cn);
	/* Drain what the client still sends (a request too long, garbage
	 * after the line): closing with unread data would reset the
	 * connection and could destroy the reply before it is read.  A
	 * little, briefly: this is not a way to keep the slot. */
	shutdown(cn->fd, SHUT_WR);
	if (!conn_evicted(cn)) {
		int64_t until = now_ms() + DRAIN_MS;
		char junk[4096];
		for (size_t total = 0; total < DRAIN_MAX;) {
			if (wait_fd(cn->fd, POLLIN, until) <= 0)
				break;
			ssize_t n = recv(cn->fd, junk, sizeof(junk),
					 MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			total += (size_t)n;
		}
	}
	close(cn->fd);
	pthread_mutex_lock(&c->lock);
	conn_unlink_locked(c, cn);
	pthread_mutex_unlock(&c->lock);
	free(cn);
	return NULL;
}

/* Refused clients, answered at once and then only drained briefly by the
 * acceptor itself (no thread, no slot): a client that writes its request
 * after the answer was sent must not get EPIPE instead of reading it.
 * The acceptor's alone. */
#define LINGER_MAX 64
#define LINGER_MS 500

struct refused {
	int fd[LINGER_MAX];
	int64_t until[LINGER_MAX];
	int n;
};

static void linger_close(struct refused *l, int i)
{
	close(l->fd[i]);
	l->fd[i] = l->fd[--l->n];
	l->until[i] = l->until[l->n];
}

/* Refuses a client at once: one line, then a short drain (or a close, when
 * too many are draining already). */
static void refuse(struct refused *l, int fd, int err, const char *msg)
{
	struct sbuf r = { 0 };

	reply_error(&r, err, msg);
	if (r.p)
		send(fd, r.p, r.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	sbuf_free(&r);
	shutdown(fd, SHUT_WR);
	if (l->n == LINGER_MAX) {
		close(fd);
		return;
	}
	l->fd[l->n] = fd;
	l->until[l->n++] = now_ms() + LINGER_MS;
}

/* Reads what the refused clients sent; closes those done or out of time.
 * p: their poll entries, in the order of l at the poll. */
static void linger_service(struct refused *l, const struct pollfd *p, int np)
{
	int64_t now = now_ms();

	for (int i = np - 1; i >= 0; i--) {
		char junk[4096];
		bool done = now >= l->until[i];
		if (!done && p[i].revents) {
			ssize_t n = recv(l->fd[i], junk, sizeof(junk),
					 MSG_DONTWAIT);
			done = n == 0 || (n < 0 && errno != EAGAIN &&
					  errno != EINTR);
		}
		if (done)
			linger_close(l, i);
	}
}

/* Makes room for a client of uid: below both caps, nothing to do; else
 * the oldest connection still reading its request (of that uid when it is
 * the uid's cap that is reached) is dropped for it, since a client that
 * has not sent a whole request by now is the one that holds a slot for
 * nothing.  => true if cn may be admitted.  c->lock held. */
static bool admit_locked(struct control *c, uid_t uid)
{
	struct conn *v = NULL;
	int mine = 0;

	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		if (x->uid == uid && !x->evicted)
			mine++;
	int live = 0;
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		live += !x->evicted;
	if (mine < MAX_CONNS_PER_UID && live < MAX_CONNS)
		return c->nconns < 2 * MAX_CONNS;
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next) {
		if (!x->reading || x->evicted)
			continue;
		if (mine >= MAX_CONNS_PER_UID && x->uid != uid)
			continue;
		v = x;          /* the list is oldest first */
		break;
	}
	if (!v || c->nconns >= 2 * MAX_CONNS)
		return false;
	v->evicted = true;
	shutdown(v->fd, SHUT_RD);       /* its serve() wakes up and leaves */
	return true;
}

static void *accept_main(void *arg)
{
	struct control *c = arg;
	struct refused l = { .n = 0 };

	for (;;) {
		struct pollfd p[2 + LINGER_MAX] = {
			{ c->lfd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };
		int np = l.n, timeout = -1;
		for (int i = 0; i < np; i++) {
			p[2 + i] = (struct pollfd){ l.fd[i], POLLIN, 0 };
			int64_t left = l.until[i] - now_ms();
			left = left < 0 ? 0 : left;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		int pr = poll(p, (nfds_t)(2 + np), timeout);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		linger_service(&l, p + 2, np);
		if (!p[0].revents)
			continue;
		int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) ||
		    (cr.uid != 0 && cr.uid != geteuid())) {
			refuse(&l, fd, EPERM, "permission denied");
			continue;
		}
		struct conn *cn = calloc(1, sizeof(*cn));
		if (!cn) {
			refuse(&l, fd, ENOMEM, NULL);
			continue;
		}
		cn->c = c;
		cn->fd = fd;
		cn->uid = cr.uid;
		cn->pid = cr.pid;
		cn->deadline = now_ms() + REQUEST_TIMEOUT_MS;
		cn->reading = true;

		pthread_mutex_lock(&c->lock);
		bool ok = admit_locked(c, cr.uid);
		if (ok) {
			cn->prev = c->conns.prev;
			cn->next = &c->conns;
			cn->prev->next = cn;
			c->conns.prev = cn;
			c->nconns++;
		}
		pthread_mutex_unlock(&c->lock);
		if (!ok) {
			free(cn);
			refuse(&l, fd, EAGAIN, "too many connections");
			continue;
		}
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int err = pthread_create(&t, &a, conn_main, cn);
		pthread_attr_destroy(&a);
		if (err) {
			pthread_mutex_lock(&c->lock);
			conn_unlink_locked(c, cn);
			pthread_mutex_unlock(&c->lock);
			free(cn);
			refuse(&l, fd, EAGAIN, "too many connections");
		}
	}
	while (l.n)
		linger_close(&l, 0);
	return NULL;
}

int control_start(struct control *c, struct uvfs *u, struct uvfs_fuse *uf,
		  const char *fuse_mnt)
{
	c->u = u;
	c->uf = uf;
	c->fuse_mnt = strdup(fuse_mnt);
	if (!c->fuse_mnt)
		return -ENOMEM;
	if (pthread_create(&c->acceptor, NULL, accept_main, c))
		return -EAGAIN;
	c->started = 1;
	return 0;
}

void control_stop(struct control *c)
{
	if (!c->started)
		return;
	c->started = 0;
	if (write(c->wake[1], "x", 1) < 0)
		perror("uvfsd: control stop");
	pthread_join(c->acceptor, NULL);
	pthread_mutex_lock(&c->lock);
	/* who is still sending a request will not be answered */
	for (struct conn *x = c->conns.next; x != &c->conns; x = x->next)
		if (x->reading && !x->evicted) {
			x->evicted = true;
			shutdown(x->fd, SHUT_RD);
		}
	while (c->nconns > 0)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void control_close(struct control *c)
{
	control_stop(c);
	close(c->lfd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	for (size_t i = 0; i < c->ndevs; i++)
		free(c->devs[i].target);
	free(c->devs);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->op);
	free(c->fuse_mnt);
	free(c->path);
	free(c);
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
					uvfs_resume(ctx, "/");
				continue;
			}
			int err = uvfs_umount(ctx, mi[i].target,
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

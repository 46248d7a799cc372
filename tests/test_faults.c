/*
 * test_faults.c - the fault-injection loop (docs/faults.md).
 *
 * For each workload and each class of calls (allocations, file I/O,
 * network, file-system metadata, processes and threads) the loop first
 * runs the workload once counting that class's calls (the dry run, which
 * also records every step's result and each call's site), then runs it
 * again for each N chosen (below), failing the Nth call of the class
 * (lib/util/sys.h).  Each run checks:
 *
 *  - no crash and no sanitizer report (ASan/UBSan abort the program);
 *  - the first step whose result differs from the dry run's failed with an
 *    errno the layer's contract allows (the workload stops there; the
 *    other steps either match the dry run exactly or were not reached);
 *  - it ends: a watchdog fails a run that takes over RUN_LIMIT_S (and
 *    aborts, naming the workload, class, N and the fault's site);
 *  - after the cleanup (faults off: forced unmounts, contexts freed,
 *    uvfs_settle): every live-object counter of the core back to its
 *    value on a fresh instance (superblocks, mounts, referenced vnodes,
 *    files, nodes, contexts, deferred work), the server's connection gone,
 *    no descriptor left open, and (ASan) no leak.
 *
 * Workloads:
 *  - "memfs": the core on memfs: mount, open/create/write/read/fsync,
 *    rename, link, symlink, xattrs, readdir, unlink, truncate, chmod,
 *    utimes, a busy unmount, holders, revoke, suspend/resume, the node
 *    API, a lazy unmount with a file open, a forced unmount with a file
 *    open, settle;
 *  - "grow": the vnode and name caches' tables doubling under 8 400
 *    files held in an instance sized for 16, then every name looked up
 *    again (the same node); each allocation site is failed at its first
 *    call only (too many calls for every N);
 *  - "hostfs": the server library and hostfs served in-process over a
 *    socketpair, mounted through the 9P client ("9p", fd:), and the same
 *    file steps on it;
 *  - "spawn": type "hostfs" (uvfs-hostfs from $UVFS_HOSTFS spawned and
 *    supervised by the client, restarts=0) and the same file steps: the
 *    faults land in this process (spawn, reap, the socket, the session);
 *    only the first call of each site is failed (each run is a process).
 *    Without $UVFS_HOSTFS it is skipped, and says so;
 *  - "nfs" (test_faults_nfs.c, built when libnfs is installed): type
 *    "nfs" against nfs-ganesha (tests/nfs/ganesha.sh run), the same file
 *    steps with an fsync after each write, then silly rename, a lost
 *    connection, large reads and writes, a forced unmount with a write in
 *    flight.  Without $UVFS_NFS_SOURCE it is skipped, and says so; when
 *    nothing asked for could run, the program exits 77.
 *
 * Which N: the first call of every call site the dry run reached (so
 * every site reached fails at least once) and every Kth call besides
 * (UVFS_FAULTS_STRIDE=K, default 1: every N).  A second pass per class
 * fails every call from the first call of each site on (persistent), so
 * the error paths' own calls fail too.  A site the dry run reached that
 * no N failed (its calls come in an order that varies between threads)
 * gets one run aimed at it (the first call from that site fails).
 *
 * Environment: UVFS_FAULTS_STRIDE=K (above);
 * UVFS_FAULTS_SPAWN_STRIDE=K a stride for "spawn" too (default none);
 * UVFS_FAULTS_ONLY=WORKLOAD[:CLASS] runs one workload (and class) only;
 * UVFS_FAULTS_VERBOSE=1 prints every site seen.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "hostfs.h"
#include "p9srv.h"
#include "sys.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

/* ---- steps: what the dry run recorded, and the first deviation --------- */

#define MAXSTEP 512

struct run {
	const char *workload;
	unsigned cls;           /* the class armed */
	unsigned long nth;      /* 0: the dry run */
	bool persist;           /* ... and every call of the class after it */
	bool record;            /* the dry run: record, compare nothing */
	long *ref;              /* the dry run's results */
	int nref;
	int i;                  /* steps taken */
	const int *allowed;     /* errnos the contract allows (0-terminated) */
	const int *also;        /* and for this step only (or NULL) */
	bool behind;            /* writes go behind: an fsync after each */
	bool stopped;           /* deviated with an allowed errno */
	int failures;           /* deviations the contract does not allow */
};

static int total_failures;

static void report(struct run *r, const char *what, long got, long want)
{
	struct uvfs_sys_fault_stats st;
	Dl_info di = { 0 };

	uvfs_sys_fault_stats(&st);
	/* the site as object+offset, for addr2line -e object offset */
	if (!st.fail_site || !dladdr((void *)st.fail_site, &di))
		di.dli_fbase = NULL;
	fprintf(stderr, "FAIL %s class %#x N=%lu%s step %d \"%s\": got %ld, "
		"dry run %ld; fault at %s (%s+%#lx)\n", r->workload, r->cls,
		r->nth, r->persist ? "+" : "", r->i, what, got, want,
		st.fail_name ? st.fail_name : "(none)",
		di.dli_fbase ? di.dli_fname : "?",
		(unsigned long)(st.fail_site - (uintptr_t)di.dli_fbase));
	r->failures++;
}

static bool allowed(const struct run *r, long v)
{
	for (const int *e = r->allowed; *e; e++)
		if (v == -*e)
			return true;
	for (const int *e = r->also; e && *e; e++)
		if (v == -*e)
			return true;
	return false;
}

/* One step: false when the workload must stop here. */
static bool step(struct run *r, const char *what, long v)
{
	int i = r->i++;

	if (r->record) {
		if (i >= MAXSTEP) {
			fprintf(stderr, "too many steps\n");
			exit(1);
		}
		r->ref[i] = v;
		r->nref = r->i;
		return true;
	}
	if (i >= r->nref) {
		report(r, what, v, 0);
		return false;
	}
	if (v == r->ref[i])
		return true;
	if (v < 0 && allowed(r, v)) {
		r->stopped = true;
		return false;
	}
	report(r, what, v, r->ref[i]);
	return false;
}

#define STEP(r, expr) do {                                              \
		if (!step((r), #expr, (long)(expr)))                    \
			goto stop;                                      \
	} while (0)

/* ---- counters that must come back ------------------------------------ */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the directory's own */
}

static struct uvfs_stats fresh;   /* a fresh instance, settled */

static long live_vnodes(const struct uvfs_stats *st)
{
	return (long)(st->vnodes - st->vnodes_cached);
}

static void check_stats(struct run *r, struct uvfs *u)
{
	struct uvfs_stats st;

	uvfs_stats(u, &st);
	if (st.superblocks != fresh.superblocks || st.mounts != fresh.mounts ||
	    live_vnodes(&st) != live_vnodes(&fresh) || st.files != 0 ||
	    st.nodes != 0 || st.contexts != 0 || st.deferred_pending != 0) {
		fprintf(stderr, "  counters: sbs %lu mounts %lu vnodes %lu "
			"(cached %lu) files %lu nodes %lu ctxs %lu pending %lu\n",
			(unsigned long)st.superblocks,
			(unsigned long)st.mounts, (unsigned long)st.vnodes,
			(unsigned long)st.vnodes_cached,
			(unsigned long)st.files, (unsigned long)st.nodes,
			(unsigned long)st.contexts,
			(unsigned long)st.deferred_pending);
		report(r, "live-object counters back to a fresh instance's",
		       -1, 0);
	}
}

/* Faults off: unmount whatever the workload left (forced), free the
 * contexts, settle, check the counters, free the instance. */
static void cleanup(struct run *r, struct uvfs *u, struct uvfs_ctx *c)
{
	static const char *const mnt[] = { "/m/sub", "/m" };
	struct uvfs_ctx *k;

	uvfs_sys_fault_disarm();
	if (!u)
		return;
	if (c)
		uvfs_ctx_free(c);
	if (uvfs_ctx_new(u, NULL, &k) == 0) {
		for (size_t i = 0; i < sizeof(mnt) / sizeof(*mnt); i++)
			while (uvfs_umount(k, mnt[i], UVFS_UMOUNT_FORCE) == 0)
				;
		uvfs_ctx_free(k);
	} else {
		report(r, "uvfs_ctx_new in the cleanup", -1, 0);
	}
	if (uvfs_settle(u, 10000) != 0)
		report(r, "uvfs_settle in the cleanup", -ETIMEDOUT, 0);
	check_stats(r, u);
	uvfs_free(u);
}

/* ---- the file steps, on whatever is mounted at /m ---------------------- */

static bool file_steps(struct run *r, struct uvfs_ctx *c)
{
	struct uvfs_dirent ents[16];
	struct uvfs_holder *h = NULL;
	struct uvfs_node *root = NULL, *nd = NULL;
	struct statvfs sfs;
	struct stat st;
	char buf[64], name[64];
	size_t nh = 0;
	int fd = -1, dfd = -1;

	STEP(r, fd = uvfs_open(c, "/m/a", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_write(c, fd, "hello, world", 12));
	if (r->behind)
		STEP(r, uvfs_fsync(c, fd));
	STEP(r, uvfs_pread(c, fd, buf, sizeof(buf), 0));
	STEP(r, memcmp(buf, "hello, world", 12));
	STEP(r, uvfs_fsync(c, fd));
	STEP(r, uvfs_rename(c, "/m/a", "/m/b", 0));
	STEP(r, uvfs_link(c, "/m/b", "/m/c"));
	STEP(r, uvfs_mkdir(c, "/m/d", 0755));
	STEP(r, uvfs_symlink(c, "../b", "/m/d/s"));
	STEP(r, uvfs_readlink(c, "/m/d/s", buf, sizeof(buf)));
	STEP(r, uvfs_stat(c, "/m/d/s", &st));
	STEP(r, st.st_size);
	STEP(r, uvfs_setxattr(c, "/m/b", "user.k", "v", 1, 0));
	STEP(r, uvfs_getxattr(c, "/m/b", "user.k", buf, sizeof(buf)));
	STEP(r, uvfs_listxattr(c, "/m/b", buf, sizeof(buf)));
	STEP(r, dfd = uvfs_open(c, "/m", O_RDONLY | O_DIRECTORY, 0));
	STEP(r, uvfs_readdir(c, dfd, ents, 16));
	STEP(r, uvfs_close(c, dfd));
	dfd = -1;
	STEP(r, uvfs_unlink(c, "/m/c"));
	STEP(r, uvfs_stat(c, "/m/b", &st));
	STEP(r, st.st_nlink);
	STEP(r, uvfs_truncate(c, "/m/b", 5));
	STEP(r, uvfs_chmod(c, "/m/b", 0600));
	STEP(r, uvfs_utimensat(c, UVFS_AT_FDCWD, "/m/b", NULL, 0));
	STEP(r, uvfs_read(c, fd, buf, sizeof(buf)));
	/* busy: the open file holds the mount */
	STEP(r, uvfs_umount(c, "/m", 0));
	STEP(r, uvfs_holders(c, "/m", &h, &nh));
	free(h);
	STEP(r, nh);
	STEP(r, uvfs_suspend(c, "/m"));
	STEP(r, uvfs_resume(c, "/m"));
	STEP(r, uvfs_stat(c, "/m/b", &st));
	/* the node API (the FUSE front end's) */
	STEP(r, uvfs_node_root(c, &root));
	STEP(r, uvfs_node_lookup(c, root, "m", &nd, &st));
	STEP(r, uvfs_node_getattr(c, nd, &st));
	uvfs_node_release(nd, 1);
	nd = NULL;
	uvfs_node_release(root, 1);
	root = NULL;
	/* revoke: the handle dies, close works */
	STEP(r, uvfs_revoke(c, "/m/b"));
	STEP(r, uvfs_read(c, fd, buf, sizeof(buf)));
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	STEP(r, fd = uvfs_open(c, "/m/b", O_RDONLY, 0));
	STEP(r, uvfs_read(c, fd, buf, sizeof(buf)));
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	STEP(r, uvfs_rmdir(c, "/m/d"));
	STEP(r, uvfs_realpath(c, "/m/d/s", buf, sizeof(buf)));
	STEP(r, uvfs_chdir(c, "/m/d"));
	STEP(r, uvfs_getcwd(c, buf, sizeof(buf)));
	STEP(r, uvfs_chdir(c, "/"));
	STEP(r, uvfs_unlink(c, "/m/d/s"));
	STEP(r, uvfs_rmdir(c, "/m/d"));
	/* more kinds of change */
	STEP(r, uvfs_mknod(c, "/m/p", S_IFIFO | 0644, 0));
	STEP(r, uvfs_statfs(c, "/m", &sfs));
	STEP(r, uvfs_removexattr(c, "/m/b", "user.k"));
	STEP(r, uvfs_chown(c, "/m/b", 1, 1));
	STEP(r, fd = uvfs_open(c, "/m/b", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_ftruncate(c, fd, 3));
	STEP(r, uvfs_pwrite(c, fd, "far", 3, 300000));
	if (r->behind)
		STEP(r, uvfs_fsync(c, fd));
	STEP(r, uvfs_fstat(c, fd, &st));
	STEP(r, st.st_size);
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	STEP(r, uvfs_rename(c, "/m/b", "/m/p", 0));     /* over a victim */
	/* a directory grown and emptied again */
	STEP(r, uvfs_mkdir(c, "/m/many", 0755));
	for (int i = 0; i < 24; i++) {
		snprintf(name, sizeof(name), "/m/many/file-%02d", i);
		STEP(r, uvfs_mknod(c, name, S_IFREG | 0644, 0));
	}
	STEP(r, dfd = uvfs_open(c, "/m/many", O_RDONLY | O_DIRECTORY, 0));
	STEP(r, uvfs_readdir(c, dfd, ents, 16));
	STEP(r, uvfs_readdir(c, dfd, ents, 16));
	STEP(r, uvfs_close(c, dfd));
	dfd = -1;
	for (int i = 0; i < 24; i++) {
		snprintf(name, sizeof(name), "/m/many/file-%02d", i);
		STEP(r, uvfs_unlink(c, name));
	}
	STEP(r, uvfs_rmdir(c, "/m/many"));
	return true;
stop:
	if (nd)
		uvfs_node_release(nd, 1);
	if (root)
		uvfs_node_release(root, 1);
	/* descriptors left open are the cleanup's (uvfs_ctx_free) */
	return false;
}

/* ---- workload "memfs" -------------------------------------------------- */

static const int memfs_allowed[] = { ENOMEM, EAGAIN, 0 };

static void run_memfs(struct run *r)
{
	struct uvfs *u = NULL;
	struct uvfs_ctx *c = NULL;
	struct uvfs_mount_info *mi = NULL;
	struct uvfs_holder *h = NULL;
	size_t nmi = 0, nh = 0;
	char buf[16];
	int fd = -1;

	STEP(r, uvfs_new(NULL, &u));
	STEP(r, uvfs_ctx_new(u, NULL, &c));
	STEP(r, uvfs_mkdir(c, "/m", 0755));
	STEP(r, uvfs_mount(c, "memfs", "none", "/m", "size=1m"));
	if (!file_steps(r, c))
		goto stop;
	/* a lazy unmount with a file open below it */
	STEP(r, uvfs_mkdir(c, "/m/sub", 0755));
	STEP(r, uvfs_mount(c, "memfs", "none", "/m/sub", ""));
	STEP(r, fd = uvfs_open(c, "/m/sub/f", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_mount_list(u, &mi, &nmi));
	free(mi);
	STEP(r, nmi);
	STEP(r, uvfs_holders(c, "/m", &h, &nh));
	free(h);
	STEP(r, nh);
	STEP(r, uvfs_umount(c, "/m/sub", UVFS_UMOUNT_DETACH));
	STEP(r, uvfs_write(c, fd, "x", 1));
	STEP(r, uvfs_close(c, fd));
	/* a forced unmount with a file open */
	STEP(r, fd = uvfs_open(c, "/m/b", O_RDONLY, 0));
	STEP(r, uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE));
	STEP(r, uvfs_read(c, fd, buf, sizeof(buf)));
	STEP(r, uvfs_close(c, fd));
	STEP(r, uvfs_settle(u, 10000));
stop:
	cleanup(r, u, c);
}

/* ---- workload "grow": the caches' tables growing ----------------------- */

/* An instance sized for 16 cached vnodes, with GROW_FILES files made and
 * held by nodes: the vnode and name caches' tables double on the way
 * (from 4 096 buckets, at the 8 193rd vnode and name).  A growth that
 * cannot allocate leaves its table as it was: nothing fails, and every
 * name is found again as the same node.  Too many calls for every N: each
 * site is failed at its first call only (sites_only). */
#define GROW_FILES 8400

static void run_grow(struct run *r)
{
	static struct uvfs_node *nd[GROW_FILES];
	struct uvfs_config cfg = { .vcache_max = 16 };
	struct uvfs_node *root = NULL, *dir = NULL, *x;
	struct uvfs *u = NULL;
	struct uvfs_ctx *c = NULL;
	struct stat st;
	char name[32];
	int n = 0, err = 0, other = 0;

	STEP(r, uvfs_new(&cfg, &u));
	STEP(r, uvfs_ctx_new(u, NULL, &c));
	STEP(r, uvfs_mkdir(c, "/m", 0755));
	STEP(r, uvfs_mount(c, "memfs", "none", "/m", ""));
	STEP(r, uvfs_node_root(c, &root));
	STEP(r, uvfs_node_lookup(c, root, "m", &dir, &st));
	for (; n < GROW_FILES; n++) {
		snprintf(name, sizeof(name), "f%d", n);
		err = uvfs_node_create(c, dir, name, S_IFREG | 0644, 0, NULL,
				       &nd[n], &st);
		if (err)
			break;
	}
	STEP(r, err);
	for (int i = 0; i < n && !err; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		err = uvfs_node_lookup(c, dir, name, &x, &st);
		if (!err) {
			other += x != nd[i];
			uvfs_node_release(x, 1);
		}
	}
	STEP(r, err);
	STEP(r, other);
stop:
	for (int i = 0; i < n; i++)
		uvfs_node_release(nd[i], 1);
	if (dir)
		uvfs_node_release(dir, 1);
	if (root)
		uvfs_node_release(root, 1);
	cleanup(r, u, c);
}

/* ---- workload "hostfs": lib/server + hostfs, through the 9P client ----- */

static const int hostfs_allowed[] = { ENOMEM, EIO, EAGAIN, 0 };
/* a mount whose connection is lost in the handshake fails with the
 * transport's error (9p.h: requests fail with EIO once mounted) */
static const int hostfs_mount_allowed[] = { ECONNRESET, EPIPE, 0 };
static char export_dir[64];

struct served {
	struct p9srv *srv;
	int fd;
	int ret;
};

static void *serve_main(void *arg)
{
	struct served *s = arg;

	s->ret = p9srv_serve_fd(s->srv, s->fd, s->fd);
	/* as uvfs-hostfs does: the connection ends with the serve loop */
	shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

static int rm_entry(const char *p, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)type;
	return ftw->level ? remove(p) : 0;
}

static void run_hostfs(struct run *r)
{
	struct uvfs *u = NULL;
	struct uvfs_ctx *c = NULL;
	struct hostfs *hs = NULL;
	struct served s = { .fd = -1 };
	struct timespec until;
	pthread_t th;
	bool serving = false;
	char src[64];
	int sv[2] = { -1, -1 };

	nftw(export_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	STEP(r, hostfs_open(export_dir, &hs));
	STEP(r, p9srv_new(&hostfs_ops, hs, NULL, &s.srv));
	/* the harness's own calls are libc's, never failed */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pthread_create(&th, NULL, serve_main,
			   (s.fd = sv[1], &s)) != 0) {
		perror("socketpair/pthread_create");
		exit(1);
	}
	serving = true;
	STEP(r, uvfs_new(NULL, &u));
	STEP(r, uvfs_ctx_new(u, NULL, &c));
	STEP(r, uvfs_9p_register(u));
	STEP(r, uvfs_mkdir(c, "/m", 0755));
	snprintf(src, sizeof(src), "fd:%d,%d", sv[0], sv[0]);
	r->also = hostfs_mount_allowed;
	/* wbwindow=0: every write's outcome is its own, as the steps
	 * compare each call with the dry run (written behind, a write
	 * whose Twrite fails is the next fsync's or close's error, which
	 * test_9pclient's write-behind case and net-partition_write
	 * check) */
	STEP(r, uvfs_mount(c, "9p", src, "/m", "timeout=5000,wbwindow=0"));
	r->also = NULL;
	if (!file_steps(r, c))
		goto stop;
	STEP(r, uvfs_umount(c, "/m", 0));
	STEP(r, uvfs_settle(u, 10000));
stop:
	cleanup(r, u, c);
	/* the driver closed its copies: our end goes, the server sees EOF */
	if (sv[0] >= 0)
		close(sv[0]);
	if (serving) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 20;
		if (pthread_timedjoin_np(th, NULL, &until) != 0) {
			report(r, "the serve loop returns at EOF", -1, 0);
			fprintf(stderr, "giving up: the server hangs\n");
			exit(1);
		}
		close(sv[1]);
	}
	if (s.srv)
		p9srv_free(s.srv);
	if (hs)
		hostfs_close(hs);
}

/* ---- workload "spawn": type "hostfs", the server a supervised child ---- */

/* The child (uvfs-hostfs, $UVFS_HOSTFS) is another program: its calls
 * are not failed.  What fails is this side: spawning and reaping it, the
 * pipe and socket to it, the session over them.  restarts=0: a lost
 * server is not restarted, the mount answers EIO. */
static const int spawn_allowed[] = { ENOMEM, EIO, EAGAIN, 0 };
static const int spawn_mount_allowed[] = { ECONNRESET, EPIPE, 0 };
static const char *hostfs_bin;

static void run_spawn(struct run *r)
{
	struct uvfs *u = NULL;
	struct uvfs_ctx *c = NULL;
	char o[1024];

	nftw(export_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	STEP(r, uvfs_new(NULL, &u));
	STEP(r, uvfs_ctx_new(u, NULL, &c));
	STEP(r, uvfs_9p_register(u));
	STEP(r, uvfs_mkdir(c, "/m", 0755));
	snprintf(o, sizeof(o), "server=%s,timeout=5000,restarts=0,"
		 "wbwindow=0", hostfs_bin);     /* (as above) */
	r->also = spawn_mount_allowed;
	STEP(r, uvfs_mount(c, "hostfs", export_dir, "/m", o));
	r->also = NULL;
	if (!file_steps(r, c))
		goto stop;
	STEP(r, uvfs_umount(c, "/m", 0));
	STEP(r, uvfs_settle(u, 10000));
stop:
	cleanup(r, u, c);
}

#ifdef UVFS_FAULTS_NFS
#include "test_faults_nfs.c"    /* workload "nfs" */
#endif

/* ---- the loop --------------------------------------------------------- */

struct workload {
	const char *name;
	void (*run)(struct run *);
	const int *allowed;
	unsigned classes;
	bool sites_only;        /* no stride: slow runs (a process each) */
};

static const struct workload workloads[] = {
	{ "memfs", run_memfs, memfs_allowed, SYS_C_ALLOC | SYS_C_PROC, false },
	{ "grow", run_grow, memfs_allowed, SYS_C_ALLOC, true },
	{ "hostfs", run_hostfs, hostfs_allowed,
	  SYS_C_ALLOC | SYS_C_IO | SYS_C_NET | SYS_C_FS | SYS_C_PROC, false },
	{ "spawn", run_spawn, spawn_allowed,
	  SYS_C_ALLOC | SYS_C_IO | SYS_C_NET | SYS_C_FS | SYS_C_PROC, true },
#ifdef UVFS_FAULTS_NFS
	{ "nfs", run_nfs, nfs_allowed,
	  SYS_C_ALLOC | SYS_C_IO | SYS_C_NET | SYS_C_FS | SYS_C_PROC, false },
#endif
};

static const char *class_name(unsigned cls)
{
	switch (cls) {
	case SYS_C_ALLOC: return "alloc";
	case SYS_C_IO:    return "io";
	case SYS_C_NET:   return "net";
	case SYS_C_FS:    return "fs";
	case SYS_C_PROC:  return "proc";
	}
	return "?";
}

/* The watchdog: a run that takes more than RUN_LIMIT_S is a hang (every
 * wait in the layers under test is bounded): say which, and abort. */
#define RUN_LIMIT_S 120
static struct run *_Atomic current;
static _Atomic time_t current_since;

static void run_begin(struct run *r)
{
	atomic_store(&current_since, time(NULL));
	atomic_store(&current, r);
}

static void run_end(void)
{
	atomic_store(&current, NULL);
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		struct run *r = atomic_load(&current);
		if (r && time(NULL) - atomic_load(&current_since) >
			 RUN_LIMIT_S) {
			report(r, "the run ends (hung past the watchdog)",
			       -1, 0);
			abort();
		}
	}
	return NULL;
}

static void after_run(struct run *r, int fds0)
{
	int fds = count_fds();

	if (fds != fds0) {
		fprintf(stderr, "  descriptors: %d, before %d\n", fds, fds0);
		report(r, "no descriptor left open", fds, fds0);
	}
	if (LEAK_CHECK())
		report(r, "no leak (LeakSanitizer above)", -1, 0);
	total_failures += r->failures;
}

#define MAXTRACE 65536
static uintptr_t trace[MAXTRACE];

/* Which N to fail, from the dry run's trace: the first call of every
 * site (so each site the workload reaches fails at least once), every
 * stride-th call besides (unless persist), and a few past the end
 * (background work varies a little).  *nn: how many. */
static unsigned long *pick(unsigned long calls, unsigned long stride,
			   bool persist, unsigned long *nn)
{
	unsigned long *ns = calloc(calls + 4, sizeof(*ns)), k = 0;
	uintptr_t *seen = calloc(calls + 1, sizeof(*seen));
	unsigned long nseen = 0;

	if (!ns || !seen) {
		perror("calloc");
		exit(1);
	}
	for (unsigned long n = 1; n <= calls; n++) {
		uintptr_t site = n <= MAXTRACE ? trace[n - 1] : 0;
		bool first = site != 0;
		for (unsigned long i = 0; first && i < nseen; i++)
			first = seen[i] != site;
		if (first)
			seen[nseen++] = site;
		if (first || (!persist && n % stride == 0))
			ns[k++] = n;
	}
	for (unsigned long n = calls + 1; n <= calls + 3; n++)
		ns[k++] = n;
	free(seen);
	*nn = k;
	return ns;
}

static void loop(const struct workload *w, unsigned cls, unsigned long stride,
		 bool persist)
{
	struct uvfs_sys_fault_stats st;
	long ref[MAXSTEP];
	struct run dry = {
		.workload = w->name, .cls = cls, .record = true, .ref = ref,
		.allowed = w->allowed,
	};
	unsigned long calls, nn, *ns, stopped = 0, injected = 0, aimed = 0;
	uintptr_t *dtrace;
	int fds0 = count_fds();
	time_t t0 = time(NULL);

	uvfs_sys_fault_arm(cls, 0, 0, false);
	uvfs_sys_fault_trace(trace, MAXTRACE);
	run_begin(&dry);
	w->run(&dry);
	run_end();
	uvfs_sys_fault_stats(&st);   /* (cleanup disarmed: these are the run's) */
	calls = st.calls;
	after_run(&dry, fds0);
	if (dry.failures) {
		fprintf(stderr, "%s: the dry run failed\n", w->name);
		return;
	}
	const char *ss = getenv("UVFS_FAULTS_SPAWN_STRIDE");
	unsigned long sstride = ss && atol(ss) > 0 ? (unsigned long)atol(ss)
						   : ULONG_MAX;
	ns = pick(calls, w->sites_only ? sstride : stride, persist, &nn);
	/* the dry run's trace: the runs below record over trace[] */
	dtrace = malloc(MAXTRACE * sizeof(*dtrace));
	if (!dtrace) {
		perror("malloc");
		exit(1);
	}
	memcpy(dtrace, trace, MAXTRACE * sizeof(*dtrace));
	for (unsigned long i = 0; i < nn; i++) {
		struct run r = {
			.workload = w->name, .cls = cls, .nth = ns[i],
			.persist = persist,
			.ref = ref, .nref = dry.nref, .allowed = w->allowed,
		};
		uvfs_sys_fault_arm(cls, ns[i], 0, persist);
		run_begin(&r);
		w->run(&r);
		run_end();
		after_run(&r, fds0);
		stopped += r.stopped;
		uvfs_sys_fault_stats(&st);
		injected += st.failed > 0;
	}
	free(ns);
	/* sites the dry run reached that no N failed (their calls come in
	 * an order that varies between threads): one run aimed at each */
	for (unsigned long n = 0; n < calls && n < MAXTRACE; n++) {
		uintptr_t site = dtrace[n];
		struct run r = {
			.workload = w->name, .cls = cls, .nth = n + 1,
			.persist = persist,
			.ref = ref, .nref = dry.nref, .allowed = w->allowed,
		};
		bool tried = false;
		for (unsigned long k = 0; k < n && !tried; k++)
			tried = dtrace[k] == site;
		if (!site || tried || uvfs_sys_site_failed(site))
			continue;
		uvfs_sys_fault_arm_site(cls, site, 0, persist);
		run_begin(&r);
		w->run(&r);
		run_end();
		after_run(&r, fds0);
		nn++;
		aimed++;
		stopped += r.stopped;
		uvfs_sys_fault_stats(&st);
		injected += st.failed > 0;
	}
	free(dtrace);
	printf("%-7s %-5s %-7s calls %5lu  runs %5lu (aimed %lu)  faults "
	       "injected %5lu  stopped early %5lu  (%lds)\n", w->name,
	       class_name(cls), persist ? "persist" : "once", calls, nn,
	       aimed, injected, stopped, (long)(time(NULL) - t0));
	fflush(stdout);
}

/* UVFS_FAULTS_ONLY=WORKLOAD[:CLASS]: run that only (while debugging) */
static bool selected(const char *name, unsigned cls)
{
	const char *only = getenv("UVFS_FAULTS_ONLY");
	size_t n;

	if (!only || !*only)
		return true;
	n = strcspn(only, ":");
	if (strlen(name) != n || strncmp(only, name, n) != 0)
		return false;
	return !only[n] || strcmp(only + n + 1, class_name(cls)) == 0;
}

int main(void)
{
	const char *e = getenv("UVFS_FAULTS_STRIDE");
	unsigned long stride = e && atol(e) > 0 ? (unsigned long)atol(e) : 1;
	struct uvfs *u;

	/* the counters of a fresh instance, settled */
	if (uvfs_new(NULL, &u) != 0 || uvfs_settle(u, 10000) != 0) {
		fprintf(stderr, "uvfs_new failed\n");
		return 1;
	}
	uvfs_stats(u, &fresh);
	uvfs_free(u);
	hostfs_bin = getenv("UVFS_HOSTFS");
	pthread_t wd;
	if (pthread_create(&wd, NULL, watchdog_main, NULL) != 0 ||
	    pthread_detach(wd) != 0) {
		perror("pthread_create");
		return 1;
	}

	snprintf(export_dir, sizeof(export_dir), "/tmp/uvfs-faults-XXXXXX");
	if (!mkdtemp(export_dir)) {
		perror("mkdtemp");
		return 1;
	}
	uvfs_sys_sites_clear();
	int ran = 0, skipped = 0;
	for (size_t i = 0; i < sizeof(workloads) / sizeof(*workloads); i++) {
		const struct workload *w = &workloads[i];
		bool any = false;
		for (unsigned cls = 1; cls <= SYS_C_ALL; cls <<= 1)
			any = any || ((w->classes & cls) &&
				      selected(w->name, cls));
		if (!any)
			continue;
		if (w->run == run_spawn &&
		    (!hostfs_bin || access(hostfs_bin, X_OK) != 0)) {
			printf("spawn: skipped (UVFS_HOSTFS not set)\n");
			skipped++;
			continue;
		}
#ifdef UVFS_FAULTS_NFS
		if (w->run == run_nfs && !nfs_ready()) {
			printf("nfs: skipped (UVFS_NFS_SOURCE, _DIR, _HOST not "
			       "set: tests/nfs/ganesha.sh run -- ...)\n");
			skipped++;
			continue;
		}
#endif
		ran++;
		for (unsigned cls = 1; cls <= SYS_C_ALL; cls <<= 1)
			if ((w->classes & cls) && selected(w->name, cls)) {
				loop(w, cls, stride, false);
				loop(w, cls, stride, true);
			}
	}
	nftw(export_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(export_dir);

	printf("call sites reached %u (failed at least once %u): alloc %u/%u "
	       "io %u/%u net %u/%u fs %u/%u proc %u/%u\n",
	       uvfs_sys_sites_seen(SYS_C_ALL), uvfs_sys_sites_failed(SYS_C_ALL),
	       uvfs_sys_sites_failed(SYS_C_ALLOC), uvfs_sys_sites_seen(SYS_C_ALLOC),
	       uvfs_sys_sites_failed(SYS_C_IO), uvfs_sys_sites_seen(SYS_C_IO),
	       uvfs_sys_sites_failed(SYS_C_NET), uvfs_sys_sites_seen(SYS_C_NET),
	       uvfs_sys_sites_failed(SYS_C_FS), uvfs_sys_sites_seen(SYS_C_FS),
	       uvfs_sys_sites_failed(SYS_C_PROC), uvfs_sys_sites_seen(SYS_C_PROC));
	if ((e = getenv("UVFS_FAULTS_VERBOSE")) && *e == '1')
		uvfs_sys_sites_dump(SYS_C_ALL);
	printf("%d failures\n", total_failures);
	if (!ran && skipped)
		return 77;      /* what was asked for cannot run here */
	return total_failures ? 1 : 0;
}

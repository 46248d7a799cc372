/*
 * uvfsd - hosts a libuvfs namespace, exports it through FUSE and takes
 * commands on a control socket.
 *
 *   uvfsd MOUNTPOINT [-f] [-d] [--root TYPE[:SOURCE[:OPTIONS]]]
 *         [--socket PATH] [-o allow_other,xattr,writeback,...]
 *
 * Startup: refuses a mount point that is already a mount (or a dead FUSE
 * mount), and a socket some daemon already answers on; without -f it forks
 * and the parent exits only once the child is serving (0) or has failed
 * (1, the child's message on stderr).  The socket path is the mount's
 * source (fsname) in /proc/self/mountinfo, which is how uvfs finds it.
 *
 * Shutdown, on SIGTERM/SIGINT/SIGHUP or when the FUSE file system is
 * unmounted from outside: the control socket stops, every mount of the
 * namespace is force-unmounted (that also frees workers blocked on a
 * suspended mount), the pages of dead files still to be dropped are given
 * up but for the file in progress (its WRITEs need the workers: see
 * fuse/inval.c), the session loop ends, the FUSE file system is
 * unmounted, every hold the kernel left is released and the instance is
 * freed.
 *
 * Threads: main (the session loop's dispatcher), libfuse's workers, the
 * signal thread (sigwait; also notices a session that ended), the control
 * acceptor and one thread per control connection.
 */
#define _GNU_SOURCE
#include "args.h"
#include "bdi.h"
#include "control.h"
#include "service.h"
#include "ctl.h"
#include "uvfs_fuse.h"

#include <uvfs/9p.h>
#ifdef UVFS_HAVE_NFS
#include <uvfs/nfs.h>
#endif

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
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
	struct uvfs *u;
	struct uvfs_fuse *uf;
	struct control *ctl;
	atomic_bool loop_done;
	atomic_bool shutting_down;
} d;

static void usage(FILE *f)
{
	fprintf(f,
"usage: uvfsd [SOURCE] MOUNTPOINT [-f] [-d] [--root TYPE[:SOURCE[:OPTIONS]]]\n"
"             [--socket PATH] [--mtab FILE] [-o OPTION[,OPTION...]]\n"
"       mount -t fuse.uvfsd SOURCE MOUNTPOINT [-o OPTIONS]\n"
"\n"
"Exports a uvfs namespace at MOUNTPOINT through FUSE; control it with uvfs.\n"
"\n"
"  SOURCE             the root, as --root (\"uvfsd\" or \"none\": memfs)\n"
"  -f, --foreground   stay in the foreground (logs on stderr); without\n"
"                     it uvfsd forks and logs to syslog\n"
"  -d, --debug        libfuse's request trace on stderr (implies -f)\n"
"  --root SPEC        the file system of the namespace root (default memfs)\n"
"  --socket PATH      the control socket (default /run/uvfs/ESC.sock for\n"
"                     root, else $XDG_RUNTIME_DIR/uvfs/ESC.sock)\n"
"  --mtab FILE        the mount table: its mounts are made at start, and\n"
"                     it is kept up to date with the namespace's mounts\n"
"  -o allow_other     let other users use the mount (the kernel checks\n"
"                     the mode bits, uvfs checks everything again)\n"
"  -o xattr           serve extended attributes (off by default: the\n"
"                     kernel then asks for security.capability before\n"
"                     every write, one more round trip each)\n"
"  -o writeback       the kernel's writeback cache: writes stay in the\n"
"                     page cache and reach uvfs later, in large pieces\n"
"                     (off by default: a write that fails later, or\n"
"                     dies with a forced unmount, is reported only by\n"
"                     fsync and close; docs/fuse.md)\n"
"  -o wb_limit=system|fuse|SIZE   with writeback, the mount's dirty pages:\n"
"                     the system's limits like a disk (system, the\n"
"                     default; needs root), the kernel's FUSE default\n"
"                     of 1%% (fuse), or at most SIZE bytes\n"
"  -o max_threads=N   worker threads at most (64)\n"
"  -o idle_threads=N  idle workers kept (8)\n"
"  -o mount_threads=N workers inside one mount's requests at most\n"
"                     (a quarter of max_threads)\n"
"  -o clone_fd        a /dev/fuse descriptor per worker\n"
"  -o splice          splice request and reply data (libfuse's)\n"
"  -o root=SPEC,socket=PATH,mtab=FILE   as the options above\n"
"  -o ro,nosuid,nodev,noexec,...        passed to the kernel's mount;\n"
"                     mount(8)'s own (defaults, noauto, _netdev, nofail,\n"
"                     x-*, ...) are ignored\n"
"  -h, --help         this text\n"
"  -V, --version      the version\n"
"\n"
"Exit status: 0 after a clean shutdown (SIGTERM, SIGINT, `uvfs shutdown`,\n"
"or the mount unmounted from outside), 1 if it could not start, 2 for a\n"
"usage error.\n");
}

struct mp_check {
	const char *path;
	char fstype[64];
	int found;
};

static int mp_cb(const struct mountinfo_ent *e, void *arg)
{
	struct mp_check *m = arg;

	if (strcmp(e->mnt, m->path) == 0) {
		snprintf(m->fstype, sizeof(m->fstype), "%s", e->fstype);
		m->found = 1;
	}
	return 0;
}

static void nop_handler(int sig)
{
	(void)sig;
}

static void shutdown_now(void)
{
	if (atomic_exchange(&d.shutting_down, true))
		return;
	service_notify("STOPPING=1");
	service_watch_stop();   /* the mount table keeps what was mounted */
	/* No new request; those in progress end once everything is
	 * unmounted (one may wait on a suspended mount for as long as it
	 * stays suspended); then again what they mounted meanwhile. */
	control_quiesce(d.ctl);
	control_unmount_all(d.u, d.uf);
	control_stop(d.ctl);
	control_unmount_all(d.u, d.uf);
}

static void *sig_main(void *arg)
{
	sigset_t *set = arg;

	while (!atomic_load(&d.loop_done)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0 || uvfs_fuse_exited(d.uf)) {
			shutdown_now();
			uvfs_fuse_exit(d.uf);
			break;
		}
	}
	return NULL;
}

/* Forks; the parent waits for the child's word.  => in the child, the
 * write end of the pipe; the parent never returns. */
static int daemonize(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC)) {
		perror("uvfsd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("uvfsd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && c == '0')
			exit(0);
		waitpid(pid, NULL, 0);
		exit(1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

/* Tells the parent the daemon is serving; from now on messages go to
 * syslog (service.c). */
static void detach_stdio(int ready_fd)
{
	if (ready_fd >= 0) {
		if (write(ready_fd, "0", 1) < 0)
			perror("uvfsd: ready");
		close(ready_fd);
	}
	service_log_to_syslog();
}

/* A FUSE mount whose daemon is gone is at the mount point. */
static void dead_mount(const char *arg, const char *mnt)
{
	fprintf(stderr, "uvfsd: %s: a dead FUSE mount is there (transport "
		"endpoint is not connected); unmount it with fusermount3 -u "
		"%s\n", arg, mnt);
}

int main(int argc, char **argv)
{
	struct uvfs_config cfg = { 0 };
	struct uvfs_fuse_config fcfg = { 0 };
	static struct uvfsd_args args;  /* static: reachable until exit */
	char *root_spec = NULL, *sock_opt = NULL;
	char mnt[PATH_MAX], sock[PATH_MAX];
	int foreground = 0, debug = 0, allow_other = 0, xattr = 0, err;
	int writeback = 0;
	int ready_fd = -1, status = 0;

	/* also as mount.fuse3 runs it: uvfsd SOURCE MOUNTPOINT -o ... */
	err = uvfsd_args_parse(argc, argv, &args);
	if (err || args.help) {
		/* after a usage error (said above), a pointer to the help,
		 * not 45 lines of it */
		if (err)
			fprintf(stderr, "Try 'uvfsd --help' for more "
				"information.\n");
		else
			usage(stdout);
		uvfsd_args_free(&args);
		return err;
	}
	if (args.version) {
		printf("uvfsd %s\n", UVFS_VERSION);
		uvfsd_args_free(&args);
		return 0;
	}
	foreground = args.foreground;
	debug = args.debug;
	allow_other = args.allow_other;
	xattr = args.xattr;
	writeback = args.writeback;
	root_spec = (char *)args.root;
	sock_opt = (char *)args.socket;

	/* the mount point */
	const char *arg = args.mountpoint;
	if (!realpath(arg, mnt)) {
		if (errno == ENOTCONN)
			dead_mount(arg, arg);
		else
			fprintf(stderr, "uvfsd: %s: %s\n", arg,
				strerror(errno));
		return 1;
	}
	struct stat st;
	if (stat(mnt, &st)) {
		if (errno == ENOTCONN)
			dead_mount(arg, mnt);
		else
			fprintf(stderr, "uvfsd: %s: %s\n", arg,
				strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "uvfsd: %s: not a directory\n", arg);
		return 1;
	}
	struct mp_check mc = { .path = mnt };
	ctl_mountinfo_each(mp_cb, &mc);
	struct statfs sfs;
	if (mc.found && statfs(mnt, &sfs) != 0 && errno == ENOTCONN) {
		/* a stat may be answered from the attributes the kernel
		 * still holds; a statfs always asks the daemon */
		dead_mount(arg, mnt);
		return 1;
	}
	if (mc.found) {
		fprintf(stderr,
			"uvfsd: %s is already a mount point (%s); refusing "
			"to mount over it\n", mnt, mc.fstype);
		return 1;
	}

	/* the root file system */
	if (root_spec) {
		char *s = strdup(root_spec), *c1, *c2 = NULL;
		if (!s)
			return 1;
		c1 = strchr(s, ':');
		if (c1) {
			*c1++ = '\0';
			c2 = strchr(c1, ':');
			if (c2)
				*c2++ = '\0';
		}
		if (!*s) {
			fprintf(stderr, "uvfsd: --root needs a type\n");
			free(s);
			return 2;
		}
		cfg.root_type = s;
		cfg.root_source = c1;
		cfg.root_options = c2;
	}

	/* the socket */
	if (sock_opt) {
		if (sock_opt[0] != '/') {
			fprintf(stderr, "uvfsd: --socket needs an absolute "
				"path\n");
			free((char *)cfg.root_type);
			return 2;
		}
		snprintf(sock, sizeof(sock), "%s", sock_opt);
	} else if ((err = ctl_sockpath(mnt, geteuid(), sock,
				       sizeof(sock))) != 0) {
		fprintf(stderr, "uvfsd: no socket path for %s: %s\n", mnt,
			strerror(-err));
		free((char *)cfg.root_type);
		return 1;
	}

	service_find_servers();
	/* before anything is made: the socket's directory and the mount
	 * table, then FUSE */
	if (control_check_dir(sock) ||
	    (args.mtab && service_mtab_check(args.mtab))) {
		free((char *)cfg.root_type);
		return 1;
	}
	/* FUSE's device, before anything is made: a user who cannot open it
	 * (root gets ENOENT without the module) cannot mount, and fusermount3
	 * opens it with the user's rights too */
	int dfd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "uvfsd: cannot open /dev/fuse: %s (FUSE needs "
			"read and write access to it; is the fuse module "
			"loaded?)\n", strerror(errno));
		free((char *)cfg.root_type);
		return 1;
	}
	close(dfd);

	if (!foreground)
		ready_fd = daemonize();

	/* Signals: handled by the signal thread only; SIGUSR1 interrupts
	 * the session loop's wait (no SA_RESTART). */
	static sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct sigaction sa = { .sa_handler = nop_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the 9P types may be the root's: registered by uvfs_new */
	static const struct uvfs_fstype_ops *const p9_types[] = {
		&uvfs_9p_ops, &uvfs_hostfs_ops, &uvfs_diod_ops, NULL,
	};
	cfg.fstypes = p9_types;
	err = uvfs_new(&cfg, &d.u);
	if (err) {
		fprintf(stderr, "uvfsd: cannot create the namespace (root %s): "
			"%s\n", cfg.root_type ? cfg.root_type : "memfs",
			strerror(-err));
		free((char *)cfg.root_type);
		return 1;
	}
	/* file servers for `uvfs mount`: "9p" (and the types built on it),
	 * "nfs" (NFSv3 servers, lib/nfs) */
	static const struct {
		const char *name;
		int (*reg)(struct uvfs *u);
	} servers[] = {
		{ "9p", uvfs_9p_register },
#ifdef UVFS_HAVE_NFS
		{ "nfs", uvfs_nfs_register },
#endif
	};
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		err = servers[i].reg(d.u);
		if (err) {
			fprintf(stderr, "uvfsd: cannot register the %s type: "
				"%s\n", servers[i].name, strerror(-err));
			uvfs_free(d.u);
			free((char *)cfg.root_type);
			return 1;
		}
	}
	/* A daemon on the socket of this (unmounted) mount point is one
	 * winding down after an unmount from outside: give it 5 s to go.
	 * One on a socket given with --socket may be serving elsewhere. */
	err = control_open(sock, sock_opt ? 0 : 5000, &d.ctl);
	if (err) {
		uvfs_free(d.u);
		free((char *)cfg.root_type);
		return 1;
	}
	if (args.mtab) {
		int n = service_mtab_replay(d.u, args.mtab);
		if (n < 0)
			fprintf(stderr, "uvfsd: cannot read the mount table "
				"%s: %s\n", args.mtab, strerror(-n));
		else if (n > 0)
			fprintf(stderr, "uvfsd: %d mount%s from %s\n", n,
				n == 1 ? "" : "s", args.mtab);
	}
	fcfg.mountpoint = mnt;
	fcfg.fsname = sock;
	fcfg.debug = debug;
	fcfg.allow_other = allow_other;
	fcfg.xattr = xattr;
	fcfg.writeback = writeback;
	fcfg.max_threads = args.max_threads;
	fcfg.idle_threads = args.idle_threads;
	fcfg.mount_threads = args.mount_threads;
	fcfg.clone_fd = args.clone_fd;
	fcfg.splice = args.splice;
	fcfg.mount_opts = args.kernel_opts;
	err = uvfs_fuse_new(d.u, &fcfg, &d.uf);
	if (err) {
		fprintf(stderr, "uvfsd: cannot mount %s through FUSE%s%s\n",
			mnt, err == -EIO ? " (the reason is above)" : ": ",
			err == -EIO ? "" : strerror(-err));
		control_close(d.ctl);
		uvfs_free(d.u);
		free((char *)cfg.root_type);
		return 1;
	}
	if (writeback) {
		/* the mount's dirty-page limits (bdi.c); without them it
		 * works, at the pace of the kernel's FUSE defaults */
		char msg[256];
		bdi_set_limits(mnt, sock, args.wb_limit, args.wb_limit_bytes,
			       msg, sizeof(msg));
		fprintf(stderr, "uvfsd: writeback cache: %s\n", msg);
	}
	if (control_start(d.ctl, d.u, d.uf, mnt)) {
		fprintf(stderr, "uvfsd: cannot start the control socket\n");
		status = 1;
		goto out;
	}
	pthread_t sig_thr;
	if (pthread_create(&sig_thr, NULL, sig_main, &set)) {
		fprintf(stderr, "uvfsd: cannot start the signal thread\n");
		status = 1;
		goto out;
	}
	if (chdir("/"))
		perror("uvfsd: chdir /");
	if (service_watch_start(d.u, mnt, args.mtab))
		fprintf(stderr, "uvfsd: cannot watch the file servers\n");
	if (!foreground)
		detach_stdio(ready_fd);
	ready_fd = -1;
	char ready[64];
	snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%d", (int)getpid());
	service_notify(ready);

	if (uvfs_fuse_loop(d.uf) != 0)
		status = 1;
	atomic_store(&d.loop_done, true);
	pthread_join(sig_thr, NULL);
out:
	shutdown_now();
	uvfs_fuse_unmount(d.uf);
	uvfs_fuse_free(d.uf);
	control_close(d.ctl);
	uvfs_free(d.u);
	free((char *)cfg.root_type);
	if (ready_fd >= 0)
		close(ready_fd);
	return status;
}

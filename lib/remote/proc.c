/*
 * proc.c - server processes (proc.h).
 *
 * The pid, the pidfd and the restart limit belong to the caller (one per
 * supervised mount).  A process spawned here lives until rproc_reap; its
 * socket end until the caller closes it.  The one state of its own is the
 * list of the stuck (`stuck`): servers SIGKILLed by rproc_reap that had
 * not exited within RPROC_KILL_WAIT_MS (a process in uninterruptible
 * sleep exits only when the kernel lets it), and the thread that reaps
 * them in the background: started when the list gets its first pid, gone
 * when it is empty again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deadline.h"
#include "proc.h"
#include "transport.h"
#include "sys.h"

int rproc_spawn(char *const argv[], pid_t *pidp, int *fd, int *pidfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int sv[2], r;
	pid_t pid;

	if (sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (sv[i] < 3) {        /* dup2 onto 0/1 must not be a no-op */
			int n = sys_fcntl(sv[i], F_DUPFD_CLOEXEC, 3);
			sys_close(sv[i]);
			sv[i] = n;
		}
	if (sv[0] < 0 || sv[1] < 0) {
		r = -errno;
		if (sv[0] >= 0)
			sys_close(sv[0]);
		if (sv[1] >= 0)
			sys_close(sv[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* nothing else of ours: an inherited descriptor (another mount's
	 * socket, /dev/fuse) would outlive us in the server */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGUSR2);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	r = -sys_posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	sys_close(sv[1]);
	if (r) {
		sys_close(sv[0]);
		return r;
	}
	*pidp = pid;
	*fd = sv[0];
	*pidfd = sys_pidfd_open(pid, 0); /* -1: EOF only */
	return rt_set_nonblock(sv[0]);
}

/* Is pid still our child, not reaped?  1; 0 reaped now (it exited); -1
 * not ours any more: reaped already (SIGCHLD ignored: the kernel reaps
 * at the exit), its number free for any process. */
static int still_ours(pid_t pid)
{
	int st;
	pid_t r;

	while ((r = sys_waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	return r == pid ? 0 : r == 0 ? 1 : -1;
}

/* Waits until dl for pid to exit: still_ours's last answer. */
static int wait_exit(pid_t pid, const struct timespec *dl)
{
	int r;

	while ((r = still_ours(pid)) == 1 && ms_left(dl) > 0)
		usleep(1000);
	return r;
}

/* The stuck: SIGKILLed, not exited by RPROC_KILL_WAIT_MS.  Each pid is
 * only ever waited for (WNOHANG), never signalled again: it has its
 * SIGKILL, and once it is reaped its number is free for anyone. */
#define STUCK_MAX 1024
static struct {
	pthread_mutex_t lock;
	pid_t pids[STUCK_MAX];          /* lock */
	int n;                          /* lock */
	bool running;                   /* lock: the reaper thread runs */
} stuck = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Reaps those of the stuck that exited; drops those not ours any more.
 * => stuck.lock held */
static void stuck_sweep_locked(void)
{
	for (int i = 0; i < stuck.n;)
		if (still_ours(stuck.pids[i]) != 1)
			stuck.pids[i] = stuck.pids[--stuck.n];
		else
			i++;
}

static void *stuck_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&stuck.lock);
	for (;;) {
		stuck_sweep_locked();
		if (stuck.n == 0)
			break;
		pthread_mutex_unlock(&stuck.lock);
		usleep(RPROC_STUCK_POLL_MS * 1000);
		pthread_mutex_lock(&stuck.lock);
	}
	stuck.running = false;
	pthread_mutex_unlock(&stuck.lock);
	return NULL;
}

/* Sweeps the stuck, adds pid (0: none) and makes sure the reaper thread
 * runs while any are left.  If the thread cannot be made, the pids stay
 * listed: the next rproc_reap sweeps them and tries again. */
static void stuck_add(pid_t pid)
{
	pthread_attr_t at;
	pthread_t th;

	pthread_mutex_lock(&stuck.lock);
	stuck_sweep_locked();
	if (pid > 0) {
		if (stuck.n < STUCK_MAX)
			stuck.pids[stuck.n++] = pid;
		else
			fprintf(stderr, "uvfs: server %d did not exit at "
				"SIGKILL, and %d others are waited for "
				"already: left unreaped\n", (int)pid,
				STUCK_MAX);
	}
	if (stuck.n > 0 && !stuck.running &&
	    pthread_attr_init(&at) == 0) {
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		stuck.running = sys_pthread_create(&th, &at, stuck_main,
						   NULL) == 0;
		pthread_attr_destroy(&at);
	}
	pthread_mutex_unlock(&stuck.lock);
}

void rproc_reap(pid_t pid, int grace_ms)
{
	struct timespec dl;
	int r;

	if (pid <= 0) {
		stuck_add(0);
		return;
	}
	deadline_in(&dl, grace_ms);
	r = wait_exit(pid, &dl);
	if (r == 1) {
		/* our child, unreaped: the number cannot be another's yet
		 * (with SIGCHLD ignored, only within this instant) */
		sys_kill(pid, SIGKILL);
		deadline_in(&dl, RPROC_KILL_WAIT_MS);
		r = wait_exit(pid, &dl);
	}
	/* gone (never signal a number not ours), reaped, or stuck in the
	 * kernel: then reaped whenever it exits, and never waited for here */
	stuck_add(r == 1 ? pid : 0);
}

int rproc_limit_init(struct rproc_limit *l, long max, long window_ms)
{
	l->max = max;
	l->window_ms = window_ms;
	l->n = 0;
	l->stamps = sys_calloc(max < 0 ? 1 : (size_t)max + 1,
			       sizeof(*l->stamps));
	return l->stamps ? 0 : -ENOMEM;
}

void rproc_limit_fini(struct rproc_limit *l)
{
	free(l->stamps);
	l->stamps = NULL;
}

bool rproc_limit_take(struct rproc_limit *l)
{
	struct timespec now;
	size_t i, k = 0;

	if (l->max < 0)
		return true;    /* no limit */
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < l->n; i++)
		if (ts_ns(&now) - ts_ns(&l->stamps[i]) <
		    l->window_ms * 1000000LL)
			l->stamps[k++] = l->stamps[i];
	l->n = k;
	if ((long)k >= l->max)
		return false;
	l->stamps[l->n++] = now;
	return true;
}

int rproc_backoff_next(struct rproc_backoff *b)
{
	int ms = b->cur_ms < b->min_ms ? b->min_ms : b->cur_ms;

	b->cur_ms = ms * 2 > b->max_ms ? b->max_ms : ms * 2;
	return ms;
}

void rproc_backoff_reset(struct rproc_backoff *b)
{
	b->cur_ms = b->min_ms;
}

int rproc_find(const char *name, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *path = getenv("PATH");

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, size, "%s/%s", self,
					     name) < size &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len && (size_t)snprintf(out, size, "%.*s/%s", (int)len,
					    path, name) < size &&
		    access(out, X_OK) == 0)
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	/* daemons live in sbin, which a user's PATH may lack */
	if ((size_t)snprintf(out, size, "/usr/sbin/%s", name) < size &&
	    access(out, X_OK) == 0)
		return 0;
	return -ENOENT;
}

/*
 * test_recovery_net.c - type "9p" reconnecting to a server of its own
 * (docs/recovery.md): uvfs-hostfs --listen unix:SOCK, or diod -l SOCK
 * with UVFS_RECOVERY_TYPE=diod, killed and started again on the same
 * path; the mount connects again, replays, reopens, checks identities,
 * and keeps its deadlines and its reconnect limit.  Skipped, 77, without
 * the server binary.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "skip.h"

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "proc_wait.h"
#include "recovery_env.h"


extern char **environ;

/* ---- type "9p" reconnecting to a server of its own -----------------------
 * The server (uvfs-hostfs --listen unix:SOCK, or diod -l SOCK) runs on its
 * own, as systemd or an administrator would run it, and is mounted with
 * type "9p" from unix:SOCK; the tests kill it and start it again on the
 * same path. */

#define NET_TIMEOUT_MS 5000

struct net {
	struct env e;
	char sock[200];
	pid_t pid;
};

/* Starts the server on n->sock and waits until it accepts. */
static void net_start(struct net *n)
{
	char lsock[220];
	char *hargv[] = { (char *)server(), "--listen", lsock, n->e.exp, NULL };
	char *dargv[] = { (char *)server(), "-f", "-n", "-e", n->e.exp, "-l",
			  n->sock, "-L", "/dev/null",
			  geteuid() ? "-S" : NULL, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec t0;
	int st;

	snprintf(lsock, sizeof(lsock), "unix:%s", n->sock);
	assert_int_equal(posix_spawn(&n->pid, server(), NULL, NULL,
				     strcmp(fstype(), "diod") == 0 ? dargv
								   : hargv,
				     environ), 0);
	assert_true(strlen(n->sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, n->sock, strlen(n->sock) + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s >= 0);
		int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
		close(s);
		if (r == 0)
			return;
		assert_int_equal(waitpid(n->pid, &st, WNOHANG), 0);
		assert_true(ms_since(&t0) < 5000);
		usleep(2000);
	}
}

static void net_kill(struct net *n)
{
	int st;

	assert_int_equal(kill(n->pid, SIGKILL), 0);
	assert_int_equal(waitpid(n->pid, &st, 0), n->pid);
	n->pid = 0;
}

/* The server started, the mount "9p" from it at /m with extra options
 * after the defaults (timeout=NET_TIMEOUT_MS). */
static int net_up(struct net *n, const char *extra)
{
	struct env *e = &n->e;
	char o[1024], src[256];

	if (!server() || access(server(), X_OK) != 0)
		return -1;
	snprintf(e->tmp, sizeof(e->tmp), "/tmp/uvfs-recovery.XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	snprintf(e->exp, sizeof(e->exp), "%s/export", e->tmp);
	assert_int_equal(mkdir(e->exp, 0777), 0);
	snprintf(n->sock, sizeof(n->sock), "%s/sock", e->tmp);
	net_start(n);
	assert_int_equal(uvfs_new(NULL, &e->u), 0);
	assert_int_equal(uvfs_9p_register(e->u), 0);
	assert_int_equal(uvfs_ctx_new(e->u, NULL, &e->c), 0);
	assert_int_equal(uvfs_mkdir(e->c, "/m", 0755), 0);
	snprintf(src, sizeof(src), "unix:%s", n->sock);
	snprintf(o, sizeof(o), "aname=%s,timeout=%d,deadline=1000%s%s", e->exp,
		 NET_TIMEOUT_MS, extra && *extra ? "," : "",
		 extra ? extra : "");
	assert_int_equal(uvfs_mount(e->c, "9p", src, "/m", o), 0);
	return 0;
}

/* Unmounted already (flags < 0) or now; the server stopped if it runs. */
static void net_down(struct net *n, int flags)
{
	if (flags >= 0)
		assert_int_equal(uvfs_umount(n->e.c, "/m", (unsigned)flags),
				 0);
	assert_int_equal(uvfs_settle(n->e.u, 5000), 0);
	uvfs_ctx_free(n->e.c);
	uvfs_free(n->e.u);
	if (n->pid > 0)
		net_kill(n);
	rm_rf(n->e.tmp);
}

/* Waits until the mount is connected again after more than `restarts`
 * reconnections: the restarts count then, or -1. */
static long wait_reconnected(struct net *n, unsigned long restarts, int ms)
{
	struct uvfs_9p_server_info si;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < ms) {
		assert_int_equal(uvfs_9p_server_info(n->e.u, "/m", &si), 0);
		if (si.dead)
			return -1;
		if (si.connected && si.restarts > restarts)
			return (long)si.restarts;
		usleep(1000);
	}
	return -1;
}

static void host_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	memset(buf, 0, size);
	if (fread(buf, 1, size - 1, f) == 0)
		buf[0] = '\0';
	fclose(f);
}

/* The server killed and started again: a caller meanwhile waits for it,
 * open files read and write on, data fsync'd before the kill is there. */
static void test_net_reconnect(void **state)
{
	struct net n = { 0 };
	struct uvfs_9p_server_info si;
	struct bg rd = { 0 };
	char buf[64] = { 0 }, hp[256];
	struct stat st;
	pthread_t t;
	int fd, dfd;

	(void)state;
	if (net_up(&n, NULL) != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_int_equal(si.pid, 0);
	assert_true(si.connected);
	assert_int_equal(si.restarts, 0);
	fd = uvfs_open(n.e.c, "/m/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(n.e.c, fd, "hello, world", 12), 12);
	assert_int_equal(uvfs_fsync(n.e.c, fd), 0);
	dfd = uvfs_open(n.e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);

	net_kill(&n);
	/* a caller while no server runs waits for it */
	rd.e = &n.e;
	rd.fd = fd;
	assert_int_equal(pthread_create(&t, NULL, bg_main, &rd), 0);
	usleep(300 * 1000);
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_true(si.recovering);
	assert_false(si.connected);
	assert_false(si.dead);
	net_start(&n);
	pthread_join(t, NULL);
	assert_int_equal(rd.r, 5);
	assert_memory_equal(rd.buf, "hello", 5);
	assert_int_equal(wait_reconnected(&n, 0, 5000), 1);

	/* the reopened file has the data, is writable at its offset */
	assert_int_equal(uvfs_pread(n.e.c, fd, buf, sizeof(buf), 0), 12);
	assert_memory_equal(buf, "hello, world", 12);
	assert_int_equal(uvfs_write(n.e.c, fd, "!", 1), 1);
	assert_int_equal(uvfs_fstat(n.e.c, fd, &st), 0);
	assert_int_equal(st.st_size, 13);
	assert_int_equal(uvfs_fsync(n.e.c, fd), 0);
	snprintf(hp, sizeof(hp), "%s/f", n.e.exp);
	host_read(hp, buf, sizeof(buf));
	assert_string_equal(buf, "hello, world!");
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(n.e.c, dfd, de, 8) >= 3);

	/* again, killed while idle and started at once */
	net_kill(&n);
	net_start(&n);
	assert_int_equal(wait_reconnected(&n, 1, 5000), 2);
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	assert_int_equal(uvfs_close(n.e.c, dfd), 0);
	fd = uvfs_open(n.e.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(n.e.c, fd, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, "hello, world!", 13);
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_int_equal(si.pid, 0);
	assert_true(si.losses >= 2);
	assert_int_equal(si.stale_fids, 0);
	printf("net_reconnect: %lu losses, %lu replays, last recovery "
	       "%.2f ms\n", si.losses, si.replays, si.last_recovery_ns / 1e6);
	net_down(&n, 0);
}

/* A file replaced on the host while no server ran: ESTALE for the open
 * file, a fresh open finds the new one. */
static void test_net_stale(void **state)
{
	struct net n = { 0 };
	struct uvfs_9p_server_info si;
	char p[300], q[300], buf[32] = { 0 };
	int fd, fd2, fd3;

	(void)state;
	if (net_up(&n, NULL) != 0) {
		skip();
		return;
	}
	snprintf(p, sizeof(p), "%s/s", n.e.exp);
	snprintf(q, sizeof(q), "%s/s.new", n.e.exp);
	host_write(p, "old");
	fd = uvfs_open(n.e.c, "/m/s", O_RDWR, 0);
	assert_true(fd >= 0);
	fd3 = uvfs_open(n.e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd3 >= 0);
	assert_int_equal(uvfs_read(n.e.c, fd, buf, sizeof(buf)), 3);
	net_kill(&n);
	/* the new file is written before the old one goes (renamed over
	 * it), so it has another inode number */
	host_write(q, "new!");
	assert_int_equal(rename(q, p), 0);
	net_start(&n);
	assert_true(wait_reconnected(&n, 0, 5000) > 0);
	assert_int_equal(uvfs_pread(n.e.c, fd, buf, sizeof(buf), 0), -ESTALE);
	assert_int_equal(uvfs_write(n.e.c, fd, "x", 1), -ESTALE);
	fd2 = uvfs_open(n.e.c, "/m/s", O_RDONLY, 0);
	assert_true(fd2 >= 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(uvfs_read(n.e.c, fd2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new!");
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(n.e.c, fd3, de, 8) >= 3);
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	assert_int_equal(uvfs_close(n.e.c, fd2), 0);
	assert_int_equal(uvfs_close(n.e.c, fd3), 0);
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_true(si.stale_fids >= 1);
	net_down(&n, 0);
}

/* The server never comes back: callers fail at their deadline; a forced
 * unmount while the driver tries to reconnect returns at once, and wakes
 * a caller waiting. */
static void test_net_deadline_forced(void **state)
{
	struct net n = { 0 };
	struct uvfs_9p_server_info si;
	struct stat_arg a = { 0 };
	struct timespec t0;
	struct stat st;
	char buf[8];
	pthread_t t;
	long ms;
	int fd;

	(void)state;
	if (net_up(&n, "restarts=1000,timeout=1500,actimeo=0") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(n.e.c, "/m/p", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	net_kill(&n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(n.e.c, "/m/p", &st), -ETIMEDOUT);
	ms = ms_since(&t0);
	assert_true(ms >= 1400 && ms < 3000);
	assert_int_equal(uvfs_pread(n.e.c, fd, buf, sizeof(buf), 0),
			 -ETIMEDOUT);
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_true(si.recovering);
	assert_false(si.dead);
	assert_int_equal(si.restarts, 0);

	a.e = &n.e;
	assert_int_equal(pthread_create(&t, NULL, stat_main, &a), 0);
	usleep(200 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(n.e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(1000));
	pthread_join(t, NULL);
	assert_true(ms_since(&t0) < 1000);     /* not its deadline */
	assert_int_equal(a.r, -EIO);
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	assert_int_equal(uvfs_settle(n.e.u, 5000), 0);
	assert_true(ms_since(&t0) < test_bound_ms(2000));
	net_down(&n, -1);
}

/* Past restarts= attempts the mount is dead: a caller waiting gets EIO,
 * later ones at once; the server's return does not revive it. */
static void test_net_limit(void **state)
{
	struct net n = { 0 };
	struct uvfs_9p_server_info si;
	struct stat_arg a = { 0 };
	struct timespec t0;
	struct stat st;
	char buf[8];
	pthread_t t;
	int fd;

	(void)state;
	if (net_up(&n, "restarts=3,window=60000,actimeo=0") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(n.e.c, "/m/p", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	net_kill(&n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a.e = &n.e;
	assert_int_equal(pthread_create(&t, NULL, stat_main, &a), 0);
	for (;;) {
		assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
		if (si.dead)
			break;
		assert_true(ms_since(&t0) < 5000);
		usleep(1000);
	}
	pthread_join(t, NULL);
	assert_int_equal(a.r, -EIO);
	assert_true(ms_since(&t0) < NET_TIMEOUT_MS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(n.e.c, "/m/p", &st), -EIO);
	assert_int_equal(uvfs_pread(n.e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_true(ms_since(&t0) < test_bound_ms(500));
	net_start(&n);
	usleep(100 * 1000);
	assert_int_equal(uvfs_stat(n.e.c, "/m/p", &st), -EIO);
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), 0);
	assert_true(si.dead);
	assert_int_equal(si.restarts, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(n.e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(2000));
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	net_down(&n, -1);
}

/* noreconnect: the connection stays lost even once the server is back. */
static void test_net_noreconnect(void **state)
{
	struct net n = { 0 };
	struct uvfs_9p_server_info si;
	struct stat st;
	char buf[8];
	int fd;

	(void)state;
	if (net_up(&n, "noreconnect") != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_9p_server_info(n.e.u, "/m", &si), -ENOENT);
	fd = uvfs_open(n.e.c, "/m/q", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	net_kill(&n);
	net_start(&n);
	usleep(100 * 1000);
	assert_int_equal(uvfs_stat(n.e.c, "/m/q", &st), -EIO);
	assert_int_equal(uvfs_pread(n.e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_close(n.e.c, fd), 0);
	net_down(&n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_reconnect),
		cmocka_unit_test(test_net_stale),
		cmocka_unit_test(test_net_deadline_forced),
		cmocka_unit_test(test_net_limit),
		cmocka_unit_test(test_net_noreconnect),
	};

	signal(SIGPIPE, SIG_IGN);
	if (!server() || access(server(), X_OK) != 0) {
		printf("test_recovery_net: SKIP: UVFS_HOSTFS not set\n");
		return 77;
	}
	return TESTS_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_recovery.c - types "hostfs" and "diod" (UVFS_RECOVERY_TYPE): the VFS
 * restarts a file server that dies and recovers (docs/recovery.md).
 *
 * Each test exports a fresh temporary directory through uvfs-hostfs (path
 * in $UVFS_HOSTFS) or diod ($UVFS_DIOD, default /usr/sbin/diod) — skipped,
 * 77, without it — mounted at /m, and kills the
 * server with SIGKILL:
 *   - kill_reopen: written + fsync'd data reads back through the file that
 *     was open across the kill;
 *   - inflight: with the server stopped, a read and an append write wait
 *     in it; the server is killed: the read is replayed (succeeds), the
 *     append fails with EIO (not replayed: it may have happened);
 *   - restart_limit: past restarts=N the mount is dead (EIO at once, not
 *     hung), and a forced unmount works;
 *   - restart_window: restarts older than window= no longer count;
 *   - stale: a file replaced on the host, then the server killed: the open
 *     file answers ESTALE, a fresh open sees the new file;
 *   - cancel_recovering: a forced unmount while the server is restarting
 *     (a server that cannot start) returns promptly;
 *   - stopped_forced: a SIGSTOPped server (not dead before a deadline:
 *     nothing restarts) and a forced unmount: bounded, the blocked caller
 *     gets EIO;
 *   - stopped_callers: a SIGSTOPped server and ten callers in one
 *     directory: each returns within its deadline and the flush grace,
 *     none queues behind another, and the silent server is replaced: the
 *     mount works again;
 *   - deep_restart: a tree deeper than PATH_MAX, fids=8, a kill: the file
 *     open at the bottom and the working directory there go on;
 *   - link_restart: a file open by a name removed since (it has another)
 *     reads and writes on across a kill;
 *   - fid_cache: fids=16 with 300 files remembered: at most 16 node fids,
 *     every file still answers (re-walked), across a restart and a rename
 *     above them;
 *   - xattr_inflight: with the server stopped, a getxattr and a setxattr
 *     wait in it; the server is killed: the get is replayed and gives the
 *     value, the set (only its clone walk was out) completes on the new
 *     server;
 *   - fault: N threads of mixed work while another kills the server
 *     UVFS_KILLS times (default 200) at random moments (a quarter of them,
 *     never two in a row, while the previous kill is being recovered):
 *     every result is a
 *     success or an allowed error, no call lasts past its deadline, and
 *     data fsync'd before a kill reads back after it.
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

static void test_kill_reopen(void **state)
{
	struct env e;
	char buf[64] = { 0 };
	pid_t pid, npid;
	struct stat st;
	int fd, dfd;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_true(pid > 0);
	fd = uvfs_open(e.c, "/m/f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "hello, world", 12), 12);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	dfd = uvfs_open(e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);

	assert_int_equal(kill(pid, SIGKILL), 0);
	/* the read waits for the restart (or is replayed) and succeeds */
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 12);
	assert_memory_equal(buf, "hello, world", 12);
	npid = wait_new_server(&e, pid, 5000);
	assert_true(npid > 0 && npid != pid);
	/* the reopened file is still open for writing, at its offset */
	assert_int_equal(uvfs_write(e.c, fd, "!", 1), 1);
	assert_int_equal(uvfs_fstat(e.c, fd, &st), 0);
	assert_int_equal(st.st_size, 13);
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(e.c, dfd, de, 8) >= 3);
	assert_int_equal(uvfs_stat(e.c, "/m/f", &st), 0);

	/* again, with the server killed while idle and the file closed */
	assert_int_equal(kill(npid, SIGKILL), 0);
	assert_true(wait_new_server(&e, npid, 5000) > 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, dfd), 0);
	fd = uvfs_open(e.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(e.c, fd, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, "hello, world!", 13);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	struct uvfs_9p_server_info si;
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_int_equal(si.restarts, 2);
	printf("kill_reopen: last recovery %.2f ms\n",
	       si.last_recovery_ns / 1e6);
	env_down(&e, 0);
}

static void test_inflight(void **state)
{
	struct env e;
	struct bg rd = { 0 }, mk = { 0 };
	pthread_t t1, t2;
	pid_t pid;
	int fd, afd, st;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/g", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "abcde", 5), 5);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	afd = uvfs_open(e.c, "/m/g", O_WRONLY | O_APPEND, 0);
	assert_true(afd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	rd.e = mk.e = &e;
	rd.fd = fd;
	mk.fd = afd;
	mk.op = 1;
	assert_int_equal(pthread_create(&t1, NULL, bg_main, &rd), 0);
	assert_int_equal(pthread_create(&t2, NULL, bg_main, &mk), 0);
	usleep(200 * 1000);     /* both wait in the stopped server */
	assert_int_equal(kill(pid, SIGKILL), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	waitpid(pid, &st, WNOHANG);
	assert_int_equal(rd.r, 5);      /* replayed */
	assert_memory_equal(rd.buf, "abcde", 5);
	/* not replayed: it may have happened (here the stopped server never
	 * got to it) */
	assert_int_equal(mk.r, -EIO);
	struct stat s2;
	assert_int_equal(uvfs_stat(e.c, "/m/g", &s2), 0);
	assert_int_equal(s2.st_size, 5);
	/* the append file was reopened with O_APPEND: it appends again */
	assert_int_equal(uvfs_write(e.c, afd, "XYZ", 3), 3);
	assert_int_equal(uvfs_stat(e.c, "/m/g", &s2), 0);
	assert_int_equal(s2.st_size, 8);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, afd), 0);
	env_down(&e, 0);
}

/* A getxattr is replayed across a restart; a setxattr whose clone walk
 * was out completes on the new server. */
struct xbg {
	struct env *e;
	int op;         /* 0 get, 1 set */
	long r;
	char buf[16];
};

static void *xbg_main(void *arg)
{
	struct xbg *b = arg;

	if (b->op == 0)
		b->r = uvfs_getxattr(b->e->c, "/m/x", "user.a", b->buf,
				     sizeof(b->buf));
	else
		b->r = uvfs_setxattr(b->e->c, "/m/x", "user.b", "B", 1, 0);
	return NULL;
}

static void test_xattr_inflight(void **state)
{
	struct env e;
	struct xbg g = { .op = 0 }, sx = { .op = 1 };
	pthread_t t1, t2;
	char hp[256], buf[16];
	pid_t pid;
	int fd, st;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/x", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_setxattr(e.c, "/m/x", "user.a", "AA", 2, 0), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	g.e = sx.e = &e;
	assert_int_equal(pthread_create(&t1, NULL, xbg_main, &g), 0);
	assert_int_equal(pthread_create(&t2, NULL, xbg_main, &sx), 0);
	usleep(200 * 1000);     /* both wait in the stopped server */
	assert_int_equal(kill(pid, SIGKILL), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	waitpid(pid, &st, WNOHANG);
	assert_int_equal(g.r, 2);       /* replayed */
	assert_memory_equal(g.buf, "AA", 2);
	/* the set's first request, its clone Twalk, was the one out: it is
	 * replayed, and the rest goes to the new server */
	assert_int_equal(sx.r, 0);
	snprintf(hp, sizeof(hp), "%s/x", e.exp);
	assert_int_equal(getxattr(hp, "user.b", buf, sizeof(buf)), 1);
	assert_int_equal(uvfs_removexattr(e.c, "/m/x", "user.b"), 0);
	assert_int_equal(getxattr(hp, "user.b", buf, sizeof(buf)), -1);
	env_down(&e, 0);
}

static void test_restart_limit(void **state)
{
	struct env e;
	struct uvfs_9p_server_info si;
	struct timespec t0;
	struct stat st;
	char buf[8];
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, "restarts=2,window=60000") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/h", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kill(pid, SIGKILL), 0);
		pid = wait_new_server(&e, pid, 5000);
		assert_true(pid > 0);
		assert_int_equal(uvfs_stat(e.c, "/m/h", &st), 0);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
		if (si.dead)
			break;
		assert_true(ms_since(&t0) < 5000);
		usleep(1000);
	}
	/* dead: every request fails at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(e.c, "/m/h", &st), -EIO);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_true(ms_since(&t0) < test_bound_ms(500));
	/* the forced unmount works; the open file is dead */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(2000));
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* Restarts older than the window no longer count. */
static void test_restart_window(void **state)
{
	struct env e;
	struct stat st;
	pid_t pid;

	(void)state;
	if (env_up(&e, "restarts=1,window=300") != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kill(pid, SIGKILL), 0);
		pid = wait_new_server(&e, pid, 5000);
		assert_true(pid > 0);
		assert_int_equal(uvfs_stat(e.c, "/m", &st), 0);
		usleep(400 * 1000);     /* the last restart leaves the window */
	}
	env_down(&e, 0);
}

static void test_stale(void **state)
{
	struct env e;
	char p[300], q[300], buf[32] = { 0 };
	pid_t pid;
	int fd, fd2, fd3;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	snprintf(p, sizeof(p), "%s/s", e.exp);
	snprintf(q, sizeof(q), "%s/s.new", e.exp);
	host_write(p, "old");
	fd = uvfs_open(e.c, "/m/s", O_RDWR, 0);
	assert_true(fd >= 0);
	/* an unchanged file open too: it must survive */
	fd3 = uvfs_open(e.c, "/m", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd3 >= 0);
	assert_int_equal(uvfs_read(e.c, fd, buf, sizeof(buf)), 3);
	/* replaced behind the server's back: rm + create under the name
	 * (the old inode is held by the server until it dies, so the new
	 * file gets another inode number) */
	assert_int_equal(unlink(p), 0);
	host_write(q, "new!");
	assert_int_equal(rename(q, p), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	int r = (int)uvfs_pread(e.c, fd, buf, sizeof(buf), 0);
	assert_true(r == -ESTALE || r == -EIO);
	assert_int_equal(r, -ESTALE);
	assert_int_equal(uvfs_write(e.c, fd, "x", 1), -ESTALE);
	/* a fresh open finds the new file */
	fd2 = uvfs_open(e.c, "/m/s", O_RDONLY, 0);
	assert_true(fd2 >= 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(uvfs_read(e.c, fd2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new!");
	struct uvfs_dirent de[8];
	assert_true(uvfs_readdir(e.c, fd3, de, 8) >= 3);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_close(e.c, fd2), 0);
	assert_int_equal(uvfs_close(e.c, fd3), 0);
	struct uvfs_9p_server_info si;
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_true(si.stale_fids >= 1);
	env_down(&e, 0);
}

/* A forced unmount while the supervisor restarts a server that cannot
 * come up (its export vanished): it returns within its deadline. */
static void test_cancel_recovering(void **state)
{
	struct env e;
	struct uvfs_9p_server_info si;
	struct timespec t0;
	pid_t pid;

	(void)state;
	if (env_up(&e, "restarts=1000") != 0) {
		skip();
		return;
	}
	char moved[200];
	snprintf(moved, sizeof(moved), "%s/gone", e.tmp);
	assert_int_equal(rename(e.exp, moved), 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {            /* a few failed restarts, backing off */
		usleep(20 * 1000);
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	} while (si.restarts < 3 && ms_since(&t0) < 5000);
	assert_true(si.recovering);
	assert_false(si.dead);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_true(ms_since(&t0) < test_bound_ms(1500));
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* A stopped server is not dead: requests wait for it (deadline); a forced
 * unmount returns within its deadline and the caller gets EIO. */
static void test_stopped_forced(void **state)
{
	struct env e;
	struct stat_arg a = { 0 };
	struct timespec t0;
	pthread_t t;
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, "actimeo=0") != 0) {
		skip();
		return;
	}
	fd = uvfs_open(e.c, "/m/p", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	a.e = &e;
	assert_int_equal(pthread_create(&t, NULL, stat_main, &a), 0);
	usleep(200 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(e.c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(t, NULL);
	assert_true(ms_since(&t0) < test_bound_ms(1500));
	assert_int_equal(a.r, -EIO);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_settle(e.u, 5000), 0);
	/* the server was killed and reaped at the unmount */
	assert_int_equal(kill(pid, 0), -1);
	uvfs_ctx_free(e.c);
	uvfs_free(e.u);
	rm_rf(e.tmp);
}

/* A stopped server and ten callers in one directory: none waits for
 * another (each returns within its deadline and the flush grace), and the
 * silent server is replaced: the mount works again. */
struct scarg {
	struct env *e;
	int i, r;
	long ms;
};

static void *sc_main(void *arg)
{
	struct scarg *a = arg;
	struct uvfs_ctx *c;
	struct timespec t0;
	struct stat st;
	char path[64];

	assert_int_equal(uvfs_ctx_new(a->e->u, NULL, &c), 0);
	snprintf(path, sizeof(path), "/m/d/n%d", a->i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->r = uvfs_stat(c, path, &st);
	a->ms = ms_since(&t0);
	uvfs_ctx_free(c);
	return NULL;
}

static void test_stopped_callers(void **state)
{
	struct scarg a[10];
	pthread_t t[10];
	struct env e;
	struct stat st;
	char path[64];
	pid_t pid, npid = 0;
	int fd;

	(void)state;
	if (env_up(&e, "timeout=1000,actimeo=0") != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_mkdir(e.c, "/m/d", 0755), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/m/d/n%d", i);
		fd = uvfs_open(e.c, path, O_CREAT | O_RDWR, 0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_close(e.c, fd), 0);
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	for (int i = 0; i < 10; i++) {
		a[i] = (struct scarg){ .e = &e, .i = i };
		assert_int_equal(pthread_create(&t[i], NULL, sc_main, &a[i]),
				 0);
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(t[i], NULL);
		printf("stopped_callers: caller %d: %d after %ld ms\n", i,
		       a[i].r, a[i].ms);
		/* deadline 1 s, grace 0.5 s, 1 s of slack for a busy host;
		 * or the replaced server answered */
		assert_true(a[i].ms < test_bound_ms(1000 + 500 + 1000));
		assert_true(a[i].r == -ETIMEDOUT || a[i].r == -EIO ||
			    a[i].r == 0);
	}
	/* the silent server was replaced (SIGKILL works on a stopped one) */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 10000) {
		npid = uvfs_9p_server_pid(e.u, "/m");
		if (npid > 0 && npid != pid &&
		    uvfs_stat(e.c, "/m/d/n3", &st) == 0)
			break;
		usleep(20 * 1000);
	}
	assert_true(npid > 0 && npid != pid);
	assert_int_equal(uvfs_stat(e.c, "/m/d/n3", &st), 0);
	assert_int_equal(kill(pid, 0), -1);     /* killed and reaped */
	env_down(&e, 0);
}

/* Fids are a cache: with fids=16, 300 files the VFS remembers hold at
 * most 16 node fids; every one still answers (walked again on demand),
 * across a restart of the server too, and a rename above them is
 * followed. */
static void test_fid_cache(void **state)
{
	struct uvfs_9p_server_info si;
	struct env e;
	char path[64], buf[16];
	struct stat st;
	int fd;

	(void)state;
	if (env_up(&e, "fids=16") != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_mkdir(e.c, "/m/d", 0755), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/m/d/f%d", i);
		fd = uvfs_open(e.c, path, O_CREAT | O_RDWR, 0644);
		assert_true(fd >= 0);
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(uvfs_write(e.c, fd, buf, strlen(buf)),
				 (ssize_t)strlen(buf));
		assert_int_equal(uvfs_close(e.c, fd), 0);
	}
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_true(si.fids <= 16);
	assert_true(si.fid_releases >= 300 - 16);
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1) {        /* the server dies: recovered */
			pid_t pid = uvfs_9p_server_pid(e.u, "/m");
			assert_int_equal(kill(pid, SIGKILL), 0);
		}
		if (pass == 2)          /* a rename above them */
			assert_int_equal(uvfs_rename(e.c, "/m/d", "/m/e", 0), 0);
		for (int i = 0; i < 300; i++) {
			snprintf(path, sizeof(path), "/m/%s/f%d",
				 pass == 2 ? "e" : "d", i);
			assert_int_equal(uvfs_stat(e.c, path, &st), 0);
			snprintf(buf, sizeof(buf), "%d", i);
			assert_int_equal(st.st_size, (off_t)strlen(buf));
			fd = uvfs_open(e.c, path, O_RDONLY, 0);
			assert_true(fd >= 0);
			char got[16] = { 0 };
			assert_int_equal(uvfs_read(e.c, fd, got, sizeof(got)),
					 (ssize_t)strlen(buf));
			assert_string_equal(got, buf);
			assert_int_equal(uvfs_close(e.c, fd), 0);
		}
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
		assert_true(si.fids <= 16);
	}
	env_down(&e, 0);
}

/* ---- the fault test ------------------------------------------------------ */

#define NWORKERS 4
#define NFILES   8

struct fault {
	struct env *e;
	atomic_bool stop;
	atomic_long max_ms;
	atomic_long calls, errors, verified, estale;
	int kills;
};

struct worker {
	struct fault *f;
	int id;
	unsigned seed;
	/* per file: the content fsync'd last (version), or -1 unknown */
	int durable[NFILES];
	/* per file: the value of user.v last set (version), or -1 unknown */
	int xver[NFILES];
	char bad[256];
};

/* ETIMEDOUT: a request that waited for a recovery past its deadline (the
 * killer never kills two recoveries in a row, so the backoff stays at
 * 20 ms and this should not happen; it would be legitimate though). */
static bool allowed(int r)
{
	return r >= 0 || r == -EIO || r == -ESTALE || r == -ENOENT ||
	       r == -EEXIST || r == -ETIMEDOUT || r == -ENODATA;
}

static void fill(char *buf, int id, int file, int ver, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (id * 7 + file * 3 + ver + (int)i) % 26);
}

#define CALL(w, expr) ({                                                    \
	struct timespec t0_;                                                \
	clock_gettime(CLOCK_MONOTONIC, &t0_);                               \
	long r_ = (long)(expr);                                             \
	long ms_ = ms_since(&t0_);                                          \
	long m_ = atomic_load(&(w)->f->max_ms);                             \
	while (ms_ > m_ &&                                                  \
	       !atomic_compare_exchange_weak(&(w)->f->max_ms, &m_, ms_))   \
		;                                                           \
	atomic_fetch_add(&(w)->f->calls, 1);                                \
	if (r_ < 0)                                                         \
		atomic_fetch_add(&(w)->f->errors, 1);                       \
	if (r_ == -ESTALE && atomic_fetch_add(&(w)->f->estale, 1) == 0)     \
		printf("fault: first ESTALE: %s\n", #expr);                 \
	if (!allowed((int)r_) && !(w)->bad[0])                              \
		snprintf((w)->bad, sizeof((w)->bad), "%s: %ld (%s)", #expr, \
			 r_, strerror((int)-r_));                           \
	r_;                                                                 \
})

#define FSIZE 3000

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct uvfs_ctx *c;
	char dir[64], path[96], buf[FSIZE], want[FSIZE];

	assert_int_equal(uvfs_ctx_new(w->f->e->u, NULL, &c), 0);
	snprintf(dir, sizeof(dir), "/m/w%d", w->id);
	for (int i = 0; i < NFILES; i++)
		w->durable[i] = w->xver[i] = -1;
	while (!atomic_load(&w->f->stop) && !w->bad[0]) {
		int k = rand_r(&w->seed) % NFILES;
		int op = rand_r(&w->seed) % 9;
		int fd;

		snprintf(path, sizeof(path), "%s/f%d", dir, k);
		switch (op) {
		case 0: case 1: {       /* write a new version, fsync */
			int ver = rand_r(&w->seed) % 1000;
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_RDWR,
						    0644));
			if (fd < 0)
				break;
			w->durable[k] = -1;     /* unknown until fsync'd */
			fill(buf, w->id, k, ver, FSIZE);
			long n = CALL(w, uvfs_pwrite(c, fd, buf, FSIZE, 0));
			if (n == FSIZE && CALL(w, uvfs_fsync(c, fd)) == 0)
				w->durable[k] = ver;
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 2: case 3: {       /* read back what was fsync'd */
			fd = (int)CALL(w, uvfs_open(c, path, O_RDONLY, 0));
			if (fd < 0) {
				if (fd == -ENOENT && w->durable[k] >= 0 &&
				    !w->bad[0])
					snprintf(w->bad, sizeof(w->bad),
						 "%s vanished", path);
				break;
			}
			long n = CALL(w, uvfs_pread(c, fd, buf, FSIZE, 0));
			if (n >= 0 && w->durable[k] >= 0) {
				fill(want, w->id, k, w->durable[k], FSIZE);
				if (n != FSIZE || memcmp(buf, want, FSIZE)) {
					if (!w->bad[0])
						snprintf(w->bad,
							 sizeof(w->bad),
							 "%s: fsync'd data "
							 "lost (%ld bytes)",
							 path, n);
				} else {
					atomic_fetch_add(&w->f->verified, 1);
				}
			}
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 4: {               /* stat, readdir */
			struct stat st;
			struct uvfs_dirent de[16];
			CALL(w, uvfs_stat(c, path, &st));
			fd = (int)CALL(w, uvfs_open(c, dir, O_RDONLY |
						    O_DIRECTORY, 0));
			if (fd >= 0) {
				while (CALL(w, uvfs_readdir(c, fd, de, 16)) > 0)
					;
				CALL(w, uvfs_close(c, fd));
			}
			break;
		}
		case 5: {               /* unlink: the file's state is unknown
					 * if the answer is EIO */
			long r = CALL(w, uvfs_unlink(c, path));
			w->xver[k] = -1;
			if (r == 0 || r == -ENOENT)
				w->durable[k] = -2;     /* known absent */
			else
				w->durable[k] = -1;
			break;
		}
		case 6: {               /* create exclusively */
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_EXCL |
						    O_WRONLY, 0644));
			if (fd >= 0) {
				w->durable[k] = -1;
				CALL(w, uvfs_close(c, fd));
			}
			break;
		}
		case 7: {               /* a long-open file: pwrite, fsync,
					 * pread across kills */
			fd = (int)CALL(w, uvfs_open(c, path, O_CREAT | O_RDWR,
						    0644));
			if (fd < 0)
				break;
			w->durable[k] = -1;
			for (int i = 0; i < 5 && !atomic_load(&w->f->stop);
			     i++) {
				int ver = rand_r(&w->seed) % 1000;
				fill(buf, w->id, k, ver, FSIZE);
				if (CALL(w, uvfs_pwrite(c, fd, buf, FSIZE,
							0)) != FSIZE ||
				    CALL(w, uvfs_fsync(c, fd)) != 0) {
					w->durable[k] = -1;
					break;
				}
				w->durable[k] = ver;
				usleep(rand_r(&w->seed) % 3000);
				long n = CALL(w, uvfs_pread(c, fd, buf,
							    FSIZE, 0));
				fill(want, w->id, k, ver, FSIZE);
				if (n >= 0 && (n != FSIZE ||
					       memcmp(buf, want, FSIZE))) {
					if (!w->bad[0])
						snprintf(w->bad,
							 sizeof(w->bad),
							 "%s: open file lost "
							 "fsync'd data", path);
				} else if (n >= 0) {
					atomic_fetch_add(&w->f->verified, 1);
				}
			}
			CALL(w, uvfs_close(c, fd));
			break;
		}
		case 8: {               /* xattrs: a value set (and answered)
					 * reads back; EIO leaves it unknown */
			char v[16], g[16];
			int ver = rand_r(&w->seed) % 1000;
			int len = snprintf(v, sizeof(v), "v%d", ver);
			long r = CALL(w, uvfs_setxattr(c, path, "user.v", v,
						       (size_t)len, 0));
			w->xver[k] = r == 0 ? ver : -1;
			r = CALL(w, uvfs_getxattr(c, path, "user.v", g,
						  sizeof(g)));
			/* a failure is allowed (CALL checks which), a
			 * wrong or missing value is not */
			if (w->xver[k] >= 0 && !w->bad[0] &&
			    (r >= 0 ? r != len || memcmp(g, v, (size_t)len)
				    : r == -ENODATA))
				snprintf(w->bad, sizeof(w->bad),
					 "%s: user.v set to %s, read %ld",
					 path, v, r);
			break;
		}
		}
	}
	uvfs_ctx_free(c);
	return NULL;
}

static void test_fault(void **state)
{
	struct env e;
	struct fault f = { 0 };
	struct worker w[NWORKERS];
	pthread_t t[NWORKERS];
	struct timespec t0;
	const char *ks = getenv("UVFS_KILLS");
	int kills = ks ? atoi(ks) : 200;
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	if (env_up(&e, "restarts=1000000") != 0) {
		skip();
		return;
	}
	printf("fault: seed %u, %d kills\n", seed, kills);
	f.e = &e;
	for (int i = 0; i < NWORKERS; i++) {
		char d[32];
		snprintf(d, sizeof(d), "/m/w%d", i);
		assert_int_equal(uvfs_mkdir(e.c, d, 0755), 0);
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &f;
		w[i].id = i;
		w[i].seed = seed + (unsigned)i * 7919;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
						&w[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = 0;
	int failed_waits = 0;
	bool last_during = false;
	while (f.kills < kills && ms_since(&t0) < 50000) {
		pid_t np;
		bool during = !last_during && rand_r(&seed) % 4 == 0;
		last_during = during;
		if (during) {
			/* kill the new server while it is being recovered
			 * (as soon as it is spawned) */
			struct timespec t1;
			struct uvfs_9p_server_info si;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			np = -1;
			while (ms_since(&t1) < 5000) {
				if (uvfs_9p_server_info(e.u, "/m", &si) == 0 &&
				    si.pid > 0 && si.pid != pid) {
					np = si.pid;
					break;
				}
				usleep(200);
			}
			if (np > 0)
				usleep((useconds_t)(rand_r(&seed) % 3000));
		} else {
			np = wait_new_server(&e, pid, 5000);
			if (np > 0)
				usleep((useconds_t)(rand_r(&seed) % 15000));
		}
		if (np <= 0) {
			failed_waits++;
			break;
		}
		pid = np;
		if (kill(pid, SIGKILL) == 0)
			f.kills++;
	}
	atomic_store(&f.stop, true);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	long elapsed = ms_since(&t0);
	struct uvfs_9p_server_info si;
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	printf("fault: %d kills in %ld ms; %ld calls (%ld errors, %ld "
	       "ESTALE), %ld reads verified, max call %ld ms; %lu replays, "
	       "%lu stale fids, last recovery %.2f ms\n", f.kills, elapsed,
	       atomic_load(&f.calls), atomic_load(&f.errors),
	       atomic_load(&f.estale),
	       atomic_load(&f.verified), atomic_load(&f.max_ms), si.replays,
	       si.stale_fids, si.last_recovery_ns / 1e6);
	for (int i = 0; i < NWORKERS; i++)
		if (w[i].bad[0])
			fail_msg("worker %d: %s", i, w[i].bad);
	assert_int_equal(failed_waits, 0);
	assert_int_equal(f.kills, kills);
	assert_true(atomic_load(&f.max_ms) < TIMEOUT_MS + 2000);
	/* afterwards: everything fsync'd reads back, strictly */
	for (int i = 0; i < NWORKERS; i++)
		for (int k = 0; k < NFILES; k++) {
			char path[64], buf[FSIZE], want[FSIZE];
			if (w[i].durable[k] < 0)
				continue;
			snprintf(path, sizeof(path), "/m/w%d/f%d", i, k);
			int fd = uvfs_open(e.c, path, O_RDONLY, 0);
			assert_true(fd >= 0);
			assert_int_equal(uvfs_pread(e.c, fd, buf, FSIZE, 0),
					 FSIZE);
			fill(want, i, k, w[i].durable[k], FSIZE);
			assert_memory_equal(buf, want, FSIZE);
			assert_int_equal(uvfs_close(e.c, fd), 0);
		}
	env_down(&e, 0);
}

/* A tree deeper than PATH_MAX below the export (24 directories of
 * 255-byte names), fids=8 so that most nodes give their fid up: the file
 * open at the bottom reads on across a kill (its fid walked again by the
 * recorded path, 16 names per Twalk), the working directory at the bottom
 * still answers, and files there are made and found again (each node
 * walked again from the nearest ancestor holding a fid).  Type "diod"
 * keeps paths whole and stops at PATH_MAX: 12 levels there (3 KiB). */
static void test_deep_restart(void **state)
{
	struct env e;
	char name[256], buf[32] = { 0 };
	struct stat st;
	pid_t pid;
	int fd, depth = strcmp(fstype(), "diod") == 0 ? 12 : 24;

	(void)state;
	if (env_up(&e, "fids=8") != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(uvfs_chdir(e.c, "/m"), 0);
	for (int i = 0; i < depth; i++) {
		memset(name, 'a' + i, 255);
		name[255] = '\0';
		assert_int_equal(uvfs_mkdir(e.c, name, 0755), 0);
		assert_int_equal(uvfs_chdir(e.c, name), 0);
	}
	fd = uvfs_open(e.c, "f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "deep", 4), 4);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	for (int i = 0; i < 20; i++) {     /* more nodes than fids= */
		snprintf(name, sizeof(name), "g%02d", i);
		int g = uvfs_open(e.c, name, O_CREAT | O_WRONLY, 0644);
		assert_true(g >= 0);
		assert_int_equal(uvfs_close(e.c, g), 0);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "deep", 4);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_stat(e.c, "f", &st), 0);
	assert_int_equal(st.st_size, 4);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "g%02d", i);
		assert_int_equal(uvfs_stat(e.c, name, &st), 0);
	}
	assert_int_equal(uvfs_mkdir(e.c, "new", 0755), 0);
	assert_int_equal(uvfs_stat(e.c, "new", &st), 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_chdir(e.c, "/"), 0);
	env_down(&e, 0);
}

/* A file opened by a name that is then removed while it has another
 * (echo > a; ln a b; rm a): across a kill, the open file is reopened by
 * the name it still has, and reads and writes on. */
static void test_link_restart(void **state)
{
	struct env e;
	char buf[32] = { 0 };
	struct stat st;
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	fd = uvfs_open(e.c, "/m/a", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "data", 4), 4);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	assert_int_equal(uvfs_link(e.c, "/m/a", "/m/b"), 0);
	assert_int_equal(uvfs_unlink(e.c, "/m/a"), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "data", 4);
	assert_int_equal(uvfs_pwrite(e.c, fd, "+", 1, 4), 1);
	assert_int_equal(uvfs_fstat(e.c, fd, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_stat(e.c, "/m/b", &st), 0);
	assert_int_equal(st.st_size, 5);
	env_down(&e, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_reopen),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_restart_limit),
		cmocka_unit_test(test_restart_window),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_cancel_recovering),
		cmocka_unit_test(test_stopped_forced),
		cmocka_unit_test(test_stopped_callers),
		cmocka_unit_test(test_fid_cache),
		cmocka_unit_test(test_deep_restart),
		cmocka_unit_test(test_link_restart),
		cmocka_unit_test(test_xattr_inflight),
		cmocka_unit_test(test_fault),
	};

	signal(SIGPIPE, SIG_IGN);
	if (!server() || access(server(), X_OK) != 0) {
		printf("test_recovery: SKIP: UVFS_HOSTFS not set\n");
		return 77;
	}
	return TESTS_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}

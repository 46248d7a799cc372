/*
 * test_9pclient.c - the 9P client driver against a misbehaving server:
 * the fake server of p9fake.c (which names misbehave how) over a
 * socketpair, and extended attributes end to end on a real server
 * (UVFS_HOSTFS: type "hostfs", spawned; UVFS_9P_SOURCE: diod, from
 * tests/conformance-diod.sh), against the host file too.
 *
 * Every case checks that the VFS returns an error and keeps working (or,
 * when the connection is lost, fails fast with -EIO and unmounts).
 * Fencing and reconnection: test_9psession.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/sockios.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "p9.h"
#include "p9fake.h"
#include "proc_wait.h"
#include "transport.h"


/* ---- tests -------------------------------------------------------------- */

static void test_basic(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	char buf[64];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 200);
	assert_int_equal(uvfs_stat(x.c, "/m/nope", &st), -ENOENT);
	fd = uvfs_open(x.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(x.c, fd, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "hello, 9p", 9);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_bad_replies(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/bad", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/wrong", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/unsol", &st), 0);
	assert_int_equal(st.st_size, 500);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/ezero", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/ehuge", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_deadline_flush(void **state)
{
	struct fx x = { 0 };
	struct timespec t0;
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=300"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the server answered the flushed request before its Rflush: the
	 * call happened, and says so */
	assert_int_equal(uvfs_stat(x.c, "/m/late", &st), 0);
	assert_int_equal(st.st_size, 600);
	assert_true(ms_since(&t0) >= 300 && ms_since(&t0) < 3000);
	int flushes = atomic_load(&x.fs.flushes);      /* stat asks twice */
	assert_true(flushes >= 1);
	/* no reply, an Rflush: it failed, and did not happen; the caller
	 * is told only once the server confirmed the flush */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(x.c, "/m/fl", &st), -ETIMEDOUT);
	assert_int_equal(atomic_load(&x.fs.flushes), flushes + 1);
	assert_true(ms_since(&t0) < 3000);
	/* only that request failed */
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	for (int i = 0; i < 300; i++)   /* tags get reused */
		assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Treaddir sent ahead that nobody wants any more (the directory was
 * closed after its first entry): its fid's Tclunk goes out only after
 * the Treaddir's reply, never while it is out (a server may free what
 * the request uses: diod 1.0.24 crashes in that Treaddir).  The fake
 * server holds it until its next message and counts a Tclunk of its fid
 * that comes meanwhile. */
static void test_readdir_ahead_clunk(void **state)
{
	struct fx x = { 0 };
	struct uvfs_dirent de[1];
	struct statvfs sv;
	int fd, i;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	fd = uvfs_open(x.c, "/m/dir", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_readdir(x.c, fd, de, 1), 1);
	/* the next Treaddir went out with the first reply */
	for (i = 0; i < 500 && !atomic_load(&x.fs.rd_held); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&x.fs.rd_held));
	assert_int_equal(uvfs_close(x.c, fd), 0);
	/* other requests: the first releases the held reply; the fid's
	 * Tclunk follows it */
	for (i = 0; i < 500 && atomic_load(&x.fs.dir_clunks) == 0; i++) {
		assert_int_equal(uvfs_statfs(x.c, "/m", &sv), 0);
		usleep(10 * 1000);
	}
	assert_int_equal(atomic_load(&x.fs.clunk_busy), 0);
	assert_int_equal(atomic_load(&x.fs.dir_clunks), 1);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A Twalk flushed after its deadline whose Rwalk still came before the
 * Rflush: the walk happened, the lookup succeeds with the fid it made,
 * and that fid is clunked like any other (here at unmount). */
static void test_late_walk_clunked(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=300"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/lw", &st), 0);
	assert_int_equal(atomic_load(&x.fs.flushes), 1);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	/* a normal unmount waits for the Rclunks (bounded) */
	assert_int_equal(atomic_load(&x.fs.lw_clunks), 1);
	fx_done(&x);
}

struct statarg {
	struct uvfs *u;
	const char *path;
	int r;
	off_t size;
};

static void *stat_thread(void *arg)
{
	struct statarg *a = arg;
	struct uvfs_ctx *c;
	struct stat st;

	assert_int_equal(uvfs_ctx_new(a->u, NULL, &c), 0);
	a->r = uvfs_stat(c, a->path, &st);
	if (a->r == 0)
		a->size = st.st_size;
	uvfs_ctx_free(c);
	return NULL;
}

static void test_out_of_order(void **state)
{
	struct fx x = { 0 };
	struct statarg a = { .path = "/m/o1" }, b = { .path = "/m/o2" };
	pthread_t ta, tb;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	a.u = b.u = x.u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	for (int i = 0; i < 1000 && !atomic_load(&x.fs.held); i++)
		usleep(10 * 1000); /* until o1's Tgetattr is held */
	assert_int_equal(atomic_load(&x.fs.held), 1);
	assert_int_equal(pthread_create(&tb, NULL, stat_thread, &b), 0);
	pthread_join(tb, NULL);
	pthread_join(ta, NULL);
	assert_int_equal(a.r, 0);
	assert_int_equal(a.size, 700);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.size, 800);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

struct loop_arg {
	struct uvfs *u;
	int n, fails;
	bool late;      /* stat "fl" (one thread): must time out */
	char first[64]; /* what the first failure was, for the report */
};

static void loop_fail(struct loop_arg *a, int i, const char *what, long r)
{
	if (a->fails++ == 0)
		snprintf(a->first, sizeof(a->first), "round %d: %s gave %ld",
			 i, what, r);
}

static void *loop_thread(void *arg)
{
	struct loop_arg *a = arg;
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];

	assert_int_equal(uvfs_ctx_new(a->u, NULL, &c), 0);
	for (int i = 0; i < a->n; i++) {
		int r;

		if (a->late) {
			r = uvfs_stat(c, "/m/fl", &st);
			if (r != -ETIMEDOUT)
				loop_fail(a, i, "stat fl", r);
			continue;
		}
		r = uvfs_stat(c, "/m/f", &st);
		if (r != 0 || st.st_size != 200)
			loop_fail(a, i, "stat f (or its size)",
				  r ? r : (long)st.st_size);
		int fd = uvfs_open(c, "/m/f", O_RDONLY, 0);
		if (fd < 0) {
			loop_fail(a, i, "open", fd);
			continue;
		}
		ssize_t n = uvfs_pread(c, fd, buf, 5, 7);
		if (n != 2 || memcmp(buf, "9p", 2) != 0)
			loop_fail(a, i, "pread", (long)n);
		uvfs_close(c, fd);
	}
	uvfs_ctx_free(c);
	return NULL;
}

/* Many callers at once, one of them timing out again and again: every
 * other request succeeds, with its own reply.  (A deadline covers a whole
 * call, walk and open together: 1 s, 5 s under ThreadSanitizer, so that a
 * busy host does not make the others' calls miss it.) */
static void test_parallel(void **state)
{
	struct fx x = { 0 };
	struct loop_arg a[9];
	pthread_t t[9];
	char opts[32];

	(void)state;
	snprintf(opts, sizeof(opts), "timeout=%ld", test_bound_ms(1000));
	assert_int_equal(fx_mount(&x, opts), 0);
	for (int i = 0; i < 9; i++) {
		a[i] = (struct loop_arg){ .u = x.u, .n = i == 8 ? 2 : 150,
					  .late = i == 8 };
		assert_int_equal(pthread_create(&t[i], NULL, loop_thread,
						&a[i]), 0);
	}
	int fails = 0;
	for (int i = 0; i < 9; i++) {
		pthread_join(t[i], NULL);
		if (a[i].fails) {
			printf("parallel: thread %d: %d failed, first %s\n",
			       i, a[i].fails, a[i].first);
			fails += a[i].fails;
		}
	}
	for (int i = 0; i < 500 && atomic_load(&x.fs.flushes) < 2; i++)
		usleep(10 * 1000);      /* the server reads them on its own */
	int flushes = atomic_load(&x.fs.flushes);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
	assert_int_equal(fails, 0);
	assert_int_equal(flushes, 2);
}

static void test_serial(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "serial,timeout=2000,msize=4096"), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/bad", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_oversized(void **state)
{
	struct fx x = { 0 };
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	/* framing lost: the whole connection fails, fast, and stays up */
	assert_int_equal(uvfs_stat(x.c, "/m/big", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/", &st), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* A hung server and a normal unmount: the request times out, the unmount
 * waits for the clunks' replies a bounded time only. */
static void test_hang_normal_umount(void **state)
{
	struct fx x = { 0 };
	struct timespec t0;
	struct stat st;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=500"), 0);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(x.c, "/m/hang", &st), -ETIMEDOUT);
	/* its Tflush unanswered too: the link was cut (fd: cannot be
	 * connected again): the next call fails at once */
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_true(ms_since(&t1) < test_bound_ms(200));
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	assert_true(ms_since(&t0) < 4000);
	fx_done(&x);
}

/* A read of two pieces whose second fails fails whole: a short count
 * would read as the end of the file. */
static void test_read_whole(void **state)
{
	struct fx x = { 0 };
	static char buf[16384];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/rw", O_RDONLY, 0);
	assert_true(fd >= 0);
	/* one piece: whole */
	assert_int_equal(uvfs_pread(x.c, fd, buf, 4096, 0), 4096);
	/* two pieces, the second fails: the whole read fails */
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* Writes behind (wbwindow=, docs/9p-client.md, "Bulk I/O"): a write is
 * accepted at once; one whose Twrite fails ("wf": ENOSPC from offset 8192
 * on) is reported at the next fsync or write, once, and never lost; a
 * handle opened O_SYNC, or wbwindow=0, waits for its writes and gets the
 * error itself; the default writes behind and the close gets it. */
static void test_write_behind_error(void **state)
{
	struct fx x = { 0 };
	static char buf[4096];
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000,wbwindow=65536"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	/* behind: accepted, fails on the server */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), -ENOSPC);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);       /* reported once */
	/* the next write reports it (the failed one has been answered by
	 * then: fsync waits for it) */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 12288), 4096);
	for (int i = 0; i < 200; i++) {
		ssize_t w = uvfs_pwrite(x.c, fd, buf, 10, 0);
		if (w == -ENOSPC)
			break;
		assert_int_equal(w, 10);
		assert_true(i < 199);   /* reported within 2 s */
		usleep(10 * 1000);
	}
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	/* a close waits for the writes behind, and reports their error */
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_close(x.c, fd), -ENOSPC);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	/* O_SYNC: waited for, the error is the write's own */
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY | O_SYNC, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), -ENOSPC);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 0), 4096);
	assert_int_equal(uvfs_fsync(x.c, fd), 0);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);

	/* wbwindow=0: every write waits, its error is its own */
	assert_int_equal(fx_mount(&x, "timeout=2000,wbwindow=0"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), -ENOSPC);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);

	/* the default writes behind (write-back, as Linux's v9fs and NFS):
	 * accepted, and the error reaches the close */
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	fd = uvfs_open(x.c, "/m/wf", O_WRONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(x.c, fd, buf, 4096, 8192), 4096);
	assert_int_equal(uvfs_close(x.c, fd), -ENOSPC);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* One call's deadline covers all its requests: a read of eight pieces
 * (all sent at once) from a server that answers one at a time, 300 ms
 * each, with timeout=500, fails with -ETIMEDOUT by the deadline plus the
 * flush grace (the pieces still unanswered then are cut), where a fresh
 * deadline per piece would take 2.4 s and succeed. */
static void test_call_deadline(void **state)
{
	struct fx x = { 0 };
	static char buf[8 * 8000];
	struct timespec t0;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=500,msize=8192"), 0);
	fd = uvfs_open(x.c, "/m/slow", O_RDONLY, 0);
	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_pread(x.c, fd, buf, sizeof(buf), 0),
			 -ETIMEDOUT);
	long ms = ms_since(&t0);
	printf("call_deadline: %ld ms\n", ms);
	assert_true(ms >= 450);
	assert_true(ms < test_bound_ms(500 + 500 + 1000)); /* grace, slack */
	uvfs_close(x.c, fd);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	fx_done(&x);
}

static void test_server_hangs_up(void **state)
{
	struct fx x = { 0 };
	struct stat st;
	struct statvfs sv;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=5000"), 0);
	assert_int_equal(uvfs_statfs(x.c, "/m", &sv), 0);
	assert_int_equal(sv.f_namemax, 255);
	assert_int_equal(uvfs_stat(x.c, "/m/bye", &st), -EIO);
	assert_int_equal(uvfs_stat(x.c, "/m/f", &st), -EIO);
	assert_int_equal(uvfs_statfs(x.c, "/m", &sv), -EIO);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

static void test_bad_options(void **state)
{
	struct fx x = { 0 };

	(void)state;
	assert_int_equal(fx_mount(&x, "nosuchoption"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "fd:nope", "/m", ""), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "carrier-pigeon:x", "/m", ""),
			 -EINVAL);
	/* the reconnect's options: numbers; noreconnect is 9p's alone */
	assert_int_equal(uvfs_mount(x.c, "9p", "unix:/nonexistent", "/m",
				    "restarts=many"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "9p", "unix:/nonexistent", "/m",
				    "window=0"), -EINVAL);
	assert_int_equal(uvfs_mount(x.c, "hostfs", "/tmp", "/m",
				    "noreconnect"), -EINVAL);
	fx_done(&x);
}

static void test_hang_force(void **state)
{
	struct fx x = { 0 };
	struct statarg a = { .path = "/m/hang" };
	struct timespec t0;
	struct stat st;
	pthread_t ta;
	int fd;

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=60000,deadline=500"), 0);
	fd = uvfs_open(x.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	a.u = x.u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	for (int i = 0; i < 1000 && !atomic_load(&x.fs.hung); i++)
		usleep(10 * 1000); /* the server hangs; the caller is blocked */
	assert_int_equal(atomic_load(&x.fs.hung), 1);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), -EBUSY);
	assert_int_equal(uvfs_umount(x.c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(ta, NULL);
	assert_true(ms_since(&t0) < 2000);
	assert_int_equal(a.r, -EIO);
	/* the dangling file is dead; close works */
	char buf[8];
	assert_int_equal(uvfs_read(x.c, fd, buf, sizeof(buf)), -EIO);
	assert_int_equal(uvfs_close(x.c, fd), 0);
	assert_int_equal(uvfs_settle(x.u, 5000), 0);
	assert_true(ms_since(&t0) < 5000);
	assert_int_equal(uvfs_stat(x.c, "/m", &st), 0);
	fx_done(&x);
}

/*
 * A real server that stops: with UVFS_9P_SOURCE, UVFS_9P_OPTS and
 * UVFS_9P_PID set (tests/conformance-diod.sh does, for diod), the server
 * process is SIGSTOPped with a caller blocked in it and an open file; a
 * forced unmount must return within its deadline and the caller get -EIO.
 */
static void test_real_server_stopped(void **state)
{
	const char *src = getenv("UVFS_9P_SOURCE");
	const char *opts = getenv("UVFS_9P_OPTS");
	const char *pids = getenv("UVFS_9P_PID");
	struct statarg a = { .path = "/m/probe" };
	struct uvfs *u;
	struct uvfs_ctx *c;
	char o[1024];
	struct timespec t0;
	pthread_t ta;
	pid_t pid;
	int fd;

	(void)state;
	if (!src || !pids) {
		skip();
		return;
	}
	pid = (pid_t)atoi(pids);
	snprintf(o, sizeof(o), "%s%stimeout=60000,deadline=500",
		 opts ? opts : "", opts && *opts ? "," : "");
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(c, "9p", src, "/m", o), 0);
	fd = uvfs_open(c, "/m/probe", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(c, fd, "x", 1), 1);
	/* on the server (it was written behind): the close after the
	 * forced unmount has nothing lost to report */
	assert_int_equal(uvfs_fsync(c, fd), 0);

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_true(proc_wait_stopped(pid));
	a.u = u;
	assert_int_equal(pthread_create(&ta, NULL, stat_thread, &a), 0);
	usleep(300 * 1000);     /* the caller is blocked in the server */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(ta, NULL);
	long ms = ms_since(&t0);
	kill(pid, SIGCONT);
	assert_true(ms < 2000);
	assert_int_equal(a.r, -EIO);
	assert_int_equal(uvfs_close(c, fd), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
}

/* ---- extended attributes ------------------------------------------------ */

/* The wire side: sizes, short values, a commit's error, the empty value. */
static void test_xattr_wire(void **state)
{
	struct fx x = { 0 };
	char buf[64];

	(void)state;
	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", NULL, 0), 9);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", buf,
				       sizeof(buf)), 9);
	assert_memory_equal(buf, "hello, 9p", 9);
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.a", buf, 4),
			 -ERANGE);
	/* fewer bytes than Rxattrwalk announced: not a truncated value */
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.short", buf,
				       sizeof(buf)), -EIO);
	/* more than any value may be */
	assert_int_equal(uvfs_getxattr(x.c, "/m/f", "user.huge", NULL, 0),
			 -E2BIG);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.ok", "v", 1, 0), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 1);
	/* the commit's error is the Tclunk's */
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.fail", "v", 1, 0),
			 -EDQUOT);
	assert_int_equal(uvfs_removexattr(x.c, "/m/f", "user.ok"), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 2);
	/* 9P2000.L cannot carry an empty value (size 0 removes) */
	int before = atomic_load(&x.fs.xattr_msgs);
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.e", "", 0, 0),
			 -EOPNOTSUPP);
	assert_int_equal(atomic_load(&x.fs.xattr_msgs), before);
	/* a value in several Twrites (msize 8192) */
	static char big[20000];
	memset(big, 'z', sizeof(big));
	assert_int_equal(uvfs_setxattr(x.c, "/m/f", "user.big", big,
				       sizeof(big), 0), 0);
	assert_int_equal(atomic_load(&x.fs.commits), 3);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

/* Whether name is in list[0..n). */
static bool in_list(const char *list, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return true;
	return false;
}

/*
 * The body for a real server mounted at /m, exporting host directory
 * exp.  diod: what diod does differently (see docs/9p-client.md).
 */
static void xattr_body(struct uvfs_ctx *c, const char *exp)
{
	static char big[60000], got[65536];
	char buf[256], list[4096], hp[512];
	ssize_t n;
	int fd;

	fd = uvfs_open(c, "/m/xf", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_mkdir(c, "/m/xd", 0755), 0);
	assert_int_equal(uvfs_symlink(c, "xf", "/m/xl"), 0);

	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), -ENODATA);
	n = uvfs_listxattr(c, "/m/xf", list, sizeof(list));
	assert_true(n >= 0);
	assert_false(in_list(list, n, "user.a"));

	/* set, get, sizes; the host file has it */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "hello", 5, 0),
			 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", NULL, 0), 5);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf, 3),
			 -ERANGE);
	snprintf(hp, sizeof(hp), "%s/xf", exp);
	assert_int_equal(getxattr(hp, "user.a", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	/* flags */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "x", 1,
				       XATTR_CREATE), -EEXIST);
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.b", "x", 1,
				       XATTR_REPLACE), -ENODATA);
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.a", "world!", 6,
				       XATTR_REPLACE), 0);
	assert_int_equal(uvfs_fgetxattr(c, fd, "user.a", buf, sizeof(buf)),
			 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(uvfs_fsetxattr(c, fd, "user.b", "B", 1,
					XATTR_CREATE), 0);

	/* list: the size, then the names */
	n = uvfs_listxattr(c, "/m/xf", NULL, 0);
	assert_true(n >= 14);
	assert_int_equal(uvfs_listxattr(c, "/m/xf", list, (size_t)n), n);
	assert_true(in_list(list, n, "user.a"));
	assert_true(in_list(list, n, "user.b"));
	assert_int_equal(uvfs_listxattr(c, "/m/xf", list, 3), -ERANGE);

	/* a value larger than a message (many Twrites and Treads) where
	 * the host takes one (tmpfs; ext4 keeps a value in one block) */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	size_t bsz = setxattr(hp, "user.probe", big, sizeof(big), 0) == 0
		     ? sizeof(big) : 4000;
	removexattr(hp, "user.probe");
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.big", big, bsz, 0),
			 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.big", got,
				       sizeof(got)), (ssize_t)bsz);
	assert_memory_equal(got, big, bsz);
	assert_int_equal(getxattr(hp, "user.big", got, sizeof(got)),
			 (ssize_t)bsz);
	assert_memory_equal(got, big, bsz);

	/* directories; through a symlink (followed) */
	assert_int_equal(uvfs_setxattr(c, "/m/xd", "user.d", "dd", 2, 0), 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xd", "user.d", buf,
				       sizeof(buf)), 2);
	assert_int_equal(uvfs_getxattr(c, "/m/xl", "user.b", buf,
				       sizeof(buf)), 1);
	assert_int_equal(uvfs_lgetxattr(c, "/m/xl", "user.b", buf,
					sizeof(buf)), -ENODATA);

	/* remove */
	assert_int_equal(uvfs_removexattr(c, "/m/xf", "user.a"), 0);
	assert_int_equal(uvfs_getxattr(c, "/m/xf", "user.a", buf,
				       sizeof(buf)), -ENODATA);
	assert_int_equal(uvfs_removexattr(c, "/m/xf", "user.a"), -ENODATA);
	assert_int_equal(getxattr(hp, "user.a", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	/* an empty value cannot be sent (a zero-size create removes) */
	assert_int_equal(uvfs_setxattr(c, "/m/xf", "user.e", "", 0, 0),
			 -EOPNOTSUPP);

	/* trusted. on the symlink itself (root): the target is untouched */
	if (geteuid() == 0) {
		char hl[512];
		assert_int_equal(uvfs_lsetxattr(c, "/m/xl", "trusted.t", "L",
						1, 0), 0);
		assert_int_equal(uvfs_lgetxattr(c, "/m/xl", "trusted.t", buf,
						sizeof(buf)), 1);
		assert_int_equal(uvfs_getxattr(c, "/m/xl", "trusted.t", buf,
					       sizeof(buf)), -ENODATA);
		snprintf(hl, sizeof(hl), "%s/xl", exp);
		assert_int_equal(lgetxattr(hl, "trusted.t", buf, sizeof(buf)),
				 1);
		assert_int_equal(getxattr(hp, "trusted.t", buf, sizeof(buf)),
				 -1);
		n = uvfs_llistxattr(c, "/m/xl", list, sizeof(list));
		assert_true(n > 0 && in_list(list, n, "trusted.t"));
		assert_int_equal(uvfs_lremovexattr(c, "/m/xl", "trusted.t"),
				 0);
	}
	assert_int_equal(uvfs_close(c, fd), 0);
	assert_int_equal(uvfs_unlink(c, "/m/xl"), 0);
	assert_int_equal(uvfs_unlink(c, "/m/xf"), 0);
	assert_int_equal(uvfs_rmdir(c, "/m/xd"), 0);
}

/* Type "hostfs" (uvfs-hostfs spawned: UVFS_HOSTFS), also across a
 * restart: a read of an xattr after the server was killed works. */
static void test_xattr_hostfs(void **state)
{
	const char *srv = getenv("UVFS_HOSTFS");
	/* tmpfs if there is one: values up to 64 KiB */
	char tmp[64], exp[80], o[512], buf[16];
	struct uvfs *u;
	struct uvfs_ctx *c;
	int fd;

	(void)state;
	if (!srv || access(srv, X_OK) != 0 || getenv("UVFS_9P_SOURCE")) {
		skip();
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/uvfs-9pxattr.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(tmp));
	snprintf(exp, sizeof(exp), "%s/export", tmp);
	assert_int_equal(mkdir(exp, 0777), 0);
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	snprintf(o, sizeof(o), "server=%s,timeout=5000,msize=8192", srv);
	assert_int_equal(uvfs_mount(c, "hostfs", exp, "/m", o), 0);
	xattr_body(c, exp);

	fd = uvfs_open(c, "/m/k", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fsetxattr(c, fd, "user.k", "kept", 4, 0), 0);
	pid_t pid = uvfs_9p_server_pid(u, "/m");
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(uvfs_fgetxattr(c, fd, "user.k", buf, sizeof(buf)),
			 4);
	assert_memory_equal(buf, "kept", 4);
	assert_true(uvfs_9p_server_pid(u, "/m") != pid);
	assert_int_equal(uvfs_close(c, fd), 0);

	assert_int_equal(uvfs_umount(c, "/m", 0), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

/* diod (tests/conformance-diod.sh sets UVFS_9P_SOURCE, UVFS_9P_OPTS). */
static void test_xattr_diod(void **state)
{
	const char *src = getenv("UVFS_9P_SOURCE");
	const char *opts = getenv("UVFS_9P_OPTS");
	const char *an = opts ? strstr(opts, "aname=") : NULL;
	char exp[256], o[1024];
	struct uvfs *u;
	struct uvfs_ctx *c;

	(void)state;
	if (!src || !an) {
		skip();
		return;
	}
	snprintf(exp, sizeof(exp), "%s", an + 6);
	exp[strcspn(exp, ",")] = '\0';
	snprintf(o, sizeof(o), "%s,timeout=5000", opts);
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(c, "9p", src, "/m", o), 0);
	xattr_body(c, exp);
	assert_int_equal(uvfs_umount(c, "/m", 0), 0);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_deadline_flush),
		cmocka_unit_test(test_write_behind_error),
		cmocka_unit_test(test_late_walk_clunked),
		cmocka_unit_test(test_readdir_ahead_clunk),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_hang_normal_umount),
		cmocka_unit_test(test_read_whole),
		cmocka_unit_test(test_call_deadline),
		cmocka_unit_test(test_server_hangs_up),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_hang_force),
		cmocka_unit_test(test_xattr_wire),
		cmocka_unit_test(test_xattr_hostfs),
		cmocka_unit_test(test_xattr_diod),
		/* last: diod, continued after it, writes the reply of the
		 * request it was stopped in to a closed socket (it runs with
		 * SIGPIPE ignored: tests/conformance-diod.sh) */
		cmocka_unit_test(test_real_server_stopped),
	};

	/* the fake server writes to links the client cut */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

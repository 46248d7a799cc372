/*
 * test_9psession.c - the 9P client driver's session: fencing at the
 * transport (an aborted TCP link delivers nothing queued; a forced
 * unmount over tcp), and a "9p" mount that reconnects to the fake server
 * of p9fake.c listening on a Unix socket, serving one connection after
 * another (docs/recovery.md): there "bye" hangs up once (the mount
 * reconnects, the lost Tgetattr is replayed, the open file is reopened),
 * and "big" (a protocol violation) makes the mount dead without a
 * reconnect; fail-fast and hard while the server is unreachable.
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


/* ---- fencing at the transport ------------------------------------------ */

/* rt_link_abort on a TCP link with bytes queued that the peer has not
 * taken (its receive window is full): the queue is dropped at once, and
 * the peer never gets more than what had reached it before the abort (a
 * graceful close would deliver the rest later: the write that "failed"
 * would land). */
static void test_abort_fences(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	static char buf[65536];
	struct rt_link l;
	char src[64];
	int small = 4096, ls, s, ev, outq = 0, inq = 0;
	size_t total = 0, got = 0;
	ssize_t n;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	assert_int_equal(setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	snprintf(src, sizeof(src), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	ev = eventfd(0, EFD_CLOEXEC);
	assert_true(ev >= 0);
	struct rt_tcp_opts to = { .user_timeout_ms = 2000,
				  .keepalive_ms = 1000 };
	assert_int_equal(rt_connect(src, 2000, ev, &to, &l), 0);
	assert_true(l.tcp);
	s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	/* the liveness options are set */
	unsigned ut = 0;
	int ka = 0;
	socklen_t ol = sizeof(ut);
	assert_int_equal(getsockopt(l.fd_w, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut,
				    &ol), 0);
	assert_int_equal(ut, 2000);
	ol = sizeof(ka);
	assert_int_equal(getsockopt(l.fd_w, SOL_SOCKET, SO_KEEPALIVE, &ka,
				    &ol), 0);
	assert_true(ka);
	/* fill the peer's window and our send queue */
	memset(buf, 'w', sizeof(buf));
	for (int idle = 0; idle < 20;) {
		n = rt_write_some(&l, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
			idle = 0;
		} else {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			idle++;
			usleep(5 * 1000);
		}
	}
	assert_int_equal(ioctl(l.fd_w, SIOCOUTQ, &outq), 0);
	assert_true(outq > 0);                  /* queued, not taken */
	assert_int_equal(ioctl(s, SIOCINQ, &inq), 0);
	rt_link_abort(&l);
	usleep(100 * 1000);
	/* the peer reads what it had; then the reset; never the rest */
	while ((n = read(s, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_true(n == 0 || errno == ECONNRESET);
	printf("abort: %zu written, %d queued, %d at the peer, %zu read\n",
	       total, outq, inq, got);
	assert_true(got <= (size_t)inq);
	assert_true(got < total);
	rt_link_close(&l);
	assert_int_equal(l.fd_r, -1);
	close(s);
	close(ls);
	close(ev);
}

/* The first case, in one process: a "9p" mount over tcp: whose
 * server stops reading in the middle of many writes (its receive window
 * full, the rest queued on our side), then a forced unmount.  The writers
 * are told EIO; the server, once it reads again, gets at most what had
 * reached its socket before the unmount: the queued Twrites were dropped
 * with the link (a graceful close would have delivered them).  Again with
 * the writes behind (the default): a writer still blocked when the
 * unmount comes (its Twrites waiting for the full link, or behind the
 * writes before them) is released with EIO, or with the count of the
 * bytes it had sent before it blocked, never as if it all went behind:
 * the writers are told no more than the link had taken (before, each was
 * told all: 8 MiB, with 0.5 to 4 MiB queued: a piece the kill ended
 * while it went out, or refused after it, was taken for one sent). */
#define FENCE_WRITERS 16

struct tcpfx {
	int ls;
	struct fake fs;
	pthread_t thr;
};

static void *tcp_server_main(void *arg)
{
	struct tcpfx *t = arg;
	int c = accept4(t->ls, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return NULL;
	t->fs.fd = c;
	fake_main(&t->fs);
	return NULL;
}

#define FENCE_MAX (512 << 10)     /* bytes per writer, at most */

struct wrarg {
	struct uvfs_ctx *c;
	int fd, i;
	long len;               /* bytes to write, at most FENCE_MAX */
	long r;
};

static void *fence_writer(void *arg)
{
	struct wrarg *a = arg;
	static char data[FENCE_WRITERS][FENCE_MAX];

	memset(data[a->i], 'a' + a->i, (size_t)a->len);
	a->r = uvfs_pwrite(a->c, a->fd, data[a->i], (size_t)a->len,
			   (off_t)a->i * a->len);
	return NULL;
}

/* The bytes queued (not yet taken by the peer) in the socket of this
 * process that the server's connection srv is connected to. */
static int client_outq(int srv)
{
	struct sockaddr_in peer, a;
	socklen_t pl = sizeof(peer);
	int q = -1;

	assert_int_equal(getpeername(srv, (struct sockaddr *)&peer, &pl), 0);
	for (int fd = 3; fd < 4096; fd++) {
		socklen_t al = sizeof(a);
		if (fd == srv ||
		    getsockname(fd, (struct sockaddr *)&a, &al) != 0 ||
		    al != pl || memcmp(&a, &peer, pl) != 0)
			continue;
		assert_int_equal(ioctl(fd, SIOCOUTQ, &q), 0);
		break;
	}
	assert_true(q >= 0);
	return q;
}

static void fence_forced_tcp(const char *opts, bool behind, long len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct tcpfx t = { 0 };
	struct wrarg w[FENCE_WRITERS];
	pthread_t wt[FENCE_WRITERS];
	struct uvfs *u;
	struct uvfs_ctx *c;
	char src[64];
	int small = 4096, inq = -1, outq = 0, fd;
	long told = 0;

	memset(fid_path, 0, sizeof(fid_path));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(t.ls >= 0);
	assert_int_equal(setsockopt(t.ls, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	assert_int_equal(bind(t.ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(t.ls, 1), 0);
	assert_int_equal(getsockname(t.ls, (struct sockaddr *)&sa, &sl), 0);
	snprintf(src, sizeof(src), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	t.fs.xw_fid = P9_NOFID;
	assert_int_equal(pthread_create(&t.thr, NULL, tcp_server_main, &t), 0);
	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	assert_int_equal(uvfs_mount(c, "9p", src, "/m", opts), 0);
	fd = uvfs_open(c, "/m/f", O_RDWR, 0);
	assert_true(fd >= 0);
	atomic_store(&t.fs.stall, true);
	for (int i = 0; i < FENCE_WRITERS; i++) {
		w[i] = (struct wrarg){ .c = c, .fd = fd, .i = i, .len = len };
		assert_int_equal(pthread_create(&wt[i], NULL, fence_writer,
						&w[i]), 0);
	}
	for (int i = 0; i < 500 && !atomic_load(&t.fs.stalled); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&t.fs.stalled));
	usleep(300 * 1000);     /* the writes pile up behind the full window */
	if (behind)
		outq = client_outq(t.fs.fd);    /* what the link took */
	assert_int_equal(uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE), 0);
	for (int i = 0; i < FENCE_WRITERS; i++) {
		pthread_join(wt[i], NULL);
		if (!behind) {
			assert_int_equal(w[i].r, -EIO);
			continue;
		}
		assert_true(w[i].r == -EIO || (w[i].r >= 0 && w[i].r <= len));
		if (w[i].r > 0)
			told += w[i].r;
	}
	/* what reached the server's socket before the cut */
	assert_int_equal(ioctl(t.fs.fd, SIOCINQ, &inq), 0);
	atomic_store(&t.fs.stall, false);       /* it reads again */
	pthread_join(t.thr, NULL);
	long after = atomic_load(&t.fs.rx_after);
	printf("fence_forced_tcp: %d bytes at the server at the cut, %ld read "
	       "after it\n", inq, after);
	/* nothing arrives later: the queued Twrites (about 120 KiB here
	 * when the link is closed gracefully) were dropped with the link */
	assert_true(after <= inq);
	if (behind) {
		/* the writers were told written what the link had taken
		 * (queued on our side, or at the server: one Twrite of up
		 * to msize read before it stalled), no more */
		printf("fence_forced_tcp, behind: writers told %ld bytes "
		       "written; %d queued here at the unmount\n", told, outq);
		assert_true(told <= (long)outq + inq + 8192);
	}
	uvfs_close(c, fd);
	assert_int_equal(uvfs_settle(u, 5000), 0);
	uvfs_ctx_free(c);
	uvfs_free(u);
	close(t.fs.fd);
	close(t.ls);
}

/* writes waited for (wbwindow=0): each writer is told the outcome of its
 * own write */
static void test_fence_forced_tcp(void **state)
{
	(void)state;
	fence_forced_tcp("timeout=60000,msize=8192,wbwindow=0", false, 65536);
}

/* writes behind: accepted at once while the link takes them, their
 * failure told later (docs/9p-client.md); one blocked is told now.  8 MiB
 * in all: more than a socket's send buffer takes (4 MiB at most here) */
static void test_fence_forced_tcp_behind(void **state)
{
	(void)state;
	fence_forced_tcp("timeout=60000,msize=8192", true, FENCE_MAX);
}

/* ---- a "9p" mount that reconnects: the fake server on a Unix socket ---- */

struct lfx {
	struct uvfs *u;
	struct uvfs_ctx *c;
	char dir[64], path[96], src[128];
	int lfd;
	pthread_t thr;
	atomic_bool stop;
	atomic_int accepted;    /* connections the server took */
	atomic_int cur;         /* the one it serves, or -1 */
	atomic_bool silent;     /* new connections get no answer */
	struct fake fs;         /* the listener thread's */
};

/* Serves one connection after another until stop. */
static void *listener_main(void *arg)
{
	struct lfx *l = arg;

	while (!atomic_load(&l->stop)) {
		struct pollfd p = { .fd = l->lfd, .events = POLLIN };
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		atomic_fetch_add(&l->accepted, 1);
		atomic_store(&l->cur, c);
		l->fs.fd = c;
		l->fs.xw_fid = P9_NOFID;
		l->fs.have_held = false;
		l->fs.bye_once = true;
		atomic_store(&l->fs.hung, atomic_load(&l->silent));
		fake_main(&l->fs);
		atomic_store(&l->cur, -1);
		close(c);
	}
	return NULL;
}

static int lfx_mount(struct lfx *l, const char *opts)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(fid_path, 0, sizeof(fid_path));
	fake_reset();
	atomic_store(&bye_done, false);
	snprintf(l->dir, sizeof(l->dir), "/tmp/uvfs-9pl.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->path, sizeof(l->path), "%s/sock", l->dir);
	snprintf(l->src, sizeof(l->src), "unix:%s", l->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l->lfd >= 0);
	assert_int_equal(bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l->lfd, 8), 0);
	atomic_init(&l->stop, false);
	atomic_init(&l->accepted, 0);
	atomic_init(&l->cur, -1);
	atomic_init(&l->silent, false);
	assert_int_equal(pthread_create(&l->thr, NULL, listener_main, l), 0);
	assert_int_equal(uvfs_new(NULL, &l->u), 0);
	assert_int_equal(uvfs_9p_register(l->u), 0);
	assert_int_equal(uvfs_ctx_new(l->u, NULL, &l->c), 0);
	assert_int_equal(uvfs_mkdir(l->c, "/m", 0755), 0);
	return uvfs_mount(l->c, "9p", l->src, "/m", opts);
}

static void lfx_done(struct lfx *l)
{
	uvfs_umount(l->c, "/m", UVFS_UMOUNT_FORCE);
	assert_int_equal(uvfs_settle(l->u, 5000), 0);
	uvfs_ctx_free(l->c);
	uvfs_free(l->u);
	atomic_store(&l->stop, true);
	int c = atomic_load(&l->cur);
	if (c >= 0)
		shutdown(c, SHUT_RDWR);
	pthread_join(l->thr, NULL);
	close(l->lfd);
	unlink(l->path);
	rmdir(l->dir);
}

/* The server hangs up in the middle of a Tgetattr: the mount connects
 * again, the Tgetattr is replayed and answered, the open file reads on. */
static void test_reconnect_hangup(void **state)
{
	struct lfx l = { 0 };
	struct uvfs_9p_server_info si;
	struct stat st;
	char buf[16];
	int fd;

	(void)state;
	assert_int_equal(lfx_mount(&l, "timeout=5000"), 0);
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), 0);
	assert_int_equal(si.pid, 0);
	assert_true(si.connected);
	assert_int_equal(si.losses, 0);
	fd = uvfs_open(l.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_stat(l.c, "/m/bye", &st), 0);
	assert_int_equal(st.st_size, 1400);
	assert_int_equal(uvfs_pread(l.c, fd, buf, 5, 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), 0);
	assert_true(si.connected);
	assert_false(si.dead);
	assert_int_equal(si.losses, 1);
	assert_int_equal(si.restarts, 1);
	assert_true(si.replays >= 1);
	assert_int_equal(si.stale_fids, 0);
	assert_int_equal(atomic_load(&l.accepted), 2);
	assert_int_equal(uvfs_close(l.c, fd), 0);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);
}

/*
 * A revoked file's write behind whose Twrite the session loses after the
 * revoke (the server holds it unanswered, then the connection breaks) is
 * not sent again when the mount connects again: the revoke dropped it
 * (docs/9p-client.md, "Bulk I/O", a revoke).  Before, the write-behind
 * job replayed it on the new session, after the revoke: the dead file's
 * data reached the server (2 Twrites here).
 */
static void test_revoke_no_replay(void **state)
{
	struct lfx l = { 0 };
	static char buf[4096];
	struct stat st;
	int fd, n;

	(void)state;
	assert_int_equal(lfx_mount(&l, "timeout=5000"), 0);
	fd = uvfs_open(l.c, "/m/f", O_WRONLY, 0);
	assert_true(fd >= 0);
	atomic_store(&l.fs.hold_writes, true);
	assert_int_equal(uvfs_pwrite(l.c, fd, buf, sizeof(buf), 0),
			 (ssize_t)sizeof(buf));          /* behind */
	for (int i = 0; i < 500 && atomic_load(&l.fs.twrites) < 1; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&l.fs.twrites), 1);
	assert_int_equal(uvfs_revoke(l.c, "/m/f"), 0);
	n = atomic_load(&l.fs.twrites);
	atomic_store(&l.fs.hold_writes, false);
	/* the connection breaks with the Twrite out; the mount connects
	 * again, and nothing of the dead file follows */
	int c = atomic_load(&l.cur);
	assert_true(c >= 0);
	shutdown(c, SHUT_RDWR);
	for (int i = 0; i < 500 && atomic_load(&l.accepted) < 2; i++)
		usleep(10 * 1000);
	assert_int_equal(uvfs_stat(l.c, "/m/n1", &st), 0);
	for (int i = 0; i < 100 && atomic_load(&l.fs.twrites) == n; i++)
		usleep(10 * 1000);
	if (atomic_load(&l.fs.twrites) != n)
		fail_msg("%d Twrites after the revoke",
			 atomic_load(&l.fs.twrites) - n);
	assert_int_equal(atomic_load(&l.accepted), 2);
	assert_int_equal(uvfs_close(l.c, fd), -EIO);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);
}

/* An O_EXCL create whose reply was lost (the server made the file, then
 * hung up): its outcome is unknown, and the caller is told so (-EIO),
 * not -EEXIST from the file the create itself made (the lookup that
 * orders a refused create's errors must not run: no verifier tells this
 * create's file from another's). */
static void test_create_reply_lost(void **state)
{
	struct lfx l = { 0 };
	struct stat st;

	(void)state;
	atomic_store(&lostc_made, false);
	assert_int_equal(lfx_mount(&l, "timeout=5000"), 0);
	assert_int_equal(uvfs_open(l.c, "/m/lostc", O_CREAT | O_EXCL |
				   O_WRONLY, 0644), -EIO);
	assert_true(atomic_load(&lostc_made));
	/* the mount connected again: the file is there */
	assert_int_equal(uvfs_stat(l.c, "/m/lostc", &st), 0);
	assert_int_equal(atomic_load(&l.accepted), 2);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);
}

/* The server goes silent (it answers nothing, on this connection and on
 * the new ones): the first call fails at its deadline, the session turns
 * "unreachable", later calls fail at once (soft), the counters say so;
 * once the server answers again the mount is back within a second. */
static void test_unreachable_failfast(void **state)
{
	struct lfx l = { 0 };
	struct uvfs_9p_server_info si;
	struct timespec t0;
	struct stat st;
	char buf[16];
	int fd;

	(void)state;
	/* actimeo=0: every stat asks the server (a name and attributes
	 * kept would answer the first stat without it) */
	assert_int_equal(lfx_mount(&l, "timeout=300,actimeo=0"), 0);
	fd = uvfs_open(l.c, "/m/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	atomic_store(&l.silent, true);
	atomic_store(&l.fs.hung, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -ETIMEDOUT);
	assert_true(ms_since(&t0) < test_bound_ms(300 + 500 + 1000));
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), 0);
	assert_string_equal(si.state, "unreachable");
	assert_true(si.unreachable >= 1);
	assert_true(si.timeouts >= 1);
	assert_true(si.last_loss > 0);
	assert_false(si.connected);
	for (int i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(uvfs_pread(l.c, fd, buf, 5, 0), -EIO);
		assert_true(ms_since(&t0) < test_bound_ms(100)); /* at once */
	}
	/* the network heals */
	atomic_store(&l.silent, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r;
	while ((r = uvfs_pread(l.c, fd, buf, 5, 0)) != 5 &&
	       ms_since(&t0) < 5000)
		usleep(10 * 1000);
	long back = ms_since(&t0);
	assert_int_equal(r, 5);
	assert_memory_equal(buf, "hello", 5);
	printf("unreachable: back %ld ms after the heal\n", back);
	/* within a second of the heal (one attempt may be under way) */
	assert_true(back < test_bound_ms(1000 + 300));
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), 0);
	assert_string_equal(si.state, "running");
	assert_int_equal(uvfs_close(l.c, fd), 0);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);
}

struct preadarg {
	struct uvfs_ctx *c;
	int fd;
	long r;
	long ms;
};

static void *pread_thread(void *arg)
{
	struct preadarg *a = arg;
	char buf[16];
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->r = uvfs_pread(a->c, a->fd, buf, 5, 0);
	a->ms = ms_since(&t0);
	return NULL;
}

/* hard: while unreachable a call waits (no fail-fast) until the server
 * is back; a forced unmount ends such a wait. */
static void test_hard_waits(void **state)
{
	struct lfx l = { 0 };
	struct preadarg a = { 0 };
	struct stat st;
	pthread_t t;

	(void)state;
	assert_int_equal(lfx_mount(&l, "timeout=300,hard,actimeo=0"), 0);
	a.c = l.c;
	a.fd = uvfs_open(l.c, "/m/f", O_RDONLY, 0);
	assert_true(a.fd >= 0);
	atomic_store(&l.silent, true);
	atomic_store(&l.fs.hung, 1);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -ETIMEDOUT);
	assert_int_equal(pthread_create(&t, NULL, pread_thread, &a), 0);
	usleep(800 * 1000);     /* it waits, past its deadline */
	atomic_store(&l.silent, false);
	pthread_join(t, NULL);
	assert_int_equal(a.r, 5);
	assert_true(a.ms >= 700);
	/* again, ended by a forced unmount */
	atomic_store(&l.silent, true);
	atomic_store(&l.fs.hung, 1);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -ETIMEDOUT);
	assert_int_equal(pthread_create(&t, NULL, pread_thread, &a), 0);
	usleep(300 * 1000);
	assert_int_equal(uvfs_umount(l.c, "/m", UVFS_UMOUNT_FORCE), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.r, -EIO);
	uvfs_close(l.c, a.fd);
	atomic_store(&l.silent, false);
	lfx_done(&l);
}

/* A protocol violation (a frame over msize) is not a reason to reconnect:
 * the mount is dead at once, and nothing connects again. */
static void test_reconnect_violation(void **state)
{
	struct lfx l = { 0 };
	struct uvfs_9p_server_info si;
	struct stat st;

	(void)state;
	assert_int_equal(lfx_mount(&l, "timeout=2000"), 0);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), 0);
	assert_int_equal(uvfs_stat(l.c, "/m/big", &st), -EIO);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -EIO);
	usleep(100 * 1000);     /* time for a reconnect, were there one */
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), 0);
	assert_true(si.dead);
	assert_false(si.recovering);
	assert_int_equal(si.restarts, 0);
	assert_int_equal(atomic_load(&l.accepted), 1);
	assert_int_equal(uvfs_stat(l.c, "/", &st), 0);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);
}

/* noreconnect, and an fd: source: the old behaviour (the connection stays
 * lost), and no server to report. */
static void test_noreconnect(void **state)
{
	struct lfx l = { 0 };
	struct fx x = { 0 };
	struct uvfs_9p_server_info si;
	struct stat st;

	(void)state;
	assert_int_equal(lfx_mount(&l, "timeout=2000,noreconnect"), 0);
	assert_int_equal(uvfs_9p_server_info(l.u, "/m", &si), -ENOENT);
	assert_int_equal(uvfs_stat(l.c, "/m/bye", &st), -EIO);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -EIO);
	usleep(100 * 1000);
	assert_int_equal(uvfs_stat(l.c, "/m/f", &st), -EIO);
	assert_int_equal(atomic_load(&l.accepted), 1);
	assert_int_equal(uvfs_umount(l.c, "/m", 0), 0);
	lfx_done(&l);

	assert_int_equal(fx_mount(&x, "timeout=2000"), 0);
	assert_int_equal(uvfs_9p_server_info(x.u, "/m", &si), -ENOENT);
	assert_int_equal(uvfs_umount(x.c, "/m", 0), 0);
	fx_done(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abort_fences),
		cmocka_unit_test(test_fence_forced_tcp),
		cmocka_unit_test(test_fence_forced_tcp_behind),
		cmocka_unit_test(test_reconnect_hangup),
		cmocka_unit_test(test_create_reply_lost),
		cmocka_unit_test(test_revoke_no_replay),
		cmocka_unit_test(test_unreachable_failfast),
		cmocka_unit_test(test_hard_waits),
		cmocka_unit_test(test_reconnect_violation),
		cmocka_unit_test(test_noreconnect),
	};

	/* the fake server writes to links the client cut */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

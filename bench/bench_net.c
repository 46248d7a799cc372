/*
 * bench_net - a "9p" mount over TCP across a real link (bench/bench_net,
 * the script, makes the link: a veth pair into a network namespace, with
 * uvfs-hostfs and an echo server on the far side, and delay proxies).
 *
 *   bench_net echo ADDR:PORT
 *       The raw baseline's far end: answers each 23-byte message with 12
 *       bytes (the sizes of a 1-byte Tread and its Rread), one thread per
 *       connection, until killed.
 *
 *   bench_net rtt NAME SOURCE ECHO [ITERS]
 *       One request's round trip through the VFS and the client (a 1-byte
 *       uvfs_pread of an open file on a "9p" mount of SOURCE: one Tread)
 *       against a raw TCP ping-pong of the same sizes with the echo
 *       server at ECHO over the same path.  5 interleaved runs of ITERS
 *       (default 2000) each; the best of each side (on a shared machine
 *       the spread is the load's).  Prints rtt_NAME.
 *
 *   bench_net faults SOURCE ECHO NFILES REPS
 *       The environment gives the shell commands that act on the link and
 *       the server: BENCH_NET_CUT, BENCH_NET_HEAL, BENCH_NET_RESTART (kill
 *       the server and start it again).  With timeout=DEADLINE
 *       (BENCH_NET_DEADLINE, default 2000 ms):
 *         net_detect_ms    cut, with one read outstanding, to the driver
 *                          saying the session is lost (server_info: not
 *                          connected, recovering, or one more loss),
 *                          timed from the read's start (after the cut
 *                          command returned);
 *                          baseline: the deadline (not measured: the
 *                          bound a request would wait without liveness);
 *                          not seen within max(3 x deadline, 10 s)
 *                          counts as that
 *         net_heal_read_ms heal to the first successful read of an open
 *                          file; baseline: heal to the first raw TCP
 *                          connect + ping-pong with the echo server,
 *                          measured after the same heal; and
 *                          net_heal_read_dl, the same against the deadline
 *         net_reopen_N_files  NFILES files open; the server restarted
 *                          (BENCH_NET_RESTART) to the mount connected
 *                          again with every file reopened; baseline: the
 *                          first open of the NFILES files on this mount
 *       Medians of REPS.
 *
 * Prints bench/run's figure lines and '#' notes.  Exit 1 when something
 * does not work (a mount fails, nothing is detected within 30 s).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "bench_common.h"

#define REQ_LEN 23
#define REP_LEN 12

static double now_ms(void)
{
	return bench_now() * 1e3;
}

static struct addrinfo *addr_of(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	size_t hl;

	if (!colon || (hl = (size_t)(colon - hostport)) >= sizeof(host))
		return NULL;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return NULL;
	return ai;
}

/* A connected TCP socket (TCP_NODELAY) to hostport, or -1. */
static int dial(const char *hostport)
{
	struct addrinfo *ai = addr_of(hostport);
	int fd, one = 1;

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool full_io(int fd, void *buf, size_t len, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? write(fd, (char *)buf + done, len - done)
			       : read(fd, (char *)buf + done, len - done);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return false;
		}
		done += (size_t)n;
	}
	return true;
}

static bool ping(int fd)
{
	char req[REQ_LEN] = { 0 }, rep[REP_LEN];

	return full_io(fd, req, sizeof(req), true) &&
	       full_io(fd, rep, sizeof(rep), false);
}

/* --- echo --- */

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1;
	char req[REQ_LEN], rep[REP_LEN] = { 0 };

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (full_io(fd, req, sizeof(req), false) &&
	       full_io(fd, rep, sizeof(rep), true))
		;
	close(fd);
	return NULL;
}

static int echo_main(const char *hostport)
{
	struct addrinfo *ai = addr_of(hostport);
	int fd, one = 1;

	if (!ai) {
		fprintf(stderr, "bench_net: bad address %s\n", hostport);
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		perror("bench_net: echo");
		return 1;
	}
	for (;;) {
		pthread_t t;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)c)) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}

/* --- a mount --- */

struct env {
	struct uvfs *u;
	struct uvfs_ctx *c;
};

static int mount_9p(struct env *e, const char *source, const char *opts)
{
	int r;

	if (uvfs_new(NULL, &e->u) || uvfs_9p_register(e->u) ||
	    uvfs_ctx_new(e->u, NULL, &e->c) || uvfs_mkdir(e->c, "/m", 0755))
		return -1;
	r = uvfs_mount(e->c, "9p", source, "/m", opts);
	if (r) {
		fprintf(stderr, "bench_net: mount %s: %s\n", source,
			strerror(-r));
		return -1;
	}
	return 0;
}

static void umount_9p(struct env *e)
{
	uvfs_umount(e->c, "/m", UVFS_UMOUNT_FORCE);
	uvfs_settle(e->u, 5000);
	uvfs_ctx_free(e->c);
	uvfs_free(e->u);
}

/* --- rtt --- */

static int rtt_main(const char *name, const char *source, const char *echo,
		    int iters)
{
	struct env e;
	double v[5], w[5];
	char b;
	int fd, efd;

	if (mount_9p(&e, source, "timeout=10000"))
		return 1;
	fd = uvfs_open(e.c, "/m/rtt", O_CREAT | O_RDWR, 0644);
	if (fd < 0 || uvfs_write(e.c, fd, "x", 1) != 1) {
		fprintf(stderr, "bench_net: /m/rtt: %s\n", strerror(-fd));
		return 1;
	}
	efd = dial(echo);
	if (efd < 0) {
		fprintf(stderr, "bench_net: cannot reach the echo server %s\n",
			echo);
		return 1;
	}
	for (int k = 0; k < 5; k++) {
		for (int i = 0; i < iters / 10; i++)
			(void)uvfs_pread(e.c, fd, &b, 1, 0);
		double t0 = now_ms();
		for (int i = 0; i < iters; i++)
			if (uvfs_pread(e.c, fd, &b, 1, 0) != 1) {
				fprintf(stderr, "bench_net: a read failed\n");
				return 1;
			}
		v[k] = (now_ms() - t0) * 1e3 / iters;
		for (int i = 0; i < iters / 10; i++)
			ping(efd);
		t0 = now_ms();
		for (int i = 0; i < iters; i++)
			if (!ping(efd)) {
				fprintf(stderr, "bench_net: the echo failed\n");
				return 1;
			}
		w[k] = (now_ms() - t0) * 1e3 / iters;
	}
	double vm = v[0], wm = w[0];
	for (int k = 1; k < 5; k++) {
		vm = v[k] < vm ? v[k] : vm;
		wm = w[k] < wm ? w[k] : wm;
	}
	printf("rtt_%s %.2f us %.2f %.2f -\n", name, vm, wm, vm / wm);
	close(efd);
	uvfs_close(e.c, fd);
	umount_9p(&e);
	return 0;
}

/* --- faults --- */

static int run(const char *var)
{
	const char *cmd = getenv(var);

	if (!cmd || !*cmd) {
		fprintf(stderr, "bench_net: %s is not set\n", var);
		exit(2);
	}
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_net: %s failed: %s\n", var, cmd);
		exit(1);
	}
	return 0;
}

/* The read outstanding across the cut: when it was issued (t_start, the
 * clock of net_detect_ms), when it returned and with what. */
struct bg_read {
	struct env *e;
	int fd;
	_Atomic double t_start;
	double t_end;
	ssize_t r;
};

static void *bg_read_main(void *arg)
{
	struct bg_read *b = arg;
	char buf[1];

	atomic_store(&b->t_start, now_ms());
	b->r = uvfs_pread(b->e->c, b->fd, buf, 1, 0);
	b->t_end = now_ms();
	return NULL;
}

static bool lost(const struct uvfs_9p_server_info *si, unsigned long losses0)
{
	return !si->connected || si->recovering || si->dead ||
	       si->losses > losses0;
}

static int faults_main(const char *source, const char *echo, int nfiles,
		       int reps)
{
	const char *dl = getenv("BENCH_NET_DEADLINE");
	int deadline = dl ? atoi(dl) : 2000;
	char opts[128];
	struct env e;
	double *det = calloc((size_t)reps, sizeof(double));
	double *heal = calloc((size_t)reps, sizeof(double));
	double *heal_raw = calloc((size_t)reps, sizeof(double));
	double *reopen = calloc((size_t)reps, sizeof(double));
	double *reopen_drv = calloc((size_t)reps, sizeof(double));
	double *open0 = calloc((size_t)reps, sizeof(double));
	int *fds = calloc((size_t)nfiles, sizeof(int));
	int ndet = 0;
	/* what is not seen by then counts as the cap */
	double detect_cap = 3.0 * deadline > 10000 ? 3.0 * deadline : 10000;

	if (!det || !heal || !heal_raw || !reopen || !reopen_drv || !open0 ||
	    !fds)
		return 1;
	snprintf(opts, sizeof(opts), "timeout=%d,restarts=100000", deadline);
	if (mount_9p(&e, source, opts))
		return 1;
	int fd = uvfs_open(e.c, "/m/probe", O_CREAT | O_RDWR, 0644);
	if (fd < 0 || uvfs_write(e.c, fd, "p", 1) != 1)
		return 1;

	/* partition -> detected; heal -> first read */
	for (int k = 0; k < reps; k++) {
		struct uvfs_9p_server_info si;
		struct bg_read b = { .e = &e, .fd = fd };
		pthread_t t;
		char c;

		uvfs_9p_server_info(e.u, "/m", &si);
		unsigned long losses0 = si.losses;
		double tc = now_ms();
		run("BENCH_NET_CUT");
		double t0 = now_ms(), cut_ms = t0 - tc;
		pthread_create(&t, NULL, bg_read_main, &b);
		det[k] = -1;
		while (now_ms() - t0 < detect_cap) {
			if (uvfs_9p_server_info(e.u, "/m", &si) == 0 &&
			    lost(&si, losses0)) {
				/* from the read's start: the request the
				 * session has to notice is out from then
				 * (a thread start can take long on a busy
				 * machine; it is not the session's time) */
				double ts = atomic_load(&b.t_start);
				det[k] = now_ms() - (ts > 0 ? ts : t0);
				break;
			}
			usleep(500);
		}
		double start_lag = atomic_load(&b.t_start) - t0;
		run("BENCH_NET_HEAL");
		double t1 = now_ms();
		/* the raw path's own recovery after the same heal */
		heal_raw[k] = -1;
		while (now_ms() - t1 < 30000) {
			int s = dial(echo);
			bool ok = s >= 0 && ping(s);
			if (s >= 0)
				close(s);
			if (ok) {
				heal_raw[k] = now_ms() - t1;
				break;
			}
			usleep(500);
		}
		heal[k] = -1;
		while (now_ms() - t1 < 30000) {
			if (uvfs_pread(e.c, fd, &c, 1, 0) == 1) {
				heal[k] = now_ms() - t1;
				break;
			}
			usleep(500);
		}
		pthread_join(t, NULL);
		if (det[k] >= 0)
			ndet++;
		printf("# rep %d: detected %.1f ms after the read was issued "
		       "(the cut took %.1f ms, the read started %.1f ms after "
		       "it, and returned %zd after %.1f ms), read back %.1f ms "
		       "after the heal (raw TCP %.1f ms)\n", k, det[k], cut_ms,
		       start_lag, b.r, b.t_end - atomic_load(&b.t_start),
		       heal[k], heal_raw[k]);
		if (heal[k] < 0) {
			fprintf(stderr, "bench_net: no read 30 s after a heal\n");
			return 1;
		}
		bench_sleep_ms(200);
	}

	/* reopen of NFILES files after a reconnect */
	for (int k = 0; k < reps; k++) {
		struct uvfs_9p_server_info si;
		char p[64], c;

		double t0 = now_ms();
		for (int i = 0; i < nfiles; i++) {
			snprintf(p, sizeof(p), "/m/f%d", i);
			fds[i] = uvfs_open(e.c, p, O_CREAT | O_RDWR, 0644);
			if (fds[i] < 0) {
				fprintf(stderr, "bench_net: open %s: %s\n", p,
					strerror(-fds[i]));
				return 1;
			}
		}
		open0[k] = now_ms() - t0;
		uvfs_9p_server_info(e.u, "/m", &si);
		unsigned long restarts0 = si.restarts;
		t0 = now_ms();
		run("BENCH_NET_RESTART");
		/* the loss is noticed by a request: one read, then wait */
		(void)uvfs_pread(e.c, fds[0], &c, 1, 0);
		reopen[k] = -1;
		while (now_ms() - t0 < 30000) {
			if (uvfs_9p_server_info(e.u, "/m", &si) == 0 &&
			    si.restarts > restarts0 && si.connected &&
			    !si.recovering) {
				reopen[k] = now_ms() - t0;
				break;
			}
			usleep(200);
		}
		reopen_drv[k] = si.last_recovery_ns / 1e6;
		if (reopen[k] < 0 ||
		    uvfs_pread(e.c, fds[nfiles - 1], &c, 1, 0) < 0) {
			fprintf(stderr, "bench_net: no reconnect with the "
				"files reopened within 30 s\n");
			return 1;
		}
		for (int i = 0; i < nfiles; i++)
			uvfs_close(e.c, fds[i]);
	}
	uvfs_close(e.c, fd);
	umount_9p(&e);

	printf("# net_detect_ms: cut (one read outstanding) to the session "
	       "seen lost; baseline: the deadline; %d of %d detected within "
	       "%.0f ms (the others count as that)\n", ndet, reps, detect_cap);
	for (int k = 0; k < reps; k++)
		if (det[k] < 0)
			det[k] = detect_cap;
	double dm = bench_median(det, reps);
	printf("net_detect_ms %.1f ms %d %.2f value<=%d\n", dm, deadline,
	       dm / deadline, deadline);
	double hm = bench_median(heal, reps), hr = bench_median(heal_raw, reps);
	printf("# net_heal_read_ms: heal to the first read of an open file; "
	       "baseline: heal to the first raw TCP connect + ping-pong\n");
	printf("net_heal_read_ms %.1f ms %.1f %.2f value<=1000\n", hm, hr,
	       hr > 0 ? hm / hr : NAN);
	printf("# net_heal_read_dl: the same against the deadline\n");
	printf("net_heal_read_dl %.1f ms %d %.3f -\n", hm, deadline,
	       hm / deadline);
	double rm = bench_median(reopen, reps), om = bench_median(open0, reps);
	printf("# net_reopen: the server restarted to every one of %d files "
	       "reopened (outside; the driver's own figure next); baseline: "
	       "opening them the first time\n", nfiles);
	printf("net_reopen_%d_files %.1f ms %.1f %.2f -\n", nfiles, rm, om,
	       rm / om);
	printf("net_reopen_driver %.1f ms - - -\n",
	       bench_median(reopen_drv, reps));
	free(det);
	free(heal);
	free(heal_raw);
	free(reopen);
	free(reopen_drv);
	free(open0);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo_main(argv[2]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "rtt") == 0)
		return rtt_main(argv[2], argv[3], argv[4],
				argc == 6 ? atoi(argv[5]) : 2000);
	if (argc == 6 && strcmp(argv[1], "faults") == 0)
		return faults_main(argv[2], argv[3], atoi(argv[4]),
				   atoi(argv[5]));
	fprintf(stderr,
		"usage: bench_net echo ADDR:PORT\n"
		"       bench_net rtt NAME tcp:ADDR:PORT ECHO-ADDR:PORT [ITERS]\n"
		"       bench_net faults tcp:ADDR:PORT ECHO-ADDR:PORT NFILES REPS\n"
		"       (faults: BENCH_NET_CUT, BENCH_NET_HEAL, "
		"BENCH_NET_RESTART, BENCH_NET_DEADLINE)\n");
	return 2;
}

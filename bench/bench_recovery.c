/*
 * bench_recovery - type "hostfs" (docs/recovery.md):
 *
 *   recovery   time from SIGKILL of the server until the mount is back with
 *              every one of NFILES (default 1000) open files reopened
 *              (measured outside: kill() to server_info saying a new
 *              server runs and no recovery is in progress; also the
 *              driver's own figure, loss detected to recovery done).
 *              Target < 200 ms.
 *   rtt        one request round trip through the VFS (a 1-byte pread on
 *              an open file: one Tread) against a raw ping-pong of the
 *              same sizes over a socketpair with a child process.
 *              Target < 1.5x.  Also the same Tread sent by hand to a
 *              uvfs-hostfs from one thread (no VFS, no client threads):
 *              the server's own share.
 *
 * usage: bench_recovery HOSTFS-BINARY [NFILES] [REPS]
 * Prints bench/run's figure lines ("name value unit baseline ratio
 * target", "-" for none) and notes starting with '#'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "bench_common.h"
#include "p9.h"
#include "bench_9p.h"

static double now_us(void)
{
	return bench_now() * 1e6;
}

/* Raw ping-pong: 23-byte "requests", 12-byte "replies" (Tread/Rread of
 * one byte) with a child process echoing. */
static double raw_rtt_us(int iters)
{
	int sv[2];
	char req[23] = { 0 }, rep[12] = { 0 };
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (;;) {
			size_t got = 0;
			while (got < sizeof(req)) {
				ssize_t n = read(sv[1], req + got,
						 sizeof(req) - got);
				if (n <= 0)
					_exit(0);
				got += (size_t)n;
			}
			if (write(sv[1], rep, sizeof(rep)) != sizeof(rep))
				_exit(0);
		}
	}
	close(sv[1]);
	for (int i = 0; i < iters / 10; i++) {  /* warm up */
		if (write(sv[0], req, sizeof(req)) < 0 ||
		    read(sv[0], rep, sizeof(rep)) < 0)
			break;
	}
	double t0 = now_us();
	for (int i = 0; i < iters; i++) {
		size_t got = 0;
		if (write(sv[0], req, sizeof(req)) != sizeof(req))
			break;
		while (got < sizeof(rep)) {
			ssize_t n = read(sv[0], rep + got, sizeof(rep) - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	double t = (now_us() - t0) / iters;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t;
}

/* Tread of 1 byte straight to a uvfs-hostfs child: microseconds per
 * round trip, or -1. */
static double raw9p_rtt_us(const char *server, const char *dir, int iters)
{
	int sv[2];
	uint8_t rbuf[8192];
	struct p9_msg m, r;
	pid_t pid;
	double t = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		close(sv[0]);
		close(sv[1]);
		execl(server, server, dir, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	if (p9_start(sv[0], rbuf, sizeof(rbuf)))
		goto out;
	memset(&m, 0, sizeof(m));
	m.type = P9_TWALK;
	m.twalk.fid = 0;
	m.twalk.newfid = 1;
	m.twalk.nwname = 1;
	m.twalk.wname[0] = P9_STR("f0");
	if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r) || r.type != P9_RWALK)
		goto out;
	memset(&m, 0, sizeof(m));
	m.type = P9_TLOPEN;
	m.tlopen.fid = 1;
	m.tlopen.flags = 0;
	if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r) || r.type != P9_RLOPEN)
		goto out;
	memset(&m, 0, sizeof(m));
	m.type = P9_TREAD;
	m.tread.fid = 1;
	m.tread.count = 1;
	for (int i = 0; i < iters / 10; i++)
		if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r))
			goto out;
	double t0 = now_us();
	for (int i = 0; i < iters; i++)
		if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r) ||
		    r.type != P9_RREAD)
			goto out;
	t = (now_us() - t0) / iters;
out:
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t;
}

int main(int argc, char **argv)
{
	const char *server = argc > 1 ? argv[1] : getenv("UVFS_HOSTFS");
	int nfiles = argc > 2 ? atoi(argv[2]) : 1000;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	char tmp[] = "/tmp/uvfs-bench-recovery.XXXXXX", exp[64], o[512];
	struct uvfs *u;
	struct uvfs_ctx *c;
	int *fds;

	if (!server || access(server, X_OK) != 0) {
		fprintf(stderr, "usage: bench_recovery HOSTFS-BINARY "
			"[NFILES] [REPS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp))
		return 1;
	snprintf(exp, sizeof(exp), "%s/export", tmp);
	mkdir(exp, 0777);
	fds = calloc((size_t)nfiles, sizeof(*fds));
	if (!fds || uvfs_new(NULL, &u) || uvfs_9p_register(u) ||
	    uvfs_ctx_new(u, NULL, &c) || uvfs_mkdir(c, "/m", 0755))
		return 1;
	snprintf(o, sizeof(o), "server=%s,restarts=1000", server);
	int r = uvfs_mount(c, "hostfs", exp, "/m", o);
	if (r) {
		fprintf(stderr, "mount: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < nfiles; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/m/f%d", i);
		fds[i] = uvfs_open(c, p, O_CREAT | O_RDWR, 0644);
		if (fds[i] < 0) {
			fprintf(stderr, "open %s: %s\n", p,
				strerror(-fds[i]));
			return 1;
		}
	}
	if (uvfs_write(c, fds[0], "x", 1) != 1)
		return 1;

	/* recovery */
	double *outside = calloc((size_t)reps, sizeof(double));
	double *inside = calloc((size_t)reps, sizeof(double));
	for (int k = 0; k < reps; k++) {
		struct uvfs_9p_server_info si;
		pid_t pid = uvfs_9p_server_pid(u, "/m");
		double t0 = now_us();
		kill(pid, SIGKILL);
		for (;;) {
			if (uvfs_9p_server_info(u, "/m", &si) == 0 &&
			    si.pid > 0 && si.pid != pid && !si.recovering)
				break;
			if (si.dead || now_us() - t0 > 10e6) {
				fprintf(stderr, "no recovery\n");
				return 1;
			}
			usleep(50);
		}
		outside[k] = (now_us() - t0) / 1000;
		inside[k] = si.last_recovery_ns / 1e6;
		char b;
		if (uvfs_pread(c, fds[nfiles - 1], &b, 1, 0) < 0 ||
		    uvfs_pread(c, fds[0], &b, 1, 0) != 1) {
			fprintf(stderr, "a file was not reopened\n");
			return 1;
		}
		usleep(50 * 1000);
	}
	printf("# recovery: SIGKILL to a new server with every one of %d "
	       "open files reopened (outside), loss detected to recovery "
	       "done (driver)\n", nfiles);
	printf("recovery_%d_files %.2f ms - - value<200\n", nfiles,
	       bench_median(outside, reps));
	printf("recovery_driver %.2f ms - - -\n", bench_median(inside, reps));

	/* round trip */
	/* BENCH_RTT_ITERS: fewer for a run under callgrind or strace */
	const char *ie = getenv("BENCH_RTT_ITERS");
	int iters = ie ? bench_atoi(ie, "BENCH_RTT_ITERS") : 20000;
	double v[5], w[5], x[5];
	char b;
	for (int k = 0; k < 5; k++) {
		for (int i = 0; i < iters / 10; i++)
			(void)uvfs_pread(c, fds[0], &b, 1, 0);
		double t0 = now_us();
		for (int i = 0; i < iters; i++)
			(void)uvfs_pread(c, fds[0], &b, 1, 0);
		v[k] = (now_us() - t0) / iters;
		w[k] = raw_rtt_us(iters);
		x[k] = raw9p_rtt_us(server, exp, iters);
	}
	/* the best of 5 interleaved runs: on a shared machine the spread
	 * is the load's, and it hits the three alike only on average */
	double vm = v[0], wm = w[0], xm = x[0];
	for (int k = 1; k < 5; k++) {
		vm = v[k] < vm ? v[k] : vm;
		wm = w[k] < wm ? w[k] : wm;
		xm = x[k] < xm ? x[k] : xm;
	}
	printf("# rtt: a 1-byte pread through the VFS and hostfs (one Tread) "
	       "against a raw socketpair ping-pong of the same sizes\n");
	printf("rtt_hostfs_pread %.2f us %.2f %.2f -\n", vm, wm, vm / wm);
	printf("rtt_ratio %.2f x - - value<1.5\n", vm / wm);
	printf("# rtt_hostfs_raw9p: the same Tread written by hand to a "
	       "uvfs-hostfs (no VFS, no client threads): the server's share\n");
	printf("rtt_hostfs_raw9p %.2f us %.2f %.2f -\n", xm, wm, xm / wm);

	/* sequential read: a file written on the host, read through the
	 * VFS and hostfs in 1 MiB reads, against read(2) of the host file;
	 * both from the host's page cache (the file was just written), so
	 * the ratio is what the server round trips cost. */
	{
		size_t mib = getenv("BENCH_SEQ_MIB") ?
			     (size_t)atol(getenv("BENCH_SEQ_MIB")) : 1024;
		size_t chunk = 1 << 20;
		char *buf = malloc(chunk), host[128];
		double tv[3], th[3];
		int hfd, vfd;

		snprintf(host, sizeof(host), "%s/seq", exp);
		hfd = open(host, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (!buf || hfd < 0)
			return 1;
		memset(buf, 'x', chunk);
		for (size_t i = 0; i < mib; i++)
			if (write(hfd, buf, chunk) != (ssize_t)chunk)
				return 1;
		close(hfd);
		for (int k = 0; k < 3; k++) {
			double t0 = now_us();
			vfd = uvfs_open(c, "/m/seq", O_RDONLY, 0);
			if (vfd < 0)
				return 1;
			while (uvfs_read(c, vfd, buf, chunk) > 0)
				;
			uvfs_close(c, vfd);
			tv[k] = mib / ((now_us() - t0) / 1e6);
			t0 = now_us();
			hfd = open(host, O_RDONLY);
			while (read(hfd, buf, chunk) > 0)
				;
			close(hfd);
			th[k] = mib / ((now_us() - t0) / 1e6);
		}
		double mv = bench_median(tv, 3), mh = bench_median(th, 3);
		printf("# seq_read: %zu MiB in 1 MiB reads through the VFS and "
		       "uvfs-hostfs, against read(2) of the host file (both "
		       "from the host's page cache)\n", mib);
		printf("seq_read_hostfs %.1f MiB/s %.1f %.3f -\n", mv, mh,
		       mv / mh);
		unlink(host);
		free(buf);
	}

	for (int i = 0; i < nfiles; i++)
		uvfs_close(c, fds[i]);
	uvfs_umount(c, "/m", 0);
	uvfs_settle(u, 5000);
	uvfs_ctx_free(c);
	uvfs_free(u);
	free(fds);
	free(outside);
	free(inside);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		return 1;
	return 0;
}

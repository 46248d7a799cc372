/*
 * bench_fid_grow - the slowest fid reservation in lib/server while one
 * connection's fid table grows (bench/README.md, "Growth pauses").
 *
 * In one process: a struct p9srv with a file system of one directory
 * (attach, and walks of no names, which clone a fid) serves one end of a
 * socketpair from a thread; this thread attaches and takes N (default
 * 1000000, -n) fids, one Twalk of no names each (fid 0 to newfid i), one
 * at a time, and times each round trip two ways: by the clock
 * (CLOCK_MONOTONIC) and by the CPU time of the whole process, the server's
 * threads included (CLOCK_PROCESS_CPUTIME_ID), which time spent waiting
 * for a core another program holds does not count.  The fid table doubles
 * on the way; a doubling that moves every fid at once makes the walk that
 * crosses it (and anything else of the connection) wait for the move.
 * Then it hangs up and times the serve loop's return: every fid clunked
 * (fid_clunk_all).  Repeated (-r, default 3), each on a fresh server and
 * connection; the figures are the medians of the repetitions'.
 *
 *   fid_grow_max_1e5     the slowest walk of the first 100 000, ms
 *                        (baseline: the median walk)
 *   fid_grow_max         the slowest walk of all N, ms
 *   fid_grow_cpu_max_1e5 the same by CPU time (baseline: the median walk's)
 *   fid_grow_cpu_max
 *   fid_grow_walk_us     the median walk, µs
 *   fid_grow_clunk_all   hang-up to serve loop returned, N fids, ms
 *
 * Each repetition's slowest walks are printed as notes with the number of
 * fids the table held then, to be matched with its doublings.
 *
 * -s STRIDE numbers the fids 1, 1 + STRIDE, 1 + 2 STRIDE... (default 1):
 * a client whose numbers share their low bits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "p9.h"
#include "bench_9p.h"
#include "p9srv.h"

#define CHECKPOINT 100000

static uint32_t stride = 1;

static int g_attach(struct p9srv_req *r, struct p9srv_fid *f,
		    const struct p9_tattach *t, struct p9_qid *qid)
{
	(void)r; (void)t; (void)f;
	*qid = (struct p9_qid){ P9_QTDIR, 0, 1 };
	return 0;
}

static int g_walk(struct p9srv_req *r, struct p9srv_fid *f,
		  struct p9srv_fid *nf, uint16_t nwname,
		  const struct p9_str *wname, struct p9_qid *wqid,
		  uint16_t *nwqid)
{
	(void)r; (void)f; (void)nf; (void)wname; (void)wqid;
	*nwqid = 0;
	return nwname == 0 ? 0 : -ENOENT;
}

static const struct p9srv_ops grow_ops = {
	.attach = g_attach,
	.walk = g_walk,
};

struct server {
	struct p9srv *srv;
	int fd;
};

static void *serve_main(void *arg)
{
	struct server *s = arg;
	p9srv_serve_fd(s->srv, s->fd, s->fd);
	return NULL;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct rep {
	double max_1e5, max, cpu_max_1e5, cpu_max, median, cpu_median;
	double clunk_all;
};

/* The largest of v[0..n) and where it is. */
static double vmax(const double *v, int n, int *at)
{
	double m = -1;

	for (int i = 0; i < n; i++)
		if (v[i] > m) {
			m = v[i];
			*at = i;
		}
	return m;
}

static int run(int n, int rep, struct rep *o, double *wall, double *cpu)
{
	uint8_t rbuf[8192];
	struct p9_msg m, r;
	struct server s;
	pthread_t t;
	int sv[2], at = 0, cat = 0;

	if (p9srv_new(&grow_ops, NULL, NULL, &s.srv) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	s.fd = sv[1];
	pthread_create(&t, NULL, serve_main, &s);

	if (p9_start(sv[0], rbuf, sizeof(rbuf)))
		return -1;

	for (int i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.type = P9_TWALK;
		m.tag = 1;
		m.twalk.fid = 0;
		m.twalk.newfid = (uint32_t)i * stride + 1;
		m.twalk.nwname = 0;
		double c0 = cpu_now(), t0 = bench_now();
		if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r))
			return -1;
		wall[i] = bench_now() - t0;
		cpu[i] = cpu_now() - c0;
		if (r.type != P9_RWALK) {
			fprintf(stderr, "bench_fid_grow: walk %d refused: %s\n",
				i + 1, r.type == P9_RLERROR ?
				strerror((int)r.rlerror.ecode) : "?");
			return -1;
		}
	}
	double t0 = bench_now();
	shutdown(sv[0], SHUT_RDWR);
	close(sv[0]);
	pthread_join(t, NULL);
	o->clunk_all = bench_now() - t0;
	close(sv[1]);
	p9srv_free(s.srv);

	int k = n < CHECKPOINT ? n : CHECKPOINT;
	o->max_1e5 = vmax(wall, k, &at);
	o->cpu_max_1e5 = vmax(cpu, k, &cat);
	o->max = vmax(wall, n, &at);
	o->cpu_max = vmax(cpu, n, &cat);
	/* fids in the table before the walk: the attach's and i walks' */
	printf("# rep %d: slowest walk %.3f ms with %d fids held, by CPU "
	       "%.3f ms with %d; hang-up to serve returned %.1f ms\n", rep,
	       o->max * 1e3, at + 1, o->cpu_max * 1e3, cat + 1,
	       o->clunk_all * 1e3);
	/* the walks that found 2^k fids held, where a table that doubles
	 * at twice as many fids as buckets doubles */
	int dat = 0;
	for (int i = 1; i <= n; i *= 2)
		if (cpu[i - 1] > cpu[dat])
			dat = i - 1;
	printf("#   of those with 2^k fids held (the doublings) the slowest "
	       "by CPU %.3f ms with %d\n", cpu[dat] * 1e3, dat + 1);
	/* the next slowest by CPU: is the slowest alone? */
	int top[4] = { cat, -1, -1, -1 };
	for (int k = 1; k < 4; k++) {
		for (int i = 0; i < n; i++)
			if ((top[k] < 0 || cpu[i] > cpu[top[k]]) &&
			    i != top[0] && i != top[1] && i != top[2])
				top[k] = i;
		if (top[k] >= 0)
			printf("#   %s slowest by CPU %.3f ms with %d fids "
			       "held\n", k == 1 ? "then" : "    ",
			       cpu[top[k]] * 1e3, top[k] + 1);
	}
	o->median = bench_median(wall, n);
	o->cpu_median = bench_median(cpu, n);
	return 0;
}

static void figure(const char *name, double v, const char *unit, double base)
{
	printf("%s %.3f %s %.4f %.0f -\n", name, v, unit, base, v / base);
}

int main(int argc, char **argv)
{
	int n = 1000000, reps = 3, opt;

	while ((opt = getopt(argc, argv, "n:r:s:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 's')
			stride = (uint32_t)strtoul(optarg, NULL, 0);
		else {
			fprintf(stderr, "usage: bench_fid_grow [-n FIDS] "
				"[-r REPS] [-s STRIDE]\n");
			return 2;
		}
	}
	if (n < 1 || reps < 1 || stride < 1 ||
	    (uint64_t)(n - 1) * stride + 1 >= P9_NOFID)
		return 2;
	double *wall = malloc((size_t)n * sizeof(*wall));
	double *cpu = malloc((size_t)n * sizeof(*cpu));
	struct rep *o = calloc((size_t)reps, sizeof(*o));
	double *v = malloc((size_t)reps * sizeof(*v));
	if (!wall || !cpu || !o || !v)
		return 1;
	for (int i = 0; i < reps; i++)
		if (run(n, i + 1, &o[i], wall, cpu) < 0) {
			fprintf(stderr, "bench_fid_grow: run %d failed\n",
				i + 1);
			return 1;
		}
	printf("# bench_fid_grow: %d fids taken by Twalk on one connection "
	       "(numbered with a stride of %u), %d repetitions (medians)\n",
	       n, stride, reps);
#define MED(field) ({ for (int i = 0; i < reps; i++) v[i] = o[i].field; \
		      bench_median(v, reps); })
	double med = MED(median), cmed = MED(cpu_median);
	figure("fid_grow_max_1e5", MED(max_1e5) * 1e3, "ms", med * 1e3);
	figure("fid_grow_max", MED(max) * 1e3, "ms", med * 1e3);
	figure("fid_grow_cpu_max_1e5", MED(cpu_max_1e5) * 1e3, "ms",
	       cmed * 1e3);
	figure("fid_grow_cpu_max", MED(cpu_max) * 1e3, "ms", cmed * 1e3);
	printf("fid_grow_walk_us %.2f us - - -\n", med * 1e6);
	printf("fid_grow_clunk_all %.1f ms - - -\n", MED(clunk_all) * 1e3);
	free(wall);
	free(cpu);
	free(o);
	free(v);
	return 0;
}

/*
 * test_9pscale.c - a name change through a 9P mount costs the same however
 * many files the mount knows (docs/9p-client.md, "The tables") and however
 * many fids the server holds (docs/server.md, "The fid index").
 *
 * uvfs-hostfs (spawned: UVFS_HOSTFS) exports a directory of NFILES files
 * and a directory b, mounted at /m, and another with only b, mounted at
 * /f.  A round is two renames in b (t to u and back), a create and an
 * unlink in b.  After every one of the NFILES files was looked up through
 * /m (their nodes are in the driver's tables, held by the core's vnodes),
 * rounds are timed on /f and /m in turn, so that the machine's load,
 * whatever it does meanwhile, falls on both alike (timed one mount after
 * the other, the same code measured 1x to 6x on a busy machine).
 *
 * test_name_changes_scale (fids=64): the driver used to visit every node
 * it knew at each rename, unlink and rmdir (the other names a file might
 * have, the attributes a removed link changes), under the lock every 9P
 * call takes: with 20 000 files known, a rename took 10-40 ms and held
 * every lookup of the mount for as long.  A round on /m may take at most
 * SLOWER times the CPU time in this process (the driver's work, whatever
 * the server's and the machine's load) of one on /f, plus a little.
 *
 * test_name_changes_scale_fids (fids=40000: every file looked up keeps
 * its fid, on the server and in the client's recovery registry): the
 * server used to visit each of its fids at every rename and removal (the
 * fids below the old name follow it; a file removed while a fid names it
 * stays reachable), and the client's registry each of its records at
 * every rename.  Both are measured, the server's CPU time with its
 * process CPU clock (clock_getcpuclockid: nanoseconds, where
 * /proc/PID/stat counts 10 ms ticks), and a round on /m may cost each at
 * most FIDS_SLOWER times a round on /f plus FIDS_SLACK_NS.  Before the
 * fid index and the registry's index by path, with 20 000 fids: this
 * process 4-9x (release and AddressSanitizer), the server 10-18x; after,
 * 0.7-1.9x both, on a busy two-CPU machine.
 *
 * UVFS_9PSCALE_FILES=N changes NFILES.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#define ROUNDS  100     /* timed, each time */
#define SLOWER  6       /* rounds with NFILES known / on the fresh mount */
#define SLACK_NS (100 * 1000)   /* per round, besides */
#define FIDS_SLOWER 2   /* the same with every file's fid held */
#define FIDS_SLACK_NS (100 * 1000)

static unsigned nfiles = 20000;

/* A CPU clock's time in ns: this process's (the driver's work, not the
 * server's, nor the machine's other load), or the server's. */
static uint64_t cpu_ns(clockid_t clk)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(clk, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t median(uint64_t *t, int n)
{
	/* (insertion sort: n is small) */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
			uint64_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[n / 2];
}

/* A round of name changes in mount m's b: two renames, a create, an
 * unlink. */
static void one_round(struct uvfs_ctx *c, const char *m)
{
	char t[32], u[32], n[32];

	snprintf(t, sizeof(t), "%s/b/t", m);
	snprintf(u, sizeof(u), "%s/b/u", m);
	snprintf(n, sizeof(n), "%s/b/c", m);
	assert_int_equal(uvfs_rename(c, t, u, 0), 0);
	assert_int_equal(uvfs_rename(c, u, t, 0), 0);
	int fd = uvfs_open(c, n, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(c, fd), 0);
	assert_int_equal(uvfs_unlink(c, n), 0);
}

/* ROUNDS rounds on each of the nm mounts m[], taken in turn (so that a
 * change of the machine's load meanwhile falls on all of them alike):
 * each mount's median round's CPU time in this process (self[j]) and in
 * its server (server[j], if srv), in ns. */
static void rounds(struct uvfs_ctx *c, int nm, const char *const *m,
		   const clockid_t *srv, uint64_t *self, uint64_t *server)
{
	uint64_t t[2][ROUNDS], ts[2][ROUNDS];

	assert_true(nm <= 2);
	for (int i = 0; i < ROUNDS; i++)
		for (int j = 0; j < nm; j++) {
			uint64_t s0 = srv ? cpu_ns(srv[j]) : 0;
			uint64_t t0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
			one_round(c, m[j]);
			t[j][i] = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - t0;
			ts[j][i] = srv ? cpu_ns(srv[j]) - s0 : 0;
		}
	for (int j = 0; j < nm; j++) {
		self[j] = median(t[j], ROUNDS);
		if (server)
			server[j] = median(ts[j], ROUNDS);
	}
}

/* A directory for the test's exports (tmp, of 64 bytes). */
static void make_tmp(char *tmp)
{
	snprintf(tmp, 64, "%s/uvfs-9pscale.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(tmp));
}

/* The export tmp/name: nmany files in many/ (if nmany), and b/t, mounted
 * at m (made) with fids=FIDS. */
static void export_mount(struct uvfs_ctx *c, const char *tmp,
			 const char *name, unsigned nmany, const char *m,
			 unsigned fids)
{
	const char *srv = getenv("UVFS_HOSTFS");
	char exp[96], p[160], o[512];

	snprintf(exp, sizeof(exp), "%s/%s", tmp, name);
	assert_int_equal(mkdir(exp, 0755), 0);
	if (nmany) {
		snprintf(p, sizeof(p), "%s/many", exp);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	for (unsigned i = 0; i < nmany; i++) {
		snprintf(p, sizeof(p), "%s/many/f%06u", exp, i);
		int fd = open(p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/b", exp);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/b/t", exp);
	int hfd = open(p, O_CREAT | O_WRONLY, 0644);
	assert_true(hfd >= 0);
	close(hfd);

	assert_int_equal(uvfs_mkdir(c, m, 0755), 0);
	snprintf(o, sizeof(o), "server=%s,timeout=10000,fids=%u", srv, fids);
	assert_int_equal(uvfs_mount(c, "hostfs", exp, m, o), 0);
}

static void instance(struct uvfs **up, struct uvfs_ctx **cp)
{
	assert_int_equal(uvfs_new(NULL, up), 0);
	assert_int_equal(uvfs_9p_register(*up), 0);
	assert_int_equal(uvfs_ctx_new(*up, NULL, cp), 0);
}

/* Every file of /m/many looked up: the core keeps their vnodes, which
 * hold the driver's nodes (else this test measures nothing). */
static void know_all(struct uvfs *u, struct uvfs_ctx *c)
{
	struct uvfs_stats st;
	struct stat sb;
	char p[64];

	for (unsigned i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "/m/many/f%06u", i);
		assert_int_equal(uvfs_stat(c, p, &sb), 0);
	}
	uvfs_stats(u, &st);
	assert_true(st.vnodes + st.vnodes_cached >= nfiles);
}

static void teardown(char *tmp, struct uvfs *u, struct uvfs_ctx *c,
		     int nm, const char *const *m)
{
	char o[128];

	for (int j = 0; j < nm; j++)
		assert_int_equal(uvfs_umount(c, m[j], 0), 0);
	uvfs_ctx_free(c);
	assert_int_equal(uvfs_settle(u, 10000), 0);
	uvfs_free(u);
	snprintf(o, sizeof(o), "rm -rf -- '%s'", tmp);
	assert_int_equal(system(o), 0);
}

static bool have_server(void)
{
	const char *srv = getenv("UVFS_HOSTFS");

	if (!srv || access(srv, X_OK) != 0) {
		printf("SKIP: UVFS_HOSTFS names no uvfs-hostfs binary\n");
		return false;
	}
	return true;
}

static void test_name_changes_scale(void **state)
{
	/* [0]: fresh, [1]: every file of many/ known */
	static const char *const m[] = { "/f", "/m" };
	char tmp[64];
	struct uvfs *u;
	struct uvfs_ctx *c;
	uint64_t self[2];

	(void)state;
	if (!have_server()) {
		skip();
		return;
	}
	make_tmp(tmp);
	instance(&u, &c);
	/* few fids: the server's own work per rename grows with the fids
	 * it holds; what is measured here is the driver's tables */
	export_mount(c, tmp, "fresh", 0, "/f", 64);
	export_mount(c, tmp, "export", nfiles, "/m", 64);
	rounds(c, 2, m, NULL, self, NULL);      /* warm: the fids of b */
	know_all(u, c);
	rounds(c, 2, m, NULL, self, NULL);
	printf("a round (2 renames, a create, an unlink): %.3f ms of CPU "
	       "on a fresh mount, %.3f ms on one with %u files known "
	       "(%.2fx)\n", self[0] / 1e6, self[1] / 1e6, nfiles,
	       (double)self[1] / self[0]);
	teardown(tmp, u, c, 2, m);

	assert_true(self[1] <= SLOWER * self[0] + SLACK_NS);
}

static void test_name_changes_scale_fids(void **state)
{
	/* [0]: fresh, [1]: every file of many/ known */
	static const char *const m[] = { "/f", "/m" };
	char tmp[64];
	struct uvfs *u;
	struct uvfs_ctx *c;
	struct uvfs_9p_server_info si[2];
	uint64_t self[2], server[2];
	clockid_t clk[2];

	(void)state;
	if (!have_server()) {
		skip();
		return;
	}
	make_tmp(tmp);
	instance(&u, &c);
	/* every file looked up keeps its fid: on the server, and in the
	 * client's recovery registry */
	export_mount(c, tmp, "fresh", 0, "/f", 2 * nfiles);
	export_mount(c, tmp, "export", nfiles, "/m", 2 * nfiles);
	for (int j = 0; j < 2; j++) {
		assert_int_equal(uvfs_9p_server_info(u, m[j], &si[j]), 0);
		assert_true(si[j].pid > 0);
		assert_int_equal(clock_getcpuclockid(si[j].pid, &clk[j]), 0);
	}
	rounds(c, 2, m, clk, self, server);     /* warm */
	know_all(u, c);
	rounds(c, 2, m, clk, self, server);
	for (int j = 0; j < 2; j++) {
		assert_int_equal(uvfs_9p_server_info(u, m[j], &si[j]), 0);
		/* (the same servers all along) */
		assert_int_equal(si[j].restarts, 0);
	}
	assert_true(si[1].fids >= nfiles);
	printf("a round with every fid held: %.3f ms of CPU here and %.3f ms "
	       "in the server on a fresh mount, %.3f and %.3f ms on one "
	       "with %lu fids (%.2fx, %.2fx)\n", self[0] / 1e6,
	       server[0] / 1e6, self[1] / 1e6, server[1] / 1e6, si[1].fids,
	       (double)self[1] / self[0], (double)server[1] / server[0]);
	teardown(tmp, u, c, 2, m);

	assert_true(self[1] <= FIDS_SLOWER * self[0] + FIDS_SLACK_NS);
	assert_true(server[1] <= FIDS_SLOWER * server[0] + FIDS_SLACK_NS);
}

int main(void)
{
	const char *e = getenv("UVFS_9PSCALE_FILES");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_changes_scale),
		cmocka_unit_test(test_name_changes_scale_fids),
	};

	if (e && atoi(e) > 0)
		nfiles = (unsigned)atoi(e);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_9pscale.c - a name change through a 9P mount costs the same however
 * many files the mount knows (docs/9p-client.md, "The tables").
 *
 * uvfs-hostfs (spawned: UVFS_HOSTFS) exports a directory of NFILES files
 * and a directory b.  A round is two renames in b (t to u and back), a
 * create and an unlink in b.  The rounds are timed on the fresh mount,
 * then again after every one of the NFILES files was looked up (their
 * nodes are in the driver's tables, held by the core's vnodes).  The
 * driver used to visit every node it knew at each rename, unlink and
 * rmdir (the other names a file might have, the attributes a removed link
 * changes), under the lock every 9P call takes: with 20 000 files known,
 * a rename took 10-40 ms and held every lookup of the mount for as long.
 * The rounds with NFILES known may take at most SLOWER times the CPU
 * time in this process (the driver's work, whatever the server's and the
 * machine's load) of the fresh ones, plus a little.
 *
 * UVFS_9PSCALE_FILES=N changes NFILES.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

static unsigned nfiles = 20000;

/* This process's CPU time: the driver's work, not the server's (another
 * process), nor the machine's other load. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ROUNDS rounds of name changes in /m/b; the median round's CPU time in
 * this process, in ns. */
static uint64_t rounds(struct uvfs_ctx *c)
{
	uint64_t t[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t0 = now_ns();
		assert_int_equal(uvfs_rename(c, "/m/b/t", "/m/b/u", 0), 0);
		assert_int_equal(uvfs_rename(c, "/m/b/u", "/m/b/t", 0), 0);
		int fd = uvfs_open(c, "/m/b/c", O_CREAT | O_EXCL | O_WRONLY,
				   0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_close(c, fd), 0);
		assert_int_equal(uvfs_unlink(c, "/m/b/c"), 0);
		t[i] = now_ns() - t0;
	}
	/* the median (insertion sort: ROUNDS is small) */
	for (int i = 1; i < ROUNDS; i++)
		for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
			uint64_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[ROUNDS / 2];
}

static void test_name_changes_scale(void **state)
{
	const char *srv = getenv("UVFS_HOSTFS");
	char tmp[64], exp[80], p[160], o[512];
	struct uvfs *u;
	struct uvfs_ctx *c;
	struct uvfs_stats st;
	struct stat sb;

	(void)state;
	if (!srv || access(srv, X_OK) != 0) {
		printf("SKIP: UVFS_HOSTFS names no uvfs-hostfs binary\n");
		skip();
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/uvfs-9pscale.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(tmp));
	snprintf(exp, sizeof(exp), "%s/export", tmp);
	assert_int_equal(mkdir(exp, 0755), 0);
	snprintf(p, sizeof(p), "%s/many", exp);
	assert_int_equal(mkdir(p, 0755), 0);
	for (unsigned i = 0; i < nfiles; i++) {
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

	assert_int_equal(uvfs_new(NULL, &u), 0);
	assert_int_equal(uvfs_9p_register(u), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/m", 0755), 0);
	/* few fids: the server's own work per rename grows with the fids
	 * it holds; what is measured here is the driver's tables */
	snprintf(o, sizeof(o), "server=%s,timeout=10000,fids=64", srv);
	assert_int_equal(uvfs_mount(c, "hostfs", exp, "/m", o), 0);

	rounds(c);      /* warm: the first calls make the fids of /m/b */
	uint64_t fresh = rounds(c);
	for (unsigned i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "/m/many/f%06u", i);
		assert_int_equal(uvfs_stat(c, p, &sb), 0);
	}
	/* they are known: the core keeps their vnodes, which hold the
	 * driver's nodes (else this test measures nothing) */
	uvfs_stats(u, &st);
	assert_true(st.vnodes + st.vnodes_cached >= nfiles);
	uint64_t known = rounds(c);
	printf("a round (2 renames, a create, an unlink): %.3f ms of CPU "
	       "on the fresh mount, %.3f ms with %u files known (%.2fx)\n",
	       fresh / 1e6, known / 1e6, nfiles, (double)known / fresh);

	assert_int_equal(uvfs_umount(c, "/m", 0), 0);
	uvfs_ctx_free(c);
	assert_int_equal(uvfs_settle(u, 10000), 0);
	uvfs_free(u);
	snprintf(o, sizeof(o), "rm -rf -- '%s'", tmp);
	assert_int_equal(system(o), 0);

	assert_true(known <= SLOWER * fresh + SLACK_NS);
}

int main(void)
{
	const char *e = getenv("UVFS_9PSCALE_FILES");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_changes_scale),
	};

	if (e && atoi(e) > 0)
		nfiles = (unsigned)atoi(e);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

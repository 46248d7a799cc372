/*
 * test_nfs.c - the "nfs" type against a real nfs-ganesha, and its faults.
 *
 *   ganesha.sh run -- test_nfs       (tests/meson.build runs it so)
 *
 * Needs UVFS_NFS_SOURCE, UVFS_NFS_HOST, UVFS_NFS_DIR (the server's
 * directory, seen directly) and UVFS_NFS_STATE from ganesha.sh, and
 * UVFS_GANESHA (the script, to partition, heal, kill and restart the
 * server); skips (77) without them.
 *
 * What it checks:
 *  - options and sources: each bad one is -EINVAL, an unknown export
 *    -ENOENT or -EACCES (ganesha's answer), and the good forms mount;
 *  - a forced unmount while a caller waits in a partition: the caller gets
 *    -EIO at once (well within its deadline) and the unmount returns;
 *  - fencing: a write behind whose fsync timed out in a partition never
 *    lands on the server after the heal, and the mount works again
 *    (reconnected);
 *  - a partition: the first call is fenced at its deadline, the next ones
 *    fail at once, and the mount is back about a second after the heal;
 *    uvfs_nfs_info says unreachable meanwhile, with the timeout counted;
 *  - soft (default): while the server is gone (refused) a call waits
 *    for the reconnect at most its deadline; after a restart a file held
 *    open reads on (NFSv3 handles survive);
 *  - hard: a call made while the server is gone waits and succeeds once
 *    it is back;
 *  - requests out when the connection is lost: the idempotent ones are
 *    sent again and succeed (soft or hard), a write only on a hard mount
 *    (soft: -EIO);
 *  - per-caller credentials (AUTH_SYS) on a root-squashing export: a
 *    user creates, writes and reads its own files (owned by it on the
 *    server); root, squashed, is refused a user's 0600 file by the server;
 *    a supplementary group grants access, one past the 16 AUTH_SYS
 *    carries does not;
 *  - the caching modes: the default sees another writer's change at the
 *    next open; cache=loose asks nothing for an open, fstat and stat of a
 *    name it knows until this mount changes something; cache=none asks
 *    at every getattr;
 *  - a revoked file's write behind not committed: nothing sent at the
 *    revoke, nor by a later open's fsync;
 *  - read-ahead: 8 MiB read in 128 KiB calls costs a few requests, not
 *    64, comes back exact, and a write through the mount in the middle
 *    is seen by the reads after it;
 *  - silly rename: an open file unlinked lives on under ".nfs" names until
 *    its last close, then they go; a rename between two names of one open
 *    file changes nothing;
 *  - a file and a directory another client replaced: the next open finds
 *    the new ones (stale handles retried), and a directory removed
 *    through the mount holds no names (its cwd: -ENOENT);
 *  - the requests each operation waits for (create, close, stat, rename,
 *    unlink, a listing of 1000 entries and their lstats): printed and
 *    bounded;
 *  - 64 MiB written and read back in 4 MiB calls (many requests in flight
 *    each) come back exactly; short only at the end (rates printed);
 *  - writes behind (test_write_behind): 1 MiB writes return before their
 *    WRITEs are answered (several in flight), fsync commits them, the
 *    data is exact; ganesha restarted between the WRITEs and the COMMIT
 *    (a new write verifier): fsync sends the data again and it is on
 *    the server; a WRITE lost on a soft mount: the writes after it fail
 *    at once and close reports it; a forced unmount with writes in
 *    flight in a partition returns at once and nothing lands after the
 *    heal;
 *  - two open files appending at once (O_APPEND): every record lands
 *    whole, none over another;
 *  - a rename's target not in the name cache is not looked up: one
 *    RENAME, the server's replace or refusal; the core's checks still
 *    apply where a victim matters (a sticky directory, a mount point),
 *    and the exclusive create's -EEXIST comes before -EACCES.
 *
 * This file is the harness (the instance, the fixture that puts the
 * server and the mounts back after each test, the helpers) and main with
 * the tests in the order they run; the tests are in
 * test_nfs_{access,faults,names,io}.c by topic, included below into this
 * one translation unit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/uvfs.h>
#include <uvfs/nfs.h>

static const char *SOURCE, *HOST, *DIR_, *STATE, *GANESHA;
static struct uvfs *U;
static struct uvfs_ctx *C;
static int mnt_no;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the fixture ---------------------------------------------------------
 *
 * Each test mounts the export on fresh mount points (mount_new, or
 * mount_at on one it made) and unmounts them itself (umount_at): those
 * are part of what it checks.  The fixture remembers what the test left
 * behind, and its teardown, run whatever the test's outcome, puts it back
 * so that one failure does not fail the tests after it: a partition
 * healed, a killed server restarted, the working directory "/" again,
 * every mount still up unmounted (forced).  Only the test's own thread
 * touches it (the threads a test starts neither mount nor call server()).
 */

#define FX_MOUNTS 8

static struct {
	char mounted[FX_MOUNTS][32];    /* mounted by the test; "" = free */
	bool partitioned;               /* server("partition"), not healed */
	bool frozen;                    /* server("freeze"), not thawed */
	bool killed;                    /* server("kill"), not restarted */
} fx;

/* Runs ganesha.sh VERB (partition, heal, freeze, thaw, kill, restart) on
 * the server;
 * the shell's status. */
static int ganesha(const char *verb)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s' %s '%s' >/dev/null", GANESHA, verb,
		 STATE);
	return system(cmd);
}

/* ganesha(verb), which must succeed; the fixture notes the state. */
static void server(const char *verb)
{
	assert_int_equal(ganesha(verb), 0);
	if (strcmp(verb, "partition") == 0)
		fx.partitioned = true;
	else if (strcmp(verb, "heal") == 0)
		fx.partitioned = false;
	else if (strcmp(verb, "freeze") == 0)
		fx.frozen = true;
	else if (strcmp(verb, "thaw") == 0)
		fx.frozen = false;
	else if (strcmp(verb, "kill") == 0)
		fx.killed = true;
	else if (strcmp(verb, "restart") == 0)
		fx.killed = false;
}

/* A fresh mount point; returns its path. */
static const char *new_target(char *buf, size_t sz)
{
	snprintf(buf, sz, "/m%d", ++mnt_no);
	assert_int_equal(uvfs_mkdir(C, buf, 0755), 0);
	return buf;
}

/* Mounts source (with opts) at the mount point t, which must succeed;
 * the teardown unmounts it if the test does not. */
static void mount_at(const char *t, const char *source, const char *opts)
{
	int i;

	assert_int_equal(uvfs_mount(C, "nfs", source, t, opts), 0);
	for (i = 0; i < FX_MOUNTS && fx.mounted[i][0]; i++)
		;
	assert_true(i < FX_MOUNTS);
	snprintf(fx.mounted[i], sizeof(fx.mounted[i]), "%s", t);
}

/* A fresh mount point (new_target) with source mounted on it. */
static const char *mount_new(char *t, size_t sz, const char *source,
			     const char *opts)
{
	new_target(t, sz);
	mount_at(t, source, opts);
	return t;
}

/* Unmounts t (flags: 0 or UVFS_UMOUNT_FORCE), which must succeed. */
static void umount_at(const char *t, int flags)
{
	assert_int_equal(uvfs_umount(C, t, flags), 0);
	for (int i = 0; i < FX_MOUNTS; i++)
		if (strcmp(fx.mounted[i], t) == 0)
			fx.mounted[i][0] = '\0';
}

static int fx_setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* Puts back what the test left; says what it had to (a passing test
 * leaves nothing). */
static int fx_teardown(void **state)
{
	int r;

	(void)state;
	if (fx.frozen)
		fprintf(stderr, "test_nfs: teardown: the server left stopped; "
			"thaw: %d\n", ganesha("thaw"));
	if (fx.partitioned)
		fprintf(stderr, "test_nfs: teardown: left partitioned; heal: "
			"%d\n", ganesha("heal"));
	if (fx.killed)
		fprintf(stderr, "test_nfs: teardown: the server left killed; "
			"restart: %d\n", ganesha("restart"));
	uvfs_chdir(C, "/");
	for (int i = 0; i < FX_MOUNTS; i++) {
		if (!fx.mounted[i][0])
			continue;
		r = uvfs_umount(C, fx.mounted[i], UVFS_UMOUNT_FORCE);
		fprintf(stderr, "test_nfs: teardown: %s left mounted; forced "
			"unmount: %d\n", fx.mounted[i], r);
	}
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* The requests the mount at t has issued so far (uvfs_nfs_info). */
static unsigned long calls_of(const char *t)
{
	struct uvfs_nfs_info ni;

	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	return ni.calls;
}

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the fixture and helpers above ----------- */

#include "test_nfs_access.c"         /* options, sources, credentials */
#include "test_nfs_faults.c"         /* partitions, kills, restarts */
#include "test_nfs_names.c"          /* silly rename, round trips, caching */
#include "test_nfs_io.c"             /* big I/O, read-ahead, write behind */

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_options),
		T(test_big_io),
		T(test_silly_rename),
		T(test_round_trips),
		T(test_root_squash),
		T(test_cache_modes),
		T(test_negative_names),
		T(test_replaced_elsewhere),
		T(test_read_ahead),
		T(test_read_ahead_window),
		T(test_write_behind),
		T(test_commit_behind),
		T(test_revoke_write_behind),
		T(test_append_together),
		T(test_rename_target),
		T(test_forced_unmount_in_partition),
		T(test_fenced_write),
		T(test_partition_heal),
		T(test_restart_soft),
		T(test_restart_hard),
		T(test_resend_soft),
		T(test_resend_hard),
	};
	int failed;

	if (getenv("UVFS_NFS_TESTS"))     /* a pattern: some tests only */
		cmocka_set_test_filter(getenv("UVFS_NFS_TESTS"));
	SOURCE = getenv("UVFS_NFS_SOURCE");
	HOST = getenv("UVFS_NFS_HOST");
	DIR_ = getenv("UVFS_NFS_DIR");
	STATE = getenv("UVFS_NFS_STATE");
	GANESHA = getenv("UVFS_GANESHA");
	if (!SOURCE || !HOST || !DIR_ || !STATE || !GANESHA) {
		printf("test_nfs: SKIP: run it under tests/nfs/ganesha.sh run, "
		       "with UVFS_GANESHA set to that script\n");
		return 77;
	}
	if (uvfs_new(NULL, &U) || uvfs_ctx_new(U, NULL, &C) ||
	    uvfs_nfs_register(U)) {
		fprintf(stderr, "test_nfs: cannot set up an instance\n");
		return 1;
	}
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	uvfs_ctx_free(C);
	uvfs_free(U);
	return failed ? 1 : 0;
}

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
 *  - read-ahead: 8 MiB read in 128 KiB calls costs a few requests, not
 *    64, comes back exact, and a write through the mount in the middle
 *    is seen by the reads after it;
 *  - silly rename: an open file unlinked lives on under ".nfs" names until
 *    its last close, then they go; a rename between two names of one open
 *    file changes nothing;
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
 *  - a rename's target not in the name cache is not looked up: one
 *    RENAME, the server's replace or refusal; the core's checks still
 *    apply where a victim matters (a sticky directory, a mount point),
 *    and the exclusive create's -EEXIST comes before -EACCES.
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
 * every mount still up unmounted (forced).
 */

#define FX_MOUNTS 8

static struct {
	char mounted[FX_MOUNTS][32];    /* mounted by the test; "" = free */
	bool partitioned;               /* server("partition"), not healed */
	bool killed;                    /* server("kill"), not restarted */
} fx;

/* Runs ganesha.sh VERB (partition, heal, kill, restart) on the server;
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

static void test_options(void **state)
{
	static const char *bad_opts[] = {
		"vers=4", "vers=2", "vers=", "timeout=0", "timeout=abc",
		"timeout=99", "actimeo=-1", "actimeo=x", "bogus", "hard=1",
		"noac=1", "timeout",
	};
	char t[32], src[512];

	(void)state;
	new_target(t, sizeof(t));
	for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
		int r = uvfs_mount(C, "nfs", SOURCE, t, bad_opts[i]);
		if (r != -EINVAL)
			fail_msg("option \"%s\": %d, want -EINVAL", bad_opts[i],
				 r);
	}
	const char *bad_src[] = { "", "nfs://", "nfs://host", "host",
				  "host:export", ":/export",
				  "nfs://h:2049/export", "nfs://u@h/export" };
	for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		int r = uvfs_mount(C, "nfs", bad_src[i], t, "");
		if (r != -EINVAL)
			fail_msg("source \"%s\": %d, want -EINVAL", bad_src[i],
				 r);
	}
	snprintf(src, sizeof(src), "%s:/no/such/export", HOST);
	/* ganesha answers MNT3ERR_ACCES for an export it does not have */
	int r = uvfs_mount(C, "nfs", src, t, "timeout=5000");
	assert_true(r == -ENOENT || r == -EACCES);
	/* the good forms, with every option */
	snprintf(src, sizeof(src), "%s:/export/", HOST);
	mount_at(t, src,
		 "vers=3,timeout=5000,actimeo=0,ac,noac,hard,soft");
	umount_at(t, 0);
	mount_at(t, SOURCE, "");
	umount_at(t, 0);
}

struct blocked {
	const char *path;
	_Atomic int result;     /* read by the main thread while it runs */
	uint64_t ms;
};

static void *stat_thread(void *arg)
{
	struct blocked *b = arg;
	struct stat st;
	uint64_t t0 = now_ms();

	int r = uvfs_stat(C, b->path, &st);
	b->ms = now_ms() - t0;
	b->result = r;
	return NULL;
}

static void test_forced_unmount_in_partition(void **state)
{
	char t[32], path[64];
	struct blocked b = { .path = path };
	pthread_t th;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=20000,noac,deadline=1000");
	snprintf(path, sizeof(path), "%s/x", t);
	server("partition");
	assert_int_equal(pthread_create(&th, NULL, stat_thread, &b), 0);
	usleep(300 * 1000);     /* let it block (it would wait 20 s) */
	uint64_t t0 = now_ms();
	umount_at(t, UVFS_UMOUNT_FORCE);
	uint64_t took = now_ms() - t0;
	pthread_join(th, NULL);
	server("heal");
	printf("forced unmount in a partition: %llu ms; the caller waited "
	       "%llu ms and got %d\n", (unsigned long long)took,
	       (unsigned long long)b.ms, atomic_load(&b.result));
	assert_int_equal(atomic_load(&b.result), -EIO);
	assert_true(took < 2000);
	assert_true(b.ms < 5000);       /* not its 20 s deadline */
}

static void test_fenced_write(void **state)
{
	char t[32], path[64], host[512];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=1000,noac");
	snprintf(path, sizeof(path), "%s/fenced", t);
	fd = uvfs_open(C, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	server("partition");
	uint64_t t0 = now_ms();
	/* behind: sent, not waited for; fsync waits for it, by its
	 * deadline, and reports its end */
	assert_int_equal(uvfs_pwrite(C, fd, "25 bytes that never land", 25,
				     0), 25);
	int w = uvfs_fsync(C, fd);
	uint64_t took = now_ms() - t0;
	printf("write and fsync in a partition: %d after %llu ms\n", w,
	       (unsigned long long)took);
	assert_true(w == -ETIMEDOUT || w == -EIO);
	assert_true(took < 1000 + 2000);
	server("heal");
	/* what the server holds after the heal: never the write */
	snprintf(host, sizeof(host), "%s/fenced", DIR_);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(stat(host, &st), 0);
		assert_int_equal(st.st_size, 0);
		usleep(100 * 1000);
	}
	/* and the mount is back (reconnected) within a few seconds */
	int r = -1;
	for (int i = 0; i < 50 && r != 0; i++) {
		r = uvfs_stat(C, path, &st);
		if (r)
			usleep(100 * 1000);
	}
	assert_int_equal(r, 0);
	assert_int_equal(uvfs_pwrite(C, fd, "ok", 2, 0), 2);
	assert_int_equal(uvfs_fsync(C, fd), 0);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
}

static void test_restart_soft(void **state)
{
	char t[32], path[64], buf[16];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,noac");
	snprintf(path, sizeof(path), "%s/held", t);
	fd = uvfs_open(C, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(C, fd, "before", 6, 0), 6);
	assert_int_equal(uvfs_fsync(C, fd), 0);
	server("kill");
	/* soft, the server gone (its host refuses): the session is
	 * reconnecting, and a call waits for it at most its deadline (a
	 * restart within it is not seen), then -ETIMEDOUT (docs/nfs.md) */
	struct uvfs_nfs_info ni0;
	assert_int_equal(uvfs_nfs_info(U, "/nowhere", &ni0), -ENOENT);
	uint64_t t0 = now_ms();
	int r = (int)uvfs_pread(C, fd, buf, sizeof(buf), 0);
	uint64_t took = now_ms() - t0;
	printf("soft, server killed: a read got %d after %llu ms\n", r,
	       (unsigned long long)took);
	assert_true(r == -ETIMEDOUT || r == -EIO);
	assert_true(took < 5000 + 2500);
	assert_int_equal(uvfs_nfs_info(U, t, &ni0), 0);
	assert_string_equal(ni0.state, "reconnecting");
	server("restart");
	/* back within a few seconds; the held file reads on */
	for (int i = 0; i < 100; i++) {
		r = (int)uvfs_pread(C, fd, buf, sizeof(buf), 0);
		if (r >= 0)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(r, 6);
	assert_memory_equal(buf, "before", 6);
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_string_equal(ni.state, "running");
	assert_true(ni.losses >= 1);
	assert_true(ni.reconnects >= 1);
	/* the last failure: the loss, or a refused reconnect attempt */
	assert_true(ni.last_error == ECONNRESET || ni.last_error == EIO ||
		    ni.last_error == ECONNREFUSED);
	assert_true(ni.last_loss > 0);
	assert_int_equal(ni.hard, 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(uvfs_pwrite(C, fd, "after!", 6, 0), 6);
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
}

/* A partition: the first call waits its deadline and is fenced, the next
 * fail at once (soft), and after the heal the mount is back within about
 * a second (a reconnect attempt stuck in the partition is started
 * afresh). */
static void test_partition_heal(void **state)
{
	char t[32], path[64];
	struct stat st;
	int r;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=1500,noac");
	snprintf(path, sizeof(path), "%s/p", t);
	assert_int_equal(uvfs_mkdir(C, path, 0755), 0);
	server("partition");
	uint64_t t0 = now_ms();
	int r1 = uvfs_stat(C, path, &st);
	uint64_t first = now_ms() - t0;
	assert_true(r1 == -ETIMEDOUT || r1 == -EIO);
	assert_true(first < 1500 + 1500);
	t0 = now_ms();
	r = uvfs_stat(C, path, &st);
	uint64_t next = now_ms() - t0;
	assert_int_equal(r, -EIO);
	assert_true(next < 500);        /* fail fast, not another deadline */
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_string_equal(ni.state, "unreachable");
	/* noticed at the deadline (a timeout) or, first, by TCP's user
	 * timeout at half of it: either is a silence */
	assert_true(ni.unreachable >= 1);
	assert_int_equal(ni.last_error, ETIMEDOUT);
	sleep(2);                       /* reconnect attempts meanwhile */
	server("heal");
	t0 = now_ms();
	r = -1;
	while (r != 0 && now_ms() - t0 < 10000) {
		r = uvfs_stat(C, path, &st);
		if (r)
			usleep(20 * 1000);
	}
	uint64_t back = now_ms() - t0;
	printf("partition: first call %d after %llu ms, next %llu ms; back "
	       "%llu ms after the heal\n", r1, (unsigned long long)first,
	       (unsigned long long)next, (unsigned long long)back);
	assert_int_equal(r, 0);
	assert_true(back < 2500);       /* the target is 1 s; slack for load */
	assert_int_equal(uvfs_rmdir(C, path), 0);
	umount_at(t, 0);
}

static void *read_thread(void *arg)
{
	struct blocked *b = arg;
	char buf[16];
	uint64_t t0 = now_ms();
	int fd = uvfs_open(C, b->path, O_RDONLY, 0);

	int r = fd < 0 ? fd : (int)uvfs_read(C, fd, buf, sizeof(buf));
	b->ms = now_ms() - t0;
	if (fd >= 0)
		uvfs_close(C, fd);
	b->result = r;
	return NULL;
}

static void test_restart_hard(void **state)
{
	char t[32], path[64], host[512];
	struct blocked b = { .path = path, .result = -1000 };
	pthread_t th;
	FILE *f;

	(void)state;
	snprintf(host, sizeof(host), "%s/hardfile", DIR_);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("hard mount", f);
	fclose(f);
	mount_new(t, sizeof(t), SOURCE, "timeout=20000,noac,hard");
	snprintf(path, sizeof(path), "%s/hardfile", t);
	server("kill");
	usleep(300 * 1000);     /* the loss is seen */
	assert_int_equal(pthread_create(&th, NULL, read_thread, &b), 0);
	usleep(1000 * 1000);
	/* it waits: nothing answered yet */
	assert_int_equal(atomic_load(&b.result), -1000);
	server("restart");
	pthread_join(th, NULL);
	printf("hard: the reader got %d after the restart\n",
	       atomic_load(&b.result));
	assert_int_equal(atomic_load(&b.result), 10);
	umount_at(t, 0);
}

static int count_nfs_files(void)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '^\\.nfs'", DIR_);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* Silly rename: an open file unlinked or renamed over lives on under a
 * ".nfs" name until its last close (only when it was its last name); a
 * rename between two names of one open file changes nothing. */
static void test_silly_rename(void **state)
{
	char t[32], a[64], b[64], buf[8];
	struct stat st;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000");
	snprintf(a, sizeof(a), "%s/sa", t);
	snprintf(b, sizeof(b), "%s/sb", t);
	fd = uvfs_open(C, a, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, "silly", 5), 5);
	assert_int_equal(uvfs_link(C, a, b), 0);
	assert_int_equal(uvfs_rename(C, a, b, 0), 0);   /* same file */
	assert_int_equal(uvfs_stat(C, a, &st), 0);
	assert_int_equal(uvfs_stat(C, b, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(uvfs_rename(C, a, a, 0), 0);
	assert_int_equal(uvfs_stat(C, a, &st), 0);
	assert_int_equal(count_nfs_files(), 0);
	assert_int_equal(uvfs_unlink(C, b), 0);         /* a link is left */
	assert_int_equal(count_nfs_files(), 0);
	assert_int_equal(uvfs_unlink(C, a), 0);         /* the last one */
	assert_int_equal(uvfs_stat(C, a, &st), -ENOENT);
	assert_int_equal(count_nfs_files(), 1);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(uvfs_pread(C, fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "silly", 5);
	assert_int_equal(uvfs_close(C, fd), 0);
	/* gone after the close (the removals are sent, not waited for) */
	int n = -1;
	for (int i = 0; i < 100 && n != 0; i++) {
		n = count_nfs_files();
		if (n)
			usleep(50 * 1000);
	}
	assert_int_equal(n, 0);
	umount_at(t, 0);
}

static unsigned long calls_of(const char *t)
{
	struct uvfs_nfs_info ni;

	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	return ni.calls;
}

/* The requests each operation waits for (the loop's call counter; none
 * are sent that are not waited for here): printed, and bounded so that a
 * change that adds round trips shows.  actimeo=60: the default's rules
 * with a lifetime no loaded machine outlasts between two calls. */
static void test_round_trips(void **state)
{
	char t[32], d[64], f[96], g[96];
	struct uvfs_dirent de[64];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,actimeo=60");
	snprintf(d, sizeof(d), "%s/rt", t);
	snprintf(f, sizeof(f), "%s/f", d);
	snprintf(g, sizeof(g), "%s/g", d);
	assert_int_equal(uvfs_mkdir(C, d, 0755), 0);
	assert_int_equal(uvfs_stat(C, d, &st), 0);
	/* names relative to the directory: one component each */
	assert_int_equal(uvfs_chdir(C, d), 0);
	snprintf(f, sizeof(f), "f");
	snprintf(g, sizeof(g), "g");

	c0 = calls_of(t);
	fd = uvfs_open(C, f, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	unsigned long create = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_close(C, fd), 0);
	unsigned long closed = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_stat(C, f, &st), 0);
	unsigned long stat1 = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_rename(C, f, g, 0), 0);
	unsigned long ren = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, f, &st), -ENOENT);
	c0 = calls_of(t);
	assert_int_equal(uvfs_stat(C, g, &st), 0);
	unsigned long stat2 = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_unlink(C, g), 0);
	unsigned long unl = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, g, &st), -ENOENT);
	/* the same name made again: not the old file */
	fd = uvfs_open(C, g, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_open(C, g, O_CREAT | O_EXCL | O_WRONLY, 0600),
			 -EEXIST);
	assert_int_equal(uvfs_stat(C, g, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(uvfs_unlink(C, g), 0);
	/* ls -l of 1000 entries made by the other mount: the listing, then
	 * an lstat of each name */
	char t2[32], d2[64];
	mount_new(t2, sizeof(t2), SOURCE, "timeout=5000");
	snprintf(d2, sizeof(d2), "%s/rt", t2);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/e%d", d2, i);
		fd = uvfs_open(C, p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		assert_int_equal(uvfs_close(C, fd), 0);
	}
	umount_at(t2, 0);
	c0 = calls_of(t);
	int dfd = uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	ssize_t k, total = 0;
	while ((k = uvfs_readdir(C, dfd, de, 64)) > 0)
		total += k;
	assert_int_equal(k, 0);
	assert_int_equal(total, 1002);
	assert_int_equal(uvfs_close(C, dfd), 0);
	unsigned long list = calls_of(t) - c0;
	c0 = calls_of(t);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_lstat(C, p, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0644);
	}
	unsigned long stats = calls_of(t) - c0;
	printf("requests waited for: open(O_CREAT|O_EXCL) %lu, close %lu, "
	       "stat %lu, rename %lu, stat of the new name %lu, unlink %lu; "
	       "readdir of 1000 entries %lu, then 1000 lstats %lu\n", create,
	       closed, stat1, ren, stat2, unl, list, stats);
	assert_int_equal(create, 1);    /* CREATE (GUARDED), no LOOKUP */
	assert_int_equal(closed, 0);
	assert_int_equal(stat1, 0);     /* the CREATE's name and attributes */
	assert_int_equal(ren, 1);       /* RENAME: no LOOKUP of the target */
	assert_true(stat2 <= 1);        /* a GETATTR: the rename's ctime */
	assert_int_equal(unl, 1);       /* REMOVE of a known name */
	assert_true(list <= 5);         /* GETATTR (open), READDIRPLUS */
	assert_int_equal(stats, 0);     /* the listing named them */

	/* the same with cache=loose, on a second mount of the export */
	char tl[32], dl[64];
	mount_new(tl, sizeof(tl), SOURCE, "timeout=5000,cache=loose");
	snprintf(dl, sizeof(dl), "%s/rt", tl);
	assert_int_equal(uvfs_chdir(C, dl), 0);
	c0 = calls_of(tl);
	dfd = uvfs_open(C, ".", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	total = 0;
	while ((k = uvfs_readdir(C, dfd, de, 64)) > 0)
		total += k;
	assert_int_equal(total, 1002);
	assert_int_equal(uvfs_close(C, dfd), 0);
	unsigned long llist = calls_of(tl) - c0;
	c0 = calls_of(tl);
	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_lstat(C, p, &st), 0);
	}
	unsigned long lstats = calls_of(tl) - c0;
	c0 = calls_of(tl);
	assert_int_equal(uvfs_stat(C, "e1", &st), 0);
	unsigned long lstat1 = calls_of(tl) - c0;
	c0 = calls_of(tl);
	assert_int_equal(uvfs_unlink(C, "e0"), 0);
	unsigned long lunl = calls_of(tl) - c0;
	c0 = calls_of(tl);
	fd = uvfs_open(C, "e0", O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	unsigned long lcreate = calls_of(tl) - c0;
	assert_int_equal(uvfs_close(C, fd), 0);
	printf("cache=loose: open(O_CREAT) %lu, stat %lu, unlink %lu; "
	       "readdir of 1000 entries %lu, then 1000 lstats %lu\n",
	       lcreate, lstat1, lunl, llist, lstats);
	assert_true(llist <= 10);       /* READDIRPLUSes */
	assert_int_equal(lstats, 0);    /* the listing named them */
	assert_int_equal(lstat1, 0);
	assert_true(lunl <= 2);
	assert_true(lcreate <= 2);
	assert_int_equal(uvfs_chdir(C, d), 0);
	umount_at(tl, 0);

	for (int i = 0; i < 1000; i++) {
		char p[128];
		snprintf(p, sizeof(p), "e%d", i);
		assert_int_equal(uvfs_unlink(C, p), 0);
	}
	assert_int_equal(uvfs_chdir(C, "/"), 0);
	assert_int_equal(uvfs_rmdir(C, d), 0);
	umount_at(t, 0);
}

/* Large reads and writes go out as many requests at once: the data must
 * come back exactly, whatever the order of the replies.  Prints the rates
 * (figures, not verdicts). */
static void test_big_io(void **state)
{
	enum { CHUNK = 4 << 20, TOTAL = 64 << 20 };
	char t[32], path[64], host[512];
	unsigned char *buf = malloc(CHUNK), *back = malloc(CHUNK);
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(buf);
	assert_non_null(back);
	mount_new(t, sizeof(t), SOURCE, "timeout=20000");
	snprintf(path, sizeof(path), "%s/big", t);
	fd = uvfs_open(C, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	uint64_t t0 = now_ms();
	for (unsigned off = 0; off < TOTAL; off += CHUNK) {
		for (unsigned i = 0; i < CHUNK; i++)
			buf[i] = (unsigned char)((off + i) * 2654435761u >> 24);
		assert_int_equal(uvfs_pwrite(C, fd, buf, CHUNK, off), CHUNK);
	}
	assert_int_equal(uvfs_fsync(C, fd), 0);
	uint64_t tw = now_ms() - t0;
	snprintf(host, sizeof(host), "%s/big", DIR_);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_size, TOTAL);
	t0 = now_ms();
	for (unsigned off = 0; off < TOTAL; off += CHUNK) {
		assert_int_equal(uvfs_pread(C, fd, back, CHUNK, off), CHUNK);
		for (unsigned i = 0; i < CHUNK; i++)
			if (back[i] !=
			    (unsigned char)((off + i) * 2654435761u >> 24))
				fail_msg("byte %u differs", off + i);
	}
	uint64_t tr = now_ms() - t0;
	/* a read across the end is short only there */
	assert_int_equal(uvfs_pread(C, fd, back, CHUNK, TOTAL - 100), 100);
	assert_int_equal(uvfs_pread(C, fd, back, CHUNK, TOTAL), 0);
	printf("64 MiB in 4 MiB calls: write+fsync %llu ms (%.0f MB/s), "
	       "read %llu ms (%.0f MB/s, checking included)\n",
	       (unsigned long long)tw, TOTAL / 1e3 / (tw ? tw : 1),
	       (unsigned long long)tr, TOTAL / 1e3 / (tr ? tr : 1));
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
	free(buf);
	free(back);
}

struct writer {
	int fd;
	_Atomic int result;
};

/* A write (behind) and the fsync that waits for it: the count, or the
 * error either reports. */
static void *write_thread(void *arg)
{
	struct writer *w = arg;
	int r = (int)uvfs_pwrite(C, w->fd, "written", 7, 0);

	if (r >= 0) {
		int e = uvfs_fsync(C, w->fd);
		if (e)
			r = e;
	}
	w->result = r;
	return NULL;
}

/* Requests out when their connection is lost (ganesha killed during a
 * partition, so the loss shows at the heal): an idempotent one (the
 * GETATTR of an open, then the READ) is sent again on the next connection
 * and succeeds, soft or hard; a WRITE is sent again only on a hard mount,
 * and fails with -EIO on a soft one. */
static void resend_case(const char *opts, bool hard)
{
	char t[32], path[64], wpath[64], host[512];
	struct blocked b = { .path = path, .result = -1000 };
	struct writer w = { .result = -1000 };
	pthread_t th, tw;
	FILE *f;

	snprintf(host, sizeof(host), "%s/resent", DIR_);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("sent again", f);
	fclose(f);
	mount_new(t, sizeof(t), SOURCE, opts);
	snprintf(path, sizeof(path), "%s/resent", t);
	snprintf(wpath, sizeof(wpath), "%s/written", t);
	w.fd = uvfs_open(C, wpath, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(w.fd >= 0);
	server("partition");
	assert_int_equal(pthread_create(&th, NULL, read_thread, &b), 0);
	assert_int_equal(pthread_create(&tw, NULL, write_thread, &w), 0);
	usleep(500 * 1000);     /* their requests are out, unanswered */
	server("kill");
	server("heal");         /* the retransmissions meet a reset */
	usleep(800 * 1000);
	assert_int_equal(atomic_load(&b.result), -1000);  /* still waiting */
	server("restart");
	pthread_join(th, NULL);
	pthread_join(tw, NULL);
	printf("%s, lost in flight: the reader got %d after %llu ms, the "
	       "writer %d\n", opts, atomic_load(&b.result),
	       (unsigned long long)b.ms, atomic_load(&w.result));
	assert_int_equal(atomic_load(&b.result), 10);
	assert_int_equal(atomic_load(&w.result), hard ? 7 : -EIO);
	struct uvfs_nfs_info ni;
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	assert_true(ni.replays >= 1);
	assert_int_equal(uvfs_close(C, w.fd), 0);
	if (hard) {
		char back[8] = { 0 };
		snprintf(host, sizeof(host), "%s/written", DIR_);
		f = fopen(host, "r");
		assert_non_null(f);
		assert_int_equal(fread(back, 1, sizeof(back), f), 7);
		fclose(f);
		assert_memory_equal(back, "written", 7);
	}
	umount_at(t, 0);
}

static void test_resend_soft(void **state)
{
	(void)state;
	resend_case("timeout=30000,noac", false);
}

static void test_resend_hard(void **state)
{
	(void)state;
	resend_case("timeout=30000,noac,hard", true);
}

/* Per-caller credentials on an export that squashes root: each request
 * carries its caller's uid, gid and groups (AUTH_SYS), so an ordinary user
 * creates, writes and reads its own files there, and the server itself
 * refuses what its own checks refuse: root (squashed to nobody, though the
 * core lets root read anything) reading a user's 0600 file; a group only
 * the 17th of a caller's groups grants (AUTH_SYS carries 16). */
static void test_root_squash(void **state)
{
	const char *src = getenv("UVFS_NFS_SQUASH_SOURCE");
	const char *sdir = getenv("UVFS_NFS_SQUASH_DIR");
	struct uvfs_cred u1 = { .uid = 1000, .gid = 1000, .ngroups = 1,
				.groups = { 2000 } };
	struct uvfs_cred many = { .uid = 1002, .gid = 1002, .ngroups = 17 };
	struct uvfs_ctx *c1, *c17;
	char t[32], p[96], d[96], host[600], buf[32];
	struct stat st;
	int fd;

	(void)state;
	if (!src || !sdir)
		skip();
	for (unsigned i = 0; i < 17; i++)
		many.groups[i] = 3000 + i;      /* 3016 is the 17th */
	assert_int_equal(uvfs_ctx_new(U, &u1, &c1), 0);
	assert_int_equal(uvfs_ctx_new(U, &many, &c17), 0);
	mount_new(t, sizeof(t), src, "timeout=5000,noac");

	/* an ordinary user: its own files, created, written, read */
	snprintf(p, sizeof(p), "%s/mine", t);
	fd = uvfs_open(c1, p, O_CREAT | O_RDWR | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(c1, fd, "user data", 9), 9);
	assert_int_equal(uvfs_fsync(c1, fd), 0);
	assert_int_equal(uvfs_pread(c1, fd, buf, sizeof(buf), 0), 9);
	assert_memory_equal(buf, "user data", 9);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(d, sizeof(d), "%s/dir", t);
	assert_int_equal(uvfs_mkdir(c1, d, 0700), 0);
	snprintf(d, sizeof(d), "%s/dir/inner", t);
	fd = uvfs_open(c1, d, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(c1, fd), 0);
	/* the server made them the user's (its owner, not root's) */
	snprintf(host, sizeof(host), "%s/mine", sdir);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(host, sizeof(host), "%s/dir/inner", sdir);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(st.st_uid, 1000);

	/* root: the core lets it read anything, the server squashes it to
	 * nobody and refuses the user's 0600 file */
	fd = uvfs_open(C, p, O_RDONLY, 0);
	if (fd >= 0) {
		ssize_t r = uvfs_pread(C, fd, buf, sizeof(buf), 0);
		printf("root squashed: read of a user's 0600 file: %zd\n", r);
		assert_int_equal(r, -EACCES);
		assert_int_equal(uvfs_close(C, fd), 0);
	} else {
		assert_int_equal(fd, -EACCES);
	}
	/* ... and its creation there is nobody's, or refused */
	snprintf(d, sizeof(d), "%s/byroot", t);
	fd = uvfs_open(C, d, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0) {
		assert_int_equal(uvfs_close(C, fd), 0);
		snprintf(host, sizeof(host), "%s/byroot", sdir);
		assert_int_equal(stat(host, &st), 0);
		assert_true(st.st_uid != 0);
	}

	/* groups: a file of group 2000 (mode 0640) reads for the user whose
	 * supplementary group it is; one of group 3016 (the 17th group) is
	 * refused by the server though the core allows it */
	snprintf(host, sizeof(host), "%s/grp", sdir);
	FILE *f = fopen(host, "w");
	assert_non_null(f);
	fputs("group", f);
	fclose(f);
	assert_int_equal(chown(host, 0, 2000), 0);
	assert_int_equal(chmod(host, 0640), 0);
	snprintf(host, sizeof(host), "%s/grp17", sdir);
	f = fopen(host, "w");
	assert_non_null(f);
	fputs("group", f);
	fclose(f);
	assert_int_equal(chown(host, 0, 3016), 0);
	assert_int_equal(chmod(host, 0640), 0);
	snprintf(p, sizeof(p), "%s/grp", t);
	fd = uvfs_open(c1, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pread(c1, fd, buf, sizeof(buf), 0), 5);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(p, sizeof(p), "%s/grp17", t);
	fd = uvfs_open(c17, p, O_RDONLY, 0);
	assert_true(fd >= 0);   /* the core: 3016 is one of its groups */
	ssize_t r17 = uvfs_pread(c17, fd, buf, sizeof(buf), 0);
	printf("a group past AUTH_SYS's 16: read %zd\n", r17);
	assert_int_equal(r17, -EACCES);
	assert_int_equal(uvfs_close(c17, fd), 0);

	umount_at(t, 0);
	uvfs_ctx_free(c1);
	uvfs_ctx_free(c17);
}

/* Another client writes: through a mount of its own (ganesha caches
 * attributes itself, so a change made beside it, on its disk, is not
 * what another NFS client would see). */
static void other_write(const char *tw, const char *name, const char *text)
{
	char p[96];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tw, name);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, text, strlen(text)),
			 (ssize_t)strlen(text));
	assert_int_equal(uvfs_fsync(C, fd), 0);
	assert_int_equal(uvfs_close(C, fd), 0);
}

/* The caching modes (docs/nfs.md): the default (cto) sees another
 * writer's change at the next open; cache=loose trusts what it saw and
 * asks the server nothing for an open, an fstat or a stat of a name it
 * knows, until this mount changes something; cache=none asks at every
 * getattr. */
static void test_cache_modes(void **state)
{
	char tw[32], t1[32], t2[32], t3[32], p[96], q[96], buf[32];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE,
		  "timeout=5000,noac");     /* the other client */
	other_write(tw, "cm", "one");
	/* default: close-to-open */
	mount_new(t1, sizeof(t1), SOURCE, "timeout=5000");
	snprintf(p, sizeof(p), "%s/cm", t1);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(uvfs_close(C, fd), 0);
	other_write(tw, "cm", "two, longer");
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 11);       /* seen at the open */
	assert_int_equal(uvfs_read(C, fd, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "two, longer", 11);
	assert_int_equal(uvfs_close(C, fd), 0);

	/* loose: what it saw, until it changes something itself */
	mount_new(t2, sizeof(t2), SOURCE, "timeout=5000,cache=loose");
	snprintf(p, sizeof(p), "%s/cm", t2);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	assert_int_equal(st.st_size, 11);
	other_write(tw, "cm", "three, longest");
	c0 = calls_of(t2);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(st.st_size, 11);       /* trusted, not asked */
	assert_int_equal(uvfs_close(C, fd), 0);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	unsigned long loose = calls_of(t2) - c0;
	printf("cache=loose: open, fstat, close, stat of a known name: %lu "
	       "requests\n", loose);
	assert_int_equal(loose, 0);
	/* a change of its own: what it trusted is asked again */
	snprintf(q, sizeof(q), "%s/cm-other", t2);
	fd = uvfs_open(C, q, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	c0 = calls_of(t2);
	assert_int_equal(uvfs_stat(C, p, &st), 0);
	assert_true(calls_of(t2) - c0 >= 1);
	assert_int_equal(st.st_size, 14);
	assert_int_equal(uvfs_unlink(C, q), 0);

	/* none: every getattr asks */
	mount_new(t3, sizeof(t3), SOURCE, "timeout=5000,cache=none");
	snprintf(p, sizeof(p), "%s/cm", t3);
	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	c0 = calls_of(t3);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);
	assert_int_equal(calls_of(t3) - c0, 2);
	assert_int_equal(uvfs_close(C, fd), 0);

	umount_at(t1, 0);
	umount_at(t2, 0);
	umount_at(t3, 0);
	umount_at(tw, 0);
}

/* Read-ahead across calls: sequential reads of 128 KiB (FUSE's size)
 * cost a request per piece of RA_BYTES, not one per call; the data is
 * exact; a write through the mount in the middle is seen by the reads
 * after it (what was read ahead is dropped). */
static void test_read_ahead(void **state)
{
	enum { SZ = 8 << 20, CALL = 128 << 10 };
	char t[32], p[64];
	unsigned char *data = malloc(SZ), *back = malloc(SZ);
	int fd, wfd;

	(void)state;
	assert_non_null(data);
	assert_non_null(back);
	for (unsigned i = 0; i < SZ; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 24);
	mount_new(t, sizeof(t), SOURCE, "timeout=10000");
	snprintf(p, sizeof(p), "%s/ra", t);
	fd = uvfs_open(C, p, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_pwrite(C, fd, data, SZ, 0), SZ);
	assert_int_equal(uvfs_close(C, fd), 0);

	fd = uvfs_open(C, p, O_RDONLY, 0);
	assert_true(fd >= 0);
	unsigned long c0 = calls_of(t);
	size_t got = 0;
	ssize_t k;
	while ((k = uvfs_read(C, fd, back + got, CALL)) > 0)
		got += (size_t)k;
	assert_int_equal(k, 0);
	assert_int_equal(got, SZ);
	unsigned long reqs = calls_of(t) - c0;
	assert_memory_equal(back, data, SZ);
	printf("8 MiB read in 128 KiB calls: %lu requests (64 calls)\n",
	       reqs);
	assert_true(reqs <= 20);

	/* a write in the middle, through the mount, while read ahead */
	assert_int_equal(uvfs_lseek(C, fd, 0, SEEK_SET), 0);
	assert_int_equal(uvfs_read(C, fd, back, CALL), CALL);
	assert_int_equal(uvfs_read(C, fd, back, CALL), CALL);  /* reads ahead */
	wfd = uvfs_open(C, p, O_WRONLY, 0);
	assert_true(wfd >= 0);
	assert_int_equal(uvfs_pwrite(C, wfd, "NEW!", 4, 3 * CALL), 4);
	assert_int_equal(uvfs_close(C, wfd), 0);
	assert_int_equal(uvfs_read(C, fd, back, CALL), CALL);
	assert_int_equal(uvfs_read(C, fd, back, CALL), CALL);
	assert_memory_equal(back, "NEW!", 4);
	assert_memory_equal(back + 4, data + 3 * CALL + 4, CALL - 4);
	assert_int_equal(uvfs_close(C, fd), 0);
	umount_at(t, 0);
	free(data);
	free(back);
}

/* A rename's target is not looked up (the core's rename_blind_ok): the
 * server replaces it or refuses, as with Linux's client; a sticky
 * directory (not for root) and a mount on the instance's vnodes still go
 * through the core's checks.  The
 * exclusive create with no LOOKUP still answers -EEXIST before -EACCES. */
static void test_rename_target(void **state)
{
	char t[32], tw[32], p[96], q[96], buf[16];
	struct stat st;
	unsigned long c0;
	int fd;

	(void)state;
	mount_new(tw, sizeof(tw), SOURCE,
		  "timeout=5000,noac");     /* the other client */
	other_write(tw, "rta", "from a");
	other_write(tw, "rtb", "from b");
	snprintf(p, sizeof(p), "%s/rtdir", tw);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	snprintf(p, sizeof(p), "%s/rtdir/inside", tw);
	assert_int_equal(uvfs_mkdir(C, p, 0755), 0);
	mount_new(t, sizeof(t), SOURCE, "timeout=5000,actimeo=60");
	snprintf(p, sizeof(p), "%s/rta", t);
	snprintf(q, sizeof(q), "%s/rtb", t);
	assert_int_equal(uvfs_stat(C, p, &st), 0);     /* known; rtb not */
	c0 = calls_of(t);
	assert_int_equal(uvfs_rename(C, p, q, 0), 0);  /* over rtb */
	unsigned long ren = calls_of(t) - c0;
	assert_int_equal(uvfs_stat(C, p, &st), -ENOENT);
	fd = uvfs_open(C, q, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_read(C, fd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "from a", 6);
	assert_int_equal(uvfs_close(C, fd), 0);
	/* a file over a directory it did not know: the server refuses */
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_rename(C, q, p, 0), -EISDIR);
	/* a directory over a non-empty one it did not know: refused */
	snprintf(q, sizeof(q), "%s/rtd1", t);
	assert_int_equal(uvfs_mkdir(C, q, 0755), 0);
	assert_int_equal(uvfs_rename(C, q, p, 0), -ENOTEMPTY);
	assert_int_equal(uvfs_rmdir(C, q), 0);
	printf("rename over a name this mount did not know: %lu requests\n",
	       ren);
	assert_int_equal(ren, 1);
	/* the exclusive create with no LOOKUP keeps Linux's order: in a
	 * directory the caller may not write, an existing name is -EEXIST,
	 * a free one -EACCES; and a sticky directory makes the rename's
	 * target looked up (the victim's owner decides) */
	struct uvfs_cred u1 = { .uid = 1000, .gid = 1000 };
	struct uvfs_ctx *c1;
	assert_int_equal(uvfs_ctx_new(U, &u1, &c1), 0);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 0555), 0);
	snprintf(p, sizeof(p), "%s/rtdir/inside", t);
	assert_int_equal(uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644),
			 -EEXIST);
	snprintf(p, sizeof(p), "%s/rtdir/free", t);
	assert_int_equal(uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644),
			 -EACCES);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 01777), 0);
	snprintf(p, sizeof(p), "%s/rtdir/roots", tw);    /* root's, unknown
							   * to this mount */
	fd = uvfs_open(C, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(C, fd), 0);
	snprintf(p, sizeof(p), "%s/rtdir/users", t);
	fd = uvfs_open(c1, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(c1, fd), 0);
	snprintf(q, sizeof(q), "%s/rtdir/roots", t);
	assert_int_equal(uvfs_rename(c1, p, q, 0), -EPERM);  /* sticky */
	assert_int_equal(uvfs_unlink(C, p), 0);
	assert_int_equal(uvfs_unlink(C, q), 0);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_chmod(C, p, 0755), 0);
	uvfs_ctx_free(c1);

	/* a mount on one of the instance's vnodes: the target is looked up
	 * again, so renaming over the mount point is -EBUSY */
	snprintf(p, sizeof(p), "%s/rtdir/inside", t);
	assert_int_equal(uvfs_mount(C, "memfs", "none", p, NULL), 0);
	snprintf(q, sizeof(q), "%s/rtdir/other", t);
	assert_int_equal(uvfs_mkdir(C, q, 0755), 0);
	assert_int_equal(uvfs_rename(C, q, p, 0), -EBUSY);
	assert_int_equal(uvfs_umount(C, p, 0), 0);
	assert_int_equal(uvfs_rmdir(C, q), 0);
	snprintf(p, sizeof(p), "%s/rtdir/inside", t);
	assert_int_equal(uvfs_rmdir(C, p), 0);
	snprintf(p, sizeof(p), "%s/rtdir", t);
	assert_int_equal(uvfs_rmdir(C, p), 0);
	snprintf(p, sizeof(p), "%s/rtb", t);
	assert_int_equal(uvfs_unlink(C, p), 0);
	umount_at(t, 0);
	umount_at(tw, 0);
}

static void host_file(const char *name, char *buf, size_t cap,
		      size_t *len)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", DIR_, name);
	f = fopen(p, "r");
	assert_non_null(f);
	*len = fread(buf, 1, cap, f);
	fclose(f);
}

struct bulk {
	int fd;
	const char *buf;
	size_t len;
	int n;
	_Atomic ssize_t done;   /* bytes written */
	_Atomic int err;        /* the first error, or 0 */
};

static void *bulk_thread(void *arg)
{
	struct bulk *b = arg;

	for (int i = 0; i < b->n; i++) {
		ssize_t w = uvfs_write(C, b->fd, b->buf, b->len);
		if (w < 0) {
			b->err = (int)w;
			break;
		}
		b->done += w;
	}
	return NULL;
}

static void test_write_behind(void **state)
{
	enum { MIB = 1 << 20, N = 16 };
	char t[32], p[64], *data = malloc(N * MIB), *back = malloc(N * MIB);
	struct uvfs_nfs_info ni;
	struct stat st;
	size_t len;
	int fd;

	(void)state;
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < (size_t)N * MIB; i++)
		data[i] = (char)(i * 7 + i / 4099);
	mount_new(t, sizeof(t), SOURCE, "timeout=20000");

	/* 16 MiB in 1 MiB writes, fsync, close: WRITEs and one COMMIT; the
	 * writes do not wait for their replies (more than one out) */
	snprintf(p, sizeof(p), "%s/wb", t);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	unsigned maxout = 0;
	unsigned long c0 = calls_of(t);
	for (int i = 0; i < N; i++) {
		assert_int_equal(uvfs_write(C, fd, data + (size_t)i * MIB, MIB),
				 MIB);
		assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
		if (ni.inflight > maxout)
			maxout = ni.inflight;
	}
	assert_int_equal(uvfs_fsync(C, fd), 0);
	unsigned long reqs = calls_of(t) - c0;
	c0 = calls_of(t);
	assert_int_equal(uvfs_close(C, fd), 0);
	unsigned long closed = calls_of(t) - c0;
	printf("16 MiB in 1 MiB writes + fsync: %lu requests, at most %u in "
	       "flight between writes; close after fsync: %lu\n", reqs,
	       maxout, closed);
	/* behind, not waited for: a write that waited for its WRITE would
	 * leave none out (sixteen times in a row, the reply back before the
	 * next line: the figure printed is 2 to 5 on an idle machine) */
	assert_true(maxout >= 1);
	assert_true(reqs >= N + 1 && reqs <= N * 2 + 1);
	assert_int_equal(closed, 0);            /* nothing left to commit */
	host_file("wb", back, (size_t)N * MIB, &len);
	assert_int_equal(len, (size_t)N * MIB);
	assert_memory_equal(back, data, (size_t)N * MIB);

	/* the server restarts between the WRITEs and the COMMIT: its new
	 * verifier makes fsync send the data again */
	fd = uvfs_open(C, p, O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(C, fd, data + MIB, 4 * MIB), 4 * MIB);
	assert_int_equal(uvfs_fstat(C, fd, &st), 0);   /* WRITEs answered */
	assert_int_equal(st.st_size, 4 * MIB);
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	unsigned long rw0 = ni.rewrites;
	server("restart");
	assert_int_equal(uvfs_fsync(C, fd), 0);
	assert_int_equal(uvfs_nfs_info(U, t, &ni), 0);
	printf("restart between WRITE and COMMIT: %lu WRITEs sent again\n",
	       ni.rewrites - rw0);
	assert_true(ni.rewrites - rw0 >= 4);    /* 4 MiB: 4 WRITEs or more */
	assert_int_equal(uvfs_close(C, fd), 0);
	host_file("wb", back, (size_t)N * MIB, &len);
	assert_int_equal(len, 4 * MIB);
	assert_memory_equal(back, data + MIB, 4 * MIB);
	umount_at(t, 0);

	/* soft: a WRITE lost with its connection is not sent again; once
	 * that is known, writes fail at once and close reports it */
	mount_new(t, sizeof(t), SOURCE, "timeout=30000,noac");
	snprintf(p, sizeof(p), "%s/wbsoft", t);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	server("partition");
	assert_int_equal(uvfs_write(C, fd, data, MIB), MIB);
	usleep(300 * 1000);     /* out, unanswered */
	server("kill");
	server("heal");         /* the retransmissions meet a reset */
	usleep(800 * 1000);
	server("restart");
	/* the mount is back (soft: while the server was silent, calls
	 * failed at once); the fstat waited for the WRITE, which failed */
	int fs = -1;
	for (int i = 0; i < 100 && fs != 0; i++) {
		fs = uvfs_fstat(C, fd, &st);
		if (fs)
			usleep(100 * 1000);
	}
	assert_int_equal(fs, 0);
	uint64_t t0 = now_ms();
	ssize_t w = uvfs_write(C, fd, data, 10);
	uint64_t took = now_ms() - t0;
	int cl = uvfs_close(C, fd);
	printf("soft, a WRITE lost: the next write %zd after %llu ms, close "
	       "%d\n", w, (unsigned long long)took, cl);
	assert_int_equal(w, -EIO);
	assert_true(took < 1000);
	assert_int_equal(cl, -EIO);
	umount_at(t, 0);

	/* a forced unmount with writes in flight in a partition: at once,
	 * and nothing lands after the heal */
	mount_new(t, sizeof(t), SOURCE, "timeout=20000,noac");
	snprintf(p, sizeof(p), "%s/wbforced", t);
	fd = uvfs_open(C, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	server("partition");
	struct bulk bw = { .fd = fd, .buf = data, .len = MIB, .n = 4 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, bulk_thread, &bw), 0);
	usleep(500 * 1000);     /* out, or blocked on a full socket */
	t0 = now_ms();
	umount_at(t, UVFS_UMOUNT_FORCE);
	took = now_ms() - t0;
	pthread_join(th, NULL);
	uint64_t wrote = now_ms() - t0;
	cl = uvfs_close(C, fd);
	server("heal");
	printf("forced unmount, 4 MiB behind in a partition: the unmount "
	       "%llu ms, the writer back after %llu ms with %zd written, "
	       "then %d; close %d\n", (unsigned long long)took,
	       (unsigned long long)wrote, atomic_load(&bw.done),
	       atomic_load(&bw.err), cl);
	assert_true(took < 2000);
	assert_true(wrote < 3000);
	assert_true(cl == 0 || cl == -EIO);
	char host[512];
	snprintf(host, sizeof(host), "%s/wbforced", DIR_);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(stat(host, &st), 0);
		assert_int_equal(st.st_size, 0);
		usleep(100 * 1000);
	}
	free(data);
	free(back);
}

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
		T(test_read_ahead),
		T(test_write_behind),
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

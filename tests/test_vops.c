/*
 * test_vops.c - the vnode operations against revoke and forced unmount, on
 * testfs (testfs.h: node objects freed and poisoned at reclaim, handles at
 * release), and the vnode cache against a driver that reuses inode numbers.
 *
 *  - link and rename whose second vnode was revoked answer EIO and never
 *    hand the driver a reclaimed node;
 *  - a revoke while open is inside the driver, and while the last close is
 *    releasing the handle: the handle is released exactly once, before its
 *    node's reclaim;
 *  - bounded workers: driver operations that block past the deadline do
 *    not hold a worker, freeze other mounts or starve uvfs_settle; what
 *    they held is reclaimed once they return;
 *  - the credentials a driver sees (uvfs_cred_current) are the caller's
 *    on the path and node APIs and the opener's on a node API handle,
 *    whatever the thread did before;
 *  - a close of a descriptor open for writing asks the driver's flush and
 *    answers its error (the descriptor is gone all the same); a read-only
 *    one does not; on a revoked file, EIO only if it was written;
 *  - inode reuse: a lookup that finds another type or generation behind a
 *    cached vnode of the same ino gets a new vnode; the old one is dead.
 *
 * Each test has its own instance; every one ends with the live-object
 * counters (the core's and testfs's) back to the root alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/uvfs.h>

#include "testfs.h"

/* Generous bounds: the machine is shared, timings are not a schedule. */
#define DEADLINE_MS 200
#define SLACK_MS    5000

static struct uvfs *U;
static struct uvfs_ctx *R;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const struct uvfs_fstype_ops reusefs_ops;

static int setup(void **state)
{
	(void)state;
	testfs_unblock();
	testfs_set_delay(0);
	assert_int_equal(uvfs_new(NULL, &U), 0);
	assert_int_equal(uvfs_fstype_register(U, &testfs_ops), 0);
	assert_int_equal(uvfs_fstype_register(U, &reusefs_ops), 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &R), 0);
	return 0;
}

/* Everything released: the counters are back to the root alone, and
 * testfs has no node or handle left. */
static int teardown(void **state)
{
	struct uvfs_stats st;

	(void)state;
	testfs_unblock();
	uvfs_ctx_free(R);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	uvfs_stats(U, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.contexts, 0);
	assert_int_equal(st.mounts, 1);
	assert_int_equal(st.superblocks, 1);
	uvfs_free(U);
	U = NULL;
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(testfs_live_nodes(), 0);
	return 0;
}

static void mount_testfs(const char *t)
{
	assert_int_equal(uvfs_mkdir(R, t, 0755), 0);
	assert_int_equal(uvfs_mount(R, "testfs", "none", t,
				    "deadline=" "200"), 0);
}

static void make_file(const char *path)
{
	int fd = uvfs_open(R, path, O_CREAT | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
}

/* ---- link and rename against revoke ------------------------------------ */

/* Into a revoked directory (the cwd, still held): EIO, and the driver is
 * never handed its reclaimed (freed) node. */
static void test_link_rename_dead_dir(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	mount_testfs("/m");
	make_file("/m/src");
	assert_int_equal(uvfs_mkdir(R, "/m/d", 0755), 0);
	fd = uvfs_open(R, "/m/src", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_chdir(R, "/m/d"), 0);
	assert_int_equal(uvfs_revoke(R, "/m/src"), 0);
	assert_int_equal(uvfs_revoke(R, "/m/d"), 0);
	assert_int_equal(uvfs_fstat(R, fd, &st), -EIO);
	assert_int_equal(uvfs_link(R, "/m/src", "l"), -EIO);
	assert_int_equal(uvfs_rename(R, "/m/src", "x", 0), -EIO);
	/* the fresh vnodes work */
	assert_int_equal(uvfs_link(R, "/m/src", "/m/d/l"), 0);
	assert_int_equal(uvfs_rename(R, "/m/src", "/m/d/x", 0), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_chdir(R, "/"), 0);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

struct racer {
	pthread_t t;
	struct uvfs_ctx *ctx;
	int id;
	atomic_bool *stop;
	unsigned long ok, eio;
};

/* link, rename, open and close in a loop on one mount */
static void *race_main(void *arg)
{
	struct racer *r = arg;
	char a[32], b[32], l[32];
	unsigned long i = 0;

	snprintf(a, sizeof(a), "/m/d/a%d", r->id);
	snprintf(b, sizeof(b), "/m/e/b%d", r->id);
	snprintf(l, sizeof(l), "/m/e/l%d", r->id);
	while (!atomic_load(r->stop)) {
		int fd = uvfs_open(r->ctx, a, O_CREAT | O_RDWR, 0644), e;

		e = uvfs_link(r->ctx, a, l);
		e = e ? e : uvfs_unlink(r->ctx, l);
		e = e ? e : uvfs_rename(r->ctx, a, b, 0);
		e = e ? e : uvfs_rename(r->ctx, b, a, 0);
		if (fd >= 0)
			uvfs_close(r->ctx, fd);
		if (e == 0)
			r->ok++;
		else if (e == -EIO)
			r->eio++;
		else if (e != -ENOENT && e != -EEXIST)
			fail_msg("racer %d: %s", r->id, strerror(-e));
		i++;
	}
	return NULL;
}

/* link, rename, open and close racing revokes of their files and
 * directories, on testfs with slowed calls: a driver call on a reclaimed
 * node or handle aborts the test (or is a use after free under ASan). */
static void test_race_revoke(void **state)
{
	struct racer r[3];
	atomic_bool stop = false;
	double end;
	unsigned long revokes = 0, ok = 0;

	(void)state;
	mount_testfs("/m");
	assert_int_equal(uvfs_mkdir(R, "/m/d", 0755), 0);
	assert_int_equal(uvfs_mkdir(R, "/m/e", 0755), 0);
	testfs_set_delay(30);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){ .id = i, .stop = &stop };
		assert_int_equal(uvfs_ctx_new(U, NULL, &r[i].ctx), 0);
		assert_int_equal(pthread_create(&r[i].t, NULL, race_main,
						&r[i]), 0);
	}
	end = now_ms() + 1000;
	while (now_ms() < end) {
		static const char *const v[] = {
			"/m/d", "/m/e", "/m/d/a0", "/m/d/a1", "/m/e/b2",
			"/m/e/l0",
		};
		int e = uvfs_revoke(R, v[revokes % 6]);
		assert_true(e == 0 || e == -ENOENT);
		revokes++;
		sleep_ms(1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(r[i].t, NULL);
		ok += r[i].ok;
		uvfs_ctx_free(r[i].ctx);
	}
	testfs_set_delay(0);
	print_message("    %lu revokes, %lu rounds done, %lu releases, "
		      "%lu reclaims\n", revokes, ok, testfs_releases(),
		      testfs_reclaims());
	assert_true(revokes > 0);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* ---- open and close against revoke ------------------------------------- */

struct opener {
	pthread_t t;
	struct uvfs_ctx *ctx;
	const char *path;
	int fd;                 /* result */
};

static void *open_main(void *arg)
{
	struct opener *o = arg;

	o->fd = uvfs_open(o->ctx, o->path, O_RDWR, 0);
	return NULL;
}

static void *close_main(void *arg)
{
	struct opener *o = arg;

	o->fd = uvfs_close(o->ctx, o->fd);
	return NULL;
}

/* A revoke (past its deadline: the sb is killed) while open is inside the
 * driver: the file was attached inside the gate, so the kill's reclaim
 * releases its handle; the close then releases nothing. */
static void test_revoke_during_open(void **state)
{
	struct opener o = { .path = "/m/f" };
	unsigned long rel0;
	struct stat st;
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	rel0 = testfs_releases();
	testfs_block(TFS_OPEN);
	assert_int_equal(pthread_create(&o.t, NULL, open_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	/* the kill waits for the open, without a worker */
	assert_int_equal(uvfs_settle(U, SLACK_MS), 0);
	assert_int_equal(testfs_live_handles(), 0);
	testfs_unblock();
	pthread_join(o.t, NULL);
	assert_true(o.fd >= 0);         /* the driver's open succeeded */
	assert_int_equal(uvfs_settle(U, 10000), 0);
	/* released once, by the reclaim of the kill */
	assert_int_equal(testfs_live_handles(), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	assert_int_equal(uvfs_fstat(o.ctx, o.fd, &st), -EIO);
	assert_int_equal(uvfs_close(o.ctx, o.fd), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* A revoke while the last close is releasing the handle in the driver:
 * the handle is the close's (it was detached inside the gate), released
 * exactly once, before the node's reclaim. */
static void test_revoke_during_close(void **state)
{
	struct opener o = { .path = "/m/f" };
	unsigned long rel0;
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	o.fd = uvfs_open(o.ctx, "/m/f", O_RDWR, 0);
	assert_true(o.fd >= 0);
	rel0 = testfs_releases();
	testfs_block(TFS_RELEASE);
	assert_int_equal(pthread_create(&o.t, NULL, close_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	testfs_unblock();
	pthread_join(o.t, NULL);
	assert_int_equal(o.fd, 0);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_releases(), rel0 + 1);
	assert_int_equal(testfs_live_handles(), 0);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* ---- fallocate, SEEK_DATA, copy_file_range against revoke --------------- */

struct copier {
	pthread_t t;
	struct uvfs_ctx *ctx;
	int in, out;
	ssize_t r;
};

static void *copy_main(void *arg)
{
	struct copier *c = arg;

	c->r = uvfs_copy_file_range(c->ctx, c->in, NULL, c->out, NULL,
				    3 * 4096, 0);
	return NULL;
}

/* A copy inside the driver (testfs's copy_range) while its source is
 * revoked, past the deadline (the sb is killed): the driver finishes on
 * live nodes and handles (the reclaim waits for it to leave the gate),
 * each handle is released once, and from then on the three calls answer
 * EIO on both files; closing the copy's destination reports the loss. */
static void test_fileops_revoke(void **state)
{
	static char buf[3 * 4096];
	struct copier c = { 0 };
	double t0;
	int fd;

	(void)state;
	mount_testfs("/m");
	memset(buf, 'c', sizeof(buf));
	fd = uvfs_open(R, "/m/a", O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(R, fd, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &c.ctx), 0);
	c.in = uvfs_open(c.ctx, "/m/a", O_RDONLY, 0);
	c.out = uvfs_open(c.ctx, "/m/b", O_CREAT | O_RDWR, 0644);
	assert_true(c.in >= 0 && c.out >= 0);
	testfs_block(TFS_WRITE);        /* copy_range, fallocate */
	assert_int_equal(pthread_create(&c.t, NULL, copy_main, &c), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/m/a"), 0);
	assert_true(now_ms() - t0 < DEADLINE_MS + SLACK_MS);
	testfs_unblock();
	pthread_join(c.t, NULL);
	assert_int_equal(c.r, sizeof(buf));
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	for (int i = 0; i < 2; i++) {
		int f = i ? c.out : c.in;

		assert_int_equal(uvfs_lseek(c.ctx, f, 0, SEEK_DATA), -EIO);
		assert_int_equal(uvfs_fallocate(c.ctx, c.out, 0, 0, 10),
				 -EIO);
		assert_int_equal(uvfs_copy_file_range(c.ctx, c.in, NULL, f,
						      NULL, 10, 0),
				 i ? -EIO : -EBADF);
	}
	assert_int_equal(uvfs_close(c.ctx, c.in), 0);
	assert_int_equal(uvfs_close(c.ctx, c.out), -EIO); /* written */
	uvfs_ctx_free(c.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* A close on a force-unmounted mount whose kill has not reclaimed yet (an
 * operation is still inside): the file is left to the reclaim, which
 * releases its handle once the operation is out. */
static void test_close_on_killed_gate(void **state)
{
	struct opener o = { .path = "/m/g" };
	unsigned long rel0;
	int fd;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	make_file("/m/g");
	fd = uvfs_open(R, "/m/f", O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_ctx_new(U, NULL, &o.ctx), 0);
	rel0 = testfs_releases();
	testfs_block(TFS_OPEN);
	assert_int_equal(pthread_create(&o.t, NULL, open_main, &o), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	assert_int_equal(uvfs_umount(R, "/m", UVFS_UMOUNT_FORCE), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	/* the close could not enter: nothing released yet, nothing lost */
	assert_int_equal(testfs_releases(), rel0);
	testfs_unblock();
	pthread_join(o.t, NULL);
	if (o.fd >= 0)
		assert_int_equal(uvfs_close(o.ctx, o.fd), 0);
	uvfs_ctx_free(o.ctx);
	assert_int_equal(uvfs_settle(U, 10000), 0);
	assert_int_equal(testfs_live_handles(), 0);
	/* the driver's open succeeded: two handles, each released once */
	assert_int_equal(testfs_releases(), rel0 + 2);
}

/* ---- bounded workers ---------------------------------------------------- */

struct statter {
	pthread_t t;
	struct uvfs_ctx *ctx;
	char path[32];
	int r;
};

static void *stat_main(void *arg)
{
	struct statter *s = arg;
	struct stat st;

	s->r = uvfs_stat(s->ctx, s->path, &st);
	return NULL;
}

/* Two driver calls hang past the deadline on two mounts, both revoked and
 * one force-unmounted: with a pool of two workers, each waiting for its
 * drain would stall every other deferred job.  Here a third mount still
 * unmounts lazily and uvfs_settle returns while they hang. */
static void test_blocked_ops_free_workers(void **state)
{
	struct statter s[2];
	struct uvfs_stats st;
	double t0;
	int fd;

	(void)state;
	mount_testfs("/a");
	mount_testfs("/b");
	mount_testfs("/c");
	make_file("/a/f");
	make_file("/b/f");
	make_file("/c/f");
	testfs_block(TFS_GETATTR);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(uvfs_ctx_new(U, NULL, &s[i].ctx), 0);
		snprintf(s[i].path, sizeof(s[i].path), "/%c/f", 'a' + i);
		assert_int_equal(pthread_create(&s[i].t, NULL, stat_main,
						&s[i]), 0);
	}
	assert_true(testfs_wait_blocked(2, SLACK_MS));
	t0 = now_ms();
	assert_int_equal(uvfs_revoke(R, "/a/f"), 0);
	assert_int_equal(uvfs_revoke(R, "/b/f"), 0);
	assert_int_equal(uvfs_umount(R, "/b", UVFS_UMOUNT_FORCE), 0);
	assert_true(now_ms() - t0 < 2 * DEADLINE_MS + SLACK_MS);
	/* /a is dead now (its revoke could not drain), not frozen */
	assert_int_equal(uvfs_open(R, "/a/f", O_RDONLY, 0), -EIO);

	/* the workers are free: a lazy unmount of /c is torn down */
	fd = uvfs_open(R, "/c/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_umount(R, "/c", UVFS_UMOUNT_DETACH), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	t0 = now_ms();
	/* /b's sb stays until its call returns: settle times out on it
	 * alone, after its own bound, with the rest done */
	assert_int_equal(uvfs_settle(U, 3 * DEADLINE_MS), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 3 * DEADLINE_MS + SLACK_MS);
	uvfs_stats(U, &st);
	/* root, /a and /b (held by the hung stat); /c is gone */
	assert_int_equal(st.mounts, 3);
	assert_int_equal(st.deferred_pending, 0);

	testfs_unblock();
	for (int i = 0; i < 2; i++) {
		pthread_join(s[i].t, NULL);
		/* the call itself was inside: it finished */
		assert_int_equal(s[i].r, 0);
		uvfs_ctx_free(s[i].ctx);
	}
	assert_int_equal(uvfs_settle(U, 10000), 0);
	/* /a was killed: even its root's node is reclaimed */
	assert_int_equal(testfs_live_nodes(), 0);
	assert_int_equal(uvfs_umount(R, "/a", 0), 0);
}

/* A call hangs in the driver past a revoke's deadline; meanwhile mounts
 * are made and lazily unmounted: their teardowns run and uvfs_settle
 * returns, neither waiting for the hung call (a worker blocked on its drain
 * would have kept settle waiting). */
static void test_settle_not_starved(void **state)
{
	struct statter s = { .path = "/m/f" };
	double t0;

	(void)state;
	mount_testfs("/m");
	make_file("/m/f");
	assert_int_equal(uvfs_ctx_new(U, NULL, &s.ctx), 0);
	testfs_block(TFS_GETATTR);
	assert_int_equal(pthread_create(&s.t, NULL, stat_main, &s), 0);
	assert_true(testfs_wait_blocked(1, SLACK_MS));
	assert_int_equal(uvfs_revoke(R, "/m/f"), 0);
	t0 = now_ms();
	for (int i = 0; i < 4; i++) {
		char t[16];
		snprintf(t, sizeof(t), "/x%d", i);
		assert_int_equal(uvfs_mkdir(R, t, 0755), 0);
		/* (memfs: testfs's getattr is blocked) */
		assert_int_equal(uvfs_mount(R, "memfs", "none", t, ""), 0);
		snprintf(t, sizeof(t), "/x%d/f", i);
		make_file(t);
		snprintf(t, sizeof(t), "/x%d", i);
		assert_int_equal(uvfs_umount(R, t, UVFS_UMOUNT_DETACH), 0);
	}
	assert_int_equal(uvfs_settle(U, SLACK_MS), 0);
	assert_true(now_ms() - t0 < SLACK_MS);
	testfs_unblock();
	pthread_join(s.t, NULL);
	assert_int_equal(s.r, 0);
	uvfs_ctx_free(s.ctx);
	assert_int_equal(uvfs_umount(R, "/m", 0), 0);
}

/* ---- a driver that reuses inode numbers ---------------------------------
 *
 * reusefs: one flat directory (ino 1) of up to NINO files.  A removed
 * file's ino is free at once (a vget handle does not pin it, as a
 * path-named server fid does not) and the next create takes the lowest
 * free one, with the next generation.  Handles name (ino, gen): once their
 * file is gone they answer ESTALE.
 */
#define NINO 8

struct rnode {
	bool used;
	uint64_t gen;
	mode_t mode;
	char name[32];
};

struct rfs {
	pthread_mutex_t lock;
	struct rnode n[NINO];   /* n[0]: the root (ino 1) */
	uint64_t next_gen;
};

struct rh {
	uint64_t ino, gen;
};

static struct rfs *RFS(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

static int r_mount(struct uvfs_sb *sb, const char *src, const char *opts,
		   uint64_t *root)
{
	struct rfs *fs = calloc(1, sizeof(*fs));

	(void)src;
	(void)opts;
	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->lock, NULL);
	fs->n[0].used = true;
	fs->n[0].gen = 1;
	fs->n[0].mode = S_IFDIR | 0755;
	fs->next_gen = 2;
	uvfs_sb_set_private(sb, fs);
	*root = 1;
	return 0;
}

static void r_unmount(struct uvfs_sb *sb)
{
	struct rfs *fs = RFS(sb);

	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/* => lock held.  The node of a handle, or NULL if its file is gone. */
static struct rnode *r_node(struct rfs *fs, const struct rh *h)
{
	struct rnode *n = &fs->n[h->ino - 1];

	return n->used && n->gen == h->gen ? n : NULL;
}

static int r_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct rfs *fs = RFS(sb);
	struct rh *h;
	int r = 0;

	if (ino < 1 || ino > NINO)
		return -ESTALE;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&fs->lock);
	if (!fs->n[ino - 1].used)
		r = -ESTALE;
	h->ino = ino;
	h->gen = fs->n[ino - 1].gen;
	pthread_mutex_unlock(&fs->lock);
	if (r) {
		free(h);
		return r;
	}
	*priv = h;
	return 0;
}

static void r_reclaim(struct uvfs_sb *sb, void *priv)
{
	(void)sb;
	free(priv);
}

static int r_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct rfs *fs = RFS(sb);
	struct rh *h = priv;
	struct rnode *n;
	int r = -ESTALE;

	pthread_mutex_lock(&fs->lock);
	if ((n = r_node(fs, h)) != NULL) {
		memset(st, 0, sizeof(*st));
		st->st_ino = h->ino;
		st->st_mode = n->mode;
		st->st_nlink = 1;
		r = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		    struct uvfs_ident *id)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOENT;

	(void)dir;
	if (strcmp(name, "..") == 0) {
		id->ino = 1;
		id->gen = 1;
		id->type = S_IFDIR;
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	for (int i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			id->ino = (uint64_t)i + 1;
			id->gen = fs->n[i].gen;
			id->type = fs->n[i].mode & S_IFMT;
			r = 0;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_create(struct uvfs_sb *sb, void *dir, const char *name,
		    mode_t mode, dev_t rdev, const char *target,
		    const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOSPC, i;

	(void)dir;
	(void)rdev;
	(void)target;
	(void)cred;
	pthread_mutex_lock(&fs->lock);
	for (i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			pthread_mutex_unlock(&fs->lock);
			return -EEXIST;
		}
	for (i = 1; i < NINO; i++)
		if (!fs->n[i].used) {
			fs->n[i].used = true;
			fs->n[i].gen = fs->next_gen++;
			fs->n[i].mode = mode;
			snprintf(fs->n[i].name, sizeof(fs->n[i].name), "%s",
				 name);
			id->ino = (uint64_t)i + 1;
			id->gen = fs->n[i].gen;
			id->type = mode & S_IFMT;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		    int isdir)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOENT;

	(void)dir;
	pthread_mutex_lock(&fs->lock);
	for (int i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			if (!isdir != !S_ISDIR(fs->n[i].mode)) {
				r = isdir ? -ENOTDIR : -EISDIR;
				break;
			}
			fs->n[i].used = false;  /* the ino is free at once */
			r = 0;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		     uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	(void)sb;
	(void)priv;
	(void)fh;
	if (cookie == 0 && fill(arg, ".", 1, DT_DIR, 1))
		return 0;
	if (cookie <= 1)
		fill(arg, "..", 1, DT_DIR, 2);
	return 0;
}

static const struct uvfs_fstype_ops reusefs_ops = {
	.name = "reusefs",
	.mount = r_mount,
	.unmount = r_unmount,
	.vget = r_vget,
	.reclaim = r_reclaim,
	.getattr = r_getattr,
	.lookup = r_lookup,
	.create = r_create,
	.unlink = r_unlink,
	.readdir = r_readdir,
};

/* A directory, held by a descriptor, is removed; a regular file created
 * next gets its ino: the lookup must not hand out the directory's vnode. */
static void test_ino_reuse_other_type(void **state)
{
	struct stat st, st2;
	int dfd, fd;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/r", 0755), 0);
	assert_int_equal(uvfs_mount(R, "reusefs", "none", "/r", ""), 0);
	assert_int_equal(uvfs_mkdir(R, "/r/d", 0755), 0);
	dfd = uvfs_open(R, "/r/d", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	assert_int_equal(uvfs_fstat(R, dfd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(uvfs_rmdir(R, "/r/d"), 0);
	fd = uvfs_open(R, "/r/f", O_CREAT | O_RDONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_stat(R, "/r/f", &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);        /* reused */
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(uvfs_fstat(R, fd, &st2), 0);
	assert_true(S_ISREG(st2.st_mode));
	/* the old directory's vnode is dead: the driver cannot serve it */
	assert_int_equal(uvfs_fstat(R, dfd, &st2), -EIO);
	assert_int_equal(uvfs_close(R, dfd), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_unlink(R, "/r/f"), 0);
	assert_int_equal(uvfs_umount(R, "/r", 0), 0);
}

/* The same type, another generation: a file held open is removed, a new
 * file takes its ino. */
static void test_ino_reuse_other_gen(void **state)
{
	struct stat st, st2;
	int a, b;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/r", 0755), 0);
	assert_int_equal(uvfs_mount(R, "reusefs", "none", "/r", ""), 0);
	a = uvfs_open(R, "/r/a", O_CREAT | O_RDONLY, 0644);
	assert_true(a >= 0);
	assert_int_equal(uvfs_fstat(R, a, &st), 0);
	assert_int_equal(uvfs_unlink(R, "/r/a"), 0);
	b = uvfs_open(R, "/r/b", O_CREAT | O_RDONLY, 0600);
	assert_true(b >= 0);
	assert_int_equal(uvfs_fstat(R, b, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_int_equal(uvfs_fstat(R, a, &st2), -EIO);
	assert_int_equal(uvfs_close(R, a), 0);
	assert_int_equal(uvfs_close(R, b), 0);
	assert_int_equal(uvfs_unlink(R, "/r/b"), 0);
	assert_int_equal(uvfs_umount(R, "/r", 0), 0);
}

/* ---- whom an operation is for ------------------------------------------ */

/* One thread, calls for two contexts in turn: each driver call sees the
 * credentials of the call it serves, never those the thread had last;
 * a node API handle's I/O is the opener's. */
static void test_cred_current(void **state)
{
	struct uvfs_cred a = { .uid = 1001, .gid = 1001 };
	struct uvfs_cred b = { .uid = 1002, .gid = 1002 };
	struct uvfs_ctx *ca, *cb;
	struct uvfs_node *root, *dir, *n, *x;
	struct uvfs_file *h;
	char buf[4];
	struct stat st;

	(void)state;
	mount_testfs("/t");
	assert_int_equal(uvfs_chmod(R, "/t", 0777), 0);
	assert_int_equal(uvfs_ctx_new(U, &a, &ca), 0);
	assert_int_equal(uvfs_ctx_new(U, &b, &cb), 0);
	make_file("/t/f");
	assert_int_equal(uvfs_chmod(R, "/t/f", 0666), 0);

	/* the path API (names never looked up: the driver is asked) */
	assert_int_equal(uvfs_stat(ca, "/t/x1", &st), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1001);
	/* the node API, after a call for another context on this thread */
	assert_int_equal(uvfs_node_root(cb, &root), 0);
	assert_int_equal(uvfs_node_lookup(cb, root, "t", &dir, NULL), 0);
	assert_int_equal(uvfs_node_lookup(cb, dir, "f", &n, NULL), 0);
	assert_int_equal(uvfs_stat(ca, "/t/x2", &st), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1001);
	assert_int_equal(uvfs_node_lookup(cb, dir, "x3", &x, NULL), -ENOENT);
	assert_int_equal(testfs_last_uid(TFS_LOOKUP), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_node_create(cb, dir, "g", 0644, 0, NULL, &x,
					  NULL), 0);
	assert_int_equal(testfs_last_uid(TFS_CREATE), 1002);
	uvfs_node_release(x, 1);
	/* a handle opened by b reads as b after a call for a */
	assert_int_equal(uvfs_node_open(cb, n, O_RDWR, "b", &h), 0);
	assert_int_equal(testfs_last_uid(TFS_OPEN), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_file_pread(h, buf, sizeof(buf), 0), 0);
	assert_int_equal(testfs_last_uid(TFS_READ), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	assert_int_equal(uvfs_file_pwrite(h, "x", 1, 0), 1);
	assert_int_equal(testfs_last_uid(TFS_WRITE), 1002);
	assert_int_equal(uvfs_stat(ca, "/t/f", &st), 0);
	uvfs_file_release(h);
	assert_int_equal(testfs_last_uid(TFS_RELEASE), 1002);
	/* the unlink is a's, after b's calls */
	assert_int_equal(uvfs_node_unlink(ca, dir, "g", 0), 0);
	assert_int_equal(testfs_last_uid(TFS_UNLINK), 1001);

	uvfs_node_release(n, 1);
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	uvfs_ctx_free(ca);
	uvfs_ctx_free(cb);
	assert_int_equal(uvfs_unlink(R, "/t/f"), 0);
	assert_int_equal(uvfs_umount(R, "/t", 0), 0);
}

/* ---- flush at close ----------------------------------------------------- */

static void test_flush_at_close(void **state)
{
	struct uvfs_node *root, *dir, *n;
	struct uvfs_file *h;
	unsigned long f0;
	int fd, fd2;

	(void)state;
	mount_testfs("/t");
	make_file("/t/f");
	f0 = testfs_flushes();
	/* read-only: no flush */
	fd = uvfs_open(R, "/t/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(testfs_flushes(), f0);
	/* each close of a descriptor open for writing, not only the last */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0);
	fd2 = uvfs_dup(R, fd);
	assert_true(fd2 >= 0);
	assert_int_equal(uvfs_write(R, fd, "x", 1), 1);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(testfs_flushes(), f0 + 1);
	/* its error is the close's, and the descriptor is gone anyway */
	testfs_set_flush_error(-EIO);
	assert_int_equal(uvfs_close(R, fd), -EIO);
	testfs_set_flush_error(0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	assert_int_equal(uvfs_close(R, fd), -EBADF);
	/* the node API handle: flushes says whether FUSE should send it */
	assert_int_equal(uvfs_node_root(R, &root), 0);
	assert_int_equal(uvfs_node_lookup(R, root, "t", &dir, NULL), 0);
	assert_int_equal(uvfs_node_lookup(R, dir, "f", &n, NULL), 0);
	assert_int_equal(uvfs_node_open(R, n, O_RDONLY, "r", &h), 0);
	assert_int_equal(uvfs_file_flushes(h), 0);
	assert_int_equal(uvfs_file_flush(h), 0);
	assert_int_equal(testfs_flushes(), f0 + 2);
	uvfs_file_release(h);
	assert_int_equal(uvfs_node_open(R, n, O_RDWR, "w", &h), 0);
	assert_int_equal(uvfs_file_flushes(h), 1);
	testfs_set_flush_error(-ENOSPC);
	assert_int_equal(uvfs_file_flush(h), -ENOSPC);
	testfs_set_flush_error(0);
	assert_int_equal(testfs_flushes(), f0 + 3);
	uvfs_file_release(h);
	assert_int_equal(testfs_flushes(), f0 + 3);  /* release: no flush */
	uvfs_node_release(n, 1);
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	/* revoked: a descriptor written since its last flush closes with
	 * EIO (what went behind may be lost), one not written with 0 */
	fd = uvfs_open(R, "/t/f", O_WRONLY, 0);
	fd2 = uvfs_open(R, "/t/f", O_WRONLY, 0);
	assert_true(fd >= 0 && fd2 >= 0);
	assert_int_equal(uvfs_write(R, fd, "y", 1), 1);
	assert_int_equal(uvfs_revoke(R, "/t/f"), 0);
	assert_int_equal(uvfs_close(R, fd), -EIO);
	assert_int_equal(uvfs_close(R, fd2), 0);
	assert_int_equal(testfs_flushes(), f0 + 3);
	assert_int_equal(uvfs_unlink(R, "/t/f"), 0);
	assert_int_equal(uvfs_umount(R, "/t", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_link_rename_dead_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_revoke,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_during_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_during_close,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_on_killed_gate,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocked_ops_free_workers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_settle_not_starved,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ino_reuse_other_type,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ino_reuse_other_gen,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_current,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fileops_revoke, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush_at_close,
						setup, teardown),
	};

	/* UVFS_TEST_FILTER=NAME runs the tests whose names match */
	if (getenv("UVFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UVFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

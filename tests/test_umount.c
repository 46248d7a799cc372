/*
 * test_umount.c - the unmount contract, on memfs mounts.
 *
 * Normal unmount (EBUSY for each kind of holder, and who holds it), forced
 * unmount (dead descriptors, bounded time even with an operation blocked in
 * the driver), lazy unmount, revoke, suspend/resume, file-system-type
 * unregistration and bad input.  Each test has its own instance, so the
 * live-object counters of uvfs_stats can be checked exactly.
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

static struct uvfs *U;
static struct uvfs_ctx *R;      /* a root context */

#define MAX_CTX 8
static struct uvfs_ctx *ctxs[MAX_CTX]; /* freed by the teardown */

/* ---- helpers ----------------------------------------------------------- */

static const char *errname(long r)
{
	static char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%ld", r);
	else
		snprintf(buf, sizeof(buf), "-%s",
			 strerrorname_np((int)-r) ? strerrorname_np((int)-r) :
			 "?");
	return buf;
}

static long check_ok(long r, const char *expr, const char *file, int line)
{
	if (r < 0) {
		print_error("%s:%d: %s\n    returned %s, want success\n", file,
			    line, expr, errname(r));
		_fail(file, line);
	}
	return r;
}

static void check_err(long r, int e1, int e2, const char *expr,
		      const char *file, int line)
{
	if (r != -e1 && r != -e2) {
		print_error("%s:%d: %s\n    returned %s, want -%s%s%s\n", file,
			    line, expr, errname(r), strerrorname_np(e1),
			    e1 == e2 ? "" : " or -",
			    e1 == e2 ? "" : strerrorname_np(e2));
		_fail(file, line);
	}
}

#define OK(expr) check_ok((long)(expr), #expr, __FILE__, __LINE__)
#define ERR(expr, e) check_err((long)(expr), (e), (e), #expr, __FILE__, \
			       __LINE__)
#define ERR2(expr, e1, e2) check_err((long)(expr), (e1), (e2), #expr, \
				     __FILE__, __LINE__)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void put(struct uvfs_ctx *c, const char *path, const char *data)
{
	int fd = (int)OK(uvfs_open(c, path, O_CREAT | O_WRONLY | O_TRUNC,
				   0644));

	assert_int_equal(OK(uvfs_write(c, fd, data, strlen(data))),
			 strlen(data));
	OK(uvfs_close(c, fd));
}

#define ASSERT_CONTENT(c, path, want) do {                               \
		char buf_[256];                                          \
		int fd_ = (int)OK(uvfs_open((c), (path), O_RDONLY, 0));  \
		ssize_t n_ = OK(uvfs_read((c), fd_, buf_,                \
					  sizeof(buf_) - 1));            \
		buf_[n_] = '\0';                                         \
		OK(uvfs_close((c), fd_));                                \
		assert_string_equal(buf_, (want));                       \
	} while (0)

static struct uvfs_ctx *new_ctx(const char *label)
{
	struct uvfs_ctx *c = NULL;
	int i;

	OK(uvfs_ctx_new(U, NULL, &c));
	if (label)
		OK(uvfs_ctx_set_label(c, label));
	for (i = 0; i < MAX_CTX && ctxs[i]; i++)
		;
	assert_true(i < MAX_CTX);
	ctxs[i] = c;
	return c;
}

static void free_ctx(struct uvfs_ctx *c)
{
	int i;

	for (i = 0; i < MAX_CTX; i++)
		if (ctxs[i] == c)
			ctxs[i] = NULL;
	uvfs_ctx_free(c);
}

/* Is target in the mount list (and in which state)? */
static bool mounted(const char *target, char *state)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0, i;
	bool found = false;

	OK(uvfs_mount_list(U, &mi, &n));
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0) {
			found = true;
			if (state)
				strcpy(state, mi[i].state);
		}
	free(mi);
	return found;
}

static void mount_x(const char *target, const char *options)
{
	OK(uvfs_mount(R, "memfs", "none", target, options ? options : ""));
	assert_true(mounted(target, NULL));
}

/* The holders of target, printed; returns the count. */
static size_t holders(const char *target, struct uvfs_holder **out)
{
	size_t n = 0, i;

	*out = NULL;
	OK(uvfs_holders(R, target, out, &n));
	for (i = 0; i < n; i++)
		printf("    holder %s ctx %llu \"%s\" fd %d path %s\n",
		       uvfs_holder_kind_name((*out)[i].kind),
		       (unsigned long long)(*out)[i].ctx_id,
		       (*out)[i].ctx_label, (*out)[i].fd, (*out)[i].path);
	return n;
}

/* Finds a holder of that kind whose path contains needle. */
static const struct uvfs_holder *
find_holder(const struct uvfs_holder *h, size_t n, enum uvfs_holder_kind kind,
	    const char *needle)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (h[i].kind == kind && strstr(h[i].path, needle))
			return &h[i];
	return NULL;
}

/* Referenced vnodes: those not merely cached. */
static uint64_t live_vnodes(void)
{
	struct uvfs_stats st;

	uvfs_stats(U, &st);
	return st.vnodes - st.vnodes_cached;
}

static void print_stats(const char *when)
{
	struct uvfs_stats st;

	uvfs_stats(U, &st);
	printf("    stats %s: sb %llu mounts %llu vnodes %llu (cached %llu) "
	       "files %llu nodes %llu ctx %llu deferred %llu\n", when,
	       (unsigned long long)st.superblocks,
	       (unsigned long long)st.mounts,
	       (unsigned long long)st.vnodes,
	       (unsigned long long)st.vnodes_cached,
	       (unsigned long long)st.files, (unsigned long long)st.nodes,
	       (unsigned long long)st.contexts,
	       (unsigned long long)st.deferred_pending);
}

/* After everything was released: only the root is left. */
static void assert_only_root(uint64_t live_before)
{
	struct uvfs_stats st;

	assert_int_equal(uvfs_settle(U, 5000), 0);
	uvfs_stats(U, &st);
	print_stats("at the end");
	assert_int_equal(st.files, 0);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.mounts, 1);
	assert_int_equal(st.superblocks, 1);
	assert_true(st.vnodes - st.vnodes_cached <= live_before);
}

/* ---- fixtures ---------------------------------------------------------- */

static int t_setup(void **state)
{
	(void)state;
	memset(ctxs, 0, sizeof(ctxs));
	if (uvfs_new(NULL, &U) != 0)
		return -1;
	R = new_ctx("root");
	OK(uvfs_mkdir(R, "/mnt", 0755));
	OK(uvfs_mkdir(R, "/mnt/x", 0755));
	put(R, "/mnt/x/under", "covered");
	return 0;
}

static int t_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < MAX_CTX; i++)
		if (ctxs[i])
			uvfs_ctx_free(ctxs[i]);
	memset(ctxs, 0, sizeof(ctxs));
	uvfs_free(U);
	U = NULL;
	R = NULL;
	return 0;
}

/* ---- normal unmount ---------------------------------------------------- */

static void test_umount_idle(void **state)
{
	uint64_t live;
	struct stat st;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/under", &st), ENOENT);
	put(R, "/mnt/x/f", "on top");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	ASSERT_CONTENT(R, "/mnt/x/f", "on top");
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ERR(uvfs_stat(R, "/mnt/x/d", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* "when it returns 0 the file system has been shut down" */
	{
		struct uvfs_stats s;

		uvfs_stats(U, &s);
		assert_int_equal(s.mounts, 1);
		assert_int_equal(s.superblocks, 1);
	}
	/* a second time: not mounted any more */
	ERR(uvfs_umount(R, "/mnt/x", 0), EINVAL);
	/* mount again: a fresh, empty file system */
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* stacked: the newer one is on top, each unmount peels one */
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/lower", "1");
	OK(uvfs_mount(R, "memfs", "none", "/mnt/x", ""));
	ERR(uvfs_stat(R, "/mnt/x/lower", &st), ENOENT);
	put(R, "/mnt/x/upper", "2");
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/lower", "1");
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	assert_only_root(live);
}

static void test_busy_fd(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;
	int fd, dfd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/d/thefile", "x");
	c = new_ctx("holder-label");
	fd = (int)OK(uvfs_open(c, "/mnt/x/d/thefile", O_RDONLY, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	assert_true(mounted("/mnt/x", NULL));
	n = holders("/mnt/x", &h);
	assert_true(n >= 1);
	e = find_holder(h, n, UVFS_HOLDER_FILE, "thefile");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_not_equal(e->ctx_id, 0);
	assert_int_equal(e->fd, fd);
	assert_string_equal(e->ctx_label, "holder-label");
	assert_string_equal(e->path, "/mnt/x/d/thefile");
	assert_string_equal(uvfs_holder_kind_name(UVFS_HOLDER_FILE),
			    uvfs_holder_kind_name(e->kind));
	free(h);
	/* a dup is another holder of the same open file: still busy */
	dfd = (int)OK(uvfs_dup(c, fd));
	OK(uvfs_close(c, fd));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_close(c, dfd));
	/* a directory descriptor */
	fd = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_close(c, fd));
	/* the root directory of the mount */
	fd = (int)OK(uvfs_open(c, "/mnt/x", O_PATH, 0));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].kind, UVFS_HOLDER_FILE);
	free(h);
	OK(uvfs_close(c, fd));
	/* released: no holders left */
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 0);
	free(h);
	OK(uvfs_umount(R, "/mnt/x", 0));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	free_ctx(c);
	assert_only_root(live);
}

static void test_busy_cwd(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/cwddir", 0755));
	c = new_ctx("cwd-holder");
	OK(uvfs_chdir(c, "/mnt/x/cwddir"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_CWD, "cwddir");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->ctx_label, "cwd-holder");
	assert_string_equal(e->path, "/mnt/x/cwddir");
	free(h);
	/* the mount root as cwd */
	OK(uvfs_chdir(c, ".."));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_chdir(c, ".."));
	OK(uvfs_umount(R, "/mnt/x", 0));
	free_ctx(c);
	assert_only_root(live);
}

static void test_busy_root(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct uvfs_ctx *c;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/jail", 0755));
	c = new_ctx("jailed");
	OK(uvfs_chroot(c, "/mnt/x/jail"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_ROOT, "jail");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, uvfs_ctx_id(c));
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->ctx_label, "jailed");
	assert_string_equal(e->path, "/mnt/x/jail");
	/* its cwd stayed at "/" of the instance: not a holder here */
	assert_null(find_holder(h, n, UVFS_HOLDER_CWD, ""));
	free(h);
	/* chroot cannot be undone: freeing the context releases it */
	free_ctx(c);
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

static void test_busy_node(void **state)
{
	struct uvfs_node *root, *mnt, *x, *f, *f2;
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	struct stat st;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/nodefile", "n");
	OK(uvfs_node_root(R, &root));
	OK(uvfs_node_lookup(R, root, "mnt", &mnt, &st));
	OK(uvfs_node_lookup(R, mnt, "x", &x, &st));
	assert_true(S_ISDIR(st.st_mode));
	OK(uvfs_node_lookup(R, x, "nodefile", &f, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 1);
	/* the same pair is the same node */
	OK(uvfs_node_lookup(R, x, "nodefile", &f2, &st));
	assert_ptr_equal(f, f2);
	uvfs_node_release(root, 1);
	uvfs_node_release(mnt, 1);
	uvfs_node_release(x, 1);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	e = find_holder(h, n, UVFS_HOLDER_NODE, "nodefile");
	assert_non_null(e);
	assert_int_equal(e->fd, -1);
	assert_true(e->ctx_id == 0 || e->ctx_id == uvfs_ctx_id(R));
	free(h);
	/* two holds: one release is not enough */
	uvfs_node_release(f, 1);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	uvfs_node_release(f, 1);
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* the node count */
	{
		struct uvfs_stats s;

		uvfs_stats(U, &s);
		assert_int_equal(s.nodes, 0);
	}
	assert_only_root(live);
}

static void test_busy_child(void **state)
{
	struct uvfs_holder *h;
	const struct uvfs_holder *e;
	uint64_t live;
	size_t n;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
	mount_x("/mnt/x/sub", NULL);
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	n = holders("/mnt/x", &h);
	assert_int_equal(n, 1);
	e = find_holder(h, n, UVFS_HOLDER_CHILD, "/mnt/x/sub");
	assert_non_null(e);
	assert_int_equal(e->ctx_id, 0);
	assert_int_equal(e->fd, -1);
	assert_string_equal(e->path, "/mnt/x/sub");
	free(h);
	/* the child itself is idle */
	n = holders("/mnt/x/sub", &h);
	assert_int_equal(n, 0);
	free(h);
	OK(uvfs_umount(R, "/mnt/x/sub", 0));
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

/* ---- forced and lazy --------------------------------------------------- */

static void test_force_fd(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];
	uint64_t live;
	int fd, dfd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "data");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	c = new_ctx("victim");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDWR, 0));
	dfd = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_chdir(c, "/mnt/x/d"));
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* the dead contract */
	ERR(uvfs_read(c, fd, buf, sizeof(buf)), EIO);
	ERR(uvfs_write(c, fd, "x", 1), EIO);
	ERR(uvfs_pread(c, fd, buf, sizeof(buf), 0), EIO);
	ERR(uvfs_pwrite(c, fd, "x", 1, 0), EIO);
	ERR(uvfs_fstat(c, fd, &st), EIO);
	ERR(uvfs_ftruncate(c, fd, 0), EIO);
	ERR(uvfs_fsync(c, fd), EIO);
	{
		struct uvfs_dirent de[4];

		ERR(uvfs_readdir(c, dfd, de, 4), EIO);
		ERR(uvfs_openat(c, dfd, "g", O_RDONLY, 0), EIO);
	}
	/* a dead cwd */
	ERR(uvfs_stat(c, "anything", &st), EIO);
	ERR2(uvfs_open(c, "new", O_CREAT | O_WRONLY, 0644), EIO, ENOENT);
	OK(uvfs_close(c, fd));
	OK(uvfs_close(c, dfd));
	ERR(uvfs_close(c, fd), EBADF);
	OK(uvfs_chdir(c, "/"));
	free_ctx(c);
	assert_only_root(live);
}

static void test_force_idle_and_busy_kinds(void **state)
{
	struct uvfs_ctx *c;
	struct uvfs_node *root, *mnt, *x;
	struct stat st;
	uint64_t live;

	(void)state;
	live = live_vnodes();
	/* idle */
	mount_x("/mnt/x", NULL);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	/* every kind of holder at once */
	mount_x("/mnt/x", "deadline=200");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/file", "c");
	c = new_ctx("many");
	OK(uvfs_chdir(c, "/mnt/x/d"));
	OK(uvfs_open(c, "/mnt/x/file", O_RDONLY, 0));
	OK(uvfs_node_root(R, &root));
	OK(uvfs_node_lookup(R, root, "mnt", &mnt, &st));
	OK(uvfs_node_lookup(R, mnt, "x", &x, &st));
	uvfs_node_release(root, 1);
	uvfs_node_release(mnt, 1);
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	assert_false(mounted("/mnt/x", NULL));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	ERR(uvfs_node_getattr(R, x, &st), EIO);
	uvfs_node_release(x, 1);
	free_ctx(c); /* closes the dead descriptor */
	/* a child mount: the contract leaves open whether FORCE takes the
	 * subtree or says EBUSY; it must do one of them cleanly */
	mount_x("/mnt/x", NULL);
	OK(uvfs_mkdir(R, "/mnt/x/sub", 0755));
	mount_x("/mnt/x/sub", NULL);
	{
		int r = uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE);

		printf("    FORCE with a child mount: %s\n", errname(r));
		if (r == 0) {
			assert_false(mounted("/mnt/x", NULL));
			assert_false(mounted("/mnt/x/sub", NULL));
		} else {
			assert_int_equal(r, -EBUSY);
			assert_true(mounted("/mnt/x/sub", NULL));
			OK(uvfs_umount(R, "/mnt/x/sub", 0));
			OK(uvfs_umount(R, "/mnt/x", 0));
		}
	}
	assert_only_root(live);
}

static void test_detach_fd(void **state)
{
	struct uvfs_ctx *c;
	struct uvfs_stats s;
	struct stat st;
	char buf[16];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "data");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	c = new_ctx("lazy");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDWR, 0));
	OK(uvfs_chdir(c, "/mnt/x/d"));
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_DETACH));
	/* gone from the namespace at once */
	assert_false(mounted("/mnt/x", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	/* what is open keeps working */
	assert_int_equal(OK(uvfs_read(c, fd, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "data", 4);
	assert_int_equal(OK(uvfs_write(c, fd, "more", 4)), 4);
	assert_int_equal(OK(uvfs_pread(c, fd, buf, sizeof(buf), 0)), 8);
	assert_memory_equal(buf, "datamore", 8);
	OK(uvfs_fstat(c, fd, &st));
	assert_int_equal(st.st_size, 8);
	/* and so does the cwd inside the detached tree */
	put(c, "new", "n");
	ASSERT_CONTENT(c, "../f", "datamore");
	uvfs_stats(U, &s);
	assert_int_equal(s.superblocks, 2);
	/* settle cannot finish a detached file system still in use */
	ERR(uvfs_settle(U, 100), ETIMEDOUT);
	/* the same mount point takes a new mount meanwhile */
	mount_x("/mnt/x", NULL);
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	put(R, "/mnt/x/f", "new");
	ASSERT_CONTENT(c, "../f", "datamore");
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* the last release finishes it */
	OK(uvfs_close(c, fd));
	OK(uvfs_chdir(c, "/"));
	assert_int_equal(uvfs_settle(U, 5000), 0);
	uvfs_stats(U, &s);
	assert_int_equal(s.superblocks, 1);
	free_ctx(c);
	assert_only_root(live);
}

/* ---- revoke ------------------------------------------------------------ */

static void test_revoke(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[16];
	uint64_t live;
	int a1, a2, b, a3;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/a", "AAAA");
	put(R, "/mnt/x/b", "BBBB");
	c = new_ctx("revokee");
	a1 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDONLY, 0));
	a2 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDWR, 0));
	b = (int)OK(uvfs_open(c, "/mnt/x/b", O_RDONLY, 0));
	OK(uvfs_revoke(R, "/mnt/x/a"));
	ERR(uvfs_read(c, a1, buf, sizeof(buf)), EIO);
	ERR(uvfs_write(c, a2, "x", 1), EIO);
	ERR(uvfs_pread(c, a2, buf, sizeof(buf), 0), EIO);
	ERR(uvfs_fstat(c, a1, &st), EIO);
	OK(uvfs_close(c, a1));
	OK(uvfs_close(c, a2));
	assert_int_equal(OK(uvfs_read(c, b, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "BBBB", 4);
	/* a new open gets a fresh vnode with the data */
	a3 = (int)OK(uvfs_open(c, "/mnt/x/a", O_RDWR, 0));
	assert_int_equal(OK(uvfs_read(c, a3, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "AAAA", 4);
	OK(uvfs_write(c, a3, "a", 1));
	OK(uvfs_stat(R, "/mnt/x/a", &st));
	assert_int_equal(st.st_size, 5);
	OK(uvfs_close(c, a3));
	/* a revoked file does not keep the mount busy once closed */
	OK(uvfs_close(c, b));
	/* a directory: its open descriptors die */
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	put(R, "/mnt/x/d/in", "in");
	a1 = (int)OK(uvfs_open(c, "/mnt/x/d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_revoke(R, "/mnt/x/d"));
	{
		struct uvfs_dirent de[4];

		ERR(uvfs_readdir(c, a1, de, 4), EIO);
		ERR(uvfs_openat(c, a1, "in", O_RDONLY, 0), EIO);
	}
	OK(uvfs_close(c, a1));
	ASSERT_CONTENT(c, "/mnt/x/d/in", "in");
	/* errors */
	ERR(uvfs_revoke(R, "/mnt/x/missing"), ENOENT);
	/* revoke of a file nobody has open */
	OK(uvfs_revoke(R, "/mnt/x/b"));
	ASSERT_CONTENT(R, "/mnt/x/b", "BBBB");
	OK(uvfs_umount(R, "/mnt/x", 0));
	free_ctx(c);
	assert_only_root(live);
}

/* ---- suspend / resume -------------------------------------------------- */

struct bg_stat {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	const char *path;
	atomic_int done;
	int result;
};

static void *bg_stat_main(void *arg)
{
	struct bg_stat *b = arg;
	struct stat st;

	b->result = uvfs_stat(b->ctx, b->path, &st);
	atomic_store(&b->done, 1);
	return NULL;
}

static void bg_start(struct bg_stat *b, struct uvfs_ctx *c, const char *path)
{
	b->ctx = c;
	b->path = path;
	atomic_store(&b->done, 0);
	b->result = 1;
	assert_int_equal(pthread_create(&b->thread, NULL, bg_stat_main, b),
			 0);
}

/* Waits up to ms for the thread; fails (without joining) if it hangs. */
static void bg_wait(struct bg_stat *b, int ms)
{
	double end = now_ms() + ms;

	while (!atomic_load(&b->done)) {
		if (now_ms() > end)
			fail_msg("the background stat of %s hangs", b->path);
		sleep_ms(5);
	}
	pthread_join(b->thread, NULL);
}

static void test_suspend_resume(void **state)
{
	struct bg_stat b;
	struct uvfs_ctx *c;
	char st8[16];
	double t0, dt;
	uint64_t live;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "x");
	c = new_ctx("waiter");
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_true(mounted("/mnt/x", st8));
	assert_string_equal(st8, "suspended");
	bg_start(&b, c, "/mnt/x/f");
	sleep_ms(100);
	assert_false(atomic_load(&b.done));
	/* other mounts are not affected */
	put(R, "/elsewhere", "fine");
	ASSERT_CONTENT(R, "/elsewhere", "fine");
	assert_false(atomic_load(&b.done));
	OK(uvfs_resume(R, "/mnt/x"));
	bg_wait(&b, 2000);
	assert_int_equal(b.result, 0);
	assert_true(mounted("/mnt/x", st8));
	assert_string_equal(st8, "active");

	/* a forced unmount of a suspended mount: bounded, no hang */
	OK(uvfs_suspend(R, "/mnt/x"));
	bg_start(&b, c, "/mnt/x/f");
	sleep_ms(100);
	assert_false(atomic_load(&b.done));
	t0 = now_ms();
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	dt = now_ms() - t0;
	printf("    forced unmount of a suspended mount: %.1f ms\n", dt);
	assert_true(dt < 2000);
	bg_wait(&b, 2000);
	printf("    the blocked stat returned %s\n", errname(b.result));
	if (b.result != 0 && b.result != -EIO && b.result != -ENOENT)
		fail_msg("blocked stat got %s", errname(b.result));
	assert_false(mounted("/mnt/x", NULL));
	free_ctx(c);
	assert_only_root(live);
}

static void test_suspend_errors(void **state)
{
	(void)state;
	ERR(uvfs_suspend(R, "/mnt"), EINVAL);
	ERR(uvfs_suspend(R, "/nope"), ENOENT);
	mount_x("/mnt/x", NULL);
	OK(uvfs_suspend(R, "/mnt/x"));
	/* a normal unmount of a suspended, idle mount still works or says
	 * busy; either way it does not hang */
	{
		double t0 = now_ms();
		int r = uvfs_umount(R, "/mnt/x", 0);

		printf("    normal unmount of a suspended idle mount: %s\n",
		       errname(r));
		assert_true(now_ms() - t0 < 2000);
		if (r == 0)
			return;
		assert_int_equal(r, -EBUSY);
	}
	OK(uvfs_resume(R, "/mnt/x"));
	OK(uvfs_umount(R, "/mnt/x", 0));
}

/* ---- file-system-type unregistration ----------------------------------- */

static struct uvfs_fstype_ops memfs2_ops;

static void test_fstype_unregister(void **state)
{
	struct uvfs_ctx *c;
	struct stat st;
	char buf[8];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs2";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mkdir(R, "/mnt/y", 0755));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/y", ""));
	/* another type stays */
	OK(uvfs_mkdir(R, "/mnt/z", 0755));
	mount_x("/mnt/z", NULL);
	put(R, "/mnt/x/f", "two");
	put(R, "/mnt/z/f", "zzz");
	c = new_ctx("user of memfs2");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	OK(uvfs_chdir(c, "/mnt/y"));
	OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
	assert_false(mounted("/mnt/x", NULL));
	assert_false(mounted("/mnt/y", NULL));
	assert_true(mounted("/mnt/z", NULL));
	ERR(uvfs_stat(R, "/mnt/x/f", &st), ENOENT);
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");
	ASSERT_CONTENT(R, "/mnt/z/f", "zzz");
	ERR(uvfs_read(c, fd, buf, sizeof(buf)), EIO);
	OK(uvfs_close(c, fd));
	ERR(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV);
	ERR(uvfs_fstype_unregister(U, "memfs2", 0, 2000), ENOENT);
	OK(uvfs_chdir(c, "/"));
	free_ctx(c);
	OK(uvfs_umount(R, "/mnt/z", 0));
	/* registering the name again works */
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

static void test_fstype_unregister_timeout(void **state)
{
	struct uvfs_ctx *c;
	char buf[8];
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs2";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	OK(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""));
	put(R, "/mnt/x/f", "lazy");
	c = new_ctx("keeps it");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	/* lazily: the open file keeps its superblock, so the wait times out;
	 * the type stays registered but refuses new mounts */
	ERR(uvfs_fstype_unregister(U, "memfs2", UVFS_UMOUNT_DETACH, 200),
	    ETIMEDOUT);
	assert_false(mounted("/mnt/x", NULL));
	ERR2(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV, EBUSY);
	assert_int_equal(OK(uvfs_read(c, fd, buf, sizeof(buf))), 4);
	OK(uvfs_close(c, fd));
	OK(uvfs_fstype_unregister(U, "memfs2", 0, 2000));
	ERR(uvfs_mount(R, "memfs2", "none", "/mnt/x", ""), ENODEV);
	free_ctx(c);
	assert_only_root(live);
}

static void test_fstype_register_twice(void **state)
{
	(void)state;
	memfs2_ops = uvfs_memfs_ops;
	memfs2_ops.name = "memfs3";
	OK(uvfs_fstype_register(U, &memfs2_ops));
	ERR2(uvfs_fstype_register(U, &memfs2_ops), EEXIST, EBUSY);
	ERR2(uvfs_fstype_register(U, &uvfs_memfs_ops), EEXIST, EBUSY);
	ERR(uvfs_fstype_unregister(U, "nosuchtype", 0, 100), ENOENT);
	OK(uvfs_fstype_unregister(U, "memfs3", 0, 100));
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_input(void **state)
{
	struct uvfs_ctx *user;
	struct uvfs_cred cred = { .uid = 1000, .gid = 1000, .ngroups = 1,
				  .groups = { 1000 } };

	(void)state;
	ERR2(uvfs_umount(R, "/", 0), EBUSY, EINVAL);
	ERR(uvfs_umount(R, "/mnt", 0), EINVAL);
	ERR(uvfs_umount(R, "/nope", 0), ENOENT);
	ERR(uvfs_umount(R, "/mnt/x/under", 0), EINVAL);
	ERR(uvfs_mount(R, "nosuchfs", "none", "/mnt/x", ""), ENODEV);
	ERR(uvfs_mount(R, "memfs", "none", "/mnt/x/under", ""), ENOTDIR);
	ERR(uvfs_mount(R, "memfs", "none", "/nope", ""), ENOENT);
	ERR(uvfs_umount(R, "/mnt/x", 0x100), EINVAL);
	ERR(uvfs_revoke(R, "/nope"), ENOENT);
	ERR(uvfs_holders(R, "/mnt", &(struct uvfs_holder *){ NULL },
			 &(size_t){ 0 }), EINVAL);
	/* holder kind names */
	{
		const char *k[5];
		int i, j;

		for (i = 0; i < 5; i++) {
			k[i] = uvfs_holder_kind_name((enum uvfs_holder_kind)i);
			assert_non_null(k[i]);
			for (j = 0; j < i; j++)
				assert_string_not_equal(k[i], k[j]);
		}
	}
	/* the deadline option */
	mount_x("/mnt/x", "deadline=200");
	OK(uvfs_umount(R, "/mnt/x", 0));
	/* a user cannot unmount */
	mount_x("/mnt/x", NULL);
	OK(uvfs_ctx_new(U, &cred, &user));
	ERR(uvfs_umount(user, "/mnt/x", 0), EPERM);
	ERR(uvfs_umount(user, "/mnt/x", UVFS_UMOUNT_FORCE), EPERM);
	ERR(uvfs_mount(user, "memfs", "none", "/mnt", ""), EPERM);
	uvfs_ctx_free(user);
	OK(uvfs_umount(R, "/mnt/x", 0));
}

/* ---- forced unmount with an operation stuck in the driver -------------- */

static struct uvfs_fstype_ops slowfs_ops;
static atomic_int slow_cancelled;
static atomic_int slow_in_read;
static atomic_int slow_ignore_cancel;

static ssize_t slow_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
			 size_t n, off_t off)
{
	double end = now_ms() + (atomic_load(&slow_ignore_cancel) ? 1500 :
				 10000);

	atomic_fetch_add(&slow_in_read, 1);
	while (now_ms() < end) {
		if (atomic_load(&slow_cancelled) &&
		    !atomic_load(&slow_ignore_cancel))
			return -EIO;
		sleep_ms(5);
	}
	return uvfs_memfs_ops.read(sb, priv, fh, buf, n, off);
}

static void slow_cancel(struct uvfs_sb *sb)
{
	atomic_store(&slow_cancelled, 1);
	if (uvfs_memfs_ops.cancel)
		uvfs_memfs_ops.cancel(sb);
}

struct bg_read {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	int fd;
	atomic_int done;
	ssize_t result;
	double returned_at;
};

static void *bg_read_main(void *arg)
{
	struct bg_read *b = arg;
	char buf[16];

	b->result = uvfs_read(b->ctx, b->fd, buf, sizeof(buf));
	b->returned_at = now_ms();
	atomic_store(&b->done, 1);
	return NULL;
}

static void slow_umount(bool ignore_cancel)
{
	struct bg_read b;
	struct uvfs_ctx *c;
	double t0, dt, end;
	uint64_t live;

	live = live_vnodes();
	slowfs_ops = uvfs_memfs_ops;
	slowfs_ops.name = "slowfs";
	slowfs_ops.read = slow_read;
	slowfs_ops.cancel = ignore_cancel ? NULL : slow_cancel;
	atomic_store(&slow_cancelled, 0);
	atomic_store(&slow_in_read, 0);
	atomic_store(&slow_ignore_cancel, ignore_cancel);
	OK(uvfs_fstype_register(U, &slowfs_ops));
	OK(uvfs_mount(R, "slowfs", "none", "/mnt/x", "deadline=300"));
	put(R, "/mnt/x/f", "slow");
	c = new_ctx("reader");
	memset(&b, 0, sizeof(b));
	b.ctx = c;
	b.fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	assert_int_equal(pthread_create(&b.thread, NULL, bg_read_main, &b),
			 0);
	end = now_ms() + 2000;
	while (!atomic_load(&slow_in_read) && now_ms() < end)
		sleep_ms(1);
	assert_true(atomic_load(&slow_in_read));
	/* the mount list counts the operation inside the file system */
	{
		struct uvfs_mount_info *mi;
		size_t n, i;
		uint64_t in = 0;

		OK(uvfs_mount_list(U, &mi, &n));
		for (i = 0; i < n; i++)
			if (strcmp(mi[i].target, "/mnt/x") == 0)
				in = mi[i].inflight;
		free(mi);
		assert_int_equal(in, 1);
	}
	ERR(uvfs_umount(R, "/mnt/x", 0), EBUSY);
	t0 = now_ms();
	OK(uvfs_umount(R, "/mnt/x", UVFS_UMOUNT_FORCE));
	dt = now_ms() - t0;
	printf("    forced unmount (deadline=300, driver %s cancel): "
	       "%.1f ms\n", ignore_cancel ? "without" : "with", dt);
	assert_false(mounted("/mnt/x", NULL));
	/* waits for the reader (1.5 s at most without cancel) */
	end = now_ms() + 12000;
	while (!atomic_load(&b.done) && now_ms() < end)
		sleep_ms(5);
	if (!atomic_load(&b.done))
		fail_msg("the reader never came back");
	pthread_join(b.thread, NULL);
	printf("    the reader got %s, %.1f ms after the unmount began\n",
	       errname(b.result), b.returned_at - t0);
	if (b.result != -EIO && b.result != 4)
		fail_msg("the reader got %s", errname(b.result));
	if (!ignore_cancel && b.returned_at - t0 > 1000)
		fail_msg("the reader was not cancelled");
	assert_true(dt < 1000);
	/* now the descriptor is dead */
	{
		char buf[4];

		ERR(uvfs_read(c, b.fd, buf, sizeof(buf)), EIO);
	}
	OK(uvfs_close(c, b.fd));
	free_ctx(c);
	OK(uvfs_fstype_unregister(U, "slowfs", 0, 2000));
	assert_only_root(live);
}

static void test_force_deadline_cancel(void **state)
{
	(void)state;
	slow_umount(false);
}

static void test_force_deadline_stuck(void **state)
{
	(void)state;
	slow_umount(true);
}

/* ---- main -------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_umount_idle),
		T(test_busy_fd),
		T(test_busy_cwd),
		T(test_busy_root),
		T(test_busy_node),
		T(test_busy_child),
		T(test_force_fd),
		T(test_force_idle_and_busy_kinds),
		T(test_detach_fd),
		T(test_revoke),
		T(test_suspend_resume),
		T(test_suspend_errors),
		T(test_fstype_unregister),
		T(test_fstype_unregister_timeout),
		T(test_fstype_register_twice),
		T(test_bad_input),
		T(test_force_deadline_cancel),
		T(test_force_deadline_stuck),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

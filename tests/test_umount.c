/*
 * test_umount.c - the unmount contract, on memfs mounts.
 *
 * Normal unmount (EBUSY for each kind of holder, and who holds it), forced
 * unmount (dead descriptors, bounded time even with an operation blocked in
 * the driver), lazy unmount, revoke, suspend/resume, file-system-type
 * unregistration, bad input, and naming a mount by its id.  Each test has its own instance, so the
 * live-object counters of uvfs_stats can be checked exactly.
 *
 * This file is the harness (the fixture, the checks and helpers) and main
 * with the tests in the order they run; the tests are in
 * test_umount_{busy,force,admin,stuck,parent,id}.c by topic, included below into
 * this one translation unit.
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
#include "test_clock.h"

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

/* The forced-unmount deadline the mount list gives for target (-1: not
 * listed). */
static int deadline_listed(const char *target)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0, i;
	int ms = -1;

	OK(uvfs_mount_list(U, &mi, &n));
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0)
			ms = (int)mi[i].deadline_ms;
	free(mi);
	return ms;
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

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the fixture and helpers above ------------ */

#include "test_umount_busy.c"  /* normal unmount: EBUSY, holders */
#include "test_umount_force.c" /* forced, lazy, revoke */
#include "test_umount_admin.c" /* suspend, types, bad input */
#include "test_umount_stuck.c" /* forced, a driver stuck */
#include "test_umount_parent.c" /* below a suspended or hung mount */
#include "test_umount_id.c"     /* named by its id */

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
		T(test_detached_child_frees_parent),
		T(test_detach_child_racing_dotdot),
		T(test_revoke),
		T(test_suspend_resume),
		T(test_suspend_errors),
		T(test_suspend_revoked_file),
		T(test_suspend_then_detach),
		T(test_suspend_interrupt),
		T(test_fstype_unregister),
		T(test_fstype_unregister_timeout),
		T(test_fstype_unregister_detached),
		T(test_fstype_unregister_racing_mount),
		T(test_fstype_unregister_racing_detach),
		T(test_fstype_register_twice),
		T(test_bad_input),
		T(test_force_deadline_cancel),
		T(test_force_deadline_stuck),
		T(test_force_child_of_suspended),
		T(test_admin_child_of_suspended),
		T(test_force_child_of_hung),
		T(test_force_child_after_rename),
		T(test_revoke_waits_suspended),
		T(test_id_covered_suspended),
		T(test_id_errors),
		T(test_id_child_of_suspended_or_hung),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_diag.c - a broken invariant stops the program with file and line:
 * releasing a node more times than it is held must abort (the count would
 * go negative), not corrupt memory.  The offending call runs in a child.
 * Also: an instance that cannot be made fails cleanly (nothing leaks; the
 * leak checker of the ASan build sees to that).  A release build (NDEBUG)
 * has no invariant checks: the first test is skipped, and the program
 * exits 77.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include "skip.h"

#include <uvfs/uvfs.h>

static void over_release_aborts(void **state)
{
	int pipefd[2];
	char out[4096] = "";
	ssize_t n, len = 0;
	int status;
	pid_t pid;

	(void)state;
#ifdef NDEBUG
	/* a release build compiles the cheap invariant checks out */
	printf("SKIP: over_release_aborts: no invariant checks (NDEBUG)\n");
	skip();
#endif
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct uvfs *u;
		struct uvfs_ctx *c;
		struct uvfs_node *root;

		dup2(pipefd[1], 2);
		if (uvfs_new(NULL, &u) || uvfs_ctx_new(u, NULL, &c) ||
		    uvfs_node_root(c, &root))
			_exit(3);
		uvfs_node_release(root, 2);     /* held once */
		_exit(0);                       /* not reached */
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(out, "uvfs: invariant broken at "));
	assert_non_null(strstr(out, "node.c:"));
}

static void bad_root_type_fails_cleanly(void **state)
{
	struct uvfs_config cfg = { .root_type = "nosuchfs" };
	struct uvfs *u = NULL;

	(void)state;
	assert_int_equal(uvfs_new(&cfg, &u), -ENODEV);
	assert_null(u);
	cfg.root_type = "memfs";
	cfg.root_options = "nosuchoption";
	assert_int_equal(uvfs_new(&cfg, &u), -EINVAL);
	assert_null(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(over_release_aborts),
		cmocka_unit_test(bad_root_type_fails_cleanly),
	};
	return TESTS_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}

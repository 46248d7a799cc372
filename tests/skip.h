/*
 * skip.h - skips that meson sees.  cmocka's skip() marks one test skipped
 * but the program still exits 0, which meson counts as a pass.  Included
 * after <cmocka.h>, skip() also counts, and TESTS_EXIT turns the group's
 * result into the exit status: 1 if a test failed, else 77 (skip) if any
 * test was skipped, else 0.  Give the reason on stdout before skip().
 */
#ifndef UVFS_TESTS_SKIP_H
#define UVFS_TESTS_SKIP_H

#include <stdio.h>

static int tests_skipped;

#undef skip
#define skip()                                                          \
	do {                                                            \
		printf("SKIP: %s:%d\n", __FILE__, __LINE__);            \
		fflush(stdout);                                         \
		tests_skipped++;                                        \
		_skip(__FILE__, __LINE__);                              \
	} while (0)

#define TESTS_EXIT(failed) ((failed) ? 1 : tests_skipped ? 77 : 0)

#endif

/*
 * test_lockset.c - the lock sets of fs.h (uvfs_lockset_*), as the core
 * keeps them per file and a driver per handle: a new lock of an owner
 * replaces its old ones on the range, merges with those of the same type
 * it touches, an unlock cuts (splitting a lock in two); owners and the
 * flock space never mix.  The conformance body checks the same rules
 * through conflicts; this checks the records themselves.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uvfs/fs.h>

#define EOFL UVFS_LOCK_EOF

/* The set as text, sorted by (space, owner, start): "o1:W0-99 o1:R100-E". */
struct dump { char rec[32][48]; int n; };

static int dump_one(void *arg, const struct uvfs_lock *lk)
{
	struct dump *d = arg;
	char end[24];

	if (lk->end == EOFL)
		snprintf(end, sizeof(end), "E");
	else
		snprintf(end, sizeof(end), "%lld", (long long)lk->end);
	snprintf(d->rec[d->n++], sizeof(d->rec[0]), "%so%llu:%c%lld-%s",
		 (lk->flags & UVFS_LOCK_FLOCK) ? "f" : "",
		 (unsigned long long)lk->owner,
		 lk->type == F_RDLCK ? 'R' : 'W', (long long)lk->start, end);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void expect_set(struct uvfs_lockset *ls, const char *want)
{
	static char got[32 * 48];
	struct dump d = { .n = 0 };

	uvfs_lockset_each(ls, dump_one, &d);
	qsort(d.rec, (size_t)d.n, sizeof(d.rec[0]), cmp);
	got[0] = '\0';
	for (int i = 0; i < d.n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, d.rec[i]);
	}
	assert_string_equal(got, want);
}

static void ap(struct uvfs_lockset *ls, uint64_t owner, short type,
	       int64_t start, int64_t end, unsigned flags)
{
	struct uvfs_lock lk = { .type = type, .flags = flags, .start = start,
				.end = end, .owner = owner };

	assert_int_equal(uvfs_lockset_apply(ls, &lk), 0);
}

static void test_split_merge(void **state)
{
	struct uvfs_lockset *ls = uvfs_lockset_new();

	(void)state;
	ap(ls, 1, F_WRLCK, 0, 99, 0);
	ap(ls, 1, F_UNLCK, 40, 59, 0);
	expect_set(ls, "o1:W0-39 o1:W60-99");
	ap(ls, 1, F_WRLCK, 40, 59, 0);
	expect_set(ls, "o1:W0-99");
	ap(ls, 1, F_RDLCK, 10, 19, 0);
	expect_set(ls, "o1:R10-19 o1:W0-9 o1:W20-99");
	ap(ls, 1, F_RDLCK, 0, 9, 0);            /* touches: merged */
	expect_set(ls, "o1:R0-19 o1:W20-99");
	ap(ls, 1, F_RDLCK, 100, 109, 0);        /* adjacent, other type */
	expect_set(ls, "o1:R0-19 o1:R100-109 o1:W20-99");
	ap(ls, 1, F_WRLCK, 5, 104, 0);          /* over three */
	expect_set(ls, "o1:R0-4 o1:R105-109 o1:W5-104");
	ap(ls, 1, F_UNLCK, 0, EOFL, 0);
	expect_set(ls, "");
	uvfs_lockset_free(ls);
}

static void test_eof_and_owners(void **state)
{
	struct uvfs_lockset *ls = uvfs_lockset_new();

	(void)state;
	ap(ls, 1, F_WRLCK, 5, EOFL, 0);
	ap(ls, 1, F_UNLCK, 10, EOFL, 0);
	expect_set(ls, "o1:W5-9");
	ap(ls, 2, F_RDLCK, 0, 20, 0);           /* another owner: apart */
	ap(ls, 1, F_WRLCK, 10, 20, 0);
	expect_set(ls, "o1:W5-20 o2:R0-20");
	ap(ls, 2, F_UNLCK, 0, EOFL, 0);
	expect_set(ls, "o1:W5-20");
	ap(ls, 1, F_RDLCK, 21, EOFL, 0);
	ap(ls, 1, F_RDLCK, 0, 4, 0);
	expect_set(ls, "o1:R0-4 o1:R21-E o1:W5-20");
	uvfs_lockset_free(ls);
}

static void test_flock_space(void **state)
{
	struct uvfs_lockset *ls = uvfs_lockset_new();

	(void)state;
	ap(ls, 1, F_WRLCK, 0, 9, 0);
	ap(ls, 1, F_RDLCK, 0, EOFL, UVFS_LOCK_FLOCK);
	ap(ls, 1, F_WRLCK, 0, EOFL, UVFS_LOCK_FLOCK);   /* converted */
	expect_set(ls, "fo1:W0-E o1:W0-9");
	ap(ls, 1, F_UNLCK, 0, EOFL, 0);          /* POSIX only */
	expect_set(ls, "fo1:W0-E");
	ap(ls, 1, F_UNLCK, 0, EOFL, UVFS_LOCK_FLOCK);
	expect_set(ls, "");
	uvfs_lockset_free(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_merge),
		cmocka_unit_test(test_eof_and_owners),
		cmocka_unit_test(test_flock_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

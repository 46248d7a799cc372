/*
 * test_htab.c - lib/util/htab.h, the drivers' growing hash table, against
 * a model: random insertions, removals and lookups through many
 * doublings (the old and new bucket arrays side by side), every entry
 * found by its hash and by the whole-table walk exactly once, chains kept
 * short; a doubling that cannot allocate leaves a table that works; and
 * htab_hash64 spreads keys with a stride; and a table emptied one entry
 * at a time by htab_any, with entries added meanwhile and a doubling
 * under way, gives every entry once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "htab.h"
#include "sys.h"

#define N 20000

struct ent {
	struct hlink hl;        /* first: a struct hlink * is the entry */
	uint64_t key;
	bool in;                /* the model: in the table */
	unsigned seen;
};

static struct ent ents[N];

/* A poor hash on purpose for some keys: collisions share a chain. */
static uint64_t hash_of(uint64_t key)
{
	return key % 7 == 0 ? 42 : key * 0x9e3779b97f4a7c15ull;
}

static struct ent *find(struct htab *t, uint64_t key)
{
	struct hiter it;

	for (struct hlink *l = hiter_first(t, &it, hash_of(key)); l;
	     l = hiter_next(t, &it))
		if (((struct ent *)l)->key == key)
			return (struct ent *)l;
	return NULL;
}

static void check_all(struct htab *t)
{
	struct hall a;
	size_t n = 0, want = 0;

	for (unsigned i = 0; i < N; i++) {
		ents[i].seen = 0;
		want += ents[i].in;
	}
	for (struct hlink *l = hall_first(t, &a); l; l = hall_next(t, &a)) {
		struct ent *e = (struct ent *)l;
		assert_true(e->in);
		assert_int_equal(e->seen++, 0);
		n++;
	}
	assert_int_equal(n, want);
	assert_int_equal(t->n, want);
}

static void test_model(void **state)
{
	struct htab t;
	unsigned seed = 20261206;

	(void)state;
	assert_int_equal(htab_init(&t), 0);
	for (unsigned i = 0; i < N; i++) {
		ents[i].key = i * 2654435761u + 1;
		ents[i].in = false;
	}
	for (unsigned round = 0; round < 200000; round++) {
		unsigned i = rand_r(&seed) % N;
		struct ent *e = &ents[i];
		unsigned op = rand_r(&seed) % 4;

		if (op == 0 || op == 1) {       /* in more often than out */
			if (!e->in) {
				htab_add(&t, &e->hl, hash_of(e->key));
				e->in = true;
			}
		} else if (op == 2) {
			if (e->in) {
				htab_del(&t, &e->hl);
				e->in = false;
			}
		}
		struct ent *f = find(&t, e->key);
		assert_ptr_equal(f, e->in ? e : NULL);
		if (round % 20000 == 0)
			check_all(&t);
	}
	check_all(&t);
	/* grown: at most two entries per bucket (with the doubling that
	 * follows the last insertion still moving) */
	assert_true(t.n <= 2 * (t.mask + 1));
	assert_true(t.mask + 1 > HTAB_MIN_BUCKETS);
	for (unsigned i = 0; i < N; i++)
		if (ents[i].in) {
			htab_del(&t, &ents[i].hl);
			ents[i].in = false;
		}
	assert_int_equal(t.n, 0);
	check_all(&t);
	htab_fini(&t);
}

/* Every calloc fails from the first doubling on: the table keeps its
 * size and every entry stays reachable. */
static void test_grow_fails(void **state)
{
	struct htab t;

	(void)state;
	assert_int_equal(htab_init(&t), 0);
	for (unsigned i = 0; i < N; i++) {
		ents[i].key = i + 1;
		ents[i].in = false;
	}
	uvfs_sys_fault_arm(SYS_C_ALLOC, 1, 0, true);
	for (unsigned i = 0; i < 1000; i++) {
		htab_add(&t, &ents[i].hl, hash_of(ents[i].key));
		ents[i].in = true;
	}
	uvfs_sys_fault_disarm();
	assert_int_equal(t.mask + 1, HTAB_MIN_BUCKETS);
	for (unsigned i = 0; i < 1000; i++)
		assert_ptr_equal(find(&t, ents[i].key), &ents[i]);
	check_all(&t);
	/* and it grows again once it can */
	for (unsigned i = 1000; i < 2000; i++) {
		htab_add(&t, &ents[i].hl, hash_of(ents[i].key));
		ents[i].in = true;
	}
	assert_true(t.mask + 1 > HTAB_MIN_BUCKETS);
	check_all(&t);
	htab_fini(&t);
}

/* Keys with a stride, hashed by htab_hash64, over a table grown to hold
 * them: the mean chain a lookup walks (the sum of the squared chain
 * lengths over the entries) within 15% of a random spread's.  Before the
 * high half was folded in, a stride of 64 gave 78 where 2.2 were due. */
static void test_hash64(void **state)
{
	static const uint64_t strides[] = { 1, 3, 8, 64, 4096, 1ull << 32 };

	(void)state;
	for (size_t s = 0; s < sizeof(strides) / sizeof(strides[0]); s++) {
		struct htab t;
		double sq = 0;

		assert_int_equal(htab_init(&t), 0);
		for (unsigned i = 0; i < N; i++) {
			ents[i].key = 1000 + i * strides[s];
			htab_add(&t, &ents[i].hl, htab_hash64(ents[i].key));
		}
		htab_step(&t, SIZE_MAX);
		assert_null(t.old);
		for (size_t b = 0; b <= t.mask; b++) {
			size_t len = 0;

			for (struct hlink *l = t.b[b]; l; l = l->next)
				len++;
			sq += (double)len * (double)len;
		}
		double probe = sq / N, due = 1 + (double)(N - 1) / (t.mask + 1);

		if (probe > 1.15 * due)
			fail_msg("stride %llu: %.2f probes, %.2f due",
				 (unsigned long long)strides[s], probe, due);
		htab_fini(&t);
	}
}

/* Emptied by htab_any one entry at a time (as a connection's teardown
 * does, with its lock dropped between), from a table that has just
 * doubled, while entries are added now and then (some below the cursor)
 * and once many (another doubling): each comes out once, and the table
 * ends empty with every entry added taken out. */
static void test_any(void **state)
{
	struct htab t;
	size_t cur = 0, out = 0, added = 0;
	unsigned next = 0;

	(void)state;
	assert_int_equal(htab_init(&t), 0);
	for (unsigned i = 0; i < N; i++) {
		ents[i].key = i + 1;
		ents[i].in = false;
		ents[i].seen = 0;
	}
	/* up to the doubling at 8 192 entries and a few past it: its old
	 * chains are not all moved yet */
	for (; next < 8200; next++, added++) {
		htab_add(&t, &ents[next].hl, hash_of(ents[next].key));
		ents[next].in = true;
	}
	assert_non_null(t.old);
	size_t mask0 = t.mask;
	assert_null(htab_any(&(struct htab){ .n = 0 }, &cur));
	for (struct hlink *l; (l = htab_any(&t, &cur)) != NULL;) {
		struct ent *e = (struct ent *)l;
		assert_true(e->in);
		assert_int_equal(e->seen++, 0);
		htab_del(&t, l);
		e->in = false;
		out++;
		/* every 3rd: one more entry; at the 1 000th 9 000 more,
		 * which double the table again */
		unsigned k = out == 1000 ? 9000 : out % 3 == 0;
		for (; k > 0 && next < N; k--, next++, added++) {
			htab_add(&t, &ents[next].hl, hash_of(ents[next].key));
			ents[next].in = true;
		}
		if (out == 1000)
			assert_true(t.mask + 1 > mask0 + 1);
	}
	assert_int_equal(out, added);
	assert_int_equal(t.n, 0);
	for (unsigned i = 0; i < next; i++)
		assert_int_equal(ents[i].seen, 1);
	check_all(&t);
	htab_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_grow_fails),
		cmocka_unit_test(test_hash64),
		cmocka_unit_test(test_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_hashname.c - unit tests of the name cache's hash and compare
 * (lib/core/hashname.h): the path walk's one-pass hash finds each name's
 * end and gives the hash the cache filed the name under, wherever the name
 * sits in a path and whatever follows it; the compare agrees with memcmp;
 * and the hash spreads names over the buckets.  Every path is built in a
 * buffer of its exact size, so that AddressSanitizer catches a load past
 * its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hashname.h"

/* A name of len bytes from seed, no '/' in it. */
static void make_name(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('0' + (seed * 7 + i * 13) % 75);   /* '0'..'z' */
}

/* A heap copy of exactly n bytes (no terminator unless in s). */
static char *exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* Every name length 1..40, preceded by 0..9 bytes of path and followed by
 * nothing, a '/', or a '/' and more: the one-pass hash equals the hash of
 * the name alone, and the length found is the name's. */
static void path_hash_is_name_hash(void **state)
{
	char name[64], path[128];

	(void)state;
	for (size_t len = 1; len <= 40; len++) {
		make_name(name, len, (unsigned)len);
		for (size_t pre = 0; pre <= 9; pre++) {
			for (int tail = 0; tail < 3; tail++) {
				size_t n = 0;

				memset(path, 'p', pre);
				if (pre)
					path[pre - 1] = '/';
				n = pre;
				memcpy(path + n, name, len);
				n += len;
				if (tail >= 1)
					path[n++] = '/';
				if (tail == 2) {
					memcpy(path + n, "more/x", 6);
					n += 6;
				}
				char *p = exact(path, n);
				size_t got;
				uint32_t h = hn_hash_path(0x1234560, p, p + pre,
							  p + n, &got);
				char *alone = exact(name, len);

				assert_int_equal(got, len);
				assert_int_equal(h, hn_hash(0x1234560, alone,
							    len));
				free(alone);
				free(p);
			}
		}
	}
}

/* Names of any bytes but '/' and NUL (those around '/', 0x80 and up),
 * from a fixed pseudo-random sequence, in paths of several names: each
 * name's end and hash are found as for the name alone. */
static void any_bytes(void **state)
{
	uint32_t x = 12345;
	char path[256];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t n = 0, starts[8], lens[8];
		int k = 0;

		while (k < 8 && n < 200) {
			size_t len = 1 + (x = x * 1103515245 + 12345) % 20;

			path[n++] = '/';
			starts[k] = n;
			lens[k] = len;
			for (size_t i = 0; i < len; i++) {
				unsigned char c;

				do
					c = (unsigned char)((x = x * 1103515245 +
							     12345) >> 16);
				while (c == '/' || c == 0);
				path[n++] = (char)c;
			}
			k++;
		}
		char *p = exact(path, n);

		for (int i = 0; i < k; i++) {
			size_t got;
			uint32_t h = hn_hash_path(7, p, p + starts[i], p + n,
						  &got);

			assert_int_equal(got, lens[i]);
			assert_int_equal(h, hn_hash(7, p + starts[i], got));
		}
		free(p);
	}
}

/* The hash depends on the salt (the directory) and on every byte. */
static void hash_sees_every_byte(void **state)
{
	char name[40];

	(void)state;
	for (size_t len = 1; len <= 33; len++) {
		make_name(name, len, 3);
		uint32_t h = hn_hash(0x1000, name, len);

		assert_int_not_equal(h, hn_hash(0x1010, name, len));
		for (size_t i = 0; i < len; i++) {
			name[i] ^= 1;
			assert_int_not_equal(h, hn_hash(0x1000, name, len));
			name[i] ^= 1;
		}
	}
}

/* Equality of every prefix length, against memcmp, a byte changed at each
 * position. */
static void equal_is_memcmp(void **state)
{
	char a[48], b[48];

	(void)state;
	for (size_t len = 0; len <= 40; len++) {
		make_name(a, len, 5);
		memcpy(b, a, len);
		char *x = exact(a, len), *y = exact(b, len);

		assert_true(hn_equal(x, y, len));
		for (size_t i = 0; i < len; i++) {
			y[i] ^= 0x20;
			assert_false(hn_equal(x, y, len));
			assert_int_equal(hn_equal(x, y, len),
					 memcmp(x, y, len) == 0);
			y[i] ^= 0x20;
		}
		free(x);
		free(y);
	}
}

/* 20 000 names of one directory ("f0" ...) and 20 000 directories' "a",
 * as the allocator spaces them, over 4096 buckets: no bucket holds more
 * than a few times the mean (about 5). */
static void hash_spreads(void **state)
{
	enum { NB = 4096, N = 20000 };
	static unsigned b1[NB], b2[NB];
	unsigned max1 = 0, max2 = 0;
	char name[16];

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		int l = snprintf(name, sizeof(name), "f%u", i);
		uint32_t h = hn_hash(0x55d0c0a012f0, name, (size_t)l);

		if (++b1[h & (NB - 1)] > max1)
			max1 = b1[h & (NB - 1)];
		h = hn_hash(0x55d0c0a00000 + 0xa0 * (uintptr_t)i, "a", 1);
		if (++b2[h & (NB - 1)] > max2)
			max2 = b2[h & (NB - 1)];
	}
	assert_true(max1 <= 20);
	assert_true(max2 <= 20);
}

/* The mean length of the chain a lookup walks (the sum of the squared
 * chain lengths over the names) for n names of one pattern over nb
 * buckets, against a random spread's 1 + (n - 1) / nb: within 15% for
 * every pattern and size.  The first fold (one multiply) gave 8.49 for
 * f000000 .. f099999 over 65 536 buckets, where 2.53 was due. */
static void spread_probes(void **state)
{
	static const char *const pat[] = { "f%06u", "f%u", "file-%u.txt",
					   "%u", "a-rather-long-prefix.%08u" };
	static const unsigned sizes[][2] = { { 4096, 1000 }, { 16384, 10000 },
					     { 65536, 100000 },
					     { 131072, 200000 } };
	char name[64];

	(void)state;
	for (size_t p = 0; p < sizeof(pat) / sizeof(pat[0]); p++) {
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			unsigned nb = sizes[z][0], n = sizes[z][1];
			unsigned *b = calloc(nb, sizeof(*b));
			double sq = 0;

			assert_non_null(b);
			for (unsigned i = 0; i < n; i++) {
				int l = snprintf(name, sizeof(name), pat[p], i);

				b[hn_hash(0x7f3a9c012340, name, (size_t)l) &
				  (nb - 1)]++;
			}
			for (unsigned i = 0; i < nb; i++)
				sq += (double)b[i] * b[i];
			double probe = sq / n, due = 1 + (double)(n - 1) / nb;

			if (probe > 1.15 * due)
				fail_msg("%s, %u names over %u buckets: %.2f "
					 "probes, %.2f due", pat[p], n, nb,
					 probe, due);
			free(b);
		}
	}
}

/* A path shorter than a word: its names are loaded byte by byte. */
static void short_paths(void **state)
{
	static const char *const paths[] = { "a", "/a", "ab/", "/a/b", "abcdefg",
					     "/abcdef", "a//b" };

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t n = strlen(paths[i]), got;
		char *p = exact(paths[i], n);
		const char *s = p;

		while (*s == '/')
			s++;
		uint32_t h = hn_hash_path(42, p, s, p + n, &got);
		const char *slash = memchr(s, '/', (size_t)(p + n - s));
		size_t want = slash ? (size_t)(slash - s) : (size_t)(p + n - s);

		assert_int_equal(got, want);
		assert_int_equal(h, hn_hash(42, s, want));
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_hash_is_name_hash),
		cmocka_unit_test(any_bytes),
		cmocka_unit_test(hash_sees_every_byte),
		cmocka_unit_test(equal_is_memcmp),
		cmocka_unit_test(hash_spreads),
		cmocka_unit_test(spread_probes),
		cmocka_unit_test(short_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

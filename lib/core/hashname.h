/*
 * hashname.h - the name cache's hash of a name and its compare, a word at
 * a time, as pure functions on memory, so that tests/test_hashname.c
 * checks them without a name cache.
 *
 *   hn_hash_path  the path walk's: finds where the name at p ends (a '/'
 *                 or the path's end) and hashes it in the same pass, 8
 *                 bytes per step (Linux's hash_name()).
 *   hn_hash       the same hash of a name whose length is known (the name
 *                 cache's insertions and removals, the walk with
 *                 references): equal to hn_hash_path's for the same bytes
 *                 and salt, whatever follows the name.
 *   hn_equal      whether two names of the same length are equal.
 *
 * Every load stays inside the bytes the caller gave: no read past a
 * string's end (so nothing here needs exempting from AddressSanitizer).
 * A word that would cross the end is loaded as the 8 bytes that end there
 * and shifted down, when the path has 8 bytes before its end; else (a
 * path shorter than 8 bytes) byte by byte.
 *
 * The hash, for a salt (the directory's address) and a name: the name's
 * full 8-byte words are mixed in one by one, little-endian; the bytes left
 * (0 to 7) are the last word, zero-extended, folded in at the end.  The
 * fold spreads every bit over the low bits that pick a bucket.
 */
#ifndef UVFS_HASHNAME_H
#define UVFS_HASHNAME_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HN_K      0x9e3779b97f4a7c15ULL     /* 2^64 / golden ratio, odd */
#define HN_ONES   0x0101010101010101ULL
#define HN_HIGHS  0x8080808080808080ULL

static inline uint64_t hn_rotl(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

static inline uint64_t hn_seed(uintptr_t salt)
{
	return hn_rotl((uint64_t)salt * HN_K, 32);
}

static inline uint64_t hn_mix(uint64_t h, uint64_t w)
{
	return hn_rotl((h ^ w) * HN_K, 29);
}

/* The end of every hash: the last word folded in, then MurmurHash3's
 * 64-bit finaliser, so that each bit of the state moves each low bit a
 * bucket is picked by.  A single multiply and a shift (what this was
 * first) put the names f000000 .. f099999 of one directory on 14 310 of
 * 65 536 buckets, in chains of 4, 8 and 12: eight probes a lookup where
 * two and a half were due (tests/test_hashname.c, spread_*). */
static inline uint32_t hn_fold(uint64_t h, uint64_t last)
{
	uint64_t x = h ^ last;

	x ^= x >> 32;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* The 8 bytes at p, as a little-endian number. */
static inline uint64_t hn_load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return le64toh(w);
}

/* The r (< 8) bytes at p, zero-extended; base is the string's start
 * (base <= p), and nothing past p + r is read. */
static inline uint64_t hn_load_tail(const char *base, const char *p,
				    size_t r)
{
	uint64_t w = 0;

	if (r == 0)
		return 0;
	if ((size_t)(p - base) + r >= 8)
		return hn_load8(p + r - 8) >> (64 - 8 * r);
	for (size_t i = 0; i < r; i++)
		w |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return w;
}

/* The bytes of w that are '/' have their high bit set; exact up to the
 * first one (a borrow may mark bytes above it). */
static inline uint64_t hn_slashes(uint64_t w)
{
	uint64_t x = w ^ (HN_ONES * '/');

	return (x - HN_ONES) & ~x & HN_HIGHS;
}

/* The hash of the name at p, which ends at the first '/' or at end (the
 * path is base..end, base <= p < end); *len is its length. */
static inline uint32_t hn_hash_path(uintptr_t salt, const char *base,
				    const char *p, const char *end,
				    size_t *len)
{
	const char *s = p;
	uint64_t h = hn_seed(salt), w, m;

	for (;;) {
		size_t r = (size_t)(end - p);

		if (r < 8) {
			w = hn_load_tail(base, p, r);
			m = hn_slashes(w);
			if (!m) {
				p += r;
				break;
			}
		} else {
			w = hn_load8(p);
			m = hn_slashes(w);
			if (!m) {
				h = hn_mix(h, w);
				p += 8;
				continue;
			}
		}
		/* the bytes below the first '/' (its high bit is m's lowest:
		 * the bits under it, shifted down to whole bytes) */
		w &= ((m - 1) & ~m) >> 7;
		p += (unsigned)__builtin_ctzll(m) >> 3;
		break;
	}
	*len = (size_t)(p - s);
	return hn_fold(h, w);
}

/* The hash of name[0 .. len) (no '/' in it). */
static inline uint32_t hn_hash(uintptr_t salt, const char *name, size_t len)
{
	uint64_t h = hn_seed(salt);
	size_t i = 0;

	for (; len - i >= 8; i += 8)
		h = hn_mix(h, hn_load8(name + i));
	return hn_fold(h, hn_load_tail(name, name + i, len - i));
}

/* a[0 .. len) == b[0 .. len)?  The last word of each is the one that ends
 * at len (overlapping the one before: equal bytes compare equal twice). */
static inline bool hn_equal(const char *a, const char *b, size_t len)
{
	uint32_t a4, b4, a4e, b4e;
	uint16_t a2, b2, a2e, b2e;

	if (len >= 8) {
		for (size_t i = 0; i + 8 < len; i += 8)
			if (hn_load8(a + i) != hn_load8(b + i))
				return false;
		return hn_load8(a + len - 8) == hn_load8(b + len - 8);
	}
	if (len >= 4) {
		memcpy(&a4, a, 4);
		memcpy(&b4, b, 4);
		memcpy(&a4e, a + len - 4, 4);
		memcpy(&b4e, b + len - 4, 4);
		return a4 == b4 && a4e == b4e;
	}
	if (len >= 2) {
		memcpy(&a2, a, 2);
		memcpy(&b2, b, 2);
		memcpy(&a2e, a + len - 2, 2);
		memcpy(&b2e, b + len - 2, 2);
		return a2 == b2 && a2e == b2e;
	}
	return len == 0 || a[0] == b[0];
}

#endif /* UVFS_HASHNAME_H */

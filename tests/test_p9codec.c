/*
 * test_p9codec.c - unit tests of the 9P2000.L codec (lib/9p).
 *
 * Every message type the codec knows has a known-answer vector here, built
 * field by field from the protocol description (diod's protocol.md, Linux
 * net/9p) with a byte builder that shares nothing with the codec: packing
 * the sample message must give exactly those bytes, unpacking them must
 * succeed and re-pack to the same bytes, and every truncation of them must
 * be refused.  Then the malformed inputs one by one, encoding errors,
 * stream framing and the Rreaddir helpers.
 *
 * `test_p9codec --write-corpus DIR` writes the samples (and a few streams
 * and malformed messages) as the fuzzer's seeds: fuzz/corpus/p9_unpack/.
 *
 * This file is the harness (the byte builder) and main with the tests in
 * the order they run; the samples and the tests are in
 * test_p9codec_{samples,answers,errors,stream,corpus}.c by topic,
 * included below into this one translation unit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p9.h"

/* --- an independent encoder for expected bytes --- */

struct bb {
	uint8_t b[1024];
	size_t n;
};

static void bput(struct bb *b, uint64_t v, int k)
{
	assert_true(b->n + (size_t)k <= sizeof(b->b));
	for (int i = 0; i < k; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}
static void b8(struct bb *b, uint8_t v) { bput(b, v, 1); }
static void b16(struct bb *b, uint16_t v) { bput(b, v, 2); }
static void b32(struct bb *b, uint32_t v) { bput(b, v, 4); }
static void b64(struct bb *b, uint64_t v) { bput(b, v, 8); }
static void bbytes(struct bb *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}
static void bstr(struct bb *b, const char *s)
{
	b16(b, (uint16_t)strlen(s));
	bbytes(b, s, strlen(s));
}
static void bqid(struct bb *b, struct p9_qid q)
{
	b8(b, q.type);
	b32(b, q.version);
	b64(b, q.path);
}
static void bhdr(struct bb *b, uint8_t type, uint16_t tag)
{
	b->n = 0;
	b32(b, 0);      /* patched by bfix */
	b8(b, type);
	b16(b, tag);
}
static void bfix(struct bb *b)
{
	for (int i = 0; i < 4; i++)
		b->b[i] = (uint8_t)(b->n >> (8 * i));
}

#define S(lit) P9_STR(lit)

/* ---- the samples and the tests, by topic: each file is included here,
 * in this one translation unit, so it uses the byte builder above --- */

#include "test_p9codec_samples.c" /* a sample of every type */
#include "test_p9codec_answers.c" /* known answers */
#include "test_p9codec_errors.c"  /* malformed input, encoding */
#include "test_p9codec_stream.c"  /* framing, Rreaddir, names */
#include "test_p9codec_corpus.c"  /* --write-corpus */

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kat_tversion),
		cmocka_unit_test(kat_small),
		cmocka_unit_test(fixed_sizes),
		cmocka_unit_test(every_type),
		cmocka_unit_test(decoded_fields),
		cmocka_unit_test(malformed),
		cmocka_unit_test(pack_invalid),
		cmocka_unit_test(pack_in_place),
		cmocka_unit_test(framing),
		cmocka_unit_test(dirent_roundtrip),
		cmocka_unit_test(dirent_malformed),
		cmocka_unit_test(names),
	};
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	return cmocka_run_group_tests(tests, setup, NULL);
}

/*
 * fuzz.h - what every libFuzzer target here shares: the entry point's
 * prototype and CHECK, which stops the target (abort: libFuzzer keeps the
 * input as a crash; a replay test fails) when a property does not hold.
 */
#ifndef UVFS_FUZZ_H
#define UVFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                          \
	do {                                                              \
		if (!(x)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",      \
				__FILE__, __LINE__, #x);                  \
			abort();                                          \
		}                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share
 *
 * Every target is one file, fuzz_<name>.c, defining
 * LLVMFuzzerTestOneInput(); tests/fuzz/run.sh runs them (./dev fuzz for
 * an hour each, tests/run fuzz for a short time in CI).  A target checks
 * what must hold whatever the input (FUZZ_CHECK: abort, so libFuzzer
 * saves the input as a crash), besides the sanitizers' own checks.
 */
#ifndef TLY_FUZZ_H
#define TLY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* FUZZ_CHECK - abort with the file and line when 'c' is false */
#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

#endif

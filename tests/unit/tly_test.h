/*
 * tly_test.h - what every unit test includes
 *
 * cmocka (with the headers it needs before it) and the comparisons of
 * docs/style.md, "Tests": a failed comparison says "got X, want Y" and names
 * the expression, where cmocka's own assert_int_equal prints two hex
 * numbers.  Table-driven tests use fail_msg() directly and name the row.
 */
#ifndef TLY_TEST_H
#define TLY_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* want_int - two integers (up to 64 bits, signed) are equal */
#define want_int(got, want) do {					\
	long long got_ = (long long)(got);				\
	long long want_ = (long long)(want);				\
									\
	if (got_ != want_)						\
		fail_msg("%s: got %lld, want %lld", #got, got_, want_);	\
} while (0)

/* want_str - two C strings are equal (NULL only equals NULL) */
#define want_str(got, want) do {					\
	const char *gots_ = (got);					\
	const char *wants_ = (want);					\
									\
	if (gots_ == NULL || wants_ == NULL ? gots_ != wants_ :		\
	    strcmp(gots_, wants_) != 0)					\
		fail_msg("%s: got \"%s\", want \"%s\"", #got,		\
		    gots_ ? gots_ : "(null)",				\
		    wants_ ? wants_ : "(null)");			\
} while (0)

/* want_has - C string 'got' contains 'part' */
#define want_has(got, part) do {					\
	const char *goth_ = (got);					\
	const char *parth_ = (part);					\
									\
	if (goth_ == NULL || strstr(goth_, parth_) == NULL)		\
		fail_msg("%s: got \"%s\", want it to contain \"%s\"",	\
		    #got, goth_ ? goth_ : "(null)", parth_);		\
} while (0)

#endif

/*
 * buf_test.c - core/util/tly_buf.c
 *
 * Growth (doubling, capped at max + 1), the hard maximum (an append past
 * it fails with TLY_TOO_LARGE and leaves the buffer freed, empty and
 * usable), tly_buf_addf on both sides of its 256-byte stack path,
 * tly_buf_add_i64 at the int64 extremes, form-urlencoding, reset and
 * steal.
 */
#include "tly_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tly_buf.h"
#include "tly_err.h"

static void
test_empty(void **state)
{
	tly_buf b;

	(void)state;
	tly_buf_init(&b, 100);
	want_str(tly_buf_str(&b), "");
	want_int(b.len, 0);
	assert_null(b.data);
	want_int(tly_buf_add(&b, "", 0), TLY_OK);
	want_str(tly_buf_str(&b), "");
	want_int(b.len, 0);
	tly_buf_free(&b);
	assert_null(b.data);
}

static void
test_growth(void **state)
{
	char want[1000];
	tly_buf b;
	size_t i;

	(void)state;
	tly_buf_init(&b, 1 << 20);
	for (i = 0; i < sizeof(want); i++) {
		want[i] = (char)('a' + i % 26);
		want_int(tly_buf_addc(&b, want[i]), TLY_OK);
		want_int(b.len, i + 1);
		assert_true(b.cap >= b.len + 1);
		want_int(b.data[b.len], '\0');
	}
	assert_memory_equal(b.data, want, sizeof(want));
	want_int(b.cap, 1024);		/* 64 doubled four times */
	tly_buf_free(&b);

	/* the capacity never passes max + 1 */
	tly_buf_init(&b, 100);
	for (i = 0; i < 100; i++)
		want_int(tly_buf_addc(&b, 'x'), TLY_OK);
	want_int(b.len, 100);
	want_int(b.cap, 101);
	want_int(strlen(tly_buf_str(&b)), 100);
	tly_buf_free(&b);
}

static void
test_binary(void **state)
{
	static const char bytes[] = { 'a', '\0', 'b', '\0' };
	tly_buf b;

	(void)state;
	tly_buf_init(&b, 64);
	want_int(tly_buf_add(&b, bytes, sizeof(bytes)), TLY_OK);
	want_int(b.len, 4);
	assert_memory_equal(b.data, bytes, sizeof(bytes));
	want_int(b.data[4], '\0');
	tly_buf_free(&b);
}

static void
test_hard_max(void **state)
{
	tly_buf b;

	(void)state;
	tly_buf_init(&b, 10);
	/* exactly max */
	want_int(tly_buf_adds(&b, "0123456789"), TLY_OK);
	want_int(b.len, 10);
	want_int(tly_buf_addc(&b, 'x'), TLY_TOO_LARGE);
	assert_null(b.data);
	want_int(b.len, 0);
	want_int(b.cap, 0);
	want_str(tly_buf_str(&b), "");

	/* freed but usable, with the same limit */
	want_int(tly_buf_adds(&b, "abc"), TLY_OK);
	want_str(tly_buf_str(&b), "abc");
	want_int(tly_buf_adds(&b, "0123456789"), TLY_TOO_LARGE);
	assert_null(b.data);

	/* one append larger than max on an empty buffer */
	want_int(tly_buf_adds(&b, "0123456789A"), TLY_TOO_LARGE);
	assert_null(b.data);
	want_int(tly_buf_adds(&b, "ok"), TLY_OK);
	want_str(tly_buf_str(&b), "ok");
	tly_buf_free(&b);

	/* a zero maximum holds only the empty string */
	tly_buf_init(&b, 0);
	want_int(tly_buf_add(&b, "", 0), TLY_OK);
	want_str(tly_buf_str(&b), "");
	want_int(tly_buf_addc(&b, 'x'), TLY_TOO_LARGE);
	tly_buf_free(&b);

	/* a length that would overflow len + n */
	tly_buf_init(&b, 64);
	want_int(tly_buf_adds(&b, "abc"), TLY_OK);
	want_int(tly_buf_add(&b, "x", SIZE_MAX), TLY_TOO_LARGE);
	assert_null(b.data);
	tly_buf_free(&b);
}

static void
test_reset(void **state)
{
	tly_buf b;
	char *data;

	(void)state;
	tly_buf_init(&b, 100);
	want_int(tly_buf_adds(&b, "hello"), TLY_OK);
	data = b.data;
	tly_buf_reset(&b);
	want_int(b.len, 0);
	want_str(tly_buf_str(&b), "");
	assert_ptr_equal(b.data, data);		/* storage kept */
	want_int(tly_buf_adds(&b, "bye"), TLY_OK);
	want_str(tly_buf_str(&b), "bye");
	tly_buf_free(&b);

	tly_buf_reset(&b);			/* on a freed buffer */
	want_str(tly_buf_str(&b), "");
}

static void
test_addf(void **state)
{
	char big[1001];
	tly_buf b;
	size_t i;

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	tly_buf_init(&b, 4096);
	want_int(tly_buf_addf(&b, "%s=%d;", "n", 42), TLY_OK);
	want_str(tly_buf_str(&b), "n=42;");

	/* the long path appends after what is there */
	want_int(tly_buf_addf(&b, "[%s]", big), TLY_OK);
	want_int(b.len, 5 + 1002);
	want_int(b.data[5], '[');
	want_int(b.data[6 + 1000], ']');
	want_int(b.data[b.len], '\0');
	for (i = 0; i < 1000; i++)
		if (b.data[6 + i] != 'y')
			fail_msg("byte %zu: got '%c', want 'y'", 6 + i,
			    b.data[6 + i]);
	tly_buf_free(&b);

	/* 255 bytes fit the stack buffer, 256 do not: both are whole */
	for (i = 254; i <= 258; i++) {
		tly_buf_init(&b, 4096);
		want_int(tly_buf_addf(&b, "%.*s", (int)i, big), TLY_OK);
		if (b.len != i || strspn(tly_buf_str(&b), "y") != i)
			fail_msg("%zu bytes: got len %zu, want %zu", i, b.len,
			    i);
		tly_buf_free(&b);
	}

	/* the long path respects max, and frees */
	tly_buf_init(&b, 500);
	want_int(tly_buf_adds(&b, "abc"), TLY_OK);
	want_int(tly_buf_addf(&b, "%s", big), TLY_TOO_LARGE);
	assert_null(b.data);
	want_int(b.len, 0);
	want_int(tly_buf_addf(&b, "%d", 7), TLY_OK);
	want_str(tly_buf_str(&b), "7");
	tly_buf_free(&b);
}

static void
test_add_i64(void **state)
{
	static const struct {
		int64_t		 v;
		const char	*want;
	} rows[] = {
		{ 0, "0" },
		{ -1, "-1" },
		{ 1234567890123, "1234567890123" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
	};
	tly_buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_buf_init(&b, 64);
		want_int(tly_buf_adds(&b, "<"), TLY_OK);
		want_int(tly_buf_add_i64(&b, rows[i].v), TLY_OK);
		if (strcmp(tly_buf_str(&b) + 1, rows[i].want) != 0)
			fail_msg("%s: got %s, want %s", rows[i].want,
			    tly_buf_str(&b) + 1, rows[i].want);
		tly_buf_free(&b);
	}
	/* 20 bytes do not fit a 19-byte buffer */
	tly_buf_init(&b, 19);
	want_int(tly_buf_add_i64(&b, INT64_MIN), TLY_TOO_LARGE);
	tly_buf_free(&b);
}

static void
test_urlenc(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 len;
		const char	*want;
	} rows[] = {
		{ "empty", "", 0, "" },
		{ "unreserved", "AZaz09-_.~", 10, "AZaz09-_.~" },
		{ "space", "a b", 3, "a%20b" },
		{ "reserved", "+&=/?#%", 7, "%2B%26%3D%2F%3F%23%25" },
		{ "brackets", "metadata[k]", 11, "metadata%5Bk%5D" },
		{ "quotes", "\"'*!", 4, "%22%27%2A%21" },
		{ "utf-8", "\xc3\xa9\xe2\x82\xac", 5, "%C3%A9%E2%82%AC" },
		{ "high bytes", "\x80\xff", 2, "%80%FF" },
		{ "controls", "\n\r\t\x7f", 4, "%0A%0D%09%7F" },
		{ "NUL inside", "a\0b", 3, "a%00b" },
		{ "length cuts", "abcdef", 3, "abc" },
	};
	tly_buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_buf_init(&b, 256);
		want_int(tly_buf_add_urlenc(&b, rows[i].in, rows[i].len),
		    TLY_OK);
		if (strcmp(tly_buf_str(&b), rows[i].want) != 0)
			fail_msg("%s: got %s, want %s", rows[i].name,
			    tly_buf_str(&b), rows[i].want);
		tly_buf_free(&b);
	}

	/* every byte: unreserved kept, the rest %XX in uppercase */
	tly_buf_init(&b, 1024);
	for (i = 0; i < 256; i++) {
		char c = (char)i, want[4];
		int keep;

		keep = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') ||
		    (i >= '0' && i <= '9') || i == '-' || i == '_' ||
		    i == '.' || i == '~';
		if (keep)
			snprintf(want, sizeof(want), "%c", c);
		else
			snprintf(want, sizeof(want), "%%%02X", (unsigned)i);
		tly_buf_reset(&b);
		want_int(tly_buf_add_urlenc(&b, &c, 1), TLY_OK);
		if (strcmp(tly_buf_str(&b), want) != 0)
			fail_msg("byte 0x%02zx: got %s, want %s", i,
			    tly_buf_str(&b), want);
	}
	tly_buf_free(&b);

	/* past max: TLY_TOO_LARGE and freed */
	tly_buf_init(&b, 8);
	want_int(tly_buf_add_urlenc(&b, "a b c", 5), TLY_TOO_LARGE);
	assert_null(b.data);
	tly_buf_free(&b);
}

static void
test_steal(void **state)
{
	tly_buf b;
	size_t len = 99;
	char *p;

	(void)state;
	tly_buf_init(&b, 100);
	want_int(tly_buf_adds(&b, "stolen"), TLY_OK);
	p = tly_buf_steal(&b, &len);
	assert_non_null(p);
	want_str(p, "stolen");
	want_int(len, 6);
	assert_null(b.data);
	want_int(b.len, 0);
	want_int(b.cap, 0);
	want_str(tly_buf_str(&b), "");

	/* still usable, and independent of the stolen storage */
	want_int(tly_buf_adds(&b, "next"), TLY_OK);
	want_str(p, "stolen");
	want_str(tly_buf_str(&b), "next");
	free(p);
	tly_buf_free(&b);

	/* an empty buffer gives "", never NULL; lenp may be NULL */
	tly_buf_init(&b, 100);
	p = tly_buf_steal(&b, &len);
	assert_non_null(p);
	want_str(p, "");
	want_int(len, 0);
	free(p);
	p = tly_buf_steal(&b, NULL);
	assert_non_null(p);
	free(p);
	tly_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_hard_max),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_addf),
		cmocka_unit_test(test_add_i64),
		cmocka_unit_test(test_urlenc),
		cmocka_unit_test(test_steal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

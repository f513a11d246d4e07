/*
 * str_test.c - core/util/tly_str.c
 *
 * tly_strlcpy's truncation and return value; tly_parse_i64 accepting only
 * a whole decimal string ("-" allowed, "+", spaces and overflow refused);
 * the constant-time comparisons; base64 (standard and URL-safe) against
 * the RFC 4648 vectors and every documented refusal; tly_hex; random
 * tokens (length, alphabet, all 62 characters reachable, distinct); ids
 * (format, alphabet, time order under strcmp, uniqueness of 10 000); the
 * clocks; SHA-256 against the FIPS 180-2 vectors.
 */
#include "tly_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tly_err.h"
#include "tly_str.h"

#define B62	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

static void
test_strlcpy(void **state)
{
	static const struct {
		const char	*src;
		size_t		 size;
		const char	*want;
	} rows[] = {
		{ "hello", 10, "hello" },
		{ "hello", 6, "hello" },
		{ "hello", 5, "hell" },
		{ "hello", 2, "h" },
		{ "hello", 1, "" },
		{ "", 4, "" },
	};
	char dst[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(dst, '#', sizeof(dst));
		n = tly_strlcpy(dst, rows[i].src, rows[i].size);
		if (n != strlen(rows[i].src))
			fail_msg("\"%s\" into %zu: returned %zu, want %zu",
			    rows[i].src, rows[i].size, n,
			    strlen(rows[i].src));
		if (strcmp(dst, rows[i].want) != 0)
			fail_msg("\"%s\" into %zu: got \"%s\", want \"%s\"",
			    rows[i].src, rows[i].size, dst, rows[i].want);
		if (dst[rows[i].size] != '#' && rows[i].size < sizeof(dst))
			fail_msg("\"%s\" into %zu: wrote past the size",
			    rows[i].src, rows[i].size);
	}
	/* size 0 writes nothing and still returns strlen(src) */
	dst[0] = '#';
	want_int(tly_strlcpy(dst, "abc", 0), 3);
	want_int(dst[0], '#');
}

static void
test_parse_i64(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		int64_t		 want;
	} rows[] = {
		{ "0", TLY_OK, 0 },
		{ "42", TLY_OK, 42 },
		{ "-42", TLY_OK, -42 },
		{ "-0", TLY_OK, 0 },
		{ "007", TLY_OK, 7 },
		{ "9223372036854775807", TLY_OK, INT64_MAX },
		{ "-9223372036854775808", TLY_OK, INT64_MIN },
		{ "9223372036854775808", TLY_ERR, 0 },
		{ "-9223372036854775809", TLY_ERR, 0 },
		{ "99999999999999999999999", TLY_ERR, 0 },
		{ "", TLY_ERR, 0 },
		{ "-", TLY_ERR, 0 },
		{ "+1", TLY_ERR, 0 },
		{ " 1", TLY_ERR, 0 },
		{ "1 ", TLY_ERR, 0 },
		{ "\t1", TLY_ERR, 0 },
		{ "1\n", TLY_ERR, 0 },
		{ "- 1", TLY_ERR, 0 },
		{ "--1", TLY_ERR, 0 },
		{ "-+1", TLY_ERR, 0 },
		{ "1a", TLY_ERR, 0 },
		{ "0x10", TLY_ERR, 0 },
		{ "1.0", TLY_ERR, 0 },
		{ "1e3", TLY_ERR, 0 },
		{ "abc", TLY_ERR, 0 },
	};
	int64_t v;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = 12345;
		rc = tly_parse_i64(rows[i].in, &v);
		if (rc != rows[i].rc)
			fail_msg("\"%s\": rc got %d, want %d", rows[i].in, rc,
			    rows[i].rc);
		if (rc == TLY_OK && v != rows[i].want)
			fail_msg("\"%s\": got %lld, want %lld", rows[i].in,
			    (long long)v, (long long)rows[i].want);
	}
	want_int(tly_parse_i64(NULL, &v), TLY_ERR);
}

static void
test_ct_compare(void **state)
{
	static const struct {
		const char	*a, *b;
		int		 want;
	} rows[] = {
		{ "abc", "abc", 1 },
		{ "abc", "abd", 0 },
		{ "abc", "xbc", 0 },
		{ "abc", "ab", 0 },
		{ "ab", "abc", 0 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "a", "", 0 },
		{ "whsec_0123456789", "whsec_0123456789", 1 },
	};
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = tly_streq_ct(rows[i].a, rows[i].b);
		if (got != rows[i].want)
			fail_msg("streq(\"%s\", \"%s\"): got %d, want %d",
			    rows[i].a, rows[i].b, got, rows[i].want);
	}
	want_int(tly_memeq_ct("a\0b", "a\0b", 3), 1);
	want_int(tly_memeq_ct("a\0b", "a\0c", 3), 0);
	want_int(tly_memeq_ct("xyz", "abc", 0), 1);
	want_int(tly_memeq_ct("\x80", "\x00", 1), 0);
}

/* RFC 4648 section 10, plus bytes that use the last two symbols */
static const struct {
	const char	*raw;
	size_t		 len;
	const char	*std;
	const char	*url;
} b64rows[] = {
	{ "", 0, "", "" },
	{ "f", 1, "Zg==", "Zg" },
	{ "fo", 2, "Zm8=", "Zm8" },
	{ "foo", 3, "Zm9v", "Zm9v" },
	{ "foob", 4, "Zm9vYg==", "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy", "Zm9vYmFy" },
	{ "\xfb\xff", 2, "+/8=", "-_8" },
	{ "\xfb\xef\xbe", 3, "++++", "----" },
	{ "\xff\xff\xff", 3, "////", "____" },
	{ "\0\0\0\0", 4, "AAAAAA==", "AAAAAA" },
};

static void
test_b64_encode(void **state)
{
	char out[64];
	size_t i, n;
	int url;

	(void)state;
	for (i = 0; i < sizeof(b64rows) / sizeof(b64rows[0]); i++) {
		for (url = 0; url <= 1; url++) {
			const char *want = url ? b64rows[i].url :
			    b64rows[i].std;

			n = tly_b64_encode(out, sizeof(out), b64rows[i].raw,
			    b64rows[i].len, url);
			if (n != strlen(want) || strcmp(out, want) != 0)
				fail_msg("%s \"%s\": got \"%s\" (%zu), want "
				    "\"%s\"", url ? "url" : "std", want, out,
				    n, want);
		}
	}
	/* tly_b64_enclen is enough, one byte less is not */
	want_int(tly_b64_enclen(6), 9);
	want_int(tly_b64_encode(out, 9, "foobar", 6, 0), 8);
	want_str(out, "Zm9vYmFy");
	want_int(tly_b64_enclen(1), 5);
	want_int(tly_b64_encode(out, 5, "f", 1, 0), 4);
	want_str(out, "Zg==");
	memset(out, 'x', sizeof(out));
	want_int(tly_b64_encode(out, 8, "foobar", 6, 0), 0);
	want_str(out, "");
	want_int(tly_b64_encode(out, 0, "f", 1, 1), 0);
}

static void
test_b64_decode(void **state)
{
	unsigned char out[64];
	size_t i, n;
	int url, rc;

	(void)state;
	for (i = 0; i < sizeof(b64rows) / sizeof(b64rows[0]); i++) {
		for (url = 0; url <= 1; url++) {
			const char *in = url ? b64rows[i].url :
			    b64rows[i].std;

			n = 999;
			rc = tly_b64_decode(out, sizeof(out), &n, in,
			    strlen(in), url);
			if (rc != TLY_OK || n != b64rows[i].len ||
			    memcmp(out, b64rows[i].raw, n) != 0)
				fail_msg("%s \"%s\": got rc %d, %zu bytes, "
				    "want %zu bytes", url ? "url" : "std", in,
				    rc, n, b64rows[i].len);
			/* exactly enough room */
			rc = tly_b64_decode(out, b64rows[i].len, &n, in,
			    strlen(in), url);
			if (rc != TLY_OK)
				fail_msg("%s \"%s\" into %zu: got rc %d, "
				    "want 0", url ? "url" : "std", in,
				    b64rows[i].len, rc);
		}
	}
	/* padding is optional in the standard alphabet */
	want_int(tly_b64_decode(out, sizeof(out), &n, "Zm8", 3, 0), TLY_OK);
	want_int(n, 2);
	assert_memory_equal(out, "fo", 2);
}

static void
test_b64_refused(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		int		 url;
		size_t		 dsz;
	} rows[] = {
		{ "bad char", "Zm9v!", 0, 64 },
		{ "space", "Zm 9v", 0, 64 },
		{ "newline", "Zm9v\n", 0, 64 },
		{ "url char in std", "-_8", 0, 64 },
		{ "std char in url", "+/8", 1, 64 },
		{ "padding in url", "Zg==", 1, 64 },
		{ "padding inside", "Zg==Zg==", 0, 64 },
		{ "high byte", "Zm\xc3\xa9", 0, 64 },
		{ "length 1", "Z", 0, 64 },
		{ "length 5", "Zm9vY", 0, 64 },
		{ "length 5 url", "Zm9vY", 1, 64 },
		{ "only padding", "=", 0, 64 },
		{ "three pads", "Zg===", 0, 64 },
		{ "pad after a group", "Zm9v=", 0, 64 },
		{ "pad after a group x2", "Zm9v==", 0, 64 },
		{ "too much padding", "Zm8==", 0, 64 },
		{ "short padding", "Zg=", 0, 64 },
		{ "trailing bits, 2 chars", "Zh==", 0, 64 },
		{ "trailing bits, 2 url", "Zh", 1, 64 },
		{ "trailing bits, 3 chars", "Zm9=", 0, 64 },
		{ "trailing bits, 3 url", "Zm9", 1, 64 },
		{ "too small, full group", "Zm9vYmFy", 0, 5 },
		{ "too small, 1 tail", "Zm9vYg==", 0, 3 },
		{ "too small, 2 tail", "Zm9vYmE", 1, 4 },
		{ "too small, empty", "Zg", 1, 0 },
	};
	unsigned char out[64];
	size_t i, n;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = tly_b64_decode(out, rows[i].dsz, &n, rows[i].in,
		    strlen(rows[i].in), rows[i].url);
		if (rc != TLY_ERR)
			fail_msg("%s (\"%s\"): got rc %d, want %d",
			    rows[i].name, rows[i].in, rc, TLY_ERR);
	}
	/* a NUL inside the given length is a bad character too */
	want_int(tly_b64_decode(out, sizeof(out), &n, "Zm\0v", 4, 0),
	    TLY_ERR);
}

static void
test_hex(void **state)
{
	static const unsigned char in[] = { 0x00, 0x0f, 0xf0, 0xff, 0xa5 };
	char out[16];

	(void)state;
	memset(out, 'x', sizeof(out));
	tly_hex(out, in, sizeof(in));
	want_str(out, "000ff0ffa5");
	tly_hex(out, in, 0);
	want_str(out, "");
}

static void
want_b62(const char *what, const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		fail_msg("%s \"%s\": got length %zu, want %zu", what, s,
		    strlen(s), n);
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(B62, s[i]) == NULL)
			fail_msg("%s \"%s\": byte %zu (0x%02x) is not base62",
			    what, s, i, (unsigned char)s[i]);
}

static void
test_random_token(void **state)
{
	char a[33], b[33], seen[256];
	size_t i;
	int k;

	(void)state;
	want_int(tly_random_token(a, sizeof(a)), TLY_OK);
	want_b62("token", a, 32);
	want_int(tly_random_token(b, sizeof(b)), TLY_OK);
	want_b62("token", b, 32);
	if (strcmp(a, b) == 0)
		fail_msg("two tokens: got \"%s\" twice, want them to differ",
		    a);

	/* every base62 character turns up (3 200 draws) */
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < 100; k++) {
		want_int(tly_random_token(a, sizeof(a)), TLY_OK);
		for (i = 0; i < 32; i++)
			seen[(unsigned char)a[i]] = 1;
	}
	for (i = 0; i < sizeof(B62) - 1; i++)
		if (!seen[(unsigned char)B62[i]])
			fail_msg("character '%c': got never, want seen",
			    B62[i]);

	/* sizes: 2 gives one character, below 2 is refused */
	want_int(tly_random_token(a, 2), TLY_OK);
	want_b62("token", a, 1);
	want_int(tly_random_token(a, 1), TLY_ERR);
	want_int(tly_random_token(a, 0), TLY_ERR);

	/* tly_random and tly_random_u32 work */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	want_int(tly_random(a, 32), TLY_OK);
	want_int(tly_random(b, 32), TLY_OK);
	assert_true(memcmp(a, b, 32) != 0);
	assert_true(tly_random_u32() != tly_random_u32() ||
	    tly_random_u32() != tly_random_u32());
}

/* id_time - the milliseconds encoded in an id's 8 time characters */
static int64_t
id_time(const char *id)
{
	const char *p;
	int64_t t = 0;
	int i;

	p = strchr(id, '_') + 1;
	for (i = 0; i < 8; i++)
		t = t * 62 + (strchr(B62, p[i]) - B62);
	return t;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_id_new(void **state)
{
	char id[64], prev[64], big[64];
	char (*many)[32];
	int64_t before, after;
	int i;

	(void)state;
	before = tly_now_ms();
	want_int(tly_id_new(id, sizeof(id), "pi"), TLY_OK);
	after = tly_now_ms();
	want_int(strlen(id), 2 + 1 + 22);
	assert_memory_equal(id, "pi_", 3);
	want_b62("id", id + 3, 22);
	if (id_time(id) < before || id_time(id) > after)
		fail_msg("id time: got %lld, want %lld..%lld",
		    (long long)id_time(id), (long long)before,
		    (long long)after);

	/* the size must hold prefix, '_', 22 characters and the NUL */
	want_int(tly_id_new(id, 3 + 22, "acct"), TLY_ERR);
	want_int(tly_id_new(id, 4 + 1 + 22 + 1, "acct"), TLY_OK);
	want_int(strlen(id), 27);
	want_int(tly_id_new(id, 23, ""), TLY_ERR);
	want_int(tly_id_new(id, 24, ""), TLY_OK);
	want_int(id[0], '_');

	/* ids made 2 ms apart sort in creation order */
	want_int(tly_id_new(prev, sizeof(prev), "tr"), TLY_OK);
	for (i = 0; i < 20; i++) {
		tly_sleep_ms(2);
		want_int(tly_id_new(id, sizeof(id), "tr"), TLY_OK);
		if (strcmp(prev, id) >= 0)
			fail_msg("round %d: got %s before %s, want after", i,
			    id, prev);
		tly_strlcpy(prev, id, sizeof(prev));
	}

	/* 10 000 ids, all distinct (most share their millisecond) */
	many = calloc(10000, sizeof(*many));
	assert_non_null(many);
	for (i = 0; i < 10000; i++)
		want_int(tly_id_new(many[i], sizeof(many[i]), "py"), TLY_OK);
	qsort(many, 10000, sizeof(*many), cmp_str);
	for (i = 1; i < 10000; i++)
		if (strcmp(many[i - 1], many[i]) == 0)
			fail_msg("id %s: got twice, want unique", many[i]);
	free(many);

	/* the time part is the high-order part */
	memset(big, 0, sizeof(big));
	want_int(tly_id_new(big, sizeof(big), "x"), TLY_OK);
	assert_true(id_time(big) >= id_time(id));
}

static void
test_clocks(void **state)
{
	int64_t t0, t1, now;

	(void)state;
	now = tly_now_ms();
	assert_true(llabs(now - (int64_t)time(NULL) * 1000) < 2000);
	assert_true(llabs(tly_now_s() - (int64_t)time(NULL)) <= 1);
	t0 = tly_mono_ms();
	tly_sleep_ms(30);
	t1 = tly_mono_ms();
	if (t1 - t0 < 29)
		fail_msg("slept: got %lld ms, want >= 30",
		    (long long)(t1 - t0));
	tly_sleep_ms(0);
	tly_sleep_ms(-5);
	assert_true(tly_mono_ms() >= t1);
}

static void
test_sha256(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} rows[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		    "7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410f"
		    "f61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		    "19db06c1" },
	};
	char out[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_sha256_hex(out, rows[i].in, strlen(rows[i].in));
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("sha256(\"%s\"): got %s, want %s",
			    rows[i].in, out, rows[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_ct_compare),
		cmocka_unit_test(test_b64_encode),
		cmocka_unit_test(test_b64_decode),
		cmocka_unit_test(test_b64_refused),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_random_token),
		cmocka_unit_test(test_id_new),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_sha256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * kdf_test.c - core/util/tly_kdf.c
 *
 * scrypt at log2 N = 10 (fast): the stored format, right and wrong
 * passwords, a fresh salt per hash, refusal of costs out of range, and
 * stored hashes that are malformed in every field (garbage, field count,
 * base64, parameters out of range, a short key) verifying as 0 without
 * crashing or tripping the sanitizers.
 */
#include "tly_test.h"

#include <stdio.h>

#include "tly_err.h"
#include "tly_kdf.h"
#include "tly_str.h"

/* field - the 'i'th '$'-separated field of 's' into 'dst' */
static void
field(const char *s, int i, char *dst, size_t sz)
{
	const char *e;

	for (; i > 0; i--) {
		s = strchr(s, '$');
		assert_non_null(s);
		s++;
	}
	e = strchr(s, '$');
	if (e == NULL)
		e = s + strlen(s);
	assert_true((size_t)(e - s) < sz);
	memcpy(dst, s, (size_t)(e - s));
	dst[e - s] = '\0';
}

static void
test_format(void **state)
{
	char h[TLY_KDF_HASH_MAX], f[96];
	unsigned char raw[64];
	const char *p;
	size_t n;

	(void)state;
	want_int(tly_kdf_hash("correct horse", 10, h, sizeof(h)), TLY_OK);
	if (strncmp(h, "scrypt$10$8$1$", 14) != 0)
		fail_msg("hash: got \"%s\", want \"scrypt$10$8$1$...\"", h);
	field(h, 4, f, sizeof(f));		/* salt: 16 bytes */
	want_int(tly_b64_decode(raw, sizeof(raw), &n, f, strlen(f), 0),
	    TLY_OK);
	want_int(n, 16);
	field(h, 5, f, sizeof(f));		/* key: 32 bytes */
	want_int(tly_b64_decode(raw, sizeof(raw), &n, f, strlen(f), 0),
	    TLY_OK);
	want_int(n, 32);
	for (n = 0, p = h; *p; p++)
		n += *p == '$';
	want_int(n, 5);				/* six fields */
}

static void
test_verify(void **state)
{
	char h[TLY_KDF_HASH_MAX];

	(void)state;
	want_int(tly_kdf_hash("s3cret pass", 10, h, sizeof(h)), TLY_OK);
	want_int(tly_kdf_verify("s3cret pass", h), 1);
	want_int(tly_kdf_verify("s3cret pasS", h), 0);
	want_int(tly_kdf_verify("s3cret pas", h), 0);
	want_int(tly_kdf_verify("", h), 0);

	want_int(tly_kdf_hash("", 10, h, sizeof(h)), TLY_OK);
	want_int(tly_kdf_verify("", h), 1);
	want_int(tly_kdf_verify(" ", h), 0);

	/* UTF-8 passwords are bytes like any other */
	want_int(tly_kdf_hash("p\xc3\xa4ss", 11, h, sizeof(h)), TLY_OK);
	want_int(strncmp(h, "scrypt$11$", 10), 0);
	want_int(tly_kdf_verify("p\xc3\xa4ss", h), 1);
	want_int(tly_kdf_verify("pass", h), 0);
}

static void
test_salted(void **state)
{
	char a[TLY_KDF_HASH_MAX], b[TLY_KDF_HASH_MAX];

	(void)state;
	want_int(tly_kdf_hash("same", 10, a, sizeof(a)), TLY_OK);
	want_int(tly_kdf_hash("same", 10, b, sizeof(b)), TLY_OK);
	if (strcmp(a, b) == 0)
		fail_msg("two hashes of one password: got \"%s\" twice, want "
		    "different salts", a);
	want_int(tly_kdf_verify("same", a), 1);
	want_int(tly_kdf_verify("same", b), 1);
}

static void
test_hash_refused(void **state)
{
	char h[TLY_KDF_HASH_MAX];

	(void)state;
	want_int(tly_kdf_hash("pw", 0, h, sizeof(h)), TLY_ERR);
	want_int(tly_kdf_hash("pw", 23, h, sizeof(h)), TLY_ERR);
	want_int(tly_kdf_hash("pw", -1, h, sizeof(h)), TLY_ERR);
	want_int(tly_kdf_hash("pw", 10, h, 40), TLY_ERR);	/* too small */
}

static void
test_malformed(void **state)
{
	char h[TLY_KDF_HASH_MAX], salt[64], key[64], bad[512];
	static const struct {
		const char	*name;
		const char	*fmt;	/* %s salt, %s key */
	} rows[] = {
		{ "well formed (control)", "scrypt$10$8$1$%s$%s" },
		{ "other scheme", "bcrypt$10$8$1$%s$%s" },
		{ "log2n 0", "scrypt$0$8$1$%s$%s" },
		{ "log2n 23", "scrypt$23$8$1$%s$%s" },
		{ "log2n 64", "scrypt$64$8$1$%s$%s" },
		{ "log2n 99", "scrypt$99$8$1$%s$%s" },
		{ "log2n -1", "scrypt$-1$8$1$%s$%s" },
		{ "log2n huge", "scrypt$2147483647$8$1$%s$%s" },
		{ "r 0", "scrypt$10$0$1$%s$%s" },
		{ "r 33", "scrypt$10$33$1$%s$%s" },
		{ "r -8", "scrypt$10$-8$1$%s$%s" },
		{ "p 0", "scrypt$10$8$0$%s$%s" },
		{ "p 17", "scrypt$10$8$17$%s$%s" },
		{ "r x", "scrypt$10$x$1$%s$%s" },
		{ "salt not base64", "scrypt$10$8$1$%s!$%s" },
		{ "key not base64", "scrypt$10$8$1$%s$%s!" },
		{ "key short", "scrypt$10$8$1$%s$AAAA%.0s" },
		{ "empty key", "scrypt$10$8$1$%s$%.0s" },
		{ "empty salt", "scrypt$10$8$1$%.0s$%s" },
		{ "four fields", "scrypt$10$8$%s$%s" },
		{ "trailing field", "scrypt$10$8$1$%s$%s$x" },
	};
	static const char *const garbage[] = {
		"", "scrypt", "scrypt$", "scrypt$$$$$", "$$$$$$$$",
		"scrypt$10$8$1$", "scrypt$10$8$1$$", "plaintext password",
		"scrypt$10$8$1$AAAA$AAAA$AAAA$AAAA",
	};
	size_t i;
	int got;

	(void)state;
	want_int(tly_kdf_hash("pw", 10, h, sizeof(h)), TLY_OK);
	field(h, 4, salt, sizeof(salt));
	field(h, 5, key, sizeof(key));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(bad, sizeof(bad), rows[i].fmt, salt, key);
		got = tly_kdf_verify("pw", bad);
		if (got != (i == 0))
			fail_msg("%s (\"%s\"): got %d, want %d", rows[i].name,
			    bad, got, i == 0);
	}
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		got = tly_kdf_verify("pw", garbage[i]);
		if (got != 0)
			fail_msg("\"%s\": got %d, want 0", garbage[i], got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_salted),
		cmocka_unit_test(test_hash_refused),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_form.c - core/util/tly_form.c: Stripe's form encoding
 *
 * The input is lines, taken in pairs as key and value (a key with no
 * value line gets the empty value), plus an integer and a boolean.  The
 * body, when it fitted, is decoded here by the form rules (split on '&',
 * then on the first '=', %XX decoded) and must give back exactly the
 * pairs in order: nothing injected, nothing lost, brackets in keys kept.
 */
#include <string.h>

#include "fuzz.h"
#include "tly_err.h"
#include "tly_form.h"

#define MAX_PAIRS	64

/* hexval - a hex digit's value, or -1 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decode - 'n' bytes of 's' form-decoded into 'out' (NUL-terminated) */
static size_t
decode(char *out, const char *s, size_t n)
{
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			/* only unreserved characters and brackets stay */
			FUZZ_CHECK(strchr("&=%+ ", s[i]) == NULL);
			out[o++] = s[i];
			continue;
		}
		FUZZ_CHECK(i + 2 < n);
		h = hexval(s[i + 1]);
		l = hexval(s[i + 2]);
		FUZZ_CHECK(h >= 0 && l >= 0);
		out[o++] = (char)(h << 4 | l);
		i += 2;
	}
	out[o] = '\0';
	return o;
}

/* LLVMFuzzerTestOneInput - encode the pairs, decode, compare */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *kv[2 * MAX_PAIRS], *p, *nl, *amp, *eq, *dec;
	const char *body, *s;
	size_t n = 0, i, len;
	tly_form f;

	text = malloc(size + 1);
	dec = malloc(3 * size + 64);
	FUZZ_CHECK(text && dec);
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; p && n < 2 * MAX_PAIRS; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		kv[n++] = p;
	}
	if (n % 2)
		kv[n++] = "";
	tly_form_init(&f);
	for (i = 0; i < n; i += 2)
		tly_form_str(&f, kv[i], kv[i + 1]);
	tly_form_i64(&f, "amount", (int64_t)size * -7919);
	tly_form_bool(&f, "capture", (int)(size & 1));
	tly_form_str(&f, "absent", NULL);
	if (tly_form_done(&f) == TLY_OK) {
		body = tly_form_body(&f);
		FUZZ_CHECK(strlen(body) == f.b.len);
		s = body;
		for (i = 0; i < n; i += 2) {
			amp = strchr(s, '&');
			len = amp ? (size_t)(amp - s) : strlen(s);
			eq = memchr(s, '=', len);
			FUZZ_CHECK(eq != NULL);
			decode(dec, s, (size_t)(eq - s));
			FUZZ_CHECK(strcmp(dec, kv[i]) == 0);
			decode(dec, eq + 1, len - (size_t)(eq - s) - 1);
			FUZZ_CHECK(strcmp(dec, kv[i + 1]) == 0);
			FUZZ_CHECK(amp != NULL);
			s = amp + 1;
		}
		FUZZ_CHECK(strncmp(s, "amount=", 7) == 0);
		FUZZ_CHECK(strstr(s, "absent") == NULL);
	}
	tly_form_free(&f);
	free(dec);
	free(text);
	return 0;
}

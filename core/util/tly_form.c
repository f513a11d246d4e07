/*
 * tly_form.c - form-encoded request bodies in Stripe's notation
 *
 * Owns the encoding rules: unreserved characters stay, '[' and ']' stay
 * in keys (Stripe's nested parameters), everything else is %XX with
 * uppercase hex; pairs are joined with '&'.  A NULL value is skipped (an
 * absent parameter), an empty string is sent (Stripe reads it as "unset").
 *
 * API:	tly_form_init(), tly_form_str(), tly_form_i64(), tly_form_bool(),
 *	tly_form_done(), tly_form_body(), tly_form_free().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tly_err.h"
#include "tly_form.h"

/* tly_form_init - an empty body of at most TLY_FORM_MAX bytes */
void
tly_form_init(tly_form *f)
{
	tly_buf_init(&f->b, TLY_FORM_MAX);
	f->rc = TLY_OK;
}

/* add_key - 'key' with its brackets literal */
static int
add_key(tly_buf *b, const char *key)
{
	const char *p, *run;
	int rc = TLY_OK;

	for (p = run = key; *p && rc == TLY_OK; p++) {
		if (*p != '[' && *p != ']')
			continue;
		rc = tly_buf_add_urlenc(b, run, (size_t)(p - run));
		if (rc == TLY_OK)
			rc = tly_buf_addc(b, *p);
		run = p + 1;
	}
	if (rc == TLY_OK)
		rc = tly_buf_add_urlenc(b, run, strlen(run));
	return rc;
}

/* tly_form_str - add 'key'='val'; NULL 'val' adds nothing */
void
tly_form_str(tly_form *f, const char *key, const char *val)
{
	if (f->rc || val == NULL)
		return;
	if (f->b.len)
		f->rc = tly_buf_addc(&f->b, '&');
	if (f->rc == TLY_OK)
		f->rc = add_key(&f->b, key);
	if (f->rc == TLY_OK)
		f->rc = tly_buf_addc(&f->b, '=');
	if (f->rc == TLY_OK)
		f->rc = tly_buf_add_urlenc(&f->b, val, strlen(val));
}

/* tly_form_i64 - add an integer */
void
tly_form_i64(tly_form *f, const char *key, int64_t v)
{
	char n[24];

	snprintf(n, sizeof(n), "%" PRId64, v);
	tly_form_str(f, key, n);
}

/* tly_form_bool - add "true" or "false" */
void
tly_form_bool(tly_form *f, const char *key, int v)
{
	tly_form_str(f, key, v ? "true" : "false");
}

/* tly_form_done - TLY_OK when every pair fitted */
int
tly_form_done(const tly_form *f)
{
	return f->rc;
}

/* tly_form_body - the encoded body ("" when empty) */
const char *
tly_form_body(const tly_form *f)
{
	return tly_buf_str(&f->b);
}

/* tly_form_free - release the body */
void
tly_form_free(tly_form *f)
{
	tly_buf_free(&f->b);
}

/*
 * fuzz_json.c - core/util/tly_json.c: the bounded parser and the writer
 *
 * The input is parsed under the request limits and under the Stripe
 * reply limits.  A tree that parsed is written back with tly_jw and the
 * text parsed again: the two trees must be equal (types, keys, values,
 * order), so the writer escapes whatever the parser accepted and the
 * parser reads whatever the writer writes.  tly_json_check runs over the
 * tree with a field list that asks for every kind.
 */
#include <string.h>

#include "fuzz.h"
#include "tly_json.h"

static const tly_jfield fields[] = {
	{ "amount", TLY_JF_INT | TLY_JF_REQUIRED, 0 },
	{ "currency", TLY_JF_STR, 3 },
	{ "metadata", TLY_JF_OBJ | TLY_JF_NULL, 0 },
	{ "items", TLY_JF_ARR, 0 },
	{ "live", TLY_JF_BOOL, 0 },
	{ NULL, 0, 0 }
};

/* write_jv - 'v' (named 'key' inside an object) through 'w' */
static void
write_jv(tly_jw *w, const char *key, const tly_jv *v)
{
	const tly_jv *c;

	switch (v->type) {
	case TLY_JNULL:
		tly_jw_null(w, key);
		break;
	case TLY_JBOOL:
		tly_jw_bool(w, key, v->b);
		break;
	case TLY_JINT:
		tly_jw_int(w, key, v->i);
		break;
	case TLY_JNUM:
		tly_jw_raw(w, key, v->s);
		break;
	case TLY_JSTR:
		tly_jw_strn(w, key, v->s, v->slen);
		break;
	case TLY_JARR:
	case TLY_JOBJ:
		if (v->type == TLY_JARR)
			tly_jw_arr(w, key);
		else
			tly_jw_obj(w, key);
		for (c = v->child; c; c = c->next)
			write_jv(w, v->type == TLY_JOBJ ? c->key : NULL, c);
		tly_jw_end(w);
		break;
	}
}

/* same - the two trees are equal */
static int
same(const tly_jv *a, const tly_jv *b)
{
	const tly_jv *x, *y;

	if (a->type != b->type)
		return 0;
	if ((a->key == NULL) != (b->key == NULL) ||
	    (a->key && strcmp(a->key, b->key) != 0))
		return 0;
	switch (a->type) {
	case TLY_JNULL:
		return 1;
	case TLY_JBOOL:
		return a->b == b->b;
	case TLY_JINT:
		return a->i == b->i;
	case TLY_JNUM:
		return strcmp(a->s, b->s) == 0;
	case TLY_JSTR:
		return a->slen == b->slen && memcmp(a->s, b->s, a->slen) == 0;
	default:
		break;
	}
	if (a->n != b->n)
		return 0;
	for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
		if (!same(x, y))
			return 0;
	return x == NULL && y == NULL;
}

/* round_trip - write 'v' and parse it again: the same tree */
static void
round_trip(tly_pool *p, const tly_jv *v, const tly_json_limits *lim)
{
	tly_jv *again = NULL;
	tly_err e;
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 4 << 20);
	tly_jw_init(&w, &b);
	write_jv(&w, NULL, v);
	if (tly_jw_done(&w) == TLY_OK) {
		tly_err_clear(&e);
		FUZZ_CHECK(tly_json_parse(p, b.data, b.len, lim, &again,
		    &e) == TLY_OK);
		FUZZ_CHECK(same(v, again));
	}
	tly_buf_free(&b);
}

/* LLVMFuzzerTestOneInput - one input through both limits */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const tly_json_limits *lims[] = {
		&tly_json_request_limits, &tly_json_api_limits
	};
	tly_pool *p = tly_pool_new(16 << 10);
	tly_jv *v;
	tly_err e;
	int64_t i64;
	int b;
	size_t k;

	FUZZ_CHECK(p != NULL);
	for (k = 0; k < 2; k++) {
		v = NULL;
		tly_err_clear(&e);
		if (tly_json_parse(p, (const char *)data, size, lims[k], &v,
		    &e) != TLY_OK) {
			FUZZ_CHECK(e.kind != TLY_EK_NONE || e.code[0]);
			continue;
		}
		FUZZ_CHECK(v != NULL);
		(void)tly_json_get(v, "id");
		(void)tly_json_path(v, "data.object.id");
		(void)tly_json_str(v, "currency");
		(void)tly_json_i64(v, "amount", &i64);
		(void)tly_json_bool(v, "livemode", &b);
		tly_err_clear(&e);
		(void)tly_json_check(v, fields, &e);
		round_trip(p, v, lims[k]);
	}
	tly_pool_free(p);
	return 0;
}

/*
 * json_test.c - core/util/tly_json.c
 *
 * Parsing under tly_json_request_limits and custom limits: valid
 * documents (any value may be the root, RFC 8259), malformed ones
 * (trailing garbage, comments, single quotes, unterminated strings, ...)
 * as 400 invalid_json, each limit exactly at and one past its bound,
 * duplicate keys, NUL in strings, the int64/text split of numbers,
 * invalid UTF-8, the byte limit as a 413.  The accessors (get, path,
 * str, i64, bool), tly_json_check's codes and param, and the writer:
 * nesting and commas, escaping (JSON and HTML-safe), null for a NULL
 * string, the sticky error on depth overflow or a full buffer,
 * tly_jw_done on an unclosed document, and a writer -> parser round trip
 * over a table of tricky strings.
 */
#include "tly_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tly_buf.h"
#include "tly_err.h"
#include "tly_json.h"
#include "tly_pool.h"

static int
setup(void **state)
{
	*state = tly_pool_new(16384);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	tly_pool_free(*state);
	return 0;
}

/* parse - 'text' under 'lim' (request limits when NULL) */
static int
parse(tly_pool *p, const char *text, const tly_json_limits *lim,
    tly_jv **out, tly_err *err)
{
	tly_err_clear(err);
	return tly_json_parse(p, text, strlen(text),
	    lim ? lim : &tly_json_request_limits, out, err);
}

/* must_parse - 'text' parses, or the test fails naming it */
static tly_jv *
must_parse(tly_pool *p, const char *text, const tly_json_limits *lim)
{
	tly_jv *v;
	tly_err err;

	if (parse(p, text, lim, &v, &err) != TLY_OK)
		fail_msg("%.80s: got error \"%s\", want success", text,
		    err.msg);
	assert_non_null(v);
	return v;
}

/* must_refuse - 'text' is refused as invalid JSON, 'part' in the msg */
static void
must_refuse(tly_pool *p, const char *name, const char *text,
    const tly_json_limits *lim, const char *part)
{
	tly_jv *v = (tly_jv *)1;
	tly_err err;
	int rc;

	rc = parse(p, text, lim, &v, &err);
	if (rc != TLY_ERR)
		fail_msg("%s: got rc %d, want %d", name, rc, TLY_ERR);
	if (err.kind != TLY_EK_INVALID)
		fail_msg("%s: kind got %d, want %d", name, (int)err.kind,
		    (int)TLY_EK_INVALID);
	if (strcmp(err.code, "invalid_json") != 0)
		fail_msg("%s: code got %s, want invalid_json", name,
		    err.code);
	if (v != NULL)
		fail_msg("%s: *out got %p, want NULL", name, (void *)v);
	if (part && strstr(err.msg, part) == NULL)
		fail_msg("%s: msg got \"%s\", want it to contain \"%s\"",
		    name, err.msg, part);
}

static void
test_valid(void **state)
{
	static const struct {
		const char	*text;
		tly_jtype	 type;
		size_t		 n;	/* members or elements */
	} rows[] = {
		{ "{}", TLY_JOBJ, 0 },
		{ "[]", TLY_JARR, 0 },
		{ " \t\r\n{ \"a\" : 1 , \"b\":[true,false,null] }\n ",
		    TLY_JOBJ, 2 },
		{ "[1,\"two\",{\"three\":3},[4],null,true,-5.5]", TLY_JARR,
		    7 },
		{ "{\"\":\"empty key\"}", TLY_JOBJ, 1 },
		{ "\"a bare string\"", TLY_JSTR, 0 },
		{ "42", TLY_JINT, 0 },
		{ "-1.25e-3", TLY_JNUM, 0 },
		{ "null", TLY_JNULL, 0 },
		{ "true", TLY_JBOOL, 0 },
		{ "false", TLY_JBOOL, 0 },
	};
	tly_pool *p = *state;
	tly_jv *v;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = must_parse(p, rows[i].text, NULL);
		if (v->type != rows[i].type || v->n != rows[i].n)
			fail_msg("%s: got type %d with %zu, want %d with %zu",
			    rows[i].text, (int)v->type, v->n,
			    (int)rows[i].type, rows[i].n);
	}

	/* the tree: order, keys, values, escapes decoded */
	v = must_parse(p, "{\"s\":\"caf\\u00e9 \\ud83d\\udcb8 \\\"q\\\" "
	    "\\\\ \\/ \\b\\f\\n\\r\\t\",\"b\":false,\"a\":[1,2]}", NULL);
	want_str(v->child->key, "s");
	want_str(v->child->s, "caf\xc3\xa9 \xf0\x9f\x92\xb8 \"q\" \\ / "
	    "\b\f\n\r\t");
	want_int(v->child->slen, strlen(v->child->s));
	want_str(v->child->next->key, "b");
	want_int(v->child->next->type, TLY_JBOOL);
	want_int(v->child->next->b, 0);
	want_str(v->last->key, "a");
	want_int(v->last->child->i, 1);
	want_int(v->last->last->i, 2);
	assert_null(v->last->last->next);
	assert_null(v->key);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char	*name;
		const char	*text;
	} rows[] = {
		{ "empty", "" },
		{ "whitespace", "  \n" },
		{ "open brace", "{" },
		{ "close brace", "}" },
		{ "trailing garbage", "{} x" },
		{ "two documents", "{}{}" },
		{ "two scalars", "1 2" },
		{ "trailing comma, array", "[1,]" },
		{ "trailing comma, object", "{\"a\":1,}" },
		{ "missing colon", "{\"a\" 1}" },
		{ "missing value", "{\"a\":}" },
		{ "missing comma", "[1 2]" },
		{ "unquoted key", "{a:1}" },
		{ "single quotes", "{'a':1}" },
		{ "single-quoted value", "{\"a\":'b'}" },
		{ "line comment", "// c\n{}" },
		{ "block comment", "/* c */ {}" },
		{ "comment inside", "{\"a\":1 /* c */}" },
		{ "hash comment", "# c\n{}" },
		{ "unterminated string", "\"abc" },
		{ "unterminated in object", "{\"a\":\"b}" },
		{ "unterminated array", "[1,2" },
		{ "raw tab in string", "\"a\tb\"" },
		{ "raw newline in string", "\"a\nb\"" },
		{ "bad escape", "\"\\x41\"" },
		{ "short unicode escape", "\"\\u12\"" },
		{ "leading zero", "[01]" },
		{ "leading plus", "[+1]" },
		{ "bare dot", "[.5]" },
		{ "trailing dot", "[1.]" },
		{ "empty exponent", "[1e]" },
		{ "hex", "0x10" },
		{ "lone minus", "-" },
		{ "NaN", "NaN" },
		{ "Infinity", "[Infinity]" },
		{ "truncated literal", "tru" },
		{ "capital literal", "True" },
		{ "adjacent strings", "[\"a\"\"b\"]" },
		{ "key not a string", "{1:2}" },
		{ "mismatched close", "[}" },
	};
	tly_pool *p = *state;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		must_refuse(p, rows[i].name, rows[i].text, NULL, NULL);
}

/* nest - 'depth' levels of "[" (or {"k": when 'obj') around 1 */
static char *
nest(size_t depth, int obj)
{
	char *s, *q;
	size_t i;

	s = malloc(depth * 6 + 2);
	assert_non_null(s);
	q = s;
	for (i = 0; i < depth; i++) {
		if (obj) {
			memcpy(q, "{\"k\":", 5);
			q += 5;
		} else
			*q++ = '[';
	}
	*q++ = '1';
	for (i = 0; i < depth; i++)
		*q++ = obj ? '}' : ']';
	*q = '\0';
	return s;
}

static void
test_depth(void **state)
{
	static const tly_json_limits lim3 = { 1 << 20, 3, 1000, 1000, 100 };
	static const tly_json_limits lim100 = { 1 << 20, 100, 100000, 1000,
	    100 };
	tly_pool *p = *state;
	char *s;
	int obj;

	for (obj = 0; obj <= 1; obj++) {
		s = nest(16, obj);			/* request limit */
		must_parse(p, s, NULL);
		free(s);
		s = nest(17, obj);
		must_refuse(p, "17 levels", s, NULL, "nesting deeper than 16");
		free(s);

		s = nest(3, obj);			/* custom limit */
		must_parse(p, s, &lim3);
		free(s);
		s = nest(4, obj);
		must_refuse(p, "4 levels", s, &lim3, "nesting deeper than 3");
		free(s);

		s = nest(64, obj);			/* Stripe replies */
		must_parse(p, s, &tly_json_api_limits);
		free(s);
		s = nest(65, obj);
		must_refuse(p, "65 levels", s, &tly_json_api_limits,
		    "nesting deeper than 64");
		free(s);

		/* a limit above the parser's own stack is still safe */
		s = nest(100, obj);
		must_refuse(p, "100 levels", s, &lim100, "nesting");
		free(s);
	}
	/* mixed, and siblings do not add depth */
	must_parse(p, "[{\"a\":[1]},{\"b\":{}},[[2]]]", &lim3);
	must_refuse(p, "mixed 4", "[{\"a\":[{}]}]", &lim3, "nesting");
	must_parse(p, "[[[1]],[[2]],[[3]]]", &lim3);
}

static void
test_limits(void **state)
{
	static const tly_json_limits nodes5 = { 1000, 10, 5, 100, 100 };
	static const tly_json_limits str8 = { 1000, 10, 100, 8, 100 };
	static const tly_json_limits mem3 = { 1000, 10, 100, 100, 3 };
	static const tly_json_limits bytes10 = { 10, 10, 100, 100, 100 };
	tly_pool *p = *state;
	tly_jv *v;
	tly_err err;

	/* nodes: every value counts, containers included */
	must_parse(p, "[1,2,3,4]", &nodes5);
	must_refuse(p, "6 nodes", "[1,2,3,4,5]", &nodes5, "too many values");
	must_parse(p, "{\"a\":[1],\"b\":{}}", &nodes5);
	must_refuse(p, "6 nodes", "{\"a\":[1,2],\"b\":{\"c\":null}}", &nodes5,
	    "too many values");

	/* string length, after unescaping; keys too */
	must_parse(p, "\"12345678\"", &str8);
	must_refuse(p, "9 bytes", "\"123456789\"", &str8, "string too long");
	must_parse(p, "\"\\u00e9\\u00e9\\u00e9\\u00e9\"", &str8);
	must_refuse(p, "9 bytes escaped", "\"\\u00e9\\u00e9\\u00e9\\u00e9x\"",
	    &str8, "string too long");
	must_parse(p, "{\"12345678\":1}", &str8);
	must_refuse(p, "9-byte key", "{\"123456789\":1}", &str8,
	    "string too long");

	/* members per object; arrays are not members */
	must_parse(p, "{\"a\":1,\"b\":2,\"c\":3}", &mem3);
	must_refuse(p, "4 members", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", &mem3,
	    "too many members");
	must_parse(p, "[1,2,3,4,5]", &mem3);
	must_parse(p, "{\"a\":{\"a\":1,\"b\":2,\"c\":3},\"b\":2,\"c\":3}",
	    &mem3);

	/* bytes: a 413 before any parsing */
	must_parse(p, "[1,2,3,44]", &bytes10);
	want_int(parse(p, "[1,2,3,444]", &bytes10, &v, &err), TLY_ERR);
	want_int(err.kind, TLY_EK_TOO_LARGE);
	want_str(err.code, "body_too_large");
	want_int(tly_err_status(&err), 413);
	assert_null(v);
	want_int(tly_json_parse(p, "{}", (1 << 20) + 1,
	    &tly_json_request_limits, &v, &err), TLY_ERR);
	want_int(err.kind, TLY_EK_TOO_LARGE);
}

static void
test_duplicates_and_nul(void **state)
{
	tly_pool *p = *state;

	must_refuse(p, "duplicate", "{\"amount\":1,\"amount\":2}", NULL,
	    "duplicate key 'amount'");
	must_refuse(p, "duplicate, other types", "{\"a\":1,\"b\":2,\"a\":{}}",
	    NULL, "duplicate key 'a'");
	must_refuse(p, "duplicate, nested", "{\"x\":{\"k\":1,\"k\":1}}", NULL,
	    "duplicate key 'k'");
	must_refuse(p, "duplicate via escape", "{\"a\":1,\"\\u0061\":2}",
	    NULL, "duplicate key 'a'");
	must_parse(p, "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}", NULL);
	must_parse(p, "{\"a\":1,\"A\":2,\"a \":3}", NULL);

	must_refuse(p, "NUL in value", "\"a\\u0000b\"", NULL, "NUL");
	must_refuse(p, "NUL in key", "{\"a\\u0000b\":1}", NULL, "NUL");
	must_refuse(p, "NUL in array", "[\"ok\",\"\\u0000\"]", NULL, "NUL");
}

static void
test_numbers(void **state)
{
	static const struct {
		const char	*text;
		tly_jtype	 type;
		int64_t		 i;
	} rows[] = {
		{ "0", TLY_JINT, 0 },
		{ "-0", TLY_JINT, 0 },
		{ "1500", TLY_JINT, 1500 },
		{ "-42", TLY_JINT, -42 },
		{ "9223372036854775807", TLY_JINT, INT64_MAX },
		{ "-9223372036854775808", TLY_JINT, INT64_MIN },
		{ "9223372036854775808", TLY_JNUM, 0 },
		{ "-9223372036854775809", TLY_JNUM, 0 },
		{ "100000000000000000000000", TLY_JNUM, 0 },
		{ "1.5", TLY_JNUM, 0 },
		{ "1.0", TLY_JNUM, 0 },
		{ "-0.0", TLY_JNUM, 0 },
		{ "1e3", TLY_JNUM, 0 },
		{ "1E3", TLY_JNUM, 0 },
		{ "2e-1", TLY_JNUM, 0 },
		{ "1e999", TLY_JNUM, 0 },
	};
	tly_pool *p = *state;
	char text[64];
	tly_jv *v;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text), "[%s]", rows[i].text);
		v = must_parse(p, text, NULL)->child;
		if (v->type != rows[i].type)
			fail_msg("%s: type got %d, want %d", rows[i].text,
			    (int)v->type, (int)rows[i].type);
		if (v->type == TLY_JINT && v->i != rows[i].i)
			fail_msg("%s: got %" PRId64 ", want %" PRId64,
			    rows[i].text, v->i, rows[i].i);
		/* the text is always kept */
		if (v->s == NULL || strcmp(v->s, rows[i].text) != 0 ||
		    v->slen != strlen(rows[i].text))
			fail_msg("%s: text got \"%s\", want \"%s\"",
			    rows[i].text, v->s ? v->s : "(null)",
			    rows[i].text);
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char	*name;
		const char	*text;
	} rows[] = {
		{ "0xff", "\"\xff\"" },
		{ "0xfe", "\"a\xfe\"" },
		{ "lone continuation", "\"\x80\"" },
		{ "truncated 2-byte", "\"\xc3\"" },
		{ "bad 2nd byte", "\"\xc3(\"" },
		{ "truncated 3-byte", "\"\xe2\x82\"" },
		{ "truncated 4-byte", "\"\xf0\x9f\x92\"" },
		{ "in a key", "{\"\xff\":1}" },
	};
	tly_pool *p = *state;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		must_refuse(p, rows[i].name, rows[i].text, NULL, NULL);
	must_parse(p, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8\"", NULL);
}

static const char access_doc[] =
    "{\"id\":\"pi_1\",\"amount\":1500,\"live\":true,\"off\":false,"
    "\"n\":null,\"big\":1e3,\"arr\":[1,2],"
    "\"data\":{\"object\":{\"id\":\"ch_1\",\"amount\":-5,"
    "\"deep\":{\"x\":\"y\"}}}}";

static void
test_accessors(void **state)
{
	tly_pool *p = *state;
	const tly_jv *o, *v;
	int64_t i;
	int b;

	o = must_parse(p, access_doc, NULL);
	v = tly_json_get(o, "id");
	assert_non_null(v);
	want_int(v->type, TLY_JSTR);
	want_str(v->s, "pi_1");
	assert_null(tly_json_get(o, "ID"));
	assert_null(tly_json_get(o, "object"));	/* only direct members */
	assert_null(tly_json_get(tly_json_get(o, "arr"), "0"));
	assert_null(tly_json_get(NULL, "id"));

	want_str(tly_json_path(o, "data.object.id")->s, "ch_1");
	want_str(tly_json_path(o, "data.object.deep.x")->s, "y");
	want_int(tly_json_path(o, "data.object")->type, TLY_JOBJ);
	assert_null(tly_json_path(o, "data.nope.id"));
	assert_null(tly_json_path(o, "data.object.id.more"));
	assert_null(tly_json_path(o, "arr.0"));
	assert_null(tly_json_path(o, "data.object.deep.x_with_a_name_that_"
	    "is_longer_than_sixty_four_bytes_in_all_of_it"));

	want_str(tly_json_str(o, "id"), "pi_1");
	want_str(tly_json_str(o, "data.object.id"), "ch_1");
	assert_null(tly_json_str(o, "amount"));
	assert_null(tly_json_str(o, "n"));
	assert_null(tly_json_str(o, "missing"));

	i = 7;
	want_int(tly_json_i64(o, "amount", &i), TLY_OK);
	want_int(i, 1500);
	want_int(tly_json_i64(o, "data.object.amount", &i), TLY_OK);
	want_int(i, -5);
	i = 7;
	want_int(tly_json_i64(o, "id", &i), TLY_NOTFOUND);
	want_int(tly_json_i64(o, "big", &i), TLY_NOTFOUND);	/* JNUM */
	want_int(tly_json_i64(o, "n", &i), TLY_NOTFOUND);
	want_int(tly_json_i64(o, "nope", &i), TLY_NOTFOUND);
	want_int(i, 7);

	b = 7;
	want_int(tly_json_bool(o, "live", &b), TLY_OK);
	want_int(b, 1);
	want_int(tly_json_bool(o, "off", &b), TLY_OK);
	want_int(b, 0);
	b = 7;
	want_int(tly_json_bool(o, "n", &b), TLY_NOTFOUND);
	want_int(tly_json_bool(o, "amount", &b), TLY_NOTFOUND);
	want_int(tly_json_bool(o, "nope", &b), TLY_NOTFOUND);
	want_int(b, 7);
}

static void
test_check(void **state)
{
	static const tly_jfield fields[] = {
		{ "amount", TLY_JF_INT | TLY_JF_REQUIRED, 0 },
		{ "currency", TLY_JF_STR | TLY_JF_REQUIRED, 3 },
		{ "description", TLY_JF_STR | TLY_JF_NULL, 10 },
		{ "capture", TLY_JF_BOOL, 0 },
		{ "metadata", TLY_JF_OBJ, 0 },
		{ "items", TLY_JF_ARR, 0 },
		{ NULL, 0, 0 }
	};
	static const struct {
		const char	*name;
		const char	*json;
		const char	*code;	/* NULL: accepted */
		const char	*param;
	} rows[] = {
		{ "minimal", "{\"amount\":1,\"currency\":\"usd\"}", NULL, "" },
		{ "full", "{\"amount\":-1,\"currency\":\"\",\"description\":"
		    "\"0123456789\",\"capture\":false,\"metadata\":{\"x\":1},"
		    "\"items\":[]}", NULL, "" },
		{ "null accepted", "{\"amount\":1,\"currency\":\"usd\","
		    "\"description\":null}", NULL, "" },
		{ "unknown", "{\"amount\":1,\"currency\":\"usd\",\"amout\":1}",
		    "parameter_unknown", "amout" },
		{ "unknown first", "{\"zzz\":1}", "parameter_unknown", "zzz" },
		{ "string for int", "{\"amount\":\"100\",\"currency\":\"usd\"}",
		    "parameter_invalid_type", "amount" },
		{ "bool for int", "{\"amount\":true,\"currency\":\"usd\"}",
		    "parameter_invalid_type", "amount" },
		{ "int for string", "{\"amount\":1,\"currency\":840}",
		    "parameter_invalid_type", "currency" },
		{ "number for string", "{\"amount\":1,\"currency\":1.5}",
		    "parameter_invalid_type", "currency" },
		{ "string for bool", "{\"amount\":1,\"currency\":\"usd\","
		    "\"capture\":\"yes\"}", "parameter_invalid_type",
		    "capture" },
		{ "array for object", "{\"amount\":1,\"currency\":\"usd\","
		    "\"metadata\":[]}", "parameter_invalid_type", "metadata" },
		{ "object for array", "{\"amount\":1,\"currency\":\"usd\","
		    "\"items\":{}}", "parameter_invalid_type", "items" },
		{ "null refused", "{\"amount\":1,\"currency\":\"usd\","
		    "\"capture\":null}", "parameter_invalid_type", "capture" },
		{ "null for required", "{\"amount\":null,\"currency\":\"usd\"}",
		    "parameter_invalid_type", "amount" },
		{ "fraction for int", "{\"amount\":1.5,\"currency\":\"usd\"}",
		    "parameter_invalid_integer", "amount" },
		{ "exponent for int", "{\"amount\":1e3,\"currency\":\"usd\"}",
		    "parameter_invalid_integer", "amount" },
		{ "int64 overflow", "{\"amount\":9223372036854775808,"
		    "\"currency\":\"usd\"}", "parameter_invalid_integer",
		    "amount" },
		{ "missing amount", "{\"currency\":\"usd\"}",
		    "parameter_missing", "amount" },
		{ "missing currency", "{\"amount\":5}", "parameter_missing",
		    "currency" },
		{ "empty object", "{}", "parameter_missing", "amount" },
		{ "too long", "{\"amount\":1,\"currency\":\"usdx\"}",
		    "parameter_too_long", "currency" },
		{ "too long, optional", "{\"amount\":1,\"currency\":\"usd\","
		    "\"description\":\"0123456789A\"}", "parameter_too_long",
		    "description" },
		{ "array root", "[]", "invalid_json", "" },
		{ "string root", "\"x\"", "invalid_json", "" },
	};
	tly_pool *p = *state;
	tly_jv *v;
	tly_err err;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = must_parse(p, rows[i].json, NULL);
		tly_err_clear(&err);
		rc = tly_json_check(v, fields, &err);
		if (rows[i].code == NULL) {
			if (rc != TLY_OK)
				fail_msg("%s: got %s (%s), want success",
				    rows[i].name, err.code, err.msg);
			continue;
		}
		if (rc != TLY_ERR || err.kind != TLY_EK_INVALID)
			fail_msg("%s: got rc %d kind %d, want %d kind %d",
			    rows[i].name, rc, (int)err.kind, TLY_ERR,
			    (int)TLY_EK_INVALID);
		if (strcmp(err.code, rows[i].code) != 0)
			fail_msg("%s: code got %s, want %s", rows[i].name,
			    err.code, rows[i].code);
		if (strcmp(err.param, rows[i].param) != 0)
			fail_msg("%s: param got \"%s\", want \"%s\"",
			    rows[i].name, err.param, rows[i].param);
		if (rows[i].param[0] && strstr(err.msg, rows[i].param) == NULL)
			fail_msg("%s: msg got \"%s\", want it to name %s",
			    rows[i].name, err.msg, rows[i].param);
	}
	tly_err_clear(&err);
	want_int(tly_json_check(NULL, fields, &err), TLY_ERR);
	want_str(err.code, "invalid_json");
}

/* want_written - what the writer put in 'b' is exactly 'want' */
static void
want_written(const char *name, tly_buf *b, const char *want)
{
	if (strcmp(tly_buf_str(b), want) != 0)
		fail_msg("%s: got %s, want %s", name, tly_buf_str(b), want);
}

static void
test_writer(void **state)
{
	tly_buf b;
	tly_jw w;

	(void)state;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_int(&w, "a", 1);
	tly_jw_arr(&w, "b");
	tly_jw_int(&w, NULL, INT64_MIN);
	tly_jw_str(&w, NULL, "x");
	tly_jw_bool(&w, NULL, 1);
	tly_jw_bool(&w, NULL, 0);
	tly_jw_null(&w, NULL);
	tly_jw_obj(&w, NULL);
	tly_jw_end(&w);
	tly_jw_arr(&w, NULL);
	tly_jw_end(&w);
	tly_jw_end(&w);
	tly_jw_obj(&w, "c");
	tly_jw_arr(&w, "d");
	tly_jw_end(&w);
	tly_jw_raw(&w, "raw", "{\"r\":[1]}");
	tly_jw_str(&w, "nil", NULL);
	tly_jw_strn(&w, "cut", "abcdef", 3);
	tly_jw_int(&w, "max", INT64_MAX);
	tly_jw_end(&w);
	tly_jw_end(&w);
	want_int(tly_jw_done(&w), TLY_OK);
	want_written("nested", &b, "{\"a\":1,\"b\":[-9223372036854775808,"
	    "\"x\",true,false,null,{},[]],\"c\":{\"d\":[],\"raw\":{\"r\":[1]},"
	    "\"nil\":null,\"cut\":\"abc\",\"max\":9223372036854775807}}");
	tly_buf_free(&b);

	/* a scalar root */
	tly_buf_init(&b, 64);
	tly_jw_init(&w, &b);
	tly_jw_int(&w, NULL, 5);
	want_int(tly_jw_done(&w), TLY_OK);
	want_written("scalar", &b, "5");
	tly_buf_free(&b);
}

static void
test_escape(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 len;
		const char	*want;
	} rows[] = {
		{ "plain", "abc", 3, "\"abc\"" },
		{ "empty", "", 0, "\"\"" },
		{ "quote", "a\"b", 3, "\"a\\\"b\"" },
		{ "backslash", "a\\b", 3, "\"a\\\\b\"" },
		{ "newline", "a\nb", 3, "\"a\\nb\"" },
		{ "tab", "\t", 1, "\"\\u0009\"" },
		{ "cr", "\r", 1, "\"\\u000d\"" },
		{ "0x01", "\x01", 1, "\"\\u0001\"" },
		{ "0x1f", "\x1f", 1, "\"\\u001f\"" },
		{ "NUL", "a\0b", 3, "\"a\\u0000b\"" },
		{ "delete", "\x7f", 1, "\"\\u007f\"" },
		{ "html", "<script>&", 9, "\"\\u003cscript\\u003e\\u0026\"" },
		{ "slash kept", "</", 2, "\"\\u003c/\"" },
		{ "utf-8 kept", "\xc3\xa9\xe2\x82\xac", 5,
		    "\"\xc3\xa9\xe2\x82\xac\"" },
		{ "space and tilde", " ~", 2, "\" ~\"" },
	};
	tly_buf b;
	tly_jw w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_buf_init(&b, 256);
		want_int(tly_json_escape(&b, rows[i].in, rows[i].len),
		    TLY_OK);
		want_written(rows[i].name, &b, rows[i].want);
		tly_buf_free(&b);

		/* the same escaping for values and keys in the writer */
		tly_buf_init(&b, 256);
		tly_jw_init(&w, &b);
		tly_jw_obj(&w, NULL);
		tly_jw_strn(&w, "k", rows[i].in, rows[i].len);
		tly_jw_end(&w);
		want_int(tly_jw_done(&w), TLY_OK);
		if (strncmp(tly_buf_str(&b) + 5, rows[i].want,
		    strlen(rows[i].want)) != 0)
			fail_msg("%s as value: got %s, want {\"k\":%s}",
			    rows[i].name, tly_buf_str(&b), rows[i].want);
		tly_buf_free(&b);
	}
	tly_buf_init(&b, 256);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_int(&w, "<\"k\">", 1);
	tly_jw_end(&w);
	want_int(tly_jw_done(&w), TLY_OK);
	want_written("key", &b, "{\"\\u003c\\\"k\\\"\\u003e\":1}");
	tly_buf_free(&b);
}

static void
test_writer_errors(void **state)
{
	tly_buf b;
	tly_jw w;
	size_t len;
	int i;

	(void)state;
	/* 31 levels fit, then the 32nd fails and the error sticks */
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	for (i = 0; i < TLY_JW_DEPTH - 1; i++)
		tly_jw_arr(&w, NULL);
	want_int(w.rc, TLY_OK);
	for (i = 0; i < TLY_JW_DEPTH - 1; i++)
		tly_jw_end(&w);
	want_int(tly_jw_done(&w), TLY_OK);
	want_int(b.len, 2 * (TLY_JW_DEPTH - 1));
	tly_buf_free(&b);

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	for (i = 0; i < TLY_JW_DEPTH; i++)
		tly_jw_obj(&w, i ? "k" : NULL);
	want_int(w.rc, TLY_TOO_LARGE);
	len = b.len;
	tly_jw_int(&w, "x", 1);
	tly_jw_str(&w, "y", "z");
	for (i = 0; i < TLY_JW_DEPTH; i++)
		tly_jw_end(&w);
	want_int(b.len, len);			/* nothing more written */
	want_int(tly_jw_done(&w), TLY_TOO_LARGE);
	tly_buf_free(&b);

	/* not closed, or closed once too often */
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_arr(&w, "a");
	tly_jw_end(&w);
	want_int(tly_jw_done(&w), TLY_ERR);
	tly_buf_free(&b);

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_end(&w);
	tly_jw_end(&w);
	want_int(tly_jw_done(&w), TLY_ERR);
	want_written("after extra end", &b, "{}");
	tly_buf_free(&b);

	/* the buffer's limit: the first failure sticks */
	tly_buf_init(&b, 16);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "long", "more than sixteen bytes");
	want_int(w.rc, TLY_TOO_LARGE);
	tly_jw_end(&w);
	want_int(w.rc, TLY_TOO_LARGE);
	want_int(tly_jw_done(&w), TLY_TOO_LARGE);
	tly_buf_free(&b);
}

static void
test_round_trip(void **state)
{
	static const char *const strs[] = {
		"",
		"plain",
		"\"quoted\"",
		"back\\slash\\",
		"\\\"",
		"\\u0041 is not an escape here",
		"new\nline\r\n\ttab",
		"\x01\x02\x03\x1e\x1f",
		"\x7f",
		"</script><!-- & -->",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8",
		"\xe2\x80\xa8\xe2\x80\xa9",		/* U+2028 U+2029 */
		"\xef\xbb\xbf bom",
		"{\"json\":[1,2]}",
		"  spaces  ",
		"/\\/",
	};
	tly_pool *p = *state;
	const tly_jv *v, *m;
	tly_buf b;
	tly_jw w;
	tly_err err;
	tly_jv *root;
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		tly_buf_init(&b, 4096);
		tly_jw_init(&w, &b);
		tly_jw_obj(&w, NULL);
		tly_jw_str(&w, strs[i], strs[i]);
		tly_jw_arr(&w, "list");
		tly_jw_str(&w, NULL, strs[i]);
		tly_jw_int(&w, NULL, INT64_MIN);
		tly_jw_int(&w, NULL, INT64_MAX);
		tly_jw_bool(&w, NULL, 1);
		tly_jw_null(&w, NULL);
		tly_jw_end(&w);
		tly_jw_end(&w);
		want_int(tly_jw_done(&w), TLY_OK);
		tly_err_clear(&err);
		if (tly_json_parse(p, b.data, b.len, &tly_json_request_limits,
		    &root, &err) != TLY_OK)
			fail_msg("row %zu: %s does not parse: %s", i, b.data,
			    err.msg);
		m = root->child;
		if (strcmp(m->key, strs[i]) != 0 || m->type != TLY_JSTR ||
		    m->slen != strlen(strs[i]) || strcmp(m->s, strs[i]) != 0)
			fail_msg("row %zu: got key \"%s\" value \"%s\", want "
			    "\"%s\" for both", i, m->key,
			    m->type == TLY_JSTR ? m->s : "?", strs[i]);
		v = m->next->child;
		want_str(v->s, strs[i]);
		want_int(v->next->type, TLY_JINT);
		want_int(v->next->i, INT64_MIN);
		want_int(v->next->next->i, INT64_MAX);
		want_int(v->next->next->next->b, 1);
		want_int(v->next->next->next->next->type, TLY_JNULL);
		tly_buf_free(&b);
	}

	/* a NUL written by the writer is refused by the parser */
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_strn(&w, NULL, "a\0b", 3);
	want_int(tly_jw_done(&w), TLY_OK);
	tly_err_clear(&err);
	want_int(tly_json_parse(p, b.data, b.len, &tly_json_request_limits,
	    &root, &err), TLY_ERR);
	want_has(err.msg, "NUL");
	tly_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_nul, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_numbers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accessors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

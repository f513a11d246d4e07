/*
 * tly_json.c - bounded JSON parsing (yajl) into a pool, and a JSON writer
 *
 * Parsing drives yajl's event parser; each callback appends a node to the
 * tree being built in the caller's pool and enforces the limits, returning
 * 0 to make yajl stop at the first violation.  The first violation is
 * remembered so the error names it precisely ("nesting deeper than 16",
 * "duplicate key 'amount'") rather than yajl's generic message.  yajl's
 * own error text (which quotes the input) never reaches a client.
 *
 * The writer emits compact JSON; strings are escaped for JSON and for
 * safe embedding in HTML (<, >, & as \u00XX).
 *
 * API:	tly_json_parse(), tly_json_get(), tly_json_path(), tly_json_str(),
 *	tly_json_i64(), tly_json_bool(), tly_json_check(), tly_jw_*().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "tly_json.h"

const tly_json_limits tly_json_request_limits = {
	.max_bytes = 1 << 20,
	.max_depth = 16,
	.max_nodes = 10000,
	.max_string = 64 << 10,
	.max_members = 256
};

const tly_json_limits tly_json_api_limits = {
	.max_bytes = 16 << 20,
	.max_depth = 64,
	.max_nodes = 1000000,
	.max_string = 1 << 20,
	.max_members = 4096
};

typedef struct jparse {
	tly_pool		*pool;
	const tly_json_limits	*lim;
	tly_jv			*root;
	tly_jv			*stack[TLY_JW_DEPTH * 2 + 2];
	size_t			 depth;
	size_t			 nodes;
	const char		*pending_key;	/* key for the next value */
	char			 why[96];	/* first limit violation */
	int			 oom;
} jparse;

static int
fail(jparse *jp, const char *why)
{
	if (jp->why[0] == '\0')
		snprintf(jp->why, sizeof(jp->why), "%s", why);
	return 0;
}

/* add - attach a new node of 'type' to the current container */
static tly_jv *
add(jparse *jp, tly_jtype type)
{
	tly_jv *v, *parent, *m;

	if (++jp->nodes > jp->lim->max_nodes) {
		fail(jp, "too many values");
		return NULL;
	}
	v = tly_pcalloc(jp->pool, sizeof(*v));
	if (v == NULL) {
		jp->oom = 1;
		fail(jp, "out of memory");
		return NULL;
	}
	v->type = type;
	if (jp->depth == 0) {
		jp->root = v;
		return v;
	}
	parent = jp->stack[jp->depth - 1];
	if (parent->type == TLY_JOBJ) {
		if (parent->n >= jp->lim->max_members) {
			fail(jp, "too many members in an object");
			return NULL;
		}
		for (m = parent->child; m; m = m->next) {
			if (strcmp(m->key, jp->pending_key) == 0) {
				char why[96];

				snprintf(why, sizeof(why),
				    "duplicate key '%.48s'", jp->pending_key);
				fail(jp, why);
				return NULL;
			}
		}
		v->key = jp->pending_key;
		jp->pending_key = NULL;
	}
	if (parent->last)
		parent->last->next = v;
	else
		parent->child = v;
	parent->last = v;
	parent->n++;
	return v;
}

static int
cb_null(void *ctx)
{
	return add(ctx, TLY_JNULL) != NULL;
}

static int
cb_bool(void *ctx, int b)
{
	tly_jv *v;

	v = add(ctx, TLY_JBOOL);
	if (v == NULL)
		return 0;
	v->b = b != 0;
	return 1;
}

/* cb_number - integers in int64 range are TLY_JINT; the rest keep text */
static int
cb_number(void *ctx, const char *s, size_t len)
{
	jparse *jp = ctx;
	tly_jv *v;
	char *text, *end;
	long long ll;
	int integral;
	size_t i;

	integral = 1;
	for (i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			integral = 0;
	v = add(jp, TLY_JNUM);
	if (v == NULL)
		return 0;
	text = tly_pstrndup(jp->pool, s, len);
	if (text == NULL) {
		jp->oom = 1;
		return fail(jp, "out of memory");
	}
	v->s = text;
	v->slen = len;
	if (integral) {
		errno = 0;
		ll = strtoll(text, &end, 10);
		if (errno == 0 && *end == '\0') {
			v->type = TLY_JINT;
			v->i = (int64_t)ll;
		}
	}
	return 1;
}

static int
check_string(jparse *jp, const unsigned char *s, size_t len)
{
	if (len > jp->lim->max_string)
		return fail(jp, "string too long");
	if (memchr(s, '\0', len) != NULL)
		return fail(jp, "string contains a NUL character");
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	jparse *jp = ctx;
	tly_jv *v;
	char *text;

	if (!check_string(jp, s, len))
		return 0;
	v = add(jp, TLY_JSTR);
	if (v == NULL)
		return 0;
	text = tly_pstrndup(jp->pool, (const char *)s, len);
	if (text == NULL) {
		jp->oom = 1;
		return fail(jp, "out of memory");
	}
	v->s = text;
	v->slen = len;
	return 1;
}

static int
cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	jparse *jp = ctx;

	if (!check_string(jp, s, len))
		return 0;
	jp->pending_key = tly_pstrndup(jp->pool, (const char *)s, len);
	if (jp->pending_key == NULL) {
		jp->oom = 1;
		return fail(jp, "out of memory");
	}
	return 1;
}

static int
open_container(jparse *jp, tly_jtype type)
{
	tly_jv *v;

	if (jp->depth >= jp->lim->max_depth ||
	    jp->depth >= sizeof(jp->stack) / sizeof(jp->stack[0])) {
		char why[64];

		snprintf(why, sizeof(why), "nesting deeper than %zu",
		    jp->lim->max_depth);
		return fail(jp, why);
	}
	v = add(jp, type);
	if (v == NULL)
		return 0;
	jp->stack[jp->depth++] = v;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return open_container(ctx, TLY_JOBJ);
}

static int
cb_start_array(void *ctx)
{
	return open_container(ctx, TLY_JARR);
}

static int
cb_end(void *ctx)
{
	jparse *jp = ctx;

	jp->depth--;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end
};

/*
 * tly_json_parse - parse 'len' bytes of 'buf' under 'lim' into a tree in
 * 'pool'; '*out' is the root.  Malformed input or a limit violation fails
 * with a 400 (413 for the byte limit) naming what was wrong.
 */
int
tly_json_parse(tly_pool *pool, const char *buf, size_t len,
    const tly_json_limits *lim, tly_jv **out, tly_err *err)
{
	jparse jp;
	yajl_handle h;
	yajl_status st;

	*out = NULL;
	if (len > lim->max_bytes)
		return tly_err_set(err, TLY_EK_TOO_LARGE, "body_too_large",
		    "The JSON body is larger than %zu bytes.", lim->max_bytes);
	memset(&jp, 0, sizeof(jp));
	jp.pool = pool;
	jp.lim = lim;
	h = yajl_alloc(&callbacks, NULL, &jp);
	if (h == NULL)
		return tly_err_internal(err);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	if (jp.oom)
		return tly_err_internal(err);
	if (st != yajl_status_ok || jp.root == NULL) {
		if (jp.why[0])
			return tly_err_set(err, TLY_EK_INVALID, "invalid_json",
			    "The request body is not acceptable JSON: %s.",
			    jp.why);
		return tly_err_set(err, TLY_EK_INVALID, "invalid_json",
		    "The request body is not valid JSON.");
	}
	*out = jp.root;
	return TLY_OK;
}

/* tly_json_get - member 'key' of object 'o'; NULL if absent or no object */
const tly_jv *
tly_json_get(const tly_jv *o, const char *key)
{
	const tly_jv *m;

	if (o == NULL || o->type != TLY_JOBJ)
		return NULL;
	for (m = o->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

/* tly_json_path - follow a dotted path "data.object.id" through objects */
const tly_jv *
tly_json_path(const tly_jv *o, const char *path)
{
	char part[64];
	const char *dot;
	size_t n;

	while (o && *path) {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = tly_json_get(o, part);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

/* tly_json_str - string member 'key' (dotted path) of 'o', or NULL */
const char *
tly_json_str(const tly_jv *o, const char *key)
{
	const tly_jv *v;

	v = tly_json_path(o, key);
	return v && v->type == TLY_JSTR ? v->s : NULL;
}

/* tly_json_i64 - integer member 'key' (dotted path); TLY_NOTFOUND if not */
int
tly_json_i64(const tly_jv *o, const char *key, int64_t *out)
{
	const tly_jv *v;

	v = tly_json_path(o, key);
	if (v == NULL || v->type != TLY_JINT)
		return TLY_NOTFOUND;
	*out = v->i;
	return TLY_OK;
}

/* tly_json_bool - boolean member 'key' (dotted path); TLY_NOTFOUND if not */
int
tly_json_bool(const tly_jv *o, const char *key, int *out)
{
	const tly_jv *v;

	v = tly_json_path(o, key);
	if (v == NULL || v->type != TLY_JBOOL)
		return TLY_NOTFOUND;
	*out = v->b;
	return TLY_OK;
}

static const char *
type_name(int flags)
{
	if (flags & TLY_JF_STR)
		return "a string";
	if (flags & TLY_JF_INT)
		return "an integer";
	if (flags & TLY_JF_BOOL)
		return "a boolean";
	if (flags & TLY_JF_OBJ)
		return "an object";
	if (flags & TLY_JF_ARR)
		return "an array";
	return "null";
}

static int
type_ok(const tly_jv *v, int flags)
{
	switch (v->type) {
	case TLY_JNULL:	return (flags & TLY_JF_NULL) != 0;
	case TLY_JBOOL:	return (flags & TLY_JF_BOOL) != 0;
	case TLY_JINT:	return (flags & TLY_JF_INT) != 0;
	case TLY_JSTR:	return (flags & TLY_JF_STR) != 0;
	case TLY_JARR:	return (flags & TLY_JF_ARR) != 0;
	case TLY_JOBJ:	return (flags & TLY_JF_OBJ) != 0;
	case TLY_JNUM:
	default:	return 0;
	}
}

/*
 * tly_json_check - 'o' must be an object whose members are all declared in
 * 'fields' (terminated by a NULL name), of the declared types, with every
 * required member present.  Fails with a 400 naming the parameter.
 */
int
tly_json_check(const tly_jv *o, const tly_jfield *fields, tly_err *err)
{
	const tly_jfield *f;
	const tly_jv *m;

	if (o == NULL || o->type != TLY_JOBJ)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_json",
		    "The request body must be a JSON object.");
	for (m = o->child; m; m = m->next) {
		for (f = fields; f->name; f++)
			if (strcmp(f->name, m->key) == 0)
				break;
		if (f->name == NULL)
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_unknown", m->key,
			    "Received unknown parameter: %.64s.", m->key);
		if (m->type == TLY_JNUM && (f->flags & TLY_JF_INT))
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid_integer", f->name,
			    "'%s' must be an integer in the 64-bit range.",
			    f->name);
		if (!type_ok(m, f->flags))
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid_type", f->name,
			    "'%s' must be %s.", f->name, type_name(f->flags));
		if (m->type == TLY_JSTR && f->max_len && m->slen > f->max_len)
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_too_long", f->name,
			    "'%s' is longer than %zu bytes.", f->name,
			    f->max_len);
	}
	for (f = fields; f->name; f++)
		if ((f->flags & TLY_JF_REQUIRED) &&
		    tly_json_get(o, f->name) == NULL)
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_missing", f->name,
			    "Missing required parameter: %s.", f->name);
	return TLY_OK;
}

/* --- writer ---------------------------------------------------------- */

/* tly_json_escape - append 's' as a quoted JSON string */
int
tly_json_escape(tly_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p, *end, *run;
	char e[6];
	int rc;

	rc = tly_buf_addc(b, '"');
	p = (const unsigned char *)s;
	end = p + len;
	run = p;
	while (rc == TLY_OK && p < end) {
		if (*p >= 0x20 && *p != '"' && *p != '\\' && *p != '<' &&
		    *p != '>' && *p != '&' && *p != 0x7f) {
			p++;
			continue;
		}
		rc = tly_buf_add(b, run, (size_t)(p - run));
		if (rc)
			break;
		e[0] = '\\';
		if (*p == '"' || *p == '\\') {
			e[1] = (char)*p;
			rc = tly_buf_add(b, e, 2);
		} else if (*p == '\n') {
			e[1] = 'n';
			rc = tly_buf_add(b, e, 2);
		} else {
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 15];
			rc = tly_buf_add(b, e, 6);
		}
		run = ++p;
	}
	if (rc == TLY_OK)
		rc = tly_buf_add(b, run, (size_t)(p - run));
	if (rc == TLY_OK)
		rc = tly_buf_addc(b, '"');
	return rc;
}

/* tly_jw_init - write JSON into 'b' */
void
tly_jw_init(tly_jw *w, tly_buf *b)
{
	w->b = b;
	w->rc = TLY_OK;
	w->depth = 0;
	w->first[0] = 1;
}

/* jw_key - separator and, inside an object, the member name */
static void
jw_key(tly_jw *w, const char *key)
{
	if (w->rc)
		return;
	if (!w->first[w->depth])
		w->rc = tly_buf_addc(w->b, ',');
	w->first[w->depth] = 0;
	if (w->rc == TLY_OK && key) {
		w->rc = tly_json_escape(w->b, key, strlen(key));
		if (w->rc == TLY_OK)
			w->rc = tly_buf_addc(w->b, ':');
	}
}

static void
jw_open(tly_jw *w, const char *key, char c)
{
	jw_key(w, key);
	if (w->rc)
		return;
	if (w->depth + 1 >= TLY_JW_DEPTH) {
		w->rc = TLY_TOO_LARGE;
		return;
	}
	w->rc = tly_buf_addc(w->b, c);
	w->depth++;
	w->first[w->depth] = 1;
	w->closer[w->depth] = c == '{' ? '}' : ']';
}

/* tly_jw_obj - open an object (member 'key', or an element when NULL) */
void
tly_jw_obj(tly_jw *w, const char *key)
{
	jw_open(w, key, '{');
}

/* tly_jw_arr - open an array */
void
tly_jw_arr(tly_jw *w, const char *key)
{
	jw_open(w, key, '[');
}

/* tly_jw_end - close the innermost object or array */
void
tly_jw_end(tly_jw *w)
{
	if (w->rc)
		return;
	if (w->depth == 0) {
		w->rc = TLY_ERR;
		return;
	}
	w->rc = tly_buf_addc(w->b, w->closer[w->depth]);
	w->depth--;
}

/* tly_jw_strn - a string value of 'len' bytes; NULL 's' writes null */
void
tly_jw_strn(tly_jw *w, const char *key, const char *s, size_t len)
{
	jw_key(w, key);
	if (w->rc)
		return;
	if (s == NULL)
		w->rc = tly_buf_add(w->b, "null", 4);
	else
		w->rc = tly_json_escape(w->b, s, len);
}

/* tly_jw_str - a string value; NULL writes null */
void
tly_jw_str(tly_jw *w, const char *key, const char *s)
{
	tly_jw_strn(w, key, s, s ? strlen(s) : 0);
}

/* tly_jw_int - an integer value */
void
tly_jw_int(tly_jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	if (w->rc == TLY_OK)
		w->rc = tly_buf_add_i64(w->b, v);
}

/* tly_jw_bool - true or false */
void
tly_jw_bool(tly_jw *w, const char *key, int v)
{
	jw_key(w, key);
	if (w->rc == TLY_OK)
		w->rc = tly_buf_adds(w->b, v ? "true" : "false");
}

/* tly_jw_null - null */
void
tly_jw_null(tly_jw *w, const char *key)
{
	jw_key(w, key);
	if (w->rc == TLY_OK)
		w->rc = tly_buf_add(w->b, "null", 4);
}

/* tly_jw_raw - 'json', already valid JSON text, as the value */
void
tly_jw_raw(tly_jw *w, const char *key, const char *json)
{
	jw_key(w, key);
	if (w->rc == TLY_OK)
		w->rc = tly_buf_adds(w->b, json);
}

/* tly_jw_done - TLY_OK when everything was written and closed */
int
tly_jw_done(tly_jw *w)
{
	if (w->rc == TLY_OK && w->depth != 0)
		w->rc = TLY_ERR;
	return w->rc;
}

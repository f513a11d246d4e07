/*
 * http.c - the request and response of the FastCGI edge
 *
 * Owns how Tally reads a request from libfcgi and writes a response:
 * the parameters it trusts (nginx's), the request id, the bounded body
 * read, and the error envelope of docs/api.md.
 *
 * Body reading never trusts CONTENT_LENGTH for allocation: it reads at
 * most max_body_bytes + 1 bytes into a bounded buffer; more than the limit
 * is 413 whatever the header said, and a body whose size differs from a
 * given CONTENT_LENGTH is 400 (a lying length is how request smuggling
 * starts).  A declared length above the limit is refused before reading.
 *
 * API:	tly_req_init(), tly_req_body_or_reply(), tly_req_json_or_reply(),
 *	tly_req_query(), tly_req_cookie(), tly_reply(), tly_reply_json(),
 *	tly_reply_jw(), tly_reply_err(), tly_reply_errf(), tly_req_header().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "http.h"
#include "tly_str.h"

#define RESP_HDR_MAX	4096

/* tly_now_us - wall clock in microseconds (access log durations) */
int64_t
tly_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int
request_id_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || *s == '-' || *s == '_'))
			return 0;
	return n >= 8 && n <= 64;
}

/* the parameters the edge reads, found in one pass over the environment */
typedef struct want_param {
	const char	*name;
	size_t		 len;
	size_t		 off;		/* where in tly_req the value goes */
} want_param;

#define WANT(n, f)	{ n, sizeof(n) - 1, offsetof(tly_req, f) }

static const want_param wanted[] = {
	WANT("REQUEST_METHOD", method),
	WANT("DOCUMENT_URI", path),
	WANT("QUERY_STRING", query),
	WANT("REMOTE_ADDR", remote_addr),
	WANT("CONTENT_TYPE", content_type),
	WANT("CONTENT_LENGTH", content_length),
	WANT("HTTP_AUTHORIZATION", authorization),
	WANT("HTTP_COOKIE", cookie),
	WANT("HTTP_X_CSRF_TOKEN", csrf_token),
	WANT("HTTP_IDEMPOTENCY_KEY", idempotency_key),
	WANT("HTTP_STRIPE_SIGNATURE", stripe_signature),
	WANT("REQUEST_ID", request_id_in),
	{ NULL, 0, 0 }
};

static void
read_params(tly_req *r)
{
	const want_param *w;
	char **e;
	const char *eq;
	size_t n;

	for (e = r->fr->envp; e && *e; e++) {
		eq = strchr(*e, '=');
		if (eq == NULL || eq[1] == '\0')
			continue;
		n = (size_t)(eq - *e);
		for (w = wanted; w->name; w++)
			if (w->len == n && memcmp(*e, w->name, n) == 0) {
				*(const char **)((char *)r + w->off) = eq + 1;
				break;
			}
	}
}

/*
 * tly_req_init - read the parameters of 'fr' into 'r'.  The request id
 * is nginx's $request_id (REQUEST_ID) when it is well formed, else a new
 * one.
 */
int
tly_req_init(tly_req *r, FCGX_Request *fr, tly_ctx *ctx, int pool)
{
	memset(r, 0, sizeof(*r));
	r->fr = fr;
	r->ctx = ctx;
	r->pool = pool;
	r->start_us = tly_now_us();
	tly_buf_init(&r->headers, RESP_HDR_MAX);
	read_params(r);
	if (r->method == NULL)
		r->method = "GET";
	if (r->path == NULL)
		r->path = "/";
	if (r->request_id_in && request_id_ok(r->request_id_in))
		tly_strlcpy(r->request_id, r->request_id_in,
		    sizeof(r->request_id));
	else if (tly_random_token(r->request_id, 33) != TLY_OK)
		tly_strlcpy(r->request_id, "unknown", sizeof(r->request_id));
	tly_strlcpy(ctx->request_id, r->request_id, sizeof(ctx->request_id));
	ctx->log->request_id = ctx->request_id;
	return TLY_OK;
}

/* tly_req_header - add response header 'name: value' (no CR/LF allowed) */
int
tly_req_header(tly_req *r, const char *name, const char *value)
{
	if (strpbrk(value, "\r\n") || strpbrk(name, "\r\n:"))
		return TLY_ERR;
	return tly_buf_addf(&r->headers, "%s: %s\r\n", name, value);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

/*
 * tly_reply - write the whole response: 'status', 'ctype' and 'len' bytes
 * of 'body'.  A second reply to the same request is refused (a bug).
 */
int
tly_reply(tly_req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	char head[1024];
	int n;

	if (r->replied)
		return TLY_ERR;
	r->replied = 1;
	r->status = status;
	/* libfcgi's own printf knows few conversions: format here */
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "X-Request-Id: %s\r\n"
	    "Cache-Control: no-store\r\n", status, reason(status),
	    ctype, len, r->request_id);
	if (n < 0 || (size_t)n >= sizeof(head))
		return TLY_ERR;
	FCGX_PutStr(head, n, r->fr->out);
	/* served over https (public_url): browsers must never fall back to
	 * http for a year (RFC 6797) */
	if (r->ctx && strncmp(r->ctx->cfg->public_url, "https://", 8) == 0)
		FCGX_PutS("Strict-Transport-Security: max-age=31536000; "
		    "includeSubDomains\r\n", r->fr->out);
	FCGX_PutStr(tly_buf_str(&r->headers), (int)r->headers.len, r->fr->out);
	FCGX_PutStr("\r\n", 2, r->fr->out);
	if (len && strcmp(r->method, "HEAD") != 0)
		FCGX_PutStr(body, (int)len, r->fr->out);
	if (r->capture) {
		r->cap_body = tly_pstrndup(r->ctx->pool, body, len);
		r->cap_len = r->cap_body ? len : 0;
	}
	return TLY_OK;
}

/* tly_reply_json - a JSON body from 'b' */
int
tly_reply_json(tly_req *r, int status, const tly_buf *b)
{
	return tly_reply(r, status, "application/json", tly_buf_str(b),
	    b->len);
}

/* tly_reply_jw - the JSON of writer 'w', or a 500 if writing failed */
int
tly_reply_jw(tly_req *r, int status, tly_jw *w)
{
	tly_err err;

	if (tly_jw_done(w) != TLY_OK) {
		tly_err_clear(&err);
		tly_err_internal(&err);
		tly_logkv(r->ctx->log, TLY_LOG_ERROR, "http",
		    "response too large or malformed", NULL);
		return tly_reply_err(r, &err);
	}
	return tly_reply_json(r, status, w->b);
}

/* tly_reply_err - the error envelope for 'e' with its status */
int
tly_reply_err(tly_req *r, const tly_err *e)
{
	char body[1024], ra[16];
	tly_buf b;
	tly_jw w;
	int status;

	status = tly_err_status(e);
	tly_strlcpy(r->err_code, e->code, sizeof(r->err_code));
	if (e->kind == TLY_EK_RATE && e->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", e->retry_after);
		tly_req_header(r, "Retry-After", ra);
	}
	tly_buf_init(&b, 2048);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_obj(&w, "error");
	tly_jw_str(&w, "type", tly_err_type(e));
	tly_jw_str(&w, "code", e->code[0] ? e->code : "error");
	if (e->decline_code[0])
		tly_jw_str(&w, "decline_code", e->decline_code);
	tly_jw_str(&w, "message", e->msg[0] ? e->msg : reason(status));
	if (e->param[0])
		tly_jw_str(&w, "param", e->param);
	tly_jw_str(&w, "request_id", r->request_id);
	tly_jw_end(&w);
	tly_jw_end(&w);
	if (tly_jw_done(&w) != TLY_OK) {
		snprintf(body, sizeof(body), "{\"error\":{\"type\":"
		    "\"api_error\",\"code\":\"internal_error\"}}");
		tly_buf_free(&b);
		return tly_reply(r, 500, "application/json", body,
		    strlen(body));
	}
	status = tly_reply(r, status, "application/json", b.data, b.len);
	tly_buf_free(&b);
	return status;
}

/* tly_reply_errf - build and send an error in one call */
int
tly_reply_errf(tly_req *r, tly_err_kind kind, const char *code,
    const char *fmt, ...)
{
	tly_err e;
	va_list ap;

	tly_err_clear(&e);
	e.kind = kind;
	tly_strlcpy(e.code, code, sizeof(e.code));
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	tly_reply_err(r, &e);
	return TLY_ERR;
}

/*
 * tly_req_body_or_reply - read the body (bounded, see the top of the
 * file) into the arena; on failure the error is answered.
 */
int
tly_req_body_or_reply(tly_req *r)
{
	size_t max = r->ctx->cfg->max_body_bytes, got = 0;
	const char *cl;
	int64_t declared = -1;
	char *buf;
	int n;

	if (r->body_read)
		return TLY_OK;

	cl = r->content_length;
	if (cl && (tly_parse_i64(cl, &declared) != TLY_OK || declared < 0))
		return tly_reply_errf(r, TLY_EK_INVALID, "invalid_length",
		    "Content-Length is not a valid length.");
	if (declared > (int64_t)max)
		return tly_reply_errf(r, TLY_EK_TOO_LARGE, "body_too_large",
		    "The request body is larger than %zu bytes.", max);
	buf = tly_palloc(r->ctx->pool, max + 2);
	if (buf == NULL)
		return tly_reply_errf(r, TLY_EK_INTERNAL, "internal_error",
		    "Out of memory.");
	while (got <= max) {
		n = FCGX_GetStr(buf + got, (int)(max + 1 - got), r->fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got > max)
		return tly_reply_errf(r, TLY_EK_TOO_LARGE, "body_too_large",
		    "The request body is larger than %zu bytes.", max);
	if (declared >= 0 && (size_t)declared != got)
		return tly_reply_errf(r, TLY_EK_INVALID, "invalid_length",
		    "The request body does not match its Content-Length.");
	buf[got] = '\0';
	r->body = buf;
	r->body_len = got;
	r->body_read = 1;
	return TLY_OK;
}

static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return ct && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * tly_req_json_or_reply - read the body, parse it as JSON under the
 * request limits and check it against 'fields' (NULL: any object).  An
 * empty body is an empty object.
 */
int
tly_req_json_or_reply(tly_req *r, const tly_jfield *fields)
{
	tly_err e;

	if (tly_req_body_or_reply(r) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (r->body_len == 0) {
		r->json = tly_pcalloc(r->ctx->pool, sizeof(*r->json));
		if (r->json == NULL)
			return tly_reply_errf(r, TLY_EK_INTERNAL,
			    "internal_error", "Out of memory.");
		r->json->type = TLY_JOBJ;
	} else {
		if (!is_json_type(r->content_type))
			return tly_reply_errf(r, TLY_EK_INVALID,
			    "unsupported_content_type",
			    "Send the body as application/json.");
		if (tly_json_parse(r->ctx->pool, r->body, r->body_len,
		    &tly_json_request_limits, &r->json, &e) != TLY_OK) {
			tly_reply_err(r, &e);
			return TLY_ERR;
		}
	}
	if (fields && tly_json_check(r->json, fields, &e) != TLY_OK) {
		tly_reply_err(r, &e);
		return TLY_ERR;
	}
	if (r->json->type != TLY_JOBJ)
		return tly_reply_errf(r, TLY_EK_INVALID, "invalid_json",
		    "The request body must be a JSON object.");
	return TLY_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* url_decode - decode 'n' bytes of 's' into a pool string; NULL if bad */
static char *
url_decode(tly_pool *p, const char *s, size_t n)
{
	char *out, *o;
	size_t i;
	int h, l;

	out = tly_palloc(p, n + 1);
	if (out == NULL)
		return NULL;
	for (i = 0, o = out; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			if (i + 2 >= n)
				return NULL;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return NULL;
			*o++ = (char)(h << 4 | l);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/*
 * tly_req_query - the decoded value of query parameter 'name', or NULL
 * (also when it is malformed or holds a NUL).
 */
const char *
tly_req_query(tly_req *r, const char *name)
{
	const char *s, *amp, *eq;
	size_t nl = strlen(name);

	for (s = r->query; s && *s; s = amp ? amp + 1 : NULL) {
		amp = strchr(s, '&');
		eq = memchr(s, '=', amp ? (size_t)(amp - s) : strlen(s));
		if (eq && (size_t)(eq - s) == nl && memcmp(s, name, nl) == 0)
			return url_decode(r->ctx->pool, eq + 1,
			    amp ? (size_t)(amp - eq - 1) : strlen(eq + 1));
	}
	return NULL;
}

/* tly_req_cookie - the value of cookie 'name', or NULL */
const char *
tly_req_cookie(tly_req *r, const char *name)
{
	const char *s, *semi, *eq;
	size_t nl = strlen(name), vl;

	for (s = r->cookie; s && *s; s = semi ? semi + 1 : NULL) {
		while (*s == ' ')
			s++;
		semi = strchr(s, ';');
		eq = strchr(s, '=');
		if (eq == NULL || (semi && eq > semi))
			continue;
		if ((size_t)(eq - s) == nl && memcmp(s, name, nl) == 0) {
			vl = semi ? (size_t)(semi - eq - 1) : strlen(eq + 1);
			return tly_pstrndup(r->ctx->pool, eq + 1, vl);
		}
	}
	return NULL;
}

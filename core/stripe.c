/*
 * stripe.c - the Stripe client's transport: one curl handle, retries,
 * outcomes
 *
 * Owns the HTTP exchange with Stripe (or the emulator at api_base): the
 * headers (Bearer key, pinned Stripe-Version, Idempotency-Key,
 * Stripe-Account), the bounded response body, the response headers Tally
 * reads (Request-Id, Idempotent-Replayed, Stripe-Should-Retry), the retry
 * policy and the mapping of Stripe's error envelope to tly_err.  See
 * stripe.h for the contract.  The secret key lives only in the header
 * list handed to curl; no log line carries it.
 *
 * "Nothing was sent" is decided from curl itself: no request bytes
 * (CURLINFO_REQUEST_SIZE = 0) after a connect or resolve failure.  Only
 * then is a failed POST retried; any other transport failure of a POST is
 * an unknown outcome.
 *
 * API:	tly_stripe_new(), tly_stripe_call(), tly_stripe_fetch(),
 *	tly_stripe_path(), tly_stripe_connections(), tly_stripe_free(),
 *	tly_stripe_worst_ms().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "fault.h"
#include "metrics.h"
#include "stripe.h"
#include "tly_buf.h"
#include "tly_str.h"

#define ST_BODY_MAX	(16 << 20)
#define ST_BACKOFF_CAP	4000

struct tly_stripe {
	const tly_config	*cfg;
	tly_log			*log;
	CURL			*curl;
	long			 connections;
	int			 timeout_ms;
	char			 auth[300];
	tly_buf			 body;
	char			 request_id[64];
	int			 replayed;
	int			 should_retry;	/* -1 unknown, 0, 1 */
};

/* tly_stripe_new - a client for 'cfg'; NULL if curl cannot start */
tly_stripe *
tly_stripe_new(const tly_config *cfg, tly_log *log)
{
	tly_stripe *s;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->log = log;
	s->timeout_ms = cfg->stripe_timeout_ms;
	s->curl = curl_easy_init();
	if (s->curl == NULL) {
		free(s);
		return NULL;
	}
	snprintf(s->auth, sizeof(s->auth), "Authorization: Bearer %s",
	    cfg->stripe_secret_key);
	tly_buf_init(&s->body, ST_BODY_MAX);
	return s;
}

/* tly_stripe_free - close the connections and free; NULL is a no-op */
void
tly_stripe_free(tly_stripe *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl);
	explicit_bzero(s->auth, sizeof(s->auth));
	tly_buf_free(&s->body);
	free(s);
}

/* tly_stripe_connections - connections opened so far (keep-alive test) */
long
tly_stripe_connections(const tly_stripe *s)
{
	return s->connections;
}

/* tly_stripe_set_timeout - total timeout per HTTP attempt, ms (tests) */
void
tly_stripe_set_timeout(tly_stripe *s, int ms)
{
	s->timeout_ms = ms;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	tly_stripe *s = arg;

	if (tly_buf_add(&s->body, p, size * n) != TLY_OK)
		return 0;		/* CURLE_WRITE_ERROR */
	return size * n;
}

/* header_value - the value of header 'name' in line 'p', or NULL */
static const char *
header_value(char *p, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	char *v, *e;

	if (n <= nl + 1 || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return NULL;
	v = p + nl + 1;
	e = p + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	*vlen = (size_t)(e - v);
	return v;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	tly_stripe *s = arg;
	const char *v;
	size_t len = size * n, vl;

	v = header_value(p, len, "Request-Id", &vl);
	if (v && vl < sizeof(s->request_id)) {
		memcpy(s->request_id, v, vl);
		s->request_id[vl] = '\0';
	}
	v = header_value(p, len, "Idempotent-Replayed", &vl);
	if (v)
		s->replayed = vl == 4 && strncasecmp(v, "true", 4) == 0;
	v = header_value(p, len, "Stripe-Should-Retry", &vl);
	if (v)
		s->should_retry = vl == 4 && strncasecmp(v, "true", 4) == 0;
	return len;
}

/* tly_stripe_path - 'pre' + 'id' + 'post' when 'id' is a plain Stripe id */
const char *
tly_stripe_path(tly_pool *pool, const char *pre, const char *id,
    const char *post)
{
	const char *p;

	if (id == NULL || *id == '\0' || strlen(id) > 255)
		return NULL;
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return NULL;
	return tly_psprintf(pool, "%s%s%s", pre, id, post ? post : "");
}

/* headers - the request's header list; NULL if OOM */
static struct curl_slist *
headers(tly_stripe *s, const tly_stripe_req *rq)
{
	struct curl_slist *h = NULL, *t;
	char line[300];
	int ok = 1;

#define ADD(str) do {							\
	t = curl_slist_append(h, (str));				\
	if (t == NULL)							\
		ok = 0;							\
	else								\
		h = t;							\
} while (0)
	ADD(s->auth);
	ADD("Stripe-Version: " TLY_STRIPE_API_VERSION);
	ADD("Accept: application/json");
	ADD("Expect:");
	if (rq->idempotency_key) {
		snprintf(line, sizeof(line), "Idempotency-Key: %s",
		    rq->idempotency_key);
		ADD(line);
	}
	if (rq->account) {
		snprintf(line, sizeof(line), "Stripe-Account: %s",
		    rq->account);
		ADD(line);
	}
	if (strcmp(rq->method, "POST") == 0)
		ADD("Content-Type: application/x-www-form-urlencoded");
#undef ADD
	if (!ok) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

typedef struct st_attempt {
	CURLcode	 cc;
	long		 status;
	int		 sent;		/* request bytes went out */
} st_attempt;

/* perform - one HTTP exchange; the body lands in s->body */
static int
perform(tly_stripe *s, const tly_stripe_req *rq, const char *url,
    struct curl_slist *h, st_attempt *a)
{
	const char *body = rq->params ? tly_form_body(rq->params) : "";
	int post = strcmp(rq->method, "POST") == 0;
	CURL *c = s->curl;
	long req_size = 0, conns = 0;

	tly_buf_reset(&s->body);
	s->request_id[0] = '\0';
	s->replayed = 0;
	s->should_retry = -1;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)s->cfg->stripe_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Tally/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (post) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	a->cc = curl_easy_perform(c);
	a->status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req_size);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
	s->connections += conns;
	a->sent = req_size > 0 || (a->cc != CURLE_COULDNT_CONNECT &&
	    a->cc != CURLE_COULDNT_RESOLVE_HOST &&
	    a->cc != CURLE_COULDNT_RESOLVE_PROXY);
	if (a->cc == CURLE_OK)
		a->sent = 1;
	return a->cc == CURLE_OK ? TLY_OK : TLY_ERR;
}

/* map_error - Stripe's envelope (or its absence) into 'err' */
static void
map_error(const tly_jv *json, long status, tly_err *err)
{
	const char *type, *code, *decline, *msg, *param;

	type = tly_json_str(json, "error.type");
	code = tly_json_str(json, "error.code");
	decline = tly_json_str(json, "error.decline_code");
	msg = tly_json_str(json, "error.message");
	param = tly_json_str(json, "error.param");
	tly_err_clear(err);
	err->upstream_status = (int)status;
	tly_strlcpy(err->upstream_type, type ? type : "",
	    sizeof(err->upstream_type));
	tly_strlcpy(err->code, code ? code : (type ? type : "stripe_error"),
	    sizeof(err->code));
	tly_strlcpy(err->decline_code, decline ? decline : "",
	    sizeof(err->decline_code));
	tly_strlcpy(err->param, param ? param : "", sizeof(err->param));
	tly_strlcpy(err->upstream_msg, msg ? msg : "",
	    sizeof(err->upstream_msg));
	if (status == 402 || (type && strcmp(type, "card_error") == 0)) {
		/* Stripe's card messages are written for the buyer */
		err->kind = TLY_EK_CARD;
		tly_strlcpy(err->msg, msg ? msg : "Your card was declined.",
		    sizeof(err->msg));
		return;
	}
	err->kind = TLY_EK_UPSTREAM;
	snprintf(err->msg, sizeof(err->msg), "The payment provider refused "
	    "the request (%s).", err->code);
}

static void
backoff(tly_stripe *s, int attempt)
{
	int64_t cap = (int64_t)s->cfg->stripe_retry_base_ms << attempt;

	if (cap > ST_BACKOFF_CAP)
		cap = ST_BACKOFF_CAP;
	tly_sleep_ms(cap / 2 + (int64_t)(tly_random_u32() % (cap / 2 + 1)));
}

/*
 * tly_stripe_worst_ms - the longest one tly_stripe_call() can take under
 * 'cfg': every try timing out, and the longest backoff between tries
 * (idem.h derives the takeover of a client's key from it)
 */
int64_t
tly_stripe_worst_ms(const tly_config *cfg)
{
	int64_t tries = (int64_t)cfg->stripe_max_retries + 1;

	return tries * cfg->stripe_timeout_ms +
	    (tries - 1) * ST_BACKOFF_CAP;
}

static void
log_call(tly_stripe *s, int level, const char *what,
    const tly_stripe_req *rq, const st_attempt *a, int n, const tly_err *e)
{
	char st[16], at[8];

	snprintf(st, sizeof(st), "%ld", a->status);
	snprintf(at, sizeof(at), "%d", n);
	tly_logkv(s->log, level, "stripe", what, "method", rq->method,
	    "path", rq->path, "status", st, "attempt", at,
	    "stripe_request_id", s->request_id[0] ? s->request_id : NULL,
	    "idempotency_key", rq->idempotency_key,
	    "curl", a->cc ? curl_easy_strerror(a->cc) : NULL,
	    "stripe_code", e && e->code[0] ? e->code : NULL,
	    "stripe_param", e && e->param[0] ? e->param : NULL,
	    "stripe_message", e && e->upstream_msg[0] ? e->upstream_msg : NULL,
	    NULL);
}

/* classify - what one attempt means: done, retry, or final failure */
enum { ST_DONE, ST_RETRY, ST_FAIL, ST_UNKNOWN };

static int
classify(tly_stripe *s, const tly_stripe_req *rq, const st_attempt *a)
{
	int post = strcmp(rq->method, "POST") == 0;

	if (a->cc != CURLE_OK) {
		if (!a->sent || !post)
			return ST_RETRY;
		return ST_UNKNOWN;
	}
	if (a->status >= 200 && a->status < 300)
		return ST_DONE;
	if (a->status == 409 || a->status == 429)
		return s->should_retry == 0 ? ST_FAIL : ST_RETRY;
	if (a->status >= 500)
		return post ? ST_UNKNOWN : ST_RETRY;
	return ST_FAIL;
}

static int
parse_body(tly_stripe *s, tly_pool *pool, tly_stripe_resp *resp)
{
	tly_jv *j = NULL;
	tly_err e;

	tly_err_clear(&e);
	if (s->body.len == 0)
		return TLY_ERR;
	if (tly_json_parse(pool, tly_buf_str(&s->body), s->body.len,
	    &tly_json_api_limits, &j, &e) != TLY_OK)
		return TLY_ERR;
	resp->json = j;
	return TLY_OK;
}

static int
unknown(tly_err *err, const st_attempt *a)
{
	tly_err_clear(err);
	err->upstream_status = (int)a->status;
	tly_err_set(err, TLY_EK_UPSTREAM, "stripe_outcome_unknown",
	    "The payment provider did not confirm the request; it will be "
	    "checked and finished.");
	return TLY_UNKNOWN;
}

/*
 * tly_stripe_call - one Stripe request with the retries of stripe.h;
 * the parsed body goes to resp->json (in 'pool').
 */
int
tly_stripe_call(tly_stripe *s, tly_pool *pool, const tly_stripe_req *rq,
    tly_stripe_resp *resp, tly_err *err)
{
	struct curl_slist *h;
	const char *url, *q;
	st_attempt a;
	int n, verdict = ST_FAIL;
	int64_t t0;

	memset(resp, 0, sizeof(*resp));
	if (strcmp(rq->method, "POST") == 0 && rq->idempotency_key == NULL)
		return tly_err_internal(err);	/* a bug: every POST has one */
	if (tly_fault_nth(TLY_FAULT_STRIPE))
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_unavailable",
		    "The payment provider is not reachable; retry later.");
	if (rq->params && tly_form_done(rq->params) != TLY_OK)
		return tly_err_internal(err);
	q = rq->params && strcmp(rq->method, "GET") == 0 ?
	    tly_form_body(rq->params) : "";
	url = tly_psprintf(pool, "%s%s%s%s", s->cfg->stripe_api_base,
	    rq->path, *q ? "?" : "", q);
	h = headers(s, rq);
	if (url == NULL || h == NULL) {
		curl_slist_free_all(h);
		return tly_err_internal(err);
	}
	memset(&a, 0, sizeof(a));
	t0 = tly_mono_ms();
	for (n = 0; n <= s->cfg->stripe_max_retries; n++) {
		if (n)
			backoff(s, n - 1);
		perform(s, rq, url, h, &a);
		resp->attempts = n + 1;
		verdict = classify(s, rq, &a);
		if (verdict != ST_RETRY)
			break;
		log_call(s, TLY_LOG_INFO, "retrying", rq, &a, n + 1, NULL);
	}
	curl_slist_free_all(h);
	tly_metrics_stripe(rq->method, rq->path, a.status,
	    tly_mono_ms() - t0);
	if (verdict == ST_DONE && tly_fault_nth(TLY_FAULT_STRIPE_LOST))
		verdict = ST_UNKNOWN;	/* TALLY_FAULTS: the reply lost */
	resp->status = (int)a.status;
	resp->replayed = s->replayed;
	tly_strlcpy(resp->request_id, s->request_id, sizeof(resp->request_id));
	(void)parse_body(s, pool, resp);
	switch (verdict) {
	case ST_DONE:
		log_call(s, TLY_LOG_DEBUG, "ok", rq, &a, resp->attempts, NULL);
		if (resp->json == NULL)
			return unknown(err, &a);
		return TLY_OK;
	case ST_UNKNOWN:
		log_call(s, TLY_LOG_WARN, "outcome unknown", rq, &a,
		    resp->attempts, NULL);
		return unknown(err, &a);
	case ST_RETRY:		/* retries ran out */
		log_call(s, TLY_LOG_WARN, "gave up", rq, &a, resp->attempts,
		    NULL);
		if (a.sent && strcmp(rq->method, "POST") == 0)
			return unknown(err, &a);
		tly_err_set(err, TLY_EK_UPSTREAM, "stripe_unavailable",
		    "The payment provider is not reachable; retry later.");
		err->upstream_status = (int)a.status;
		return TLY_ERR;
	default:
		map_error(resp->json, a.status, err);
		log_call(s, a.status == 402 ? TLY_LOG_INFO : TLY_LOG_WARN,
		    "refused", rq, &a, resp->attempts, err);
		return TLY_ERR;
	}
}

/*
 * tly_stripe_fetch - tly_stripe_call, then the body must be an object of
 * type 'want' (e.g. "payment_intent"; NULL: any); '*out' is it.
 */
int
tly_stripe_fetch(tly_stripe *s, tly_pool *pool, const tly_stripe_req *rq,
    const char *want, const tly_jv **out, tly_stripe_resp *resp,
    tly_err *err)
{
	const char *obj;
	int rc;

	*out = NULL;
	rc = tly_stripe_call(s, pool, rq, resp, err);
	if (rc)
		return rc;
	obj = tly_json_str(resp->json, "object");
	if (want && (obj == NULL || strcmp(obj, want) != 0)) {
		tly_logkv(s->log, TLY_LOG_ERROR, "stripe", "unexpected object",
		    "path", rq->path, "want", want, "got", obj, NULL);
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "The payment provider answered something unexpected.");
	}
	*out = resp->json;
	return TLY_OK;
}

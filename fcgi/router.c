/*
 * router.c - matching, authentication, authorisation, rate limiting
 *
 * Owns the order of the request pipeline and the rules that are the same
 * for every route, so that no handler re-implements them:
 *
 *   1. match method + path among the routes of this pool
 *      (none: 404; path matches with another method: 405 + Allow);
 *   2. credentials: "Authorization: Bearer tly_sk_…" is a server key,
 *      "Authorization: Bearer <jwt>" a buyer token; the admin session
 *      cookie counts only on routes that admit admins (so a browser's
 *      cookie can never authorise a buyer or server route);
 *      none: 401; wrong: 401 (one opaque answer);
 *   3. the kind must be one the route admits (403), an admin's role must
 *      reach the route's minimum (403), and a state-changing admin
 *      request must carry the session's CSRF token (403);
 *   4. one token from the principal's bucket (429 + Retry-After);
 *   5. with an Idempotency-Key on a buyer's or server's POST (or an
 *      admin's, on a route that says so): replay,
 *      refuse a reuse (422: another body, or another concrete path --
 *      the fingerprint is "<method> <path>" and the body, never the
 *      route's pattern) or a concurrent duplicate (409), else keep the
 *      handler's answer for later replays (idem.h); the claimed key is
 *      r->idem, so that a route making an external effect keeps it on
 *      the effect's row;
 *   6. the handler, which must answer exactly once.
 *
 * Routes that admit TLY_PK_STRIPE verify the webhook signature in the
 * handler (it covers the raw body).
 *
 * API:	tly_dispatch().
 */
#include <stdio.h>
#include <string.h>

#include "idem.h"
#include "jwt.h"
#include "router.h"
#include "tly_str.h"

/* seg_match - one pattern segment against one path segment */
static int
seg_match(const char *pat, size_t plen, const char *seg, size_t slen)
{
	if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}')
		return slen > 0 && slen <= 128;
	return plen == slen && memcmp(pat, seg, plen) == 0;
}

/* path_match - 'path' against 'pattern'; captures go to 'r' */
static int
path_match(tly_req *r, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path, *pe, *se;
	int ncap = 0;

	for (;;) {
		if (*p != '/' || *s != '/')
			return *p == '\0' && *s == '\0';
		p++;
		s++;
		pe = strchr(p, '/');
		se = strchr(s, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		if (se == NULL)
			se = s + strlen(s);
		if (!seg_match(p, (size_t)(pe - p), s, (size_t)(se - s)))
			return 0;
		if (*p == '{') {
			if (ncap == TLY_MAX_CAPTURES)
				return 0;
			r->cap[ncap++] = tly_pstrndup(r->ctx->pool, s,
			    (size_t)(se - s));
		}
		p = pe;
		s = se;
		if (*p == '\0' || *s == '\0') {
			r->ncap = ncap;
			return *p == '\0' && *s == '\0';
		}
	}
}

/* match - find the route; 404 or 405 answered here */
static int
match(tly_req *r)
{
	const tly_route *rt;
	char allow[128] = "";
	const char *m = r->method;

	if (strcmp(m, "HEAD") == 0)
		m = "GET";
	for (rt = tly_routes; rt->method; rt++) {
		if (!(rt->pools & (1 << r->pool)))
			continue;
		if (!path_match(r, rt->pattern, r->path))
			continue;
		if (strcmp(rt->method, m) == 0) {
			r->route = rt;
			return TLY_OK;
		}
		if (strstr(allow, rt->method) == NULL) {
			if (allow[0])
				tly_strlcpy(allow + strlen(allow), ", ",
				    sizeof(allow) - strlen(allow));
			tly_strlcpy(allow + strlen(allow), rt->method,
			    sizeof(allow) - strlen(allow));
			if (strcmp(rt->method, "GET") == 0)
				tly_strlcpy(allow + strlen(allow), ", HEAD",
				    sizeof(allow) - strlen(allow));
		}
	}
	if (allow[0]) {
		tly_req_header(r, "Allow", allow);
		return tly_reply_errf(r, TLY_EK_METHOD, "method_not_allowed",
		    "%s is not allowed on %.200s; use %s.", r->method, r->path,
		    allow);
	}
	return tly_reply_errf(r, TLY_EK_NOT_FOUND, "resource_missing",
	    "Unrecognized request URL (%s %.200s).", r->method, r->path);
}

static int
unauthenticated_or_reply(tly_req *r, const char *code, const char *msg)
{
	tly_req_header(r, "WWW-Authenticate", "Bearer realm=\"tally\"");
	return tly_reply_errf(r, TLY_EK_AUTH, code, "%s", msg);
}

/* authenticate - fill r->principal from the request's credentials */
static int
authenticate(tly_req *r)
{
	const tly_route *rt = r->route;
	const char *a = r->authorization, *tok, *session;
	tly_err e;
	int rc;

	tly_err_clear(&e);
	session = (rt->principals & TLY_PK_ADMIN) ?
	    tly_req_cookie(r, TLY_SESSION_COOKIE) : NULL;
	if (a) {
		if (strncasecmp(a, "Bearer ", 7) != 0)
			return unauthenticated_or_reply(r,
			    "invalid_credentials", "Authentication failed.");
		tok = a + 7;
		while (*tok == ' ')
			tok++;
		if (strncmp(tok, TLY_API_KEY_PREFIX,
		    strlen(TLY_API_KEY_PREFIX)) == 0)
			rc = tly_auth_server(r->ctx, tok, &r->principal, &e);
		else if (tly_jwt_looks_like(tok))
			rc = tly_auth_buyer(r->ctx, tok, &r->principal, &e);
		else
			rc = tly_err_set(&e, TLY_EK_AUTH, "invalid_credentials",
			    "Authentication failed.");
	} else if (session) {
		rc = tly_auth_admin(r->ctx, session, &r->principal, &e);
	} else
		return unauthenticated_or_reply(r, "missing_credentials",
		    "This request needs credentials.");
	if (rc == TLY_OK)
		return TLY_OK;
	if (e.kind == TLY_EK_AUTH)
		return unauthenticated_or_reply(r, e.code, e.msg);
	tly_reply_err(r, &e);
	return TLY_ERR;
}

/* authorise - kind, role and CSRF; 403 answered here */
static int
authorise(tly_req *r)
{
	const tly_route *rt = r->route;
	tly_principal *p = &r->principal;

	if (!(rt->principals & p->kind))
		return tly_reply_errf(r, TLY_EK_FORBIDDEN, "forbidden",
		    "These credentials may not use %s %.200s.", r->method,
		    r->path);
	if (p->kind != TLY_PK_ADMIN)
		return TLY_OK;
	if (p->role < rt->min_role)
		return tly_reply_errf(r, TLY_EK_FORBIDDEN, "role_required",
		    "This needs the %s role or higher.",
		    tly_role_name(rt->min_role));
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
	    (r->csrf_token == NULL || !tly_streq_ct(r->csrf_token, p->csrf)))
		return tly_reply_errf(r, TLY_EK_FORBIDDEN, "csrf_failed",
		    "A valid X-CSRF-Token header is required.");
	return TLY_OK;
}

/* rate_limit - one token for the principal; 429 answered here */
static int
rate_limit(tly_req *r)
{
	const tly_config *c = r->ctx->cfg;
	const tly_rate_conf *rate;
	char key[64];
	int retry = 0;
	tly_err e;

	switch (r->principal.kind) {
	case TLY_PK_BUYER:	rate = &c->rate_buyer; break;
	case TLY_PK_SERVER:	rate = &c->rate_server; break;
	case TLY_PK_ADMIN:	rate = &c->rate_admin; break;
	default:		return TLY_OK;
	}
	snprintf(key, sizeof(key), "%d:%s", r->principal.kind,
	    r->principal.id);
	if (tly_rl_take(r->rl, key, rate, tly_mono_ms(), &retry))
		return TLY_OK;
	tly_err_clear(&e);
	tly_err_set(&e, TLY_EK_RATE, "rate_limited",
	    "Too many requests; slow down.");
	e.retry_after = retry;
	tly_reply_err(r, &e);
	return TLY_ERR;
}

/*
 * wants_idem - a POST with the header: of a buyer or server on the API,
 * or of an admin on a route that asks for it (a refund, an advance: a
 * double click must not refund or transfer twice).  Other admin POSTs do
 * not store their answers: an API key's creation answers with the secret
 * key.
 */
static int
wants_idem(const tly_req *r)
{
	if (r->idempotency_key == NULL || strcmp(r->method, "POST") != 0)
		return 0;
	if (r->pool == TLY_POOL_API)
		return (r->principal.kind &
		    (TLY_PK_BUYER | TLY_PK_SERVER)) != 0;
	return r->route->admin_idem && r->principal.kind == TLY_PK_ADMIN;
}

/*
 * idem_begin - claim the key, or answer: the stored response (replay),
 * 422 (same key, other request), 409 (the first still runs), 400 (bad key)
 */
static int
idem_begin(tly_req *r, tly_idem *i)
{
	tly_err e;

	if (!tly_idem_key_ok(r->idempotency_key))
		return tly_reply_errf(r, TLY_EK_INVALID,
		    "idempotency_key_invalid", "Idempotency-Key must be 1 to "
		    "255 printable characters.");
	if (tly_req_body_or_reply(r) != TLY_OK)
		return TLY_ERR;
	memset(i, 0, sizeof(*i));
	snprintf(i->principal, sizeof(i->principal), "%d:%s",
	    r->principal.kind, r->principal.id);
	tly_strlcpy(i->key, r->idempotency_key, sizeof(i->key));
	snprintf(i->route, sizeof(i->route), "%s %s", r->method, r->path);
	tly_err_clear(&e);
	if (tly_idem_begin(r->ctx, i, r->body, r->body_len, &e) != TLY_OK) {
		tly_reply_err(r, &e);
		return TLY_ERR;
	}
	switch (i->state) {
	case TLY_IDEM_REPLAY:
		tly_req_header(r, "Idempotent-Replayed", "true");
		tly_reply(r, i->status, "application/json", i->body,
		    i->body_len);
		return TLY_ERR;
	case TLY_IDEM_MISMATCH:
		return tly_reply_errf(r, TLY_EK_UNPROCESSABLE,
		    "idempotency_key_reused", "This Idempotency-Key was used "
		    "with another request; use a new key.");
	case TLY_IDEM_IN_PROGRESS:
		return tly_reply_errf(r, TLY_EK_CONFLICT,
		    "idempotency_key_in_use", "A request with this "
		    "Idempotency-Key is still running; retry shortly.");
	default:
		r->capture = 1;
		r->idem = i;
		return TLY_OK;
	}
}

/*
 * try_again - the answer says "try again": 409, 429, a 5xx other than a
 * final 502 (checkout_failed, Stripe's refusal), and a 502 saying Stripe
 * could not be reached or did not say how it ended (docs/api.md)
 */
static int
try_again(const tly_req *r)
{
	int s = r->status;

	if (s == 409 || s == 429 || (s >= 500 && s != 502))
		return 1;
	return s == 502 && (strcmp(r->err_code, "stripe_unavailable") == 0 ||
	    strcmp(r->err_code, "stripe_outcome_unknown") == 0);
}

/*
 * idem_end - keep the answer, unless it says "try again" (a route making
 * an effect keeps the key on its row too, so its retry finds the row)
 */
static void
idem_end(tly_req *r, const tly_idem *i)
{
	tly_err e;

	tly_err_clear(&e);
	if (try_again(r))
		(void)tly_idem_abandon(r->ctx, i, &e);
	else
		(void)tly_idem_finish(r->ctx, i, r->status, r->cap_body,
		    r->cap_len, &e);
}

/* tly_dispatch - the whole pipeline for 'r'; always answers */
int
tly_dispatch(tly_req *r)
{
	tly_idem ik;
	int needs_auth, idem;

	if (match(r) != TLY_OK)
		return TLY_ERR;
	needs_auth = !(r->route->principals & (TLY_PK_PUBLIC | TLY_PK_STRIPE));
	if (needs_auth && (authenticate(r) != TLY_OK || authorise(r) != TLY_OK
	    || rate_limit(r) != TLY_OK))
		return TLY_ERR;
	idem = wants_idem(r);
	if (idem && idem_begin(r, &ik) != TLY_OK)
		return TLY_ERR;
	r->route->fn(r);
	if (idem)
		idem_end(r, &ik);
	if (!r->replied) {
		tly_logkv(r->ctx->log, TLY_LOG_ERROR, "http",
		    "handler did not answer", "path", r->path, NULL);
		return tly_reply_errf(r, TLY_EK_INTERNAL, "internal_error",
		    "An internal error occurred; it has been logged.");
	}
	return TLY_OK;
}

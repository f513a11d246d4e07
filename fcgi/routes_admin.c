/*
 * routes_admin.c - the admin API's sessions, users, API keys and audit
 *
 * Login sets the session cookie (HttpOnly, SameSite=Strict, Path=/admin,
 * Secure unless admin_auth.cookie_secure = no for plain-HTTP development)
 * and returns the CSRF token the panel must echo in X-CSRF-Token on every
 * state-changing request; GET /admin/api/v1/me returns it again after a
 * page reload.  Every change made here is written to the audit log with
 * the acting admin.
 *
 * API:	tly_h_admin_login(), tly_h_admin_logout(), tly_h_admin_me(),
 *	tly_h_admin_users_*(), tly_h_admin_keys_*(), tly_h_admin_audit_list().
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "routes.h"
#include "tly_str.h"

static void
set_cookie(tly_req *r, const char *value, int max_age)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/admin; Max-Age=%d; HttpOnly; "
	    "SameSite=Strict%s", TLY_SESSION_COOKIE, value, max_age,
	    r->ctx->cfg->cookie_secure ? "; Secure" : "");
	tly_req_header(r, "Set-Cookie", c);
}

static void
session_json(tly_jw *w, const char *id, const char *name, int role,
    const char *csrf, int64_t expires)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "admin_session");
	tly_jw_obj(w, "user");
	tly_jw_str(w, "id", id);
	tly_jw_str(w, "username", name);
	tly_jw_str(w, "role", tly_role_name(role));
	tly_jw_end(w);
	tly_jw_str(w, "csrf_token", csrf);
	if (expires)
		tly_jw_int(w, "expires_at", expires);
	tly_jw_end(w);
}

static const tly_jfield login_fields[] = {
	{ "username", TLY_JF_STR | TLY_JF_REQUIRED, 64 },
	{ "password", TLY_JF_STR | TLY_JF_REQUIRED, 256 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_login - POST /admin/api/v1/login {username, password} */
int
tly_h_admin_login(tly_req *r)
{
	tly_session s;
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, login_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	rc = tly_admin_login(r->ctx, tly_json_str(r->json, "username"),
	    tly_json_str(r->json, "password"), r->remote_addr, &s, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	set_cookie(r, s.token, r->ctx->cfg->session_ttl_s);
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	session_json(&w, s.user_id, s.username, s.role, s.csrf, s.expires_at);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_logout - end this session and clear the cookie */
int
tly_h_admin_logout(tly_req *r)
{
	static const char bye[] =
	    "{\"object\":\"admin_session\",\"deleted\":true}";
	const char *tok;
	tly_err e;
	int rc;

	tly_err_clear(&e);
	tok = tly_req_cookie(r, TLY_SESSION_COOKIE);
	rc = tly_admin_logout(r->ctx, &r->principal, tok ? tok : "", &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	set_cookie(r, "", 0);
	return tly_reply(r, 200, "application/json", bye, sizeof(bye) - 1);
}

/* tly_h_admin_me - the session's user, role and CSRF token */
int
tly_h_admin_me(tly_req *r)
{
	const tly_principal *p = &r->principal;
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	session_json(&w, p->id, p->name, p->role, p->csrf, 0);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* users - fetch a page of admin users into '*arg' */
static int
users(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	return tly_admin_users_list(r->ctx, pg, arg, n, more, e);
}

/* user_row - user 'i' of '*arg' */
static void
user_row(tly_jw *w, const void *arg, int i)
{
	const tly_admin_user_row *u = *(tly_admin_user_row *const *)arg + i;

	tly_jw_str(w, "object", "admin_user");
	tly_jw_str(w, "id", u->id);
	tly_jw_str(w, "username", u->username);
	tly_jw_str(w, "role", u->role);
	tly_jw_bool(w, "disabled", u->disabled != 0);
	tly_jw_int(w, "created", u->created);
}

/* tly_h_admin_users_list - GET /admin/api/v1/users */
int
tly_h_admin_users_list(tly_req *r)
{
	tly_admin_user_row *rows = NULL;

	return tly_list_or_reply(r, "/admin/api/v1/users", users, user_row,
	    &rows);
}

static const tly_jfield user_fields[] = {
	{ "username", TLY_JF_STR | TLY_JF_REQUIRED, 64 },
	{ "password", TLY_JF_STR | TLY_JF_REQUIRED, 256 },
	{ "role", TLY_JF_STR | TLY_JF_REQUIRED, 16 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_users_create - POST /admin/api/v1/users */
int
tly_h_admin_users_create(tly_req *r)
{
	const char *name, *role;
	char id[40];
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, user_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	name = tly_json_str(r->json, "username");
	role = tly_json_str(r->json, "role");
	rc = tly_admin_create(r->ctx, &r->principal, name,
	    tly_json_str(r->json, "password"), tly_role_parse(role), id,
	    sizeof(id), &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "admin_user");
	tly_jw_str(&w, "id", id);
	tly_jw_str(&w, "username", name);
	tly_jw_str(&w, "role", role);
	tly_jw_end(&w);
	tly_reply_jw(r, 201, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* keys - fetch a page of API keys into '*arg' */
static int
keys(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	return tly_api_keys_list(r->ctx, pg, arg, n, more, e);
}

/* key_row - key 'i' of '*arg' */
static void
key_row(tly_jw *w, const void *arg, int i)
{
	const tly_api_key_row *k = *(tly_api_key_row *const *)arg + i;

	tly_jw_str(w, "object", "api_key");
	tly_jw_str(w, "id", k->id);
	tly_jw_str(w, "name", k->name);
	tly_jw_str(w, "prefix", k->prefix);
	tly_jw_str(w, "created_by", k->created_by[0] ? k->created_by : NULL);
	tly_jw_int(w, "created", k->created);
	if (k->revoked)
		tly_jw_int(w, "revoked", k->revoked);
	else
		tly_jw_null(w, "revoked");
}

/* tly_h_admin_keys_list - GET /admin/api/v1/api_keys */
int
tly_h_admin_keys_list(tly_req *r)
{
	tly_api_key_row *rows = NULL;

	return tly_list_or_reply(r, "/admin/api/v1/api_keys", keys, key_row,
	    &rows);
}

static const tly_jfield key_fields[] = {
	{ "name", TLY_JF_STR | TLY_JF_REQUIRED, 100 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_keys_create - POST /admin/api/v1/api_keys; the key is
 * returned once and never again */
int
tly_h_admin_keys_create(tly_req *r)
{
	char key[64], id[40];
	const char *name;
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, key_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	name = tly_json_str(r->json, "name");
	rc = tly_apikey_create(r->ctx, &r->principal, name, key, sizeof(key),
	    id, sizeof(id), &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "api_key");
	tly_jw_str(&w, "id", id);
	tly_jw_str(&w, "name", name);
	tly_jw_str(&w, "key", key);
	tly_jw_end(&w);
	tly_reply_jw(r, 201, &w);
	tly_buf_free(&b);
	explicit_bzero(key, sizeof(key));
	return TLY_OK;
}

/* tly_h_admin_keys_revoke - POST /admin/api/v1/api_keys/{id}/revoke */
int
tly_h_admin_keys_revoke(tly_req *r)
{
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	tly_err_clear(&e);
	rc = tly_apikey_revoke(r->ctx, &r->principal, r->cap[0], &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 1024);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "api_key");
	tly_jw_str(&w, "id", r->cap[0]);
	tly_jw_bool(&w, "revoked", 1);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* word - query parameter 'k': absent, or 1 to 64 printable ASCII */
static int
word(tly_req *r, const char *k, const char **out, tly_err *e)
{
	const char *v = tly_req_query(r, k), *c;

	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return TLY_OK;
	for (c = v; *c; c++)
		if (*c <= ' ' || *c > '~')
			break;
	if (*c || c - v > 64)
		return tly_err_param(e, TLY_EK_INVALID, "parameter_invalid", k,
		    "%s must be at most 64 printable ASCII characters.", k);
	*out = v;
	return TLY_OK;
}

/* stamp - query parameter 'k': absent (0), or unix seconds > 0 */
static int
stamp(tly_req *r, const char *k, int64_t *out, tly_err *e)
{
	const char *v = tly_req_query(r, k);

	*out = 0;
	if (v == NULL || v[0] == '\0')
		return TLY_OK;
	if (tly_parse_i64(v, out) != TLY_OK || *out < 1)
		return tly_err_param(e, TLY_EK_INVALID, "parameter_invalid", k,
		    "%s must be a time in unix seconds.", k);
	return TLY_OK;
}

/* audit - fetch a page of the audit log, filtered by the query */
static int
audit(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	tly_audit_filter f;

	memset(&f, 0, sizeof(f));
	if (word(r, "actor", &f.actor, e) != TLY_OK ||
	    word(r, "action", &f.action, e) != TLY_OK ||
	    word(r, "object", &f.object, e) != TLY_OK ||
	    stamp(r, "created_gte", &f.created_gte, e) != TLY_OK ||
	    stamp(r, "created_lte", &f.created_lte, e) != TLY_OK)
		return TLY_ERR;
	return tly_audit_list(r->ctx, &f, pg, arg, n, more, e);
}

/* audit_row - entry 'i' of '*arg' */
static void
audit_row(tly_jw *w, const void *arg, int i)
{
	const tly_audit_row *a = *(tly_audit_row *const *)arg + i;
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	tly_jw_str(w, "object", "audit_entry");
	tly_jw_str(w, "id", id);
	tly_jw_int(w, "at", a->at);
	tly_jw_str(w, "actor_kind", a->actor_kind);
	tly_jw_str(w, "actor_id", a->actor_id);
	tly_jw_str(w, "action", a->action);
	tly_jw_str(w, "object_id", a->object_id);
	tly_jw_str(w, "detail", a->detail);
	tly_jw_str(w, "request_id", a->request_id);
}

/*
 * tly_h_admin_audit_list - GET /admin/api/v1/audit
 * (?actor= ?action= ?object= ?created_gte= ?created_lte=)
 */
int
tly_h_admin_audit_list(tly_req *r)
{
	tly_audit_row *rows = NULL;

	return tly_list_or_reply(r, "/admin/api/v1/audit", audit, audit_row,
	    &rows);
}

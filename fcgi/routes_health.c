/*
 * routes_health.c - health and "who am I"
 *
 * GET /api/v1/health checks the database with one round trip and answers
 * 503 with "db":"down" while it is unreachable; since the check goes
 * through the worker's own connection (reconnecting between requests), it
 * recovers by itself when MariaDB is back.  GET /api/v1/health/live
 * answers without touching the database (liveness, and the benchmark of
 * the bare request path).
 *
 * API:	tly_h_health(), tly_h_health_live(), tly_h_me().
 */
#include "routes.h"

/* tly_h_health - {"status","db","version"}, 503 without the database */
int
tly_h_health(tly_req *r)
{
	char out[256];
	tly_buf b;
	tly_jw w;
	tly_err e;
	int up;

	tly_err_clear(&e);
	up = tly_db_ping(r->ctx->db, &e) == TLY_OK;
	tly_buf_init(&b, sizeof(out));
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "status", up ? "ok" : "degraded");
	tly_jw_str(&w, "db", up ? "ok" : "down");
	tly_jw_str(&w, "version", PACKAGE_VERSION);
	tly_jw_end(&w);
	tly_reply_jw(r, up ? 200 : 503, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_health_live - the process answers; no database */
int
tly_h_health_live(tly_req *r)
{
	static const char body[] =
	    "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}";

	return tly_reply(r, 200, "application/json", body, sizeof(body) - 1);
}

/* tly_h_me - the authenticated principal (buyer or server) */
int
tly_h_me(tly_req *r)
{
	const tly_principal *p = &r->principal;
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "principal");
	tly_jw_str(&w, "kind", tly_principal_kind_name(p->kind));
	if (p->kind == TLY_PK_BUYER) {
		tly_jw_str(&w, "account_id", p->id);
		tly_jw_str(&w, "sub", p->sub);
		tly_jw_str(&w, "email", p->email[0] ? p->email : NULL);
	} else {
		tly_jw_str(&w, "api_key_id", p->id);
		tly_jw_str(&w, "name", p->name);
	}
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/*
 * routes.c - the route table, and helpers shared by the handlers
 *
 * The table is the single place that says who may call what (docs/api.md):
 * reading it answers "which principal kinds reach this route, and with
 * which admin role".  docs/api.md documents the same table; a system test
 * checks every route listed there answers.
 *
 * API:	tly_routes[], tly_page_or_reply(), tly_list_or_reply(),
 *	tly_list_begin(), tly_list_end(), tly_core_err_or_reply().
 */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "routes.h"
#include "tly_str.h"

#define API	TLY_POOLS_API
#define HOOKS	TLY_POOLS_WEBHOOK
#define ADMIN	TLY_POOLS_ADMIN
#define ALL	(TLY_POOLS_API | TLY_POOLS_WEBHOOK | TLY_POOLS_ADMIN)
#define IDEM	1	/* an admin POST that honours Idempotency-Key
			   (and keeps it on its effect's row, idem.h) */

const tly_route tly_routes[] = {
	/* health: every pool answers it, so nginx can probe each */
	{ "GET", "/api/v1/health", API, TLY_PK_PUBLIC, 0, tly_h_health, 0 },
	{ "GET", "/api/v1/health/live", ALL, TLY_PK_PUBLIC, 0,
	    tly_h_health_live, 0 },
	{ "GET", "/api/v1/me", API, TLY_PK_BUYER | TLY_PK_SERVER, 0,
	    tly_h_me, 0 },

	/* the catalog: the marketplace's server manages it */
	{ "POST", "/api/v1/accounts", API, TLY_PK_SERVER, 0,
	    tly_h_accounts_create, 0 },
	{ "GET", "/api/v1/accounts", API, TLY_PK_SERVER, 0,
	    tly_h_accounts_list, 0 },
	{ "GET", "/api/v1/accounts/{id}", API, TLY_PK_SERVER, 0,
	    tly_h_accounts_get, 0 },
	{ "POST", "/api/v1/accounts/{id}/ambassador", API, TLY_PK_SERVER, 0,
	    tly_h_ambassador_set, 0 },
	{ "POST", "/api/v1/accounts/{id}/connect", API, TLY_PK_SERVER, 0,
	    tly_h_connect, 0 },
	{ "GET", "/api/v1/accounts/{id}/balance", API, TLY_PK_SERVER, 0,
	    tly_h_balance, 0 },
	{ "GET", "/api/v1/accounts/{id}/payouts", API, TLY_PK_SERVER, 0,
	    tly_h_payouts_list, 0 },
	{ "POST", "/api/v1/host_partners", API, TLY_PK_SERVER, 0,
	    tly_h_host_partner_create, 0 },
	{ "POST", "/api/v1/products", API, TLY_PK_SERVER, 0,
	    tly_h_products_create, 0 },
	{ "GET", "/api/v1/products", API, TLY_PK_SERVER | TLY_PK_BUYER, 0,
	    tly_h_products_list, 0 },
	{ "GET", "/api/v1/products/{id}", API, TLY_PK_SERVER | TLY_PK_BUYER, 0,
	    tly_h_products_get, 0 },
	{ "POST", "/api/v1/products/{id}", API, TLY_PK_SERVER, 0,
	    tly_h_products_update, 0 },

	/* checkout and completion: buyers; payments: the server */
	{ "GET", "/api/v1/checkout/config", API, TLY_PK_PUBLIC, 0,
	    tly_h_checkout_config, 0 },
	{ "POST", "/api/v1/checkout", API, TLY_PK_BUYER, 0,
	    tly_h_checkout_create, 0 },
	{ "GET", "/api/v1/checkout/{id}", API, TLY_PK_BUYER, 0,
	    tly_h_checkout_get, 0 },
	{ "POST", "/api/v1/payments/complete", API, TLY_PK_BUYER, 0,
	    tly_h_payments_complete, 0 },
	{ "GET", "/api/v1/payments/{id}", API, TLY_PK_SERVER, 0,
	    tly_h_payments_get, 0 },

	/* Stripe: the signature is the credential, checked by the handler */
	{ "POST", "/webhooks/stripe", HOOKS, TLY_PK_STRIPE, 0,
	    tly_h_webhook_platform, 0 },
	{ "POST", "/webhooks/stripe/connect", HOOKS, TLY_PK_STRIPE, 0,
	    tly_h_webhook_connect, 0 },

	/* admin sessions */
	{ "POST", "/admin/api/v1/login", ADMIN, TLY_PK_PUBLIC, 0,
	    tly_h_admin_login, 0 },
	{ "POST", "/admin/api/v1/logout", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_logout, 0 },
	{ "GET", "/admin/api/v1/me", ADMIN, TLY_PK_ADMIN, TLY_ROLE_VIEWER,
	    tly_h_admin_me, 0 },

	/* admin users and API keys: the admin role only */
	{ "GET", "/admin/api/v1/users", ADMIN, TLY_PK_ADMIN, TLY_ROLE_ADMIN,
	    tly_h_admin_users_list, 0 },
	{ "POST", "/admin/api/v1/users", ADMIN, TLY_PK_ADMIN, TLY_ROLE_ADMIN,
	    tly_h_admin_users_create, 0 },
	{ "GET", "/admin/api/v1/api_keys", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_ADMIN, tly_h_admin_keys_list, 0 },
	{ "POST", "/admin/api/v1/api_keys", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_ADMIN, tly_h_admin_keys_create, 0 },
	{ "POST", "/admin/api/v1/api_keys/{id}/revoke", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_ADMIN, tly_h_admin_keys_revoke, 0 },

	/* audit log: everyone in the panel may read it */
	{ "GET", "/admin/api/v1/audit", ADMIN, TLY_PK_ADMIN, TLY_ROLE_VIEWER,
	    tly_h_admin_audit_list, 0 },
	/* Prometheus' scrape: nginx's allow list, and [metrics] token */
	{ "GET", "/metrics", ADMIN, TLY_PK_PUBLIC, 0, tly_h_metrics, 0 },
	/* reconciliation with Stripe (core/reconcile.c) */
	{ "GET", "/admin/api/v1/reconciliation_reports", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_reconciliation_list, 0 },
	{ "GET", "/admin/api/v1/reconciliation_reports/{id}/lines", ADMIN,
	    TLY_PK_ADMIN, TLY_ROLE_VIEWER, tly_h_admin_reconciliation_lines,
	    0 },
	{ "POST", "/admin/api/v1/reconciliation_reports/{id}/lines/{line}/ack",
	    ADMIN, TLY_PK_ADMIN, TLY_ROLE_FINANCE,
	    tly_h_admin_reconciliation_ack, IDEM },

	/* refunds: support (up to its limit), finance and admin refund */
	{ "POST", "/admin/api/v1/payments/{id}/refunds", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_SUPPORT, tly_h_admin_refunds_create, IDEM },
	{ "GET", "/admin/api/v1/payments/{id}/refunds", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_refunds_list, 0 },
	/* payees' balances and payouts: everyone in the panel */
	{ "GET", "/admin/api/v1/accounts/{id}/balance", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_balance, 0 },
	{ "GET", "/admin/api/v1/accounts/{id}/payouts", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_payouts_list, 0 },
	/* advances: finance and admin grant, everyone reads */
	{ "POST", "/admin/api/v1/advances", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_FINANCE, tly_h_admin_advances_create, IDEM },
	{ "GET", "/admin/api/v1/advances", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_advances_list, 0 },

	/* the panel's lists, details and dashboard: everyone in the panel */
	{ "GET", "/admin/api/v1/payments", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_payments_list, 0 },
	{ "GET", "/admin/api/v1/payments/{id}", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_payment_get, 0 },
	{ "GET", "/admin/api/v1/accounts", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_accounts_list, 0 },
	{ "GET", "/admin/api/v1/accounts/{id}", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_account_get, 0 },
	{ "GET", "/admin/api/v1/payouts", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_payouts_list, 0 },
	{ "GET", "/admin/api/v1/payouts/deferred", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_payouts_deferred, 0 },
	{ "GET", "/admin/api/v1/webhook_events", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_events_list, 0 },
	{ "GET", "/admin/api/v1/webhook_events/{id}", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_event_get, 0 },
	{ "GET", "/admin/api/v1/webhook_refusals", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_refusals_list, 0 },
	{ "GET", "/admin/api/v1/emails", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_emails_list, 0 },
	{ "GET", "/admin/api/v1/reports/daily", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_report_daily, 0 },
	{ "GET", "/admin/api/v1/reports/top", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_report_top, 0 },
	{ "GET", "/admin/api/v1/reports/currencies", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_VIEWER, tly_h_admin_report_currencies, 0 },
	/* operators' actions, by role */
	{ "POST", "/admin/api/v1/payouts/{id}/retry", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_FINANCE, tly_h_admin_payout_retry, 0 },
	{ "POST", "/admin/api/v1/webhook_events/{id}/replay", ADMIN,
	    TLY_PK_ADMIN, TLY_ROLE_SUPPORT, tly_h_admin_event_replay, 0 },
	{ "POST", "/admin/api/v1/emails/{id}/retry", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_SUPPORT, tly_h_admin_email_retry, 0 },
	{ "POST", "/admin/api/v1/accounts/{id}/onboarding_link", ADMIN,
	    TLY_PK_ADMIN, TLY_ROLE_SUPPORT, tly_h_admin_onboarding_link, 0 },
	{ "POST", "/admin/api/v1/accounts/{id}/payout_threshold", ADMIN,
	    TLY_PK_ADMIN, TLY_ROLE_FINANCE, tly_h_admin_threshold_set, 0 },
	{ "POST", "/admin/api/v1/users/{id}/sessions/revoke", ADMIN,
	    TLY_PK_ADMIN, TLY_ROLE_ADMIN, tly_h_admin_user_sessions_revoke, 0 },
	{ "POST", "/admin/api/v1/sessions/revoke", ADMIN, TLY_PK_ADMIN,
	    TLY_ROLE_ADMIN, tly_h_admin_sessions_revoke, 0 },

	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* tly_page_or_reply - 'limit' and 'starting_after' from the query */
int
tly_page_or_reply(tly_req *r, tly_page *p)
{
	const char *lim;
	int64_t n = 0;
	tly_err e;

	memset(p, 0, sizeof(*p));
	tly_err_clear(&e);
	lim = tly_req_query(r, "limit");
	if (lim && (tly_parse_i64(lim, &n) != TLY_OK || n < 1 || n > 100))
		return tly_reply_errf(r, TLY_EK_INVALID, "parameter_invalid",
		    "limit must be an integer between 1 and 100.");
	p->limit = (int)n;
	p->starting_after = tly_req_query(r, "starting_after");
	if (tly_page_check(p, &e) != TLY_OK) {
		tly_reply_err(r, &e);
		return TLY_ERR;
	}
	return TLY_OK;
}

/*
 * tly_list_or_reply - every list route's one shape: read the page
 * (tly_page_or_reply), fetch it with 'fetch' (the core list call; it
 * leaves its rows in 'arg' and says how many in '*n', and whether more
 * follow in '*more'), then answer 200 {"object":"list","url":'url',
 * "data":[…],"has_more":…}, each element an object whose members 'row'
 * writes for row 'i' of 'arg'.  Either step's error is answered here;
 * the handler only returns what this returns.
 */
int
tly_list_or_reply(tly_req *r, const char *url, tly_list_fetch fetch,
    tly_list_row row, void *arg)
{
	int n = 0, more = 0, i;
	tly_page pg;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_page_or_reply(r, &pg) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, fetch(r, &pg, arg, &n, &more, &e), &e) !=
	    TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 8 << 20);
	tly_jw_init(&w, &b);
	tly_list_begin(&w, url);
	for (i = 0; i < n; i++) {
		tly_jw_obj(&w, NULL);
		row(&w, arg, i);
		tly_jw_end(&w);
	}
	tly_list_end(&w, more);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_list_begin - {"object":"list","url":…,"data":[ */
void
tly_list_begin(tly_jw *w, const char *url)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "list");
	tly_jw_str(w, "url", url);
	tly_jw_arr(w, "data");
}

/* tly_list_end - ],"has_more":…} */
void
tly_list_end(tly_jw *w, int more)
{
	tly_jw_end(w);
	tly_jw_bool(w, "has_more", more);
	tly_jw_end(w);
}

/*
 * tly_core_err_or_reply - when a core call failed ('rc' non-zero),
 * answer its error and return TLY_ERR; else TLY_OK.
 */
int
tly_core_err_or_reply(tly_req *r, int rc, tly_err *e)
{
	if (rc == TLY_OK)
		return TLY_OK;
	if (e->kind == TLY_EK_NONE)
		tly_err_internal(e);
	if (rc == TLY_AGAIN && e->kind == TLY_EK_CONFLICT)
		tly_err_set(e, TLY_EK_CONFLICT, "retry",
		    "The request conflicted with another; retry it.");
	tly_reply_err(r, e);
	return TLY_ERR;
}

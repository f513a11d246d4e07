/*
 * routes_admin_report.c - the admin panel's lists, details, dashboard
 * and operator actions (docs/api.md, "The admin panel")
 *
 * Reads come from core/report.c as typed row sets and are rendered here
 * the same way for every list ({"object":"list","data":[…],"has_more"});
 * actions call the operation the CLI calls too (tly_webhook_replay,
 * tly_outbox_retry, tly_payout_retry), which audit who did it in the
 * transaction of the change.
 * The route table (routes.c) sets each route's minimum role.
 *
 * API:	tly_h_admin_payments_list(), tly_h_admin_payment_get(),
 *	tly_h_admin_accounts_list(), tly_h_admin_account_get(),
 *	tly_h_admin_payouts_list(), tly_h_admin_payout_retry(),
 *	tly_h_admin_events_list(), tly_h_admin_event_get(),
 *	tly_h_admin_event_replay(), tly_h_admin_refusals_list(),
 *	tly_h_admin_emails_list(), tly_h_admin_email_retry(),
 *	tly_h_admin_report_daily(), tly_h_admin_report_top(),
 *	tly_h_admin_report_currencies(),
 *	tly_h_admin_user_sessions_revoke(),
 *	tly_h_admin_sessions_revoke(), tly_h_admin_onboarding_link(),
 *	tly_h_admin_threshold_set().
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "balances.h"
#include "catalog.h"
#include "onboarding.h"
#include "outbox.h"
#include "payout.h"
#include "payout_retry.h"
#include "report.h"
#include "report_currencies.h"
#include "routes.h"
#include "tly_str.h"
#include "webhook.h"

static const tly_jfield no_fields[] = {
	{ NULL, 0, 0 }
};

/* render_cells - the columns of row 'row' of 'rs' as members of 'w' */
static void
render_cells(tly_jw *w, const tly_rset *rs, int row)
{
	size_t k;
	int c;

	for (c = 0; c < rs->ncols; c++) {
		k = (size_t)row * (size_t)rs->ncols + (size_t)c;
		if (rs->null[k])
			tly_jw_null(w, rs->cols[c].name);
		else if (rs->cols[c].type == TLY_RT_STR)
			tly_jw_str(w, rs->cols[c].name, rs->s[k]);
		else if (rs->cols[c].type == TLY_RT_BOOL)
			tly_jw_bool(w, rs->cols[c].name, rs->i[k] != 0);
		else
			tly_jw_int(w, rs->cols[c].name, rs->i[k]);
	}
}

/* render_rows - array member 'k' (NULL: an element) of 'rs's rows */
static void
render_rows(tly_jw *w, const char *k, const tly_rset *rs)
{
	int i;

	tly_jw_arr(w, k);
	for (i = 0; i < rs->nrows; i++) {
		tly_jw_obj(w, NULL);
		tly_jw_str(w, "object", rs->object);
		render_cells(w, rs, i);
		tly_jw_end(w);
	}
	tly_jw_end(w);
}

/* filters - the list filters of the query string */
static void
filters(tly_req *r, tly_rfilter *f)
{
	memset(f, 0, sizeof(*f));
	f->status = tly_req_query(r, "status");
	f->state = tly_req_query(r, "state");
	f->currency = tly_req_query(r, "currency");
	f->product = tly_req_query(r, "product");
	f->payee = tly_req_query(r, "payee");
	f->buyer = tly_req_query(r, "buyer");
	f->account = tly_req_query(r, "account");
	f->kind = tly_req_query(r, "kind");
	f->type = tly_req_query(r, "type");
	f->connect = tly_req_query(r, "connect");
	f->flagged = tly_req_query(r, "flagged");
	f->q = tly_req_query(r, "q");
	f->created_gte = tly_req_query(r, "created_gte");
	f->created_lte = tly_req_query(r, "created_lte");
	f->amount_gte = tly_req_query(r, "amount_gte");
	f->amount_lte = tly_req_query(r, "amount_lte");
	f->since = tly_req_query(r, "since");
}

typedef int (*list_fn)(tly_ctx *, const tly_rfilter *, const tly_page *,
    tly_rset *, tly_err *);

/* a report list's call: its function, filters and rows */
typedef struct rlist {
	list_fn		 fn;
	tly_rfilter	 f;
	tly_rset	 rs;
} rlist;

/* rlist_fetch - fetch a page with the list's function */
static int
rlist_fetch(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	rlist *l = arg;
	int rc;

	rc = l->fn(r->ctx, &l->f, pg, &l->rs, e);
	if (rc == TLY_OK) {
		*n = l->rs.nrows;
		*more = l->rs.more;
	}
	return rc;
}

/* rlist_row - row 'i' of the list's rows */
static void
rlist_row(tly_jw *w, const void *arg, int i)
{
	const rlist *l = arg;

	tly_jw_str(w, "object", l->rs.object);
	render_cells(w, &l->rs, i);
}

/* list_with - the list 'url' answered from 'fn' with filters 'l->f' */
static int
list_with(tly_req *r, const char *url, list_fn fn, rlist *l)
{
	l->fn = fn;
	return tly_list_or_reply(r, url, rlist_fetch, rlist_row, l);
}

/* list - a filtered, paged list answered from 'fn' */
static int
list(tly_req *r, const char *url, list_fn fn)
{
	rlist l;

	memset(&l, 0, sizeof(l));
	filters(r, &l.f);
	return list_with(r, url, fn, &l);
}

/* tly_h_admin_payments_list - GET /admin/api/v1/payments */
int
tly_h_admin_payments_list(tly_req *r)
{
	return list(r, "/admin/api/v1/payments", tly_report_payments);
}

/* tly_h_admin_payment_get - GET /admin/api/v1/payments/{id} */
int
tly_h_admin_payment_get(tly_req *r)
{
	tly_rpayment p;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_payment(r->ctx, r->cap[0], &p,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 8 << 20);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "payment");
	render_cells(&w, &p.payment, 0);
	tly_jw_int(&w, "remaining_cent", p.remaining_cent);
	tly_jw_int(&w, "refund_support_limit_cent", p.support_limit_cent);
	render_rows(&w, "shares", &p.shares);
	render_rows(&w, "refunds", &p.refunds);
	render_rows(&w, "disputes", &p.disputes);
	render_rows(&w, "payouts", &p.payouts);
	render_rows(&w, "webhook_events", &p.events);
	render_rows(&w, "audit", &p.audit);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_accounts_list - GET /admin/api/v1/accounts */
int
tly_h_admin_accounts_list(tly_req *r)
{
	return list(r, "/admin/api/v1/accounts", tly_report_accounts);
}

/* tly_h_admin_account_get - GET /admin/api/v1/accounts/{id} */
int
tly_h_admin_account_get(tly_req *r)
{
	tly_balance bal[TLY_MAX_BALANCES];
	tly_raccount a;
	int n;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_account(r->ctx, r->cap[0], &a,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	if (tly_core_err_or_reply(r, tly_balances_get(r->ctx, r->cap[0], bal,
	    &n, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4 << 20);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "account");
	render_cells(&w, &a.account, 0);
	tly_render_balances(&w, bal, n);
	render_rows(&w, "payouts", &a.payouts);
	render_rows(&w, "advances", &a.advances);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_payouts_list - GET /admin/api/v1/payouts */
int
tly_h_admin_payouts_list(tly_req *r)
{
	return list(r, "/admin/api/v1/payouts", tly_report_payouts);
}

/* tly_h_admin_payout_retry - POST /admin/api/v1/payouts/{id}/retry */
int
tly_h_admin_payout_retry(tly_req *r)
{
	char acc[40];
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_payout_retry(r->ctx, &r->principal,
	    r->cap[0], acc, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "payout_retry");
	tly_jw_str(&w, "payout_id", r->cap[0]);
	tly_jw_str(&w, "account_id", acc);
	tly_jw_str(&w, "status", "scheduled");
	tly_jw_end(&w);
	tly_reply_jw(r, 202, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_events_list - GET /admin/api/v1/webhook_events */
int
tly_h_admin_events_list(tly_req *r)
{
	rlist l;

	memset(&l, 0, sizeof(l));
	filters(r, &l.f);
	l.f.created_gte = tly_req_query(r, "received_gte");
	l.f.created_lte = tly_req_query(r, "received_lte");
	return list_with(r, "/admin/api/v1/webhook_events", tly_report_events,
	    &l);
}

/* reply_one - 200 with row 0 of 'rs' */
static int
reply_one(tly_req *r, const tly_rset *rs)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 20 << 20);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", rs->object);
	render_cells(&w, rs, 0);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_event_get - GET /admin/api/v1/webhook_events/{id} */
int
tly_h_admin_event_get(tly_req *r)
{
	tly_rset rs;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_event(r->ctx, r->cap[0], &rs,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_one(r, &rs);
}

/*
 * tly_h_admin_event_replay - POST /admin/api/v1/webhook_events/{id}/replay:
 * act on a failed or dead event again now (as `tallyctl webhook replay`)
 */
int
tly_h_admin_event_replay(tly_req *r)
{
	tly_webhook_result res;
	const char *status = NULL;
	tly_rset rs;
	tly_err e;
	int c, rc;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_event(r->ctx, r->cap[0], &rs,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	for (c = 0; c < rs.ncols; c++)
		if (strcmp(rs.cols[c].name, "status") == 0)
			status = rs.s[c];
	if (status == NULL || (strcmp(status, "failed") != 0 &&
	    strcmp(status, "dead") != 0))
		return tly_reply_errf(r, TLY_EK_CONFLICT,
		    "event_not_replayable",
		    "Only a failed or dead event is replayed.");
	memset(&res, 0, sizeof(res));
	rc = tly_webhook_replay(r->ctx, &r->principal, r->cap[0], &res, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_event(r->ctx, r->cap[0], &rs,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_one(r, &rs);
}

/* tly_h_admin_refusals_list - GET /admin/api/v1/webhook_refusals */
int
tly_h_admin_refusals_list(tly_req *r)
{
	return list(r, "/admin/api/v1/webhook_refusals", tly_report_refusals);
}

/* tly_h_admin_emails_list - GET /admin/api/v1/emails */
int
tly_h_admin_emails_list(tly_req *r)
{
	return list(r, "/admin/api/v1/emails", tly_report_emails);
}

/* tly_h_admin_email_retry - POST /admin/api/v1/emails/{id}/retry */
int
tly_h_admin_email_retry(tly_req *r)
{
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_outbox_retry(r->ctx, &r->principal,
	    r->cap[0], &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "email");
	tly_jw_str(&w, "id", r->cap[0]);
	tly_jw_str(&w, "state", "queued");
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* report - the dashboard's numbers ('what': TLY_REPORT_*) */
static int
report(tly_req *r, int what)
{
	tly_rdaily d;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_daily(r->ctx,
	    tly_req_query(r, "currency"), tly_req_query(r, "from"),
	    tly_req_query(r, "to"), what, &d, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4 << 20);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", what == TLY_REPORT_TOP ? "top_report" :
	    "daily_report");
	tly_jw_str(&w, "currency", d.currency);
	tly_jw_str(&w, "from", d.from);
	tly_jw_str(&w, "to", d.to);
	if (what & TLY_REPORT_DAYS)
		render_rows(&w, "days", &d.days);
	if (what & TLY_REPORT_TOP) {
		render_rows(&w, "top_products", &d.top_products);
		render_rows(&w, "top_payees", &d.top_payees);
	}
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_report_daily - GET /admin/api/v1/reports/daily */
int
tly_h_admin_report_daily(tly_req *r)
{
	return report(r, TLY_REPORT_DAYS);
}

/* tly_h_admin_report_top - GET /admin/api/v1/reports/top */
int
tly_h_admin_report_top(tly_req *r)
{
	return report(r, TLY_REPORT_TOP);
}

/*
 * tly_h_admin_report_currencies - GET /admin/api/v1/reports/currencies:
 * the configured currencies with data, most volume first (not paged:
 * the configuration's few)
 */
int
tly_h_admin_report_currencies(tly_req *r)
{
	tly_report_currency c[TLY_MAX_CURRENCIES];
	const tly_currency *conf;
	int n, i;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_report_currencies(r->ctx, c, &n, &e),
	    &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 64 << 10);
	tly_jw_init(&w, &b);
	tly_list_begin(&w, "/admin/api/v1/reports/currencies");
	for (i = 0; i < n; i++) {
		conf = tly_config_currency(r->ctx->cfg, c[i].currency);
		tly_jw_obj(&w, NULL);
		tly_jw_str(&w, "object", "report_currency");
		tly_jw_str(&w, "currency", c[i].currency);
		tly_jw_int(&w, "exponent", conf ? conf->exponent : 2);
		tly_jw_int(&w, "volume_30d_cent", c[i].volume_cent);
		tly_jw_end(&w);
	}
	tly_list_end(&w, 0);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* revoked - 200 {"object":"session_revocation","user_id","revoked":n} */
static int
revoked(tly_req *r, const char *user, uint64_t n)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "session_revocation");
	tly_jw_str(&w, "user_id", user);
	tly_jw_int(&w, "revoked", (int64_t)n);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/*
 * tly_h_admin_user_sessions_revoke - POST
 * /admin/api/v1/users/{id}/sessions/revoke: log that user out everywhere
 * (the caller too, when it is the caller)
 */
int
tly_h_admin_user_sessions_revoke(tly_req *r)
{
	uint64_t n;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_admin_sessions_revoke(r->ctx,
	    &r->principal, r->cap[0], NULL, &n, &e), &e) != TLY_OK)
		return TLY_ERR;
	return revoked(r, r->cap[0], n);
}

/*
 * tly_h_admin_sessions_revoke - POST /admin/api/v1/sessions/revoke: log
 * every admin out everywhere, except the caller's own session
 */
int
tly_h_admin_sessions_revoke(tly_req *r)
{
	const char *tok;
	uint64_t n;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	tok = tly_req_cookie(r, TLY_SESSION_COOKIE);
	if (tly_core_err_or_reply(r, tly_admin_sessions_revoke(r->ctx,
	    &r->principal, NULL, tok ? tok : "", &n, &e), &e) != TLY_OK)
		return TLY_ERR;
	return revoked(r, NULL, n);
}

/*
 * tly_h_admin_onboarding_link - POST
 * /admin/api/v1/accounts/{id}/onboarding_link: a fresh link, emailed to
 * the payee when it has an address
 */
int
tly_h_admin_onboarding_link(tly_req *r)
{
	char to[256];
	tly_connect c;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_onboarding_resend(r->ctx,
	    &r->principal, r->cap[0], &c, to, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "connect_onboarding");
	tly_jw_str(&w, "account_id", c.account_id);
	tly_jw_str(&w, "connect_account_id", c.connect_account_id);
	tly_jw_str(&w, "onboarding_url", c.onboarding_url);
	tly_jw_int(&w, "onboarding_expires_at", c.onboarding_expires_at);
	tly_jw_bool(&w, "payouts_enabled", c.payouts_enabled);
	tly_jw_str(&w, "emailed_to", to[0] ? to : NULL);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

static const tly_jfield threshold_fields[] = {
	{ "payout_threshold_cent", TLY_JF_INT | TLY_JF_NULL | TLY_JF_REQUIRED,
	    0 },
	{ NULL, 0, 0 }
};

/*
 * tly_h_admin_threshold_set - POST
 * /admin/api/v1/accounts/{id}/payout_threshold {payout_threshold_cent}:
 * the payee's own threshold, or null for the currency's
 */
int
tly_h_admin_threshold_set(tly_req *r)
{
	int64_t cent = -1;
	tly_err e;

	if (tly_req_json_or_reply(r, threshold_fields) != TLY_OK)
		return TLY_ERR;
	if (tly_json_get(r->json, "payout_threshold_cent")->type != TLY_JNULL &&
	    (tly_json_i64(r->json, "payout_threshold_cent", &cent) != TLY_OK ||
	    cent < 0))
		return tly_reply_errf(r, TLY_EK_INVALID, "parameter_invalid",
		    "payout_threshold_cent must be an integer >= 0, or null.");
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_account_threshold_set(r->ctx,
	    &r->principal, r->cap[0], cent, &e), &e) != TLY_OK)
		return TLY_ERR;
	return tly_h_admin_account_get(r);
}

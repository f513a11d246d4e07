/*
 * routes_payout.c - Connect onboarding, balances and payouts of accounts
 *
 * The marketplace's server starts a payee's onboarding and reads its
 * balances and payouts; the admin panel (any role) reads the same.
 * Parsing and rendering only: the rules are in core/connect.c and
 * core/payout.c.
 *
 * GET /admin/api/v1/payouts/deferred lists why the latest payout run
 * left each payee's money unpaid (core/payout_defer.c).
 *
 * API:	tly_h_connect(), tly_h_balance(), tly_h_payouts_list(),
 *	tly_h_admin_payouts_deferred(), tly_render_balances().
 */
#include <stdio.h>
#include <string.h>

#include "balances.h"
#include "payout.h"
#include "routes.h"
#include "tly_str.h"

static const tly_jfield no_fields[] = {
	{ NULL, 0, 0 }
};

/* due_array - "a,b,c" as a JSON array member 'k' */
static void
due_array(tly_jw *w, const char *k, const char *list)
{
	const char *p = list, *c;

	tly_jw_arr(w, k);
	while (*p) {
		c = strchr(p, ',');
		if (c == NULL)
			c = p + strlen(p);
		if (c > p)
			tly_jw_strn(w, NULL, p, (size_t)(c - p));
		p = *c ? c + 1 : c;
	}
	tly_jw_end(w);
}

/* tly_h_connect - POST /api/v1/accounts/{id}/connect */
int
tly_h_connect(tly_req *r)
{
	tly_connect c;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, no_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_connect_onboard(r->ctx, &r->principal,
	    r->cap[0], &c, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "connect_onboarding");
	tly_jw_str(&w, "account_id", c.account_id);
	tly_jw_str(&w, "connect_account_id", c.connect_account_id);
	tly_jw_str(&w, "onboarding_url", c.onboarding_url);
	tly_jw_int(&w, "onboarding_expires_at", c.onboarding_expires_at);
	tly_jw_bool(&w, "charges_enabled", c.charges_enabled);
	tly_jw_bool(&w, "payouts_enabled", c.payouts_enabled);
	due_array(&w, "requirements_due", c.requirements_due);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_render_balances - array member "balances": the 'n' of 'bal' */
void
tly_render_balances(tly_jw *w, const tly_balance *bal, int n)
{
	int i;

	tly_jw_arr(w, "balances");
	for (i = 0; i < n; i++) {
		tly_jw_obj(w, NULL);
		tly_jw_str(w, "currency", bal[i].currency);
		tly_jw_int(w, "pending_cent", bal[i].pending_cent);
		tly_jw_int(w, "payable_cent", bal[i].payable_cent);
		tly_jw_int(w, "owed_back_cent", bal[i].owed_back_cent);
		tly_jw_int(w, "in_transit_cent", bal[i].in_transit_cent);
		tly_jw_int(w, "paid_cent", bal[i].paid_cent);
		tly_jw_int(w, "advance_balance_cent",
		    bal[i].advance_balance_cent);
		tly_jw_end(w);
	}
	tly_jw_end(w);
}

/* tly_h_balance - GET /api/v1/accounts/{id}/balance (and the admin's) */
int
tly_h_balance(tly_req *r)
{
	tly_balance bal[TLY_MAX_BALANCES];
	int n;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_balances_get(r->ctx, r->cap[0], bal,
	    &n, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 64 << 10);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "account_balance");
	tly_jw_str(&w, "account_id", r->cap[0]);
	tly_render_balances(&w, bal, n);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* payouts - fetch a page of the account's payouts into '*arg' */
static int
payouts(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	return tly_payouts_list(r->ctx, r->cap[0], pg, arg, n, more, e);
}

/* payout_row - payout 'i' of '*arg' */
static void
payout_row(tly_jw *w, const void *arg, int i)
{
	const tly_payout *p = *(tly_payout *const *)arg + i;

	tly_jw_str(w, "object", "payout");
	tly_jw_str(w, "id", p->id);
	tly_jw_str(w, "account_id", p->account_id);
	tly_jw_int(w, "amount_cent", p->amount_cent);
	tly_jw_str(w, "currency", p->currency);
	tly_jw_str(w, "state", p->state);
	tly_jw_str(w, "transfer_id", p->transfer_id[0] ? p->transfer_id :
	    NULL);
	tly_jw_int(w, "reversed_cent", p->reversed_cent);
	tly_jw_int(w, "share_rows", p->rows);
	tly_jw_str(w, "failure_code", p->last_error[0] ? p->last_error :
	    NULL);
	tly_jw_int(w, "created", p->created);
	if (p->paid_at)
		tly_jw_int(w, "paid_at", p->paid_at);
	else
		tly_jw_null(w, "paid_at");
}

/* tly_h_payouts_list - GET /api/v1/accounts/{id}/payouts (and admin's) */
int
tly_h_payouts_list(tly_req *r)
{
	tly_payout *rows = NULL;

	return tly_list_or_reply(r, r->path, payouts, payout_row, &rows);
}

/* the reasons payout_defer.c records, as the filter accepts them */
static const char *const reasons[] = { "no_connect_account",
    "payouts_disabled", "retry_backoff", "refund_or_dispute", "hold_period",
    "below_threshold", "balance_short", NULL };

/* deferrals - fetch a page of deferred payees (?reason= ?currency=) */
static int
deferrals(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	const char *why = tly_req_query(r, "reason"), *want = NULL;
	const char *cur = tly_req_query(r, "currency");
	int i;

	if (why) {
		for (i = 0; reasons[i]; i++)
			if (strcmp(why, reasons[i]) == 0)
				want = reasons[i];
		if (want == NULL)
			return tly_err_param(e, TLY_EK_INVALID,
			    "parameter_invalid", "reason", "reason must be one "
			    "of no_connect_account, payouts_disabled, "
			    "retry_backoff, refund_or_dispute, hold_period, "
			    "below_threshold, balance_short.");
	}
	if (cur && (strlen(cur) != 3 || strspn(cur,
	    "abcdefghijklmnopqrstuvwxyz") != 3))
		return tly_err_param(e, TLY_EK_INVALID, "parameter_invalid",
		    "currency", "currency must be a lowercase ISO 4217 code.");
	return tly_payout_deferrals_list(r->ctx, want, cur, pg, arg, n, more,
	    e);
}

/* deferral_row - deferred payee 'i' of '*arg' */
static void
deferral_row(tly_jw *w, const void *arg, int i)
{
	const tly_payout_deferral *d = *(tly_payout_deferral *const *)arg + i;
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)d->id);
	tly_jw_str(w, "object", "payout_deferral");
	tly_jw_str(w, "id", id);
	tly_jw_str(w, "account_id", d->account_id);
	tly_jw_str(w, "account_name", d->account_name[0] ? d->account_name :
	    NULL);
	tly_jw_str(w, "currency", d->currency);
	tly_jw_str(w, "reason", d->reason);
	tly_jw_int(w, "amount_cent", d->amount_cent);
	tly_jw_int(w, "payable_cent", d->payable_cent);
	tly_jw_int(w, "threshold_cent", d->threshold_cent);
	tly_jw_int(w, "since", d->since);
	tly_jw_int(w, "last_run_at", d->last_run_at);
}

/* tly_h_admin_payouts_deferred - GET /admin/api/v1/payouts/deferred */
int
tly_h_admin_payouts_deferred(tly_req *r)
{
	tly_payout_deferral *rows = NULL;

	return tly_list_or_reply(r, "/admin/api/v1/payouts/deferred",
	    deferrals, deferral_row, &rows);
}

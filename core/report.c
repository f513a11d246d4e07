/*
 * report.c - the admin panel's lists and details: filtered lists, a
 * payment's and an account's whole story (report.h; the dashboard is
 * report_daily.c)
 *
 * Writes nothing: the tables belong to the modules that write them
 * (complete.c, refund.c, dispute.c, payout.c, advance.c, webhook.c,
 * outbox.c, catalog.c, auth.c).  Every statement is bounded:
 *
 *   lists     one index range scan from the cursor (ids are time-ordered,
 *             ORDER BY id DESC LIMIT n + 1 tells has_more), filters as
 *             bound parameters; a payee filter alone reads the payee's
 *             share rows by shares' (account_id, payment_id) index from
 *             the cursor down, with other filters it is a semi-join; the
 *             search ?q= looks a payment up by one of its unique ids, or
 *             a buyer's email by its index (schema/016_admin_reports.sql);
 *   events    webhook events carry Stripe's ids (not time-ordered): they
 *             page by (received_at, id) on their own index;
 *   details   keyed lookups of one payment's or account's rows, each
 *             capped (DETAIL_MAX).
 *
 * Statements are built and run by qb.c; rows land in a tly_rset in the
 * request's pool, a column table per list naming and typing its columns
 * in SELECT order.
 *
 * API:	tly_report_payments(), tly_report_payment(), tly_report_accounts(),
 *	tly_report_account(), tly_report_payouts(), tly_report_events(),
 *	tly_report_event(), tly_report_refusals(), tly_report_emails().
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "payout.h"
#include "report.h"
#include "tly_buf.h"
#include "tly_str.h"
#include "tx.h"

#define S		TLY_RT_STR
#define I		TLY_RT_INT
#define B		TLY_RT_BOOL
#define NCOLS(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define DETAIL_MAX	200
#define TS(c)		"FLOOR(UNIX_TIMESTAMP(" c "))"

/* --- parameters ---------------------------------------------------- */

/* opt_i64 - parameter 'name' ('v', may be NULL) as an integer >= 0 */
static int
opt_i64(const char *v, const char *name, int64_t *out, tly_err *err)
{
	if (v == NULL)
		return TLY_NOTFOUND;
	if (tly_parse_i64(v, out) != TLY_OK || *out < 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s must be a non-negative integer.", name);
	return TLY_OK;
}

/* opt_word - 'v' is an id, a state or a type: [A-Za-z0-9_.], 1..96 */
static int
opt_word(const char *v, const char *name, tly_err *err)
{
	const char *s;

	if (v == NULL)
		return TLY_NOTFOUND;
	for (s = v; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '.'))
			break;
	if (*s || s == v || s - v > 96)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s is not valid.", name);
	return TLY_OK;
}

/*
 * filter_eq - " AND <col> = ?" for word parameter 'v' when present;
 * TLY_OK, or the error of a malformed value
 */
static int
filter_eq(tly_qb *b, const char *col, const char *v, const char *name,
    tly_err *err)
{
	int rc = opt_word(v, name, err);

	if (rc == TLY_NOTFOUND)
		return TLY_OK;
	if (rc)
		return rc;
	tly_qb_add(b, " AND ");
	tly_qb_add(b, col);
	tly_qb_add(b, " = ?");
	tly_qb_s(b, v);
	return TLY_OK;
}

/* filter_range - " AND <expr> >= ?" / " <= ?" for integer parameters */
static int
filter_range(tly_qb *b, const char *ge, const char *le, const char *vge,
    const char *vle, const char *nge, const char *nle, tly_err *err)
{
	int64_t v;
	int rc;

	rc = opt_i64(vge, nge, &v, err);
	if (rc == TLY_OK) {
		tly_qb_add(b, ge);
		tly_qb_i(b, v);
	} else if (rc != TLY_NOTFOUND)
		return rc;
	rc = opt_i64(vle, nle, &v, err);
	if (rc == TLY_OK) {
		tly_qb_add(b, le);
		tly_qb_i(b, v);
	} else if (rc != TLY_NOTFOUND)
		return rc;
	return TLY_OK;
}

/* page_tail - " AND <idcol> < ? ORDER BY <idcol> DESC LIMIT ?" */
static int
page_tail(tly_qb *b, const char *idcol, const tly_page *p, tly_err *err)
{
	tly_page pg = *p;
	int rc;

	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	tly_qb_add(b, " AND ");
	tly_qb_add(b, idcol);
	tly_qb_add(b, " < ? ORDER BY ");
	tly_qb_add(b, idcol);
	tly_qb_add(b, " DESC LIMIT ?");
	tly_qb_s(b, tly_page_cursor(&pg));
	tly_qb_i(b, pg.limit + 1);
	return TLY_OK;
}

/* --- payments -------------------------------------------------------- */

static const tly_rcol pay_cols[] = {
	{ "id", S }, { "checkout_id", S }, { "payment_intent_id", S },
	{ "charge_id", S }, { "amount_cent", I }, { "currency", S },
	{ "status", S }, { "refunded_cent", I },
	{ "requested_refund_cent", I }, { "disputed_cent", I },
	{ "stripe_fee_estimate_cent", I }, { "stripe_fee_actual_cent", I },
	{ "completed_via", S }, { "product_id", S }, { "product_name", S },
	{ "buyer_account_id", S }, { "buyer_email", S }, { "created", I },
};

#define PAY_COLS \
	"SELECT p.id, p.checkout_id, p.pi_id, p.charge_id, p.amount_cent, " \
	"p.currency, p.status, p.refunded_cent, p.requested_refund_cent, " \
	"p.disputed_cent, p.stripe_fee_estimate_cent, " \
	"p.stripe_fee_actual_cent, p.completed_via, c.product_id, pr.name, " \
	"c.buyer_account_id, COALESCE(c.receipt_email, ba.email), " \
	TS("p.created_at")
#define PAY_JOINS \
	" LEFT JOIN checkouts c ON c.id = p.checkout_id " \
	"LEFT JOIN products pr ON pr.id = c.product_id " \
	"LEFT JOIN accounts ba ON ba.id = c.buyer_account_id WHERE 1 = 1"

/* search - ?q=: one of the payment's ids by its prefix, or an email */
static int
search(tly_qb *b, const char *q, tly_err *err)
{
	static const struct {
		const char	*prefix;
		const char	*col;
	} by[] = {
		{ "pay_", "p.id" }, { "chk_", "p.checkout_id" },
		{ "pi_", "p.pi_id" }, { "ch_", "p.charge_id" },
		{ "py_", "p.charge_id" },
	};
	size_t k, len = strlen(q);

	if (len > 254)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "q", "q is too long.");
	if (strchr(q, '@') != NULL) {
		tly_qb_add(b, " AND (c.receipt_email = ? OR "
		    "c.buyer_account_id IN (SELECT id FROM accounts WHERE "
		    "email = ?))");
		tly_qb_s(b, q);
		tly_qb_s(b, q);
		return TLY_OK;
	}
	for (k = 0; k < sizeof(by) / sizeof(by[0]); k++) {
		if (strncmp(q, by[k].prefix, strlen(by[k].prefix)) != 0)
			continue;
		if (opt_word(q, "q", err) != TLY_OK)
			return TLY_ERR;
		tly_qb_add(b, " AND ");
		tly_qb_add(b, by[k].col);
		tly_qb_add(b, " = ?");
		tly_qb_s(b, q);
		return TLY_OK;
	}
	return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid", "q",
	    "q must be a pay_, chk_, pi_ or ch_ id, or an email address.");
}

/*
 * payee_only - 'f' filters by payee and nothing else: the page is the
 * payee's share rows read from the cursor down by shares_payee
 * (account_id, payment_id), its distinct payments the first n + 1
 * (schema/019); with other filters it stays a semi-join
 */
static int
payee_only(const tly_rfilter *f)
{
	return f->payee && !f->status && !f->currency && !f->product &&
	    !f->buyer && !f->created_gte && !f->created_lte &&
	    !f->amount_gte && !f->amount_lte && !(f->q && *f->q);
}

/* tly_report_payments - payments matching 'f', newest first */
int
tly_report_payments(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_page pg = *p;
	tly_qb b;
	int rc;

	if (payee_only(f)) {
		rc = opt_word(f->payee, "payee", err);
		if (rc == TLY_OK)
			rc = tly_page_check(&pg, err);
		if (rc)
			return rc;
		tly_qb_init(&b, PAY_COLS " FROM (SELECT DISTINCT payment_id "
		    "FROM shares WHERE account_id = ? AND payment_id < ? "
		    "ORDER BY payment_id DESC LIMIT ?) ps JOIN payments p ON "
		    "p.id = ps.payment_id" PAY_JOINS " ORDER BY p.id DESC");
		tly_qb_s(&b, f->payee);
		tly_qb_s(&b, tly_page_cursor(&pg));
		tly_qb_i(&b, pg.limit + 1);
		return tly_qb_run(ctx, &b, "payment", pay_cols,
		    NCOLS(pay_cols), tly_qb_limit(p), rs, err);
	}
	tly_qb_init(&b, PAY_COLS " FROM payments p" PAY_JOINS);
	rc = filter_eq(&b, "p.status", f->status, "status", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "p.currency", f->currency, "currency", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "c.product_id", f->product, "product", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "c.buyer_account_id", f->buyer, "buyer",
		    err);
	if (rc == TLY_OK && opt_word(f->payee, "payee", err) == TLY_OK) {
		tly_qb_add(&b, " AND p.id IN (SELECT payment_id FROM shares "
		    "WHERE account_id = ?)");
		tly_qb_s(&b, f->payee);
	} else if (rc == TLY_OK && f->payee)
		rc = TLY_ERR;
	if (rc == TLY_OK)
		rc = filter_range(&b, " AND p.created_at >= FROM_UNIXTIME(?)",
		    " AND p.created_at <= FROM_UNIXTIME(?)", f->created_gte,
		    f->created_lte, "created_gte", "created_lte", err);
	if (rc == TLY_OK)
		rc = filter_range(&b, " AND p.amount_cent >= ?",
		    " AND p.amount_cent <= ?", f->amount_gte, f->amount_lte,
		    "amount_gte", "amount_lte", err);
	if (rc == TLY_OK && f->q && *f->q)
		rc = search(&b, f->q, err);
	if (rc == TLY_OK)
		rc = page_tail(&b, "p.id", p, err);
	if (rc) {
		tly_buf_free(&b.sql);
		return rc;
	}
	return tly_qb_run(ctx, &b, "payment", pay_cols, NCOLS(pay_cols),
	    tly_qb_limit(p), rs, err);
}

static const tly_rcol share_cols[] = {
	{ "id", I }, { "role", S }, { "account_id", S }, { "kind", S },
	{ "amount_cent", I }, { "currency", S }, { "status", S },
	{ "cause_id", S }, { "payout_id", S }, { "created", I },
};

static const tly_rcol refund_cols[] = {
	{ "id", S }, { "amount_cent", I }, { "currency", S },
	{ "origin", S }, { "reason", S }, { "requested_by", S },
	{ "state", S }, { "booked", B }, { "stripe_refund_id", S },
	{ "last_error", S }, { "created", I },
};

static const tly_rcol dispute_cols[] = {
	{ "id", S }, { "amount_cent", I }, { "currency", S },
	{ "status", S }, { "reason", S }, { "withdrawn_cent", I },
	{ "fee_cent", I }, { "created", I }, { "closed", I },
};

static const tly_rcol payout_cols[] = {
	{ "id", S }, { "account_id", S }, { "account_name", S },
	{ "currency", S }, { "amount_cent", I }, { "reversed_cent", I },
	{ "state", S }, { "transfer_id", S }, { "failure_code", S },
	{ "created", I }, { "paid_at", I },
};

#define PAYOUT_SELECT \
	"SELECT po.id, po.account_id, a.display_name, po.currency, " \
	"po.amount_cent, po.reversed_cent, po.state, po.stripe_transfer_id, " \
	"po.last_error, " TS("po.created_at") ", " TS("po.paid_at") \
	" FROM payouts po JOIN accounts a ON a.id = po.account_id WHERE 1 = 1"

static const tly_rcol event_cols[] = {
	{ "id", S }, { "endpoint", S }, { "type", S }, { "status", S },
	{ "object_id", S }, { "attempts", I }, { "last_error", S },
	{ "created", I }, { "received", I }, { "processed", I },
};

#define EVENT_SELECT \
	"SELECT id, endpoint, type, status, object_id, attempts, " \
	"last_error, created, " TS("received_at") ", " TS("processed_at")

static const tly_rcol audit_cols[] = {
	{ "id", I }, { "at", I }, { "actor_kind", S }, { "actor_id", S },
	{ "action", S }, { "object_id", S }, { "detail", S },
	{ "request_id", S },
};

/* one_row - a keyed query for the details: 'id' bound 'nid' times */
static int
keyed(tly_ctx *ctx, const char *sql, const char *id, int nid,
    const char *object, const tly_rcol *cols, int ncols, tly_rset *rs,
    tly_err *err)
{
	tly_qb b;
	int k;

	tly_qb_init(&b, sql);
	for (k = 0; k < nid; k++)
		tly_qb_s(&b, id);
	return tly_qb_run(ctx, &b, object, cols, ncols, DETAIL_MAX, rs, err);
}

/* cell - text of cell (row 0, column 'name') of 'rs', or "" */
static const char *
cell(const tly_rset *rs, const char *name)
{
	int c;

	if (rs->nrows == 0)
		return "";
	for (c = 0; c < rs->ncols; c++)
		if (strcmp(rs->cols[c].name, name) == 0)
			return rs->s[c] ? rs->s[c] : "";
	return "";
}

/* icell - integer of cell (row 0, column 'name') of 'rs', or 0 */
static int64_t
icell(const tly_rset *rs, const char *name)
{
	int c;

	if (rs->nrows == 0)
		return 0;
	for (c = 0; c < rs->ncols; c++)
		if (strcmp(rs->cols[c].name, name) == 0)
			return rs->i[c];
	return 0;
}

/*
 * tly_report_payment - payment 'id' with its ledger rows, refunds,
 * disputes, the payouts that carried its rows, its webhook events and
 * audit rows; 404 when there is no such payment
 */
int
tly_report_payment(tly_ctx *ctx, const char *id, tly_rpayment *out,
    tly_err *err)
{
	const tly_currency *cur;
	tly_qb b;
	int rc;

	memset(out, 0, sizeof(*out));
	if (opt_word(id, "id", err) != TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment.");
	tly_qb_init(&b, PAY_COLS " FROM payments p" PAY_JOINS " AND p.id = ?");
	tly_qb_s(&b, id);
	rc = tly_qb_run(ctx, &b, "payment", pay_cols, NCOLS(pay_cols), 1,
	    &out->payment, err);
	if (rc)
		return rc;
	if (out->payment.nrows == 0)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", id);
	out->remaining_cent = icell(&out->payment, "amount_cent") -
	    icell(&out->payment, "requested_refund_cent") -
	    icell(&out->payment, "disputed_cent");
	if (out->remaining_cent < 0)
		out->remaining_cent = 0;
	cur = tly_config_currency(ctx->cfg, cell(&out->payment, "currency"));
	out->support_limit_cent = cur ? cur->refund_support_limit_cent : 0;

	rc = keyed(ctx, "SELECT id, role, account_id, kind, amount_cent, "
	    "currency, status, cause_id, payout_id, " TS("created_at")
	    " FROM shares WHERE payment_id = ? ORDER BY id", id, 1, "share",
	    share_cols, NCOLS(share_cols), &out->shares, err);
	if (rc == TLY_OK)
		rc = keyed(ctx, "SELECT id, amount_cent, currency, origin, "
		    "reason, requested_by, state, booked, stripe_refund_id, "
		    "last_error, " TS("created_at") " FROM refunds WHERE "
		    "payment_id = ? ORDER BY id", id, 1, "refund",
		    refund_cols, NCOLS(refund_cols), &out->refunds, err);
	if (rc == TLY_OK)
		rc = keyed(ctx, "SELECT id, amount_cent, currency, status, "
		    "reason, withdrawn_cent, fee_cent, " TS("created_at") ", "
		    TS("closed_at") " FROM disputes WHERE payment_id = ? "
		    "ORDER BY created_at, id", id, 1, "dispute", dispute_cols,
		    NCOLS(dispute_cols), &out->disputes, err);
	if (rc == TLY_OK)
		rc = keyed(ctx, PAYOUT_SELECT " AND po.id IN (SELECT payout_id "
		    "FROM shares WHERE payment_id = ? AND payout_id IS NOT "
		    "NULL) ORDER BY po.id", id, 1, "payout", payout_cols,
		    NCOLS(payout_cols), &out->payouts, err);
	if (rc)
		return rc;
	tly_qb_init(&b, EVENT_SELECT " FROM webhook_events WHERE object_id IN "
	    "(?, ?) OR object_id IN (SELECT id FROM disputes WHERE "
	    "payment_id = ?) OR object_id IN (SELECT stripe_refund_id FROM "
	    "refunds WHERE payment_id = ?) ORDER BY received_at, id");
	tly_qb_s(&b, cell(&out->payment, "payment_intent_id"));
	tly_qb_s(&b, cell(&out->payment, "charge_id"));
	tly_qb_s(&b, id);
	tly_qb_s(&b, id);
	rc = tly_qb_run(ctx, &b, "webhook_event", event_cols, NCOLS(event_cols),
	    DETAIL_MAX, &out->events, err);
	if (rc)
		return rc;
	tly_qb_init(&b, "SELECT id, " TS("at") ", actor_kind, actor_id, "
	    "action, object_id, detail, request_id FROM audit_log WHERE "
	    "object_id IN (?, ?) OR object_id IN (SELECT id FROM refunds "
	    "WHERE payment_id = ?) ORDER BY id");
	tly_qb_s(&b, id);
	tly_qb_s(&b, cell(&out->payment, "checkout_id"));
	tly_qb_s(&b, id);
	return tly_qb_run(ctx, &b, "audit_entry", audit_cols, NCOLS(audit_cols),
	    DETAIL_MAX, &out->audit, err);
}

/* --- accounts -------------------------------------------------------- */

static const tly_rcol account_cols[] = {
	{ "id", S }, { "kind", S }, { "email", S }, { "display_name", S },
	{ "connect_account_id", S }, { "charges_enabled", B },
	{ "payouts_enabled", B }, { "requirements_due", S },
	{ "payout_threshold_cent", I }, { "payout_failures", I },
	{ "payout_retry_at", I }, { "flagged", B }, { "created", I },
};

#define ACCOUNT_SELECT \
	"SELECT a.id, a.kind, a.email, a.display_name, a.connect_account_id, " \
	"a.charges_enabled, a.payouts_enabled, a.requirements_due, " \
	"a.payout_threshold_cent, a.payout_failures, " \
	TS("a.payout_retry_at") ", a.email_outstanding_payout, " \
	TS("a.created_at") " FROM accounts a WHERE 1 = 1"

/* tly_report_accounts - accounts by kind, Connect status, flag */
int
tly_report_accounts(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_qb b;
	int rc;

	tly_qb_init(&b, ACCOUNT_SELECT);
	rc = filter_eq(&b, "a.kind", f->kind, "kind", err);
	if (rc == TLY_OK && f->connect) {
		if (strcmp(f->connect, "none") == 0)
			tly_qb_add(&b, " AND a.connect_account_id IS NULL");
		else if (strcmp(f->connect, "pending") == 0)
			tly_qb_add(&b, " AND a.connect_account_id IS NOT "
			    "NULL AND a.payouts_enabled = 0");
		else if (strcmp(f->connect, "enabled") == 0)
			tly_qb_add(&b, " AND a.payouts_enabled = 1");
		else
			rc = tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid", "connect",
			    "connect must be none, pending or enabled.");
	}
	if (rc == TLY_OK && f->flagged) {
		if (strcmp(f->flagged, "true") == 0)
			tly_qb_add(&b, " AND (a.email_outstanding_payout = "
			    "1 OR a.payout_failures > 0)");
		else if (strcmp(f->flagged, "false") != 0)
			rc = tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid", "flagged",
			    "flagged must be true or false.");
	}
	if (rc == TLY_OK)
		rc = page_tail(&b, "a.id", p, err);
	if (rc) {
		tly_buf_free(&b.sql);
		return rc;
	}
	return tly_qb_run(ctx, &b, "account", account_cols, NCOLS(account_cols),
	    tly_qb_limit(p), rs, err);
}

static const tly_rcol advance_cols[] = {
	{ "id", S }, { "currency", S }, { "amount_cent", I },
	{ "offset_cent", I }, { "reversed_cent", I }, { "state", S },
	{ "transfer_id", S }, { "note", S }, { "granted_by", S },
	{ "created", I },
};

/* tly_report_account - account 'id' with its payouts and advances (its
 * balances come from payout.c: tly_balances_get) */
int
tly_report_account(tly_ctx *ctx, const char *id, tly_raccount *out,
    tly_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (opt_word(id, "id", err) != TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account.");
	rc = keyed(ctx, ACCOUNT_SELECT " AND a.id = ?", id, 1, "account",
	    account_cols, NCOLS(account_cols), &out->account, err);
	if (rc)
		return rc;
	if (out->account.nrows == 0)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account: '%.40s'.", id);
	rc = keyed(ctx, PAYOUT_SELECT " AND po.account_id = ? ORDER BY po.id "
	    "DESC LIMIT 20", id, 1, "payout", payout_cols,
	    NCOLS(payout_cols), &out->payouts, err);
	if (rc == TLY_OK)
		rc = keyed(ctx, "SELECT id, currency, granted_cent, "
		    "offset_cent, reversed_cent, state, stripe_transfer_id, "
		    "note, granted_by, " TS("created_at") " FROM advances "
		    "WHERE account_id = ? ORDER BY id DESC LIMIT 20", id, 1,
		    "advance", advance_cols, NCOLS(advance_cols),
		    &out->advances, err);
	return rc;
}

/* --- payouts, events, refusals, emails ------------------------------ */

/* tly_report_payouts - every payee's payouts, newest first */
int
tly_report_payouts(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_qb b;
	int rc;

	tly_qb_init(&b, PAYOUT_SELECT);
	rc = filter_eq(&b, "po.state", f->state, "state", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "po.currency", f->currency, "currency",
		    err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "po.account_id", f->account, "account",
		    err);
	if (rc == TLY_OK)
		rc = filter_range(&b, " AND po.created_at >= FROM_UNIXTIME(?)",
		    " AND po.created_at <= FROM_UNIXTIME(?)", f->created_gte,
		    f->created_lte, "created_gte", "created_lte", err);
	if (rc == TLY_OK)
		rc = page_tail(&b, "po.id", p, err);
	if (rc) {
		tly_buf_free(&b.sql);
		return rc;
	}
	return tly_qb_run(ctx, &b, "payout", payout_cols, NCOLS(payout_cols),
	    tly_qb_limit(p), rs, err);
}

/*
 * tly_report_events - webhook events by status, type and time received,
 * newest received first; the cursor is an event id, its place found by
 * its received_at
 */
int
tly_report_events(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_page pg = *p;
	tly_qb b;
	int rc;

	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	tly_qb_init(&b, EVENT_SELECT " FROM webhook_events WHERE 1 = 1");
	rc = filter_eq(&b, "status", f->status, "status", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "type", f->type, "type", err);
	if (rc == TLY_OK)
		rc = filter_range(&b, " AND received_at >= FROM_UNIXTIME(?)",
		    " AND received_at <= FROM_UNIXTIME(?)", f->created_gte,
		    f->created_lte, "received_gte", "received_lte", err);
	if (rc) {
		tly_buf_free(&b.sql);
		return rc;
	}
	if (pg.starting_after) {
		tly_qb_add(&b, " AND (received_at, id) < (SELECT "
		    "received_at, id FROM webhook_events WHERE id = ?) AND "
		    "received_at <= (SELECT received_at FROM webhook_events "
		    "WHERE id = ?)");
		tly_qb_s(&b, pg.starting_after);
		tly_qb_s(&b, pg.starting_after);
	}
	tly_qb_add(&b, " ORDER BY received_at DESC, id DESC LIMIT ?");
	tly_qb_i(&b, pg.limit + 1);
	return tly_qb_run(ctx, &b, "webhook_event", event_cols,
	    NCOLS(event_cols), pg.limit, rs, err);
}

static const tly_rcol event_full_cols[] = {
	{ "id", S }, { "endpoint", S }, { "type", S }, { "status", S },
	{ "object_id", S }, { "attempts", I }, { "last_error", S },
	{ "created", I }, { "received", I }, { "processed", I },
	{ "account", S }, { "api_version", S }, { "livemode", B },
	{ "next_attempt_at", I }, { "payload", S },
};

/* tly_report_event - one webhook event with its stored payload */
int
tly_report_event(tly_ctx *ctx, const char *id, tly_rset *rs, tly_err *err)
{
	int rc;

	if (opt_word(id, "id", err) != TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such event.");
	rc = keyed(ctx, EVENT_SELECT ", account, api_version, livemode, "
	    TS("next_attempt_at") ", payload FROM webhook_events WHERE id = ?",
	    id, 1, "webhook_event", event_full_cols, NCOLS(event_full_cols),
	    rs, err);
	if (rc == TLY_OK && rs->nrows == 0)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such event: '%.64s'.", id);
	return rc;
}

static const tly_rcol refusal_cols[] = {
	{ "source_addr", S }, { "refusals", I }, { "last_reason", S },
	{ "first_at", I }, { "last_at", I }, { "window_start", I },
	{ "window_refusals", I }, { "alerted_at", I },
};

/*
 * tly_report_refusals - signature refusals per source address, the most
 * recent first, with the address's current window (its start, its
 * refusals, when its burst alerted: webhook.c), those seen since ?since=
 * (unix seconds) when given; one
 * page of at most 'limit' addresses (the table holds one row per
 * address: no cursor)
 */
int
tly_report_refusals(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_page pg = *p;
	int64_t since;
	tly_qb b;
	int rc;

	pg.starting_after = NULL;
	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	tly_qb_init(&b, "SELECT source_addr, refusals, last_reason, "
	    TS("first_at") ", " TS("last_at") ", " TS("window_start") ", "
	    "window_refusals, IF(alerted_at >= window_start, "
	    TS("alerted_at") ", NULL) FROM webhook_refusals WHERE 1 = 1");
	rc = opt_i64(f->since, "since", &since, err);
	if (rc == TLY_OK) {
		tly_qb_add(&b, " AND last_at >= FROM_UNIXTIME(?)");
		tly_qb_i(&b, since);
	} else if (rc != TLY_NOTFOUND) {
		tly_buf_free(&b.sql);
		return rc;
	}
	tly_qb_add(&b, " ORDER BY last_at DESC, source_addr LIMIT ?");
	tly_qb_i(&b, pg.limit + 1);
	return tly_qb_run(ctx, &b, "webhook_refusal", refusal_cols,
	    NCOLS(refusal_cols), pg.limit, rs, err);
}

static const tly_rcol email_cols[] = {
	{ "id", S }, { "kind", S }, { "state", S }, { "account_id", S },
	{ "to", S }, { "subject", S }, { "attempts", I },
	{ "last_error", S }, { "created", I }, { "next_attempt_at", I },
	{ "sent_at", I },
};

/* tly_report_emails - the outbox by kind and state, newest first */
int
tly_report_emails(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_qb b;
	int rc;

	tly_qb_init(&b, "SELECT id, kind, state, account_id, to_addr, subject, "
	    "attempts, last_error, " TS("created_at") ", "
	    TS("next_attempt_at") ", " TS("sent_at") " FROM outbox WHERE "
	    "1 = 1");
	rc = filter_eq(&b, "kind", f->kind, "kind", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "state", f->state, "state", err);
	if (rc == TLY_OK)
		rc = page_tail(&b, "id", p, err);
	if (rc) {
		tly_buf_free(&b.sql);
		return rc;
	}
	return tly_qb_run(ctx, &b, "email", email_cols, NCOLS(email_cols),
	    tly_qb_limit(p), rs, err);
}


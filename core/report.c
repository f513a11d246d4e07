/*
 * report.c - the admin panel's reads: filtered lists, a payment's and an
 * account's whole story, the dashboard's daily aggregates (report.h)
 *
 * Writes only its rollup (below): the tables belong to the modules that
 * write them
 * (complete.c, refund.c, dispute.c, payout.c, advance.c, webhook.c,
 * outbox.c, catalog.c, auth.c).  Every statement is bounded:
 *
 *   lists     one index range scan from the cursor (ids are time-ordered,
 *             ORDER BY id DESC LIMIT n + 1 tells has_more), filters as
 *             bound parameters; a payee filter is a semi-join driven by
 *             shares' (account_id, …) index; the search ?q= looks a
 *             payment up by one of its unique ids, or a buyer's email
 *             by its index (schema/016_admin_reports.sql);
 *   events    webhook events carry Stripe's ids (not time-ordered): they
 *             page by (received_at, id) on their own index;
 *   details   keyed lookups of one payment's or account's rows, each
 *             capped (DETAIL_MAX);
 *   daily     closed days from a rollup (report_days, and for the top
 *             lists report_block_payees/products: per day, and per
 *             aligned block of 2, 4, … 64 days) that the reports job
 *             (tly_job_reports) computes from the ledger one day at a
 *             time; the days it does not hold yet (today at least) by
 *             GROUP BY day over index ranges of the ledger (payments,
 *             shares, refunds, disputes, payouts by currency and time).
 *             The rollup is the only thing report.c writes, and it is
 *             written apart from every money transaction.
 *
 * Rows land in a tly_rset allocated in the request's pool; a column
 * table per list names and types its columns in SELECT order.
 *
 * API:	tly_report_payments(), tly_report_payment(), tly_report_accounts(),
 *	tly_report_account(), tly_report_payouts(), tly_report_events(),
 *	tly_report_event(), tly_report_refusals(), tly_report_emails(),
 *	tly_report_daily(), tly_job_reports().
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
#define QB_MAXP		128
#define DETAIL_MAX	200
#define TOP_N		5
#define TS(c)		"FLOOR(UNIX_TIMESTAMP(" c "))"

/* a statement being built: SQL text and its parameters in order */
typedef struct qb {
	tly_buf		 sql;
	int		 n;
	int		 isint[QB_MAXP];
	const char	*s[QB_MAXP];
	int64_t		 i[QB_MAXP];
} qb;

static void
qb_init(qb *b, const char *head)
{
	memset(b, 0, sizeof(*b));
	tly_buf_init(&b->sql, 16384);
	(void)tly_buf_adds(&b->sql, head);
}

static void
qb_add(qb *b, const char *text)
{
	(void)tly_buf_adds(&b->sql, text);
}

static void
qb_s(qb *b, const char *v)
{
	if (b->n < QB_MAXP) {
		b->isint[b->n] = 0;
		b->s[b->n++] = v;
	}
}

static void
qb_i(qb *b, int64_t v)
{
	if (b->n < QB_MAXP) {
		b->isint[b->n] = 1;
		b->i[b->n++] = v;
	}
}

/* rset_init - an empty set of 'cap' rows of 'cols' */
static int
rset_init(tly_ctx *ctx, tly_rset *rs, const char *object,
    const tly_rcol *cols, int ncols, int cap, tly_err *err)
{
	size_t cells = (size_t)(cap > 0 ? cap : 1) * (size_t)ncols;

	memset(rs, 0, sizeof(*rs));
	rs->object = object;
	rs->cols = cols;
	rs->ncols = ncols;
	rs->s = tly_pcalloc(ctx->pool, cells * sizeof(*rs->s));
	rs->i = tly_pcalloc(ctx->pool, cells * sizeof(*rs->i));
	rs->null = tly_pcalloc(ctx->pool, cells);
	if (rs->s == NULL || rs->i == NULL || rs->null == NULL)
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * qb_run - run 'b' and keep at most 'limit' rows in 'rs' (columns
 * 'cols'); one row more sets rs->more.  Frees 'b'.
 */
static int
qb_run(tly_ctx *ctx, qb *b, const char *object, const tly_rcol *cols,
    int ncols, int limit, tly_rset *rs, tly_err *err)
{
	const char *v;
	size_t k;
	tly_q q;
	int rc, c, j;

	rc = rset_init(ctx, rs, object, cols, ncols, limit, err);
	if (rc == TLY_OK && b->n >= QB_MAXP)
		rc = tly_err_internal(err);
	if (rc == TLY_OK && tly_buf_str(&b->sql) == NULL)
		rc = tly_err_internal(err);
	if (rc) {
		tly_buf_free(&b->sql);
		return rc;
	}
	rc = tly_q_prep(ctx->db, &q, tly_buf_str(&b->sql), err);
	tly_buf_free(&b->sql);
	if (rc)
		return q.rc;
	for (j = 0; j < b->n; j++) {
		if (b->isint[j])
			tly_q_i64(&q, b->i[j]);
		else
			tly_q_str(&q, b->s[j]);
	}
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (rs->nrows == limit) {
			rs->more = 1;
			continue;
		}
		for (c = 0; c < ncols; c++) {
			k = (size_t)rs->nrows * (size_t)ncols + (size_t)c;
			rs->null[k] = (unsigned char)tly_q_col_null(&q, c);
			if (rs->null[k])
				continue;
			if (cols[c].type != S) {
				rs->i[k] = tly_q_col_i64(&q, c);
				continue;
			}
			v = tly_q_col_str(&q, c);
			rs->s[k] = tly_pstrndup(ctx->pool, v ? v : "",
			    v ? tly_q_col_len(&q, c) : 0);
			if (rs->s[k] == NULL)
				rc = tly_err_internal(err);
		}
		rs->nrows++;
	}
	tly_q_done(&q);
	return rc;
}

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
filter_eq(qb *b, const char *col, const char *v, const char *name,
    tly_err *err)
{
	int rc = opt_word(v, name, err);

	if (rc == TLY_NOTFOUND)
		return TLY_OK;
	if (rc)
		return rc;
	qb_add(b, " AND ");
	qb_add(b, col);
	qb_add(b, " = ?");
	qb_s(b, v);
	return TLY_OK;
}

/* filter_range - " AND <expr> >= ?" / " <= ?" for integer parameters */
static int
filter_range(qb *b, const char *ge, const char *le, const char *vge,
    const char *vle, const char *nge, const char *nle, tly_err *err)
{
	int64_t v;
	int rc;

	rc = opt_i64(vge, nge, &v, err);
	if (rc == TLY_OK) {
		qb_add(b, ge);
		qb_i(b, v);
	} else if (rc != TLY_NOTFOUND)
		return rc;
	rc = opt_i64(vle, nle, &v, err);
	if (rc == TLY_OK) {
		qb_add(b, le);
		qb_i(b, v);
	} else if (rc != TLY_NOTFOUND)
		return rc;
	return TLY_OK;
}

/* page_tail - " AND <idcol> < ? ORDER BY <idcol> DESC LIMIT ?" */
static int
page_tail(qb *b, const char *idcol, const tly_page *p, tly_err *err)
{
	tly_page pg = *p;
	int rc;

	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	qb_add(b, " AND ");
	qb_add(b, idcol);
	qb_add(b, " < ? ORDER BY ");
	qb_add(b, idcol);
	qb_add(b, " DESC LIMIT ?");
	qb_s(b, tly_page_cursor(&pg));
	qb_i(b, pg.limit + 1);
	return TLY_OK;
}

static int
page_limit(const tly_page *p)
{
	return p->limit > 0 ? p->limit : TLY_PAGE_DEFAULT;
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

#define PAY_SELECT \
	"SELECT p.id, p.checkout_id, p.pi_id, p.charge_id, p.amount_cent, " \
	"p.currency, p.status, p.refunded_cent, p.requested_refund_cent, " \
	"p.disputed_cent, p.stripe_fee_estimate_cent, " \
	"p.stripe_fee_actual_cent, p.completed_via, c.product_id, pr.name, " \
	"c.buyer_account_id, COALESCE(c.receipt_email, ba.email), " \
	TS("p.created_at") " FROM payments p " \
	"LEFT JOIN checkouts c ON c.id = p.checkout_id " \
	"LEFT JOIN products pr ON pr.id = c.product_id " \
	"LEFT JOIN accounts ba ON ba.id = c.buyer_account_id WHERE 1 = 1"

/* search - ?q=: one of the payment's ids by its prefix, or an email */
static int
search(qb *b, const char *q, tly_err *err)
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
		qb_add(b, " AND (c.receipt_email = ? OR c.buyer_account_id IN "
		    "(SELECT id FROM accounts WHERE email = ?))");
		qb_s(b, q);
		qb_s(b, q);
		return TLY_OK;
	}
	for (k = 0; k < sizeof(by) / sizeof(by[0]); k++) {
		if (strncmp(q, by[k].prefix, strlen(by[k].prefix)) != 0)
			continue;
		if (opt_word(q, "q", err) != TLY_OK)
			return TLY_ERR;
		qb_add(b, " AND ");
		qb_add(b, by[k].col);
		qb_add(b, " = ?");
		qb_s(b, q);
		return TLY_OK;
	}
	return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid", "q",
	    "q must be a pay_, chk_, pi_ or ch_ id, or an email address.");
}

/* tly_report_payments - payments matching 'f', newest first */
int
tly_report_payments(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	qb b;
	int rc;

	qb_init(&b, PAY_SELECT);
	rc = filter_eq(&b, "p.status", f->status, "status", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "p.currency", f->currency, "currency", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "c.product_id", f->product, "product", err);
	if (rc == TLY_OK)
		rc = filter_eq(&b, "c.buyer_account_id", f->buyer, "buyer",
		    err);
	if (rc == TLY_OK && opt_word(f->payee, "payee", err) == TLY_OK) {
		qb_add(&b, " AND p.id IN (SELECT payment_id FROM shares "
		    "WHERE account_id = ?)");
		qb_s(&b, f->payee);
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
	return qb_run(ctx, &b, "payment", pay_cols, NCOLS(pay_cols),
	    page_limit(p), rs, err);
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
	qb b;
	int k;

	qb_init(&b, sql);
	for (k = 0; k < nid; k++)
		qb_s(&b, id);
	return qb_run(ctx, &b, object, cols, ncols, DETAIL_MAX, rs, err);
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
	qb b;
	int rc;

	memset(out, 0, sizeof(*out));
	if (opt_word(id, "id", err) != TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment.");
	qb_init(&b, PAY_SELECT " AND p.id = ?");
	qb_s(&b, id);
	rc = qb_run(ctx, &b, "payment", pay_cols, NCOLS(pay_cols), 1,
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
	qb_init(&b, EVENT_SELECT " FROM webhook_events WHERE object_id IN "
	    "(?, ?) OR object_id IN (SELECT id FROM disputes WHERE "
	    "payment_id = ?) OR object_id IN (SELECT stripe_refund_id FROM "
	    "refunds WHERE payment_id = ?) ORDER BY received_at, id");
	qb_s(&b, cell(&out->payment, "payment_intent_id"));
	qb_s(&b, cell(&out->payment, "charge_id"));
	qb_s(&b, id);
	qb_s(&b, id);
	rc = qb_run(ctx, &b, "webhook_event", event_cols, NCOLS(event_cols),
	    DETAIL_MAX, &out->events, err);
	if (rc)
		return rc;
	qb_init(&b, "SELECT id, " TS("at") ", actor_kind, actor_id, action, "
	    "object_id, detail, request_id FROM audit_log WHERE object_id IN "
	    "(?, ?) OR object_id IN (SELECT id FROM refunds WHERE payment_id "
	    "= ?) ORDER BY id");
	qb_s(&b, id);
	qb_s(&b, cell(&out->payment, "checkout_id"));
	qb_s(&b, id);
	return qb_run(ctx, &b, "audit_entry", audit_cols, NCOLS(audit_cols),
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
	qb b;
	int rc;

	qb_init(&b, ACCOUNT_SELECT);
	rc = filter_eq(&b, "a.kind", f->kind, "kind", err);
	if (rc == TLY_OK && f->connect) {
		if (strcmp(f->connect, "none") == 0)
			qb_add(&b, " AND a.connect_account_id IS NULL");
		else if (strcmp(f->connect, "pending") == 0)
			qb_add(&b, " AND a.connect_account_id IS NOT NULL AND "
			    "a.payouts_enabled = 0");
		else if (strcmp(f->connect, "enabled") == 0)
			qb_add(&b, " AND a.payouts_enabled = 1");
		else
			rc = tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid", "connect",
			    "connect must be none, pending or enabled.");
	}
	if (rc == TLY_OK && f->flagged) {
		if (strcmp(f->flagged, "true") == 0)
			qb_add(&b, " AND (a.email_outstanding_payout = 1 OR "
			    "a.payout_failures > 0)");
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
	return qb_run(ctx, &b, "account", account_cols, NCOLS(account_cols),
	    page_limit(p), rs, err);
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
	qb b;
	int rc;

	qb_init(&b, PAYOUT_SELECT);
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
	return qb_run(ctx, &b, "payout", payout_cols, NCOLS(payout_cols),
	    page_limit(p), rs, err);
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
	qb b;
	int rc;

	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	qb_init(&b, EVENT_SELECT " FROM webhook_events WHERE 1 = 1");
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
		qb_add(&b, " AND (received_at, id) < (SELECT received_at, id "
		    "FROM webhook_events WHERE id = ?) AND received_at <= "
		    "(SELECT received_at FROM webhook_events WHERE id = ?)");
		qb_s(&b, pg.starting_after);
		qb_s(&b, pg.starting_after);
	}
	qb_add(&b, " ORDER BY received_at DESC, id DESC LIMIT ?");
	qb_i(&b, pg.limit + 1);
	return qb_run(ctx, &b, "webhook_event", event_cols,
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
	{ "first_at", I }, { "last_at", I },
};

/*
 * tly_report_refusals - signature refusals per source address, the most
 * recent first, those seen since ?since= (unix seconds) when given; one
 * page of at most 'limit' addresses (the table holds one row per
 * address: no cursor)
 */
int
tly_report_refusals(tly_ctx *ctx, const tly_rfilter *f, const tly_page *p,
    tly_rset *rs, tly_err *err)
{
	tly_page pg = *p;
	int64_t since;
	qb b;
	int rc;

	pg.starting_after = NULL;
	rc = tly_page_check(&pg, err);
	if (rc)
		return rc;
	qb_init(&b, "SELECT source_addr, refusals, last_reason, "
	    TS("first_at") ", " TS("last_at") " FROM webhook_refusals "
	    "WHERE 1 = 1");
	rc = opt_i64(f->since, "since", &since, err);
	if (rc == TLY_OK) {
		qb_add(&b, " AND last_at >= FROM_UNIXTIME(?)");
		qb_i(&b, since);
	} else if (rc != TLY_NOTFOUND) {
		tly_buf_free(&b.sql);
		return rc;
	}
	qb_add(&b, " ORDER BY last_at DESC, source_addr LIMIT ?");
	qb_i(&b, pg.limit + 1);
	return qb_run(ctx, &b, "webhook_refusal", refusal_cols,
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
	qb b;
	int rc;

	qb_init(&b, "SELECT id, kind, state, account_id, to_addr, subject, "
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
	return qb_run(ctx, &b, "email", email_cols, NCOLS(email_cols),
	    page_limit(p), rs, err);
}

/* --- the dashboard ---------------------------------------------------- */

/* days_from_civil - days since 1970-01-01 of y-m-d (H. Hinnant) */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* civil_from_days - "YYYY-MM-DD" of day 'z' since 1970-01-01 */
static void
civil_from_days(int64_t z, char out[11])
{
	int64_t era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

/* parse_day - "YYYY-MM-DD" (a real date) into days since the epoch */
static int
parse_day(const char *s, const char *name, int64_t *out, tly_err *err)
{
	int y, m, d, k;
	char back[11];

	for (k = 0; k < 10; k++)
		if ((k == 4 || k == 7) ? s[k] != '-' :
		    (s[k] < '0' || s[k] > '9'))
			break;
	if (k < 10 || s[10] != '\0')
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s must be a date YYYY-MM-DD.", name);
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	*out = days_from_civil(y, m, d);
	civil_from_days(*out, back);
	if (m < 1 || m > 12 || d < 1 || strcmp(back, s) != 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s is not a date.", name);
	return TLY_OK;
}

static const tly_rcol day_cols[] = {
	{ "date", S }, { "gross_cent", I }, { "payments", I },
	{ "platform_revenue_cent", I }, { "stripe_fees_cent", I },
	{ "refunds_cent", I }, { "refunds", I }, { "disputes_cent", I },
	{ "disputes", I }, { "payouts_cent", I }, { "payouts", I },
};

#define D_COLS	"gross_cent, payments, platform_revenue_cent, " \
	"stripe_fees_cent, refunds_cent, refunds, disputes_cent, disputes, " \
	"payouts_cent, payouts"
#define D_NUM	10		/* the integer columns of a day */

enum { D_GROSS = 1, D_PAYMENTS, D_PLATFORM, D_FEES, D_REFUNDS, D_NREFUNDS,
	D_DISPUTES, D_NDISPUTES, D_PAYOUTS, D_NPAYOUTS };

/* a period being computed: 'days' indexed from 'dfrom' */
typedef struct period {
	const char	*cur;
	int64_t		 dfrom;		/* day number of days row 0 */
	tly_rset	*days;
	char		 lo[11];	/* the range computed live … */
	char		 hi[11];	/* … inclusive */
	int64_t		 dlo;
	int64_t		 dhi;
} period;

/*
 * add_days - run 'sql' (parameters: lo, currency, lo, hi) whose rows are
 * (day index from lo, sum, count) and add them to columns 'csum' and
 * 'ccnt' (0: no count) of the period's days
 */
static int
add_days(tly_ctx *ctx, period *pd, const char *sql, int csum, int ccnt,
    tly_err *err)
{
	static const tly_rcol cols[] = {
		{ "day", I }, { "sum", I }, { "count", I },
	};
	tly_rset got, *d = pd->days;
	int64_t day;
	int rc, k;
	qb b;

	qb_init(&b, sql);
	qb_s(&b, pd->lo);
	qb_s(&b, pd->cur);
	qb_s(&b, pd->lo);
	qb_s(&b, pd->hi);
	rc = qb_run(ctx, &b, "day", cols, 3, TLY_REPORT_MAX_DAYS, &got, err);
	if (rc)
		return rc;
	for (k = 0; k < got.nrows; k++) {
		day = got.i[k * 3] + (pd->dlo - pd->dfrom);
		if (day < 0 || day >= d->nrows)
			continue;
		d->i[day * d->ncols + csum] += got.i[k * 3 + 1];
		if (ccnt)
			d->i[day * d->ncols + ccnt] += got.i[k * 3 + 2];
	}
	return TLY_OK;
}

#define RANGE(col) \
	" WHERE currency = ? AND " col " >= ? AND " col " < " \
	"DATE_ADD(?, INTERVAL 1 DAY)"

/*
 * live_days - the days from pd->lo to pd->hi computed from the ledger:
 * index ranges over the period (schema/016), grouped by day
 */
static int
live_days(tly_ctx *ctx, period *pd, tly_err *err)
{
	int rc;

	rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
	    "SUM(amount_cent), COUNT(*) FROM payments" RANGE("created_at")
	    " GROUP BY 1", D_GROSS, D_PAYMENTS, err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), 0 FROM shares" RANGE("created_at")
		    " AND account_id = 'acc_platform' AND role = 'PLATFORM' "
		    "GROUP BY 1", D_PLATFORM, 0, err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), 0 FROM shares" RANGE("created_at")
		    " AND account_id = 'acc_stripe_fee' GROUP BY 1", D_FEES, 0,
		    err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM refunds"
		    RANGE("created_at") " AND state = 'succeeded' GROUP BY 1",
		    D_REFUNDS, D_NREFUNDS, err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM disputes"
		    RANGE("created_at") " GROUP BY 1", D_DISPUTES, D_NDISPUTES,
		    err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(paid_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM payouts" RANGE("paid_at")
		    " AND state = 'paid' GROUP BY 1", D_PAYOUTS, D_NPAYOUTS,
		    err);
	return rc;
}

static const tly_rcol top_product_cols[] = {
	{ "product_id", S }, { "name", S }, { "gross_cent", I },
	{ "payments", I },
};

static const tly_rcol top_payee_cols[] = {
	{ "account_id", S }, { "display_name", S }, { "kind", S },
	{ "earned_cent", I },
};

#define PAYEE_ROLES \
	"('TALENT', 'AGENT', 'AMBASSADOR', 'HOST_PARTNER')"

#define BLOCK_LEVELS	6	/* blocks of 1, 2, 4, … 64 days */
#define BLOCKS_MAX	48

/*
 * blocks - the aligned blocks covering days 'a' to 'b': at each day the
 * largest block (2^k days, starting at a multiple of 2^k) that fits;
 * appended to 'start'/'level' from '*n' on
 */
static void
blocks(int64_t a, int64_t b, int64_t *start, int *level, int *n)
{
	int k;

	while (a <= b && *n < BLOCKS_MAX) {
		for (k = BLOCK_LEVELS; k > 0; k--)
			if (a % (1 << k) == 0 && a + (1 << k) - 1 <= b)
				break;
		start[*n] = a;
		level[(*n)++] = k;
		a += 1 << k;
	}
}

/*
 * rolled_blocks - " AND (level = ? AND start_day = ? OR …)" for the
 * rolled-up days of the period (outside the live range), bound to 'b';
 * false when there is none
 */
static int
rolled_blocks(tly_ctx *ctx, const tly_rdaily *r, const period *pd,
    int live, qb *b)
{
	int64_t start[BLOCKS_MAX], dto;
	int level[BLOCKS_MAX], n = 0, k;
	char *d;

	dto = pd->dfrom + r->days.nrows - 1;
	if (!live)
		blocks(pd->dfrom, dto, start, level, &n);
	else {
		blocks(pd->dfrom, pd->dlo - 1, start, level, &n);
		blocks(pd->dhi + 1, dto, start, level, &n);
	}
	if (n == 0)
		return 0;
	qb_add(b, " AND (");
	for (k = 0; k < n; k++) {
		d = tly_pcalloc(ctx->pool, 11);
		if (d == NULL)
			return 0;
		civil_from_days(start[k], d);
		qb_add(b, k ? " OR (level = ? AND start_day = ?)" :
		    "(level = ? AND start_day = ?)");
		qb_i(b, level[k]);
		qb_s(b, d);
	}
	qb_add(b, ")");
	return 1;
}

/*
 * tops - the period's top products and payees: the rolled-up days as
 * aligned blocks of report_block_products/payees (a 90-day period is at
 * most a dozen blocks), the days in the live range [lo, hi] from the
 * ledger ('live' false: no live range)
 */
static int
tops(tly_ctx *ctx, tly_rdaily *r, const period *pd, int live, tly_err *err)
{
	qb b;
	int rc;

	qb_init(&b, "SELECT t.product_id, pr.name, SUM(t.g), SUM(t.n) FROM "
	    "(SELECT product_id, gross_cent AS g, payments AS n FROM "
	    "report_block_products WHERE currency = ?");
	qb_s(&b, r->currency);
	if (!rolled_blocks(ctx, r, pd, live, &b))
		qb_add(&b, " AND 0 = 1");
	if (live) {
		qb_add(&b, " UNION ALL SELECT c.product_id, p.amount_cent, 1 "
		    "FROM payments p JOIN checkouts c ON c.id = p.checkout_id "
		    "WHERE p.currency = ? AND p.created_at >= ? AND "
		    "p.created_at < DATE_ADD(?, INTERVAL 1 DAY)");
		qb_s(&b, r->currency);
		qb_s(&b, pd->lo);
		qb_s(&b, pd->hi);
	}
	qb_add(&b, ") t JOIN products pr ON pr.id = t.product_id GROUP BY "
	    "t.product_id, pr.name ORDER BY 3 DESC, 1 LIMIT ?");
	qb_i(&b, TOP_N);
	rc = qb_run(ctx, &b, "top_product", top_product_cols,
	    NCOLS(top_product_cols), TOP_N, &r->top_products, err);
	if (rc)
		return rc;
	qb_init(&b, "SELECT t.account_id, a.display_name, a.kind, SUM(t.v) "
	    "FROM (SELECT account_id, earned_cent AS v FROM "
	    "report_block_payees WHERE currency = ?");
	qb_s(&b, r->currency);
	if (!rolled_blocks(ctx, r, pd, live, &b))
		qb_add(&b, " AND 0 = 1");
	if (live) {
		qb_add(&b, " UNION ALL SELECT account_id, amount_cent FROM "
		    "shares WHERE currency = ? AND created_at >= ? AND "
		    "created_at < DATE_ADD(?, INTERVAL 1 DAY) AND role IN "
		    PAYEE_ROLES);
		qb_s(&b, r->currency);
		qb_s(&b, pd->lo);
		qb_s(&b, pd->hi);
	}
	qb_add(&b, ") t JOIN accounts a ON a.id = t.account_id GROUP BY "
	    "t.account_id, a.display_name, a.kind ORDER BY 4 DESC, 1 LIMIT ?");
	qb_i(&b, TOP_N);
	return qb_run(ctx, &b, "top_payee", top_payee_cols,
	    NCOLS(top_payee_cols), TOP_N, &r->top_payees, err);
}

/*
 * rolled_up - the days of the period that report_days holds (closed days
 * the reports job rolled up): copied into the days, marked in 'have'
 */
static int
rolled_up(tly_ctx *ctx, tly_rdaily *r, period *pd, unsigned char *have,
    tly_err *err)
{
	static const tly_rcol cols[] = {
		{ "day", I }, { "gross_cent", I }, { "payments", I },
		{ "platform_revenue_cent", I }, { "stripe_fees_cent", I },
		{ "refunds_cent", I }, { "refunds", I }, { "disputes_cent", I },
		{ "disputes", I }, { "payouts_cent", I }, { "payouts", I },
	};
	tly_rset got, *d = pd->days;
	int64_t day;
	int rc, k, c;
	qb b;

	qb_init(&b, "SELECT DATEDIFF(day, ?), " D_COLS " FROM report_days "
	    "WHERE currency = ? AND day BETWEEN ? AND ? AND day < "
	    "UTC_DATE()");
	qb_s(&b, r->from);
	qb_s(&b, r->currency);
	qb_s(&b, r->from);
	qb_s(&b, r->to);
	rc = qb_run(ctx, &b, "day", cols, NCOLS(cols), TLY_REPORT_MAX_DAYS,
	    &got, err);
	if (rc)
		return rc;
	for (k = 0; k < got.nrows; k++) {
		day = got.i[k * got.ncols];
		if (day < 0 || day >= d->nrows)
			continue;
		have[day] = 1;
		for (c = 1; c <= D_NUM; c++)
			d->i[day * d->ncols + c] = got.i[k * got.ncols + c];
	}
	return TLY_OK;
}

/*
 * tly_report_daily - currency 'cur' (NULL: the first configured) per day
 * from 'from' to 'to' (YYYY-MM-DD, inclusive; NULL: the last 30 days),
 * at most TLY_REPORT_MAX_DAYS: gross volume and count of payments,
 * platform revenue (the platform's PLATFORM rows, net of reversals),
 * Stripe fees (the Stripe-fee account's rows), refunds made (succeeded),
 * disputes opened, payouts paid ('what' has TLY_REPORT_DAYS); the
 * period's top products and payees (TLY_REPORT_TOP).  Closed days come
 * from the rollup (report_days, kept by the
 * reports job, tly_job_reports); the days it does not hold (today, and
 * any not rolled up yet) are computed from the ledger, as one range from
 * the first such day to the last.
 */
int
tly_report_daily(tly_ctx *ctx, const char *cur, const char *from,
    const char *to, int what, tly_rdaily *r, tly_err *err)
{
	int64_t dfrom, dto, today, k, first = -1, last = -1;
	unsigned char *have;
	period pd;
	int rc, c;

	memset(r, 0, sizeof(*r));
	if (cur == NULL)
		cur = ctx->cfg->n_currencies > 0 ?
		    ctx->cfg->currencies[0].code : "usd";
	if (tly_config_currency(ctx->cfg, cur) == NULL)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "currency", "currency is not configured.");
	tly_strlcpy(r->currency, cur, sizeof(r->currency));
	today = tly_now_s() / 86400;
	dto = today;
	if (to && parse_day(to, "to", &dto, err) != TLY_OK)
		return TLY_ERR;
	dfrom = dto - 29;
	if (from && parse_day(from, "from", &dfrom, err) != TLY_OK)
		return TLY_ERR;
	if (dfrom > dto || dto - dfrom + 1 > TLY_REPORT_MAX_DAYS)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "from", "from must be on or before to, at most %d days "
		    "before it.", TLY_REPORT_MAX_DAYS);
	civil_from_days(dfrom, r->from);
	civil_from_days(dto, r->to);
	rc = rset_init(ctx, &r->days, "daily", day_cols, NCOLS(day_cols),
	    (int)(dto - dfrom + 1), err);
	if (rc)
		return rc;
	r->days.nrows = (int)(dto - dfrom + 1);
	have = tly_pcalloc(ctx->pool, (size_t)r->days.nrows);
	if (have == NULL)
		return tly_err_internal(err);
	for (k = 0; k < r->days.nrows; k++) {
		r->days.s[k * r->days.ncols] = tly_pcalloc(ctx->pool, 11);
		if (r->days.s[k * r->days.ncols] == NULL)
			return tly_err_internal(err);
		civil_from_days(dfrom + k, r->days.s[k * r->days.ncols]);
	}
	memset(&pd, 0, sizeof(pd));
	pd.cur = r->currency;
	pd.dfrom = dfrom;
	pd.days = &r->days;
	rc = rolled_up(ctx, r, &pd, have, err);
	if (rc)
		return rc;
	for (k = 0; k < r->days.nrows; k++) {
		if (have[k])
			continue;
		if (first < 0)
			first = k;
		last = k;
	}
	/* the live range replaces whatever the rollup had inside it */
	if (first >= 0)
		for (k = first; k <= last; k++)
			for (c = 1; c <= D_NUM; c++)
				r->days.i[k * r->days.ncols + c] = 0;
	pd.dlo = dfrom + (first >= 0 ? first : 0);
	civil_from_days(pd.dlo, pd.lo);
	pd.dhi = dfrom + (first >= 0 ? last : -1);
	civil_from_days(pd.dhi, pd.hi);
	if (first >= 0 && (what & TLY_REPORT_DAYS)) {
		rc = live_days(ctx, &pd, err);
		if (rc)
			return rc;
	}
	if (what & TLY_REPORT_TOP)
		return tops(ctx, r, &pd, first >= 0, err);
	return TLY_OK;
}

/* --- the rollup: the reports job ------------------------------------- */

#define ROLLUP_RECENT	7	/* closed days recomputed on every run */
#define ROLLUP_BACK	400	/* how far back missing days are filled */
#define ROLLUP_FILL	60	/* missing older days filled per run */

typedef struct roll_arg {
	const char	*cur;
	int64_t		 day;
} roll_arg;

/*
 * roll_blocks - the blocks of levels 1 to BLOCK_LEVELS holding day 'day'
 * of 'cur', each the sum of its two halves one level down, once every
 * day of it is rolled up (and closed); a block not complete yet is
 * deleted, so a block row always sums exactly its days' rows
 */
static int
roll_blocks(tly_ctx *ctx, const char *cur, int64_t day, tly_err *err)
{
	int64_t start, len, today = tly_now_s() / 86400, have = 0;
	char s0[11], s1[11], e[11];
	int k, rc;

	for (k = 1; k <= BLOCK_LEVELS; k++) {
		len = (int64_t)1 << k;
		start = day - day % len;
		civil_from_days(start, s0);
		civil_from_days(start + len / 2, s1);
		civil_from_days(start + len - 1, e);
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_payees WHERE currency = ? AND level = ? AND "
		    "start_day = ?", "sis", cur, (int64_t)k, s0);
		if (rc == TLY_OK)
			rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
			    "report_block_products WHERE currency = ? AND "
			    "level = ? AND start_day = ?", "sis", cur,
			    (int64_t)k, s0);
		if (rc == TLY_OK)
			rc = tly_db_row(ctx->db, err, "SELECT COUNT(*) FROM "
			    "report_days WHERE currency = ? AND day BETWEEN ? "
			    "AND ?", "sss>i", cur, s0, e, &have);
		if (rc)
			return rc;
		if (have != len || start + len - 1 >= today)
			continue;	/* not complete: no row here */
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_payees (currency, level, start_day, "
		    "account_id, earned_cent) SELECT ?, ?, ?, account_id, "
		    "SUM(earned_cent) FROM report_block_payees WHERE "
		    "currency = ? AND level = ? AND start_day IN (?, ?) "
		    "GROUP BY account_id", "sississ", cur, (int64_t)k, s0, cur,
		    (int64_t)(k - 1), s0, s1);
		if (rc == TLY_OK)
			rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
			    "report_block_products (currency, level, "
			    "start_day, product_id, gross_cent, payments) "
			    "SELECT ?, ?, ?, product_id, SUM(gross_cent), "
			    "SUM(payments) FROM report_block_products WHERE "
			    "currency = ? AND level = ? AND start_day IN "
			    "(?, ?) GROUP BY product_id",
			    "sississ", cur, (int64_t)k, s0, cur,
			    (int64_t)(k - 1), s0, s1);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* roll_tx - day a->day of a->cur from the ledger into the rollup tables */
static int
roll_tx(tly_ctx *ctx, void *v, tly_err *err)
{
	roll_arg *a = v;
	tly_rset days;
	char d[11];
	int64_t *x;
	period pd;
	int rc;

	civil_from_days(a->day, d);
	rc = rset_init(ctx, &days, "daily", day_cols, NCOLS(day_cols), 1, err);
	if (rc)
		return rc;
	days.nrows = 1;
	memset(&pd, 0, sizeof(pd));
	pd.cur = a->cur;
	pd.dfrom = pd.dlo = a->day;
	pd.days = &days;
	tly_strlcpy(pd.lo, d, sizeof(pd.lo));
	tly_strlcpy(pd.hi, d, sizeof(pd.hi));
	rc = live_days(ctx, &pd, err);
	if (rc)
		return rc;
	x = days.i;
	rc = tly_db_exec(ctx->db, err, NULL, "REPLACE INTO report_days "
	    "(currency, day, " D_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)", "ssiiiiiiiiii", a->cur, d, x[D_GROSS], x[D_PAYMENTS],
	    x[D_PLATFORM], x[D_FEES], x[D_REFUNDS], x[D_NREFUNDS],
	    x[D_DISPUTES], x[D_NDISPUTES], x[D_PAYOUTS], x[D_NPAYOUTS]);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_payees WHERE currency = ? AND level = 0 AND "
		    "start_day = ?", "ss", a->cur, d);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_payees (currency, level, start_day, "
		    "account_id, earned_cent) SELECT ?, 0, ?, account_id, "
		    "SUM(amount_cent) FROM shares" RANGE("created_at")
		    " AND role IN " PAYEE_ROLES " GROUP BY account_id", "sssss",
		    a->cur, d, a->cur, d, d);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_products WHERE currency = ? AND level = 0 "
		    "AND start_day = ?", "ss", a->cur, d);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_products (currency, level, start_day, "
		    "product_id, gross_cent, payments) SELECT ?, 0, ?, "
		    "c.product_id, SUM(p.amount_cent), COUNT(*) FROM payments "
		    "p JOIN checkouts c ON c.id = p.checkout_id WHERE "
		    "p.currency "
		    "= ? AND p.created_at >= ? AND p.created_at < DATE_ADD(?, "
		    "INTERVAL 1 DAY) GROUP BY c.product_id", "sssss", a->cur, d,
		    a->cur, d, d);
	if (rc == TLY_OK)
		rc = roll_blocks(ctx, a->cur, a->day, err);
	return rc;
}

/* roll_day - one day of one currency, in its own transaction */
static int
roll_day(tly_ctx *ctx, const char *cur, int64_t day, tly_err *err)
{
	roll_arg a;

	a.cur = cur;
	a.day = day;
	return tly_tx_run(ctx, "report.rollup", roll_tx, &a, err);
}

/* roll_currency - the recent closed days, then older missing ones */
static int
roll_currency(tly_ctx *ctx, const char *cur, int64_t today, int *n,
    tly_err *err)
{
	static const tly_rcol cols[] = { { "day", I } };
	char oldest[11], lo[11];
	int64_t d, start, k, filled = 0;
	unsigned char *have;
	tly_rset got;
	qb b;
	int rc;

	for (d = today - ROLLUP_RECENT; d < today; d++) {
		rc = roll_day(ctx, cur, d, err);
		if (rc)
			return rc;
		(*n)++;
	}
	/* older days: from the first payment (at most ROLLUP_BACK back) */
	oldest[0] = '\0';
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(DATE_FORMAT(MIN("
	    "created_at), '%Y-%m-%d'), '') FROM payments WHERE currency = ?",
	    "s>s", cur, oldest, sizeof(oldest));
	if (rc || oldest[0] == '\0')
		return rc == TLY_NOTFOUND ? TLY_OK : rc;
	if (parse_day(oldest, "oldest", &start, err) != TLY_OK)
		return tly_err_internal(err);
	if (start < today - ROLLUP_BACK)
		start = today - ROLLUP_BACK;
	if (start >= today - ROLLUP_RECENT)
		return TLY_OK;
	civil_from_days(start, lo);
	qb_init(&b, "SELECT DATEDIFF(day, ?) FROM report_days WHERE currency "
	    "= ? AND day >= ?");
	qb_s(&b, lo);
	qb_s(&b, cur);
	qb_s(&b, lo);
	rc = qb_run(ctx, &b, "day", cols, 1, ROLLUP_BACK + 1, &got, err);
	if (rc)
		return rc;
	have = tly_pcalloc(ctx->pool, ROLLUP_BACK + 1);
	if (have == NULL)
		return tly_err_internal(err);
	for (k = 0; k < got.nrows; k++)
		if (got.i[k] >= 0 && got.i[k] <= ROLLUP_BACK)
			have[got.i[k]] = 1;
	for (d = start; d < today - ROLLUP_RECENT && filled < ROLLUP_FILL;
	    d++) {
		if (have[d - start])
			continue;
		rc = roll_day(ctx, cur, d, err);
		if (rc)
			return rc;
		filled++;
		(*n)++;
	}
	return TLY_OK;
}

/*
 * tly_job_reports - the reports job: roll closed days up into
 * report_days, report_block_payees and report_block_products, per
 * configured
 * currency: the last ROLLUP_RECENT days again on every run (a refund
 * that succeeds the next day, a payout paid late), then up to ROLLUP_FILL
 * days never rolled up, back to the first payment (at most ROLLUP_BACK
 * days).  Reads the ledger by the same queries as the live report; writes
 * only the rollup tables, one day per transaction.
 */
int
tly_job_reports(tly_ctx *ctx, tly_err *err)
{
	int64_t today = tly_now_s() / 86400;
	char days[24];
	int i, n = 0, rc;

	for (i = 0; i < ctx->cfg->n_currencies; i++) {
		rc = roll_currency(ctx, ctx->cfg->currencies[i].code, today, &n,
		    err);
		if (rc)
			return rc;
	}
	if (ctx->cfg->n_currencies == 0) {
		rc = roll_currency(ctx, "usd", today, &n, err);
		if (rc)
			return rc;
	}
	snprintf(days, sizeof(days), "%d", n);
	tly_logkv(ctx->log, TLY_LOG_INFO, "reports", "days rolled up",
	    "days", days, NULL);
	return TLY_OK;
}

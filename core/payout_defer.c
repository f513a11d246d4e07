/*
 * payout_defer.c - why a payee's money was not paid out (payout.h)
 *
 * Owns payout_deferrals (012_panel.sql): per (payee, currency), the
 * reason the latest payout run left its pending money unpaid.  The run
 * (payout_run.c) calls tly_payout_deferrals_note() after its payouts:
 * it pages through the payees' pending rows that no payout holds, as
 * the run's candidates do (by (account, currency), TLY_PAYEE_PAGE at a
 * time), and names the first reason that applies:
 *
 *   no_connect_account  the payee has no Connect account yet;
 *   payouts_disabled    Stripe has not enabled its payouts (onboarding
 *                       not finished, or requirements due);
 *   retry_backoff       a transfer to it was refused: it is backed off
 *                       until payout_retry_at;
 *   refund_or_dispute   below its threshold, and rows of a payment with
 *                       a refund in flight or a dispute are held;
 *   hold_period         below its threshold, and rows are inside the
 *                       hold period;
 *   below_threshold     what it may be paid is below its threshold;
 *   balance_short       the platform's available balance, as the run
 *                       left it, does not cover what it may be paid.
 *
 * A payee that reaches its threshold with the balance to cover it has no
 * reason: it was paid, or is being paid by a concurrent run, or is next
 * (payout_max_per_run).  Each row is one autocommitted upsert, never in
 * a money transaction, and only read by the admin panel: it decides
 * nothing.  The rows the pass did not write (the payee was paid, or has
 * nothing pending any more) are deleted at its end; a pass that fails
 * halfway deletes nothing, and the next run corrects it.
 *
 * API:	tly_payout_deferrals_note(), tly_payout_deferrals_list().
 */
#include <stdio.h>
#include <string.h>

#include "payout.h"
#include "tly_str.h"

#define ELIGIBLE_SQL		TLY_ELIGIBLE_SQL

/* held by its payment: disputed, oversold, or a refund in flight */
#define HELD_SQL \
	"EXISTS (SELECT 1 FROM payments p WHERE p.id = s.payment_id AND " \
	"(p.status IN ('disputed', 'refund_pending') OR " \
	"p.requested_refund_cent > p.refunded_cent))"

/* one (payee, currency) of the pass */
typedef struct pending {
	char	 acc[40];
	char	 cur[4];
	int	 connected;
	int	 enabled;
	int	 backoff;
	int64_t	 own_threshold_cent;	/* -1: the currency's */
	int64_t	 total_cent;		/* pending, not claimed */
	int64_t	 payable_cent;		/* eligible (TLY_ELIGIBLE_SQL) */
	int64_t	 held_cent;		/* positive rows held by payment */
} pending;

/* page - the pairs after ('acc', 'cur') with pending money */
static int
page(tly_ctx *ctx, const char *acc, const char *cur, pending *out, int *n,
    tly_err *err)
{
	pending *p;
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT s.account_id, s.currency, "
	    "MAX(a.connect_account_id IS NOT NULL), MAX(a.payouts_enabled), "
	    "MAX(IFNULL(a.payout_retry_at > NOW(3), 0)), "
	    "MAX(IFNULL(a.payout_threshold_cent, -1)), SUM(s.amount_cent), "
	    "SUM(IF(" ELIGIBLE_SQL ", s.amount_cent, 0)), "
	    "SUM(IF(s.amount_cent > 0 AND " HELD_SQL ", s.amount_cent, 0)) "
	    "FROM shares s JOIN accounts a ON a.id = s.account_id WHERE "
	    "a.kind IN " TLY_PAYEE_KINDS_SQL " AND s.status = 'pending' AND "
	    "s.payout_id IS NULL AND (s.account_id > ? OR (s.account_id = ? "
	    "AND s.currency > ?)) GROUP BY s.account_id, s.currency HAVING "
	    "SUM(s.amount_cent) > 0 ORDER BY s.account_id, s.currency "
	    "LIMIT ?", err))
		return q.rc;
	tly_payee_page_bind(ctx, &q, acc, cur);	/* its parameters' order */
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && *n < TLY_PAYEE_PAGE) {
		p = &out[(*n)++];
		tly_q_col_copy(&q, 0, p->acc, sizeof(p->acc));
		tly_q_col_copy(&q, 1, p->cur, sizeof(p->cur));
		p->connected = tly_q_col_i64(&q, 2) != 0;
		p->enabled = tly_q_col_i64(&q, 3) != 0;
		p->backoff = tly_q_col_i64(&q, 4) != 0;
		p->own_threshold_cent = tly_q_col_i64(&q, 5);
		p->total_cent = tly_q_col_i64(&q, 6);
		p->payable_cent = tly_q_col_i64(&q, 7);
		p->held_cent = tly_q_col_i64(&q, 8);
	}
	tly_q_done(&q);
	return rc == TLY_ROW ? TLY_OK : rc;
}

/* left - what run 'r' can still transfer in 'cur' (0: nothing read) */
static int64_t
left(const tly_payout_run *r, const char *cur)
{
	int i;

	for (i = 0; i < r->nbal; i++)
		if (strcmp(r->bal[i].cur, cur) == 0)
			return r->bal[i].avail_cent;
	return 0;
}

/*
 * reason - why run 'r' left 'p' unpaid (see the top of the file), NULL
 * when it did not; 'threshold_cent' gets the threshold compared with
 */
static const char *
reason(const tly_payout_run *r, const pending *p, int64_t *threshold_cent)
{
	const tly_currency *c = tly_config_currency(r->ctx->cfg, p->cur);

	*threshold_cent = p->own_threshold_cent >= 0 ? p->own_threshold_cent :
	    c ? c->payout_threshold_cent : 10000;
	if (!p->connected)
		return "no_connect_account";
	if (!p->enabled)
		return "payouts_disabled";
	if (p->backoff)
		return "retry_backoff";
	if (p->payable_cent <= 0 || p->payable_cent < *threshold_cent) {
		if (p->held_cent > 0)
			return "refund_or_dispute";
		if (p->payable_cent < p->total_cent)
			return "hold_period";
		return "below_threshold";
	}
	if (p->payable_cent > left(r, p->cur))
		return "balance_short";
	return NULL;
}

/* upsert - the row of 'p': 'why', stamped 'run_ms' */
static int
upsert(tly_ctx *ctx, const pending *p, const char *why,
    int64_t threshold_cent, int64_t run_ms, tly_err *err)
{
	/* 'since' first: MariaDB assigns left to right, and it compares
	   the old reason */
	return tly_db_exec(ctx->db, err, NULL, "INSERT INTO payout_deferrals "
	    "(account_id, currency, reason, amount_cent, payable_cent, "
	    "threshold_cent, since, last_run_at) VALUES (?, ?, ?, ?, ?, ?, "
	    "FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000)) ON DUPLICATE "
	    "KEY UPDATE since = IF(reason = VALUES(reason), since, "
	    "VALUES(since)), reason = VALUES(reason), amount_cent = "
	    "VALUES(amount_cent), payable_cent = VALUES(payable_cent), "
	    "threshold_cent = VALUES(threshold_cent), last_run_at = "
	    "VALUES(last_run_at)", "sssiiiii", p->acc, p->cur, why,
	    p->total_cent, p->payable_cent, threshold_cent, run_ms, run_ms);
}

/*
 * tly_payout_deferrals_note - after run 'r' paid its payees: record why
 * each payee with pending money was not paid, delete the rest (see the
 * top of the file).  Never in a transaction; a failure is returned, and
 * what was written stays until the next run.
 */
int
tly_payout_deferrals_note(tly_payout_run *r, tly_err *err)
{
	tly_ctx *ctx = r->ctx;
	pending rows[TLY_PAYEE_PAGE];
	char acc[40] = "", cur[4] = "";
	int64_t run_ms = 0, threshold_cent;
	const char *why;
	int n, i, rc;

	/* the database's clock, as every host's run reads the same one */
	rc = tly_db_row(ctx->db, err, "SELECT FLOOR(UNIX_TIMESTAMP(NOW(3)) * "
	    "1000)", ">i", &run_ms);
	while (rc == TLY_OK) {
		rc = page(ctx, acc, cur, rows, &n, err);
		if (rc || n == 0)
			break;
		for (i = 0; i < n && rc == TLY_OK; i++) {
			why = reason(r, &rows[i], &threshold_cent);
			if (why)
				rc = upsert(ctx, &rows[i], why, threshold_cent,
				    run_ms, err);
		}
		tly_strlcpy(acc, rows[n - 1].acc, sizeof(acc));
		tly_strlcpy(cur, rows[n - 1].cur, sizeof(cur));
	}
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "payout_deferrals WHERE last_run_at < FROM_UNIXTIME(? / "
		    "1000)", "i", run_ms);
	return rc;
}

#define DEFER_SELECT "SELECT d.id, d.account_id, " \
	"IFNULL(a.display_name, ''), d.currency, d.reason, d.amount_cent, " \
	"d.payable_cent, d.threshold_cent, FLOOR(UNIX_TIMESTAMP(d.since)), " \
	"FLOOR(UNIX_TIMESTAMP(d.last_run_at)) FROM payout_deferrals d JOIN " \
	"accounts a ON a.id = d.account_id WHERE d.id < ?"
#define DEFER_TAIL " ORDER BY d.id DESC LIMIT ?"

/*
 * tly_payout_deferrals_list - the deferred payees, newest first (cursor:
 * the numeric id), of reason 'why' and currency 'cur' (NULL: any)
 */
int
tly_payout_deferrals_list(tly_ctx *ctx, const char *why, const char *cur,
    const tly_page *p, tly_payout_deferral **out, int *n, int *more,
    tly_err *err)
{
	tly_payout_deferral *rows, *d;
	int64_t after = INT64_MAX;
	tly_q q;
	int rc;

	*n = *more = 0;
	if (p->starting_after &&
	    tly_parse_i64(p->starting_after, &after) != TLY_OK)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "starting_after", "starting_after must be a deferral id.");
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	/* one filter reads its index, (reason, id) or (currency, id); with
	   both, the other is checked on the first one's rows */
	if (tly_q_prep(ctx->db, &q, why && cur ? DEFER_SELECT " AND d.reason "
	    "= ? AND d.currency = ?" DEFER_TAIL : why ? DEFER_SELECT " AND "
	    "d.reason = ?" DEFER_TAIL : cur ? DEFER_SELECT " AND d.currency = "
	    "?" DEFER_TAIL : DEFER_SELECT DEFER_TAIL, err))
		return q.rc;
	tly_q_i64(&q, after);
	if (why)
		tly_q_str(&q, why);
	if (cur)
		tly_q_str(&q, cur);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		d = &rows[(*n)++];
		d->id = tly_q_col_i64(&q, 0);
		tly_q_col_copy(&q, 1, d->account_id, sizeof(d->account_id));
		tly_q_col_copy(&q, 2, d->account_name, sizeof(d->account_name));
		tly_q_col_copy(&q, 3, d->currency, sizeof(d->currency));
		tly_q_col_copy(&q, 4, d->reason, sizeof(d->reason));
		d->amount_cent = tly_q_col_i64(&q, 5);
		d->payable_cent = tly_q_col_i64(&q, 6);
		d->threshold_cent = tly_q_col_i64(&q, 7);
		d->since = tly_q_col_i64(&q, 8);
		d->last_run_at = tly_q_col_i64(&q, 9);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

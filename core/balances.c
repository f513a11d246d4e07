/*
 * balances.c - what the routes read about a payee's money
 *
 * Owns no table and writes nothing.  tly_balances_get() sums a payee's
 * share rows per currency by their state on the way to a payout
 * (pending, payable or owed back, in transit, paid; docs/ledger.md,
 * "Payouts") and adds what its advances still wait for (advance.c);
 * tly_payouts_list() pages its payouts.  Both read without locks.
 *
 * API:	tly_balances_get(), tly_payouts_list().
 */
#include <string.h>

#include "advance.h"
#include "balances.h"
#include "tly_str.h"

#define ELIGIBLE_SQL		TLY_ELIGIBLE_SQL

/* account_exists - 404 when account 'acc' is unknown */
static int
account_exists(tly_ctx *ctx, const char *acc, tly_err *err)
{
	char id[40];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM accounts WHERE id = ?",
	    "s>s", acc, id, sizeof(id));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account: '%.40s'.", acc);
	return rc;
}

/*
 * tly_balances_get - account 'acc''s balances per currency (at most
 * TLY_MAX_BALANCES) into 'out', their number in '*n'.  404 unknown.
 */
int
tly_balances_get(tly_ctx *ctx, const char *acc, tly_balance *out, int *n,
    tly_err *err)
{
	tly_balance *b;
	int64_t payable_cent;
	tly_q q;
	int rc;

	*n = 0;
	rc = account_exists(ctx, acc, err);
	if (rc)
		return rc;
	if (tly_q_prep(ctx->db, &q, "SELECT s.currency, "
	    "IFNULL(SUM(IF(s.status = 'pending' AND s.payout_id IS NULL AND "
	    "s.amount_cent > 0 AND NOT " ELIGIBLE_SQL ", s.amount_cent, "
	    "0)), 0), "
	    "IFNULL(SUM(IF(s.status = 'pending' AND s.payout_id IS NULL AND "
	    ELIGIBLE_SQL ", s.amount_cent, 0)), 0), "
	    "IFNULL(SUM(IF(s.status = 'claimed', s.amount_cent, 0)), 0), "
	    "IFNULL(SUM(IF(s.status = 'paid', s.amount_cent, 0)), 0) "
	    "FROM shares s WHERE s.account_id = ? GROUP BY s.currency ORDER BY "
	    "s.currency", err))
		return q.rc;
	tly_q_i64(&q, ctx->cfg->payout_hold_days);
	tly_q_i64(&q, ctx->cfg->payout_hold_days);
	tly_q_str(&q, acc);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == TLY_MAX_BALANCES)
			continue;
		b = &out[(*n)++];
		memset(b, 0, sizeof(*b));
		tly_strlcpy(b->currency, tly_q_col_str(&q, 0),
		    sizeof(b->currency));
		b->pending_cent = tly_q_col_i64(&q, 1);
		payable_cent = tly_q_col_i64(&q, 2);
		b->payable_cent = payable_cent > 0 ? payable_cent : 0;
		b->owed_back_cent = payable_cent < 0 ? -payable_cent : 0;
		b->in_transit_cent = tly_q_col_i64(&q, 3);
		b->paid_cent = tly_q_col_i64(&q, 4);
	}
	tly_q_done(&q);
	if (rc == TLY_OK)	/* what its advances still wait for */
		rc = tly_advance_balances(ctx, acc, out, n, err);
	return rc;
}

/* tly_payouts_list - account 'acc''s payouts, newest first (404 unknown) */
int
tly_payouts_list(tly_ctx *ctx, const char *acc, const tly_page *p,
    tly_payout **out, int *n, int *more, tly_err *err)
{
	tly_payout *rows, *x;
	const char *v;
	tly_q q;
	int rc;

	*n = *more = 0;
	rc = account_exists(ctx, acc, err);
	if (rc)
		return rc;
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT p.id, p.account_id, p.currency, "
	    "p.amount_cent, p.reversed_cent, p.state, "
	    "IFNULL(p.stripe_transfer_id, ''), IFNULL(p.last_error, ''), "
	    "(SELECT COUNT(*) FROM shares s WHERE s.payout_id = p.id AND "
	    "s.kind <> 'transfer_reversal'), "
	    "FLOOR(UNIX_TIMESTAMP(p.created_at)), "
	    "IFNULL(FLOOR(UNIX_TIMESTAMP(p.paid_at)), 0) FROM payouts p "
	    "WHERE p.account_id = ? AND p.id < ? ORDER BY p.id DESC LIMIT ?",
	    err))
		return q.rc;
	tly_q_str(&q, acc);
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		x = &rows[(*n)++];
		tly_strlcpy(x->id, tly_q_col_str(&q, 0), sizeof(x->id));
		tly_strlcpy(x->account_id, tly_q_col_str(&q, 1),
		    sizeof(x->account_id));
		tly_strlcpy(x->currency, tly_q_col_str(&q, 2),
		    sizeof(x->currency));
		x->amount_cent = tly_q_col_i64(&q, 3);
		x->reversed_cent = tly_q_col_i64(&q, 4);
		tly_strlcpy(x->state, tly_q_col_str(&q, 5), sizeof(x->state));
		v = tly_q_col_str(&q, 6);
		tly_strlcpy(x->transfer_id, v ? v : "", sizeof(x->transfer_id));
		v = tly_q_col_str(&q, 7);
		tly_strlcpy(x->last_error, v ? v : "", sizeof(x->last_error));
		x->rows = tly_q_col_i64(&q, 8);
		x->created = tly_q_col_i64(&q, 9);
		x->paid_at = tly_q_col_i64(&q, 10);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

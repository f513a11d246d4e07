/*
 * payments.c - the payment rows: the one module that writes them
 *
 * Owns the payments table.  A row is inserted by the completion
 * (complete.c) in its transaction; afterwards only its money columns
 * move: the real Stripe fee (complete.c, the fee settlement), the amount
 * requested for refund and the amount refunded (refund.c,
 * refund_events.c), the amount disputed and the dispute status
 * (dispute.c).  Each caller holds the payment's row lock (docs/ledger.md,
 * "Lock order": checkout -> payment -> shares) and decides; these
 * functions only write, in the caller's transaction.
 *
 * API:	tly_payments_insert(), tly_payments_fee_actual(),
 *	tly_payments_request(), tly_payments_refunded(),
 *	tly_payments_disputed().
 */
#include "payments.h"

/*
 * STATUS_AFTER - the payments.status assignment once refunded_cent is
 * the parameter (given twice): a payment under dispute keeps its status.
 */
#define STATUS_AFTER \
	"status = IF(status IN ('disputed', 'dispute_lost'), status, " \
	"IF(? = 0, 'succeeded', IF(? = amount_cent, 'refunded', " \
	"'partially_refunded')))"

/* tly_payments_insert - the payment 'p', deferred (with the COMMIT) */
int
tly_payments_insert(tly_ctx *ctx, const tly_payments_new *p, tly_err *err)
{
	return tly_db_later(ctx->db, err, "INSERT INTO payments (id, "
	    "purpose, checkout_id, pi_id, charge_id, amount_cent, currency, "
	    "stripe_fee_estimate_cent, fee_bearer_account_id, status, "
	    "completed_via) VALUES (?, 'checkout', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    "ssssisisss", p->id, p->checkout_id, p->pi_id, p->charge_id,
	    p->amount_cent, p->currency, p->fee_estimate_cent,
	    p->fee_bearer_id, p->status, p->via);
}

/*
 * tly_payments_fee_actual - payment 'pay''s real Stripe fee is
 * 'actual_cent', from balance transaction 'txn'
 */
int
tly_payments_fee_actual(tly_ctx *ctx, const char *pay, int64_t actual_cent,
    const char *txn, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "stripe_fee_actual_cent = ?, balance_txn_id = ? WHERE id = ?",
	    "iss", actual_cent, txn, pay);
}

/*
 * tly_payments_request - 'delta_cent' more (negative: less) of payment
 * 'pay' is requested for refund
 */
int
tly_payments_request(tly_ctx *ctx, const char *pay, int64_t delta_cent,
    tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "requested_refund_cent = requested_refund_cent + ? WHERE id = ?",
	    "is", delta_cent, pay);
}

/*
 * tly_payments_refunded - payment 'pay' has 'refunded_cent' refunded in
 * all, its request less 'release_cent' (in one statement: the CHECK
 * refunded <= requested holds after it), its status follows (a payment
 * under dispute keeps its own)
 */
int
tly_payments_refunded(tly_ctx *ctx, const char *pay, int64_t refunded_cent,
    int64_t release_cent, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "refunded_cent = ?, requested_refund_cent = "
	    "requested_refund_cent - ?, " STATUS_AFTER " WHERE id = ?",
	    "iiiis", refunded_cent, release_cent, refunded_cent,
	    refunded_cent, pay);
}

/*
 * tly_payments_disputed - 'moved_cent' more of payment 'pay' is disputed
 * (negative: reinstated), its status now 'status'
 */
int
tly_payments_disputed(tly_ctx *ctx, const char *pay, int64_t moved_cent,
    const char *status, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "disputed_cent = disputed_cent + ?, status = ? WHERE id = ?", "iss",
	    moved_cent, status, pay);
}

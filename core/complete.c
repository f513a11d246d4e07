/*
 * complete.c - completing a payment exactly once (see complete.h)
 *
 * Owns no table: it books the payment (payments.c) and its first share
 * rows (shares.c), takes the stock again (catalog.c) and closes the
 * checkout (checkout.c), each through its table's one writer.
 * One transaction, lock order product (only when stock must be taken
 * again) -> checkout -> payment:
 *
 *   lock the checkout row;
 *   a payment exists for it -> return that one (the other path won);
 *   check the facts against the checkout (refuse a mismatch, above all
 *     a PaymentIntent other than the one the checkout recorded; 409 when
 *     it has not succeeded, or when the checkout's PaymentIntent id is
 *     not recorded yet);
 *   the reservation becomes a sale; if it had expired and its stock was
 *     released, take the stock again, or -- when none is left -- book the
 *     payment as "refund_pending": it is refunded automatically with the
 *     reason recorded, never silently oversold;
 *   insert the payment and its shares (the checkout's snapshotted split,
 *     with the Stripe fee estimate; when the facts carry the real fee, an
 *     adjustment of actual - estimate between the Stripe-fee account and
 *     whoever bears the fee); the payees' earnings recover their open
 *     advances (advance.h: one locking read of the advances, lock order
 *     checkout -> payment -> advances); mark the checkout completed; queue the
 *     buyer's receipt when there is an address (receipt.h; not for an
 *     oversold payment, which is refunded at once); audit.
 *
 * Two concurrent completions of one checkout serialise on its row lock;
 * the second sees the first's payment.  The unique keys on
 * payments(checkout_id), (pi_id) and (charge_id) are the last line.
 *
 * tly_payment_fee_settle() books the adjustment later, when
 * charge.updated brings the balance transaction (asynchronous capture),
 * and moves the fee bearer's advance offsets with it (lock order
 * payment -> advances).  tly_payment_fee_correct() is the same path for
 * a fee Stripe changed after Tally booked it (reconcile.c): the
 * adjustment is new fee - booked fee.
 *
 * The real fee comes from Stripe's balance transaction, which is in the
 * settlement currency: tly_ledger_fee_in() (ledger.c) converts it back
 * into the payment's currency with the transaction's exchange_rate when
 * the two differ (docs/ledger.md, "Fees in another currency").
 *
 * tly_job_checkouts() is the checkouts job of checkout.c with the
 * completion as its hook: a PaymentIntent that succeeded while its cancel
 * was due is completed here, so checkout.c never calls up.
 *
 * API:	tly_payment_complete(), tly_payment_get(),
 *	tly_payment_fee_settle(), tly_payment_fee_correct(),
 *	tly_job_checkouts().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "advance.h"
#include "audit.h"
#include "auth.h"
#include "catalog.h"
#include "checkout.h"
#include "complete.h"
#include "dispute.h"
#include "payments.h"
#include "receipt.h"
#include "refund.h"
#include "split.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"
#define STRIPE_FEE_ACCOUNT	"acc_stripe_fee"

static int
mismatch(tly_ctx *ctx, const char *chk, const char *what, tly_err *err)
{
	tly_logkv(ctx->log, TLY_LOG_ERROR, "complete", "payment facts do not "
	    "match the checkout: nothing booked", "checkout_id", chk, "field",
	    what, NULL);
	return tly_err_param(err, TLY_EK_UNPROCESSABLE, "payment_mismatch",
	    what, "The payment does not match this checkout (%s).", what);
}

/* check_facts - what Stripe says against what Tally recorded */
static int
check_facts(tly_ctx *ctx, const tly_checkout *c, const tly_pi_facts *f,
    tly_err *err)
{
	if (f->checkout_id == NULL || strcmp(f->checkout_id, c->id) != 0)
		return mismatch(ctx, c->id, "metadata.checkout_id", err);
	/* only the PaymentIntent Tally made and recorded for it: one whose
	 * id is not recorded yet (a crash after Stripe made it) waits for
	 * the janitor to record it; the event is retried meanwhile */
	if (c->pi_id[0] == '\0')
		return tly_err_param(err, TLY_EK_CONFLICT,
		    "payment_intent_unrecorded", "checkout_id", "The "
		    "checkout's PaymentIntent is not recorded yet.");
	if (f->pi_id == NULL || strcmp(c->pi_id, f->pi_id) != 0)
		return mismatch(ctx, c->id, "payment_intent", err);
	if (f->status == NULL || strcmp(f->status, "succeeded") != 0)
		return tly_err_param(err, TLY_EK_CONFLICT,
		    "payment_not_succeeded", "checkout_id", "The payment has "
		    "not succeeded (it is %s).", f->status ? f->status : "?");
	if (f->currency == NULL || strcmp(f->currency, c->currency) != 0)
		return mismatch(ctx, c->id, "currency", err);
	if (f->amount_received_cent != c->amount_cent)
		return mismatch(ctx, c->id, "amount_received", err);
	return TLY_OK;
}

/* take_stock - an expired checkout's stock must be taken again */
static int
take_stock(tly_ctx *ctx, tly_completion *a, const tly_checkout *c,
    tly_err *err)
{
	tly_product p;
	int taken = 0;
	int rc;

	if (c->stock_held || tly_checkout_is_open(c->status))
		return TLY_OK;
	if (!a->lock_product) {
		/* restart with the product locked first (the lock order) */
		tly_strlcpy(a->product_id, c->product_id,
		    sizeof(a->product_id));
		a->lock_product = 1;
		tly_err_set(err, TLY_EK_CONFLICT, "retry", "lock order");
		return TLY_AGAIN;
	}
	rc = tly_product_lock(ctx, c->product_id, &p, err);
	if (rc || p.stock < 0)
		return rc;
	rc = tly_product_take(ctx, p.id, c->quantity, &taken, err);
	if (rc)
		return rc;
	if (taken)
		return tly_checkout_stock_taken(ctx, c->id, err);
	a->oversold = 1;
	return TLY_OK;
}

/* shares - the split's rows: role, account, amount */
static int
split_rows(const tly_checkout *c, tly_share_row *rows, int *n,
    int64_t *fee_cent, tly_err *err)
{
	tly_split_in in;
	tly_split_out out;
	const char *acct[TLY_SHARE_N];
	int i, rc;

	tly_checkout_split_in(c, &in);
	rc = tly_split(&in, &out, err);
	if (rc)
		return rc;
	if (out.amount_cent != c->amount_cent)
		return tly_err_internal(err);
	acct[TLY_SHARE_TALENT] = c->seller_id;
	acct[TLY_SHARE_AGENT] = c->agent_id;
	acct[TLY_SHARE_PLATFORM] = PLATFORM_ACCOUNT;
	acct[TLY_SHARE_STRIPE_FEE] = STRIPE_FEE_ACCOUNT;
	acct[TLY_SHARE_AMBASSADOR] = c->ambassador_id;
	acct[TLY_SHARE_HOST_PARTNER] = c->host_id;
	*n = 0;
	for (i = 0; i < TLY_SHARE_N; i++) {
		if (acct[i][0] == '\0')
			continue;		/* no such party */
		tly_strlcpy(rows[*n].role, tly_share_role(i),
		    sizeof(rows[*n].role));
		tly_strlcpy(rows[*n].account_id, acct[i],
		    sizeof(rows[*n].account_id));
		rows[*n].amount_cent = out.share_cent[i];
		(*n)++;
	}
	*fee_cent = out.share_cent[TLY_SHARE_STRIPE_FEE];
	return TLY_OK;
}

/* fee_adjust - actual - estimate, between Stripe's account and the bearer */
static int
fee_adjust(tly_ctx *ctx, const char *pay, const char *currency,
    const char *bearer, int64_t estimate_cent, int64_t actual_cent,
    const char *txn, tly_err *err)
{
	tly_share_pair p;
	int64_t d_cent = actual_cent - estimate_cent;
	int rc;

	rc = tly_payments_fee_actual(ctx, pay, actual_cent, txn, err);
	if (rc || d_cent == 0)
		return rc;
	p.payment_id = pay;
	p.currency = currency;
	p.kind = "fee_adjustment";
	p.cause_id = txn;
	p.from_account = STRIPE_FEE_ACCOUNT;	/* gives -d: receives d */
	p.from_role = "STRIPE_FEE";
	p.to_account = bearer;
	p.to_role = strcmp(bearer, PLATFORM_ACCOUNT) == 0 ? "PLATFORM" :
	    "TALENT";
	p.amount_cent = -d_cent;
	return tly_shares_pair(ctx, &p, err);
}

/*
 * offset_advances - the payees' new earnings in rows 'rows' (less the
 * fee adjustment 'adjust_cent' when 'bearer' bears it) recover their open
 * advances: one locking read of the advances (advance.h) into 'plan',
 * after the checkout's lock and before any write is queued (lock order
 * checkout -> payment -> advances).
 */
static int
offset_advances(tly_ctx *ctx, const char *currency,
    const tly_share_row *rows, int n, const char *bearer, int64_t adjust_cent,
    tly_adv_plan *plan, tly_err *err)
{
	tly_earning earn[TLY_SHARE_N];
	int ne = 0, i, k;

	memset(earn, 0, sizeof(earn));
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].role, "TALENT") && strcmp(rows[i].role,
		    "AGENT") && strcmp(rows[i].role, "AMBASSADOR") &&
		    strcmp(rows[i].role, "HOST_PARTNER"))
			continue;
		for (k = 0; k < ne && strcmp(earn[k].account_id,
		    rows[i].account_id); k++)
			;
		if (k == ne)
			tly_strlcpy(earn[ne++].account_id, rows[i].account_id,
			    sizeof(earn[0].account_id));
		earn[k].amount_cent += rows[i].amount_cent;
		if (bearer && strcmp(bearer, rows[i].account_id) == 0 &&
		    strcmp(rows[i].role, "TALENT") == 0)
			earn[k].amount_cent -= adjust_cent;
	}
	return tly_advance_offset(ctx, currency, earn, ne, plan, err);
}

/*
 * tly_completion_tx - the transaction body of the top of the file, for
 * tly_tx_run_keyed() or inside another body (the webhook's, which stores
 * the event in the same transaction); 'a' is its inputs and outputs.  Two
 * round trips when the stock is held and no payee has an open advance:
 * START TRANSACTION with the checkout's lock (tly_q_exec_text), then
 * every write deferred (tly_db_later) to go with the COMMIT.
 */
int
tly_completion_tx(tly_ctx *ctx, tly_completion *a, tly_err *err)
{
	const tly_pi_facts *f = a->f;
	tly_payments_new np;
	tly_share_row rows[TLY_SHARE_N];
	tly_adv_plan plan;
	tly_product p;
	tly_checkout c;
	const char *bearer;
	int64_t fee_cent = 0;
	int n = 0, rc;
	char detail[96];

	a->existing = a->oversold = 0;
	a->payment_id[0] = a->refund_id[0] = '\0';
	if (a->lock_product) {
		rc = tly_product_lock(ctx, a->product_id, &p, err);
		if (rc)
			return rc;
	}
	rc = tly_checkout_lock_payees(ctx, a->checkout_id, &c, err);
	if (rc)
		return rc;
	if (c.payment_id[0]) {
		tly_strlcpy(a->payment_id, c.payment_id, sizeof(a->payment_id));
		a->existing = 1;
		return TLY_OK;
	}
	rc = check_facts(ctx, &c, f, err);
	if (rc == TLY_OK)
		rc = take_stock(ctx, a, &c, err);
	if (rc == TLY_OK)
		rc = split_rows(&c, rows, &n, &fee_cent, err);
	if (rc)
		return rc;
	if (tly_id_new(a->payment_id, sizeof(a->payment_id), "pay") != TLY_OK)
		return tly_err_internal(err);
	bearer = c.platform_bears_fee ? PLATFORM_ACCOUNT : c.seller_id;
	plan.n = 0;
	/* advance.h: one more round trip, only when a payee has an advance */
	if (!a->oversold && c.has_advance)
		rc = offset_advances(ctx, c.currency, rows, n,
		    f->fee_actual_cent >= 0 && f->balance_txn ? bearer : NULL,
		    f->fee_actual_cent - fee_cent, &plan, err);
	if (rc)
		return rc;
	np.id = a->payment_id;
	np.checkout_id = c.id;
	np.pi_id = f->pi_id;
	np.charge_id = f->charge_id;
	np.amount_cent = c.amount_cent;
	np.currency = c.currency;
	np.fee_estimate_cent = fee_cent;
	np.fee_bearer_id = bearer;
	np.status = a->oversold ? "refund_pending" : "succeeded";
	np.via = a->via;
	rc = tly_payments_insert(ctx, &np, err);
	if (rc == TLY_OK)
		rc = tly_shares_insert(ctx, a->payment_id, c.currency, "split",
		    NULL, rows, n, err);
	if (rc == TLY_OK && f->fee_actual_cent >= 0 && f->balance_txn)
		rc = fee_adjust(ctx, a->payment_id, c.currency, bearer,
		    fee_cent, f->fee_actual_cent, f->balance_txn, err);
	if (rc == TLY_OK)
		rc = tly_advance_offset_post(ctx, a->payment_id, c.currency,
		    &plan, err);
	if (rc == TLY_OK && a->oversold)
		rc = tly_refund_insert(ctx, a->payment_id, 0, c.currency,
		    "oversold", "out of stock when the payment arrived", NULL,
		    a->refund_id, sizeof(a->refund_id), err);
	if (rc == TLY_OK)
		rc = tly_checkout_completed(ctx, c.id, f->pi_id, err);
	if (rc == TLY_OK && !a->oversold)	/* receipt.h */
		rc = tly_receipt_queue(ctx, &c, a->payment_id,
		    a->lock_product ? p.name : NULL, err);
	if (rc)
		return rc;
	snprintf(detail, sizeof(detail), "%lld %s via %s%s",
	    (long long)c.amount_cent, c.currency, a->via,
	    a->oversold ? "; out of stock: refund" : "");
	return tly_audit(ctx, NULL, "payment.complete", a->payment_id, detail,
	    err);
}

/* retrieve_charge - charge 'id' from Stripe */
static int
retrieve_charge(tly_ctx *ctx, const char *id, const tly_jv **obj,
    tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const char *path;

	path = tly_stripe_path(ctx->pool, "/v1/charges/", id, NULL);
	if (path == NULL)
		return tly_err_internal(err);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	return tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "charge", obj,
	    &resp, err);
}

/*
 * early_reversals - after a new payment committed: refunds and disputes
 * Stripe made before the completion (their events came first and failed
 * retryably, refund_events.c, dispute.c) are booked now, through the
 * events' own code (tly_refund_event, tly_dispute_charge), so whichever
 * of the two comes first books and the other finds nothing left.  The
 * latest charge in the facts says whether there is anything
 * (amount_refunded, disputed): nothing is read in the common case.
 * Without it (the checkouts job, a stored event acted on again) the
 * charge is read from Stripe; on the webhook's inline path (the hot
 * one) nothing is read: an earlier event waits for its retry, which
 * books it (docs/ledger.md, "Refunds and disputes before the
 * completion").  A failure is logged; those retries book it then.
 */
static void
early_reversals(tly_ctx *ctx, const tly_completion *a)
{
	const tly_pi_facts *f = a->f;
	const tly_jv *charge = f->charge;
	const char *status;
	tly_charge_facts cf;
	tly_st_charge ch;
	tly_err e;
	int rc = TLY_OK;

	memset(&ch, 0, sizeof(ch));
	if (a->existing || a->payment_id[0] == '\0' || f->charge_id == NULL)
		return;
	if (charge == NULL && a->inline_event)
		return;
	tly_err_clear(&e);
	if (charge == NULL)
		rc = retrieve_charge(ctx, f->charge_id, &charge, &e);
	if (rc == TLY_OK && tly_st_charge_parse(charge, &ch) != TLY_OK)
		rc = tly_err_internal(&e);
	if (rc == TLY_OK && ch.amount_refunded_cent > 0) {
		tly_charge_facts_from(charge, &cf);
		rc = tly_refund_event(ctx, &cf, &status, &e);
	}
	if (rc == TLY_OK && ch.disputed)
		rc = tly_dispute_charge(ctx, f->charge_id, &e);
	if (rc)
		tly_logkv(ctx->log, TLY_LOG_WARN, "complete", "refunds or "
		    "disputes before the completion not booked yet: their "
		    "events' retries book them", "payment_id", a->payment_id,
		    "code", e.code, NULL);
	else if (ch.amount_refunded_cent > 0 || ch.disputed)
		tly_logkv(ctx->log, TLY_LOG_INFO, "complete", "refunds or "
		    "disputes before the completion booked", "payment_id",
		    a->payment_id, "charge", f->charge_id, NULL);
}

/*
 * tly_completion_after - after the completion committed: an oversold
 * payment's refund is created at Stripe now (the "refunds" job finishes
 * it if this fails); refunds and disputes Stripe made before the
 * completion are booked (early_reversals).
 */
void
tly_completion_after(tly_ctx *ctx, const tly_completion *a)
{
	tly_err e;

	if (a->refund_id[0]) {
		tly_err_clear(&e);
		if (tly_refund_finish(ctx, a->refund_id, &e) != TLY_OK)
			tly_logkv(ctx->log, TLY_LOG_WARN, "complete", "refund "
			    "of an oversold payment not done yet", "refund_id",
			    a->refund_id, "code", e.code, NULL);
	}
	early_reversals(ctx, a);
}

/* completion_tx - tly_completion_tx as a typed body of its own runner */
TLY_TX_TYPED(completion_tx, tly_completion)

static int
completion_tx(tly_ctx *ctx, tly_completion *a, tly_err *err)
{
	return tly_completion_tx(ctx, a, err);
}

/*
 * tly_payment_complete - complete checkout 'checkout_id' with facts 'f'
 * reported 'via' ("client", "webhook", "job"); the payment (new or
 * existing) goes to 'out'.
 */
int
tly_payment_complete(tly_ctx *ctx, const char *checkout_id,
    const tly_pi_facts *f, const char *via, tly_payment *out, tly_err *err)
{
	tly_completion a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.checkout_id = checkout_id;
	a.f = f;
	a.via = via;
	rc = completion_tx_run_keyed(ctx, "payment.complete", &a, err);
	if (rc)
		return rc;
	tly_completion_after(ctx, &a);
	if (!a.existing)
		tly_logkv(ctx->log, TLY_LOG_INFO, "complete", a.oversold ?
		    "payment completed out of stock: to be refunded" :
		    "payment completed", "checkout_id", checkout_id,
		    "payment_id", a.payment_id, "payment_intent", f->pi_id,
		    "via", via, NULL);
	rc = tly_payment_get(ctx, a.payment_id, out, err);
	if (rc == TLY_OK)
		out->existing = a.existing;
	return rc;
}

/*
 * tly_payment_complete_client - the browser's path: buyer 'buyer' says
 * checkout 'id' is paid; Tally asks Stripe (never the client) and
 * completes with what Stripe says.
 */
int
tly_payment_complete_client(tly_ctx *ctx, const char *id, const char *buyer,
    tly_payment *out, tly_err *err)
{
	const char *path;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *obj;
	tly_checkout c;
	tly_pi_facts f;
	tly_form q;
	int rc;

	rc = tly_checkout_get(ctx, id, buyer, &c, err);
	if (rc)
		return rc;
	if (c.payment_id[0])
		return tly_payment_get(ctx, c.payment_id, out, err);
	if (c.pi_id[0] == '\0')
		return tly_err_param(err, TLY_EK_CONFLICT,
		    "payment_not_started", "checkout_id",
		    "This checkout has no payment yet.");
	path = tly_stripe_path(ctx->pool, "/v1/payment_intents/", c.pi_id,
	    NULL);
	if (path == NULL)
		return tly_err_internal(err);
	tly_form_init(&q);
	tly_form_str(&q, "expand[]", "latest_charge.balance_transaction");
	rq = (tly_stripe_req){ "GET", path, &q, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "payment_intent",
	    &obj, &resp, err);
	tly_form_free(&q);
	if (rc)
		return rc;
	if (tly_pi_facts_from(obj, &f) != TLY_OK)
		return tly_err_internal(err);
	return tly_payment_complete(ctx, c.id, &f, "client", out, err);
}

/* tly_payment_get - payment 'id' with its share rows */
int
tly_payment_get(tly_ctx *ctx, const char *id, tly_payment *p, tly_err *err)
{
	int64_t actual_cent = 0;
	int isnull = 1;
	tly_q q;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = tly_db_row(ctx->db, err, "SELECT id, IFNULL(checkout_id, ''), "
	    "pi_id, IFNULL(charge_id, ''), currency, status, completed_via, "
	    "amount_cent, stripe_fee_estimate_cent, stripe_fee_actual_cent, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)) FROM payments WHERE id = ?",
	    "s>sssssssiini", id, p->id, sizeof(p->id), p->checkout_id,
	    sizeof(p->checkout_id), p->pi_id, sizeof(p->pi_id), p->charge_id,
	    sizeof(p->charge_id), p->currency, sizeof(p->currency), p->status,
	    sizeof(p->status), p->completed_via, sizeof(p->completed_via),
	    &p->amount_cent, &p->fee_estimate_cent, &actual_cent, &isnull,
	    &p->created);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", id);
	if (rc)
		return rc;
	p->fee_actual_cent = isnull ? -1 : actual_cent;
	if (tly_q_prep(ctx->db, &q, "SELECT role, account_id, kind, status, "
	    "amount_cent FROM shares WHERE payment_id = ? ORDER BY id", err))
		return q.rc;
	tly_q_str(&q, id);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_share_row *s;

		if (p->nshares == TLY_MAX_SHARES)
			continue;
		s = &p->shares[p->nshares++];
		tly_strlcpy(s->role, tly_q_col_str(&q, 0), sizeof(s->role));
		tly_strlcpy(s->account_id, tly_q_col_str(&q, 1),
		    sizeof(s->account_id));
		tly_strlcpy(s->kind, tly_q_col_str(&q, 2), sizeof(s->kind));
		tly_strlcpy(s->status, tly_q_col_str(&q, 3), sizeof(s->status));
		s->amount_cent = tly_q_col_i64(&q, 4);
	}
	tly_q_done(&q);
	return rc;
}

typedef struct settle_args {
	const char	*charge_or_pi;
	const char	*txn;
	int64_t		 fee_cent;
	int		 correct;	/* a booked fee Stripe changed */
	int		 booked;
} settle_args;

/*
 * settle_tx - lock the payment; book the adjustment once, and move the
 * fee bearer's advance offsets in the payment with its earning
 * (advance.h; lock order payment -> advances).  An oversold payment
 * offset nothing and is refunded at once: nothing moves.
 */
TLY_TX_TYPED(settle_tx, settle_args)

static int
settle_tx(tly_ctx *ctx, settle_args *a, tly_err *err)
{
	char id[40], cur[8], bearer[40], status[24];
	int64_t est_cent = 0, actual_cent = 0, amount_cent = 0;
	int64_t reversed_cent = 0;
	int isnull = 1, rc;

	a->booked = 0;
	rc = tly_db_row(ctx->db, err, "SELECT id, currency, "
	    "fee_bearer_account_id, status, stripe_fee_estimate_cent, "
	    "stripe_fee_actual_cent, amount_cent, refunded_cent + "
	    "disputed_cent FROM payments WHERE charge_id = ? OR pi_id = ? "
	    "FOR UPDATE", "ss>ssssinii", a->charge_or_pi, a->charge_or_pi, id,
	    sizeof(id), cur, sizeof(cur), bearer, sizeof(bearer), status,
	    sizeof(status), &est_cent, &actual_cent, &isnull, &amount_cent,
	    &reversed_cent);
	if (rc == TLY_NOTFOUND)
		return rc;	/* not completed yet: the caller retries */
	if (rc == TLY_OK && !isnull && (!a->correct ||
	    actual_cent == a->fee_cent))
		return TLY_OK;		/* already booked */
	if (rc)
		return rc;
	a->booked = 1;
	if (!isnull)			/* a correction: from the booked fee */
		est_cent = actual_cent;
	rc = fee_adjust(ctx, id, cur, bearer, est_cent, a->fee_cent, a->txn,
	    err);
	if (rc == TLY_OK && a->correct)
		rc = tly_audit_system(ctx, "reconcile", "fee.settled", id,
		    a->txn, err);
	if (rc || strcmp(bearer, PLATFORM_ACCOUNT) == 0 ||
	    strcmp(status, "refund_pending") == 0)
		return rc;
	return tly_advance_refee(ctx, id, cur, bearer, amount_cent,
	    reversed_cent, a->fee_cent - est_cent, err);
}

/*
 * tly_payment_fee_settle - the real Stripe fee 'fee_cent' of balance
 * transaction 'txn' for the payment of charge (or PaymentIntent) 'id':
 * the adjustment row is booked once.
 */
int
tly_payment_fee_settle(tly_ctx *ctx, const char *id, const char *txn,
    int64_t fee_cent, tly_err *err)
{
	settle_args a;

	memset(&a, 0, sizeof(a));
	a.charge_or_pi = id;
	a.txn = txn;
	a.fee_cent = fee_cent;
	return settle_tx_run(ctx, "payment.fee_settle", &a, err);
}

/*
 * tly_payment_fee_correct - reconciliation found Stripe's fee of charge
 * 'charge' (balance transaction 'txn') to be 'fee_cent', not the fee
 * Tally booked (or only estimated): the difference is booked through the
 * same path as a late real fee (fee_adjustment rows, the bearer's
 * advance offsets), once, audited as the system ("reconcile",
 * fee.settled).  '*booked' 1 when something moved.
 */
int
tly_payment_fee_correct(tly_ctx *ctx, const char *charge, const char *txn,
    int64_t fee_cent, int *booked, tly_err *err)
{
	settle_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.charge_or_pi = charge;
	a.txn = txn;
	a.fee_cent = fee_cent;
	a.correct = 1;
	rc = settle_tx_run(ctx, "payment.fee_correct", &a, err);
	*booked = rc == TLY_OK && a.booked;
	return rc;
}

/* job_paid - the checkouts job found checkout 'id''s PaymentIntent paid */
static int
job_paid(tly_ctx *ctx, const char *id, const tly_pi_facts *f, tly_err *err)
{
	tly_payment pay;

	return tly_payment_complete(ctx, id, f, "job", &pay, err);
}

/*
 * tly_job_checkouts - the "checkouts" job (checkout.c: tly_checkout_job),
 * completing a PaymentIntent found succeeded while its cancel was due
 */
int
tly_job_checkouts(tly_ctx *ctx, tly_err *err)
{
	tly_checkout_hooks h = { job_paid };

	return tly_checkout_job(ctx, &h, err);
}

/*
 * complete.c - completing a payment exactly once (see complete.h)
 *
 * Owns the payments table and the first share rows of each payment.
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
 * payment -> advances).
 *
 * The real fee comes from Stripe's balance transaction, which is in the
 * settlement currency: tly_payment_fee_in() converts it back into the
 * payment's currency with the transaction's exchange_rate when the two
 * differ (docs/ledger.md, "Fees in another currency").
 *
 * API:	tly_pi_facts_from(), tly_payment_complete(), tly_payment_get(),
 *	tly_payment_fee_in(), tly_payment_fee_settle().
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
#include "receipt.h"
#include "refund.h"
#include "split.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"
#define STRIPE_FEE_ACCOUNT	"acc_stripe_fee"
#define FEE_MAX			1000000000000000LL	/* 10^15 */

/*
 * rate_parse - the decimal 'v' (a JSON number, never a double) as
 * 'm' / 10^'k' with 0 < m < 10^18 and 0 <= k <= 18.
 */
static int
rate_parse(const tly_jv *v, int64_t *m, int *k)
{
	const char *p;
	int64_t n = 0, e = 0;
	int scale = 0, digits = 0, frac = 0, eneg = 0;

	if (v && v->type == TLY_JINT && v->i > 0) {
		*m = v->i;
		*k = 0;
		return TLY_OK;
	}
	if (v == NULL || v->type != TLY_JNUM || v->s == NULL)
		return TLY_ERR;
	for (p = v->s; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.' && !frac) {
			frac = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			return TLY_ERR;
		scale += frac;
		if (n == 0 && *p == '0')
			continue;		/* leading zeros */
		if (++digits > 17)
			return TLY_ERR;
		n = n * 10 + (*p - '0');
	}
	if (*p) {			/* an exponent */
		p++;
		if (*p == '-' || *p == '+')
			eneg = *p++ == '-';
		if (*p == '\0')
			return TLY_ERR;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || e > 36)
				return TLY_ERR;
			e = e * 10 + (*p - '0');
		}
	}
	scale += eneg ? (int)e : -(int)e;
	for (; scale < 0 && n < INT64_MAX / 10; scale++)
		n *= 10;
	if (n <= 0 || scale < 0 || scale > 18)
		return TLY_ERR;
	*m = n;
	*k = scale;
	return TLY_OK;
}

/*
 * tly_payment_fee_in - the fee of balance transaction 'bt' in currency
 * 'currency' (the payment's) into '*fee_cent'.  Stripe keeps a balance
 * transaction in the settlement currency; when that is another one, the
 * fee is converted back with the transaction's exchange_rate r (an
 * amount in the payment's currency, times r, is the amount in the
 * settlement currency, in major units):
 *
 *	fee_cent = fee_settled × 10^exp(currency) / (r × 10^exp(settled))
 *
 * rounded to the nearest minor unit, halves away from zero, in exact
 * integer arithmetic (docs/ledger.md, "Fees in another currency").
 * TLY_ERR when the currencies differ and there is no usable rate.
 */
int
tly_payment_fee_in(const tly_st_balance_txn *bt, const char *currency,
    int64_t *fee_cent)
{
	__int128 num, den, q;
	int64_t m;
	int k, i;

	if (bt->currency == NULL || currency == NULL)
		return TLY_ERR;
	if (strcmp(bt->currency, currency) == 0) {
		*fee_cent = bt->fee;
		return TLY_OK;
	}
	if (rate_parse(bt->exchange_rate, &m, &k) != TLY_OK ||
	    bt->fee > FEE_MAX || bt->fee < -FEE_MAX)
		return TLY_ERR;
	num = bt->fee < 0 ? -(__int128)bt->fee : (__int128)bt->fee;
	for (i = 0; i < k + tly_currency_exponent(currency); i++)
		num *= 10;
	den = m;
	for (i = 0; i < tly_currency_exponent(bt->currency); i++)
		den *= 10;
	q = (2 * num + den) / (2 * den);
	if (q > INT64_MAX)
		return TLY_ERR;
	*fee_cent = bt->fee < 0 ? -(int64_t)q : (int64_t)q;
	return TLY_OK;
}

/*
 * tly_pi_facts_from - the facts in a PaymentIntent object (its latest
 * charge and balance transaction count only when expanded in it; the
 * real fee only when it can be had in the payment's currency).
 */
int
tly_pi_facts_from(const tly_jv *o, tly_pi_facts *f)
{
	tly_st_pi pi;
	tly_st_charge ch;
	tly_st_balance_txn bt;

	memset(f, 0, sizeof(*f));
	f->fee_actual = -1;
	if (tly_st_pi_parse(o, &pi) != TLY_OK)
		return TLY_ERR;
	f->pi_id = pi.id;
	f->status = pi.status;
	f->currency = pi.currency;
	f->amount_received = pi.amount_received;
	f->checkout_id = tly_st_metadata(pi.metadata, "checkout_id");
	f->charge_id = pi.latest_charge;
	if (pi.charge && tly_st_charge_parse(pi.charge, &ch) == TLY_OK) {
		f->charge = pi.charge;
		f->balance_txn = ch.balance_transaction;
		if (ch.balance_txn &&
		    tly_st_balance_txn_parse(ch.balance_txn, &bt) == TLY_OK &&
		    tly_payment_fee_in(&bt, pi.currency, &f->fee_actual) !=
		    TLY_OK)
			f->fee_actual = -1;	/* charge.updated logs it */
	}
	return TLY_OK;
}


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
	if (f->amount_received != c->amount_cent)
		return mismatch(ctx, c->id, "amount_received", err);
	return TLY_OK;
}

/* take_stock - an expired checkout's stock must be taken again */
static int
take_stock(tly_ctx *ctx, tly_completion *a, const tly_checkout *c,
    tly_err *err)
{
	tly_product p;
	uint64_t n = 0;
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
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE products SET stock = stock "
	    "- ? WHERE id = ? AND stock >= ?", "isi", c->quantity, p.id,
	    c->quantity);
	if (rc)
		return rc;
	if (n == 1)
		return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET "
		    "stock_held = 1 WHERE id = ?", "s", c->id);
	a->oversold = 1;
	return TLY_OK;
}

/* shares - the split's rows: role, account, amount */
static int
split_rows(const tly_checkout *c, tly_share_row *rows, int *n, int64_t *fee,
    tly_err *err)
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
		rows[*n].amount_cent = out.share[i];
		(*n)++;
	}
	*fee = out.share[TLY_SHARE_STRIPE_FEE];
	return TLY_OK;
}

static const char *insert_shares_sql[] = {
	NULL,
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
};

/*
 * tly_shares_insert - 'n' rows of kind 'kind' for payment 'pay' in one
 * statement, deferred inside a transaction (tly_q_later); 'cause' names
 * what caused them.
 */
int
tly_shares_insert(tly_ctx *ctx, const char *pay, const char *currency,
    const char *kind, const char *cause, const tly_share_row *rows, int n,
    tly_err *err)
{
	tly_q q;
	int i, k, rc = TLY_OK, chunk;

	for (i = 0; i < n && rc == TLY_OK; i += chunk) {
		chunk = n - i > TLY_SHARE_N ? TLY_SHARE_N : n - i;
		if (tly_q_prep(ctx->db, &q, insert_shares_sql[chunk], err))
			return q.rc;
		for (k = i; k < i + chunk; k++) {
			tly_q_str(&q, pay);
			tly_q_str(&q, rows[k].account_id);
			tly_q_str(&q, rows[k].role);
			tly_q_str(&q, kind);
			tly_q_i64(&q, rows[k].amount_cent);
			tly_q_str(&q, currency);
			tly_q_str(&q, "pending");
			tly_q_str(&q, cause);
		}
		rc = tly_q_later(&q);	/* with the next round trip */
		tly_q_done(&q);
	}
	return rc;
}

/* fee_adjust - actual - estimate, between Stripe's account and the bearer */
static int
fee_adjust(tly_ctx *ctx, const char *pay, const char *currency,
    const char *bearer, int64_t estimate, int64_t actual, const char *txn,
    tly_err *err)
{
	tly_share_row rows[2];
	int64_t d = actual - estimate;
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "stripe_fee_actual_cent = ?, balance_txn_id = ? WHERE id = ?",
	    "iss", actual, txn, pay);
	if (rc || d == 0)
		return rc;
	memset(rows, 0, sizeof(rows));
	tly_strlcpy(rows[0].role, "STRIPE_FEE", sizeof(rows[0].role));
	tly_strlcpy(rows[0].account_id, STRIPE_FEE_ACCOUNT,
	    sizeof(rows[0].account_id));
	rows[0].amount_cent = d;
	tly_strlcpy(rows[1].role, strcmp(bearer, PLATFORM_ACCOUNT) == 0 ?
	    "PLATFORM" : "TALENT", sizeof(rows[1].role));
	tly_strlcpy(rows[1].account_id, bearer, sizeof(rows[1].account_id));
	rows[1].amount_cent = -d;
	return tly_shares_insert(ctx, pay, currency, "fee_adjustment", txn,
	    rows, 2, err);
}

/*
 * offset_advances - the payees' new earnings in rows 'rows' (less the
 * fee adjustment 'adjust' when 'bearer' bears it) recover their open
 * advances: one locking read of the advances (advance.h) into 'plan',
 * after the checkout's lock and before any write is queued (lock order
 * checkout -> payment -> advances).
 */
static int
offset_advances(tly_ctx *ctx, const char *currency,
    const tly_share_row *rows, int n, const char *bearer, int64_t adjust,
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
			earn[k].amount_cent -= adjust;
	}
	return tly_advance_offset(ctx, currency, earn, ne, plan, err);
}

/*
 * tly_completion_tx - the transaction body of the top of the file, for
 * tly_tx_run_keyed() or inside another body (the webhook's, which stores
 * the event in the same transaction); 'arg' is a tly_completion.  Two
 * round trips when the stock is held and no payee has an open advance:
 * START TRANSACTION with the checkout's lock (tly_q_exec_text), then
 * every write deferred (tly_db_later) to go with the COMMIT.
 */
int
tly_completion_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	tly_completion *a = arg;
	const tly_pi_facts *f = a->f;
	tly_share_row rows[TLY_SHARE_N];
	tly_adv_plan plan;
	tly_product p;
	tly_checkout c;
	const char *bearer;
	int64_t fee = 0;
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
		rc = split_rows(&c, rows, &n, &fee, err);
	if (rc)
		return rc;
	if (tly_id_new(a->payment_id, sizeof(a->payment_id), "pay") != TLY_OK)
		return tly_err_internal(err);
	bearer = c.platform_bears_fee ? PLATFORM_ACCOUNT : c.seller_id;
	plan.n = 0;
	/* advance.h: one more round trip, only when a payee has an advance */
	if (!a->oversold && c.has_advance)
		rc = offset_advances(ctx, c.currency, rows, n,
		    f->fee_actual >= 0 && f->balance_txn ? bearer : NULL,
		    f->fee_actual - fee, &plan, err);
	if (rc)
		return rc;
	rc = tly_db_later(ctx->db, err, "INSERT INTO payments (id, "
	    "purpose, checkout_id, pi_id, charge_id, amount_cent, currency, "
	    "stripe_fee_estimate_cent, fee_bearer_account_id, status, "
	    "completed_via) VALUES (?, 'checkout', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    "ssssisisss", a->payment_id, c.id, f->pi_id, f->charge_id,
	    c.amount_cent, c.currency, fee, bearer,
	    a->oversold ? "refund_pending" : "succeeded", a->via);
	if (rc == TLY_OK)
		rc = tly_shares_insert(ctx, a->payment_id, c.currency, "split",
		    NULL, rows, n, err);
	if (rc == TLY_OK && f->fee_actual >= 0 && f->balance_txn)
		rc = fee_adjust(ctx, a->payment_id, c.currency, bearer, fee,
		    f->fee_actual, f->balance_txn, err);
	if (rc == TLY_OK)
		rc = tly_advance_offset_post(ctx, a->payment_id, c.currency,
		    &plan, err);
	if (rc == TLY_OK && a->oversold)
		rc = tly_refund_insert(ctx, a->payment_id, 0, c.currency,
		    "oversold", "out of stock when the payment arrived", NULL,
		    a->refund_id, sizeof(a->refund_id), err);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE checkouts SET "
		    "status = 'completed', open_key = NULL, pi_id = ?, "
		    "pi_state = 'created' WHERE id = ?", "ss", f->pi_id, c.id);
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
	if (rc == TLY_OK && ch.amount_refunded > 0)
		rc = tly_refund_event(ctx, charge, &status, &e);
	if (rc == TLY_OK && ch.disputed)
		rc = tly_dispute_charge(ctx, f->charge_id, &e);
	if (rc)
		tly_logkv(ctx->log, TLY_LOG_WARN, "complete", "refunds or "
		    "disputes before the completion not booked yet: their "
		    "events' retries book them", "payment_id", a->payment_id,
		    "code", e.code, NULL);
	else if (ch.amount_refunded > 0 || ch.disputed)
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
	rc = tly_tx_run_keyed(ctx, "payment.complete", tly_completion_tx, &a,
	    err);
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
	int64_t actual = 0;
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
	    &p->amount_cent, &p->fee_estimate_cent, &actual, &isnull,
	    &p->created);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", id);
	if (rc)
		return rc;
	p->fee_actual_cent = isnull ? -1 : actual;
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
	int64_t		 fee;
	int		 booked;
} settle_args;

/*
 * settle_tx - lock the payment; book the adjustment once, and move the
 * fee bearer's advance offsets in the payment with its earning
 * (advance.h; lock order payment -> advances).  An oversold payment
 * offset nothing and is refunded at once: nothing moves.
 */
static int
settle_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	settle_args *a = arg;
	char id[40], cur[8], bearer[40], status[24];
	int64_t est = 0, actual = 0, amount = 0, reversed = 0;
	int isnull = 1, rc;

	a->booked = 0;
	rc = tly_db_row(ctx->db, err, "SELECT id, currency, "
	    "fee_bearer_account_id, status, stripe_fee_estimate_cent, "
	    "stripe_fee_actual_cent, amount_cent, refunded_cent + "
	    "disputed_cent FROM payments WHERE charge_id = ? OR pi_id = ? "
	    "FOR UPDATE", "ss>ssssinii", a->charge_or_pi, a->charge_or_pi, id,
	    sizeof(id), cur, sizeof(cur), bearer, sizeof(bearer), status,
	    sizeof(status), &est, &actual, &isnull, &amount, &reversed);
	if (rc == TLY_NOTFOUND)
		return rc;	/* not completed yet: the caller retries */
	if (rc == TLY_OK && !isnull)
		return TLY_OK;		/* already booked */
	if (rc)
		return rc;
	a->booked = 1;
	rc = fee_adjust(ctx, id, cur, bearer, est, a->fee, a->txn, err);
	if (rc || strcmp(bearer, PLATFORM_ACCOUNT) == 0 ||
	    strcmp(status, "refund_pending") == 0)
		return rc;
	return tly_advance_refee(ctx, id, cur, bearer, amount, reversed,
	    a->fee - est, err);
}

/*
 * tly_payment_fee_settle - the real Stripe fee 'fee' of balance
 * transaction 'txn' for the payment of charge (or PaymentIntent) 'id':
 * the adjustment row is booked once.
 */
int
tly_payment_fee_settle(tly_ctx *ctx, const char *id, const char *txn,
    int64_t fee, tly_err *err)
{
	settle_args a;

	memset(&a, 0, sizeof(a));
	a.charge_or_pi = id;
	a.txn = txn;
	a.fee = fee;
	return tly_tx_run(ctx, "payment.fee_settle", settle_tx, &a, err);
}

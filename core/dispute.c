/*
 * dispute.c - disputes (chargebacks) of Tally's payments (dispute.h)
 *
 * Owns the disputes table and the share rows of kinds dispute and
 * dispute_reinstated.  Every charge.dispute.* event is handled the same
 * way, so that a repeated, late or reordered event books nothing twice:
 *
 *   1. outside any transaction, retrieve the dispute from Stripe (the
 *      event's object is a snapshot);
 *   2. from its balance transactions derive what Stripe has done so far:
 *      withdrawn W = the dispute's amount while it has more withdrawals
 *      than reinstatements, else 0; fee F = the sum of their fees (a
 *      reinstatement that gives the dispute fee back has a negative fee;
 *      the pinned API version keeps it, and so does the emulator);
 *   3. one transaction, lock order payment -> dispute: book only the
 *      differences from what the dispute row says was booked:
 *        W - withdrawn_cent   through the reversal engine
 *                             (tly_reversal_post), kind dispute when
 *                             positive, dispute_reinstated when negative,
 *                             moving C = refunded_cent + disputed_cent;
 *        F - fee_cent         a zero-sum pair of role DISPUTE_FEE: -x on
 *                             the account bearing the dispute fee (the
 *                             talent, or the platform with [pricing]
 *                             dispute_fee_payer = platform; fixed per
 *                             dispute at its first fee) and +x on the
 *                             Stripe-fee account;
 *      and set the statuses: the dispute's as Stripe says; the payment's
 *      'disputed' while the dispute is open (its positive rows are then
 *      not eligible for payout), 'dispute_lost' when lost, and back to
 *      succeeded / partially_refunded / refunded (by refunded_cent) when
 *      won or closed as a warning.
 *
 * Stripe settles a dispute fee in the settlement currency: each
 * balance transaction's fee is taken in the payment's currency as the
 * charge's real fee is (tly_ledger_fee_in: converted at its
 * exchange_rate, halves away from zero, docs/ledger.md); only a fee in
 * another currency without a rate is left unbooked, logged for the
 * operator.
 *
 * An event that comes before the payment's completion committed fails
 * retryably (tly_refund_payment_of: 409 payment_not_completed) and the
 * "webhooks" job tries it again; the completion, when the charge says
 * it is disputed, books its disputes itself (tly_dispute_charge: the
 * charge's disputes listed from Stripe, each through
 * tly_dispute_event()), so whichever comes first books and the other
 * finds nothing left to book.
 *
 * API:	tly_dispute_event(), tly_dispute_charge().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "ledger.h"
#include "payments.h"
#include "shares.h"
#include "dispute.h"
#include "refund.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"
#define STRIPE_FEE_ACCOUNT	"acc_stripe_fee"

/* what Stripe says of one dispute */
typedef struct dp_facts {
	tly_st_dispute	 d;
	int64_t		 withdrawn_cent;	/* W */
	int64_t		 fee_cent;		/* F, when fee_ok */
	int		 fee_ok;
	int		 open;
} dp_facts;

/* is_open - a status of a dispute Stripe has not decided */
static int
is_open(const char *st)
{
	static const char *open[] = { "warning_needs_response",
	    "warning_under_review", "needs_response", "under_review", NULL };
	int i;

	for (i = 0; st && open[i]; i++)
		if (strcmp(st, open[i]) == 0)
			return 1;
	return 0;
}

/* facts - W and F from dispute 'obj' (see the top of the file) */
static int
facts(const tly_jv *obj, const char *currency, dp_facts *f)
{
	tly_st_balance_txn bt;
	const tly_jv *e;
	int64_t fee_cent;
	int out = 0, back = 0;

	memset(f, 0, sizeof(*f));
	if (tly_st_dispute_parse(obj, &f->d) != TLY_OK || f->d.id == NULL ||
	    f->d.status == NULL || f->d.amount_cent < 0)
		return TLY_ERR;
	f->fee_ok = 1;
	for (e = f->d.balance_transactions ? f->d.balance_transactions->child :
	    NULL; e; e = e->next) {
		if (tly_st_balance_txn_parse(e, &bt) != TLY_OK)
			return TLY_ERR;
		if (bt.amount_cent < 0)
			out++;
		else if (bt.amount_cent > 0)
			back++;
		/* in the settlement currency: converted as the charge's fee */
		if (tly_ledger_fee_in(bt.fee_cent, bt.currency,
		    bt.exchange_rate, currency, &fee_cent) != TLY_OK)
			f->fee_ok = 0;
		else
			f->fee_cent += fee_cent;
	}
	f->withdrawn_cent = out > back ? f->d.amount_cent : 0;
	f->open = is_open(f->d.status);
	return TLY_OK;
}

typedef struct sync_args {
	const char	*pay;
	const dp_facts	*f;
	int64_t		 moved_cent, fee_moved_cent;
} sync_args;

/* fee_rows - the dispute fee pair for 'd_cent' (positive: charged) */
static int
fee_rows(tly_ctx *ctx, const char *pay, const char *cur, const char *dp,
    const char *acct, int64_t d_cent, tly_err *err)
{
	tly_share_pair p;

	p.payment_id = pay;
	p.currency = cur;
	p.kind = d_cent > 0 ? "dispute" : "dispute_reinstated";
	p.cause_id = dp;
	p.from_account = acct;
	p.from_role = "DISPUTE_FEE";
	p.to_account = STRIPE_FEE_ACCOUNT;
	p.to_role = "DISPUTE_FEE";
	p.amount_cent = d_cent;
	return tly_shares_pair(ctx, &p, err);
}

/* fee_account - who bears dispute 'dp''s fee (fixed at its first fee) */
static int
fee_account(tly_ctx *ctx, const char *pay, char *acct, size_t sz,
    tly_err *err)
{
	if (acct[0])
		return TLY_OK;
	if (ctx->cfg->platform_bears_dispute_fee) {
		tly_strlcpy(acct, PLATFORM_ACCOUNT, sz);
		return TLY_OK;
	}
	return tly_db_row(ctx->db, err, "SELECT account_id FROM shares WHERE "
	    "payment_id = ? AND role = 'TALENT' AND kind = 'split' ORDER BY "
	    "id LIMIT 1", "s>s", pay, acct, sz);
}

/* sync_tx - book what Stripe did and Tally has not booked yet */
TLY_TX_TYPED(sync_tx, sync_args)

static int
sync_tx(tly_ctx *ctx, sync_args *a, tly_err *err)
{
	const dp_facts *f = a->f;
	int64_t amount_cent, refunded_cent, disputed_cent, before_cent;
	int64_t withdrawn_cent = 0, fee_cent = 0;
	char bearer[40], cur[8], status[24], acct[40];
	const char *pst;
	char detail[128];
	int rc;

	a->moved_cent = a->fee_moved_cent = 0;
	rc = tly_db_row(ctx->db, err, "SELECT amount_cent, refunded_cent, "
	    "disputed_cent, fee_bearer_account_id, currency, status FROM "
	    "payments WHERE id = ? FOR UPDATE", "s>iiisss", a->pay,
	    &amount_cent, &refunded_cent, &disputed_cent, bearer,
	    sizeof(bearer), cur, sizeof(cur), status, sizeof(status));
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT IGNORE INTO "
		    "disputes (id, payment_id, charge_id, amount_cent, "
		    "currency, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
		    "sssisss", f->d.id, a->pay, f->d.charge ? f->d.charge : "",
		    f->d.amount_cent, cur, f->d.status, f->d.reason);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT withdrawn_cent, "
		    "fee_cent, IFNULL(fee_account_id, '') FROM disputes WHERE "
		    "id = ? AND payment_id = ? FOR UPDATE", "ss>iis", f->d.id,
		    a->pay, &withdrawn_cent, &fee_cent, acct, sizeof(acct));
	if (rc)
		return rc;
	a->moved_cent = f->withdrawn_cent - withdrawn_cent;
	before_cent = refunded_cent + disputed_cent;
	if (before_cent + a->moved_cent > amount_cent ||
	    before_cent + a->moved_cent < refunded_cent)
		return tly_err_set(err, TLY_EK_CONFLICT,
		    "reversal_exceeds_amount", "The refunds and disputes of "
		    "the payment exceed it.");
	rc = tly_reversal_post(ctx, a->pay, cur, bearer, amount_cent,
	    before_cent, before_cent + a->moved_cent, a->moved_cent > 0 ?
	    "dispute" : "dispute_reinstated", f->d.id, err);
	if (rc == TLY_OK && f->fee_ok && f->fee_cent != fee_cent) {
		a->fee_moved_cent = f->fee_cent - fee_cent;
		rc = fee_account(ctx, a->pay, acct, sizeof(acct), err);
		if (rc == TLY_OK)
			rc = fee_rows(ctx, a->pay, cur, f->d.id, acct,
			    a->fee_moved_cent, err);
	}
	if (rc)
		return rc;
	if (f->open)
		pst = "disputed";
	else if (strcmp(f->d.status, "lost") == 0)
		pst = "dispute_lost";
	else if (strcmp(status, "disputed") == 0 ||
	    strcmp(status, "dispute_lost") == 0)
		pst = refunded_cent == 0 ? "succeeded" :
		    refunded_cent == amount_cent ? "refunded" :
		    "partially_refunded";
	else
		pst = status;
	rc = tly_payments_disputed(ctx, a->pay, a->moved_cent, pst, err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE disputes SET "
		    "status = ?, amount_cent = ?, withdrawn_cent = ?, "
		    "fee_cent = ?, fee_account_id = NULLIF(?, ''), closed_at = "
		    "IF(?, NULL, IFNULL(closed_at, NOW(3))) WHERE id = ?",
		    "siiisis",
		    f->d.status, f->d.amount_cent, f->withdrawn_cent,
		    fee_cent + a->fee_moved_cent, acct, (int64_t)f->open,
		    f->d.id);
	if (rc || (a->moved_cent == 0 && a->fee_moved_cent == 0 &&
	    strcmp(pst, status) == 0))
		return rc;
	snprintf(detail, sizeof(detail), "%s: reversed %lld, fee %lld",
	    f->d.status, (long long)a->moved_cent,
	    (long long)a->fee_moved_cent);
	return tly_audit(ctx, NULL, "dispute.booked", f->d.id, detail, err);
}

/*
 * tly_dispute_event - a charge.dispute.* event whose dispute is 'dp'
 * (parsed by the webhook; only its ids count, the dispute is read
 * again from Stripe): Tally books what Stripe did (see the top of the
 * file).  '*status' becomes "ignored" when the charge is not Tally's; a
 * payment not completed yet is a retryable error.
 */
int
tly_dispute_event(tly_ctx *ctx, const tly_st_dispute *dp,
    const char **status, tly_err *err)
{
	const tly_st_dispute d = *dp;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *fresh;
	const char *path;
	char pay[40], cur[8];
	sync_args a;
	dp_facts f;
	int rc;

	if (d.id == NULL || d.charge == NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	rc = tly_refund_payment_of(ctx, d.charge, d.payment_intent, pay,
	    sizeof(pay), err);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		*status = "ignored";
		return TLY_OK;
	}
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT currency FROM payments "
		    "WHERE id = ?", "s>s", pay, cur, sizeof(cur));
	if (rc)
		return rc;
	path = tly_stripe_path(ctx->pool, "/v1/disputes/", d.id, NULL);
	if (path == NULL)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "Bad dispute id.");
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "dispute", &fresh,
	    &resp, err);
	if (rc)
		return rc;
	if (facts(fresh, cur, &f) != TLY_OK)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected dispute from Stripe.");
	if (!f.fee_ok)
		tly_logkv(ctx->log, TLY_LOG_WARN, "dispute", "dispute fee in "
		    "another currency without an exchange rate: not booked",
		    "dispute_id", d.id, "payment_id", pay, NULL);
	memset(&a, 0, sizeof(a));
	a.pay = pay;
	a.f = &f;
	rc = sync_tx_run(ctx, "dispute.sync", &a, err);
	if (rc == TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_INFO, "dispute", "dispute synced",
		    "dispute_id", d.id, "payment_id", pay, "status", f.d.status,
		    NULL);
	return rc;
}

#define LIST_PAGES	10

/* book_one - one dispute of the charge's list, booked (an event's way) */
static int
book_one(void *arg, const tly_jv *obj, int *stop, tly_err *err)
{
	tly_st_dispute d;
	const char *status;

	(void)stop;
	if (tly_st_dispute_parse(obj, &d) != TLY_OK)
		memset(&d, 0, sizeof(d));	/* ignored */
	return tly_dispute_event(arg, &d, &status, err);
}

/*
 * tly_dispute_charge - every dispute of charge 'charge' (listed from
 * Stripe, no transaction open) booked through tly_dispute_event(): for
 * a completion whose charge was disputed before it committed.
 */
int
tly_dispute_charge(tly_ctx *ctx, const char *charge, tly_err *err)
{
	tly_stripe_list l = { "/v1/disputes", "charge", NULL, -1, LIST_PAGES };
	int rc;

	l.value = charge;
	rc = tly_stripe_each(ctx->stripe, ctx->pool, &l, book_one, ctx, err);
	if (rc == TLY_TOO_LARGE)
		return tly_err_set(err, TLY_EK_UPSTREAM, "too_many_disputes",
		    "The charge has more disputes than Tally reads.");
	return rc;
}

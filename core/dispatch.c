/*
 * dispatch.c - acting on a stored Stripe event: typed facts, then the
 * module that books them (dispatch.h)
 *
 * Owns no table.  webhook.c verifies, stores and retries events; this
 * file turns each one into typed facts (facts.h) and hands them to the
 * module that owns what it changes:
 *   payment_intent.succeeded, charge.succeeded   the completion
 *       (complete.c; a charge re-reads its PaymentIntent from Stripe);
 *   charge.updated         the real Stripe fee (complete.c);
 *   payment_intent.*       the checkout's status (checkout.c);
 *   refund events          the charge's refunds (refund_events.c);
 *   charge.dispute.*       the dispute (dispute.c);
 *   account.updated, payout.failed   the Connect account (connect.c);
 *   transfer.reversed      a payout's transfer (recover.c) or an
 *       advance's (advance_offset.c);
 *   transfer.created       a transfer made outside Tally, recorded as
 *       external (reconcile.c); Tally's own: ignored.
 * The domain modules never see a tly_st_event or the event's JSON.
 *
 * API:	tly_dispatch_classify(), tly_dispatch_event(),
 *	tly_dispatch_not_ours().
 */
#include <stdio.h>
#include <string.h>

#include "advance.h"
#include "checkout.h"
#include "complete.h"
#include "dispatch.h"
#include "dispute.h"
#include "ledger.h"
#include "payout.h"
#include "reconcile.h"
#include "recover.h"
#include "refund.h"
#include "tly_str.h"

/* tly_dispatch_classify - what Tally does with event type e->type */
int
tly_dispatch_classify(const tly_st_event *e)
{
	const char *t = e->type;

	if (strcmp(t, "payment_intent.succeeded") == 0)
		return TLY_ACT_COMPLETE;
	if (strcmp(t, "charge.succeeded") == 0)
		return TLY_ACT_CHARGE;
	if (strcmp(t, "charge.updated") == 0)
		return TLY_ACT_FEE;
	if (strcmp(t, "payment_intent.payment_failed") == 0 ||
	    strcmp(t, "payment_intent.processing") == 0 ||
	    strcmp(t, "payment_intent.requires_action") == 0 ||
	    strcmp(t, "payment_intent.canceled") == 0)
		return TLY_ACT_STATUS;
	if (strcmp(t, "charge.refunded") == 0 ||
	    strcmp(t, "charge.refund.updated") == 0 ||
	    strncmp(t, "refund.", 7) == 0)
		return TLY_ACT_REFUND;
	if (strncmp(t, "charge.dispute.", 15) == 0)
		return TLY_ACT_DISPUTE;
	if (strcmp(t, "account.updated") == 0)
		return TLY_ACT_ACCOUNT;
	if (strcmp(t, "payout.failed") == 0)
		return TLY_ACT_BANK_PAYOUT_FAILED;
	if (strcmp(t, "transfer.reversed") == 0)
		return TLY_ACT_REVERSED;
	if (strcmp(t, "transfer.created") == 0)
		return TLY_ACT_TRANSFER;
	return TLY_ACT_IGNORE;
}

static int
retrieve_pi(tly_ctx *ctx, const char *pi, const tly_jv **obj, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const char *path;
	tly_form q;
	int rc;

	path = tly_stripe_path(ctx->pool, "/v1/payment_intents/", pi, NULL);
	if (path == NULL)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "Bad PaymentIntent id.");
	tly_form_init(&q);
	tly_form_str(&q, "expand[]", "latest_charge.balance_transaction");
	rq = (tly_stripe_req){ "GET", path, &q, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "payment_intent",
	    obj, &resp, err);
	tly_form_free(&q);
	return rc;
}

/* act_complete - complete from a PaymentIntent object (not inline) */
static int
act_complete(tly_ctx *ctx, const tly_jv *pi_obj, const char **status,
    tly_err *err)
{
	tly_payment pay;
	tly_pi_facts f;

	if (tly_pi_facts_from(pi_obj, &f) != TLY_OK)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "The event's object is not a PaymentIntent.");
	if (f.checkout_id == NULL) {
		*status = "ignored";		/* not one of Tally's */
		return TLY_OK;
	}
	return tly_payment_complete(ctx, f.checkout_id, &f, "webhook", &pay,
	    err);
}

static int
act_charge(tly_ctx *ctx, const tly_event *ev, const char **status, tly_err *err)
{
	tly_st_charge ch;
	const tly_jv *pi;
	int rc;

	if (tly_st_charge_parse(ev->e.object, &ch) != TLY_OK ||
	    ch.payment_intent == NULL || !ch.captured) {
		*status = "ignored";		/* only authorised, or no PI */
		return TLY_OK;
	}
	rc = retrieve_pi(ctx, ch.payment_intent, &pi, err);
	if (rc)
		return rc;
	return act_complete(ctx, pi, status, err);
}

/* act_fee - charge.updated with its balance transaction: the real fee */
static int
act_fee(tly_ctx *ctx, const tly_event *ev, const char **status, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_charge ch;
	tly_st_balance_txn bt;
	const tly_jv *obj;
	const char *path;
	int64_t fee_cent;
	int rc;

	if (tly_st_charge_parse(ev->e.object, &ch) != TLY_OK ||
	    ch.balance_transaction == NULL || ch.payment_intent == NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	path = tly_stripe_path(ctx->pool, "/v1/balance_transactions/",
	    ch.balance_transaction, NULL);
	if (path == NULL)
		return tly_err_internal(err);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq,
	    "balance_transaction", &obj, &resp, err);
	if (rc == TLY_OK && tly_st_balance_txn_parse(obj, &bt) != TLY_OK)
		rc = tly_err_internal(err);
	if (rc)
		return rc;
	/* the fee is in the settlement currency: in the charge's, or none */
	if (tly_ledger_fee_in(bt.fee_cent, bt.currency, bt.exchange_rate,
	    ch.currency, &fee_cent) != TLY_OK) {
		tly_logkv(ctx->log, TLY_LOG_WARN, "webhook", "Stripe fee in "
		    "another currency without an exchange rate: the estimate "
		    "stays", "event_id", ev->e.id, "balance_transaction",
		    bt.id, "currency", bt.currency, NULL);
		*status = "ignored";
		return TLY_OK;
	}
	if (bt.currency && ch.currency && strcmp(bt.currency, ch.currency))
		tly_logkv(ctx->log, TLY_LOG_INFO, "webhook", "Stripe fee "
		    "converted at the balance transaction's exchange rate",
		    "balance_transaction", bt.id, "currency", bt.currency,
		    "payment_intent", ch.payment_intent, NULL);
	rc = tly_payment_fee_settle(ctx, ch.payment_intent, bt.id, fee_cent,
	    err);
	if (rc == TLY_NOTFOUND) {
		/* is it Tally's at all?  then wait for the completion */
		char chk[40];

		rc = tly_db_row(ctx->db, err, "SELECT id FROM checkouts WHERE "
		    "pi_id = ?", "s>s", ch.payment_intent, chk, sizeof(chk));
		if (rc == TLY_NOTFOUND) {
			*status = "ignored";
			return TLY_OK;
		}
		if (rc == TLY_OK)
			rc = tly_err_set(err, TLY_EK_CONFLICT,
			    "payment_not_completed", "The payment is not "
			    "completed yet.");
	}
	return rc;
}

static int
act_status(tly_ctx *ctx, const tly_event *ev, const char **status, tly_err *err)
{
	static const struct {
		const char	*type, *status;
	} map[] = {
		{ "payment_intent.payment_failed", "payment_failed" },
		{ "payment_intent.processing", "processing" },
		{ "payment_intent.requires_action", "requires_action" },
		{ "payment_intent.canceled", "canceled" },
	};
	const char *chk;
	size_t i;

	chk = tly_json_str(ev->e.object, "metadata.checkout_id");
	if (chk == NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(ev->e.type, map[i].type) == 0)
			return tly_checkout_note_status(ctx, chk, map[i].status,
			    ev->e.created, err);
	return TLY_OK;
}

/*
 * tly_dispatch_not_ours - 'rc'/'err' say the event names a checkout
 * Tally does not have (another environment sharing the Stripe account:
 * Tally writes the checkout before the PaymentIntent exists, so it is
 * never "not yet").
 * Logged, and the event is stored as ignored rather than retried.
 */
int
tly_dispatch_not_ours(tly_ctx *ctx, const tly_event *ev, int rc,
    const tly_err *err)
{
	if (rc != TLY_ERR || err->kind != TLY_EK_NOT_FOUND ||
	    strcmp(err->param, "checkout_id") != 0)
		return 0;
	tly_logkv(ctx->log, TLY_LOG_WARN, "webhook", "event for a checkout "
	    "this Tally does not have: ignored", "event_id", ev->e.id, "type",
	    ev->e.type, NULL);
	return 1;
}

/*
 * act_reversed - transfer.reversed: the transfer of a payout (recover.c)
 * or of an advance (advance.c); neither: ignored
 */
static int
act_reversed(tly_ctx *ctx, const tly_event *ev, const char **status,
    tly_err *err)
{
	tly_transfer_facts f;
	int rc;

	if (tly_transfer_facts_from(ev->e.object, &f) != TLY_OK) {
		*status = "ignored";
		return TLY_OK;
	}
	rc = tly_recover_transfer_reversed(ctx, &f, err);
	if (rc == TLY_NOTFOUND)
		rc = tly_advance_transfer_reversed(ctx, &f, status, err);
	return rc;
}

/*
 * tly_dispatch_event - what event 'ev' means for Tally, as typed facts
 * handed to the module that books it; '*status' says how it ended
 */
int
tly_dispatch_event(tly_ctx *ctx, const tly_event *ev,
    const char **status, tly_err *err)
{
	tly_charge_facts cf;
	tly_st_dispute dp;
	tly_account_facts af;
	tly_bank_payout_facts bp;
	tly_st_transfer tr;
	int rc;

	*status = "processed";
	switch (ev->act) {
	case TLY_ACT_COMPLETE:
		rc = act_complete(ctx, ev->e.object, status, err);
		break;
	case TLY_ACT_CHARGE:
		rc = act_charge(ctx, ev, status, err);
		break;
	case TLY_ACT_FEE:
		rc = act_fee(ctx, ev, status, err);
		break;
	case TLY_ACT_STATUS:
		rc = act_status(ctx, ev, status, err);
		break;
	case TLY_ACT_REFUND:
		tly_charge_facts_from(ev->e.object, &cf);
		rc = tly_refund_event(ctx, &cf, status, err);
		break;
	case TLY_ACT_DISPUTE:
		if (tly_st_dispute_parse(ev->e.object, &dp) != TLY_OK)
			memset(&dp, 0, sizeof(dp));	/* ignored */
		rc = tly_dispute_event(ctx, &dp, status, err);
		break;
	case TLY_ACT_ACCOUNT:
		if (tly_account_facts_from(&ev->e, &af) != TLY_OK) {
			*status = "ignored";
			return TLY_OK;
		}
		rc = tly_connect_account_updated(ctx, &af, status, err);
		break;
	case TLY_ACT_BANK_PAYOUT_FAILED:
		/* a connected account's bank payout; the platform's: ignored */
		if (strcmp(ev->endpoint, "connect") != 0) {
			*status = "ignored";
			return TLY_OK;
		}
		tly_bank_payout_facts_from(&ev->e, &bp);
		rc = tly_connect_payout_failed(ctx, &bp, status, err);
		break;
	case TLY_ACT_REVERSED:
		rc = act_reversed(ctx, ev, status, err);
		break;
	case TLY_ACT_TRANSFER:
		if (strcmp(ev->endpoint, "platform") != 0 ||
		    tly_st_transfer_parse(ev->e.object, &tr) != TLY_OK) {
			*status = "ignored";
			return TLY_OK;
		}
		rc = tly_reconcile_external_transfer(ctx, &tr, ev->e.id,
		    status, err);
		break;
	default:
		*status = "ignored";
		return TLY_OK;
	}
	if (tly_dispatch_not_ours(ctx, ev, rc, err)) {
		tly_err_clear(err);
		*status = "ignored";
		rc = TLY_OK;
	}
	return rc;
}

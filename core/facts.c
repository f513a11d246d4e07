/*
 * facts.c - Stripe objects become typed facts (see facts.h)
 *
 * Owns no table: it reads a parsed Stripe object through the stripe
 * client's typed parsers (stripe_obj.c) and the pure fee conversion
 * (ledger.c), and fills a struct the domain modules take, so that they
 * never read Stripe's JSON themselves.  A PaymentIntent's facts
 * (tly_pi_facts) are what the completion checks against the checkout
 * (complete.h); a transfer.reversed event's (tly_transfer_facts) are the
 * transfer and its reversals, which recover.c and advance.c book; the
 * reversals are read only when asked for (the one Stripe call made
 * here: a list, when the event does not embed them all).  A refund
 * event names a charge (tly_charge_facts, refund_events.c), an
 * account.updated a connected account (tly_account_facts, connect.c), a
 * connected account's payout.failed a bank payout
 * (tly_bank_payout_facts, connect.c); a dispute event is a typed
 * dispute already (tly_st_dispute, dispute.c).
 *
 * API:	tly_pi_facts_from(), tly_transfer_facts_from(),
 *	tly_transfer_facts_reversals(), tly_charge_facts_from(),
 *	tly_account_facts_from(), tly_bank_payout_facts_from().
 */
#include <string.h>

#include "facts.h"
#include "ledger.h"

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
	f->fee_actual_cent = -1;
	if (tly_st_pi_parse(o, &pi) != TLY_OK)
		return TLY_ERR;
	f->pi_id = pi.id;
	f->status = pi.status;
	f->currency = pi.currency;
	f->amount_received_cent = pi.amount_received_cent;
	f->checkout_id = tly_st_metadata(pi.metadata, "checkout_id");
	f->charge_id = pi.latest_charge;
	if (pi.charge && tly_st_charge_parse(pi.charge, &ch) == TLY_OK) {
		f->charge = pi.charge;
		f->balance_txn = ch.balance_transaction;
		if (ch.balance_txn &&
		    tly_st_balance_txn_parse(ch.balance_txn, &bt) == TLY_OK &&
		    tly_ledger_fee_in(bt.fee_cent, bt.currency,
		    bt.exchange_rate, pi.currency, &f->fee_actual_cent) !=
		    TLY_OK)
			f->fee_actual_cent = -1;  /* charge.updated logs it */
	}
	return TLY_OK;
}

/*
 * tly_transfer_facts_from - the transfer 'o' of a transfer.reversed
 * event; TLY_ERR when it is not a transfer with an id
 */
int
tly_transfer_facts_from(const tly_jv *o, tly_transfer_facts *f)
{
	memset(f, 0, sizeof(*f));
	if (tly_st_transfer_parse(o, &f->t) != TLY_OK || f->t.id == NULL)
		return TLY_ERR;
	f->object = o;
	return TLY_OK;
}

/*
 * tly_transfer_facts_reversals - the reversals of transfer 'f' (those it
 * embeds when it embeds them all, else listed at Stripe), each with an
 * id of at most 64 characters and a positive amount (others are
 * skipped), in the request's arena: '*out', their number '*n'
 */
int
tly_transfer_facts_reversals(tly_ctx *ctx, const tly_transfer_facts *f,
    tly_st_reversal **out, int *n, tly_err *err)
{
	const tly_jv *arr = NULL, *x;
	tly_st_reversal sr;
	int rc, cap = 0;

	*out = NULL;
	*n = 0;
	rc = tly_stripe_transfer_reversals(ctx->stripe, ctx->pool, f->object,
	    f->t.id, &arr, err);
	if (rc)
		return rc;
	for (x = arr && arr->type == TLY_JARR ? arr->child : NULL; x;
	    x = x->next)
		cap++;
	if (cap == 0)
		return TLY_OK;
	*out = tly_pcalloc(ctx->pool, (size_t)cap * sizeof(**out));
	if (*out == NULL)
		return tly_err_internal(err);
	for (x = arr->child; x; x = x->next) {
		if (tly_st_reversal_parse(x, &sr) != TLY_OK || sr.id == NULL ||
		    sr.amount_cent <= 0 || strlen(sr.id) > 64)
			continue;
		(*out)[(*n)++] = sr;
	}
	return TLY_OK;
}

/*
 * tly_charge_facts_from - the charge (and PaymentIntent) a refund event's
 * object 'obj' is about: a refund's charge, or the charge itself
 */
void
tly_charge_facts_from(const tly_jv *obj, tly_charge_facts *f)
{
	const char *t = tly_json_str(obj, "object");
	tly_st_refund sr;
	tly_st_charge ch;

	f->charge_id = f->pi_id = NULL;
	if (t && strcmp(t, "refund") == 0 &&
	    tly_st_refund_parse(obj, &sr) == TLY_OK) {
		f->charge_id = sr.charge;
		f->pi_id = sr.payment_intent;
	} else if (t && strcmp(t, "charge") == 0 &&
	    tly_st_charge_parse(obj, &ch) == TLY_OK) {
		f->charge_id = ch.id;
		f->pi_id = ch.payment_intent;
	}
}

/*
 * tly_account_facts_from - account.updated 'e': TLY_ERR when its object
 * is not an account with an id
 */
int
tly_account_facts_from(const tly_st_event *e, tly_account_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->event_id = e->id;
	f->created = e->created;
	if (tly_st_account_parse(e->object, &f->a) != TLY_OK ||
	    f->a.id == NULL)
		return TLY_ERR;
	return TLY_OK;
}

/* tly_bank_payout_facts_from - payout.failed 'e' of a connected account */
void
tly_bank_payout_facts_from(const tly_st_event *e, tly_bank_payout_facts *f)
{
	const char *v;

	memset(f, 0, sizeof(*f));
	f->account = e->account;
	f->payout_id = tly_json_str(e->object, "id");
	f->currency = tly_json_str(e->object, "currency");
	v = tly_json_str(e->object, "failure_code");
	f->failure_code = v ? v : "unknown";
	if (tly_json_i64(e->object, "amount", &f->amount_cent) != TLY_OK)
		f->amount_cent = 0;
}

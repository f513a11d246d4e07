/*
 * facts.c - Stripe objects become typed facts (see facts.h)
 *
 * Owns no table and makes no call: it reads a parsed Stripe object
 * through the stripe client's typed parsers (stripe_obj.c) and the pure
 * fee conversion (ledger.c), and fills a struct the domain modules take.
 * A PaymentIntent's facts (tly_pi_facts) are what the completion checks
 * against the checkout (complete.h).
 *
 * API:	tly_pi_facts_from().
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
		    tly_ledger_fee_in(bt.fee, bt.currency, bt.exchange_rate,
		    pi.currency, &f->fee_actual) != TLY_OK)
			f->fee_actual = -1;	/* charge.updated logs it */
	}
	return TLY_OK;
}

/*
 * fuzz_webhook.c - a webhook body decoded into typed facts
 *
 * What core/webhook.c does with a body before any database work: parse
 * it under the Stripe reply limits, read the event (tly_st_event_parse),
 * then its data.object with every typed parser of core/stripe_obj.c
 * (each refuses an object of another kind) and the PaymentIntent facts
 * of completion (tly_pi_facts_from, which reads the expanded charge and
 * its balance transaction and converts the fee).  Invariants: an event
 * that parsed has a type and an object; facts that parsed have a status
 * and a currency, and no fee (-1) without an expanded charge.
 */
#include <string.h>

#include "facts.h"
#include "ledger.h"
#include "fuzz.h"
#include "stripe.h"
#include "tly_json.h"

/* objects - every typed parser over 'o' */
static void
objects(const tly_jv *o)
{
	tly_st_pi pi;
	tly_st_charge ch;
	tly_st_refund rf;
	tly_st_transfer tr;
	tly_st_reversal rv;
	tly_st_account ac;
	tly_st_account_link al;
	tly_st_balance_txn bt;
	tly_st_dispute dp;
	tly_st_list ls;
	tly_pi_facts f;
	int64_t fee;

	if (tly_st_pi_parse(o, &pi) == TLY_OK)
		FUZZ_CHECK(pi.status != NULL && pi.currency != NULL);
	(void)tly_st_charge_parse(o, &ch);
	(void)tly_st_refund_parse(o, &rf);
	(void)tly_st_transfer_parse(o, &tr);
	(void)tly_st_reversal_parse(o, &rv);
	(void)tly_st_account_parse(o, &ac);
	(void)tly_st_account_link_parse(o, &al);
	if (tly_st_balance_txn_parse(o, &bt) == TLY_OK) {
		(void)tly_ledger_fee_in(bt.fee_cent, bt.currency,
		    bt.exchange_rate, "usd", &fee);
		(void)tly_ledger_fee_in(bt.fee_cent, bt.currency,
		    bt.exchange_rate, "jpy", &fee);
		(void)tly_ledger_fee_in(bt.fee_cent, bt.currency,
		    bt.exchange_rate, "kwd", &fee);
	}
	(void)tly_st_dispute_parse(o, &dp);
	if (tly_st_list_parse(o, &ls) == TLY_OK)
		FUZZ_CHECK(ls.data != NULL && ls.data->type == TLY_JARR);
	(void)tly_st_metadata(tly_json_get(o, "metadata"), "checkout_id");
	if (tly_pi_facts_from(o, &f) == TLY_OK) {
		FUZZ_CHECK(f.status != NULL && f.currency != NULL);
		if (f.charge == NULL)
			FUZZ_CHECK(f.fee_actual_cent == -1);
	}
}

/* LLVMFuzzerTestOneInput - one webhook body */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tly_pool *p = tly_pool_new(16 << 10);
	tly_st_event ev;
	tly_jv *j = NULL;
	tly_err e;

	FUZZ_CHECK(p != NULL);
	tly_err_clear(&e);
	if (tly_json_parse(p, (const char *)data, size, &tly_json_api_limits,
	    &j, &e) == TLY_OK) {
		if (tly_st_event_parse(j, &ev) == TLY_OK) {
			FUZZ_CHECK(ev.type != NULL && ev.object != NULL);
			FUZZ_CHECK(ev.object->type == TLY_JOBJ);
			(void)tly_json_str(ev.object, "id");
			(void)tly_json_str(ev.object, "metadata.checkout_id");
			objects(ev.object);
		} else {
			objects(j);
		}
	}
	tly_pool_free(p);
	return 0;
}

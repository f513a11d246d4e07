/*
 * dispute.h - disputes of Tally's payments (dispute.c)
 *
 * A dispute is booked from what Stripe did, re-read at every event: the
 * disputed amount reversed through the reversal engine (refund.h) and
 * given back when reinstated, Stripe's dispute fee as a zero-sum pair,
 * and the payment's status ('disputed' while the dispute is open).
 */
#ifndef TLY_DISPUTE_H
#define TLY_DISPUTE_H

#include "ctx.h"
#include "stripe.h"
#include "tly_json.h"

int	 tly_dispute_event(tly_ctx *, const tly_st_dispute *, const char **,
	    tly_err *);
int	 tly_dispute_charge(tly_ctx *, const char *, tly_err *);

#endif

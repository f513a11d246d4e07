/*
 * recover.h - recovering what payees owe back by reversing their
 * transfers ([payouts] reverse_transfers; docs/ledger.md, "Transfer
 * reversals")
 *
 * A payee whose payable balance in a currency is negative owes that
 * amount back (a refund or dispute after its payout).  With the key on,
 * every payouts run reverses the payee's paid payouts' transfers, newest
 * first, until what it owes is covered: one transfer_reversals row per
 * reversal (origin 'tally', rev_...), three steps like a payout.
 */
#ifndef TLY_RECOVER_H
#define TLY_RECOVER_H

#include "ctx.h"
#include "effect.h"
#include "facts.h"
#include "payout.h"
#include "stripe.h"

void	 tly_recover_run(tly_ctx *, tly_payout_stats *);
int	 tly_recover_transfer_reversed(tly_ctx *, const tly_transfer_facts *,
	    tly_err *);
int	 tly_recover_outside(tly_ctx *, const char *, const char *,
	    const char *, const char *, int64_t, const char *, tly_err *);

extern const tly_effect_kind tly_reversal_effect;

#endif

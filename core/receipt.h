/*
 * receipt.h - the buyer's receipt, queued with the payment it confirms
 *
 * tly_receipt_queue() runs inside the completion transaction
 * (complete.c) when the checkout has a receipt_email (given at checkout,
 * or the buyer token's email claim): one deferred INSERT into the outbox,
 * deduplicated by "receipt:<payment id>", so a completion run twice
 * queues one receipt.  tly_money_format() renders minor units with the
 * currency's exponent, in integers only.
 */
#ifndef TLY_RECEIPT_H
#define TLY_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "checkout.h"
#include "ctx.h"

int	 tly_money_format(char *, size_t, int64_t, int, const char *);
int	 tly_receipt_queue(tly_ctx *, const tly_checkout *, const char *,
	    const char *, tly_err *);

#endif

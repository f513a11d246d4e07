/*
 * dispatch.h - an event, typed, to the module that books it (dispatch.c)
 */
#ifndef TLY_DISPATCH_H
#define TLY_DISPATCH_H

#include <stddef.h>

#include "ctx.h"
#include "stripe.h"

/* what Tally does with an event, by its type */
enum { TLY_ACT_IGNORE, TLY_ACT_COMPLETE, TLY_ACT_CHARGE, TLY_ACT_FEE,
	TLY_ACT_STATUS, TLY_ACT_REFUND, TLY_ACT_DISPUTE, TLY_ACT_ACCOUNT,
	TLY_ACT_BANK_PAYOUT_FAILED, TLY_ACT_REVERSED, TLY_ACT_TRANSFER };

/* a verified event as webhook.c stored it */
typedef struct tly_event {
	const char	*endpoint;
	const char	*payload;
	size_t		 len;
	tly_st_event	 e;
	const char	*object_id;
	int		 act;
} tly_event;

int	 tly_dispatch_classify(const tly_st_event *);
int	 tly_dispatch_event(tly_ctx *, const tly_event *, const char **,
	    tly_err *);
int	 tly_dispatch_not_ours(tly_ctx *, const tly_event *, int,
	    const tly_err *);

#endif

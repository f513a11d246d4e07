/*
 * payments.h - the one writer of the payments table (see payments.c)
 */
#ifndef TLY_PAYMENTS_H
#define TLY_PAYMENTS_H

#include <stdint.h>

#include "ctx.h"

/* a payment booked by the completion */
typedef struct tly_payments_new {
	const char	*id;
	const char	*checkout_id;
	const char	*pi_id;
	const char	*charge_id;
	int64_t		 amount_cent;
	const char	*currency;
	int64_t		 fee_estimate_cent;
	const char	*fee_bearer_id;
	const char	*status;
	const char	*via;
} tly_payments_new;

int	 tly_payments_insert(tly_ctx *, const tly_payments_new *, tly_err *);
int	 tly_payments_fee_actual(tly_ctx *, const char *, int64_t,
	    const char *, tly_err *);
int	 tly_payments_request(tly_ctx *, const char *, int64_t, tly_err *);
int	 tly_payments_refunded(tly_ctx *, const char *, int64_t, int64_t,
	    tly_err *);
int	 tly_payments_disputed(tly_ctx *, const char *, int64_t, const char *,
	    tly_err *);

#endif

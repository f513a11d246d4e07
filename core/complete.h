/*
 * complete.h - a payment is completed exactly once, whoever reports it
 *
 * The browser (POST /api/v1/payments/complete), Stripe's webhooks
 * (payment_intent.succeeded, charge.succeeded) and the checkouts job all
 * call tly_payment_complete() with the facts they learnt from Stripe
 * (tly_pi_facts).  Under the checkout's row lock it either returns the
 * payment that already exists or books it: the payment row, the shares of
 * every stakeholder (summing exactly to the amount), the sale of the
 * reserved stock, the audit row.  The facts must match Tally's own record
 * (status succeeded, amount received, currency, metadata.checkout_id and
 * the PaymentIntent id) or nothing is booked.
 */
#ifndef TLY_COMPLETE_H
#define TLY_COMPLETE_H

#include <stdint.h>

#include "ctx.h"
#include "facts.h"
#include "shares.h"
#include "stripe.h"
#include "tly_json.h"

typedef struct tly_payment {
	char		 id[40];
	char		 checkout_id[40];
	char		 pi_id[72];
	char		 charge_id[72];
	char		 currency[4];
	char		 status[24];
	char		 completed_via[16];
	int64_t		 amount_cent;
	int64_t		 fee_estimate_cent;
	int64_t		 fee_actual_cent;	/* -1 while unknown */
	int64_t		 created;
	int		 existing;		/* completed before this call */
	int		 nshares;
	tly_share_row	 shares[TLY_MAX_SHARES];
} tly_payment;

/* one completion: inputs, then what happened */
typedef struct tly_completion {
	const char		*checkout_id;
	const tly_pi_facts	*f;
	const char		*via;
	int			 lock_product;
	char			 product_id[40];
	char			 payment_id[40];
	char			 refund_id[40];	/* oversold: refund it */
	int			 existing;
	int			 oversold;
	/*
	 * the facts are a signed event's, completed inline (webhook.c):
	 * after the commit, read nothing from Stripe (complete.c,
	 * early_reversals)
	 */
	int			 inline_event;
} tly_completion;

int	 tly_completion_tx(tly_ctx *, tly_completion *, tly_err *);
void	 tly_completion_after(tly_ctx *, const tly_completion *);
int	 tly_payment_complete_client(tly_ctx *, const char *, const char *,
	    tly_payment *, tly_err *);
int	 tly_payment_complete(tly_ctx *, const char *, const tly_pi_facts *,
	    const char *, tly_payment *, tly_err *);
int	 tly_payment_get(tly_ctx *, const char *, tly_payment *, tly_err *);
int	 tly_job_checkouts(tly_ctx *, tly_err *);
int	 tly_payment_fee_settle(tly_ctx *, const char *, const char *, int64_t,
	    tly_err *);
int	 tly_payment_fee_correct(tly_ctx *, const char *, const char *,
	    int64_t, int *, tly_err *);

#endif

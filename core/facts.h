/*
 * facts.h - what Stripe's objects say, as typed facts (see facts.c)
 *
 * The webhooks, the browser's completion and the jobs learn about a
 * payment from Stripe objects; the domain modules take these structs,
 * never Stripe's JSON.  The strings point into the parsed object (the
 * request's arena).
 */
#ifndef TLY_FACTS_H
#define TLY_FACTS_H

#include <stdint.h>

#include "ctx.h"
#include "stripe.h"
#include "tly_json.h"

typedef struct tly_pi_facts {
	const char	*pi_id;
	const char	*status;
	const char	*currency;
	const char	*checkout_id;		/* metadata.checkout_id */
	const char	*charge_id;
	const char	*balance_txn;		/* NULL until Stripe books it */
	int64_t		 amount_received_cent;
	int64_t		 fee_actual_cent;	/* -1 when unknown */
	const tly_jv	*charge;		/* the latest, when expanded */
} tly_pi_facts;

/*
 * A transfer.reversed event: the transfer; its reversals are read on
 * demand (tly_transfer_facts_reversals: embedded in the event when it
 * holds them all, else listed at Stripe), each typed.
 */
typedef struct tly_transfer_facts {
	tly_st_transfer	 t;
	const tly_jv	*object;	/* facts.c's own: the event's object */
} tly_transfer_facts;

/* a refund event (a refund or a charge): the charge whose refunds moved */
typedef struct tly_charge_facts {
	const char	*charge_id;	/* NULL: no refund's, no charge */
	const char	*pi_id;
} tly_charge_facts;

/* account.updated: the connected account as the event shows it */
typedef struct tly_account_facts {
	const char	*event_id;
	int64_t		 created;	/* the event's, unix seconds */
	tly_st_account	 a;
} tly_account_facts;

/* payout.failed of a connected account: its bank refused a payout */
typedef struct tly_bank_payout_facts {
	const char	*account;	/* the connected account; NULL: ours */
	const char	*payout_id;
	const char	*currency;
	const char	*failure_code;	/* "unknown" when Stripe gave none */
	int64_t		 amount_cent;	/* 0 when Stripe gave none */
} tly_bank_payout_facts;

int	 tly_pi_facts_from(const tly_jv *, tly_pi_facts *);
void	 tly_charge_facts_from(const tly_jv *, tly_charge_facts *);
int	 tly_account_facts_from(const tly_st_event *, tly_account_facts *);
void	 tly_bank_payout_facts_from(const tly_st_event *,
	    tly_bank_payout_facts *);
int	 tly_transfer_facts_from(const tly_jv *, tly_transfer_facts *);
int	 tly_transfer_facts_reversals(tly_ctx *, const tly_transfer_facts *,
	    tly_st_reversal **, int *, tly_err *);

#endif

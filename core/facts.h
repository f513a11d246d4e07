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

#include "stripe.h"
#include "tly_json.h"

typedef struct tly_pi_facts {
	const char	*pi_id;
	const char	*status;
	const char	*currency;
	const char	*checkout_id;		/* metadata.checkout_id */
	const char	*charge_id;
	const char	*balance_txn;		/* NULL until Stripe books it */
	int64_t		 amount_received;
	int64_t		 fee_actual;		/* -1 when unknown */
	const tly_jv	*charge;		/* the latest, when expanded */
} tly_pi_facts;

int	 tly_pi_facts_from(const tly_jv *, tly_pi_facts *);

#endif

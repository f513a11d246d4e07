/*
 * refund.h - refunds and the reversal of a payment's shares
 *
 * A refund is requested under the payment's row lock (never more than
 * what is left), created at Stripe exactly once (three steps, key
 * "tally:refund:<id>:g<gen>"), and booked when Stripe says it succeeded.
 *
 * Booking reverses the shares in proportion through the pure reversal
 * plan of ledger.h (tly_ledger_plan): for a payment of amount A whose
 * cumulative reversed amount becomes C, every stakeholder k but the
 * talent has reversed trunc(S_k × C / A) in all (S_k its net share, any
 * sign: split plus adjustments; 128-bit arithmetic), Stripe keeps its
 * fee -- the fee row is not reversed and the kept part, trunc(F × C / A),
 * is charged to whoever bears the fee as its own row (STRIPE_FEE_KEPT)
 * -- and the talent takes the rest.  Each move books each stakeholder's
 * target less what its rows already total, so the rows of one refund sum
 * exactly to it and no cent is stranded.
 *
 * Disputes (dispute.c) reverse through the same plan: C = refunded_cent
 * + disputed_cent, and every refund, failed refund, dispute withdrawal
 * or reinstatement books the rows that move C from its value before to
 * its value after (tly_reversal_post) -- docs/ledger.md.
 */
#ifndef TLY_REFUND_H
#define TLY_REFUND_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "ctx.h"
#include "effect.h"
#include "facts.h"
#include "tly_json.h"

struct tly_idem_row;			/* idem.h */

#define TLY_REFUND_LIST_MAX	100

typedef struct tly_refund {
	char	 id[40];
	char	 payment_id[40];
	char	 currency[4];
	char	 origin[16];
	char	 reason[64];
	char	 state[16];
	char	 stripe_refund_id[72];
	int64_t	 amount_cent;
	int	 booked;
	int64_t	 created;
	int	 existing;	/* a retry: the row that keeps its key */
} tly_refund;

int	 tly_reversal_post(tly_ctx *, const char *, const char *,
	    const char *, int64_t, int64_t, int64_t, const char *,
	    const char *, tly_err *);

int	 tly_refund_request(tly_ctx *, const char *, int64_t, const char *,
	    const char *, const char *, tly_refund *, tly_err *);
int	 tly_refund_admin(tly_ctx *, const char *, int64_t, const char *,
	    const tly_principal *, int, const struct tly_idem_row *,
	    tly_refund *, tly_err *);
int	 tly_refund_list(tly_ctx *, const char *, tly_refund **, int *,
	    tly_err *);
int	 tly_refund_record(tly_ctx *, const char *, const tly_jv *,
	    tly_err *);
int	 tly_refund_insert(tly_ctx *, const char *, int64_t, const char *,
	    const char *, const char *, const char *, char *, size_t,
	    tly_err *);
int	 tly_refund_finish(tly_ctx *, const char *, tly_err *);
int	 tly_refund_lock(tly_ctx *, const char *, tly_refund *, tly_err *);
int	 tly_refund_get(tly_ctx *, const char *, tly_refund *, tly_err *);
int	 tly_job_refunds(tly_ctx *, tly_err *);

extern const tly_effect_kind tly_refund_effect;

/* refund_events.c: Stripe's refund events */
int	 tly_refund_event(tly_ctx *, const tly_charge_facts *, const char **,
	    tly_err *);
int	 tly_refund_payment_of(tly_ctx *, const char *, const char *, char *,
	    size_t, tly_err *);

#endif

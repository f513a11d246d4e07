/*
 * refund.h - refunds and the reversal of a payment's shares
 *
 * A refund is requested under the payment's row lock (never more than
 * what is left), created at Stripe exactly once (three steps, key
 * "tally:refund:<id>:g<gen>"), and booked when Stripe says it succeeded.
 *
 * Booking reverses the shares in proportion (the reversal engine): for a
 * payment of amount A whose cumulative refunded amount becomes R, every
 * stakeholder k but the talent has reversed floor(S_k × R / A) in all
 * (S_k its net share: split plus adjustments; 128-bit arithmetic), Stripe
 * keeps its fee -- the fee row is not reversed and the kept part,
 * floor(F × R / A), is charged to whoever bears the fee as its own row
 * (STRIPE_FEE_KEPT) -- and the talent takes the rest.  Each refund books
 * the difference between the totals after it and before it, so the rows
 * of one refund sum exactly to it, and repeated partial refunds strand no
 * cent.
 *
 * Disputes (dispute.c) reverse through the same engine: the cumulative
 * amount is C = refunded_cent + disputed_cent, and every refund, failed
 * refund, dispute withdrawal or reinstatement books the rows that move C
 * from its value before to its value after (tly_reversal_move; backward
 * moves are the negation of the forward ones), so each stakeholder's
 * total reversal is always floor(S_k × C / A) -- docs/ledger.md.
 */
#ifndef TLY_REFUND_H
#define TLY_REFUND_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "effect.h"
#include "tly_json.h"

#define TLY_REV_MAX	16
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
} tly_refund;

/* the reversal engine, pure: stakeholders in, this refund's rows out */
typedef struct tly_rev_party {
	char	 account_id[40];
	char	 role[24];
	int64_t	 share_cent;		/* S_k >= 0 */
} tly_rev_party;

typedef struct tly_rev_in {
	int64_t		 amount_cent;	/* A */
	int64_t		 fee_cent;	/* F, kept by Stripe */
	int64_t		 before_cent;	/* refunded before this refund */
	int64_t		 after_cent;	/* refunded including it */
	tly_rev_party	 parties[TLY_REV_MAX];	/* [0] is the talent */
	int		 nparties;
	char		 bearer_id[40];	/* who bears the fee */
	char		 bearer_role[24];
} tly_rev_in;

typedef struct tly_rev_row {
	char	 account_id[40];
	char	 role[24];
	int64_t	 amount_cent;		/* negative: taken back */
} tly_rev_row;

int	 tly_reversal(const tly_rev_in *, tly_rev_row *, int *, tly_err *);
int	 tly_reversal_move(const tly_rev_in *, tly_rev_row *, int *,
	    tly_err *);
int	 tly_reversal_post(tly_ctx *, const char *, const char *,
	    const char *, int64_t, int64_t, int64_t, const char *,
	    const char *, tly_err *);

int	 tly_refund_request(tly_ctx *, const char *, int64_t, const char *,
	    const char *, const char *, tly_refund *, tly_err *);
int	 tly_refund_admin(tly_ctx *, const char *, int64_t, const char *,
	    const char *, int, tly_refund *, tly_err *);
int	 tly_refund_list(tly_ctx *, const char *, tly_refund **, int *,
	    tly_err *);
int	 tly_refund_record(tly_ctx *, const char *, const tly_jv *,
	    tly_err *);
int	 tly_refund_insert(tly_ctx *, const char *, int64_t, const char *,
	    const char *, const char *, const char *, char *, size_t,
	    tly_err *);
int	 tly_refund_finish(tly_ctx *, const char *, tly_err *);
int	 tly_refund_get(tly_ctx *, const char *, tly_refund *, tly_err *);
int	 tly_job_refunds(tly_ctx *, tly_err *);

extern const tly_effect_kind tly_refund_effect;

/* refund_events.c: Stripe's refund events */
int	 tly_refund_event(tly_ctx *, const tly_jv *, const char **, tly_err *);
int	 tly_refund_payment_of(tly_ctx *, const char *, const char *, char *,
	    size_t, tly_err *);

#endif

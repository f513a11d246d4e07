/*
 * ledger.h - pure money: the plans of ledger rows (see ledger.c)
 *
 * Rows in, rows out: no context, no SQL, no I/O.  The money modules read
 * what they need under their locks, ask a plan function for the rows to
 * post, and post them.  Every amount is an int64_t in minor units (cents,
 * yen: a zero-decimal currency is minor units too); products are
 * computed in 128 bits.
 *
 * The reversal plan (refunds, failed refunds, disputes, reinstatements):
 * for a payment of amount A with net shares S_k (split + fee adjustment
 * rows, any sign) and Stripe's fee F, the cumulative reversed amount C
 * (refunded + disputed) fixes every stakeholder's total reversal
 *
 *	R_k(C)      = trunc(S_k × C / A)      every stakeholder but the talent
 *	Kept(C)     = trunc(F × C / A)        on the fee bearer, STRIPE_FEE_KEPT
 *	R_talent(C) = C − Σ R_k(C) − Kept(C)  the rest
 *
 * (trunc rounds toward zero: a positive share is floored, a negative one
 * rounded up, so nobody but the talent gives back or receives more than
 * its exact proportion).  A plan posts, per stakeholder, its target at
 * the new C less what its reversal rows already total.
 */
#ifndef TLY_LEDGER_H
#define TLY_LEDGER_H

#include <stdint.h>

#include "tly_err.h"
#include "tly_json.h"

#define TLY_LEDGER_MAX		16	/* stakeholders of one payment */
#define TLY_LEDGER_ROWS		(TLY_LEDGER_MAX + 1)	/* + the kept fee */

/* one stakeholder of a payment */
typedef struct tly_ledger_party {
	char	 account_id[40];
	char	 role[24];
	int64_t	 share_cent;	/* S_k: split + fee adjustments, any sign */
	int64_t	 booked_cent;	/* Σ its reversal rows so far (signed) */
} tly_ledger_party;

/* what a reversal plan reads: the payment, its stakeholders, C */
typedef struct tly_ledger_rev {
	int64_t		  amount_cent;	/* A > 0 */
	int64_t		  fee_cent;	/* F, kept by Stripe */
	int64_t		  kept_booked_cent;	/* Σ STRIPE_FEE_KEPT rows */
	int64_t		  before_cent;	/* C booked so far */
	int64_t		  after_cent;	/* C once the move is booked */
	tly_ledger_party  parties[TLY_LEDGER_MAX];	/* [0]: the talent */
	int		  nparties;
	char		  bearer_id[40];	/* who bears Stripe's fee */
} tly_ledger_rev;

/* one row to post */
typedef struct tly_ledger_row {
	char	 account_id[40];
	char	 role[24];
	int64_t	 amount_cent;	/* negative: taken back */
} tly_ledger_row;

/*
 * An advance's offset in one payment (advance.c, docs/ledger.md
 * "Advances"): O offset from the payee's earning there, N still offset;
 * when the payment's C moves, the target is T(C) = O − floor(O × C / A).
 */
typedef struct tly_ledger_offset {
	int64_t	 offset_cent;	/* O: offset at completion (>= 0) */
	int64_t	 kept_cent;	/* N: still offset now, 0 <= N <= O */
	int64_t	 amount_cent;	/* A: the payment's amount */
	int64_t	 before_cent;	/* C before the move (refunded+disputed) */
	int64_t	 after_cent;	/* C after it */
	int64_t	 room_cent;	/* granted - reversed - offset */
} tly_ledger_offset;

/*
 * The real Stripe fee moved the fee bearer's earning by −delta: each
 * advance offset from it (or, when the earning grew, to be offset) is
 * re-targeted.  In: O, N and the advance's room, in the order the
 * completion offsets (oldest first); out: the change of O (an
 * advance_fee pair) and N' (what stays offset).
 */
typedef struct tly_ledger_refee {
	int64_t	 offset_cent;	/* O of this advance in the payment */
	int64_t	 kept_cent;	/* N */
	int64_t	 room_cent;	/* granted - reversed - offset */
	int64_t	 fee_move_cent;	/* out: O' − O */
	int64_t	 kept_after_cent;	/* out: N' */
} tly_ledger_refee;

int64_t	 tly_ledger_part(int64_t, int64_t, int64_t);
int	 tly_ledger_plan(const tly_ledger_rev *, tly_ledger_row *, int *,
	    tly_err *);
int	 tly_ledger_offset_kept(const tly_ledger_offset *, int64_t *);
int	 tly_ledger_fee_in(int64_t, const char *, const tly_jv *,
	    const char *, int64_t *);
int64_t	 tly_ledger_refee_left(int64_t, int64_t, int64_t);
int	 tly_ledger_refee_plan(tly_ledger_refee *, int, int64_t, int64_t,
	    int64_t, int64_t);

#endif

/*
 * ledger.c - pure money: the reversal plan (see ledger.h, docs/ledger.md
 * "Reversals: refunds and disputes")
 *
 * Owns no table and calls nothing: a caller reads a payment's net shares
 * and what its reversal rows already total (under the payment's row
 * lock), asks for a plan, and posts the rows (refund.c
 * tly_reversal_post: read -> tly_ledger_plan -> post).  Refunds, failed
 * refunds, disputes and reinstatements all move the payment's cumulative
 * reversed amount C = refunded + disputed, up or down, through it.
 *
 * Invariants, checked by tests/unit/ledger_test.c (tables and seeded
 * sweeps):
 *   - each plan's rows sum exactly to minus the amount moved:
 *     −(after − before), in either direction;
 *   - cumulative: after any sequence of moves, each stakeholder's
 *     reversal rows total exactly −R_k(C) for the current C (ledger.h),
 *     so after a full reversal (C = A) every share is exactly zero and
 *     the bearer has paid exactly Stripe's kept fee F; no cent is
 *     stranded, even when a fee adjustment changed the shares between
 *     two partial refunds (the plan corrects against what was booked, not
 *     against what the new shares would have booked);
 *   - negative shares are reversed like positive ones: a stakeholder
 *     whose net share is negative (the platform bearing a real fee above
 *     its fee) receives its proportion back, rounded toward zero;
 *   - the rows booked so far must total −before: otherwise the plan is
 *     refused (an internal error), never guessed.
 * Products are 128-bit; a result outside int64 is refused.
 *
 * API:	tly_ledger_part(), tly_ledger_plan().
 */
#include <string.h>

#include "ledger.h"
#include "tly_str.h"

/*
 * tly_ledger_part - trunc(v × c / a) in 128 bits, for 0 <= c <= a and
 * a > 0 (|result| <= |v|): rounded toward zero, whatever the sign of v
 */
int64_t
tly_ledger_part(int64_t v, int64_t c, int64_t a)
{
	return (int64_t)((__int128)v * c / a);
}

/* fits - 'v' is an int64 */
static int
fits(__int128 v)
{
	return v >= INT64_MIN && v <= INT64_MAX;
}

/* add - append the row ('acct', 'role', 'v') unless 'v' is zero */
static void
add(tly_ledger_row *rows, int *n, const char *acct, const char *role,
    int64_t v)
{
	if (v == 0)
		return;
	tly_strlcpy(rows[*n].account_id, acct, sizeof(rows[*n].account_id));
	tly_strlcpy(rows[*n].role, role, sizeof(rows[*n].role));
	rows[(*n)++].amount_cent = v;
}

/* valid - 'in' can be planned: amounts in range, rows booked = −before */
static int
valid(const tly_ledger_rev *in)
{
	__int128 booked;
	int i;

	if (in->amount_cent <= 0 || in->before_cent < 0 ||
	    in->before_cent > in->amount_cent || in->after_cent < 0 ||
	    in->after_cent > in->amount_cent || in->nparties < 1 ||
	    in->nparties > TLY_LEDGER_MAX)
		return 0;
	booked = in->kept_booked_cent;
	for (i = 0; i < in->nparties; i++)
		booked += in->parties[i].booked_cent;
	return booked == -(__int128)in->before_cent;
}

/*
 * tly_ledger_plan - the rows that move the payment of 'in' from
 * in->before_cent to in->after_cent (either way): per stakeholder, its
 * target −R_k(after) less what it has booked; the kept fee on the
 * bearer (role STRIPE_FEE_KEPT); the talent last.  'rows' holds
 * TLY_LEDGER_ROWS; their count goes to '*n' (0 for no move).  An
 * internal error when 'in' is out of range or inconsistent.
 */
int
tly_ledger_plan(const tly_ledger_rev *in, tly_ledger_row *rows, int *n,
    tly_err *err)
{
	const tly_ledger_party *p;
	__int128 total = 0, v;
	int64_t t;
	int i;

	*n = 0;
	if (!valid(in))
		return tly_err_internal(err);
	for (i = 1; i < in->nparties; i++) {
		p = &in->parties[i];
		t = tly_ledger_part(p->share_cent, in->after_cent,
		    in->amount_cent);
		total += t;
		v = -(__int128)t - p->booked_cent;
		if (!fits(v))
			goto range;
		add(rows, n, p->account_id, p->role, (int64_t)v);
	}
	t = tly_ledger_part(in->fee_cent, in->after_cent, in->amount_cent);
	total += t;
	v = -(__int128)t - in->kept_booked_cent;
	if (!fits(v))
		goto range;
	add(rows, n, in->bearer_id, "STRIPE_FEE_KEPT", (int64_t)v);
	p = &in->parties[0];
	v = -((__int128)in->after_cent - total) - p->booked_cent;
	if (!fits(v))
		goto range;
	add(rows, n, p->account_id, p->role, (int64_t)v);
	return TLY_OK;
range:
	*n = 0;
	return tly_err_internal(err);
}

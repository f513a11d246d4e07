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
 * The advance plans (advance.c reads and locks, plans here, posts; see
 * docs/ledger.md "Advances"): tly_ledger_offset_kept() is what an
 * advance keeps offset in a payment when the payment's C moves (target
 * T(C) = O − floor(O × C / A), never above what the advance has left
 * on a move back); tly_ledger_refee_left() and tly_ledger_refee_plan()
 * re-target the offsets of the fee bearer when the real Stripe fee
 * arrives.  Their invariants: 0 <= N' <= O', N' − N never above the
 * advance's room, at C = A nothing stays offset.
 *
 * tly_ledger_fee_in() converts Stripe's real fee from the settlement
 * currency into the payment's (docs/ledger.md, "Fees in another
 * currency"); tested by tests/unit/fee_fx_test.c.
 *
 * API:	tly_ledger_part(), tly_ledger_plan(), tly_ledger_offset_kept(),
 *	tly_ledger_refee_left(), tly_ledger_refee_plan(),
 *	tly_ledger_fee_in().
 */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "ledger.h"
#include "tly_str.h"

#define FEE_MAX		1000000000000000LL	/* 10^15 */

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

/* --- advances ------------------------------------------------------------ */

/*
 * tly_ledger_offset_kept - what advance offset 'm' keeps after its
 * payment's cumulative reversal C moves from m->before_cent to
 * m->after_cent, into '*kept'.  The target is T(C) = O - floor(O × C /
 * A) (128-bit): a move forward (a refund, a dispute) keeps min(N, T); a
 * move back (a refund that failed, a dispute reinstated) offsets again
 * up to T, but never more than the advance has left (its room), so an
 * advance is never recovered beyond what was granted.  At C = A nothing
 * is kept, so a full reversal gives the whole offset back whatever came
 * before.  TLY_ERR when 'm' is out of range.
 */
int
tly_ledger_offset_kept(const tly_ledger_offset *m, int64_t *kept_cent)
{
	int64_t t, up;

	if (m->amount_cent <= 0 || m->offset_cent < 0 || m->kept_cent < 0 ||
	    m->kept_cent > m->offset_cent || m->room_cent < 0 ||
	    m->before_cent < 0 || m->before_cent > m->amount_cent ||
	    m->after_cent < 0 || m->after_cent > m->amount_cent)
		return TLY_ERR;
	t = m->offset_cent - tly_ledger_part(m->offset_cent, m->after_cent,
	    m->amount_cent);
	if (m->after_cent >= m->before_cent) {
		*kept_cent = m->kept_cent < t ? m->kept_cent : t;
		return TLY_OK;
	}
	up = m->room_cent < t - m->kept_cent ? m->kept_cent + m->room_cent :
	    t;
	*kept_cent = up > m->kept_cent ? up : m->kept_cent;
	return TLY_OK;
}

/*
 * tly_ledger_refee_left - how much of the fee bearer's offsets moves
 * when the real fee moves its earning 'earn_cent' by −'delta_cent' (delta =
 * actual − estimate), 'offset_cent' (Σ O) being offset from it now: delta >
 * 0, what goes back, O − min(O, max(0, earn − delta)); delta < 0, what
 * more may be offset, min(−delta, earn − delta − O).  <= 0: nothing.
 */
int64_t
tly_ledger_refee_left(int64_t earn_cent, int64_t offset_cent,
    int64_t delta_cent)
{
	int64_t e = earn_cent - delta_cent;

	if (delta_cent > 0)
		return e < 0 ? offset_cent : offset_cent -
		    (e < offset_cent ? e : offset_cent);
	return e - offset_cent < -delta_cent ? e - offset_cent : -delta_cent;
}

/*
 * tly_ledger_refee_plan - spread 'left_cent' (tly_ledger_refee_left) over the
 * 'n' advances of 'it' (oldest first): given back newest first when
 * 'delta_cent' > 0 (the completion filled oldest first), offset oldest first,
 * at most each one's room, when 'delta_cent' < 0; then each changed one's N'
 * under the new target T'(C) = O' − floor(O' × C / A) of the payment's
 * 'amount_cent' A and cumulative reversal 'reversed_cent'
 * C: min(N, T') when the
 * offset shrank, max(N, min(T', N + room)) when it grew.  TLY_ERR when
 * an input is out of range or a result would break 0 <= N' <= O',
 * N' − N <= room.
 */
int
tly_ledger_refee_plan(tly_ledger_refee *it, int n, int64_t delta_cent,
    int64_t left_cent, int64_t amount_cent, int64_t reversed_cent)
{
	int64_t d, t, n1;
	int i;

	if (amount_cent <= 0 || reversed_cent < 0 ||
	    reversed_cent > amount_cent || n < 0)
		return TLY_ERR;
	for (i = 0; i < n; i++) {
		it[i].fee_move_cent = 0;
		it[i].kept_after_cent = it[i].kept_cent;
	}
	if (delta_cent > 0) {
		for (i = n - 1; i >= 0 && left_cent > 0; i--) {
			d = -(left_cent < it[i].offset_cent ? left_cent :
			    it[i].offset_cent);
			it[i].fee_move_cent = d;
			left_cent += d;
		}
	} else if (delta_cent < 0) {
		for (i = 0; i < n && left_cent > 0; i++) {
			d = left_cent < it[i].room_cent ? left_cent :
			    it[i].room_cent;
			it[i].fee_move_cent = d;
			left_cent -= d;
		}
	}
	for (i = 0; i < n; i++) {
		d = it[i].fee_move_cent;
		if (d == 0)
			continue;
		t = it[i].offset_cent + d;
		t -= tly_ledger_part(t, reversed_cent, amount_cent);
		if (delta_cent > 0)
			n1 = it[i].kept_cent < t ? it[i].kept_cent : t;
		else {
			n1 = it[i].kept_cent + it[i].room_cent < t ?
			    it[i].kept_cent + it[i].room_cent : t;
			if (n1 < it[i].kept_cent)
				n1 = it[i].kept_cent;
		}
		if (n1 < 0 || n1 > it[i].offset_cent + d ||
		    n1 - it[i].kept_cent > it[i].room_cent)
			return TLY_ERR;
		it[i].kept_after_cent = n1;
	}
	return TLY_OK;
}

/*
 * rate_parse - the decimal 'v' (a JSON number, never a double) as
 * 'm' / 10^'k' with 0 < m < 10^18 and 0 <= k <= 18.
 */
static int
rate_parse(const tly_jv *v, int64_t *m, int *k)
{
	const char *p;
	int64_t n = 0, e = 0;
	int scale = 0, digits = 0, frac = 0, eneg = 0;

	if (v && v->type == TLY_JINT && v->i > 0) {
		*m = v->i;
		*k = 0;
		return TLY_OK;
	}
	if (v == NULL || v->type != TLY_JNUM || v->s == NULL)
		return TLY_ERR;
	for (p = v->s; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.' && !frac) {
			frac = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			return TLY_ERR;
		scale += frac;
		if (n == 0 && *p == '0')
			continue;		/* leading zeros */
		if (++digits > 17)
			return TLY_ERR;
		n = n * 10 + (*p - '0');
	}
	if (*p) {			/* an exponent */
		p++;
		if (*p == '-' || *p == '+')
			eneg = *p++ == '-';
		if (*p == '\0')
			return TLY_ERR;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || e > 36)
				return TLY_ERR;
			e = e * 10 + (*p - '0');
		}
	}
	scale += eneg ? (int)e : -(int)e;
	for (; scale < 0 && n < INT64_MAX / 10; scale++)
		n *= 10;
	if (n <= 0 || scale < 0 || scale > 18)
		return TLY_ERR;
	*m = n;
	*k = scale;
	return TLY_OK;
}

/*
 * tly_ledger_fee_in - the fee 'settled_cent' of a balance transaction in
 * 'settled' (its currency, with its exchange_rate 'rate') in currency
 * 'currency' (the payment's) into '*fee_cent'.  Stripe keeps a balance
 * transaction in the settlement currency; when that is another one, the
 * fee is converted back with the transaction's exchange_rate r (an
 * amount in the payment's currency, times r, is the amount in the
 * settlement currency, in major units):
 *
 *	fee_cent = fee_settled × 10^exp(currency) / (r × 10^exp(settled))
 *
 * rounded to the nearest minor unit, halves away from zero, in exact
 * integer arithmetic (docs/ledger.md, "Fees in another currency").
 * TLY_ERR when the currencies differ and there is no usable rate.
 */
int
tly_ledger_fee_in(int64_t settled_cent, const char *settled,
    const tly_jv *rate, const char *currency, int64_t *fee_cent)
{
	__int128 num, den, q;
	int64_t m;
	int k, i;

	if (settled == NULL || currency == NULL)
		return TLY_ERR;
	if (strcmp(settled, currency) == 0) {
		*fee_cent = settled_cent;
		return TLY_OK;
	}
	if (rate_parse(rate, &m, &k) != TLY_OK ||
	    settled_cent > FEE_MAX || settled_cent < -FEE_MAX)
		return TLY_ERR;
	num = settled_cent < 0 ? -(__int128)settled_cent :
	    (__int128)settled_cent;
	for (i = 0; i < k + tly_currency_exponent(currency); i++)
		num *= 10;
	den = m;
	for (i = 0; i < tly_currency_exponent(settled); i++)
		den *= 10;
	q = (2 * num + den) / (2 * den);
	if (q > INT64_MAX)
		return TLY_ERR;
	*fee_cent = settled_cent < 0 ? -(int64_t)q : (int64_t)q;
	return TLY_OK;
}

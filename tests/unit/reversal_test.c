/*
 * reversal_test.c - the reversal engine of refunds (core/refund.c)
 *
 * Covers: a full refund reverses every share and charges Stripe's kept
 * fee to the bearer; each refund's rows sum exactly to it; many partial
 * refunds of a payment strand no cent (the cumulative reversal of each
 * stakeholder is floor(share × R / amount), the talent takes the rest);
 * a seeded random sweep of shares and refund sequences checks the same
 * invariants; bad input is refused.  tly_reversal_move: a backward move
 * (a refund that failed after booking, a dispute reinstated) is the
 * exact negation of the forward one, and any sequence of refunds,
 * disputes, failures and reinstatements keeps every stakeholder's total
 * reversal at floor(S_k × C / A) of the cumulative C = refunded +
 * disputed (docs/ledger.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "refund.h"
#include "tly_str.h"

static void
party(tly_rev_in *in, int i, const char *acct, const char *role, int64_t v)
{
	tly_strlcpy(in->parties[i].account_id, acct,
	    sizeof(in->parties[i].account_id));
	tly_strlcpy(in->parties[i].role, role, sizeof(in->parties[i].role));
	in->parties[i].share_cent = v;
	if (i + 1 > in->nparties)
		in->nparties = i + 1;
}

/* a 5500 payment: talent 4811, platform 350, host 100, ambassador 50,
 * Stripe fee 189 borne by the talent */
static void
sample(tly_rev_in *in)
{
	memset(in, 0, sizeof(*in));
	in->amount_cent = 5500;
	in->fee_cent = 189;
	party(in, 0, "acc_t", "TALENT", 4811);
	party(in, 1, "acc_platform", "PLATFORM", 350);
	party(in, 2, "acc_h", "HOST_PARTNER", 100);
	party(in, 3, "acc_a", "AMBASSADOR", 50);
	tly_strlcpy(in->bearer_id, "acc_t", sizeof(in->bearer_id));
}

static int64_t
sum(const tly_rev_row *rows, int n)
{
	int64_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += rows[i].amount_cent;
	return s;
}

static int64_t
of(const tly_rev_row *rows, int n, const char *role)
{
	int64_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].role, role) == 0)
			s += rows[i].amount_cent;
	return s;
}

static void
test_full_refund(void **state)
{
	tly_rev_row rows[TLY_REV_MAX + 1];
	tly_rev_in in;
	tly_err e;
	int n;

	(void)state;
	sample(&in);
	in.before_cent = 0;
	in.after_cent = 5500;
	tly_err_clear(&e);
	assert_int_equal(tly_reversal(&in, rows, &n, &e), TLY_OK);
	assert_int_equal(sum(rows, n), -5500);
	assert_int_equal(of(rows, n, "TALENT"), -4811);
	assert_int_equal(of(rows, n, "PLATFORM"), -350);
	assert_int_equal(of(rows, n, "HOST_PARTNER"), -100);
	assert_int_equal(of(rows, n, "AMBASSADOR"), -50);
	assert_int_equal(of(rows, n, "STRIPE_FEE_KEPT"), -189);
	assert_int_equal(of(rows, n, "STRIPE_FEE"), 0);	/* not reversed */
}

static void
test_partials_strand_nothing(void **state)
{
	static const int64_t steps[] = { 1, 333, 7, 1000, 2, 2222, 1935 };
	tly_rev_row rows[TLY_REV_MAX + 1];
	int64_t total[5] = { 0, 0, 0, 0, 0 }, r = 0;
	static const char *roles[5] = { "TALENT", "PLATFORM", "HOST_PARTNER",
	    "AMBASSADOR", "STRIPE_FEE_KEPT" };
	tly_rev_in in;
	tly_err e;
	size_t k;
	int n, i;

	(void)state;
	tly_err_clear(&e);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		sample(&in);
		in.before_cent = r;
		in.after_cent = r + steps[k];
		assert_int_equal(tly_reversal(&in, rows, &n, &e), TLY_OK);
		if (sum(rows, n) != -steps[k])
			fail_msg("refund %zu of %lld: rows sum to %lld", k,
			    (long long)steps[k], (long long)sum(rows, n));
		for (i = 0; i < 5; i++)
			total[i] += of(rows, n, roles[i]);
		r += steps[k];
	}
	assert_int_equal(r, 5500);
	assert_int_equal(total[0], -4811);
	assert_int_equal(total[1], -350);
	assert_int_equal(total[2], -100);
	assert_int_equal(total[3], -50);
	assert_int_equal(total[4], -189);
}

static uint64_t
next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
test_random_sweep(void **state)
{
	tly_rev_row rows[TLY_REV_MAX + 1];
	tly_rev_in in;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int64_t a, rest, r, step, cum[TLY_REV_MAX];
	tly_err e;
	int round, i, n, np, j;

	(void)state;
	tly_err_clear(&e);
	for (round = 0; round < 2000; round++) {
		memset(&in, 0, sizeof(in));
		a = 50 + (int64_t)(next(&seed) % 10000000);
		in.amount_cent = a;
		rest = a;
		in.fee_cent = (int64_t)(next(&seed) % (uint64_t)(a / 4 + 1));
		rest -= in.fee_cent;
		np = 1 + (int)(next(&seed) % 6);
		for (i = 1; i < np; i++) {
			int64_t v = (int64_t)(next(&seed) %
			    (uint64_t)(rest / 3 + 1));

			party(&in, i, "acc_x", "AGENT", v);
			rest -= v;
		}
		party(&in, 0, "acc_t", "TALENT", rest);
		tly_strlcpy(in.bearer_id, "acc_t", sizeof(in.bearer_id));
		memset(cum, 0, sizeof(cum));
		for (r = 0; r < a; r += step) {
			step = 1 + (int64_t)(next(&seed) %
			    (uint64_t)(a / 3 + 1));
			if (r + step > a)
				step = a - r;
			in.before_cent = r;
			in.after_cent = r + step;
			assert_int_equal(tly_reversal(&in, rows, &n, &e),
			    TLY_OK);
			if (sum(rows, n) != -step)
				fail_msg("round %d: rows %lld, refund %lld",
				    round, (long long)sum(rows, n),
				    (long long)step);
			for (j = 0; j < n; j++)
				if (strcmp(rows[j].role, "AGENT") == 0)
					cum[0] += rows[j].amount_cent;
		}
		/* fully refunded: every agent share came back whole */
		for (i = 1, rest = 0; i < np; i++)
			rest += in.parties[i].share_cent;
		if (cum[0] != -rest)
			fail_msg("round %d: agents got back %lld of %lld",
			    round, (long long)-cum[0], (long long)rest);
	}
}

static void
test_bad_input(void **state)
{
	tly_rev_row rows[TLY_REV_MAX + 1];
	tly_rev_in in;
	tly_err e;
	int n;

	(void)state;
	tly_err_clear(&e);
	sample(&in);
	in.before_cent = 100;
	in.after_cent = 50;			/* backwards */
	assert_int_equal(tly_reversal(&in, rows, &n, &e), TLY_ERR);
	sample(&in);
	in.after_cent = 5501;			/* more than the amount */
	assert_int_equal(tly_reversal(&in, rows, &n, &e), TLY_ERR);
	sample(&in);
	in.amount_cent = 0;
	in.after_cent = 0;
	assert_int_equal(tly_reversal(&in, rows, &n, &e), TLY_ERR);
}

static void
test_move_backward(void **state)
{
	tly_rev_row fwd[TLY_REV_MAX + 1], back[TLY_REV_MAX + 1];
	tly_rev_in in;
	tly_err e;
	int nf, nb, i;

	(void)state;
	tly_err_clear(&e);
	sample(&in);
	in.before_cent = 700;
	in.after_cent = 2999;
	assert_int_equal(tly_reversal_move(&in, fwd, &nf, &e), TLY_OK);
	in.before_cent = 2999;
	in.after_cent = 700;
	assert_int_equal(tly_reversal_move(&in, back, &nb, &e), TLY_OK);
	assert_int_equal(nf, nb);
	assert_int_equal(sum(back, nb), 2299);
	for (i = 0; i < nf; i++) {
		assert_string_equal(fwd[i].role, back[i].role);
		assert_int_equal(fwd[i].amount_cent, -back[i].amount_cent);
	}
	in.before_cent = in.after_cent = 1234;		/* no move, no rows */
	assert_int_equal(tly_reversal_move(&in, back, &nb, &e), TLY_OK);
	assert_int_equal(nb, 0);
}

/*
 * a random walk of C (refunds and disputes up, failures and
 * reinstatements down): after every move each party's running total is
 * exactly what the cumulative formula says for the current C
 */
static void
test_move_walk(void **state)
{
	static const char *roles[4] = { "PLATFORM", "HOST_PARTNER",
	    "AMBASSADOR", "STRIPE_FEE_KEPT" };
	static const int64_t share[4] = { 350, 100, 50, 189 };
	tly_rev_row rows[TLY_REV_MAX + 1];
	int64_t total[4], talent, c = 0, to, want;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	tly_rev_in in;
	tly_err e;
	int step, n, i;

	(void)state;
	tly_err_clear(&e);
	memset(total, 0, sizeof(total));
	talent = 0;
	for (step = 0; step < 5000; step++) {
		to = (int64_t)(next(&seed) % 5501);
		sample(&in);
		in.before_cent = c;
		in.after_cent = to;
		assert_int_equal(tly_reversal_move(&in, rows, &n, &e),
		    TLY_OK);
		if (sum(rows, n) != -(to - c))
			fail_msg("step %d: %lld -> %lld: rows sum to %lld",
			    step, (long long)c, (long long)to,
			    (long long)sum(rows, n));
		for (i = 0; i < 4; i++)
			total[i] += of(rows, n, roles[i]);
		talent += of(rows, n, "TALENT");
		c = to;
		for (i = 0; i < 4; i++) {
			want = -(int64_t)((__int128)share[i] * c / 5500);
			if (total[i] != want)
				fail_msg("step %d: %s reversed %lld at C = "
				    "%lld, want %lld", step, roles[i],
				    (long long)total[i], (long long)c,
				    (long long)want);
		}
		if (talent + total[0] + total[1] + total[2] + total[3] != -c)
			fail_msg("step %d: a cent stranded at C = %lld", step,
			    (long long)c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_refund),
		cmocka_unit_test(test_partials_strand_nothing),
		cmocka_unit_test(test_random_sweep),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_move_backward),
		cmocka_unit_test(test_move_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

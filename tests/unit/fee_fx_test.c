/*
 * fee_fx_test.c - the real Stripe fee in the payment's currency
 * (core/ledger.c, tly_ledger_fee_in)
 *
 * Stripe keeps a balance transaction in the settlement currency with an
 * exchange_rate r (an amount in the charge's currency, times r, is the
 * amount in the settlement currency, major units).  The fee in the
 * payment's currency is fee × 10^exp(payment) / (r × 10^exp(settled)),
 * to the nearest minor unit, halves away from zero, exactly: the rate is
 * read from its JSON decimal text, never through a double.  Covers the
 * same currency (no rate needed), jpy/usd both ways, a three-decimal
 * currency, exact halves, exponents, negative fees, and the refusals
 * (no rate, zero, negative, garbage, too many digits).
 */
#include "tly_test.h"

#include "ledger.h"
#include "stripe.h"
#include "tly_json.h"
#include "tly_pool.h"

static int
setup(void **state)
{
	*state = tly_pool_new(16384);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	tly_pool_free(*state);
	return 0;
}

/* fee_in - the fee of the balance transaction 'json' in 'cur' */
static int
fee_in(tly_pool *p, const char *json, const char *cur, int64_t *fee)
{
	tly_st_balance_txn bt;
	tly_jv *j;
	tly_err err;

	tly_err_clear(&err);
	if (tly_json_parse(p, json, strlen(json), &tly_json_api_limits, &j,
	    &err) != TLY_OK)
		fail_msg("bad JSON: %s", json);
	if (tly_st_balance_txn_parse(j, &bt) != TLY_OK)
		fail_msg("not a balance transaction: %s", json);
	return tly_ledger_fee_in(bt.fee_cent, bt.currency, bt.exchange_rate,
	    cur, fee);
}

#define BT(cur, fee, rate) "{\"object\":\"balance_transaction\"," \
	"\"id\":\"txn_1\",\"currency\":\"" cur "\",\"amount\":1000," \
	"\"fee\":" fee ",\"exchange_rate\":" rate "}"

static void
test_converted(void **state)
{
	static const struct {
		const char	*json, *cur;
		int64_t		 want;
	} t[] = {
		/* same currency: the fee as it is, whatever the rate */
		{ BT("usd", "89", "null"), "usd", 89 },
		{ BT("jpy", "109", "null"), "jpy", 109 },
		/* 89 US cents at 0.0067 usd/jpy: 132.84 -> 133 yen */
		{ BT("usd", "89", "0.0067"), "jpy", 133 },
		/* exponent notation, the same rate */
		{ BT("usd", "89", "6.7e-3"), "jpy", 133 },
		{ BT("usd", "89", "0.67E-2"), "jpy", 133 },
		/* the usd dispute fee: 1500 / 0.67 = 2238.8 -> 2239 */
		{ BT("usd", "1500", "0.0067"), "jpy", 2239 },
		/* exact halves go away from zero: 5 / 2 = 2.5 -> 3 */
		{ BT("usd", "5", "2"), "usd", 5 },
		{ BT("eur", "5", "2"), "usd", 3 },
		{ BT("eur", "-5", "2"), "usd", -3 },
		/* 1.25 -> 1 (below the half), 1.75 -> 2 */
		{ BT("eur", "5", "4"), "usd", 1 },
		{ BT("eur", "7", "4"), "usd", 2 },
		/* ¥160 fee settled in jpy for a usd charge at 161.194 */
		{ BT("jpy", "160", "161.194"), "usd", 99 },
		/* three decimals: 1000 US cents at 3.25 usd/kwd ->
		 * 10 / 3.25 = 3.0769 kwd = 3077 fils */
		{ BT("usd", "1000", "3.25"), "kwd", 3077 },
		/* a negative fee (Stripe gives one back) */
		{ BT("usd", "-89", "0.0067"), "jpy", -133 },
		{ BT("usd", "0", "0.0067"), "jpy", 0 },
		/* an integer rate */
		{ BT("usd", "100", "1"), "eur", 100 },
	};
	size_t i;
	int64_t fee;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fee = -999999;
		if (fee_in(*state, t[i].json, t[i].cur, &fee) != TLY_OK)
			fail_msg("row %zu (%s in %s): refused", i, t[i].json,
			    t[i].cur);
		if (fee != t[i].want)
			fail_msg("row %zu (%s in %s): got %lld, want %lld", i,
			    t[i].json, t[i].cur, (long long)fee,
			    (long long)t[i].want);
	}
}

static void
test_refused(void **state)
{
	static const char *t[] = {
		BT("usd", "89", "null"),
		"{\"object\":\"balance_transaction\",\"id\":\"t\","
		    "\"currency\":\"usd\",\"fee\":89}",
		BT("usd", "89", "0"),
		BT("usd", "89", "0.000"),
		BT("usd", "89", "-0.0067"),
		BT("usd", "89", "\"0.0067\""),
		BT("usd", "89", "0.123456789012345678901"),
		BT("usd", "89", "1e-30"),
	};
	size_t i;
	int64_t fee;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (fee_in(*state, t[i], "jpy", &fee) != TLY_ERR)
			fail_msg("row %zu (%s): accepted, got %lld", i, t[i],
			    (long long)fee);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_converted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

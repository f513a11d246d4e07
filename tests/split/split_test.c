/*
 * split_test.c - the revenue split (core/split.c) against the rules in
 * split.h, table-driven: fixed and bps platform fees, the agent's share of
 * price x quantity, host partner and ambassador taking bps of the platform
 * fee, the Stripe fee borne by the talent or by the platform, flooring with
 * the remainder to the talent, quantities, zero- and three-decimal
 * currencies, the currency's minimum and maximum (at, one below, one
 * above), every refusal (422 and its code) including int64 overflow, and
 * tly_bps_of(), tly_share_role(), tly_share_role_parse().  A sweep over
 * extreme values checks the invariants (shares >= 0, sum == amount, every
 * refusal a 422 with a known code) for UBSan and ASan.
 *
 * Expected values were computed from the rules, not from split.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <string.h>

#include <cmocka.h>

#include "tly_err.h"
#include "split.h"

#define FIX	TLY_FEE_FIXED
#define BPS	TLY_FEE_BPS
#define NELEM(t)	(sizeof(t) / sizeof((t)[0]))

/* inputs in the order of tly_split_in */
#define IN(p, q, k, v, ag, ho, am, sb, sf, pb, mn, mx) \
	{ (p), (q), (k), (k) == BPS ? 0 : (v), (k) == BPS ? (v) : 0, (ag), \
	    (ho), (am), (sb), (sf), (pb), (mn), (mx) }
/* accepted: subtotal, fee, amount, then the shares in enum order */
#define OK(su, fe, am, t, a, p, s, b, h) \
	NULL, (su), (fe), (am), { (t), (a), (p), (s), (b), (h) }
/* refused (422) with this code */
#define NO(c)	(c), 0, 0, 0, { 0, 0, 0, 0, 0, 0 }

struct split_row {
	const char	*name;
	tly_split_in	 in;
	const char	*code;		/* NULL: accepted */
	int64_t		 sub, fee, amt;
	int64_t		 share[TLY_SHARE_N];
};

static const char *const field[TLY_SHARE_N] = {
	"talent", "agent", "platform", "stripe_fee", "ambassador",
	"host_partner"
};

static const char *const codes[] = {
	"amount_too_small", "amount_too_large", "negative_share",
	"invalid_rate", "invalid_amount", "invalid_fee_policy"
};

static const struct split_row rows[] = {
	{ "fixed fee on one item, Stripe 2.9% + 30 borne by the talent",
	    IN(1000, 1, FIX, 300, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(1000, 300, 1300, 933, 0, 300, 67, 0, 0) },
	{ "bps fee (10%)",
	    IN(1000, 1, BPS, 1000, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(1000, 100, 1100, 939, 0, 100, 61, 0, 0) },
	{ "fixed fee 0",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(1000, 0, 1000, 941, 0, 0, 59, 0, 0) },
	{ "bps fee 0",
	    IN(1000, 1, BPS, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(1000, 0, 1000, 941, 0, 0, 59, 0, 0) },
	{ "bps fee 10000: the fee equals the subtotal",
	    IN(1000, 1, BPS, 10000, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(1000, 1000, 2000, 912, 0, 1000, 88, 0, 0) },
	{ "no Stripe fee: the talent keeps the subtotal",
	    IN(1000, 1, BPS, 1500, 0, 0, 0, 0, 0, 0, 50, 99999999),
	    OK(1000, 150, 1150, 1000, 0, 150, 0, 0, 0) },
	{ "agent 15% of price x quantity, not of the amount",
	    IN(2000, 3, BPS, 1000, 1500, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(6000, 600, 6600, 4879, 900, 600, 221, 0, 0) },
	{ "agent 100% without a Stripe fee: the talent gets 0",
	    IN(2000, 3, FIX, 500, 10000, 0, 0, 0, 0, 0, 50, 99999999),
	    OK(6000, 500, 6500, 0, 6000, 500, 0, 0, 0) },
	{ "agent 100% with the talent bearing the Stripe fee: refused",
	    IN(2000, 3, FIX, 500, 10000, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "agent 100% with the platform bearing the Stripe fee",
	    IN(2000, 3, FIX, 500, 10000, 0, 0, 290, 30, 1, 50, 99999999),
	    OK(6000, 500, 6500, 0, 6000, 282, 218, 0, 0) },
	{ "host partner alone takes bps of the platform fee",
	    IN(10000, 1, BPS, 1000, 0, 2000, 0, 290, 30, 0, 50, 99999999),
	    OK(10000, 1000, 11000, 9651, 0, 800, 349, 0, 200) },
	{ "ambassador alone takes bps of the platform fee",
	    IN(10000, 1, BPS, 1000, 0, 0, 500, 290, 30, 0, 50, 99999999),
	    OK(10000, 1000, 11000, 9651, 0, 950, 349, 50, 0) },
	{ "host partner and ambassador together",
	    IN(10000, 1, BPS, 1000, 0, 2000, 500, 290, 30, 0, 50, 99999999),
	    OK(10000, 1000, 11000, 9651, 0, 750, 349, 50, 200) },
	{ "host partner and ambassador on a fixed fee, agent too",
	    IN(4999, 2, FIX, 777, 1000, 2500, 1000, 290, 30, 0, 50, 99999999),
	    OK(9998, 777, 10775, 8657, 999, 506, 342, 77, 194) },
	{ "host + ambassador = 10000: the platform keeps 0",
	    IN(10000, 1, BPS, 1000, 0, 6000, 4000, 290, 30, 0, 50, 99999999),
	    OK(10000, 1000, 11000, 9651, 0, 0, 349, 400, 600) },
	{ "host + ambassador = 10000, platform bears the Stripe fee: refused",
	    IN(10000, 1, BPS, 1000, 0, 6000, 4000, 290, 30, 1, 50, 99999999),
	    NO("negative_share") },
	{ "host + ambassador = 10000, platform bears a zero Stripe fee",
	    IN(10000, 1, BPS, 1000, 0, 6000, 4000, 0, 0, 1, 50, 99999999),
	    OK(10000, 1000, 11000, 10000, 0, 0, 0, 400, 600) },
	{ "host + ambassador = 10001: refused",
	    IN(10000, 1, BPS, 1000, 0, 6001, 4000, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "host 10000 + ambassador 1: refused",
	    IN(10000, 1, BPS, 1000, 0, 10000, 1, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "host + ambassador > 10000 even with a zero fee: refused",
	    IN(10000, 1, FIX, 0, 0, 5001, 5000, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "platform bears the Stripe fee: the talent keeps subtotal - agent",
	    IN(10000, 1, BPS, 1000, 500, 1000, 1000, 290, 30, 1, 50, 99999999),
	    OK(10000, 1000, 11000, 9500, 500, 451, 349, 100, 100) },
	{ "platform bears the Stripe fee, fixed fee too small: refused",
	    IN(1000, 1, FIX, 50, 0, 0, 0, 290, 30, 1, 50, 99999999),
	    NO("negative_share") },
	{ "platform bears the Stripe fee, fee exactly covers it: platform 0",
	    IN(1000, 1, FIX, 30, 0, 0, 0, 0, 30, 1, 50, 99999999),
	    OK(1000, 30, 1030, 1000, 0, 0, 30, 0, 0) },
	{ "platform bears the Stripe fee, one short: refused",
	    IN(1000, 1, FIX, 29, 0, 0, 0, 0, 30, 1, 50, 99999999),
	    NO("negative_share") },
	{ "talent bears the fee, exactly covers it: talent 0",
	    IN(40, 1, FIX, 10, 0, 0, 0, 0, 40, 0, 50, 99999999),
	    OK(40, 10, 50, 0, 0, 10, 40, 0, 0) },
	{ "talent bears the fee, one short: refused",
	    IN(40, 1, FIX, 10, 0, 0, 0, 0, 41, 0, 50, 99999999),
	    NO("negative_share") },
	{ "every floor drops a fraction, the talent gets what they leave",
	    IN(333, 3, BPS, 333, 777, 3333, 1111, 290, 30, 0, 50, 99999999),
	    OK(999, 33, 1032, 863, 77, 20, 59, 3, 10) },
	{ "floors, platform bearing the fee",
	    IN(333, 3, BPS, 3333, 777, 3333, 1111, 290, 30, 1, 50, 99999999),
	    OK(999, 332, 1331, 922, 77, 118, 68, 36, 110) },
	{ "floors just below a whole unit (x.9999)",
	    IN(9999, 1, BPS, 1, 1, 0, 0, 1, 0, 0, 0, 99999999),
	    OK(9999, 0, 9999, 9999, 0, 0, 0, 0, 0) },
	{ "one cent: every bps share floors to 0",
	    IN(1, 1, BPS, 9999, 9999, 0, 0, 9999, 0, 0, 0, 99999999),
	    OK(1, 0, 1, 1, 0, 0, 0, 0, 0) },
	{ "quantity 7: the fixed fee is per order, not per unit",
	    IN(1250, 7, FIX, 300, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(8750, 300, 9050, 8458, 0, 300, 292, 0, 0) },
	{ "quantity 1000, bps fee and agent",
	    IN(999, 1000, BPS, 1250, 800, 1500, 700, 290, 30, 0, 50, 99999999),
	    OK(999000, 124875, 1123875, 886458, 79920, 97403, 32622, 8741,
	    18731) },
	{ "price 0 with a fixed fee, platform bears the Stripe fee",
	    IN(0, 5, FIX, 100, 1000, 0, 0, 290, 30, 1, 50, 99999999),
	    OK(0, 100, 100, 0, 0, 68, 32, 0, 0) },
	{ "price 0 with a fixed fee, talent bears the Stripe fee: refused",
	    IN(0, 5, FIX, 100, 1000, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "everything zero, minimum 0: all shares 0",
	    IN(0, 1, FIX, 0, 0, 0, 0, 0, 0, 0, 0, 99999999),
	    OK(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "jpy: 3.6% and no fixed part",
	    IN(1000, 2, BPS, 1500, 0, 0, 0, 360, 0, 0, 50, 99999999),
	    OK(2000, 300, 2300, 1918, 0, 300, 82, 0, 0) },
	{ "jpy: exactly the minimum 50",
	    IN(50, 1, FIX, 0, 0, 0, 0, 360, 0, 0, 50, 99999999),
	    OK(50, 0, 50, 49, 0, 0, 1, 0, 0) },
	{ "jpy: one below the minimum",
	    IN(49, 1, FIX, 0, 0, 0, 0, 360, 0, 0, 50, 99999999),
	    NO("amount_too_small") },
	{ "three decimals (kwd, thousandths)",
	    IN(12345, 2, BPS, 750, 0, 0, 0, 290, 300, 0, 500, 99999999),
	    OK(24690, 1851, 26541, 23621, 0, 1851, 1069, 0, 0) },
	{ "three decimals with agent, host and ambassador",
	    IN(12345, 3, BPS, 1250, 1000, 2000, 1000, 290, 300, 0, 500,
	    99999999),
	    OK(37035, 4629, 41664, 31824, 3703, 3242, 1508, 462, 925) },
	{ "amount exactly at the minimum",
	    IN(50, 1, FIX, 0, 0, 0, 0, 0, 30, 0, 50, 99999999),
	    OK(50, 0, 50, 20, 0, 0, 30, 0, 0) },
	{ "amount one below the minimum",
	    IN(49, 1, FIX, 0, 0, 0, 0, 0, 30, 0, 50, 99999999),
	    NO("amount_too_small") },
	{ "the minimum applies to the amount, fee included",
	    IN(40, 1, FIX, 10, 0, 0, 0, 0, 0, 0, 50, 99999999),
	    OK(40, 10, 50, 40, 0, 10, 0, 0, 0) },
	{ "bps fee rounds down below the minimum",
	    IN(45, 1, BPS, 1111, 0, 0, 0, 0, 0, 0, 50, 99999999),
	    NO("amount_too_small") },
	{ "amount exactly at the maximum (no fee)",
	    IN(99999999, 1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(99999999, 0, 99999999, 97099970, 0, 0, 2900029, 0, 0) },
	{ "amount exactly at the maximum, bps fee included",
	    IN(90909090, 1, BPS, 1000, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    OK(90909090, 9090909, 99999999, 88009061, 0, 9090909, 2900029, 0,
	    0) },
	{ "amount one above the maximum, bps fee included",
	    IN(90909091, 1, BPS, 1000, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("amount_too_large") },
	{ "subtotal at the maximum, fixed fee 1 pushes it over",
	    IN(99999999, 1, FIX, 1, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("amount_too_large") },
	{ "subtotal one above the maximum",
	    IN(100000000, 1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("amount_too_large") },
	{ "price x quantity above the maximum",
	    IN(50000000, 2, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("amount_too_large") },
	{ "max 0: no cap but INT64_MAX (10^12 accepted)",
	    IN(1000000000000, 1, BPS, 1000, 0, 0, 0, 290, 30, 0, 50, 0),
	    OK(1000000000000, 100000000000, 1100000000000, 968099999970, 0,
	    100000000000, 31900000030, 0, 0) },
	{ "the same amount with a usd cap: refused",
	    IN(1000000000000, 1, BPS, 1000, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("amount_too_large") },
	{ "max 0: amount exactly INT64_MAX",
	    IN(INT64_MAX - 5, 1, FIX, 5, 0, 0, 0, 0, 0, 0, 50, 0),
	    OK(INT64_MAX - 5, 5, INT64_MAX, INT64_MAX - 5, 0, 5, 0, 0, 0) },
	{ "max 0: INT64_MAX, 128-bit bps of it",
	    IN(INT64_MAX, 1, FIX, 0, 3333, 0, 0, 290, 30, 0, 50, 0),
	    OK(INT64_MAX, 0, INT64_MAX, 5881744347902290503,
	    3074149899883696776, 0, 267477789068788528, 0, 0) },
	{ "max 0: INT64_MAX with agent 100% and no Stripe fee",
	    IN(INT64_MAX, 1, FIX, 0, 10000, 0, 0, 0, 0, 0, 50, 0),
	    OK(INT64_MAX, 0, INT64_MAX, 0, INT64_MAX, 0, 0, 0, 0) },
	{ "max 0: INT64_MAX, platform bears the fee, talent keeps it",
	    IN(INT64_MAX - 1000, 1, FIX, 1000, 0, 2500, 2500, 0, 100, 1, 50, 0),
	    OK(INT64_MAX - 1000, 1000, INT64_MAX, INT64_MAX - 1000, 0, 400, 100,
	    250, 250) },
	{ "overflow: INT64_MAX + fixed fee 1 must not wrap",
	    IN(INT64_MAX, 1, FIX, 1, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: INT64_MAX + 1 bps must not wrap",
	    IN(INT64_MAX, 1, BPS, 1, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: 2^62 x 2 = 2^63",
	    IN(INT64_MAX / 2 + 1, 2, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: INT64_MAX x 2",
	    IN(INT64_MAX, 2, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: INT64_MAX x INT64_MAX",
	    IN(INT64_MAX, INT64_MAX, BPS, 10000, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: price x 1000 near INT64_MAX, usd cap",
	    IN(INT64_MAX / 1000, 1001, FIX, 0, 0, 0, 0, 290, 30, 0, 50,
	    99999999),
	    NO("amount_too_large") },
	{ "overflow: price 1, fixed fee INT64_MAX",
	    IN(1, 1, FIX, INT64_MAX, 0, 0, 0, 290, 30, 0, 50, 0),
	    NO("amount_too_large") },
	{ "overflow: bps fee 100% on INT64_MAX / 2 + 1",
	    IN(INT64_MAX / 2 + 1, 1, BPS, 10000, 0, 0, 0, 0, 0, 0, 50, 0),
	    NO("amount_too_large") },
	{ "bps fee 100% on INT64_MAX / 2: exactly INT64_MAX - 1",
	    IN(INT64_MAX / 2, 1, BPS, 10000, 0, 0, 0, 0, 0, 0, 50, 0),
	    OK(4611686018427387903, 4611686018427387903, INT64_MAX - 1,
	    4611686018427387903, 0, 4611686018427387903, 0, 0, 0) },
	{ "tiny price, big fixed Stripe fee: negative talent share",
	    IN(10, 1, FIX, 100, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "tiny price, fees over it (agent too): negative talent share",
	    IN(60, 1, FIX, 0, 5000, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("negative_share") },
	{ "Stripe fixed part near INT64_MAX, no overflow: negative share",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 290, INT64_MAX - 29, 0, 50, 99999999),
	    NO("negative_share") },
	/*
	 * A Stripe fee that overflows int64 (29 + INT64_MAX - 28) exceeds
	 * any amount: the share it comes out of would be negative, as one
	 * unit less (the row above) is.
	 */
	{ "Stripe fee overflows int64: a negative share, not too large",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 290, INT64_MAX - 28, 0, 50, 99999999),
	    NO("negative_share") },
	{ "Stripe fixed INT64_MAX: a negative share, not too large",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 290, INT64_MAX, 1, 50, 99999999),
	    NO("negative_share") },
	{ "quantity 0",
	    IN(1000, 0, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_amount") },
	{ "quantity -1",
	    IN(1000, -1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_amount") },
	{ "negative price",
	    IN(-1, 1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_amount") },
	{ "price INT64_MIN",
	    IN(INT64_MIN, 1, FIX, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_amount") },
	{ "agent -1",
	    IN(1000, 1, FIX, 0, -1, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "agent 10001",
	    IN(1000, 1, FIX, 0, 10001, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "host -1",
	    IN(1000, 1, FIX, 0, 0, -1, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "host 10001",
	    IN(1000, 1, FIX, 0, 0, 10001, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "ambassador -1",
	    IN(1000, 1, FIX, 0, 0, 0, -1, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "ambassador 10001",
	    IN(1000, 1, FIX, 0, 0, 0, 10001, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "host -1 and ambassador 10001 (sum 10000)",
	    IN(1000, 1, FIX, 0, 0, -1, 10001, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "Stripe bps -1",
	    IN(1000, 1, FIX, 0, 0, 0, 0, -1, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "Stripe bps 10001",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 10001, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "Stripe fixed -1",
	    IN(1000, 1, FIX, 0, 0, 0, 0, 290, -1, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "bps fee -1",
	    IN(1000, 1, BPS, -1, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "bps fee 10001",
	    IN(1000, 1, BPS, 10001, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "bps fee INT64_MAX",
	    IN(1000, 1, BPS, INT64_MAX, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "fixed fee -1",
	    IN(1000, 1, FIX, -1, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_amount") },
	{ "agent INT64_MIN",
	    IN(1000, 1, FIX, 0, INT64_MIN, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_rate") },
	{ "fee kind 0",
	    IN(1000, 1, 0, 0, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_fee_policy") },
	{ "fee kind 3",
	    IN(1000, 1, 3, 100, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_fee_policy") },
	{ "fee kind -1",
	    IN(1000, 1, -1, 100, 0, 0, 0, 290, 30, 0, 50, 99999999),
	    NO("invalid_fee_policy") },
};

#define NROWS	NELEM(rows)

/* how check_row() reports a difference */
enum { LOUD = 1 };

static void say(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(int mode, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (mode == LOUD)
		vprint_error(fmt, ap);
	va_end(ap);
}

/* mismatch - say "row N: got X, want Y"; 1 */
static int
mismatch(int mode, size_t i, const char *what, int64_t got, int64_t want)
{
	say(mode, "row %zu (%s): got %s=%" PRId64 ", want %s=%" PRId64
	    "\n", i, rows[i].name, what, got, what, want);
	return 1;
}

static int
mismatch_s(int mode, size_t i, const char *what, const char *got,
    const char *want)
{
	say(mode, "row %zu (%s): got %s=%s, want %s=%s\n", i,
	    rows[i].name, what, got, what, want);
	return 1;
}

/* check_row - run row i; the number of differences from what it wants */
static int
check_row(size_t i, int mode)
{
	const struct split_row *r = &rows[i];
	tly_split_out out;
	tly_err err;
	__int128 sum;
	int rc, bad = 0, k;

	tly_err_clear(&err);
	memset(&out, 0xa5, sizeof(out));	/* nothing stale may survive */
	rc = tly_split(&r->in, &out, &err);
	if (r->code != NULL) {
		if (rc != TLY_ERR)
			return mismatch_s(mode, i, "result", "accepted",
			    r->code);
		if (err.kind != TLY_EK_UNPROCESSABLE)
			bad += mismatch(mode, i, "kind", err.kind,
			    TLY_EK_UNPROCESSABLE);
		if (tly_err_status(&err) != 422)
			bad += mismatch(mode, i, "status",
			    tly_err_status(&err), 422);
		if (strcmp(err.code, r->code) != 0)
			bad += mismatch_s(mode, i, "code", err.code, r->code);
		if (err.msg[0] == '\0')
			bad += mismatch_s(mode, i, "msg", "", "a message");
		return bad;
	}
	if (rc != TLY_OK)
		return mismatch_s(mode, i, "result", err.code, "accepted");
	if (err.kind != TLY_EK_NONE)
		bad += mismatch(mode, i, "err.kind", err.kind, TLY_EK_NONE);
	if (out.subtotal_cent != r->sub)
		bad += mismatch(mode, i, "subtotal", out.subtotal_cent,
		    r->sub);
	if (out.platform_fee_cent != r->fee)
		bad += mismatch(mode, i, "platform_fee",
		    out.platform_fee_cent, r->fee);
	if (out.amount_cent != r->amt)
		bad += mismatch(mode, i, "amount", out.amount_cent, r->amt);
	sum = 0;
	for (k = 0; k < TLY_SHARE_N; k++) {
		if (out.share_cent[k] != r->share[k])
			bad += mismatch(mode, i, field[k], out.share_cent[k],
			    r->share[k]);
		if (out.share_cent[k] < 0)
			bad += mismatch(mode, i, "share >= 0",
			    out.share_cent[k], 0);
		sum += out.share_cent[k];
	}
	if (sum != out.amount_cent)
		bad += mismatch(mode, i, "sum - amount",
		    (int64_t)(sum - out.amount_cent), 0);
	return bad;
}

static void
test_split_table(void **state)
{
	size_t i, acc = 0, ref = 0;
	int bad = 0;

	(void)state;
	for (i = 0; i < NROWS; i++) {
		if (rows[i].code == NULL)
			acc++;
		else
			ref++;
		bad += check_row(i, LOUD);
	}
	print_message("%zu rows: %zu accepted, %zu refused\n", NROWS, acc,
	    ref);
	if (bad)
		fail_msg("%d mismatches in the split table", bad);
}

/* tly_bps_of: floor(v x bps / 10000) in 128 bits, range checks */
static void
test_bps_of(void **state)
{
	static const struct {
		int64_t	 v, bps;
		int	 rc;
		int64_t	 want;
	} t[] = {
		{ 0, 0, TLY_OK, 0 },
		{ 0, 10000, TLY_OK, 0 },
		{ 100, 10000, TLY_OK, 100 },
		{ 100, 0, TLY_OK, 0 },
		{ 9999, 1, TLY_OK, 0 },		/* 0.9999 floors to 0 */
		{ 10000, 1, TLY_OK, 1 },
		{ 19999, 1, TLY_OK, 1 },
		{ 1000, 290, TLY_OK, 29 },
		{ 1099, 290, TLY_OK, 31 },	/* 31.871 */
		{ 1, 9999, TLY_OK, 0 },
		{ INT64_MAX, 10000, TLY_OK, INT64_MAX },
		{ INT64_MAX, 9999, TLY_OK, 9222449699651090329 },
		{ INT64_MAX, 5000, TLY_OK, 4611686018427387903 },
		{ INT64_MAX, 1, TLY_OK, 922337203685477 },
		{ INT64_MAX, 290, TLY_OK, 267477789068788498 },
		{ -1, 100, TLY_ERR, 0 },
		{ INT64_MIN, 100, TLY_ERR, 0 },
		{ 100, -1, TLY_ERR, 0 },
		{ 100, 10001, TLY_ERR, 0 },
		{ 100, INT64_MAX, TLY_ERR, 0 },
		{ 100, INT64_MIN, TLY_ERR, 0 },
	};
	size_t i;
	int64_t got;
	int rc, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		got = -12345;
		rc = tly_bps_of(t[i].v, t[i].bps, &got);
		if (rc != t[i].rc) {
			print_error("row %zu: got rc=%d, want rc=%d\n", i, rc,
			    t[i].rc);
			bad++;
		} else if (rc == TLY_OK && got != t[i].want) {
			print_error("row %zu: got %" PRId64 ", want %" PRId64
			    "\n", i, got, t[i].want);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d mismatches in tly_bps_of", bad);
}

/* the role names as stored in share rows, and back */
static void
test_share_role(void **state)
{
	static const struct {
		int		 role;
		const char	*name;
	} t[] = {
		{ TLY_SHARE_TALENT, "TALENT" },
		{ TLY_SHARE_AGENT, "AGENT" },
		{ TLY_SHARE_PLATFORM, "PLATFORM" },
		{ TLY_SHARE_STRIPE_FEE, "STRIPE_FEE" },
		{ TLY_SHARE_AMBASSADOR, "AMBASSADOR" },
		{ TLY_SHARE_HOST_PARTNER, "HOST_PARTNER" },
		{ -1, "?" },
		{ TLY_SHARE_N, "?" },
		{ 1000, "?" },
	};
	static const char *const unknown[] = {
		"", "talent", "Talent", "TALENT ", " TALENT", "TALENTS",
		"TALEN", "?", "STRIPE", "HOST", "PLATFORM\n"
	};
	size_t i;
	int got;

	(void)state;
	assert_int_equal(TLY_SHARE_N, 6);
	for (i = 0; i < NELEM(t); i++) {
		if (strcmp(tly_share_role(t[i].role), t[i].name) != 0)
			fail_msg("row %zu: got %s, want %s", i,
			    tly_share_role(t[i].role), t[i].name);
		if (t[i].role < 0 || t[i].role >= TLY_SHARE_N)
			continue;
		got = tly_share_role_parse(t[i].name);
		if (got != t[i].role)
			fail_msg("row %zu: got %d, want %d", i, got,
			    t[i].role);
	}
	for (i = 0; i < NELEM(unknown); i++) {
		got = tly_share_role_parse(unknown[i]);
		if (got != -1)
			fail_msg("row %zu: got %d, want -1", i, got);
	}
}

/* pick - the next mixed-radix digit of *x, base n */
static size_t
pick(size_t *x, size_t n)
{
	size_t d = *x % n;

	*x /= n;
	return d;
}

/*
 * A sweep over extreme and ordinary values: every accepted split has
 * shares >= 0 summing to the amount within [min, cap]; every refusal is a
 * 422 with a known code.  Run under UBSan, it also catches any signed
 * overflow on the way.
 */
static void
test_sweep_invariants(void **state)
{
	static const int64_t price[] = {
		0, 1, 49, 50, 999, 99999999, INT64_MAX / 3, INT64_MAX - 1,
		INT64_MAX
	};
	static const int64_t qty[] = { 1, 2, 3, 1000, INT64_MAX };
	static const int64_t fixfee[] = { 0, 1, 300, INT64_MAX };
	static const int64_t bpsfee[] = { 0, 1, 1000, 10000 };
	static const int64_t agent[] = { 0, 1, 5000, 10000 };
	static const int64_t part[][2] = {
		{ 0, 0 }, { 5000, 0 }, { 0, 10000 }, { 3333, 6667 }
	};
	static const int64_t stripe[][2] = {
		{ 0, 0 }, { 290, 30 }, { 360, 0 }, { 10000, INT64_MAX }
	};
	static const int64_t lim[][2] = {
		{ 0, 0 }, { 50, 99999999 }, { 0, 1 }
	};
	tly_split_in in;
	tly_split_out out;
	tly_err err;
	size_t a, b, c, d, e, f, g, h, n, x, total, okn = 0;
	int pb, k;
	__int128 sum;
	int64_t cap;

	(void)state;
	total = NELEM(price) * NELEM(qty) * 8 * NELEM(agent) *
	    NELEM(part) * NELEM(stripe) * NELEM(lim) * 2;
	for (n = 0; n < total; n++) {
		x = n;
		a = pick(&x, NELEM(price));
		b = pick(&x, NELEM(qty));
		c = pick(&x, 8);
		d = pick(&x, NELEM(agent));
		e = pick(&x, NELEM(part));
		f = pick(&x, NELEM(stripe));
		g = pick(&x, NELEM(lim));
		pb = (int)x;
		memset(&in, 0, sizeof(in));
		in.price_cent = price[a];
		in.quantity = qty[b];
		in.fee_kind = c < 4 ? FIX : BPS;
		in.fee_fixed_cent = c < 4 ? fixfee[c] : 0;
		in.fee_bps = c < 4 ? 0 : bpsfee[c - 4];
		in.agent_bps = agent[d];
		in.host_bps = part[e][0];
		in.ambassador_bps = part[e][1];
		in.stripe_bps = stripe[f][0];
		in.stripe_fixed_cent = stripe[f][1];
		in.platform_bears_stripe_fee = pb;
		in.min_amount_cent = lim[g][0];
		in.max_amount_cent = lim[g][1];
		tly_err_clear(&err);
		if (tly_split(&in, &out, &err) != TLY_OK) {
			for (h = 0; h < NELEM(codes); h++)
				if (strcmp(err.code, codes[h]) == 0)
					break;
			if (err.kind != TLY_EK_UNPROCESSABLE ||
			    h == NELEM(codes))
				fail_msg("sweep %zu: got kind %d code '%s', "
				    "want 422 with a known code", n,
				    err.kind, err.code);
			continue;
		}
		okn++;
		cap = in.max_amount_cent > 0 ? in.max_amount_cent :
		    INT64_MAX;
		if (out.amount_cent < in.min_amount_cent ||
		    out.amount_cent > cap)
			fail_msg("sweep %zu: got amount %" PRId64 ", want "
			    "within [%" PRId64 ", %" PRId64 "]", n,
			    out.amount_cent, in.min_amount_cent, cap);
		sum = 0;
		for (k = 0; k < TLY_SHARE_N; k++) {
			if (out.share_cent[k] < 0)
				fail_msg("sweep %zu: got %s %" PRId64 ", "
				    "want >= 0", n, field[k],
				    out.share_cent[k]);
			sum += out.share_cent[k];
		}
		if (sum != out.amount_cent)
			fail_msg("sweep %zu: got sum - amount %" PRId64 ", "
			    "want 0", n, (int64_t)(sum - out.amount_cent));
	}
	print_message("sweep: %zu splits, %zu accepted\n", total, okn);
	assert_true(okn > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_bps_of),
		cmocka_unit_test(test_share_role),
		cmocka_unit_test(test_sweep_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

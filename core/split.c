/*
 * split.c - dividing a payment among its stakeholders (see split.h)
 *
 * Owns the split arithmetic and its refusals.  Invariants, checked here
 * and by a property test against an independent BigInt implementation:
 * every share >= 0, the shares sum exactly to the amount, the amount is
 * within the currency's limits.  Rounding: each computed share is floored;
 * what the floors leave goes to the talent.
 *
 * API:	tly_split(), tly_bps_of(), tly_share_role(), tly_share_role_parse().
 */
#include <string.h>

#include "split.h"

static const char *role_names[TLY_SHARE_N] = {
	"TALENT", "AGENT", "PLATFORM", "STRIPE_FEE", "AMBASSADOR",
	"HOST_PARTNER"
};

/* tly_share_role - the role's name as stored in share rows */
const char *
tly_share_role(int r)
{
	return r >= 0 && r < TLY_SHARE_N ? role_names[r] : "?";
}

/* tly_share_role_parse - a role name to its index; -1 if unknown */
int
tly_share_role_parse(const char *s)
{
	int i;

	for (i = 0; i < TLY_SHARE_N; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

/*
 * tly_bps_of - floor(v × bps / 10000) for v >= 0 and 0 <= bps <= 10000,
 * computed in 128 bits; TLY_ERR when an argument is out of range.
 */
int
tly_bps_of(int64_t v, int64_t bps, int64_t *out)
{
	__int128 p;

	if (v < 0 || bps < 0 || bps > 10000)
		return TLY_ERR;
	p = (__int128)v * bps / 10000;		/* <= v: fits */
	*out = (int64_t)p;
	return TLY_OK;
}

static int
refuse(tly_err *err, const char *code, const char *msg)
{
	return tly_err_set(err, TLY_EK_UNPROCESSABLE, code, "%s", msg);
}

static int
check_input(const tly_split_in *in, tly_err *err)
{
	if (in->price_cent < 0 || in->quantity < 1)
		return refuse(err, "invalid_amount",
		    "The price must be >= 0 and the quantity >= 1.");
	if (in->agent_bps < 0 || in->agent_bps > 10000 ||
	    in->host_bps < 0 || in->host_bps > 10000 ||
	    in->ambassador_bps < 0 || in->ambassador_bps > 10000 ||
	    in->stripe_bps < 0 || in->stripe_bps > 10000 ||
	    in->stripe_fixed_cent < 0)
		return refuse(err, "invalid_rate",
		    "Rates must be basis points between 0 and 10000.");
	if (in->host_bps + in->ambassador_bps > 10000)
		return refuse(err, "negative_share", "Host partner and "
		    "ambassador together take more than the platform fee.");
	if (in->fee_kind == TLY_FEE_BPS &&
	    (in->fee_bps < 0 || in->fee_bps > 10000))
		return refuse(err, "invalid_rate",
		    "The platform fee must be between 0 and 10000 bps.");
	if (in->fee_kind == TLY_FEE_FIXED && in->fee_fixed_cent < 0)
		return refuse(err, "invalid_amount",
		    "The platform fee must be >= 0.");
	if (in->fee_kind != TLY_FEE_FIXED && in->fee_kind != TLY_FEE_BPS)
		return refuse(err, "invalid_fee_policy",
		    "The platform fee policy must be fixed or bps.");
	return TLY_OK;
}

/* amounts - subtotal, platform fee and amount, in range or refused */
static int
amounts(const tly_split_in *in, tly_split_out *out, tly_err *err)
{
	__int128 sub, fee, amt, cap;

	cap = in->max_amount_cent > 0 ? in->max_amount_cent : INT64_MAX;
	sub = (__int128)in->price_cent * in->quantity;
	if (sub > cap)
		return refuse(err, "amount_too_large",
		    "The amount is above the currency's maximum.");
	if (in->fee_kind == TLY_FEE_FIXED)
		fee = in->fee_fixed_cent;
	else
		fee = sub * in->fee_bps / 10000;
	amt = sub + fee;
	if (amt > cap)
		return refuse(err, "amount_too_large",
		    "The amount is above the currency's maximum.");
	if (amt < in->min_amount_cent)
		return refuse(err, "amount_too_small",
		    "The amount is below the currency's minimum charge.");
	out->subtotal_cent = (int64_t)sub;
	out->platform_fee_cent = (int64_t)fee;
	out->amount_cent = (int64_t)amt;
	return TLY_OK;
}

/*
 * tly_split - the split of 'in' into 'out'; 422 (with the reason) when
 * the amount is out of range or a share would be negative.
 */
int
tly_split(const tly_split_in *in, tly_split_out *out, tly_err *err)
{
	int64_t *s = out->share_cent, fee, stripe_pct;
	__int128 rest;
	int i;

	memset(out, 0, sizeof(*out));
	if (check_input(in, err) != TLY_OK || amounts(in, out, err) != TLY_OK)
		return TLY_ERR;
	fee = out->platform_fee_cent;
	if (tly_bps_of(out->subtotal_cent, in->agent_bps,
	    &s[TLY_SHARE_AGENT]) != TLY_OK ||
	    tly_bps_of(fee, in->host_bps, &s[TLY_SHARE_HOST_PARTNER]) !=
	    TLY_OK ||
	    tly_bps_of(fee, in->ambassador_bps, &s[TLY_SHARE_AMBASSADOR]) !=
	    TLY_OK ||
	    tly_bps_of(out->amount_cent, in->stripe_bps, &stripe_pct) != TLY_OK)
		return refuse(err, "invalid_rate", "A rate is out of range.");
	if (stripe_pct > INT64_MAX - in->stripe_fixed_cent)
		/* a fee beyond INT64_MAX is beyond any amount: whoever bears
		 * it would get a negative share */
		return refuse(err, "negative_share", "The Stripe fee exceeds "
		    "the amount.");
	s[TLY_SHARE_STRIPE_FEE] = stripe_pct + in->stripe_fixed_cent;
	s[TLY_SHARE_PLATFORM] = fee - s[TLY_SHARE_HOST_PARTNER] -
	    s[TLY_SHARE_AMBASSADOR];
	if (in->platform_bears_stripe_fee)
		s[TLY_SHARE_PLATFORM] -= s[TLY_SHARE_STRIPE_FEE];
	rest = out->amount_cent;
	for (i = 1; i < TLY_SHARE_N; i++)
		rest -= s[i];
	/* rest >= -INT64_MAX: the fee and the bps shares are each in range */
	s[TLY_SHARE_TALENT] = (int64_t)rest;
	if (s[TLY_SHARE_PLATFORM] < 0)
		return refuse(err, "negative_share", "The platform's share "
		    "would be negative: its fee does not cover the Stripe fee "
		    "and the shares taken from it.");
	if (s[TLY_SHARE_TALENT] < 0)
		return refuse(err, "negative_share", "The seller's share would "
		    "be negative: the fees and shares exceed the price.");
	return TLY_OK;
}

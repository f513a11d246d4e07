/*
 * split.h - how one payment is divided among its stakeholders
 *
 * Pure arithmetic, no I/O: the checkout computes a split from the rules it
 * snapshotted, the completion books it as share rows.  Every amount is an
 * int64_t in minor units; products of money with basis points and
 * quantities are computed in 128 bits and checked before narrowing.
 *
 *   subtotal     = price × quantity
 *   platform fee = fee_fixed_cent, or floor(subtotal × fee_bps / 10000)
 *   amount       = subtotal + platform fee          (what the buyer pays)
 *   agent        = floor(subtotal × agent_bps / 10000)
 *   host partner = floor(platform fee × host_bps / 10000)
 *   ambassador   = floor(platform fee × ambassador_bps / 10000)
 *   Stripe fee   = floor(amount × stripe_bps / 10000) + stripe_fixed
 *                  (an estimate; adjusted when the real fee is known)
 *   platform     = platform fee − host partner − ambassador
 *                  (− Stripe fee when the platform bears it)
 *   talent       = everything else (the remainder; − Stripe fee when the
 *                  talent bears it, the default)
 *
 * The shares sum exactly to the amount by construction; a split in which
 * any share would be negative, or whose amount is outside the currency's
 * limits, is refused (422) with a message saying which.
 */
#ifndef TLY_SPLIT_H
#define TLY_SPLIT_H

#include <stdint.h>

#include "tly_err.h"

enum {
	TLY_SHARE_TALENT = 0,
	TLY_SHARE_AGENT,
	TLY_SHARE_PLATFORM,
	TLY_SHARE_STRIPE_FEE,
	TLY_SHARE_AMBASSADOR,
	TLY_SHARE_HOST_PARTNER,
	TLY_SHARE_N
};

enum { TLY_FEE_FIXED = 1, TLY_FEE_BPS = 2 };

typedef struct tly_split_in {
	int64_t	 price_cent;
	int64_t	 quantity;
	int	 fee_kind;		/* TLY_FEE_FIXED or TLY_FEE_BPS */
	int64_t	 fee_fixed_cent;	/* TLY_FEE_FIXED: per order */
	int64_t	 fee_bps;		/* TLY_FEE_BPS: of the subtotal */
	int64_t	 agent_bps;		/* 0 without an agent */
	int64_t	 host_bps;		/* 0 without a host partner */
	int64_t	 ambassador_bps;	/* 0 without an active link */
	int64_t	 stripe_bps;		/* Stripe fee estimate */
	int64_t	 stripe_fixed_cent;
	int	 platform_bears_stripe_fee;
	int64_t	 min_amount_cent;	/* the currency's limits */
	int64_t	 max_amount_cent;
} tly_split_in;

typedef struct tly_split_out {
	int64_t	 subtotal_cent;
	int64_t	 platform_fee_cent;
	int64_t	 amount_cent;
	int64_t	 share_cent[TLY_SHARE_N];
} tly_split_out;

const char	*tly_share_role(int);
int		 tly_share_role_parse(const char *);
int		 tly_split(const tly_split_in *, tly_split_out *, tly_err *);
int		 tly_bps_of(int64_t, int64_t, int64_t *);

#endif

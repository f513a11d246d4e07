/*
 * balances.h - what a payee's money looks like (see balances.c)
 */
#ifndef TLY_BALANCES_H
#define TLY_BALANCES_H

#include "ctx.h"
#include "payout.h"

int	 tly_balances_get(tly_ctx *, const char *, tly_balance *, int *,
	    tly_err *);
int	 tly_payouts_list(tly_ctx *, const char *, const tly_page *,
	    tly_payout **, int *, int *, tly_err *);

#endif

/*
 * payout_retry.h - retry a failed payout now (payout_retry.c)
 */
#ifndef TLY_PAYOUT_RETRY_H
#define TLY_PAYOUT_RETRY_H

#include "auth.h"
#include "ctx.h"

int	 tly_payout_retry(tly_ctx *, const tly_principal *, const char *,
	    char *, tly_err *);

#endif

/*
 * onboarding.h - send a payee its onboarding link again (onboarding.c)
 */
#ifndef TLY_ONBOARDING_H
#define TLY_ONBOARDING_H

#include "auth.h"
#include "ctx.h"
#include "payout.h"

int	 tly_onboarding_resend(tly_ctx *, const tly_principal *, const char *,
	    tly_connect *, char *, tly_err *);

#endif

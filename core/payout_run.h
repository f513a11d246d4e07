/*
 * payout_run.h - one payouts run, and the "payouts" job (see payout_run.c)
 */
#ifndef TLY_PAYOUT_RUN_H
#define TLY_PAYOUT_RUN_H

#include "ctx.h"
#include "payout.h"

int	 tly_payouts_run(tly_ctx *, tly_payout_stats *, tly_err *);
int	 tly_job_payouts(tly_ctx *, tly_err *);

#endif

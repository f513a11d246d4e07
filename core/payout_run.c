/*
 * payout_run.c - one payouts run (docs/ledger.md, "Payouts")
 *
 * Owns no table: it runs, in order, the modules that write theirs.
 *
 *   (0) advances left 'to_transfer' or 'unknown' are finished first
 *       (advance.c): they spend the platform's balance;
 *   (1) the platform's available balance is read and the payouts earlier
 *       runs left are finished (payout.c, tly_payout_run_start);
 *   (2) what payees owe back is recovered by transfer reversals
 *       (recover.c, with [payouts] reverse_transfers on);
 *   (3) each payee whose eligible rows reach its threshold is paid
 *       (payout.c, tly_payout_run_payees);
 *   (4) why each payee with pending money was not paid is recorded for
 *       the admin panel (payout_defer.c, outside every transaction).
 *
 * tallyctl payouts run and the "payouts" job call tly_payouts_run().
 *
 * API:	tly_payouts_run(), tly_job_payouts().
 */
#include <stdio.h>
#include <string.h>

#include "advance.h"
#include "metrics.h"
#include "payout.h"
#include "payout_run.h"
#include "recover.h"

/* note_deferrals - step 4: a failure is logged, the run's result stands */
static void
note_deferrals(tly_payout_run *r)
{
	tly_err e;

	tly_err_clear(&e);
	tly_pool_reset(r->ctx->pool);
	if (tly_payout_deferrals_note(r, &e) != TLY_OK)
		tly_logkv(r->ctx->log, TLY_LOG_WARN, "payout", "the deferred "
		    "payees could not be recorded", "code", e.code, NULL);
}

/*
 * tly_payouts_run - one payout run (see the top of the file); what it
 * did goes to 'st'.  Fails only when it could not start (the balance or
 * the candidates could not be read); a payee that fails is logged and
 * the run goes on.
 */
int
tly_payouts_run(tly_ctx *ctx, tly_payout_stats *st, tly_err *err)
{
	tly_payout_run r;
	int rc;

	memset(st, 0, sizeof(*st));
	/* before the balance: they spend it */
	st->advances = tly_advances_finish(ctx);
	rc = tly_payout_run_start(&r, ctx, st, err);
	if (rc == TLY_OK)	/* what payees owe back (recover.c) */
		tly_recover_run(ctx, st);
	if (rc == TLY_OK)
		rc = tly_payout_run_payees(&r, err);
	if (rc == TLY_OK)
		note_deferrals(&r);
	return rc;
}

/* tly_job_payouts - the "payouts" job: one run, logged */
int
tly_job_payouts(tly_ctx *ctx, tly_err *err)
{
	tly_payout_stats st;
	char paid[24], failed[24], deferred[24], unknown[24], adv[24];
	char rev[24], revf[24];
	int rc;

	rc = tly_payouts_run(ctx, &st, err);
	tly_metrics_payout_run(rc, st.paid, st.failed, st.deferred,
	    st.unknown);
	snprintf(paid, sizeof(paid), "%d", st.paid);
	snprintf(failed, sizeof(failed), "%d", st.failed);
	snprintf(deferred, sizeof(deferred), "%d", st.deferred);
	snprintf(unknown, sizeof(unknown), "%d", st.unknown);
	snprintf(adv, sizeof(adv), "%d", st.advances);
	snprintf(rev, sizeof(rev), "%d", st.reversed);
	snprintf(revf, sizeof(revf), "%d", st.reverse_failed);
	if (st.paid || st.failed || st.deferred || st.unknown ||
	    st.advances || st.reversed || st.reverse_failed)
		tly_logkv(ctx->log, TLY_LOG_INFO, "payout", "payout run",
		    "paid", paid, "failed", failed, "deferred", deferred,
		    "unknown", unknown, "advances", adv, "reversed", rev,
		    "reversal_failed", revf, NULL);
	return rc;
}

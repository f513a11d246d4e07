/*
 * jobs.c - the registry of background jobs, and the housekeeping job
 *
 * Owns no table: the housekeeping deletes through the tables' owners.
 *
 * Each later subsystem adds its job to tly_jobs[] (payouts, webhook
 * retries, missed-event catch-up, reservation expiry, reconciliation).
 * The housekeeping job "gc" deletes what has expired: admin sessions
 * past their expiry, tx_ops markers older than two days (a lost COMMIT
 * is resolved within seconds; two days leaves room for an operator's
 * investigation), login-throttle windows long over, idempotency keys
 * older than a day and the webhook refusal rows of addresses not refused
 * for [stripe] webhook_refusals_days (30).  Each table's owner deletes
 * (auth.c, tx.c, idem.c, webhook.c), in batches of 1000 so that it
 * never holds many locks (tly_db_prune).
 * The "check" job runs the ledger's invariants (check.h) and publishes
 * the result as metrics.
 *
 * API:	tly_job_find(), tly_jobs[].
 */
#include <string.h>

#include "audit_chain.h"
#include "auth.h"
#include "check.h"
#include "complete.h"
#include "events.h"
#include "idem.h"
#include "jobs.h"
#include "metrics.h"
#include "payout_run.h"
#include "outbox.h"
#include "reconcile.h"
#include "refund.h"
#include "report.h"
#include "tly_str.h"
#include "tx.h"
#include "webhook.h"

/*
 * job_gc - delete expired sessions, old markers, throttle windows,
 * idempotency keys and refusal rows, each through its table's owner
 */
static int
job_gc(tly_ctx *ctx, tly_err *err)
{
	int rc;

	rc = tly_auth_prune_sessions(ctx, err);
	if (rc == TLY_OK)
		rc = tly_tx_prune(ctx, err);
	if (rc == TLY_OK)
		rc = tly_auth_prune_throttle(ctx, err);
	if (rc == TLY_OK)
		rc = tly_idem_prune(ctx, err);
	if (rc == TLY_OK)
		rc = tly_webhook_refusals_prune(ctx, err);
	return rc;
}

/* check_line - one violation, logged as an ALERT */
static void
check_line(void *arg, const tly_check *c, const char *line)
{
	tly_ctx *ctx = arg;

	tly_logkv(ctx->log, TLY_LOG_ALERT, "check", "ALERT: a ledger "
	    "invariant is violated", "check", c->name, "row", line, NULL);
}

/*
 * job_check - every ledger invariant (check.h), as `tallyctl check`
 * runs them: each violation an ALERT line; the number of violations and
 * the time of the run as gauges (tally_ledger_check_violations,
 * tally_ledger_check_last_run_seconds), so an alert rule sees both a
 * failing check and one that stopped running
 */
static int
job_check(tly_ctx *ctx, tly_err *err)
{
	const tly_check *c;
	int64_t n, total = 0;
	int rc;

	for (c = tly_checks; c->name; c++) {
		rc = tly_check_run(ctx, c, check_line, ctx, &n, err);
		if (rc)
			return rc;
		total += n;
	}
	tly_metric_set("tally_ledger_check_violations", "", total);
	tly_metric_set("tally_ledger_check_last_run_seconds", "",
	    tly_now_s());
	return TLY_OK;
}

const tly_job tly_jobs[] = {
	{ "gc", job_gc, "delete expired sessions, markers, throttles, "
	    "idempotency keys and old webhook refusal rows" },
	{ "checkouts", tly_job_checkouts, "expire reservations, cancel and "
	    "finish PaymentIntents" },
	{ "webhooks", tly_job_webhooks, "retry failed webhook processing" },
	{ "events", tly_job_events, "catch up on Stripe events that were "
	    "never delivered" },
	{ "refunds", tly_job_refunds, "finish refunds left unknown or "
	    "pending at Stripe" },
	{ "payouts", tly_job_payouts, "pay payees whose payable balance "
	    "reached the threshold; finish payouts left behind" },
	{ "outbox", tly_job_outbox, "send queued emails over SMTP" },
	{ "check", job_check, "verify the ledger's invariants; each "
	    "violation an ALERT, the result a metric" },
	{ "reconcile", tly_job_reconcile, "compare yesterday's and today's "
	    "Stripe balance transactions with the books; alert on a "
	    "mismatch" },
	{ "audit", tly_job_audit_chain, "chain audit rows older than the "
	    "horizon (SHA-256, in id order)" },
	{ "reports", tly_job_reports, "roll closed days up for the admin "
	    "dashboard" },
	{ NULL, NULL, NULL }
};

/* tly_job_find - the job named 'name', or NULL */
const tly_job *
tly_job_find(const char *name)
{
	const tly_job *j;

	for (j = tly_jobs; j->name; j++)
		if (strcmp(j->name, name) == 0)
			return j;
	return NULL;
}

/*
 * jobs.c - the registry of background jobs, and the housekeeping job
 *
 * Owns no table: the housekeeping deletes through the tables' owners.
 *
 * Each later subsystem adds its job to tly_jobs[] (payouts, webhook
 * retries, reservation expiry, reconciliation).  The housekeeping job
 * "gc" deletes what has expired: admin sessions past their expiry,
 * tx_ops markers older than two days (a lost COMMIT is resolved within
 * seconds; two days leaves room for an operator's investigation) and
 * login-throttle windows long over, idempotency keys older than a day.
 * Each table's owner deletes (auth.c, tx.c, idem.c), in batches of 1000
 * so that it never holds many locks (tly_db_prune).
 *
 * API:	tly_job_find(), tly_jobs[].
 */
#include <string.h>

#include "auth.h"
#include "complete.h"
#include "idem.h"
#include "jobs.h"
#include "payout_run.h"
#include "outbox.h"
#include "refund.h"
#include "tx.h"
#include "webhook.h"

/*
 * job_gc - delete expired sessions, old markers and throttle windows,
 * each through the module that owns its table
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
	return rc;
}

const tly_job tly_jobs[] = {
	{ "gc", job_gc, "delete expired sessions, markers, throttles and "
	    "idempotency keys" },
	{ "checkouts", tly_job_checkouts, "expire reservations, cancel and "
	    "finish PaymentIntents" },
	{ "webhooks", tly_job_webhooks, "retry failed webhook processing" },
	{ "refunds", tly_job_refunds, "finish refunds left unknown or "
	    "pending at Stripe" },
	{ "payouts", tly_job_payouts, "pay payees whose payable balance "
	    "reached the threshold; finish payouts left behind" },
	{ "outbox", tly_job_outbox, "send queued emails over SMTP" },
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

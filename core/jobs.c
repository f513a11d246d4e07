/*
 * jobs.c - the registry of background jobs, and the housekeeping job
 *
 * Each later subsystem adds its job to tly_jobs[] (payouts, webhook
 * retries, reservation expiry, reconciliation).  The housekeeping job
 * "gc" deletes what has expired: admin sessions past their expiry,
 * tx_ops markers older than two days (a lost COMMIT is resolved within
 * seconds; two days leaves room for an operator's investigation) and
 * login-throttle windows long over.  It deletes in batches of 1000 so
 * that it never holds many locks.
 *
 * API:	tly_job_find(), tly_jobs[].
 */
#include <string.h>

#include "checkout.h"
#include "jobs.h"
#include "payout.h"
#include "outbox.h"
#include "refund.h"
#include "report.h"
#include "webhook.h"

static int
delete_batches(tly_ctx *ctx, const char *sql, tly_err *err)
{
	uint64_t n;
	int rc, i;

	for (i = 0; i < 100; i++) {
		n = 0;
		rc = tly_db_exec(ctx->db, err, &n, sql, "");
		if (rc || n < 1000)
			return rc;
	}
	return TLY_OK;
}

/* job_gc - delete expired sessions, old markers and throttle windows */
static int
job_gc(tly_ctx *ctx, tly_err *err)
{
	int rc;

	rc = delete_batches(ctx, "DELETE FROM admin_sessions WHERE "
	    "expires_at < NOW(3) LIMIT 1000", err);
	if (rc == TLY_OK)
		rc = delete_batches(ctx, "DELETE FROM tx_ops WHERE created_at "
		    "< NOW(3) - INTERVAL 2 DAY LIMIT 1000", err);
	if (rc == TLY_OK)
		rc = delete_batches(ctx, "DELETE FROM login_throttle WHERE "
		    "window_start < NOW(3) - INTERVAL 1 DAY LIMIT 1000", err);
	if (rc == TLY_OK)
		rc = delete_batches(ctx, "DELETE FROM idempotency_keys WHERE "
		    "created_at < NOW(3) - INTERVAL 1 DAY LIMIT 1000", err);
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

/*
 * payout_retry.c - an operator's "retry this failed payout now"
 *
 * A payout Stripe refused is 'failed': its rows went back to pending and
 * payout.c backed the payee off (accounts.payout_retry_at, exponential;
 * docs/ledger.md).  Retrying now lifts that backoff so the next payouts
 * run (the job, or `tallyctl payouts run`) pays the rows again in a new
 * payout.  Nothing is transferred here: payouts are made by a run, never
 * by a request (docs/api.md), so a retry never races a run for a
 * transfer and never calls Stripe.
 *
 * The column, accounts.payout_retry_at, is written by catalog.c (the
 * accounts' one writer) under the same lock payout.c takes first (the
 * payee's account row), in one transaction with the audit row.  Refused: an
 * unknown payout (404), one not failed (409 payout_not_failed), one whose
 * rows a later payout already carries (409 payout_superseded).
 *
 * API:	tly_payout_retry().
 */
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "catalog.h"
#include "payout_retry.h"
#include "tly_str.h"
#include "tx.h"

typedef struct retry_arg {
	const tly_principal	*who;
	const char		*payout_id;
	char			 account_id[40];
} retry_arg;

/* retry_tx - the transaction: lock the payee, check, lift the backoff */
static int
retry_tx(tly_ctx *ctx, void *v, tly_err *err)
{
	retry_arg *a = v;
	char state[16], cur[4];
	int64_t one;
	int rc;

	a->account_id[0] = '\0';
	rc = tly_db_row(ctx->db, err, "SELECT account_id, currency FROM "
	    "payouts WHERE id = ?", "s>ss", a->payout_id, a->account_id,
	    sizeof(a->account_id), cur, sizeof(cur));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payout: '%.40s'.", a->payout_id);
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT 1 FROM accounts WHERE id = ? "
	    "FOR UPDATE", "s>i", a->account_id, &one);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	rc = tly_db_row(ctx->db, err, "SELECT state FROM payouts WHERE id = ?",
	    "s>s", a->payout_id, state, sizeof(state));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	if (strcmp(state, "failed") != 0)
		return tly_err_param(err, TLY_EK_CONFLICT, "payout_not_failed",
		    "id", "The payout is %s: only a failed payout is retried.",
		    state);
	rc = tly_db_row(ctx->db, err, "SELECT 1 FROM payouts WHERE "
	    "account_id = ? AND currency = ? AND id > ? AND state <> 'failed' "
	    "LIMIT 1", "sss>i", a->account_id, cur, a->payout_id, &one);
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_CONFLICT, "payout_superseded",
		    "id", "A later payout already carries these earnings.");
	if (rc != TLY_NOTFOUND)
		return rc;
	rc = tly_account_payout_retry_now(ctx, a->account_id, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->who, "payout.retry", a->payout_id,
		    a->account_id, err);
	return rc;
}

/*
 * tly_payout_retry - lift the backoff of failed payout 'payout_id' for
 * 'who' (audited); 'account_id' (40 bytes) gets its payee
 */
int
tly_payout_retry(tly_ctx *ctx, const tly_principal *who,
    const char *payout_id, char *account_id, tly_err *err)
{
	retry_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.who = who;
	a.payout_id = payout_id;
	rc = tly_tx_run(ctx, "payout.retry", retry_tx, &a, err);
	tly_strlcpy(account_id, a.account_id, 40);
	return rc;
}

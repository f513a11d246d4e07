/*
 * onboarding.c - an operator sends a payee its Connect onboarding link
 * again (POST /admin/api/v1/accounts/{id}/onboarding_link)
 *
 * The link comes from connect.c (tly_connect_onboard: the payee's Express
 * account, made once, and a fresh account link); Stripe is called with no
 * transaction open.  Then, in one transaction, the email to the payee is
 * queued (outbox kind 'onboarding_link', deduplicated per link by its
 * expiry, so a double click queues one email) with the audit row.  A
 * payee without an email address gets no email: the operator has the
 * link in the answer.
 *
 * API:	tly_onboarding_resend().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "onboarding.h"
#include "outbox.h"
#include "tly_str.h"
#include "tx.h"

typedef struct mail_arg {
	const tly_principal	*who;
	const tly_connect	*c;
	const char		*to;
} mail_arg;

/* mail_tx - queue the email and audit, in one transaction */
static int
mail_tx(tly_ctx *ctx, void *v, tly_err *err)
{
	mail_arg *a = v;
	char dedupe[128], body[2048];
	tly_mail m;
	int rc;

	snprintf(dedupe, sizeof(dedupe), "onboarding:%s:%lld",
	    a->c->account_id, (long long)a->c->onboarding_expires_at);
	snprintf(body, sizeof(body), "Hello,\n\nTo be paid your earnings, "
	    "please finish setting up your payout account:\n\n%s\n\nThe link "
	    "works once and expires soon; ask us for a new one if it has.\n",
	    a->c->onboarding_url);
	memset(&m, 0, sizeof(m));
	m.dedupe = dedupe;
	m.kind = "onboarding_link";
	m.account_id = a->c->account_id;
	m.to = a->to;
	m.subject = "Finish setting up your payouts";
	m.body = body;
	rc = a->to[0] ? tly_outbox_add(ctx, &m, err) : TLY_OK;
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->who, "account.onboarding_link",
		    a->c->account_id, a->to[0] ? a->to : "not emailed", err);
	return rc;
}

/*
 * tly_onboarding_resend - a fresh onboarding link of payee 'acc' into
 * 'c', emailed to the payee when it has an address ('to', 256 bytes, ""
 * when not); audited as done by 'who'
 */
int
tly_onboarding_resend(tly_ctx *ctx, const tly_principal *who,
    const char *acc, tly_connect *c, char *to, tly_err *err)
{
	mail_arg a;
	int rc;

	to[0] = '\0';
	rc = tly_connect_onboard(ctx, who, acc, c, err);
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(email, '') FROM accounts "
	    "WHERE id = ?", "s>s", acc, to, (size_t)256);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	memset(&a, 0, sizeof(a));
	a.who = who;
	a.c = c;
	a.to = to;
	return tly_tx_run(ctx, "onboarding.resend", mail_tx, &a, err);
}

/*
 * connect.c - payees' connected accounts at Stripe (payout.h)
 *
 * Owns the Connect columns of accounts: connect_account_id,
 * connect_key_gen, charges_enabled, payouts_enabled, requirements_due,
 * connect_event_created, and sets email_outstanding_payout when a
 * payee's bank payout failed.
 *
 *   tly_connect_onboard         a payee's Express account, made once in
 *                               three steps: the key generation is on the
 *                               account row (step 1 is the row itself),
 *                               the create is tly_stripe_create_once with
 *                               key tally:connect:<acc>:g<gen>, found
 *                               again by metadata[tally_id]; step 3
 *                               stores its id unless one is stored.  Then
 *                               a fresh account link (links are not
 *                               idempotent objects: a new one per call,
 *                               under a key of its own).
 *   tly_connect_account_updated account.updated: the state of the event,
 *                               applied only when the event is newer than
 *                               the last applied (its 'created'); an event
 *                               of the same second re-reads the account
 *                               from Stripe; an older one is ignored.
 *   tly_connect_payout_failed   payout.failed of a connected account: its
 *                               bank payout failed and the money stays in
 *                               its Stripe balance.  The payee is flagged
 *                               and emailed; the ledger does not change.
 *
 * API:	tly_connect_onboard(), tly_connect_account_updated(),
 *	tly_connect_payout_failed().
 */
#include <stdio.h>
#include <string.h>

#include "outbox.h"
#include "payout.h"
#include "tly_str.h"
#include "tx.h"

/* due_list - Stripe's requirements array as "a,b,c" (bounded) */
static void
due_list(const tly_jv *arr, char *dst, size_t sz)
{
	const tly_jv *e;
	size_t n = 0, l;

	dst[0] = '\0';
	if (arr == NULL || arr->type != TLY_JARR)
		return;
	for (e = arr->child; e; e = e->next) {
		if (e->type != TLY_JSTR || e->s == NULL || strchr(e->s, ','))
			continue;
		l = strlen(e->s);
		if (n + l + 2 > sz)
			break;
		if (n)
			dst[n++] = ',';
		memcpy(dst + n, e->s, l);
		n += l;
		dst[n] = '\0';
	}
}

typedef struct onboard_args {
	const char	*acc;
	char		 email[256];
	char		 key_base[80];
	int64_t		 created;
} onboard_args;

static int
acct_params(tly_stripe_once *o, tly_form *f)
{
	onboard_args *a = o->arg;
	tly_ctx *ctx = o->ctx;

	tly_form_str(f, "type", "express");
	tly_form_str(f, "country", ctx->cfg->connect_country);
	if (a->email[0])
		tly_form_str(f, "email", a->email);
	tly_form_str(f, "capabilities[transfers][requested]", "true");
	tly_form_str(f, "metadata[tally_id]", a->acc);
	return tly_form_done(f);
}

static int
acct_lookup(tly_stripe_once *o, tly_stripe *s, tly_pool *pool,
    const tly_jv **found, tly_err *err)
{
	onboard_args *a = o->arg;

	return tly_stripe_find_by_metadata(s, pool, "/v1/accounts", "account",
	    "tally_id", a->acc, a->created - 600, found, err);
}

/* acct_bump - generation 'gen' replaces gen - 1, or someone else bumped */
static int
acct_bump(tly_stripe_once *o, int gen, tly_err *err)
{
	onboard_args *a = o->arg;
	tly_ctx *ctx = o->ctx;
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE accounts SET "
	    "connect_key_gen = ? WHERE id = ? AND connect_key_gen = ? AND "
	    "connect_account_id IS NULL", "isi", (int64_t)gen, a->acc,
	    (int64_t)gen - 1);
	if (rc == TLY_OK && n != 1)
		return tly_err_set(err, TLY_EK_CONFLICT, "retry",
		    "The account is being connected by another request.");
	return rc;
}

/* link_urls - the return and refresh URLs of onboarding links */
static int
link_urls(tly_ctx *ctx, const char **ret, const char **refresh,
    tly_err *err)
{
	const tly_config *c = ctx->cfg;

	*ret = c->connect_return_url[0] ? c->connect_return_url : NULL;
	*refresh = c->connect_refresh_url[0] ? c->connect_refresh_url : NULL;
	if (*ret == NULL && c->public_url[0])
		*ret = tly_psprintf(ctx->pool, "%s/connect/return",
		    c->public_url);
	if (*refresh == NULL && c->public_url[0])
		*refresh = tly_psprintf(ctx->pool, "%s/connect/refresh",
		    c->public_url);
	if (*ret && *refresh)
		return TLY_OK;
	tly_logkv(ctx->log, TLY_LOG_ERROR, "connect", "no onboarding URLs: "
	    "set [payouts] onboarding_return_url and onboarding_refresh_url "
	    "or [tally] public_url", NULL);
	return tly_err_set(err, TLY_EK_INTERNAL, "onboarding_not_configured",
	    "Onboarding is not configured.");
}

/* create_account - steps 2 and 3 for account 'a->acc' (generation 'gen') */
static int
create_account(tly_ctx *ctx, onboard_args *a, int64_t gen, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_once o;
	tly_st_account sa;
	const tly_jv *obj;
	char due[4001];
	int rc;

	snprintf(a->key_base, sizeof(a->key_base), "tally:connect:%s", a->acc);
	memset(&o, 0, sizeof(o));
	o.path = "/v1/accounts";
	o.object = "account";
	o.key_base = a->key_base;
	o.generation = (int)gen;
	o.params = acct_params;
	o.lookup = acct_lookup;
	o.bump = acct_bump;
	o.arg = a;
	o.ctx = ctx;
	rc = tly_stripe_create_once(ctx->stripe, ctx->pool, &o, &obj, &resp,
	    err);
	if (rc)
		return rc;
	if (tly_st_account_parse(obj, &sa) != TLY_OK || sa.id == NULL)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected account reply.");
	due_list(sa.currently_due, due, sizeof(due));
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "requirements_due = IF(connect_event_created = 0, ?, "
	    "requirements_due), connect_account_id = ? WHERE id = ? AND "
	    "connect_account_id IS NULL", "sss", due, sa.id, a->acc);
	if (rc == TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_INFO, "connect", "connected "
		    "account ready", "account_id", a->acc,
		    "connect_account_id", sa.id, NULL);
	return rc;
}

/* new_link - a fresh onboarding link for connected account 'acct' */
static int
new_link(tly_ctx *ctx, const char *acc, const char *acct, tly_connect *out,
    tly_err *err)
{
	const char *ret, *refresh;
	tly_st_account_link l;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *obj;
	char key[128], tok[24];
	tly_form f;
	int rc;

	rc = link_urls(ctx, &ret, &refresh, err);
	if (rc)
		return rc;
	if (tly_random_token(tok, sizeof(tok)) != TLY_OK)
		return tly_err_internal(err);
	/* a link is a new object each time: the key only guards retries */
	snprintf(key, sizeof(key), "tally:account_link:%s:%s", acc, tok);
	tly_form_init(&f);
	tly_form_str(&f, "account", acct);
	tly_form_str(&f, "type", "account_onboarding");
	tly_form_str(&f, "refresh_url", refresh);
	tly_form_str(&f, "return_url", ret);
	rq = (tly_stripe_req){ "POST", "/v1/account_links", &f, key, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "account_link",
	    &obj, &resp, err);
	tly_form_free(&f);
	if (rc)
		return rc;
	if (tly_st_account_link_parse(obj, &l) != TLY_OK || l.url == NULL ||
	    tly_strlcpy(out->onboarding_url, l.url,
	    sizeof(out->onboarding_url)) >= sizeof(out->onboarding_url))
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected account link reply.");
	out->onboarding_expires_at = l.expires_at;
	return TLY_OK;
}

/*
 * tly_connect_onboard - payee 'acc''s connected account (made once) and
 * a fresh onboarding link, in 'out'.  404 unknown account, 422 when it is
 * not a payee; TLY_UNKNOWN (503) when Stripe did not answer the create.
 */
int
tly_connect_onboard(tly_ctx *ctx, const char *acc, tly_connect *out,
    tly_err *err)
{
	char kind[16], acct[72], due[4001];
	int64_t gen = 1, ch = 0, po = 0;
	onboard_args a;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	a.acc = acc;
	rc = tly_db_row(ctx->db, err, "SELECT kind, IFNULL(email, ''), "
	    "IFNULL(connect_account_id, ''), connect_key_gen, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)) FROM accounts WHERE id = ?",
	    "s>sssii", acc, kind, sizeof(kind), a.email, sizeof(a.email), acct,
	    sizeof(acct), &gen, &a.created);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account: '%.40s'.", acc);
	if (rc)
		return rc;
	if (strcmp(kind, "talent") != 0 && strcmp(kind, "agent") != 0 &&
	    strcmp(kind, "ambassador") != 0 &&
	    strcmp(kind, "host_partner") != 0)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "wrong_account_kind", "id", "Accounts of kind '%s' are not "
		    "paid out.", kind);
	if (acct[0] == '\0') {
		rc = create_account(ctx, &a, gen, err);
		if (rc == TLY_UNKNOWN)
			tly_err_set(err, TLY_EK_UNAVAILABLE,
			    "stripe_outcome_unknown", "The payment provider "
			    "did not answer; retry: the same account comes "
			    "back.");
		if (rc)
			return rc;
	}
	rc = tly_db_row(ctx->db, err, "SELECT connect_account_id, "
	    "charges_enabled, payouts_enabled, IFNULL(requirements_due, '') "
	    "FROM accounts WHERE id = ?", "s>siis", acc, acct, sizeof(acct),
	    &ch, &po, due, sizeof(due));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	tly_strlcpy(out->account_id, acc, sizeof(out->account_id));
	tly_strlcpy(out->connect_account_id, acct,
	    sizeof(out->connect_account_id));
	tly_strlcpy(out->requirements_due, due, sizeof(out->requirements_due));
	out->charges_enabled = ch != 0;
	out->payouts_enabled = po != 0;
	return new_link(ctx, acc, acct, out, err);
}

/* retrieve_account - connected account 'id' as Stripe has it now */
static int
retrieve_account(tly_ctx *ctx, const char *id, tly_st_account *sa,
    tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *obj;
	const char *path;
	int rc;

	path = tly_stripe_path(ctx->pool, "/v1/accounts/", id, NULL);
	if (path == NULL)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "Bad account id.");
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "account", &obj,
	    &resp, err);
	if (rc == TLY_OK && tly_st_account_parse(obj, sa) != TLY_OK)
		rc = tly_err_internal(err);
	return rc;
}

/*
 * tly_connect_account_updated - apply account.updated 'e' (see the top
 * of the file); '*status' is "ignored" for an account Tally does not
 * have or an event older than the state applied.
 */
int
tly_connect_account_updated(tly_ctx *ctx, const tly_st_event *e,
    const char **status, tly_err *err)
{
	tly_st_account sa;
	char acc[40], due[4001];
	int64_t seen = 0;
	uint64_t n = 0;
	int rc;

	if (tly_st_account_parse(e->object, &sa) != TLY_OK || sa.id == NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	rc = tly_db_row(ctx->db, err, "SELECT id, connect_event_created FROM "
	    "accounts WHERE connect_account_id = ?", "s>si", sa.id, acc,
	    sizeof(acc), &seen);
	if (rc == TLY_NOTFOUND || (rc == TLY_OK && e->created < seen)) {
		tly_logkv(ctx->log, TLY_LOG_INFO, "connect", rc == TLY_OK ?
		    "account.updated older than the state applied: ignored" :
		    "account.updated for an account Tally does not have",
		    "event_id", e->id, "connect_account_id", sa.id, NULL);
		tly_err_clear(err);
		*status = "ignored";
		return TLY_OK;
	}
	if (rc)
		return rc;
	if (e->created == seen) {
		/* which of two events of one second is newer? ask Stripe */
		rc = retrieve_account(ctx, sa.id, &sa, err);
		if (rc)
			return rc;
	}
	due_list(sa.currently_due, due, sizeof(due));
	/* assignments run left to right: the retry reset reads the old flag */
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE accounts SET "
	    "payout_retry_at = IF(? = 1 AND payouts_enabled = 0, NULL, "
	    "payout_retry_at), charges_enabled = ?, payouts_enabled = ?, "
	    "requirements_due = ?, connect_event_created = ? WHERE id = ? AND "
	    "connect_event_created <= ?", "iiisisi",
	    (int64_t)sa.payouts_enabled, (int64_t)sa.charges_enabled,
	    (int64_t)sa.payouts_enabled, due, e->created, acc, e->created);
	if (rc == TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_INFO, "connect", n ?
		    "connected account updated" : "account.updated overtaken",
		    "account_id", acc, "connect_account_id", sa.id,
		    "payouts_enabled", sa.payouts_enabled ? "true" : "false",
		    "requirements_due", due, NULL);
	return rc;
}

typedef struct flag_args {
	const char	*acct;
	const char	*payout;
	const char	*currency;
	const char	*code;
	int64_t		 amount;
	int		 found;
	char		 acc[40];
} flag_args;

/* flag_tx - flag the payee of a failed bank payout and email it */
static int
flag_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	flag_args *a = arg;
	char email[256], dedupe[160], body[600];
	tly_mail m;
	int rc;

	a->found = 0;
	rc = tly_db_row(ctx->db, err, "SELECT id, IFNULL(email, '') FROM "
	    "accounts WHERE connect_account_id = ? FOR UPDATE", "s>ss",
	    a->acct, a->acc, sizeof(a->acc), email, sizeof(email));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc)
		return rc;
	a->found = 1;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "email_outstanding_payout = 1 WHERE id = ?", "s", a->acc);
	if (rc)
		return rc;
	snprintf(dedupe, sizeof(dedupe), "payout_failed:%s", a->payout);
	snprintf(body, sizeof(body), "Your bank could not accept a payout of "
	    "%lld (minor units, %s): %s.\n\nThe money is safe in your payout "
	    "account.  Please check your bank details in your payout "
	    "settings; the payout is retried once they are correct.\n",
	    (long long)a->amount, a->currency, a->code);
	memset(&m, 0, sizeof(m));
	m.dedupe = dedupe;
	m.kind = "payout_failed";
	m.account_id = a->acc;
	m.to = email;
	m.subject = "Your payout could not be delivered";
	m.body = body;
	return tly_outbox_add(ctx, &m, err);
}

/*
 * tly_connect_payout_failed - payout.failed 'e' of a connected account
 * (see the top of the file).
 */
int
tly_connect_payout_failed(tly_ctx *ctx, const tly_st_event *e,
    const char **status, tly_err *err)
{
	flag_args a;
	const char *v;
	int rc;

	memset(&a, 0, sizeof(a));
	a.acct = e->account;
	a.payout = tly_json_str(e->object, "id");
	a.currency = tly_json_str(e->object, "currency");
	v = tly_json_str(e->object, "failure_code");
	a.code = v ? v : "unknown";
	if (tly_json_i64(e->object, "amount", &a.amount) != TLY_OK)
		a.amount = 0;
	if (a.acct == NULL || a.payout == NULL || a.currency == NULL ||
	    strlen(a.payout) > 100) {
		*status = "ignored";	/* the platform's own payouts */
		return TLY_OK;
	}
	rc = tly_tx_run(ctx, "connect.payout_failed", flag_tx, &a, err);
	if (rc)
		return rc;
	if (!a.found) {
		*status = "ignored";
		return TLY_OK;
	}
	tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "a payee's bank payout "
	    "failed: flagged and emailed", "account_id", a.acc,
	    "connect_account_id", a.acct, "stripe_payout_id", a.payout,
	    "failure_code", a.code, NULL);
	return TLY_OK;
}

/*
 * connect.c - payees' connected accounts at Stripe (payout.h)
 *
 * Owns no table: it decides the Connect columns of accounts
 * (connect_account_id, connect_key_gen, connect_state, charges_enabled,
 * payouts_enabled, requirements_due, connect_event_created; the
 * effect's connect_* columns are the engine's) and flags
 * email_outstanding_payout when a payee's bank payout failed; catalog.c,
 * the accounts' one writer, writes them.
 *
 *   tly_connect_onboard         a payee's Express account, made once in
 *                               three steps: step 1 marks the account
 *                               row (connect_state to_create, since
 *                               when); the create is the effect
 *                               tly_connect_effect (effect.c), key
 *                               tally:connect:<acc>:g<gen>, found again
 *                               among the accounts made since onboarding
 *                               began (by metadata[tally_id]: no list
 *                               filters accounts by a parent); step 3
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
 *	tly_connect_payout_failed(), tly_connect_effect.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "effect.h"
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

/* --- the Connect account (effect.c) -------------------------------- */

/* a payee as its Connect account's effect sees it */
typedef struct acct_row {
	char		 email[256];
	char		 country[8];
	int64_t		 since;		/* onboarding began (unix seconds) */
} acct_row;

/* acct_load - the payee's email, the platform's country, since when */
static int
acct_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	acct_row *r;
	int rc;

	r = tly_pcalloc(ctx->pool, sizeof(*r));
	if (r == NULL)
		return tly_err_internal(err);
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(email, ''), "
	    "FLOOR(UNIX_TIMESTAMP(IFNULL(connect_requested_at, created_at))) "
	    "FROM accounts WHERE id = ?", "s>si", e->id, r->email,
	    sizeof(r->email), &r->since);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	tly_strlcpy(r->country, ctx->cfg->connect_country, sizeof(r->country));
	e->row = r;
	return TLY_OK;
}

static int
acct_params(const tly_effect *e, tly_form *f)
{
	const acct_row *r = e->row;

	tly_form_str(f, "type", "express");
	tly_form_str(f, "country", r->country);
	if (r->email[0])
		tly_form_str(f, "email", r->email);
	tly_form_str(f, "capabilities[transfers][requested]", "true");
	tly_form_str(f, "metadata[tally_id]", e->id);
	return tly_form_done(f);
}

/*
 * acct_find - the account Tally made for the payee: no list filters
 * accounts by a parent, so the accounts made since its onboarding began
 * (less five minutes of clock skew), read to the end
 */
static int
acct_find(tly_ctx *ctx, const tly_effect *e, const tly_jv **found,
    tly_err *err)
{
	const acct_row *r = e->row;

	return tly_stripe_find_since(ctx->stripe, ctx->pool, "/v1/accounts",
	    "account", e->id, r->since - 300, found, err);
}

/* acct_matches - an Express account whose metadata names the payee */
static int
acct_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	tly_st_account sa;
	const char *v;

	(void)ctx;
	if (tly_st_account_parse(obj, &sa) != TLY_OK || sa.id == NULL)
		return tly_err_internal(err);
	v = tly_st_metadata(sa.metadata, "tally_id");
	if (v == NULL || strcmp(v, e->id) != 0 || sa.type == NULL ||
	    strcmp(sa.type, "express") != 0)
		return tly_err_internal(err);
	return TLY_OK;
}

/* acct_done_tx - step 3: its id, unless one is stored already */
static int
acct_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	tly_st_account sa;
	char due[4001];
	int rc;

	if (tly_st_account_parse(e->obj, &sa) != TLY_OK || sa.id == NULL)
		return tly_err_internal(err);
	due_list(sa.currently_due, due, sizeof(due));
	rc = tly_account_connect_created(ctx, e->id, sa.id, due, err);
	if (rc == TLY_OK)
		e->note = "connected account ready";
	return rc;
}

/*
 * acct_refused_tx - Stripe refused the account: onboarding starts again
 * on the next request, under the next key generation (Stripe stored the
 * refusal under this one)
 */
static int
acct_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	return tly_account_connect_retry(ctx, e->id, err);
}

/* a payee's Express account: POST /v1/accounts */
const tly_effect_kind tly_connect_effect = {
	.name = "connect",
	.table = "accounts",
	.state_col = "connect_state",
	.open_sql = "'to_create', 'unknown'",
	.fresh = "to_create",
	.unknown = "unknown",
	.col = "connect_",
	.gen_col = "connect_key_gen",
	.key_prefix = "tally:connect",
	.object = "account",
	.path = "/v1/accounts",
	.load = acct_load,
	.params = acct_params,
	.find = acct_find,
	.matches = acct_matches,
	.done_tx = acct_done_tx,
	.refused_tx = acct_refused_tx,
};

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

/*
 * create_account - payee 'acc''s Connect account: step 1 (the row says
 * onboarding began; audited as asked for by 'who'), then the effect's
 * attempt
 */
static int
create_account(tly_ctx *ctx, const tly_principal *who, const char *acc,
    tly_err *err)
{
	tly_effect e;
	int rc;

	rc = tly_account_connect_requested(ctx, who, acc, err);
	if (rc == TLY_OK)
		rc = tly_effect_run(ctx, &tly_connect_effect, acc, NULL, &e,
		    err);
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
 * tly_connect_onboard - payee 'acc''s connected account (made once, at
 * the request of 'who': audited, account.connect) and a fresh onboarding
 * link, in 'out'.  404 unknown account, 422 when it is not a payee;
 * TLY_UNKNOWN (503) when Stripe did not answer the create.
 */
int
tly_connect_onboard(tly_ctx *ctx, const tly_principal *who, const char *acc,
    tly_connect *out, tly_err *err)
{
	char kind[16], acct[72], due[4001];
	int64_t ch = 0, po = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tly_db_row(ctx->db, err, "SELECT kind, "
	    "IFNULL(connect_account_id, '') FROM accounts WHERE id = ?",
	    "s>ss", acc, kind, sizeof(kind), acct, sizeof(acct));
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
		rc = create_account(ctx, who, acc, err);
		if (rc == TLY_UNKNOWN)
			tly_err_set(err, TLY_EK_UNAVAILABLE,
			    "stripe_outcome_unknown", "The payment provider "
			    "did not answer; retry: the same account comes "
			    "back.");
		if (rc)
			return rc;
	}
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(connect_account_id, ''), "
	    "charges_enabled, payouts_enabled, IFNULL(requirements_due, '') "
	    "FROM accounts WHERE id = ?", "s>siis", acc, acct, sizeof(acct),
	    &ch, &po, due, sizeof(due));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	if (acct[0] == '\0')		/* another request is making it */
		return tly_err_set(err, TLY_EK_UNAVAILABLE,
		    "stripe_outcome_unknown", "The payment provider did not "
		    "answer yet; retry: the same account comes back.");
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
 * tly_connect_account_updated - apply account.updated 'e' (typed by the
 * webhook, facts.h; see the top of the file); '*status' is "ignored"
 * for an account Tally does not have or an event older than the state
 * applied.
 */
int
tly_connect_account_updated(tly_ctx *ctx, const tly_account_facts *e,
    const char **status, tly_err *err)
{
	tly_st_account sa = e->a;
	tly_account_connect u;
	char acc[40], due[4001];
	int64_t seen = 0;
	uint64_t n = 0;
	int rc;

	if (sa.id == NULL) {
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
		    "event_id", e->event_id, "connect_account_id", sa.id, NULL);
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
	u.charges_enabled = sa.charges_enabled;
	u.payouts_enabled = sa.payouts_enabled;
	u.due = due;
	u.created = e->created;
	rc = tly_account_connect_state(ctx, acc, &u, &n, err);
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
	int64_t		 amount_cent;
	int		 found;
	char		 acc[40];
} flag_args;

/* flag_tx - flag the payee of a failed bank payout and email it */
TLY_TX_TYPED(flag_tx, flag_args)

static int
flag_tx(tly_ctx *ctx, flag_args *a, tly_err *err)
{
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
	rc = tly_account_payout_flag(ctx, a->acc, err);
	if (rc)
		return rc;
	snprintf(dedupe, sizeof(dedupe), "payout_failed:%s", a->payout);
	snprintf(body, sizeof(body), "Your bank could not accept a payout of "
	    "%lld (minor units, %s): %s.\n\nThe money is safe in your payout "
	    "account.  Please check your bank details in your payout "
	    "settings; the payout is retried once they are correct.\n",
	    (long long)a->amount_cent, a->currency, a->code);
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
 * tly_connect_payout_failed - payout.failed 'f' of a connected account
 * (see the top of the file).
 */
int
tly_connect_payout_failed(tly_ctx *ctx, const tly_bank_payout_facts *f,
    const char **status, tly_err *err)
{
	flag_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.acct = f->account;
	a.payout = f->payout_id;
	a.currency = f->currency;
	a.code = f->failure_code;
	a.amount_cent = f->amount_cent;
	if (a.acct == NULL || a.payout == NULL || a.currency == NULL ||
	    strlen(a.payout) > 100) {
		*status = "ignored";	/* the platform's own payouts */
		return TLY_OK;
	}
	rc = flag_tx_run(ctx, "connect.payout_failed", &a, err);
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

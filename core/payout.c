/*
 * payout.c - a payout: claim a payee's rows, transfer, record
 * (docs/ledger.md, payout.h)
 *
 * Owns the payouts table; the share rows it claims and settles are
 * written through shares.c, the payee's backoff (accounts) through
 * catalog.c.  The
 * run around it (advances first, recoveries between) is payout_run.c;
 * transfer.reversed of a payout's transfer is booked by recover.c; the
 * payee's balances are read by balances.c.
 *
 * Lock order: account (payee) -> payout -> outbox/audit.  The share rows
 * of a payee change status only under its account row's lock (every
 * writer here takes it first), so a payout's rows are read without
 * locking them after the account is held and claimed by id.
 *
 *   a run (payout_run.c calls these in order):
 *   tly_payout_run_start, tly_payout_run_payees
 *                     (1) read the platform's available balance
 *                     (GET /v1/balance); (2) finish payouts earlier runs
 *                     left 'to_transfer' or 'unknown' (the effect
 *                     engine's finisher, effect.c: lease, look the
 *                     transfer up among those of its transfer group
 *                     first, else call again under the stored key
 *                     generation while the balance covers it; backoff,
 *                     dead after the last attempt); (3) per (payee,
 *                     currency) whose eligible rows sum
 *                     to the threshold or more: claim the payee with FOR
 *                     UPDATE SKIP LOCKED, mark its eligible rows claimed
 *                     by a new payout (po_..., to_transfer, g1) and commit;
 *                     create ONE transfer (tly_payout_effect, key
 *                     tally:payout:<po>:g<gen>, transfer_group and
 *                     metadata[tally_id] = the payout); commit the
 *                     result: paid (rows paid, the payee's failure state
 *                     cleared, payout_sent queued), or, when Stripe
 *                     refused it (4xx), failed (rows back to pending
 *                     without payout_id, the payee backed off
 *                     exponentially, flagged, payout_failed queued).
 *                     No answer -> 'unknown', finished by a later run.
 *                     Before all this, advances left 'to_transfer' or
 *                     'unknown' are finished (advance.c); between (2)
 *                     and (3), what payees owe back is recovered by
 *                     transfer reversals (recover.c, when configured):
 *                     payout_run.c does both.
 *                     What the available balance cannot cover is not
 *                     claimed at all ("deferred"): the rows stay pending.
 *   tly_payout_reversed   recover.c books a reversal of a payout's
 *                     transfer (reversed_cent).
 *
 * Several runs (jobs on several hosts, tallyctl) may run at once: a
 * payee is claimed by one of them (SKIP LOCKED), a payout left behind is
 * taken by one of them (the engine's atomic lease on its row), and a key
 * generation moves only from the one before it.
 *
 * API:	tly_payout_run_start(), tly_payout_run_payees(),
 *	tly_payout_reversed(), tly_payee_role(), tly_payee_page(),
 *	tly_payee_page_bind(),
 *	tly_payout_effect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "catalog.h"
#include "outbox.h"
#include "payout.h"
#include "shares.h"
#include "tly_str.h"
#include "tx.h"

#define MAX_CASH		TLY_PAYOUT_CASH_MAX

#define ELIGIBLE_SQL		TLY_ELIGIBLE_SQL

typedef tly_payout_run run;

typedef struct payout_row {
	char	 id[40];
	char	 acc[40];
	char	 acct[72];
	char	 cur[4];
	char	 state[16];
	int64_t	 amount_cent;
	int64_t	 gen;
	int64_t	 created;
} payout_row;

/* --- the platform's balance -------------------------------------------- */

/* read_balance - the available amount per currency, into 'r' */
static int
read_balance(run *r, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *obj, *av, *e;
	const char *cur;
	int64_t amt_cent;
	int rc;

	rq = (tly_stripe_req){ "GET", "/v1/balance", NULL, NULL, NULL };
	rc = tly_stripe_fetch(r->ctx->stripe, r->ctx->pool, &rq, "balance",
	    &obj, &resp, err);
	if (rc)
		return rc;
	r->nbal = 0;
	av = tly_json_get(obj, "available");
	for (e = av && av->type == TLY_JARR ? av->child : NULL; e &&
	    r->nbal < MAX_CASH; e = e->next) {
		cur = tly_json_str(e, "currency");
		if (cur == NULL || strlen(cur) != 3 ||
		    tly_json_i64(e, "amount", &amt_cent) != TLY_OK)
			continue;
		tly_strlcpy(r->bal[r->nbal].cur, cur, sizeof(r->bal[0].cur));
		r->bal[r->nbal++].avail_cent = amt_cent;
	}
	return TLY_OK;
}

/* avail - what the platform can still transfer in 'cur' in this run */
static int64_t *
avail(run *r, const char *cur)
{
	int i;

	for (i = 0; i < r->nbal; i++)
		if (strcmp(r->bal[i].cur, cur) == 0)
			return &r->bal[i].avail_cent;
	if (r->nbal == MAX_CASH)
		return NULL;
	tly_strlcpy(r->bal[r->nbal].cur, cur, sizeof(r->bal[0].cur));
	r->bal[r->nbal].avail_cent = 0;
	return &r->bal[r->nbal++].avail_cent;
}

/* --- rows -------------------------------------------------------------- */

static int
load(tly_ctx *ctx, const char *id, payout_row *p, tly_err *err)
{
	memset(p, 0, sizeof(*p));
	return tly_db_row(ctx->db, err, "SELECT id, account_id, "
	    "connect_account_id, currency, state, amount_cent, key_gen, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)) FROM payouts WHERE id = ?",
	    "s>sssssiii", id, p->id, sizeof(p->id), p->acc, sizeof(p->acc),
	    p->acct, sizeof(p->acct), p->cur, sizeof(p->cur), p->state,
	    sizeof(p->state), &p->amount_cent, &p->gen, &p->created);
}

/* --- the payout's transfer (effect.c) ---------------------------------- */

/* mail - the payee's email about payout 'p' ('kind': sent or failed) */
static int
mail(tly_ctx *ctx, const payout_row *p, const char *kind, const char *to,
    const char *code, tly_err *err)
{
	char dedupe[80], body[600];
	tly_mail m;

	snprintf(dedupe, sizeof(dedupe), "%s:%s", kind, p->id);
	if (strcmp(kind, "payout_sent") == 0)
		snprintf(body, sizeof(body), "A payout of %lld (minor units, "
		    "%s) is on its way to your payout account (%s).\n",
		    (long long)p->amount_cent, p->cur, p->id);
	else
		snprintf(body, sizeof(body), "A payout of %lld (minor units, "
		    "%s) could not be made (%s: %s).  Your earnings are safe "
		    "and the payout is tried again later; please check your "
		    "payout settings.\n", (long long)p->amount_cent, p->cur,
		    p->id, code);
	memset(&m, 0, sizeof(m));
	m.dedupe = dedupe;
	m.kind = kind;
	m.account_id = p->acc;
	m.to = to;
	m.subject = strcmp(kind, "payout_sent") == 0 ? "Your payout is on "
	    "its way" : "Your payout could not be made";
	m.body = body;
	return tly_outbox_add(ctx, &m, err);
}

/* lock_both - the payee's row, then the payout's: its state in 'state' */
static int
lock_both(tly_ctx *ctx, const payout_row *p, char *email, size_t esz,
    char *state, size_t ssz, tly_err *err)
{
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(email, '') FROM accounts "
	    "WHERE id = ? FOR UPDATE", "s>s", p->acc, email, esz);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM payouts WHERE "
		    "id = ? FOR UPDATE", "s>s", p->id, state, ssz);
	return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
}

/* po_load - the payout row */
static int
po_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	payout_row *p;
	int rc;

	p = tly_pcalloc(ctx->pool, sizeof(*p));
	if (p == NULL)
		return tly_err_internal(err);
	rc = load(ctx, e->id, p, err);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	e->row = p;
	return TLY_OK;
}

static int
po_params(const tly_effect *e, tly_form *f)
{
	const payout_row *p = e->row;

	tly_form_i64(f, "amount", p->amount_cent);
	tly_form_str(f, "currency", p->cur);
	tly_form_str(f, "destination", p->acct);
	tly_form_str(f, "transfer_group", p->id);
	tly_form_str(f, "description", p->id);
	tly_form_str(f, "metadata[tally_id]", p->id);
	tly_form_str(f, "metadata[tally_account_id]", p->acc);
	return tly_form_done(f);
}

/* po_matches - the payout's amount, in its currency, to its payee */
static int
po_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const payout_row *p = e->row;

	(void)ctx;
	if (!tly_stripe_transfer_is(obj, p->amount_cent, p->cur, p->acct))
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * po_may_call - a payout left behind is transferred again only while
 * the platform's available balance (as this run read it) covers it
 */
static int
po_may_call(tly_ctx *ctx, tly_effect *e)
{
	const payout_row *p = e->row;
	run *r = e->arg;
	int64_t *left_cent;

	(void)ctx;
	if (r == NULL || !e->finishing)
		return 1;		/* the claim checked the balance */
	left_cent = avail(r, p->cur);
	return left_cent != NULL && *left_cent >= p->amount_cent;
}

/* po_done_tx - paid: rows paid, the payee's failures cleared, mailed */
static int
po_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const payout_row *p = e->row;
	const char *tr = tly_json_str(e->obj, "id");
	char email[256], state[16];
	int rc;

	rc = lock_both(ctx, p, email, sizeof(email), state, sizeof(state),
	    err);
	if (rc || strcmp(state, "paid") == 0)
		return rc;
	if (strcmp(state, "failed") == 0) {
		/* recorded refused, yet Stripe has the transfer: a bug */
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "a failed payout "
		    "has a transfer at Stripe", "payout_id", p->id,
		    "transfer_id", tr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE payouts SET state = "
	    "'paid', stripe_transfer_id = ?, paid_at = NOW(3), last_error = "
	    "NULL WHERE id = ?", "ss", tr, p->id);
	if (rc == TLY_OK)
		rc = tly_shares_paid(ctx, p->id, err);
	if (rc == TLY_OK)
		rc = tly_account_payout_ok(ctx, p->acc, err);
	if (rc == TLY_OK)
		rc = mail(ctx, p, "payout_sent", email, NULL, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "payout.paid", p->id, tr, err);
	if (rc == TLY_OK)
		e->note = "payout paid";
	return rc;
}

/*
 * po_refused_tx - Stripe refused the transfer: failed, the rows back to
 * pending, the payee backed off exponentially and mailed
 */
static int
po_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const payout_row *p = e->row;
	const tly_config *c = ctx->cfg;
	char email[256], state[16];
	int rc;

	rc = lock_both(ctx, p, email, sizeof(email), state, sizeof(state),
	    err);
	if (rc || (strcmp(state, "to_transfer") != 0 &&
	    strcmp(state, "unknown") != 0))
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE payouts SET state = "
	    "'failed', last_error = ? WHERE id = ?", "ss", e->why.code, p->id);
	if (rc == TLY_OK)
		rc = tly_shares_release(ctx, p->id, err);
	if (rc == TLY_OK)
		rc = tly_account_payout_failed(ctx, p->acc,
		    (int64_t)c->payout_retry_base_s, err);
	if (rc == TLY_OK)
		rc = mail(ctx, p, "payout_failed", email, e->why.code, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "payout.failed", p->id, e->why.code,
		    err);
	return rc;
}

/* po_after - the run's counts and cash, and its log lines */
static int
po_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const payout_row *p = e->row;
	run *r = e->arg;
	int64_t *left_cent;

	(void)err;
	if (r == NULL || p == NULL)
		return TLY_OK;
	if (e->finishing && (e->outcome == TLY_EFFECT_DONE ||
	    e->outcome == TLY_EFFECT_REFUSED))
		r->st->finished++;
	switch (e->outcome) {
	case TLY_EFFECT_DONE:
		r->st->paid++;
		left_cent = e->made ? avail(r, p->cur) : NULL;
		if (left_cent)
			*left_cent -= p->amount_cent;
		break;
	case TLY_EFFECT_REFUSED:
		r->st->failed++;
		tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "Stripe refused "
		    "the transfer: payout failed, its rows are payable again",
		    "payout_id", p->id, "account_id", p->acc, "code",
		    e->why.code, NULL);
		break;
	case TLY_EFFECT_UNKNOWN:
	case TLY_EFFECT_DEAD:
		r->st->unknown++;
		break;
	case TLY_EFFECT_DEFERRED:
		r->st->deferred++;
		break;
	default:
		break;
	}
	return TLY_OK;
}

/* a payout's transfer: POST /v1/transfers, transfer_group = the payout */
const tly_effect_kind tly_payout_effect = {
	.name = "payout",
	.table = "payouts",
	.state_col = "state",
	.open_sql = "'to_transfer', 'unknown'",
	.fresh = "to_transfer",
	.unknown = "unknown",
	.col = "",
	.gen_col = "key_gen",
	.key_prefix = "tally:payout",
	.object = "transfer",
	.path = "/v1/transfers",
	.payout_lease = 1,
	.load = po_load,
	.may_call = po_may_call,
	.params = po_params,
	.find = tly_effect_find_transfer,
	.matches = po_matches,
	.done_tx = po_done_tx,
	.refused_tx = po_refused_tx,
	.after = po_after,
};

/* transfer - steps 2 and 3 for payout 'id', just claimed by run 'r' */
static int
transfer(run *r, const char *id, tly_err *err)
{
	tly_effect e;
	int rc;

	rc = tly_effect_first(r->ctx, &tly_payout_effect, id, r, &e, err);
	if (rc == TLY_UNKNOWN || e.outcome == TLY_EFFECT_REFUSED) {
		tly_err_clear(err);
		return TLY_OK;		/* recorded, or left for a later run */
	}
	return rc;
}

/* finish_left - the payouts earlier runs left (effect.c's finisher) */
static int
finish_left(run *r, tly_err *err)
{
	int done = 0;

	return tly_effect_finish_due(r->ctx, &tly_payout_effect, r, &done,
	    err);
}

/* --- step 1: claiming a payee's eligible rows -------------------------- */

typedef struct claim_args {
	const char	*acc;
	const char	*cur;
	int64_t		 threshold_cent;	/* the currency's default */
	int64_t		 cash_cent;		/* available in 'cur' */
	/* out */
	int		 claimed;
	int		 short_cash;
	payout_row	 p;
	int64_t		*ids;
	size_t		 nids, cap;
} claim_args;

/* claim_rows - mark rows a->ids claimed by a->p.id (deferred writes) */
static int
claim_rows(tly_ctx *ctx, claim_args *a, tly_err *err)
{
	return tly_shares_claim(ctx, a->p.id, a->ids, a->nids, err);
}

/* eligible_rows - the payee's eligible rows (ids, sum) */
static int
eligible_rows(tly_ctx *ctx, claim_args *a, int64_t *sum_cent, tly_err *err)
{
	int64_t *grown, v;
	tly_q q;
	int rc;

	*sum_cent = 0;
	a->nids = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT s.id, s.amount_cent FROM shares s "
	    "WHERE s.account_id = ? AND s.currency = ? AND s.status = "
	    "'pending' AND s.payout_id IS NULL AND " ELIGIBLE_SQL
	    " ORDER BY s.id", err))
		return q.rc;
	tly_q_str(&q, a->acc);
	tly_q_str(&q, a->cur);
	tly_q_i64(&q, ctx->cfg->payout_hold_days);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (a->nids == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 64;
			grown = realloc(a->ids, a->cap * sizeof(*a->ids));
			if (grown == NULL) {
				rc = tly_err_internal(err);
				break;
			}
			a->ids = grown;
		}
		a->ids[a->nids++] = tly_q_col_i64(&q, 0);
		v = tly_q_col_i64(&q, 1);
		if ((v > 0 && *sum_cent > INT64_MAX - v) ||
		    (v < 0 && *sum_cent < INT64_MIN - v)) {
			rc = tly_err_internal(err);	/* cannot happen */
			break;
		}
		*sum_cent += v;
	}
	tly_q_done(&q);
	return rc == TLY_ROW ? TLY_OK : rc;
}

/* claim_tx - step 1 for (a->acc, a->cur): see the top of the file */
TLY_TX_TYPED(claim_tx, claim_args)

static int
claim_tx(tly_ctx *ctx, claim_args *a, tly_err *err)
{
	int64_t over_cent = -1, sum_cent = 0, n = 0, got_cent = 0;
	int rc;

	a->claimed = a->short_cash = 0;
	memset(&a->p, 0, sizeof(a->p));
	rc = tly_db_row(ctx->db, err, "SELECT connect_account_id, "
	    "IFNULL(payout_threshold_cent, -1) FROM accounts WHERE id = ? AND "
	    "kind IN " TLY_PAYEE_KINDS_SQL " AND payouts_enabled = 1 AND "
	    "connect_account_id IS NOT NULL AND (payout_retry_at IS NULL OR "
	    "payout_retry_at <= NOW(3)) FOR UPDATE SKIP LOCKED", "s>si",
	    a->acc, a->p.acct, sizeof(a->p.acct), &over_cent);
	if (rc == TLY_NOTFOUND) {		/* another run has it, or not */
		tly_err_clear(err);		/* payable any more */
		return TLY_OK;
	}
	if (rc == TLY_OK)
		rc = eligible_rows(ctx, a, &sum_cent, err);
	if (rc)
		return rc;
	if (a->nids == 0 || sum_cent <= 0 ||
	    sum_cent < (over_cent >= 0 ? over_cent : a->threshold_cent))
		return TLY_OK;
	if (sum_cent > a->cash_cent) {
		a->short_cash = 1;		/* deferred: nothing claimed */
		return TLY_OK;
	}
	if (tly_id_new(a->p.id, sizeof(a->p.id), "po") != TLY_OK)
		return tly_err_internal(err);
	rc = claim_rows(ctx, a, err);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT COUNT(*), "
		    "IFNULL(SUM(amount_cent), 0) FROM shares WHERE payout_id = "
		    "?", "s>ii", a->p.id, &n, &got_cent);
	if (rc)
		return rc;
	if ((size_t)n != a->nids || got_cent != sum_cent) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "claimed rows "
		    "differ from the eligible rows read: rolled back",
		    "account_id", a->acc, "currency", a->cur, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO payouts (id, "
	    "account_id, connect_account_id, currency, amount_cent, state, "
	    "key_gen, lease_until) VALUES (?, ?, ?, ?, ?, 'to_transfer', 1, "
	    "NOW(3) + INTERVAL ? SECOND)", "ssssii", a->p.id, a->acc,
	    a->p.acct, a->cur, sum_cent, (int64_t)ctx->cfg->payout_lease_s);
	if (rc)
		return rc;
	tly_strlcpy(a->p.acc, a->acc, sizeof(a->p.acc));
	tly_strlcpy(a->p.cur, a->cur, sizeof(a->p.cur));
	tly_strlcpy(a->p.state, "to_transfer", sizeof(a->p.state));
	a->p.amount_cent = sum_cent;
	a->p.gen = 1;
	a->claimed = 1;
	return TLY_OK;
}

/* pay_one - one (payee, currency): claim, transfer, record */
static int
pay_one(run *r, const char *acc, const char *cur, tly_err *err)
{
	const tly_currency *c = tly_config_currency(r->ctx->cfg, cur);
	claim_args a;
	int64_t *left_cent;
	int rc;

	left_cent = avail(r, cur);
	memset(&a, 0, sizeof(a));
	a.acc = acc;
	a.cur = cur;
	a.threshold_cent = c ? c->payout_threshold_cent : 10000;
	a.cash_cent = left_cent ? *left_cent : 0;
	rc = claim_tx_run(r->ctx, "payout.claim", &a, err);
	free(a.ids);
	if (rc)
		return rc;
	if (a.short_cash) {
		r->st->deferred++;
		tly_logkv(r->ctx->log, TLY_LOG_INFO, "payout", "deferred: the "
		    "platform's available balance is short", "account_id", acc,
		    "currency", cur, NULL);
		return TLY_OK;
	}
	if (!a.claimed)
		return TLY_OK;
	return transfer(r, a.p.id, err);
}

/* --- the run ----------------------------------------------------------- */

/*
 * tly_payee_page - the (payee, currency) pairs after ('acc', 'cur') that
 * query 'sql' selects, at most TLY_PAYEE_PAGE, into 'out' ('*n').  'sql'
 * reads s.account_id, s.currency and takes, in this order, hold_days,
 * acc, acc, cur and the page size (see candidates).
 */
int
tly_payee_page(tly_ctx *ctx, const char *sql, const char *acc,
    const char *cur, tly_payee_cur *out, int *n, tly_err *err)
{
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, sql, err))
		return q.rc;
	tly_payee_page_bind(ctx, &q, acc, cur);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && *n < TLY_PAYEE_PAGE) {
		tly_strlcpy(out[*n].acc, tly_q_col_str(&q, 0),
		    sizeof(out[0].acc));
		tly_strlcpy(out[*n].cur, tly_q_col_str(&q, 1),
		    sizeof(out[0].cur));
		(*n)++;
	}
	tly_q_done(&q);
	return rc == TLY_ROW ? TLY_OK : rc;
}

/*
 * tly_payee_page_bind - bind a payee page's parameters to 'q', in the
 * order tly_payee_page says ('sql': hold_days, acc, acc, cur, page size)
 */
void
tly_payee_page_bind(tly_ctx *ctx, tly_q *q, const char *acc,
    const char *cur)
{
	tly_q_i64(q, ctx->cfg->payout_hold_days);
	tly_q_str(q, acc);
	tly_q_str(q, acc);
	tly_q_str(q, cur);
	tly_q_i64(q, TLY_PAYEE_PAGE);
}

/* candidates - payees with eligible rows, after (acc, cur) */
static int
candidates(tly_ctx *ctx, const char *acc, const char *cur,
    tly_payee_cur *out, int *n, tly_err *err)
{
	return tly_payee_page(ctx, "SELECT s.account_id, s.currency FROM "
	    "shares s JOIN accounts a ON a.id = s.account_id WHERE a.kind IN "
	    TLY_PAYEE_KINDS_SQL " AND a.payouts_enabled = 1 AND "
	    "a.connect_account_id IS NOT NULL AND (a.payout_retry_at IS NULL "
	    "OR a.payout_retry_at <= NOW(3)) AND s.status = 'pending' AND "
	    "s.payout_id IS NULL AND " ELIGIBLE_SQL " AND (s.account_id > ? "
	    "OR (s.account_id = ? AND s.currency > ?)) GROUP BY s.account_id, "
	    "s.currency HAVING SUM(s.amount_cent) > 0 ORDER BY s.account_id, "
	    "s.currency LIMIT ?", acc, cur, out, n, err);
}

/*
 * tly_payout_run_start - a run 'r' over 'ctx' counting into 'st' (the
 * caller zeroed it): read the platform's available balance, then finish
 * the payouts earlier runs left (effect.c's finisher)
 */
int
tly_payout_run_start(run *r, tly_ctx *ctx, tly_payout_stats *st,
    tly_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->st = st;
	rc = read_balance(r, err);
	if (rc == TLY_OK)
		rc = finish_left(r, err);
	return rc;
}

/*
 * tly_payout_run_payees - run 'r' pays the payees whose eligible rows
 * reach their threshold, at most payout_max_per_run of them.  Fails only
 * when the candidates could not be read; a payee that fails is logged
 * and the run goes on.
 */
int
tly_payout_run_payees(run *r, tly_err *err)
{
	tly_ctx *ctx = r->ctx;
	char acc[40] = "", cur[4] = "";
	tly_payee_cur page[TLY_PAYEE_PAGE];
	int n, i, done = 0, rc = TLY_OK;
	tly_err e;

	while (rc == TLY_OK && done < ctx->cfg->payout_max_per_run) {
		rc = candidates(ctx, acc, cur, page, &n, err);
		if (rc || n == 0)
			break;
		for (i = 0; i < n && done < ctx->cfg->payout_max_per_run;
		    i++, done++) {
			tly_err_clear(&e);
			tly_pool_reset(ctx->pool);
			if (pay_one(r, page[i].acc, page[i].cur, &e) != TLY_OK)
				tly_logkv(ctx->log, TLY_LOG_WARN, "payout",
				    "paying a payee failed", "account_id",
				    page[i].acc, "currency", page[i].cur,
				    "code", e.code, NULL);
		}
		tly_strlcpy(acc, page[n - 1].acc, sizeof(acc));
		tly_strlcpy(cur, page[n - 1].cur, sizeof(cur));
	}
	return rc;
}

/*
 * tly_payout_reversed - payout 'po' has 'x_cent' more reversed (negative:
 * less), deferred; recover.c, under the payee's account lock
 */
int
tly_payout_reversed(tly_ctx *ctx, const char *po, int64_t x_cent,
    tly_err *err)
{
	return tly_db_later(ctx->db, err, "UPDATE payouts SET "
	    "reversed_cent = reversed_cent + ? WHERE id = ?", "is", x_cent,
	    po);
}

/* tly_payee_role - the share role of a payee account of kind 'kind' */
const char *
tly_payee_role(const char *kind)
{
	if (strcmp(kind, "agent") == 0)
		return "AGENT";
	if (strcmp(kind, "ambassador") == 0)
		return "AMBASSADOR";
	if (strcmp(kind, "host_partner") == 0)
		return "HOST_PARTNER";
	return "TALENT";
}

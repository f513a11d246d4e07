/*
 * refund_book.c - refunds at Stripe and in the books (refund.h;
 * docs/ledger.md, "Reversals: refunds and disputes")
 *
 * The other half of the refund module (refund.c takes the request): the
 * refund effect, the recording and booking of what Stripe says, the
 * reversal engine dispute.c shares, and the "refunds" job.  Owns, with
 * refund.c, the refunds table; the reversal rows through shares.c, the
 * payment's amounts through payments.c.  Lock order: payment -> refund.
 *
 *   tly_refund_finish    the refund effect (effect.c, tly_refund_effect):
 *                        POST /v1/refunds once under "tally:refund:<id>:
 *                        g<gen>"; a finisher looks first, among the
 *                        refunds of the payment's PaymentIntent, by
 *                        metadata[tally_id].  Refused by Stripe -> failed,
 *                        and the requested amount is released.
 *   recording            tx (fx_done_tx): lock the payment, then the
 *                        refund; Stripe's id and state; then:
 *   booking              succeeded: post the reversal rows once
 *                        (tly_reversal_post: read the shares, plan with
 *                        the pure ledger, tly_ledger_plan, post; C =
 *                        refunded + disputed moves up by the refund);
 *                        raise refunded_cent;
 *                        the payment becomes partially_refunded or
 *                        refunded (unless disputed); queue the buyer's
 *                        email.  A refund Tally recorded as refused that
 *                        Stripe has is taken back up and booked as Stripe
 *                        shows it, with an ALERT.
 *   failure              Stripe says failed: never booked -> failed and
 *                        the amount released; booked -> the inverse rows
 *                        (refund_failed, C moves back down) once, and
 *                        refunded_cent lowered ('reversed').
 *   tly_job_refunds      ("refunds" job) the effect engine's finisher
 *                        (lease, look first, backoff, dead after the last
 *                        attempt), and asks Stripe about refunds still
 *                        pending.
 *
 * API:	tly_reversal_post(), tly_refund_effect, tly_refund_finish(),
 *	tly_refund_record(), tly_job_refunds().
 */
#include <stdio.h>
#include <string.h>

#include "advance.h"
#include "audit.h"
#include "effect.h"
#include "ledger.h"
#include "outbox.h"
#include "payments.h"
#include "refund.h"
#include "shares.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

/* the kinds of the rows that reverse a payment's shares (docs/ledger.md) */
#define REVERSAL_KINDS \
	"('refund', 'refund_failed', 'dispute', 'dispute_reinstated')"

/* --- booking ------------------------------------------------------ */

/*
 * parties - a payment's stakeholders: their net shares (split and fee
 * adjustment rows), what their reversal rows already total, and Stripe's
 * fee with its kept part so far; one grouped read
 */
static int
parties(tly_ctx *ctx, const char *pay, tly_ledger_rev *in, tly_err *err)
{
	const char *role;
	int64_t share_cent, booked_cent;
	tly_q q;
	int rc;

	in->nparties = 1;
	if (tly_q_prep(ctx->db, &q, "SELECT account_id, role, "
	    "SUM(IF(kind IN ('split', 'fee_adjustment'), amount_cent, 0)), "
	    "SUM(IF(kind IN ('split', 'fee_adjustment'), 0, amount_cent)) "
	    "FROM shares WHERE payment_id = ? AND (kind IN ('split', "
	    "'fee_adjustment') OR (kind IN " REVERSAL_KINDS " AND role <> "
	    "'DISPUTE_FEE')) GROUP BY account_id, role", err))
		return q.rc;
	tly_q_str(&q, pay);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_ledger_party *p;

		role = tly_q_col_str(&q, 1);
		share_cent = tly_q_col_i64(&q, 2);
		booked_cent = tly_q_col_i64(&q, 3);
		if (strcmp(role, "STRIPE_FEE") == 0) {
			in->fee_cent += share_cent;
			continue;
		}
		if (strcmp(role, "STRIPE_FEE_KEPT") == 0) {
			in->kept_booked_cent += booked_cent;
			continue;
		}
		if (strcmp(role, "TALENT") == 0)
			p = &in->parties[0];
		else if (in->nparties < TLY_LEDGER_MAX)
			p = &in->parties[in->nparties++];
		else {
			rc = tly_err_internal(err);	/* too many */
			break;
		}
		tly_strlcpy(p->account_id, tly_q_col_str(&q, 0),
		    sizeof(p->account_id));
		tly_strlcpy(p->role, role, sizeof(p->role));
		p->share_cent = share_cent;
		p->booked_cent = booked_cent;
	}
	tly_q_done(&q);
	if (rc == TLY_OK && in->parties[0].account_id[0] == '\0')
		return tly_err_internal(err);		/* no talent row */
	return rc;
}

/*
 * tly_reversal_post - inside a transaction that holds payment 'pay''s
 * row lock: post the rows (kind 'kind', cause 'cause') that move its
 * cumulative reversed amount (refunded_cent + disputed_cent) from
 * 'before_cent' to 'after_cent': read the stakeholders, plan (tly_ledger_plan),
 * post; 'bearer' bears Stripe's kept fee.  The caller updates the
 * running totals.
 */
int
tly_reversal_post(tly_ctx *ctx, const char *pay, const char *currency,
    const char *bearer, int64_t amount_cent, int64_t before_cent,
    int64_t after_cent, const char *kind, const char *cause, tly_err *err)
{
	tly_share_row srows[TLY_LEDGER_ROWS];
	tly_ledger_row rows[TLY_LEDGER_ROWS];
	tly_ledger_rev in;
	int n, i, rc;

	if (before_cent == after_cent)
		return TLY_OK;
	memset(&in, 0, sizeof(in));
	in.amount_cent = amount_cent;
	in.before_cent = before_cent;
	in.after_cent = after_cent;
	tly_strlcpy(in.bearer_id, bearer, sizeof(in.bearer_id));
	rc = parties(ctx, pay, &in, err);
	if (rc)
		return rc;
	rc = tly_ledger_plan(&in, rows, &n, err);
	if (rc)		/* the payment's rows break an invariant */
		return tly_panic(ctx->log, err, "refund", "ALERT: the "
		    "reversal of a payment cannot be planned", "payment_id",
		    pay, "cause_id", cause, "kind", kind, "code", err->code,
		    NULL);
	memset(srows, 0, sizeof(srows));
	for (i = 0; i < n; i++) {
		tly_strlcpy(srows[i].account_id, rows[i].account_id,
		    sizeof(srows[i].account_id));
		tly_strlcpy(srows[i].role, rows[i].role, sizeof(srows[i].role));
		srows[i].amount_cent = rows[i].amount_cent;
	}
	rc = tly_shares_insert(ctx, pay, currency, kind, cause, srows, n,
	    err);
	if (rc == TLY_OK)	/* offsets of advances follow (advance.c) */
		rc = tly_advance_reverse(ctx, pay, currency, amount_cent,
		    before_cent, after_cent, err);
	return rc;
}

/* a payment under lock: what booking a refund reads */
typedef struct locked_pay {
	int64_t	 amount_cent, refunded_cent, disputed_cent;
	char	 bearer[40];
	char	 currency[8];
	char	 status[24];
} locked_pay;

static int
lock_payment(tly_ctx *ctx, const char *pay, locked_pay *p, tly_err *err)
{
	memset(p, 0, sizeof(*p));
	return tly_db_row(ctx->db, err, "SELECT amount_cent, refunded_cent, "
	    "disputed_cent, fee_bearer_account_id, currency, status FROM "
	    "payments WHERE id = ? FOR UPDATE", "s>iiisss", pay,
	    &p->amount_cent, &p->refunded_cent, &p->disputed_cent, p->bearer,
	    sizeof(p->bearer), p->currency, sizeof(p->currency), p->status,
	    sizeof(p->status));
}

/* money - 'v' minor units of 'cur' as text ("12.50 USD") */
static void
money(tly_ctx *ctx, int64_t v_cent, const char *cur, char *buf, size_t sz)
{
	const tly_currency *c = tly_config_currency(ctx->cfg, cur);
	int e = c ? c->exponent : 2, i;
	int64_t div = 1;
	char up[4];

	for (i = 0; i < e; i++)
		div *= 10;
	for (i = 0; i < 3 && cur[i]; i++)
		up[i] = (char)(cur[i] >= 'a' && cur[i] <= 'z' ? cur[i] - 32 :
		    cur[i]);
	up[i] = '\0';
	if (e == 0)
		snprintf(buf, sz, "%lld %s", (long long)v_cent, up);
	else
		snprintf(buf, sz, "%lld.%0*lld %s", (long long)(v_cent / div),
		    e, (long long)(v_cent % div), up);
}

/* mail - queue the buyer's refund email when Tally knows the address */
static int
mail(tly_ctx *ctx, const tly_refund *r, tly_err *err)
{
	char to[256], acct[40], dedupe[64], amt[48], body[512];
	tly_mail m;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(NULLIF(c.receipt_email, "
	    "''), IFNULL(a.email, '')), c.buyer_account_id FROM payments p "
	    "JOIN checkouts c ON c.id = p.checkout_id JOIN accounts a ON "
	    "a.id = c.buyer_account_id WHERE p.id = ?", "s>ss", r->payment_id,
	    to, sizeof(to), acct, sizeof(acct));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;			/* not a checkout's payment */
	}
	if (rc || to[0] == '\0')
		return rc;
	money(ctx, r->amount_cent, r->currency, amt, sizeof(amt));
	snprintf(dedupe, sizeof(dedupe), "refund:%s", r->id);
	snprintf(body, sizeof(body), "Hello,\n\nwe have refunded %s of your "
	    "payment %s (refund %s).\nIt can take 5 to 10 business days to "
	    "appear on your statement.\n", amt, r->payment_id, r->id);
	memset(&m, 0, sizeof(m));
	m.dedupe = dedupe;
	m.kind = "refund";
	m.account_id = acct;
	m.to = to;
	m.subject = "Your refund";
	m.body = body;
	return tly_outbox_add(ctx, &m, err);
}

/*
 * book_locked - post the reversal of refund 'r' once (its payment 'p'
 * and its row locked by the caller); 'e->note' says it was booked
 */
static int
book_locked(tly_ctx *ctx, tly_effect *e, const locked_pay *p,
    const tly_refund *r, tly_err *err)
{
	int64_t before_cent, refunded_cent;
	int rc;

	if (r->booked)
		return TLY_OK;
	before_cent = p->refunded_cent + p->disputed_cent;
	refunded_cent = p->refunded_cent + r->amount_cent;
	if (before_cent + r->amount_cent > p->amount_cent)
		return tly_err_set(err, TLY_EK_CONFLICT,
		    "reversal_exceeds_amount", "The refunds and disputes of "
		    "the payment exceed it.");
	rc = tly_reversal_post(ctx, r->payment_id, r->currency, p->bearer,
	    p->amount_cent, before_cent, before_cent + r->amount_cent,
	    "refund", r->id, err);
	if (rc == TLY_OK)
		rc = tly_payments_refunded(ctx, r->payment_id, refunded_cent, 0,
		    err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET "
		    "booked = 1, state = 'succeeded' WHERE id = ?", "s", r->id);
	if (rc == TLY_OK)
		rc = mail(ctx, r, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "refund.booked", r->id, r->reason,
		    err);
	if (rc == TLY_OK)
		e->note = "refund booked";
	return rc;
}

/*
 * fail_locked - Stripe says refund 'r' failed (its payment 'p' and its
 * row locked by the caller): never booked -> failed and its amount
 * released; booked -> the inverse rows (refund_failed), once
 * ('reversed'), and refunded_cent lowered.
 */
static int
fail_locked(tly_ctx *ctx, tly_effect *e, const locked_pay *p,
    const tly_refund *r, int64_t reversed_cent, const tly_st_refund *sr,
    tly_err *err)
{
	const char *why = sr->failure_reason ? sr->failure_reason : sr->status;
	int64_t before_cent, refunded_cent;
	int rc;

	if (reversed_cent || (strcmp(r->state, "failed") == 0 && !r->booked))
		return TLY_OK;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET state = "
	    "'failed', stripe_refund_id = IFNULL(stripe_refund_id, ?), "
	    "last_error = ?, reversed = booked WHERE id = ?", "sss", sr->id,
	    why, r->id);
	if (rc == TLY_OK && !r->booked)
		return tly_payments_request(ctx, r->payment_id,
		    -r->amount_cent, err);
	if (rc)
		return rc;
	before_cent = p->refunded_cent + p->disputed_cent;
	refunded_cent = p->refunded_cent - r->amount_cent;
	rc = tly_reversal_post(ctx, r->payment_id, r->currency, p->bearer,
	    p->amount_cent, before_cent, before_cent - r->amount_cent,
	    "refund_failed", r->id, err);
	/* one statement: the CHECK refunded <= requested holds after it */
	if (rc == TLY_OK)
		rc = tly_payments_refunded(ctx, r->payment_id, refunded_cent,
		    r->amount_cent, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "refund.failed_after_booking", r->id,
		    why, err);
	if (rc == TLY_OK)
		e->note = "booked refund failed at Stripe: reversed";
	return rc;
}

/* --- the refund effect (effect.c) ---------------------------------- */

/* a refund as its effect sees it */
typedef struct fx_row {
	tly_refund	 r;
	char		 pi[72];
} fx_row;

/* fx_load - the refund and its payment's PaymentIntent */
static int
fx_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	fx_row *x;
	int rc;

	x = tly_pcalloc(ctx->pool, sizeof(*x));
	if (x == NULL)
		return tly_err_internal(err);
	rc = tly_refund_get(ctx, e->id, &x->r, err);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT IFNULL(p.pi_id, '') FROM "
		    "refunds r JOIN payments p ON p.id = r.payment_id WHERE "
		    "r.id = ?", "s>s", e->id, x->pi, sizeof(x->pi));
	if (rc)
		return rc;
	tly_strlcpy(e->target, x->r.stripe_refund_id, sizeof(e->target));
	e->row = x;
	return TLY_OK;
}

static int
fx_params(const tly_effect *e, tly_form *f)
{
	const fx_row *x = e->row;

	tly_form_str(f, "payment_intent", x->pi);
	tly_form_i64(f, "amount", x->r.amount_cent);
	tly_form_str(f, "reason", "requested_by_customer");
	tly_form_str(f, "metadata[tally_id]", x->r.id);
	tly_form_str(f, "metadata[tally_refund_id]", x->r.id);
	tly_form_str(f, "metadata[tally_reason]", x->r.reason);
	return tly_form_done(f);
}

/*
 * fx_find - the refund at Stripe: by the stored id, else among the
 * refunds of the payment's PaymentIntent (by metadata[tally_id])
 */
static int
fx_find(tly_ctx *ctx, const tly_effect *e, const tly_jv **found,
    tly_err *err)
{
	const fx_row *x = e->row;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const char *path;

	*found = NULL;
	if (x->r.stripe_refund_id[0]) {
		path = tly_stripe_path(ctx->pool, "/v1/refunds/",
		    x->r.stripe_refund_id, NULL);
		if (path == NULL)
			return tly_err_internal(err);
		rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
		return tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "refund",
		    found, &resp, err);
	}
	if (x->pi[0] == '\0')
		return TLY_NOTFOUND;
	return tly_stripe_find_child(ctx->stripe, ctx->pool, "/v1/refunds",
	    "payment_intent", x->pi, "refund", x->r.id, found, err);
}

/*
 * fx_matches - Stripe's refund 'obj' is refund e's: its id (when Tally
 * has one) or metadata[tally_id], its amount and currency
 */
static int
fx_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const fx_row *x = e->row;
	tly_st_refund sr;
	const char *tid;

	(void)ctx;
	if (tly_st_refund_parse(obj, &sr) != TLY_OK || sr.id == NULL ||
	    sr.status == NULL || sr.currency == NULL)
		return tly_err_internal(err);
	tid = tly_st_metadata(sr.metadata, "tally_id");
	if (x->r.stripe_refund_id[0] ? strcmp(sr.id, x->r.stripe_refund_id) :
	    tid == NULL || strcmp(tid, x->r.id))
		return tly_err_internal(err);
	if (sr.amount_cent != x->r.amount_cent || strcmp(sr.currency,
	    x->r.currency) != 0)
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * fx_done_tx - record Stripe's refund e->obj: under the payment's lock,
 * then the refund's, its id and state; booked when it succeeded,
 * reversed when it failed after booking.  A refund Tally recorded as
 * refused (failed, with no Stripe id) that Stripe has is taken back up
 * and booked as Stripe shows it, with an ALERT.  Failed with a Stripe id
 * is Stripe's own word: a snapshot saying otherwise is older.
 */
static int
fx_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const fx_row *x = e->row;
	tly_st_refund sr;
	int64_t reversed_cent = 0;
	locked_pay p;
	tly_refund r;
	int rc, ok;

	/* tests: the recording step fails after Stripe made the refund */
	if (tly_ctx_fault(ctx, "refund.record") == TLY_FAULT_FAIL)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "Injected failure recording the refund.");
	if (tly_st_refund_parse(e->obj, &sr) != TLY_OK || sr.id == NULL ||
	    sr.status == NULL)
		return tly_err_internal(err);
	rc = lock_payment(ctx, x->r.payment_id, &p, err);
	if (rc == TLY_OK)
		rc = tly_refund_lock(ctx, e->id, &r, err);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT reversed FROM refunds "
		    "WHERE id = ?", "s>i", e->id, &reversed_cent);
	if (rc)
		return rc;
	if (strcmp(sr.status, "failed") == 0 ||
	    strcmp(sr.status, "canceled") == 0)
		return fail_locked(ctx, e, &p, &r, reversed_cent, &sr, err);
	ok = strcmp(sr.status, "succeeded") == 0;
	if (strcmp(r.state, "failed") == 0) {
		if (r.booked || reversed_cent || r.stripe_refund_id[0])
			return TLY_OK;
		rc = tly_payments_request(ctx, r.payment_id, r.amount_cent,
		    err);
		if (rc == TLY_OK)
			rc = tly_audit(ctx, NULL, "refund.taken_back_up", r.id,
			    sr.status, err);
		if (rc)
			return rc;
		e->alert = "a refund Tally recorded as refused exists at "
		    "Stripe: recorded and booked as Stripe shows it";
		tly_strlcpy(r.state, "pending", sizeof(r.state));
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET "
	    "stripe_refund_id = ?, state = IF(state = 'succeeded', state, ?) "
	    "WHERE id = ?", "sss", sr.id, ok ? "succeeded" : "pending", e->id);
	if (rc == TLY_OK && ok)
		rc = book_locked(ctx, e, &p, &r, err);
	return rc;
}

/* fx_refused_tx - Stripe will not refund it: failed, amount released */
static int
fx_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const fx_row *x = e->row;
	locked_pay p;
	tly_refund r;
	uint64_t n = 0;
	int rc;

	rc = lock_payment(ctx, x->r.payment_id, &p, err);
	if (rc == TLY_OK)
		rc = tly_refund_lock(ctx, e->id, &r, err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, &n, "UPDATE refunds SET state = "
		    "'failed', last_error = ? WHERE id = ? AND state IN "
		    "('to_create', 'unknown')", "ss", e->why.code, e->id);
	if (rc == TLY_OK && n == 1)
		rc = tly_payments_request(ctx, r.payment_id, -r.amount_cent,
		    err);
	return rc;
}

/* fx_after - what follows the commit: the refusal is logged */
static int
fx_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	(void)err;
	if (e->outcome == TLY_EFFECT_REFUSED)
		tly_logkv(ctx->log, TLY_LOG_WARN, "refund", "Stripe refused "
		    "the refund", "refund_id", e->id, "code", e->why.code,
		    NULL);
	return TLY_OK;
}

/* the refund: POST /v1/refunds, found among its PaymentIntent's refunds */
const tly_effect_kind tly_refund_effect = {
	.name = "refund",
	.table = "refunds",
	.state_col = "state",
	.open_sql = "'to_create', 'unknown'",
	.fresh = "to_create",
	.unknown = "unknown",
	.col = "",
	.gen_col = "key_gen",
	.key_prefix = "tally:refund",
	.object = "refund",
	.path = "/v1/refunds",
	.load = fx_load,
	.params = fx_params,
	.find = fx_find,
	.matches = fx_matches,
	.done_tx = fx_done_tx,
	.refused_tx = fx_refused_tx,
	.after = fx_after,
};

/*
 * tly_refund_record - record Stripe's refund 'obj' for refund 'id' (an
 * event, a refresh): booked when it succeeded, reversed when it failed
 * after booking
 */
int
tly_refund_record(tly_ctx *ctx, const char *id, const tly_jv *obj,
    tly_err *err)
{
	tly_effect e;

	return tly_effect_record(ctx, &tly_refund_effect, id, obj, NULL, &e,
	    err);
}

/*
 * tly_refund_finish - create refund 'id' at Stripe if not done (looking
 * first when it may have been sent), record and book what Stripe says.
 * TLY_UNKNOWN when Stripe did not answer; TLY_ERR with Stripe's answer
 * when it refused.
 */
int
tly_refund_finish(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_effect e;

	return tly_effect_run(ctx, &tly_refund_effect, id, NULL, &e, err);
}

/* --- the job ------------------------------------------------------ */

#define JOB_BATCH	50

/* refresh - ask Stripe about a pending refund */
static int
refresh(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const tly_jv *obj;
	const char *path;
	tly_refund r;
	int rc;

	rc = tly_refund_get(ctx, id, &r, err);
	if (rc || r.stripe_refund_id[0] == '\0')
		return rc;
	path = tly_stripe_path(ctx->pool, "/v1/refunds/", r.stripe_refund_id,
	    NULL);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "refund", &obj,
	    &resp, err);
	if (rc == TLY_OK)
		rc = tly_refund_record(ctx, id, obj, err);
	return rc;
}

/*
 * tly_job_refunds - finish refunds left behind (the effect engine's
 * finisher), and ask Stripe about refunds still pending
 */
int
tly_job_refunds(tly_ctx *ctx, tly_err *err)
{
	char ids[JOB_BATCH][40];
	int i, n, rc;
	tly_err e;

	rc = tly_effect_finish_due(ctx, &tly_refund_effect, NULL, &n, err);
	if (rc)
		return rc;
	rc = tly_db_ids(ctx->db, err, "SELECT id FROM refunds WHERE (state = "
	    "'pending' AND updated_at < NOW(3) - INTERVAL 60 SECOND) OR (state "
	    "= 'succeeded' AND booked = 0) ORDER BY updated_at LIMIT ?",
	    ids[0], sizeof(ids[0]), JOB_BATCH, &n);
	for (i = 0; rc == TLY_OK && i < n; i++) {
		tly_err_clear(&e);
		(void)refresh(ctx, ids[i], &e);
	}
	return rc;
}

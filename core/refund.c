/*
 * refund.c - refunds: request, Stripe, booking the reversal (refund.h)
 *
 * Owns the refunds table and the refund rows of shares.  Lock order:
 * payment -> refund (after checkout, as everywhere).
 *
 *   tly_refund_request   tx: lock the payment; refuse what exceeds the
 *                        remainder (409) before Stripe is ever called;
 *                        insert the refund (to_create) and raise
 *                        requested_refund_cent.  Then tly_refund_finish.
 *   tly_refund_finish    create the refund at Stripe exactly once
 *                        (tly_stripe_create_once, found again by
 *                        metadata[tally_id]); record Stripe's id and state;
 *                        book it when it succeeded.  Refused by Stripe ->
 *                        failed, and the requested amount is released.
 *   booking              tx: lock the payment and the refund; post the
 *                        reversal rows (tly_reversal) once; raise
 *                        refunded_cent; the payment becomes
 *                        partially_refunded or refunded.
 *   tly_job_refunds      ("refunds" job) finishes creations left
 *                        unknown or interrupted, and asks Stripe about
 *                        refunds still pending.
 *
 * API:	tly_reversal(), tly_refund_request(), tly_refund_insert(),
 *	tly_refund_finish(), tly_refund_get(), tly_job_refunds().
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "complete.h"
#include "refund.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"

/* --- the reversal engine ------------------------------------------ */

/* part - floor(v × r / a) in 128 bits, for 0 <= r <= a, v >= 0 */
static int64_t
part(int64_t v, int64_t r, int64_t a)
{
	return (int64_t)((__int128)v * r / a);
}

/*
 * tly_reversal - the rows of one refund (see refund.h): 'rows' gets at
 * most nparties + 1 rows, their count in '*n'; they sum to
 * -(after - before).
 */
int
tly_reversal(const tly_rev_in *in, tly_rev_row *rows, int *n, tly_err *err)
{
	int64_t tot_after = 0, tot_before = 0, d, talent_after, talent_before;
	int i;

	*n = 0;
	if (in->amount_cent <= 0 || in->before_cent < 0 ||
	    in->after_cent < in->before_cent ||
	    in->after_cent > in->amount_cent || in->nparties < 1 ||
	    in->fee_cent < 0)
		return tly_err_internal(err);
	for (i = 1; i < in->nparties; i++) {
		const tly_rev_party *p = &in->parties[i];

		if (p->share_cent < 0)
			return tly_err_internal(err);
		tot_after += part(p->share_cent, in->after_cent,
		    in->amount_cent);
		tot_before += part(p->share_cent, in->before_cent,
		    in->amount_cent);
		d = part(p->share_cent, in->after_cent, in->amount_cent) -
		    part(p->share_cent, in->before_cent, in->amount_cent);
		if (d == 0)
			continue;
		tly_strlcpy(rows[*n].account_id, p->account_id,
		    sizeof(rows[*n].account_id));
		tly_strlcpy(rows[*n].role, p->role, sizeof(rows[*n].role));
		rows[(*n)++].amount_cent = -d;
	}
	d = part(in->fee_cent, in->after_cent, in->amount_cent) -
	    part(in->fee_cent, in->before_cent, in->amount_cent);
	tot_after += part(in->fee_cent, in->after_cent, in->amount_cent);
	tot_before += part(in->fee_cent, in->before_cent, in->amount_cent);
	if (d != 0) {
		tly_strlcpy(rows[*n].account_id, in->bearer_id,
		    sizeof(rows[*n].account_id));
		tly_strlcpy(rows[*n].role, "STRIPE_FEE_KEPT",
		    sizeof(rows[*n].role));
		rows[(*n)++].amount_cent = -d;
	}
	talent_after = in->after_cent - tot_after;
	talent_before = in->before_cent - tot_before;
	d = talent_after - talent_before;
	if (d != 0) {
		tly_strlcpy(rows[*n].account_id, in->parties[0].account_id,
		    sizeof(rows[*n].account_id));
		tly_strlcpy(rows[*n].role, in->parties[0].role,
		    sizeof(rows[*n].role));
		rows[(*n)++].amount_cent = -d;
	}
	return TLY_OK;
}

/* --- rows --------------------------------------------------------- */

#define REFUND_COLS \
	"id, payment_id, currency, origin, reason, state, " \
	"IFNULL(stripe_refund_id, ''), amount_cent, booked, " \
	"FLOOR(UNIX_TIMESTAMP(created_at)) FROM refunds "

static int
load(tly_ctx *ctx, const char *id, int lock, tly_refund *r, tly_err *err)
{
	int64_t booked = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = tly_db_row(ctx->db, err, lock ? "SELECT " REFUND_COLS
	    "WHERE id = ? FOR UPDATE" : "SELECT " REFUND_COLS "WHERE id = ?",
	    "s>sssssssiii", id, r->id, sizeof(r->id), r->payment_id,
	    sizeof(r->payment_id), r->currency, sizeof(r->currency),
	    r->origin, sizeof(r->origin), r->reason, sizeof(r->reason),
	    r->state, sizeof(r->state), r->stripe_refund_id,
	    sizeof(r->stripe_refund_id), &r->amount_cent, &booked,
	    &r->created);
	r->booked = (int)booked;
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such refund: '%.40s'.", id);
	return rc;
}

/* tly_refund_get - refund 'id' */
int
tly_refund_get(tly_ctx *ctx, const char *id, tly_refund *r, tly_err *err)
{
	return load(ctx, id, 0, r, err);
}

/*
 * tly_refund_insert - inside a transaction that holds payment 'pay''s
 * row lock: a refund of 'amount' (0: all that is left), refused (409)
 * beyond the remainder; its id goes to 'id'.
 */
int
tly_refund_insert(tly_ctx *ctx, const char *pay, int64_t amount,
    const char *currency, const char *origin, const char *reason,
    const char *by, char *id, size_t idsz, tly_err *err)
{
	int64_t total = 0, requested = 0;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT amount_cent, "
	    "requested_refund_cent FROM payments WHERE id = ?", "s>ii", pay,
	    &total, &requested);
	if (rc)
		return rc;
	if (amount == 0)
		amount = total - requested;
	if (amount <= 0 || amount > total - requested)
		return tly_err_param(err, TLY_EK_CONFLICT,
		    "refund_exceeds_remaining", "amount_cent", "Only %lld "
		    "of %lld can still be refunded.",
		    (long long)(total - requested), (long long)total);
	if (tly_id_new(id, idsz, "rfd") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
	    "requested_refund_cent = requested_refund_cent + ? WHERE id = ?",
	    "is", amount, pay);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO refunds (id, "
		    "payment_id, amount_cent, currency, origin, reason, "
		    "requested_by, state) VALUES (?, ?, ?, ?, ?, ?, ?, "
		    "'to_create')", "ssissss", id, pay, amount, currency,
		    origin, reason, by);
	return rc;
}

typedef struct request_args {
	const char	*pay;
	int64_t		 amount;
	const char	*origin, *reason, *by;
	char		 id[40];
} request_args;

static int
request_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	request_args *a = arg;
	char status[24], cur[8];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT status, currency FROM payments "
	    "WHERE id = ? FOR UPDATE", "s>ss", a->pay, status, sizeof(status),
	    cur, sizeof(cur));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", a->pay);
	if (rc)
		return rc;
	if (strcmp(status, "disputed") == 0)
		return tly_err_param(err, TLY_EK_CONFLICT, "charge_disputed",
		    "id", "A disputed payment cannot be refunded.");
	return tly_refund_insert(ctx, a->pay, a->amount, cur, a->origin,
	    a->reason, a->by, a->id, sizeof(a->id), err);
}

/*
 * tly_refund_request - refund 'amount' (0: the remainder) of payment
 * 'pay' for 'reason'; the refund (maybe still pending at Stripe) goes to
 * 'out'.
 */
int
tly_refund_request(tly_ctx *ctx, const char *pay, int64_t amount,
    const char *reason, const char *origin, const char *by, tly_refund *out,
    tly_err *err)
{
	request_args a;
	int rc;

	if (amount < 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "amount_cent", "amount_cent must be positive.");
	memset(&a, 0, sizeof(a));
	a.pay = pay;
	a.amount = amount;
	a.reason = reason;
	a.origin = origin;
	a.by = by;
	rc = tly_tx_run(ctx, "refund.request", request_tx, &a, err);
	if (rc)
		return rc;
	rc = tly_refund_finish(ctx, a.id, err);
	if (rc && rc != TLY_UNKNOWN)
		return rc;
	tly_err_clear(err);
	return load(ctx, a.id, 0, out, err);
}

/* --- booking ------------------------------------------------------ */

/* parties - a payment's stakeholders, their net shares, and the fee */
static int
parties(tly_ctx *ctx, const char *pay, tly_rev_in *in, tly_err *err)
{
	const char *role;
	int64_t v;
	tly_q q;
	int rc;

	in->nparties = 1;
	if (tly_q_prep(ctx->db, &q, "SELECT account_id, role, "
	    "SUM(amount_cent) FROM shares WHERE payment_id = ? AND kind IN "
	    "('split', 'fee_adjustment') GROUP BY account_id, role", err))
		return q.rc;
	tly_q_str(&q, pay);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_rev_party *p;

		role = tly_q_col_str(&q, 1);
		v = tly_q_col_i64(&q, 2);
		if (strcmp(role, "STRIPE_FEE") == 0) {
			in->fee_cent += v;
			continue;
		}
		if (strcmp(role, "TALENT") == 0)
			p = &in->parties[0];
		else if (in->nparties < TLY_REV_MAX)
			p = &in->parties[in->nparties++];
		else
			continue;
		tly_strlcpy(p->account_id, tly_q_col_str(&q, 0),
		    sizeof(p->account_id));
		tly_strlcpy(p->role, role, sizeof(p->role));
		p->share_cent = v;
	}
	tly_q_done(&q);
	if (rc == TLY_OK && in->parties[0].account_id[0] == '\0')
		return tly_err_internal(err);		/* no talent row */
	return rc;
}

typedef struct book_args {
	const char	*id;
	int		 booked;
} book_args;

/* book_tx - post the reversal of refund a->id once */
static int
book_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	book_args *a = arg;
	tly_share_row srows[TLY_REV_MAX + 1];
	tly_rev_row rows[TLY_REV_MAX + 1];
	char bearer[40], status[24];
	tly_rev_in in;
	tly_refund r;
	int n, i, rc;

	a->booked = 0;
	rc = load(ctx, a->id, 0, &r, err);
	if (rc)
		return rc;
	memset(&in, 0, sizeof(in));
	rc = tly_db_row(ctx->db, err, "SELECT amount_cent, refunded_cent, "
	    "fee_bearer_account_id, status FROM payments WHERE id = ? FOR "
	    "UPDATE", "s>iiss", r.payment_id, &in.amount_cent, &in.before_cent,
	    bearer, sizeof(bearer), status, sizeof(status));
	if (rc == TLY_OK)
		rc = load(ctx, a->id, 1, &r, err);
	if (rc || r.booked)
		return rc;
	in.after_cent = in.before_cent + r.amount_cent;
	tly_strlcpy(in.bearer_id, bearer, sizeof(in.bearer_id));
	rc = parties(ctx, r.payment_id, &in, err);
	if (rc == TLY_OK)
		rc = tly_reversal(&in, rows, &n, err);
	if (rc)
		return rc;
	memset(srows, 0, sizeof(srows));
	for (i = 0; i < n; i++) {
		tly_strlcpy(srows[i].account_id, rows[i].account_id,
		    sizeof(srows[i].account_id));
		tly_strlcpy(srows[i].role, rows[i].role, sizeof(srows[i].role));
		srows[i].amount_cent = rows[i].amount_cent;
	}
	rc = tly_shares_insert(ctx, r.payment_id, r.currency, "refund", r.id,
	    srows, n, err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE payments SET "
		    "refunded_cent = ?, status = IF(? = amount_cent, "
		    "'refunded', 'partially_refunded') WHERE id = ?", "iis",
		    in.after_cent, in.after_cent, r.payment_id);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET "
		    "booked = 1, state = 'succeeded' WHERE id = ?", "s", r.id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "refund.booked", r.id, r.reason, err);
	a->booked = rc == TLY_OK;
	return rc;
}

static int
book(tly_ctx *ctx, const char *id, tly_err *err)
{
	book_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.id = id;
	rc = tly_tx_run(ctx, "refund.book", book_tx, &a, err);
	if (rc == TLY_OK && a.booked)
		tly_logkv(ctx->log, TLY_LOG_INFO, "refund", "refund booked",
		    "refund_id", id, NULL);
	return rc;
}

/* --- Stripe ------------------------------------------------------- */

typedef struct once_args {
	tly_refund	 r;
	char		 pi[72];
	char		 key_base[64];
} once_args;

static int
once_params(tly_stripe_once *o, tly_form *f)
{
	once_args *a = o->arg;

	tly_form_str(f, "payment_intent", a->pi);
	tly_form_i64(f, "amount", a->r.amount_cent);
	tly_form_str(f, "reason", "requested_by_customer");
	tly_form_str(f, "metadata[tally_id]", a->r.id);
	tly_form_str(f, "metadata[tally_refund_id]", a->r.id);
	tly_form_str(f, "metadata[tally_reason]", a->r.reason);
	return tly_form_done(f);
}

static int
once_lookup(tly_stripe_once *o, tly_stripe *s, tly_pool *pool,
    const tly_jv **found, tly_err *err)
{
	once_args *a = o->arg;

	return tly_stripe_find_by_metadata(s, pool, "/v1/refunds", "refund",
	    "tally_id", a->r.id, a->r.created - 600, found, err);
}

static int
once_bump(tly_stripe_once *o, int gen, tly_err *err)
{
	once_args *a = o->arg;
	tly_ctx *ctx = o->ctx;

	return tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET key_gen = ? "
	    "WHERE id = ? AND key_gen < ?", "isi", (int64_t)gen, a->r.id,
	    (int64_t)gen);
}

/* record - Stripe's refund 'obj' for refund 'id'; book it if succeeded */
static int
record(tly_ctx *ctx, const char *id, const tly_jv *obj, tly_err *err)
{
	tly_st_refund sr;
	int rc;

	if (tly_st_refund_parse(obj, &sr) != TLY_OK || sr.status == NULL)
		return tly_err_internal(err);
	if (strcmp(sr.status, "failed") == 0 ||
	    strcmp(sr.status, "canceled") == 0)
		return tly_db_exec(ctx->db, err, NULL, "UPDATE refunds r JOIN "
		    "payments p ON p.id = r.payment_id SET r.state = 'failed', "
		    "r.stripe_refund_id = ?, r.last_error = ?, "
		    "p.requested_refund_cent = p.requested_refund_cent - "
		    "r.amount_cent WHERE r.id = ? AND r.state <> 'failed' AND "
		    "r.booked = 0", "sss", sr.id, sr.failure_reason, id);
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET "
	    "stripe_refund_id = ?, state = IF(state = 'succeeded', state, ?) "
	    "WHERE id = ?", "sss", sr.id,
	    strcmp(sr.status, "succeeded") == 0 ? "succeeded" : "pending", id);
	if (rc == TLY_OK && strcmp(sr.status, "succeeded") == 0)
		rc = book(ctx, id, err);
	return rc;
}

/* refused - Stripe will not refund it: failed, the amount released */
static int
refused(tly_ctx *ctx, const char *id, const tly_err *why, tly_err *err)
{
	tly_logkv(ctx->log, TLY_LOG_WARN, "refund", "Stripe refused the "
	    "refund", "refund_id", id, "code", why->code, NULL);
	return tly_db_exec(ctx->db, err, NULL, "UPDATE refunds r JOIN "
	    "payments p ON p.id = r.payment_id SET r.state = 'failed', "
	    "r.last_error = ?, p.requested_refund_cent = "
	    "p.requested_refund_cent - r.amount_cent WHERE r.id = ? AND "
	    "r.state IN ('to_create', 'unknown')", "ss", why->code, id);
}

/*
 * tly_refund_finish - create refund 'id' at Stripe if not done, record
 * and book what Stripe says.  TLY_UNKNOWN when Stripe did not answer.
 */
int
tly_refund_finish(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_once o;
	const tly_jv *obj;
	once_args a;
	tly_err why;
	int64_t gen = 1;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = load(ctx, id, 0, &a.r, err);
	if (rc)
		return rc;
	if (strcmp(a.r.state, "to_create") != 0 &&
	    strcmp(a.r.state, "unknown") != 0)
		return TLY_OK;
	rc = tly_db_row(ctx->db, err, "SELECT p.pi_id, r.key_gen FROM refunds "
	    "r JOIN payments p ON p.id = r.payment_id WHERE r.id = ?",
	    "s>si", id, a.pi, sizeof(a.pi), &gen);
	if (rc)
		return rc;
	snprintf(a.key_base, sizeof(a.key_base), "tally:refund:%s", id);
	memset(&o, 0, sizeof(o));
	o.path = "/v1/refunds";
	o.object = "refund";
	o.key_base = a.key_base;
	o.generation = (int)gen;
	o.params = once_params;
	o.lookup = once_lookup;
	o.bump = once_bump;
	o.arg = &a;
	o.ctx = ctx;
	rc = tly_stripe_create_once(ctx->stripe, ctx->pool, &o, &obj, &resp,
	    err);
	if (rc == TLY_UNKNOWN) {
		tly_err_clear(&why);
		(void)tly_db_exec(ctx->db, &why, NULL, "UPDATE refunds SET "
		    "state = 'unknown' WHERE id = ? AND state = 'to_create'",
		    "s", id);
		return rc;
	}
	if (rc) {
		why = *err;
		tly_err_clear(err);
		(void)refused(ctx, id, &why, err);
		*err = why;
		return TLY_ERR;
	}
	return record(ctx, id, obj, err);
}

/* --- the job ------------------------------------------------------ */

#define JOB_BATCH	50

static int
due(tly_ctx *ctx, const char *sql, char (*ids)[40], int *n, tly_err *err)
{
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, sql, err))
		return q.rc;
	tly_q_i64(&q, JOB_BATCH);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && *n < JOB_BATCH)
		tly_strlcpy(ids[(*n)++], tly_q_col_str(&q, 0), 40);
	tly_q_done(&q);
	return rc == TLY_ROW ? TLY_OK : rc;
}

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

	rc = load(ctx, id, 0, &r, err);
	if (rc || r.stripe_refund_id[0] == '\0')
		return rc;
	path = tly_stripe_path(ctx->pool, "/v1/refunds/", r.stripe_refund_id,
	    NULL);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	rc = tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "refund", &obj,
	    &resp, err);
	if (rc == TLY_OK)
		rc = record(ctx, id, obj, err);
	return rc;
}

/* tly_job_refunds - finish refunds left behind (see the top of the file) */
int
tly_job_refunds(tly_ctx *ctx, tly_err *err)
{
	char ids[JOB_BATCH][40];
	int i, n, rc;
	tly_err e;

	rc = due(ctx, "SELECT id FROM refunds WHERE state IN ('to_create', "
	    "'unknown') AND updated_at < NOW(3) - INTERVAL 20 SECOND ORDER BY "
	    "updated_at LIMIT ?", ids, &n, err);
	for (i = 0; rc == TLY_OK && i < n; i++) {
		tly_err_clear(&e);
		(void)tly_refund_finish(ctx, ids[i], &e);
	}
	if (rc)
		return rc;
	rc = due(ctx, "SELECT id FROM refunds WHERE (state = 'pending' AND "
	    "updated_at < NOW(3) - INTERVAL 60 SECOND) OR (state = "
	    "'succeeded' AND booked = 0) ORDER BY updated_at LIMIT ?", ids, &n,
	    err);
	for (i = 0; rc == TLY_OK && i < n; i++) {
		tly_err_clear(&e);
		(void)refresh(ctx, ids[i], &e);
	}
	return rc;
}

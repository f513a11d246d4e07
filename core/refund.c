/*
 * refund.c - refunds: the request (refund.h)
 *
 * Owns the refunds table (this file, refund_book.c and refund_events.c,
 * one module: refund.h); the refund rows of shares go through shares.c,
 * the payment's amounts through payments.c.  Lock order: payment ->
 * refund (after checkout, as everywhere).
 *
 *   tly_refund_request   tx: lock the payment; refuse what exceeds the
 *                        remainder (409) before Stripe is ever called;
 *                        insert the refund (to_create) and raise
 *                        requested_refund_cent.  Then tly_refund_finish.
 *   tly_refund_finish    the refund effect (effect.c, tly_refund_effect):
 *                        POST /v1/refunds once under "tally:refund:<id>:
 *                        g<gen>"; a finisher looks first, among the
 *                        refunds of the payment's PaymentIntent, by
 *                        metadata[tally_id].  Refused by Stripe -> failed,
 *                        and the requested amount is released.
 *   recording, booking, failure and the "refunds" job: refund_book.c.
 *
 * tly_refund_admin() is the admin API's request (the support role's
 * limits, per payment cumulatively and per admin and day, checked under
 * the lock); tly_refund_record() is how refund
 * events (refund_events.c) hand Stripe's refund over.
 *
 * API:	tly_refund_request(), tly_refund_admin(), tly_refund_list(),
 *	tly_refund_insert(), tly_refund_get(), tly_refund_lock().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "idem.h"
#include "payments.h"
#include "refund.h"
#include "tly_str.h"
#include "tx.h"

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

/* tly_refund_lock - refund 'id', FOR UPDATE (inside a transaction) */
int
tly_refund_lock(tly_ctx *ctx, const char *id, tly_refund *r, tly_err *err)
{
	return load(ctx, id, 1, r, err);
}

/*
 * tly_refund_insert - inside a transaction that holds payment 'pay''s
 * row lock: a refund of 'amount' (0: all that is left), refused (409)
 * beyond the remainder; its id goes to 'id'.
 */
int
tly_refund_insert(tly_ctx *ctx, const char *pay, int64_t amount_cent,
    const char *currency, const char *origin, const char *reason,
    const char *by, char *id, size_t idsz, tly_err *err)
{
	int64_t total_cent = 0, requested_cent = 0, disputed_cent = 0;
	int64_t left_cent;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT amount_cent, "
	    "requested_refund_cent, disputed_cent FROM payments WHERE id = ?",
	    "s>iii", pay, &total_cent, &requested_cent, &disputed_cent);
	if (rc)
		return rc;
	left_cent = total_cent - requested_cent - disputed_cent;
	if (amount_cent == 0)
		amount_cent = left_cent;
	if (amount_cent <= 0 || amount_cent > left_cent)
		return tly_err_param(err, TLY_EK_CONFLICT,
		    "refund_exceeds_remaining", "amount_cent", "Only %lld "
		    "of %lld can still be refunded.",
		    (long long)(left_cent > 0 ? left_cent : 0),
		    (long long)total_cent);
	if (tly_id_new(id, idsz, "rfd") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_payments_request(ctx, pay, amount_cent, err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO refunds (id, "
		    "payment_id, amount_cent, currency, origin, reason, "
		    "requested_by, state) VALUES (?, ?, ?, ?, ?, ?, ?, "
		    "'to_create')", "ssissss", id, pay, amount_cent, currency,
		    origin, reason, by);
	return rc;
}

typedef struct request_args {
	const char		*pay;
	int64_t			 amount_cent;	/* 0: all that is left */
	const char		*origin, *reason, *by;
	const tly_principal	*actor;		/* an admin: audited */
	int			 limited;	/* the support role's limit */
	const tly_idem_row	*key;		/* the client's, or NULL */
	char			 id[40];
} request_args;

/*
 * support_limits - may the support role ('a->limited') refund 'amount'
 * more of a payment that has 'requested' refunded already?  The
 * currency's refund_support_limit_cent bounds the payment's refunds
 * together (one refund at a time under the limit added up to any sum),
 * refund_support_daily_cent the admin's refunds of the last 24 hours in
 * that currency.  Under the payment's lock, then the admin's row (lock
 * order: payment, then admin_users): two refunds of one admin on two
 * payments are counted one after the other.
 */
static int
support_limits(tly_ctx *ctx, const request_args *a, const tly_currency *cur,
    int64_t requested_cent, int64_t amount_cent, tly_err *err)
{
	int64_t today_cent = 0;
	char id[40];
	int rc;

	if (cur == NULL || requested_cent > cur->refund_support_limit_cent ||
	    amount_cent > cur->refund_support_limit_cent - requested_cent)
		return tly_err_param(err, TLY_EK_FORBIDDEN,
		    "refund_limit_exceeded", "amount_cent", "Your role may "
		    "refund at most %lld of a payment; ask finance.",
		    (long long)(cur ? cur->refund_support_limit_cent : 0));
	if (a->actor != NULL && a->actor->kind == TLY_PK_ADMIN) {
		rc = tly_db_row(ctx->db, err, "SELECT id FROM admin_users "
		    "WHERE id = ? FOR UPDATE", "s>s", a->actor->id, id,
		    sizeof(id));
		if (rc && rc != TLY_NOTFOUND)
			return rc;
	}
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(SUM(amount_cent), 0) "
	    "FROM refunds WHERE requested_by = ? AND currency = ? AND origin "
	    "= 'tally' AND state <> 'failed' AND created_at > NOW(3) - "
	    "INTERVAL 1 DAY", "ss>i", a->by, cur->code, &today_cent);
	if (rc)
		return rc;
	if (today_cent > cur->refund_support_daily_cent ||
	    amount_cent > cur->refund_support_daily_cent - today_cent)
		return tly_err_param(err, TLY_EK_FORBIDDEN,
		    "refund_daily_limit_exceeded", "amount_cent", "Your role "
		    "may refund at most %lld a day; ask finance.",
		    (long long)cur->refund_support_daily_cent);
	return TLY_OK;
}

/*
 * request_tx - under the payment's lock: refused while disputed, above
 * the remainder, or (a->limited) above the support role's limits
 * (support_limits);
 * else the refund row, keeping the client's key (a->key).  A duplicate
 * key (a concurrent takeover made the row first) is TLY_CONFLICT.
 */
TLY_TX_TYPED(request_tx, request_args)

static int
request_tx(tly_ctx *ctx, request_args *a, tly_err *err)
{
	int64_t total_cent = 0, requested_cent = 0, disputed_cent = 0;
	int64_t amount_cent;
	const tly_currency *cur;
	char status[24], code[8];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT status, currency, amount_cent, "
	    "requested_refund_cent, disputed_cent FROM payments WHERE id = ? "
	    "FOR UPDATE", "s>ssiii", a->pay, status, sizeof(status), code,
	    sizeof(code), &total_cent, &requested_cent, &disputed_cent);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", a->pay);
	if (rc)
		return rc;
	if (strcmp(status, "disputed") == 0 ||
	    strcmp(status, "dispute_lost") == 0)
		return tly_err_param(err, TLY_EK_CONFLICT, "charge_disputed",
		    "id", "A disputed payment cannot be refunded.");
	amount_cent = a->amount_cent ? a->amount_cent :
	    total_cent - requested_cent - disputed_cent;
	cur = tly_config_currency(ctx->cfg, code);
	if (a->limited && amount_cent > 0) {
		rc = support_limits(ctx, a, cur, requested_cent, amount_cent,
		    err);
		if (rc)
			return rc;
	}
	rc = tly_refund_insert(ctx, a->pay, a->amount_cent, code, a->origin,
	    a->reason, a->by, a->id, sizeof(a->id), err);
	if (rc == TLY_OK && a->key)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE refunds SET "
		    "request_key = ?, request_sha256 = ? WHERE id = ?", "sss",
		    a->key->key, a->key->sha256, a->id);
	if (rc == TLY_OK && a->actor)
		rc = tly_audit(ctx, a->actor, "refund.create", a->id,
		    a->reason, err);
	return rc;
}

/*
 * keyed - the refund that keeps a->key, into 'out': TLY_OK, TLY_NOTFOUND
 * (none yet), or an error (422 when the key named another request)
 */
static int
keyed(tly_ctx *ctx, request_args *a, tly_refund *out, tly_err *err)
{
	int rc;

	if (a->key == NULL)
		return TLY_NOTFOUND;
	rc = tly_idem_row_find(ctx, "refunds", a->key, a->id, sizeof(a->id),
	    err);
	if (rc == TLY_OK)
		rc = load(ctx, a->id, 0, out, err);
	if (rc == TLY_OK)
		out->existing = 1;
	return rc;
}

/*
 * request - see tly_refund_request(); 'limited' as in request_args.
 * Once the refund row is committed the answer is that row, whatever the
 * later steps did (the refunds job finishes them), except when Stripe
 * refused it (the row is failed): then Stripe's error.  A request whose
 * key a committed row keeps (a retry, a takeover) answers that row and
 * calls nobody.
 */
static int
request(tly_ctx *ctx, request_args *a, tly_refund *out, tly_err *err)
{
	tly_err why;
	int rc;

	if (a->amount_cent < 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "amount_cent", "amount_cent must be positive.");
	rc = keyed(ctx, a, out, err);
	if (rc != TLY_NOTFOUND)
		return rc;
	tly_err_clear(err);
	rc = request_tx_run(ctx, "refund.request", a, err);
	if (rc == TLY_CONFLICT && a->key) {	/* a takeover was first */
		tly_err_clear(err);
		rc = keyed(ctx, a, out, err);
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	}
	if (rc)
		return rc;
	rc = tly_refund_finish(ctx, a->id, err);
	why = *err;
	tly_err_clear(err);
	if (load(ctx, a->id, 0, out, err) != TLY_OK)
		return TLY_ERR;		/* the retry finds the row */
	if (rc && rc != TLY_UNKNOWN && strcmp(out->state, "failed") == 0 &&
	    !out->booked) {
		*err = why;		/* Stripe refused it */
		return TLY_ERR;
	}
	if (rc && rc != TLY_UNKNOWN)
		tly_logkv(ctx->log, TLY_LOG_WARN, "refund", "refund requested; "
		    "its last step failed and is left to the refunds job",
		    "refund_id", a->id, "code", why.code, NULL);
	return TLY_OK;
}

/*
 * tly_refund_request - refund 'amount' (0: the remainder) of payment
 * 'pay' for 'reason'; the refund (maybe still pending at Stripe) goes to
 * 'out'.
 */
int
tly_refund_request(tly_ctx *ctx, const char *pay, int64_t amount_cent,
    const char *reason, const char *origin, const char *by, tly_refund *out,
    tly_err *err)
{
	request_args a;

	memset(&a, 0, sizeof(a));
	a.pay = pay;
	a.amount_cent = amount_cent;
	a.reason = reason;
	a.origin = origin;
	a.by = by;
	return request(ctx, &a, out, err);
}

/*
 * tly_refund_admin - an admin's refund: as tly_refund_request() (origin
 * "tally", requested by 'by'); 'limited' (the support role) refuses
 * (403) a refund that takes the payment's refunds above the currency's
 * refund_support_limit_cent, or the admin's refunds of the last day
 * above its refund_support_daily_cent.  'key'
 * (NULL: none) is the admin's Idempotency-Key: the refund keeps it, and
 * a request with a key a refund keeps answers that refund (idem.h).
 */
int
tly_refund_admin(tly_ctx *ctx, const char *pay, int64_t amount_cent,
    const char *reason, const tly_principal *by, int limited,
    const tly_idem_row *key, tly_refund *out, tly_err *err)
{
	request_args a;

	memset(&a, 0, sizeof(a));
	a.pay = pay;
	a.amount_cent = amount_cent;
	a.reason = reason;
	a.origin = "tally";
	a.by = tly_actor_name(by);
	a.actor = by;
	a.limited = limited;
	a.key = key;
	return request(ctx, &a, out, err);
}

/*
 * tly_refund_list - the refunds of payment 'pay', oldest first (at most
 * TLY_REFUND_LIST_MAX, in the context's arena); TLY_NOTFOUND (404) when
 * there is no such payment.
 */
int
tly_refund_list(tly_ctx *ctx, const char *pay, tly_refund **out, int *n,
    tly_err *err)
{
	tly_refund *rows, *r;
	char id[40];
	tly_q q;
	int rc;

	*n = 0;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM payments WHERE id = ?",
	    "s>s", pay, id, sizeof(id));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such payment: '%.40s'.", pay);
	if (rc)
		return rc;
	rows = tly_pcalloc(ctx->pool, TLY_REFUND_LIST_MAX * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT " REFUND_COLS "WHERE payment_id "
	    "= ? ORDER BY id LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, pay);
	tly_q_i64(&q, TLY_REFUND_LIST_MAX);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && *n < TLY_REFUND_LIST_MAX) {
		const char *v;

		r = &rows[(*n)++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		tly_strlcpy(r->payment_id, tly_q_col_str(&q, 1),
		    sizeof(r->payment_id));
		tly_strlcpy(r->currency, tly_q_col_str(&q, 2),
		    sizeof(r->currency));
		tly_strlcpy(r->origin, tly_q_col_str(&q, 3), sizeof(r->origin));
		tly_strlcpy(r->reason, tly_q_col_str(&q, 4), sizeof(r->reason));
		tly_strlcpy(r->state, tly_q_col_str(&q, 5), sizeof(r->state));
		v = tly_q_col_str(&q, 6);
		tly_strlcpy(r->stripe_refund_id, v ? v : "",
		    sizeof(r->stripe_refund_id));
		r->amount_cent = tly_q_col_i64(&q, 7);
		r->booked = (int)tly_q_col_i64(&q, 8);
		r->created = tly_q_col_i64(&q, 9);
	}
	tly_q_done(&q);
	*out = rows;
	return rc == TLY_ROW ? TLY_OK : rc;
}

/*
 * refund_events.c - Stripe's refund events: Dashboard refunds, refunds
 * that succeed or fail later (refund.h)
 *
 * Part of the refund module: writes the refunds table with refund.c and
 * refund_book.c (a refund made at Stripe gets its row here), the
 * payment's requested amount through payments.c.
 *
 * charge.refunded, refund.created, refund.updated, refund.failed and
 * charge.refund.updated all mean "the refunds of this charge changed".
 * Their objects are snapshots (and since API 2026-10-28 a Charge no
 * longer embeds its refunds), so Tally trusts none of them: it lists the
 * charge's refunds from Stripe (GET /v1/refunds?charge=…, every page; no
 * transaction is open meanwhile) and records each one:
 *
 *   a refund Tally made            found by stripe_refund_id, else by
 *                                  metadata[tally_id] (the refund row's
 *                                  id, sent at creation, even before Tally
 *                                  recorded Stripe's id);
 *   a refund made elsewhere        (the Dashboard) gets its own refunds
 *                                  row, origin "stripe", inserted under the
 *                                  payment's lock; the unique key on
 *                                  stripe_refund_id makes a concurrent or
 *                                  repeated event find it instead;
 *
 * then tly_refund_record(): booked once when it succeeded (the booking
 * checks 'booked' under the payment's and the refund's locks), reversed
 * once (refund_failed rows) when it failed after it was booked.  The
 * same events delivered twice therefore count a refund once.
 *
 * An event about a PaymentIntent of Tally's whose completion has not
 * committed yet (a Dashboard refund before the browser came back, events
 * out of order) is not ignored: it fails retryably (409
 * payment_not_completed, as charge.updated does) and the "webhooks" job
 * tries it again; the completion itself calls tly_refund_event() on the
 * charge when its facts show a refund (complete.c, early_reversals).
 *
 * API:	tly_refund_event().
 */
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "payments.h"
#include "refund.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define LIST_PAGES	20

typedef struct ext_args {
	const char		*pay;
	const tly_st_refund	*sr;
	char			 id[40];
} ext_args;

/* ext_tx - a refund made outside Tally: its row (origin stripe) */
TLY_TX_TYPED(ext_tx, ext_args)

static int
ext_tx(tly_ctx *ctx, ext_args *a, tly_err *err)
{
	char cur[8];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT currency FROM payments WHERE "
	    "id = ? FOR UPDATE", "s>s", a->pay, cur, sizeof(cur));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT id FROM refunds WHERE "
		    "stripe_refund_id = ?", "s>s", a->sr->id, a->id,
		    sizeof(a->id));
	if (rc != TLY_NOTFOUND)
		return rc;			/* found meanwhile, or failed */
	tly_err_clear(err);
	if (tly_id_new(a->id, sizeof(a->id), "rfd") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_payments_request(ctx, a->pay, a->sr->amount_cent, err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO refunds (id, "
		    "payment_id, amount_cent, currency, origin, reason, state, "
		    "stripe_refund_id) VALUES (?, ?, ?, ?, 'stripe', ?, "
		    "'pending', ?)", "ssisss", a->id, a->pay,
		    a->sr->amount_cent, cur, a->sr->reason ? a->sr->reason :
		    "refunded at Stripe", a->sr->id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "refund.external", a->id, a->sr->id,
		    err);
	return rc;
}

/* ours - the refund row of Stripe's refund 'sr' of payment 'pay' */
static int
ours(tly_ctx *ctx, const char *pay, const tly_st_refund *sr, char *id,
    size_t sz, tly_err *err)
{
	const char *tid;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM refunds WHERE "
	    "stripe_refund_id = ? AND payment_id = ?", "ss>s", sr->id, pay, id,
	    sz);
	if (rc != TLY_NOTFOUND)
		return rc;
	tly_err_clear(err);
	tid = tly_st_metadata(sr->metadata, "tally_id");
	if (tid == NULL)
		return TLY_NOTFOUND;
	return tly_db_row(ctx->db, err, "SELECT id FROM refunds WHERE id = ? "
	    "AND payment_id = ? AND (stripe_refund_id IS NULL OR "
	    "stripe_refund_id = ?)", "sss>s", tid, pay, sr->id, id, sz);
}

/* sync - record Stripe's refund 'obj' of payment 'pay' */
static int
sync(tly_ctx *ctx, const char *pay, const tly_jv *obj, tly_err *err)
{
	tly_st_refund sr;
	ext_args a;
	char id[40];
	int rc;

	if (tly_st_refund_parse(obj, &sr) != TLY_OK || sr.id == NULL ||
	    sr.status == NULL || sr.amount_cent <= 0)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected refund in Stripe's list.");
	rc = ours(ctx, pay, &sr, id, sizeof(id), err);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		if (strcmp(sr.status, "failed") == 0 ||
		    strcmp(sr.status, "canceled") == 0)
			return TLY_OK;		/* never moved money */
		memset(&a, 0, sizeof(a));
		a.pay = pay;
		a.sr = &sr;
		rc = ext_tx_run(ctx, "refund.external", &a, err);
		if (rc == TLY_CONFLICT) {	/* inserted concurrently */
			tly_err_clear(err);
			rc = ours(ctx, pay, &sr, a.id, sizeof(a.id), err);
		}
		if (rc)
			return rc;
		tly_strlcpy(id, a.id, sizeof(id));
	} else if (rc)
		return rc;
	return tly_refund_record(ctx, id, obj, err);
}

/*
 * tly_refund_payment_of - the payment of charge 'charge' (or of
 * PaymentIntent 'pi' when the charge is not recorded): TLY_NOTFOUND when
 * it is not Tally's; a retryable TLY_ERR (409 payment_not_completed)
 * when a checkout of Tally's has that PaymentIntent but its completion
 * has not committed yet (the event came first: the "webhooks" job tries
 * it again, and the completion books what it finds, complete.h).
 */
int
tly_refund_payment_of(tly_ctx *ctx, const char *charge, const char *pi,
    char *pay, size_t sz, tly_err *err)
{
	char chk[40];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM payments WHERE "
	    "charge_id = ? OR pi_id = ? ORDER BY charge_id = ? DESC LIMIT 1",
	    "sss>s", charge ? charge : "", pi ? pi : "", charge ? charge : "",
	    pay, sz);
	if (rc != TLY_NOTFOUND || pi == NULL)
		return rc;
	tly_err_clear(err);
	rc = tly_db_row(ctx->db, err, "SELECT id FROM checkouts WHERE "
	    "pi_id = ?", "s>s", pi, chk, sizeof(chk));
	if (rc == TLY_OK)
		return tly_err_set(err, TLY_EK_CONFLICT,
		    "payment_not_completed", "The payment is not completed "
		    "yet.");
	return rc;
}

typedef struct sync_args {
	tly_ctx		*ctx;
	const char	*pay;
} sync_args;

/* sync_one - one refund of the charge's list, recorded (sync) */
static int
sync_one(void *arg, const tly_jv *obj, int *stop, tly_err *err)
{
	sync_args *a = arg;

	(void)stop;
	return sync(a->ctx, a->pay, obj, err);
}

/*
 * tly_refund_event - a refund event about charge 'cf' (its object a
 * refund or a charge, facts.h): every refund of the charge recorded (see
 * the top of the file).  '*status' becomes "ignored" when the charge is
 * not Tally's; a payment not completed yet is a retryable error.
 */
int
tly_refund_event(tly_ctx *ctx, const tly_charge_facts *cf,
    const char **status, tly_err *err)
{
	const char *charge = cf->charge_id, *pi = cf->pi_id;
	tly_stripe_list l = { "/v1/refunds", "charge", NULL, -1, LIST_PAGES };
	sync_args a;
	char pay[40];
	int rc;

	if (charge == NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	rc = tly_refund_payment_of(ctx, charge, pi, pay, sizeof(pay), err);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		*status = "ignored";
		return TLY_OK;
	}
	if (rc)
		return rc;
	l.value = charge;
	a.ctx = ctx;
	a.pay = pay;
	rc = tly_stripe_each(ctx->stripe, ctx->pool, &l, sync_one, &a, err);
	if (rc == TLY_TOO_LARGE)
		return tly_err_set(err, TLY_EK_UPSTREAM, "too_many_refunds",
		    "The charge has more refunds than Tally reads.");
	return rc;
}

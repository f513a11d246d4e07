/*
 * checkout_pi.c - a checkout's PaymentIntent: created once, cancelled,
 * the stock given back (checkout.h; docs/architecture.md, "One engine
 * for Stripe effects")
 *
 * The other half of the checkout module (checkout.c creates, reads and
 * expires checkouts): the two effects of a checkout's PaymentIntent on
 * its row (effect.c) and the release of its reserved stock.  Owns, with
 * checkout.c, the checkouts table; the stock through catalog.c.  Lock
 * order, as everywhere: product -> checkout -> payment.
 *
 *   tly_checkout_pi_effect      POST /v1/payment_intents, key
 *       tally:pi:<checkout>:g<gen>, found again by its stored id or the
 *       search API on metadata['tally_id']; recorded (pi_done_tx), or
 *       the checkout fails and its stock comes back (refused), or a
 *       PaymentIntent that cannot be recorded is cancelled.
 *   tly_checkout_cancel_effect  POST /v1/payment_intents/{pi}/cancel,
 *       looking first: canceled -> the stock back; succeeded meanwhile
 *       -> completed by the hook of the checkouts job (complete.c);
 *       Stripe has none -> 'missing', terminal, an ALERT, the stock back.
 *   tly_checkout_release        the stock back once the PaymentIntent
 *       is settled (idempotent).
 *
 * API:	tly_checkout_pi_effect, tly_checkout_cancel_effect,
 *	tly_checkout_finish_pi(), tly_checkout_cancel_pi(),
 *	tly_checkout_release().
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "checkout.h"
#include "effect.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

/* --- the PaymentIntent (effect.c) ---------------------------------- */

/*
 * The checkout's row carries two effects of its PaymentIntent, never at
 * once: creating it (pi_state to_create/unknown; key tally:pi:<checkout>,
 * generation pi_key_gen) and cancelling it (pi_state to_cancel; key
 * tally:pi_cancel:<checkout>, generation pi_cancel_gen).  Their common
 * columns are the pi_* ones (migration 014).
 */

/* a checkout as its PaymentIntent's effects see it */
typedef struct pi_row {
	tly_checkout	 c;
	int		 recorded;	/* done_tx: the checkout has it now */
} pi_row;

/* pi_load - the checkout; a closed one only looks for its PaymentIntent */
static int
pi_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	pi_row *x;
	int rc;

	x = tly_pcalloc(ctx->pool, sizeof(*x));
	if (x == NULL)
		return tly_err_internal(err);
	rc = tly_checkout_read(ctx, e->id, &x->c, err);
	if (rc)
		return rc;
	e->row = x;
	e->look_only = !tly_checkout_is_open(x->c.status);
	tly_strlcpy(e->target, x->c.pi_id, sizeof(e->target));
	return TLY_OK;
}

static int
pi_params(const tly_effect *e, tly_form *f)
{
	const pi_row *x = e->row;

	tly_form_i64(f, "amount", x->c.amount_cent);
	tly_form_str(f, "currency", x->c.currency);
	tly_form_str(f, "automatic_payment_methods[enabled]", "true");
	tly_form_str(f, "transfer_group", x->c.id);
	tly_form_str(f, "metadata[checkout_id]", x->c.id);
	tly_form_str(f, "metadata[tally_id]", x->c.id);
	tly_form_str(f, "metadata[buyer_account_id]", x->c.buyer_id);
	tly_form_str(f, "description", x->c.product_id);
	if (x->c.receipt_email[0])
		tly_form_str(f, "receipt_email", x->c.receipt_email);
	return tly_form_done(f);
}

/* pi_get - PaymentIntent 'pi' at Stripe (a 404 is the caller's to see) */
static int
pi_get(tly_ctx *ctx, const char *pi, const tly_jv **obj, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	const char *path;

	path = tly_stripe_path(ctx->pool, "/v1/payment_intents/", pi, NULL);
	if (path == NULL)
		return tly_err_internal(err);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	return tly_stripe_fetch(ctx->stripe, ctx->pool, &rq, "payment_intent",
	    obj, &resp, err);
}

/*
 * pi_find - the checkout's PaymentIntent: by the stored id, else by the
 * search API on metadata['tally_id'] (exact; its index lags Stripe by up
 * to a minute, so the finisher waits 90 s after the checkout was made)
 */
static int
pi_find(tly_ctx *ctx, const tly_effect *e, const tly_jv **found,
    tly_err *err)
{
	const pi_row *x = e->row;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_list list;
	const tly_jv *p;
	const char *v;
	char query[96];
	tly_form f;
	int rc;

	*found = NULL;
	if (x->c.pi_id[0])
		return pi_get(ctx, x->c.pi_id, found, err);
	snprintf(query, sizeof(query), "metadata['tally_id']:'%s'", x->c.id);
	tly_form_init(&f);
	tly_form_str(&f, "query", query);
	tly_form_i64(&f, "limit", 10);
	rq = (tly_stripe_req){ "GET", "/v1/payment_intents/search", &f, NULL,
	    NULL };
	rc = tly_stripe_call(ctx->stripe, ctx->pool, &rq, &resp, err);
	tly_form_free(&f);
	if (rc)
		return rc;
	if (tly_st_list_parse(resp.json, &list) != TLY_OK)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected search reply.");
	for (p = list.data->child; p; p = p->next) {
		v = tly_st_metadata(tly_json_get(p, "metadata"), "tally_id");
		if (v && strcmp(v, x->c.id) == 0) {
			*found = p;
			return TLY_OK;
		}
	}
	return TLY_NOTFOUND;
}

/* pi_matches - the PaymentIntent is the checkout's: amount, currency */
static int
pi_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const pi_row *x = e->row;
	tly_st_pi pi;
	const char *v;

	(void)ctx;
	if (tly_st_pi_parse(obj, &pi) != TLY_OK || pi.id == NULL ||
	    pi.client_secret == NULL || pi.currency == NULL)
		return tly_err_internal(err);
	v = tly_st_metadata(pi.metadata, "tally_id");
	if (v == NULL || strcmp(v, x->c.id) != 0 ||
	    pi.amount_cent != x->c.amount_cent ||
	    strcmp(pi.currency, x->c.currency) != 0)
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * pi_done_tx - step 3: the PaymentIntent belongs to the checkout now, or,
 * when the checkout is no longer open, is to be cancelled
 */
static int
pi_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	pi_row *x = e->row;
	tly_st_pi pi;
	tly_checkout c;
	int rc;

	x->recorded = 0;
	if (tly_ctx_fault(ctx, "checkout.record_pi") == TLY_FAULT_FAIL)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "Injected failure recording the payment.");
	if (tly_st_pi_parse(e->obj, &pi) != TLY_OK || pi.id == NULL)
		return tly_err_internal(err);
	rc = tly_checkout_lock(ctx, e->id, &c, err);
	if (rc)
		return rc;
	if (strcmp(c.pi_state, "to_create") != 0 &&
	    strcmp(c.pi_state, "unknown") != 0) {
		x->recorded = strcmp(c.pi_state, "created") == 0;
		return TLY_OK;			/* someone else got here */
	}
	x->recorded = tly_checkout_is_open(c.status);
	return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET "
	    "pi_id = ?, pi_client_secret = ?, pi_state = ? WHERE id = ?",
	    "ssss", pi.id, pi.client_secret ? pi.client_secret : "",
	    x->recorded ? "created" : "to_cancel", e->id);
}

/* pi_refused_tx - Stripe refused the PaymentIntent: the checkout fails */
static int
pi_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	tly_checkout c;
	int rc;

	rc = tly_checkout_lock(ctx, e->id, &c, err);
	if (rc || !tly_checkout_is_open(c.status))
		return rc;
	return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET status = "
	    "'failed', open_key = NULL, pi_state = 'none', last_error = ? "
	    "WHERE id = ? AND pi_state IN ('to_create', 'unknown')", "ss",
	    e->why.code, e->id);
}

typedef struct release_args {
	const char	*id;
	const char	*pi_state;
	char		 product[40];
} release_args;

static int	release_tx(tly_ctx *, release_args *, tly_err *);

/* released_tx - the checkout's stock back, its pi_state 'state' */
static int
released_tx(tly_ctx *ctx, tly_effect *e, const char *state, tly_err *err)
{
	const pi_row *x = e->row;
	release_args a;

	memset(&a, 0, sizeof(a));
	a.id = e->id;
	a.pi_state = state;
	tly_strlcpy(a.product, x->c.product_id, sizeof(a.product));
	return release_tx(ctx, &a, err);
}

/* pi_abandon_tx - a closed checkout whose PaymentIntent was never made */
static int
pi_abandon_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	return released_tx(ctx, e, "none", err);
}

/* fail_tx - the checkout cannot go on: failed, PI (if any) to cancel */
static int
fail_tx(tly_ctx *ctx, const char *id, const char *pi_id, const char *why,
    tly_err *err)
{
	tly_checkout c;
	int rc;

	rc = tly_checkout_lock(ctx, id, &c, err);
	if (rc)
		return rc;
	if (!tly_checkout_is_open(c.status))
		return TLY_OK;
	return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET status = "
	    "'failed', open_key = NULL, pi_id = IFNULL(?, pi_id), pi_state = "
	    "IF(IFNULL(?, pi_id) IS NULL, 'none', 'to_cancel'), last_error = "
	    "? WHERE id = ?", "ssss", pi_id, pi_id, why, id);
}

typedef struct fail_args {
	const char	*id;
	const char	*pi_id;
	const char	*why;
} fail_args;

TLY_TX_TYPED(fail_body, fail_args)

static int
fail_body(tly_ctx *ctx, fail_args *a, tly_err *err)
{
	return fail_tx(ctx, a->id, a->pi_id, a->why, err);
}

/*
 * fail_checkout - mark checkout 'id' failed (reason 'why') with the
 * PaymentIntent 'pi_id' (NULL: none made) to cancel, cancel it at once
 */
static void
fail_checkout(tly_ctx *ctx, const char *id, const char *pi_id,
    const char *why)
{
	fail_args a;
	tly_err e2;

	tly_err_clear(&e2);
	a.id = id;
	a.pi_id = pi_id;
	a.why = why;
	if (fail_body_run(ctx, "checkout.fail", &a, &e2) == TLY_OK) {
		if (pi_id)
			(void)tly_checkout_cancel_pi(ctx, id, &e2);
		else
			(void)tly_checkout_release(ctx, id, "none", &e2);
	}
	tly_logkv(ctx->log, TLY_LOG_WARN, "checkout", "checkout failed",
	    "checkout_id", id, "payment_intent", pi_id, "reason", why, NULL);
}

/*
 * pi_after - after the commit: log a PaymentIntent recorded; cancel one
 * the checkout could not take (closed meanwhile, or not recorded); a
 * refused one gives the stock back
 */
static int
pi_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const pi_row *x = e->row;
	const char *pi = e->obj ? tly_json_str(e->obj, "id") : NULL;

	switch (e->outcome) {
	case TLY_EFFECT_DONE:
		if (x->recorded) {
			tly_logkv(ctx->log, TLY_LOG_INFO, "checkout", "payment "
			    "intent created", "checkout_id", e->id,
			    "payment_intent", pi, NULL);
			return TLY_OK;
		}
		return tly_checkout_cancel_pi(ctx, e->id, err);
	case TLY_EFFECT_REFUSED:
		tly_logkv(ctx->log, TLY_LOG_WARN, "checkout", "checkout "
		    "failed", "checkout_id", e->id, "reason", e->why.code,
		    NULL);
		return tly_checkout_release(ctx, e->id, "none", err);
	case TLY_EFFECT_UNRECORDED:
		if (pi)
			fail_checkout(ctx, e->id, pi,
			    "could not record the payment");
		return TLY_OK;
	default:
		return TLY_OK;
	}
}

/* creating the checkout's PaymentIntent */
const tly_effect_kind tly_checkout_pi_effect = {
	.name = "checkout",
	.table = "checkouts",
	.state_col = "pi_state",
	.open_sql = "'to_create', 'unknown'",
	.fresh = "to_create",
	.unknown = "unknown",
	.col = "pi_",
	.gen_col = "pi_key_gen",
	.due_sql = "created_at < NOW(3) - INTERVAL 90 SECOND",
	.key_prefix = "tally:pi",
	.object = "payment_intent",
	.path = "/v1/payment_intents",
	.load = pi_load,
	.params = pi_params,
	.find = pi_find,
	.matches = pi_matches,
	.done_tx = pi_done_tx,
	.refused_tx = pi_refused_tx,
	.abandon_tx = pi_abandon_tx,
	.after = pi_after,
};

/* still_creating - checkout 'id''s PaymentIntent is not made yet */
static int
still_creating(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_checkout c;

	if (tly_checkout_read(ctx, id, &c, err) != TLY_OK)
		return 0;
	return strcmp(c.pi_state, "to_create") == 0 ||
	    strcmp(c.pi_state, "unknown") == 0;
}

/*
 * tly_checkout_finish_pi - steps 2 and 3 for checkout 'id' (a no-op once
 * its PaymentIntent is recorded): 503 stripe_outcome_unknown when Stripe
 * did not answer, 502 checkout_failed when the checkout failed, 409
 * checkout_closed when it closed meanwhile.
 */
int
tly_checkout_finish_pi(tly_ctx *ctx, const char *id, tly_err *err)
{
	const pi_row *x;
	tly_effect e;
	int rc;

	rc = tly_effect_run(ctx, &tly_checkout_pi_effect, id, NULL, &e, err);
	x = e.row;
	switch (e.outcome) {
	case TLY_EFFECT_DONE:
		if (rc == TLY_OK && x && !x->recorded)
			return tly_err_param(err, TLY_EK_CONFLICT,
			    "checkout_closed", "checkout_id",
			    "This checkout is no longer open.");
		return rc;
	case TLY_EFFECT_UNKNOWN:
	case TLY_EFFECT_DEAD:
		tly_err_clear(err);
		tly_err_set(err, TLY_EK_UNAVAILABLE, "stripe_outcome_unknown",
		    "The payment provider did not answer; retry shortly.");
		return TLY_UNKNOWN;
	case TLY_EFFECT_REFUSED:
	case TLY_EFFECT_UNRECORDED:
		tly_err_clear(err);
		return tly_err_set(err, TLY_EK_UPSTREAM, "checkout_failed",
		    "The payment could not be set up; start a new checkout.");
	case TLY_EFFECT_BUSY:		/* another attempt holds it, or dead */
		if (rc == TLY_OK && still_creating(ctx, id, err)) {
			tly_err_clear(err);
			tly_err_set(err, TLY_EK_UNAVAILABLE,
			    "stripe_outcome_unknown", "The payment provider "
			    "did not answer yet; retry shortly.");
			return TLY_UNKNOWN;
		}
		return rc;
	default:
		return rc;
	}
}

/* --- cancelling and releasing ------------------------------------- */

/* release_tx - product, then checkout: give the reserved stock back */
TLY_TX_TYPED(release_tx, release_args)

static int
release_tx(tly_ctx *ctx, release_args *a, tly_err *err)
{
	tly_product p;
	tly_checkout c;
	int rc;

	rc = tly_product_lock(ctx, a->product, &p, err);
	if (rc)
		return rc;
	rc = tly_checkout_lock(ctx, a->id, &c, err);
	if (rc)
		return rc;
	if (c.stock_held && !tly_checkout_is_open(c.status) &&
	    strcmp(c.status, "completed") != 0) {
		rc = tly_product_give_back(ctx, c.product_id, c.quantity,
		    err);
		if (rc == TLY_OK)
			rc = tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts "
			    "SET stock_held = 0 WHERE id = ?", "s", a->id);
		if (rc)
			return rc;
	}
	return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET pi_state "
	    "= ? WHERE id = ? AND pi_state <> 'created'", "ss", a->pi_state,
	    a->id);
}

/*
 * tly_checkout_release - checkout 'id' (no longer open) gives its stock
 * back and its PaymentIntent state becomes 'pi_state'.
 */
int
tly_checkout_release(tly_ctx *ctx, const char *id, const char *pi_state,
    tly_err *err)
{
	release_args a;
	tly_checkout c;
	int rc;

	rc = tly_checkout_read(ctx, id, &c, err);
	if (rc)
		return rc;
	memset(&a, 0, sizeof(a));
	a.id = id;
	a.pi_state = pi_state;
	tly_strlcpy(a.product, c.product_id, sizeof(a.product));
	return release_tx_run(ctx, "checkout.release", &a, err);
}

/* ended - a PaymentIntent status nothing will move on: canceled, paid */
static int
ended(const tly_jv *obj)
{
	const char *st = tly_json_str(obj, "status");

	return st && (strcmp(st, "canceled") == 0 ||
	    strcmp(st, "succeeded") == 0);
}

/*
 * pc_find - the cancel is done when the PaymentIntent has ended
 * (canceled, or succeeded meanwhile); a 404 is Stripe's "missing"
 */
static int
pc_find(tly_ctx *ctx, const tly_effect *e, const tly_jv **found,
    tly_err *err)
{
	const pi_row *x = e->row;
	int rc;

	rc = pi_get(ctx, x->c.pi_id, found, err);
	if (rc == TLY_OK && !ended(*found)) {
		*found = NULL;
		return TLY_NOTFOUND;
	}
	return rc;
}

/* pc_load - the checkout, whose PaymentIntent is the target */
static int
pc_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	int rc;

	rc = pi_load(ctx, e, err);
	e->look_only = 0;
	if (rc == TLY_OK && e->target[0] == '\0')
		return tly_err_internal(err);	/* to_cancel without a PI */
	return rc;
}

static const char *
pc_path(tly_ctx *ctx, const tly_effect *e)
{
	return tly_stripe_path(ctx->pool, "/v1/payment_intents/", e->target,
	    "/cancel");
}

static int
pc_params(const tly_effect *e, tly_form *f)
{
	(void)e;
	tly_form_str(f, "cancellation_reason", "abandoned");
	return tly_form_done(f);
}

/* pc_matches - the answer is about the checkout's PaymentIntent */
static int
pc_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const char *id = tly_json_str(obj, "id");

	(void)ctx;
	if (id == NULL || strcmp(id, e->target) != 0)
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * pc_done_tx - the PaymentIntent ended: canceled -> the stock back;
 * succeeded -> completed after the commit (pc_after); still open (a
 * cancel answered with another status) -> tried again shortly
 */
static int
pc_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const char *st = tly_json_str(e->obj, "status");

	if (st && strcmp(st, "canceled") == 0)
		return released_tx(ctx, e, "canceled", err);
	if (!ended(e->obj))
		e->retry = 1;
	return TLY_OK;
}

/*
 * pc_refused_tx - Stripe would not cancel (still processing, already
 * paid): Stripe stored that answer under the key, so the next attempt,
 * shortly, looks first and then takes the next generation
 */
static int
pc_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	(void)ctx;
	(void)err;
	e->retry = 1;
	return TLY_OK;
}

/*
 * pc_missing_tx - Stripe has no such PaymentIntent: nothing can ever be
 * paid through it; pi_state 'missing', the stock back
 */
static int
pc_missing_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	return released_tx(ctx, e, "missing", err);
}

/*
 * pc_after - canceled: logged; succeeded meanwhile: completed instead by
 * the job's hook (e->arg, tly_checkout_hooks); without one (a cancel
 * made outside the job) the checkout stays to_cancel and the job's next
 * run, looking first, completes it (as would the payment's webhook)
 */
static int
pc_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const tly_checkout_hooks *h = e->arg;
	tly_pi_facts f;
	const char *st;

	if (e->outcome != TLY_EFFECT_DONE)
		return TLY_OK;
	st = tly_json_str(e->obj, "status");
	if (st && strcmp(st, "succeeded") == 0) {
		if (h == NULL || h->paid == NULL) {
			tly_logkv(ctx->log, TLY_LOG_INFO, "checkout", "payment "
			    "intent succeeded: completed by the checkouts job",
			    "checkout_id", e->id, "payment_intent", e->target,
			    NULL);
			return TLY_OK;
		}
		if (tly_pi_facts_from(e->obj, &f) != TLY_OK)
			return tly_err_internal(err);
		return h->paid(ctx, e->id, &f, err);
	}
	tly_logkv(ctx->log, TLY_LOG_INFO, "checkout", "payment intent "
	    "canceled", "checkout_id", e->id, "payment_intent", e->target,
	    NULL);
	return TLY_OK;
}

/* cancelling the PaymentIntent of a checkout that closed unpaid */
const tly_effect_kind tly_checkout_cancel_effect = {
	.name = "checkout_cancel",
	.table = "checkouts",
	.state_col = "pi_state",
	.open_sql = "'to_cancel'",
	.col = "pi_",
	.gen_col = "pi_cancel_gen",
	.key_prefix = "tally:pi_cancel",
	.object = "payment_intent",
	.path_of = pc_path,
	.retry_s = 1,
	.load = pc_load,
	.params = pc_params,
	.find = pc_find,
	.matches = pc_matches,
	.done_tx = pc_done_tx,
	.refused_tx = pc_refused_tx,
	.missing_tx = pc_missing_tx,
	.after = pc_after,
};

/*
 * tly_checkout_cancel_pi - cancel the PaymentIntent of checkout 'id'
 * (pi_state to_cancel); the stock comes back once Stripe confirms, a
 * PaymentIntent that succeeded meanwhile is completed instead, and one
 * Stripe does not have is 'missing' (the stock back, an ALERT).
 */
int
tly_checkout_cancel_pi(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_effect e;

	return tly_effect_run(ctx, &tly_checkout_cancel_effect, id, NULL, &e,
	    err);
}

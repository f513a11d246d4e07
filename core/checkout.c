/*
 * checkout.c - checkouts: creation, reads, expiry
 *
 * Owns the checkouts table (this file and checkout_pi.c, one module:
 * checkout.h) and the life of each checkout's PaymentIntent
 * (pi_state): to_create -> created, or unknown (Stripe did not answer:
 * finished later), or to_cancel -> canceled (or missing: Stripe has no
 * such PaymentIntent).  Lock order, as everywhere: product -> checkout
 * -> payment.
 *
 * tly_checkout_create():
 *   tx 1  lock the product; return the buyer's open checkout for the same
 *         product and quantity if there is one (a double click) -- unless
 *         the request names another host partner and no payment is under
 *         way in it (status open or payment_failed): then that checkout
 *         expires (its PaymentIntent to_cancel, cancelled right after the
 *         transaction, its stock back once Stripe confirms) and a new one
 *         is made ("Checkout dedupe", docs/architecture.md); else
 *         snapshot the split rules (host partner by slug, the seller's
 *         ambassador link active now, agent, fees), refuse a split with a
 *         negative share or an amount out of range (422), reserve the stock
 *         (409 when short: never oversold), insert the checkout.
 *   step  create the PaymentIntent (checkout_pi.c): the effect
 *         tly_checkout_pi_effect
 *         (effect.c), key "tally:pi:<checkout>:g<gen>", metadata
 *         checkout_id/tally_id, transfer_group = the checkout id; found
 *         again by its stored id or the search API on
 *         metadata['tally_id'].  Refused -> the checkout fails and its
 *         stock comes back.  No answer -> pi_state unknown, 503 to the
 *         client, finished by a retry or the job.
 *   tx 2  record the PaymentIntent (pi_done_tx).  If that fails, a second
 *         transaction marks the checkout failed with the PaymentIntent
 *         "to_cancel", and the cancel (tly_checkout_cancel_effect) is
 *         tried at once and by the job until Stripe confirms it: no
 *         orphan payments.
 *
 * tly_checkout_job() (the "checkouts" job, tly_job_checkouts()): expire
 * checkouts past their reservation; the effect engine's finishers:
 * cancel the PaymentIntents marked to_cancel (looking first: the stock
 * comes back only once Stripe says canceled; a PaymentIntent that
 * already succeeded is completed instead, by the hook of the job's
 * caller: complete.c, checkout.c never calls the completion; one Stripe
 * answers 404 for is 'missing', terminal, with one ALERT and the stock
 * back), and finish PaymentIntents whose creation
 * was left unknown or interrupted (an open checkout's is made if Stripe
 * has none; a closed one's is only looked for: cancelled if found, else
 * the stock comes back); give back the stock of closed checkouts whose
 * PaymentIntent is settled but whose release was lost (a crash between
 * the transaction that closed them and the one that releases: the
 * reservation_released check of tallyctl check).
 *
 * API:	tly_checkout_create(), tly_checkout_get(), tly_checkout_read(),
 *	tly_checkout_lock(), tly_checkout_lock_payees(),
 *	tly_checkout_split_in(), tly_checkout_note_status(),
 *	tly_checkout_job(), tly_checkout_is_open(); for the completion:
 *	tly_checkout_stock_taken(), tly_checkout_completed().
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "checkout.h"
#include "effect.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"

#define JOB_BATCH	50

static const char *open_statuses[] = {
	"open", "requires_action", "processing", "payment_failed", NULL
};

/* tly_checkout_is_open - the buyer may still pay a checkout in 'status' */
int
tly_checkout_is_open(const char *status)
{
	const char **s;

	for (s = open_statuses; *s; s++)
		if (strcmp(*s, status) == 0)
			return 1;
	return 0;
}

#define CHECKOUT_COLS CHECKOUT_ONLY_COLS " FROM checkouts c "
#define CHECKOUT_ONLY_COLS \
	"c.id, c.buyer_account_id, c.product_id, c.currency, c.status, " \
	"IFNULL(c.pi_id, ''), c.pi_state, IFNULL(c.pi_client_secret, ''), " \
	"IFNULL(c.receipt_email, ''), IFNULL(c.host_partner_slug, ''), " \
	"c.seller_account_id, IFNULL(c.agent_account_id, ''), " \
	"IFNULL(c.host_account_id, ''), IFNULL(c.ambassador_account_id, ''), " \
	"c.quantity, c.price_cent, c.subtotal_cent, c.platform_fee_cent, " \
	"c.amount_cent, c.agent_bps, c.host_bps, c.ambassador_bps, " \
	"c.stripe_fee_bps, c.stripe_fee_fixed_cent, c.platform_bears_fee, " \
	"c.stock_held, c.pi_key_gen, FLOOR(UNIX_TIMESTAMP(c.expires_at)), " \
	"FLOOR(UNIX_TIMESTAMP(c.created_at)), c.pi_cancel_gen"
/*
 * ... and whether a payee of the checkout has an open advance (the
 * completion then reads them FOR UPDATE, advance.h; by the same index,
 * so that no more rows are locked than that read locks)
 */
#define CHECKOUT_COLS_ADV \
	CHECKOUT_ONLY_COLS ", EXISTS (SELECT 1 FROM advances a FORCE INDEX " \
	"(advances_open) WHERE a.account_id IN (c.seller_account_id, " \
	"c.agent_account_id, c.host_account_id, c.ambassador_account_id) " \
	"AND a.currency = c.currency AND a.state = 'transferred' AND " \
	"a.offset_cent + a.reversed_cent < a.granted_cent) FROM checkouts c "

static void
checkout_row(tly_q *q, tly_checkout *c)
{
	memset(c, 0, sizeof(*c));
	tly_q_col_copy(q, 0, c->id, sizeof(c->id));
	tly_q_col_copy(q, 1, c->buyer_id, sizeof(c->buyer_id));
	tly_q_col_copy(q, 2, c->product_id, sizeof(c->product_id));
	tly_q_col_copy(q, 3, c->currency, sizeof(c->currency));
	tly_q_col_copy(q, 4, c->status, sizeof(c->status));
	tly_q_col_copy(q, 5, c->pi_id, sizeof(c->pi_id));
	tly_q_col_copy(q, 6, c->pi_state, sizeof(c->pi_state));
	tly_q_col_copy(q, 7, c->client_secret, sizeof(c->client_secret));
	tly_q_col_copy(q, 8, c->receipt_email, sizeof(c->receipt_email));
	tly_q_col_copy(q, 9, c->host_slug, sizeof(c->host_slug));
	tly_q_col_copy(q, 10, c->seller_id, sizeof(c->seller_id));
	tly_q_col_copy(q, 11, c->agent_id, sizeof(c->agent_id));
	tly_q_col_copy(q, 12, c->host_id, sizeof(c->host_id));
	tly_q_col_copy(q, 13, c->ambassador_id, sizeof(c->ambassador_id));
	c->quantity = tly_q_col_i64(q, 14);
	c->price_cent = tly_q_col_i64(q, 15);
	c->subtotal_cent = tly_q_col_i64(q, 16);
	c->platform_fee_cent = tly_q_col_i64(q, 17);
	c->amount_cent = tly_q_col_i64(q, 18);
	c->agent_bps = tly_q_col_i64(q, 19);
	c->host_bps = tly_q_col_i64(q, 20);
	c->ambassador_bps = tly_q_col_i64(q, 21);
	c->stripe_fee_bps = tly_q_col_i64(q, 22);
	c->stripe_fee_fixed_cent = tly_q_col_i64(q, 23);
	c->platform_bears_fee = (int)tly_q_col_i64(q, 24);
	c->stock_held = (int)tly_q_col_i64(q, 25);
	c->pi_key_gen = tly_q_col_i64(q, 26);
	c->expires_at = tly_q_col_i64(q, 27);
	c->created = tly_q_col_i64(q, 28);
	c->pi_cancel_gen = tly_q_col_i64(q, 29);
}

enum { LOAD_READ, LOAD_LOCK, LOAD_LOCK_ADV };

static const char *const load_sql[] = {
	"SELECT " CHECKOUT_COLS "WHERE c.id = ?",
	"SELECT " CHECKOUT_COLS "WHERE c.id = ? FOR UPDATE",
	"SELECT " CHECKOUT_COLS_ADV "WHERE c.id = ? FOR UPDATE",
};

/*
 * load - checkout 'id' read, locked, or locked with has_advance
 * ('how'); 404 when unknown
 */
static int
load(tly_ctx *ctx, const char *id, int how, tly_checkout *c, tly_err *err)
{
	int lock = how != LOAD_READ, rc;
	tly_q q;

	if (tly_q_prep(ctx->db, &q, load_sql[how], err))
		return q.rc;
	tly_q_str(&q, id);
	/* the lock rides with START TRANSACTION: one round trip */
	(void)(lock ? tly_q_exec_text(&q) : tly_q_exec(&q));
	rc = tly_q_next(&q);
	if (rc == TLY_ROW) {
		checkout_row(&q, c);
		c->has_advance = how == LOAD_LOCK_ADV &&
		    tly_q_col_i64(&q, 30) != 0;
	}
	tly_q_done(&q);
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "checkout_id", "No such checkout: '%.40s'.", id);
	if (rc != TLY_ROW)
		return rc;
	/* only completion makes a payment, and it closes the checkout */
	if (tly_checkout_is_open(c->status))
		return TLY_OK;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM payments WHERE "
	    "checkout_id = ?", "s>s", id, c->payment_id,
	    sizeof(c->payment_id));
	return rc == TLY_NOTFOUND ? TLY_OK : rc;
}

/* tly_checkout_read - checkout 'id' without a lock (404 when unknown) */
int
tly_checkout_read(tly_ctx *ctx, const char *id, tly_checkout *c,
    tly_err *err)
{
	return load(ctx, id, LOAD_READ, c, err);
}

/* tly_checkout_lock - checkout 'id', FOR UPDATE (inside a transaction) */
int
tly_checkout_lock(tly_ctx *ctx, const char *id, tly_checkout *c, tly_err *err)
{
	return load(ctx, id, LOAD_LOCK, c, err);
}

/*
 * tly_checkout_lock_payees - tly_checkout_lock for the completion, which
 * also needs c->has_advance (a payee has an open advance, advance.h)
 */
int
tly_checkout_lock_payees(tly_ctx *ctx, const char *id, tly_checkout *c,
    tly_err *err)
{
	return load(ctx, id, LOAD_LOCK_ADV, c, err);
}

/*
 * tly_checkout_get - checkout 'id'; with 'buyer' set, only that buyer's
 * (another buyer's checkout is 404, as if it did not exist).
 */
int
tly_checkout_get(tly_ctx *ctx, const char *id, const char *buyer,
    tly_checkout *c, tly_err *err)
{
	int rc;

	rc = load(ctx, id, LOAD_READ, c, err);
	if (rc == TLY_OK && buyer && strcmp(buyer, c->buyer_id) != 0)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "checkout_id", "No such checkout: '%.40s'.", id);
	return rc;
}

/* tly_checkout_split_in - the split rules the checkout snapshotted */
void
tly_checkout_split_in(const tly_checkout *c, tly_split_in *in)
{
	memset(in, 0, sizeof(*in));
	in->price_cent = c->price_cent;
	in->quantity = c->quantity;
	in->fee_kind = TLY_FEE_FIXED;		/* the fee is already known */
	in->fee_fixed_cent = c->platform_fee_cent;
	in->agent_bps = c->agent_bps;
	in->host_bps = c->host_bps;
	in->ambassador_bps = c->ambassador_bps;
	in->stripe_bps = c->stripe_fee_bps;
	in->stripe_fixed_cent = c->stripe_fee_fixed_cent;
	in->platform_bears_stripe_fee = c->platform_bears_fee;
	in->min_amount_cent = 0;
	in->max_amount_cent = c->amount_cent;
}

/* --- creation ----------------------------------------------------- */

typedef struct create_args {
	const tly_checkout_new	*in;
	char			 id[40];
	int			 existing;	/* id is an open checkout */
	char			 closed[40];	/* the open one it replaced */
} create_args;

/* the buyer's open checkout for this product and quantity */
typedef struct open_row {
	char	 id[40];
	char	 host_slug[72];
	char	 status[24];
	int64_t	 live;			/* not past its expiry */
} open_row;

static int
open_one(tly_ctx *ctx, const tly_checkout_new *in, open_row *o,
    tly_err *err)
{
	memset(o, 0, sizeof(*o));
	return tly_db_row(ctx->db, err, "SELECT id, expires_at > NOW(3), "
	    "IFNULL(host_partner_slug, ''), status FROM checkouts WHERE "
	    "buyer_account_id = ? AND product_id = ? AND quantity = ? AND "
	    "open_key = 1", "ssi>siss", in->buyer_id, in->product_id,
	    in->quantity, o->id, sizeof(o->id), &o->live, o->host_slug,
	    sizeof(o->host_slug), o->status, sizeof(o->status));
}

/*
 * replaced - the open checkout 'o' gives way to this request: another
 * host partner is named (none named keeps the open one's) and no
 * payment is under way in it (docs/architecture.md, "Checkout dedupe")
 */
static int
replaced(const tly_checkout_new *in, const open_row *o)
{
	if (in->host_slug == NULL || strcmp(in->host_slug, o->host_slug) == 0)
		return 0;
	return strcmp(o->status, "open") == 0 ||
	    strcmp(o->status, "payment_failed") == 0;
}

/* parties - host partner (by slug) and the seller's active ambassador */
static int
parties(tly_ctx *ctx, const tly_checkout_new *in, const tly_product *p,
    char *host, int64_t *host_bps, char *amb, int64_t *amb_bps,
    tly_err *err)
{
	int rc;

	host[0] = amb[0] = '\0';
	*host_bps = *amb_bps = 0;
	if (in->host_slug) {
		rc = tly_db_row(ctx->db, err, "SELECT account_id, share_bps "
		    "FROM host_partners WHERE slug = ?", "s>si", in->host_slug,
		    host, (size_t)40, host_bps);
		if (rc == TLY_NOTFOUND)
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid", "host_partner_slug",
			    "No host partner '%.64s'.", in->host_slug);
		if (rc)
			return rc;
	}
	rc = tly_db_row(ctx->db, err, "SELECT ambassador_account_id, "
	    "share_bps FROM ambassador_links WHERE talent_account_id = ? AND "
	    "active_from <= NOW(3) AND (active_until IS NULL OR "
	    "active_until > NOW(3))", "s>si", p->seller_id, amb, (size_t)40,
	    amb_bps);
	return rc == TLY_NOTFOUND ? TLY_OK : rc;
}

static int
insert_checkout(tly_ctx *ctx, create_args *a, const tly_product *p,
    const tly_split_out *so, const tly_split_in *si, const char *host,
    const char *amb, int held, tly_err *err)
{
	const tly_checkout_new *in = a->in;
	tly_q q;
	int rc;

	if (tly_id_new(a->id, sizeof(a->id), "chk") != TLY_OK)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "INSERT INTO checkouts (id, "
	    "buyer_account_id, product_id, quantity, currency, price_cent, "
	    "subtotal_cent, platform_fee_cent, amount_cent, "
	    "seller_account_id, agent_account_id, agent_bps, "
	    "host_partner_slug, host_account_id, host_bps, "
	    "ambassador_account_id, ambassador_bps, stripe_fee_bps, "
	    "stripe_fee_fixed_cent, platform_bears_fee, receipt_email, status, "
	    "open_key, stock_held, pi_state, expires_at) VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 1, ?, "
	    "'to_create', NOW(3) + INTERVAL ? SECOND)", err))
		return q.rc;
	tly_q_str(&q, a->id);
	tly_q_str(&q, in->buyer_id);
	tly_q_str(&q, p->id);
	tly_q_i64(&q, in->quantity);
	tly_q_str(&q, p->currency);
	tly_q_i64(&q, p->price_cent);
	tly_q_i64(&q, so->subtotal_cent);
	tly_q_i64(&q, so->platform_fee_cent);
	tly_q_i64(&q, so->amount_cent);
	tly_q_str(&q, p->seller_id);
	tly_q_str(&q, p->agent_id[0] ? p->agent_id : NULL);
	tly_q_i64(&q, si->agent_bps);
	tly_q_str(&q, host[0] ? in->host_slug : NULL);
	tly_q_str(&q, host[0] ? host : NULL);
	tly_q_i64(&q, si->host_bps);
	tly_q_str(&q, amb[0] ? amb : NULL);
	tly_q_i64(&q, si->ambassador_bps);
	tly_q_i64(&q, si->stripe_bps);
	tly_q_i64(&q, si->stripe_fixed_cent);
	tly_q_i64(&q, si->platform_bears_stripe_fee);
	tly_q_str(&q, in->receipt_email);
	tly_q_i64(&q, held);
	tly_q_i64(&q, ctx->cfg->reservation_s);
	rc = tly_q_exec(&q);
	tly_q_done(&q);
	return rc;
}

/* create_tx - tx 1 of tly_checkout_create (see the top of the file) */
TLY_TX_TYPED(create_tx, create_args)

static int
create_tx(tly_ctx *ctx, create_args *a, tly_err *err)
{
	const tly_checkout_new *in = a->in;
	const tly_currency *cur;
	char host[40], amb[40];
	tly_split_in si;
	tly_split_out so;
	tly_product p;
	open_row o;
	int rc, held = 0;

	a->existing = 0;
	a->closed[0] = '\0';
	rc = tly_product_lock(ctx, in->product_id, &p, err);
	if (rc == TLY_ERR && err->kind == TLY_EK_NOT_FOUND)
		tly_strlcpy(err->param, "product_id", sizeof(err->param));
	if (rc)
		return rc;
	if (!p.active)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "product_inactive", "product_id",
		    "Product '%.40s' is not for sale.", p.id);
	rc = open_one(ctx, in, &o, err);
	if (rc == TLY_OK && o.live && !replaced(in, &o)) {
		tly_strlcpy(a->id, o.id, sizeof(a->id));
		a->existing = 1;		/* the double click */
		return TLY_OK;
	}
	if (rc == TLY_OK) {	/* overdue or replaced: its PI is canceled */
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET "
		    "status = 'expired', open_key = NULL, pi_state = "
		    "IF(pi_state = 'created', 'to_cancel', pi_state) WHERE "
		    "id = ?", "s", o.id);
		if (rc)
			return rc;
		if (o.live)
			tly_strlcpy(a->closed, o.id, sizeof(a->closed));
	} else if (rc != TLY_NOTFOUND)
		return rc;
	tly_err_clear(err);
	cur = tly_config_currency(ctx->cfg, p.currency);
	if (cur == NULL)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "currency_unsupported", "product_id",
		    "The product's currency is no longer configured.");
	rc = parties(ctx, in, &p, host, &si.host_bps, amb, &si.ambassador_bps,
	    err);
	if (rc)
		return rc;
	si.price_cent = p.price_cent;
	si.quantity = in->quantity;
	si.fee_kind = p.fee_bps >= 0 ? TLY_FEE_BPS : TLY_FEE_FIXED;
	si.fee_fixed_cent = p.fee_fixed_cent;
	si.fee_bps = p.fee_bps;
	si.agent_bps = p.agent_id[0] ? p.agent_bps : 0;
	si.stripe_bps = cur->stripe_fee_bps;
	si.stripe_fixed_cent = cur->stripe_fee_fixed_cent;
	si.platform_bears_stripe_fee = ctx->cfg->platform_bears_stripe_fee;
	si.min_amount_cent = cur->min_charge_cent;
	si.max_amount_cent = cur->max_charge_cent;
	rc = tly_split(&si, &so, err);
	if (rc)
		return rc;
	if (so.amount_cent % cur->amount_step_cent != 0)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "invalid_charge_amount", "quantity",
		    "Amounts in %s must be multiples of %lld.", cur->code,
		    (long long)cur->amount_step_cent);
	if (p.stock >= 0) {
		if (p.stock < in->quantity)
			return tly_err_param(err, TLY_EK_CONFLICT,
			    "out_of_stock", "quantity", "Only %lld left of "
			    "'%.40s'.", (long long)p.stock, p.id);
		rc = tly_product_reserve(ctx, p.id, in->quantity, err);
		if (rc)
			return rc;
		held = 1;
	}
	return insert_checkout(ctx, a, &p, &so, &si, host, amb, held, err);
}

static int
email_ok(const char *e)
{
	const char *at = strchr(e, '@');

	return at && at != e && at[1] && strchr(at + 1, '.') &&
	    strlen(e) <= 254 && strpbrk(e, " \t\r\n<>\",;") == NULL;
}

/*
 * tly_checkout_create - a checkout for 'in' with its PaymentIntent, or
 * the buyer's open one (see the top of the file).
 */
int
tly_checkout_create(tly_ctx *ctx, const tly_checkout_new *in,
    tly_checkout *out, tly_err *err)
{
	create_args a;
	tly_err e;
	int rc;

	if (in->quantity < 1 || in->quantity > 1000000)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "quantity", "quantity must be between 1 and 1000000.");
	if (in->receipt_email && !email_ok(in->receipt_email))
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "receipt_email", "receipt_email is not an email address.");
	memset(&a, 0, sizeof(a));
	a.in = in;
	rc = create_tx_run(ctx, "checkout.create", &a, err);
	if (rc)
		return rc;
	if (a.closed[0]) {	/* at once, so that it cannot be paid; else
				   the checkouts job cancels it */
		tly_logkv(ctx->log, TLY_LOG_INFO, "checkout", "another host "
		    "partner's link: the open checkout is replaced",
		    "checkout_id", a.closed, "by", a.id, NULL);
		tly_err_clear(&e);
		(void)tly_checkout_cancel_pi(ctx, a.closed, &e);
	}
	rc = tly_checkout_finish_pi(ctx, a.id, err);
	if (rc)
		return rc;
	return tly_checkout_get(ctx, a.id, NULL, out, err);
}

int
tly_checkout_note_status(tly_ctx *ctx, const char *id, const char *status,
    int64_t when, tly_err *err)
{
	int closing = strcmp(status, "canceled") == 0;
	tly_checkout c;
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE checkouts SET status = ?, "
	    "status_event_created = ?, open_key = IF(?, NULL, open_key), "
	    "pi_state = IF(?, 'canceled', pi_state) WHERE id = ? AND status "
	    "IN ('open', 'requires_action', 'processing', 'payment_failed') "
	    "AND status_event_created <= ?", "siiisi", status, when,
	    (int64_t)closing, (int64_t)closing, id, when);
	if (rc == TLY_OK && n == 0)
		rc = load(ctx, id, LOAD_READ, &c, err); /* 404 if unknown */
	if (rc == TLY_OK && closing)
		rc = tly_checkout_release(ctx, id, "canceled", err);
	return rc;
}

/* --- for the completion (complete.c) --------------------------------- */

/*
 * tly_checkout_stock_taken - checkout 'id' (locked), whose reservation
 * had expired, holds its stock again
 */
int
tly_checkout_stock_taken(tly_ctx *ctx, const char *id, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET "
	    "stock_held = 1 WHERE id = ?", "s", id);
}

/*
 * tly_checkout_completed - checkout 'id' (locked) is paid through
 * PaymentIntent 'pi': completed, deferred (with the COMMIT)
 */
int
tly_checkout_completed(tly_ctx *ctx, const char *id, const char *pi,
    tly_err *err)
{
	return tly_db_later(ctx->db, err, "UPDATE checkouts SET "
	    "status = 'completed', open_key = NULL, pi_id = ?, "
	    "pi_state = 'created' WHERE id = ?", "ss", pi, id);
}

/* --- the job ------------------------------------------------------ */

/* ids - up to JOB_BATCH checkout ids from 'sql' */
static int
ids(tly_ctx *ctx, const char *sql, char (*out)[40], int *n, tly_err *err)
{
	return tly_db_ids(ctx->db, err, sql, out[0], sizeof(out[0]),
	    JOB_BATCH, n);
}

typedef struct expire_args {
	int	 n;
} expire_args;

/* expire_tx - claim overdue open checkouts (SKIP LOCKED) and expire them */
TLY_TX_TYPED(expire_tx, expire_args)

static int
expire_tx(tly_ctx *ctx, expire_args *a, tly_err *err)
{
	char found[JOB_BATCH][40];
	int i, rc;

	rc = ids(ctx, "SELECT id FROM checkouts WHERE status IN ('open', "
	    "'requires_action', 'processing', 'payment_failed') AND "
	    "expires_at < NOW(3) ORDER BY expires_at LIMIT ? FOR UPDATE SKIP "
	    "LOCKED", found, &a->n, err);
	for (i = 0; rc == TLY_OK && i < a->n; i++)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE checkouts SET "
		    "status = 'expired', open_key = NULL, pi_state = "
		    "IF(pi_state = 'created', 'to_cancel', pi_state) WHERE "
		    "id = ?", "s", found[i]);
	return rc;
}

/*
 * tly_checkout_job - the checkouts job (tly_job_checkouts, complete.c,
 * gives the hooks): expire; the finishers of the PaymentIntents' cancels
 * (a PaymentIntent that succeeded meanwhile goes to 'h'->paid) and
 * creations (effect.c: a closed checkout's creation only looks, and
 * gives the stock back when Stripe has none); a release lost between two
 * transactions redone
 */
int
tly_checkout_job(tly_ctx *ctx, tly_checkout_hooks *h, tly_err *err)
{
	char found[JOB_BATCH][40];
	expire_args ea;
	tly_checkout c;
	int i, n, rc;
	tly_err e;

	ea.n = 0;
	rc = expire_tx_run(ctx, "checkout.expire", &ea, err);
	if (rc == TLY_OK)
		rc = tly_effect_finish_due(ctx, &tly_checkout_cancel_effect,
		    h, &n, err);
	if (rc == TLY_OK)
		rc = tly_effect_finish_due(ctx, &tly_checkout_pi_effect, NULL,
		    &n, err);
	if (rc)
		return rc;
	/* a release lost between two transactions: redo it (idempotent) */
	rc = ids(ctx, "SELECT id FROM checkouts WHERE stock_held = 1 AND "
	    "status NOT IN ('open', 'requires_action', 'processing', "
	    "'payment_failed', 'completed') AND pi_state IN ('canceled', "
	    "'none', 'missing') AND updated_at < NOW(3) - INTERVAL 60 SECOND "
	    "ORDER BY updated_at LIMIT ?", found, &n, err);
	for (i = 0; rc == TLY_OK && i < n; i++) {
		tly_err_clear(&e);
		if (load(ctx, found[i], 0, &c, &e) != TLY_OK)
			continue;
		tly_logkv(ctx->log, TLY_LOG_WARN, "checkout", "stock still "
		    "held by a closed checkout: released", "checkout_id",
		    found[i], NULL);
		(void)tly_checkout_release(ctx, found[i], c.pi_state, &e);
	}
	return rc;
}

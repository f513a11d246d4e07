/*
 * checkout.c - checkouts: creation, their PaymentIntents, expiry
 *
 * Owns the checkouts table and the life of each checkout's PaymentIntent
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
 *   step  create the PaymentIntent: the effect tly_checkout_pi_effect
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
 * API:	tly_checkout_create(), tly_checkout_get(), tly_checkout_lock(),
 *	tly_checkout_lock_payees(),
 *	tly_checkout_split_in(), tly_checkout_note_status(),
 *	tly_checkout_finish_pi(), tly_checkout_cancel_pi(),
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
copy(tly_q *q, int col, char *dst, size_t sz)
{
	const char *v = tly_q_col_str(q, col);

	tly_strlcpy(dst, v ? v : "", sz);
}

static void
checkout_row(tly_q *q, tly_checkout *c)
{
	memset(c, 0, sizeof(*c));
	copy(q, 0, c->id, sizeof(c->id));
	copy(q, 1, c->buyer_id, sizeof(c->buyer_id));
	copy(q, 2, c->product_id, sizeof(c->product_id));
	copy(q, 3, c->currency, sizeof(c->currency));
	copy(q, 4, c->status, sizeof(c->status));
	copy(q, 5, c->pi_id, sizeof(c->pi_id));
	copy(q, 6, c->pi_state, sizeof(c->pi_state));
	copy(q, 7, c->client_secret, sizeof(c->client_secret));
	copy(q, 8, c->receipt_email, sizeof(c->receipt_email));
	copy(q, 9, c->host_slug, sizeof(c->host_slug));
	copy(q, 10, c->seller_id, sizeof(c->seller_id));
	copy(q, 11, c->agent_id, sizeof(c->agent_id));
	copy(q, 12, c->host_id, sizeof(c->host_id));
	copy(q, 13, c->ambassador_id, sizeof(c->ambassador_id));
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
	if (so.amount_cent % cur->amount_step != 0)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "invalid_charge_amount", "quantity",
		    "Amounts in %s must be multiples of %lld.", cur->code,
		    (long long)cur->amount_step);
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

static int
release_stock(tly_ctx *ctx, const char *id, const char *pi_state,
    tly_err *err);

/* pi_load - the checkout; a closed one only looks for its PaymentIntent */
static int
pi_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	pi_row *x;
	int rc;

	x = tly_pcalloc(ctx->pool, sizeof(*x));
	if (x == NULL)
		return tly_err_internal(err);
	rc = load(ctx, e->id, LOAD_READ, &x->c, err);
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
	    pi.amount != x->c.amount_cent ||
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
			(void)release_stock(ctx, id, "none", &e2);
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
		return release_stock(ctx, e->id, "none", err);
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

	if (load(ctx, id, LOAD_READ, &c, err) != TLY_OK)
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
 * release_stock - checkout 'id' (no longer open) gives its stock back and
 * its PaymentIntent state becomes 'pi_state'.
 */
static int
release_stock(tly_ctx *ctx, const char *id, const char *pi_state,
    tly_err *err)
{
	release_args a;
	tly_checkout c;
	int rc;

	rc = load(ctx, id, LOAD_READ, &c, err);
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
		rc = release_stock(ctx, id, "canceled", err);
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
		(void)release_stock(ctx, found[i], c.pi_state, &e);
	}
	return rc;
}

/*
 * catalog.c - accounts, ambassador links, host partners, products
 *
 * Owns the tables accounts (every write: buyers made on first use for
 * auth.c, the Connect columns for connect.c, the payout backoff for
 * payout.c), ambassador_links, host_partners and products, and their
 * validation (see catalog.h).  The platform and Stripe-fee accounts are
 * made by the first migration; the API creates talents, agents,
 * ambassadors and host partners.  A product is checked against the
 * split rules at creation and at every update, for one unit and the
 * configured default host partner and ambassador shares, so a product
 * that would leave a share negative is never sold; the checkout
 * re-checks with the real quantity and parties.
 *
 * Every write a principal asks for (an account, an ambassador link, a
 * host partner, a product and its changes, a payout threshold, step 1 of
 * a Connect account) is audited with that principal in the write's own
 * transaction: action account.create, account.ambassador,
 * host_partner.create, product.create, product.update,
 * account.payout_threshold, account.connect (docs/operations.md).
 *
 * API:	tly_account_create(), tly_account_get(), tly_accounts_list(),
 *	tly_account_threshold_set(),
 *	tly_ambassador_link_set(), tly_host_partner_create(),
 *	tly_product_create(), tly_product_get(), tly_product_update(),
 *	tly_products_list(), tly_products_list_active();
 *	tly_account_buyer_insert(),
 *	tly_account_connect_requested(), tly_account_connect_created(),
 *	tly_account_connect_retry(), tly_account_connect_state(),
 *	tly_account_payout_flag(), tly_account_payout_ok(),
 *	tly_account_payout_failed(), tly_account_payout_retry_now(); the
 *	stock for checkout.c and complete.c: tly_product_reserve(),
 *	tly_product_take(), tly_product_give_back().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "catalog.h"
#include "split.h"
#include "tly_str.h"
#include "tx.h"

static const char *api_kinds[] = {
	"talent", "agent", "ambassador", "host_partner", NULL
};
static const char *all_kinds[] = {
	"talent", "agent", "ambassador", "host_partner", "buyer", "platform",
	"stripe_fee", NULL
};

static int
in_list(const char *s, const char **list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int
bad(tly_err *err, const char *param, const char *fmt, const char *arg)
{
	return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid", param,
	    fmt, arg);
}

/* --- accounts ------------------------------------------------------------- */

static int
email_ok(const char *e)
{
	const char *at = strchr(e, '@');

	return at && at != e && at[1] && strchr(at + 1, '.') &&
	    strlen(e) <= 254 && strpbrk(e, " \t\r\n<>\",;") == NULL;
}

typedef struct create_args {
	const tly_principal	*actor;
	const tly_account_new	*in;
	const char		*id;
} create_args;

/* create_tx - the account row and its audit row */
TLY_TX_TYPED(create_tx, create_args)
static int
create_tx(tly_ctx *ctx, create_args *a, tly_err *err)
{
	const tly_account_new *in = a->in;
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO accounts (id, kind, "
	    "email, display_name, payout_threshold_cent) VALUES (?, ?, ?, ?, "
	    "IF(? < 0, NULL, ?))", "ssssii", a->id, in->kind, in->email,
	    in->display_name, in->payout_threshold_cent,
	    in->payout_threshold_cent);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "account.create", a->id,
		    in->kind, err);
	return rc;
}

/*
 * tly_account_create - a talent, agent, ambassador or host partner,
 * made by 'actor' (audited)
 */
int
tly_account_create(tly_ctx *ctx, const tly_principal *actor,
    const tly_account_new *in, tly_account *out, tly_err *err)
{
	create_args a;
	char id[40];
	int rc;

	if (in->kind == NULL || !in_list(in->kind, all_kinds))
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "kind", "kind must be one of: %s.", TLY_ACCOUNT_KINDS);
	if (!in_list(in->kind, api_kinds))
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "account_kind_reserved", "kind", "Accounts of kind '%s' "
		    "are created by Tally itself.", in->kind);
	if (in->email && !email_ok(in->email))
		return bad(err, "email", "'%s' is not an email address.",
		    in->email);
	if (in->display_name && strlen(in->display_name) > 200)
		return bad(err, "display_name", "%s is longer than 200 bytes.",
		    "display_name");
	if (in->payout_threshold_cent < -1)
		return bad(err, "payout_threshold_cent", "%s must be >= 0.",
		    "payout_threshold_cent");
	if (tly_id_new(id, sizeof(id), "acc") != TLY_OK)
		return tly_err_internal(err);
	a.actor = actor;
	a.in = in;
	a.id = id;
	rc = create_tx_run(ctx, "account.create", &a, err);
	if (rc)
		return rc;
	return tly_account_get(ctx, id, out, err);
}

typedef struct threshold_args {
	const tly_principal	*actor;
	const char		*id;
	int64_t			 cent;
} threshold_args;

TLY_TX_TYPED(threshold_tx, threshold_args)
static int
threshold_tx(tly_ctx *ctx, threshold_args *a, tly_err *err)
{
	char kind[24], detail[32];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ? "
	    "FOR UPDATE", "s>s", a->id, kind, sizeof(kind));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account: '%.40s'.", a->id);
	if (rc)
		return rc;
	if (!in_list(kind, api_kinds))
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "account_not_payee", "id", "Only a payee (talent, agent, "
		    "ambassador, host partner) has a payout threshold.");
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "payout_threshold_cent = IF(? < 0, NULL, ?) WHERE id = ?", "iis",
	    a->cent, a->cent, a->id);
	snprintf(detail, sizeof(detail), "%lld", (long long)a->cent);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "account.payout_threshold",
		    a->id, a->cent < 0 ? "default" : detail, err);
	return rc;
}

/*
 * tly_account_threshold_set - 'actor' sets payee 'id''s own payout
 * threshold ('cent' >= 0), or the currency's again ('cent' -1), audited
 * in the same transaction; the next payouts run uses it.  404 unknown,
 * 422 account_not_payee for other kinds.
 */
int
tly_account_threshold_set(tly_ctx *ctx, const tly_principal *actor,
    const char *id, int64_t cent, tly_err *err)
{
	threshold_args a;

	if (cent < -1)
		return bad(err, "payout_threshold_cent", "%s must be >= 0.",
		    "payout_threshold_cent");
	a.actor = actor;
	a.id = id;
	a.cent = cent;
	return threshold_tx_run(ctx, "account.payout_threshold", &a, err);
}

#define ACCOUNT_COLS \
	"a.id, a.kind, a.email, a.display_name, a.connect_account_id, " \
	"IFNULL(a.payout_threshold_cent, -1), a.charges_enabled, " \
	"a.payouts_enabled, FLOOR(UNIX_TIMESTAMP(a.created_at)), " \
	"l.ambassador_account_id, l.share_bps, " \
	"FLOOR(UNIX_TIMESTAMP(l.active_from)), " \
	"IFNULL(FLOOR(UNIX_TIMESTAMP(l.active_until)), 0) " \
	"FROM accounts a LEFT JOIN ambassador_links l " \
	"ON l.talent_account_id = a.id "

static void
account_row(tly_q *q, tly_account *a)
{
	memset(a, 0, sizeof(*a));
	tly_q_col_copy(q, 0, a->id, sizeof(a->id));
	tly_q_col_copy(q, 1, a->kind, sizeof(a->kind));
	tly_q_col_copy(q, 2, a->email, sizeof(a->email));
	tly_q_col_copy(q, 3, a->display_name, sizeof(a->display_name));
	tly_q_col_copy(q, 4, a->connect_account_id,
	    sizeof(a->connect_account_id));
	a->payout_threshold_cent = tly_q_col_i64(q, 5);
	a->charges_enabled = (int)tly_q_col_i64(q, 6);
	a->payouts_enabled = (int)tly_q_col_i64(q, 7);
	a->created = tly_q_col_i64(q, 8);
	tly_q_col_copy(q, 9, a->ambassador_id, sizeof(a->ambassador_id));
	a->ambassador_bps = tly_q_col_i64(q, 10);
	a->ambassador_from = tly_q_col_i64(q, 11);
	a->ambassador_until = tly_q_col_i64(q, 12);
}

/* tly_account_get - account 'id' (404 when unknown) */
int
tly_account_get(tly_ctx *ctx, const char *id, tly_account *out, tly_err *err)
{
	tly_q q;
	int rc;

	if (tly_q_prep(ctx->db, &q, "SELECT " ACCOUNT_COLS
	    "WHERE a.id = ?", err))
		return q.rc;
	tly_q_str(&q, id);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	if (rc == TLY_ROW)
		account_row(&q, out);
	tly_q_done(&q);
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such account: '%.40s'.", id);
	return rc == TLY_ROW ? TLY_OK : rc;
}

/* tly_accounts_list - accounts, newest first, of 'kind' when not NULL */
int
tly_accounts_list(tly_ctx *ctx, const tly_page *p, const char *kind,
    tly_account **out, int *n, int *more, tly_err *err)
{
	tly_account *rows;
	tly_q q;
	int rc;

	*n = *more = 0;
	if (kind && !in_list(kind, all_kinds))
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "kind", "kind must be one of: %s.", TLY_ACCOUNT_KINDS);
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT " ACCOUNT_COLS "WHERE a.id < ? "
	    "AND (? IS NULL OR a.kind = ?) ORDER BY a.id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_str(&q, kind);
	tly_q_str(&q, kind);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		account_row(&q, &rows[(*n)++]);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

/*
 * require_kind - account 'id' exists and is of 'kind'; 404 naming
 * 'param' when unknown, 422 when of another kind.
 */
static int
require_kind(tly_ctx *ctx, const char *id, const char *kind,
    const char *param, tly_err *err)
{
	char got[16];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ?",
	    "s>s", id, got, sizeof(got));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    param, "No such account: '%.40s'.", id);
	if (rc)
		return rc;
	if (strcmp(got, kind) != 0)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "wrong_account_kind", param, "Account '%.40s' is a %s, "
		    "not a %s.", id, got, kind);
	return TLY_OK;
}

typedef struct link_args {
	const tly_principal	*actor;
	const char		*talent, *amb;
	int64_t			 bps, from, until;
} link_args;

/* link_tx - the link and its audit row */
TLY_TX_TYPED(link_tx, link_args)
static int
link_tx(tly_ctx *ctx, link_args *a, tly_err *err)
{
	char detail[96];
	int rc;

	rc = require_kind(ctx, a->talent, "talent", "id", err);
	if (rc == TLY_OK)
		rc = require_kind(ctx, a->amb, "ambassador",
		    "ambassador_account_id", err);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "ambassador_links (talent_account_id, "
		    "ambassador_account_id, share_bps, active_from, "
		    "active_until) VALUES (?, ?, ?, FROM_UNIXTIME(?), "
		    "IF(? = 0, NULL, FROM_UNIXTIME(?))) ON DUPLICATE KEY "
		    "UPDATE ambassador_account_id = "
		    "VALUES(ambassador_account_id), share_bps = "
		    "VALUES(share_bps), active_from = VALUES(active_from), "
		    "active_until = VALUES(active_until)", "ssiiii",
		    a->talent, a->amb, a->bps, a->from, a->until, a->until);
	snprintf(detail, sizeof(detail), "%.40s %lld bps", a->amb,
	    (long long)a->bps);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "account.ambassador", a->talent,
		    detail, err);
	return rc;
}

/*
 * tly_ambassador_link_set - 'amb' earns 'bps' of the platform fee of
 * talent 'talent''s sales from 'from' until 'until' (unix seconds; 0 =
 * open-ended), set by 'actor' (audited).  A talent has at most one
 * ambassador: setting a link replaces the previous one.
 */
int
tly_ambassador_link_set(tly_ctx *ctx, const tly_principal *actor,
    const char *talent, const char *amb, int64_t bps, int64_t from,
    int64_t until, tly_err *err)
{
	link_args a;

	if (bps < 0 || bps > 10000)
		return bad(err, "share_bps", "%s must be between 0 and 10000.",
		    "share_bps");
	if (until && until <= from)
		return bad(err, "active_until", "%s must be after active_from.",
		    "active_until");
	a = (link_args){ actor, talent, amb, bps, from, until };
	return link_tx_run(ctx, "account.ambassador", &a, err);
}

static int
slug_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

typedef struct host_args {
	const tly_principal	*actor;
	const char		*slug, *account;
	int64_t			 bps;
} host_args;

/* host_tx - the host partner and its audit row */
TLY_TX_TYPED(host_tx, host_args)
static int
host_tx(tly_ctx *ctx, host_args *a, tly_err *err)
{
	int rc;

	rc = require_kind(ctx, a->account, "host_partner", "account_id", err);
	if (rc)
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO host_partners (slug, "
	    "account_id, share_bps) VALUES (?, ?, ?)", "ssi", a->slug,
	    a->account, a->bps);
	if (rc == TLY_CONFLICT)
		return tly_err_param(err, TLY_EK_CONFLICT, "slug_taken", "slug",
		    "The host partner slug '%.64s' exists.", a->slug);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "host_partner.create", a->slug,
		    a->account, err);
	return rc;
}

/*
 * tly_host_partner_create - slug 'slug' -> host partner 'account', made
 * by 'actor' (audited)
 */
int
tly_host_partner_create(tly_ctx *ctx, const tly_principal *actor,
    const char *slug, const char *account, int64_t bps, tly_err *err)
{
	host_args a;

	if (!slug_ok(slug))
		return bad(err, "slug", "'%.64s' is not a slug (1 to 64 of "
		    "a-z 0-9 - _).", slug);
	if (bps < 0 || bps > 10000)
		return bad(err, "share_bps", "%s must be between 0 and 10000.",
		    "share_bps");
	a = (host_args){ actor, slug, account, bps };
	return host_tx_run(ctx, "host_partner.create", &a, err);
}

/* --- products ------------------------------------------------------- */

#define PRODUCT_COLS \
	"id, name, seller_account_id, agent_account_id, agent_bps, " \
	"price_cent, currency, IFNULL(fee_fixed_cent, -1), " \
	"IFNULL(fee_bps, -1), IFNULL(stock, -1), " \
	"active, FLOOR(UNIX_TIMESTAMP(created_at)) FROM products "

static void
product_row(tly_q *q, tly_product *p)
{
	memset(p, 0, sizeof(*p));
	tly_q_col_copy(q, 0, p->id, sizeof(p->id));
	tly_q_col_copy(q, 1, p->name, sizeof(p->name));
	tly_q_col_copy(q, 2, p->seller_id, sizeof(p->seller_id));
	tly_q_col_copy(q, 3, p->agent_id, sizeof(p->agent_id));
	p->agent_bps = tly_q_col_i64(q, 4);
	p->price_cent = tly_q_col_i64(q, 5);
	tly_q_col_copy(q, 6, p->currency, sizeof(p->currency));
	p->fee_fixed_cent = tly_q_col_i64(q, 7);
	p->fee_bps = tly_q_col_i64(q, 8);
	p->stock = tly_q_col_i64(q, 9);
	p->active = (int)tly_q_col_i64(q, 10);
	p->created = tly_q_col_i64(q, 11);
}

/* load_product - product 'id' into 'p', locking it when 'lock' */
static int
load_product(tly_ctx *ctx, const char *id, int lock, tly_product *p,
    tly_err *err)
{
	tly_q q;
	int rc;

	if (tly_q_prep(ctx->db, &q, lock ? "SELECT " PRODUCT_COLS
	    "WHERE id = ? FOR UPDATE" : "SELECT " PRODUCT_COLS "WHERE id = ?",
	    err))
		return q.rc;
	tly_q_str(&q, id);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	if (rc == TLY_ROW)
		product_row(&q, p);
	tly_q_done(&q);
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such product: '%.40s'.", id);
	return rc == TLY_ROW ? TLY_OK : rc;
}

/* tly_product_lock - product 'id', locked FOR UPDATE (in a transaction) */
int
tly_product_lock(tly_ctx *ctx, const char *id, tly_product *out, tly_err *err)
{
	return load_product(ctx, id, 1, out, err);
}

/* tly_product_get - product 'id' (404 when unknown) */
int
tly_product_get(tly_ctx *ctx, const char *id, tly_product *out, tly_err *err)
{
	return load_product(ctx, id, 0, out, err);
}

/*
 * check_product - the product's rules against its currency and against
 * the split for one unit with the default host partner and ambassador
 * shares (the checkout re-checks with the real ones).
 */
static int
check_product(tly_ctx *ctx, const tly_product *p, tly_err *err)
{
	const tly_currency *cur;
	tly_split_in in;
	tly_split_out out;
	int rc;

	cur = tly_config_currency(ctx->cfg, p->currency);
	if (cur == NULL)
		return tly_err_param(err, TLY_EK_INVALID,
		    "currency_unsupported", "currency",
		    "Currency '%.8s' is not configured.", p->currency);
	if (p->name[0] == '\0')
		return bad(err, "name", "%s must not be empty.", "name");
	if (p->price_cent < 0 || p->price_cent > cur->max_charge_cent)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "amount_out_of_range", "price_cent", "price_cent must be "
		    "between 0 and %lld.", (long long)cur->max_charge_cent);
	if (p->agent_bps < 0 || p->agent_bps > 10000)
		return bad(err, "agent_bps", "%s must be between 0 and 10000.",
		    "agent_bps");
	if (p->agent_id[0] == '\0' && p->agent_bps != 0)
		return bad(err, "agent_bps", "%s needs an agent_account_id.",
		    "agent_bps");
	if (p->stock < -1)
		return bad(err, "stock", "%s must be >= 0 or null.", "stock");
	if (p->fee_bps > 10000)
		return bad(err, "fee_bps", "%s must be between 0 and 10000.",
		    "fee_bps");
	if ((p->fee_fixed_cent >= 0) == (p->fee_bps >= 0))
		return tly_err_internal(err);	/* fee_from_in sets one */
	memset(&in, 0, sizeof(in));
	in.price_cent = p->price_cent;
	in.quantity = 1;
	in.fee_kind = p->fee_bps >= 0 ? TLY_FEE_BPS : TLY_FEE_FIXED;
	in.fee_fixed_cent = p->fee_fixed_cent;
	in.fee_bps = p->fee_bps;
	in.agent_bps = p->agent_bps;
	in.host_bps = ctx->cfg->host_partner_bps;
	in.ambassador_bps = ctx->cfg->ambassador_bps;
	in.stripe_bps = cur->stripe_fee_bps;
	in.stripe_fixed_cent = cur->stripe_fee_fixed_cent;
	in.platform_bears_stripe_fee = ctx->cfg->platform_bears_stripe_fee;
	in.max_amount_cent = cur->max_charge_cent;
	rc = tly_split(&in, &out, err);
	if (rc == TLY_OK)
		return TLY_OK;
	if (strcmp(err->code, "amount_too_small") == 0) {
		tly_err_clear(err);		/* a larger quantity may do */
		return TLY_OK;
	}
	return rc;
}

/*
 * fee_from_in - the platform-fee policy of 'in' into 'p': a fixed fee
 * (fee_fixed_cent) or one in basis points of the subtotal (fee_bps),
 * never both; with neither, a fixed fee of 'dflt' (-1: p's stays).
 * Exactly one of p->fee_fixed_cent and p->fee_bps is >= 0 after it.
 */
static int
fee_from_in(const tly_product_in *in, int64_t dflt, tly_product *p,
    tly_err *err)
{
	if (in->fee_fixed_cent >= 0 && in->fee_bps >= 0)
		return bad(err, "fee_bps", "%s cannot be combined with "
		    "fee_fixed_cent: a platform fee is fixed or in bps.",
		    "fee_bps");
	if (in->fee_bps > 10000)
		return bad(err, "fee_bps", "%s must be between 0 and 10000.",
		    "fee_bps");
	if (in->fee_bps >= 0) {
		p->fee_bps = in->fee_bps;
		p->fee_fixed_cent = -1;
	} else if (in->fee_fixed_cent >= 0 || dflt >= 0) {
		p->fee_fixed_cent = in->fee_fixed_cent >= 0 ?
		    in->fee_fixed_cent : dflt;
		p->fee_bps = -1;
	}
	return TLY_OK;
}

/* product_from_in - defaults applied to a new product's fields */
static int
product_from_in(tly_ctx *ctx, const tly_product_in *in, tly_product *p,
    tly_err *err)
{
	const tly_currency *cur;

	memset(p, 0, sizeof(*p));
	if (in->name == NULL || strlen(in->name) > 200)
		return bad(err, "name", "%s needs 1 to 200 bytes.", "name");
	tly_strlcpy(p->name, in->name, sizeof(p->name));
	tly_strlcpy(p->seller_id, in->seller_id ? in->seller_id : "",
	    sizeof(p->seller_id));
	tly_strlcpy(p->agent_id, in->agent_id ? in->agent_id : "",
	    sizeof(p->agent_id));
	p->agent_bps = in->agent_bps;
	p->price_cent = in->price_cent;
	tly_strlcpy(p->currency, in->currency ? in->currency : "",
	    sizeof(p->currency));
	cur = tly_config_currency(ctx->cfg, p->currency);
	if (cur == NULL)
		return tly_err_param(err, TLY_EK_INVALID,
		    "currency_unsupported", "currency",
		    "Currency '%.8s' is not configured.", p->currency);
	if (fee_from_in(in, cur->platform_fee_cent, p, err) != TLY_OK)
		return TLY_ERR;
	p->stock = in->stock;
	p->active = 1;
	return TLY_OK;
}

typedef struct prod_args {
	const tly_principal	*actor;
	const tly_product	*p;
} prod_args;

/* product_tx - the parties checked, the product and its audit row */
TLY_TX_TYPED(product_tx, prod_args)
static int
product_tx(tly_ctx *ctx, prod_args *a, tly_err *err)
{
	const tly_product *p = a->p;
	int rc;

	rc = require_kind(ctx, p->seller_id, "talent", "seller_account_id",
	    err);
	if (rc == TLY_OK && p->agent_id[0])
		rc = require_kind(ctx, p->agent_id, "agent",
		    "agent_account_id", err);
	if (rc)
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO products (id, name, "
	    "seller_account_id, agent_account_id, agent_bps, price_cent, "
	    "currency, fee_fixed_cent, fee_bps, stock) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, IF(? < 0, NULL, ?), IF(? < 0, NULL, ?), IF(? < 0, NULL, "
	    "?))", "ssssiisiiiiii", p->id, p->name, p->seller_id,
	    p->agent_id[0] ? p->agent_id : NULL, p->agent_bps, p->price_cent,
	    p->currency, p->fee_fixed_cent, p->fee_fixed_cent, p->fee_bps,
	    p->fee_bps, p->stock, p->stock);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "product.create", p->id,
		    p->seller_id, err);
	return rc;
}

/*
 * tly_product_create - a new product sold by a talent, made by 'actor'
 * (audited)
 */
int
tly_product_create(tly_ctx *ctx, const tly_principal *actor,
    const tly_product_in *in, tly_product *out, tly_err *err)
{
	tly_product p;
	prod_args a;
	int rc;

	rc = product_from_in(ctx, in, &p, err);
	if (rc == TLY_OK)
		rc = check_product(ctx, &p, err);
	if (rc)
		return rc;
	if (tly_id_new(p.id, sizeof(p.id), "prod") != TLY_OK)
		return tly_err_internal(err);
	a.actor = actor;
	a.p = &p;
	rc = product_tx_run(ctx, "product.create", &a, err);
	if (rc)
		return rc;
	return tly_product_get(ctx, p.id, out, err);
}

typedef struct upd_args {
	const tly_principal	*actor;
	const char		*id;
	const tly_product_in	*in;
	tly_product		 p;
} upd_args;

/* changed - the fields 'has' marks, as "name,price" (the audit detail) */
static void
changed(unsigned has, char *dst, size_t sz)
{
	static const struct { unsigned f; const char *n; } names[] = {
		{ TLY_PF_NAME, "name" }, { TLY_PF_AGENT, "agent" },
		{ TLY_PF_PRICE, "price" }, { TLY_PF_FEE, "fee" },
		{ TLY_PF_STOCK, "stock" }, { TLY_PF_ACTIVE, "active" }
	};
	size_t i, n = 0;
	int w;

	dst[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(has & names[i].f) || n >= sz)
			continue;
		w = snprintf(dst + n, sz - n, "%s%s", n ? "," : "",
		    names[i].n);
		n += w > 0 ? (size_t)w : 0;
	}
}

/*
 * update_tx - lock the product, apply the changes, re-check, store, and
 * audit which fields changed
 */
TLY_TX_TYPED(update_tx, upd_args)

static int
update_tx(tly_ctx *ctx, upd_args *a, tly_err *err)
{
	const tly_product_in *in = a->in;
	tly_product *p = &a->p;
	char detail[64];
	int rc;

	rc = load_product(ctx, a->id, 1, p, err);
	if (rc)
		return rc;
	if (in->has & TLY_PF_NAME) {
		if (in->name == NULL || strlen(in->name) > 200)
			return bad(err, "name", "%s needs 1 to 200 bytes.",
			    "name");
		tly_strlcpy(p->name, in->name, sizeof(p->name));
	}
	if (in->has & TLY_PF_AGENT) {
		tly_strlcpy(p->agent_id, in->agent_id ? in->agent_id : "",
		    sizeof(p->agent_id));
		p->agent_bps = in->agent_bps;
	}
	if (in->has & TLY_PF_PRICE)
		p->price_cent = in->price_cent;
	if ((in->has & TLY_PF_FEE) && fee_from_in(in, -1, p, err) != TLY_OK)
		return TLY_ERR;
	if (in->has & TLY_PF_STOCK)
		p->stock = in->stock;
	if (in->has & TLY_PF_ACTIVE)
		p->active = in->active;
	rc = check_product(ctx, p, err);
	if (rc == TLY_OK && (in->has & TLY_PF_AGENT) && p->agent_id[0])
		rc = require_kind(ctx, p->agent_id, "agent",
		    "agent_account_id", err);
	if (rc)
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE products SET name = ?, "
	    "agent_account_id = ?, agent_bps = ?, price_cent = ?, "
	    "fee_fixed_cent = IF(? < 0, NULL, ?), fee_bps = IF(? < 0, NULL, "
	    "?), stock = IF(? < 0, NULL, ?), active = ? WHERE id = ?",
	    "ssiiiiiiiiis", p->name, p->agent_id[0] ? p->agent_id : NULL,
	    p->agent_bps, p->price_cent, p->fee_fixed_cent, p->fee_fixed_cent,
	    p->fee_bps, p->fee_bps, p->stock, p->stock, (int64_t)p->active,
	    p->id);
	changed(in->has, detail, sizeof(detail));
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "product.update", p->id,
		    detail[0] ? detail : NULL, err);
	return rc;
}

/*
 * tly_product_update - 'actor' changes the fields marked in in->has
 * (audited)
 */
int
tly_product_update(tly_ctx *ctx, const tly_principal *actor, const char *id,
    const tly_product_in *in, tly_product *out, tly_err *err)
{
	upd_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.id = id;
	a.in = in;
	rc = update_tx_run(ctx, "product.update", &a, err);
	if (rc)
		return rc;
	return tly_product_get(ctx, id, out, err);
}

/*
 * tly_product_take - take 'qty' units of product 'id' (locked by the
 * caller) from its stock, when that many are left: '*taken' 1, else 0
 * and nothing changes
 */
int
tly_product_take(tly_ctx *ctx, const char *id, int64_t qty, int *taken,
    tly_err *err)
{
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE products SET stock = stock "
	    "- ? WHERE id = ? AND stock >= ?", "isi", qty, id, qty);
	*taken = rc == TLY_OK && n == 1;
	return rc;
}

/*
 * tly_product_reserve - take 'qty' units of product 'id' (locked by the
 * caller, who checked that they are left)
 */
int
tly_product_reserve(tly_ctx *ctx, const char *id, int64_t qty,
    tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE products SET "
	    "stock = stock - ? WHERE id = ?", "is", qty, id);
}

/*
 * tly_product_give_back - 'qty' units back to product 'id''s stock
 * (locked by the caller; nothing when its stock is unlimited)
 */
int
tly_product_give_back(tly_ctx *ctx, const char *id, int64_t qty,
    tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE products SET "
	    "stock = stock + ? WHERE id = ? AND stock IS NOT NULL",
	    "is", qty, id);
}

/* list_products - products (only the active ones), newest first */
static int
list_products(tly_ctx *ctx, const tly_page *pg, int active_only,
    tly_product **out, int *n, int *more, tly_err *err)
{
	tly_product *rows;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = tly_pcalloc(ctx->pool, (size_t)(pg->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, active_only ? "SELECT " PRODUCT_COLS
	    "WHERE id < ? AND active = 1 ORDER BY id DESC LIMIT ?" :
	    "SELECT " PRODUCT_COLS "WHERE id < ? ORDER BY id DESC LIMIT ?",
	    err))
		return q.rc;
	tly_q_str(&q, tly_page_cursor(pg));
	tly_q_i64(&q, pg->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == pg->limit) {
			*more = 1;
			continue;
		}
		product_row(&q, &rows[(*n)++]);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

/* tly_products_list - every product, newest first (servers) */
int
tly_products_list(tly_ctx *ctx, const tly_page *pg, tly_product **out, int *n,
    int *more, tly_err *err)
{
	return list_products(ctx, pg, 0, out, n, more, err);
}

/* tly_products_list_active - the products on sale, newest first (buyers) */
int
tly_products_list_active(tly_ctx *ctx, const tly_page *pg, tly_product **out,
    int *n, int *more, tly_err *err)
{
	return list_products(ctx, pg, 1, out, n, more, err);
}

/* --- the accounts' other writers ---------------------------------- */

/*
 * tly_account_buyer_insert - buyer account 'id' (auth.c, on first use),
 * with 'email' when there is one; TLY_CONFLICT on a duplicate
 */
int
tly_account_buyer_insert(tly_ctx *ctx, const char *id, const char *email,
    tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL,
	    "INSERT INTO accounts (id, kind, email) VALUES (?, 'buyer', ?)",
	    "ss", id, email && *email ? email : NULL);
}

typedef struct req_args {
	const tly_principal	*actor;
	const char		*acc;
} req_args;

/* requested_tx - step 1, audited when it changed the row */
TLY_TX_TYPED(requested_tx, req_args)
static int
requested_tx(tly_ctx *ctx, req_args *a, tly_err *err)
{
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE accounts SET "
	    "connect_state = 'to_create', connect_requested_at = NOW(3) WHERE "
	    "id = ? AND connect_state IS NULL AND connect_account_id IS NULL",
	    "s", a->acc);
	if (rc == TLY_OK && n == 1)
		rc = tly_audit(ctx, a->actor, "account.connect", a->acc, NULL,
		    err);
	return rc;
}

/*
 * tly_account_connect_requested - step 1 of payee 'acc''s Connect
 * account (connect.c), asked for by 'actor': to_create, unless it has
 * one or one is under way; audited when it was not
 */
int
tly_account_connect_requested(tly_ctx *ctx, const tly_principal *actor,
    const char *acc, tly_err *err)
{
	req_args a;

	a.actor = actor;
	a.acc = acc;
	return requested_tx_run(ctx, "account.connect", &a, err);
}

/*
 * tly_account_connect_created - payee 'acc' has Connect account 'acct'
 * (requirements 'due' count until an account.updated is applied)
 */
int
tly_account_connect_created(tly_ctx *ctx, const char *acc,
    const char *acct, const char *due, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "requirements_due = IF(connect_event_created = 0, ?, "
	    "requirements_due), connect_account_id = IFNULL("
	    "connect_account_id, ?), connect_state = 'created' WHERE id = ?",
	    "sss", due, acct, acc);
}

/*
 * tly_account_connect_retry - Stripe refused payee 'acc''s account:
 * onboarding starts again under the next key generation
 */
int
tly_account_connect_retry(tly_ctx *ctx, const char *acc, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "connect_state = NULL, connect_key_gen = connect_key_gen + 1 "
	    "WHERE id = ? AND connect_state IN ('to_create', 'unknown')",
	    "s", acc);
}

/*
 * tly_account_connect_state - account.updated 'u' of payee 'acc',
 * applied unless a newer one was; '*n' is 1 when it was applied.  A
 * payee that can be paid again is no longer backed off.
 */
int
tly_account_connect_state(tly_ctx *ctx, const char *acc,
    const tly_account_connect *u, uint64_t *n, tly_err *err)
{
	/* assignments run left to right: the retry reset reads the old flag */
	return tly_db_exec(ctx->db, err, n, "UPDATE accounts SET "
	    "payout_retry_at = IF(? = 1 AND payouts_enabled = 0, NULL, "
	    "payout_retry_at), charges_enabled = ?, payouts_enabled = ?, "
	    "requirements_due = ?, connect_event_created = ? WHERE id = ? AND "
	    "connect_event_created <= ?", "iiisisi",
	    (int64_t)u->payouts_enabled, (int64_t)u->charges_enabled,
	    (int64_t)u->payouts_enabled, u->due, u->created, acc, u->created);
}

/*
 * tly_account_payout_flag - payee 'acc' has a payout to look into (its
 * bank refused one): the flag its next payout clears
 */
int
tly_account_payout_flag(tly_ctx *ctx, const char *acc, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "email_outstanding_payout = 1 WHERE id = ?", "s", acc);
}

/* tly_account_payout_ok - payee 'acc' was paid: no backoff, deferred */
int
tly_account_payout_ok(tly_ctx *ctx, const char *acc, tly_err *err)
{
	return tly_db_later(ctx->db, err, "UPDATE accounts SET "
	    "payout_failures = 0, payout_retry_at = NULL, "
	    "email_outstanding_payout = 0 WHERE id = ?", "s", acc);
}

/*
 * tly_account_payout_failed - a payout of payee 'acc' failed: backed off
 * 'base_s' × 2^failures (at most a week) and flagged, deferred
 */
int
tly_account_payout_failed(tly_ctx *ctx, const char *acc, int64_t base_s,
    tly_err *err)
{
	/* assignments run left to right: the delay reads the old count */
	return tly_db_later(ctx->db, err, "UPDATE accounts SET "
	    "payout_retry_at = NOW(3) + INTERVAL LEAST(? * POW(2, "
	    "LEAST(payout_failures, 20)), 604800) SECOND, "
	    "payout_failures = payout_failures + 1, "
	    "email_outstanding_payout = 1 WHERE id = ?", "is", base_s, acc);
}

/*
 * tly_account_payout_retry_now - payee 'acc''s backoff lifted: the next
 * payouts run may pay it (payout_retry.c, under the account's lock)
 */
int
tly_account_payout_retry_now(tly_ctx *ctx, const char *acc, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE accounts SET "
	    "payout_retry_at = NULL WHERE id = ?", "s", acc);
}

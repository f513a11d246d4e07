/*
 * catalog.c - accounts, ambassador links, host partners, products
 *
 * Owns the tables accounts (except buyers, made by auth.c on first use),
 * ambassador_links, host_partners and products, and their validation (see
 * catalog.h).  The platform and Stripe-fee accounts are made by the first
 * migration; the API creates talents, agents, ambassadors and host
 * partners.  A product is checked against the split rules at creation
 * and at every update, for one unit and the configured default host
 * partner and ambassador shares, so a product that would leave a share
 * negative is never sold; the checkout re-checks with the real quantity
 * and parties.
 *
 * API:	tly_account_create(), tly_account_get(), tly_accounts_list(),
 *	tly_ambassador_link_set(), tly_host_partner_create(),
 *	tly_product_create(), tly_product_get(), tly_product_update(),
 *	tly_products_list(), tly_products_list_active().
 */
#include <stdio.h>
#include <string.h>

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

/* tly_account_create - a talent, agent, ambassador or host partner */
int
tly_account_create(tly_ctx *ctx, const tly_account_new *in, tly_account *out,
    tly_err *err)
{
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
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO accounts (id, kind, "
	    "email, display_name, payout_threshold_cent) VALUES (?, ?, ?, ?, "
	    "IF(? < 0, NULL, ?))", "ssssii", id, in->kind, in->email,
	    in->display_name, in->payout_threshold_cent,
	    in->payout_threshold_cent);
	if (rc)
		return rc;
	return tly_account_get(ctx, id, out, err);
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
copy(tly_q *q, int col, char *dst, size_t sz)
{
	const char *v = tly_q_col_str(q, col);

	tly_strlcpy(dst, v ? v : "", sz);
}

static void
account_row(tly_q *q, tly_account *a)
{
	memset(a, 0, sizeof(*a));
	copy(q, 0, a->id, sizeof(a->id));
	copy(q, 1, a->kind, sizeof(a->kind));
	copy(q, 2, a->email, sizeof(a->email));
	copy(q, 3, a->display_name, sizeof(a->display_name));
	copy(q, 4, a->connect_account_id, sizeof(a->connect_account_id));
	a->payout_threshold_cent = tly_q_col_i64(q, 5);
	a->charges_enabled = (int)tly_q_col_i64(q, 6);
	a->payouts_enabled = (int)tly_q_col_i64(q, 7);
	a->created = tly_q_col_i64(q, 8);
	copy(q, 9, a->ambassador_id, sizeof(a->ambassador_id));
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

/*
 * tly_ambassador_link_set - 'amb' earns 'bps' of the platform fee of
 * talent 'talent''s sales from 'from' until 'until' (unix seconds; 0 =
 * open-ended).  A talent has at most one ambassador: setting a link
 * replaces the previous one.
 */
int
tly_ambassador_link_set(tly_ctx *ctx, const char *talent, const char *amb,
    int64_t bps, int64_t from, int64_t until, tly_err *err)
{
	int rc;

	if (bps < 0 || bps > 10000)
		return bad(err, "share_bps", "%s must be between 0 and 10000.",
		    "share_bps");
	if (until && until <= from)
		return bad(err, "active_until", "%s must be after active_from.",
		    "active_until");
	rc = require_kind(ctx, talent, "talent", "id", err);
	if (rc == TLY_OK)
		rc = require_kind(ctx, amb, "ambassador",
		    "ambassador_account_id", err);
	if (rc)
		return rc;
	return tly_db_exec(ctx->db, err, NULL, "INSERT INTO ambassador_links "
	    "(talent_account_id, ambassador_account_id, share_bps, "
	    "active_from, active_until) VALUES (?, ?, ?, FROM_UNIXTIME(?), "
	    "IF(? = 0, NULL, FROM_UNIXTIME(?))) ON DUPLICATE KEY UPDATE "
	    "ambassador_account_id = VALUES(ambassador_account_id), "
	    "share_bps = VALUES(share_bps), active_from = VALUES(active_from), "
	    "active_until = VALUES(active_until)", "ssiiii", talent, amb, bps,
	    from, until, until);
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

/* tly_host_partner_create - slug 'slug' -> host partner 'account' */
int
tly_host_partner_create(tly_ctx *ctx, const char *slug, const char *account,
    int64_t bps, tly_err *err)
{
	int rc;

	if (!slug_ok(slug))
		return bad(err, "slug", "'%.64s' is not a slug (1 to 64 of "
		    "a-z 0-9 - _).", slug);
	if (bps < 0 || bps > 10000)
		return bad(err, "share_bps", "%s must be between 0 and 10000.",
		    "share_bps");
	rc = require_kind(ctx, account, "host_partner", "account_id", err);
	if (rc)
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO host_partners (slug, "
	    "account_id, share_bps) VALUES (?, ?, ?)", "ssi", slug, account,
	    bps);
	if (rc == TLY_CONFLICT)
		return tly_err_param(err, TLY_EK_CONFLICT, "slug_taken", "slug",
		    "The host partner slug '%.64s' exists.", slug);
	return rc;
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
	copy(q, 0, p->id, sizeof(p->id));
	copy(q, 1, p->name, sizeof(p->name));
	copy(q, 2, p->seller_id, sizeof(p->seller_id));
	copy(q, 3, p->agent_id, sizeof(p->agent_id));
	p->agent_bps = tly_q_col_i64(q, 4);
	p->price_cent = tly_q_col_i64(q, 5);
	copy(q, 6, p->currency, sizeof(p->currency));
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

/* tly_product_create - a new product sold by a talent */
int
tly_product_create(tly_ctx *ctx, const tly_product_in *in, tly_product *out,
    tly_err *err)
{
	tly_product p;
	int rc;

	rc = product_from_in(ctx, in, &p, err);
	if (rc == TLY_OK)
		rc = check_product(ctx, &p, err);
	if (rc == TLY_OK)
		rc = require_kind(ctx, p.seller_id, "talent",
		    "seller_account_id", err);
	if (rc == TLY_OK && p.agent_id[0])
		rc = require_kind(ctx, p.agent_id, "agent",
		    "agent_account_id", err);
	if (rc)
		return rc;
	if (tly_id_new(p.id, sizeof(p.id), "prod") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO products (id, name, "
	    "seller_account_id, agent_account_id, agent_bps, price_cent, "
	    "currency, fee_fixed_cent, fee_bps, stock) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, IF(? < 0, NULL, ?), IF(? < 0, NULL, ?), IF(? < 0, NULL, "
	    "?))", "ssssiisiiiiii", p.id, p.name, p.seller_id,
	    p.agent_id[0] ? p.agent_id : NULL, p.agent_bps, p.price_cent,
	    p.currency, p.fee_fixed_cent, p.fee_fixed_cent, p.fee_bps,
	    p.fee_bps, p.stock, p.stock);
	if (rc)
		return rc;
	return tly_product_get(ctx, p.id, out, err);
}

typedef struct upd_args {
	const char		*id;
	const tly_product_in	*in;
	tly_product		 p;
} upd_args;

/* update_tx - lock the product, apply the changes, re-check, store */
static int
update_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	upd_args *a = arg;
	const tly_product_in *in = a->in;
	tly_product *p = &a->p;
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
	return tly_db_exec(ctx->db, err, NULL, "UPDATE products SET name = ?, "
	    "agent_account_id = ?, agent_bps = ?, price_cent = ?, "
	    "fee_fixed_cent = IF(? < 0, NULL, ?), fee_bps = IF(? < 0, NULL, "
	    "?), stock = IF(? < 0, NULL, ?), active = ? WHERE id = ?",
	    "ssiiiiiiiiis", p->name, p->agent_id[0] ? p->agent_id : NULL,
	    p->agent_bps, p->price_cent, p->fee_fixed_cent, p->fee_fixed_cent,
	    p->fee_bps, p->fee_bps, p->stock, p->stock, (int64_t)p->active,
	    p->id);
}

/* tly_product_update - change the fields marked in in->has */
int
tly_product_update(tly_ctx *ctx, const char *id, const tly_product_in *in,
    tly_product *out, tly_err *err)
{
	upd_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.id = id;
	a.in = in;
	rc = tly_tx_run(ctx, "product.update", update_tx, &a, err);
	if (rc)
		return rc;
	return tly_product_get(ctx, id, out, err);
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

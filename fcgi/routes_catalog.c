/*
 * routes_catalog.c - accounts, ambassador links, host partners, products
 *
 * The marketplace's server (API key) manages the catalog; buyers may read
 * products (the checkout page shows them) in a rendering of their own:
 * active products only, name, price and whether one is available -- not
 * the seller, agent, fee rules or exact stock, which are the
 * marketplace's business.  Parsing and rendering only: every rule is in
 * core/catalog.c.
 *
 * API:	tly_h_accounts_*(), tly_h_ambassador_set(),
 *	tly_h_host_partner_create(), tly_h_products_*().
 */
#include <string.h>

#include "catalog.h"
#include "routes.h"
#include "tly_str.h"

/* --- rendering ------------------------------------------------------ */

static void
str_or_null(tly_jw *w, const char *k, const char *v)
{
	tly_jw_str(w, k, v && *v ? v : NULL);
}

/* int_or_null - 'v', or null when it is negative (not set) */
static void
int_or_null(tly_jw *w, const char *k, int64_t v)
{
	if (v >= 0)
		tly_jw_int(w, k, v);
	else
		tly_jw_null(w, k);
}

/* account_members - the members of account 'a''s object */
static void
account_members(tly_jw *w, const tly_account *a)
{
	tly_jw_str(w, "object", "account");
	tly_jw_str(w, "id", a->id);
	tly_jw_str(w, "kind", a->kind);
	str_or_null(w, "email", a->email);
	str_or_null(w, "display_name", a->display_name);
	str_or_null(w, "connect_account_id", a->connect_account_id);
	if (a->payout_threshold_cent >= 0)
		tly_jw_int(w, "payout_threshold_cent",
		    a->payout_threshold_cent);
	else
		tly_jw_null(w, "payout_threshold_cent");
	tly_jw_bool(w, "charges_enabled", a->charges_enabled);
	tly_jw_bool(w, "payouts_enabled", a->payouts_enabled);
	if (a->ambassador_id[0]) {
		tly_jw_obj(w, "ambassador");
		tly_jw_str(w, "account_id", a->ambassador_id);
		tly_jw_int(w, "share_bps", a->ambassador_bps);
		tly_jw_int(w, "active_from", a->ambassador_from);
		if (a->ambassador_until)
			tly_jw_int(w, "active_until", a->ambassador_until);
		else
			tly_jw_null(w, "active_until");
		tly_jw_end(w);
	} else
		tly_jw_null(w, "ambassador");
	tly_jw_int(w, "created", a->created);
}

void
tly_render_account(tly_jw *w, const tly_account *a)
{
	tly_jw_obj(w, NULL);
	account_members(w, a);
	tly_jw_end(w);
}

/* product_members - the members of product 'p''s object */
static void
product_members(tly_jw *w, const tly_product *p)
{
	tly_jw_str(w, "object", "product");
	tly_jw_str(w, "id", p->id);
	tly_jw_str(w, "name", p->name);
	tly_jw_str(w, "seller_account_id", p->seller_id);
	str_or_null(w, "agent_account_id", p->agent_id);
	tly_jw_int(w, "agent_bps", p->agent_bps);
	tly_jw_int(w, "price_cent", p->price_cent);
	tly_jw_str(w, "currency", p->currency);
	int_or_null(w, "fee_fixed_cent", p->fee_fixed_cent);
	int_or_null(w, "fee_bps", p->fee_bps);
	/* deprecated: the one-field shape, derived (docs/api.md) */
	tly_jw_str(w, "fee_kind", p->fee_bps >= 0 ? "bps" : "fixed");
	tly_jw_int(w, "fee_value", p->fee_bps >= 0 ? p->fee_bps :
	    p->fee_fixed_cent);
	if (p->stock >= 0)
		tly_jw_int(w, "stock", p->stock);
	else
		tly_jw_null(w, "stock");
	tly_jw_bool(w, "active", p->active);
	tly_jw_int(w, "created", p->created);
}

void
tly_render_product(tly_jw *w, const tly_product *p)
{
	tly_jw_obj(w, NULL);
	product_members(w, p);
	tly_jw_end(w);
}

/* buyer_members - the members of what a buyer sees of product 'p' */
static void
buyer_members(tly_jw *w, const tly_product *p)
{
	tly_jw_str(w, "object", "product");
	tly_jw_str(w, "id", p->id);
	tly_jw_str(w, "name", p->name);
	tly_jw_int(w, "price_cent", p->price_cent);
	tly_jw_str(w, "currency", p->currency);
	tly_jw_bool(w, "available", p->active && p->stock != 0);
	tly_jw_int(w, "created", p->created);
}

/* render_for - product 'p' as principal 'r' may see it */
static void
render_for(tly_req *r, tly_jw *w, const tly_product *p)
{
	tly_jw_obj(w, NULL);
	if (r->principal.kind == TLY_PK_BUYER)
		buyer_members(w, p);
	else
		product_members(w, p);
	tly_jw_end(w);
}

/* reply_one - render one object with 'fn' and answer 'status' */
static int
reply_account(tly_req *r, int status, const tly_account *a)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	tly_render_account(&w, a);
	tly_reply_jw(r, status, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

static int
reply_product(tly_req *r, int status, const tly_product *p)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	render_for(r, &w, p);
	tly_reply_jw(r, status, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* i64_or - integer member 'k' of the body, or 'dflt' when absent/null */
static int64_t
i64_or(tly_req *r, const char *k, int64_t dflt)
{
	int64_t v;

	return tly_json_i64(r->json, k, &v) == TLY_OK ? v : dflt;
}

/*
 * nonneg - integer member 'k' of the body into '*out', or 'dflt' when
 * absent or null (the core's "not sent"); a sent negative is answered
 * 400 here, so that it is never taken for "not sent".
 */
static int
nonneg(tly_req *r, const char *k, int64_t dflt, int64_t *out)
{
	int64_t v;
	tly_err e;

	*out = dflt;
	if (tly_json_i64(r->json, k, &v) != TLY_OK)
		return TLY_OK;
	if (v >= 0) {
		*out = v;
		return TLY_OK;
	}
	tly_err_clear(&e);
	tly_err_param(&e, TLY_EK_INVALID, "parameter_invalid", k,
	    "%s must be >= 0.", k);
	return tly_core_err_or_reply(r, TLY_ERR, &e);
}

/* --- accounts ------------------------------------------------------- */

static const tly_jfield account_fields[] = {
	{ "kind", TLY_JF_STR | TLY_JF_REQUIRED, 16 },
	{ "email", TLY_JF_STR | TLY_JF_NULL, 254 },
	{ "display_name", TLY_JF_STR | TLY_JF_NULL, 200 },
	{ "payout_threshold_cent", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ NULL, 0, 0 }
};

/* tly_h_accounts_create - POST /api/v1/accounts */
int
tly_h_accounts_create(tly_req *r)
{
	tly_account_new in;
	tly_account a;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, account_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	memset(&in, 0, sizeof(in));
	in.kind = tly_json_str(r->json, "kind");
	in.email = tly_json_str(r->json, "email");
	in.display_name = tly_json_str(r->json, "display_name");
	if (nonneg(r, "payout_threshold_cent", -1,
	    &in.payout_threshold_cent) != TLY_OK)
		return TLY_ERR;
	rc = tly_account_create(r->ctx, &r->principal, &in, &a, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	return reply_account(r, 201, &a);
}

/* tly_h_accounts_get - GET /api/v1/accounts/{id} */
int
tly_h_accounts_get(tly_req *r)
{
	tly_account a;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_account_get(r->ctx, r->cap[0], &a,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_account(r, 200, &a);
}

/* accounts - fetch a page of accounts ('?kind=') into '*arg' */
static int
accounts(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	return tly_accounts_list(r->ctx, pg, tly_req_query(r, "kind"),
	    (tly_account **)arg, n, more, e);
}

/* account_row - account 'i' of '*arg' */
static void
account_row(tly_jw *w, const void *arg, int i)
{
	account_members(w, &(*(tly_account *const *)arg)[i]);
}

/* tly_h_accounts_list - GET /api/v1/accounts[?kind=] */
int
tly_h_accounts_list(tly_req *r)
{
	tly_account *rows = NULL;

	return tly_list_or_reply(r, "/api/v1/accounts", accounts, account_row,
	    &rows);
}

static const tly_jfield ambassador_fields[] = {
	{ "ambassador_account_id", TLY_JF_STR | TLY_JF_REQUIRED, 40 },
	{ "share_bps", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "active_from", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "active_until", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ NULL, 0, 0 }
};

/* tly_h_ambassador_set - POST /api/v1/accounts/{id}/ambassador */
int
tly_h_ambassador_set(tly_req *r)
{
	tly_account a;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, ambassador_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	rc = tly_ambassador_link_set(r->ctx, &r->principal, r->cap[0],
	    tly_json_str(r->json, "ambassador_account_id"),
	    i64_or(r, "share_bps", r->ctx->cfg->ambassador_bps),
	    i64_or(r, "active_from", tly_now_s()),
	    i64_or(r, "active_until", 0), &e);
	if (rc == TLY_OK)
		rc = tly_account_get(r->ctx, r->cap[0], &a, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	return reply_account(r, 200, &a);
}

static const tly_jfield host_fields[] = {
	{ "slug", TLY_JF_STR | TLY_JF_REQUIRED, 64 },
	{ "account_id", TLY_JF_STR | TLY_JF_REQUIRED, 40 },
	{ "share_bps", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ NULL, 0, 0 }
};

/* tly_h_host_partner_create - POST /api/v1/host_partners */
int
tly_h_host_partner_create(tly_req *r)
{
	const char *slug, *acct;
	int64_t bps;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, host_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	slug = tly_json_str(r->json, "slug");
	acct = tly_json_str(r->json, "account_id");
	bps = i64_or(r, "share_bps", r->ctx->cfg->host_partner_bps);
	if (tly_core_err_or_reply(r, tly_host_partner_create(r->ctx,
	    &r->principal, slug, acct, bps, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 1024);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "host_partner");
	tly_jw_str(&w, "slug", slug);
	tly_jw_str(&w, "account_id", acct);
	tly_jw_int(&w, "share_bps", bps);
	tly_jw_end(&w);
	tly_reply_jw(r, 201, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* --- products ------------------------------------------------------- */

static const tly_jfield product_fields[] = {
	{ "name", TLY_JF_STR | TLY_JF_REQUIRED, 200 },
	{ "seller_account_id", TLY_JF_STR | TLY_JF_REQUIRED, 40 },
	{ "agent_account_id", TLY_JF_STR | TLY_JF_NULL, 40 },
	{ "agent_bps", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "price_cent", TLY_JF_INT | TLY_JF_REQUIRED, 0 },
	{ "currency", TLY_JF_STR | TLY_JF_REQUIRED, 3 },
	{ "fee_fixed_cent", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "fee_bps", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "fee_kind", TLY_JF_STR | TLY_JF_NULL, 8 },	/* deprecated */
	{ "fee_value", TLY_JF_INT | TLY_JF_NULL, 0 },	/* deprecated */
	{ "stock", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "active", TLY_JF_BOOL, 0 },
	{ NULL, 0, 0 }
};

/* fee_err - answer 400 parameter_invalid naming 'k'; TLY_ERR */
static int
fee_err(tly_req *r, const char *k, const char *msg)
{
	tly_err e;

	tly_err_clear(&e);
	tly_err_param(&e, TLY_EK_INVALID, "parameter_invalid", k, "%s", msg);
	return tly_core_err_or_reply(r, TLY_ERR, &e);
}

/*
 * legacy_fee - the deprecated shape {fee_kind, fee_value} (fee_value in
 * cents or in basis points, as fee_kind says) into in->fee_fixed_cent
 * or in->fee_bps.  An update that sends one half keeps the product's
 * other half, as before.  Never together with fee_fixed_cent or fee_bps.
 * TLY_ERR once it has answered.
 */
static int
legacy_fee(tly_req *r, tly_product_in *in, int update)
{
	const char *kind = tly_json_str(r->json, "fee_kind");
	tly_product cur;
	int64_t v;
	tly_err e;

	if (!tly_json_get(r->json, "fee_kind") &&
	    !tly_json_get(r->json, "fee_value"))
		return TLY_OK;
	if (tly_json_get(r->json, "fee_fixed_cent") ||
	    tly_json_get(r->json, "fee_bps"))
		return fee_err(r, "fee_value", "fee_kind and fee_value "
		    "(deprecated) cannot be combined with fee_fixed_cent or "
		    "fee_bps.");
	if (nonneg(r, "fee_value", -1, &v) != TLY_OK)
		return TLY_ERR;
	if (kind && strcmp(kind, "fixed") != 0 && strcmp(kind, "bps") != 0)
		return fee_err(r, "fee_kind", "fee_kind must be fixed or bps.");
	if (update && (kind == NULL || v < 0)) {
		/* half a fee policy: the product's other half */
		tly_err_clear(&e);
		if (tly_core_err_or_reply(r, tly_product_get(r->ctx,
		    r->cap[0], &cur, &e), &e) != TLY_OK)
			return TLY_ERR;
		if (kind == NULL)
			kind = cur.fee_bps >= 0 ? "bps" : "fixed";
		if (v < 0)
			v = cur.fee_bps >= 0 ? cur.fee_bps : cur.fee_fixed_cent;
	}
	if (kind == NULL || strcmp(kind, "fixed") == 0) {
		in->fee_fixed_cent = v;		/* -1: the default */
		return TLY_OK;
	}
	if (v < 0)
		return fee_err(r, "fee_value", "fee_value must be >= 0.");
	if (v > 10000)
		return fee_err(r, "fee_value", "fee_value must be between 0 "
		    "and 10000 for a bps fee.");
	in->fee_bps = v;
	return TLY_OK;
}

/*
 * product_in - the body's product fields; 'update' marks what is sent.
 * TLY_ERR once it has answered a bad value.
 */
static int
product_in(tly_req *r, tly_product_in *in, int update)
{
	const tly_jv *v;
	int b;

	memset(in, 0, sizeof(*in));
	in->name = tly_json_str(r->json, "name");
	in->seller_id = tly_json_str(r->json, "seller_account_id");
	in->agent_id = tly_json_str(r->json, "agent_account_id");
	in->agent_bps = i64_or(r, "agent_bps", 0);
	in->price_cent = i64_or(r, "price_cent", 0);
	in->currency = tly_json_str(r->json, "currency");
	if (nonneg(r, "fee_fixed_cent", -1, &in->fee_fixed_cent) != TLY_OK ||
	    nonneg(r, "fee_bps", -1, &in->fee_bps) != TLY_OK ||
	    legacy_fee(r, in, update) != TLY_OK ||
	    nonneg(r, "stock", -1, &in->stock) != TLY_OK)
		return TLY_ERR;
	in->active = tly_json_bool(r->json, "active", &b) == TLY_OK ? b : 1;
	if (!update)
		return TLY_OK;
	if (tly_json_get(r->json, "name"))
		in->has |= TLY_PF_NAME;
	if (tly_json_get(r->json, "agent_account_id") ||
	    tly_json_get(r->json, "agent_bps"))
		in->has |= TLY_PF_AGENT;
	if (tly_json_get(r->json, "price_cent"))
		in->has |= TLY_PF_PRICE;
	if (tly_json_get(r->json, "fee_fixed_cent") ||
	    tly_json_get(r->json, "fee_bps") ||
	    tly_json_get(r->json, "fee_kind") ||
	    tly_json_get(r->json, "fee_value"))
		in->has |= TLY_PF_FEE;
	v = tly_json_get(r->json, "stock");
	if (v)
		in->has |= TLY_PF_STOCK;
	if (tly_json_get(r->json, "active"))
		in->has |= TLY_PF_ACTIVE;
	return TLY_OK;
}

/* tly_h_products_create - POST /api/v1/products */
int
tly_h_products_create(tly_req *r)
{
	tly_product_in in;
	tly_product p;
	tly_err e;

	if (tly_req_json_or_reply(r, product_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (product_in(r, &in, 0) != TLY_OK)
		return TLY_ERR;
	if (tly_core_err_or_reply(r, tly_product_create(r->ctx,
	    &r->principal, &in, &p, &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_product(r, 201, &p);
}

static const tly_jfield product_update_fields[] = {
	{ "name", TLY_JF_STR, 200 },
	{ "agent_account_id", TLY_JF_STR | TLY_JF_NULL, 40 },
	{ "agent_bps", TLY_JF_INT, 0 },
	{ "price_cent", TLY_JF_INT, 0 },
	{ "fee_fixed_cent", TLY_JF_INT, 0 },
	{ "fee_bps", TLY_JF_INT, 0 },
	{ "fee_kind", TLY_JF_STR, 8 },			/* deprecated */
	{ "fee_value", TLY_JF_INT, 0 },			/* deprecated */
	{ "stock", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "active", TLY_JF_BOOL, 0 },
	{ NULL, 0, 0 }
};

/* tly_h_products_update - POST /api/v1/products/{id} */
int
tly_h_products_update(tly_req *r)
{
	tly_product_in in;
	tly_product p;
	tly_err e;

	if (tly_req_json_or_reply(r, product_update_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (product_in(r, &in, 1) != TLY_OK)
		return TLY_ERR;
	if (tly_core_err_or_reply(r, tly_product_update(r->ctx,
	    &r->principal, r->cap[0], &in, &p, &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_product(r, 200, &p);
}

/* tly_h_products_get - GET /api/v1/products/{id} */
int
tly_h_products_get(tly_req *r)
{
	tly_product p;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_product_get(r->ctx, r->cap[0], &p,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	/* a product off sale does not exist for buyers: the same 404 */
	if (r->principal.kind == TLY_PK_BUYER && !p.active) {
		tly_err_param(&e, TLY_EK_NOT_FOUND, "resource_missing", "id",
		    "No such product: '%.40s'.", r->cap[0]);
		return tly_core_err_or_reply(r, TLY_ERR, &e);
	}
	return reply_product(r, 200, &p);
}

/* a page of products, and whether a buyer reads it */
typedef struct product_page {
	tly_product	*rows;
	int		 buyer;
} product_page;

/* products - fetch a page of products (a buyer: active ones only) */
static int
products(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	product_page *pp = arg;

	return (pp->buyer ? tly_products_list_active : tly_products_list)
	    (r->ctx, pg, &pp->rows, n, more, e);
}

/* product_row - product 'i' of '*arg', as its reader may see it */
static void
product_row(tly_jw *w, const void *arg, int i)
{
	const product_page *pp = arg;

	if (pp->buyer)
		buyer_members(w, &pp->rows[i]);
	else
		product_members(w, &pp->rows[i]);
}

/* tly_h_products_list - GET /api/v1/products */
int
tly_h_products_list(tly_req *r)
{
	product_page pp;

	pp.rows = NULL;
	pp.buyer = r->principal.kind == TLY_PK_BUYER;
	return tly_list_or_reply(r, "/api/v1/products", products,
	    product_row, &pp);
}

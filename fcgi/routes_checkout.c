/*
 * routes_checkout.c - checkout, completion, payments, Stripe webhooks
 *
 * Buyers create and read their checkouts and report a payment complete;
 * the marketplace's server reads payments; Stripe posts events to the
 * webhook pool.  Amounts never come from the client: a checkout names a
 * product and a quantity, and the completion asks Stripe, not the
 * browser, what was paid.  The buyer's answer to a completion is its
 * payment without the split among the payees and the fees (the server
 * reads those with GET /api/v1/payments/{id}).
 *
 * API:	tly_h_checkout_create(), tly_h_checkout_get(),
 *	tly_h_checkout_config(), tly_h_payments_complete(),
 *	tly_h_payments_get(), tly_h_webhook_platform(),
 *	tly_h_webhook_connect().
 */
#include <stdio.h>
#include <string.h>

#include "checkout.h"
#include "complete.h"
#include "metrics.h"
#include "routes.h"
#include "tly_str.h"
#include "webhook.h"

static void
str_or_null(tly_jw *w, const char *k, const char *v)
{
	tly_jw_str(w, k, v && *v ? v : NULL);
}

static void
render_checkout(tly_jw *w, const tly_checkout *c)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "checkout");
	tly_jw_str(w, "id", c->id);
	tly_jw_str(w, "checkout_id", c->id);
	tly_jw_str(w, "status", c->status);
	tly_jw_str(w, "product_id", c->product_id);
	tly_jw_int(w, "quantity", c->quantity);
	tly_jw_int(w, "price_cent", c->price_cent);
	tly_jw_int(w, "subtotal_cent", c->subtotal_cent);
	tly_jw_int(w, "platform_fee_cent", c->platform_fee_cent);
	tly_jw_int(w, "amount_cent", c->amount_cent);
	tly_jw_str(w, "currency", c->currency);
	str_or_null(w, "payment_intent_id", c->pi_id);
	/* the secret only while the buyer may still pay */
	str_or_null(w, "client_secret", tly_checkout_is_open(c->status) ?
	    c->client_secret : NULL);
	str_or_null(w, "host_partner_slug", c->host_slug);
	str_or_null(w, "receipt_email", c->receipt_email);
	str_or_null(w, "payment_id", c->payment_id);
	tly_jw_int(w, "expires_at", c->expires_at);
	tly_jw_int(w, "created", c->created);
	tly_jw_end(w);
}

static void
render_payment(tly_jw *w, const tly_payment *p)
{
	int i;

	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "payment");
	tly_jw_str(w, "id", p->id);
	str_or_null(w, "checkout_id", p->checkout_id);
	tly_jw_str(w, "payment_intent_id", p->pi_id);
	str_or_null(w, "charge_id", p->charge_id);
	tly_jw_int(w, "amount_cent", p->amount_cent);
	tly_jw_str(w, "currency", p->currency);
	tly_jw_str(w, "status", p->status);
	tly_jw_str(w, "completed_via", p->completed_via);
	tly_jw_int(w, "stripe_fee_estimate_cent", p->fee_estimate_cent);
	if (p->fee_actual_cent >= 0)
		tly_jw_int(w, "stripe_fee_actual_cent", p->fee_actual_cent);
	else
		tly_jw_null(w, "stripe_fee_actual_cent");
	tly_jw_arr(w, "shares");
	for (i = 0; i < p->nshares; i++) {
		tly_jw_obj(w, NULL);
		tly_jw_str(w, "role", p->shares[i].role);
		tly_jw_str(w, "account_id", p->shares[i].account_id);
		tly_jw_int(w, "amount_cent", p->shares[i].amount_cent);
		tly_jw_str(w, "kind", p->shares[i].kind);
		tly_jw_str(w, "status", p->shares[i].status);
		tly_jw_end(w);
	}
	tly_jw_end(w);
	tly_jw_int(w, "created", p->created);
	tly_jw_end(w);
}

static int
reply_checkout(tly_req *r, const tly_checkout *c)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	render_checkout(&w, c);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/*
 * buyer_payment - what the buyer sees of its payment: what it paid and
 * how it stands, not how it is split among the payees nor the fees
 */
static void
buyer_payment(tly_jw *w, const tly_payment *p)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "payment");
	tly_jw_str(w, "id", p->id);
	str_or_null(w, "checkout_id", p->checkout_id);
	tly_jw_str(w, "payment_intent_id", p->pi_id);
	str_or_null(w, "charge_id", p->charge_id);
	tly_jw_int(w, "amount_cent", p->amount_cent);
	tly_jw_str(w, "currency", p->currency);
	tly_jw_str(w, "status", p->status);
	tly_jw_int(w, "created", p->created);
	tly_jw_end(w);
}

/* reply_payment - payment 'p' as principal 'r' may see it */
static int
reply_payment(tly_req *r, const tly_payment *p)
{
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 64 << 10);
	tly_jw_init(&w, &b);
	if (r->principal.kind == TLY_PK_BUYER)
		buyer_payment(&w, p);
	else
		render_payment(&w, p);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

static const tly_jfield checkout_fields[] = {
	{ "product_id", TLY_JF_STR | TLY_JF_REQUIRED, 40 },
	{ "quantity", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "host_partner_slug", TLY_JF_STR | TLY_JF_NULL, 64 },
	{ "receipt_email", TLY_JF_STR | TLY_JF_NULL, 254 },
	{ NULL, 0, 0 }
};

/* tly_h_checkout_create - POST /api/v1/checkout (buyer) */
int
tly_h_checkout_create(tly_req *r)
{
	tly_checkout_new in;
	tly_checkout c;
	tly_err e;
	int64_t q;

	if (tly_req_json_or_reply(r, checkout_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	memset(&in, 0, sizeof(in));
	in.buyer_id = r->principal.id;
	in.product_id = tly_json_str(r->json, "product_id");
	in.quantity = tly_json_i64(r->json, "quantity", &q) == TLY_OK ? q : 1;
	in.host_slug = tly_json_str(r->json, "host_partner_slug");
	in.receipt_email = tly_json_str(r->json, "receipt_email");
	if (in.receipt_email == NULL && r->principal.email[0])
		in.receipt_email = r->principal.email;	/* the JWT claim */
	if (tly_core_err_or_reply(r, tly_checkout_create(r->ctx, &in, &c,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_checkout(r, &c);
}

/* tly_h_checkout_get - GET /api/v1/checkout/{id} (its buyer only) */
int
tly_h_checkout_get(tly_req *r)
{
	tly_checkout c;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_checkout_get(r->ctx, r->cap[0],
	    r->principal.id, &c, &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_checkout(r, &c);
}

/*
 * shop_origins - [tally] shop_origin as the array "shop_origins": the
 * origins whose postMessage may hand the page a buyer's token
 */
static void
shop_origins(tly_jw *w, const char *list)
{
	const char *p = list, *e;

	tly_jw_arr(w, "shop_origins");
	while (*p) {
		while (*p == ' ')
			p++;
		for (e = p; *e && *e != ' '; e++)
			;
		if (e > p)
			tly_jw_strn(w, NULL, p, (size_t)(e - p));
		p = e;
	}
	tly_jw_end(w);
}

/*
 * tly_h_checkout_config - GET /api/v1/checkout/config: what the checkout
 * page needs to confirm a payment (the publishable key; the API base
 * only when it is not Stripe's, i.e. the local emulator) and the shop's
 * origins, from which the page takes a buyer's token by postMessage.
 */
int
tly_h_checkout_config(tly_req *r)
{
	const tly_config *c = r->ctx->cfg;
	int real = strcmp(c->stripe_api_base, "https://api.stripe.com") == 0;
	tly_buf b;
	tly_jw w;

	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "checkout_config");
	str_or_null(&w, "publishable_key", c->stripe_publishable_key);
	tly_jw_bool(&w, "stripe_js", real);
	if (real)
		tly_jw_null(&w, "api_base");
	else
		tly_jw_str(&w, "api_base", c->stripe_api_base);
	shop_origins(&w, c->shop_origins);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

static const tly_jfield complete_fields[] = {
	{ "checkout_id", TLY_JF_STR | TLY_JF_REQUIRED, 40 },
	{ NULL, 0, 0 }
};

/* tly_h_payments_complete - POST /api/v1/payments/complete (buyer) */
int
tly_h_payments_complete(tly_req *r)
{
	tly_payment p;
	tly_err e;

	if (tly_req_json_or_reply(r, complete_fields) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_payment_complete_client(r->ctx,
	    tly_json_str(r->json, "checkout_id"), r->principal.id, &p, &e),
	    &e) != TLY_OK)
		return TLY_ERR;
	return reply_payment(r, &p);
}

/* tly_h_payments_get - GET /api/v1/payments/{id} (server) */
int
tly_h_payments_get(tly_req *r)
{
	tly_payment p;
	tly_err e;

	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_payment_get(r->ctx, r->cap[0], &p,
	    &e), &e) != TLY_OK)
		return TLY_ERR;
	return reply_payment(r, &p);
}

/* webhook - one delivery to 'endpoint': 200 once stored, else 400 */
static int
webhook(tly_req *r, const char *endpoint)
{
	tly_webhook_result res;
	char lab[128];
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_body_or_reply(r) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	rc = tly_webhook_receive(r->ctx, endpoint, r->stripe_signature,
	    r->body, r->body_len, r->remote_addr, &res, &e);
	snprintf(lab, sizeof(lab), "endpoint=\"%s\",status=\"%s\"",
	    endpoint, rc == TLY_OK ? res.status : e.code);
	tly_metric_add("tally_webhook_deliveries_total", lab, 1);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 1024);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_bool(&w, "received", 1);
	tly_jw_str(&w, "event_id", res.event_id);
	tly_jw_str(&w, "status", res.status);
	tly_jw_bool(&w, "duplicate", res.duplicate);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_webhook_platform - POST /webhooks/stripe */
int
tly_h_webhook_platform(tly_req *r)
{
	return webhook(r, "platform");
}

/* tly_h_webhook_connect - POST /webhooks/stripe/connect */
int
tly_h_webhook_connect(tly_req *r)
{
	return webhook(r, "connect");
}

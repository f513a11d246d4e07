/*
 * routes_refunds.c - the admin API's refunds of a payment
 *
 * POST /admin/api/v1/payments/{id}/refunds {amount_cent?, reason} refunds
 * a payment (all that is left when amount_cent is absent): the route
 * table admits support, finance and admin (a viewer gets 403 there); the
 * support role is limited per refund to the currency's
 * refund_support_limit_cent, checked by core under the payment's lock
 * against the amount actually refunded.  Every refund is written to the
 * audit log with the acting admin.  The admin's Idempotency-Key (the
 * router claims it, r->idem) is kept on the refund's row: a retry or a
 * takeover answers that refund (idem.h).  Once the refund row exists the
 * answer is it: 201, or 202 while Tally does not know Stripe's answer
 * yet (state to_create or unknown; the refunds job finishes it).  GET
 * lists a payment's refunds.
 *
 * API:	tly_h_admin_refunds_create(), tly_h_admin_refunds_list().
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "idem.h"
#include "refund.h"
#include "routes.h"
#include "tly_str.h"

static void
render_refund(tly_jw *w, const tly_refund *rf)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "refund");
	tly_jw_str(w, "id", rf->id);
	tly_jw_str(w, "payment_id", rf->payment_id);
	tly_jw_int(w, "amount_cent", rf->amount_cent);
	tly_jw_str(w, "currency", rf->currency);
	tly_jw_str(w, "state", rf->state);
	tly_jw_bool(w, "booked", rf->booked);
	tly_jw_str(w, "origin", rf->origin);
	tly_jw_str(w, "reason", rf->reason);
	tly_jw_str(w, "stripe_refund_id", rf->stripe_refund_id[0] ?
	    rf->stripe_refund_id : NULL);
	tly_jw_int(w, "created", rf->created);
	tly_jw_end(w);
}

static const tly_jfield refund_fields[] = {
	{ "amount_cent", TLY_JF_INT | TLY_JF_NULL, 0 },
	{ "reason", TLY_JF_STR | TLY_JF_REQUIRED, 60 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_refunds_create - POST /admin/api/v1/payments/{id}/refunds */
int
tly_h_admin_refunds_create(tly_req *r)
{
	const char *reason;
	int64_t amount = 0;
	tly_idem_row key;
	tly_refund rf;
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, refund_fields) != TLY_OK)
		return TLY_ERR;
	if (tly_json_i64(r->json, "amount_cent", &amount) == TLY_OK &&
	    amount <= 0)
		return tly_reply_errf(r, TLY_EK_INVALID, "parameter_invalid",
		    "amount_cent must be a positive integer.");
	reason = tly_json_str(r->json, "reason");
	if (reason == NULL || reason[0] == '\0')
		return tly_reply_errf(r, TLY_EK_INVALID, "parameter_missing",
		    "reason is required.");
	tly_err_clear(&e);
	if (r->idem)
		tly_idem_row_of(r->idem, &key);
	rc = tly_refund_admin(r->ctx, r->cap[0], amount, reason,
	    &r->principal, r->principal.role < TLY_ROLE_FINANCE,
	    r->idem ? &key : NULL, &rf, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	render_refund(&w, &rf);
	tly_reply_jw(r, strcmp(rf.state, "to_create") == 0 ||
	    strcmp(rf.state, "unknown") == 0 ? 202 : 201, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_refunds_list - GET /admin/api/v1/payments/{id}/refunds */
int
tly_h_admin_refunds_list(tly_req *r)
{
	tly_refund *rows;
	char url[128];
	int n, i, rc;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	rc = tly_refund_list(r->ctx, r->cap[0], &rows, &n, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	snprintf(url, sizeof(url), "/admin/api/v1/payments/%.40s/refunds",
	    r->cap[0]);
	tly_buf_init(&b, 1 << 20);
	tly_jw_init(&w, &b);
	tly_list_begin(&w, url);
	for (i = 0; i < n; i++)
		render_refund(&w, &rows[i]);
	tly_list_end(&w, n == TLY_REFUND_LIST_MAX);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/*
 * routes_advances.c - the admin API's advances to payees
 *
 * POST /admin/api/v1/advances {account_id, amount_cent, note, currency?}
 * grants an advance (finance and admin; the route table refuses support
 * and viewer with 403, the router refuses a POST without the session's
 * CSRF token): core/advance.c transfers it and records it.  An optional
 * Idempotency-Key (claimed by the router, r->idem, like a refund's) is
 * kept on the advance's row: a replay gets the first answer, a retry or
 * a takeover the first advance, never a second grant.  The answer is 201,
 * or 202 while Tally does not know Stripe's answer (state to_transfer or
 * unknown; the payouts run finishes it).  GET
 * /admin/api/v1/advances?account_id=... lists advances (any role).
 * Parsing and rendering only.
 *
 * API:	tly_h_admin_advances_create(), tly_h_admin_advances_list().
 */
#include <string.h>

#include "advance.h"
#include "idem.h"
#include "routes.h"

static void
render_advance(tly_jw *w, const tly_advance *a)
{
	tly_jw_obj(w, NULL);
	tly_jw_str(w, "object", "advance");
	tly_jw_str(w, "id", a->id);
	tly_jw_str(w, "account_id", a->account_id);
	tly_jw_int(w, "amount_cent", a->granted_cent);
	tly_jw_int(w, "offset_cent", a->offset_cent);
	tly_jw_int(w, "reversed_cent", a->reversed_cent);
	tly_jw_int(w, "balance_cent", strcmp(a->state, "transferred") == 0 ?
	    a->granted_cent - a->offset_cent - a->reversed_cent : 0);
	tly_jw_str(w, "currency", a->currency);
	tly_jw_str(w, "state", a->state);
	tly_jw_str(w, "transfer_id", a->transfer_id[0] ? a->transfer_id :
	    NULL);
	tly_jw_str(w, "failure_code", a->last_error[0] ? a->last_error :
	    NULL);
	tly_jw_str(w, "note", a->note);
	tly_jw_str(w, "granted_by", a->granted_by);
	tly_jw_int(w, "created", a->created);
	tly_jw_end(w);
}

static const tly_jfield advance_fields[] = {
	{ "account_id", TLY_JF_STR | TLY_JF_REQUIRED, 32 },
	{ "amount_cent", TLY_JF_INT | TLY_JF_REQUIRED, 0 },
	{ "note", TLY_JF_STR | TLY_JF_REQUIRED, TLY_ADVANCE_NOTE_MAX },
	{ "currency", TLY_JF_STR | TLY_JF_NULL, 3 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_advances_create - POST /admin/api/v1/advances */
int
tly_h_admin_advances_create(tly_req *r)
{
	tly_idem_row key;
	tly_advance adv;
	int64_t amount = 0;
	tly_buf b;
	tly_jw w;
	tly_err e;
	int rc;

	if (tly_req_json_or_reply(r, advance_fields) != TLY_OK)
		return TLY_ERR;
	(void)tly_json_i64(r->json, "amount_cent", &amount);
	if (r->idem)
		tly_idem_row_of(r->idem, &key);
	tly_err_clear(&e);
	rc = tly_advance_grant(r->ctx, &r->principal,
	    tly_json_str(r->json, "account_id"), amount,
	    tly_json_str(r->json, "currency"), tly_json_str(r->json, "note"),
	    r->idem ? &key : NULL, &adv, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 16 << 10);
	tly_jw_init(&w, &b);
	render_advance(&w, &adv);
	tly_reply_jw(r, strcmp(adv.state, "to_transfer") == 0 ||
	    strcmp(adv.state, "unknown") == 0 ? 202 : 201, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

/* tly_h_admin_advances_list - GET /admin/api/v1/advances */
int
tly_h_admin_advances_list(tly_req *r)
{
	tly_advance *rows;
	int n, more, i, rc;
	tly_buf b;
	tly_jw w;
	tly_err e;

	tly_err_clear(&e);
	rc = tly_advance_list(r->ctx, tly_req_query(r, "account_id"), &rows,
	    &n, &more, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4 << 20);
	tly_jw_init(&w, &b);
	tly_list_begin(&w, "/admin/api/v1/advances");
	for (i = 0; i < n; i++)
		render_advance(&w, &rows[i]);
	tly_list_end(&w, more);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

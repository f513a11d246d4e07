/*
 * routes_ops.c - the operations routes of the admin API
 *
 *	GET /admin/api/v1/reconciliation_reports   the reconciliation
 *	    reports with Stripe, newest first (core/reconcile.c): a list in
 *	    the admin API's shape (object "list", data, has_more; limit and
 *	    starting_after), each report with its window and counts.
 *
 * API:	tly_h_admin_reconciliation_list().
 */
#include <stdio.h>

#include "reconcile.h"
#include "routes.h"

/* tly_h_admin_reconciliation_list - GET /admin/api/v1/reconciliation_… */
int
tly_h_admin_reconciliation_list(tly_req *r)
{
	tly_recon_report *rows;
	tly_page pg;
	int n, more, rc, i;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_page_or_reply(r, &pg) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	rc = tly_reconcile_list(r->ctx, &pg, &rows, &n, &more, &e);
	if (tly_core_err_or_reply(r, rc, &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4 << 20);
	tly_jw_init(&w, &b);
	tly_list_begin(&w, "/admin/api/v1/reconciliation_reports");
	for (i = 0; i < n; i++) {
		tly_jw_obj(&w, NULL);
		tly_jw_str(&w, "object", "reconciliation_report");
		tly_jw_str(&w, "id", rows[i].id);
		tly_jw_str(&w, "status", rows[i].status);
		tly_jw_int(&w, "since", rows[i].since);
		tly_jw_int(&w, "until", rows[i].until);
		tly_jw_int(&w, "created", rows[i].created);
		tly_jw_int(&w, "matched", rows[i].matched);
		tly_jw_int(&w, "missing_in_tally", rows[i].missing_in_tally);
		tly_jw_int(&w, "missing_at_stripe", rows[i].missing_at_stripe);
		tly_jw_int(&w, "amount_differs", rows[i].amount_differs);
		tly_jw_end(&w);
	}
	tly_list_end(&w, more);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

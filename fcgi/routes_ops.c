/*
 * routes_ops.c - the operations routes of the admin API
 *
 *	GET /admin/api/v1/reconciliation_reports   the reconciliation
 *	    reports with Stripe, newest first (core/reconcile.c): a list in
 *	    the admin API's shape (object "list", data, has_more; limit and
 *	    starting_after), each report with its window and counts.
 *
 *	GET /admin/api/v1/reconciliation_reports/{id}/lines   its lines
 *	    in order (?outcome= one of them; starting_after: a line
 *	    number), each with both sides' ids and amounts (null: none).
 *
 *	POST /admin/api/v1/reconciliation_reports/{id}/lines/{line}/ack
 *	    {"reason"}: the line's mismatch judged by the admin (finance or
 *	    admin; Idempotency-Key honoured): later runs report it
 *	    "acknowledged" (tly_reconcile_ack_line).
 *
 *	GET /metrics   Prometheus' text exposition of this host's counters
 *	    (core/metrics.c), served by the admin pool on a location of its
 *	    own that nginx allows from configured addresses only; with
 *	    [metrics] token set, the request must also carry
 *	    "Authorization: Bearer TOKEN" (401 otherwise).
 *
 * API:	tly_h_admin_reconciliation_list(), tly_h_admin_reconciliation_lines(),
 *	tly_h_admin_reconciliation_ack(), tly_h_metrics().
 */
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "reconcile.h"
#include "routes.h"
#include "tly_str.h"

/* reports - fetch a page of reconciliation reports into '*arg' */
static int
reports(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	return tly_reconcile_list(r->ctx, pg, arg, n, more, e);
}

/* report_row - report 'i' of '*arg' */
static void
report_row(tly_jw *w, const void *arg, int i)
{
	const tly_recon_report *p = *(tly_recon_report *const *)arg + i;

	tly_jw_str(w, "object", "reconciliation_report");
	tly_jw_str(w, "id", p->id);
	tly_jw_str(w, "status", p->status);
	tly_jw_int(w, "since", p->since);
	tly_jw_int(w, "until", p->until);
	tly_jw_int(w, "created", p->created);
	tly_jw_int(w, "matched", p->matched);
	tly_jw_int(w, "missing_in_tally", p->missing_in_tally);
	tly_jw_int(w, "missing_at_stripe", p->missing_at_stripe);
	tly_jw_int(w, "amount_differs", p->amount_differs);
}

/* tly_h_admin_reconciliation_list - GET /admin/api/v1/reconciliation_… */
int
tly_h_admin_reconciliation_list(tly_req *r)
{
	tly_recon_report *rows = NULL;

	return tly_list_or_reply(r, "/admin/api/v1/reconciliation_reports",
	    reports, report_row, &rows);
}

static void
cents(tly_jw *w, const char *key, int64_t v)
{
	if (v == TLY_RECON_NONE)
		tly_jw_null(w, key);
	else
		tly_jw_int(w, key, v);
}

static void
str_or_null(tly_jw *w, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		tly_jw_null(w, key);
	else
		tly_jw_str(w, key, v);
}

/* lines - fetch a page of a report's lines ('?outcome=') into '*arg' */
static int
lines(tly_req *r, const tly_page *pg, void *arg, int *n, int *more,
    tly_err *e)
{
	static const char *const outcomes[] = { "matched",
	    "missing_in_tally", "missing_at_stripe", "amount_differs",
	    "acknowledged", NULL };
	const char *want = NULL, *outcome;
	int i;

	outcome = tly_req_query(r, "outcome");
	if (outcome) {
		for (i = 0; outcomes[i]; i++)
			if (strcmp(outcome, outcomes[i]) == 0)
				want = outcomes[i];
		if (want == NULL)
			return tly_err_set(e, TLY_EK_INVALID,
			    "parameter_invalid", "outcome must be matched, "
			    "missing_in_tally, missing_at_stripe, "
			    "amount_differs or acknowledged.");
	}
	return tly_reconcile_lines(r->ctx, r->cap[0], want, pg, arg, n, more,
	    e);
}

/* line_row - line 'i' of '*arg' */
static void
line_row(tly_jw *w, const void *arg, int i)
{
	const tly_recon_line *p = *(tly_recon_line *const *)arg + i;
	char no[24];

	snprintf(no, sizeof(no), "%lld", (long long)p->line_no);
	tly_jw_str(w, "object", "reconciliation_line");
	tly_jw_str(w, "id", no);
	tly_jw_str(w, "day", p->day);
	tly_jw_str(w, "currency", p->currency);
	tly_jw_str(w, "kind", p->kind);
	tly_jw_str(w, "outcome", p->outcome);
	str_or_null(w, "stripe_balance_transaction", p->txn);
	str_or_null(w, "stripe_object", p->object);
	str_or_null(w, "tally_id", p->tally);
	cents(w, "stripe_amount_cent", p->stripe_cent);
	cents(w, "tally_amount_cent", p->tally_cent);
}

/* tly_h_admin_reconciliation_lines - GET …/{id}/lines */
int
tly_h_admin_reconciliation_lines(tly_req *r)
{
	tly_recon_line *rows = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/admin/api/v1/reconciliation_reports/"
	    "%.40s/lines", r->cap[0]);
	return tly_list_or_reply(r, path, lines, line_row, &rows);
}

/* token_ok - 'auth' is "Bearer TOKEN" (compared in constant time) */
static int
token_ok(const char *auth, const char *token)
{
	size_t n = strlen(token), i;
	unsigned char d = 0;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
	    strlen(auth + 7) != n)
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(auth[7 + i] ^ token[i]);
	return d == 0;
}

/* tly_h_metrics - GET /metrics */
int
tly_h_metrics(tly_req *r)
{
	const char *token = r->ctx->cfg->metrics_token;
	tly_buf b;
	int rc;

	if (token[0] && !token_ok(r->authorization, token))
		return tly_reply_errf(r, TLY_EK_AUTH, "unauthorized",
		    "A valid metrics token is required.");
	tly_buf_init(&b, 8 << 20);
	rc = tly_metrics_render(r->ctx->db, &b);
	if (rc != TLY_OK || b.data == NULL) {
		tly_buf_free(&b);
		return tly_reply_errf(r, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The metrics could not be read; try again.");
	}
	rc = tly_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    b.data, b.len);
	tly_buf_free(&b);
	return rc;
}

static const tly_jfield ack_fields[] = {
	{ "reason", TLY_JF_STR | TLY_JF_REQUIRED, 500 },
	{ NULL, 0, 0 }
};

/* tly_h_admin_reconciliation_ack - POST …/{id}/lines/{line}/ack */
int
tly_h_admin_reconciliation_ack(tly_req *r)
{
	const char *reason;
	char acked[72];
	int64_t no = 0;
	tly_buf b;
	tly_jw w;
	tly_err e;

	if (tly_req_json_or_reply(r, ack_fields) != TLY_OK)
		return TLY_ERR;
	if (tly_parse_i64(r->cap[1], &no) != TLY_OK || no < 1)
		return tly_reply_errf(r, TLY_EK_INVALID, "parameter_invalid",
		    "The line must be a line number.");
	reason = tly_json_str(r->json, "reason");
	tly_err_clear(&e);
	if (tly_core_err_or_reply(r, tly_reconcile_ack_line(r->ctx,
	    &r->principal, r->cap[0], no, reason, acked, &e), &e) != TLY_OK)
		return TLY_ERR;
	tly_buf_init(&b, 4096);
	tly_jw_init(&w, &b);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "object", "reconciliation_ack");
	tly_jw_str(&w, "report_id", r->cap[0]);
	tly_jw_int(&w, "line", no);
	tly_jw_str(&w, "acknowledged_id", acked);
	tly_jw_str(&w, "reason", reason);
	tly_jw_end(&w);
	tly_reply_jw(r, 200, &w);
	tly_buf_free(&b);
	return TLY_OK;
}

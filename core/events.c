/*
 * events.c - the missed-event catch-up job (events.h)
 *
 * Owns stripe_event_cursors.  Stripe retries a webhook for three days;
 * an event whose deliveries all failed (an outage, an endpoint
 * misconfigured, a webhook pool stopped) is still listed by
 * GET /v1/events for thirty.  This job reads that list and feeds every
 * event Tally has not stored through tly_webhook_ingest(): the same
 * store-by-id and act as a delivery, so an event booked through here is
 * indistinguishable from one delivered, and one delivered meanwhile is
 * a duplicate that does nothing.
 *
 * Scopes: 'platform' (the platform endpoint's events) and each connected
 * account of the accounts table (listed with Stripe-Account: Stripe
 * lists a connected account's events only that way; they go to the
 * "connect" endpoint).  One cursor row per scope.
 *
 * One run, per scope claimed:
 *   1. claim: up to EV_SCOPES cursor rows whose lease ran out, least
 *      recently run first, FOR UPDATE SKIP LOCKED, leased for
 *      EV_LEASE_S; the lease commits before any Stripe call (no network
 *      call inside a transaction), and other hosts skip leased rows;
 *   2. walk forward from the cursor: GET /v1/events?ending_before=CURSOR
 *      gives the (up to 100) events just newer than it, newest first;
 *      each page is fed oldest first and the cursor moves to its newest,
 *      up to EV_PAGES pages a run.  With no cursor yet, the walk starts
 *      at the newest event Tally stored for the scope; with none stored,
 *      it feeds the newest page of the last EV_LOOKBACK_S seconds and
 *      starts from there (older undelivered ones come with step 3);
 *   3. GET /v1/events?delivery_success=false over the last
 *      EV_LOOKBACK_S: events Stripe has not delivered to every endpoint
 *      (older than the cursor too), fed oldest first;
 *   4. store the cursor, release the lease.
 * A cursor Stripe no longer knows (an event older than 30 days) is
 * refused (resource_missing, param ending_before): the cursor is
 * dropped with a warning and the next run starts again from what Tally
 * stored.
 *
 * Feeding is idempotent (webhook_events is keyed by the event id), so a
 * lease that ran out while a slow run still worked, or two hosts
 * feeding the same event, cost a duplicate look-up, never a second
 * booking.
 *
 * API:	tly_job_events().
 */
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "metrics.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"
#include "webhook.h"

#define EV_SCOPES	20		/* cursor rows claimed per run */
#define EV_PAGES	10		/* pages of 100 per walk */
#define EV_LEASE_S	300
#define EV_LOOKBACK_S	(3 * 86400)	/* Stripe's retry window */

typedef struct scope {
	char	 name[72];		/* 'platform' or acct_… */
	char	 cursor[72];		/* '' when none */
} scope;

typedef struct claim_args {
	scope	 s[EV_SCOPES];
	int	 n;
} claim_args;

typedef struct walk {
	const scope	*sc;
	const char	*account;	/* Stripe-Account, NULL: platform */
	const char	*endpoint;
	char		 cursor[72];
	int64_t		 fed;
	int		 cursor_lost;
} walk;

/* claim_tx - cursor rows whose lease ran out, leased to this run */
TLY_TX_TYPED(claim_tx, claim_args)
static int
claim_tx(tly_ctx *ctx, claim_args *a, tly_err *err)
{
	const char *v;
	tly_q q;
	int rc, i;

	a->n = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT scope, IFNULL(last_event_id, '') "
	    "FROM stripe_event_cursors WHERE leased_until IS NULL OR "
	    "leased_until < NOW(3) ORDER BY run_at LIMIT ? FOR UPDATE SKIP "
	    "LOCKED", err))
		return q.rc;
	tly_q_i64(&q, EV_SCOPES);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && a->n < EV_SCOPES) {
		v = tly_q_col_str(&q, 0);
		tly_strlcpy(a->s[a->n].name, v ? v : "",
		    sizeof(a->s[a->n].name));
		v = tly_q_col_str(&q, 1);
		tly_strlcpy(a->s[a->n].cursor, v ? v : "",
		    sizeof(a->s[a->n].cursor));
		a->n++;
	}
	tly_q_done(&q);
	if (rc)
		return rc;
	for (i = 0; i < a->n; i++) {
		rc = tly_db_later(ctx->db, err, "UPDATE stripe_event_cursors "
		    "SET leased_until = NOW(3) + INTERVAL ? SECOND WHERE "
		    "scope = ?", "is", (int64_t)EV_LEASE_S, a->s[i].name);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* jv_write - 'v' as JSON text, member 'key' (NULL: a value) */
static void
jv_write(tly_jw *w, const char *key, const tly_jv *v)
{
	const tly_jv *c;

	switch (v->type) {
	case TLY_JNULL:
		tly_jw_null(w, key);
		break;
	case TLY_JBOOL:
		tly_jw_bool(w, key, v->b);
		break;
	case TLY_JINT:
		tly_jw_int(w, key, v->i);
		break;
	case TLY_JNUM:
		tly_jw_raw(w, key, v->s);
		break;
	case TLY_JSTR:
		tly_jw_strn(w, key, v->s, v->slen);
		break;
	case TLY_JARR:
		tly_jw_arr(w, key);
		for (c = v->child; c; c = c->next)
			jv_write(w, NULL, c);
		tly_jw_end(w);
		break;
	case TLY_JOBJ:
		tly_jw_obj(w, key);
		for (c = v->child; c; c = c->next)
			jv_write(w, c->key, c);
		tly_jw_end(w);
		break;
	}
}

/* feed - event 'e' of the list, unless Tally has it already */
static int
feed(tly_ctx *ctx, walk *wk, const tly_jv *e, tly_err *err)
{
	tly_webhook_result res;
	const char *id, *type, *acct;
	char st[16];
	tly_buf b;
	tly_jw w;
	int rc;

	id = tly_json_str(e, "id");
	type = tly_json_str(e, "type");
	if (id == NULL || type == NULL)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "An event without id or type.");
	rc = tly_db_row(ctx->db, err, "SELECT status FROM webhook_events "
	    "WHERE id = ?", "s>s", id, st, sizeof(st));
	if (rc != TLY_NOTFOUND)
		return rc;		/* stored already, or a failure */
	tly_err_clear(err);
	tly_buf_init(&b, tly_json_api_limits.max_bytes);
	tly_jw_init(&w, &b);
	jv_write(&w, NULL, e);
	if (tly_jw_done(&w) != TLY_OK) {
		tly_buf_free(&b);
		return tly_err_internal(err);
	}
	acct = tly_json_str(e, "account");
	rc = tly_webhook_ingest(ctx, acct ? "connect" : "platform",
	    tly_buf_str(&b), strlen(tly_buf_str(&b)), &res, err);
	tly_buf_free(&b);
	if (rc)
		return rc;
	wk->fed++;
	tly_metric_add("tally_events_caught_up_total", acct ?
	    "endpoint=\"connect\"" : "endpoint=\"platform\"", 1);
	tly_logkv(ctx->log, TLY_LOG_WARN, "events", "missed event caught up",
	    "event_id", id, "type", type, "account", acct, "status",
	    res.status, NULL);
	return TLY_OK;
}

/* feed_page - the events of one list page, oldest first */
static int
feed_page(tly_ctx *ctx, walk *wk, const tly_st_list *l, tly_err *err)
{
	const tly_jv **v, *e;
	size_t i, n;
	int rc;

	n = 0;
	v = tly_pcalloc(ctx->pool, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return tly_err_internal(err);
	for (e = l->data->child; e && n < l->n; e = e->next)
		v[n++] = e;
	for (i = n; i > 0; i--) {
		rc = feed(ctx, wk, v[i - 1], err);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* list - one page of /v1/events with 'f' for the walk's scope */
static int
list(tly_ctx *ctx, walk *wk, tly_form *f, tly_st_list *l, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	int rc;

	tly_form_i64(f, "limit", 100);
	rq = (tly_stripe_req){ "GET", "/v1/events", f, NULL, wk->account };
	rc = tly_stripe_call(ctx->stripe, ctx->pool, &rq, &resp, err);
	if (rc)
		return rc;
	if (tly_st_list_parse(resp.json, l) != TLY_OK)
		return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected list reply.");
	return TLY_OK;
}

/* start_cursor - the newest event Tally stored for the scope, or '' */
static int
start_cursor(tly_ctx *ctx, walk *wk, tly_err *err)
{
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM webhook_events WHERE "
	    "account <=> ? ORDER BY created DESC, received_at DESC LIMIT 1",
	    "s>s", wk->account, wk->cursor, sizeof(wk->cursor));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		wk->cursor[0] = '\0';
		return TLY_OK;
	}
	return rc;
}

/* walk_forward - step 2: from the cursor to the newest event */
static int
walk_forward(tly_ctx *ctx, walk *wk, tly_err *err)
{
	tly_st_list l;
	const char *newest;
	tly_form f;
	int page, rc;

	if (wk->cursor[0] == '\0') {
		rc = start_cursor(ctx, wk, err);
		if (rc)
			return rc;
	}
	if (wk->cursor[0] == '\0') {
		/* nothing stored: the lookback window, newest page first */
		tly_form_init(&f);
		tly_form_i64(&f, "created[gte]", tly_now_s() - EV_LOOKBACK_S);
		rc = list(ctx, wk, &f, &l, err);
		tly_form_free(&f);
		if (rc == TLY_OK)
			rc = feed_page(ctx, wk, &l, err);
		if (rc == TLY_OK && l.n > 0 &&
		    (newest = tly_json_str(l.data->child, "id")) != NULL)
			tly_strlcpy(wk->cursor, newest, sizeof(wk->cursor));
		return rc;
	}
	for (page = 0; page < EV_PAGES; page++) {
		tly_form_init(&f);
		tly_form_str(&f, "ending_before", wk->cursor);
		rc = list(ctx, wk, &f, &l, err);
		tly_form_free(&f);
		if (rc == TLY_ERR &&
		    strcmp(err->code, "resource_missing") == 0 &&
		    strcmp(err->param, "ending_before") == 0) {
			/* Stripe forgot the cursor's event */
			wk->cursor_lost = 1;
			wk->cursor[0] = '\0';
			return TLY_OK;
		}
		if (rc == TLY_OK)
			rc = feed_page(ctx, wk, &l, err);
		if (rc)
			return rc;
		if (l.n == 0 ||
		    (newest = tly_json_str(l.data->child, "id")) == NULL)
			return TLY_OK;
		tly_strlcpy(wk->cursor, newest, sizeof(wk->cursor));
		if (!l.has_more)
			return TLY_OK;
	}
	return TLY_OK;
}

/* walk_undelivered - step 3: what Stripe could not deliver */
static int
walk_undelivered(tly_ctx *ctx, walk *wk, tly_err *err)
{
	const tly_jv *last;
	const char *after = NULL;
	tly_st_list l;
	tly_form f;
	int page, rc;

	for (page = 0; page < EV_PAGES; page++) {
		tly_form_init(&f);
		tly_form_str(&f, "delivery_success", "false");
		tly_form_i64(&f, "created[gte]", tly_now_s() - EV_LOOKBACK_S);
		tly_form_str(&f, "starting_after", after);
		rc = list(ctx, wk, &f, &l, err);
		tly_form_free(&f);
		if (rc == TLY_OK)
			rc = feed_page(ctx, wk, &l, err);
		if (rc || !l.has_more || l.n == 0)
			return rc;
		for (last = l.data->child; last->next; last = last->next)
			;
		after = tly_json_str(last, "id");
		if (after == NULL)
			return TLY_OK;
	}
	return TLY_OK;
}

/* release - store the walk's cursor (when it moved) and end the lease */
static void
release(tly_ctx *ctx, const walk *wk, int moved)
{
	tly_err e2;

	tly_err_clear(&e2);
	if (moved)
		(void)tly_db_exec(ctx->db, &e2, NULL, "UPDATE "
		    "stripe_event_cursors SET last_event_id = NULLIF(?, ''), "
		    "leased_until = NULL, run_at = NOW(3), caught_up = "
		    "caught_up + ? WHERE scope = ?", "sis", wk->cursor,
		    wk->fed, wk->sc->name);
	else
		(void)tly_db_exec(ctx->db, &e2, NULL, "UPDATE "
		    "stripe_event_cursors SET leased_until = NULL, run_at = "
		    "NOW(3), caught_up = caught_up + ? WHERE scope = ?", "is",
		    wk->fed, wk->sc->name);
}

/* catch_up - steps 2 to 4 for one claimed scope */
static int
catch_up(tly_ctx *ctx, const scope *sc, tly_err *err)
{
	walk wk;
	int rc;

	memset(&wk, 0, sizeof(wk));
	wk.sc = sc;
	wk.account = strcmp(sc->name, "platform") == 0 ? NULL : sc->name;
	wk.endpoint = wk.account ? "connect" : "platform";
	tly_strlcpy(wk.cursor, sc->cursor, sizeof(wk.cursor));
	rc = walk_forward(ctx, &wk, err);
	if (rc == TLY_OK)
		rc = walk_undelivered(ctx, &wk, err);
	if (wk.cursor_lost)
		tly_logkv(ctx->log, TLY_LOG_WARN, "events", "Stripe no longer "
		    "lists the cursor's event: starting again from the newest "
		    "stored", "scope", sc->name, "cursor", sc->cursor, NULL);
	/* a failed walk keeps what it fed: the cursor only moves past it */
	release(ctx, &wk, rc == TLY_OK || strcmp(wk.cursor, sc->cursor));
	return rc;
}

/*
 * tly_job_events - one catch-up run: every scope whose lease is free
 * (at most EV_SCOPES), its missed events fed through the webhook path
 */
int
tly_job_events(tly_ctx *ctx, tly_err *err)
{
	claim_args a;
	tly_err e;
	int i, rc;

	/* the scopes: the platform and every connected account */
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT IGNORE INTO "
	    "stripe_event_cursors (scope) VALUES ('platform')", "");
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT IGNORE INTO "
		    "stripe_event_cursors (scope) SELECT connect_account_id "
		    "FROM accounts WHERE connect_account_id IS NOT NULL", "");
	if (rc == TLY_OK)
		rc = claim_tx_run(ctx, "events.claim", &a, err);
	if (rc)
		return rc;
	for (i = 0; i < a.n; i++) {
		tly_err_clear(&e);
		tly_pool_reset(ctx->pool);
		if (catch_up(ctx, &a.s[i], &e) != TLY_OK) {
			tly_logkv(ctx->log, TLY_LOG_WARN, "events",
			    "catch-up failed; tried again next run", "scope",
			    a.s[i].name, "code", e.code, NULL);
			if (rc == TLY_OK) {
				*err = e;
				rc = TLY_ERR;
			}
		}
	}
	return rc;
}

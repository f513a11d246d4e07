/*
 * webhook.c - receiving and acting on Stripe's events
 *
 * Owns webhook_events and webhook_refusals.  One delivery:
 *
 *   1. verify Stripe-Signature with the endpoint's secrets (platform or
 *      Connect, two each during a rotation); a refusal is counted by
 *      source address in memory (written in aggregate, see "Refusals"
 *      below) and answered 400, and the unverified body is never stored;
 *   2. parse the event; store it by id.  A duplicate id is acknowledged
 *      and does nothing (unless its processing failed: then it is tried
 *      again now);
 *   3. act on it (dispatch.c: typed facts to the module that books them;
 *      PaymentIntent and charge events only when they come
 *      from the platform endpoint without "account": a connected
 *      account's own PaymentIntents are no buyer's payment):
 *        payment_intent.succeeded  complete the checkout named in the
 *             PaymentIntent's metadata, with the facts of the signed event,
 *             in the SAME transaction as storing the event (one commit);
 *        charge.succeeded          re-read the PaymentIntent from Stripe
 *             (the event carries a charge), then complete; a charge that
 *             is only authorised completes nothing;
 *        charge.updated            when it brings the balance transaction
 *             (asynchronous capture), read its real fee (converted into
 *             the charge's currency at the transaction's exchange_rate
 *             when Stripe settled it in another, complete.h) and book the
 *             adjustment;
 *        payment_intent.payment_failed / processing / requires_action /
 *             canceled           move the checkout's status, forward only
 *             (an event older than the last one applied changes nothing);
 *        charge.refunded, charge.refund.updated, refund.*
 *                                  the charge's refunds, listed from Stripe,
 *                                  recorded and booked once
 *                                  (refund_events.c);
 *        charge.dispute.*          the dispute, re-read from Stripe, booked
 *                                  once (dispute.c);
 *        account.updated           a payee's connected account state
 *             (connect.c), newer events only;
 *        payout.failed (Connect)   a payee's bank payout failed: flag and
 *             email it (connect.c);
 *        transfer.reversed         a payout's or an advance's transfer
 *             reversed outside Tally: booked and alerted (recover.c,
 *             advance_offset.c);
 *        anything else             stored and acknowledged ("ignored").
 *   4. answer 200 whenever the event is stored, even if acting failed:
 *      Tally retries itself ("webhooks" job: exponential backoff, dead
 *      after TLY_WEBHOOK_MAX_ATTEMPTS, replayable by an operator).
 *
 * An event Tally read from Stripe itself (the "events" catch-up job,
 * events.c) enters at step 2 through tly_webhook_ingest(): the same
 * store-by-id and act, so it is stored exactly as a delivery would be.
 *
 * API:	tly_webhook_receive(), tly_webhook_ingest(), tly_webhook_process(),
 *	tly_webhook_replay(), tly_webhook_list(), tly_job_webhooks(),
 *	tly_webhook_refusals_flush(), tly_webhook_refusals_pending(),
 *	tly_webhook_refusals_prune().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "complete.h"
#include "dispatch.h"
#include "metrics.h"
#include "stripe.h"
#include "tly_str.h"
#include "tx.h"
#include "webhook.h"

typedef tly_event event;

/*
 * platform_only - PaymentIntent and charge events act only when they come
 * from the platform endpoint about the platform's own objects (no
 * "account").  A connected account's owner makes PaymentIntents on its
 * own account with any metadata it likes: from the Connect endpoint
 * such an event is stored and ignored, never taken for a buyer's
 * payment.
 */
static int
platform_only(tly_ctx *ctx, event *ev)
{
	switch (ev->act) {
	case TLY_ACT_COMPLETE: case TLY_ACT_CHARGE: case TLY_ACT_FEE:
	case TLY_ACT_STATUS:
		break;
	default:
		return ev->act;
	}
	if (strcmp(ev->endpoint, "platform") == 0 &&
	    (ev->e.account == NULL || ev->e.account[0] == '\0'))
		return ev->act;
	tly_logkv(ctx->log, TLY_LOG_WARN, "webhook", "a payment event of a "
	    "connected account: ignored", "event_id", ev->e.id, "type",
	    ev->e.type, "account", ev->e.account, NULL);
	return TLY_ACT_IGNORE;
}

/* parse_event - the event in 'payload' (in the context's arena) */
static int
parse_event(tly_ctx *ctx, const char *payload, size_t len, event *ev,
    tly_err *err)
{
	tly_jv *j;
	int rc;

	ev->payload = payload;
	ev->len = len;
	rc = tly_json_parse(ctx->pool, payload, len, &tly_json_api_limits, &j,
	    err);
	if (rc == TLY_OK && tly_st_event_parse(j, &ev->e) != TLY_OK)
		rc = tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "The body is not a Stripe event.");
	if (rc)
		return rc;
	ev->object_id = tly_json_str(ev->e.object, "id");
	ev->act = tly_dispatch_classify(&ev->e);
	ev->act = platform_only(ctx, ev);
	return TLY_OK;
}

/*
 * Refusals (a bad signature) are counted in memory, per source address,
 * and written to webhook_refusals in aggregate: at most once a
 * TLY_REFUSALS_FLUSH_MS per worker (on the next refusal after it, when
 * the worker is idle, and when it exits), one upsert per address.  A
 * flood of forged deliveries costs no database write each.  The table
 * is bounded in memory: REFUSAL_SLOTS addresses per interval, the rest
 * counted under "other".
 */
#define REFUSAL_SLOTS	64

typedef struct refusal_slot {
	char	 addr[64];
	char	 reason[128];
	int64_t	 n;
} refusal_slot;

static refusal_slot	refusal_tab[REFUSAL_SLOTS];
static int		refusal_used;
static int64_t		refusal_flushed_ms;

/* refusal_count - one more refusal of 'addr' in memory */
static void
refusal_count(const char *addr, const char *why)
{
	refusal_slot *sl = NULL;
	int i;

	if (addr == NULL || *addr == '\0' || strlen(addr) >= 64)
		addr = "unknown";
	for (i = 0; i < refusal_used && sl == NULL; i++)
		if (strcmp(refusal_tab[i].addr, addr) == 0)
			sl = &refusal_tab[i];
	if (sl == NULL && refusal_used < REFUSAL_SLOTS - 1) {
		sl = &refusal_tab[refusal_used++];
		tly_strlcpy(sl->addr, addr, sizeof(sl->addr));
	}
	if (sl == NULL) {		/* the last slot: everyone else */
		sl = &refusal_tab[REFUSAL_SLOTS - 1];
		if (sl->n == 0)
			tly_strlcpy(sl->addr, "other", sizeof(sl->addr));
		refusal_used = REFUSAL_SLOTS;
	}
	sl->n++;
	tly_strlcpy(sl->reason, why, sizeof(sl->reason));
}

/* tly_webhook_refusals_pending - refusals not written yet */
int
tly_webhook_refusals_pending(void)
{
	return refusal_used > 0;
}

/*
 * refusal_add - add a slot's count to its address's row and to the
 * address's current window (a new window when the last began more than
 * [alerts] webhook_refusal_window ago).  MariaDB assigns left to right,
 * so window_refusals is computed from the old window_start.
 */
static int
refusal_add(tly_ctx *ctx, const refusal_slot *sl, tly_err *err)
{
	int64_t w = ctx->cfg->alert_refusal_window_s;

	return tly_db_exec(ctx->db, err, NULL, "INSERT INTO webhook_refusals "
	    "(source_addr, refusals, last_reason, window_start, "
	    "window_refusals) VALUES (?, ?, ?, NOW(3), ?) ON DUPLICATE KEY "
	    "UPDATE refusals = refusals + VALUES(refusals), last_reason = "
	    "VALUES(last_reason), last_at = NOW(3), window_refusals = "
	    "IF(window_start > NOW(3) - INTERVAL ? SECOND, window_refusals + "
	    "VALUES(window_refusals), VALUES(window_refusals)), window_start "
	    "= IF(window_start > NOW(3) - INTERVAL ? SECOND, window_start, "
	    "NOW(3))", "sisiii", sl->addr, sl->n, sl->reason, sl->n, w, w);
}

/*
 * refusal_burst - when 'addr''s window holds [alerts] webhook_refusals
 * or more, claim the window's one alert (the UPDATE that changes the row
 * logs it; every other worker and host finds it claimed).
 */
static void
refusal_burst(tly_ctx *ctx, const char *addr)
{
	const tly_config *c = ctx->cfg;
	char n[24], w[24];
	uint64_t claimed = 0;
	int64_t total = 0;
	tly_err e2;

	if (c->alert_refusals <= 0)
		return;
	tly_err_clear(&e2);
	if (tly_db_exec(ctx->db, &e2, &claimed, "UPDATE webhook_refusals SET "
	    "alerted_at = NOW(3) WHERE source_addr = ? AND window_refusals "
	    ">= ? AND (alerted_at IS NULL OR alerted_at < window_start)",
	    "si", addr, (int64_t)c->alert_refusals) != TLY_OK || claimed != 1)
		return;
	tly_err_clear(&e2);
	(void)tly_db_row(ctx->db, &e2, "SELECT window_refusals FROM "
	    "webhook_refusals WHERE source_addr = ?", "s>i", addr, &total);
	(void)snprintf(n, sizeof(n), "%lld", (long long)total);
	(void)snprintf(w, sizeof(w), "%d", c->alert_refusal_window_s);
	tly_logkv(ctx->log, TLY_LOG_ALERT, "webhook", "ALERT: a burst of "
	    "refused webhook signatures from one address", "remote_addr",
	    addr, "refusals", n, "window_s", w, NULL);
}

/*
 * tly_webhook_refusals_flush - write the counted refusals (one upsert per
 * address), unless 'force' is 0 and the last write is recent.  What a
 * write fails to store is kept for the next one.
 */
void
tly_webhook_refusals_flush(tly_ctx *ctx, int force)
{
	int64_t now = tly_mono_ms();
	refusal_slot *sl;
	tly_err e2;
	int i, kept = 0;

	if (refusal_used == 0 || (!force && refusal_flushed_ms &&
	    now - refusal_flushed_ms < TLY_REFUSALS_FLUSH_MS))
		return;
	refusal_flushed_ms = now;
	for (i = 0; i < refusal_used; i++) {
		sl = &refusal_tab[i];
		if (sl->n == 0)
			continue;
		tly_err_clear(&e2);
		if (refusal_add(ctx, sl, &e2) != TLY_OK) {
			if (kept != i)
				refusal_tab[kept] = *sl;
			kept++;
		} else
			refusal_burst(ctx, sl->addr);
	}
	refusal_used = kept;
	memset(&refusal_tab[kept], 0, (REFUSAL_SLOTS - (size_t)kept) *
	    sizeof(refusal_tab[0]));
}

/*
 * tly_webhook_refusals_prune - delete the rows of addresses not refused
 * for [stripe] webhook_refusals_days (the gc job): a flood from ever new
 * addresses grows the table by a row each, never for good.  Batches of
 * 1000 on the last_at index (at most 100 a run), as tly_db_prune does.
 */
int
tly_webhook_refusals_prune(tly_ctx *ctx, tly_err *err)
{
	uint64_t n;
	int rc, i;

	for (i = 0; i < 100; i++) {
		n = 0;
		rc = tly_db_exec(ctx->db, err, &n, "DELETE FROM "
		    "webhook_refusals WHERE last_at < NOW(3) - INTERVAL ? DAY "
		    "LIMIT 1000", "i",
		    (int64_t)ctx->cfg->stripe_webhook_refusals_days);
		if (rc || n < 1000)
			return rc;
	}
	return TLY_OK;
}

static int
refused(tly_ctx *ctx, const char *addr, const char *why, tly_err *err)
{
	refusal_count(addr, why);
	tly_webhook_refusals_flush(ctx, 0);
	tly_logkv(ctx->log, TLY_LOG_WARN, "webhook", "signature refused",
	    "reason", why, "remote_addr", addr, NULL);
	return tly_err_set(err, TLY_EK_INVALID, "signature_invalid",
	    "The Stripe-Signature header does not verify.");
}

static int
insert_event(tly_ctx *ctx, const event *ev, const char *status, tly_err *err)
{
	return tly_db_later(ctx->db, err, "INSERT INTO webhook_events "
	    "(id, endpoint, type, account, object_id, created, livemode, "
	    "api_version, payload, status, attempts, next_attempt_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? <> 'received', IF(? = "
	    "'received', NOW(3) + INTERVAL 60 SECOND, NULL))",
	    "sssssiisssss", ev->e.id, ev->endpoint, ev->e.type,
	    ev->e.account, ev->object_id, ev->e.created,
	    (int64_t)ev->e.livemode, ev->e.api_version, ev->payload, status,
	    status, status);
}

/* mark - the outcome of acting on event 'id' */
static void
mark(tly_ctx *ctx, const char *id, int rc, const char *status,
    const tly_err *why)
{
	tly_err e2;

	tly_err_clear(&e2);
	if (rc == TLY_OK)
		(void)tly_db_exec(ctx->db, &e2, NULL, "UPDATE webhook_events "
		    "SET status = ?, attempts = attempts + 1, processed_at = "
		    "NOW(3), next_attempt_at = NULL, last_error = NULL WHERE "
		    "id = ?", "ss", status, id);
	else
		(void)tly_db_exec(ctx->db, &e2, NULL, "UPDATE webhook_events "
		    "SET status = IF(attempts + 1 >= ?, 'dead', 'failed'), "
		    "attempts = attempts + 1, next_attempt_at = NOW(3) + "
		    "INTERVAL LEAST(POW(2, attempts) * 10, 3600) SECOND, "
		    "last_error = ? WHERE id = ?", "iss",
		    (int64_t)TLY_WEBHOOK_MAX_ATTEMPTS, why->code, id);
}

/* --- receiving ------------------------------------------------------------ */

typedef struct inline_args {
	const event	*ev;
	tly_pi_facts	 f;
	tly_completion	 comp;
} inline_args;

/*
 * inline_tx - complete and store the payment_intent.succeeded, one
 * commit.  The event's row is written last and deferred, with the
 * completion's writes (one round trip with the COMMIT); an event stored
 * meanwhile makes the COMMIT fail with TLY_CONFLICT, and nothing of the
 * transaction stays.
 */
TLY_TX_TYPED(inline_tx, inline_args)

static int
inline_tx(tly_ctx *ctx, inline_args *a, tly_err *err)
{
	int rc;

	rc = tly_completion_tx(ctx, &a->comp, err);
	if (rc == TLY_OK)
		rc = insert_event(ctx, a->ev, "processed", err);
	return rc;
}

static void
result(tly_webhook_result *res, const event *ev, const char *status)
{
	tly_strlcpy(res->event_id, ev->e.id, sizeof(res->event_id));
	tly_strlcpy(res->type, ev->e.type, sizeof(res->type));
	tly_strlcpy(res->status, status, sizeof(res->status));
}

/* stored_status - the status of event 'id' as stored */
static int
stored_status(tly_ctx *ctx, const char *id, char *st, size_t sz,
    tly_err *err)
{
	return tly_db_row(ctx->db, err, "SELECT status FROM webhook_events "
	    "WHERE id = ?", "s>s", id, st, sz);
}

/* seen - event 'ev' is stored with status 'st': done, or worth a retry */
static int
seen(tly_ctx *ctx, const event *ev, const char *st, tly_webhook_result *res,
    tly_err *err)
{
	res->duplicate = 1;
	if (strcmp(st, "failed") != 0 && strcmp(st, "received") != 0) {
		result(res, ev, st);
		return TLY_OK;
	}
	return tly_webhook_process(ctx, ev->e.id, res, err);
}

/* duplicate - event 'ev' was stored meanwhile (TLY_NOTFOUND if not) */
static int
duplicate(tly_ctx *ctx, const event *ev, tly_webhook_result *res,
    tly_err *err)
{
	char st[16];
	int rc;

	tly_err_clear(err);
	rc = stored_status(ctx, ev->e.id, st, sizeof(st), err);
	return rc ? rc : seen(ctx, ev, st, res, err);
}

/* receive_inline - the fast path for payment_intent.succeeded */
static int
receive_inline(tly_ctx *ctx, const event *ev, tly_webhook_result *res,
    tly_err *err)
{
	inline_args a;
	tly_err e2;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ev = ev;
	if (tly_pi_facts_from(ev->e.object, &a.f) != TLY_OK)
		return tly_err_set(err, TLY_EK_INVALID, "invalid_event",
		    "The event's object is not a PaymentIntent.");
	a.comp.checkout_id = a.f.checkout_id;
	a.comp.f = &a.f;
	a.comp.via = "webhook";
	a.comp.inline_event = 1;	/* no Stripe read after the commit */
	rc = inline_tx_run_keyed(ctx, "webhook.complete", &a, err);
	if (rc == TLY_OK) {
		tly_completion_after(ctx, &a.comp);
		result(res, ev, "processed");
		return TLY_OK;
	}
	if (rc == TLY_CONFLICT) {
		/* stored meanwhile (a concurrent delivery)? */
		rc = duplicate(ctx, ev, res, err);
		if (rc != TLY_NOTFOUND)
			return rc;
		tly_err_set(err, TLY_EK_CONFLICT, "duplicate",
		    "The payment conflicts with another.");
		rc = TLY_CONFLICT;
	}
	if (rc == TLY_UNKNOWN)
		return rc;
	if (tly_dispatch_not_ours(ctx, ev, rc, err)) {
		tly_err_clear(err);
		rc = insert_event(ctx, ev, "ignored", err);
		if (rc == TLY_CONFLICT)
			return duplicate(ctx, ev, res, err);
		if (rc == TLY_OK)
			result(res, ev, "ignored");
		return rc;
	}
	/* store it failed; the job tries again later */
	tly_err_clear(&e2);
	if (insert_event(ctx, ev, "received", &e2) == TLY_CONFLICT)
		return duplicate(ctx, ev, res, err);
	mark(ctx, ev->e.id, rc, NULL, err);
	tly_logkv(ctx->log, TLY_LOG_WARN, "webhook", "processing failed; "
	    "will retry", "event_id", ev->e.id, "type", ev->e.type, "code",
	    err->code, NULL);
	result(res, ev, "failed");
	tly_err_clear(err);
	return TLY_OK;
}

static int	receive_verified(tly_ctx *, const char *, const char *,
		    size_t, tly_webhook_result *, tly_err *);

/*
 * tly_webhook_receive - one delivery to endpoint 'endpoint' ("platform"
 * or "connect"): signature 'sig' over 'len' bytes of 'body' from
 * 'addr'.  TLY_OK once the event is stored (whatever acting on it did);
 * TLY_ERR (400) for a refused signature or a body that is no event.
 */
int
tly_webhook_receive(tly_ctx *ctx, const char *endpoint, const char *sig,
    const char *body, size_t len, const char *addr, tly_webhook_result *res,
    tly_err *err)
{
	const tly_config *c = ctx->cfg;
	const char (*secrets)[128];
	char why[96];

	memset(res, 0, sizeof(*res));
	secrets = strcmp(endpoint, "connect") == 0 ?
	    (const char (*)[128])c->stripe_connect_webhook_secrets :
	    (const char (*)[128])c->stripe_webhook_secrets;
	if (tly_stripe_verify_signature(sig, body, len, secrets,
	    TLY_MAX_WH_SECRETS, tly_now_s(), c->stripe_webhook_tolerance_s,
	    why, sizeof(why)) != TLY_OK)
		return refused(ctx, addr, why, err);
	return receive_verified(ctx, endpoint, body, len, res, err);
}

/*
 * tly_webhook_ingest - event 'body' ('len' bytes), read from Stripe's
 * API by Tally itself (the "events" catch-up job, events.c), to endpoint
 * 'endpoint': stored and acted on exactly as a verified delivery.
 */
int
tly_webhook_ingest(tly_ctx *ctx, const char *endpoint, const char *body,
    size_t len, tly_webhook_result *res, tly_err *err)
{
	memset(res, 0, sizeof(*res));
	return receive_verified(ctx, endpoint, body, len, res, err);
}

/* lag_metric - Stripe's 'created' to now, for a first delivery */
static void
lag_metric(const event *ev)
{
	char lab[48];
	int64_t lag = tly_now_s() - ev->e.created;

	snprintf(lab, sizeof(lab), "endpoint=\"%s\"", ev->endpoint);
	tly_metric_observe_us("tally_webhook_lag_seconds", lab,
	    (lag > 0 ? lag : 0) * 1000000);
}

/* receive_verified - steps 2 to 4 for an event known to be Stripe's */
static int
receive_verified(tly_ctx *ctx, const char *endpoint, const char *body,
    size_t len, tly_webhook_result *res, tly_err *err)
{
	const char *status = NULL;
	char st[16];
	event ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.endpoint = endpoint;
	rc = parse_event(ctx, body, len, &ev, err);
	if (rc)
		return rc;
	/* a redelivery is answered from the stored row: one round trip */
	rc = stored_status(ctx, ev.e.id, st, sizeof(st), err);
	if (rc == TLY_OK)
		return seen(ctx, &ev, st, res, err);
	if (rc != TLY_NOTFOUND)
		return rc;
	tly_err_clear(err);
	lag_metric(&ev);
	if (ev.act == TLY_ACT_COMPLETE &&
	    tly_json_str(ev.e.object, "metadata.checkout_id"))
		return receive_inline(ctx, &ev, res, err);
	rc = insert_event(ctx, &ev, "received", err);
	if (rc == TLY_CONFLICT)
		return duplicate(ctx, &ev, res, err);
	if (rc)
		return rc;
	rc = tly_dispatch_event(ctx, &ev, &status, err);
	mark(ctx, ev.e.id, rc, status, err);
	if (rc)
		tly_logkv(ctx->log, TLY_LOG_WARN, "webhook",
		    "processing failed; will retry", "event_id", ev.e.id,
		    "type", ev.e.type, "code", err->code, NULL);
	result(res, &ev, rc ? "failed" : status);
	tly_err_clear(err);
	return TLY_OK;
}

/*
 * tly_webhook_process - act on stored event 'id' again (the job, a
 * replay, a redelivery of a failed event).
 */
int
tly_webhook_process(tly_ctx *ctx, const char *id, tly_webhook_result *res,
    tly_err *err)
{
	const char *status = NULL;
	char *payload;
	event ev;
	tly_q q;
	int rc;

	if (tly_q_prep(ctx->db, &q, "SELECT endpoint, payload FROM "
	    "webhook_events WHERE id = ?", err))
		return q.rc;
	tly_q_str(&q, id);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	memset(&ev, 0, sizeof(ev));
	payload = NULL;
	if (rc == TLY_ROW) {
		ev.endpoint = tly_pstrdup(ctx->pool, tly_q_col_str(&q, 0));
		payload = tly_pstrndup(ctx->pool, tly_q_col_str(&q, 1),
		    tly_q_col_len(&q, 1));
	}
	tly_q_done(&q);
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such event: '%.64s'.", id);
	if (rc != TLY_ROW)
		return rc;
	if (payload == NULL || ev.endpoint == NULL)
		return tly_err_internal(err);
	rc = parse_event(ctx, payload, strlen(payload), &ev, err);
	if (rc == TLY_OK)
		rc = tly_dispatch_event(ctx, &ev, &status, err);
	mark(ctx, id, rc, status, err);
	if (rc == TLY_OK)
		result(res, &ev, status);
	return rc;
}

typedef struct replay_args {
	const tly_principal	*actor;
	const char		*id;
} replay_args;

/* replay_tx - the event exists (locked); the operator's request audited */
TLY_TX_TYPED(replay_tx, replay_args)
static int
replay_tx(tly_ctx *ctx, replay_args *a, tly_err *err)
{
	char id[72];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM webhook_events WHERE "
	    "id = ? FOR UPDATE", "s>s", a->id, id, sizeof(id));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such event: '%.64s'.", a->id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "webhook.replay", a->id, NULL,
		    err);
	return rc;
}

/*
 * tly_webhook_replay - 'actor' (an admin, the operator) has stored event
 * 'id' acted on again: the request is audited in its own transaction,
 * then the event is processed as the job would (whatever it booked is
 * audited by the operations themselves).
 */
int
tly_webhook_replay(tly_ctx *ctx, const tly_principal *actor, const char *id,
    tly_webhook_result *res, tly_err *err)
{
	replay_args a;
	int rc;

	a.actor = actor;
	a.id = id;
	rc = replay_tx_run(ctx, "webhook.replay", &a, err);
	if (rc)
		return rc;
	return tly_webhook_process(ctx, id, res, err);
}

/* --- the job and the operator's list ------------------------------ */

#define JOB_BATCH	20

typedef struct claim_args {
	char	 ids[JOB_BATCH][72];
	int	 n;
} claim_args;

/* claim_tx - due events, leased for five minutes (SKIP LOCKED) */
TLY_TX_TYPED(claim_tx, claim_args)

static int
claim_tx(tly_ctx *ctx, claim_args *a, tly_err *err)
{
	int rc, i;

	rc = tly_db_ids(ctx->db, err, "SELECT id FROM webhook_events WHERE "
	    "status IN ('received', 'failed') AND next_attempt_at <= NOW(3) "
	    "ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED",
	    a->ids[0], sizeof(a->ids[0]), JOB_BATCH, &a->n);
	if (rc)
		return rc;
	for (i = 0; i < a->n; i++) {
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE webhook_events "
		    "SET next_attempt_at = NOW(3) + INTERVAL 5 MINUTE WHERE "
		    "id = ?", "s", a->ids[i]);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* tly_job_webhooks - act again on events whose processing failed */
int
tly_job_webhooks(tly_ctx *ctx, tly_err *err)
{
	tly_webhook_result res;
	claim_args a;
	tly_err e;
	int i, rc;

	rc = claim_tx_run(ctx, "webhook.claim", &a, err);
	for (i = 0; rc == TLY_OK && i < a.n; i++) {
		tly_err_clear(&e);
		tly_pool_reset(ctx->pool);
		if (tly_webhook_process(ctx, a.ids[i], &res, &e) != TLY_OK)
			tly_logkv(ctx->log, TLY_LOG_WARN, "webhook",
			    "retry failed", "event_id", a.ids[i], "code",
			    e.code, NULL);
	}
	return rc;
}

/* tly_webhook_list - stored events, newest first; 'status' filters */
int
tly_webhook_list(tly_ctx *ctx, const char *status, const tly_page *p,
    tly_webhook_row **out, int *n, int *more, tly_err *err)
{
	tly_webhook_row *rows, *r;
	const char *v;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT id, type, status, endpoint, "
	    "IFNULL(object_id, ''), IFNULL(last_error, ''), attempts, created, "
	    "FLOOR(UNIX_TIMESTAMP(received_at)) FROM webhook_events WHERE "
	    "(? IS NULL OR status = ?) AND (? IS NULL OR received_at < (SELECT "
	    "received_at FROM webhook_events WHERE id = ?)) ORDER BY "
	    "received_at DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, status);
	tly_q_str(&q, status);
	tly_q_str(&q, p->starting_after);
	tly_q_str(&q, p->starting_after);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		r = &rows[(*n)++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		tly_strlcpy(r->type, tly_q_col_str(&q, 1), sizeof(r->type));
		tly_strlcpy(r->status, tly_q_col_str(&q, 2), sizeof(r->status));
		tly_strlcpy(r->endpoint, tly_q_col_str(&q, 3),
		    sizeof(r->endpoint));
		v = tly_q_col_str(&q, 4);
		tly_strlcpy(r->object_id, v ? v : "", sizeof(r->object_id));
		v = tly_q_col_str(&q, 5);
		tly_strlcpy(r->last_error, v ? v : "", sizeof(r->last_error));
		r->attempts = tly_q_col_i64(&q, 6);
		r->created = tly_q_col_i64(&q, 7);
		r->received = tly_q_col_i64(&q, 8);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

/*
 * advance.c - advances: granted, transferred, recovered (advance.h)
 *
 * Owns the advances table (this file and advance_offset.c, one module:
 * advance.h); its share rows of role ADVANCE_OFFSET (kinds
 * advance_offset, advance_fee, advance_return and advance_reversal) go
 * through shares.c, the transfer_reversals rows of advances through
 * recover.c.  docs/ledger.md, "Advances", is the model; in short:
 *
 *   tly_advance_grant    (0) a request whose Idempotency-Key an advance
 *                        keeps (request_key, idem.h) answers that
 *                        advance and does nothing else;
 *                        (1) one transaction: the payee must be a payee
 *                        kind with a connected account and payouts
 *                        enabled; insert the advance (adv_..., state
 *                        to_transfer, key generation 1, a lease, the
 *                        client's key) and its audit row; (2) outside
 *                        it, create ONE Stripe transfer
 *                        (tly_advance_effect, effect.c, key
 *                        tally:advance:<adv>:g<gen>, transfer_group and
 *                        metadata[tally_id] = the advance id); (3) commit
 *                        transferred + the transfer id, or failed when
 *                        Stripe refused it (nothing is ever offset then),
 *                        or unknown (no answer): tly_advances_finish(),
 *                        called by every payout run, is the engine's
 *                        finisher: it looks the transfer up among those
 *                        of its transfer group, else calls again with the
 *                        stored key generation.
 *   the bookings inside other transactions (the completion's offsets,
 *   a reversal's return, a Dashboard reversal of the transfer, the real
 *   fee's re-targeting) are advance_offset.c's.
 *
 * Lock order (docs/ledger.md): checkout -> payment -> advances.  Nothing
 * that holds an advance row waits for a checkout, payment or account row:
 * the grant's transactions lock only their own advance, and the payout
 * run (account -> shares) never touches advances.  Among advances, ONE
 * order everywhere: (account_id, id), byte order, the order of the
 * advances_open index (account_id, currency, state) whose key ends with
 * the id.  The completion (tly_advance_offset) and the fee settlement
 * (refee_lock) lock through that index; a reversal (tly_advance_reverse)
 * sorts the advances it locks one by one the same way (adv_order); a
 * reversal of an advance's transfer (arev_tx) locks one advance.  Two
 * transactions that lock several advances therefore never wait on each
 * other in a cycle (tests/db/advance_lock_test.c).
 *
 * API:	tly_advance_grant(), tly_advance_list(), tly_advances_finish(),
 *	tly_advance_balances(), tly_advance_effect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advance.h"
#include "audit.h"
#include "effect.h"
#include "idem.h"
#include "tly_str.h"
#include "tx.h"

#define ADV_COLS \
	"id, account_id, currency, state, IFNULL(stripe_transfer_id, ''), " \
	"note, granted_by, IFNULL(last_error, ''), granted_cent, " \
	"offset_cent, FLOOR(UNIX_TIMESTAMP(created_at)), " \
	"IFNULL(request_key, ''), connect_account_id, key_gen, reversed_cent " \
	"FROM advances "

/* an advance row with what the transfer needs */
typedef struct adv_row {
	tly_advance	 a;
	char		 acct[72];	/* the connected account */
	char		 rkey[400];
	int64_t		 gen;
} adv_row;

/* --- rows ----------------------------------------------------------- */

/* row_from - the advance in the current row of 'q' (ADV_COLS) */
static void
row_from(tly_q *q, adv_row *r)
{
	const char *v;

	memset(r, 0, sizeof(*r));
	tly_strlcpy(r->a.id, tly_q_col_str(q, 0), sizeof(r->a.id));
	tly_strlcpy(r->a.account_id, tly_q_col_str(q, 1),
	    sizeof(r->a.account_id));
	tly_strlcpy(r->a.currency, tly_q_col_str(q, 2),
	    sizeof(r->a.currency));
	tly_strlcpy(r->a.state, tly_q_col_str(q, 3), sizeof(r->a.state));
	v = tly_q_col_str(q, 4);
	tly_strlcpy(r->a.transfer_id, v ? v : "", sizeof(r->a.transfer_id));
	v = tly_q_col_str(q, 5);
	tly_strlcpy(r->a.note, v ? v : "", sizeof(r->a.note));
	v = tly_q_col_str(q, 6);
	tly_strlcpy(r->a.granted_by, v ? v : "", sizeof(r->a.granted_by));
	v = tly_q_col_str(q, 7);
	tly_strlcpy(r->a.last_error, v ? v : "", sizeof(r->a.last_error));
	r->a.granted_cent = tly_q_col_i64(q, 8);
	r->a.offset_cent = tly_q_col_i64(q, 9);
	r->a.created = tly_q_col_i64(q, 10);
	v = tly_q_col_str(q, 11);
	tly_strlcpy(r->rkey, v ? v : "", sizeof(r->rkey));
	v = tly_q_col_str(q, 12);
	tly_strlcpy(r->acct, v ? v : "", sizeof(r->acct));
	r->gen = tly_q_col_i64(q, 13);
	r->a.reversed_cent = tly_q_col_i64(q, 14);
}

/* load - the advance whose column 'col' ("id", "request_key") is 'v' */
static int
load(tly_ctx *ctx, const char *col, const char *v, adv_row *r,
    tly_err *err)
{
	tly_q q;
	int rc;

	if (tly_q_prep(ctx->db, &q, strcmp(col, "id") == 0 ? "SELECT "
	    ADV_COLS "WHERE id = ?" : "SELECT " ADV_COLS "WHERE request_key "
	    "= ?", err))
		return q.rc;
	tly_q_str(&q, v);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	if (rc == TLY_ROW)
		row_from(&q, r);
	tly_q_done(&q);
	if (rc == TLY_ROW)
		return TLY_OK;
	if (rc == TLY_OK)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such advance: '%.40s'.", v);
	return rc;
}

/* --- step 1: the advance row ---------------------------------------- */

typedef struct grant_args {
	const tly_principal	*by;
	const char		*acc;
	const char		*cur;
	const char		*note;
	const tly_idem_row	*key;	/* the client's, or NULL */
	int64_t			 amount_cent;
	char			 id[40];
} grant_args;

/* payee_ok - 'acc' may receive an advance: its connected account */
static int
payee_ok(tly_ctx *ctx, const char *acc, char *acct, size_t sz,
    tly_err *err)
{
	char kind[16];
	int64_t enabled = 0;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT kind, IFNULL(connect_account_id, "
	    "''), payouts_enabled FROM accounts WHERE id = ?", "s>ssi", acc,
	    kind, sizeof(kind), acct, sz, &enabled);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "account_id", "No such account: '%.40s'.", acc);
	if (rc)
		return rc;
	if (strcmp(kind, "talent") && strcmp(kind, "agent") &&
	    strcmp(kind, "ambassador") && strcmp(kind, "host_partner"))
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "account_not_payee", "account_id", "Advances go only to "
		    "talent, agent, ambassador and host partner accounts.");
	if (acct[0] == '\0' || !enabled)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "payee_not_onboarded", "account_id", "The payee has not "
		    "finished its payout onboarding (no connected account "
		    "with payouts enabled).");
	return TLY_OK;
}

/*
 * grant_tx - step 1: the advance row (keeping the client's key) and its
 * audit row; a duplicate key (a concurrent takeover made the row first)
 * is TLY_CONFLICT
 */
TLY_TX_TYPED(grant_tx, grant_args)

static int
grant_tx(tly_ctx *ctx, grant_args *a, tly_err *err)
{
	char acct[72], detail[160];
	int rc;

	a->id[0] = '\0';
	rc = payee_ok(ctx, a->acc, acct, sizeof(acct), err);
	if (rc)
		return rc;
	if (tly_id_new(a->id, sizeof(a->id), "adv") != TLY_OK)
		return tly_err_internal(err);
	/* the advance first, then the audit row: see the lock order */
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO advances (id, "
	    "account_id, connect_account_id, currency, granted_cent, note, "
	    "granted_by, request_key, request_sha256, state, key_gen, "
	    "lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'to_transfer', "
	    "1, NOW(3) + INTERVAL ? SECOND)", "ssssissssi", a->id, a->acc,
	    acct, a->cur, a->amount_cent, a->note, a->by->name,
	    a->key ? a->key->key : NULL, a->key ? a->key->sha256 : NULL,
	    (int64_t)ctx->cfg->payout_lease_s);
	if (rc)
		return rc;
	snprintf(detail, sizeof(detail), "%lld %s to %s",
	    (long long)a->amount_cent, a->cur, a->acc);
	return tly_audit(ctx, a->by, "advance.grant", a->id, detail, err);
}

/*
 * keyed - the advance that keeps a->key, into 'r': TLY_OK, TLY_NOTFOUND
 * (none yet), or an error (422 when the key named another request)
 */
static int
keyed(tly_ctx *ctx, grant_args *a, adv_row *r, tly_err *err)
{
	int rc;

	if (a->key == NULL)
		return TLY_NOTFOUND;
	rc = tly_idem_row_find(ctx, "advances", a->key, a->id, sizeof(a->id),
	    err);
	if (rc == TLY_OK)
		rc = load(ctx, "id", a->id, r, err);
	return rc;
}

/* --- the advance's transfer (effect.c) ------------------------------ */

static int
lock_state(tly_ctx *ctx, const char *id, char *state, size_t sz,
    tly_err *err)
{
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT state FROM advances WHERE id = ? "
	    "FOR UPDATE", "s>s", id, state, sz);
	return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
}

/* at_load - the advance and its connected account */
static int
at_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	adv_row *r;
	int rc;

	r = tly_pcalloc(ctx->pool, sizeof(*r));
	if (r == NULL)
		return tly_err_internal(err);
	rc = load(ctx, "id", e->id, r, err);
	if (rc)
		return rc;
	e->row = r;
	tly_strlcpy(e->target, r->a.transfer_id, sizeof(e->target));
	return TLY_OK;
}

static int
at_params(const tly_effect *e, tly_form *f)
{
	const adv_row *r = e->row;

	tly_form_i64(f, "amount", r->a.granted_cent);
	tly_form_str(f, "currency", r->a.currency);
	tly_form_str(f, "destination", r->acct);
	tly_form_str(f, "transfer_group", r->a.id);
	tly_form_str(f, "description", r->a.id);
	tly_form_str(f, "metadata[tally_id]", r->a.id);
	tly_form_str(f, "metadata[tally_account_id]", r->a.account_id);
	tly_form_str(f, "metadata[tally_kind]", "advance");
	return tly_form_done(f);
}

/* at_matches - the amount granted, in its currency, to its payee */
static int
at_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const adv_row *r = e->row;

	(void)ctx;
	if (!tly_stripe_transfer_is(obj, r->a.granted_cent, r->a.currency,
	    r->acct))
		return tly_err_internal(err);
	return TLY_OK;
}

/* at_done_tx - step 3: transferred, with Stripe's id */
static int
at_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const char *tr = tly_json_str(e->obj, "id");
	char state[16];
	int rc;

	rc = lock_state(ctx, e->id, state, sizeof(state), err);
	if (rc || strcmp(state, "transferred") == 0)
		return rc;
	if (strcmp(state, "failed") == 0) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "a failed "
		    "advance has a transfer at Stripe", "advance_id", e->id,
		    "transfer_id", tr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE advances SET state = "
	    "'transferred', stripe_transfer_id = ?, transferred_at = NOW(3), "
	    "last_error = NULL WHERE id = ?", "ss", tr, e->id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "advance.transferred", e->id, tr,
		    err);
	if (rc == TLY_OK)
		e->note = "advance transferred";
	return rc;
}

/* at_refused_tx - Stripe refused the transfer: failed, never offset */
static int
at_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	char state[16];
	int rc;

	rc = lock_state(ctx, e->id, state, sizeof(state), err);
	if (rc || (strcmp(state, "to_transfer") && strcmp(state, "unknown")))
		return rc;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE advances SET state = "
	    "'failed', last_error = ? WHERE id = ?", "ss", e->why.code, e->id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "advance.failed", e->id, e->why.code,
		    err);
	return rc;
}

/* at_after - a refusal is logged */
static int
at_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const adv_row *r = e->row;

	(void)err;
	if (e->outcome == TLY_EFFECT_REFUSED)
		tly_logkv(ctx->log, TLY_LOG_WARN, "advance", "Stripe refused "
		    "the advance's transfer: advance failed", "advance_id",
		    e->id, "account_id", r ? r->a.account_id : NULL, "code",
		    e->why.code, NULL);
	return TLY_OK;
}

/* the advance's transfer: POST /v1/transfers, transfer_group = the id */
const tly_effect_kind tly_advance_effect = {
	.name = "advance",
	.table = "advances",
	.state_col = "state",
	.open_sql = "'to_transfer', 'unknown'",
	.fresh = "to_transfer",
	.unknown = "unknown",
	.col = "",
	.gen_col = "key_gen",
	.key_prefix = "tally:advance",
	.object = "transfer",
	.path = "/v1/transfers",
	.payout_lease = 1,
	.load = at_load,
	.params = at_params,
	.find = tly_effect_find_transfer,
	.matches = at_matches,
	.done_tx = at_done_tx,
	.refused_tx = at_refused_tx,
	.after = at_after,
};

/*
 * transfer - steps 2 and 3 for advance 'id' just granted.  TLY_OK when
 * recorded transferred; a refusal is recorded failed and returned as a
 * 422 'transfer_refused'; no answer leaves it 'unknown' and returns
 * TLY_UNKNOWN.
 */
static int
transfer(tly_ctx *ctx, const char *id, tly_err *err)
{
	tly_effect e;
	int rc;

	rc = tly_effect_first(ctx, &tly_advance_effect, id, NULL, &e, err);
	if (e.outcome == TLY_EFFECT_REFUSED) {
		tly_err_clear(err);
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "transfer_refused", "amount_cent", "Stripe refused the "
		    "advance's transfer (%.60s); advance %s failed and nothing "
		    "will be offset.", e.why.code, id);
	}
	if (rc == TLY_UNKNOWN) {
		tly_err_clear(err);
		(void)tly_err_set(err, TLY_EK_UPSTREAM,
		    "stripe_outcome_unknown", "The transfer was not "
		    "confirmed; the payouts run finishes it.");
	}
	return rc;
}

/*
 * tly_advance_grant - advance 'amount_cent' of 'cur' (NULL: the first
 * configured currency) to payee 'acc', granted by 'by' with 'note';
 * 'key' (NULL: none) is the admin's Idempotency-Key, kept on the advance:
 * a request with a key an advance keeps answers that advance
 * (out->existing) and transfers nothing (idem.h).  The advance,
 * transferred, or 'unknown' when Stripe did not answer, goes to 'out';
 * once its row is committed the answer is it, but for a refused
 * transfer (422 transfer_refused, the advance failed).
 */
int
tly_advance_grant(tly_ctx *ctx, const tly_principal *by, const char *acc,
    int64_t amount_cent, const char *cur, const char *note,
    const tly_idem_row *key, tly_advance *out, tly_err *err)
{
	grant_args a;
	adv_row r;
	int rc, existing = 0;

	memset(out, 0, sizeof(*out));
	if (amount_cent <= 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "amount_cent", "amount_cent must be a positive integer.");
	if (cur == NULL)
		cur = ctx->cfg->currencies[0].code;
	if (tly_config_currency(ctx->cfg, cur) == NULL)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "currency", "currency is not one of the configured "
		    "currencies.");
	memset(&a, 0, sizeof(a));
	a.by = by;
	a.acc = acc;
	a.cur = cur;
	a.note = note ? note : "";
	a.amount_cent = amount_cent;
	a.key = key;
	rc = keyed(ctx, &a, &r, err);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		rc = grant_tx_run(ctx, "advance.grant", &a, err);
		if (rc == TLY_CONFLICT && key) {	/* a takeover first */
			tly_err_clear(err);
			rc = keyed(ctx, &a, &r, err);
			if (rc == TLY_NOTFOUND)
				rc = tly_err_internal(err);
			existing = 1;
		} else if (rc == TLY_OK)
			rc = load(ctx, "id", a.id, &r, err);
	} else
		existing = 1;
	if (rc)
		return rc;
	if (!existing) {
		tly_logkv(ctx->log, TLY_LOG_INFO, "advance", "advance granted",
		    "advance_id", a.id, "account_id", acc, "by", by->name,
		    NULL);
		rc = transfer(ctx, a.id, err);
		if (rc && rc != TLY_UNKNOWN &&
		    strcmp(err->code, "transfer_refused") == 0)
			return rc;
		tly_err_clear(err);
		rc = load(ctx, "id", a.id, &r, err);
		if (rc)
			return rc;
	}
	*out = r.a;
	out->existing = existing;
	return TLY_OK;
}

/*
 * tly_advances_finish - the finisher of advances left 'to_transfer' or
 * 'unknown' (effect.c; the payouts run calls it first); returns how many
 * it finished (recorded transferred, or failed when Stripe refused the
 * transfer).  Failures are logged: the next run tries again.
 */
int
tly_advances_finish(tly_ctx *ctx)
{
	int done = 0;
	tly_err e;

	tly_err_clear(&e);
	if (tly_effect_finish_due(ctx, &tly_advance_effect, NULL, &done,
	    &e) != TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_WARN, "advance", "finishing the "
		    "advances left behind failed", "code", e.code, NULL);
	return done;
}

/* --- reads ---------------------------------------------------------- */

/*
 * tly_advance_list - the advances of account 'acc' (NULL: all), newest
 * first, at most TLY_ADVANCE_LIST_MAX ('*more' when there are more);
 * 404 for an unknown account.
 */
int
tly_advance_list(tly_ctx *ctx, const char *acc, tly_advance **out, int *n,
    int *more, tly_err *err)
{
	tly_advance *rows;
	adv_row r;
	char id[40];
	tly_q q;
	int rc;

	*n = *more = 0;
	if (acc) {
		rc = tly_db_row(ctx->db, err, "SELECT id FROM accounts WHERE "
		    "id = ?", "s>s", acc, id, sizeof(id));
		if (rc == TLY_NOTFOUND)
			return tly_err_param(err, TLY_EK_NOT_FOUND,
			    "resource_missing", "account_id", "No such "
			    "account: '%.40s'.", acc);
		if (rc)
			return rc;
	}
	rows = tly_pcalloc(ctx->pool, TLY_ADVANCE_LIST_MAX * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT " ADV_COLS "WHERE (? IS NULL OR "
	    "account_id = ?) ORDER BY created_at DESC, id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, acc);
	tly_q_str(&q, acc);
	tly_q_i64(&q, TLY_ADVANCE_LIST_MAX + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == TLY_ADVANCE_LIST_MAX) {
			*more = 1;
			continue;
		}
		row_from(&q, &r);
		rows[(*n)++] = r.a;
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

/*
 * tly_advance_balances - add account 'acc''s open advance balances
 * (granted - reversed - offset of its transferred advances) per currency
 * to the 'n' balances of 'out' (at most TLY_MAX_BALANCES), adding a
 * currency it has no share row in.
 */
int
tly_advance_balances(tly_ctx *ctx, const char *acc, tly_balance *out,
    int *n, tly_err *err)
{
	const char *cur;
	tly_q q;
	int i, rc;

	if (tly_q_prep(ctx->db, &q, "SELECT currency, SUM(granted_cent - "
	    "offset_cent - reversed_cent) FROM advances WHERE account_id = ? "
	    "AND state = 'transferred' GROUP BY currency ORDER BY currency",
	    err))
		return q.rc;
	tly_q_str(&q, acc);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		cur = tly_q_col_str(&q, 0);
		for (i = 0; i < *n && strcmp(out[i].currency, cur); i++)
			;
		if (i == *n) {
			if (*n == TLY_MAX_BALANCES)
				continue;
			memset(&out[i], 0, sizeof(out[i]));
			tly_strlcpy(out[i].currency, cur,
			    sizeof(out[i].currency));
			(*n)++;
		}
		out[i].advance_balance_cent = tly_q_col_i64(&q, 1);
	}
	tly_q_done(&q);
	return rc;
}

/*
 * advance.c - advances: granted, transferred, recovered (advance.h)
 *
 * Owns the advances table, the share rows of role ADVANCE_OFFSET (kinds
 * advance_offset, advance_fee, advance_return and advance_reversal) and
 * the transfer_reversals rows of advances.  docs/ledger.md, "Advances", is
 * the model; in short:
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
 *   tly_advance_offset   inside the completion's transaction: ONE locking
 *                        read of the open advances of the payment's
 *                        payees (FOR UPDATE, oldest first) planning, per
 *                        advance, x = min(what is left of the payee's
 *                        earning, granted - reversed - offset); then
 *   tly_advance_offset_post  deferred writes: rows -x payee / +x
 *                        platform, offset_cent += x.
 *   tly_advance_reverse  inside a reversal (refund, dispute, failure,
 *                        reinstatement) under the payment's lock: each
 *                        advance offset in the payment keeps
 *                        tly_ledger_offset_kept() of its offset (the
 *                        pure ledger, ledger.c); the difference
 *                        is posted as advance_return rows and applied to
 *                        offset_cent under the advance's lock.
 *   tly_advance_transfer_reversed  transfer.reversed of an advance's
 *                        transfer (the Dashboard: Tally never reverses
 *                        one): each reversal x is recorded once in
 *                        transfer_reversals; min(x, balance) goes to
 *                        reversed_cent, the excess (already recovered
 *                        from earnings) back to the payee as
 *                        advance_reversal rows (offset_cent -= it), and
 *                        an ALERT is logged.  The balance is granted -
 *                        reversed - offset everywhere.
 *   tly_advance_refee    inside a fee settlement (charge.updated, the
 *                        real Stripe fee) under the payment's lock: the
 *                        fee bearer's offsets in the payment follow its
 *                        earning (advance_fee rows, and advance_return
 *                        ones when the payment was partly reversed):
 *                        read and lock here, plan in ledger.c
 *                        (tly_ledger_refee_left, tly_ledger_refee_plan),
 *                        post here.
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
 *	tly_advance_balances(), tly_advance_offset(),
 *	tly_advance_offset_post(), tly_advance_reverse(),
 *	tly_advance_transfer_reversed(), tly_advance_refee().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advance.h"
#include "audit.h"
#include "shares.h"
#include "effect.h"
#include "idem.h"
#include "ledger.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"
#define OPEN_MAX		64	/* advances offset by one payment */
#define P6			"?,?,?,?,?,?"

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
	int64_t			 amount;
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
	    acct, a->cur, a->amount, a->note, a->by->name,
	    a->key ? a->key->key : NULL, a->key ? a->key->sha256 : NULL,
	    (int64_t)ctx->cfg->payout_lease_s);
	if (rc)
		return rc;
	snprintf(detail, sizeof(detail), "%lld %s to %s",
	    (long long)a->amount, a->cur, a->acc);
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
 * tly_advance_grant - advance 'amount' of 'cur' (NULL: the first
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
    int64_t amount, const char *cur, const char *note,
    const tly_idem_row *key, tly_advance *out, tly_err *err)
{
	grant_args a;
	adv_row r;
	int rc, existing = 0;

	memset(out, 0, sizeof(*out));
	if (amount <= 0)
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
	a.amount = amount;
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

/* --- offsets and their return --------------------------------------- */

/* pair_rows - -d on the payee, +d on the platform (offset_cent: caller) */
static int
pair_rows(tly_ctx *ctx, const char *pay, const char *cur, const char *kind,
    const char *adv, const char *payee, int64_t d, tly_err *err)
{
	tly_share_pair p;

	p.payment_id = pay;
	p.currency = cur;
	p.kind = kind;
	p.cause_id = adv;
	p.from_account = payee;
	p.from_role = "ADVANCE_OFFSET";
	p.to_account = PLATFORM_ACCOUNT;
	p.to_role = "ADVANCE_OFFSET";
	p.amount_cent = d;
	return tly_shares_pair(ctx, &p, err);
}

/* post_pair - -d on the payee, +d on the platform, and offset_cent += d */
static int
post_pair(tly_ctx *ctx, const char *pay, const char *cur, const char *kind,
    const char *adv, const char *payee, int64_t d, tly_err *err)
{
	int rc;

	rc = pair_rows(ctx, pay, cur, kind, adv, payee, d, err);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
		    "offset_cent = offset_cent + ? WHERE id = ?", "is", d, adv);
	return rc;
}

/*
 * tly_advance_offset - inside the completion's transaction, before its
 * writes are queued (so that they still go with the COMMIT): the 'n'
 * payees' new earnings 'earn' (positive, one entry per account, at most
 * TLY_ADV_PAYEES) in 'cur' recover their open advances, oldest first,
 * planned into 'plan'.  Exactly one round trip: the locking read.  'earn'
 * is consumed.  tly_advance_offset_post() queues the writes.
 *
 * Deadlocks: the read locks the advances of these payees in index order
 * (account, currency, state), the same order in every completion, and
 * whoever else locks an advance (a grant's result, a reversal) holds no
 * row this transaction locks later.  The payout run locks the account
 * row and then shares, never an advance, and the completion never locks
 * an account row: the two cannot wait on each other.
 */
int
tly_advance_offset(tly_ctx *ctx, const char *cur, tly_earning *earn, int n,
    tly_adv_plan *plan, tly_err *err)
{
	char id[40], acc[40];
	int64_t left, x;
	int i, k, rc;
	tly_q q;

	plan->n = 0;
	if (n <= 0)
		return TLY_OK;
	if (n > TLY_ADV_PAYEES)
		return tly_err_internal(err);
	/*
	 * By the (account, currency, state) index, whose order is each
	 * payee's advances oldest first (the id ends the key): never a scan
	 * of the primary key, which would lock every advance of every payee
	 * and serialise all completions once advances exist.
	 */
	if (tly_q_prep(ctx->db, &q, "SELECT id, account_id, granted_cent - "
	    "offset_cent - reversed_cent FROM advances FORCE INDEX "
	    "(advances_open) WHERE account_id IN (" P6 ") AND currency = ? AND "
	    "state = 'transferred' AND offset_cent + reversed_cent < "
	    "granted_cent FOR UPDATE", err))
		return q.rc;
	for (i = 0; i < TLY_ADV_PAYEES; i++)	/* pad with the last payee */
		tly_q_str(&q, earn[i < n ? i : n - 1].account_id);
	tly_q_str(&q, cur);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_strlcpy(id, tly_q_col_str(&q, 0), sizeof(id));
		tly_strlcpy(acc, tly_q_col_str(&q, 1), sizeof(acc));
		left = tly_q_col_i64(&q, 2);
		for (k = 0; k < n && strcmp(earn[k].account_id, acc); k++)
			;
		if (k == n || earn[k].amount_cent <= 0 ||
		    plan->n == TLY_ADV_PLAN_MAX)
			continue;
		x = earn[k].amount_cent < left ? earn[k].amount_cent : left;
		earn[k].amount_cent -= x;
		tly_strlcpy(plan->item[plan->n].advance_id, id,
		    sizeof(plan->item[0].advance_id));
		tly_strlcpy(plan->item[plan->n].account_id, acc,
		    sizeof(plan->item[0].account_id));
		plan->item[plan->n++].amount_cent = x;
	}
	tly_q_done(&q);
	return rc;
}

/*
 * tly_advance_offset_post - queue the offsets of 'plan' for payment
 * 'pay' (deferred writes, after the payment's own rows): per advance, -x
 * on the payee and +x on the platform (kind advance_offset, cause the
 * advance), and offset_cent += x.
 */
int
tly_advance_offset_post(tly_ctx *ctx, const char *pay, const char *cur,
    const tly_adv_plan *plan, tly_err *err)
{
	int i, rc = TLY_OK;

	for (i = 0; i < plan->n && rc == TLY_OK; i++)
		rc = post_pair(ctx, pay, cur, "advance_offset",
		    plan->item[i].advance_id, plan->item[i].account_id,
		    plan->item[i].amount_cent, err);
	return rc;
}

/* an advance offset in a payment by one payee: O and N (ledger.h) */
typedef struct adv_off {
	char	 id[40];
	char	 acc[40];
	int64_t	 o, kept;
} adv_off;

/*
 * adv_order - qsort order of adv_off: (account_id, id) in byte order,
 * the order of the advances_open index (ascii_bin), so that a reversal
 * locks advances as a completion does
 */
static int
adv_order(const void *x, const void *y)
{
	const adv_off *a = x, *b = y;
	int c;

	c = strcmp(a->acc, b->acc);
	return c ? c : strcmp(a->id, b->id);
}

/*
 * tly_advance_reverse - inside a reversal of payment 'pay' (amount 'A',
 * currency 'cur') under its row lock, whose cumulative reversal moves
 * from 'before' to 'after': every advance offset in the payment keeps
 * tly_ledger_offset_kept() of it; the difference goes back to (or, on a
 * move back, is taken again from) the payee as advance_return rows, and
 * to the advance's offset_cent, under the advance's lock.  One read when
 * the payment offset nothing.  The advances are locked in (account_id,
 * id) order, as a completion locks them (file header: lock order).
 */
int
tly_advance_reverse(tly_ctx *ctx, const char *pay, const char *cur,
    int64_t amount, int64_t before, int64_t after, tly_err *err)
{
	adv_off off[OPEN_MAX];
	tly_ledger_offset m;
	int64_t room = 0, kept;
	int n = 0, i, rc;
	tly_q q;

	if (tly_q_prep(ctx->db, &q, "SELECT cause_id, account_id, "
	    "-SUM(IF(kind IN ('advance_offset', 'advance_fee'), amount_cent, "
	    "0)), -SUM(amount_cent) FROM shares WHERE payment_id = ? AND "
	    "role = 'ADVANCE_OFFSET' AND account_id <> '" PLATFORM_ACCOUNT
	    "' GROUP BY cause_id, account_id ORDER BY cause_id", err))
		return q.rc;
	tly_q_str(&q, pay);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && n < OPEN_MAX) {
		tly_strlcpy(off[n].id, tly_q_col_str(&q, 0), sizeof(off[0].id));
		tly_strlcpy(off[n].acc, tly_q_col_str(&q, 1),
		    sizeof(off[0].acc));
		off[n].o = tly_q_col_i64(&q, 2);
		off[n++].kept = tly_q_col_i64(&q, 3);
	}
	tly_q_done(&q);
	if (rc != TLY_OK && rc != TLY_ROW)
		return rc;
	qsort(off, (size_t)n, sizeof(off[0]), adv_order);
	for (i = 0; i < n; i++) {
		rc = tly_db_row(ctx->db, err, "SELECT granted_cent - "
		    "offset_cent - reversed_cent FROM advances WHERE id = ? "
		    "FOR UPDATE", "s>i", off[i].id, &room);
		if (rc)
			return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
		memset(&m, 0, sizeof(m));
		m.offset_cent = off[i].o;
		m.kept_cent = off[i].kept;
		m.amount_cent = amount;
		m.before_cent = before;
		m.after_cent = after;
		m.room_cent = room;
		if (tly_ledger_offset_kept(&m, &kept) != TLY_OK) {
			tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "advance "
			    "offset rows out of bounds", "payment_id", pay,
			    "advance_id", off[i].id, NULL);
			return tly_err_internal(err);
		}
		if (kept == off[i].kept)
			continue;
		rc = post_pair(ctx, pay, cur, "advance_return", off[i].id,
		    off[i].acc, kept - off[i].kept, err);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* --- a reversal of an advance's transfer (the Dashboard) ------------ */

#define AREV_PAYMENTS	256	/* payments one advance was offset in */
#define AREV_ROUNDS	3

typedef struct arev_args {
	const char	*adv;
	const char	*acc;
	const char	*cur;
	const char	*transfer;
	const char	*trr;
	int64_t		 amount;	/* x, what was reversed */
	char		(*pay)[40];	/* the payments to lock, by id */
	int		 npay;
	/* out */
	int64_t		 excess;	/* e, returned to the payee */
	int		 booked;
	int		 relist;	/* a payment was offset meanwhile */
} arev_args;

/* arev_payments - the payments advance a->adv was offset in, by id */
static int
arev_payments(tly_ctx *ctx, arev_args *a, tly_err *err)
{
	tly_q q;
	int rc;

	a->npay = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT DISTINCT payment_id FROM shares "
	    "WHERE account_id = ? AND currency = ? AND cause_id = ? AND role "
	    "= 'ADVANCE_OFFSET' ORDER BY payment_id", err))
		return q.rc;
	tly_q_str(&q, a->acc);
	tly_q_str(&q, a->cur);
	tly_q_str(&q, a->adv);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (a->npay == AREV_PAYMENTS)
			continue;
		tly_strlcpy(a->pay[a->npay++], tly_q_col_str(&q, 0),
		    sizeof(a->pay[0]));
	}
	tly_q_done(&q);
	return rc;
}

/* locked - payment 'pay' is one of a->pay (locked by this transaction) */
static int
locked(const arev_args *a, const char *pay)
{
	int i;

	for (i = 0; i < a->npay; i++)
		if (strcmp(a->pay[i], pay) == 0)
			return 1;
	return 0;
}

/*
 * give_back - post the advance_reversal pairs of a->excess: over the
 * payments the advance is still offset in, newest first, at most what is
 * still offset in each.  a->relist when one of them is not locked (it
 * was offset after the list was read): the caller lists them again.
 */
static int
give_back(tly_ctx *ctx, arev_args *a, tly_err *err)
{
	struct {
		char	 pay[40];
		int64_t	 kept;
	} in[AREV_PAYMENTS];
	int64_t d, e = a->excess;
	int n = 0, i, rc;
	tly_q q;

	if (tly_q_prep(ctx->db, &q, "SELECT payment_id, -SUM(amount_cent) "
	    "FROM shares WHERE account_id = ? AND currency = ? AND cause_id = "
	    "? AND role = 'ADVANCE_OFFSET' GROUP BY payment_id HAVING "
	    "SUM(amount_cent) < 0 ORDER BY MAX(id) DESC", err))
		return q.rc;
	tly_q_str(&q, a->acc);
	tly_q_str(&q, a->cur);
	tly_q_str(&q, a->adv);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (n == AREV_PAYMENTS)
			continue;
		tly_strlcpy(in[n].pay, tly_q_col_str(&q, 0),
		    sizeof(in[0].pay));
		in[n++].kept = tly_q_col_i64(&q, 1);
	}
	tly_q_done(&q);
	if (rc != TLY_OK)
		return rc;
	for (i = 0; i < n && e > 0; i++) {
		if (!locked(a, in[i].pay)) {
			a->relist = 1;
			return tly_err_set(err, TLY_EK_CONFLICT, "retry",
			    "The advance was offset meanwhile.");
		}
		d = e < in[i].kept ? e : in[i].kept;
		rc = pair_rows(ctx, in[i].pay, a->cur, "advance_reversal",
		    a->adv, a->acc, -d, err);
		if (rc)
			return rc;
		e -= d;
	}
	if (e > 0)			/* offset < excess: checked before */
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * arev_tx - record reversal a->trr of advance a->adv once, and book it
 * (docs/ledger.md, Advances): y = min(x, balance) to reversed_cent, no
 * row; the excess e = x - y, already recovered from earnings, back to
 * the payee (advance_reversal pairs), offset_cent -= e, reversed_cent
 * += e.  Locks, before any plain read: the payments the advance was
 * offset in (a->pay, by id), then the advance.
 */
TLY_TX_TYPED(arev_tx, arev_args)

static int
arev_tx(tly_ctx *ctx, arev_args *a, tly_err *err)
{
	int64_t granted = 0, offset = 0, reversed = 0, y;
	char state[16], id[72];
	int i, rc = TLY_OK;

	a->booked = a->relist = 0;
	a->excess = 0;
	for (i = 0; i < a->npay && rc == TLY_OK; i++)
		rc = tly_db_row(ctx->db, err, "SELECT id FROM payments WHERE "
		    "id = ? FOR UPDATE", "s>s", a->pay[i], id, sizeof(id));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state, granted_cent, "
		    "offset_cent, reversed_cent FROM advances WHERE id = ? FOR "
		    "UPDATE", "s>siii", a->adv, state, sizeof(state), &granted,
		    &offset, &reversed);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM transfer_reversals WHERE "
	    "stripe_reversal_id = ?", "s>s", a->trr, id, sizeof(id));
	if (rc != TLY_NOTFOUND)
		return rc;			/* seen before */
	tly_err_clear(err);
	y = granted - reversed - offset;
	y = a->amount < y ? a->amount : y;
	a->excess = a->amount - y;
	if (strcmp(state, "transferred") != 0 || y < 0 || a->excess > offset) {
		/* Stripe never reverses more than the transfer: a bug */
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "a reversal of "
		    "the advance's transfer exceeds it: left for an operator",
		    "advance_id", a->adv, "reversal_id", a->trr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO transfer_reversals "
	    "(id, stripe_reversal_id, transfer_id, advance_id, amount_cent, "
	    "currency, origin) VALUES (?, ?, ?, ?, ?, ?, 'stripe')", "ssssis",
	    a->trr, a->trr, a->transfer, a->adv, a->amount, a->cur);
	if (rc == TLY_CONFLICT) {		/* seen meanwhile */
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc == TLY_OK && a->excess > 0)
		rc = give_back(ctx, a, err);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
		    "offset_cent = offset_cent - ?, reversed_cent = "
		    "reversed_cent + ? WHERE id = ?", "iis", a->excess,
		    a->amount, a->adv);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "advance.reversed_outside", a->adv,
		    a->trr, err);
	a->booked = rc == TLY_OK;
	return rc;
}

/* arev_book - book reversal 'a' (listing the payments to lock first) */
static int
arev_book(tly_ctx *ctx, arev_args *a, tly_err *err)
{
	int round, rc = TLY_OK;

	a->pay = tly_pcalloc(ctx->pool, AREV_PAYMENTS * sizeof(*a->pay));
	if (a->pay == NULL)
		return tly_err_internal(err);
	for (round = 0; round < AREV_ROUNDS; round++) {
		tly_err_clear(err);
		rc = arev_payments(ctx, a, err);
		if (rc == TLY_OK)
			rc = arev_tx_run(ctx, "advance.reversed", a,
			    err);
		if (rc == TLY_OK || !a->relist)
			return rc;
	}
	return rc;
}

/*
 * tly_advance_transfer_reversed - transfer.reversed 'e' of transfer 't'
 * that is no payout's: when it is an advance's, each of its reversals
 * not seen before is booked (arev_tx) and raised as an alert; else
 * '*status' is "ignored".
 */
int
tly_advance_transfer_reversed(tly_ctx *ctx, const tly_st_event *e,
    const tly_st_transfer *t, const char **status, tly_err *err)
{
	const tly_jv *arr = NULL, *x;
	char adv[40], acc[40], cur[4], amt[24], back[24];
	tly_st_reversal sr;
	const char *v;
	arev_args a;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id, account_id, currency FROM "
	    "advances WHERE stripe_transfer_id = ?", "s>sss", t->id, adv,
	    sizeof(adv), acc, sizeof(acc), cur, sizeof(cur));
	v = tly_st_metadata(t->metadata, "tally_id");
	if (rc == TLY_NOTFOUND && v && tly_db_row(ctx->db, err, "SELECT id "
	    "FROM advances WHERE id = ?", "s>s", v, adv, sizeof(adv)) ==
	    TLY_OK)
		/* ours, its transfer not recorded yet: the job retries */
		return tly_err_set(err, TLY_EK_CONFLICT,
		    "advance_not_recorded", "The advance's transfer is not "
		    "recorded yet.");
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		*status = "ignored";
		return TLY_OK;
	}
	if (rc == TLY_OK)
		rc = tly_stripe_transfer_reversals(ctx->stripe, ctx->pool,
		    e->object, t->id, &arr, err);
	if (rc)
		return rc;
	for (x = arr && arr->type == TLY_JARR ? arr->child : NULL; x;
	    x = x->next) {
		if (tly_st_reversal_parse(x, &sr) != TLY_OK || sr.id == NULL ||
		    sr.amount <= 0 || strlen(sr.id) > 64)
			continue;
		memset(&a, 0, sizeof(a));
		a.adv = adv;
		a.acc = acc;
		a.cur = cur;
		a.transfer = t->id;
		a.trr = sr.id;
		a.amount = sr.amount;
		rc = arev_book(ctx, &a, err);
		if (rc)
			return rc;
		if (!a.booked)
			continue;
		snprintf(amt, sizeof(amt), "%lld", (long long)sr.amount);
		snprintf(back, sizeof(back), "%lld", (long long)a.excess);
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "ALERT: an "
		    "advance's transfer was reversed outside Tally; booked as "
		    "the payee giving the advance back, and what its earnings "
		    "had already recovered is payable to it again: check why "
		    "it was reversed", "advance_id", adv, "account_id", acc,
		    "transfer_id", t->id, "reversal_id", sr.id, "amount_cent",
		    amt, "returned_cent", back, "currency", cur, NULL);
	}
	return TLY_OK;
}

/* --- the real fee, later -------------------------------------------- */

/* one advance offset (or to be offset) by the fee bearer in one payment */
typedef struct refee_item {
	char	 id[40];
	int64_t	 o;	/* O: -Σ advance_offset and advance_fee rows */
	int64_t	 n;	/* N: -Σ all its ADVANCE_OFFSET rows */
	int64_t	 room;	/* granted - offset of the advance */
} refee_item;

/*
 * refee_read - in one read, payee 'acc''s earning in payment 'pay' (its
 * split rows: the group with no cause) into '*earn', and the advances it
 * offset there (O and N, by id, so oldest first) into 'it' ('*n').
 */
static int
refee_read(tly_ctx *ctx, const char *pay, const char *acc, int64_t *earn,
    refee_item *it, int *n, tly_err *err)
{
	tly_q q;
	int rc;

	*n = 0;
	*earn = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT cause_id, "
	    "-SUM(IF(kind IN ('advance_offset', 'advance_fee'), amount_cent, "
	    "0)), -SUM(amount_cent) FROM shares WHERE payment_id = ? AND "
	    "account_id = ? AND (role = 'ADVANCE_OFFSET' OR kind = 'split') "
	    "GROUP BY cause_id ORDER BY cause_id", err))
		return q.rc;
	tly_q_str(&q, pay);
	tly_q_str(&q, acc);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (tly_q_col_null(&q, 0)) {
			*earn = -tly_q_col_i64(&q, 2);
			continue;
		}
		if (*n == OPEN_MAX)
			break;
		memset(&it[*n], 0, sizeof(it[0]));
		tly_strlcpy(it[*n].id, tly_q_col_str(&q, 0), sizeof(it[0].id));
		it[*n].o = tly_q_col_i64(&q, 1);
		it[(*n)++].n = tly_q_col_i64(&q, 2);
	}
	tly_q_done(&q);
	return rc == TLY_ROW ? tly_err_internal(err) : rc;
}

/*
 * refee_lock - lock payee 'acc''s transferred advances in 'cur' (by the
 * (account, currency, state) index: oldest first, as a completion locks
 * them) and note each one's room in 'it'; with 'grow', add those not
 * offset in this payment yet that have room, in id order.
 */
static int
refee_lock(tly_ctx *ctx, const char *acc, const char *cur, int grow,
    refee_item *it, int *n, tly_err *err)
{
	refee_item tmp;
	const char *id;
	int64_t room;
	int k, j, rc;
	tly_q q;

	if (tly_q_prep(ctx->db, &q, "SELECT id, granted_cent - offset_cent - "
	    "reversed_cent FROM advances FORCE INDEX (advances_open) WHERE "
	    "account_id = ? AND currency = ? AND state = 'transferred' FOR "
	    "UPDATE", err))
		return q.rc;
	tly_q_str(&q, acc);
	tly_q_str(&q, cur);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		id = tly_q_col_str(&q, 0);
		room = tly_q_col_i64(&q, 1);
		for (k = 0; k < *n && strcmp(it[k].id, id); k++)
			;
		if (k < *n) {
			it[k].room = room;
			continue;
		}
		if (!grow || room <= 0 || *n == OPEN_MAX)
			continue;
		memset(&it[*n], 0, sizeof(it[0]));
		tly_strlcpy(it[*n].id, id, sizeof(it[0].id));
		it[(*n)++].room = room;
		/* keep id order: the new one goes before any later id */
		for (j = *n - 1; j > 0 && strcmp(it[j - 1].id, it[j].id) > 0;
		    j--) {
			tmp = it[j - 1];
			it[j - 1] = it[j];
			it[j] = tmp;
		}
	}
	tly_q_done(&q);
	return rc;
}

/*
 * tly_advance_refee - inside the fee settlement of payment 'pay'
 * (amount 'amount', currency 'cur', cumulative reversal 'reversed'),
 * under its row lock: the real Stripe fee moved the earning of its fee
 * bearer 'acc' by -'delta' (delta = actual - estimate), and the offsets
 * of its advances in this payment are re-targeted to what the
 * completion would have offset had it known the fee (docs/ledger.md,
 * "Advances"):
 *
 *   delta > 0  the earning e - delta may no longer cover the offset O:
 *              O' = min(O, max(0, e - delta)), given back newest
 *              advance first (the completion filled oldest first);
 *   delta < 0  the earning grew: -delta more recovers the payee's open
 *              advances oldest first, at most what each has left.
 *
 * Each advance's change O' - O is a pair of kind advance_fee (it counts
 * in O, the base of the reversal target T); what is still offset moves
 * to min(N, T'(C)) (a give-back) or max(N, min(T'(C), N + room)) (more
 * offset), the part that differs from O' - O as an advance_return pair.
 * At C = 0 that part is nil.  Lock order: payment -> advances.
 */
int
tly_advance_refee(tly_ctx *ctx, const char *pay, const char *cur,
    const char *acc, int64_t amount, int64_t reversed, int64_t delta,
    tly_err *err)
{
	tly_ledger_refee plan[OPEN_MAX];
	refee_item it[OPEN_MAX];
	int64_t earn = 0, o = 0, left, d, n1;
	int n = 0, i, rc;

	if (delta == 0 || amount <= 0 || reversed < 0 || reversed > amount)
		return TLY_OK;
	rc = refee_read(ctx, pay, acc, &earn, it, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		o += it[i].o;
	left = tly_ledger_refee_left(earn, o, delta);
	if (left <= 0)
		return TLY_OK;		/* nothing moves */
	rc = refee_lock(ctx, acc, cur, delta < 0, it, &n, err);
	if (rc)
		return rc;
	memset(plan, 0, sizeof(plan));
	for (i = 0; i < n; i++) {
		plan[i].offset_cent = it[i].o;
		plan[i].kept_cent = it[i].n;
		plan[i].room_cent = it[i].room;
	}
	if (tly_ledger_refee_plan(plan, n, delta, left, amount, reversed) !=
	    TLY_OK) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "advance offset "
		    "rows out of bounds", "payment_id", pay, NULL);
		return tly_err_internal(err);
	}
	for (i = 0; i < n; i++) {
		d = plan[i].fee_move_cent;
		n1 = plan[i].kept_after_cent;
		if (d == 0)
			continue;
		/* one update of offset_cent: each pair alone may cross a
		 * bound of the CHECK that their sum keeps */
		rc = pair_rows(ctx, pay, cur, "advance_fee", it[i].id, acc, d,
		    err);
		if (rc == TLY_OK && n1 - it[i].n != d)
			rc = pair_rows(ctx, pay, cur, "advance_return",
			    it[i].id, acc, n1 - it[i].n - d, err);
		if (rc == TLY_OK)
			rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
			    "offset_cent = offset_cent + ? WHERE id = ?", "is",
			    n1 - it[i].n, it[i].id);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/*
 * recover.c - transfer reversals Tally makes to recover what a payee
 * owes back (recover.h; docs/ledger.md, "Transfer reversals")
 *
 * Owns the rows of transfer_reversals of origin 'tally' and their share
 * rows (kind transfer_reversal).  A payee whose unpaid rows in a currency
 * (every pending row no payout holds, the held positive rows of a
 * payment in its hold, disputed or being refunded included) sum to U < 0
 * owes N = -U: a held earning nets the debt before any transfer is
 * reversed (only payees whose payable balance is negative are
 * candidates; U >= that balance).  With [payouts] reverse_transfers on,
 * each payouts run recovers N from the transfers of the payee's paid
 * payouts in that currency, newest first, r = min(N, room) each, where
 * room = amount - reversed_cent (reversed_cent counts the reversals in
 * flight too):
 *
 *   (1) one transaction: claim the payee's account row FOR UPDATE SKIP
 *       LOCKED (the lock a payout's claim takes: a payout and a reversal
 *       never both use the same owed amount), compute N (from the
 *       payee's unpaid rows, by the shares_payable index) and the rooms
 *       under that lock (the paid payouts FOR UPDATE), and per reversal
 *       insert a row (rev_..., 'to_reverse', key generation 1, a lease)
 *       and book it now: the zero-sum pair -r 'paid' with the payout's
 *       id (what the payee kept of it) and +r 'pending' (which nets the
 *       debt), and payouts.reversed_cent += r.  A later or concurrent
 *       run sees the debt covered and never reverses it twice.
 *   (2) outside any transaction: POST /v1/transfers/{tr}/reversals with
 *       amount r and metadata[tally_id] = the row's id, key
 *       tally:reversal:<rev>:g<gen> (tly_stripe_create_once; found again
 *       by listing the transfer's reversals).
 *   (3) one transaction: 'reversed' with Stripe's trr_ id; or, when
 *       Stripe refused it (4xx: the connected account's balance is too
 *       low, the transfer was reversed meanwhile), 'failed' and the
 *       inverse pair (+r 'paid' with the payout's id, -r 'pending'), and
 *       reversed_cent -= r: the amount is owed back again, and later
 *       earnings net it.  No answer: 'unknown', finished by a later run
 *       (an atomic lease on the row, as for payouts).
 *
 * Lock order: account (payee) -> payout -> transfer reversal, as in
 * payout.c.  Recording a success locks only the reversal row.
 *
 * API:	tly_recover_run(), tly_recover_seen().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "recover.h"
#include "tly_str.h"
#include "tx.h"

#define LEFT_BATCH	50
#define PER_PAYEE	16	/* payouts reversed for one payee at once */
#define FIND_PAGES	20

typedef struct rev_row {
	char	 id[40];
	char	 po[40];
	char	 acc[40];
	char	 transfer[72];
	char	 cur[4];
	char	 state[16];
	int64_t	 amount;
	int64_t	 gen;
} rev_row;

/* load - reversal 'id' with its payout's payee */
static int
load(tly_ctx *ctx, const char *id, rev_row *r, tly_err *err)
{
	memset(r, 0, sizeof(*r));
	return tly_db_row(ctx->db, err, "SELECT r.id, r.payout_id, "
	    "o.account_id, r.transfer_id, r.currency, r.state, r.amount_cent, "
	    "r.key_gen FROM transfer_reversals r JOIN payouts o ON o.id = "
	    "r.payout_id WHERE r.id = ? AND r.origin = 'tally'", "s>ssssssii",
	    id, r->id, sizeof(r->id), r->po, sizeof(r->po), r->acc,
	    sizeof(r->acc), r->transfer, sizeof(r->transfer), r->cur,
	    sizeof(r->cur), r->state, sizeof(r->state), &r->amount, &r->gen);
}

/*
 * pair - queue the zero-sum pair of reversal 'r' on payment 'pay': 'sign'
 * 1 books it (-r paid with the payout's id, +r pending), -1 undoes it
 */
static int
pair(tly_ctx *ctx, const rev_row *r, const char *pay, const char *role,
    int sign, tly_err *err)
{
	int64_t x = sign * r->amount;
	int rc;

	rc = tly_db_later(ctx->db, err, "INSERT INTO shares (payment_id, "
	    "account_id, role, kind, amount_cent, currency, status, cause_id, "
	    "payout_id) VALUES (?, ?, ?, 'transfer_reversal', ?, ?, 'paid', ?, "
	    "?), (?, ?, ?, 'transfer_reversal', ?, ?, 'pending', ?, NULL)",
	    "sssissssssiss", pay, r->acc, role, -x, r->cur, r->id, r->po, pay,
	    r->acc, role, x, r->cur, r->id);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE payouts SET "
		    "reversed_cent = reversed_cent + ? WHERE id = ?", "is", x,
		    r->po);
	return rc;
}

/* --- step 1: planning and booking a payee's reversals ------------------ */

typedef struct plan_args {
	const char	*acc;
	const char	*cur;
	rev_row		 rev[PER_PAYEE];
	int		 n;
	int64_t		 owed;		/* what was owed before */
} plan_args;

/* paid_payouts - the payee's paid payouts with room, newest first */
static int
paid_payouts(tly_ctx *ctx, plan_args *a, char (*po)[40], char (*tr)[72],
    int64_t *room, int *n, tly_err *err)
{
	const char *v;
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT id, IFNULL(stripe_transfer_id, "
	    "''), amount_cent - reversed_cent FROM payouts WHERE account_id = "
	    "? AND currency = ? AND state = 'paid' AND amount_cent > "
	    "reversed_cent ORDER BY paid_at DESC, id DESC LIMIT ? FOR UPDATE",
	    err))
		return q.rc;
	tly_q_str(&q, a->acc);
	tly_q_str(&q, a->cur);
	tly_q_i64(&q, PER_PAYEE);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == PER_PAYEE)
			continue;
		tly_strlcpy(po[*n], tly_q_col_str(&q, 0), sizeof(po[0]));
		v = tly_q_col_str(&q, 1);
		tly_strlcpy(tr[*n], v ? v : "", sizeof(tr[0]));
		room[(*n)++] = tly_q_col_i64(&q, 2);
	}
	tly_q_done(&q);
	return rc;
}

static int
plan_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	plan_args *a = arg;
	char kind[16], po[PER_PAYEE][40], tr[PER_PAYEE][72], pay[40];
	int64_t room[PER_PAYEE], sum = 0, owed, x;
	rev_row *r;
	int np, i, rc;

	a->n = 0;
	a->owed = 0;
	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ? "
	    "AND kind IN " TLY_PAYEE_KINDS_SQL " FOR UPDATE SKIP LOCKED",
	    "s>s", a->acc, kind, sizeof(kind));
	if (rc == TLY_NOTFOUND) {		/* another run has it */
		tly_err_clear(err);
		return TLY_OK;
	}
	/* every unpaid row, held ones included: a held earning (hold
	 * days, a dispute, a refund in flight) nets the debt too */
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT "
		    "IFNULL(SUM(s.amount_cent), 0) FROM shares s WHERE "
		    "s.account_id = ? AND s.currency = ? AND s.status = "
		    "'pending' AND s.payout_id IS NULL", "ss>i", a->acc, a->cur,
		    &sum);
	if (rc || sum >= 0)
		return rc;
	a->owed = owed = -sum;
	rc = paid_payouts(ctx, a, po, tr, room, &np, err);
	for (i = 0; rc == TLY_OK && i < np && owed > 0; i++) {
		if (tr[i][0] == '\0' || room[i] <= 0)
			continue;
		x = owed < room[i] ? owed : room[i];
		rc = tly_db_row(ctx->db, err, "SELECT payment_id FROM shares "
		    "WHERE payout_id = ? ORDER BY id LIMIT 1", "s>s", po[i],
		    pay, sizeof(pay));
		if (rc == TLY_NOTFOUND)
			rc = tly_err_internal(err);	/* a paid payout */
		if (rc)
			break;
		r = &a->rev[a->n];
		memset(r, 0, sizeof(*r));
		if (tly_id_new(r->id, sizeof(r->id), "rev") != TLY_OK)
			return tly_err_internal(err);
		tly_strlcpy(r->po, po[i], sizeof(r->po));
		tly_strlcpy(r->acc, a->acc, sizeof(r->acc));
		tly_strlcpy(r->transfer, tr[i], sizeof(r->transfer));
		tly_strlcpy(r->cur, a->cur, sizeof(r->cur));
		tly_strlcpy(r->state, "to_reverse", sizeof(r->state));
		r->amount = x;
		r->gen = 1;
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "transfer_reversals (id, transfer_id, payout_id, "
		    "amount_cent, currency, origin, state, key_gen, "
		    "lease_until) VALUES (?, ?, ?, ?, ?, 'tally', "
		    "'to_reverse', 1, NOW(3) + INTERVAL ? SECOND)", "sssisi",
		    r->id, r->transfer, r->po, x, a->cur,
		    (int64_t)ctx->cfg->payout_lease_s);
		if (rc == TLY_OK)
			rc = pair(ctx, r, pay, tly_payee_role(kind), 1, err);
		if (rc == TLY_OK)
			rc = tly_audit(ctx, NULL, "payout.reversal", r->id,
			    r->po, err);
		if (rc == TLY_OK) {
			a->n++;
			owed -= x;
		}
	}
	return rc;
}

/* --- step 3: recording what Stripe did --------------------------------- */

typedef struct rec_args {
	const rev_row	*r;
	const char	*trr;		/* reversed: Stripe's id */
	const tly_err	*why;		/* failed: Stripe's refusal */
	int		 done;
} rec_args;

static int
reversed_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	rec_args *a = arg;
	char state[16];
	int rc;

	a->done = 0;
	rc = tly_db_row(ctx->db, err, "SELECT state FROM transfer_reversals "
	    "WHERE id = ? FOR UPDATE", "s>s", a->r->id, state, sizeof(state));
	if (rc == TLY_NOTFOUND)
		return tly_err_internal(err);
	if (rc || strcmp(state, "reversed") == 0)
		return rc;
	if (strcmp(state, "failed") == 0) {
		/* recorded refused, yet Stripe has the reversal: a bug */
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "a failed "
		    "transfer reversal exists at Stripe", "reversal_id",
		    a->r->id, "stripe_reversal_id", a->trr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE transfer_reversals SET "
	    "state = 'reversed', stripe_reversal_id = ?, last_error = NULL "
	    "WHERE id = ?", "ss", a->trr, a->r->id);
	a->done = rc == TLY_OK;
	return rc;
}

static int
failed_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	rec_args *a = arg;
	char kind[16], state[16], pay[40];
	int rc;

	a->done = 0;
	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ? "
	    "FOR UPDATE", "s>s", a->r->acc, kind, sizeof(kind));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM payouts WHERE "
		    "id = ? FOR UPDATE", "s>s", a->r->po, state, sizeof(state));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM "
		    "transfer_reversals WHERE id = ? FOR UPDATE", "s>s",
		    a->r->id, state, sizeof(state));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT payment_id FROM shares "
		    "WHERE cause_id = ? AND kind = 'transfer_reversal' "
		    "ORDER BY id LIMIT 1", "s>s", a->r->id, pay, sizeof(pay));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	if (strcmp(state, "to_reverse") != 0 && strcmp(state, "unknown") != 0)
		return TLY_OK;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE transfer_reversals SET "
	    "state = 'failed', last_error = ? WHERE id = ?", "ss",
	    a->why->code, a->r->id);
	if (rc == TLY_OK)
		rc = pair(ctx, a->r, pay, tly_payee_role(kind), -1, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "payout.reversal_failed", a->r->id,
		    a->why->code, err);
	a->done = rc == TLY_OK;
	return rc;
}

/* record - reversal 'r' was made at Stripe as 'obj' */
static int
record(tly_ctx *ctx, tly_payout_stats *st, const rev_row *r,
    const tly_jv *obj, tly_err *err)
{
	tly_st_reversal sr;
	char amt[24];
	rec_args a;
	int rc;

	if (tly_st_reversal_parse(obj, &sr) != TLY_OK || sr.id == NULL)
		return tly_err_internal(err);
	if (sr.amount != r->amount || sr.transfer == NULL ||
	    strcmp(sr.transfer, r->transfer) != 0) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "the transfer "
		    "reversal found does not match Tally's: left for an "
		    "operator", "reversal_id", r->id, "stripe_reversal_id",
		    sr.id, NULL);
		return tly_err_internal(err);
	}
	memset(&a, 0, sizeof(a));
	a.r = r;
	a.trr = sr.id;
	rc = tly_tx_run(ctx, "payout.reversed", reversed_tx, &a, err);
	if (rc == TLY_OK)	/* made now (its event may have recorded it) */
		st->reversed++;
	if (rc == TLY_OK && a.done) {
		snprintf(amt, sizeof(amt), "%lld", (long long)r->amount);
		tly_logkv(ctx->log, TLY_LOG_INFO, "payout", "transfer reversed "
		    "to recover what the payee owes back", "reversal_id",
		    r->id, "payout_id", r->po, "account_id", r->acc,
		    "transfer_id", r->transfer, "stripe_reversal_id", sr.id,
		    "amount_cent", amt, "currency", r->cur, NULL);
	}
	return rc;
}

static int
record_failed(tly_ctx *ctx, tly_payout_stats *st, const rev_row *r,
    const tly_err *why, tly_err *err)
{
	char amt[24];
	rec_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.r = r;
	a.why = why;
	rc = tly_tx_run(ctx, "payout.reversal_failed", failed_tx, &a, err);
	if (rc == TLY_OK && a.done) {
		st->reverse_failed++;
		snprintf(amt, sizeof(amt), "%lld", (long long)r->amount);
		tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "Stripe refused "
		    "the transfer reversal: the amount stays owed back and "
		    "later earnings net it", "reversal_id", r->id, "payout_id",
		    r->po, "account_id", r->acc, "transfer_id", r->transfer,
		    "amount_cent", amt, "currency", r->cur, "code", why->code,
		    NULL);
	}
	return rc;
}

/* release - a reversal this run leaves: another run may take it now */
static void
release(tly_ctx *ctx, const char *id, const char *state, const char *why)
{
	tly_err e;

	tly_err_clear(&e);
	(void)tly_db_exec(ctx->db, &e, NULL, "UPDATE transfer_reversals SET "
	    "lease_until = NOW(3), state = IF(? IS NULL, state, ?), last_error "
	    "= IFNULL(?, last_error) WHERE id = ? AND state IN ('to_reverse', "
	    "'unknown')", "ssss", state, state, why, id);
}

/* --- step 2: the reversal ---------------------------------------------- */

typedef struct once_args {
	const rev_row	*r;
	char		 key_base[64];
} once_args;

/*
 * find - the reversal Tally made as 'id' of transfer 'tr': listed
 * (the list has no created filter), recognised by metadata[tally_id].
 */
static int
find(tly_stripe *s, tly_pool *pool, const char *tr, const char *id,
    const tly_jv **found, tly_err *err)
{
	const char *path, *after = NULL, *v;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_list list;
	const tly_jv *e;
	tly_form f;
	int page, rc;

	*found = NULL;
	path = tly_stripe_path(pool, "/v1/transfers/", tr, "/reversals");
	if (path == NULL)
		return tly_err_internal(err);
	for (page = 0; page < FIND_PAGES; page++) {
		tly_form_init(&f);
		tly_form_i64(&f, "limit", 100);
		tly_form_str(&f, "starting_after", after);
		rq = (tly_stripe_req){ "GET", path, &f, NULL, NULL };
		rc = tly_stripe_call(s, pool, &rq, &resp, err);
		tly_form_free(&f);
		if (rc)
			return rc;
		if (tly_st_list_parse(resp.json, &list) != TLY_OK)
			return tly_err_set(err, TLY_EK_UPSTREAM,
			    "stripe_bad_reply", "Unexpected list reply.");
		for (e = list.data->child; e; e = e->next) {
			v = tly_st_metadata(tly_json_get(e, "metadata"),
			    "tally_id");
			if (v && strcmp(v, id) == 0) {
				*found = e;
				return TLY_OK;
			}
			after = tly_json_str(e, "id");
		}
		if (!list.has_more || after == NULL)
			break;
	}
	return TLY_NOTFOUND;
}

static int
rv_params(tly_stripe_once *o, tly_form *f)
{
	once_args *a = o->arg;

	tly_form_i64(f, "amount", a->r->amount);
	tly_form_str(f, "metadata[tally_id]", a->r->id);
	tly_form_str(f, "metadata[tally_payout_id]", a->r->po);
	tly_form_str(f, "metadata[tally_account_id]", a->r->acc);
	return tly_form_done(f);
}

static int
rv_lookup(tly_stripe_once *o, tly_stripe *s, tly_pool *pool,
    const tly_jv **found, tly_err *err)
{
	once_args *a = o->arg;

	return find(s, pool, a->r->transfer, a->r->id, found, err);
}

/* rv_bump - generation 'gen' replaces gen - 1 only */
static int
rv_bump(tly_stripe_once *o, int gen, tly_err *err)
{
	once_args *a = o->arg;
	tly_ctx *ctx = o->ctx;
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE transfer_reversals SET "
	    "key_gen = ? WHERE id = ? AND key_gen = ? AND state IN "
	    "('to_reverse', 'unknown')", "isi", (int64_t)gen, a->r->id,
	    (int64_t)gen - 1);
	if (rc == TLY_OK && n != 1)
		return tly_err_set(err, TLY_EK_CONFLICT, "retry",
		    "The transfer reversal moved on meanwhile.");
	return rc;
}

/* reverse - steps 2 and 3 for reversal 'r', which this run holds */
static int
reverse(tly_ctx *ctx, tly_payout_stats *st, const rev_row *r, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_once o;
	const tly_jv *obj;
	once_args a;
	tly_err why;
	int rc;

	memset(&a, 0, sizeof(a));
	a.r = r;
	snprintf(a.key_base, sizeof(a.key_base), "tally:reversal:%s", r->id);
	memset(&o, 0, sizeof(o));
	o.path = tly_stripe_path(ctx->pool, "/v1/transfers/", r->transfer,
	    "/reversals");
	if (o.path == NULL)
		return tly_err_internal(err);
	o.object = "transfer_reversal";
	o.key_base = a.key_base;
	o.generation = (int)r->gen;
	o.params = rv_params;
	o.lookup = rv_lookup;
	o.bump = rv_bump;
	o.arg = &a;
	o.ctx = ctx;
	rc = tly_stripe_create_once(ctx->stripe, ctx->pool, &o, &obj, &resp,
	    err);
	if (rc == TLY_OK)
		return record(ctx, st, r, obj, err);
	why = *err;
	tly_err_clear(err);
	if (tly_transfer_refused(rc, &why))
		return record_failed(ctx, st, r, &why, err);
	release(ctx, r->id, rc == TLY_UNKNOWN ? "unknown" : NULL, why.code);
	tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "transfer reversal "
	    "outcome unknown: the next run finishes it", "reversal_id", r->id,
	    "code", why.code, NULL);
	return TLY_OK;
}

/* --- finishing what earlier runs left ---------------------------------- */

/* finish_one - reversal 'id' left behind: look up, else reverse again */
static int
finish_one(tly_ctx *ctx, tly_payout_stats *st, const char *id, tly_err *err)
{
	const tly_jv *obj;
	uint64_t n = 0;
	rev_row r;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE transfer_reversals SET "
	    "lease_until = NOW(3) + INTERVAL ? SECOND WHERE id = ? AND state "
	    "IN ('to_reverse', 'unknown') AND lease_until <= NOW(3)", "is",
	    (int64_t)ctx->cfg->payout_lease_s, id);
	if (rc || n != 1)
		return rc;		/* another run has it */
	rc = load(ctx, id, &r, err);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	rc = find(ctx->stripe, ctx->pool, r.transfer, r.id, &obj, err);
	if (rc == TLY_OK)
		return record(ctx, st, &r, obj, err);
	if (rc != TLY_NOTFOUND) {
		release(ctx, id, NULL, NULL);
		return rc;
	}
	tly_err_clear(err);
	return reverse(ctx, st, &r, err);
}

static void
finish_left(tly_ctx *ctx, tly_payout_stats *st)
{
	char ids[LEFT_BATCH][40];
	int n = 0, i;
	tly_err e;

	tly_err_clear(&e);
	if (tly_db_ids(ctx->db, &e, "SELECT id FROM transfer_reversals WHERE "
	    "state IN ('to_reverse', 'unknown') AND lease_until <= NOW(3) "
	    "ORDER BY lease_until LIMIT ?", ids[0], sizeof(ids[0]), LEFT_BATCH,
	    &n)) {
		tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "reading the "
		    "transfer reversals left behind failed", "code", e.code,
		    NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		tly_err_clear(&e);
		tly_pool_reset(ctx->pool);
		if (finish_one(ctx, st, ids[i], &e) != TLY_OK)
			tly_logkv(ctx->log, TLY_LOG_WARN, "payout",
			    "finishing a transfer reversal failed",
			    "reversal_id", ids[i], "code", e.code, NULL);
	}
}

/* --- the run ----------------------------------------------------------- */

/* candidates - payees that owe back and have a transfer to reverse */
static int
candidates(tly_ctx *ctx, const char *acc, const char *cur,
    tly_payee_cur *out, int *n, tly_err *err)
{
	return tly_payee_page(ctx, "SELECT s.account_id, s.currency FROM "
	    "shares s JOIN accounts a ON a.id = s.account_id WHERE a.kind IN "
	    TLY_PAYEE_KINDS_SQL " AND s.status = 'pending' AND s.payout_id IS "
	    "NULL AND " TLY_ELIGIBLE_SQL " AND (s.account_id > ? OR "
	    "(s.account_id = ? AND s.currency > ?)) GROUP BY s.account_id, "
	    "s.currency HAVING SUM(s.amount_cent) < 0 AND EXISTS (SELECT 1 "
	    "FROM payouts o WHERE o.account_id = s.account_id AND o.currency = "
	    "s.currency AND o.state = 'paid' AND o.amount_cent > "
	    "o.reversed_cent) ORDER BY s.account_id, s.currency LIMIT ?", acc,
	    cur, out, n, err);
}

/* recover_one - one (payee, currency): book, reverse, record */
static int
recover_one(tly_ctx *ctx, tly_payout_stats *st, const char *acc,
    const char *cur, tly_err *err)
{
	plan_args a;
	char owed[24];
	int i, rc;

	memset(&a, 0, sizeof(a));
	a.acc = acc;
	a.cur = cur;
	rc = tly_tx_run(ctx, "payout.reversal_plan", plan_tx, &a, err);
	if (rc)
		return rc;
	if (a.owed > 0 && a.n == 0) {
		snprintf(owed, sizeof(owed), "%lld", (long long)a.owed);
		tly_logkv(ctx->log, TLY_LOG_INFO, "payout", "owed back with no "
		    "transfer left to reverse: later earnings net it",
		    "account_id", acc, "currency", cur, "amount_cent", owed,
		    NULL);
	}
	for (i = 0; i < a.n; i++) {
		tly_err_clear(err);
		if (reverse(ctx, st, &a.rev[i], err) != TLY_OK)
			tly_logkv(ctx->log, TLY_LOG_WARN, "payout",
			    "reversing a transfer failed", "reversal_id",
			    a.rev[i].id, "code", err->code, NULL);
	}
	tly_err_clear(err);
	return TLY_OK;
}

/*
 * tly_recover_run - inside a payouts run, after the payouts left behind
 * and before paying: finish the reversals earlier runs left, then (with
 * [payouts] reverse_transfers on) recover what payees owe back.  What it
 * did goes to 'st'; failures are logged and the run goes on.
 */
void
tly_recover_run(tly_ctx *ctx, tly_payout_stats *st)
{
	char acc[40] = "", cur[4] = "";
	tly_payee_cur page[TLY_PAYEE_PAGE];
	int n, i, done = 0;
	tly_err e;

	finish_left(ctx, st);
	if (!ctx->cfg->payout_reverse_transfers)
		return;
	while (done < ctx->cfg->payout_max_per_run) {
		tly_err_clear(&e);
		if (candidates(ctx, acc, cur, page, &n, &e) != TLY_OK) {
			tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "reading "
			    "the payees that owe back failed", "code", e.code,
			    NULL);
			return;
		}
		if (n == 0)
			return;
		for (i = 0; i < n && done < ctx->cfg->payout_max_per_run;
		    i++, done++) {
			tly_err_clear(&e);
			tly_pool_reset(ctx->pool);
			if (recover_one(ctx, st, page[i].acc, page[i].cur,
			    &e) != TLY_OK)
				tly_logkv(ctx->log, TLY_LOG_WARN, "payout",
				    "recovering what a payee owes back failed",
				    "account_id", page[i].acc, "currency",
				    page[i].cur, "code", e.code, NULL);
		}
		tly_strlcpy(acc, page[n - 1].acc, sizeof(acc));
		tly_strlcpy(cur, page[n - 1].cur, sizeof(cur));
	}
}

/* --- transfer.reversed ------------------------------------------------- */

typedef struct seen_args {
	const char	*id;		/* metadata[tally_id] */
	const char	*transfer;
	const char	*trr;
	int		 known;
} seen_args;

static int
seen_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	seen_args *a = arg;
	char state[16];
	int rc;

	a->known = 0;
	rc = tly_db_row(ctx->db, err, "SELECT state FROM transfer_reversals "
	    "WHERE id = ? AND origin = 'tally' AND transfer_id = ? FOR UPDATE",
	    "ss>s", a->id, a->transfer, state, sizeof(state));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc)
		return rc;
	a->known = 1;
	if (strcmp(state, "failed") == 0) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "a failed "
		    "transfer reversal exists at Stripe", "reversal_id", a->id,
		    "stripe_reversal_id", a->trr, NULL);
		return TLY_OK;
	}
	if (strcmp(state, "reversed") == 0)
		return TLY_OK;
	return tly_db_exec(ctx->db, err, NULL, "UPDATE transfer_reversals SET "
	    "state = 'reversed', stripe_reversal_id = ?, last_error = NULL "
	    "WHERE id = ?", "ss", a->trr, a->id);
}

/*
 * tly_recover_seen - reversal 'sr' of transfer 'transfer', named by a
 * transfer.reversed event: '*known' is 1 when Tally already has it (by
 * its Stripe id, or by metadata[tally_id] when step 3 has not recorded
 * it yet: then it is recorded now), and nothing more is booked for it.
 */
int
tly_recover_seen(tly_ctx *ctx, const char *transfer,
    const tly_st_reversal *sr, int *known, tly_err *err)
{
	seen_args a;
	char id[40];
	const char *v;
	int rc;

	*known = 0;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM transfer_reversals WHERE "
	    "stripe_reversal_id = ?", "s>s", sr->id, id, sizeof(id));
	if (rc == TLY_OK) {
		*known = 1;
		return TLY_OK;
	}
	if (rc != TLY_NOTFOUND)
		return rc;
	tly_err_clear(err);
	v = tly_st_metadata(sr->metadata, "tally_id");
	if (v == NULL || strncmp(v, "rev_", 4) != 0 || strlen(v) >= 40)
		return TLY_OK;
	memset(&a, 0, sizeof(a));
	a.id = v;
	a.transfer = transfer;
	a.trr = sr->id;
	rc = tly_tx_run(ctx, "payout.reversal_seen", seen_tx, &a, err);
	if (rc == TLY_OK)
		*known = a.known;
	return rc;
}

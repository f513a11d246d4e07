/*
 * recover.c - transfer reversals Tally makes to recover what a payee
 * owes back (recover.h; docs/ledger.md, "Transfer reversals")
 *
 * Owns the transfer_reversals table: the rows of origin 'tally' (the
 * reversals it makes, below) and those of origin 'stripe' (a reversal
 * made outside Tally, named by transfer.reversed: of a payout's transfer,
 * booked here, tly_recover_transfer_reversed; of an advance's, booked by
 * advance.c through tly_recover_outside).  Their share rows (kind
 * transfer_reversal) go through shares.c, a payout's reversed_cent
 * through payout.c.  A payee whose unpaid rows in a currency
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
 *       tally:reversal:<rev>:g<gen> (tly_reversal_effect, effect.c;
 *       found again among the transfer's reversals).
 *   (3) one transaction: 'reversed' with Stripe's trr_ id; or, when
 *       Stripe refused it (4xx: the connected account's balance is too
 *       low, the transfer was reversed meanwhile), 'failed' and the
 *       inverse pair (+r 'paid' with the payout's id, -r 'pending'), and
 *       reversed_cent -= r: the amount is owed back again, and later
 *       earnings net it.  No answer: 'unknown', finished by a later run
 *       (the effect engine's finisher: lease, look first, backoff, dead
 *       after the last attempt).
 *
 * Lock order: account (payee) -> payout -> transfer reversal, as in
 * payout.c.  Recording a success locks only the reversal row.
 *
 * API:	tly_recover_run(), tly_recover_transfer_reversed(),
 *	tly_recover_outside(), tly_reversal_effect.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "effect.h"
#include "facts.h"
#include "payout.h"
#include "recover.h"
#include "shares.h"
#include "tly_str.h"
#include "tx.h"

#define PER_PAYEE	16	/* payouts reversed for one payee at once */

typedef struct rev_row {
	char	 id[40];
	char	 po[40];
	char	 acc[40];
	char	 transfer[72];
	char	 cur[4];
	char	 state[16];
	int64_t	 amount_cent;
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
	    sizeof(r->cur), r->state, sizeof(r->state), &r->amount_cent,
	    &r->gen);
}

/*
 * pair - queue the zero-sum pair of reversal 'r' on payment 'pay': 'sign'
 * 1 books it (-r paid with the payout's id, +r pending), -1 undoes it
 */
static int
pair(tly_ctx *ctx, const rev_row *r, const char *pay, const char *role,
    int sign, tly_err *err)
{
	int64_t x = sign * r->amount_cent;
	int rc;

	rc = tly_shares_transfer_reversal(ctx, pay, r->acc, role, x, r->cur,
	    r->id, r->po, err);
	if (rc == TLY_OK)
		rc = tly_payout_reversed(ctx, r->po, x, err);
	return rc;
}

/* --- step 1: planning and booking a payee's reversals ------------------ */

typedef struct plan_args {
	const char	*acc;
	const char	*cur;
	rev_row		 rev[PER_PAYEE];
	int		 n;
	int64_t		 owed_cent;		/* what was owed before */
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

TLY_TX_TYPED(plan_tx, plan_args)

static int
plan_tx(tly_ctx *ctx, plan_args *a, tly_err *err)
{
	char kind[16], po[PER_PAYEE][40], tr[PER_PAYEE][72], pay[40];
	int64_t room_cent[PER_PAYEE], sum_cent = 0, owed_cent, x_cent;
	rev_row *r;
	int np, i, rc;

	a->n = 0;
	a->owed_cent = 0;
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
		    &sum_cent);
	if (rc || sum_cent >= 0)
		return rc;
	a->owed_cent = owed_cent = -sum_cent;
	rc = paid_payouts(ctx, a, po, tr, room_cent, &np, err);
	for (i = 0; rc == TLY_OK && i < np && owed_cent > 0; i++) {
		if (tr[i][0] == '\0' || room_cent[i] <= 0)
			continue;
		x_cent = owed_cent < room_cent[i] ? owed_cent : room_cent[i];
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
		r->amount_cent = x_cent;
		r->gen = 1;
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "transfer_reversals (id, transfer_id, payout_id, "
		    "amount_cent, currency, origin, state, key_gen, "
		    "lease_until) VALUES (?, ?, ?, ?, ?, 'tally', "
		    "'to_reverse', 1, NOW(3) + INTERVAL ? SECOND)", "sssisi",
		    r->id, r->transfer, r->po, x_cent, a->cur,
		    (int64_t)ctx->cfg->payout_lease_s);
		if (rc == TLY_OK)
			rc = pair(ctx, r, pay, tly_payee_role(kind), 1, err);
		if (rc == TLY_OK)
			rc = tly_audit(ctx, NULL, "payout.reversal", r->id,
			    r->po, err);
		if (rc == TLY_OK) {
			a->n++;
			owed_cent -= x_cent;
		}
	}
	return rc;
}

/* --- the reversal (effect.c) ------------------------------------------- */

/* rv_load - the reversal with its payout's payee */
static int
rv_load(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	rev_row *r;
	int rc;

	r = tly_pcalloc(ctx->pool, sizeof(*r));
	if (r == NULL)
		return tly_err_internal(err);
	rc = load(ctx, e->id, r, err);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	e->row = r;
	tly_strlcpy(e->target, r->transfer, sizeof(e->target));
	return TLY_OK;
}

static const char *
rv_path(tly_ctx *ctx, const tly_effect *e)
{
	const rev_row *r = e->row;

	return tly_stripe_path(ctx->pool, "/v1/transfers/", r->transfer,
	    "/reversals");
}

static int
rv_params(const tly_effect *e, tly_form *f)
{
	const rev_row *r = e->row;

	tly_form_i64(f, "amount", r->amount_cent);
	tly_form_str(f, "metadata[tally_id]", r->id);
	tly_form_str(f, "metadata[tally_payout_id]", r->po);
	tly_form_str(f, "metadata[tally_account_id]", r->acc);
	return tly_form_done(f);
}

/* rv_find - the reversal, among the reversals of its transfer */
static int
rv_find(tly_ctx *ctx, const tly_effect *e, const tly_jv **found,
    tly_err *err)
{
	const char *path = rv_path(ctx, e);

	if (path == NULL)
		return tly_err_internal(err);
	return tly_stripe_find_child(ctx->stripe, ctx->pool, path, NULL, NULL,
	    "transfer_reversal", e->id, found, err);
}

/* rv_matches - the amount Tally booked, of the transfer it named */
static int
rv_matches(tly_ctx *ctx, const tly_effect *e, const tly_jv *obj,
    tly_err *err)
{
	const rev_row *r = e->row;
	tly_st_reversal sr;

	(void)ctx;
	if (tly_st_reversal_parse(obj, &sr) != TLY_OK || sr.id == NULL ||
	    sr.amount_cent != r->amount_cent || sr.transfer == NULL ||
	    strcmp(sr.transfer, r->transfer) != 0)
		return tly_err_internal(err);
	return TLY_OK;
}

/* rv_done_tx - step 3: reversed, with Stripe's trr_ id */
static int
rv_done_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const char *trr = tly_json_str(e->obj, "id");
	char state[16];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT state FROM transfer_reversals "
	    "WHERE id = ? FOR UPDATE", "s>s", e->id, state, sizeof(state));
	if (rc == TLY_NOTFOUND)
		return tly_err_internal(err);
	if (rc || strcmp(state, "reversed") == 0)
		return rc;
	if (strcmp(state, "failed") == 0) {
		/* recorded refused, yet Stripe has the reversal: a bug */
		tly_logkv(ctx->log, TLY_LOG_ERROR, "payout", "a failed "
		    "transfer reversal exists at Stripe", "reversal_id",
		    e->id, "stripe_reversal_id", trr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE transfer_reversals SET "
	    "state = 'reversed', stripe_reversal_id = ?, last_error = NULL "
	    "WHERE id = ?", "ss", trr, e->id);
	if (rc == TLY_OK)
		e->note = "transfer reversed to recover what the payee owes "
		    "back";
	return rc;
}

/*
 * rv_refused_tx - Stripe refused the reversal: failed, the inverse pair,
 * reversed_cent back: the amount is owed again
 */
static int
rv_refused_tx(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const rev_row *r = e->row;
	char kind[16], state[16], pay[40];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ? "
	    "FOR UPDATE", "s>s", r->acc, kind, sizeof(kind));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM payouts WHERE "
		    "id = ? FOR UPDATE", "s>s", r->po, state, sizeof(state));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM "
		    "transfer_reversals WHERE id = ? FOR UPDATE", "s>s",
		    r->id, state, sizeof(state));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT payment_id FROM shares "
		    "WHERE cause_id = ? AND kind = 'transfer_reversal' "
		    "ORDER BY id LIMIT 1", "s>s", r->id, pay, sizeof(pay));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	if (strcmp(state, "to_reverse") != 0 && strcmp(state, "unknown") != 0)
		return TLY_OK;
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE transfer_reversals SET "
	    "state = 'failed', last_error = ? WHERE id = ?", "ss",
	    e->why.code, r->id);
	if (rc == TLY_OK)
		rc = pair(ctx, r, pay, tly_payee_role(kind), -1, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "payout.reversal_failed", r->id,
		    e->why.code, err);
	return rc;
}

/* rv_after - the run's counts, and a refusal logged */
static int
rv_after(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const rev_row *r = e->row;
	tly_payout_stats *st = e->arg;
	char amt[24];

	(void)err;
	if (st == NULL || r == NULL)
		return TLY_OK;
	if (e->outcome == TLY_EFFECT_DONE)
		st->reversed++;
	if (e->outcome != TLY_EFFECT_REFUSED)
		return TLY_OK;
	st->reverse_failed++;
	snprintf(amt, sizeof(amt), "%lld", (long long)r->amount_cent);
	tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "Stripe refused the "
	    "transfer reversal: the amount stays owed back and later earnings "
	    "net it", "reversal_id", r->id, "payout_id", r->po, "account_id",
	    r->acc, "transfer_id", r->transfer, "amount_cent", amt, "currency",
	    r->cur, "code", e->why.code, NULL);
	return TLY_OK;
}

/* a transfer reversal: POST /v1/transfers/{tr}/reversals */
const tly_effect_kind tly_reversal_effect = {
	.name = "reversal",
	.table = "transfer_reversals",
	.state_col = "state",
	.open_sql = "'to_reverse', 'unknown'",
	.fresh = "to_reverse",
	.unknown = "unknown",
	.col = "",
	.gen_col = "key_gen",
	.due_sql = "origin = 'tally'",
	.key_prefix = "tally:reversal",
	.object = "transfer_reversal",
	.path_of = rv_path,
	.payout_lease = 1,
	.load = rv_load,
	.params = rv_params,
	.find = rv_find,
	.matches = rv_matches,
	.done_tx = rv_done_tx,
	.refused_tx = rv_refused_tx,
	.after = rv_after,
};

/* reverse - steps 2 and 3 for reversal 'r', just booked by this run */
static int
reverse(tly_ctx *ctx, tly_payout_stats *st, const rev_row *r, tly_err *err)
{
	tly_effect e;
	int rc;

	rc = tly_effect_first(ctx, &tly_reversal_effect, r->id, st, &e, err);
	if (rc == TLY_UNKNOWN || e.outcome == TLY_EFFECT_REFUSED) {
		tly_err_clear(err);
		return TLY_OK;		/* recorded, or left for a later run */
	}
	return rc;
}

/* finish_left - the reversals earlier runs left (effect.c's finisher) */
static void
finish_left(tly_ctx *ctx, tly_payout_stats *st)
{
	int done = 0;
	tly_err e;

	tly_err_clear(&e);
	if (tly_effect_finish_due(ctx, &tly_reversal_effect, st, &done, &e) !=
	    TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_WARN, "payout", "finishing the "
		    "transfer reversals left behind failed", "code", e.code,
		    NULL);
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
	rc = plan_tx_run(ctx, "payout.reversal_plan", &a, err);
	if (rc)
		return rc;
	if (a.owed_cent > 0 && a.n == 0) {
		snprintf(owed, sizeof(owed), "%lld", (long long)a.owed_cent);
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

TLY_TX_TYPED(seen_tx, seen_args)

static int
seen_tx(tly_ctx *ctx, seen_args *a, tly_err *err)
{
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
 * seen - reversal 'sr' of transfer 'transfer', named by a
 * transfer.reversed event: '*known' is 1 when Tally already has it (by
 * its Stripe id, or by metadata[tally_id] when step 3 has not recorded
 * it yet: then it is recorded now), and nothing more is booked for it.
 */
static int
seen(tly_ctx *ctx, const char *transfer,
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
	rc = seen_tx_run(ctx, "payout.reversal_seen", &a, err);
	if (rc == TLY_OK)
		*known = a.known;
	return rc;
}

/* --- reversals made outside Tally (transfer.reversed) ----------------- */

/*
 * tly_recover_outside - record reversal 'trr' (Stripe's id) of
 * 'amount_cent' in 'cur' of transfer 'transfer', one Tally did not make,
 * of payout 'po' or else of advance 'adv' (origin 'stripe');
 * TLY_CONFLICT when it is recorded already
 */
int
tly_recover_outside(tly_ctx *ctx, const char *trr, const char *transfer,
    const char *po, const char *adv, int64_t amount_cent, const char *cur,
    tly_err *err)
{
	if (po)
		return tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "transfer_reversals (id, stripe_reversal_id, transfer_id, "
		    "payout_id, amount_cent, currency, origin) VALUES (?, ?, "
		    "?, ?, ?, ?, 'stripe')", "ssssis", trr, trr, transfer, po,
		    amount_cent, cur);
	return tly_db_exec(ctx->db, err, NULL, "INSERT INTO transfer_reversals "
	    "(id, stripe_reversal_id, transfer_id, advance_id, amount_cent, "
	    "currency, origin) VALUES (?, ?, ?, ?, ?, ?, 'stripe')", "ssssis",
	    trr, trr, transfer, adv, amount_cent, cur);
}

typedef struct outside_args {
	const char	*po;
	const char	*acc;
	const char	*transfer;
	const char	*trr;
	const char	*cur;
	int64_t		 amount_cent;
	int		 booked;
} outside_args;

/*
 * outside_tx - record reversal a->trr of a payout's transfer once; one
 * Tally did not make is
 * booked on the payee, zero-sum: -x as part of what was paid (status
 * paid, the payout's id: it did not keep x) and +x pending: Tally still
 * owes it, so x is payable again with its next payout.  Both rows kind
 * transfer_reversal.
 */
TLY_TX_TYPED(outside_tx, outside_args)

static int
outside_tx(tly_ctx *ctx, outside_args *a, tly_err *err)
{
	char kind[16], state[16], pay[40];
	int rc;

	a->booked = 0;
	rc = tly_db_row(ctx->db, err, "SELECT kind FROM accounts WHERE id = ? "
	    "FOR UPDATE", "s>s", a->acc, kind, sizeof(kind));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state FROM payouts WHERE "
		    "id = ? FOR UPDATE", "s>s", a->po, state, sizeof(state));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT payment_id FROM shares "
		    "WHERE payout_id = ? ORDER BY id LIMIT 1", "s>s", a->po,
		    pay, sizeof(pay));
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	rc = tly_recover_outside(ctx, a->trr, a->transfer, a->po, NULL,
	    a->amount_cent, a->cur, err);
	if (rc == TLY_CONFLICT) {		/* seen before (or Tally's) */
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc == TLY_OK)
		rc = tly_shares_transfer_reversal(ctx, pay, a->acc,
		    tly_payee_role(kind), a->amount_cent, a->cur, a->trr, a->po,
		    err);
	if (rc == TLY_OK)
		rc = tly_payout_reversed(ctx, a->po, a->amount_cent, err);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, NULL, "payout.reversed_outside", a->po,
		    a->trr, err);
	a->booked = rc == TLY_OK;
	return rc;
}

/*
 * tly_recover_transfer_reversed - transfer.reversed of transfer 'f' (see
 * outside_tx): TLY_NOTFOUND, 'err' clear, when it is no payout's (an
 * advance's, advance.c, or not Tally's); 409 when it is one of Tally's
 * payouts whose transfer is not recorded yet (Stripe retries).
 */
int
tly_recover_transfer_reversed(tly_ctx *ctx, const tly_transfer_facts *f,
    tly_err *err)
{
	const tly_st_transfer *t = &f->t;
	tly_st_reversal *rev;
	char po[40], acc[40], amt[24];
	const char *v;
	outside_args a;
	int rc, known, n, i;

	rc = tly_db_row(ctx->db, err, "SELECT id, account_id FROM payouts "
	    "WHERE stripe_transfer_id = ?", "s>ss", t->id, po, sizeof(po),
	    acc, sizeof(acc));
	v = tly_st_metadata(t->metadata, "tally_id");
	if (rc == TLY_NOTFOUND && v && tly_db_row(ctx->db, err, "SELECT id "
	    "FROM payouts WHERE id = ?", "s>s", v, po, sizeof(po)) == TLY_OK)
		/* ours, its transfer not recorded yet: the job retries */
		return tly_err_set(err, TLY_EK_CONFLICT, "payout_not_recorded",
		    "The payout's transfer is not recorded yet.");
	if (rc == TLY_NOTFOUND) {	/* an advance's, or not Tally's */
		tly_err_clear(err);
		return TLY_NOTFOUND;
	}
	if (rc == TLY_OK)
		rc = tly_transfer_facts_reversals(ctx, f, &rev, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		rc = seen(ctx, t->id, &rev[i], &known, err);
		if (rc)
			return rc;
		if (known)		/* Tally made it, or seen before */
			continue;
		memset(&a, 0, sizeof(a));
		a.po = po;
		a.acc = acc;
		a.transfer = t->id;
		a.trr = rev[i].id;
		a.cur = t->currency;
		a.amount_cent = rev[i].amount_cent;
		rc = outside_tx_run(ctx, "payout.reversal", &a, err);
		if (rc)
			return rc;
		if (!a.booked)
			continue;
		snprintf(amt, sizeof(amt), "%lld",
		    (long long)rev[i].amount_cent);
		tly_logkv(ctx->log, TLY_LOG_ALERT, "payout", "ALERT: a "
		    "transfer was reversed outside Tally; the amount is "
		    "payable to the payee again (transfer_reversal rows) and "
		    "the next payout pays it: check why it was reversed",
		    "payout_id", po, "account_id", acc, "transfer_id", t->id,
		    "reversal_id", rev[i].id, "amount_cent", amt, "currency",
		    t->currency, NULL);
	}
	return TLY_OK;
}

/*
 * advance_offset.c - advances inside other transactions (advance.h;
 * docs/ledger.md, "Advances")
 *
 * The other half of the advance module (advance.c grants and transfers):
 * what happens to advances inside the transactions of payments, under
 * the payment's lock.  Owns, with advance.c, the advances table
 * (offset_cent, reversed_cent); the share rows through shares.c, the
 * plans are the pure ledger's (ledger.c).
 *
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
 * Lock order: checkout -> payment -> advances, and among advances
 * (account_id, id) everywhere (see advance.c, tests/db/advance_lock_test.c).
 *
 * API:	tly_advance_offset(), tly_advance_offset_post(),
 *	tly_advance_reverse(), tly_advance_transfer_reversed(),
 *	tly_advance_refee().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advance.h"
#include "audit.h"
#include "ledger.h"
#include "recover.h"
#include "shares.h"
#include "tly_str.h"
#include "tx.h"

#define PLATFORM_ACCOUNT	"acc_platform"
#define OPEN_MAX		64	/* advances offset by one payment */
#define P6			"?,?,?,?,?,?"

/* --- offsets and their return --------------------------------------- */

/* pair_rows - -d on the payee, +d on the platform (offset_cent: caller) */
static int
pair_rows(tly_ctx *ctx, const char *pay, const char *cur, const char *kind,
    const char *adv, const char *payee, int64_t d_cent, tly_err *err)
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
	p.amount_cent = d_cent;
	return tly_shares_pair(ctx, &p, err);
}

/* post_pair - -d on the payee, +d on the platform, and offset_cent += d */
static int
post_pair(tly_ctx *ctx, const char *pay, const char *cur, const char *kind,
    const char *adv, const char *payee, int64_t d_cent, tly_err *err)
{
	int rc;

	rc = pair_rows(ctx, pay, cur, kind, adv, payee, d_cent, err);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
		    "offset_cent = offset_cent + ? WHERE id = ?", "is", d_cent,
		    adv);
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
	int64_t left_cent, x_cent;
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
		left_cent = tly_q_col_i64(&q, 2);
		for (k = 0; k < n && strcmp(earn[k].account_id, acc); k++)
			;
		if (k == n || earn[k].amount_cent <= 0 ||
		    plan->n == TLY_ADV_PLAN_MAX)
			continue;
		x_cent = earn[k].amount_cent < left_cent ?
		    earn[k].amount_cent : left_cent;
		earn[k].amount_cent -= x_cent;
		tly_strlcpy(plan->item[plan->n].advance_id, id,
		    sizeof(plan->item[0].advance_id));
		tly_strlcpy(plan->item[plan->n].account_id, acc,
		    sizeof(plan->item[0].account_id));
		plan->item[plan->n++].amount_cent = x_cent;
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
	int64_t	 offset_cent, kept_cent;
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
 * from 'before_cent' to 'after_cent': every advance offset in the payment keeps
 * tly_ledger_offset_kept() of it; the difference goes back to (or, on a
 * move back, is taken again from) the payee as advance_return rows, and
 * to the advance's offset_cent, under the advance's lock.  One read when
 * the payment offset nothing.  The advances are locked in (account_id,
 * id) order, as a completion locks them (file header: lock order).
 */
int
tly_advance_reverse(tly_ctx *ctx, const char *pay, const char *cur,
    int64_t amount_cent, int64_t before_cent, int64_t after_cent, tly_err *err)
{
	adv_off off[OPEN_MAX];
	tly_ledger_offset m;
	int64_t room_cent = 0, kept_cent;
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
		off[n].offset_cent = tly_q_col_i64(&q, 2);
		off[n++].kept_cent = tly_q_col_i64(&q, 3);
	}
	tly_q_done(&q);
	if (rc != TLY_OK && rc != TLY_ROW)
		return rc;
	qsort(off, (size_t)n, sizeof(off[0]), adv_order);
	for (i = 0; i < n; i++) {
		rc = tly_db_row(ctx->db, err, "SELECT granted_cent - "
		    "offset_cent - reversed_cent FROM advances WHERE id = ? "
		    "FOR UPDATE", "s>i", off[i].id, &room_cent);
		if (rc)
			return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
		memset(&m, 0, sizeof(m));
		m.offset_cent = off[i].offset_cent;
		m.kept_cent = off[i].kept_cent;
		m.amount_cent = amount_cent;
		m.before_cent = before_cent;
		m.after_cent = after_cent;
		m.room_cent = room_cent;
		if (tly_ledger_offset_kept(&m, &kept_cent) != TLY_OK) {
			tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "advance "
			    "offset rows out of bounds", "payment_id", pay,
			    "advance_id", off[i].id, NULL);
			return tly_err_internal(err);
		}
		if (kept_cent == off[i].kept_cent)
			continue;
		rc = post_pair(ctx, pay, cur, "advance_return", off[i].id,
		    off[i].acc, kept_cent - off[i].kept_cent, err);
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
	int64_t		 amount_cent;	/* x, what was reversed */
	char		(*pay)[40];	/* the payments to lock, by id */
	int		 npay;
	/* out */
	int64_t		 excess_cent;	/* e, returned to the payee */
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
 * give_back - post the advance_reversal pairs of a->excess_cent: over the
 * payments the advance is still offset in, newest first, at most what is
 * still offset in each.  a->relist when one of them is not locked (it
 * was offset after the list was read): the caller lists them again.
 */
static int
give_back(tly_ctx *ctx, arev_args *a, tly_err *err)
{
	struct {
		char	 pay[40];
		int64_t	 kept_cent;
	} in[AREV_PAYMENTS];
	int64_t d_cent, e_cent = a->excess_cent;
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
		in[n++].kept_cent = tly_q_col_i64(&q, 1);
	}
	tly_q_done(&q);
	if (rc != TLY_OK)
		return rc;
	for (i = 0; i < n && e_cent > 0; i++) {
		if (!locked(a, in[i].pay)) {
			a->relist = 1;
			return tly_err_set(err, TLY_EK_CONFLICT, "retry",
			    "The advance was offset meanwhile.");
		}
		d_cent = e_cent < in[i].kept_cent ? e_cent : in[i].kept_cent;
		rc = pair_rows(ctx, in[i].pay, a->cur, "advance_reversal",
		    a->adv, a->acc, -d_cent, err);
		if (rc)
			return rc;
		e_cent -= d_cent;
	}
	if (e_cent > 0)			/* offset < excess: checked before */
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
	int64_t granted_cent = 0, offset_cent = 0, reversed_cent = 0, y_cent;
	char state[16], id[72];
	int i, rc = TLY_OK;

	a->booked = a->relist = 0;
	a->excess_cent = 0;
	for (i = 0; i < a->npay && rc == TLY_OK; i++)
		rc = tly_db_row(ctx->db, err, "SELECT id FROM payments WHERE "
		    "id = ? FOR UPDATE", "s>s", a->pay[i], id, sizeof(id));
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT state, granted_cent, "
		    "offset_cent, reversed_cent FROM advances WHERE id = ? FOR "
		    "UPDATE", "s>siii", a->adv, state, sizeof(state),
		    &granted_cent, &offset_cent, &reversed_cent);
	if (rc)
		return rc == TLY_NOTFOUND ? tly_err_internal(err) : rc;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM transfer_reversals WHERE "
	    "stripe_reversal_id = ?", "s>s", a->trr, id, sizeof(id));
	if (rc != TLY_NOTFOUND)
		return rc;			/* seen before */
	tly_err_clear(err);
	y_cent = granted_cent - reversed_cent - offset_cent;
	y_cent = a->amount_cent < y_cent ? a->amount_cent : y_cent;
	a->excess_cent = a->amount_cent - y_cent;
	if (strcmp(state, "transferred") != 0 || y_cent < 0 ||
	    a->excess_cent > offset_cent) {
		/* Stripe never reverses more than the transfer: a bug */
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "a reversal of "
		    "the advance's transfer exceeds it: left for an operator",
		    "advance_id", a->adv, "reversal_id", a->trr, NULL);
		return tly_err_internal(err);
	}
	rc = tly_recover_outside(ctx, a->trr, a->transfer, NULL, a->adv,
	    a->amount_cent, a->cur, err);
	if (rc == TLY_CONFLICT) {		/* seen meanwhile */
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc == TLY_OK && a->excess_cent > 0)
		rc = give_back(ctx, a, err);
	if (rc == TLY_OK)
		rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
		    "offset_cent = offset_cent - ?, reversed_cent = "
		    "reversed_cent + ? WHERE id = ?", "iis", a->excess_cent,
		    a->amount_cent, a->adv);
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
tly_advance_transfer_reversed(tly_ctx *ctx, const tly_transfer_facts *f,
    const char **status, tly_err *err)
{
	const tly_st_transfer *t = &f->t;
	char adv[40], acc[40], cur[4], amt[24], back[24];
	tly_st_reversal *rev, sr;
	const char *v;
	arev_args a;
	int rc, n, i;

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
		rc = tly_transfer_facts_reversals(ctx, f, &rev, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		sr = rev[i];
		memset(&a, 0, sizeof(a));
		a.adv = adv;
		a.acc = acc;
		a.cur = cur;
		a.transfer = t->id;
		a.trr = sr.id;
		a.amount_cent = sr.amount_cent;
		rc = arev_book(ctx, &a, err);
		if (rc)
			return rc;
		if (!a.booked)
			continue;
		snprintf(amt, sizeof(amt), "%lld", (long long)sr.amount_cent);
		snprintf(back, sizeof(back), "%lld", (long long)a.excess_cent);
		tly_logkv(ctx->log, TLY_LOG_ALERT, "advance", "ALERT: an "
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
	int64_t	 offset_cent;	/* O: -Σ advance_offset and advance_fee rows */
	int64_t	 kept_cent;	/* N: -Σ all its ADVANCE_OFFSET rows */
	int64_t	 room_cent;	/* granted - offset of the advance */
} refee_item;

/*
 * refee_read - in one read, payee 'acc''s earning in payment 'pay' (its
 * split rows: the group with no cause) into '*earn', and the advances it
 * offset there (O and N, by id, so oldest first) into 'it' ('*n').
 */
static int
refee_read(tly_ctx *ctx, const char *pay, const char *acc, int64_t *earn_cent,
    refee_item *it, int *n, tly_err *err)
{
	tly_q q;
	int rc;

	*n = 0;
	*earn_cent = 0;
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
			*earn_cent = -tly_q_col_i64(&q, 2);
			continue;
		}
		if (*n == OPEN_MAX)
			break;
		memset(&it[*n], 0, sizeof(it[0]));
		tly_strlcpy(it[*n].id, tly_q_col_str(&q, 0), sizeof(it[0].id));
		it[*n].offset_cent = tly_q_col_i64(&q, 1);
		it[(*n)++].kept_cent = tly_q_col_i64(&q, 2);
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
	int64_t room_cent;
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
		room_cent = tly_q_col_i64(&q, 1);
		for (k = 0; k < *n && strcmp(it[k].id, id); k++)
			;
		if (k < *n) {
			it[k].room_cent = room_cent;
			continue;
		}
		if (!grow || room_cent <= 0 || *n == OPEN_MAX)
			continue;
		memset(&it[*n], 0, sizeof(it[0]));
		tly_strlcpy(it[*n].id, id, sizeof(it[0].id));
		it[(*n)++].room_cent = room_cent;
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
 * (amount 'amount_cent', currency 'cur', cumulative reversal
 * 'reversed_cent'),
 * under its row lock: the real Stripe fee moved the earning of its fee
 * bearer 'acc' by -'delta_cent' (delta = actual - estimate), and the offsets
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
    const char *acc, int64_t amount_cent, int64_t reversed_cent,
    int64_t delta_cent, tly_err *err)
{
	tly_ledger_refee plan[OPEN_MAX];
	refee_item it[OPEN_MAX];
	int64_t earn_cent = 0, o_cent = 0, left_cent, d_cent, n1;
	int n = 0, i, rc;

	if (delta_cent == 0 || amount_cent <= 0 || reversed_cent < 0 ||
	    reversed_cent > amount_cent)
		return TLY_OK;
	rc = refee_read(ctx, pay, acc, &earn_cent, it, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		o_cent += it[i].offset_cent;
	left_cent = tly_ledger_refee_left(earn_cent, o_cent, delta_cent);
	if (left_cent <= 0)
		return TLY_OK;		/* nothing moves */
	rc = refee_lock(ctx, acc, cur, delta_cent < 0, it, &n, err);
	if (rc)
		return rc;
	memset(plan, 0, sizeof(plan));
	for (i = 0; i < n; i++) {
		plan[i].offset_cent = it[i].offset_cent;
		plan[i].kept_cent = it[i].kept_cent;
		plan[i].room_cent = it[i].room_cent;
	}
	if (tly_ledger_refee_plan(plan, n, delta_cent, left_cent, amount_cent,
	    reversed_cent) != TLY_OK) {
		tly_logkv(ctx->log, TLY_LOG_ERROR, "advance", "advance offset "
		    "rows out of bounds", "payment_id", pay, NULL);
		return tly_err_internal(err);
	}
	for (i = 0; i < n; i++) {
		d_cent = plan[i].fee_move_cent;
		n1 = plan[i].kept_after_cent;
		if (d_cent == 0)
			continue;
		/* one update of offset_cent: each pair alone may cross a
		 * bound of the CHECK that their sum keeps */
		rc = pair_rows(ctx, pay, cur, "advance_fee", it[i].id, acc,
		    d_cent, err);
		if (rc == TLY_OK && n1 - it[i].kept_cent != d_cent)
			rc = pair_rows(ctx, pay, cur, "advance_return",
			    it[i].id, acc, n1 - it[i].kept_cent - d_cent, err);
		if (rc == TLY_OK)
			rc = tly_db_later(ctx->db, err, "UPDATE advances SET "
			    "offset_cent = offset_cent + ? WHERE id = ?", "is",
			    n1 - it[i].kept_cent, it[i].id);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

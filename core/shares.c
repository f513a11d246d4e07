/*
 * shares.c - the share rows: the one module that writes them
 *
 * Owns the shares table: every row (a payment's split, fee adjustments,
 * reversals of refunds and disputes, advance offsets and their return,
 * transfer reversals) is inserted here, and every change of a row's
 * status on its way to a payout (pending -> claimed -> paid, or back to
 * pending) is made here.  What to post is decided by the callers (the
 * split, the pure plans of ledger.c, the payout run) under their own
 * locks; these functions only queue the writes inside the caller's
 * transaction (tly_q_later: they go with the next round trip, in
 * practice the COMMIT) and take no lock of their own.  Lock order, as
 * everywhere (docs/ledger.md, "Lock order"): payment -> shares.
 *
 * A row is always 'pending' when it is made, except the paid half of a
 * transfer reversal, which records money already paid out.
 *
 * API:	tly_shares_insert(), tly_shares_pair(),
 *	tly_shares_transfer_reversal(), tly_shares_claim(),
 *	tly_shares_paid(), tly_shares_release().
 */
#include <string.h>

#include "shares.h"
#include "split.h"
#include "tly_str.h"

#define IN_CHUNK	32	/* the ?s of CLAIM_SQL */
#define Q8		"?,?,?,?,?,?,?,?"
#define CLAIM_SQL \
	"UPDATE shares SET status = 'claimed', payout_id = ? WHERE status = " \
	"'pending' AND payout_id IS NULL AND id IN (" Q8 "," Q8 "," Q8 "," \
	Q8 ")"

static const char *insert_shares_sql[] = {
	NULL,
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES (?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?),"
	    "(?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?)",
};

/*
 * tly_shares_insert - 'n' pending rows of kind 'kind' for payment 'pay'
 * in 'currency', in one statement per TLY_SHARE_N rows, deferred inside
 * a transaction (tly_q_later); 'cause' names what caused them.
 */
int
tly_shares_insert(tly_ctx *ctx, const char *pay, const char *currency,
    const char *kind, const char *cause, const tly_share_row *rows, int n,
    tly_err *err)
{
	tly_q q;
	int i, k, rc = TLY_OK, chunk;

	for (i = 0; i < n && rc == TLY_OK; i += chunk) {
		chunk = n - i > TLY_SHARE_N ? TLY_SHARE_N : n - i;
		if (tly_q_prep(ctx->db, &q, insert_shares_sql[chunk], err))
			return q.rc;
		for (k = i; k < i + chunk; k++) {
			tly_q_str(&q, pay);
			tly_q_str(&q, rows[k].account_id);
			tly_q_str(&q, rows[k].role);
			tly_q_str(&q, kind);
			tly_q_i64(&q, rows[k].amount_cent);
			tly_q_str(&q, currency);
			tly_q_str(&q, "pending");
			tly_q_str(&q, cause);
		}
		rc = tly_q_later(&q);	/* with the next round trip */
		tly_q_done(&q);
	}
	return rc;
}

/*
 * tly_shares_pair - the zero-sum pair 'p': 'from' -amount_cent (first
 * row), 'to' +amount_cent, both pending
 */
int
tly_shares_pair(tly_ctx *ctx, const tly_share_pair *p, tly_err *err)
{
	tly_share_row rows[2];

	memset(rows, 0, sizeof(rows));
	tly_strlcpy(rows[0].role, p->from_role, sizeof(rows[0].role));
	tly_strlcpy(rows[0].account_id, p->from_account,
	    sizeof(rows[0].account_id));
	rows[0].amount_cent = -p->amount_cent;
	tly_strlcpy(rows[1].role, p->to_role, sizeof(rows[1].role));
	tly_strlcpy(rows[1].account_id, p->to_account,
	    sizeof(rows[1].account_id));
	rows[1].amount_cent = p->amount_cent;
	return tly_shares_insert(ctx, p->payment_id, p->currency, p->kind,
	    p->cause_id, rows, 2, err);
}

/*
 * tly_shares_transfer_reversal - the zero-sum pair of transfer reversal
 * 'trr' of 'amount_cent' taken back from payee 'acc' (role 'role') on
 * payment 'pay': -amount paid with payout 'po' (the money came back from
 * that transfer), +amount pending (owed again).  A negative amount undoes
 * a booking.
 */
int
tly_shares_transfer_reversal(tly_ctx *ctx, const char *pay,
    const char *acc, const char *role, int64_t amount_cent, const char *cur,
    const char *trr, const char *po, tly_err *err)
{
	return tly_db_later(ctx->db, err, "INSERT INTO shares (payment_id, "
	    "account_id, role, kind, amount_cent, currency, status, cause_id, "
	    "payout_id) VALUES (?, ?, ?, 'transfer_reversal', ?, ?, 'paid', ?, "
	    "?), (?, ?, ?, 'transfer_reversal', ?, ?, 'pending', ?, NULL)",
	    "sssissssssiss", pay, acc, role, -amount_cent, cur, trr, po, pay,
	    acc, role, amount_cent, cur, trr);
}

/*
 * tly_shares_claim - the 'n' pending rows 'ids' (read eligible under the
 * payee's account lock) become claimed by payout 'po', deferred
 */
int
tly_shares_claim(tly_ctx *ctx, const char *po, const int64_t *ids,
    size_t n, tly_err *err)
{
	size_t i, k;
	tly_q q;
	int rc;

	for (i = 0; i < n; i += IN_CHUNK) {
		if (tly_q_prep(ctx->db, &q, CLAIM_SQL, err))
			return q.rc;
		tly_q_str(&q, po);
		for (k = 0; k < IN_CHUNK; k++)	/* pad with the last id */
			tly_q_i64(&q, ids[i + k < n ? i + k : n - 1]);
		rc = tly_q_later(&q);
		tly_q_done(&q);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* tly_shares_paid - payout 'po' was paid: its claimed rows are paid */
int
tly_shares_paid(tly_ctx *ctx, const char *po, tly_err *err)
{
	return tly_db_later(ctx->db, err, "UPDATE shares SET status = 'paid' "
	    "WHERE payout_id = ? AND status = 'claimed'", "s", po);
}

/* tly_shares_release - payout 'po' failed: its rows are pending again */
int
tly_shares_release(tly_ctx *ctx, const char *po, tly_err *err)
{
	return tly_db_later(ctx->db, err, "UPDATE shares SET status = "
	    "'pending', payout_id = NULL WHERE payout_id = ? AND status = "
	    "'claimed'", "s", po);
}

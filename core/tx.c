/*
 * tx.c - the transaction helper (docs/architecture.md)
 *
 * Owns the retry policy and the lost-COMMIT resolution for every money
 * transaction.  The body owns its SQL and its lock order; this file owns
 * only START TRANSACTION, the tx_ops marker row, COMMIT/ROLLBACK, retry
 * and resolution.
 *
 * Cases, per attempt:
 *   body or COMMIT fails with 1213/1205  -> ROLLBACK, back off, retry
 *     (on Galera a certification conflict is a 1213 at COMMIT: same path)
 *   connection lost before COMMIT        -> nothing committed; reconnect,
 *     kill the old server thread (it may still hold locks), retry
 *   connection lost during COMMIT        -> unknown: resolve() below
 *   anything else                        -> ROLLBACK, return it
 *
 * resolve(): reconnect, KILL the old thread, then read the marker row
 * with LOCK IN SHARE MODE.  If the old transaction is still committing or
 * rolling back, the marker's record lock makes the read wait for it; so
 * the answer is final: present = committed, absent = not committed.
 * If the database stays unreachable the outcome stays unknown and the
 * caller gets TLY_UNKNOWN (503): the marker row lets a later look-up tell.
 *
 * API:	tly_tx_run(), tly_tx_run_keyed(), tly_tx_prune().
 */
#include <stdio.h>
#include <string.h>

#include "tx.h"
#include "tly_str.h"

enum {
	TX_LOST_BEFORE = 100,	/* connection lost; nothing committed */
	TX_LOST_AT_COMMIT	/* connection lost in COMMIT: unknown */
};

#define TX_RESOLVE_TRIES	20

static void
backoff(int attempt)
{
	int64_t cap;

	cap = (int64_t)5 << (attempt < 6 ? attempt : 6);	/* 10..320 ms */
	tly_sleep_ms(cap / 2 + (int64_t)(tly_random_u32() % (cap / 2 + 1)));
}

/* tx_once - one attempt: BEGIN, marker (unless 'opid' is NULL), body, COMMIT */
static int
tx_once(tly_ctx *ctx, const char *opid, const char *op, tly_tx_fn fn,
    void *arg, tly_err *err)
{
	tly_db *db = ctx->db;
	int rc;

	rc = tly_db_begin(db, err);
	if (rc)
		return tly_db_lost(db) ? TX_LOST_BEFORE : rc;
	if (opid != NULL)
		rc = tly_db_exec(db, err, NULL,
		    "INSERT INTO tx_ops (id, op) VALUES (?, ?)", "ss", opid,
		    op);
	if (rc == TLY_CONFLICT) {
		/* an earlier attempt of this very operation committed */
		tly_db_rollback(db);
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc == TLY_OK)
		rc = fn(ctx, arg, err);
	if (rc != TLY_OK) {
		tly_db_rollback(db);
		return tly_db_lost(db) ? TX_LOST_BEFORE : rc;
	}
	(void)tly_ctx_fault(ctx, "tx.before_commit");
	rc = tly_db_commit(db, err);
	if (rc == TLY_OK &&
	    tly_ctx_fault(ctx, "tx.after_commit") == TLY_FAULT_LOSE_REPLY) {
		/* a test: the COMMIT succeeded but its reply is "lost" */
		tly_db_disconnect(db);
		return TX_LOST_AT_COMMIT;
	}
	if (rc != TLY_OK && tly_db_lost(db))
		return TX_LOST_AT_COMMIT;
	return rc;
}

/* kill_old - make sure server thread 'tid' is gone (ours, so allowed) */
static void
kill_old(tly_ctx *ctx, unsigned long tid)
{
	char sql[64];
	tly_err ignored;

	if (tid == 0)
		return;
	tly_err_clear(&ignored);
	snprintf(sql, sizeof(sql), "KILL CONNECTION %lu", tid);
	(void)tly_db_simple(ctx->db, sql, &ignored);	/* 1094: gone */
}

/* reconnect - a fresh connection, with a few tries if the server is away */
static int
reconnect(tly_ctx *ctx, unsigned long old_tid, tly_err *err)
{
	int i, rc = TLY_ERR;

	for (i = 0; i < 5; i++) {
		tly_err_clear(err);
		rc = tly_db_connect(ctx->db, err);
		if (rc == TLY_OK)
			break;
		backoff(i + 2);
	}
	if (rc)
		return rc;
	kill_old(ctx, old_tid);
	return TLY_OK;
}

/* unknown - the outcome of operation 'opid' cannot be learnt now */
static int
unknown(tly_ctx *ctx, const char *opid, tly_err *err)
{
	tly_logkv(ctx->log, TLY_LOG_ERROR, "tx",
	    "commit outcome unknown: database unreachable", "op_id", opid,
	    NULL);
	tly_err_set(err, TLY_EK_UNAVAILABLE, "outcome_unknown",
	    "The database became unavailable while saving; the operation "
	    "may or may not have been applied. Retry with the same "
	    "Idempotency-Key.");
	return TLY_UNKNOWN;
}

/*
 * resolve - after a COMMIT whose reply was lost: TLY_OK if it committed,
 * TLY_NOTFOUND if it did not, TLY_UNKNOWN if that cannot be learnt now.
 */
static int
resolve(tly_ctx *ctx, const char *opid, unsigned long old_tid, tly_err *err)
{
	char found[40];
	int i, rc;

	if (reconnect(ctx, old_tid, err) != TLY_OK)
		goto unknown;
	for (i = 0; i < TX_RESOLVE_TRIES; i++) {
		tly_err_clear(err);
		rc = tly_db_row(ctx->db, err,
		    "SELECT id FROM tx_ops WHERE id = ? LOCK IN SHARE MODE",
		    "s>s", opid, found, sizeof(found));
		if (rc == TLY_OK || rc == TLY_NOTFOUND)
			return rc;
		if (rc != TLY_AGAIN && tly_db_lost(ctx->db) &&
		    reconnect(ctx, 0, err) != TLY_OK)
			break;
		backoff(i);
	}
unknown:
	return unknown(ctx, opid, err);
}

/*
 * run - run 'fn(ctx, arg, err)' as one transaction named 'op' (for
 * logs), retried as described in tx.h; 'keyed': the body is keyed (no
 * tx_ops row; rerun after a lost COMMIT).  Returns TLY_OK once it
 * committed exactly once, or the body's failure, or TLY_AGAIN when the
 * retries ran out (a 409 "retry"), or TLY_UNKNOWN (503).
 */
static int
run(tly_ctx *ctx, const char *op, tly_tx_fn fn, void *arg, int keyed,
    tly_err *err)
{
	char opid[40], n[12];
	unsigned long tid;
	int attempt, rc, maybe = 0;	/* maybe: a lost COMMIT, keyed */

	if (tly_id_new(opid, sizeof(opid), "op") != TLY_OK)
		return tly_err_internal(err);
	for (attempt = 1;; attempt++) {
		tly_err_clear(err);
		tid = tly_db_thread_id(ctx->db);
		rc = tx_once(ctx, keyed ? NULL : opid, op, fn, arg, err);
		if (rc == TX_LOST_AT_COMMIT && keyed) {
			if (reconnect(ctx, tid, err) != TLY_OK)
				return unknown(ctx, opid, err);
			maybe = 1;
			rc = TX_LOST_BEFORE;	/* the rerun finds out */
		} else if (rc == TX_LOST_AT_COMMIT) {
			rc = resolve(ctx, opid, tid, err);
			if (rc == TLY_OK) {
				tly_err_clear(err);
				return TLY_OK;
			}
			if (rc == TLY_UNKNOWN)
				return rc;
			rc = TX_LOST_BEFORE;	/* not committed: run again */
		} else if (rc == TX_LOST_BEFORE) {
			if (reconnect(ctx, tid, err) != TLY_OK)
				return TLY_ERR;
		}
		if (rc != TLY_AGAIN && rc != TX_LOST_BEFORE)
			return rc;
		if (attempt >= ctx->cfg->tx_max_attempts) {
			tly_logkv(ctx->log, TLY_LOG_WARN, "tx",
			    "transaction gave up after retries", "op", op,
			    "op_id", opid, NULL);
			if (rc == TX_LOST_BEFORE && maybe)
				return unknown(ctx, opid, err);
			if (rc == TX_LOST_BEFORE) {
				tly_err_set(err, TLY_EK_UNAVAILABLE,
				    "db_unavailable", "The database is "
				    "unavailable; retry later.");
				return TLY_ERR;
			}
			return TLY_AGAIN;
		}
		snprintf(n, sizeof(n), "%d", attempt);
		tly_logkv(ctx->log, TLY_LOG_INFO, "tx", "transaction retried",
		    "op", op, "op_id", opid, "attempt", n, "reason",
		    rc == TLY_AGAIN ? "deadlock or lock wait" :
		    "connection lost", NULL);
		if (rc == TLY_AGAIN)
			backoff(attempt);
	}
}

int
tly_tx_run(tly_ctx *ctx, const char *op, tly_tx_fn fn, void *arg,
    tly_err *err)
{
	return run(ctx, op, fn, arg, 0, err);
}

int
tly_tx_run_keyed(tly_ctx *ctx, const char *op, tly_tx_fn fn, void *arg,
    tly_err *err)
{
	return run(ctx, op, fn, arg, 1, err);
}

/*
 * tly_tx_prune - delete tx_ops markers older than two days (a lost
 * COMMIT is resolved within seconds; two days leave room for an
 * operator's investigation)
 */
int
tly_tx_prune(tly_ctx *ctx, tly_err *err)
{
	return tly_db_prune(ctx->db, "DELETE FROM tx_ops WHERE created_at < "
	    "NOW(3) - INTERVAL 2 DAY LIMIT 1000", err);
}

/*
 * idem.c - clients' Idempotency-Key (see idem.h)
 *
 * Owns idempotency_keys.  Insert-if-absent is a plain INSERT handling
 * the duplicate key, never a locking read of a missing row (gap locks
 * would deadlock concurrent first inserts).
 * The effect tables (refunds, advances) keep their own request_key; this
 * file only names the key and finds the row that has it
 * (tly_idem_row_find), their modules write them.
 *
 * API:	tly_idem_key_ok(), tly_idem_takeover_s(), tly_idem_begin(),
 *	tly_idem_finish(), tly_idem_abandon(), tly_idem_row_of(),
 *	tly_idem_row_find(), tly_idem_prune().
 */
#include <stdio.h>
#include <string.h>

#include "idem.h"
#include "stripe.h"
#include "tly_str.h"

/* tly_idem_key_ok - 1..255 printable ASCII characters */
int
tly_idem_key_ok(const char *k)
{
	size_t n = 0;

	for (; *k; k++, n++)
		if (*k < 0x21 || *k > 0x7e)
			return 0;
	return n >= 1 && n <= 255;
}

/*
 * tly_idem_takeover_s - how long a key stays in progress before a
 * duplicate may take it over: longer than the worst request (idem.h).
 */
int
tly_idem_takeover_s(const tly_config *cfg)
{
	int64_t stripe_s, worst;

	stripe_s = (tly_stripe_worst_ms(cfg) + 999) / 1000;
	worst = cfg->request_timeout_s > stripe_s ? cfg->request_timeout_s :
	    stripe_s;
	return (int)worst + TLY_IDEM_MARGIN_S;
}

/* fingerprint - SHA-256 of the route and of the body's SHA-256 */
static void
fingerprint(tly_idem *i, const char *body, size_t len)
{
	char buf[sizeof(i->route) + 66];
	int n;

	tly_sha256_hex(i->hash, body ? body : "", body ? len : 0);
	n = snprintf(buf, sizeof(buf), "%s\n%s", i->route, i->hash);
	tly_sha256_hex(i->hash, buf, n > 0 ? (size_t)n : 0);
}

/* expire - delete the key if it is older than TLY_IDEM_TTL_S */
static int
expire(tly_ctx *ctx, const tly_idem *i, uint64_t *n, tly_err *err)
{
	return tly_db_exec(ctx->db, err, n, "DELETE FROM idempotency_keys "
	    "WHERE principal = ? AND idem_key = ? AND created_at < NOW(3) - "
	    "INTERVAL ? SECOND", "ssi", i->principal, i->key,
	    (int64_t)TLY_IDEM_TTL_S);
}

/*
 * tly_idem_begin - claim i->key (principal and route -- "<method>
 * <concrete path>" -- set by the caller) for a request with body 'body';
 * i->state says what to do.
 */
int
tly_idem_begin(tly_ctx *ctx, tly_idem *i, const char *body, size_t len,
    tly_err *err)
{
	char hash[65], state[16];
	int64_t status = 0, age = 0;
	int isnull = 1, rc, again;
	uint64_t n = 0;
	tly_q q;

	fingerprint(i, body, len);
	for (again = 0; again < 2; again++) {
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "idempotency_keys (principal, idem_key, route, "
		    "request_sha256, state) VALUES (?, ?, ?, ?, "
		    "'in_progress')", "ssss", i->principal, i->key, i->route,
		    i->hash);
		if (rc == TLY_OK) {
			i->state = TLY_IDEM_NEW;
			return TLY_OK;
		}
		if (rc != TLY_CONFLICT)
			return rc;
		tly_err_clear(err);
		n = 0;				/* older than a day: gone */
		rc = expire(ctx, i, &n, err);
		if (rc || n == 0)
			break;
	}
	if (rc)
		return rc;
	if (tly_q_prep(ctx->db, &q, "SELECT request_sha256, state, "
	    "response_status, response_body, TIMESTAMPDIFF(SECOND, "
	    "created_at, NOW(3)) FROM idempotency_keys WHERE principal = ? "
	    "AND idem_key = ?", err))
		return q.rc;
	tly_q_str(&q, i->principal);
	tly_q_str(&q, i->key);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	if (rc == TLY_ROW) {
		tly_strlcpy(hash, tly_q_col_str(&q, 0), sizeof(hash));
		tly_strlcpy(state, tly_q_col_str(&q, 1), sizeof(state));
		isnull = tly_q_col_null(&q, 2);
		status = tly_q_col_i64(&q, 2);
		i->body = tly_pstrndup(ctx->pool, tly_q_col_str(&q, 3) ?
		    tly_q_col_str(&q, 3) : "", tly_q_col_len(&q, 3));
		i->body_len = tly_q_col_len(&q, 3);
		age = tly_q_col_i64(&q, 4);
	}
	tly_q_done(&q);
	if (rc == TLY_OK)		/* expired meanwhile: try once more */
		return tly_idem_begin(ctx, i, body, len, err);
	if (rc != TLY_ROW)
		return rc;
	if (strcmp(hash, i->hash) != 0) {
		i->state = TLY_IDEM_MISMATCH;
		return TLY_OK;
	}
	if (strcmp(state, "done") == 0 && !isnull) {
		i->state = TLY_IDEM_REPLAY;
		i->status = (int)status;
		return TLY_OK;
	}
	i->state = TLY_IDEM_IN_PROGRESS;
	if (age < tly_idem_takeover_s(ctx->cfg))
		return TLY_OK;
	/* the first attempt's worker died: take the key over */
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE idempotency_keys SET "
	    "created_at = NOW(3) WHERE principal = ? AND idem_key = ? AND "
	    "state = 'in_progress' AND created_at < NOW(3) - INTERVAL ? SECOND",
	    "ssi", i->principal, i->key,
	    (int64_t)tly_idem_takeover_s(ctx->cfg));
	if (rc == TLY_OK && n == 1)
		i->state = TLY_IDEM_NEW;
	return rc;
}

/* tly_idem_finish - store the response ('status', 'len' bytes of 'body') */
int
tly_idem_finish(tly_ctx *ctx, const tly_idem *i, int status,
    const char *body, size_t len, tly_err *err)
{
	tly_q q;
	int rc;

	if (tly_q_prep(ctx->db, &q, "UPDATE idempotency_keys SET state = "
	    "'done', response_status = ?, response_body = ? WHERE "
	    "principal = ? AND idem_key = ?", err))
		return q.rc;
	tly_q_i64(&q, status);
	tly_q_strn(&q, body ? body : "", body ? len : 0);
	tly_q_str(&q, i->principal);
	tly_q_str(&q, i->key);
	rc = tly_q_exec(&q);
	tly_q_done(&q);
	return rc;
}

/* tly_idem_abandon - forget the key: the request may be sent again */
int
tly_idem_abandon(tly_ctx *ctx, const tly_idem *i, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "DELETE FROM idempotency_keys "
	    "WHERE principal = ? AND idem_key = ? AND state = 'in_progress'",
	    "ss", i->principal, i->key);
}

/* tly_idem_row_of - the key and fingerprint an effect row keeps of 'i' */
void
tly_idem_row_of(const tly_idem *i, tly_idem_row *row)
{
	snprintf(row->key, sizeof(row->key), "%s:%s", i->principal, i->key);
	tly_strlcpy(row->sha256, i->hash, sizeof(row->sha256));
}

/*
 * tly_idem_row_find - the id of the row of 'table' ("refunds",
 * "advances") that keeps 'row''s key, into 'id': TLY_OK, TLY_NOTFOUND,
 * or 422 idempotency_key_reused when that row was asked for by another
 * request (rows from before 011_request_keys.sql have no fingerprint:
 * the key alone names them).
 */
int
tly_idem_row_find(tly_ctx *ctx, const char *table, const tly_idem_row *row,
    char *id, size_t sz, tly_err *err)
{
	char sql[160], hash[65];
	int rc;

	if (strcmp(table, "refunds") != 0 && strcmp(table, "advances") != 0)
		return tly_err_internal(err);
	snprintf(sql, sizeof(sql), "SELECT id, IFNULL(request_sha256, '') "
	    "FROM %s WHERE request_key = ?", table);
	rc = tly_db_row(ctx->db, err, sql, "s>ss", row->key, id, sz, hash,
	    sizeof(hash));
	if (rc)
		return rc;
	if (hash[0] && strcmp(hash, row->sha256) != 0)
		return tly_err_set(err, TLY_EK_UNPROCESSABLE,
		    "idempotency_key_reused", "This Idempotency-Key was used "
		    "with another request; use a new key.");
	return TLY_OK;
}

/* tly_idem_prune - delete the keys older than a day (the gc job) */
int
tly_idem_prune(tly_ctx *ctx, tly_err *err)
{
	return tly_db_prune(ctx->db, "DELETE FROM idempotency_keys WHERE "
	    "created_at < NOW(3) - INTERVAL 1 DAY LIMIT 1000", err);
}

/*
 * idem.c - clients' Idempotency-Key (see idem.h)
 *
 * Owns idempotency_keys.  Insert-if-absent is a plain INSERT handling
 * the duplicate key (DESIGN §3), never a locking read of a missing row.
 *
 * API:	tly_idem_key_ok(), tly_idem_begin(), tly_idem_finish(),
 *	tly_idem_abandon().
 */
#include <string.h>

#include "idem.h"
#include "tly_str.h"

#define STALE_S		60

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
 * tly_idem_begin - claim i->key (principal, route set by the caller) for
 * a request with body 'body'; i->state says what to do.
 */
int
tly_idem_begin(tly_ctx *ctx, tly_idem *i, const char *body, size_t len,
    tly_err *err)
{
	char route[128], hash[65], state[16];
	int64_t status = 0, age = 0;
	int isnull = 1, rc;
	uint64_t n = 0;
	tly_q q;

	tly_sha256_hex(i->hash, body ? body : "", body ? len : 0);
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO idempotency_keys "
	    "(principal, idem_key, route, body_sha256, state) VALUES (?, ?, ?, "
	    "?, 'in_progress')", "ssss", i->principal, i->key, i->route,
	    i->hash);
	if (rc == TLY_OK) {
		i->state = TLY_IDEM_NEW;
		return TLY_OK;
	}
	if (rc != TLY_CONFLICT)
		return rc;
	tly_err_clear(err);
	if (tly_q_prep(ctx->db, &q, "SELECT route, body_sha256, state, "
	    "response_status, response_body, TIMESTAMPDIFF(SECOND, "
	    "created_at, NOW(3)) FROM idempotency_keys WHERE principal = ? "
	    "AND idem_key = ?", err))
		return q.rc;
	tly_q_str(&q, i->principal);
	tly_q_str(&q, i->key);
	(void)tly_q_exec(&q);
	rc = tly_q_next(&q);
	if (rc == TLY_ROW) {
		tly_strlcpy(route, tly_q_col_str(&q, 0), sizeof(route));
		tly_strlcpy(hash, tly_q_col_str(&q, 1), sizeof(hash));
		tly_strlcpy(state, tly_q_col_str(&q, 2), sizeof(state));
		isnull = tly_q_col_null(&q, 3);
		status = tly_q_col_i64(&q, 3);
		i->body = tly_pstrndup(ctx->pool, tly_q_col_str(&q, 4) ?
		    tly_q_col_str(&q, 4) : "", tly_q_col_len(&q, 4));
		i->body_len = tly_q_col_len(&q, 4);
		age = tly_q_col_i64(&q, 5);
	}
	tly_q_done(&q);
	if (rc == TLY_OK)		/* expired meanwhile: try once more */
		return tly_idem_begin(ctx, i, body, len, err);
	if (rc != TLY_ROW)
		return rc;
	if (strcmp(route, i->route) != 0 || strcmp(hash, i->hash) != 0) {
		i->state = TLY_IDEM_MISMATCH;
		return TLY_OK;
	}
	if (strcmp(state, "done") == 0 && !isnull) {
		i->state = TLY_IDEM_REPLAY;
		i->status = (int)status;
		return TLY_OK;
	}
	i->state = TLY_IDEM_IN_PROGRESS;
	if (age < STALE_S)
		return TLY_OK;
	/* the first attempt's worker died: take the key over */
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE idempotency_keys SET "
	    "created_at = NOW(3) WHERE principal = ? AND idem_key = ? AND "
	    "state = 'in_progress' AND created_at < NOW(3) - INTERVAL ? SECOND",
	    "ssi", i->principal, i->key, (int64_t)STALE_S);
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

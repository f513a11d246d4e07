/*
 * audit_chain.c - the audit log's hash chain (audit_chain.h)
 *
 * Owns audit_chain.  A link is (audit_id, prev_hash, hash) with
 *
 *	hash = hex(SHA-256(prev_hash "\n" canonical(row)))
 *
 * prev_hash being the previous link's hash (64 '0' for the first), and
 * canonical(row) the row's eight columns in this order: id (decimal),
 * at (DATE_FORMAT '%Y-%m-%d %H:%i:%s.%f', UTC), actor_kind, actor_id,
 * action, object_id, detail, request_id, each written "LEN:BYTES|" (LEN
 * in bytes, decimal) or "~|" for NULL: no two rows share an encoding,
 * whatever their text holds.
 *
 * Chaining.  tly_audit() appends rows in the transactions of their
 * changes; chaining there would make every payment wait for the chain's
 * head.  The "audit" job ([job.audit]) chains instead, in id order, the
 * rows older than [audit] chain_horizon (default 60 s): an id is taken
 * when the row is inserted, with the deferred writes just before COMMIT,
 * so a row the job has not seen yet while a newer one is old enough
 * could only be one whose transaction stayed open longer than the
 * horizon; keep the horizon above innodb_lock_wait_timeout.  Two hosts
 * chaining at once compute the same links: the second one's duplicate
 * key rolls it back, nothing else.  Until then a row is unchained for at
 * most the horizon plus the job's interval (docs/operations.md).
 *
 * Verifying walks every row and link in id order and stops at the first
 * that does not fit:
 *   - a link whose row is gone:            the row was deleted;
 *   - a link whose prev_hash is not the previous link's hash: a row and
 *     its link were deleted before it (or a link was forged);
 *   - a hash that does not match the row:   the row was edited;
 *   - a row without a link below a chained one: a row was inserted by
 *     hand (or chained out of order);
 *   - a kept head (id, hash) given that the chain no longer holds.
 * Rows newer than the last link are counted as not yet chained.  Rows
 * appended at the end by someone with the application's INSERT
 * privilege look like the application's own: the application's
 * privileges (INSERT, SELECT) and the kept heads are what bound that.
 *
 * tly_audit_writable() says whether the user Tally connects as could
 * rewrite the log after all (a grant of UPDATE or DELETE on the audit
 * tables, on the database or on everything): verify warns about it.
 *
 * API:	tly_job_audit_chain(), tly_audit_verify(), tly_audit_writable().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit_chain.h"
#include "tly_buf.h"
#include "tly_str.h"
#include "tx.h"

#define CHAIN_BATCH	500
#define VERIFY_PAGE	5000
#define GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

#define ROW_COLS \
	"DATE_FORMAT(a.at, '%Y-%m-%d %H:%i:%s.%f'), a.actor_kind, " \
	"a.actor_id, a.action, a.object_id, a.detail, a.request_id"

/* link_hash - 'out' = the hash of the row at column 'c0' of 'q' */
static int
link_hash(const tly_q *q, int64_t id, int c0, const char *prev,
    char out[65])
{
	const char *v;
	tly_buf b;
	int i, rc;

	tly_buf_init(&b, 1 << 16);
	rc = tly_buf_adds(&b, prev);
	if (rc == TLY_OK)
		rc = tly_buf_addf(&b, "\n%zu:%" PRId64 "|",
		    (size_t)snprintf(NULL, 0, "%" PRId64, id), id);
	for (i = 0; i < 7 && rc == TLY_OK; i++) {
		v = tly_q_col_str(q, c0 + i);
		if (v == NULL) {
			rc = tly_buf_adds(&b, "~|");
			continue;
		}
		rc = tly_buf_addf(&b, "%zu:", tly_q_col_len(q, c0 + i));
		if (rc == TLY_OK)
			rc = tly_buf_add(&b, v, tly_q_col_len(q, c0 + i));
		if (rc == TLY_OK)
			rc = tly_buf_addc(&b, '|');
	}
	if (rc == TLY_OK)
		tly_sha256_hex(out, b.data, b.len);
	tly_buf_free(&b);
	return rc;
}

/* --- chaining ------------------------------------------------------------ */

typedef struct chain_args {
	int64_t	 horizon_s;
	int	 n;				/* links written */
	int64_t	 ids[CHAIN_BATCH];
	char	 hashes[CHAIN_BATCH][65];
	char	 prev[CHAIN_BATCH][65];
} chain_args;

/* chain_tx - link the next rows past the horizon, in id order */
TLY_TX_TYPED(chain_tx, chain_args)
static int
chain_tx(tly_ctx *ctx, chain_args *a, tly_err *err)
{
	char prev[65];
	int64_t head = 0;
	int rc, i, bad = 0;
	tly_q q;

	a->n = 0;
	rc = tly_db_row(ctx->db, err, "SELECT audit_id, hash FROM audit_chain "
	    "ORDER BY audit_id DESC LIMIT 1", ">is", &head, prev,
	    sizeof(prev));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		head = 0;
		tly_strlcpy(prev, GENESIS, sizeof(prev));
	} else if (rc)
		return rc;
	if (tly_q_prep(ctx->db, &q, "SELECT a.id, " ROW_COLS " FROM "
	    "audit_log a WHERE a.id > ? AND a.at < NOW(3) - INTERVAL ? "
	    "SECOND ORDER BY a.id LIMIT ?", err))
		return q.rc;
	tly_q_i64(&q, head);
	tly_q_i64(&q, a->horizon_s);
	tly_q_i64(&q, CHAIN_BATCH);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		i = a->n;
		if (i == CHAIN_BATCH || bad)
			continue;
		a->ids[i] = tly_q_col_i64(&q, 0);
		tly_strlcpy(a->prev[i], prev, sizeof(a->prev[i]));
		if (link_hash(&q, a->ids[i], 1, prev, a->hashes[i]) != TLY_OK)
			bad = 1;
		tly_strlcpy(prev, a->hashes[i], sizeof(prev));
		a->n++;
	}
	tly_q_done(&q);
	if (rc == TLY_OK && bad)
		rc = tly_err_internal(err);
	if (rc)
		return rc;
	for (i = 0; i < a->n; i++) {
		rc = tly_db_later(ctx->db, err, "INSERT INTO audit_chain "
		    "(audit_id, prev_hash, hash) VALUES (?, ?, ?)", "iss",
		    a->ids[i], a->prev[i], a->hashes[i]);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/*
 * tly_job_audit_chain - chain the audit rows older than the horizon
 * (batches of CHAIN_BATCH until none is left)
 */
int
tly_job_audit_chain(tly_ctx *ctx, tly_err *err)
{
	chain_args *a;
	int rc, rounds;

	a = tly_pcalloc(ctx->pool, sizeof(*a));
	if (a == NULL)
		return tly_err_internal(err);
	a->horizon_s = ctx->cfg->audit_horizon_s;
	for (rounds = 0; rounds < 100; rounds++) {
		rc = chain_tx_run(ctx, "audit.chain", a, err);
		if (rc == TLY_CONFLICT) {
			/* another host chained them first */
			tly_err_clear(err);
			return TLY_OK;
		}
		if (rc || a->n < CHAIN_BATCH)
			return rc;
	}
	return TLY_OK;
}

/* --- verifying ------------------------------------------------------------ */

typedef struct walk {
	tly_audit_verdict	*v;
	char			 prev[65];
	int64_t			 pending;	/* first unchained row, 0 */
	int64_t			 kept_id;
	const char		*kept_hash;
	int			 kept_seen;
} walk;

static int
broken(walk *w, int64_t id, const char *why)
{
	w->v->ok = 0;
	w->v->broken_id = id;
	snprintf(w->v->why, sizeof(w->v->why), "%s", why);
	return 1;
}

/* step - one id of the walk: 1 when it is broken there */
static int
step(walk *w, const tly_q *q)
{
	int64_t id = tly_q_col_i64(q, 0);
	int has_row = tly_q_col_i64(q, 1) != 0;
	int has_link = tly_q_col_i64(q, 2) != 0;
	const char *lprev, *lhash;
	char h[65];

	if (!has_link) {
		if (w->pending == 0)
			w->pending = id;
		w->v->unchained++;
		return 0;
	}
	if (w->pending)
		return broken(w, w->pending, "not in the chain, but rows "
		    "after it are: inserted by hand (or chained out of order)");
	if (!has_row)
		return broken(w, id, "deleted: its chain link remains");
	lprev = tly_q_col_str(q, 10);
	lhash = tly_q_col_str(q, 11);
	if (lprev == NULL || lhash == NULL || strcmp(lprev, w->prev) != 0)
		return broken(w, id, "its link does not follow the previous "
		    "one: a row and its link before it were deleted");
	if (link_hash(q, id, 3, w->prev, h) != TLY_OK)
		return broken(w, id, "cannot hash the row");
	if (strcmp(h, lhash) != 0)
		return broken(w, id, "its content does not match its hash: "
		    "edited");
	if (id == w->kept_id) {
		w->kept_seen = 1;
		if (strcmp(lhash, w->kept_hash) != 0)
			return broken(w, id, "the kept head's hash differs: "
			    "the chain was rewritten up to here");
	}
	tly_strlcpy(w->prev, lhash, sizeof(w->prev));
	w->v->rows++;
	w->v->head_id = id;
	tly_strlcpy(w->v->head_hash, lhash, sizeof(w->v->head_hash));
	w->v->unchained = 0;
	return 0;
}

/* verify_page - ids after 'after' (VERIFY_PAGE of them) */
static int
verify_page(tly_ctx *ctx, walk *w, int64_t *after, int *n, int *stop,
    tly_err *err)
{
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT x.id, a.id IS NOT NULL, "
	    "c.audit_id IS NOT NULL, " ROW_COLS ", c.prev_hash, c.hash FROM "
	    "(SELECT id FROM audit_log WHERE id > ? UNION SELECT audit_id "
	    "FROM audit_chain WHERE audit_id > ? ORDER BY 1 LIMIT ?) x "
	    "LEFT JOIN audit_log a ON a.id = x.id LEFT JOIN audit_chain c ON "
	    "c.audit_id = x.id ORDER BY x.id", err))
		return q.rc;
	tly_q_i64(&q, *after);
	tly_q_i64(&q, *after);
	tly_q_i64(&q, VERIFY_PAGE);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		(*n)++;
		*after = tly_q_col_i64(&q, 0);
		if (!*stop && step(w, &q))
			*stop = 1;
	}
	tly_q_done(&q);
	return rc;
}

/*
 * tly_audit_verify - walk the whole chain into 'v'; with 'kept_id' > 0,
 * the link of row 'kept_id' must still have hash 'kept_hash' (a head
 * printed earlier).  TLY_OK whatever the verdict; a failure only when
 * the database could not be read.
 */
int
tly_audit_verify(tly_ctx *ctx, int64_t kept_id, const char *kept_hash,
    tly_audit_verdict *v, tly_err *err)
{
	int64_t after = 0;
	int n, stop = 0, rc;
	walk w;

	memset(v, 0, sizeof(*v));
	memset(&w, 0, sizeof(w));
	v->ok = 1;
	w.v = v;
	w.kept_id = kept_id;
	w.kept_hash = kept_hash ? kept_hash : "";
	tly_strlcpy(w.prev, GENESIS, sizeof(w.prev));
	tly_strlcpy(v->head_hash, GENESIS, sizeof(v->head_hash));
	do {
		rc = verify_page(ctx, &w, &after, &n, &stop, err);
		tly_pool_reset(ctx->pool);
	} while (rc == TLY_OK && !stop && n == VERIFY_PAGE);
	if (rc == TLY_OK && !stop && kept_id > 0 && !w.kept_seen)
		broken(&w, kept_id, "the kept head is no longer in the chain: "
		    "rows at or before it were deleted");
	return rc;
}

/* grant_writes - a SHOW GRANTS line lets its user rewrite the audit */
static int
grant_writes(const char *g)
{
	const char *on = strstr(g, " ON ");
	size_t n;

	if (on == NULL)
		return 0;
	n = (size_t)(on - g);
	if (!(memmem(g, n, "ALL PRIVILEGES", 14) || memmem(g, n, "UPDATE", 6) ||
	    memmem(g, n, "DELETE", 6)))
		return 0;
	return strncmp(on, " ON *.*", 7) == 0 || strstr(on, "`.* TO") ||
	    strstr(on, "`audit_log` TO") || strstr(on, "`audit_chain` TO");
}

/*
 * tly_audit_writable - '*w' = 1 when the connected user holds UPDATE or
 * DELETE on the audit tables (directly, on the database, or globally)
 */
int
tly_audit_writable(tly_ctx *ctx, int *w, tly_err *err)
{
	const char *g;
	tly_q q;
	int rc;

	*w = 0;
	if (tly_q_prep(ctx->db, &q, "SHOW GRANTS", err))
		return q.rc;
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		g = tly_q_col_str(&q, 0);
		if (g && grant_writes(g))
			*w = 1;
	}
	tly_q_done(&q);
	return rc;
}

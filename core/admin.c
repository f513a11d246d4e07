/*
 * admin.c - lists for the admin API: admin users, API keys, audit log
 *
 * Owns no table: it only reads.
 *
 * Every list reads limit + 1 rows to learn has_more without a COUNT, and
 * pages by primary key (ids are time-ordered), so a page costs one index
 * range scan however deep the cursor.  Key hashes and password hashes
 * are never selected.
 *
 * API:	tly_admin_users_list(), tly_api_keys_list(),
 *	tly_audit_list().
 */
#include <string.h>

#include "admin.h"
#include "tly_str.h"

static void *
alloc_rows(tly_ctx *ctx, const tly_page *p, size_t size)
{
	return tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * size);
}

/* tly_admin_users_list - admin users, newest first */
int
tly_admin_users_list(tly_ctx *ctx, const tly_page *p,
    tly_admin_user_row **out, int *n, int *more, tly_err *err)
{
	tly_admin_user_row *rows, *r;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = alloc_rows(ctx, p, sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT id, username, role, disabled, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)) FROM admin_users WHERE id < ? "
	    "ORDER BY id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		r = &rows[(*n)++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		tly_strlcpy(r->username, tly_q_col_str(&q, 1),
		    sizeof(r->username));
		tly_strlcpy(r->role, tly_q_col_str(&q, 2), sizeof(r->role));
		r->disabled = tly_q_col_i64(&q, 3);
		r->created = tly_q_col_i64(&q, 4);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

/* tly_api_keys_list - API keys (never the key or its hash), newest first */
int
tly_api_keys_list(tly_ctx *ctx, const tly_page *p, tly_api_key_row **out,
    int *n, int *more, tly_err *err)
{
	tly_api_key_row *rows, *r;
	const char *by;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = alloc_rows(ctx, p, sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT id, name, prefix, created_by, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), "
	    "FLOOR(UNIX_TIMESTAMP(revoked_at)) FROM api_keys WHERE id < ? "
	    "ORDER BY id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		r = &rows[(*n)++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		tly_strlcpy(r->name, tly_q_col_str(&q, 1), sizeof(r->name));
		tly_strlcpy(r->prefix, tly_q_col_str(&q, 2), sizeof(r->prefix));
		by = tly_q_col_str(&q, 3);
		tly_strlcpy(r->created_by, by ? by : "", sizeof(r->created_by));
		r->created = tly_q_col_i64(&q, 4);
		r->revoked = tly_q_col_i64(&q, 5);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

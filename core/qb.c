/*
 * qb.c - the admin reads' query builder (qb.h): SQL text in a bounded
 * buffer and its parameters in order (at most TLY_QB_MAXP; one more makes
 * the run fail), bound as strings or integers when the statement is
 * prepared; the rows land in a tly_rset in the request's pool, one row
 * past the limit setting has_more.
 *
 * Used by report.c and report_daily.c; runs what it is given, owns no
 * table.
 *
 * API:	tly_qb_init(), tly_qb_add(), tly_qb_s(), tly_qb_i(), tly_qb_run(),
 *	tly_qb_exec(), tly_qb_rset(), tly_qb_limit().
 */
#include <string.h>

#include "db.h"
#include "qb.h"

/* tly_qb_init - a statement starting with 'head' */
void
tly_qb_init(tly_qb *b, const char *head)
{
	memset(b, 0, sizeof(*b));
	tly_buf_init(&b->sql, 16384);
	(void)tly_buf_adds(&b->sql, head);
}

/* tly_qb_add - more SQL text */
void
tly_qb_add(tly_qb *b, const char *text)
{
	(void)tly_buf_adds(&b->sql, text);
}

/* tly_qb_s - the next parameter, a string (kept by reference) */
void
tly_qb_s(tly_qb *b, const char *v)
{
	if (b->n < TLY_QB_MAXP) {
		b->isint[b->n] = 0;
		b->s[b->n++] = v;
	}
}

/* tly_qb_i - the next parameter, an integer */
void
tly_qb_i(tly_qb *b, int64_t v)
{
	if (b->n < TLY_QB_MAXP) {
		b->isint[b->n] = 1;
		b->i[b->n++] = v;
	}
}

/* tly_qb_rset - an empty set of 'cap' rows of 'cols' */
int
tly_qb_rset(tly_ctx *ctx, tly_rset *rs, const char *object,
    const tly_rcol *cols, int ncols, int cap, tly_err *err)
{
	size_t cells = (size_t)(cap > 0 ? cap : 1) * (size_t)ncols;

	memset(rs, 0, sizeof(*rs));
	rs->object = object;
	rs->cols = cols;
	rs->ncols = ncols;
	rs->s = tly_pcalloc(ctx->pool, cells * sizeof(*rs->s));
	rs->i = tly_pcalloc(ctx->pool, cells * sizeof(*rs->i));
	rs->null = tly_pcalloc(ctx->pool, cells);
	if (rs->s == NULL || rs->i == NULL || rs->null == NULL)
		return tly_err_internal(err);
	return TLY_OK;
}

/*
 * qb_prep - prepare 'b' as 'q' with its parameters bound; frees 'b''s
 * text whatever the result
 */
static int
qb_prep(tly_ctx *ctx, tly_qb *b, tly_q *q, tly_err *err)
{
	int rc, j;

	if (b->n >= TLY_QB_MAXP || tly_buf_str(&b->sql) == NULL) {
		tly_buf_free(&b->sql);
		return tly_err_internal(err);
	}
	rc = tly_q_prep(ctx->db, q, tly_buf_str(&b->sql), err);
	tly_buf_free(&b->sql);
	if (rc)
		return q->rc;
	for (j = 0; j < b->n; j++) {
		if (b->isint[j])
			tly_q_i64(q, b->i[j]);
		else
			tly_q_str(q, b->s[j]);
	}
	return TLY_OK;
}

/*
 * tly_qb_run - run 'b' and keep at most 'limit' rows in 'rs' (columns
 * 'cols'); one row more sets rs->more.  Frees 'b'.
 */
int
tly_qb_run(tly_ctx *ctx, tly_qb *b, const char *object, const tly_rcol *cols,
    int ncols, int limit, tly_rset *rs, tly_err *err)
{
	const char *v;
	size_t k;
	tly_q q;
	int rc, c;

	rc = tly_qb_rset(ctx, rs, object, cols, ncols, limit, err);
	if (rc) {
		tly_buf_free(&b->sql);
		return rc;
	}
	rc = qb_prep(ctx, b, &q, err);
	if (rc)
		return rc;
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (rs->nrows == limit) {
			rs->more = 1;
			continue;
		}
		for (c = 0; c < ncols; c++) {
			k = (size_t)rs->nrows * (size_t)ncols + (size_t)c;
			rs->null[k] = (unsigned char)tly_q_col_null(&q, c);
			if (rs->null[k])
				continue;
			if (cols[c].type != TLY_RT_STR) {
				rs->i[k] = tly_q_col_i64(&q, c);
				continue;
			}
			v = tly_q_col_str(&q, c);
			rs->s[k] = tly_pstrndup(ctx->pool, v ? v : "",
			    v ? tly_q_col_len(&q, c) : 0);
			if (rs->s[k] == NULL)
				rc = tly_err_internal(err);
		}
		rs->nrows++;
	}
	tly_q_done(&q);
	return rc;
}

/* tly_qb_exec - run 'b', a statement without rows.  Frees 'b'. */
int
tly_qb_exec(tly_ctx *ctx, tly_qb *b, tly_err *err)
{
	tly_q q;
	int rc;

	rc = qb_prep(ctx, b, &q, err);
	if (rc)
		return rc;
	rc = tly_q_exec(&q);
	tly_q_done(&q);
	return rc;
}

/* tly_qb_limit - the page size of 'p' (its default when unset) */
int
tly_qb_limit(const tly_page *p)
{
	return p->limit > 0 ? p->limit : TLY_PAGE_DEFAULT;
}

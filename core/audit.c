/*
 * audit.c - the audit log (audit.h)
 *
 * Owns audit_log: this file is the only writer.  A row is appended with
 * tly_audit() inside the transaction of the change it records, as one
 * more deferred write (it rides with the COMMIT), so a change and its
 * audit row commit together or not at all, and nothing audits after the
 * fact.  The application never updates or deletes a row.
 *
 * Actors: a principal (an admin by id, a server key, a buyer), the
 * operator running tallyctl (tly_audit_operator: kind "operator", the
 * unix user), or NULL for the system itself (jobs, webhooks);
 * tly_audit_system() names which part of the system acted (kind
 * "system", id e.g. "catchup", "reconcile").  'detail' is a reason or an
 * id, never a secret.
 *
 * API:	tly_audit(), tly_audit_system(), tly_audit_operator(),
 *	tly_audit_list().
 */
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "db.h"
#include "tly_buf.h"
#include "tly_str.h"

/*
 * tly_audit - append who ('actor', NULL: the system) did 'action' to
 * 'object' with 'detail' (NULL: none).  Call it inside the transaction
 * of the change it records.
 */
int
tly_audit(tly_ctx *ctx, const tly_principal *actor, const char *action,
    const char *object, const char *detail, tly_err *err)
{
	/* tests: an audit row that cannot be written fails its change */
	if (tly_ctx_fault(ctx, "audit") == TLY_FAULT_FAIL)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database is unavailable; try again.");
	return tly_db_later(ctx->db, err, "INSERT INTO audit_log "
	    "(actor_kind, actor_id, action, object_id, detail, request_id) "
	    "VALUES (?, ?, ?, ?, ?, ?)", "ssssss",
	    actor ? tly_principal_kind_name(actor->kind) : "system",
	    actor && actor->id[0] ? actor->id : NULL, action, object, detail,
	    ctx->request_id[0] ? ctx->request_id : NULL);
}

/*
 * tly_audit_system - tly_audit() by the system's part 'who' (actor kind
 * "system", actor id 'who': "catchup", "reconcile")
 */
int
tly_audit_system(tly_ctx *ctx, const char *who, const char *action,
    const char *object, const char *detail, tly_err *err)
{
	if (tly_ctx_fault(ctx, "audit") == TLY_FAULT_FAIL)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database is unavailable; try again.");
	return tly_db_later(ctx->db, err, "INSERT INTO audit_log "
	    "(actor_kind, actor_id, action, object_id, detail, request_id) "
	    "VALUES ('system', ?, ?, ?, ?, ?)", "sssss", who, action, object,
	    detail, ctx->request_id[0] ? ctx->request_id : NULL);
}

/*
 * tly_audit_operator - 'p' becomes the operator running this process
 * (tallyctl): kind operator, id and name the unix user ("uid:N" when the
 * user has no name)
 */
void
tly_audit_operator(tly_principal *p)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	memset(p, 0, sizeof(*p));
	p->kind = TLY_PK_OPERATOR;
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
		tly_strlcpy(p->id, res->pw_name, sizeof(p->id));
	else
		snprintf(p->id, sizeof(p->id), "uid:%ld", (long)geteuid());
	snprintf(p->name, sizeof(p->name), "tallyctl:%s", p->id);
}

static void
copy_col(tly_q *q, int i, char *dst, size_t sz)
{
	const char *v = tly_q_col_str(q, i);

	tly_strlcpy(dst, v ? v : "", sz);
}

/* the list's columns, then its filters: only the present ones */
#define AUDIT_SELECT "SELECT id, FLOOR(UNIX_TIMESTAMP(at)), actor_kind, " \
	"actor_id, action, object_id, detail, request_id FROM audit_log " \
	"WHERE id < ?"

/*
 * tly_audit_list - audit rows matching 'f' (NULL: all), newest first
 * (cursor: the numeric id).  Only the filters given are in the SQL, so
 * each reads an index whose order ends in id (actor_id, action,
 * object_id, at; 012_panel.sql): a page is an index range read
 * backwards, never a scan of the log.
 */
int
tly_audit_list(tly_ctx *ctx, const tly_audit_filter *f, const tly_page *p,
    tly_audit_row **out, int *n, int *more, tly_err *err)
{
	static const tly_audit_filter none;
	tly_audit_row *rows, *r;
	int64_t after = INT64_MAX;
	tly_buf sql;
	tly_q q;
	int rc;

	*n = *more = 0;
	if (f == NULL)
		f = &none;
	if (p->starting_after &&
	    tly_parse_i64(p->starting_after, &after) != TLY_OK)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "starting_after", "starting_after must be an audit id.");
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	tly_buf_init(&sql, 1024);
	rc = tly_buf_adds(&sql, AUDIT_SELECT);
	if (rc == TLY_OK && f->actor)
		rc = tly_buf_adds(&sql, " AND actor_id = ?");
	if (rc == TLY_OK && f->action)
		rc = tly_buf_adds(&sql, " AND action = ?");
	if (rc == TLY_OK && f->object)
		rc = tly_buf_adds(&sql, " AND object_id = ?");
	if (rc == TLY_OK && f->created_gte > 0)
		rc = tly_buf_adds(&sql, " AND at >= FROM_UNIXTIME(?)");
	if (rc == TLY_OK && f->created_lte > 0)
		rc = tly_buf_adds(&sql, " AND at < FROM_UNIXTIME(?) + "
		    "INTERVAL 1 SECOND");
	if (rc == TLY_OK)
		rc = tly_buf_adds(&sql, " ORDER BY id DESC LIMIT ?");
	if (rc != TLY_OK || tly_q_prep(ctx->db, &q, tly_buf_str(&sql), err)) {
		tly_buf_free(&sql);
		return rc != TLY_OK ? tly_err_internal(err) : q.rc;
	}
	tly_buf_free(&sql);
	tly_q_i64(&q, after);
	if (f->actor)
		tly_q_str(&q, f->actor);
	if (f->action)
		tly_q_str(&q, f->action);
	if (f->object)
		tly_q_str(&q, f->object);
	if (f->created_gte > 0)
		tly_q_i64(&q, f->created_gte);
	if (f->created_lte > 0)
		tly_q_i64(&q, f->created_lte);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		r = &rows[(*n)++];
		r->id = tly_q_col_i64(&q, 0);
		r->at = tly_q_col_i64(&q, 1);
		copy_col(&q, 2, r->actor_kind, sizeof(r->actor_kind));
		copy_col(&q, 3, r->actor_id, sizeof(r->actor_id));
		copy_col(&q, 4, r->action, sizeof(r->action));
		copy_col(&q, 5, r->object_id, sizeof(r->object_id));
		copy_col(&q, 6, r->detail, sizeof(r->detail));
		copy_col(&q, 7, r->request_id, sizeof(r->request_id));
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

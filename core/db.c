/*
 * db.c - one MariaDB connection, its prepared statements, and queries
 *
 * Owns: the MYSQL handle, the session settings every connection gets
 * (UTC, utf8mb4, strict SQL mode, REPEATABLE READ, no autoreconnect), the
 * cache of prepared statements keyed by SQL text, and the mapping of
 * MariaDB errors to tly_rc.
 *
 * Invariants:
 * - Reconnection happens only in tly_db_connect(), which refuses to run
 *   inside a transaction; tly_q_prep() calls it when the handle is
 *   broken and no transaction is open.  A reconnect therefore never
 *   silently continues a transaction in autocommit mode (docs/architecture.md).
 * - Every result set is buffered (mysql_stmt_store_result) and freed by
 *   tly_q_done(), so no statement is ever "out of sync" with another.
 * - Statement handles die with their connection: on reconnect the cache
 *   is emptied and statements are prepared again on first use.
 * - Deferred statements (tly_q_later) exist only inside a transaction:
 *   they run, in order, in one multi-statement round trip before the
 *   next statement that is executed, or together with the COMMIT; a
 *   ROLLBACK or a lost connection drops them.  Their text is rendered
 *   from the bound values, integers in decimal and every string as a
 *   hex literal (_utf8mb4 X'...'), so no value is ever parsed as SQL.
 *
 * API:	tly_db_new(), tly_db_connect(), tly_q_*(), tly_db_exec(),
 *	tly_db_later(), tly_db_row(), tly_db_begin(), tly_db_commit(),
 *	tly_db_rollback(), tly_db_ping(), tly_db_free(), tly_db_prune().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>

#include "db.h"
#include "fault.h"
#include "tly_buf.h"
#include "tly_str.h"

#define DB_CACHE_MAX	256
#define DB_LATER_MAX	32		/* deferred statements per round trip */
#define DB_LATER_BYTES	(8u << 20)	/* their text, at most */
#define DB_STR_INIT	256		/* initial result string buffer */

struct db_stmt {
	uint64_t	 hash;
	char		*sql;
	MYSQL_STMT	*stmt;
	uint64_t	 used;		/* LRU clock */
	int		 nparams;
	int		 ncols;
	MYSQL_BIND	*pb;
	int64_t		*pi;
	unsigned long	*plen;
	my_bool		*pnull;
	MYSQL_BIND	*rb;
	int64_t		*ri;
	char		**rs;
	unsigned long	*rlen;
	my_bool		*rnull;
	my_bool		*rerr;
	unsigned char	*rint;		/* column bound as integer */
};

struct tly_db {
	const tly_config	*cfg;
	tly_log			*log;
	MYSQL			*m;
	int			 connected;
	int			 broken;
	int			 in_tx;
	int			 last_errno;
	unsigned long		 thread_id;
	uint64_t		 clock;
	db_stmt			*cache[DB_CACHE_MAX];
	int			 ncache;
	tly_buf			 later;		/* deferred statements */
	const char		*later_sql[DB_LATER_MAX];
	int			 nlater;
	int			 later_bad;	/* one could not be queued */
	int			 begin_queued;	/* START not sent yet */
};

/* --- errors ---------------------------------------------------------- */

static int
errno_lost(unsigned int e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case 1053:	/* ER_SERVER_SHUTDOWN */
	case 1927:	/* ER_CONNECTION_KILLED */
	case 4031:	/* ER_CLIENT_INTERACTION_TIMEOUT */
		return 1;
	default:
		return 0;
	}
}

/*
 * db_fail - classify MariaDB error 'e' (message 'msg'), log it and fill
 * 'err'; returns the tly_rc for it.
 */
static int
db_fail(tly_db *db, tly_err *err, unsigned int e, const char *msg,
    const char *what)
{
	char num[16];

	db->last_errno = (int)e;
	if (e == 1213 || e == 1205) {
		tly_err_set(err, TLY_EK_CONFLICT, "retry",
		    "The operation conflicted with another; retry it.");
		return TLY_AGAIN;
	}
	if (e == 1062) {
		tly_err_set(err, TLY_EK_CONFLICT, "duplicate",
		    "The object already exists.");
		return TLY_CONFLICT;
	}
	snprintf(num, sizeof(num), "%u", e);
	if (e == 1094) {		/* KILL of a thread already gone */
		tly_err_set(err, TLY_EK_NOT_FOUND, "no_such_thread",
		    "No such connection.");
		return TLY_NOTFOUND;
	}
	if (errno_lost(e)) {
		db->broken = 1;
		tly_logkv(db->log, TLY_LOG_WARN, "db", "connection lost",
		    "during", what, "mysql_errno", num, "error", msg, NULL);
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database is unavailable; retry later.");
	}
	tly_logkv(db->log, TLY_LOG_ERROR, "db", "statement failed",
	    "during", what, "mysql_errno", num, "error", msg, NULL);
	return tly_err_internal(err);
}

static int
stmt_fail(tly_db *db, tly_err *err, MYSQL_STMT *s, const char *what)
{
	return db_fail(db, err, mysql_stmt_errno(s), mysql_stmt_error(s),
	    what);
}

/* --- statement cache ------------------------------------------------- */

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
stmt_free(db_stmt *st)
{
	int i;

	if (st == NULL)
		return;
	if (st->stmt)
		mysql_stmt_close(st->stmt);
	for (i = 0; i < st->ncols; i++)
		free(st->rs[i]);
	free(st->sql);
	free(st->pb);
	free(st->pi);
	free(st->plen);
	free(st->pnull);
	free(st->rb);
	free(st->ri);
	free(st->rs);
	free(st->rlen);
	free(st->rnull);
	free(st->rerr);
	free(st->rint);
	free(st);
}

static void
cache_clear(tly_db *db)
{
	int i;

	for (i = 0; i < db->ncache; i++)
		stmt_free(db->cache[i]);
	db->ncache = 0;
}

static int
is_int_type(enum enum_field_types t)
{
	switch (t) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_YEAR:
		return 1;
	default:
		return 0;
	}
}

/* stmt_bind_results - result buffers from the statement's metadata */
static int
stmt_bind_results(db_stmt *st)
{
	MYSQL_RES *meta;
	MYSQL_FIELD *f;
	int i, n;

	meta = mysql_stmt_result_metadata(st->stmt);
	if (meta == NULL)
		return TLY_OK;		/* no result set (INSERT, UPDATE) */
	n = (int)mysql_num_fields(meta);
	st->rb = calloc((size_t)n, sizeof(*st->rb));
	st->ri = calloc((size_t)n, sizeof(*st->ri));
	st->rs = calloc((size_t)n, sizeof(*st->rs));
	st->rlen = calloc((size_t)n, sizeof(*st->rlen));
	st->rnull = calloc((size_t)n, sizeof(*st->rnull));
	st->rerr = calloc((size_t)n, sizeof(*st->rerr));
	st->rint = calloc((size_t)n, sizeof(*st->rint));
	if (!st->rb || !st->ri || !st->rs || !st->rlen || !st->rnull ||
	    !st->rerr || !st->rint) {
		mysql_free_result(meta);
		return TLY_ERR;
	}
	st->ncols = n;
	f = mysql_fetch_fields(meta);
	for (i = 0; i < n; i++) {
		st->rb[i].length = &st->rlen[i];
		st->rb[i].is_null = &st->rnull[i];
		st->rb[i].error = &st->rerr[i];
		if (is_int_type(f[i].type)) {
			st->rint[i] = 1;
			st->rb[i].buffer_type = MYSQL_TYPE_LONGLONG;
			st->rb[i].buffer = &st->ri[i];
			st->rb[i].is_unsigned =
			    (f[i].flags & UNSIGNED_FLAG) != 0;
			continue;
		}
		st->rs[i] = malloc(DB_STR_INIT);
		if (st->rs[i] == NULL) {
			mysql_free_result(meta);
			return TLY_ERR;
		}
		st->rb[i].buffer_type = MYSQL_TYPE_STRING;
		st->rb[i].buffer = st->rs[i];
		st->rb[i].buffer_length = DB_STR_INIT - 1;
	}
	mysql_free_result(meta);
	return TLY_OK;
}

static int
stmt_alloc_params(db_stmt *st)
{
	size_t n;

	st->nparams = (int)mysql_stmt_param_count(st->stmt);
	if (st->nparams > TLY_Q_MAXP)
		return TLY_ERR;
	n = st->nparams ? (size_t)st->nparams : 1;
	st->pb = calloc(n, sizeof(*st->pb));
	st->pi = calloc(n, sizeof(*st->pi));
	st->plen = calloc(n, sizeof(*st->plen));
	st->pnull = calloc(n, sizeof(*st->pnull));
	return st->pb && st->pi && st->plen && st->pnull ? TLY_OK : TLY_ERR;
}

/* stmt_get - the cached statement for 'sql', prepared now if needed */
static int
stmt_get(tly_db *db, const char *sql, db_stmt **out, tly_err *err)
{
	uint64_t h;
	db_stmt *st;
	int i, lru;

	h = fnv1a(sql);
	for (i = 0; i < db->ncache; i++) {
		st = db->cache[i];
		if (st->hash == h && strcmp(st->sql, sql) == 0) {
			st->used = ++db->clock;
			*out = st;
			return TLY_OK;
		}
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return tly_err_internal(err);
	st->sql = strdup(sql);
	if (st->sql == NULL) {
		free(st);
		return tly_err_internal(err);
	}
	st->hash = h;
	st->used = ++db->clock;
	st->stmt = mysql_stmt_init(db->m);
	if (st->stmt == NULL) {
		stmt_free(st);
		return tly_err_internal(err);
	}
	if (mysql_stmt_prepare(st->stmt, sql, (unsigned long)strlen(sql))) {
		int rc = stmt_fail(db, err, st->stmt, "prepare");

		stmt_free(st);
		return rc;
	}
	if (stmt_alloc_params(st) != TLY_OK ||
	    stmt_bind_results(st) != TLY_OK) {
		stmt_free(st);
		return tly_err_internal(err);
	}
	if (db->ncache == DB_CACHE_MAX) {
		lru = 0;
		for (i = 1; i < db->ncache; i++)
			if (db->cache[i]->used < db->cache[lru]->used)
				lru = i;
		stmt_free(db->cache[lru]);
		db->cache[lru] = db->cache[--db->ncache];
	}
	db->cache[db->ncache++] = st;
	*out = st;
	return TLY_OK;
}

/* --- deferred statements --------------------------------------------- */

/* later_drop - forget the deferred statements (rollback, lost connection) */
static void
later_drop(tly_db *db)
{
	tly_buf_reset(&db->later);
	db->nlater = 0;
	db->later_bad = 0;
	db->begin_queued = 0;
}

/*
 * later_run - run the deferred statements, then 'tail' ("COMMIT") if not
 * NULL, in one round trip.  With 'keep' set, the last deferred statement
 * is keep's (tly_q_exec_text) and its result set is kept in keep->res.
 * The first failure stops the batch (MariaDB runs none after it) and is
 * classified as any statement's, naming the deferred statement's SQL
 * (never its values) in the log.
 */
static int
later_run(tly_db *db, const char *tail, tly_q *keep, tly_err *err)
{
	const char *what;
	int k = 0, st;

	if (db->later_bad) {
		later_drop(db);		/* never run an incomplete batch */
		return tly_err_internal(err);
	}
	if (tail && (db->nlater ? tly_buf_addc(&db->later, ';') : TLY_OK) !=
	    TLY_OK)
		return tly_err_internal(err);
	if (tail && tly_buf_adds(&db->later, tail) != TLY_OK)
		return tly_err_internal(err);
	if (db->later.len == 0)
		return TLY_OK;
	if (tly_fault_nth(TLY_FAULT_DB)) {
		later_drop(db);
		return db_fail(db, err, 1030, "injected fault", "batch");
	}
	st = mysql_real_query(db->m, db->later.data,
	    (unsigned long)db->later.len);
	while (st == 0) {
		MYSQL_RES *res = mysql_store_result(db->m);

		if (res == NULL && mysql_field_count(db->m) != 0)
			break;		/* a result set could not be read */
		k++;
		if (keep && k == db->nlater && res)
			keep->res = res;
		else if (res)
			mysql_free_result(res);
		st = mysql_next_result(db->m);
		if (st < 0) {
			later_drop(db);
			return TLY_OK;		/* all done */
		}
	}
	if (keep && keep->res) {
		mysql_free_result(keep->res);
		keep->res = NULL;
	}
	what = k < db->nlater ? db->later_sql[k] : tail ? tail : "batch";
	later_drop(db);
	return db_fail(db, err, mysql_errno(db->m), mysql_error(db->m), what);
}

/* later_flush - run what is deferred before anything else runs */
static int
later_flush(tly_db *db, tly_err *err)
{
	if (db->nlater == 0 && !db->later_bad)
		return TLY_OK;
	return later_run(db, NULL, NULL, err);
}

/* later_hex - append _utf8mb4 X'<hex of the n bytes at p>' */
static int
later_hex(tly_buf *b, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char chunk[256];
	size_t i, k = 0;

	if (tly_buf_adds(b, "_utf8mb4 X'") != TLY_OK)
		return TLY_ERR;
	for (i = 0; i < n; i++) {
		chunk[k++] = hex[p[i] >> 4];
		chunk[k++] = hex[p[i] & 15];
		if (k == sizeof(chunk)) {
			if (tly_buf_add(b, chunk, k) != TLY_OK)
				return TLY_ERR;
			k = 0;
		}
	}
	if (k && tly_buf_add(b, chunk, k) != TLY_OK)
		return TLY_ERR;
	return tly_buf_addc(b, '\'');
}

/* later_render - statement 'st' with its bound values, onto db->later */
static int
later_render(tly_db *db, const db_stmt *st)
{
	tly_buf *b = &db->later;
	const MYSQL_BIND *pb;
	const char *p;
	int i = 0, quote = 0;

	if (db->nlater && tly_buf_addc(b, ';') != TLY_OK)
		return TLY_ERR;
	for (p = st->sql; *p; p++) {
		if (*p == '\'')
			quote = !quote;
		if (*p != '?' || quote) {
			if (tly_buf_addc(b, *p) != TLY_OK)
				return TLY_ERR;
			continue;
		}
		if (i >= st->nparams)
			return TLY_ERR;
		pb = &st->pb[i];
		if (st->pnull[i] || pb->buffer_type == MYSQL_TYPE_NULL) {
			if (tly_buf_adds(b, "NULL") != TLY_OK)
				return TLY_ERR;
		} else if (pb->buffer_type == MYSQL_TYPE_LONGLONG) {
			if (tly_buf_add_i64(b, st->pi[i]) != TLY_OK)
				return TLY_ERR;
		} else if (later_hex(b, pb->buffer, st->plen[i]) != TLY_OK)
			return TLY_ERR;
		i++;
	}
	return i == st->nparams ? TLY_OK : TLY_ERR;
}

/* --- connection ------------------------------------------------------ */

/* tly_db_new - a handle for 'cfg' (not yet connected); NULL if OOM */
tly_db *
tly_db_new(const tly_config *cfg, tly_log *log)
{
	tly_db *db;

	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->cfg = cfg;
	db->log = log;
	tly_buf_init(&db->later, DB_LATER_BYTES);
	return db;
}

/* tly_db_set_log - log through 'log' from now on */
void
tly_db_set_log(tly_db *db, tly_log *log)
{
	db->log = log;
}

/* tly_db_disconnect - close the connection and forget its statements */
void
tly_db_disconnect(tly_db *db)
{
	/*
	 * Close the connection first: mysql_close() detaches every statement
	 * from it, so closing them afterwards frees memory without talking
	 * to a server that may be gone.
	 */
	if (db->m)
		mysql_close(db->m);
	db->m = NULL;
	cache_clear(db);
	later_drop(db);
	db->connected = 0;
	db->broken = 0;
	db->in_tx = 0;
}

/* tly_db_free - disconnect and free; NULL is a no-op */
void
tly_db_free(tly_db *db)
{
	if (db == NULL)
		return;
	tly_db_disconnect(db);
	tly_buf_free(&db->later);
	free(db);
}

static const char *session_init =
    "SET time_zone = '+00:00', "
    "sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";
static const char *session_isolation =
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ";

/*
 * tly_db_connect - make sure the handle is connected: a no-op when it is,
 * a (re)connect when it is not or was broken.  Refuses inside a
 * transaction.  Fails with a 503 error when the server is unreachable.
 */
int
tly_db_connect(tly_db *db, tly_err *err)
{
	const tly_config *c = db->cfg;
	unsigned int t;
	my_bool off = 0;

	if (db->connected && !db->broken)
		return TLY_OK;
	if (db->in_tx)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database connection was lost; retry later.");
	tly_db_disconnect(db);
	db->m = mysql_init(NULL);
	if (db->m == NULL)
		return tly_err_internal(err);
	t = (unsigned int)c->db_connect_timeout_s;
	mysql_options(db->m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	t = (unsigned int)c->db_rw_timeout_s;
	mysql_options(db->m, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(db->m, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(db->m, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(db->m, MYSQL_INIT_COMMAND, session_init);
	mysql_options(db->m, MYSQL_INIT_COMMAND, session_isolation);
	if (mysql_real_connect(db->m, c->db_socket[0] ? NULL : c->db_host,
	    c->db_user, c->db_password, c->db_name,
	    (unsigned int)c->db_port, c->db_socket[0] ? c->db_socket : NULL,
	    CLIENT_MULTI_STATEMENTS) == NULL) {
		int rc;

		rc = db_fail(db, err, mysql_errno(db->m), mysql_error(db->m),
		    "connect");
		mysql_close(db->m);
		db->m = NULL;
		db->broken = 0;
		if (rc == TLY_ERR && err->kind == TLY_EK_INTERNAL)
			tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
			    "The database is unavailable; retry later.");
		return TLY_ERR;
	}
	db->connected = 1;
	db->broken = 0;
	db->thread_id = mysql_thread_id(db->m);
	return TLY_OK;
}

/* tly_db_lost - true when the connection was lost and not yet renewed */
int
tly_db_lost(const tly_db *db)
{
	return db->broken || !db->connected;
}

/* tly_db_in_tx - true between tly_db_begin and commit/rollback */
int
tly_db_in_tx(const tly_db *db)
{
	return db->in_tx;
}

/* tly_db_thread_id - the server's id for this connection (for KILL) */
unsigned long
tly_db_thread_id(const tly_db *db)
{
	return db->thread_id;
}

/* tly_db_last_errno - the MariaDB error number of the last failure */
int
tly_db_last_errno(const tly_db *db)
{
	return db->last_errno;
}

/* tly_db_simple - a statement without parameters or result */
int
tly_db_simple(tly_db *db, const char *sql, tly_err *err)
{
	int rc;

	if (!db->connected || db->broken)
		return tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database is unavailable; retry later.");
	rc = later_flush(db, err);
	if (rc)
		return rc;
	if (tly_fault_nth(TLY_FAULT_DB))	/* lost before it was sent */
		return db_fail(db, err, CR_SERVER_LOST, "injected fault", sql);
	if (mysql_real_query(db->m, sql, (unsigned long)strlen(sql)))
		return db_fail(db, err, mysql_errno(db->m), mysql_error(db->m),
		    sql);
	return TLY_OK;
}

/*
 * tly_db_begin - START TRANSACTION, connecting first if needed.  It is
 * queued like a deferred write: it reaches the server with the first
 * statement of the transaction (in the same round trip when that one is
 * deferred or run by tly_q_exec_text).  A connection found lost then
 * fails that statement, before anything of the transaction ran.
 */
int
tly_db_begin(tly_db *db, tly_err *err)
{
	static const char begin[] = "START TRANSACTION";
	int rc;

	rc = tly_db_connect(db, err);
	if (rc)
		return rc;
	later_drop(db);
	if (tly_buf_adds(&db->later, begin) != TLY_OK)
		return tly_err_internal(err);
	db->later_sql[db->nlater++] = begin;
	db->begin_queued = 1;
	db->in_tx = 1;
	return TLY_OK;
}

/* tly_db_commit - COMMIT; the transaction is over whatever the result */
int
tly_db_commit(tly_db *db, tly_err *err)
{
	int rc;

	if (db->begin_queued && db->nlater == 1 && !db->later_bad)
		rc = TLY_OK;		/* the transaction never started */
	else if (db->nlater == 0 && !db->later_bad)
		rc = tly_db_simple(db, "COMMIT", err);
	else if (!db->connected || db->broken)
		rc = tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database is unavailable; retry later.");
	else {
		rc = later_run(db, "COMMIT", NULL, err); /* one trip */
		if (rc != TLY_OK && db->connected && !db->broken) {
			/* a write failed, so COMMIT never ran: end it */
			tly_err ignored;

			tly_err_clear(&ignored);
			(void)tly_db_simple(db, "ROLLBACK", &ignored);
		}
	}
	later_drop(db);
	db->in_tx = 0;
	return rc;
}

/* tly_db_rollback - ROLLBACK if the connection still lives */
void
tly_db_rollback(tly_db *db)
{
	tly_err ignored;
	int sent;

	tly_err_clear(&ignored);
	sent = !db->begin_queued;	/* else the server saw nothing of it */
	later_drop(db);
	if (sent && db->connected && !db->broken)
		(void)tly_db_simple(db, "ROLLBACK", &ignored);
	db->in_tx = 0;
}

/* tly_db_ping - one round trip (health checks); reconnects if needed */
int
tly_db_ping(tly_db *db, tly_err *err)
{
	int64_t one = 0;

	return tly_db_row(db, err, "SELECT 1", ">i", &one);
}

/* --- queries --------------------------------------------------------- */

/*
 * tly_q_prep - start statement 'sql' on 'db'; failures go to 'err' and
 * stick to 'q' so that binding calls need no checks.
 */
int
tly_q_prep(tly_db *db, tly_q *q, const char *sql, tly_err *err)
{
	memset(q, 0, sizeof(*q));
	q->db = db;
	q->err = err;
	if ((!db->connected || db->broken) && !db->in_tx) {
		q->rc = tly_db_connect(db, err);
		if (q->rc)
			return q->rc;
	}
	if (!db->connected || db->broken) {
		q->rc = tly_err_set(err, TLY_EK_UNAVAILABLE, "db_unavailable",
		    "The database connection was lost; retry later.");
		return q->rc;
	}
	q->rc = stmt_get(db, sql, &q->st, err);
	if (q->rc != TLY_OK && db->broken && !db->in_tx) {
		/* preparing has no effect: after a lost connection, retry */
		tly_err_clear(err);
		q->rc = tly_db_connect(db, err);
		if (q->rc == TLY_OK)
			q->rc = stmt_get(db, sql, &q->st, err);
	}
	return q->rc;
}

static MYSQL_BIND *
next_param(tly_q *q)
{
	MYSQL_BIND *b;

	if (q->rc)
		return NULL;
	if (q->np >= q->st->nparams) {
		tly_logkv(q->db->log, TLY_LOG_ERROR, "db",
		    "too many parameters bound", "sql", q->st->sql, NULL);
		q->rc = tly_err_internal(q->err);
		return NULL;
	}
	b = &q->st->pb[q->np];
	memset(b, 0, sizeof(*b));
	q->st->pnull[q->np] = 0;
	b->is_null = &q->st->pnull[q->np];
	b->length = &q->st->plen[q->np];
	return b;
}

/* tly_q_i64 - bind the next parameter to integer 'v' */
void
tly_q_i64(tly_q *q, int64_t v)
{
	MYSQL_BIND *b;

	b = next_param(q);
	if (b == NULL)
		return;
	q->st->pi[q->np] = v;
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &q->st->pi[q->np];
	q->np++;
}

/* tly_q_strn - bind the next parameter to 'n' bytes at 's' (kept alive) */
void
tly_q_strn(tly_q *q, const char *s, size_t n)
{
	MYSQL_BIND *b;

	if (s == NULL) {
		tly_q_null(q);
		return;
	}
	b = next_param(q);
	if (b == NULL)
		return;
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)(uintptr_t)s;
	b->buffer_length = (unsigned long)n;
	q->st->plen[q->np] = (unsigned long)n;
	q->np++;
}

/* tly_q_str - bind a C string; NULL binds SQL NULL */
void
tly_q_str(tly_q *q, const char *s)
{
	tly_q_strn(q, s, s ? strlen(s) : 0);
}

/* tly_q_null - bind SQL NULL */
void
tly_q_null(tly_q *q)
{
	MYSQL_BIND *b;

	b = next_param(q);
	if (b == NULL)
		return;
	b->buffer_type = MYSQL_TYPE_NULL;
	q->st->pnull[q->np] = 1;
	q->np++;
}

static int exec_result(tly_q *);

/*
 * exec_again - the server went away before it received the statement
 * (2006, e.g. MariaDB restarted since the last request) and no
 * transaction is open: reconnect, prepare again, bind the same values
 * and execute once more.  2013 (lost *during* the statement) is never
 * retried here: the statement may have run.
 */
static int
exec_again(tly_q *q)
{
	MYSQL_BIND pb[TLY_Q_MAXP];
	int64_t pi[TLY_Q_MAXP];
	unsigned long plen[TLY_Q_MAXP];
	my_bool pnull[TLY_Q_MAXP];
	char *sql;
	db_stmt *st = q->st;
	int i, n = st->nparams, rc;

	q->db->broken = 1;
	memcpy(pb, st->pb, (size_t)n * sizeof(*pb));
	memcpy(pi, st->pi, (size_t)n * sizeof(*pi));
	memcpy(plen, st->plen, (size_t)n * sizeof(*plen));
	memcpy(pnull, st->pnull, (size_t)n * sizeof(*pnull));
	sql = strdup(st->sql);
	if (sql == NULL)
		return tly_err_internal(q->err);
	tly_logkv(q->db->log, TLY_LOG_INFO, "db",
	    "server went away between statements; reconnecting", NULL);
	rc = tly_db_connect(q->db, q->err);
	if (rc == TLY_OK)
		rc = stmt_get(q->db, sql, &q->st, q->err);
	free(sql);
	if (rc)
		return rc;
	st = q->st;
	if (st->nparams != n)
		return tly_err_internal(q->err);
	for (i = 0; i < n; i++) {
		st->pb[i] = pb[i];
		st->pi[i] = pi[i];
		st->plen[i] = plen[i];
		st->pnull[i] = pnull[i];
		st->pb[i].is_null = &st->pnull[i];
		st->pb[i].length = &st->plen[i];
		if (pb[i].buffer_type == MYSQL_TYPE_LONGLONG)
			st->pb[i].buffer = &st->pi[i];
	}
	if (n && mysql_stmt_bind_param(st->stmt, st->pb))
		return stmt_fail(q->db, q->err, st->stmt, "bind");
	if (mysql_stmt_execute(st->stmt))
		return stmt_fail(q->db, q->err, st->stmt, st->sql);
	return exec_result(q);
}

/* tly_q_exec - execute with the bound parameters; buffer any result */
int
tly_q_exec(tly_q *q)
{
	db_stmt *st;

	if (q->rc)
		return q->rc;
	st = q->st;
	if (q->np != st->nparams) {
		tly_logkv(q->db->log, TLY_LOG_ERROR, "db",
		    "parameter count mismatch", "sql", st->sql, NULL);
		return q->rc = tly_err_internal(q->err);
	}
	q->rc = later_flush(q->db, q->err);
	if (q->rc)
		return q->rc;
	if (st->nparams && mysql_stmt_bind_param(st->stmt, st->pb))
		return q->rc = stmt_fail(q->db, q->err, st->stmt, "bind");
	if (tly_fault_nth(TLY_FAULT_DB))
		return q->rc = db_fail(q->db, q->err, 1030, "fault", st->sql);
	if (mysql_stmt_execute(st->stmt)) {
		if (mysql_stmt_errno(st->stmt) == CR_SERVER_GONE_ERROR &&
		    !q->db->in_tx)
			return q->rc = exec_again(q);
		return q->rc = stmt_fail(q->db, q->err, st->stmt, st->sql);
	}
	return exec_result(q);
}

/* later_queue - append q's statement, with its values, to the queue */
static int
later_queue(tly_q *q)
{
	tly_db *db = q->db;
	int rc;

	if (db->nlater == DB_LATER_MAX) {
		rc = later_flush(db, q->err);
		if (rc)
			return rc;
	}
	if (db->later_bad || later_render(db, q->st) != TLY_OK) {
		/* the batch is incomplete: the transaction cannot commit */
		db->later_bad = 1;
		tly_logkv(db->log, TLY_LOG_ERROR, "db", "cannot queue a "
		    "statement (too large)", "sql", q->st->sql, NULL);
		return tly_err_internal(q->err);
	}
	db->later_sql[db->nlater++] = q->st->sql;
	return TLY_OK;
}

/*
 * tly_q_later - inside a transaction, defer the statement (with its
 * bound values) to the next round trip: before the next statement that
 * runs, or with the COMMIT.  Its failure, if any, is returned there.
 * Outside a transaction it runs now (tly_q_exec).  For statements whose
 * result nobody reads (no rows, no affected count).
 */
int
tly_q_later(tly_q *q)
{
	tly_db *db = q->db;

	if (q->rc)
		return q->rc;
	if (!db->in_tx)
		return tly_q_exec(q);
	if (q->np != q->st->nparams || q->st->ncols) {
		tly_logkv(db->log, TLY_LOG_ERROR, "db", q->np !=
		    q->st->nparams ? "parameter count mismatch" :
		    "a statement with a result cannot be deferred", "sql",
		    q->st->sql, NULL);
		return q->rc = tly_err_internal(q->err);
	}
	return q->rc = later_queue(q);
}

/*
 * tly_q_exec_text - inside a transaction, run the statement as text, with
 * its values, in the same round trip as the deferred statements queued
 * before it (and a START TRANSACTION not sent yet), and keep its result
 * set for tly_q_next.  So the first locking read of a transaction costs
 * one round trip, not two.  Outside a transaction it is tly_q_exec.
 */
int
tly_q_exec_text(tly_q *q)
{
	tly_db *db = q->db;

	if (q->rc)
		return q->rc;
	if (!db->in_tx)
		return tly_q_exec(q);
	if (q->np != q->st->nparams) {
		tly_logkv(db->log, TLY_LOG_ERROR, "db",
		    "parameter count mismatch", "sql", q->st->sql, NULL);
		return q->rc = tly_err_internal(q->err);
	}
	if (!db->connected || db->broken)
		return q->rc = tly_err_set(q->err, TLY_EK_UNAVAILABLE,
		    "db_unavailable", "The database is unavailable; retry "
		    "later.");
	q->rc = later_queue(q);
	if (q->rc == TLY_OK)
		q->rc = later_run(db, NULL, q, q->err);
	return q->rc;
}

/* exec_result - bind and buffer the result set, if the statement has one */
static int
exec_result(tly_q *q)
{
	db_stmt *st = q->st;

	if (st->ncols == 0)
		return TLY_OK;
	if (mysql_stmt_bind_result(st->stmt, st->rb))
		return q->rc = stmt_fail(q->db, q->err, st->stmt, "bind");
	if (mysql_stmt_store_result(st->stmt))
		return q->rc = stmt_fail(q->db, q->err, st->stmt, st->sql);
	q->stored = 1;
	return TLY_OK;
}

/* refetch_truncated - grow the buffers of truncated string columns */
static int
refetch_truncated(tly_q *q)
{
	db_stmt *st = q->st;
	char *p;
	int i;

	for (i = 0; i < st->ncols; i++) {
		if (!st->rerr[i] || st->rint[i])
			continue;
		p = realloc(st->rs[i], st->rlen[i] + 1);
		if (p == NULL)
			return TLY_ERR;
		st->rs[i] = p;
		st->rb[i].buffer = p;
		st->rb[i].buffer_length = st->rlen[i];
		if (mysql_stmt_fetch_column(st->stmt, &st->rb[i],
		    (unsigned int)i, 0))
			return TLY_ERR;
		st->rerr[i] = 0;
	}
	/* the grown buffers serve the following rows too */
	if (mysql_stmt_bind_result(st->stmt, st->rb))
		return TLY_ERR;
	return TLY_OK;
}

/* tly_q_next - TLY_ROW with a row ready, TLY_OK at the end, or failure */
int
tly_q_next(tly_q *q)
{
	db_stmt *st;
	int r, i;

	if (q->rc)
		return q->rc;
	if (q->res) {
		q->row = mysql_fetch_row(q->res);
		if (q->row == NULL)
			return TLY_OK;
		q->lens = mysql_fetch_lengths(q->res);
		return TLY_ROW;
	}
	if (!q->stored)
		return TLY_OK;
	st = q->st;
	r = mysql_stmt_fetch(st->stmt);
	if (r == MYSQL_NO_DATA)
		return TLY_OK;
	if (r == 1)
		return q->rc = stmt_fail(q->db, q->err, st->stmt, "fetch");
	if (r == MYSQL_DATA_TRUNCATED && refetch_truncated(q) != TLY_OK)
		return q->rc = tly_err_internal(q->err);
	for (i = 0; i < st->ncols; i++) {
		if (st->rint[i] || st->rnull[i])
			continue;
		/* NUL-terminate: buffer_length leaves room for it */
		st->rs[i][st->rlen[i] < st->rb[i].buffer_length ?
		    st->rlen[i] : st->rb[i].buffer_length] = '\0';
	}
	return TLY_ROW;
}

/* tly_q_ncols - columns in the result */
int
tly_q_ncols(const tly_q *q)
{
	if (q->res)
		return (int)mysql_num_fields(q->res);
	return q->st ? q->st->ncols : 0;
}

/* text_int - true when text column 'i' holds an integer type */
static int
text_int(const tly_q *q, int i)
{
	return is_int_type(mysql_fetch_field_direct(q->res,
	    (unsigned int)i)->type);
}

/* tly_q_col_null - true when column 'i' of the row is NULL */
int
tly_q_col_null(const tly_q *q, int i)
{
	if (q->res)
		return q->row == NULL || i < 0 || i >= tly_q_ncols(q) ||
		    q->row[i] == NULL;
	return i < 0 || i >= q->st->ncols || q->st->rnull[i];
}

/*
 * tly_q_col_i64 - column 'i' as an integer (0 when NULL); DECIMAL results
 * such as SUM(bigint) are bound as text and parsed here.
 */
int64_t
tly_q_col_i64(const tly_q *q, int i)
{
	int64_t v = 0;

	if (tly_q_col_null(q, i))
		return 0;
	if (q->res)
		return tly_parse_i64(q->row[i], &v) == TLY_OK ? v : 0;
	if (q->st->rint[i])
		return q->st->ri[i];
	if (tly_parse_i64(q->st->rs[i], &v) != TLY_OK)
		return 0;
	return v;
}

/* tly_q_col_str - column 'i' as text, valid until the next fetch; NULL if
 * the value is NULL */
const char *
tly_q_col_str(const tly_q *q, int i)
{
	if (tly_q_col_null(q, i))
		return NULL;
	if (q->res)
		return text_int(q, i) ? NULL : q->row[i];
	if (q->st->rint[i])
		return NULL;
	return q->st->rs[i];
}

/*
 * tly_q_col_copy - text column 'i' into 'dst' of 'sz' bytes, truncated;
 * "" when NULL
 */
void
tly_q_col_copy(const tly_q *q, int i, char *dst, size_t sz)
{
	const char *v = tly_q_col_str(q, i);

	tly_strlcpy(dst, v ? v : "", sz);
}

/* tly_q_col_len - byte length of text column 'i' */
size_t
tly_q_col_len(const tly_q *q, int i)
{
	if (tly_q_col_null(q, i))
		return 0;
	if (q->res)
		return text_int(q, i) ? 0 : q->lens[i];
	if (q->st->rint[i])
		return 0;
	return q->st->rlen[i];
}

/* tly_q_affected - rows changed by the statement */
uint64_t
tly_q_affected(const tly_q *q)
{
	return q->st ? mysql_stmt_affected_rows(q->st->stmt) : 0;
}

/* tly_q_insert_id - AUTO_INCREMENT value of the last insert */
uint64_t
tly_q_insert_id(const tly_q *q)
{
	return q->st ? mysql_stmt_insert_id(q->st->stmt) : 0;
}

/* tly_q_done - release the result set; 'q' may be reused after prep */
void
tly_q_done(tly_q *q)
{
	if (q->res)
		mysql_free_result(q->res);
	q->res = NULL;
	q->row = NULL;
	if (q->st && q->stored && !q->db->broken)
		mysql_stmt_free_result(q->st->stmt);
	q->stored = 0;
}

/* --- one-line forms -------------------------------------------------- */

/* bind_fmt - bind parameters described by 'fmt' up to '>' or the end */
static const char *
bind_fmt(tly_q *q, const char *fmt, va_list *ap)
{
	for (; *fmt && *fmt != '>'; fmt++) {
		switch (*fmt) {
		case 'i':
			tly_q_i64(q, va_arg(*ap, int64_t));
			break;
		case 's':
			tly_q_str(q, va_arg(*ap, const char *));
			break;
		case ' ':
			break;
		default:
			q->rc = tly_err_internal(q->err);
			return fmt;
		}
	}
	return *fmt == '>' ? fmt + 1 : fmt;
}

/*
 * tly_db_exec - run 'sql' with parameters per 'fmt'; the number of rows
 * changed goes to '*affected' when not NULL.
 */
int
tly_db_exec(tly_db *db, tly_err *err, uint64_t *affected, const char *sql,
    const char *fmt, ...)
{
	tly_q q;
	va_list ap;
	int rc;

	if (tly_q_prep(db, &q, sql, err))
		return q.rc;
	va_start(ap, fmt);
	bind_fmt(&q, fmt, &ap);
	va_end(ap);
	rc = tly_q_exec(&q);
	if (rc == TLY_OK && affected)
		*affected = tly_q_affected(&q);
	tly_q_done(&q);
	return rc;
}

/*
 * tly_db_later - tly_db_exec() deferred (tly_q_later): inside a
 * transaction the statement runs with the next round trip.
 */
int
tly_db_later(tly_db *db, tly_err *err, const char *sql, const char *fmt,
    ...)
{
	tly_q q;
	va_list ap;
	int rc;

	if (tly_q_prep(db, &q, sql, err))
		return q.rc;
	va_start(ap, fmt);
	bind_fmt(&q, fmt, &ap);
	va_end(ap);
	rc = tly_q_later(&q);
	tly_q_done(&q);
	return rc;
}

/*
 * tly_db_prune - run 'sql', a DELETE … LIMIT 1000 without parameters,
 * until it deletes fewer than 1000 rows (at most 100 times): a
 * housekeeping delete that never holds many locks
 */
int
tly_db_prune(tly_db *db, const char *sql, tly_err *err)
{
	uint64_t n;
	int rc, i;

	for (i = 0; i < 100; i++) {
		n = 0;
		rc = tly_db_exec(db, err, &n, sql, "");
		if (rc || n < 1000)
			return rc;
	}
	return TLY_OK;
}

/* store_fmt - copy the current row into the outputs described by 'fmt' */
static int
store_fmt(tly_q *q, const char *fmt, va_list *ap)
{
	int col = 0;
	int64_t *ip;
	int *np;
	char *sp;
	size_t sz;
	const char *v;

	for (; *fmt; fmt++) {
		switch (*fmt) {
		case 'i':
			ip = va_arg(*ap, int64_t *);
			*ip = tly_q_col_i64(q, col++);
			break;
		case 'n':
			ip = va_arg(*ap, int64_t *);
			np = va_arg(*ap, int *);
			*np = tly_q_col_null(q, col);
			*ip = tly_q_col_i64(q, col++);
			break;
		case 's':
			sp = va_arg(*ap, char *);
			sz = va_arg(*ap, size_t);
			v = tly_q_col_str(q, col++);
			if (tly_strlcpy(sp, v ? v : "", sz) >= sz)
				return tly_err_internal(q->err);
			break;
		case ' ':
			break;
		default:
			return tly_err_internal(q->err);
		}
	}
	return TLY_OK;
}

/*
 * tly_db_row - run a query expected to return at most one row; "params >
 * results" per 'fmt'.  TLY_OK with the outputs set, TLY_NOTFOUND when
 * there is no row (outputs untouched), or a failure.
 */
int
tly_db_row(tly_db *db, tly_err *err, const char *sql, const char *fmt, ...)
{
	tly_q q;
	va_list ap;
	const char *res;
	int rc;

	if (tly_q_prep(db, &q, sql, err))
		return q.rc;
	va_start(ap, fmt);
	res = bind_fmt(&q, fmt, &ap);
	rc = tly_q_exec(&q);
	if (rc == TLY_OK) {
		rc = tly_q_next(&q);
		if (rc == TLY_ROW)
			rc = store_fmt(&q, res, &ap);
		else if (rc == TLY_OK)
			rc = TLY_NOTFOUND;
	}
	va_end(ap);
	tly_q_done(&q);
	return rc;
}

/*
 * tly_db_ids - the first column of up to 'max' rows of 'sql', whose one
 * parameter is the LIMIT (bound to 'max'): the ids a job works on, each
 * into 'out' + i * 'stride' (NUL-terminated, cut to 'stride').  '*n' is
 * how many.
 */
int
tly_db_ids(tly_db *db, tly_err *err, const char *sql, char *out,
    size_t stride, int max, int *n)
{
	const char *v;
	tly_q q;
	int rc;

	*n = 0;
	if (tly_q_prep(db, &q, sql, err))
		return q.rc;
	tly_q_i64(&q, max);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && *n < max) {
		v = tly_q_col_str(&q, 0);
		tly_strlcpy(out + (size_t)(*n)++ * stride, v ? v : "", stride);
	}
	tly_q_done(&q);
	return rc == TLY_ROW ? TLY_OK : rc;
}

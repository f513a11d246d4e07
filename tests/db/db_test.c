/*
 * db_test.c - the query layer (core/db.c) against a real MariaDB
 *
 * Covers: binding and reading integers, strings, NULLs; text longer than
 * the initial result buffer, across several rows; DECIMAL results such
 * as SUM(bigint) read as integers; duplicate keys as TLY_CONFLICT;
 * tly_db_row's "no row"; the statement cache surviving a reconnect; a
 * statement issued after the server dropped an idle connection; deferred
 * writes (tly_db_later): nothing sent before the next statement or the
 * COMMIT, values that look like SQL stored byte for byte, a failure at
 * COMMIT that leaves nothing of the transaction, dropped by a ROLLBACK,
 * run at once outside a transaction, and more than one batch's worth;
 * tly_q_exec_text: a read in the same round trip as the queued writes,
 * its integers, strings and NULLs, a queued write's failure returned by it;
 * a COMMIT the server refuses on a live connection (the global read lock
 * of FLUSH TABLES WITH READ LOCK held past lock_wait_timeout): nothing of
 * the transaction is committed, then or by the next one, and the
 * connection is left outside any transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dbtest.h"
#include "tly_str.h"

static tly_config cfg;
static tly_log lg;
static tly_ctx ctx;

static int
setup(void **state)
{
	(void)state;
	if (dbtest_exec(&cfg, "CREATE TABLE t (id INT PRIMARY KEY, "
	    "txt TEXT NULL, n BIGINT NULL) ENGINE=InnoDB"))
		return -1;
	return dbtest_ctx(&ctx, &cfg, &lg);
}

static int
teardown(void **state)
{
	(void)state;
	tly_ctx_free(&ctx);
	return dbtest_exec(&cfg, "DROP TABLE t");
}

static void
test_round_trip(void **state)
{
	char txt[64];
	int64_t n = 0, v = 0;
	int isnull = 0;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t VALUES "
	    "(?, ?, ?)", "isi", (int64_t)1, "héllo", INT64_MIN), TLY_OK);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t VALUES "
	    "(?, ?, NULL)", "is", (int64_t)2, (const char *)NULL), TLY_OK);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT txt, n FROM t WHERE "
	    "id = ?", "i>si", (int64_t)1, txt, sizeof(txt), &n), TLY_OK);
	assert_string_equal(txt, "héllo");
	assert_true(n == INT64_MIN);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT n FROM t WHERE id = ?",
	    "i>n", (int64_t)2, &v, &isnull), TLY_OK);
	assert_int_equal(isnull, 1);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT n FROM t WHERE id = ?",
	    "i>i", (int64_t)99, &v), TLY_NOTFOUND);
}

static void
test_long_text_refetched(void **state)
{
	char big[5000], got[5001];
	tly_q q;
	tly_err e;
	int rc, rows = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof(big) - 1] = '\0';
	tly_err_clear(&e);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t VALUES "
	    "(10, ?, 1), (11, 'short', 2), (12, ?, 3)", "ss", big, big),
	    TLY_OK);
	assert_int_equal(tly_q_prep(ctx.db, &q, "SELECT id, txt FROM t WHERE "
	    "id >= 10 ORDER BY id", &e), TLY_OK);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_strlcpy(got, tly_q_col_str(&q, 1), sizeof(got));
		if (tly_q_col_i64(&q, 0) == 11) {
			assert_string_equal(got, "short");
			assert_int_equal(tly_q_col_len(&q, 1), 5);
		} else {
			assert_string_equal(got, big);
			assert_int_equal(tly_q_col_len(&q, 1), sizeof(big) - 1);
		}
		rows++;
	}
	tly_q_done(&q);
	assert_int_equal(rc, TLY_OK);
	assert_int_equal(rows, 3);
}

static void
test_decimal_sum(void **state)
{
	int64_t s = 0;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t VALUES "
	    "(20, NULL, 4611686018427387904), (21, NULL, 4611686018427387903)",
	    ""), TLY_OK);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT SUM(n) FROM t WHERE "
	    "id IN (20, 21)", ">i", &s), TLY_OK);
	assert_true(s == INT64_MAX);
}

static void
test_duplicate_is_conflict(void **state)
{
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t (id) "
	    "VALUES (30)", ""), TLY_OK);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t (id) "
	    "VALUES (30)", ""), TLY_CONFLICT);
	assert_string_equal(e.code, "duplicate");
}

static void
test_affected_rows(void **state)
{
	uint64_t n = 99;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_exec(ctx.db, &e, &n, "UPDATE t SET n = 7 "
	    "WHERE id = ?", "i", (int64_t)404), TLY_OK);
	assert_int_equal(n, 0);
	assert_int_equal(tly_db_exec(ctx.db, &e, &n, "UPDATE t SET n = 7 "
	    "WHERE id IN (1, 2)", ""), TLY_OK);
	assert_int_equal(n, 2);
}

static void
test_statement_after_idle_kill(void **state)
{
	char sql[64];
	int64_t v = 0;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT n FROM t WHERE id = ?",
	    "i>i", (int64_t)1, &v), TLY_OK);
	snprintf(sql, sizeof(sql), "KILL CONNECTION %lu",
	    tly_db_thread_id(ctx.db));
	assert_int_equal(dbtest_exec(&cfg, sql), TLY_OK);
	tly_sleep_ms(100);
	/* the same cached statement, on a connection the server dropped */
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT n FROM t WHERE id = ?",
	    "i>i", (int64_t)1, &v), TLY_OK);
	assert_int_equal(v, 7);
}

/* --- deferred writes ----------------------------------------------------- */

static int64_t
count_ids(int lo, int hi)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM t WHERE id BETWEEN "
	    "%d AND %d", lo, hi);
	return dbtest_i64(&cfg, sql);
}

static void
test_later_waits_for_commit(void **state)
{
	static const char nasty[] = "it's a \\'; DROP TABLE t; -- \"x\" ?\n\t"
	    "h\xc3\xa9llo \xf0\x9f\x92\xb8";
	char txt[128];
	int64_t n = 0;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t VALUES "
	    "(?, ?, ?)", "isi", (int64_t)100, nasty, (int64_t)-5), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t VALUES "
	    "(?, ?, ?)", "isi", (int64_t)101, (const char *)NULL,
	    INT64_MAX), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "UPDATE t SET txt = "
	    "CONCAT('?', ?) WHERE id = ?", "si", "", (int64_t)101), TLY_OK);
	/* nothing sent yet: not even this transaction's own reads see it */
	assert_int_equal(count_ids(100, 101), 0);
	/* the next statement of the transaction runs them first */
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT COUNT(*) FROM t "
	    "WHERE id BETWEEN 100 AND 101", ">i", &n), TLY_OK);
	assert_int_equal(n, 2);
	assert_int_equal(count_ids(100, 101), 0);	/* not committed */
	assert_int_equal(tly_db_later(ctx.db, &e, "UPDATE t SET n = n + 1 "
	    "WHERE id = ?", "i", (int64_t)100), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(100, 101), 2);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT txt, n FROM t WHERE "
	    "id = ?", "i>si", (int64_t)100, txt, sizeof(txt), &n), TLY_OK);
	assert_string_equal(txt, nasty);
	assert_int_equal(n, -4);
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT txt, n FROM t WHERE "
	    "id = ?", "i>si", (int64_t)101, txt, sizeof(txt), &n), TLY_OK);
	assert_string_equal(txt, "?");
	assert_true(n == INT64_MAX);
}

static void
test_later_failure_at_commit(void **state)
{
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t (id) "
	    "VALUES (110)", ""), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)111), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)100), TLY_OK);	/* a duplicate */
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)112), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_CONFLICT);
	assert_false(tly_db_in_tx(ctx.db));
	/* nothing of it stays, and the next transaction does not carry it */
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(110, 112), 0);
}

static void
test_later_rollback_and_autocommit(void **state)
{
	int64_t i;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)120), TLY_OK);
	tly_db_rollback(ctx.db);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(120, 120), 0);
	/* outside a transaction it runs at once, errors included */
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)121), TLY_OK);
	assert_int_equal(count_ids(121, 121), 1);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)121), TLY_CONFLICT);
	/* more than one round trip's worth, in order */
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t "
		    "(id, n) VALUES (?, ?)", "ii", 200 + i, i), TLY_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(tly_db_later(ctx.db, &e, "UPDATE t SET n = "
		    "n * 2 WHERE id = ?", "i", 200 + i), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(200, 299), 100);
	assert_int_equal(dbtest_i64(&cfg, "SELECT SUM(n) FROM t WHERE id "
	    "BETWEEN 200 AND 299"), 2 * 4950);
}

static void
test_exec_text(void **state)
{
	tly_q q;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t VALUES "
	    "(?, ?, ?)", "isi", (int64_t)130, "x'y", (int64_t)7), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t VALUES "
	    "(?, ?, ?)", "isi", (int64_t)131, (const char *)NULL,
	    (int64_t)-3), TLY_OK);
	assert_int_equal(tly_q_prep(ctx.db, &q, "SELECT id, txt, n FROM t "
	    "WHERE id BETWEEN ? AND ? ORDER BY id FOR UPDATE", &e), TLY_OK);
	tly_q_i64(&q, 130);
	tly_q_i64(&q, 131);
	assert_int_equal(tly_q_exec_text(&q), TLY_OK);
	assert_int_equal(tly_q_ncols(&q), 3);
	assert_int_equal(tly_q_next(&q), TLY_ROW);
	assert_int_equal(tly_q_col_i64(&q, 0), 130);
	assert_null(tly_q_col_str(&q, 0));		/* an integer */
	assert_string_equal(tly_q_col_str(&q, 1), "x'y");
	assert_int_equal(tly_q_col_len(&q, 1), 3);
	assert_int_equal(tly_q_col_i64(&q, 2), 7);
	assert_int_equal(tly_q_next(&q), TLY_ROW);
	assert_int_equal(tly_q_col_i64(&q, 0), 131);
	assert_true(tly_q_col_null(&q, 1));
	assert_null(tly_q_col_str(&q, 1));
	assert_int_equal(tly_q_col_i64(&q, 2), -3);
	assert_int_equal(tly_q_next(&q), TLY_OK);
	tly_q_done(&q);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(130, 131), 2);

	/* a queued write that fails is the read's failure; nothing stays */
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)132), TLY_OK);
	assert_int_equal(tly_db_later(ctx.db, &e, "INSERT INTO t (id) VALUES "
	    "(?)", "i", (int64_t)130), TLY_OK);	/* a duplicate */
	assert_int_equal(tly_q_prep(ctx.db, &q, "SELECT n FROM t WHERE id = ?",
	    &e), TLY_OK);
	tly_q_i64(&q, 130);
	assert_int_equal(tly_q_exec_text(&q), TLY_CONFLICT);
	assert_int_equal(tly_q_next(&q), TLY_CONFLICT);
	tly_q_done(&q);
	tly_db_rollback(ctx.db);
	assert_int_equal(count_ids(132, 132), 0);

	/* a transaction that sent nothing commits without the server */
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);

	/* outside a transaction it is a plain execute */
	assert_int_equal(tly_q_prep(ctx.db, &q, "SELECT txt FROM t WHERE "
	    "id = ?", &e), TLY_OK);
	tly_q_i64(&q, 130);
	assert_int_equal(tly_q_exec_text(&q), TLY_OK);
	assert_int_equal(tly_q_next(&q), TLY_ROW);
	assert_string_equal(tly_q_col_str(&q, 0), "x'y");
	tly_q_done(&q);
}

/*
 * test_commit_refused_live - a COMMIT that fails while the connection
 * lives.  The outside connection holds FLUSH TABLES WITH READ LOCK,
 * which blocks the COMMIT of any transaction that wrote; the COMMIT
 * gives up after lock_wait_timeout (1 s) with an error, the connection
 * alive.  If the transaction stayed open on the server, its row lock
 * would stay held and the next START TRANSACTION would commit its row.
 */
static void
test_commit_refused_live(void **state)
{
	int64_t in_tx = -1;
	tly_err e;
	int rc;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(dbtest_exec(&cfg, "SET SESSION lock_wait_timeout = "
	    "10"), TLY_OK);
	assert_int_equal(tly_db_simple(ctx.db, "SET SESSION lock_wait_timeout "
	    "= 1", &e), TLY_OK);
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t (id) "
	    "VALUES (150)", ""), TLY_OK);
	assert_int_equal(dbtest_exec(&cfg, "FLUSH TABLES WITH READ LOCK"),
	    TLY_OK);
	rc = tly_db_commit(ctx.db, &e);
	assert_int_equal(dbtest_exec(&cfg, "UNLOCK TABLES"), TLY_OK);
	print_message("COMMIT under the read lock: rc %d, mysql_errno %d, "
	    "%s\n", rc, tly_db_last_errno(ctx.db), e.msg);
	assert_int_not_equal(rc, TLY_OK);
	assert_false(tly_db_lost(ctx.db));	/* the connection lives */
	assert_false(tly_db_in_tx(ctx.db));

	/* the server ended it: no transaction open, nothing of it kept */
	assert_int_equal(tly_db_row(ctx.db, &e, "SELECT @@in_transaction",
	    ">i", &in_tx), TLY_OK);
	assert_int_equal(in_tx, 0);
	assert_int_equal(count_ids(150, 150), 0);
	/* its row lock is gone: another connection takes the same key */
	assert_int_equal(dbtest_exec(&cfg, "INSERT INTO t (id) VALUES (152)"),
	    TLY_OK);
	assert_int_equal(dbtest_exec(&cfg, "DELETE FROM t WHERE id = 152"),
	    TLY_OK);

	/* the next transaction commits its own row, never the refused one */
	assert_int_equal(tly_db_begin(ctx.db, &e), TLY_OK);
	assert_int_equal(tly_db_exec(ctx.db, &e, NULL, "INSERT INTO t (id) "
	    "VALUES (151)", ""), TLY_OK);
	assert_int_equal(tly_db_commit(ctx.db, &e), TLY_OK);
	assert_int_equal(count_ids(150, 150), 0);
	assert_int_equal(count_ids(151, 151), 1);
	assert_int_equal(tly_db_simple(ctx.db, "SET SESSION lock_wait_timeout "
	    "= DEFAULT", &e), TLY_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_long_text_refetched),
		cmocka_unit_test(test_decimal_sum),
		cmocka_unit_test(test_duplicate_is_conflict),
		cmocka_unit_test(test_affected_rows),
		cmocka_unit_test(test_statement_after_idle_kill),
		cmocka_unit_test(test_later_waits_for_commit),
		cmocka_unit_test(test_later_failure_at_commit),
		cmocka_unit_test(test_later_rollback_and_autocommit),
		cmocka_unit_test(test_exec_text),
		cmocka_unit_test(test_commit_refused_live),
	};
	int rc;

	rc = dbtest_setup(&cfg, "db_test");
	if (rc)
		return rc;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	dbtest_teardown(&cfg);
	return rc;
}

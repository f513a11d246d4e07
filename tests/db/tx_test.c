/*
 * tx_test.c - the transaction helper against a real MariaDB
 * (docs/architecture.md)
 *
 * Covers: a real deadlock between two connections resolved by the retry
 * (both transactions complete, exactly one retry); a lock wait timeout
 * retried; the connection killed (KILL CONNECTION from another session)
 * in the middle of a transaction, just before COMMIT, and after a COMMIT
 * whose reply is lost -- each applied exactly once; the same two kills
 * for a keyed body (tly_tx_run_keyed: no tx_ops row, the rerun finds its
 * own work); an idle connection killed between transactions; retries
 * that run out.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbtest.h"
#include "tx.h"
#include "tly_str.h"

static tly_config cfg;

static int
setup(void **state)
{
	(void)state;
	return dbtest_exec(&cfg, "CREATE TABLE counters (id INT PRIMARY KEY, "
	    "n BIGINT NOT NULL) ENGINE=InnoDB") ||
	    dbtest_exec(&cfg, "INSERT INTO counters VALUES (1,0),(2,0),(3,0),"
	    "(4,0),(5,0),(6,0),(7,0),(8,0),(9,0),(10,0)") ||
	    dbtest_exec(&cfg, "CREATE TABLE keyed (k VARCHAR(32) PRIMARY KEY) "
	    "ENGINE=InnoDB");
}

static int
teardown(void **state)
{
	(void)state;
	return dbtest_exec(&cfg, "DROP TABLE counters") ||
	    dbtest_exec(&cfg, "DROP TABLE keyed");
}

static int64_t
counter(int id)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT n FROM counters WHERE id = %d", id);
	return dbtest_i64(&cfg, sql);
}

static int
bump(tly_ctx *ctx, int id, tly_err *err)
{
	return tly_db_exec(ctx->db, err, NULL, "UPDATE counters SET n = n + 1 "
	    "WHERE id = ?", "i", (int64_t)id);
}

/* --- a real deadlock ---------------------------------------------------- */

typedef struct dl_arg {
	int			 first, second;
	int			 runs;
	int			 rc;
	pthread_barrier_t	*barrier;
} dl_arg;

static int
dl_body(tly_ctx *ctx, void *p, tly_err *err)
{
	dl_arg *a = p;
	int rc;

	rc = bump(ctx, a->first, err);
	if (rc)
		return rc;
	if (a->runs++ == 0)
		pthread_barrier_wait(a->barrier);	/* both hold one lock */
	return bump(ctx, a->second, err);
}

static void *
dl_thread(void *p)
{
	dl_arg *a = p;
	tly_log log;
	tly_ctx ctx;
	tly_err err;

	if (dbtest_ctx(&ctx, &cfg, &log) != TLY_OK) {
		a->rc = -100;
		return NULL;
	}
	tly_err_clear(&err);
	a->rc = tly_tx_run(&ctx, "test.deadlock", dl_body, a, &err);
	tly_ctx_free(&ctx);
	return NULL;
}

static void
test_deadlock_retried(void **state)
{
	pthread_barrier_t b;
	pthread_t t1, t2;
	dl_arg a1 = { 1, 2, 0, 0, NULL }, a2 = { 2, 1, 0, 0, NULL };

	(void)state;
	pthread_barrier_init(&b, NULL, 2);
	a1.barrier = a2.barrier = &b;
	pthread_create(&t1, NULL, dl_thread, &a1);
	pthread_create(&t2, NULL, dl_thread, &a2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&b);
	assert_int_equal(a1.rc, TLY_OK);
	assert_int_equal(a2.rc, TLY_OK);
	/* exactly one of them was chosen as the deadlock victim and rerun */
	assert_int_equal(a1.runs + a2.runs, 3);
	assert_int_equal(counter(1), 2);
	assert_int_equal(counter(2), 2);
}

/* --- lock wait timeout ---------------------------------------------------- */

static void *
hold_lock(void *p)
{
	tly_log log;
	tly_ctx ctx;
	tly_err err;

	(void)p;
	if (dbtest_ctx(&ctx, &cfg, &log) != TLY_OK)
		return NULL;
	tly_err_clear(&err);
	tly_db_begin(ctx.db, &err);
	bump(&ctx, 3, &err);
	tly_sleep_ms(1600);		/* longer than the waiter's timeout */
	tly_db_commit(ctx.db, &err);
	tly_ctx_free(&ctx);
	return NULL;
}

static int
lw_body(tly_ctx *ctx, void *p, tly_err *err)
{
	(*(int *)p)++;
	return bump(ctx, 3, err);
}

static void
test_lock_wait_timeout_retried(void **state)
{
	pthread_t t;
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int runs = 0, rc;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	tly_err_clear(&err);
	assert_int_equal(tly_db_simple(ctx.db, "SET SESSION "
	    "innodb_lock_wait_timeout = 1", &err), TLY_OK);
	pthread_create(&t, NULL, hold_lock, NULL);
	tly_sleep_ms(200);
	rc = tly_tx_run(&ctx, "test.lockwait", lw_body, &runs, &err);
	pthread_join(t, NULL);
	assert_int_equal(rc, TLY_OK);
	assert_true(runs >= 2);		/* at least one 1205, then success */
	assert_int_equal(counter(3), 2);
	tly_ctx_free(&ctx);
}

/* --- killed connections --------------------------------------------------- */

static void
kill_conn(tly_ctx *ctx)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "KILL CONNECTION %lu",
	    tly_db_thread_id(ctx->db));
	assert_int_equal(dbtest_exec(&cfg, sql), TLY_OK);
}

typedef struct kill_arg {
	int	 id;
	int	 runs;
} kill_arg;

/* killed in the middle: the second statement finds the connection gone */
static int
mid_body(tly_ctx *ctx, void *p, tly_err *err)
{
	kill_arg *a = p;
	int rc;

	a->runs++;
	rc = bump(ctx, a->id, err);
	if (rc == TLY_OK && a->runs == 1)
		kill_conn(ctx);
	if (rc == TLY_OK)
		rc = bump(ctx, a->id + 1, err);
	return rc;
}

static void
test_killed_mid_transaction(void **state)
{
	kill_arg a = { 4, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.kill_mid", mid_body, &a,
	    &err), TLY_OK);
	assert_int_equal(a.runs, 2);
	assert_int_equal(counter(4), 1);
	assert_int_equal(counter(5), 1);
	tly_ctx_free(&ctx);
}

static int
one_bump(tly_ctx *ctx, void *p, tly_err *err)
{
	kill_arg *a = p;

	a->runs++;
	return bump(ctx, a->id, err);
}

/* the hook kills the connection right before COMMIT is sent */
static int
kill_before_commit(tly_ctx *ctx, const char *point, void *arg)
{
	int *armed = arg;

	if (strcmp(point, "tx.before_commit") == 0 && *armed) {
		*armed = 0;
		kill_conn(ctx);
	}
	return TLY_FAULT_NONE;
}

static void
test_killed_at_commit(void **state)
{
	kill_arg a = { 6, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int armed = 1;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	ctx.fault = kill_before_commit;
	ctx.fault_arg = &armed;
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.kill_commit", one_bump, &a,
	    &err), TLY_OK);
	assert_int_equal(armed, 0);
	assert_int_equal(a.runs, 2);		/* not committed: run again */
	assert_int_equal(counter(6), 1);
	assert_int_equal(dbtest_i64(&cfg, "SELECT COUNT(*) FROM tx_ops WHERE "
	    "op = 'test.kill_commit'"), 1);
	tly_ctx_free(&ctx);
}

/* the hook kills the connection after a good COMMIT: reply "lost" */
static int
lose_commit_reply(tly_ctx *ctx, const char *point, void *arg)
{
	int *armed = arg;

	if (strcmp(point, "tx.after_commit") == 0 && *armed) {
		*armed = 0;
		kill_conn(ctx);
		return TLY_FAULT_LOSE_REPLY;
	}
	return TLY_FAULT_NONE;
}

static void
test_commit_reply_lost(void **state)
{
	kill_arg a = { 7, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int armed = 1;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	ctx.fault = lose_commit_reply;
	ctx.fault_arg = &armed;
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.lose_reply", one_bump, &a,
	    &err), TLY_OK);
	assert_int_equal(armed, 0);
	assert_int_equal(a.runs, 1);		/* committed: not run again */
	assert_int_equal(counter(7), 1);
	assert_false(tly_db_lost(ctx.db));	/* and connected again */
	tly_ctx_free(&ctx);
}

static void
test_idle_connection_killed(void **state)
{
	kill_arg a = { 8, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.idle", one_bump, &a, &err),
	    TLY_OK);
	kill_conn(&ctx);
	tly_sleep_ms(100);
	assert_int_equal(tly_tx_run(&ctx, "test.idle", one_bump, &a, &err),
	    TLY_OK);
	assert_int_equal(counter(8), 2);
	/* and a plain statement outside a transaction reconnects too */
	kill_conn(&ctx);
	tly_sleep_ms(100);
	assert_int_equal(tly_db_ping(ctx.db, &err), TLY_OK);
	tly_ctx_free(&ctx);
}

static int
always_again(tly_ctx *ctx, void *p, tly_err *err)
{
	(void)ctx;
	(*(int *)p)++;
	tly_err_set(err, TLY_EK_CONFLICT, "retry", "busy");
	return TLY_AGAIN;
}

static void
test_retries_run_out(void **state)
{
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int runs = 0;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.again", always_again, &runs,
	    &err), TLY_AGAIN);
	assert_int_equal(runs, cfg.tx_max_attempts);
	tly_ctx_free(&ctx);
}

static int
fail_body(tly_ctx *ctx, void *p, tly_err *err)
{
	int rc;

	(void)p;
	rc = bump(ctx, 1, err);
	if (rc)
		return rc;
	return tly_err_set(err, TLY_EK_UNPROCESSABLE, "nope", "refused");
}

/* --- keyed bodies --------------------------------------------------------- */

typedef struct keyed_arg {
	const char	*key;
	int		 id;
	int		 runs;
	int		 already;	/* output: found its own work */
} keyed_arg;

/* keyed_body - bump counter 'id' once per key 'key' */
static int
keyed_body(tly_ctx *ctx, void *p, tly_err *err)
{
	keyed_arg *a = p;
	int rc;

	a->runs++;
	a->already = 0;
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO keyed (k) VALUES "
	    "(?)", "s", a->key);
	if (rc == TLY_CONFLICT) {
		a->already = 1;
		tly_err_clear(err);
		return TLY_OK;
	}
	return rc ? rc : bump(ctx, a->id, err);
}

static void
test_keyed_commit_reply_lost(void **state)
{
	keyed_arg a = { "lost-reply", 9, 0, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int armed = 1;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	ctx.fault = lose_commit_reply;
	ctx.fault_arg = &armed;
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run_keyed(&ctx, "test.keyed_lost", keyed_body,
	    &a, &err), TLY_OK);
	assert_int_equal(armed, 0);
	assert_int_equal(a.runs, 2);		/* run again ... */
	assert_int_equal(a.already, 1);		/* ... and found it done */
	assert_int_equal(counter(9), 1);
	assert_int_equal(dbtest_i64(&cfg, "SELECT COUNT(*) FROM tx_ops WHERE "
	    "op = 'test.keyed_lost'"), 0);
	assert_false(tly_db_lost(ctx.db));
	tly_ctx_free(&ctx);
}

static void
test_keyed_killed_at_commit(void **state)
{
	keyed_arg a = { "killed", 10, 0, 0 };
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int armed = 1;

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	ctx.fault = kill_before_commit;
	ctx.fault_arg = &armed;
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run_keyed(&ctx, "test.keyed_kill", keyed_body,
	    &a, &err), TLY_OK);
	assert_int_equal(armed, 0);
	assert_int_equal(a.runs, 2);		/* not committed: done now */
	assert_int_equal(a.already, 0);
	assert_int_equal(counter(10), 1);
	assert_int_equal(dbtest_i64(&cfg, "SELECT COUNT(*) FROM keyed WHERE "
	    "k = 'killed'"), 1);
	tly_ctx_free(&ctx);
}

static void
test_failed_body_rolls_back(void **state)
{
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int64_t before = counter(1);

	(void)state;
	assert_int_equal(dbtest_ctx(&ctx, &cfg, &log), TLY_OK);
	tly_err_clear(&err);
	assert_int_equal(tly_tx_run(&ctx, "test.fail", fail_body, NULL, &err),
	    TLY_ERR);
	assert_string_equal(err.code, "nope");
	assert_int_equal(counter(1), before);
	assert_false(tly_db_in_tx(ctx.db));
	tly_ctx_free(&ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadlock_retried),
		cmocka_unit_test(test_lock_wait_timeout_retried),
		cmocka_unit_test(test_killed_mid_transaction),
		cmocka_unit_test(test_killed_at_commit),
		cmocka_unit_test(test_commit_reply_lost),
		cmocka_unit_test(test_keyed_commit_reply_lost),
		cmocka_unit_test(test_keyed_killed_at_commit),
		cmocka_unit_test(test_idle_connection_killed),
		cmocka_unit_test(test_retries_run_out),
		cmocka_unit_test(test_failed_body_rolls_back),
	};
	int rc;

	rc = dbtest_setup(&cfg, "tx_test");
	if (rc)
		return rc;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	dbtest_teardown(&cfg);
	return rc;
}

/*
 * advance_lock_test.c - one lock order for advances (core/advance.c)
 *
 * A completion offsets its payees' open advances (tly_advance_offset: a
 * locking read through the advances_open index) while a reversal of
 * another payment of the same payees gives offsets back
 * (tly_advance_reverse: the advances offset in that payment, locked one
 * by one).  Both must lock in the same order -- (account_id, id), the
 * index's -- or they deadlock.
 *
 * The ids are chosen so that account order and advance id order differ:
 * adv_lk1 belongs to acc_lkB, adv_lk2 to acc_lkA.  The interleaving is
 * forced, not hoped for: an outside transaction holds a shared lock on
 * acc_lkB's entry of the advances_open index only (a covering read), so
 * the completion locks adv_lk2 and then waits at adv_lk1's index entry;
 * the reversal then starts and takes what it can before it waits.  When
 * the outside transaction ends, a reversal that locked adv_lk1 first
 * (advance id order) deadlocks with the completion, which needs adv_lk1
 * while holding adv_lk2; in (account, id) order it waits behind the
 * completion and nothing deadlocks.  Each side runs in the transaction
 * helper, which reruns a deadlock victim: the test counts the runs.
 * Repeated ROUNDS times.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "advance.h"
#include "dbtest.h"
#include "tx.h"
#include "tly_str.h"

#define ROUNDS		3
#define WAIT_TRIES	500		/* 10 ms each */

static tly_config cfg;

static const char *build_sql[] = {
	"INSERT INTO accounts (id, kind) VALUES ('acc_lkA', 'talent'), "
	    "('acc_lkB', 'talent')",
	/* account order A < B, advance id order lk1 < lk2: crossed */
	"INSERT INTO advances (id, account_id, connect_account_id, currency, "
	    "granted_cent, offset_cent, granted_by, state, lease_until, "
	    "stripe_transfer_id) VALUES ('adv_lk1', 'acc_lkB', 'acct_b', "
	    "'usd', 100000, 100, 'fin', 'transferred', NOW(3), 'tr_lk1'), "
	    "('adv_lk2', 'acc_lkA', 'acct_a', 'usd', 100000, 100, 'fin', "
	    "'transferred', NOW(3), 'tr_lk2')",
	"INSERT INTO payments (id, purpose, pi_id, charge_id, amount_cent, "
	    "currency, stripe_fee_estimate_cent, fee_bearer_account_id, "
	    "status, completed_via) VALUES ('pay_lk1', 'checkout', 'pi_lk1', "
	    "'ch_lk1', 1000, 'usd', 59, 'acc_lkA', 'succeeded', 'client'), "
	    "('pay_lk2', 'checkout', 'pi_lk2', 'ch_lk2', 1000, 'usd', 59, "
	    "'acc_lkA', 'succeeded', 'client')",
	/* pay_lk1 offset 100 of each advance: the reversal's payment */
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES "
	    "('pay_lk1', 'acc_lkA', 'ADVANCE_OFFSET', 'advance_offset', -100, "
	    "'usd', 'pending', 'adv_lk2'),"
	    "('pay_lk1', 'acc_platform', 'ADVANCE_OFFSET', 'advance_offset', "
	    "100, 'usd', 'pending', 'adv_lk2'),"
	    "('pay_lk1', 'acc_lkB', 'ADVANCE_OFFSET', 'advance_offset', -100, "
	    "'usd', 'pending', 'adv_lk1'),"
	    "('pay_lk1', 'acc_platform', 'ADVANCE_OFFSET', 'advance_offset', "
	    "100, 'usd', 'pending', 'adv_lk1')",
	NULL
};

static int
setup(void **state)
{
	int i;

	(void)state;
	for (i = 0; build_sql[i]; i++)
		if (dbtest_exec(&cfg, build_sql[i]) != TLY_OK)
			return 1;
	return 0;
}

/* one side of the race: a context, its body's runs, its result */
typedef struct side {
	tly_ctx		 ctx;
	tly_log		 log;
	int		 runs;
	int		 rc;
	int		 round;
} side;

/* completion_body - the completion's read and writes (complete.c) */
static int
completion_body(tly_ctx *ctx, void *p, tly_err *err)
{
	side *s = p;
	tly_earning earn[2];
	tly_adv_plan plan;
	int rc;

	s->runs++;
	memset(earn, 0, sizeof(earn));
	tly_strlcpy(earn[0].account_id, "acc_lkA", sizeof(earn[0].account_id));
	earn[0].amount_cent = 10;
	tly_strlcpy(earn[1].account_id, "acc_lkB", sizeof(earn[1].account_id));
	earn[1].amount_cent = 10;
	rc = tly_advance_offset(ctx, "usd", earn, 2, &plan, err);
	if (rc == TLY_OK && plan.n != 2)
		return tly_err_internal(err);
	if (rc == TLY_OK)
		rc = tly_advance_offset_post(ctx, "pay_lk2", "usd", &plan, err);
	return rc;
}

/* reversal_body - pay_lk1 refunded in full, again (refund.c) */
static int
reversal_body(tly_ctx *ctx, void *p, tly_err *err)
{
	side *s = p;

	s->runs++;
	return tly_advance_reverse(ctx, "pay_lk1", "usd", 1000,
	    s->round == 0 ? 0 : 1000, 1000, err);
}

static void *
completion_thread(void *p)
{
	side *s = p;
	tly_err err;

	tly_err_clear(&err);
	s->rc = tly_tx_run(&s->ctx, "test.completion", completion_body, s,
	    &err);
	return NULL;
}

static void *
reversal_thread(void *p)
{
	side *s = p;
	tly_err err;

	tly_err_clear(&err);
	s->rc = tly_tx_run(&s->ctx, "test.reversal", reversal_body, s, &err);
	return NULL;
}

/*
 * lock_waits - whether the transaction of connection 'id' waits for a
 * lock, in InnoDB's own words: the block of SHOW ENGINE INNODB STATUS
 * that names "MariaDB thread id <id>," says "LOCK WAIT" (MariaDB 10.11's
 * information_schema.INNODB_TRX does not list these transactions).
 */
static int
lock_waits(tly_db *mon, unsigned long id)
{
	const char *st, *at, *blk, *p;
	char name[48];
	tly_err err;
	tly_q q;
	int w = 0;

	snprintf(name, sizeof(name), "MariaDB thread id %lu,", id);
	tly_err_clear(&err);
	/* in a transaction: the text protocol, as SHOW needs */
	if (tly_db_begin(mon, &err) != TLY_OK)
		return -1;
	if (tly_q_prep(mon, &q, "SHOW ENGINE INNODB STATUS", &err)) {
		tly_db_rollback(mon);
		return -1;
	}
	(void)tly_q_exec_text(&q);
	st = tly_q_next(&q) == TLY_ROW ? tly_q_col_str(&q, 2) : NULL;
	at = st ? strstr(st, name) : NULL;
	if (at) {
		/* the transaction's block starts at the last header before */
		blk = st;
		for (p = strstr(st, "---TRANSACTION"); p && p < at;
		    p = strstr(p + 1, "---TRANSACTION"))
			blk = p;
		p = strstr(blk, "LOCK WAIT");
		w = p && p < at;
	}
	tly_q_done(&q);
	tly_db_rollback(mon);
	return w;
}

/* waiting - how many of 'a' and 'b' wait for a lock now */
static int
waiting(tly_db *mon, const side *a, const side *b)
{
	return lock_waits(mon, tly_db_thread_id(a->ctx.db)) +
	    lock_waits(mon, tly_db_thread_id(b->ctx.db));
}

/* wait_for - until 'n' of the two sides wait for a lock */
static void
wait_for(tly_db *mon, const side *a, const side *b, int n)
{
	int i;

	for (i = 0; i < WAIT_TRIES && waiting(mon, a, b) != n; i++)
		usleep(10000);
	assert_int_equal(waiting(mon, a, b), n);
}

static void
test_completion_and_reversal_one_order(void **state)
{
	side c, r;
	tly_log blog, mlog;
	tly_ctx blocker, mon;
	pthread_t tc, tr;
	char id[40];
	tly_err err;
	int round;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	assert_int_equal(dbtest_ctx(&c.ctx, &cfg, &c.log), TLY_OK);
	assert_int_equal(dbtest_ctx(&r.ctx, &cfg, &r.log), TLY_OK);
	assert_int_equal(dbtest_ctx(&blocker, &cfg, &blog), TLY_OK);
	assert_int_equal(dbtest_ctx(&mon, &cfg, &mlog), TLY_OK);
	for (round = 0; round < ROUNDS; round++) {
		c.runs = r.runs = 0;
		c.rc = r.rc = -1;
		c.round = r.round = round;
		/* a shared lock on acc_lkB's index entry, not on its row */
		tly_err_clear(&err);
		assert_int_equal(tly_db_begin(blocker.db, &err), TLY_OK);
		assert_int_equal(tly_db_row(blocker.db, &err, "SELECT id FROM "
		    "advances FORCE INDEX (advances_open) WHERE account_id = "
		    "'acc_lkB' AND currency = 'usd' AND state = 'transferred' "
		    "LOCK IN SHARE MODE", ">s", id, sizeof(id)), TLY_OK);
		/* the completion holds adv_lk2 and waits at adv_lk1 */
		pthread_create(&tc, NULL, completion_thread, &c);
		wait_for(mon.db, &c, &r, 1);
		/* the reversal takes what its order lets it, then waits */
		pthread_create(&tr, NULL, reversal_thread, &r);
		wait_for(mon.db, &c, &r, 2);
		assert_int_equal(tly_db_commit(blocker.db, &err), TLY_OK);
		pthread_join(tc, NULL);
		pthread_join(tr, NULL);
		assert_int_equal(c.rc, TLY_OK);
		assert_int_equal(r.rc, TLY_OK);
		/* a deadlock victim would have run twice */
		assert_int_equal(c.runs + r.runs, 2);
	}
	/* every completion offset 10 of each advance; the reversal gave
	 * pay_lk1's 100 back once */
	assert_int_equal(dbtest_i64(&cfg, "SELECT offset_cent FROM advances "
	    "WHERE id = 'adv_lk1'"), 100 + 10 * ROUNDS - 100);
	assert_int_equal(dbtest_i64(&cfg, "SELECT offset_cent FROM advances "
	    "WHERE id = 'adv_lk2'"), 100 + 10 * ROUNDS - 100);
	tly_ctx_free(&blocker);
	tly_ctx_free(&mon);
	tly_ctx_free(&c.ctx);
	tly_ctx_free(&r.ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_completion_and_reversal_one_order),
	};
	int rc;

	rc = dbtest_setup(&cfg, "advance_lock_test");
	if (rc)
		return rc;
	rc = cmocka_run_group_tests(tests, setup, NULL);
	dbtest_teardown(&cfg);
	return rc;
}

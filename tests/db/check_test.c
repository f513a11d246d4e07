/*
 * check_test.c - the ledger checker (core/check.c) against a real MariaDB
 *
 * Each test builds the same clean ledger with SQL (two accounts of each
 * payee kind used, a product with stock, a completed checkout with its
 * payment, split rows, a fee adjustment, two booked refunds with their
 * rows, the agent's rows paid out by a payout, an advance offset from
 * the payment and partly given back by its refunds, a failed advance,
 * a released expired
 * checkout, a sent and a queued email), makes
 * sure every check passes, then corrupts it in one way chosen to break
 * exactly one invariant and asserts that exactly that check reports it,
 * with the expected number of violations and the ids and amounts in the
 * report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "dbtest.h"
#include "tly_str.h"

static tly_config cfg;
static tly_log lg;
static tly_ctx ctx;

#define MAXCHECKS	64

/* what a run of every check found */
typedef struct found {
	int64_t	 n[MAXCHECKS];
	char	 text[MAXCHECKS][2048];
} found;

static const char *clean_sql[] = {
	"DELETE FROM outbox",
	"DELETE FROM transfer_reversals",
	"DELETE FROM shares",
	"DELETE FROM payouts",
	"DELETE FROM advances",
	"DELETE FROM disputes",
	"DELETE FROM refunds",
	"DELETE FROM payments",
	"DELETE FROM checkouts",
	"DELETE FROM products",
	"DELETE FROM accounts WHERE id NOT IN ('acc_platform', "
	    "'acc_stripe_fee')",
	"SET SESSION check_constraint_checks = 1",
	NULL
};

static const char *build_sql[] = {
	"INSERT INTO accounts (id, kind) VALUES ('acc_t1', 'talent'), "
	    "('acc_a1', 'agent'), ('acc_b1', 'buyer')",
	"INSERT INTO products (id, name, seller_account_id, price_cent, "
	    "currency, fee_fixed_cent, stock) VALUES ('prd_1', 'Poster', "
	    "'acc_t1', 1000, 'usd', 500, 5)",
	"INSERT INTO checkouts (id, buyer_account_id, product_id, quantity, "
	    "currency, price_cent, subtotal_cent, platform_fee_cent, "
	    "amount_cent, seller_account_id, agent_account_id, agent_bps, "
	    "host_bps, ambassador_bps, stripe_fee_bps, stripe_fee_fixed_cent, "
	    "platform_bears_fee, status, stock_held, pi_id, pi_state, "
	    "expires_at) VALUES ('chk_1', 'acc_b1', 'prd_1', 1, 'usd', 1000, "
	    "1000, 500, 1500, 'acc_t1', 'acc_a1', 1000, 0, 0, 290, 30, 0, "
	    "'completed', 1, 'pi_1', 'created', NOW()), ('chk_2', 'acc_b1', "
	    "'prd_1', 2, 'usd', 1000, 2000, 500, 2500, 'acc_t1', NULL, 0, 0, "
	    "0, 290, 30, 0, 'expired', 0, 'pi_2', 'canceled', NOW())",
	"INSERT INTO payments (id, purpose, checkout_id, pi_id, charge_id, "
	    "amount_cent, currency, stripe_fee_estimate_cent, "
	    "stripe_fee_actual_cent, fee_bearer_account_id, status, "
	    "completed_via, requested_refund_cent, refunded_cent) VALUES "
	    "('pay_1', 'checkout', 'chk_1', 'pi_1', 'ch_1', 1500, 'usd', 73, "
	    "75, 'acc_t1', 'partially_refunded', 'client', 300, 300)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES "
	    "('pay_1', 'acc_t1', 'TALENT', 'split', 827, 'usd', 'pending', "
	    "NULL),"
	    "('pay_1', 'acc_a1', 'AGENT', 'split', 100, 'usd', 'pending', "
	    "NULL),"
	    "('pay_1', 'acc_platform', 'PLATFORM', 'split', 500, 'usd', "
	    "'pending', NULL),"
	    "('pay_1', 'acc_stripe_fee', 'STRIPE_FEE', 'split', 73, 'usd', "
	    "'pending', NULL),"
	    "('pay_1', 'acc_stripe_fee', 'STRIPE_FEE', 'fee_adjustment', 2, "
	    "'usd', 'pending', 'txn_1'),"
	    "('pay_1', 'acc_t1', 'TALENT', 'fee_adjustment', -2, 'usd', "
	    "'pending', 'txn_1'),"
	    "('pay_1', 'acc_t1', 'TALENT', 'refund', -110, 'usd', 'pending', "
	    "'rfd_1'),"
	    "('pay_1', 'acc_a1', 'AGENT', 'refund', -13, 'usd', 'pending', "
	    "'rfd_1'),"
	    "('pay_1', 'acc_platform', 'PLATFORM', 'refund', -67, 'usd', "
	    "'pending', 'rfd_1'),"
	    "('pay_1', 'acc_t1', 'STRIPE_FEE_KEPT', 'refund', -10, 'usd', "
	    "'pending', 'rfd_1'),"
	    "('pay_1', 'acc_t1', 'TALENT', 'refund', -55, 'usd', 'pending', "
	    "'rfd_2'),"
	    "('pay_1', 'acc_a1', 'AGENT', 'refund', -7, 'usd', 'pending', "
	    "'rfd_2'),"
	    "('pay_1', 'acc_platform', 'PLATFORM', 'refund', -33, 'usd', "
	    "'pending', 'rfd_2'),"
	    "('pay_1', 'acc_t1', 'STRIPE_FEE_KEPT', 'refund', -5, 'usd', "
	    "'pending', 'rfd_2')",
	"INSERT INTO refunds (id, payment_id, amount_cent, currency, origin, "
	    "reason, state, booked) VALUES ('rfd_1', 'pay_1', 200, 'usd', "
	    "'tally', 'test', 'succeeded', 1), ('rfd_2', 'pay_1', 100, 'usd', "
	    "'tally', 'test', 'succeeded', 1)",
	"INSERT INTO payouts (id, account_id, connect_account_id, currency, "
	    "amount_cent, state, lease_until, stripe_transfer_id) VALUES "
	    "('po_1', 'acc_a1', 'acct_1', 'usd', 80, 'paid', NOW(3), 'tr_1')",
	"UPDATE shares SET status = 'paid', payout_id = 'po_1' WHERE "
	    "account_id = 'acc_a1'",
	/* an advance of 500 to the talent: 80 offset from pay_1, 16 given
	 * back by its refunds (C = 300 of 1500: 80 - floor(80 × 300 / 1500)
	 * = 64 kept) */
	"INSERT INTO advances (id, account_id, connect_account_id, currency, "
	    "granted_cent, offset_cent, granted_by, state, lease_until, "
	    "stripe_transfer_id) VALUES ('adv_1', 'acc_t1', 'acct_t', 'usd', "
	    "500, 64, 'fin', 'transferred', NOW(3), 'tr_adv_1'), ('adv_2', "
	    "'acc_t1', 'acct_t', 'usd', 300, 0, 'fin', 'failed', NOW(3), "
	    "NULL)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id) VALUES "
	    "('pay_1', 'acc_t1', 'ADVANCE_OFFSET', 'advance_offset', -80, "
	    "'usd', 'pending', 'adv_1'),"
	    "('pay_1', 'acc_platform', 'ADVANCE_OFFSET', 'advance_offset', 80, "
	    "'usd', 'pending', 'adv_1'),"
	    "('pay_1', 'acc_t1', 'ADVANCE_OFFSET', 'advance_return', 16, "
	    "'usd', 'pending', 'adv_1'),"
	    "('pay_1', 'acc_platform', 'ADVANCE_OFFSET', 'advance_return', "
	    "-16, 'usd', 'pending', 'adv_1')",
	/* two reversals Tally made of po_1's transfer: rev_1 (30) stands,
	 * rev_2 (20) failed: its pair and the inverse pair; and a
	 * Dashboard reversal of 100 of adv_1's transfer */
	"INSERT INTO transfer_reversals (id, stripe_reversal_id, transfer_id, "
	    "payout_id, advance_id, amount_cent, currency, origin, state, "
	    "lease_until) VALUES ('rev_1', 'trr_1', 'tr_1', 'po_1', NULL, 30, "
	    "'usd', 'tally', 'reversed', NOW(3)), ('rev_2', NULL, 'tr_1', "
	    "'po_1', NULL, 20, 'usd', 'tally', 'failed', NOW(3)), ('trr_d1', "
	    "'trr_d1', 'tr_adv_1', NULL, 'adv_1', 100, 'usd', 'stripe', "
	    "'reversed', NULL)",
	"INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, "
	    "currency, status, cause_id, payout_id) VALUES "
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', -30, 'usd', "
	    "'paid', 'rev_1', 'po_1'),"
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', 30, 'usd', "
	    "'pending', 'rev_1', NULL),"
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', -20, 'usd', "
	    "'paid', 'rev_2', 'po_1'),"
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', 20, 'usd', "
	    "'pending', 'rev_2', NULL),"
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', 20, 'usd', "
	    "'paid', 'rev_2', 'po_1'),"
	    "('pay_1', 'acc_a1', 'AGENT', 'transfer_reversal', -20, 'usd', "
	    "'pending', 'rev_2', NULL)",
	"UPDATE payouts SET reversed_cent = 30 WHERE id = 'po_1'",
	"UPDATE advances SET reversed_cent = 100 WHERE id = 'adv_1'",
	"INSERT INTO outbox (id, dedupe_key, kind, to_addr, subject, body, "
	    "state, sent_at) VALUES ('msg_1', 'receipt:pay_1', 'receipt', "
	    "'b@example.com', 's', 'b', 'sent', NOW(3)), ('msg_2', "
	    "'receipt:pay_x', 'receipt', 'b@example.com', 's', 'b', 'queued', "
	    "NULL)",
	NULL
};

static int
run_all(const char **sql)
{
	int i;

	for (i = 0; sql[i]; i++)
		if (dbtest_exec(&cfg, sql[i]) != TLY_OK) {
			fprintf(stderr, "failed: %s\n", sql[i]);
			return -1;
		}
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	if (run_all(clean_sql) || run_all(build_sql))
		return -1;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	return dbtest_ctx(&ctx, &cfg, &lg);
}

static int
group_teardown(void **state)
{
	(void)state;
	tly_ctx_free(&ctx);
	return 0;
}

static void
collect(void *arg, const tly_check *c, const char *line)
{
	found *f = arg;
	int i = (int)(c - tly_checks);
	size_t len = strlen(f->text[i]);

	snprintf(f->text[i] + len, sizeof(f->text[i]) - len, "%s\n", line);
}

/* check_all - run every check into 'f' */
static void
check_all(found *f)
{
	const tly_check *c;
	int64_t n;
	tly_err e;
	int i;

	memset(f, 0, sizeof(*f));
	for (c = tly_checks, i = 0; c->name; c++, i++) {
		assert_true(i < MAXCHECKS);
		tly_err_clear(&e);
		if (tly_check_run(&ctx, c, collect, f, &n, &e) != TLY_OK)
			fail_msg("check %s failed to run: %s", c->name, e.msg);
		f->n[i] = n;
	}
}

/*
 * only - after the statements 'sql' (the corruption), check 'name'
 * alone reports, 'n' lines, each of 'want' (NULL-terminated) in them
 */
static void
only(const char **sql, const char *name, int64_t n, const char **want)
{
	const tly_check *c;
	found f;
	int i;

	check_all(&f);
	for (c = tly_checks, i = 0; c->name; c++, i++)
		if (f.n[i] != 0)
			fail_msg("clean ledger: %s reports:\n%s", c->name,
			    f.text[i]);
	for (; sql && *sql; sql++)
		if (dbtest_exec(&cfg, *sql) != TLY_OK)
			fail_msg("corruption failed: %s", *sql);
	check_all(&f);
	for (c = tly_checks, i = 0; c->name; c++, i++) {
		if (strcmp(c->name, name) != 0) {
			if (f.n[i] != 0)
				fail_msg("%s also reports:\n%s", c->name,
				    f.text[i]);
			continue;
		}
		if (f.n[i] != n)
			fail_msg("%s: got %lld violations, want %lld:\n%s",
			    name, (long long)f.n[i], (long long)n, f.text[i]);
		for (; want && *want; want++)
			if (strstr(f.text[i], *want) == NULL)
				fail_msg("%s: no \"%s\" in:\n%s", name, *want,
				    f.text[i]);
	}
	assert_non_null(tly_check_find(name));
}

/* only1 - only() after the one statement 'sql' */
static void
only1(const char *sql, const char *name, int64_t n, const char **want)
{
	const char *one[] = { sql, NULL };

	only(one, name, n, want);
}

static void
test_payment_balance(void **state)
{
	const char *want[] = { "payment=pay_1 expected=1200 actual=1205",
	    NULL };

	(void)state;
	only1("INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status) VALUES ('pay_1', 'acc_platform', "
	    "'PLATFORM', 'advance_offset', 5, 'usd', 'pending')",
	    "payment_balance", 1, want);
}

static void
test_split_sum(void **state)
{
	const char *want[] = { "payment=pay_1 expected=1500 actual=1490",
	    NULL };
	const char *sql[] = {
	    "INSERT INTO shares (payment_id, "
	    "account_id, role, kind, amount_cent, currency, status) VALUES "
	    "('pay_1', 'acc_t1', 'TALENT', 'advance_offset', 10, 'usd', "
	    "'pending')",
	    "UPDATE shares SET amount_cent = 817 WHERE kind = 'split' AND "
	    "role = 'TALENT'",
	    NULL };

	(void)state;
	only(sql, "split_sum", 1, want);
}

static void
test_fee_adjustment_zero(void **state)
{
	const char *want[] = { "payment=pay_1 expected=0 actual=3", NULL };
	const char *sql[] = {
	    "INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status) VALUES ('pay_1', 'acc_t1', "
	    "'TALENT', 'advance_offset', -3, 'usd', 'pending')",
	    "UPDATE shares SET amount_cent = 5 WHERE kind = 'fee_adjustment' "
	    "AND role = 'STRIPE_FEE'",
	    NULL };

	(void)state;
	only(sql, "fee_adjustment_zero", 1, want);
}

static void
test_refund_rows(void **state)
{
	const char *want[] = {
	    "refund=rfd_1 payment=pay_1 expected=-200 actual=-190",
	    "refund=rfd_2 payment=pay_1 expected=-100 actual=-110", NULL };
	const char *sql[] = {
	    "UPDATE shares SET amount_cent = "
	    "-100 WHERE cause_id = 'rfd_1' AND role = 'TALENT'",
	    "UPDATE shares SET amount_cent = -65 WHERE cause_id = 'rfd_2' "
	    "AND role = 'TALENT'",
	    NULL };

	(void)state;
	/* 10 moved from one refund's rows to the other's: totals hold */
	only(sql, "refund_rows", 2, want);
}

static void
test_refund_row_cause(void **state)
{
	const char *want[] = { "payment=pay_1 cause=rfd_bogus", NULL };
	const char *sql[] = {
	    "INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status, cause_id) VALUES ('pay_1', "
	    "'acc_t1', 'TALENT', 'refund', 7, 'usd', 'pending', 'rfd_bogus'), "
	    "('pay_1', 'acc_a1', 'AGENT', 'refund', -7, 'usd', 'pending', "
	    "'rfd_bogus')",
	    NULL };

	(void)state;
	only(sql, "refund_row_cause", 2, want);
}

static void
test_refunded_total(void **state)
{
	const char *want[] = { "payment=pay_1 refunded_cent=310 "
	    "booked_refunds=300 minus_refund_rows=300", NULL };
	const char *sql[] = {
	    "INSERT INTO shares (payment_id, "
	    "account_id, role, kind, amount_cent, currency, status) VALUES "
	    "('pay_1', 'acc_t1', 'TALENT', 'advance_offset', -10, 'usd', "
	    "'pending')",
	    "UPDATE payments SET requested_refund_cent = 310, refunded_cent "
	    "= 310 WHERE id = 'pay_1'",
	    NULL };

	(void)state;
	only(sql, "refunded_total", 1, want);
}

static void
test_refund_booked_state(void **state)
{
	const char *want[] = { "refund=rfd_2 expected=succeeded "
	    "actual=pending", NULL };

	(void)state;
	only1("UPDATE refunds SET state = 'pending' WHERE id = 'rfd_2'",
	    "refund_booked_state", 1, want);
}

static void
test_refund_unbooked(void **state)
{
	const char *want[] = { "refund=rfd_3 payment=pay_1 state=succeeded "
	    "booked=0", NULL };
	const char *sql[] = {
		/* succeeded at Stripe 11 minutes ago, never booked: reported;
		 * rfd_4 succeeded a minute ago (its booking may still come),
		 * rfd_5 is still pending: neither is */
		"INSERT INTO refunds (id, payment_id, amount_cent, currency, "
		    "origin, reason, state, booked, updated_at) VALUES "
		    "('rfd_3', 'pay_1', 50, 'usd', 'tally', 'test', "
		    "'succeeded', 0, NOW(3) - INTERVAL 11 MINUTE), ('rfd_4', "
		    "'pay_1', 50, 'usd', 'tally', 'test', 'succeeded', 0, "
		    "NOW(3) - INTERVAL 1 MINUTE), ('rfd_5', 'pay_1', 50, "
		    "'usd', 'tally', 'test', 'pending', 0, NOW(3) - INTERVAL "
		    "1 DAY)",
		NULL
	};

	(void)state;
	only(sql, "refund_unbooked", 1, want);
}

static void
test_checkout_payment(void **state)
{
	const char *want[] = { "checkout=chk_2 expected=1 actual=0", NULL };

	(void)state;
	only1("UPDATE checkouts SET status = 'completed' WHERE id = 'chk_2'",
	    "checkout_payment", 1, want);
}

static void
test_payment_checkout(void **state)
{
	const char *want[] = { "payment=pay_1 checkout=chk_1 status=completed "
	    "checkout_pi=pi_9 payment_pi=pi_1", NULL };

	(void)state;
	only1("UPDATE checkouts SET pi_id = 'pi_9' WHERE id = 'chk_1'",
	    "payment_checkout", 1, want);
}

static void
test_stock_nonnegative(void **state)
{
	const char *want[] = { "product=prd_1 expected=>= 0 actual=-1", NULL };

	/* the table's CHECK refuses it: what a bug with it off would do */
	const char *sql[] = {
	    "SET SESSION check_constraint_checks = 0",
	    "UPDATE products SET stock = -1 WHERE id = 'prd_1'",
	    NULL };

	(void)state;
	only(sql, "stock_nonnegative", 1, want);
}

static void
test_reservation_released(void **state)
{
	const char *want[] = { "checkout=chk_2 status=expired "
	    "pi_state=canceled stock_held=1", NULL };

	(void)state;
	only1("UPDATE checkouts SET stock_held = 1 WHERE id = 'chk_2'",
	    "reservation_released", 1, want);
}

static void
test_share_account_kind(void **state)
{
	const char *want[] = { "payment=pay_1 role=PLATFORM account=acc_a1 "
	    "expected=platform actual=agent", NULL };
	const char *sql[] = {
	    "UPDATE shares SET account_id = 'acc_a1' WHERE role = "
	    "'PLATFORM' AND kind = 'split'",
	    NULL };

	(void)state;
	only(sql, "share_account_kind", 1, want);
}

static void
test_share_fee_bearer(void **state)
{
	const char *want[] = { "payment=pay_1 role=STRIPE_FEE_KEPT "
	    "expected=acc_t1 actual=acc_platform", NULL };
	const char *sql[] = {
	    "UPDATE shares SET account_id = 'acc_platform' WHERE role = "
	    "'STRIPE_FEE_KEPT' AND cause_id = 'rfd_2'",
	    NULL };

	(void)state;
	only(sql, "share_fee_bearer", 1, want);
}

static void
test_outbox_sent_at(void **state)
{
	const char *want[] = { "message=msg_1 state=sent sent_at=NULL",
	    "message=msg_2 state=queued sent_at=2", NULL };

	const char *sql[] = {
	    "UPDATE outbox SET sent_at = NOW(3) WHERE id = 'msg_2'",
	    "UPDATE outbox SET sent_at = NULL WHERE id = 'msg_1'",
	    NULL };

	(void)state;
	only(sql, "outbox_sent_at", 2, want);
}

static void
test_refund_failed_rows(void **state)
{
	const char *want[] = {
	    "refund=rfd_1 payment=pay_1 expected=200 actual=190",
	    "refund=rfd_2 payment=pay_1 expected=100 actual=110", NULL };
	/* both refunds failed after booking; 10 of the inverse rows moved */
	const char *sql[] = {
	    "UPDATE refunds SET reversed = 1, state = 'failed'",
	    "INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status, cause_id) VALUES ('pay_1', "
	    "'acc_t1', 'TALENT', 'refund_failed', 190, 'usd', 'pending', "
	    "'rfd_1'), ('pay_1', 'acc_t1', 'TALENT', 'refund_failed', 110, "
	    "'usd', 'pending', 'rfd_2')",
	    "UPDATE payments SET refunded_cent = 0 WHERE id = 'pay_1'",
	    NULL };

	(void)state;
	only(sql, "refund_failed_rows", 2, want);
}

static void
test_dispute_total(void **state)
{
	const char *want[] = { "payment=pay_1 disputed_cent=0 withdrawn=50 "
	    "minus_dispute_rows=0", NULL };

	(void)state;
	only1("INSERT INTO disputes (id, payment_id, charge_id, amount_cent, "
	    "currency, status, withdrawn_cent) VALUES ('dp_1', 'pay_1', "
	    "'ch_1', 100, 'usd', 'needs_response', 50)", "dispute_total", 1,
	    want);
}

static void
test_payout_amount(void **state)
{
	const char *want[] = { "payout=po_1 state=paid expected=90 actual=80",
	    NULL };

	(void)state;
	only1("UPDATE payouts SET amount_cent = 90", "payout_amount", 1, want);
}

static void
test_payout_row_state(void **state)
{
	const char *want[] = { "status=pending payout=po_1 payout_state=paid",
	    NULL };

	(void)state;
	only1("UPDATE shares SET status = 'pending' WHERE kind = 'split' AND "
	    "role = 'AGENT'", "payout_row_state", 1, want);
}

static void
test_payout_row_owner(void **state)
{
	const char *want[] = { "payout=po_1 account=acc_a1 "
	    "expected_account=acc_t1 currency=usd expected_currency=usd",
	    NULL };

	(void)state;
	only1("UPDATE payouts SET account_id = 'acc_t1'", "payout_row_owner",
	    6, want);
}

static void
test_payout_payee(void **state)
{
	const char *want[] = { "payout=po_1 account=acc_a1 kind=agent "
	    "state=paid transfer=NULL", NULL };

	(void)state;
	only1("UPDATE payouts SET stripe_transfer_id = NULL", "payout_payee",
	    1, want);
}

static void
test_payout_reversed(void **state)
{
	const char *want[] = { "payout=po_1 reversed_cent=5 minus_rows=30",
	    "payout=rev_1 reversed_cent=0 minus_rows=10", "payout=rev_2 "
	    "reversed_cent=0 minus_rows=-10", NULL };
	/* 10 moved between the payable sides of two reversals */
	const char *sql[] = { "UPDATE payouts SET reversed_cent = 5",
	    "UPDATE shares SET amount_cent = 20 WHERE cause_id = 'rev_1' AND "
	    "amount_cent = 30", "UPDATE shares SET amount_cent = 30 WHERE "
	    "cause_id = 'rev_2' AND amount_cent = 20 AND status = 'pending'",
	    NULL };

	(void)state;
	only(sql, "payout_reversed", 3, want);
}

static void
test_transfer_reversal_rows(void **state)
{
	const char *want[] = { "reversal=rev_2 origin=tally state=reversed "
	    "expected=-20 on_payout=0 rows=4", "reversal=trr_d1 "
	    "origin=stripe state=reversed expected=0 on_payout=0 rows=1",
	    NULL };
	const char *sql[] = { "UPDATE transfer_reversals SET state = "
	    "'reversed', stripe_reversal_id = 'trr_2' WHERE id = 'rev_2'",
	    "INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status, cause_id) VALUES ('pay_1', "
	    "'acc_t1', 'TALENT', 'transfer_reversal', 0, 'usd', 'pending', "
	    "'trr_d1')", NULL };

	(void)state;
	only(sql, "transfer_reversal_rows", 2, want);
}

static void
test_transfer_reversal_stripe_id(void **state)
{
	const char *want[] = { "reversal=rev_1 origin=tally state=reversed "
	    "expected=-30 on_payout=-30 rows=2 stripe_id=NULL", NULL };

	(void)state;
	only1("UPDATE transfer_reversals SET stripe_reversal_id = NULL WHERE "
	    "id = 'rev_1'", "transfer_reversal_rows", 1, want);
}

static void
test_advance_balance(void **state)
{
	const char *want[] = { "advance=adv_1 state=transferred granted=500 "
	    "offset=70 payee_rows=64 platform_rows=64", "advance=adv_2 "
	    "state=failed granted=300 offset=5 payee_rows=0 platform_rows=0",
	    NULL };
	const char *sql[] = { "UPDATE advances SET offset_cent = 70 WHERE id "
	    "= 'adv_1'", "UPDATE advances SET offset_cent = 5 WHERE id = "
	    "'adv_2'", NULL };

	(void)state;
	only(sql, "advance_balance", 2, want);
}

static void
test_advance_reversed(void **state)
{
	const char *want[] = { "advance=adv_1 state=transferred granted=500 "
	    "offset=64 payee_rows=64 platform_rows=64 reversed=150 "
	    "reversals=100", NULL };

	(void)state;
	only1("UPDATE advances SET reversed_cent = 150 WHERE id = 'adv_1'",
	    "advance_balance", 1, want);
}

static void
test_advance_row_owner(void **state)
{
	const char *want[] = { "advance=adv_1 kind=advance_offset "
	    "account=acc_a1 expected_account=acc_t1", "advance=adv_1 "
	    "kind=advance_return account=acc_a1 expected_account=acc_t1",
	    NULL };

	/* both payee rows move, so the payment's offset stays whole */
	(void)state;
	only1("UPDATE shares SET account_id = 'acc_a1' WHERE role = "
	    "'ADVANCE_OFFSET' AND account_id = 'acc_t1'", "advance_row_owner",
	    2, want);
}

/* a completion offset row turned into a return: N = 64 > O = 0 */
static void
test_advance_payment_kept(void **state)
{
	const char *want[] = { "payment=pay_1 advance=adv_1 account=acc_t1 "
	    "offset=64 base=0 total_base=0 earning=825", NULL };

	(void)state;
	only1("UPDATE shares SET kind = 'advance_return' WHERE kind = "
	    "'advance_offset'", "advance_payment", 1, want);
}

/* O raised by 800 past the earning (825) without moving N or the advance */
static void
test_advance_payment_earning(void **state)
{
	const char *want[] = { "payment=pay_1 advance=adv_1 account=acc_t1 "
	    "offset=64 base=880 total_base=880 earning=825", NULL };

	(void)state;
	only1("INSERT INTO shares (payment_id, account_id, role, kind, "
	    "amount_cent, currency, status, cause_id) VALUES ('pay_1', "
	    "'acc_t1', 'ADVANCE_OFFSET', 'advance_fee', -800, 'usd', "
	    "'pending', 'adv_1'), ('pay_1', 'acc_platform', 'ADVANCE_OFFSET', "
	    "'advance_fee', 800, 'usd', 'pending', 'adv_1'), ('pay_1', "
	    "'acc_t1', 'ADVANCE_OFFSET', 'advance_return', 800, 'usd', "
	    "'pending', 'adv_1'), ('pay_1', 'acc_platform', 'ADVANCE_OFFSET', "
	    "'advance_return', -800, 'usd', 'pending', 'adv_1')",
	    "advance_payment", 1, want);
}

/* every check of the table has a corruption test above */
static void
test_every_check_covered(void **state)
{
	static const char *tested[] = { "payment_balance", "split_sum",
	    "fee_adjustment_zero", "refund_rows", "refund_row_cause",
	    "refunded_total", "refund_booked_state", "refund_unbooked",
	    "checkout_payment",
	    "payment_checkout", "stock_nonnegative", "reservation_released",
	    "share_account_kind", "share_fee_bearer", "outbox_sent_at",
	    "refund_failed_rows", "dispute_total", "payout_amount",
	    "payout_row_state", "payout_row_owner", "payout_payee",
	    "payout_reversed", "transfer_reversal_rows", "advance_balance",
	    "advance_row_owner", "advance_payment", NULL };
	const tly_check *c;
	int i;

	(void)state;
	for (c = tly_checks; c->name; c++) {
		for (i = 0; tested[i]; i++)
			if (strcmp(tested[i], c->name) == 0)
				break;
		if (tested[i] == NULL)
			fail_msg("check %s has no test", c->name);
	}
	only(NULL, "payment_balance", 0, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_payment_balance, setup),
		cmocka_unit_test_setup(test_split_sum, setup),
		cmocka_unit_test_setup(test_fee_adjustment_zero, setup),
		cmocka_unit_test_setup(test_refund_rows, setup),
		cmocka_unit_test_setup(test_refund_row_cause, setup),
		cmocka_unit_test_setup(test_refunded_total, setup),
		cmocka_unit_test_setup(test_refund_booked_state, setup),
		cmocka_unit_test_setup(test_refund_unbooked, setup),
		cmocka_unit_test_setup(test_checkout_payment, setup),
		cmocka_unit_test_setup(test_payment_checkout, setup),
		cmocka_unit_test_setup(test_stock_nonnegative, setup),
		cmocka_unit_test_setup(test_reservation_released, setup),
		cmocka_unit_test_setup(test_share_account_kind, setup),
		cmocka_unit_test_setup(test_share_fee_bearer, setup),
		cmocka_unit_test_setup(test_outbox_sent_at, setup),
		cmocka_unit_test_setup(test_refund_failed_rows, setup),
		cmocka_unit_test_setup(test_dispute_total, setup),
		cmocka_unit_test_setup(test_payout_amount, setup),
		cmocka_unit_test_setup(test_payout_row_state, setup),
		cmocka_unit_test_setup(test_payout_row_owner, setup),
		cmocka_unit_test_setup(test_payout_payee, setup),
		cmocka_unit_test_setup(test_payout_reversed, setup),
		cmocka_unit_test_setup(test_transfer_reversal_rows, setup),
		cmocka_unit_test_setup(test_transfer_reversal_stripe_id,
		    setup),
		cmocka_unit_test_setup(test_advance_reversed, setup),
		cmocka_unit_test_setup(test_advance_balance, setup),
		cmocka_unit_test_setup(test_advance_row_owner, setup),
		cmocka_unit_test_setup(test_advance_payment_kept, setup),
		cmocka_unit_test_setup(test_advance_payment_earning, setup),
		cmocka_unit_test_setup(test_every_check_covered, setup),
	};
	int rc;

	rc = dbtest_setup(&cfg, "check_test");
	if (rc)
		return rc;
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	dbtest_teardown(&cfg);
	return rc;
}

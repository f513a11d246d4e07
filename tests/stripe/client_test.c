/*
 * client_test.c - the C Stripe client against the Stripe emulator
 *
 * Covers every call Tally makes (PaymentIntents, charges, refunds,
 * transfers and reversals, accounts and links, balance transactions,
 * balance, events, disputes); the retry policy (429 and 409 retried with
 * the same key, 400 and 402 not); unknown outcomes (a stored 500, a 500
 * after the work was done, a timeout after the work, a timeout before
 * it) finished by tly_stripe_create_once with exactly one object at the
 * emulator every time; idempotent replay; connection reuse (100 calls,
 * one connection); nothing refused before sending is retried blindly;
 * the secret key never in a log line.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "emu.h"
#include "stripe.h"
#include "tly_str.h"

static tly_config	 cfg;
static tly_log		 lg;
static tly_stripe	*st;
static tly_pool		*pool;
static char		 base[128];
static char		 logpath[] = "/tmp/tally-client-test-log.XXXXXX";
static int		 logfd = -1;

static int
group_setup(void **state)
{
	(void)state;
	tly_config_defaults(&cfg);
	tly_strlcpy(cfg.stripe_api_base, base, sizeof(cfg.stripe_api_base));
	tly_strlcpy(cfg.stripe_secret_key, EMU_KEY,
	    sizeof(cfg.stripe_secret_key));
	cfg.stripe_retry_base_ms = 20;
	cfg.stripe_max_retries = 3;
	cfg.stripe_timeout_ms = 5000;
	logfd = mkstemp(logpath);
	tly_log_init(&lg, logfd, TLY_LOG_DEBUG, "client_test");
	st = tly_stripe_new(&cfg, &lg);
	pool = tly_pool_new(64 << 10);
	return st && pool ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	tly_stripe_free(st);
	tly_pool_free(pool);
	close(logfd);
	unlink(logpath);
	return 0;
}

static int
each_setup(void **state)
{
	(void)state;
	tly_pool_reset(pool);
	tly_stripe_set_timeout(st, 5000);
	emu_post("/__emu/faults/release", NULL, NULL, 0);
	return emu_post("/__emu/reset", NULL, NULL, 0) == 200 ? 0 : -1;
}

/* unique - a fresh marker for this run ("t<pid>-<n>") */
static const char *
unique(void)
{
	static char buf[64];
	static int n;

	snprintf(buf, sizeof(buf), "t%d-%d", (int)getpid(), ++n);
	return buf;
}

/* pi_create - POST /v1/payment_intents with metadata[tally_id]='tid' */
static int
pi_create(const char *key, const char *tid, int64_t amount, tly_st_pi *pi,
    tly_stripe_resp *resp, tly_err *err)
{
	const tly_jv *o;
	tly_stripe_req rq;
	tly_form f;
	int rc;

	tly_form_init(&f);
	tly_form_i64(&f, "amount", amount);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "metadata[tally_id]", tid);
	tly_form_str(&f, "automatic_payment_methods[enabled]", "true");
	/* a server-side confirm without return_url needs no redirects */
	tly_form_str(&f, "automatic_payment_methods[allow_redirects]",
	    "never");
	rq = (tly_stripe_req){ "POST", "/v1/payment_intents", &f, key, NULL };
	rc = tly_stripe_fetch(st, pool, &rq, "payment_intent", &o, resp, err);
	tly_form_free(&f);
	if (rc == TLY_OK)
		assert_int_equal(tly_st_pi_parse(o, pi), TLY_OK);
	return rc;
}

static int
post(const char *path, tly_form *f, const char *key, const char *account,
    const char *want, const tly_jv **o, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq = { "POST", path, f, key, account };

	return tly_stripe_fetch(st, pool, &rq, want, o, &resp, err);
}

static int
get(const char *path, tly_form *q, const char *account, const char *want,
    const tly_jv **o, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq = { "GET", path, q, NULL, account };

	return tly_stripe_fetch(st, pool, &rq, want, o, &resp, err);
}

static void
fault(const char *json)
{
	assert_int_equal(emu_post("/__emu/faults", json, NULL, 0), 200);
}

/* --- calls -------------------------------------------------------- */

static void
test_payment_intent_calls(void **state)
{
	const char *tid = unique(), *path;
	const tly_jv *o;
	tly_stripe_resp resp;
	tly_st_pi pi;
	tly_st_charge ch;
	tly_st_list list;
	tly_form f;
	tly_err e;
	char key[96], id[64];

	(void)state;
	tly_err_clear(&e);
	snprintf(key, sizeof(key), "tally:pi:%s:g1", tid);
	assert_int_equal(pi_create(key, tid, 1099, &pi, &resp, &e), TLY_OK);
	assert_string_equal(pi.status, "requires_payment_method");
	assert_int_equal(pi.amount_cent, 1099);
	assert_string_equal(pi.currency, "usd");
	assert_non_null(pi.client_secret);
	assert_string_equal(tly_st_metadata(pi.metadata, "tally_id"), tid);
	tly_strlcpy(id, pi.id, sizeof(id));

	/* retrieve */
	path = tly_stripe_path(pool, "/v1/payment_intents/", id, NULL);
	assert_int_equal(get(path, NULL, NULL, "payment_intent", &o, &e),
	    TLY_OK);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.id, id);

	/* confirm with a card that succeeds, expanding the charge */
	tly_form_init(&f);
	tly_form_str(&f, "payment_method", "pm_card_visa");
	tly_form_str(&f, "expand[]", "latest_charge");
	path = tly_stripe_path(pool, "/v1/payment_intents/", id, "/confirm");
	assert_int_equal(post(path, &f, "tally:confirm:1", NULL,
	    "payment_intent", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.status, "succeeded");
	assert_int_equal(pi.amount_received_cent, 1099);
	assert_non_null(pi.latest_charge);
	assert_non_null(pi.charge);		/* expanded */

	/* charges retrieve */
	path = tly_stripe_path(pool, "/v1/charges/", pi.latest_charge, NULL);
	assert_int_equal(get(path, NULL, NULL, "charge", &o, &e), TLY_OK);
	assert_int_equal(tly_st_charge_parse(o, &ch), TLY_OK);
	assert_string_equal(ch.payment_intent, id);
	assert_int_equal(ch.amount_captured_cent, 1099);

	/* list */
	tly_form_init(&f);
	tly_form_i64(&f, "limit", 3);
	assert_int_equal(get("/v1/payment_intents", &f, NULL, "list", &o, &e),
	    TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_list_parse(o, &list), TLY_OK);
	assert_true(list.n >= 1);

	/* cancel another one; a succeeded one cannot be cancelled */
	assert_int_equal(pi_create("tally:pi:c:g1", "c", 500, &pi, &resp, &e),
	    TLY_OK);
	path = tly_stripe_path(pool, "/v1/payment_intents/", pi.id, "/cancel");
	tly_form_init(&f);
	tly_form_str(&f, "cancellation_reason", "abandoned");
	assert_int_equal(post(path, &f, "tally:cancel:1", NULL,
	    "payment_intent", &o, &e), TLY_OK);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.status, "canceled");
	assert_string_equal(pi.cancellation_reason, "abandoned");
	path = tly_stripe_path(pool, "/v1/payment_intents/", id, "/cancel");
	assert_int_equal(post(path, &f, "tally:cancel:2", NULL,
	    "payment_intent", &o, &e), TLY_ERR);
	tly_form_free(&f);
	assert_string_equal(e.code, "payment_intent_unexpected_state");
	assert_int_equal(e.upstream_status, 400);
}

static void
test_manual_capture(void **state)
{
	const char *path;
	const tly_jv *o;
	tly_st_pi pi;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 2000);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "capture_method", "manual");
	tly_form_str(&f, "payment_method", "pm_card_visa");
	tly_form_str(&f, "payment_method_types[]", "card");
	tly_form_bool(&f, "confirm", 1);
	assert_int_equal(post("/v1/payment_intents", &f, "tally:mc:1", NULL,
	    "payment_intent", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.status, "requires_capture");
	path = tly_stripe_path(pool, "/v1/payment_intents/", pi.id,
	    "/capture");
	tly_form_init(&f);
	tly_form_i64(&f, "amount_to_capture", 1500);
	assert_int_equal(post(path, &f, "tally:mc:cap", NULL, "payment_intent",
	    &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.status, "succeeded");
	assert_int_equal(pi.amount_received_cent, 1500);
}

/* a paid charge of 'amount' usd, and the platform balance made available */
static void
paid_charge(int64_t amount, char *charge, size_t sz)
{
	const tly_jv *o;
	tly_st_pi pi;
	tly_form f;
	tly_err e;
	char key[64];

	tly_err_clear(&e);
	snprintf(key, sizeof(key), "tally:paid:%s", unique());
	tly_form_init(&f);
	tly_form_i64(&f, "amount", amount);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "payment_method", "pm_card_visa");
	tly_form_str(&f, "payment_method_types[]", "card");
	tly_form_bool(&f, "confirm", 1);
	assert_int_equal(post("/v1/payment_intents", &f, key, NULL,
	    "payment_intent", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_pi_parse(o, &pi), TLY_OK);
	assert_string_equal(pi.status, "succeeded");
	tly_strlcpy(charge, pi.latest_charge, sz);
	/* asynchronous capture books the funds a moment later: wait for the
	 * emulator's pending work, then make the funds available */
	assert_int_equal(emu_post("/__emu/webhooks/flush", NULL, NULL, 0),
	    200);
	assert_int_equal(emu_post("/__emu/balance/release", NULL, NULL, 0),
	    200);
}

static void
test_refund_calls(void **state)
{
	char charge[64], rid[64];
	const char *path;
	const tly_jv *o;
	tly_st_refund rf;
	tly_st_list list;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	paid_charge(5000, charge, sizeof(charge));
	tly_form_init(&f);
	tly_form_str(&f, "charge", charge);
	tly_form_i64(&f, "amount", 1200);
	tly_form_str(&f, "metadata[tally_id]", "ref_1");
	assert_int_equal(post("/v1/refunds", &f, "tally:re:1:g1", NULL,
	    "refund", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_refund_parse(o, &rf), TLY_OK);
	assert_int_equal(rf.amount_cent, 1200);
	assert_string_equal(rf.charge, charge);
	tly_strlcpy(rid, rf.id, sizeof(rid));
	path = tly_stripe_path(pool, "/v1/refunds/", rid, NULL);
	assert_int_equal(get(path, NULL, NULL, "refund", &o, &e), TLY_OK);
	tly_form_init(&f);
	tly_form_str(&f, "charge", charge);
	assert_int_equal(get("/v1/refunds", &f, NULL, "list", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_list_parse(o, &list), TLY_OK);
	assert_int_equal(list.n, 1);
	/* more than what is left is refused */
	tly_form_init(&f);
	tly_form_str(&f, "charge", charge);
	tly_form_i64(&f, "amount", 4000);
	assert_int_equal(post("/v1/refunds", &f, "tally:re:2:g1", NULL,
	    "refund", &o, &e), TLY_ERR);
	tly_form_free(&f);
	assert_int_equal(e.upstream_status, 400);
}

static void
test_connect_calls(void **state)
{
	char charge[64], acct[64], tr[64];
	const char *path;
	const tly_jv *o;
	tly_st_account a;
	tly_st_account_link l;
	tly_st_transfer t;
	tly_st_reversal rv;
	tly_st_list list;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	tly_form_init(&f);
	tly_form_str(&f, "type", "express");
	tly_form_str(&f, "email", "talent@example.test");
	tly_form_bool(&f, "capabilities[transfers][requested]", 1);
	assert_int_equal(post("/v1/accounts", &f, "tally:acct:1", NULL,
	    "account", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_account_parse(o, &a), TLY_OK);
	assert_false(a.payouts_enabled);
	assert_non_null(a.currently_due);
	tly_strlcpy(acct, a.id, sizeof(acct));
	tly_form_init(&f);
	tly_form_str(&f, "account", acct);
	tly_form_str(&f, "refresh_url", "http://127.0.0.1/refresh");
	tly_form_str(&f, "return_url", "http://127.0.0.1/return");
	tly_form_str(&f, "type", "account_onboarding");
	assert_int_equal(post("/v1/account_links", &f, "tally:link:1", NULL,
	    "account_link", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_account_link_parse(o, &l), TLY_OK);
	assert_true(l.expires_at > 0);
	path = tly_stripe_path(pool, "/__emu/accounts/", acct,
	    "/complete_onboarding");
	assert_int_equal(emu_post(path, NULL, NULL, 0), 200);
	path = tly_stripe_path(pool, "/v1/accounts/", acct, NULL);
	assert_int_equal(get(path, NULL, NULL, "account", &o, &e), TLY_OK);
	assert_int_equal(tly_st_account_parse(o, &a), TLY_OK);
	assert_true(a.payouts_enabled);

	paid_charge(10000, charge, sizeof(charge));
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 3000);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "destination", acct);
	tly_form_str(&f, "transfer_group", "grp_1");
	assert_int_equal(post("/v1/transfers", &f, "tally:tr:1:g1", NULL,
	    "transfer", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_transfer_parse(o, &t), TLY_OK);
	assert_int_equal(t.amount_cent, 3000);
	assert_string_equal(t.destination, acct);
	tly_strlcpy(tr, t.id, sizeof(tr));
	path = tly_stripe_path(pool, "/v1/transfers/", tr, NULL);
	assert_int_equal(get(path, NULL, NULL, "transfer", &o, &e), TLY_OK);
	tly_form_init(&f);
	tly_form_str(&f, "transfer_group", "grp_1");
	assert_int_equal(get("/v1/transfers", &f, NULL, "list", &o, &e),
	    TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_list_parse(o, &list), TLY_OK);
	assert_int_equal(list.n, 1);
	path = tly_stripe_path(pool, "/v1/transfers/", tr, "/reversals");
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 1000);
	assert_int_equal(post(path, &f, "tally:trr:1", NULL,
	    "transfer_reversal", &o, &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_reversal_parse(o, &rv), TLY_OK);
	assert_int_equal(rv.amount_cent, 1000);
	assert_string_equal(rv.transfer, tr);
	/* the connected account's own balance, through Stripe-Account */
	assert_int_equal(get("/v1/balance", NULL, acct, "balance", &o, &e),
	    TLY_OK);
	/* more than the platform has is refused, as Stripe does */
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 99999999);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "destination", acct);
	assert_int_equal(post("/v1/transfers", &f, "tally:tr:2:g1", NULL,
	    "transfer", &o, &e), TLY_ERR);
	tly_form_free(&f);
	assert_string_equal(e.code, "balance_insufficient");
}

static void
test_balance_events_disputes(void **state)
{
	char charge[64], out[4096], *p, dp[64];
	const char *path, *evt;
	const tly_jv *o, *item;
	tly_st_balance_txn bt;
	tly_st_event ev;
	tly_st_dispute d;
	tly_st_list list;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	paid_charge(4000, charge, sizeof(charge));
	tly_form_init(&f);
	tly_form_str(&f, "type", "charge");
	assert_int_equal(get("/v1/balance_transactions", &f, NULL, "list", &o,
	    &e), TLY_OK);
	tly_form_free(&f);
	assert_int_equal(tly_st_list_parse(o, &list), TLY_OK);
	assert_true(list.n >= 1);
	item = list.data->child;
	assert_int_equal(tly_st_balance_txn_parse(item, &bt), TLY_OK);
	assert_int_equal(bt.net_cent, bt.amount_cent - bt.fee_cent);
	assert_int_equal(bt.fee_cent, 4000 * 29 / 1000 + 30);

	assert_int_equal(get("/v1/events", NULL, NULL, "list", &o, &e),
	    TLY_OK);
	assert_int_equal(tly_st_list_parse(o, &list), TLY_OK);
	assert_true(list.n >= 1);
	assert_int_equal(tly_st_event_parse(list.data->child, &ev), TLY_OK);
	assert_string_equal(ev.api_version, TLY_STRIPE_API_VERSION);
	evt = ev.id;
	path = tly_stripe_path(pool, "/v1/events/", evt, NULL);
	assert_int_equal(get(path, NULL, NULL, "event", &o, &e), TLY_OK);

	path = tly_stripe_path(pool, "/__emu/charges/", charge, "/dispute");
	assert_int_equal(emu_post(path, "{\"amount\":2500}", out, sizeof(out)),
	    200);
	p = strstr(out, "\"dp_");
	assert_non_null(p);
	tly_strlcpy(dp, p + 1, sizeof(dp));
	dp[strcspn(dp, "\"")] = '\0';
	path = tly_stripe_path(pool, "/v1/disputes/", dp, NULL);
	assert_int_equal(get(path, NULL, NULL, "dispute", &o, &e), TLY_OK);
	assert_int_equal(tly_st_dispute_parse(o, &d), TLY_OK);
	assert_int_equal(d.amount_cent, 2500);
	assert_string_equal(d.charge, charge);
}

/* --- retries ------------------------------------------------------ */

static void
test_429_and_409_retried_with_the_same_key(void **state)
{
	tly_stripe_resp resp;
	tly_st_pi pi;
	tly_err e;
	const char *tid = unique();
	char key[96];

	(void)state;
	tly_err_clear(&e);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"error_429\",\"count\":1}");
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"error_409\",\"count\":1}");
	snprintf(key, sizeof(key), "tally:pi:%s:g1", tid);
	assert_int_equal(pi_create(key, tid, 700, &pi, &resp, &e), TLY_OK);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(emu_requests_with_key(key), 3);
	assert_int_equal(emu_count("payment_intents", tid), 1);
}

/* Stripe-Should-Retry: false on a 409/429 ends the call at once */
static void
test_should_retry_false_not_retried(void **state)
{
	tly_stripe_resp resp;
	tly_st_pi pi;
	tly_err e;
	const char *tid = unique();
	char key[96];

	(void)state;
	tly_err_clear(&e);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"error_409\",\"count\":3,\"should_retry\":false}");
	snprintf(key, sizeof(key), "tally:pi:%s:g1", tid);
	assert_int_equal(pi_create(key, tid, 700, &pi, &resp, &e), TLY_ERR);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(e.upstream_status, 409);
	assert_int_equal(emu_requests_with_key(key), 1);
	assert_int_equal(emu_count("payment_intents", tid), 0);
}

static void
test_400_and_402_not_retried(void **state)
{
	tly_stripe_resp resp;
	const tly_jv *o;
	tly_st_pi pi;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(pi_create("tally:pi:neg:g1", "neg", -5, &pi, &resp,
	    &e), TLY_ERR);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(e.upstream_status, 400);
	assert_int_equal(e.kind, TLY_EK_UPSTREAM);
	/* Stripe's type, param and message are kept (the message for logs) */
	assert_string_equal(e.upstream_type, "invalid_request_error");
	assert_string_equal(e.param, "amount");
	assert_true(strlen(e.upstream_msg) > 0);
	assert_null(strstr(e.msg, e.upstream_msg));

	tly_form_init(&f);
	tly_form_i64(&f, "amount", 900);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "payment_method", "pm_card_chargeDeclined");
	tly_form_str(&f, "payment_method_types[]", "card");
	tly_form_bool(&f, "confirm", 1);
	assert_int_equal(post("/v1/payment_intents", &f, "tally:decl:1", NULL,
	    "payment_intent", &o, &e), TLY_ERR);
	tly_form_free(&f);
	assert_int_equal(e.kind, TLY_EK_CARD);
	assert_int_equal(tly_err_status(&e), 402);
	assert_string_equal(e.code, "card_declined");
	assert_string_equal(e.decline_code, "generic_decline");
	assert_true(strlen(e.msg) > 0);
	assert_int_equal(emu_requests_with_key("tally:decl:1"), 1);
}

static void
test_nothing_sent_is_retried_then_fails(void **state)
{
	tly_config dead = cfg;
	tly_stripe *s2;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_form f;
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	tly_strlcpy(dead.stripe_api_base, "http://127.0.0.1:9",
	    sizeof(dead.stripe_api_base));
	s2 = tly_stripe_new(&dead, &lg);
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 100);
	rq = (tly_stripe_req){ "POST", "/v1/payment_intents", &f, "k:g1",
	    NULL };
	assert_int_equal(tly_stripe_call(s2, pool, &rq, &resp, &e), TLY_ERR);
	assert_int_equal(resp.attempts, cfg.stripe_max_retries + 1);
	assert_string_equal(e.code, "stripe_unavailable");
	tly_form_free(&f);
	tly_stripe_free(s2);
}

/* --- unknown outcomes, finished exactly once ---------------------- */

typedef struct once_arg {
	const char	*tid;
	int		 bumps;
	int		 lookups;
} once_arg;

static int
once_params(tly_stripe_once *o, tly_form *f)
{
	once_arg *a = o->arg;

	tly_form_i64(f, "amount", 1500);
	tly_form_str(f, "currency", "usd");
	tly_form_str(f, "metadata[tally_id]", a->tid);
	tly_form_str(f, "automatic_payment_methods[enabled]", "true");
	tly_form_str(f, "automatic_payment_methods[allow_redirects]",
	    "never");
	return tly_form_done(f);
}

static int
once_lookup(tly_stripe_once *o, tly_stripe *s, tly_pool *p,
    const tly_jv **found, tly_err *err)
{
	once_arg *a = o->arg;

	a->lookups++;
	return tly_stripe_find_since(s, p, "/v1/payment_intents",
	    "payment_intent", a->tid, 0, found, err);
}

static int
once_bump(tly_stripe_once *o, int gen, tly_err *err)
{
	once_arg *a = o->arg;

	(void)gen;
	(void)err;
	a->bumps++;
	return TLY_OK;
}

static int
create_once(once_arg *a, char *key_base, tly_stripe_once *o, tly_err *e)
{
	tly_stripe_resp resp;
	const tly_jv *obj;

	memset(o, 0, sizeof(*o));
	o->path = "/v1/payment_intents";
	o->object = "payment_intent";
	o->key_base = key_base;
	o->generation = 1;
	o->params = once_params;
	o->lookup = once_lookup;
	o->bump = once_bump;
	o->arg = a;
	return tly_stripe_create_once(st, pool, o, &obj, &resp, e);
}

static void
test_stored_500_ends_with_one_object(void **state)
{
	once_arg a = { NULL, 0, 0 };
	tly_stripe_once o;
	char kb[96];
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	a.tid = unique();
	snprintf(kb, sizeof(kb), "tally:pi:%s", a.tid);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"error_500_stored\",\"count\":1}");
	assert_int_equal(create_once(&a, kb, &o, &e), TLY_OK);
	assert_int_equal(a.lookups, 1);		/* nothing found */
	assert_int_equal(a.bumps, 1);		/* so generation 2 */
	assert_int_equal(o.generation, 2);
	assert_int_equal(emu_count("payment_intents", a.tid), 1);
}

static void
test_500_after_work_found_by_lookup(void **state)
{
	once_arg a = { NULL, 0, 0 };
	tly_stripe_once o;
	char kb[96];
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	a.tid = unique();
	snprintf(kb, sizeof(kb), "tally:pi:%s", a.tid);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"error_500_after_work\",\"count\":1}");
	assert_int_equal(create_once(&a, kb, &o, &e), TLY_OK);
	assert_int_equal(a.lookups, 1);
	assert_int_equal(a.bumps, 0);		/* found: no new key */
	assert_int_equal(emu_count("payment_intents", a.tid), 1);
}

static void
test_timeout_after_work_then_finished(void **state)
{
	once_arg a = { NULL, 0, 0 };
	tly_stripe_resp resp;
	tly_stripe_once o;
	tly_st_pi pi;
	char kb[96], key[110];
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	a.tid = unique();
	snprintf(kb, sizeof(kb), "tally:pi:%s", a.tid);
	snprintf(key, sizeof(key), "%s:g1", kb);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"hang_after\",\"seconds\":30,\"count\":1}");
	tly_stripe_set_timeout(st, 400);
	assert_int_equal(pi_create(key, a.tid, 1500, &pi, &resp, &e),
	    TLY_UNKNOWN);
	assert_string_equal(e.code, "stripe_outcome_unknown");
	/* the janitor later, after Stripe answered the first request */
	assert_int_equal(emu_post("/__emu/faults/release", NULL, NULL, 0), 200);
	tly_stripe_set_timeout(st, 5000);
	assert_int_equal(create_once(&a, kb, &o, &e), TLY_OK);
	assert_int_equal(a.bumps, 0);
	assert_int_equal(emu_count("payment_intents", a.tid), 1);
}

static void
test_timeout_before_work_then_finished(void **state)
{
	once_arg a = { NULL, 0, 0 };
	tly_stripe_resp resp;
	tly_stripe_once o;
	tly_st_pi pi;
	char kb[96], key[110];
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	a.tid = unique();
	snprintf(kb, sizeof(kb), "tally:pi:%s", a.tid);
	snprintf(key, sizeof(key), "%s:g1", kb);
	fault("{\"method\":\"POST\",\"path\":\"^/v1/payment_intents$\","
	    "\"mode\":\"hang_before\",\"seconds\":1,\"count\":1}");
	tly_stripe_set_timeout(st, 300);
	assert_int_equal(pi_create(key, a.tid, 1500, &pi, &resp, &e),
	    TLY_UNKNOWN);
	/* at once: the first request still runs at Stripe, so the same key
	 * gets 409 until it is done, then its result */
	tly_stripe_set_timeout(st, 5000);
	cfg.stripe_retry_base_ms = 200;
	assert_int_equal(create_once(&a, kb, &o, &e), TLY_OK);
	cfg.stripe_retry_base_ms = 20;
	assert_int_equal(a.bumps, 0);
	assert_int_equal(emu_count("payment_intents", a.tid), 1);
}

static void
test_replay_same_key(void **state)
{
	tly_stripe_resp r1, r2;
	tly_st_pi p1, p2;
	char id[64];
	tly_err e;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(pi_create("tally:pi:replay:g1", "replay", 800, &p1,
	    &r1, &e), TLY_OK);
	tly_strlcpy(id, p1.id, sizeof(id));
	assert_int_equal(r1.replayed, 0);
	assert_int_equal(pi_create("tally:pi:replay:g1", "replay", 800, &p2,
	    &r2, &e), TLY_OK);
	assert_int_equal(r2.replayed, 1);
	assert_string_equal(p2.id, id);
	assert_int_equal(emu_count("payment_intents", "\"replay\""), 1);
}

/* --- transport ---------------------------------------------------- */

static void
test_100_calls_one_connection(void **state)
{
	const char *path;
	const tly_jv *o;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_stripe *s2;
	tly_st_pi pi;
	tly_err e;
	int i;

	(void)state;
	tly_err_clear(&e);
	assert_int_equal(pi_create("tally:pi:ka:g1", "ka", 600, &pi, &resp,
	    &e), TLY_OK);
	path = tly_stripe_path(pool, "/v1/payment_intents/", pi.id, NULL);
	s2 = tly_stripe_new(&cfg, &lg);		/* a fresh handle */
	assert_int_equal(emu_delete("/__emu/stats"), 200);
	assert_int_equal(emu_connections(), 0);
	rq = (tly_stripe_req){ "GET", path, NULL, NULL, NULL };
	for (i = 0; i < 100; i++)
		assert_int_equal(tly_stripe_fetch(s2, pool, &rq,
		    "payment_intent", &o, &resp, &e), TLY_OK);
	assert_int_equal(tly_stripe_connections(s2), 1);
	assert_int_equal(emu_connections(), 1);	/* seen from the other side */
	tly_stripe_free(s2);
}

/* last: nothing this run logged (at debug level) holds the secret key */
static void
test_secret_never_logged(void **state)
{
	static char buf[4 << 20];
	ssize_t n;
	int fd;

	(void)state;
	tly_log_flush(&lg);
	fd = open(logpath, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"component\":\"stripe\""));
	assert_null(strstr(buf, EMU_KEY));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_payment_intent_calls, each_setup),
		cmocka_unit_test_setup(test_manual_capture, each_setup),
		cmocka_unit_test_setup(test_refund_calls, each_setup),
		cmocka_unit_test_setup(test_connect_calls, each_setup),
		cmocka_unit_test_setup(test_balance_events_disputes,
		    each_setup),
		cmocka_unit_test_setup(
		    test_429_and_409_retried_with_the_same_key, each_setup),
		cmocka_unit_test_setup(test_should_retry_false_not_retried,
		    each_setup),
		cmocka_unit_test_setup(test_400_and_402_not_retried,
		    each_setup),
		cmocka_unit_test_setup(test_nothing_sent_is_retried_then_fails,
		    each_setup),
		cmocka_unit_test_setup(test_stored_500_ends_with_one_object,
		    each_setup),
		cmocka_unit_test_setup(test_500_after_work_found_by_lookup,
		    each_setup),
		cmocka_unit_test_setup(test_timeout_after_work_then_finished,
		    each_setup),
		cmocka_unit_test_setup(test_timeout_before_work_then_finished,
		    each_setup),
		cmocka_unit_test_setup(test_replay_same_key, each_setup),
		cmocka_unit_test_setup(test_100_calls_one_connection,
		    each_setup),
		cmocka_unit_test(test_secret_never_logged),
	};
	int rc;

	rc = emu_start(base, sizeof(base));
	if (rc)
		return rc;
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	emu_stop();
	return rc;
}

/*
 * err_test.c - core/util/tly_err.c
 *
 * The kind -> HTTP status and kind -> envelope "type" mapping for every
 * kind (one table), tly_err_set/tly_err_param filling the value and
 * returning TLY_ERR, bounded messages, tly_err_internal keeping a deeper
 * error, and tly_rc_str.
 */
#include "tly_test.h"

#include <stdio.h>

#include "tly_err.h"

static void
test_kind_table(void **state)
{
	static const struct {
		tly_err_kind	 kind;
		const char	*name;
		int		 status;
		const char	*type;
	} rows[] = {
		{ TLY_EK_NONE, "none", 500, "api_error" },
		{ TLY_EK_INVALID, "invalid", 400, "invalid_request_error" },
		{ TLY_EK_AUTH, "auth", 401, "authentication_error" },
		{ TLY_EK_CARD, "card", 402, "card_error" },
		{ TLY_EK_FORBIDDEN, "forbidden", 403, "permission_error" },
		{ TLY_EK_NOT_FOUND, "not_found", 404,
		    "invalid_request_error" },
		{ TLY_EK_METHOD, "method", 405, "invalid_request_error" },
		{ TLY_EK_CONFLICT, "conflict", 409, "invalid_request_error" },
		{ TLY_EK_TOO_LARGE, "too_large", 413,
		    "invalid_request_error" },
		{ TLY_EK_UNPROCESSABLE, "unprocessable", 422,
		    "invalid_request_error" },
		{ TLY_EK_RATE, "rate", 429, "rate_limit_error" },
		{ TLY_EK_INTERNAL, "internal", 500, "api_error" },
		{ TLY_EK_UPSTREAM, "upstream", 502, "api_error" },
		{ TLY_EK_UNAVAILABLE, "unavailable", 503, "api_error" },
		{ TLY_EK_TIMEOUT, "timeout", 504, "api_error" },
		{ (tly_err_kind)999, "out of range", 500, "api_error" },
	};
	tly_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_err_clear(&e);
		e.kind = rows[i].kind;
		if (tly_err_status(&e) != rows[i].status)
			fail_msg("%s: status got %d, want %d", rows[i].name,
			    tly_err_status(&e), rows[i].status);
		if (strcmp(tly_err_type(&e), rows[i].type) != 0)
			fail_msg("%s: type got %s, want %s", rows[i].name,
			    tly_err_type(&e), rows[i].type);
	}
	/* every kind of the enum is in the table */
	want_int(TLY_EK_TIMEOUT + 2, sizeof(rows) / sizeof(rows[0]));
}

static void
test_set(void **state)
{
	tly_err e;
	int rc;

	(void)state;
	tly_err_clear(&e);
	want_int(e.kind, TLY_EK_NONE);
	want_str(e.code, "");
	rc = tly_err_set(&e, TLY_EK_NOT_FOUND, "resource_missing",
	    "No such %s: '%s'", "payment", "pay_1");
	want_int(rc, TLY_ERR);
	want_int(e.kind, TLY_EK_NOT_FOUND);
	want_str(e.code, "resource_missing");
	want_str(e.param, "");
	want_str(e.msg, "No such payment: 'pay_1'");

	/* a NULL code is "" */
	rc = tly_err_set(&e, TLY_EK_INVALID, NULL, "x");
	want_int(rc, TLY_ERR);
	want_str(e.code, "");
}

static void
test_param(void **state)
{
	tly_err e;
	int rc;

	(void)state;
	tly_err_clear(&e);
	rc = tly_err_param(&e, TLY_EK_INVALID, "parameter_missing", "amount",
	    "Missing required parameter: %s.", "amount");
	want_int(rc, TLY_ERR);
	want_int(e.kind, TLY_EK_INVALID);
	want_str(e.code, "parameter_missing");
	want_str(e.param, "amount");
	want_str(e.msg, "Missing required parameter: amount.");

	/* set after param clears the param */
	tly_err_set(&e, TLY_EK_CONFLICT, "state", "y");
	want_str(e.param, "");
}

static void
test_bounded(void **state)
{
	char big[1000];
	tly_err e;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tly_err_clear(&e);
	tly_err_param(&e, TLY_EK_INVALID, big, big, "%s", big);
	want_int(strlen(e.code), sizeof(e.code) - 1);
	want_int(strlen(e.param), sizeof(e.param) - 1);
	want_int(strlen(e.msg), sizeof(e.msg) - 1);
}

static void
test_internal(void **state)
{
	tly_err e;
	int rc;

	(void)state;
	tly_err_clear(&e);
	rc = tly_err_internal(&e);
	want_int(rc, TLY_ERR);
	want_int(e.kind, TLY_EK_INTERNAL);
	want_str(e.code, "internal_error");
	want_int(tly_err_status(&e), 500);
	assert_true(e.msg[0] != '\0');

	/* an error set by a deeper layer survives */
	tly_err_set(&e, TLY_EK_UNAVAILABLE, "db_unavailable", "down");
	rc = tly_err_internal(&e);
	want_int(rc, TLY_ERR);
	want_int(e.kind, TLY_EK_UNAVAILABLE);
	want_str(e.code, "db_unavailable");
	want_str(e.msg, "down");
}

static void
test_rc_str(void **state)
{
	static const struct {
		int		 rc;
		const char	*want;
	} rows[] = {
		{ TLY_OK, "ok" },
		{ TLY_ERR, "error" },
		{ TLY_AGAIN, "again" },
		{ TLY_CONFLICT, "conflict" },
		{ TLY_UNKNOWN, "unknown" },
		{ TLY_NOTFOUND, "not_found" },
		{ TLY_TOO_LARGE, "too_large" },
		{ TLY_ROW, "row" },
		{ 42, "?" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(tly_rc_str(rows[i].rc), rows[i].want) != 0)
			fail_msg("rc %d: got %s, want %s", rows[i].rc,
			    tly_rc_str(rows[i].rc), rows[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_table),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_param),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_internal),
		cmocka_unit_test(test_rc_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * page_test.c - core/util/tly_page.c
 *
 * The default and the bounds of 'limit', which cursors are ids and which
 * are refused (with the parameter named), and the cursor's upper bound.
 */
#include "tly_test.h"

#include <string.h>

#include "tly_page.h"

static void
test_check(void **state)
{
	static const struct {
		int		 limit;
		const char	*after;
		int		 rc;
		int		 limit_after;
		const char	*param;
	} rows[] = {
		{ 0, NULL, TLY_OK, TLY_PAGE_DEFAULT, "" },
		{ 1, NULL, TLY_OK, 1, "" },
		{ 100, "pay_0AbC9", TLY_OK, 100, "" },
		{ 101, NULL, TLY_ERR, 101, "limit" },
		{ -1, NULL, TLY_ERR, -1, "limit" },
		{ 10, "", TLY_ERR, 10, "starting_after" },
		{ 10, "pay_1'", TLY_ERR, 10, "starting_after" },
		{ 10, "pay 1", TLY_ERR, 10, "starting_after" },
		{ 10, "a234567890123456789012345678901234567890", TLY_OK, 10,
		    "" },
		{ 10, "a2345678901234567890123456789012345678901", TLY_ERR,
		    10, "starting_after" },
	};
	tly_page p;
	tly_err e;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		p = (tly_page){ rows[i].limit, rows[i].after };
		tly_err_clear(&e);
		rc = tly_page_check(&p, &e);
		if (rc != rows[i].rc || p.limit != rows[i].limit_after ||
		    strcmp(e.param, rows[i].param) != 0)
			fail_msg("row %zu: got rc %d limit %d param '%s', want "
			    "%d %d '%s'", i, rc, p.limit, e.param, rows[i].rc,
			    rows[i].limit_after, rows[i].param);
		if (rc != TLY_OK && tly_err_status(&e) != 400)
			fail_msg("row %zu: got status %d, want 400", i,
			    tly_err_status(&e));
	}
}

static void
test_cursor(void **state)
{
	tly_page p = { 10, NULL };

	(void)state;
	want_str(tly_page_cursor(&p), "~");
	if (strcmp("zzz_zzzzzzzz", tly_page_cursor(&p)) >= 0)
		fail_msg("got '~' not above every id");
	p.starting_after = "pay_1";
	want_str(tly_page_cursor(&p), "pay_1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * idem_test.c - core/idem.c's pure parts
 *
 * The takeover bound of a client's Idempotency-Key (idem.h): a table of
 * configurations, the bound each must give -- max(request_timeout,
 * Stripe's worst call: (max_retries + 1) × timeout_ms + max_retries ×
 * 4 s of backoff) + 30 s -- and the defaults (122 s: the 60 s the bound
 * was before is shorter than one Stripe create of four 20 s tries).
 * The key check: 1 to 255 printable ASCII characters.
 */
#include "tly_test.h"

#include "config.h"
#include "idem.h"

static void
test_takeover_bound(void **state)
{
	static const struct {
		int	 request_timeout_s, timeout_ms, retries, want;
	} t[] = {
		{ 60, 20000, 3, 4 * 20 + 3 * 4 + 30 },	/* the defaults */
		{ 60, 5000, 3, 60 + 30 },		/* the test stacks */
		{ 600, 20000, 3, 600 + 30 },		/* the watchdog rules */
		{ 10, 1000, 0, 10 + 30 },
		{ 10, 20000, 0, 20 + 30 },
		{ 1, 500, 10, 46 + 30 },	/* 45.5 s rounds up */
	};
	tly_config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.request_timeout_s = t[i].request_timeout_s;
		c.stripe_timeout_ms = t[i].timeout_ms;
		c.stripe_max_retries = t[i].retries;
		if (tly_idem_takeover_s(&c) != t[i].want)
			fail_msg("row %zu: got %d, want %d", i,
			    tly_idem_takeover_s(&c), t[i].want);
	}
	want_int(TLY_IDEM_TTL_S, 86400);
}

static void
test_key_ok(void **state)
{
	char k[257];

	(void)state;
	want_int(tly_idem_key_ok("k"), 1);
	want_int(tly_idem_key_ok(""), 0);
	want_int(tly_idem_key_ok("with space"), 0);
	want_int(tly_idem_key_ok("tab\tkey"), 0);
	memset(k, 'x', sizeof(k) - 1);
	k[256] = '\0';
	want_int(tly_idem_key_ok(k), 0);
	k[255] = '\0';
	want_int(tly_idem_key_ok(k), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_takeover_bound),
		cmocka_unit_test(test_key_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * form_test.c - form encoding of Stripe's nested parameters
 * (core/util/tly_form.c): brackets literal in keys, %XX for the rest,
 * NULL values skipped, integers and booleans, the size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tly_err.h"
#include "tly_form.h"

static void
test_table(void **state)
{
	static const struct {
		const char	*key, *val, *want;
	} rows[] = {
		{ "amount", "1099", "amount=1099" },
		{ "metadata[checkout_id]", "chk_1",
		    "metadata[checkout_id]=chk_1" },
		{ "transfer_data[destination]", "acct_9",
		    "transfer_data[destination]=acct_9" },
		{ "expand[]", "latest_charge", "expand[]=latest_charge" },
		{ "description", "a b&c=d+e", "description=a%20b%26c%3Dd%2Be" },
		{ "metadata[note]", "100%", "metadata[note]=100%25" },
		{ "metadata[name]", "Zoë", "metadata[name]=Zo%C3%AB" },
		{ "metadata[k y]", "v", "metadata[k%20y]=v" },
		{ "email", "a.b-c_d~e@x.io", "email=a.b-c_d~e%40x.io" },
		{ "description", "", "description=" },
		{ "q", "[x]", "q=%5Bx%5D" },
	};
	tly_form f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_form_init(&f);
		tly_form_str(&f, rows[i].key, rows[i].val);
		assert_int_equal(tly_form_done(&f), TLY_OK);
		if (strcmp(tly_form_body(&f), rows[i].want) != 0)
			fail_msg("row %zu: got '%s', want '%s'", i,
			    tly_form_body(&f), rows[i].want);
		tly_form_free(&f);
	}
}

static void
test_several_and_types(void **state)
{
	tly_form f;

	(void)state;
	tly_form_init(&f);
	tly_form_i64(&f, "amount", 1099);
	tly_form_str(&f, "currency", "usd");
	tly_form_str(&f, "receipt_email", NULL);	/* skipped */
	tly_form_bool(&f, "automatic_payment_methods[enabled]", 1);
	tly_form_i64(&f, "metadata[n]", INT64_MIN);
	tly_form_bool(&f, "confirm", 0);
	assert_int_equal(tly_form_done(&f), TLY_OK);
	assert_string_equal(tly_form_body(&f), "amount=1099&currency=usd&"
	    "automatic_payment_methods[enabled]=true&"
	    "metadata[n]=-9223372036854775808&confirm=false");
	tly_form_free(&f);
}

static void
test_limit_is_sticky(void **state)
{
	static char big[TLY_FORM_MAX];
	tly_form f;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tly_form_init(&f);
	tly_form_str(&f, "a", "b");
	tly_form_str(&f, "big", big);
	assert_int_equal(tly_form_done(&f), TLY_TOO_LARGE);
	tly_form_str(&f, "c", "d");
	assert_int_equal(tly_form_done(&f), TLY_TOO_LARGE);
	tly_form_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_several_and_types),
		cmocka_unit_test(test_limit_is_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * advance_test.c - the arithmetic of advance offsets under reversals
 * (tly_advance_kept, core/advance.c; docs/ledger.md, "Advances")
 *
 * Covers: a full reversal gives the whole offset back; repeated partial
 * refunds keep exactly O - floor(O × C / A) offset after each, so their
 * returns sum to what that formula says and no cent is stranded at
 * C = A; a move back (a refund that failed, a dispute reinstated)
 * offsets again up to the formula but never beyond the advance's room;
 * a seeded random sweep of moves in both directions keeps 0 <= kept <=
 * T(C), never raises kept on a forward move, never by more than the
 * room on a backward one; bad input is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "advance.h"

static int64_t
kept(int64_t o, int64_t n, int64_t a, int64_t before, int64_t after,
    int64_t room)
{
	tly_adv_move m;
	int64_t k = -1;

	m.offset_cent = o;
	m.kept_cent = n;
	m.amount_cent = a;
	m.before_cent = before;
	m.after_cent = after;
	m.room_cent = room;
	assert_int_equal(tly_advance_kept(&m, &k), TLY_OK);
	return k;
}

static int64_t
target(int64_t o, int64_t a, int64_t c)
{
	return o - (int64_t)((__int128)o * c / a);
}

static void
test_full_reversal(void **state)
{
	(void)state;
	assert_int_equal(kept(1000, 1000, 1500, 0, 1500, 0), 0);
	assert_int_equal(kept(999, 999, 1000, 0, 1000, 7), 0);
	/* a partial one first, then the rest */
	assert_int_equal(kept(1000, 1000, 1500, 0, 500, 0), 667);
	assert_int_equal(kept(1000, 667, 1500, 500, 1500, 0), 0);
}

static void
test_partial_refunds_strand_nothing(void **state)
{
	static const int64_t steps[] = { 1, 333, 7, 1000, 2, 99, 1 };
	int64_t o = 2777, a = 5500, c = 0, n = o, given = 0, k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		k = kept(o, n, a, c, c + steps[i], 0);
		c += steps[i];
		assert_int_equal(k, target(o, a, c));
		given += n - k;
		n = k;
	}
	k = kept(o, n, a, c, a, 0);
	given += n - k;
	assert_int_equal(k, 0);
	assert_int_equal(given, o);
}

static void
test_move_back_limited_by_room(void **state)
{
	(void)state;
	/* refunded in full: all given back; the refund fails later */
	assert_int_equal(kept(1000, 0, 1000, 1000, 0, 5000), 1000);
	/* meanwhile others used the advance up: nothing to offset again */
	assert_int_equal(kept(1000, 0, 1000, 1000, 0, 0), 0);
	assert_int_equal(kept(1000, 0, 1000, 1000, 0, 300), 300);
	/* a dispute of half, won: back to what the formula says */
	assert_int_equal(kept(800, 400, 1000, 500, 0, 10000), 800);
	/* a move back that does not reach a previously capped amount */
	assert_int_equal(kept(800, 300, 1000, 500, 400, 10000), 480);
	assert_int_equal(kept(800, 600, 1000, 500, 400, 10000), 600);
}

static void
test_random_sweep(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int64_t o, a, c, n, after, room, k, t;
	int run, step;

	(void)state;
	for (run = 0; run < 2000; run++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		a = 1 + (int64_t)(seed >> 33) % 1000000;
		o = (int64_t)(seed >> 13) % (a + 1);
		c = 0;
		n = o;
		for (step = 0; step < 12; step++) {
			seed = seed * 6364136223846793005ULL + 1;
			after = (int64_t)(seed >> 20) % (a + 1);
			room = (int64_t)(seed >> 40) % (o + 2);
			k = kept(o, n, a, c, after, room);
			t = target(o, a, after);
			assert_true(k >= 0 && k <= t);
			if (after >= c)
				assert_true(k <= n);
			else
				assert_true(k >= n && k - n <= room);
			n = k;
			c = after;
		}
		assert_int_equal(kept(o, n, a, c, a, o), 0);
	}
}

static void
test_bad_input(void **state)
{
	tly_adv_move m;
	int64_t k;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(tly_advance_kept(&m, &k), TLY_ERR);	/* A = 0 */
	m.amount_cent = 100;
	m.offset_cent = 10;
	m.kept_cent = 11;
	assert_int_equal(tly_advance_kept(&m, &k), TLY_ERR);
	m.kept_cent = 10;
	m.after_cent = 101;
	assert_int_equal(tly_advance_kept(&m, &k), TLY_ERR);
	m.after_cent = 50;
	m.room_cent = -1;
	assert_int_equal(tly_advance_kept(&m, &k), TLY_ERR);
	m.room_cent = 0;
	assert_int_equal(tly_advance_kept(&m, &k), TLY_OK);
	assert_int_equal(k, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_reversal),
		cmocka_unit_test(test_partial_refunds_strand_nothing),
		cmocka_unit_test(test_move_back_limited_by_room),
		cmocka_unit_test(test_random_sweep),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

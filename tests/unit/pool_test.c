/*
 * pool_test.c - core/util/tly_pool.c
 *
 * Every allocation aligned for max_align_t, allocations larger than the
 * block size, contents surviving later allocations, tly_pcalloc zeroing
 * reused memory, the string helpers, cleanups in reverse order at reset
 * and at free (and only once), the byte count, and 10 000 reset cycles
 * (ASan's leak check makes that one a leak test).
 */
#include "tly_test.h"

#include <stdalign.h>
#include <stdio.h>

#include "tly_err.h"
#include "tly_pool.h"

#define ALIGN	alignof(max_align_t)

static void
want_aligned(const void *p, size_t n)
{
	if (p == NULL)
		fail_msg("allocation of %zu bytes: got NULL", n);
	if ((uintptr_t)p % ALIGN != 0)
		fail_msg("allocation of %zu bytes: got address %% %zu = %zu, "
		    "want 0", n, (size_t)ALIGN, (size_t)((uintptr_t)p % ALIGN));
}

static void
test_alignment(void **state)
{
	static const size_t sizes[] = { 1, 3, 7, 8, 15, 16, 17, 31, 33, 100,
	    1023, 1024, 1025, 5000, 2, 1 };
	tly_pool *p;
	size_t i, round;
	void *a;

	(void)state;
	p = tly_pool_new(1024);
	assert_non_null(p);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			a = tly_palloc(p, sizes[i]);
			want_aligned(a, sizes[i]);
			memset(a, 0x5a, sizes[i]);
		}
		for (i = 1; i <= 300; i++)
			want_aligned(tly_palloc(p, i), i);
		want_aligned(tly_palloc(p, 0), 0);
		want_aligned(tly_pcalloc(p, 9), 9);
		want_aligned(tly_pstrdup(p, "odd"), 4);
		want_aligned(tly_pstrndup(p, "abcdef", 5), 6);
		want_aligned(tly_psprintf(p, "%d", 12345), 6);
		tly_pool_reset(p);
	}
	tly_pool_free(p);
}

static void
test_large(void **state)
{
	unsigned char *small1, *big, *small2, *huge;
	tly_pool *p;
	size_t i;

	(void)state;
	p = tly_pool_new(1024);
	assert_non_null(p);
	small1 = tly_palloc(p, 100);
	assert_non_null(small1);
	memset(small1, 1, 100);
	big = tly_palloc(p, 100000);
	want_aligned(big, 100000);
	memset(big, 2, 100000);
	small2 = tly_palloc(p, 100);
	assert_non_null(small2);
	memset(small2, 3, 100);
	huge = tly_palloc(p, 1 << 20);
	want_aligned(huge, 1 << 20);
	memset(huge, 4, 1 << 20);

	/* nothing overlapped */
	for (i = 0; i < 100; i++)
		if (small1[i] != 1 || small2[i] != 3)
			fail_msg("byte %zu: got %d/%d, want 1/3", i, small1[i],
			    small2[i]);
	for (i = 0; i < 100000; i++)
		if (big[i] != 2)
			fail_msg("big byte %zu: got %d, want 2", i, big[i]);
	assert_true(tly_pool_used(p) >= 100 + 100000 + 100 + (1 << 20));

	tly_pool_reset(p);
	want_int(tly_pool_used(p), 0);
	big = tly_palloc(p, 50000);		/* after reset, again */
	want_aligned(big, 50000);
	memset(big, 5, 50000);

	/* a size that overflows when rounded up */
	assert_null(tly_palloc(p, SIZE_MAX));
	assert_null(tly_palloc(p, SIZE_MAX - 3));
	tly_pool_free(p);

	/* a block size below the floor still works */
	p = tly_pool_new(1);
	assert_non_null(p);
	want_aligned(tly_palloc(p, 2000), 2000);
	tly_pool_free(p);
}

static void
test_used(void **state)
{
	tly_pool *p;

	(void)state;
	p = tly_pool_new(4096);
	assert_non_null(p);
	want_int(tly_pool_used(p), 0);
	assert_non_null(tly_palloc(p, 1));
	want_int(tly_pool_used(p), ALIGN);
	assert_non_null(tly_palloc(p, ALIGN + 1));
	want_int(tly_pool_used(p), 3 * ALIGN);
	tly_pool_reset(p);
	want_int(tly_pool_used(p), 0);
	tly_pool_free(p);
	tly_pool_free(NULL);			/* a no-op */
}

static void
test_pcalloc(void **state)
{
	unsigned char *a;
	tly_pool *p;
	size_t i;

	(void)state;
	p = tly_pool_new(1024);
	assert_non_null(p);
	a = tly_palloc(p, 512);
	assert_non_null(a);
	memset(a, 0xaa, 512);
	tly_pool_reset(p);
	a = tly_pcalloc(p, 512);		/* the same, reused, memory */
	assert_non_null(a);
	for (i = 0; i < 512; i++)
		if (a[i] != 0)
			fail_msg("byte %zu: got 0x%02x, want 0", i, a[i]);
	tly_pool_free(p);
}

static void
test_strings(void **state)
{
	char big[3000];
	const char *src = "payment";
	tly_pool *p;
	char *s;

	(void)state;
	p = tly_pool_new(1024);
	assert_non_null(p);

	s = tly_pstrdup(p, src);
	want_str(s, "payment");
	assert_true(s != src);
	assert_null(tly_pstrdup(p, NULL));
	want_str(tly_pstrdup(p, ""), "");

	want_str(tly_pstrndup(p, "abcdef", 3), "abc");
	want_str(tly_pstrndup(p, "abc", 0), "");
	s = tly_pstrndup(p, "a\0b", 3);		/* n bytes, even past NUL */
	assert_memory_equal(s, "a\0b", 4);

	want_str(tly_psprintf(p, "%s_%03d", "pi", 7), "pi_007");
	want_str(tly_psprintf(p, "%s", ""), "");

	/* longer than a block */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = tly_psprintf(p, "<%s>", big);
	assert_non_null(s);
	want_int(strlen(s), sizeof(big) + 1);
	want_int(s[0], '<');
	want_int(s[sizeof(big)], '>');
	want_str(tly_pstrdup(p, big), big);
	tly_pool_free(p);
}

typedef struct order {
	int	 seen[8];
	int	 n;
} order;

typedef struct step {
	order	*o;
	int	 id;
} step;

static void
record(void *arg)
{
	step *s = arg;

	if (s->o->n < 8)
		s->o->seen[s->o->n] = s->id;
	s->o->n++;
}

static void
register_three(tly_pool *p, order *o, step st[3])
{
	int i;

	for (i = 0; i < 3; i++) {
		st[i].o = o;
		st[i].id = i + 1;
		want_int(tly_pool_cleanup(p, record, &st[i]), TLY_OK);
	}
}

static void
want_order(const order *o)
{
	want_int(o->n, 3);
	if (o->seen[0] != 3 || o->seen[1] != 2 || o->seen[2] != 1)
		fail_msg("cleanup order: got %d %d %d, want 3 2 1",
		    o->seen[0], o->seen[1], o->seen[2]);
}

static void
test_cleanups(void **state)
{
	order o;
	step st[3];
	tly_pool *p;

	(void)state;
	p = tly_pool_new(1024);
	assert_non_null(p);

	/* at reset, in reverse order, once */
	memset(&o, 0, sizeof(o));
	register_three(p, &o, st);
	want_int(o.n, 0);
	tly_pool_reset(p);
	want_order(&o);
	tly_pool_reset(p);
	want_int(o.n, 3);

	/* at free, in reverse order */
	memset(&o, 0, sizeof(o));
	register_three(p, &o, st);
	tly_pool_free(p);
	want_order(&o);
}

static void
count(void *arg)
{
	(*(int *)arg)++;
}

static void
test_reset_cycles(void **state)
{
	tly_pool *p;
	char *s;
	int i, runs = 0;

	(void)state;
	p = tly_pool_new(4096);
	assert_non_null(p);
	for (i = 0; i < 10000; i++) {
		s = tly_psprintf(p, "request %d", i);
		assert_non_null(s);
		want_aligned(tly_palloc(p, 3000), 3000);
		want_aligned(tly_palloc(p, 3000), 3000);	/* 2nd block */
		if (i % 10 == 0)
			want_aligned(tly_palloc(p, 20000), 20000);
		want_int(tly_pool_cleanup(p, count, &runs), TLY_OK);
		tly_pool_reset(p);
		if (tly_pool_used(p) != 0)
			fail_msg("cycle %d: used got %zu, want 0", i,
			    tly_pool_used(p));
	}
	want_int(runs, 10000);
	tly_pool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_used),
		cmocka_unit_test(test_pcalloc),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_cleanups),
		cmocka_unit_test(test_reset_cycles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

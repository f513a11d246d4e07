/*
 * ratelimit_test.c - core/ratelimit.c
 *
 * Token buckets driven by an explicit clock (now_ms): the burst, then a
 * refusal whose retry_after is the whole seconds until the next token
 * (checked by waiting exactly that long), refill over simulated time up
 * to the burst and no further, per_second 0 (and no table) meaning
 * unlimited, independent keys, many more keys than buckets (no crash, a
 * new key always gets its whole burst), the table shared with a forked
 * child, and several processes hammering a tiny table at once, which
 * must finish (bucket locks taken in a cycle used to deadlock).
 */
#include "tly_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ratelimit.h"

static int
setup(void **state)
{
	*state = tly_rl_new(1024);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	tly_rl_free(*state);
	return 0;
}

/* take_n - 'n' takes at 'now' all allowed, then one refused */
static void
take_n(tly_rl *rl, const char *key, const tly_rate_conf *r, int64_t now,
    int n, int *retry)
{
	int i, ra;

	for (i = 0; i < n; i++) {
		ra = -1;
		if (tly_rl_take(rl, key, r, now, &ra) != 1)
			fail_msg("%s at %lld, take %d: got refused, want "
			    "allowed (%d of %d)", key, (long long)now, i + 1,
			    i + 1, n);
		if (ra != 0)
			fail_msg("%s: retry_after got %d, want 0 when allowed",
			    key, ra);
	}
	if (tly_rl_take(rl, key, r, now, &ra) != 0)
		fail_msg("%s at %lld, take %d: got allowed, want refused",
		    key, (long long)now, n + 1);
	if (retry)
		*retry = ra;
}

static void
test_burst(void **state)
{
	tly_rl *rl = *state;
	tly_rate_conf r = { 10, 5 };
	int ra;

	take_n(rl, "buyer:1", &r, 1000, 5, &ra);
	assert_true(ra >= 1);
	/* refused again, nothing consumed by the refusal */
	want_int(tly_rl_take(rl, "buyer:1", &r, 1000, &ra), 0);
	want_int(tly_rl_take(rl, "buyer:1", &r, 1099, &ra), 0);
	want_int(tly_rl_take(rl, "buyer:1", &r, 1100, &ra), 1);
	want_int(tly_rl_take(rl, "buyer:1", &r, 1100, &ra), 0);

	/* another key has its own bucket */
	take_n(rl, "buyer:2", &r, 1100, 5, NULL);
}

static void
test_refill(void **state)
{
	tly_rl *rl = *state;
	tly_rate_conf r = { 10, 5 };		/* a token per 100 ms */
	int64_t t = 50000;
	int i, ra;

	take_n(rl, "k", &r, t, 5, NULL);
	/* 250 ms: two and a half tokens, so two */
	take_n(rl, "k", &r, t + 250, 2, NULL);
	/* the half token was kept: 50 ms more make a whole one */
	want_int(tly_rl_take(rl, "k", &r, t + 299, &ra), 0);
	want_int(tly_rl_take(rl, "k", &r, t + 300, &ra), 1);
	/* a long idle time fills up to the burst, never beyond */
	take_n(rl, "k", &r, t + 3600 * 1000, 5, NULL);
	/* a clock going backwards adds nothing */
	want_int(tly_rl_take(rl, "k", &r, t, &ra), 0);
	/* a steady 10/s stream is allowed indefinitely */
	t += 3600 * 1000;
	for (i = 1; i <= 100; i++)
		if (tly_rl_take(rl, "k", &r, t + i * 100, &ra) != 1)
			fail_msg("stream at +%d ms: got refused, want allowed",
			    i * 100);
	/* fast rates refill within a millisecond */
	r.per_second = 5000;
	r.burst = 2;
	take_n(rl, "fast", &r, 10, 2, NULL);
	want_int(tly_rl_take(rl, "fast", &r, 11, &ra), 1);
}

static void
test_retry_after(void **state)
{
	static const struct {
		int	 per_second, burst, elapsed, want;
	} rows[] = {
		{ 1, 1, 0, 1 },		/* 1000 ms to wait: 1 s */
		{ 1, 1, 1, 1 },		/* 999 ms */
		{ 1, 1, 999, 1 },	/* 1 ms */
		{ 1, 3, 0, 1 },
		{ 2, 1, 0, 1 },		/* 500 ms */
		{ 3, 1, 0, 1 },		/* 334 ms */
		{ 1000, 5, 0, 1 },	/* 1 ms */
		{ 1000000, 5, 0, 1 },
	};
	tly_rl *rl = *state;
	tly_rate_conf r;
	char key[32];
	int64_t t = 7000;
	size_t i;
	int ra;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(key, sizeof(key), "retry:%zu", i);
		r.per_second = rows[i].per_second;
		r.burst = rows[i].burst;
		take_n(rl, key, &r, t, rows[i].burst, NULL);
		want_int(tly_rl_take(rl, key, &r, t + rows[i].elapsed, &ra),
		    0);
		if (ra != rows[i].want)
			fail_msg("%d/s burst %d after %d ms: retry_after got "
			    "%d, want %d", rows[i].per_second, rows[i].burst,
			    rows[i].elapsed, ra, rows[i].want);
		/* waiting exactly that long is enough */
		if (tly_rl_take(rl, key, &r, t + rows[i].elapsed +
		    (int64_t)ra * 1000, &ra) != 1)
			fail_msg("%d/s: after retry_after got refused, want "
			    "allowed", rows[i].per_second);
	}
}

static void
test_unlimited(void **state)
{
	tly_rl *rl = *state;
	tly_rate_conf r = { 0, 1 };
	int i, ra;

	for (i = 0; i < 10000; i++) {
		ra = -1;
		if (tly_rl_take(rl, "admin", &r, 5, &ra) != 1 || ra != 0)
			fail_msg("take %d: got refused or retry %d, want "
			    "allowed", i, ra);
	}
	/* no table at all: everything is allowed */
	r.per_second = 1;
	for (i = 0; i < 100; i++)
		want_int(tly_rl_take(NULL, "x", &r, 5, &ra), 1);
	want_int(ra, 0);
	tly_rl_free(NULL);
}

static void
test_many_keys(void **state)
{
	tly_rl *rl;
	tly_rate_conf r = { 1, 3 };
	char key[32];
	int i;

	(void)state;
	rl = tly_rl_new(64);
	assert_non_null(rl);
	/* 10 000 keys through 64 buckets: each new key its whole burst */
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "buyer:%d", i);
		take_n(rl, key, &r, 1000 + i, 3, NULL);
	}
	/* a key evicted long ago comes back with a full bucket */
	take_n(rl, "buyer:0", &r, 1000 + 10000, 3, NULL);
	tly_rl_free(rl);

	/* a table smaller than the probe sequence still works */
	rl = tly_rl_new(1);
	assert_non_null(rl);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "tiny:%d", i);
		take_n(rl, key, &r, 1000 + i, 3, NULL);
	}
	tly_rl_free(rl);
}

static void
test_fork_shared(void **state)
{
	tly_rl *rl = *state;
	tly_rate_conf r = { 1, 4 };
	pid_t pid;
	int st, ra;

	take_n(rl, "shared", &r, 1000, 4, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the child: the parent's bucket is empty here too */
		int code = 0;

		if (tly_rl_take(rl, "shared", &r, 1000, &ra) != 0)
			code |= 1;
		if (tly_rl_take(rl, "from-child", &r, 1000, &ra) != 1 ||
		    tly_rl_take(rl, "from-child", &r, 1000, &ra) != 1)
			code |= 2;
		_exit(code);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) & 1)
		fail_msg("child: \"shared\" got allowed, want refused (empty "
		    "in the parent)");
	if (WEXITSTATUS(st) & 2)
		fail_msg("child: \"from-child\" got refused, want allowed");
	/* and the child's takes are seen by the parent */
	take_n(rl, "from-child", &r, 1000, 2, NULL);
}

#define HAMMER_PROCS	4
#define HAMMER_TAKES	20000

static void
test_contention(void **state)
{
	tly_rate_conf r = { 10, 5 };
	pid_t pids[HAMMER_PROCS];
	tly_rl *rl;
	int k, st, hung = 0;

	(void)state;
	/*
	 * Eight buckets, so every probe sequence covers the table; with
	 * lock cycles possible this hung within a few thousand takes.
	 */
	rl = tly_rl_new(8);
	assert_non_null(rl);
	for (k = 0; k < HAMMER_PROCS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			char key[32];
			int i, ra;

			alarm(60);
			for (i = 0; i < HAMMER_TAKES; i++) {
				snprintf(key, sizeof(key), "p%d:%d", k,
				    i % 50);
				tly_rl_take(rl, key, &r, i, &ra);
			}
			_exit(0);
		}
	}
	for (k = 0; k < HAMMER_PROCS; k++) {
		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			hung++;
	}
	tly_rl_free(rl);
	if (hung)
		fail_msg("%d of %d processes: got stuck (SIGALRM after 60 s), "
		    "want all done", hung, HAMMER_PROCS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unlimited, setup,
		    teardown),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test_setup_teardown(test_fork_shared, setup,
		    teardown),
		cmocka_unit_test(test_contention),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

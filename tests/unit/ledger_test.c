/*
 * ledger_test.c - the pure ledger (core/ledger.c): the reversal plan
 *
 * A small model of one payment's ledger (its stakeholders' shares and
 * what their reversal rows total) drives tly_ledger_plan() through moves
 * of the cumulative reversed amount C (refunds and disputes up, failed
 * refunds and reinstatements down), applies the planned rows, and checks
 * after every move, whatever the case:
 *   - the rows sum exactly to −(after − before);
 *   - every stakeholder but the talent has reversed trunc(S_k × C / A) in
 *     all, the bearer's kept fee is trunc(F × C / A), the talent the rest;
 *   - at C = A every share is exactly zero (share + reversal rows).
 * Tables give the exact rows of each move for: a full refund; a negative
 * share (the platform bearing a real fee above its fee); every rounding
 * case of a positive and of a negative share; partial refunds summing to
 * the total; zero- and three-decimal currencies (minor units, nothing
 * else); a refund that failed (a move down).  Then the 1-cent strand of a
 * fee adjustment booked between two partial refunds, seeded sweeps with
 * shares of either sign and fee changes, tly_ledger_part() itself, and
 * the refusals.  The advance plans: what an offset keeps when its
 * payment's C moves (T(C) = O - floor(O × C / A), a move back limited by
 * the advance's room, nothing kept at C = A), and the real fee
 * re-targeting the bearer's offsets (newest first when it grew, oldest
 * first within each room when it shrank, N' under the new target), in
 * tables and sweeps.  Failures say "got X, want Y" and name the case.
 */
#include <stdio.h>

#include "tly_test.h"

#include "ledger.h"
#include "tly_str.h"

#define MAXMOVES	6

/* a payment as the ledger has it; parties[0] is the talent */
typedef struct model {
	tly_ledger_rev	 in;		/* shares, booked totals, C */
	const char	*name;
} model;

/* party - stakeholder 'i' of 'm' */
static void
party(model *m, int i, const char *acct, const char *role, int64_t v)
{
	tly_ledger_party *p = &m->in.parties[i];

	tly_strlcpy(p->account_id, acct, sizeof(p->account_id));
	tly_strlcpy(p->role, role, sizeof(p->role));
	p->share_cent = v;
	if (i + 1 > m->in.nparties)
		m->in.nparties = i + 1;
}

/* init - payment 'name' of amount 'a', fee 'f' borne by 'bearer' */
static void
init(model *m, const char *name, int64_t a, int64_t f, const char *bearer)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->in.amount_cent = a;
	m->in.fee_cent = f;
	tly_strlcpy(m->in.bearer_id, bearer, sizeof(m->in.bearer_id));
}

/* find - the party of 'm' with 'acct' and 'role', or NULL */
static tly_ledger_party *
find(model *m, const char *acct, const char *role)
{
	int i;

	for (i = 0; i < m->in.nparties; i++)
		if (strcmp(m->in.parties[i].account_id, acct) == 0 &&
		    strcmp(m->in.parties[i].role, role) == 0)
			return &m->in.parties[i];
	return NULL;
}

/* exact - the invariants of the model at its current C */
static void
exact(model *m, const char *when)
{
	const tly_ledger_rev *in = &m->in;
	int64_t c = in->before_cent, a = in->amount_cent, want, sum;
	__int128 t = 0;
	int i;

	for (i = 1; i < in->nparties; i++) {
		want = -(int64_t)((__int128)in->parties[i].share_cent * c / a);
		t += -want;
		if (in->parties[i].booked_cent != want)
			fail_msg("%s, %s: %s reversed got %lld, want %lld at "
			    "C = %lld", m->name, when, in->parties[i].role,
			    (long long)in->parties[i].booked_cent,
			    (long long)want, (long long)c);
	}
	want = -(int64_t)((__int128)in->fee_cent * c / a);
	t += -want;
	if (in->kept_booked_cent != want)
		fail_msg("%s, %s: kept fee got %lld, want %lld at C = %lld",
		    m->name, when, (long long)in->kept_booked_cent,
		    (long long)want, (long long)c);
	want = -(int64_t)(c - t);
	if (in->parties[0].booked_cent != want)
		fail_msg("%s, %s: talent reversed got %lld, want %lld at C = "
		    "%lld", m->name, when,
		    (long long)in->parties[0].booked_cent, (long long)want,
		    (long long)c);
	if (c != a)
		return;
	for (i = 0; i < in->nparties; i++) {
		sum = in->parties[i].share_cent + in->parties[i].booked_cent;
		if (sum != 0)
			fail_msg("%s, %s: fully reversed, %s's share got %lld, "
			    "want 0", m->name, when, in->parties[i].role,
			    (long long)sum);
	}
	if (in->kept_booked_cent != -in->fee_cent)
		fail_msg("%s, %s: fully reversed, kept fee got %lld, want "
		    "%lld", m->name, when, (long long)in->kept_booked_cent,
		    (long long)-in->fee_cent);
}

/*
 * move - plan the move of 'm' to C = 'to', check its rows sum to
 * −(to − C), apply them; the rows go to 'rows', their count to '*n'
 */
static void
move(model *m, int64_t to, tly_ledger_row *rows, int *n)
{
	tly_ledger_party *p;
	int64_t sum = 0;
	tly_err e;
	int i;

	tly_err_clear(&e);
	m->in.after_cent = to;
	if (tly_ledger_plan(&m->in, rows, n, &e) != TLY_OK)
		fail_msg("%s: the move %lld -> %lld refused: %s", m->name,
		    (long long)m->in.before_cent, (long long)to, e.msg);
	for (i = 0; i < *n; i++) {
		sum += rows[i].amount_cent;
		if (rows[i].amount_cent == 0)
			fail_msg("%s: a zero row", m->name);
		if (strcmp(rows[i].role, "STRIPE_FEE_KEPT") == 0) {
			if (strcmp(rows[i].account_id, m->in.bearer_id) != 0)
				fail_msg("%s: kept fee on %s, want the bearer "
				    "%s", m->name, rows[i].account_id,
				    m->in.bearer_id);
			m->in.kept_booked_cent += rows[i].amount_cent;
			continue;
		}
		p = find(m, rows[i].account_id, rows[i].role);
		if (p == NULL)
			fail_msg("%s: a row for an unknown %s", m->name,
			    rows[i].role);
		p->booked_cent += rows[i].amount_cent;
	}
	if (sum != -(to - m->in.before_cent))
		fail_msg("%s: the move %lld -> %lld: rows sum got %lld, want "
		    "%lld", m->name, (long long)m->in.before_cent,
		    (long long)to, (long long)sum,
		    (long long)-(to - m->in.before_cent));
	m->in.before_cent = to;
	exact(m, "after a move");
}

/* of - Σ of 'rows' of role 'role' */
static int64_t
of(const tly_ledger_row *rows, int n, const char *role)
{
	int64_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].role, role) == 0)
			s += rows[i].amount_cent;
	return s;
}

/* --- tly_ledger_part ---------------------------------------------------- */

static void
test_part(void **state)
{
	static const struct {
		int64_t	 v, c, a, want;
	} t[] = {
		{ 1, 1, 3, 0 },			/* floor of a positive share */
		{ 2, 2, 3, 1 },			/* 1.33 */
		{ 5, 1, 2, 2 },			/* 2.5 */
		{ 3, 3, 3, 3 },			/* whole */
		{ 7, 0, 7, 0 },			/* nothing reversed */
		{ -1, 1, 3, 0 },		/* toward zero: -0.33 */
		{ -2, 2, 3, -1 },		/* -1.33 */
		{ -5, 1, 2, -2 },		/* -2.5 */
		{ -3, 3, 4, -2 },		/* -2.25 */
		{ -3, 3, 3, -3 },		/* whole */
		{ 0, 5, 9, 0 },
		{ INT64_MAX, 1, 2, INT64_MAX / 2 },	/* 128-bit product */
		{ INT64_MAX, 99999998, 99999999, 9223371944621054516LL },
		{ INT64_MIN, 7, 7, INT64_MIN },
		{ INT64_MIN, 1, 2, INT64_MIN / 2 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t got = tly_ledger_part(t[i].v, t[i].c, t[i].a);

		if (got != t[i].want)
			fail_msg("part(%lld, %lld, %lld): got %lld, want %lld",
			    (long long)t[i].v, (long long)t[i].c,
			    (long long)t[i].a, (long long)got,
			    (long long)t[i].want);
	}
}

/* --- tables of moves and their exact rows ------------------------------- */

/* the rows of one move by role: talent, platform, host, kept fee */
typedef struct want_move {
	int64_t	 to;
	int64_t	 talent, platform, host, kept;
} want_move;

typedef struct plan_case {
	const char	*name;
	const char	*currency;	/* minor units whatever it is */
	int64_t		 amount, fee;
	int64_t		 talent, platform, host;	/* net shares */
	const char	*bearer;
	want_move	 moves[MAXMOVES];	/* to = -1 ends */
} plan_case;

static const plan_case cases[] = {
	{ "a full refund", "usd", 5500, 189, 4811, 450, 50, "acc_t",
	    { { 5500, -4811, -450, -50, -189 }, { -1, 0, 0, 0, 0 } } },
	{ "two partial refunds summing to the total", "usd", 5500, 189,
	    4811, 450, 50, "acc_t",
	    { { 2000, -1751, -163, -18, -68 },
	      { 5500, -3060, -287, -32, -121 }, { -1, 0, 0, 0, 0 } } },
	{ "a negative platform share, refunded in full", "usd", 1500, 780,
	    1000, -280, 0, "acc_platform",
	    { { 1500, -1000, 280, 0, -780 }, { -1, 0, 0, 0, 0 } } },
	{ "a negative platform share, 600 then the rest", "usd", 1500, 780,
	    1000, -280, 0, "acc_platform",
	    { { 600, -400, 112, 0, -312 }, { 1500, -600, 168, 0, -468 },
	      { -1, 0, 0, 0, 0 } } },
	{ "a positive share floored, cent by cent", "usd", 3, 0, 2, 1, 0,
	    "acc_t",
	    { { 1, -1, 0, 0, 0 }, { 2, -1, 0, 0, 0 }, { 3, 0, -1, 0, 0 },
	      { -1, 0, 0, 0, 0 } } },
	{ "a negative share rounded toward zero, cent by cent", "usd", 4, 4,
	    3, -3, 0, "acc_platform",
	    /* trunc(-3 C / 4): 0, -1, -2, -3; trunc(4 C / 4) = C */
	    { { 1, 0, 0, 0, -1 }, { 2, -1, 1, 0, -1 },
	      { 3, -1, 1, 0, -1 }, { 4, -1, 1, 0, -1 },
	      { -1, 0, 0, 0, 0 } } },
	{ "a share of 1 cent of 3 parties, refunded 1 by 1", "usd", 3, 1, 1,
	    1, 0, "acc_t",
	    { { 1, -1, 0, 0, 0 }, { 2, -1, 0, 0, 0 }, { 3, 1, -1, 0, -1 },
	      { -1, 0, 0, 0, 0 } } },
	{ "jpy (zero-decimal): yen are the minor units", "jpy", 1000, 36,
	    464, 500, 0, "acc_t",
	    { { 333, -156, -166, 0, -11 }, { 1000, -308, -334, 0, -25 },
	      { -1, 0, 0, 0, 0 } } },
	{ "bhd (three decimals): fils, refunds in steps of 10", "bhd",
	    10000, 590, 4410, 5000, 0, "acc_t",
	    { { 3330, -1469, -1665, 0, -196 },
	      { 10000, -2941, -3335, 0, -394 }, { -1, 0, 0, 0, 0 } } },
	{ "a refund that failed: the move down, then the full refund",
	    "usd", 5500, 189, 4811, 450, 50, "acc_t",
	    { { 2999, -2624, -245, -27, -103 },
	      { 700, 2011, 188, 21, 79 },
	      { 5500, -4198, -393, -44, -165 }, { -1, 0, 0, 0, 0 } } },
};

/* load - the model of case 'c' */
static void
load(model *m, const plan_case *c)
{
	init(m, c->name, c->amount, c->fee, c->bearer);
	party(m, 0, "acc_t", "TALENT", c->talent);
	party(m, 1, "acc_platform", "PLATFORM", c->platform);
	if (c->host != 0)
		party(m, 2, "acc_h", "HOST_PARTNER", c->host);
}

static void
test_plan_table(void **state)
{
	tly_ledger_row rows[TLY_LEDGER_ROWS];
	const want_move *w;
	size_t i;
	model m;
	int n, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&m, &cases[i]);
		for (k = 0; k < MAXMOVES && cases[i].moves[k].to >= 0; k++) {
			w = &cases[i].moves[k];
			move(&m, w->to, rows, &n);
			if (of(rows, n, "TALENT") != w->talent ||
			    of(rows, n, "PLATFORM") != w->platform ||
			    of(rows, n, "HOST_PARTNER") != w->host ||
			    of(rows, n, "STRIPE_FEE_KEPT") != w->kept)
				fail_msg("%s (%s), move %d to %lld: got talent "
				    "%lld platform %lld host %lld kept %lld, "
				    "want %lld %lld %lld %lld", cases[i].name,
				    cases[i].currency, k, (long long)w->to,
				    (long long)of(rows, n, "TALENT"),
				    (long long)of(rows, n, "PLATFORM"),
				    (long long)of(rows, n, "HOST_PARTNER"),
				    (long long)of(rows, n, "STRIPE_FEE_KEPT"),
				    (long long)w->talent,
				    (long long)w->platform,
				    (long long)w->host, (long long)w->kept);
		}
	}
}

/* --- the fee adjustment between two partial refunds --------------------- */

/*
 * The platform bears the fee: estimate 73 (platform 427), real fee 75
 * (platform 425) booked between a refund of 600 and the rest.  At C =
 * 600 of 1500, trunc(427 × 0.4) + trunc(73 × 0.4) = 170 + 29 = 199 but
 * trunc(425 × 0.4) + trunc(75 × 0.4) = 170 + 30 = 200: a plan that
 * assumed the new shares had always been there would leave the talent
 * 1 cent after the full refund.  The plan corrects against what was
 * booked: every share ends at exactly zero, the kept fee at the real fee.
 */
static void
test_fee_adjustment_strand(void **state)
{
	tly_ledger_row rows[TLY_LEDGER_ROWS];
	static const struct {
		const char	*bearer;
		int64_t		 talent0, platform0, fee0, real;
	} t[] = {
		{ "acc_platform", 1000, 427, 73, 75 },
		{ "acc_platform", 1000, 427, 73, 780 },	/* goes negative */
		{ "acc_t", 927, 500, 73, 75 },
		{ "acc_t", 927, 500, 73, 40 },		/* a smaller fee */
	};
	tly_ledger_party *bearer;
	model m;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		init(&m, t[i].bearer, 1500, t[i].fee0, t[i].bearer);
		party(&m, 0, "acc_t", "TALENT", t[i].talent0);
		party(&m, 1, "acc_platform", "PLATFORM", t[i].platform0);
		move(&m, 600, rows, &n);
		/* charge.updated: the fee adjustment d on the bearer */
		bearer = strcmp(t[i].bearer, "acc_t") == 0 ?
		    &m.in.parties[0] : &m.in.parties[1];
		bearer->share_cent -= t[i].real - t[i].fee0;
		m.in.fee_cent = t[i].real;
		move(&m, 1500, rows, &n);
		want_int(m.in.parties[0].share_cent +
		    m.in.parties[0].booked_cent, 0);
		want_int(m.in.parties[1].share_cent +
		    m.in.parties[1].booked_cent, 0);
		want_int(m.in.kept_booked_cent, -t[i].real);
	}
}

/* --- seeded sweeps ------------------------------------------------------ */

static uint64_t
next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* rnd - a value in [lo, hi] */
static int64_t
rnd(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(next(s) % (uint64_t)(hi - lo + 1));
}

/*
 * random payments (shares of either sign, summing with the fee to the
 * amount) walked through random moves up and down, with fee adjustments
 * in between, ending refunded in full: the invariants of exact() after
 * every move, every share zero at the end
 */
static void
test_sweep(void **state)
{
	tly_ledger_row rows[TLY_LEDGER_ROWS];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int64_t a, rest, d;
	int round, i, np, step, n;
	char acct[16];
	model m;

	(void)state;
	for (round = 0; round < 3000; round++) {
		a = rnd(&seed, 1, round % 2 ? 99999999 : 5000);
		init(&m, "sweep", a, rnd(&seed, 0, a / 3), "acc_t");
		rest = a - m.in.fee_cent;
		np = (int)rnd(&seed, 1, 6);
		for (i = 1; i < np; i++) {
			int64_t v = rnd(&seed, -a / 4, a / 3);

			snprintf(acct, sizeof(acct), "acc_%d", i);
			party(&m, i, acct, "AGENT", v);
			rest -= v;
		}
		party(&m, 0, "acc_t", "TALENT", rest);
		if (np > 1 && next(&seed) % 2)
			tly_strlcpy(m.in.bearer_id, "acc_1",
			    sizeof(m.in.bearer_id));
		for (step = 0; step < 8; step++) {
			move(&m, rnd(&seed, 0, a), rows, &n);
			if (next(&seed) % 3 == 0) {	/* the real fee */
				d = rnd(&seed, -m.in.fee_cent, a / 10);
				m.in.fee_cent += d;
				if (strcmp(m.in.bearer_id, "acc_t") == 0)
					m.in.parties[0].share_cent -= d;
				else
					m.in.parties[1].share_cent -= d;
			}
		}
		move(&m, a, rows, &n);
	}
}

/* --- advances: what an offset keeps when the payment's C moves ---------- */

/* kept - tly_ledger_offset_kept() of (O, N, A, before, after, room) */
static int64_t
kept(int64_t o, int64_t n, int64_t a, int64_t before, int64_t after,
    int64_t room)
{
	tly_ledger_offset m;
	int64_t k = -1;

	m.offset_cent = o;
	m.kept_cent = n;
	m.amount_cent = a;
	m.before_cent = before;
	m.after_cent = after;
	m.room_cent = room;
	if (tly_ledger_offset_kept(&m, &k) != TLY_OK)
		fail_msg("kept(O %lld, N %lld, A %lld, %lld -> %lld, room "
		    "%lld) refused", (long long)o, (long long)n, (long long)a,
		    (long long)before, (long long)after, (long long)room);
	return k;
}

/* target - T(C) = O - floor(O × C / A) */
static int64_t
target(int64_t o, int64_t a, int64_t c)
{
	return o - (int64_t)((__int128)o * c / a);
}

static void
test_kept_table(void **state)
{
	static const struct {
		const char	*name;
		int64_t		 o, n, a, before, after, room, want;
	} t[] = {
		{ "a full reversal", 1000, 1000, 1500, 0, 1500, 0, 0 },
		{ "a full reversal, room left", 999, 999, 1000, 0, 1000, 7, 0 },
		{ "a partial one first", 1000, 1000, 1500, 0, 500, 0, 667 },
		{ "then the rest", 1000, 667, 1500, 500, 1500, 0, 0 },
		{ "refunded in full, the refund fails", 1000, 0, 1000, 1000, 0,
		    5000, 1000 },
		{ "... the advance used up meanwhile", 1000, 0, 1000, 1000, 0,
		    0, 0 },
		{ "... 300 left on it", 1000, 0, 1000, 1000, 0, 300, 300 },
		{ "a dispute of half, won", 800, 400, 1000, 500, 0, 10000,
		    800 },
		{ "a move back below a cap", 800, 300, 1000, 500, 400, 10000,
		    480 },
		{ "a move back above a cap", 800, 600, 1000, 500, 400, 10000,
		    600 },
		{ "a floor: 1 of 3", 1, 1, 3, 0, 1, 0, 1 },
		{ "a floor: 2 of 3", 2, 2, 3, 0, 2, 0, 1 },
	};
	size_t i;
	int64_t got;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = kept(t[i].o, t[i].n, t[i].a, t[i].before, t[i].after,
		    t[i].room);
		if (got != t[i].want)
			fail_msg("kept, %s: got %lld, want %lld", t[i].name,
			    (long long)got, (long long)t[i].want);
	}
}

static void
test_kept_partials_strand_nothing(void **state)
{
	static const int64_t steps[] = { 1, 333, 7, 1000, 2, 99, 1 };
	int64_t o = 2777, a = 5500, c = 0, n = o, given = 0, k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		k = kept(o, n, a, c, c + steps[i], 0);
		c += steps[i];
		want_int(k, target(o, a, c));
		given += n - k;
		n = k;
	}
	k = kept(o, n, a, c, a, 0);
	given += n - k;
	want_int(k, 0);
	want_int(given, o);
}

static void
test_kept_sweep(void **state)
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
			if (k < 0 || k > t)
				fail_msg("run %d: kept got %lld, want 0..%lld",
				    run, (long long)k, (long long)t);
			if (after >= c && k > n)
				fail_msg("run %d: a move forward kept %lld, "
				    "more than %lld", run, (long long)k,
				    (long long)n);
			if (after < c && (k < n || k - n > room))
				fail_msg("run %d: a move back kept %lld from "
				    "%lld, room %lld", run, (long long)k,
				    (long long)n, (long long)room);
			n = k;
			c = after;
		}
		want_int(kept(o, n, a, c, a, o), 0);
	}
}

static void
test_kept_refused(void **state)
{
	tly_ledger_offset m;
	int64_t k;

	(void)state;
	memset(&m, 0, sizeof(m));
	want_int(tly_ledger_offset_kept(&m, &k), TLY_ERR);	/* A = 0 */
	m.amount_cent = 100;
	m.offset_cent = 10;
	m.kept_cent = 11;				/* N > O */
	want_int(tly_ledger_offset_kept(&m, &k), TLY_ERR);
	m.kept_cent = 10;
	m.after_cent = 101;
	want_int(tly_ledger_offset_kept(&m, &k), TLY_ERR);
	m.after_cent = 50;
	m.room_cent = -1;
	want_int(tly_ledger_offset_kept(&m, &k), TLY_ERR);
	m.room_cent = 0;
	want_int(tly_ledger_offset_kept(&m, &k), TLY_OK);
	want_int(k, 5);
}

/* --- advances: the real fee re-targets the bearer's offsets ------------- */

#define REFEE_MAX	3

static void
test_refee_table(void **state)
{
	static const struct {
		const char	*name;
		int64_t		 earn, delta, amount, reversed;
		int		 n;
		int64_t		 o[REFEE_MAX], kept[REFEE_MAX],
				 room[REFEE_MAX];
		int64_t		 left;	/* tly_ledger_refee_left */
		int64_t		 move[REFEE_MAX], after[REFEE_MAX];
	} t[] = {
		{ "a larger fee: 200 given back, newest first", 1000, 500,
		    1500, 0, 2, { 300, 400 }, { 300, 400 }, { 0, 0 }, 200,
		    { 0, -200 }, { 300, 200 } },
		{ "a fee above the earning: every offset given back", 1000,
		    1200, 1500, 0, 2, { 300, 400 }, { 300, 400 }, { 0, 0 },
		    700, { -300, -400 }, { 0, 0 } },
		{ "a smaller fee: 250 more, oldest first, each its room",
		    1000, -250, 1500, 0, 2, { 300, 400 }, { 300, 400 },
		    { 100, 1000 }, 250, { 100, 150 }, { 400, 550 } },
		{ "a smaller fee, no room left anywhere", 1000, -250, 1500, 0,
		    2, { 300, 400 }, { 300, 400 }, { 0, 0 }, 250, { 0, 0 },
		    { 300, 400 } },
		{ "a larger fee after a refund of 600 of 1500", 1000, 700,
		    1500, 600, 1, { 500 }, { 300 }, { 0 }, 200, { -200 },
		    { 180 } },
		{ "a smaller fee after a refund: the new target caps it", 1000,
		    -300, 1500, 600, 1, { 500 }, { 300 }, { 1000 }, 300,
		    { 300 }, { 480 } },
		{ "the earning still covers the offset: nothing moves", 1000,
		    100, 1500, 0, 1, { 300 }, { 300 }, { 0 }, 0, { 0 },
		    { 300 } },
	};
	tly_ledger_refee it[REFEE_MAX];
	int64_t o, left;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(it, 0, sizeof(it));
		for (k = 0, o = 0; k < t[i].n; k++) {
			it[k].offset_cent = t[i].o[k];
			it[k].kept_cent = t[i].kept[k];
			it[k].room_cent = t[i].room[k];
			o += t[i].o[k];
		}
		left = tly_ledger_refee_left(t[i].earn, o, t[i].delta);
		if ((left > 0 ? left : 0) != t[i].left)
			fail_msg("refee, %s: left got %lld, want %lld",
			    t[i].name, (long long)left, (long long)t[i].left);
		if (left <= 0)
			continue;
		if (tly_ledger_refee_plan(it, t[i].n, t[i].delta, left,
		    t[i].amount, t[i].reversed) != TLY_OK)
			fail_msg("refee, %s: refused", t[i].name);
		for (k = 0; k < t[i].n; k++)
			if (it[k].fee_move_cent != t[i].move[k] ||
			    it[k].kept_after_cent != t[i].after[k])
				fail_msg("refee, %s, advance %d: got O' - O "
				    "%lld N' %lld, want %lld %lld", t[i].name,
				    k, (long long)it[k].fee_move_cent,
				    (long long)it[k].kept_after_cent,
				    (long long)t[i].move[k],
				    (long long)t[i].after[k]);
	}
}

/*
 * random advances and fee moves: 0 <= N' <= O', N' - N within the room,
 * the moves together never beyond 'left', given back only when the fee
 * grew and taken only when it shrank
 */
static void
test_refee_sweep(void **state)
{
	tly_ledger_refee it[REFEE_MAX];
	uint64_t seed = 0x2545f4914f6cdd1dull;
	int64_t a, c, earn, delta, o, left, moved;
	int round, k, n;

	(void)state;
	for (round = 0; round < 5000; round++) {
		a = rnd(&seed, 1, 100000);
		c = rnd(&seed, 0, a);
		earn = rnd(&seed, 0, a);
		n = (int)rnd(&seed, 1, REFEE_MAX);
		memset(it, 0, sizeof(it));
		for (k = 0, o = 0; k < n; k++) {
			it[k].offset_cent = rnd(&seed, 0, (earn - o) / 2);
			it[k].kept_cent = target(it[k].offset_cent, a, c);
			it[k].room_cent = rnd(&seed, 0, a);
			o += it[k].offset_cent;
		}
		delta = rnd(&seed, -a, a);
		left = tly_ledger_refee_left(earn, o, delta);
		if (delta == 0 || left <= 0)
			continue;
		if (tly_ledger_refee_plan(it, n, delta, left, a, c) != TLY_OK)
			fail_msg("round %d: refused", round);
		for (k = 0, moved = 0; k < n; k++) {
			int64_t o1 = it[k].offset_cent + it[k].fee_move_cent;

			moved += it[k].fee_move_cent;
			if (o1 < 0 || it[k].kept_after_cent < 0 ||
			    it[k].kept_after_cent > o1 ||
			    it[k].kept_after_cent - it[k].kept_cent >
			    it[k].room_cent)
				fail_msg("round %d, advance %d: O' %lld N' "
				    "%lld (N %lld, room %lld)", round, k,
				    (long long)o1,
				    (long long)it[k].kept_after_cent,
				    (long long)it[k].kept_cent,
				    (long long)it[k].room_cent);
			if ((delta > 0 && it[k].fee_move_cent > 0) ||
			    (delta < 0 && it[k].fee_move_cent < 0))
				fail_msg("round %d: a move against the fee",
				    round);
		}
		if ((moved < 0 ? -moved : moved) > left)
			fail_msg("round %d: moved %lld, more than %lld", round,
			    (long long)moved, (long long)left);
	}
}

/* --- refusals ------------------------------------------------------------ */

static void
test_refused(void **state)
{
	tly_ledger_row rows[TLY_LEDGER_ROWS];
	model m;
	tly_err e;
	int n;

	(void)state;
	tly_err_clear(&e);
	load(&m, &cases[0]);
	m.in.after_cent = 5501;			/* more than the amount */
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	want_int(n, 0);
	m.in.after_cent = -1;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	load(&m, &cases[0]);
	m.in.before_cent = 100;			/* nothing booked for it */
	m.in.after_cent = 200;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	load(&m, &cases[0]);
	m.in.amount_cent = 0;
	m.in.after_cent = 0;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	load(&m, &cases[0]);
	m.in.nparties = 0;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	load(&m, &cases[0]);
	m.in.nparties = TLY_LEDGER_MAX + 1;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_ERR);
	load(&m, &cases[0]);			/* no move: no rows */
	m.in.after_cent = 0;
	want_int(tly_ledger_plan(&m.in, rows, &n, &e), TLY_OK);
	want_int(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part),
		cmocka_unit_test(test_plan_table),
		cmocka_unit_test(test_fee_adjustment_strand),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_kept_table),
		cmocka_unit_test(test_kept_partials_strand_nothing),
		cmocka_unit_test(test_kept_sweep),
		cmocka_unit_test(test_kept_refused),
		cmocka_unit_test(test_refee_table),
		cmocka_unit_test(test_refee_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

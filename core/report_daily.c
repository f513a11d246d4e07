/*
 * report_daily.c - the admin dashboard: a currency's numbers per day and
 * a period's top products and payees (report.h), and the rollup that
 * keeps them cheap, written by the reports job (tly_job_reports)
 *
 * Owns report_days, report_block_payees/products, report_today and
 * report_top_payees/products (schema/016, 019): written by nothing else
 * and never inside a money transaction (one day, or today's mark, per
 * transaction of its own), read back by the dashboard.
 *
 *   days      closed days from the rollup (report_days) that the reports
 *             job computes from the ledger one day at a time;
 *   today     from its mark (report_today): the sums of today's rows that
 *             are only ever added (payments, the platform's and Stripe's
 *             fee rows) created before 'upto', the job's run minus
 *             [job.reports] horizon, plus the ledger's rows from 'upto'
 *             on; today's refunds, disputes and payouts (their states
 *             change) whole from the ledger;
 *   tops      a standard period (TOP_PERIODS days ending today) from the
 *             per-payee and per-product sums the same run cached
 *             (report_top_payees/products: its closed days and today
 *             before 'upto'), read in one snapshot with the mark, plus
 *             the rows from 'upto' on; another period from the blocks
 *             (report_block_payees/products: per day, and per aligned
 *             block of 2, 4, … 64 days, a dozen for 90 days);
 *   the rest  the days the rollup does not hold yet (today before the
 *             job's first run of the day, a day not filled yet) by GROUP
 *             BY day over index ranges of the ledger (payments, shares,
 *             refunds, disputes, payouts by currency and time).
 *
 * Exact either way: a number never comes from an estimate.  Statements
 * are built and run by qb.c.
 *
 * API:	tly_report_daily(), tly_job_reports().
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "report.h"
#include "tly_str.h"
#include "tx.h"

#define I		TLY_RT_INT
#define S		TLY_RT_STR
#define NCOLS(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define TOP_N		5

/* --- the dashboard ---------------------------------------------------- */

/* days_from_civil - days since 1970-01-01 of y-m-d (H. Hinnant) */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* civil_from_days - "YYYY-MM-DD" of day 'z' since 1970-01-01 */
static void
civil_from_days(int64_t z, char out[11])
{
	int64_t era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

/* parse_day - "YYYY-MM-DD" (a real date) into days since the epoch */
static int
parse_day(const char *s, const char *name, int64_t *out, tly_err *err)
{
	int y, m, d, k;
	char back[11];

	for (k = 0; k < 10; k++)
		if ((k == 4 || k == 7) ? s[k] != '-' :
		    (s[k] < '0' || s[k] > '9'))
			break;
	if (k < 10 || s[10] != '\0')
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s must be a date YYYY-MM-DD.", name);
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	*out = days_from_civil(y, m, d);
	civil_from_days(*out, back);
	if (m < 1 || m > 12 || d < 1 || strcmp(back, s) != 0)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    name, "%s is not a date.", name);
	return TLY_OK;
}

static const tly_rcol day_cols[] = {
	{ "date", S }, { "gross_cent", I }, { "payments", I },
	{ "platform_revenue_cent", I }, { "stripe_fees_cent", I },
	{ "refunds_cent", I }, { "refunds", I }, { "disputes_cent", I },
	{ "disputes", I }, { "payouts_cent", I }, { "payouts", I },
};

#define D_COLS	"gross_cent, payments, platform_revenue_cent, " \
	"stripe_fees_cent, refunds_cent, refunds, disputes_cent, disputes, " \
	"payouts_cent, payouts"
#define D_NUM	10		/* the integer columns of a day */

enum { D_GROSS = 1, D_PAYMENTS, D_PLATFORM, D_FEES, D_REFUNDS, D_NREFUNDS,
	D_DISPUTES, D_NDISPUTES, D_PAYOUTS, D_NPAYOUTS };

/* a period being computed: 'days' indexed from 'dfrom' */
typedef struct period {
	const char	*cur;
	int64_t		 dfrom;		/* day number of days row 0 */
	tly_rset	*days;
	int64_t		 dlo;		/* a range read from the ledger: … */
	char		 day[11];	/* … its first day (dlo) … */
	char		 lo[20];	/* … from this instant … */
	char		 hi[20];	/* … to this one, excluded */
} period;

/* instant - "YYYY-MM-DD HH:MM:SS" of second 's' since the epoch (UTC) */
static void
instant(int64_t s, char out[20])
{
	char d[11];
	int64_t r = s % 86400;

	civil_from_days(s / 86400, d);
	snprintf(out, 20, "%s %02d:%02d:%02d", d, (int)(r / 3600),
	    (int)(r / 60 % 60), (int)(r % 60));
}

/* range_days - the ledger range of the whole days 'a' to 'b' */
static void
range_days(period *pd, int64_t a, int64_t b)
{
	pd->dlo = a;
	civil_from_days(a, pd->day);
	instant(a * 86400, pd->lo);
	instant((b + 1) * 86400, pd->hi);
}

/*
 * add_days - run 'sql' (parameters: the range's first day, currency,
 * lo, hi) whose rows are (day index from that day, sum, count) and add
 * them to columns 'csum' and 'ccnt' (0: no count) of the period's days
 */
static int
add_days(tly_ctx *ctx, period *pd, const char *sql, int csum, int ccnt,
    tly_err *err)
{
	static const tly_rcol cols[] = {
		{ "day", I }, { "sum", I }, { "count", I },
	};
	tly_rset got, *d = pd->days;
	int64_t day;
	int rc, k;
	tly_qb b;

	tly_qb_init(&b, sql);
	tly_qb_s(&b, pd->day);
	tly_qb_s(&b, pd->cur);
	tly_qb_s(&b, pd->lo);
	tly_qb_s(&b, pd->hi);
	rc = tly_qb_run(ctx, &b, "day", cols, 3, TLY_REPORT_MAX_DAYS, &got,
	    err);
	if (rc)
		return rc;
	for (k = 0; k < got.nrows; k++) {
		day = got.i[k * 3] + (pd->dlo - pd->dfrom);
		if (day < 0 || day >= d->nrows)
			continue;
		d->i[day * d->ncols + csum] += got.i[k * 3 + 1];
		if (ccnt)
			d->i[day * d->ncols + ccnt] += got.i[k * 3 + 2];
	}
	return TLY_OK;
}

#define RANGE(col) \
	" WHERE currency = ? AND " col " >= ? AND " col " < ?"

#define LIVE_BOOKED	1	/* payments, platform, fees: rows only added */
#define LIVE_STATE	2	/* refunds, disputes, payouts: states change */

/*
 * live_days - the period's range pd->lo to pd->hi computed from the
 * ledger: index ranges over it (schema/016), grouped by day; 'what'
 * LIVE_BOOKED and/or LIVE_STATE
 */
static int
live_days(tly_ctx *ctx, period *pd, int what, tly_err *err)
{
	int rc = TLY_OK;

	if (what & LIVE_BOOKED) {
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM payments"
		    RANGE("created_at") " GROUP BY 1", D_GROSS, D_PAYMENTS,
		    err);
		if (rc == TLY_OK)
			rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, "
			    "?), SUM(amount_cent), 0 FROM shares"
			    RANGE("created_at") " AND account_id = "
			    "'acc_platform' AND role = 'PLATFORM' GROUP BY 1",
			    D_PLATFORM, 0, err);
		if (rc == TLY_OK)
			rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, "
			    "?), SUM(amount_cent), 0 FROM shares"
			    RANGE("created_at") " AND account_id = "
			    "'acc_stripe_fee' GROUP BY 1", D_FEES, 0, err);
	}
	if (rc || !(what & LIVE_STATE))
		return rc;
	rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
	    "SUM(amount_cent), COUNT(*) FROM refunds" RANGE("created_at")
	    " AND state = 'succeeded' GROUP BY 1", D_REFUNDS, D_NREFUNDS, err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(created_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM disputes"
		    RANGE("created_at") " GROUP BY 1", D_DISPUTES, D_NDISPUTES,
		    err);
	if (rc == TLY_OK)
		rc = add_days(ctx, pd, "SELECT DATEDIFF(paid_at, ?), "
		    "SUM(amount_cent), COUNT(*) FROM payouts" RANGE("paid_at")
		    " AND state = 'paid' GROUP BY 1", D_PAYOUTS, D_NPAYOUTS,
		    err);
	return rc;
}

static const tly_rcol top_product_cols[] = {
	{ "product_id", S }, { "name", S }, { "gross_cent", I },
	{ "payments", I },
};

static const tly_rcol top_payee_cols[] = {
	{ "account_id", S }, { "display_name", S }, { "kind", S },
	{ "earned_cent", I },
};

#define PAYEE_ROLES \
	"('TALENT', 'AGENT', 'AMBASSADOR', 'HOST_PARTNER')"

#define BLOCK_LEVELS	6	/* blocks of 1, 2, 4, … 64 days */
#define BLOCKS_MAX	48
#define TOP_PERIODS	{ 7, 30, 90 }	/* the dashboard's own (web/admin) */

/*
 * blocks - the aligned blocks covering days 'a' to 'b': at each day the
 * largest block (2^k days, starting at a multiple of 2^k) that fits;
 * appended to 'start'/'level' from '*n' on
 */
static void
blocks(int64_t a, int64_t b, int64_t *start, int *level, int *n)
{
	int k;

	while (a <= b && *n < BLOCKS_MAX) {
		for (k = BLOCK_LEVELS; k > 0; k--)
			if (a % (1 << k) == 0 && a + (1 << k) - 1 <= b)
				break;
		start[*n] = a;
		level[(*n)++] = k;
		a += 1 << k;
	}
}

/*
 * rolled_blocks - " AND (level = ? AND start_day = ? OR …)" for the
 * rolled-up days 'a' to 'b' but the live ones 'hlo' to 'hhi' (none when
 * hlo > hhi), bound to 'b'; false when there is none
 */
static int
rolled_blocks(tly_ctx *ctx, int64_t a, int64_t z, int64_t hlo, int64_t hhi,
    tly_qb *b)
{
	int64_t start[BLOCKS_MAX];
	int level[BLOCKS_MAX], n = 0, k;
	char *d;

	if (hlo > hhi)
		blocks(a, z, start, level, &n);
	else {
		blocks(a, hlo - 1, start, level, &n);
		blocks(hhi + 1, z, start, level, &n);
	}
	if (n == 0)
		return 0;
	tly_qb_add(b, " AND (");
	for (k = 0; k < n; k++) {
		d = tly_pcalloc(ctx->pool, 11);
		if (d == NULL)
			return 0;
		civil_from_days(start[k], d);
		tly_qb_add(b, k ? " OR (level = ? AND start_day = ?)" :
		    "(level = ? AND start_day = ?)");
		tly_qb_i(b, level[k]);
		tly_qb_s(b, d);
	}
	tly_qb_add(b, ")");
	return 1;
}

/*
 * where the period's top lists come from: the cached standard period
 * ('period' > 0: report_top_payees/products, its days until the mark),
 * or the rolled-up days 'dfrom' to 'dto' as blocks but the days 'hlo'
 * to 'hhi'; then the ledger's rows from 'lo' to 'hi' (lo NULL: none)
 */
typedef struct topsrc {
	int		 period;
	int64_t		 dfrom;
	int64_t		 dto;
	int64_t		 hlo;
	int64_t		 hhi;
	const char	*lo;
	const char	*hi;
} topsrc;

/* top_from - the rows summed (id, value…) of one top list, into 'b' */
static void
top_from(tly_ctx *ctx, const char *cur, const topsrc *t, int payees,
    tly_qb *b)
{
	if (t->period > 0) {
		tly_qb_add(b, payees ? "SELECT account_id AS id, earned_cent "
		    "AS g, 0 AS n FROM report_top_payees" :
		    "SELECT product_id AS id, gross_cent AS g, payments AS n "
		    "FROM report_top_products");
		tly_qb_add(b, " WHERE currency = ? AND period = ?");
		tly_qb_s(b, cur);
		tly_qb_i(b, t->period);
	} else {
		tly_qb_add(b, payees ? "SELECT account_id AS id, earned_cent "
		    "AS g, 0 AS n FROM report_block_payees" :
		    "SELECT product_id AS id, gross_cent AS g, payments AS n "
		    "FROM report_block_products");
		tly_qb_add(b, " WHERE currency = ?");
		tly_qb_s(b, cur);
		if (!rolled_blocks(ctx, t->dfrom, t->dto, t->hlo, t->hhi, b))
			tly_qb_add(b, " AND 0 = 1");
	}
	if (t->lo == NULL)
		return;
	tly_qb_add(b, payees ? " UNION ALL SELECT account_id, amount_cent, 0 "
	    "FROM shares WHERE currency = ? AND created_at >= ? AND "
	    "created_at < ? AND role IN " PAYEE_ROLES :
	    " UNION ALL SELECT c.product_id, p.amount_cent, 1 FROM payments "
	    "p JOIN checkouts c ON c.id = p.checkout_id WHERE p.currency = ? "
	    "AND p.created_at >= ? AND p.created_at < ?");
	tly_qb_s(b, cur);
	tly_qb_s(b, t->lo);
	tly_qb_s(b, t->hi);
}

/*
 * tops - the period's top products and payees from 't': summed per id,
 * the first TOP_N by sum (then id), then their names
 */
static int
tops(tly_ctx *ctx, tly_rdaily *r, const topsrc *t, tly_err *err)
{
	tly_qb b;
	int rc;

	tly_qb_init(&b, "SELECT x.id, pr.name, x.g, x.n FROM (SELECT id, "
	    "SUM(g) AS g, SUM(n) AS n FROM (");
	top_from(ctx, r->currency, t, 0, &b);
	tly_qb_add(&b, ") t WHERE id IS NOT NULL GROUP BY id ORDER BY 2 "
	    "DESC, 1 LIMIT ?) x JOIN products pr ON pr.id = x.id ORDER BY "
	    "3 DESC, 1");
	tly_qb_i(&b, TOP_N);
	rc = tly_qb_run(ctx, &b, "top_product", top_product_cols,
	    NCOLS(top_product_cols), TOP_N, &r->top_products, err);
	if (rc)
		return rc;
	tly_qb_init(&b, "SELECT x.id, a.display_name, a.kind, x.g FROM "
	    "(SELECT id, SUM(g) AS g FROM (");
	top_from(ctx, r->currency, t, 1, &b);
	tly_qb_add(&b, ") t GROUP BY id ORDER BY 2 DESC, 1 LIMIT ?) x JOIN "
	    "accounts a ON a.id = x.id ORDER BY 4 DESC, 1");
	tly_qb_i(&b, TOP_N);
	return tly_qb_run(ctx, &b, "top_payee", top_payee_cols,
	    NCOLS(top_payee_cols), TOP_N, &r->top_payees, err);
}

/* today's mark (report_today): its sums cover today before 'upto' */
typedef struct mark {
	int		 ok;		/* the row is today's */
	int		 cached;	/* the period asked is cached */
	char		 upto[20];
	int64_t		 sum[D_NUM + 1];	/* D_GROSS … D_FEES */
} mark;

/*
 * read_mark - currency 'cur''s mark if it is of day 'today', and whether
 * it cached the top lists of 'period' days (0: none asked)
 */
static int
read_mark(tly_ctx *ctx, const char *cur, int64_t today, int len,
    mark *m, tly_err *err)
{
	static const tly_rcol cols[] = {
		{ "upto", S }, { "gross_cent", I }, { "payments", I },
		{ "platform_revenue_cent", I }, { "stripe_fees_cent", I },
		{ "cached", I },
	};
	char *day, *p;
	tly_rset got;
	tly_qb b;
	int rc;

	memset(m, 0, sizeof(*m));
	day = tly_pcalloc(ctx->pool, 11);
	p = tly_pcalloc(ctx->pool, 8);
	if (day == NULL || p == NULL)
		return tly_err_internal(err);
	civil_from_days(today, day);
	snprintf(p, 8, "%d", len);
	tly_qb_init(&b, "SELECT DATE_FORMAT(upto, '%Y-%m-%d %H:%i:%s'), "
	    "gross_cent, payments, platform_revenue_cent, stripe_fees_cent, "
	    "FIND_IN_SET(?, periods) > 0 FROM report_today WHERE currency = "
	    "? AND day = ?");
	tly_qb_s(&b, p);
	tly_qb_s(&b, cur);
	tly_qb_s(&b, day);
	rc = tly_qb_run(ctx, &b, "mark", cols, NCOLS(cols), 1, &got, err);
	if (rc || got.nrows == 0 || got.null[0])
		return rc;
	m->ok = 1;
	tly_strlcpy(m->upto, got.s[0], sizeof(m->upto));
	m->sum[D_GROSS] = got.i[1];
	m->sum[D_PAYMENTS] = got.i[2];
	m->sum[D_PLATFORM] = got.i[3];
	m->sum[D_FEES] = got.i[4];
	m->cached = len > 0 && got.i[5] != 0;
	return TLY_OK;
}

/* standard - the cached period of 'dfrom' to 'dto' (0: not one) */
static int
standard(int64_t dfrom, int64_t dto, int64_t today)
{
	static const int periods[] = TOP_PERIODS;
	size_t k;

	if (dto != today)
		return 0;
	for (k = 0; k < sizeof(periods) / sizeof(periods[0]); k++)
		if (dto - dfrom + 1 == periods[k])
			return periods[k];
	return 0;
}

/*
 * cached_tops - the top lists of a standard period from its cache plus
 * today's ledger rows after the mark, read in one snapshot with the mark
 * they go with; *done false when the cache does not hold the period
 */
static int
cached_tops(tly_ctx *ctx, tly_rdaily *r, int len, int64_t today,
    int *done, tly_err *err)
{
	char *hi;
	topsrc t;
	mark m;
	int rc;

	*done = 0;
	hi = tly_pcalloc(ctx->pool, 20);
	if (hi == NULL)
		return tly_err_internal(err);
	instant((today + 1) * 86400, hi);
	rc = tly_db_begin(ctx->db, err);
	if (rc)
		return rc;
	rc = read_mark(ctx, r->currency, today, len, &m, err);
	if (rc == TLY_OK && m.ok && m.cached) {
		memset(&t, 0, sizeof(t));
		t.period = len;
		t.lo = m.upto;
		t.hi = hi;
		rc = tops(ctx, r, &t, err);
		*done = rc == TLY_OK;
	}
	if (rc) {
		tly_db_rollback(ctx->db);
		return rc;
	}
	return tly_db_commit(ctx->db, err);
}

/*
 * rolled_up - the days of the period that report_days holds (closed days
 * the reports job rolled up): copied into the days, marked in 'have'
 */
static int
rolled_up(tly_ctx *ctx, tly_rdaily *r, period *pd, unsigned char *have,
    tly_err *err)
{
	static const tly_rcol cols[] = {
		{ "day", I }, { "gross_cent", I }, { "payments", I },
		{ "platform_revenue_cent", I }, { "stripe_fees_cent", I },
		{ "refunds_cent", I }, { "refunds", I }, { "disputes_cent", I },
		{ "disputes", I }, { "payouts_cent", I }, { "payouts", I },
	};
	tly_rset got, *d = pd->days;
	int64_t day;
	int rc, k, c;
	tly_qb b;

	tly_qb_init(&b, "SELECT DATEDIFF(day, ?), " D_COLS " FROM "
	    "report_days WHERE currency = ? AND day BETWEEN ? AND ? AND day "
	    "< UTC_DATE()");
	tly_qb_s(&b, r->from);
	tly_qb_s(&b, r->currency);
	tly_qb_s(&b, r->from);
	tly_qb_s(&b, r->to);
	rc = tly_qb_run(ctx, &b, "day", cols, NCOLS(cols),
	    TLY_REPORT_MAX_DAYS, &got, err);
	if (rc)
		return rc;
	for (k = 0; k < got.nrows; k++) {
		day = got.i[k * got.ncols];
		if (day < 0 || day >= d->nrows)
			continue;
		have[day] = 1;
		for (c = 1; c <= D_NUM; c++)
			d->i[day * d->ncols + c] = got.i[k * got.ncols + c];
	}
	return TLY_OK;
}

/*
 * today_days - today's numbers from its mark: the sums before the mark,
 * the rows only ever added after it, the refunds, disputes and payouts
 * of the whole day (their states change: never summed ahead)
 */
static int
today_days(tly_ctx *ctx, period *pd, int64_t today, const mark *m,
    tly_err *err)
{
	tly_rset *d = pd->days;
	int64_t k = today - pd->dfrom;
	int rc, c;

	for (c = 1; c <= D_NUM; c++)
		d->i[k * d->ncols + c] = m->sum[c];
	range_days(pd, today, today);
	rc = live_days(ctx, pd, LIVE_STATE, err);
	if (rc)
		return rc;
	tly_strlcpy(pd->lo, m->upto, sizeof(pd->lo));
	return live_days(ctx, pd, LIVE_BOOKED, err);
}

/*
 * tly_report_daily - currency 'cur' (NULL: the first configured) per day
 * from 'from' to 'to' (YYYY-MM-DD, inclusive; NULL: the last 30 days),
 * at most TLY_REPORT_MAX_DAYS: gross volume and count of payments,
 * platform revenue (the platform's PLATFORM rows, net of reversals),
 * Stripe fees (the Stripe-fee account's rows), refunds made (succeeded),
 * disputes opened, payouts paid ('what' has TLY_REPORT_DAYS); the
 * period's top products and payees (TLY_REPORT_TOP).  Closed days come
 * from the rollup (report_days, kept by the reports job,
 * tly_job_reports), today from its mark (report_today) and the ledger's
 * rows after it; the days neither holds (today without a mark, a day
 * not rolled up yet) are computed from the ledger, as one range from the
 * first such day to the last.  The top lists of a standard period (7,
 * 30, 90 days ending today) come from its cache and today's rows after
 * the mark; other periods from the rolled-up days' blocks and the ledger
 * for the days not rolled up.
 */
int
tly_report_daily(tly_ctx *ctx, const char *cur, const char *from,
    const char *to, int what, tly_rdaily *r, tly_err *err)
{
	int64_t dfrom, dto, today, k, first = -1, last = -1, f1 = -1, l1 = -1;
	unsigned char *have;
	period pd;
	topsrc t;
	mark m;
	int rc, c, done, len;

	memset(r, 0, sizeof(*r));
	if (cur == NULL)
		cur = ctx->cfg->n_currencies > 0 ?
		    ctx->cfg->currencies[0].code : "usd";
	if (tly_config_currency(ctx->cfg, cur) == NULL)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "currency", "currency is not configured.");
	tly_strlcpy(r->currency, cur, sizeof(r->currency));
	today = tly_now_s() / 86400;
	dto = today;
	if (to && parse_day(to, "to", &dto, err) != TLY_OK)
		return TLY_ERR;
	dfrom = dto - 29;
	if (from && parse_day(from, "from", &dfrom, err) != TLY_OK)
		return TLY_ERR;
	if (dfrom > dto || dto - dfrom + 1 > TLY_REPORT_MAX_DAYS)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "from", "from must be on or before to, at most %d days "
		    "before it.", TLY_REPORT_MAX_DAYS);
	civil_from_days(dfrom, r->from);
	civil_from_days(dto, r->to);
	rc = tly_qb_rset(ctx, &r->days, "daily", day_cols, NCOLS(day_cols),
	    (int)(dto - dfrom + 1), err);
	if (rc)
		return rc;
	r->days.nrows = (int)(dto - dfrom + 1);
	have = tly_pcalloc(ctx->pool, (size_t)r->days.nrows);
	if (have == NULL)
		return tly_err_internal(err);
	for (k = 0; k < r->days.nrows; k++) {
		r->days.s[k * r->days.ncols] = tly_pcalloc(ctx->pool, 11);
		if (r->days.s[k * r->days.ncols] == NULL)
			return tly_err_internal(err);
		civil_from_days(dfrom + k, r->days.s[k * r->days.ncols]);
	}
	memset(&pd, 0, sizeof(pd));
	pd.cur = r->currency;
	pd.dfrom = dfrom;
	pd.days = &r->days;
	rc = rolled_up(ctx, r, &pd, have, err);
	if (rc)
		return rc;
	memset(&m, 0, sizeof(m));
	if ((what & TLY_REPORT_DAYS) && today >= dfrom && today <= dto &&
	    !have[today - dfrom]) {
		rc = read_mark(ctx, r->currency, today, 0, &m, err);
		if (rc)
			return rc;
	}
	/* the days from the ledger: all missing ones (f1 … l1), today
	 * apart when its mark holds it (first … last) */
	for (k = 0; k < r->days.nrows; k++) {
		if (have[k])
			continue;
		if (f1 < 0)
			f1 = k;
		l1 = k;
		if (m.ok && dfrom + k == today)
			continue;
		if (first < 0)
			first = k;
		last = k;
	}
	/* the live range replaces whatever the rollup had inside it */
	if (first >= 0)
		for (k = first; k <= last; k++)
			for (c = 1; c <= D_NUM; c++)
				r->days.i[k * r->days.ncols + c] = 0;
	/* … around today when the mark holds it (today_days sets it) */
	if (first >= 0 && (what & TLY_REPORT_DAYS)) {
		k = m.ok && today - dfrom > first && today - dfrom < last ?
		    today - dfrom : last + 1;
		range_days(&pd, dfrom + first, dfrom + k - 1);
		rc = live_days(ctx, &pd, LIVE_BOOKED | LIVE_STATE, err);
		if (rc == TLY_OK && k < last) {
			range_days(&pd, dfrom + k + 1, dfrom + last);
			rc = live_days(ctx, &pd, LIVE_BOOKED | LIVE_STATE, err);
		}
		if (rc)
			return rc;
	}
	if (m.ok) {
		rc = today_days(ctx, &pd, today, &m, err);
		if (rc)
			return rc;
	}
	if (!(what & TLY_REPORT_TOP))
		return TLY_OK;
	len = standard(dfrom, dto, today);
	if (len > 0) {
		rc = cached_tops(ctx, r, len, today, &done, err);
		if (rc || done)
			return rc;
	}
	memset(&t, 0, sizeof(t));
	t.dfrom = dfrom;
	t.dto = dto;
	t.hlo = f1 >= 0 ? dfrom + f1 : 1;
	t.hhi = f1 >= 0 ? dfrom + l1 : 0;
	if (f1 >= 0) {
		range_days(&pd, dfrom + f1, dfrom + l1);
		t.lo = pd.lo;
		t.hi = pd.hi;
	}
	return tops(ctx, r, &t, err);
}

/* --- the rollup: the reports job ------------------------------------- */

#define ROLLUP_RECENT	7	/* closed days recomputed on every run */
#define ROLLUP_BACK	400	/* how far back missing days are filled */
#define ROLLUP_FILL	60	/* missing older days filled per run */

typedef struct roll_arg {
	const char	*cur;
	int64_t		 day;
} roll_arg;

/*
 * roll_blocks - the blocks of levels 1 to BLOCK_LEVELS holding day 'day'
 * of 'cur', each the sum of its two halves one level down, once every
 * day of it is rolled up (and closed); a block not complete yet is
 * deleted, so a block row always sums exactly its days' rows
 */
static int
roll_blocks(tly_ctx *ctx, const char *cur, int64_t day, tly_err *err)
{
	int64_t start, len, today = tly_now_s() / 86400, have = 0;
	char s0[11], s1[11], e[11];
	int k, rc;

	for (k = 1; k <= BLOCK_LEVELS; k++) {
		len = (int64_t)1 << k;
		start = day - day % len;
		civil_from_days(start, s0);
		civil_from_days(start + len / 2, s1);
		civil_from_days(start + len - 1, e);
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_payees WHERE currency = ? AND level = ? AND "
		    "start_day = ?", "sis", cur, (int64_t)k, s0);
		if (rc == TLY_OK)
			rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
			    "report_block_products WHERE currency = ? AND "
			    "level = ? AND start_day = ?", "sis", cur,
			    (int64_t)k, s0);
		if (rc == TLY_OK)
			rc = tly_db_row(ctx->db, err, "SELECT COUNT(*) FROM "
			    "report_days WHERE currency = ? AND day BETWEEN ? "
			    "AND ?", "sss>i", cur, s0, e, &have);
		if (rc)
			return rc;
		if (have != len || start + len - 1 >= today)
			continue;	/* not complete: no row here */
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_payees (currency, level, start_day, "
		    "account_id, earned_cent) SELECT ?, ?, ?, account_id, "
		    "SUM(earned_cent) FROM report_block_payees WHERE "
		    "currency = ? AND level = ? AND start_day IN (?, ?) "
		    "GROUP BY account_id", "sississ", cur, (int64_t)k, s0, cur,
		    (int64_t)(k - 1), s0, s1);
		if (rc == TLY_OK)
			rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
			    "report_block_products (currency, level, "
			    "start_day, product_id, gross_cent, payments) "
			    "SELECT ?, ?, ?, product_id, SUM(gross_cent), "
			    "SUM(payments) FROM report_block_products WHERE "
			    "currency = ? AND level = ? AND start_day IN "
			    "(?, ?) GROUP BY product_id",
			    "sississ", cur, (int64_t)k, s0, cur,
			    (int64_t)(k - 1), s0, s1);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/*
 * one_day - 'pd' over the whole day 'day' of 'cur' (its ledger range),
 * its sums to go to the one row of 'days'
 */
static int
one_day(tly_ctx *ctx, const char *cur, int64_t day, tly_rset *days,
    period *pd, tly_err *err)
{
	int rc;

	rc = tly_qb_rset(ctx, days, "daily", day_cols, NCOLS(day_cols), 1,
	    err);
	if (rc)
		return rc;
	days->nrows = 1;
	memset(pd, 0, sizeof(*pd));
	pd->cur = cur;
	pd->dfrom = day;
	pd->days = days;
	range_days(pd, day, day);
	return TLY_OK;
}

/* roll_tx - day a->day of a->cur from the ledger into the rollup tables */
static int
roll_tx(tly_ctx *ctx, void *v, tly_err *err)
{
	roll_arg *a = v;
	tly_rset days;
	char d[11];
	int64_t *x;
	period pd;
	int rc;

	civil_from_days(a->day, d);
	rc = one_day(ctx, a->cur, a->day, &days, &pd, err);
	if (rc)
		return rc;
	rc = live_days(ctx, &pd, LIVE_BOOKED | LIVE_STATE, err);
	if (rc)
		return rc;
	x = days.i;
	rc = tly_db_exec(ctx->db, err, NULL, "REPLACE INTO report_days "
	    "(currency, day, " D_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)", "ssiiiiiiiiii", a->cur, d, x[D_GROSS], x[D_PAYMENTS],
	    x[D_PLATFORM], x[D_FEES], x[D_REFUNDS], x[D_NREFUNDS],
	    x[D_DISPUTES], x[D_NDISPUTES], x[D_PAYOUTS], x[D_NPAYOUTS]);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_payees WHERE currency = ? AND level = 0 AND "
		    "start_day = ?", "ss", a->cur, d);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_payees (currency, level, start_day, "
		    "account_id, earned_cent) SELECT ?, 0, ?, account_id, "
		    "SUM(amount_cent) FROM shares" RANGE("created_at")
		    " AND role IN " PAYEE_ROLES " GROUP BY account_id", "sssss",
		    a->cur, d, a->cur, pd.lo, pd.hi);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_block_products WHERE currency = ? AND level = 0 "
		    "AND start_day = ?", "ss", a->cur, d);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO "
		    "report_block_products (currency, level, start_day, "
		    "product_id, gross_cent, payments) SELECT ?, 0, ?, "
		    "c.product_id, SUM(p.amount_cent), COUNT(*) FROM payments "
		    "p JOIN checkouts c ON c.id = p.checkout_id WHERE "
		    "p.currency "
		    "= ? AND p.created_at >= ? AND p.created_at < ? GROUP BY "
		    "c.product_id", "sssss", a->cur, d, a->cur, pd.lo, pd.hi);
	if (rc == TLY_OK)
		rc = roll_blocks(ctx, a->cur, a->day, err);
	return rc;
}

/* roll_day - one day of one currency, in its own transaction */
static int
roll_day(tly_ctx *ctx, const char *cur, int64_t day, tly_err *err)
{
	roll_arg a;

	a.cur = cur;
	a.day = day;
	return tly_tx_run(ctx, "report.rollup", roll_tx, &a, err);
}

typedef struct today_arg {
	const char	*cur;
	int64_t		 today;
} today_arg;

/*
 * top_cache - the top lists of the standard period of 'len' days ending
 * today: every payee's and product's sums over its closed days (blocks;
 * none before day 'since', the currency's first payment: no ledger row
 * is older) and today's rows from 'lo' to 'upto', replacing the
 * period's rows; false in *ok (and no rows) when a closed day is not
 * rolled up yet
 */
static int
top_cache(tly_ctx *ctx, const today_arg *a, int len, int64_t since,
    const char *lo, const char *upto, int *ok, tly_err *err)
{
	int64_t have = 0, start = a->today - len + 1;
	char first[11], last[11];
	topsrc t;
	tly_qb b;
	int rc;

	*ok = 0;
	if (start < since)
		start = since < a->today ? since : a->today;
	civil_from_days(start, first);
	civil_from_days(a->today - 1, last);
	rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM report_top_payees "
	    "WHERE currency = ? AND period = ?", "si", a->cur, (int64_t)len);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "report_top_products WHERE currency = ? AND period = ?",
		    "si", a->cur, (int64_t)len);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT COUNT(*) FROM "
		    "report_days WHERE currency = ? AND day BETWEEN ? AND ?",
		    "sss>i", a->cur, first, last, &have);
	if (rc || have != a->today - start)
		return rc;
	memset(&t, 0, sizeof(t));
	t.dfrom = start;
	t.dto = a->today - 1;
	t.hlo = 1;
	t.lo = lo;
	t.hi = upto;
	tly_qb_init(&b, "INSERT INTO report_top_payees (currency, period, "
	    "account_id, earned_cent) SELECT ?, ?, id, SUM(g) FROM (");
	tly_qb_s(&b, a->cur);
	tly_qb_i(&b, len);
	top_from(ctx, a->cur, &t, 1, &b);
	tly_qb_add(&b, ") t GROUP BY id");
	rc = tly_qb_exec(ctx, &b, err);
	if (rc)
		return rc;
	tly_qb_init(&b, "INSERT INTO report_top_products (currency, period, "
	    "product_id, gross_cent, payments) SELECT ?, ?, id, SUM(g), "
	    "SUM(n) FROM (");
	tly_qb_s(&b, a->cur);
	tly_qb_i(&b, len);
	top_from(ctx, a->cur, &t, 0, &b);
	tly_qb_add(&b, ") t WHERE id IS NOT NULL GROUP BY id");
	rc = tly_qb_exec(ctx, &b, err);
	*ok = rc == TLY_OK;
	return rc;
}

/*
 * today_tx - today's mark of a->cur: the sums of today's rows that are
 * only ever added (payments, the platform's and Stripe's fee rows)
 * created before 'upto' (now minus [job.reports] horizon: a row whose
 * transaction is still open is younger than that), and the standard
 * periods' top lists up to the same instant; one transaction, so a
 * request reads the mark and the lists of one run
 */
static int
today_tx(tly_ctx *ctx, void *v, tly_err *err)
{
	static const int periods[] = TOP_PERIODS;
	today_arg *a = v;
	char upto[20], d[11], list[32], one[8];
	int64_t up, since = 0, *x;
	tly_rset days;
	period pd;
	size_t k;
	int rc, ok;

	up = tly_now_s() - ctx->cfg->reports_horizon_s;
	if (up < a->today * 86400)
		up = a->today * 86400;
	if (up > (a->today + 1) * 86400)
		up = (a->today + 1) * 86400;
	instant(up, upto);
	civil_from_days(a->today, d);
	rc = one_day(ctx, a->cur, a->today, &days, &pd, err);
	if (rc)
		return rc;
	tly_strlcpy(pd.hi, upto, sizeof(pd.hi));
	rc = live_days(ctx, &pd, LIVE_BOOKED, err);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT IFNULL(DATEDIFF(MIN("
		    "created_at), '1970-01-01'), ?) FROM payments WHERE "
		    "currency = ?", "is>i", a->today, a->cur, &since);
	if (rc)
		return rc;
	list[0] = '\0';
	for (k = 0; k < sizeof(periods) / sizeof(periods[0]); k++) {
		rc = top_cache(ctx, a, periods[k], since, pd.lo, upto, &ok,
		    err);
		if (rc)
			return rc;
		if (!ok)
			continue;
		snprintf(one, sizeof(one), "%s%d", list[0] ? "," : "",
		    periods[k]);
		if (strlen(list) + strlen(one) < sizeof(list))
			memcpy(list + strlen(list), one, strlen(one) + 1);
	}
	x = days.i;
	return tly_db_exec(ctx->db, err, NULL, "REPLACE INTO report_today "
	    "(currency, day, upto, gross_cent, payments, "
	    "platform_revenue_cent, stripe_fees_cent, periods) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, ?)", "sssiiiis", a->cur, d, upto, x[D_GROSS],
	    x[D_PAYMENTS], x[D_PLATFORM], x[D_FEES], list);
}

/* roll_today - today's mark of one currency, in its own transaction */
static int
roll_today(tly_ctx *ctx, const char *cur, int64_t today, tly_err *err)
{
	today_arg a;

	a.cur = cur;
	a.today = today;
	return tly_tx_run(ctx, "report.today", today_tx, &a, err);
}

/* roll_currency - the recent closed days, then older missing ones */
static int
roll_currency(tly_ctx *ctx, const char *cur, int64_t today, int *n,
    tly_err *err)
{
	static const tly_rcol cols[] = { { "day", I } };
	char oldest[11], lo[11];
	int64_t d, start, k, filled = 0;
	unsigned char *have;
	tly_rset got;
	tly_qb b;
	int rc;

	for (d = today - ROLLUP_RECENT; d < today; d++) {
		rc = roll_day(ctx, cur, d, err);
		if (rc)
			return rc;
		(*n)++;
	}
	/* older days: from the first payment (at most ROLLUP_BACK back) */
	oldest[0] = '\0';
	rc = tly_db_row(ctx->db, err, "SELECT IFNULL(DATE_FORMAT(MIN("
	    "created_at), '%Y-%m-%d'), '') FROM payments WHERE currency = ?",
	    "s>s", cur, oldest, sizeof(oldest));
	if (rc || oldest[0] == '\0')
		return rc == TLY_NOTFOUND ? TLY_OK : rc;
	if (parse_day(oldest, "oldest", &start, err) != TLY_OK)
		return tly_err_internal(err);
	if (start < today - ROLLUP_BACK)
		start = today - ROLLUP_BACK;
	if (start >= today - ROLLUP_RECENT)
		return TLY_OK;
	civil_from_days(start, lo);
	tly_qb_init(&b, "SELECT DATEDIFF(day, ?) FROM report_days WHERE "
	    "currency = ? AND day >= ?");
	tly_qb_s(&b, lo);
	tly_qb_s(&b, cur);
	tly_qb_s(&b, lo);
	rc = tly_qb_run(ctx, &b, "day", cols, 1, ROLLUP_BACK + 1, &got, err);
	if (rc)
		return rc;
	have = tly_pcalloc(ctx->pool, ROLLUP_BACK + 1);
	if (have == NULL)
		return tly_err_internal(err);
	for (k = 0; k < got.nrows; k++)
		if (got.i[k] >= 0 && got.i[k] <= ROLLUP_BACK)
			have[got.i[k]] = 1;
	for (d = start; d < today - ROLLUP_RECENT && filled < ROLLUP_FILL;
	    d++) {
		if (have[d - start])
			continue;
		rc = roll_day(ctx, cur, d, err);
		if (rc)
			return rc;
		filled++;
		(*n)++;
	}
	return TLY_OK;
}

/* roll_all - every currency's days, then its mark; 'days' says how many */
static int
roll_all(tly_ctx *ctx, int64_t today, char *days, size_t len, tly_err *err)
{
	int i, n = 0, rc;

	for (i = 0; i < ctx->cfg->n_currencies; i++) {
		rc = roll_currency(ctx, ctx->cfg->currencies[i].code, today, &n,
		    err);
		if (rc == TLY_OK)
			rc = roll_today(ctx, ctx->cfg->currencies[i].code,
			    today, err);
		if (rc)
			return rc;
	}
	if (ctx->cfg->n_currencies == 0) {
		rc = roll_currency(ctx, "usd", today, &n, err);
		if (rc == TLY_OK)
			rc = roll_today(ctx, "usd", today, err);
		if (rc)
			return rc;
	}
	snprintf(days, len, "%d", n);
	return TLY_OK;
}

/*
 * tly_job_reports - the reports job: roll closed days up into
 * report_days, report_block_payees and report_block_products, per
 * configured currency: the last ROLLUP_RECENT days again on every run (a
 * refund that succeeds the next day, a payout paid late), then up to
 * ROLLUP_FILL days never rolled up, back to the first payment (at most
 * ROLLUP_BACK days); then today's mark and the standard periods' top
 * lists (report_today, report_top_payees/products).  Reads the ledger by
 * the same queries as the live report; writes only the rollup tables,
 * one day (or the mark) per transaction.  Its transactions run READ
 * COMMITTED: an INSERT … SELECT then reads the ledger without locking it
 * (under REPEATABLE READ it would set shared next-key locks on the rows
 * and gaps it reads, and a completion inserting after the mark's range,
 * or a payout updating a row, would wait for the job; binlog_format=ROW,
 * docs/operations.md, keeps that safe).
 */
int
tly_job_reports(tly_ctx *ctx, tly_err *err)
{
	int64_t today = tly_now_s() / 86400;
	char days[24];
	int rc;

	rc = tly_db_connect(ctx->db, err);
	if (rc == TLY_OK)
		rc = tly_db_simple(ctx->db, "SET SESSION TRANSACTION ISOLATION "
		    "LEVEL READ COMMITTED", err);
	if (rc == TLY_OK)
		rc = roll_all(ctx, today, days, sizeof(days), err);
	if (tly_db_simple(ctx->db, "SET SESSION TRANSACTION ISOLATION LEVEL "
	    "REPEATABLE READ", err) != TLY_OK && rc == TLY_OK)
		rc = TLY_ERR;
	if (rc)
		return rc;
	tly_logkv(ctx->log, TLY_LOG_INFO, "reports", "days rolled up",
	    "days", days, NULL);
	return TLY_OK;
}

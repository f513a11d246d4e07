/*
 * report_currencies.c - the currencies the dashboard can show
 *
 * The dashboard (core/report.c, tly_report_daily) reports one configured
 * currency at a time; its picker lists the configured currencies that
 * have data, the one with the most volume first, so that it opens on
 * the marketplace's main currency.  Per configured currency (a short
 * list, TLY_MAX_CURRENCIES), two index look-ups, never a scan: whether
 * any payment or rolled-up day exists (payments_report, report_days'
 * primary key: one seek each), and its gross of the last 30 days: the
 * closed days from the rollup (report_days, at most 29 rows) plus
 * today's payments (a range of payments_report).  A day the reports job
 * has not rolled up yet counts for nothing here: the order may lag a
 * day behind, the list never does.
 *
 * API:	tly_report_currencies().
 */
#include <string.h>

#include "db.h"
#include "report_currencies.h"
#include "tly_str.h"

/*
 * tly_report_currencies - into 'out' (room for TLY_MAX_CURRENCIES),
 * '*n' of them: the configured currencies with data, most volume first
 * (ties: in the configuration's order)
 */
int
tly_report_currencies(tly_ctx *ctx, tly_report_currency *out, int *n,
    tly_err *err)
{
	const tly_config *cfg = ctx->cfg;
	tly_report_currency t;
	int64_t has = 0, vol_cent = 0;
	int i, j, rc;

	*n = 0;
	for (i = 0; i < cfg->n_currencies && i < TLY_MAX_CURRENCIES; i++) {
		rc = tly_db_row(ctx->db, err, "SELECT EXISTS (SELECT 1 FROM "
		    "payments WHERE currency = ?) OR EXISTS (SELECT 1 FROM "
		    "report_days WHERE currency = ?), (SELECT IFNULL(SUM("
		    "gross_cent), 0) FROM report_days WHERE currency = ? AND "
		    "day >= UTC_DATE() - INTERVAL 29 DAY AND day < UTC_DATE()) "
		    "+ (SELECT IFNULL(SUM(amount_cent), 0) FROM payments WHERE "
		    "currency = ? AND created_at >= UTC_DATE())", "ssss>ii",
		    cfg->currencies[i].code, cfg->currencies[i].code,
		    cfg->currencies[i].code, cfg->currencies[i].code, &has,
		    &vol_cent);
		if (rc)
			return rc;
		if (!has)
			continue;
		tly_strlcpy(t.currency, cfg->currencies[i].code,
		    sizeof(t.currency));
		t.volume_cent = vol_cent;
		/* insertion: stable, so ties keep the configuration's order */
		for (j = *n; j > 0 && out[j - 1].volume_cent < t.volume_cent;
		    j--)
			out[j] = out[j - 1];
		out[j] = t;
		(*n)++;
	}
	return TLY_OK;
}

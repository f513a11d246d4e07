/*
 * reconcile.h - reconciliation of Tally's books with Stripe's
 *
 * tly_reconcile_run() compares Stripe's balance transactions of a window
 * (charges and their Stripe fees, refunds and refund failures,
 * transfers, transfer reversals, dispute withdrawals with their fees and
 * reinstatements; and on each connected account the transfers arriving
 * and the reversals leaving) with Tally's records of them, by currency
 * and day, and stores a report: one line per comparison, "matched",
 * "missing_in_tally", "missing_at_stripe" or "amount_differs", with both
 * sides' ids, or "acknowledged" (a mismatch an operator judged:
 * tly_reconcile_ack).  External transfers
 * (tly_reconcile_external_transfer) and fees Stripe changed (booked by
 * the run) come out matched the next time.  A report with a mismatch is
 * emailed to [alerts] email (outbox) and raises an ALERT log line.
 * The "reconcile" job runs it over yesterday and today; `tallyctl
 * reconcile [--since DATE]` on demand;
 * GET /admin/api/v1/reconciliation_reports lists the reports,
 * .../reconciliation_reports/{id}/lines the lines of one.
 */
#ifndef TLY_RECONCILE_H
#define TLY_RECONCILE_H

#include <stdint.h>

#include "ctx.h"
#include "principal.h"
#include "stripe.h"
#include "tly_page.h"

typedef struct tly_recon_line {
	int64_t	 line_no;		/* in its report, from 1 */
	char	 day[11];		/* YYYY-MM-DD, UTC */
	char	 currency[4];
	const char *kind;		/* charge, stripe_fee, refund, … */
	const char *outcome;		/* matched, missing_in_tally, … */
	char	 txn[72];		/* Stripe's balance transaction */
	char	 object[72];		/* its source (ch_, re_, tr_, …) */
	char	 tally[72];		/* Tally's record, "" when none */
	int64_t	 stripe_cent;		/* INT64_MIN: none */
	int64_t	 tally_cent;		/* INT64_MIN: none */
} tly_recon_line;

typedef struct tly_recon_report {
	char		 id[40];
	int64_t		 since, until;	/* unix seconds */
	char		 status[16];	/* clean, mismatch */
	int64_t		 matched, missing_in_tally, missing_at_stripe,
			 amount_differs, acknowledged;
	int64_t		 created;
	tly_recon_line	*lines;		/* tly_reconcile_run: every line */
	int		 n_lines;
} tly_recon_report;

#define TLY_RECON_NONE	INT64_MIN

int	 tly_reconcile_run(tly_ctx *, int64_t, int64_t, tly_recon_report *,
	    tly_err *);
void	 tly_reconcile_free(tly_recon_report *);
int	 tly_job_reconcile(tly_ctx *, tly_err *);
int	 tly_reconcile_list(tly_ctx *, const tly_page *, tly_recon_report **,
	    int *, int *, tly_err *);
int	 tly_reconcile_lines(tly_ctx *, const char *, const char *,
	    const tly_page *, tly_recon_line **, int *, int *, tly_err *);
int	 tly_reconcile_ack(tly_ctx *, const tly_principal *, const char *,
	    const char *, tly_err *);
int	 tly_reconcile_ack_line(tly_ctx *, const tly_principal *, const char *,
	    int64_t, const char *, char *, tly_err *);
int	 tly_reconcile_external_transfer(tly_ctx *, const tly_st_transfer *,
	    const char *, const char **, tly_err *);

#endif

/*
 * report.h - what the admin panel reads: filtered lists, a payment's
 * whole story, an account's, and the dashboard's daily aggregates
 *
 * Two files: report.c reads the lists and details (every table there is
 * written by the module that owns it); report_daily.c computes the
 * dashboard and keeps its rollup (report_days, the blocks, today's mark
 * and the standard periods' top lists: written by nothing else), run by
 * the reports job.  A list is a tly_rset (qb.h): its columns are named
 * and typed by a static column table, so the edge renders any of them
 * the same way ({"object":…, column: value, …}).  Lists
 * are cursor-paginated like every list of the API (tly_page.h): newest
 * first by id.
 *
 * Filters arrive as the query string's text; report.c parses and checks
 * them (400 parameter_invalid naming the parameter).
 */
#ifndef TLY_REPORT_H
#define TLY_REPORT_H

#include <stdint.h>

#include "ctx.h"
#include "qb.h"
#include "tly_page.h"

/* the filters of the lists: query-string text, NULL when absent */
typedef struct tly_rfilter {
	const char	*status;	/* payments, webhook events */
	const char	*state;		/* payouts, emails */
	const char	*currency;
	const char	*product;	/* payments: product id */
	const char	*payee;		/* payments: an account with a share */
	const char	*buyer;		/* payments: buyer account id */
	const char	*account;	/* payouts: payee account id */
	const char	*kind;		/* accounts, emails */
	const char	*type;		/* webhook events */
	const char	*connect;	/* accounts: none, pending, enabled */
	const char	*flagged;	/* accounts: "true" */
	const char	*q;		/* payments: an id or an email */
	const char	*created_gte;	/* unix seconds */
	const char	*created_lte;
	const char	*amount_gte;	/* minor units */
	const char	*amount_lte;
	const char	*since;		/* refusals: unix seconds */
} tly_rfilter;

/* one payment and everything about it (GET /admin/api/v1/payments/{id}) */
typedef struct tly_rpayment {
	tly_rset	 payment;	/* one row */
	tly_rset	 shares;	/* the ledger rows, oldest first */
	tly_rset	 refunds;
	tly_rset	 disputes;
	tly_rset	 payouts;	/* payouts that carried its rows */
	tly_rset	 events;	/* webhook events about its objects */
	tly_rset	 audit;		/* audit rows naming its objects */
	int64_t		 remaining_cent;	/* refundable now */
	int64_t		 support_limit_cent;	/* per refund, role support */
} tly_rpayment;

/* one account and its money (GET /admin/api/v1/accounts/{id}) */
typedef struct tly_raccount {
	tly_rset	 account;	/* one row */
	tly_rset	 payouts;	/* the newest */
	tly_rset	 advances;	/* the newest */
} tly_raccount;

/* the dashboard: per day, then the period's top lists */
typedef struct tly_rdaily {
	char		 currency[4];
	char		 from[11];	/* YYYY-MM-DD, inclusive */
	char		 to[11];
	tly_rset	 days;		/* one row per day, oldest first */
	tly_rset	 top_products;
	tly_rset	 top_payees;
} tly_rdaily;

#define TLY_REPORT_MAX_DAYS	366
#define TLY_REPORT_DAYS		1	/* the days' numbers */
#define TLY_REPORT_TOP		2	/* the period's top products, payees */

int	 tly_report_payments(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_payment(tly_ctx *, const char *, tly_rpayment *,
	    tly_err *);
int	 tly_report_accounts(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_account(tly_ctx *, const char *, tly_raccount *,
	    tly_err *);
int	 tly_report_payouts(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_events(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_event(tly_ctx *, const char *, tly_rset *, tly_err *);
int	 tly_report_refusals(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_emails(tly_ctx *, const tly_rfilter *, const tly_page *,
	    tly_rset *, tly_err *);
int	 tly_report_daily(tly_ctx *, const char *, const char *, const char *,
	    int, tly_rdaily *, tly_err *);
int	 tly_job_reports(tly_ctx *, tly_err *);

#endif

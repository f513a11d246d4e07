/*
 * payout.h - Connect onboarding and payouts of payees' earnings
 *
 * connect.c: a payee (talent, agent, ambassador, host partner) gets one
 * Express connected account at Stripe and fresh onboarding links;
 * account.updated keeps its state, payout.failed (its bank payout
 * failed) flags it.  payout.c: one payout (claim, transfer, record) and
 * the steps of a run (payout_run.c runs them, docs/ledger.md).
 */
#ifndef TLY_PAYOUT_H
#define TLY_PAYOUT_H

#include <stdint.h>

#include "admin.h"
#include "ctx.h"
#include "effect.h"
#include "facts.h"
#include "stripe.h"

#define TLY_PAYEE_KINDS_SQL \
	"('talent', 'agent', 'ambassador', 'host_partner')"

/*
 * eligible: a pending share row 's' no payout holds (the caller tests
 * status and payout_id) is payable when negative (what is owed back is
 * recovered first), of kind transfer_reversal or advance_reversal (what
 * it makes payable again was paid once, or earned and recovered: past
 * its hold), or past the hold (the one '?': hold_days) and its payment
 * not held: not disputed, not oversold (refund_pending), and with no
 * refund in flight (requested_refund_cent > refunded_cent: a refund
 * requested and not yet booked or failed, e.g. pending at Stripe).  The
 * payment is read by its primary key, as before: no other index.
 */
#define TLY_ELIGIBLE_SQL \
	"(s.amount_cent < 0 OR s.kind IN ('transfer_reversal', " \
	"'advance_reversal') OR " \
	"(s.created_at <= NOW(3) - INTERVAL ? DAY AND NOT EXISTS (SELECT 1 " \
	"FROM payments p WHERE p.id = s.payment_id AND (p.status IN " \
	"('disputed', 'refund_pending') OR p.requested_refund_cent > " \
	"p.refunded_cent))))"

/* a (payee, currency) pair, as a run pages through them */
typedef struct tly_payee_cur {
	char	 acc[40];
	char	 cur[4];
} tly_payee_cur;

#define TLY_PAYEE_PAGE	100

typedef struct tly_connect {
	char	 account_id[40];
	char	 connect_account_id[72];
	char	 onboarding_url[1024];
	int64_t	 onboarding_expires_at;
	int	 charges_enabled;
	int	 payouts_enabled;
	char	 requirements_due[4001];	/* comma-separated */
} tly_connect;

typedef struct tly_payout_stats {
	int	 paid;		/* transfers made and recorded */
	int	 failed;	/* refused by Stripe: rows back to pending */
	int	 deferred;	/* the platform's balance was short */
	int	 unknown;	/* left for the next run */
	int	 finished;	/* left by an earlier run, finished now */
	int	 advances;	/* advances left behind, finished now */
	int	 reversed;	/* transfer reversals made (recover.c) */
	int	 reverse_failed;	/* reversals Stripe refused */
} tly_payout_stats;

typedef struct tly_balance {
	char	 currency[4];
	int64_t	 pending_cent;
	int64_t	 payable_cent;
	int64_t	 owed_back_cent;
	int64_t	 in_transit_cent;
	int64_t	 paid_cent;
	int64_t	 advance_balance_cent;	/* granted - reversed - offset */
} tly_balance;

typedef struct tly_payout {
	char	 id[40];
	char	 account_id[40];
	char	 currency[4];
	int64_t	 amount_cent;
	int64_t	 reversed_cent;
	char	 state[16];
	char	 transfer_id[72];
	char	 last_error[256];
	int64_t	 rows;
	int64_t	 created;
	int64_t	 paid_at;		/* 0: not paid */
} tly_payout;

#define TLY_MAX_BALANCES	16

/* connect.c */
int	 tly_connect_onboard(tly_ctx *, const tly_principal *, const char *,
	    tly_connect *, tly_err *);
int	 tly_connect_account_updated(tly_ctx *, const tly_account_facts *,
	    const char **, tly_err *);
int	 tly_connect_payout_failed(tly_ctx *, const tly_bank_payout_facts *,
	    const char **, tly_err *);

extern const tly_effect_kind tly_connect_effect;

/* payout.c */
#define TLY_PAYOUT_CASH_MAX	32	/* currencies of one run */

/* one payout run: its counts and what the platform can still transfer */
typedef struct tly_payout_run {
	tly_ctx			*ctx;
	tly_payout_stats	*st;
	struct {
		char	 cur[4];
		int64_t	 avail_cent;
	}			 bal[TLY_PAYOUT_CASH_MAX];
	int			 nbal;
} tly_payout_run;

int	 tly_payout_run_start(tly_payout_run *, tly_ctx *, tly_payout_stats *,
	    tly_err *);
int	 tly_payout_run_payees(tly_payout_run *, tly_err *);
int	 tly_payout_reversed(tly_ctx *, const char *, int64_t, tly_err *);
const char *tly_payee_role(const char *);

extern const tly_effect_kind tly_payout_effect;

/* payout_defer.c: why the latest run left a payee's money unpaid */
typedef struct tly_payout_deferral {
	int64_t	 id;
	char	 account_id[40];
	char	 account_name[201];
	char	 currency[4];
	char	 reason[32];
	int64_t	 amount_cent;		/* pending, not claimed */
	int64_t	 payable_cent;		/* of it, payable now */
	int64_t	 threshold_cent;
	int64_t	 since;
	int64_t	 last_run_at;
} tly_payout_deferral;

int	 tly_payout_deferrals_note(tly_payout_run *, tly_err *);
int	 tly_payout_deferrals_list(tly_ctx *, const char *, const char *,
	    const tly_page *, tly_payout_deferral **, int *, int *,
	    tly_err *);

int	 tly_payee_page(tly_ctx *, const char *, const char *, const char *,
	    tly_payee_cur *, int *, tly_err *);
void	 tly_payee_page_bind(tly_ctx *, tly_q *, const char *, const char *);

#endif

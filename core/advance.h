/*
 * advance.h - advances to payees, and their recovery from earnings
 *
 * An admin (finance or admin) grants an advance: Tally transfers it to
 * the payee's connected account now (three steps, like a payout) and
 * recovers it from the payee's later earnings: the completion of a
 * payment posts advance_offset rows (-x on the payee, +x on the
 * platform) under the advance row's lock; a refund or dispute of an
 * offset earning gives the offset back in proportion (advance_return
 * rows); the real Stripe fee, when it comes later, moves the fee
 * bearer's offset with its earning (advance_fee rows).  docs/ledger.md,
 * "Advances", is the model.
 */
#ifndef TLY_ADVANCE_H
#define TLY_ADVANCE_H

#include <stdint.h>

#include "auth.h"
#include "ctx.h"
#include "effect.h"
#include "facts.h"
#include "payout.h"

struct tly_idem_row;			/* idem.h */

#define TLY_ADVANCE_LIST_MAX	100
#define TLY_ADVANCE_NOTE_MAX	500

typedef struct tly_advance {
	char	 id[40];
	char	 account_id[40];
	char	 currency[4];
	char	 state[16];
	char	 transfer_id[72];
	char	 note[TLY_ADVANCE_NOTE_MAX * 4 + 1];
	char	 granted_by[129];
	char	 last_error[256];
	int64_t	 granted_cent;
	int64_t	 offset_cent;
	int64_t	 reversed_cent;	/* given back by a transfer reversal */
	int64_t	 created;
	int	 existing;	/* a retry: the row that keeps its key */
} tly_advance;

/* a payee's new earning in a payment, for tly_advance_offset() */
typedef struct tly_earning {
	char	 account_id[40];
	int64_t	 amount_cent;
} tly_earning;

/* the offsets a completion posts (tly_advance_offset) */
#define TLY_ADV_PAYEES		6	/* payees of one payment, at most */
#define TLY_ADV_PLAN_MAX	32

typedef struct tly_adv_plan {
	struct {
		char	 advance_id[40];
		char	 account_id[40];
		int64_t	 amount_cent;
	} item[TLY_ADV_PLAN_MAX];
	int	 n;
} tly_adv_plan;

int	 tly_advance_grant(tly_ctx *, const tly_principal *, const char *,
	    int64_t, const char *, const char *, const struct tly_idem_row *,
	    tly_advance *, tly_err *);
int	 tly_advance_list(tly_ctx *, const char *, tly_advance **, int *,
	    int *, tly_err *);
int	 tly_advances_finish(tly_ctx *);

extern const tly_effect_kind tly_advance_effect;
int	 tly_advance_balances(tly_ctx *, const char *, tly_balance *, int *,
	    tly_err *);
int	 tly_advance_offset(tly_ctx *, const char *, tly_earning *, int,
	    tly_adv_plan *, tly_err *);
int	 tly_advance_offset_post(tly_ctx *, const char *, const char *,
	    const tly_adv_plan *, tly_err *);
int	 tly_advance_reverse(tly_ctx *, const char *, const char *, int64_t,
	    int64_t, int64_t, tly_err *);
int	 tly_advance_refee(tly_ctx *, const char *, const char *,
	    const char *, int64_t, int64_t, int64_t, tly_err *);
int	 tly_advance_transfer_reversed(tly_ctx *, const tly_transfer_facts *,
	    const char **, tly_err *);

#endif

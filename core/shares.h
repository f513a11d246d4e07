/*
 * shares.h - the one writer of the shares table (see shares.c)
 *
 * Every share row and every change of a share row's status is written
 * here; the money modules plan rows (ledger.h) and post them through
 * these functions, inside their own transactions and under their own
 * locks (docs/ledger.md, "Lock order": payment -> shares).
 */
#ifndef TLY_SHARES_H
#define TLY_SHARES_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#define TLY_MAX_SHARES	64

typedef struct tly_share_row {
	char	 role[24];
	char	 account_id[40];
	char	 kind[24];
	char	 status[16];
	int64_t	 amount_cent;
} tly_share_row;

/* a zero-sum pair: 'from' gives amount_cent (any sign), 'to' receives it */
typedef struct tly_share_pair {
	const char	*payment_id;
	const char	*currency;
	const char	*kind;
	const char	*cause_id;
	const char	*from_account;
	const char	*from_role;
	const char	*to_account;
	const char	*to_role;
	int64_t		 amount_cent;
} tly_share_pair;

int	 tly_shares_insert(tly_ctx *, const char *, const char *, const char *,
	    const char *, const tly_share_row *, int, tly_err *);
int	 tly_shares_pair(tly_ctx *, const tly_share_pair *, tly_err *);
int	 tly_shares_transfer_reversal(tly_ctx *, const char *, const char *,
	    const char *, int64_t, const char *, const char *, const char *,
	    tly_err *);
int	 tly_shares_claim(tly_ctx *, const char *, const int64_t *, size_t,
	    tly_err *);
int	 tly_shares_paid(tly_ctx *, const char *, tly_err *);
int	 tly_shares_release(tly_ctx *, const char *, tly_err *);

#endif

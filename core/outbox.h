/*
 * outbox.h - emails queued with the event that causes them
 *
 * tly_outbox_add() is called inside the transaction that commits the
 * cause (a payment, a payout, a refund): the email is queued if and only
 * if that transaction commits.  'dedupe' names the cause ("receipt:pay_…",
 * "payout_failed:po_…"): queuing the same cause again, e.g. from a
 * transaction run a second time, does nothing.  The sender job (outbox.c)
 * delivers queued rows over SMTP; see docs/operations.md.
 */
#ifndef TLY_OUTBOX_H
#define TLY_OUTBOX_H

#include "ctx.h"

typedef struct tly_mail {
	const char	*dedupe;	/* unique cause, <= 128 ascii bytes */
	const char	*kind;		/* receipt, payout_sent, … */
	const char	*account_id;	/* the recipient's account, or NULL */
	const char	*to;		/* the address */
	const char	*subject;
	const char	*body;		/* plain text, UTF-8 */
} tly_mail;

int	 tly_outbox_add(tly_ctx *, const tly_mail *, tly_err *);

#endif

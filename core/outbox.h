/*
 * outbox.h - emails queued with the event that causes them
 *
 * tly_outbox_add() is called inside the transaction that commits the
 * cause (a payment, a payout, a refund): the email is queued if and only
 * if that transaction commits.  'dedupe' names the cause ("receipt:pay_…",
 * "payout_failed:po_…"): queuing the same cause again, e.g. from a
 * transaction run a second time, does nothing.  The sender job (outbox.c)
 * delivers queued rows over SMTP; see docs/operations.md.
 *
 * States: queued -> sending (claimed, with a lease) -> sent, or back to
 * queued with a later next_attempt_at, or dead after [smtp] max_attempts.
 * An operator lists them (tly_outbox_list) and requeues a dead one
 * (tly_outbox_retry); a sent one is never sent again.
 */
#ifndef TLY_OUTBOX_H
#define TLY_OUTBOX_H

#include <stdint.h>

#include "auth.h"
#include "ctx.h"

typedef struct tly_mail {
	const char	*dedupe;	/* unique cause, <= 128 ascii bytes */
	const char	*kind;		/* receipt, payout_sent, refund… */
	const char	*account_id;	/* the recipient's account, or NULL */
	const char	*to;		/* the address */
	const char	*subject;
	const char	*body;		/* plain text, UTF-8 */
} tly_mail;

typedef struct tly_outbox_row {
	char	 id[40];
	char	 kind[32];
	char	 state[16];
	char	 to[256];
	char	 dedupe[136];
	char	 last_error[256];
	int64_t	 attempts;
	int64_t	 created;
	int64_t	 next_attempt;
} tly_outbox_row;

struct tly_page;

int	 tly_outbox_add(tly_ctx *, const tly_mail *, tly_err *);
int	 tly_job_outbox(tly_ctx *, tly_err *);
int	 tly_outbox_list(tly_ctx *, const char *, const struct tly_page *,
	    tly_outbox_row **, int *, int *, tly_err *);
int	 tly_outbox_retry(tly_ctx *, const tly_principal *, const char *,
	    tly_err *);

#endif

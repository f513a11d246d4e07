/*
 * webhook.h - Stripe's events: verified, stored once, acted on, retried
 *
 * tly_webhook_receive() is the webhook pool's whole job for one delivery:
 * verify the signature against the endpoint's secrets (refusals counted
 * per source address in memory and written to webhook_refusals in
 * aggregate by tly_webhook_refusals_flush(), which the worker also calls
 * when idle and at exit; the body never stored), store
 * the event by its id (a duplicate is acknowledged and does nothing), act
 * on it, acknowledge.  Failed processing is retried by the "webhooks" job
 * with exponential backoff and parked as dead after max attempts, where
 * an operator can list and replay it (tallyctl webhook …).
 */
#ifndef TLY_WEBHOOK_H
#define TLY_WEBHOOK_H

#include <stdint.h>

#include "admin.h"
#include "auth.h"
#include "ctx.h"

#define TLY_WEBHOOK_MAX_ATTEMPTS	10
#define TLY_REFUSALS_FLUSH_MS		1000	/* refusals written at most */

typedef struct tly_webhook_result {
	char	 event_id[72];
	char	 type[96];
	char	 status[16];	/* processed, ignored, failed, dead */
	int	 duplicate;
} tly_webhook_result;

typedef struct tly_webhook_row {
	char	 id[72];
	char	 type[96];
	char	 status[16];
	char	 endpoint[16];
	char	 object_id[72];
	char	 last_error[256];
	int64_t	 attempts;
	int64_t	 created;
	int64_t	 received;
} tly_webhook_row;

int	 tly_webhook_receive(tly_ctx *, const char *, const char *,
	    const char *, size_t, const char *, tly_webhook_result *,
	    tly_err *);
int	 tly_webhook_ingest(tly_ctx *, const char *, const char *, size_t,
	    tly_webhook_result *, tly_err *);
int	 tly_webhook_process(tly_ctx *, const char *, tly_webhook_result *,
	    tly_err *);
int	 tly_webhook_replay(tly_ctx *, const tly_principal *, const char *,
	    tly_webhook_result *, tly_err *);
int	 tly_webhook_list(tly_ctx *, const char *, const tly_page *,
	    tly_webhook_row **, int *, int *, tly_err *);
int	 tly_job_webhooks(tly_ctx *, tly_err *);
void	 tly_webhook_refusals_flush(tly_ctx *, int);
int	 tly_webhook_refusals_pending(void);
int	 tly_webhook_refusals_prune(tly_ctx *, tly_err *);

#endif

/*
 * events.h - catching up on Stripe events that never arrived
 *
 * The "events" job (tly_job_events, [job.events], `tallyctl job run
 * events`) lists Stripe's events (GET /v1/events) for the platform and,
 * with Stripe-Account, for each connected account Tally knows, and feeds
 * each one Tally has not stored through the webhook path
 * (tly_webhook_ingest): stored and acted on exactly as a delivery.
 */
#ifndef TLY_EVENTS_H
#define TLY_EVENTS_H

#include "ctx.h"

int	 tly_job_events(tly_ctx *, tly_err *);

#endif

/*
 * effect.h - one engine for durable Stripe effects (docs/architecture.md)
 *
 * An effect is a Stripe write Tally must make exactly once: a
 * PaymentIntent, its cancel, a refund, a transfer, a transfer reversal.
 * Its row (step 1, committed by the kind's module) says what will be
 * done and carries the key generation; the engine does steps 2 and 3
 * and finishes what was left: it takes a lease on the row, looks the
 * object up first whenever a call may have been made before, calls
 * Stripe under "<key_prefix>:<id>:g<gen>", and runs the kind's done,
 * refused or missing transaction.  No answer: the lease is released,
 * the attempt counted, the next one planned with a backoff; after
 * TLY_EFFECT_MAX_ATTEMPTS the effect is dead (one ALERT) until an
 * operator retries it (`tallyctl effects retry`).
 *
 * A kind describes itself in a const tly_effect_kind: its table, state
 * column and states, key prefix, Stripe path, and callbacks.  The common
 * columns every effect table has (migration 014), each named with the
 * kind's column prefix ("" or "pi_"): key generation (gen_col),
 * lease_until, attempts, next_attempt_at, last_error, dead_at.
 */
#ifndef TLY_EFFECT_H
#define TLY_EFFECT_H

#include <stdint.h>

#include "auth.h"
#include "ctx.h"
#include "stripe.h"

#define TLY_EFFECT_MAX_ATTEMPTS	12	/* rounds without an answer */
#define TLY_EFFECT_BACKOFF_S	30	/* the second delay; doubles */
#define TLY_EFFECT_BACKOFF_CAP_S 3600	/* ... up to an hour */
#define TLY_EFFECT_LEASE_S	120	/* longer than any one attempt */

typedef struct tly_effect_kind tly_effect_kind;

/* how an attempt ended (tly_effect.outcome) */
enum {
	TLY_EFFECT_BUSY = 0,	/* not open, or another process holds it */
	TLY_EFFECT_DONE,	/* the object is at Stripe and recorded */
	TLY_EFFECT_REFUSED,	/* Stripe refused (4xx): recorded */
	TLY_EFFECT_MISSING,	/* Stripe has not the object acted on (404) */
	TLY_EFFECT_ABANDONED,	/* not made, and no longer wanted */
	TLY_EFFECT_UNKNOWN,	/* no answer: planned again */
	TLY_EFFECT_DEAD,	/* no answer, and that was the last attempt */
	TLY_EFFECT_UNRECORDED,	/* made at Stripe, recording it failed */
	TLY_EFFECT_DEFERRED	/* may_call() said not now */
};

/* one effect as an attempt sees it */
typedef struct tly_effect {
	const tly_effect_kind	*kind;
	char			 id[40];
	char			 state[24];
	int64_t			 key_gen;
	int64_t			 attempts;
	void			*row;		/* the kind's row (load) */
	void			*arg;		/* the caller's */
	char			 target[80];	/* Stripe id acted on, or "" */
	int			 look_only;	/* load: look, never call */
	int			 retry;		/* a _tx: try again shortly */
	int			 finishing;	/* a finisher's attempt */
	/* set by the transactions (reset before each run), logged after */
	const char		*alert;		/* an ALERT to log */
	const char		*note;		/* an info line */
	/* the attempt's result */
	int			 outcome;
	int			 made;		/* obj came from the call */
	const tly_jv		*obj;		/* Stripe's object */
	tly_err			 why;		/* Stripe's refusal... */
} tly_effect;

struct tly_effect_kind {
	const char	*name;		/* "refund": log component */
	const char	*table;		/* "refunds" */
	const char	*state_col;	/* "state" */
	const char	*open_sql;	/* "'to_create', 'unknown'" */
	const char	*fresh;		/* state of a row never sent */
	const char	*unknown;	/* state after no answer */
	const char	*col;		/* common columns' prefix */
	const char	*gen_col;	/* "key_gen" */
	const char	*due_sql;	/* more of the finisher's WHERE */
	const char	*key_prefix;	/* "tally:refund" */
	const char	*object;	/* "refund" */
	const char	*path;		/* "/v1/refunds", or NULL: path_of() */
	int		 retry_s;	/* the delay when e->retry */
	int		 payout_lease;	/* lease: [payouts] lease, not ours */
	/* the row (in ctx->pool) into e->row, e->target, e->look_only */
	int		(*load)(tly_ctx *, tly_effect *, tly_err *);
	const char	*(*path_of)(tly_ctx *, const tly_effect *);
	/* a call may be made now (optional; 0: deferred, not counted) */
	int		(*may_call)(tly_ctx *, tly_effect *);
	int		(*params)(const tly_effect *, tly_form *);
	/* exact look-up: TLY_OK with '*found', TLY_NOTFOUND, or a failure */
	int		(*find)(tly_ctx *, const tly_effect *, const tly_jv **,
			    tly_err *);
	/* the object is what Tally meant (TLY_OK), else an ALERT */
	int		(*matches)(tly_ctx *, const tly_effect *,
			    const tly_jv *, tly_err *);
	/* transaction bodies run by the engine (tly_tx_run) */
	int		(*done_tx)(tly_ctx *, tly_effect *, tly_err *);
	int		(*refused_tx)(tly_ctx *, tly_effect *, tly_err *);
	int		(*missing_tx)(tly_ctx *, tly_effect *, tly_err *);
	int		(*abandon_tx)(tly_ctx *, tly_effect *, tly_err *);
	/* after each attempt, what its outcome needs next (optional) */
	int		(*after)(tly_ctx *, tly_effect *, tly_err *);
};

/* what `tallyctl effects list` prints of one effect */
typedef struct tly_effect_row {
	const char	*kind;
	char		 id[40];
	char		 state[24];
	int64_t		 attempts;
	int64_t		 next_attempt_at;	/* unix seconds */
	int		 dead;
	char		 last_error[256];
} tly_effect_row;

typedef void (*tly_effect_each_fn)(void *, const tly_effect_row *);

int	 tly_effect_first(tly_ctx *, const tly_effect_kind *, const char *,
	    void *, tly_effect *, tly_err *);
int	 tly_effect_finish(tly_ctx *, const tly_effect_kind *, const char *,
	    void *, tly_effect *, tly_err *);
int	 tly_effect_run(tly_ctx *, const tly_effect_kind *, const char *,
	    void *, tly_effect *, tly_err *);
int	 tly_effect_record(tly_ctx *, const tly_effect_kind *, const char *,
	    const tly_jv *, void *, tly_effect *, tly_err *);
int	 tly_effect_finish_due(tly_ctx *, const tly_effect_kind *, void *,
	    int *, tly_err *);
int	 tly_effect_list(tly_ctx *, const tly_effect_kind *, int,
	    tly_effect_each_fn, void *, tly_err *);
int	 tly_effect_retry(tly_ctx *, const tly_effect_kind *,
	    const tly_principal *, const char *, int *, tly_err *);
int	 tly_effect_missing(int, const tly_err *);
int	 tly_effect_refused(int, const tly_err *);
int	 tly_effect_find_transfer(tly_ctx *, const tly_effect *,
	    const tly_jv **, tly_err *);

#endif

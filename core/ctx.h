/*
 * ctx.h - the context every core operation takes
 *
 * One per process (worker, job, tallyctl), made after fork.  It is the
 * only mutable state a core operation may touch besides the database and
 * Stripe: configuration (read-only), the log, the database handle, the
 * Stripe client, the per-request arena and the request id.  Nothing in it
 * matters for correctness across requests; a worker may die between any
 * two requests and its replacement builds a fresh one.
 *
 * 'fault' is the fault-injection hook for tests: core calls it at named
 * points ("tx.before_commit", "checkout.record_pi", …); in production it
 * is NULL.  A system test can also start tallyd with the environment
 * variable TALLY_FAULTS="checkout.record_pi:1" to make the first call at
 * that point fail in each process; without the variable nothing fails.
 *
 * Torture mode (curl's model, tests/torture): TALLY_FAULTS="db:N" fails
 * the Nth database call of each process (a statement or a deferred
 * batch: a server error, nothing run; a simple statement such as COMMIT:
 * the connection lost before it was sent), "stripe:N" the Nth Stripe call
 * (before anything is sent: Stripe unreachable), "stripe_lost:N" the
 * Nth Stripe call after Stripe did it (the reply lost: outcome unknown),
 * "alloc:N" the Nth arena or buffer allocation (out of memory).  A
 * "@PROC" suffix ("db:7@api", "stripe:2@job:payouts") limits any entry
 * to the processes whose log name is PROC.  Counting starts when the
 * process makes its context; each injection is logged ("fault
 * injected", the kind and N) so that a runner knows it was reached.
 * Without TALLY_FAULTS, TALLY_FAULTS_FILE names a file whose first line
 * is read instead, by each process as it starts (a runner rewrites it
 * and restarts one worker rather than tallyd).
 */
#ifndef TLY_CTX_H
#define TLY_CTX_H

#include "config.h"
#include "db.h"
#include "fault.h"
#include "tly_log.h"
#include "tly_pool.h"

typedef struct tly_ctx tly_ctx;
typedef struct tly_stripe tly_stripe;

/* what a fault hook asks the caller to do */
enum {
	TLY_FAULT_NONE = 0,
	TLY_FAULT_LOSE_REPLY,		/* act as if the reply was lost */
	TLY_FAULT_FAIL			/* fail at this point */
};

#define TLY_FAULT_POINTS	8

typedef int (*tly_fault_fn)(tly_ctx *, const char *, void *);

struct tly_ctx {
	const tly_config	*cfg;
	tly_log			*log;
	tly_db			*db;
	tly_stripe		*stripe;
	tly_pool		*pool;
	char			 request_id[72];
	tly_fault_fn		 fault;
	void			*fault_arg;
	/* faults from TALLY_FAULTS="point:count,…" (test stacks only) */
	struct {
		char	 point[48];
		int	 left;
	}			 env_faults[TLY_FAULT_POINTS];
};

int	 tly_ctx_init(tly_ctx *, const tly_config *, tly_log *);
void	 tly_ctx_free(tly_ctx *);
int	 tly_ctx_fault(tly_ctx *, const char *);

#endif

/*
 * tx.h - the one way to run a transaction that moves money
 * (docs/architecture.md, "The database")
 *
 *	TLY_TX_TYPED(create_tx, create_args)
 *	static int create_tx(tly_ctx *ctx, create_args *a, tly_err *err)
 *	{ ... }
 *	rc = create_tx_run(ctx, "checkout.create", &args, err);
 *
 * TLY_TX_TYPED declares a body over a typed argument and its runner, so
 * the compiler checks what is passed and a reader (or a tool) can follow
 * an id from the entry point to the row without a void * in between.
 * The untyped tly_tx_run() underneath is the same helper.
 *
 * The body runs between START TRANSACTION and COMMIT and must be
 * re-runnable: it may run several times and must (re)set every output
 * on each run.  It returns TLY_OK to commit; anything else rolls back and
 * is returned, except TLY_AGAIN (deadlock, lock wait timeout) which is
 * retried with jittered exponential backoff up to tx_max_attempts times.
 *
 * Exactly once across a lost connection: the helper's first statement
 * inserts a row with a fresh operation id into tx_ops.  When the
 * connection dies during COMMIT the outcome is unknown; the helper
 * reconnects, kills the old server thread, and reads that row with a
 * locking read (which waits until the old transaction has committed or
 * rolled back).  Found: the transaction committed, and the body's outputs
 * from that run stand.  Not found: it is run again.
 *
 * tly_tx_run_keyed() is for a body whose effect is keyed by a unique
 * natural key it writes itself (a webhook event id, a checkout's one
 * payment): run again after a commit that did happen, it finds its own
 * work and does nothing new.  Such a body needs no tx_ops row (one round
 * trip and one row fewer); after a lost COMMIT the helper reconnects,
 * kills the old server thread and runs the body again, whose first
 * locking statement waits for the old transaction to end.  The outputs of
 * that rerun are the ones that stand, so the body must report "already
 * done" in them the same way as any other rerun.
 */
#ifndef TLY_TX_H
#define TLY_TX_H

#include "ctx.h"

typedef int (*tly_tx_fn)(tly_ctx *, void *, tly_err *);

int	 tly_tx_run(tly_ctx *, const char *, tly_tx_fn, void *, tly_err *);
int	 tly_tx_run_keyed(tly_ctx *, const char *, tly_tx_fn, void *,
	    tly_err *);
int	 tly_tx_prune(tly_ctx *, tly_err *);

/* TLY_TX_TYPED - body 'name' over 'type' and its runner name_run() */
#define TLY_TX_TYPED(name, type)					\
	static int name(tly_ctx *, type *, tly_err *);			\
	static int							\
	name##_fn(tly_ctx *c_, void *a_, tly_err *e_)			\
	{								\
		return name(c_, (type *)a_, e_);			\
	}								\
	__attribute__((unused)) static int				\
	name##_run(tly_ctx *c_, const char *l_, type *a_, tly_err *e_)	\
	{								\
		return tly_tx_run(c_, l_, name##_fn, a_, e_);		\
	}								\
	__attribute__((unused)) static int				\
	name##_run_keyed(tly_ctx *c_, const char *l_, type *a_,		\
	    tly_err *e_)						\
	{								\
		return tly_tx_run_keyed(c_, l_, name##_fn, a_, e_);	\
	}

#endif

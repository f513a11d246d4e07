/*
 * fault.h - the Nth-call faults of torture mode (TALLY_FAULTS db:N,
 * stripe:N, stripe_lost:N, alloc:N; docs/reliability.md)
 *
 * Apart from ctx.h so that the layers below the context (db.c, stripe.c)
 * can ask without including it: ctx.h includes db.h, and an include back
 * would make a loop (tests/checksrc.sh).  Set up by tly_ctx_init() from
 * the environment; inert unless TALLY_FAULTS names one of them.
 */
#ifndef TLY_FAULT_H
#define TLY_FAULT_H

enum {
	TLY_FAULT_DB = 0,
	TLY_FAULT_STRIPE,
	TLY_FAULT_STRIPE_LOST,
	TLY_FAULT_ALLOC,
	TLY_FAULT_KINDS
};

int	 tly_fault_nth(int);

#endif

/*
 * ctx.c - the per-process context of core operations
 *
 * Owns the database handle, the Stripe client (one curl handle, its
 * connections kept alive) and the request arena of a process; the
 * configuration and the log belong to the caller (the worker or
 * tallyctl) and outlive the context.
 *
 * API:	tly_ctx_init(), tly_ctx_free(), tly_ctx_fault().
 */
#include <string.h>

#include "ctx.h"
#include "stripe.h"
#include "tly_err.h"

/* tly_ctx_init - a context over 'cfg' logging to 'log'; not connected */
int
tly_ctx_init(tly_ctx *ctx, const tly_config *cfg, tly_log *log)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->log = log;
	ctx->db = tly_db_new(cfg, log);
	ctx->pool = tly_pool_new(16 << 10);
	ctx->stripe = tly_stripe_new(cfg, log);
	if (ctx->db == NULL || ctx->pool == NULL || ctx->stripe == NULL) {
		tly_ctx_free(ctx);
		return TLY_ERR;
	}
	return TLY_OK;
}

/* tly_ctx_free - release what the context owns */
void
tly_ctx_free(tly_ctx *ctx)
{
	tly_db_free(ctx->db);
	tly_pool_free(ctx->pool);
	tly_stripe_free(ctx->stripe);
	ctx->db = NULL;
	ctx->pool = NULL;
	ctx->stripe = NULL;
}

/* tly_ctx_fault - the test hook at 'point'; TLY_FAULT_NONE without one */
int
tly_ctx_fault(tly_ctx *ctx, const char *point)
{
	if (ctx->fault == NULL)
		return TLY_FAULT_NONE;
	return ctx->fault(ctx, point, ctx->fault_arg);
}

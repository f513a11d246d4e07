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
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "stripe.h"
#include "tly_err.h"
#include "tly_str.h"

/* env_faults - parse TALLY_FAULTS ("point:count,point:count") */
static void
env_faults(tly_ctx *ctx)
{
	const char *e = getenv("TALLY_FAULTS");
	char buf[512], *tok, *save = NULL, *colon;
	int64_t n;
	int i = 0;

	if (e == NULL || *e == '\0')
		return;
	tly_strlcpy(buf, e, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok && i < TLY_FAULT_POINTS;
	    tok = strtok_r(NULL, ",", &save)) {
		colon = strchr(tok, ':');
		n = 1;
		if (colon) {
			*colon = '\0';
			if (tly_parse_i64(colon + 1, &n) != TLY_OK)
				continue;
		}
		tly_strlcpy(ctx->env_faults[i].point, tok,
		    sizeof(ctx->env_faults[i].point));
		ctx->env_faults[i++].left = (int)n;
	}
	tly_logkv(ctx->log, TLY_LOG_WARN, "ctx", "fault injection active",
	    "TALLY_FAULTS", e, NULL);
}

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
	env_faults(ctx);
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
	int i;

	for (i = 0; i < TLY_FAULT_POINTS && ctx->env_faults[i].point[0]; i++)
		if (ctx->env_faults[i].left > 0 &&
		    strcmp(ctx->env_faults[i].point, point) == 0) {
			ctx->env_faults[i].left--;
			return TLY_FAULT_FAIL;
		}
	if (ctx->fault == NULL)
		return TLY_FAULT_NONE;
	return ctx->fault(ctx, point, ctx->fault_arg);
}

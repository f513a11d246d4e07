/*
 * ctx.c - the per-process context of core operations
 *
 * Owns the database handle, the Stripe client (one curl handle, its
 * connections kept alive) and the request arena of a process; the
 * configuration and the log belong to the caller (the worker or
 * tallyctl) and outlive the context.
 *
 * The Nth-call faults of torture mode (ctx.h) are per process, not per
 * context: the hooks in db.c, stripe.c and tly_pool.c / tly_buf.c have
 * no context at hand.  Their counters are set once, by the first
 * context of a process that reads TALLY_FAULTS.
 *
 * API:	tly_ctx_init(), tly_ctx_free(), tly_ctx_fault(), tly_fault_nth().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "stripe.h"
#include "tly_err.h"
#include "tly_str.h"

/* the Nth-call faults: which call of each kind fails, and the count */
static struct {
	const char	*name;
	int64_t		 nth;		/* 0: none */
	int64_t		 seen;
} nth_faults[TLY_FAULT_KINDS] = {
	[TLY_FAULT_DB] = { "db", 0, 0 },
	[TLY_FAULT_STRIPE] = { "stripe", 0, 0 },
	[TLY_FAULT_STRIPE_LOST] = { "stripe_lost", 0, 0 },
	[TLY_FAULT_ALLOC] = { "alloc", 0, 0 }
};
static tly_log *nth_log;

/* alloc_fault - the allocation hook of tly_pool.h */
static int
alloc_fault(void)
{
	return tly_fault_nth(TLY_FAULT_ALLOC);
}

/* nth_set - 'point' is a kind of Nth-call fault: fail its Nth call */
static int
nth_set(tly_ctx *ctx, const char *point, int64_t n)
{
	int k;

	for (k = 0; k < TLY_FAULT_KINDS; k++)
		if (strcmp(nth_faults[k].name, point) == 0) {
			nth_faults[k].nth = n;
			nth_faults[k].seen = 0;
			nth_log = ctx->log;
			if (k == TLY_FAULT_ALLOC)
				tly_alloc_fault = alloc_fault;
			return 1;
		}
	return 0;
}

/*
 * tly_fault_nth - 1 when this call of kind 'k' is the Nth that
 * TALLY_FAULTS asked to fail (it is logged), else 0
 */
int
tly_fault_nth(int k)
{
	char num[24];

	if (k < 0 || k >= TLY_FAULT_KINDS || nth_faults[k].nth <= 0 ||
	    ++nth_faults[k].seen != nth_faults[k].nth)
		return 0;
	snprintf(num, sizeof(num), "%lld", (long long)nth_faults[k].nth);
	if (nth_log)
		tly_logkv(nth_log, TLY_LOG_WARN, "ctx", "fault injected",
		    "kind", nth_faults[k].name, "nth", num, NULL);
	return 1;
}

/*
 * env_faults - parse TALLY_FAULTS ("point:count[@proc],…"), or without
 * it the first line of the file TALLY_FAULTS_FILE names (read by each
 * process as it starts: a test rewrites it and restarts one worker); a
 * point of torture mode (db, stripe, stripe_lost, alloc) takes the Nth
 * call
 */
static void
env_faults(tly_ctx *ctx)
{
	const char *e = getenv("TALLY_FAULTS"), *path;
	char buf[512], file[512], *tok, *save = NULL, *colon, *at;
	size_t len;
	int64_t n;
	int i = 0;
	FILE *f;

	path = getenv("TALLY_FAULTS_FILE");
	f = (e == NULL || *e == '\0') && path && *path ? fopen(path, "r") :
	    NULL;
	if (f != NULL) {
		len = fread(file, 1, sizeof(file) - 1, f);
		fclose(f);
		file[len] = '\0';
		file[strcspn(file, "\r\n")] = '\0';
		e = file;
	}
	if (e == NULL || *e == '\0')
		return;
	tly_strlcpy(buf, e, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok && i < TLY_FAULT_POINTS;
	    tok = strtok_r(NULL, ",", &save)) {
		colon = strchr(tok, ':');
		at = colon ? strchr(colon, '@') : NULL;
		if (at) {
			*at++ = '\0';
			if (strcmp(at, ctx->log->proc) != 0)
				continue;	/* another process's */
		}
		n = 1;
		if (colon) {
			*colon = '\0';
			if (tly_parse_i64(colon + 1, &n) != TLY_OK)
				continue;
		}
		if (nth_set(ctx, tok, n))
			continue;
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

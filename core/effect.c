/*
 * effect.c - one engine for durable Stripe effects (effect.h;
 * docs/architecture.md)
 *
 * Owns the lifecycle of every Stripe write Tally must make once; the
 * kinds (refund.c, checkout.c, ...) own their tables and describe
 * themselves in a const tly_effect_kind.  The engine writes only the
 * common columns of an effect's row (key generation, lease_until,
 * attempts, next_attempt_at, last_error, dead_at) and, when an attempt
 * gets no answer, moves the kind's "fresh" state to its "unknown" one;
 * every other change is the kind's, in the transactions the engine runs.
 *
 * One attempt, in call order:
 *   lease     UPDATE ... SET lease_until = now + TLY_EFFECT_LEASE_S (or
 *             [payouts] lease for the transfer kinds) WHERE the state is
 *             open, the effect not dead and no lease runs: one process
 *             at a time, on any host.  The first attempt also owns a
 *             fresh row step 1 gave a lease; a client's retry waits up
 *             to 10 s for an attempt in progress.
 *   look      whenever a call may have been made before (a finisher, a
 *             state other than the kind's fresh one, a look-only row):
 *             the kind's find(), an EXACT look-up (a stored id, or a list
 *             filtered by the parent object: never a bounded scan of an
 *             account-wide list, which misses on a busy account, and
 *             Stripe forgets an idempotency key after 24 hours).
 *             Found -> matches() -> done_tx.  404 on the object acted on
 *             -> missing_tx (terminal, one ALERT).  Not found and
 *             look-only -> abandon_tx; not found and the kind's
 *             may_call() says not now (a payout the balance cannot
 *             cover) -> the lease ends, no attempt counted.
 *   call      tly_stripe_create_once() with "<key_prefix>:<id>:g<gen>":
 *             the same key after no answer; after a 5xx Stripe stored,
 *             the kind's find() and, not found, the next generation,
 *             written to the row (from gen - 1 only) before it is used.
 *             2xx -> matches() -> done_tx; 4xx -> refused_tx (or, on a
 *             404 of the object acted on, missing_tx); a refused_tx that
 *             sets e->retry (a cancel refused while the payment is
 *             processing) -> the next generation, tried after retry_s.
 *   no answer the lease ends, attempts + 1, next_attempt_at = now +
 *             min(TLY_EFFECT_BACKOFF_S * (2^attempts - 1), the cap):
 *             the first retry at the finisher's next run; after
 *             TLY_EFFECT_MAX_ATTEMPTS dead_at is set and one ALERT says
 *             so: `tallyctl effects list --dead`, `effects retry ID`.
 *   record    the kind's transaction and, in it, the common columns
 *             reset (attempts 0, lease ended, due now for what follows);
 *             the ALERT or note it set is logged after the COMMIT.
 *   after     the kind's after(), whatever the outcome (e->outcome): a
 *             post-commit follow-up (a cancel, a completion, stock given
 *             back), a run's counts.
 * A found object that is not what Tally meant (matches() fails) is an
 * ALERT and the effect is dead: an operator decides.
 *
 * tly_effect_first() is the first attempt right after step 1 committed
 * (no look: nothing was sent yet); tly_effect_run() lets the state decide
 * (a client's retry); tly_effect_finish() always looks first (the jobs,
 * through tly_effect_finish_due()); tly_effect_record() runs done_tx for
 * an object Stripe told about otherwise (a webhook, a refresh).
 *
 * API:	tly_effect_first(), tly_effect_run(), tly_effect_finish(),
 *	tly_effect_record(), tly_effect_finish_due(), tly_effect_list(),
 *	tly_effect_retry(), tly_effect_missing(), tly_effect_refused(),
 *	tly_effect_find_transfer().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "effect.h"
#include "tly_str.h"
#include "tx.h"

#define DUE_BATCH	50
#define LIST_MAX	1000
#define SQL_MAX		1024
#define BUSY_POLLS	200		/* a client's retry waits 10 s */
#define BUSY_POLL_US	50000

enum { MODE_FIRST, MODE_AUTO, MODE_FINISH };

/* sqlf - the statement 'fmt' for kind 'k' into 'buf' (NULL: too long) */
static const char *
sqlf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sz ? NULL : buf;
}

/* tly_effect_refused - 'rc'/'err' is Stripe's definite refusal (4xx) */
int
tly_effect_refused(int rc, const tly_err *err)
{
	return rc == TLY_ERR && err->upstream_status >= 400 &&
	    err->upstream_status < 500;
}

/* tly_effect_missing - 'rc'/'err' is Stripe's 404 resource_missing */
int
tly_effect_missing(int rc, const tly_err *err)
{
	return rc == TLY_ERR && err->upstream_status == 404 &&
	    strcmp(err->code, "resource_missing") == 0;
}

/*
 * tly_effect_find_transfer - the find() of a transfer effect whose
 * transfer_group and metadata[tally_id] are its id: the transfer among
 * those of its group
 */
int
tly_effect_find_transfer(tly_ctx *ctx, const tly_effect *e,
    const tly_jv **found, tly_err *err)
{
	return tly_stripe_find_child(ctx->stripe, ctx->pool, "/v1/transfers",
	    "transfer_group", e->id, "transfer", e->id, found, err);
}

/* --- the common columns ------------------------------------------- */

/*
 * take - the lease on effect 'id' ('*got' 0: not open, or held); the
 * first attempt ('first') also owns a fresh row step 1 gave a lease
 */
static int
take(tly_ctx *ctx, const tly_effect_kind *k, const char *id, int first,
    int *got, tly_err *err)
{
	char buf[SQL_MAX], st[24];
	const char *sql;
	int64_t attempts = -1;
	uint64_t n = 0;
	int rc;

	*got = 0;
	sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %slease_until = NOW(3) + "
	    "INTERVAL ? SECOND WHERE id = ? AND %s IN (%s) AND %sdead_at IS "
	    "NULL AND %slease_until <= NOW(3)", k->table, k->col, k->state_col,
	    k->open_sql, k->col, k->col);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, &n, sql, "is",
	    (int64_t)(k->payout_lease ? ctx->cfg->payout_lease_s :
	    TLY_EFFECT_LEASE_S), id);
	*got = rc == TLY_OK && n == 1;
	if (rc || *got || !first || k->fresh == NULL)
		return rc;
	sql = sqlf(buf, sizeof(buf), "SELECT %s, %sattempts FROM %s WHERE id "
	    "= ? AND %sdead_at IS NULL", k->state_col, k->col, k->table,
	    k->col);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_row(ctx->db, err, sql, "s>si", id, st, sizeof(st),
	    &attempts);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;
	}
	*got = rc == TLY_OK && strcmp(st, k->fresh) == 0 && attempts == 0;
	return rc;
}

/* still_open - effect 'id' is still to be done ('*open') */
static int
still_open(tly_ctx *ctx, const tly_effect_kind *k, const char *id,
    int *open, tly_err *err)
{
	char buf[SQL_MAX], st[24];
	const char *sql;
	int rc;

	*open = 0;
	sql = sqlf(buf, sizeof(buf), "SELECT %s FROM %s WHERE id = ? AND %s "
	    "IN (%s) AND %sdead_at IS NULL", k->state_col, k->table,
	    k->state_col, k->open_sql, k->col);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_row(ctx->db, err, sql, "s>s", id, st, sizeof(st));
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;
	}
	*open = rc == TLY_OK;
	return rc;
}

/* load_row - the engine's columns of effect e->id, then the kind's row */
static int
load_row(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const tly_effect_kind *k = e->kind;
	char buf[SQL_MAX];
	const char *sql;
	int rc;

	sql = sqlf(buf, sizeof(buf), "SELECT %s, %s, %sattempts FROM %s WHERE "
	    "id = ?", k->state_col, k->gen_col, k->col, k->table);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_row(ctx->db, err, sql, "s>sii", e->id, e->state,
	    sizeof(e->state), &e->key_gen, &e->attempts);
	if (rc == TLY_NOTFOUND)
		return tly_err_internal(err);
	if (rc == TLY_OK)
		rc = k->load(ctx, e, err);
	return rc;
}

/* let_go - end the lease without counting an attempt */
static void
let_go(tly_ctx *ctx, const tly_effect *e)
{
	const tly_effect_kind *k = e->kind;
	char buf[SQL_MAX];
	const char *sql;
	tly_err e2;

	tly_err_clear(&e2);
	sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %slease_until = NOW(3) "
	    "WHERE id = ?", k->table, k->col);
	if (sql)
		(void)tly_db_exec(ctx->db, &e2, NULL, sql, "s", e->id);
}

/* alert - one ALERT line about effect 'e' */
static void
alert(tly_ctx *ctx, const tly_effect *e, const char *what)
{
	char msg[256], n[24];
	const char *sid;

	snprintf(msg, sizeof(msg), "ALERT: %s", what);
	snprintf(n, sizeof(n), "%lld", (long long)e->attempts);
	sid = e->target[0] ? e->target : e->obj ?
	    tly_json_str(e->obj, "id") : NULL;
	tly_logkv(ctx->log, TLY_LOG_ALERT, e->kind->name, msg, "effect_id",
	    e->id, "stripe_id", sid, "state", e->state, "attempts", n,
	    "code", e->why.code[0] ? e->why.code : NULL, NULL);
}

/*
 * no_answer - the attempt ended without Stripe's answer ('e->why'): the
 * lease ends, the attempt counts, the next is planned, or the effect dies
 */
static int
no_answer(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const tly_effect_kind *k = e->kind;
	const char *fresh = k->fresh ? k->fresh : "";
	const char *unknown = k->unknown ? k->unknown : "";
	char buf[SQL_MAX], n[24];
	const char *sql;
	int dead, rc;

	dead = e->attempts + 1 >= TLY_EFFECT_MAX_ATTEMPTS;
	/*
	 * assignments run left to right: the delay reads the old count;
	 * the first retry is due at once (the next run), then base * 2^n
	 */
	sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %s = IF(%s = ? AND ? <> "
	    "'', ?, %s), %snext_attempt_at = NOW(3) + INTERVAL LEAST(? * "
	    "(POW(2, LEAST(%sattempts, 20)) - 1), ?) SECOND, %sattempts = "
	    "%sattempts + 1, %slast_error = ?, %slease_until = NOW(3), "
	    "%sdead_at = IF(?, NOW(3), NULL) WHERE id = ? AND %s IN (%s)",
	    k->table, k->state_col, k->state_col, k->state_col, k->col, k->col,
	    k->col, k->col, k->col, k->col, k->col, k->state_col, k->open_sql);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL, sql, "sssiisis", fresh, unknown,
	    unknown, (int64_t)TLY_EFFECT_BACKOFF_S,
	    (int64_t)TLY_EFFECT_BACKOFF_CAP_S,
	    e->why.code[0] ? e->why.code : "no_answer", (int64_t)dead, e->id);
	if (rc)
		return rc;
	e->attempts++;
	e->outcome = dead ? TLY_EFFECT_DEAD : TLY_EFFECT_UNKNOWN;
	if (dead)
		alert(ctx, e, "no answer from Stripe after the last attempt: "
		    "the effect is dead; see `tallyctl effects list --dead`, "
		    "then `tallyctl effects retry ID`");
	else {
		snprintf(n, sizeof(n), "%lld", (long long)e->attempts);
		tly_logkv(ctx->log, TLY_LOG_WARN, k->name, "no answer from "
		    "Stripe: tried again later", "effect_id", e->id,
		    "attempts", n, "code", e->why.code[0] ? e->why.code :
		    NULL, NULL);
	}
	if (k->after) {
		tly_err e2;

		tly_err_clear(&e2);
		(void)k->after(ctx, e, &e2);
	}
	*err = e->why;
	if (err->code[0] == '\0')
		tly_err_set(err, TLY_EK_UPSTREAM, "stripe_outcome_unknown",
		    "The payment provider did not confirm the request; it "
		    "will be checked and finished.");
	return TLY_UNKNOWN;
}

/* --- the kind's transactions --------------------------------------- */

typedef struct body_args {
	tly_effect	*e;
	int		(*fn)(tly_ctx *, tly_effect *, tly_err *);
	const char	*last_error;
	int		 keep_lease;	/* another process may hold it */
} body_args;

/*
 * body - the kind's transaction, then the common columns: settled (due
 * now for what follows), or, when the kind asked to try again after a
 * refusal, the next key generation (Stripe stored the refusal under the
 * key) and a short delay
 */
TLY_TX_TYPED(body, body_args)

static int
body(tly_ctx *ctx, body_args *a, tly_err *err)
{
	tly_effect *e = a->e;
	const tly_effect_kind *k = e->kind;
	char buf[SQL_MAX];
	const char *sql;
	int rc;

	e->alert = e->note = NULL;
	e->retry = 0;
	rc = a->fn ? a->fn(ctx, e, err) : TLY_OK;
	if (rc)
		return rc;
	if (e->retry)
		sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %s = %s + 1, "
		    "%snext_attempt_at = NOW(3) + INTERVAL ? SECOND, "
		    "%slease_until = NOW(3), %slast_error = ? WHERE id = ? AND "
		    "%s = ?", k->table, k->gen_col, k->gen_col, k->col,
		    k->col, k->col, k->gen_col);
	else if (a->keep_lease)
		sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %sattempts = 0, "
		    "%snext_attempt_at = NOW(3), %sdead_at = NULL, "
		    "%slast_error = ? WHERE id = ?", k->table, k->col, k->col,
		    k->col, k->col);
	else
		sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %sattempts = 0, "
		    "%snext_attempt_at = NOW(3), %slease_until = NOW(3), "
		    "%sdead_at = NULL, %slast_error = ? WHERE id = ?",
		    k->table, k->col, k->col, k->col, k->col, k->col);
	if (sql == NULL)
		return tly_err_internal(err);
	if (e->retry)
		return tly_db_later(ctx->db, err, sql, "issi",
		    (int64_t)k->retry_s, a->last_error, e->id, e->key_gen);
	return tly_db_later(ctx->db, err, sql, "ss", a->last_error, e->id);
}

/*
 * commit - run 'fn' (and the common columns) in one transaction; log what
 * it set; then the kind's after().  The attempt's outcome is 'outcome'.
 */
static int
commit(tly_ctx *ctx, tly_effect *e, int (*fn)(tly_ctx *, tly_effect *,
    tly_err *), int outcome, tly_err *err)
{
	const tly_effect_kind *k = e->kind;
	body_args a;
	char name[48];
	int rc;

	memset(&a, 0, sizeof(a));
	a.e = e;
	a.fn = fn;
	a.last_error = outcome == TLY_EFFECT_DONE ? NULL : e->why.code[0] ?
	    e->why.code : NULL;
	snprintf(name, sizeof(name), "%s.record", k->name);
	rc = body_run(ctx, name, &a, err);
	if (rc) {
		let_go(ctx, e);
		e->outcome = outcome == TLY_EFFECT_DONE ?
		    TLY_EFFECT_UNRECORDED : TLY_EFFECT_BUSY;
		if (k->after && e->outcome == TLY_EFFECT_UNRECORDED) {
			tly_err e2;

			tly_err_clear(&e2);
			(void)k->after(ctx, e, &e2);
		}
		return rc;
	}
	e->outcome = e->retry ? TLY_EFFECT_UNKNOWN : outcome;
	if (e->alert)
		alert(ctx, e, e->alert);
	if (e->note)
		tly_logkv(ctx->log, TLY_LOG_INFO, k->name, e->note,
		    "effect_id", e->id, "stripe_id", e->obj ?
		    tly_json_str(e->obj, "id") : NULL, NULL);
	return k->after ? k->after(ctx, e, err) : TLY_OK;
}

/* mismatch - a found object is not what Tally meant: dead, ALERT */
static int
mismatch(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const tly_effect_kind *k = e->kind;
	char buf[SQL_MAX];
	const char *sql;
	tly_err e2;

	tly_err_clear(&e2);
	sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %sdead_at = NOW(3), "
	    "%slast_error = 'mismatch', %slease_until = NOW(3) WHERE id = ?",
	    k->table, k->col, k->col, k->col);
	if (sql)
		(void)tly_db_exec(ctx->db, &e2, NULL, sql, "s", e->id);
	e->outcome = TLY_EFFECT_DEAD;
	alert(ctx, e, "the object found at Stripe is not the one Tally "
	    "meant: the effect is dead, left for an operator");
	if (k->after)
		(void)k->after(ctx, e, &e2);
	return tly_err_internal(err);
}

/* found - Stripe has the object 'obj': check it, then done_tx */
static int
found(tly_ctx *ctx, tly_effect *e, const tly_jv *obj, tly_err *err)
{
	int rc;

	e->obj = obj;
	rc = e->kind->matches(ctx, e, obj, err);
	if (rc)
		return mismatch(ctx, e, err);
	return commit(ctx, e, e->kind->done_tx, TLY_EFFECT_DONE, err);
}

/* missing - Stripe has not the object acted on: terminal, one ALERT */
static int
missing(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	int rc;

	rc = commit(ctx, e, e->kind->missing_tx, TLY_EFFECT_MISSING, err);
	if (rc == TLY_OK)
		alert(ctx, e, "Stripe has no such object (404 "
		    "resource_missing): recorded as missing, nothing more is "
		    "tried");
	return rc;
}

/* --- step 2 --------------------------------------------------------- */

static int
once_params(tly_stripe_once *o, tly_form *f)
{
	tly_effect *e = o->arg;

	return e->kind->params(e, f);
}

static int
once_lookup(tly_stripe_once *o, tly_stripe *s, tly_pool *pool,
    const tly_jv **found_obj, tly_err *err)
{
	tly_effect *e = o->arg;

	(void)s;
	(void)pool;
	return e->kind->find(o->ctx, e, found_obj, err);
}

/* once_bump - generation 'gen' replaces gen - 1 only, while open */
static int
once_bump(tly_stripe_once *o, int gen, tly_err *err)
{
	tly_effect *e = o->arg;
	const tly_effect_kind *k = e->kind;
	tly_ctx *ctx = o->ctx;
	char buf[SQL_MAX];
	const char *sql;
	uint64_t n = 0;
	int rc;

	sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %s = ? WHERE id = ? AND "
	    "%s = ? AND %s IN (%s)", k->table, k->gen_col, k->gen_col,
	    k->state_col, k->open_sql);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, &n, sql, "isi", (int64_t)gen, e->id,
	    (int64_t)gen - 1);
	if (rc == TLY_OK && n != 1)
		return tly_err_set(err, TLY_EK_CONFLICT, "retry",
		    "The effect moved on meanwhile.");
	if (rc == TLY_OK)
		e->key_gen = gen;
	return rc;
}

/* call - step 2 under the stored key generation, then step 3 */
static int
call(tly_ctx *ctx, tly_effect *e, tly_err *err)
{
	const tly_effect_kind *k = e->kind;
	tly_stripe_resp resp;
	tly_stripe_once o;
	const tly_jv *obj;
	char base[96];
	int rc;

	snprintf(base, sizeof(base), "%s:%s", k->key_prefix, e->id);
	memset(&o, 0, sizeof(o));
	o.path = k->path ? k->path : k->path_of(ctx, e);
	if (o.path == NULL) {
		let_go(ctx, e);
		return tly_err_internal(err);
	}
	o.object = k->object;
	o.key_base = base;
	o.generation = (int)e->key_gen;
	o.params = once_params;
	o.lookup = once_lookup;
	o.bump = once_bump;
	o.arg = e;
	o.ctx = ctx;
	memset(&resp, 0, sizeof(resp));
	tly_err_clear(&e->why);
	rc = tly_stripe_create_once(ctx->stripe, ctx->pool, &o, &obj, &resp,
	    &e->why);
	if (rc == TLY_OK) {
		e->made = 1;
		return found(ctx, e, obj, err);
	}
	if (tly_effect_missing(rc, &e->why) && k->missing_tx)
		return missing(ctx, e, err);
	if (tly_effect_refused(rc, &e->why)) {
		rc = commit(ctx, e, k->refused_tx, TLY_EFFECT_REFUSED, err);
		if (rc)
			return rc;
		if (e->outcome == TLY_EFFECT_UNKNOWN) {	/* e->retry */
			*err = e->why;
			return TLY_UNKNOWN;
		}
		*err = e->why;
		return TLY_ERR;
	}
	return no_answer(ctx, e, err);
}

/* --- attempts ------------------------------------------------------ */

/* run - one attempt at effect 'id' of kind 'k' (see the top) */
static int
run(tly_ctx *ctx, const tly_effect_kind *k, const char *id, int mode,
    void *arg, tly_effect *e, tly_err *err)
{
	const tly_jv *obj = NULL;
	int got, look, rc, i;

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->arg = arg;
	tly_strlcpy(e->id, id, sizeof(e->id));
	rc = take(ctx, k, id, mode == MODE_FIRST, &got, err);
	for (i = 0; rc == TLY_OK && !got && mode == MODE_AUTO &&
	    i < BUSY_POLLS; i++) {
		/* a client's retry waits for the attempt in progress */
		usleep(BUSY_POLL_US);
		rc = still_open(ctx, k, id, &got, err);
		if (rc == TLY_OK && got)
			rc = take(ctx, k, id, 0, &got, err);
		else if (rc == TLY_OK)
			break;			/* finished meanwhile */
	}
	if (rc || !got)
		return rc;
	e->finishing = mode == MODE_FINISH;
	rc = load_row(ctx, e, err);
	if (rc) {
		let_go(ctx, e);
		return rc;
	}
	look = mode == MODE_FINISH || e->look_only || k->fresh == NULL ||
	    strcmp(e->state, k->fresh) != 0;
	if (!look)
		return call(ctx, e, err);
	tly_err_clear(&e->why);
	rc = k->find(ctx, e, &obj, &e->why);
	if (rc == TLY_OK)
		return found(ctx, e, obj, err);
	if (tly_effect_missing(rc, &e->why) && k->missing_tx)
		return missing(ctx, e, err);
	if (rc != TLY_NOTFOUND)
		return no_answer(ctx, e, err);		/* cannot look now */
	tly_err_clear(&e->why);
	if (e->look_only)
		return commit(ctx, e, k->abandon_tx, TLY_EFFECT_ABANDONED,
		    err);
	if (k->may_call && !k->may_call(ctx, e)) {
		let_go(ctx, e);
		e->outcome = TLY_EFFECT_DEFERRED;
		return k->after ? k->after(ctx, e, err) : TLY_OK;
	}
	return call(ctx, e, err);
}

/*
 * tly_effect_first - the first attempt at effect 'id' of kind 'k', right
 * after its row was committed (nothing sent yet: no look-up).  TLY_OK
 * (e->outcome says what happened), TLY_ERR (refused: 'err' is Stripe's
 * answer, or a failure), TLY_UNKNOWN (no answer: finished later).
 */
int
tly_effect_first(tly_ctx *ctx, const tly_effect_kind *k, const char *id,
    void *arg, tly_effect *e, tly_err *err)
{
	return run(ctx, k, id, MODE_FIRST, arg, e, err);
}

/*
 * tly_effect_run - an attempt at effect 'id' whose row may have been
 * sent before (a client's retry): looks first unless the row is in the
 * kind's fresh state.  Results as tly_effect_first().
 */
int
tly_effect_run(tly_ctx *ctx, const tly_effect_kind *k, const char *id,
    void *arg, tly_effect *e, tly_err *err)
{
	return run(ctx, k, id, MODE_AUTO, arg, e, err);
}

/*
 * tly_effect_finish - a finisher's attempt at effect 'id': always looks
 * first.  Results as tly_effect_first().
 */
int
tly_effect_finish(tly_ctx *ctx, const tly_effect_kind *k, const char *id,
    void *arg, tly_effect *e, tly_err *err)
{
	return run(ctx, k, id, MODE_FINISH, arg, e, err);
}

/*
 * tly_effect_record - Stripe told about effect 'id''s object 'obj'
 * otherwise (an event, a refresh): check it and run the kind's done_tx
 * (which must be safe to run again: it reads its rows under lock).
 */
int
tly_effect_record(tly_ctx *ctx, const tly_effect_kind *k, const char *id,
    const tly_jv *obj, void *arg, tly_effect *e, tly_err *err)
{
	body_args a;
	char name[48];
	int rc;

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->arg = arg;
	tly_strlcpy(e->id, id, sizeof(e->id));
	rc = load_row(ctx, e, err);
	if (rc)
		return rc;
	e->obj = obj;
	if (k->matches(ctx, e, obj, err) != TLY_OK) {
		alert(ctx, e, "the object Stripe sent is not the one Tally "
		    "meant: not recorded, left for an operator");
		return tly_err_internal(err);
	}
	memset(&a, 0, sizeof(a));
	a.e = e;
	a.fn = k->done_tx;
	a.keep_lease = 1;
	snprintf(name, sizeof(name), "%s.record", k->name);
	rc = body_run(ctx, name, &a, err);
	if (rc)
		return rc;
	e->outcome = TLY_EFFECT_DONE;
	if (e->alert)
		alert(ctx, e, e->alert);
	if (e->note)
		tly_logkv(ctx->log, TLY_LOG_INFO, k->name, e->note,
		    "effect_id", e->id, "stripe_id", tly_json_str(obj, "id"),
		    NULL);
	return k->after ? k->after(ctx, e, err) : TLY_OK;
}

/*
 * tly_effect_finish_due - the finisher of kind 'k': one attempt at each
 * effect that is open, alive, due and not leased (at most DUE_BATCH),
 * 'arg' in e->arg; how many it finished (done, refused, missing,
 * abandoned) in '*done'.  A failing effect is logged, not fatal.
 */
int
tly_effect_finish_due(tly_ctx *ctx, const tly_effect_kind *k, void *arg,
    int *done, tly_err *err)
{
	char ids[DUE_BATCH][40], buf[SQL_MAX];
	const char *sql;
	tly_effect e;
	tly_err e2;
	int i, m = 0, rc, *n = &m;

	*done = 0;
	sql = sqlf(buf, sizeof(buf), "SELECT id FROM %s WHERE %s IN (%s) AND "
	    "%sdead_at IS NULL AND %snext_attempt_at <= NOW(3) AND "
	    "%slease_until <= NOW(3)%s%s ORDER BY %snext_attempt_at LIMIT ?",
	    k->table, k->state_col, k->open_sql, k->col, k->col, k->col,
	    k->due_sql ? " AND " : "", k->due_sql ? k->due_sql : "", k->col);
	if (sql == NULL)
		return tly_err_internal(err);
	rc = tly_db_ids(ctx->db, err, sql, ids[0], sizeof(ids[0]), DUE_BATCH,
	    n);
	for (i = 0; rc == TLY_OK && i < *n; i++) {
		tly_err_clear(&e2);
		if (tly_effect_finish(ctx, k, ids[i], arg, &e, &e2) != TLY_OK &&
		    e.outcome != TLY_EFFECT_UNKNOWN &&
		    e.outcome != TLY_EFFECT_DEAD &&
		    e.outcome != TLY_EFFECT_REFUSED)
			tly_logkv(ctx->log, TLY_LOG_WARN, k->name, "finishing "
			    "an effect failed", "effect_id", ids[i], "code",
			    e2.code, NULL);
		*done += e.outcome == TLY_EFFECT_DONE ||
		    e.outcome == TLY_EFFECT_REFUSED ||
		    e.outcome == TLY_EFFECT_MISSING ||
		    e.outcome == TLY_EFFECT_ABANDONED;
	}
	return rc;
}

/*
 * tly_effect_list - 'fn'('arg', row) for each unfinished effect of kind
 * 'k' (only the dead ones with 'dead'), oldest first, at most LIST_MAX
 */
int
tly_effect_list(tly_ctx *ctx, const tly_effect_kind *k, int dead,
    tly_effect_each_fn fn, void *arg, tly_err *err)
{
	char buf[SQL_MAX], cond[48];
	tly_effect_row r;
	const char *sql, *v;
	tly_q q;
	int rc;

	snprintf(cond, sizeof(cond), " AND %sdead_at IS NOT NULL", k->col);
	sql = sqlf(buf, sizeof(buf), "SELECT id, %s, %sattempts, "
	    "FLOOR(UNIX_TIMESTAMP(%snext_attempt_at)), %sdead_at IS NOT NULL, "
	    "IFNULL(%slast_error, '') FROM %s WHERE %s IN (%s)%s ORDER BY id "
	    "LIMIT %d", k->state_col, k->col, k->col, k->col, k->col, k->table,
	    k->state_col, k->open_sql, dead ? cond : "", LIST_MAX);
	if (sql == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, sql, err))
		return q.rc;
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		memset(&r, 0, sizeof(r));
		r.kind = k->name;
		tly_strlcpy(r.id, tly_q_col_str(&q, 0), sizeof(r.id));
		tly_strlcpy(r.state, tly_q_col_str(&q, 1), sizeof(r.state));
		r.attempts = tly_q_col_i64(&q, 2);
		r.next_attempt_at = tly_q_col_i64(&q, 3);
		r.dead = tly_q_col_i64(&q, 4) != 0;
		v = tly_q_col_str(&q, 5);
		tly_strlcpy(r.last_error, v ? v : "", sizeof(r.last_error));
		fn(arg, &r);
	}
	tly_q_done(&q);
	return rc;
}

typedef struct retry_args {
	const tly_principal	*actor;
	const tly_effect_kind	*k;
	const char		*sql;
	const char		*id;
	int			 done;
} retry_args;

/* retry_tx - the dead effect open again, and the operator's audit row */
TLY_TX_TYPED(retry_tx, retry_args)
static int
retry_tx(tly_ctx *ctx, retry_args *a, tly_err *err)
{
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, a->sql, "s", a->id);
	a->done = rc == TLY_OK && n == 1;
	if (a->done)
		rc = tly_audit(ctx, a->actor, "effect.retry", a->id,
		    a->k->name, err);
	return rc;
}

/*
 * tly_effect_retry - 'actor' gives dead effect 'id' of kind 'k' another
 * round (attempts from 0, due now); '*done' says whether 'id' was a dead
 * effect of that kind.  Audited in the same transaction.
 */
int
tly_effect_retry(tly_ctx *ctx, const tly_effect_kind *k,
    const tly_principal *actor, const char *id, int *done, tly_err *err)
{
	char buf[SQL_MAX];
	retry_args a;
	int rc;

	*done = 0;
	memset(&a, 0, sizeof(a));
	a.sql = sqlf(buf, sizeof(buf), "UPDATE %s SET %sdead_at = NULL, "
	    "%sattempts = 0, %snext_attempt_at = NOW(3), %slease_until = "
	    "NOW(3) WHERE id = ? AND %s IN (%s) AND %sdead_at IS NOT NULL",
	    k->table, k->col, k->col, k->col, k->col, k->state_col,
	    k->open_sql, k->col);
	if (a.sql == NULL)
		return tly_err_internal(err);
	a.actor = actor;
	a.k = k;
	a.id = id;
	rc = retry_tx_run(ctx, "effect.retry", &a, err);
	*done = rc == TLY_OK && a.done;
	return rc;
}

/*
 * tallyctl.c - the operator's command line over the same core as tallyd
 *
 *	tallyctl [-c tally.conf] [--env-file FILE] COMMAND ...
 *	tallyctl -V | --version | -h | --help | help
 *
 *	-c, --config FILE       the configuration (default $TALLY_CONF, else
 *	                        SYSCONFDIR/tally/tally.conf)
 *	-e, --env-file FILE     read the env:NAME secrets from FILE, the
 *	                        unit's EnvironmentFile (else [tally] env_file)
 *
 *	migrate [--dir DIR]             apply schema migrations
 *	config check                    load the configuration and report
 *	apikey create NAME              print a new server API key (once)
 *	apikey list                     list keys (never the keys)
 *	apikey revoke ID                revoke a key
 *	admin create USER ROLE          new admin user; password on stdin
 *	admin passwd USER               new password on stdin; ends sessions
 *	admin list                      list admin users
 *	jwt --sub SUB [--ttl S] [--email E] [--issuer NAME]
 *	                                mint an HS256 buyer token (dev/tests)
 *	job list                        the jobs tallyd can run
 *	job run NAME                    run a job once, now
 *	webhook list [--dead|--failed]  stored Stripe events
 *	webhook replay EVENT_ID         act on a stored event again
 *	payouts run                     one payout run now (payout.c)
 *	payouts deferred [--reason R]   why the latest run left payees
 *	                                unpaid (payout_defer.c)
 *	outbox list [--dead]            emails not sent yet (or dead ones)
 *	outbox retry MSG_ID             send a dead email again
 *	effects list [--dead]           Stripe effects not finished yet
 *	                                (or only the dead ones), every kind
 *	effects retry ID                give a dead effect another round
 *	audit verify [--head ID:HASH]   walk the audit chain: exit 0 whole,
 *	                                1 broken (the first broken row named)
 *	audit head                      the verified head: "ID HASH"
 *	reconcile [--since YYYY-MM-DD]  compare with Stripe's balance
 *	                                transactions from that day (default
 *	                                yesterday) until now: exit 0 clean,
 *	                                1 mismatch (the report is stored)
 *	reconcile ack ID --reason TEXT  the mismatches naming ID (Stripe's
 *	                                or Tally's) are judged: later runs
 *	                                say "acknowledged" (audited)
 *	check [NAME ...]                verify the ledger's invariants:
 *	                                exit 0 clean, 1 violated, 2 error
 *
 * Nothing here is implemented twice: every command calls the core
 * operation tallyd's routes call.  Secrets printed (a new API key, a
 * token) go to standard output alone so scripts can capture them;
 * everything else goes to standard error.  List commands print a header
 * line (column names in capitals), then one tab-separated line per row.
 * help, --help and -V need no configuration.  Exit status 0 on success,
 * 1 on failure, 2 on usage errors.
 *
 * API:	main().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "advance.h"
#include "audit.h"
#include "audit_chain.h"
#include "auth.h"
#include "check.h"
#include "checkout.h"
#include "effect.h"
#include "config.h"
#include "ctx.h"
#include "jobs.h"
#include "jwt.h"
#include "migrate.h"
#include "payout.h"
#include "payout_run.h"
#include "reconcile.h"
#include "recover.h"
#include "outbox.h"
#include "refund.h"
#include "webhook.h"
#include "tly_str.h"

#ifndef TALLY_SYSCONF_DIR
#define TALLY_SYSCONF_DIR "/etc"
#endif

typedef struct cli {
	tly_config	 cfg;
	tly_log		 log;
	tly_ctx		 ctx;
	tly_principal	 op;		/* the operator, for the audit log */
	int		 argc;
	char		**argv;
} cli;

static const char usage_text[] =
	    "usage: tallyctl [-c tally.conf] [--env-file FILE] COMMAND\n"
	    "       tallyctl -V | --help\n"
	    "options:\n"
	    "  -c, --config FILE    the configuration (default $TALLY_CONF, "
	    "else\n"
	    "                       " TALLY_SYSCONF_DIR "/tally/tally.conf)\n"
	    "  -e, --env-file FILE  read env:NAME secrets from FILE (the "
	    "unit's\n"
	    "                       EnvironmentFile; else [tally] env_file)\n"
	    "  -V, --version        print the version\n"
	    "  -h, --help           print this\n"
	    "commands:\n"
	    "  help\n"
	    "  migrate [--dir DIR]\n"
	    "  config check\n"
	    "  apikey create NAME | apikey list | apikey revoke ID\n"
	    "  admin create USER ROLE | admin passwd USER | admin list\n"
	    "  jwt --sub SUB [--ttl SECONDS] [--email EMAIL] [--issuer NAME]\n"
	    "  job list | job run NAME\n"
	    "  webhook list [--dead|--failed] | webhook replay EVENT_ID\n"
	    "  payouts run | payouts deferred [--reason REASON]\n"
	    "  outbox list [--dead] | outbox retry MSG_ID\n"
	    "  effects list [--dead] | effects retry ID\n"
	    "  audit verify [--head ID:HASH] | audit head\n"
	    "  reconcile [--since YYYY-MM-DD]\n"
	    "  reconcile ack STRIPE_OR_TALLY_ID --reason TEXT\n"
	    "  check [NAME ...] | check --list\n"
	    "see tallyctl(8)\n";

/* usage - the usage on standard error; the exit status of a bad call */
static int
usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int
fail(const tly_err *e)
{
	fprintf(stderr, "tallyctl: %s%s%s%s\n", e->msg, e->code[0] ? " (" : "",
	    e->code, e->code[0] ? ")" : "");
	return 1;
}

/* opt - the value of "--name VALUE" in the arguments, or NULL */
static const char *
opt(cli *c, const char *name)
{
	int i;

	for (i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0)
			return c->argv[i + 1];
	return NULL;
}

/* read_secret - one line from standard input, without its newline */
static int
read_secret(char *buf, size_t sz)
{
	size_t n;

	if (isatty(0))
		fprintf(stderr, "password: ");
	if (fgets(buf, (int)sz, stdin) == NULL)
		return TLY_ERR;
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return TLY_OK;
}

static int
cmd_migrate(cli *c)
{
	tly_migrate_result res;

	if (tly_migrate(&c->cfg, opt(c, "--dir"), &c->log, &res) != TLY_OK) {
		fprintf(stderr, "tallyctl: migrate: %s\n", res.why);
		return 1;
	}
	fprintf(stderr, "migrate: %d applied, %d already current\n",
	    res.applied, res.current);
	return 0;
}

static int
cmd_apikey(cli *c)
{
	char key[64], id[40];
	tly_api_key_row *rows;
	tly_page pg = { 100, NULL };
	int n, more, i;
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 3 && strcmp(c->argv[1], "create") == 0) {
		if (tly_apikey_create(&c->ctx, &c->op, c->argv[2], key,
		    sizeof(key), id, sizeof(id), &e) != TLY_OK)
			return fail(&e);
		printf("%s\n", key);
		fprintf(stderr, "created API key %s (%s)\n", id, c->argv[2]);
		return 0;
	}
	if (c->argc == 3 && strcmp(c->argv[1], "revoke") == 0) {
		if (tly_apikey_revoke(&c->ctx, &c->op, c->argv[2], &e) !=
		    TLY_OK)
			return fail(&e);
		fprintf(stderr, "revoked %s\n", c->argv[2]);
		return 0;
	}
	if (c->argc == 2 && strcmp(c->argv[1], "list") == 0) {
		printf("ID\tNAME\tPREFIX\tSTATE\n");
		do {
			if (tly_api_keys_list(&c->ctx, &pg, &rows, &n, &more,
			    &e) != TLY_OK)
				return fail(&e);
			for (i = 0; i < n; i++)
				printf("%s\t%s\t%s…\t%s\n", rows[i].id,
				    rows[i].name, rows[i].prefix,
				    rows[i].revoked ? "revoked" : "active");
			pg.starting_after = n ? rows[n - 1].id : NULL;
		} while (more);
		return 0;
	}
	return usage();
}

static int
cmd_admin(cli *c)
{
	char pw[300], id[40];
	tly_admin_user_row *rows;
	tly_page pg = { 100, NULL };
	int n, more, i, rc;
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 4 && strcmp(c->argv[1], "create") == 0) {
		if (read_secret(pw, sizeof(pw)) != TLY_OK)
			return usage();
		rc = tly_admin_create(&c->ctx, &c->op, c->argv[2], pw,
		    tly_role_parse(c->argv[3]), id, sizeof(id), &e);
		explicit_bzero(pw, sizeof(pw));
		if (rc != TLY_OK)
			return fail(&e);
		fprintf(stderr, "created admin user %s (%s, %s)\n", c->argv[2],
		    id, c->argv[3]);
		return 0;
	}
	if (c->argc == 3 && strcmp(c->argv[1], "passwd") == 0) {
		if (read_secret(pw, sizeof(pw)) != TLY_OK)
			return usage();
		rc = tly_admin_set_password(&c->ctx, &c->op, c->argv[2], pw,
		    &e);
		explicit_bzero(pw, sizeof(pw));
		if (rc != TLY_OK)
			return fail(&e);
		fprintf(stderr, "password changed for %s\n", c->argv[2]);
		return 0;
	}
	if (c->argc == 2 && strcmp(c->argv[1], "list") == 0) {
		printf("ID\tUSER\tROLE\tSTATE\n");
		do {
			if (tly_admin_users_list(&c->ctx, &pg, &rows, &n, &more,
			    &e) != TLY_OK)
				return fail(&e);
			for (i = 0; i < n; i++)
				printf("%s\t%s\t%s\t%s\n", rows[i].id,
				    rows[i].username, rows[i].role,
				    rows[i].disabled ? "disabled" : "active");
			pg.starting_after = n ? rows[n - 1].id : NULL;
		} while (more);
		return 0;
	}
	return usage();
}

static int
cmd_jwt(cli *c)
{
	const tly_jwt_issuer *is = NULL;
	const char *sub, *ttl_s, *iss;
	int64_t ttl = 3600;
	tly_buf b;
	int i;

	sub = opt(c, "--sub");
	ttl_s = opt(c, "--ttl");
	iss = opt(c, "--issuer");
	if (sub == NULL || (ttl_s && (tly_parse_i64(ttl_s, &ttl) != TLY_OK ||
	    ttl < 1)))
		return usage();
	for (i = 0; i < c->cfg.n_issuers; i++)
		if (c->cfg.issuers[i].alg == TLY_JWT_HS256 && (iss == NULL ||
		    strcmp(c->cfg.issuers[i].name, iss) == 0)) {
			is = &c->cfg.issuers[i];
			break;
		}
	if (is == NULL) {
		fprintf(stderr, "tallyctl: no HS256 [jwt.*] issuer%s%s in the "
		    "configuration\n", iss ? " named " : "", iss ? iss : "");
		return 1;
	}
	tly_buf_init(&b, 16384);
	if (tly_jwt_sign_hs256(is, sub, opt(c, "--email"), tly_now_s(), ttl,
	    &b) != TLY_OK) {
		tly_buf_free(&b);
		fprintf(stderr, "tallyctl: cannot sign\n");
		return 1;
	}
	printf("%s\n", tly_buf_str(&b));
	tly_buf_free(&b);
	return 0;
}

static int
cmd_job(cli *c)
{
	const tly_job *j;
	tly_err e;

	if (c->argc == 2 && strcmp(c->argv[1], "list") == 0) {
		printf("JOB\tWHAT\n");
		for (j = tly_jobs; j->name; j++)
			printf("%s\t%s\n", j->name, j->what);
		return 0;
	}
	if (c->argc != 3 || strcmp(c->argv[1], "run") != 0)
		return usage();
	j = tly_job_find(c->argv[2]);
	if (j == NULL) {
		fprintf(stderr, "tallyctl: no job '%s' (see: job list)\n",
		    c->argv[2]);
		return 1;
	}
	tly_err_clear(&e);
	if (j->fn(&c->ctx, &e) != TLY_OK)
		return fail(&e);
	fprintf(stderr, "job %s: done\n", j->name);
	return 0;
}

static int
cmd_webhook(cli *c)
{
	tly_webhook_row *rows;
	tly_webhook_result res;
	tly_page pg = { 100, NULL };
	const char *status = NULL;
	int n, more, i;
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 3 && strcmp(c->argv[1], "replay") == 0) {
		if (tly_webhook_replay(&c->ctx, &c->op, c->argv[2], &res,
		    &e) != TLY_OK)
			return fail(&e);
		printf("%s\t%s\t%s\n", res.event_id, res.type, res.status);
		return 0;
	}
	if (c->argc < 2 || strcmp(c->argv[1], "list") != 0)
		return usage();
	if (c->argc == 3 && strcmp(c->argv[2], "--dead") == 0)
		status = "dead";
	else if (c->argc == 3 && strcmp(c->argv[2], "--failed") == 0)
		status = "failed";
	else if (c->argc != 2)
		return usage();
	printf("EVENT\tTYPE\tSTATUS\tATTEMPTS\tLAST_ERROR\n");
	do {
		if (tly_webhook_list(&c->ctx, status, &pg, &rows, &n, &more,
		    &e) != TLY_OK)
			return fail(&e);
		for (i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%lld\t%s\n", rows[i].id,
			    rows[i].type, rows[i].status,
			    (long long)rows[i].attempts, rows[i].last_error);
		pg.starting_after = n ? rows[n - 1].id : NULL;
	} while (more);
	return 0;
}

/*
 * payouts_deferred - "payouts deferred [--reason R]": why the latest run
 * left each payee unpaid, newest first, one tab-separated line each
 */
static int
payouts_deferred(cli *c)
{
	tly_payout_deferral *rows;
	tly_page pg = { 100, NULL };
	const char *why = NULL;
	char after[24];
	int n, more, i;
	tly_err e;

	if (c->argc == 4 && strcmp(c->argv[2], "--reason") == 0)
		why = c->argv[3];
	else if (c->argc != 2)
		return usage();
	tly_err_clear(&e);
	do {
		tly_pool_reset(c->ctx.pool);
		if (tly_payout_deferrals_list(&c->ctx, why, NULL, &pg, &rows,
		    &n, &more, &e) != TLY_OK)
			return fail(&e);
		for (i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%lld\t%lld\t%lld\n",
			    rows[i].account_id, rows[i].currency,
			    rows[i].reason, (long long)rows[i].amount_cent,
			    (long long)rows[i].payable_cent,
			    (long long)rows[i].threshold_cent);
		if (n) {
			snprintf(after, sizeof(after), "%lld",
			    (long long)rows[n - 1].id);
			pg.starting_after = after;
		}
	} while (more);
	return 0;
}

/* cmd_payouts - "payouts run": what it did on standard output */
static int
cmd_payouts(cli *c)
{
	tly_payout_stats st;
	tly_err e;

	if (c->argc >= 2 && strcmp(c->argv[1], "deferred") == 0)
		return payouts_deferred(c);
	if (c->argc != 2 || strcmp(c->argv[1], "run") != 0)
		return usage();
	tly_err_clear(&e);
	if (tly_payouts_run(&c->ctx, &st, &e) != TLY_OK)
		return fail(&e);
	printf("paid %d\tfailed %d\tdeferred %d\tunknown %d\tfinished %d\t"
	    "advances %d\treversed %d\treversal_failed %d\n", st.paid,
	    st.failed, st.deferred, st.unknown, st.finished, st.advances,
	    st.reversed, st.reverse_failed);
	return 0;
}

static int
cmd_outbox(cli *c)
{
	tly_outbox_row *rows;
	tly_page pg = { 100, NULL };
	const char *state = NULL;
	int n, more, i;
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 3 && strcmp(c->argv[1], "retry") == 0) {
		if (tly_outbox_retry(&c->ctx, &c->op, c->argv[2], &e) !=
		    TLY_OK)
			return fail(&e);
		fprintf(stderr, "%s: queued again\n", c->argv[2]);
		return 0;
	}
	if (c->argc < 2 || strcmp(c->argv[1], "list") != 0)
		return usage();
	if (c->argc == 3 && strcmp(c->argv[2], "--dead") == 0)
		state = "dead";
	else if (c->argc != 2)
		return usage();
	printf("ID\tKIND\tSTATE\tATTEMPTS\tTO\tCAUSE\tLAST_ERROR\n");
	do {
		if (tly_outbox_list(&c->ctx, state, &pg, &rows, &n, &more,
		    &e) != TLY_OK)
			return fail(&e);
		for (i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%lld\t%s\t%s\t%s\n", rows[i].id,
			    rows[i].kind, rows[i].state,
			    (long long)rows[i].attempts, rows[i].to,
			    rows[i].dedupe, rows[i].last_error);
		pg.starting_after = n ? rows[n - 1].id : NULL;
	} while (more);
	return 0;
}

/* kept_head - "ID:HASH" into its parts */
static int
kept_head(const char *s, int64_t *id, const char **hash)
{
	const char *colon = strchr(s, ':');
	char num[24];

	if (colon == NULL || (size_t)(colon - s) >= sizeof(num) ||
	    strlen(colon + 1) != 64)
		return TLY_ERR;
	memcpy(num, s, (size_t)(colon - s));
	num[colon - s] = '\0';
	*hash = colon + 1;
	return tly_parse_i64(num, id) == TLY_OK && *id > 0 ? TLY_OK : TLY_ERR;
}

/* cmd_audit - "audit verify [--head ID:HASH]", "audit head" */
static int
cmd_audit(cli *c)
{
	tly_audit_verdict v;
	const char *hash = NULL;
	int64_t kept = 0;
	int writable = 0;
	char id[24];
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 4 && strcmp(c->argv[1], "verify") == 0 &&
	    strcmp(c->argv[2], "--head") == 0) {
		if (kept_head(c->argv[3], &kept, &hash) != TLY_OK)
			return usage();
	} else if (c->argc != 2 || (strcmp(c->argv[1], "verify") != 0 &&
	    strcmp(c->argv[1], "head") != 0))
		return usage();
	if (tly_audit_verify(&c->ctx, kept, hash, &v, &e) != TLY_OK)
		return fail(&e);
	if (tly_audit_writable(&c->ctx, &writable, &e) != TLY_OK)
		return fail(&e);
	if (writable)
		fprintf(stderr, "tallyctl: warning: the database user Tally "
		    "connects as may UPDATE or DELETE the audit log: run "
		    "tallyctl migrate with [db] migrate_user "
		    "(docs/operations.md, \"Database users\")\n");
	if (!v.ok) {
		snprintf(id, sizeof(id), "%lld", (long long)v.broken_id);
		tly_logkv(&c->log, TLY_LOG_ALERT, "audit", "ALERT: the audit "
		    "log's hash chain is broken", "audit_id", id, "why", v.why,
		    NULL);
		printf("broken\t%s\t%s\n", id, v.why);
		return 1;
	}
	if (strcmp(c->argv[1], "head") == 0)
		printf("%lld %s\n", (long long)v.head_id, v.head_hash);
	else
		printf("ok\t%lld rows\thead %lld %s\tunchained %lld\n",
		    (long long)v.rows, (long long)v.head_id, v.head_hash,
		    (long long)v.unchained);
	return 0;
}

/* day_start - "YYYY-MM-DD" as unix seconds at 00:00 UTC */
static int
day_start(const char *s, int64_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return TLY_ERR;
	*t = (int64_t)timegm(&tm);
	return TLY_OK;
}

static void
cents(char *dst, size_t sz, int64_t v)
{
	if (v == TLY_RECON_NONE)
		snprintf(dst, sz, "-");
	else
		snprintf(dst, sz, "%lld", (long long)v);
}

/*
 * cmd_reconcile - "reconcile [--since YYYY-MM-DD]", "reconcile ack ID
 * --reason TEXT"
 */
static int
cmd_reconcile(cli *c)
{
	const tly_recon_line *l;
	tly_recon_report rep;
	int64_t since, now = tly_now_s();
	const char *d = opt(c, "--since");
	char a[24], b[24];
	tly_err e;
	int i;

	if (c->argc >= 2 && strcmp(c->argv[1], "ack") == 0) {
		if (c->argc != 5 || strcmp(c->argv[3], "--reason") != 0)
			return usage();
		tly_err_clear(&e);
		if (tly_reconcile_ack(&c->ctx, &c->op, c->argv[2],
		    c->argv[4], &e) != TLY_OK)
			return fail(&e);
		fprintf(stderr, "acknowledged %s\n", c->argv[2]);
		return 0;
	}
	since = (now / 86400 - 1) * 86400;
	if ((c->argc != 1 && c->argc != 3) || (c->argc == 3 && (d == NULL ||
	    day_start(d, &since) != TLY_OK)))
		return usage();
	tly_err_clear(&e);
	if (tly_reconcile_run(&c->ctx, since, now + 1, &rep, &e) != TLY_OK)
		return fail(&e);
	printf("DAY\tCURRENCY\tKIND\tOUTCOME\tSTRIPE_TXN\tSTRIPE_ID\t"
	    "TALLY_ID\tSTRIPE_CENT\tTALLY_CENT\n");
	for (i = 0; i < rep.n_lines; i++) {
		l = &rep.lines[i];
		cents(a, sizeof(a), l->stripe_cent);
		cents(b, sizeof(b), l->tally_cent);
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l->day,
		    l->currency, l->kind, l->outcome, l->txn[0] ? l->txn : "-",
		    l->object[0] ? l->object : "-",
		    l->tally[0] ? l->tally : "-", a, b);
	}
	fprintf(stderr, "reconcile %s: %s: matched %lld, missing_in_tally "
	    "%lld, missing_at_stripe %lld, amount_differs %lld, "
	    "acknowledged %lld\n", rep.id, rep.status,
	    (long long)rep.matched, (long long)rep.missing_in_tally,
	    (long long)rep.missing_at_stripe, (long long)rep.amount_differs,
	    (long long)rep.acknowledged);
	tly_reconcile_free(&rep);
	return strcmp(rep.status, "clean") == 0 ? 0 : 1;
}

/* the kinds of Stripe effects (effect.h), for "effects" */
static const tly_effect_kind *const effect_kinds[] = {
	&tly_checkout_pi_effect,
	&tly_checkout_cancel_effect,
	&tly_refund_effect,
	&tly_payout_effect,
	&tly_advance_effect,
	&tly_reversal_effect,
	&tly_connect_effect,
	NULL
};

/* effect_line - one effect: kind, id, state, attempts, next, dead, why */
static void
effect_line(void *arg, const tly_effect_row *r)
{
	(void)arg;
	printf("%s\t%s\t%s\t%lld\t%lld\t%s\t%s\n", r->kind, r->id,
	    r->state, (long long)r->attempts, (long long)r->next_attempt_at,
	    r->dead ? "dead" : "open", r->last_error);
}

/* cmd_effects - "effects list [--dead]", "effects retry ID" */
static int
cmd_effects(cli *c)
{
	const tly_effect_kind *const *k;
	int dead = 0, done = 0;
	tly_err e;

	tly_err_clear(&e);
	if (c->argc == 3 && strcmp(c->argv[1], "retry") == 0) {
		for (k = effect_kinds; *k && !done; k++)
			if (tly_effect_retry(&c->ctx, *k, &c->op, c->argv[2],
			    &done, &e) != TLY_OK)
				return fail(&e);
		if (!done) {
			fprintf(stderr, "tallyctl: no dead effect '%s' (see: "
			    "effects list --dead)\n", c->argv[2]);
			return 1;
		}
		fprintf(stderr, "%s: tried again by the next run of its job\n",
		    c->argv[2]);
		return 0;
	}
	if (c->argc < 2 || strcmp(c->argv[1], "list") != 0)
		return usage();
	if (c->argc == 3 && strcmp(c->argv[2], "--dead") == 0)
		dead = 1;
	else if (c->argc != 2)
		return usage();
	for (k = effect_kinds; *k; k++)
		if (tly_effect_list(&c->ctx, *k, dead, effect_line, NULL,
		    &e) != TLY_OK)
			return fail(&e);
	return 0;
}

/* report - one violation: "CHECK: label=value …" on standard output */
static void
report(void *arg, const tly_check *k, const char *line)
{
	int64_t *shown = arg;

	if ((*shown)++ < 1000)
		printf("%s: %s\n", k->name, line);
}

/* cmd_check - exit 0 when every check holds, 1 when one fails, 2 error */
static int
cmd_check(cli *c)
{
	const tly_check *k;
	int64_t n, shown, total = 0;
	int i, ran = 0, failed = 0;
	tly_err e;

	if (c->argc == 2 && strcmp(c->argv[1], "--list") == 0) {
		printf("CHECK\tINVARIANT\n");
		for (k = tly_checks; k->name; k++)
			printf("%s\t%s\n", k->name, k->what);
		return 0;
	}
	for (i = 1; i < c->argc; i++)
		if (tly_check_find(c->argv[i]) == NULL) {
			fprintf(stderr, "tallyctl: no check '%s' (see: check "
			    "--list)\n", c->argv[i]);
			return 2;
		}
	for (k = tly_checks; k->name; k++) {
		for (i = 1; i < c->argc; i++)
			if (strcmp(c->argv[i], k->name) == 0)
				break;
		if (c->argc > 1 && i == c->argc)
			continue;
		tly_err_clear(&e);
		shown = 0;
		if (tly_check_run(&c->ctx, k, report, &shown, &n, &e) !=
		    TLY_OK) {
			fprintf(stderr, "tallyctl: check %s: %s\n", k->name,
			    e.msg);
			return 2;
		}
		if (n > shown)
			printf("%s: ... and %lld more\n", k->name,
			    (long long)(n - shown));
		ran++;
		failed += n > 0;
		total += n;
	}
	fprintf(stderr, "check: %d checks, %d passed, %d failed, %lld "
	    "violations\n", ran, ran - failed, failed, (long long)total);
	return failed ? 1 : 0;
}

static const struct option long_opts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "env-file",	required_argument,	NULL, 'e' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 }
};

int
main(int argc, char **argv)
{
	const char *path, *cmd, *env_file = NULL;
	char why[512];
	cli c;
	int ch, rc;

	path = getenv("TALLY_CONF");
	if (path == NULL || *path == '\0')
		path = TALLY_SYSCONF_DIR "/tally/tally.conf";
	while ((ch = getopt_long(argc, argv, "+c:e:hV", long_opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'e':
			env_file = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("tallyctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if (strcmp(argv[optind], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	tly_audit_operator(&c.op);
	c.argc = argc - optind;
	c.argv = argv + optind;
	cmd = c.argv[0];
	if (tly_config_load_env(&c.cfg, path, env_file, why, sizeof(why)) !=
	    TLY_OK) {
		fprintf(stderr, "tallyctl: %s\n", why);
		return strcmp(cmd, "check") == 0 ? 2 : 1;
	}
	tly_log_init(&c.log, 2, TLY_LOG_WARN, "tallyctl");
	if (strcmp(cmd, "config") == 0) {
		fprintf(stderr, "%s: configuration ok\n", path);
		rc = c.argc == 2 && strcmp(c.argv[1], "check") == 0 ? 0 :
		    usage();
	} else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&c);
	else if (strcmp(cmd, "jwt") == 0)
		rc = cmd_jwt(&c);
	else if (tly_ctx_init(&c.ctx, &c.cfg, &c.log) != TLY_OK)
		rc = strcmp(cmd, "check") == 0 ? 2 : 1;
	else {
		if (strcmp(cmd, "apikey") == 0)
			rc = cmd_apikey(&c);
		else if (strcmp(cmd, "admin") == 0)
			rc = cmd_admin(&c);
		else if (strcmp(cmd, "job") == 0)
			rc = cmd_job(&c);
		else if (strcmp(cmd, "webhook") == 0)
			rc = cmd_webhook(&c);
		else if (strcmp(cmd, "payouts") == 0)
			rc = cmd_payouts(&c);
		else if (strcmp(cmd, "outbox") == 0)
			rc = cmd_outbox(&c);
		else if (strcmp(cmd, "effects") == 0)
			rc = cmd_effects(&c);
		else if (strcmp(cmd, "check") == 0)
			rc = cmd_check(&c);
		else if (strcmp(cmd, "audit") == 0)
			rc = cmd_audit(&c);
		else if (strcmp(cmd, "reconcile") == 0)
			rc = cmd_reconcile(&c);
		else
			rc = usage();
		tly_ctx_free(&c.ctx);
	}
	tly_config_free(&c.cfg);
	return rc;
}

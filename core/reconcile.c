/*
 * reconcile.c - reconciliation with Stripe (reconcile.h)
 *
 * Owns reconciliation_reports and reconciliation_lines.  One run over
 * the window [since, until):
 *
 *   1. read Stripe's balance transactions of the platform created from
 *      a day before 'since' (GET /v1/balance_transactions, paginated to
 *      its end, at most RC_PAGES pages); no transaction is open;
 *      then the platform's transfers of the last RC_XFER_S (each names
 *      its destination payment py_ and embeds its reversals, each naming
 *      its destination payment refund pyr_), and the balance transactions
 *      of every connected account Tally knows (Stripe-Account);
 *   2. each one created in the window is compared with Tally's record of
 *      its source, by kind:
 *        charge (ch_)            payments.charge_id: the amount, and the
 *                                Stripe fee (line "stripe_fee") against
 *                                the actual fee, else the estimate;
 *        refund (re_)            a booked refund: the amount;
 *        refund_failure (re_)    a refund Tally has as failed;
 *        transfer (tr_)          a payout's or an advance's transfer,
 *                                or an external transfer;
 *        transfer_refund (trr_)  a transfer reversal;
 *        adjustment, dispute (dp_)  the withdrawal, and its fee
 *                                ("dispute_fee");
 *        adjustment, dispute_reversal  a dispute Tally has as won;
 *      other types (the platform's own payouts, Stripe's other fees) are
 *      not Tally's and are skipped.  An amount in another currency than
 *      Tally's record (a settlement currency) is compared for presence
 *      only.  On a connected account:
 *        payment (py_)           the transfer it stands for: a payout's,
 *                                an advance's or an external transfer
 *                                (line "connect_transfer");
 *        payment_refund (pyr_)   the reversal it stands for
 *                                ("connect_reversal");
 *      the account's own payouts and charges are skipped;
 *   3. Tally's records created in the window whose Stripe object no
 *      balance transaction read in step 1 names are "missing_at_stripe"
 *      (step 1 read a day more, so a record a little older than its
 *      balance transaction is not reported); so are Tally's transfers
 *      and reversals whose py_/pyr_ no connected account lists;
 *   4. a charge whose Stripe fee differs from the fee Tally booked (or
 *      only estimated) gets the real fee booked, each in its own
 *      transaction, through the path of a late real fee
 *      (tly_payment_fee_correct, complete.c; audited as "reconcile"):
 *      this report says amount_differs, the next one matched;
 *   5. a line that is not "matched" but names an id an operator
 *      acknowledged (reconciliation_acks: tly_reconcile_ack, from
 *      `tallyctl reconcile ack` or the admin route) is "acknowledged":
 *      judged by a human, it does not make the report a mismatch;
 *   6. one transaction stores the report and its lines and, when any
 *      line is a mismatch, queues the email to [alerts] email; after
 *      the commit an ALERT log line names the report.
 *
 * Also owns external_transfers: a transfer.created without Tally's
 * metadata[tally_id] (a transfer made in the Dashboard) is recorded
 * there by tly_reconcile_external_transfer (dispatch.c, for the webhook
 * and the catch-up job alike), never as a payee's earning or payout,
 * with an ALERT line and an audit row (system "stripe_event", by
 * webhook or catch-up alike); its balance transaction is then
 * "matched" against that record (tally id ext_...).
 * The job takes GET_LOCK('tally.reconcile') without waiting: on several
 * hosts one runs, the others skip the run.
 *
 * API:	tly_reconcile_run(), tly_reconcile_free(), tly_job_reconcile(),
 *	tly_reconcile_list(), tly_reconcile_lines(), tly_reconcile_ack(),
 *	tly_reconcile_ack_line(), tly_reconcile_external_transfer().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "complete.h"
#include "metrics.h"
#include "outbox.h"
#include "reconcile.h"
#include "stripe.h"
#include "tly_buf.h"
#include "tly_str.h"
#include "tx.h"

#define RC_PAGES	1000		/* 100 000 balance transactions */
#define RC_SLACK_S	86400
#define RC_XFER_S	(90 * 86400)	/* transfers read for their reversals */
#define RC_MAIL_LINES	20

typedef struct btxn {
	char	 id[72], type[32], cat[40], source[72], currency[4];
	int64_t	 amount_cent, fee_cent, created;
} btxn;

/* a connected account's source and the platform's object it stands for */
typedef struct pair {
	char	 dest[72];		/* py_ or pyr_ */
	char	 platform[72];		/* tr_ or trr_ */
} pair;

typedef struct run {
	tly_ctx		*ctx;
	int64_t		 since, until;
	btxn		*t;		/* the platform's */
	size_t		 nt, capt;
	btxn		*c;		/* the connected accounts' */
	size_t		 nc, capc;
	pair		*m;		/* py_ -> tr_, pyr_ -> trr_ */
	size_t		 nm, capm;
	tly_recon_report *rep;
	size_t		 capl;
} run;

/* --- reading Stripe ------------------------------------------------------ */

/* add_to - balance transaction 'o' appended to '*arr' */
static int
add_to(btxn **arr, size_t *n, size_t *cap, const tly_jv *o)
{
	const char *v;
	btxn *b, *nt;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		nt = realloc(*arr, *cap * sizeof(*nt));
		if (nt == NULL)
			return TLY_ERR;
		*arr = nt;
	}
	b = &(*arr)[*n];
	memset(b, 0, sizeof(*b));
	v = tly_json_str(o, "id");
	tly_strlcpy(b->id, v ? v : "", sizeof(b->id));
	v = tly_json_str(o, "type");
	tly_strlcpy(b->type, v ? v : "", sizeof(b->type));
	v = tly_json_str(o, "reporting_category");
	tly_strlcpy(b->cat, v ? v : "", sizeof(b->cat));
	v = tly_json_str(o, "source");
	tly_strlcpy(b->source, v ? v : "", sizeof(b->source));
	v = tly_json_str(o, "currency");
	tly_strlcpy(b->currency, v ? v : "", sizeof(b->currency));
	if (tly_json_i64(o, "amount", &b->amount_cent) != TLY_OK ||
	    tly_json_i64(o, "created", &b->created) != TLY_OK)
		return TLY_ERR;
	if (tly_json_i64(o, "fee", &b->fee_cent) != TLY_OK)
		b->fee_cent = 0;
	(*n)++;
	return TLY_OK;
}

/* add_pair - 'dest' on the connected account stands for 'platform' */
static int
add_pair(run *r, const char *dest, const char *platform)
{
	pair *nm;

	if (dest == NULL || platform == NULL)
		return TLY_OK;
	if (r->nm == r->capm) {
		r->capm = r->capm ? r->capm * 2 : 256;
		nm = realloc(r->m, r->capm * sizeof(*nm));
		if (nm == NULL)
			return TLY_ERR;
		r->m = nm;
	}
	tly_strlcpy(r->m[r->nm].dest, dest, sizeof(r->m[0].dest));
	tly_strlcpy(r->m[r->nm].platform, platform,
	    sizeof(r->m[0].platform));
	r->nm++;
	return TLY_OK;
}

/* each_platform - a platform balance transaction of step 1 */
static int
each_platform(run *r, const tly_jv *o)
{
	return add_to(&r->t, &r->nt, &r->capt, o);
}

/* each_connected - a connected account's balance transaction */
static int
each_connected(run *r, const tly_jv *o)
{
	return add_to(&r->c, &r->nc, &r->capc, o);
}

/*
 * each_transfer - a platform transfer: its destination payment, and
 * the destination payment refund of each reversal it embeds
 */
static int
each_transfer(run *r, const tly_jv *o)
{
	const tly_jv *rev, *e;

	if (add_pair(r, tly_json_str(o, "destination_payment"),
	    tly_json_str(o, "id")) != TLY_OK)
		return TLY_ERR;
	rev = tly_json_get(o, "reversals");
	rev = rev ? tly_json_get(rev, "data") : NULL;
	if (rev == NULL || rev->type != TLY_JARR)
		return TLY_OK;
	for (e = rev->child; e; e = e->next)
		if (add_pair(r, tly_json_str(e, "destination_payment_refund"),
		    tly_json_str(e, "id")) != TLY_OK)
			return TLY_ERR;
	return TLY_OK;
}

/*
 * read_list - every page of list 'path' (of connected account 'acct',
 * NULL: the platform) created from 'from' on, each item to 'each'
 */
static int
read_list(run *r, const char *path, const char *acct, int64_t from,
    int (*each)(run *, const tly_jv *), tly_err *err)
{
	const char *after = NULL, *id;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_list l;
	const tly_jv *e;
	tly_form f;
	int page, rc;

	for (page = 0; page < RC_PAGES; page++) {
		tly_form_init(&f);
		tly_form_i64(&f, "created[gte]", from);
		tly_form_i64(&f, "limit", 100);
		tly_form_str(&f, "starting_after", after);
		rq = (tly_stripe_req){ "GET", path, &f, NULL, acct };
		rc = tly_stripe_call(r->ctx->stripe, r->ctx->pool, &rq, &resp,
		    err);
		tly_form_free(&f);
		if (rc)
			return rc;
		if (tly_st_list_parse(resp.json, &l) != TLY_OK)
			return tly_err_set(err, TLY_EK_UPSTREAM,
			    "stripe_bad_reply", "Unexpected list reply.");
		for (e = l.data->child; e; e = e->next) {
			id = tly_json_str(e, "id");
			if (id == NULL || each(r, e) != TLY_OK)
				return tly_err_set(err, TLY_EK_UPSTREAM,
				    "stripe_bad_reply", "Unexpected list "
				    "item.");
			after = id;
		}
		if (!l.has_more || l.n == 0)
			return TLY_OK;
		after = tly_pstrdup(r->ctx->pool, after);
	}
	return tly_err_set(err, TLY_EK_UPSTREAM, "stripe_list_too_long",
	    "Too many balance transactions in the window.");
}

/* read_stripe - step 1, the platform's balance transactions */
static int
read_stripe(run *r, tly_err *err)
{
	return read_list(r, "/v1/balance_transactions", NULL,
	    r->since - RC_SLACK_S, each_platform, err);
}

/*
 * connected_ids - the connected accounts of Tally's payees, into
 * '*ids' (pool memory), read before any Stripe call
 */
static int
connected_ids(run *r, char ***ids, size_t *n, tly_err *err)
{
	int64_t count = 0;
	tly_q q;
	int rc;

	*ids = NULL;
	*n = 0;
	rc = tly_db_row(r->ctx->db, err, "SELECT COUNT(*) FROM accounts WHERE "
	    "connect_account_id IS NOT NULL", ">i", &count);
	if (rc || count == 0)
		return rc;
	*ids = tly_pcalloc(r->ctx->pool, (size_t)count * sizeof(**ids));
	if (*ids == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(r->ctx->db, &q, "SELECT connect_account_id FROM "
	    "accounts WHERE connect_account_id IS NOT NULL ORDER BY "
	    "connect_account_id LIMIT ?", err))
		return q.rc;
	tly_q_i64(&q, count);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		(*ids)[*n] = tly_pstrdup(r->ctx->pool, tly_q_col_str(&q, 0));
		if ((*ids)[*n] != NULL)
			(*n)++;
	}
	tly_q_done(&q);
	return rc;
}

/*
 * read_connected - step 1b: the platform's transfers (for their
 * destination payments and their reversals' refunds), then each
 * connected account's balance transactions (Stripe-Account)
 */
static int
read_connected(run *r, tly_err *err)
{
	char **ids;
	size_t n, i;
	int rc;

	rc = connected_ids(r, &ids, &n, err);
	if (rc == TLY_OK)
		rc = read_list(r, "/v1/transfers", NULL, r->since - RC_XFER_S,
		    each_transfer, err);
	for (i = 0; rc == TLY_OK && i < n; i++)
		rc = read_list(r, "/v1/balance_transactions", ids[i],
		    r->since - RC_SLACK_S, each_connected, err);
	return rc;
}

/* --- lines -------------------------------------------------------------- */

static void
day_of(int64_t t, char day[11])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
}

/* line - append a line; the outcome follows from the two amounts */
static int
line(run *r, const btxn *b, const char *kind, const char *tally,
    int64_t stripe_cent, int64_t tally_cent, const char *outcome)
{
	tly_recon_report *rep = r->rep;
	tly_recon_line *l, *nl;

	if ((size_t)rep->n_lines == r->capl) {
		r->capl = r->capl ? r->capl * 2 : 256;
		nl = realloc(rep->lines, r->capl * sizeof(*nl));
		if (nl == NULL)
			return TLY_ERR;
		rep->lines = nl;
	}
	l = &rep->lines[rep->n_lines++];
	memset(l, 0, sizeof(*l));
	l->line_no = rep->n_lines;
	if (b) {
		day_of(b->created, l->day);
		tly_strlcpy(l->currency, b->currency, sizeof(l->currency));
		tly_strlcpy(l->txn, b->id, sizeof(l->txn));
		tly_strlcpy(l->object, b->source, sizeof(l->object));
	}
	l->kind = kind;
	tly_strlcpy(l->tally, tally ? tally : "", sizeof(l->tally));
	l->stripe_cent = stripe_cent;
	l->tally_cent = tally_cent;
	if (outcome == NULL)
		outcome = tally == NULL ? "missing_in_tally" :
		    stripe_cent == tally_cent ? "matched" : "amount_differs";
	l->outcome = outcome;
	if (strcmp(outcome, "matched") == 0)
		rep->matched++;
	else if (strcmp(outcome, "missing_in_tally") == 0)
		rep->missing_in_tally++;
	else if (strcmp(outcome, "missing_at_stripe") == 0)
		rep->missing_at_stripe++;
	else
		rep->amount_differs++;
	return TLY_OK;
}

/* acked - one of 'a', 'b', 'c' ("" or NULL: none) was acknowledged */
static int
acked(run *r, const char *a, const char *b, const char *c, int *yes,
    tly_err *err)
{
	int64_t n = 0;
	int rc;

	rc = tly_db_row(r->ctx->db, err, "SELECT COUNT(*) FROM "
	    "reconciliation_acks WHERE object_id IN (NULLIF(?, ''), "
	    "NULLIF(?, ''), NULLIF(?, ''))", "sss>i", a ? a : "",
	    b ? b : "", c ? c : "", &n);
	*yes = rc == TLY_OK && n > 0;
	return rc;
}

/* apply_acks - step 5: the mismatches an operator judged */
static int
apply_acks(run *r, tly_err *err)
{
	tly_recon_report *rep = r->rep;
	tly_recon_line *l;
	int i, yes, rc;

	for (i = 0; i < rep->n_lines; i++) {
		l = &rep->lines[i];
		if (strcmp(l->outcome, "matched") == 0)
			continue;
		rc = acked(r, l->txn, l->object, l->tally, &yes, err);
		if (rc)
			return rc;
		if (!yes)
			continue;
		if (strcmp(l->outcome, "missing_in_tally") == 0)
			rep->missing_in_tally--;
		else if (strcmp(l->outcome, "missing_at_stripe") == 0)
			rep->missing_at_stripe--;
		else
			rep->amount_differs--;
		l->outcome = "acknowledged";
		rep->acknowledged++;
	}
	return TLY_OK;
}

/* record - Tally's record of 'b' by query 'sql' (the source bound
 * 'nbind' times): its id, currency, amount, second amount */
typedef struct rec {
	char	 id[72];
	char	 currency[8];
	int64_t	 amount_cent, amount2_cent;
	int	 found;
} rec;

static int
record(run *r, const char *sql, int nbind, const btxn *b, rec *out,
    tly_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (nbind == 3)
		rc = tly_db_row(r->ctx->db, err, sql, "sss>ssii", b->source,
		    b->source, b->source, out->id, sizeof(out->id),
		    out->currency, sizeof(out->currency), &out->amount_cent,
		    &out->amount2_cent);
	else if (nbind == 2)
		rc = tly_db_row(r->ctx->db, err, sql, "ss>ssii", b->source,
		    b->source, out->id, sizeof(out->id), out->currency,
		    sizeof(out->currency), &out->amount_cent,
		    &out->amount2_cent);
	else
		rc = tly_db_row(r->ctx->db, err, sql, "s>ssii", b->source,
		    out->id, sizeof(out->id), out->currency,
		    sizeof(out->currency), &out->amount_cent,
		    &out->amount2_cent);
	if (rc == TLY_NOTFOUND) {
		tly_err_clear(err);
		return TLY_OK;
	}
	if (rc == TLY_OK)
		out->found = 1;
	return rc;
}

/* compare - a line for 'b' against 'rc_' (amounts compared in one
 * currency only) */
static int
compare(run *r, const btxn *b, const char *kind, const rec *t,
    int64_t stripe_cent, int64_t tally_cent)
{
	if (!t->found)
		return line(r, b, kind, NULL, stripe_cent, TLY_RECON_NONE,
		    NULL);
	if (strcmp(t->currency, b->currency) != 0)
		return line(r, b, kind, t->id, stripe_cent, tally_cent,
		    "matched");		/* settled in another currency */
	return line(r, b, kind, t->id, stripe_cent, tally_cent, NULL);
}

/* Tally's record of a transfer (the source bound 3 times), a reversal */
#define TRANSFER_REC \
	"SELECT id, currency, amount_cent, 0 FROM payouts WHERE " \
	"stripe_transfer_id = ? UNION ALL SELECT id, currency, " \
	"granted_cent, 0 FROM advances WHERE stripe_transfer_id = ? " \
	"UNION ALL SELECT id, currency, amount_cent, 0 FROM " \
	"external_transfers WHERE stripe_transfer_id = ?"
#define REVERSAL_REC \
	"SELECT id, currency, amount_cent, 0 FROM transfer_reversals " \
	"WHERE stripe_reversal_id = ? AND state = 'reversed'"

/* match - step 2 for one balance transaction */
static int
match(run *r, const btxn *b, tly_err *err)
{
	rec t;
	int rc;

	if (strcmp(b->type, "charge") == 0) {
		rc = record(r, "SELECT id, currency, amount_cent, IFNULL("
		    "stripe_fee_actual_cent, stripe_fee_estimate_cent) FROM "
		    "payments WHERE charge_id = ?", 1, b, &t, err);
		if (rc == TLY_OK)
			rc = compare(r, b, "charge", &t, b->amount_cent,
			    t.amount_cent);
		if (rc == TLY_OK && t.found)
			rc = compare(r, b, "stripe_fee", &t, b->fee_cent,
			    t.amount2_cent);
		return rc;
	}
	if (strcmp(b->type, "refund") == 0) {
		rc = record(r, "SELECT id, currency, amount_cent, 0 FROM "
		    "refunds WHERE stripe_refund_id = ? AND booked = 1", 1, b,
		    &t, err);
		return rc ? rc : compare(r, b, "refund", &t, -b->amount_cent,
		    t.amount_cent);
	}
	if (strcmp(b->type, "refund_failure") == 0) {
		rc = record(r, "SELECT id, currency, amount_cent, 0 FROM "
		    "refunds WHERE stripe_refund_id = ? AND state = 'failed'",
		    1, b, &t, err);
		return rc ? rc : compare(r, b, "refund_failure", &t,
		    b->amount_cent, t.amount_cent);
	}
	if (strcmp(b->type, "transfer") == 0) {
		rc = record(r, TRANSFER_REC, 3, b, &t, err);
		return rc ? rc : compare(r, b, "transfer", &t, -b->amount_cent,
		    t.amount_cent);
	}
	if (strcmp(b->type, "transfer_refund") == 0) {
		rc = record(r, REVERSAL_REC, 1, b, &t, err);
		return rc ? rc : compare(r, b, "transfer_reversal", &t,
		    b->amount_cent, t.amount_cent);
	}
	if (strcmp(b->type, "adjustment") == 0 &&
	    strcmp(b->cat, "dispute") == 0) {
		rc = record(r, "SELECT id, currency, withdrawn_cent, fee_cent "
		    "FROM disputes WHERE id = ?", 1, b, &t, err);
		if (rc == TLY_OK)
			rc = compare(r, b, "dispute", &t, -b->amount_cent,
			    t.amount_cent);
		if (rc == TLY_OK && t.found)
			rc = compare(r, b, "dispute_fee", &t, b->fee_cent,
			    t.amount2_cent);
		return rc;
	}
	if (strcmp(b->type, "adjustment") == 0 &&
	    strcmp(b->cat, "dispute_reversal") == 0) {
		rc = record(r, "SELECT id, currency, amount_cent, 0 FROM "
		    "disputes WHERE id = ? AND status = 'won'", 1, b, &t, err);
		return rc ? rc : compare(r, b, "dispute_reinstated", &t,
		    b->amount_cent, t.amount_cent);
	}
	return TLY_OK;			/* not Tally's */
}

/* platform_of - the platform's object that 'dest' (py_, pyr_) stands for */
static const char *
platform_of(const run *r, const char *dest)
{
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (strcmp(r->m[i].dest, dest) == 0)
			return r->m[i].platform;
	return NULL;
}

/* dest_of - the connected account's source of platform object 'id' */
static const char *
dest_of(const run *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (strcmp(r->m[i].platform, id) == 0)
			return r->m[i].dest;
	return NULL;
}

/*
 * match_connected - step 2b for one balance transaction of a connected
 * account: a payment (py_) is a transfer arriving, compared with Tally's
 * payout, advance or external transfer of that transfer; a payment
 * refund (pyr_) is a reversal leaving, compared with Tally's reversal.
 * The account's own payouts and charges are not Tally's.
 */
static int
match_connected(run *r, const btxn *b, tly_err *err)
{
	const char *obj;
	int payment;
	btxn p;
	rec t;
	int rc = TLY_OK;

	payment = strcmp(b->type, "payment") == 0;
	if (!payment && strcmp(b->type, "payment_refund") != 0)
		return TLY_OK;
	memset(&t, 0, sizeof(t));
	obj = platform_of(r, b->source);
	if (obj) {
		p = *b;
		tly_strlcpy(p.source, obj, sizeof(p.source));
		rc = payment ? record(r, TRANSFER_REC, 3, &p, &t, err) :
		    record(r, REVERSAL_REC, 1, &p, &t, err);
	}
	if (rc)
		return rc;
	return compare(r, b, payment ? "connect_transfer" : "connect_reversal",
	    &t, payment ? b->amount_cent : -b->amount_cent, t.amount_cent);
}

/* --- Tally's side: what Stripe does not have ------------------------------ */

static int
cmp_source(const void *a, const void *b)
{
	return strcmp(((const btxn *)a)->source, ((const btxn *)b)->source);
}

static int
seen_in(const btxn *arr, size_t n, const char *source)
{
	btxn key;

	if (n == 0)
		return 0;
	tly_strlcpy(key.source, source, sizeof(key.source));
	return bsearch(&key, arr, n, sizeof(*arr), cmp_source) != NULL;
}

static int
seen(const run *r, const char *source)
{
	return seen_in(r->t, r->nt, source);
}

/* the Tally records that name a Stripe object, created in the window */
#define T_AT	"FLOOR(UNIX_TIMESTAMP(created_at))"
#define T_IN	" AND created_at >= FROM_UNIXTIME(?) AND created_at < " \
		"FROM_UNIXTIME(?)"

#define T_PAYOUTS \
	"SELECT id, stripe_transfer_id, currency, amount_cent, " T_AT \
	" FROM payouts WHERE state = 'paid' AND stripe_transfer_id IS " \
	"NOT NULL" T_IN
#define T_ADVANCES \
	"SELECT id, stripe_transfer_id, currency, granted_cent, " T_AT \
	" FROM advances WHERE stripe_transfer_id IS NOT NULL" T_IN
#define T_REVERSALS \
	"SELECT id, stripe_reversal_id, currency, amount_cent, " T_AT \
	" FROM transfer_reversals WHERE state = 'reversed' AND " \
	"stripe_reversal_id IS NOT NULL" T_IN

typedef struct side {
	const char	*kind;
	const char	*sql;
} side;

/* Tally's transfers and reversals, as the connected accounts see them */
static const side connect_side[] = {
	{ "connect_transfer", T_PAYOUTS },
	{ "connect_transfer", T_ADVANCES },
	{ "connect_reversal", T_REVERSALS },
};

static const side tally_side[] = {
	{ "charge", "SELECT id, charge_id, currency, amount_cent, " T_AT
	    " FROM payments WHERE charge_id IS NOT NULL" T_IN },
	{ "refund", "SELECT id, stripe_refund_id, currency, amount_cent, "
	    T_AT " FROM refunds WHERE booked = 1 AND stripe_refund_id IS NOT "
	    "NULL" T_IN },
	{ "transfer", T_PAYOUTS },
	{ "transfer", T_ADVANCES },
	{ "transfer_reversal", T_REVERSALS },
	{ "dispute", "SELECT id, id, currency, withdrawn_cent, " T_AT " FROM "
	    "disputes WHERE withdrawn_cent > 0" T_IN },
};

/*
 * unmatched - step 3 for one kind of record 'sd': the platform's side,
 * or ('connected') the connected accounts' (a record whose transfer or
 * reversal the platform lists without its py_/pyr_ on the account; one
 * the platform does not list is step 3's)
 */
static int
unmatched(run *r, const side *sd, int connected, tly_err *err)
{
	const char *id, *obj, *cur;
	btxn b;
	tly_q q;
	int rc;

	if (tly_q_prep(r->ctx->db, &q, sd->sql, err))
		return q.rc;
	tly_q_i64(&q, r->since);
	tly_q_i64(&q, r->until);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		id = tly_q_col_str(&q, 0);
		obj = tly_q_col_str(&q, 1);
		cur = tly_q_col_str(&q, 2);
		if (connected && obj)
			obj = dest_of(r, obj);
		if (id == NULL || obj == NULL || (connected ?
		    seen_in(r->c, r->nc, obj) : seen(r, obj)))
			continue;
		memset(&b, 0, sizeof(b));
		tly_strlcpy(b.source, obj, sizeof(b.source));
		tly_strlcpy(b.currency, cur ? cur : "", sizeof(b.currency));
		b.created = tly_q_col_i64(&q, 4);
		if (line(r, &b, sd->kind, id, TLY_RECON_NONE,
		    tly_q_col_i64(&q, 3), "missing_at_stripe") != TLY_OK) {
			rc = TLY_ERR;
			break;
		}
	}
	tly_q_done(&q);
	return rc == TLY_ERR ? tly_err_internal(err) : rc;
}

/* --- repairs ------------------------------------------------------------ */

/*
 * correct_fees - step 4: each stripe_fee line that differs (in the
 * payment's currency: compare() matched the others) books Stripe's fee,
 * one transaction each, no Stripe call in any
 */
static int
correct_fees(run *r, tly_err *err)
{
	const tly_recon_line *l;
	char a[24], b[24];
	int i, booked, rc;

	for (i = 0; i < r->rep->n_lines; i++) {
		l = &r->rep->lines[i];
		if (strcmp(l->kind, "stripe_fee") != 0 ||
		    strcmp(l->outcome, "amount_differs") != 0 ||
		    l->stripe_cent == TLY_RECON_NONE || l->stripe_cent < 0)
			continue;
		rc = tly_payment_fee_correct(r->ctx, l->object, l->txn,
		    l->stripe_cent, &booked, err);
		if (rc)
			return rc;
		if (!booked)
			continue;
		snprintf(a, sizeof(a), "%lld", (long long)l->stripe_cent);
		snprintf(b, sizeof(b), "%lld", (long long)l->tally_cent);
		tly_logkv(r->ctx->log, TLY_LOG_WARN, "reconcile", "Stripe's "
		    "fee differs from the fee booked: Stripe's booked",
		    "payment_id", l->tally, "balance_transaction", l->txn,
		    "stripe_fee_cent", a, "booked_fee_cent", b, NULL);
	}
	return TLY_OK;
}

typedef struct ack_args {
	const tly_principal	*actor;
	const char		*id, *reason, *report;
	int64_t			 line_no;
} ack_args;

/* ack_tx - the acknowledgement and its audit row */
TLY_TX_TYPED(ack_tx, ack_args)
static int
ack_tx(tly_ctx *ctx, ack_args *a, tly_err *err)
{
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO reconciliation_acks "
	    "(object_id, reason, actor_kind, actor_id, report_id, line_no) "
	    "VALUES (?, ?, ?, ?, ?, NULLIF(?, 0)) ON DUPLICATE KEY UPDATE "
	    "reason = VALUES(reason), actor_kind = VALUES(actor_kind), "
	    "actor_id = VALUES(actor_id), report_id = VALUES(report_id), "
	    "line_no = VALUES(line_no), acked_at = NOW(3)", "sssssi", a->id,
	    a->reason, a->actor ? tly_principal_kind_name(a->actor->kind) :
	    "system", a->actor && a->actor->id[0] ? a->actor->id : NULL,
	    a->report, a->line_no);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "reconcile.ack", a->id,
		    a->reason, err);
	return rc;
}

/* ack_check - the id and the reason of an acknowledgement */
static int
ack_check(const char *id, const char *reason, tly_err *err)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 64)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "id", "The id to acknowledge needs 1 to 64 bytes.");
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
			return tly_err_param(err, TLY_EK_INVALID,
			    "parameter_invalid", "id", "'%.64s' is not a "
			    "Stripe or Tally id.", id);
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > 500)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_missing",
		    "reason", "A reason (1 to 500 bytes) is required.");
	return TLY_OK;
}

/*
 * tly_reconcile_ack - 'actor' judged the mismatches naming 'id' (a
 * Stripe id: balance transaction or object; or a Tally id) for
 * 'reason': later runs report them "acknowledged".  Audited
 * (reconcile.ack); acknowledging again replaces the reason.
 */
int
tly_reconcile_ack(tly_ctx *ctx, const tly_principal *actor, const char *id,
    const char *reason, tly_err *err)
{
	ack_args a;

	if (ack_check(id, reason, err) != TLY_OK)
		return TLY_ERR;
	a = (ack_args){ actor, id, reason, NULL, 0 };
	return ack_tx_run(ctx, "reconcile.ack", &a, err);
}

/*
 * tly_reconcile_ack_line - tly_reconcile_ack() of line 'line_no' of
 * report 'report': the id is the line's Stripe object, else Tally's
 * record, else its balance transaction (copied to 'id_out', 72 bytes).
 * 404 for no such line; 422 line_matched for a matched line.
 */
int
tly_reconcile_ack_line(tly_ctx *ctx, const tly_principal *actor,
    const char *report, int64_t line_no, const char *reason, char *id_out,
    tly_err *err)
{
	char outcome[32];
	ack_args a;
	int rc;

	id_out[0] = '\0';
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > 500)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_missing",
		    "reason", "A reason (1 to 500 bytes) is required.");
	rc = tly_db_row(ctx->db, err, "SELECT COALESCE(stripe_object_id, "
	    "tally_id, stripe_txn_id, ''), outcome FROM reconciliation_lines "
	    "WHERE report_id = ? AND line_no = ?", "si>ss", report, line_no,
	    id_out, (size_t)72, outcome, sizeof(outcome));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "line", "No line %lld in reconciliation report '%.40s'.",
		    (long long)line_no, report);
	if (rc)
		return rc;
	if (strcmp(outcome, "matched") == 0)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE, "line_matched",
		    "line", "Line %lld is matched: nothing to acknowledge.",
		    (long long)line_no);
	if (ack_check(id_out, reason, err) != TLY_OK)
		return TLY_ERR;
	a = (ack_args){ actor, id_out, reason, report, line_no };
	return ack_tx_run(ctx, "reconcile.ack", &a, err);
}

typedef struct ext_args {
	const tly_st_transfer	*t;
	const char		*event_id;
	char			 id[40];
	int			 made;
} ext_args;

/* ext_tx - record the external transfer once, audited */
TLY_TX_TYPED(ext_tx, ext_args)
static int
ext_tx(tly_ctx *ctx, ext_args *a, tly_err *err)
{
	char detail[160];
	uint64_t n = 0;
	int rc;

	a->made = 0;
	rc = tly_db_exec(ctx->db, err, &n, "INSERT IGNORE INTO "
	    "external_transfers (id, stripe_transfer_id, amount_cent, "
	    "currency, destination, event_id) VALUES (?, ?, ?, ?, ?, ?)",
	    "ssisss", a->id, a->t->id, a->t->amount_cent, a->t->currency,
	    a->t->destination, a->event_id);
	if (rc || n == 0)
		return rc;
	a->made = 1;
	snprintf(detail, sizeof(detail), "%.64s %lld %.3s to %.64s",
	    a->t->id, (long long)a->t->amount_cent, a->t->currency,
	    a->t->destination ? a->t->destination : "-");
	return tly_audit_system(ctx, "stripe_event", "transfer.external", a->id,
	    detail, err);
}

/*
 * tly_reconcile_external_transfer - transfer.created 't' (event
 * 'event_id'): Tally's own (metadata[tally_id]) is '*status' "ignored";
 * another is recorded once in external_transfers with an ALERT line and
 * an audit row.  The ledger does not change: it is nobody's earning.
 */
int
tly_reconcile_external_transfer(tly_ctx *ctx, const tly_st_transfer *t,
    const char *event_id, const char **status, tly_err *err)
{
	char amount[24];
	ext_args a;
	int rc;

	if (t->id == NULL || t->currency == NULL ||
	    tly_st_metadata(t->metadata, "tally_id") != NULL) {
		*status = "ignored";
		return TLY_OK;
	}
	memset(&a, 0, sizeof(a));
	a.t = t;
	a.event_id = event_id;
	if (tly_id_new(a.id, sizeof(a.id), "ext") != TLY_OK)
		return tly_err_internal(err);
	rc = ext_tx_run(ctx, "transfer.external", &a, err);
	if (rc || !a.made)
		return rc;
	snprintf(amount, sizeof(amount), "%lld", (long long)t->amount_cent);
	tly_logkv(ctx->log, TLY_LOG_ALERT, "reconcile", "ALERT: a transfer "
	    "was made outside Tally", "transfer", t->id, "external_id", a.id,
	    "amount_cent", amount, "currency", t->currency, "destination",
	    t->destination ? t->destination : "-", NULL);
	return TLY_OK;
}

/* --- storing ------------------------------------------------------------ */

static void
amount_text(char *dst, size_t sz, int64_t v)
{
	if (v == TLY_RECON_NONE)
		snprintf(dst, sz, "-");
	else
		snprintf(dst, sz, "%lld", (long long)v);
}

/* alert_mail - the email of a report with mismatches */
static int
alert_mail(tly_ctx *ctx, const tly_recon_report *rep, tly_err *err)
{
	char dedupe[64], subject[160], a[24], b[24];
	const tly_recon_line *l;
	tly_mail m;
	tly_buf body;
	int i, n = 0, rc;

	if (ctx->cfg->alerts_email[0] == '\0')
		return TLY_OK;
	tly_buf_init(&body, 1 << 20);
	tly_buf_addf(&body, "Reconciliation report %s found mismatches "
	    "between Stripe and Tally:\n\n  matched %lld\n  missing_in_tally "
	    "%lld\n  missing_at_stripe %lld\n  amount_differs %lld\n\n",
	    rep->id, (long long)rep->matched,
	    (long long)rep->missing_in_tally,
	    (long long)rep->missing_at_stripe,
	    (long long)rep->amount_differs);
	for (i = 0; i < rep->n_lines && n < RC_MAIL_LINES; i++) {
		l = &rep->lines[i];
		if (strcmp(l->outcome, "matched") == 0 ||
		    strcmp(l->outcome, "acknowledged") == 0)
			continue;
		amount_text(a, sizeof(a), l->stripe_cent);
		amount_text(b, sizeof(b), l->tally_cent);
		tly_buf_addf(&body, "  %s %s %s %s stripe %s %s (%s) tally "
		    "%s (%s)\n", l->day, l->currency, l->kind, l->outcome,
		    l->txn[0] ? l->txn : "-", l->object, a,
		    l->tally[0] ? l->tally : "-", b);
		n++;
	}
	tly_buf_adds(&body, "\nSee docs/operations.md, \"Reconciliation "
	    "mismatch\", and: tallyctl reconcile --since DAY\n");
	snprintf(dedupe, sizeof(dedupe), "reconcile:%s", rep->id);
	snprintf(subject, sizeof(subject), "ALERT: Stripe reconciliation "
	    "mismatch (%s)", rep->id);
	m = (tly_mail){ dedupe, "reconcile_alert", NULL,
	    ctx->cfg->alerts_email, subject, tly_buf_str(&body) };
	rc = body.data ? tly_outbox_add(ctx, &m, err) :
	    tly_err_internal(err);
	tly_buf_free(&body);
	return rc;
}

/* store_tx - step 4: the report, its lines, the alert email */
TLY_TX_TYPED(store_tx, tly_recon_report)
static int
store_tx(tly_ctx *ctx, tly_recon_report *rep, tly_err *err)
{
	const tly_recon_line *l;
	int i, rc;

	rc = tly_db_later(ctx->db, err, "INSERT INTO reconciliation_reports "
	    "(id, since_at, until_at, status, matched, missing_in_tally, "
	    "missing_at_stripe, amount_differs, acknowledged) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)", "siisiiiii", rep->id, rep->since,
	    rep->until, rep->status, rep->matched, rep->missing_in_tally,
	    rep->missing_at_stripe, rep->amount_differs, rep->acknowledged);
	for (i = 0; rc == TLY_OK && i < rep->n_lines; i++) {
		l = &rep->lines[i];
		rc = tly_db_later(ctx->db, err, "INSERT INTO "
		    "reconciliation_lines (report_id, line_no, day, currency, "
		    "kind, outcome, stripe_txn_id, stripe_object_id, tally_id, "
		    "stripe_amount_cent, tally_amount_cent) VALUES (?, ?, ?, "
		    "?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), "
		    "NULLIF(?, ?), NULLIF(?, ?))", "sisssssssiiii", rep->id,
		    (int64_t)i + 1, l->day, l->currency, l->kind, l->outcome,
		    l->txn, l->object, l->tally, l->stripe_cent,
		    (int64_t)TLY_RECON_NONE, l->tally_cent,
		    (int64_t)TLY_RECON_NONE);
	}
	if (rc == TLY_OK && strcmp(rep->status, "mismatch") == 0)
		rc = alert_mail(ctx, rep, err);
	return rc;
}

/*
 * tly_reconcile_run - reconcile [since, until) into 'rep' (its lines
 * allocated: tly_reconcile_free) and store it
 */
int
tly_reconcile_run(tly_ctx *ctx, int64_t since, int64_t until,
    tly_recon_report *rep, tly_err *err)
{
	char n1[24], n2[24], n3[24];
	size_t i, k;
	run r;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.since = rep->since = since;
	r.until = rep->until = until;
	r.rep = rep;
	if (tly_id_new(rep->id, sizeof(rep->id), "rec") != TLY_OK)
		return tly_err_internal(err);
	rc = read_stripe(&r, err);
	if (rc == TLY_OK)
		rc = read_connected(&r, err);
	for (i = 0; rc == TLY_OK && i < r.nt; i++)
		if (r.t[i].created >= since && r.t[i].created < until)
			rc = match(&r, &r.t[i], err);
	for (i = 0; rc == TLY_OK && i < r.nc; i++)
		if (r.c[i].created >= since && r.c[i].created < until)
			rc = match_connected(&r, &r.c[i], err);
	if (rc == TLY_OK && r.nt)
		qsort(r.t, r.nt, sizeof(*r.t), cmp_source);
	if (rc == TLY_OK && r.nc)
		qsort(r.c, r.nc, sizeof(*r.c), cmp_source);
	for (k = 0; rc == TLY_OK &&
	    k < sizeof(tally_side) / sizeof(tally_side[0]); k++)
		rc = unmatched(&r, &tally_side[k], 0, err);
	for (k = 0; rc == TLY_OK &&
	    k < sizeof(connect_side) / sizeof(connect_side[0]); k++)
		rc = unmatched(&r, &connect_side[k], 1, err);
	free(r.t);
	free(r.c);
	free(r.m);
	if (rc == TLY_OK)
		rc = correct_fees(&r, err);
	if (rc == TLY_OK)
		rc = apply_acks(&r, err);
	if (rc)
		return rc;
	tly_strlcpy(rep->status, rep->missing_in_tally ||
	    rep->missing_at_stripe || rep->amount_differs ? "mismatch" :
	    "clean", sizeof(rep->status));
	rc = store_tx_run(ctx, "reconcile.store", rep, err);
	if (rc)
		return rc;
	tly_metric_add("tally_reconciliation_runs_total", "", 1);
	tly_metric_add("tally_reconciliation_mismatches_total", "",
	    rep->missing_in_tally + rep->missing_at_stripe +
	    rep->amount_differs);
	if (strcmp(rep->status, "mismatch") == 0) {
		snprintf(n1, sizeof(n1), "%lld",
		    (long long)rep->missing_in_tally);
		snprintf(n2, sizeof(n2), "%lld",
		    (long long)rep->missing_at_stripe);
		snprintf(n3, sizeof(n3), "%lld",
		    (long long)rep->amount_differs);
		tly_logkv(ctx->log, TLY_LOG_ALERT, "reconcile", "ALERT: "
		    "Tally's books and Stripe's differ", "report", rep->id,
		    "missing_in_tally", n1, "missing_at_stripe", n2,
		    "amount_differs", n3, NULL);
	}
	return TLY_OK;
}

/* tly_reconcile_free - the lines of a report made by tly_reconcile_run */
void
tly_reconcile_free(tly_recon_report *rep)
{
	free(rep->lines);
	rep->lines = NULL;
	rep->n_lines = 0;
}

/*
 * tly_job_reconcile - reconcile yesterday and today (UTC) on one host:
 * the others skip while one holds the lock
 */
int
tly_job_reconcile(tly_ctx *ctx, tly_err *err)
{
	tly_recon_report rep;
	int64_t got = 0, now = tly_now_s();
	tly_err e2;
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT GET_LOCK('tally.reconcile', 0)",
	    ">i", &got);
	if (rc || got != 1)
		return rc;
	rc = tly_reconcile_run(ctx, (now / 86400 - 1) * 86400, now + 1, &rep,
	    err);
	tly_reconcile_free(&rep);
	tly_err_clear(&e2);
	(void)tly_db_row(ctx->db, &e2, "SELECT RELEASE_LOCK("
	    "'tally.reconcile')", ">i", &got);
	return rc;
}

/* tly_reconcile_list - the reports, newest first (no lines) */
int
tly_reconcile_list(tly_ctx *ctx, const tly_page *p, tly_recon_report **out,
    int *n, int *more, tly_err *err)
{
	tly_recon_report *rows, *x;
	const char *v;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT id, since_at, until_at, status, "
	    "matched, missing_in_tally, missing_at_stripe, amount_differs, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), acknowledged FROM "
	    "reconciliation_reports "
	    "WHERE (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_str(&q, tly_page_cursor(p));
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		x = &rows[(*n)++];
		v = tly_q_col_str(&q, 0);
		tly_strlcpy(x->id, v ? v : "", sizeof(x->id));
		x->since = tly_q_col_i64(&q, 1);
		x->until = tly_q_col_i64(&q, 2);
		v = tly_q_col_str(&q, 3);
		tly_strlcpy(x->status, v ? v : "", sizeof(x->status));
		x->matched = tly_q_col_i64(&q, 4);
		x->missing_in_tally = tly_q_col_i64(&q, 5);
		x->missing_at_stripe = tly_q_col_i64(&q, 6);
		x->amount_differs = tly_q_col_i64(&q, 7);
		x->created = tly_q_col_i64(&q, 8);
		x->acknowledged = tly_q_col_i64(&q, 9);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

static void
col(tly_q *q, int i, char *dst, size_t sz)
{
	const char *v = tly_q_col_str(q, i);

	tly_strlcpy(dst, v ? v : "", sz);
}

/*
 * tly_reconcile_lines - the lines of report 'id' in order ('outcome':
 * only those, NULL: all; cursor: the line number); 404 for no report
 */
int
tly_reconcile_lines(tly_ctx *ctx, const char *id, const char *outcome,
    const tly_page *p, tly_recon_line **out, int *n, int *more,
    tly_err *err)
{
	tly_recon_line *rows, *x;
	int64_t after = 0;
	char found[40];
	tly_q q;
	int rc;

	*n = *more = 0;
	if (p->starting_after &&
	    tly_parse_i64(p->starting_after, &after) != TLY_OK)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "starting_after", "starting_after must be a line number.");
	rc = tly_db_row(ctx->db, err, "SELECT id FROM reconciliation_reports "
	    "WHERE id = ?", "s>s", id, found, sizeof(found));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such reconciliation report: '%.40s'.", id);
	if (rc)
		return rc;
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (rows == NULL)
		return tly_err_internal(err);
	if (tly_q_prep(ctx->db, &q, "SELECT line_no, DATE_FORMAT(day, "
	    "'%Y-%m-%d'), currency, kind, outcome, stripe_txn_id, "
	    "stripe_object_id, tally_id, stripe_amount_cent, "
	    "tally_amount_cent, stripe_amount_cent IS NULL, tally_amount_cent "
	    "IS NULL FROM reconciliation_lines WHERE report_id = ? AND "
	    "line_no > ? AND (? IS NULL OR outcome = ?) ORDER BY line_no "
	    "LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, id);
	tly_q_i64(&q, after);
	tly_q_str(&q, outcome);
	tly_q_str(&q, outcome);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		x = &rows[(*n)++];
		x->line_no = tly_q_col_i64(&q, 0);
		col(&q, 1, x->day, sizeof(x->day));
		col(&q, 2, x->currency, sizeof(x->currency));
		x->kind = tly_pstrdup(ctx->pool, tly_q_col_str(&q, 3));
		x->outcome = tly_pstrdup(ctx->pool, tly_q_col_str(&q, 4));
		col(&q, 5, x->txn, sizeof(x->txn));
		col(&q, 6, x->object, sizeof(x->object));
		col(&q, 7, x->tally, sizeof(x->tally));
		x->stripe_cent = tly_q_col_i64(&q, 10) ? TLY_RECON_NONE :
		    tly_q_col_i64(&q, 8);
		x->tally_cent = tly_q_col_i64(&q, 11) ? TLY_RECON_NONE :
		    tly_q_col_i64(&q, 9);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

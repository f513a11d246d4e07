/*
 * outbox.c - the email outbox: queuing, and the sender job (outbox.h)
 *
 * Owns the outbox table.  The sender ("outbox" job, tly_job_outbox) does,
 * for at most a bounded number of batches per run:
 *
 *   claim      tx: SELECT the due rows (state queued, or sending with an
 *              expired lease; next_attempt_at <= now) FOR UPDATE SKIP
 *              LOCKED, [smtp] batch at a time; mark them sending with
 *              attempts + 1 and a lease (next_attempt_at = now + lease);
 *              commit.  Several hosts can run the job at once.
 *   send       no transaction open: render the message (mail.c) and send
 *              it over SMTP with libcurl.
 *   record     one autocommit UPDATE: sent + sent_at; or, on failure,
 *              queued again with next_attempt_at = now + backoff
 *              (retry_base x 2^(attempts-1), capped at retry_max, plus up
 *              to 10 % jitter) and last_error, or dead once attempts
 *              reached max_attempts.  A failure is recorded only for our
 *              own claim (same attempts count), so it never overwrites
 *              a sent row.
 *
 * A process killed while sending leaves its rows sending; their lease
 * expires and the next run claims them again.  An email is therefore
 * sent twice only when the process dies between the server's 250 to the
 * message and the UPDATE that records it; both copies carry the same
 * Message-ID (made from the row id), so mail clients show one.  Once a
 * row is recorded sent, nothing sends it again: the claim never selects
 * it and tly_outbox_retry() refuses it.  Every SMTP failure is retried,
 * 5xx included: a relay that refuses everything (bad credentials, a
 * policy change) is fixed by the operator and the backlog then goes.
 *
 * last_error holds curl's message and the SMTP reply code, never the
 * password (it is only handed to curl; credentials in [smtp] url are
 * refused by config.c).
 *
 * API:	tly_outbox_add(), tly_job_outbox(), tly_outbox_list(),
 *	tly_outbox_retry().
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "admin.h"
#include "audit.h"
#include "db.h"
#include "mail.h"
#include "outbox.h"
#include "tly_buf.h"
#include "tly_str.h"
#include "tx.h"

#define MAX_BATCHES	20		/* per run: bounded work */
#define MAX_MESSAGE	(256 * 1024)

/*
 * tly_outbox_add - queue 'm' in the current transaction (deferred: one
 * round trip with the COMMIT).  An address that is empty queues nothing;
 * a cause already queued is ignored (INSERT IGNORE on dedupe_key).
 */
int
tly_outbox_add(tly_ctx *ctx, const tly_mail *m, tly_err *err)
{
	char id[40];

	if (m->to == NULL || m->to[0] == '\0')
		return TLY_OK;
	if (m->dedupe == NULL || strlen(m->dedupe) > 128 || m->kind == NULL ||
	    m->subject == NULL || m->body == NULL)
		return tly_err_internal(err);
	if (tly_id_new(id, sizeof(id), "msg") != TLY_OK)
		return tly_err_internal(err);
	return tly_db_later(ctx->db, err, "INSERT IGNORE INTO outbox (id, "
	    "dedupe_key, kind, account_id, to_addr, subject, body) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", "sssssss", id, m->dedupe, m->kind,
	    m->account_id, m->to, m->subject, m->body);
}

/* --- claiming ------------------------------------------------------ */

typedef struct claimed {
	char	 id[40];
	char	*to;
	char	*subject;
	char	*body;
	int64_t	 attempts;	/* after this claim: our claim's token */
	int	 expired;	/* a lease ran out on the last attempt */
} claimed;

typedef struct claim_args {
	claimed	*rows;
	int	 max;
	int	 n;
} claim_args;

static char *
dup_col(tly_ctx *ctx, tly_q *q, int i)
{
	const char *v = tly_q_col_str(q, i);

	return tly_pstrndup(ctx->pool, v ? v : "", v ? tly_q_col_len(q, i) :
	    0);
}

/* claim_tx - lock up to a->max due rows and lease them */
TLY_TX_TYPED(claim_tx, claim_args)

static int
claim_tx(tly_ctx *ctx, claim_args *a, tly_err *err)
{
	const tly_config *cfg = ctx->cfg;
	claimed *r;
	tly_q q;
	int i, rc;

	a->n = 0;
	if (tly_q_prep(ctx->db, &q, "SELECT id, to_addr, subject, body, "
	    "attempts, state FROM outbox WHERE state IN ('queued', 'sending') "
	    "AND next_attempt_at <= NOW(3) ORDER BY next_attempt_at LIMIT ? "
	    "FOR UPDATE SKIP LOCKED", err))
		return q.rc;
	tly_q_i64(&q, a->max);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW && a->n < a->max) {
		r = &a->rows[a->n++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		r->to = dup_col(ctx, &q, 1);
		r->subject = dup_col(ctx, &q, 2);
		r->body = dup_col(ctx, &q, 3);
		r->attempts = tly_q_col_i64(&q, 4) + 1;
		r->expired = strcmp(tly_q_col_str(&q, 5), "sending") == 0 &&
		    r->attempts > cfg->smtp_max_attempts;
	}
	tly_q_done(&q);
	if (rc != TLY_OK && rc != TLY_ROW)
		return rc;
	for (i = 0; i < a->n; i++) {
		r = &a->rows[i];
		if (r->expired)
			rc = tly_db_later(ctx->db, err, "UPDATE outbox SET "
			    "state = 'dead', last_error = 'the sender stopped "
			    "during the last attempt' WHERE id = ?", "s",
			    r->id);
		else
			rc = tly_db_later(ctx->db, err, "UPDATE outbox SET "
			    "state = 'sending', attempts = ?, next_attempt_at "
			    "= NOW(3) + INTERVAL ? SECOND WHERE id = ?", "iis",
			    r->attempts, (int64_t)cfg->smtp_lease_s, r->id);
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* --- sending ------------------------------------------------------- */

typedef struct upload {
	const char	*p;
	size_t		 left;
} upload;

static size_t
on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/*
 * smtp_send - send row 'r' through 'c'; on failure 'why' says what
 * happened (no secret in it).
 */
static int
smtp_send(tly_ctx *ctx, CURL *c, const claimed *r, char *why, size_t whysz)
{
	static const long ssl[] = { CURLUSESSL_NONE, CURLUSESSL_TRY,
	    CURLUSESSL_ALL };
	const tly_config *cfg = ctx->cfg;
	char errbuf[CURL_ERROR_SIZE], msgid[300], addr[300];
	struct curl_slist *rcpt = NULL;
	tly_mail_msg m;
	tly_buf b;
	upload u;
	CURLcode cc;
	long code = 0;

	tly_buf_init(&b, MAX_MESSAGE);
	if (tly_mail_message_id(msgid, sizeof(msgid), r->id, cfg->smtp_from)
	    != TLY_OK)
		msgid[0] = '\0';
	m = (tly_mail_msg){ cfg->smtp_from, r->to, r->subject, r->body, msgid,
	    tly_now_s() };
	if (tly_mail_render(&b, &m) != TLY_OK) {
		tly_buf_free(&b);
		snprintf(why, whysz, "cannot render the message (address or "
		    "size)");
		return TLY_ERR;
	}
	snprintf(addr, sizeof(addr), "<%s>", r->to);
	rcpt = curl_slist_append(NULL, addr);
	if (rcpt == NULL) {
		tly_buf_free(&b);
		snprintf(why, whysz, "out of memory");
		return TLY_ERR;
	}
	u.p = tly_buf_str(&b);
	u.left = b.len;
	errbuf[0] = '\0';
	snprintf(addr, sizeof(addr), "<%s>", cfg->smtp_from);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->smtp_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->smtp_timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USE_SSL, ssl[cfg->smtp_use_ssl]);
	if (cfg->smtp_ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->smtp_ca_file);
	if (cfg->smtp_ca_path[0])
		curl_easy_setopt(c, CURLOPT_CAPATH, cfg->smtp_ca_path);
	if (cfg->smtp_username[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)b.len);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	/* the handle keeps pointers to these: forget them before freeing */
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(rcpt);
	tly_buf_free(&b);
	if (cc == CURLE_OK)
		return TLY_OK;
	snprintf(why, whysz, "smtp: %s%s%s (reply %ld)",
	    curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf, code);
	return TLY_ERR;
}

/* backoff_ms - the wait before attempt 'attempts' + 1 */
static int64_t
backoff_ms(const tly_config *cfg, int64_t attempts)
{
	int64_t d = (int64_t)cfg->smtp_retry_base_s * 1000;
	int64_t cap = (int64_t)cfg->smtp_retry_max_s * 1000;

	while (--attempts > 0 && d < cap)
		d *= 2;
	if (d > cap)
		d = cap;
	return d + (int64_t)(tly_random_u32() % (uint32_t)(d / 10 + 1));
}

/* record - the outcome of sending claimed row 'r' */
static int
record(tly_ctx *ctx, const claimed *r, int sent, const char *why,
    tly_err *err)
{
	const tly_config *cfg = ctx->cfg;
	int dead = r->attempts >= cfg->smtp_max_attempts;

	if (sent)
		return tly_db_exec(ctx->db, err, NULL, "UPDATE outbox SET "
		    "state = 'sent', sent_at = NOW(3), last_error = NULL WHERE "
		    "id = ? AND state <> 'sent'", "s", r->id);
	tly_logkv(ctx->log, dead ? TLY_LOG_ERROR : TLY_LOG_WARN, "outbox",
	    dead ? "email not sent: dead" : "email not sent: will retry",
	    "message_id", r->id, "error", why, NULL);
	return tly_db_exec(ctx->db, err, NULL, "UPDATE outbox SET state = ?, "
	    "last_error = LEFT(?, 255), next_attempt_at = NOW(3) + INTERVAL ? "
	    "MICROSECOND WHERE id = ? AND state = 'sending' AND attempts = ?",
	    "ssisi", dead ? "dead" : "queued", why,
	    backoff_ms(cfg, r->attempts) * 1000, r->id, r->attempts);
}

/*
 * tly_job_outbox - send what is due (see the top of the file); the
 * first database failure ends the run.
 */
int
tly_job_outbox(tly_ctx *ctx, tly_err *err)
{
	const tly_config *cfg = ctx->cfg;
	char why[512];
	claim_args a;
	CURL *c;
	int b, i, rc = TLY_OK, ok;

	if (cfg->smtp_url[0] == '\0')
		return tly_err_set(err, TLY_EK_INTERNAL, "smtp_not_configured",
		    "[smtp] url is not set: nothing can be sent.");
	c = curl_easy_init();
	if (c == NULL)
		return tly_err_internal(err);
	memset(&a, 0, sizeof(a));
	a.max = cfg->smtp_batch;
	a.rows = tly_pcalloc(ctx->pool, (size_t)a.max * sizeof(*a.rows));
	for (b = 0; rc == TLY_OK && b < MAX_BATCHES; b++) {
		rc = claim_tx_run_keyed(ctx, "outbox.claim", &a, err);
		for (i = 0; rc == TLY_OK && i < a.n; i++) {
			if (a.rows[i].expired) {
				tly_logkv(ctx->log, TLY_LOG_ERROR, "outbox",
				    "email not sent: dead (the sender stopped "
				    "during its last attempt)", "message_id",
				    a.rows[i].id, NULL);
				continue;
			}
			why[0] = '\0';
			ok = smtp_send(ctx, c, &a.rows[i], why, sizeof(why)) ==
			    TLY_OK;
			rc = record(ctx, &a.rows[i], ok, why, err);
			if (rc == TLY_OK && ok)
				tly_logkv(ctx->log, TLY_LOG_INFO, "outbox",
				    "email sent", "message_id", a.rows[i].id,
				    NULL);
		}
		if (a.n < a.max)
			break;
	}
	curl_easy_cleanup(c);
	return rc;
}

/* --- the operator -------------------------------------------------- */

/*
 * tly_outbox_list - a page of rows, newest first: state 'state', or
 * (NULL) every row not yet sent.
 */
int
tly_outbox_list(tly_ctx *ctx, const char *state, const tly_page *p,
    tly_outbox_row **out, int *n, int *more, tly_err *err)
{
	tly_outbox_row *rows, *r;
	const char *v;
	tly_q q;
	int rc;

	*n = *more = 0;
	rows = tly_pcalloc(ctx->pool, (size_t)(p->limit + 1) * sizeof(*rows));
	if (tly_q_prep(ctx->db, &q, "SELECT id, kind, state, to_addr, "
	    "dedupe_key, IFNULL(last_error, ''), attempts, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), "
	    "FLOOR(UNIX_TIMESTAMP(next_attempt_at)) FROM outbox WHERE "
	    "(? IS NULL AND state <> 'sent' OR state = ?) AND "
	    "(? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?", err))
		return q.rc;
	tly_q_str(&q, state);
	tly_q_str(&q, state);
	tly_q_str(&q, p->starting_after);
	tly_q_str(&q, p->starting_after);
	tly_q_i64(&q, p->limit + 1);
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		if (*n == p->limit) {
			*more = 1;
			continue;
		}
		r = &rows[(*n)++];
		tly_strlcpy(r->id, tly_q_col_str(&q, 0), sizeof(r->id));
		tly_strlcpy(r->kind, tly_q_col_str(&q, 1), sizeof(r->kind));
		tly_strlcpy(r->state, tly_q_col_str(&q, 2), sizeof(r->state));
		tly_strlcpy(r->to, tly_q_col_str(&q, 3), sizeof(r->to));
		tly_strlcpy(r->dedupe, tly_q_col_str(&q, 4), sizeof(r->dedupe));
		v = tly_q_col_str(&q, 5);
		tly_strlcpy(r->last_error, v ? v : "", sizeof(r->last_error));
		r->attempts = tly_q_col_i64(&q, 6);
		r->created = tly_q_col_i64(&q, 7);
		r->next_attempt = tly_q_col_i64(&q, 8);
	}
	tly_q_done(&q);
	*out = rows;
	return rc;
}

typedef struct retry_args {
	const tly_principal	*actor;
	const char		*id;
} retry_args;

TLY_TX_TYPED(retry_tx, retry_args)
static int
retry_tx(tly_ctx *ctx, retry_args *a, tly_err *err)
{
	char state[16];
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "UPDATE outbox SET state = "
	    "'queued', attempts = 0, next_attempt_at = NOW(3), last_error = "
	    "NULL WHERE id = ? AND state IN ('dead', 'queued')", "s", a->id);
	if (rc == TLY_OK && n == 1)
		return tly_audit(ctx, a->actor, "outbox.retry", a->id, NULL,
		    err);
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT state FROM outbox WHERE id = ?",
	    "s>s", a->id, state, sizeof(state));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such message: '%.40s'.", a->id);
	if (rc)
		return rc;
	if (strcmp(state, "queued") == 0)
		return TLY_OK;		/* already requeued at this instant */
	return tly_err_param(err, TLY_EK_CONFLICT, "message_not_retryable",
	    "id", "The message is %s: it is not sent again.", state);
}

/*
 * tly_outbox_retry - 'actor' requeues row 'id' (dead, or queued: sooner)
 * for a fresh series of attempts, now; audited.  A sent row or one being
 * sent: 409.
 */
int
tly_outbox_retry(tly_ctx *ctx, const tly_principal *actor, const char *id,
    tly_err *err)
{
	retry_args a;

	a.actor = actor;
	a.id = id;
	return retry_tx_run(ctx, "outbox.retry", &a, err);
}

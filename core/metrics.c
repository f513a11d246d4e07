/*
 * metrics.c - the shared table of series and its exposition (metrics.h)
 *
 * Owns no table: it reads a few counts from the database at scrape time
 * (tly_metrics_render takes the connection, not a context, so that the
 * Stripe client below ctx can count its calls here without a loop).
 *
 * The table is an array of slots in a MAP_SHARED region the master maps
 * before forking; children inherit it (the pointer is process-global,
 * set once before any fork, like the rate limiter's table).  A slot is
 * claimed by a compare-and-swap of its 64-bit key hash from 0, then
 * filled and published with a release store of 'ready'; readers and
 * adders use only ready slots.  Values change with __atomic_add_fetch,
 * so a process killed at any instruction leaves every completed add in
 * place and at worst one slot claimed but never published (skipped by
 * everyone after a bounded wait).  Open addressing, linear probing over
 * at most MX_PROBES slots; a full neighbourhood drops the sample and
 * counts it in tally_metrics_dropped_total.
 *
 * Histograms are Prometheus' cumulative buckets: an observation adds 1
 * to every bucket whose bound it does not exceed, to _count, and its
 * microseconds to _sum (rendered in seconds).  Bounds, in seconds:
 * 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 300 3600 +Inf
 * (the long ones for the webhook lag).
 *
 * The exposition (tly_metrics_render) is the shared series, sorted so
 * each family is one group under its "# TYPE" line, then gauges read
 * from the database at scrape time: webhook events and outbox rows by
 * state, Stripe effects not finished by kind, the audit rows not chained
 * yet, the last reconciliation report.
 *
 * API:	tly_metrics_init(), tly_metric_add(), tly_metric_set(),
 *	tly_metric_observe_us(), tly_metrics_stripe(),
 *	tly_metrics_payout_run(), tly_metrics_render(), tly_metric_label().
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "tly_str.h"

#define MX_PROBES	64
#define MX_SPIN		100000

enum { MX_COUNTER = 1, MX_GAUGE, MX_HISTOGRAM };

typedef struct mx_slot {
	uint64_t	 hash;		/* 0: free */
	int		 ready;
	int		 kind;
	int		 ord;		/* order inside its series */
	char		 family[64];
	char		 key[224];	/* name{labels} as rendered */
	char		 labels[160];
	int64_t		 value;
} mx_slot;

static mx_slot	*mx;
static size_t	 mx_n;

static const int64_t bucket_us[] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000, 30000000, 60000000, 300000000,
	3600000000
};
static const char *const bucket_le[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "10", "30", "60", "300", "3600"
};
#define NBUCKETS	(sizeof(bucket_us) / sizeof(bucket_us[0]))

/* tly_metrics_init - a table of 'n' series shared with future children */
int
tly_metrics_init(size_t n)
{
	void *p;

	p = mmap(NULL, n * sizeof(mx_slot), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return TLY_ERR;
	mx = p;
	mx_n = n;
	return TLY_OK;
}

/* slot_for - the slot of series 'key' (claimed when new), or NULL */
static mx_slot *
slot_for(const char *family, const char *key, const char *labels, int kind,
    int ord)
{
	uint64_t h = tly_hash64(key), want, have;
	size_t i, k;
	mx_slot *s;
	int spin;

	for (k = 0; k < MX_PROBES && k < mx_n; k++) {
		i = (size_t)((h + k) % mx_n);
		s = &mx[i];
		have = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
		if (have == 0) {
			want = 0;
			if (__atomic_compare_exchange_n(&s->hash, &want, h, 0,
			    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				tly_strlcpy(s->family, family,
				    sizeof(s->family));
				tly_strlcpy(s->key, key, sizeof(s->key));
				tly_strlcpy(s->labels, labels,
				    sizeof(s->labels));
				s->kind = kind;
				s->ord = ord;
				__atomic_store_n(&s->ready, 1,
				    __ATOMIC_RELEASE);
				return s;
			}
			have = want;
		}
		if (have != h)
			continue;
		for (spin = 0; spin < MX_SPIN &&
		    !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE); spin++)
			sched_yield();
		if (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) &&
		    strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

/* series - the slot of family+suffix{labels}[,extra] */
static mx_slot *
series(const char *family, const char *suffix, const char *labels,
    const char *extra, int kind, int ord)
{
	char key[224], lab[160];

	snprintf(lab, sizeof(lab), "%s%s%s", labels ? labels : "",
	    labels && *labels && extra ? "," : "", extra ? extra : "");
	if (lab[0])
		snprintf(key, sizeof(key), "%s%s{%s}", family, suffix, lab);
	else
		snprintf(key, sizeof(key), "%s%s", family, suffix);
	return slot_for(family, key, labels ? labels : "", kind, ord);
}

static void
drop(void)
{
	mx_slot *s;

	s = slot_for("tally_metrics_dropped_total",
	    "tally_metrics_dropped_total", "", MX_COUNTER, 0);
	if (s)
		__atomic_add_fetch(&s->value, 1, __ATOMIC_RELAXED);
}

/* tly_metric_add - counter 'name'{'labels'} += 'n' */
void
tly_metric_add(const char *name, const char *labels, int64_t n)
{
	mx_slot *s;

	if (mx == NULL)
		return;
	s = series(name, "", labels, NULL, MX_COUNTER, 0);
	if (s == NULL)
		drop();
	else
		__atomic_add_fetch(&s->value, n, __ATOMIC_RELAXED);
}

/* tly_metric_set - gauge 'name'{'labels'} = 'v' */
void
tly_metric_set(const char *name, const char *labels, int64_t v)
{
	mx_slot *s;

	if (mx == NULL)
		return;
	s = series(name, "", labels, NULL, MX_GAUGE, 0);
	if (s == NULL)
		drop();
	else
		__atomic_store_n(&s->value, v, __ATOMIC_RELAXED);
}

/* tly_metric_observe_us - one observation of 'us' microseconds */
void
tly_metric_observe_us(const char *name, const char *labels, int64_t us)
{
	char le[32];
	mx_slot *s;
	size_t i;

	if (mx == NULL)
		return;
	for (i = 0; i <= NBUCKETS; i++) {
		if (i < NBUCKETS && us > bucket_us[i])
			continue;
		snprintf(le, sizeof(le), "le=\"%s\"",
		    i < NBUCKETS ? bucket_le[i] : "+Inf");
		s = series(name, "_bucket", labels, le, MX_HISTOGRAM, (int)i);
		if (s == NULL) {
			drop();
			return;
		}
		__atomic_add_fetch(&s->value, 1, __ATOMIC_RELAXED);
	}
	s = series(name, "_count", labels, NULL, MX_HISTOGRAM, 30);
	if (s)
		__atomic_add_fetch(&s->value, 1, __ATOMIC_RELAXED);
	s = series(name, "_sum", labels, NULL, MX_HISTOGRAM, 31);
	if (s)
		__atomic_add_fetch(&s->value, us, __ATOMIC_RELAXED);
}

/* tly_metric_label - 'v' escaped for a label value (\, ", newline) */
void
tly_metric_label(char *dst, size_t sz, const char *v)
{
	size_t n = 0;

	for (; v && *v && n + 3 < sz; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			dst[n++] = '\\';
			dst[n++] = *v == '\n' ? 'n' : *v;
		} else
			dst[n++] = *v;
	}
	dst[n] = '\0';
}

/*
 * tly_metrics_stripe - one Stripe call ('method' 'path', answered
 * 'status', 0: none) that took 'ms': tally_stripe_requests_total and
 * tally_stripe_request_duration_seconds by endpoint, ids replaced by
 * {id} (/v1/COLLECTION/{id}/SUB/{id})
 */
void
tly_metrics_stripe(const char *method, const char *path, long status,
    int64_t ms)
{
	char ep[128], lab[192];
	const char *p = path, *e;
	size_t n = 0;
	int seg = 0;

	if (mx == NULL)
		return;
	while (*p == '/' && n + 1 < sizeof(ep)) {
		e = strchr(p + 1, '/');
		if (e == NULL)
			e = p + strlen(p);
		seg++;
		if (seg >= 3 && seg % 2 == 1)
			n += (size_t)snprintf(ep + n, sizeof(ep) - n, "/{id}");
		else
			n += (size_t)snprintf(ep + n, sizeof(ep) - n, "/%.*s",
			    (int)(e - p - 1), p + 1);
		if (n >= sizeof(ep))
			n = sizeof(ep) - 1;
		p = e;
	}
	ep[n] = '\0';
	snprintf(lab, sizeof(lab), "method=\"%s\",endpoint=\"%s\",code=\"%ld\"",
	    method, ep, status);
	tly_metric_add("tally_stripe_requests_total", lab, 1);
	snprintf(lab, sizeof(lab), "method=\"%s\",endpoint=\"%s\"", method,
	    ep);
	tly_metric_observe_us("tally_stripe_request_duration_seconds", lab,
	    ms * 1000);
}

/*
 * tly_metrics_payout_run - one run of the payouts job ('rc' its result):
 * tally_payout_runs_total{result}, tally_payouts_total{outcome}
 */
void
tly_metrics_payout_run(int rc, int paid, int failed, int deferred,
    int unknown)
{
	tly_metric_add("tally_payout_runs_total", rc == TLY_OK ?
	    "result=\"ok\"" : "result=\"error\"", 1);
	tly_metric_add("tally_payouts_total", "outcome=\"paid\"", paid);
	tly_metric_add("tally_payouts_total", "outcome=\"failed\"", failed);
	tly_metric_add("tally_payouts_total", "outcome=\"deferred\"",
	    deferred);
	tly_metric_add("tally_payouts_total", "outcome=\"unknown\"", unknown);
}

/* --- exposition --------------------------------------------------------- */

static int
cmp_slot(const void *a, const void *b)
{
	const mx_slot *x = *(const mx_slot *const *)a;
	const mx_slot *y = *(const mx_slot *const *)b;
	int c;

	c = strcmp(x->family, y->family);
	if (c == 0)
		c = strcmp(x->labels, y->labels);
	if (c == 0)
		c = x->ord - y->ord;
	return c;
}

static const char *
kind_name(int kind)
{
	return kind == MX_COUNTER ? "counter" : kind == MX_GAUGE ? "gauge" :
	    "histogram";
}

/* render_shared - the series of the shared table */
static int
render_shared(tly_buf *b)
{
	const mx_slot **v;
	const char *fam = "";
	size_t i, n = 0;
	int64_t x;

	if (mx == NULL)
		return TLY_OK;
	v = calloc(mx_n, sizeof(*v));
	if (v == NULL)
		return TLY_ERR;
	for (i = 0; i < mx_n; i++)
		if (__atomic_load_n(&mx[i].ready, __ATOMIC_ACQUIRE))
			v[n++] = &mx[i];
	qsort(v, n, sizeof(*v), cmp_slot);
	for (i = 0; i < n; i++) {
		if (strcmp(fam, v[i]->family) != 0) {
			fam = v[i]->family;
			tly_buf_addf(b, "# TYPE %s %s\n", fam,
			    kind_name(v[i]->kind));
		}
		x = __atomic_load_n(&v[i]->value, __ATOMIC_RELAXED);
		if (v[i]->kind == MX_HISTOGRAM && v[i]->ord == 31)
			tly_buf_addf(b, "%s %lld.%06lld\n", v[i]->key,
			    (long long)(x / 1000000),
			    (long long)(x % 1000000));
		else
			tly_buf_addf(b, "%s %lld\n", v[i]->key, (long long)x);
	}
	free(v);
	return TLY_OK;
}

/* gauges - "family{label=VALUE} N" for each row of 'sql' (value, n) */
static int
gauges(tly_db *db, tly_buf *b, const char *family, const char *label,
    const char *sql, tly_err *err)
{
	char v[128];
	tly_q q;
	int rc;

	tly_buf_addf(b, "# TYPE %s gauge\n", family);
	if (tly_q_prep(db, &q, sql, err))
		return q.rc;
	(void)tly_q_exec(&q);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		tly_metric_label(v, sizeof(v), tly_q_col_str(&q, 0));
		if (label)
			tly_buf_addf(b, "%s{%s=\"%s\"} %lld\n", family, label,
			    v, (long long)tly_q_col_i64(&q, 1));
		else
			tly_buf_addf(b, "%s %lld\n", family,
			    (long long)tly_q_col_i64(&q, 1));
	}
	tly_q_done(&q);
	return rc;
}

/*
 * tly_metrics_render - the exposition: shared series, then the gauges
 * read from the database now
 */
int
tly_metrics_render(tly_db *db, tly_buf *b)
{
	tly_err err;
	int rc;

	tly_err_clear(&err);
	if (render_shared(b) != TLY_OK)
		return TLY_ERR;
	rc = gauges(db, b, "tally_webhook_events", "status", "SELECT status, "
	    "COUNT(*) FROM webhook_events WHERE status IN ('received', "
	    "'failed', 'dead') GROUP BY status", &err);
	if (rc == TLY_OK)
		rc = gauges(db, b, "tally_outbox", "state", "SELECT IF(state "
		    "= 'sent', 'sent', IF(state = 'dead', 'dead', 'pending')), "
		    "COUNT(*) FROM outbox WHERE state <> 'sent' GROUP BY 1",
		    &err);
	if (rc == TLY_OK)
		rc = gauges(db, b, "tally_effects_unfinished", "kind",
		    "SELECT 'refund', COUNT(*) FROM refunds WHERE state IN "
		    "('to_create', 'unknown', 'pending') UNION ALL SELECT "
		    "'payout', COUNT(*) FROM payouts WHERE state IN "
		    "('to_transfer', 'unknown') UNION ALL SELECT 'advance', "
		    "COUNT(*) FROM advances WHERE state IN ('to_transfer', "
		    "'unknown') UNION ALL SELECT 'reversal', COUNT(*) FROM "
		    "transfer_reversals WHERE state IN ('to_reverse', "
		    "'unknown')", &err);
	if (rc == TLY_OK)
		rc = gauges(db, b, "tally_audit_unchained", NULL, "SELECT '', "
		    "COUNT(*) FROM audit_log a WHERE a.id > IFNULL((SELECT "
		    "MAX(audit_id) FROM audit_chain), 0)", &err);
	if (rc == TLY_OK)
		rc = gauges(db, b, "tally_reconciliation_last_mismatches",
		    NULL, "SELECT '', missing_in_tally + missing_at_stripe + "
		    "amount_differs FROM reconciliation_reports ORDER BY id "
		    "DESC LIMIT 1", &err);
	if (rc == TLY_OK)
		rc = gauges(db, b, "tally_reconciliation_last_run_seconds",
		    NULL, "SELECT '', FLOOR(UNIX_TIMESTAMP(created_at)) FROM "
		    "reconciliation_reports ORDER BY id DESC LIMIT 1", &err);
	return rc;
}

/*
 * complete_bench.c - Tally's completion transaction straight from C
 *
 *	complete_bench CONF THREADS WARMUP SECONDS IDS
 *
 * THREADS threads, each with its own context (one MariaDB connection),
 * run tly_completion_tx -- the very transaction the webhook path runs,
 * through the same transaction helper -- for the checkouts listed in file
 * IDS (lines "checkout_id pi_id amount_cent"), each checkout once.  After
 * WARMUP seconds it counts for SECONDS seconds and prints
 * "tx_s=N p50_ms=X p99_ms=Y retries=R errors=E".  The baseline of
 * bench/completion.sh: what the database and the core can do without
 * nginx, FastCGI, JSON or signatures.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "complete.h"
#include "config.h"
#include "ctx.h"
#include "tly_str.h"
#include "tx.h"

#define MAX_SAMPLES	(1 << 20)

typedef struct job {
	char	 chk[40];
	char	 pi[72];
	char	 ch[72];
	int64_t	 amount;
} job;

static job		*jobs;
static long		 njobs;
static long		 next_job;		/* atomic */
static tly_config	 cfg;
static int64_t		 t_start, t_end;	/* the measured window (ms) */
static int64_t		*lat;			/* microseconds */
static long		 nlat;			/* atomic */
static long		 done_in_window;	/* atomic */
static long		 errors;		/* atomic */
/* curl's and MariaDB's library set-up is not thread-safe: one at a time */
static pthread_mutex_t	 init_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* completion_body - the typed completion as the helper's untyped body */
static int
completion_body(tly_ctx *ctx, void *arg, tly_err *err)
{
	return tly_completion_tx(ctx, arg, err);
}

static void *
worker(void *arg)
{
	tly_completion comp;
	tly_pi_facts f;
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int64_t t0, t1;
	long i, k;

	(void)arg;
	tly_log_init(&log, 2, TLY_LOG_ERROR, "bench");
	pthread_mutex_lock(&init_mu);
	k = tly_ctx_init(&ctx, &cfg, &log);
	pthread_mutex_unlock(&init_mu);
	if (k != TLY_OK)
		return NULL;
	for (;;) {
		if (tly_mono_ms() >= t_end)
			break;
		i = __atomic_fetch_add(&next_job, 1, __ATOMIC_RELAXED);
		if (i >= njobs)
			break;
		memset(&f, 0, sizeof(f));
		f.pi_id = jobs[i].pi;
		f.status = "succeeded";
		f.currency = "usd";
		f.checkout_id = jobs[i].chk;
		f.charge_id = jobs[i].ch;
		f.amount_received_cent = jobs[i].amount;
		f.fee_actual_cent = -1;
		memset(&comp, 0, sizeof(comp));
		comp.checkout_id = jobs[i].chk;
		comp.f = &f;
		comp.via = "bench";
		tly_err_clear(&err);
		t0 = now_us();
		if (tly_tx_run_keyed(&ctx, "payment.complete", completion_body,
		    &comp, &err) != TLY_OK) {
			__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		t1 = now_us();
		if (t0 / 1000 >= t_start && t1 / 1000 <= t_end) {
			__atomic_fetch_add(&done_in_window, 1,
			    __ATOMIC_RELAXED);
			k = __atomic_fetch_add(&nlat, 1, __ATOMIC_RELAXED);
			if (k < MAX_SAMPLES)
				lat[k] = t1 - t0;
		}
	}
	tly_ctx_free(&ctx);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
load_jobs(const char *path)
{
	char line[256], chk[40], pi[72];
	long long amount;
	long cap = 1 << 16;
	FILE *fp;

	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	jobs = malloc((size_t)cap * sizeof(*jobs));
	while (jobs && fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%39s %71s %lld", chk, pi, &amount) != 3)
			continue;
		if (njobs == cap) {
			cap *= 2;
			jobs = realloc(jobs, (size_t)cap * sizeof(*jobs));
			if (jobs == NULL)
				break;
		}
		tly_strlcpy(jobs[njobs].chk, chk, sizeof(jobs[njobs].chk));
		tly_strlcpy(jobs[njobs].pi, pi, sizeof(jobs[njobs].pi));
		snprintf(jobs[njobs].ch, sizeof(jobs[njobs].ch), "ch_%s",
		    pi + 3);
		jobs[njobs++].amount = amount;
	}
	fclose(fp);
	return jobs ? 0 : -1;
}

int
main(int argc, char **argv)
{
	pthread_t th[256];
	char why[512];
	int64_t warm, secs;
	long i, n, nth;

	if (argc != 6 || tly_parse_i64(argv[2], &warm) != TLY_OK ||
	    warm < 1 || warm > 256) {
		fprintf(stderr, "usage: complete_bench CONF THREADS WARMUP "
		    "SECONDS IDS\n");
		return 2;
	}
	nth = (long)warm;
	if (tly_parse_i64(argv[3], &warm) != TLY_OK ||
	    tly_parse_i64(argv[4], &secs) != TLY_OK ||
	    tly_config_load(&cfg, argv[1], why, sizeof(why)) != TLY_OK) {
		fprintf(stderr, "complete_bench: %s\n", why);
		return 1;
	}
	lat = calloc(MAX_SAMPLES, sizeof(*lat));
	if (lat == NULL || load_jobs(argv[5]) != 0) {
		fprintf(stderr, "complete_bench: cannot read %s\n", argv[5]);
		return 1;
	}
	t_start = tly_mono_ms() + warm * 1000;
	t_end = t_start + secs * 1000;
	for (i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	n = nlat < MAX_SAMPLES ? nlat : MAX_SAMPLES;
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("tx_s=%ld p50_ms=%.2f p99_ms=%.2f errors=%ld used=%ld/%ld\n",
	    done_in_window / (long)secs, n ? lat[n / 2] / 1000.0 : 0.0,
	    n ? lat[n * 99 / 100] / 1000.0 : 0.0, errors,
	    next_job < njobs ? next_job : njobs, njobs);
	if (next_job >= njobs)
		fprintf(stderr, "complete_bench: ran out of checkouts: the "
		    "figure is a lower bound\n");
	tly_config_free(&cfg);
	return 0;
}

/*
 * fault_test.c - the Nth-call faults of torture mode (core/ctx.c)
 *
 * TALLY_FAULTS="db:3" fails the third call of tly_fault_nth(DB) only;
 * "alloc:2" makes the second arena allocation return NULL (through the
 * hook in tly_pool.c) and a buffer's growth fail (tly_buf.c); "@PROC"
 * keeps an entry to the process of that log name; named points keep
 * their meaning (the first 'count' calls fail) beside the Nth-call ones.
 */
#include "tly_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "ctx.h"
#include "tly_buf.h"
#include "tly_pool.h"

typedef struct fx {
	tly_config	 cfg;
	tly_log		 log;
	tly_ctx		 ctx;
} fx;

/* make - a context of process 'proc' under TALLY_FAULTS 'faults' */
static fx *
make(const char *proc, const char *faults)
{
	fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	tly_config_defaults(&x->cfg);
	tly_log_init(&x->log, open("/dev/null", O_WRONLY), TLY_LOG_ERROR,
	    proc);
	setenv("TALLY_FAULTS", faults, 1);
	want_int(tly_ctx_init(&x->ctx, &x->cfg, &x->log), TLY_OK);
	unsetenv("TALLY_FAULTS");
	return x;
}

/* done - free the context and the counters' settings */
static void
done(fx *x)
{
	tly_ctx_free(&x->ctx);
	close(x->log.fd);
	free(x);
	x = make("test", "db:0,stripe:0,stripe_lost:0,alloc:0");
	tly_ctx_free(&x->ctx);
	close(x->log.fd);
	free(x);
}

static void
test_db_nth(void **state)
{
	fx *x = make("api", "db:3,stripe:1,checkout.record_pi:2");

	(void)state;
	want_int(tly_fault_nth(TLY_FAULT_DB), 0);
	want_int(tly_fault_nth(TLY_FAULT_DB), 0);
	want_int(tly_fault_nth(TLY_FAULT_DB), 1);
	want_int(tly_fault_nth(TLY_FAULT_DB), 0);
	want_int(tly_fault_nth(TLY_FAULT_STRIPE), 1);
	want_int(tly_fault_nth(TLY_FAULT_STRIPE), 0);
	want_int(tly_fault_nth(TLY_FAULT_STRIPE_LOST), 0);
	want_int(tly_fault_nth(TLY_FAULT_ALLOC), 0);
	/* a named point: its first two calls */
	want_int(tly_ctx_fault(&x->ctx, "checkout.record_pi"), TLY_FAULT_FAIL);
	want_int(tly_ctx_fault(&x->ctx, "checkout.record_pi"), TLY_FAULT_FAIL);
	want_int(tly_ctx_fault(&x->ctx, "checkout.record_pi"), TLY_FAULT_NONE);
	want_int(tly_ctx_fault(&x->ctx, "db"), TLY_FAULT_NONE);
	done(x);
}

static void
test_proc(void **state)
{
	fx *x = make("webhook", "db:1@api,stripe:2@webhook,alloc:1@job:gc");

	(void)state;
	want_int(tly_fault_nth(TLY_FAULT_DB), 0);
	want_int(tly_fault_nth(TLY_FAULT_STRIPE), 0);
	want_int(tly_fault_nth(TLY_FAULT_STRIPE), 1);
	want_int(tly_fault_nth(TLY_FAULT_ALLOC), 0);
	done(x);
	x = make("job:gc", "alloc:1@job:gc");
	want_int(tly_fault_nth(TLY_FAULT_ALLOC), 1);
	done(x);
}

static void
test_alloc(void **state)
{
	fx *x = make("api", "alloc:2");
	tly_pool *p = x->ctx.pool;
	tly_buf b;

	(void)state;
	assert_non_null(tly_palloc(p, 8));
	assert_null(tly_palloc(p, 8));		/* the second */
	assert_non_null(tly_palloc(p, 8));
	done(x);
	x = make("api", "alloc:1");
	tly_buf_init(&b, 1024);
	want_int(tly_buf_adds(&b, "grows") != TLY_OK, 1);
	want_int(tly_buf_adds(&b, "grows"), TLY_OK);
	want_str(tly_buf_str(&b), "grows");
	tly_buf_free(&b);
	done(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_nth),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

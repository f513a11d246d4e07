/*
 * metrics.h - counters and histograms every process of a host adds to
 *
 * tallyd's master maps one table of series into shared memory before it
 * forks (tly_metrics_init); every worker of every pool and every job
 * process adds to it with atomic operations, so one exposition
 * (GET /metrics, Prometheus' text format) shows the whole host, and a
 * worker that dies loses nothing it had counted.  Each host keeps its
 * own table: Prometheus scrapes each host and sums across them.
 *
 * A series is a family name and a label set written as Prometheus
 * writes it ('pool="api",route="/api/v1/health"').  In a process with
 * no table (tallyctl, tests) every add is a no-op.
 */
#ifndef TLY_METRICS_H
#define TLY_METRICS_H

#include <stdint.h>

#include "ctx.h"
#include "tly_buf.h"

int	 tly_metrics_init(size_t);
void	 tly_metric_add(const char *, const char *, int64_t);
void	 tly_metric_set(const char *, const char *, int64_t);
void	 tly_metric_observe_us(const char *, const char *, int64_t);
void	 tly_metrics_stripe(const char *, const char *, long, int64_t);
void	 tly_metrics_payout_run(int, int, int, int, int);
int	 tly_metrics_render(tly_ctx *, tly_buf *);
void	 tly_metric_label(char *, size_t, const char *);

#endif

/*
 * jobs.h - background jobs: a name, a core function, run on an interval
 *
 * tallyd runs each configured [job.NAME] in its own process, calling the
 * function every 'interval' seconds; `tallyctl job run NAME` calls it
 * once.  A job function does a bounded amount of work per call, claims
 * rows with SELECT … FOR UPDATE SKIP LOCKED where several hosts may run it
 * at once, and returns; it never sleeps waiting for work.
 */
#ifndef TLY_JOBS_H
#define TLY_JOBS_H

#include "ctx.h"

typedef int (*tly_job_fn)(tly_ctx *, tly_err *);

typedef struct tly_job {
	const char	*name;
	tly_job_fn	 fn;
	const char	*what;
} tly_job;

extern const tly_job tly_jobs[];

const tly_job	*tly_job_find(const char *);

#endif

/*
 * jobproc.c - a job process: one core job function on an interval
 *
 * Same setup order as a worker (signals, parent-death signal, then the
 * context).  Between runs it sleeps in poll(2) on a self-pipe written by
 * the SIGTERM handler, so it stops at once when idle and after the
 * current run when busy.  A failed run is logged and retried at the next
 * interval; the job functions are idempotent by design.
 *
 * API:	tly_jobproc_main().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ctx.h"
#include "jobs.h"
#include "proc.h"
#include "tly_str.h"

static volatile sig_atomic_t job_stop;
static int job_pipe[2] = { -1, -1 };

static void
on_term(int sig)
{
	int saved = errno;

	(void)sig;
	job_stop = 1;
	if (job_pipe[1] >= 0)
		(void)write(job_pipe[1], "x", 1);
	errno = saved;
}

static void
setup_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* tly_jobproc_main - run job 'j' of the configuration until SIGTERM */
int
tly_jobproc_main(const tly_config *cfg, int j, int status_fd)
{
	const tly_job_conf *jc = &cfg->jobs[j];
	const tly_job *job;
	struct pollfd pfd;
	char name[48];
	int64_t next;
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	int rc;

	setup_signals();
	if (pipe2(job_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return TLY_EXIT_FATAL;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(name, sizeof(name), "job:%s", jc->name);
	tly_log_init(&log, 2, cfg->log_level, name);
	job = tly_job_find(jc->name);
	if (job == NULL || tly_ctx_init(&ctx, cfg, &log) != TLY_OK) {
		tly_error(&log, "job", "unknown job or cannot set up");
		return TLY_EXIT_FATAL;
	}
	tly_status_send(status_fd, TLY_STATUS_READY);
	while (!job_stop) {
		next = tly_mono_ms() + (int64_t)jc->interval_s * 1000;
		tly_err_clear(&err);
		tly_pool_reset(ctx.pool);
		tly_id_new(ctx.request_id, sizeof(ctx.request_id), "run");
		log.request_id = ctx.request_id;
		rc = job->fn(&ctx, &err);
		if (rc != TLY_OK)
			tly_logkv(&log, TLY_LOG_WARN, "job", "run failed",
			    "code", err.code, "error", err.msg, NULL);
		log.request_id = NULL;
		pfd.fd = job_pipe[0];
		pfd.events = POLLIN;
		while (!job_stop && tly_mono_ms() < next)
			(void)poll(&pfd, 1, (int)(next - tly_mono_ms()));
	}
	tly_ctx_free(&ctx);
	return 0;
}

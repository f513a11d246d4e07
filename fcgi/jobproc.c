/*
 * jobproc.c - a job process: one core job function on an interval
 *
 * Same setup order as a worker (signals, parent-death signal, then the
 * context).  SIGTERM stays blocked and arrives through a signalfd, so it
 * never interrupts the job's database or Stripe calls; between runs the
 * process sleeps in poll(2) on that signalfd, so it stops at once when
 * idle and after the current run when busy (SIGUSR1 on the same
 * signalfd reopens the log file and the process sleeps on).  A failed run
 * is logged and retried at the next interval; the job functions are
 * idempotent by design.
 *
 * API:	tly_jobproc_main().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ctx.h"
#include "jobs.h"
#include "proc.h"
#include "tly_str.h"

/*
 * setup_signals - as a worker's: SIGTERM/SIGINT (stop) and SIGUSR1
 * (reopen the log) through a signalfd
 */
static int
setup_signals(void)
{
	struct sigaction sa;
	sigset_t stop;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGUSR1);
	if (sigprocmask(SIG_SETMASK, &stop, NULL) != 0)
		return -1;
	return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
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
	int rc, sig_fd, stop = 0;

	sig_fd = setup_signals();
	if (sig_fd < 0)
		return TLY_EXIT_FATAL;
	snprintf(name, sizeof(name), "job:%s", jc->name);
	tly_log_init(&log, 2, cfg->log_level, name);
	job = tly_job_find(jc->name);
	if (job == NULL || tly_ctx_init(&ctx, cfg, &log) != TLY_OK) {
		tly_error(&log, "job", "unknown job or cannot set up");
		return TLY_EXIT_FATAL;
	}
	tly_status_send(status_fd, TLY_STATUS_READY);
	while (!stop) {
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
		pfd.fd = sig_fd;
		pfd.events = POLLIN;
		while (!stop && tly_mono_ms() < next)
			if (poll(&pfd, 1, (int)(next - tly_mono_ms())) > 0 &&
			    tly_signals_read(sig_fd, &log, cfg->log_file))
				stop = 1;
	}
	tly_ctx_free(&ctx);
	close(sig_fd);
	return 0;
}

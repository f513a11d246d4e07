/*
 * worker.c - a pool worker: accept, dispatch, answer, repeat
 *
 * Setup order, after fork (the master has already closed what a worker
 * must not hold): signal handlers first (so libfcgi does not install its
 * own), parent-death signal, then libfcgi, then the context (MariaDB
 * connection, arena).  A MYSQL handle is never inherited.
 *
 * SIGTERM and SIGINT stay blocked for the worker's whole life and arrive
 * through a signalfd, so no system call is ever interrupted by them (a
 * handler would make libfcgi's poll() for the request's first bytes fail
 * with EINTR and drop a connection nginx had already handed over).  The
 * loop waits in epoll on the pool's listening socket (shared by all
 * workers of the pool, non-blocking, EPOLLEXCLUSIVE so one connection
 * wakes one worker) and on that signalfd: an idle worker stops at once,
 * a busy one within ACCEPT_RUN requests.  libfcgi accepts after epoll
 * said a connection is waiting, and, after a request, straight away for
 * up to ACCEPT_RUN requests in a row while connections keep waiting (a
 * loaded pool then spends no epoll_wait per request); EAGAIN (none
 * waiting, or another worker took it) goes back to waiting.
 *
 * The scoreboard bounds each request (request_timeout): the worker stamps
 * the time in shared memory before it accepts (reading the FastCGI header
 * is part of the request) and clears it when done, and the master kills a
 * worker stuck longer (no timer system calls per request); the master
 * respawns it and MariaDB rolls back whatever transaction it held.
 *
 * Access-log lines are deferred (tly_log.h) and written when the buffer
 * fills, before any other line, when the worker has been idle for a
 * second, and at exit; so are the webhook pool's refusal counts
 * (webhook.h).  SIGUSR1 (from the master, after logrotate) comes
 * through the same signalfd: the worker flushes and reopens the log file
 * (tly_log_reopen), then goes on serving.
 *
 * API:	tly_worker_main(), tly_status_send(), tly_signals_read().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "ctx.h"
#include "http.h"
#include "metrics.h"
#include "proc.h"
#include "router.h"
#include "tly_str.h"
#include "webhook.h"

/*
 * setup_signals - SIGTERM/SIGINT/SIGUSR1 blocked and read from the
 * returned signalfd; SIGPIPE, SIGHUP ignored; -1 on failure.
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
	sigaction(SIGTERM, &sa, NULL);	/* libfcgi installs nothing then */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGUSR1);
	if (sigprocmask(SIG_SETMASK, &stop, NULL) != 0)
		return -1;
	return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
}

/*
 * tly_signals_read - drain signalfd 'sig_fd': on SIGUSR1 flush 'log' and
 * reopen 'log_file'; returns 1 when SIGTERM or SIGINT came (stop)
 */
int
tly_signals_read(int sig_fd, tly_log *log, const char *log_file)
{
	struct signalfd_siginfo si;
	char why[512];
	int stop = 0;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGUSR1) {
			stop = 1;
			continue;
		}
		tly_log_flush(log);
		if (tly_log_reopen(log_file, why, sizeof(why)) != 0)
			tly_error(log, "worker", "cannot reopen the log: %s",
			    why);
	}
	return stop;
}

/* tly_status_send - tell the master something about this process */
void
tly_status_send(int fd, char what)
{
	tly_status_msg m;

	memset(&m, 0, sizeof(m));
	m.pid = (int32_t)getpid();
	m.what = what;
	(void)write(fd, &m, sizeof(m));		/* < PIPE_BUF: atomic */
}

static void
access_log(tly_req *r)
{
	char status[8], dur[24], who[64];

	if (r->ctx->log->level > TLY_LOG_INFO)
		return;
	snprintf(status, sizeof(status), "%d", r->status);
	snprintf(dur, sizeof(dur), "%lld",
	    (long long)(tly_now_us() - r->start_us));
	snprintf(who, sizeof(who), "%s%s%s",
	    tly_principal_kind_name(r->principal.kind),
	    r->principal.id[0] ? ":" : "", r->principal.id);
	tly_logkv_deferred(r->ctx->log, TLY_LOG_INFO, "http", "request",
	    "method", r->method, "path", r->path, "status", status,
	    "duration_us", dur, "principal", who, NULL);
}

/* request_metrics - the request counted by pool, route and status */
static void
request_metrics(tly_req *r)
{
	char lab[192], route[128];

	tly_metric_label(route, sizeof(route), r->route ? r->route->pattern :
	    "unmatched");
	snprintf(lab, sizeof(lab), "pool=\"%s\",route=\"%s\",code=\"%d\"",
	    tly_pool_name(r->pool), route, r->status);
	tly_metric_add("tally_http_requests_total", lab, 1);
	snprintf(lab, sizeof(lab), "pool=\"%s\",route=\"%s\"",
	    tly_pool_name(r->pool), route);
	tly_metric_observe_us("tally_http_request_duration_seconds", lab,
	    tly_now_us() - r->start_us);
}

/* serve_one - one accepted request, answered whatever happens */
static void
serve_one(FCGX_Request *fr, tly_ctx *ctx, int pool, tly_rl *rl)
{
	tly_req r;

	tly_pool_reset(ctx->pool);
	tly_req_init(&r, fr, ctx, pool);
	r.rl = rl;
	tly_dispatch(&r);
	access_log(&r);
	request_metrics(&r);
	tly_buf_free(&r.headers);
	ctx->log->request_id = NULL;
	ctx->request_id[0] = '\0';
}

static int
wait_setup(int listen_fd, int sig_fd)
{
	struct epoll_event ev;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = listen_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.fd = sig_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &ev) < 0)
		goto fail;
	return ep;
fail:
	close(ep);
	return -1;
}

/* requests accepted in a row without asking epoll (and the signalfd) */
#define ACCEPT_RUN	8

/*
 * tly_worker_main - serve pool 'pool' on 'listen_fd' until SIGTERM or
 * max_requests; returns the process exit code.
 */
int
tly_worker_main(const tly_config *cfg, int pool, int listen_fd, int status_fd,
    tly_rl *rl, tly_score *sc)
{
	const tly_pool_conf *pc = &cfg->pools[pool];
	struct epoll_event evs[2];
	FCGX_Request fr;
	tly_log log;
	tly_ctx ctx;
	tly_err err;
	long served = 0;
	int ep, n, rc, i, sig_fd, stop = 0, run = 0;

	sig_fd = setup_signals();
	if (sig_fd < 0)
		return TLY_EXIT_FATAL;
	tly_log_init(&log, 2, cfg->log_level, pc->name);
	(void)tly_log_defer(&log);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		tly_error(&log, "worker", "libfcgi initialisation failed");
		return TLY_EXIT_FATAL;
	}
	ep = wait_setup(listen_fd, sig_fd);
	if (ep < 0 || tly_ctx_init(&ctx, cfg, &log) != TLY_OK) {
		tly_error(&log, "worker", "cannot set up: %s", strerror(errno));
		return TLY_EXIT_FATAL;
	}
	tly_err_clear(&err);
	if (tly_db_connect(ctx.db, &err) != TLY_OK)
		tly_warn(&log, "worker", "database not reachable at start; "
		    "will retry per request");
	tly_status_send(status_fd, TLY_STATUS_READY);
	while (!stop && served < pc->max_requests) {
		if (run == 0 || run >= ACCEPT_RUN) {
			run = 0;
			n = epoll_wait(ep, evs, 2, log.deferred ||
			    tly_webhook_refusals_pending() ? 1000 : -1);
			if (n == 0) {			/* idle */
				tly_log_flush(&log);
				tly_webhook_refusals_flush(&ctx, 1);
			}
			if (n < 0 && errno != EINTR) {
				tly_error(&log, "worker", "epoll_wait: %s",
				    strerror(errno));
				break;
			}
			for (i = 0; i < n; i++)
				if (evs[i].data.fd == sig_fd &&
				    tly_signals_read(sig_fd, &log,
				    cfg->log_file))
					stop = 1;
			if (stop || n <= 0)
				continue;
		}
		/* the request starts now: its header may never come */
		__atomic_store_n(&sc->busy_since, tly_mono_ms(),
		    __ATOMIC_RELAXED);
		rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			__atomic_store_n(&sc->busy_since, 0, __ATOMIC_RELAXED);
			if (rc != -EAGAIN && rc != -EINTR)
				tly_warn(&log, "worker", "accept: %s",
				    strerror(-rc));
			run = 0;
			continue;
		}
		run++;
		serve_one(&fr, &ctx, pool, rl);
		FCGX_Finish_r(&fr);
		__atomic_store_n(&sc->busy_since, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sc->served, ++served, __ATOMIC_RELAXED);
	}
	if (served >= pc->max_requests)
		tly_logkv(&log, TLY_LOG_INFO, "worker",
		    "recycling after max_requests", NULL);
	tly_webhook_refusals_flush(&ctx, 1);
	tly_ctx_free(&ctx);
	tly_log_release(&log);
	close(ep);
	close(sig_fd);
	return 0;
}

/*
 * worker.c - a pool worker: accept, dispatch, answer, repeat
 *
 * Setup order, after fork (the master has already closed what a worker
 * must not hold): signal handlers first (so libfcgi does not install its
 * own), parent-death signal, then libfcgi, then the context (MariaDB
 * connection, arena).  A MYSQL handle is never inherited.
 *
 * The loop waits in epoll on the pool's listening socket (shared by all
 * workers of the pool, non-blocking, EPOLLEXCLUSIVE so one connection
 * wakes one worker) and on a self-pipe written by the SIGTERM handler.
 * So SIGTERM is seen at once by an idle worker, with no race between
 * testing a flag and blocking in accept(2), and a busy worker finishes
 * its request first: handlers are installed with SA_RESTART, so database
 * and socket calls are not interrupted.  libfcgi only accepts after
 * epoll said a connection is waiting; EAGAIN (another worker took it)
 * just goes back to waiting.
 *
 * The scoreboard bounds each request (request_timeout): the worker stamps
 * the start of each request in shared memory and the master kills a
 * worker stuck longer (no timer system calls per request); the master
 * respawns it and MariaDB rolls back whatever transaction it held.
 *
 * Access-log lines are deferred (tly_log.h) and written when the buffer
 * fills, before any other line, when the worker has been idle for a
 * second, and at exit.
 *
 * API:	tly_worker_main(), tly_status_send().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "ctx.h"
#include "http.h"
#include "proc.h"
#include "router.h"
#include "tly_str.h"

static volatile sig_atomic_t worker_stop;
static int stop_pipe[2] = { -1, -1 };

static void
on_term(int sig)
{
	int saved = errno;

	(void)sig;
	worker_stop = 1;
	if (stop_pipe[1] >= 0)
		(void)write(stop_pipe[1], "x", 1);
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
		return TLY_ERR;
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	return TLY_OK;
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
	tly_buf_free(&r.headers);
	ctx->log->request_id = NULL;
	ctx->request_id[0] = '\0';
}

static int
wait_setup(int listen_fd)
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
	ev.data.fd = stop_pipe[0];
	if (epoll_ctl(ep, EPOLL_CTL_ADD, stop_pipe[0], &ev) < 0)
		goto fail;
	return ep;
fail:
	close(ep);
	return -1;
}

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
	int ep, n, rc, i;

	if (setup_signals() != TLY_OK || pipe2(stop_pipe, O_CLOEXEC |
	    O_NONBLOCK) != 0)
		return TLY_EXIT_FATAL;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	tly_log_init(&log, 2, cfg->log_level, pc->name);
	(void)tly_log_defer(&log);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		tly_error(&log, "worker", "libfcgi initialisation failed");
		return TLY_EXIT_FATAL;
	}
	ep = wait_setup(listen_fd);
	if (ep < 0 || tly_ctx_init(&ctx, cfg, &log) != TLY_OK) {
		tly_error(&log, "worker", "cannot set up: %s", strerror(errno));
		return TLY_EXIT_FATAL;
	}
	tly_err_clear(&err);
	if (tly_db_connect(ctx.db, &err) != TLY_OK)
		tly_warn(&log, "worker", "database not reachable at start; "
		    "will retry per request");
	tly_status_send(status_fd, TLY_STATUS_READY);
	while (!worker_stop && served < pc->max_requests) {
		n = epoll_wait(ep, evs, 2, log.deferred ? 1000 : -1);
		if (n == 0)
			tly_log_flush(&log);	/* idle: write the access log */
		if (n < 0 && errno != EINTR) {
			tly_error(&log, "worker", "epoll_wait: %s",
			    strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == stop_pipe[0])
				worker_stop = 1;
		if (worker_stop || n <= 0)
			continue;
		rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			if (rc != -EAGAIN && rc != -EINTR)
				tly_warn(&log, "worker", "accept: %s",
				    strerror(-rc));
			continue;
		}
		__atomic_store_n(&sc->busy_since, tly_mono_ms(),
		    __ATOMIC_RELAXED);
		serve_one(&fr, &ctx, pool, rl);
		FCGX_Finish_r(&fr);
		__atomic_store_n(&sc->busy_since, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sc->served, ++served, __ATOMIC_RELAXED);
	}
	if (served >= pc->max_requests)
		tly_logkv(&log, TLY_LOG_INFO, "worker",
		    "recycling after max_requests", NULL);
	tly_ctx_free(&ctx);
	tly_log_release(&log);
	close(ep);
	return 0;
}

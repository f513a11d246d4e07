/*
 * tly_log.h - structured (JSON lines) logging
 *
 * One line per event, written with a single write(2) so that lines from
 * the workers of a pool never interleave (each line is kept below
 * PIPE_BUF).  Every line carries time, level, process, pid, component and,
 * inside a request, the request id:
 *
 *   {"ts":"2026-11-23T10:00:00.123Z","level":"info","proc":"api",
 *    "pid":42,"component":"http","request_id":"…","msg":"…","k":"v"}
 *
 * Secrets never go through here: callers pass ids, never keys or tokens.
 *
 * Severity ladder (docs/style.md): debug, info, warn,
 * error (an operation failed; the caller handles it), alert (an invariant
 * of the books broke or Tally found something it must not decide alone:
 * tly_panic logs it with its context and makes the request answer 500,
 * never silently), fatal (startup and configuration only; core/ never
 * exits).
 *
 * High-volume lines (the access log) may be deferred: they collect in a
 * buffer of at most PIPE_BUF bytes that is written in one write(2) when
 * full, before any other line (so the order holds), when the worker is
 * idle (tly_log_flush) and at exit.  A process killed with SIGKILL loses
 * at most that buffer of access lines, never an error line.
 *
 * The log file is every process's standard error: tly_log_reopen() points
 * descriptor 2 at the file anew (SIGUSR1 after logrotate moved it, in the
 * master and in each child).  While tallyd starts, the master also writes
 * each line to the terminal's (or journald's) standard error, 'also_fd',
 * so that a failed start is never silent.
 */
#ifndef TLY_LOG_H
#define TLY_LOG_H

enum {
	TLY_LOG_DEBUG = 0,
	TLY_LOG_INFO,
	TLY_LOG_WARN,
	TLY_LOG_ERROR,
	TLY_LOG_ALERT,		/* an invariant broke: an operator must look */
	TLY_LOG_FATAL
};

struct tly_err;

#define TLY_LOG_LINE_MAX	4000

typedef struct tly_log {
	int		 fd;
	int		 level;		/* lines below it are dropped */
	int		 pid;		/* cached: set by tly_log_init */
	char		 proc[24];	/* "master", "api", "job:payouts", … */
	const char	*request_id;	/* set by the worker per request */
	char		*defer;		/* deferred lines, up to PIPE_BUF */
	size_t		 deferred;
	int		 also_fd;	/* > 2: every line also here; 0 none */
} tly_log;

void	 tly_log_init(tly_log *, int, int, const char *);
int	 tly_log_defer(tly_log *);
void	 tly_log_flush(tly_log *);
void	 tly_log_release(tly_log *);
int	 tly_log_level_parse(const char *);
int	 tly_log_reopen(const char *, char *, size_t);
void	 tly_logf(tly_log *, int, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 tly_logkv(tly_log *, int, const char *, const char *, ...)
	    __attribute__((sentinel));
void	 tly_logkv_deferred(tly_log *, int, const char *, const char *, ...)
	    __attribute__((sentinel));
int	 tly_panic(tly_log *, struct tly_err *, const char *, const char *,
	    ...) __attribute__((sentinel));

#define tly_debug(l, c, ...)	tly_logf((l), TLY_LOG_DEBUG, (c), __VA_ARGS__)
#define tly_info(l, c, ...)	tly_logf((l), TLY_LOG_INFO, (c), __VA_ARGS__)
#define tly_warn(l, c, ...)	tly_logf((l), TLY_LOG_WARN, (c), __VA_ARGS__)
#define tly_error(l, c, ...)	tly_logf((l), TLY_LOG_ERROR, (c), __VA_ARGS__)

#endif

/*
 * tly_log.c - structured (JSON lines) logging
 *
 * Owns the line format.  A line is assembled in a stack buffer, JSON
 * escaped, truncated (never split) when too long, and written with one
 * write(2).  A failed write is ignored: logging must never take a request
 * down.
 *
 * The file is standard error (descriptor 2), which every child inherits;
 * tly_log_reopen() opens the file by its name again and puts it on
 * descriptor 2, so that after logrotate renamed it the lines go to a new
 * file (each process does it on SIGUSR1: descriptors are per process).
 *
 * API:	tly_log_init(), tly_log_level_parse(), tly_logf(), tly_logkv(),
 *	tly_log_defer(), tly_logkv_deferred(), tly_log_flush(),
 *	tly_log_release(), tly_log_reopen().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tly_err.h"
#include "tly_log.h"

static const char *level_names[] = {
	"debug", "info", "warn", "error", "alert", "fatal"
};

/* tly_log_init - log to 'fd' at 'level' and above, naming process 'proc' */
void
tly_log_init(tly_log *l, int fd, int level, const char *proc)
{
	l->fd = fd;
	l->level = level;
	l->pid = (int)getpid();
	snprintf(l->proc, sizeof(l->proc), "%s", proc);
	l->request_id = NULL;
	l->defer = NULL;
	l->deferred = 0;
	l->also_fd = 0;
}

/*
 * tly_log_reopen - open log file 'path' (append, create 0640) and make it
 * descriptor 2; "" leaves standard error as it is.  0, or -1 with 'why'
 * naming the file and the reason (the old descriptor 2 stays).
 */
int
tly_log_reopen(const char *path, char *why, size_t whysz)
{
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fd != 2 && dup2(fd, 2) < 0) {
		snprintf(why, whysz, "%s: dup2: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fd != 2)
		close(fd);
	return 0;
}

/* tly_log_defer - allow deferred lines (a PIPE_BUF buffer); TLY_OK = 0 */
int
tly_log_defer(tly_log *l)
{
	if (l->defer == NULL)
		l->defer = malloc(PIPE_BUF);
	return l->defer ? 0 : -1;
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* logging never takes a request down */
		p += w;
		n -= (size_t)w;
	}
}

/* tly_log_flush - write the deferred lines now */
void
tly_log_flush(tly_log *l)
{
	if (l->deferred == 0)
		return;
	write_all(l->fd, l->defer, l->deferred);
	l->deferred = 0;
}

/* tly_log_release - flush and free the deferral buffer */
void
tly_log_release(tly_log *l)
{
	tly_log_flush(l);
	free(l->defer);
	l->defer = NULL;
}

/* tly_log_level_parse - "debug".."fatal" to a level; -1 if unknown */
int
tly_log_level_parse(const char *s)
{
	int i;

	for (i = 0; i <= TLY_LOG_FATAL; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/*
 * Escaped text stops at SOFT_MAX; the structure (quotes, keys, the closing
 * brace) always fits in the reserve above it, so a line is valid JSON even
 * when its values were cut.
 */
#define SOFT_MAX	(TLY_LOG_LINE_MAX - 128)

typedef struct line {
	char	 buf[TLY_LOG_LINE_MAX + 2];
	size_t	 len;
	int	 truncated;
} line;

static void
put(line *ln, const char *s, size_t n)
{
	if (n > TLY_LOG_LINE_MAX - ln->len)
		return;			/* cannot happen: see SOFT_MAX */
	memcpy(ln->buf + ln->len, s, n);
	ln->len += n;
}

static void
puts_raw(line *ln, const char *s)
{
	put(ln, s, strlen(s));
}

/*
 * utf8_len - the length of the valid UTF-8 character at 'p' (a
 * NUL-terminated string), 1 to 4; 0 when no valid character starts there
 */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;		/* beyond U+10FFFF */
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* put_esc - 's' as the inside of a JSON string */
static void
put_esc(line *ln, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	char e[6];
	size_t n;

	for (p = (const unsigned char *)s; *p; p++) {
		if (ln->len + 6 > SOFT_MAX) {
			ln->truncated = 1;
			return;
		}
		if (*p >= 0x80) {
			/*
			 * A UTF-8 character goes out whole (at most 4 bytes,
			 * within the 6 checked above), so a cut never splits
			 * one; a byte that starts no valid character (a
			 * stray continuation byte, a truncated, overlong or
			 * surrogate sequence, 0xf5-0xff) becomes U+FFFD: the
			 * line stays valid JSON whatever a value held.
			 */
			n = utf8_len(p);
			if (n == 0)
				put(ln, "\xef\xbf\xbd", 3);
			else {
				put(ln, (const char *)p, n);
				p += n - 1;
			}
		} else if (*p == '"' || *p == '\\') {
			e[0] = '\\';
			e[1] = (char)*p;
			put(ln, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			e[0] = '\\';
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 15];
			put(ln, e, 6);
		} else
			put(ln, (const char *)p, 1);
	}
}

static void
put_kv(line *ln, const char *k, const char *v)
{
	if (ln->truncated)
		return;
	puts_raw(ln, ",\"");
	put_esc(ln, k);
	puts_raw(ln, "\":\"");
	put_esc(ln, v);
	puts_raw(ln, "\"");
}

static void
line_begin(line *ln, tly_log *l, int level, const char *component)
{
	struct timeval tv;
	struct tm tm;
	char ts[64], pid[16];

	ln->len = 0;
	ln->truncated = 0;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
	snprintf(pid, sizeof(pid), "%d", l->pid);
	puts_raw(ln, "{\"ts\":\"");
	puts_raw(ln, ts);
	puts_raw(ln, "\"");
	put_kv(ln, "level", level_names[level]);
	put_kv(ln, "proc", l->proc);
	puts_raw(ln, ",\"pid\":");
	puts_raw(ln, pid);
	put_kv(ln, "component", component);
	if (l->request_id && *l->request_id)
		put_kv(ln, "request_id", l->request_id);
}

static void
line_end(line *ln, tly_log *l, int deferred)
{
	if (ln->truncated)
		puts_raw(ln, ",\"truncated\":true");
	puts_raw(ln, "}\n");
	if (deferred && l->defer) {
		if (l->deferred + ln->len > PIPE_BUF)
			tly_log_flush(l);
		memcpy(l->defer + l->deferred, ln->buf, ln->len);
		l->deferred += ln->len;
		return;
	}
	tly_log_flush(l);		/* keep the order of lines */
	write_all(l->fd, ln->buf, ln->len);
	if (l->also_fd > 2)
		write_all(l->also_fd, ln->buf, ln->len);
}

static int
level_ok(tly_log *l, int level)
{
	if (level < TLY_LOG_DEBUG || level > TLY_LOG_FATAL)
		return 0;
	return level >= l->level;
}

/* tly_logf - one line with a printf-formatted message */
void
tly_logf(tly_log *l, int level, const char *component, const char *fmt, ...)
{
	char msg[TLY_LOG_LINE_MAX];
	va_list ap;
	line ln;

	if (!level_ok(l, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line_begin(&ln, l, level, component);
	put_kv(&ln, "msg", msg);
	line_end(&ln, l, 0);
}

static void
vlogkv(tly_log *l, int level, const char *component, const char *msg,
    va_list ap, int deferred)
{
	const char *k, *v;
	line ln;

	line_begin(&ln, l, level, component);
	put_kv(&ln, "msg", msg);
	for (;;) {
		k = va_arg(ap, const char *);
		if (k == NULL)
			break;
		v = va_arg(ap, const char *);
		if (v)
			put_kv(&ln, k, v);
	}
	line_end(&ln, l, deferred);
}

/*
 * tly_logkv - one line with message 'msg' and string fields given as
 * key, value pairs ending with NULL; a NULL value is skipped.
 */
void
tly_logkv(tly_log *l, int level, const char *component, const char *msg, ...)
{
	va_list ap;

	if (!level_ok(l, level))
		return;
	va_start(ap, msg);
	vlogkv(l, level, component, msg, ap, 0);
	va_end(ap);
}

/* tly_logkv_deferred - like tly_logkv, into the deferral buffer if any */
void
tly_logkv_deferred(tly_log *l, int level, const char *component,
    const char *msg, ...)
{
	va_list ap;

	if (!level_ok(l, level))
		return;
	va_start(ap, msg);
	vlogkv(l, level, component, msg, ap, 1);
	va_end(ap);
}

/*
 * tly_panic - an invariant broke: one line at level alert with message
 * 'msg' and the key, value pairs that follow (ending with NULL), and 'err'
 * becomes the generic 500 whatever it held (the detail stays in the log).
 * Returns TLY_ERR, so that the caller writes "return tly_panic(...);".
 */
int
tly_panic(tly_log *l, struct tly_err *err, const char *component,
    const char *msg, ...)
{
	va_list ap;

	if (level_ok(l, TLY_LOG_ALERT)) {
		va_start(ap, msg);
		vlogkv(l, TLY_LOG_ALERT, component, msg, ap, 0);
		va_end(ap);
	}
	tly_err_clear(err);
	return tly_err_internal(err);
}

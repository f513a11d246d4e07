/*
 * tly_log.c - structured (JSON lines) logging
 *
 * Owns the line format.  A line is assembled in a stack buffer, JSON
 * escaped, truncated (never split) when too long, and written with one
 * write(2).  A failed write is ignored: logging must never take a request
 * down.
 *
 * API:	tly_log_init(), tly_log_level_parse(), tly_logf(), tly_logkv().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tly_log.h"

static const char *level_names[] = {
	"debug", "info", "warn", "error", "fatal"
};

/* tly_log_init - log to 'fd' at 'level' and above, naming process 'proc' */
void
tly_log_init(tly_log *l, int fd, int level, const char *proc)
{
	l->fd = fd;
	l->level = level;
	snprintf(l->proc, sizeof(l->proc), "%s", proc);
	l->request_id = NULL;
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

/* put_esc - 's' as the inside of a JSON string */
static void
put_esc(line *ln, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	char e[6];

	for (p = (const unsigned char *)s; *p; p++) {
		if (ln->len + 6 > SOFT_MAX) {
			ln->truncated = 1;
			return;
		}
		if (*p == '"' || *p == '\\') {
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
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
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
line_end(line *ln, tly_log *l)
{
	ssize_t n;

	if (ln->truncated)
		puts_raw(ln, ",\"truncated\":true");
	puts_raw(ln, "}\n");
	do {
		n = write(l->fd, ln->buf, ln->len);
	} while (n < 0 && errno == EINTR);
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
	line_end(&ln, l);
}

/*
 * tly_logkv - one line with message 'msg' and string fields given as
 * key, value pairs ending with NULL; a NULL value is skipped.
 */
void
tly_logkv(tly_log *l, int level, const char *component, const char *msg, ...)
{
	va_list ap;
	const char *k, *v;
	line ln;

	if (!level_ok(l, level))
		return;
	line_begin(&ln, l, level, component);
	put_kv(&ln, "msg", msg);
	va_start(ap, msg);
	for (;;) {
		k = va_arg(ap, const char *);
		if (k == NULL)
			break;
		v = va_arg(ap, const char *);
		if (v)
			put_kv(&ln, k, v);
	}
	va_end(ap);
	line_end(&ln, l);
}

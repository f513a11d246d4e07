/*
 * log_test.c - core/util/tly_log.c
 *
 * Lines are written into a pipe and read back: one line per call, each a
 * JSON object that tly_json_parse accepts, with ts/level/proc/pid/
 * component/msg and request_id only when set; escaping of quotes,
 * backslashes, newlines and control characters (a table, round-tripped);
 * level filtering; tly_logkv's pairs; and overlong input (10 000
 * characters, 3 000 control characters that expand sixfold, long
 * multi-byte UTF-8 text) still giving ONE valid line of at most
 * TLY_LOG_LINE_MAX + 2 bytes with "truncated":true.  Deferred lines:
 * held until a flush, a full buffer or a non-deferred line (order
 * kept), written at once without tly_log_defer, freed by release.
 */
#include "tly_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tly_err.h"
#include "tly_json.h"
#include "tly_log.h"
#include "tly_pool.h"

typedef struct sink {
	int		 fd[2];
	tly_log		 log;
	tly_pool	*pool;
	char		 buf[65536];
	size_t		 len;
} sink;

static int
setup(void **state)
{
	sink *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL || pipe(s->fd) != 0 ||
	    fcntl(s->fd[0], F_SETFL, O_NONBLOCK) != 0)
		return -1;
	s->pool = tly_pool_new(65536);
	if (s->pool == NULL)
		return -1;
	tly_log_init(&s->log, s->fd[1], TLY_LOG_DEBUG, "api");
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	sink *s = *state;

	tly_log_release(&s->log);
	close(s->fd[0]);
	close(s->fd[1]);
	tly_pool_free(s->pool);
	free(s);
	return 0;
}

/* drain - everything written so far into s->buf */
static void
drain(sink *s)
{
	ssize_t n;

	s->len = 0;
	for (;;) {
		n = read(s->fd[0], s->buf + s->len, sizeof(s->buf) - 1 -
		    s->len);
		if (n > 0) {
			s->len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	s->buf[s->len] = '\0';
}

/* one_line - exactly one line was written; parse and return it */
static const tly_jv *
one_line(sink *s)
{
	tly_jv *root;
	tly_err err;
	char *nl;

	drain(s);
	nl = memchr(s->buf, '\n', s->len);
	if (nl == NULL || (size_t)(nl - s->buf) != s->len - 1)
		fail_msg("got %zu bytes with newline at %ld, want one line: "
		    "%.200s", s->len, nl ? (long)(nl - s->buf) : -1L,
		    s->buf);
	if (s->len > TLY_LOG_LINE_MAX + 2 || s->len > PIPE_BUF)
		fail_msg("line length: got %zu, want <= %d", s->len,
		    TLY_LOG_LINE_MAX + 2);
	tly_err_clear(&err);
	if (tly_json_parse(s->pool, s->buf, s->len - 1,
	    &tly_json_request_limits, &root, &err) != TLY_OK)
		fail_msg("line is not valid JSON (%s): %.300s", err.msg,
		    s->buf);
	if (root->type != TLY_JOBJ)
		fail_msg("line: got JSON type %d, want an object",
		    (int)root->type);
	return root;
}

static void
want_nothing(sink *s, const char *what)
{
	drain(s);
	if (s->len != 0)
		fail_msg("%s: got \"%s\", want nothing", what, s->buf);
}

static void
test_fields(void **state)
{
	sink *s = *state;
	const tly_jv *o, *m;
	const char *ts;
	int64_t pid;
	size_t i;

	tly_logf(&s->log, TLY_LOG_INFO, "http", "hello %s %d", "world", 42);
	o = one_line(s);
	ts = tly_json_str(o, "ts");
	assert_non_null(ts);
	want_int(strlen(ts), 24);	/* 2026-11-23T10:00:00.123Z */
	for (i = 0; i < 24; i++) {
		const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";

		if (shape[i] == 'd' ? ts[i] < '0' || ts[i] > '9' :
		    ts[i] != shape[i])
			fail_msg("ts: got %s, want the shape %s", ts, shape);
	}
	want_str(tly_json_str(o, "level"), "info");
	want_str(tly_json_str(o, "proc"), "api");
	want_int(tly_json_i64(o, "pid", &pid), TLY_OK);
	want_int(pid, getpid());
	want_str(tly_json_str(o, "component"), "http");
	want_str(tly_json_str(o, "msg"), "hello world 42");
	assert_null(tly_json_get(o, "request_id"));
	assert_null(tly_json_get(o, "truncated"));
	/* the order of the members is the documented one */
	m = o->child;
	want_str(m->key, "ts");
	want_str(m->next->key, "level");
	want_str(m->next->next->key, "proc");
	want_str(m->next->next->next->key, "pid");
	want_str(m->next->next->next->next->key, "component");
	want_str(m->next->next->next->next->next->key, "msg");
	want_int(o->n, 6);
}

static void
test_request_id(void **state)
{
	sink *s = *state;
	const tly_jv *o;

	s->log.request_id = "req_0123abc";
	tly_info(&s->log, "http", "with id");
	o = one_line(s);
	want_str(tly_json_str(o, "request_id"), "req_0123abc");
	want_str(tly_json_str(o, "msg"), "with id");
	want_int(o->n, 7);

	s->log.request_id = "";
	tly_info(&s->log, "http", "empty id");
	o = one_line(s);
	assert_null(tly_json_get(o, "request_id"));

	s->log.request_id = NULL;
	tly_info(&s->log, "http", "no id");
	o = one_line(s);
	assert_null(tly_json_get(o, "request_id"));
}

static void
test_escaping(void **state)
{
	static const struct {
		const char	*name;
		const char	*msg;
	} rows[] = {
		{ "quotes", "say \"hi\"" },
		{ "backslash", "C:\\path\\" },
		{ "newline", "line1\nline2\r\n" },
		{ "tab", "a\tb" },
		{ "controls", "\x01\x02\x1b[31m\x1f" },
		{ "delete", "x\x7fy" },
		{ "json lookalike", "\",\"level\":\"fatal" },
		{ "utf-8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8" },
		{ "empty", "" },
	};
	sink *s = *state;
	const tly_jv *o;
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_logf(&s->log, TLY_LOG_WARN, "esc", "%s", rows[i].msg);
		o = one_line(s);
		got = tly_json_str(o, "msg");
		if (got == NULL || strcmp(got, rows[i].msg) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", rows[i].name,
			    got ? got : "(null)", rows[i].msg);
		want_str(tly_json_str(o, "level"), "warn");
	}
	/* the component and proc are escaped too */
	tly_log_init(&s->log, s->fd[1], TLY_LOG_DEBUG, "p\"r\n");
	tly_logf(&s->log, TLY_LOG_ERROR, "c\\\"", "m");
	o = one_line(s);
	want_str(tly_json_str(o, "proc"), "p\"r\n");
	want_str(tly_json_str(o, "component"), "c\\\"");
	want_str(tly_json_str(o, "level"), "error");
}

#define R	"\xef\xbf\xbd"	/* U+FFFD */

/* invalid UTF-8 in a value: the line stays valid JSON, each bad byte R */
static void
test_invalid_utf8(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} rows[] = {
		/* a stray continuation byte */
		{ "a\x80" "b", "a" R "b" },
		{ "\xff\xfe", R R },
		/* truncated: at the end, then before a letter */
		{ "end\xc3", "end" R },
		{ "\xe2\x82x", R R "x" },
		/* overlong '/', in two and three bytes */
		{ "\xc0\xaf", R R },
		{ "\xe0\x80\xaf", R R R },
		/* a surrogate; beyond U+10FFFF */
		{ "\xed\xa0\x80", R R R },
		{ "\xf4\x90\x80\x80", R R R R },
		/* the valid limits next to them */
		{ "ok \xf4\x8f\xbf\xbf \xed\x9f\xbf",
		    "ok \xf4\x8f\xbf\xbf \xed\x9f\xbf" },
	};
	sink *s = *state;
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_logkv(&s->log, TLY_LOG_WARN, "utf8", "bad bytes", "v",
		    rows[i].in, NULL);
		got = tly_json_str(one_line(s), "v");	/* parses: valid */
		if (got == NULL || strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: got \"%s\"", i,
			    got ? got : "(null)");
	}
}
#undef R

static void
test_levels(void **state)
{
	static const struct {
		int		 level;
		const char	*name;
		int		 shown;
	} rows[] = {
		{ TLY_LOG_DEBUG, "debug", 0 },
		{ TLY_LOG_INFO, "info", 0 },
		{ TLY_LOG_WARN, "warn", 1 },
		{ TLY_LOG_ERROR, "error", 1 },
		{ TLY_LOG_ALERT, "alert", 1 },
		{ TLY_LOG_FATAL, "fatal", 1 },
		{ -1, "below debug", 0 },
		{ TLY_LOG_FATAL + 1, "above fatal", 0 },
	};
	sink *s = *state;
	const tly_jv *o;
	size_t i;

	s->log.level = TLY_LOG_WARN;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tly_logf(&s->log, rows[i].level, "lvl", "%s", rows[i].name);
		if (!rows[i].shown) {
			want_nothing(s, rows[i].name);
			tly_logkv(&s->log, rows[i].level, "lvl", "kv", NULL);
			want_nothing(s, rows[i].name);
			continue;
		}
		o = one_line(s);
		want_str(tly_json_str(o, "level"), rows[i].name);
		want_str(tly_json_str(o, "msg"), rows[i].name);
	}
	s->log.level = TLY_LOG_DEBUG;
	tly_debug(&s->log, "lvl", "now shown");
	o = one_line(s);
	want_str(tly_json_str(o, "level"), "debug");
}

static void
test_level_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} rows[] = {
		{ "debug", TLY_LOG_DEBUG },
		{ "info", TLY_LOG_INFO },
		{ "warn", TLY_LOG_WARN },
		{ "error", TLY_LOG_ERROR },
		{ "alert", TLY_LOG_ALERT },
		{ "fatal", TLY_LOG_FATAL },
		{ "warning", -1 },
		{ "INFO", -1 },
		{ "", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (tly_log_level_parse(rows[i].in) != rows[i].want)
			fail_msg("\"%s\": got %d, want %d", rows[i].in,
			    tly_log_level_parse(rows[i].in), rows[i].want);
}

static void
test_logkv(void **state)
{
	sink *s = *state;
	const tly_jv *o;

	tly_logkv(&s->log, TLY_LOG_INFO, "stripe", "call done",
	    "payment", "pay_1", "skipped", NULL, "odd \"key\"", "v\n",
	    NULL);
	o = one_line(s);
	want_str(tly_json_str(o, "msg"), "call done");
	want_str(tly_json_str(o, "payment"), "pay_1");
	assert_null(tly_json_get(o, "skipped"));
	want_str(tly_json_str(o, "odd \"key\""), "v\n");
	want_str(tly_json_str(o, "component"), "stripe");
	want_int(o->n, 8);
}

/* tly_panic: one alert line with the context; the error becomes a 500 */
static void
test_panic(void **state)
{
	sink *s = *state;
	const tly_jv *o;
	tly_err e;

	tly_err_clear(&e);
	tly_err_set(&e, TLY_EK_CONFLICT, "retry", "Try again.");
	s->log.level = TLY_LOG_ERROR;
	assert_int_equal(tly_panic(&s->log, &e, "ledger", "shares do not sum "
	    "to the payment", "payment_id", "pay_1", NULL), TLY_ERR);
	o = one_line(s);
	want_str(tly_json_str(o, "level"), "alert");
	want_str(tly_json_str(o, "component"), "ledger");
	want_str(tly_json_str(o, "payment_id"), "pay_1");
	want_int(tly_err_status(&e), 500);
	want_str(e.code, "internal_error");
	/* above the configured level only: an alert is never dropped at
	 * the levels an operator may choose below fatal */
	s->log.level = TLY_LOG_FATAL;
	tly_err_clear(&e);
	assert_int_equal(tly_panic(&s->log, &e, "ledger", "x", NULL), TLY_ERR);
	want_nothing(s, "panic above the level");
	want_int(tly_err_status(&e), 500);
}

/* want_truncated - the line was cut: a prefix of 'full', flagged */
static void
want_truncated(const tly_jv *o, const char *key, const char *full)
{
	const tly_jv *t;
	const char *got;

	t = tly_json_get(o, "truncated");
	if (t == NULL || t->type != TLY_JBOOL || !t->b)
		fail_msg("\"truncated\": got %s, want true",
		    t ? "not true" : "absent");
	got = tly_json_str(o, key);
	if (got == NULL || strncmp(got, full, strlen(got)) != 0)
		fail_msg("%s: got \"%.60s...\", want a prefix of the input",
		    key, got ? got : "(null)");
	if (strlen(got) < 500)
		fail_msg("%s: got %zu bytes, want most of the line", key,
		    strlen(got));
}

static void
test_long(void **state)
{
	sink *s = *state;
	const tly_jv *o;
	char *big;
	size_t i;

	big = malloc(10001);
	assert_non_null(big);

	/* 10 000 plain characters */
	for (i = 0; i < 10000; i++)
		big[i] = (char)('a' + i % 26);
	big[10000] = '\0';
	tly_logf(&s->log, TLY_LOG_INFO, "long", "%s", big);
	o = one_line(s);
	want_truncated(o, "msg", big);
	want_str(tly_json_str(o, "component"), "long");

	/* 3 000 control characters: 18 000 bytes once escaped */
	for (i = 0; i < 3000; i++)
		big[i] = (char)(1 + i % 31);
	big[3000] = '\0';
	tly_logf(&s->log, TLY_LOG_INFO, "ctl", "%s", big);
	o = one_line(s);
	want_truncated(o, "msg", big);

	/* through tly_logkv: the message, then a long value, then more */
	for (i = 0; i < 3000; i++)
		big[i] = i % 2 ? '"' : '\\';
	tly_logkv(&s->log, TLY_LOG_INFO, "kv", "short", "a", big, "b", big,
	    "c", "after", NULL);
	o = one_line(s);
	want_truncated(o, "a", big);
	assert_null(tly_json_get(o, "c"));

	/* a long message with a request id keeps the id */
	s->log.request_id = "req_kept";
	memset(big, 'x', 10000);
	big[10000] = '\0';
	tly_logf(&s->log, TLY_LOG_INFO, "long", "%s", big);
	o = one_line(s);
	want_str(tly_json_str(o, "request_id"), "req_kept");
	want_truncated(o, "msg", big);
	s->log.request_id = NULL;
	free(big);
}

static void
test_long_utf8(void **state)
{
	static const char *const chars[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x92\xb8"
	};
	static const char *const comps[] = { "u", "ut", "utf", "utf8" };
	sink *s = *state;
	const tly_jv *o;
	char *big;
	size_t c, k, i, cl;

	big = malloc(12001);
	assert_non_null(big);
	/* each width of character against four alignments of the cut */
	for (c = 0; c < 3; c++) {
		cl = strlen(chars[c]);
		for (i = 0; i + cl <= 12000; i += cl)
			memcpy(big + i, chars[c], cl);
		big[i] = '\0';
		for (k = 0; k < 4; k++) {
			tly_logf(&s->log, TLY_LOG_INFO, comps[k], "%s", big);
			o = one_line(s);
			want_truncated(o, "msg", big);
			tly_logkv(&s->log, TLY_LOG_INFO, comps[k], "m", "v",
			    big, NULL);
			o = one_line(s);
			want_truncated(o, "v", big);
		}
	}
	free(big);
}

/* lines - split what was drained into lines, each valid; their count */
static size_t
lines(sink *s, const tly_jv **out, size_t max)
{
	tly_err err;
	tly_jv *root;
	char *p, *nl;
	size_t n = 0;

	for (p = s->buf; p < s->buf + s->len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(s->buf + s->len - p));
		if (nl == NULL)
			fail_msg("got a partial line at byte %ld, want whole "
			    "lines: %.100s", (long)(p - s->buf), p);
		if (nl - p + 1 > TLY_LOG_LINE_MAX + 2)
			fail_msg("line %zu: got %ld bytes, want <= %d", n,
			    (long)(nl - p + 1), TLY_LOG_LINE_MAX + 2);
		tly_err_clear(&err);
		if (tly_json_parse(s->pool, p, (size_t)(nl - p),
		    &tly_json_request_limits, &root, &err) != TLY_OK)
			fail_msg("line %zu is not valid JSON (%s)", n,
			    err.msg);
		if (n < max)
			out[n] = root;
		n++;
	}
	return n;
}

/* want_seq - lines 'v' carry "seq" first..first+n-1, in order */
static void
want_seq(const tly_jv **v, size_t n, int first)
{
	char want[16];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%d", first + (int)i);
		if (tly_json_str(v[i], "seq") == NULL ||
		    strcmp(tly_json_str(v[i], "seq"), want) != 0)
			fail_msg("line %zu: seq got %s, want %s", i,
			    tly_json_str(v[i], "seq") ?
			    tly_json_str(v[i], "seq") : "(none)", want);
	}
}

static void
test_deferred(void **state)
{
	sink *s = *state;
	const tly_jv *v[64];
	char seq[16];
	size_t n, total;
	int i;

	/* without tly_log_defer a deferred line is written at once */
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "0", NULL);
	want_str(tly_json_str(one_line(s), "seq"), "0");

	want_int(tly_log_defer(&s->log), 0);
	want_int(tly_log_defer(&s->log), 0);	/* twice is harmless */
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "1", NULL);
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "2", NULL);
	want_nothing(s, "two deferred lines");
	tly_log_flush(&s->log);
	drain(s);
	want_int(lines(s, v, 64), 2);
	want_seq(v, 2, 1);
	tly_log_flush(&s->log);
	want_nothing(s, "a second flush");

	/* a line that is not deferred goes out after the deferred ones */
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "3", NULL);
	tly_logkv(&s->log, TLY_LOG_ERROR, "db", "down", "seq", "4", NULL);
	drain(s);
	want_int(lines(s, v, 64), 2);
	want_seq(v, 2, 3);
	want_str(tly_json_str(v[1], "level"), "error");

	/* the level still filters */
	tly_logkv_deferred(&s->log, TLY_LOG_DEBUG - 1, "access", "x", NULL);
	s->log.level = TLY_LOG_WARN;
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "x", NULL);
	tly_log_flush(&s->log);
	want_nothing(s, "filtered deferred lines");
	s->log.level = TLY_LOG_DEBUG;

	/* a full buffer is written before it overflows, in whole lines */
	for (i = 0; i < 60; i++) {
		snprintf(seq, sizeof(seq), "%d", 100 + i);
		tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access",
		    "GET /some/longer/path/to/fill/the/buffer", "seq", seq,
		    "ua", "Mozilla/5.0 (X11; Linux x86_64)", NULL);
	}
	drain(s);
	total = lines(s, v, 64);
	if (total == 0 || total >= 60)
		fail_msg("before the flush: got %zu lines, want some but not "
		    "all of 60", total);
	want_seq(v, total, 100);
	tly_log_flush(&s->log);
	drain(s);
	if (s->len > PIPE_BUF)			/* what the buffer held */
		fail_msg("pending: got %zu bytes, want <= %d", s->len,
		    PIPE_BUF);
	n = lines(s, v, 64);
	want_int(total + n, 60);
	want_seq(v, n, 100 + (int)total);

	/* long (truncated) lines still go out whole */
	for (i = 0; i < 5; i++) {
		char big[5000];

		memset(big, 'q', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		snprintf(seq, sizeof(seq), "%d", 200 + i);
		tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "big",
		    "seq", seq, "v", big, NULL);
	}
	tly_log_flush(&s->log);
	drain(s);
	want_int(lines(s, v, 64), 5);
	want_seq(v, 5, 200);

	/* release flushes what is pending and frees the buffer */
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "300", NULL);
	tly_log_release(&s->log);
	want_str(tly_json_str(one_line(s), "seq"), "300");
	assert_null(s->log.defer);
	tly_logkv_deferred(&s->log, TLY_LOG_INFO, "access", "GET /", "seq",
	    "301", NULL);
	want_str(tly_json_str(one_line(s), "seq"), "301");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test_setup_teardown(test_logkv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_panic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_utf8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deferred, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

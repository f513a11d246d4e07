/*
 * fuzz_http.c - fcgi/http.c: a request as the FastCGI edge reads it
 *
 * The real fcgi/http.c runs over in-memory libfcgi streams (the public
 * FCGX_Stream with our own fill and empty procedures), so nothing in it
 * is changed for the fuzzer.  The input is:
 *   byte 0        how many bytes the body stream hands out per fill
 *                 (1..64: the read loop must join the pieces);
 *   NAME=VALUE\n  the FastCGI parameters, up to an empty line (the edge
 *                 reads REQUEST_METHOD, DOCUMENT_URI, QUERY_STRING,
 *                 CONTENT_TYPE, CONTENT_LENGTH, HTTP_COOKIE, REQUEST_ID,
 *                 …; anything else is ignored);
 *   the rest      the body.
 * The request is read (tly_req_init), its query parameters and cookies
 * looked up, its body read and parsed as JSON against a field list, and
 * answered (an error envelope when the body was refused, else a header
 * from the query and a JSON reply).  Invariants: exactly one response,
 * starting "Status: "; a second reply refused; the request id 8..64
 * safe characters; a decoded query value holds no NUL and is no longer
 * than its encoding; a read body is within max_body_bytes and, with a
 * Content-Length, exactly that long.
 */
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "config.h"
#include "ctx.h"
#include "fuzz.h"
#include "http.h"
#include "tly_str.h"

#define MAX_PARAMS	32
#define MAX_BODY	4096

static tly_config cfg;
static tly_log lg;
static tly_ctx ctx;
static int ready;

typedef struct mem_in {
	const unsigned char	*next, *end;
	size_t			 piece;
} mem_in;

static unsigned char outbuf[512];
static size_t out_total;
static char out_head[16];

/* fill - hand out the next piece of the body; closed at its end */
static void
fill(FCGX_Stream *s)
{
	mem_in *m = s->data;
	size_t n = (size_t)(m->end - m->next);

	if (n == 0) {
		s->isClosed = 1;
		return;
	}
	if (n > m->piece)
		n = m->piece;
	s->rdNext = s->stopUnget = (unsigned char *)m->next;
	s->stop = s->rdNext + n;
	m->next += n;
}

/* empty - count what was written, keep its first bytes, reuse the buffer */
static void
empty(FCGX_Stream *s, int closing)
{
	size_t n = (size_t)(s->wrNext - outbuf);

	(void)closing;
	if (out_total < sizeof(out_head) - 1) {
		size_t k = sizeof(out_head) - 1 - out_total;

		memcpy(out_head + out_total, outbuf, n < k ? n : k);
	}
	out_total += n;
	s->wrNext = outbuf;
}

/* setup - the configuration, a log to /dev/null, the context (once) */
static void
setup(void)
{
	int fd = open("/dev/null", O_WRONLY);

	FUZZ_CHECK(fd >= 0);
	tly_config_defaults(&cfg);
	cfg.max_body_bytes = MAX_BODY;
	tly_log_init(&lg, fd, TLY_LOG_FATAL, "fuzz");
	FUZZ_CHECK(tly_ctx_init(&ctx, &cfg, &lg) == TLY_OK);
	ready = 1;
}

static const tly_jfield fields[] = {
	{ "checkout_id", TLY_JF_STR | TLY_JF_REQUIRED, 64 },
	{ "amount", TLY_JF_INT, 0 },
	{ "reason", TLY_JF_STR | TLY_JF_NULL, 500 },
	{ NULL, 0, 0 }
};

/* check_query - the decoded value of 'name' against its encoding */
static void
check_query(tly_req *r, const char *name)
{
	const char *v = tly_req_query(r, name);

	if (v != NULL)
		FUZZ_CHECK(strlen(v) <= strlen(r->query));
}

/* LLVMFuzzerTestOneInput - one request through the edge */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *qnames[] = { "token", "limit", "cursor", "status",
	    "", NULL };
	char *text, *envp[MAX_PARAMS + 1], *p, *nl;
	FCGX_Stream in, out;
	FCGX_Request fr;
	const char *body, **q;
	size_t blen, n = 0, i;
	int64_t declared;
	mem_in m;
	tly_req r;
	int rc;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	text = malloc(size);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	/* the parameters: lines up to an empty one */
	body = NULL;
	for (p = text; p < text + size - 1;) {
		nl = memchr(p, '\n', (size_t)(text + size - 1 - p));
		if (nl == NULL)
			break;
		*nl = '\0';
		if (p == nl) {
			body = (const char *)data + 1 + (nl + 1 - text);
			break;
		}
		if (n < MAX_PARAMS)
			envp[n++] = p;
		p = nl + 1;
	}
	envp[n] = NULL;
	blen = 0;
	if (body)
		blen = size - 1 - (size_t)(body - ((const char *)data + 1));
	else
		body = "";

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	memset(&fr, 0, sizeof(fr));
	m.next = (const unsigned char *)body;
	m.end = m.next + blen;
	m.piece = (size_t)(data[0] % 64) + 1;
	in.isReader = 1;
	in.fillBuffProc = fill;
	in.data = &m;
	in.rdNext = in.stop = in.stopUnget = (unsigned char *)text;
	out.wrNext = outbuf;
	out.stop = outbuf + sizeof(outbuf);
	out.emptyBuffProc = empty;
	fr.in = &in;
	fr.out = &out;
	fr.envp = envp;
	out_total = 0;
	memset(out_head, 0, sizeof(out_head));

	FUZZ_CHECK(tly_req_init(&r, &fr, &ctx, TLY_POOL_API) == TLY_OK);
	FUZZ_CHECK(strlen(r.request_id) >= 8 && strlen(r.request_id) <= 64);
	for (i = 0; r.request_id[i]; i++)
		FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
		    r.request_id[i]) != NULL);
	for (q = qnames; *q; q++)
		check_query(&r, *q);
	(void)tly_req_cookie(&r, "tally_session");
	(void)tly_req_cookie(&r, "tally_csrf");
	(void)tly_req_cookie(&r, "");
	rc = tly_req_json_or_reply(&r, data[0] & 0x80 ? fields : NULL);
	if (rc == TLY_OK) {
		FUZZ_CHECK(r.body_read && r.body_len <= MAX_BODY);
		if (r.content_length &&
		    tly_parse_i64(r.content_length, &declared) == TLY_OK)
			FUZZ_CHECK((size_t)declared == r.body_len);
		FUZZ_CHECK(r.json != NULL && r.json->type == TLY_JOBJ);
		body = tly_req_query(&r, "token");
		if (body)
			(void)tly_req_header(&r, "X-Echo", body);
		FUZZ_CHECK(tly_reply(&r, 200, "application/json", "{}", 2) ==
		    TLY_OK);
	}
	FUZZ_CHECK(r.replied);
	FUZZ_CHECK(tly_reply(&r, 200, "text/plain", "x", 1) == TLY_ERR);
	empty(&out, 1);
	FUZZ_CHECK(strncmp(out_head, "Status: ", 8) == 0);
	tly_buf_free(&r.headers);
	tly_pool_reset(ctx.pool);
	free(text);
	return 0;
}

/*
 * mail_test.c - core/mail.c and tly_money_format (core/receipt.c)
 *
 * Addresses that could smuggle a header refused; the RFC 5322 date; the
 * Message-ID from the row id and the sender's domain; subjects: ASCII as
 * it is, anything else as RFC 2047 encoded words of at most 75
 * characters that decode back to the subject and never split a UTF-8
 * sequence, control characters turned into spaces, text that looks
 * like an encoded word encoded itself; quoted-printable:
 * '=', non-ASCII and trailing blanks encoded, CRLF line ends, no line
 * over 76 characters, soft breaks that decode away; a whole message;
 * money in minor units with exponents 0, 2 and 3, negative amounts and
 * the extremes of int64.
 */
#include "tly_test.h"

#include <stdio.h>

#include "mail.h"
#include "receipt.h"
#include "tly_buf.h"
#include "tly_str.h"

static void
test_addr(void **state)
{
	static const struct {
		const char	*a;
		int		 ok;
	} rows[] = {
		{ "buyer@example.com", 1 },
		{ "a.b+c@sub.example.org", 1 },
		{ "", 0 },
		{ "@example.com", 0 },
		{ "buyer@", 0 },
		{ "buyer", 0 },
		{ "a@b@c", 0 },
		{ "buyer@example.com\r\nBcc: x@y.z", 0 },
		{ "buyer @example.com", 0 },
		{ "<buyer@example.com>", 0 },
		{ "b\xc3\xa9@example.com", 0 },
		{ "a,b@example.com", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (tly_mail_addr_ok(rows[i].a) != rows[i].ok)
			fail_msg("\"%s\": got %d, want %d", rows[i].a,
			    !rows[i].ok, rows[i].ok);
	want_int(tly_mail_addr_ok(NULL), 0);
}

static void
test_date_and_id(void **state)
{
	char d[64], id[128];

	(void)state;
	want_int(tly_mail_date(d, sizeof(d), 0), TLY_OK);
	want_str(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	want_int(tly_mail_date(d, sizeof(d), 1795525745), TLY_OK);
	want_str(d, "Tue, 24 Nov 2026 13:09:05 +0000");
	want_int(tly_mail_message_id(id, sizeof(id), "msg_1",
	    "receipts@shop.example"), TLY_OK);
	want_str(id, "<msg_1@shop.example>");
	want_int(tly_mail_message_id(id, 8, "msg_1", "r@shop.example"),
	    TLY_TOO_LARGE);
}

/* b64dec - standard base64 into 'out' (NUL-terminated) */
static void
b64dec(const char *in, size_t n, char *out, size_t sz)
{
	size_t got = 0;

	if (tly_b64_decode((unsigned char *)out, sz - 1, &got, in, n, 0) !=
	    TLY_OK)
		fail_msg("bad base64 '%.*s'", (int)n, in);
	out[got] = '\0';
}

/* decode_subject - the words of a "Subject:" header joined back */
static void
decode_subject(const char *h, char *out, size_t sz)
{
	const char *p = h, *s, *e;
	char part[128];

	out[0] = '\0';
	while ((s = strstr(p, "=?UTF-8?B?")) != NULL) {
		s += 10;
		e = strstr(s, "?=");
		if (e == NULL)
			fail_msg("unterminated word in %s", h);
		b64dec(s, (size_t)(e - s), part, sizeof(part));
		if (strlen(out) + strlen(part) >= sz)
			fail_msg("subject too long");
		memcpy(out + strlen(out), part, strlen(part) + 1);
		p = e + 2;
	}
}

static void
test_subject(void **state)
{
	const char *utf = "Your receipt: Caf\xc3\xa9 poster \xe2\x9c\x93 "
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x9d"
	    "\xe3\x82\xb9\xe3\x82\xbf\xe3\x83\xbc\xe3\x83\xbb\xe9\x99\x90"
	    "\xe5\xae\x9a\xe7\x89\x88\xe3\x83\xbb\xe7\xac\xac\xe4\xba\x8c"
	    "\xe5\xbc\xbe";
	const char *p, *w;
	char dec[512];
	tly_buf b;

	(void)state;
	tly_buf_init(&b, 4096);
	want_int(tly_mail_subject(&b, "Your receipt: Poster"), TLY_OK);
	want_str(tly_buf_str(&b), "Subject: Your receipt: Poster\r\n");
	tly_buf_reset(&b);
	/* no header can be smuggled in: control characters become spaces */
	want_int(tly_mail_subject(&b, "a\r\nBcc: x@y.z"), TLY_OK);
	want_str(tly_buf_str(&b), "Subject: a  Bcc: x@y.z\r\n");
	tly_buf_reset(&b);
	/* text that looks like an encoded word is encoded itself */
	want_int(tly_mail_subject(&b, "=?UTF-8?B?QQ==?="), TLY_OK);
	want_int(strncmp(tly_buf_str(&b), "Subject: =?UTF-8?B?", 19), 0);
	decode_subject(tly_buf_str(&b), dec, sizeof(dec));
	want_str(dec, "=?UTF-8?B?QQ==?=");
	tly_buf_reset(&b);
	want_int(tly_mail_subject(&b, utf), TLY_OK);
	decode_subject(tly_buf_str(&b), dec, sizeof(dec));
	want_str(dec, utf);
	/* each word at most 75 characters, on its own folded line */
	for (p = tly_buf_str(&b); (w = strstr(p, "=?UTF-8?B?")) != NULL;
	    p = strstr(w, "?=") + 2)
		if (strstr(w, "?=") + 2 - w > 75)
			fail_msg("word longer than 75: %s", w);
	if (strstr(tly_buf_str(&b), "?=\r\n =?UTF-8?B?") == NULL)
		fail_msg("a long subject is folded: %s", tly_buf_str(&b));
	tly_buf_free(&b);
}

/* unqp - decode quoted-printable 'in' (CRLF lines) into 'out' */
static void
unqp(const char *in, char *out, size_t sz)
{
	size_t o = 0;
	unsigned v;

	for (; *in && o + 1 < sz; in++) {
		if (in[0] == '=' && in[1] == '\r' && in[2] == '\n') {
			in += 2;
		} else if (in[0] == '=') {
			if (sscanf(in + 1, "%2X", &v) != 1)
				fail_msg("bad escape at %s", in);
			out[o++] = (char)v;
			in += 2;
		} else if (in[0] == '\r' && in[1] == '\n') {
			out[o++] = '\n';
			in++;
		} else
			out[o++] = *in;
	}
	out[o] = '\0';
}

static void
test_qp(void **state)
{
	char text[600], dec[1200];
	const char *p, *e;
	tly_buf b;
	size_t i;

	(void)state;
	tly_buf_init(&b, 8192);
	want_int(tly_mail_qp(&b, "a=b caf\xc3\xa9 \nend\t\n.dot\r\nlast"),
	    TLY_OK);
	want_str(tly_buf_str(&b), "a=3Db caf=C3=A9=20\r\nend=09\r\n.dot\r\n"
	    "last\r\n");
	tly_buf_reset(&b);
	for (i = 0; i < 500; i++)
		text[i] = (char)(i % 7 == 0 ? '=' : 'a' + i % 26);
	memcpy(text + 500, "\n\xc3\xa9\n", 5);
	want_int(tly_mail_qp(&b, text), TLY_OK);
	for (p = tly_buf_str(&b); *p; p = e + 2) {
		e = strstr(p, "\r\n");
		if (e == NULL)
			fail_msg("no CRLF at the end");
		if (e - p > 76)
			fail_msg("line of %d characters", (int)(e - p));
	}
	unqp(tly_buf_str(&b), dec, sizeof(dec));
	want_str(dec, text);
	tly_buf_free(&b);
}

static void
test_render(void **state)
{
	tly_mail_msg m = { "receipts@shop.example", "buyer@example.com",
	    "Your receipt", "Line one\nLine two\n", "<msg_x@shop.example>",
	    0 };
	tly_buf b;

	(void)state;
	tly_buf_init(&b, 8192);
	want_int(tly_mail_render(&b, &m), TLY_OK);
	want_str(tly_buf_str(&b), "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
	    "From: receipts@shop.example\r\nTo: buyer@example.com\r\n"
	    "Message-ID: <msg_x@shop.example>\r\nSubject: Your receipt\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Line one\r\nLine two\r\n");
	tly_buf_reset(&b);
	m.to = "buyer@example.com\r\nBcc: all@example.com";
	want_int(tly_mail_render(&b, &m), TLY_ERR);
	tly_buf_free(&b);
}

static void
test_money(void **state)
{
	static const struct {
		int64_t		 cent;
		int		 exp;
		const char	*cur;
		const char	*want;
	} rows[] = {
		{ 2520, 2, "usd", "25.20 USD" },
		{ 5, 2, "eur", "0.05 EUR" },
		{ 0, 2, "usd", "0.00 USD" },
		{ -1205, 2, "usd", "-12.05 USD" },
		{ 2520, 0, "jpy", "2520 JPY" },
		{ 2520, 3, "kwd", "2.520 KWD" },
		{ 7, 3, "kwd", "0.007 KWD" },
		{ INT64_MAX, 2, "usd", "92233720368547758.07 USD" },
		{ INT64_MIN, 2, "usd", "-92233720368547758.08 USD" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		want_int(tly_money_format(out, sizeof(out), rows[i].cent,
		    rows[i].exp, rows[i].cur), TLY_OK);
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("%lld/%d: got \"%s\", want \"%s\"",
			    (long long)rows[i].cent, rows[i].exp, out,
			    rows[i].want);
	}
	want_int(tly_money_format(out, 6, 2520, 2, "usd"), TLY_TOO_LARGE);
	want_int(tly_money_format(out, sizeof(out), 1, -1, "usd"), TLY_ERR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_date_and_id),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_money),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

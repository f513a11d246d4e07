/*
 * mail.c - an email as bytes (see mail.h)
 *
 * Owns no table (outbox.c queues and sends).
 *
 * Headers are ASCII: an address is accepted only when it has no space,
 * control or special character (nothing can be smuggled into a header);
 * a subject with anything but printable ASCII is sent as RFC 2047
 * encoded words (=?UTF-8?B?…?=, each at most 75 characters, never
 * splitting a UTF-8 sequence, folded with CRLF SP).  The body is
 * quoted-printable (RFC 2045): lines of at most 76 characters whatever
 * the text holds, so no relay rewrites it, and line ends become CRLF.
 *
 * API:	tly_mail_addr_ok(), tly_mail_message_id(), tly_mail_date(),
 *	tly_mail_subject(), tly_mail_qp(), tly_mail_render().
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail.h"
#include "tly_err.h"
#include "tly_str.h"

/*
 * tly_mail_addr_ok - 'a' is a plain address local@domain of printable
 * ASCII without spaces or the characters that make header syntax.
 */
int
tly_mail_addr_ok(const char *a)
{
	const char *at, *p;

	if (a == NULL || strlen(a) > 254)
		return 0;
	at = strchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	for (p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("<>\",;:()[]\\", *p) != NULL)
			return 0;
	return 1;
}

/* tly_mail_message_id - "<'id'@domain of 'from'>" into 'dst' */
int
tly_mail_message_id(char *dst, size_t sz, const char *id, const char *from)
{
	const char *at = from ? strchr(from, '@') : NULL;
	int n;

	n = snprintf(dst, sz, "<%s@%s>", id, at ? at + 1 : "tally.invalid");
	return n < 0 || (size_t)n >= sz ? TLY_TOO_LARGE : TLY_OK;
}

/* tly_mail_date - RFC 5322 date of Unix time 't' in UTC */
int
tly_mail_date(char *dst, size_t sz, int64_t t)
{
	static const char *day[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	int n;

	if (gmtime_r(&tt, &tm) == NULL)
		return TLY_ERR;
	n = snprintf(dst, sz, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= sz ? TLY_TOO_LARGE : TLY_OK;
}

/* plain - 's' can go into a header as it is */
static int
plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f ||
		    (s[0] == '=' && s[1] == '?'))
			return 0;
	return 1;
}

/* chunk - bytes of 's' (at most 'max') that end on a UTF-8 boundary */
static size_t
chunk(const unsigned char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	n = max;
	while (n > 0 && (s[n] & 0xc0) == 0x80)
		n--;
	return n > 0 ? n : max;
}

/*
 * tly_mail_subject - "Subject: …" for UTF-8 'subject' into 'out', with
 * its CRLF: as it is when printable ASCII, else encoded words.  Control
 * characters become spaces.
 */
int
tly_mail_subject(tly_buf *out, const char *subject)
{
	char clean[1024], b64[128];
	const unsigned char *s;
	size_t len, n, i;
	int rc;

	len = tly_strlcpy(clean, subject, sizeof(clean));
	if (len >= sizeof(clean))
		return TLY_TOO_LARGE;
	for (i = 0; i < len; i++)
		if ((unsigned char)clean[i] < ' ')
			clean[i] = ' ';
	if (plain(clean))
		return tly_buf_addf(out, "Subject: %s\r\n", clean);
	rc = tly_buf_adds(out, "Subject:");
	s = (const unsigned char *)clean;
	/* 45 bytes -> 60 base64 characters: 72 with =?UTF-8?B? and ?= */
	while (rc == TLY_OK && len > 0) {
		n = chunk(s, len, 45);
		tly_b64_encode(b64, sizeof(b64), s, n, 0);
		rc = tly_buf_addf(out, "%s=?UTF-8?B?%s?=", (const char *)s ==
		    clean ? " " : "\r\n ", b64);
		s += n;
		len -= n;
	}
	if (rc == TLY_OK)
		rc = tly_buf_adds(out, "\r\n");
	return rc;
}

/* qp_line - one line of text (no line end), quoted-printable */
static int
qp_line(tly_buf *out, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[4];
	size_t i, col = 0, w;
	int rc = TLY_OK;

	for (i = 0; i < len && rc == TLY_OK; i++) {
		if ((s[i] >= 33 && s[i] <= 126 && s[i] != '=') ||
		    ((s[i] == ' ' || s[i] == '\t') && i + 1 < len)) {
			enc[0] = (char)s[i];
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[s[i] >> 4];
			enc[2] = hex[s[i] & 15];
			w = 3;
		}
		if (col + w > 75) {		/* room for the soft '=' */
			rc = tly_buf_adds(out, "=\r\n");
			col = 0;
		}
		if (rc == TLY_OK)
			rc = tly_buf_add(out, enc, w);
		col += w;
	}
	return rc;
}

/* tly_mail_qp - UTF-8 text 'text' quoted-printable, CRLF line ends */
int
tly_mail_qp(tly_buf *out, const char *text)
{
	const char *p = text, *nl;
	size_t len;
	int rc = TLY_OK;

	while (rc == TLY_OK && *p) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		rc = qp_line(out, (const unsigned char *)p, len);
		if (rc == TLY_OK)
			rc = tly_buf_adds(out, "\r\n");
		p = nl ? nl + 1 : p + strlen(p);
	}
	return rc;
}

/* tly_mail_render - message 'm' (headers, blank line, body) into 'out' */
int
tly_mail_render(tly_buf *out, const tly_mail_msg *m)
{
	char date[64];
	int rc;

	if (!tly_mail_addr_ok(m->from) || !tly_mail_addr_ok(m->to) ||
	    m->message_id == NULL || !plain(m->message_id) ||
	    tly_mail_date(date, sizeof(date), m->date_s) != TLY_OK)
		return TLY_ERR;
	rc = tly_buf_addf(out, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Message-ID: %s\r\n", date, m->from, m->to, m->message_id);
	if (rc == TLY_OK)
		rc = tly_mail_subject(out, m->subject);
	if (rc == TLY_OK)
		rc = tly_buf_adds(out, "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	if (rc == TLY_OK)
		rc = tly_mail_qp(out, m->body);
	return rc;
}

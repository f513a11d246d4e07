/*
 * mail.h - an email as bytes: RFC 5322 headers, RFC 2047 subjects,
 * quoted-printable UTF-8 text
 *
 * Pure functions (no I/O): the outbox's sender (outbox.c) renders each
 * queued row with tly_mail_render() and hands the bytes to libcurl, which
 * does the SMTP dialogue and the dot-stuffing.  The Message-ID is made
 * from the outbox row's id, so every attempt to send one row carries the
 * same Message-ID and a mail client shows a message sent twice (after a
 * crash in the window documented in outbox.c) once.
 */
#ifndef TLY_MAIL_H
#define TLY_MAIL_H

#include <stdint.h>

#include "tly_buf.h"

typedef struct tly_mail_msg {
	const char	*from;		/* plain addresses */
	const char	*to;
	const char	*subject;	/* UTF-8 */
	const char	*body;		/* UTF-8 plain text */
	const char	*message_id;	/* "<…@…>" */
	int64_t		 date_s;	/* Unix time */
} tly_mail_msg;

int	 tly_mail_addr_ok(const char *);
int	 tly_mail_message_id(char *, size_t, const char *, const char *);
int	 tly_mail_date(char *, size_t, int64_t);
int	 tly_mail_subject(tly_buf *, const char *);
int	 tly_mail_qp(tly_buf *, const char *);
int	 tly_mail_render(tly_buf *, const tly_mail_msg *);

#endif

/*
 * tly_err.h - result codes and error values
 *
 * Every fallible function in Tally returns a tly_rc and, when it fails,
 * fills a caller-supplied tly_err (in the manner of curl's CURLcode and
 * failf): the kind maps to an HTTP status at the edge, the code is a stable
 * machine-readable string, the message is safe to show a client.  Details
 * that must never reach a client (MariaDB messages, errno text) go to the
 * log, never into tly_err.msg.
 *
 *	if (rc) return rc;
 *
 * is the idiom.  TLY_AGAIN means "retry the transaction" (deadlock 1213,
 * lock wait timeout 1205), TLY_UNKNOWN means "an external effect may or may
 * not have happened" (Stripe 5xx, a timeout after the request was sent).
 */
#ifndef TLY_ERR_H
#define TLY_ERR_H

#include <stdarg.h>

typedef enum tly_rc {
	TLY_OK = 0,
	TLY_ERR = -1,		/* failed; see tly_err */
	TLY_AGAIN = -2,		/* transient: retry the transaction */
	TLY_CONFLICT = -3,	/* state conflict (409) */
	TLY_UNKNOWN = -4,	/* outcome of an external effect unknown */
	TLY_NOTFOUND = -5,	/* no such row / object */
	TLY_TOO_LARGE = -6,	/* a bounded buffer or limit was exceeded */
	TLY_ROW = 1		/* a row is available (tly_q_next) */
} tly_rc;

typedef enum tly_err_kind {
	TLY_EK_NONE = 0,
	TLY_EK_INVALID,		/* 400 invalid_request_error */
	TLY_EK_AUTH,		/* 401 authentication_error */
	TLY_EK_CARD,		/* 402 card_error */
	TLY_EK_FORBIDDEN,	/* 403 permission_error */
	TLY_EK_NOT_FOUND,	/* 404 invalid_request_error */
	TLY_EK_METHOD,		/* 405 invalid_request_error */
	TLY_EK_CONFLICT,	/* 409 invalid_request_error */
	TLY_EK_TOO_LARGE,	/* 413 invalid_request_error */
	TLY_EK_UNPROCESSABLE,	/* 422 invalid_request_error */
	TLY_EK_RATE,		/* 429 rate_limit_error */
	TLY_EK_INTERNAL,	/* 500 api_error */
	TLY_EK_UPSTREAM,	/* 502 api_error: Stripe unreachable */
	TLY_EK_UNAVAILABLE,	/* 503 api_error: database unavailable */
	TLY_EK_TIMEOUT		/* 504 api_error */
} tly_err_kind;

typedef struct tly_err {
	tly_err_kind	 kind;
	int		 retry_after;	/* seconds, for TLY_EK_RATE */
	int		 upstream_status;	/* Stripe's HTTP status */
	char		 upstream_type[32];	/* Stripe's error type */
	char		 code[48];	/* machine code: "resource_missing" */
	char		 param[64];	/* offending parameter, or "" */
	char		 decline_code[48];
	char		 msg[256];	/* safe to show a client */
	char		 upstream_msg[200];	/* Stripe's, for logs */
} tly_err;

void		 tly_err_clear(tly_err *);
int		 tly_err_set(tly_err *, tly_err_kind, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
int		 tly_err_param(tly_err *, tly_err_kind, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
int		 tly_err_internal(tly_err *);
int		 tly_err_status(const tly_err *);
const char	*tly_err_type(const tly_err *);
const char	*tly_rc_str(int);

#endif

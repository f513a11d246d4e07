/*
 * tly_err.c - error values and their HTTP mapping
 *
 * Owns the mapping from an error kind to an HTTP status and to the error
 * "type" of the Stripe-like envelope (docs/api.md).  Nothing here logs; the
 * caller decides what the operator sees.
 *
 * API:	tly_err_clear(), tly_err_set(), tly_err_param(),
 *	tly_err_internal(), tly_err_status(), tly_err_type(), tly_rc_str().
 */
#include <stdio.h>
#include <string.h>

#include "tly_err.h"

/* tly_err_clear - reset 'e' to "no error" */
void
tly_err_clear(tly_err *e)
{
	memset(e, 0, sizeof(*e));
}

static void
err_vset(tly_err *e, tly_err_kind kind, const char *code, const char *param,
    const char *fmt, va_list ap)
{
	e->kind = kind;
	snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

/*
 * tly_err_set - fill 'e' with 'kind', machine 'code' and a client-safe
 * message; returns TLY_ERR so that callers can "return tly_err_set(...)".
 */
int
tly_err_set(tly_err *e, tly_err_kind kind, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, kind, code, NULL, fmt, ap);
	va_end(ap);
	return TLY_ERR;
}

/* tly_err_param - like tly_err_set, naming the offending 'param' */
int
tly_err_param(tly_err *e, tly_err_kind kind, const char *code,
    const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, kind, code, param, fmt, ap);
	va_end(ap);
	return TLY_ERR;
}

/*
 * tly_err_internal - the generic 500: the detail belongs in the log, never
 * in the response.  Keeps an error already set by a deeper layer.
 */
int
tly_err_internal(tly_err *e)
{
	if (e->kind == TLY_EK_NONE)
		tly_err_set(e, TLY_EK_INTERNAL, "internal_error",
		    "An internal error occurred; it has been logged.");
	return TLY_ERR;
}

/* tly_err_status - the HTTP status for 'e' */
int
tly_err_status(const tly_err *e)
{
	switch (e->kind) {
	case TLY_EK_INVALID:		return 400;
	case TLY_EK_AUTH:		return 401;
	case TLY_EK_CARD:		return 402;
	case TLY_EK_FORBIDDEN:		return 403;
	case TLY_EK_NOT_FOUND:		return 404;
	case TLY_EK_METHOD:		return 405;
	case TLY_EK_CONFLICT:		return 409;
	case TLY_EK_TOO_LARGE:		return 413;
	case TLY_EK_UNPROCESSABLE:	return 422;
	case TLY_EK_RATE:		return 429;
	case TLY_EK_UPSTREAM:		return 502;
	case TLY_EK_UNAVAILABLE:	return 503;
	case TLY_EK_TIMEOUT:		return 504;
	case TLY_EK_NONE:
	case TLY_EK_INTERNAL:
	default:			return 500;
	}
}

/* tly_err_type - the envelope's "type" for 'e', as Stripe names them */
const char *
tly_err_type(const tly_err *e)
{
	switch (e->kind) {
	case TLY_EK_AUTH:		return "authentication_error";
	case TLY_EK_CARD:		return "card_error";
	case TLY_EK_FORBIDDEN:		return "permission_error";
	case TLY_EK_RATE:		return "rate_limit_error";
	case TLY_EK_INVALID:
	case TLY_EK_NOT_FOUND:
	case TLY_EK_METHOD:
	case TLY_EK_CONFLICT:
	case TLY_EK_TOO_LARGE:
	case TLY_EK_UNPROCESSABLE:	return "invalid_request_error";
	default:			return "api_error";
	}
}

/* tly_rc_str - a name for a tly_rc, for log lines */
const char *
tly_rc_str(int rc)
{
	switch (rc) {
	case TLY_OK:		return "ok";
	case TLY_ERR:		return "error";
	case TLY_AGAIN:		return "again";
	case TLY_CONFLICT:	return "conflict";
	case TLY_UNKNOWN:	return "unknown";
	case TLY_NOTFOUND:	return "not_found";
	case TLY_TOO_LARGE:	return "too_large";
	case TLY_ROW:		return "row";
	default:		return "?";
	}
}

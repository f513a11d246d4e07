/*
 * http.h - one FastCGI request as the edge sees it, and its response
 *
 * A tly_req lives for one request in the worker's arena.  Handlers read
 * the parsed request (method, path captures, query, JSON body, principal)
 * and answer with exactly one tly_reply_*() call; the *_or_reply helpers
 * answer the error themselves and return TLY_ERR, so a handler just
 * returns.  Every response carries X-Request-Id and Cache-Control.
 */
#ifndef TLY_HTTP_H
#define TLY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "auth.h"
#include "ctx.h"
#include "ratelimit.h"
#include "tly_buf.h"
#include "tly_json.h"

#define TLY_MAX_CAPTURES	4

typedef struct tly_route tly_route;

typedef struct tly_req {
	FCGX_Request		*fr;
	tly_ctx			*ctx;
	tly_rl			*rl;
	int			 pool;		/* which pool serves it */

	const char		*method;
	const char		*path;
	const char		*query;
	const char		*remote_addr;
	const char		*content_type;
	const char		*authorization;
	const char		*cookie;
	const char		*csrf_token;
	const char		*idempotency_key;
	const char		*stripe_signature;
	const char		*content_length;
	const char		*request_id_in;	/* nginx's REQUEST_ID */
	char			 request_id[72];

	const tly_route		*route;
	const char		*cap[TLY_MAX_CAPTURES];	/* {id} values */
	int			 ncap;

	char			*body;
	size_t			 body_len;
	int			 body_read;
	tly_jv			*json;		/* parsed body, when asked */

	tly_principal		 principal;
	/* the claimed Idempotency-Key (router.c), or NULL: effect routes
	   keep it on their row (idem.h) */
	const struct tly_idem	*idem;

	int			 status;	/* answered status */
	char			 err_code[48];	/* its error's code */
	int			 replied;
	int			 capture;	/* keep a copy of the answer */
	const char		*cap_body;
	size_t			 cap_len;
	tly_buf			 headers;	/* extra response headers */
	int64_t			 start_us;
} tly_req;

int	 tly_req_init(tly_req *, FCGX_Request *, tly_ctx *, int);
int	 tly_req_body_or_reply(tly_req *);
int	 tly_req_json_or_reply(tly_req *, const tly_jfield *);
const char *tly_req_query(tly_req *, const char *);
const char *tly_req_cookie(tly_req *, const char *);

int	 tly_reply(tly_req *, int, const char *, const char *, size_t);
int	 tly_reply_json(tly_req *, int, const tly_buf *);
int	 tly_reply_err(tly_req *, const tly_err *);
int	 tly_reply_errf(tly_req *, tly_err_kind, const char *, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
int	 tly_reply_jw(tly_req *, int, tly_jw *);
int	 tly_req_header(tly_req *, const char *, const char *);

int64_t	 tly_now_us(void);

#endif

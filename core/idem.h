/*
 * idem.h - clients' Idempotency-Key (DESIGN §5)
 *
 * A POST carrying Idempotency-Key is recorded as (principal, key) ->
 * route + SHA-256 of the body + the response.  A replay (same principal,
 * key, route and body) gets the stored response again; the same key with
 * another route or body is refused (422 idempotency_key_reused); a
 * duplicate arriving while the first still runs gets 409
 * (idempotency_key_in_use) -- unless the first has been running for over a
 * minute, when its worker is presumed dead and the duplicate takes over.
 * Responses that say "try again" (409, 429, 5xx but the final 502s) are
 * not stored, so a retry runs the request again.  Keys live 24 hours.
 */
#ifndef TLY_IDEM_H
#define TLY_IDEM_H

#include <stddef.h>

#include "ctx.h"

enum {
	TLY_IDEM_NEW = 0,
	TLY_IDEM_REPLAY,
	TLY_IDEM_IN_PROGRESS,
	TLY_IDEM_MISMATCH
};

typedef struct tly_idem {
	char		 principal[64];
	char		 key[256];
	char		 route[128];
	char		 hash[65];
	int		 state;
	int		 status;	/* REPLAY: the stored response */
	const char	*body;
	size_t		 body_len;
} tly_idem;

int	 tly_idem_key_ok(const char *);
int	 tly_idem_begin(tly_ctx *, tly_idem *, const char *, size_t, tly_err *);
int	 tly_idem_finish(tly_ctx *, const tly_idem *, int, const char *, size_t,
	    tly_err *);
int	 tly_idem_abandon(tly_ctx *, const tly_idem *, tly_err *);

#endif

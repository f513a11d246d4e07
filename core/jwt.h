/*
 * jwt.h - buyer tokens: verification (HS256, RS256) and HS256 minting
 *
 * The algorithm is a property of the configured issuer, never of the
 * token: the token's "alg" must equal it or the token is refused, which
 * closes "alg: none" and the RS256-key-as-HS256-secret confusion.  The
 * issuer is found by the token's "iss" (the only claim read before the
 * signature is checked, and only to choose the key).
 */
#ifndef TLY_JWT_H
#define TLY_JWT_H

#include <stdint.h>

#include "config.h"
#include "tly_buf.h"
#include "tly_err.h"
#include "tly_pool.h"

#define TLY_JWT_MAX	8192		/* bytes of a token we will look at */

typedef struct tly_jwt_claims {
	const tly_jwt_issuer	*issuer;
	char			 sub[256];
	char			 email[256];	/* the issuer's email claim */
	int64_t			 exp;
	int64_t			 nbf;
} tly_jwt_claims;

int	 tly_jwt_verify(const tly_config *, tly_pool *, const char *, int64_t,
	    tly_jwt_claims *, char *, size_t, tly_err *);
int	 tly_jwt_sign_hs256(const tly_jwt_issuer *, const char *,
	    const char *, int64_t, int64_t, tly_buf *);
int	 tly_jwt_looks_like(const char *);

#endif

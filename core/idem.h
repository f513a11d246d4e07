/*
 * idem.h - clients' Idempotency-Key (docs/api.md, "Idempotency-Key";
 * docs/architecture.md, "Idempotency-Key on effects")
 *
 * A POST carrying Idempotency-Key is recorded as (principal, key) ->
 * "<method> <concrete path>", the request's fingerprint (SHA-256 of
 * method, concrete path and body) and the response.  A replay (same
 * principal, key and fingerprint) gets the stored response again; the
 * same key with another path or body is refused (422
 * idempotency_key_reused); a duplicate arriving while the first still
 * runs gets 409 (idempotency_key_in_use) -- unless the first has been
 * running longer than any request can (tly_idem_takeover_s()), when its
 * worker is presumed dead and the duplicate takes over.  Responses that
 * say "try again" (409, 429, 5xx but the final 502s) are not stored, so
 * a retry runs the request again.  Keys live 24 hours: an older key is a
 * new request, and the gc job deletes it.
 *
 * A request that makes an external effect (an admin's refund, an
 * advance) also keeps the key on the effect's own row (tly_idem_row:
 * request_key and request_sha256, unique per table).  Whatever happened
 * to the stored response -- a 5xx after the row was committed, a
 * takeover, the 24 hours -- the retry finds that row and answers it: the
 * effect is made once.
 *
 * The takeover bound: the master kills a request that outlives
 * request_timeout, and one Stripe call (the client's retries included)
 * cannot outlive tries × timeout_ms plus a backoff of at most 4 s between
 * tries; a key is taken over only after
 *   max(request_timeout, (max_retries + 1) × timeout_ms + max_retries ×
 *   4 s) + 30 s
 * (the 30 s cover the database steps around the call and the watchdog's
 * tick): 122 s with the defaults.
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

#define TLY_IDEM_TTL_S		86400	/* a key lives 24 hours */
#define TLY_IDEM_MARGIN_S	30	/* see the takeover bound above */

typedef struct tly_idem {
	char		 principal[64];
	char		 key[256];
	char		 route[300];	/* "<method> <concrete path>" */
	char		 hash[65];	/* the fingerprint */
	int		 state;
	int		 status;	/* REPLAY: the stored response */
	const char	*body;
	size_t		 body_len;
} tly_idem;

/* the client's key as an effect's own row keeps it */
typedef struct tly_idem_row {
	char		 key[400];	/* "<principal>:<Idempotency-Key>" */
	char		 sha256[65];	/* the request's fingerprint */
} tly_idem_row;

int	 tly_idem_key_ok(const char *);
int	 tly_idem_takeover_s(const tly_config *);
int	 tly_idem_begin(tly_ctx *, tly_idem *, const char *, size_t, tly_err *);
int	 tly_idem_finish(tly_ctx *, const tly_idem *, int, const char *, size_t,
	    tly_err *);
int	 tly_idem_abandon(tly_ctx *, const tly_idem *, tly_err *);
void	 tly_idem_row_of(const tly_idem *, tly_idem_row *);
int	 tly_idem_row_find(tly_ctx *, const char *, const tly_idem_row *,
	    char *, size_t, tly_err *);
int	 tly_idem_prune(tly_ctx *, tly_err *);

#endif

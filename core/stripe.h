/*
 * stripe.h - the Stripe API client (libcurl + yajl)
 *
 * One client per process, one curl handle, connections kept alive.  Every
 * request carries the pinned Stripe-Version (the version of the official
 * `stripe` npm package pinned in package-lock.json: a test keeps the two
 * equal), the secret key as a Bearer token (never logged), and, for every
 * POST, the caller's Idempotency-Key (derived from Tally's own row id and
 * a key generation: "tally:pi:chk_…:g1").
 *
 * Outcomes of tly_stripe_call():
 *   TLY_OK       2xx; resp->json is the object.
 *   TLY_ERR      Stripe refused (4xx; a card decline is TLY_EK_CARD, 402),
 *                or nothing could be sent after the retries.
 *   TLY_UNKNOWN  a POST answered 5xx, or failed after it may have been
 *                sent (timeout, connection lost): Stripe may or may not
 *                have done it.  The caller records this and finishes it
 *                with tly_stripe_create_once() or a janitor (docs/stripe.md).
 * Retried here with the same key, exponential backoff and jitter: network
 * failures before anything was sent, 409 (a concurrent request with the
 * same key) and 429, unless Stripe-Should-Retry says false; a GET is
 * also retried after a 5xx or a timeout (it changes nothing).  A 5xx to a
 * POST is never retried with the same key: Stripe stores it under the key
 * and replays it for 24 hours.
 */
#ifndef TLY_STRIPE_H
#define TLY_STRIPE_H

#include <stdint.h>

#include "config.h"
#include "tly_err.h"
#include "tly_form.h"
#include "tly_json.h"
#include "tly_log.h"
#include "tly_pool.h"

/* keep equal to stripe/cjs/apiVersion.js of the pinned npm package */
#define TLY_STRIPE_API_VERSION	"2026-10-28.endive"

typedef struct tly_stripe tly_stripe;

typedef struct tly_stripe_req {
	const char	*method;	/* "GET" or "POST" */
	const char	*path;		/* "/v1/payment_intents" */
	const tly_form	*params;	/* body (POST) or query (GET) */
	const char	*idempotency_key;	/* required for POST */
	const char	*account;	/* Stripe-Account, or NULL */
} tly_stripe_req;

typedef struct tly_stripe_resp {
	int		 status;	/* HTTP status; 0 when none arrived */
	const tly_jv	*json;		/* the body, in the caller's pool */
	char		 request_id[64];
	int		 replayed;	/* Idempotent-Replayed: true */
	int		 attempts;
} tly_stripe_resp;

tly_stripe	*tly_stripe_new(const tly_config *, tly_log *);
void		 tly_stripe_free(tly_stripe *);
int		 tly_stripe_call(tly_stripe *, tly_pool *,
		    const tly_stripe_req *, tly_stripe_resp *, tly_err *);
int		 tly_stripe_fetch(tly_stripe *, tly_pool *,
		    const tly_stripe_req *, const char *, const tly_jv **,
		    tly_stripe_resp *, tly_err *);
const char	*tly_stripe_path(tly_pool *, const char *, const char *,
		    const char *);
long		 tly_stripe_connections(const tly_stripe *);
void		 tly_stripe_set_timeout(tly_stripe *, int);
int64_t		 tly_stripe_worst_ms(const tly_config *);

/* --- the objects Tally reads (pointers into the parsed JSON) ------------ */

typedef struct tly_st_pi {
	const char	*id, *status, *currency, *client_secret;
	const char	*latest_charge, *cancellation_reason, *capture_method;
	const char	*transfer_group;
	const char	*error_type, *error_code, *error_decline_code;
	const char	*error_message;		/* last_payment_error */
	int64_t		 amount_cent, amount_received_cent, created;
	const tly_jv	*metadata;
	const tly_jv	*charge;		/* expanded latest_charge */
} tly_st_pi;

typedef struct tly_st_charge {
	const char	*id, *payment_intent, *status, *currency;
	const char	*balance_transaction, *dispute, *transfer_group;
	int64_t		 amount_cent, amount_captured_cent;
	int64_t		 amount_refunded_cent;
	int		 refunded, captured, paid, disputed;
	const tly_jv	*metadata;
	const tly_jv	*balance_txn;		/* when expanded */
} tly_st_charge;

typedef struct tly_st_refund {
	const char	*id, *charge, *payment_intent, *status, *currency;
	const char	*reason, *failure_reason, *balance_transaction;
	int64_t		 amount_cent, created;
	const tly_jv	*metadata;
} tly_st_refund;

typedef struct tly_st_transfer {
	const char	*id, *currency, *destination, *transfer_group;
	const char	*source_transaction;
	int64_t		 amount_cent, amount_reversed_cent, created;
	int		 reversed;
	const tly_jv	*metadata;
} tly_st_transfer;

typedef struct tly_st_reversal {
	const char	*id, *transfer, *currency;
	int64_t		 amount_cent;
	const tly_jv	*metadata;
} tly_st_reversal;

typedef struct tly_st_account {
	const char	*id, *type, *email;
	int		 charges_enabled, payouts_enabled, details_submitted;
	const tly_jv	*currently_due;		/* array of strings */
	const tly_jv	*metadata;
} tly_st_account;

typedef struct tly_st_account_link {
	const char	*url;
	int64_t		 expires_at;
} tly_st_account_link;

typedef struct tly_st_balance_txn {
	const char	*id, *type, *currency, *source, *status;
	const char	*reporting_category;
	int64_t		 amount_cent, fee_cent, net_cent, available_on, created;
	const tly_jv	*exchange_rate;		/* a decimal, or NULL */
} tly_st_balance_txn;

typedef struct tly_st_dispute {
	const char	*id, *charge, *payment_intent, *status, *reason;
	const char	*currency;
	int64_t		 amount_cent;
	const tly_jv	*balance_transactions;	/* array of objects */
} tly_st_dispute;

typedef struct tly_st_event {
	const char	*id, *type, *api_version, *account;
	int64_t		 created;
	int		 livemode;
	const tly_jv	*object;		/* data.object */
	const tly_jv	*previous;		/* data.previous_attributes */
} tly_st_event;

typedef struct tly_st_list {
	int		 has_more;
	const tly_jv	*data;			/* array */
	size_t		 n;
} tly_st_list;

int	 tly_st_pi_parse(const tly_jv *, tly_st_pi *);
int	 tly_st_charge_parse(const tly_jv *, tly_st_charge *);
int	 tly_st_refund_parse(const tly_jv *, tly_st_refund *);
int	 tly_st_transfer_parse(const tly_jv *, tly_st_transfer *);
int	 tly_st_reversal_parse(const tly_jv *, tly_st_reversal *);
int	 tly_st_account_parse(const tly_jv *, tly_st_account *);
int	 tly_st_account_link_parse(const tly_jv *, tly_st_account_link *);
int	 tly_st_balance_txn_parse(const tly_jv *, tly_st_balance_txn *);
int	 tly_st_dispute_parse(const tly_jv *, tly_st_dispute *);
int	 tly_st_event_parse(const tly_jv *, tly_st_event *);
int	 tly_st_list_parse(const tly_jv *, tly_st_list *);
const char *tly_st_metadata(const tly_jv *, const char *);

/* --- webhook signatures --------------------------------------------- */

int	 tly_stripe_verify_signature(const char *, const char *, size_t,
	    const char (*)[128], int, int64_t, int, char *, size_t);

/* --- finishing a create whose outcome was unknown (docs/stripe.md) ------ */

typedef struct tly_stripe_once tly_stripe_once;
struct tly_stripe_once {
	const char	*path;		/* "/v1/payment_intents" */
	const char	*object;	/* "payment_intent" */
	const char	*key_base;	/* "tally:pi:chk_…" + ":gN" */
	int		 generation;	/* the generation to use now */
	const char	*account;
	/* build the parameters (the same every time) */
	int		(*params)(tly_stripe_once *, tly_form *);
	/* look the object up; TLY_OK with '*found', TLY_NOTFOUND, or fail */
	int		(*lookup)(tly_stripe_once *, tly_stripe *, tly_pool *,
			    const tly_jv **, tly_err *);
	/* persist a new generation before it is used; TLY_OK to go on */
	int		(*bump)(tly_stripe_once *, int, tly_err *);
	void		*arg;
	void		*ctx;		/* the caller's tly_ctx */
};

int	 tly_stripe_create_once(tly_stripe *, tly_pool *, tly_stripe_once *,
	    const tly_jv **, tly_stripe_resp *, tly_err *);
/* a list to page through (tly_stripe_each) */
typedef struct tly_stripe_list {
	const char	*path;			/* "/v1/refunds" */
	const char	*filter, *value;	/* "charge", "ch_…"; or NULL */
	int64_t		 since;			/* created[gte], or -1 */
	int		 pages;			/* at most, of 100 */
} tly_stripe_list;

typedef int (*tly_stripe_each_fn)(void *, const tly_jv *, int *,
    tly_err *);

int	 tly_stripe_each(tly_stripe *, tly_pool *, const tly_stripe_list *,
	    tly_stripe_each_fn, void *, tly_err *);
int	 tly_stripe_find_child(tly_stripe *, tly_pool *, const char *,
	    const char *, const char *, const char *, const char *,
	    const tly_jv **, tly_err *);
int	 tly_stripe_transfer_is(const tly_jv *, int64_t, const char *,
	    const char *);
int	 tly_stripe_transfer_reversals(tly_stripe *, tly_pool *,
	    const tly_jv *, const char *, const tly_jv **, tly_err *);
int	 tly_stripe_find_since(tly_stripe *, tly_pool *, const char *,
	    const char *, const char *, int64_t, const tly_jv **, tly_err *);

#endif

/*
 * checkout.h - a buyer starts paying for a product
 *
 * A checkout snapshots the price, the quantity and every rule of its split
 * (seller, agent, host partner, ambassador, fees) when it is created, and
 * reserves the stock in the same transaction.  Then, the three
 * steps: (1) the checkout row is committed; (2) its PaymentIntent is
 * created at Stripe with a key derived from the checkout id and a key
 * generation; (3) the PaymentIntent is recorded.  A crash or an unknown
 * outcome between the steps leaves a row the "checkouts" job finishes;
 * a PaymentIntent that cannot be recorded is cancelled, never orphaned.
 *
 * Statuses: open, requires_action, processing, payment_failed (still open:
 * the buyer may pay) -> completed | expired | canceled | failed.
 */
#ifndef TLY_CHECKOUT_H
#define TLY_CHECKOUT_H

#include <stdint.h>

#include "ctx.h"
#include "effect.h"
#include "facts.h"
#include "split.h"

typedef struct tly_checkout {
	char	 id[40];
	char	 buyer_id[40];
	char	 product_id[40];
	char	 currency[4];
	char	 status[24];
	char	 pi_id[72];
	char	 pi_state[24];
	char	 client_secret[136];
	char	 receipt_email[256];
	char	 host_slug[72];
	char	 seller_id[40];
	char	 agent_id[40];
	char	 host_id[40];
	char	 ambassador_id[40];
	char	 payment_id[40];		/* once completed */
	int64_t	 quantity;
	int64_t	 price_cent;
	int64_t	 subtotal_cent;
	int64_t	 platform_fee_cent;
	int64_t	 amount_cent;
	int64_t	 agent_bps;
	int64_t	 host_bps;
	int64_t	 ambassador_bps;
	int64_t	 stripe_fee_bps;
	int64_t	 stripe_fee_fixed_cent;
	int	 platform_bears_fee;
	int	 stock_held;
	int64_t	 pi_key_gen;
	int64_t	 pi_cancel_gen;	/* generation of the cancel key */
	int	 has_advance;	/* a payee has an open advance (lock_payees) */
	int64_t	 expires_at;
	int64_t	 created;
} tly_checkout;

/*
 * What the checkouts job needs from the operations above checkout.c: a
 * PaymentIntent found succeeded while its cancel was due is completed
 * ('paid', complete.c: tly_job_checkouts), never lost.
 */
typedef struct tly_checkout_hooks {
	int	(*paid)(tly_ctx *, const char *, const tly_pi_facts *,
		    tly_err *);
} tly_checkout_hooks;

typedef struct tly_checkout_new {
	const char	*buyer_id;
	const char	*product_id;
	int64_t		 quantity;
	const char	*host_slug;		/* NULL: none */
	const char	*receipt_email;		/* NULL: none */
} tly_checkout_new;

int	 tly_checkout_create(tly_ctx *, const tly_checkout_new *,
	    tly_checkout *, tly_err *);
int	 tly_checkout_get(tly_ctx *, const char *, const char *, tly_checkout *,
	    tly_err *);
int	 tly_checkout_read(tly_ctx *, const char *, tly_checkout *, tly_err *);
int	 tly_checkout_lock(tly_ctx *, const char *, tly_checkout *, tly_err *);
int	 tly_checkout_release(tly_ctx *, const char *, const char *,
	    tly_err *);
int	 tly_checkout_lock_payees(tly_ctx *, const char *, tly_checkout *,
	    tly_err *);
void	 tly_checkout_split_in(const tly_checkout *, tly_split_in *);
int	 tly_checkout_note_status(tly_ctx *, const char *, const char *,
	    int64_t, tly_err *);
int	 tly_checkout_finish_pi(tly_ctx *, const char *, tly_err *);
int	 tly_checkout_cancel_pi(tly_ctx *, const char *, tly_err *);
int	 tly_checkout_job(tly_ctx *, tly_checkout_hooks *, tly_err *);
int	 tly_checkout_is_open(const char *);
int	 tly_checkout_stock_taken(tly_ctx *, const char *, tly_err *);
int	 tly_checkout_completed(tly_ctx *, const char *, const char *,
	    tly_err *);

extern const tly_effect_kind tly_checkout_pi_effect;
extern const tly_effect_kind tly_checkout_cancel_effect;

#endif

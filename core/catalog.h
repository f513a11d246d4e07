/*
 * catalog.h - who can be paid, and what can be bought
 *
 * Accounts (acc_…) of every stakeholder kind, the talent -> ambassador
 * links, host partners by slug, and products (prod_…) with their price,
 * currency, seller, agent and platform-fee policy.  Validation lives
 * here, so the API and tallyctl refuse the same things with the same
 * words: unknown currency (400), amounts or rates out of range (400),
 * unknown accounts (404 naming the parameter), wrong account kind (422),
 * and a product whose fee rules would leave a share negative (422).
 */
#ifndef TLY_CATALOG_H
#define TLY_CATALOG_H

#include <stdint.h>

#include "admin.h"
#include "principal.h"
#include "ctx.h"

#define TLY_ACCOUNT_KINDS \
	"talent, agent, ambassador, host_partner, buyer, platform, stripe_fee"

typedef struct tly_account {
	char	 id[40];
	char	 kind[16];
	char	 email[256];
	char	 display_name[208];
	char	 connect_account_id[72];
	int64_t	 payout_threshold_cent;		/* -1: the currency's default */
	int	 charges_enabled;
	int	 payouts_enabled;
	int64_t	 created;
	/* a talent's ambassador link, if any */
	char	 ambassador_id[40];
	int64_t	 ambassador_bps;
	int64_t	 ambassador_from;
	int64_t	 ambassador_until;		/* 0: open-ended */
} tly_account;

typedef struct tly_account_new {
	const char	*kind;
	const char	*email;
	const char	*display_name;
	int64_t		 payout_threshold_cent;	/* -1: default */
} tly_account_new;

typedef struct tly_product {
	char	 id[40];
	char	 name[208];
	char	 seller_id[40];
	char	 agent_id[40];			/* "" without an agent */
	int64_t	 agent_bps;
	int64_t	 price_cent;
	char	 currency[4];
	int64_t	 fee_fixed_cent;		/* -1: the fee is in bps */
	int64_t	 fee_bps;			/* -1: the fee is fixed */
	int64_t	 stock;				/* -1: unlimited */
	int	 active;
	int64_t	 created;
} tly_product;

/* a product to create, or the fields to change (has_* marks a change) */
typedef struct tly_product_in {
	const char	*name;
	const char	*seller_id;
	const char	*agent_id;		/* NULL: none */
	int64_t		 agent_bps;
	int64_t		 price_cent;
	const char	*currency;
	int64_t		 fee_fixed_cent;	/* -1: not given */
	int64_t		 fee_bps;		/* -1: not given */
	int64_t		 stock;			/* -1: unlimited */
	int		 active;
	unsigned	 has;			/* TLY_PF_* for updates */
} tly_product_in;

enum {
	TLY_PF_NAME = 1 << 0,
	TLY_PF_AGENT = 1 << 1,
	TLY_PF_PRICE = 1 << 2,
	TLY_PF_FEE = 1 << 3,
	TLY_PF_STOCK = 1 << 4,
	TLY_PF_ACTIVE = 1 << 5
};

int	 tly_account_create(tly_ctx *, const tly_principal *,
	    const tly_account_new *, tly_account *, tly_err *);
int	 tly_account_get(tly_ctx *, const char *, tly_account *, tly_err *);
int	 tly_account_threshold_set(tly_ctx *, const tly_principal *,
	    const char *, int64_t, tly_err *);
int	 tly_accounts_list(tly_ctx *, const tly_page *, const char *,
	    tly_account **, int *, int *, tly_err *);
int	 tly_ambassador_link_set(tly_ctx *, const tly_principal *,
	    const char *, const char *, int64_t, int64_t, int64_t, tly_err *);
int	 tly_host_partner_create(tly_ctx *, const tly_principal *,
	    const char *, const char *, int64_t, tly_err *);

int	 tly_product_create(tly_ctx *, const tly_principal *,
	    const tly_product_in *, tly_product *, tly_err *);
int	 tly_product_get(tly_ctx *, const char *, tly_product *, tly_err *);
int	 tly_product_lock(tly_ctx *, const char *, tly_product *, tly_err *);
int	 tly_product_reserve(tly_ctx *, const char *, int64_t, tly_err *);
int	 tly_product_take(tly_ctx *, const char *, int64_t, int *, tly_err *);
int	 tly_product_give_back(tly_ctx *, const char *, int64_t, tly_err *);
int	 tly_product_update(tly_ctx *, const tly_principal *, const char *,
	    const tly_product_in *, tly_product *, tly_err *);
int	 tly_products_list(tly_ctx *, const tly_page *, tly_product **, int *,
	    int *, tly_err *);
int	 tly_products_list_active(tly_ctx *, const tly_page *, tly_product **,
	    int *, int *, tly_err *);

/* what an account.updated says (connect.c) */
typedef struct tly_account_connect {
	int		 charges_enabled;
	int		 payouts_enabled;
	const char	*due;		/* requirements, comma-separated */
	int64_t		 created;	/* the event's, unix seconds */
} tly_account_connect;

int	 tly_account_buyer_insert(tly_ctx *, const char *, const char *,
	    tly_err *);
int	 tly_account_connect_requested(tly_ctx *, const tly_principal *,
	    const char *, tly_err *);
int	 tly_account_connect_created(tly_ctx *, const char *, const char *,
	    const char *, tly_err *);
int	 tly_account_connect_retry(tly_ctx *, const char *, tly_err *);
int	 tly_account_connect_state(tly_ctx *, const char *,
	    const tly_account_connect *, uint64_t *, tly_err *);
int	 tly_account_payout_flag(tly_ctx *, const char *, tly_err *);
int	 tly_account_payout_ok(tly_ctx *, const char *, tly_err *);
int	 tly_account_payout_failed(tly_ctx *, const char *, int64_t,
	    tly_err *);
int	 tly_account_payout_retry_now(tly_ctx *, const char *, tly_err *);

#endif

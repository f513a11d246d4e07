/*
 * principal.h - who acts: the kinds of caller, admin roles, a principal
 * (see principal.c; auth.h authenticates them, audit.h records them)
 */
#ifndef TLY_PRINCIPAL_H
#define TLY_PRINCIPAL_H

enum {
	TLY_PK_NONE = 0,
	TLY_PK_BUYER = 1 << 0,
	TLY_PK_SERVER = 1 << 1,
	TLY_PK_ADMIN = 1 << 2,
	TLY_PK_STRIPE = 1 << 3,		/* a verified Stripe webhook */
	TLY_PK_PUBLIC = 1 << 4,		/* no credentials needed */
	TLY_PK_OPERATOR = 1 << 5	/* tallyctl (a unix user): no route */
};

enum {
	TLY_ROLE_NONE = 0,
	TLY_ROLE_VIEWER,
	TLY_ROLE_SUPPORT,
	TLY_ROLE_FINANCE,
	TLY_ROLE_ADMIN
};

typedef struct tly_principal {
	int	 kind;
	int	 role;			/* admin */
	char	 id[40];		/* account, key or admin user id */
	char	 name[72];		/* key name or admin username */
	char	 sub[256];		/* buyer: the token's subject */
	char	 email[256];		/* buyer: from the token, if any */
	char	 csrf[64];		/* admin: the session's CSRF token */
} tly_principal;

const char	*tly_principal_kind_name(int);

#endif

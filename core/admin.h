/*
 * admin.h - what the admin API lists: admin users, API keys (the audit
 * log: audit.h)
 *
 * Lists are cursor-paginated like Stripe's: newest first, at most 'limit'
 * rows (1..100, default 10) after the cursor 'starting_after' (an id from
 * a previous page), and 'has_more' when another page exists.  Rows are
 * allocated in the context's arena.
 */
#ifndef TLY_ADMIN_H
#define TLY_ADMIN_H

#include <stdint.h>

#include "ctx.h"
#include "audit.h"
#include "tly_page.h"

typedef struct tly_admin_user_row {
	char	 id[40];
	char	 username[72];
	char	 role[16];
	int64_t	 disabled;
	int64_t	 created;
} tly_admin_user_row;

typedef struct tly_api_key_row {
	char	 id[40];
	char	 name[104];
	char	 prefix[16];
	char	 created_by[64];
	int64_t	 created;
	int64_t	 revoked;		/* unix seconds, 0 = active */
} tly_api_key_row;

int	 tly_admin_users_list(tly_ctx *, const tly_page *,
	    tly_admin_user_row **, int *, int *, tly_err *);
int	 tly_api_keys_list(tly_ctx *, const tly_page *, tly_api_key_row **,
	    int *, int *, tly_err *);

#endif

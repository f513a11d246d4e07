/*
 * audit.h - the audit log: who did what to which object, and when
 *
 * Every change made by an admin, a server key or an operator (tallyctl),
 * and every money movement, appends one row, written inside the core
 * transaction of the change it records: the row exists if and only if
 * the change committed.  Edges never write it.  Actors are principals
 * (principal.h); NULL is the system itself (a job, a webhook).
 */
#ifndef TLY_AUDIT_H
#define TLY_AUDIT_H

#include <stdint.h>

#include "ctx.h"
#include "principal.h"
#include "tly_page.h"

typedef struct tly_audit_row {
	int64_t	 id;
	int64_t	 at;
	char	 actor_kind[16];
	char	 actor_id[64];
	char	 action[64];
	char	 object_id[64];
	char	 detail[1024];
	char	 request_id[72];
} tly_audit_row;

/* the audit list's filters: NULL (or 0) is "any" */
typedef struct tly_audit_filter {
	const char	*actor;		/* actor_id: an admin or key id */
	const char	*action;	/* exact: "refund.create" */
	const char	*object;	/* object_id */
	int64_t		 created_gte;	/* unix seconds */
	int64_t		 created_lte;
} tly_audit_filter;

int	 tly_audit(tly_ctx *, const tly_principal *, const char *,
	    const char *, const char *, tly_err *);
int	 tly_audit_system(tly_ctx *, const char *, const char *,
	    const char *, const char *, tly_err *);
void	 tly_audit_operator(tly_principal *);
int	 tly_audit_list(tly_ctx *, const tly_audit_filter *, const tly_page *,
	    tly_audit_row **, int *, int *, tly_err *);

#endif

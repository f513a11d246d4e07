/*
 * router.h - the route table and the request pipeline
 *
 * A route is method + path pattern ("/api/v1/products/{id}") + the pools
 * that serve it + the principal kinds allowed + (admin) the minimum role
 * + the handler.  tly_dispatch() runs the whole pipeline for a request:
 * match (404, 405 with Allow), authenticate (401), authorise (403, CSRF
 * for state-changing admin requests), rate-limit (429), then the handler.
 */
#ifndef TLY_ROUTER_H
#define TLY_ROUTER_H

#include "http.h"

#define TLY_POOLS_API		(1 << TLY_POOL_API)
#define TLY_POOLS_WEBHOOK	(1 << TLY_POOL_WEBHOOK)
#define TLY_POOLS_ADMIN		(1 << TLY_POOL_ADMIN)

typedef int (*tly_handler)(tly_req *);

struct tly_route {
	const char	*method;
	const char	*pattern;
	int		 pools;
	int		 principals;	/* TLY_PK_* */
	int		 min_role;	/* TLY_ROLE_*, admin routes */
	tly_handler	 fn;
	int		 admin_idem;	/* an admin POST that honours
					   Idempotency-Key (money moves; never
					   an answer holding a secret) */
};

extern const tly_route tly_routes[];

int	 tly_dispatch(tly_req *);

#endif

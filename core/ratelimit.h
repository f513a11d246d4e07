/*
 * ratelimit.h - per-principal token buckets shared by a host's workers
 *
 * The master maps one shared anonymous region before it forks, so every
 * worker of every pool on the host draws from the same buckets.  Limits
 * are therefore per tallyd host (like nginx's limit_req); they protect
 * capacity, and nothing about money depends on them (docs/architecture.md).
 * A worker killed while holding a bucket's lock cannot wedge it: a waiter
 * that finds the owner dead takes the lock over.
 */
#ifndef TLY_RATELIMIT_H
#define TLY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct tly_rl tly_rl;

tly_rl	*tly_rl_new(size_t);
void	 tly_rl_free(tly_rl *);
int	 tly_rl_take(tly_rl *, const char *, const tly_rate_conf *, int64_t,
	    int *);

#endif

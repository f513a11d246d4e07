/*
 * tly_pool.h - per-request memory arena with cleanup handlers
 *
 * A worker makes one pool and resets it after each request it accepts,
 * in the manner of nginx's ngx_pool_t: allocations
 * are never freed one by one, and resources that are not memory (MYSQL_RES,
 * curl slists, yajl handles) register a cleanup that runs at reset.
 * Allocation failure is fatal to the request, never silent: tly_palloc
 * returns NULL and the caller fails with TLY_ERR.
 */
#ifndef TLY_POOL_H
#define TLY_POOL_H

#include <stddef.h>

typedef struct tly_pool tly_pool;
typedef void (*tly_cleanup_fn)(void *);

tly_pool	*tly_pool_new(size_t);
void		 tly_pool_reset(tly_pool *);
void		 tly_pool_free(tly_pool *);
void		*tly_palloc(tly_pool *, size_t);
void		*tly_pcalloc(tly_pool *, size_t);
char		*tly_pstrdup(tly_pool *, const char *);
char		*tly_pstrndup(tly_pool *, const char *, size_t);
char		*tly_psprintf(tly_pool *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 tly_pool_cleanup(tly_pool *, tly_cleanup_fn, void *);
size_t		 tly_pool_used(const tly_pool *);

/* test hook (TALLY_FAULTS alloc:N, core/ctx.c): non-zero fails this one */
extern int	(*tly_alloc_fault)(void);
#define TLY_ALLOC_FAILS()	(tly_alloc_fault != NULL && tly_alloc_fault())

#endif

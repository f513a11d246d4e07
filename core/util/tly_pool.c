/*
 * tly_pool.c - per-request memory arena
 *
 * Owns a chain of blocks.  The first block is kept across resets so that a
 * steady-state request allocates nothing from malloc; larger requests add
 * blocks that reset frees.  Allocations are aligned for any object type.
 * Cleanups run in reverse order of registration at reset and free.
 *
 * API:	tly_pool_new(), tly_palloc(), tly_pcalloc(), tly_pstrdup(),
 *	tly_psprintf(), tly_pool_cleanup(), tly_pool_reset(), tly_pool_free().
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tly_err.h"
#include "tly_pool.h"

#define POOL_ALIGN	alignof(max_align_t)

int (*tly_alloc_fault)(void);		/* tly_pool.h */

typedef struct pool_block {
	struct pool_block	*next;
	size_t			 size;	/* usable bytes after the header */
	size_t			 used;
} pool_block;

typedef struct pool_cleanup {
	struct pool_cleanup	*next;
	tly_cleanup_fn		 fn;
	void			*arg;
} pool_cleanup;

struct tly_pool {
	pool_block	*first;		/* kept across resets */
	pool_block	*cur;
	pool_cleanup	*cleanups;
	size_t		 block_size;
	size_t		 total;		/* bytes handed out since reset */
};

static size_t
align_up(size_t n)
{
	return (n + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
}

static pool_block *
block_new(size_t size)
{
	pool_block *b;

	b = malloc(align_up(sizeof(*b)) + size);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

static void *
block_data(pool_block *b)
{
	return (char *)b + align_up(sizeof(*b));
}

/* tly_pool_new - a pool whose blocks hold 'block_size' bytes; NULL if OOM */
tly_pool *
tly_pool_new(size_t block_size)
{
	tly_pool *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->block_size = block_size < 1024 ? 1024 : block_size;
	p->first = block_new(p->block_size);
	if (p->first == NULL) {
		free(p);
		return NULL;
	}
	p->cur = p->first;
	return p;
}

static void
run_cleanups(tly_pool *p)
{
	pool_cleanup *c;

	while (p->cleanups) {
		c = p->cleanups;
		p->cleanups = c->next;	/* a cleanup may not add cleanups */
		c->fn(c->arg);
	}
}

/* tly_pool_reset - run cleanups, free extra blocks, keep the first */
void
tly_pool_reset(tly_pool *p)
{
	pool_block *b, *next;

	run_cleanups(p);
	for (b = p->first->next; b; b = next) {
		next = b->next;
		free(b);
	}
	p->first->next = NULL;
	p->first->used = 0;
	p->cur = p->first;
	p->total = 0;
}

/* tly_pool_free - reset and release everything; NULL is a no-op */
void
tly_pool_free(tly_pool *p)
{
	if (p == NULL)
		return;
	tly_pool_reset(p);
	free(p->first);
	free(p);
}

/* tly_palloc - 'n' bytes, aligned, valid until reset; NULL if OOM */
void *
tly_palloc(tly_pool *p, size_t n)
{
	pool_block *b;
	size_t need;
	void *r;

	need = align_up(n ? n : 1);
	if (need < n || TLY_ALLOC_FAILS())
		return NULL;		/* overflow, or a fault injected */
	b = p->cur;
	if (b->size - b->used < need) {
		b = block_new(need > p->block_size ? need : p->block_size);
		if (b == NULL)
			return NULL;
		b->next = p->cur->next;
		p->cur->next = b;
		p->cur = b;
	}
	r = (char *)block_data(b) + b->used;
	b->used += need;
	p->total += need;
	return r;
}

/* tly_pcalloc - like tly_palloc, zeroed */
void *
tly_pcalloc(tly_pool *p, size_t n)
{
	void *r;

	r = tly_palloc(p, n);
	if (r)
		memset(r, 0, n);
	return r;
}

/* tly_pstrndup - copy of 'n' bytes of 's' plus a NUL */
char *
tly_pstrndup(tly_pool *p, const char *s, size_t n)
{
	char *r;

	r = tly_palloc(p, n + 1);
	if (r == NULL)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* tly_pstrdup - copy of 's'; NULL in, NULL out */
char *
tly_pstrdup(tly_pool *p, const char *s)
{
	if (s == NULL)
		return NULL;
	return tly_pstrndup(p, s, strlen(s));
}

/* tly_psprintf - formatted string in the pool */
char *
tly_psprintf(tly_pool *p, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	r = tly_palloc(p, (size_t)n + 1);
	if (r == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(r, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return r;
}

/* tly_pool_cleanup - run 'fn(arg)' at the next reset or free */
int
tly_pool_cleanup(tly_pool *p, tly_cleanup_fn fn, void *arg)
{
	pool_cleanup *c;

	c = tly_palloc(p, sizeof(*c));
	if (c == NULL)
		return TLY_ERR;
	c->fn = fn;
	c->arg = arg;
	c->next = p->cleanups;
	p->cleanups = c;
	return TLY_OK;
}

/* tly_pool_used - bytes handed out since the last reset */
size_t
tly_pool_used(const tly_pool *p)
{
	return p->total;
}

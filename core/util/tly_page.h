/*
 * tly_page.h - a page of a list: cursor pagination (docs/api.md)
 *
 * Every list in Tally is ordered by its primary key, newest first (ids
 * are time-ordered under a binary collation), and read a page at a time:
 * 'limit' rows after the id 'starting_after'.  The edge fills a tly_page
 * from the query string; the core module that owns the table checks it
 * with tly_page_check() and binds tly_page_cursor() as the upper bound.
 */
#ifndef TLY_PAGE_H
#define TLY_PAGE_H

#include "tly_err.h"

#define TLY_PAGE_DEFAULT	10
#define TLY_PAGE_MAX		100

typedef struct tly_page {
	int		 limit;		/* 0: TLY_PAGE_DEFAULT */
	const char	*starting_after;	/* an id, or NULL */
} tly_page;

int		 tly_page_check(tly_page *, tly_err *);
const char	*tly_page_cursor(const tly_page *);

#endif

/*
 * tly_page.c - a page of a list (see tly_page.h)
 *
 * Pure: no database, no FastCGI.  A cursor is an object id (letters,
 * digits and '_', at most 40 characters); anything else is refused before
 * it reaches a query.
 *
 * API:	tly_page_check(), tly_page_cursor().
 */
#include <stddef.h>

#include "tly_page.h"

/* tly_page_check - validate 'p' and give it its default limit */
int
tly_page_check(tly_page *p, tly_err *err)
{
	const char *s;

	if (p->limit == 0)
		p->limit = TLY_PAGE_DEFAULT;
	if (p->limit < 1 || p->limit > TLY_PAGE_MAX)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "limit", "limit must be between 1 and %d.", TLY_PAGE_MAX);
	if (p->starting_after == NULL)
		return TLY_OK;
	for (s = p->starting_after; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || *s == '_'))
			break;
	if (*s || s == p->starting_after || s - p->starting_after > 40)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "starting_after", "starting_after must be an object id.");
	return TLY_OK;
}

/*
 * tly_page_cursor - the upper bound of page 'p': its cursor, or "~",
 * which sorts after every id, when it has none
 */
const char *
tly_page_cursor(const tly_page *p)
{
	return p->starting_after ? p->starting_after : "~";
}

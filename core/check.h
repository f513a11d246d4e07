/*
 * check.h - the ledger's invariants, checked over the whole database
 *
 * tly_checks[] is a table: each entry names an invariant, says what it
 * is, and holds one SELECT that returns the rows violating it, with
 * columns labelled by 'cols' (ids first, then expected and actual
 * values) so a report line says precisely what is wrong.  `tallyctl
 * check` runs them all (or those named) and prints one line per
 * violation.  A new invariant is a new entry: append it in check.c.
 *
 * The checks read without locks (consistent reads): run them on a quiet
 * system, or accept that a row caught between two commits of one
 * operation is reported and gone on the next run.
 */
#ifndef TLY_CHECK_H
#define TLY_CHECK_H

#include <stdint.h>

#include "ctx.h"

typedef struct tly_check {
	const char	*name;
	const char	*what;
	const char	*cols;		/* labels of the columns, by spaces */
	const char	*sql;		/* the violating rows */
} tly_check;

/* one violation of 'c', as "label=value label=value …" */
typedef void (*tly_check_fn)(void *, const tly_check *, const char *);

extern const tly_check tly_checks[];

const tly_check	*tly_check_find(const char *);
int		 tly_check_run(tly_ctx *, const tly_check *, tly_check_fn,
		    void *, int64_t *, tly_err *);

#endif

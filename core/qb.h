/*
 * qb.h - the admin reads' query builder: a statement built as text with
 * its parameters in order, run into a tly_rset (rows of named, typed
 * columns) allocated in the request's pool
 *
 * Used by report.c (the lists and details) and report_daily.c (the
 * dashboard and its rollup).  Reads only: what a built statement writes
 * is its caller's business (checksrc's one writer per table looks at the
 * caller's SQL text).
 */
#ifndef TLY_QB_H
#define TLY_QB_H

#include <stdint.h>

#include "ctx.h"
#include "tly_buf.h"
#include "tly_page.h"

#define TLY_RT_STR	0
#define TLY_RT_INT	1
#define TLY_RT_BOOL	2

typedef struct tly_rcol {
	const char	*name;
	int		 type;		/* TLY_RT_* */
} tly_rcol;

/* rows of one list: cell (row, col) at [row * ncols + col] */
typedef struct tly_rset {
	const char	*object;	/* each row's "object" */
	const tly_rcol	*cols;
	int		 ncols;
	int		 nrows;
	int		 more;		/* has_more */
	char		**s;		/* text cells, NULL when NULL */
	int64_t		*i;		/* integer and boolean cells */
	unsigned char	*null;
} tly_rset;

#define TLY_QB_MAXP	128

/* a statement being built: SQL text and its parameters in order */
typedef struct tly_qb {
	tly_buf		 sql;
	int		 n;
	int		 isint[TLY_QB_MAXP];
	const char	*s[TLY_QB_MAXP];
	int64_t		 i[TLY_QB_MAXP];
} tly_qb;

void	 tly_qb_init(tly_qb *, const char *);
void	 tly_qb_add(tly_qb *, const char *);
void	 tly_qb_s(tly_qb *, const char *);
void	 tly_qb_i(tly_qb *, int64_t);
int	 tly_qb_rset(tly_ctx *, tly_rset *, const char *, const tly_rcol *,
	    int, int, tly_err *);
int	 tly_qb_run(tly_ctx *, tly_qb *, const char *, const tly_rcol *, int,
	    int, tly_rset *, tly_err *);
int	 tly_qb_exec(tly_ctx *, tly_qb *, tly_err *);
int	 tly_qb_limit(const tly_page *);

#endif

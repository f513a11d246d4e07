/*
 * dbtest.h - shared set-up of the database tests (tests/db/)
 *
 * Each test program gets its own database on the MariaDB named by
 * TALLY_TEST_DB_SOCKET (user TALLY_TEST_DB_USER, unix_socket auth), with
 * the migrations of TALLY_SRCDIR/schema applied.  Without that variable
 * the program exits 77, which automake reports as SKIP.
 */
#ifndef TLY_DBTEST_H
#define TLY_DBTEST_H

#include "config.h"
#include "ctx.h"

#define DBTEST_SKIP	77

int	 dbtest_setup(tly_config *, const char *);
void	 dbtest_teardown(tly_config *);
int	 dbtest_ctx(tly_ctx *, tly_config *, tly_log *);
int	 dbtest_exec(tly_config *, const char *);
int64_t	 dbtest_i64(tly_config *, const char *);

#endif

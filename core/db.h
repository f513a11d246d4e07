/*
 * db.h - one MariaDB connection, its prepared statements, and queries
 *
 * A tly_db is owned by one process (a worker, a job, tallyctl) and is
 * never shared across fork: each child opens its own after fork.  The
 * connection never reconnects by itself (MYSQL_OPT_RECONNECT is off): a
 * lost connection marks the handle broken, the current transaction fails,
 * and the next statement issued *outside* a transaction reconnects and
 * re-prepares.  See tx.h for the transaction helper built on this.
 *
 * Query API, for statements with up to TLY_Q_MAXP parameters:
 *
 *	tly_q q;
 *	if (tly_q_prep(db, &q, "SELECT id, n FROM t WHERE k = ?", err))
 *		return TLY_ERR;
 *	tly_q_str(&q, key);
 *	(void)tly_q_exec(&q);		(failures stick to q)
 *	while ((rc = tly_q_next(&q)) == TLY_ROW)
 *		use(tly_q_col_str(&q, 0), tly_q_col_i64(&q, 1));
 *	tly_q_done(&q);			(rc: TLY_OK at the end, or the failure)
 *
 * and the one-line forms tly_db_exec() / tly_db_row() whose format says
 * what the arguments are: "is" = int64_t, const char * (NULL binds SQL
 * NULL); after a '>' come results: 'i' int64_t *, 's' char *, size_t,
 * 'n' int64_t *, int * (nullable integer).
 *
 * Deferred writes: inside a transaction, tly_q_later() (instead of
 * tly_q_exec) and tly_db_later() (instead of tly_db_exec) queue a
 * statement whose result nobody reads; the queue runs in one round trip
 * before the next statement executed, or together with the COMMIT, and
 * its first failure is returned by that statement or by the commit.  A
 * transaction of N such writes costs one round trip for all of them.
 * START TRANSACTION itself is queued that way (tly_db_begin), and
 * tly_q_exec_text() runs a statement that returns rows as text with the
 * queue, in the same round trip: a transaction's first locking read and
 * the writes queued before it cost one round trip together.
 *
 * Errors: deadlock (1213) and lock wait timeout (1205) return TLY_AGAIN;
 * a duplicate key (1062) returns TLY_CONFLICT; a lost connection returns
 * TLY_ERR with tly_db_lost() true; anything else TLY_ERR.  The MariaDB
 * message goes to the log; the tly_err says only "internal error".
 */
#ifndef TLY_DB_H
#define TLY_DB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tly_err.h"
#include "tly_log.h"

#define TLY_Q_MAXP	64

typedef struct tly_db tly_db;
typedef struct db_stmt db_stmt;

typedef struct tly_q {
	tly_db		*db;
	db_stmt		*st;
	tly_err		*err;
	int		 np;		/* parameters bound so far */
	int		 rc;		/* sticky */
	int		 stored;	/* a result set is buffered */
	void		*res;		/* tly_q_exec_text's result set */
	char		**row;		/* its current row */
	unsigned long	*lens;
} tly_q;

tly_db		*tly_db_new(const tly_config *, tly_log *);
void		 tly_db_free(tly_db *);
int		 tly_db_connect(tly_db *, tly_err *);
void		 tly_db_disconnect(tly_db *);
int		 tly_db_lost(const tly_db *);
int		 tly_db_in_tx(const tly_db *);
unsigned long	 tly_db_thread_id(const tly_db *);
int		 tly_db_ping(tly_db *, tly_err *);
int		 tly_db_begin(tly_db *, tly_err *);
int		 tly_db_commit(tly_db *, tly_err *);
void		 tly_db_rollback(tly_db *);
int		 tly_db_simple(tly_db *, const char *, tly_err *);
int		 tly_db_last_errno(const tly_db *);
void		 tly_db_set_log(tly_db *, tly_log *);

int		 tly_q_prep(tly_db *, tly_q *, const char *, tly_err *);
void		 tly_q_i64(tly_q *, int64_t);
void		 tly_q_str(tly_q *, const char *);
void		 tly_q_strn(tly_q *, const char *, size_t);
void		 tly_q_null(tly_q *);
int		 tly_q_exec(tly_q *);
int		 tly_q_later(tly_q *);
int		 tly_q_exec_text(tly_q *);
int		 tly_q_next(tly_q *);
int		 tly_q_ncols(const tly_q *);
int		 tly_q_col_null(const tly_q *, int);
int64_t		 tly_q_col_i64(const tly_q *, int);
const char	*tly_q_col_str(const tly_q *, int);
void		 tly_q_col_copy(const tly_q *, int, char *, size_t);
size_t		 tly_q_col_len(const tly_q *, int);
uint64_t	 tly_q_affected(const tly_q *);
uint64_t	 tly_q_insert_id(const tly_q *);
void		 tly_q_done(tly_q *);

int		 tly_db_exec(tly_db *, tly_err *, uint64_t *, const char *,
		    const char *, ...);
int		 tly_db_later(tly_db *, tly_err *, const char *, const char *,
		    ...);
int		 tly_db_row(tly_db *, tly_err *, const char *, const char *,
		    ...);
int		 tly_db_ids(tly_db *, tly_err *, const char *, char *, size_t,
		    int, int *);
int		 tly_db_prune(tly_db *, const char *, tly_err *);

#endif

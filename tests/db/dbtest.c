/*
 * dbtest.c - shared set-up of the database tests
 *
 * Creates database "<name>_<pid>" through an administrative connection,
 * points a tly_config at it, applies the migrations, and drops it at the
 * end.  dbtest_exec/dbtest_i64 run statements on a separate connection of
 * their own, so a test can look at the database "from outside" the
 * connection under test (and kill it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbtest.h"
#include "migrate.h"
#include "tly_str.h"

static tly_db	*side;		/* the outside connection */
static tly_log	 side_log;

/* dbtest_setup - a fresh migrated database for program 'name' */
int
dbtest_setup(tly_config *c, const char *name)
{
	const char *sock, *user, *src;
	char sql[256], dir[512];
	tly_migrate_result res;
	tly_err e;

	sock = getenv("TALLY_TEST_DB_SOCKET");
	user = getenv("TALLY_TEST_DB_USER");
	src = getenv("TALLY_SRCDIR");
	if (sock == NULL || *sock == '\0')
		return DBTEST_SKIP;
	tly_config_defaults(c);
	tly_strlcpy(c->db_socket, sock, sizeof(c->db_socket));
	tly_strlcpy(c->db_user, user && *user ? user : "root",
	    sizeof(c->db_user));
	c->db_password[0] = '\0';
	c->db_name[0] = '\0';
	tly_log_init(&side_log, 2, TLY_LOG_ERROR, "dbtest");
	side = tly_db_new(c, &side_log);
	tly_err_clear(&e);
	if (side == NULL || tly_db_connect(side, &e) != TLY_OK) {
		fprintf(stderr, "dbtest: cannot connect: %s\n", e.msg);
		return 1;
	}
	snprintf(c->db_name, sizeof(c->db_name), "%s_%d", name, (int)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", c->db_name);
	if (tly_db_simple(side, sql, &e) != TLY_OK)
		return 1;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", c->db_name);
	if (tly_db_simple(side, sql, &e) != TLY_OK)
		return 1;
	snprintf(sql, sizeof(sql), "USE %s", c->db_name);
	if (tly_db_simple(side, sql, &e) != TLY_OK)
		return 1;
	snprintf(dir, sizeof(dir), "%s/schema", src ? src : "..");
	if (tly_migrate(c, dir, &side_log, &res) != TLY_OK) {
		fprintf(stderr, "dbtest: migrate: %s\n", res.why);
		return 1;
	}
	return 0;
}

/* dbtest_teardown - drop the database and close the outside connection */
void
dbtest_teardown(tly_config *c)
{
	char sql[256];
	tly_err e;

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", c->db_name);
	tly_err_clear(&e);
	(void)tly_db_simple(side, sql, &e);
	tly_db_free(side);
	side = NULL;
}

/* dbtest_ctx - a context connected to the test database */
int
dbtest_ctx(tly_ctx *ctx, tly_config *c, tly_log *log)
{
	tly_err e;

	tly_log_init(log, 2, TLY_LOG_WARN, "dbtest");
	if (tly_ctx_init(ctx, c, log) != TLY_OK)
		return TLY_ERR;
	tly_err_clear(&e);
	return tly_db_connect(ctx->db, &e);
}

/* dbtest_exec - run 'sql' on the outside connection */
int
dbtest_exec(tly_config *c, const char *sql)
{
	tly_err e;

	(void)c;
	tly_err_clear(&e);
	return tly_db_simple(side, sql, &e);
}

/* dbtest_i64 - the single integer 'sql' returns on the outside connection */
int64_t
dbtest_i64(tly_config *c, const char *sql)
{
	int64_t v = -1;
	tly_err e;

	(void)c;
	tly_err_clear(&e);
	if (tly_db_row(side, &e, sql, ">i", &v) != TLY_OK)
		return -1;
	return v;
}

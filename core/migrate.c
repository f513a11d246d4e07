/*
 * migrate.c - numbered schema migrations
 *
 * Owns schema_migrations and the rules: files are named NNN_name.sql
 * (three digits, lowercase name), applied in numeric order, each exactly
 * once, each recorded with the SHA-256 of its bytes.  A recorded file
 * whose bytes changed, a gap-free order violated by a duplicate number,
 * or a failed statement stops the run with a message naming the file.
 *
 * It uses its own connection with CLIENT_MULTI_STATEMENTS (a migration is
 * a script) rather than the prepared-statement handle of db.c, and holds
 * GET_LOCK('tally.migrate') for the whole run so two hosts deploying at
 * once apply each file once.  MariaDB commits DDL implicitly, so a file
 * that fails halfway is not rolled back: migrations use IF NOT EXISTS and
 * may be re-run after the cause is fixed.
 *
 * With [db] migrate_user it connects as that user (password from the
 * environment, TALLY_DB_MIGRATE_PASSWORD, never from tally.conf, which
 * the application reads) and ends by granting the application user
 * ([db] user @ [db] user_host) exactly its privileges on every table:
 * no UPDATE or DELETE on the audit tables (grant_app).  Without it, the
 * application user migrates and keeps whatever it was granted.
 *
 * API:	tly_migrate().
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "migrate.h"
#include "tly_buf.h"
#include "tly_err.h"
#include "tly_str.h"

#define MIG_MAX_FILE	(4 << 20)

static int
is_migration_name(const char *n)
{
	size_t len = strlen(n), i;

	if (len < 9 || strcmp(n + len - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	if (n[3] != '_')
		return 0;
	for (i = 4; i < len - 4; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
			return 0;
	return 1;
}

/* migration_number - NNN of "NNN_name.sql" (the name was checked) */
static int
migration_number(const char *n)
{
	return (n[0] - '0') * 100 + (n[1] - '0') * 10 + (n[2] - '0');
}

static int
filter(const struct dirent *d)
{
	return is_migration_name(d->d_name);
}

static int
read_file(const char *path, tly_buf *b)
{
	FILE *f;
	char chunk[8192];
	size_t n;
	int rc = TLY_OK;

	f = fopen(path, "rb");
	if (f == NULL)
		return TLY_ERR;
	while (rc == TLY_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = tly_buf_add(b, chunk, n);
	if (ferror(f))
		rc = TLY_ERR;
	fclose(f);
	return rc;
}

/* run_script - every statement of 'sql'; drains all result sets */
static int
run_script(MYSQL *m, const char *sql, size_t len)
{
	MYSQL_RES *r;
	int st;

	if (mysql_real_query(m, sql, (unsigned long)len))
		return TLY_ERR;
	do {
		r = mysql_store_result(m);
		if (r)
			mysql_free_result(r);
		else if (mysql_field_count(m) != 0)
			return TLY_ERR;
		st = mysql_next_result(m);
		if (st > 0)
			return TLY_ERR;
	} while (st == 0);
	return TLY_OK;
}

/* applied_checksum - the recorded checksum of 'version', "" if none */
static int
applied_checksum(MYSQL *m, int version, char *out, size_t sz)
{
	char sql[128];
	MYSQL_RES *r;
	MYSQL_ROW row;

	out[0] = '\0';
	snprintf(sql, sizeof(sql), "SELECT checksum FROM schema_migrations "
	    "WHERE version = %d", version);
	if (mysql_query(m, sql))
		return TLY_ERR;
	r = mysql_store_result(m);
	if (r == NULL)
		return TLY_ERR;
	row = mysql_fetch_row(r);
	if (row && row[0])
		tly_strlcpy(out, row[0], sz);
	mysql_free_result(r);
	return TLY_OK;
}

static int
record(MYSQL *m, int version, const char *name, const char *sum)
{
	char sql[512], esc[256];

	if (strlen(name) >= sizeof(esc) / 2)
		return TLY_ERR;
	mysql_real_escape_string(m, esc, name, (unsigned long)strlen(name));
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version, "
	    "name, checksum) VALUES (%d, '%s', '%s')", version, esc, sum);
	return mysql_query(m, sql) ? TLY_ERR : TLY_OK;
}

/* migrate_password - the migration user's password ('' when none) */
static const char *
migrate_password(void)
{
	const char *p = getenv("TALLY_DB_MIGRATE_PASSWORD");

	return p ? p : "";
}

static MYSQL *
connect_multi(const tly_config *c, char *why, size_t whysz)
{
	MYSQL *m;
	my_bool off = 0;
	unsigned int t = (unsigned int)c->db_connect_timeout_s;

	m = mysql_init(NULL);
	if (m == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(m, MYSQL_OPT_RECONNECT, &off);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	if (mysql_real_connect(m, c->db_socket[0] ? NULL : c->db_host,
	    c->db_migrate_user[0] ? c->db_migrate_user : c->db_user,
	    c->db_migrate_user[0] ? migrate_password() : c->db_password,
	    c->db_name, (unsigned int)c->db_port,
	    c->db_socket[0] ? c->db_socket : NULL,
	    CLIENT_MULTI_STATEMENTS) == NULL) {
		snprintf(why, whysz, "cannot connect to the database: %s",
		    mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* take_lock - GET_LOCK('tally.migrate'); TLY_OK only when it returned 1 */
static int
take_lock(MYSQL *m)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int ok;

	if (mysql_query(m, "SELECT GET_LOCK('tally.migrate', 120)"))
		return TLY_ERR;
	r = mysql_store_result(m);
	if (r == NULL)
		return TLY_ERR;
	row = mysql_fetch_row(r);
	ok = row && row[0] && strcmp(row[0], "1") == 0;
	mysql_free_result(r);
	return ok ? TLY_OK : TLY_ERR;
}

static const char *bootstrap =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL,"
    " checksum CHAR(64) CHARACTER SET ascii NOT NULL,"
    " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
    ") ENGINE=InnoDB";

/* apply_one - file 'name' of 'dir': check or apply it */
static int
apply_one(MYSQL *m, const char *dir, const char *name, tly_log *log,
    tly_migrate_result *res)
{
	char path[1024], sum[65], have[80];
	tly_buf b;
	int version;

	version = migration_number(name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tly_buf_init(&b, MIG_MAX_FILE);
	if (read_file(path, &b) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "%s: cannot read", path);
		tly_buf_free(&b);
		return TLY_ERR;
	}
	tly_sha256_hex(sum, tly_buf_str(&b), b.len);
	if (applied_checksum(m, version, have, sizeof(have)) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "schema_migrations: %s",
		    mysql_error(m));
		tly_buf_free(&b);
		return TLY_ERR;
	}
	if (have[0]) {
		tly_buf_free(&b);
		if (strcmp(have, sum) != 0) {
			snprintf(res->why, sizeof(res->why), "%s was changed "
			    "after it was applied (recorded checksum %.12s…, "
			    "file %.12s…): add a new migration instead", name,
			    have, sum);
			return TLY_ERR;
		}
		res->current++;
		return TLY_OK;
	}
	if (run_script(m, tly_buf_str(&b), b.len) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "%s failed: %s", name,
		    mysql_error(m));
		tly_buf_free(&b);
		return TLY_ERR;
	}
	tly_buf_free(&b);
	if (record(m, version, name, sum) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "%s: cannot record: %s",
		    name, mysql_error(m));
		return TLY_ERR;
	}
	tly_logkv(log, TLY_LOG_INFO, "migrate", "applied", "file", name,
	    "sha256", sum, NULL);
	res->applied++;
	return TLY_OK;
}

/* ident_ok - 's' may be quoted into a GRANT as a name or host */
static int
ident_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '.' || *s == '%'))
			return 0;
	return 1;
}

/* privileges - what the application may do to table 't' */
static const char *
privileges(const char *t)
{
	if (strcmp(t, "audit_log") == 0 || strcmp(t, "audit_chain") == 0)
		return "SELECT, INSERT";	/* append-only */
	if (strcmp(t, "schema_migrations") == 0)
		return "SELECT";
	return "SELECT, INSERT, UPDATE, DELETE";
}

/* denied - what the application must not have on table 't', or NULL */
static const char *
denied(const char *t)
{
	if (strcmp(t, "audit_log") == 0 || strcmp(t, "audit_chain") == 0)
		return "UPDATE, DELETE";
	if (strcmp(t, "schema_migrations") == 0)
		return "INSERT, UPDATE, DELETE";
	return NULL;
}

/* grant_sql - 'sql'; a revoke of a grant that does not exist is fine */
static int
grant_sql(MYSQL *m, const char *sql)
{
	unsigned int e;

	if (mysql_query(m, sql) == 0)
		return TLY_OK;
	e = mysql_errno(m);
	if (strncmp(sql, "REVOKE", 6) == 0 && (e == 1141 || e == 1147))
		return TLY_OK;		/* no such grant */
	return TLY_ERR;
}

/*
 * grant_app - the application user gets exactly what it needs on every
 * table of the schema (docs/operations.md, "Database users"): SELECT,
 * INSERT, UPDATE and DELETE, but SELECT and INSERT only on the audit
 * tables (the application cannot rewrite history) and SELECT on
 * schema_migrations.  Run by the migration user after the migrations,
 * while the running tallyd keeps working: the table grants come first,
 * then a database-wide grant left from an older setup is revoked, then
 * what the audit tables must not allow, so the application never lacks
 * a privilege it needs in between.
 */
static int
grant_app(MYSQL *m, const tly_config *c, tly_migrate_result *res)
{
	char sql[512], tables[128][65];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int n = 0, i;

	if (!ident_ok(c->db_user) || !ident_ok(c->db_user_host) ||
	    !ident_ok(c->db_name)) {
		snprintf(res->why, sizeof(res->why), "grants: [db] user, "
		    "user_host and database must be plain names");
		return TLY_ERR;
	}
	if (mysql_query(m, "SELECT TABLE_NAME FROM information_schema.TABLES "
	    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
	    "ORDER BY TABLE_NAME") || (r = mysql_store_result(m)) == NULL) {
		snprintf(res->why, sizeof(res->why), "grants: %s",
		    mysql_error(m));
		return TLY_ERR;
	}
	while ((row = mysql_fetch_row(r)) != NULL && n < 128)
		if (row[0] && ident_ok(row[0]))
			tly_strlcpy(tables[n++], row[0], sizeof(tables[0]));
	mysql_free_result(r);
	for (i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "GRANT %s ON `%s`.`%s` TO "
		    "'%s'@'%s'", privileges(tables[i]), c->db_name, tables[i],
		    c->db_user, c->db_user_host);
		if (grant_sql(m, sql) != TLY_OK)
			goto fail;
	}
	snprintf(sql, sizeof(sql), "REVOKE ALL PRIVILEGES ON `%s`.* FROM "
	    "'%s'@'%s'", c->db_name, c->db_user, c->db_user_host);
	if (grant_sql(m, sql) != TLY_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if (denied(tables[i]) == NULL)
			continue;
		snprintf(sql, sizeof(sql), "REVOKE %s ON `%s`.`%s` FROM "
		    "'%s'@'%s'", denied(tables[i]), c->db_name, tables[i],
		    c->db_user, c->db_user_host);
		if (grant_sql(m, sql) != TLY_OK)
			goto fail;
	}
	return TLY_OK;
fail:
	snprintf(res->why, sizeof(res->why), "grants to '%s'@'%s': %s",
	    c->db_user, c->db_user_host, mysql_error(m));
	return TLY_ERR;
}

/*
 * tly_migrate - apply the migrations of directory 'dir' (the configured
 * schema_dir when NULL).  TLY_OK with counts in 'res', or TLY_ERR with
 * res->why.
 */
int
tly_migrate(const tly_config *c, const char *dir, tly_log *log,
    tly_migrate_result *res)
{
	struct dirent **names = NULL;
	MYSQL *m;
	int n, i, rc = TLY_OK;

	memset(res, 0, sizeof(*res));
	if (dir == NULL)
		dir = c->schema_dir;
	n = scandir(dir, &names, filter, alphasort);
	if (n < 0) {
		snprintf(res->why, sizeof(res->why), "%s: %s", dir,
		    strerror(errno));
		return TLY_ERR;
	}
	for (i = 1; i < n && rc == TLY_OK; i++) {
		if (migration_number(names[i]->d_name) ==
		    migration_number(names[i - 1]->d_name)) {
			snprintf(res->why, sizeof(res->why), "%s and %s have "
			    "the same number", names[i - 1]->d_name,
			    names[i]->d_name);
			rc = TLY_ERR;
		}
	}
	m = rc == TLY_OK ? connect_multi(c, res->why, sizeof(res->why)) : NULL;
	if (m == NULL)
		rc = TLY_ERR;
	if (rc == TLY_OK && take_lock(m) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "another migration holds "
		    "the lock 'tally.migrate' (waited 120 s)");
		rc = TLY_ERR;
	}
	if (rc == TLY_OK &&
	    run_script(m, bootstrap, strlen(bootstrap)) != TLY_OK) {
		snprintf(res->why, sizeof(res->why), "bootstrap: %s",
		    mysql_error(m));
		rc = TLY_ERR;
	}
	for (i = 0; i < n && rc == TLY_OK; i++)
		rc = apply_one(m, dir, names[i]->d_name, log, res);
	if (rc == TLY_OK && c->db_migrate_user[0] &&
	    strcmp(c->db_migrate_user, c->db_user) != 0)
		rc = grant_app(m, c, res);
	if (m)
		mysql_close(m);		/* releases the lock */
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

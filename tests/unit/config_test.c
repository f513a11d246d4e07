/*
 * config_test.c - core/config.c
 *
 * tly_config_load on files written to a temporary directory: the
 * documented defaults, every key of every section read into its field,
 * each pool section, every range check (a table: the value just outside
 * each bound is refused with an error naming [section] key, the bound
 * itself is accepted), unknown keys naming their line, secrets given as
 * env:NAME and file:/path, [jwt.NAME] issuers (HS256 secret length,
 * RS256 keys generated here: 2048-bit RSA accepted, 1024-bit RSA, EC,
 * private-key and non-PEM files refused), tly_config_issuer, [job.NAME]
 * and the section count limits.  A failed load must leave nothing
 * allocated (ASan's leak check watches the RS256 cases).
 */
#include "tly_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "config.h"
#include "tly_err.h"
#include "tly_log.h"
#include "tly_str.h"

typedef struct fx {
	char	 dir[64];
	char	 conf[128];
	char	 rsa2048[128];
	char	 rsa1024[128];
	char	 ec[128];
	char	 priv[128];
	char	 notpem[128];
	char	 secret[128];
	char	 why[512];
} fx;

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
write_key(const char *path, EVP_PKEY *k, int private)
{
	FILE *f;
	int ok;

	if (k == NULL)
		return -1;
	f = fopen(path, "w");
	if (f == NULL) {
		EVP_PKEY_free(k);
		return -1;
	}
	if (private)
		ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_PUBKEY(f, k);
	fclose(f);
	EVP_PKEY_free(k);
	return ok == 1 ? 0 : -1;
}

static int
group_setup(void **state)
{
	fx *x;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/tly_config_test.XXXXXX");
	if (mkdtemp(x->dir) == NULL)
		return -1;
	snprintf(x->conf, sizeof(x->conf), "%s/tally.conf", x->dir);
	snprintf(x->rsa2048, sizeof(x->rsa2048), "%s/rsa2048.pem", x->dir);
	snprintf(x->rsa1024, sizeof(x->rsa1024), "%s/rsa1024.pem", x->dir);
	snprintf(x->ec, sizeof(x->ec), "%s/ec.pem", x->dir);
	snprintf(x->priv, sizeof(x->priv), "%s/priv.pem", x->dir);
	snprintf(x->notpem, sizeof(x->notpem), "%s/notpem.pem", x->dir);
	snprintf(x->secret, sizeof(x->secret), "%s/secret", x->dir);
	if (write_key(x->rsa2048, EVP_RSA_gen(2048), 0) != 0 ||
	    write_key(x->rsa1024, EVP_RSA_gen(1024), 0) != 0 ||
	    write_key(x->ec, EVP_EC_gen("P-256"), 0) != 0 ||
	    write_key(x->priv, EVP_RSA_gen(2048), 1) != 0)
		return -1;
	write_file(x->notpem, "this is not a key\n");
	*state = x;
	return 0;
}

static int
group_teardown(void **state)
{
	fx *x = *state;

	unlink(x->conf);
	unlink(x->rsa2048);
	unlink(x->rsa1024);
	unlink(x->ec);
	unlink(x->priv);
	unlink(x->notpem);
	unlink(x->secret);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* load - 'text' as the config file */
static int
load(fx *x, const char *text, tly_config *c)
{
	write_file(x->conf, text);
	x->why[0] = '\0';
	return tly_config_load(c, x->conf, x->why, sizeof(x->why));
}

/* must_load - 'text' loads, or the test fails with the reason */
static void
must_load(fx *x, const char *text, tly_config *c)
{
	if (load(x, text, c) != TLY_OK)
		fail_msg("load: got \"%s\", want success for:\n%s", x->why,
		    text);
}

/* must_fail - 'text' is refused with 'part' in the reason */
static void
must_fail(fx *x, const char *name, const char *text, const char *part)
{
	tly_config c;

	if (load(x, text, &c) != TLY_ERR)
		fail_msg("%s: got success, want an error with \"%s\"", name,
		    part);
	if (strstr(x->why, part) == NULL)
		fail_msg("%s: got \"%s\", want it to contain \"%s\"", name,
		    x->why, part);
	if (strstr(x->why, x->conf) == NULL)
		fail_msg("%s: got \"%s\", want it to name the file", name,
		    x->why);
}

static void
test_defaults(void **state)
{
	fx *x = *state;
	tly_config c, d;
	int i;

	must_load(x, "# nothing is required\n", &c);
	tly_config_defaults(&d);
	want_str(c.path, x->conf);
	tly_strlcpy(d.path, c.path, sizeof(d.path));
	if (memcmp(&c, &d, sizeof(c)) != 0)
		fail_msg("an empty file: got a config that differs from "
		    "tly_config_defaults, want the defaults");

	/* the documented defaults */
	want_int(d.log_level, TLY_LOG_INFO);
	want_str(d.log_file, "");
	want_int(d.max_body_bytes, 1 << 20);
	want_int(d.request_timeout_s, 60);
	want_int(d.shutdown_timeout_s, 30);
	want_str(d.db_host, "localhost");
	want_int(d.db_port, 3306);
	want_str(d.db_user, "tally");
	want_str(d.db_name, "tally");
	want_str(d.db_password, "");
	want_int(d.db_connect_timeout_s, 2);
	want_int(d.db_rw_timeout_s, 30);
	want_int(d.tx_max_attempts, 8);
	for (i = 0; i < TLY_NPOOLS; i++) {
		char sock[64];

		snprintf(sock, sizeof(sock), "/run/tally/%s.sock",
		    tly_pool_name(i));
		want_str(d.pools[i].name, tly_pool_name(i));
		want_str(d.pools[i].socket, sock);
		want_int(d.pools[i].workers, i == TLY_POOL_API ? 8 : 2);
		want_int(d.pools[i].max_requests, 10000);
		want_int(d.pools[i].socket_mode, 0660);
		want_str(d.pools[i].socket_group, "");
		want_int(d.pools[i].listen_backlog, 1024);
	}
	want_int(d.session_ttl_s, 12 * 3600);
	want_int(d.session_idle_s, 30 * 60);
	want_int(d.cookie_secure, 1);
	want_int(d.login_max_failures, 5);
	want_int(d.login_window_s, 300);
	want_int(d.kdf_log2_n, 17);	/* issue 14: 2^17 */
	want_int(d.rate_buyer.per_second, 20);
	want_int(d.rate_buyer.burst, 40);
	want_int(d.rate_server.per_second, 500);
	want_int(d.rate_server.burst, 1000);
	want_int(d.rate_admin.per_second, 50);
	want_int(d.rate_admin.burst, 100);
	want_str(d.stripe_api_base, "https://api.stripe.com");
	want_int(d.stripe_connect_timeout_ms, 3000);
	want_int(d.stripe_timeout_ms, 20000);
	want_int(d.stripe_max_retries, 3);
	want_int(d.stripe_webhook_tolerance_s, 300);
	want_int(d.stripe_webhook_refusals_days, 30);
	want_str(d.stripe_webhook_secrets[0], "");
	want_int(d.n_issuers, 0);
	want_int(d.n_jobs, 0);

	want_str(tly_pool_name(TLY_POOL_API), "api");
	want_str(tly_pool_name(TLY_POOL_WEBHOOK), "webhook");
	want_str(tly_pool_name(TLY_POOL_ADMIN), "admin");
	want_str(tly_pool_name(3), "?");
	want_str(tly_pool_name(-1), "?");

	/* an empty file is as good as a comment */
	must_load(x, "", &c);
	tly_config_free(&c);
}

static void
test_every_key(void **state)
{
	static const char text[] =
	    "[tally]\n"
	    "log_level = debug\n"
	    "log_file = /var/log/tally.log\n"
	    "pid_file = /run/tally.pid\n"
	    "schema_dir = /opt/schema\n"
	    "public_url = https://pay.example.com\n"
	    "max_body_bytes = 2048\n"
	    "request_timeout = 10\n"
	    "shutdown_timeout = 5\n"
	    "[db]\n"
	    "host = db.internal\n"
	    "port = 3307\n"
	    "socket = /run/mysqld/mysqld.sock\n"
	    "user = app\n"
	    "password = literal pw\n"
	    "database = tally_test\n"
	    "connect_timeout = 3\n"
	    "rw_timeout = 4\n"
	    "tx_max_attempts = 5\n"
	    "[api]\n"
	    "socket = /tmp/api.sock\n"
	    "workers = 16\n"
	    "max_requests = 100\n"
	    "listen_backlog = 64\n"
	    "socket_mode = 0600\n"
	    "socket_group = www-data\n"
	    "[webhook]\n"
	    "socket = /tmp/wh.sock\n"
	    "workers = 3\n"
	    "socket_mode = 660\n"
	    "[admin]\n"
	    "workers = 1\n"
	    "listen_backlog = 16\n"
	    "[admin_auth]\n"
	    "session_ttl = 3600\n"
	    "session_idle = 600\n"
	    "cookie_secure = no\n"
	    "login_max_failures = 3\n"
	    "login_window = 60\n"
	    "kdf_log2_n = 14\n"
	    "[ratelimit]\n"
	    "buyer_per_second = 0\n"
	    "buyer_burst = 1\n"
	    "server_per_second = 7\n"
	    "server_burst = 8\n"
	    "admin_per_second = 9\n"
	    "admin_burst = 10\n"
	    "[stripe]\n"
	    "api_base = http://127.0.0.1:12111\n"
	    "secret_key = sk_test_123\n"
	    "publishable_key = pk_test_123\n"
	    "webhook_secret = whsec_new, whsec_old\n"
	    "connect_webhook_secret = whsec_connect\n"
	    "connect_timeout_ms = 100\n"
	    "timeout_ms = 500\n"
	    "max_retries = 0\n"
	    "webhook_tolerance = 10\n"
	    "webhook_refusals_days = 7\n";
	fx *x = *state;
	tly_config c;

	must_load(x, text, &c);
	want_int(c.log_level, TLY_LOG_DEBUG);
	want_str(c.log_file, "/var/log/tally.log");
	want_str(c.pid_file, "/run/tally.pid");
	want_str(c.schema_dir, "/opt/schema");
	want_str(c.public_url, "https://pay.example.com");
	want_int(c.max_body_bytes, 2048);
	want_int(c.request_timeout_s, 10);
	want_int(c.shutdown_timeout_s, 5);
	want_str(c.db_host, "db.internal");
	want_int(c.db_port, 3307);
	want_str(c.db_socket, "/run/mysqld/mysqld.sock");
	want_str(c.db_user, "app");
	want_str(c.db_password, "literal pw");
	want_str(c.db_name, "tally_test");
	want_int(c.db_connect_timeout_s, 3);
	want_int(c.db_rw_timeout_s, 4);
	want_int(c.tx_max_attempts, 5);

	want_str(c.pools[TLY_POOL_API].socket, "/tmp/api.sock");
	want_int(c.pools[TLY_POOL_API].workers, 16);
	want_int(c.pools[TLY_POOL_API].max_requests, 100);
	want_int(c.pools[TLY_POOL_API].listen_backlog, 64);
	want_int(c.pools[TLY_POOL_API].socket_mode, 0600);
	want_str(c.pools[TLY_POOL_API].socket_group, "www-data");
	want_str(c.pools[TLY_POOL_WEBHOOK].socket, "/tmp/wh.sock");
	want_int(c.pools[TLY_POOL_WEBHOOK].workers, 3);
	want_int(c.pools[TLY_POOL_WEBHOOK].socket_mode, 0660);
	want_int(c.pools[TLY_POOL_WEBHOOK].max_requests, 10000);
	want_str(c.pools[TLY_POOL_ADMIN].socket, "/run/tally/admin.sock");
	want_int(c.pools[TLY_POOL_ADMIN].workers, 1);
	want_int(c.pools[TLY_POOL_ADMIN].listen_backlog, 16);
	want_int(c.pools[TLY_POOL_ADMIN].socket_mode, 0660);

	want_int(c.session_ttl_s, 3600);
	want_int(c.session_idle_s, 600);
	want_int(c.cookie_secure, 0);
	want_int(c.login_max_failures, 3);
	want_int(c.login_window_s, 60);
	want_int(c.kdf_log2_n, 14);
	want_int(c.rate_buyer.per_second, 0);
	want_int(c.rate_buyer.burst, 1);
	want_int(c.rate_server.per_second, 7);
	want_int(c.rate_server.burst, 8);
	want_int(c.rate_admin.per_second, 9);
	want_int(c.rate_admin.burst, 10);

	want_str(c.stripe_api_base, "http://127.0.0.1:12111");
	want_str(c.stripe_secret_key, "sk_test_123");
	want_str(c.stripe_publishable_key, "pk_test_123");
	want_str(c.stripe_webhook_secrets[0], "whsec_new");
	want_str(c.stripe_webhook_secrets[1], "whsec_old");
	want_str(c.stripe_connect_webhook_secrets[0], "whsec_connect");
	want_str(c.stripe_connect_webhook_secrets[1], "");
	want_int(c.stripe_connect_timeout_ms, 100);
	want_int(c.stripe_timeout_ms, 500);
	want_int(c.stripe_max_retries, 0);
	want_int(c.stripe_webhook_tolerance_s, 10);
	want_int(c.stripe_webhook_refusals_days, 7);
	tly_config_free(&c);
}

static void
test_bools(void **state)
{
	static const struct {
		const char	*v;
		int		 want;
	} rows[] = {
		{ "yes", 1 }, { "true", 1 }, { "1", 1 }, { "on", 1 },
		{ "no", 0 }, { "false", 0 }, { "0", 0 }, { "off", 0 },
	};
	fx *x = *state;
	tly_config c;
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text), "[admin_auth]\ncookie_secure = "
		    "%s\n", rows[i].v);
		must_load(x, text, &c);
		if (c.cookie_secure != rows[i].want)
			fail_msg("cookie_secure = %s: got %d, want %d",
			    rows[i].v, c.cookie_secure, rows[i].want);
	}
	must_fail(x, "maybe", "[admin_auth]\ncookie_secure = maybe\n",
	    "[admin_auth] cookie_secure: must be yes or no");
	must_fail(x, "YES", "[admin_auth]\ncookie_secure = YES\n",
	    "[admin_auth] cookie_secure");
}

static void
test_ranges(void **state)
{
	static const struct {
		const char	*sec, *key, *bad, *good;
	} rows[] = {
		{ "tally", "log_level", "verbose", "error" },
		{ "tally", "max_body_bytes", "1023", "1024" },
		{ "tally", "max_body_bytes", "67108865", "67108864" },
		{ "tally", "request_timeout", "0", "1" },
		{ "tally", "request_timeout", "3601", "3600" },
		{ "tally", "shutdown_timeout", "0", "1" },
		{ "tally", "shutdown_timeout", "3601", "3600" },
		{ "db", "port", "0", "1" },
		{ "db", "port", "65536", "65535" },
		{ "db", "port", "-1", "65535" },
		{ "db", "connect_timeout", "0", "1" },
		{ "db", "connect_timeout", "61", "60" },
		{ "db", "rw_timeout", "0", "1" },
		{ "db", "rw_timeout", "3601", "3600" },
		{ "db", "tx_max_attempts", "0", "1" },
		{ "db", "tx_max_attempts", "101", "100" },
		{ "api", "workers", "0", "1" },
		{ "api", "workers", "513", "512" },
		{ "webhook", "workers", "0", "1" },
		{ "admin", "workers", "0", "1" },
		{ "api", "max_requests", "0", "1" },
		{ "api", "max_requests", "100000001", "100000000" },
		{ "admin", "listen_backlog", "15", "16" },
		{ "admin", "listen_backlog", "65536", "65535" },
		{ "api", "socket_mode", "1000", "0777" },
		{ "api", "socket_mode", "0778", "0" },
		{ "api", "socket_mode", "rw", "0660" },
		{ "api", "socket_mode", "", "0660" },
		{ "api", "socket", "relative.sock", "/abs.sock" },
		{ "webhook", "socket", "", "/abs.sock" },
		{ "admin_auth", "session_ttl", "59", "60" },
		{ "admin_auth", "session_ttl", "2592001", "2592000" },
		{ "admin_auth", "session_idle", "59", "60" },
		{ "admin_auth", "login_max_failures", "0", "1" },
		{ "admin_auth", "login_max_failures", "1001", "1000" },
		{ "admin_auth", "login_window", "9", "10" },
		{ "admin_auth", "login_window", "86401", "86400" },
		{ "admin_auth", "kdf_log2_n", "13", "14" },
		{ "admin_auth", "kdf_log2_n", "21", "20" },
		{ "ratelimit", "buyer_per_second", "-1", "0" },
		{ "ratelimit", "buyer_per_second", "1000001", "1000000" },
		{ "ratelimit", "buyer_burst", "0", "1" },
		{ "ratelimit", "buyer_burst", "10000001", "10000000" },
		{ "ratelimit", "server_per_second", "-1", "0" },
		{ "ratelimit", "server_burst", "0", "1" },
		{ "ratelimit", "admin_per_second", "-1", "0" },
		{ "ratelimit", "admin_burst", "0", "1" },
		{ "stripe", "connect_timeout_ms", "99", "100" },
		{ "stripe", "connect_timeout_ms", "60001", "60000" },
		{ "stripe", "timeout_ms", "499", "500" },
		{ "stripe", "timeout_ms", "120001", "120000" },
		{ "stripe", "max_retries", "-1", "0" },
		{ "stripe", "max_retries", "11", "10" },
		{ "stripe", "webhook_tolerance", "9", "10" },
		{ "stripe", "webhook_tolerance", "3601", "3600" },
		{ "stripe", "webhook_refusals_days", "0", "1" },
		{ "stripe", "webhook_refusals_days", "3651", "3650" },
		{ "stripe", "webhook_secret", "a,b,c", "a,b" },
		/* not integers at all */
		{ "api", "workers", "4x", "4" },
		{ "api", "workers", "4 4", "4" },
		{ "api", "workers", "+4", "4" },
		{ "api", "workers", "0x10", "16" },
		{ "api", "workers", "", "4" },
		{ "db", "port", "99999999999999999999", "3306" },
	};
	fx *x = *state;
	tly_config c;
	char text[256], want[96];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", rows[i].sec,
		    rows[i].key, rows[i].bad);
		snprintf(want, sizeof(want), "[%s] %s: ", rows[i].sec,
		    rows[i].key);
		if (load(x, text, &c) != TLY_ERR)
			fail_msg("[%s] %s = %s: got success, want an error",
			    rows[i].sec, rows[i].key, rows[i].bad);
		if (strstr(x->why, want) == NULL)
			fail_msg("[%s] %s = %s: got \"%s\", want \"%s...\"",
			    rows[i].sec, rows[i].key, rows[i].bad, x->why,
			    want);

		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", rows[i].sec,
		    rows[i].key, rows[i].good);
		if (load(x, text, &c) != TLY_OK)
			fail_msg("[%s] %s = %s: got \"%s\", want success",
			    rows[i].sec, rows[i].key, rows[i].good, x->why);
		tly_config_free(&c);
	}
	/* the message states the range */
	must_fail(x, "workers 0", "[api]\nworkers = 0\n",
	    "[api] workers: must be an integer in 1..512");
	/* a value longer than its field */
	memset(text, 'h', 200);
	memcpy(text, "[db]\nhost = ", 12);
	text[200] = '\n';
	text[201] = '\0';
	must_fail(x, "long host", text, "[db] host: value too long");
}

static void
test_unknown(void **state)
{
	fx *x = *state;

	must_fail(x, "misspelt", "[api]\nworkers = 2\n\nwrokers = 3\n",
	    "line 4: unknown key 'wrokers' in [api]");
	must_fail(x, "unknown section", "# c\n[apii]\nworkers = 2\n",
	    "line 3: unknown key 'workers' in [apii]");
	must_fail(x, "jwt without a name", "[jwt.]\nissuer = x\n",
	    "line 2: unknown key 'issuer' in [jwt.]");
	must_fail(x, "key of another alg", "[jwt.shop]\nissuer = i\n"
	    "audience = a\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "public_key_file = /x.pem\n",
	    "line 6: unknown key 'public_key_file' in [jwt.shop]");
	/* a syntax error comes from the ini layer, with its line */
	must_fail(x, "syntax", "[api]\nworkers\n", "line 2: expected key");
}

static void
test_missing_file(void **state)
{
	fx *x = *state;
	char path[160], why[300];
	tly_config c;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", x->dir);
	want_int(tly_config_load(&c, path, why, sizeof(why)), TLY_ERR);
	want_has(why, path);
}

static void
test_secrets(void **state)
{
	fx *x = *state;
	tly_config c;
	char text[512], big[700];

	setenv("TLY_TEST_DB_PW", "pw from env", 1);
	must_load(x, "[db]\npassword = env:TLY_TEST_DB_PW\n", &c);
	want_str(c.db_password, "pw from env");
	must_load(x, "[stripe]\nsecret_key = env:TLY_TEST_DB_PW\n", &c);
	want_str(c.stripe_secret_key, "pw from env");

	unsetenv("TLY_TEST_DB_PW");
	must_fail(x, "unset env", "[db]\npassword = env:TLY_TEST_DB_PW\n",
	    "[db] password: environment variable TLY_TEST_DB_PW is not set");
	setenv("TLY_TEST_DB_PW", "", 1);
	must_fail(x, "empty env", "[db]\npassword = env:TLY_TEST_DB_PW\n",
	    "[db] password: environment variable TLY_TEST_DB_PW is not set");
	unsetenv("TLY_TEST_DB_PW");

	/* file: the first line, without its line ending */
	write_file(x->secret, "pw from file\nsecond line\n");
	snprintf(text, sizeof(text), "[db]\npassword = file:%s\n",
	    x->secret);
	must_load(x, text, &c);
	want_str(c.db_password, "pw from file");
	write_file(x->secret, "crlf secret\r\n");
	must_load(x, text, &c);
	want_str(c.db_password, "crlf secret");
	write_file(x->secret, "no newline");
	must_load(x, text, &c);
	want_str(c.db_password, "no newline");

	write_file(x->secret, "");
	must_fail(x, "empty file", text,
	    "[db] password: cannot read the secret file");
	unlink(x->secret);
	must_fail(x, "missing file", text,
	    "[db] password: cannot read the secret file");

	/* a first line longer than the field is an error, not a cut */
	memset(big, 's', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_file(x->secret, big);
	must_fail(x, "long file secret", text,
	    "[db] password: secret file: first line too long");
	big[255] = '\n';			/* exactly 255 bytes: fits */
	big[256] = '\0';
	write_file(x->secret, big);
	must_load(x, text, &c);
	want_int(strlen(c.db_password), 255);
	big[255] = '\0';			/* and without the newline */
	write_file(x->secret, big);
	must_load(x, text, &c);
	want_int(strlen(c.db_password), 255);
	unlink(x->secret);

	/* literal values are checked the same way */
	memset(big, 'p', sizeof(big));
	memcpy(big, "[db]\npassword = ", 16);
	big[16 + 256] = '\n';
	big[16 + 257] = '\0';
	must_fail(x, "long literal", big, "[db] password: value too long");

	/* webhook secrets: a list, from the environment too */
	setenv("TLY_TEST_WH", "whsec_1,whsec_2", 1);
	must_load(x, "[stripe]\nwebhook_secret = env:TLY_TEST_WH\n", &c);
	want_str(c.stripe_webhook_secrets[0], "whsec_1");
	want_str(c.stripe_webhook_secrets[1], "whsec_2");
	unsetenv("TLY_TEST_WH");
}

static void
test_hs256(void **state)
{
	fx *x = *state;
	const tly_jwt_issuer *is;
	tly_config c;

	must_load(x, "[jwt.shop]\nissuer = https://auth.shop.example/\n"
	    "audience = tally\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n", &c);
	want_int(c.n_issuers, 1);
	is = &c.issuers[0];
	want_str(is->name, "shop");
	want_str(is->iss, "https://auth.shop.example/");
	want_str(is->aud, "tally");
	want_int(is->alg, TLY_JWT_HS256);
	want_str(is->secret, "0123456789abcdef0123456789abcdef");
	want_int(is->secret_len, 32);
	assert_null(is->pubkey);
	want_str(is->email_claim, "email");		/* defaults */
	want_int(is->leeway_s, 30);
	tly_config_free(&c);

	setenv("TLY_TEST_JWT", "env-secret-that-is-32-bytes-long", 1);
	must_load(x, "[jwt.a]\nissuer = i\naudience = a\nalg = HS256\n"
	    "secret = env:TLY_TEST_JWT\nemail_claim = https://x/email\n"
	    "leeway = 0\n", &c);
	want_str(c.issuers[0].secret, "env-secret-that-is-32-bytes-long");
	want_str(c.issuers[0].email_claim, "https://x/email");
	want_int(c.issuers[0].leeway_s, 0);
	unsetenv("TLY_TEST_JWT");

	must_fail(x, "31-byte secret", "[jwt.a]\nissuer = i\naudience = a\n"
	    "alg = HS256\nsecret = 0123456789abcdef0123456789abcde\n",
	    "[jwt.a] secret: HS256 needs a secret of at least 32 bytes");
	must_fail(x, "no secret", "[jwt.a]\nissuer = i\naudience = a\n"
	    "alg = HS256\n", "[jwt.a] secret:");
	must_fail(x, "no issuer", "[jwt.a]\naudience = a\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n",
	    "[jwt.a] issuer: required");
	must_fail(x, "no audience", "[jwt.a]\nissuer = i\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n",
	    "[jwt.a] audience: required");
	must_fail(x, "no alg", "[jwt.a]\nissuer = i\naudience = a\n",
	    "[jwt.a] alg: must be HS256 or RS256");
	must_fail(x, "alg none", "[jwt.a]\nissuer = i\naudience = a\n"
	    "alg = none\n", "[jwt.a] alg: must be HS256 or RS256");
	must_fail(x, "alg lowercase", "[jwt.a]\nissuer = i\naudience = a\n"
	    "alg = hs256\nsecret = 0123456789abcdef0123456789abcdef\n",
	    "[jwt.a] alg");
	must_fail(x, "leeway", "[jwt.a]\nissuer = i\naudience = a\n"
	    "alg = HS256\nsecret = 0123456789abcdef0123456789abcdef\n"
	    "leeway = 301\n", "[jwt.a] leeway: must be an integer in 0..300");
}

static void
test_rs256(void **state)
{
	fx *x = *state;
	tly_config c;
	char text[512];

	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = https://idp/\n"
	    "audience = tally\nalg = RS256\npublic_key_file = %s\n",
	    x->rsa2048);
	must_load(x, text, &c);
	want_int(c.n_issuers, 1);
	want_int(c.issuers[0].alg, TLY_JWT_RS256);
	assert_non_null(c.issuers[0].pubkey);
	want_int(EVP_PKEY_get_bits(c.issuers[0].pubkey), 2048);
	want_int(c.issuers[0].secret_len, 0);
	tly_config_free(&c);
	assert_null(c.issuers[0].pubkey);
	tly_config_free(&c);			/* twice is harmless */

	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\n", x->rsa1024);
	must_fail(x, "1024-bit", text, "[jwt.idp] public_key_file: not an "
	    "RSA public key of at least 2048 bits");
	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\n", x->ec);
	must_fail(x, "EC key", text, "[jwt.idp] public_key_file: not an RSA");
	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\n", x->priv);
	must_fail(x, "private key", text, "[jwt.idp] public_key_file:");
	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\n", x->notpem);
	must_fail(x, "not PEM", text, "[jwt.idp] public_key_file:");
	must_fail(x, "no such file", "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = /nonexistent/k.pem\n",
	    "[jwt.idp] public_key_file: cannot open");
	must_fail(x, "no key file", "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\n", "[jwt.idp] public_key_file: required");

	/* a failure after a key was loaded frees it (ASan leak check) */
	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\n[api]\nworkers = 0\n",
	    x->rsa2048);
	must_fail(x, "later error", text, "[api] workers");
	snprintf(text, sizeof(text), "[jwt.idp]\nissuer = i\naudience = a\n"
	    "alg = RS256\npublic_key_file = %s\ntypo = 1\n", x->rsa2048);
	must_fail(x, "unknown key after", text, "unknown key 'typo'");
}

static void
test_issuers(void **state)
{
	fx *x = *state;
	const tly_jwt_issuer *is;
	tly_config c;
	char text[1024];

	snprintf(text, sizeof(text),
	    "[jwt.one]\nissuer = https://one/\naudience = a1\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.two]\nissuer = https://two/\naudience = a2\nalg = RS256\n"
	    "public_key_file = %s\n"
	    "[api]\nworkers = 2\n"
	    "[jwt.one]\nleeway = 5\n", x->rsa2048);
	must_load(x, text, &c);
	want_int(c.n_issuers, 2);
	is = tly_config_issuer(&c, "https://one/");
	assert_non_null(is);
	want_str(is->name, "one");
	want_int(is->leeway_s, 5);	/* a reopened section is one issuer */
	is = tly_config_issuer(&c, "https://two/");
	assert_non_null(is);
	want_str(is->name, "two");
	want_int(is->alg, TLY_JWT_RS256);
	assert_null(tly_config_issuer(&c, "https://three/"));
	assert_null(tly_config_issuer(&c, "https://one"));
	assert_null(tly_config_issuer(&c, ""));
	tly_config_free(&c);

	/* RFC 8725: a required typ and a maximum lifetime per issuer */
	snprintf(text, sizeof(text),
	    "[jwt.one]\nissuer = https://one/\naudience = a1\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "typ = at+jwt\nmax_lifetime = 3600\n");
	must_load(x, text, &c);
	is = tly_config_issuer(&c, "https://one/");
	assert_non_null(is);
	want_str(is->typ, "at+jwt");
	want_int(is->max_lifetime_s, 3600);
	tly_config_free(&c);

	/* RS256 keys by kid: a rotation holds the old and the new */
	snprintf(text, sizeof(text),
	    "[jwt.two]\nissuer = https://two/\naudience = a2\nalg = RS256\n"
	    "public_key_file.2026-01 = %s\npublic_key_file.2026-07 = %s\n",
	    x->rsa2048, x->rsa2048);
	must_load(x, text, &c);
	is = tly_config_issuer(&c, "https://two/");
	assert_non_null(is);
	want_int(is->nkeys, 2);
	want_str(is->keys[0].kid, "2026-01");
	want_str(is->keys[1].kid, "2026-07");
	assert_non_null(is->keys[1].pubkey);
	assert_null(is->pubkey);
	tly_config_free(&c);
	snprintf(text, sizeof(text),
	    "[jwt.two]\nissuer = https://two/\naudience = a2\nalg = RS256\n"
	    "public_key_file.k1 = %s\npublic_key_file.k2 = %s\n",
	    x->rsa2048, x->rsa1024);
	must_fail(x, "a weak key among the named ones", text,
	    "[jwt.two] public_key_file.k2: not an RSA public key");

	/* two sections of the same iss: which key would verify? refused */
	must_fail(x, "the same iss twice",
	    "[jwt.a]\nissuer = https://same/\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.b]\nissuer = https://same/\naudience = y\nalg = HS256\n"
	    "secret = fedcba9876543210fedcba9876543210\n",
	    "[jwt.b] issuer: https://same/ is already [jwt.a]");

	/* at most TLY_MAX_ISSUERS */
	must_fail(x, "five issuers",
	    "[jwt.a]\nissuer = a\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.b]\nissuer = b\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.c]\nissuer = c\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.d]\nissuer = d\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n"
	    "[jwt.e]\nissuer = e\naudience = x\nalg = HS256\n"
	    "secret = 0123456789abcdef0123456789abcdef\n",
	    "[jwt.e] : too many [jwt.*] sections");
}

static void
test_jobs(void **state)
{
	fx *x = *state;
	tly_config c;
	char text[2048];
	size_t n;
	int i;

	must_load(x, "[job.payouts]\ninterval = 300\n"
	    "[job.reconcile]\ninterval = 1\n"
	    "[job.sweep]\ninterval = 604800\n", &c);
	want_int(c.n_jobs, 3);
	want_str(c.jobs[0].name, "payouts");
	want_int(c.jobs[0].interval_s, 300);
	want_str(c.jobs[1].name, "reconcile");
	want_int(c.jobs[1].interval_s, 1);
	want_int(c.jobs[2].interval_s, 604800);

	must_fail(x, "interval 0", "[job.x]\ninterval = 0\n",
	    "[job.x] interval: must be an integer in 1..604800");
	must_fail(x, "interval 604801", "[job.x]\ninterval = 604801\n",
	    "[job.x] interval");
	must_fail(x, "job key", "[job.x]\nintervall = 5\n",
	    "unknown key 'intervall' in [job.x]");

	/* the reports job's horizon: its own key, 0..86400, default 300 */
	must_load(x, "", &c);
	want_int(c.reports_horizon_s, 300);
	must_load(x, "[job.reports]\ninterval = 3600\nhorizon = 0\n", &c);
	want_int(c.reports_horizon_s, 0);
	must_fail(x, "horizon 86401", "[job.reports]\nhorizon = 86401\n",
	    "[job.reports] horizon");
	must_fail(x, "horizon elsewhere", "[job.payouts]\nhorizon = 60\n",
	    "unknown key 'horizon' in [job.payouts]");

	/* 16 jobs, then one too many */
	for (n = 0, i = 0; i < TLY_MAX_JOBS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "[job.j%d]\ninterval = %d\n", i, i + 1);
	must_load(x, text, &c);
	want_int(c.n_jobs, TLY_MAX_JOBS);
	want_int(c.jobs[15].interval_s, 16);
	snprintf(text + n, sizeof(text) - n, "[job.last]\ninterval = 9\n");
	must_fail(x, "17 jobs", text, "[job.last] : too many [job.*] sections");
}

/* refunds and disputes: the support limit per currency, the fee payer */
static void
test_refunds_disputes(void **state)
{
	fx *x = *state;
	tly_config c;

	must_load(x, "", &c);
	want_int(c.currencies[0].refund_support_limit_cent, 10000);
	want_int(c.platform_bears_dispute_fee, 0);	/* the talent */
	tly_config_free(&c);
	must_load(x, "[pricing]\ndispute_fee_payer = platform\n"
	    "[currency.usd]\nrefund_support_limit_cent = 2500\n"
	    "[currency.kwd]\n", &c);
	want_int(c.platform_bears_dispute_fee, 1);
	want_int(tly_config_currency(&c, "usd")->refund_support_limit_cent,
	    2500);
	want_int(tly_config_currency(&c, "kwd")->refund_support_limit_cent,
	    100000);
	tly_config_free(&c);
	must_fail(x, "payer", "[pricing]\ndispute_fee_payer = buyer\n",
	    "[pricing] dispute_fee_payer: must be talent or platform");
	must_fail(x, "limit", "[currency.usd]\nrefund_support_limit_cent = "
	    "-1\n", "[currency.usd] refund_support_limit_cent");
}

/*
 * test_env_file - [tally] env_file: env:NAME secrets from the unit's
 * EnvironmentFile; the file wins over the environment (as with systemd);
 * a missing variable is named with the file it was looked for in; a bad
 * or missing file is refused, naming it and the line
 */
static void
test_env_file(void **state)
{
	fx *x = *state;
	char envf[200], text[600];
	tly_config c;

	snprintf(envf, sizeof(envf), "%s/tally.env", x->dir);
	write_file(envf, "# the unit's EnvironmentFile\n\n"
	    "TLY_T_DB=db pw from file\n"
	    "  TLY_T_SK = \"sk_test_quoted\"  \n"
	    "; another comment\n"
	    "export TLY_T_WH='whsec_single'\n");
	setenv("TLY_T_DB", "from the shell", 1);
	unsetenv("TLY_T_SK");
	snprintf(text, sizeof(text), "[tally]\nenv_file = %s\n[db]\n"
	    "password = env:TLY_T_DB\n[stripe]\nsecret_key = env:TLY_T_SK\n"
	    "webhook_secret = env:TLY_T_WH\n", envf);
	must_load(x, text, &c);
	want_str(c.env_file, envf);
	want_str(c.db_password, "db pw from file");
	want_str(c.stripe_secret_key, "sk_test_quoted");
	want_str(c.stripe_webhook_secrets[0], "whsec_single");
	want_int(c.literal_secrets, 0);
	tly_config_free(&c);

	/* a variable in neither: named, with the file */
	snprintf(text, sizeof(text), "[tally]\nenv_file = %s\n[db]\n"
	    "password = env:TLY_T_NOWHERE\n", envf);
	unsetenv("TLY_T_NOWHERE");
	must_fail(x, "missing", text, "environment variable TLY_T_NOWHERE "
	    "is not set (neither in the environment nor in");
	if (strstr(x->why, envf) == NULL)
		fail_msg("got \"%s\", want it to name %s", x->why, envf);

	/* the caller's file (tallyctl --env-file) replaces the key's */
	write_file(x->conf, "[db]\npassword = env:TLY_T_DB\n");
	setenv("TLY_T_DB", "from the shell", 1);
	assert_int_equal(tly_config_load_env(&c, x->conf, envf, x->why,
	    sizeof(x->why)), TLY_OK);
	want_str(c.db_password, "db pw from file");
	tly_config_free(&c);

	write_file(envf, "TLY_T_OK=1\nthis line has no equals sign\n");
	snprintf(text, sizeof(text), "[tally]\nenv_file = %s\n", envf);
	must_fail(x, "bad line", text, "line 2: not KEY=value");
	write_file(envf, "1BAD=x\n");
	must_fail(x, "bad name", text, "line 1: bad variable name");
	unlink(envf);
	must_fail(x, "no file", text, "[tally] env_file: ");
	if (strstr(x->why, "No such file") == NULL)
		fail_msg("got \"%s\", want the system's reason", x->why);

	/* a literal secret is noted (tallyd -t warns when others read it) */
	must_load(x, "[db]\npassword = literal\n", &c);
	want_int(c.literal_secrets, 1);
	unsetenv("TLY_T_DB");
	unsetenv("TLY_T_SK");
	unsetenv("TLY_T_WH");
	unsetenv("TLY_T_OK");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_env_file),
		cmocka_unit_test(test_hs256),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_issuers),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_refunds_disputes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
